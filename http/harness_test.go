package http_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/facevault/facevault"
	"github.com/facevault/facevault/fsblob"
	fvhttp "github.com/facevault/facevault/http"
	"github.com/facevault/facevault/internal/apitest"
	"github.com/facevault/facevault/internal/backendtest"
	"github.com/facevault/facevault/internal/pgtest"
	"github.com/facevault/facevault/internal/s3test"
	"github.com/facevault/facevault/keyring"
	"github.com/facevault/facevault/postgres"
	"github.com/facevault/facevault/s3blob"
	"github.com/facevault/facevault/sqlite"
	"github.com/minio/minio-go/v7"
)

// A backend is a pair of storage back ends the whole suite runs against.
// Adding PostgreSQL + S3 later is one more entry in backends: no test is
// written for a particular pair.
type backend struct {
	name string
	open func(t testing.TB) *storage
}

// storage is one opened backend pair.
type storage struct {
	store facevault.Store
	blobs facevault.BlobStore
	// keys seals the images at rest, as serve does: a key store of its
	// own, apart from the record store.
	keys *keyring.Keyring
	// tempDir is where uploads in progress keep their bytes (the image
	// store's temporary files, or the S3 spool); bucket names the S3
	// bucket, if any.
	tempDir, bucket string
	// objects lists every object the blob store holds, committed or not
	// (temporary files, unfinished multipart uploads): a refused upload
	// must leave none behind. Names are opaque but stable. If nil, the
	// committed blobs (BlobStore.Keys) are listed instead.
	objects func() ([]string, error)
}

// committedKeys lists the committed blobs of a store, for backends that
// cannot list more.
func committedKeys(blobs facevault.BlobStore) func() ([]string, error) {
	return func() ([]string, error) {
		var ks []string
		err := blobs.Keys(context.Background(), time.Now().Add(24*time.Hour), func(k string) error {
			ks = append(ks, k)
			return nil
		})
		return ks, err
	}
}

var backends = []backend{
	{name: "sqlite+fsblob", open: openSQLiteFS},
	{name: "postgres+s3", open: openPostgresS3},
}

// openPostgresS3 opens a fresh PostgreSQL database and S3 bucket on the
// servers scripts/test starts.
func openPostgresS3(t testing.TB) *storage {
	ctx := context.Background()
	db, err := postgres.Open(ctx, pgtest.URL(t))
	if err != nil {
		t.Fatalf("postgres.Open: %v", err)
	}
	t.Cleanup(func() { db.Close() })
	if err := db.Migrate(ctx); err != nil {
		t.Fatalf("Migrate: %v", err)
	}
	endpoint, bucket := s3test.Bucket(t)
	// Versioning on: deleting a photo must remove every version of it.
	if err := s3test.Client(t).EnableVersioning(ctx, bucket); err != nil {
		t.Fatalf("enable versioning on %s: %v", bucket, err)
	}
	spool := t.TempDir()
	blobs, err := s3blob.Open(ctx, "s3://"+bucket+"?endpoint="+endpoint, s3blob.Options{SpoolDir: spool})
	if err != nil {
		t.Fatalf("s3blob.Open: %v", err)
	}
	client := s3test.Client(t)
	return &storage{store: db, blobs: blobs, keys: openKeyring(t, pgtest.URL(t)), tempDir: spool, bucket: bucket, objects: func() ([]string, error) {
		// Every object of the bucket, and every file left in the spool.
		var names []string
		for o := range client.ListObjects(ctx, bucket, minio.ListObjectsOptions{Recursive: true, WithVersions: true}) {
			if o.Err != nil {
				return nil, o.Err
			}
			names = append(names, "s3:"+o.Key)
		}
		for o := range client.ListIncompleteUploads(ctx, bucket, "", true) {
			if o.Err != nil {
				return nil, o.Err
			}
			names = append(names, "multipart:"+o.Key)
		}
		files, err := os.ReadDir(spool)
		if err != nil {
			return nil, err
		}
		for _, f := range files {
			names = append(names, "spool:"+f.Name())
		}
		return names, nil
	}}
}

