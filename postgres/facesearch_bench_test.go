package postgres

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/facevault/facevault"
	"github.com/facevault/facevault/internal/facegen"
	"github.com/facevault/facevault/keyring"
)

// Environment variables of BenchmarkFaceSearch1M.
const (
	// benchFacesEnv is the number of faces loaded: 1,000,000 for the
	// figures in the README; the suite's single pass loads fewer
	// (benchFacesDefault), to stay quick.
	benchFacesEnv = "FACEVAULT_BENCH_FACES"
	// benchNProbeEnv and benchCellsEnv override the search's nprobe (a
	// comma-separated list measures each) and the partition's cells.
	benchNProbeEnv = "FACEVAULT_BENCH_NPROBE"
	benchCellsEnv  = "FACEVAULT_BENCH_CELLS"

	benchFacesDefault = 50_000
	benchQueries      = 200
)

func envInt(tb testing.TB, name string, def int) int {
	v := os.Getenv(name)
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 0 {
		tb.Fatalf("%s=%q: want a number", name, v)
	}
	return n
}

// BenchmarkFaceSearch1M loads synthetic enrolled faces into one scope of a
// real PostgreSQL store (FACEVAULT_BENCH_FACES of them, 1,000,000 for the
// README's figures), one per person, with the statistics of real
// embeddings (package facegen: impostor cosines about 0.82, genuine about
// 0.955). The rows are sealed and partitioned as the rekey does
// (TrainCentroids on a sample, AssignCells), copied in with COPY, and
// packed into pages by the indexer's own code (Vault.PackFaceIndex). It
// then runs 200 searches (100 new photos of enrolled people, 100
// strangers) through Vault.SearchFaces and through an exact scan of the
// same rows (every row read and opened), and logs the time of each
// (p50, p95) and the recall of the search: the share of the exact scan's
// matches (score ≥ 92) that it finds, and how often the person's own
// face is among them. Searches are timed once the node keeps the pages
// it opened (a first pass of the 200 fills its cache), and for 20 of
// them on a node that keeps none. The sub-benchmarks time one search of
// each kind, and report the figures of the first nprobe listed.
func BenchmarkFaceSearch1M(b *testing.B) {
	ctx := b.Context()
	n := envInt(b, benchFacesEnv, benchFacesDefault)
	cfg := facevault.FaceIndexConfig{Cells: envInt(b, benchCellsEnv, 0), NProbe: facevault.DefaultPostgresNProbe}
	nprobes := []int{cfg.NProbe}
	if list := os.Getenv(benchNProbeEnv); list != "" {
		nprobes = nil
		for _, f := range strings.Split(list, ",") {
			p, err := strconv.Atoi(f)
			if err != nil || p < 0 {
				b.Fatalf("%s=%q: want numbers", benchNProbeEnv, list)
			}
			nprobes = append(nprobes, p)
		}
	}
	db := migrated(b)
	keys := benchKeyring(b)
	v := facevault.NewVault(db, nil, slog.New(slog.NewTextHandler(io.Discard, nil)))
	v.Keys, v.FaceIndex = keys, cfg
	s := facevault.Scope{AccountID: "bench", Mode: facevault.ModeLive}

	start := time.Now()
	g := facegen.New(1)
	people := make([][]float64, n)
	vecs := make([][]float32, n)
	for i := range people {
		people[i] = g.Identity()
		vecs[i] = g.Photo(people[i])
	}
	gen := time.Since(start)
	t := time.Now()
	cells := cfg.CellsFor(n)
	every := max(1, n/(cells*facevault.FaceIndexSamplePerCell))
	var sample [][]float32
	for i := 0; i < n; i += every {
		sample = append(sample, vecs[i])
	}
	centroids := facevault.TrainCentroids(sample, cells, facevault.FaceIndexKMeansRounds)
	train := time.Since(t)
	t = time.Now()
	assigned := facevault.AssignCells(vecs, centroids)
	assign := time.Since(t)

	t = time.Now()
	key, err := keys.NewFaceIndexKey(ctx, s, 1)
	if err != nil {
		b.Fatal(err)
	}
	sealedCentroids, err := facevault.SealCentroids(key, s, 1, centroids)
	if err != nil {
		b.Fatal(err)
	}
	if err := db.AddFaceIndexEpoch(ctx, s, &facevault.FaceIndexEpoch{Epoch: 1, Cells: len(centroids),
		Centroids: sealedCentroids, Size: n, CreatedAt: time.Now()}); err != nil {
		b.Fatal(err)
	}
	ids := make([]string, n)
	for i := range ids {
		ids[i] = fmt.Sprintf("%024x", i)
	}
	loadRows(b, db, s, key, ids, vecs, assigned)
	load := time.Since(t)
	t = time.Now()
	packed, err := v.PackFaceIndex(ctx, s, func() error { return nil })
	if err != nil {
		b.Fatal(err)
	}
	if _, err := db.pool.Exec(context.WithoutCancel(ctx), `VACUUM ANALYZE face_index, face_index_pages`); err != nil {
		b.Fatal(err)
	}
	pack := time.Since(t)
	b.Logf("%d faces: generated in %v, partition of %d cells trained on %d in %v, assigned in %v, sealed and loaded (COPY, index, VACUUM) in %v, packed into %d pages in %v",
		n, gen.Round(time.Millisecond), len(centroids), len(sample), train.Round(time.Millisecond), assign.Round(time.Millisecond), load.Round(time.Millisecond),
		packed.Written, pack.Round(time.Millisecond))

	queries := make([][]float32, 0, benchQueries)
	for i := range benchQueries / 2 {
		queries = append(queries, g.Photo(people[(i*7919)%n]), g.Photo(g.Identity()))
	}
	sealer, err := facevault.NewFaceIndexSealer(key, s, 1)
	if err != nil {
		b.Fatal(err)
	}
	exact := func(q []float32) []facevault.FaceHit {
		rows, err := db.FaceIndexRows(ctx, s, 1, nil)
		if err != nil {
			b.Fatal(err)
		}
		var hits []facevault.FaceHit
		for _, r := range rows {
			e, err := sealer.Open(r)
			if err != nil {
				b.Fatal(err)
			}
			if score := 100 * max(0, facevault.FaceCosine(q, e)); score >= facevault.FaceMatchThreshold {
				hits = append(hits, facevault.FaceHit{PhotoID: r.PhotoID, ClientID: r.ClientID, Score: score})
			}
		}
		return hits
	}
	search := func(q []float32) []facevault.FaceHit {
		hits, err := v.SearchFaces(ctx, s, q, facevault.FaceMatchThreshold)
		if err != nil {
			b.Fatal(err)
		}
		return hits
	}
	search(queries[0]) // the key and the partition, cached from here on
	var exactTimes []time.Duration
	expected := make([][]facevault.FaceHit, len(queries))
	exactRuns := min(len(queries), max(3, 2_000_000/n))
	for i, q := range queries {
		if i < exactRuns {
			t := time.Now()
			expected[i] = exact(q)
			exactTimes = append(exactTimes, time.Since(t))
		} else {
			expected[i] = bruteForce(q, ids, vecs)
		}
	}
	b.Logf("exact scan of %d faces: p50 %.0f ms, p95 %.0f ms (%d runs)", n, quantileMS(exactTimes, 0.5), quantileMS(exactTimes, 0.95), len(exactTimes))
	// A vault that keeps no opened pages reads and opens every page it
	// probes at each search, as a node does on its first searches.
	uncached := facevault.NewVault(db, nil, slog.New(slog.NewTextHandler(io.Discard, nil)))
	uncached.Keys, uncached.FaceIndex = keys, cfg
	uncached.FaceIndex.PageCache = -1
	var figures []float64 // of the first nprobe, reported by the search sub-benchmark
	for _, np := range nprobes {
		for _, w := range []*facevault.Vault{uncached, v} {
			w.FaceIndex.NProbe = np
		}
		var cold []time.Duration
		for _, q := range queries[:20] {
			t := time.Now()
			if _, err := uncached.SearchFaces(ctx, s, q, facevault.FaceMatchThreshold); err != nil {
				b.Fatal(err)
			}
			cold = append(cold, time.Since(t))
		}
		for _, q := range queries { // opens the probed pages into the node's cache
			search(q)
		}
		var times []time.Duration
		found, want, genuine := 0, 0, 0
		for i, q := range queries {
			t := time.Now()
			got := search(q)
			times = append(times, time.Since(t))
			if i%2 == 0 { // a new photo of an enrolled person: is their face found?
				own := ids[(i/2*7919)%n]
				if slices.ContainsFunc(got, func(x facevault.FaceHit) bool { return x.PhotoID == own }) {
					genuine++
				}
			}
			want += len(expected[i])
			for _, h := range expected[i] {
				if slices.ContainsFunc(got, func(x facevault.FaceHit) bool { return x.PhotoID == h.PhotoID }) {
					found++
				}
			}
		}
		recall := 1.0
		if want > 0 {
			recall = float64(found) / float64(want)
		}
		pagesHeld, bytesHeld := v.FacePageCacheSize()
		b.Logf("%d faces, %d cells, nprobe %d: search p50 %.1f ms, p95 %.1f ms (pages cached: %d, %.0f MB; without the cache p50 %.0f ms, p95 %.0f ms); recall at score ≥ %d: %.3f (%d of the exact scan's %d matches, %d queries); the person's own face found for %d of %d",
			n, len(centroids), np, quantileMS(times, 0.5), quantileMS(times, 0.95), pagesHeld, float64(bytesHeld)/1e6,
			quantileMS(cold, 0.5), quantileMS(cold, 0.95), facevault.FaceMatchThreshold, recall, found, want, len(queries),
			genuine, len(queries)/2)
		if np == nprobes[0] {
			figures = []float64{quantileMS(times, 0.5), quantileMS(times, 0.95), quantileMS(cold, 0.5), recall, float64(genuine)}
		}
	}
	v.FaceIndex.NProbe = nprobes[0]

	b.Run("search", func(b *testing.B) {
		i := 0
		for b.Loop() {
			search(queries[i%len(queries)])
			i++
		}
		for j, unit := range []string{"p50-ms", "p95-ms", "uncached-p50-ms", "recall", "own-found/100"} {
			b.ReportMetric(figures[j], unit)
		}
	})
	b.Run("exact", func(b *testing.B) {
		i := 0
		for b.Loop() {
			exact(queries[i%len(queries)])
			i++
		}
		b.ReportMetric(quantileMS(exactTimes, 0.5), "p50-ms")
	})
}

