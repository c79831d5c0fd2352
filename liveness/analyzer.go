// Package liveness runs FaceVault's liveness check on a live photo, in pure
// Go and with everything it needs embedded: it decodes the JPEG or PNG
// straight to a working size within a memory budget, turns it upright by
// its EXIF orientation, finds faces and their landmarks with MediaPipe's
// BlazeFace detector, measures the largest face (size, eye line, sharpness,
// exposure), and scores it with a presentation-attack detection model. Both
// networks run on FaceVault's own ONNX executor (internal/onnx). The result
// is a facevault.LivenessCheck whose analyses are each clear or attention,
// against the thresholds in Config; the same bytes always give the same
// result.
//
// See README.md for what the check can and cannot catch.
package liveness

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"image"
	"io"
	"math"
	"slices"
	"time"

	"github.com/facevault/facevault"
	"github.com/facevault/facevault/internal/imgdecode"
)

// model is what the check needs of a neural network: one input tensor in,
// named output tensors out. Implementations are safe for concurrent use.
type model interface {
	// run runs the network on in (shape given) and returns its outputs'
	// values by name.
	run(ctx context.Context, in []float32, shape []int) (map[string][]float32, error)
	// scratchBytes is what one run allocates at most.
	scratchBytes() int64
}

// Analyzer runs the liveness check. It implements facevault.Analyzer and
// is safe for concurrent use: after New it holds only read-only state and
// the memory budget that concurrent analyses share.
type Analyzer struct {
	cfg    Config
	det    model
	pad    model
	padM   PADManifest
	engine string
	budget *budget
	embed  EmbedFunc // see SetEmbedder; nil computes no embedding
}

var _ facevault.Analyzer = (*Analyzer)(nil)

// New returns an Analyzer with the given settings (start from
// DefaultConfig), running the embedded detector and presentation-attack
// model. It loads and plans both networks, so it is best called once and
// the Analyzer shared.
func New(cfg Config) (*Analyzer, error) {
	det, err := loadEmbeddedDetector()
	if err != nil {
		return nil, fmt.Errorf("liveness: load the face detector: %w", err)
	}
	pad, err := loadEmbeddedPAD()
	if err != nil {
		return nil, fmt.Errorf("liveness: load the presentation-attack model: %w", err)
	}
	return newAnalyzer(cfg, det, pad, DefaultPADManifest())
}

// NewWithPAD is New with the operator's own presentation-attack model: an
// ONNX file and the manifest that says how to feed it (see PADManifest).
// The model is checked against the manifest before it is used: its input
// must take a 1×3×Size×Size (or NHWC) float tensor and its output must be
// the named one.
func NewWithPAD(cfg Config, onnxModel []byte, m PADManifest) (*Analyzer, error) {
	if err := m.validate(); err != nil {
		return nil, err
	}
	det, err := loadEmbeddedDetector()
	if err != nil {
		return nil, fmt.Errorf("liveness: load the face detector: %w", err)
	}
	pad, err := loadPAD(onnxModel, m)
	if err != nil {
		return nil, fmt.Errorf("liveness: load the presentation-attack model %q: %w", m.Name, err)
	}
	return newAnalyzer(cfg, det, pad, m)
}

func newAnalyzer(cfg Config, det, pad model, m PADManifest) (*Analyzer, error) {
	if err := cfg.validate(); err != nil {
		return nil, fmt.Errorf("liveness: invalid config: %w", err)
	}
	return &Analyzer{
		cfg:    cfg,
		det:    det,
		pad:    pad,
		padM:   m,
		budget: newBudget(cfg.MemoryBudget),
		engine: fmt.Sprintf("BlazeFace back 256x256 (%s); presentation attack %s", detectorOrigin, m.Name),
	}, nil
}

// Engine names the detector and models, with versions, as it appears in
// each result.
func (a *Analyzer) Engine() string { return a.engine }

