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
)

// Event is a sign-in, sign-out or failed sign-in.
type Event struct {
	Type EventType
	// UserName is the name the user gave (for a failed sign-in, whatever
	// was typed); UserID is empty when no user has that name.
	UserName, UserID string
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
	c.logger.InfoContext(ctx, "console: "+string(e.Type), "user", e.UserName, "user_id", e.UserID, "remote", e.Remote)
	if c.cfg.Events == nil {
		return
	}
	if err := c.cfg.Events.RecordConsoleEvent(ctx, e); err != nil {
		c.logger.ErrorContext(ctx, "console: record event", "type", string(e.Type), "err", err)
	}
}
