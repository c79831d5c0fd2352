package facevault

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// ELegalHold is the error code of a deletion refused because the client is
// under legal hold: 409.
const ELegalHold = "legal_hold"

// MaxRetentionDays bounds a retention period: a hundred years.
const MaxRetentionDays = 36500

// Retention is a client's retention rule and legal hold, as the client
// object carries it under "retention".
type Retention struct {
	// Days, when positive, deletes each of the client's photos that many
	// days after its upload; it takes the place of the account's default
	// for the mode.
	Days int `json:"days,omitzero"`
	// RetainUntil, when set, deletes every photo of the client at that
	// time (RFC 3339, kept to the millisecond in UTC), whichever of the two
	// comes first.
	RetainUntil string `json:"retainUntil,omitzero"`
	// LegalHold suspends every deletion of the client and its photos:
	// through the API (refused, 409 legal_hold) and by retention, until it
	// is lifted.
	LegalHold bool `json:"legalHold,omitzero"`
}

// RetentionPatch sets a client's retention: a nil field is left as it is;
// days 0 and retainUntil "" clear theirs.
type RetentionPatch struct {
	Days        *int    `json:"days"`
	RetainUntil *string `json:"retainUntil"`
	LegalHold   *bool   `json:"legalHold"`
}

// apply merges the patch into c's retention and validates it.
func (p *RetentionPatch) apply(c *Client) error {
	r := Retention{}
	if c.Retention != nil {
		r = *c.Retention
	}
	if p.Days != nil {
		if *p.Days < 0 || *p.Days > MaxRetentionDays {
			return Invalid("retention.days", "'retention.days' must be between 1 and %d, or 0 to clear it", MaxRetentionDays)
		}
		r.Days = *p.Days
	}
	if p.RetainUntil != nil {
		r.RetainUntil = ""
		if *p.RetainUntil != "" {
			t, err := time.Parse(time.RFC3339Nano, *p.RetainUntil)
			if err != nil {
				return Invalid("retention.retainUntil", "'retention.retainUntil' must be a date and time such as 2030-01-31T00:00:00.000Z, or \"\" to clear it")
			}
			r.RetainUntil = FormatRetainUntil(t)
		}
	}
	if p.LegalHold != nil {
		r.LegalHold = *p.LegalHold
	}
	c.Retention = &r
	if r == (Retention{}) {
		c.Retention = nil
	}
	return nil
}

// FormatRetainUntil writes a time as retainUntil keeps it: RFC 3339 to the
// millisecond, in UTC, so that stored values order as text.
func FormatRetainUntil(t time.Time) string {
	return t.UTC().Truncate(time.Millisecond).Format("2006-01-02T15:04:05.000Z")
}

// onHold reports whether c is under legal hold.
func (c *Client) onHold() bool { return c.Retention != nil && c.Retention.LegalHold }

// ErrLegalHold is the refusal of a deletion while the client is on hold.
func ErrLegalHold(clientID string) error {
	return Errorf(ELegalHold, "Client '%s' is under legal hold: nothing of it can be deleted or redacted until the hold is lifted", clientID)
}

// RetentionStore is what retention needs of a record store.
type RetentionStore interface {
	// RetentionDue returns up to n live photos, in any scope, whose time
	// is up at now: uploaded longer ago than their client's retention
	// days, or the scope's default when the client has none, or of a
	// client whose retainUntil has passed. Photos of clients on legal hold
	// or deleted are never due. Oldest first.
	RetentionDue(ctx context.Context, now time.Time, n int) ([]PhotoRef, error)
	// RetentionDefault returns the scope's default retention in days (0:
	// none).
	RetentionDefault(ctx context.Context, s Scope) (int, error)
	// SetRetentionDefault sets it (0 clears it).
	SetRetentionDefault(ctx context.Context, s Scope, days int) error
}

// retentionBatch bounds the photos one retention pass deletes at a time.
const retentionBatch = 100

