package storetest

import (
	"fmt"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/facevault/facevault"
)

// auditEntry returns an entry of scope s about a client, as an API read
// would record it.
func auditEntry(s facevault.Scope, action, clientID string) *facevault.AuditEntry {
	return &facevault.AuditEntry{
		AccountID: s.AccountID, Mode: s.Mode, KeyID: id(7), Trigger: "getClient", Action: action,
		ResourceType: facevault.AuditClient, ResourceID: clientID, ClientID: clientID,
		Outcome: facevault.OutcomeSuccess, Status: 200, RequestID: facevault.NewID(t0), Source: "192.0.2.1", Count: 1,
	}
}

func mustAppend(t *testing.T, st facevault.Store, now time.Time, es ...*facevault.AuditEntry) {
	t.Helper()
	if err := st.AppendAudit(t.Context(), now, es...); err != nil {
		t.Fatalf("AppendAudit: %v", err)
	}
}

// normEntry is e with its time in UTC, for comparisons.
func normEntry(e *facevault.AuditEntry) facevault.AuditEntry {
	n := *e
	n.CreatedAt = utc(n.CreatedAt)
	return n
}

func checkEntry(t *testing.T, what string, got, want *facevault.AuditEntry) {
	t.Helper()
	if got == nil {
		t.Errorf("%s: got nil entry, want %+v", what, normEntry(want))
		return
	}
	if !reflect.DeepEqual(normEntry(got), normEntry(want)) {
		t.Errorf("%s:\ngot  %+v (diff %+v)\nwant %+v (diff %+v)", what, normEntry(got), got.Diff, normEntry(want), want.Diff)
	}
}

// chainOf reads the whole chain c.
func chainOf(t *testing.T, st facevault.Store, c facevault.AuditChainID) []*facevault.AuditEntry {
	t.Helper()
	es, err := st.AuditChain(t.Context(), c, 0, 1_000_000)
	if err != nil {
		t.Fatalf("AuditChain(%+v): %v", c, err)
	}
	return es
}

// wantVerified fails t unless VerifyAudit finds exactly the chains want
// (by chain and number of entries), none broken.
func wantVerified(t *testing.T, st facevault.Store, want map[facevault.AuditChainID]int64) {
	t.Helper()
	reports, err := facevault.VerifyAudit(t.Context(), st)
	if err != nil {
		t.Fatalf("VerifyAudit: %v", err)
	}
	got := map[facevault.AuditChainID]int64{}
	for _, r := range reports {
		if r.Break != nil {
			t.Errorf("VerifyAudit: chain %+v broken: %+v", r.AuditChainID, *r.Break)
		}
		if r.Entries != r.Seq {
			t.Errorf("VerifyAudit: chain %+v read %d entries, head says %d", r.AuditChainID, r.Entries, r.Seq)
		}
		got[r.AuditChainID] = r.Entries
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("VerifyAudit chains = %v, want %v", got, want)
	}
}

