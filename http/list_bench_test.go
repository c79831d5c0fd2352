package http_test

import (
	"context"
	"database/sql"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/facevault/facevault"
	"github.com/facevault/facevault/fsblob"
	fvhttp "github.com/facevault/facevault/http"
	"github.com/facevault/facevault/sqlite"
)

// The list benchmark's data: a million photos in the embedded store, a
// tenth of them (and one) of one client, the rest spread over 10,000 more.
const (
	scalePhotos  = 1_000_000
	scaleClients = 10_000
)

// scaleServer is an API server on a SQLite database loaded with the list
// benchmark's data.
type scaleServer struct {
	url, key    string
	big, medium string // the client with 100,001 photos, and one with about 90
	bigT0       time.Time
}

// newScaleServer loads the data with SQL (a store API call per photo would
// take minutes), with the counts the store keeps set as its writes would,
// then serves the API over it until b ends.
func newScaleServer(b *testing.B) (*scaleServer, error) {
	ctx := context.Background()
	dir := b.TempDir()
	path := filepath.Join(dir, "facevault.db")
	db, err := sqlite.Open(ctx, path)
	if err != nil {
		return nil, err
	}
	b.Cleanup(func() { db.Close() })
	now := time.Now()
	acct, err := db.EnsureAccount(ctx, "scale", now)
	if err != nil {
		return nil, err
	}
	key, rec, err := facevault.NewKey(acct, facevault.ModeTest, now)
	if err != nil {
		return nil, err
	}
	if err := db.CreateKey(ctx, rec); err != nil {
		return nil, err
	}
	raw, err := sql.Open("sqlite", "file:"+path+"?_pragma=busy_timeout(10000)")
	if err != nil {
		return nil, err
	}
	defer raw.Close()
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).UnixMilli()
	start := time.Now()
	tx, err := raw.BeginTx(ctx, nil)
	if err != nil {
		return nil, err
	}
	defer tx.Rollback()
	// Client c has id 'c' followed by c in hex; photo n has id n in hex.
	// Every tenth photo is the big client's (c = 0), one per millisecond
	// from t0; the others go round the other clients.
	if _, err := tx.ExecContext(ctx, `
		WITH RECURSIVE c(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM c WHERE i < ?)
		INSERT INTO clients (id, account_id, mode, type, email, external_id, doc, created_at, updated_at)
		SELECT printf('c%023x', i), ?, 'test', 'person', 'c' || i || '@example.com', '',
			json_object('type', 'person', 'email', 'c' || i || '@example.com',
				'personDetails', json_object('firstName', 'F' || i, 'lastName', 'L' || i)),
			? + i, ? + i
		FROM c`, scaleClients, acct.ID, t0, t0); err != nil {
		return nil, fmt.Errorf("load clients: %w", err)
	}
	if _, err := tx.ExecContext(ctx, `
		WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < ?)
		INSERT INTO live_photos (id, account_id, mode, client_id, content_type, size, width, height, sha256,
			perform_liveness_check, liveness_check, redacted_at, created_at, updated_at)
		SELECT printf('%024x', i), ?, 'test',
			CASE WHEN i % 10 = 0 THEN printf('c%023x', 0) ELSE printf('c%023x', 1 + i % ?) END,
			'images/jpg', 48213, 640, 480, printf('%064x', i), 0, NULL, NULL,
			CASE WHEN i % 10 = 0 THEN ? + i / 10 ELSE ? + i END,
			CASE WHEN i % 10 = 0 THEN ? + i / 10 + i % 7 ELSE ? + i END
		FROM n`, scalePhotos, acct.ID, scaleClients-1, t0, t0, t0, t0); err != nil {
		return nil, fmt.Errorf("load photos: %w", err)
	}
	if _, err := tx.ExecContext(ctx, `
		UPDATE clients SET photo_count = (SELECT count(*) FROM live_photos p
			WHERE p.account_id = clients.account_id AND p.mode = clients.mode AND p.client_id = clients.id)`); err != nil {
		return nil, fmt.Errorf("count photos: %w", err)
	}
	if _, err := tx.ExecContext(ctx, `
		INSERT INTO scope_counts (account_id, mode, clients) VALUES (?, 'test', ?)
		ON CONFLICT (account_id, mode) DO UPDATE SET clients = excluded.clients`, acct.ID, scaleClients+1); err != nil {
		return nil, fmt.Errorf("count clients: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return nil, err
	}
	if _, err := raw.ExecContext(ctx, `ANALYZE`); err != nil {
		return nil, err
	}
	b.Logf("loaded %d clients and %d photos into SQLite in %v", scaleClients+1, scalePhotos, time.Since(start).Round(time.Millisecond))

	blobs, err := fsblob.Open(filepath.Join(dir, "blobs"))
	if err != nil {
		return nil, err
	}
	b.Cleanup(func() { blobs.Close() })
	logger := slog.New(slog.DiscardHandler)
	vault := facevault.NewVault(db, blobs, logger)
	srv := httptest.NewServer(fvhttp.NewServer(vault, db, logger, fvhttp.Config{}))
	b.Cleanup(srv.Close)
	return &scaleServer{
		url: srv.URL, key: key,
		big:    fmt.Sprintf("c%023x", 0),
		medium: fmt.Sprintf("c%023x", 1),
		bigT0:  time.UnixMilli(t0).UTC(),
	}, nil
}

