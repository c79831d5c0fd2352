package http_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/facevault/facevault"
	fvhttp "github.com/facevault/facevault/http"
)

// TestSlowUploadsDoNotDelayOthers is issue 7's finding 4: account A runs 16
// uploads whose bodies trickle in just above the minimum rate (as many as
// there are processing slots); while all 16 are still arriving, 16 uploads
// of account B all answer 200. Then A's finish, and are all stored.
func TestSlowUploadsDoNotDelayOthers(t *testing.T) {
	// 1 KiB/s at least after 2s; A sends 256 bytes every 200ms (1.25 KiB/s).
	cfg := fvhttp.Config{MinBodyRate: 1 << 10, BodyGrace: 2 * time.Second}
	forEachBackendWith(t, envOptions{cfg: cfg}, func(t *testing.T, env *testEnv) {
		const slow = 16 // the default --max-uploads and --max-uploads-per-account
		clientA := env.newClientID(t, env.KeyA)
		clientB := env.newClientID(t, env.KeyB)
		bodyA := uploadJSON(clientA, images().jpeg)

		stop := make(chan struct{})
		conns := make([]*rawConn, slow)
		sent := make([]<-chan error, slow)
		for i := range conns {
			conns[i] = env.dial(t, "")
			conns[i].mustWrite(t, head("POST", "/v1/livePhotos", env.KeyA, len(bodyA)))
			sent[i] = conns[i].trickle(bodyA, 256, 200*time.Millisecond, stop)
		}
		waitUntil(t, "A's 16 uploads to be receiving (16 temporary objects)", func() bool {
			return len(env.tempObjects(t)) == slow
		})

		var wg sync.WaitGroup
		results := make([]*response, 16)
		errs := make([]error, 16)
		for i := range results {
			wg.Go(func() {
				results[i], errs[i] = env.tryDo("POST", "/v1/livePhotos", env.KeyB,
					map[string]any{"clientId": clientB, "data": b64(images().png)})
			})
		}
		wg.Wait()
		for i, r := range results {
			if errs[i] != nil {
				t.Fatalf("B's upload %d: %v", i, errs[i])
			}
			wantStatus(t, r, http.StatusOK)
		}
		// All of A's are still arriving: none answered, 16 temporaries.
		for i, c := range conns {
			if c.hasAnswered() {
				t.Fatalf("A's slow upload %d was answered before B's finished", i)
			}
		}
		if tmp := env.tempObjects(t); len(tmp) != slow {
			t.Fatalf("after B's uploads: %d temporary objects, want A's %d still arriving: %v", len(tmp), slow, tmp)
		}

		close(stop)
		for i, c := range conns {
			if err := <-sent[i]; err != nil {
				t.Fatalf("send the rest of A's upload %d: %v", i, err)
			}
			wantStatus(t, c.answer(t), http.StatusOK)
		}
		if ids := env.photoIDs(t, env.KeyA, clientA); len(ids) != slow {
			t.Errorf("A has %d photos, want %d", len(ids), slow)
		}
		if ids := env.photoIDs(t, env.KeyB, clientB); len(ids) != len(results) {
			t.Errorf("B has %d photos, want %d", len(ids), len(results))
		}
		if tmp := env.tempObjects(t); len(tmp) != 0 {
			t.Errorf("temporary objects left: %v", tmp)
		}
	})
}