func testAuditAppend(t *testing.T, st facevault.Store) {
	ctx := t.Context()
	sc := mustScopes(t, st)
	chainA := facevault.AuditChainID{AccountID: sc.a.AccountID, Mode: sc.a.Mode}
	client := id(100)

	first := auditEntry(sc.a, facevault.ActionRead, client)
	update := auditEntry(sc.a, facevault.ActionUpdate, client)
	update.Trigger = "updateClient"
	update.Diff = &facevault.AuditDiff{Action: facevault.ActionUpdate, Path: []string{"email", "personDetails.firstName"}}
	mustAppend(t, st, t0.Add(123*time.Microsecond), first)
	mustAppend(t, st, t0.Add(time.Second), update)

	t.Run("OK", func(t *testing.T) {
		for i, e := range []*facevault.AuditEntry{first, update} {
			if !facevault.ValidID(e.ID) {
				t.Errorf("entry %d: ID %q is not an object ID", i, e.ID)
			}
			if e.Seq != int64(i+1) {
				t.Errorf("entry %d: Seq = %d, want %d", i, e.Seq, i+1)
			}
			if h, err := e.ComputeHash(); err != nil || h != e.Hash {
				t.Errorf("entry %d: Hash = %q, want %q (%v)", i, e.Hash, h, err)
			}
		}
		if first.PrevHash != facevault.GenesisHash || update.PrevHash != first.Hash {
			t.Errorf("PrevHash = %q, %q; want the genesis hash, then the first entry's hash", first.PrevHash, update.PrevHash)
		}
		if !first.CreatedAt.Equal(t0) || !update.CreatedAt.Equal(t0.Add(time.Second)) {
			t.Errorf("CreatedAt = %v, %v; want the append times to the millisecond", first.CreatedAt, update.CreatedAt)
		}
		for _, want := range []*facevault.AuditEntry{first, update} {
			got, err := st.AuditEntry(ctx, sc.a, want.ID)
			if err != nil {
				t.Fatalf("AuditEntry(%s): %v", want.ID, err)
			}
			checkEntry(t, "AuditEntry", got, want)
		}
		got := chainOf(t, st, chainA)
		if len(got) != 2 {
			t.Fatalf("AuditChain: %d entries, want 2", len(got))
		}
		checkEntry(t, "AuditChain[0]", got[0], first)
		checkEntry(t, "AuditChain[1]", got[1], update)
		if got, err := st.AuditChain(ctx, chainA, 1, 10); err != nil || len(got) != 1 || got[0].ID != update.ID {
			t.Errorf("AuditChain after 1 = %v, %v; want the second entry", got, err)
		}
	})

	t.Run("ErrNotFound", func(t *testing.T) {
		for _, s := range []facevault.Scope{sc.aLive, sc.b} {
			_, err := st.AuditEntry(ctx, s, first.ID)
			wantNotFound(t, "AuditEntry from another scope", err)
		}
		_, err := st.AuditEntry(ctx, sc.a, id(999))
		wantNotFound(t, "AuditEntry of an unknown id", err)
		_, err = st.AuditEntry(ctx, sc.a, "bad\x00id\xff")
		wantNotFound(t, "AuditEntry of an id no store can hold", err)
	})

	t.Run("TimeNeverGoesBack", func(t *testing.T) {
		// A node whose clock is behind appends after one whose clock is
		// ahead: the chain's time stays put rather than go back.
		late := auditEntry(sc.a, facevault.ActionList, "")
		mustAppend(t, st, t0.Add(time.Millisecond), late)
		if !late.CreatedAt.Equal(update.CreatedAt) || late.Seq != 3 {
			t.Errorf("entry appended with an earlier clock: CreatedAt %v, Seq %d; want %v, 3", late.CreatedAt, late.Seq, update.CreatedAt)
		}
	})

	t.Run("Batch", func(t *testing.T) {
		// One call, three chains, entries interleaved: each chain numbers
		// its own, in the order given.
		es := []*facevault.AuditEntry{
			auditEntry(sc.b, facevault.ActionRead, client),
			auditEntry(sc.a, facevault.ActionDelete, client),
			auditEntry(sc.b, facevault.ActionList, ""),
			facevault.NewSystemEntry(sc.aLive, facevault.ActionDelete, facevault.AuditLivePhoto, id(5), client),
		}
		mustAppend(t, st, t0.Add(2*time.Second), es...)
		for i, want := range []int64{1, 4, 2, 1} {
			if es[i].Seq != want {
				t.Errorf("entry %d: Seq = %d, want %d", i, es[i].Seq, want)
			}
		}
		if es[2].PrevHash != es[0].Hash {
			t.Errorf("the second entry of b's chain does not carry the first's hash")
		}
		sys, err := st.AuditEntry(ctx, sc.aLive, es[3].ID)
		if err != nil {
			t.Fatalf("AuditEntry(system entry): %v", err)
		}
		if sys.Trigger != facevault.TriggerSystem || sys.KeyID != "" || sys.Status != 0 || sys.Outcome != facevault.OutcomeSuccess {
			t.Errorf("system entry read back as %+v", *sys)
		}
	})

	t.Run("NoAccount", func(t *testing.T) {
		// A failed authentication with an unknown key: the chain of no
		// account, which no scope sees.
		e := &facevault.AuditEntry{Trigger: "getClient", Action: facevault.ActionRead, ResourceType: facevault.AuditClient,
			Outcome: facevault.OutcomeFailure, Status: 401, Source: "198.51.100.0/24", Count: 17}
		mustAppend(t, st, t0, e)
		if e.Seq != 1 {
			t.Errorf("Seq = %d, want 1", e.Seq)
		}
		for _, s := range []facevault.Scope{sc.a, sc.aLive, sc.b} {
			_, err := st.AuditEntry(ctx, s, e.ID)
			wantNotFound(t, "AuditEntry of no account", err)
		}
		got := chainOf(t, st, facevault.AuditChainID{})
		if len(got) != 1 {
			t.Fatalf("chain of no account: %d entries, want 1", len(got))
		}
		checkEntry(t, "chain of no account", got[0], e)
	})

	t.Run("Verify", func(t *testing.T) {
		wantVerified(t, st, map[facevault.AuditChainID]int64{
			chainA: 4,
			{AccountID: sc.b.AccountID, Mode: sc.b.Mode}:         2,
			{AccountID: sc.aLive.AccountID, Mode: sc.aLive.Mode}: 1,
			{}: 1,
		})
		heads, err := st.AuditHeads(ctx)
		if err != nil {
			t.Fatalf("AuditHeads: %v", err)
		}
		for _, h := range heads {
			es := chainOf(t, st, h.AuditChainID)
			last := es[len(es)-1]
			if h.Seq != last.Seq || h.Hash != last.Hash || !h.CreatedAt.Equal(last.CreatedAt) {
				t.Errorf("head %+v, want the last entry's seq %d, hash and time %v", h, last.Seq, last.CreatedAt)
			}
		}
		if !slices.IsSortedFunc(heads, func(x, y facevault.AuditHead) int {
			return strings.Compare(x.AccountID+"/"+string(x.Mode), y.AccountID+"/"+string(y.Mode))
		}) {
			t.Errorf("AuditHeads not ordered by account and mode: %+v", heads)
		}
	})

	t.Run("ErrInvalid", func(t *testing.T) {
		// Every refusal appends nothing, also of the good entries in the
		// same call.
		before := chainOf(t, st, chainA)
		bad := []func(e *facevault.AuditEntry){
			func(e *facevault.AuditEntry) { e.Mode = "" },
			func(e *facevault.AuditEntry) { e.AccountID = "" },
			func(e *facevault.AuditEntry) { e.Mode = "prod" },
			func(e *facevault.AuditEntry) { e.Count = 0 },
			func(e *facevault.AuditEntry) { e.ResourceID = "bad\x00" },
			func(e *facevault.AuditEntry) { e.ClientID = "\xff" },
			func(e *facevault.AuditEntry) { e.Source = strings.Repeat("x", facevault.MaxAuditText+1) },
			func(e *facevault.AuditEntry) { e.Diff = &facevault.AuditDiff{Path: []string{"\xfe"}} },
		}
		for i, mutate := range bad {
			e := auditEntry(sc.a, facevault.ActionRead, client)
			mutate(e)
			if err := st.AppendAudit(ctx, t0, auditEntry(sc.a, facevault.ActionRead, client), e); err == nil {
				t.Errorf("case %d: AppendAudit(%+v) = nil, want an error", i, *e)
			}
		}
		if after := chainOf(t, st, chainA); len(after) != len(before) {
			t.Errorf("refused appends left %d entries, want %d", len(after), len(before))
		}
		wantAppendOnly(t, st)
	})
}

