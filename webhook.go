package facevault

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"iter"
	"net/url"
	"slices"
	"strings"
	"time"
)

// Event types: what a webhook hears of (docs/contract.md section 10).
const (
	EventClientCreated     = "client.created"
	EventClientUpdated     = "client.updated"
	EventClientDeleted     = "client.deleted"
	EventLivePhotoCreated  = "livePhoto.created"
	EventLivePhotoRedacted = "livePhoto.redacted"
	EventLivePhotoDeleted  = "livePhoto.deleted"
	EventCheckPending      = "check.pending"
	EventCheckCompleted    = "check.completed"
	EventCheckFailed       = "check.failed"
	// EventAll subscribes a webhook to every event type.
	EventAll = "*"
)

// EventTypes are the event types a webhook may subscribe to, besides
// EventAll: every type FaceVault emits.
var EventTypes = []string{
	EventClientCreated, EventClientUpdated, EventClientDeleted,
	EventLivePhotoCreated, EventLivePhotoRedacted, EventLivePhotoDeleted,
	EventCheckPending, EventCheckCompleted,
	EventCheckCompleted + "." + OutcomeClear, EventCheckCompleted + "." + OutcomeAttention,
	EventCheckFailed,
}

// Resource types of events.
const (
	EventResourceClient    = "client"
	EventResourceLivePhoto = "livePhoto"
	EventResourceCheck     = "check"
)

// Webhook is an endpoint that receives the events of one account and mode.
type Webhook struct {
	ID          string
	Scope       Scope // set by the stores
	URL         string
	Description string
	// Events are the event types it receives; EventAll for all.
	Events  []string
	Enabled bool
	// Secret signs every delivery (SignWebhook). Stored as is: it is shown
	// to the caller once, at creation, and never again.
	Secret string
	// DisabledReason says why FaceVault disabled the webhook (its
	// deliveries kept failing); empty when enabled, or disabled by its
	// owner.
	DisabledReason string
	CreatedAt      time.Time
	UpdatedAt      time.Time
}

// Subscribes reports whether w receives events of type t.
func (w *Webhook) Subscribes(t string) bool {
	return slices.Contains(w.Events, EventAll) || slices.Contains(w.Events, t)
}

// Event is a change FaceVault tells webhooks of. Body is the JSON every
// webhook receives, byte for byte: {id, type, resourceType, payload,
// createdAt}. Payloads hold ids, statuses, outcomes and timestamps only:
// never image data, names or other details of a person.
type Event struct {
	ID           string
	Scope        Scope
	Type         string
	ResourceType string
	Body         []byte
	CreatedAt    time.Time
}

// eventJSON is an event on the wire.
type eventJSON struct {
	ID           string `json:"id"`
	Type         string `json:"type"`
	ResourceType string `json:"resourceType"`
	Payload      any    `json:"payload"`
	CreatedAt    string `json:"createdAt"`
}

