package http_test

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"net/http"
	"net/netip"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/facevault/facevault"
	fvhttp "github.com/facevault/facevault/http"
)

var hashRE = regexp.MustCompile(`^[0-9a-f]{64}$`)

// auditLogs lists the caller's audit log (the first 1,000 entries, newest
// first).
func (e *testEnv) auditLogs(t testing.TB, key, query string) []map[string]any {
	t.Helper()
	r := e.do(t, "GET", "/v1/auditLogs?pageSize=1000"+query, key, nil)
	wantStatus(t, r, http.StatusOK)
	var items []map[string]any
	for _, it := range r.JSON["items"].([]any) {
		items = append(items, it.(map[string]any))
	}
	return items
}

// chainOf returns the id of the audit chain of a key's account and mode.
func chainOf(k *facevault.APIKey) facevault.AuditChainID {
	return facevault.AuditChainID{AccountID: k.AccountID, Mode: k.Mode}
}

// auditChain reads a whole chain from the store.
func (e *testEnv) auditChain(t testing.TB, c facevault.AuditChainID) []*facevault.AuditEntry {
	t.Helper()
	es, err := e.store.AuditChain(context.Background(), c, 0, 100_000)
	if err != nil {
		t.Fatalf("AuditChain: %v", err)
	}
	return es
}

// lastEntry is the newest entry of a chain.
func (e *testEnv) lastEntry(t testing.TB, c facevault.AuditChainID) *facevault.AuditEntry {
	t.Helper()
	es := e.auditChain(t, c)
	if len(es) == 0 {
		t.Fatalf("chain %+v is empty", c)
	}
	return es[len(es)-1]
}

// wantVerified checks that every chain of the store holds together.
func (e *testEnv) wantVerified(t testing.TB) []facevault.AuditChainReport {
	t.Helper()
	reports, err := facevault.VerifyAudit(context.Background(), e.store)
	if err != nil {
		t.Fatalf("VerifyAudit: %v", err)
	}
	for _, r := range reports {
		if r.Break != nil {
			t.Errorf("chain %+v broken: %+v", r.AuditChainID, *r.Break)
		}
	}
	return reports
}

// flushAudit appends the counts of refused requests now.
func (e *testEnv) flushAudit(t testing.TB) {
	t.Helper()
	if err := e.api.FlushAudit(context.Background()); err != nil {
		t.Fatalf("FlushAudit: %v", err)
	}
}