// wantAppendOnly checks that entries, once appended, have not been changed
// by the store's own methods: a second read equals the first.
func wantAppendOnly(t *testing.T, st facevault.Store) {
	t.Helper()
	reports, err := facevault.VerifyAudit(t.Context(), st)
	if err != nil {
		t.Fatalf("VerifyAudit: %v", err)
	}
	for _, r := range reports {
		if r.Break != nil {
			t.Errorf("chain %+v broken: %+v", r.AuditChainID, *r.Break)
		}
	}
}

func testAuditText(t *testing.T, _ facevault.Store) {
	for _, tc := range []struct{ in, want string }{
		{"", ""},
		{"6b05e94e8876735d0bd72139", "6b05e94e8876735d0bd72139"},
		{"a\x00b", "a\uFFFDb"},
		{"a\xffb", "a\uFFFDb"},
		{strings.Repeat("é", 200), strings.Repeat("é", facevault.MaxAuditText/2)},
		{strings.Repeat("x", 300), strings.Repeat("x", facevault.MaxAuditText)},
	} {
		if got := facevault.AuditText(tc.in); got != tc.want {
			t.Errorf("AuditText(%.20q) = %.20q (%d bytes), want %.20q (%d bytes)", tc.in, got, len(got), tc.want, len(tc.want))
		}
	}
}

