// Package http serves FaceVault's ComplyCube-compatible API (CONTRACT.md)
// over net/http: routing with the standard ServeMux, authentication, JSON
// errors, and the wire shapes of clients, live photos and lists.
package http

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"mime"
	"net/http"
	"path"
	"strings"
	"time"

	"github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"

	"github.com/facevault/facevault"
)

// Config tunes a Server. The zero value of a field means its default.
type Config struct {
	// MaxUploads bounds the uploads processed at once (default 16). Each
	// holds a file descriptor, a temporary file and a few buffers.
	MaxUploads int
	// UploadQueueTimeout is how long an upload waits for a slot before it
	// is answered 429 (default 10s).
	UploadQueueTimeout time.Duration
	// RateLimit, if positive, is the number of requests per second allowed
	// to each (account, mode); RateBurst is the bucket size (default
	// RateLimit). Excess requests get 429 with Retry-After.
	RateLimit float64
	RateBurst int
}

// Body bounds. The largest legal upload is 4 MiB of image: 5.6 MB of base64,
// plus line breaks escaped in JSON and a few small fields. Anything larger
// than MaxUploadBody cannot be legal and is refused with 413 before or
// while it is read.
const (
	MaxUploadBody = 8 << 20
	MaxJSONBody   = 1 << 20
)

// Server is the API's HTTP handler.
type Server struct {
	vault   *facevault.Vault
	keys    facevault.KeyStore
	logger  *slog.Logger
	mux     *http.ServeMux
	uploads chan struct{}
	queue   time.Duration
	limiter *limiter
}

// NewServer returns the API handler over a vault and the key store that
// authenticates its callers.
func NewServer(v *facevault.Vault, keys facevault.KeyStore, logger *slog.Logger, cfg Config) *Server {
	if cfg.MaxUploads <= 0 {
		cfg.MaxUploads = 16
	}
	if cfg.UploadQueueTimeout <= 0 {
		cfg.UploadQueueTimeout = 10 * time.Second
	}
	s := &Server{
		vault:   v,
		keys:    keys,
		logger:  logger,
		mux:     http.NewServeMux(),
		uploads: make(chan struct{}, cfg.MaxUploads),
		queue:   cfg.UploadQueueTimeout,
	}
	if cfg.RateLimit > 0 {
		s.limiter = newLimiter(cfg.RateLimit, cfg.RateBurst)
	}
	s.routes()
	return s
}

func (s *Server) routes() {
	// Collections answer with and without a trailing slash: the Node SDK
	// sends the slash.
	collection := func(method, path string, h handlerFunc) {
		s.mux.Handle(method+" "+path, s.authed(h))
		s.mux.Handle(method+" "+path+"/{$}", s.authed(h))
	}
	collection("POST", "/v1/clients", s.createClient)
	collection("GET", "/v1/clients", s.listClients)
	s.mux.Handle("GET /v1/clients/{id}", s.authed(s.getClient))
	s.mux.Handle("POST /v1/clients/{id}", s.authed(s.updateClient))
	s.mux.Handle("DELETE /v1/clients/{id}", s.authed(s.deleteClient))

	collection("POST", "/v1/livePhotos", s.uploadLivePhoto)
	collection("GET", "/v1/livePhotos", s.listLivePhotos)
	s.mux.Handle("GET /v1/livePhotos/{id}", s.authed(s.getLivePhoto))
	s.mux.Handle("DELETE /v1/livePhotos/{id}", s.authed(s.deleteLivePhoto))
	s.mux.Handle("GET /v1/livePhotos/{id}/download", s.authed(s.downloadLivePhoto))
	s.mux.Handle("POST /v1/livePhotos/{id}/redact", s.authed(s.redactLivePhoto))
}

// ServeHTTP routes the request. Requests that match no route get the
// contract's JSON 404, and known paths with the wrong method a JSON 405 with
// an Allow header. Unclean paths (with "..", "//") are not redirected: they
// name no resource and are answered 404.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	defer func() {
		if v := recover(); v != nil {
			if v == http.ErrAbortHandler {
				panic(v)
			}
			s.logger.ErrorContext(r.Context(), "panic", "method", r.Method, "path", r.URL.Path, "panic", v)
			s.writeError(w, r, fmt.Errorf("panic: %v", v))
		}
	}()
	// The escaped path, as ServeMux matches it: "%2F" inside an id is part
	// of the id, not a separator, so "/v1/clients/..%2Fx" names the
	// (malformed) id "../x" and gets the contract's "Invalid client id".
	if !clean(r.URL.EscapedPath()) {
		s.writeError(w, r, facevault.Errorf(facevault.ENotFound, "Unknown route %s %s", r.Method, r.URL.Path))
		return
	}
	h, pattern := s.mux.Handler(r)
	if pattern != "" {
		// Handler does not set path values; ServeHTTP does.
		s.mux.ServeHTTP(w, r)
		return
	}
	rec := &recorder{header: http.Header{}}
	h.ServeHTTP(rec, r)
	if rec.status == http.StatusMethodNotAllowed {
		w.Header().Set("Allow", rec.header.Get("Allow"))
		s.writeErrorStatus(w, r, http.StatusMethodNotAllowed, facevault.Errorf(facevault.EInvalid,
			"The method %s is not allowed on %s; allowed: %s", r.Method, r.URL.Path, rec.header.Get("Allow")))
		return
	}
	s.writeError(w, r, facevault.Errorf(facevault.ENotFound, "Unknown route %s %s", r.Method, r.URL.Path))
}

