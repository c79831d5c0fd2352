package liveness

import (
	"cmp"
	"image"
	"math"
	"slices"

	"github.com/facevault/facevault/internal/imgdecode"
	"github.com/facevault/facevault/liveness/models"
)

// BlazeFace is MediaPipe's short- and full-range face detector; FaceVault
// runs its "back camera" (full-range) variant, whose input is 256×256 RGB
// and which finds faces from about a tenth of the frame up. Its outputs are
// raw: for each of 896 anchors (a 16×16 grid with 2 anchors a cell, then an
// 8×8 grid with 6), a score logit and 16 numbers — the box centre offset
// and size, and six key points (the subject's right eye, left eye, nose
// tip, mouth centre, right ear tragion, left ear tragion), in pixels of the
// 256×256 input relative to the anchor's centre. This file turns those into
// faces, as MediaPipe's TensorsToDetections and weighted non-maximum
// suppression do.

// blazeSize is the side of the detector's square input.
const blazeSize = models.BlazeFaceSize

// blazeLayer is one output layer of the detector: a grid of cells with a
// number of anchors each, all centred on their cell.
type blazeLayer struct {
	cells, anchors int
}

// blazeLayers are the two layers, in the order of the model's outputs: a
// 16×16 grid (16-px cells of the 256-px input) with 2 anchors a cell, and an
// 8×8 grid (32-px cells) with 6, as MediaPipe's anchor calculator makes
// them for this model (its strides 16, 32, 32, 32 merged by size).
var blazeLayers = [2]blazeLayer{{cells: 16, anchors: 2}, {cells: 8, anchors: 6}}

// Key point indices of a detection.
const (
	keyRightEye = iota // the subject's right eye: on the left of the image
	keyLeftEye
	keyNose
	keyMouth
	keyRightEar
	keyLeftEar
	numKeys
)

// point is a position in pixels.
type point struct{ x, y float64 }

// detection is a face found by the detector: its box (centre and size)
// and key points, in whatever pixel space the caller is working in, and
// its score (0-1).
type detection struct {
	cx, cy, w, h float64
	keys         [numKeys]point
	score        float64
}

// rect returns the box's corners.
func (d detection) rect() (x0, y0, x1, y1 float64) {
	return d.cx - d.w/2, d.cy - d.h/2, d.cx + d.w/2, d.cy + d.h/2
}

// iou is the intersection over union of two boxes.
func iou(a, b detection) float64 {
	ax0, ay0, ax1, ay1 := a.rect()
	bx0, by0, bx1, by1 := b.rect()
	iw := min(ax1, bx1) - max(ax0, bx0)
	ih := min(ay1, by1) - max(ay0, by0)
	if iw <= 0 || ih <= 0 {
		return 0
	}
	inter := iw * ih
	union := a.w*a.h + b.w*b.h - inter
	if union <= 0 {
		return 0
	}
	return inter / union
}

// letterbox is where the working image sits in the detector's square
// input: scaled by sx and sy (equal but for the rounding of the scaled
// size to whole pixels), its top-left corner at (padX, padY) of the
// input, the rest padded.
type letterbox struct {
	sx, sy     float64
	padX, padY float64
}

// toImage maps a point of the detector's input back to the image.
func (l letterbox) toImage(p point) point {
	return point{(p.x - l.padX) / l.sx, (p.y - l.padY) / l.sy}
}

// blazeInput fills in (blazeSize² × 3 floats, NHWC) with img scaled to fit
// the square with its aspect ratio kept, centred, the margins black, each
// channel as v/127.5 − 1, and returns where the image went. Scaling uses an
// area filter when shrinking (the working image is nearly always larger)
// and bilinear interpolation when enlarging.
func blazeInput(img *image.RGBA, in []float32) letterbox {
	w, h := img.Rect.Dx(), img.Rect.Dy()
	scale := float64(blazeSize) / float64(max(w, h))
	sw := max(1, min(blazeSize, int(math.Round(float64(w)*scale))))
	sh := max(1, min(blazeSize, int(math.Round(float64(h)*scale))))
	px, py := (blazeSize-sw)/2, (blazeSize-sh)/2
	for i := range in {
		in[i] = -1 // black: 0/127.5 − 1
	}
	scaled := resizeRGB(img, sw, sh)
	for y := range sh {
		row := in[((py+y)*blazeSize+px)*3:]
		src := scaled[y*sw*3:]
		for i := range sw * 3 {
			row[i] = float32(src[i])/127.5 - 1
		}
	}
	return letterbox{
		sx:   float64(sw) / float64(w),
		sy:   float64(sh) / float64(h),
		padX: float64(px),
		padY: float64(py),
	}
}

