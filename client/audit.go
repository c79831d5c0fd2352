package client

import (
	"context"
	"iter"
	"net/url"
	"strconv"
	"time"
)

// AuditLog is an entry of the account's audit log (docs/contract.md,
// section 7): one request that touched a client, a live photo or a check,
// or a count of refused requests.
type AuditLog struct {
	ID           string     `json:"id"`
	ResourceID   string     `json:"resourceId,omitempty"`
	ResourceType string     `json:"resourceType,omitempty"`
	ClientID     string     `json:"clientId,omitempty"`
	Trigger      string     `json:"trigger,omitempty"`
	Action       string     `json:"action,omitempty"`
	Diff         *AuditDiff `json:"diff,omitempty"`
	CreatedAt    time.Time  `json:"createdAt"`
	KeyID        string     `json:"keyId,omitempty"`
	// Outcome is "success" or "failure"; Status the HTTP status answered.
	Outcome   string `json:"outcome"`
	Status    int    `json:"status,omitempty"`
	RequestID string `json:"requestId,omitempty"`
	Source    string `json:"source,omitempty"`
	Count     int    `json:"count"`
	// Seq, PrevHash and Hash place the entry in its hash chain.
	Seq      int64  `json:"seq"`
	PrevHash string `json:"prevHash"`
	Hash     string `json:"hash"`
}

// AuditDiff names the attributes an update changed, never their values.
type AuditDiff struct {
	Action string   `json:"action,omitempty"`
	Path   []string `json:"path,omitempty"`
}

// AuditLogFilter selects audit log entries; each non-empty field must equal
// the entry's. The time filters apply to CreatedAt.
type AuditLogFilter struct {
	ListOptions
	ResourceID   string
	ResourceType string
	ClientID     string
	Action       string
	Trigger      string
	Outcome      string
	KeyID        string
}

func (f *AuditLogFilter) values() url.Values {
	if f == nil {
		return url.Values{}
	}
	q := f.ListOptions.values()
	setIf(q, "resourceId", f.ResourceID)
	setIf(q, "resourceType", f.ResourceType)
	setIf(q, "clientId", f.ClientID)
	setIf(q, "action", f.Action)
	setIf(q, "trigger", f.Trigger)
	setIf(q, "outcome", f.Outcome)
	setIf(q, "keyId", f.KeyID)
	return q
}

// ListAuditLogs returns one page of the audit log entries f selects (nil:
// all), newest first.
func (c *Client) ListAuditLogs(ctx context.Context, f *AuditLogFilter) (*Page[AuditLog], error) {
	return listPage[AuditLog](ctx, c, "/auditLogs", f.values())
}

// AuditLogs yields every audit log entry f selects (nil: all), newest
// first, fetching pages as the loop reaches them. A failure is yielded with
// a nil entry and ends the sequence.
func (c *Client) AuditLogs(ctx context.Context, f *AuditLogFilter) iter.Seq2[*AuditLog, error] {
	var o ListOptions
	if f != nil {
		o = f.ListOptions
	}
	return all[AuditLog](ctx, c, "/auditLogs", f.values(), o.Page, o.PageSize)
}

// GetAuditLog returns an audit log entry, or a 404 *Error.
func (c *Client) GetAuditLog(ctx context.Context, id string) (*AuditLog, error) {
	var out AuditLog
	if err := c.getJSON(ctx, "/auditLogs/"+pathEscape(id), nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// DeletionReceipt is a signed record that a client's or photo's data was
// destroyed (section 8). Payload is the signed JSON text; Signature its
// Ed25519 signature, verifiable with the deployment's public key
// (GET /.well-known/facevault-receipts.pub).
type DeletionReceipt struct {
	ID string `json:"id"`
	// Action is "livePhoto.deleted", "livePhoto.redacted",
	// "client.deleted", "livePhoto.retentionExpired" or "livePhoto.purged".
	Action       string    `json:"action"`
	ResourceType string    `json:"resourceType"`
	ResourceID   string    `json:"resourceId"`
	SigningKeyID string    `json:"signingKeyId"`
	Payload      string    `json:"payload"`
	Signature    []byte    `json:"signature"`
	CreatedAt    time.Time `json:"createdAt"`
}

// DeletionReceiptFilter selects the receipts that name ResourceID
// (required), a client or photo id. Receipts take no time filters.
type DeletionReceiptFilter struct {
	ResourceID string
	Page       int
	PageSize   int
}

func (f *DeletionReceiptFilter) values() url.Values {
	q := url.Values{}
	if f == nil {
		f = &DeletionReceiptFilter{}
	}
	q.Set("resourceId", f.ResourceID)
	if f.Page > 0 {
		q.Set("page", strconv.Itoa(f.Page))
	}
	if f.PageSize > 0 {
		q.Set("pageSize", strconv.Itoa(f.PageSize))
	}
	return q
}

// ListDeletionReceipts returns one page of the receipts that name a
// resource.
func (c *Client) ListDeletionReceipts(ctx context.Context, f *DeletionReceiptFilter) (*Page[DeletionReceipt], error) {
	return listPage[DeletionReceipt](ctx, c, "/deletionReceipts", f.values())
}

// DeletionReceipts yields every receipt that names a resource, fetching
// pages as the loop reaches them. A failure is yielded with a nil receipt
// and ends the sequence.
func (c *Client) DeletionReceipts(ctx context.Context, f *DeletionReceiptFilter) iter.Seq2[*DeletionReceipt, error] {
	if f == nil {
		f = &DeletionReceiptFilter{}
	}
	return all[DeletionReceipt](ctx, c, "/deletionReceipts", f.values(), f.Page, f.PageSize)
}

// RetentionDefault is an account's default retention for the key's mode.
type RetentionDefault struct {
	// DefaultDays deletes the photos of clients without retention days of
	// their own that many days after upload; 0: never.
	DefaultDays int `json:"defaultDays"`
}

// GetRetention returns the default retention of the key's account and mode.
func (c *Client) GetRetention(ctx context.Context) (*RetentionDefault, error) {
	var out RetentionDefault
	if err := c.getJSON(ctx, "/retention", nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// SetRetention sets the default retention of the key's account and mode to
// days, 0 to 36500 (0 clears it).
func (c *Client) SetRetention(ctx context.Context, days int, opts ...CallOption) (*RetentionDefault, error) {
	var out RetentionDefault
	if err := c.postJSON(ctx, "/retention", RetentionDefault{DefaultDays: days}, &out, opts); err != nil {
		return nil, err
	}
	return &out, nil
}
