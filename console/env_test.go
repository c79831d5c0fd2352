package console_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"image/jpeg"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/facevault/facevault"
	"github.com/facevault/facevault/console"
	fvhttp "github.com/facevault/facevault/http"
	"github.com/facevault/facevault/internal/backendtest"
	"github.com/facevault/facevault/internal/testimage"
	"github.com/facevault/facevault/liveness"
)

// backend opens a fresh record store, image store and key store.
type backend = backendtest.Backend

var backends = backendtest.All()

// analyzer is the real liveness check, loaded once.
var analyzer = sync.OnceValues(func() (*liveness.Analyzer, error) {
	return liveness.New(liveness.DefaultConfig())
})

// env is a console served over one backend pair, with the accounts acme
// (both modes) and globex, and two console users.
type env struct {
	t       testing.TB
	URL     string
	Store   facevault.Store
	Vault   *facevault.Vault
	Console *console.Console
	Acme    facevault.Scope // acme, test mode
	Globex  facevault.Scope
	Logs    *bytes.Buffer
}

// Console users of every env.
const (
	adminName    = "Ada Admin"
	reviewerName = "Rita Reviewer"
	password     = "correct horse battery staple"
)

func forEachBackend(t *testing.T, fn func(t *testing.T, e *env)) {
	for _, b := range backends {
		t.Run(b.Name, func(t *testing.T) { fn(t, newEnv(t, b)) })
	}
}

func newEnv(t testing.TB, b backend) *env {
	t.Helper()
	return newEnvConfig(t, b, console.Config{})
}

// newEnvConfig is newEnv with a console configured as cfg (its Events
// are the env's own).
func newEnvConfig(t testing.TB, b backend, cfg console.Config) *env {
	t.Helper()
	ctx := context.Background()
	store, blobs, keys := b.Open(t)
	logs := &syncBuffer{}
	logger := slog.New(slog.NewTextHandler(logs, nil))
	vault := facevault.NewVault(store, blobs, logger)
	vault.Keys = keys
	a, err := analyzer()
	if err != nil {
		t.Fatalf("liveness.New: %v", err)
	}
	vault.Analyzer = a
	e := &env{t: t, Store: store, Vault: vault, Logs: &logs.buf}
	e.Acme = e.account("acme", facevault.ModeTest)
	e.Globex = e.account("globex", facevault.ModeTest)
	for name, role := range map[string]facevault.ConsoleRole{adminName: facevault.RoleAdmin, reviewerName: facevault.RoleReviewer} {
		u, err := console.NewUser(name, role, password, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		if err := store.CreateConsoleUser(ctx, u); err != nil {
			t.Fatalf("CreateConsoleUser: %v", err)
		}
	}
	audit := facevault.NewAuditBatcher(store)
	cfg.Events = console.AuditEvents{Log: audit}
	c, err := console.New(vault, store, store, logger, cfg)
	if err != nil {
		t.Fatalf("console.New: %v", err)
	}
	thumbs := console.NewThumbnails(vault, 0)
	vault.Forget = thumbs.Forget
	c.SetReviewOptions(console.ReviewOptions{Thumbnails: thumbs, Audit: audit, Liveness: a.Config()})
	e.Console = c
	srv := httptest.NewServer(fvhttp.Logged(c, logger)) // as serve logs it, with request ids
	t.Cleanup(srv.Close)
	e.URL = srv.URL
	return e
}

type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

// account makes an account with an API key in mode m and returns its
// scope: the console offers the accounts that have keys.
func (e *env) account(name string, m facevault.Mode) facevault.Scope {
	e.t.Helper()
	ctx := context.Background()
	acc, err := e.Store.EnsureAccount(ctx, name, time.Now())
	if err != nil {
		e.t.Fatal(err)
	}
	secret := make([]byte, 32)
	rand.Read(secret)
	h := sha256.Sum256(secret)
	if err := e.Store.CreateKey(ctx, &facevault.APIKey{ID: facevault.NewID(time.Now()), AccountID: acc.ID, Mode: m,
		Hint: "test", Hash: h[:], CreatedAt: time.Now()}); err != nil {
		e.t.Fatal(err)
	}
	return facevault.Scope{AccountID: acc.ID, Mode: m}
}

// client makes a person client in s.
func (e *env) client(s facevault.Scope, first, last string) *facevault.Client {
	e.t.Helper()
	c, err := e.Vault.CreateClient(context.Background(), s, &facevault.ClientPatch{
		Type: ptr(facevault.ClientPerson), Email: ptr(strings.ToLower(first) + "@example.com"),
		PersonDetails: &facevault.PersonDetailsPatch{FirstName: ptr(first), LastName: ptr(last)},
	})
	if err != nil {
		e.t.Fatalf("CreateClient: %v", err)
	}
	return c
}

func ptr[T any](v T) *T { return &v }

// upload stores img as a live photo of client, with the liveness check.
func (e *env) upload(s facevault.Scope, clientID string, img []byte) *facevault.LivePhoto {
	e.t.Helper()
	ctx := context.Background()
	u, err := e.Vault.BeginUpload(ctx)
	if err != nil {
		e.t.Fatal(err)
	}
	if _, err := u.Write(img); err != nil {
		e.t.Fatalf("upload: %v", err)
	}
	p, err := e.Vault.FinishUpload(ctx, s, u, clientID, true)
	if err != nil {
		e.t.Fatalf("FinishUpload: %v", err)
	}
	return p
}

// Images of the tests: pigo's sample face (MIT, liveness/testdata), which
// the check passes, and the same face blurred, which it flags for
// sharpness, with the face box and landmarks found.
var images = sync.OnceValues(func() (map[string][]byte, error) {
	face, err := os.ReadFile("../liveness/testdata/pigo-sample.jpg")
	if err != nil {
		return nil, err
	}
	m, err := jpeg.Decode(bytes.NewReader(face))
	if err != nil {
		return nil, err
	}
	var blurred bytes.Buffer
	if err := jpeg.Encode(&blurred, testimage.BoxBlur(m, 4), &jpeg.Options{Quality: 100}); err != nil {
		return nil, err
	}
	return map[string][]byte{"clear": face, "blurred": blurred.Bytes()}, nil
})

func image_(t testing.TB, name string) []byte {
	t.Helper()
	imgs, err := images()
	if err != nil {
		t.Fatal(err)
	}
	return imgs[name]
}

// agent is an HTTP client with its own cookies, signed in as one user.
type agent struct {
	t      testing.TB
	e      *env
	client *http.Client
	csrf   string
}

// signIn signs name in and chooses scope s.
func (e *env) signIn(name string, s facevault.Scope) *agent {
	e.t.Helper()
	jar, _ := cookiejar.New(nil)
	b := &agent{t: e.t, e: e, client: &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error {
		return http.ErrUseLastResponse
	}}}
	_, body := b.get("/console/sign-in")
	res, _ := b.postToken("/console/sign-in", csrfOf(e.t, body), url.Values{"name": {name}, "password": {password}})
	if res.StatusCode != http.StatusSeeOther {
		e.t.Fatalf("sign in %s: %s", name, res.Status)
	}
	_, body = b.get("/console/scope")
	b.csrf = csrfOf(e.t, body)
	res, _ = b.post("/console/scope", url.Values{"account": {s.AccountID}, "mode": {string(s.Mode)}})
	if res.StatusCode != http.StatusSeeOther {
		e.t.Fatalf("choose scope: %s", res.Status)
	}
	return b
}

