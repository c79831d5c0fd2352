// Package http serves FaceVault's ComplyCube-compatible API (docs/contract.md)
// over net/http: routing with the standard ServeMux, authentication, JSON
// errors, and the wire shapes of clients, live photos and lists.
package http

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"mime"
	"net/http"
	"net/netip"
	"path"
	"strconv"
	"strings"
	"time"

	"github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"

	"github.com/facevault/facevault"
	"github.com/facevault/facevault/openapi"
)

// Config tunes a Server. The zero value of a field means its default.
type Config struct {
	// MaxUploads bounds the uploads processed at once: the liveness check
	// and the commit, after the body has arrived (default 16). When all
	// are busy, a freed slot goes to the waiting account that holds the
	// fewest, so no account can keep the others out.
	MaxUploads int
	// UploadQueueTimeout is how long an upload whose body has arrived
	// waits for a processing slot before it is answered 429 (default 10s).
	UploadQueueTimeout time.Duration
	// MaxUploadsPerAccount bounds the uploads one (account, mode) has in
	// flight, from the first byte of the body to the answer (default
	// MaxUploads). More are answered 429 at once, their body unread.
	MaxUploadsPerAccount int
	// MaxUploadsInFlight bounds the uploads in flight on the node, all
	// accounts together (default 8 × MaxUploads). Each holds a temporary
	// file of up to 4 MiB, two file descriptors and the parser's 140 KB
	// of buffers until it is answered.
	MaxUploadsInFlight int
	// MinBodyRate is the slowest a request body may arrive, in bytes per
	// second on average, once BodyGrace has passed since the request's
	// headers (default 16 KiB/s; negative: no minimum). A body that falls
	// behind is answered 408 and its connection closed.
	MinBodyRate float64
	// BodyGrace is how long a body may take before MinBodyRate applies
	// (default 10s).
	BodyGrace time.Duration
	// BodyTimeout is the longest any body may take, whatever its rate
	// (default 2 minutes). NewHTTPServer gives the http.Server the same
	// ReadTimeout.
	BodyTimeout time.Duration
	// RateLimit, if positive, is the number of requests per second allowed
	// to each (account, mode); RateBurst is the bucket size (default
	// RateLimit). Excess requests get 429 with Retry-After.
	RateLimit float64
	RateBurst int
	// AuthFailuresPerMinute, if positive, limits failed authentications
	// per source address (an IPv4 address, an IPv6 /64): a token bucket
	// refilled at this rate, of AuthFailuresBurst tokens (default twice
	// the rate per minute), that only failures take. A source with no
	// token left gets 429 with Retry-After before its key is looked up.
	AuthFailuresPerMinute float64
	AuthFailuresBurst     int
	// AuthFailuresSources bounds the sources tracked at once (default
	// 65536: about 13 MiB when all are in use, some 210 bytes each);
	// beyond, the one whose last failure is oldest is forgotten.
	AuthFailuresSources int
	// TrustedProxies are the peers whose X-Forwarded-For names the client
	// (its rightmost hop that is not itself a trusted proxy). From any
	// other peer the header is ignored.
	TrustedProxies []netip.Prefix
	// Observer, if set, is told of every answered request and of the
	// uploads' waits and bytes (package metrics implements it).
	Observer Observer
	// AuditRefusalSources bounds the callers whose refused requests (401,
	// 429) the audit log counts apart between two flushes (default
	// DefaultAuditRefusalSources); refusals of further callers are counted
	// together.
	AuditRefusalSources int
}

// withDefaults fills the zero fields of c with their defaults.
func (c Config) withDefaults() Config {
	if c.MaxUploads <= 0 {
		c.MaxUploads = 16
	}
	if c.UploadQueueTimeout <= 0 {
		c.UploadQueueTimeout = 10 * time.Second
	}
	if c.MaxUploadsPerAccount <= 0 {
		c.MaxUploadsPerAccount = c.MaxUploads
	}
	if c.MaxUploadsInFlight <= 0 {
		c.MaxUploadsInFlight = 8 * c.MaxUploads
	}
	if c.MinBodyRate == 0 {
		c.MinBodyRate = 16 << 10
	}
	if c.BodyGrace <= 0 {
		c.BodyGrace = 10 * time.Second
	}
	if c.BodyTimeout <= 0 {
		c.BodyTimeout = 2 * time.Minute
	}
	if c.AuthFailuresBurst <= 0 {
		c.AuthFailuresBurst = max(1, int(2*c.AuthFailuresPerMinute))
	}
	if c.AuthFailuresSources <= 0 {
		c.AuthFailuresSources = 65536
	}
	if c.AuditRefusalSources <= 0 {
		c.AuditRefusalSources = DefaultAuditRefusalSources
	}
	return c
}

