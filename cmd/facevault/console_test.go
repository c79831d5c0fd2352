package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"html"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"

	"github.com/facevault/facevault/internal/browsertest"
)

// The review console, end to end: a real serve (on SQLite and files, and
// on PostgreSQL and S3), console users made with the users commands, and a
// real headless chromium driving the pages.

// consoleEnv is a running serve with the console, and the store flags that
// reach its stores from the other commands.
type consoleEnv struct {
	srv       *server
	nodes     []*server // every node; srv is the first
	storeArgs []string
	base      string // http://127.0.0.1:port
}

// consoleServeFlags keep serve quick to start: the console needs none of
// the face models.
var consoleServeFlags = []string{"--face-embeddings=false", "--age-estimation=false"}

// consoleBackend starts serve with the console on one pair of back ends,
// as many nodes as asked (more than one only on shared stores).
type consoleBackend struct {
	name  string
	start func(t *testing.T, nodes int, extra ...string) *consoleEnv
}

var consoleBackends = []consoleBackend{
	{"sqlite+files", func(t *testing.T, nodes int, extra ...string) *consoleEnv {
		if nodes != 1 {
			t.Fatal("the embedded default runs one node")
		}
		clearServeEnv(t)
		dir := t.TempDir()
		srv := startServe(t, slices.Concat(serveArgs(dir), consoleServeFlags, extra)...)
		return &consoleEnv{srv: srv, nodes: []*server{srv}, storeArgs: []string{"--data", dir}, base: "http://" + srv.addr}
	}},
	{"postgres+s3", func(t *testing.T, nodes int, extra ...string) *consoleEnv {
		clearServeEnv(t)
		st := newSharedStores(t)
		args := append(st.args(), "--data", t.TempDir())
		e := &consoleEnv{storeArgs: args}
		for range nodes {
			e.nodes = append(e.nodes, startNode(t, args, slices.Concat(consoleServeFlags, extra)...))
		}
		e.srv = e.nodes[0]
		e.base = "http://" + e.srv.addr
		return e
	}},
}

// users runs a users command on the env's stores, with stdin as its
// standard input, and returns its output.
func (e *consoleEnv) users(t *testing.T, stdin string, args ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	var out, errOut bytes.Buffer
	err := runWithInput(ctx, slices.Concat([]string{"users"}, args, e.storeArgs), strings.NewReader(stdin), &out, &errOut)
	return out.String() + errOut.String(), err
}

// createUser creates a console user with the users command.
func (e *consoleEnv) createUser(t *testing.T, name, role, password string) {
	t.Helper()
	if out, err := e.users(t, password+"\n", "create", "--name", name, "--role", role); err != nil {
		t.Fatalf("users create %s: %v\n%s", name, err, out)
	}
}

// browse is a browser tab for a test.
type browse struct {
	t   *testing.T
	ctx context.Context
}

func newBrowser(t *testing.T, o browsertest.Options) *browse {
	return &browse{t: t, ctx: browsertest.New(t, o)}
}

// open navigates to url and returns the response of the page it ends on.
func (b *browse) open(url string) *network.Response {
	b.t.Helper()
	var resp *network.Response
	browsertest.Within(b.t, b.ctx, 20*time.Second, "open "+url, func(ctx context.Context) (err error) {
		resp, err = chromedp.Run(ctx, chromedp.NavigateResponse(url))
		return err
	})
	return resp
}

// submit runs the actions, which submit a form, and returns the response
// of the page the browser ends on.
func (b *browse) submit(what string, actions ...chromedp.Action[chromedp.Void]) *network.Response {
	b.t.Helper()
	var resp *network.Response
	browsertest.Within(b.t, b.ctx, 20*time.Second, what, func(ctx context.Context) (err error) {
		resp, err = chromedp.RunResponse(ctx, actions...)
		return err
	})
	return resp
}

// do runs actions that load no page.
func (b *browse) do(what string, actions ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	browsertest.Within(b.t, b.ctx, 20*time.Second, what, func(ctx context.Context) error {
		return chromedp.Do(ctx, actions...)
	})
}

// page is what the browser shows.
type page struct {
	Path string `json:"path"`
	Text string `json:"text"`
	// Message is the text of the page's #message (errors), Notice of
	// its #notice, User of the header's #user, Scope of its #scope.
	Message string `json:"message"`
	Notice  string `json:"notice"`
	User    string `json:"user"`
	Scope   string `json:"scope"`
	// CSRF is the value of the first CSRF field on the page.
	CSRF string `json:"csrf"`
	// Nav are the labels of the navigation bar.
	Nav []string `json:"nav"`
}

