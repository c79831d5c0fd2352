package facevault

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"iter"
	"log/slog"
	"math"
	"slices"
	"time"
)

// Check types. FaceVault runs face authentication and age estimation
// (CheckAgeEstimation); the other types ComplyCube documents are known,
// and refused as not available.
const (
	CheckFaceAuthentication = "face_authentication_check"
)

// complyCubeCheckTypes are the check types ComplyCube documents
// (docs/contract.md section 9): a known type FaceVault does not run is
// ECheckUnavailable, any other string EInvalid.
var complyCubeCheckTypes = []string{
	"standard_screening_check", "extensive_screening_check", "document_check", "identity_check",
	"enhanced_identity_check", "proof_of_address_check", "multi_bureau_check", "eid_check", "ssn_check",
	CheckAgeEstimation, "identity_fraud_check", "driving_license_check", "device_intelligence_check",
	"email_intelligence_check", "mobile_intelligence_check", CheckFaceAuthentication,
}

// Check statuses: a check is pending from its creation until a runner
// completes it (or fails it, when its photo lost its face data meanwhile).
const (
	CheckPending  = "pending"
	CheckComplete = "complete"
	CheckFailed   = "failed"
)

// Error codes of checks.
const (
	// ECheckUnavailable (422): a check type ComplyCube documents that
	// FaceVault does not run.
	ECheckUnavailable = "check_type_unavailable"
	// ENoEmbedding (422): the live photo has one face but no face data to
	// compare (uploaded without the liveness check, or while the server
	// computed no embeddings).
	ENoEmbedding = "face_data_unavailable"
	// ERedacted (422): the live photo is redacted: its face data is gone.
	ERedacted = "live_photo_redacted"
	// ECheckNotComplete (422): validating a check that is not complete.
	ECheckNotComplete = "check_not_complete"
	// EInUse (409): deleting a live photo that a check uses.
	EInUse = "live_photo_in_use"
)

// ErrInUse is returned (wrapped) by stores asked to delete a live photo that
// a check uses.
var ErrInUse = errors.New("facevault: in use")

// Similarity thresholds. These are development figures, read off the 19
// photos of 10 people of the development set (README, "Face embeddings":
// at 92 every same-person pair and no different-person pair matched);
// they are not a calibration at a measured false match rate, and must be
// revisited on a labelled set large enough to measure one.
const (
	// FaceMatchThreshold is the least similarity (0–100, see
	// faceSimilarity) at which a face authentication check counts the
	// photo's face as matching one of its client's enrolled faces.
	FaceMatchThreshold = 92
	// PreviouslyEnrolledThreshold is the least similarity at which the
	// photo's face counts as a face enrolled under another client.
	PreviouslyEnrolledThreshold = 92
)

// Check is a check on a live photo. Its Result is set once Status is
// CheckComplete.
type Check struct {
	ID          string
	Scope       Scope // whose check it is; set by the stores
	ClientID    string
	Type        string
	LivePhotoID string
	Status      string
	Result      *CheckResult
	// Validation is a reviewer's word on the outcome of a complete check
	// (POST /v1/checks/{id}/validate); nil until then.
	Validation *CheckValidation
	// EntityName is the client's name as Client.EntityName gives it, as it
	// is when the check is read (set by the vault, not stored).
	EntityName string
	// Review is a console reviewer's mark on the check; nil until one is
	// made. It is not shown through the API.
	Review *Review
	// Attempts is how many times runners have claimed the check.
	Attempts  int
	CreatedAt time.Time
	UpdatedAt time.Time
}

// CheckResult is a complete check's result, in ComplyCube's shape.
type CheckResult struct {
	Outcome   string         `json:"outcome"`
	Breakdown CheckBreakdown `json:"breakdown"`
}

