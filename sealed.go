package facevault

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"time"

	"github.com/go-json-experiment/json"

	"github.com/facevault/facevault/seal"
)

// ImageKeys holds the data keys that image bytes are sealed with at rest,
// one per photo (package keyring implements it, wrapping each by a key of
// the photo's client, wrapped in turn by the operator's master key).
// Destroying a key is what makes a photo's bytes unreadable everywhere,
// backups included; removing the sealed bytes is then housekeeping.
type ImageKeys interface {
	// AddPhotoKey records dataKey as the key of the photo ref names,
	// durably, with what a deletion receipt will quote of it.
	AddPhotoKey(ctx context.Context, ref PhotoRef, dataKey []byte) error
	// PhotoKey returns a photo's data key, or an error wrapping ErrNotFound
	// if it (or its client's key) was destroyed or never existed.
	PhotoKey(ctx context.Context, photoID string) ([]byte, error)
	// DestroyPhotoKeys destroys the data keys of photos, with a signed
	// deletion receipt for each saying why (none for NoReceipt), in one
	// transaction; keys already gone are not an error.
	DestroyPhotoKeys(ctx context.Context, photoIDs []string, why Destruction) (int, error)
	// DestroyClientKeys destroys the keys of clients, and every data key
	// of their photos, with a receipt per client; keys already gone are
	// not an error.
	DestroyClientKeys(ctx context.Context, clientIDs []string, why Destruction) (int, error)
	// Receipts lists one page of the scope's deletion receipts that name
	// resourceID, newest first, and their total.
	Receipts(ctx context.Context, s Scope, resourceID string, p Page) ([]*DeletionReceipt, int, error)
	// ReceiptKey returns the id and public half of the key receipts are
	// signed with.
	ReceiptKey() (string, ed25519.PublicKey)
	// NoteDestruction records why a photo's key will be destroyed, before
	// the record change that queues it: the receipt then says so, whether
	// the request or the background purge destroys the key.
	NoteDestruction(ctx context.Context, photoID string, why Destruction) error
	// PhotoKeyIDs lists up to n ids of photos whose keys were made before
	// the given time, in id order after the given id; ClientKeyIDs lists
	// the ids of clients with keys likewise. The sweep destroys those
	// without a record.
	PhotoKeyIDs(ctx context.Context, before time.Time, after string, n int) ([]string, error)
	ClientKeyIDs(ctx context.Context, after string, n int) ([]string, error)
	// HasPhotoKeys returns which of photoIDs have a data key: the images
	// of the others were stored before encryption at rest.
	HasPhotoKeys(ctx context.Context, photoIDs []string) (map[string]bool, error)
	// ReplacePhotoKey records dataKey as photoID's key in place of any it
	// has.
	ReplacePhotoKey(ctx context.Context, ref PhotoRef, dataKey []byte) error
	// PhotoKeys returns the data keys of those of photoIDs that have one.
	PhotoKeys(ctx context.Context, photoIDs []string) (map[string][]byte, error)
}

// livenessPurpose is what sealed liveness checks are sealed for.
const livenessPurpose = "facevault liveness check"

// sealLiveness seals p's liveness check under the photo's data key, in
// SealedLivenessCheck, for the record store; p keeps its LivenessCheck.
func sealLiveness(p *LivePhoto, dataKey []byte) error {
	if p.LivenessCheck == nil {
		return nil
	}
	b, err := json.Marshal(p.LivenessCheck)
	if err != nil {
		return fmt.Errorf("encode liveness check: %w", err)
	}
	if p.SealedLivenessCheck, err = seal.SealMessage(dataKey, livenessPurpose, b, []byte(p.ID)); err != nil {
		return fmt.Errorf("seal liveness check: %w", err)
	}
	return nil
}

