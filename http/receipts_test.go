package http_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"io"
	"net/http"
	"slices"
	"testing"

	"github.com/facevault/facevault"
	"github.com/facevault/facevault/internal/testimage"
)

// receiptKey fetches the deployment's receipt key, without an API key.
func (e *testEnv) receiptKey(t testing.TB) []byte {
	t.Helper()
	res, err := e.client.Get(e.URL + "/.well-known/facevault-receipts.pub")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	if res.StatusCode != http.StatusOK {
		t.Fatalf("GET /.well-known/facevault-receipts.pub: %d %s", res.StatusCode, b)
	}
	return b
}

// receipts lists the receipts naming a resource, with a key.
func (e *testEnv) receipts(t testing.TB, key, resourceID string) []map[string]any {
	t.Helper()
	r := e.do(t, "GET", "/v1/deletionReceipts?resourceId="+resourceID, key, nil)
	wantStatus(t, r, http.StatusOK)
	var out []map[string]any
	for _, it := range r.JSON["items"].([]any) {
		out = append(out, it.(map[string]any))
	}
	if int(r.JSON["totalItems"].(float64)) != len(out) {
		t.Errorf("receipts of %s: totalItems %v, %d items", resourceID, r.JSON["totalItems"], len(out))
	}
	return out
}

// verified checks a receipt's signature with the served key and returns
// what it says.
func verified(t testing.TB, pem []byte, r map[string]any) *facevault.ReceiptPayload {
	t.Helper()
	pub, err := facevault.ParseReceiptKey(pem)
	if err != nil {
		t.Fatal(err)
	}
	sig, err := base64.StdEncoding.DecodeString(str(t, r, "signature"))
	if err != nil {
		t.Fatal(err)
	}
	payload := []byte(str(t, r, "payload"))
	p, err := facevault.VerifyReceipt(pub, payload, sig)
	if err != nil {
		t.Fatalf("receipt %v: %v", r["id"], err)
	}
	changed := bytes.Clone(payload)
	changed[len(changed)/2] ^= 1
	if _, err := facevault.VerifyReceipt(pub, changed, sig); !errors.Is(err, facevault.ErrBadReceipt) {
		t.Errorf("a receipt with a byte changed: %v, want ErrBadReceipt", err)
	}
	return p
}

// TestDeletionReceipts: deleting a photo, redacting one and deleting a
// client each leave a signed receipt, listed by resource id within the
// caller's account and mode, that verifies against the key served at
// /.well-known/facevault-receipts.pub and quotes the image's SHA-256.
func TestDeletionReceipts(t *testing.T) {
	forEachBackend(t, func(t *testing.T, env *testEnv) {
		keep, gone := env.newClientID(t, env.KeyA), env.newClientID(t, env.KeyA)
		img := func(seed uint64) []byte { return testimage.JPEG(256, 256, seed) }
		digest := func(b []byte) string { h := sha256.Sum256(b); return hex.EncodeToString(h[:]) }
		i1, i2, i3 := img(1), img(2), img(3)
		p1 := str(t, env.upload(t, env.KeyA, keep, i1), "id")
		p2 := str(t, env.upload(t, env.KeyA, keep, i2), "id")
		p3 := str(t, env.upload(t, env.KeyA, gone, i3), "id")
		if rs := env.receipts(t, env.KeyA, p1); len(rs) != 0 {
			t.Fatalf("a live photo has receipts: %v", rs)
		}
		wantStatus(t, env.do(t, "DELETE", "/v1/livePhotos/"+p1, env.KeyA, nil), http.StatusNoContent)
		wantStatus(t, env.do(t, "POST", "/v1/livePhotos/"+p2+"/redact", env.KeyA, nil), http.StatusOK)
		wantStatus(t, env.do(t, "POST", "/v1/livePhotos/"+p2+"/redact", env.KeyA, nil), http.StatusOK) // again: no second receipt
		wantStatus(t, env.do(t, "DELETE", "/v1/clients/"+gone, env.KeyA, nil), http.StatusNoContent)
		env.waitPurged(t)
		pem := env.receiptKey(t)

		for _, tc := range []struct {
			resource, action, resourceType string
			destroyed                      []string
			sha                            map[string]string
		}{
			{p1, "livePhoto.deleted", "livePhoto", []string{"livePhoto:" + p1}, map[string]string{p1: digest(i1)}},
			{p2, "livePhoto.redacted", "livePhoto", []string{"livePhoto:" + p2}, map[string]string{p2: digest(i2)}},
			{gone, "client.deleted", "client", []string{"client:" + gone}, nil},
			{p3, "client.deleted", "livePhoto", []string{"livePhoto:" + p3}, map[string]string{p3: digest(i3)}},
		} {
			rs := env.receipts(t, env.KeyA, tc.resource)
			if len(rs) != 1 {
				t.Fatalf("receipts of %s: %d, want 1", tc.resource, len(rs))
			}
			p := verified(t, pem, rs[0])
			if string(p.Action) != tc.action || p.ResourceType != tc.resourceType || rs[0]["action"] != tc.action || p.ReceiptID != rs[0]["id"] {
				t.Errorf("receipt of %s: %+v, want %s of a %s", tc.resource, p, tc.action, tc.resourceType)
			}
			var destroyed []string
			for _, d := range p.Destroyed {
				destroyed = append(destroyed, d.ResourceType+":"+d.ResourceID)
				if want, ok := tc.sha[d.ResourceID]; ok && d.SHA256 != want {
					t.Errorf("receipt of %s quotes sha256 %s for %s, want the upload's %s", tc.resource, d.SHA256, d.ResourceID, want)
				}
				if d.KeyID == "" {
					t.Errorf("receipt of %s names no key for %s", tc.resource, d.ResourceID)
				}
			}
			if !slices.Equal(destroyed, tc.destroyed) {
				t.Errorf("receipt of %s destroyed %v, want %v", tc.resource, destroyed, tc.destroyed)
			}
		}
		// Another account, and the other mode, see none of them.
		for _, key := range []string{env.KeyB, env.KeyALive} {
			for _, id := range []string{p1, p2, gone, p3} {
				if rs := env.receipts(t, key, id); len(rs) != 0 {
					t.Errorf("another scope sees %d receipts of %s", len(rs), id)
				}
			}
		}
	})
}