func (b *browse) page() page {
	b.t.Helper()
	const js = `(() => {
		const text = (sel) => { const e = document.querySelector(sel); return e ? e.textContent.replace(/\s+/g, " ").trim() : ""; };
		const csrf = document.querySelector('input[name="csrf"]');
		return {
			path: location.pathname, text: document.body ? document.body.innerText : "",
			message: text("#message"), notice: text("#notice"), user: text("#user"), scope: text("#scope"),
			csrf: csrf ? csrf.value : "",
			nav: Array.from(document.querySelectorAll("nav a")).map(a => a.innerText.trim()),
		};
	})()`
	var p page
	browsertest.Within(b.t, b.ctx, 10*time.Second, "read the page", func(ctx context.Context) (err error) {
		p, err = chromedp.Run(ctx, chromedp.Evaluate[page](js))
		return err
	})
	return p
}

// signIn fills in and sends the sign-in form, and returns the response.
func (b *browse) signIn(base, name, password string) *network.Response {
	b.t.Helper()
	b.open(base + "/console/sign-in")
	return b.submit("sign in as "+name,
		chromedp.SetValue(chromedp.ID("name"), name),
		chromedp.SendKeys(chromedp.ID("password"), password),
		chromedp.Click(chromedp.CSS(`#sign-in button[type="submit"]`)),
	)
}

// chooseScope clicks the button of account and mode on the scope page.
func (b *browse) chooseScope(base, account, mode string) *network.Response {
	b.t.Helper()
	b.open(base + "/console/scope")
	return b.submit("choose "+account+" "+mode,
		chromedp.Click(chromedp.CSS(fmt.Sprintf(`button[data-account=%q][data-mode=%q]`, account, mode))))
}

// postForm makes the page submit a form to action with fields, as a
// forged or scripted form would (the page itself runs no script: this goes
// through DevTools), and returns the response.
func (b *browse) postForm(action string, fields map[string]string) *network.Response {
	b.t.Helper()
	a, _ := json.Marshal(action)
	f, _ := json.Marshal(fields)
	js := fmt.Sprintf(`(() => {
		const f = document.createElement("form");
		f.method = "post"; f.action = %s;
		for (const [k, v] of Object.entries(%s)) {
			const i = document.createElement("input"); i.type = "hidden"; i.name = k; i.value = v; f.appendChild(i);
		}
		document.body.appendChild(f); f.submit();
	})()`, a, f)
	return b.submit("post a form to "+action, chromedp.Evaluate[chromedp.Void](js))
}

// cookie returns the browser's cookie called name for the current page.
func (b *browse) cookie(name string) *network.Cookie {
	b.t.Helper()
	for _, c := range browsertest.Cookies(b.t, b.ctx) {
		if c.Name == name {
			return c
		}
	}
	return nil
}

// wantStatus fails the test unless resp has status want.
func wantStatus(t *testing.T, what string, resp *network.Response, want int) {
	t.Helper()
	if resp == nil {
		t.Fatalf("%s: no response", what)
	}
	if int(resp.Status) != want {
		t.Fatalf("%s: status %d (%s), want %d", what, resp.Status, resp.URL, want)
	}
}

// wantSecurityHeaders checks the headers every console response carries.
func wantSecurityHeaders(t *testing.T, what string, resp *network.Response) {
	t.Helper()
	want := map[string]string{
		"Content-Security-Policy": "default-src 'none'; img-src 'self' data:; style-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
		"X-Frame-Options":         "DENY",
		"Referrer-Policy":         "no-referrer",
		"X-Content-Type-Options":  "nosniff",
		"Cache-Control":           "no-store",
	}
	for name, v := range want {
		if got := browsertest.Header(resp, name); got != v {
			t.Errorf("%s: %s = %q, want %q", what, name, got, v)
		}
	}
}

const (
	adaPassword = "correct horse battery staple"
	rexPassword = "reviewer's own long secret"
)

