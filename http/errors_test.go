package http_test

import (
	"encoding/base64"
	"net/http"
	"slices"
	"strings"
	"testing"
)

const msgUnauthorized = "The 'Authorization' header is invalid"

// TestAuthentication covers section 2: which Authorization headers are
// accepted, on every kind of route.
func TestAuthentication(t *testing.T) {
	forEachBackend(t, func(t *testing.T, env *testEnv) {
		clientID := env.newClientID(t, env.KeyA)
		photoID := str(t, env.upload(t, env.KeyA, clientID, images().jpeg), "id")
		before := env.snapshot(t)

		routes := []struct {
			name, method, path string
			body               any
		}{
			{"ListClients", "GET", "/v1/clients", nil},
			{"CreateClient", "POST", "/v1/clients", map[string]any{"type": "company", "email": "a@b.co", "companyDetails": map[string]any{"name": "Acme"}}},
			{"GetClient", "GET", "/v1/clients/" + clientID, nil},
			{"UpdateClient", "POST", "/v1/clients/" + clientID, map[string]any{"mobile": "+44 7700 900000"}},
			{"DeleteClient", "DELETE", "/v1/clients/" + clientID, nil},
			{"ListLivePhotos", "GET", "/v1/livePhotos?clientId=" + clientID, nil},
			{"Upload", "POST", "/v1/livePhotos", map[string]any{"clientId": clientID, "data": base64.StdEncoding.EncodeToString(images().png)}},
			{"GetLivePhoto", "GET", "/v1/livePhotos/" + photoID, nil},
			{"Download", "GET", "/v1/livePhotos/" + photoID + "/download", nil},
			{"Redact", "POST", "/v1/livePhotos/" + photoID + "/redact", nil},
			{"DeleteLivePhoto", "DELETE", "/v1/livePhotos/" + photoID, nil},
		}
		garbled := []byte(env.KeyA)
		garbled[len(garbled)-1] ^= 1 // still base62, different key
		bad := []struct{ name, header string }{
			{"ErrNoHeader", ""},
			{"ErrGarbage", "garbage"},
			{"ErrEmptyBearer", "Bearer "},
			{"ErrUnknownKey", "test_0123456789abcdefghijABCDEFGHIJ0123456789"},
			{"ErrAlteredKey", string(garbled)},
			{"ErrWrongModePrefix", "live_" + strings.TrimPrefix(env.KeyA, "test_")},
			{"ErrRevokedKey", env.KeyRevoked},
			{"ErrRevokedKeyBearer", "Bearer " + env.KeyRevoked},
			{"ErrBasicScheme", "Basic " + env.KeyA},
			{"ErrKeyTwice", env.KeyA + " " + env.KeyA},
		}
		for _, rt := range routes {
			for _, b := range bad {
				t.Run(rt.name+"/"+b.name, func(t *testing.T) {
					r := env.do(t, rt.method, rt.path, b.header, rt.body)
					wantError(t, r, http.StatusUnauthorized, "unauthorized", msgUnauthorized, "")
				})
			}
		}
		if got := env.snapshot(t); !slices.Equal(got, before) {
			t.Errorf("refused requests changed the blob store:\nbefore %v\nafter  %v", before, got)
		}
		if ids := env.photoIDs(t, env.KeyA, clientID); !slices.Equal(ids, []string{photoID}) {
			t.Errorf("photos after refused requests = %v, want [%s]", ids, photoID)
		}
		p := env.do(t, "GET", "/v1/livePhotos/"+photoID, env.KeyA, nil)
		wantStatus(t, p, http.StatusOK)
		if _, has := p.JSON["redacted"]; has {
			t.Errorf("photo redacted by an unauthenticated request")
		}
		c := env.do(t, "GET", "/v1/clients/"+clientID, env.KeyA, nil)
		wantStatus(t, c, http.StatusOK)
		if _, has := c.JSON["mobile"]; has {
			t.Errorf("client updated by an unauthenticated request")
		}
		_, cids := env.list(t, env.KeyA, "/v1/clients")
		if !slices.Equal(cids, []string{clientID}) {
			t.Errorf("clients after refused requests = %v, want [%s]", cids, clientID)
		}

		t.Run("OK/RawKey", func(t *testing.T) {
			wantStatus(t, env.do(t, "GET", "/v1/clients/"+clientID, env.KeyA, nil), http.StatusOK)
		})
		t.Run("OK/Bearer", func(t *testing.T) {
			wantStatus(t, env.do(t, "GET", "/v1/clients/"+clientID, "Bearer "+env.KeyA, nil), http.StatusOK)
			r := env.do(t, "POST", "/v1/livePhotos", "Bearer "+env.KeyA, map[string]any{
				"clientId": clientID, "data": base64.StdEncoding.EncodeToString(images().png)})
			wantStatus(t, r, http.StatusOK)
		})
		t.Run("OK/LiveKey", func(t *testing.T) {
			wantStatus(t, env.do(t, "GET", "/v1/clients", env.KeyALive, nil), http.StatusOK)
		})
	})
}

