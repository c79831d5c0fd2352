package facevault_test

import (
	"context"
	"log/slog"
	"slices"
	"strings"
	"testing"

	"github.com/facevault/facevault"
)

// TestLivenessReasons: the reason codes are the analyses that say
// attention, in breakdown order, and survive their column.
func TestLivenessReasons(t *testing.T) {
	att, ok := facevault.OutcomeAttention, facevault.OutcomeClear
	c := &facevault.LivenessCheck{Outcome: att, Breakdown: facevault.LivenessBreakdown{
		IntegrityAnalysis:    facevault.IntegrityAnalysis{FaceDetection: ok},
		QualityAnalysis:      &facevault.QualityAnalysis{FaceSize: att, FaceOrientation: ok, Sharpness: att, Exposure: ok},
		AuthenticityAnalysis: &facevault.AuthenticityAnalysis{SpoofedImageAnalysis: att, LivenessCheck: att},
	}}
	want := []string{facevault.ReasonFaceSize, facevault.ReasonSharpness, facevault.ReasonSpoofedImageAnalysis, facevault.ReasonLivenessCheck}
	got := facevault.LivenessReasons(c)
	if !slices.Equal(got, want) {
		t.Errorf("LivenessReasons = %q, want %q", got, want)
	}
	if back := facevault.ParseReasonsColumn(facevault.ReasonsColumn(got)); !slices.Equal(back, want) {
		t.Errorf("reasons through their column: %q", back)
	}
	if facevault.ReasonsColumn(nil) != "" || facevault.ParseReasonsColumn("") != nil || facevault.LivenessReasons(nil) != nil {
		t.Error("no reasons are not empty")
	}
	// An earlier result without quality and authenticity analyses.
	old := &facevault.LivenessCheck{Outcome: att, Breakdown: facevault.LivenessBreakdown{
		IntegrityAnalysis: facevault.IntegrityAnalysis{FaceDetection: att}}}
	if got := facevault.LivenessReasons(old); !slices.Equal(got, []string{facevault.ReasonFaceDetection}) {
		t.Errorf("LivenessReasons(earlier result) = %q", got)
	}
	r := &facevault.CheckResult{Outcome: att, Breakdown: facevault.CheckBreakdown{
		FaceAuthentication:     &facevault.FaceAuthentication{FacialSimilarity: att},
		PreviouslyEnrolledFace: &facevault.PreviouslyEnrolledFace{Outcome: ok},
		AgeEstimation:          &facevault.AgeEstimationAnalysis{AgeValidation: att},
	}}
	if got := facevault.CheckAttentionReasons(r); !slices.Equal(got, []string{facevault.ReasonFaceAuthentication, facevault.ReasonAgeEstimation}) {
		t.Errorf("CheckAttentionReasons = %q", got)
	}
}

// TestReviewErrors: a malformed queue filter or review is refused with
// EInvalid and the param at fault, before the store is asked.
func TestReviewErrors(t *testing.T) {
	v := facevault.NewVault(nil, nil, slog.New(slog.DiscardHandler))
	ctx, s := context.Background(), facevault.Scope{AccountID: "a", Mode: facevault.ModeTest}
	for _, tc := range []struct {
		name  string
		f     facevault.ReviewFilter
		param string
	}{
		{"Outcome", facevault.ReviewFilter{Outcome: "maybe"}, "outcome"},
		{"Reason", facevault.ReviewFilter{Reason: "vibes"}, "reason"},
		{"CheckReasonForPhotos", facevault.ReviewFilter{Reason: facevault.ReasonAgeEstimation}, "reason"},
		{"Reviewed", facevault.ReviewFilter{Reviewed: "no"}, "reviewed"},
	} {
		_, _, err := v.ReviewPhotos(ctx, s, tc.f)
		if e, ok := err.(*facevault.Error); !ok || e.Code != facevault.EInvalid || e.Param != tc.param {
			t.Errorf("%s: err = %v, want EInvalid with param %s", tc.name, err, tc.param)
		}
	}
	if _, _, err := v.ReviewChecks(ctx, s, facevault.ReviewFilter{Reason: facevault.ReasonSharpness}); facevault.ErrorCode(err) != facevault.EInvalid {
		t.Errorf("ReviewChecks with a photo reason: %v, want EInvalid", err)
	}
	id := facevault.NewID(v.Now())
	for _, tc := range []struct{ name, reviewer, note, param string }{
		{"NoReviewer", "", "fine", "reviewer"},
		{"LongNote", "Rita", strings.Repeat("é", facevault.MaxReviewNote/2+1), "note"},
		{"NUL", "Rita", "a\x00b", "note"},
		{"BadUTF8", "Rita", "a\xffb", "note"},
	} {
		_, err := v.MarkPhotoReviewed(ctx, s, id, tc.reviewer, tc.note)
		if e, ok := err.(*facevault.Error); !ok || e.Code != facevault.EInvalid || e.Param != tc.param {
			t.Errorf("%s: err = %v, want EInvalid with param %s", tc.name, err, tc.param)
		}
	}
	if _, err := v.MarkPhotoReviewed(ctx, s, "nope", "Rita", ""); facevault.ErrorCode(err) != facevault.ENotFound {
		t.Errorf("MarkPhotoReviewed(malformed id): %v, want ENotFound", err)
	}
}