// TestConsoleSignIn drives the console in a browser on both back ends:
// security headers, sign-in with a wrong and a right password, the session
// cookie, choosing an account and mode, forged and cross-origin forms
// refused, the admin-only users page refused to a reviewer, sign-out (the
// session is gone on the server, and the back button shows nothing), and
// sessions ended by a new password, disabling and deleting.
func TestConsoleSignIn(t *testing.T) {
	for _, be := range consoleBackends {
		t.Run(be.name, func(t *testing.T) {
			e := be.start(t, 1)
			e.createUser(t, "ada", "admin", adaPassword)
			e.createUser(t, "rex", "reviewer", rexPassword)
			keysCreate(t, slices.Concat([]string{"--mode", "test", "--account", "acme"}, e.storeArgs)...)
			b := newBrowser(t, browsertest.Options{})

			// Signed out, every page leads to the sign-in page.
			resp := b.open(e.base + "/console")
			wantStatus(t, "GET /console signed out", resp, http.StatusOK)
			if p := b.page(); p.Path != "/console/sign-in" || p.User != "" {
				t.Fatalf("GET /console signed out ended on %s (user %q), want the sign-in page", p.Path, p.User)
			}
			wantSecurityHeaders(t, "sign-in page", resp)
			browsertest.Screenshot(t, b.ctx, "sign-in")

			// A wrong password, and a user that does not exist, get the
			// same answer.
			for _, tc := range []struct{ name, password string }{{"ada", "wrong password, long enough"}, {"nobody", adaPassword}} {
				resp = b.signIn(e.base, tc.name, tc.password)
				wantStatus(t, "sign in as "+tc.name+" with a wrong password", resp, http.StatusUnauthorized)
				if p := b.page(); p.Message != "The name or password is not right." || p.User != "" {
					t.Errorf("sign in as %s with a wrong password: message %q, user %q", tc.name, p.Message, p.User)
				}
			}

			// The right password: a session, and the account to choose.
			resp = b.signIn(e.base, "ada", adaPassword)
			wantStatus(t, "sign in as ada", resp, http.StatusOK)
			wantSecurityHeaders(t, "scope page", resp)
			p := b.page()
			if p.Path != "/console/scope" || !strings.Contains(p.User, "ada") || !strings.Contains(p.User, "admin") {
				t.Fatalf("after signing in: on %s as %q, want /console/scope as ada (admin)", p.Path, p.User)
			}
			c := b.cookie("fv_session")
			if c == nil {
				t.Fatalf("no fv_session cookie after signing in; cookies: %v", browsertest.Cookies(t, b.ctx))
			}
			if !c.HTTPOnly || c.SameSite != network.CookieSameSiteStrict || c.Path != "/console" || c.Secure || len(c.Value) != 43 {
				t.Errorf("session cookie: HttpOnly %v, SameSite %q, Path %q, Secure %v, %d characters; want HttpOnly, Strict, /console, "+
					"not Secure over plain HTTP, 43 (256 bits)", c.HTTPOnly, c.SameSite, c.Path, c.Secure, len(c.Value))
			}
			if b.cookie("fv_signin") != nil {
				t.Error("the sign-in form's cookie outlived the sign-in")
			}
			sessionToken := c.Value
			if !strings.Contains(p.Text, "acme · live") || !strings.Contains(p.Text, "default · test") {
				t.Errorf("scope page lists no acme and default accounts:\n%s", p.Text)
			}
			browsertest.Screenshot(t, b.ctx, "choose-account")
			resp = b.chooseScope(e.base, "acme", "live")
			wantStatus(t, "choose acme live", resp, http.StatusOK)
			if p := b.page(); p.Path != "/console/" || !strings.Contains(p.Scope, "acme · live") {
				t.Fatalf("after choosing acme live: on %s with scope %q", p.Path, p.Scope)
			}
			if p := b.page(); !slices.Contains(p.Nav, "Users") {
				t.Errorf("an admin's navigation %v lacks Users", p.Nav)
			}

			// Forged forms: no CSRF token, a wrong one. Neither signs out.
			for _, fields := range []map[string]string{{}, {"csrf": strings.Repeat("A", 43)}} {
				resp = b.postForm("/console/sign-out", fields)
				wantStatus(t, fmt.Sprintf("sign-out form with %v", fields), resp, http.StatusForbidden)
				if p := b.page(); !strings.Contains(p.Message, "not sent from this console") {
					t.Errorf("forged form: message %q", p.Message)
				}
				b.open(e.base + "/console/")
				if p := b.page(); p.Path != "/console/" || !strings.Contains(p.User, "ada") {
					t.Fatalf("a forged sign-out form signed ada out: on %s as %q", p.Path, p.User)
				}
			}
			// A form from another origin is refused even with the right
			// token (which another site cannot read; here it is given).
			token := b.page().CSRF
			evil := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				fmt.Fprintf(w, `<!doctype html><form method="post" action="%s/console/scope">
					<input type="hidden" name="csrf" value="%s"><input type="hidden" name="account" value="x">
					<input type="hidden" name="mode" value="test"><button id="go" type="submit">Win a prize</button></form>`,
					html.EscapeString(e.base), html.EscapeString(token))
			}))
			defer evil.Close()
			b.open(evil.URL)
			resp = b.submit("cross-origin form", chromedp.Click(chromedp.ID("go")))
			wantStatus(t, "cross-origin form", resp, http.StatusForbidden)
			if p := b.page(); !strings.Contains(p.Message, "sent from another site") {
				t.Errorf("cross-origin form: message %q", p.Message)
			}

			// The admin-only users page.
			resp = b.open(e.base + "/console/users")
			wantStatus(t, "users page as admin", resp, http.StatusOK)
			if p := b.page(); !strings.Contains(p.Text, "rex") || !strings.Contains(p.Text, "ada") {
				t.Errorf("users page lacks ada or rex:\n%s", p.Text)
			}
			browsertest.Screenshot(t, b.ctx, "users")

			// Sign out: back on the sign-in page, the cookie gone, the
			// session gone on the server, and the back button shows no
			// console page.
			b.open(e.base + "/console/")
			resp = b.submit("sign out", chromedp.Click(chromedp.ID("sign-out")))
			wantStatus(t, "sign out", resp, http.StatusOK)
			if p := b.page(); p.Path != "/console/sign-in" || p.Notice != "You have signed out." {
				t.Fatalf("after signing out: on %s, notice %q", p.Path, p.Notice)
			}
			if b.cookie("fv_session") != nil {
				t.Error("the session cookie outlived the sign-out")
			}
			b.do("back", chromedp.NavigateBack())
			if p := b.page(); p.User != "" || p.Path != "/console/sign-in" {
				t.Errorf("the back button after signing out shows %s with user %q", p.Path, p.User)
			}
			if status := e.getWithSession(t, "/console/", sessionToken); status != http.StatusSeeOther {
				t.Errorf("GET /console/ with the signed-out session's token: %d, want 303 to the sign-in page", status)
			}

			// A reviewer is refused the admin-only page and actions.
			b.signIn(e.base, "rex", rexPassword)
			b.chooseScope(e.base, "default", "test")
			if p := b.page(); slices.Contains(p.Nav, "Users") {
				t.Errorf("a reviewer's navigation %v offers Users", p.Nav)
			}
			resp = b.open(e.base + "/console/users")
			wantStatus(t, "users page as reviewer", resp, http.StatusForbidden)
			if p := b.page(); p.Message != "Your role does not allow this." {
				t.Errorf("users page as reviewer: message %q", p.Message)
			}
			b.open(e.base + "/console/")
			resp = b.postForm("/console/users", map[string]string{"csrf": b.page().CSRF, "name": "mallory", "role": "admin", "password": "mallory's password"})
			wantStatus(t, "create a user as reviewer", resp, http.StatusForbidden)
			if out, _ := e.users(t, "", "list"); strings.Contains(out, "mallory") {
				t.Errorf("a reviewer created a user:\n%s", out)
			}

			// A new password, disabling and deleting end rex's session.
			for _, step := range []struct {
				name  string
				stdin string
				args  []string
			}{
				{"new password", "another long password\n", []string{"set-password", "--name", "rex"}},
				{"disable", "", []string{"disable", "--name", "rex"}},
				{"delete", "", []string{"delete", "--name", "rex"}},
			} {
				switch step.name {
				case "new password":
				case "disable":
					b.signIn(e.base, "rex", "another long password")
				case "delete":
					if out, err := e.users(t, "", "enable", "--name", "rex"); err != nil {
						t.Fatalf("users enable: %v\n%s", err, out)
					}
					b.signIn(e.base, "rex", "another long password")
				}
				if p := b.page(); !strings.Contains(p.User, "rex") {
					t.Fatalf("before %s: not signed in as rex (on %s: %q)", step.name, p.Path, p.Message)
				}
				if out, err := e.users(t, step.stdin, step.args...); err != nil {
					t.Fatalf("users %s: %v\n%s", strings.Join(step.args, " "), err, out)
				}
				b.open(e.base + "/console/")
				if p := b.page(); p.Path != "/console/sign-in" || p.User != "" {
					t.Errorf("after %s: on %s as %q, want the sign-in page", step.name, p.Path, p.User)
				}
			}
		})
	}
}

