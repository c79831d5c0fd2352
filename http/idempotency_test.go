package http_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/facevault/facevault"
	fvhttp "github.com/facevault/facevault/http"
	"github.com/facevault/facevault/internal/apitest"
	"github.com/facevault/facevault/internal/testimage"
)

// idem sends a POST with an Idempotency-Key header.
func (e *testEnv) idem(t testing.TB, path, key, idemKey string, body any) *response {
	t.Helper()
	return e.do(t, "POST", path, key, body, fvhttp.IdempotencyKeyHeader, idemKey)
}

// photoBody is the body of an upload of img for a client.
func photoBody(clientID string, img []byte) map[string]any {
	return map[string]any{"clientId": clientID, "data": b64(img)}
}

// blobCount counts the committed images of the image store.
func (e *testEnv) blobCount(t testing.TB) int {
	t.Helper()
	ks, err := committedKeys(e.blobs)()
	if err != nil {
		t.Fatalf("list blobs: %v", err)
	}
	return len(ks)
}

// wantReplayed checks whether an answer says it was replayed.
func wantReplayed(t testing.TB, r *response, replayed bool) {
	t.Helper()
	got := r.Header.Get(fvhttp.IdempotentReplayedHeader)
	if replayed && got != "true" {
		t.Errorf("%s = %q, want \"true\" on a replayed answer", fvhttp.IdempotentReplayedHeader, got)
	}
	if !replayed && got != "" {
		t.Errorf("%s = %q on an answer that was not replayed", fvhttp.IdempotentReplayedHeader, got)
	}
}

// TestIdempotentUpload covers a retried upload: the first answer comes
// back, nothing is stored twice.
func TestIdempotentUpload(t *testing.T) {
	forEachBackend(t, func(t *testing.T, env *testEnv) {
		clientID := env.newClientID(t, env.KeyA)
		img := images().jpeg
		first := env.idem(t, "/v1/livePhotos", env.KeyA, "upload-1", photoBody(clientID, img))
		wantStatus(t, first, http.StatusOK)
		wantReplayed(t, first, false)
		// The collection with its trailing slash is the same path.
		second := env.idem(t, "/v1/livePhotos/", env.KeyA, "upload-1", photoBody(clientID, img))
		wantStatus(t, second, http.StatusOK)
		wantReplayed(t, second, true)
		if string(second.Body) != string(first.Body) {
			t.Errorf("replayed body = %s, want the first answer %s", second.Body, first.Body)
		}
		if got := env.photoIDs(t, env.KeyA, clientID); len(got) != 1 || got[0] != str(t, first.JSON, "id") {
			t.Errorf("photos = %v, want only %s", got, first.JSON["id"])
		}
		if n := env.blobCount(t); n != 1 {
			t.Errorf("the image store holds %d images, want 1", n)
		}

		// The same key with another body, or another path, is refused.
		const reused = "This Idempotency-Key was used with a different request (method, path or body); use a new key for a new request"
		r := env.idem(t, "/v1/livePhotos", env.KeyA, "upload-1", photoBody(clientID, images().png))
		wantError(t, r, http.StatusUnprocessableEntity, "idempotency_key_reused", reused, "Idempotency-Key")
		// (An upload's body sent to the clients' path: not a client.)
		r = env.do(t, "POST", "/v1/clients", env.KeyA, photoBody(clientID, img),
			append([]string{fvhttp.IdempotencyKeyHeader, "upload-1"}, invalid("an upload's body on another path")...)...)
		wantError(t, r, http.StatusUnprocessableEntity, "idempotency_key_reused", reused, "Idempotency-Key")
		// A body larger than any legal request cannot be the same one.
		r = env.do(t, "POST", "/v1/livePhotos", env.KeyA, strings.Repeat(" ", fvhttp.MaxUploadBody+1),
			append([]string{fvhttp.IdempotencyKeyHeader, "upload-1"}, invalid("a body over the limit")...)...)
		wantError(t, r, http.StatusRequestEntityTooLarge, "request_too_large", "", "")
		// A new key is a new request.
		r = env.idem(t, "/v1/livePhotos", env.KeyA, "upload-2", photoBody(clientID, img))
		wantStatus(t, r, http.StatusOK)
		wantReplayed(t, r, false)
		if got := env.photoIDs(t, env.KeyA, clientID); len(got) != 2 {
			t.Errorf("photos = %v, want 2", got)
		}
	})
}