// TestContentType covers section 1: a body must be declared JSON; GET and
// DELETE may carry the header too.
func TestContentType(t *testing.T) {
	forEachBackend(t, func(t *testing.T, env *testEnv) {
		clientID := env.newClientID(t, env.KeyA)
		person := map[string]any{"type": "person", "email": "ct@example.com",
			"personDetails": map[string]any{"firstName": "C", "lastName": "T"}}
		photo := func() map[string]any {
			return map[string]any{"clientId": clientID, "data": base64.StdEncoding.EncodeToString(images().jpeg)}
		}
		endpoints := []struct {
			name, method, path string
			body               func() map[string]any
		}{
			{"CreateClient", "POST", "/v1/clients", func() map[string]any { return person }},
			{"UpdateClient", "POST", "/v1/clients/" + clientID, func() map[string]any { return map[string]any{"mobile": "123"} }},
			{"Upload", "POST", "/v1/livePhotos", photo},
		}
		cases := []struct {
			name, ct string
			ok       bool
		}{
			{"OK/ApplicationJSON", "application/json", true},
			{"OK/Charset", "application/json; charset=utf-8", true},
			{"OK/CharsetUpperCase", "Application/JSON; charset=UTF-8", true},
			{"ErrMissing", "", false},
			{"ErrTextPlain", "text/plain", false},
			{"ErrTextPlainCharset", "text/plain; charset=utf-8", false},
			{"ErrForm", "application/x-www-form-urlencoded", false},
			{"ErrMultipart", "multipart/form-data; boundary=xyz", false},
			{"ErrJSONPrefix", "application/jsonx", false},
			{"ErrMalformed", "application/json; charset", false},
		}
		for _, ep := range endpoints {
			for _, c := range cases {
				t.Run(ep.name+"/"+c.name, func(t *testing.T) {
					before := env.snapshot(t)
					r := env.do(t, ep.method, ep.path, env.KeyA, ep.body(), "Content-Type", c.ct)
					if c.ok {
						wantStatus(t, r, http.StatusOK)
						return
					}
					wantError(t, r, http.StatusBadRequest, "invalid_request", "", "Content-Type")
					if got := env.snapshot(t); !slices.Equal(got, before) {
						t.Errorf("refused request changed the blob store: %v -> %v", before, got)
					}
				})
			}
		}
		t.Run("OK/GETWithJSONContentType", func(t *testing.T) {
			for _, p := range []string{"/v1/clients", "/v1/clients/" + clientID, "/v1/livePhotos?clientId=" + clientID} {
				wantStatus(t, env.do(t, "GET", p, env.KeyA, nil, "Content-Type", "application/json"), http.StatusOK)
			}
		})
		t.Run("OK/DELETEWithJSONContentType", func(t *testing.T) {
			id := env.newClientID(t, env.KeyA)
			r := env.do(t, "DELETE", "/v1/clients/"+id, env.KeyA, nil, "Content-Type", "application/json")
			wantStatus(t, r, http.StatusNoContent)
		})
		t.Run("OK/RedactWithoutBody", func(t *testing.T) {
			id := str(t, env.upload(t, env.KeyA, clientID, images().jpeg), "id")
			wantStatus(t, env.do(t, "POST", "/v1/livePhotos/"+id+"/redact", env.KeyA, nil), http.StatusOK)
		})
		t.Run("OK/RedactWithJSONBody", func(t *testing.T) {
			id := str(t, env.upload(t, env.KeyA, clientID, images().jpeg), "id")
			wantStatus(t, env.do(t, "POST", "/v1/livePhotos/"+id+"/redact", env.KeyA, "{}"), http.StatusOK)
		})
	})
}

