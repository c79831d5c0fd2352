package console

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/facevault/facevault"
)

// authRoutes are the routes of signing in and out, choosing the account
// and mode, and managing console users.
func (c *Console) authRoutes() []Route {
	return []Route{
		{Pattern: "GET /console/sign-in", Role: Public, Handler: c.signInPage},
		{Pattern: "POST /console/sign-in", Role: Public, Handler: c.signIn},
		{Pattern: "POST /console/sign-out", Role: facevault.RoleReviewer, Handler: c.signOut},
		{Pattern: "GET /console/scope", Role: facevault.RoleReviewer, Handler: c.scopePage},
		{Pattern: "POST /console/scope", Role: facevault.RoleReviewer, Handler: c.chooseScope},
		{Pattern: "GET /console/users", Role: facevault.RoleAdmin, Nav: "Users", Handler: c.usersPage},
		{Pattern: "POST /console/users", Role: facevault.RoleAdmin, Handler: c.createUser},
		{Pattern: "POST /console/users/{id}/{action}", Role: facevault.RoleAdmin, Handler: c.userAction},
	}
}

// Messages of the sign-in page. A failed sign-in says nothing of which of
// the name and password was wrong, or whether the user exists.
const (
	msgSignInFailed = "The name or password is not right."
	msgLockedOut    = "Too many failed sign-ins: this user is locked out for a while. Try again later, or ask an admin to unlock it."
)

// signInData is what the sign-in page shows.
type signInData struct {
	Name    string
	Message string
	Next    string
	Notice  string
}

// signInPath is the sign-in page's path, coming back to r's page after.
func signInPath(r *http.Request) string {
	return "/console/sign-in?next=" + url.QueryEscape(r.URL.RequestURI())
}

// localNext returns next if it is a console page to go to after signing in,
// and "" otherwise: never another site.
func localNext(next string) string {
	if !strings.HasPrefix(next, "/console/") || strings.HasPrefix(next, "//") || strings.ContainsAny(next, "\\\r\n") {
		return ""
	}
	return next
}

// signInPage shows the sign-in form, with a fresh CSRF token held in the
// fv_signin cookie until the form comes back.
func (c *Console) signInPage(w http.ResponseWriter, r *http.Request, v *Viewer) error {
	if v != nil {
		http.Redirect(w, r, "/console/", http.StatusSeeOther)
		return nil
	}
	d := signInData{Next: localNext(r.URL.Query().Get("next"))}
	if r.URL.Query().Has("signed-out") {
		d.Notice = "You have signed out."
	}
	return c.renderSignIn(w, r, http.StatusOK, d)
}

func (c *Console) renderSignIn(w http.ResponseWriter, r *http.Request, status int, d signInData) error {
	token, err := newToken()
	if err != nil {
		return err
	}
	http.SetCookie(w, c.cookie(r, signInCookie, token, 3600))
	return c.render(w, r, nil, status, "sign-in", Page{Title: "Sign in", CSRF: token, Data: d})
}

