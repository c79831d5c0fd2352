package http_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/facevault/facevault"
	"github.com/facevault/facevault/internal/testimage"
)

// receiver is a webhook endpoint under test: it records every delivery and
// answers as the test says.
type receiver struct {
	srv     *httptest.Server
	status  atomic.Int32  // the status it answers (200 unless set)
	hang    atomic.Bool   // hold requests until released or cut off
	release chan struct{} // closed at cleanup: held requests return
	arrived chan struct{} // one value per request, as it arrives

	mu  sync.Mutex
	got []delivered
}

// delivered is one request a receiver got.
type delivered struct {
	body        []byte
	signature   string
	contentType string
}

func newReceiver(t *testing.T) *receiver {
	rc := &receiver{release: make(chan struct{}), arrived: make(chan struct{}, 1000)}
	rc.status.Store(http.StatusOK)
	rc.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		rc.mu.Lock()
		rc.got = append(rc.got, delivered{body: body, signature: r.Header.Get(facevault.SignatureHeader),
			contentType: r.Header.Get("Content-Type")})
		rc.mu.Unlock()
		rc.arrived <- struct{}{}
		if rc.hang.Load() {
			select {
			case <-rc.release:
			case <-r.Context().Done():
			}
			return
		}
		w.WriteHeader(int(rc.status.Load()))
	}))
	t.Cleanup(func() {
		close(rc.release)
		rc.srv.Close()
	})
	return rc
}

// requests returns what the receiver got so far.
func (rc *receiver) requests() []delivered {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return slices.Clone(rc.got)
}

// webhookEnv lets env's webhooks call receivers on 127.0.0.1, as serve
// --webhook-allow 127.0.0.1 does, resolving names with hosts.
func webhookEnv(env *testEnv, hosts map[string]string) {
	env.vault.Webhooks.Guard = &facevault.WebhookGuard{
		Networks: []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")},
		LookupIP: fakeResolver(hosts),
	}
}

// fakeResolver resolves the names of hosts, and no other.
func fakeResolver(hosts map[string]string) func(context.Context, string) ([]netip.Addr, error) {
	return func(_ context.Context, host string) ([]netip.Addr, error) {
		if a, ok := hosts[host]; ok {
			return []netip.Addr{netip.MustParseAddr(a)}, nil
		}
		return nil, fmt.Errorf("lookup %s: no such host", host)
	}
}

// createWebhook creates a webhook to url for events and returns its JSON.
func (e *testEnv) createWebhook(t *testing.T, key, url string, events ...string) map[string]any {
	t.Helper()
	r := e.do(t, "POST", "/v1/webhooks", key, map[string]any{"url": url, "events": events, "description": "test"})
	wantStatus(t, r, http.StatusOK)
	return r.JSON
}

// sendDue sends every delivery due now, as a sender node would.
func (e *testEnv) sendDue(t *testing.T) int {
	t.Helper()
	total := 0
	for {
		n, err := e.vault.SendDeliveries(context.Background(), "test-sender", time.Minute)
		if err != nil {
			t.Fatalf("SendDeliveries: %v", err)
		}
		total += n
		if n == 0 {
			return total
		}
	}
}

// deliveries lists a webhook's deliveries, newest first.
func (e *testEnv) deliveries(t *testing.T, key, hookID string) []map[string]any {
	t.Helper()
	r := e.do(t, "GET", "/v1/webhooks/"+hookID+"/deliveries?pageSize=1000", key, nil)
	wantStatus(t, r, http.StatusOK)
	var out []map[string]any
	for _, it := range r.JSON["items"].([]any) {
		out = append(out, it.(map[string]any))
	}
	return out
}

// event is a delivered event, decoded.
type event struct {
	ID           string            `json:"id"`
	Type         string            `json:"type"`
	ResourceType string            `json:"resourceType"`
	Payload      map[string]string `json:"payload"`
	CreatedAt    string            `json:"createdAt"`
}

// events decodes what rc got, checking each delivery's signature and
// headers.
func (rc *receiver) events(t *testing.T, secret string) []event {
	t.Helper()
	var out []event
	for _, d := range rc.requests() {
		if want := facevault.SignWebhook(secret, d.body); d.signature != want {
			t.Errorf("signature %q, want %q", d.signature, want)
		}
		if d.contentType != "application/json" {
			t.Errorf("Content-Type %q", d.contentType)
		}
		var e event
		if err := json.Unmarshal(d.body, &e); err != nil {
			t.Fatalf("event %s: %v", d.body, err)
		}
		out = append(out, e)
	}
	return out
}

