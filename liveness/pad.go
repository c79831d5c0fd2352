package liveness

import (
	"bytes"
	"errors"
	"fmt"
	"image"
	"math"
	"strings"

	"github.com/go-json-experiment/json"

	"github.com/facevault/facevault/liveness/models"
)

// PADManifest describes a presentation-attack detection (anti-spoofing)
// model to the liveness check: which tensors to use, how to cut the face
// out of the photo and turn it into the model's input, and how to read a
// probability that the face is live from its output. The check crops a
// region around the detected face box, CropScale times its size (shifted
// to stay inside the image, shrunk if the image is too small; a box of
// another aspect ratio keeps it), resamples it to Size×Size bilinearly (as OpenCV's INTER_LINEAR does), and feeds each
// pixel as (v − Mean[c]) / Std[c] for v in 0-255, channels in ColorOrder,
// laid out as Layout.
type PADManifest struct {
	// Name names the model in results (the engine field), with its
	// version or origin.
	Name string `json:"name"`
	// Input and Output name the model's input and output tensors.
	Input  string `json:"input"`
	Output string `json:"output"`
	// Size is the side of the model's square input, in pixels.
	Size int `json:"size"`
	// Layout is "NCHW" (channels first) or "NHWC".
	Layout string `json:"layout"`
	// ColorOrder is "RGB" or "BGR".
	ColorOrder string `json:"colorOrder"`
	// CropScale is how many times the face box's size the crop is (each
	// side), centred on the box. Models are trained on crops of a given
	// scale around the face: 2.7 for MiniFASNetV2, 4.0 for MiniFASNetV1SE.
	CropScale float64 `json:"cropScale"`
	// Mean and Std normalise each channel, in ColorOrder: (v − Mean) / Std
	// with v in 0-255. Raw pixel values are Mean 0, Std 1.
	Mean [3]float64 `json:"mean"`
	Std  [3]float64 `json:"std"`
	// Activation turns the output into probabilities: "softmax" over the
	// output's values (class logits), "sigmoid" on the one output value
	// (a live logit), or "none" (the output holds probabilities already).
	Activation string `json:"activation"`
	// LiveIndex is the index, in the output, of the live (bona fide)
	// class. With "sigmoid" it must be 0.
	LiveIndex int `json:"liveIndex"`
}

// DefaultPADManifest describes the presentation-attack model FaceVault
// embeds (see models/PROVENANCE.md): faceplugin's fr_liveness, a
// MiniFASNetV2SE network fed crops of 2.7 times the face box at 128×128,
// raw 0-255 values in BGR order, whose first output class is live.
//
// BGR, although faceplugin's own JavaScript feeds RGB: the network is
// Silent-Face-Anti-Spoofing's architecture, trained there on images read
// with OpenCV, which are BGR, and on the development set it says so
// plainly — in BGR every genuine photo scores 95 or more and the three
// attacks 13 or less (AUC 1.0), in RGB genuine photos score from 19 and
// one attack 67 (AUC 0.97). `facevault eval --pad-manifest` with either
// order shows it. Class 0 is live in both: class 1 gives an AUC of 0.03
// (it is an attack class) and class 2 never fires.
func DefaultPADManifest() PADManifest {
	return PADManifest{
		Name:       "fr_liveness (faceplugin-face-recognition-js 0.0.1)",
		Input:      models.LivenessInput,
		Output:     models.LivenessOutput,
		Size:       models.LivenessSize,
		Layout:     "NCHW",
		ColorOrder: "BGR",
		CropScale:  2.7,
		Mean:       [3]float64{0, 0, 0},
		Std:        [3]float64{1, 1, 1},
		Activation: "softmax",
		LiveIndex:  0,
	}
}

// ParsePADManifest reads a manifest from JSON. Every field must be given
// and valid; unknown fields are an error, so that a misspelt one is not
// silently left at its zero value.
func ParsePADManifest(data []byte) (PADManifest, error) {
	var m PADManifest
	dec := json.Unmarshal(data, &m, json.RejectUnknownMembers(true))
	if dec != nil {
		return PADManifest{}, fmt.Errorf("PAD manifest: %w", dec)
	}
	var raw map[string]any
	if err := json.Unmarshal(data, &raw); err != nil {
		return PADManifest{}, fmt.Errorf("PAD manifest: %w", err)
	}
	var missing []string
	for _, f := range []string{"name", "input", "output", "size", "layout", "colorOrder", "cropScale", "mean", "std", "activation", "liveIndex"} {
		if _, ok := raw[f]; !ok {
			missing = append(missing, f)
		}
	}
	if len(missing) > 0 {
		return PADManifest{}, fmt.Errorf("PAD manifest: missing %s", strings.Join(missing, ", "))
	}
	if err := m.validate(); err != nil {
		return PADManifest{}, err
	}
	return m, nil
}