// openLiveness opens the sealed liveness checks of photos, with one lookup
// of their keys. A photo whose key was destroyed (redacted) is left
// without its check.
func (v *Vault) openLiveness(ctx context.Context, photos ...*LivePhoto) error {
	var ids []string
	for _, p := range photos {
		if p.SealedLivenessCheck != nil {
			ids = append(ids, p.ID)
		}
	}
	if len(ids) == 0 {
		return nil
	}
	if v.Keys == nil {
		return errors.New("open liveness checks: they are sealed, and this vault has no keys")
	}
	keys, err := v.Keys.PhotoKeys(ctx, ids)
	if err != nil {
		return fmt.Errorf("open liveness checks: %w", err)
	}
	for _, p := range photos {
		if p.SealedLivenessCheck == nil {
			continue
		}
		sealed := p.SealedLivenessCheck
		p.SealedLivenessCheck = nil
		key, ok := keys[p.ID]
		if !ok {
			continue // destroyed with the image
		}
		b, err := seal.OpenMessage(key, livenessPurpose, sealed, []byte(p.ID))
		clear(key)
		if err != nil {
			return fmt.Errorf("open liveness check of %s: %w", p.ID, err)
		}
		p.LivenessCheck = new(LivenessCheck)
		if err := json.Unmarshal(b, p.LivenessCheck); err != nil {
			return fmt.Errorf("decode liveness check of %s: %w", p.ID, err)
		}
	}
	return nil
}

// sealedColumn is how a record store keeps a sealed liveness check in its
// JSON column.
type sealedColumn struct {
	Sealed []byte `json:"sealed"` // base64, as json encodes []byte
}

// LivenessColumn is what a record store keeps of p's liveness check, as
// JSON: {"sealed": "<base64>"} for a sealed check, the check itself for
// one stored in the clear (by a vault without keys, or an earlier
// release), nil for none.
func LivenessColumn(p *LivePhoto) ([]byte, error) {
	switch {
	case p.SealedLivenessCheck != nil:
		return json.Marshal(sealedColumn{p.SealedLivenessCheck})
	case p.LivenessCheck != nil:
		return json.Marshal(p.LivenessCheck)
	}
	return nil, nil
}

// SetLivenessColumn sets p's liveness check from what LivenessColumn
// wrote.
func SetLivenessColumn(p *LivePhoto, b []byte) error {
	if b == nil {
		return nil
	}
	var sc sealedColumn
	if err := json.Unmarshal(b, &sc, json.RejectUnknownMembers(true)); err == nil && sc.Sealed != nil {
		p.SealedLivenessCheck = sc.Sealed
		return nil
	}
	p.LivenessCheck = new(LivenessCheck)
	if err := json.Unmarshal(b, p.LivenessCheck); err != nil {
		return fmt.Errorf("decode liveness check of %s: %w", p.ID, err)
	}
	return nil
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
	return openAhead(sr, r), nil
}

type readCloser struct {
	io.Reader
	io.Closer
}

// aheadChunks is how many opened chunks a download's reader keeps ready.
const aheadChunks = 2

// openAhead reads sr in a goroutine of its own, a few chunks ahead, so that
// the next chunks are read and opened while the consumer hashes, encodes
// and sends the one before; closing it stops the goroutine and closes
// blob.
func openAhead(sr io.Reader, blob io.Closer) io.ReadCloser {
	a := &aheadReader{
		full: make(chan []byte, aheadChunks),
		free: make(chan []byte, aheadChunks+1),
		stop: make(chan struct{}),
		done: make(chan struct{}),
		blob: blob,
	}
	for range aheadChunks + 1 {
		a.free <- make([]byte, seal.ChunkSize)
	}
	go a.fill(sr)
	return a
}

// aheadReader is the reading end of openAhead.
type aheadReader struct {
	full, free chan []byte   // opened chunks, and buffers to open into
	stop, done chan struct{} // Close asks the goroutine to stop; it says it did
	err        error         // why the goroutine stopped: io.EOF at the end; read after done
	cur        []byte        // what is left of the chunk being read
	curBuf     []byte        // the buffer cur is in
	blob       io.Closer
	closed     bool
}

func (a *aheadReader) fill(sr io.Reader) {
	defer close(a.done)
	defer close(a.full)
	for {
		var buf []byte
		select {
		case buf = <-a.free:
		case <-a.stop:
			return
		}
		n, err := io.ReadFull(sr, buf[:cap(buf)])
		if n > 0 {
			select {
			case a.full <- buf[:n]:
			case <-a.stop:
				return
			}
		}
		switch {
		case err == io.EOF || err == io.ErrUnexpectedEOF:
			a.err = io.EOF
			return
		case err != nil:
			a.err = err
			return
		}
	}
}

// next makes the next opened chunk current, giving the last one's buffer
// back; false at the end, with the reason in a.err.
func (a *aheadReader) next() bool {
	if a.curBuf != nil {
		a.free <- a.curBuf
		a.curBuf = nil
	}
	buf, ok := <-a.full
	if !ok {
		<-a.done
		return false
	}
	a.cur, a.curBuf = buf, buf
	return true
}

