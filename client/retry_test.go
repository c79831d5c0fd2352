package client_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/facevault/facevault/client"
)

// unavailable answers 503 as the service does, in its JSON shape.
func unavailable(w http.ResponseWriter) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Request-Id", "0123456789abcdef01234567")
	w.WriteHeader(http.StatusServiceUnavailable)
	io.WriteString(w, `{"type":"internal_server_error","message":"unavailable"}`)
}

// drop cuts the connection without an answer.
func drop(w http.ResponseWriter) {
	panic(http.ErrAbortHandler)
}

// keys returns the Idempotency-Key of each request.
func keys(rs []*http.Request) []string {
	var ks []string
	for _, r := range rs {
		ks = append(ks, r.Header.Get("Idempotency-Key"))
	}
	return ks
}

// sameKey checks that n requests were made, all with the same non-empty
// Idempotency-Key, and returns it.
func sameKey(t *testing.T, rs []*http.Request, n int) string {
	t.Helper()
	ks := keys(rs)
	if len(ks) != n {
		t.Fatalf("%d requests, want %d", len(ks), n)
	}
	for _, k := range ks {
		if k == "" || k != ks[0] {
			t.Fatalf("Idempotency-Key of each attempt: %q, want one key on all", ks)
		}
	}
	return ks[0]
}

// TestRetries: failed attempts (503, a dropped connection, 429, 409
// idempotency_key_in_use) are retried, a POST with the same Idempotency-Key
// on each attempt, and the call succeeds; other errors are not retried;
// the attempts are bounded.
func TestRetries(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	params := &client.ClientParams{Type: client.ClientPerson, Email: "j@example.com",
		PersonDetails: &client.PersonDetails{FirstName: "Jane", LastName: "Doe"}}

	for _, tc := range []struct {
		name string
		fail func(w http.ResponseWriter)
	}{
		{"503", unavailable},
		{"dropped connection", drop},
		{"429", func(w http.ResponseWriter) {
			w.Header().Set("Retry-After", "0")
			w.WriteHeader(http.StatusTooManyRequests)
			io.WriteString(w, `{"type":"rate_limit_exceeded","message":"slow down"}`)
		}},
		{"409 idempotency_key_in_use", func(w http.ResponseWriter) {
			w.WriteHeader(http.StatusConflict)
			io.WriteString(w, `{"type":"idempotency_key_in_use","message":"a request with this key is in progress"}`)
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := newProxy(t, e.URL, func(n int, w http.ResponseWriter, r *http.Request) bool {
				if n <= 2 {
					io.Copy(io.Discard, r.Body)
					tc.fail(w)
					return true
				}
				return false
			})
			c := e.client(t, p.srv.URL)
			got, err := c.CreateClient(ctx, params)
			if err != nil {
				t.Fatalf("CreateClient through 2 failures: %v", err)
			}
			if got.EntityName != "Jane Doe" {
				t.Errorf("created %+v", got)
			}
			sameKey(t, p.requests(), 3)
			for _, r := range p.requests() {
				if r.Method != "POST" || r.URL.Path != "/v1/clients" {
					t.Errorf("attempt %s %s", r.Method, r.URL.Path)
				}
			}
		})
	}

	t.Run("GET and DELETE", func(t *testing.T) {
		p := newProxy(t, e.URL, func(n int, w http.ResponseWriter, r *http.Request) bool {
			if n%2 == 1 {
				unavailable(w)
				return true
			}
			return false
		})
		c := e.client(t, p.srv.URL)
		jane := newPerson(t, c, "Jane")
		if _, err := c.GetClient(ctx, jane.ID); err != nil {
			t.Fatal(err)
		}
		if err := c.DeleteClient(ctx, jane.ID); err != nil {
			t.Fatal(err)
		}
		rs := p.requests()
		if len(rs) != 6 {
			t.Fatalf("%d requests, want 6", len(rs))
		}
		for _, r := range rs[2:] {
			if r.Header.Get("Idempotency-Key") != "" {
				t.Errorf("%s has an Idempotency-Key", r.Method)
			}
		}
	})

	t.Run("every POST has its own key, or the caller's", func(t *testing.T) {
		p := newProxy(t, e.URL, nil)
		c := e.client(t, p.srv.URL)
		newPerson(t, c, "A")
		newPerson(t, c, "B")
		if _, err := c.CreateClient(ctx, params, client.WithIdempotencyKey("caller-key-1")); err != nil {
			t.Fatal(err)
		}
		ks := keys(p.requests())
		if len(ks) != 3 || ks[0] == "" || ks[0] == ks[1] || ks[2] != "caller-key-1" {
			t.Errorf("keys %q: want two different generated keys, then the caller's", ks)
		}
	})

	t.Run("attempts bounded", func(t *testing.T) {
		p := newProxy(t, e.URL, func(n int, w http.ResponseWriter, r *http.Request) bool {
			unavailable(w)
			return true
		})
		c := e.client(t, p.srv.URL, client.WithRetries(2))
		_, err := c.CreateClient(ctx, params)
		wantError(t, err, 503, client.TypeInternalServerError, "")
		sameKey(t, p.requests(), 3)
	})

	t.Run("no retry of a client error", func(t *testing.T) {
		p := newProxy(t, e.URL, nil)
		c := e.client(t, p.srv.URL)
		_, err := c.CreateClient(ctx, &client.ClientParams{Type: client.ClientPerson})
		wantError(t, err, 400, client.TypeInvalidRequest, "email")
		if n := len(p.requests()); n != 1 {
			t.Errorf("%d attempts, want 1", n)
		}
	})

	t.Run("Retry-After", func(t *testing.T) {
		p := newProxy(t, e.URL, func(n int, w http.ResponseWriter, r *http.Request) bool {
			if n == 1 {
				w.Header().Set("Retry-After", "1")
				w.WriteHeader(http.StatusTooManyRequests)
				return true
			}
			return false
		})
		c := e.client(t, p.srv.URL)
		start := time.Now()
		if _, err := c.GetRetention(ctx); err != nil {
			t.Fatal(err)
		}
		if d := time.Since(start); d < 900*time.Millisecond {
			t.Errorf("retried after %v: Retry-After: 1 not honoured", d)
		}
	})
}

