package http_test

// Fuzz targets for what the API reads from callers: query strings (list
// options and filters), ids in paths, the Authorization and Content-Type
// headers, client bodies and upload bodies. Each request
// is written out as raw HTTP/1.1 and read back with http.ReadRequest, the
// parser net/http's server uses, so the handler sees only requests a real
// server would pass it (what net/http itself refuses is not ours to
// check), and is then served directly, without a network round trip.

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"math"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	jsonv2 "github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"

	"github.com/facevault/facevault"
	"github.com/facevault/facevault/fsblob"
	fvhttp "github.com/facevault/facevault/http"
	"github.com/facevault/facevault/imagecheck"
	"github.com/facevault/facevault/internal/apitest"
	"github.com/facevault/facevault/internal/testimage"
	"github.com/facevault/facevault/internal/upload"
	"github.com/facevault/facevault/sqlite"
)

// fuzzEnv is a server on the embedded default (SQLite and files in a
// temporary directory) with fixed data, made once per fuzz target.
type fuzzEnv struct {
	h     http.Handler
	api   *apitest.Validator
	vault *facevault.Vault
	clock *clock // fixed: set by the fixtures and targets
	log   *errorLog
	blobs string // the blob store's directory

	keyA, keyALive, keyB, keyRevoked string
	scopeA, scopeALive, scopeB       facevault.Scope

	// Fixtures, as stored.
	clients      map[facevault.Scope][]*facevault.Client
	photos       []*facevault.LivePhoto // of photoClient, account A, test mode
	photoClient  string
	otherPhotos  []string // ids of photos of other clients and scopes
	placeholders *strings.Replacer
}

// errorLog is the server's log: it keeps records of level error (an
// unexpected internal error, which no input may cause) and drops the rest.
type errorLog struct {
	mu     sync.Mutex
	errors []string
}

func (l *errorLog) Enabled(_ context.Context, lv slog.Level) bool { return lv >= slog.LevelError }
func (l *errorLog) WithAttrs([]slog.Attr) slog.Handler            { return l }
func (l *errorLog) WithGroup(string) slog.Handler                 { return l }
func (l *errorLog) Handle(_ context.Context, r slog.Record) error {
	var b strings.Builder
	b.WriteString(r.Message)
	r.Attrs(func(a slog.Attr) bool {
		fmt.Fprintf(&b, " %s=%v", a.Key, a.Value)
		return true
	})
	l.mu.Lock()
	defer l.mu.Unlock()
	l.errors = append(l.errors, b.String())
	return nil
}

func (l *errorLog) take() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	e := l.errors
	l.errors = nil
	return e
}

// fixture times: distinct and equal instants, either side of the epoch and
// of second and millisecond boundaries.
var (
	fx0 = time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)
	fx1 = fx0.Add(time.Millisecond)
	fx2 = fx0.Add(999 * time.Millisecond)
	fx3 = time.Date(2024, 2, 29, 12, 34, 56, 789e6, time.UTC)
	fx4 = time.Date(1969, 12, 31, 23, 59, 59, 999e6, time.UTC)
	fx5 = time.Date(2038, 1, 19, 3, 14, 8, 0, time.UTC)
	fx6 = time.Date(1999, 12, 31, 23, 59, 59, 999e6, time.UTC)
)

