package http_test

import (
	"bytes"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"

	fvhttp "github.com/facevault/facevault/http"
	"github.com/facevault/facevault/internal/testimage"
)

// uploadBody returns the JSON body of a 4 MiB JPEG upload: the largest
// legal image, about 5.6 MB of base64.
func uploadBody(clientID string) []byte {
	img := testimage.JPEGSize(4<<20, 42)
	return []byte(`{"clientId":"` + clientID + `","data":"` + b64(img) + `","performLivenessCheck":true}`)
}

// BenchmarkUpload measures the whole upload path over real HTTP to the
// SQLite + fsblob server: the client sends the JSON body, the server
// streams, decodes, checks, hashes and fsyncs the image and commits the
// record. Throughput is in bytes of image. The allocations reported
// include the client side (net/http's transport); see
// BenchmarkUploadHandler for the server alone.
func BenchmarkUpload(b *testing.B) {
	for _, be := range backends {
		b.Run(be.name, func(b *testing.B) {
			env := newTestEnv(b, be)
			clientID := env.newClientID(b, env.KeyA)
			body := uploadBody(clientID)
			b.SetBytes(4 << 20)
			b.ReportAllocs()
			for b.Loop() {
				req, err := http.NewRequest("POST", env.URL+"/v1/livePhotos", bytes.NewReader(body))
				if err != nil {
					b.Fatal(err)
				}
				req.Header.Set("Content-Type", "application/json")
				req.Header.Set("Authorization", env.KeyA)
				res, err := env.client.Do(req)
				if err != nil {
					b.Fatal(err)
				}
				io.Copy(io.Discard, res.Body)
				res.Body.Close()
				if res.StatusCode != http.StatusOK {
					b.Fatalf("status %d", res.StatusCode)
				}
			}
		})
	}
}

// BenchmarkUploadHandler calls the API handler directly, with no network
// and no client, so that the bytes allocated per 4 MiB upload are the
// server's own (the request and recorder add well under a kilobyte).
func BenchmarkUploadHandler(b *testing.B) {
	for _, be := range backends {
		b.Run(be.name, func(b *testing.B) {
			env := newTestEnv(b, be)
			clientID := env.newClientID(b, env.KeyA)
			body := uploadBody(clientID)
			h := fvhttp.NewServer(env.vault, env.store, slog.New(slog.DiscardHandler), fvhttp.Config{})
			rd := bytes.NewReader(body)
			b.SetBytes(4 << 20)
			b.ReportAllocs()
			for b.Loop() {
				rd.Reset(body)
				req := httptest.NewRequest("POST", "/v1/livePhotos", rd)
				req.Header.Set("Content-Type", "application/json")
				req.Header.Set("Authorization", env.KeyA)
				w := httptest.NewRecorder()
				h.ServeHTTP(w, req)
				if w.Code != http.StatusOK {
					b.Fatalf("status %d: %s", w.Code, w.Body)
				}
			}
		})
	}
}