// quantileMS is the q quantile of ds, in milliseconds.
func quantileMS(ds []time.Duration, q float64) float64 {
	if len(ds) == 0 {
		return math.NaN()
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	return float64(s[min(len(s)-1, int(q*float64(len(s))))]) / float64(time.Millisecond)
}

// bruteForce is the exact scan over the plaintext, for the queries whose
// exact scan through the store is not timed.
func bruteForce(q []float32, ids []string, vecs [][]float32) []facevault.FaceHit {
	var hits []facevault.FaceHit
	for i, e := range vecs {
		if score := 100 * max(0, facevault.FaceCosine(q, e)); score >= facevault.FaceMatchThreshold {
			hits = append(hits, facevault.FaceHit{PhotoID: ids[i], Score: score})
		}
	}
	return hits
}

func benchKeyring(tb testing.TB) *keyring.Keyring {
	kdb, err := keyring.Open(tb.Context(), "sqlite://"+filepath.Join(tb.TempDir(), "keys", "keys.db"))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { kdb.Close() })
	m, err := keyring.NewLocalMaster(bytes.Repeat([]byte{9}, keyring.MasterKeySize))
	if err != nil {
		tb.Fatal(err)
	}
	k, err := keyring.New(tb.Context(), kdb, []keyring.Master{m})
	if err != nil {
		tb.Fatal(err)
	}
	return k
}