// TestIdempotencyScopes: accounts and modes are separate key spaces.
func TestIdempotencyScopes(t *testing.T) {
	forEachBackend(t, func(t *testing.T, env *testEnv) {
		body := map[string]any{"type": "person", "email": "jane@example.com",
			"personDetails": map[string]any{"firstName": "Jane", "lastName": "Doe"}}
		ids := map[string]bool{}
		for _, key := range []string{env.KeyA, env.KeyALive, env.KeyB} {
			r := env.idem(t, "/v1/clients", key, "same-key", body)
			wantStatus(t, r, http.StatusOK)
			wantReplayed(t, r, false)
			ids[str(t, r.JSON, "id")] = true
		}
		if len(ids) != 3 {
			t.Errorf("three scopes made %d clients, want 3", len(ids))
		}
		// The first scope's key is still its own.
		r := env.idem(t, "/v1/clients", env.KeyA, "same-key", body)
		wantStatus(t, r, http.StatusOK)
		wantReplayed(t, r, true)
	})
}

// TestIdempotentConcurrent sends one upload with one key from 8 goroutines
// at once: one executes, the others are told it is in progress or get its
// answer.
func TestIdempotentConcurrent(t *testing.T) {
	forEachBackend(t, func(t *testing.T, env *testEnv) {
		clientID := env.newClientID(t, env.KeyA)
		img := testimage.JPEGSize(1<<20, 31)
		const n = 8
		var wg sync.WaitGroup
		answers := make([]*response, n)
		start := make(chan struct{})
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				req, err := env.newRequest("POST", "/v1/livePhotos", env.KeyA, photoBody(clientID, img),
					fvhttp.IdempotencyKeyHeader, "concurrent")
				if err != nil {
					t.Error(err)
					return
				}
				answers[i] = env.send(t, req)
			}()
		}
		close(start)
		wg.Wait()
		var id string
		executed, inUse := 0, 0
		for _, r := range answers {
			if r == nil {
				t.FailNow()
			}
			switch {
			case r.Status == http.StatusOK && r.Header.Get(fvhttp.IdempotentReplayedHeader) == "":
				executed++
				id = str(t, r.JSON, "id")
			case r.Status == http.StatusConflict:
				wantError(t, r, http.StatusConflict, "idempotency_key_in_use",
					"A request with this Idempotency-Key is still in progress; retry it later", "Idempotency-Key")
				if r.Header.Get("Retry-After") != "1" {
					t.Errorf("409 with Retry-After %q, want 1", r.Header.Get("Retry-After"))
				}
				inUse++
			case r.Status == http.StatusOK:
			default:
				t.Errorf("answer %d %s, want 200 or 409", r.Status, r.Body)
			}
		}
		if executed != 1 {
			t.Fatalf("%d requests executed, want 1", executed)
		}
		for _, r := range answers {
			if r.Status == http.StatusOK && str(t, r.JSON, "id") != id {
				t.Errorf("answers name photos %s and %s", id, r.JSON["id"])
			}
		}
		t.Logf("1 executed, %d in progress, %d replayed", inUse, n-1-inUse)
		if got := env.photoIDs(t, env.KeyA, clientID); len(got) != 1 {
			t.Errorf("photos = %v, want 1", got)
		}
		if n := env.blobCount(t); n != 1 {
			t.Errorf("the image store holds %d images, want 1", n)
		}
		// Once it is done, a retry gets its answer.
		r := env.idem(t, "/v1/livePhotos", env.KeyA, "concurrent", photoBody(clientID, img))
		wantStatus(t, r, http.StatusOK)
		wantReplayed(t, r, true)
		if str(t, r.JSON, "id") != id {
			t.Errorf("retry names photo %s, want %s", r.JSON["id"], id)
		}
	})
}