func TestDeletionReceiptErrors(t *testing.T) {
	forEachBackend(t, func(t *testing.T, env *testEnv) {
		wantError(t, env.do(t, "GET", "/v1/deletionReceipts", env.KeyA, nil, invalid("no resourceId")...), http.StatusBadRequest,
			"invalid_request", "The query parameter 'resourceId' is required", "resourceId")
		wantError(t, env.do(t, "GET", "/v1/deletionReceipts?resourceId="+unknownID()+"&pageSize=0", env.KeyA, nil, invalid("pageSize out of range")...),
			http.StatusBadRequest, "invalid_request", "", "pageSize")
		wantError(t, env.do(t, "GET", "/v1/deletionReceipts?resourceId="+unknownID(), "", nil), http.StatusUnauthorized, "unauthorized", "", "")
		r := env.do(t, "POST", "/v1/deletionReceipts", env.KeyA, map[string]any{})
		if r.Status != http.StatusMethodNotAllowed {
			t.Errorf("POST /v1/deletionReceipts: %d, want 405", r.Status)
		}
		// Deleted, then filtered by something receipts have not: nothing.
		c := env.newClientID(t, env.KeyA)
		p := str(t, env.upload(t, env.KeyA, c, testimage.JPEG(256, 256, 5)), "id")
		wantStatus(t, env.do(t, "DELETE", "/v1/livePhotos/"+p, env.KeyA, nil), http.StatusNoContent)
		for _, q := range []string{"&action=livePhoto.deleted", "&createdAfter=2020-01-01T00:00:00.000Z", "&resourceId=" + p} {
			r := env.do(t, "GET", "/v1/deletionReceipts?resourceId="+p+q, env.KeyA, nil)
			wantStatus(t, r, http.StatusOK)
			if n := len(r.JSON["items"].([]any)); n != 0 {
				t.Errorf("receipts with %s: %d items, want none", q, n)
			}
		}
		for _, id := range []string{"nonsense", unknownID()} {
			if rs := env.receipts(t, env.KeyA, id); len(rs) != 0 {
				t.Errorf("receipts of %s: %v", id, rs)
			}
		}
		// The public key needs no API key, and is the same every time.
		if a, b := env.receiptKey(t), env.receiptKey(t); !bytes.Equal(a, b) {
			t.Error("the receipt key changed between two requests")
		}
	})
}
