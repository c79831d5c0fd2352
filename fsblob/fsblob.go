// Package fsblob stores image bytes as files in a local directory.
//
// A blob is written to a temporary file, fsynced, renamed into place and its
// directory fsynced, so that a committed blob survives a crash and a blob
// that was never committed is never visible. The store takes an exclusive
// lock on its directory: one process owns it, and temporary files left by a
// crash are removed when the store is opened.
//
// The directory also holds the store's marker (a file, store-id, holding the
// id of the FaceVault store it belongs to) and its quarantine (quarantine/),
// where the orphan sweep sets images aside. Every file is created 0600 and
// every directory 0700; Open narrows those that a previous version or an
// operator left readable by group or others.
package fsblob

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/facevault/facevault"
)

// Store is a facevault.BlobStore on a local directory. Blobs live at
// <dir>/<last two hex digits of the key>/<key>; temporary files in <dir>/tmp;
// quarantined blobs at <dir>/quarantine/<key>; the store id in <dir>/store-id.
type Store struct {
	dir  string
	lock *os.File
}

var (
	_ facevault.BlobStore  = (*Store)(nil)
	_ facevault.Identity   = (*Store)(nil)
	_ facevault.Quarantine = (*Store)(nil)
)

// Names in the directory besides the shards.
const (
	tmpDir        = "tmp"
	quarantineDir = "quarantine"
	lockFile      = "LOCK"
	// MarkerFile holds the id of the FaceVault store the directory belongs
	// to, followed by a newline.
	MarkerFile = "store-id"
)

// ErrLocked is returned by Open when another process holds the directory.
var ErrLocked = errors.New("fsblob: directory is in use by another process")

// Open opens (creating if needed) the blob directory, locks it, and removes
// temporary files a crash may have left behind.
//
// It also narrows the permissions of the directory and of everything of the
// store in it to the owner (a directory 0755 becomes 0700, a file 0644
// 0600), which reads the metadata of every blob. A directory with the
// sticky bit (such as /tmp) is shared: its own mode is left alone.
func Open(dir string) (*Store, error) {
	if err := os.MkdirAll(filepath.Join(dir, tmpDir), 0o700); err != nil {
		return nil, fmt.Errorf("fsblob: create directory: %w", err)
	}
	lock, err := os.OpenFile(filepath.Join(dir, lockFile), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, fmt.Errorf("fsblob: open lock file: %w", err)
	}
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		lock.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, fmt.Errorf("%w: %s", ErrLocked, dir)
		}
		return nil, fmt.Errorf("fsblob: lock %s: %w", dir, err)
	}
	s := &Store{dir: dir, lock: lock}
	if err := s.ownerOnly(); err != nil {
		s.Close()
		return nil, err
	}
	if err := s.removeTemp(); err != nil {
		s.Close()
		return nil, err
	}
	if err := syncDir(dir); err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

// Close releases the directory lock.
func (s *Store) Close() error {
	if s.lock == nil {
		return nil
	}
	err := s.lock.Close() // closing the descriptor releases the flock
	s.lock = nil
	return err
}

// ownerOnly takes group and other permissions away from the directory
// (unless it is sticky) and from every file and directory of the store in
// it. Other entries of the directory are not the store's, and are left
// alone. A directory of the store that is owner-only already is not walked:
// no one else can reach what is in it, and the store itself creates every
// file 0600, so that a store whose modes are right costs a look at its
// directories, not at its every image, on each start.
func (s *Store) ownerOnly() error {
	narrow := func(path string, info fs.FileInfo) error {
		mode := info.Mode()
		if perm := mode.Perm(); perm&0o077 != 0 && (mode.IsRegular() || mode.IsDir()) {
			if err := os.Chmod(path, perm&^0o077); err != nil {
				return fmt.Errorf("fsblob: narrow permissions: %w", err)
			}
		}
		return nil
	}
	info, err := os.Lstat(s.dir)
	if err != nil {
		return fmt.Errorf("fsblob: stat directory: %w", err)
	}
	if info.Mode()&fs.ModeSticky == 0 {
		if err := narrow(s.dir, info); err != nil {
			return err
		}
	}
	entries, err := os.ReadDir(s.dir)
	if err != nil {
		return fmt.Errorf("fsblob: read directory: %w", err)
	}
	for _, e := range entries {
		name := e.Name()
		ours := name == tmpDir || name == quarantineDir || name == lockFile || name == MarkerFile || isShard(name)
		if !ours {
			continue
		}
		err := filepath.WalkDir(filepath.Join(s.dir, name), func(path string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			info, err := d.Info()
			if errors.Is(err, fs.ErrNotExist) {
				return nil
			} else if err != nil {
				return err
			}
			if err := narrow(path, info); err != nil {
				return err
			}
			if d.IsDir() && info.Mode().Perm()&0o077 == 0 {
				return fs.SkipDir // owner-only already: nothing in it was exposed
			}
			return nil
		})
		if err != nil {
			return fmt.Errorf("fsblob: narrow permissions: %w", err)
		}
	}
	return nil
}