// getWithSession sends GET path with token as the session cookie, outside
// the browser, and returns the status without following redirects.
func (e *consoleEnv) getWithSession(t *testing.T, path, token string) int {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, e.base+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.AddCookie(&http.Cookie{Name: "fv_session", Value: token})
	client := &http.Client{Timeout: 10 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// TestConsoleLockout: failed sign-ins in a row lock a user out, counted
// in the record store (on PostgreSQL, across two nodes, alternately); the
// right password is then refused too, with the lock-out message, until
// 'users unlock'.
func TestConsoleLockout(t *testing.T) {
	for _, be := range consoleBackends {
		t.Run(be.name, func(t *testing.T) {
			nodes := 1
			if be.name == "postgres+s3" {
				nodes = 2
			}
			e := be.start(t, nodes, "--console-max-failures", "3", "--console-lockout", "1h")
			e.createUser(t, "ada", "admin", adaPassword)
			b := newBrowser(t, browsertest.Options{})
			node := func(i int) string { return "http://" + e.nodes[i%len(e.nodes)].addr }
			for i := range 2 {
				resp := b.signIn(node(i), "ada", "not the password at all")
				wantStatus(t, fmt.Sprintf("failure %d", i+1), resp, http.StatusUnauthorized)
			}
			resp := b.signIn(node(2), "ada", "not the password at all")
			wantStatus(t, "failure 3", resp, http.StatusTooManyRequests)
			if p := b.page(); !strings.Contains(p.Message, "locked out") {
				t.Errorf("failure 3: message %q, want the lock-out message", p.Message)
			}
			browsertest.Screenshot(t, b.ctx, "locked-out")
			resp = b.signIn(node(3), "ada", adaPassword)
			wantStatus(t, "the right password while locked out", resp, http.StatusTooManyRequests)
			if p := b.page(); p.User != "" || !strings.Contains(p.Message, "locked out") {
				t.Errorf("the right password while locked out: signed in as %q, message %q", p.User, p.Message)
			}
			if out, _ := e.users(t, "", "list"); !strings.Contains(out, "locked until") {
				t.Errorf("users list does not show the lock-out:\n%s", out)
			}
			if out, err := e.users(t, "", "unlock", "--name", "ada"); err != nil || !strings.Contains(out, `Unlocked "ada"`) {
				t.Fatalf("users unlock: %v\n%s", err, out)
			}
			resp = b.signIn(node(4), "ada", adaPassword)
			wantStatus(t, "sign in after unlock", resp, http.StatusOK)
			if p := b.page(); !strings.Contains(p.User, "ada") {
				t.Errorf("after unlock: not signed in (on %s: %q)", p.Path, p.Message)
			}
			// The session holds on every node of the store.
			if len(e.nodes) > 1 {
				b.open(node(1) + "/console/scope")
				if p := b.page(); !strings.Contains(p.User, "ada") {
					t.Errorf("on the other node: not signed in (on %s)", p.Path)
				}
			}
		})
	}
}

// TestConsoleTLS: over HTTPS the session cookie is __Host-fv_session,
// Secure, with Path=/ (which the prefix requires).
func TestConsoleTLS(t *testing.T) {
	clearServeEnv(t)
	dir := t.TempDir()
	certFile, keyFile := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	_, certPEM, keyPEM := testCert(t, 1)
	if err := os.WriteFile(certFile, certPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, keyPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	data := filepath.Join(dir, "data")
	srv := startServe(t, slices.Concat(serveArgs(data), consoleServeFlags, []string{"--tls-cert", certFile, "--tls-key", keyFile})...)
	e := &consoleEnv{srv: srv, storeArgs: []string{"--data", data}, base: "https://" + srv.addr}
	e.createUser(t, "ada", "admin", adaPassword)
	b := newBrowser(t, browsertest.Options{IgnoreCertErrors: true})
	resp := b.signIn(e.base, "ada", adaPassword)
	wantStatus(t, "sign in over HTTPS", resp, http.StatusOK)
	wantSecurityHeaders(t, "page over HTTPS", resp)
	if b.cookie("fv_session") != nil {
		t.Error("over HTTPS the session cookie has no __Host- prefix")
	}
	c := b.cookie("__Host-fv_session")
	if c == nil {
		t.Fatalf("no __Host-fv_session cookie over HTTPS; cookies: %v", browsertest.Cookies(t, b.ctx))
	}
	if !c.Secure || !c.HTTPOnly || c.SameSite != network.CookieSameSiteStrict || c.Path != "/" || c.Domain != "127.0.0.1" {
		t.Errorf("session cookie over HTTPS: Secure %v, HttpOnly %v, SameSite %q, Path %q, Domain %q; want Secure, HttpOnly, Strict, /, host only",
			c.Secure, c.HTTPOnly, c.SameSite, c.Path, c.Domain)
	}
	if p := b.page(); p.Path != "/console/scope" || !strings.Contains(p.User, "ada") {
		t.Errorf("signed in over HTTPS: on %s as %q", p.Path, p.User)
	}
}
