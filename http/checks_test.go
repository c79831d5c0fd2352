package http_test

import (
	"bytes"
	"context"
	"errors"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"math"
	"net/http"
	"os"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/facevault/facevault"
	"github.com/facevault/facevault/faceage"
	"github.com/facevault/facevault/faceid"
)

// embeddingAnalyzer is the liveness check with face embeddings, as serve
// --face-embeddings runs it, loaded once for the package's check tests.
var embeddingAnalyzer = sync.OnceValues(func() (facevault.Analyzer, error) {
	a, err := analyzer()
	if err != nil {
		return nil, err
	}
	e, err := faceid.New()
	if err != nil {
		return nil, err
	}
	a.SetEmbedder(e.EmbedFace)
	return a, nil
})

// checkImages are the faces of the check tests: pigo's sample photo; the
// same person in another photo of her (the sample scaled to half its size
// and stored as a PNG: other pixels, the same face); and another person (the
// astronaut of liveness/testdata).
var checkImages = sync.OnceValues(func() (map[string][]byte, error) {
	imgs, err := livenessImages()
	if err != nil {
		return nil, err
	}
	src, err := jpeg.Decode(bytes.NewReader(imgs["face"]))
	if err != nil {
		return nil, err
	}
	small := halve(src)
	var again bytes.Buffer
	if err := png.Encode(&again, small); err != nil {
		return nil, err
	}
	other, err := os.ReadFile("../liveness/testdata/astronaut.png")
	if err != nil {
		return nil, err
	}
	out := map[string][]byte{"same person": again.Bytes(), "other person": other}
	for k, v := range imgs {
		out[k] = v
	}
	return out, nil
})

// halve scales img to half its size, each pixel the mean of four.
func halve(img image.Image) *image.RGBA {
	b := img.Bounds()
	out := image.NewRGBA(image.Rect(0, 0, b.Dx()/2, b.Dy()/2))
	for y := range out.Bounds().Dy() {
		for x := range out.Bounds().Dx() {
			var sum [3]uint32
			for _, d := range []image.Point{{0, 0}, {1, 0}, {0, 1}, {1, 1}} {
				r, g, bl, _ := img.At(b.Min.X+2*x+d.X, b.Min.Y+2*y+d.Y).RGBA()
				sum[0], sum[1], sum[2] = sum[0]+r>>8, sum[1]+g>>8, sum[2]+bl>>8
			}
			out.SetRGBA(x, y, color.RGBA{uint8(sum[0] / 4), uint8(sum[1] / 4), uint8(sum[2] / 4), 255})
		}
	}
	return out
}

// ageEstimator is the age estimation serve runs, loaded once for the
// package's check tests.
var ageEstimator = sync.OnceValues(func() (facevault.AgeEstimator, error) {
	a, err := analyzer()
	if err != nil {
		return nil, err
	}
	e, err := faceage.New()
	if err != nil {
		return nil, err
	}
	return faceage.ImageEstimator{Faces: a, Ages: e}, nil
})

// checkEnv gives env's vault the embedding analyzer and the age
// estimator, as serve runs them by default.
func checkEnv(t *testing.T, env *testEnv) map[string][]byte {
	t.Helper()
	a, err := embeddingAnalyzer()
	if err != nil {
		t.Fatal(err)
	}
	ages, err := ageEstimator()
	if err != nil {
		t.Fatal(err)
	}
	imgs, err := checkImages()
	if err != nil {
		t.Fatal(err)
	}
	env.vault.Analyzer = a
	env.vault.Ages = ages
	return imgs
}

// runChecks runs the check runner, as serve does, until the test ends.
func runChecks(t *testing.T, env *testEnv) {
	ctx, stop := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		env.vault.RunChecks(ctx, "test-runner", 20*time.Millisecond, time.Minute)
	}()
	t.Cleanup(func() { stop(); <-done })
}

