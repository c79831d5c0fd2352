// Package console is FaceVault's review console: server-rendered HTML pages,
// under /console/, where console users (see facevault.ConsoleUser) sign in,
// choose an account and mode, and review what the service holds. It is
// another client of the Vault, like the HTTP API: it reads and acts through
// the same operations, never a second path to the data.
//
// # Adding a page
//
// A page is one handler, one entry in the route table and one template.
//
// The handler is a method of *Console with the signature of HandlerFunc. It
// gets the Viewer: the signed-in user (v.User, v.Role(), v.IsAdmin()), the
// account and mode chosen (v.Scope, a facevault.Scope, and v.AccountName)
// and the session's CSRF token; ViewerFrom(r.Context()) returns it too. It
// writes the page with c.render, or returns an error: an *Error (NotFound,
// BadRequest, or any status and message) answers with its status,
// facevault.ErrNotFound with 404, anything else with 500 and the cause in
// the log only.
//
//	func (c *Console) queue(w http.ResponseWriter, r *http.Request, v *Viewer) error {
//		total, photos, err := ... c.vault ... v.Scope ...
//		if err != nil {
//			return err
//		}
//		return c.render(w, r, v, http.StatusOK, "queue", Page{Title: "Review queue", Data: ...})
//	}
//
// The route goes in the table: reviewRoutes (review.go) for the review
// pages, authRoutes (auth.go) for sign-in, accounts and users.
//
//	{Pattern: "GET /console/queue", Role: facevault.RoleReviewer, Scoped: true, Nav: "Review queue", Handler: c.queue},
//	{Pattern: "POST /console/clients/{id}/delete", Role: facevault.RoleAdmin, Scoped: true, Handler: c.deleteClient},
//
// Pattern is a net/http ServeMux pattern, method first; its wildcards are
// r.PathValue("id"). Role is the least role the route needs: RoleReviewer
// for any signed-in user, RoleAdmin for admins only (a reviewer gets 403);
// Public for the sign-in page alone. A Scoped route needs an account and
// mode chosen: a GET without one is sent to the page that chooses them. Nav,
// if set, is the page's label in the navigation bar, shown to the users
// whose role allows the route.
//
// The template is templates/<name>.html, named after the page: "queue" is
// templates/queue.html. It defines "content", which the base layout
// (templates/layout.html: header, navigation, the page's Title as its
// heading) places in main. Dot is the Page: the handler's data is .Data,
// the viewer .Viewer. Every form that changes anything is a POST and
// carries the CSRF token:
//
//	<form method="post" action="/console/photos/{{.Data.ID}}/redact">
//		{{template "csrf" .}}
//		<button type="submit">Redact</button>
//	</form>
//
// (inside {{range}} or {{with}}, {{template "csrf" $}}). Templates may call
// the functions in funcs (render.go).
//
// Every request that is not GET or HEAD is refused with 403 before its
// handler runs unless it comes from the console's own origin (Origin and
// Sec-Fetch-Site, net/http's CrossOriginProtection) and carries the CSRF
// token of its session in the form field "csrf". Handlers never check
// either. (The sign-in form, which has no session yet, carries a token of
// its own that a cookie holds, checked by the sign-in handler.) A role is
// checked after the token: a reviewer's well-formed request to an admin
// route gets 403. Every response carries the
// security headers (see securityHeaders), Cache-Control: no-store among
// them. Forms are read with r.FormValue once the dispatcher has parsed the
// body, capped at MaxFormBytes.
package console

import (
	"context"
	"errors"
	"fmt"
	"html/template"
	"log/slog"
	"net/http"
	"net/netip"
	"slices"
	"sync"
	"time"

	"github.com/facevault/facevault"
)

// Public is the Role of a route that needs no sign-in.
const Public facevault.ConsoleRole = ""

// Defaults of Config.
const (
	DefaultIdleTimeout = 30 * time.Minute
	DefaultLifetime    = 12 * time.Hour
	DefaultMaxFailures = 5
	DefaultLockout     = 15 * time.Minute
)

// MaxFormBytes caps the body of a console form.
const MaxFormBytes = 64 << 10

