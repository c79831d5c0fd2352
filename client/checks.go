package client

import (
	"context"
	"iter"
	"net/url"
	"time"
)

// Check types, statuses and outcomes.
const (
	CheckFaceAuthentication = "face_authentication_check"
	CheckAgeEstimation      = "age_estimation_check"

	CheckPending  = "pending"
	CheckComplete = "complete"
	CheckFailed   = "failed"

	OutcomeClear     = "clear"
	OutcomeAttention = "attention"
)

// Check is a check (docs/contract.md, section 9). Checks run
// asynchronously: created pending, they end complete, with a Result, or
// failed.
type Check struct {
	ID       string `json:"id"`
	ClientID string `json:"clientId"`
	// EntityName is the client's name as it is when the check is read.
	EntityName  string `json:"entityName,omitempty"`
	Type        string `json:"type"`
	LivePhotoID string `json:"livePhotoId,omitempty"`
	// Status is CheckPending, CheckComplete or CheckFailed.
	Status string `json:"status"`
	// Result is set once the check is complete.
	Result *CheckResult `json:"result,omitempty"`
	// Validation is a reviewer's validation (ValidateCheck), if any.
	Validation *CheckValidation `json:"validation,omitempty"`
	CreatedAt  time.Time        `json:"createdAt"`
	UpdatedAt  time.Time        `json:"updatedAt"`
}

// CheckResult is a complete check's result.
type CheckResult struct {
	// Outcome is OutcomeClear or OutcomeAttention.
	Outcome   string         `json:"outcome"`
	Breakdown CheckBreakdown `json:"breakdown"`
}

// CheckBreakdown holds the analyses of a check; those its type does not
// run are nil.
type CheckBreakdown struct {
	FaceAuthentication     *FaceAuthentication     `json:"faceAuthentication,omitempty"`
	PreviouslyEnrolledFace *PreviouslyEnrolledFace `json:"previouslyEnrolledFace,omitempty"`
	AgeEstimation          *AgeEstimationAnalysis  `json:"ageEstimationAnalysis,omitempty"`
}

// FaceAuthentication answers whether the photo's face is that of the
// client's enrolled faces.
type FaceAuthentication struct {
	FacialSimilarity string                      `json:"facialSimilarity"`
	Breakdown        FaceAuthenticationBreakdown `json:"breakdown"`
}

// FaceAuthenticationBreakdown names the enrolled faces compared and those
// that matched, best first.
type FaceAuthenticationBreakdown struct {
	FacesMatched  []FaceMatch   `json:"facesMatched"`
	EnrolledFaces EnrolledFaces `json:"enrolledFaces"`
}

// FaceMatch is an enrolled face that matched, with its score (0–100).
type FaceMatch struct {
	LivePhotoID           string `json:"livePhotoId"`
	FacialSimilarityScore int    `json:"facialSimilarityScore"`
}

// EnrolledFaces lists the live photos compared with.
type EnrolledFaces struct {
	LivePhotoIDs []string `json:"livePhotoIds"`
}

// PreviouslyEnrolledFace says whether the face is enrolled under other
// clients of the same account and mode.
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

// AgeEstimationAnalysis is the analysis of an age estimation check:
// AgeValidation is OutcomeClear when the estimated age is at least the
// minimum age.
type AgeEstimationAnalysis struct {
	AgeValidation string       `json:"ageValidation"`
	Breakdown     AgeBreakdown `json:"breakdown"`
}

// AgeBreakdown is an age estimate in whole years, its range, and the
// minimum age validated against.
type AgeBreakdown struct {
	Age        int `json:"age"`
	AgeMin     int `json:"ageMin"`
	AgeMax     int `json:"ageMax"`
	MinimumAge int `json:"minimumAge"`
}

// CheckValidation is a reviewer's validation of a check's outcome.
type CheckValidation struct {
	Outcome     string    `json:"outcome"`
	Comment     string    `json:"comment,omitempty"`
	ValidatedAt time.Time `json:"validatedAt,omitzero"`
}

