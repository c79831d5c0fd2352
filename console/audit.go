package console

import (
	"cmp"
	"context"
	"net"
	"net/http"
	"time"

	"github.com/facevault/facevault"
	fvhttp "github.com/facevault/facevault/http"
)

// Audit triggers of the console: what the console user did, named like the
// API's operations. Entries of pages and actions on an account's data go to
// that account and mode's chain, with the console user's name; sign-ins and
// sign-outs go to the chain of no account, which no API key reads.
const (
	TriggerViewQueue     = "consoleViewQueue"
	TriggerViewClients   = "consoleViewClients"
	TriggerViewClient    = "consoleViewClient"
	TriggerViewPhoto     = "consoleViewLivePhoto"
	TriggerDownloadPhoto = "consoleDownloadLivePhoto"
	TriggerRedactPhoto   = "consoleRedactLivePhoto"
	TriggerDeletePhoto   = "consoleDeleteLivePhoto"
	TriggerDeleteClient  = "consoleDeleteClient"
	TriggerReviewPhoto   = "consoleReviewLivePhoto"
	TriggerReviewCheck   = "consoleReviewCheck"
	TriggerSignIn        = "consoleSignIn"
	TriggerSignOut       = "consoleSignOut"
	TriggerSignInFailed  = "consoleSignInFailed"
	TriggerLockedOut     = "consoleLockedOut"
	TriggerCreateUser    = "consoleCreateUser"
	TriggerDisableUser   = "consoleDisableUser"
	TriggerEnableUser    = "consoleEnableUser"
	TriggerUnlockUser    = "consoleUnlockUser"
	TriggerRefused       = "consoleRefused"
)

// AuditConsoleSession is the resource type of sign-in and sign-out
// entries.
const AuditConsoleSession = "consoleSession"

// AuditConsoleUser is the resource type of changes to console users;
// AuditConsoleRoute that of requests refused for the user's role (the
// resource id is the route's pattern).
const (
	AuditConsoleUser  = "consoleUser"
	AuditConsoleRoute = "consoleRoute"
)

// auditEntry returns the entry of a console request by v in its scope:
// the user's name, the request's source, and its request id (the one its
// log line carries, when serve's logging gave it one).
func (c *Console) auditEntry(r *http.Request, v *Viewer, trigger, action, resourceType, resourceID, clientID string, status int) *facevault.AuditEntry {
	e := &facevault.AuditEntry{
		AccountID: v.Scope.AccountID, Mode: v.Scope.Mode, Trigger: trigger, Action: action,
		ResourceType: resourceType, ResourceID: facevault.AuditText(resourceID), ClientID: facevault.AuditText(clientID),
		Outcome: facevault.OutcomeSuccess, Status: status, RequestID: cmp.Or(fvhttp.RequestID(r.Context()), facevault.NewID(time.Now())),
		Source: facevault.AuditText(c.source(r)), ConsoleUser: facevault.AuditText(v.User.Name), Count: 1,
	}
	if status >= http.StatusBadRequest {
		e.Outcome = facevault.OutcomeFailure
	}
	return e
}

// remoteHost is the address of a peer without its port.
// source is the address of the browser that sent r: the peer's, or the
// one a trusted proxy forwarded (Config.TrustedProxies); "" if unknown.
func (c *Console) source(r *http.Request) string {
	if a := fvhttp.ClientAddr(r, c.cfg.TrustedProxies); a.IsValid() {
		return a.String()
	}
	return ""
}

func remoteHost(addr string) string {
	if h, _, err := net.SplitHostPort(addr); err == nil {
		return h
	}
	return addr
}

// audit appends e through the review options' appender. An entry that
// cannot be appended fails the request, as the API fails closed: the
// caller answers 500 and shows nothing of the data.
func (c *Console) audit(ctx context.Context, e *facevault.AuditEntry) error {
	return c.auditor().AppendAudit(ctx, c.clock(), e)
}

// AuditEvents records console events in the audit log (an EventRecorder
// for Config.Events), in the chain of no account, with the console user's
// name when the name given is a user's (a name typed that is no user's is
// not kept: it may be a password typed in the wrong field):
//   - sign-ins, sign-outs, failed sign-ins and lock-outs: triggers
//     consoleSignIn, consoleSignOut, consoleSignInFailed and
//     consoleLockedOut, resource type consoleSession;
//   - an admin's changes to console users: consoleCreateUser,
//     consoleDisableUser, consoleEnableUser, consoleUnlockUser, resource
//     type consoleUser, the changed user's id as resource id;
//   - requests the user's role does not allow: consoleRefused (403),
//     resource type consoleRoute, the route's pattern as resource id.
type AuditEvents struct {
	Log facevault.AuditAppender
}

var _ EventRecorder = AuditEvents{}

// RecordConsoleEvent appends the entry of e.
func (a AuditEvents) RecordConsoleEvent(ctx context.Context, e Event) error {
	entry := &facevault.AuditEntry{
		ResourceType: AuditConsoleSession, ResourceID: facevault.AuditText(e.UserID),
		Outcome: facevault.OutcomeSuccess, Source: facevault.AuditText(remoteHost(e.Remote)),
		RequestID: facevault.NewID(e.At), Count: 1,
	}
	if e.UserID != "" {
		entry.ConsoleUser = facevault.AuditText(e.UserName)
	}
	switch e.Type {
	case EventSignIn:
		entry.Trigger, entry.Action, entry.Status = TriggerSignIn, facevault.ActionCreate, http.StatusSeeOther
	case EventSignOut:
		entry.Trigger, entry.Action, entry.Status = TriggerSignOut, facevault.ActionDelete, http.StatusSeeOther
	case EventSignInFailed:
		entry.Trigger, entry.Action, entry.Status = TriggerSignInFailed, facevault.ActionCreate, http.StatusUnauthorized
		entry.Outcome = facevault.OutcomeFailure
	case EventLockedOut:
		entry.Trigger, entry.Action, entry.Status = TriggerLockedOut, facevault.ActionCreate, http.StatusTooManyRequests
		entry.Outcome = facevault.OutcomeFailure
	case EventUserCreated, EventUserDisabled, EventUserEnabled, EventUserUnlocked:
		entry.ResourceType, entry.ResourceID, entry.Status = AuditConsoleUser, facevault.AuditText(e.SubjectID), http.StatusSeeOther
		entry.Trigger, entry.Action = map[EventType]string{EventUserCreated: TriggerCreateUser, EventUserDisabled: TriggerDisableUser,
			EventUserEnabled: TriggerEnableUser, EventUserUnlocked: TriggerUnlockUser}[e.Type], facevault.ActionUpdate
		if e.Type == EventUserCreated {
			entry.Action = facevault.ActionCreate
		}
	case EventRefused:
		entry.ResourceType, entry.ResourceID = AuditConsoleRoute, facevault.AuditText(e.Route)
		entry.Trigger, entry.Action, entry.Status = TriggerRefused, facevault.ActionRead, http.StatusForbidden
		entry.Outcome = facevault.OutcomeFailure
	default:
		entry.Trigger, entry.Action = facevault.AuditText(string(e.Type)), facevault.ActionCreate
	}
	return a.Log.AppendAudit(ctx, e.At, entry)
}
