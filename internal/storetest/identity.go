package storetest

import (
	"sync"
	"testing"

	"github.com/facevault/facevault"
)

// testStoreIdentity: a new store has no id; the first bind wins, also among
// binds racing, and is never replaced.
func testStoreIdentity(t *testing.T, st facevault.Store) {
	ctx := t.Context()
	if id, err := st.StoreID(ctx); err != nil || id != "" {
		t.Fatalf("StoreID of a new store = %q, %v; want \"\", nil", id, err)
	}
	for _, bad := range []string{"", "abc", facevault.NewStoreID()[:31] + "G", facevault.NewStoreID() + "0"} {
		if got, err := st.BindStoreID(ctx, bad); err == nil {
			t.Errorf("BindStoreID(%q) = %q, nil; want an error", bad, got)
		}
	}
	if id, err := st.StoreID(ctx); err != nil || id != "" {
		t.Fatalf("StoreID after refused binds = %q, %v; want \"\", nil", id, err)
	}

	const n = 8
	ids := make([]string, n)
	got := make([]string, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		ids[i] = facevault.NewStoreID()
		wg.Go(func() { got[i], errs[i] = st.BindStoreID(ctx, ids[i]) })
	}
	wg.Wait()
	winner := got[0]
	found := false
	for i := range n {
		if errs[i] != nil {
			t.Fatalf("BindStoreID #%d: %v", i, errs[i])
		}
		if got[i] != winner {
			t.Errorf("racing binds returned %q and %q, want one id for all", winner, got[i])
		}
		found = found || ids[i] == winner
	}
	if !found {
		t.Errorf("racing binds all returned %q, which none of them bound", winner)
	}
	if id, err := st.StoreID(ctx); err != nil || id != winner {
		t.Errorf("StoreID = %q, %v; want %q", id, err, winner)
	}
	if again, err := st.BindStoreID(ctx, facevault.NewStoreID()); err != nil || again != winner {
		t.Errorf("BindStoreID of another id = %q, %v; want the id recorded first, %q", again, err, winner)
	}
}