// Config returns the settings the Analyzer runs with.
func (a *Analyzer) Config() Config { return a.cfg }

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
// size; orient is turning the working image upright and taking its grey
// plane; detect runs the face detector; measure takes the quality figures;
// pad runs the presentation-attack model.
type stageTimes struct {
	decode, orient, detect, measure, pad time.Duration
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
	ww, wh := imgdecode.FitWithin(fullW, fullH, cfg.WorkingSize)
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
		tm.orient = lap()
	}

	// Stage 3: detect faces.
	faces, err := a.detect(ctx, work)
	if err != nil {
		return nil, err
	}
	if tm != nil {
		tm.detect = lap()
	}
	res := a.noFace(true, len(faces))
	res.Breakdown.QualityAnalysis.Breakdown.ImageWidthPixels = fullW
	res.Breakdown.QualityAnalysis.Breakdown.ImageHeightPixels = fullH
	res.Breakdown.QualityAnalysis.Breakdown.ExifOrientation = p.orientation
	if len(faces) == 0 {
		return res, nil
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("liveness: %w", err)
	}

	// Stage 4: measure the largest face.
	f := faces[0]
	res.Breakdown.QualityAnalysis = a.quality(g, f, float64(fullW)/float64(uw), float64(fullH)/float64(uh), fullW, fullH, p.orientation)
	if tm != nil {
		tm.measure = lap()
	}

	// Stage 5: the presentation-attack model.
	live, err := a.liveness(ctx, work, f)
	if err != nil {
		return nil, err
	}
	score := int(math.Round(live * 100))
	ok := verdict(score >= cfg.MinLivenessScore)
	res.Breakdown.AuthenticityAnalysis = &facevault.AuthenticityAnalysis{
		SpoofedImageAnalysis: ok,
		LivenessCheck:        ok,
		Breakdown:            facevault.AuthenticityBreakdown{LivenessCheckScore: &score},
	}
	if tm != nil {
		tm.pad = lap()
	}

	// Stage 6: the face's embedding, for the checks that compare faces:
	// only of a photo with one face, which is whose face it is.
	if a.embed != nil && len(faces) == 1 {
		if res.Embedding, err = a.embed(ctx, work, faceOf(f)); err != nil {
			return nil, fmt.Errorf("liveness: face embedding: %w", err)
		}
	}

	res.Outcome = facevault.OutcomeClear
	q, au := res.Breakdown.QualityAnalysis, res.Breakdown.AuthenticityAnalysis
	for _, v := range []string{res.Breakdown.IntegrityAnalysis.FaceDetection, q.FaceSize, q.FaceOrientation, q.Sharpness, q.Exposure,
		au.SpoofedImageAnalysis, au.LivenessCheck} {
		if v != facevault.OutcomeClear {
			res.Outcome = facevault.OutcomeAttention
		}
	}
	return res, nil
}

// detect runs the face detector on the upright working image and returns
// the faces it finds, in working-image pixels, largest first.
func (a *Analyzer) detect(ctx context.Context, work *image.RGBA) ([]detection, error) {
	in := make([]float32, blazeSize*blazeSize*3)
	lb := blazeInput(work, in)
	out, err := a.det.run(ctx, in, []int{1, blazeSize, blazeSize, 3})
	if err != nil {
		return nil, fmt.Errorf("liveness: face detector: %w", err)
	}
	var scores, boxes [2][]float32
	for l, names := range detectorOutputs {
		scores[l], boxes[l] = out[names[0]], out[names[1]]
		want := blazeLayers[l].cells * blazeLayers[l].cells * blazeLayers[l].anchors
		if len(scores[l]) != want || len(boxes[l]) != want*16 {
			return nil, fmt.Errorf("liveness: face detector: outputs %s and %s hold %d and %d values, want %d and %d",
				names[0], names[1], len(scores[l]), len(boxes[l]), want, want*16)
		}
	}
	raw := blazeDecode(scores, boxes, a.cfg.MinDetectionScore)
	merged := weightedNMS(raw, a.cfg.NMSOverlap)
	faces := make([]detection, 0, len(merged))
	for _, d := range merged {
		faces = append(faces, lb.detection(d))
	}
	sortLargestFirst(faces)
	return faces, nil
}

// liveness runs the presentation-attack model on the face and returns its
// probability that the face is live.
func (a *Analyzer) liveness(ctx context.Context, work *image.RGBA, f detection) (float64, error) {
	m := &a.padM
	x0, y0, x1, y1 := f.rect()
	cx0, cy0, cx1, cy1 := padCrop(x0, y0, x1, y1, work.Rect.Dx(), work.Rect.Dy(), m.CropScale)

	in := make([]float32, 3*m.Size*m.Size)
	padInput(work, cx0, cy0, cx1, cy1, m, in)
	shape := []int{1, 3, m.Size, m.Size}
	if m.Layout == "NHWC" {
		shape = []int{1, m.Size, m.Size, 3}
	}
	out, err := a.pad.run(ctx, in, shape)
	if err != nil {
		return 0, fmt.Errorf("liveness: presentation-attack model: %w", err)
	}
	p, err := padLive(out[m.Output], m)
	if err != nil {
		return 0, fmt.Errorf("liveness: %w", err)
	}
	return p, nil
}