// waitCheck polls a check until it is no longer pending.
func (e *testEnv) waitCheck(t *testing.T, key, id string) map[string]any {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		r := e.do(t, "GET", "/v1/checks/"+id, key, nil)
		wantStatus(t, r, http.StatusOK)
		if r.JSON["status"] != facevault.CheckPending {
			return r.JSON
		}
		if time.Now().After(deadline) {
			t.Fatalf("check %s still pending after 30s", id)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (e *testEnv) uploadWith(t *testing.T, key, clientID string, img []byte, extra map[string]any) string {
	t.Helper()
	body := map[string]any{"clientId": clientID, "data": b64(img)}
	for k, v := range extra {
		body[k] = v
	}
	r := e.do(t, "POST", "/v1/livePhotos", key, body)
	wantStatus(t, r, http.StatusOK)
	return str(t, r.JSON, "id")
}

// at returns the value at a path of nested JSON objects.
func at(m map[string]any, keys ...string) any {
	var v any = m
	for _, k := range keys {
		o, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = o[k]
	}
	return v
}

func strs(v any) []string {
	out := []string{}
	l, _ := v.([]any)
	for _, x := range l {
		s, _ := x.(string)
		out = append(out, s)
	}
	return out
}

// TestFaceAuthenticationCheck: a check is accepted pending and completed by
// the runner; its outcome is clear when the photo's face matches one of
// its client's other enrolled faces, attention when none; the photo under
// check, photos uploaded with enrol false and photos without a face are
// not enrolled faces; previouslyEnrolledFace names the other clients of
// the same account and mode whose enrolled faces match, never those of
// another mode or account.
func TestFaceAuthenticationCheck(t *testing.T) {
	forEachBackend(t, func(t *testing.T, env *testEnv) {
		imgs := checkEnv(t, env)
		alice := env.newClientID(t, env.KeyA)
		enrolled := env.uploadWith(t, env.KeyA, alice, imgs["face"], nil)
		optedOut := env.uploadWith(t, env.KeyA, alice, imgs["face"], map[string]any{"enrol": false})
		env.uploadWith(t, env.KeyA, alice, imgs["no face"], nil)
		probe := env.uploadWith(t, env.KeyA, alice, imgs["same person"], nil)
		bob := env.newClientID(t, env.KeyA)
		bobFace := env.uploadWith(t, env.KeyA, bob, imgs["other person"], nil)
		carol := env.newClientID(t, env.KeyA)
		carolFace := env.uploadWith(t, env.KeyA, carol, imgs["face"], nil)
		// The same face in the other mode and in another account.
		env.uploadWith(t, env.KeyALive, env.newClientID(t, env.KeyALive), imgs["face"], nil)
		env.uploadWith(t, env.KeyB, env.newClientID(t, env.KeyB), imgs["face"], nil)

		r := env.do(t, "POST", "/v1/checks", env.KeyA, map[string]any{
			"clientId": alice, "type": "face_authentication_check", "livePhotoId": probe})
		wantStatus(t, r, http.StatusOK)
		id := str(t, r.JSON, "id")
		if r.JSON["status"] != "pending" || r.JSON["clientId"] != alice || r.JSON["livePhotoId"] != probe ||
			r.JSON["type"] != "face_authentication_check" || r.JSON["result"] != nil {
			t.Errorf("created check = %v, want pending, without a result", r.JSON)
		}
		parseTime(t, r.JSON, "createdAt")
		if r.JSON["entityName"] != "Jane Doe" {
			t.Errorf("entityName = %v, want the client's name, Jane Doe", r.JSON["entityName"])
		}
		rb := env.do(t, "POST", "/v1/checks", env.KeyA, map[string]any{
			"clientId": bob, "type": "face_authentication_check", "livePhotoId": bobFace})
		wantStatus(t, rb, http.StatusOK)
		if got := env.do(t, "GET", "/v1/checks/"+id, env.KeyA, nil); got.JSON["status"] != "pending" {
			t.Errorf("before any runner: status %v, want pending", got.JSON["status"])
		}

		runChecks(t, env)
		c := env.waitCheck(t, env.KeyA, id)
		if c["status"] != "complete" {
			t.Fatalf("check = %v, want complete", c)
		}
		if got := at(c, "result", "outcome"); got != "clear" {
			t.Errorf("outcome = %v, want clear; result %v", got, c["result"])
		}
		// entityName follows the client's name as it is when read.
		wantStatus(t, env.do(t, "POST", "/v1/clients/"+alice, env.KeyA, map[string]any{
			"personDetails": map[string]any{"firstName": "Alicia", "lastName": "Doe"}}), http.StatusOK)
		if got := env.do(t, "GET", "/v1/checks/"+id, env.KeyA, nil).JSON["entityName"]; got != "Alicia Doe" {
			t.Errorf("entityName after renaming the client = %v, want Alicia Doe", got)
		}
		list := env.do(t, "GET", "/v1/checks?clientId="+alice, env.KeyA, nil)
		wantStatus(t, list, http.StatusOK)
		items, _ := list.JSON["items"].([]any)
		if len(items) != 1 {
			t.Fatalf("alice's checks: %v, want one", list.JSON)
		}
		if got := items[0].(map[string]any)["entityName"]; got != "Alicia Doe" {
			t.Errorf("listed check: entityName %v, want Alicia Doe", got)
		}
		fa := []string{"result", "breakdown", "faceAuthentication"}
		if got := at(c, append(fa, "facialSimilarity")...); got != "clear" {
			t.Errorf("facialSimilarity = %v, want clear", got)
		}
		if got := strs(at(c, append(fa, "breakdown", "enrolledFaces", "livePhotoIds")...)); !slices.Equal(got, []string{enrolled}) {
			t.Errorf("enrolledFaces = %v, want only %s (not the photo under check %s, not the opted-out %s, not the faceless one)",
				got, enrolled, probe, optedOut)
		}
		matched, _ := at(c, append(fa, "breakdown", "facesMatched")...).([]any)
		if len(matched) != 1 {
			t.Fatalf("facesMatched = %v, want one", matched)
		}
		m := matched[0].(map[string]any)
		score, _ := m["facialSimilarityScore"].(float64)
		if m["livePhotoId"] != enrolled || score < facevault.FaceMatchThreshold || score > 100 || score != float64(int(score)) {
			t.Errorf("facesMatched[0] = %v, want %s with an integer score from %d to 100", m, enrolled, facevault.FaceMatchThreshold)
		}
		prev := []string{"result", "breakdown", "previouslyEnrolledFace"}
		if got := at(c, append(prev, "outcome")...); got != "attention" {
			t.Errorf("previouslyEnrolledFace.outcome = %v, want attention", got)
		}
		pm, _ := at(c, append(prev, "matches")...).([]any)
		if len(pm) != 1 {
			t.Fatalf("previouslyEnrolledFace.matches = %v, want carol's face only (not bob's, not other modes or accounts)", pm)
		}
		if m := pm[0].(map[string]any); m["clientId"] != carol || m["livePhotoId"] != carolFace || m["score"].(float64) < facevault.PreviouslyEnrolledThreshold {
			t.Errorf("previouslyEnrolledFace.matches[0] = %v, want carol %s", m, carolFace)
		}
		if parseTime(t, c, "updatedAt").Before(parseTime(t, c, "createdAt")) {
			t.Error("updatedAt before createdAt")
		}

		// Bob: another person, no other face of his enrolled.
		cb := env.waitCheck(t, env.KeyA, str(t, rb.JSON, "id"))
		if at(cb, "result", "outcome") != "attention" || at(cb, "result", "breakdown", "faceAuthentication", "facialSimilarity") != "attention" ||
			len(strs(at(cb, "result", "breakdown", "faceAuthentication", "breakdown", "enrolledFaces", "livePhotoIds"))) != 0 ||
			at(cb, "result", "breakdown", "previouslyEnrolledFace", "outcome") != "clear" {
			t.Errorf("bob's check = %v, want attention, no enrolled face, previouslyEnrolledFace clear", cb["result"])
		}
		if got, _ := at(cb, "result", "breakdown", "faceAuthentication", "breakdown", "facesMatched").([]any); got == nil || len(got) != 0 {
			t.Errorf("bob's facesMatched = %v, want []", got)
		}

		// Other tenants do not see the check.
		wantError(t, env.do(t, "GET", "/v1/checks/"+id, env.KeyALive, nil), http.StatusNotFound, "resource_not_found", "Invalid check id '"+id+"'", "")
		wantError(t, env.do(t, "GET", "/v1/checks/"+id, env.KeyB, nil), http.StatusNotFound, "resource_not_found", "", "")
		wantError(t, env.do(t, "GET", "/v1/checks/nope", env.KeyA, nil), http.StatusNotFound, "resource_not_found", "", "")
	})
}

// TestCheckErrors: the contract's errors, with param, for every refusal.
func TestCheckErrors(t *testing.T) {
	forEachBackend(t, func(t *testing.T, env *testEnv) {
		imgs := checkEnv(t, env)
		alice := env.newClientID(t, env.KeyA)
		face := env.uploadWith(t, env.KeyA, alice, imgs["face"], nil)
		noFace := env.uploadWith(t, env.KeyA, alice, imgs["no face"], nil)
		twoFaces := env.uploadWith(t, env.KeyA, alice, imgs["two faces"], nil)
		noCheck := env.uploadWith(t, env.KeyA, alice, imgs["face"], map[string]any{"performLivenessCheck": false})
		redacted := env.uploadWith(t, env.KeyA, alice, imgs["face"], nil)
		wantStatus(t, env.do(t, "POST", "/v1/livePhotos/"+redacted+"/redact", env.KeyA, nil), http.StatusOK)
		bob := env.newClientID(t, env.KeyA)
		bobFace := env.uploadWith(t, env.KeyA, bob, imgs["face"], nil)
		liveClient := env.newClientID(t, env.KeyALive)
		liveFace := env.uploadWith(t, env.KeyALive, liveClient, imgs["face"], nil)
		const fa = "face_authentication_check"
		tests := []struct {
			name                string
			body                map[string]any
			status              int
			typ, message, param string
		}{
			{"ErrClientIDRequired", map[string]any{"type": fa, "livePhotoId": face}, 400, "invalid_request", "The 'clientId' field is required", "clientId"},
			{"ErrClientIDType", map[string]any{"clientId": 7, "type": fa, "livePhotoId": face}, 400, "invalid_request", "", "clientId"},
			{"ErrClientIDMalformed", map[string]any{"clientId": "x", "type": fa, "livePhotoId": face}, 404, "resource_not_found", "Invalid client id 'x'", "clientId"},
			{"ErrClientOfOtherMode", map[string]any{"clientId": liveClient, "type": fa, "livePhotoId": liveFace}, 404, "resource_not_found", "", "clientId"},
			{"ErrTypeRequired", map[string]any{"clientId": alice, "livePhotoId": face}, 400, "invalid_request", "The 'type' field is required", "type"},
			{"ErrTypeUnknown", map[string]any{"clientId": alice, "type": "palm_check", "livePhotoId": face}, 400, "invalid_request", "Invalid check type 'palm_check'", "type"},
			{"ErrTypeUnavailable", map[string]any{"clientId": alice, "type": "identity_check", "livePhotoId": face}, 422, "check_type_unavailable", "", "type"},
			{"ErrAgeNoFace", map[string]any{"clientId": alice, "type": "age_estimation_check", "livePhotoId": noFace}, 422, "no_face_detected", "", "livePhotoId"},
			{"ErrAgeRedacted", map[string]any{"clientId": alice, "type": "age_estimation_check", "livePhotoId": redacted}, 422, "live_photo_redacted", "", "livePhotoId"},
			{"ErrLivePhotoIDRequired", map[string]any{"clientId": alice, "type": fa}, 400, "invalid_request", "The 'livePhotoId' field is required", "livePhotoId"},
			{"ErrLivePhotoIDMalformed", map[string]any{"clientId": alice, "type": fa, "livePhotoId": "zz"}, 404, "resource_not_found", "Invalid live photo id 'zz'", "livePhotoId"},
			{"ErrLivePhotoUnknown", map[string]any{"clientId": alice, "type": fa, "livePhotoId": unknownID()}, 404, "resource_not_found", "", "livePhotoId"},
			{"ErrLivePhotoOfOtherClient", map[string]any{"clientId": alice, "type": fa, "livePhotoId": bobFace}, 404, "resource_not_found", "Invalid live photo id '" + bobFace + "'", "livePhotoId"},
			{"ErrLivePhotoOfOtherMode", map[string]any{"clientId": alice, "type": fa, "livePhotoId": liveFace}, 404, "resource_not_found", "", "livePhotoId"},
			{"ErrNoFace", map[string]any{"clientId": alice, "type": fa, "livePhotoId": noFace}, 422, "no_face_detected", "", "livePhotoId"},
			{"ErrMultipleFaces", map[string]any{"clientId": alice, "type": fa, "livePhotoId": twoFaces}, 422, "multiple_faces_detected", "", "livePhotoId"},
			{"ErrNoFaceData", map[string]any{"clientId": alice, "type": fa, "livePhotoId": noCheck}, 422, "face_data_unavailable", "", "livePhotoId"},
			{"ErrRedacted", map[string]any{"clientId": alice, "type": fa, "livePhotoId": redacted}, 422, "live_photo_redacted", "", "livePhotoId"},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				var hdr []string
				if tt.status == http.StatusBadRequest {
					hdr = invalid(tt.name)
				}
				wantError(t, env.do(t, "POST", "/v1/checks", env.KeyA, tt.body, hdr...), tt.status, tt.typ, tt.message, tt.param)
			})
		}
		wantError(t, env.do(t, "POST", "/v1/checks", env.KeyB, map[string]any{"clientId": alice, "type": fa, "livePhotoId": face}),
			http.StatusNotFound, "resource_not_found", "", "clientId")
		// A server without the age model (serve --age-estimation=false).
		env.vault.Ages = nil
		wantError(t, env.do(t, "POST", "/v1/checks", env.KeyA, map[string]any{"clientId": alice, "type": "age_estimation_check", "livePhotoId": face}),
			http.StatusUnprocessableEntity, "check_type_unavailable",
			"Check type 'age_estimation_check' is not available on this server: it runs without its age model", "type")
		_, ids := env.list(t, env.KeyA, "/v1/checks")
		if len(ids) != 0 {
			t.Errorf("refused checks were stored: %v", ids)
		}
	})
}