// auditFixture appends, in scope s, entries at created(i) for the list
// tests: two clients, reads, updates and a failure, and returns them in
// append order.
func auditFixture(t *testing.T, st facevault.Store, s facevault.Scope) []*facevault.AuditEntry {
	t.Helper()
	c1, c2 := id(201), id(202)
	mk := func(action, trigger, typ, resource, client, outcome string, status int) *facevault.AuditEntry {
		e := auditEntry(s, action, client)
		e.Trigger, e.ResourceType, e.ResourceID, e.Outcome, e.Status = trigger, typ, resource, outcome, status
		return e
	}
	es := []*facevault.AuditEntry{
		mk(facevault.ActionCreate, "createClient", facevault.AuditClient, c1, c1, facevault.OutcomeSuccess, 200),
		mk(facevault.ActionRead, "getClient", facevault.AuditClient, c1, c1, facevault.OutcomeSuccess, 200),
		mk(facevault.ActionCreate, "uploadLivePhoto", facevault.AuditLivePhoto, id(301), c1, facevault.OutcomeSuccess, 200),
		mk(facevault.ActionRead, "getClient", facevault.AuditClient, c2, c2, facevault.OutcomeFailure, 404),
		mk(facevault.ActionList, "listLivePhotos", facevault.AuditLivePhoto, "", c1, facevault.OutcomeSuccess, 200),
	}
	es[1].KeyID = id(8)
	for i, e := range es {
		mustAppend(t, st, created(i), e)
	}
	return es
}

func entryIDs(es []*facevault.AuditEntry) []string {
	ids := []string{}
	for _, e := range es {
		ids = append(ids, e.ID)
	}
	return ids
}

func listAudit(t *testing.T, st facevault.Store, s facevault.Scope, f facevault.AuditFilter) ([]*facevault.AuditEntry, int) {
	t.Helper()
	es, n, err := st.AuditEntries(t.Context(), s, f)
	if err != nil {
		t.Fatalf("AuditEntries(%+v): %v", f, err)
	}
	return es, n
}

