package facevault

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"slices"
	"strings"
	"time"
	"unicode/utf8"
)

// Review is a reviewer's mark on a flagged live photo or check: who looked
// at it, when, and what they noted. It is kept on the photo's or check's
// record and goes with it.
type Review struct {
	ReviewedAt time.Time
	Reviewer   string // the console user's name
	Note       string // at most MaxReviewNote bytes
}

// MaxReviewNote is the most bytes a review note may hold.
const MaxReviewNote = 2000

// MaxReviewer is the most bytes a reviewer's name may hold.
const MaxReviewer = MaxAuditText

// Reason codes of the review queue: the analyses of a liveness check, each
// a reason for attention when it says so. They are spelled as the
// breakdown's fields are (README, "The liveness check").
const (
	ReasonFaceDetection        = "faceDetection"        // integrity: not exactly one face, or the pixels do not decode
	ReasonFaceSize             = "faceSize"             // quality: face too small or cut off by the edge
	ReasonFaceOrientation      = "faceOrientation"      // quality: eyes not both found, or head tilted
	ReasonSharpness            = "sharpness"            // quality: the face is blurred
	ReasonExposure             = "exposure"             // quality: the face is too dark, too bright or clipped
	ReasonSpoofedImageAnalysis = "spoofedImageAnalysis" // authenticity: likely a print, a screen or a mask
	ReasonLivenessCheck        = "livenessCheck"        // authenticity: same score as spoofedImageAnalysis
)

// Reason codes of checks in the review queue: the analyses of a check.
const (
	ReasonFaceAuthentication     = "faceAuthentication"     // the face matched none of its client's enrolled faces
	ReasonPreviouslyEnrolledFace = "previouslyEnrolledFace" // the face matched another client's
	ReasonAgeEstimation          = "ageEstimation"          // the estimated age is under the minimum
)

// PhotoReasons are the reason codes of live photos, in breakdown order.
var PhotoReasons = []string{ReasonFaceDetection, ReasonFaceSize, ReasonFaceOrientation, ReasonSharpness,
	ReasonExposure, ReasonSpoofedImageAnalysis, ReasonLivenessCheck}

// CheckReasons are the reason codes of checks.
var CheckReasons = []string{ReasonFaceAuthentication, ReasonPreviouslyEnrolledFace, ReasonAgeEstimation}

// LivenessReasons returns the reason codes of the analyses of c that say
// attention, in breakdown order; none for nil.
func LivenessReasons(c *LivenessCheck) []string {
	if c == nil {
		return nil
	}
	var r []string
	add := func(verdict, code string) {
		if verdict == OutcomeAttention {
			r = append(r, code)
		}
	}
	b := c.Breakdown
	add(b.IntegrityAnalysis.FaceDetection, ReasonFaceDetection)
	if q := b.QualityAnalysis; q != nil {
		add(q.FaceSize, ReasonFaceSize)
		add(q.FaceOrientation, ReasonFaceOrientation)
		add(q.Sharpness, ReasonSharpness)
		add(q.Exposure, ReasonExposure)
	}
	if a := b.AuthenticityAnalysis; a != nil {
		add(a.SpoofedImageAnalysis, ReasonSpoofedImageAnalysis)
		add(a.LivenessCheck, ReasonLivenessCheck)
	}
	return r
}

// CheckAttentionReasons returns the reason codes of the analyses of a
// check's result that say attention.
func CheckAttentionReasons(r *CheckResult) []string {
	if r == nil {
		return nil
	}
	var codes []string
	b := r.Breakdown
	if b.FaceAuthentication != nil && b.FaceAuthentication.FacialSimilarity == OutcomeAttention {
		codes = append(codes, ReasonFaceAuthentication)
	}
	if b.PreviouslyEnrolledFace != nil && b.PreviouslyEnrolledFace.Outcome == OutcomeAttention {
		codes = append(codes, ReasonPreviouslyEnrolledFace)
	}
	if b.AgeEstimation != nil && b.AgeEstimation.AgeValidation == OutcomeAttention {
		codes = append(codes, ReasonAgeEstimation)
	}
	return codes
}

// Review states a review queue filter selects.
const (
	ReviewedNo   = ""    // items not yet reviewed (the queue's default)
	ReviewedYes  = "yes" // items already reviewed
	ReviewedBoth = "all" // both
)

// ReviewFilter narrows the review queue: paging and the creation time range
// (ListOptions; updated bounds are not used), the client, the outcome
// ("" is attention), a reason code (PhotoReasons for photos, CheckReasons
// for checks) and the review state (ReviewedNo unless set). Redacted
// photos are never in the queue.
type ReviewFilter struct {
	ListOptions
	ClientID string
	Outcome  string
	Reason   string
	Reviewed string
}

