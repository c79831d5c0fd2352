package storetest

import (
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/facevault/facevault"
)

// idemLease is the lease the tests give in-progress records.
const idemLease = 5 * time.Minute

// begin claims key in s for token at at, and returns the record that holds
// the key instead, if any.
func begin(t *testing.T, st facevault.Store, s facevault.Scope, key, token string, at time.Time) *facevault.IdempotentRequest {
	t.Helper()
	held, err := st.BeginIdempotent(t.Context(), &facevault.IdempotentRequest{
		Scope: s, Key: key, Token: token, CreatedAt: at, LeaseUntil: at.Add(idemLease),
	}, at.Add(-facevault.IdempotencyTTL))
	if err != nil {
		t.Fatalf("BeginIdempotent(%s, %s): %v", key, token, err)
	}
	return held
}

// finish stores an answer on the record of token and reports whether it was
// stored.
func finish(t *testing.T, st facevault.Store, r facevault.IdempotentRequest) bool {
	t.Helper()
	ok, err := st.FinishIdempotent(t.Context(), &r)
	if err != nil {
		t.Fatalf("FinishIdempotent(%s, %s): %v", r.Key, r.Token, err)
	}
	return ok
}

func testIdempotency(t *testing.T, st facevault.Store) {
	ctx := t.Context()
	sc := mustScopes(t, st)
	c := mustCreateClient(t, st, sc.a, newPerson(t0, "Ada", "Lovelace"))

	// The first claim wins; a second sees the record in progress.
	if held := begin(t, st, sc.a, "k1", "tok-1", t0); held != nil {
		t.Fatalf("first claim: held by %+v, want claimed", held)
	}
	held := begin(t, st, sc.a, "k1", "tok-2", t0.Add(time.Second))
	if held == nil || held.Done() || held.Token != "tok-1" || !utc(held.CreatedAt).Equal(t0) ||
		!utc(held.LeaseUntil).Equal(t0.Add(idemLease)) {
		t.Fatalf("second claim: held = %+v, want tok-1's record in progress", held)
	}
	// Keys are scoped: the other mode and another account claim their own.
	for _, s := range []facevault.Scope{sc.aLive, sc.b} {
		if held := begin(t, st, s, "k1", "tok-other", t0); held != nil {
			t.Errorf("claim of k1 in %+v: held by %+v, want claimed", s, held)
		}
	}

	// Only the holder's token finishes the record.
	answer := facevault.IdempotentRequest{Scope: sc.a, Key: "k1", Token: "tok-2", Fingerprint: "fp",
		Status: 200, Body: []byte(`{"id":"x"}`), ClientID: c.ID, ResourceID: "photo-1"}
	if finish(t, st, answer) {
		t.Errorf("FinishIdempotent with another execution's token stored the answer")
	}
	answer.Token = "tok-1"
	if !finish(t, st, answer) {
		t.Fatalf("FinishIdempotent with the holder's token stored nothing")
	}
	if finish(t, st, answer) {
		t.Errorf("FinishIdempotent of a record already done stored again")
	}
	held = begin(t, st, sc.a, "k1", "tok-3", t0.Add(time.Hour))
	if held == nil || !held.Done() || held.Status != 200 || string(held.Body) != `{"id":"x"}` ||
		held.Fingerprint != "fp" || held.ClientID != c.ID || held.ResourceID != "photo-1" {
		t.Fatalf("claim of a done key: held = %+v, want the stored answer", held)
	}
	// A done record is never taken over by its lease, only by its age.
	held = begin(t, st, sc.a, "k1", "tok-4", t0.Add(facevault.IdempotencyTTL-time.Millisecond))
	if held == nil || !held.Done() {
		t.Fatalf("claim just before expiry: held = %+v, want the stored answer", held)
	}
	if held := begin(t, st, sc.a, "k1", "tok-5", t0.Add(facevault.IdempotencyTTL)); held != nil {
		t.Fatalf("claim of an expired key: held by %+v, want claimed", held)
	}

	// An in-progress record whose lease has passed is taken over; the old
	// execution can then neither finish nor abandon it.
	at := t0.Add(2 * time.Hour)
	begin(t, st, sc.a, "k2", "dead", at)
	if held := begin(t, st, sc.a, "k2", "late", at.Add(idemLease-time.Millisecond)); held == nil {
		t.Fatalf("claim before the lease passed succeeded")
	}
	if held := begin(t, st, sc.a, "k2", "late", at.Add(idemLease)); held != nil {
		t.Fatalf("claim after the lease passed: held by %+v, want claimed", held)
	}
	if err := st.AbandonIdempotent(ctx, sc.a, "k2", "dead"); err != nil {
		t.Fatalf("AbandonIdempotent: %v", err)
	}
	if finish(t, st, facevault.IdempotentRequest{Scope: sc.a, Key: "k2", Token: "dead", Status: 200}) {
		t.Errorf("the execution that lost its lease stored its answer")
	}
	if held := begin(t, st, sc.a, "k2", "third", at.Add(idemLease+time.Second)); held == nil || held.Token != "late" {
		t.Fatalf("after the old execution's abandon: held = %+v, want late's record", held)
	}
	// Abandoning frees the key at once.
	if err := st.AbandonIdempotent(ctx, sc.a, "k2", "late"); err != nil {
		t.Fatalf("AbandonIdempotent: %v", err)
	}
	if held := begin(t, st, sc.a, "k2", "fourth", at.Add(idemLease+time.Second)); held != nil {
		t.Fatalf("claim after abandon: held by %+v, want claimed", held)
	}
	// Abandon leaves a done record alone.
	finish(t, st, facevault.IdempotentRequest{Scope: sc.a, Key: "k2", Token: "fourth", Fingerprint: "f", Status: 404, Body: []byte(`{}`)})
	if err := st.AbandonIdempotent(ctx, sc.a, "k2", "fourth"); err != nil {
		t.Fatalf("AbandonIdempotent: %v", err)
	}
	if held := begin(t, st, sc.a, "k2", "fifth", at.Add(idemLease+2*time.Second)); held == nil || held.Status != 404 {
		t.Fatalf("abandon removed a done record: held = %+v", held)
	}

	// Expiry removes records created at or before the bound, in batches.
	if n, err := st.ExpireIdempotent(ctx, t0, 1); err != nil || n != 1 {
		t.Fatalf("ExpireIdempotent(limit 1) = %d, %v; want 1", n, err)
	}
	if n, err := st.ExpireIdempotent(ctx, t0, 100); err != nil || n != 1 {
		t.Fatalf("ExpireIdempotent = %d, %v; want the other record made at t0", n, err)
	}
	if held := begin(t, st, sc.aLive, "k1", "again", t0.Add(time.Minute)); held != nil {
		t.Errorf("an expired record is still there: %+v", held)
	}
}