// TestCheckLifecycle: list filters and paging, update, validate, a photo a
// check uses cannot be deleted but can be redacted, deleting the client
// deletes its checks, and every request is in the audit log.
func TestCheckLifecycle(t *testing.T) {
	forEachBackend(t, func(t *testing.T, env *testEnv) {
		imgs := checkEnv(t, env)
		alice := env.newClientID(t, env.KeyA)
		env.uploadWith(t, env.KeyA, alice, imgs["face"], nil)
		probe := env.uploadWith(t, env.KeyA, alice, imgs["same person"], nil)
		bob := env.newClientID(t, env.KeyA)
		bobFace := env.uploadWith(t, env.KeyA, bob, imgs["other person"], nil)
		create := func(key, client, photo string) string {
			r := env.do(t, "POST", "/v1/checks/", key, map[string]any{"clientId": client, "type": "face_authentication_check", "livePhotoId": photo})
			wantStatus(t, r, http.StatusOK)
			return str(t, r.JSON, "id")
		}
		a1 := create(env.KeyA, alice, probe)
		b1 := create(env.KeyA, bob, bobFace)

		// Validating a pending check.
		wantError(t, env.do(t, "POST", "/v1/checks/"+a1+"/validate", env.KeyA, map[string]any{"outcome": "clear"}),
			422, "check_not_complete", "", "")

		runChecks(t, env)
		env.waitCheck(t, env.KeyA, a1)
		env.waitCheck(t, env.KeyA, b1)
		a2 := create(env.KeyA, alice, probe)
		env.waitCheck(t, env.KeyA, a2)

		page, ids := env.list(t, env.KeyA, "/v1/checks")
		wantEnvelope(t, page, 1, 100, 3, 1, 3)
		if !slices.Equal(ids, []string{a2, b1, a1}) {
			t.Errorf("list = %v, want newest first %v", ids, []string{a2, b1, a1})
		}
		for query, want := range map[string][]string{
			"clientId=" + alice:                        {a2, a1},
			"clientId=" + bob + "&status=complete":     {b1},
			"type=face_authentication_check":           {a2, b1, a1},
			"type=identity_check":                      {},
			"status=pending":                           {},
			"clientId=" + alice + "&pageSize=1&page=2": {a1},
			"createdBefore=2000-01-01":                 {},
			"createdAfter=2000-01-01":                  {a2, b1, a1},
			"unknown=1":                                {},
			"clientId=":                                {},
		} {
			if _, got := env.list(t, env.KeyA, "/v1/checks?"+query); !slices.Equal(got, want) {
				t.Errorf("list ?%s = %v, want %v", query, got, want)
			}
		}
		if _, got := env.list(t, env.KeyALive, "/v1/checks"); len(got) != 0 {
			t.Errorf("the other mode lists %v", got)
		}
		wantError(t, env.do(t, "GET", "/v1/checks?pageSize=0", env.KeyA, nil, invalid("pageSize out of range")...), 400, "invalid_request", "", "pageSize")

		// Update: nothing of a face authentication check can change.
		r := env.do(t, "POST", "/v1/checks/"+a1, env.KeyA, map[string]any{"clientId": alice, "enableMonitoring": false})
		wantStatus(t, r, http.StatusOK)
		if r.JSON["id"] != a1 || r.JSON["status"] != "complete" || at(r.JSON, "result", "outcome") != "clear" {
			t.Errorf("update answered %v", r.JSON)
		}
		wantError(t, env.do(t, "POST", "/v1/checks/"+a1, env.KeyA, map[string]any{"livePhotoId": bobFace}),
			400, "invalid_request", "The 'livePhotoId' of a check cannot be changed", "livePhotoId")
		wantError(t, env.do(t, "POST", "/v1/checks/"+a1, env.KeyA, map[string]any{"type": "identity_check"}),
			400, "invalid_request", "", "type")
		wantError(t, env.do(t, "POST", "/v1/checks/"+a1, env.KeyB, map[string]any{}), 404, "resource_not_found", "", "")

		// Validate.
		for _, tc := range []struct {
			body  map[string]any
			param string
		}{
			{map[string]any{}, "outcome"},
			{map[string]any{"outcome": "maybe"}, "outcome"},
			{map[string]any{"outcome": "clear", "matchId": "m"}, "matchId"},
			{map[string]any{"outcome": 1}, "outcome"},
		} {
			wantError(t, env.do(t, "POST", "/v1/checks/"+a1+"/validate", env.KeyA, tc.body, invalid("a bad validation")...), 400, "invalid_request", "", tc.param)
		}
		r = env.do(t, "POST", "/v1/checks/"+a1+"/validate", env.KeyA, map[string]any{"outcome": "attention", "comment": "second look"})
		wantStatus(t, r, http.StatusOK)
		if r.JSON["outcome"] != "attention" || r.JSON["comment"] != "second look" {
			t.Errorf("validate answered %v", r.JSON)
		}
		got := env.do(t, "GET", "/v1/checks/"+a1, env.KeyA, nil).JSON
		if at(got, "validation", "outcome") != "attention" || at(got, "validation", "comment") != "second look" ||
			at(got, "result", "outcome") != "clear" {
			t.Errorf("validated check = %v, want the validation beside the unchanged result", got)
		}
		wantError(t, env.do(t, "POST", "/v1/checks/"+a1+"/validate", env.KeyALive, map[string]any{"outcome": "clear"}), 404, "resource_not_found", "", "")

		// A photo a check uses: no delete, redaction yes.
		wantError(t, env.do(t, "DELETE", "/v1/livePhotos/"+probe, env.KeyA, nil), http.StatusConflict, "live_photo_in_use",
			"Live photo '"+probe+"' is used by a check and cannot be deleted; it can be redacted", "")
		wantStatus(t, env.do(t, "GET", "/v1/livePhotos/"+probe, env.KeyA, nil), http.StatusOK)
		wantStatus(t, env.do(t, "POST", "/v1/livePhotos/"+probe+"/redact", env.KeyA, nil), http.StatusOK)
		if got := env.do(t, "GET", "/v1/checks/"+a1, env.KeyA, nil); got.Status != 200 || at(got.JSON, "result", "outcome") != "clear" {
			t.Errorf("the check after its photo's redaction: %d %v", got.Status, got.JSON)
		}
		wantError(t, env.do(t, "POST", "/v1/checks", env.KeyA, map[string]any{"clientId": alice, "type": "face_authentication_check", "livePhotoId": probe}),
			422, "live_photo_redacted", "", "livePhotoId")

		// Deleting the client deletes its checks; bob's stay.
		wantStatus(t, env.do(t, "DELETE", "/v1/clients/"+alice, env.KeyA, nil), http.StatusNoContent)
		for _, id := range []string{a1, a2} {
			wantError(t, env.do(t, "GET", "/v1/checks/"+id, env.KeyA, nil), 404, "resource_not_found", "", "")
		}
		if _, got := env.list(t, env.KeyA, "/v1/checks"); !slices.Equal(got, []string{b1}) {
			t.Errorf("after deleting alice: %v, want bob's only", got)
		}

		// Audit: every check route recorded as a check.
		triggers := map[string]bool{}
		for _, e := range env.auditLogs(t, env.KeyA, "&resourceType=check") {
			triggers[e["trigger"].(string)] = true
			if e["trigger"] == "getCheck" && e["outcome"] == "success" && e["clientId"] == nil {
				t.Errorf("getCheck entry without its client: %v", e)
			}
		}
		for _, tr := range []string{"createCheck", "getCheck", "listChecks", "updateCheck", "validateCheck"} {
			if !triggers[tr] {
				t.Errorf("no audit entry with trigger %s (have %v)", tr, triggers)
			}
		}
	})
}