// CheckParams is a check to create: all three fields are required.
type CheckParams struct {
	ClientID    string `json:"clientId,omitempty"`
	Type        string `json:"type,omitempty"`
	LivePhotoID string `json:"livePhotoId,omitempty"`
}

// CheckFilter selects the checks of a list; each non-empty field must
// equal the check's.
type CheckFilter struct {
	ListOptions
	ClientID string
	Type     string
	Status   string
}

func (f *CheckFilter) values() url.Values {
	if f == nil {
		return url.Values{}
	}
	q := f.ListOptions.values()
	setIf(q, "clientId", f.ClientID)
	setIf(q, "type", f.Type)
	setIf(q, "status", f.Status)
	return q
}

// CreateCheck starts a check and returns it, pending. Errors carry Param:
// 400 for a missing field or unknown type, 404 for an unknown client or
// photo, 422 for a photo the check cannot use (TypeLivePhotoRedacted,
// TypeNoFaceDetected, TypeFaceDataUnavailable, …) or a type the service
// does not run (TypeCheckTypeUnavailable).
func (c *Client) CreateCheck(ctx context.Context, p *CheckParams, opts ...CallOption) (*Check, error) {
	var out Check
	if err := c.postJSON(ctx, "/checks", p, &out, opts); err != nil {
		return nil, err
	}
	return &out, nil
}

// GetCheck returns a check, or a 404 *Error.
func (c *Client) GetCheck(ctx context.Context, id string) (*Check, error) {
	var out Check
	if err := c.getJSON(ctx, "/checks/"+pathEscape(id), nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// UpdateCheck sends an update of a check. A face authentication check has
// nothing to change: each field p sets must equal the check's (else 400
// with Param), and the check is returned unchanged.
func (c *Client) UpdateCheck(ctx context.Context, id string, p *CheckParams, opts ...CallOption) (*Check, error) {
	if p == nil {
		p = &CheckParams{}
	}
	var out Check
	if err := c.postJSON(ctx, "/checks/"+pathEscape(id), p, &out, opts); err != nil {
		return nil, err
	}
	return &out, nil
}

// ValidateCheck records a reviewer's outcome (OutcomeClear or
// OutcomeAttention) and comment on a complete check (422
// TypeCheckNotComplete before), replacing any earlier validation, and
// returns the validation as recorded.
func (c *Client) ValidateCheck(ctx context.Context, id, outcome, comment string, opts ...CallOption) (*CheckValidation, error) {
	var out CheckValidation
	in := struct {
		Outcome string `json:"outcome"`
		Comment string `json:"comment,omitempty"`
	}{outcome, comment}
	if err := c.postJSON(ctx, "/checks/"+pathEscape(id)+"/validate", in, &out, opts); err != nil {
		return nil, err
	}
	return &out, nil
}

// ListChecks returns one page of the checks f selects (nil: all), newest
// first.
func (c *Client) ListChecks(ctx context.Context, f *CheckFilter) (*Page[Check], error) {
	return listPage[Check](ctx, c, "/checks", f.values())
}

// Checks yields every check f selects (nil: all), newest first, fetching
// pages as the loop reaches them. A failure is yielded with a nil check and
// ends the sequence.
func (c *Client) Checks(ctx context.Context, f *CheckFilter) iter.Seq2[*Check, error] {
	var o ListOptions
	if f != nil {
		o = f.ListOptions
	}
	return all[Check](ctx, c, "/checks", f.values(), o.Page, o.PageSize)
}

// WaitCheck polls a check every interval (1s if 0) until it is no longer
// pending, and returns it; or ctx's error.
func (c *Client) WaitCheck(ctx context.Context, id string, interval time.Duration) (*Check, error) {
	if interval <= 0 {
		interval = time.Second
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		ch, err := c.GetCheck(ctx, id)
		if err != nil || ch.Status != CheckPending {
			return ch, err
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-t.C:
		}
	}
}
