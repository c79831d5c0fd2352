package facevault

import (
	"context"
	"time"
)

// ConsoleRole is what a console user may do in the review console.
type ConsoleRole string

// The console roles. A reviewer looks at photos and acts on them; an admin
// can also delete clients and manage console users.
const (
	RoleReviewer ConsoleRole = "reviewer"
	RoleAdmin    ConsoleRole = "admin"
)

// Valid reports whether r is one of the console roles.
func (r ConsoleRole) Valid() bool { return r == RoleReviewer || r == RoleAdmin }

// Allows reports whether a user of role r may do what role need requires:
// an admin may do everything a reviewer may.
func (r ConsoleRole) Allows(need ConsoleRole) bool {
	switch need {
	case RoleReviewer:
		return r == RoleReviewer || r == RoleAdmin
	case RoleAdmin:
		return r == RoleAdmin
	}
	return false
}

// ConsoleUser is a person who signs in to the review console. The password
// is never stored: PasswordHash is its memory-hard hash, a PHC string that
// carries its own parameters (see console.HashPassword).
type ConsoleUser struct {
	ID           string
	Name         string // unique
	Role         ConsoleRole
	PasswordHash string
	Disabled     bool
	// FailedSignIns counts the failed sign-ins since the last successful
	// one or the last lock-out.
	FailedSignIns int
	// LockedUntil is when a lock-out ends; zero when never locked.
	LockedUntil time.Time
	CreatedAt   time.Time
	UpdatedAt   time.Time
}

// Locked reports whether the user is locked out at now.
func (u *ConsoleUser) Locked(now time.Time) bool { return now.Before(u.LockedUntil) }

// ConsoleSession is a signed-in console session. The session's token lives
// in the browser's cookie only: the store keeps its SHA-256 hash.
type ConsoleSession struct {
	Hash   []byte
	UserID string
	// Scope is the account and mode the user chose to work in; zero until
	// chosen.
	Scope      Scope
	CreatedAt  time.Time
	LastSeenAt time.Time
}

// ConsoleStore holds console users and their sessions. Both live in the
// record store, so that lock-outs and sessions hold across every node of a
// shared store.
type ConsoleStore interface {
	// CreateConsoleUser stores a new user. ErrExist if a user has its name.
	CreateConsoleUser(ctx context.Context, u *ConsoleUser) error
	// ConsoleUser returns the user with that id, or ErrNotFound.
	ConsoleUser(ctx context.Context, id string) (*ConsoleUser, error)
	// ConsoleUserByName returns the user with that name, or ErrNotFound.
	ConsoleUserByName(ctx context.Context, name string) (*ConsoleUser, error)
	// ConsoleUsers lists every user, by name.
	ConsoleUsers(ctx context.Context) ([]*ConsoleUser, error)
	// SetConsolePassword replaces the user's password hash, clears its
	// failed sign-ins and lock-out and ends all its sessions, in one
	// transaction. ErrNotFound if there is no such user.
	SetConsolePassword(ctx context.Context, id, hash string, now time.Time) error
	// SetConsoleUserDisabled disables or enables the user; disabling ends
	// all its sessions in the same transaction. ErrNotFound if there is no
	// such user.
	SetConsoleUserDisabled(ctx context.Context, id string, disabled bool, now time.Time) error
	// DeleteConsoleUser deletes the user and all its sessions. ErrNotFound
	// if there is no such user.
	DeleteConsoleUser(ctx context.Context, id string) error
	// FailConsoleSignIn counts a failed sign-in of the user, atomically:
	// the count reaching max locks the user out until now+lockFor and
	// starts the count again. It returns the user as stored afterwards, or
	// ErrNotFound.
	FailConsoleSignIn(ctx context.Context, id string, now time.Time, max int, lockFor time.Duration) (*ConsoleUser, error)
	// ClearConsoleSignIns clears the user's failed sign-ins and lock-out
	// (after a successful sign-in, or to unlock). ErrNotFound if there is
	// no such user.
	ClearConsoleSignIns(ctx context.Context, id string, now time.Time) error

	// CreateConsoleSession stores a new session. ErrNotFound if its user
	// does not exist.
	CreateConsoleSession(ctx context.Context, s *ConsoleSession) error
	// ConsoleSession returns the session whose token has that hash, or
	// ErrNotFound.
	ConsoleSession(ctx context.Context, hash []byte) (*ConsoleSession, error)
	// TouchConsoleSession records that the session was used at now.
	// ErrNotFound if it does not exist.
	TouchConsoleSession(ctx context.Context, hash []byte, now time.Time) error
	// SetConsoleSessionScope records the account and mode the session
	// works in. ErrNotFound if it does not exist.
	SetConsoleSessionScope(ctx context.Context, hash []byte, s Scope, now time.Time) error
	// DeleteConsoleSession ends a session; ending one that does not exist
	// is not an error.
	DeleteConsoleSession(ctx context.Context, hash []byte) error
	// DeleteStaleConsoleSessions deletes the sessions last used before
	// idleBefore or created before createdBefore, and returns how many.
	DeleteStaleConsoleSessions(ctx context.Context, idleBefore, createdBefore time.Time) (int, error)
}