// TestBadJSONBody covers bodies that are not a JSON object, on every
// endpoint that takes one.
func TestBadJSONBody(t *testing.T) {
	forEachBackend(t, func(t *testing.T, env *testEnv) {
		clientID := env.newClientID(t, env.KeyA)
		b64 := base64.StdEncoding.EncodeToString(images().jpeg)
		endpoints := []struct{ name, path string }{
			{"CreateClient", "/v1/clients"},
			{"UpdateClient", "/v1/clients/" + clientID},
			{"Upload", "/v1/livePhotos"},
		}
		bodies := []struct{ name, body string }{
			{"ErrEmpty", ""},
			{"ErrWhitespace", "  \n "},
			{"ErrNotJSON", "hello"},
			{"ErrNotJSONForm", "type=person&email=a@b.co"},
			{"ErrTruncated", `{"type":"person","email":"a@b.co"`},
			{"ErrTruncatedInString", `{"clientId":"` + clientID + `","data":"` + b64[:2000]},
			{"ErrTruncatedAfterData", `{"clientId":"` + clientID + `","data":"` + b64 + `"`},
			{"ErrTrailingComma", `{"clientId":"` + clientID + `",}`},
			{"ErrTrailingGarbage", `{"clientId":"` + clientID + `"} x`},
			{"ErrTwoObjects", `{"clientId":"` + clientID + `"}{}`},
			{"ErrSingleQuotes", `{'type':'person'}`},
			{"ErrArray", `[{"type":"person"}]`},
			{"ErrString", `"hello"`},
			{"ErrNumber", `42`},
			{"ErrNull", `null`},
			{"ErrTrue", `true`},
			{"ErrInvalidUTF8", "{\"\xff\xfe\":1}"},
		}
		for _, ep := range endpoints {
			for _, b := range bodies {
				t.Run(ep.name+"/"+b.name, func(t *testing.T) {
					before := env.snapshot(t)
					r := env.do(t, "POST", ep.path, env.KeyA, b.body, invalid("not a JSON object")...)
					wantError(t, r, http.StatusBadRequest, "invalid_request", "", "")
					if got := env.snapshot(t); !slices.Equal(got, before) {
						t.Errorf("refused request changed the blob store: %v -> %v", before, got)
					}
				})
			}
		}
		if ids := env.photoIDs(t, env.KeyA, clientID); len(ids) != 0 {
			t.Errorf("client has photos after refused uploads: %v", ids)
		}
		_, ids := env.list(t, env.KeyA, "/v1/clients")
		if len(ids) != 1 {
			t.Errorf("%d clients after refused creates, want 1", len(ids))
		}
	})
}