// TestIdempotentErrors: a 4xx is stored and replayed; a 5xx, a 429 and a
// request refused before its body was read are not, and a retry executes.
func TestIdempotentErrors(t *testing.T) {
	var fs *failOnce
	opts := envOptions{store: func(s facevault.Store) facevault.Store {
		fs = &failOnce{Store: s}
		return fs
	}}
	forEachBackendWith(t, opts, func(t *testing.T, env *testEnv) {
		env.logs.allowErrors("internal error")
		missing := unknownID()
		img := images().jpeg
		r := env.idem(t, "/v1/livePhotos", env.KeyA, "404", photoBody(missing, img))
		wantError(t, r, http.StatusNotFound, "resource_not_found", "Invalid client id '"+missing+"'", "")
		wantReplayed(t, r, false)
		again := env.idem(t, "/v1/livePhotos", env.KeyA, "404", photoBody(missing, img))
		wantError(t, again, http.StatusNotFound, "resource_not_found", "Invalid client id '"+missing+"'", "")
		wantReplayed(t, again, true)

		// A 500: nothing stored, the retry executes.
		clientID := env.newClientID(t, env.KeyA)
		fs.armed.Store(true)
		r = env.idem(t, "/v1/livePhotos", env.KeyA, "500", photoBody(clientID, img))
		wantError(t, r, http.StatusInternalServerError, "internal_server_error", "", "")
		wantReplayed(t, r, false)
		r = env.idem(t, "/v1/livePhotos", env.KeyA, "500", photoBody(clientID, img))
		wantStatus(t, r, http.StatusOK)
		wantReplayed(t, r, false)
		if got := env.photoIDs(t, env.KeyA, clientID); len(got) != 1 {
			t.Errorf("photos = %v, want 1", got)
		}
		// A handler that panics: the same.
		env.logs.allowErrors("panic")
		fs.panics.Store(true)
		fs.armed.Store(true)
		r = env.idem(t, "/v1/livePhotos", env.KeyA, "panic", photoBody(clientID, img))
		wantError(t, r, http.StatusInternalServerError, "internal_server_error", "", "")
		fs.panics.Store(false)
		r = env.idem(t, "/v1/livePhotos", env.KeyA, "panic", photoBody(clientID, img))
		wantStatus(t, r, http.StatusOK)
		wantReplayed(t, r, false)

		// Refused before its body was read (no JSON Content-Type): not
		// stored either; the retry, fixed, executes.
		body := photoBody(clientID, img)
		r = env.do(t, "POST", "/v1/livePhotos", env.KeyA, body, fvhttp.IdempotencyKeyHeader, "ct", "Content-Type", "text/plain")
		wantError(t, r, http.StatusBadRequest, "invalid_request", "", "Content-Type")
		r = env.idem(t, "/v1/livePhotos", env.KeyA, "ct", body)
		wantStatus(t, r, http.StatusOK)
		wantReplayed(t, r, false)

		// A success that ignores its body stores it all the same: the
		// retry of a redaction is replayed.
		id := str(t, r.JSON, "id")
		r = env.idem(t, "/v1/livePhotos/"+id+"/redact", env.KeyA, "redact", nil)
		wantStatus(t, r, http.StatusOK)
		r = env.idem(t, "/v1/livePhotos/"+id+"/redact", env.KeyA, "redact", nil)
		wantStatus(t, r, http.StatusOK)
		wantReplayed(t, r, true)
		r = env.idem(t, "/v1/livePhotos/"+id+"/redact", env.KeyA, "redact", map[string]any{"reason": "x"})
		wantError(t, r, http.StatusUnprocessableEntity, "idempotency_key_reused", "", "Idempotency-Key")
	})
}

// failOnce fails the next CreateLivePhoto once armed: with an error, or
// with a panic if panics is set.
type failOnce struct {
	facevault.Store
	armed, panics atomic.Bool
}