// CheckBreakdown holds the analyses of a check.
type CheckBreakdown struct {
	FaceAuthentication     *FaceAuthentication     `json:"faceAuthentication,omitempty"`
	AgeEstimation          *AgeEstimationAnalysis  `json:"ageEstimationAnalysis,omitempty"`
	PreviouslyEnrolledFace *PreviouslyEnrolledFace `json:"previouslyEnrolledFace,omitempty"`
}

// FaceAuthentication is the analysis of a face authentication check.
type FaceAuthentication struct {
	FacialSimilarity string                      `json:"facialSimilarity"`
	Breakdown        FaceAuthenticationBreakdown `json:"breakdown"`
}

// FaceAuthenticationBreakdown names the enrolled faces compared and those
// that matched.
type FaceAuthenticationBreakdown struct {
	FacesMatched  []FaceMatch   `json:"facesMatched"`
	EnrolledFaces EnrolledFaces `json:"enrolledFaces"`
}

// FaceMatch is an enrolled face that matched, with its similarity score
// (0–100, an integer).
type FaceMatch struct {
	LivePhotoID           string `json:"livePhotoId"`
	FacialSimilarityScore int    `json:"facialSimilarityScore"`
}

// EnrolledFaces lists the live photos a check compared with.
type EnrolledFaces struct {
	LivePhotoIDs []string `json:"livePhotoIds"`
}

// PreviouslyEnrolledFace says whether the face is enrolled under another
// client of the same account and mode.
type PreviouslyEnrolledFace struct {
	Outcome string        `json:"outcome"`
	Matches []ClientMatch `json:"matches"`
}

// ClientMatch is a face of another client that matched.
type ClientMatch struct {
	ClientID    string `json:"clientId"`
	LivePhotoID string `json:"livePhotoId"`
	Score       int    `json:"score"`
}

// CheckValidation is a reviewer's validation of a check's outcome.
type CheckValidation struct {
	Outcome     string    `json:"outcome"`
	Comment     string    `json:"comment,omitempty"`
	ValidatedAt time.Time `json:"validatedAt"`
}

// Validation outcomes a reviewer may give a face authentication check:
// the check's outcome confirmed or overturned.
var validationOutcomes = []string{OutcomeClear, OutcomeAttention}

// CheckValidationColumn encodes c's validation as record stores keep it
// (JSON); nil if it has none.
func CheckValidationColumn(c *Check) ([]byte, error) {
	if c.Validation == nil {
		return nil, nil
	}
	return json.Marshal(c.Validation)
}

// SetCheckValidationColumn decodes a validation column into c; nil or
// empty leaves c without one.
func SetCheckValidationColumn(c *Check, b []byte) error {
	if len(b) == 0 {
		c.Validation = nil
		return nil
	}
	c.Validation = new(CheckValidation)
	if err := json.Unmarshal(b, c.Validation); err != nil {
		return fmt.Errorf("decode check validation: %w", err)
	}
	return nil
}

// CheckResultColumn encodes c's result as record stores keep it (JSON);
// nil if it has none.
func CheckResultColumn(c *Check) ([]byte, error) {
	if c.Result == nil {
		return nil, nil
	}
	return json.Marshal(c.Result)
}

// SetCheckResultColumn decodes a result column read by a record store into
// c; nil or empty leaves c without a result.
func SetCheckResultColumn(c *Check, b []byte) error {
	if len(b) == 0 {
		c.Result = nil
		return nil
	}
	c.Result = new(CheckResult)
	if err := json.Unmarshal(b, c.Result); err != nil {
		return fmt.Errorf("decode check result: %w", err)
	}
	return nil
}

// CheckFilter narrows a check list: equality on each field that is set.
type CheckFilter struct {
	ListOptions
	ClientID, Type, Status, LivePhotoID string
}

