package postgres

import (
	"context"
	"fmt"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-json-experiment/json"
	"github.com/jackc/pgx/v5"

	"github.com/facevault/facevault"
	"github.com/facevault/facevault/internal/pgtest"
)

// The scale of TestScale: photos in all, of which the big client has one
// in bigEvery, and clients over which the others spread.
const (
	scalePhotos  = 1_000_000
	scaleClients = 10_000
	bigEvery     = 10
	bigPhotos    = scalePhotos / bigEvery
)

// scaleT0 is the time the scale data is made from.
var scaleT0 = time.Date(2024, time.February, 1, 0, 0, 0, 0, time.UTC)

// sqlID is the SQL of the object ID that sorts as the bigint expression n
// does, as id(n) of storetest.
func sqlID(n string) string { return "lpad(to_hex(" + n + "), 24, '0')" }

// scaleID is the ID sqlID makes of n.
func scaleID(n int) string { return fmt.Sprintf("%024x", n) }

// loadScale fills the database: accounts a and b; clients 0 to
// scaleClients-1, client 0 (the big client) in scope a/live and client c in
// scope a or b (c%4 < 2), test or live (c odd); photos 0 to scalePhotos-1,
// photo n belonging to client 0 if n%bigEvery == 0 and to client
// 1+n%(scaleClients-1) otherwise, so that the big client's photos are spread
// over the whole table, as uploads over time would be.
//
// The big client's photo n is created at scaleT0 + n/20 seconds (two photos
// a second: ties, broken by ID), the others at scaleT0 + n milliseconds;
// each is updated n%7 seconds after its creation.
//
// Each table is filled by INSERT ... SELECT from generate_series, the photos
// in one statement per CPU run at once, with every index, constraint and
// foreign key in place, as the service's own inserts would find them.
func loadScale(t *testing.T, db *DB, a, b string) {
	t.Helper()
	ctx := t.Context()
	scope := func(c string) string {
		return `CASE WHEN ` + c + ` = 0 OR ` + c + ` % 4 < 2 THEN $1 ELSE $2 END,
			CASE WHEN ` + c + ` = 0 OR ` + c + ` % 2 = 1 THEN 'live' ELSE 'test' END`
	}
	if _, err := db.pool.Exec(ctx, `
		INSERT INTO clients (id, account_id, mode, type, email, external_id, doc, created_at, updated_at)
		SELECT `+sqlID("c")+`, `+scope("c")+`, 'person', 'c' || c || '@example.com', 'ext-' || c,
			jsonb_build_object('type', 'person', 'email', 'c' || c || '@example.com', 'externalId', 'ext-' || c,
				'personDetails', jsonb_build_object('firstName', 'F' || c, 'lastName', 'L' || c)),
			$3::timestamptz + c * interval '1 second', $3::timestamptz + c * interval '1 second'
		FROM generate_series(0, $4::bigint - 1) c`,
		a, b, scaleT0, scaleClients,
	); err != nil {
		t.Fatalf("load clients: %v", err)
	}
	// Without statistics on clients, the plan of the foreign key check
	// (one per photo) might scan it.
	if _, err := db.pool.Exec(ctx, `ANALYZE clients`); err != nil {
		t.Fatalf("ANALYZE clients: %v", err)
	}

	chunks := max(2, runtime.GOMAXPROCS(0))
	var wg sync.WaitGroup
	errs := make([]error, chunks)
	for i := range chunks {
		lo, hi := scalePhotos*i/chunks, scalePhotos*(i+1)/chunks-1
		wg.Go(func() {
			_, errs[i] = db.pool.Exec(ctx, `
				INSERT INTO live_photos (id, account_id, mode, client_id, content_type, size, width, height, sha256,
					perform_liveness_check, liveness_check, redacted_at, created_at, updated_at)
				SELECT `+sqlID("n")+`, `+scope("c")+`, `+sqlID("c")+`,
					'images/jpg', 48213, 640, 480, repeat('ab', 32), n % 2 = 0, NULL, NULL,
					created, created + n % 7 * interval '1 second'
				FROM generate_series($4::bigint, $5::bigint) n,
				LATERAL (SELECT CASE WHEN n % $6 = 0 THEN 0 ELSE 1 + n % ($7 - 1) END AS c) client,
				LATERAL (SELECT CASE WHEN c = 0 THEN $3::timestamptz + n / 20 * interval '1 second'
					ELSE $3::timestamptz + n * interval '1 millisecond' END AS created) times`,
				a, b, scaleT0, lo, hi, bigEvery, scaleClients,
			)
		})
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Fatalf("load live photos: %v", err)
		}
	}
	// The counts the store keeps, as its writes would have kept them.
	if _, err := db.pool.Exec(ctx, `
		UPDATE clients SET photo_count = n FROM (
			SELECT account_id, mode, client_id, count(*) AS n FROM live_photos GROUP BY 1, 2, 3) p
		WHERE clients.account_id = p.account_id AND clients.mode = p.mode AND clients.id = p.client_id`,
	); err != nil {
		t.Fatalf("count photos: %v", err)
	}
	if _, err := db.pool.Exec(ctx, `
		INSERT INTO scope_counts (account_id, mode, clients)
		SELECT account_id, mode, count(*) FROM clients GROUP BY 1, 2
		ON CONFLICT (account_id, mode) DO UPDATE SET clients = excluded.clients`,
	); err != nil {
		t.Fatalf("count clients: %v", err)
	}
}