func TestWebhookSignatureVector(t *testing.T) {
	// ComplyCube's documented example, which its SDKs' EventVerifier
	// checks.
	const want = "bc00414fa4d54277a3ed01e5ee258d9800a918a7791c7cda16d38b82f38f2150"
	if got := facevault.SignWebhook("a_webhook_signature", []byte(`{"id":"value"}`)); got != want {
		t.Errorf("SignWebhook = %s, want %s", got, want)
	}
}

// TestWebhookAPI: the webhook resource, its validation errors, its tenancy.
func TestWebhookAPI(t *testing.T) {
	forEachBackend(t, func(t *testing.T, env *testEnv) {
		webhookEnv(env, map[string]string{
			"hooks.example.com":  "93.184.216.34",
			"loopback.example":   "127.0.0.2",
			"metadata.example":   "169.254.169.254",
			"private6.example":   "fd00::1",
			"allowed.example":    "127.0.0.1",
			"ten.example":        "10.1.2.3",
			"mapped.example":     "::ffff:10.0.0.1",
			"cgnat.example":      "100.64.0.1",
			"unspecified.exampl": "0.0.0.0",
		})
		r := env.do(t, "POST", "/v1/webhooks", env.KeyA, map[string]any{
			"url": "https://hooks.example.com/facevault", "events": []string{"*"}, "description": "all of it"})
		wantStatus(t, r, http.StatusOK)
		hook := r.JSON
		id := str(t, hook, "id")
		secret := str(t, hook, "secret")
		if len(secret) < 32 || hook["enabled"] != true || hook["url"] != "https://hooks.example.com/facevault" ||
			hook["description"] != "all of it" || !slices.Equal(strs(hook["events"]), []string{"*"}) {
			t.Errorf("created webhook = %v", hook)
		}
		parseTime(t, hook, "createdAt")
		parseTime(t, hook, "updatedAt")

		got := env.do(t, "GET", "/v1/webhooks/"+id, env.KeyA, nil)
		wantStatus(t, got, http.StatusOK)
		if _, has := got.JSON["secret"]; has {
			t.Errorf("GET shows the secret: %v", got.JSON)
		}
		env2, ids := env.list(t, env.KeyA, "/v1/webhooks")
		wantEnvelope(t, env2, 1, 100, 1, 1, 1)
		if ids[0] != id {
			t.Errorf("list = %v", ids)
		}
		if item := env2["items"].([]any)[0].(map[string]any); item["secret"] != nil {
			t.Errorf("list shows the secret: %v", item)
		}
		_, ids = env.list(t, env.KeyA, "/v1/webhooks/?pageSize=1&unknown=1")
		if len(ids) != 0 {
			t.Errorf("list with an unknown filter = %v, want none", ids)
		}

		// Partial update; disabling and enabling.
		r = env.do(t, "POST", "/v1/webhooks/"+id, env.KeyA, map[string]any{"enabled": false, "events": []string{"client.created", "check.completed.clear"}})
		wantStatus(t, r, http.StatusOK)
		if r.JSON["enabled"] != false || r.JSON["description"] != "all of it" || r.JSON["secret"] != nil ||
			!slices.Equal(strs(r.JSON["events"]), []string{"client.created", "check.completed.clear"}) {
			t.Errorf("updated webhook = %v", r.JSON)
		}
		r = env.do(t, "POST", "/v1/webhooks/"+id, env.KeyA, map[string]any{"enabled": true, "url": "https://hooks.example.com/v2"})
		wantStatus(t, r, http.StatusOK)
		if r.JSON["enabled"] != true || r.JSON["url"] != "https://hooks.example.com/v2" {
			t.Errorf("re-enabled webhook = %v", r.JSON)
		}
		wantStatus(t, env.do(t, "GET", "/v1/webhooks/"+id+"/deliveries", env.KeyA, nil), http.StatusOK)

		// Other tenants, malformed and unknown ids: 404.
		notFound := fmt.Sprintf("Invalid webhook id '%s'", id)
		for _, key := range []string{env.KeyB, env.KeyALive} {
			wantError(t, env.do(t, "GET", "/v1/webhooks/"+id, key, nil), 404, "resource_not_found", notFound, "")
			wantError(t, env.do(t, "POST", "/v1/webhooks/"+id, key, map[string]any{"enabled": false}), 404, "resource_not_found", notFound, "")
			wantError(t, env.do(t, "DELETE", "/v1/webhooks/"+id, key, nil), 404, "resource_not_found", notFound, "")
			wantError(t, env.do(t, "GET", "/v1/webhooks/"+id+"/deliveries", key, nil), 404, "resource_not_found", notFound, "")
		}
		wantError(t, env.do(t, "GET", "/v1/webhooks/nope", env.KeyA, nil), 404, "resource_not_found", "Invalid webhook id 'nope'", "")
		wantError(t, env.do(t, "GET", "/v1/webhooks/nope/deliveries", env.KeyA, nil), 404, "resource_not_found", "", "")
		wantError(t, env.do(t, "DELETE", "/v1/webhooks/"+unknownID(), env.KeyA, nil), 404, "resource_not_found", "", "")
		wantError(t, env.do(t, "GET", "/v1/webhooks", "", nil), 401, "unauthorized", "", "")

		// Validation.
		bad := []struct {
			body  any
			param string
			msg   string
		}{
			{map[string]any{"events": []string{"*"}}, "url", "required"},
			{map[string]any{"url": "", "events": []string{"*"}}, "url", "required"},
			{map[string]any{"url": "https://hooks.example.com/"}, "events", "required"},
			{map[string]any{"url": "http://hooks.example.com/", "events": []string{"*"}}, "url", "https"},
			{map[string]any{"url": "ftp://hooks.example.com/", "events": []string{"*"}}, "url", "https"},
			{map[string]any{"url": "hooks.example.com/x", "events": []string{"*"}}, "url", "absolute"},
			{map[string]any{"url": "https://user:pw@hooks.example.com/", "events": []string{"*"}}, "url", "password"},
			{map[string]any{"url": "https://127.0.0.2/", "events": []string{"*"}}, "url", "private"},
			{map[string]any{"url": "https://10.0.0.1/", "events": []string{"*"}}, "url", "private"},
			{map[string]any{"url": "https://192.168.1.1/", "events": []string{"*"}}, "url", "private"},
			{map[string]any{"url": "https://169.254.169.254/latest", "events": []string{"*"}}, "url", "private"},
			{map[string]any{"url": "https://[::1]/", "events": []string{"*"}}, "url", "private"},
			{map[string]any{"url": "https://[fe80::1]/", "events": []string{"*"}}, "url", "private"},
			{map[string]any{"url": "https://loopback.example/", "events": []string{"*"}}, "url", "private"},
			{map[string]any{"url": "https://metadata.example/", "events": []string{"*"}}, "url", "private"},
			{map[string]any{"url": "https://private6.example/", "events": []string{"*"}}, "url", "private"},
			{map[string]any{"url": "https://ten.example/", "events": []string{"*"}}, "url", "private"},
			{map[string]any{"url": "https://mapped.example/", "events": []string{"*"}}, "url", "private"},
			{map[string]any{"url": "https://cgnat.example/", "events": []string{"*"}}, "url", "private"},
			{map[string]any{"url": "https://nowhere.example/", "events": []string{"*"}}, "url", "does not resolve"},
			{map[string]any{"url": 7, "events": []string{"*"}}, "url", "wrong type"},
			{map[string]any{"url": "https://hooks.example.com/", "events": []string{}}, "events", "at least one"},
			{map[string]any{"url": "https://hooks.example.com/", "events": []string{"client.created", "document.created"}}, "events", "Unknown event type 'document.created'"},
			{map[string]any{"url": "https://hooks.example.com/", "events": []any{1}}, "events", "array"},
			{map[string]any{"url": "https://hooks.example.com/", "events": "*"}, "events", "wrong type"},
			{map[string]any{"url": "https://hooks.example.com/", "events": []string{"*"}, "enabled": "yes"}, "enabled", "wrong type"},
			{map[string]any{"url": "https://hooks.example.com/", "events": []string{"*"}, "description": strings.Repeat("d", 1001)}, "description", "at most"},
			{map[string]any{"url": "https://hooks.example.com/", "events": []string{"*"}, "description": "a\x00b"}, "description", "NUL"},
		}
		for _, b := range bad {
			r := env.do(t, "POST", "/v1/webhooks", env.KeyA, b.body, invalid("a bad webhook")...)
			wantError(t, r, 400, "invalid_request", "", b.param)
			if msg, _ := r.JSON["message"].(string); !strings.Contains(msg, b.msg) {
				t.Errorf("POST %v: message %q, want it to say %q", b.body, msg, b.msg)
			}
			// The same on an update, where the field is given.
			if m := b.body.(map[string]any); m["url"] != nil && b.param != "events" || b.param == "events" && m["events"] != nil {
				delete(m, "enabled")
				if b.param == "enabled" {
					m["enabled"] = "yes"
				}
				wantError(t, env.do(t, "POST", "/v1/webhooks/"+id, env.KeyA, m, invalid("a bad webhook")...), 400, "invalid_request", "", b.param)
			}
		}
		wantError(t, env.do(t, "POST", "/v1/webhooks", env.KeyA, "not json", invalid("not JSON")...), 400, "invalid_request", "", "")
		wantError(t, env.do(t, "POST", "/v1/webhooks/"+id, env.KeyA, map[string]any{"url": ""}), 400, "invalid_request", "", "url")

		// Hosts and networks the operator allows: http and private
		// addresses are fine there.
		wantStatus(t, env.do(t, "POST", "/v1/webhooks", env.KeyA, map[string]any{"url": "http://127.0.0.1:9/x", "events": []string{"*"}}), http.StatusOK)
		env.vault.Webhooks.Guard.Hosts = []string{"allowed.example"}
		wantStatus(t, env.do(t, "POST", "/v1/webhooks", env.KeyA, map[string]any{"url": "http://allowed.example:9/x", "events": []string{"*"}}), http.StatusOK)

		// Deleted: gone.
		r = env.do(t, "DELETE", "/v1/webhooks/"+id, env.KeyA, nil)
		wantStatus(t, r, http.StatusNoContent)
		wantError(t, env.do(t, "GET", "/v1/webhooks/"+id, env.KeyA, nil), 404, "resource_not_found", notFound, "")
		wantError(t, env.do(t, "DELETE", "/v1/webhooks/"+id, env.KeyA, nil), 404, "resource_not_found", notFound, "")
		wantError(t, env.do(t, "PUT", "/v1/webhooks/"+id, env.KeyA, nil), 405, "invalid_request", "", "")
		wantError(t, env.do(t, "GET", "/v1/webhooks?pageSize=0", env.KeyA, nil, invalid("pageSize out of range")...), 400, "invalid_request", "", "pageSize")
		wantError(t, env.do(t, "GET", "/v1/webhooks/"+id+"/deliveries?page=x", env.KeyA, nil, invalid("page not a number")...), 400, "invalid_request", "", "page")

		// Changes are in the audit log, with the webhook's id; reads are not.
		for trigger, recorded := range map[string]bool{"createWebhook": true, "updateWebhook": true, "deleteWebhook": true,
			"getWebhook": false, "listWebhooks": false, "listWebhookDeliveries": false} {
			entries := env.auditLogs(t, env.KeyA, "&trigger="+trigger)
			if (len(entries) > 0) != recorded {
				t.Errorf("%d audit entries of %s", len(entries), trigger)
			}
			for _, e := range entries {
				if e["resourceType"] != "webhook" {
					t.Errorf("audit entry %v", e)
				}
			}
		}
		deletes := env.auditLogs(t, env.KeyA, "&trigger=deleteWebhook&outcome=success")
		if len(deletes) != 1 || deletes[0]["resourceId"] != id || deletes[0]["action"] != "delete" {
			t.Errorf("audit entries of the deletion: %v", deletes)
		}
	})
}