// validate reports every field that is out of range.
func (m PADManifest) validate() error {
	var errs []error
	check := func(ok bool, format string, args ...any) {
		if !ok {
			errs = append(errs, fmt.Errorf(format, args...))
		}
	}
	check(strings.TrimSpace(m.Name) != "", "name must not be empty")
	check(m.Input != "", "input must name the model's input")
	check(m.Output != "", "output must name the model's output")
	check(m.Size >= 16 && m.Size <= 512, "size %d must be in [16, 512]", m.Size)
	check(m.Layout == "NCHW" || m.Layout == "NHWC", "layout %q must be NCHW or NHWC", m.Layout)
	check(m.ColorOrder == "RGB" || m.ColorOrder == "BGR", "colorOrder %q must be RGB or BGR", m.ColorOrder)
	check(m.CropScale >= 1 && m.CropScale <= 8, "cropScale %g must be in [1, 8]", m.CropScale)
	for c, s := range m.Std {
		check(s != 0 && !math.IsNaN(s) && !math.IsInf(s, 0), "std[%d] %g must be a non-zero number", c, s)
		check(!math.IsNaN(m.Mean[c]) && !math.IsInf(m.Mean[c], 0), "mean[%d] %g must be a number", c, m.Mean[c])
	}
	switch m.Activation {
	case "softmax", "none":
		check(m.LiveIndex >= 0, "liveIndex %d must not be negative", m.LiveIndex)
	case "sigmoid":
		check(m.LiveIndex == 0, "liveIndex %d must be 0 with a sigmoid output", m.LiveIndex)
	default:
		check(false, "activation %q must be softmax, sigmoid or none", m.Activation)
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("PAD manifest: %w", err)
	}
	return nil
}

// String renders the manifest as JSON, for messages.
func (m PADManifest) String() string {
	var b bytes.Buffer
	json.MarshalWrite(&b, m, json.Deterministic(true))
	return b.String()
}

// padCrop returns the region of a w×h image that the model sees for a face
// box (x0, y0)-(x1, y1): the box scaled CropScale times about its centre
// (less if the image is too small for that), then shifted to lie inside the
// image. It is the crop of the model's publishers (Silent-Face's
// CropImage), which the model was trained on; the region keeps the box's
// aspect ratio and is resampled to the square input as it is.
func padCrop(x0, y0, x1, y1 float64, w, h int, scale float64) (cx0, cy0, cx1, cy1 float64) {
	bw, bh := max(x1-x0, 1), max(y1-y0, 1)
	scale = min(scale, float64(h-1)/bh, float64(w-1)/bw)
	nw, nh := bw*scale, bh*scale
	cx, cy := (x0+x1)/2, (y0+y1)/2
	cx0, cy0, cx1, cy1 = cx-nw/2, cy-nh/2, cx+nw/2, cy+nh/2
	if cx0 < 0 {
		cx1 -= cx0
		cx0 = 0
	}
	if cy0 < 0 {
		cy1 -= cy0
		cy0 = 0
	}
	if cx1 > float64(w-1) {
		cx0 -= cx1 - float64(w-1)
		cx1 = float64(w - 1)
	}
	if cy1 > float64(h-1) {
		cy0 -= cy1 - float64(h-1)
		cy1 = float64(h - 1)
	}
	return max(cx0, 0), max(cy0, 0), cx1, cy1
}

// padInput fills in with the model's input for the region (x0, y0)-(x1,
// y1) of img, as the manifest says: bilinear resampling to Size×Size with
// pixel centres aligned (OpenCV's INTER_LINEAR), channels reordered and
// normalised, in the manifest's layout.
func padInput(img *image.RGBA, x0, y0, x1, y1 float64, m *PADManifest, in []float32) {
	n := m.Size
	w, h := img.Rect.Dx(), img.Rect.Dy()
	pix := img.Pix[img.PixOffset(img.Rect.Min.X, img.Rect.Min.Y):]
	order := [3]int{0, 1, 2}
	if m.ColorOrder == "BGR" {
		order = [3]int{2, 1, 0}
	}
	sx, sy := (x1-x0)/float64(n), (y1-y0)/float64(n)
	var scale, bias [3]float32
	for c := range 3 {
		scale[c] = float32(1 / m.Std[c])
		bias[c] = float32(-m.Mean[c] / m.Std[c])
	}
	for oy := range n {
		fy := min(max(y0+(float64(oy)+0.5)*sy-0.5, 0), float64(h-1))
		ya := int(fy)
		yb := min(ya+1, h-1)
		wy := fy - float64(ya)
		for ox := range n {
			fx := min(max(x0+(float64(ox)+0.5)*sx-0.5, 0), float64(w-1))
			xa := int(fx)
			xb := min(xa+1, w-1)
			wx := fx - float64(xa)
			for c, src := range order {
				at := func(x, y int) float64 { return float64(pix[y*img.Stride+x*4+src]) }
				v := (at(xa, ya)*(1-wx)+at(xb, ya)*wx)*(1-wy) + (at(xa, yb)*(1-wx)+at(xb, yb)*wx)*wy
				f := float32(v)*scale[c] + bias[c]
				if m.Layout == "NCHW" {
					in[(c*n+oy)*n+ox] = f
				} else {
					in[(oy*n+ox)*3+c] = f
				}
			}
		}
	}
}

// padLive reads the probability that the face is live from the model's
// output, as the manifest says.
func padLive(out []float32, m *PADManifest) (float64, error) {
	switch m.Activation {
	case "sigmoid":
		if len(out) != 1 {
			return 0, fmt.Errorf("PAD model: a sigmoid output must hold 1 value, this one holds %d", len(out))
		}
		return sigmoid(float64(out[0])), nil
	case "softmax", "none":
		if m.LiveIndex >= len(out) {
			return 0, fmt.Errorf("PAD model: live class %d, but the output holds %d values", m.LiveIndex, len(out))
		}
		if m.Activation == "none" {
			return min(max(float64(out[m.LiveIndex]), 0), 1), nil
		}
		top := math.Inf(-1)
		for _, v := range out {
			top = max(top, float64(v))
		}
		var sum float64
		for _, v := range out {
			sum += math.Exp(float64(v) - top)
		}
		return math.Exp(float64(out[m.LiveIndex])-top) / sum, nil
	}
	return 0, fmt.Errorf("PAD model: unknown activation %q", m.Activation)
}