// Config holds the console's settings. The zero value of each field is its
// default.
type Config struct {
	// IdleTimeout ends a session not used for this long.
	IdleTimeout time.Duration
	// Lifetime ends a session this long after sign-in, used or not.
	Lifetime time.Duration
	// MaxFailures is the number of failed sign-ins in a row that lock a
	// user out, for Lockout.
	MaxFailures int
	// Lockout is how long a lock-out lasts.
	Lockout time.Duration
	// Events is told of sign-ins, sign-outs and failed sign-ins, beside
	// the log; nil records them in the log only.
	Events EventRecorder
	// HTTPS says browsers reach the console over HTTPS through a proxy
	// that terminates TLS, so that its cookies are Secure (and
	// __Host-) even though this server's connections are plain HTTP.
	HTTPS bool
	// TrustedProxies are the load balancers and reverse proxies whose
	// X-Forwarded-For names the browser's address, as for the API
	// (serve's --trusted-proxies): the address that sign-ins, their
	// lock-out events and the audit log record. Other peers are taken
	// as they are.
	TrustedProxies []netip.Prefix
	// Now is the clock; nil is time.Now.
	Now func() time.Time
}

// Console serves the review console. Create one with New; it is an
// http.Handler for everything under /console.
type Console struct {
	vault  *facevault.Vault
	users  facevault.ConsoleStore
	keys   facevault.KeyStore
	logger *slog.Logger
	cfg    Config
	now    func() time.Time

	routes []Route
	mux    *http.ServeMux
	pages  map[string]*template.Template
	cross  *http.CrossOriginProtection
	// hashing bounds the password hashes computed at once: each takes
	// PasswordMemory of memory.
	hashing chan struct{}
	// dummyHash is the hash a sign-in that names no user who could sign
	// in is checked against (see newDummyHash), made on first use.
	dummyHash func() string

	// review and reviewOnce hold the review pages' settings (review.go).
	review     ReviewOptions
	reviewOnce sync.Once
}

// HandlerFunc is what a console page's handler is: it writes the page for
// viewer v, or returns an error that the console turns into an error page
// (see Error).
type HandlerFunc func(w http.ResponseWriter, r *http.Request, v *Viewer) error

// Route is one entry of the console's route table.
type Route struct {
	// Pattern is the net/http ServeMux pattern, method first:
	// "GET /console/clients/{id}".
	Pattern string
	// Role is the least role the route needs; Public for none.
	Role facevault.ConsoleRole
	// Scoped routes need an account and mode chosen.
	Scoped bool
	// Nav, if set, puts the route in the navigation bar under this label
	// (GET routes only).
	Nav string
	// Handler writes the page.
	Handler HandlerFunc
}

// New returns the console for vault, with console users and sessions in
// users and the accounts to choose from in keys.
func New(vault *facevault.Vault, users facevault.ConsoleStore, keys facevault.KeyStore, logger *slog.Logger, cfg Config) (*Console, error) {
	if cfg.IdleTimeout <= 0 {
		cfg.IdleTimeout = DefaultIdleTimeout
	}
	if cfg.Lifetime <= 0 {
		cfg.Lifetime = DefaultLifetime
	}
	if cfg.MaxFailures <= 0 {
		cfg.MaxFailures = DefaultMaxFailures
	}
	if cfg.Lockout <= 0 {
		cfg.Lockout = DefaultLockout
	}
	c := &Console{
		vault:     vault,
		users:     users,
		keys:      keys,
		logger:    logger,
		cfg:       cfg,
		now:       cfg.Now,
		mux:       http.NewServeMux(),
		cross:     http.NewCrossOriginProtection(),
		hashing:   make(chan struct{}, 2),
		dummyHash: sync.OnceValue(newDummyHash),
	}
	if c.now == nil {
		c.now = time.Now
	}
	pages, err := parsePages()
	if err != nil {
		return nil, err
	}
	c.pages = pages
	c.routes = slices.Concat(c.reviewRoutes(), c.authRoutes()) // the navigation bar's order
	for _, rt := range c.routes {
		c.mux.Handle(rt.Pattern, c.serveRoute(rt))
	}
	c.mux.Handle("GET /console/static/", http.StripPrefix("/console/static/", http.FileServerFS(staticFS())))
	c.mux.HandleFunc("/console/", func(w http.ResponseWriter, r *http.Request) {
		c.renderError(w, r, nil, &Error{Status: http.StatusNotFound, Message: "There is no such page."})
	})
	return c, nil
}