// TestWebhookEvents: every event type is delivered, signed, with ids,
// statuses and timestamps only, to the webhooks that subscribe to it.
func TestWebhookEvents(t *testing.T) {
	forEachBackend(t, func(t *testing.T, env *testEnv) {
		imgs := checkEnv(t, env)
		webhookEnv(env, nil)
		all, some := newReceiver(t), newReceiver(t)
		hookAll := env.createWebhook(t, env.KeyA, all.srv.URL+"/all", "*")
		hookSome := env.createWebhook(t, env.KeyA, some.srv.URL+"/some", "client.created", "check.completed.clear")
		other := newReceiver(t)
		env.createWebhook(t, env.KeyB, other.srv.URL, "*") // another tenant hears nothing of A
		ctx := context.Background()

		alice := env.createClient(t, env.KeyA, map[string]any{"email": "alice@example.com"})
		aliceID := str(t, alice, "id")
		wantStatus(t, env.do(t, "POST", "/v1/clients/"+aliceID, env.KeyA, map[string]any{"mobile": "+44 7700 900123"}), http.StatusOK)
		enrolled := env.uploadWith(t, env.KeyA, aliceID, imgs["face"], nil)
		probe := env.uploadWith(t, env.KeyA, aliceID, imgs["same person"], nil)
		r := env.do(t, "POST", "/v1/checks", env.KeyA, map[string]any{"clientId": aliceID, "type": "face_authentication_check", "livePhotoId": probe})
		wantStatus(t, r, http.StatusOK)
		checkID := str(t, r.JSON, "id")
		if ran, err := env.vault.RunCheck(ctx, "node", time.Minute); err != nil || !ran {
			t.Fatalf("RunCheck = %v, %v", ran, err)
		}
		// A check whose photo is redacted before it runs fails.
		third := env.uploadWith(t, env.KeyA, aliceID, imgs["same person"], nil)
		r = env.do(t, "POST", "/v1/checks", env.KeyA, map[string]any{"clientId": aliceID, "type": "face_authentication_check", "livePhotoId": third})
		wantStatus(t, r, http.StatusOK)
		failedID := str(t, r.JSON, "id")
		wantStatus(t, env.do(t, "POST", "/v1/livePhotos/"+third+"/redact", env.KeyA, nil), http.StatusOK)
		if ran, err := env.vault.RunCheck(ctx, "node", time.Minute); err != nil || !ran {
			t.Fatalf("RunCheck = %v, %v", ran, err)
		}
		spare := str(t, env.upload(t, env.KeyA, aliceID, testimage.JPEG(256, 256, 1)), "id")
		wantStatus(t, env.do(t, "DELETE", "/v1/livePhotos/"+spare, env.KeyA, nil), http.StatusNoContent)
		// Retention deletes a photo as the API would: livePhoto.deleted.
		start := time.Now().UTC().Truncate(time.Millisecond)
		env.clock.Set(start)
		bob := str(t, env.createClient(t, env.KeyA, map[string]any{"retention": map[string]any{"days": 1}}), "id")
		expiring := str(t, env.upload(t, env.KeyA, bob, testimage.JPEG(256, 256, 2)), "id")
		env.clock.Set(start.Add(48 * time.Hour))
		if n, err := env.vault.Retain(ctx); err != nil || n != 1 {
			t.Fatalf("Retain = %d, %v; want 1", n, err)
		}
		wantStatus(t, env.do(t, "DELETE", "/v1/clients/"+aliceID, env.KeyA, nil), http.StatusNoContent)

		if n := env.sendDue(t); n == 0 {
			t.Fatal("nothing to send")
		}
		want := []struct{ typ, resourceType, id string }{
			{"client.created", "client", aliceID},
			{"client.updated", "client", aliceID},
			{"livePhoto.created", "livePhoto", enrolled},
			{"livePhoto.created", "livePhoto", probe},
			{"check.pending", "check", checkID},
			{"check.completed", "check", checkID},
			{"check.completed.clear", "check", checkID},
			{"livePhoto.created", "livePhoto", third},
			{"check.pending", "check", failedID},
			{"livePhoto.redacted", "livePhoto", third},
			{"check.failed", "check", failedID},
			{"livePhoto.created", "livePhoto", spare},
			{"livePhoto.deleted", "livePhoto", spare},
			{"client.created", "client", bob},
			{"livePhoto.created", "livePhoto", expiring},
			{"livePhoto.deleted", "livePhoto", expiring},
			{"client.deleted", "client", aliceID},
		}
		got := all.events(t, str(t, hookAll, "secret"))
		// Deliveries go out oldest first, several at once: compare as sets
		// in order of the events' ids, which follow their time.
		var gotKeys, wantKeys []string
		for _, e := range got {
			gotKeys = append(gotKeys, e.Type+" "+e.ResourceType+" "+e.Payload["id"])
		}
		for _, w := range want {
			wantKeys = append(wantKeys, w.typ+" "+w.resourceType+" "+w.id)
		}
		slices.Sort(gotKeys)
		slices.Sort(wantKeys)
		if !slices.Equal(gotKeys, wantKeys) {
			t.Errorf("events delivered:\n%s\nwant:\n%s", strings.Join(gotKeys, "\n"), strings.Join(wantKeys, "\n"))
		}
		seen := map[string]bool{}
		for _, e := range got {
			if !idRE.MatchString(e.ID) || seen[e.ID] || !timeRE.MatchString(e.CreatedAt) {
				t.Errorf("event id %q (seen before: %v), createdAt %q", e.ID, seen[e.ID], e.CreatedAt)
			}
			seen[e.ID] = true
			p := e.Payload
			switch e.ResourceType {
			case "livePhoto":
				if p["clientId"] == "" {
					t.Errorf("%s without clientId: %v", e.Type, p)
				}
			case "check":
				if p["clientId"] != aliceID || p["livePhotoId"] == "" || p["type"] != "face_authentication_check" || p["status"] == "" {
					t.Errorf("%s payload %v", e.Type, p)
				}
				if strings.HasPrefix(e.Type, "check.completed") && (p["outcome"] != "clear" || p["status"] != "complete") {
					t.Errorf("%s payload %v, want outcome clear", e.Type, p)
				}
				if e.Type == "check.failed" && p["status"] != "failed" {
					t.Errorf("%s payload %v", e.Type, p)
				}
			}
		}
		for _, d := range all.requests() {
			for _, personal := range []string{"alice@example.com", "Jane", "Doe", "7700", "data:", "livenessCheck"} {
				if strings.Contains(string(d.body), personal) {
					t.Errorf("event carries %q: %s", personal, d.body)
				}
			}
		}
		var someTypes []string
		for _, e := range some.events(t, str(t, hookSome, "secret")) {
			someTypes = append(someTypes, e.Type)
		}
		slices.Sort(someTypes)
		if !slices.Equal(someTypes, []string{"check.completed.clear", "client.created", "client.created"}) {
			t.Errorf("the subscribed webhook got %v", someTypes)
		}
		if n := len(other.requests()); n != 0 {
			t.Errorf("another account's webhook got %d deliveries", n)
		}
		ds := env.deliveries(t, env.KeyA, str(t, hookAll, "id"))
		if len(ds) != len(want) {
			t.Errorf("%d deliveries listed, want %d", len(ds), len(want))
		}
		for _, d := range ds {
			if d["status"] != "succeeded" || d["attempts"] != float64(1) || d["lastResponseStatus"] != float64(200) || d["nextAttemptAt"] != nil {
				t.Errorf("delivery %v", d)
			}
		}
	})
}

