package facevault

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/facevault/facevault/seal"
)

// ImageKeys holds the data keys that image bytes are sealed with at rest,
// one per photo (package keyring implements it, wrapping each by a key of
// the photo's client, wrapped in turn by the operator's master key).
// Destroying a key is what makes a photo's bytes unreadable everywhere,
// backups included; removing the sealed bytes is then housekeeping.
type ImageKeys interface {
	// AddPhotoKey records dataKey as the key of photoID, a photo of
	// clientID, durably.
	AddPhotoKey(ctx context.Context, clientID, photoID string, dataKey []byte) error
	// PhotoKey returns a photo's data key, or an error wrapping ErrNotFound
	// if it (or its client's key) was destroyed or never existed.
	PhotoKey(ctx context.Context, photoID string) ([]byte, error)
	// DestroyPhotoKeys destroys the data keys of photos; keys already gone
	// are not an error.
	DestroyPhotoKeys(ctx context.Context, photoIDs []string) (int, error)
	// DestroyClientKeys destroys the keys of clients, and so every data key
	// of their photos; keys already gone are not an error.
	DestroyClientKeys(ctx context.Context, clientIDs []string) (int, error)
	// PhotoKeyIDs lists up to n ids of photos whose keys were made before
	// the given time, in id order after the given id; ClientKeyIDs lists
	// the ids of clients with keys likewise. The sweep destroys those
	// without a record.
	PhotoKeyIDs(ctx context.Context, before time.Time, after string, n int) ([]string, error)
	ClientKeyIDs(ctx context.Context, after string, n int) ([]string, error)
}

// sealedWriter seals what is written to it into a blob.
type sealedWriter struct {
	BlobWriter
	w *seal.Writer
}

func (s *sealedWriter) Write(p []byte) (int, error) { return s.w.Write(p) }

// ReadAt reads back the plaintext written so far.
func (s *sealedWriter) ReadAt(p []byte, off int64) (int, error) {
	return s.w.ReadAt(s.BlobWriter, p, off)
}

func (s *sealedWriter) Commit(ctx context.Context) error {
	if err := s.w.Close(); err != nil {
		return fmt.Errorf("seal image: %w", err)
	}
	return s.BlobWriter.Commit(ctx)
}

// openSealed returns the plaintext of the blob r of photo id: the sealed
// stream opened with the photo's key, or, for an image stored by a version
// of FaceVault that did not encrypt, the bytes as they are.
func (v *Vault) openSealed(ctx context.Context, id string, r io.ReadCloser) (io.ReadCloser, error) {
	head := make([]byte, seal.HeaderSize)
	n, err := io.ReadFull(r, head)
	if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("read image of live photo %s: %w", id, err)
	}
	whole := io.MultiReader(bytes.NewReader(head[:n]), r)
	if !seal.IsSealed(head[:n]) {
		return readCloser{whole, r}, nil // stored before encryption at rest
	}
	if v.Keys == nil {
		return nil, fmt.Errorf("image of live photo %s is encrypted, and this vault has no keys", id)
	}
	key, err := v.Keys.PhotoKey(ctx, id)
	if errors.Is(err, ErrNotFound) {
		return nil, Errorf(ENotFound, "The image of live photo '%s' was destroyed", id)
	}
	if err != nil {
		return nil, fmt.Errorf("key of live photo %s: %w", id, err)
	}
	sr, err := seal.NewReader(whole, key)
	clear(key)
	if err != nil {
		return nil, fmt.Errorf("open image of live photo %s: %w", id, err)
	}
	return readCloser{sr, r}, nil
}

type readCloser struct {
	io.Reader
	io.Closer
}