// TestSlowBodyCutOff sends part of a body and then nothing: once it falls
// behind the minimum rate, the server answers 408 request_timeout, logs it
// at info level, closes the connection and keeps nothing of the request.
func TestSlowBodyCutOff(t *testing.T) {
	cfg := fvhttp.Config{MinBodyRate: 1 << 10, BodyGrace: 300 * time.Millisecond}
	forEachBackendWith(t, envOptions{cfg: cfg}, func(t *testing.T, env *testEnv) {
		clientID := env.newClientID(t, env.KeyA)
		upload := uploadJSON(clientID, images().jpeg)
		person := []byte(`{"type":"person","email":"loris@example.com","personDetails":{"firstName":"Slow","lastName":"Loris"}}`)
		update := []byte(`{"email":"stalled@example.com"}`)
		for _, tc := range []struct {
			name, path string
			body       []byte
			chunked    bool
		}{
			{"Upload", "/v1/livePhotos", upload, false},
			{"UploadChunked", "/v1/livePhotos", upload, true},
			{"CreateClient", "/v1/clients", person, false},
			{"CreateClientChunked", "/v1/clients", person, true},
			{"UpdateClient", "/v1/clients/" + clientID, update, false},
		} {
			t.Run(tc.name, func(t *testing.T) {
				c := env.dial(t, "")
				part := tc.body[:20]
				if tc.chunked {
					c.mustWrite(t, head("POST", tc.path, env.KeyA, -1))
					c.mustWrite(t, chunk(part))
				} else {
					c.mustWrite(t, head("POST", tc.path, env.KeyA, len(tc.body)))
					c.mustWrite(t, part)
				}
				r := c.answer(t)
				wantError(t, r, http.StatusRequestTimeout, "request_timeout", "", "")
				if msg, _ := r.JSON["message"].(string); !strings.HasPrefix(msg, "The request body arrived too slowly: 20 bytes in ") {
					t.Errorf("message %q does not say the body arrived too slowly", msg)
				}
				if !r.Close {
					t.Errorf("the answer lacks Connection: close")
				}
				c.wantClosed(t)
				if tmp := env.tempObjects(t); len(tmp) != 0 {
					t.Errorf("temporary objects left: %v", tmp)
				}
				wantLogged(t, env, slog.LevelInfo, "request", "path", tc.path, "status", "408")
				wantLogged(t, env, slog.LevelInfo, "request body too slow", "path", tc.path)
			})
		}
		if ids := env.photoIDs(t, env.KeyA, clientID); len(ids) != 0 {
			t.Errorf("photos after cut-off uploads: %v", ids)
		}
		if _, ids := env.list(t, env.KeyA, "/v1/clients"); len(ids) != 1 {
			t.Errorf("%d clients after cut-off creates, want 1", len(ids))
		}
		if c := env.do(t, "GET", "/v1/clients/"+clientID, env.KeyA, nil); c.JSON["email"] == "stalled@example.com" {
			t.Errorf("a cut-off update was applied")
		}
	})
}

// TestBodyTimeout: with no minimum rate, a body still has to arrive within
// the body timeout.
func TestBodyTimeout(t *testing.T) {
	cfg := fvhttp.Config{MinBodyRate: -1, BodyTimeout: 500 * time.Millisecond}
	forEachBackendWith(t, envOptions{cfg: cfg}, func(t *testing.T, env *testEnv) {
		clientID := env.newClientID(t, env.KeyA)
		body := uploadJSON(clientID, images().jpeg)
		c := env.dial(t, "")
		c.mustWrite(t, head("POST", "/v1/livePhotos", env.KeyA, len(body)))
		c.mustWrite(t, body[:len(body)/2])
		r := c.answer(t)
		wantError(t, r, http.StatusRequestTimeout, "request_timeout", "", "")
		if msg, _ := r.JSON["message"].(string); !strings.HasPrefix(msg, "The request body did not arrive within 500ms: ") {
			t.Errorf("message %q does not name the body timeout", msg)
		}
		c.wantClosed(t)
		if tmp := env.tempObjects(t); len(tmp) != 0 {
			t.Errorf("temporary objects left: %v", tmp)
		}
		// A body that arrives in time is not affected.
		env.upload(t, env.KeyA, clientID, images().jpeg)
	})
}

// wantLogged checks that the server logged a record of the level with the
// message and attributes.
func wantLogged(t testing.TB, env *testEnv, level slog.Level, msg string, attrs ...string) {
	t.Helper()
	recs := env.logs.find(msg, attrs...)
	if len(recs) == 0 {
		t.Errorf("no %q log record with %v", msg, attrs)
	}
	for _, r := range recs {
		if r.level != level {
			t.Errorf("%q log record %v at level %v, want %v", msg, r.attrs, r.level, level)
		}
	}
}