// wireTime is the contract's timestamp: ISO-8601 UTC with milliseconds.
func wireTime(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000Z") }

// newEvent builds an event of type typ at t on a resource, with its id
// from NewID.
func newEvent(typ, resourceType string, t time.Time, payload any) *Event {
	t = t.UTC().Truncate(time.Millisecond)
	e := &Event{ID: NewID(t), Type: typ, ResourceType: resourceType, CreatedAt: t}
	body, err := json.Marshal(eventJSON{ID: e.ID, Type: typ, ResourceType: resourceType, Payload: payload, CreatedAt: wireTime(t)})
	if err != nil {
		panic(fmt.Sprintf("facevault: encode event: %v", err)) // maps of strings always encode
	}
	e.Body = body
	return e
}

// ClientEvent is the event of a client created or updated: its id and
// timestamps, nothing of its details.
func ClientEvent(typ string, c *Client) *Event {
	return newEvent(typ, EventResourceClient, c.UpdatedAt, map[string]string{
		"id": c.ID, "createdAt": wireTime(c.CreatedAt), "updatedAt": wireTime(c.UpdatedAt)})
}

// ClientDeletedEvent is the event of a client deleted at t.
func ClientDeletedEvent(id string, t time.Time) *Event {
	return newEvent(EventClientDeleted, EventResourceClient, t, map[string]string{"id": id, "deletedAt": wireTime(t)})
}

// LivePhotoEvent is the event of a live photo created or redacted: its
// id, its client's, and timestamps.
func LivePhotoEvent(typ string, p *LivePhoto) *Event {
	m := map[string]string{"id": p.ID, "clientId": p.ClientID,
		"createdAt": wireTime(p.CreatedAt), "updatedAt": wireTime(p.UpdatedAt)}
	if p.Redacted() {
		m["redactedAt"] = wireTime(p.RedactedAt)
	}
	return newEvent(typ, EventResourceLivePhoto, p.UpdatedAt, m)
}

// LivePhotoDeletedEvent is the event of a live photo deleted at t.
func LivePhotoDeletedEvent(id, clientID string, t time.Time) *Event {
	return newEvent(EventLivePhotoDeleted, EventResourceLivePhoto, t,
		map[string]string{"id": id, "clientId": clientID, "deletedAt": wireTime(t)})
}

// CheckEvents are the events of a check created or finished: check.pending
// for a pending check; check.completed and check.completed.<outcome> for
// a complete one; check.failed for a failed one.
func CheckEvents(c *Check) []*Event {
	m := map[string]string{"id": c.ID, "clientId": c.ClientID, "livePhotoId": c.LivePhotoID, "type": c.Type,
		"status": c.Status, "createdAt": wireTime(c.CreatedAt), "updatedAt": wireTime(c.UpdatedAt)}
	switch c.Status {
	case CheckPending:
		return []*Event{newEvent(EventCheckPending, EventResourceCheck, c.UpdatedAt, m)}
	case CheckComplete:
		events := []*Event{}
		if c.Result != nil && c.Result.Outcome != "" {
			m["outcome"] = c.Result.Outcome
			events = append(events, newEvent(EventCheckCompleted, EventResourceCheck, c.UpdatedAt, m))
			return append(events, newEvent(EventCheckCompleted+"."+c.Result.Outcome, EventResourceCheck, c.UpdatedAt, m))
		}
		return append(events, newEvent(EventCheckCompleted, EventResourceCheck, c.UpdatedAt, m))
	case CheckFailed:
		return []*Event{newEvent(EventCheckFailed, EventResourceCheck, c.UpdatedAt, m)}
	}
	return nil
}

// SignatureHeader is the header that carries a delivery's signature.
const SignatureHeader = "ComplyCube-Signature"

// SignWebhook is the signature of a delivery of body under a webhook's
// secret: HMAC-SHA256 of the raw body, in lowercase hex, as ComplyCube
// signs (and its SDKs' EventVerifier checks).
func SignWebhook(secret string, body []byte) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write(body)
	return hex.EncodeToString(m.Sum(nil))
}

// Delivery statuses.
const (
	DeliveryPending   = "pending"
	DeliverySucceeded = "succeeded"
	DeliveryFailed    = "failed"
)

// Delivery is an event on its way to one webhook: the outbox row a
// sender claims with a lease, and its record once done.
type Delivery struct {
	ID        string
	Scope     Scope
	WebhookID string
	EventID   string
	EventType string
	Status    string
	// Attempts is how many times senders have claimed it (an attempt cut
	// short by a crash counts).
	Attempts int
	// LastStatus is the HTTP status the last attempt got (0: none: no
	// answer, or not tried yet); LastError what went wrong with it.
	LastStatus    int
	LastError     string
	NextAttemptAt time.Time // when a pending delivery is due
	CreatedAt     time.Time
	UpdatedAt     time.Time
	// Set by ClaimDeliveries: where to send, what, and the secret to sign
	// it with.
	URL    string
	Secret string
	Body   []byte
}

// DeliveryResult is the outcome of one attempt at a delivery.
type DeliveryResult struct {
	At        time.Time
	Succeeded bool
	Status    int    // HTTP status, 0 if none
	Error     string // what went wrong; empty on success
	// Next is when to try again; zero gives up: the delivery fails and its
	// webhook is disabled, with DisabledReason, and so are its other
	// pending deliveries.
	Next           time.Time
	DisabledReason string
}