func newFuzzEnv(f *testing.F) *fuzzEnv {
	ctx := context.Background()
	dir := f.TempDir()
	db, err := sqlite.Open(ctx, filepath.Join(dir, "facevault.db"))
	if err != nil {
		f.Fatalf("sqlite.Open: %v", err)
	}
	f.Cleanup(func() { db.Close() })
	blobDir := filepath.Join(dir, "blobs")
	blobs, err := fsblob.Open(blobDir)
	if err != nil {
		f.Fatalf("fsblob.Open: %v", err)
	}
	f.Cleanup(func() { blobs.Close() })
	e := &fuzzEnv{clock: &clock{}, log: &errorLog{}, blobs: blobDir, clients: map[facevault.Scope][]*facevault.Client{}}
	e.clock.Set(fx0)
	logger := slog.New(e.log)
	e.vault = facevault.NewVault(db, blobs, logger)
	e.vault.Now = e.clock.Now
	e.h = fvhttp.Logged(fvhttp.NewServer(e.vault, db, logger, fvhttp.Config{}), logger)
	if e.api, err = apitest.New(); err != nil {
		f.Fatal(err)
	}

	// Keys with fixed secrets, so that seeds can name them.
	key := func(account string, mode facevault.Mode, secret string, revoked bool) (string, facevault.Scope) {
		acc, err := db.EnsureAccount(ctx, account, fx0)
		if err != nil {
			f.Fatalf("EnsureAccount: %v", err)
		}
		_, rec, err := facevault.NewKey(acc, mode, fx0)
		if err != nil {
			f.Fatalf("NewKey: %v", err)
		}
		rec.Hash = facevault.HashKey(secret)
		if err := db.CreateKey(ctx, rec); err != nil {
			f.Fatalf("CreateKey: %v", err)
		}
		if revoked {
			if err := db.RevokeKey(ctx, rec.ID, fx0); err != nil {
				f.Fatalf("RevokeKey: %v", err)
			}
		}
		return secret, facevault.Scope{AccountID: acc.ID, Mode: mode}
	}
	e.keyA, e.scopeA = key("account-a", facevault.ModeTest, fuzzKeyA, false)
	e.keyALive, e.scopeALive = key("account-a", facevault.ModeLive, fuzzKeyALive, false)
	e.keyB, e.scopeB = key("account-b", facevault.ModeTest, fuzzKeyB, false)
	e.keyRevoked, _ = key("account-a", facevault.ModeTest, fuzzKeyRevoked, true)

	// Clients: the same bodies in every scope, so that a list leaking
	// across tenants shows, at distinct and equal times; some updated.
	bodies := []struct {
		at, updated time.Time
		body        string
		update      string
	}{
		{fx0, time.Time{}, `{"type":"person","email":"jo@example.com","personDetails":{"firstName":"Jo","lastName":"Doe","dob":"1990-02-01","nationality":"GB","gender":"female"},"metadata":{"tier":"gold","a.b":"dotted"}}`, ""},
		{fx0, fx5, `{"type":"person","email":"Jo@Example.com","personDetails":{"firstName":"Zoë","lastName":"Doe"},"metadata":{"tier":" gold","ключ":"значение"}}`, `{"mobile":"+44 7700 900000"}`},
		{fx1, time.Time{}, `{"type":"company","email":"acme@example.com","companyDetails":{"name":"Acme Ltd","incorporationCountry":"US"},"externalId":"ext-1","joinedDate":"2020-01-31"}`, ""},
		{fx2, fx3, `{"type":"company","email":"acme@example.com","companyDetails":{"name":"Acme"},"personDetails":{"firstName":"Ann"},"metadata":{"tier":"","x y":"1"}}`, `{"metadata":{"tier":"silver"}}`},
		{fx3, time.Time{}, `{"type":"person","email":"a+b@example.org","personDetails":{"firstName":"A","middleName":"Q","lastName":"B","ssn":"123-45-6789"},"telephone":"0123"}`, ""},
		{fx3, time.Time{}, `{"type":"person","email":"c@example.org","personDetails":{"firstName":"C","lastName":"B","birthCountry":"FR"},"metadata":{"tier":"gold"}}`, ""},
		{fx4, fx6, `{"type":"person","email":"old@example.com","personDetails":{"firstName":"Old","lastName":"Timer"}}`, `{"externalId":"ext-1"}`},
		{fx5, time.Time{}, `{"type":"company","email":"future@example.com","companyDetails":{"name":"Future","website":"future.example","registrationNumber":"R1","incorporationType":"LLC"}}`, ""},
		{fx6, time.Time{}, `{"type":"person","email":"y2k@example.com","personDetails":{"firstName":"Y","lastName":"K","nationalIdentityNumber":"N","taxIdentificationNumber":"T","socialInsuranceNumber":"S"},"metadata":{"k=v&x":"a=b&c"}}`, ""},
	}
	for _, sc := range []facevault.Scope{e.scopeA, e.scopeALive, e.scopeB} {
		for _, b := range bodies {
			e.clock.Set(b.at)
			var p facevault.ClientPatch
			if err := jsonv2.Unmarshal([]byte(b.body), &p); err != nil {
				f.Fatalf("fixture %s: %v", b.body, err)
			}
			c, err := e.vault.CreateClient(ctx, sc, &p)
			if err != nil {
				f.Fatalf("fixture %s: %v", b.body, err)
			}
			if b.update != "" {
				e.clock.Set(b.updated)
				var u facevault.ClientPatch
				if err := jsonv2.Unmarshal([]byte(b.update), &u); err != nil {
					f.Fatalf("fixture %s: %v", b.update, err)
				}
				if _, _, err := e.vault.UpdateClient(ctx, sc, c.ID, &u); err != nil {
					f.Fatalf("fixture %s: %v", b.update, err)
				}
			}
		}
		cs, _, err := e.vault.Store.Clients(ctx, sc, facevault.ClientFilter{ListOptions: facevault.ListOptions{Page: facevault.Page{Page: 1, PageSize: 1000}}})
		if err != nil || len(cs) != len(bodies) {
			f.Fatalf("fixture clients: %d, %v", len(cs), err)
		}
		e.clients[sc] = cs
	}

	// Photos of one client of A (test), at distinct and equal times, and
	// one each of another client and of B.
	img := testimage.JPEGSize(34<<10, 1)
	upload := func(sc facevault.Scope, clientID string, at time.Time) *facevault.LivePhoto {
		e.clock.Set(at)
		up, err := e.vault.BeginUpload(ctx)
		if err != nil {
			f.Fatalf("BeginUpload: %v", err)
		}
		if _, err := up.Write(img); err != nil {
			f.Fatalf("upload: %v", err)
		}
		p, err := e.vault.FinishUpload(ctx, sc, up, clientID, false)
		if err != nil {
			f.Fatalf("FinishUpload: %v", err)
		}
		return p
	}
	e.photoClient = e.clients[e.scopeA][0].ID
	for _, at := range []time.Time{fx0, fx0, fx1, fx3, fx4, fx5} {
		upload(e.scopeA, e.photoClient, at)
	}
	ps, _, err := e.vault.Store.LivePhotos(ctx, e.scopeA, e.photoClient, facevault.ListOptions{Page: facevault.Page{Page: 1, PageSize: 1000}})
	if err != nil || len(ps) != 6 {
		f.Fatalf("fixture photos: %d, %v", len(ps), err)
	}
	e.photos = ps
	e.otherPhotos = []string{
		upload(e.scopeA, e.clients[e.scopeA][1].ID, fx0).ID,
		upload(e.scopeB, e.clients[e.scopeB][0].ID, fx0).ID,
	}
	e.clock.Set(fx0)
	// Placeholders seeds use for the ids, which are random.
	e.placeholders = strings.NewReplacer(
		"{a}", e.photoClient, // A's (test) client with photos
		"{b}", e.clients[e.scopeB][0].ID, // B's client
		"{l}", e.clients[e.scopeALive][0].ID, // A's live client
		"{p}", e.photos[0].ID, // a photo of {a}
		"{q}", e.otherPhotos[1], // B's photo
	)
	if errs := e.log.take(); len(errs) > 0 {
		f.Fatalf("fixtures logged errors: %v", errs)
	}
	return e
}

const (
	fuzzKeyA       = "test_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
	fuzzKeyALive   = "live_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
	fuzzKeyB       = "test_BBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBB"
	fuzzKeyRevoked = "test_RRRRRRRRRRRRRRRRRRRRRRRRRRRRRRRRRRRRRRRR"
)

// rawRequest writes an HTTP/1.1 request. Header values are written as
// given; a request with a body gets its Content-Length.
func rawRequest(method, target string, body []byte, hdr ...string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s HTTP/1.1\r\nHost: facevault.test\r\n", method, target)
	for i := 0; i+1 < len(hdr); i += 2 {
		fmt.Fprintf(&b, "%s: %s\r\n", hdr[i], hdr[i+1])
	}
	if body != nil {
		fmt.Fprintf(&b, "Content-Length: %d\r\n", len(body))
	}
	b.WriteString("\r\n")
	b.Write(body)
	return b.String()
}

// request parses a raw request as net/http's server does; nil if net/http
// would refuse it itself. A raw request holding more than one request
// (line breaks smuggled into a target or header) is refused here.
func request(raw string) *http.Request {
	br := bufio.NewReader(strings.NewReader(raw))
	req, err := http.ReadRequest(br)
	if err != nil {
		return nil
	}
	body, err := io.ReadAll(req.Body)
	if err != nil {
		return nil
	}
	if _, err := br.Peek(1); err != io.EOF {
		return nil
	}
	req.Body = io.NopCloser(bytes.NewReader(body))
	req.RemoteAddr = "192.0.2.1:1234"
	return req
}

// fuzzResponse is an answer of the server, checked against what every
// answer must be.
type fuzzResponse struct {
	status int
	body   []byte
	json   map[string]any
}

func (r *fuzzResponse) param() string { s, _ := r.json["param"].(string); return s }

// serve answers req and checks what holds for every answer: no 5xx, no
// error logged, a JSON body (204 aside), and errors in the contract's
// shape.
func (e *fuzzEnv) serve(t *testing.T, req *http.Request) *fuzzResponse {
	t.Helper()
	what := req.Method + " " + req.URL.RequestURI()
	rec := httptest.NewRecorder()
	// Every answer is validated against the OpenAPI document. The request
	// is not: a fuzzer's input is any bytes, most of them no valid request.
	req.Header.Set(apitest.InvalidHeader, "fuzz input")
	var problems []string
	e.api.Handler(e.h, func(p string) { problems = append(problems, p) }).ServeHTTP(rec, req)
	if len(problems) > 0 {
		t.Fatalf("%s", strings.Join(problems, "\n"))
	}
	r := &fuzzResponse{status: rec.Code, body: rec.Body.Bytes()}
	if errs := e.log.take(); len(errs) > 0 {
		t.Fatalf("%s: the server logged errors: %q", what, errs)
	}
	if r.status >= 500 {
		t.Fatalf("%s: %d %s", what, r.status, r.body)
	}
	if r.status == http.StatusNoContent {
		if len(r.body) != 0 {
			t.Fatalf("%s: 204 with a body %q", what, r.body)
		}
		return r
	}
	if ct := rec.Header().Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Fatalf("%s: %d with Content-Type %q", what, r.status, ct)
	}
	if err := json.Unmarshal(r.body, &r.json); err != nil || r.json == nil {
		t.Fatalf("%s: %d with a body that is not a JSON object: %q", what, r.status, r.body)
	}
	if r.status >= 400 {
		typ, _ := r.json["type"].(string)
		msg, _ := r.json["message"].(string)
		_, hasParam := r.json["param"]
		if typ == "" || msg == "" || len(r.json) != 2+btoi(hasParam) || hasParam && r.param() == "" {
			t.Fatalf("%s: %d with an error body not in the contract's shape: %s", what, r.status, r.body)
		}
		// 405 is invalid_request with a status of its own.
		if fvhttp.Status(typ) != r.status && !(r.status == http.StatusMethodNotAllowed && typ == facevault.EInvalid) {
			t.Fatalf("%s: %d with type %q", what, r.status, typ)
		}
	}
	return r
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