func (a *aheadReader) Read(p []byte) (int, error) {
	for len(a.cur) == 0 {
		if !a.next() {
			return 0, a.err
		}
	}
	n := copy(p, a.cur)
	a.cur = a.cur[n:]
	return n, nil
}

// WriteTo hands w whole opened chunks, without copying them again.
func (a *aheadReader) WriteTo(w io.Writer) (int64, error) {
	var total int64
	for {
		if len(a.cur) > 0 {
			n, err := w.Write(a.cur)
			total += int64(n)
			a.cur = a.cur[n:]
			if err != nil {
				return total, err
			}
		}
		if !a.next() {
			if a.err == io.EOF {
				return total, nil
			}
			return total, a.err
		}
	}
}

func (a *aheadReader) Close() error {
	if a.closed {
		return nil
	}
	a.closed = true
	close(a.stop)
	// The blob first: that ends a read of it the goroutine may be blocked
	// in (a stalled S3 response), so that Close does not wait on it.
	err := a.blob.Close()
	<-a.done
	return err
}

// SealResult counts what SealLegacy did.
type SealResult struct {
	Examined int // images without a data key
	Sealed   int // of them, images stored in the clear, now sealed
	Failed   int // images that could not be sealed this time
}

// SealLegacy seals the images stored in the clear by a version of
// FaceVault that did not encrypt at rest: for each image without a data
// key whose photo has a record, it makes a key, writes the image sealed
// under it in place of the clear bytes, and leaves the rest as it is
// (images of deleted photos are the purge's, images without a record the
// sweep's). Each image is read and replaced whole, so a photo stays
// readable throughout; if sealing one fails, its clear bytes stay and the
// next pass tries again. It does nothing without Keys.
//
// The clear bytes replaced are unlinked (files) or overwritten (S3
// objects), not destroyed as a deletion destroys them: on a copy-on-write
// file system or an SSD, or in the bucket's older versions, they may
// outlive it.
func (v *Vault) SealLegacy(ctx context.Context, before time.Time) (SealResult, error) {
	var res SealResult
	if v.Keys == nil {
		return res, nil
	}
	var batch []string
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		defer func() { batch = batch[:0] }()
		keyed, err := v.Keys.HasPhotoKeys(ctx, batch)
		if err != nil {
			return fmt.Errorf("seal stored images: %w", err)
		}
		var bare []string
		for _, id := range batch {
			if !keyed[id] {
				bare = append(bare, id)
			}
		}
		if len(bare) == 0 {
			return nil
		}
		res.Examined += len(bare)
		owners, err := v.Store.LivePhotoOwners(ctx, bare)
		if err != nil {
			return fmt.Errorf("seal stored images: %w", err)
		}
		for _, id := range bare {
			ref, ok := owners[id]
			if !ok {
				continue
			}
			sealed, err := v.sealLegacy(ctx, ref)
			if ctx.Err() != nil {
				return ctx.Err()
			}
			if err != nil {
				res.Failed++
				v.Logger.WarnContext(ctx, "seal image stored in the clear; will retry", "livePhotoId", id, "err", err)
				continue
			}
			if sealed {
				res.Sealed++
			}
		}
		return nil
	}
	err := v.Blobs.Keys(ctx, before, func(key string) error {
		batch = append(batch, key)
		if len(batch) == sweepBatch {
			return flush()
		}
		return nil
	})
	if err == nil {
		err = flush()
	}
	if res.Sealed > 0 {
		v.Logger.InfoContext(ctx, "sealed images stored in the clear", "count", res.Sealed)
	}
	return res, err
}