// CheckStore holds checks, and is their durable queue: a pending check is a
// row that runners claim with a lease, so that a check accepted survives a
// crash and is run by one node at a time. A check of a deleted client does
// not exist for any method: deleting a client deletes its checks.
type CheckStore interface {
	// CreateCheck stores a pending check. ErrNotFound if its client does
	// not exist in s, or its live photo is not one of that client's.
	CreateCheck(ctx context.Context, s Scope, c *Check) error
	// Check returns the check, or ErrNotFound.
	Check(ctx context.Context, s Scope, id string) (*Check, error)
	// Checks lists the checks of s matching f, newest first, in chunks
	// (see ListOptions), and the total count (-1 when f.After is set).
	Checks(ctx context.Context, s Scope, f CheckFilter) ([]*Check, int, error)
	// ClaimCheck takes the oldest pending check that no unexpired lease
	// holds, leases it to holder until now+ttl, and returns it with its
	// Scope; ErrNotFound if there is none.
	ClaimCheck(ctx context.Context, holder string, now time.Time, ttl time.Duration) (*Check, error)
	// FinishCheck stores the outcome of a check holder claimed: its
	// status, result and update time, and releases it. ErrNotFound if the
	// check is gone or no longer pending under holder's lease.
	FinishCheck(ctx context.Context, c *Check, holder string) error
	// PostponeCheck keeps the pending check c, claimed by holder, from
	// being claimed again before until. ErrNotFound if c is no longer
	// pending under holder's lease.
	PostponeCheck(ctx context.Context, c *Check, holder string, until time.Time) error
	// ValidateCheck stores c's Validation and update time on the check c.ID
	// of s if it is complete. ErrNotFound if there is no such complete
	// check.
	ValidateCheck(ctx context.Context, s Scope, c *Check) error
	// DeleteChecksOfPhoto deletes the checks of s that use the live photo
	// photoID, and returns how many it deleted.
	DeleteChecksOfPhoto(ctx context.Context, s Scope, photoID string) (int, error)
}

// CheckRequest is a request to create a check.
type CheckRequest struct {
	ClientID, Type, LivePhotoID string
}

// CreateCheck validates a check request and stores the check, pending: the
// runners (RunChecks) complete it. Errors: EInvalid (param type, clientId or
// livePhotoId), ECheckUnavailable, ENotFound for a client or live photo
// that is not the caller's (a photo of another client included), ERedacted,
// ENoFace, EMultipleFaces and ENoEmbedding for a photo with no face data
// to compare.
func (v *Vault) CreateCheck(ctx context.Context, s Scope, r CheckRequest) (*Check, error) {
	switch {
	case r.ClientID == "":
		return nil, Invalid("clientId", "The 'clientId' field is required")
	case r.Type == "":
		return nil, Invalid("type", "The 'type' field is required")
	case r.Type == CheckAgeEstimation && v.Ages == nil:
		return nil, &Error{Code: ECheckUnavailable, Param: "type",
			Message: "Check type 'age_estimation_check' is not available on this server: it runs without its age model"}
	case !v.runs(r.Type) && slices.Contains(complyCubeCheckTypes, r.Type):
		return nil, &Error{Code: ECheckUnavailable, Param: "type",
			Message: fmt.Sprintf("Check type '%s' is not available on this server; it runs face_authentication_check and age_estimation_check", r.Type)}
	case !v.runs(r.Type):
		return nil, Invalid("type", "Invalid check type '%s'", Clip(r.Type))
	case r.LivePhotoID == "":
		return nil, Invalid("livePhotoId", "The 'livePhotoId' field is required")
	}
	notFoundClient := func() error { e := ErrClientNotFound(r.ClientID); e.Param = "clientId"; return e }
	notFoundPhoto := func() error { e := ErrLivePhotoNotFound(r.LivePhotoID); e.Param = "livePhotoId"; return e }
	if !ValidID(r.ClientID) {
		return nil, notFoundClient()
	}
	client, err := v.Store.Client(ctx, s, r.ClientID)
	if errors.Is(err, ErrNotFound) {
		return nil, notFoundClient()
	} else if err != nil {
		return nil, fmt.Errorf("create check: client: %w", err)
	}
	if !ValidID(r.LivePhotoID) {
		return nil, notFoundPhoto()
	}
	p, err := v.LivePhoto(ctx, s, r.LivePhotoID)
	if ErrorCode(err) == ENotFound {
		return nil, notFoundPhoto()
	} else if err != nil {
		return nil, fmt.Errorf("create check: live photo: %w", err)
	}
	if p.ClientID != r.ClientID {
		return nil, notFoundPhoto()
	}
	if err := v.faceUsable(ctx, p); err != nil {
		return nil, err
	}
	t := v.Now()
	c := &Check{ID: NewID(t), Scope: s, ClientID: r.ClientID, Type: r.Type, LivePhotoID: r.LivePhotoID,
		Status: CheckPending, EntityName: client.EntityName(), CreatedAt: t, UpdatedAt: t}
	if err := v.Store.CreateCheck(ctx, s, c); errors.Is(err, ErrNotFound) {
		return nil, notFoundPhoto() // the client or photo went meanwhile
	} else if err != nil {
		return nil, fmt.Errorf("create check: %w", err)
	}
	v.wakeChecks()
	return c, nil
}

