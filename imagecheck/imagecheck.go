// Package imagecheck tells, from the bytes alone and as they stream past,
// whether an upload is a JPEG or PNG image within FaceVault's bounds.
//
// A Checker is an io.Writer placed in the upload stream. It reads the magic
// bytes, decodes the image header (image/jpeg and image/png DecodeConfig) on
// a pipe as the bytes arrive, and fails the write the moment a bound is
// crossed: not a JPEG or PNG, more bytes than allowed, or more pixels than
// allowed. Pixels are not decoded here.
package imagecheck

import (
	"bytes"
	"errors"
	"fmt"
	"image"
	"image/jpeg"
	"image/png"
	"io"
)

// Formats a Checker recognises.
const (
	JPEG = "jpeg"
	PNG  = "png"
)

var (
	magicJPEG = []byte{0xFF, 0xD8, 0xFF}
	magicPNG  = []byte{0x89, 'P', 'N', 'G', '\r', '\n', 0x1A, '\n'}
)

// Limits bound what a Checker accepts.
type Limits struct {
	MinBytes, MaxBytes  int64 // inclusive bounds on the image size in bytes
	MaxWidth, MaxHeight int   // inclusive bounds on each dimension in pixels
	MaxPixels           int64 // inclusive bound on width × height
}

// DefaultLimits are the bounds of docs/contract.md section 6: 34 KB to 4 MB
// (1024-based), at most 10,000 pixels a side and 50 megapixels.
func DefaultLimits() Limits {
	return Limits{
		MinBytes:  34 << 10,
		MaxBytes:  4 << 20,
		MaxWidth:  10_000,
		MaxHeight: 10_000,
		MaxPixels: 50_000_000,
	}
}

// Reasons an image is refused.
const (
	ReasonFormat = "format" // not a JPEG or PNG, or a header that does not decode
	ReasonSize   = "size"   // byte size out of bounds
	ReasonPixels = "pixels" // dimensions out of bounds
)

// Error is an image refused by a Checker. Its message is fit to show the
// uploader.
type Error struct {
	Reason  string
	Message string
}

func (e *Error) Error() string { return "imagecheck: " + e.Message }

// Info describes an accepted image.
type Info struct {
	Format        string // JPEG or PNG
	Width, Height int
	Size          int64
}

type result struct {
	cfg image.Config
	err error
}

// Checker inspects an image as it is written. Use New, write the bytes, then
// call Finish (or Close to abandon it).
type Checker struct {
	limits Limits
	n      int64
	head   [8]byte
	format string
	pw     *io.PipeWriter
	res    chan result
	cfg    *image.Config // set once the header has been decoded
	err    error         // sticky
}

// New returns a Checker enforcing l.
func New(l Limits) *Checker { return &Checker{limits: l} }

func (c *Checker) sizeError() *Error {
	return &Error{Reason: ReasonSize, Message: fmt.Sprintf("Image file size should be between %s and %s",
		formatBytes(c.limits.MinBytes), formatBytes(c.limits.MaxBytes))}
}

func formatBytes(n int64) string {
	switch {
	case n >= 1<<20 && n%(1<<20) == 0:
		return fmt.Sprintf("%dMB", n>>20)
	case n >= 1<<10 && n%(1<<10) == 0:
		return fmt.Sprintf("%dKB", n>>10)
	}
	return fmt.Sprintf("%d bytes", n)
}

func formatError() *Error {
	return &Error{Reason: ReasonFormat, Message: "The image must be a JPG or PNG file"}
}

// Write inspects p. It returns an *Error as soon as the bytes so far can no
// longer be an acceptable image.
func (c *Checker) Write(p []byte) (int, error) {
	if c.err != nil {
		return 0, c.err
	}
	if c.n+int64(len(p)) > c.limits.MaxBytes {
		return 0, c.fail(c.sizeError())
	}
	rest := p
	if c.format == "" {
		// Fewer than 8 bytes seen so far: gather the magic.
		k := copy(c.head[c.n:], p)
		c.n += int64(k)
		rest = p[k:]
		if err := c.sniff(); err != nil {
			return 0, err
		}
		if c.format != "" {
			c.feed(c.head[:c.n])
		}
	}
	c.feed(rest)
	c.n += int64(len(rest))
	if c.err != nil {
		return 0, c.err
	}
	return len(p), nil
}

