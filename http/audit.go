package http

import (
	"context"
	"log/slog"
	"net/http"
	"net/netip"
	"strings"
	"sync"
	"time"

	"github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"

	"github.com/facevault/facevault"
)

// Request ids. Every request gets one, sent back in the X-Request-Id header,
// logged with the request and recorded in its audit entry.

type requestIDKey struct{}

// RequestIDHeader is the response header that carries the request id.
const RequestIDHeader = "X-Request-Id"

// RequestID returns the id of the request whose context ctx is, or "".
func RequestID(ctx context.Context) string {
	id, _ := ctx.Value(requestIDKey{}).(string)
	return id
}

// withRequestID returns r with a request id in its context, also set as
// w's X-Request-Id header, unless r has one already. The id is the
// server's own, unless the request comes from a trusted proxy (its peer
// address is in trusted) with an X-Request-Id that is a proxyRequestID:
// then that one, so that the proxy's log lines and FaceVault's match. One
// a caller sends from anywhere else is not trusted to be unique.
func withRequestID(w http.ResponseWriter, r *http.Request, trusted []netip.Prefix) *http.Request {
	if RequestID(r.Context()) != "" {
		return r
	}
	id := ""
	if len(trusted) > 0 {
		if given := r.Header.Get(RequestIDHeader); proxyRequestID(given) {
			if peer, err := netip.ParseAddrPort(r.RemoteAddr); err == nil && isTrusted(peer.Addr().Unmap().WithZone(""), trusted) {
				id = given
			}
		}
	}
	if id == "" {
		id = facevault.NewID(time.Now())
	}
	w.Header().Set(RequestIDHeader, id)
	return r.WithContext(context.WithValue(r.Context(), requestIDKey{}, id))
}

// proxyRequestID reports whether id is acceptable as a request id from a
// trusted proxy: 1 to 128 letters, digits, '-', '_', '.' or ':'.
func proxyRequestID(id string) bool {
	if id == "" || len(id) > 128 {
		return false
	}
	for _, c := range id {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.ContainsRune("-_.:", c)) {
			return false
		}
	}
	return true
}

// auditSpec says how the requests of a route are recorded in the audit log.
type auditSpec struct {
	resourceType, action, trigger string
	// refusalsOnly routes (the audit log's own) record only the requests
	// refused before any data was reached: reading the audit log reads no
	// personal data.
	refusalsOnly bool
}

// auditAuditLog is the resource type of the audit log's own routes, in the
// entries of refused requests.
const auditAuditLog = "auditLog"

// auditTimeout bounds the append of an entry. The append does not end with
// the request: a caller that hangs up cannot keep its access unrecorded.
const auditTimeout = 10 * time.Second

// DefaultAuditRefusalSources is how many callers' refusals one interval of
// the audit log's refusal counts holds by default.
const DefaultAuditRefusalSources = 1024

type auditKey struct{}

// auditEntryOf returns the audit entry of r in the making, or nil if r is not
// recorded.
func auditEntryOf(r *http.Request) *facevault.AuditEntry {
	e, _ := r.Context().Value(auditKey{}).(*facevault.AuditEntry)
	return e
}

// noteResource records in r's audit entry what only the handler learns: the
// id of the resource it reached or created, and the client whose it is. An
// empty string leaves a field as it is.
func noteResource(r *http.Request, resourceID, clientID string) {
	e := auditEntryOf(r)
	if e == nil {
		return
	}
	if resourceID != "" {
		e.ResourceID = facevault.AuditText(resourceID)
	}
	if clientID != "" {
		e.ClientID = facevault.AuditText(clientID)
	}
}

// noteChanges records in r's audit entry the attribute paths an update
// changed (never their values).
func noteChanges(r *http.Request, paths []string) {
	if e := auditEntryOf(r); e != nil {
		d := &facevault.AuditDiff{Action: facevault.ActionUpdate}
		for _, p := range paths {
			d.Path = append(d.Path, facevault.AuditText(p))
		}
		e.Diff = d
	}
}

// sourceText is a caller's address as entries record it; "" if unknown.
func sourceText(a netip.Addr) string {
	if !a.IsValid() {
		return ""
	}
	return a.String()
}

