package storetest

import (
	"bytes"
	"crypto/sha256"
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/facevault/facevault"
)

func testAccounts(t *testing.T, st facevault.Store) {
	ctx := t.Context()
	first, err := st.EnsureAccount(ctx, "acme", t0)
	if err != nil {
		t.Fatalf("EnsureAccount: %v", err)
	}
	t.Run("Create", func(t *testing.T) {
		if !facevault.ValidID(first.ID) || first.Name != "acme" || !first.CreatedAt.Equal(t0) {
			t.Errorf("EnsureAccount = %+v, want a valid ID, name acme, created at %v", first, t0)
		}
	})
	t.Run("Existing", func(t *testing.T) {
		again, err := st.EnsureAccount(ctx, "acme", t0.Add(time.Hour))
		if err != nil {
			t.Fatalf("EnsureAccount: %v", err)
		}
		if again.ID != first.ID || again.Name != "acme" || !again.CreatedAt.Equal(t0) {
			t.Errorf("EnsureAccount again = %+v, want %+v", again, first)
		}
	})
	t.Run("Other", func(t *testing.T) {
		other, err := st.EnsureAccount(ctx, "globex", t0)
		if err != nil {
			t.Fatalf("EnsureAccount: %v", err)
		}
		if other.ID == first.ID || other.Name != "globex" {
			t.Errorf("EnsureAccount(globex) = %+v, want a new account", other)
		}
	})
}

// newKey returns a key of account a in mode m, created at at.
func newKey(a *facevault.Account, m facevault.Mode, at time.Time, secret string) *facevault.APIKey {
	hash := sha256.Sum256([]byte(secret))
	return &facevault.APIKey{
		ID:          facevault.NewID(at),
		AccountID:   a.ID,
		AccountName: a.Name,
		Mode:        m,
		Hint:        secret[:9],
		Hash:        hash[:],
		CreatedAt:   at,
	}
}

func normKey(k *facevault.APIKey) facevault.APIKey {
	n := *k
	n.CreatedAt, n.RevokedAt = utc(n.CreatedAt), utc(n.RevokedAt)
	return n
}

func checkKey(t *testing.T, what string, got, want *facevault.APIKey) {
	t.Helper()
	if got == nil {
		t.Errorf("%s: got nil key, want %+v", what, normKey(want))
		return
	}
	if !reflect.DeepEqual(normKey(got), normKey(want)) {
		t.Errorf("%s:\ngot  %+v\nwant %+v", what, normKey(got), normKey(want))
	}
}