// runs reports whether the vault runs checks of type t.
func (v *Vault) runs(t string) bool {
	return t == CheckFaceAuthentication || t == CheckAgeEstimation && v.Ages != nil
}

// faceUsable returns nil if p has face data a check can compare, and
// otherwise the 422 that says why not.
func (v *Vault) faceUsable(ctx context.Context, p *LivePhoto) error {
	refuse := func(code, format string, args ...any) error {
		return &Error{Code: code, Message: fmt.Sprintf(format, args...), Param: "livePhotoId"}
	}
	if p.Redacted() {
		return refuse(ERedacted, "Live photo '%s' has been redacted: its face data is destroyed", p.ID)
	}
	if c := p.LivenessCheck; c != nil {
		switch n := c.Breakdown.IntegrityAnalysis.Breakdown.FaceCount; {
		case n == 0:
			return refuse(ENoFace, "No face was detected in live photo '%s'", p.ID)
		case n > 1:
			return refuse(EMultipleFaces, "More than one face was detected in live photo '%s' (%d)", p.ID, n)
		}
	}
	e, err := v.FaceEmbedding(ctx, p)
	if err != nil {
		return err
	}
	if e == nil {
		return refuse(ENoEmbedding, "Live photo '%s' has no face data to compare: upload it with performLivenessCheck true to a server that computes face embeddings", p.ID)
	}
	return nil
}

// Check returns a check of the scope.
func (v *Vault) Check(ctx context.Context, s Scope, id string) (*Check, error) {
	notFound := Errorf(ENotFound, "Invalid check id '%s'", Clip(id))
	if !ValidID(id) {
		return nil, notFound
	}
	c, err := v.Store.Check(ctx, s, id)
	if errors.Is(err, ErrNotFound) {
		return nil, notFound
	}
	if err != nil {
		return nil, err
	}
	if err := v.nameChecks(ctx, s, map[string]string{}, c); err != nil {
		return nil, err
	}
	return c, nil
}

// Checks returns one page of the scope's checks matching f (see Paged).
func (v *Vault) Checks(ctx context.Context, s Scope, f CheckFilter) (int, iter.Seq2[*Check, error], error) {
	names := map[string]string{} // the page's clients' names, looked up once each
	return Paged(f.ListOptions, ListChunk, func(o ListOptions) ([]*Check, int, error) {
		f.ListOptions = o
		cs, n, err := v.Store.Checks(ctx, s, f)
		if err != nil {
			return nil, 0, err
		}
		if err := v.nameChecks(ctx, s, names, cs...); err != nil {
			return nil, 0, err
		}
		return cs, n, nil
	}, func(c *Check) Cursor { return Cursor{c.CreatedAt, c.ID} })
}