// WebhookStore holds webhooks, the event outbox and deliveries. Events are
// written by the store methods that make the change, in the change's
// transaction, with one pending delivery per enabled webhook of the scope
// that subscribes to the event's type: an event is never lost once its
// change commits, and never exists for a change that rolled back.
type WebhookStore interface {
	CreateWebhook(ctx context.Context, s Scope, w *Webhook) error
	// Webhook returns the webhook, or ErrNotFound.
	Webhook(ctx context.Context, s Scope, id string) (*Webhook, error)
	// Webhooks lists the webhooks of s, newest first, in chunks (see
	// ListOptions), and the total count (-1 when o.After is set).
	Webhooks(ctx context.Context, s Scope, o ListOptions) ([]*Webhook, int, error)
	// UpdateWebhook reads the webhook, calls fn on it and stores the
	// result in one transaction; a webhook that goes from enabled to
	// disabled has its pending deliveries failed. ErrNotFound if there is
	// none; an error from fn is returned as is.
	UpdateWebhook(ctx context.Context, s Scope, id string, fn func(*Webhook) error) (*Webhook, error)
	// DeleteWebhook deletes the webhook and its deliveries. ErrNotFound if
	// there is none.
	DeleteWebhook(ctx context.Context, s Scope, id string) error
	// Deliveries lists the deliveries of a webhook of s, newest first, in
	// chunks, and the total count (-1 when o.After is set).
	Deliveries(ctx context.Context, s Scope, webhookID string, o ListOptions) ([]*Delivery, int, error)
	// ClaimDeliveries takes up to n pending deliveries, due at now, of
	// enabled webhooks, that no unexpired lease holds, leases them to
	// holder until now+ttl, counts an attempt on each, and returns them
	// with URL, Secret and Body set. Oldest due first.
	ClaimDeliveries(ctx context.Context, holder string, now time.Time, ttl time.Duration, n int) ([]*Delivery, error)
	// FinishDelivery records the outcome of an attempt at d, claimed by
	// holder, and releases it. ErrNotFound if d is no longer pending
	// under holder's lease.
	FinishDelivery(ctx context.Context, d *Delivery, holder string, r DeliveryResult) error
	// PruneDeliveries deletes up to n deliveries that ended (succeeded or
	// failed) before before, and the events they leave without a
	// delivery, and returns how many deliveries it deleted.
	PruneDeliveries(ctx context.Context, before time.Time, n int) (int, error)
}

// WebhookRequest is a webhook's fields as a create or an update sends
// them; nil fields are left as they are (an update) or take their default
// (a create: enabled true, no description).
type WebhookRequest struct {
	URL         *string
	Description *string
	Events      []string
	EventsSet   bool
	Enabled     *bool
}

// MaxWebhookDescription bounds a webhook's description, in characters.
const MaxWebhookDescription = 1000

// validate checks the fields r sets, the URL last (with g: it may resolve
// the host).
func (r *WebhookRequest) validate(ctx context.Context, g *WebhookGuard) error {
	if r.Description != nil && len([]rune(*r.Description)) > MaxWebhookDescription {
		return Invalid("description", "The 'description' must be at most %d characters", MaxWebhookDescription)
	}
	if r.Description != nil && strings.ContainsRune(*r.Description, 0) {
		return Invalid("description", "The 'description' must not contain the NUL character")
	}
	if r.EventsSet {
		if len(r.Events) == 0 {
			return Invalid("events", "The 'events' field must list at least one event type, or '*'")
		}
		for _, t := range r.Events {
			if t != EventAll && !slices.Contains(EventTypes, t) {
				return Invalid("events", "Unknown event type '%s'; known: '*', %s", Clip(t), strings.Join(EventTypes, ", "))
			}
		}
	}
	if r.URL != nil {
		return g.CheckURL(ctx, *r.URL)
	}
	return nil
}