func openSQLiteFS(t testing.TB) *storage {
	ctx := context.Background()
	db, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "facevault.db"))
	if err != nil {
		t.Fatalf("sqlite.Open: %v", err)
	}
	t.Cleanup(func() { db.Close() })
	dir := filepath.Join(t.TempDir(), "blobs")
	blobs, err := fsblob.Open(dir)
	if err != nil {
		t.Fatalf("fsblob.Open: %v", err)
	}
	t.Cleanup(func() { blobs.Close() })
	keys := openKeyring(t, "sqlite://"+filepath.Join(t.TempDir(), "keys.db"))
	return &storage{store: db, blobs: blobs, keys: keys, tempDir: filepath.Join(dir, "tmp"), objects: func() ([]string, error) {
		// Committed blobs are <dir>/<2 hex>/<id>, temporaries <dir>/tmp/*.
		var files []string
		err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			rel, _ := filepath.Rel(dir, path)
			if d.IsDir() || rel == "LOCK" {
				return nil
			}
			files = append(files, filepath.ToSlash(rel))
			return nil
		})
		return files, err
	}}
}

// testMasterKey is the master key of every test environment.
var testMasterKey = backendtest.MasterKey()

// openKeyring opens a key store at url under testMasterKey.
func openKeyring(t testing.TB, url string) *keyring.Keyring {
	return backendtest.OpenKeyring(t, url)
}

// testEnv is a running server over one backend pair, with keys of three
// tenants and a revoked key.
type testEnv struct {
	t       testing.TB
	backend string
	URL     string
	srv     *httptest.Server
	api     *fvhttp.Server
	client  *http.Client
	vault   *facevault.Vault
	store   facevault.Store
	blobs   facevault.BlobStore
	storage *storage
	objects func() ([]string, error)
	clock   *clock
	logs    *logState

	KeyA       string          // account A, test mode
	KeyALive   string          // account A, live mode
	KeyB       string          // account B, test mode
	KeyRevoked string          // account A, test mode, revoked
	ScopeA     facevault.Scope // account A, test mode
	// The stored records of those keys: their ids, accounts and modes.
	RecA, RecALive, RecB, RecRevoked *facevault.APIKey
}

// forEachBackend runs fn once per backend pair, each with a fresh server,
// database and blob store. After fn the server must still answer.
func forEachBackend(t *testing.T, fn func(t *testing.T, env *testEnv)) {
	t.Helper()
	forEachBackendWith(t, envOptions{}, fn)
}

// forEachBackendWith is forEachBackend with a server built as opts says.
func forEachBackendWith(t *testing.T, opts envOptions, fn func(t *testing.T, env *testEnv)) {
	t.Helper()
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			env := newTestEnvWith(t, b, opts)
			fn(t, env)
			env.assertAlive(t)
		})
	}
}

// envOptions change the server of a test environment.
type envOptions struct {
	cfg fvhttp.Config
	// store, if set, wraps the record store the vault uses; keys, if
	// set, the key store the server authenticates callers with.
	store func(facevault.Store) facevault.Store
	keys  func(facevault.KeyStore) facevault.KeyStore
}

func newTestEnv(t testing.TB, b backend) *testEnv {
	t.Helper()
	return newTestEnvWith(t, b, envOptions{})
}