// Observer receives the measurements the API makes.
type Observer interface {
	// Request is an answered request: its route (the pattern it matched,
	// "other" for none), method, status and time from its headers to the
	// end of its answer.
	Request(route, method string, status int, d time.Duration)
	// UploadSlotWait is how long an upload waited for a processing slot.
	UploadSlotWait(d time.Duration)
	// UploadStored is the bytes of image a successful upload stored.
	UploadStored(bytes int64)
}

// Body bounds. The largest legal upload is 4 MiB of image: 5.6 MB of base64,
// plus line breaks escaped in JSON and a few small fields. Anything larger
// than MaxUploadBody cannot be legal and is refused with 413 before or
// while it is read.
const (
	MaxUploadBody = 8 << 20
	MaxJSONBody   = 1 << 20
)

// Server is the API's HTTP handler. Every request to a client or a live
// photo is recorded in the audit log (see auditWriter), appended to the
// vault's store before it is answered; the appends of concurrent requests
// are committed together (facevault.AuditBatcher).
type Server struct {
	vault     *facevault.Vault
	keys      facevault.KeyStore
	audit     facevault.AuditAppender
	refusals  *refusals
	logger    *slog.Logger
	mux       *http.ServeMux
	cfg       Config
	slots     *fairSlots[facevault.Scope]
	inflight  *inflight
	limiter   *limiter
	authFails *failureLimiter
	// idemLease is how long an idempotent request's in-progress record
	// holds its key (IdempotencyLease).
	idemLease time.Duration
}

// NewServer returns the API handler over a vault and the key store that
// authenticates its callers. It records accesses in the vault's store's
// audit log; run RunAudit beside it.
func NewServer(v *facevault.Vault, keys facevault.KeyStore, logger *slog.Logger, cfg Config) *Server {
	cfg = cfg.withDefaults()
	s := &Server{
		vault:     v,
		keys:      keys,
		audit:     facevault.NewAuditBatcher(v.Store),
		refusals:  newRefusals(cfg.AuditRefusalSources),
		logger:    logger,
		mux:       http.NewServeMux(),
		cfg:       cfg,
		slots:     newFairSlots[facevault.Scope](cfg.MaxUploads),
		inflight:  newInflight(cfg.MaxUploadsPerAccount, cfg.MaxUploadsInFlight),
		idemLease: IdempotencyLease(cfg),
	}
	if cfg.RateLimit > 0 {
		s.limiter = newLimiter(cfg.RateLimit, cfg.RateBurst)
	}
	if cfg.AuthFailuresPerMinute > 0 {
		s.authFails = newFailureLimiter(cfg.AuthFailuresPerMinute, cfg.AuthFailuresBurst, cfg.AuthFailuresSources)
	}
	s.routes()
	return s
}

// NewHTTPServer returns the net/http server for h, an API handler (a
// Server, usually inside Logged): the timeouts the API needs, with cfg's
// body timeout as ReadTimeout, and "OPTIONS *" left to h like any other
// request. Serve it on a listener wrapped by NewListener.
func NewHTTPServer(h http.Handler, cfg Config, logger *slog.Logger) *http.Server {
	cfg = cfg.withDefaults()
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		// Request bodies have their own deadlines (bodyReader), within
		// this one.
		ReadTimeout: cfg.BodyTimeout,
		// Counted from the end of the headers: the body, the wait for an
		// upload slot, the work and the answer must all fit.
		WriteTimeout:                 cfg.writeTimeout(),
		IdleTimeout:                  2 * time.Minute,
		MaxHeaderBytes:               MaxHeaderBytes,
		DisableGeneralOptionsHandler: true,
		ErrorLog:                     slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
	}
}

// receiptKeyPath is where the public key of deletion receipts is served.
const receiptKeyPath = "/.well-known/facevault-receipts.pub"

// MaxHeaderBytes bounds a request's line and headers; larger ones get 431.
const MaxHeaderBytes = 64 << 10