// newWebhookSecret returns a new secret: 32 random bytes, hex.
func newWebhookSecret() string {
	var b [32]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// ErrWebhookNotFound is the 404 of a webhook id.
func ErrWebhookNotFound(id string) error {
	return Errorf(ENotFound, "Invalid webhook id '%s'", Clip(id))
}

// guard returns the Vault's webhook guard, or one that allows nothing
// private.
func (v *Vault) guard() *WebhookGuard {
	if v.Webhooks.Guard != nil {
		return v.Webhooks.Guard
	}
	return &WebhookGuard{}
}

// CreateWebhook validates and stores a new webhook, with a new secret.
// Errors: EInvalid with param url (missing, not https, a private address or
// a host that does not resolve), events (missing, empty, unknown type) or
// description.
func (v *Vault) CreateWebhook(ctx context.Context, s Scope, r WebhookRequest) (*Webhook, error) {
	if r.URL == nil || *r.URL == "" {
		return nil, Invalid("url", "The 'url' field is required")
	}
	if !r.EventsSet {
		return nil, Invalid("events", "The 'events' field is required")
	}
	if err := r.validate(ctx, v.guard()); err != nil {
		return nil, err
	}
	t := v.Now()
	w := &Webhook{ID: NewID(t), URL: *r.URL, Events: slices.Clone(r.Events), Enabled: true,
		Secret: newWebhookSecret(), CreatedAt: t, UpdatedAt: t}
	if r.Description != nil {
		w.Description = *r.Description
	}
	if r.Enabled != nil {
		w.Enabled = *r.Enabled
	}
	if err := v.Store.CreateWebhook(ctx, s, w); err != nil {
		return nil, fmt.Errorf("create webhook: %w", err)
	}
	return w, nil
}

// Webhook returns a webhook of the scope.
func (v *Vault) Webhook(ctx context.Context, s Scope, id string) (*Webhook, error) {
	if !ValidID(id) {
		return nil, ErrWebhookNotFound(id)
	}
	w, err := v.Store.Webhook(ctx, s, id)
	if errors.Is(err, ErrNotFound) {
		return nil, ErrWebhookNotFound(id)
	}
	return w, err
}

// ListWebhooks returns one page of the scope's webhooks, as LivePhotos
// does.
func (v *Vault) ListWebhooks(ctx context.Context, s Scope, o ListOptions) (int, iter.Seq2[*Webhook, error], error) {
	return Paged(o, ListChunk, func(o ListOptions) ([]*Webhook, int, error) {
		return v.Store.Webhooks(ctx, s, o)
	}, func(w *Webhook) Cursor { return Cursor{w.CreatedAt, w.ID} })
}

// UpdateWebhook applies a partial update. Enabling a webhook clears its
// DisabledReason; disabling it fails its pending deliveries.
func (v *Vault) UpdateWebhook(ctx context.Context, s Scope, id string, r WebhookRequest) (*Webhook, error) {
	if !ValidID(id) {
		return nil, ErrWebhookNotFound(id)
	}
	if r.URL != nil && *r.URL == "" {
		return nil, Invalid("url", "The 'url' field must not be empty")
	}
	if err := r.validate(ctx, v.guard()); err != nil {
		return nil, err
	}
	w, err := v.Store.UpdateWebhook(ctx, s, id, func(w *Webhook) error {
		if r.URL != nil {
			w.URL = *r.URL
		}
		if r.Description != nil {
			w.Description = *r.Description
		}
		if r.EventsSet {
			w.Events = slices.Clone(r.Events)
		}
		if r.Enabled != nil {
			w.Enabled = *r.Enabled
			if w.Enabled {
				w.DisabledReason = ""
			}
		}
		w.UpdatedAt = v.Now()
		return nil
	})
	if errors.Is(err, ErrNotFound) {
		return nil, ErrWebhookNotFound(id)
	}
	return w, err
}

// DeleteWebhook deletes a webhook and its deliveries.
func (v *Vault) DeleteWebhook(ctx context.Context, s Scope, id string) error {
	if !ValidID(id) {
		return ErrWebhookNotFound(id)
	}
	err := v.Store.DeleteWebhook(ctx, s, id)
	if errors.Is(err, ErrNotFound) {
		return ErrWebhookNotFound(id)
	}
	return err
}

// ListDeliveries returns one page of a webhook's deliveries, newest first.
func (v *Vault) ListDeliveries(ctx context.Context, s Scope, webhookID string, o ListOptions) (int, iter.Seq2[*Delivery, error], error) {
	if _, err := v.Webhook(ctx, s, webhookID); err != nil {
		return 0, nil, err
	}
	return Paged(o, ListChunk, func(o ListOptions) ([]*Delivery, int, error) {
		return v.Store.Deliveries(ctx, s, webhookID, o)
	}, func(d *Delivery) Cursor { return Cursor{d.CreatedAt, d.ID} })
}

// hostOf returns the host of a URL, lower case, without brackets.
func hostOf(u *url.URL) string { return strings.ToLower(u.Hostname()) }