// TestUnknownRoute covers 404 for paths that name nothing.
func TestUnknownRoute(t *testing.T) {
	forEachBackend(t, func(t *testing.T, env *testEnv) {
		clientID := env.newClientID(t, env.KeyA)
		photoID := str(t, env.upload(t, env.KeyA, clientID, images().jpeg), "id")
		paths := []struct{ method, path string }{
			{"GET", "/"},
			{"GET", "/v1"},
			{"GET", "/v1/"},
			{"GET", "/v2/clients"},
			{"GET", "/v1/client"},
			{"GET", "/v1/Clients"},
			{"GET", "/v1/livephotos"},
			{"GET", "/v1/documents"},
			// Checks are served, but not the redaction of document checks.
			{"POST", "/v1/checks/" + photoID + "/redact"},
			{"POST", "/v1/checks/" + photoID + "/validate/now"},
			{"GET", "/v1/livePhotos/" + photoID + "/thumbnail"},
			{"POST", "/v1/livePhotos/" + photoID + "/redact/now"},
			{"GET", "/v1/clients/" + clientID + "/livePhotos"},
			{"DELETE", "/v1/clients/" + clientID + "/x"},
			// Unclean paths must not reach a resource, nor be redirected.
			{"GET", "/v1/clients/../clients/" + clientID},
			{"GET", "/v1/livePhotos/./" + photoID},
			{"GET", "/v1//livePhotos/" + photoID},
			{"GET", "/v1/livePhotos/" + photoID + "/../" + photoID},
			{"DELETE", "/v1/clients/../clients/" + clientID},
			{"DELETE", "/v1/livePhotos/x/../" + photoID},
			{"GET", "/v1/clients/.."},
			{"GET", "/v1/livePhotos/%2e%2e/clients"},
		}
		for _, p := range paths {
			t.Run("Err "+p.method+" "+p.path, func(t *testing.T) {
				for _, key := range []string{env.KeyA, ""} {
					r := env.do(t, p.method, p.path, key, nil)
					wantError(t, r, http.StatusNotFound, "resource_not_found", "", "")
					if loc := r.Header.Get("Location"); loc != "" {
						t.Errorf("Location header %q on a 404", loc)
					}
				}
			})
		}
		// An escaped dot segment is either a dot segment or an id: 404 both
		// ways.
		t.Run("ErrEscapedDotDot", func(t *testing.T) {
			for _, p := range []string{"/v1/clients/%2E%2E", "/v1/livePhotos/%2e%2e", "/v1/livePhotos/%2E%2E/download"} {
				wantError(t, env.do(t, "GET", p, env.KeyA, nil), http.StatusNotFound, "resource_not_found", "", "")
			}
		})
		// Nothing above touched the resources.
		wantStatus(t, env.do(t, "GET", "/v1/clients/"+clientID, env.KeyA, nil), http.StatusOK)
		wantStatus(t, env.do(t, "GET", "/v1/livePhotos/"+photoID+"/download", env.KeyA, nil), http.StatusOK)
	})
}

