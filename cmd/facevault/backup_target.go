package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/facevault/facevault"
	"github.com/facevault/facevault/s3blob"
)

// The files of a backup, by name relative to its directory or bucket
// prefix.
const (
	backupManifest = "manifest.json"
	backupDatabase = "facevault.db"
	backupImageSum = "images.sha256"
	backupImages   = "images"
)

// backupImageName is the name in a backup of the image of photo key (a
// valid id): images/<last two hex digits>/<key>, as in the image directory.
func backupImageName(key string) string {
	return backupImages + "/" + key[len(key)-2:] + "/" + key
}

// digest is the size and SHA-256 (hex) of bytes written or read.
type digest struct {
	size   int64
	sha256 string
	clear  bool // an image stored before encryption at rest
}

// copyHashed copies r to w and returns the digest of what was copied.
func copyHashed(w io.Writer, r io.Reader) (digest, error) {
	h := sha256.New()
	n, err := io.Copy(io.MultiWriter(w, h), r)
	return digest{size: n, sha256: hex.EncodeToString(h.Sum(nil))}, err
}

// fileDigest returns the digest of the file at path.
func fileDigest(path string) (digest, error) {
	f, err := os.Open(path)
	if err != nil {
		return digest{}, err
	}
	defer f.Close()
	return copyHashed(io.Discard, f)
}

// backupSink is where a backup is written: a local directory or a bucket
// prefix.
type backupSink interface {
	// scratch is a local directory, owner-only, for files to stage before
	// they go in: the database snapshot, the lists.
	scratch() string
	// write stores what r holds as the file name, and returns its digest.
	write(ctx context.Context, name string, r io.Reader) (digest, error)
	// remove takes the file name back out.
	remove(ctx context.Context, name string) error
	// put moves (or uploads, then removes) the staged local file at path
	// in as name.
	put(ctx context.Context, name, path string) error
	// abort removes everything the backup wrote, after a failure.
	abort(ctx context.Context) error
	// close removes the scratch directory.
	close() error
}

// backupSource is where a backup is read from.
type backupSource interface {
	// open returns the file name, or an error wrapping fs.ErrNotExist.
	open(ctx context.Context, name string) (io.ReadCloser, error)
	close() error
}

// isS3URL reports whether a --to or --from value names a bucket.
func isS3URL(s string) bool { return strings.HasPrefix(s, "s3://") }

// openBackupSink checks that the target is an empty (or absent) directory,
// or a bucket prefix with no object, and returns a sink writing there.
func openBackupSink(ctx context.Context, to string) (backupSink, error) {
	if isS3URL(to) {
		return openS3Sink(ctx, to)
	}
	if strings.Contains(to, "://") {
		return nil, fmt.Errorf("%w: --to %q: want a directory or s3://bucket[/prefix]?endpoint=URL", errUsage, redact(to))
	}
	return openDirSink(to)
}

// dirSink writes a backup into a local directory, created 0700 with its
// subdirectories, every file 0600 and synced.
type dirSink struct {
	dir     string
	created bool // the directory did not exist: abort removes it
	dirs    map[string]bool
}

func openDirSink(dir string) (*dirSink, error) {
	if dir == "" {
		return nil, fmt.Errorf("%w: --to is required: a directory or s3://bucket[/prefix]?endpoint=URL", errUsage)
	}
	s := &dirSink{dir: dir, dirs: map[string]bool{}}
	entries, err := os.ReadDir(dir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		if err := os.MkdirAll(filepath.Dir(filepath.Clean(dir)), 0o700); err != nil {
			return nil, fmt.Errorf("backup directory %s: %w", dir, err)
		}
		if err := os.Mkdir(dir, 0o700); err != nil {
			return nil, fmt.Errorf("backup directory %s: %w", dir, err)
		}
		s.created = true
	case err != nil:
		return nil, fmt.Errorf("backup directory %s: %w", dir, err)
	case len(entries) > 0:
		return nil, fmt.Errorf("backup directory %s is not empty: a backup goes into an empty or new directory, nothing was written", dir)
	default:
		if err := os.Chmod(dir, 0o700); err != nil {
			return nil, fmt.Errorf("backup directory %s: %w", dir, err)
		}
	}
	return s, nil
}