// nameChecks sets the EntityName of checks from their clients, reading
// each client not already in names once. A client deleted meanwhile (its
// checks go with it) leaves the name empty.
func (v *Vault) nameChecks(ctx context.Context, s Scope, names map[string]string, checks ...*Check) error {
	for _, c := range checks {
		name, ok := names[c.ClientID]
		if !ok {
			cl, err := v.Store.Client(ctx, s, c.ClientID)
			if err != nil && !errors.Is(err, ErrNotFound) {
				return fmt.Errorf("check %s: client: %w", c.ID, err)
			}
			if cl != nil {
				name = cl.EntityName()
			}
			names[c.ClientID] = name
		}
		c.EntityName = name
	}
	return nil
}

// wakeChecks tells RunChecks there is a new check.
func (v *Vault) wakeChecks() {
	select {
	case v.checkWake <- struct{}{}:
	default:
	}
}

// DefaultCheckLease is how long a runner holds a check it claimed: a check
// whose runner died is run again by another once its lease expires.
const DefaultCheckLease = time.Minute

// checkWatcher is a record store that tells of checks accepted on any
// node of a shared database (postgres.DB.WatchChecks).
type checkWatcher interface {
	WatchChecks(ctx context.Context, logger *slog.Logger) <-chan struct{}
}

