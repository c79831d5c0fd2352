package client

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"iter"
	"net/http"
	"net/url"
	"time"
)

// Webhook is a registered receiver of events. Secret is set only in the
// answer to CreateWebhook: keep it, it signs every delivery.
type Webhook struct {
	ID             string    `json:"id"`
	Description    string    `json:"description,omitempty"`
	URL            string    `json:"url"`
	Enabled        bool      `json:"enabled"`
	Events         []string  `json:"events"`
	Secret         string    `json:"secret,omitempty"`
	DisabledReason string    `json:"disabledReason,omitempty"`
	CreatedAt      time.Time `json:"createdAt"`
	UpdatedAt      time.Time `json:"updatedAt"`
}

// WebhookParams are the fields of a webhook to create or change; nil
// fields are not sent (left as they are on an update).
type WebhookParams struct {
	URL         *string   `json:"url,omitempty"`
	Description *string   `json:"description,omitempty"`
	Events      *[]string `json:"events,omitempty"`
	Enabled     *bool     `json:"enabled,omitempty"`
}

// Delivery is one event's delivery to one webhook, and how it went.
type Delivery struct {
	ID                 string    `json:"id"`
	WebhookID          string    `json:"webhookId"`
	EventID            string    `json:"eventId"`
	EventType          string    `json:"eventType"`
	Status             string    `json:"status"`
	Attempts           int       `json:"attempts"`
	LastResponseStatus int       `json:"lastResponseStatus,omitempty"`
	LastError          string    `json:"lastError,omitempty"`
	NextAttemptAt      time.Time `json:"nextAttemptAt,omitzero"`
	CreatedAt          time.Time `json:"createdAt"`
	UpdatedAt          time.Time `json:"updatedAt"`
}

// CreateWebhook registers a webhook. Errors carry Param: 400 for a URL
// that is not https, names a private, loopback or link-local address, or
// does not resolve ("url"), and for an unknown event type ("events").
func (c *Client) CreateWebhook(ctx context.Context, p *WebhookParams, opts ...CallOption) (*Webhook, error) {
	var out Webhook
	if err := c.postJSON(ctx, "/webhooks", p, &out, opts); err != nil {
		return nil, err
	}
	return &out, nil
}

// GetWebhook returns a webhook (never its secret), or a 404 *Error.
func (c *Client) GetWebhook(ctx context.Context, id string) (*Webhook, error) {
	var out Webhook
	if err := c.getJSON(ctx, "/webhooks/"+pathEscape(id), nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// UpdateWebhook changes the fields p sets; re-enabling a webhook the
// service disabled after failed deliveries is Enabled: Bool(true).
func (c *Client) UpdateWebhook(ctx context.Context, id string, p *WebhookParams, opts ...CallOption) (*Webhook, error) {
	if p == nil {
		p = &WebhookParams{}
	}
	var out Webhook
	if err := c.postJSON(ctx, "/webhooks/"+pathEscape(id), p, &out, opts); err != nil {
		return nil, err
	}
	return &out, nil
}

// DeleteWebhook removes a webhook: no more deliveries to it.
func (c *Client) DeleteWebhook(ctx context.Context, id string) error {
	return c.del(ctx, "/webhooks/"+pathEscape(id))
}

// ListWebhooks returns one page of the webhooks.
func (c *Client) ListWebhooks(ctx context.Context, o *ListOptions) (*Page[Webhook], error) {
	return listPage[Webhook](ctx, c, "/webhooks", optionValues(o))
}

// Webhooks iterates over every webhook, fetching pages as the loop goes.
func (c *Client) Webhooks(ctx context.Context, o *ListOptions) iter.Seq2[*Webhook, error] {
	var lo ListOptions
	if o != nil {
		lo = *o
	}
	return all[Webhook](ctx, c, "/webhooks", optionValues(o), lo.Page, lo.PageSize)
}

// ListDeliveries returns one page of a webhook's deliveries, newest first.
func (c *Client) ListDeliveries(ctx context.Context, webhookID string, o *ListOptions) (*Page[Delivery], error) {
	return listPage[Delivery](ctx, c, "/webhooks/"+pathEscape(webhookID)+"/deliveries", optionValues(o))
}

func optionValues(o *ListOptions) url.Values {
	if o == nil {
		return url.Values{}
	}
	return o.values()
}

// readAtMost reads r to its end, failing if it holds more than n bytes.
func readAtMost(r io.Reader, n int64) ([]byte, error) {
	b, err := io.ReadAll(io.LimitReader(r, n+1))
	if err != nil {
		return nil, err
	}
	if int64(len(b)) > n {
		return nil, errors.New("client: body too large")
	}
	return b, nil
}

// Event is what a webhook receives: Payload holds ids, status and times,
// never image data or personal details.
type Event struct {
	ID           string          `json:"id"`
	Type         string          `json:"type"`
	ResourceType string          `json:"resourceType"`
	Payload      json.RawMessage `json:"payload"`
	CreatedAt    time.Time       `json:"createdAt"`
}

// SignatureHeader is the header a delivery's signature comes in.
const SignatureHeader = "ComplyCube-Signature"

// ErrBadSignature is returned by ParseEvent for a body whose signature
// does not match the webhook's secret.
var ErrBadSignature = errors.New("client: webhook signature does not match")

// Sign returns the signature of a delivery's body under a webhook's
// secret: lowercase hex of HMAC-SHA256, as the service sends it.
func Sign(secret string, body []byte) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write(body)
	return hex.EncodeToString(m.Sum(nil))
}

// ParseEvent checks a delivery's signature (the SignatureHeader value)
// against the webhook's secret, in constant time, and decodes the event.
// Verify the raw body as received, before any parsing.
func ParseEvent(secret string, body []byte, signature string) (*Event, error) {
	got, err := hex.DecodeString(signature)
	want, _ := hex.DecodeString(Sign(secret, body))
	if err != nil || !hmac.Equal(got, want) {
		return nil, ErrBadSignature
	}
	var e Event
	if err := json.Unmarshal(body, &e); err != nil {
		return nil, err
	}
	return &e, nil
}

// EventHandler is an http.Handler for a webhook's URL: it reads the body
// (at most 1 MiB), checks its signature and calls fn with the event,
// answering 200 if fn returns nil, 400 for a bad signature or body, and
// 500 if fn fails (the service then delivers it again later). Deliveries
// come at least once: dedupe by Event.ID.
func EventHandler(secret string, fn func(*Event) error) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := readAtMost(r.Body, 1<<20)
		if err != nil {
			http.Error(w, "body too large or unreadable", http.StatusBadRequest)
			return
		}
		e, err := ParseEvent(secret, body, r.Header.Get(SignatureHeader))
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		if err := fn(e); err != nil {
			http.Error(w, "not handled", http.StatusInternalServerError)
			return
		}
		w.WriteHeader(http.StatusOK)
	})
}