// newTestEnvWith starts the API as serve does (NewHTTPServer, NewListener)
// over one backend pair.
func newTestEnvWith(t testing.TB, b backend, opts envOptions) *testEnv {
	t.Helper()
	st := b.open(t)
	if st.objects == nil {
		st.objects = committedKeys(st.blobs)
	}
	// Benchmarks log only warnings and errors: a line per request would
	// be measured too.
	_, quiet := t.(*testing.B)
	logs := &testLogHandler{t: t, state: &logState{quiet: quiet}}
	logger := slog.New(logs)
	clk := &clock{}
	var store facevault.Store = st.store
	if opts.store != nil {
		store = opts.store(store)
	}
	var keyStore facevault.KeyStore = st.store
	if opts.keys != nil {
		keyStore = opts.keys(keyStore)
	}
	vault := facevault.NewVault(store, st.blobs, logger)
	vault.Keys = st.keys
	vault.Now = clk.Now
	api := fvhttp.NewServer(vault, keyStore, logger, opts.cfg)
	srv := httptest.NewUnstartedServer(nil)
	var handler http.Handler = fvhttp.Logged(api, logger)
	if !quiet {
		// Every exchange of a test is validated against the OpenAPI
		// document. Benchmarks are not: they measure the server.
		handler = validated(t, handler)
	}
	srv.Config = fvhttp.NewHTTPServer(handler, opts.cfg, logger)
	srv.Listener = fvhttp.NewListener(srv.Listener, logger)
	srv.Start()
	// The background purge, as serve runs it.
	purgeCtx, stopPurge := context.WithCancel(context.Background())
	purging := make(chan struct{})
	go func() {
		defer close(purging)
		vault.RunPurge(purgeCtx, 50*time.Millisecond)
	}()
	// The audit log's counts of refused requests, as serve runs them; tests
	// flush them when they look.
	auditCtx, stopAudit := context.WithCancel(context.Background())
	auditing := make(chan struct{})
	go func() {
		defer close(auditing)
		api.RunAudit(auditCtx, time.Hour)
	}()
	t.Cleanup(func() {
		srv.Close() // waits for every request in flight
		stopPurge()
		<-purging
		stopAudit()
		<-auditing
		logs.state.stop()
		if n := logs.state.errors(); n > 0 {
			t.Errorf("the server logged %d errors (see the log above): an unexpected internal error happened", n)
		}
	})
	env := &testEnv{
		t: t, backend: b.name, URL: srv.URL, srv: srv, api: api, vault: vault,
		store: st.store, blobs: st.blobs, storage: st, objects: st.objects, clock: clk, logs: logs.state,
		client: &http.Client{
			// A redirect is an answer under test, not something to follow.
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
			Timeout:       2 * time.Minute,
		},
	}
	ctx := context.Background()
	now := time.Now()
	newKey := func(account string, mode facevault.Mode) (string, *facevault.APIKey) {
		acc, err := st.store.EnsureAccount(ctx, account, now)
		if err != nil {
			t.Fatalf("EnsureAccount: %v", err)
		}
		secret, rec, err := facevault.NewKey(acc, mode, now)
		if err != nil {
			t.Fatalf("NewKey: %v", err)
		}
		if err := st.store.CreateKey(ctx, rec); err != nil {
			t.Fatalf("CreateKey: %v", err)
		}
		return secret, rec
	}
	env.KeyA, env.RecA = newKey("account-a", facevault.ModeTest)
	env.ScopeA = facevault.Scope{AccountID: env.RecA.AccountID, Mode: env.RecA.Mode}
	env.KeyALive, env.RecALive = newKey("account-a", facevault.ModeLive)
	env.KeyB, env.RecB = newKey("account-b", facevault.ModeTest)
	env.KeyRevoked, env.RecRevoked = newKey("account-a", facevault.ModeTest)
	if err := st.store.RevokeKey(ctx, env.RecRevoked.ID, now); err != nil {
		t.Fatalf("RevokeKey: %v", err)
	}
	return env
}

// validated wraps h so that each request it serves, and each answer, is
// validated against the OpenAPI document; a mismatch fails t.
func validated(t testing.TB, h http.Handler) http.Handler {
	t.Helper()
	v, err := apitest.New()
	if err != nil {
		t.Fatal(err)
	}
	return v.Handler(h, func(problem string) { t.Errorf("%s", problem) })
}