// loadRows seals the rows and copies them into face_index, one client per
// thousand faces, with the cell index dropped during the copy and built
// again after it (as it was defined), then vacuums, so that searches are
// index-only scans as on a table autovacuum has visited.
func loadRows(tb testing.TB, db *DB, s facevault.Scope, key []byte, ids []string, vecs [][]float32, cells []int) {
	ctx := tb.Context()
	var def string
	if err := db.pool.QueryRow(ctx, `SELECT indexdef FROM pg_indexes WHERE indexname = 'face_index_cells'`).Scan(&def); err != nil {
		tb.Fatal(err)
	}
	if _, err := db.pool.Exec(ctx, `DROP INDEX face_index_cells`); err != nil {
		tb.Fatal(err)
	}
	sealer, err := facevault.NewFaceIndexSealer(key, s, 1)
	if err != nil {
		tb.Fatal(err)
	}
	const batch = 50_000
	for lo := 0; lo < len(ids); lo += batch {
		hi := min(len(ids), lo+batch)
		rows := make([][]any, 0, hi-lo)
		for i := lo; i < hi; i++ {
			vec, err := sealer.Seal(ids[i], vecs[i])
			if err != nil {
				tb.Fatal(err)
			}
			rows = append(rows, []any{ids[i], s.AccountID, string(s.Mode), fmt.Sprintf("%024x", i/1000), int64(1), int32(cells[i]), vec})
		}
		if _, err := db.pool.CopyFrom(ctx, pgx.Identifier{"face_index"},
			[]string{"photo_id", "account_id", "mode", "client_id", "epoch", "cell", "vec"}, pgx.CopyFromRows(rows)); err != nil {
			tb.Fatal(err)
		}
	}
	if _, err := db.pool.Exec(ctx, def); err != nil {
		tb.Fatal(err)
	}
	if _, err := db.pool.Exec(context.WithoutCancel(ctx), `VACUUM ANALYZE face_index`); err != nil {
		tb.Fatal(err)
	}
}