func (f *failOnce) CreateLivePhoto(ctx context.Context, s facevault.Scope, p *facevault.LivePhoto) error {
	if f.armed.CompareAndSwap(true, false) {
		if f.panics.Load() {
			panic("record store driver bug")
		}
		return errors.New("record store unavailable")
	}
	return f.Store.CreateLivePhoto(ctx, s, p)
}

// TestIdempotencyKeyInvalid: a malformed key is 400 on a POST, and ignored
// on other methods.
func TestIdempotencyKeyInvalid(t *testing.T) {
	forEachBackend(t, func(t *testing.T, env *testEnv) {
		const msg = "The 'Idempotency-Key' header must be 1 to 255 printable ASCII characters"
		body := map[string]any{"type": "person", "email": "jane@example.com",
			"personDetails": map[string]any{"firstName": "Jane", "lastName": "Doe"}}
		for name, key := range map[string]string{
			"empty":     "",
			"too long":  strings.Repeat("k", 256),
			"tab":       "a\tb",
			"non-ASCII": "clé",
		} {
			req, err := env.newRequest("POST", "/v1/clients", env.KeyA, body)
			if err != nil {
				t.Fatal(err)
			}
			req.Header[fvhttp.IdempotencyKeyHeader] = []string{key}
			req.Header.Set(apitest.InvalidHeader, "an invalid Idempotency-Key")
			t.Run(name, func(t *testing.T) {
				wantError(t, env.send(t, req), http.StatusBadRequest, "invalid_request", msg, "Idempotency-Key")
			})
		}
		req, err := env.newRequest("POST", "/v1/clients", env.KeyA, body)
		if err != nil {
			t.Fatal(err)
		}
		req.Header[fvhttp.IdempotencyKeyHeader] = []string{"one", "two"}
		req.Header.Set(apitest.InvalidHeader, "the Idempotency-Key sent twice")
		wantError(t, env.send(t, req), http.StatusBadRequest, "invalid_request",
			"The 'Idempotency-Key' header must be sent once", "Idempotency-Key")
		if _, ids := env.list(t, env.KeyA, "/v1/clients"); len(ids) != 0 {
			t.Errorf("refused requests created clients %v", ids)
		}
		// 255 characters, spaces and symbols included, are fine.
		long := " !~" + strings.Repeat("k", 252)
		wantStatus(t, env.idem(t, "/v1/clients", env.KeyA, long, body), http.StatusOK)
		r := env.idem(t, "/v1/clients", env.KeyA, long, body)
		wantStatus(t, r, http.StatusOK)
		wantReplayed(t, r, true)

		// GET and DELETE ignore the header, valid or not.
		id := env.newClientID(t, env.KeyA)
		for range 2 {
			r := env.do(t, "GET", "/v1/clients/"+id, env.KeyA, nil, fvhttp.IdempotencyKeyHeader, "a\tb")
			wantStatus(t, r, http.StatusOK)
			wantReplayed(t, r, false)
		}
		wantStatus(t, env.do(t, "DELETE", "/v1/clients/"+id, env.KeyA, nil, fvhttp.IdempotencyKeyHeader, "del"), http.StatusNoContent)
		wantStatus(t, env.do(t, "DELETE", "/v1/clients/"+id, env.KeyA, nil, fvhttp.IdempotencyKeyHeader, "del"), http.StatusNotFound)
	})
}