// TestUnknownID covers 404 for ids that name nothing of the caller, on
// every route that takes one: unknown, malformed, path-like, and ids of
// another account or another mode.
func TestUnknownID(t *testing.T) {
	forEachBackend(t, func(t *testing.T, env *testEnv) {
		clientA := env.newClientID(t, env.KeyA)
		photoA := str(t, env.upload(t, env.KeyA, clientA, images().jpeg), "id")
		clientLive := env.newClientID(t, env.KeyALive)
		photoLive := str(t, env.upload(t, env.KeyALive, clientLive, images().jpeg), "id")
		clientB := env.newClientID(t, env.KeyB)
		photoB := str(t, env.upload(t, env.KeyB, clientB, images().jpeg), "id")
		before := env.snapshot(t)

		// Each id: as written in the path, and as the server should quote
		// it (decoded).
		type id struct{ name, path, quoted string }
		ids := func(own, live, other string) []id {
			return []id{
				{"ErrUnknown", "aaaaaaaaaaaaaaaaaaaaaaaa", "aaaaaaaaaaaaaaaaaaaaaaaa"},
				{"ErrUnknownNew", unknownID(), ""},
				{"ErrMalformed", "nope", "nope"},
				{"ErrUpperCase", strings.ToUpper(own), strings.ToUpper(own)},
				{"ErrTooShort", own[:23], own[:23]},
				{"ErrTooLong", own + "0", own + "0"},
				{"ErrNonHex", "zzzzzzzzzzzzzzzzzzzzzzzz", "zzzzzzzzzzzzzzzzzzzzzzzz"},
				{"ErrSpace", own[:12] + "%20" + own[13:], own[:12] + " " + own[13:]},
				{"ErrEscapedSlash", "a%2Fb", "a/b"},
				{"ErrEscapedSlashAfterID", own + "%2F", own + "/"},
				{"ErrEscapedTraversal", "..%2F..%2Fetc%2Fpasswd", "../../etc/passwd"},
				{"ErrEscapedTraversalToID", "..%2F" + own, "../" + own},
				{"ErrEscapedDotDotSlash", "%2E%2E%2F", "../"},
				{"ErrOtherMode", live, live},
				{"ErrOtherAccount", other, other},
			}
		}
		clientRoutes := []struct{ method, suffix string }{
			{"GET", ""}, {"POST", ""}, {"DELETE", ""},
		}
		photoRoutes := []struct{ method, suffix string }{
			{"GET", ""}, {"DELETE", ""}, {"GET", "/download"}, {"POST", "/redact"},
		}
		for _, rt := range clientRoutes {
			for _, id := range ids(clientA, clientLive, clientB) {
				t.Run("Client/"+rt.method+rt.suffix+"/"+id.name, func(t *testing.T) {
					var body any
					if rt.method == "POST" {
						body = map[string]any{"mobile": "+1 555 0100"}
					}
					r := env.do(t, rt.method, "/v1/clients/"+id.path+rt.suffix, env.KeyA, body)
					want := id.quoted
					if want == "" {
						want = id.path
					}
					wantError(t, r, http.StatusNotFound, "resource_not_found", "Invalid client id '"+want+"'", "")
				})
			}
		}
		for _, rt := range photoRoutes {
			for _, id := range ids(photoA, photoLive, photoB) {
				t.Run("LivePhoto/"+rt.method+rt.suffix+"/"+id.name, func(t *testing.T) {
					r := env.do(t, rt.method, "/v1/livePhotos/"+id.path+rt.suffix, env.KeyA, nil)
					want := id.quoted
					if want == "" {
						want = id.path
					}
					wantError(t, r, http.StatusNotFound, "resource_not_found", "Invalid live photo id '"+want+"'", "")
				})
			}
		}
		// The same from the other side: A's objects do not exist for B nor
		// for A's live key.
		for _, k := range []struct{ name, key string }{{"OtherAccount", env.KeyB}, {"OtherMode", env.KeyALive}} {
			t.Run("ErrCrossTenant/"+k.name, func(t *testing.T) {
				for _, rt := range clientRoutes {
					var body any
					if rt.method == "POST" {
						body = map[string]any{"email": "thief@example.com"}
					}
					r := env.do(t, rt.method, "/v1/clients/"+clientA, k.key, body)
					wantError(t, r, http.StatusNotFound, "resource_not_found", "Invalid client id '"+clientA+"'", "")
				}
				for _, rt := range photoRoutes {
					r := env.do(t, rt.method, "/v1/livePhotos/"+photoA+rt.suffix, k.key, nil)
					wantError(t, r, http.StatusNotFound, "resource_not_found", "Invalid live photo id '"+photoA+"'", "")
				}
				env.wantEmptyPhotoList(t, k.key, clientA)
				r := env.do(t, "POST", "/v1/livePhotos", k.key, map[string]any{
					"clientId": clientA, "data": base64.StdEncoding.EncodeToString(images().jpeg)})
				wantError(t, r, http.StatusNotFound, "resource_not_found", "Invalid client id '"+clientA+"'", "")
				_, ids := env.list(t, k.key, "/v1/clients?pageSize=1000")
				if slices.Contains(ids, clientA) {
					t.Errorf("client list of another tenant contains %s", clientA)
				}
			})
		}

		// None of that changed anything.
		if got := env.snapshot(t); !slices.Equal(got, before) {
			t.Errorf("refused requests changed the blob store:\nbefore %v\nafter  %v", before, got)
		}
		for _, o := range []struct{ key, client, photo string }{
			{env.KeyA, clientA, photoA}, {env.KeyALive, clientLive, photoLive}, {env.KeyB, clientB, photoB},
		} {
			c := env.do(t, "GET", "/v1/clients/"+o.client, o.key, nil)
			wantStatus(t, c, http.StatusOK)
			if _, has := c.JSON["mobile"]; has {
				t.Errorf("client %s was updated through another tenant or a bad id: %s", o.client, c.Body)
			}
			if c.JSON["email"] != "jane@example.com" {
				t.Errorf("client %s email changed: %s", o.client, c.Body)
			}
			p := env.do(t, "GET", "/v1/livePhotos/"+o.photo, o.key, nil)
			wantStatus(t, p, http.StatusOK)
			if _, has := p.JSON["redacted"]; has {
				t.Errorf("photo %s was redacted through another tenant: %s", o.photo, p.Body)
			}
			wantStatus(t, env.do(t, "GET", "/v1/livePhotos/"+o.photo+"/download", o.key, nil), http.StatusOK)
			if ids := env.photoIDs(t, o.key, o.client); !slices.Equal(ids, []string{o.photo}) {
				t.Errorf("photos of %s = %v, want [%s]", o.client, ids, o.photo)
			}
		}
	})
}

