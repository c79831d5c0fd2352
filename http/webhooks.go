package http

import (
	"net/http"

	"github.com/facevault/facevault"
)

// auditWebhook is the resource type of the audit entries of the webhook
// routes: changes are recorded like a change of retention, reads (which
// show no personal data) only when refused.
const auditWebhook = "webhook"

// webhookJSON is a webhook on the wire (docs/contract.md section 10).
// Secret is set in the answer to the create only.
type webhookJSON struct {
	ID             string   `json:"id"`
	Description    string   `json:"description,omitempty"`
	URL            string   `json:"url"`
	Enabled        bool     `json:"enabled"`
	Events         []string `json:"events"`
	Secret         string   `json:"secret,omitempty"`
	DisabledReason string   `json:"disabledReason,omitempty"`
	CreatedAt      string   `json:"createdAt"`
	UpdatedAt      string   `json:"updatedAt"`
}

func toWebhookJSON(w *facevault.Webhook) webhookJSON {
	return webhookJSON{
		ID: w.ID, Description: w.Description, URL: w.URL, Enabled: w.Enabled, Events: w.Events,
		DisabledReason: w.DisabledReason, CreatedAt: formatTime(w.CreatedAt), UpdatedAt: formatTime(w.UpdatedAt),
	}
}

// webhookRequestJSON is the body of a create or an update: fields left
// out are nil.
type webhookRequestJSON struct {
	URL         *string   `json:"url"`
	Description *string   `json:"description"`
	Events      *[]string `json:"events"`
	Enabled     *bool     `json:"enabled"`
}

func (j *webhookRequestJSON) request() facevault.WebhookRequest {
	r := facevault.WebhookRequest{URL: j.URL, Description: j.Description, Enabled: j.Enabled}
	if j.Events != nil {
		r.Events, r.EventsSet = *j.Events, true
	}
	return r
}

func (s *Server) createWebhook(w http.ResponseWriter, r *http.Request, sc facevault.Scope) error {
	var req webhookRequestJSON
	if err := readJSON(w, r, &req); err != nil {
		return err
	}
	hook, err := s.vault.CreateWebhook(r.Context(), sc, req.request())
	if err != nil {
		return err
	}
	noteResource(r, hook.ID, "")
	j := toWebhookJSON(hook)
	j.Secret = hook.Secret // shown once, now
	s.writeJSON(w, r, http.StatusOK, j)
	return nil
}

func (s *Server) getWebhook(w http.ResponseWriter, r *http.Request, sc facevault.Scope) error {
	hook, err := s.vault.Webhook(r.Context(), sc, r.PathValue("id"))
	if err != nil {
		return err
	}
	s.writeJSON(w, r, http.StatusOK, toWebhookJSON(hook))
	return nil
}

func (s *Server) updateWebhook(w http.ResponseWriter, r *http.Request, sc facevault.Scope) error {
	id := r.PathValue("id")
	if _, err := s.vault.Webhook(r.Context(), sc, id); err != nil {
		return err
	}
	var req webhookRequestJSON
	if err := readJSON(w, r, &req); err != nil {
		return err
	}
	hook, err := s.vault.UpdateWebhook(r.Context(), sc, id, req.request())
	if err != nil {
		return err
	}
	s.writeJSON(w, r, http.StatusOK, toWebhookJSON(hook))
	return nil
}

func (s *Server) deleteWebhook(w http.ResponseWriter, r *http.Request, sc facevault.Scope) error {
	if err := s.vault.DeleteWebhook(r.Context(), sc, r.PathValue("id")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (s *Server) listWebhooks(w http.ResponseWriter, r *http.Request, sc facevault.Scope) error {
	q, ok := listQuery(r)
	o, err := parseListOptions(q)
	if err != nil {
		return err
	}
	o.Impossible = o.Impossible || !ok
	for name := range q {
		if !listParams[name] {
			o.Impossible = true // webhooks have no filters
		}
	}
	total, items, err := s.vault.ListWebhooks(r.Context(), sc, o)
	if err != nil {
		return err
	}
	writeList(s, w, r, o.Page, total, items, toWebhookJSON)
	return nil
}

// deliveryJSON is a delivery on the wire: FaceVault's own.
type deliveryJSON struct {
	ID                 string `json:"id"`
	WebhookID          string `json:"webhookId"`
	EventID            string `json:"eventId"`
	EventType          string `json:"eventType"`
	Status             string `json:"status"`
	Attempts           int    `json:"attempts"`
	LastResponseStatus int    `json:"lastResponseStatus,omitzero"`
	LastError          string `json:"lastError,omitempty"`
	NextAttemptAt      string `json:"nextAttemptAt,omitempty"`
	CreatedAt          string `json:"createdAt"`
	UpdatedAt          string `json:"updatedAt"`
}

func toDeliveryJSON(d *facevault.Delivery) deliveryJSON {
	j := deliveryJSON{
		ID: d.ID, WebhookID: d.WebhookID, EventID: d.EventID, EventType: d.EventType, Status: d.Status,
		Attempts: d.Attempts, LastResponseStatus: d.LastStatus, LastError: d.LastError,
		CreatedAt: formatTime(d.CreatedAt), UpdatedAt: formatTime(d.UpdatedAt),
	}
	if d.Status == facevault.DeliveryPending {
		j.NextAttemptAt = formatTime(d.NextAttemptAt)
	}
	return j
}

func (s *Server) listDeliveries(w http.ResponseWriter, r *http.Request, sc facevault.Scope) error {
	q, ok := listQuery(r)
	o, err := parseListOptions(q)
	if err != nil {
		return err
	}
	o.Impossible = o.Impossible || !ok
	for name := range q {
		if !listParams[name] {
			o.Impossible = true
		}
	}
	total, items, err := s.vault.ListDeliveries(r.Context(), sc, r.PathValue("id"), o)
	if err != nil {
		return err
	}
	writeList(s, w, r, o.Page, total, items, toDeliveryJSON)
	return nil
}