// RunChecks runs pending checks until ctx is done: it claims one at a time
// under holder's name with a lease of ttl, runs it and stores its result,
// and looks for new work every interval, or at once when this node accepts
// a check, or, on a store that tells of them (PostgreSQL), when any node
// does. Every node of a shared store may run it; each check is run by
// the node holding its lease.
func (v *Vault) RunChecks(ctx context.Context, holder string, every, ttl time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	var others <-chan struct{} // checks accepted by other nodes
	if w, ok := v.Store.(checkWatcher); ok {
		others = w.WatchChecks(ctx, v.Logger)
	}
	for {
		for ctx.Err() == nil {
			ran, err := v.RunCheck(ctx, holder, ttl)
			if err != nil && ctx.Err() == nil {
				v.Logger.ErrorContext(ctx, "check failed", "err", err)
				break
			}
			if !ran {
				break
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-v.checkWake:
		case <-others:
		}
	}
}

// MaxCheckAttempts is how many times a check is run before a run that
// fails on an internal error (the key store or an image unreadable, not
// the photo's face) ends it failed. Between attempts it waits
// checkRetryDelay.
const MaxCheckAttempts = 8

// checkRetryDelay is how long a check whose attempt-th run failed waits
// before the next: the lease, doubled at each attempt, at most an hour.
// With the default one-minute lease the eight attempts span about four
// hours, so that a check outlives a short outage of a store.
func checkRetryDelay(ttl time.Duration, attempt int) time.Duration {
	d := ttl
	for range attempt - 1 {
		if d >= time.Hour {
			break
		}
		d *= 2
	}
	return min(d, time.Hour)
}

// RunCheck claims one pending check and runs it. It reports whether there
// was one. A run that fails on an internal error leaves the check pending
// and claimed for checkRetryDelay, after which any runner tries again; the
// MaxCheckAttempts-th such failure ends it failed. A check whose runner
// dies is claimed again once its lease expires (an attempt too).
func (v *Vault) RunCheck(ctx context.Context, holder string, ttl time.Duration) (bool, error) {
	c, err := v.ClaimCheck(ctx, holder, ttl)
	if errors.Is(err, ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	v.Logger.DebugContext(ctx, "check claimed", "checkId", c.ID, "holder", holder, "attempt", c.Attempts)
	err = v.CompleteCheck(ctx, c, holder)
	if err == nil || ctx.Err() != nil {
		return true, err
	}
	if c.Attempts >= MaxCheckAttempts {
		v.Logger.ErrorContext(ctx, "check failed on its last attempt", "checkId", c.ID, "attempts", c.Attempts, "err", err)
		c.Status, c.Result, c.UpdatedAt = CheckFailed, nil, v.Now()
		if ferr := v.Store.FinishCheck(ctx, c, holder); ferr != nil && !errors.Is(ferr, ErrNotFound) {
			return true, fmt.Errorf("check %s: store failure: %w", c.ID, ferr)
		} else if ferr == nil {
			v.observeCheck(c, 0)
		}
		return true, nil
	}
	delay := checkRetryDelay(ttl, c.Attempts)
	v.Logger.WarnContext(ctx, "check attempt failed; retrying later", "checkId", c.ID, "attempt", c.Attempts,
		"retryIn", delay.String(), "err", err)
	if perr := v.Store.PostponeCheck(ctx, c, holder, v.Now().Add(delay)); perr != nil && !errors.Is(perr, ErrNotFound) {
		return true, errors.Join(err, fmt.Errorf("check %s: postpone: %w", c.ID, perr))
	}
	return true, nil
}

// ClaimCheck claims the oldest pending check for holder (see
// CheckStore.ClaimCheck). RunCheck is ClaimCheck then CompleteCheck.
func (v *Vault) ClaimCheck(ctx context.Context, holder string, ttl time.Duration) (*Check, error) {
	c, err := v.Store.ClaimCheck(ctx, holder, v.Now(), ttl)
	if err != nil && !errors.Is(err, ErrNotFound) {
		return nil, fmt.Errorf("claim check: %w", err)
	}
	return c, err
}

// CompleteCheck runs a claimed check and stores its result: complete, or
// failed if its photo lost its face data since it was accepted.
func (v *Vault) CompleteCheck(ctx context.Context, c *Check, holder string) error {
	run := v.faceAuthentication
	if c.Type == CheckAgeEstimation {
		run = v.ageEstimation
	}
	start := time.Now()
	res, err := run(ctx, c)
	if err != nil {
		return fmt.Errorf("check %s: %w", c.ID, err)
	}
	c.Status, c.Result, c.UpdatedAt = CheckComplete, res, v.Now()
	if res == nil {
		c.Status = CheckFailed
	}
	if err := v.Store.FinishCheck(ctx, c, holder); errors.Is(err, ErrNotFound) {
		v.Logger.WarnContext(ctx, "check finished elsewhere or gone", "checkId", c.ID)
		return nil
	} else if err != nil {
		return fmt.Errorf("check %s: store result: %w", c.ID, err)
	}
	v.Logger.InfoContext(ctx, "check complete", "checkId", c.ID, "status", c.Status)
	v.observeCheck(c, time.Since(start))
	return nil
}

// observeCheck tells the observer, if any, of a check stored finished.
func (v *Vault) observeCheck(c *Check, d time.Duration) {
	if v.Observer == nil {
		return
	}
	outcome := ""
	if c.Result != nil {
		outcome = c.Result.Outcome
	}
	v.Observer.CheckFinished(c.Type, c.Status, outcome, d)
}

// faceAuthentication compares the face of c's photo with the enrolled
// faces of c's scope, through the face search (SearchFaces): its client's
// other enrolled photos decide the outcome, other clients' say whether the
// face was enrolled before under another name. The enrolled faces it
// lists are all of the client's other enrolled photos. Nil if the photo no
// longer has face data.
func (v *Vault) faceAuthentication(ctx context.Context, c *Check) (*CheckResult, error) {
	p, err := v.Store.LivePhoto(ctx, c.Scope, c.LivePhotoID)
	if errors.Is(err, ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	probe, err := v.FaceEmbedding(ctx, p)
	if err != nil || probe == nil {
		return nil, err
	}
	enrolled, err := v.Store.EnrolledFaceIDs(ctx, c.Scope, c.ClientID)
	if err != nil {
		return nil, err
	}
	hits, err := v.SearchFaces(ctx, c.Scope, probe, min(FaceMatchThreshold, PreviouslyEnrolledThreshold))
	if err != nil {
		return nil, err
	}
	fa := &FaceAuthentication{FacialSimilarity: OutcomeAttention,
		Breakdown: FaceAuthenticationBreakdown{FacesMatched: []FaceMatch{}, EnrolledFaces: EnrolledFaces{LivePhotoIDs: []string{}}}}
	prev := &PreviouslyEnrolledFace{Outcome: OutcomeClear, Matches: []ClientMatch{}}
	for _, id := range enrolled {
		if id != p.ID {
			fa.Breakdown.EnrolledFaces.LivePhotoIDs = append(fa.Breakdown.EnrolledFaces.LivePhotoIDs, id)
		}
	}
	for _, h := range hits {
		switch {
		case h.PhotoID == p.ID:
		case h.ClientID == c.ClientID:
			if h.Score >= FaceMatchThreshold {
				fa.Breakdown.FacesMatched = append(fa.Breakdown.FacesMatched, FaceMatch{h.PhotoID, int(math.Floor(h.Score))})
			}
		case h.Score >= PreviouslyEnrolledThreshold:
			prev.Matches = append(prev.Matches, ClientMatch{h.ClientID, h.PhotoID, int(math.Floor(h.Score))})
		}
	}
	if len(fa.Breakdown.FacesMatched) > 0 {
		fa.FacialSimilarity = OutcomeClear
	}
	if len(prev.Matches) > 0 {
		prev.Outcome = OutcomeAttention
	}
	slices.SortStableFunc(fa.Breakdown.FacesMatched, func(a, b FaceMatch) int { return b.FacialSimilarityScore - a.FacialSimilarityScore })
	slices.SortStableFunc(prev.Matches, func(a, b ClientMatch) int { return b.Score - a.Score })
	return &CheckResult{Outcome: fa.FacialSimilarity,
		Breakdown: CheckBreakdown{FaceAuthentication: fa, PreviouslyEnrolledFace: prev}}, nil
}

// previouslyEnrolled searches the faces enrolled under the other clients
// of c's scope for the face of c's photo: what every face-consuming check
// reports as previouslyEnrolledFace. Nil if the photo is gone or no longer
// has face data.
func (v *Vault) previouslyEnrolled(ctx context.Context, c *Check) (*PreviouslyEnrolledFace, error) {
	p, err := v.Store.LivePhoto(ctx, c.Scope, c.LivePhotoID)
	if errors.Is(err, ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	probe, err := v.FaceEmbedding(ctx, p)
	if err != nil || probe == nil {
		return nil, err
	}
	hits, err := v.SearchFaces(ctx, c.Scope, probe, PreviouslyEnrolledThreshold)
	if err != nil {
		return nil, err
	}
	prev := &PreviouslyEnrolledFace{Outcome: OutcomeClear, Matches: []ClientMatch{}}
	for _, h := range hits {
		if h.ClientID != c.ClientID && h.PhotoID != p.ID && h.Score >= PreviouslyEnrolledThreshold {
			prev.Matches = append(prev.Matches, ClientMatch{h.ClientID, h.PhotoID, int(math.Floor(h.Score))})
		}
	}
	if len(prev.Matches) > 0 {
		prev.Outcome = OutcomeAttention
	}
	slices.SortStableFunc(prev.Matches, func(a, b ClientMatch) int { return b.Score - a.Score })
	return prev, nil
}

// faceSimilarity is faceid.Similarity: 100 × the cosine of two embeddings,
// negative cosines counting as 0.
func faceSimilarity(a, b []float32) float64 {
	return 100 * max(0, FaceCosine(a, b))
}

// FaceCosine is the cosine of the angle between two face embeddings, from
// −1 to 1; 0 if their lengths differ or either is zero. Package faceid's
// Cosine and Similarity are this.
func FaceCosine(a, b []float32) float64 {
	if len(a) != len(b) || len(a) == 0 {
		return 0
	}
	var dot, na, nb float64
	for i := range a {
		dot += float64(a[i]) * float64(b[i])
		na += float64(a[i]) * float64(a[i])
		nb += float64(b[i]) * float64(b[i])
	}
	if na == 0 || nb == 0 {
		return 0
	}
	return dot / math.Sqrt(na*nb)
}

// CheckUpdate is a request to update a check: the fields of a create. A
// face authentication check has nothing that can change (ComplyCube updates
// screening checks only): a field that differs from the check's is EInvalid
// naming it; the same values, or none, leave the check as it is.
type CheckUpdate struct {
	ClientID, Type, LivePhotoID string
}

// UpdateCheck applies an update (see CheckUpdate) and returns the check.
func (v *Vault) UpdateCheck(ctx context.Context, s Scope, id string, u CheckUpdate) (*Check, error) {
	c, err := v.Check(ctx, s, id)
	if err != nil {
		return nil, err
	}
	for _, f := range []struct{ param, got, have string }{
		{"clientId", u.ClientID, c.ClientID}, {"type", u.Type, c.Type}, {"livePhotoId", u.LivePhotoID, c.LivePhotoID},
	} {
		if f.got != "" && f.got != f.have {
			return nil, Invalid(f.param, "The '%s' of a check cannot be changed", f.param)
		}
	}
	return c, nil
}

// CheckValidationRequest is a reviewer's validation of a check.
type CheckValidationRequest struct {
	Outcome, Comment, MatchID string
}

// MaxValidationComment bounds a validation's comment, in characters.
const MaxValidationComment = 1000

// ValidateCheck records a reviewer's validation of a complete check: the
// outcome confirmed or overturned (clear or attention), with an optional
// comment; validating again replaces it. Errors: EInvalid (param outcome,
// comment, or matchId, which applies to screening checks only),
// ENotFound, ECheckNotComplete.
func (v *Vault) ValidateCheck(ctx context.Context, s Scope, id string, r CheckValidationRequest) (*Check, error) {
	c, err := v.Check(ctx, s, id)
	if err != nil {
		return nil, err
	}
	switch {
	case r.Outcome == "":
		return nil, Invalid("outcome", "The 'outcome' field is required")
	case !slices.Contains(validationOutcomes, r.Outcome):
		return nil, Invalid("outcome", "The 'outcome' must be 'clear' or 'attention'")
	case r.MatchID != "":
		return nil, Invalid("matchId", "'matchId' applies to screening checks only")
	case len([]rune(r.Comment)) > MaxValidationComment:
		return nil, Invalid("comment", "The 'comment' must be at most %d characters", MaxValidationComment)
	case c.Status != CheckComplete:
		return nil, Errorf(ECheckNotComplete, "Check '%s' is %s: only a complete check can be validated", id, c.Status)
	}
	t := v.Now()
	c.Validation = &CheckValidation{Outcome: r.Outcome, Comment: r.Comment, ValidatedAt: t}
	c.UpdatedAt = t
	if err := v.Store.ValidateCheck(ctx, s, c); errors.Is(err, ErrNotFound) {
		return nil, Errorf(ENotFound, "Invalid check id '%s'", Clip(id)) // its client went meanwhile
	} else if err != nil {
		return nil, fmt.Errorf("validate check: %w", err)
	}
	return c, nil
}

// photoInUse reports whether a check of s uses the live photo id.
func (v *Vault) photoInUse(ctx context.Context, s Scope, id string) (bool, error) {
	_, total, err := v.Store.Checks(ctx, s, CheckFilter{LivePhotoID: id, ListOptions: ListOptions{Page: Page{Page: 1, PageSize: 1}}})
	if err != nil {
		return false, fmt.Errorf("checks of live photo %s: %w", id, err)
	}
	return total > 0, nil
}

// errInUse is the 409 of a deletion of a photo that a check uses.
func errInUse(id string) error {
	return Errorf(EInUse, "Live photo '%s' is used by a check and cannot be deleted; it can be redacted", id)
}