// TestWebhookNoEventForRollback: a change that fails, and rolls back,
// emits nothing.
func TestWebhookNoEventForRollback(t *testing.T) {
	forEachBackend(t, func(t *testing.T, env *testEnv) {
		imgs := checkEnv(t, env)
		webhookEnv(env, nil)
		rc := newReceiver(t)
		hook := env.createWebhook(t, env.KeyA, rc.srv.URL, "*")
		alice := env.newClientID(t, env.KeyA)
		env.uploadWith(t, env.KeyA, alice, imgs["face"], nil)
		probe := env.uploadWith(t, env.KeyA, alice, imgs["same person"], nil)
		wantStatus(t, env.do(t, "POST", "/v1/checks", env.KeyA, map[string]any{"clientId": alice, "type": "face_authentication_check", "livePhotoId": probe}), http.StatusOK)
		before := len(env.deliveries(t, env.KeyA, str(t, hook, "id")))

		// An update that fails inside the store's transaction.
		wantError(t, env.do(t, "POST", "/v1/clients/"+alice, env.KeyA, map[string]any{"type": "company"}), 400, "invalid_request", "", "type")
		// A deletion the store refuses inside its transaction.
		wantError(t, env.do(t, "DELETE", "/v1/livePhotos/"+probe, env.KeyA, nil), 409, "live_photo_in_use", "", "")
		// A record that cannot be inserted: a client whose id exists.
		c, err := env.vault.Client(context.Background(), env.ScopeA, alice)
		if err != nil {
			t.Fatal(err)
		}
		if err := env.store.CreateClient(context.Background(), env.ScopeA, c); err == nil {
			t.Fatal("CreateClient with an existing id succeeded")
		}
		// A check finished by a node that does not hold it.
		pending, _, _ := env.store.Checks(context.Background(), env.ScopeA, facevault.CheckFilter{})
		pending[0].Status, pending[0].Result = facevault.CheckFailed, nil
		if err := env.store.FinishCheck(context.Background(), pending[0], "not-the-holder"); !errors.Is(err, facevault.ErrNotFound) {
			t.Fatalf("FinishCheck by another holder = %v", err)
		}
		if after := len(env.deliveries(t, env.KeyA, str(t, hook, "id"))); after != before {
			t.Errorf("%d deliveries after failed changes, want %d", after, before)
		}
		env.sendDue(t)
		for _, e := range rc.events(t, str(t, hook, "secret")) {
			if e.Type == "client.updated" || e.Type == "livePhoto.deleted" || e.Type == "check.failed" || e.Type == "client.created" && e.Payload["id"] != alice {
				t.Errorf("event of a failed change delivered: %+v", e)
			}
		}
	})
}

