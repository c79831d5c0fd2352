package storetest

import (
	"context"
	"errors"
	"log/slog"
	"slices"
	"testing"
	"time"

	"github.com/facevault/facevault"
)

func newCheck(at time.Time, client, photo string) *facevault.Check {
	return &facevault.Check{ID: facevault.NewID(at), ClientID: client, Type: facevault.CheckFaceAuthentication,
		LivePhotoID: photo, Status: facevault.CheckPending, CreatedAt: at, UpdatedAt: at}
}

func mustCreateCheck(t *testing.T, st facevault.Store, s facevault.Scope, c *facevault.Check) *facevault.Check {
	t.Helper()
	if err := st.CreateCheck(t.Context(), s, c); err != nil {
		t.Fatalf("CreateCheck(%s): %v", c.ID, err)
	}
	return c
}

func checkIDsOf(cs []*facevault.Check) []string {
	ids := []string{}
	for _, c := range cs {
		ids = append(ids, c.ID)
	}
	return ids
}

// testChecks: create, get, list with filters and paging, scope isolation,
// validation, and that a photo a check uses cannot be deleted but can be
// redacted, and that deleting a client deletes its checks.
func testChecks(t *testing.T, st facevault.Store) {
	ctx := t.Context()
	sc := mustScopes(t, st)
	alice := mustCreateClient(t, st, sc.a, newPerson(t0, "Alice", "A"))
	bob := mustCreateClient(t, st, sc.a, newPerson(t0.Add(time.Millisecond), "Bob", "B"))
	pa := mustCreatePhoto(t, st, sc.a, newPhoto(t0.Add(2*time.Millisecond), alice.ID))
	pb := mustCreatePhoto(t, st, sc.a, newPhoto(t0.Add(3*time.Millisecond), bob.ID))

	t.Run("ErrPhotoOfAnotherClient", func(t *testing.T) {
		wantNotFound(t, "CreateCheck(alice, bob's photo)", st.CreateCheck(ctx, sc.a, newCheck(t0, alice.ID, pb.ID)))
		wantNotFound(t, "CreateCheck(unknown photo)", st.CreateCheck(ctx, sc.a, newCheck(t0, alice.ID, id(999))))
		wantNotFound(t, "CreateCheck(other mode)", st.CreateCheck(ctx, sc.aLive, newCheck(t0, alice.ID, pa.ID)))
		wantNotFound(t, "CreateCheck(other account)", st.CreateCheck(ctx, sc.b, newCheck(t0, alice.ID, pa.ID)))
	})

	c1 := mustCreateCheck(t, st, sc.a, newCheck(t0.Add(10*time.Millisecond), alice.ID, pa.ID))
	c2 := mustCreateCheck(t, st, sc.a, newCheck(t0.Add(11*time.Millisecond), alice.ID, pa.ID))
	c3 := mustCreateCheck(t, st, sc.a, newCheck(t0.Add(12*time.Millisecond), bob.ID, pb.ID))

	t.Run("Get", func(t *testing.T) {
		got, err := st.Check(ctx, sc.a, c1.ID)
		if err != nil {
			t.Fatalf("Check: %v", err)
		}
		if got.ClientID != alice.ID || got.LivePhotoID != pa.ID || got.Status != facevault.CheckPending ||
			got.Type != facevault.CheckFaceAuthentication || got.Result != nil || got.Scope != sc.a ||
			!got.CreatedAt.Equal(c1.CreatedAt) {
			t.Errorf("Check = %+v, want %+v", got, c1)
		}
		_, err = st.Check(ctx, sc.aLive, c1.ID)
		wantNotFound(t, "Check(other mode)", err)
		_, err = st.Check(ctx, sc.b, c1.ID)
		wantNotFound(t, "Check(other account)", err)
	})

	list := func(f facevault.CheckFilter) ([]string, int) {
		t.Helper()
		if f.Page == (facevault.Page{}) {
			f.Page = all
		}
		cs, total, err := st.Checks(ctx, sc.a, f)
		if err != nil {
			t.Fatalf("Checks(%+v): %v", f, err)
		}
		return checkIDsOf(cs), total
	}
	t.Run("List", func(t *testing.T) {
		got, total := list(facevault.CheckFilter{})
		checkIDs(t, "all", got, []string{c3.ID, c2.ID, c1.ID})
		if total != 3 {
			t.Errorf("total = %d, want 3", total)
		}
		got, _ = list(facevault.CheckFilter{ClientID: alice.ID})
		checkIDs(t, "clientId", got, []string{c2.ID, c1.ID})
		got, _ = list(facevault.CheckFilter{Type: "identity_check"})
		checkIDs(t, "type", got, []string{})
		got, _ = list(facevault.CheckFilter{Status: facevault.CheckPending, ClientID: bob.ID})
		checkIDs(t, "status+clientId", got, []string{c3.ID})
		got, _ = list(facevault.CheckFilter{ListOptions: facevault.ListOptions{TimeRange: facevault.TimeRange{CreatedAfter: c1.CreatedAt}}})
		checkIDs(t, "createdAfter", got, []string{c3.ID, c2.ID})
		got, total = list(facevault.CheckFilter{ListOptions: facevault.ListOptions{Page: facevault.Page{Page: 2, PageSize: 2}}})
		checkIDs(t, "page 2", got, []string{c1.ID})
		if total != 3 {
			t.Errorf("page 2 total = %d, want 3", total)
		}
		got, _ = list(facevault.CheckFilter{LivePhotoID: pb.ID})
		checkIDs(t, "livePhotoId", got, []string{c3.ID})
		got, total = list(facevault.CheckFilter{ListOptions: facevault.ListOptions{Impossible: true}})
		checkIDs(t, "impossible", got, []string{})
		cs, _, err := st.Checks(ctx, sc.aLive, facevault.CheckFilter{ListOptions: facevault.ListOptions{Page: all}})
		if err != nil || len(cs) != 0 {
			t.Errorf("Checks(other mode) = %d checks, %v; want none", len(cs), err)
		}
	})

	t.Run("ErrDeletePhotoInUse", func(t *testing.T) {
		_, err := st.DeleteLivePhoto(ctx, sc.a, pa.ID, t0.Add(time.Second))
		if !errors.Is(err, facevault.ErrInUse) {
			t.Fatalf("DeleteLivePhoto(photo in use) err = %v, want ErrInUse", err)
		}
		if _, err := st.LivePhoto(ctx, sc.a, pa.ID); err != nil {
			t.Errorf("photo after refused delete: %v", err)
		}
		free := mustCreatePhoto(t, st, sc.a, newPhoto(t0.Add(4*time.Millisecond), alice.ID))
		if _, err := st.DeleteLivePhoto(ctx, sc.a, free.ID, t0.Add(time.Second)); err != nil {
			t.Errorf("DeleteLivePhoto(photo no check uses): %v", err)
		}
	})

	t.Run("Validate", func(t *testing.T) {
		v := *c3
		v.Validation = &facevault.CheckValidation{Outcome: facevault.OutcomeClear, Comment: "seen", ValidatedAt: t0.Add(time.Hour)}
		v.UpdatedAt = t0.Add(time.Hour)
		wantNotFound(t, "ValidateCheck(pending)", st.ValidateCheck(ctx, sc.a, &v))
		claimed, err := st.ClaimCheck(ctx, "node", t0.Add(time.Hour), time.Minute)
		if err != nil {
			t.Fatalf("ClaimCheck: %v", err)
		}
		// Complete every check, oldest first.
		for claimed != nil {
			claimed.Status, claimed.UpdatedAt = facevault.CheckComplete, t0.Add(time.Hour)
			claimed.Result = &facevault.CheckResult{Outcome: facevault.OutcomeClear}
			if err := st.FinishCheck(ctx, claimed, "node"); err != nil {
				t.Fatalf("FinishCheck: %v", err)
			}
			if claimed, err = st.ClaimCheck(ctx, "node", t0.Add(time.Hour), time.Minute); errors.Is(err, facevault.ErrNotFound) {
				claimed = nil
			} else if err != nil {
				t.Fatal(err)
			}
		}
		wantNotFound(t, "ValidateCheck(other mode)", st.ValidateCheck(ctx, sc.aLive, &v))
		if err := st.ValidateCheck(ctx, sc.a, &v); err != nil {
			t.Fatalf("ValidateCheck: %v", err)
		}
		got, err := st.Check(ctx, sc.a, c3.ID)
		if err != nil {
			t.Fatal(err)
		}
		if got.Validation == nil || got.Validation.Outcome != facevault.OutcomeClear || got.Validation.Comment != "seen" ||
			!got.Validation.ValidatedAt.Equal(t0.Add(time.Hour)) || got.Result == nil || got.Result.Outcome != facevault.OutcomeClear {
			t.Errorf("validated check = %+v, validation %+v", got, got.Validation)
		}
	})

	t.Run("DeleteChecksOfPhoto", func(t *testing.T) {
		other := mustCreatePhoto(t, st, sc.a, newPhoto(t0.Add(5*time.Millisecond), bob.ID))
		c4 := mustCreateCheck(t, st, sc.a, newCheck(t0.Add(13*time.Millisecond), bob.ID, other.ID))
		if n, err := st.DeleteChecksOfPhoto(ctx, sc.aLive, other.ID); err != nil || n != 0 {
			t.Errorf("DeleteChecksOfPhoto(other mode) = %d, %v; want 0", n, err)
		}
		if n, err := st.DeleteChecksOfPhoto(ctx, sc.a, other.ID); err != nil || n != 1 {
			t.Fatalf("DeleteChecksOfPhoto = %d, %v; want 1", n, err)
		}
		_, err := st.Check(ctx, sc.a, c4.ID)
		wantNotFound(t, "Check after DeleteChecksOfPhoto", err)
		if _, err := st.Check(ctx, sc.a, c3.ID); err != nil {
			t.Errorf("a check of another photo: %v", err)
		}
		if _, err := st.DeleteLivePhoto(ctx, sc.a, other.ID, t0.Add(time.Second)); err != nil {
			t.Errorf("DeleteLivePhoto once its checks are gone: %v", err)
		}
	})

	t.Run("RedactPhotoInUse", func(t *testing.T) {
		p, err := st.RedactLivePhoto(ctx, sc.a, pa.ID, t0.Add(2*time.Second))
		if err != nil || !p.Redacted() {
			t.Fatalf("RedactLivePhoto(photo in use) = %v, %v; want redacted", p, err)
		}
	})

	t.Run("DeleteClientDeletesChecks", func(t *testing.T) {
		if err := st.DeleteClient(ctx, sc.a, alice.ID, t0.Add(3*time.Second)); err != nil {
			t.Fatal(err)
		}
		for _, c := range []*facevault.Check{c1, c2} {
			_, err := st.Check(ctx, sc.a, c.ID)
			wantNotFound(t, "Check of deleted client", err)
		}
		got, total := list(facevault.CheckFilter{})
		checkIDs(t, "after client deletion", got, []string{c3.ID})
		if total != 1 {
			t.Errorf("total = %d, want 1", total)
		}
		// The drain can remove the client's photos: no check holds them.
		for range 10 {
			if keys, err := st.DrainDeletedClients(ctx, t0.Add(4*time.Second), 100); err != nil {
				t.Fatalf("DrainDeletedClients: %v", err)
			} else if len(keys) == 0 {
				break
			}
		}
		if b, err := st.PurgeBacklog(ctx); err != nil || b.DeletedClients != 0 {
			t.Errorf("PurgeBacklog = %+v, %v; want no deleted client left to drain", b, err)
		}
	})
}

