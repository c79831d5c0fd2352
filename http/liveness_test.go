package http_test

import (
	"bytes"
	"image"
	"image/draw"
	"image/jpeg"
	"net/http"
	"os"
	"reflect"
	"slices"
	"sync"
	"testing"

	"github.com/facevault/facevault"
	"github.com/facevault/facevault/internal/testimage"
	"github.com/facevault/facevault/liveness"
)

// analyzer is the real liveness check, loaded once for the whole package.
var analyzer = sync.OnceValues(func() (*liveness.Analyzer, error) {
	return liveness.New(liveness.DefaultConfig())
})

// livenessImages are the uploads of the liveness policy tests: a real face
// (pigo's MIT sample photo), two copies of it side by side, noise with no
// face, and the face cut short so that its header decodes but its pixels do
// not.
var livenessImages = sync.OnceValues(func() (map[string][]byte, error) {
	face, err := os.ReadFile("../liveness/testdata/pigo-sample.jpg")
	if err != nil {
		return nil, err
	}
	img, err := jpeg.Decode(bytes.NewReader(face))
	if err != nil {
		return nil, err
	}
	b := img.Bounds()
	two := image.NewRGBA(image.Rect(0, 0, 2*b.Dx(), b.Dy()))
	draw.Draw(two, b.Sub(b.Min), img, b.Min, draw.Src)
	draw.Draw(two, b.Sub(b.Min).Add(image.Pt(b.Dx(), 0)), img, b.Min, draw.Src)
	var twoJPEG bytes.Buffer
	if err := jpeg.Encode(&twoJPEG, two, &jpeg.Options{Quality: 90}); err != nil {
		return nil, err
	}
	return map[string][]byte{
		"face":       face,
		"two faces":  twoJPEG.Bytes(),
		"no face":    testimage.JPEG(256, 256, 11),
		"unreadable": face[:40<<10],
	}, nil
})

func livenessEnv(t *testing.T, env *testEnv, refuse bool) {
	t.Helper()
	a, err := analyzer()
	if err != nil {
		t.Fatalf("liveness.New: %v", err)
	}
	env.vault.Analyzer = a
	env.vault.RefuseLive = refuse
}