// invalid returns the header that marks a request as malformed on purpose,
// as do's hdr takes it: the request is not validated against the OpenAPI
// document (it is meant not to match it), its answer is. reason says what
// is wrong with it.
func invalid(reason string) []string { return []string{apitest.InvalidHeader, reason} }

// assertAlive checks that the server still answers an ordinary request.
func (e *testEnv) assertAlive(t testing.TB) {
	t.Helper()
	r := e.do(t, "GET", "/v1/clients?pageSize=1", e.KeyA, nil)
	if r.Status != http.StatusOK {
		t.Fatalf("server no longer healthy: GET /v1/clients = %d %s", r.Status, r.Body)
	}
}

// clock is the vault's clock: real time (at millisecond precision) unless a
// test sets it.
type clock struct {
	mu  sync.Mutex
	now time.Time // zero: real time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.now.IsZero() {
		return time.Now().UTC().Truncate(time.Millisecond)
	}
	return c.now
}

// Set fixes the clock at t.
func (c *clock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = t.UTC().Truncate(time.Millisecond)
}

// testLogHandler sends the server's log to t.Log while the test runs and
// counts error records.
type testLogHandler struct {
	t     testing.TB
	state *logState
	attrs []slog.Attr
	group string
}

type logState struct {
	mu      sync.Mutex
	quiet   bool // log only records of level Warn and above
	stopped bool
	nerrors int
	allowed map[string]bool // messages of error records a test expects
	records []logRecord     // every record, quiet or not
}

// logRecord is one record the server logged, its attributes as text.
type logRecord struct {
	level slog.Level
	msg   string
	attrs map[string]string
}

// find returns the records with the message whose attributes include
// every name/value pair of attrs.
func (s *logState) find(msg string, attrs ...string) []logRecord {
	s.mu.Lock()
	defer s.mu.Unlock()
	var found []logRecord
next:
	for _, r := range s.records {
		if r.msg != msg {
			continue
		}
		for i := 0; i+1 < len(attrs); i += 2 {
			if r.attrs[attrs[i]] != attrs[i+1] {
				continue next
			}
		}
		found = append(found, r)
	}
	return found
}

// atLeast returns the records of level l or above.
func (s *logState) atLeast(l slog.Level) []logRecord {
	s.mu.Lock()
	defer s.mu.Unlock()
	var found []logRecord
	for _, r := range s.records {
		if r.level >= l {
			found = append(found, r)
		}
	}
	return found
}

// requests counts the requests whose handler has returned (and logged).
func (s *logState) requests() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, r := range s.records {
		if r.msg == "request" {
			n++
		}
	}
	return n
}

func (s *logState) stop() {
	s.mu.Lock()
	s.stopped = true
	s.mu.Unlock()
}

// allowErrors tells the log that error records with these messages are
// expected: they do not fail the test.
func (s *logState) allowErrors(msgs ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.allowed == nil {
		s.allowed = map[string]bool{}
	}
	for _, m := range msgs {
		s.allowed[m] = true
	}
}

func (s *logState) errors() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.nerrors
}

func (h *testLogHandler) Enabled(context.Context, slog.Level) bool { return true }

func (h *testLogHandler) Handle(_ context.Context, r slog.Record) error {
	rec := logRecord{level: r.Level, msg: r.Message, attrs: map[string]string{}}
	var b strings.Builder
	fmt.Fprintf(&b, "server: %s %s", r.Level, r.Message)
	write := func(a slog.Attr) bool {
		if h.group != "" {
			a.Key = h.group + "." + a.Key
		}
		fmt.Fprintf(&b, " %s=%v", a.Key, a.Value)
		rec.attrs[a.Key] = a.Value.String()
		return true
	}
	for _, a := range h.attrs {
		write(a)
	}
	r.Attrs(write)
	h.state.mu.Lock()
	defer h.state.mu.Unlock()
	if !h.state.quiet {
		// Benchmarks keep none: they log a line per request.
		h.state.records = append(h.state.records, rec)
	}
	if h.state.quiet && r.Level < slog.LevelWarn {
		return nil
	}
	if r.Level >= slog.LevelError && !h.state.allowed[r.Message] {
		h.state.nerrors++
	}
	if !h.state.stopped {
		h.t.Log(b.String())
	}
	return nil
}