// ReviewStore is what the review queue needs of the record store. Like
// every store method it acts within one Scope, and sees nothing of deleted
// clients.
type ReviewStore interface {
	// ReviewPhotos lists the live photos of s matching f that are not
	// redacted, newest first, in chunks (see ListOptions), and their total
	// (-1 when f.After is set).
	ReviewPhotos(ctx context.Context, s Scope, f ReviewFilter) ([]*LivePhoto, int, error)
	// ReviewChecks lists the complete checks of s matching f, as
	// ReviewPhotos lists photos.
	ReviewChecks(ctx context.Context, s Scope, f ReviewFilter) ([]*Check, int, error)
	// MarkPhotoReviewed stores r on the live photo id of s, replacing any
	// review it had, and returns the record. ErrNotFound if there is none.
	MarkPhotoReviewed(ctx context.Context, s Scope, id string, r Review) (*LivePhoto, error)
	// MarkCheckReviewed stores r on the check id of s. ErrNotFound if
	// there is none.
	MarkCheckReviewed(ctx context.Context, s Scope, id string, r Review) (*Check, error)
	// UnsummarizedLivePhotos returns up to n live photos, in any scope, in
	// ID order after the ID after, that have a liveness check but no
	// LivenessOutcome: photos stored before the review queue existed,
	// whose checks are sealed. Redacted photos and photos of deleted
	// clients are left out.
	UnsummarizedLivePhotos(ctx context.Context, after string, n int) ([]*LivePhoto, error)
	// SetLivenessSummary records the outcome and reason codes of the
	// liveness check of the photo id, in any scope, unless it has one
	// already or is redacted meanwhile.
	SetLivenessSummary(ctx context.Context, id, outcome string, reasons []string) error
}

// ReasonsColumn is how record stores keep reason codes: space-separated,
// with a space before and after, so that one code is matched by
// ReasonPattern; "" for none.
func ReasonsColumn(codes []string) string {
	if len(codes) == 0 {
		return ""
	}
	return " " + strings.Join(codes, " ") + " "
}

// ParseReasonsColumn returns the codes ReasonsColumn encoded.
func ParseReasonsColumn(s string) []string {
	if strings.TrimSpace(s) == "" {
		return nil
	}
	return strings.Fields(s)
}

// ReasonPattern is the LIKE pattern that matches a reasons column holding
// code; code must be one of PhotoReasons or CheckReasons (no wildcards).
func ReasonPattern(code string) string { return "% " + code + " %" }

// checkReviewFilter validates f for a queue whose reason codes are
// reasons, and returns f with its defaults: EInvalid with the param named
// as the console's form names it.
func checkReviewFilter(f ReviewFilter, reasons []string) (ReviewFilter, error) {
	if f.Outcome == "" {
		f.Outcome = OutcomeAttention
	}
	if f.Outcome != OutcomeAttention && f.Outcome != OutcomeClear {
		return f, Invalid("outcome", "Invalid outcome '%s': use attention or clear", Clip(f.Outcome))
	}
	if f.Reason != "" && !slices.Contains(reasons, f.Reason) {
		return f, Invalid("reason", "Invalid reason '%s'", Clip(f.Reason))
	}
	switch f.Reviewed {
	case ReviewedNo, ReviewedYes, ReviewedBoth:
	default:
		return f, Invalid("reviewed", "Invalid review state '%s': use yes or all", Clip(f.Reviewed))
	}
	if f.ClientID != "" && !ValidID(f.ClientID) {
		f.Impossible = true
	}
	f.UpdatedAfter, f.UpdatedBefore = time.Time{}, time.Time{}
	return f, nil
}

// ReviewPhotos returns one page of the scope's review queue of live
// photos: those whose liveness outcome is f.Outcome (attention unless
// set), not redacted, matching f, newest first (see Paged). EInvalid for a
// malformed filter.
func (v *Vault) ReviewPhotos(ctx context.Context, s Scope, f ReviewFilter) (int, iter.Seq2[*LivePhoto, error], error) {
	f, err := checkReviewFilter(f, PhotoReasons)
	if err != nil {
		return 0, nil, err
	}
	return Paged(f.ListOptions, ListChunk, func(o ListOptions) ([]*LivePhoto, int, error) {
		f.ListOptions = o
		photos, total, err := v.Store.ReviewPhotos(ctx, s, f)
		if err == nil {
			err = v.openLiveness(ctx, photos...)
		}
		return photos, total, err
	}, func(p *LivePhoto) Cursor { return Cursor{p.CreatedAt, p.ID} })
}