// clock returns the current time at the stores' precision.
func (c *Console) clock() time.Time { return c.now().UTC().Truncate(time.Millisecond) }

// ServeHTTP serves a console request: /console redirects to /console/, and
// every response carries the security headers.
func (c *Console) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	securityHeaders(w.Header())
	if r.URL.Path == "/console" {
		http.Redirect(w, r, "/console/", http.StatusMovedPermanently)
		return
	}
	c.mux.ServeHTTP(w, r)
}

// serveRoute wraps a route's handler with what every route needs: the
// cross-origin and CSRF checks, the session, the role and the scope.
func (c *Console) serveRoute(rt Route) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		safe := r.Method == http.MethodGet || r.Method == http.MethodHead
		if !safe {
			if err := c.cross.Check(r); err != nil {
				c.logger.InfoContext(r.Context(), "console: cross-origin request refused", "path", r.URL.Path, "remote", r.RemoteAddr)
				c.renderError(w, r, nil, &Error{Status: http.StatusForbidden, Message: "This form was sent from another site, and was refused."})
				return
			}
			r.Body = http.MaxBytesReader(w, r.Body, MaxFormBytes)
			if err := r.ParseForm(); err != nil {
				status := http.StatusBadRequest
				if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
					status = http.StatusRequestEntityTooLarge
				}
				c.renderError(w, r, nil, &Error{Status: status, Message: "The form could not be read."})
				return
			}
		}
		v, err := c.viewer(w, r)
		if err != nil {
			c.renderError(w, r, nil, err)
			return
		}
		if rt.Role != Public {
			if v == nil {
				if safe {
					http.Redirect(w, r, signInPath(r), http.StatusSeeOther)
					return
				}
				c.renderError(w, r, nil, &Error{Status: http.StatusForbidden, Message: "Your session has ended: sign in again."})
				return
			}
			if !safe && !v.validCSRF(r.PostFormValue(csrfField)) {
				c.logger.InfoContext(r.Context(), "console: form without a valid CSRF token refused", "path", r.URL.Path, "user", v.User.Name)
				c.renderError(w, r, v, &Error{Status: http.StatusForbidden, Message: "This form has expired or was not sent from this console. Go back, reload the page and try again."})
				return
			}
			if !v.User.Role.Allows(rt.Role) {
				c.record(r.Context(), Event{Type: EventRefused, UserID: v.User.ID, UserName: v.User.Name, Remote: c.source(r),
					Route: rt.Pattern, At: c.clock()})
				c.renderError(w, r, v, &Error{Status: http.StatusForbidden, Message: "Your role does not allow this."})
				return
			}
			if rt.Scoped && v.Scope == (facevault.Scope{}) {
				if safe {
					http.Redirect(w, r, "/console/scope", http.StatusSeeOther)
					return
				}
				c.renderError(w, r, v, &Error{Status: http.StatusBadRequest, Message: "Choose an account and mode first."})
				return
			}
		}
		r = r.WithContext(context.WithValue(r.Context(), viewerKey{}, v))
		if err := rt.Handler(w, r, v); err != nil {
			c.renderError(w, r, v, err)
		}
	})
}

// Error is an error a console handler returns to answer with an error page:
// its status and a message for the user.
type Error struct {
	Status  int
	Message string
}

func (e *Error) Error() string { return fmt.Sprintf("console: %d: %s", e.Status, e.Message) }

// NotFound is the error of a page about something that does not exist.
func NotFound(what string) *Error {
	return &Error{Status: http.StatusNotFound, Message: what + " does not exist, or was deleted."}
}

// BadRequest is the error of a form with a wrong value.
func BadRequest(format string, args ...any) *Error {
	return &Error{Status: http.StatusBadRequest, Message: fmt.Sprintf(format, args...)}
}
