package blobtest

import (
	"bytes"
	"context"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/facevault/facevault"
)

// identity returns s as a facevault.Identity, failing t if it is not one:
// every image store records the store it belongs to.
func identity(t *testing.T, s facevault.BlobStore) facevault.Identity {
	t.Helper()
	id, ok := s.(facevault.Identity)
	if !ok {
		t.Fatalf("%T does not implement facevault.Identity", s)
	}
	return id
}

// quarantine returns s as a facevault.Quarantine, failing t if it is not
// one: the orphan sweep needs one in every image store.
func quarantine(t *testing.T, s facevault.BlobStore) facevault.Quarantine {
	t.Helper()
	q, ok := s.(facevault.Quarantine)
	if !ok {
		t.Fatalf("%T does not implement facevault.Quarantine", s)
	}
	return q
}

// Quarantined lists the quarantine, sorted by key.
func Quarantined(t testing.TB, q facevault.Quarantine) []facevault.QuarantinedBlob {
	t.Helper()
	var bs []facevault.QuarantinedBlob
	if err := q.Quarantined(context.Background(), func(b facevault.QuarantinedBlob) error {
		bs = append(bs, b)
		return nil
	}); err != nil {
		t.Fatalf("Quarantined: %v", err)
	}
	slices.SortFunc(bs, func(a, b facevault.QuarantinedBlob) int {
		return bytes.Compare([]byte(a.Key), []byte(b.Key))
	})
	return bs
}

func quarantinedKeys(t testing.TB, q facevault.Quarantine) []string {
	t.Helper()
	var keys []string
	for _, b := range Quarantined(t, q) {
		keys = append(keys, b.Key)
	}
	return keys
}

// testIdentity: a new store has no id; the first bind wins, among racing
// binds too, and is kept; the marker is no blob.
func testIdentity(t *testing.T, s facevault.BlobStore) {
	ctx := context.Background()
	is := identity(t, s)
	if id, err := is.StoreID(ctx); err != nil || id != "" {
		t.Fatalf("StoreID of a new store = %q, %v; want \"\", nil", id, err)
	}
	for _, bad := range []string{"", "abc", "../" + facevault.NewStoreID()[3:], facevault.NewStoreID() + "\n"} {
		if got, err := is.BindStoreID(ctx, bad); err == nil {
			t.Errorf("BindStoreID(%q) = %q, nil; want an error", bad, got)
		}
	}
	const n = 4
	ids, got, errs := make([]string, n), make([]string, n), make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		ids[i] = facevault.NewStoreID()
		wg.Go(func() { got[i], errs[i] = is.BindStoreID(ctx, ids[i]) })
	}
	wg.Wait()
	for i := range n {
		if errs[i] != nil {
			t.Fatalf("BindStoreID #%d: %v", i, errs[i])
		}
		if got[i] != got[0] || !slices.Contains(ids, got[i]) {
			t.Fatalf("racing binds of %q returned %q: want one of the ids, the same for all", ids, got)
		}
	}
	if id, err := is.StoreID(ctx); err != nil || id != got[0] {
		t.Errorf("StoreID = %q, %v; want %q", id, err, got[0])
	}
	if again, err := is.BindStoreID(ctx, facevault.NewStoreID()); err != nil || again != got[0] {
		t.Errorf("BindStoreID of another id = %q, %v; want the first, %q", again, err, got[0])
	}
	// The marker is neither a blob nor in quarantine.
	if keys := Keys(t, s, future()); len(keys) != 0 {
		t.Errorf("Keys of a store with only its marker = %q, want nothing", keys)
	}
	if qs := quarantinedKeys(t, quarantine(t, s)); len(qs) != 0 {
		t.Errorf("Quarantined of a store with only its marker = %q, want nothing", qs)
	}
	key := newKey()
	Put(t, s, key, Data(small))
	if keys := Keys(t, s, future()); !slices.Equal(keys, []string{key}) {
		t.Errorf("Keys = %q, want [%s]", keys, key)
	}
}