func csrfOf(t testing.TB, body string) string {
	t.Helper()
	m := csrfRE.FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("no CSRF token in the page:\n%s", body)
	}
	return m[1]
}

func (b *agent) do(req *http.Request) (*http.Response, string) {
	b.t.Helper()
	res, err := b.client.Do(req)
	if err != nil {
		b.t.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	if err != nil {
		b.t.Fatal(err)
	}
	return res, string(body)
}

// get fetches a console path.
func (b *agent) get(path string) (*http.Response, string) {
	b.t.Helper()
	req, err := http.NewRequest(http.MethodGet, b.e.URL+path, nil)
	if err != nil {
		b.t.Fatal(err)
	}
	return b.do(req)
}

// post sends a form with the session's CSRF token.
func (b *agent) post(path string, form url.Values) (*http.Response, string) {
	b.t.Helper()
	return b.postToken(path, b.csrf, form)
}

func (b *agent) postToken(path, token string, form url.Values) (*http.Response, string) {
	b.t.Helper()
	if form == nil {
		form = url.Values{}
	}
	if token != "" {
		form.Set("csrf", token)
	}
	req, err := http.NewRequest(http.MethodPost, b.e.URL+path, strings.NewReader(form.Encode()))
	if err != nil {
		b.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", b.e.URL)
	return b.do(req)
}

// entries returns the audit entries of s whose trigger is trigger, newest
// first.
func (e *env) entries(s facevault.Scope, trigger string) []*facevault.AuditEntry {
	e.t.Helper()
	_, seq, err := e.Vault.AuditEntries(context.Background(), s, facevault.AuditFilter{
		ListOptions: facevault.ListOptions{Page: facevault.Page{Page: 1, PageSize: 1000}},
		Fields:      map[string]string{"trigger": trigger}})
	if err != nil {
		e.t.Fatal(err)
	}
	var out []*facevault.AuditEntry
	for en, err := range seq {
		if err != nil {
			e.t.Fatal(err)
		}
		out = append(out, en)
	}
	return out
}