// signIn checks a name and password and starts a session. Users that do
// not exist or are disabled are checked against a dummy hash, so that
// every failed sign-in takes as long.
func (c *Console) signIn(w http.ResponseWriter, r *http.Request, v *Viewer) error {
	ctx := r.Context()
	form := r.PostFormValue(csrfField)
	if cookieToken := c.readCookie(r, signInCookie); form == "" || cookieToken == "" || !(&Viewer{CSRFToken: cookieToken}).validCSRF(form) {
		return &Error{Status: http.StatusForbidden, Message: "This sign-in form has expired or was not sent from this console. Reload the page and try again."}
	}
	name, password := strings.TrimSpace(r.PostFormValue("name")), r.PostFormValue("password")
	d := signInData{Name: name, Next: localNext(r.PostFormValue("next"))}
	now := c.clock()
	ev := Event{UserName: name, Remote: c.source(r), At: now}
	u, err := c.users.ConsoleUserByName(ctx, name)
	if errors.Is(err, facevault.ErrNotFound) || name == "" {
		u = nil
	} else if err != nil {
		return fmt.Errorf("console: sign in: %w", err)
	}
	if u != nil {
		ev.UserID = u.ID
	}
	if u != nil && u.Locked(now) {
		ev.Type = EventLockedOut
		c.record(ctx, ev)
		d.Message = msgLockedOut
		return c.renderSignIn(w, r, http.StatusTooManyRequests, d)
	}
	hash := c.dummyHash()
	if u != nil && !u.Disabled {
		hash = u.PasswordHash
	}
	ok, err := c.verify(ctx, hash, password)
	if err != nil {
		return fmt.Errorf("console: sign in %q: %w", name, err)
	}
	if u == nil || u.Disabled || !ok {
		ev.Type = EventSignInFailed
		status := http.StatusUnauthorized
		d.Message = msgSignInFailed
		if u != nil && !u.Disabled {
			u, err = c.users.FailConsoleSignIn(ctx, u.ID, now, c.cfg.MaxFailures, c.cfg.Lockout)
			if err != nil && !errors.Is(err, facevault.ErrNotFound) {
				return fmt.Errorf("console: sign in %q: %w", name, err)
			}
			if u != nil && u.Locked(now) {
				ev.Type = EventLockedOut
				status, d.Message = http.StatusTooManyRequests, msgLockedOut
			}
		}
		c.record(ctx, ev)
		return c.renderSignIn(w, r, status, d)
	}
	if u.FailedSignIns > 0 || !u.LockedUntil.IsZero() {
		if err := c.users.ClearConsoleSignIns(ctx, u.ID, now); err != nil {
			return fmt.Errorf("console: sign in %q: %w", name, err)
		}
	}
	// A session this browser had already ends: one browser, one session.
	if v != nil {
		if err := c.users.DeleteConsoleSession(ctx, v.session); err != nil {
			return fmt.Errorf("console: sign in %q: end the previous session: %w", name, err)
		}
	}
	if err := c.startSession(w, r, u); err != nil {
		return err
	}
	http.SetCookie(w, c.cookie(r, signInCookie, "", -1))
	ev.Type = EventSignIn
	c.record(ctx, ev)
	http.Redirect(w, r, cmp.Or(d.Next, "/console/"), http.StatusSeeOther)
	return nil
}

// verify checks password against hash, waiting for a free hashing slot.
func (c *Console) verify(ctx context.Context, hash, password string) (bool, error) {
	select {
	case c.hashing <- struct{}{}:
	case <-ctx.Done():
		return false, ctx.Err()
	}
	defer func() { <-c.hashing }()
	if len(password) > MaxPasswordBytes {
		password = password[:MaxPasswordBytes]
		hash = c.dummyHash()
	}
	return VerifyPassword(hash, password)
}

// signOut ends the session.
func (c *Console) signOut(w http.ResponseWriter, r *http.Request, v *Viewer) error {
	if err := c.users.DeleteConsoleSession(r.Context(), v.session); err != nil {
		return fmt.Errorf("console: sign out: %w", err)
	}
	http.SetCookie(w, c.cookie(r, sessionCookie, "", -1))
	c.record(r.Context(), Event{Type: EventSignOut, UserID: v.User.ID, UserName: v.User.Name, Remote: c.source(r), At: c.clock()})
	http.Redirect(w, r, "/console/sign-in?signed-out", http.StatusSeeOther)
	return nil
}

// accounts lists the accounts the API key store knows (those with a key,
// revoked or not), by name.
func (c *Console) accounts(ctx context.Context) ([]facevault.Account, error) {
	keys, err := c.keys.ListKeys(ctx)
	if err != nil {
		return nil, fmt.Errorf("console: accounts: %w", err)
	}
	var out []facevault.Account
	seen := map[string]bool{}
	for _, k := range keys {
		if !seen[k.AccountID] {
			seen[k.AccountID] = true
			out = append(out, facevault.Account{ID: k.AccountID, Name: k.AccountName})
		}
	}
	slices.SortFunc(out, func(a, b facevault.Account) int { return cmp.Compare(a.Name, b.Name) })
	return out, nil
}

// scopeChoice is one account and mode the scope page offers.
type scopeChoice struct {
	AccountID, AccountName string
	Mode                   facevault.Mode
	Current                bool
}

// scopePage lists every account in both modes to choose from.
func (c *Console) scopePage(w http.ResponseWriter, r *http.Request, v *Viewer) error {
	accounts, err := c.accounts(r.Context())
	if err != nil {
		return err
	}
	var choices []scopeChoice
	for _, a := range accounts {
		for _, m := range []facevault.Mode{facevault.ModeLive, facevault.ModeTest} {
			choices = append(choices, scopeChoice{AccountID: a.ID, AccountName: a.Name, Mode: m,
				Current: v.Scope == facevault.Scope{AccountID: a.ID, Mode: m}})
		}
	}
	return c.render(w, r, v, http.StatusOK, "scope", Page{Title: "Choose an account", Data: choices})
}