// newAuditEntry starts the entry of a request to a route recorded as spec
// says: what it asks for, from where. authed adds who.
func newAuditEntry(r *http.Request, spec auditSpec, src netip.Addr) *facevault.AuditEntry {
	e := &facevault.AuditEntry{
		Trigger: spec.trigger, Action: spec.action, ResourceType: spec.resourceType,
		ResourceID: facevault.AuditText(r.PathValue("id")),
		RequestID:  RequestID(r.Context()), Source: sourceText(src), Count: 1,
	}
	if spec.resourceType == facevault.AuditClient {
		e.ClientID = e.ResourceID
	}
	return e
}

// finish sets the outcome of e from the status answered.
func finish(e *facevault.AuditEntry, status int) {
	e.Status = status
	e.Outcome = facevault.OutcomeSuccess
	if status >= 400 {
		e.Outcome = facevault.OutcomeFailure
	}
}

// recordAccess appends the entry of a request answered with status, before
// the answer goes out. A 401 or 429 refused the request before it reached
// any data: those are counted (see refusals) rather than appended one by
// one. An error means the entry is not in the audit log; it is logged with
// every field of the entry, so that an access whose append failed after a
// change had committed is still on record.
func (s *Server) recordAccess(r *http.Request, e *facevault.AuditEntry, status int) error {
	finish(e, status)
	if status == http.StatusUnauthorized || status == http.StatusTooManyRequests {
		s.refusals.add(e)
		return nil
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), auditTimeout)
	defer cancel()
	err := s.audit.AppendAudit(ctx, s.vault.Now(), e)
	if err != nil {
		s.logger.LogAttrs(r.Context(), slog.LevelError, "audit entry not written", append(auditAttrs(e), slog.Any("err", err))...)
	}
	return err
}

// auditAttrs are the fields of an entry for the log.
func auditAttrs(e *facevault.AuditEntry) []slog.Attr {
	diff, _ := facevault.MarshalDiff(e.Diff)
	return []slog.Attr{
		slog.String("requestId", e.RequestID), slog.String("accountId", e.AccountID), slog.String("mode", string(e.Mode)),
		slog.String("keyId", e.KeyID), slog.String("trigger", e.Trigger), slog.String("action", e.Action),
		slog.String("resourceType", e.ResourceType), slog.String("resourceId", e.ResourceID),
		slog.String("clientId", e.ClientID), slog.String("outcome", e.Outcome), slog.Int("status", e.Status),
		slog.String("source", e.Source), slog.String("diff", diff), slog.Int("count", e.Count),
	}
}

// auditWriter holds a recorded request's answer back until its audit entry
// is appended: the first WriteHeader (or Write) appends it, with the status
// about to be sent, and only then lets the answer through. If the append
// fails, the answer is replaced by the contract's 500, and what the handler
// writes after that is dropped: an access that is not on record does not
// return the data (the audit log fails closed).
type auditWriter struct {
	http.ResponseWriter
	s     *Server
	r     *http.Request
	entry *facevault.AuditEntry
	state auditState
}

type auditState int

const (
	auditPending  auditState = iota // nothing answered yet
	auditPassed                     // recorded: the answer goes through
	auditReplaced                   // not recorded: a 500 went out instead
)

func (w *auditWriter) WriteHeader(status int) {
	switch w.state {
	case auditPassed:
		w.ResponseWriter.WriteHeader(status)
		return
	case auditReplaced:
		return
	}
	if err := w.s.recordAccess(w.r, w.entry, status); err != nil {
		w.state = auditReplaced
		h := w.ResponseWriter.Header()
		for _, k := range []string{"Content-Length", "Content-Type", "Retry-After", "Allow"} {
			h.Del(k)
		}
		w.s.writeErrorStatus(w.ResponseWriter, w.r, http.StatusInternalServerError,
			&facevault.Error{Code: facevault.EInternal, Message: internalMessage})
		return
	}
	w.state = auditPassed
	w.ResponseWriter.WriteHeader(status)
}

func (w *auditWriter) Write(p []byte) (int, error) {
	if w.state == auditPending {
		w.WriteHeader(http.StatusOK)
	}
	if w.state == auditReplaced {
		return len(p), nil
	}
	return w.ResponseWriter.Write(p)
}