// clean reports whether p is a clean path: no "." or ".." elements, no
// empty elements. ServeMux would redirect an unclean path; an API has no use
// for that. Nor is an element that is an escaped slash alone ("%2F") clean:
// ServeMux would take it for the trailing slash of a collection, so that
// POST /v1/clients/%2F would create a client.
func clean(p string) bool {
	c := path.Clean(p)
	if strings.HasSuffix(p, "/") && c != "/" {
		c += "/"
	}
	return c == p && !strings.Contains(strings.ToLower(p)+"/", "/%2f/")
}

// recorder captures what ServeMux's own 404, 405 and redirect handlers
// would answer, so that ServeHTTP can answer in JSON instead.
type recorder struct {
	header http.Header
	status int
}

func (r *recorder) Header() http.Header { return r.header }
func (r *recorder) Write(p []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	return len(p), nil
}
func (r *recorder) WriteHeader(status int) {
	if r.status == 0 {
		r.status = status
	}
}

// handlerFunc is an API handler: it runs in a scope and returns an error
// for writeError instead of writing one.
type handlerFunc func(w http.ResponseWriter, r *http.Request, s facevault.Scope) error

// authed authenticates the caller, applies the rate limit and runs h.
func (s *Server) authed(h handlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		scope, err := s.authenticate(r)
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		if s.limiter != nil {
			if wait, ok := s.limiter.allow(scope, time.Now()); !ok {
				w.Header().Set("Retry-After", fmt.Sprint(int(wait.Seconds()+0.999)))
				s.writeError(w, r, facevault.Errorf(facevault.ERateLimited, "You have exceeded the rate limit prescribed to your plan"))
				return
			}
		}
		if err := h(w, r, scope); err != nil {
			s.writeError(w, r, err)
		}
	})
}

func (s *Server) authenticate(r *http.Request) (facevault.Scope, error) {
	key := strings.TrimSpace(r.Header.Get("Authorization"))
	if len(key) > 7 && strings.EqualFold(key[:7], "bearer ") {
		key = strings.TrimSpace(key[7:])
	}
	return facevault.Authenticate(r.Context(), s.keys, key)
}

// requireJSON checks that a request body is declared as JSON.
func requireJSON(r *http.Request) error {
	ct := r.Header.Get("Content-Type")
	mt, _, err := mime.ParseMediaType(ct)
	if ct == "" || err != nil || mt != "application/json" {
		return facevault.Invalid("Content-Type", "The 'Content-Type' header must be 'application/json'")
	}
	return nil
}

// readJSON decodes a small JSON object body into v, mapping decoding errors
// to 400s that name the field at fault.
func readJSON(w http.ResponseWriter, r *http.Request, v any) error {
	if err := requireJSON(r); err != nil {
		return err
	}
	if r.ContentLength > MaxJSONBody {
		return tooLarge(MaxJSONBody)
	}
	var buf bytes.Buffer
	if _, err := buf.ReadFrom(http.MaxBytesReader(w, r.Body, MaxJSONBody)); err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return tooLarge(MaxJSONBody)
		}
		return facevault.Invalid("", "The request body could not be read")
	}
	data := bytes.TrimSpace(buf.Bytes())
	// Syntax first: Unmarshal may report a field of the wrong type before
	// it finds that the body is not JSON at all.
	if len(data) == 0 || data[0] != '{' || !jsontext.Value(data).IsValid() {
		if jsontext.Value(data).IsValid() {
			return facevault.Invalid("", "The request body must be a JSON object")
		}
		return facevault.Invalid("", "The request body is not valid JSON")
	}
	if err := json.Unmarshal(data, v); err != nil {
		var se *json.SemanticError
		if errors.As(err, &se) && se.JSONPointer != "" {
			param := strings.ReplaceAll(strings.TrimPrefix(string(se.JSONPointer), "/"), "/", ".")
			if strings.HasPrefix(param, "metadata.") {
				return facevault.Invalid("metadata", "Metadata values must be strings")
			}
			return facevault.Invalid(param, "'%s' has the wrong type", param)
		}
		return facevault.Invalid("", "The request body is not valid JSON")
	}
	return nil
}

func tooLarge(limit int64) error {
	return facevault.Errorf(facevault.ETooLarge, "The request body is larger than the largest legal request (%d bytes)", limit)
}

// writeJSON writes v as the response body. Invalid UTF-8 (a caller's bytes
// echoed in an error message) is written as U+FFFD.
func (s *Server) writeJSON(w http.ResponseWriter, r *http.Request, status int, v any) {
	body, err := json.Marshal(v, json.Deterministic(true), jsontext.AllowInvalidUTF8(true))
	if err != nil {
		s.logger.ErrorContext(r.Context(), "encode response", "err", err)
		status = http.StatusInternalServerError
		body = []byte(`{"type":"internal_server_error","message":"` + internalMessage + `"}`)
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Content-Length", fmt.Sprint(len(body)))
	w.WriteHeader(status)
	w.Write(body)
}

// acquireUpload takes an upload slot, waiting at most the queue timeout.
func (s *Server) acquireUpload(ctx context.Context) (release func(), err error) {
	select {
	case s.uploads <- struct{}{}:
		return func() { <-s.uploads }, nil
	default:
	}
	t := time.NewTimer(s.queue)
	defer t.Stop()
	select {
	case s.uploads <- struct{}{}:
		return func() { <-s.uploads }, nil
	case <-t.C:
		return nil, facevault.Errorf(facevault.ERateLimited, "Too many uploads in progress; retry shortly")
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}