// isShard reports whether name is that of a shard directory: two lowercase
// hex digits.
func isShard(name string) bool {
	return len(name) == 2 && facevault.ValidID(strings.Repeat("0", facevault.IDLen-2)+name)
}

func (s *Store) removeTemp() error {
	tmp := filepath.Join(s.dir, tmpDir)
	entries, err := os.ReadDir(tmp)
	if err != nil {
		return fmt.Errorf("fsblob: read temp directory: %w", err)
	}
	for _, e := range entries {
		if err := destroy(filepath.Join(tmp, e.Name())); err != nil {
			return err
		}
	}
	return nil
}

func (s *Store) path(key string) (string, error) {
	if !facevault.ValidID(key) {
		return "", fmt.Errorf("fsblob: invalid key %q", key)
	}
	return filepath.Join(s.dir, key[len(key)-2:], key), nil
}

// Create starts a blob under key. Its bytes go to a temporary file until
// Commit.
func (s *Store) Create(ctx context.Context, key string) (facevault.BlobWriter, error) {
	path, err := s.path(key)
	if err != nil {
		return nil, err
	}
	var suffix [8]byte
	rand.Read(suffix[:])
	tmp := filepath.Join(s.dir, tmpDir, key+"."+hex.EncodeToString(suffix[:]))
	f, err := os.OpenFile(tmp, os.O_CREATE|os.O_EXCL|os.O_RDWR, 0o600)
	if err != nil {
		return nil, fmt.Errorf("fsblob: create temp file: %w", err)
	}
	return &writer{f: f, tmp: tmp, path: path}, nil
}

type writer struct {
	f         *os.File
	tmp, path string
	done      bool
}

func (w *writer) Write(p []byte) (int, error) {
	n, err := w.f.Write(p)
	if err != nil {
		return n, fmt.Errorf("fsblob: write: %w", err)
	}
	return n, nil
}

// ReadAt reads back bytes written so far.
func (w *writer) ReadAt(p []byte, off int64) (int, error) {
	if w.done {
		return 0, errors.New("fsblob: blob already committed or aborted")
	}
	return w.f.ReadAt(p, off)
}

// Commit fsyncs the file, renames it into place and fsyncs its directory.
func (w *writer) Commit(ctx context.Context) error {
	if w.done {
		return errors.New("fsblob: blob already committed or aborted")
	}
	if err := ctx.Err(); err != nil {
		w.Abort()
		return err
	}
	if err := w.f.Sync(); err != nil {
		w.Abort()
		return fmt.Errorf("fsblob: sync: %w", err)
	}
	if err := w.f.Close(); err != nil {
		w.Abort()
		return fmt.Errorf("fsblob: close: %w", err)
	}
	dir := filepath.Dir(w.path)
	if _, err := os.Stat(dir); errors.Is(err, fs.ErrNotExist) {
		if err := os.Mkdir(dir, 0o700); err != nil && !errors.Is(err, fs.ErrExist) {
			w.Abort()
			return fmt.Errorf("fsblob: create directory: %w", err)
		}
		if err := syncDir(filepath.Dir(dir)); err != nil {
			w.Abort()
			return err
		}
	}
	if err := os.Rename(w.tmp, w.path); err != nil {
		w.Abort()
		return fmt.Errorf("fsblob: rename: %w", err)
	}
	w.done = true
	if err := syncDir(dir); err != nil {
		// The rename may not be durable: take the blob back out so that no
		// record is written for it.
		destroy(w.path)
		return err
	}
	return nil
}

// Abort removes the temporary file, overwriting what was written.
func (w *writer) Abort() error {
	if w.done {
		return nil
	}
	w.done = true
	w.f.Close()
	return destroy(w.tmp)
}

// Open returns the blob's bytes.
func (s *Store) Open(ctx context.Context, key string) (io.ReadCloser, error) {
	path, err := s.path(key)
	if err != nil {
		return nil, err
	}
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("fsblob: blob %s: %w", key, facevault.ErrNotFound)
	} else if err != nil {
		return nil, fmt.Errorf("fsblob: open: %w", err)
	}
	return f, nil
}

// Delete destroys the blob: its bytes are overwritten with zeros and synced
// before the file is unlinked, and the unlink is made durable.
func (s *Store) Delete(ctx context.Context, key string) error {
	path, err := s.path(key)
	if err != nil {
		return err
	}
	return destroyDurably(path)
}