// sniff decides the format once enough bytes are in head.
func (c *Checker) sniff() error {
	h := c.head[:min(c.n, 8)]
	switch {
	case len(h) >= len(magicJPEG) && bytes.Equal(h[:len(magicJPEG)], magicJPEG):
		c.start(JPEG, jpeg.DecodeConfig)
	case len(h) == len(magicPNG) && bytes.Equal(h, magicPNG):
		c.start(PNG, png.DecodeConfig)
	case !bytes.HasPrefix(magicPNG, h) && !bytes.HasPrefix(magicJPEG, h):
		return c.fail(formatError())
	}
	return nil
}

// start begins decoding the header on a pipe.
func (c *Checker) start(format string, decode func(io.Reader) (image.Config, error)) {
	c.format = format
	pr, pw := io.Pipe()
	c.pw = pw
	c.res = make(chan result, 1)
	go func() {
		cfg, err := decode(pr)
		pr.CloseWithError(errDone)
		c.res <- result{cfg, err}
	}()
}

var errDone = errors.New("imagecheck: header decoded")

// feed passes bytes to the header decoder until it has finished.
func (c *Checker) feed(p []byte) {
	if c.pw == nil || len(p) == 0 {
		return
	}
	if _, err := c.pw.Write(p); err != nil {
		c.check(<-c.res)
		return
	}
	select {
	case r := <-c.res:
		c.check(r)
	default:
	}
}

// check takes the decoder's result and applies the pixel bounds.
func (c *Checker) check(r result) {
	c.pw = nil
	if r.err != nil {
		name := map[string]string{JPEG: "JPG", PNG: "PNG"}[c.format]
		c.fail(&Error{Reason: ReasonFormat, Message: fmt.Sprintf("The image is not a valid %s file: its header could not be read", name)})
		return
	}
	c.cfg = &r.cfg
	l := c.limits
	if r.cfg.Width <= 0 || r.cfg.Height <= 0 || r.cfg.Width > l.MaxWidth || r.cfg.Height > l.MaxHeight ||
		int64(r.cfg.Width)*int64(r.cfg.Height) > l.MaxPixels {
		c.fail(&Error{Reason: ReasonPixels, Message: fmt.Sprintf(
			"Image dimensions of %dx%d pixels are out of bounds: each side must be at most %d pixels and the image at most %d megapixels",
			r.cfg.Width, r.cfg.Height, max(l.MaxWidth, l.MaxHeight), l.MaxPixels/1_000_000)})
	}
}

func (c *Checker) fail(err *Error) error {
	if c.err == nil {
		c.err = err
	}
	c.Close()
	return c.err
}

// Finish ends the stream and reports what the image is, or why it is
// refused.
func (c *Checker) Finish() (Info, error) {
	if c.err != nil {
		return Info{}, c.err
	}
	if c.format == "" {
		return Info{}, c.fail(formatError())
	}
	if c.pw != nil {
		c.pw.Close() // the decoder sees EOF
		c.check(<-c.res)
		if c.err != nil {
			return Info{}, c.err
		}
	}
	if c.n < c.limits.MinBytes {
		return Info{}, c.fail(c.sizeError())
	}
	return Info{Format: c.format, Width: c.cfg.Width, Height: c.cfg.Height, Size: c.n}, nil
}

// Close abandons the check and releases the decoder. It is safe to call
// more than once and after Finish.
func (c *Checker) Close() {
	if c.pw != nil {
		c.pw.CloseWithError(errDone)
		<-c.res
		c.pw = nil
	}
}
