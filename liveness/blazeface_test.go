package liveness

import (
	"image"
	"image/color"
	"math"
	"testing"
)

// rawOutputs returns detector outputs in which every anchor scores logit
// -10 (sigmoid ≈ 0) and has all-zero boxes.
func rawOutputs() (scores, boxes [2][]float32) {
	for l, layer := range blazeLayers {
		n := layer.cells * layer.cells * layer.anchors
		scores[l] = make([]float32, n)
		boxes[l] = make([]float32, n*16)
		for i := range scores[l] {
			scores[l][i] = -10
		}
	}
	return scores, boxes
}

// setAnchor makes anchor a of cell (cx, cy) of layer l score logit with a
// box of size w×h offset by (dx, dy) from the anchor, and key point k at
// offset (k, -k).
func setAnchor(scores, boxes [2][]float32, l, cx, cy, a int, logit, dx, dy, w, h float32) {
	layer := blazeLayers[l]
	i := (cy*layer.cells+cx)*layer.anchors + a
	scores[l][i] = logit
	b := boxes[l][i*16:]
	b[0], b[1], b[2], b[3] = dx, dy, w, h
	for k := range numKeys {
		b[4+2*k], b[5+2*k] = float32(k), float32(-k)
	}
}

func TestBlazeDecode(t *testing.T) {
	scores, boxes := rawOutputs()
	// Layer 0: 16-px cells; cell (3, 5) is centred at (56, 88).
	setAnchor(scores, boxes, 0, 3, 5, 1, 2, 4, -6, 40, 44)
	// Layer 1: 32-px cells; cell (7, 0) of anchor 5 is centred at (240, 16).
	setAnchor(scores, boxes, 1, 7, 0, 5, 0.7, 0, 0, 100, 90)
	// Below the threshold: sigmoid(0) = 0.5.
	setAnchor(scores, boxes, 1, 2, 2, 0, 0, 0, 0, 10, 10)

	dets := blazeDecode(scores, boxes, 0.6)
	if len(dets) != 2 {
		t.Fatalf("decoded %d detections, want 2: %+v", len(dets), dets)
	}
	d := dets[0]
	if d.cx != 60 || d.cy != 82 || d.w != 40 || d.h != 44 {
		t.Errorf("first box = (%g, %g) %g×%g, want (60, 82) 40×44", d.cx, d.cy, d.w, d.h)
	}
	if want := 1 / (1 + math.Exp(-2)); math.Abs(d.score-want) > 1e-12 {
		t.Errorf("first score = %g, want %g", d.score, want)
	}
	for k := range numKeys {
		if want := (point{56 + float64(k), 88 - float64(k)}); d.keys[k] != want {
			t.Errorf("key point %d = %v, want %v", k, d.keys[k], want)
		}
	}
	if d := dets[1]; d.cx != 240 || d.cy != 16 || d.w != 100 || d.h != 90 {
		t.Errorf("second box = (%g, %g) %g×%g, want (240, 16) 100×90", d.cx, d.cy, d.w, d.h)
	}
}

func TestWeightedNMS(t *testing.T) {
	a := detection{cx: 100, cy: 100, w: 50, h: 50, score: 0.9}
	b := detection{cx: 104, cy: 100, w: 50, h: 50, score: 0.6} // overlaps a by 0.85
	c := detection{cx: 200, cy: 100, w: 40, h: 40, score: 0.8} // apart
	for k := range numKeys {
		a.keys[k] = point{100, 100}
		b.keys[k] = point{110, 100}
	}
	for _, in := range [][]detection{{a, b, c}, {c, b, a}, {b, c, a}} {
		out := weightedNMS(in, 0.3)
		if len(out) != 2 {
			t.Fatalf("weightedNMS gave %d detections, want 2", len(out))
		}
		m := out[0]
		wantX := (100*0.9 + 104*0.6) / 1.5
		if math.Abs(m.cx-wantX) > 1e-9 || m.cy != 100 || m.score != 0.9 {
			t.Errorf("merged = (%g, %g) score %g, want (%g, 100) score 0.9", m.cx, m.cy, m.score, wantX)
		}
		if wantK := (100*0.9 + 110*0.6) / 1.5; math.Abs(m.keys[keyNose].x-wantK) > 1e-9 {
			t.Errorf("merged key point x = %g, want %g", m.keys[keyNose].x, wantK)
		}
		if out[1] != c {
			t.Errorf("the distant detection = %+v, want it unchanged", out[1])
		}
	}
	if out := weightedNMS(nil, 0.3); len(out) != 0 {
		t.Errorf("weightedNMS(nil) = %v", out)
	}
}

