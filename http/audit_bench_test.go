package http_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/facevault/facevault"
)

// noAudit is a record store whose audit log drops every entry: the server
// as it was before the audit log, for comparison.
type noAudit struct{ facevault.Store }

func (noAudit) AppendAudit(context.Context, time.Time, ...*facevault.AuditEntry) error { return nil }

// BenchmarkAuditCost measures what recording every access costs, with the
// audit log on (as served) and off (entries dropped), on each back-end
// pair: uploads of a 40 KiB JPEG one at a time (no liveness check), and
// gets of a client from 8 goroutines at once. Each reports req/s.
func BenchmarkAuditCost(b *testing.B) {
	for _, be := range backends {
		for _, audit := range []bool{false, true} {
			opts := envOptions{}
			if !audit {
				opts.store = func(s facevault.Store) facevault.Store { return noAudit{s} }
			}
			client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
			do := func(b *testing.B, env *testEnv, method, path string, body []byte) {
				var r io.Reader
				if body != nil {
					r = bytes.NewReader(body)
				}
				req, err := http.NewRequest(method, env.URL+path, r)
				if err != nil {
					b.Fatal(err)
				}
				req.Header.Set("Authorization", env.KeyA)
				req.Header.Set("Content-Type", "application/json")
				res, err := client.Do(req)
				if err != nil {
					b.Fatal(err)
				}
				io.Copy(io.Discard, res.Body)
				res.Body.Close()
				if res.StatusCode != http.StatusOK {
					b.Fatalf("%s %s: status %d", method, path, res.StatusCode)
				}
			}
			b.Run(fmt.Sprintf("%s/upload/audit=%v", be.name, audit), func(b *testing.B) {
				env := newTestEnvWith(b, be, opts)
				body := uploadJSON(env.newClientID(b, env.KeyA), images().jpeg)
				b.SetBytes(int64(len(images().jpeg)))
				for b.Loop() {
					do(b, env, "POST", "/v1/livePhotos", body)
				}
				b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "req/s")
			})
			b.Run(fmt.Sprintf("%s/get/audit=%v", be.name, audit), func(b *testing.B) {
				env := newTestEnvWith(b, be, opts)
				path := "/v1/clients/" + env.newClientID(b, env.KeyA)
				b.SetParallelism(4) // 8 goroutines on 2 cores
				b.ResetTimer()
				b.RunParallel(func(pb *testing.PB) {
					for pb.Next() {
						do(b, env, "GET", path, nil)
					}
				})
				b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "req/s")
			})
		}
	}
}