// TestIdempotencyExpiry: a key is kept 24 hours, then the same key is a
// new request, and the background purge removes the record.
func TestIdempotencyExpiry(t *testing.T) {
	forEachBackend(t, func(t *testing.T, env *testEnv) {
		t0 := time.Now().UTC().Truncate(time.Millisecond)
		env.clock.Set(t0)
		clientID := env.newClientID(t, env.KeyA)
		img := images().jpeg
		first := env.idem(t, "/v1/livePhotos", env.KeyA, "day", photoBody(clientID, img))
		wantStatus(t, first, http.StatusOK)

		env.clock.Set(t0.Add(facevault.IdempotencyTTL - time.Millisecond))
		r := env.idem(t, "/v1/livePhotos", env.KeyA, "day", photoBody(clientID, img))
		wantStatus(t, r, http.StatusOK)
		wantReplayed(t, r, true)

		// At 24 hours the record is ignored, even before it is removed:
		// another body with the key executes.
		env.clock.Set(t0.Add(facevault.IdempotencyTTL))
		r = env.idem(t, "/v1/livePhotos", env.KeyA, "day", photoBody(clientID, images().png))
		wantStatus(t, r, http.StatusOK)
		wantReplayed(t, r, false)
		if got := env.photoIDs(t, env.KeyA, clientID); len(got) != 2 {
			t.Errorf("photos = %v, want 2", got)
		}

		// The purge loop removes expired records.
		probe := func(key string, at time.Time) bool {
			held, err := env.store.BeginIdempotent(t.Context(), &facevault.IdempotentRequest{
				Scope: env.ScopeA, Key: key, Token: "probe", CreatedAt: at, LeaseUntil: at.Add(time.Minute),
			}, at.Add(-facevault.IdempotencyTTL))
			if err != nil {
				t.Fatalf("BeginIdempotent: %v", err)
			}
			if held == nil {
				if err := env.store.AbandonIdempotent(t.Context(), env.ScopeA, key, "probe"); err != nil {
					t.Fatal(err)
				}
			}
			return held != nil
		}
		env.clock.Set(t0)
		wantStatus(t, env.idem(t, "/v1/clients", env.KeyA, "old", map[string]any{"type": "person",
			"email": "a@example.com", "personDetails": map[string]any{"firstName": "A", "lastName": "B"}}), http.StatusOK)
		if !probe("old", t0) {
			t.Fatalf("the answer of key old is not stored")
		}
		env.clock.Set(t0.Add(facevault.IdempotencyTTL + time.Second))
		deadline := time.Now().Add(10 * time.Second)
		for probe("old", t0) {
			if time.Now().After(deadline) {
				t.Fatalf("the expired record of key old is still there")
			}
			time.Sleep(20 * time.Millisecond)
		}
	})
}

// TestIdempotencyLease: a record left in progress (its node died) holds the
// key until its lease passes; then a retry executes.
func TestIdempotencyLease(t *testing.T) {
	forEachBackend(t, func(t *testing.T, env *testEnv) {
		t0 := time.Now().UTC().Truncate(time.Millisecond)
		env.clock.Set(t0)
		clientID := env.newClientID(t, env.KeyA)
		lease := fvhttp.IdempotencyLease(fvhttp.Config{})
		if lease != 5*time.Minute+10*time.Second {
			t.Errorf("default lease = %v, want 5m10s", lease)
		}
		held, err := env.store.BeginIdempotent(t.Context(), &facevault.IdempotentRequest{
			Scope: env.ScopeA, Key: "crashed", Token: "dead-node", CreatedAt: t0, LeaseUntil: t0.Add(lease),
		}, t0.Add(-facevault.IdempotencyTTL))
		if err != nil || held != nil {
			t.Fatalf("BeginIdempotent = %v, %v", held, err)
		}
		body := photoBody(clientID, images().jpeg)
		env.clock.Set(t0.Add(lease - time.Millisecond))
		r := env.idem(t, "/v1/livePhotos", env.KeyA, "crashed", body)
		wantError(t, r, http.StatusConflict, "idempotency_key_in_use", "", "Idempotency-Key")
		if len(env.photoIDs(t, env.KeyA, clientID)) != 0 {
			t.Errorf("a request executed while the key was held")
		}
		env.clock.Set(t0.Add(lease))
		r = env.idem(t, "/v1/livePhotos", env.KeyA, "crashed", body)
		wantStatus(t, r, http.StatusOK)
		wantReplayed(t, r, false)
		r2 := env.idem(t, "/v1/livePhotos", env.KeyA, "crashed", body)
		wantStatus(t, r2, http.StatusOK)
		wantReplayed(t, r2, true)
		if got := env.photoIDs(t, env.KeyA, clientID); len(got) != 1 {
			t.Errorf("photos = %v, want 1", got)
		}
	})
}

