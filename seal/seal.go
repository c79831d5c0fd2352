// Package seal encrypts a stream of bytes at rest with an authenticated
// cipher, in chunks, so that a stream of any length is encrypted and
// decrypted with a bounded buffer and read back at any offset.
//
// A sealed stream is a header followed by chunks. The header is the magic
// "FVSEAL", a version byte and the base-2 logarithm of the chunk size. Each
// chunk holds ChunkSize bytes of plaintext (the last one fewer, possibly
// none) sealed with AES-256-GCM and followed by its 16-byte tag. This is the
// STREAM construction (Hoang, Reyhanitabar, Rogaway and Vizár, "Online
// Authenticated-Encryption and its Nonce-Reuse Misuse-Resistance", 2015):
// the nonce of chunk i is i as a big-endian 64-bit number, three zero bytes,
// and a last byte that is 1 on the final chunk only, and the header is the
// additional data of every chunk. Chunks cannot be reordered, dropped,
// duplicated or moved to another stream, and a stream cut short or extended
// fails to open.
//
// The cipher's key is derived with HKDF-SHA256 from a data key that must be
// used for one stream only: its nonces are counters, which is safe because
// no two streams share a key. NewDataKey makes one.
package seal

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// ChunkSize is the plaintext bytes per chunk.
const ChunkSize = 64 << 10

const (
	chunkLog   = 16 // log2(ChunkSize)
	tagSize    = 16
	blockSize  = ChunkSize + tagSize // a sealed full chunk
	HeaderSize = 8                   // bytes before the first chunk
	version    = 1
)

// header is the header of every stream this version writes.
var header = [HeaderSize]byte{'F', 'V', 'S', 'E', 'A', 'L', version, chunkLog}

// KeySize is the size of a data key.
const KeySize = 32

// ErrAuth is returned when sealed bytes fail to open: they were changed,
// cut short, extended, or sealed under another key.
var ErrAuth = errors.New("seal: message authentication failed: the sealed bytes were altered, truncated or sealed under another key")

// IsSealed reports whether p (the first bytes of a stream, at least
// HeaderSize) begins with a sealed stream's header of any version.
func IsSealed(p []byte) bool {
	return len(p) >= 6 && string(p[:6]) == "FVSEAL"
}

// NewDataKey returns a fresh random data key.
func NewDataKey() ([]byte, error) {
	k := make([]byte, KeySize)
	if _, err := rand.Read(k); err != nil {
		return nil, fmt.Errorf("seal: new data key: %w", err)
	}
	return k, nil
}

// chunksOf is the number of chunks that hold n plaintext bytes: the final
// chunk may be full, and is empty only when n is 0.
func chunksOf(n int64) int64 {
	return max(1, (n+ChunkSize-1)/ChunkSize)
}

// SealedSize is the size of the sealed stream of n plaintext bytes.
func SealedSize(n int64) int64 {
	return HeaderSize + n + chunksOf(n)*tagSize
}

// PlainSize is the plaintext size of a sealed stream of n bytes, or ErrAuth
// if no stream has that size.
func PlainSize(n int64) (int64, error) {
	if n < HeaderSize+tagSize {
		return 0, ErrAuth
	}
	body := n - HeaderSize
	chunks := (body + blockSize - 1) / blockSize
	p := body - chunks*tagSize
	if p < 0 || SealedSize(p) != n {
		return 0, ErrAuth // a final block too short to hold its tag, or an empty chunk after a full one
	}
	return p, nil
}

// deriveKey is the cipher key of the streams and messages sealed under a
// data key, for one purpose.
func deriveKey(dataKey []byte, purpose string) ([]byte, error) {
	if len(dataKey) != KeySize {
		return nil, fmt.Errorf("seal: data key is %d bytes, want %d", len(dataKey), KeySize)
	}
	return hkdf.Key(sha256.New, dataKey, nil, purpose, 32)
}

func newGCM(key []byte) (cipher.AEAD, error) {
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("seal: %w", err)
	}
	return cipher.NewGCM(block)
}

// stream seals and opens the chunks of one stream.
type stream struct {
	aead  cipher.AEAD
	nonce [12]byte
}

func newStream(dataKey []byte) (*stream, error) {
	k, err := deriveKey(dataKey, "facevault sealed stream v1")
	if err != nil {
		return nil, err
	}
	aead, err := newGCM(k)
	if err != nil {
		return nil, err
	}
	return &stream{aead: aead}, nil
}