// TestCheckLeaseTakeover: a runner that claimed a check and died leaves it
// pending; another runner completes it once the lease has expired, and the
// dead runner's late result is not stored over it.
func TestCheckLeaseTakeover(t *testing.T) {
	forEachBackend(t, func(t *testing.T, env *testEnv) {
		imgs := checkEnv(t, env)
		ctx := context.Background()
		alice := env.newClientID(t, env.KeyA)
		env.uploadWith(t, env.KeyA, alice, imgs["face"], nil)
		probe := env.uploadWith(t, env.KeyA, alice, imgs["same person"], nil)
		r := env.do(t, "POST", "/v1/checks", env.KeyA, map[string]any{"clientId": alice, "type": "face_authentication_check", "livePhotoId": probe})
		wantStatus(t, r, http.StatusOK)
		id := str(t, r.JSON, "id")

		start := time.Now().UTC()
		env.clock.Set(start)
		claimed, err := env.vault.ClaimCheck(ctx, "dead-node", time.Minute)
		if err != nil || claimed.ID != id {
			t.Fatalf("ClaimCheck = %v, %v; want %s", claimed, err, id)
		}
		env.clock.Set(start.Add(59 * time.Second))
		if ran, err := env.vault.RunCheck(ctx, "live-node", time.Minute); err != nil || ran {
			t.Fatalf("RunCheck within the lease = %v, %v; want nothing to run", ran, err)
		}
		if got := env.do(t, "GET", "/v1/checks/"+id, env.KeyA, nil); got.JSON["status"] != "pending" {
			t.Fatalf("status within the lease = %v, want pending", got.JSON["status"])
		}
		env.clock.Set(start.Add(time.Minute))
		if ran, err := env.vault.RunCheck(ctx, "live-node", time.Minute); err != nil || !ran {
			t.Fatalf("RunCheck after the lease = %v, %v; want the check run", ran, err)
		}
		got := env.do(t, "GET", "/v1/checks/"+id, env.KeyA, nil).JSON
		if got["status"] != "complete" || at(got, "result", "outcome") != "clear" {
			t.Fatalf("after takeover: %v", got)
		}
		// The dead node comes back and finishes: nothing changes.
		claimed.Status, claimed.Result = facevault.CheckFailed, nil
		if err := env.vault.Store.FinishCheck(ctx, claimed, "dead-node"); err == nil {
			t.Error("FinishCheck by the holder whose lease expired succeeded")
		}
		if again := env.do(t, "GET", "/v1/checks/"+id, env.KeyA, nil).JSON; again["status"] != "complete" {
			t.Errorf("after the late finish: %v", again)
		}
	})
}

