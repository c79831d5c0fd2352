package seal

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"testing"
	"testing/iotest"
)

// sizes cover empty, partial, exactly full and several chunks.
var sizes = []int{0, 1, 100, ChunkSize - 1, ChunkSize, ChunkSize + 1, 2 * ChunkSize, 3*ChunkSize + 5}

func plaintext(n int, seed uint64) []byte {
	r := rand.New(rand.NewPCG(seed, 1))
	p := make([]byte, n)
	for i := range p {
		p[i] = byte(r.Uint32())
	}
	return p
}

func testKey(b byte) []byte { return bytes.Repeat([]byte{b}, KeySize) }

// sealBytes seals p, writing it in pieces of the given size.
func sealBytes(t testing.TB, p, key []byte, piece int) []byte {
	t.Helper()
	var buf bytes.Buffer
	w, err := NewWriter(&buf, key)
	if err != nil {
		t.Fatal(err)
	}
	for q := p; len(q) > 0; {
		k := min(piece, len(q))
		if n, err := w.Write(q[:k]); err != nil || n != k {
			t.Fatalf("Write = %d, %v", n, err)
		}
		q = q[k:]
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func openAll(c, key []byte) ([]byte, error) {
	r, err := NewReader(bytes.NewReader(c), key)
	if err != nil {
		return nil, err
	}
	return io.ReadAll(r)
}

func TestRoundTrip(t *testing.T) {
	key := testKey(7)
	for _, n := range sizes {
		for _, piece := range []int{1 << 20, 1000, 7} {
			if piece < 100 && n > 2*ChunkSize {
				continue
			}
			t.Run(fmt.Sprintf("%d/%d", n, piece), func(t *testing.T) {
				p := plaintext(n, uint64(n))
				c := sealBytes(t, p, key, piece)
				if int64(len(c)) != SealedSize(int64(n)) {
					t.Fatalf("sealed %d bytes into %d, SealedSize says %d", n, len(c), SealedSize(int64(n)))
				}
				if got, err := PlainSize(int64(len(c))); err != nil || got != int64(n) {
					t.Fatalf("PlainSize(%d) = %d, %v; want %d", len(c), got, err, n)
				}
				if !IsSealed(c) {
					t.Fatal("IsSealed = false on a sealed stream")
				}
				// In order, through readers that return little at a time.
				for name, wrap := range map[string]func(io.Reader) io.Reader{
					"plain": func(r io.Reader) io.Reader { return r },
					"byte":  iotest.OneByteReader,
					"half":  iotest.HalfReader,
				} {
					r, err := NewReader(wrap(bytes.NewReader(c)), key)
					if err != nil {
						t.Fatal(err)
					}
					got, err := io.ReadAll(r)
					if err != nil || !bytes.Equal(got, p) {
						t.Fatalf("%s reader: %d bytes, %v; want the %d bytes sealed", name, len(got), err, n)
					}
				}
				// At random offsets.
				ra, err := NewReaderAt(bytes.NewReader(c), int64(len(c)), key)
				if err != nil {
					t.Fatal(err)
				}
				if ra.Size() != int64(n) {
					t.Fatalf("Size = %d, want %d", ra.Size(), n)
				}
				if err := iotest.TestReader(io.NewSectionReader(ra, 0, ra.Size()), p); err != nil {
					t.Fatal(err)
				}
			})
		}
	}
}

// TestWriterReadAt reads back what was written before the stream is
// closed, and after: the liveness check reads the image while it is being
// stored.
func TestWriterReadAt(t *testing.T) {
	key := testKey(3)
	p := plaintext(3*ChunkSize+77, 9)
	var buf bytes.Buffer
	w, err := NewWriter(&buf, key)
	if err != nil {
		t.Fatal(err)
	}
	check := func(written int) {
		t.Helper()
		r := bytes.NewReader(buf.Bytes())
		for _, off := range []int{0, 1, ChunkSize - 3, ChunkSize, 2*ChunkSize + 5, written - 1, written} {
			if off < 0 || off > written {
				continue
			}
			got := make([]byte, 100)
			n, err := w.ReadAt(r, got, int64(off))
			want := p[off:min(off+100, written)]
			if n != len(want) || !bytes.Equal(got[:n], want) {
				t.Fatalf("after %d bytes, ReadAt(%d) = %d bytes; want %d", written, off, n, len(want))
			}
			if n < 100 && err != io.EOF {
				t.Fatalf("after %d bytes, short ReadAt(%d) error %v, want io.EOF", written, off, err)
			}
		}
		all := make([]byte, written)
		if n, err := w.ReadAt(r, all, 0); n != written || (err != nil && err != io.EOF) || !bytes.Equal(all, p[:written]) {
			t.Fatalf("after %d bytes, ReadAt of everything = %d, %v", written, n, err)
		}
	}
	written := 0
	for _, k := range []int{10, ChunkSize - 10, 1, ChunkSize, ChunkSize + 76} {
		if _, err := w.Write(p[written : written+k]); err != nil {
			t.Fatal(err)
		}
		written += k
		check(written)
	}
	if written != len(p) {
		t.Fatalf("test wrote %d of %d", written, len(p))
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	check(written)
	if _, err := w.Write([]byte{1}); err == nil {
		t.Fatal("Write after Close succeeded")
	}
}

// TestTampered: any change, cut, extension or reordering of a sealed
// stream fails to open, whichever reader opens it; never do fewer or other
// bytes come out without an error.
func TestTampered(t *testing.T) {
	key := testKey(1)
	p := plaintext(2*ChunkSize+500, 4)
	c := sealBytes(t, p, key, 1<<20)
	fails := func(name string, c []byte) {
		t.Helper()
		if got, err := openAll(c, key); err == nil {
			t.Errorf("%s: Reader opened %d bytes without error", name, len(got))
		}
		ra, err := NewReaderAt(bytes.NewReader(c), int64(len(c)), key)
		if err != nil {
			return
		}
		got := make([]byte, ra.Size())
		if _, err := ra.ReadAt(got, 0); err == nil {
			t.Errorf("%s: ReaderAt read %d bytes without error", name, len(got))
		}
	}
	for _, at := range []int{0, 5, 6, 7, HeaderSize, HeaderSize + 1000, HeaderSize + blockSize - 1, HeaderSize + blockSize, len(c) - 17, len(c) - 1} {
		d := bytes.Clone(c)
		d[at] ^= 0x40
		fails(fmt.Sprintf("byte %d flipped", at), d)
	}
	for _, n := range []int{0, 3, HeaderSize, HeaderSize + 15, HeaderSize + blockSize, HeaderSize + 2*blockSize, len(c) - 1} {
		fails(fmt.Sprintf("cut to %d", n), bytes.Clone(c[:n]))
	}
	fails("one byte appended", append(bytes.Clone(c), 0))
	fails("a chunk appended", append(bytes.Clone(c), c[HeaderSize:HeaderSize+blockSize]...))
	swapped := bytes.Clone(c)
	copy(swapped[HeaderSize:], c[HeaderSize+blockSize:HeaderSize+2*blockSize])
	copy(swapped[HeaderSize+blockSize:], c[HeaderSize:HeaderSize+blockSize])
	fails("chunks swapped", swapped)
	dropped := append(bytes.Clone(c[:HeaderSize+blockSize]), c[HeaderSize+2*blockSize:]...)
	fails("a chunk dropped", dropped)
	if _, err := openAll(c, testKey(2)); !errors.Is(err, ErrAuth) {
		t.Errorf("wrong key: %v, want ErrAuth", err)
	}
	// The final chunk of another stream under the same key does not end
	// this one: the last flag is in the nonce.
	short := sealBytes(t, p[:ChunkSize], key, 1<<20)
	spliced := append(bytes.Clone(short[:HeaderSize]), c[HeaderSize:HeaderSize+blockSize]...)
	if got, err := openAll(spliced, key); err == nil {
		t.Errorf("a non-final chunk passed for the final one: %d bytes", len(got))
	}
}

// TestLooksRandom: sealed bytes carry no image signature and their byte
// distribution cannot be told from random by a chi-square test.
func TestLooksRandom(t *testing.T) {
	jpeg := append([]byte{0xFF, 0xD8, 0xFF, 0xE0}, bytes.Repeat([]byte("JFIF structured, compressible image data "), 20000)...)
	c := sealBytes(t, jpeg, testKey(5), 1<<20)
	body := c[HeaderSize:]
	for _, sig := range [][]byte{{0xFF, 0xD8, 0xFF}, []byte("\x89PNG"), []byte("JFIF"), []byte("Exif")} {
		if bytes.Contains(body, sig) && len(sig) > 3 {
			t.Errorf("sealed bytes contain %q", sig)
		}
	}
	if bytes.HasPrefix(c, []byte{0xFF, 0xD8}) {
		t.Error("sealed stream starts like a JPEG")
	}
	var counts [256]float64
	for _, b := range body {
		counts[b]++
	}
	exp := float64(len(body)) / 256
	chi := 0.0
	for _, c := range counts {
		chi += (c - exp) * (c - exp) / exp
	}
	// 255 degrees of freedom: the 0.9999 quantile is about 360.
	if chi > 360 || math.IsNaN(chi) {
		t.Errorf("chi-square of the sealed bytes = %.1f over 255 degrees of freedom: not uniform", chi)
	}
	// The plaintext, for contrast, is far from uniform.
	var pc [256]float64
	for _, b := range jpeg {
		pc[b]++
	}
	pchi, pexp := 0.0, float64(len(jpeg))/256
	for _, c := range pc {
		pchi += (c - pexp) * (c - pexp) / pexp
	}
	if pchi < 10000 {
		t.Fatalf("the test's plaintext has chi-square %.1f: it should be far from uniform", pchi)
	}
}

func TestBadKeysAndSizes(t *testing.T) {
	if _, err := NewWriter(io.Discard, make([]byte, 16)); err == nil {
		t.Error("NewWriter took a 16-byte key")
	}
	if _, err := NewReader(bytes.NewReader(nil), make([]byte, 31)); err == nil {
		t.Error("NewReader took a 31-byte key")
	}
	if _, err := NewReader(bytes.NewReader([]byte("\xFF\xD8\xFF\xE0 a JPEG, not sealed")), testKey(1)); err == nil || errors.Is(err, ErrAuth) {
		t.Errorf("NewReader on a JPEG: %v; want a not-sealed error", err)
	}
	if IsSealed([]byte{0xFF, 0xD8, 0xFF}) {
		t.Error("IsSealed on a JPEG")
	}
	for _, n := range []int64{0, HeaderSize, HeaderSize + 15, HeaderSize + blockSize + 1, HeaderSize + blockSize + 15, HeaderSize + blockSize + tagSize} {
		if p, err := PlainSize(n); err == nil {
			t.Errorf("PlainSize(%d) = %d; no stream has that size", n, p)
		}
	}
}

func TestMessage(t *testing.T) {
	key := testKey(9)
	m, err := SealMessage(key, "purpose", []byte("secret"), []byte("aad"))
	if err != nil {
		t.Fatal(err)
	}
	if got, err := OpenMessage(key, "purpose", m, []byte("aad")); err != nil || string(got) != "secret" {
		t.Fatalf("OpenMessage = %q, %v", got, err)
	}
	again, _ := SealMessage(key, "purpose", []byte("secret"), []byte("aad"))
	if bytes.Equal(m, again) {
		t.Error("two sealings of one message are equal: the nonce is not fresh")
	}
	for name, try := range map[string]func() ([]byte, error){
		"other key":     func() ([]byte, error) { return OpenMessage(testKey(8), "purpose", m, []byte("aad")) },
		"other purpose": func() ([]byte, error) { return OpenMessage(key, "other", m, []byte("aad")) },
		"other aad":     func() ([]byte, error) { return OpenMessage(key, "purpose", m, []byte("aae")) },
		"cut":           func() ([]byte, error) { return OpenMessage(key, "purpose", m[:len(m)-1], []byte("aad")) },
		"empty":         func() ([]byte, error) { return OpenMessage(key, "purpose", nil, []byte("aad")) },
		"flipped": func() ([]byte, error) {
			d := bytes.Clone(m)
			d[len(d)/2] ^= 1
			return OpenMessage(key, "purpose", d, []byte("aad"))
		},
	} {
		if _, err := try(); !errors.Is(err, ErrAuth) {
			t.Errorf("%s: %v, want ErrAuth", name, err)
		}
	}
}

// FuzzOpen opens arbitrary bytes: the readers never panic, and the
// in-order and random-access readers agree on what opens.
func FuzzOpen(f *testing.F) {
	key := testKey(1)
	for _, n := range []int{0, 1, 300} {
		f.Add(sealBytes(f, plaintext(n, 1), key, 1<<20))
	}
	f.Add([]byte("FVSEAL\x01\x10"))
	f.Fuzz(func(t *testing.T, c []byte) {
		seq, serr := openAll(c, key)
		ra, err := NewReaderAt(bytes.NewReader(c), int64(len(c)), key)
		if err != nil {
			if serr == nil {
				t.Fatalf("Reader opened %d bytes, NewReaderAt failed: %v", len(seq), err)
			}
			return
		}
		got := make([]byte, ra.Size())
		n, rerr := ra.ReadAt(got, 0)
		if rerr == io.EOF && n == len(got) {
			rerr = nil
		}
		if (serr == nil) != (rerr == nil) || (serr == nil && !bytes.Equal(seq, got)) {
			t.Fatalf("Reader: %d bytes, %v; ReaderAt: %d bytes, %v", len(seq), serr, n, rerr)
		}
	})
}

func BenchmarkSeal(b *testing.B) {
	p := plaintext(4<<20, 1)
	key := testKey(1)
	b.SetBytes(int64(len(p)))
	for b.Loop() {
		w, _ := NewWriter(io.Discard, key)
		w.Write(p)
		w.Close()
	}
}

func BenchmarkOpen(b *testing.B) {
	p := plaintext(4<<20, 1)
	key := testKey(1)
	c := sealBytes(b, p, key, 1<<20)
	b.SetBytes(int64(len(p)))
	for b.Loop() {
		r, _ := NewReader(bytes.NewReader(c), key)
		io.Copy(io.Discard, r)
	}
}

// TestMessageSealer: a MessageSealer's messages are SealMessage's: each
// opens the other's, bound to the same purpose and aad.
func TestMessageSealer(t *testing.T) {
	key, err := NewDataKey()
	if err != nil {
		t.Fatal(err)
	}
	m, err := NewMessageSealer(key, "test purpose")
	if err != nil {
		t.Fatal(err)
	}
	a, err := m.Seal([]byte("hello"), []byte("aad"))
	if err != nil {
		t.Fatal(err)
	}
	if got, err := OpenMessage(key, "test purpose", a, []byte("aad")); err != nil || string(got) != "hello" {
		t.Fatalf("OpenMessage of a sealer's message = %q, %v", got, err)
	}
	b, err := SealMessage(key, "test purpose", []byte("world"), []byte("aad"))
	if err != nil {
		t.Fatal(err)
	}
	if got, err := m.Open([]byte("> "), b, []byte("aad")); err != nil || string(got) != "> world" {
		t.Fatalf("sealer's Open of SealMessage's = %q, %v", got, err)
	}
	if _, err := m.Open(nil, b, []byte("other aad")); err != ErrAuth {
		t.Fatalf("Open with another aad = %v, want ErrAuth", err)
	}
	other, _ := NewMessageSealer(key, "other purpose")
	if _, err := other.Open(nil, b, []byte("aad")); err != ErrAuth {
		t.Fatalf("Open for another purpose = %v, want ErrAuth", err)
	}
	if _, err := m.Open(nil, b[:10], []byte("aad")); err != ErrAuth {
		t.Fatalf("Open of a truncated message = %v, want ErrAuth", err)
	}
}