// TestBackoff: the waits double from the minimum to the maximum, each
// passed through the jitter.
func TestBackoff(t *testing.T) {
	var waits []time.Duration
	var calls atomic.Int32
	srv := newProxy(t, "http://127.0.0.1:1", func(n int, w http.ResponseWriter, r *http.Request) bool {
		calls.Add(1)
		unavailable(w)
		return true
	})
	c, err := client.New(srv.srv.URL, "k", client.WithRetries(5), client.WithBackoff(time.Millisecond, 5*time.Millisecond),
		client.WithJitter(func(d time.Duration) time.Duration { waits = append(waits, d); return 0 }))
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.GetRetention(context.Background())
	wantError(t, err, 503, client.TypeInternalServerError, "")
	want := []time.Duration{1, 2, 4, 5, 5}
	for i := range want {
		want[i] *= time.Millisecond
	}
	if len(waits) != len(want) || calls.Load() != 6 {
		t.Fatalf("waits %v over %d calls, want %v over 6", waits, calls.Load(), want)
	}
	for i := range want {
		if waits[i] != want[i] {
			t.Errorf("waits %v, want %v", waits, want)
			break
		}
	}
}

// TestUploadRetry: an upload whose connection is cut after part of the body
// was sent is retried, with the same key, when its reader can be rewound;
// when it cannot, the failure is returned and nothing is sent again.
func TestUploadRetry(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	img := jpegOf(100 << 10)
	cutFirst := func(n int, w http.ResponseWriter, r *http.Request) bool {
		if n == 1 {
			io.CopyN(io.Discard, r.Body, 10<<10) // part of the body arrives
			drop(w)
		}
		return false
	}

	jane := newPerson(t, e.client(t, ""), "Jane")
	p := newProxy(t, e.URL, cutFirst)
	c := e.client(t, p.srv.URL)
	photo, err := c.UploadLivePhoto(ctx, &client.UploadParams{ClientID: jane.ID, Image: bytes.NewReader(img), PerformLivenessCheck: client.Bool(false)})
	if err != nil {
		t.Fatalf("upload of a rewindable reader through a cut: %v", err)
	}
	if photo.Size != int64(len(img)) {
		t.Errorf("size %d, want %d", photo.Size, len(img))
	}
	sameKey(t, p.requests(), 2)
	var buf bytes.Buffer
	if _, err := c.DownloadLivePhoto(ctx, photo.ID, &buf); err != nil || !bytes.Equal(buf.Bytes(), img) {
		t.Errorf("download of the retried upload: %v, %d bytes equal: %v", err, buf.Len(), bytes.Equal(buf.Bytes(), img))
	}

	// A reader that is not an io.Seeker.
	p = newProxy(t, e.URL, cutFirst)
	c = e.client(t, p.srv.URL)
	_, err = c.UploadLivePhoto(ctx, &client.UploadParams{ClientID: jane.ID, Image: io.MultiReader(bytes.NewReader(img)), PerformLivenessCheck: client.Bool(false)})
	var nr *client.NotRetriedError
	if !errors.As(err, &nr) || !errors.Is(err, client.ErrNotRetried) {
		t.Fatalf("upload of a one-shot reader through a cut: %v (%T), want a *NotRetriedError", err, err)
	}
	var ne *client.NetworkError
	if !errors.As(err, &ne) {
		t.Errorf("the NotRetriedError wraps %v, want the *NetworkError", nr.Err)
	}
	if n := len(p.requests()); n != 1 {
		t.Errorf("%d attempts, want 1", n)
	}
	page, err := c.ListLivePhotos(ctx, &client.LivePhotoFilter{ClientID: jane.ID})
	if err != nil || page.TotalItems != 1 {
		t.Errorf("photos after the failed upload: %+v, %v; want only the first", page, err)
	}

	// Not retried once read, whatever the failure: a 503 after the body.
	p = newProxy(t, e.URL, func(n int, w http.ResponseWriter, r *http.Request) bool {
		io.Copy(io.Discard, r.Body)
		unavailable(w)
		return true
	})
	c = e.client(t, p.srv.URL)
	_, err = c.UploadLivePhoto(ctx, &client.UploadParams{ClientID: jane.ID, Image: io.MultiReader(bytes.NewReader(img))})
	if !errors.Is(err, client.ErrNotRetried) {
		t.Fatalf("err %v, want ErrNotRetried", err)
	}
	wantError(t, err, 503, client.TypeInternalServerError, "")
	if n := len(p.requests()); n != 1 {
		t.Errorf("%d attempts, want 1", n)
	}
}