// testQuarantineRestore: a quarantined blob leaves the store's view, is
// listed with its size and time, and comes back whole.
func testQuarantineRestore(t *testing.T, s facevault.BlobStore) {
	ctx := context.Background()
	q := quarantine(t, s)
	a, b := newKey(), newKey()
	dataA, dataB := Data(large), Data(small)
	Put(t, s, a, dataA)
	Put(t, s, b, dataB)
	start := time.Now()
	if err := q.Quarantine(ctx, a); err != nil {
		t.Fatalf("Quarantine(%s): %v", a, err)
	}
	end := time.Now()
	AssertNotFound(t, s, a)
	if got := Keys(t, s, future()); !slices.Equal(got, []string{b}) {
		t.Errorf("Keys after Quarantine = %q, want only [%s]", got, b)
	}
	qs := Quarantined(t, q)
	if len(qs) != 1 || qs[0].Key != a || qs[0].Size != int64(len(dataA)) {
		t.Fatalf("Quarantined = %+v, want %s of %d bytes", qs, a, len(dataA))
	}
	// Servers keep whole seconds, and their clocks are not ours: a second
	// either side.
	if since := qs[0].Since; since.Before(start.Add(-2*time.Second)) || since.After(end.Add(2*time.Second)) {
		t.Errorf("quarantined at %v, want between %v and %v: when it was set aside, not when it was written", since, start, end)
	}
	if err := q.Quarantine(ctx, a); !errors.Is(err, facevault.ErrNotFound) {
		t.Errorf("Quarantine of a blob already in quarantine: got %v, want ErrNotFound", err)
	}
	if err := q.Quarantine(ctx, newKey()); !errors.Is(err, facevault.ErrNotFound) {
		t.Errorf("Quarantine of a key never written: got %v, want ErrNotFound", err)
	}
	if err := s.Delete(ctx, a); err != nil {
		t.Fatalf("Delete of a quarantined key: %v", err)
	}
	if got := quarantinedKeys(t, q); !slices.Equal(got, []string{a}) {
		t.Errorf("Delete of a blob's key took it from quarantine: Quarantined = %q", got)
	}

	if err := q.Restore(ctx, a); err != nil {
		t.Fatalf("Restore(%s): %v", a, err)
	}
	if got := Get(t, s, a); !bytes.Equal(got, dataA) {
		t.Fatalf("restored blob: %d bytes differing from the %d written", len(got), len(dataA))
	}
	if got := Keys(t, s, future()); !slices.Equal(got, sorted(a, b)) {
		t.Errorf("Keys after Restore = %q, want %q", got, sorted(a, b))
	}
	if got := quarantinedKeys(t, q); len(got) != 0 {
		t.Errorf("Quarantined after Restore = %q, want nothing", got)
	}
	if err := q.Restore(ctx, a); !errors.Is(err, facevault.ErrNotFound) {
		t.Errorf("Restore of a blob not in quarantine: got %v, want ErrNotFound", err)
	}
	// A restored blob can be quarantined again, and restored again.
	if err := q.Quarantine(ctx, a); err != nil {
		t.Fatalf("Quarantine after Restore: %v", err)
	}
	if err := q.Restore(ctx, a); err != nil {
		t.Fatalf("second Restore: %v", err)
	}
	if got := Get(t, s, a); !bytes.Equal(got, dataA) {
		t.Fatalf("blob restored twice: %d bytes differing from the %d written", len(got), len(dataA))
	}
	if got := Get(t, s, b); !bytes.Equal(got, dataB) {
		t.Errorf("the other blob changed")
	}
}