// TestIdempotencyDeletedData: a stored answer does not outlive the data it
// shows: after the client's deletion, the same request executes again.
func TestIdempotencyDeletedData(t *testing.T) {
	forEachBackend(t, func(t *testing.T, env *testEnv) {
		body := map[string]any{"type": "person", "email": "jane@example.com",
			"personDetails": map[string]any{"firstName": "Jane", "lastName": "Doe"}}
		first := env.idem(t, "/v1/clients", env.KeyA, "client", body)
		wantStatus(t, first, http.StatusOK)
		id := str(t, first.JSON, "id")
		photo := env.idem(t, "/v1/livePhotos", env.KeyA, "photo", photoBody(id, images().jpeg))
		wantStatus(t, photo, http.StatusOK)
		wantStatus(t, env.do(t, "DELETE", "/v1/clients/"+id, env.KeyA, nil), http.StatusNoContent)

		again := env.idem(t, "/v1/clients", env.KeyA, "client", body)
		wantStatus(t, again, http.StatusOK)
		wantReplayed(t, again, false)
		if str(t, again.JSON, "id") == id {
			t.Errorf("the deleted client's answer was replayed")
		}
		r := env.idem(t, "/v1/livePhotos", env.KeyA, "photo", photoBody(id, images().jpeg))
		wantError(t, r, http.StatusNotFound, "resource_not_found", "Invalid client id '"+id+"'", "")
		wantReplayed(t, r, false)
	})
}

// TestIdempotencyClientGone: a caller that goes away before its answer
// leaves the key free: the retry executes.
func TestIdempotencyClientGone(t *testing.T) {
	forEachBackend(t, func(t *testing.T, env *testEnv) {
		clientID := env.newClientID(t, env.KeyA)
		full, err := json.Marshal(photoBody(clientID, images().jpeg))
		if err != nil {
			t.Fatal(err)
		}
		pr, pw := io.Pipe()
		ctx, cancel := context.WithCancel(t.Context())
		req, err := env.newRequest("POST", "/v1/livePhotos", env.KeyA, pr, fvhttp.IdempotencyKeyHeader, "gone")
		if err != nil {
			t.Fatal(err)
		}
		handled := env.logs.requests()
		done := make(chan struct{})
		go func() {
			defer close(done)
			if res, err := env.client.Do(req.WithContext(ctx)); err == nil {
				res.Body.Close()
				t.Errorf("a request cut short was answered %d", res.StatusCode)
			}
		}()
		if _, err := pw.Write(full[:len(full)/2]); err != nil {
			t.Fatal(err)
		}
		cancel()
		pw.CloseWithError(context.Canceled)
		<-done
		deadline := time.Now().Add(10 * time.Second)
		for env.logs.requests() == handled {
			if time.Now().After(deadline) {
				t.Fatal("the request cut short was never handled")
			}
			time.Sleep(time.Millisecond)
		}
		r := env.idem(t, "/v1/livePhotos", env.KeyA, "gone", full)
		wantStatus(t, r, http.StatusOK)
		wantReplayed(t, r, false)
		if got := env.photoIDs(t, env.KeyA, clientID); len(got) != 1 {
			t.Errorf("photos = %v, want 1", got)
		}
	})
}

