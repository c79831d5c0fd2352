package keyring

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"testing"

	"github.com/go-json-experiment/json"

	"github.com/facevault/facevault"
)

// TestReceipts: destroying keys records signed receipts in the same
// transaction, one per photo or client, saying what was destroyed; they
// verify against the deployment's public key, fail with any byte changed,
// and are listed per resource within one scope only.
func TestReceipts(t *testing.T) {
	ctx := context.Background()
	for name, newURL := range stores(t) {
		t.Run(name, func(t *testing.T) {
			url := newURL(t)
			k := mustOpen(t, url, master(t, 1))
			other := facevault.Scope{AccountID: "other", Mode: facevault.ModeTest}
			for _, r := range []facevault.PhotoRef{ref("c1", "p1"), ref("c1", "p2"), ref("c2", "p3"), ref("c3", "p4"),
				{Scope: other, ClientID: "c9", PhotoID: "p9", SHA256: "ab"}} {
				if err := k.AddPhotoKey(ctx, r, bytes.Repeat([]byte{1}, 32)); err != nil {
					t.Fatal(err)
				}
			}
			if _, err := k.DestroyPhotoKeys(ctx, []string{"p1"}, facevault.DestroyDeleted); err != nil {
				t.Fatal(err)
			}
			if _, err := k.DestroyClientKeys(ctx, []string{"c2"}, facevault.DestroyClientDeleted); err != nil {
				t.Fatal(err)
			}
			if _, err := k.DestroyPhotoKeys(ctx, []string{"p4"}, facevault.NoReceipt); err != nil {
				t.Fatal(err)
			}
			if _, err := k.DestroyPhotoKeys(ctx, []string{"p9"}, facevault.DestroyRedacted); err != nil {
				t.Fatal(err)
			}
			id, pub := k.ReceiptKey()
			// A second node on the same store signs with the same key.
			if id2, pub2 := mustOpen(t, url, master(t, 1)).ReceiptKey(); id2 != id || !pub2.Equal(pub) {
				t.Fatalf("another node's receipt key %s differs from %s", id2, id)
			}

			list := func(s facevault.Scope, resource string) []*facevault.DeletionReceipt {
				t.Helper()
				rs, total, err := k.Receipts(ctx, s, resource, facevault.Page{Page: 1, PageSize: 10})
				if err != nil || total != len(rs) {
					t.Fatalf("Receipts(%s) = %d of %d, %v", resource, len(rs), total, err)
				}
				return rs
			}
			p1 := list(testScope, "p1")
			if len(p1) != 1 {
				t.Fatalf("receipts of p1: %d, want 1", len(p1))
			}
			got, err := facevault.VerifyReceipt(pub, p1[0].Payload, p1[0].Signature)
			if err != nil {
				t.Fatal(err)
			}
			if got.Action != facevault.DestroyDeleted || got.ResourceID != "p1" || got.ClientID != "c1" || got.AccountID != "acct" ||
				got.Mode != facevault.ModeTest || len(got.Destroyed) != 1 || got.Destroyed[0].SHA256 != ref("c1", "p1").SHA256 ||
				len(got.Destroyed[0].KeyID) != 32 || got.SigningKeyID != id || got.ReceiptID != p1[0].ID {
				t.Errorf("receipt of p1 says %+v", got)
			}
			// Every byte of the payload and signature matters.
			for i := range len(p1[0].Payload) + len(p1[0].Signature) {
				payload, sig := bytes.Clone(p1[0].Payload), bytes.Clone(p1[0].Signature)
				if i < len(payload) {
					payload[i] ^= 1
				} else {
					sig[i-len(payload)] ^= 1
				}
				if _, err := facevault.VerifyReceipt(pub, payload, sig); !errors.Is(err, facevault.ErrBadReceipt) {
					t.Fatalf("byte %d changed: %v, want ErrBadReceipt", i, err)
				}
			}
			otherPub, _, _ := ed25519.GenerateKey(nil)
			if _, err := facevault.VerifyReceipt(otherPub, p1[0].Payload, p1[0].Signature); !errors.Is(err, facevault.ErrBadReceipt) {
				t.Errorf("another key verified the receipt: %v", err)
			}

			// The client's receipt names its key; the photo's key is
			// useless at once, and its row, when the purge removes it, gets
			// a receipt of its own saying why.
			c2 := list(testScope, "c2")
			if len(c2) != 1 {
				t.Fatalf("receipts of c2: %d, want 1", len(c2))
			}
			cp, err := facevault.VerifyReceipt(pub, c2[0].Payload, c2[0].Signature)
			if err != nil {
				t.Fatal(err)
			}
			if len(cp.Destroyed) != 1 || cp.Destroyed[0].ResourceType != "client" || cp.Destroyed[0].ResourceID != "c2" || cp.ResourceType != "client" {
				t.Errorf("client receipt destroyed %+v, want the client's key", cp.Destroyed)
			}
			if _, err := k.PhotoKey(ctx, "p3"); !errors.Is(err, facevault.ErrNotFound) {
				t.Errorf("p3's key after its client's deletion: %v", err)
			}
			if rs := list(testScope, "p3"); len(rs) != 0 {
				t.Errorf("p3 has receipts before the purge removed its key: %v", rs)
			}
			if n, err := k.DestroyPhotoKeys(ctx, []string{"p3"}, facevault.DestroyPurged); err != nil || n != 1 {
				t.Fatal(n, err)
			}
			p3 := list(testScope, "p3")
			if len(p3) != 1 {
				t.Fatalf("receipts of p3 after the purge: %d, want 1", len(p3))
			}
			pp, err := facevault.VerifyReceipt(pub, p3[0].Payload, p3[0].Signature)
			if err != nil {
				t.Fatal(err)
			}
			if pp.Action != facevault.DestroyClientDeleted || pp.ClientID != "c2" || len(pp.Destroyed) != 1 || pp.Destroyed[0].SHA256 != ref("c2", "p3").SHA256 {
				t.Errorf("p3's receipt says %+v, want client.deleted with its digest", pp)
			}
			// No receipt when none is asked for; none across scopes.
			if rs := list(testScope, "p4"); len(rs) != 0 {
				t.Errorf("p4 destroyed without a receipt has %d", len(rs))
			}
			if rs := list(testScope, "p9"); len(rs) != 0 {
				t.Errorf("another account's receipt is listed in this scope")
			}
			if rs := list(other, "p9"); len(rs) != 1 {
				t.Errorf("the other account sees %d receipts of its photo, want 1", len(rs))
			}
			// Destroying again makes no second receipt.
			if n, err := k.DestroyPhotoKeys(ctx, []string{"p1"}, facevault.DestroyDeleted); err != nil || n != 0 {
				t.Fatal(n, err)
			}
			if rs := list(testScope, "p1"); len(rs) != 1 {
				t.Errorf("p1 has %d receipts after a second destroy, want 1", len(rs))
			}
			// The payload is JSON a verifier can read.
			var m map[string]any
			if err := json.Unmarshal(p1[0].Payload, &m); err != nil || m["action"] != "livePhoto.deleted" {
				t.Errorf("payload %s: %v", p1[0].Payload, err)
			}
		})
	}
}