func testAuditList(t *testing.T, st facevault.Store) {
	sc := mustScopes(t, st)
	es := auditFixture(t, st, sc.a)
	auditFixture(t, st, sc.b) // another account's: never listed for a
	// Newest first: the reverse of the append order.
	newestIDs := slices.Clone(entryIDs(es))
	slices.Reverse(newestIDs)

	t.Run("OK", func(t *testing.T) {
		got, n := listAudit(t, st, sc.a, facevault.AuditFilter{ListOptions: facevault.ListOptions{Page: all}})
		checkIDs(t, "AuditEntries", entryIDs(got), newestIDs)
		if n != 5 {
			t.Errorf("total = %d, want 5", n)
		}
		for i, e := range got {
			checkEntry(t, fmt.Sprintf("item %d", i), e, es[len(es)-1-i])
		}
		if got, n := listAudit(t, st, sc.aLive, facevault.AuditFilter{ListOptions: facevault.ListOptions{Page: all}}); len(got) != 0 || n != 0 {
			t.Errorf("the other mode lists %d entries (total %d), want none", len(got), n)
		}
	})

	for _, pc := range pageCases {
		t.Run(pc.name, func(t *testing.T) {
			got, n := listAudit(t, st, sc.a, facevault.AuditFilter{ListOptions: facevault.ListOptions{Page: pc.page}})
			checkIDs(t, "page", entryIDs(got), newestIDs[pc.from:pc.to])
			if n != 5 {
				t.Errorf("total = %d, want 5", n)
			}
		})
	}

	t.Run("Filters", func(t *testing.T) {
		pick := func(idx ...int) []string {
			var ids []string
			for i := len(es) - 1; i >= 0; i-- {
				if slices.Contains(idx, i) {
					ids = append(ids, es[i].ID)
				}
			}
			return ids
		}
		for _, tc := range []struct {
			name   string
			fields map[string]string
			want   []string
		}{
			{"ResourceID", map[string]string{"resourceId": id(201)}, pick(0, 1)},
			{"ResourceType", map[string]string{"resourceType": facevault.AuditLivePhoto}, pick(2, 4)},
			{"ClientID", map[string]string{"clientId": id(201)}, pick(0, 1, 2, 4)},
			{"Action", map[string]string{"action": facevault.ActionRead}, pick(1, 3)},
			{"Trigger", map[string]string{"trigger": "getClient"}, pick(1, 3)},
			{"Outcome", map[string]string{"outcome": facevault.OutcomeFailure}, pick(3)},
			{"KeyID", map[string]string{"keyId": id(8)}, pick(1)},
			{"Combined", map[string]string{"action": facevault.ActionRead, "clientId": id(201)}, pick(1)},
			{"NoMatch", map[string]string{"action": "purge"}, nil},
			{"UnknownField", map[string]string{"memberId": "x"}, nil},
			{"UnknownWithKnown", map[string]string{"action": facevault.ActionRead, "diff": "x"}, nil},
			{"UnstorableValue", map[string]string{"resourceId": "\xff\x00"}, nil},
		} {
			t.Run(tc.name, func(t *testing.T) {
				got, n := listAudit(t, st, sc.a, facevault.AuditFilter{ListOptions: facevault.ListOptions{Page: all}, Fields: tc.fields})
				checkIDs(t, "AuditEntries", entryIDs(got), tc.want)
				if n != len(tc.want) {
					t.Errorf("total = %d, want %d", n, len(tc.want))
				}
			})
		}
	})

	t.Run("TimeFilters", func(t *testing.T) {
		const us = time.Microsecond
		for _, tc := range []struct {
			name string
			r    facevault.TimeRange
			want []int
		}{
			{"CreatedAfterIsStrict", facevault.TimeRange{CreatedAfter: created(3)}, []int{4}},
			{"CreatedAfterSubMillisecond", facevault.TimeRange{CreatedAfter: created(3).Add(-us)}, []int{3, 4}},
			{"CreatedBeforeIsStrict", facevault.TimeRange{CreatedBefore: created(1)}, []int{0}},
			{"CreatedBeforeSubMillisecond", facevault.TimeRange{CreatedBefore: created(1).Add(us)}, []int{0, 1}},
			{"CreatedBetween", facevault.TimeRange{CreatedAfter: created(0), CreatedBefore: created(3)}, []int{1, 2}},
			// Entries are never updated: updatedAt is createdAt.
			{"UpdatedAfter", facevault.TimeRange{UpdatedAfter: created(2)}, []int{3, 4}},
			{"UpdatedBefore", facevault.TimeRange{UpdatedBefore: created(2)}, []int{0, 1}},
		} {
			t.Run(tc.name, func(t *testing.T) {
				got, n := listAudit(t, st, sc.a, facevault.AuditFilter{ListOptions: facevault.ListOptions{Page: all, TimeRange: tc.r}})
				checkIDs(t, "AuditEntries", entryIDs(got), wantTimed(entryIDs(es), tc.want))
				if n != len(tc.want) {
					t.Errorf("total = %d, want %d", n, len(tc.want))
				}
			})
		}
		got, n := listAudit(t, st, sc.a, facevault.AuditFilter{ListOptions: facevault.ListOptions{Page: all, Impossible: true}})
		if len(got) != 0 || n != 0 {
			t.Errorf("Impossible: %d entries, total %d; want none", len(got), n)
		}
	})

	t.Run("Chunks", func(t *testing.T) {
		// Entries appended in one millisecond, in chunks of every size:
		// the IDs break the ties, and continuing after a cursor keeps them.
		st2 := sc.aLive
		var batch []*facevault.AuditEntry
		for range 7 {
			batch = append(batch, auditEntry(st2, facevault.ActionRead, id(1)))
		}
		mustAppend(t, st, t0, batch...)
		want := entryIDs(batch)
		slices.SortFunc(want, func(x, y string) int { return strings.Compare(y, x) })
		for size := 1; size <= 8; size++ {
			for limit := 1; limit <= size; limit++ {
				o := facevault.ListOptions{Page: facevault.Page{Page: 1, PageSize: size}}
				n, got := readChunked(t, o, limit, func(o facevault.ListOptions) ([]*facevault.AuditEntry, int, error) {
					return st.AuditEntries(t.Context(), st2, facevault.AuditFilter{ListOptions: o})
				}, func(e *facevault.AuditEntry) facevault.Cursor {
					return facevault.Cursor{CreatedAt: e.CreatedAt, ID: e.ID}
				},
					func(e *facevault.AuditEntry) string { return e.ID })
				checkIDs(t, fmt.Sprintf("size%d-chunk%d", size, limit), got, want[:min(size, 7)])
				if n != 7 {
					t.Errorf("size%d-chunk%d: total %d, want 7", size, limit, n)
				}
			}
		}
	})
}

