package console_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/facevault/facevault"
	"github.com/facevault/facevault/console"
	"github.com/facevault/facevault/sqlite"
)

// The console over HTTP, without a browser: a real SQLite store, a clock
// the test moves. The browser tests (cmd/facevault) cover the same pages
// on both back ends; these cover what needs the clock.

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// events records console events.
type events struct {
	mu   sync.Mutex
	list []console.Event
}

func (e *events) RecordConsoleEvent(_ context.Context, ev console.Event) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.list = append(e.list, ev)
	return nil
}

func (e *events) types() []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	var s []string
	for _, ev := range e.list {
		s = append(s, string(ev.Type)+":"+ev.UserName)
	}
	return s
}

// actions lists the events other than sign-ins and sign-outs, as
// "type:user>subject" or "type:user>route".
func (e *events) actions() []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	var s []string
	for _, ev := range e.list {
		switch ev.Type {
		case console.EventSignIn, console.EventSignOut, console.EventSignInFailed, console.EventLockedOut:
			continue
		}
		s = append(s, string(ev.Type)+":"+ev.UserName+">"+ev.SubjectName+ev.Route)
	}
	return s
}

type fixture struct {
	srv    *httptest.Server
	db     *sqlite.DB
	clock  *clock
	events *events
}

func newFixture(t *testing.T, cfg console.Config) *fixture {
	t.Helper()
	db, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "facevault.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	f := &fixture{db: db, clock: &clock{t: time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)}, events: &events{}}
	cfg.Now, cfg.Events = f.clock.now, f.events
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	c, err := console.New(facevault.NewVault(db, nil, logger), db, db, logger, cfg)
	if err != nil {
		t.Fatal(err)
	}
	f.srv = httptest.NewServer(c)
	t.Cleanup(f.srv.Close)
	acct, err := db.EnsureAccount(t.Context(), "acme", f.clock.now())
	if err != nil {
		t.Fatal(err)
	}
	_, key, err := facevault.NewKey(acct, facevault.ModeTest, f.clock.now())
	if err != nil {
		t.Fatal(err)
	}
	if err := db.CreateKey(t.Context(), key); err != nil {
		t.Fatal(err)
	}
	return f
}

func (f *fixture) user(t *testing.T, name string, role facevault.ConsoleRole, password string) *facevault.ConsoleUser {
	t.Helper()
	u, err := console.NewUser(name, role, password, f.clock.now())
	if err != nil {
		t.Fatal(err)
	}
	if err := f.db.CreateConsoleUser(t.Context(), u); err != nil {
		t.Fatal(err)
	}
	return u
}

// browser is an HTTP client with cookies that does not follow redirects.
type browser struct {
	t      *testing.T
	f      *fixture
	client *http.Client
}

func (f *fixture) browser(t *testing.T) *browser {
	jar, _ := cookiejar.New(nil)
	return &browser{t: t, f: f, client: &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error {
		return http.ErrUseLastResponse
	}}}
}

type response struct {
	status   int
	location string
	body     string
	header   http.Header
}