func (s *stream) setNonce(i uint64, last bool) []byte {
	binary.BigEndian.PutUint64(s.nonce[:8], i)
	s.nonce[11] = 0
	if last {
		s.nonce[11] = 1
	}
	return s.nonce[:]
}

func (s *stream) seal(dst, p []byte, i uint64, last bool) []byte {
	return s.aead.Seal(dst, s.setNonce(i, last), p, header[:])
}

func (s *stream) open(dst, c []byte, i uint64, last bool) ([]byte, error) {
	p, err := s.aead.Open(dst, s.setNonce(i, last), c, header[:])
	if err != nil {
		return nil, ErrAuth
	}
	return p, nil
}

// Writer seals what is written to it into an underlying writer. Close seals
// the final chunk; a stream not closed does not open. A Writer holds one
// chunk of plaintext and one of ciphertext.
type Writer struct {
	w      io.Writer
	s      *stream
	buf    []byte // plaintext not sealed yet: at most ChunkSize
	out    []byte
	chunks uint64 // chunks written
	size   int64  // plaintext bytes written
	cache  chunkCache
	err    error
	closed bool
}

// NewWriter writes a stream's header to w and returns a Writer that seals
// into it under dataKey, which must not seal anything else.
func NewWriter(w io.Writer, dataKey []byte) (*Writer, error) {
	s, err := newStream(dataKey)
	if err != nil {
		return nil, err
	}
	if _, err := w.Write(header[:]); err != nil {
		return nil, err
	}
	return &Writer{w: w, s: s, buf: make([]byte, 0, ChunkSize), out: make([]byte, 0, blockSize), cache: newChunkCache()}, nil
}

// Write seals p. A full chunk is written out only once more bytes follow
// it, since only then is it known not to be the last.
func (w *Writer) Write(p []byte) (int, error) {
	if w.err != nil {
		return 0, w.err
	}
	if w.closed {
		return 0, errors.New("seal: write after close")
	}
	n := 0
	for len(p) > 0 {
		if len(w.buf) == ChunkSize {
			if err := w.flush(false); err != nil {
				return n, err
			}
		}
		k := copy(w.buf[len(w.buf):ChunkSize], p)
		w.buf = w.buf[:len(w.buf)+k]
		p = p[k:]
		n += k
		w.size += int64(k)
	}
	return n, nil
}

func (w *Writer) flush(last bool) error {
	w.out = w.s.seal(w.out[:0], w.buf, w.chunks, last)
	if _, err := w.w.Write(w.out); err != nil {
		w.err = err
		return err
	}
	w.chunks++
	w.buf = w.buf[:0]
	return nil
}

// Close seals and writes the final chunk. It does not close the
// underlying writer.
func (w *Writer) Close() error {
	if w.err != nil {
		return w.err
	}
	if w.closed {
		return nil
	}
	if err := w.flush(true); err != nil {
		return err
	}
	w.closed = true
	return nil
}

// ReadAt reads back plaintext already written at off. r must read the
// bytes written to the underlying writer so far: chunks already sealed are
// read from it and opened; the chunk not sealed yet is in the Writer.
func (w *Writer) ReadAt(r io.ReaderAt, p []byte, off int64) (int, error) {
	if off < 0 {
		return 0, errors.New("seal: negative offset")
	}
	n := 0
	for n < len(p) {
		at := off + int64(n)
		if at >= w.size {
			return n, io.EOF
		}
		i := uint64(at / ChunkSize)
		if i >= w.chunks {
			n += copy(p[n:], w.buf[at-int64(w.chunks)*ChunkSize:])
			continue
		}
		c, err := w.cache.get(r, w.s, i, w.closed && i == w.chunks-1)
		if err != nil {
			return n, err
		}
		n += copy(p[n:], c[at-int64(i)*ChunkSize:])
	}
	return n, nil
}

// chunkCache reads and opens chunks of a stream, keeping the last one.
type chunkCache struct {
	index int64 // of the chunk in plain, -1 if none
	plain []byte
	in    []byte
}

func newChunkCache() chunkCache { return chunkCache{index: -1} }