func (e *testEnv) wantEmptyPhotoList(t testing.TB, key, clientID string) {
	t.Helper()
	env, ids := e.list(t, key, "/v1/livePhotos?clientId="+clientID)
	wantEnvelope(t, env, 1, 100, 0, 0, 0)
	if len(ids) != 0 {
		t.Errorf("photos = %v, want none", ids)
	}
}

// TestMethodNotAllowed covers 405: known path, wrong method.
func TestMethodNotAllowed(t *testing.T) {
	forEachBackend(t, func(t *testing.T, env *testEnv) {
		id := unknownID()
		cases := []struct {
			method, path string
			allow        []string
		}{
			{"PUT", "/v1/clients", []string{"GET", "POST"}},
			{"DELETE", "/v1/clients", []string{"GET", "POST"}},
			{"PATCH", "/v1/clients/", []string{"GET", "POST"}},
			{"PUT", "/v1/clients/" + id, []string{"GET", "POST", "DELETE"}},
			{"PATCH", "/v1/clients/" + id, []string{"GET", "POST", "DELETE"}},
			{"DELETE", "/v1/livePhotos", []string{"GET", "POST"}},
			{"DELETE", "/v1/livePhotos/", []string{"GET", "POST"}},
			{"PUT", "/v1/livePhotos", []string{"GET", "POST"}},
			{"POST", "/v1/livePhotos/" + id, []string{"GET", "DELETE"}},
			{"PUT", "/v1/livePhotos/" + id, []string{"GET", "DELETE"}},
			{"POST", "/v1/livePhotos/" + id + "/download", []string{"GET"}},
			{"DELETE", "/v1/livePhotos/" + id + "/download", []string{"GET"}},
			{"GET", "/v1/livePhotos/" + id + "/redact", []string{"POST"}},
			{"DELETE", "/v1/livePhotos/" + id + "/redact", []string{"POST"}},
		}
		for _, c := range cases {
			t.Run("Err "+c.method+" "+c.path, func(t *testing.T) {
				for _, key := range []string{env.KeyA, ""} {
					var body any
					if c.method != "GET" && c.method != "DELETE" {
						body = "{}"
					}
					r := env.do(t, c.method, c.path, key, body)
					wantError(t, r, http.StatusMethodNotAllowed, "invalid_request", "", "")
					allow := r.Header.Get("Allow")
					if allow == "" {
						t.Fatalf("no Allow header")
					}
					var got []string
					for _, m := range strings.Split(allow, ",") {
						if m = strings.TrimSpace(m); m != "HEAD" {
							got = append(got, m)
						}
					}
					slices.Sort(got)
					want := slices.Sorted(slices.Values(c.allow))
					if !slices.Equal(got, want) {
						t.Errorf("Allow = %q, want %v (HEAD optional)", allow, c.allow)
					}
				}
			})
		}
	})
}