// TestReceiptKeyRotates: rotating the master rewraps the receipt key; the
// key itself, and so every receipt's verification, stays.
func TestReceiptKeyRotates(t *testing.T) {
	ctx := context.Background()
	url := "sqlite://" + filepath.Join(t.TempDir(), "keys.db")
	old, cur := master(t, 1), master(t, 2)
	id, pub := mustOpen(t, url, old).ReceiptKey()
	k := mustOpen(t, url, cur, old)
	if _, err := k.Rotate(ctx); err != nil {
		t.Fatal(err)
	}
	if err := k.Retire(ctx, old.ID()); err != nil {
		t.Fatal(err)
	}
	id2, pub2 := mustOpen(t, url, cur).ReceiptKey()
	if id2 != id || !pub2.Equal(pub) {
		t.Errorf("receipt key after rotation %s, want %s", id2, id)
	}
	text, err := facevault.MarshalReceiptKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	back, err := facevault.ParseReceiptKey(text)
	if err != nil || !back.Equal(pub) {
		t.Errorf("public key PEM round trip: %v", err)
	}
	if _, err := facevault.ParseReceiptKey([]byte("not pem")); err == nil {
		t.Error("ParsePublicKey took garbage")
	}
}

// TestNotedDestruction: the background purge's receipt says what the
// deletion that queued the key said, not just that it purged it.
func TestNotedDestruction(t *testing.T) {
	ctx := context.Background()
	k := mustOpen(t, "sqlite://"+filepath.Join(t.TempDir(), "keys.db"), master(t, 1))
	for _, p := range []string{"a", "b", "c"} {
		if err := k.AddPhotoKey(ctx, ref("c1", p), bytes.Repeat([]byte{1}, 32)); err != nil {
			t.Fatal(err)
		}
	}
	if err := k.NoteDestruction(ctx, "a", facevault.DestroyDeleted); err != nil {
		t.Fatal(err)
	}
	if err := k.NoteDestruction(ctx, "b", facevault.DestroyDeleted); err != nil {
		t.Fatal(err)
	}
	if err := k.NoteDestruction(ctx, "b", facevault.DestroyRetention); err != nil { // the later note wins
		t.Fatal(err)
	}
	if n, err := k.DestroyPhotoKeys(ctx, []string{"a", "b", "c"}, facevault.DestroyPurged); err != nil || n != 3 {
		t.Fatal(n, err)
	}
	for id, want := range map[string]facevault.Destruction{"a": facevault.DestroyDeleted, "b": facevault.DestroyRetention, "c": facevault.DestroyPurged} {
		rs, _, err := k.Receipts(ctx, testScope, id, facevault.Page{Page: 1, PageSize: 5})
		if err != nil || len(rs) != 1 || rs[0].Action != want {
			t.Errorf("receipt of %s: %v, %v; want one saying %s", id, rs, err, want)
		}
	}
}