func (h *testLogHandler) WithAttrs(as []slog.Attr) slog.Handler {
	h2 := *h
	h2.attrs = append(slices.Clip(h.attrs), as...)
	return &h2
}

func (h *testLogHandler) WithGroup(name string) slog.Handler {
	h2 := *h
	if h2.group != "" {
		name = h2.group + "." + name
	}
	h2.group = name
	return &h2
}

// response is an answer of the server.
type response struct {
	Status int
	Header http.Header
	Body   []byte
	JSON   map[string]any // the body, if it is a JSON object
	Close  bool           // the server said "Connection: close"
}

// do sends a request and reads the whole answer. key "" sends no
// Authorization header. body may be nil, a string or []byte (sent as is),
// an io.Reader (sent as is, chunked), or anything else (encoded as JSON).
// A request with a body gets Content-Type: application/json unless hdr, a
// list of name/value pairs, sets it; a value "" removes the header.
//
// Every answer but a 204 must be JSON: do fails the test otherwise.
func (e *testEnv) do(t testing.TB, method, path, key string, body any, hdr ...string) *response {
	t.Helper()
	req, err := e.newRequest(method, path, key, body, hdr...)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	return e.send(t, req)
}

func (e *testEnv) newRequest(method, path, key string, body any, hdr ...string) (*http.Request, error) {
	var r io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		r = strings.NewReader(b)
	case []byte:
		r = bytes.NewReader(b)
	case io.Reader:
		r = b
	default:
		j, err := json.Marshal(b)
		if err != nil {
			return nil, err
		}
		r = bytes.NewReader(j)
	}
	req, err := http.NewRequest(method, e.URL+path, r)
	if err != nil {
		return nil, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if key != "" {
		req.Header.Set("Authorization", key)
	}
	if len(hdr)%2 != 0 {
		return nil, errors.New("hdr must be name/value pairs")
	}
	for i := 0; i < len(hdr); i += 2 {
		if hdr[i+1] == "" {
			req.Header.Del(hdr[i])
		} else {
			req.Header.Set(hdr[i], hdr[i+1])
		}
	}
	if _, ok := req.Header["Authorization"]; !ok && strings.HasPrefix(path, "/v1/") && !strings.HasPrefix(path, "/v1/openapi.json") {
		// Sent without a key on purpose: the document requires one.
		req.Header.Set(apitest.InvalidHeader, "no API key")
	}
	return req, nil
}

func (e *testEnv) send(t testing.TB, req *http.Request) *response {
	t.Helper()
	res, err := e.client.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", req.Method, req.URL.Path, err)
	}
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatalf("%s %s: read body: %v", req.Method, req.URL.Path, err)
	}
	r := &response{Status: res.StatusCode, Header: res.Header, Body: body, Close: res.Close}
	if res.StatusCode == http.StatusNoContent {
		if len(body) != 0 {
			t.Errorf("%s %s: 204 with a body: %q", req.Method, req.URL, body)
		}
		return r
	}
	if ct := res.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Errorf("%s %s: %d with Content-Type %q, want application/json; body %.200q", req.Method, req.URL, res.StatusCode, ct, body)
	}
	if !json.Valid(body) {
		t.Errorf("%s %s: %d with a body that is not JSON: %.200q", req.Method, req.URL, res.StatusCode, body)
		return r
	}
	if bytes.HasPrefix(bytes.TrimSpace(body), []byte("{")) {
		if err := json.Unmarshal(body, &r.JSON); err != nil {
			t.Errorf("%s %s: decode body: %v", req.Method, req.URL, err)
		}
	}
	return r
}