// TestAuditLogRecordsAccess: every operation on a client or live photo
// appends an entry before it is answered, in order, in the chain of the
// caller's account and mode: the ComplyCube AuditLog fields, the key id,
// the outcome, the request id sent back in X-Request-Id, the caller's
// address, and hashes linking each entry to the one before. No entry holds
// a personal data value: an update records the paths it changed.
func TestAuditLogRecordsAccess(t *testing.T) {
	forEachBackend(t, func(t *testing.T, env *testEnv) {
		type step struct {
			r                    *response
			action, trigger, typ string
			resource, client     string
			status               int
			diff                 []string
		}
		var steps []step
		do := func(method, path string, body any, status int) *response {
			t.Helper()
			r := env.do(t, method, path, env.KeyA, body)
			wantStatus(t, r, status)
			return r
		}
		r := do("POST", "/v1/clients", map[string]any{"type": "person", "email": "jane@example.com",
			"personDetails": map[string]any{"firstName": "Jane", "lastName": "Doe"}}, 200)
		cid := str(t, r.JSON, "id")
		steps = append(steps, step{r, "create", "createClient", "client", cid, cid, 200, nil})
		r = do("GET", "/v1/clients/"+cid, nil, 200)
		steps = append(steps, step{r, "read", "getClient", "client", cid, cid, 200, nil})
		r = do("GET", "/v1/clients?email=jane@example.com", nil, 200)
		steps = append(steps, step{r, "list", "listClients", "client", "", "", 200, nil})
		r = do("POST", "/v1/clients/"+cid, map[string]any{"email": "joan@example.com",
			"personDetails": map[string]any{"firstName": "Joan", "lastName": "Doe"}, "metadata": map[string]any{"secret-key": "v"}}, 200)
		steps = append(steps, step{r, "update", "updateClient", "client", cid, cid, 200,
			[]string{"email", "metadata", "personDetails.firstName"}})
		img := images().jpeg
		r = do("POST", "/v1/livePhotos", map[string]any{"clientId": cid, "data": b64(img)}, 200)
		pid := str(t, r.JSON, "id")
		steps = append(steps, step{r, "create", "uploadLivePhoto", "livePhoto", pid, cid, 200, nil})
		r = do("GET", "/v1/livePhotos/"+pid, nil, 200)
		steps = append(steps, step{r, "read", "getLivePhoto", "livePhoto", pid, cid, 200, nil})
		r = do("GET", "/v1/livePhotos/?clientId="+cid, nil, 200)
		steps = append(steps, step{r, "list", "listLivePhotos", "livePhoto", "", cid, 200, nil})
		r = do("GET", "/v1/livePhotos/"+pid+"/download", nil, 200)
		steps = append(steps, step{r, "download", "downloadLivePhoto", "livePhoto", pid, cid, 200, nil})
		r = do("POST", "/v1/livePhotos/"+pid+"/redact", nil, 200)
		steps = append(steps, step{r, "redact", "redactLivePhoto", "livePhoto", pid, cid, 200, nil})
		r = do("POST", "/v1/livePhotos", map[string]any{"clientId": cid, "data": b64(img)}, 200)
		pid2 := str(t, r.JSON, "id")
		steps = append(steps, step{r, "create", "uploadLivePhoto", "livePhoto", pid2, cid, 200, nil})
		r = do("DELETE", "/v1/livePhotos/"+pid2, nil, 204)
		steps = append(steps, step{r, "delete", "deleteLivePhoto", "livePhoto", pid2, cid, 204, nil})
		r = do("DELETE", "/v1/clients/"+cid, nil, 204)
		steps = append(steps, step{r, "delete", "deleteClient", "client", cid, cid, 204, nil})

		list := env.do(t, "GET", "/v1/auditLogs?pageSize=1000", env.KeyA, nil)
		wantStatus(t, list, http.StatusOK)
		entries := env.auditLogs(t, env.KeyA, "")
		if len(entries) != len(steps) {
			t.Fatalf("%d entries, want %d: %v", len(entries), len(steps), entries)
		}
		// Newest first, ties within a millisecond broken by id as in every
		// list: the chain's order is seq's.
		slices.SortFunc(entries, func(a, b map[string]any) int { return cmp.Compare(num(t, a, "seq"), num(t, b, "seq")) })
		prev := facevault.GenesisHash
		for i, s := range steps {
			e := entries[i]
			what := s.trigger
			want := map[string]any{
				"id": e["id"], "createdAt": e["createdAt"], "hash": e["hash"],
				"trigger": s.trigger, "action": s.action, "resourceType": s.typ,
				"keyId": env.RecA.ID, "outcome": "success", "status": float64(s.status),
				"requestId": s.r.Header.Get("X-Request-Id"), "source": "127.0.0.1",
				"count": float64(1), "seq": float64(i + 1), "prevHash": prev,
			}
			if s.resource != "" {
				want["resourceId"] = s.resource
			}
			if s.client != "" {
				want["clientId"] = s.client
			}
			if s.diff != nil {
				want["diff"] = map[string]any{"action": "update", "path": toAny(s.diff)}
			}
			if !reflect.DeepEqual(e, want) {
				t.Errorf("%s: entry\n%v\nwant\n%v", what, e, want)
			}
			if !idRE.MatchString(str(t, e, "id")) || !hashRE.MatchString(str(t, e, "hash")) {
				t.Errorf("%s: id %v, hash %v", what, e["id"], e["hash"])
			}
			parseTime(t, e, "createdAt")
			if !idRE.MatchString(s.r.Header.Get("X-Request-Id")) {
				t.Errorf("%s: X-Request-Id = %q", what, s.r.Header.Get("X-Request-Id"))
			}
			prev = str(t, e, "hash")
		}
		// Values never: not the email or names a client had or was given,
		// nor the filter's value, nor the metadata key, nor image bytes.
		for _, pii := range []string{"jane@example.com", "joan@example.com", "Jane", "Joan", "Doe", "secret-key", b64(img)[:64]} {
			if bytes.Contains(list.Body, []byte(pii)) {
				t.Errorf("the audit log holds %q: %s", pii, list.Body)
			}
		}
		// The store has the same entries, and the chain holds together.
		for _, rep := range env.wantVerified(t) {
			if rep.AuditChainID == chainOf(env.RecA) && rep.Entries < int64(len(steps)) {
				t.Errorf("A's chain has %d entries, want at least %d", rep.Entries, len(steps))
			}
		}
	})
}

func toAny(ss []string) []any {
	var a []any
	for _, s := range ss {
		a = append(a, s)
	}
	return a
}