func (b *browser) do(method, path string, form url.Values) response {
	b.t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequestWithContext(b.t.Context(), method, b.f.srv.URL+path, body)
	if err != nil {
		b.t.Fatal(err)
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	resp, err := b.client.Do(req)
	if err != nil {
		b.t.Fatal(err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		b.t.Fatal(err)
	}
	return response{resp.StatusCode, resp.Header.Get("Location"), string(data), resp.Header}
}

var csrfRE = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

// csrf returns the CSRF token of the page at path.
func (b *browser) csrf(path string) string {
	b.t.Helper()
	r := b.do(http.MethodGet, path, nil)
	m := csrfRE.FindStringSubmatch(r.body)
	if m == nil {
		b.t.Fatalf("GET %s (%d): no CSRF field", path, r.status)
	}
	return m[1]
}

func (b *browser) signIn(name, password, next string) response {
	b.t.Helper()
	token := b.csrf("/console/sign-in")
	return b.do(http.MethodPost, "/console/sign-in", url.Values{"csrf": {token}, "name": {name}, "password": {password}, "next": {next}})
}

func (b *browser) post(path string, form url.Values) response {
	b.t.Helper()
	form.Set("csrf", b.csrf("/console/scope"))
	return b.do(http.MethodPost, path, form)
}

// signedIn reports whether the browser's session is good: the scope page
// answers rather than sending to the sign-in page.
func (b *browser) signedIn() bool {
	b.t.Helper()
	r := b.do(http.MethodGet, "/console/scope", nil)
	switch {
	case r.status == http.StatusOK:
		return true
	case r.status == http.StatusSeeOther && strings.HasPrefix(r.location, "/console/sign-in"):
		return false
	}
	b.t.Fatalf("GET /console/scope: %d %s", r.status, r.location)
	return false
}

func TestSessionIdleTimeout(t *testing.T) {
	f := newFixture(t, console.Config{IdleTimeout: 30 * time.Minute, Lifetime: 12 * time.Hour})
	f.user(t, "ada", facevault.RoleAdmin, "ada's long password")
	b := f.browser(t)
	if r := b.signIn("ada", "ada's long password", ""); r.status != http.StatusSeeOther {
		t.Fatalf("sign in: %d", r.status)
	}
	// Used every 29 minutes, a session lasts: idleness counts from the
	// last use.
	for range 4 {
		f.clock.add(29 * time.Minute)
		if !b.signedIn() {
			t.Fatalf("signed out after 29 idle minutes (at %v)", f.clock.now())
		}
	}
	f.clock.add(30 * time.Minute)
	if b.signedIn() {
		t.Fatal("still signed in after 30 idle minutes")
	}
	// The ended session is gone from the store, not only refused.
	if n, err := f.db.DeleteStaleConsoleSessions(t.Context(), f.clock.now().Add(time.Hour), f.clock.now().Add(time.Hour)); err != nil || n != 0 {
		t.Errorf("sessions left after the idle timeout: %d, %v", n, err)
	}
}

func TestSessionLifetime(t *testing.T) {
	f := newFixture(t, console.Config{IdleTimeout: 30 * time.Minute, Lifetime: 2 * time.Hour})
	f.user(t, "ada", facevault.RoleAdmin, "ada's long password")
	b := f.browser(t)
	b.signIn("ada", "ada's long password", "")
	for range 5 {
		f.clock.add(20 * time.Minute)
		if !b.signedIn() {
			t.Fatalf("signed out after %v in use", f.clock.now())
		}
	}
	f.clock.add(20 * time.Minute) // 2h after sign-in
	if b.signedIn() {
		t.Fatal("still signed in 2h after sign-in, with a 2h lifetime")
	}
}

func TestSignInEventsAndLockout(t *testing.T) {
	f := newFixture(t, console.Config{MaxFailures: 2, Lockout: 10 * time.Minute})
	f.user(t, "ada", facevault.RoleAdmin, "ada's long password")
	b := f.browser(t)
	if r := b.signIn("ada", "wrong password!!", ""); r.status != http.StatusUnauthorized {
		t.Errorf("failure 1: %d", r.status)
	}
	if r := b.signIn("ghost", "wrong password!!", ""); r.status != http.StatusUnauthorized {
		t.Errorf("unknown user: %d", r.status)
	}
	if r := b.signIn("ada", "wrong password!!", ""); r.status != http.StatusTooManyRequests || !strings.Contains(r.body, "locked out") {
		t.Errorf("failure 2: %d, want 429 with the lock-out message", r.status)
	}
	if r := b.signIn("ada", "ada's long password", ""); r.status != http.StatusTooManyRequests {
		t.Errorf("right password while locked: %d, want 429", r.status)
	}
	f.clock.add(10 * time.Minute) // the lock-out ends
	if r := b.signIn("ada", "ada's long password", ""); r.status != http.StatusSeeOther {
		t.Fatalf("right password after the lock-out: %d", r.status)
	}
	if u, _ := f.db.ConsoleUserByName(t.Context(), "ada"); u.FailedSignIns != 0 || !u.LockedUntil.IsZero() {
		t.Errorf("after a sign-in: %d failures, locked until %v; want both cleared", u.FailedSignIns, u.LockedUntil)
	}
	b.post("/console/sign-out", url.Values{})
	want := []string{"console.sign_in_failed:ada", "console.sign_in_failed:ghost", "console.locked_out:ada", "console.locked_out:ada",
		"console.sign_in:ada", "console.sign_out:ada"}
	if got := f.events.types(); strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("events:\n got %v\nwant %v", got, want)
	}
}

func TestSignInForm(t *testing.T) {
	f := newFixture(t, console.Config{})
	f.user(t, "ada", facevault.RoleAdmin, "ada's long password")
	t.Run("NextIsLocal", func(t *testing.T) {
		for next, want := range map[string]string{
			"/console/users":         "/console/users",
			"//evil.example/console": "/console/",
			"https://evil.example/":  "/console/",
			"/console/\\evil":        "/console/",
			"":                       "/console/",
		} {
			b := f.browser(t)
			if r := b.signIn("ada", "ada's long password", next); r.status != http.StatusSeeOther || r.location != want {
				t.Errorf("sign in with next %q: %d to %q, want 303 to %q", next, r.status, r.location, want)
			}
		}
	})
	t.Run("ErrNoSignInToken", func(t *testing.T) {
		b := f.browser(t)
		r := b.do(http.MethodPost, "/console/sign-in", url.Values{"name": {"ada"}, "password": {"ada's long password"}})
		if r.status != http.StatusForbidden || b.signedIn() {
			t.Errorf("sign-in without the form's token: %d, signed in %v", r.status, b.signedIn())
		}
		b.csrf("/console/sign-in") // the cookie, but another token
		r = b.do(http.MethodPost, "/console/sign-in", url.Values{"csrf": {"x"}, "name": {"ada"}, "password": {"ada's long password"}})
		if r.status != http.StatusForbidden {
			t.Errorf("sign-in with a wrong token: %d", r.status)
		}
	})
	t.Run("ErrFormTooLarge", func(t *testing.T) {
		b := f.browser(t)
		r := b.do(http.MethodPost, "/console/sign-in", url.Values{"name": {strings.Repeat("a", console.MaxFormBytes)}})
		if r.status != http.StatusRequestEntityTooLarge {
			t.Errorf("a %d-byte form: %d, want 413", console.MaxFormBytes, r.status)
		}
	})
	t.Run("NotFound", func(t *testing.T) {
		r := f.browser(t).do(http.MethodGet, "/console/no-such-page", nil)
		if r.status != http.StatusNotFound || r.header.Get("Content-Security-Policy") == "" || r.header.Get("Cache-Control") != "no-store" {
			t.Errorf("unknown page: %d, CSP %q, Cache-Control %q", r.status, r.header.Get("Content-Security-Policy"), r.header.Get("Cache-Control"))
		}
	})
	t.Run("StyleSheet", func(t *testing.T) {
		r := f.browser(t).do(http.MethodGet, "/console/static/console.css", nil)
		if r.status != http.StatusOK || !strings.HasPrefix(r.header.Get("Content-Type"), "text/css") || r.header.Get("Cache-Control") != "no-store" {
			t.Errorf("style sheet: %d, %q, Cache-Control %q", r.status, r.header.Get("Content-Type"), r.header.Get("Cache-Control"))
		}
	})
}

// TestUsersPage: an admin creates, disables, enables and unlocks users in
// the console; what is wrong is said on the page.
func TestUsersPage(t *testing.T) {
	f := newFixture(t, console.Config{})
	f.user(t, "ada", facevault.RoleAdmin, "ada's long password")
	admin := f.browser(t)
	admin.signIn("ada", "ada's long password", "")

	r := admin.post("/console/users", url.Values{"name": {"rex"}, "role": {"reviewer"}, "password": {"rex's long password"}})
	if r.status != http.StatusSeeOther {
		t.Fatalf("create rex: %d\n%s", r.status, r.body)
	}
	rex, err := f.db.ConsoleUserByName(t.Context(), "rex")
	if err != nil || rex.Role != facevault.RoleReviewer {
		t.Fatalf("rex after create: %+v, %v", rex, err)
	}
	for _, tc := range []struct {
		name string
		form url.Values
		want string
	}{
		{"ErrNameTaken", url.Values{"name": {"rex"}, "role": {"admin"}, "password": {"another long password"}}, "A user is called &#34;rex&#34; already."},
		{"ErrShortPassword", url.Values{"name": {"bob"}, "role": {"admin"}, "password": {"short"}}, "at least 12 characters"},
		{"ErrRole", url.Values{"name": {"bob"}, "role": {"root"}, "password": {"another long password"}}, "The role must be reviewer or admin."},
		{"ErrName", url.Values{"name": {""}, "role": {"admin"}, "password": {"another long password"}}, "the name must not be empty"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := admin.post("/console/users", tc.form)
			if r.status != http.StatusBadRequest || !strings.Contains(r.body, tc.want) {
				t.Errorf("%d, want 400 saying %q:\n%s", r.status, tc.want, r.body)
			}
		})
	}

	reviewer := f.browser(t)
	reviewer.signIn("rex", "rex's long password", "")
	if !reviewer.signedIn() {
		t.Fatal("rex cannot sign in")
	}
	if r := admin.post("/console/users/"+rex.ID+"/disable", url.Values{}); r.status != http.StatusSeeOther {
		t.Fatalf("disable rex: %d", r.status)
	}
	if reviewer.signedIn() {
		t.Error("rex's session outlived disabling him")
	}
	if r := reviewer.signIn("rex", "rex's long password", ""); r.status != http.StatusUnauthorized {
		t.Errorf("disabled rex signs in: %d, want 401", r.status)
	}
	admin.post("/console/users/"+rex.ID+"/enable", url.Values{})
	if _, err := f.db.FailConsoleSignIn(t.Context(), rex.ID, f.clock.now(), 1, time.Hour); err != nil {
		t.Fatal(err)
	}
	if r := reviewer.signIn("rex", "rex's long password", ""); r.status != http.StatusTooManyRequests {
		t.Errorf("locked rex signs in: %d, want 429", r.status)
	}
	admin.post("/console/users/"+rex.ID+"/unlock", url.Values{})
	if r := reviewer.signIn("rex", "rex's long password", ""); r.status != http.StatusSeeOther {
		t.Errorf("unlocked, enabled rex signs in: %d, want 303", r.status)
	}
	// The reviewer cannot act on users; the admin cannot disable herself;
	// unknown users and actions are 404.
	if r := reviewer.post("/console/users/"+rex.ID+"/unlock", url.Values{}); r.status != http.StatusForbidden {
		t.Errorf("reviewer unlocks: %d, want 403", r.status)
	}
	ada, _ := f.db.ConsoleUserByName(t.Context(), "ada")
	if r := admin.post("/console/users/"+ada.ID+"/disable", url.Values{}); r.status != http.StatusBadRequest {
		t.Errorf("admin disables herself: %d, want 400", r.status)
	}
	if r := admin.post("/console/users/"+facevault.NewID(f.clock.now())+"/unlock", url.Values{}); r.status != http.StatusNotFound {
		t.Errorf("unlock an unknown user: %d, want 404", r.status)
	}
	if r := admin.post("/console/users/"+rex.ID+"/promote", url.Values{}); r.status != http.StatusNotFound {
		t.Errorf("unknown action: %d, want 404", r.status)
	}
	// Each change is an event with the admin's name and the user changed
	// (for the audit log); refusals and failed changes are no changes,
	// and the reviewer's refusal is an event of its own.
	want := []string{"console.user_created:ada>rex", "console.user_disabled:ada>rex", "console.user_enabled:ada>rex",
		"console.user_unlocked:ada>rex", "console.refused:rex>POST /console/users/{id}/{action}"}
	if got := f.events.actions(); strings.Join(got, ", ") != strings.Join(want, ", ") {
		t.Errorf("events:\n got %v\nwant %v", got, want)
	}
}