// TestCheckFailsWhenFaceGone: a photo redacted after its check was accepted
// leaves nothing to compare: the check ends failed, without a result.
func TestCheckFailsWhenFaceGone(t *testing.T) {
	forEachBackend(t, func(t *testing.T, env *testEnv) {
		imgs := checkEnv(t, env)
		alice := env.newClientID(t, env.KeyA)
		env.uploadWith(t, env.KeyA, alice, imgs["face"], nil)
		probe := env.uploadWith(t, env.KeyA, alice, imgs["same person"], nil)
		r := env.do(t, "POST", "/v1/checks", env.KeyA, map[string]any{"clientId": alice, "type": "face_authentication_check", "livePhotoId": probe})
		wantStatus(t, r, http.StatusOK)
		wantStatus(t, env.do(t, "POST", "/v1/livePhotos/"+probe+"/redact", env.KeyA, nil), http.StatusOK)
		if ran, err := env.vault.RunCheck(context.Background(), "node", time.Minute); err != nil || !ran {
			t.Fatalf("RunCheck = %v, %v", ran, err)
		}
		got := env.do(t, "GET", "/v1/checks/"+str(t, r.JSON, "id"), env.KeyA, nil).JSON
		if got["status"] != "failed" || got["result"] != nil {
			t.Errorf("check of a photo redacted before it ran = %v, want failed without a result", got)
		}
		wantError(t, env.do(t, "POST", "/v1/checks/"+str(t, r.JSON, "id")+"/validate", env.KeyA, map[string]any{"outcome": "clear"}),
			422, "check_not_complete", "", "")
	})
}