// TestAuditFailures: failed attempts are recorded as failures, with the
// status answered, in the caller's chain; an attempt on another tenant's
// id goes to the caller's chain, not the owner's. Ids from paths are kept
// as storable text, shortened.
func TestAuditFailures(t *testing.T) {
	forEachBackend(t, func(t *testing.T, env *testEnv) {
		livenessEnv(t, env, true)
		cid := env.newClientID(t, env.KeyA)
		liveCID := env.newClientID(t, env.KeyALive)
		bcid := env.newClientID(t, env.KeyB)
		unknown := unknownID()
		long := strings.Repeat("a", 300)
		noface, err := livenessImages()
		if err != nil {
			t.Fatal(err)
		}
		for _, tc := range []struct {
			name                 string
			key                  string
			rec                  *facevault.APIKey
			method, path         string
			body                 any
			status               int
			action, trigger, typ string
			resource, client     string
		}{
			{"UnknownClient", env.KeyA, env.RecA, "GET", "/v1/clients/" + unknown, nil, 404, "read", "getClient", "client", unknown, unknown},
			{"OtherTenantsClient", env.KeyA, env.RecA, "GET", "/v1/clients/" + bcid, nil, 404, "read", "getClient", "client", bcid, bcid},
			{"MalformedID", env.KeyA, env.RecA, "DELETE", "/v1/clients/not-an-id", nil, 404, "delete", "deleteClient", "client", "not-an-id", "not-an-id"},
			{"LongID", env.KeyA, env.RecA, "GET", "/v1/clients/" + long, nil, 404, "read", "getClient", "client", long[:facevault.MaxAuditText], long[:facevault.MaxAuditText]},
			{"NULInID", env.KeyA, env.RecA, "GET", "/v1/livePhotos/ab%00cd", nil, 404, "read", "getLivePhoto", "livePhoto", "ab\uFFFDcd", ""},
			{"InvalidCreate", env.KeyA, env.RecA, "POST", "/v1/clients", map[string]any{"type": "person"}, 400, "create", "createClient", "client", "", ""},
			{"TypeChange", env.KeyA, env.RecA, "POST", "/v1/clients/" + cid, map[string]any{"type": "company"}, 400, "update", "updateClient", "client", cid, cid},
			{"BadBase64", env.KeyA, env.RecA, "POST", "/v1/livePhotos", map[string]any{"clientId": cid, "data": "!!!"}, 400, "create", "uploadLivePhoto", "livePhoto", "", ""},
			{"UploadToOtherTenant", env.KeyA, env.RecA, "POST", "/v1/livePhotos", map[string]any{"clientId": bcid, "data": b64(images().jpeg)}, 404, "create", "uploadLivePhoto", "livePhoto", "", bcid},
			{"TooLarge", env.KeyA, env.RecA, "POST", "/v1/livePhotos", bytes.Repeat([]byte("a"), fvhttp.MaxUploadBody+1), 413, "create", "uploadLivePhoto", "livePhoto", "", ""},
			{"ListWithoutClient", env.KeyA, env.RecA, "GET", "/v1/livePhotos", nil, 400, "list", "listLivePhotos", "livePhoto", "", ""},
			{"DownloadUnknown", env.KeyA, env.RecA, "GET", "/v1/livePhotos/" + unknown + "/download", nil, 404, "download", "downloadLivePhoto", "livePhoto", unknown, ""},
			{"RedactUnknown", env.KeyA, env.RecA, "POST", "/v1/livePhotos/" + unknown + "/redact", nil, 404, "redact", "redactLivePhoto", "livePhoto", unknown, ""},
			{"DeleteUnknown", env.KeyA, env.RecA, "DELETE", "/v1/livePhotos/" + unknown, nil, 404, "delete", "deleteLivePhoto", "livePhoto", unknown, ""},
			{"LiveRefusal", env.KeyALive, env.RecALive, "POST", "/v1/livePhotos", map[string]any{"clientId": liveCID, "data": b64(noface["no face"])}, 422, "create", "uploadLivePhoto", "livePhoto", "", liveCID},
		} {
			t.Run(tc.name, func(t *testing.T) {
				var hdr []string
				if tc.status == http.StatusBadRequest {
					hdr = invalid(tc.name)
				}
				r := env.do(t, tc.method, tc.path, tc.key, tc.body, hdr...)
				wantStatus(t, r, tc.status)
				e := env.lastEntry(t, chainOf(tc.rec))
				got := [...]any{e.Action, e.Trigger, e.ResourceType, e.ResourceID, e.ClientID, e.Outcome, e.Status, e.KeyID, e.RequestID, e.Count}
				want := [...]any{tc.action, tc.trigger, tc.typ, tc.resource, tc.client, "failure", tc.status, tc.rec.ID, r.Header.Get("X-Request-Id"), 1}
				if got != want {
					t.Errorf("entry %v, want %v", got, want)
				}
			})
		}
		// B's chain holds B's own create only: A's attempts on B's client
		// are A's.
		if es := env.auditChain(t, chainOf(env.RecB)); len(es) != 1 || es[0].ResourceID != bcid || es[0].Action != "create" {
			t.Errorf("B's chain: %d entries, first %+v; want only B's create", len(es), es[0])
		}
		env.wantVerified(t)
	})
}

