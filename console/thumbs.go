package console

import (
	"bytes"
	"container/list"
	"context"
	"fmt"
	"image/jpeg"
	"io"
	"sync"
	"sync/atomic"

	"github.com/facevault/facevault"
	"github.com/facevault/facevault/liveness"
)

// Thumbnail sizes: the longest side, in pixels, of the images the console
// shows. Grids and the queue show ThumbSmall; a photo's page ThumbLarge.
const (
	ThumbSmall = 320
	ThumbLarge = 960
)

// DefaultThumbCacheBytes is the default bound on the memory the thumbnail
// cache holds.
const DefaultThumbCacheBytes = 64 << 20

// thumbQuality is the JPEG quality of thumbnails.
const thumbQuality = 82

// maxImageBytes bounds what a thumbnail reads of a stored image: the
// largest image FaceVault accepts.
const maxImageBytes = 4 << 20

// Thumbnails makes JPEG thumbnails of live photos on demand, from the
// decrypted image (Vault.OpenImage), and keeps them in a least recently
// used cache bounded in bytes. Nothing of them is ever written to disk.
//
// The cache never decides who may see a thumbnail: a caller looks the
// photo's record up in the record store first, in the viewer's scope, and
// asks for the thumbnail of a photo that exists and is not redacted (see
// Get). Entries of photos destroyed on this node go at once (Forget, which
// serve wires to Vault.Forget); those destroyed through another node stay
// until evicted, never served, since their record is gone.
type Thumbnails struct {
	vault *facevault.Vault
	max   int64
	// making bounds the thumbnails made at once: each holds an image (up
	// to 4 MiB) and its decoded pixels.
	making chan struct{}

	mu    sync.Mutex
	lru   *list.List // of *thumb, most recently used first
	byKey map[thumbKey]*list.Element
	size  int64

	hits, misses atomic.Int64
}

type thumbKey struct {
	photoID string
	side    int
}

type thumb struct {
	key      thumbKey
	clientID string
	jpeg     []byte
}

// NewThumbnails returns a cache of at most maxBytes of thumbnails (the
// default if maxBytes is 0; a negative bound keeps none) of vault's
// photos.
func NewThumbnails(vault *facevault.Vault, maxBytes int64) *Thumbnails {
	if maxBytes == 0 {
		maxBytes = DefaultThumbCacheBytes
	}
	return &Thumbnails{vault: vault, max: maxBytes, making: make(chan struct{}, 2),
		lru: list.New(), byKey: map[thumbKey]*list.Element{}}
}

// Get returns the JPEG thumbnail, at most side pixels a side, of photo p
// of scope s: from the cache, or made from the image and cached. p must be
// the record just read from the store in s, not redacted: Get serves what
// it holds for p.ID without looking again.
func (t *Thumbnails) Get(ctx context.Context, s facevault.Scope, p *facevault.LivePhoto, side int) ([]byte, error) {
	if p.Redacted() {
		return nil, facevault.Errorf(facevault.ENotFound, "Live photo '%s' has been redacted", p.ID)
	}
	key := thumbKey{p.ID, side}
	if b := t.cached(key); b != nil {
		t.hits.Add(1)
		return b, nil
	}
	t.misses.Add(1)
	select {
	case t.making <- struct{}{}:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	defer func() { <-t.making }()
	if b := t.cached(key); b != nil { // made while this call waited
		return b, nil
	}
	b, err := t.make(ctx, s, p.ID, side)
	if err != nil {
		return nil, err
	}
	t.put(&thumb{key: key, clientID: p.ClientID, jpeg: b})
	return b, nil
}

// make reads, decodes, turns upright, shrinks and encodes one image.
func (t *Thumbnails) make(ctx context.Context, s facevault.Scope, id string, side int) ([]byte, error) {
	_, r, err := t.vault.OpenImage(ctx, s, id)
	if err != nil {
		return nil, err
	}
	data, err := io.ReadAll(io.LimitReader(r, maxImageBytes+1))
	r.Close()
	if err != nil {
		return nil, fmt.Errorf("console: thumbnail of %s: read: %w", id, err)
	}
	m, err := liveness.Upright(data, side)
	clear(data)
	if err != nil {
		return nil, fmt.Errorf("console: thumbnail of %s: %w", id, err)
	}
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, m, &jpeg.Options{Quality: thumbQuality}); err != nil {
		return nil, fmt.Errorf("console: thumbnail of %s: encode: %w", id, err)
	}
	clear(m.Pix)
	return buf.Bytes(), nil
}

func (t *Thumbnails) cached(k thumbKey) []byte {
	t.mu.Lock()
	defer t.mu.Unlock()
	e, ok := t.byKey[k]
	if !ok {
		return nil
	}
	t.lru.MoveToFront(e)
	return e.Value.(*thumb).jpeg
}

// put caches th, evicting the least recently used entries beyond the
// bound. A thumbnail larger than the whole bound is not kept.
func (t *Thumbnails) put(th *thumb) {
	n := int64(len(th.jpeg))
	if n > t.max {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if e, ok := t.byKey[th.key]; ok {
		t.removeLocked(e)
	}
	t.byKey[th.key] = t.lru.PushFront(th)
	t.size += n
	for t.size > t.max {
		t.removeLocked(t.lru.Back())
	}
}

func (t *Thumbnails) removeLocked(e *list.Element) {
	th := t.lru.Remove(e).(*thumb)
	delete(t.byKey, th.key)
	t.size -= int64(len(th.jpeg))
	clear(th.jpeg)
}

// Forget drops the thumbnails of photo photoID, if set, and of every photo
// of client clientID, if set: what Vault.Forget is told.
func (t *Thumbnails) Forget(photoID, clientID string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for e := t.lru.Front(); e != nil; {
		next := e.Next()
		th := e.Value.(*thumb)
		if photoID != "" && th.key.photoID == photoID || clientID != "" && th.clientID == clientID {
			t.removeLocked(e)
		}
		e = next
	}
}

// ThumbStats are a cache's figures.
type ThumbStats struct {
	Entries      int
	Bytes, Limit int64
	Hits, Misses int64
}

// Stats returns the cache's figures.
func (t *Thumbnails) Stats() ThumbStats {
	t.mu.Lock()
	defer t.mu.Unlock()
	return ThumbStats{Entries: len(t.byKey), Bytes: t.size, Limit: t.max, Hits: t.hits.Load(), Misses: t.misses.Load()}
}