// TestCheckRetention: nothing of a photo outlives its retention, not even
// a check that uses it (which an API deletion would refuse): retention
// deletes the photo and its checks, and leaves the client's other checks.
func TestCheckRetention(t *testing.T) {
	forEachBackend(t, func(t *testing.T, env *testEnv) {
		imgs := checkEnv(t, env)
		ctx := context.Background()
		start := time.Now().UTC().Truncate(time.Millisecond)
		env.clock.Set(start)
		day := 24 * time.Hour
		short := str(t, env.createClient(t, env.KeyA, map[string]any{"retention": map[string]any{"days": 3}}), "id")
		env.uploadWith(t, env.KeyA, short, imgs["face"], nil)
		probe := env.uploadWith(t, env.KeyA, short, imgs["same person"], nil)
		keep := env.newClientID(t, env.KeyA)
		keepFace := env.uploadWith(t, env.KeyA, keep, imgs["face"], nil)
		create := func(client, photo string) string {
			r := env.do(t, "POST", "/v1/checks", env.KeyA, map[string]any{"clientId": client, "type": "face_authentication_check", "livePhotoId": photo})
			wantStatus(t, r, http.StatusOK)
			return str(t, r.JSON, "id")
		}
		gone, kept := create(short, probe), create(keep, keepFace)
		env.clock.Set(start.Add(4 * day))
		if _, err := env.vault.Retain(ctx); err != nil {
			t.Fatalf("Retain: %v", err)
		}
		wantError(t, env.do(t, "GET", "/v1/livePhotos/"+probe, env.KeyA, nil), http.StatusNotFound, "resource_not_found", "", "")
		wantError(t, env.do(t, "GET", "/v1/checks/"+gone, env.KeyA, nil), http.StatusNotFound, "resource_not_found", "", "")
		wantStatus(t, env.do(t, "GET", "/v1/checks/"+kept, env.KeyA, nil), http.StatusOK)
		env.waitPurged(t)
	})
}