// get returns the plaintext of chunk i of the stream in r.
func (c *chunkCache) get(r io.ReaderAt, s *stream, i uint64, last bool) ([]byte, error) {
	if c.index == int64(i) {
		return c.plain, nil
	}
	c.index = -1
	if c.in == nil {
		c.in = make([]byte, blockSize)
	}
	n, err := r.ReadAt(c.in, HeaderSize+int64(i)*blockSize)
	if n < tagSize || (n < blockSize && !last) {
		if err == nil || err == io.EOF {
			err = ErrAuth
		}
		return nil, err
	}
	if err != nil && err != io.EOF {
		return nil, err
	}
	p, err := s.open(c.plain[:0], c.in[:n], i, last)
	if err != nil {
		return nil, err
	}
	c.plain, c.index = p, int64(i)
	return p, nil
}

// Reader opens a sealed stream read in order.
type Reader struct {
	r     io.Reader
	s     *stream
	in    []byte // sealed bytes read, not yet opened: up to blockSize+1
	out   []byte // the last chunk opened
	plain []byte // what of out is not yet returned
	next  uint64
	done  bool
	err   error
}

// NewReader reads a stream's header from r and returns a Reader of its
// plaintext, opened under dataKey. Every chunk is authenticated before
// any of its bytes are returned; a stream that was altered or cut short
// ends in ErrAuth.
func NewReader(r io.Reader, dataKey []byte) (*Reader, error) {
	s, err := newStream(dataKey)
	if err != nil {
		return nil, err
	}
	var h [HeaderSize]byte
	if _, err := io.ReadFull(r, h[:]); err != nil {
		if err == io.EOF || err == io.ErrUnexpectedEOF {
			return nil, ErrAuth
		}
		return nil, err
	}
	if h != header {
		return nil, fmt.Errorf("seal: not a sealed stream of version %d", version)
	}
	return &Reader{r: r, s: s, in: make([]byte, 0, blockSize+1), out: make([]byte, 0, ChunkSize)}, nil
}

// Read returns opened plaintext.
func (r *Reader) Read(p []byte) (int, error) {
	for len(r.plain) == 0 {
		if r.err != nil {
			return 0, r.err
		}
		if r.done {
			return 0, io.EOF
		}
		r.fill()
	}
	n := copy(p, r.plain)
	r.plain = r.plain[n:]
	return n, nil
}

// fill reads the next chunk, and one byte beyond it to learn whether it is
// the last, and opens it.
func (r *Reader) fill() {
	n, err := io.ReadFull(r.r, r.in[len(r.in):blockSize+1])
	r.in = r.in[:len(r.in)+n]
	last := false
	switch {
	case err == io.EOF || err == io.ErrUnexpectedEOF:
		last = true
	case err != nil:
		r.err = err
		return
	}
	c := r.in
	if !last {
		c = r.in[:blockSize]
	}
	plain, oerr := r.s.open(r.out[:0], c, r.next, last)
	if oerr != nil {
		r.err = oerr
		return
	}
	r.next++
	r.out, r.plain = plain, plain
	if last {
		r.done = true
		r.in = r.in[:0]
		return
	}
	// Keep the byte read beyond the chunk: the next chunk's first.
	r.in = append(r.in[:0], r.in[blockSize])
}

// ReaderAt opens a sealed stream at any offset, authenticating each chunk
// it reads. It keeps the last chunk it opened, and is not safe for
// concurrent use.
type ReaderAt struct {
	r      io.ReaderAt
	s      *stream
	size   int64 // plaintext size
	chunks uint64
	cache  chunkCache
}

// NewReaderAt returns a ReaderAt of the plaintext of the sealed stream of
// sealedSize bytes in r. It authenticates the final chunk first, and each
// other chunk when it is read.
func NewReaderAt(r io.ReaderAt, sealedSize int64, dataKey []byte) (*ReaderAt, error) {
	s, err := newStream(dataKey)
	if err != nil {
		return nil, err
	}
	size, err := PlainSize(sealedSize)
	if err != nil {
		return nil, err
	}
	var h [HeaderSize]byte
	if _, err := r.ReadAt(h[:], 0); err != nil {
		return nil, err
	}
	if h != header {
		return nil, fmt.Errorf("seal: not a sealed stream of version %d", version)
	}
	ra := &ReaderAt{r: r, s: s, size: size, chunks: uint64(chunksOf(size)), cache: newChunkCache()}
	// Open the final chunk now: a stream of the wrong length, or whose end
	// was altered, fails here rather than on some later read.
	if _, err := ra.cache.get(r, s, ra.chunks-1, true); err != nil {
		return nil, err
	}
	return ra, nil
}