func testKeys(t *testing.T, st facevault.Store) {
	ctx := t.Context()
	if ok, err := st.HasKeys(ctx); err != nil || ok {
		t.Fatalf("HasKeys on an empty store = %v, %v; want false, nil", ok, err)
	}
	if keys, err := st.ListKeys(ctx); err != nil || len(keys) != 0 {
		t.Fatalf("ListKeys on an empty store = %v, %v; want none", keys, err)
	}

	acme := mustAccount(t, st, "acme")
	globex := mustAccount(t, st, "globex")
	k1 := newKey(acme, facevault.ModeTest, t0, "test_aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa")
	k2 := newKey(acme, facevault.ModeLive, t0.Add(time.Second), "live_bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb")
	k3 := newKey(globex, facevault.ModeTest, t0.Add(2*time.Second), "test_cccccccccccccccccccccccccccccccccccc")
	// Stored out of order: ListKeys sorts by creation.
	for _, k := range []*facevault.APIKey{k2, k3, k1} {
		if err := st.CreateKey(ctx, k); err != nil {
			t.Fatalf("CreateKey(%s): %v", k.ID, err)
		}
	}

	t.Run("HasKeys", func(t *testing.T) {
		if ok, err := st.HasKeys(ctx); err != nil || !ok {
			t.Errorf("HasKeys = %v, %v; want true, nil", ok, err)
		}
	})

	t.Run("KeyByHash", func(t *testing.T) {
		t.Run("OK", func(t *testing.T) {
			for _, want := range []*facevault.APIKey{k1, k2, k3} {
				got, err := st.KeyByHash(ctx, want.Hash)
				if err != nil {
					t.Fatalf("KeyByHash(%s): %v", want.ID, err)
				}
				checkKey(t, "KeyByHash", got, want)
			}
		})
		t.Run("ErrNotFound", func(t *testing.T) {
			unknown := sha256.Sum256([]byte("test_unknown"))
			got, err := st.KeyByHash(ctx, unknown[:])
			wantNotFound(t, "KeyByHash(unknown)", err)
			if got != nil {
				t.Errorf("KeyByHash(unknown) = %+v, want nil", got)
			}
			_, err = st.KeyByHash(ctx, k1.Hash[:16])
			wantNotFound(t, "KeyByHash(prefix of a hash)", err)
		})
	})

	t.Run("DuplicateHash", func(t *testing.T) {
		dup := newKey(acme, facevault.ModeTest, t0, "test_aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa")
		if err := st.CreateKey(ctx, dup); err == nil {
			t.Errorf("CreateKey with an existing hash: err = nil, want an error")
		}
	})

	t.Run("ListKeys", func(t *testing.T) {
		keys, err := st.ListKeys(ctx)
		if err != nil {
			t.Fatalf("ListKeys: %v", err)
		}
		want := []*facevault.APIKey{k1, k2, k3}
		if len(keys) != len(want) {
			t.Fatalf("ListKeys returned %d keys, want %d", len(keys), len(want))
		}
		for i := range want {
			checkKey(t, fmt.Sprintf("ListKeys[%d]", i), keys[i], want[i])
		}
	})

	t.Run("RevokeKey", func(t *testing.T) {
		t.Run("OK", func(t *testing.T) {
			revoked := t0.Add(time.Hour)
			if err := st.RevokeKey(ctx, k1.ID, revoked); err != nil {
				t.Fatalf("RevokeKey: %v", err)
			}
			want := *k1
			want.RevokedAt = revoked
			got, err := st.KeyByHash(ctx, k1.Hash)
			if err != nil {
				t.Fatalf("KeyByHash(revoked): %v", err)
			}
			checkKey(t, "KeyByHash after RevokeKey", got, &want)

			// Revoking again keeps the first time.
			if err := st.RevokeKey(ctx, k1.ID, revoked.Add(time.Hour)); err != nil {
				t.Fatalf("RevokeKey again: %v", err)
			}
			got, err = st.KeyByHash(ctx, k1.Hash)
			if err != nil {
				t.Fatalf("KeyByHash(revoked twice): %v", err)
			}
			checkKey(t, "KeyByHash after a second RevokeKey", got, &want)

			// Other keys are untouched, and a revoked key is still listed.
			got, err = st.KeyByHash(ctx, k2.Hash)
			if err != nil {
				t.Fatalf("KeyByHash: %v", err)
			}
			checkKey(t, "KeyByHash of another key", got, k2)
			keys, err := st.ListKeys(ctx)
			if err != nil {
				t.Fatalf("ListKeys: %v", err)
			}
			if len(keys) != 3 || keys[0].ID != k1.ID || !keys[0].RevokedAt.Equal(revoked) {
				t.Errorf("ListKeys after RevokeKey = %+v, want k1 first, revoked at %v", keys, revoked)
			}
			if ok, err := st.HasKeys(ctx); err != nil || !ok {
				t.Errorf("HasKeys = %v, %v; want true, nil", ok, err)
			}
		})
		t.Run("ErrNotFound", func(t *testing.T) {
			wantNotFound(t, "RevokeKey(unknown)", st.RevokeKey(ctx, id(42), t0))
			wantNotFound(t, "RevokeKey(\"\")", st.RevokeKey(ctx, "", t0))
		})
	})

	t.Run("HashIsBytes", func(t *testing.T) {
		// The hash is matched byte for byte, including zero bytes.
		a := newKey(acme, facevault.ModeTest, t0, "test_dddddddddddddddddddddddddddddddddddd")
		a.Hash = bytes.Repeat([]byte{0}, 32)
		b := newKey(acme, facevault.ModeTest, t0, "test_eeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeee")
		b.Hash = append(bytes.Repeat([]byte{0}, 31), 1)
		for _, k := range []*facevault.APIKey{a, b} {
			if err := st.CreateKey(ctx, k); err != nil {
				t.Fatalf("CreateKey: %v", err)
			}
		}
		got, err := st.KeyByHash(ctx, b.Hash)
		if err != nil {
			t.Fatalf("KeyByHash: %v", err)
		}
		checkKey(t, "KeyByHash", got, b)
	})
}