// wantError checks an error answer. message "" means any non-empty message;
// param "" means the answer must have no param.
func wantError(t testing.TB, r *response, status int, typ, message, param string) {
	t.Helper()
	if r.Status != status {
		t.Errorf("status = %d, want %d; body %.300s", r.Status, status, r.Body)
	}
	if r.JSON == nil {
		t.Errorf("error body is not a JSON object: %.300q", r.Body)
		return
	}
	if got := r.JSON["type"]; got != typ {
		t.Errorf("type = %v, want %q; body %.300s", got, typ, r.Body)
	}
	msg, _ := r.JSON["message"].(string)
	if message != "" && msg != message {
		t.Errorf("message = %q, want %q", msg, message)
	} else if msg == "" {
		t.Errorf("message missing or empty; body %.300s", r.Body)
	}
	got, has := r.JSON["param"]
	switch {
	case param == "" && has:
		t.Errorf("param = %v, want none; body %.300s", got, r.Body)
	case param != "" && got != param:
		t.Errorf("param = %v, want %q; body %.300s", got, param, r.Body)
	}
	for k := range r.JSON {
		if k != "type" && k != "message" && k != "param" {
			t.Errorf("error body has an unexpected field %q: %s", k, r.Body)
		}
	}
}

// wantStatus fails the test now unless the answer has the status.
func wantStatus(t testing.TB, r *response, status int) {
	t.Helper()
	if r.Status != status {
		t.Fatalf("status = %d, want %d; body %.500s", r.Status, status, r.Body)
	}
}

// Objects.