func (s *Server) routes() {
	// Collections answer with and without a trailing slash: the Node SDK
	// sends the slash.
	collection := func(method, path string, spec auditSpec, h handlerFunc) {
		s.mux.Handle(method+" "+path, s.authed(spec, h))
		s.mux.Handle(method+" "+path+"/{$}", s.authed(spec, h))
	}
	client := func(action, trigger string) auditSpec {
		return auditSpec{resourceType: facevault.AuditClient, action: action, trigger: trigger}
	}
	photo := func(action, trigger string) auditSpec {
		return auditSpec{resourceType: facevault.AuditLivePhoto, action: action, trigger: trigger}
	}
	collection("POST", "/v1/clients", client(facevault.ActionCreate, "createClient"), s.createClient)
	collection("GET", "/v1/clients", client(facevault.ActionList, "listClients"), s.listClients)
	s.mux.Handle("GET /v1/clients/{id}", s.authed(client(facevault.ActionRead, "getClient"), s.getClient))
	s.mux.Handle("POST /v1/clients/{id}", s.authed(client(facevault.ActionUpdate, "updateClient"), s.updateClient))
	s.mux.Handle("DELETE /v1/clients/{id}", s.authed(client(facevault.ActionDelete, "deleteClient"), s.deleteClient))

	collection("POST", "/v1/livePhotos", photo(facevault.ActionCreate, "uploadLivePhoto"), s.uploadLivePhoto)
	collection("GET", "/v1/livePhotos", photo(facevault.ActionList, "listLivePhotos"), s.listLivePhotos)
	s.mux.Handle("GET /v1/livePhotos/{id}", s.authed(photo(facevault.ActionRead, "getLivePhoto"), s.getLivePhoto))
	s.mux.Handle("DELETE /v1/livePhotos/{id}", s.authed(photo(facevault.ActionDelete, "deleteLivePhoto"), s.deleteLivePhoto))
	s.mux.Handle("GET /v1/livePhotos/{id}/download", s.authed(photo(facevault.ActionDownload, "downloadLivePhoto"), s.downloadLivePhoto))
	s.mux.Handle("POST /v1/livePhotos/{id}/redact", s.authed(photo(facevault.ActionRedact, "redactLivePhoto"), s.redactLivePhoto))

	check := func(action, trigger string) auditSpec {
		return auditSpec{resourceType: facevault.AuditCheck, action: action, trigger: trigger}
	}
	collection("POST", "/v1/checks", check(facevault.ActionCreate, "createCheck"), s.createCheck)
	collection("GET", "/v1/checks", check(facevault.ActionList, "listChecks"), s.listChecks)
	s.mux.Handle("GET /v1/checks/{id}", s.authed(check(facevault.ActionRead, "getCheck"), s.getCheck))
	s.mux.Handle("POST /v1/checks/{id}", s.authed(check(facevault.ActionUpdate, "updateCheck"), s.updateCheck))
	s.mux.Handle("POST /v1/checks/{id}/validate", s.authed(check(facevault.ActionUpdate, "validateCheck"), s.validateCheck))

	// The audit log is read only: other methods are 405.
	collection("GET", "/v1/auditLogs", auditSpec{resourceType: auditAuditLog, action: facevault.ActionList,
		trigger: "listAuditLogs", refusalsOnly: true}, s.listAuditLogs)
	s.mux.Handle("GET /v1/auditLogs/{id}", s.authed(auditSpec{resourceType: auditAuditLog, action: facevault.ActionRead,
		trigger: "getAuditLog", refusalsOnly: true}, s.getAuditLog))

	// Deletion receipts name what was destroyed, not personal data: only
	// refused requests are recorded. A change of the retention default is
	// recorded like a change of a client.
	collection("GET", "/v1/deletionReceipts", auditSpec{resourceType: auditReceipt, action: facevault.ActionList,
		trigger: "listDeletionReceipts", refusalsOnly: true}, s.listReceipts)
	collection("GET", "/v1/retention", auditSpec{resourceType: auditRetention, action: facevault.ActionRead,
		trigger: "getRetention", refusalsOnly: true}, s.getRetention)
	collection("POST", "/v1/retention", auditSpec{resourceType: auditRetention, action: facevault.ActionUpdate,
		trigger: "setRetention"}, s.setRetention)
	s.mux.HandleFunc("GET "+receiptKeyPath, s.receiptKey)
	s.mux.HandleFunc("GET /healthz", s.healthz)
	s.mux.HandleFunc("GET /readyz", s.readyz)

	// Webhooks hold no personal data: their changes are recorded, their
	// reads only when refused.
	hook := func(action, trigger string) auditSpec {
		return auditSpec{resourceType: auditWebhook, action: action, trigger: trigger,
			refusalsOnly: action == facevault.ActionRead || action == facevault.ActionList}
	}
	collection("POST", "/v1/webhooks", hook(facevault.ActionCreate, "createWebhook"), s.createWebhook)
	collection("GET", "/v1/webhooks", hook(facevault.ActionList, "listWebhooks"), s.listWebhooks)
	s.mux.Handle("GET /v1/webhooks/{id}", s.authed(hook(facevault.ActionRead, "getWebhook"), s.getWebhook))
	s.mux.Handle("POST /v1/webhooks/{id}", s.authed(hook(facevault.ActionUpdate, "updateWebhook"), s.updateWebhook))
	s.mux.Handle("DELETE /v1/webhooks/{id}", s.authed(hook(facevault.ActionDelete, "deleteWebhook"), s.deleteWebhook))
	collection("GET", "/v1/webhooks/{id}/deliveries", hook(facevault.ActionList, "listWebhookDeliveries"), s.listDeliveries)
	s.mux.HandleFunc("GET /v1/openapi.json", serveOpenAPI)
}

