package http_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"testing"
	"time"

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

// BenchmarkDeleteClient deletes a client with 600 photos while another
// account uploads without pause, and reports how long the delete took to
// answer (delete-ms), how long the background purge took to destroy every
// image (purge-s), and the other account's upload latency while the purge
// ran: median and maximum (upload-p50-ms, upload-max-ms), beside its median
// before the delete (upload-before-p50-ms).
func BenchmarkDeleteClient(b *testing.B) {
	const photos = 600
	for _, be := range backends {
		b.Run(be.name, func(b *testing.B) {
			env := newTestEnv(b, be)
			otherClient := env.newClientID(b, env.KeyB)
			img := testimage.JPEGSize(36<<10, 7)
			other := []byte(`{"clientId":"` + otherClient + `","data":"` + b64(img) + `","performLivenessCheck":false}`)
			upload := func(key string, body []byte) time.Duration {
				start := time.Now()
				req, err := http.NewRequest("POST", env.URL+"/v1/livePhotos", bytes.NewReader(body))
				if err != nil {
					b.Fatal(err)
				}
				req.Header.Set("Content-Type", "application/json")
				req.Header.Set("Authorization", key)
				res, err := env.client.Do(req)
				if err != nil {
					b.Fatal(err)
				}
				io.Copy(io.Discard, res.Body)
				res.Body.Close()
				if res.StatusCode != http.StatusOK {
					b.Fatalf("upload: %d", res.StatusCode)
				}
				return time.Since(start)
			}
			var deleteMS, purgeS, p50, pmax, before []float64
			for b.Loop() {
				b.StopTimer()
				doomed := env.newClientID(b, env.KeyA)
				body := []byte(`{"clientId":"` + doomed + `","data":"` + b64(img) + `","performLivenessCheck":false}`)
				var wg sync.WaitGroup
				work := make(chan struct{})
				for range 4 {
					wg.Go(func() {
						for range work {
							upload(env.KeyA, body)
						}
					})
				}
				for range photos {
					work <- struct{}{}
				}
				close(work)
				wg.Wait()
				var base []time.Duration
				for range 20 {
					base = append(base, upload(env.KeyB, other))
				}
				b.StartTimer()

				// The other account uploads all along.
				stop := make(chan struct{})
				lat := make(chan []time.Duration, 1)
				go func() {
					var l []time.Duration
					for {
						select {
						case <-stop:
							lat <- l
							return
						default:
						}
						l = append(l, upload(env.KeyB, other))
					}
				}()
				start := time.Now()
				r := env.do(b, "DELETE", "/v1/clients/"+doomed, env.KeyA, nil)
				deleted := time.Since(start)
				wantStatus(b, r, http.StatusNoContent)
				env.waitPurged(b)
				purged := time.Since(start)
				close(stop)
				l := <-lat
				deleteMS = append(deleteMS, float64(deleted.Microseconds())/1000)
				purgeS = append(purgeS, purged.Seconds())
				slices.Sort(l)
				slices.Sort(base)
				p50 = append(p50, float64(l[len(l)/2].Microseconds())/1000)
				pmax = append(pmax, float64(l[len(l)-1].Microseconds())/1000)
				before = append(before, float64(base[len(base)/2].Microseconds())/1000)
			}
			mean := func(v []float64) float64 {
				s := 0.0
				for _, x := range v {
					s += x
				}
				return s / float64(len(v))
			}
			b.ReportMetric(mean(deleteMS), "delete-ms")
			b.ReportMetric(mean(purgeS), "purge-s")
			b.ReportMetric(mean(before), "upload-before-p50-ms")
			b.ReportMetric(mean(p50), "upload-p50-ms")
			b.ReportMetric(mean(pmax), "upload-max-ms")
			b.ReportMetric(0, "ns/op")
		})
	}
}

