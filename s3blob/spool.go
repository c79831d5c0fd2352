package s3blob

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"hash"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"

	"github.com/minio/minio-go/v7"
)

// Spool files are named spoolPattern in the spool directory, and each is
// flock'ed by the process writing it for as long as it exists: a spool file
// nobody holds a lock on was left by a process that died, and Open destroys
// it (it holds a selfie).
const spoolPattern = "facevault-s3blob-*.spool"

// writer stages a blob in a spool file until Commit uploads it. It is not
// safe for concurrent use, except that ReadAt may be called concurrently
// with itself.
type writer struct {
	s      *Store
	id     string
	object string
	f      *os.File
	sha    hash.Hash
	size   int64
	err    error // the first write error: such a blob can never be committed
	done   bool
}

func (s *Store) newWriter(id string) (*writer, error) {
	f, err := os.CreateTemp(s.spoolDir, spoolPattern) // mode 0600
	if err != nil {
		return nil, fmt.Errorf("s3blob: create spool file: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		os.Remove(f.Name())
		return nil, fmt.Errorf("s3blob: lock spool file: %w", err)
	}
	return &writer{s: s, id: id, object: s.cfg.objectKey(id), f: f, sha: sha256.New()}, nil
}

func (w *writer) Write(p []byte) (int, error) {
	if w.done {
		return 0, errDone
	}
	if w.err != nil {
		return 0, w.err
	}
	n, err := w.f.Write(p)
	w.sha.Write(p[:n])
	w.size += int64(n)
	if err != nil {
		w.err = fmt.Errorf("s3blob: write spool file: %w", err)
		return n, w.err
	}
	return n, nil
}

var errDone = errors.New("s3blob: blob already committed or aborted")

// ReadAt reads back bytes written so far, from the spool file.
func (w *writer) ReadAt(p []byte, off int64) (int, error) {
	if w.done {
		return 0, errDone
	}
	return w.f.ReadAt(p, off)
}

// Commit uploads the spool file in one PUT, streamed from disk, with the
// SHA-256 of the bytes as they were written so that the server refuses them
// if they differ; then it checks the stored object's size (and checksum, if
// the server reports one). Only then does it return nil. Whatever happens,
// the spool file is destroyed.
func (w *writer) Commit(ctx context.Context) error {
	if w.done {
		return errDone
	}
	if err := w.upload(ctx); err != nil {
		if aerr := w.Abort(); aerr != nil {
			return fmt.Errorf("%w (and %v)", err, aerr)
		}
		return err
	}
	if err := w.Abort(); err != nil {
		// The bytes are in S3 but a copy may remain on local disk: take
		// the object back out, so that a retry starts afresh.
		return w.s.undo(ctx, w.object, err)
	}
	return nil
}

// upload puts the spool file in S3 and checks it arrived whole.
func (w *writer) upload(ctx context.Context) error {
	if w.err != nil {
		return w.err
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("s3blob: put %s: %w", w.object, err)
	}
	ctx, cancel := context.WithTimeout(ctx, w.s.commitTime)
	defer cancel()
	sum := base64.StdEncoding.EncodeToString(w.sha.Sum(nil))
	opts := minio.PutObjectOptions{
		ContentType: "application/octet-stream",
		// One PUT whatever the size: no multipart upload whose parts
		// could outlive a crash, invisible to Keys and so to the sweep.
		DisableMultipart: true,
	}
	if !w.s.noChecksum {
		opts.UserMetadata = map[string]string{"x-amz-checksum-sha256": sum}
		// The signed checksum header protects the body end to end, over
		// http too: no need for minio-go's streaming signature, which
		// hashes every 64 KiB chunk again and allocates for each.
		opts.DisableContentSha256 = true
	}
	// A SectionReader rather than the file: minio-go seeks it back to the
	// start to retry, and does not close it.
	body := io.NewSectionReader(w.f, 0, w.size)
	info, err := w.s.client.PutObject(ctx, w.s.cfg.Bucket, w.object, body, w.size, opts)
	if err != nil {
		err = fmt.Errorf("s3blob: put %s: %w", w.object, err)
		var er minio.ErrorResponse
		if errors.As(err, &er) && er.StatusCode >= 400 && er.StatusCode < 500 {
			return err // refused: nothing was stored
		}
		// The bytes may have been stored before the failure (a lost
		// response, a cancelled wait): take them back out.
		return w.s.undo(ctx, w.object, err)
	}
	st, err := w.s.client.StatObject(ctx, w.s.cfg.Bucket, w.object, statOptions(info.VersionID))
	switch {
	case err != nil:
		err = fmt.Errorf("s3blob: put %s: check the stored object: %w", w.object, err)
	case st.Size != w.size:
		err = fmt.Errorf("s3blob: put %s: the stored object has %d bytes, want %d", w.object, st.Size, w.size)
	case !w.s.noChecksum && st.ChecksumSHA256 != "" && st.ChecksumSHA256 != sum:
		err = fmt.Errorf("s3blob: put %s: the stored object's SHA-256 is %s, want %s", w.object, st.ChecksumSHA256, sum)
	}
	if err != nil {
		return w.s.undo(ctx, w.object, err)
	}
	return nil
}

func statOptions(versionID string) minio.StatObjectOptions {
	opts := minio.StatObjectOptions{VersionID: versionID}
	opts.Set("x-amz-checksum-mode", "ENABLED")
	return opts
}

// Abort destroys the spool file: it is overwritten with zeros and synced,
// then removed. It does nothing after Commit or a previous Abort.
func (w *writer) Abort() error {
	if w.done {
		return nil
	}
	w.done = true
	return destroyOpen(w.f)
}

// destroyOpen overwrites an open file with zeros, syncs it, closes it and
// removes it. A file already removed is not an error.
func destroyOpen(f *os.File) error {
	name := f.Name()
	info, err := f.Stat()
	if err == nil {
		err = zero(f, info.Size())
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if rerr := os.Remove(name); rerr != nil && !errors.Is(rerr, fs.ErrNotExist) && err == nil {
		err = rerr
	}
	if err != nil {
		return fmt.Errorf("s3blob: destroy spool file: %w", err)
	}
	return nil
}

// zeros is what spool files are overwritten with. It is never written to.
var zeros [64 << 10]byte

func zero(f *os.File, size int64) error {
	buf := zeros[:]
	for off := int64(0); off < size; {
		n := min(int64(len(buf)), size-off)
		if _, err := f.WriteAt(buf[:n], off); err != nil {
			return err
		}
		off += n
	}
	return nil
}

// removeStaleSpool destroys the spool files in dir that no live process
// holds: what a crash left behind. It returns how many it destroyed. Files
// it may not open (another user's) are left alone.
func removeStaleSpool(dir string) (int, error) {
	names, err := filepath.Glob(filepath.Join(dir, spoolPattern))
	if err != nil {
		return 0, fmt.Errorf("s3blob: list spool files: %w", err)
	}
	removed := 0
	for _, name := range names {
		f, err := os.OpenFile(name, os.O_RDWR, 0)
		if errors.Is(err, fs.ErrNotExist) || errors.Is(err, fs.ErrPermission) {
			continue
		} else if err != nil {
			return removed, fmt.Errorf("s3blob: open stale spool file: %w", err)
		}
		if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
			f.Close() // in use by a live writer
			if errors.Is(err, syscall.EWOULDBLOCK) {
				continue
			}
			return removed, fmt.Errorf("s3blob: lock stale spool file: %w", err)
		}
		if err := destroyOpen(f); err != nil {
			return removed, err
		}
		removed++
	}
	return removed, nil
}