// TestUploadsInFlightBounded: an account with as many uploads arriving as
// allowed gets 429 at once for one more, its body unread, while other
// accounts carry on; the node's bound holds across accounts.
func TestUploadsInFlightBounded(t *testing.T) {
	cfg := fvhttp.Config{MaxUploadsPerAccount: 2, MaxUploadsInFlight: 3}
	forEachBackendWith(t, envOptions{cfg: cfg}, func(t *testing.T, env *testEnv) {
		clientA := env.newClientID(t, env.KeyA)
		clientB := env.newClientID(t, env.KeyB)
		bodyA, bodyB := uploadJSON(clientA, images().jpeg), uploadJSON(clientB, images().jpeg)
		// start sends the first half of an upload's body.
		start := func(key string, body []byte) *rawConn {
			c := env.dial(t, "")
			c.mustWrite(t, head("POST", "/v1/livePhotos", key, len(body)))
			c.mustWrite(t, body[:len(body)/2])
			return c
		}
		finish := func(c *rawConn, body []byte) {
			t.Helper()
			c.mustWrite(t, body[len(body)/2:])
			wantStatus(t, c.answer(t), http.StatusOK)
		}
		// refused sends an upload's headers and no body: the answer comes
		// all the same.
		refused := func(key, message string) {
			t.Helper()
			c := env.dial(t, "")
			c.mustWrite(t, head("POST", "/v1/livePhotos", key, len(bodyA)))
			r := c.answer(t)
			wantError(t, r, http.StatusTooManyRequests, "rate_limit_exceeded", message, "")
			if got := r.Header.Get("Retry-After"); got != "1" {
				t.Errorf("Retry-After = %q, want 1", got)
			}
			if !r.Close {
				t.Errorf("the answer lacks Connection: close: the unread body is not wanted")
			}
			c.wantClosed(t)
		}

		a1, a2 := start(env.KeyA, bodyA), start(env.KeyA, bodyA)
		waitUntil(t, "A's 2 uploads to be receiving", func() bool { return len(env.tempObjects(t)) == 2 })
		refused(env.KeyA, "Too many uploads in progress for this account (2 at once); retry when one has finished")
		env.upload(t, env.KeyB, clientB, images().png)

		b1 := start(env.KeyB, bodyB)
		waitUntil(t, "B's upload to be receiving", func() bool { return len(env.tempObjects(t)) == 3 })
		// A's live mode is another scope, but the node is full.
		refused(env.KeyALive, "Too many uploads in progress; retry shortly")

		finish(a1, bodyA)
		finish(a2, bodyA)
		finish(b1, bodyB)
		env.upload(t, env.KeyA, clientA, images().png)
		if ids := env.photoIDs(t, env.KeyA, clientA); len(ids) != 3 {
			t.Errorf("A has %d photos, want 3", len(ids))
		}
		if tmp := env.tempObjects(t); len(tmp) != 0 {
			t.Errorf("temporary objects left: %v", tmp)
		}
	})
}

// gateAnalyzer is a liveness check that holds each upload in its
// processing slot until the test lets it go. It reports the size of each
// image it receives, so the test can tell whose upload got a slot.
type gateAnalyzer struct {
	entered chan int64
	proceed chan struct{}
}

func newGate() *gateAnalyzer {
	return &gateAnalyzer{entered: make(chan int64, 100), proceed: make(chan struct{})}
}