// Unwrap lets http.ResponseController and noteClientGone reach the
// underlying writer.
func (w *auditWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// done records a request whose handler returned, or panicked, without
// answering: its caller went away (499), or it panicked (500; the panic
// goes on).
func (w *auditWriter) done(v any) {
	if w.state != auditPending {
		return
	}
	status := StatusClientClosedRequest
	if v != nil && v != http.ErrAbortHandler {
		status = http.StatusInternalServerError
	}
	w.state = auditPassed
	w.s.recordAccess(w.r, w.entry, status) // an error is logged
}

// refusals counts the requests refused before they reached any data
// (a 401, or a 429 of a rate limit), per caller and kind, until the next
// flush appends one entry per count: refused requests cost no write each,
// so a flood of them cannot grow the audit log at its own rate. A count
// holds the first refused request's id, and its Count says how many it
// stands for. At most max callers are counted per interval; refusals beyond
// are counted in one entry per status with no account, source or resource.
type refusals struct {
	max      int
	mu       sync.Mutex
	counts   map[refusalKey]*facevault.AuditEntry
	overflow map[int]*facevault.AuditEntry
}

// refusalKey is what is counted apart: who was refused what, and how.
type refusalKey struct {
	accountID, keyID, source     string
	mode                         facevault.Mode
	trigger, action, resourceTyp string
	status                       int
}

func newRefusals(max int) *refusals {
	return &refusals{max: max, counts: map[refusalKey]*facevault.AuditEntry{}, overflow: map[int]*facevault.AuditEntry{}}
}

// add counts e (whose Count is how many it stands for). Counted entries
// keep no resource id: they stand for many.
func (a *refusals) add(e *facevault.AuditEntry) {
	k := refusalKey{e.AccountID, e.KeyID, e.Source, e.Mode, e.Trigger, e.Action, e.ResourceType, e.Status}
	a.mu.Lock()
	defer a.mu.Unlock()
	if c, ok := a.counts[k]; ok {
		c.Count += e.Count
		return
	}
	if len(a.counts) < a.max {
		c := *e
		c.ResourceID, c.ClientID, c.Diff = "", "", nil
		a.counts[k] = &c
		return
	}
	if c, ok := a.overflow[e.Status]; ok {
		c.Count += e.Count
		return
	}
	a.overflow[e.Status] = &facevault.AuditEntry{Outcome: facevault.OutcomeFailure, Status: e.Status,
		RequestID: e.RequestID, Count: e.Count}
}

// take returns the counts and starts new ones.
func (a *refusals) take() []*facevault.AuditEntry {
	a.mu.Lock()
	defer a.mu.Unlock()
	var es []*facevault.AuditEntry
	for _, e := range a.counts {
		es = append(es, e)
	}
	for _, e := range a.overflow {
		es = append(es, e)
	}
	clear(a.counts)
	clear(a.overflow)
	return es
}

// FlushAudit appends the counts of refused requests (see Server.RunAudit)
// to the audit log now. If that fails they are kept for the next flush.
func (s *Server) FlushAudit(ctx context.Context) error {
	es := s.refusals.take()
	if len(es) == 0 {
		return nil
	}
	err := s.audit.AppendAudit(ctx, s.vault.Now(), es...)
	if err != nil {
		for _, e := range es {
			e.ID, e.Seq, e.PrevHash, e.Hash = "", 0, "", ""
			s.refusals.add(e)
		}
	}
	return err
}

// RunAudit appends the counts of requests refused before they reached any
// data (401 and 429 answers) to the audit log every interval, until ctx
// ends, and once more then. Run it for as long as the server serves, and
// stop it after the last request is answered.
func (s *Server) RunAudit(ctx context.Context, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), auditTimeout)
			defer cancel()
			if err := s.FlushAudit(fctx); err != nil {
				s.logger.Error("audit log: counts of refused requests not written", "err", err)
			}
			return
		case <-t.C:
			if err := s.FlushAudit(ctx); err != nil && ctx.Err() == nil {
				s.logger.Error("audit log: counts of refused requests not written; kept for the next try", "err", err)
			}
		}
	}
}