// planNode is a node of EXPLAIN (FORMAT JSON) output.
type planNode struct {
	NodeType     string     `json:"Node Type"`
	RelationName string     `json:"Relation Name"`
	IndexName    string     `json:"Index Name"`
	IndexCond    string     `json:"Index Cond"`
	Filter       string     `json:"Filter"`
	PlanRows     float64    `json:"Plan Rows"`
	Plans        []planNode `json:"Plans"`
}

// walk calls fn on n and every node below it.
func (n *planNode) walk(fn func(*planNode)) {
	fn(n)
	for i := range n.Plans {
		n.Plans[i].walk(fn)
	}
}

// String is the plan in the indented shape of EXPLAIN's text output.
func (n *planNode) String() string {
	var b strings.Builder
	var write func(n *planNode, depth int)
	write = func(n *planNode, depth int) {
		fmt.Fprintf(&b, "%s-> %s", strings.Repeat("  ", depth), n.NodeType)
		if n.IndexName != "" {
			fmt.Fprintf(&b, " using %s", n.IndexName)
		}
		if n.RelationName != "" {
			fmt.Fprintf(&b, " on %s", n.RelationName)
		}
		fmt.Fprintf(&b, " (rows=%.0f)", n.PlanRows)
		if n.IndexCond != "" {
			fmt.Fprintf(&b, " cond %s", n.IndexCond)
		}
		if n.Filter != "" {
			fmt.Fprintf(&b, " filter %s", n.Filter)
		}
		b.WriteString("\n")
		for i := range n.Plans {
			write(&n.Plans[i], depth+1)
		}
	}
	write(n, 0)
	return b.String()
}

// explain returns the plan of query with args, as the store runs it: the
// server plans it for these values of its parameters.
func explain(t *testing.T, q interface {
	QueryRow(context.Context, string, ...any) pgx.Row
}, query string, args ...any) *planNode {
	t.Helper()
	var out []byte
	if err := q.QueryRow(t.Context(), "EXPLAIN (FORMAT JSON) "+query, args...).Scan(&out); err != nil {
		t.Fatalf("EXPLAIN: %v\n%s", err, query)
	}
	var plans []struct {
		Plan planNode `json:"Plan"`
	}
	if err := json.Unmarshal(out, &plans); err != nil || len(plans) != 1 {
		t.Fatalf("EXPLAIN: decode %s: %v", out, err)
	}
	return &plans[0].Plan
}

// sqlLiteral is v as an SQL literal, for the arguments of EXECUTE.
func sqlLiteral(t *testing.T, v any) string {
	switch v := v.(type) {
	case string:
		return "'" + strings.ReplaceAll(v, "'", "''") + "'"
	case int:
		return strconv.Itoa(v)
	case time.Time:
		return "'" + v.Format(time.RFC3339Nano) + "'"
	case []string:
		return "'{" + strings.Join(v, ",") + "}'"
	}
	t.Fatalf("sqlLiteral: %T", v)
	return ""
}

