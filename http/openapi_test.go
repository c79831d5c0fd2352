package http_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"testing"

	"github.com/facevault/facevault/openapi"
)

// TestOpenAPIServed: GET /v1/openapi.json answers the document, without a
// key, as JSON, cacheable: with an ETag that a conditional request is
// answered 304 for.
func TestOpenAPIServed(t *testing.T) {
	env := newTestEnv(t, backends[0])
	r := env.do(t, "GET", "/v1/openapi.json", "", nil)
	wantStatus(t, r, http.StatusOK)
	if ct := r.Header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type = %q, want application/json", ct)
	}
	if !bytes.Equal(r.Body, openapi.JSON) {
		t.Errorf("the body is not the document (%d bytes, want %d)", len(r.Body), len(openapi.JSON))
	}
	var doc struct {
		OpenAPI string         `json:"openapi"`
		Paths   map[string]any `json:"paths"`
	}
	if err := json.Unmarshal(r.Body, &doc); err != nil || doc.OpenAPI != "3.1.0" || doc.Paths["/v1/openapi.json"] == nil {
		t.Errorf("not the OpenAPI 3.1 document of the API: openapi %q, %d paths, %v", doc.OpenAPI, len(doc.Paths), err)
	}
	if cc := r.Header.Get("Cache-Control"); cc != "public, max-age=3600" {
		t.Errorf("Cache-Control = %q", cc)
	}
	etag := r.Header.Get("ETag")
	if len(etag) < 3 || etag[0] != '"' {
		t.Fatalf("ETag = %q, want a strong validator", etag)
	}
	if r.Header.Get("X-Request-Id") == "" {
		t.Errorf("no X-Request-Id")
	}

	// The same with a key: it is not needed, and not refused.
	wantStatus(t, env.do(t, "GET", "/v1/openapi.json", env.KeyA, nil), http.StatusOK)

	req, err := env.newRequest("GET", "/v1/openapi.json", "", nil, "If-None-Match", etag)
	if err != nil {
		t.Fatal(err)
	}
	res, err := env.client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusNotModified || res.Header.Get("ETag") != etag {
		t.Errorf("If-None-Match: %d with ETag %q, want 304 with %q", res.StatusCode, res.Header.Get("ETag"), etag)
	}
	r = env.do(t, "GET", "/v1/openapi.json", "", nil, "If-None-Match", `"other"`)
	wantStatus(t, r, http.StatusOK)

	if r := env.do(t, "POST", "/v1/openapi.json", "", "{}"); r.Status != http.StatusMethodNotAllowed {
		t.Errorf("POST /v1/openapi.json: %d, want 405", r.Status)
	}
}