// ReviewChecks returns one page of the scope's review queue of checks:
// complete checks whose outcome is f.Outcome, matching f, newest first.
func (v *Vault) ReviewChecks(ctx context.Context, s Scope, f ReviewFilter) (int, iter.Seq2[*Check, error], error) {
	f, err := checkReviewFilter(f, CheckReasons)
	if err != nil {
		return 0, nil, err
	}
	names := map[string]string{}
	return Paged(f.ListOptions, ListChunk, func(o ListOptions) ([]*Check, int, error) {
		f.ListOptions = o
		cs, n, err := v.Store.ReviewChecks(ctx, s, f)
		if err != nil {
			return nil, 0, err
		}
		if err := v.nameChecks(ctx, s, names, cs...); err != nil {
			return nil, 0, err
		}
		return cs, n, nil
	}, func(c *Check) Cursor { return Cursor{c.CreatedAt, c.ID} })
}

// newReview validates a reviewer's name and note and returns the review,
// made now.
func (v *Vault) newReview(reviewer, note string) (Review, error) {
	note = strings.TrimSpace(note)
	switch {
	case reviewer == "" || AuditText(reviewer) != reviewer || len(reviewer) > MaxReviewer:
		return Review{}, Invalid("reviewer", "A review needs the reviewer's name (valid text of at most %d bytes)", MaxReviewer)
	case !utf8.ValidString(note) || strings.ContainsRune(note, 0):
		return Review{}, Invalid("note", "The note must be valid text")
	case len(note) > MaxReviewNote:
		return Review{}, Invalid("note", "The note is %d bytes long; at most %d are kept", len(note), MaxReviewNote)
	}
	return Review{ReviewedAt: v.Now(), Reviewer: reviewer, Note: note}, nil
}

// MarkPhotoReviewed marks a live photo of the scope reviewed by reviewer,
// with a note (at most MaxReviewNote bytes, trimmed): it leaves the review
// queue. Marking it again replaces the review. ENotFound for a photo that
// is not the scope's, EInvalid for a note too long.
func (v *Vault) MarkPhotoReviewed(ctx context.Context, s Scope, id, reviewer, note string) (*LivePhoto, error) {
	if !ValidID(id) {
		return nil, ErrLivePhotoNotFound(id)
	}
	r, err := v.newReview(reviewer, note)
	if err != nil {
		return nil, err
	}
	p, err := v.Store.MarkPhotoReviewed(ctx, s, id, r)
	if errors.Is(err, ErrNotFound) {
		return nil, ErrLivePhotoNotFound(id)
	}
	if err != nil {
		return nil, fmt.Errorf("mark live photo reviewed: %w", err)
	}
	if err := v.openLiveness(ctx, p); err != nil {
		return nil, err
	}
	return p, nil
}

// MarkCheckReviewed marks a check of the scope reviewed, as
// MarkPhotoReviewed marks a photo.
func (v *Vault) MarkCheckReviewed(ctx context.Context, s Scope, id, reviewer, note string) (*Check, error) {
	notFound := Errorf(ENotFound, "Invalid check id '%s'", Clip(id))
	if !ValidID(id) {
		return nil, notFound
	}
	r, err := v.newReview(reviewer, note)
	if err != nil {
		return nil, err
	}
	c, err := v.Store.MarkCheckReviewed(ctx, s, id, r)
	if errors.Is(err, ErrNotFound) {
		return nil, notFound
	}
	if err != nil {
		return nil, fmt.Errorf("mark check reviewed: %w", err)
	}
	if err := v.nameChecks(ctx, s, map[string]string{}, c); err != nil {
		return nil, err
	}
	return c, nil
}

// summarizeBatch is how many photos SummarizeLiveness reads at once.
const summarizeBatch = 200

// SummarizeLiveness gives the review queue the photos stored before it
// existed: those whose liveness check was sealed at rest, which a record
// store cannot read. It opens each one's check with its key and records its
// outcome and reason codes (see LivePhoto.LivenessOutcome), a batch at a
// time, and returns how many it recorded. A photo whose key is gone is
// left as it is. Serve runs it once at start; running it again, or on
// several nodes at once, records nothing twice.
func (v *Vault) SummarizeLiveness(ctx context.Context) (int, error) {
	done := 0
	for after := ""; ; {
		photos, err := v.Store.UnsummarizedLivePhotos(ctx, after, summarizeBatch)
		if err != nil {
			return done, fmt.Errorf("summarize liveness checks: %w", err)
		}
		if len(photos) == 0 {
			return done, nil
		}
		after = photos[len(photos)-1].ID
		if err := v.openLiveness(ctx, photos...); err != nil {
			return done, fmt.Errorf("summarize liveness checks: %w", err)
		}
		for _, p := range photos {
			if p.LivenessCheck == nil || p.LivenessCheck.Outcome == "" {
				continue
			}
			if err := v.Store.SetLivenessSummary(ctx, p.ID, p.LivenessCheck.Outcome, LivenessReasons(p.LivenessCheck)); err != nil {
				return done, fmt.Errorf("summarize liveness checks: %w", err)
			}
			done++
		}
	}
}