// openAPIETag is the strong validator of the served OpenAPI document.
var openAPIETag = fmt.Sprintf(`"%x"`, sha256.Sum256(openapi.JSON))

// serveOpenAPI answers GET /v1/openapi.json, without a key: the API's
// OpenAPI document (package openapi), cacheable, with 304 for a matching
// If-None-Match.
func serveOpenAPI(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "public, max-age=3600")
	h.Set("ETag", openAPIETag)
	for _, tag := range strings.Split(r.Header.Get("If-None-Match"), ",") {
		if t := strings.TrimPrefix(strings.TrimSpace(tag), "W/"); t == openAPIETag || t == "*" {
			w.WriteHeader(http.StatusNotModified)
			return
		}
	}
	h.Set("Content-Length", strconv.Itoa(len(openapi.JSON)))
	w.Write(openapi.JSON)
}

// ServeHTTP routes the request. Requests that match no route get the
// contract's JSON 404, and known paths with the wrong method a JSON 405 with
// an Allow header. Unclean paths (with "..", "//") are not redirected: they
// name no resource and are answered 404.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if o := s.cfg.Observer; o != nil {
		start := time.Now()
		sw := &statusWriter{ResponseWriter: w}
		w = sw
		defer func() {
			status := sw.status
			if status == 0 {
				status = StatusClientClosedRequest
			}
			o.Request(s.route(r), metricMethod(r.Method), status, time.Since(start))
		}()
	}
	defer func() {
		if v := recover(); v != nil {
			if v == http.ErrAbortHandler {
				panic(v)
			}
			s.logger.ErrorContext(r.Context(), "panic", "method", r.Method, "path", r.URL.Path, "panic", v)
			s.writeError(w, r, fmt.Errorf("panic: %v", v))
		}
	}()
	r = withRequestID(w, r, s.cfg.TrustedProxies)
	r = s.wrapBody(w, r)
	// Every response: no content sniffing; and none kept by a proxy or a
	// browser, since any may carry a face or a name, except the public
	// receipt key.
	w.Header().Set("X-Content-Type-Options", "nosniff")
	if r.URL.Path != receiptKeyPath {
		w.Header().Set("Cache-Control", "no-store")
	}
	// The escaped path, as ServeMux matches it: "%2F" inside an id is part
	// of the id, not a separator, so "/v1/clients/..%2Fx" names the
	// (malformed) id "../x" and gets the contract's "Invalid client id".
	if !clean(r.URL.EscapedPath()) {
		s.writeError(w, r, unknownRoute(r))
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
			"The method %s is not allowed on %s; allowed: %s", facevault.Clip(r.Method), facevault.Clip(r.URL.Path), rec.header.Get("Allow")))
		return
	}
	s.writeError(w, r, unknownRoute(r))
}

// route is the pattern r matches, or "other": a bounded set of values,
// whatever paths callers send.
func (s *Server) route(r *http.Request) string {
	if !clean(r.URL.EscapedPath()) {
		return "other"
	}
	if _, pattern := s.mux.Handler(r); pattern != "" {
		return pattern
	}
	return "other"
}

