package facevault_test

import (
	"bytes"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/facevault/facevault"
	"github.com/facevault/facevault/keyring"
)

// withKeys gives the sweep fixture's vault a key store.
func (f *sweepFixture) withKeys(t *testing.T) *keyring.Keyring {
	t.Helper()
	db, err := keyring.Open(t.Context(), "sqlite://"+filepath.Join(t.TempDir(), "keys.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	m, err := keyring.NewLocalMaster(bytes.Repeat([]byte{3}, keyring.MasterKeySize))
	if err != nil {
		t.Fatal(err)
	}
	k, err := keyring.New(t.Context(), db, []keyring.Master{m})
	if err != nil {
		t.Fatal(err)
	}
	f.vault.Keys = k
	return k
}

// TestSweepKeys: the sweep destroys the keys that nothing needs (a photo's
// without a record, a client's whose client is deleted) and keeps the
// others; too many such keys is a refusal, as for images, unless forced.
func TestSweepKeys(t *testing.T) {
	ctx := t.Context()
	f := newSweepFixture(t)
	k := f.withKeys(t)
	key := bytes.Repeat([]byte{1}, 32)
	ref := func(client, photo string) facevault.PhotoRef {
		return facevault.PhotoRef{Scope: f.scope, ClientID: client, PhotoID: photo, SHA256: strings.Repeat("cd", 32)}
	}
	var kept []string
	for range 20 {
		id := f.photo(t)
		if err := k.AddPhotoKey(ctx, ref(f.client, id), key); err != nil {
			t.Fatal(err)
		}
		kept = append(kept, id)
	}
	orphan := facevault.NewID(time.Now())
	if err := k.AddPhotoKey(ctx, ref(f.client, orphan), key); err != nil {
		t.Fatal(err)
	}
	// A client deleted whose key stayed (its deletion could not destroy it).
	gone, err := facevault.NewClient(person(), time.Now().UTC().Truncate(time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	if err := f.db.CreateClient(ctx, f.scope, gone); err != nil {
		t.Fatal(err)
	}
	gonePhoto := facevault.NewID(time.Now())
	if err := k.AddPhotoKey(ctx, ref(gone.ID, gonePhoto), key); err != nil {
		t.Fatal(err)
	}
	if err := f.db.DeleteClient(ctx, f.scope, gone.ID, time.Now()); err != nil {
		t.Fatal(err)
	}

	res, err := f.vault.Sweep(ctx, facevault.SweepOptions{Before: time.Now().Add(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	// 20 + 2 photo keys and 2 client keys examined; the orphan photo key,
	// the deleted client's key (and its photo's key, which has no record).
	if res.KeysExamined != 24 || res.KeysDestroyed != 3 {
		t.Errorf("sweep: %d keys examined, %d destroyed; want 24 and 3", res.KeysExamined, res.KeysDestroyed)
	}
	for _, id := range []string{orphan, gonePhoto} {
		if _, err := k.PhotoKey(ctx, id); !errors.Is(err, facevault.ErrNotFound) {
			t.Errorf("key of %s after the sweep: %v, want it destroyed", id, err)
		}
	}
	for _, id := range kept {
		if _, err := k.PhotoKey(ctx, id); err != nil {
			t.Fatalf("key of a recorded photo after the sweep: %v", err)
		}
	}
	// The deleted client's receipt is there; the orphan upload's key got none.
	if rs, _, _ := k.Receipts(ctx, f.scope, gone.ID, facevault.Page{Page: 1, PageSize: 5}); len(rs) != 1 || rs[0].Action != facevault.DestroyClientDeleted {
		t.Errorf("receipts of the deleted client: %v", rs)
	}
	if rs, _, _ := k.Receipts(ctx, f.scope, orphan, facevault.Page{Page: 1, PageSize: 5}); len(rs) != 0 {
		t.Errorf("an orphan key got a receipt: %v", rs)
	}

	// Keys of a record store that is not theirs: many have no record.
	for range 20 {
		if err := k.AddPhotoKey(ctx, ref(f.client, facevault.NewID(time.Now())), key); err != nil {
			t.Fatal(err)
		}
	}
	_, err = f.vault.Sweep(ctx, facevault.SweepOptions{Before: time.Now().Add(time.Hour)})
	var refused *facevault.SweepRefusedError
	if !errors.As(err, &refused) || !refused.Keys || refused.Orphans != 20 || !strings.Contains(err.Error(), "keys") {
		t.Fatalf("sweep with 20 of 41 keys orphaned: %v, want a refusal about keys", err)
	}
	for _, id := range kept[:1] {
		if _, err := k.PhotoKey(ctx, id); err != nil {
			t.Fatalf("a refused sweep destroyed keys: %v", err)
		}
	}
	res, err = f.vault.Sweep(ctx, facevault.SweepOptions{Before: time.Now().Add(time.Hour), Force: true})
	if err != nil || res.KeysDestroyed != 20 {
		t.Fatalf("forced sweep: %+v, %v; want 20 keys destroyed", res, err)
	}
}
