package storetest

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/facevault/facevault"
)

func testPurgeQueue(t *testing.T, st facevault.Store) {
	ctx := t.Context()
	sc := mustScopes(t, st)
	c := mustCreateClient(t, st, sc.a, newPerson(t0, "Purge", "Queue"))
	var keys []string
	for i := range 3 {
		p := mustCreatePhoto(t, st, sc.a, newPhoto(t0, c.ID))
		if _, err := st.DeleteLivePhoto(ctx, sc.a, p.ID, t0.Add(time.Duration(i)*time.Second)); err != nil {
			t.Fatalf("DeleteLivePhoto: %v", err)
		}
		keys = append(keys, p.ID)
	}
	now := t0.Add(time.Minute)

	t.Run("OldestFirst", func(t *testing.T) {
		due, err := st.DuePurges(ctx, now, 2)
		if err != nil {
			t.Fatalf("DuePurges: %v", err)
		}
		checkIDs(t, "DuePurges(2)", purgeKeys(due), keys[:2])
	})

	t.Run("Retry", func(t *testing.T) {
		next := now.Add(4 * time.Second)
		long := string(make([]byte, 4000)) + "\xff"
		if err := st.RetryPurge(ctx, keys[0], next, "image store down: "+long); err != nil {
			t.Fatalf("RetryPurge: %v", err)
		}
		due, err := st.DuePurges(ctx, now, 10)
		if err != nil {
			t.Fatalf("DuePurges: %v", err)
		}
		checkIDs(t, "due while the retry waits", purgeKeys(due), keys[1:])
		due, err = st.DuePurges(ctx, next, 10)
		if err != nil {
			t.Fatalf("DuePurges: %v", err)
		}
		checkIDs(t, "due once the retry is due", purgeKeys(due), []string{keys[1], keys[2], keys[0]})
		if due[2].Attempts != 1 {
			t.Errorf("attempts after one failure = %d, want 1", due[2].Attempts)
		}
		if err := st.RetryPurge(ctx, keys[0], next, "again"); err != nil {
			t.Fatalf("RetryPurge: %v", err)
		}
		due, err = st.DuePurges(ctx, next, 10)
		if err != nil {
			t.Fatalf("DuePurges: %v", err)
		}
		if i := slices.IndexFunc(due, func(p facevault.Purge) bool { return p.Key == keys[0] }); i < 0 || due[i].Attempts != 2 {
			t.Errorf("DuePurges = %+v, want %s with 2 attempts", due, keys[0])
		}
		// Retrying a key no longer queued changes nothing.
		if err := st.RetryPurge(ctx, id(404), next, "gone"); err != nil {
			t.Errorf("RetryPurge(unknown): %v", err)
		}
		wantBacklog(t, st, facevault.PurgeBacklog{Keys: 3})
	})

	t.Run("Finish", func(t *testing.T) {
		// Finishing a key twice, or one never queued, is harmless.
		if err := st.FinishPurges(ctx, []string{keys[1], keys[1], id(404)}); err != nil {
			t.Fatalf("FinishPurges: %v", err)
		}
		wantBacklog(t, st, facevault.PurgeBacklog{Keys: 2})
		if err := st.FinishPurges(ctx, keys); err != nil {
			t.Fatalf("FinishPurges: %v", err)
		}
		wantBacklog(t, st, facevault.PurgeBacklog{})
		if err := st.FinishPurges(ctx, nil); err != nil {
			t.Errorf("FinishPurges(nil): %v", err)
		}
	})
}