func TestChooseScope(t *testing.T) {
	f := newFixture(t, console.Config{})
	f.user(t, "ada", facevault.RoleAdmin, "ada's long password")
	b := f.browser(t)
	b.signIn("ada", "ada's long password", "")
	acme, _ := f.db.EnsureAccount(t.Context(), "acme", f.clock.now())
	other, _ := f.db.EnsureAccount(t.Context(), "no keys", f.clock.now())
	for _, tc := range []struct {
		name, account, mode string
		want                int
	}{
		{"ErrMode", acme.ID, "prod", http.StatusBadRequest},
		{"ErrAccount", facevault.NewID(f.clock.now()), "test", http.StatusBadRequest},
		{"ErrAccountWithoutKeys", other.ID, "test", http.StatusBadRequest},
		{"OK", acme.ID, "live", http.StatusSeeOther},
	} {
		if r := b.post("/console/scope", url.Values{"account": {tc.account}, "mode": {tc.mode}}); r.status != tc.want {
			t.Errorf("%s: %d, want %d", tc.name, r.status, tc.want)
		}
	}
	if r := b.do(http.MethodGet, "/console/", nil); r.status != http.StatusOK || !strings.Contains(r.body, "<strong>acme</strong>") {
		t.Errorf("home after choosing acme: %d", r.status)
	}
}