// TestWebhookRetries: a receiver that fails is retried on ComplyCube's
// schedule (60 s, then 120 s, …) and gets the event once it recovers.
func TestWebhookRetries(t *testing.T) {
	forEachBackend(t, func(t *testing.T, env *testEnv) {
		webhookEnv(env, nil)
		rc := newReceiver(t)
		rc.status.Store(http.StatusServiceUnavailable)
		start := time.Now().UTC().Truncate(time.Millisecond)
		env.clock.Set(start)
		hook := env.createWebhook(t, env.KeyA, rc.srv.URL, "client.created")
		hookID := str(t, hook, "id")
		client := env.newClientID(t, env.KeyA)

		at := start
		for attempt := 1; attempt <= 2; attempt++ {
			if n := env.sendDue(t); n != 1 {
				t.Fatalf("attempt %d: sent %d, want 1", attempt, n)
			}
			d := env.deliveries(t, env.KeyA, hookID)[0]
			delay := facevault.WebhookRetryDelay(attempt)
			if d["status"] != "pending" || d["attempts"] != float64(attempt) || d["lastResponseStatus"] != float64(503) ||
				d["nextAttemptAt"] != at.Add(delay).Format("2006-01-02T15:04:05.000Z") || d["eventType"] != "client.created" {
				t.Errorf("after failed attempt %d: %v (want next at +%v)", attempt, d, delay)
			}
			at = at.Add(delay)
			env.clock.Set(at.Add(-time.Millisecond))
			if n := env.sendDue(t); n != 0 {
				t.Errorf("sent %d a millisecond before the retry is due", n)
			}
			env.clock.Set(at)
		}
		if delay := facevault.WebhookRetryDelay(1); delay != time.Minute || facevault.WebhookRetryDelay(2) != 2*time.Minute {
			t.Errorf("retry delays %v, %v; want 60s, 120s", delay, facevault.WebhookRetryDelay(2))
		}
		rc.status.Store(http.StatusNoContent)
		if n := env.sendDue(t); n != 1 {
			t.Fatalf("sent %d after recovery, want 1", n)
		}
		d := env.deliveries(t, env.KeyA, hookID)[0]
		if d["status"] != "succeeded" || d["attempts"] != float64(3) || d["lastResponseStatus"] != float64(204) || d["lastError"] != nil {
			t.Errorf("after recovery: %v", d)
		}
		got := rc.events(t, str(t, hook, "secret"))
		if len(got) != 3 || got[0].ID != got[2].ID || got[2].Payload["id"] != client {
			t.Errorf("receiver got %+v, want the same event three times", got)
		}
		env.clock.Set(at.Add(time.Hour))
		if n := env.sendDue(t); n != 0 {
			t.Errorf("sent %d after success", n)
		}
	})
}