// BenchmarkListLatency measures list requests over HTTP against a million
// photos in the embedded store: the first and a deep page of the client
// with 100,001 photos, with and without filters, a client with 90, and
// pages of the client list. Each reports its latency at the 50th and 99th
// percentile over many requests, and its response size.
func BenchmarkListLatency(b *testing.B) {
	s, err := newScaleServer(b)
	if err != nil {
		b.Fatal(err)
	}
	after := s.bigT0.Add(81_280 * time.Millisecond).Format(time.RFC3339Nano) // leaves 18,720 of the big client's photos
	cases := []struct{ name, path string }{
		{"photos-100k/first", "/v1/livePhotos?clientId=" + s.big},
		{"photos-100k/page-500", "/v1/livePhotos?clientId=" + s.big + "&page=500"},
		{"photos-100k/last", "/v1/livePhotos?clientId=" + s.big + "&page=1001"},
		{"photos-100k/first-1000", "/v1/livePhotos?clientId=" + s.big + "&pageSize=1000"},
		{"photos-100k/created-filter-first", "/v1/livePhotos?clientId=" + s.big + "&createdAfter=" + after},
		{"photos-100k/created-filter-deep", "/v1/livePhotos?clientId=" + s.big + "&createdAfter=" + after + "&page=150"},
		{"photos-90/first", "/v1/livePhotos?clientId=" + s.medium},
		{"clients-10k/first", "/v1/clients"},
		{"clients-10k/deep", "/v1/clients?page=100"},
		{"clients-10k/email-filter", "/v1/clients?email=c5000@example.com"},
	}
	client := &http.Client{}
	for _, tc := range cases {
		b.Run(tc.name, func(b *testing.B) {
			const perIter = 200
			var lat []time.Duration
			var size int64
			for b.Loop() {
				for range perIter {
					req, err := http.NewRequest("GET", s.url+tc.path, nil)
					if err != nil {
						b.Fatal(err)
					}
					req.Header.Set("Authorization", s.key)
					start := time.Now()
					res, err := client.Do(req)
					if err != nil {
						b.Fatal(err)
					}
					n, err := io.Copy(io.Discard, res.Body)
					res.Body.Close()
					lat = append(lat, time.Since(start))
					if err != nil || res.StatusCode != http.StatusOK {
						b.Fatalf("GET %s: %d, %v", tc.path, res.StatusCode, err)
					}
					size = n
				}
			}
			slices.Sort(lat)
			ms := func(q float64) float64 {
				return float64(lat[min(len(lat)-1, int(q*float64(len(lat))))].Microseconds()) / 1000
			}
			b.ReportMetric(ms(0.50), "p50-ms")
			b.ReportMetric(ms(0.99), "p99-ms")
			b.ReportMetric(float64(size), "resp-bytes")
			b.ReportMetric(0, "ns/op")
		})
	}
}
