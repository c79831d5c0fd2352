package facevault

import (
	"bytes"
	"errors"
	"io"
	"runtime"
	"testing"
	"testing/iotest"
	"time"

	"github.com/facevault/facevault/seal"
)

type closeCounter struct{ n int }

func (c *closeCounter) Close() error { c.n++; return nil }

// TestOpenAhead: the read-ahead reader gives exactly the bytes of its
// source, by Read in any sizes and by WriteTo, passes the source's error
// on, and stops its goroutine when closed part-way.
func TestOpenAhead(t *testing.T) {
	data := bytes.Repeat([]byte("0123456789abcdef"), 3*seal.ChunkSize/16+77)
	for name, read := range map[string]func(io.Reader) ([]byte, error){
		"ReadAll": io.ReadAll,
		"OneByte": func(r io.Reader) ([]byte, error) { return io.ReadAll(iotest.OneByteReader(r)) },
		"WriteTo": func(r io.Reader) ([]byte, error) {
			var b bytes.Buffer
			_, err := r.(io.WriterTo).WriteTo(&b)
			return b.Bytes(), err
		},
	} {
		t.Run(name, func(t *testing.T) {
			c := &closeCounter{}
			r := openAhead(iotest.HalfReader(bytes.NewReader(data)), c)
			got, err := read(r)
			if err != nil || !bytes.Equal(got, data) {
				t.Fatalf("read %d bytes, %v; want the %d of the source", len(got), err, len(data))
			}
			if err := r.Close(); err != nil || c.n != 1 {
				t.Fatalf("Close = %v, closed the blob %d times", err, c.n)
			}
			r.Close()
			if c.n != 1 {
				t.Errorf("a second Close closed the blob again")
			}
		})
	}
	t.Run("Error", func(t *testing.T) {
		boom := errors.New("boom")
		src := io.MultiReader(bytes.NewReader(data[:seal.ChunkSize+10]), iotest.ErrReader(boom))
		got, err := io.ReadAll(openAhead(src, &closeCounter{}))
		if !errors.Is(err, boom) || !bytes.Equal(got, data[:seal.ChunkSize+10]) {
			t.Fatalf("read %d bytes, %v; want every byte before the error, then it", len(got), err)
		}
	})
	t.Run("ClosedPartWay", func(t *testing.T) {
		before := runtime.NumGoroutine()
		for range 50 {
			r := openAhead(bytes.NewReader(data), &closeCounter{})
			buf := make([]byte, 100)
			if _, err := r.Read(buf); err != nil {
				t.Fatal(err)
			}
			r.Close()
		}
		deadline := time.Now().Add(5 * time.Second)
		for runtime.NumGoroutine() > before+2 && time.Now().Before(deadline) {
			time.Sleep(10 * time.Millisecond)
		}
		if n := runtime.NumGoroutine(); n > before+2 {
			t.Errorf("%d goroutines after closing 50 readers part-way, %d before: they leak", n, before)
		}
	})
}