// TestHTTPSBehindProxy: with Config.HTTPS the session cookie is Secure
// and __Host- although the connection is plain HTTP, and only that cookie
// is read.
func TestHTTPSBehindProxy(t *testing.T) {
	f := newFixture(t, console.Config{HTTPS: true})
	f.user(t, "ada", facevault.RoleAdmin, "ada's long password")
	b := f.browser(t)
	// The jar keeps Secure cookies from an http:// server to itself:
	// read the sign-in form's cookie off the response instead.
	r := b.do(http.MethodGet, "/console/sign-in", nil)
	var signIn *http.Cookie
	for _, c := range (&http.Response{Header: r.header}).Cookies() {
		if c.Name == "__Host-fv_signin" {
			signIn = c
		}
	}
	if signIn == nil || !signIn.Secure || signIn.Path != "/" {
		t.Fatalf("sign-in form cookie over HTTPS: %+v", signIn)
	}
	form := url.Values{"csrf": {csrfRE.FindStringSubmatch(r.body)[1]}, "name": {"ada"}, "password": {"ada's long password"}}
	req, _ := http.NewRequestWithContext(t.Context(), http.MethodPost, f.srv.URL+"/console/sign-in", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.AddCookie(signIn)
	resp, err := http.DefaultTransport.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	var session *http.Cookie
	for _, c := range resp.Cookies() {
		if c.Name == "__Host-fv_session" {
			session = c
		}
	}
	if resp.StatusCode != http.StatusSeeOther || session == nil {
		t.Fatalf("sign in: %d, cookies %v", resp.StatusCode, resp.Cookies())
	}
	if !session.Secure || !session.HttpOnly || session.Path != "/" || session.SameSite != http.SameSiteStrictMode || session.Domain != "" {
		t.Errorf("session cookie %+v, want Secure, HttpOnly, Path=/, SameSite=Strict, no Domain", session)
	}
	get := func(c *http.Cookie) int {
		req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, f.srv.URL+"/console/scope", nil)
		req.AddCookie(c)
		resp, err := http.DefaultTransport.RoundTrip(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if s := get(session); s != http.StatusOK {
		t.Errorf("GET with __Host-fv_session: %d, want 200", s)
	}
	if s := get(&http.Cookie{Name: "fv_session", Value: session.Value}); s != http.StatusSeeOther {
		t.Errorf("GET with the token as fv_session: %d, want 303 (only the __Host- cookie counts over HTTPS)", s)
	}
}

// TestSignInAgain: signing in from a browser that has a session ends
// that session.
func TestSignInAgain(t *testing.T) {
	f := newFixture(t, console.Config{})
	f.user(t, "ada", facevault.RoleAdmin, "ada's long password")
	b := f.browser(t)
	b.signIn("ada", "ada's long password", "")
	u, _ := url.Parse(f.srv.URL + "/console/")
	first := b.client.Jar.Cookies(u)
	// The sign-in page sends a signed-in browser home; the form posted
	// anyway (from another tab) starts a new session.
	if r := b.do(http.MethodGet, "/console/sign-in", nil); r.status != http.StatusSeeOther || r.location != "/console/" {
		t.Errorf("sign-in page when signed in: %d to %q", r.status, r.location)
	}
	other := f.browser(t)
	token := other.csrf("/console/sign-in")
	other.client.Jar.SetCookies(u, first)
	if r := other.do(http.MethodPost, "/console/sign-in", url.Values{"csrf": {token}, "name": {"ada"}, "password": {"ada's long password"}}); r.status != http.StatusSeeOther {
		t.Fatalf("sign in again: %d", r.status)
	}
	stale := f.browser(t)
	stale.client.Jar.SetCookies(u, first)
	if stale.signedIn() {
		t.Error("the first session outlived a second sign-in from its browser")
	}
	if !other.signedIn() {
		t.Error("the second session does not work")
	}
}