// TestAuditLogAPI: GET /v1/auditLogs and GET /v1/auditLogs/{id} as the
// contract's lists and gets: an entry reads the same both ways; filters,
// dates and paging as on the other lists; another account's or mode's
// entry is 404; other methods are 405; reading the audit log is not
// itself recorded.
func TestAuditLogAPI(t *testing.T) {
	forEachBackend(t, func(t *testing.T, env *testEnv) {
		base := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
		sec := func(n int) time.Time { return base.Add(time.Duration(n) * time.Second) }
		env.clock.Set(sec(0))
		cid := env.newClientID(t, env.KeyA)
		env.clock.Set(sec(1))
		wantStatus(t, env.do(t, "GET", "/v1/clients/"+cid, env.KeyA, nil), 200)
		env.clock.Set(sec(2))
		unknown := unknownID()
		wantStatus(t, env.do(t, "GET", "/v1/clients/"+unknown, env.KeyA, nil), 404)
		env.clock.Set(sec(3))
		wantStatus(t, env.do(t, "GET", "/v1/livePhotos?clientId="+cid, env.KeyA, nil), 200)
		env.newClientID(t, env.KeyB)
		wantStatus(t, env.do(t, "GET", "/v1/clients", env.KeyALive, nil), 200)

		entries := env.auditLogs(t, env.KeyA, "")
		if len(entries) != 4 {
			t.Fatalf("%d entries, want 4: %v", len(entries), entries)
		}
		var e [4]string // e[i] is the entry made at sec(i)
		for i, it := range entries {
			e[3-i] = str(t, it, "id")
		}

		t.Run("Get", func(t *testing.T) {
			for _, want := range entries {
				r := env.do(t, "GET", "/v1/auditLogs/"+str(t, want, "id"), env.KeyA, nil)
				wantStatus(t, r, http.StatusOK)
				if !reflect.DeepEqual(r.JSON, want) {
					t.Errorf("get\n%v\nlist item\n%v", r.JSON, want)
				}
			}
			if got := str(t, entries[0], "createdAt"); got != "2030-01-02T03:04:08.000Z" {
				t.Errorf("createdAt = %s, want the time of the access", got)
			}
		})

		t.Run("ErrNotFound", func(t *testing.T) {
			for _, tc := range []struct{ name, key, id, msg string }{
				{"Unknown", env.KeyA, unknown, "Invalid audit log id '" + unknown + "'"},
				{"Malformed", env.KeyA, "not-an-id", "Invalid audit log id 'not-an-id'"},
				{"Long", env.KeyA, strings.Repeat("f", 100), "Invalid audit log id '" + strings.Repeat("f", 64) + "…'"},
				{"OtherAccount", env.KeyB, e[0], "Invalid audit log id '" + e[0] + "'"},
				{"OtherMode", env.KeyALive, e[0], "Invalid audit log id '" + e[0] + "'"},
			} {
				t.Run(tc.name, func(t *testing.T) {
					r := env.do(t, "GET", "/v1/auditLogs/"+tc.id, tc.key, nil)
					wantError(t, r, http.StatusNotFound, "resource_not_found", tc.msg, "")
				})
			}
		})

		t.Run("ErrUnauthorized", func(t *testing.T) {
			for _, key := range []string{"", env.KeyRevoked, unknownKey} {
				wantError(t, env.do(t, "GET", "/v1/auditLogs", key, nil), http.StatusUnauthorized, "unauthorized", msgUnauthorized, "")
				wantError(t, env.do(t, "GET", "/v1/auditLogs/"+e[0], key, nil), http.StatusUnauthorized, "unauthorized", msgUnauthorized, "")
			}
		})

		t.Run("Filters", func(t *testing.T) {
			at := func(n int) string { return sec(n).Format("2006-01-02T15:04:05.000Z") }
			for _, tc := range []struct {
				name, query string
				want        []string
			}{
				{"ResourceTypeLivePhoto", "resourceType=livePhoto", []string{e[3]}},
				{"ResourceTypeClient", "resourceType=client", []string{e[2], e[1], e[0]}},
				{"Action", "action=read", []string{e[2], e[1]}},
				{"ResourceID", "resourceId=" + cid, []string{e[1], e[0]}},
				{"ClientID", "clientId=" + cid, []string{e[3], e[1], e[0]}},
				{"Outcome", "outcome=failure", []string{e[2]}},
				{"Trigger", "trigger=getClient", []string{e[2], e[1]}},
				{"KeyID", "keyId=" + env.RecA.ID, []string{e[3], e[2], e[1], e[0]}},
				{"Combined", "action=read&resourceId=" + cid, []string{e[1]}},
				{"CreatedAfter", "createdAfter=" + at(1), []string{e[3], e[2]}},
				{"CreatedBefore", "createdBefore=" + at(2), []string{e[1], e[0]}},
				{"CreatedBetween", "createdAfter=" + at(0) + "&createdBefore=" + at(3), []string{e[2], e[1]}},
				{"UpdatedAfterIsCreated", "updatedAfter=" + at(2), []string{e[3]}},
				{"NoMatch", "action=purge", nil},
				{"ErrMalformedDate", "createdAfter=yesterday", nil},
				{"ErrUnknownFilter", "memberId=x", nil},
				{"ErrRepeatedFilter", "action=read&action=read", nil},
				{"ErrUnparsableQuery", "action=read&x=%zz", nil},
				{"ErrInvalidUTF8", "resourceId=%ff%00", nil},
			} {
				t.Run(tc.name, func(t *testing.T) {
					env2, ids := env.list(t, env.KeyA, "/v1/auditLogs?"+tc.query)
					if !slices.Equal(ids, tc.want) {
						t.Errorf("ids %v, want %v", ids, tc.want)
					}
					wantEnvelope(t, env2, 1, 100, len(tc.want), min(1, len(tc.want)), len(tc.want))
				})
			}
		})

		t.Run("Paging", func(t *testing.T) {
			env2, ids := env.list(t, env.KeyA, "/v1/auditLogs/?page=2&pageSize=3")
			wantEnvelope(t, env2, 2, 3, 4, 2, 1)
			if !slices.Equal(ids, []string{e[0]}) {
				t.Errorf("page 2 of 3: %v, want %v", ids, e[0])
			}
			env2, _ = env.list(t, env.KeyA, "/v1/auditLogs?page=9")
			wantEnvelope(t, env2, 9, 100, 4, 1, 0)
			for _, tc := range []struct{ query, param string }{
				{"page=0", "page"}, {"page=x", "page"}, {"pageSize=0", "pageSize"}, {"pageSize=1001", "pageSize"}, {"page=1&page=2", "page"},
			} {
				r := env.do(t, "GET", "/v1/auditLogs?"+tc.query, env.KeyA, nil, invalid("bad paging")...)
				wantError(t, r, http.StatusBadRequest, "invalid_request", "", tc.param)
			}
		})

		t.Run("Isolation", func(t *testing.T) {
			for _, key := range []string{env.KeyB, env.KeyALive} {
				for _, it := range env.auditLogs(t, key, "") {
					if slices.Contains(e[:], str(t, it, "id")) {
						t.Errorf("another tenant lists A's entry %v", it)
					}
				}
			}
			if n := len(env.auditLogs(t, env.KeyB, "")); n != 1 {
				t.Errorf("B lists %d entries, want its 1", n)
			}
		})

		t.Run("ErrMethodNotAllowed", func(t *testing.T) {
			for _, path := range []string{"/v1/auditLogs", "/v1/auditLogs/", "/v1/auditLogs/" + e[0]} {
				for _, method := range []string{"POST", "PUT", "PATCH", "DELETE"} {
					for _, key := range []string{env.KeyA, ""} {
						var body any
						if method != "DELETE" {
							body = "{}"
						}
						r := env.do(t, method, path, key, body)
						wantError(t, r, http.StatusMethodNotAllowed, "invalid_request", "", "")
						if allow := r.Header.Get("Allow"); allow != "GET, HEAD" {
							t.Errorf("%s %s: Allow = %q, want GET, HEAD", method, path, allow)
						}
					}
				}
			}
		})

		t.Run("ReadsNotRecorded", func(t *testing.T) {
			if got := env.auditLogs(t, env.KeyA, ""); len(got) != 4 || !reflect.DeepEqual(got, entries) {
				t.Errorf("after reading the audit log and trying to change it: %d entries, want the same 4", len(got))
			}
		})
	})
}