// BenchmarkUploadFairness measures the latency of account B's uploads (a
// 40 KiB JPEG, one at a time) on a server with the default configuration:
// alone (slowA=0), and while account A runs 16 uploads of a 1 MiB JPEG
// whose bodies trickle in just above the minimum rate, 20 KiB/s against
// 16 KiB/s (slowA=16). It reports B's p50 and p99 in milliseconds, so the
// two print side by side, and slowA-answered: how many of A's uploads were
// answered before B's were all done (0: they were all still arriving).
// Before issue 7, B's uploads waited 10s for a slot and got 429.
func BenchmarkUploadFairness(b *testing.B) {
	imgA := testimage.JPEGSize(1<<20, 77) // 1.4 MB of body: over a minute at 20 KiB/s
	for _, be := range backends {
		for _, slow := range []int{0, 16} {
			b.Run(fmt.Sprintf("%s/slowA=%d", be.name, slow), func(b *testing.B) {
				env := newTestEnv(b, be)
				clientA := env.newClientID(b, env.KeyA)
				clientB := env.newClientID(b, env.KeyB)
				bodyA := uploadJSON(clientA, imgA)
				stop := make(chan struct{})
				conns := make([]*rawConn, slow)
				sent := make([]<-chan error, slow)
				for i := range conns {
					conns[i] = env.dial(b, "")
					conns[i].mustWrite(b, head("POST", "/v1/livePhotos", env.KeyA, len(bodyA)))
					sent[i] = conns[i].trickle(bodyA, 2<<10, 100*time.Millisecond, stop)
				}
				waitUntil(b, "A's slow uploads to be receiving", func() bool { return len(env.tempObjects(b)) == slow })

				bodyB := uploadJSON(clientB, images().jpeg)
				var lat []time.Duration
				for b.Loop() {
					req, err := env.newRequest("POST", "/v1/livePhotos", env.KeyB, bodyB)
					if err != nil {
						b.Fatal(err)
					}
					start := time.Now()
					res, err := env.client.Do(req)
					if err != nil {
						b.Fatal(err)
					}
					io.Copy(io.Discard, res.Body)
					res.Body.Close()
					lat = append(lat, time.Since(start))
					if res.StatusCode != http.StatusOK {
						b.Fatalf("B's upload: status %d", res.StatusCode)
					}
				}
				answered := 0
				for _, c := range conns {
					if c.hasAnswered() {
						answered++
					}
				}
				slices.Sort(lat)
				pct := func(p float64) float64 {
					return float64(lat[min(len(lat)-1, int(p*float64(len(lat))))].Microseconds()) / 1000
				}
				b.ReportMetric(pct(0.50), "p50-ms")
				b.ReportMetric(pct(0.99), "p99-ms")
				b.ReportMetric(float64(answered), "slowA-answered")

				close(stop)
				for i, c := range conns {
					if err := <-sent[i]; err != nil {
						b.Fatalf("send the rest of A's upload %d: %v", i, err)
					}
					if r := c.answer(b); r.Status != http.StatusOK {
						b.Fatalf("A's upload %d: %d %s", i, r.Status, r.Body)
					}
				}
			})
		}
	}
}

// BenchmarkSealing measures what encryption at rest costs: uploads and
// downloads of a 4 MiB image over HTTP, with the images sealed (as serve
// runs) and stored as they are (a vault without keys), side by side. Run
// with -bench Sealing -benchtime 40x -count 3 in ./scripts/test bench.
func BenchmarkSealing(b *testing.B) {
	for _, be := range backends {
		for _, sealed := range []bool{false, true} {
			name := be.name + "/plain"
			if sealed {
				name = be.name + "/sealed"
			}
			b.Run(name, func(b *testing.B) {
				env := newTestEnv(b, be)
				if !sealed {
					env.vault.Keys = nil
				}
				clientID := env.newClientID(b, env.KeyA)
				// No liveness check: what is measured is the storage path.
				body := []byte(`{"clientId":"` + clientID + `","data":"` + b64(testimage.JPEGSize(4<<20, 42)) + `","performLivenessCheck":false}`)
				post := func() string {
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
					defer res.Body.Close()
					var photo struct{ ID string }
					if err := json.NewDecoder(res.Body).Decode(&photo); err != nil || res.StatusCode != http.StatusOK {
						b.Fatalf("upload: status %d, %v", res.StatusCode, err)
					}
					return photo.ID
				}
				b.Run("upload", func(b *testing.B) {
					b.SetBytes(4 << 20)
					for b.Loop() {
						post()
					}
				})
				id := post()
				b.Run("download", func(b *testing.B) {
					b.SetBytes(4 << 20)
					for b.Loop() {
						req, err := http.NewRequest("GET", env.URL+"/v1/livePhotos/"+id+"/download", nil)
						if err != nil {
							b.Fatal(err)
						}
						req.Header.Set("Authorization", env.KeyA)
						res, err := env.client.Do(req)
						if err != nil {
							b.Fatal(err)
						}
						n, _ := io.Copy(io.Discard, res.Body)
						res.Body.Close()
						if res.StatusCode != http.StatusOK || n < 4<<20 {
							b.Fatalf("download: status %d, %d bytes", res.StatusCode, n)
						}
					}
				})
			})
		}
	}
}