// quality measures the face f in the upright working image (grey plane g);
// sx and sy scale working-image pixels to the upright full-size image's.
func (a *Analyzer) quality(g gray, f detection, sx, sy float64, fullW, fullH, orientation int) *facevault.QualityAnalysis {
	cfg := &a.cfg
	side := max(f.w, f.h)
	eyes := 0
	for _, k := range []int{keyRightEye, keyLeftEye} {
		if p := f.keys[k]; p.x >= 0 && p.y >= 0 && p.x < float64(g.w) && p.y < float64(g.h) {
			eyes++
		}
	}
	roll := rollDegrees(f.keys[keyRightEye], f.keys[keyLeftEye])
	box := f.intRect()
	mean, clipped := exposure(g, box, cfg.ClipLow, cfg.ClipHigh)
	qb := facevault.QualityBreakdown{
		FaceWidthPixels:   int(math.Round(side * sx)),
		FaceShare:         round(side/float64(min(g.w, g.h)), 3),
		FaceTouchesBorder: touchesBorder(box, g.w, g.h),
		PupilsFound:       eyes,
		RollDegrees:       round(roll, 1),
		SharpnessVariance: round(sharpness(g, box, cfg.SharpnessSide), 1),
		MeanLuminance:     round(mean, 1),
		ClippedShare:      round(clipped, 4),
		DetectionQuality:  round(f.score, 3),
		ImageWidthPixels:  fullW,
		ImageHeightPixels: fullH,
		ExifOrientation:   orientation,
	}
	x0, y0, x1, y1 := f.rect()
	qb.FaceBox = &facevault.FaceBox{
		X: int(math.Round(x0 * sx)), Y: int(math.Round(y0 * sy)),
		Width: int(math.Round((x1 - x0) * sx)), Height: int(math.Round((y1 - y0) * sy)),
	}
	full := func(p point) facevault.Point {
		return facevault.Point{X: int(math.Round(p.x * sx)), Y: int(math.Round(p.y * sy))}
	}
	qb.Landmarks = &facevault.FaceLandmarks{
		RightEye: full(f.keys[keyRightEye]), LeftEye: full(f.keys[keyLeftEye]),
		Nose: full(f.keys[keyNose]), Mouth: full(f.keys[keyMouth]),
		RightEar: full(f.keys[keyRightEar]), LeftEar: full(f.keys[keyLeftEar]),
	}
	return &facevault.QualityAnalysis{
		FaceSize:        verdict(qb.FaceShare >= cfg.MinFaceShare && !qb.FaceTouchesBorder),
		FaceOrientation: verdict(eyes == 2 && math.Abs(qb.RollDegrees) <= cfg.MaxRollDegrees),
		Sharpness:       verdict(qb.SharpnessVariance >= cfg.MinSharpness),
		Exposure: verdict(qb.MeanLuminance >= cfg.MinLuminance && qb.MeanLuminance <= cfg.MaxLuminance &&
			qb.ClippedShare <= cfg.MaxClippedShare),
		Breakdown: qb,
	}
}

// rollDegrees is the angle of the line from the subject's right eye (on
// the left of the image) to their left eye: 0 when level, positive when
// the head tilts so that the left eye is lower.
func rollDegrees(right, left point) float64 {
	return math.Atan2(left.y-right.y, left.x-right.x) * 180 / math.Pi
}

// sortLargestFirst orders faces by box area, largest first, ties by score
// then position, so that the face measured is the same for the same input.
func sortLargestFirst(faces []detection) {
	slices.SortStableFunc(faces, func(a, b detection) int {
		if c := cmp.Compare(b.w*b.h, a.w*a.h); c != 0 {
			return c
		}
		if c := cmp.Compare(b.score, a.score); c != 0 {
			return c
		}
		if c := cmp.Compare(a.cy, b.cy); c != 0 {
			return c
		}
		return cmp.Compare(a.cx, b.cx)
	})
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
func (a *Analyzer) unreadable() *facevault.LivenessCheck { return a.noFace(false, 0) }

// noFace is the result before a face is measured: faces found (when the
// image was readable), and every analysis present, so that clients see one
// shape whatever the photo. Its quality and authenticity analyses say
// attention, with no figures and no score; analyzeData fills them in once
// a face is measured.
func (a *Analyzer) noFace(readable bool, faces int) *facevault.LivenessCheck {
	att := facevault.OutcomeAttention
	return &facevault.LivenessCheck{
		Outcome: att,
		Breakdown: facevault.LivenessBreakdown{
			IntegrityAnalysis: facevault.IntegrityAnalysis{
				FaceDetection: verdict(faces == 1),
				Breakdown:     facevault.IntegrityBreakdown{FaceCount: faces, ImageReadable: readable},
			},
			QualityAnalysis: &facevault.QualityAnalysis{FaceSize: att, FaceOrientation: att, Sharpness: att, Exposure: att},
			AuthenticityAnalysis: &facevault.AuthenticityAnalysis{
				SpoofedImageAnalysis: att,
				LivenessCheck:        att,
			},
		},
		Engine: a.engine,
	}
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
// per-pixel buffers of the working image, the networks' inputs and the
// networks' scratch buffers: the detector's decoded boxes, the measures'
// buffers and the result. Measured at under 1 MB on the fixtures and worst
// cases (TestAnalyzeWithinReservation).
const analysisOverhead = 1 << 20

// reservation returns the bytes an analysis of an image with header hdr, at
// working size ww×wh, allocates at most: the decode (imgdecode's Cost, which
// includes the ww×wh RGBA image it returns), the upright copy of that image
// (4 bytes a pixel, made when the EXIF orientation turns it), the grey
// plane (1 byte a pixel), the detector's input (its letterboxed image and
// the scaled copy made for it) and the presentation-attack model's, both
// networks' scratch buffers (each concurrent analysis needs its own) and
// analysisOverhead.
func (a *Analyzer) reservation(hdr imgdecode.Header, ww, wh int) int64 {
	inputs := int64(blazeSize*blazeSize*3)*(4+1) + int64(3*a.padM.Size*a.padM.Size)*4
	return hdr.Cost(ww, wh) + 5*int64(ww)*int64(wh) + inputs + a.det.scratchBytes() + a.pad.scratchBytes() + analysisOverhead
}