// Size is the plaintext size.
func (r *ReaderAt) Size() int64 { return r.size }

// ReadAt reads plaintext at off.
func (r *ReaderAt) ReadAt(p []byte, off int64) (int, error) {
	if off < 0 {
		return 0, errors.New("seal: negative offset")
	}
	n := 0
	for n < len(p) {
		at := off + int64(n)
		if at >= r.size {
			return n, io.EOF
		}
		i := uint64(at / ChunkSize)
		c, err := r.cache.get(r.r, r.s, i, i == r.chunks-1)
		if err != nil {
			return n, err
		}
		n += copy(p[n:], c[at-int64(i)*ChunkSize:])
	}
	return n, nil
}

// messageVersion is the first byte of a sealed message.
const messageVersion = 1

// SealMessage seals a short message (a key, a JSON document) under key, for
// purpose, bound to aad: Open must be given the same purpose and aad. The
// cipher key is derived from key and purpose with HKDF, and the nonce is
// random, so one key may seal up to 2^32 messages per purpose.
func SealMessage(key []byte, purpose string, msg, aad []byte) ([]byte, error) {
	k, err := deriveKey(key, purpose)
	if err != nil {
		return nil, err
	}
	aead, err := newGCM(k)
	if err != nil {
		return nil, err
	}
	out := make([]byte, 1+aead.NonceSize(), 1+aead.NonceSize()+len(msg)+aead.Overhead())
	out[0] = messageVersion
	if _, err := rand.Read(out[1:]); err != nil {
		return nil, fmt.Errorf("seal: nonce: %w", err)
	}
	return aead.Seal(out, out[1:1+aead.NonceSize()], msg, aad), nil
}

// OpenMessage opens a message sealed by SealMessage, or returns ErrAuth.
func OpenMessage(key []byte, purpose string, sealed, aad []byte) ([]byte, error) {
	k, err := deriveKey(key, purpose)
	if err != nil {
		return nil, err
	}
	aead, err := newGCM(k)
	if err != nil {
		return nil, err
	}
	ns := aead.NonceSize()
	if len(sealed) < 1+ns+aead.Overhead() || sealed[0] != messageVersion {
		return nil, ErrAuth
	}
	msg, err := aead.Open(nil, sealed[1:1+ns], sealed[1+ns:], aad)
	if err != nil {
		return nil, ErrAuth
	}
	return msg, nil
}

// MessageSealer seals and opens messages as SealMessage and OpenMessage
// do, for one key and purpose, deriving the cipher key once: for sealing
// or opening many messages under the same key.
type MessageSealer struct {
	aead cipher.AEAD
}

// NewMessageSealer returns the sealer of key for purpose.
func NewMessageSealer(key []byte, purpose string) (*MessageSealer, error) {
	k, err := deriveKey(key, purpose)
	if err != nil {
		return nil, err
	}
	aead, err := newGCM(k)
	if err != nil {
		return nil, err
	}
	return &MessageSealer{aead: aead}, nil
}

// Seal is SealMessage.
func (m *MessageSealer) Seal(msg, aad []byte) ([]byte, error) {
	ns := m.aead.NonceSize()
	out := make([]byte, 1+ns, 1+ns+len(msg)+m.aead.Overhead())
	out[0] = messageVersion
	if _, err := rand.Read(out[1:]); err != nil {
		return nil, fmt.Errorf("seal: nonce: %w", err)
	}
	return m.aead.Seal(out, out[1:1+ns], msg, aad), nil
}

// Open is OpenMessage, appending the message to dst.
func (m *MessageSealer) Open(dst, sealed, aad []byte) ([]byte, error) {
	ns := m.aead.NonceSize()
	if len(sealed) < 1+ns+m.aead.Overhead() || sealed[0] != messageVersion {
		return nil, ErrAuth
	}
	msg, err := m.aead.Open(dst, sealed[1:1+ns], sealed[1+ns:], aad)
	if err != nil {
		return nil, ErrAuth
	}
	return msg, nil
}