// TestUploadTooLarge: an image over 4 MB is refused by the client, before
// anything is sent when the reader is an io.Seeker.
func TestUploadTooLarge(t *testing.T) {
	e := newEnv(t)
	p := newProxy(t, e.URL, nil)
	c := e.client(t, p.srv.URL)
	jane := newPerson(t, c, "Jane")
	big := make([]byte, client.MaxImageSize+1)
	_, err := c.UploadLivePhoto(context.Background(), &client.UploadParams{ClientID: jane.ID, Image: bytes.NewReader(big)})
	if !errors.Is(err, client.ErrImageTooLarge) {
		t.Fatalf("err %v, want ErrImageTooLarge", err)
	}
	if n := len(p.requests()); n != 1 {
		t.Errorf("%d requests, want only the create: nothing sent of the upload", n)
	}
	// A JPEG, so that the service reads on rather than refuse it at once.
	_, err = c.UploadLivePhoto(context.Background(), &client.UploadParams{ClientID: jane.ID, Image: io.MultiReader(bytes.NewReader(jpegOf(client.MaxImageSize + 1)))})
	if !errors.Is(err, client.ErrImageTooLarge) {
		t.Fatalf("streamed: err %v, want ErrImageTooLarge", err)
	}
	_, err = c.CreateClient(context.Background(), &client.ClientParams{Type: "person", Email: strings.Repeat("x", client.MaxJSONBody)})
	if err == nil || client.IsInvalid(err) {
		t.Errorf("a JSON body over the limit: %v, want a local error", err)
	}
}