// do parses and serves a raw request; nil if net/http would refuse it.
func (e *fuzzEnv) do(t *testing.T, raw string) *fuzzResponse {
	t.Helper()
	req := request(raw)
	if req == nil {
		return nil
	}
	return e.serve(t, req)
}

// jsonPaths returns every member of a JSON object and of the objects in
// it, as dotted paths.
func jsonPaths(v any, prefix string, into map[string]bool) map[string]bool {
	if m, ok := v.(map[string]any); ok {
		for k, x := range m {
			into[prefix+k] = true
			jsonPaths(x, prefix+k+".", into)
		}
	}
	return into
}

var (
	personFields  = []string{"firstName", "middleName", "lastName", "dob", "gender", "nationality", "birthCountry", "ssn", "socialInsuranceNumber", "nationalIdentityNumber", "taxIdentificationNumber"}
	companyFields = []string{"name", "website", "registrationNumber", "incorporationCountry", "incorporationType"}
	requiredNames = map[string]bool{"type": true, "email": true, "personDetails": true, "personDetails.firstName": true,
		"personDetails.lastName": true, "companyDetails": true, "companyDetails.name": true}
)

// mergeWire is the model of a create (w empty) or update: the body m,
// decoded by encoding/json, merged into w, a client's wire form without
// its id and timestamps. Strings are trimmed of spaces and empty ones
// omitted; null leaves a field as it is; nested objects merge field by
// field and metadata key by key (values untrimmed); entityName follows.
func mergeWire(w, m map[string]any) map[string]any {
	out := map[string]any{}
	for k, v := range w {
		if x, ok := v.(map[string]any); ok {
			c := map[string]any{}
			for k2, v2 := range x {
				c[k2] = v2
			}
			v = c
		}
		out[k] = v
	}
	str := func(dst map[string]any, src map[string]any, k string) {
		if s, ok := src[k].(string); ok {
			if s = strings.TrimSpace(s); s == "" {
				delete(dst, k)
			} else {
				dst[k] = s
			}
		}
	}
	if t, ok := m["type"].(string); ok {
		out["type"] = t
	}
	for _, k := range []string{"email", "mobile", "telephone", "externalId", "joinedDate"} {
		str(out, m, k)
	}
	for _, d := range []struct {
		name   string
		fields []string
	}{{"personDetails", personFields}, {"companyDetails", companyFields}} {
		src, ok := m[d.name].(map[string]any)
		if !ok {
			continue
		}
		dst, _ := out[d.name].(map[string]any)
		if dst == nil {
			dst = map[string]any{}
		}
		for _, k := range d.fields {
			str(dst, src, k)
		}
		out[d.name] = dst
		if len(dst) == 0 {
			delete(out, d.name)
		}
	}
	if src, ok := m["metadata"].(map[string]any); ok {
		dst, _ := out["metadata"].(map[string]any)
		if dst == nil {
			dst = map[string]any{}
		}
		for k, v := range src {
			dst[k] = v
		}
		out["metadata"] = dst
		if len(dst) == 0 {
			delete(out, "metadata")
		}
	}
	delete(out, "entityName")
	get := func(obj, k string) string {
		o, _ := out[obj].(map[string]any)
		s, _ := o[k].(string)
		return s
	}
	name := ""
	switch out["type"] {
	case "person":
		name = strings.TrimSpace(get("personDetails", "firstName") + " " + get("personDetails", "lastName"))
	case "company":
		name = get("companyDetails", "name")
	}
	if name != "" {
		out["entityName"] = name
	}
	return out
}

var fuzzIDRE = regexp.MustCompile(`^[0-9a-f]{24}$`)

// wireOnly drops a client's id and timestamps, after checking their form.
func wireOnly(t *testing.T, c map[string]any, at time.Time) map[string]any {
	t.Helper()
	id, _ := c["id"].(string)
	want := at.UTC().Format("2006-01-02T15:04:05.000Z")
	if !fuzzIDRE.MatchString(id) || c["updatedAt"] != want {
		t.Fatalf("client %v: want an id and updatedAt %s", c, want)
	}
	out := map[string]any{}
	for k, v := range c {
		if k != "id" && k != "createdAt" && k != "updatedAt" {
			out[k] = v
		}
	}
	return out
}

// jsonObject reports whether b is a JSON object by RFC 8259 and RFC 7493
// (no duplicate names, valid UTF-8), and decodes it with encoding/json.
func jsonObject(b []byte) (map[string]any, bool) {
	b = bytes.TrimSpace(b)
	if len(b) == 0 || b[0] != '{' || !jsontext.Value(b).IsValid() {
		return nil, false
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, false
	}
	return m, true
}

// checkBodyError checks a refused client body: a 400 naming a field the
// body has (or, for a create, a required one), or naming none if and only
// if the body is not a JSON object.
func checkBodyError(t *testing.T, what string, r *fuzzResponse, body []byte, m map[string]any, isObject bool, required map[string]bool) {
	t.Helper()
	if r.status != http.StatusBadRequest {
		t.Fatalf("%s %q: %d %s", what, body, r.status, r.body)
	}
	p := r.param()
	switch {
	case !isObject && p != "":
		t.Fatalf("%s %q is not a JSON object, but the error names %q: %s", what, body, p, r.body)
	case isObject && p == "":
		t.Fatalf("%s %q is a JSON object, but the error names no field: %s", what, body, r.body)
	case isObject && !jsonPaths(m, "", map[string]bool{})[p] && !required[p]:
		t.Fatalf("%s %q: the error names %q, which the body does not have: %s", what, body, p, r.body)
	}
}

