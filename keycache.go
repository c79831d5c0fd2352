package facevault

import (
	"container/list"
	"context"
	"sync"
	"time"
)

// DefaultKeyCacheTTL is how long a KeyCache serves a key lookup from
// memory: the longest a key revoked on another node stays usable on this
// one, and the longest a database outage goes unnoticed by callers whose
// key was looked up just before it.
const DefaultKeyCacheTTL = 30 * time.Second

// DefaultKeyCacheSize is how many keys a KeyCache holds at most.
const DefaultKeyCacheSize = 10000

// KeyCache is a KeyStore that remembers the keys it has found (revoked or
// not) for a short time, so that authentication does not need the
// database on every request and requests with known keys go on through a
// short database outage. A key not found is not remembered: a key created
// on another node works at once. A key revoked through this KeyCache is
// forgotten at once; one revoked on another node is found revoked within
// TTL. At most Size keys are held, the least recently used going first.
type KeyCache struct {
	KeyStore
	ttl  time.Duration
	size int
	now  func() time.Time

	mu    sync.Mutex
	byKey map[string]*list.Element // hash -> entry
	lru   list.List                // of *keyEntry, most recent first
}

type keyEntry struct {
	hash    string
	key     *APIKey
	fetched time.Time
}

// NewKeyCache returns a KeyCache over keys whose entries live ttl, holding
// at most size keys; now is its clock (nil: time.Now).
func NewKeyCache(keys KeyStore, ttl time.Duration, size int, now func() time.Time) *KeyCache {
	if now == nil {
		now = time.Now
	}
	return &KeyCache{KeyStore: keys, ttl: ttl, size: max(1, size), now: now, byKey: map[string]*list.Element{}}
}

// KeyByHash returns the key with that hash from memory if it was found
// less than TTL ago, and from the store otherwise. The caller must not
// change the key it returns.
func (c *KeyCache) KeyByHash(ctx context.Context, hash []byte) (*APIKey, error) {
	h := string(hash)
	now := c.now()
	c.mu.Lock()
	if el, ok := c.byKey[h]; ok {
		e := el.Value.(*keyEntry)
		if now.Sub(e.fetched) < c.ttl {
			c.lru.MoveToFront(el)
			c.mu.Unlock()
			return e.key, nil
		}
		c.lru.Remove(el)
		delete(c.byKey, h)
	}
	c.mu.Unlock()
	k, err := c.KeyStore.KeyByHash(ctx, hash)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if el, ok := c.byKey[h]; ok { // a concurrent lookup got there first
		c.lru.Remove(el)
	}
	c.byKey[h] = c.lru.PushFront(&keyEntry{hash: h, key: k, fetched: now})
	for c.lru.Len() > c.size {
		old := c.lru.Back()
		c.lru.Remove(old)
		delete(c.byKey, old.Value.(*keyEntry).hash)
	}
	return k, nil
}

// RevokeKey revokes the key in the store and forgets it here.
func (c *KeyCache) RevokeKey(ctx context.Context, id string, now time.Time) error {
	err := c.KeyStore.RevokeKey(ctx, id, now)
	c.mu.Lock()
	for el := c.lru.Front(); el != nil; {
		next := el.Next()
		if e := el.Value.(*keyEntry); e.key.ID == id {
			c.lru.Remove(el)
			delete(c.byKey, e.hash)
		}
		el = next
	}
	c.mu.Unlock()
	return err
}