// TestConcurrentDestruction: nodes destroying one photo's key at once (a
// deletion's own purge and the background purge) destroy it once, with one
// receipt.
func TestConcurrentDestruction(t *testing.T) {
	ctx := context.Background()
	for name, newURL := range stores(t) {
		t.Run(name, func(t *testing.T) {
			url := newURL(t)
			k := mustOpen(t, url, master(t, 1))
			other := mustOpen(t, url, master(t, 1)) // another node
			for i := range 20 {
				if err := k.AddPhotoKey(ctx, ref("c1", fmt.Sprintf("p%d", i)), bytes.Repeat([]byte{1}, 32)); err != nil {
					t.Fatal(err)
				}
			}
			for i := range 20 {
				id := fmt.Sprintf("p%d", i)
				var wg sync.WaitGroup
				var mu sync.Mutex
				destroyed := 0
				for j := range 4 {
					node := k
					if j%2 == 1 {
						node = other
					}
					wg.Go(func() {
						n, err := node.DestroyPhotoKeys(ctx, []string{id}, facevault.DestroyPurged)
						if err != nil {
							t.Error(err)
						}
						mu.Lock()
						destroyed += n
						mu.Unlock()
					})
				}
				wg.Wait()
				rs, total, err := k.Receipts(ctx, testScope, id, facevault.Page{Page: 1, PageSize: 10})
				if err != nil || destroyed != 1 || total != 1 || len(rs) != 1 {
					t.Fatalf("%s destroyed by 4 at once: %d destroyed, %d receipts (%v); want 1 and 1", id, destroyed, total, err)
				}
			}
		})
	}
}
