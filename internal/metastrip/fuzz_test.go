package metastrip

import (
	"bytes"
	"encoding/binary"
	"errors"
	"hash/fnv"
	"image"
	"image/jpeg"
	"image/png"
	"reflect"
	"testing"

	"github.com/facevault/facevault/internal/testimage"
)

// FuzzWriter strips any bytes and checks that the Writer never panics;
// fails, if at all, with an *Error; gives the same output and error in
// writes of any size; never writes more than MaxAdded bytes beyond its
// input; writes nothing but the input's bytes, in order, and at most one
// orientation block; gives an output that strips to itself; and, where the
// input decodes (image/jpeg, image/png), gives an output that decodes to
// the same pixels.
func FuzzWriter(f *testing.F) {
	goJPEG := testimage.JPEG(16, 16, 1)
	pngC := splitPNG(f, testimage.PNG(8, 8, 2))
	prog := encodeJPEG(f, testimage.JPEGOptions{Color: testimage.JPEGYCbCr, Quality: 50, Progressive: true})
	rst := encodeJPEG(f, testimage.JPEGOptions{Color: testimage.JPEGYCbCr, Quality: 50, H: 2, V: 1, Restart: 2})
	jpegIn, _ := assemble(JPEG, kept(goJPEG[:2]), part{b: phoneExif(6)}, dropped(xmpSeg), dropped(comSeg),
		kept(iccSeg), kept(goJPEG[2:]), dropped([]byte("trailer")))
	pngIn, _ := assemble(PNG, kept(pngC[0]), kept(pngC[1]),
		part{b: chunk("eXIf", tiff(binary.LittleEndian, 8, phoneEntries(binary.LittleEndian, 3)))},
		dropped(chunk("tEXt", []byte("a\x00b"))), kept(pngC[2]), kept(pngC[3]), dropped([]byte("trailer")))
	f.Add(jpegIn)
	f.Add(pngIn)
	f.Add(prog[:len(prog)/2])
	f.Add(append(append([]byte{0xFF, 0xD8}, comSeg...), rst[2:]...))
	f.Add(append([]byte{0xFF, 0xD8, 0xFF, 0xFF, 0xD3, 0xFF, 0x01}, goJPEG[2:]...))
	f.Add([]byte{0xFF, 0xD8, 0xFF, 0xE1, 0x00, 0x01})
	f.Add([]byte{0xFF, 0xD8, 0x00})
	f.Add([]byte("\x89PNG\r\n\x1a\n\xff\xff\xff\xffIDAT"))
	f.Add([]byte("GIF89a"))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, in []byte) {
		out, err := strip(in, 0)
		var e *Error
		if err != nil && !errors.As(err, &e) {
			t.Fatalf("error %v (%T) is not an *Error", err, err)
		}
		if e != nil && (e.Offset < 0 || e.Offset > int64(len(in))) {
			t.Fatalf("error offset %d outside the %d-byte input", e.Offset, len(in))
		}
		// Writes of sizes drawn from the input itself.
		h := fnv.New64a()
		h.Write(in)
		sizes := h.Sum64()
		var chunked bytes.Buffer
		w := NewWriter(&chunked)
		var cerr error
		for i := 0; i < len(in) && cerr == nil; {
			n := 1 + int(sizes%13)
			sizes = sizes/13 + 1
			_, cerr = w.Write(in[i:min(i+n, len(in))])
			i += n
		}
		if cerr == nil {
			cerr = w.Close()
		}
		if !reflect.DeepEqual(cerr, err) || (err == nil && !bytes.Equal(chunked.Bytes(), out)) {
			t.Fatalf("in one write: %d bytes, %v; in small writes: %d bytes, %v", len(out), err, chunked.Len(), cerr)
		}
		if err != nil {
			return
		}
		if len(out) > len(in)+MaxAdded {
			t.Fatalf("%d bytes in, %d out: more than MaxAdded (%d) added", len(in), len(out), MaxAdded)
		}
		if !fromInput(in, out) {
			t.Fatalf("the output holds bytes that are not the input's, in order, beyond one orientation block")
		}
		again, err := strip(out, 0)
		if err != nil || !bytes.Equal(again, out) {
			t.Fatalf("stripping the output again: %d bytes, %v; want the same %d bytes", len(again), err, len(out))
		}
		samePixelsIfDecodes(t, in, out)
	})
}

// fromInput reports whether out is a subsequence of in, once at most one
// orientation segment or chunk is taken out of it.
func fromInput(in, out []byte) bool {
	if isSubsequence(out, in) {
		return true
	}
	for o := 1; o <= 8; o++ {
		for _, block := range [][]byte{JPEGOrientationSegment(o), PNGOrientationChunk(o)} {
			for i := bytes.Index(out, block); i >= 0; {
				rest := append(bytes.Clone(out[:i]), out[i+len(block):]...)
				if isSubsequence(rest, in) {
					return true
				}
				j := bytes.Index(out[i+1:], block)
				if j < 0 {
					break
				}
				i += 1 + j
			}
		}
	}
	return false
}

func isSubsequence(sub, s []byte) bool {
	for _, c := range sub {
		i := bytes.IndexByte(s, c)
		if i < 0 {
			return false
		}
		s = s[i+1:]
	}
	return true
}

// samePixelsIfDecodes checks that out decodes to in's pixels when in
// decodes, for images small enough to decode quickly.
func samePixelsIfDecodes(t *testing.T, in, out []byte) {
	for _, c := range []struct {
		config func([]byte) (image.Config, error)
		decode func([]byte) (image.Image, error)
	}{
		{func(b []byte) (image.Config, error) { return jpeg.DecodeConfig(bytes.NewReader(b)) },
			func(b []byte) (image.Image, error) { return jpeg.Decode(bytes.NewReader(b)) }},
		{func(b []byte) (image.Config, error) { return png.DecodeConfig(bytes.NewReader(b)) },
			func(b []byte) (image.Image, error) { return png.Decode(bytes.NewReader(b)) }},
	} {
		cfg, err := c.config(in)
		if err != nil || cfg.Width*cfg.Height > 1<<16 {
			continue
		}
		a, err := c.decode(in)
		if err != nil {
			continue
		}
		b, err := c.decode(out)
		if err != nil {
			t.Fatalf("the input decodes, the output does not: %v", err)
		}
		if !reflect.DeepEqual(a, b) {
			t.Fatalf("the output decodes to other pixels than the input")
		}
	}
}