func testIdempotencyDeletes(t *testing.T, st facevault.Store) {
	ctx := t.Context()
	sc := mustScopes(t, st)
	c := mustCreateClient(t, st, sc.a, newPerson(t0, "Ada", "Lovelace"))
	other := mustCreateClient(t, st, sc.a, newPerson(t0, "Grace", "Hopper"))
	p := mustCreatePhoto(t, st, sc.a, newPhoto(t0, c.ID))
	q := mustCreatePhoto(t, st, sc.a, newPhoto(t0.Add(time.Millisecond), other.ID))
	r := mustCreatePhoto(t, st, sc.a, newPhoto(t0.Add(2*time.Millisecond), other.ID))
	store := func(key, client, resource string) {
		t.Helper()
		if held := begin(t, st, sc.a, key, "tok", t0); held != nil {
			t.Fatalf("claim %s: held by %+v", key, held)
		}
		if !finish(t, st, facevault.IdempotentRequest{Scope: sc.a, Key: key, Token: "tok", Fingerprint: "f",
			Status: 200, Body: []byte(`{}`), ClientID: client, ResourceID: resource}) {
			t.Fatalf("answer of %s not stored", key)
		}
	}
	stored := func(key string) bool {
		t.Helper()
		held := begin(t, st, sc.a, key, "probe", t0.Add(time.Second))
		if held == nil {
			if err := st.AbandonIdempotent(ctx, sc.a, key, "probe"); err != nil {
				t.Fatal(err)
			}
		}
		return held != nil
	}
	store("client", c.ID, c.ID)
	store("photo", c.ID, p.ID)
	store("other", other.ID, other.ID)
	store("deleted-photo", other.ID, q.ID)
	store("redacted-photo", other.ID, r.ID)
	store("none", "", "")
	ck := mustCreateCheck(t, st, sc.a, newCheck(t0, other.ID, q.ID))
	store("check", other.ID, ck.ID)

	// Deleting the checks of a photo (as its retention does) deletes the
	// answers that show them; deleting or redacting a photo the answers
	// that show it.
	if n, err := st.DeleteChecksOfPhoto(ctx, sc.a, q.ID); err != nil || n != 1 {
		t.Fatalf("DeleteChecksOfPhoto = %d, %v; want 1", n, err)
	}
	if _, err := st.DeleteLivePhoto(ctx, sc.a, q.ID, t0); err != nil {
		t.Fatalf("DeleteLivePhoto: %v", err)
	}
	if _, err := st.RedactLivePhoto(ctx, sc.a, r.ID, t0); err != nil {
		t.Fatalf("RedactLivePhoto: %v", err)
	}
	// Deleting a client deletes every answer that shows it, in its
	// transaction.
	if err := st.DeleteClient(ctx, sc.a, c.ID, t0); err != nil {
		t.Fatalf("DeleteClient: %v", err)
	}
	var left []string
	for _, k := range []string{"client", "photo", "other", "deleted-photo", "redacted-photo", "none", "check"} {
		if stored(k) {
			left = append(left, k)
		}
	}
	if want := []string{"other", "none"}; !slices.Equal(left, want) {
		t.Errorf("stored answers left = %v, want %v", left, want)
	}

	// A success that shows a client deleted meanwhile is not stored, and
	// frees the key; an error about it is.
	if held := begin(t, st, sc.a, "late", "tok", t0); held != nil {
		t.Fatalf("claim: held by %+v", held)
	}
	if finish(t, st, facevault.IdempotentRequest{Scope: sc.a, Key: "late", Token: "tok", Fingerprint: "f",
		Status: 200, Body: []byte(`{}`), ClientID: c.ID}) {
		t.Errorf("a success showing a deleted client was stored")
	}
	if stored("late") {
		t.Errorf("the key of an answer not stored is still held")
	}
	if held := begin(t, st, sc.a, "late404", "tok", t0); held != nil {
		t.Fatalf("claim: held by %+v", held)
	}
	if !finish(t, st, facevault.IdempotentRequest{Scope: sc.a, Key: "late404", Token: "tok", Fingerprint: "f",
		Status: 404, Body: []byte(`{}`), ClientID: c.ID}) {
		t.Errorf("a 404 naming a deleted client was not stored")
	}
}

// testIdempotencyConcurrent claims one key from many goroutines at once:
// exactly one wins.
func testIdempotencyConcurrent(t *testing.T, st facevault.Store) {
	sc := mustScopes(t, st)
	const n = 16
	var wg sync.WaitGroup
	won := make([]bool, n)
	errs := make([]error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			held, err := st.BeginIdempotent(t.Context(), &facevault.IdempotentRequest{
				Scope: sc.a, Key: "race", Token: id(i), CreatedAt: t0, LeaseUntil: t0.Add(idemLease),
			}, t0.Add(-facevault.IdempotencyTTL))
			won[i], errs[i] = err == nil && held == nil, err
		}()
	}
	wg.Wait()
	winners := 0
	for i := range n {
		if errs[i] != nil {
			t.Errorf("claim %d: %v", i, errs[i])
		}
		if won[i] {
			winners++
		}
	}
	if winners != 1 {
		t.Errorf("%d claims of one key won, want 1", winners)
	}
}