// TestWebhookTimeout: a receiver that does not answer in time is an attempt
// failed, retried later.
func TestWebhookTimeout(t *testing.T) {
	forEachBackend(t, func(t *testing.T, env *testEnv) {
		webhookEnv(env, nil)
		env.vault.Webhooks.Timeout = 300 * time.Millisecond
		rc := newReceiver(t)
		rc.hang.Store(true)
		hook := env.createWebhook(t, env.KeyA, rc.srv.URL, "*")
		env.newClientID(t, env.KeyA)
		if n := env.sendDue(t); n != 1 {
			t.Fatalf("sent %d, want 1", n)
		}
		d := env.deliveries(t, env.KeyA, str(t, hook, "id"))[0]
		if d["status"] != "pending" || d["attempts"] != float64(1) || d["lastResponseStatus"] != nil ||
			!strings.Contains(fmt.Sprint(d["lastError"]), "no answer within 300ms") {
			t.Errorf("after a timeout: %v", d)
		}
		if facevault.DefaultWebhookTimeout != 15*time.Second {
			t.Errorf("default timeout %v, want 15s", facevault.DefaultWebhookTimeout)
		}
	})
}

// TestWebhookDisabledAfterRetries: after the tenth retry fails, the
// delivery fails, the webhook is disabled and its other deliveries stop.
func TestWebhookDisabledAfterRetries(t *testing.T) {
	forEachBackend(t, func(t *testing.T, env *testEnv) {
		webhookEnv(env, nil)
		rc := newReceiver(t)
		rc.status.Store(http.StatusInternalServerError)
		start := time.Now().UTC().Truncate(time.Millisecond)
		env.clock.Set(start)
		hook := env.createWebhook(t, env.KeyA, rc.srv.URL, "*")
		hookID := str(t, hook, "id")
		env.newClientID(t, env.KeyA)
		at := start
		for attempt := 1; attempt <= facevault.MaxWebhookRetries+1; attempt++ {
			want := 1
			if attempt == facevault.MaxWebhookRetries+1 {
				// Another event, due now, still early in its own schedule.
				env.newClientID(t, env.KeyA)
				want = 2
			}
			if n := env.sendDue(t); n != want {
				t.Fatalf("attempt %d: sent %d, want %d", attempt, n, want)
			}
			at = at.Add(facevault.WebhookRetryDelay(attempt))
			env.clock.Set(at)
		}
		got := env.do(t, "GET", "/v1/webhooks/"+hookID, env.KeyA, nil).JSON
		if got["enabled"] != false || !strings.Contains(fmt.Sprint(got["disabledReason"]), "11 failed attempts") {
			t.Errorf("webhook after the tenth retry failed: %v", got)
		}
		ds := env.deliveries(t, env.KeyA, hookID)
		for _, d := range ds {
			if d["status"] != "failed" {
				t.Errorf("delivery of a disabled webhook: %v", d)
			}
		}
		if len(ds) != 2 || ds[1]["attempts"] != float64(11) || ds[1]["lastResponseStatus"] != float64(500) || ds[0]["attempts"] != float64(1) {
			t.Errorf("deliveries: %v; want the first failed after 11 attempts, the second after 1", ds)
		}
		before := len(rc.requests())
		env.newClientID(t, env.KeyA) // a disabled webhook hears of nothing new
		env.clock.Set(at.Add(48 * time.Hour))
		if n := env.sendDue(t); n != 0 {
			t.Errorf("sent %d for a disabled webhook", n)
		}
		if len(rc.requests()) != before || len(env.deliveries(t, env.KeyA, hookID)) != len(ds) {
			t.Errorf("a disabled webhook got more")
		}
		// Enabled again by its owner: new events are delivered.
		r := env.do(t, "POST", "/v1/webhooks/"+hookID, env.KeyA, map[string]any{"enabled": true})
		wantStatus(t, r, http.StatusOK)
		if r.JSON["enabled"] != true || r.JSON["disabledReason"] != nil {
			t.Errorf("re-enabled: %v", r.JSON)
		}
		rc.status.Store(http.StatusOK)
		env.newClientID(t, env.KeyA)
		if n := env.sendDue(t); n != 1 {
			t.Errorf("sent %d after re-enabling, want 1", n)
		}
	})
}

