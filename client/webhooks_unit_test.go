package client_test

import (
	"bytes"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/facevault/facevault/client"
)

// TestSign: ComplyCube's published test vector.
func TestSign(t *testing.T) {
	const want = "bc00414fa4d54277a3ed01e5ee258d9800a918a7791c7cda16d38b82f38f2150"
	if got := client.Sign("a_webhook_signature", []byte(`{"id":"value"}`)); got != want {
		t.Errorf("Sign = %s, want %s", got, want)
	}
}

// TestEventHandler: a signed event reaches the function; a wrong or
// missing signature, a body that is not an event, or a failing function
// get the answers that make the service deliver again (or not).
func TestEventHandler(t *testing.T) {
	const secret = "s3cr3t"
	body := []byte(`{"id":"6b0d","type":"client.created","resourceType":"client","payload":{"id":"c1"},"createdAt":"2026-11-30T10:00:00.000Z"}`)
	var got *client.Event
	fail := false
	h := client.EventHandler(secret, func(e *client.Event) error {
		got = e
		if fail {
			return errors.New("busy")
		}
		return nil
	})
	send := func(b []byte, sig string) int {
		r := httptest.NewRequest("POST", "/hook", bytes.NewReader(b))
		if sig != "" {
			r.Header.Set(client.SignatureHeader, sig)
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		return w.Code
	}
	if code := send(body, client.Sign(secret, body)); code != http.StatusOK || got == nil || got.Type != "client.created" || got.ID != "6b0d" {
		t.Fatalf("signed event: %d, %+v", code, got)
	}
	for name, c := range map[string]struct {
		body []byte
		sig  string
	}{
		"wrong secret":   {body, client.Sign("other", body)},
		"no signature":   {body, ""},
		"not hex":        {body, "zz"},
		"changed body":   {append(bytes.Clone(body), ' '), client.Sign(secret, body)},
		"not json":       {[]byte("nope"), client.Sign(secret, []byte("nope"))},
		"too large body": {bytes.Repeat([]byte("a"), 1<<20+1), client.Sign(secret, bytes.Repeat([]byte("a"), 1<<20+1))},
	} {
		if code := send(c.body, c.sig); code != http.StatusBadRequest {
			t.Errorf("%s: %d, want 400", name, code)
		}
	}
	fail = true
	if code := send(body, client.Sign(secret, body)); code != http.StatusInternalServerError {
		t.Errorf("failing handler: %d, want 500", code)
	}
	if _, err := client.ParseEvent(secret, body, client.Sign("x", body)); !errors.Is(err, client.ErrBadSignature) {
		t.Errorf("ParseEvent with a wrong signature: %v", err)
	}
}