// testAuditConcurrent appends from many goroutines at once, each call to
// two chains in an order of its own: every chain numbers its entries 1 to
// n without a gap or a repeat, each carrying the hash of the one before,
// and no two appends deadlock.
func testAuditConcurrent(t *testing.T, st facevault.Store) {
	sc := mustScopes(t, st)
	const workers, each = 8, 12
	var wg sync.WaitGroup
	errs := make(chan error, workers*each)
	for w := range workers {
		wg.Go(func() {
			for i := range each {
				x, y := sc.a, sc.b
				if (w+i)%2 == 1 {
					x, y = y, x
				}
				if err := st.AppendAudit(t.Context(), t0.Add(time.Duration(i)*time.Millisecond),
					auditEntry(x, facevault.ActionRead, id(w)), auditEntry(y, facevault.ActionRead, id(w))); err != nil {
					errs <- err
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("concurrent append: %v", err)
	}
	for _, s := range []facevault.Scope{sc.a, sc.b} {
		es := chainOf(t, st, facevault.AuditChainID{AccountID: s.AccountID, Mode: s.Mode})
		if len(es) != workers*each {
			t.Errorf("chain of %s: %d entries, want %d", s.AccountID, len(es), workers*each)
		}
		for i, e := range es {
			if e.Seq != int64(i+1) {
				t.Fatalf("chain of %s: entry %d has Seq %d", s.AccountID, i, e.Seq)
			}
			if i > 0 && e.PrevHash != es[i-1].Hash {
				t.Fatalf("chain of %s: entry %d does not carry the hash of the one before", s.AccountID, e.Seq)
			}
			if i > 0 && e.CreatedAt.Before(es[i-1].CreatedAt) {
				t.Errorf("chain of %s: entry %d is older than the one before", s.AccountID, e.Seq)
			}
		}
	}
	wantVerified(t, st, map[facevault.AuditChainID]int64{
		{AccountID: sc.a.AccountID, Mode: sc.a.Mode}: workers * each,
		{AccountID: sc.b.AccountID, Mode: sc.b.Mode}: workers * each,
	})
}