func (g *gateAnalyzer) Analyze(ctx context.Context, img io.Reader) (*facevault.LivenessCheck, error) {
	n, err := io.Copy(io.Discard, img)
	if err != nil {
		return nil, err
	}
	g.entered <- n
	select {
	case <-g.proceed:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	return &facevault.LivenessCheck{Outcome: "clear", Engine: "gate", Breakdown: facevault.LivenessBreakdown{
		IntegrityAnalysis: facevault.IntegrityAnalysis{FaceDetection: "clear",
			Breakdown: facevault.IntegrityBreakdown{FaceCount: 1, ImageReadable: true}}}}, nil
}

// next returns the size of the next image to get a slot.
func (g *gateAnalyzer) next(t testing.TB) int64 {
	t.Helper()
	select {
	case n := <-g.entered:
		return n
	case <-time.After(10 * time.Second):
		t.Fatalf("no upload got a processing slot within 10s")
	}
	return 0
}

// TestUploadSlotsFair holds both processing slots with A's uploads, queues
// two more of A's and then one of B's: the first slot freed goes to B, the
// account holding none, although A's waited longer. A client that gives
// up while waiting is logged 499 and keeps no slot.
func TestUploadSlotsFair(t *testing.T) {
	cfg := fvhttp.Config{MaxUploads: 2, MaxUploadsPerAccount: 8, UploadQueueTimeout: time.Minute}
	forEachBackendWith(t, envOptions{cfg: cfg}, func(t *testing.T, env *testEnv) {
		gate := newGate()
		env.vault.Analyzer = gate
		clientA := env.newClientID(t, env.KeyA)
		clientB := env.newClientID(t, env.KeyB)
		imgA, imgB := images().jpeg, images().png // told apart by size
		sizeA, sizeB := int64(len(imgA)), int64(len(imgB))

		var wg sync.WaitGroup
		var failures atomic.Int64
		upload := func(key, clientID string, img []byte) {
			wg.Go(func() {
				r, err := env.tryDo("POST", "/v1/livePhotos", key, map[string]any{"clientId": clientID, "data": b64(img)})
				if err != nil || r.Status != http.StatusOK {
					failures.Add(1)
					t.Errorf("upload: %v %v", err, r)
				}
			})
		}
		upload(env.KeyA, clientA, imgA)
		upload(env.KeyA, clientA, imgA)
		gate.next(t)
		gate.next(t)
		for i := range 2 {
			upload(env.KeyA, clientA, imgA)
			waitUntil(t, "A's upload to wait", func() bool { return env.api.UploadsWaiting() == i+1 })
		}
		upload(env.KeyB, clientB, imgB)
		waitUntil(t, "B's upload to wait", func() bool { return env.api.UploadsWaiting() == 3 })

		// One more of B's gives up while waiting.
		body := uploadJSON(clientB, imgB)
		c := env.dial(t, "")
		c.mustWrite(t, head("POST", "/v1/livePhotos", env.KeyB, len(body)))
		c.mustWrite(t, body)
		waitUntil(t, "B's second upload to wait", func() bool { return env.api.UploadsWaiting() == 4 })
		c.conn.Close()
		waitUntil(t, "B's abandoned upload to leave the queue", func() bool { return env.api.UploadsWaiting() == 3 })
		waitUntil(t, "the abandoned upload's log line", func() bool {
			return len(env.logs.find("request", "path", "/v1/livePhotos", "status", "499")) == 1
		})

		gate.proceed <- struct{}{} // one of A's two finishes
		if got := gate.next(t); got != sizeB {
			t.Fatalf("the freed slot went to an upload of %d bytes, want B's (%d bytes); A's are %d", got, sizeB, sizeA)
		}
		close(gate.proceed)
		for range 2 {
			if got := gate.next(t); got != sizeA {
				t.Errorf("then a slot went to an upload of %d bytes, want A's (%d)", got, sizeA)
			}
		}
		wg.Wait()
		if failures.Load() > 0 {
			t.FailNow()
		}
		if ids := env.photoIDs(t, env.KeyA, clientA); len(ids) != 4 {
			t.Errorf("A has %d photos, want 4", len(ids))
		}
		if ids := env.photoIDs(t, env.KeyB, clientB); len(ids) != 1 {
			t.Errorf("B has %d photos, want 1 (the abandoned one is not stored)", len(ids))
		}
		if tmp := env.tempObjects(t); len(tmp) != 0 {
			t.Errorf("temporary objects left: %v", tmp)
		}
		if errs := env.logs.atLeast(slog.LevelError); len(errs) != 0 {
			t.Errorf("error records logged: %v", errs)
		}
	})
}

// TestUploadQueueTimeout: an upload whose body has arrived but finds no
// processing slot within the queue timeout gets 429 with Retry-After, and
// leaves nothing behind.
func TestUploadQueueTimeout(t *testing.T) {
	cfg := fvhttp.Config{MaxUploads: 1, UploadQueueTimeout: 200 * time.Millisecond}
	forEachBackendWith(t, envOptions{cfg: cfg}, func(t *testing.T, env *testEnv) {
		gate := newGate()
		env.vault.Analyzer = gate
		clientA := env.newClientID(t, env.KeyA)
		clientB := env.newClientID(t, env.KeyB)
		done := make(chan error, 1)
		go func() {
			r, err := env.tryDo("POST", "/v1/livePhotos", env.KeyA, map[string]any{"clientId": clientA, "data": b64(images().jpeg)})
			if err == nil && r.Status != http.StatusOK {
				err = io.ErrUnexpectedEOF
			}
			done <- err
		}()
		gate.next(t)
		r := env.do(t, "POST", "/v1/livePhotos", env.KeyB, map[string]any{"clientId": clientB, "data": b64(images().png)})
		wantError(t, r, http.StatusTooManyRequests, "rate_limit_exceeded", "Too many uploads in progress; retry shortly", "")
		if got := r.Header.Get("Retry-After"); got != "1" {
			t.Errorf("Retry-After = %q, want 1", got)
		}
		if tmp := env.tempObjects(t); len(tmp) != 1 {
			t.Errorf("temporary objects while A's upload is processed: %v, want A's only", tmp)
		}
		close(gate.proceed)
		if err := <-done; err != nil {
			t.Fatalf("A's upload: %v", err)
		}
		env.upload(t, env.KeyB, clientB, images().png)
		if ids := env.photoIDs(t, env.KeyB, clientB); len(ids) != 1 {
			t.Errorf("B has %d photos, want 1", len(ids))
		}
		if tmp := env.tempObjects(t); len(tmp) != 0 {
			t.Errorf("temporary objects left: %v", tmp)
		}
	})
}

// stallingStore holds the next client list, once armed, until the
// request's context ends, then runs it on the real store with the ended
// context: the list is in progress when the client goes away.
type stallingStore struct {
	facevault.Store
	armed   atomic.Bool
	entered chan struct{}
}

func (s *stallingStore) Clients(ctx context.Context, sc facevault.Scope, f facevault.ClientFilter) ([]*facevault.Client, int, error) {
	if s.armed.CompareAndSwap(true, false) {
		s.entered <- struct{}{}
		<-ctx.Done()
	}
	return s.Store.Clients(ctx, sc, f)
}

// TestClientGone: clients that go away mid-upload (closing or resetting
// the connection) and mid-list are logged with status 499 at info level,
// never as an error, and leave nothing behind.
func TestClientGone(t *testing.T) {
	var stall *stallingStore
	opts := envOptions{store: func(s facevault.Store) facevault.Store {
		stall = &stallingStore{Store: s, entered: make(chan struct{}, 1)}
		return stall
	}}
	forEachBackendWith(t, opts, func(t *testing.T, env *testEnv) {
		clientID := env.newClientID(t, env.KeyA)
		body := uploadJSON(clientID, images().jpeg)
		for i, tc := range []struct {
			name    string
			chunked bool
			reset   bool
		}{
			{"UploadClosed", false, false},
			{"UploadReset", false, true},
			{"UploadChunkedClosed", true, false},
		} {
			t.Run(tc.name, func(t *testing.T) {
				c := env.dial(t, "")
				if tc.chunked {
					c.mustWrite(t, head("POST", "/v1/livePhotos", env.KeyA, -1))
					c.mustWrite(t, chunk(body[:len(body)/2]))
				} else {
					c.mustWrite(t, head("POST", "/v1/livePhotos", env.KeyA, len(body)))
					c.mustWrite(t, body[:len(body)/2])
				}
				waitUntil(t, "the upload to be receiving", func() bool { return len(env.tempObjects(t)) == 1 })
				if tc.reset {
					c.reset()
				} else {
					c.conn.Close()
				}
				waitUntil(t, "the 499 log line", func() bool {
					return len(env.logs.find("request", "path", "/v1/livePhotos", "status", "499")) == i+1
				})
				wantLogged(t, env, slog.LevelInfo, "request", "path", "/v1/livePhotos", "status", "499")
				if tmp := env.tempObjects(t); len(tmp) != 0 {
					t.Errorf("temporary objects left: %v", tmp)
				}
			})
		}
		t.Run("List", func(t *testing.T) {
			stall.armed.Store(true)
			c := env.dial(t, "")
			c.mustWrite(t, []byte("GET /v1/clients?pageSize=7 HTTP/1.1\r\nHost: facevault.test\r\nAuthorization: "+env.KeyA+"\r\n\r\n"))
			select {
			case <-stall.entered:
			case <-time.After(10 * time.Second):
				t.Fatal("the list did not reach the store within 10s")
			}
			c.conn.Close()
			waitUntil(t, "the 499 log line", func() bool {
				return len(env.logs.find("request", "path", "/v1/clients", "status", "499")) == 1
			})
			wantLogged(t, env, slog.LevelInfo, "request", "path", "/v1/clients", "status", "499")
		})
		if errs := env.logs.atLeast(slog.LevelWarn); len(errs) != 0 {
			t.Errorf("warning or error records logged: %v", errs)
		}
		if ids := env.photoIDs(t, env.KeyA, clientID); len(ids) != 0 {
			t.Errorf("photos after abandoned uploads: %v", ids)
		}
	})
}
