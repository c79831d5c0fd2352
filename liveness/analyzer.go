// Package liveness runs FaceVault's liveness check on a live photo, in pure
// Go and with everything it needs embedded: it decodes the JPEG or PNG,
// turns it upright by its EXIF orientation, finds faces with the pigo
// cascade detector, measures the largest face (size, pupils and roll,
// sharpness, exposure), and scores it with two small anti-spoofing models
// (package spoof). The result is a facevault.LivenessCheck whose analyses
// are each clear or attention, against the thresholds in Config.
//
// See README.md for what the check can and cannot catch.
package liveness

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"image"
	"io"
	"math"
	"time"

	"github.com/facevault/facevault"
	"github.com/facevault/facevault/internal/imgdecode"
	"github.com/facevault/facevault/liveness/spoof"
)

// Analyzer runs the liveness check. It implements facevault.Analyzer and
// is safe for concurrent use: after New it holds only read-only state and
// the memory budget that concurrent analyses share.
type Analyzer struct {
	cfg       Config
	det       *detector
	antispoof *spoof.Model
	live      *spoof.Model
	engine    string
	budget    *budget
}

var _ facevault.Analyzer = (*Analyzer)(nil)

// New returns an Analyzer with the given settings (start from
// DefaultConfig). It unpacks the embedded detector cascades and loads both
// embedded models, so it is best called once and the Analyzer shared.
func New(cfg Config) (*Analyzer, error) {
	if err := cfg.validate(); err != nil {
		return nil, fmt.Errorf("liveness: invalid config: %w", err)
	}
	det, err := newDetector()
	if err != nil {
		return nil, fmt.Errorf("liveness: %w", err)
	}
	as, err := spoof.LoadAntispoof()
	if err != nil {
		return nil, fmt.Errorf("liveness: load antispoof model: %w", err)
	}
	lv, err := spoof.LoadLiveness()
	if err != nil {
		return nil, fmt.Errorf("liveness: load liveness model: %w", err)
	}
	return &Analyzer{
		cfg:       cfg,
		det:       det,
		antispoof: as,
		live:      lv,
		budget:    newBudget(cfg.MemoryBudget),
		engine:    fmt.Sprintf("pigo %s (facefinder, puploc); antispoof %s; liveness %s", pigoVersion, as.Name(), lv.Name()),
	}, nil
}

// Engine names the detector and models, with versions, as it appears in
// each result.
func (a *Analyzer) Engine() string { return a.engine }

// Analyze reads a JPEG or PNG image from img and runs the liveness check on
// it. An image that cannot be decoded (or exceeds the bounds in Config)
// gives a result with imageReadable false and outcome attention, not an
// error: Analyze fails only when reading img fails, ctx is done, a model
// fails internally, or the image needs more memory than the whole
// MemoryBudget (ErrOverBudget, impossible with the default budget).
//
// Before decoding, Analyze reserves from the Analyzer's MemoryBudget what
// the analysis will allocate, computed from the image header (see
// reservation), and holds it until the analysis ends; while the budget is
// spent by other analyses it waits, first come first served, or until ctx
// is done. The image bytes themselves (at most MaxBytes) are read before
// the reservation and are not part of it.
func (a *Analyzer) Analyze(ctx context.Context, img io.Reader) (*facevault.LivenessCheck, error) {
	return a.analyze(ctx, img, nil)
}

// stageTimes records how long each stage of one Analyze call took: decode
// is reading, the header, the wait for memory and decoding to the working
// size; orientScale is turning the working image upright and taking its
// grey plane.
type stageTimes struct {
	decode, orientScale, detect, measure, models time.Duration
}

// analyze is Analyze, recording stage times in tm when it is not nil.
func (a *Analyzer) analyze(ctx context.Context, r io.Reader, tm *stageTimes) (*facevault.LivenessCheck, error) {
	cfg := &a.cfg
	lap := stopwatch(tm != nil)

	// Stage 1 begins: read.
	data, err := readAll(r, cfg.MaxBytes+1)
	if err != nil {
		return nil, fmt.Errorf("liveness: read image: %w", err)
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("liveness: %w", err)
	}
	if int64(len(data)) > cfg.MaxBytes {
		return a.unreadable(), nil
	}
	return a.analyzeData(ctx, data, tm, lap)
}

