package http_test

// Regressions found by the fuzz targets (fuzz_test.go).

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

// TestListQueryNeverWidens holds the regressions FuzzListQuery found: parts
// of a list's query that did not parse were dropped, a "before" date at the
// zero time was taken as no bound, and time.Parse took dates ISO-8601 does
// not (one-digit hours, offsets of 24 hours). Each widened the list; each
// must now match nothing, as malformed filters do.
func TestListQueryNeverWidens(t *testing.T) {
	forEachBackend(t, func(t *testing.T, env *testEnv) {
		env.clock.Set(time.Date(2024, 5, 1, 10, 0, 0, 0, time.UTC))
		clientID := env.newClientID(t, env.KeyA)
		env.createClient(t, env.KeyA, map[string]any{"type": "company", "companyDetails": map[string]any{"name": "Acme"}, "personDetails": nil})
		env.upload(t, env.KeyA, clientID, images().jpeg)

		tooMany := "type=company" + strings.Repeat("&x", 10000)
		for _, q := range []string{
			"type=company;x=1", "type=%zz", "type=company&%zz", "type=company&x=%", tooMany,
			"createdBefore=0001-01-01T00:00:00Z", "createdBefore=" + url.QueryEscape("0001-01-01T01:00+01:00"), "createdBefore=0001-01-01",
			"createdAfter=2020-01-01T1:00", "createdAfter=2020-01-01T1:00:00Z", "createdAfter=" + url.QueryEscape("2020-01-01T00:00:00+24:00"),
			"createdAfter=" + url.QueryEscape("2020-01-01T00:00+01:60"), "updatedBefore=0001-01-01T00:00:00.000Z",
		} {
			e, _ := env.list(t, env.KeyA, "/v1/clients?"+q)
			wantEnvelope(t, e, 1, 100, 0, 0, 0)
		}
		for _, q := range []string{"a;b", "x=%zz", "createdBefore=0001-01-01T00:00:00Z", "createdAfter=2020-01-01T9:00"} {
			e, _ := env.list(t, env.KeyA, "/v1/livePhotos?clientId="+clientID+"&"+q)
			wantEnvelope(t, e, 1, 100, 0, 0, 0)
		}
		// Bounds far out, and the forms that stay accepted, still match.
		for _, q := range []string{
			"createdAfter=0001-01-01T00:00:00Z", "createdAfter=0000-01-01", "createdBefore=9999-12-31T23:59:59.999Z",
			"createdAfter=" + url.QueryEscape("2020-01-01T00:00+23:59"), "createdAfter=2020-01-01T00:00:00,5Z",
			"createdAfter=2020-01-01T00:00", "updatedBefore=2024-05-01T10:00:00.001",
		} {
			e, _ := env.list(t, env.KeyA, "/v1/clients?"+q)
			wantEnvelope(t, e, 1, 100, 2, 1, 2)
			e, _ = env.list(t, env.KeyA, "/v1/livePhotos?clientId="+clientID+"&"+q)
			wantEnvelope(t, e, 1, 100, 1, 1, 1)
		}
	})
}

// TestInvalidUTF8Echo holds a regression FuzzPathID found: an id, or a path,
// holding invalid UTF-8 (written %88) was echoed in the 404 message, which
// then could not be encoded as JSON, and the caller got a 500. The answer is
// now the 404, its body valid UTF-8 (the bytes become U+FFFD).
func TestInvalidUTF8Echo(t *testing.T) {
	forEachBackend(t, func(t *testing.T, env *testEnv) {
		for _, c := range []struct{ method, path string }{
			{"GET", "/v1/clients/%ff"}, {"POST", "/v1/clients/a%88b"}, {"DELETE", "/v1/clients/%c3"},
			{"GET", "/v1/livePhotos/%88"}, {"GET", "/v1/livePhotos/%88/download"},
			{"POST", "/v1/livePhotos/%e2%82/redact"}, {"DELETE", "/v1/livePhotos/%ff%fe"}, {"GET", "/v1/%ff"},
		} {
			var body any
			if c.method == "POST" {
				body = map[string]any{}
			}
			r := env.do(t, c.method, c.path, env.KeyA, body)
			wantError(t, r, http.StatusNotFound, "resource_not_found", "", "")
			if !utf8.Valid(r.Body) {
				t.Errorf("%s %s: body is not UTF-8: %q", c.method, c.path, r.Body)
			}
		}
	})
}

// TestEscapedSlashID holds a regression FuzzPathID found: ServeMux takes a
// path element that is an escaped slash alone for the trailing slash of a
// collection, so that POST /v1/clients/%2F created a client and GET listed
// them. Such an id names nothing: 404.
func TestEscapedSlashID(t *testing.T) {
	forEachBackend(t, func(t *testing.T, env *testEnv) {
		for _, c := range []struct{ method, path string }{
			{"GET", "/v1/clients/%2F"}, {"POST", "/v1/clients/%2f"}, {"DELETE", "/v1/clients/%2F"},
			{"GET", "/v1/livePhotos/%2F"}, {"DELETE", "/v1/livePhotos/%2f"}, {"GET", "/v1/livePhotos/%2F/download"},
			{"POST", "/v1/livePhotos/%2F/redact"},
		} {
			var body any
			if c.method == "POST" {
				body = map[string]any{"type": "person", "email": "a@b.c", "personDetails": map[string]any{"firstName": "A", "lastName": "B"}}
			}
			// An escaped slash alone is no id: the path lacks its id.
			r := env.do(t, c.method, c.path, env.KeyA, body, invalid("an escaped slash for an id")...)
			wantError(t, r, http.StatusNotFound, "resource_not_found", "", "")
		}
		e, _ := env.list(t, env.KeyA, "/v1/clients")
		wantEnvelope(t, e, 1, 100, 0, 0, 0)
		// An escaped slash inside an id is still part of it.
		r := env.do(t, "GET", "/v1/clients/a%2Fb", env.KeyA, nil)
		wantError(t, r, http.StatusNotFound, "resource_not_found", "", "")
	})
}

// TestClientBodyNotJSON holds a regression FuzzClientBody found: a client
// body cut short after a value of the wrong type ({"type":{}) was answered
// as that field's fault, with its param, rather than as a body that is not
// JSON.
func TestClientBodyNotJSON(t *testing.T) {
	forEachBackend(t, func(t *testing.T, env *testEnv) {
		id := env.newClientID(t, env.KeyA)
		for _, body := range []string{`{"type":{}`, `{"email":5,`, `{"metadata":{"a":1}`, `{"personDetails":[] x`, `{"type":"person","type":5}`} {
			for _, path := range []string{"/v1/clients", "/v1/clients/" + id} {
				r := env.do(t, "POST", path, env.KeyA, body, invalid("not JSON")...)
				wantError(t, r, http.StatusBadRequest, "invalid_request", "The request body is not valid JSON", "")
			}
		}
	})
}