// destroyDurably destroys the file at path and makes the unlink durable. A
// missing file, even in a directory that was never created, is not an
// error.
func destroyDurably(path string) error {
	if err := destroy(path); err != nil {
		return err
	}
	if err := syncDir(filepath.Dir(path)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return nil
}

// Keys calls fn for every committed blob last modified before the given
// time.
func (s *Store) Keys(ctx context.Context, before time.Time, fn func(key string) error) error {
	shards, err := os.ReadDir(s.dir)
	if err != nil {
		return fmt.Errorf("fsblob: read directory: %w", err)
	}
	for _, shard := range shards {
		if !shard.IsDir() || !isShard(shard.Name()) {
			continue
		}
		entries, err := os.ReadDir(filepath.Join(s.dir, shard.Name()))
		if err != nil {
			return fmt.Errorf("fsblob: read directory: %w", err)
		}
		for _, e := range entries {
			if err := ctx.Err(); err != nil {
				return err
			}
			if !facevault.ValidID(e.Name()) {
				continue
			}
			info, err := e.Info()
			if errors.Is(err, fs.ErrNotExist) {
				continue
			} else if err != nil {
				return fmt.Errorf("fsblob: stat: %w", err)
			}
			if !info.ModTime().Before(before) {
				continue
			}
			if err := fn(e.Name()); err != nil {
				return err
			}
		}
	}
	return nil
}

// StoreID returns the id in the directory's marker file, or "" if it has
// none. A marker that does not hold a store id is an error, never taken for
// no marker.
func (s *Store) StoreID(ctx context.Context) (string, error) {
	return readMarker(s.dir)
}

func readMarker(dir string) (string, error) {
	b, err := os.ReadFile(filepath.Join(dir, MarkerFile))
	if errors.Is(err, fs.ErrNotExist) {
		return "", nil
	} else if err != nil {
		return "", fmt.Errorf("fsblob: read store marker: %w", err)
	}
	id := strings.TrimSuffix(string(b), "\n")
	if !facevault.ValidStoreID(id) {
		return "", fmt.Errorf("fsblob: store marker %s does not hold a store id: %.40q", filepath.Join(dir, MarkerFile), b)
	}
	return id, nil
}

// BindStoreID writes id to the marker file unless it exists, and returns
// the id it holds. The marker is written to a temporary file, synced, and
// linked into place (a link never replaces an existing file), and the
// directory is synced.
func (s *Store) BindStoreID(ctx context.Context, id string) (string, error) {
	if !facevault.ValidStoreID(id) {
		return "", fmt.Errorf("fsblob: bind store id: invalid id %q", id)
	}
	if got, err := s.StoreID(ctx); err != nil || got != "" {
		return got, err
	}
	f, err := os.CreateTemp(filepath.Join(s.dir, tmpDir), MarkerFile+".*")
	if err != nil {
		return "", fmt.Errorf("fsblob: write store marker: %w", err)
	}
	tmp := f.Name()
	defer os.Remove(tmp)
	_, err = f.WriteString(id + "\n")
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return "", fmt.Errorf("fsblob: write store marker: %w", err)
	}
	if err := os.Link(tmp, filepath.Join(s.dir, MarkerFile)); errors.Is(err, fs.ErrExist) {
		return s.StoreID(ctx)
	} else if err != nil {
		return "", fmt.Errorf("fsblob: write store marker: %w", err)
	}
	if err := syncDir(s.dir); err != nil {
		return "", err
	}
	return id, nil
}

func (s *Store) quarantinePath(key string) (string, error) {
	if !facevault.ValidID(key) {
		return "", fmt.Errorf("fsblob: invalid key %q", key)
	}
	return filepath.Join(s.dir, quarantineDir, key), nil
}

// Quarantine moves a blob into the quarantine directory: its modification
// time is set to now and synced (it tells when the blob was set aside), then
// it is renamed (on the same file system: no byte is copied) and both
// directories are synced.
func (s *Store) Quarantine(ctx context.Context, key string) error {
	path, err := s.path(key)
	if err != nil {
		return err
	}
	q, _ := s.quarantinePath(key)
	now := time.Now()
	if err := os.Chtimes(path, now, now); errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("fsblob: quarantine %s: %w", key, facevault.ErrNotFound)
	} else if err != nil {
		return fmt.Errorf("fsblob: quarantine %s: %w", key, err)
	}
	if err := syncFile(path); err != nil {
		return fmt.Errorf("fsblob: quarantine %s: %w", key, err)
	}
	// The quarantine directory is made when first needed.
	if _, err := os.Stat(filepath.Dir(q)); errors.Is(err, fs.ErrNotExist) {
		if err := os.Mkdir(filepath.Dir(q), 0o700); err != nil && !errors.Is(err, fs.ErrExist) {
			return fmt.Errorf("fsblob: quarantine %s: %w", key, err)
		}
		if err := syncDir(s.dir); err != nil {
			return err
		}
	}
	if err := os.Rename(path, q); err != nil {
		return fmt.Errorf("fsblob: quarantine %s: %w", key, err)
	}
	// Renaming a file onto another link of itself (what a Restore that
	// died between its link and its unlink leaves) does nothing.
	if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("fsblob: quarantine %s: %w", key, err)
	}
	if err := syncDir(filepath.Join(s.dir, quarantineDir)); err != nil {
		return err
	}
	return syncDir(filepath.Dir(path))
}