// analyzeData is analyze once the image bytes are read.
func (a *Analyzer) analyzeData(ctx context.Context, data []byte, tm *stageTimes, lap func() time.Duration) (*facevault.LivenessCheck, error) {
	cfg := &a.cfg
	p, err := probeImage(data, cfg)
	if errors.Is(err, errUnreadable) {
		return a.unreadable(), nil
	} else if err != nil {
		return nil, fmt.Errorf("liveness: decode: %w", err)
	}
	fullW, fullH := p.hdr.Width, p.hdr.Height
	ww, wh := workingSize(fullW, fullH, cfg.WorkingSize)
	need := a.reservation(p.hdr, ww, wh)
	if need > cfg.MemoryBudget {
		return nil, fmt.Errorf("liveness: %w: a %d×%d %v needs %d bytes, the budget is %d",
			ErrOverBudget, fullW, fullH, p.hdr.Format, need, cfg.MemoryBudget)
	}
	if err := a.budget.acquire(ctx, need); err != nil {
		return nil, fmt.Errorf("liveness: waiting for memory: %w", err)
	}
	defer a.budget.release(need)

	// Stage 1: decode straight to the working size.
	img, err := decodeWorking(data, ww, wh)
	if tm != nil {
		tm.decode = lap()
	}
	if err != nil {
		return a.unreadable(), nil
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("liveness: %w", err)
	}

	// Stage 2: turn upright.
	work := orient(img, p.orientation)
	img = nil
	if p.orientation >= orientTranspose {
		fullW, fullH = fullH, fullW
	}
	uw, uh := work.Rect.Dx(), work.Rect.Dy()
	g := gray{pix: grayOf(work), w: uw, h: uh}
	if tm != nil {
		tm.orientScale = lap()
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("liveness: %w", err)
	}

	// Stage 3: detect faces.
	faces := a.det.faces(g, cfg)
	if tm != nil {
		tm.detect = lap()
	}
	res := &facevault.LivenessCheck{Engine: a.engine}
	integ := &res.Breakdown.IntegrityAnalysis
	integ.Breakdown = facevault.IntegrityBreakdown{FaceCount: len(faces), ImageReadable: true}
	integ.FaceDetection = verdict(len(faces) == 1)
	if len(faces) == 0 {
		res.Outcome = facevault.OutcomeAttention
		return res, nil
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("liveness: %w", err)
	}

	// Stage 4: measure the largest face.
	f := faces[0]
	sx := float64(fullW) / float64(uw)
	left, right, npupils := a.det.pupils(g, f)
	roll := 0.0
	if npupils == 2 {
		roll = rollDegrees(left, right)
	}
	mean, clipped := exposure(g, f, cfg.ClipLow, cfg.ClipHigh)
	qb := facevault.QualityBreakdown{
		FaceWidthPixels:   int(math.Round(float64(f.side) * sx)),
		FaceTouchesBorder: touchesBorder(f, uw, uh),
		PupilsFound:       npupils,
		RollDegrees:       round(roll, 1),
		SharpnessVariance: round(sharpness(g, f, cfg.SharpnessSide), 1),
		MeanLuminance:     round(mean, 1),
		ClippedShare:      round(clipped, 4),
		DetectionQuality:  round(f.q, 2),
		ImageWidthPixels:  fullW,
		ImageHeightPixels: fullH,
		ExifOrientation:   p.orientation,
	}
	qb.FaceShare = round(float64(f.side)/float64(min(uw, uh)), 3)
	res.Breakdown.QualityAnalysis = &facevault.QualityAnalysis{
		FaceSize:        verdict(qb.FaceShare >= cfg.MinFaceShare && !qb.FaceTouchesBorder),
		FaceOrientation: verdict(npupils == 2 && math.Abs(roll) <= cfg.MaxRollDegrees),
		Sharpness:       verdict(qb.SharpnessVariance >= cfg.MinSharpness),
		Exposure: verdict(qb.MeanLuminance >= cfg.MinLuminance && qb.MeanLuminance <= cfg.MaxLuminance &&
			qb.ClippedShare <= cfg.MaxClippedShare),
		Breakdown: qb,
	}
	if tm != nil {
		tm.measure = lap()
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("liveness: %w", err)
	}

	// Stage 5: the anti-spoofing models.
	box := spoofBox(f)
	as, err := a.antispoof.Score(work, box)
	if err != nil {
		return nil, fmt.Errorf("liveness: antispoof model: %w", err)
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("liveness: %w", err)
	}
	lv, err := a.live.Score(work, box)
	if err != nil {
		return nil, fmt.Errorf("liveness: liveness model: %w", err)
	}
	ab := facevault.AuthenticityBreakdown{AntispoofScore: score100(as), LivenessCheckScore: score100(lv)}
	res.Breakdown.AuthenticityAnalysis = &facevault.AuthenticityAnalysis{
		SpoofedImageAnalysis: verdict(ab.AntispoofScore >= cfg.MinAntispoofScore),
		LivenessCheck:        verdict(ab.LivenessCheckScore >= cfg.MinLivenessScore),
		Breakdown:            ab,
	}
	if tm != nil {
		tm.models = lap()
	}

	res.Outcome = facevault.OutcomeClear
	q, au := res.Breakdown.QualityAnalysis, res.Breakdown.AuthenticityAnalysis
	for _, v := range []string{integ.FaceDetection, q.FaceSize, q.FaceOrientation, q.Sharpness, q.Exposure,
		au.SpoofedImageAnalysis, au.LivenessCheck} {
		if v != facevault.OutcomeClear {
			res.Outcome = facevault.OutcomeAttention
		}
	}
	return res, nil
}