// Retain deletes the photos whose retention is up, as a deletion through
// the API would (record removed, key destroyed with a signed receipt saying
// retention, bytes destroyed), and returns how many it deleted. A photo
// whose client was put on hold, or whose rule changed, since it was found
// due is left alone.
func (v *Vault) Retain(ctx context.Context) (int, error) {
	deleted := 0
	for {
		now := v.Now()
		due, err := v.Store.RetentionDue(ctx, now, retentionBatch)
		if err != nil {
			return deleted, fmt.Errorf("retention: %w", err)
		}
		n := 0
		for _, ref := range due {
			// Looked at once more: a hold or a longer period set meanwhile
			// wins.
			c, err := v.Store.Client(ctx, ref.Scope, ref.ClientID)
			if errors.Is(err, ErrNotFound) {
				continue
			}
			if err != nil {
				return deleted, fmt.Errorf("retention: %w", err)
			}
			if c.onHold() {
				continue
			}
			// Nothing of the photo outlives its retention: the checks that
			// use it go with it (an API deletion is refused instead).
			if n, err := v.Store.DeleteChecksOfPhoto(ctx, ref.Scope, ref.PhotoID); err != nil {
				return deleted, fmt.Errorf("retention: checks of %s: %w", ref.PhotoID, err)
			} else if n > 0 {
				v.Logger.InfoContext(ctx, "retention deleted checks of live photo", "livePhotoId", ref.PhotoID, "checks", n)
			}
			if err := v.noteDestruction(ctx, ref.PhotoID, DestroyRetention); err != nil {
				return deleted, fmt.Errorf("retention: %w", err)
			}
			if _, err := v.Store.DeleteLivePhoto(ctx, ref.Scope, ref.PhotoID, now); errors.Is(err, ErrNotFound) {
				continue
			} else if errors.Is(err, ErrInUse) {
				continue // a check came meanwhile: the next pass deletes it
			} else if err != nil {
				return deleted, fmt.Errorf("retention: delete %s: %w", ref.PhotoID, err)
			}
			v.purgeNow(ctx, ref.PhotoID, DestroyRetention)
			v.Logger.InfoContext(ctx, "retention deleted live photo", "livePhotoId", ref.PhotoID, "clientId", ref.ClientID)
			// Recorded in the audit log as the system's deletion.
			e := NewSystemEntry(ref.Scope, ActionDelete, AuditLivePhoto, ref.PhotoID, ref.ClientID)
			// Recorded even if ctx ends now: the deletion happened.
			if err := v.Store.AppendAudit(context.WithoutCancel(ctx), v.Now(), e); err != nil {
				v.Logger.ErrorContext(ctx, "record retention deletion in the audit log", "livePhotoId", ref.PhotoID, "err", err)
			}
			n++
		}
		deleted += n
		if len(due) < retentionBatch || n == 0 {
			return deleted, nil
		}
	}
}

// RetentionDefault returns the scope's default retention in days.
func (v *Vault) RetentionDefault(ctx context.Context, s Scope) (int, error) {
	return v.Store.RetentionDefault(ctx, s)
}

// SetRetentionDefault sets the scope's default retention in days (0
// clears it): photos of clients without retention days of their own are
// deleted that long after their upload.
func (v *Vault) SetRetentionDefault(ctx context.Context, s Scope, days int) error {
	if days < 0 || days > MaxRetentionDays {
		return Invalid("defaultDays", "'defaultDays' must be between 1 and %d, or 0 to clear it", MaxRetentionDays)
	}
	return v.Store.SetRetentionDefault(ctx, s, days)
}

// checkHold refuses a deletion of something of client clientID while it is
// on legal hold.
func (v *Vault) checkHold(ctx context.Context, s Scope, clientID string) error {
	c, err := v.Store.Client(ctx, s, clientID)
	if errors.Is(err, ErrNotFound) {
		return nil // the deletion answers 404 itself
	}
	if err != nil {
		return err
	}
	if c.onHold() {
		return ErrLegalHold(clientID)
	}
	return nil
}
