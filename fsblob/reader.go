package fsblob

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/facevault/facevault"
)

// Reader reads the committed blobs of a directory without taking its lock
// and without changing anything in it, beside the process that owns it:
// backup reads a running service's images so. A blob is committed by a
// rename, so a blob it opens is whole; one destroyed meanwhile may read as
// zeros, which the caller must rule out (backup checks the photo's record
// after reading it).
type Reader struct {
	dir string
}

// NewReader returns a Reader on the directory, which must exist.
func NewReader(dir string) (*Reader, error) {
	info, err := os.Stat(dir)
	if err != nil {
		return nil, fmt.Errorf("fsblob: %w", err)
	}
	if !info.IsDir() {
		return nil, fmt.Errorf("fsblob: %s is not a directory", dir)
	}
	return &Reader{dir: dir}, nil
}

// Open returns the committed blob under key, or an error wrapping
// facevault.ErrNotFound if there is none.
func (r *Reader) Open(ctx context.Context, key string) (*os.File, error) {
	if !facevault.ValidID(key) {
		return nil, fmt.Errorf("fsblob: invalid key %q", key)
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	f, err := os.Open(r.Path(key))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("fsblob: blob %s: %w", key, facevault.ErrNotFound)
	} else if err != nil {
		return nil, fmt.Errorf("fsblob: open: %w", err)
	}
	return f, nil
}

// Path is where the blob under key (a valid id) is stored, relative to
// the directory: <last two hex digits>/<key>.
func Path(key string) string {
	return key[len(key)-2:] + "/" + key
}

// Path is the file of the blob under key (a valid id).
func (r *Reader) Path(key string) string {
	return filepath.Join(r.dir, key[len(key)-2:], key)
}

// StoreID returns the id in the directory's marker file, or "" if it has
// none.
func (r *Reader) StoreID(ctx context.Context) (string, error) {
	return readMarker(r.dir)
}