// readAll reads at most limit bytes from r, in one allocation when r tells
// its length (bytes.Reader, strings.Reader, bytes.Buffer).
func readAll(r io.Reader, limit int64) ([]byte, error) {
	size := int64(512 << 10)
	if l, ok := r.(interface{ Len() int }); ok {
		size = int64(l.Len()) + 1 // +1: reading on to EOF needs no growth
	}
	buf := bytes.NewBuffer(make([]byte, 0, min(size, limit)))
	_, err := buf.ReadFrom(io.LimitReader(r, limit))
	return buf.Bytes(), err
}

// unreadable is the result for an image whose pixels could not be decoded.
func (a *Analyzer) unreadable() *facevault.LivenessCheck {
	return &facevault.LivenessCheck{
		Outcome: facevault.OutcomeAttention,
		Breakdown: facevault.LivenessBreakdown{
			IntegrityAnalysis: facevault.IntegrityAnalysis{
				FaceDetection: facevault.OutcomeAttention,
				Breakdown:     facevault.IntegrityBreakdown{FaceCount: 0, ImageReadable: false},
			},
		},
		Engine: a.engine,
	}
}

// The spoof models expect the face crop Human makes: its BlazeFace box
// enlarged 1.4 times and squared (spoof.FaceBox). pigo's box is smaller and
// sits higher and a little to the left on the face, so it is mapped onto
// Human's crop by a scale and a shift, all fractions of pigo's box side.
// They were measured by running Human 3.3.6 (TensorFlow.js cpu backend,
// testdata/humanref) on both fixtures: its crop box is 1.335 and 1.355
// times pigo's side, centred 0.112 and 0.154 of a side lower and 0.043 and
// 0.033 to the right. TestSpoofBoxMatchesHuman checks the mapping.
const (
	cropScale  = 1.345
	cropShiftX = 0.038
	cropShiftY = 0.133
)

// spoofBox converts a detected face to the box the spoof models take: the
// square crop, in working-image pixels, that Human would cut for the same
// face. It may extend past the image; the models pad with zeros as Human
// does.
func spoofBox(f face) image.Rectangle {
	s := float64(f.side)
	side := cropScale * s
	cx, cy := float64(f.cx)+cropShiftX*s, float64(f.cy)+cropShiftY*s
	x0, y0 := int(math.Round(cx-side/2)), int(math.Round(cy-side/2))
	n := int(math.Round(side))
	return image.Rect(x0, y0, x0+n, y0+n)
}

// score100 maps a model score in [0, 1] to an integer in [0, 100].
func score100(s float32) int {
	if math.IsNaN(float64(s)) {
		return 0
	}
	return clampInt(int(math.Round(float64(s)*100)), 0, 100)
}

func verdict(ok bool) string {
	if ok {
		return facevault.OutcomeClear
	}
	return facevault.OutcomeAttention
}

func round(v float64, places int) float64 {
	p := math.Pow(10, float64(places))
	return math.Round(v*p) / p
}

// stopwatch returns a function that returns the time since it was last
// called (or since stopwatch); when on is false it returns 0 and reads no
// clock.
func stopwatch(on bool) func() time.Duration {
	if !on {
		return func() time.Duration { return 0 }
	}
	t := time.Now()
	return func() time.Duration {
		now := time.Now()
		d := now.Sub(t)
		t = now
		return d
	}
}

// analysisOverhead bounds what an analysis allocates besides the decode, the
// per-pixel buffers of the working image and the models' scratch buffers:
// the detector's and measures' buffers and the result. Measured at under
// 1 MB on the fixtures and worst cases (TestAnalyzeWithinReservation).
const analysisOverhead = 1 << 20

// reservation returns the bytes an analysis of an image with header hdr, at
// working size ww×wh, allocates at most: the decode (imgdecode's Cost, which
// includes the ww×wh RGBA image it returns), the upright copy of that image
// (4 bytes a pixel, made when the EXIF orientation turns it), the grey
// plane (1 byte a pixel), both models' scratch buffers (about 4 MB: each
// concurrent analysis needs its own) and analysisOverhead.
func (a *Analyzer) reservation(hdr imgdecode.Header, ww, wh int) int64 {
	return hdr.Cost(ww, wh) + 5*int64(ww)*int64(wh) + a.antispoof.ScratchBytes() + a.live.ScratchBytes() + analysisOverhead
}