// Restore moves a quarantined blob back: it is linked under its key (which
// fails if a blob is there: nothing is overwritten), then unlinked from the
// quarantine, each step synced.
func (s *Store) Restore(ctx context.Context, key string) error {
	path, err := s.path(key)
	if err != nil {
		return err
	}
	q, _ := s.quarantinePath(key)
	if _, err := os.Lstat(q); errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("fsblob: restore %s: not in quarantine: %w", key, facevault.ErrNotFound)
	} else if err != nil {
		return fmt.Errorf("fsblob: restore %s: %w", key, err)
	}
	dir := filepath.Dir(path)
	if _, err := os.Stat(dir); errors.Is(err, fs.ErrNotExist) {
		if err := os.Mkdir(dir, 0o700); err != nil && !errors.Is(err, fs.ErrExist) {
			return fmt.Errorf("fsblob: restore %s: %w", key, err)
		}
		if err := syncDir(s.dir); err != nil {
			return err
		}
	}
	if err := os.Link(q, path); errors.Is(err, fs.ErrExist) {
		return fmt.Errorf("fsblob: restore %s: a blob with that key exists: %w", key, facevault.ErrExist)
	} else if err != nil {
		return fmt.Errorf("fsblob: restore %s: %w", key, err)
	}
	if err := syncDir(dir); err != nil {
		return err
	}
	if err := os.Remove(q); err != nil {
		return fmt.Errorf("fsblob: restore %s: %w", key, err)
	}
	return syncDir(filepath.Join(s.dir, quarantineDir))
}

// Quarantined calls fn for every quarantined blob; Since is its
// modification time, set when it was quarantined.
func (s *Store) Quarantined(ctx context.Context, fn func(facevault.QuarantinedBlob) error) error {
	entries, err := os.ReadDir(filepath.Join(s.dir, quarantineDir))
	if errors.Is(err, fs.ErrNotExist) {
		return nil // nothing was ever quarantined
	} else if err != nil {
		return fmt.Errorf("fsblob: read quarantine: %w", err)
	}
	for _, e := range entries {
		if err := ctx.Err(); err != nil {
			return err
		}
		if !facevault.ValidID(e.Name()) || !e.Type().IsRegular() {
			continue
		}
		info, err := e.Info()
		if errors.Is(err, fs.ErrNotExist) {
			continue
		} else if err != nil {
			return fmt.Errorf("fsblob: stat: %w", err)
		}
		if err := fn(facevault.QuarantinedBlob{Key: e.Name(), Size: info.Size(), Since: info.ModTime()}); err != nil {
			return err
		}
	}
	return nil
}

// DestroyQuarantined destroys a quarantined blob as Delete destroys a blob: overwritten
// with zeros, synced, unlinked, and the unlink synced.
func (s *Store) DestroyQuarantined(ctx context.Context, key string) error {
	q, err := s.quarantinePath(key)
	if err != nil {
		return err
	}
	return destroyDurably(q)
}

func syncFile(path string) error {
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

// destroy overwrites a file with zeros, syncs it and unlinks it. A missing
// file is not an error. Overwriting keeps the bytes from lingering in free
// blocks on simple file systems; see the README for its limits on
// copy-on-write file systems and SSDs.
func destroy(path string) error {
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	} else if err != nil {
		return fmt.Errorf("fsblob: open for destroy: %w", err)
	}
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
	if err != nil {
		return fmt.Errorf("fsblob: overwrite: %w", err)
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("fsblob: remove: %w", err)
	}
	return nil
}

func zero(f *os.File, size int64) error {
	buf := make([]byte, min(size, 64<<10))
	for off := int64(0); off < size; {
		n := min(int64(len(buf)), size-off)
		if _, err := f.WriteAt(buf[:n], off); err != nil {
			return err
		}
		off += n
	}
	return nil
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("fsblob: open directory: %w", err)
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("fsblob: sync directory: %w", err)
	}
	return nil
}

// Ping reports whether the directory and its temporary directory, where
// every new image is written first, are still there.
func (s *Store) Ping(ctx context.Context) error {
	for _, d := range []string{s.dir, filepath.Join(s.dir, tmpDir)} {
		fi, err := os.Stat(d)
		if err != nil {
			return fmt.Errorf("fsblob: ping: %w", err)
		}
		if !fi.IsDir() {
			return fmt.Errorf("fsblob: ping: %s is not a directory", d)
		}
	}
	return ctx.Err()
}
