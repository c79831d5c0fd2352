package console

import (
	"fmt"
	"math"

	"github.com/facevault/facevault"
	"github.com/facevault/facevault/liveness"
)

// Finding is one figure of a liveness check or check result, said in words
// a reviewer understands: which analysis, whether it passed, and what was
// measured against what.
type Finding struct {
	Analysis  string // "Face detection", "Sharpness", ...
	Attention bool   // the analysis says attention
	Text      string
}

// reasonLabels are the reason codes of the queue in words.
var reasonLabels = map[string]string{
	facevault.ReasonFaceDetection:          "Face detection (no face, several faces, or unreadable)",
	facevault.ReasonFaceSize:               "Face size (too small or cut off)",
	facevault.ReasonFaceOrientation:        "Face orientation (eyes not found, or head tilted)",
	facevault.ReasonSharpness:              "Sharpness (blurred)",
	facevault.ReasonExposure:               "Exposure (too dark, too bright or clipped)",
	facevault.ReasonSpoofedImageAnalysis:   "Spoofed image (print, screen or mask likely)",
	facevault.ReasonLivenessCheck:          "Liveness (not a live person)",
	facevault.ReasonFaceAuthentication:     "Face authentication (no enrolled face matched)",
	facevault.ReasonPreviouslyEnrolledFace: "Previously enrolled face (matches another client)",
	facevault.ReasonAgeEstimation:          "Age estimation (under the minimum age)",
}

// reasonLabel is a reason code in words.
func reasonLabel(code string) string {
	if l, ok := reasonLabels[code]; ok {
		return l
	}
	return code
}

func pct(share float64) string { return fmt.Sprintf("%.0f%%", 100*share) }

func verdictIs(v string) bool { return v == facevault.OutcomeAttention }

// explainLiveness says every figure of a liveness check in words, with the
// thresholds of cfg (the ones serve runs the check with).
func explainLiveness(lc *facevault.LivenessCheck, cfg liveness.Config) []Finding {
	if lc == nil {
		return nil
	}
	var out []Finding
	add := func(analysis, verdict, format string, args ...any) {
		out = append(out, Finding{Analysis: analysis, Attention: verdictIs(verdict), Text: fmt.Sprintf(format, args...)})
	}
	in := lc.Breakdown.IntegrityAnalysis
	switch ib := in.Breakdown; {
	case !ib.ImageReadable:
		add("Face detection", in.FaceDetection, "The image's pixels could not be decoded, so no face could be looked for.")
	case ib.FaceCount == 0:
		add("Face detection", in.FaceDetection, "No face was found in the photo; exactly one is needed.")
	case ib.FaceCount == 1:
		add("Face detection", in.FaceDetection, "Exactly one face was found, as needed.")
	default:
		add("Face detection", in.FaceDetection, "%d faces were found; exactly one is needed. The figures below are of the largest.", ib.FaceCount)
	}
	if q := lc.Breakdown.QualityAnalysis; q != nil {
		b := q.Breakdown
		if b.FaceBox == nil && b.FaceWidthPixels == 0 {
			add("Face quality", facevault.OutcomeAttention, "No face was measured: size, orientation, sharpness and exposure could not be judged.")
		} else {
			add("Detection confidence", "", "Face detected with %s confidence (the detector counts a face from %s).",
				pct(b.DetectionQuality), pct(cfg.MinDetectionScore))
			add("Face size", q.FaceSize, "The face is %d px wide in a %d×%d image: %s of its shorter side (at least %s is needed).",
				b.FaceWidthPixels, b.ImageWidthPixels, b.ImageHeightPixels, pct(b.FaceShare), pct(cfg.MinFaceShare))
			if b.FaceTouchesBorder {
				add("Face size", q.FaceSize, "The face reaches the edge of the image: part of it is cut off.")
			}
			add("Face orientation", q.FaceOrientation, "%d of 2 eyes found inside the image.", b.PupilsFound)
			add("Face orientation", q.FaceOrientation, "The head is tilted %.1f° %s (at most %.0f° either way is accepted).",
				math.Abs(b.RollDegrees), tiltSide(b.RollDegrees), cfg.MaxRollDegrees)
			add("Sharpness", q.Sharpness, "Sharpness %.0f (at least %.0f is sharp enough; lower means blurred).",
				b.SharpnessVariance, cfg.MinSharpness)
			add("Exposure", q.Exposure, "Mean brightness of the face %.0f of 255 (%.0f to %.0f is well exposed).",
				b.MeanLuminance, cfg.MinLuminance, cfg.MaxLuminance)
			add("Exposure", q.Exposure, "%s of the face's pixels are burnt out or black (at most %s is accepted).",
				pctFine(b.ClippedShare), pct(cfg.MaxClippedShare))
		}
		if b.ExifOrientation > 1 {
			add("Image", "", "The camera stored the image turned (EXIF orientation %d); it is shown and measured upright.", b.ExifOrientation)
		}
	}
	if a := lc.Breakdown.AuthenticityAnalysis; a != nil {
		if s := a.Breakdown.LivenessCheckScore; s != nil {
			add("Liveness", a.LivenessCheck, "Liveness score %d of 100: the anti-spoofing model's probability that this is a live person rather than a print, a screen or a mask. %d or more passes.",
				*s, cfg.MinLivenessScore)
			if *s < cfg.MinLivenessScore {
				add("Spoofed image", a.SpoofedImageAnalysis, "Below %d: the anti-spoofing model takes the photo for a print, a screen or a mask; it can be wrong either way, so look at the photo.", cfg.MinLivenessScore)
			} else {
				add("Spoofed image", a.SpoofedImageAnalysis, "The anti-spoofing model did not flag a print, a screen or a mask (the same score decides; it was developed on few attacks and can miss one, so look at the photo).")
			}
		} else {
			add("Liveness", a.LivenessCheck, "No liveness score: without a measured face the anti-spoofing model did not run.")
		}
	}
	return out
}