// testCheckQueue: claims take the oldest pending check under a lease;
// another holder cannot claim or finish it until the lease expires; then it
// can, and the first holder's finish is refused.
func testCheckQueue(t *testing.T, st facevault.Store) {
	ctx := t.Context()
	sc := mustScopes(t, st)
	alice := mustCreateClient(t, st, sc.a, newPerson(t0, "Alice", "A"))
	pa := mustCreatePhoto(t, st, sc.a, newPhoto(t0.Add(time.Millisecond), alice.ID))
	carol := mustCreateClient(t, st, sc.b, newPerson(t0, "Carol", "C"))
	pc := mustCreatePhoto(t, st, sc.b, newPhoto(t0.Add(time.Millisecond), carol.ID))
	older := mustCreateCheck(t, st, sc.b, newCheck(t0.Add(10*time.Millisecond), carol.ID, pc.ID))
	newer := mustCreateCheck(t, st, sc.a, newCheck(t0.Add(20*time.Millisecond), alice.ID, pa.ID))
	const ttl = time.Minute
	now := t0.Add(time.Second)

	claim := func(holder string, at time.Time) *facevault.Check {
		t.Helper()
		c, err := st.ClaimCheck(ctx, holder, at, ttl)
		if errors.Is(err, facevault.ErrNotFound) {
			return nil
		}
		if err != nil {
			t.Fatalf("ClaimCheck(%s): %v", holder, err)
		}
		return c
	}
	first := claim("node-a", now)
	if first == nil || first.ID != older.ID || first.Scope != sc.b {
		t.Fatalf("first claim = %+v, want %s of scope %+v (oldest, any scope)", first, older.ID, sc.b)
	}
	second := claim("node-b", now)
	if second == nil || second.ID != newer.ID || second.Scope != sc.a {
		t.Fatalf("second claim = %+v, want %s", second, newer.ID)
	}
	if c := claim("node-c", now.Add(ttl-time.Millisecond)); c != nil {
		t.Fatalf("claim while both leased = %s, want none", c.ID)
	}
	// node-a dies. Its lease expires; node-c takes the check over.
	again := claim("node-c", now.Add(ttl))
	if again == nil || again.ID != older.ID {
		t.Fatalf("claim after lease expiry = %+v, want %s", again, older.ID)
	}
	again.Status, again.UpdatedAt = facevault.CheckComplete, now.Add(ttl)
	again.Result = &facevault.CheckResult{Outcome: facevault.OutcomeAttention}
	stale := *again
	wantNotFound(t, "FinishCheck(by the holder whose lease expired)", st.FinishCheck(ctx, &stale, "node-a"))
	if err := st.FinishCheck(ctx, again, "node-c"); err != nil {
		t.Fatalf("FinishCheck(node-c): %v", err)
	}
	wantNotFound(t, "FinishCheck(twice)", st.FinishCheck(ctx, again, "node-c"))
	got, err := st.Check(ctx, sc.b, older.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Status != facevault.CheckComplete || got.Result == nil || got.Result.Outcome != facevault.OutcomeAttention ||
		!got.UpdatedAt.Equal(now.Add(ttl)) {
		t.Errorf("finished check = %+v (result %+v)", got, got.Result)
	}
	if c := claim("node-d", now.Add(10*ttl)); c == nil || c.ID != newer.ID {
		t.Errorf("claim after all leases expired = %+v, want %s (the pending one only)", c, newer.ID)
	}
	if c := claim("node-e", now.Add(10*ttl)); c != nil {
		t.Errorf("claim with nothing free = %s", c.ID)
	}
}

// testEnrolledFaces: a client's enrolled photos are those with an
// embedding, not opted out, not redacted, of the scope only, and none once
// the client is deleted.
func testEnrolledFaces(t *testing.T, st facevault.Store) {
	ctx := t.Context()
	sc := mustScopes(t, st)
	alice := mustCreateClient(t, st, sc.a, newPerson(t0, "Alice", "A"))
	bob := mustCreateClient(t, st, sc.a, newPerson(t0, "Bob", "B"))
	gone := mustCreateClient(t, st, sc.a, newPerson(t0, "Gone", "G"))
	photo := func(s facevault.Scope, client string, i int, enrolled bool, emb []byte) *facevault.LivePhoto {
		p := newPhoto(t0.Add(time.Duration(i)*time.Millisecond), client)
		p.Enrolled, p.SealedEmbedding = enrolled, emb
		return mustCreatePhoto(t, st, s, p)
	}
	e := []byte{1, 2, 3, 4}
	a1 := photo(sc.a, alice.ID, 1, true, e)
	photo(sc.a, alice.ID, 2, false, e)  // opted out
	photo(sc.a, alice.ID, 3, true, nil) // no embedding
	redacted := photo(sc.a, alice.ID, 4, true, e)
	a5 := photo(sc.a, alice.ID, 5, true, e)
	b1 := photo(sc.a, bob.ID, 6, true, e)
	photo(sc.a, gone.ID, 7, true, e)
	if _, err := st.RedactLivePhoto(ctx, sc.a, redacted.ID, t0.Add(time.Second)); err != nil {
		t.Fatal(err)
	}
	if err := st.DeleteClient(ctx, sc.a, gone.ID, t0.Add(time.Second)); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		s      facevault.Scope
		client string
		want   []string
	}{
		{sc.a, alice.ID, sorted(a1.ID, a5.ID)},
		{sc.a, bob.ID, []string{b1.ID}},
		{sc.a, gone.ID, nil},
		{sc.aLive, alice.ID, nil},
	} {
		ids, err := st.EnrolledFaceIDs(ctx, tc.s, tc.client)
		if err != nil {
			t.Fatalf("EnrolledFaceIDs: %v", err)
		}
		if !slices.Equal(ids, tc.want) {
			t.Errorf("EnrolledFaceIDs(%s, %s) = %v, want %v", tc.s.Mode, tc.client, ids, tc.want)
		}
	}
}