// The audit log's API: GET /v1/auditLogs and GET /v1/auditLogs/{id}.

func (s *Server) getAuditLog(w http.ResponseWriter, r *http.Request, sc facevault.Scope) error {
	e, err := s.vault.AuditEntry(r.Context(), sc, r.PathValue("id"))
	if err != nil {
		return err
	}
	s.writeJSON(w, r, http.StatusOK, toAuditLogJSON(e, false))
	return nil
}

func (s *Server) listAuditLogs(w http.ResponseWriter, r *http.Request, sc facevault.Scope) error {
	q, ok := listQuery(r)
	o, err := parseListOptions(q)
	if err != nil {
		return err
	}
	f := facevault.AuditFilter{ListOptions: o, Fields: map[string]string{}}
	f.Impossible = f.Impossible || !ok
	for name, vs := range q {
		if listParams[name] {
			continue
		}
		if !isAuditFilter(name) || len(vs) != 1 {
			// An unknown or repeated filter matches nothing, as on the
			// other lists.
			f.Impossible = true
			continue
		}
		f.Fields[name] = vs[0]
	}
	total, items, err := s.vault.AuditEntries(r.Context(), sc, f)
	if err != nil {
		return err
	}
	writeList(s, w, r, o.Page, total, items, func(e *facevault.AuditEntry) auditLogJSON { return toAuditLogJSON(e, false) })
	return nil
}

func isAuditFilter(name string) bool {
	for _, f := range facevault.AuditFilterFields {
		if f == name {
			return true
		}
	}
	return false
}

// auditLogJSON is an entry on the wire: the fields of the ComplyCube SDK's
// AuditLog (memberId and diff are left out when null, as every empty field
// is), then FaceVault's own. AccountID and Mode are set only in exports:
// on the API, every entry is the caller's.
type auditLogJSON struct {
	ID           string               `json:"id"`
	ResourceID   string               `json:"resourceId,omitempty"`
	ResourceType string               `json:"resourceType,omitempty"`
	ClientID     string               `json:"clientId,omitempty"`
	Trigger      string               `json:"trigger,omitempty"`
	Action       string               `json:"action,omitempty"`
	Diff         *facevault.AuditDiff `json:"diff,omitempty"`
	CreatedAt    string               `json:"createdAt"`
	AccountID    string               `json:"accountId,omitempty"`
	Mode         string               `json:"mode,omitempty"`
	KeyID        string               `json:"keyId,omitempty"`
	Outcome      string               `json:"outcome"`
	Status       int                  `json:"status,omitzero"`
	RequestID    string               `json:"requestId,omitempty"`
	Source       string               `json:"source,omitempty"`
	ConsoleUser  string               `json:"consoleUser,omitempty"`
	Count        int                  `json:"count"`
	Seq          int64                `json:"seq"`
	PrevHash     string               `json:"prevHash"`
	Hash         string               `json:"hash"`
}

func toAuditLogJSON(e *facevault.AuditEntry, scope bool) auditLogJSON {
	j := auditLogJSON{
		ID: e.ID, ResourceID: e.ResourceID, ResourceType: e.ResourceType, ClientID: e.ClientID,
		Trigger: e.Trigger, Action: e.Action, Diff: e.Diff, CreatedAt: formatTime(e.CreatedAt),
		KeyID: e.KeyID, Outcome: e.Outcome, Status: e.Status, RequestID: e.RequestID, Source: e.Source,
		ConsoleUser: e.ConsoleUser, Count: e.Count, Seq: e.Seq, PrevHash: e.PrevHash, Hash: e.Hash,
	}
	if scope {
		j.AccountID, j.Mode = e.AccountID, string(e.Mode)
	}
	return j
}

// MarshalAuditEntry returns an entry as one line of an export: its JSON
// object as the API shows it, with its account id and mode (both absent for
// the chain of no account), and no line break.
func MarshalAuditEntry(e *facevault.AuditEntry) ([]byte, error) {
	return json.Marshal(toAuditLogJSON(e, true), json.Deterministic(true), jsontext.AllowInvalidUTF8(true))
}