// TestAuditRefusals: requests refused before they reach any data (an
// unknown, missing or revoked key; a rate limit) are counted per caller and
// appended once per flush: with a known key in its account's chain, with
// no key in the chain of no account, which no API key reads.
func TestAuditRefusals(t *testing.T) {
	cfg := fvhttp.Config{AuthFailuresPerMinute: 1, AuthFailuresBurst: 3, RateLimit: 0.001, RateBurst: 2}
	forEachBackendWith(t, envOptions{cfg: cfg}, func(t *testing.T, env *testEnv) {
		for range 3 {
			wantStatus(t, getFrom(t, env, "127.0.0.2", unknownKey, ""), http.StatusUnauthorized)
		}
		for range 2 {
			wantLimited(t, getFrom(t, env, "127.0.0.2", unknownKey, ""))
		}
		for range 2 {
			wantStatus(t, getFrom(t, env, "127.0.0.3", env.KeyRevoked, ""), http.StatusUnauthorized)
		}
		wantStatus(t, getFrom(t, env, "127.0.0.4", "", ""), http.StatusUnauthorized)
		// The rate limit: a burst of two, then 429.
		for range 2 {
			wantStatus(t, getFrom(t, env, "127.0.0.5", env.KeyB, ""), http.StatusOK)
		}
		for range 3 {
			wantStatus(t, getFrom(t, env, "127.0.0.5", env.KeyB, ""), http.StatusTooManyRequests)
		}
		// Nothing is appended before the flush.
		if es := env.auditChain(t, facevault.AuditChainID{}); len(es) != 0 {
			t.Errorf("the chain of no account has %d entries before the flush", len(es))
		}
		env.flushAudit(t)

		type count struct {
			source, keyID string
			status, n     int
		}
		counts := func(c facevault.AuditChainID, failuresOnly bool) []count {
			var got []count
			for _, e := range env.auditChain(t, c) {
				if failuresOnly && e.Outcome != facevault.OutcomeFailure {
					continue
				}
				if e.Trigger != "listClients" || e.Action != "list" || e.ResourceType != "client" || e.Outcome != "failure" || e.ResourceID != "" {
					t.Errorf("counted entry %+v, want a failed listClients", *e)
				}
				got = append(got, count{e.Source, e.KeyID, e.Status, e.Count})
			}
			slices.SortFunc(got, func(a, b count) int {
				return cmp.Or(strings.Compare(a.source, b.source), strings.Compare(a.keyID, b.keyID), cmp.Compare(a.status, b.status))
			})
			return got
		}
		if got, want := counts(facevault.AuditChainID{}, false), []count{
			{"127.0.0.2", "", 401, 3}, {"127.0.0.2", "", 429, 2}, {"127.0.0.4", "", 401, 1},
		}; !slices.Equal(got, want) {
			t.Errorf("chain of no account: %v, want %v", got, want)
		}
		if got, want := counts(chainOf(env.RecRevoked), true), []count{{"127.0.0.3", env.RecRevoked.ID, 401, 2}}; !slices.Equal(got, want) {
			t.Errorf("A's chain: %v, want %v", got, want)
		}
		if got, want := counts(chainOf(env.RecB), true), []count{{"127.0.0.5", env.RecB.ID, 429, 3}}; !slices.Equal(got, want) {
			t.Errorf("B's chain: %v, want %v", got, want)
		}
		// A reads its own count through the API; no key reads the chain
		// of no account.
		var found bool
		for _, it := range env.auditLogs(t, env.KeyA, "&outcome=failure") {
			if it["keyId"] == env.RecRevoked.ID && it["status"] == float64(401) && it["count"] == float64(2) {
				found = true
			}
			if it["source"] == "127.0.0.2" || it["source"] == "127.0.0.4" {
				t.Errorf("A lists an entry of no account: %v", it)
			}
		}
		if !found {
			t.Errorf("A does not list the count of its revoked key's refusals")
		}
		// A second flush appends nothing new.
		n := len(env.auditChain(t, facevault.AuditChainID{}))
		env.flushAudit(t)
		if m := len(env.auditChain(t, facevault.AuditChainID{})); m != n {
			t.Errorf("an empty flush appended %d entries", m-n)
		}
		env.wantVerified(t)
	})
}

