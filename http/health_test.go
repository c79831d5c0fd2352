package http_test

import (
	"context"
	"errors"
	"net/http"
	"testing"

	"github.com/facevault/facevault"
)

// pingStore is a record store whose Ping fails, or blocks until its
// context is done.
type pingStore struct {
	facevault.Store
	block bool
}

func (s pingStore) Ping(ctx context.Context) error {
	if s.block {
		<-ctx.Done()
		return ctx.Err()
	}
	return errors.New("connection refused")
}

// TestHealth: /healthz answers while the process serves; /readyz answers
// 200 naming every part when the stores answer, and 503 naming the part
// that fails or does not answer in time; neither needs a key.
func TestHealth(t *testing.T) {
	forEachBackend(t, func(t *testing.T, env *testEnv) {
		r := env.do(t, "GET", "/healthz", "", nil)
		wantStatus(t, r, http.StatusOK)
		if r.JSON["status"] != "ok" {
			t.Errorf("/healthz = %v", r.JSON)
		}
		r = env.do(t, "GET", "/readyz", "", nil)
		wantStatus(t, r, http.StatusOK)
		parts, _ := r.JSON["parts"].(map[string]any)
		if r.JSON["status"] != "ready" || parts["recordStore"] != "ok" || parts["imageStore"] != "ok" || parts["keyStore"] != "ok" {
			t.Errorf("/readyz = %v, want ready with the record, image and key stores ok", r.JSON)
		}
		orig := env.vault.Store
		defer func() { env.vault.Store = orig }()
		for _, tc := range []struct {
			name  string
			store pingStore
			want  string
		}{{"down", pingStore{orig, false}, "error"}, {"hung", pingStore{orig, true}, "timeout"}} {
			env.vault.Store = tc.store
			r := env.do(t, "GET", "/readyz", "", nil)
			wantStatus(t, r, http.StatusServiceUnavailable)
			parts, _ := r.JSON["parts"].(map[string]any)
			if r.JSON["status"] != "unavailable" || parts["recordStore"] != tc.want || parts["imageStore"] != "ok" {
				t.Errorf("record store %s: /readyz = %v, want unavailable, recordStore %s", tc.name, r.JSON, tc.want)
			}
			wantStatus(t, env.do(t, "GET", "/healthz", "", nil), http.StatusOK)
		}
	})
}

// TestResponseHeaders: every answer, success or error, authenticated or
// not, says nosniff and, except the public receipt key, no-store.
func TestResponseHeaders(t *testing.T) {
	forEachBackend(t, func(t *testing.T, env *testEnv) {
		client := env.newClientID(t, env.KeyA)
		for _, tc := range []struct{ method, path, key string }{
			{"GET", "/v1/clients/" + client, env.KeyA},
			{"GET", "/v1/clients", env.KeyA},
			{"GET", "/v1/clients/" + unknownID(), env.KeyA},
			{"GET", "/v1/clients", ""},
			{"GET", "/v1/nothing", env.KeyA},
			{"PUT", "/v1/clients", env.KeyA},
			{"GET", "/healthz", ""},
			{"GET", "/readyz", ""},
		} {
			r := env.do(t, tc.method, tc.path, tc.key, nil)
			if got := r.Header.Get("X-Content-Type-Options"); got != "nosniff" {
				t.Errorf("%s %s (%d): X-Content-Type-Options %q, want nosniff", tc.method, tc.path, r.Status, got)
			}
			if got := r.Header.Get("Cache-Control"); got != "no-store" {
				t.Errorf("%s %s (%d): Cache-Control %q, want no-store", tc.method, tc.path, r.Status, got)
			}
		}
		res, err := env.client.Get(env.URL + "/.well-known/facevault-receipts.pub")
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != http.StatusOK || res.Header.Get("X-Content-Type-Options") != "nosniff" || res.Header.Get("Cache-Control") == "no-store" {
			t.Errorf("receipt key: %d, headers %v; want 200, nosniff and cacheable", res.StatusCode, res.Header)
		}
	})
}