// resizeRGB returns img resampled to ow×oh as packed RGB bytes: an area
// filter on each axis that shrinks, bilinear on one that grows.
func resizeRGB(img *image.RGBA, ow, oh int) []uint8 {
	w, h := img.Rect.Dx(), img.Rect.Dy()
	out := make([]uint8, ow*oh*3)
	pix := img.Pix[img.PixOffset(img.Rect.Min.X, img.Rect.Min.Y):]
	if ow <= w && oh <= h {
		for c := range 3 {
			imgdecode.BoxPlane(pix[c:], img.Stride, 4, w, h, out[c:], 3, ow, oh)
		}
		return out
	}
	for oy := range oh {
		fy := min(max((float64(oy)+0.5)*float64(h)/float64(oh)-0.5, 0), float64(h-1))
		y0 := int(fy)
		y1 := min(y0+1, h-1)
		wy := fy - float64(y0)
		for ox := range ow {
			fx := min(max((float64(ox)+0.5)*float64(w)/float64(ow)-0.5, 0), float64(w-1))
			x0 := int(fx)
			x1 := min(x0+1, w-1)
			wx := fx - float64(x0)
			for c := range 3 {
				at := func(x, y int) float64 { return float64(pix[y*img.Stride+x*4+c]) }
				top := at(x0, y0)*(1-wx) + at(x1, y0)*wx
				bot := at(x0, y1)*(1-wx) + at(x1, y1)*wx
				out[(oy*ow+ox)*3+c] = uint8(top*(1-wy) + bot*wy + 0.5)
			}
		}
	}
	return out
}

// blazeDecode turns the detector's raw outputs into detections whose score
// reaches minScore, in pixels of the detector's input: scores[l] holds
// layer l's logits (cells²·anchors) and boxes[l] its 16 numbers per anchor.
func blazeDecode(scores, boxes [2][]float32, minScore float64) []detection {
	var out []detection
	for l, layer := range blazeLayers {
		stride := float64(blazeSize) / float64(layer.cells)
		i := 0
		for cy := range layer.cells {
			for cx := range layer.cells {
				ax, ay := (float64(cx)+0.5)*stride, (float64(cy)+0.5)*stride
				for range layer.anchors {
					s := sigmoid(float64(scores[l][i]))
					if s >= minScore {
						b := boxes[l][i*16 : i*16+16]
						d := detection{
							cx: ax + float64(b[0]), cy: ay + float64(b[1]),
							w: float64(b[2]), h: float64(b[3]),
							score: s,
						}
						for k := range numKeys {
							d.keys[k] = point{ax + float64(b[4+2*k]), ay + float64(b[5+2*k])}
						}
						out = append(out, d)
					}
					i++
				}
			}
		}
	}
	return out
}

// sigmoid is the logistic function, with its argument clamped as
// MediaPipe clamps raw scores (to ±100) so that it never overflows.
func sigmoid(x float64) float64 {
	x = min(max(x, -100), 100)
	return 1 / (1 + math.Exp(-x))
}

// weightedNMS merges overlapping detections as MediaPipe's weighted
// non-maximum suppression does: take the highest-scoring detection left,
// gather every remaining one whose box overlaps it by at least minIoU, and
// replace them all by their score-weighted mean (box and key points), with
// the highest score. The result is sorted by score, highest first, ties
// broken by position, so that it depends on nothing but its input.
func weightedNMS(dets []detection, minIoU float64) []detection {
	left := slices.Clone(dets)
	slices.SortStableFunc(left, func(a, b detection) int {
		if c := cmp.Compare(b.score, a.score); c != 0 {
			return c
		}
		if c := cmp.Compare(a.cy, b.cy); c != 0 {
			return c
		}
		return cmp.Compare(a.cx, b.cx)
	})
	var out []detection
	for len(left) > 0 {
		top := left[0]
		var merged detection
		var sum float64
		rest := left[:0:0]
		for _, d := range left {
			if iou(top, d) < minIoU {
				rest = append(rest, d)
				continue
			}
			s := d.score
			sum += s
			merged.cx += d.cx * s
			merged.cy += d.cy * s
			merged.w += d.w * s
			merged.h += d.h * s
			for k := range numKeys {
				merged.keys[k].x += d.keys[k].x * s
				merged.keys[k].y += d.keys[k].y * s
			}
		}
		merged.cx, merged.cy, merged.w, merged.h = merged.cx/sum, merged.cy/sum, merged.w/sum, merged.h/sum
		for k := range numKeys {
			merged.keys[k].x /= sum
			merged.keys[k].y /= sum
		}
		merged.score = top.score
		out = append(out, merged)
		left = rest
	}
	return out
}

// toImage maps a detection in the detector's input back to the image the
// letterbox was made from.
func (l letterbox) detection(d detection) detection {
	c := l.toImage(point{d.cx, d.cy})
	out := detection{cx: c.x, cy: c.y, w: d.w / l.sx, h: d.h / l.sy, score: d.score}
	for k := range numKeys {
		out.keys[k] = l.toImage(d.keys[k])
	}
	return out
}