// liveFailingStore is a record store whose live photo reads fail while
// broken is set: an internal error in the middle of a check.
type liveFailingStore struct {
	facevault.Store
	broken *bool
}

func (s liveFailingStore) LivePhoto(ctx context.Context, sc facevault.Scope, id string) (*facevault.LivePhoto, error) {
	if *s.broken {
		return nil, errors.New("the record store is unreachable")
	}
	return s.Store.LivePhoto(ctx, sc, id)
}

// TestCheckRetries: a check whose run fails on an internal error stays
// pending and is not claimed again before its retry delay (the lease,
// doubled at each attempt); a run that then succeeds completes it; a check
// that fails MaxCheckAttempts times ends failed, without a result.
func TestCheckRetries(t *testing.T) {
	forEachBackend(t, func(t *testing.T, env *testEnv) {
		imgs := checkEnv(t, env)
		ctx := context.Background()
		alice := env.newClientID(t, env.KeyA)
		env.uploadWith(t, env.KeyA, alice, imgs["face"], nil)
		probe := env.uploadWith(t, env.KeyA, alice, imgs["same person"], nil)
		newCheck := func() string {
			r := env.do(t, "POST", "/v1/checks", env.KeyA, map[string]any{"clientId": alice, "type": "face_authentication_check", "livePhotoId": probe})
			wantStatus(t, r, http.StatusOK)
			return str(t, r.JSON, "id")
		}
		status := func(id string) any { return env.do(t, "GET", "/v1/checks/"+id, env.KeyA, nil).JSON["status"] }
		recovers := newCheck()
		orig := env.vault.Store
		broken := true
		env.vault.Store = liveFailingStore{orig, &broken}
		defer func() { env.vault.Store = orig }()
		env.logs.allowErrors("check failed on its last attempt")

		now := time.Now().UTC()
		env.clock.Set(now)
		// fail runs the check once, failing, and checks that it waits
		// delay before the next attempt.
		fail := func(id string, delay time.Duration) {
			t.Helper()
			if ran, err := env.vault.RunCheck(ctx, "node", time.Minute); err != nil || !ran {
				t.Fatalf("RunCheck = %v, %v; want a failed attempt", ran, err)
			}
			if s := status(id); s != "pending" {
				t.Fatalf("after a failed attempt: status %v, want pending", s)
			}
			env.clock.Set(now.Add(delay - time.Millisecond))
			if ran, err := env.vault.RunCheck(ctx, "node", time.Minute); err != nil || ran {
				t.Fatalf("RunCheck %v after a failed attempt = %v, %v; want nothing to run before %v", delay-time.Millisecond, ran, err, delay)
			}
			now = now.Add(delay)
			env.clock.Set(now)
		}
		fail(recovers, time.Minute)
		fail(recovers, 2*time.Minute)
		broken = false
		if ran, err := env.vault.RunCheck(ctx, "node", time.Minute); err != nil || !ran {
			t.Fatalf("RunCheck after recovery = %v, %v", ran, err)
		}
		if s := status(recovers); s != "complete" {
			t.Fatalf("a check whose store recovered: status %v, want complete", s)
		}

		gives := newCheck()
		broken = true
		delay := time.Minute
		for range facevault.MaxCheckAttempts - 1 {
			fail(gives, delay)
			delay = min(2*delay, time.Hour)
		}
		if ran, err := env.vault.RunCheck(ctx, "node", time.Minute); err != nil || !ran {
			t.Fatalf("last attempt = %v, %v", ran, err)
		}
		got := env.do(t, "GET", "/v1/checks/"+gives, env.KeyA, nil).JSON
		if got["status"] != "failed" || got["result"] != nil {
			t.Errorf("after %d failed attempts: %v, want failed without a result", facevault.MaxCheckAttempts, got)
		}
		if ran, err := env.vault.RunCheck(ctx, "node", time.Minute); err != nil || ran {
			t.Errorf("RunCheck after the check failed = %v, %v; want nothing to run", ran, err)
		}
	})
}