// explainGeneric returns the generic plan of query: the one the server may
// settle on for a statement pgx has prepared and run several times, made
// without the parameters' values.
func explainGeneric(t *testing.T, conn *pgx.Conn, query string, args ...any) *planNode {
	t.Helper()
	ctx := t.Context()
	if _, err := conn.Exec(ctx, `SET plan_cache_mode = force_generic_plan`); err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Exec(ctx, `PREPARE generic AS `+query); err != nil {
		t.Fatalf("PREPARE: %v\n%s", err, query)
	}
	defer conn.Exec(ctx, `DEALLOCATE generic`)
	literals := make([]string, len(args))
	for i, a := range args {
		literals[i] = sqlLiteral(t, a)
	}
	return explain(t, conn, `EXECUTE generic (`+strings.Join(literals, ", ")+`)`)
}

// checkIndexPlan fails t unless plan reads the live photos through
// live_photos_client, by client, and sorts nothing.
func checkIndexPlan(t *testing.T, plan *planNode) {
	t.Helper()
	var byClient bool
	plan.walk(func(n *planNode) {
		switch n.NodeType {
		case "Index Scan", "Index Only Scan":
			if n.IndexName == "live_photos_client" && strings.Contains(n.IndexCond, "client_id = ") {
				byClient = true
			}
		case "Sort", "Incremental Sort":
			t.Errorf("the plan sorts:\n%s", plan)
		case "Seq Scan", "Bitmap Heap Scan":
			if n.RelationName == "live_photos" {
				t.Errorf("the plan reads live_photos other than by index:\n%s", plan)
			}
		}
	})
	if !byClient {
		t.Errorf("the plan does not scan live_photos_client by client:\n%s", plan)
	}
}