// TestAuditRefusalsBounded: refusals from more callers than one flush
// counts apart are counted together, so that a flood from many addresses
// appends a bounded number of entries.
func TestAuditRefusalsBounded(t *testing.T) {
	cfg := fvhttp.Config{AuditRefusalSources: 2, TrustedProxies: []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}}
	forEachBackendWith(t, envOptions{cfg: cfg}, func(t *testing.T, env *testEnv) {
		for _, src := range []string{"198.51.100.1", "198.51.100.2", "198.51.100.3", "198.51.100.4", "198.51.100.2", "198.51.100.5"} {
			wantStatus(t, getFrom(t, env, "127.0.0.1", unknownKey, src), http.StatusUnauthorized)
		}
		env.flushAudit(t)
		es := env.auditChain(t, facevault.AuditChainID{})
		if len(es) != 3 {
			t.Fatalf("%d entries, want 3 (two callers and the rest): %v", len(es), es)
		}
		total := 0
		sources := map[string]int{}
		for _, e := range es {
			total += e.Count
			sources[e.Source] = e.Count
		}
		if want := map[string]int{"198.51.100.1": 1, "198.51.100.2": 2, "": 3}; total != 6 || !reflect.DeepEqual(sources, want) {
			t.Errorf("counts by source %v (total %d), want %v", sources, total, want)
		}
	})
}