// TestAgeEstimationCheck: an age estimation check estimates the age of the
// photo's face, with the range, and validates it against the minimum age:
// clear at or above it, attention below; the photo under check is never
// compared with itself, and a photo redacted before the run fails it.
func TestAgeEstimationCheck(t *testing.T) {
	forEachBackend(t, func(t *testing.T, env *testEnv) {
		imgs := checkEnv(t, env)
		alice := env.newClientID(t, env.KeyA)
		face := env.uploadWith(t, env.KeyA, alice, imgs["face"], nil)
		// The same face under another client, and another person.
		bob := env.newClientID(t, env.KeyA)
		bobFace := env.uploadWith(t, env.KeyA, bob, imgs["same person"], nil)
		env.uploadWith(t, env.KeyA, env.newClientID(t, env.KeyA), imgs["other person"], nil)
		create := func(photo string) string {
			r := env.do(t, "POST", "/v1/checks", env.KeyA, map[string]any{"clientId": alice, "type": "age_estimation_check", "livePhotoId": photo})
			wantStatus(t, r, http.StatusOK)
			if r.JSON["status"] != "pending" || r.JSON["type"] != "age_estimation_check" {
				t.Errorf("created: %v", r.JSON)
			}
			return str(t, r.JSON, "id")
		}
		run := func(id string) map[string]any {
			if ran, err := env.vault.RunCheck(context.Background(), "node", time.Minute); err != nil || !ran {
				t.Fatalf("RunCheck = %v, %v", ran, err)
			}
			return env.do(t, "GET", "/v1/checks/"+id, env.KeyA, nil).JSON
		}
		want, err := env.vault.Ages.EstimateAge(context.Background(), imgs["face"])
		if err != nil {
			t.Fatal(err)
		}
		age := int(math.Round(want.Age))
		for _, tc := range []struct {
			minAge  int
			outcome string
		}{{age, "clear"}, {age + 1, "attention"}} {
			env.vault.MinimumAge = tc.minAge
			c := run(create(face))
			if c["status"] != "complete" || at(c, "result", "outcome") != tc.outcome {
				t.Fatalf("minimum age %d, estimate %v: %v; want complete, %s", tc.minAge, want, c, tc.outcome)
			}
			a := []string{"result", "breakdown", "ageEstimationAnalysis"}
			if got := at(c, append(a, "ageValidation")...); got != tc.outcome {
				t.Errorf("ageValidation = %v, want %s", got, tc.outcome)
			}
			for k, v := range map[string]int{"age": age, "ageMin": want.AgeMin, "ageMax": want.AgeMax, "minimumAge": tc.minAge} {
				if got := at(c, append(a, "breakdown", k)...); got != float64(v) {
					t.Errorf("breakdown.%s = %v, want %d", k, got, v)
				}
			}
			if at(c, "result", "breakdown", "faceAuthentication") != nil {
				t.Errorf("an age check carries a face authentication: %v", c["result"])
			}
			// Every face-consuming check says whether the face is enrolled
			// under another client: bob's photo is of the same person.
			prev, _ := at(c, "result", "breakdown", "previouslyEnrolledFace").(map[string]any)
			matches, _ := prev["matches"].([]any)
			if prev["outcome"] != "attention" || len(matches) != 1 || matches[0].(map[string]any)["livePhotoId"] != bobFace {
				t.Errorf("previouslyEnrolledFace = %v, want attention with bob's photo %s only", prev, bobFace)
			}
		}
		env.vault.MinimumAge = 0 // the default, 18
		id := create(face)
		wantStatus(t, env.do(t, "POST", "/v1/livePhotos/"+face+"/redact", env.KeyA, nil), http.StatusOK)
		if c := run(id); c["status"] != "failed" || c["result"] != nil {
			t.Errorf("age check of a photo redacted before it ran: %v, want failed without a result", c)
		}
	})
}