// testCheckAttempts: each claim counts an attempt; a postponed check is not
// claimed again before its time, by any holder, and only its holder can
// postpone it.
func testCheckAttempts(t *testing.T, st facevault.Store) {
	ctx := t.Context()
	sc := mustScopes(t, st)
	alice := mustCreateClient(t, st, sc.a, newPerson(t0, "Alice", "A"))
	pa := mustCreatePhoto(t, st, sc.a, newPhoto(t0.Add(time.Millisecond), alice.ID))
	c := mustCreateCheck(t, st, sc.a, newCheck(t0.Add(10*time.Millisecond), alice.ID, pa.ID))
	now := t0.Add(time.Second)
	got, err := st.ClaimCheck(ctx, "node-a", now, time.Minute)
	if err != nil || got.ID != c.ID || got.Attempts != 1 {
		t.Fatalf("first claim = %+v, %v; want %s at attempt 1", got, err, c.ID)
	}
	if err := st.PostponeCheck(ctx, got, "node-b", now.Add(time.Hour)); !errors.Is(err, facevault.ErrNotFound) {
		t.Errorf("PostponeCheck by another holder = %v, want ErrNotFound", err)
	}
	if err := st.PostponeCheck(ctx, got, "node-a", now.Add(time.Hour)); err != nil {
		t.Fatalf("PostponeCheck: %v", err)
	}
	if again, err := st.ClaimCheck(ctx, "node-b", now.Add(time.Hour-time.Millisecond), time.Minute); !errors.Is(err, facevault.ErrNotFound) {
		t.Fatalf("claim before the postponed time = %+v, %v; want ErrNotFound", again, err)
	}
	again, err := st.ClaimCheck(ctx, "node-b", now.Add(time.Hour), time.Minute)
	if err != nil || again.ID != c.ID || again.Attempts != 2 {
		t.Fatalf("claim at the postponed time = %+v, %v; want %s at attempt 2", again, err, c.ID)
	}
	if reread, err := st.Check(ctx, sc.a, c.ID); err != nil || reread.Attempts != 2 {
		t.Errorf("Check after two claims = %+v, %v; want attempts 2", reread, err)
	}
	again.Status, again.UpdatedAt = facevault.CheckFailed, now.Add(time.Hour)
	if err := st.FinishCheck(ctx, again, "node-b"); err != nil {
		t.Fatalf("FinishCheck: %v", err)
	}
	if err := st.PostponeCheck(ctx, again, "node-b", now.Add(2*time.Hour)); !errors.Is(err, facevault.ErrNotFound) {
		t.Errorf("PostponeCheck of a finished check = %v, want ErrNotFound", err)
	}
}