// chooseScope records the account and mode the session works in.
func (c *Console) chooseScope(w http.ResponseWriter, r *http.Request, v *Viewer) error {
	s := facevault.Scope{AccountID: r.PostFormValue("account"), Mode: facevault.Mode(r.PostFormValue("mode"))}
	if !s.Mode.Valid() {
		return BadRequest("Choose the mode live or test.")
	}
	accounts, err := c.accounts(r.Context())
	if err != nil {
		return err
	}
	if !slices.ContainsFunc(accounts, func(a facevault.Account) bool { return a.ID == s.AccountID }) {
		return BadRequest("There is no such account.")
	}
	if err := c.users.SetConsoleSessionScope(r.Context(), v.session, s, c.clock()); err != nil {
		return fmt.Errorf("console: choose scope: %w", err)
	}
	http.Redirect(w, r, "/console/", http.StatusSeeOther)
	return nil
}

// usersData is what the users page shows.
type usersData struct {
	Users   []*facevault.ConsoleUser
	Message string
	Error   string
}

// usersPage lists the console users, for admins.
func (c *Console) usersPage(w http.ResponseWriter, r *http.Request, v *Viewer) error {
	return c.renderUsers(w, r, v, http.StatusOK, usersData{Message: r.URL.Query().Get("done")})
}

func (c *Console) renderUsers(w http.ResponseWriter, r *http.Request, v *Viewer, status int, d usersData) error {
	users, err := c.users.ConsoleUsers(r.Context())
	if err != nil {
		return fmt.Errorf("console: users: %w", err)
	}
	d.Users = users
	return c.render(w, r, v, status, "users", Page{Title: "Console users", Data: d})
}

// createUser creates a console user from the users page.
func (c *Console) createUser(w http.ResponseWriter, r *http.Request, v *Viewer) error {
	name, role, password := strings.TrimSpace(r.PostFormValue("name")), facevault.ConsoleRole(r.PostFormValue("role")), r.PostFormValue("password")
	fail := func(msg string) error { return c.renderUsers(w, r, v, http.StatusBadRequest, usersData{Error: msg}) }
	if err := CheckUserName(name); err != nil {
		return fail(err.Error())
	}
	if !role.Valid() {
		return fail("The role must be reviewer or admin.")
	}
	if err := CheckPassword(password); err != nil {
		return fail(err.Error())
	}
	u, err := NewUser(name, role, password, c.clock())
	if err != nil {
		return err
	}
	if err := c.users.CreateConsoleUser(r.Context(), u); errors.Is(err, facevault.ErrExist) {
		return fail(fmt.Sprintf("A user is called %q already.", name))
	} else if err != nil {
		return fmt.Errorf("console: create user: %w", err)
	}
	c.record(r.Context(), Event{Type: EventUserCreated, UserID: v.User.ID, UserName: v.User.Name, SubjectID: u.ID, SubjectName: u.Name,
		Remote: c.source(r), At: c.clock()})
	http.Redirect(w, r, "/console/users?done="+url.QueryEscape("Created "+name+"."), http.StatusSeeOther)
	return nil
}

// userAction disables, enables or unlocks a console user.
func (c *Console) userAction(w http.ResponseWriter, r *http.Request, v *Viewer) error {
	ctx, id, action := r.Context(), r.PathValue("id"), r.PathValue("action")
	u, err := c.users.ConsoleUser(ctx, id)
	if errors.Is(err, facevault.ErrNotFound) {
		return NotFound("This user")
	} else if err != nil {
		return fmt.Errorf("console: user %s: %w", id, err)
	}
	now := c.clock()
	var done string
	var ev EventType
	switch action {
	case "disable":
		if u.ID == v.User.ID {
			return BadRequest("You cannot disable yourself.")
		}
		err, done, ev = c.users.SetConsoleUserDisabled(ctx, id, true, now), "Disabled "+u.Name+"; their sessions have ended.", EventUserDisabled
	case "enable":
		err, done, ev = c.users.SetConsoleUserDisabled(ctx, id, false, now), "Enabled "+u.Name+".", EventUserEnabled
	case "unlock":
		err, done, ev = c.users.ClearConsoleSignIns(ctx, id, now), "Unlocked "+u.Name+".", EventUserUnlocked
	default:
		return NotFound("This page")
	}
	if err != nil {
		return fmt.Errorf("console: %s user %s: %w", action, id, err)
	}
	c.record(ctx, Event{Type: ev, UserID: v.User.ID, UserName: v.User.Name, SubjectID: u.ID, SubjectName: u.Name,
		Remote: c.source(r), At: now})
	http.Redirect(w, r, "/console/users?done="+url.QueryEscape(done), http.StatusSeeOther)
	return nil
}
