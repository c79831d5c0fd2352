package facevault_test

import (
	"testing"

	"github.com/facevault/facevault"
)

// TestRefusal checks the live-mode refusal for each finding of the check:
// unreadable pixels first, then no face, then several; one face is
// accepted whatever the other analyses say.
func TestRefusal(t *testing.T) {
	for _, tc := range []struct {
		name     string
		faces    int
		readable bool
		want     string // error code, "" when accepted
	}{
		{"OK/OneFace", 1, true, ""},
		{"ErrNoFace", 0, true, facevault.ENoFace},
		{"ErrTwoFaces", 2, true, facevault.EMultipleFaces},
		{"ErrManyFaces", 7, true, facevault.EMultipleFaces},
		{"ErrUnreadable", 0, false, facevault.EUnreadable},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := &facevault.LivenessCheck{Outcome: facevault.OutcomeAttention}
			c.Breakdown.IntegrityAnalysis.Breakdown = facevault.IntegrityBreakdown{FaceCount: tc.faces, ImageReadable: tc.readable}
			err := facevault.Refusal(c)
			if tc.want == "" {
				if err != nil {
					t.Errorf("got %v, want accepted", err)
				}
				return
			}
			if got := facevault.ErrorCode(err); got != tc.want {
				t.Errorf("code %q (%v), want %q", got, err, tc.want)
			}
		})
	}
}