// metricMethod is an HTTP method as a metric label: the standard ones as
// they are, any other "other".
func metricMethod(m string) string {
	switch m {
	case "GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS":
		return m
	}
	return "other"
}

// unknownRoute is the contract's 404 for a request that names no route.
func unknownRoute(r *http.Request) error {
	return facevault.Errorf(facevault.ENotFound, "Unknown route %s %s", facevault.Clip(r.Method), facevault.Clip(r.URL.Path))
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

// authed authenticates the caller, applies the rate limits and runs h,
// recording the request in the audit log as spec says; a POST with an
// Idempotency-Key header runs at most once per key (serveIdempotent). A source address
// with too many failed authentications is refused before its key is looked
// up; only failures count against it.
func (s *Server) authed(spec auditSpec, h handlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		addr := ClientAddr(r, s.cfg.TrustedProxies)
		entry := newAuditEntry(r, spec, addr)
		if s.authFails != nil {
			if wait, ok := s.authFails.allow(sourceKey(addr), time.Now()); !ok {
				s.recordAccess(r, entry, http.StatusTooManyRequests)
				setRetryAfter(w, wait)
				s.writeError(w, r, facevault.Errorf(facevault.ERateLimited, "Too many failed authentications from your address; retry later"))
				return
			}
		}
		key, err := s.authenticate(r)
		if key != nil {
			entry.AccountID, entry.Mode, entry.KeyID = key.AccountID, key.Mode, key.ID
		}
		if err != nil {
			if facevault.ErrorCode(err) == facevault.EUnauthorized {
				if s.authFails != nil {
					s.authFails.fail(sourceKey(addr), time.Now())
				}
				s.recordAccess(r, entry, http.StatusUnauthorized)
			}
			s.writeError(w, r, err)
			return
		}
		scope := facevault.Scope{AccountID: key.AccountID, Mode: key.Mode}
		if s.limiter != nil {
			if wait, ok := s.limiter.allow(scope, time.Now()); !ok {
				s.recordAccess(r, entry, http.StatusTooManyRequests)
				setRetryAfter(w, wait)
				s.writeError(w, r, facevault.Errorf(facevault.ERateLimited, "You have exceeded the rate limit prescribed to your plan"))
				return
			}
		}
		if spec.refusalsOnly {
			if err := h(w, r, scope); err != nil {
				s.writeError(w, r, err)
			}
			return
		}
		// Handlers add what only they learn to the entry (noteResource);
		// the writer appends it before the answer goes out.
		r = r.WithContext(context.WithValue(r.Context(), auditKey{}, entry))
		aw := &auditWriter{ResponseWriter: w, s: s, r: r, entry: entry}
		defer func() {
			v := recover()
			aw.done(v)
			if v != nil {
				panic(v)
			}
		}()
		if r.Method == http.MethodPost && len(r.Header.Values(IdempotencyKeyHeader)) > 0 {
			s.serveIdempotent(aw, r, scope, h)
			return
		}
		if err := h(aw, r, scope); err != nil {
			s.writeError(aw, r, err)
		}
	})
}

// authenticate returns the caller's key, or an error: the contract's 401
// for a missing, unknown or revoked key (with the key itself if it is
// revoked; see facevault.AuthenticateKey).
func (s *Server) authenticate(r *http.Request) (*facevault.APIKey, error) {
	key := strings.TrimSpace(r.Header.Get("Authorization"))
	if len(key) > 7 && strings.EqualFold(key[:7], "bearer ") {
		key = strings.TrimSpace(key[7:])
	}
	return facevault.AuthenticateKey(r.Context(), s.keys, key)
}

// setRetryAfter tells the caller how many seconds to wait (at least 1).
func setRetryAfter(w http.ResponseWriter, d time.Duration) {
	w.Header().Set("Retry-After", strconv.Itoa(max(1, int(math.Ceil(d.Seconds())))))
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
		var fe *facevault.Error
		switch {
		case errors.As(err, &mbe):
			return tooLarge(MaxJSONBody)
		case errors.As(err, &fe), errors.Is(err, errClientGone):
			return err // 408, 400 or 499, as bodyReader decided
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
			if strings.HasPrefix(param, "events.") {
				return facevault.Invalid("events", "'events' must be an array of event type strings")
			}
			return facevault.Invalid(facevault.Clip(param), "'%s' has the wrong type", facevault.Clip(param))
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
