package http_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/facevault/facevault"
	"github.com/facevault/facevault/internal/testimage"
)

// TestRetention drives retention through the API with a controlled clock:
// the account's default for the mode, a client's own days and retainUntil,
// and a legal hold that suspends retention and refuses deletions until it
// is lifted. Photos whose time is up are deleted with a receipt saying so.
func TestRetention(t *testing.T) {
	forEachBackend(t, func(t *testing.T, env *testEnv) {
		ctx := context.Background()
		start := time.Now().UTC().Truncate(time.Millisecond)
		env.clock.Set(start)
		day := 24 * time.Hour

		r := env.do(t, "GET", "/v1/retention", env.KeyA, nil)
		wantStatus(t, r, http.StatusOK)
		if r.JSON["defaultDays"] != float64(0) {
			t.Errorf("default retention of a new account: %v, want 0", r.JSON)
		}
		wantStatus(t, env.do(t, "POST", "/v1/retention", env.KeyA, map[string]any{"defaultDays": 30}), http.StatusOK)
		if r := env.do(t, "GET", "/v1/retention", env.KeyA, nil); r.JSON["defaultDays"] != float64(30) {
			t.Errorf("default after setting 30: %v", r.JSON)
		}
		if r := env.do(t, "GET", "/v1/retention", env.KeyALive, nil); r.JSON["defaultDays"] != float64(0) {
			t.Errorf("the live mode's default: %v, want 0 (modes are apart)", r.JSON)
		}

		create := func(retention map[string]any) string {
			extra := map[string]any{}
			if retention != nil {
				extra["retention"] = retention
			}
			c := env.createClient(t, env.KeyA, extra)
			return str(t, c, "id")
		}
		plain := create(nil)
		short := create(map[string]any{"days": 3})
		until := create(map[string]any{"retainUntil": start.Add(10 * day).Format(time.RFC3339)})
		held := create(map[string]any{"days": 1, "legalHold": true})
		got := env.do(t, "GET", "/v1/clients/"+held, env.KeyA, nil)
		if rt, _ := got.JSON["retention"].(map[string]any); rt["days"] != float64(1) || rt["legalHold"] != true {
			t.Errorf("held client shows retention %v", got.JSON["retention"])
		}
		img := testimage.JPEG(256, 256, 1)
		photo := func(client string) string { return str(t, env.upload(t, env.KeyA, client, img), "id") }
		pPlain, pShort, pUntil, pHeld := photo(plain), photo(short), photo(until), photo(held)

		// A hold refuses deletions and redactions, of the client and its photos.
		for _, req := range []struct{ method, path string }{
			{"DELETE", "/v1/livePhotos/" + pHeld}, {"POST", "/v1/livePhotos/" + pHeld + "/redact"}, {"DELETE", "/v1/clients/" + held},
		} {
			wantError(t, env.do(t, req.method, req.path, env.KeyA, nil), http.StatusConflict, facevault.ELegalHold, "", "")
		}

		// The background purge runs retention too, on the same clock: a
		// pass by hand makes sure one has run at the new time; what it
		// deleted is checked by looking.
		retain := func(at time.Duration) {
			t.Helper()
			env.clock.Set(start.Add(at))
			if _, err := env.vault.Retain(ctx); err != nil {
				t.Fatalf("retention at +%v: %v", at, err)
			}
			env.waitPurged(t)
		}
		exists := func(id string) bool {
			return env.do(t, "GET", "/v1/livePhotos/"+id, env.KeyA, nil).Status == http.StatusOK
		}
		retain(2 * day)
		if !exists(pShort) || !exists(pPlain) || !exists(pUntil) || !exists(pHeld) {
			t.Fatalf("after 2 days, every photo should be there")
		}
		retain(3 * day)
		if exists(pShort) || !exists(pPlain) || !exists(pUntil) || !exists(pHeld) {
			t.Fatalf("after 3 days, only the 3-day client's photo should be gone")
		}
		retain(10 * day)
		if exists(pUntil) {
			t.Error("the retainUntil client's photo survived its date")
		}
		retain(31 * day)
		if exists(pPlain) || !exists(pHeld) {
			t.Error("after 31 days the default should have taken the plain client's photo, and the hold kept its")
		}
		for _, id := range []string{pShort, pUntil, pPlain} {
			rs := env.receipts(t, env.KeyA, id)
			if len(rs) != 1 || rs[0]["action"] != string(facevault.DestroyRetention) {
				t.Errorf("receipts of %s: %v, want one saying retention", id, rs)
			}
			env.wantNoBlob(t, id)
			// The audit log records the deletion as the system's.
			log := env.do(t, "GET", "/v1/auditLogs?resourceId="+id+"&action=delete", env.KeyA, nil)
			wantStatus(t, log, http.StatusOK)
			items, _ := log.JSON["items"].([]any)
			if len(items) != 1 || items[0].(map[string]any)["trigger"] != facevault.TriggerSystem {
				t.Errorf("audit entries of the retention deletion of %s: %v, want one by the system", id, items)
			}
		}
		// Lifted, the hold no longer keeps anything.
		r = env.do(t, "POST", "/v1/clients/"+held, env.KeyA, map[string]any{"retention": map[string]any{"legalHold": false}})
		wantStatus(t, r, http.StatusOK)
		if rt, _ := r.JSON["retention"].(map[string]any); rt["legalHold"] != nil || rt["days"] != float64(1) {
			t.Errorf("after lifting the hold: retention %v, want days 1 and no hold", r.JSON["retention"])
		}
		retain(32 * day)
		if exists(pHeld) {
			t.Error("the photo of a client whose hold was lifted survived")
		}
		// Clearing a client's retention: days 0, retainUntil "".
		r = env.do(t, "POST", "/v1/clients/"+until, env.KeyA, map[string]any{"retention": map[string]any{"retainUntil": "", "days": 0}})
		wantStatus(t, r, http.StatusOK)
		if _, has := r.JSON["retention"]; has {
			t.Errorf("a cleared retention is still shown: %v", r.JSON["retention"])
		}
	})
}