// checkWatcher is a store that tells of new checks (PostgreSQL's).
type checkWatcher interface {
	WatchChecks(ctx context.Context, logger *slog.Logger) <-chan struct{}
}

// testCheckNotices: on a store that tells of new checks, a watcher (on a
// connection of its own) hears of a check soon after its creation commits. A store without notices has nothing to test: its runners
// poll.
func testCheckNotices(t *testing.T, st facevault.Store) {
	w, ok := st.(checkWatcher)
	if !ok {
		return
	}
	ctx, cancel := context.WithCancel(t.Context())
	notices := w.WatchChecks(ctx, slog.New(slog.DiscardHandler))
	// The first value says the watcher listens.
	select {
	case <-notices:
	case <-time.After(10 * time.Second):
		t.Fatal("the watcher did not start listening within 10s")
	}
	sc := mustScopes(t, st)
	alice := mustCreateClient(t, st, sc.a, newPerson(t0, "Alice", "A"))
	pa := mustCreatePhoto(t, st, sc.a, newPhoto(t0.Add(time.Millisecond), alice.ID))
	mustCreateCheck(t, st, sc.a, newCheck(t0.Add(10*time.Millisecond), alice.ID, pa.ID))
	select {
	case <-notices:
	case <-time.After(10 * time.Second):
		t.Fatal("no notice of a new check within 10s")
	}
	cancel()
	for range notices { // closed once ctx is done
	}
}