// TestScale loads a million live photos, a tenth of them of one client, and
// checks that the query LivePhotos runs for a page of that client's photos,
// first or deep, with and without time bounds, is a scan of
// live_photos_client in order, with no sort. It runs in every test run.
func TestScale(t *testing.T) {
	ctx := t.Context()
	url := pgtest.URL(t)
	db := mustOpen(t, url)
	if err := db.Migrate(ctx); err != nil {
		t.Fatalf("Migrate: %v", err)
	}
	a, err := db.EnsureAccount(ctx, "scale-a", scaleT0)
	if err != nil {
		t.Fatalf("EnsureAccount: %v", err)
	}
	b, err := db.EnsureAccount(ctx, "scale-b", scaleT0)
	if err != nil {
		t.Fatalf("EnsureAccount: %v", err)
	}

	start := time.Now()
	loadScale(t, db, a.ID, b.ID)
	loaded := time.Since(start)
	// ANALYZE for the statistics; VACUUM for the visibility map, which
	// autovacuum keeps up in production and on which the planner's choice
	// of index-only scans depends.
	// VACUUM can mark a page all-visible only once no transaction in the
	// cluster is older than the rows on it; other test packages share the
	// cluster and may hold a snapshot for a moment, so vacuum again until
	// the map covers the table, as autovacuum eventually does.
	start = time.Now()
	for attempt := 1; ; attempt++ {
		if _, err := db.pool.Exec(ctx, `VACUUM (ANALYZE) live_photos`); err != nil {
			t.Fatalf("VACUUM ANALYZE: %v", err)
		}
		var pages, visible int64
		if err := db.pool.QueryRow(ctx, `SELECT relpages, relallvisible FROM pg_class WHERE oid = 'live_photos'::regclass`).Scan(&pages, &visible); err != nil {
			t.Fatal(err)
		}
		if visible >= pages*99/100 {
			break
		}
		if attempt == 50 {
			t.Fatalf("after %d VACUUMs only %d of %d pages of live_photos are all-visible: a transaction keeps the cluster's xmin horizon back", attempt, visible, pages)
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Logf("loaded %d clients and %d live photos in %v, vacuumed and analyzed in %v",
		scaleClients, scalePhotos, loaded.Round(time.Millisecond), time.Since(start).Round(time.Millisecond))

	var n int
	if err := db.pool.QueryRow(ctx, `SELECT count(*) FROM live_photos`).Scan(&n); err != nil || n != scalePhotos {
		t.Fatalf("live_photos holds %d rows, %v; want %d", n, err, scalePhotos)
	}

	s := facevault.Scope{AccountID: a.ID, Mode: facevault.ModeLive}
	big := scaleID(0)
	createdAfter, createdBefore := scaleT0.Add(10_000*time.Second), scaleT0.Add(40_000*time.Second)
	updatedAfter := scaleT0.Add(25_000 * time.Second)
	// Photos of the big client with n/20 strictly between 10,000 and 40,000.
	createdTotal := 2 * (40_000 - 10_000 - 1)
	var updatedTotal int
	if err := db.pool.QueryRow(ctx, `
		SELECT count(*) FROM live_photos WHERE client_id = $1 AND updated_at > $2`,
		big, updatedAfter,
	).Scan(&updatedTotal); err != nil {
		t.Fatal(err)
	}

	generic, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer generic.Close(context.Background())

	for _, tc := range []struct {
		name  string
		r     facevault.TimeRange
		total int
	}{
		{"NoBounds", facevault.TimeRange{}, bigPhotos},
		{"Created", facevault.TimeRange{CreatedAfter: createdAfter, CreatedBefore: createdBefore}, createdTotal},
		{"Updated", facevault.TimeRange{UpdatedAfter: updatedAfter}, updatedTotal},
		{"CreatedAndUpdated", facevault.TimeRange{CreatedAfter: createdAfter, UpdatedAfter: updatedAfter}, -1},
	} {
		for _, page := range []struct {
			name string
			page facevault.Page
		}{
			{"FirstPage", facevault.Page{Page: 1, PageSize: facevault.DefaultPageSize}},
			{"DeepPage", facevault.Page{Page: (tc.total + 99) / 100, PageSize: 100}},
			{"LargePage", facevault.Page{Page: 2, PageSize: facevault.MaxPageSize}},
		} {
			if tc.total < 0 && page.name == "DeepPage" {
				page.page.Page = 200
			}
			t.Run(tc.name+"/"+page.name, func(t *testing.T) {
				o := facevault.ListOptions{Page: page.page, TimeRange: tc.r}
				q := livePhotosWhere(s, big, o)
				limit, offset := o.Chunk()
				query, args := livePhotosPage(q, limit, offset)

				start := time.Now()
				plan := explain(t, db.pool, query, args...)
				planned := time.Since(start)
				checkIndexPlan(t, plan)
				t.Logf("plan:\n%s", plan)
				checkIndexPlan(t, explainGeneric(t, generic, query, args...))

				// The count, too, is read from the index.
				count := explain(t, db.pool, `SELECT count(*) FROM live_photos WHERE `+q.String(), q.args...)
				checkIndexPlan(t, count)

				start = time.Now()
				photos, total, err := db.LivePhotos(ctx, s, big, o)
				if err != nil {
					t.Fatalf("LivePhotos: %v", err)
				}
				took := time.Since(start)
				if tc.total >= 0 && total != tc.total {
					t.Errorf("LivePhotos total = %d, want %d", total, tc.total)
				}
				if want := min(limit, max(0, total-offset)); len(photos) != want {
					t.Errorf("LivePhotos returned %d photos, want %d", len(photos), want)
				}
				for i := 1; i < len(photos); i++ {
					if newestFirst(photos[i-1], photos[i]) >= 0 {
						t.Fatalf("LivePhotos out of order at %d: %s at %v, then %s at %v", i,
							photos[i-1].ID, photos[i-1].CreatedAt, photos[i].ID, photos[i].CreatedAt)
					}
				}
				t.Logf("EXPLAIN in %v; LivePhotos (offset %d, %d of %d) in %v",
					planned.Round(time.Microsecond), offset, len(photos), total, took.Round(time.Microsecond))
			})
		}
	}

	t.Run("Ends", func(t *testing.T) {
		first, _, err := db.LivePhotos(ctx, s, big, facevault.ListOptions{Page: facevault.Page{Page: 1, PageSize: 2}})
		if err != nil {
			t.Fatal(err)
		}
		// The last second holds photos 999,980 and 999,990; the first 0 and 10.
		if len(first) != 2 || first[0].ID != scaleID(scalePhotos-10) || first[1].ID != scaleID(scalePhotos-20) {
			t.Errorf("first page = %q, want the newest photos, ties by ID", photoIDs(first))
		}
		last, total, err := db.LivePhotos(ctx, s, big, facevault.ListOptions{Page: facevault.Page{Page: bigPhotos / 2, PageSize: 2}})
		if err != nil {
			t.Fatal(err)
		}
		if total != bigPhotos || len(last) != 2 || last[0].ID != scaleID(10) || last[1].ID != scaleID(0) {
			t.Errorf("last page = %q of %d, want [%s %s] of %d", photoIDs(last), total, scaleID(10), scaleID(0), bigPhotos)
		}
	})
}

func photoIDs(ps []*facevault.LivePhoto) []string {
	ids := []string{}
	for _, p := range ps {
		ids = append(ids, p.ID)
	}
	return ids
}
