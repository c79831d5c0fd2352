package console

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/facevault/facevault"
)

// Viewer is who is looking at a console page: the signed-in user, the
// account and mode chosen, and the CSRF token of the session. Handlers get
// it as an argument; ViewerFrom finds it in a request's context.
type Viewer struct {
	User *facevault.ConsoleUser
	// Scope is the account and mode chosen; zero until chosen (a Scoped
	// route never sees it zero).
	Scope facevault.Scope
	// AccountName is the name of Scope's account.
	AccountName string
	// CSRFToken is the synchronizer token every form of this session
	// carries (see the "csrf" template).
	CSRFToken string

	session []byte // hash of the session token
}

// Role is the viewer's role.
func (v *Viewer) Role() facevault.ConsoleRole { return v.User.Role }

// IsAdmin reports whether the viewer is an admin.
func (v *Viewer) IsAdmin() bool { return v.User.Role == facevault.RoleAdmin }

// validCSRF reports, in constant time, whether token is the session's.
func (v *Viewer) validCSRF(token string) bool {
	return token != "" && subtle.ConstantTimeCompare([]byte(token), []byte(v.CSRFToken)) == 1
}

type viewerKey struct{}

// ViewerFrom returns the viewer of a console request, or nil if it has no
// session (on a Public route).
func ViewerFrom(ctx context.Context) *Viewer {
	v, _ := ctx.Value(viewerKey{}).(*Viewer)
	return v
}

// Cookies. Over HTTPS the session cookie is __Host-fv_session: Secure,
// bound to the host, with Path=/ (the __Host- prefix requires it; the API
// never reads cookies). Over plain HTTP, which is for a console on
// localhost, browsers refuse Secure cookies and the prefix, so it is
// fv_session with Path=/console. Both are HttpOnly and SameSite=Strict.
// HTTPS means a TLS connection to this server, or Config.HTTPS (a proxy
// in front terminates TLS). fv_signin carries the sign-in form's CSRF
// token (double submit) until the sign-in.
const (
	sessionCookie = "fv_session"
	signInCookie  = "fv_signin"
	hostPrefix    = "__Host-"
	csrfField     = "csrf"
	tokenBytes    = 32 // 256 bits
)

// https reports whether the browser reached the console over HTTPS.
func (c *Console) https(r *http.Request) bool { return r.TLS != nil || c.cfg.HTTPS }

// cookie returns the cookie called name as the request's transport wants it.
func (c *Console) cookie(r *http.Request, name, value string, maxAge int) *http.Cookie {
	k := &http.Cookie{Name: name, Value: value, Path: "/console", MaxAge: maxAge, HttpOnly: true, SameSite: http.SameSiteStrictMode}
	if c.https(r) {
		k.Name = hostPrefix + name
		k.Path = "/"
		k.Secure = true
	}
	return k
}

// readCookie returns the value of the cookie called name (with the prefix
// over HTTPS), or "".
func (c *Console) readCookie(r *http.Request, name string) string {
	if c.https(r) {
		name = hostPrefix + name
	}
	k, err := r.Cookie(name)
	if err != nil {
		return ""
	}
	return k.Value
}

// newToken returns a random 256-bit token, base64url.
func newToken() (string, error) {
	b := make([]byte, tokenBytes)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("console: new token: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

// sessionHash is how a session token is stored: its SHA-256.
func sessionHash(token string) []byte {
	h := sha256.Sum256([]byte(token))
	return h[:]
}

// csrfToken derives a session's CSRF token from its session token: an HMAC
// only the holder of the session cookie can compute, so none is stored.
func csrfToken(token string) string {
	m := hmac.New(sha256.New, []byte(token))
	m.Write([]byte("facevault console csrf"))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// touchEvery is how often a session in use records that it is: not on
// every request, to spare the record store a write per page.
func (c *Console) touchEvery() time.Duration { return min(time.Minute, c.cfg.IdleTimeout/4) }

// viewer returns the viewer of r's session, or nil if it has none that is
// valid: no cookie, an unknown token, a session past its idle timeout or
// lifetime, a user deleted or disabled. An ended session is deleted and its
// cookie cleared.
func (c *Console) viewer(w http.ResponseWriter, r *http.Request) (*Viewer, error) {
	token := c.readCookie(r, sessionCookie)
	if token == "" {
		return nil, nil
	}
	ctx := r.Context()
	hash := sessionHash(token)
	s, err := c.users.ConsoleSession(ctx, hash)
	if errors.Is(err, facevault.ErrNotFound) {
		http.SetCookie(w, c.cookie(r, sessionCookie, "", -1))
		return nil, nil
	} else if err != nil {
		return nil, fmt.Errorf("console: session: %w", err)
	}
	now := c.clock()
	end := func(why string) (*Viewer, error) {
		c.logger.InfoContext(ctx, "console: session ended", "reason", why, "user_id", s.UserID)
		http.SetCookie(w, c.cookie(r, sessionCookie, "", -1))
		if err := c.users.DeleteConsoleSession(ctx, hash); err != nil {
			return nil, fmt.Errorf("console: end session: %w", err)
		}
		return nil, nil
	}
	if !now.Before(s.LastSeenAt.Add(c.cfg.IdleTimeout)) {
		return end("idle")
	}
	if !now.Before(s.CreatedAt.Add(c.cfg.Lifetime)) {
		return end("lifetime")
	}
	u, err := c.users.ConsoleUser(ctx, s.UserID)
	if errors.Is(err, facevault.ErrNotFound) {
		return end("user deleted")
	} else if err != nil {
		return nil, fmt.Errorf("console: session user: %w", err)
	}
	if u.Disabled {
		return end("user disabled")
	}
	if now.Sub(s.LastSeenAt) >= c.touchEvery() {
		if err := c.users.TouchConsoleSession(ctx, hash, now); err != nil && !errors.Is(err, facevault.ErrNotFound) {
			return nil, fmt.Errorf("console: touch session: %w", err)
		}
	}
	v := &Viewer{User: u, Scope: s.Scope, CSRFToken: csrfToken(token), session: hash}
	if s.Scope != (facevault.Scope{}) {
		accounts, err := c.accounts(ctx)
		if err != nil {
			return nil, err
		}
		for _, a := range accounts {
			if a.ID == s.Scope.AccountID {
				v.AccountName = a.Name
			}
		}
	}
	return v, nil
}

// startSession creates a session for u and sets its cookie.
func (c *Console) startSession(w http.ResponseWriter, r *http.Request, u *facevault.ConsoleUser) error {
	token, err := newToken()
	if err != nil {
		return err
	}
	now := c.clock()
	// Sessions that ended without a sign-out go when someone signs in.
	if _, err := c.users.DeleteStaleConsoleSessions(r.Context(), now.Add(-c.cfg.IdleTimeout), now.Add(-c.cfg.Lifetime)); err != nil {
		return fmt.Errorf("console: delete stale sessions: %w", err)
	}
	s := &facevault.ConsoleSession{Hash: sessionHash(token), UserID: u.ID, CreatedAt: now, LastSeenAt: now}
	if err := c.users.CreateConsoleSession(r.Context(), s); err != nil {
		return fmt.Errorf("console: create session: %w", err)
	}
	http.SetCookie(w, c.cookie(r, sessionCookie, token, int(c.cfg.Lifetime/time.Second)))
	return nil
}