// testCounts checks the totals of unfiltered lists, which stores keep rather
// than count, against what the lists hold through every change.
func testCounts(t *testing.T, st facevault.Store) {
	ctx := t.Context()
	sc := mustScopes(t, st)
	clientTotal := func(s facevault.Scope) int {
		t.Helper()
		cs, n := listClients(t, st, s, facevault.ClientFilter{ListOptions: facevault.ListOptions{Page: all}})
		if n != len(cs) {
			t.Errorf("Clients total %d, but %d listed", n, len(cs))
		}
		return n
	}
	photoTotal := func(s facevault.Scope, client string) int {
		t.Helper()
		ps, n := listPhotos(t, st, s, client, facevault.ListOptions{Page: all})
		if n != len(ps) {
			t.Errorf("LivePhotos total %d, but %d listed", n, len(ps))
		}
		return n
	}
	if n := clientTotal(sc.a); n != 0 {
		t.Fatalf("a new scope counts %d clients", n)
	}
	var cs []*facevault.Client
	for i := range 4 {
		cs = append(cs, mustCreateClient(t, st, sc.a, newPerson(t0.Add(time.Duration(i)*time.Millisecond), "Count", fmt.Sprint(i))))
	}
	mustCreateClient(t, st, sc.aLive, newPerson(t0, "Other", "Mode"))
	if a, live, b := clientTotal(sc.a), clientTotal(sc.aLive), clientTotal(sc.b); a != 4 || live != 1 || b != 0 {
		t.Errorf("client totals = %d, %d, %d; want 4, 1, 0", a, live, b)
	}
	var ps []*facevault.LivePhoto
	for range 3 {
		ps = append(ps, mustCreatePhoto(t, st, sc.a, newPhoto(t0, cs[0].ID)))
	}
	mustCreatePhoto(t, st, sc.a, newPhoto(t0, cs[1].ID))
	if n0, n1, n2 := photoTotal(sc.a, cs[0].ID), photoTotal(sc.a, cs[1].ID), photoTotal(sc.a, cs[2].ID); n0 != 3 || n1 != 1 || n2 != 0 {
		t.Errorf("photo totals = %d, %d, %d; want 3, 1, 0", n0, n1, n2)
	}
	if _, err := st.RedactLivePhoto(ctx, sc.a, ps[0].ID, t0); err != nil {
		t.Fatalf("RedactLivePhoto: %v", err)
	}
	if n := photoTotal(sc.a, cs[0].ID); n != 3 {
		t.Errorf("photo total after a redaction = %d, want 3", n)
	}
	if _, err := st.DeleteLivePhoto(ctx, sc.a, ps[1].ID, t0); err != nil {
		t.Fatalf("DeleteLivePhoto: %v", err)
	}
	if n := photoTotal(sc.a, cs[0].ID); n != 2 {
		t.Errorf("photo total after a delete = %d, want 2", n)
	}
	// A failed create counts nothing.
	if err := st.CreateLivePhoto(ctx, sc.a, newPhoto(t0, id(31337))); err == nil {
		t.Fatalf("CreateLivePhoto for an unknown client succeeded")
	}
	dup := newPhoto(t0, cs[0].ID)
	dup.ID = ps[2].ID
	if err := st.CreateLivePhoto(ctx, sc.a, dup); err == nil {
		t.Fatalf("CreateLivePhoto with an existing ID succeeded")
	}
	if n := photoTotal(sc.a, cs[0].ID); n != 2 {
		t.Errorf("photo total after failed creates = %d, want 2", n)
	}
	if err := st.DeleteClient(ctx, sc.a, cs[0].ID, t0); err != nil {
		t.Fatalf("DeleteClient: %v", err)
	}
	if n := clientTotal(sc.a); n != 3 {
		t.Errorf("client total after a delete = %d, want 3", n)
	}
	if n := photoTotal(sc.a, cs[0].ID); n != 0 {
		t.Errorf("photo total of a deleted client = %d, want 0", n)
	}
	if err := st.DeleteClient(ctx, sc.a, cs[0].ID, t0); err == nil {
		t.Fatalf("deleting a client twice succeeded")
	}
	if n := clientTotal(sc.a); n != 3 {
		t.Errorf("client total after a repeated delete = %d, want 3", n)
	}
	for {
		keys, err := st.DrainDeletedClients(ctx, t0, 100)
		if err != nil {
			t.Fatalf("DrainDeletedClients: %v", err)
		}
		if len(keys) == 0 {
			break
		}
	}
	if a, live := clientTotal(sc.a), clientTotal(sc.aLive); a != 3 || live != 1 {
		t.Errorf("client totals after the purge = %d, %d; want 3, 1", a, live)
	}
	if n := photoTotal(sc.a, cs[1].ID); n != 1 {
		t.Errorf("photo total of another client = %d, want 1", n)
	}
}

