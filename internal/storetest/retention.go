package storetest

import (
	"slices"
	"testing"
	"time"

	"github.com/facevault/facevault"
)

// testRetention: which photos are due, under the scope's default, a
// client's own days or retainUntil, never under legal hold, never of a
// deleted client, never across scopes without a default; oldest first,
// within the limit.
func testRetention(t *testing.T, st facevault.Store) {
	ctx := t.Context()
	sc := mustScopes(t, st)
	day := 24 * time.Hour
	withRetention := func(s facevault.Scope, r *facevault.Retention) *facevault.Client {
		c := newPerson(t0, "R", "R")
		c.Retention = r
		return mustCreateClient(t, st, s, c)
	}
	plain := withRetention(sc.a, nil)
	own := withRetention(sc.a, &facevault.Retention{Days: 5})
	until := withRetention(sc.a, &facevault.Retention{RetainUntil: facevault.FormatRetainUntil(t0.Add(2 * day))})
	held := withRetention(sc.a, &facevault.Retention{Days: 1, LegalHold: true})
	gone := withRetention(sc.a, &facevault.Retention{Days: 1})
	live := withRetention(sc.aLive, nil)
	other := withRetention(sc.b, nil)

	old := mustCreatePhoto(t, st, sc.a, newPhoto(t0, plain.ID))
	newer := mustCreatePhoto(t, st, sc.a, newPhoto(t0.Add(10*day), plain.ID))
	ownPhoto := mustCreatePhoto(t, st, sc.a, newPhoto(t0.Add(time.Millisecond), own.ID))
	untilPhoto := mustCreatePhoto(t, st, sc.a, newPhoto(t0.Add(day), until.ID))
	mustCreatePhoto(t, st, sc.a, newPhoto(t0, held.ID))
	mustCreatePhoto(t, st, sc.a, newPhoto(t0, gone.ID))
	mustCreatePhoto(t, st, sc.aLive, newPhoto(t0, live.ID))
	mustCreatePhoto(t, st, sc.b, newPhoto(t0, other.ID))
	if err := st.DeleteClient(ctx, sc.a, gone.ID, t0); err != nil {
		t.Fatal(err)
	}
	if err := st.SetRetentionDefault(ctx, sc.a, 30); err != nil {
		t.Fatal(err)
	}
	if d, err := st.RetentionDefault(ctx, sc.a); err != nil || d != 30 {
		t.Fatalf("RetentionDefault = %d, %v; want 30", d, err)
	}
	for _, s := range []facevault.Scope{sc.aLive, sc.b} {
		if d, err := st.RetentionDefault(ctx, s); err != nil || d != 0 {
			t.Fatalf("RetentionDefault of another scope = %d, %v; want 0", d, err)
		}
	}

	due := func(now time.Time, n int) []string {
		t.Helper()
		refs, err := st.RetentionDue(ctx, now, n)
		if err != nil {
			t.Fatalf("RetentionDue: %v", err)
		}
		var ids []string
		for _, r := range refs {
			ids = append(ids, r.PhotoID)
			if r.ClientID == "" || r.Scope.AccountID == "" || r.SHA256 == "" {
				t.Errorf("RetentionDue gave %+v: want its scope, client and digest", r)
			}
		}
		return ids
	}
	for _, tc := range []struct {
		at   time.Duration
		want []string
	}{
		{day, nil},
		{2 * day, []string{untilPhoto.ID}},
		{5*day + time.Millisecond, []string{ownPhoto.ID, untilPhoto.ID}},
		{30 * day, []string{old.ID, ownPhoto.ID, untilPhoto.ID}},
		{40 * day, []string{old.ID, ownPhoto.ID, untilPhoto.ID, newer.ID}},
		{4000 * day, []string{old.ID, ownPhoto.ID, untilPhoto.ID, newer.ID}},
	} {
		if got := due(t0.Add(tc.at), 100); !slices.Equal(got, tc.want) {
			t.Errorf("due at t0+%v: %v, want %v", tc.at, got, tc.want)
		}
	}
	if got := due(t0.Add(40*day), 2); !slices.Equal(got, []string{old.ID, ownPhoto.ID}) {
		t.Errorf("due with a limit of 2: %v, want the two oldest", got)
	}
	// Cleared, the default no longer applies; the client's own rules do.
	if err := st.SetRetentionDefault(ctx, sc.a, 0); err != nil {
		t.Fatal(err)
	}
	if got := due(t0.Add(40*day), 100); !slices.Equal(got, []string{ownPhoto.ID, untilPhoto.ID}) {
		t.Errorf("due without a default: %v", got)
	}
	// A hold lifted, the held client's photo is due.
	if _, err := st.UpdateClient(ctx, sc.a, held.ID, func(c *facevault.Client) error {
		c.Retention.LegalHold = false
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if got := due(t0.Add(40*day), 100); len(got) != 3 {
		t.Errorf("due after the hold was lifted: %v, want 3", got)
	}
}