// TestIdempotentRepeatBody: the body of a repeat is read before it is
// answered, with the guards of any body: too slow is 408, malformed
// chunking 400; neither touches the stored answer.
func TestIdempotentRepeatBody(t *testing.T) {
	cfg := fvhttp.Config{MinBodyRate: 1 << 10, BodyGrace: 300 * time.Millisecond}
	forEachBackendWith(t, envOptions{cfg: cfg}, func(t *testing.T, env *testEnv) {
		clientID := env.newClientID(t, env.KeyA)
		body := uploadJSON(clientID, images().jpeg)
		first := env.idem(t, "/v1/livePhotos", env.KeyA, "repeat", body)
		wantStatus(t, first, http.StatusOK)
		withKey := func(h []byte) []byte {
			return []byte(strings.Replace(string(h), "Content-Type:", fvhttp.IdempotencyKeyHeader+": repeat\r\nContent-Type:", 1))
		}

		// Headers, then nothing: 408 once the grace has passed.
		c := env.dial(t, "")
		c.mustWrite(t, withKey(head("POST", "/v1/livePhotos", env.KeyA, len(body))))
		c.mustWrite(t, body[:100])
		wantError(t, c.answer(t), http.StatusRequestTimeout, "request_timeout", "", "")

		// A malformed chunk.
		c = env.dial(t, "")
		c.mustWrite(t, withKey(head("POST", "/v1/livePhotos", env.KeyA, -1)))
		c.mustWrite(t, []byte("zz\r\n{}\r\n0\r\n\r\n"))
		wantError(t, c.answer(t), http.StatusBadRequest, "invalid_request",
			"The request body could not be read: its chunked encoding is malformed", "")

		// The same body, chunked: replayed.
		c = env.dial(t, "")
		c.mustWrite(t, withKey(head("POST", "/v1/livePhotos", env.KeyA, -1)))
		c.mustWrite(t, append(append(chunk(body[:1000]), chunk(body[1000:])...), "0\r\n\r\n"...))
		r := c.answer(t)
		wantStatus(t, r, http.StatusOK)
		wantReplayed(t, r, true)
		if string(r.Body) != string(first.Body) {
			t.Errorf("replayed %s, want %s", r.Body, first.Body)
		}
	})
}

// TestIdempotencyAcrossNodes sends one upload with one key to two nodes at
// once, two servers over the same stores: one executes.
func TestIdempotencyAcrossNodes(t *testing.T) {
	forEachBackend(t, func(t *testing.T, env *testEnv) {
		logger := slog.New(slog.DiscardHandler)
		vault := facevault.NewVault(env.store, env.blobs, logger)
		vault.Keys = env.storage.keys
		vault.Now = env.clock.Now
		node2 := httptest.NewServer(fvhttp.NewServer(vault, env.store, logger, fvhttp.Config{}))
		defer node2.Close()

		clientID := env.newClientID(t, env.KeyA)
		body, err := json.Marshal(photoBody(clientID, testimage.JPEGSize(1<<20, 32)))
		if err != nil {
			t.Fatal(err)
		}
		const n = 8
		var wg sync.WaitGroup
		answers := make([]*response, n)
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				req, err := env.newRequest("POST", "/v1/livePhotos", env.KeyA, body, fvhttp.IdempotencyKeyHeader, "nodes")
				if err != nil {
					t.Error(err)
					return
				}
				if i%2 == 1 {
					req.URL.Host = strings.TrimPrefix(node2.URL, "http://")
				}
				answers[i] = env.send(t, req)
			}()
		}
		wg.Wait()
		executed := 0
		for _, r := range answers {
			switch {
			case r == nil:
				t.FailNow()
			case r.Status == http.StatusOK && r.Header.Get(fvhttp.IdempotentReplayedHeader) == "":
				executed++
			case r.Status == http.StatusOK, r.Status == http.StatusConflict:
			default:
				t.Errorf("answer %d %s, want 200 or 409", r.Status, r.Body)
			}
		}
		if executed != 1 {
			t.Errorf("%d requests executed, want 1", executed)
		}
		if got := env.photoIDs(t, env.KeyA, clientID); len(got) != 1 {
			t.Errorf("photos = %v, want 1", got)
		}
		// Either node replays the answer.
		for _, u := range []string{env.URL, node2.URL} {
			req, err := env.newRequest("POST", "/v1/livePhotos", env.KeyA, body, fvhttp.IdempotencyKeyHeader, "nodes")
			if err != nil {
				t.Fatal(err)
			}
			req.URL.Host = strings.TrimPrefix(u, "http://")
			r := env.send(t, req)
			wantStatus(t, r, http.StatusOK)
			wantReplayed(t, r, true)
		}
	})
}