// testChunks reads pages a chunk at a time, through facevault.Paged, with
// every chunk size up to the page's, over lists with ties on createdAt, and
// checks each page holds what the whole list does at its place.
func testChunks(t *testing.T, st facevault.Store) {
	ctx := t.Context()
	sc := mustScopes(t, st)
	owner := mustCreateClient(t, st, sc.a, newPerson(t0.Add(-time.Hour), "Chunk", "Owner"))
	// Seven photos and seven more clients (eight with the owner), created
	// over three milliseconds with IDs in neither order.
	at := []time.Time{t0, t0.Add(time.Millisecond), t0.Add(time.Millisecond), t0, t0.Add(2 * time.Millisecond), t0.Add(time.Millisecond), t0}
	order := []int{40, 10, 60, 30, 20, 70, 50}
	var photos, clients []string
	created := map[string]time.Time{owner.ID: owner.CreatedAt}
	for i, n := range order {
		p := newPhoto(at[i], owner.ID)
		p.ID = id(n)
		p.UpdatedAt = at[i].Add(time.Duration(n) * time.Millisecond)
		mustCreatePhoto(t, st, sc.a, p)
		photos = append(photos, p.ID)
		c := newPerson(at[i], "Chunk", fmt.Sprint(n))
		c.ID = id(n + 1)
		c.Email = "chunk" + c.ID + "@example.com"
		mustCreateClient(t, st, sc.a, c)
		clients = append(clients, c.ID)
		created[p.ID], created[c.ID] = at[i], at[i]
	}
	clients = append(clients, owner.ID)
	photoOrder, clientOrder := newest(photos, created), newest(clients, created)

	for size := 1; size <= 9; size++ {
		for page := 1; page*size <= 9+size; page++ {
			for limit := 1; limit <= size; limit++ {
				o := facevault.ListOptions{Page: facevault.Page{Page: page, PageSize: size}}
				from, to := min((page-1)*size, 8), min(page*size, 8)
				name := fmt.Sprintf("page%d-size%d-chunk%d", page, size, limit)
				n, got := readChunked(t, o, limit, func(o facevault.ListOptions) ([]*facevault.Client, int, error) {
					return st.Clients(ctx, sc.a, facevault.ClientFilter{ListOptions: o})
				}, func(c *facevault.Client) facevault.Cursor { return facevault.Cursor{CreatedAt: c.CreatedAt, ID: c.ID} },
					func(c *facevault.Client) string { return c.ID })
				checkIDs(t, name+" clients", got, clientOrder[from:to])
				if n != 8 {
					t.Errorf("%s: clients total %d, want 8", name, n)
				}
				from, to = min((page-1)*size, 7), min(page*size, 7)
				n, got = readChunked(t, o, limit, func(o facevault.ListOptions) ([]*facevault.LivePhoto, int, error) {
					return st.LivePhotos(ctx, sc.a, owner.ID, o)
				}, func(p *facevault.LivePhoto) facevault.Cursor {
					return facevault.Cursor{CreatedAt: p.CreatedAt, ID: p.ID}
				},
					func(p *facevault.LivePhoto) string { return p.ID })
				checkIDs(t, name+" photos", got, photoOrder[from:to])
				if n != 7 {
					t.Errorf("%s: photos total %d, want 7", name, n)
				}
			}
		}
	}

	t.Run("Filtered", func(t *testing.T) {
		// Continuing after a cursor keeps the filters.
		r := facevault.TimeRange{CreatedAfter: t0.Add(-time.Millisecond), UpdatedBefore: t0.Add(55 * time.Millisecond)}
		o := facevault.ListOptions{Page: facevault.Page{Page: 1, PageSize: 10}, TimeRange: r}
		var want []string
		for _, id := range photoOrder {
			i := slices.Index(photos, id)
			if at[i].Add(time.Duration(order[i])*time.Millisecond).Before(r.UpdatedBefore) && at[i].After(r.CreatedAfter) {
				want = append(want, id)
			}
		}
		n, got := readChunked(t, o, 2, func(o facevault.ListOptions) ([]*facevault.LivePhoto, int, error) {
			return st.LivePhotos(ctx, sc.a, owner.ID, o)
		}, func(p *facevault.LivePhoto) facevault.Cursor {
			return facevault.Cursor{CreatedAt: p.CreatedAt, ID: p.ID}
		},
			func(p *facevault.LivePhoto) string { return p.ID })
		checkIDs(t, "filtered photos", got, want)
		if n != len(want) || len(want) < 3 {
			t.Errorf("filtered total %d, want %d (at least 3, for chunks to matter)", n, len(want))
		}
		f := facevault.ClientFilter{ListOptions: o, Fields: map[string]string{"personDetails.firstName": "Chunk"}}
		n, gotClients := readChunked(t, f.ListOptions, 3, func(o facevault.ListOptions) ([]*facevault.Client, int, error) {
			f.ListOptions = o
			return st.Clients(ctx, sc.a, f)
		}, func(c *facevault.Client) facevault.Cursor { return facevault.Cursor{CreatedAt: c.CreatedAt, ID: c.ID} },
			func(c *facevault.Client) string { return c.ID })
		checkIDs(t, "filtered clients", gotClients, clientOrder[:7])
		if n != 7 {
			t.Errorf("filtered clients total %d, want 7", n)
		}
	})

	t.Run("AfterDoesNotCount", func(t *testing.T) {
		o := facevault.ListOptions{Page: all, Limit: 2, After: &facevault.Cursor{CreatedAt: created[photoOrder[1]], ID: photoOrder[1]}}
		ps, n, err := st.LivePhotos(ctx, sc.a, owner.ID, o)
		if err != nil {
			t.Fatalf("LivePhotos: %v", err)
		}
		checkIDs(t, "after the second photo", photoIDs(ps), photoOrder[2:4])
		if n != -1 {
			t.Errorf("total of a continued chunk = %d, want -1", n)
		}
	})
}

// readChunked reads one page through facevault.Paged with chunks of at most
// limit items, returning the total and the IDs read.
func readChunked[T any](t *testing.T, o facevault.ListOptions, limit int, fetch func(facevault.ListOptions) ([]T, int, error), pos func(T) facevault.Cursor, id func(T) string) (int, []string) {
	t.Helper()
	total, seq, err := facevault.Paged(o, limit, func(o facevault.ListOptions) ([]T, int, error) {
		if o.Limit > limit || o.Limit < 1 {
			t.Fatalf("Paged asked for %d items in a chunk of at most %d", o.Limit, limit)
		}
		return fetch(o)
	}, pos)
	if err != nil {
		t.Fatalf("list: %v", err)
	}
	ids := []string{}
	for item, err := range seq {
		if err != nil {
			t.Fatalf("list: %v", err)
		}
		ids = append(ids, id(item))
	}
	return total, ids
}
