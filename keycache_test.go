package facevault_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/facevault/facevault"
)

// countingKeys counts lookups and can fail them, as a database that is
// down does.
type countingKeys struct {
	keyStore
	lookups int
	down    bool
}

func (c *countingKeys) KeyByHash(ctx context.Context, hash []byte) (*facevault.APIKey, error) {
	c.lookups++
	if c.down {
		return nil, errors.New("connection refused")
	}
	return c.keyStore.KeyByHash(ctx, hash)
}

func (c *countingKeys) RevokeKey(_ context.Context, id string, now time.Time) error {
	for _, k := range c.keys {
		if k.ID == id {
			k.RevokedAt = now
			return nil
		}
	}
	return facevault.ErrNotFound
}

// TestKeyCache: a key found is served from memory for the TTL, through a
// store that is down; after the TTL the store is asked again (and its
// outage shows); a key revoked elsewhere is found revoked once the TTL has
// passed, one revoked through the cache at once; unknown keys are never
// remembered; the least recently used key goes when the cache is full.
func TestKeyCache(t *testing.T) {
	ctx := context.Background()
	acct := &facevault.Account{ID: "6b05e94e8876735d0bd72139", Name: "acme"}
	store := &countingKeys{keyStore: keyStore{keys: map[string]*facevault.APIKey{}}}
	var secrets []string
	for range 3 {
		secret, k, err := facevault.NewKey(acct, facevault.ModeTest, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		store.keys[string(k.Hash)] = k
		secrets = append(secrets, secret)
	}
	now := time.Date(2026, 11, 30, 9, 0, 0, 0, time.UTC)
	cache := facevault.NewKeyCache(store, 30*time.Second, 2, func() time.Time { return now })
	auth := func(secret string) (*facevault.APIKey, error) { return facevault.AuthenticateKey(ctx, cache, secret) }

	k0, err := auth(secrets[0])
	if err != nil || store.lookups != 1 {
		t.Fatalf("first lookup: %v, %v, %d store lookups", k0, err, store.lookups)
	}
	store.down = true
	now = now.Add(29 * time.Second)
	if _, err := auth(secrets[0]); err != nil || store.lookups != 1 {
		t.Errorf("within the TTL, store down: %v after %d store lookups; want the key from memory", err, store.lookups)
	}
	now = now.Add(time.Second)
	if _, err := auth(secrets[0]); err == nil || facevault.ErrorCode(err) == facevault.EUnauthorized {
		t.Errorf("after the TTL, store down: %v; want the store's error", err)
	}
	store.down = false

	// Revoked on another node (straight in the store): seen after the TTL.
	if _, err := auth(secrets[1]); err != nil {
		t.Fatal(err)
	}
	k1 := store.keys[string(facevault.HashKey(secrets[1]))]
	k1.RevokedAt = now
	revokedCopy := *k1
	k1.RevokedAt = time.Time{}
	store.keys[string(facevault.HashKey(secrets[1]))] = &revokedCopy
	if _, err := auth(secrets[1]); err != nil {
		t.Errorf("within the TTL of a revocation elsewhere: %v; the cache still holds the key", err)
	}
	now = now.Add(30 * time.Second)
	if _, err := auth(secrets[1]); facevault.ErrorCode(err) != facevault.EUnauthorized {
		t.Errorf("after the TTL of a revocation elsewhere: %v, want unauthorized", err)
	}

	// Revoked through the cache: at once.
	k2, err := auth(secrets[2])
	if err != nil {
		t.Fatal(err)
	}
	if err := cache.RevokeKey(ctx, k2.ID, now); err != nil {
		t.Fatal(err)
	}
	if _, err := auth(secrets[2]); facevault.ErrorCode(err) != facevault.EUnauthorized {
		t.Errorf("right after RevokeKey through the cache: %v, want unauthorized", err)
	}

	// Unknown keys go to the store every time.
	unknown, _, _ := facevault.NewKey(acct, facevault.ModeTest, time.Now())
	before := store.lookups
	auth(unknown)
	auth(unknown)
	if store.lookups != before+2 {
		t.Errorf("two lookups of an unknown key made %d store lookups, want 2", store.lookups-before)
	}

	// Size 2: after looking up keys 0, 2, 1, key 0 is gone.
	now = now.Add(time.Hour)
	for _, i := range []int{0, 2, 1} {
		auth(secrets[i])
	}
	before = store.lookups
	auth(secrets[1])
	auth(secrets[2])
	if store.lookups != before {
		t.Errorf("the two most recent keys made %d store lookups, want 0", store.lookups-before)
	}
	auth(secrets[0])
	if store.lookups != before+1 {
		t.Errorf("the evicted key made %d store lookups, want 1", store.lookups-before)
	}
}