// tiltSide says which way a roll angle leans, as the subject sees it.
func tiltSide(deg float64) string {
	switch {
	case deg > 0:
		return "towards the subject's left"
	case deg < 0:
		return "towards the subject's right"
	}
	return "(level)"
}

// pctFine is a share as a percentage with one decimal under 10%.
func pctFine(share float64) string {
	if share < 0.1 {
		return fmt.Sprintf("%.1f%%", 100*share)
	}
	return pct(share)
}

// explainCheck says a check's result in words.
func explainCheck(c *facevault.Check) []Finding {
	if c.Result == nil {
		return nil
	}
	var out []Finding
	b := c.Result.Breakdown
	if fa := b.FaceAuthentication; fa != nil {
		n := len(fa.Breakdown.EnrolledFaces.LivePhotoIDs)
		if len(fa.Breakdown.FacesMatched) == 0 {
			out = append(out, Finding{"Face authentication", verdictIs(fa.FacialSimilarity),
				fmt.Sprintf("The face matched none of the client's %d enrolled faces (a match needs a similarity of %d or more).", n, facevault.FaceMatchThreshold)})
		}
		for _, m := range fa.Breakdown.FacesMatched {
			out = append(out, Finding{"Face authentication", verdictIs(fa.FacialSimilarity),
				fmt.Sprintf("Matched enrolled photo %s with similarity %d of 100 (%d or more is a match).", m.LivePhotoID, m.FacialSimilarityScore, facevault.FaceMatchThreshold)})
		}
	}
	if pe := b.PreviouslyEnrolledFace; pe != nil {
		if len(pe.Matches) == 0 {
			out = append(out, Finding{"Previously enrolled face", verdictIs(pe.Outcome), "The face matches no other client's enrolled face."})
		}
		for _, m := range pe.Matches {
			out = append(out, Finding{"Previously enrolled face", verdictIs(pe.Outcome),
				fmt.Sprintf("The face matches client %s's photo %s with similarity %d of 100 (%d or more is a match).", m.ClientID, m.LivePhotoID, m.Score, facevault.PreviouslyEnrolledThreshold)})
		}
	}
	if ae := b.AgeEstimation; ae != nil {
		br := ae.Breakdown
		out = append(out, Finding{"Age estimation", verdictIs(ae.AgeValidation),
			fmt.Sprintf("Estimated age %d (between %d and %d); the minimum age is %d.", br.Age, br.AgeMin, br.AgeMax, br.MinimumAge)})
	}
	return out
}