// FuzzClientBody fuzzes the bodies of client create and update through the
// server (readJSON, ClientPatch, validation, the store, the wire form). A
// body that is not a JSON object is a 400 naming no field; a refused
// object is a 400 naming a field it has or a required one, and changes
// nothing. An accepted create answers the model's client (mergeWire of the
// body as encoding/json decodes it), which GET then answers byte for byte,
// and whose JSON form, posted as a create, makes the same client again.
// An update is checked the same way against the created client.
func FuzzClientBody(f *testing.F) {
	for _, c := range [][2]string{
		{`{"type":"person","email":"jo@example.com","personDetails":{"firstName":"Jo","lastName":"Doe","dob":"1990-02-01","nationality":"GB","gender":"female"},"metadata":{"tier":"gold"}}`, `{"personDetails":{"middleName":"Q"}}`},
		{`{"type":"company","email":" acme@example.com ","companyDetails":{"name":"Acme","incorporationCountry":"US"},"joinedDate":"2020-01-31","externalId":"x"}`, `{"type":"person"}`},
		{`{"type":"person","email":"a@b.c","personDetails":{"firstName":"A","lastName":"B"},"metadata":{"a":"1"}}`, `{"metadata":{"a":null}}`},
		{`{"type":"person","email":"a@b.c","personDetails":{"firstName":"A","lastName":"B"}}`, `{"email":""}`},
		{`{"type":"person","email":"a@b.c","personDetails":{"firstName":"A","lastName":"B"}}`, `{"email":5}`},
		{`{"type":"person","email":"a@b.c","personDetails":{"firstName":"A","lastName":"B"}}`, `{"personDetails":{"gender":"x"}}`},
		{`{"type":"person","email":"a@b.c","personDetails":{"firstName":"A","lastName":"B"}}`, `{"metadata":{"k":5}}`},
		{`{"type":"person","email":"a@b.c","personDetails":{"firstName":"A","lastName":"B"},"companyDetails":{}}`, `{"personDetails":null,"Email":"x"}`},
		{`{"type":"person"}`, `[]`},
		{`{"type":"person","email":"a@b.c"}`, `{"a":1,"a":2}`},
		{`{"email":"a@b.c","personDetails":"x"}`, "{\"email\":\"\xff\"}"},
		{`{"type":"robot","email":"a@b.c"}`, `null`},
		{`{"type":"company","email":"a@b.c","companyDetails":{"name":"N"},"metadata":{"k\"":"v"}}`, `{"metadata":{}}`},
		{`{"type":"company","email":"a@b.c","companyDetails":{"name":"N"},"personDetails":{"dob":"2020-02-30"}}`, `{"joinedDate":"2020-02-29"}`},
		{`{"type":"company","email":"a@b.c","companyDetails":{"name":" N "},"telephone":"\u0000"}`, `{"companyDetails":{"name":"\t"}}`},
		{`{"type":"person","email":"a@b.c","personDetails":{"firstName":"A","lastName":"B"},"metadata":[]}`, `{`},
		{``, `{}`},
	} {
		f.Add([]byte(c[0]), []byte(c[1]))
	}
	e := newFuzzEnv(f)
	f.Fuzz(func(t *testing.T, create, update []byte) {
		e.clock.Set(fx0)
		r := e.do(t, rawRequest("POST", "/v1/clients", create, "Authorization", e.keyA, "Content-Type", "application/json"))
		if r == nil {
			t.Fatalf("net/http refuses a create with body %q", create)
		}
		m, isObject := jsonObject(create)
		if r.status != http.StatusOK {
			checkBodyError(t, "create", r, create, m, isObject, requiredNames)
			return
		}
		if !isObject {
			t.Fatalf("create %q is not a JSON object, but was accepted: %s", create, r.body)
		}
		got := wireOnly(t, r.json, fx0)
		if want := mergeWire(nil, m); !reflect.DeepEqual(got, want) {
			t.Fatalf("create %q answered %s; the model says %v", create, r.body, want)
		}
		id := r.json["id"].(string)
		get := func() []byte {
			g := e.do(t, rawRequest("GET", "/v1/clients/"+id, nil, "Authorization", e.keyA))
			if g.status != http.StatusOK {
				t.Fatalf("GET of a created client: %d %s", g.status, g.body)
			}
			return g.body
		}
		if g := get(); !bytes.Equal(g, r.body) {
			t.Fatalf("create answered %s, GET %s", r.body, g)
		}
		again := e.do(t, rawRequest("POST", "/v1/clients", r.body, "Authorization", e.keyA, "Content-Type", "application/json"))
		if again.status != http.StatusOK || !reflect.DeepEqual(wireOnly(t, again.json, fx0), got) {
			t.Fatalf("the JSON form %s, posted as a create: %d %s", r.body, again.status, again.body)
		}

		e.clock.Set(fx1)
		before := get()
		u := e.do(t, rawRequest("POST", "/v1/clients/"+id, update, "Authorization", e.keyA, "Content-Type", "application/json"))
		um, uIsObject := jsonObject(update)
		if u.status != http.StatusOK {
			checkBodyError(t, "update", u, update, um, uIsObject, nil)
			if g := get(); !bytes.Equal(g, before) {
				t.Fatalf("refused update %q changed the client from %s to %s", update, before, g)
			}
			return
		}
		if !uIsObject {
			t.Fatalf("update %q is not a JSON object, but was accepted: %s", update, u.body)
		}
		if want := mergeWire(got, um); !reflect.DeepEqual(wireOnly(t, u.json, fx1), want) {
			t.Fatalf("update %q of %s answered %s; the model says %v", update, r.body, u.body, want)
		}
		if u.json["id"] != id || u.json["createdAt"] != r.json["createdAt"] {
			t.Fatalf("update %q changed the id or createdAt: %s", update, u.body)
		}
		if g := get(); !bytes.Equal(g, u.body) {
			t.Fatalf("update answered %s, GET %s", u.body, g)
		}
	})
}

// isoDate is the model of a date filter, ISO-8601's extended format as
// the contract accepts it: a date, optionally a time of hours and minutes
// with optional seconds and fraction (point or comma), and, with a time, an
// optional zone (Z or ±hh:mm). No zone is UTC.
var isoDate = regexp.MustCompile(`^(\d{4})-(\d\d)-(\d\d)(?:T(\d\d):(\d\d)(?::(\d\d)(?:[.,](\d+))?)?(Z|[+-]\d\d:\d\d)?)?$`)

func refDate(s string) (time.Time, bool) {
	m := isoDate.FindStringSubmatch(s)
	if m == nil {
		return time.Time{}, false
	}
	n := func(i int) int { v, _ := strconv.Atoi(m[i]); return v }
	y, mo, d := n(1), n(2), n(3)
	h, mi, sec := n(4), n(5), n(6)
	if mo < 1 || mo > 12 || d < 1 || d > time.Date(y, time.Month(mo)+1, 0, 0, 0, 0, 0, time.UTC).Day() || h > 23 || mi > 59 || sec > 59 {
		return time.Time{}, false
	}
	ns := 0
	if frac := m[7]; frac != "" {
		frac = (frac + "000000000")[:9]
		ns, _ = strconv.Atoi(frac)
	}
	off := 0
	if z := m[8]; len(z) == 6 {
		zh, _ := strconv.Atoi(z[1:3])
		zm, _ := strconv.Atoi(z[4:6])
		if zh > 23 || zm > 59 {
			return time.Time{}, false
		}
		off = zh*3600 + zm*60
		if z[0] == '-' {
			off = -off
		}
	}
	return time.Date(y, time.Month(mo), d, h, mi, sec, ns, time.FixedZone("", off)).UTC(), true
}

var integer = regexp.MustCompile(`^[+-]?[0-9]+$`)

