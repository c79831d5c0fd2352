package client_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"testing"

	"github.com/facevault/facevault/client"
)

// sink is a server that reads uploads without keeping them and answers
// downloads from one prepared body, so that what a transfer allocates is the
// client's (and net/http's) alone.
func sink(tb testing.TB, img []byte) string {
	sum := sha256.Sum256(img)
	download := []byte(`{"fileName":"selfie_1.jpg","contentType":"images/jpg","sha256":"` + hex.EncodeToString(sum[:]) +
		`","data":"` + base64.StdEncoding.EncodeToString(img) + `"}`)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		if strings.HasSuffix(r.URL.Path, "/download") {
			w.Header().Set("Content-Length", fmt.Sprint(len(download)))
			w.Write(download)
			return
		}
		n, _ := io.Copy(io.Discard, r.Body)
		fmt.Fprintf(w, `{"id":"p1","clientId":"c1","contentType":"images/jpg","size":%d}`, n)
	}))
	tb.Cleanup(srv.Close)
	return srv.URL
}

// allocated returns the bytes allocated while f ran.
func allocated(f func()) uint64 {
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	f()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

// TestStreamingMemory: uploading and downloading a 4 MB image allocates far
// less than the image, let alone its 5.6 MB of base64: neither is ever held
// whole.
func TestStreamingMemory(t *testing.T) {
	img := jpegOf(client.MaxImageSize)
	c, err := client.New(sink(t, img), "k")
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	upload := func() {
		p, err := c.UploadLivePhoto(ctx, &client.UploadParams{ClientID: "c1", Image: bytes.NewReader(img)})
		if err != nil || p.Size != int64(base64.StdEncoding.EncodedLen(len(img))+len(`{"clientId":"c1","data":""}`)) {
			t.Fatalf("upload: %+v, %v", p, err)
		}
	}
	download := func() {
		d, err := c.DownloadLivePhoto(ctx, "p1", io.Discard)
		if err != nil || !d.Verified || d.Size != int64(len(img)) {
			t.Fatalf("download: %+v, %v", d, err)
		}
	}
	upload() // warm the connection up
	download()
	const bound = 1 << 20
	b64 := base64.StdEncoding.EncodedLen(len(img))
	for _, tc := range []struct {
		name string
		f    func()
	}{{"upload", upload}, {"download", download}} {
		n := allocated(tc.f)
		t.Logf("%s of a %d-byte image (%d bytes of base64): %d bytes allocated (client, net/http and the sink server together)", tc.name, len(img), b64, n)
		if n > bound {
			t.Errorf("%s allocated %d bytes, want under %d: the image or its base64 is held whole", tc.name, n, bound)
		}
	}
}

// BenchmarkUpload4MB and BenchmarkDownload4MB report what a transfer of a
// 4 MB image allocates (B/op): a small fraction of the image.
func BenchmarkUpload4MB(b *testing.B) {
	img := jpegOf(client.MaxImageSize)
	c, _ := client.New(sink(b, img), "k")
	b.SetBytes(int64(len(img)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := c.UploadLivePhoto(context.Background(), &client.UploadParams{ClientID: "c1", Image: bytes.NewReader(img)}); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkDownload4MB(b *testing.B) {
	img := jpegOf(client.MaxImageSize)
	c, _ := client.New(sink(b, img), "k")
	b.SetBytes(int64(len(img)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := c.DownloadLivePhoto(context.Background(), "p1", io.Discard); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkRoundTrip4MB uploads a 4 MB image to a real server and downloads
// it back; B/op counts the server's allocations too.
func BenchmarkRoundTrip4MB(b *testing.B) {
	e := newEnv(b)
	c := e.client(b, "")
	jane := newPerson(b, c, "Jane")
	img := jpegOf(client.MaxImageSize)
	ctx := context.Background()
	b.SetBytes(int64(len(img)))
	b.ReportAllocs()
	for b.Loop() {
		p, err := c.UploadLivePhoto(ctx, &client.UploadParams{ClientID: jane.ID, Image: bytes.NewReader(img), PerformLivenessCheck: client.Bool(false)})
		if err != nil {
			b.Fatal(err)
		}
		if _, err := c.DownloadLivePhoto(ctx, p.ID, io.Discard); err != nil {
			b.Fatal(err)
		}
	}
}