// TestWebhookSlowReceiver: a receiver that hangs holds a sender's slot,
// never an API request.
func TestWebhookSlowReceiver(t *testing.T) {
	forEachBackend(t, func(t *testing.T, env *testEnv) {
		webhookEnv(env, nil)
		rc := newReceiver(t)
		rc.hang.Store(true)
		env.createWebhook(t, env.KeyA, rc.srv.URL, "*")
		ctx, stop := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() {
			defer close(done)
			env.vault.RunDeliveries(ctx, "node", 10*time.Millisecond, time.Minute)
		}()
		t.Cleanup(func() { stop(); <-done })
		client := env.newClientID(t, env.KeyA)
		select {
		case <-rc.arrived:
		case <-time.After(30 * time.Second):
			t.Fatal("the delivery never reached the receiver")
		}
		// The receiver holds the delivery; the API answers all the same,
		// and new events queue behind it.
		wantStatus(t, env.do(t, "POST", "/v1/clients/"+client, env.KeyA, map[string]any{"mobile": "1"}), http.StatusOK)
		env.newClientID(t, env.KeyA)
		env.list(t, env.KeyA, "/v1/clients")
		wantStatus(t, env.do(t, "DELETE", "/v1/clients/"+client, env.KeyA, nil), http.StatusNoContent)
	})
}

