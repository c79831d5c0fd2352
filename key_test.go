package facevault_test

import (
	"context"
	"errors"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/facevault/facevault"
)

// keyStore is an in-memory facevault.KeyStore for unit tests of
// Authenticate; the real stores run the storetest suite.
type keyStore struct {
	facevault.KeyStore
	keys map[string]*facevault.APIKey
	err  error
}

func (s *keyStore) KeyByHash(ctx context.Context, h []byte) (*facevault.APIKey, error) {
	if s.err != nil {
		return nil, s.err
	}
	if k, ok := s.keys[string(h)]; ok {
		return k, nil
	}
	return nil, facevault.ErrNotFound
}

func TestNewKey(t *testing.T) {
	acct := &facevault.Account{ID: "6b05e94e8876735d0bd72139", Name: "acme"}
	re := regexp.MustCompile(`^(test|live)_[0-9A-Za-z]{40}$`)
	for _, mode := range []facevault.Mode{facevault.ModeTest, facevault.ModeLive} {
		secret, k, err := facevault.NewKey(acct, mode, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		if !re.MatchString(secret) || !strings.HasPrefix(secret, string(mode)+"_") {
			t.Errorf("got key %q", secret)
		}
		if strings.Contains(string(k.Hash), secret) || string(k.Hash) != string(facevault.HashKey(secret)) {
			t.Errorf("stored hash is not the key's hash")
		}
		if !strings.HasPrefix(secret, strings.TrimSuffix(k.Hint, "…")) || len(k.Hint) >= len(secret) {
			t.Errorf("hint %q does not abbreviate %q", k.Hint, secret)
		}
	}
	if _, _, err := facevault.NewKey(acct, "prod", time.Now()); err == nil {
		t.Error("NewKey accepted mode prod")
	}
}

func TestAuthenticate(t *testing.T) {
	ctx := context.Background()
	acct := &facevault.Account{ID: "6b05e94e8876735d0bd72139", Name: "acme"}
	store := &keyStore{keys: map[string]*facevault.APIKey{}}
	add := func(mode facevault.Mode, revoked bool) string {
		secret, k, err := facevault.NewKey(acct, mode, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		if revoked {
			k.RevokedAt = time.Now()
		}
		store.keys[string(k.Hash)] = k
		return secret
	}
	test, live, revoked := add(facevault.ModeTest, false), add(facevault.ModeLive, false), add(facevault.ModeTest, true)

	for _, tt := range []struct {
		name, key string
		want      facevault.Mode
	}{{"OK/Test", test, facevault.ModeTest}, {"OK/Live", live, facevault.ModeLive}} {
		s, err := facevault.Authenticate(ctx, store, tt.key)
		if err != nil || s.Mode != tt.want || s.AccountID != acct.ID {
			t.Errorf("%s: got %+v, %v", tt.name, s, err)
		}
	}
	for _, tt := range []struct{ name, key string }{
		{"ErrEmpty", ""},
		{"ErrNoPrefix", strings.TrimPrefix(test, "test_")},
		{"ErrWrongPrefix", "prod_" + strings.TrimPrefix(test, "test_")},
		{"ErrSwappedPrefix", "live_" + strings.TrimPrefix(test, "test_")},
		{"ErrTooShort", "test_abc"},
		{"ErrUnknown", test[:len(test)-1] + "x"},
		{"ErrRevoked", revoked},
		{"ErrHuge", "test_" + strings.Repeat("a", 1000)},
	} {
		_, err := facevault.Authenticate(ctx, store, tt.key)
		var e *facevault.Error
		if !errors.As(err, &e) || e.Code != facevault.EUnauthorized || e.Message != "The 'Authorization' header is invalid" {
			t.Errorf("%s: got %v, want the contract's 401", tt.name, err)
		}
	}
	t.Run("AuthenticateKey", func(t *testing.T) {
		// The stored key, for the audit log: also a revoked one, with
		// the 401; no key for an unknown one.
		k, err := facevault.AuthenticateKey(ctx, store, live)
		if err != nil || k == nil || k.Mode != facevault.ModeLive || k.AccountID != acct.ID {
			t.Errorf("live key: got %+v, %v", k, err)
		}
		k, err = facevault.AuthenticateKey(ctx, store, revoked)
		if facevault.ErrorCode(err) != facevault.EUnauthorized || k == nil || k.RevokedAt.IsZero() {
			t.Errorf("revoked key: got %+v, %v; want the key and the 401", k, err)
		}
		k, err = facevault.AuthenticateKey(ctx, store, test[:len(test)-1]+"x")
		if facevault.ErrorCode(err) != facevault.EUnauthorized || k != nil {
			t.Errorf("unknown key: got %+v, %v; want no key and the 401", k, err)
		}
	})
	t.Run("ErrStoreDown", func(t *testing.T) {
		store := &keyStore{err: errors.New("disk on fire")}
		_, err := facevault.Authenticate(ctx, store, test)
		if err == nil || facevault.ErrorCode(err) != facevault.EInternal {
			t.Errorf("got %v, want an internal error", err)
		}
	})
}