func (s *dirSink) scratch() string { return s.dir }

// mkdirs creates the directories of name, 0700.
func (s *dirSink) mkdirs(name string) error {
	parent := filepath.Dir(filepath.FromSlash(name))
	if parent == "." || s.dirs[parent] {
		return nil
	}
	if err := os.MkdirAll(filepath.Join(s.dir, parent), 0o700); err != nil {
		return fmt.Errorf("backup directory %s: %w", s.dir, err)
	}
	s.dirs[parent] = true
	return nil
}

func (s *dirSink) write(ctx context.Context, name string, r io.Reader) (digest, error) {
	if err := ctx.Err(); err != nil {
		return digest{}, err
	}
	if err := s.mkdirs(name); err != nil {
		return digest{}, err
	}
	path := filepath.Join(s.dir, filepath.FromSlash(name))
	f, err := os.OpenFile(path, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if err != nil {
		return digest{}, fmt.Errorf("backup: write %s: %w", path, err)
	}
	d, err := copyHashed(f, r)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(path)
		return digest{}, fmt.Errorf("backup: write %s: %w", path, err)
	}
	return d, nil
}

// remove destroys the file: it is the image of a photo deleted meanwhile.
func (s *dirSink) remove(ctx context.Context, name string) error {
	return destroyFile(filepath.Join(s.dir, filepath.FromSlash(name)))
}

func (s *dirSink) put(ctx context.Context, name, path string) error {
	if err := syncPath(path); err != nil {
		return fmt.Errorf("backup: %s: %w", path, err)
	}
	if err := os.Rename(path, filepath.Join(s.dir, name)); err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	return nil
}

// abort removes what the backup wrote: the directory if it made it, else
// its contents (it was empty).
func (s *dirSink) abort(ctx context.Context) error {
	if s.created {
		return os.RemoveAll(s.dir)
	}
	entries, err := os.ReadDir(s.dir)
	if err != nil {
		return err
	}
	var errs []error
	for _, e := range entries {
		errs = append(errs, os.RemoveAll(filepath.Join(s.dir, e.Name())))
	}
	return errors.Join(errs...)
}

// close makes every directory of the backup durable.
func (s *dirSink) close() error {
	for d := range s.dirs {
		if err := syncPath(filepath.Join(s.dir, d)); err != nil {
			return fmt.Errorf("backup: %w", err)
		}
	}
	if err := syncPath(s.dir); err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	return nil
}

// syncPath fsyncs a file or directory.
func syncPath(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	err = f.Sync()
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// s3Sink writes a backup under a bucket prefix. Each file is staged in a
// local scratch directory (0700) and uploaded in one PUT carrying its
// SHA-256, which the server checks.
type s3Sink struct {
	store   *s3blob.Store
	dir     string
	written []string
}

// openS3Store opens the bucket a --to or --from s3:// URL names, with the
// credentials in the environment as for --blobs.
func openS3Store(ctx context.Context, rawURL, flagName string) (*s3blob.Store, error) {
	if _, err := s3blob.ParseURL(rawURL); err != nil {
		return nil, fmt.Errorf("%w: %s: %v", errUsage, flagName, err)
	}
	st, err := s3blob.Open(ctx, rawURL, s3blob.Options{})
	if err != nil {
		return nil, fmt.Errorf("open S3 backup location %s: %w", redact(rawURL), err)
	}
	return st, nil
}

func openS3Sink(ctx context.Context, rawURL string) (*s3Sink, error) {
	st, err := openS3Store(ctx, rawURL, "--to")
	if err != nil {
		return nil, err
	}
	var found bool
	errFound := errors.New("found")
	if err := st.Files(ctx, func(string) error { found = true; return errFound }); err != nil && !errors.Is(err, errFound) {
		return nil, fmt.Errorf("backup location %s: %w", redact(rawURL), err)
	}
	if found {
		return nil, fmt.Errorf("backup location %s is not empty: a backup goes under an empty prefix, nothing was written", redact(rawURL))
	}
	dir, err := os.MkdirTemp("", "facevault-backup-*")
	if err != nil {
		return nil, fmt.Errorf("backup: scratch directory: %w", err)
	}
	return &s3Sink{store: st, dir: dir}, nil
}

func (s *s3Sink) scratch() string { return s.dir }

func (s *s3Sink) write(ctx context.Context, name string, r io.Reader) (digest, error) {
	f, err := os.CreateTemp(s.dir, "image-*")
	if err != nil {
		return digest{}, fmt.Errorf("backup: stage %s: %w", name, err)
	}
	path := f.Name()
	defer destroyFile(path)
	d, err := copyHashed(f, r)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return digest{}, fmt.Errorf("backup: stage %s: %w", name, err)
	}
	if err := s.store.PutFile(ctx, name, path); err != nil {
		return digest{}, fmt.Errorf("backup: %w", err)
	}
	s.written = append(s.written, name)
	return d, nil
}