// TestWebhookAddressGuardAtDelivery: a host whose DNS answer changes to a
// private address after the webhook was saved is refused when the
// delivery connects; a host the operator allows is called.
func TestWebhookAddressGuardAtDelivery(t *testing.T) {
	forEachBackend(t, func(t *testing.T, env *testEnv) {
		var mu sync.Mutex
		answer := "93.184.216.34"
		env.vault.Webhooks.Guard = &facevault.WebhookGuard{LookupIP: func(_ context.Context, host string) ([]netip.Addr, error) {
			mu.Lock()
			defer mu.Unlock()
			return []netip.Addr{netip.MustParseAddr(answer)}, nil
		}}
		rc := newReceiver(t)
		port := rc.srv.Listener.Addr().(interface{ AddrPort() netip.AddrPort }).AddrPort().Port()
		hook := env.createWebhook(t, env.KeyA, fmt.Sprintf("https://rebind.example:%d/", port), "*")
		mu.Lock()
		answer = "127.0.0.1" // the DNS answer changes
		mu.Unlock()
		env.newClientID(t, env.KeyA)
		if n := env.sendDue(t); n != 1 {
			t.Fatalf("sent %d, want 1", n)
		}
		d := env.deliveries(t, env.KeyA, str(t, hook, "id"))[0]
		if d["status"] != "pending" || !strings.Contains(fmt.Sprint(d["lastError"]), "not a public address") {
			t.Errorf("delivery to a rebound host: %v", d)
		}
		if n := len(rc.requests()); n != 0 {
			t.Errorf("the receiver on 127.0.0.1 got %d requests", n)
		}

		// With the host allowed (serve --webhook-allow rebind.example),
		// http to it is fine.
		env.vault.Webhooks.Guard.Hosts = []string{"rebind.example"}
		allowed := env.createWebhook(t, env.KeyA, fmt.Sprintf("http://rebind.example:%d/", port), "client.created")
		env.newClientID(t, env.KeyA)
		env.sendDue(t)
		if got := rc.events(t, str(t, allowed, "secret")); len(got) != 1 || got[0].Type != "client.created" {
			t.Errorf("allowed host got %+v", got)
		}
	})
}