func TestIoU(t *testing.T) {
	a := detection{cx: 10, cy: 10, w: 10, h: 10}
	for _, tc := range []struct {
		b    detection
		want float64
	}{
		{a, 1},
		{detection{cx: 15, cy: 10, w: 10, h: 10}, 50.0 / 150},
		{detection{cx: 30, cy: 10, w: 10, h: 10}, 0},
		{detection{cx: 20, cy: 10, w: 10, h: 10}, 0}, // touching edges
		{detection{cx: 10, cy: 10, w: 0, h: 0}, 0},
	} {
		if got := iou(a, tc.b); math.Abs(got-tc.want) > 1e-12 {
			t.Errorf("iou(%+v) = %g, want %g", tc.b, got, tc.want)
		}
	}
}

// TestBlazeInput letterboxes images of several shapes and checks that the
// margins are black (-1), the image lands where the letterbox says, and a
// point maps back to where it came from.
func TestBlazeInput(t *testing.T) {
	for _, sz := range []image.Point{{640, 480}, {480, 640}, {256, 256}, {100, 60}, {1000, 10}} {
		img := image.NewRGBA(image.Rect(0, 0, sz.X, sz.Y))
		for i := range img.Pix {
			img.Pix[i] = 255 // white
		}
		// A red pixel block near the top-left quarter.
		mx, my := sz.X/4, sz.Y/4
		bs := max(1, min(sz.X, sz.Y)/8)
		for y := my; y < min(sz.Y, my+bs); y++ {
			for x := mx; x < min(sz.X, mx+bs); x++ {
				img.SetRGBA(x, y, color.RGBA{255, 0, 0, 255})
			}
		}
		in := make([]float32, blazeSize*blazeSize*3)
		lb := blazeInput(img, in)
		at := func(x, y, c int) float32 { return in[(y*blazeSize+x)*3+c] }
		// Margins are black, the image white.
		if lb.padX > 0 && at(0, blazeSize/2, 0) != -1 {
			t.Errorf("%v: left margin = %g, want -1", sz, at(0, blazeSize/2, 0))
		}
		if lb.padY > 0 && at(blazeSize/2, 0, 0) != -1 {
			t.Errorf("%v: top margin = %g, want -1", sz, at(blazeSize/2, 0, 0))
		}
		c := lb.toImage(point{blazeSize / 2, blazeSize / 2})
		if math.Abs(c.x-float64(sz.X)/2) > 1/lb.sx || math.Abs(c.y-float64(sz.Y)/2) > 1/lb.sy {
			t.Errorf("%v: the input's centre maps to (%g, %g), want the image's (%g, %g)", sz, c.x, c.y, float64(sz.X)/2, float64(sz.Y)/2)
		}
		// The red block: its centre in the input is red (R high, G low).
		if float64(bs)*lb.sx >= 2 && float64(bs)*lb.sy >= 2 {
			px := int(lb.padX + (float64(mx)+float64(bs)/2)*lb.sx)
			py := int(lb.padY + (float64(my)+float64(bs)/2)*lb.sy)
			if at(px, py, 0) < 0.9 || at(px, py, 1) > -0.5 {
				t.Errorf("%v: the red block's centre maps to (%d, %d), which holds (%g, %g, %g)",
					sz, px, py, at(px, py, 0), at(px, py, 1), at(px, py, 2))
			}
		}
	}
}

func TestLetterboxDetection(t *testing.T) {
	lb := letterbox{sx: 0.4, sy: 0.4, padX: 0, padY: 32}
	d := detection{cx: 128, cy: 128, w: 40, h: 20, score: 0.7}
	d.keys[keyNose] = point{128, 132}
	got := lb.detection(d)
	if got.cx != 320 || got.cy != 240 || got.w != 100 || got.h != 50 || got.score != 0.7 {
		t.Errorf("mapped = %+v, want centre (320, 240), 100×50, score 0.7", got)
	}
	if got.keys[keyNose] != (point{320, 250}) {
		t.Errorf("mapped nose = %v, want (320, 250)", got.keys[keyNose])
	}
}

func TestRollDegrees(t *testing.T) {
	for _, tc := range []struct {
		right, left point
		want        float64
	}{
		{point{10, 10}, point{20, 10}, 0},
		{point{10, 10}, point{20, 20}, 45},
		{point{10, 20}, point{20, 10}, -45},
	} {
		if got := rollDegrees(tc.right, tc.left); math.Abs(got-tc.want) > 1e-9 {
			t.Errorf("rollDegrees(%v, %v) = %g, want %g", tc.right, tc.left, got, tc.want)
		}
	}
}