// refInt is the model of page and pageSize: absent is def; once, an
// integer from lo to hi (spaces around it allowed).
func refInt(q url.Values, name string, def, lo, hi int64) (int64, bool) {
	vs, ok := q[name]
	if !ok {
		return def, true
	}
	if len(vs) != 1 {
		return 0, false
	}
	s := strings.TrimSpace(vs[0])
	if !integer.MatchString(s) {
		return 0, false
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < lo || n > hi {
		return 0, false
	}
	return n, true
}

// listModel is what the model says of a list query.
type listModel struct {
	bad            map[string]bool // the answer is a 400 naming one of these, if any
	page, pageSize int64
	items          []string // ids of every match, in order
	dates          url.Values
}

// item is what a list filters and orders on.
type item struct {
	id               string
	created, updated time.Time
	attrs            map[string]any // the wire form, for the equality filters
}

var dateParams = []string{"createdAfter", "createdBefore", "updatedAfter", "updatedBefore"}

// refList is the model of a list: paging, the four date filters and, for
// clients, the equality filters, over the items of the caller's scope.
// q is the query as parsed by the form-encoding rules, malformed whether a
// part of it could not be parsed (which, like an unknown parameter, must
// match nothing rather than be dropped).
func refList(q url.Values, malformed bool, items []item, filters func(name string) (attr func(item) (string, bool), ok bool)) listModel {
	m := listModel{bad: map[string]bool{}, dates: url.Values{}}
	var ok bool
	if m.page, ok = refInt(q, "page", 1, 1, math.MaxInt32); !ok {
		m.bad["page"] = true
	}
	if m.pageSize, ok = refInt(q, "pageSize", 100, 1, 1000); !ok {
		m.bad["pageSize"] = true
	}
	impossible := malformed
	var conds []func(item) bool
	for name, vs := range q {
		switch {
		case name == "page" || name == "pageSize":
		case slices.Contains(dateParams, name):
			at, ok := refDate(vs[0])
			if !ok || len(vs) != 1 {
				impossible = true
				continue
			}
			m.dates[name] = []string{at.Format(time.RFC3339Nano)}
			field := map[bool]func(item) time.Time{true: func(i item) time.Time { return i.created }, false: func(i item) time.Time { return i.updated }}[strings.HasPrefix(name, "created")]
			after := strings.HasSuffix(name, "After")
			conds = append(conds, func(i item) bool {
				if after {
					return field(i).After(at)
				}
				return field(i).Before(at)
			})
		default:
			attr, known := filters(name)
			if !known || len(vs) != 1 {
				impossible = true
				continue
			}
			want := vs[0]
			conds = append(conds, func(i item) bool {
				v, ok := attr(i)
				return ok && v == want
			})
		}
	}
	if impossible {
		return m
	}
	for _, it := range items {
		if !slices.ContainsFunc(conds, func(c func(item) bool) bool { return !c(it) }) {
			m.items = append(m.items, it.id)
		}
	}
	return m
}

// clientFilter is the model of the client list's equality filters: the
// attributes of ClientFilterFields and metadata.<key>, equal as strings,
// an absent attribute equal to "". A metadata key no client can have
// (with a quote, a backslash or a control character) matches nothing.
func clientFilter(name string) (func(item) (string, bool), bool) {
	if k, ok := strings.CutPrefix(name, "metadata."); ok {
		if k == "" {
			return nil, false
		}
		if strings.ContainsFunc(k, func(r rune) bool { return r < 0x20 || r == 0x7f || r == '"' || r == '\\' }) {
			return func(item) (string, bool) { return "", false }, true
		}
		return func(i item) (string, bool) {
			md, _ := i.attrs["metadata"].(map[string]any)
			s, _ := md[k].(string)
			return s, true
		}, true
	}
	if !slices.Contains(facevault.ClientFilterFields, name) {
		return nil, false
	}
	obj, field, nested := strings.Cut(name, ".")
	return func(i item) (string, bool) {
		v := i.attrs[obj]
		if nested {
			o, _ := v.(map[string]any)
			v = o[field]
		}
		s, _ := v.(string)
		return s, true
	}, true
}

// parseForm parses a query by the form-encoding rules, reporting whether
// any part was malformed (a bad escape or a semicolon).
func parseForm(raw string) (url.Values, bool) {
	q := url.Values{}
	malformed := false
	for _, part := range strings.Split(raw, "&") {
		if part == "" {
			continue
		}
		k, v, _ := strings.Cut(part, "=")
		k, err1 := url.QueryUnescape(k)
		v, err2 := url.QueryUnescape(v)
		if strings.Contains(part, ";") || err1 != nil || err2 != nil {
			malformed = true
			continue
		}
		q[k] = append(q[k], v)
	}
	return q, malformed
}

func (e *fuzzEnv) clientItems(sc facevault.Scope) []item {
	var items []item
	for _, c := range e.clients[sc] {
		doc, err := jsonv2.Marshal(c)
		if err != nil {
			panic(err)
		}
		var attrs map[string]any
		if err := json.Unmarshal(doc, &attrs); err != nil {
			panic(err)
		}
		items = append(items, item{id: c.ID, created: c.CreatedAt, updated: c.UpdatedAt, attrs: attrs})
	}
	return sortItems(items)
}

func sortItems(items []item) []item {
	slices.SortFunc(items, func(a, b item) int {
		if c := b.created.Compare(a.created); c != 0 {
			return c
		}
		return strings.Compare(b.id, a.id)
	})
	return items
}

// FuzzListQuery fuzzes the query string of both lists (GET /v1/clients,
// and GET /v1/livePhotos when photos is set) against the model (refList):
// a 400 names a faulty page, pageSize or clientId, and only then is there
// a 400; otherwise the envelope and the page of ids are the model's, for
// every combination of paging, date filters (refDate: each accepted date
// must mean the instant the model reads, which the list then answers the
// same way when re-sent as RFC 3339), equality filters, and unknown,
// repeated or malformed parameters (which never widen a list: they match
// nothing). {a} in the query stands for the id of the client with photos,
// {b} for a client of another account, {l} for one of the same account in
// live mode.
func FuzzListQuery(f *testing.F) {
	for _, s := range []string{
		"", "page=2&pageSize=2", "pageSize=1000", "page=0", "pageSize=1001", "page=%2B1", "page=+1", "page=%201%20", "page=1&page=1",
		"page=abc&pageSize=0", "type=person", "type=company&email=acme%40example.com", "email=jo@example.com", "email=JO@example.com",
		"personDetails.firstName=Zo%C3%AB", "personDetails.lastName=Doe&personDetails.firstName=Jo", "companyDetails.name=Acme",
		"companyDetails.name=", "mobile=", "mobile=%2B44+7700+900000", "externalId=ext-1", "joinedDate=2020-01-31",
		"metadata.tier=gold", "metadata.tier=+gold", "metadata.tier=%20gold", "metadata.tier=", "metadata.a.b=dotted",
		"metadata.%D0%BA%D0%BB%D1%8E%D1%87=%D0%B7%D0%BD%D0%B0%D1%87%D0%B5%D0%BD%D0%B8%D0%B5", "metadata.x+y=1", "metadata.k%3Dv%26x=a%3Db%26c",
		"metadata.=gold", "metadata.a%22b=", "metadata.nope=", "metadata.%00=", "unknown=1", "Type=person", "type=person&type=person",
		"type=person;x=1", "type=%zz", "email=jo@example.com&%zz", "type=person%00", "personDetails.ssn=123-45-6789",
		"createdAfter=2020-01-01T00:00:00Z", "createdAfter=2020-01-01T00:00:00.000Z", "createdAfter=2020-01-01T00:00:00.0005Z",
		"createdBefore=2020-01-01T00:00:00.001Z", "createdBefore=2020-01-01", "createdAfter=2019-12-31T23:59:59.999999999Z",
		"createdAfter=2020-01-01T01:00%2B01:00", "createdAfter=2020-01-01T00:00", "createdAfter=2020-01-01T00:00Z",
		"createdAfter=2020-01-01T00:00:00,5Z", "createdAfter=2020-01-01T00:00:00.1234567891Z", "createdBefore=0001-01-01T00:00:00Z",
		"createdBefore=0001-01-01T01:00%2B01:00", "createdBefore=0000-12-31", "createdAfter=9999-12-31T23:59:59.999Z",
		"updatedAfter=2024-02-29T12:34:56.789Z", "updatedBefore=1970-01-01", "updatedAfter=2020-02-30", "createdAfter=yesterday",
		"createdAfter=", "createdAfter=2020-01-01T1:00", "createdAfter=2020-01-01t00:00:00z", "createdAfter=2020-01-01T00:00:00%2B24:00",
		"createdAfter=2020-01-01&createdAfter=2020-01-01", "createdAfter=2020-01-01T00:00:00-00:00&createdBefore=2038-01-19T03:14:08Z",
		"clientId={a}", "clientId={a}&page=2&pageSize=4", "clientId={a}&createdAfter=2020-01-01", "clientId={b}", "clientId={l}",
		"clientId=", "clientId={a}&clientId={a}", "clientId={a}&type=person", "clientId={a}&pageSize=0", "clientId=%20{a}",
		"clientId={a}&createdBefore=1970-01-01T00:00:00Z", "clientId=x&page=0",
	} {
		f.Add(s, strings.HasPrefix(s, "clientId"))
	}
	e := newFuzzEnv(f)
	clients := e.clientItems(e.scopeA)
	var photos []item
	for _, p := range e.photos {
		photos = append(photos, item{id: p.ID, created: p.CreatedAt, updated: p.UpdatedAt})
	}
	photos = sortItems(photos)
	f.Fuzz(func(t *testing.T, raw string, livePhotos bool) {
		raw = e.placeholders.Replace(raw)
		target := "/v1/clients?" + raw
		if livePhotos {
			target = "/v1/livePhotos?" + raw
		}
		req := request(rawRequest("GET", target, nil, "Authorization", e.keyA))
		if req == nil {
			return
		}
		q, malformed := parseForm(req.URL.RawQuery)
		var want listModel
		if livePhotos {
			clientID := q.Get("clientId")
			// Only the photos of the client named, once; no other filter.
			items := photos
			if clientID != e.photoClient || len(q["clientId"]) != 1 {
				items = nil
			}
			q2 := url.Values{}
			for k, v := range q {
				if k != "clientId" {
					q2[k] = v
				}
			}
			want = refList(q2, malformed, items, func(string) (func(item) (string, bool), bool) { return nil, false })
			if clientID == "" {
				want.bad["clientId"] = true
			}
		} else {
			want = refList(q, malformed, clients, clientFilter)
		}
		r := e.serve(t, req)
		if len(want.bad) > 0 {
			if r.status != http.StatusBadRequest || !want.bad[r.param()] {
				t.Fatalf("GET %s: %d %s; want a 400 naming one of %v", target, r.status, r.body, want.bad)
			}
			return
		}
		if r.status != http.StatusOK {
			t.Fatalf("GET %s: %d %s; want 200", target, r.status, r.body)
		}
		total := int64(len(want.items))
		from := min((want.page-1)*want.pageSize, total)
		to := min(from+want.pageSize, total)
		wantEnv := map[string]any{
			"page": float64(want.page), "pageSize": float64(want.pageSize), "totalItems": float64(total),
			"pages": float64((total + want.pageSize - 1) / want.pageSize),
		}
		var ids []string
		items, _ := r.json["items"].([]any)
		for _, it := range items {
			m, _ := it.(map[string]any)
			id, _ := m["id"].(string)
			ids = append(ids, id)
		}
		gotEnv := map[string]any{}
		for k, v := range r.json {
			if k != "items" {
				gotEnv[k] = v
			}
		}
		if !reflect.DeepEqual(gotEnv, wantEnv) || !slices.Equal(ids, want.items[from:to]) || items == nil {
			t.Fatalf("GET %s:\n got %s\nwant %v with items %v", target, r.body, wantEnv, want.items[from:to])
		}
		// Each date the model read, re-sent as that instant in RFC 3339,
		// gives the same answer.
		if len(want.dates) > 0 && !malformed {
			q2 := url.Values{}
			for k, v := range q {
				q2[k] = v
			}
			for k, v := range want.dates {
				q2[k] = v
			}
			req2 := request(rawRequest("GET", req.URL.EscapedPath()+"?"+q2.Encode(), nil, "Authorization", e.keyA))
			if req2 == nil {
				t.Fatalf("net/http refuses the query %q", q2.Encode())
			}
			again := e.serve(t, req2)
			if !bytes.Equal(again.body, r.body) {
				t.Fatalf("GET %s answered %s,\nbut with the dates re-formatted (%s) %s", target, r.body, q2.Encode(), again.body)
			}
		}
	})
}

// escapeID writes id with the characters selected by mask percent-encoded
// (upper-case hex if upper).
func escapeID(id string, mask uint32, upper bool) string {
	var b strings.Builder
	for i := 0; i < len(id); i++ {
		if mask>>(i%32)&1 == 0 {
			b.WriteByte(id[i])
			continue
		}
		s := fmt.Sprintf("%%%02x", id[i])
		if upper {
			s = strings.ToUpper(s)
		}
		b.WriteString(s)
	}
	return b.String()
}

// FuzzPathID fuzzes the id in the paths of single resources. The fuzzer's
// segment may hold {a}, {b}, {l}, {p} and {q} (the ids of newFuzzEnv),
// written with the characters mask selects percent-encoded. Whatever the
// segment, the answer is never a 5xx or a 400: an unclean path or another
// route is 404 or 405; a segment that decodes to the id of the caller's
// client (or photo) answers it (the id round-trips through any escaping);
// any other, another tenant's or another mode's id included, is 404
// resource_not_found. Deletes and redactions are sent only for ids that
// exist nowhere.
func FuzzPathID(f *testing.F) {
	for _, s := range []string{"{a}", "{b}", "{l}", "{p}", "{q}", "{a}x", "x{a}", "{a}%00", "{a}%2F", "..%2F{a}", "%2E%2E", ".", "..",
		"nonexistent", "5EB1B5F231778A0008D1C3F6", "000000000000000000000000", "{a}/download", "{p}/", "%7Ba%7D", "{a}?x=1", "{a}#x",
		strings.Repeat("a", 10000), "%zz", "%", "ü", "{a};x", "{a}%20", "+{a}"} {
		for _, route := range []uint8{0, 2} {
			f.Add(s, uint32(0), route)
		}
		f.Add(s, uint32(0x00ffff00), uint8(0x80|(len(s)%7)))
	}
	for route := range uint8(7) {
		f.Add("{a}", uint32(0x5), route)
		f.Add("{p}", uint32(0xa0000), route)
	}
	e := newFuzzEnv(f)
	exists := map[string]bool{}
	for _, cs := range e.clients {
		for _, c := range cs {
			exists[c.ID] = true
		}
	}
	for _, p := range e.photos {
		exists[p.ID] = true
	}
	for _, id := range e.otherPhotos {
		exists[id] = true
	}
	photoIDs := map[string]bool{}
	for _, p := range e.photos {
		photoIDs[p.ID] = true
	}
	f.Fuzz(func(t *testing.T, seg string, mask uint32, route uint8) {
		upper := route&0x80 != 0
		seg = strings.NewReplacer(
			"{a}", escapeID(e.photoClient, mask, upper),
			"{b}", escapeID(e.clients[e.scopeB][0].ID, mask, upper),
			"{l}", escapeID(e.clients[e.scopeALive][0].ID, mask, upper),
			"{p}", escapeID(e.photos[0].ID, mask, upper),
			"{q}", escapeID(e.otherPhotos[1], mask, upper),
		).Replace(seg)
		type rt struct {
			method, prefix, suffix string
			body                   []byte
			photo, destroys        bool
		}
		r := []rt{
			{"GET", "/v1/clients/", "", nil, false, false},
			{"POST", "/v1/clients/", "", []byte(`{}`), false, false},
			{"GET", "/v1/livePhotos/", "", nil, true, false},
			{"GET", "/v1/livePhotos/", "/download", nil, true, false},
			{"DELETE", "/v1/clients/", "", nil, false, true},
			{"DELETE", "/v1/livePhotos/", "", nil, true, true},
			{"POST", "/v1/livePhotos/", "/redact", nil, true, true},
		}[int(route&0x7f)%7]
		hdr := []string{"Authorization", e.keyA}
		if r.body != nil {
			hdr = append(hdr, "Content-Type", "application/json")
		}
		req := request(rawRequest(r.method, r.prefix+seg+r.suffix, r.body, hdr...))
		if req == nil {
			return
		}
		// The segment as ServeMux sees it: the escaped path between the
		// route's prefix and suffix.
		p := req.URL.EscapedPath()
		s, okPrefix := strings.CutPrefix(p, r.prefix)
		s, okSuffix := strings.CutSuffix(s, r.suffix)
		if p == r.prefix || p+"/" == r.prefix {
			return // the collection (the rest went into the query), not an id
		}
		single := okPrefix && okSuffix && s != "" && !strings.Contains(s, "/") && path.Clean(p) == p
		id, err := url.PathUnescape(s)
		if single && err == nil && exists[id] && r.destroys {
			return // not this one: the fixtures must stay
		}
		res := e.serve(t, req)
		what := r.method + " " + req.URL.RequestURI()
		if !single || err != nil {
			if res.status != http.StatusNotFound && res.status != http.StatusMethodNotAllowed {
				t.Fatalf("%s: %d %s; want 404 or 405", what, res.status, res.body)
			}
			return
		}
		mine := id == e.photoClient && !r.photo || photoIDs[id] && r.photo
		switch {
		case mine && r.suffix == "/download":
			if res.status != http.StatusOK || res.json["data"] == nil {
				t.Fatalf("%s (id %q): %d %s; want the image", what, id, res.status, res.body)
			}
		case mine:
			if res.status != http.StatusOK || res.json["id"] != id {
				t.Fatalf("%s (id %q): %d %s; want the resource", what, id, res.status, res.body)
			}
		case res.status != http.StatusNotFound || res.json["type"] != facevault.ENotFound:
			t.Fatalf("%s (id %q): %d %s; want 404 resource_not_found", what, id, res.status, res.body)
		}
	})
}

// refKey is the model of the Authorization header: the key, alone or
// after "Bearer " (any case), with spaces around either.
func refKey(v string) string {
	v = strings.TrimSpace(v)
	if len(v) > 7 && strings.EqualFold(v[:7], "bearer ") {
		v = strings.TrimSpace(v[7:])
	}
	return v
}

// FuzzHeaders fuzzes the Authorization and Content-Type headers. Only the
// exact secret of an active key (refKey) authenticates, and then a list
// answers exactly that key's account and mode; any other value, a revoked
// key's included, is 401 unauthorized. A request body is read as JSON only
// if its Content-Type's media type is application/json (any case, any
// parameters mime.ParseMediaType accepts); any other, or none, is a 400
// naming Content-Type, on client bodies and uploads alike.
func FuzzHeaders(f *testing.F) {
	for _, s := range [][2]string{
		{fuzzKeyA, "application/json"}, {fuzzKeyALive, "application/json; charset=utf-8"}, {fuzzKeyB, "Application/JSON"},
		{fuzzKeyRevoked, "application/json;charset=UTF-8"}, {"Bearer " + fuzzKeyA, "application/json ; charset=utf-8"},
		{"bearer   " + fuzzKeyA + "  ", "application/jsonx"}, {"BEARER " + fuzzKeyB, "text/json"}, {"Bearer\t" + fuzzKeyA, "application/json; charset"},
		{"Basic " + fuzzKeyA, "application/json; a=1; a=2"}, {fuzzKeyA[:len(fuzzKeyA)-1], "application/*"}, {fuzzKeyA + "A", ""},
		{"", "application/json, text/plain"}, {"test_", "multipart/form-data; boundary=x"}, {"\u00a0" + fuzzKeyA, "application/json; charset=\"utf-8\""},
		{"Bearer " + fuzzKeyA + " x", "application/problem+json"}, {strings.ToUpper(fuzzKeyA), "application /json"},
	} {
		f.Add(s[0], s[1], uint8(0))
		f.Add(s[0], s[1], uint8(1))
	}
	e := newFuzzEnv(f)
	idsOf := func(sc facevault.Scope) []string {
		var ids []string
		for _, c := range e.clients[sc] {
			ids = append(ids, c.ID)
		}
		slices.Sort(ids)
		return ids
	}
	scopes := map[string][]string{fuzzKeyA: idsOf(e.scopeA), fuzzKeyALive: idsOf(e.scopeALive), fuzzKeyB: idsOf(e.scopeB)}
	f.Fuzz(func(t *testing.T, auth, ctype string, route uint8) {
		// Authorization, on a list of every client of the scope.
		var hdr []string
		if auth != "" {
			hdr = []string{"Authorization", auth}
		}
		if req := request(rawRequest("GET", "/v1/clients?pageSize=1000", nil, hdr...)); req != nil {
			r := e.serve(t, req)
			want, ok := scopes[refKey(req.Header.Get("Authorization"))]
			if !ok {
				if r.status != http.StatusUnauthorized || r.json["type"] != facevault.EUnauthorized {
					t.Fatalf("Authorization %q: %d %s; want 401", auth, r.status, r.body)
				}
			} else {
				var ids []string
				items, _ := r.json["items"].([]any)
				for _, it := range items {
					m, _ := it.(map[string]any)
					id, _ := m["id"].(string)
					ids = append(ids, id)
				}
				slices.Sort(ids)
				if r.status != http.StatusOK || !slices.Equal(ids, want) {
					t.Fatalf("Authorization %q: %d %s; want the clients %v", auth, r.status, r.body, want)
				}
			}
		}

		// Content-Type, on a body that is refused after it: a client of
		// an unknown type, or an upload without data.
		hdr = []string{"Authorization", e.keyA}
		if ctype != "" {
			hdr = append(hdr, "Content-Type", ctype)
		}
		target, body, param := "/v1/clients", `{"type":"robot"}`, "type"
		if route&1 == 1 {
			target, body, param = "/v1/livePhotos", `{"clientId":"x"}`, "data"
		}
		req := request(rawRequest("POST", target, []byte(body), hdr...))
		if req == nil {
			return
		}
		v := req.Header.Get("Content-Type")
		mt, _, _ := strings.Cut(v, ";")
		isJSON := strings.EqualFold(strings.TrimSpace(mt), "application/json")
		r := e.serve(t, req)
		if r.status != http.StatusBadRequest {
			t.Fatalf("POST %s with Content-Type %q: %d %s; want 400", target, v, r.status, r.body)
		}
		switch p := r.param(); {
		case p == param && !isJSON:
			t.Fatalf("POST %s with Content-Type %q: the body was read (%s)", target, v, r.body)
		case p == "Content-Type" && slices.Contains([]string{"application/json", "application/json; charset=utf-8", "Application/JSON", "application/json;charset=UTF-8"}, v):
			t.Fatalf("POST %s with Content-Type %q: refused (%s)", target, v, r.body)
		case p != param && p != "Content-Type":
			t.Fatalf("POST %s with Content-Type %q: %s", target, v, r.body)
		}
	})
}

// blobFiles lists the files of the blob store, committed or temporary.
func (e *fuzzEnv) blobFiles(t *testing.T) []string {
	t.Helper()
	var files []string
	err := filepath.WalkDir(e.blobs, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if rel, _ := filepath.Rel(e.blobs, p); !d.IsDir() && rel != "LOCK" {
			files = append(files, filepath.ToSlash(rel))
		}
		return nil
	})
	if err != nil {
		t.Fatalf("list blob files: %v", err)
	}
	slices.Sort(files)
	return files
}

