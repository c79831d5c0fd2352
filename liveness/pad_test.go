package liveness

import (
	"image"
	"image/color"
	"math"
	"strings"
	"testing"
)

func TestPADCrop(t *testing.T) {
	for _, tc := range []struct {
		name  string
		box   [4]float64
		w, h  int
		scale float64
		want  [4]float64
	}{
		{"Centred", [4]float64{300, 200, 340, 240}, 640, 480, 2, [4]float64{280, 180, 360, 260}},
		{"ShiftedRight", [4]float64{5, 200, 45, 240}, 640, 480, 2, [4]float64{0, 180, 80, 260}},
		{"ShiftedUp", [4]float64{300, 460, 340, 479}, 640, 480, 2, [4]float64{280, 441, 360, 479}},
		{"ShrunkToFit", [4]float64{100, 100, 300, 300}, 640, 480, 4, [4]float64{200 - 239.5, 0, 0, 0}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			x0, y0, x1, y1 := padCrop(tc.box[0], tc.box[1], tc.box[2], tc.box[3], tc.w, tc.h, tc.scale)
			if x0 < 0 || y0 < 0 || x1 > float64(tc.w-1) || y1 > float64(tc.h-1) {
				t.Errorf("crop (%g, %g)-(%g, %g) leaves the %d×%d image", x0, y0, x1, y1, tc.w, tc.h)
			}
			if tc.name == "ShrunkToFit" {
				// The scale falls to (h-1)/box height, so the crop is the
				// image's full height, square (the box is square).
				if math.Abs((y1-y0)-479) > 1e-9 || math.Abs((x1-x0)-479) > 1e-9 {
					t.Errorf("crop %g×%g, want 479×479", x1-x0, y1-y0)
				}
				return
			}
			if got := [4]float64{x0, y0, x1, y1}; got != tc.want {
				t.Errorf("crop = %v, want %v", got, tc.want)
			}
		})
	}
}

// TestPADInput checks the layout, channel order and normalisation the
// manifest asks for, on a crop of one colour.
func TestPADInput(t *testing.T) {
	img := image.NewRGBA(image.Rect(0, 0, 64, 64))
	for y := range 64 {
		for x := range 64 {
			img.SetRGBA(x, y, color.RGBA{200, 100, 50, 255})
		}
	}
	m := DefaultPADManifest()
	m.Size = 8
	for _, tc := range []struct {
		layout, order string
		mean, std     [3]float64
		want          [3]float32 // per position in the model's channel order
	}{
		{"NCHW", "RGB", [3]float64{}, [3]float64{1, 1, 1}, [3]float32{200, 100, 50}},
		{"NHWC", "BGR", [3]float64{}, [3]float64{1, 1, 1}, [3]float32{50, 100, 200}},
		{"NCHW", "RGB", [3]float64{127.5, 127.5, 127.5}, [3]float64{127.5, 127.5, 127.5},
			[3]float32{72.5 / 127.5, -27.5 / 127.5, -77.5 / 127.5}},
	} {
		m.Layout, m.ColorOrder, m.Mean, m.Std = tc.layout, tc.order, tc.mean, tc.std
		in := make([]float32, 3*8*8)
		padInput(img, 10, 10, 50, 50, &m, in)
		for c := range 3 {
			for p := range 64 {
				i := c*64 + p
				if tc.layout == "NHWC" {
					i = p*3 + c
				}
				if math.Abs(float64(in[i]-tc.want[c])) > 1e-5 {
					t.Fatalf("%s %s: channel %d at %d = %g, want %g", tc.layout, tc.order, c, p, in[i], tc.want[c])
				}
			}
		}
	}
}

func TestPADLive(t *testing.T) {
	m := DefaultPADManifest()
	p, err := padLive([]float32{0, float32(math.Log(3)), 0}, &m)
	if err != nil || math.Abs(p-0.2) > 1e-6 {
		t.Errorf("softmax live = %g, %v; want 0.2", p, err)
	}
	m.LiveIndex = 1
	if p, _ := padLive([]float32{0, float32(math.Log(3)), 0}, &m); math.Abs(p-0.6) > 1e-6 {
		t.Errorf("softmax live of class 1 = %g, want 0.6", p)
	}
	m.LiveIndex = 3
	if _, err := padLive([]float32{0, 1, 2}, &m); err == nil {
		t.Errorf("a live class past the output: no error")
	}
	m.Activation, m.LiveIndex = "sigmoid", 0
	if p, _ := padLive([]float32{0}, &m); p != 0.5 {
		t.Errorf("sigmoid(0) = %g, want 0.5", p)
	}
	if _, err := padLive([]float32{0, 1}, &m); err == nil {
		t.Errorf("a sigmoid over two values: no error")
	}
	m.Activation = "none"
	if p, _ := padLive([]float32{0.8}, &m); math.Abs(p-0.8) > 1e-6 {
		t.Errorf("probability as is = %g, want 0.8", p)
	}
}

func TestParsePADManifest(t *testing.T) {
	good := `{"name":"MiniFASNetV2 (Silent-Face)","input":"input","output":"output","size":80,"layout":"NCHW",
		"colorOrder":"BGR","cropScale":2.7,"mean":[0,0,0],"std":[1,1,1],"activation":"softmax","liveIndex":1}`
	m, err := ParsePADManifest([]byte(good))
	if err != nil {
		t.Fatalf("ParsePADManifest: %v", err)
	}
	if m.Size != 80 || m.ColorOrder != "BGR" || m.LiveIndex != 1 || m.CropScale != 2.7 {
		t.Errorf("parsed %+v", m)
	}
	for _, tc := range []struct{ name, json, want string }{
		{"NotJSON", `{`, "PAD manifest"},
		{"Unknown", strings.Replace(good, `"size":80`, `"size":80,"sise":80`, 1), "sise"},
		{"Missing", strings.Replace(good, `"liveIndex":1`, `"name2":1`, 1), "name2"},
		{"MissingField", strings.Replace(good, `,"liveIndex":1`, ``, 1), "missing liveIndex"},
		{"Layout", strings.Replace(good, `"NCHW"`, `"CHW"`, 1), "layout"},
		{"Order", strings.Replace(good, `"BGR"`, `"GBR"`, 1), "colorOrder"},
		{"Size", strings.Replace(good, `"size":80`, `"size":8`, 1), "size 8"},
		{"Scale", strings.Replace(good, `2.7`, `0.5`, 1), "cropScale"},
		{"Std", strings.Replace(good, `"std":[1,1,1]`, `"std":[1,0,1]`, 1), "std[1]"},
		{"Activation", strings.Replace(good, `"softmax"`, `"relu"`, 1), "activation"},
		{"SigmoidIndex", strings.Replace(good, `"softmax"`, `"sigmoid"`, 1), "liveIndex 1 must be 0"},
		{"NegativeIndex", strings.Replace(good, `"liveIndex":1`, `"liveIndex":-1`, 1), "liveIndex -1"},
		{"EmptyName", strings.Replace(good, `"MiniFASNetV2 (Silent-Face)"`, `" "`, 1), "name"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParsePADManifest([]byte(tc.json))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("ParsePADManifest = %v, want an error mentioning %q", err, tc.want)
			}
		})
	}
	if err := DefaultPADManifest().validate(); err != nil {
		t.Errorf("the default manifest is invalid: %v", err)
	}
}
