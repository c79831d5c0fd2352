package facevault

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"iter"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/go-json-experiment/json"
)

// Resource types of audit entries, spelled as ComplyCube spells resource
// types.
const (
	AuditClient    = "client"
	AuditLivePhoto = "livePhoto"
	AuditCheck     = "check"
)

// Actions of audit entries: what the request did, or tried to do, to the
// resource. ComplyCube's own are create, update and delete; FaceVault
// records reads too.
const (
	ActionCreate   = "create"
	ActionRead     = "read"
	ActionList     = "list"
	ActionDownload = "download"
	ActionUpdate   = "update"
	ActionRedact   = "redact"
	ActionDelete   = "delete"
)

// Outcomes of audit entries.
const (
	OutcomeSuccess = "success" // answered 2xx: the access happened
	OutcomeFailure = "failure" // refused or failed: see the entry's Status
)

// TriggerSystem is the trigger of entries that the service appends on its
// own account, with no API caller: background work such as the purge or a
// retention policy. API requests are recorded with the name of their
// operation ("getClient", "uploadLivePhoto"), as ComplyCube names triggers.
const TriggerSystem = "system"

// GenesisHash is the PrevHash of the first entry of every chain.
const GenesisHash = "0000000000000000000000000000000000000000000000000000000000000000"

// AuditEntry is one record of the audit log: an access to personal data, or
// an attempt at one. Entries are appended, never changed. Every entry
// belongs to the chain of its (AccountID, Mode): the entries of one chain
// are numbered from 1 (Seq), and each carries the hash of the one before
// it, so that a changed, inserted or removed entry shows (see VerifyAudit).
//
// No entry holds personal data values: ids, names of operations and
// attribute paths only. A failed authentication whose key is unknown has no
// account: its entry goes to the chain whose AccountID and Mode are empty,
// which no API key can read.
type AuditEntry struct {
	ID        string
	AccountID string // "" when no account is known
	Mode      Mode   // "" when no account is known
	// KeyID is the id of the API key the request carried (never the key
	// itself); "" for system entries and unknown keys.
	KeyID        string
	Trigger      string // the API operation, or TriggerSystem
	Action       string // ActionRead, ...
	ResourceType string // AuditClient, AuditLivePhoto or AuditCheck
	ResourceID   string // "" for lists
	ClientID     string // the client whose data it is, where known
	Outcome      string // OutcomeSuccess or OutcomeFailure
	Status       int    // the HTTP status answered; 0 for system entries
	RequestID    string
	// Source is the address of the caller (after trusted proxies).
	Source string
	// Diff, for updates, names the attribute paths that changed, never
	// their values.
	Diff *AuditDiff
	// ConsoleUser is the name of the review console's user who acted;
	// "" for API requests and system work.
	ConsoleUser string
	// Count is how many requests the entry stands for: 1, except for
	// refusals before any data was reached (401, 429), which are counted
	// per caller and recorded once per interval.
	Count     int
	CreatedAt time.Time

	// Set by the store when the entry is appended.
	Seq      int64
	PrevHash string
	Hash     string
}

// AuditDiff says what an update changed: Action "update" and the dotted
// attribute paths (as the client list filters name them: "email",
// "personDetails.firstName", "metadata") whose values changed. It never
// holds values, old or new.
type AuditDiff struct {
	Action string   `json:"action,omitempty"`
	Path   []string `json:"path,omitempty"`
}

// MarshalDiff returns the stored form of d: canonical JSON, or "" for nil.
func MarshalDiff(d *AuditDiff) (string, error) {
	if d == nil {
		return "", nil
	}
	b, err := json.Marshal(d, json.Deterministic(true))
	if err != nil {
		return "", fmt.Errorf("encode audit diff: %w", err)
	}
	return string(b), nil
}

// UnmarshalDiff parses the stored form of a diff ("" is nil).
func UnmarshalDiff(s string) (*AuditDiff, error) {
	if s == "" {
		return nil, nil
	}
	d := new(AuditDiff)
	if err := json.Unmarshal([]byte(s), d, json.RejectUnknownMembers(true)); err != nil {
		return nil, fmt.Errorf("decode audit diff: %w", err)
	}
	return d, nil
}