// sealLegacy seals one photo's image, if it is stored in the clear.
func (v *Vault) sealLegacy(ctx context.Context, ref PhotoRef) (bool, error) {
	id := ref.PhotoID
	r, err := v.Blobs.Open(ctx, id)
	if err != nil {
		return false, err
	}
	defer r.Close()
	head := make([]byte, seal.HeaderSize)
	n, err := io.ReadFull(r, head)
	if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, io.EOF) {
		return false, err
	}
	if seal.IsSealed(head[:n]) {
		return false, nil // sealed already; its key is being made or was destroyed
	}
	key, err := seal.NewDataKey()
	if err != nil {
		return false, err
	}
	defer clear(key)
	w, err := v.Blobs.Create(ctx, id)
	if err != nil {
		return false, err
	}
	defer w.Abort()
	sw, err := seal.NewWriter(w, key)
	if err != nil {
		return false, err
	}
	if _, err := io.Copy(sw, io.MultiReader(bytes.NewReader(head[:n]), r)); err != nil {
		return false, err
	}
	if err := sw.Close(); err != nil {
		return false, err
	}
	// The key before the bytes: while the clear bytes are still there,
	// reads take them as they are (openSealed looks at the bytes, not the
	// key).
	if err := v.Keys.ReplacePhotoKey(ctx, ref, key); err != nil {
		return false, err
	}
	if err := w.Commit(ctx); err != nil {
		return false, err
	}
	return true, nil
}

// DeletionReceipts returns one page of the scope's deletion receipts that
// name resourceID: its total, and its items. Without Keys there are none.
func (v *Vault) DeletionReceipts(ctx context.Context, s Scope, resourceID string, p Page) (int, []*DeletionReceipt, error) {
	if v.Keys == nil || !ValidID(resourceID) {
		return 0, nil, nil
	}
	rs, total, err := v.Keys.Receipts(ctx, s, resourceID, p)
	if err != nil {
		return 0, nil, fmt.Errorf("deletion receipts: %w", err)
	}
	return total, rs, nil
}

// ReceiptKey returns the public key deletion receipts are signed with, as
// PEM, or an ENotFound error without Keys.
func (v *Vault) ReceiptKey() ([]byte, error) {
	if v.Keys == nil {
		return nil, Errorf(ENotFound, "This deployment signs no deletion receipts")
	}
	_, pub := v.Keys.ReceiptKey()
	return MarshalReceiptKey(pub)
}

// noteDestruction records why photo id's key is about to be destroyed (see
// ImageKeys.NoteDestruction).
func (v *Vault) noteDestruction(ctx context.Context, id string, why Destruction) error {
	if v.Keys == nil {
		return nil
	}
	if err := v.Keys.NoteDestruction(ctx, id, why); err != nil {
		return fmt.Errorf("note destruction of %s: %w", id, err)
	}
	return nil
}

// embeddingPurpose is what face embeddings are sealed for.
const embeddingPurpose = "facevault face embedding"

// sealEmbedding seals a face embedding (float32s, little-endian) under a
// photo's data key.
func sealEmbedding(e []float32, dataKey []byte, photoID string) ([]byte, error) {
	sealed, err := seal.SealMessage(dataKey, embeddingPurpose, encodeFloats(e), []byte(photoID))
	if err != nil {
		return nil, fmt.Errorf("seal face embedding: %w", err)
	}
	return sealed, nil
}

// SealFaceEmbedding seals a face embedding as an upload does, under the
// photo's data key: what LivePhoto.SealedEmbedding holds. Tools and tests
// that store photos without uploading them use it.
func SealFaceEmbedding(e []float32, dataKey []byte, photoID string) ([]byte, error) {
	return sealEmbedding(e, dataKey, photoID)
}

// FaceEmbedding returns the face embedding of a photo as read from the
// record store, opened with its key: nil if none was computed (no single
// face found, no liveness check, or stored before embeddings), or if the
// photo was redacted.
func (v *Vault) FaceEmbedding(ctx context.Context, p *LivePhoto) ([]float32, error) {
	if p.SealedEmbedding == nil {
		return nil, nil
	}
	if v.Keys == nil {
		return nil, errors.New("face embedding: it is sealed, and this vault has no keys")
	}
	key, err := v.Keys.PhotoKey(ctx, p.ID)
	if errors.Is(err, ErrNotFound) {
		return nil, nil // destroyed with the photo's image
	}
	if err != nil {
		return nil, fmt.Errorf("face embedding of %s: %w", p.ID, err)
	}
	b, err := seal.OpenMessage(key, embeddingPurpose, p.SealedEmbedding, []byte(p.ID))
	clear(key)
	if err != nil {
		return nil, fmt.Errorf("open face embedding of %s: %w", p.ID, err)
	}
	if len(b)%4 != 0 {
		return nil, fmt.Errorf("face embedding of %s: %d bytes is no float32 vector", p.ID, len(b))
	}
	e := make([]float32, len(b)/4)
	for i := range e {
		e[i] = math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:]))
	}
	return e, nil
}