// TestContext: a cancelled context stops a request in flight and the waits
// between retries.
func TestContext(t *testing.T) {
	e := newEnv(t)
	hang := newProxy(t, e.URL, func(n int, w http.ResponseWriter, r *http.Request) bool {
		<-r.Context().Done()
		return true
	})
	c := e.client(t, hang.srv.URL)
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	if _, err := c.GetRetention(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("a request in flight: %v, want DeadlineExceeded", err)
	}

	slow := newProxy(t, e.URL, func(n int, w http.ResponseWriter, r *http.Request) bool {
		w.Header().Set("Retry-After", "3600")
		unavailable(w)
		return true
	})
	c = e.client(t, slow.srv.URL)
	ctx, cancel = context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	done := make(chan error)
	go func() { _, err := c.GetRetention(ctx); done <- err }()
	select {
	case err := <-done:
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("waiting to retry: %v, want DeadlineExceeded", err)
		}
		var ae *client.Error
		if !errors.As(err, &ae) || ae.StatusCode != 503 {
			t.Errorf("%v: want the last attempt's 503 too", err)
		}
	case <-time.After(time.Minute):
		t.Fatal("the wait for Retry-After outlived the context")
	}
	if n := len(slow.requests()); n != 1 {
		t.Errorf("%d attempts, want 1", n)
	}

	// An upload cancelled as it is sent.
	jane := newPerson(t, e.client(t, ""), "Jane")
	ctx, cancel = context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	defer pw.Close()
	go func() {
		pw.Write(jpegOf(40 << 10)[:20<<10])
		cancel()
	}()
	_, err := e.client(t, "").UploadLivePhoto(ctx, &client.UploadParams{ClientID: jane.ID, Image: pr})
	if !errors.Is(err, context.Canceled) {
		t.Errorf("upload cancelled: %v, want Canceled", err)
	}
}

// discard is a ResponseWriter that keeps nothing: the answer the proxy
// loses.
type discard struct{ h http.Header }

func (d *discard) Header() http.Header         { return d.h }
func (d *discard) Write(p []byte) (int, error) { return len(p), nil }
func (d *discard) WriteHeader(int)             {}

// TestUploadRetryAfterLostAnswer: the first attempt reaches the service,
// which stores the photo, but its answer is lost; the client's retry, with
// the same Idempotency-Key, gets the first attempt's answer replayed: the
// same photo, stored once.
func TestUploadRetryAfterLostAnswer(t *testing.T) {
	for _, b := range backends {
		t.Run(b.Name, func(t *testing.T) {
			e := newEnvOn(t, b)
			ctx := context.Background()
			img := jpegOf(100 << 10)
			jane := newPerson(t, e.client(t, ""), "Jane")
			target, err := url.Parse(e.URL)
			if err != nil {
				t.Fatal(err)
			}
			rp := httputil.NewSingleHostReverseProxy(target)
			p := newProxy(t, e.URL, func(n int, w http.ResponseWriter, r *http.Request) bool {
				if n != 1 {
					return false
				}
				rp.ServeHTTP(&discard{h: http.Header{}}, r) // the service answers; nobody hears it
				drop(w)
				return true
			})
			c := e.client(t, p.srv.URL)
			photo, err := c.UploadLivePhoto(ctx, &client.UploadParams{ClientID: jane.ID, Image: bytes.NewReader(img), PerformLivenessCheck: client.Bool(false)})
			if err != nil {
				t.Fatalf("upload whose first answer was lost: %v", err)
			}
			sameKey(t, p.requests(), 2)
			page, err := c.ListLivePhotos(ctx, &client.LivePhotoFilter{ClientID: jane.ID})
			if err != nil || page.TotalItems != 1 || page.Items[0].ID != photo.ID {
				t.Fatalf("photos after the retried upload: %+v, %v; want one, %s", page, err, photo.ID)
			}
		})
	}
}