// ComputeHash returns the hash the entry must carry: SHA-256, in hex, over
// a canonical encoding of every field but Hash itself (PrevHash included),
// each field as its 8-byte big-endian length and its bytes, after a version
// label. Times count in Unix milliseconds, as stored. An entry without a
// ConsoleUser is encoded as version 1 was, so that entries written before
// the field existed still verify; one with a ConsoleUser is labelled
// version 2 and ends with it.
func (e *AuditEntry) ComputeHash() (string, error) {
	diff, err := MarshalDiff(e.Diff)
	if err != nil {
		return "", err
	}
	h := sha256.New()
	var n [8]byte
	label := "facevault-audit-v1"
	if e.ConsoleUser != "" {
		label = "facevault-audit-v2"
	}
	fields := []string{
		label,
		e.ID, strconv.FormatInt(e.Seq, 10), e.AccountID, string(e.Mode), e.KeyID,
		e.Trigger, e.Action, e.ResourceType, e.ResourceID, e.ClientID,
		e.Outcome, strconv.Itoa(e.Status), e.RequestID, e.Source, diff, strconv.Itoa(e.Count),
		strconv.FormatInt(e.CreatedAt.UnixMilli(), 10), e.PrevHash,
	}
	if e.ConsoleUser != "" {
		fields = append(fields, e.ConsoleUser)
	}
	for _, f := range fields {
		binary.BigEndian.PutUint64(n[:], uint64(len(f)))
		h.Write(n[:])
		h.Write([]byte(f))
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// Chain returns the chain the entry belongs to.
func (e *AuditEntry) Chain() AuditChainID {
	return AuditChainID{AccountID: e.AccountID, Mode: e.Mode}
}

// MaxAuditText is the most bytes an audit entry keeps of any text field.
const MaxAuditText = 256

// Check reports whether the entry can be appended: its chain is an
// account's mode or the chain of no account, and every text field is
// storable (see AuditText). It says what is wrong otherwise.
func (e *AuditEntry) Check() error {
	if (e.AccountID == "") != (e.Mode == "") || (e.Mode != "" && !e.Mode.Valid()) {
		return fmt.Errorf("audit entry: account %q with mode %q: want an account's test or live mode, or neither", e.AccountID, e.Mode)
	}
	if e.Count < 1 {
		return fmt.Errorf("audit entry: count %d, want at least 1", e.Count)
	}
	for _, f := range []string{e.AccountID, e.KeyID, e.Trigger, e.Action, e.ResourceType, e.ResourceID,
		e.ClientID, e.Outcome, e.RequestID, e.Source, e.ConsoleUser} {
		if AuditText(f) != f {
			return fmt.Errorf("audit entry: field %.40q is not storable text: clean it with AuditText", f)
		}
	}
	if e.Diff != nil {
		for _, p := range e.Diff.Path {
			if AuditText(p) != p {
				return fmt.Errorf("audit entry: diff path %.40q is not storable text", p)
			}
		}
	}
	return nil
}

// AuditText returns a caller's string (an id from a path or a query) as an
// audit entry keeps it: valid UTF-8 without NUL (every store can hold it),
// at most MaxAuditText bytes, cut on a character boundary.
func AuditText(s string) string {
	if len(s) <= MaxAuditText && utf8.ValidString(s) && !strings.ContainsRune(s, 0) {
		return s
	}
	s = strings.ToValidUTF8(s, "\uFFFD")
	s = strings.ReplaceAll(s, "\x00", "\uFFFD")
	for len(s) > MaxAuditText {
		_, size := utf8.DecodeLastRuneInString(s)
		s = s[:len(s)-size]
	}
	return s
}

// NewSystemEntry returns an entry for work the service does on its own
// account in scope s (the purge destroying a deleted client's photos, a
// retention policy): trigger TriggerSystem, no key, no status, outcome
// success. Append it with the store's AppendAudit.
func NewSystemEntry(s Scope, action, resourceType, resourceID, clientID string) *AuditEntry {
	return &AuditEntry{
		AccountID: s.AccountID, Mode: s.Mode, Trigger: TriggerSystem, Action: action,
		ResourceType: resourceType, ResourceID: AuditText(resourceID), ClientID: AuditText(clientID),
		Outcome: OutcomeSuccess, Count: 1,
	}
}

// AuditAppender appends entries to the audit log. It is all that code
// recording accesses needs, the HTTP layer and background work alike.
type AuditAppender interface {
	// AppendAudit appends entries, in order, each to the end of the chain
	// of its (AccountID, Mode), all in one transaction: all are appended or
	// none. It sets each entry's ID (unless set), Seq, CreatedAt (now, or
	// the time of the chain's last entry if that is later, so that a chain's
	// times never go back), PrevHash and Hash. Appends to one chain are
	// serialised, also between processes sharing a database. It returns an
	// error, and appends nothing, if an entry fails Check.
	AppendAudit(ctx context.Context, now time.Time, entries ...*AuditEntry) error
}

// AuditChainID names a chain: an account's mode, or (both empty) the chain
// of entries with no account.
type AuditChainID struct {
	AccountID string
	Mode      Mode
}

// AuditHead is the last entry a chain records having: its Seq (the number
// of entries in the chain) and Hash. Stores keep it beside the chain, in
// the transaction that appends, so that entries removed from the end of a
// chain show too.
type AuditHead struct {
	AuditChainID
	Seq       int64
	Hash      string
	CreatedAt time.Time
}

// AuditFilter narrows an audit log list: paging and time filters (entries
// are never updated: updatedAt bounds apply to createdAt), and equality on
// the fields named by AuditFilterFields. All combine with AND.
type AuditFilter struct {
	ListOptions
	Fields map[string]string
}

// AuditFilterFields are the entry fields an audit log list can filter on,
// spelled as on the wire.
var AuditFilterFields = []string{"resourceId", "resourceType", "clientId", "action", "trigger", "outcome", "keyId"}

// AuditLog is the audit log's store: appends, the API's reads, and the
// walks that verify and export it.
type AuditLog interface {
	AuditAppender
	// AuditEntry returns the entry id of scope s, or ErrNotFound.
	AuditEntry(ctx context.Context, s Scope, id string) (*AuditEntry, error)
	// AuditEntries lists the entries of s matching f, newest first (ties
	// broken by ID, highest first), in chunks (see ListOptions), and their
	// total (-1 when f.After is set).
	AuditEntries(ctx context.Context, s Scope, f AuditFilter) ([]*AuditEntry, int, error)
	// AuditHeads returns the head of every chain, and a zero head (Seq 0)
	// for every chain that has entries but no head, ordered by account and
	// mode.
	AuditHeads(ctx context.Context) ([]AuditHead, error)
	// AuditChain returns up to n entries of chain c with Seq greater than
	// after, in Seq order. If it finds an entry it cannot decode, it returns
	// the entries before it and an *UnreadableEntryError.
	AuditChain(ctx context.Context, c AuditChainID, after int64, n int) ([]*AuditEntry, error)
}

// AuditBreak is the first place a chain does not hold together.
type AuditBreak struct {
	Seq    int64  // the entry's position; the head's Seq for a break at the end
	ID     string // the entry's ID, if there is one
	Reason string
}

// AuditChainReport is what VerifyAudit found in one chain.
type AuditChainReport struct {
	AuditHead
	Entries int64       // entries read
	Break   *AuditBreak // nil if the chain holds together
}

// auditBatch is how many entries VerifyAudit and WalkAudit read at once.
const auditBatch = 1000

// VerifyAudit walks every chain of the log from its first entry and checks
// that each entry has the next Seq, carries the Hash of the entry before
// it, and hashes to its own Hash, and that the last entry is the one the
// chain's head names. It reports each chain with the first break found in
// it, if any. A changed byte in any field of an entry, an entry inserted or
// removed, and entries removed from the end of a chain all break it,
// unless every later hash and the head were recomputed too: keep the heads
// VerifyAudit reports somewhere else, to compare with later.
func VerifyAudit(ctx context.Context, log AuditLog) ([]AuditChainReport, error) {
	heads, err := log.AuditHeads(ctx)
	if err != nil {
		return nil, fmt.Errorf("verify audit log: %w", err)
	}
	reports := make([]AuditChainReport, 0, len(heads))
	for _, h := range heads {
		rep := AuditChainReport{AuditHead: h}
		prev, seq := GenesisHash, int64(0)
		brk := func(seq int64, id, format string, args ...any) error {
			rep.Break = &AuditBreak{Seq: seq, ID: id, Reason: fmt.Sprintf(format, args...)}
			return errStopWalk
		}
		err := walkChain(ctx, log, h.AuditChainID, func(e *AuditEntry) error {
			rep.Entries++
			switch {
			case e.Seq != seq+1:
				return brk(seq+1, "", "entry %d is missing (the next entry is %d)", seq+1, e.Seq)
			case e.PrevHash != prev:
				return brk(e.Seq, e.ID, "entry %d does not carry the hash of entry %d", e.Seq, seq)
			}
			want, err := e.ComputeHash()
			if err != nil {
				return brk(e.Seq, e.ID, "entry %d cannot be read: %v", e.Seq, err)
			}
			if want != e.Hash {
				return brk(e.Seq, e.ID, "entry %d has been changed: its fields do not hash to its hash", e.Seq)
			}
			prev, seq = e.Hash, e.Seq
			return nil
		})
		var ue *UnreadableEntryError
		switch {
		case errors.As(err, &ue):
			brk(ue.Seq, ue.ID, "entry %d cannot be read: %v", ue.Seq, ue.Err)
		case err != nil:
			return nil, fmt.Errorf("verify audit log: %w", err)
		}
		if rep.Break == nil {
			switch {
			case h.Seq == 0 && h.Hash == "":
				brk(0, "", "the chain has entries but no head")
			case seq != h.Seq:
				brk(h.Seq, "", "the head names entry %d, but the chain ends at entry %d", h.Seq, seq)
			case prev != h.Hash && h.Seq > 0:
				brk(h.Seq, "", "the head's hash is not the hash of entry %d", h.Seq)
			}
		}
		reports = append(reports, rep)
	}
	return reports, nil
}

// errStopWalk ends a walk early without error.
var errStopWalk = errors.New("stop walk")

// walkChain calls fn with every entry of chain c, in Seq order, until fn
// returns an error; errStopWalk ends the walk with nil. An entry the store
// cannot decode ends the walk with an *UnreadableEntryError, after fn has
// seen every entry before it.
func walkChain(ctx context.Context, log AuditLog, c AuditChainID, fn func(*AuditEntry) error) error {
	after := int64(0)
	for {
		batch, rerr := log.AuditChain(ctx, c, after, auditBatch)
		for _, e := range batch {
			if err := fn(e); errors.Is(err, errStopWalk) {
				return nil
			} else if err != nil {
				return err
			}
		}
		if rerr != nil {
			return rerr
		}
		if len(batch) < auditBatch {
			return nil
		}
		after = batch[len(batch)-1].Seq
	}
}

// UnreadableEntryError is returned by an AuditLog that finds a stored entry
// it cannot decode (a diff that is not JSON): AuditChain returns it with
// the entries before that one, and VerifyAudit reports the chain broken
// there.
type UnreadableEntryError struct {
	Seq int64
	ID  string
	Err error
}

func (e *UnreadableEntryError) Error() string {
	return fmt.Sprintf("audit entry %d (%s) cannot be read: %v", e.Seq, e.ID, e.Err)
}

func (e *UnreadableEntryError) Unwrap() error { return e.Err }

// WalkAudit calls fn with every entry of every chain that keep accepts (nil
// keeps all), chain after chain (ordered by account and mode), each in Seq
// order, until fn returns an error.
func WalkAudit(ctx context.Context, log AuditLog, keep func(AuditChainID) bool, fn func(*AuditEntry) error) error {
	heads, err := log.AuditHeads(ctx)
	if err != nil {
		return fmt.Errorf("walk audit log: %w", err)
	}
	for _, h := range heads {
		if keep != nil && !keep(h.AuditChainID) {
			continue
		}
		if err := walkChain(ctx, log, h.AuditChainID, fn); err != nil {
			return fmt.Errorf("walk audit log: %w", err)
		}
	}
	return nil
}

// ClientAttributes returns the client's attributes by dotted path, as the
// list filters name them ("email", "personDetails.firstName"), with the
// whole of the metadata under "metadata". ChangedAttributes compares two.
func ClientAttributes(c *Client) map[string]string {
	m := map[string]string{
		"type": c.Type, "email": c.Email, "mobile": c.Mobile, "telephone": c.Telephone,
		"externalId": c.ExternalID, "joinedDate": c.JoinedDate,
	}
	if d := c.PersonDetails; d != nil {
		for k, v := range map[string]string{
			"firstName": d.FirstName, "middleName": d.MiddleName, "lastName": d.LastName, "dob": d.DOB,
			"gender": d.Gender, "nationality": d.Nationality, "birthCountry": d.BirthCountry, "ssn": d.SSN,
			"socialInsuranceNumber": d.SocialInsuranceNumber, "nationalIdentityNumber": d.NationalIdentityNumber,
			"taxIdentificationNumber": d.TaxIdentificationNumber,
		} {
			m["personDetails."+k] = v
		}
	}
	if d := c.CompanyDetails; d != nil {
		for k, v := range map[string]string{
			"name": d.Name, "website": d.Website, "registrationNumber": d.RegistrationNumber,
			"incorporationCountry": d.IncorporationCountry, "incorporationType": d.IncorporationType,
		} {
			m["companyDetails."+k] = v
		}
	}
	// Metadata keys are the integrator's, and may say more than they
	// should: a change to any of them is recorded as "metadata".
	keys := slices.Sorted(maps.Keys(c.Metadata))
	var b strings.Builder
	for _, k := range keys {
		b.WriteString(strconv.Quote(k))
		b.WriteByte('=')
		b.WriteString(strconv.Quote(c.Metadata[k]))
		b.WriteByte(';')
	}
	m["metadata"] = b.String()
	return m
}

// ChangedAttributes returns the paths, sorted, whose values differ between
// two results of ClientAttributes. An attribute absent from one is empty.
func ChangedAttributes(before, after map[string]string) []string {
	var changed []string
	for k, v := range after {
		if before[k] != v {
			changed = append(changed, k)
		}
	}
	for k, v := range before {
		if _, ok := after[k]; !ok && v != "" {
			changed = append(changed, k)
		}
	}
	slices.Sort(changed)
	return changed
}

// ErrAuditLogNotFound returns the contract's 404 for an audit log id. The id
// is quoted as Clip shortens it.
func ErrAuditLogNotFound(id string) *Error {
	return Errorf(ENotFound, "Invalid audit log id '%s'", Clip(id))
}

// AuditEntry returns an entry of the scope's audit log.
func (v *Vault) AuditEntry(ctx context.Context, s Scope, id string) (*AuditEntry, error) {
	if !ValidID(id) {
		return nil, ErrAuditLogNotFound(id)
	}
	e, err := v.Store.AuditEntry(ctx, s, id)
	if errors.Is(err, ErrNotFound) {
		return nil, ErrAuditLogNotFound(id)
	}
	return e, err
}

// AuditEntries returns one page of the scope's audit log matching f, as
// LivePhotos does.
func (v *Vault) AuditEntries(ctx context.Context, s Scope, f AuditFilter) (int, iter.Seq2[*AuditEntry, error], error) {
	return Paged(f.ListOptions, ListChunk, func(o ListOptions) ([]*AuditEntry, int, error) {
		f.ListOptions = o
		return v.Store.AuditEntries(ctx, s, f)
	}, func(e *AuditEntry) Cursor { return Cursor{e.CreatedAt, e.ID} })
}