func (s *s3Sink) remove(ctx context.Context, name string) error {
	if err := s.store.RemoveFile(ctx, name); err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	return nil
}

func (s *s3Sink) put(ctx context.Context, name, path string) error {
	defer destroyFile(path)
	if err := s.store.PutFile(ctx, name, path); err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	s.written = append(s.written, name)
	return nil
}

func (s *s3Sink) abort(ctx context.Context) error {
	var errs []error
	for _, name := range s.written {
		errs = append(errs, s.store.RemoveFile(ctx, name))
	}
	return errors.Join(errs...)
}

// close destroys what is left in the scratch directory, and removes it.
func (s *s3Sink) close() error {
	entries, err := os.ReadDir(s.dir)
	if err != nil {
		return fmt.Errorf("backup: scratch directory: %w", err)
	}
	for _, e := range entries {
		if err := destroyFile(filepath.Join(s.dir, e.Name())); err != nil {
			return err
		}
	}
	return os.RemoveAll(s.dir)
}

// destroyFile overwrites a staged file with zeros, syncs it and removes
// it: a staged copy of the database holds personal data. A missing file is
// not an error.
func destroyFile(path string) error {
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	} else if err != nil {
		return fmt.Errorf("backup: destroy %s: %w", path, err)
	}
	info, err := f.Stat()
	if err == nil && info.Mode().IsRegular() {
		zeros := make([]byte, 64<<10)
		for off := int64(0); off < info.Size() && err == nil; off += int64(len(zeros)) {
			_, err = f.WriteAt(zeros[:min(int64(len(zeros)), info.Size()-off)], off)
		}
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Remove(path)
	}
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("backup: destroy %s: %w", path, err)
	}
	return nil
}

// openBackupSource opens a backup in a directory or under a bucket prefix.
func openBackupSource(ctx context.Context, from string) (backupSource, error) {
	if isS3URL(from) {
		st, err := openS3Store(ctx, from, "--from")
		if err != nil {
			return nil, err
		}
		return s3Source{st}, nil
	}
	if from == "" {
		return nil, fmt.Errorf("%w: --from is required: a backup directory or s3://bucket[/prefix]?endpoint=URL", errUsage)
	}
	if strings.Contains(from, "://") {
		return nil, fmt.Errorf("%w: --from %q: want a directory or s3://bucket[/prefix]?endpoint=URL", errUsage, redact(from))
	}
	info, err := os.Stat(from)
	if err != nil {
		return nil, fmt.Errorf("backup %s: %w", from, err)
	}
	if !info.IsDir() {
		return nil, fmt.Errorf("backup %s is not a directory", from)
	}
	return dirSource(from), nil
}

type dirSource string

func (d dirSource) open(ctx context.Context, name string) (io.ReadCloser, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	f, err := os.Open(filepath.Join(string(d), filepath.FromSlash(name)))
	if err != nil {
		return nil, err
	}
	return f, nil
}

func (d dirSource) close() error { return nil }

type s3Source struct{ store *s3blob.Store }

func (s s3Source) open(ctx context.Context, name string) (io.ReadCloser, error) {
	r, err := s.store.GetFile(ctx, name)
	if errors.Is(err, facevault.ErrNotFound) {
		return nil, fmt.Errorf("%w: %w", fs.ErrNotExist, err)
	}
	return r, err
}

func (s s3Source) close() error { return nil }