// FuzzUpload fuzzes upload bodies through the server (the streaming parser,
// the image check, the blob store and the record) against a reference
// made of the parts checked on their own: upload.Parse into a buffer, then
// an imagecheck.Checker on the bytes. {img} and {png} in the body stand for
// the base64 of a valid JPEG and PNG of 34 KB, {a}, {b} and {l} for client
// ids (see newFuzzEnv). The answer is the reference's: a 400 naming the
// parameter at fault, a 404 for a client not the caller's, or 200 with the
// photo, which downloads as exactly the decoded bytes. Whatever the answer,
// the blob store holds no file it did not hold before, other than the
// accepted photo's (which is then deleted).
func FuzzUpload(f *testing.F) {
	for _, s := range []string{
		`{"clientId":"{a}","data":"{img}"}`,
		`{"clientId":"{a}","data":"data:image/jpeg;base64,{img}","performLivenessCheck":false}`,
		`{"data":"{png}","clientId":"{a}","x":[1,{"y":null}]}`,
		`{"clientId":"{b}","data":"{img}"}`, `{"clientId":"{l}","data":"{img}"}`, `{"clientId":"nope","data":"{img}"}`,
		`{"clientId":"{a}","data":"{img}","data":"{img}"}`, `{"clientId":"{a}"}`, `{"data":"{img}"}`, `{"clientId":"","data":"{img}"}`,
		`{"clientId":"{a}","data":"AAAA"}`, `{"clientId":"{a}","data":"R0lGODlh{img}"}`, `{"clientId":"{a}","data":"{img}{img}"}`,
		`{"clientId":"{a}","data":"{img}","performLivenessCheck":"no"}`, `{"clientId":"{a}","data":"{img}"} x`, `{"clientId":"{a}","data":"{img}`,
		`{"clientId":5,"data":"{img}"}`, `[]`, ``, `{"clientId":"{a}","data":"{img}=="}`, `{"clientId":"{a}","data":"/9j/{img}"}`,
	} {
		f.Add([]byte(s))
	}
	e := newFuzzEnv(f)
	jpeg, png := testimage.JPEGSize(34<<10, 2), testimage.PNGSize(40<<10, 3)
	expand := strings.NewReplacer("{img}", base64.StdEncoding.EncodeToString(jpeg), "{png}", base64.StdEncoding.EncodeToString(png),
		"{a}", e.photoClient, "{b}", e.clients[e.scopeB][0].ID, "{l}", e.clients[e.scopeALive][0].ID)
	f.Fuzz(func(t *testing.T, body []byte) {
		b := []byte(expand.Replace(string(body)))
		before := e.blobFiles(t)
		r := e.do(t, rawRequest("POST", "/v1/livePhotos", b, "Authorization", e.keyA, "Content-Type", "application/json"))
		if r == nil {
			t.Fatalf("net/http refuses an upload with body %q", body)
		}
		after := e.blobFiles(t)

		// The reference.
		var img bytes.Buffer
		req, perr := upload.Parse(bytes.NewReader(b), &img)
		check := imagecheck.New(imagecheck.DefaultLimits())
		_, ierr := check.Write(img.Bytes())
		info, ferr := check.Finish()
		if ierr == nil {
			ierr = ferr
		}
		// The params a 400 may name: a body can have several faults, and
		// which is found first depends on where it is in the stream (an
		// image is refused as it streams, before the fields after it are
		// read).
		want := map[string]bool{}
		var fe *facevault.Error
		if perr != nil {
			if !errors.As(perr, &fe) {
				t.Fatalf("upload.Parse(%q): %v", body, perr)
			}
			want[fe.Param] = true
			if req.HasData {
				want["data"] = true
			}
		} else {
			if !req.HasClientID || req.ClientID == "" {
				want["clientId"] = true
			}
			if !req.HasData || ierr != nil {
				want["data"] = true
			}
		}
		status := http.StatusBadRequest
		switch {
		case len(want) > 0:
		case req.ClientID != e.photoClient:
			status = http.StatusNotFound
		default:
			status = http.StatusOK
		}
		if r.status != status || status == http.StatusBadRequest && !want[r.param()] {
			t.Fatalf("upload %q: %d %s; want %d naming one of %v", body, r.status, r.body, status, want)
		}
		if status != http.StatusOK {
			if !slices.Equal(after, before) {
				t.Fatalf("refused upload %q left files: before %v, after %v", body, before, after)
			}
			return
		}
		id, _ := r.json["id"].(string)
		format := map[string]string{imagecheck.JPEG: facevault.ContentTypeJPEG, imagecheck.PNG: facevault.ContentTypePNG}[info.Format]
		if r.json["clientId"] != e.photoClient || r.json["size"] != float64(img.Len()) || r.json["contentType"] != format ||
			r.json["performLivenessCheck"] != req.PerformLivenessCheck {
			t.Fatalf("upload %q: %s; want %d bytes of %s", body, r.body, img.Len(), format)
		}
		if len(after) != len(before)+1 || !slices.ContainsFunc(after, func(f string) bool { return strings.HasSuffix(f, "/"+id) }) {
			t.Fatalf("upload %q: files before %v, after %v; want the photo's only", body, before, after)
		}
		d := e.do(t, rawRequest("GET", "/v1/livePhotos/"+id+"/download", nil, "Authorization", e.keyA))
		if data, _ := base64.StdEncoding.DecodeString(fmt.Sprint(d.json["data"])); d.status != http.StatusOK || !bytes.Equal(data, img.Bytes()) {
			t.Fatalf("upload %q: the download (%d) differs from the bytes sent", body, d.status)
		}
		if del := e.do(t, rawRequest("DELETE", "/v1/livePhotos/"+id, nil, "Authorization", e.keyA)); del.status != http.StatusNoContent {
			t.Fatalf("delete: %d %s", del.status, del.body)
		}
		if files := e.blobFiles(t); !slices.Equal(files, before) {
			t.Fatalf("after the delete, files %v; before the upload %v", files, before)
		}
	})
}
