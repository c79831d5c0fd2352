// Package fsblob stores image bytes as files in a local directory.
//
// A blob is written to a temporary file, fsynced, renamed into place and its
// directory fsynced, so that a committed blob survives a crash and a blob
// that was never committed is never visible. The store takes an exclusive
// lock on its directory: one process owns it, and temporary files left by a
// crash are removed when the store is opened.
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
	"syscall"
	"time"

	"github.com/facevault/facevault"
)

// Store is a facevault.BlobStore on a local directory. Blobs live at
// <dir>/<last two hex digits of the key>/<key>; temporary files in <dir>/tmp.
type Store struct {
	dir  string
	lock *os.File
}

var _ facevault.BlobStore = (*Store)(nil)

// ErrLocked is returned by Open when another process holds the directory.
var ErrLocked = errors.New("fsblob: directory is in use by another process")

// Open opens (creating if needed) the blob directory, locks it, and removes
// temporary files a crash may have left behind.
func Open(dir string) (*Store, error) {
	if err := os.MkdirAll(filepath.Join(dir, "tmp"), 0o700); err != nil {
		return nil, fmt.Errorf("fsblob: create directory: %w", err)
	}
	lock, err := os.OpenFile(filepath.Join(dir, "LOCK"), os.O_CREATE|os.O_RDWR, 0o600)
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

func (s *Store) removeTemp() error {
	tmp := filepath.Join(s.dir, "tmp")
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
	tmp := filepath.Join(s.dir, "tmp", key+"."+hex.EncodeToString(suffix[:]))
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
	if err := destroy(path); err != nil {
		return err
	}
	// A key whose shard directory was never created has nothing to sync:
	// deleting a missing blob is not an error.
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
		if !shard.IsDir() || len(shard.Name()) != 2 {
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