func TestLivenessPolicy(t *testing.T) {
	imgs, err := livenessImages()
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name      string
		image     string
		live      bool // use the live key
		refuse    bool // serve's --liveness-refusals
		noCheck   bool // performLivenessCheck: false
		status    int
		errType   string
		faceCount int
		readable  bool
	}{
		{"OK/LiveFace", "face", true, true, false, 200, "", 1, true},
		{"OK/TestFace", "face", false, true, false, 200, "", 1, true},
		{"ErrLiveNoFace", "no face", true, true, false, 422, facevault.ENoFace, 0, true},
		{"ErrLiveTwoFaces", "two faces", true, true, false, 422, facevault.EMultipleFaces, 2, true},
		{"ErrLiveUnreadable", "unreadable", true, true, false, 422, facevault.EUnreadable, 0, false},
		{"OK/TestNoFaceRecorded", "no face", false, true, false, 200, "", 0, true},
		{"OK/TestTwoFacesRecorded", "two faces", false, true, false, 200, "", 2, true},
		{"OK/TestUnreadableRecorded", "unreadable", false, true, false, 200, "", 0, false},
		{"OK/LiveNoFaceRefusalsOff", "no face", true, false, false, 200, "", 0, true},
		{"OK/LiveUnreadableRefusalsOff", "unreadable", true, false, false, 200, "", 0, false},
		{"OK/LiveNoFaceWithoutCheck", "no face", true, true, true, 200, "", 0, true},
	}
	forEachBackend(t, func(t *testing.T, env *testEnv) {
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				livenessEnv(t, env, tt.refuse)
				key := env.KeyA
				if tt.live {
					key = env.KeyALive
				}
				clientID := env.newClientID(t, key)
				before := env.snapshot(t)
				body := map[string]any{"clientId": clientID, "data": b64(imgs[tt.image])}
				if tt.noCheck {
					body["performLivenessCheck"] = false
				}
				r := env.do(t, "POST", "/v1/livePhotos", key, body)
				wantStatus(t, r, tt.status)
				if tt.status != http.StatusOK {
					wantError(t, r, tt.status, tt.errType, "", "")
					if got := env.photoIDs(t, key, clientID); len(got) != 0 {
						t.Errorf("a refused upload left photos %v", got)
					}
					if after := env.snapshot(t); !reflect.DeepEqual(after, before) {
						t.Errorf("a refused upload left objects: before %v, after %v", before, after)
					}
					return
				}
				check, has := r.JSON["livenessCheck"].(map[string]any)
				if tt.noCheck {
					if has {
						t.Errorf("livenessCheck = %v, want it absent when performLivenessCheck is false", check)
					}
					return
				}
				if !has {
					t.Fatalf("livenessCheck missing from %v", r.JSON)
				}
				integrity := check["breakdown"].(map[string]any)["integrityAnalysis"].(map[string]any)
				ib := integrity["breakdown"].(map[string]any)
				if got := int(ib["faceCount"].(float64)); got != tt.faceCount {
					t.Errorf("faceCount = %d, want %d", got, tt.faceCount)
				}
				if got := ib["imageReadable"].(bool); got != tt.readable {
					t.Errorf("imageReadable = %v, want %v", got, tt.readable)
				}
				wantDetection := facevault.OutcomeClear
				if tt.faceCount != 1 || !tt.readable {
					wantDetection = facevault.OutcomeAttention
					if check["outcome"] != facevault.OutcomeAttention {
						t.Errorf("outcome = %v, want attention when faceDetection is", check["outcome"])
					}
				}
				if integrity["faceDetection"] != wantDetection {
					t.Errorf("faceDetection = %v, want %s", integrity["faceDetection"], wantDetection)
				}
				// The result is stored with the photo: get and list return it.
				id := str(t, r.JSON, "id")
				got := env.do(t, "GET", "/v1/livePhotos/"+id, key, nil)
				wantStatus(t, got, http.StatusOK)
				if !reflect.DeepEqual(got.JSON["livenessCheck"], r.JSON["livenessCheck"]) {
					t.Errorf("get livenessCheck = %v, want the upload's %v", got.JSON["livenessCheck"], r.JSON["livenessCheck"])
				}
				lr := env.do(t, "GET", "/v1/livePhotos?clientId="+clientID, key, nil)
				wantStatus(t, lr, http.StatusOK)
				item := lr.JSON["items"].([]any)[0].(map[string]any)
				if !reflect.DeepEqual(item["livenessCheck"], r.JSON["livenessCheck"]) {
					t.Errorf("list livenessCheck = %v, want the upload's %v", item["livenessCheck"], r.JSON["livenessCheck"])
				}
			})
		}
	})
}

// TestLivenessOverBudget: on a server whose liveness check may use too
// little memory for an image, its upload is refused with the 422 that says
// so, in either mode, and nothing is stored; the same image without the
// check is stored.
func TestLivenessOverBudget(t *testing.T) {
	imgs, err := livenessImages()
	if err != nil {
		t.Fatal(err)
	}
	cfg := liveness.DefaultConfig()
	cfg.MemoryBudget = 1 << 20
	a, err := liveness.New(cfg)
	if err != nil {
		t.Fatalf("liveness.New: %v", err)
	}
	forEachBackend(t, func(t *testing.T, env *testEnv) {
		env.vault.Analyzer = a
		for _, key := range []string{env.KeyA, env.KeyALive} {
			clientID := env.newClientID(t, key)
			before := env.snapshot(t)
			r := env.do(t, "POST", "/v1/livePhotos", key, map[string]any{"clientId": clientID, "data": b64(imgs["face"])})
			wantError(t, r, http.StatusUnprocessableEntity, facevault.EOverBudget,
				"The image needs more memory to check than this server allows the liveness check; "+
					"send a smaller image, or upload it with performLivenessCheck false", "")
			if got := env.snapshot(t); !slices.Equal(got, before) {
				t.Errorf("a refused upload left %v", got)
			}
			if ids := env.photoIDs(t, key, clientID); len(ids) != 0 {
				t.Errorf("a refused upload is listed: %v", ids)
			}
			r = env.do(t, "POST", "/v1/livePhotos", key, map[string]any{"clientId": clientID, "data": b64(imgs["face"]),
				"performLivenessCheck": false})
			wantStatus(t, r, http.StatusOK)
		}
	})
}