// failingAudit is a record store whose audit log can be made to fail.
type failingAudit struct {
	facevault.Store
	fail atomic.Bool
}

var errAuditDown = errors.New("audit log unavailable (injected)")

func (f *failingAudit) AppendAudit(ctx context.Context, now time.Time, es ...*facevault.AuditEntry) error {
	if f.fail.Load() {
		return errAuditDown
	}
	return f.Store.AppendAudit(ctx, now, es...)
}

// TestAuditFailClosed: when a request's audit entry cannot be appended, the
// answer is the contract's 500 and carries none of the data, whatever the
// operation; the entry is logged instead. A change that committed before
// its entry failed stands. Counts of refusals that fail to flush are kept
// for the next flush.
func TestAuditFailClosed(t *testing.T) {
	var fa *failingAudit
	opts := envOptions{store: func(s facevault.Store) facevault.Store {
		fa = &failingAudit{Store: s}
		return fa
	}}
	forEachBackendWith(t, opts, func(t *testing.T, env *testEnv) {
		env.logs.allowErrors("audit entry not written")
		c := env.createClient(t, env.KeyA, nil)
		cid := str(t, c, "id")
		img := images().jpeg
		pid := str(t, env.upload(t, env.KeyA, cid, img), "id")
		pid2 := str(t, env.upload(t, env.KeyA, cid, img), "id")

		fa.fail.Store(true)
		for _, tc := range []struct {
			name, method, path string
			body               any
		}{
			{"GetClient", "GET", "/v1/clients/" + cid, nil},
			{"ListClients", "GET", "/v1/clients", nil},
			{"CreateClient", "POST", "/v1/clients", map[string]any{"type": "person", "email": "jane@example.com",
				"personDetails": map[string]any{"firstName": "Jane", "lastName": "Doe"}}},
			{"UpdateClient", "POST", "/v1/clients/" + cid, map[string]any{"mobile": "+447700900123"}},
			{"GetPhoto", "GET", "/v1/livePhotos/" + pid, nil},
			{"ListPhotos", "GET", "/v1/livePhotos?clientId=" + cid, nil},
			{"Download", "GET", "/v1/livePhotos/" + pid + "/download", nil},
			{"Upload", "POST", "/v1/livePhotos", map[string]any{"clientId": cid, "data": b64(img)}},
			{"Redact", "POST", "/v1/livePhotos/" + pid + "/redact", nil},
			{"DeletePhoto", "DELETE", "/v1/livePhotos/" + pid2, nil},
			{"NotFound", "GET", "/v1/clients/" + unknownID(), nil},
		} {
			t.Run(tc.name, func(t *testing.T) {
				r := env.do(t, tc.method, tc.path, env.KeyA, tc.body)
				wantError(t, r, http.StatusInternalServerError, "internal_server_error", "", "")
				for _, data := range []string{"jane@example.com", "Jane", cid, pid, b64(img)[:64]} {
					if bytes.Contains(r.Body, []byte(data)) {
						t.Errorf("the 500 carries %q: %s", data, r.Body)
					}
				}
				id := r.Header.Get("X-Request-Id")
				if recs := env.logs.find("audit entry not written", "requestId", id); len(recs) != 1 {
					t.Errorf("%d log records of the unwritten entry of request %s, want 1", len(recs), id)
				}
			})
		}
		// Refusals are counted, not appended: a 401 needs no append.
		wantStatus(t, env.do(t, "GET", "/v1/clients", unknownKey, nil), http.StatusUnauthorized)
		if err := env.api.FlushAudit(context.Background()); !errors.Is(err, errAuditDown) {
			t.Errorf("FlushAudit = %v, want the store's error", err)
		}
		fa.fail.Store(false)

		// The changes that committed stand; the reads return data again.
		if r := env.do(t, "GET", "/v1/livePhotos/"+pid, env.KeyA, nil); r.Status != 200 || r.JSON["redacted"] != true {
			t.Errorf("the redaction whose entry failed: %d %s", r.Status, r.Body)
		}
		wantStatus(t, env.do(t, "GET", "/v1/livePhotos/"+pid2, env.KeyA, nil), http.StatusNotFound)
		env.flushAudit(t)
		if es := env.auditChain(t, facevault.AuditChainID{}); len(es) != 1 || es[0].Count != 1 || es[0].Status != 401 {
			t.Errorf("the chain of no account after a failed then a good flush: %v, want one count of 1", es)
		}
		env.wantVerified(t)
	})
}

