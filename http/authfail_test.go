package http_test

import (
	"context"
	"net/http"
	"net/netip"
	"strconv"
	"sync/atomic"
	"testing"

	"github.com/facevault/facevault"
	fvhttp "github.com/facevault/facevault/http"
	"github.com/facevault/facevault/internal/apitest"
)

// countingKeys counts the key lookups that reach the key store.
type countingKeys struct {
	facevault.KeyStore
	lookups atomic.Int64
}

func (k *countingKeys) KeyByHash(ctx context.Context, hash []byte) (*facevault.APIKey, error) {
	k.lookups.Add(1)
	return k.KeyStore.KeyByHash(ctx, hash)
}

// unknownKey is a well-formed key that names no key: authenticating it
// takes a lookup.
const unknownKey = "test_0123456789abcdefghijABCDEFGHIJ0123456789"

// getFrom sends GET /v1/clients from a loopback address, with the key and
// X-Forwarded-For ("" sends none), and returns the answer.
func getFrom(t *testing.T, env *testEnv, local, key, xff string) *response {
	t.Helper()
	c := env.dial(t, local)
	req := "GET /v1/clients HTTP/1.1\r\nHost: facevault.test\r\nConnection: close\r\nAuthorization: " + key + "\r\n"
	if xff != "" {
		req += "X-Forwarded-For: " + xff + "\r\n"
	}
	if key == "" {
		req += apitest.InvalidHeader + ": no API key\r\n"
	}
	c.mustWrite(t, []byte(req+"\r\n"))
	return c.answer(t)
}

// wantLimited checks the answer to a source over its failed-authentication
// budget.
func wantLimited(t *testing.T, r *response) {
	t.Helper()
	wantError(t, r, http.StatusTooManyRequests, "rate_limit_exceeded", "Too many failed authentications from your address; retry later", "")
	if s, err := strconv.Atoi(r.Header.Get("Retry-After")); err != nil || s < 1 || s > 60 {
		t.Errorf("Retry-After = %q, want 1 to 60 seconds (a token a minute)", r.Header.Get("Retry-After"))
	}
}

// TestAuthFailureLimit: each source address may fail to authenticate
// burst times, then a token a minute; over that, its requests get 429
// before any key lookup, whatever key they carry, while other addresses
// carry on. Successful authentications cost nothing.
func TestAuthFailureLimit(t *testing.T) {
	const burst = 3
	cfg := fvhttp.Config{AuthFailuresPerMinute: 1, AuthFailuresBurst: burst}
	var keys *countingKeys
	opts := envOptions{cfg: cfg, keys: func(k facevault.KeyStore) facevault.KeyStore {
		keys = &countingKeys{KeyStore: k}
		return keys
	}}
	forEachBackendWith(t, opts, func(t *testing.T, env *testEnv) {
		// Successes from 127.0.0.2 take nothing from its budget.
		for range 2 * burst {
			wantStatus(t, getFrom(t, env, "127.0.0.2", env.KeyA, ""), http.StatusOK)
		}
		for range burst {
			wantError(t, getFrom(t, env, "127.0.0.2", unknownKey, ""), http.StatusUnauthorized, "unauthorized", msgUnauthorized, "")
		}
		before := keys.lookups.Load()
		wantLimited(t, getFrom(t, env, "127.0.0.2", unknownKey, ""))
		wantLimited(t, getFrom(t, env, "127.0.0.2", env.KeyA, ""))            // a good key too: the source is refused
		wantLimited(t, getFrom(t, env, "127.0.0.2", "garbage", ""))           // and a malformed one
		wantLimited(t, getFrom(t, env, "127.0.0.2", unknownKey, "192.0.2.1")) // X-Forwarded-For from an untrusted peer is ignored
		if n := keys.lookups.Load() - before; n != 0 {
			t.Errorf("refused requests looked up %d keys, want none", n)
		}
		// Other addresses are not affected.
		wantStatus(t, getFrom(t, env, "127.0.0.3", env.KeyA, ""), http.StatusOK)
		wantError(t, getFrom(t, env, "127.0.0.3", unknownKey, ""), http.StatusUnauthorized, "unauthorized", msgUnauthorized, "")
		wantStatus(t, env.do(t, "GET", "/v1/clients", env.KeyA, nil), http.StatusOK) // from 127.0.0.1
	})
}

// TestAuthFailureLimitBehindProxy: from a trusted proxy, the client is the
// rightmost untrusted hop of X-Forwarded-For, and each client has its own
// budget; the proxy's own requests count as its own.
func TestAuthFailureLimitBehindProxy(t *testing.T) {
	const burst = 2
	cfg := fvhttp.Config{AuthFailuresPerMinute: 1, AuthFailuresBurst: burst,
		TrustedProxies: []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32"), netip.MustParsePrefix("10.0.0.0/8")}}
	forEachBackendWith(t, envOptions{cfg: cfg}, func(t *testing.T, env *testEnv) {
		for range burst {
			wantError(t, getFrom(t, env, "127.0.0.1", unknownKey, "198.51.100.7"), http.StatusUnauthorized, "unauthorized", msgUnauthorized, "")
		}
		wantLimited(t, getFrom(t, env, "127.0.0.1", env.KeyA, "198.51.100.7"))
		// The same client through a second trusted proxy; a spoofed
		// left-most hop changes nothing.
		wantLimited(t, getFrom(t, env, "127.0.0.1", env.KeyA, "203.0.113.1, 198.51.100.7, 10.1.1.1"))
		// Another client through the same proxy, and the proxy itself.
		wantStatus(t, getFrom(t, env, "127.0.0.1", env.KeyA, "198.51.100.8"), http.StatusOK)
		wantStatus(t, getFrom(t, env, "127.0.0.1", env.KeyA, ""), http.StatusOK)
		// A peer that is not a trusted proxy cannot claim to be someone
		// else: its header is ignored, its own address counts.
		for range burst {
			wantError(t, getFrom(t, env, "127.0.0.5", unknownKey, "198.51.100.9"), http.StatusUnauthorized, "unauthorized", msgUnauthorized, "")
		}
		wantLimited(t, getFrom(t, env, "127.0.0.5", env.KeyA, "198.51.100.10"))
		wantStatus(t, getFrom(t, env, "127.0.0.1", env.KeyA, "198.51.100.9"), http.StatusOK)
	})
}