// testRestoreNeverOverwrites: a blob under the key wins over the quarantined
// one, which stays in quarantine.
func testRestoreNeverOverwrites(t *testing.T, s facevault.BlobStore) {
	ctx := context.Background()
	q := quarantine(t, s)
	key := newKey()
	old, current := Data(small), Data(small+1)
	Put(t, s, key, old)
	if err := q.Quarantine(ctx, key); err != nil {
		t.Fatalf("Quarantine: %v", err)
	}
	Put(t, s, key, current)
	if err := q.Restore(ctx, key); !errors.Is(err, facevault.ErrExist) {
		t.Fatalf("Restore over a blob: got %v, want ErrExist", err)
	}
	if got := Get(t, s, key); !bytes.Equal(got, current) {
		t.Errorf("Restore over a blob changed it")
	}
	if qs := Quarantined(t, q); len(qs) != 1 || qs[0].Key != key || qs[0].Size != int64(len(old)) {
		t.Errorf("Quarantined after a refused Restore = %+v, want %s of %d bytes", qs, key, len(old))
	}
	if err := s.Delete(ctx, key); err != nil {
		t.Fatal(err)
	}
	if err := q.Restore(ctx, key); err != nil {
		t.Fatalf("Restore once the key is free: %v", err)
	}
	if got := Get(t, s, key); !bytes.Equal(got, old) {
		t.Errorf("restored blob: %d bytes differing from the %d quarantined", len(got), len(old))
	}
}

// testPurge: a purged blob is gone from the quarantine for good.
func testPurge(t *testing.T, s facevault.BlobStore) {
	ctx := context.Background()
	q := quarantine(t, s)
	a, b := newKey(), newKey()
	Put(t, s, a, Data(small))
	Put(t, s, b, Data(small))
	for _, k := range []string{a, b} {
		if err := q.Quarantine(ctx, k); err != nil {
			t.Fatalf("Quarantine(%s): %v", k, err)
		}
	}
	if err := q.DestroyQuarantined(ctx, a); err != nil {
		t.Fatalf("Purge: %v", err)
	}
	if got := quarantinedKeys(t, q); !slices.Equal(got, []string{b}) {
		t.Errorf("Quarantined after Purge = %q, want only [%s]", got, b)
	}
	if err := q.Restore(ctx, a); !errors.Is(err, facevault.ErrNotFound) {
		t.Errorf("Restore of a purged blob: got %v, want ErrNotFound", err)
	}
	AssertNotFound(t, s, a)
	if err := q.DestroyQuarantined(ctx, a); err != nil {
		t.Errorf("second Purge: got %v, want nil", err)
	}
	if err := q.DestroyQuarantined(ctx, newKey()); err != nil {
		t.Errorf("Purge of a key never quarantined: got %v, want nil", err)
	}
	// Purge never touches a blob that is not in quarantine.
	c := newKey()
	data := Data(small)
	Put(t, s, c, data)
	if err := q.DestroyQuarantined(ctx, c); err != nil {
		t.Errorf("Purge of a blob not in quarantine: got %v, want nil", err)
	}
	if got := Get(t, s, c); !bytes.Equal(got, data) {
		t.Errorf("Purge of a key not in quarantine changed its blob")
	}
}

func testQuarantineInvalidKeys(t *testing.T, s facevault.BlobStore) {
	ctx := context.Background()
	q := quarantine(t, s)
	valid := newKey()
	for _, key := range []string{"", "abc", "../" + valid[3:], valid + "0", "/" + valid[1:], valid[:22] + "/" + valid[23:]} {
		if err := q.Quarantine(ctx, key); err == nil || errors.Is(err, facevault.ErrNotFound) {
			t.Errorf("Quarantine(%q) = %v, want an error that is not ErrNotFound", key, err)
		}
		if err := q.Restore(ctx, key); err == nil || errors.Is(err, facevault.ErrNotFound) {
			t.Errorf("Restore(%q) = %v, want an error that is not ErrNotFound", key, err)
		}
		if err := q.DestroyQuarantined(ctx, key); err == nil {
			t.Errorf("Purge(%q) succeeded, want an error", key)
		}
	}
}
