package liveness

import (
	_ "embed"
	"fmt"
	"math"
	"sort"

	pigo "github.com/esimov/pigo/core"
)

// pigoVersion is the version of github.com/esimov/pigo in go.mod, whose
// core package and cascade files (cascade/) the detector uses. A test keeps
// the two in step.
const pigoVersion = "v1.4.6"

// The pigo cascades, copied from the pigo module (see cascade/README.md).
// Embedded as strings so that they cannot be modified.
var (
	//go:embed cascade/facefinder
	facefinderCascade string
	//go:embed cascade/puploc
	puplocCascade string
)

// detector finds faces and pupils. Its cascades are read-only after
// newDetector, and pigo's RunCascade, ClusterDetections and RunDetector
// keep their state per call (or in sync.Pools), so one detector serves
// concurrent calls.
type detector struct {
	face  *pigo.Pigo
	pupil *pigo.PuplocCascade
}

func newDetector() (*detector, error) {
	face, err := pigo.NewPigo().Unpack([]byte(facefinderCascade))
	if err != nil {
		return nil, fmt.Errorf("unpack pigo facefinder cascade: %w", err)
	}
	pupil, err := pigo.NewPuplocCascade().UnpackCascade([]byte(puplocCascade))
	if err != nil {
		return nil, fmt.Errorf("unpack pigo puploc cascade: %w", err)
	}
	return &detector{face: face, pupil: pupil}, nil
}

// face is a detected face in working-image pixels: a square of side
// side centred on (cx, cy).
type face struct {
	cx, cy, side int
	q            float64 // summed detector score of the merged detections
}

// rect returns the face box (it may reach outside the image).
func (f face) rect() (x0, y0, x1, y1 int) {
	x0, y0 = f.cx-f.side/2, f.cy-f.side/2
	return x0, y0, x0 + f.side, y0 + f.side
}

// gray is a row-major 8-bit grayscale image.
type gray struct {
	pix  []uint8
	w, h int
}

// faces returns the faces in g whose score reaches the quality threshold,
// largest first.
func (d *detector) faces(g gray, cfg *Config) []face {
	short := min(g.w, g.h)
	minSize := max(20, int(cfg.MinFaceDetect*float64(short)))
	if minSize > short {
		return nil
	}
	params := pigo.CascadeParams{
		MinSize:     minSize,
		MaxSize:     short,
		ShiftFactor: cfg.ShiftFactor,
		ScaleFactor: cfg.ScaleFactor,
		ImageParams: pigo.ImageParams{Pixels: g.pix, Rows: g.h, Cols: g.w, Dim: g.w},
	}
	dets := d.face.RunCascade(params, 0)
	dets = d.face.ClusterDetections(dets, cfg.IoUThreshold)
	var out []face
	for _, det := range dets {
		if float64(det.Q) < cfg.MinDetectionQuality {
			continue
		}
		out = append(out, face{cx: det.Col, cy: det.Row, side: det.Scale, q: float64(det.Q)})
	}
	sort.SliceStable(out, func(i, j int) bool {
		if out[i].side != out[j].side {
			return out[i].side > out[j].side
		}
		return out[i].q > out[j].q
	})
	// ClusterDetections merges by IoU, which stays small for a small box
	// inside a large one: drop faces that lie mostly inside a larger one
	// (typically an eye or the mouth region of a large face).
	kept := out[:0]
	for _, f := range out {
		nested := false
		for _, k := range kept {
			if insideShare(f, k) >= cfg.NestedOverlap {
				nested = true
				break
			}
		}
		if !nested {
			kept = append(kept, f)
		}
	}
	return kept
}

// insideShare is the share of f's box area that lies inside g's box.
func insideShare(f, g face) float64 {
	fx0, fy0, fx1, fy1 := f.rect()
	gx0, gy0, gx1, gy1 := g.rect()
	w := min(fx1, gx1) - max(fx0, gx0)
	h := min(fy1, gy1) - max(fy0, gy0)
	if w <= 0 || h <= 0 || f.side <= 0 {
		return 0
	}
	return float64(w*h) / float64(f.side*f.side)
}

// pupils locates the two pupils of f with pigo's pupil localiser, started
// from pigo's usual estimate of each eye's place in the face box. A pupil
// counts as found when the localiser ends inside the upper two thirds of
// the face box, on its own side of the face (left eye in the image's left
// half plus a tenth). Positions are in working-image pixels.
func (d *detector) pupils(g gray, f face) (left, right point, n int) {
	img := pigo.ImageParams{Pixels: g.pix, Rows: g.h, Cols: g.w, Dim: g.w}
	s := float64(f.side)
	run := func(dx float64) (point, bool) {
		p := d.pupil.RunDetector(pigo.Puploc{
			Row:      f.cy - int(0.075*s),
			Col:      f.cx + int(dx*s),
			Scale:    float32(s) * 0.25,
			Perturbs: pupilPerturbs,
		}, img, 0, false)
		if p == nil {
			return point{}, false
		}
		pt := point{x: float64(p.Col), y: float64(p.Row)}
		x0, y0, x1, _ := f.rect()
		inside := pt.x >= float64(x0) && pt.x < float64(x1) &&
			pt.y >= float64(y0) && pt.y < float64(y0)+2*s/3
		if dx < 0 {
			return pt, inside && pt.x < float64(f.cx)+0.1*s
		}
		return pt, inside && pt.x > float64(f.cx)-0.1*s
	}
	var okL, okR bool
	left, okL = run(-0.175)
	right, okR = run(0.185)
	if okL {
		n++
	}
	if okR {
		n++
	}
	if okL && okR && right.x-left.x < 0.15*s {
		// Both landed on the same eye.
		n = 1
	}
	return left, right, n
}

// pupilPerturbs is how many perturbed runs of pigo's pupil localiser are
// combined (by median, per coordinate) for each eye. It must be 63: pigo
// keeps the runs in pooled buffers of 63 and sorts all of them, so with
// fewer runs the median would include values left from earlier calls.
const pupilPerturbs = 63

// point is a position in working-image pixels.
type point struct{ x, y float64 }

// rollDegrees is the angle of the line from the left to the right pupil
// (as seen in the image), 0 when level, positive when the right pupil is
// lower.
func rollDegrees(left, right point) float64 {
	return math.Atan2(right.y-left.y, right.x-left.x) * 180 / math.Pi
}