func TestRetentionErrors(t *testing.T) {
	forEachBackend(t, func(t *testing.T, env *testEnv) {
		for _, tc := range []struct {
			body  map[string]any
			param string
		}{
			{map[string]any{"days": -1}, "retention.days"},
			{map[string]any{"days": 36501}, "retention.days"},
			{map[string]any{"days": "30"}, "retention.days"},
			{map[string]any{"retainUntil": "next year"}, "retention.retainUntil"},
			{map[string]any{"legalHold": "yes"}, "retention.legalHold"},
		} {
			r := env.do(t, "POST", "/v1/clients", env.KeyA, map[string]any{
				"type": "person", "email": "r@example.com", "personDetails": map[string]any{"firstName": "R", "lastName": "R"},
				"retention": tc.body}, invalid("a bad retention")...)
			wantError(t, r, http.StatusBadRequest, "invalid_request", "", tc.param)
		}
		r := env.do(t, "POST", "/v1/clients", env.KeyA, map[string]any{
			"type": "person", "email": "r@example.com", "personDetails": map[string]any{"firstName": "R", "lastName": "R"}, "retention": "forever"}, invalid("retention not an object")...)
		wantError(t, r, http.StatusBadRequest, "invalid_request", "", "retention")
		for _, tc := range []struct {
			body  any
			param string
		}{
			{map[string]any{}, "defaultDays"},
			{map[string]any{"defaultDays": -3}, "defaultDays"},
			{map[string]any{"defaultDays": 40000}, "defaultDays"},
			{map[string]any{"defaultDays": "30"}, "defaultDays"},
		} {
			wantError(t, env.do(t, "POST", "/v1/retention", env.KeyA, tc.body, invalid("a bad default")...), http.StatusBadRequest, "invalid_request", "", tc.param)
		}
		wantError(t, env.do(t, "GET", "/v1/retention", "", nil), http.StatusUnauthorized, "unauthorized", "", "")
		if r := env.do(t, "DELETE", "/v1/retention", env.KeyA, nil); r.Status != http.StatusMethodNotAllowed {
			t.Errorf("DELETE /v1/retention: %d, want 405", r.Status)
		}
		// Clearing the default.
		wantStatus(t, env.do(t, "POST", "/v1/retention", env.KeyA, map[string]any{"defaultDays": 7}), http.StatusOK)
		wantStatus(t, env.do(t, "POST", "/v1/retention", env.KeyA, map[string]any{"defaultDays": 0}), http.StatusOK)
		if r := env.do(t, "GET", "/v1/retention", env.KeyA, nil); r.JSON["defaultDays"] != float64(0) {
			t.Errorf("default after clearing: %v", r.JSON)
		}
	})
}
