package console

import (
	"context"
	"time"
)

// EventType is what happened in a console Event.
type EventType string

// The console's events.
const (
	EventSignIn       EventType = "console.sign_in"
	EventSignOut      EventType = "console.sign_out"
	EventSignInFailed EventType = "console.sign_in_failed"
	// EventLockedOut is a sign-in refused because the user is locked
	// out, or the failure that locked it out.
	EventLockedOut EventType = "console.locked_out"
	// EventUserCreated, EventUserDisabled, EventUserEnabled and
	// EventUserUnlocked are an admin's changes to the console user
	// Subject on the users page.
	EventUserCreated  EventType = "console.user_created"
	EventUserDisabled EventType = "console.user_disabled"
	EventUserEnabled  EventType = "console.user_enabled"
	EventUserUnlocked EventType = "console.user_unlocked"
	// EventRefused is a request refused because the user's role does not
	// allow its route (Route, the route's pattern).
	EventRefused EventType = "console.refused"
)

// Event is a sign-in, sign-out or failed sign-in, a change to a console
// user, or a request the user's role does not allow.
type Event struct {
	Type EventType
	// UserName is the name the user gave (for a failed sign-in, whatever
	// was typed); UserID is empty when no user has that name. For the
	// other events they are the signed-in user's.
	UserName, UserID string
	// SubjectName and SubjectID are the console user an admin changed.
	SubjectName, SubjectID string
	// Route is the pattern of the route refused.
	Route string
	// Remote is the address the request came from.
	Remote string
	At     time.Time
}

// EventRecorder records console events, in the audit trail for instance.
// Its error is logged; the sign-in goes on.
type EventRecorder interface {
	RecordConsoleEvent(ctx context.Context, e Event) error
}

// record logs e and tells Config.Events of it.
func (c *Console) record(ctx context.Context, e Event) {
	c.logger.InfoContext(ctx, "console: "+string(e.Type), "user", e.UserName, "user_id", e.UserID, "remote", e.Remote,
		"subject", e.SubjectName, "route", e.Route)
	if c.cfg.Events == nil {
		return
	}
	if err := c.cfg.Events.RecordConsoleEvent(ctx, e); err != nil {
		c.logger.ErrorContext(ctx, "console: record event", "type", string(e.Type), "err", err)
	}
}