var (
	idRE   = regexp.MustCompile(`^[0-9a-f]{24}$`)
	timeRE = regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$`)
)

// str returns a string field of a JSON object, failing if it is not one.
func str(t testing.TB, m map[string]any, key string) string {
	t.Helper()
	v, ok := m[key].(string)
	if !ok {
		t.Fatalf("field %q = %#v, want a string; object %v", key, m[key], m)
	}
	return v
}

func parseTime(t testing.TB, m map[string]any, key string) time.Time {
	t.Helper()
	s := str(t, m, key)
	if !timeRE.MatchString(s) {
		t.Errorf("%s = %q, not ISO-8601 UTC with milliseconds", key, s)
	}
	tm, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		t.Fatalf("%s = %q: %v", key, s, err)
	}
	return tm
}

// createClient creates a person client and returns its JSON.
func (e *testEnv) createClient(t testing.TB, key string, extra map[string]any) map[string]any {
	t.Helper()
	body := map[string]any{
		"type":          "person",
		"email":         "jane@example.com",
		"personDetails": map[string]any{"firstName": "Jane", "lastName": "Doe"},
	}
	for k, v := range extra {
		body[k] = v
	}
	r := e.do(t, "POST", "/v1/clients", key, body)
	wantStatus(t, r, http.StatusOK)
	return r.JSON
}

func (e *testEnv) newClientID(t testing.TB, key string) string {
	t.Helper()
	return str(t, e.createClient(t, key, nil), "id")
}

// upload uploads img for the client and returns the photo's JSON.
func (e *testEnv) upload(t testing.TB, key, clientID string, img []byte) map[string]any {
	t.Helper()
	r := e.do(t, "POST", "/v1/livePhotos", key, map[string]any{
		"clientId": clientID,
		"data":     base64.StdEncoding.EncodeToString(img),
	})
	wantStatus(t, r, http.StatusOK)
	return r.JSON
}

// listIDs lists a collection page and returns its envelope and item ids.
func (e *testEnv) list(t testing.TB, key, path string) (map[string]any, []string) {
	t.Helper()
	r := e.do(t, "GET", path, key, nil)
	wantStatus(t, r, http.StatusOK)
	items, ok := r.JSON["items"].([]any)
	if !ok {
		t.Fatalf("GET %s: items = %#v, want an array", path, r.JSON["items"])
	}
	var ids []string
	for _, it := range items {
		m, ok := it.(map[string]any)
		if !ok {
			t.Fatalf("GET %s: item %#v is not an object", path, it)
		}
		ids = append(ids, str(t, m, "id"))
	}
	return r.JSON, ids
}

// photoIDs lists every photo of a client (first 1000).
func (e *testEnv) photoIDs(t testing.TB, key, clientID string) []string {
	t.Helper()
	_, ids := e.list(t, key, "/v1/livePhotos?pageSize=1000&clientId="+clientID)
	return ids
}

// tempObjects lists the blob store's objects of uploads not committed:
// temporary files, spool files, unfinished multipart uploads.
func (e *testEnv) tempObjects(t testing.TB) []string {
	t.Helper()
	var tmp []string
	for _, o := range e.snapshot(t) {
		if strings.HasPrefix(o, "tmp/") || strings.HasPrefix(o, "spool:") || strings.HasPrefix(o, "multipart:") {
			tmp = append(tmp, o)
		}
	}
	return tmp
}

// snapshot lists the blob store's objects.
func (e *testEnv) snapshot(t testing.TB) []string {
	t.Helper()
	objs, err := e.objects()
	if err != nil {
		t.Fatalf("list blob objects: %v", err)
	}
	slices.Sort(objs)
	return objs
}

// blobExists reports whether the blob store holds bytes for a photo.
func (e *testEnv) blobExists(t testing.TB, id string) bool {
	t.Helper()
	r, err := e.blobs.Open(context.Background(), id)
	if errors.Is(err, facevault.ErrNotFound) {
		return false
	}
	if err != nil {
		t.Fatalf("open blob %s: %v", id, err)
	}
	r.Close()
	return true
}

// waitPurged waits until the purge queue is empty and no deleted client is
// left: what a client delete promises happens soon after it answers.
func (e *testEnv) waitPurged(t testing.TB) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		b, err := e.store.PurgeBacklog(t.Context())
		if err != nil {
			t.Fatalf("PurgeBacklog: %v", err)
		}
		if b == (facevault.PurgeBacklog{}) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the purge has not finished: %+v left", b)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// wantNoBlob checks that a photo's bytes are gone from the store, and that
// no object of the store is named after it.
func (e *testEnv) wantNoBlob(t testing.TB, id string) {
	t.Helper()
	if e.blobExists(t, id) {
		t.Errorf("blob of live photo %s still exists", id)
	}
	for _, o := range e.snapshot(t) {
		if strings.Contains(o, id) {
			t.Errorf("blob store still holds %s", o)
		}
	}
}

func unknownID() string { return facevault.NewID(time.Now()) }

// envelopeKeys are the fields of a list answer.
var envelopeKeys = []string{"items", "page", "pageSize", "pages", "totalItems"}

func keys(m map[string]any) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	return ks
}

// num returns a numeric field of a JSON object.
func num(t testing.TB, m map[string]any, key string) float64 {
	t.Helper()
	v, ok := m[key].(float64)
	if !ok {
		t.Fatalf("field %q = %#v, want a number; object %v", key, m[key], m)
	}
	return v
}

// wantEnvelope checks the envelope of a list answer.
func wantEnvelope(t testing.TB, env map[string]any, page, pageSize, total, pages, items int) {
	t.Helper()
	if got := keys(env); !slices.Equal(got, envelopeKeys) {
		t.Errorf("envelope fields = %v, want %v", got, envelopeKeys)
	}
	for _, f := range []struct {
		k string
		v int
	}{{"page", page}, {"pageSize", pageSize}, {"totalItems", total}, {"pages", pages}} {
		if got := num(t, env, f.k); got != float64(f.v) {
			t.Errorf("%s = %v, want %d", f.k, got, f.v)
		}
	}
	if got := len(env["items"].([]any)); got != items {
		t.Errorf("len(items) = %d, want %d", got, items)
	}
}