// TestAuditClientGone: a request whose caller hangs up is recorded all the
// same, with status 499: the append does not end with the request.
func TestAuditClientGone(t *testing.T) {
	forEachBackend(t, func(t *testing.T, env *testEnv) {
		cid := env.newClientID(t, env.KeyA)
		body := uploadJSON(cid, images().jpeg)
		c := env.dial(t, "")
		c.mustWrite(t, head("POST", "/v1/livePhotos", env.KeyA, len(body)))
		c.mustWrite(t, body[:len(body)/2])
		waitUntil(t, "the upload to be receiving", func() bool { return len(env.tempObjects(t)) == 1 })
		c.conn.Close()
		waitUntil(t, "the 499 entry", func() bool {
			e := env.lastEntry(t, chainOf(env.RecA))
			return e.Trigger == "uploadLivePhoto"
		})
		e := env.lastEntry(t, chainOf(env.RecA))
		if e.Status != fvhttp.StatusClientClosedRequest || e.Outcome != "failure" || e.ClientID != "" {
			t.Errorf("entry %+v, want a failed upload with status 499", *e)
		}
	})
}

// TestRequestID: every answer carries a request id of its own, routed or
// not, authenticated or not, and the request's log line names it.
func TestRequestID(t *testing.T) {
	forEachBackend(t, func(t *testing.T, env *testEnv) {
		seen := map[string]bool{}
		for _, tc := range []struct {
			method, path, key string
			status            int
		}{
			{"GET", "/v1/clients", env.KeyA, 200},
			{"GET", "/v1/clients", env.KeyA, 200},
			{"GET", "/v1/clients", "", 401},
			{"GET", "/v1/nowhere", env.KeyA, 404},
			{"PUT", "/v1/clients", env.KeyA, 405},
			{"GET", "/v1/auditLogs", env.KeyA, 200},
		} {
			r := env.do(t, tc.method, tc.path, tc.key, nil)
			wantStatus(t, r, tc.status)
			id := r.Header.Get("X-Request-Id")
			if !idRE.MatchString(id) || seen[id] {
				t.Errorf("%s %s: X-Request-Id %q, want a new id", tc.method, tc.path, id)
			}
			seen[id] = true
			waitUntil(t, "the request's log line", func() bool { return len(env.logs.find("request", "requestId", id)) == 1 })
		}
	})
}

// TestAuditConsoleUser: an entry of the review console carries the console
// user's name, which the API shows as consoleUser (the OpenAPI validator
// checks the answer), and the chain still verifies.
func TestAuditConsoleUser(t *testing.T) {
	forEachBackend(t, func(t *testing.T, env *testEnv) {
		cid := env.newClientID(t, env.KeyA)
		e := &facevault.AuditEntry{AccountID: env.ScopeA.AccountID, Mode: env.ScopeA.Mode, Trigger: "consoleViewClient",
			Action: facevault.ActionRead, ResourceType: facevault.AuditClient, ResourceID: cid, ClientID: cid,
			Outcome: facevault.OutcomeSuccess, Status: 200, RequestID: facevault.NewID(time.Now()), Source: "10.0.3.9",
			ConsoleUser: "Rita Reviewer", Count: 1}
		if err := env.store.AppendAudit(t.Context(), time.Now(), e); err != nil {
			t.Fatal(err)
		}
		r := env.do(t, "GET", "/v1/auditLogs/"+e.ID, env.KeyA, nil)
		wantStatus(t, r, http.StatusOK)
		if got := str(t, r.JSON, "consoleUser"); got != "Rita Reviewer" {
			t.Errorf("consoleUser = %q, want Rita Reviewer", got)
		}
		for _, m := range env.auditLogs(t, env.KeyA, "") {
			if _, has := m["consoleUser"]; has != (m["id"] == e.ID) {
				t.Errorf("entry %v (%v): consoleUser present %v", m["id"], m["trigger"], has)
			}
		}
		reports, err := facevault.VerifyAudit(t.Context(), env.store)
		if err != nil {
			t.Fatal(err)
		}
		for _, rep := range reports {
			if rep.Break != nil {
				t.Errorf("chain %+v broken: %+v", rep.AuditChainID, rep.Break)
			}
		}
	})
}
