package liveness

import (
	"context"
	"errors"
	"fmt"
	"image"

	"github.com/facevault/facevault/internal/imgdecode"
)

// ErrUnreadable is returned by Faces for an image that is not a JPEG or
// PNG within the configured bounds, or whose pixels do not decode.
var ErrUnreadable = errors.New("liveness: image unreadable")

// Point is a position in pixels of the image Faces returns, measured from
// the pixels' edges: the centre of the top-left pixel is at 0.5, 0.5.
type Point struct{ X, Y float64 }

// Face is a face found by Faces: the detector's box (centre and size), its
// six landmarks (right and left are the subject's: the right eye is on the
// left of the image) and its confidence (0–1).
type Face struct {
	CenterX, CenterY, Width, Height float64

	RightEye, LeftEye, Nose, Mouth, RightEar, LeftEar Point

	Score float64
}

// Faces decodes a JPEG or PNG image as Analyze does (within the memory
// budget, straight to the working size, turned upright by its EXIF
// orientation), runs the face detector, and returns the upright working
// image and the faces found in it, largest first, in its pixels. It fails
// with ErrUnreadable for an image Analyze would call unreadable,
// ErrOverBudget for one that needs more memory than the whole budget, or
// ctx's error. The memory is reserved until Faces returns; the image it
// returns (4 bytes a pixel, at most WorkingSize a side) is the caller's.
func (a *Analyzer) Faces(ctx context.Context, data []byte) (*image.RGBA, []Face, error) {
	cfg := &a.cfg
	if int64(len(data)) > cfg.MaxBytes {
		return nil, nil, ErrUnreadable
	}
	p, err := probeImage(data, cfg)
	if errors.Is(err, errUnreadable) {
		return nil, nil, ErrUnreadable
	} else if err != nil {
		return nil, nil, fmt.Errorf("liveness: decode: %w", err)
	}
	ww, wh := imgdecode.FitWithin(p.hdr.Width, p.hdr.Height, cfg.WorkingSize)
	need := a.reservation(p.hdr, ww, wh)
	if need > cfg.MemoryBudget {
		return nil, nil, fmt.Errorf("liveness: %w: a %d×%d %v needs %d bytes, the budget is %d",
			ErrOverBudget, p.hdr.Width, p.hdr.Height, p.hdr.Format, need, cfg.MemoryBudget)
	}
	if err := a.budget.acquire(ctx, need); err != nil {
		return nil, nil, fmt.Errorf("liveness: waiting for memory: %w", err)
	}
	defer a.budget.release(need)
	img, err := decodeWorking(data, ww, wh)
	if err != nil {
		return nil, nil, ErrUnreadable
	}
	work := orient(img, p.orientation)
	dets, err := a.detect(ctx, work)
	if err != nil {
		return nil, nil, err
	}
	faces := make([]Face, len(dets))
	for i, d := range dets {
		faces[i] = faceOf(d)
	}
	return work, faces, nil
}

// faceOf is a detection as Faces returns it.
func faceOf(d detection) Face {
	pt := func(q point) Point { return Point{q.x, q.y} }
	return Face{
		CenterX: d.cx, CenterY: d.cy, Width: d.w, Height: d.h,
		RightEye: pt(d.keys[keyRightEye]), LeftEye: pt(d.keys[keyLeftEye]),
		Nose: pt(d.keys[keyNose]), Mouth: pt(d.keys[keyMouth]),
		RightEar: pt(d.keys[keyRightEar]), LeftEar: pt(d.keys[keyLeftEar]),
		Score: d.score,
	}
}

// EmbedFunc computes the embedding of a face in the upright working image,
// as Faces returns them both (package faceid's Embedder does).
type EmbedFunc func(ctx context.Context, work *image.RGBA, f Face) ([]float32, error)

// SetEmbedder makes Analyze compute, when it finds exactly one face, that
// face's embedding with fn, into the result's Embedding. Call it before
// the Analyzer is used.
func (a *Analyzer) SetEmbedder(fn EmbedFunc) { a.embed = fn }
