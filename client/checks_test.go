package client_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/json"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"io"
	"net/http"
	"os"
	"slices"
	"testing"
	"time"

	"github.com/facevault/facevault"
	"github.com/facevault/facevault/client"
	"github.com/facevault/facevault/faceid"
	"github.com/facevault/facevault/liveness"
)

// faceEnv gives e's vault the liveness check with face embeddings, as serve
// runs it, and the check runner; it returns a face, the same face in other
// pixels (half the size, as a PNG), and another person's face.
func faceEnv(t *testing.T, e *env) (face, same, other []byte) {
	t.Helper()
	a, err := liveness.New(liveness.DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	emb, err := faceid.New()
	if err != nil {
		t.Fatal(err)
	}
	a.SetEmbedder(emb.EmbedFace)
	e.vault.Analyzer = a
	ctx, stop := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		e.vault.RunChecks(ctx, "test-runner", 20*time.Millisecond, time.Minute)
	}()
	t.Cleanup(func() { stop(); <-done })

	face, err = os.ReadFile("../liveness/testdata/pigo-sample.jpg")
	if err != nil {
		t.Fatal(err)
	}
	other, err = os.ReadFile("../liveness/testdata/astronaut.png")
	if err != nil {
		t.Fatal(err)
	}
	src, err := jpeg.Decode(bytes.NewReader(face))
	if err != nil {
		t.Fatal(err)
	}
	b := src.Bounds()
	small := image.NewRGBA(image.Rect(0, 0, b.Dx()/2, b.Dy()/2))
	for y := range small.Bounds().Dy() {
		for x := range small.Bounds().Dx() {
			var s [3]uint32
			for _, d := range []image.Point{{0, 0}, {1, 0}, {0, 1}, {1, 1}} {
				r, g, bl, _ := src.At(b.Min.X+2*x+d.X, b.Min.Y+2*y+d.Y).RGBA()
				s[0], s[1], s[2] = s[0]+r>>8, s[1]+g>>8, s[2]+bl>>8
			}
			small.SetRGBA(x, y, color.RGBA{uint8(s[0] / 4), uint8(s[1] / 4), uint8(s[2] / 4), 255})
		}
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, small); err != nil {
		t.Fatal(err)
	}
	return face, buf.Bytes(), other
}

// TestChecks: create, get, list, update and validate a face authentication
// check, its typed result, and a photo in use that cannot be deleted.
func TestChecks(t *testing.T) {
	e := newEnv(t)
	face, same, other := faceEnv(t, e)
	ctx := context.Background()
	c := e.client(t, "")
	upload := func(clientID string, img []byte) *client.LivePhoto {
		t.Helper()
		p, err := c.UploadLivePhoto(ctx, &client.UploadParams{ClientID: clientID, Image: bytes.NewReader(img)})
		if err != nil {
			t.Fatalf("UploadLivePhoto: %v", err)
		}
		return p
	}
	alice := newPerson(t, c, "Alice")
	enrolled := upload(alice.ID, face)
	if enrolled.LivenessCheck == nil || enrolled.LivenessCheck.Outcome == "" || len(enrolled.LivenessCheck.Breakdown) == 0 {
		t.Errorf("livenessCheck = %+v", enrolled.LivenessCheck)
	}
	probe := upload(alice.ID, same)
	bob := newPerson(t, c, "Bob")
	bobFace := upload(bob.ID, face)
	upload(bob.ID, other)

	ch, err := c.CreateCheck(ctx, &client.CheckParams{ClientID: alice.ID, Type: client.CheckFaceAuthentication, LivePhotoID: probe.ID})
	if err != nil {
		t.Fatalf("CreateCheck: %v", err)
	}
	if ch.Status != client.CheckPending || ch.EntityName != "Alice Doe" || ch.LivePhotoID != probe.ID || ch.Result != nil {
		t.Errorf("created check = %+v", ch)
	}
	wctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	done, err := c.WaitCheck(wctx, ch.ID, 20*time.Millisecond)
	if err != nil {
		t.Fatalf("WaitCheck: %v", err)
	}
	if done.Status != client.CheckComplete || done.Result == nil {
		t.Fatalf("check = %+v, want complete", done)
	}
	r := done.Result
	fa, pef := r.Breakdown.FaceAuthentication, r.Breakdown.PreviouslyEnrolledFace
	if r.Outcome != client.OutcomeClear || fa == nil || fa.FacialSimilarity != client.OutcomeClear ||
		!slices.Equal(fa.Breakdown.EnrolledFaces.LivePhotoIDs, []string{enrolled.ID}) ||
		len(fa.Breakdown.FacesMatched) != 1 || fa.Breakdown.FacesMatched[0].LivePhotoID != enrolled.ID ||
		fa.Breakdown.FacesMatched[0].FacialSimilarityScore < 92 {
		t.Errorf("faceAuthentication = %+v (outcome %s)", fa, r.Outcome)
	}
	if pef == nil || pef.Outcome != client.OutcomeAttention || len(pef.Matches) != 1 ||
		pef.Matches[0].ClientID != bob.ID || pef.Matches[0].LivePhotoID != bobFace.ID || pef.Matches[0].Score < 92 {
		t.Errorf("previouslyEnrolledFace = %+v", pef)
	}
	if r.Breakdown.AgeEstimation != nil {
		t.Errorf("a face authentication check has an age estimation: %+v", r.Breakdown.AgeEstimation)
	}

	if got, err := c.GetCheck(ctx, ch.ID); err != nil || got.ID != ch.ID || got.Status != client.CheckComplete {
		t.Errorf("GetCheck = %+v, %v", got, err)
	}
	if got, err := c.UpdateCheck(ctx, ch.ID, &client.CheckParams{ClientID: alice.ID}); err != nil || got.ID != ch.ID {
		t.Errorf("UpdateCheck with the same client = %+v, %v", got, err)
	}
	_, err = c.UpdateCheck(ctx, ch.ID, &client.CheckParams{LivePhotoID: enrolled.ID})
	wantError(t, err, 400, client.TypeInvalidRequest, "livePhotoId")
	v, err := c.ValidateCheck(ctx, ch.ID, client.OutcomeAttention, "looked again")
	if err != nil || v.Outcome != client.OutcomeAttention || v.Comment != "looked again" {
		t.Errorf("ValidateCheck = %+v, %v", v, err)
	}
	_, err = c.ValidateCheck(ctx, ch.ID, "", "")
	wantError(t, err, 400, client.TypeInvalidRequest, "outcome")
	if got, err := c.GetCheck(ctx, ch.ID); err != nil || got.Validation == nil || got.Validation.Outcome != client.OutcomeAttention || got.Validation.ValidatedAt.IsZero() {
		t.Errorf("validated check = %+v, %v", got, err)
	}
	if _, err := c.GetCheck(ctx, "0123456789abcdef01234567"); !client.IsNotFound(err) {
		t.Errorf("GetCheck of an unknown id: %v", err)
	}

	ch2, err := c.CreateCheck(ctx, &client.CheckParams{ClientID: bob.ID, Type: client.CheckFaceAuthentication, LivePhotoID: bobFace.ID})
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for x, err := range c.Checks(ctx, &client.CheckFilter{ListOptions: client.ListOptions{PageSize: 1}}) {
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, x.ID)
	}
	if !slices.Equal(ids, []string{ch2.ID, ch.ID}) {
		t.Errorf("Checks = %v, want %v", ids, []string{ch2.ID, ch.ID})
	}
	page, err := c.ListChecks(ctx, &client.CheckFilter{ClientID: alice.ID, Type: client.CheckFaceAuthentication, Status: client.CheckComplete})
	if err != nil || page.TotalItems != 1 || page.Items[0].ID != ch.ID {
		t.Errorf("ListChecks of alice = %+v, %v", page, err)
	}

	err = c.DeleteLivePhoto(ctx, probe.ID)
	wantError(t, err, 409, client.TypeLivePhotoInUse, "")
}

// TestCheckResultJSON decodes a complete check as the service writes it,
// with every analysis a result may hold.
func TestCheckResultJSON(t *testing.T) {
	const body = `{"id":"c1","clientId":"k1","entityName":"Jane Doe","type":"age_estimation_check","livePhotoId":"p1","status":"complete",
	 "result":{"outcome":"clear","breakdown":{
	   "faceAuthentication":{"facialSimilarity":"clear","breakdown":{"facesMatched":[{"livePhotoId":"p0","facialSimilarityScore":96}],"enrolledFaces":{"livePhotoIds":["p0","p2"]}}},
	   "previouslyEnrolledFace":{"outcome":"attention","matches":[{"clientId":"k2","livePhotoId":"p9","score":95}]},
	   "ageEstimationAnalysis":{"ageValidation":"clear","breakdown":{"age":31,"ageMin":27,"ageMax":35,"minimumAge":18}}}},
	 "validation":{"outcome":"clear","comment":"ok","validatedAt":"2026-01-02T03:04:05.678Z"},
	 "createdAt":"2026-01-01T00:00:00.000Z","updatedAt":"2026-01-02T03:04:05.678Z"}`
	srv := newStatic(t, body)
	c, _ := client.New(srv, "k")
	ch, err := c.GetCheck(context.Background(), "c1")
	if err != nil {
		t.Fatal(err)
	}
	want := &client.Check{
		ID: "c1", ClientID: "k1", EntityName: "Jane Doe", Type: client.CheckAgeEstimation, LivePhotoID: "p1", Status: client.CheckComplete,
		Result: &client.CheckResult{Outcome: "clear", Breakdown: client.CheckBreakdown{
			FaceAuthentication: &client.FaceAuthentication{FacialSimilarity: "clear", Breakdown: client.FaceAuthenticationBreakdown{
				FacesMatched:  []client.FaceMatch{{LivePhotoID: "p0", FacialSimilarityScore: 96}},
				EnrolledFaces: client.EnrolledFaces{LivePhotoIDs: []string{"p0", "p2"}}}},
			PreviouslyEnrolledFace: &client.PreviouslyEnrolledFace{Outcome: "attention", Matches: []client.ClientMatch{{ClientID: "k2", LivePhotoID: "p9", Score: 95}}},
			AgeEstimation: &client.AgeEstimationAnalysis{AgeValidation: "clear", Breakdown: client.AgeBreakdown{
				Age: 31, AgeMin: 27, AgeMax: 35, MinimumAge: 18}},
		}},
		Validation: &client.CheckValidation{Outcome: "clear", Comment: "ok", ValidatedAt: time.Date(2026, 1, 2, 3, 4, 5, 678e6, time.UTC)},
		CreatedAt:  time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC),
		UpdatedAt:  time.Date(2026, 1, 2, 3, 4, 5, 678e6, time.UTC),
	}
	g, _ := json.Marshal(ch)
	w, _ := json.Marshal(want)
	if !bytes.Equal(g, w) {
		t.Errorf("decoded\n%s\nwant\n%s", g, w)
	}
}

// newStatic serves body as the answer to every request.
func newStatic(t *testing.T, body string) string {
	srv := newProxy(t, "http://127.0.0.1:1", func(n int, w http.ResponseWriter, r *http.Request) bool {
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, body)
		return true
	})
	return srv.srv.URL
}

// TestPrivacy: audit logs, deletion receipts (their signatures verified)
// and the default retention.
func TestPrivacy(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	c := e.client(t, "")
	jane := newPerson(t, c, "Jane")
	photo, err := c.UploadLivePhoto(ctx, &client.UploadParams{ClientID: jane.ID, Image: bytes.NewReader(jpegOf(40 << 10)), PerformLivenessCheck: client.Bool(false)})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.GetLivePhoto(ctx, photo.ID); err != nil {
		t.Fatal(err)
	}
	if err := c.DeleteLivePhoto(ctx, photo.ID); err != nil {
		t.Fatal(err)
	}

	// Newest first, ties of a millisecond broken by id, highest first
	// (the contract's list order): requests this quick may share one.
	var triggers []string
	var prev *client.AuditLog
	for a, err := range c.AuditLogs(ctx, &client.AuditLogFilter{ClientID: jane.ID, ListOptions: client.ListOptions{PageSize: 2}}) {
		if err != nil {
			t.Fatal(err)
		}
		triggers = append(triggers, a.Trigger)
		if a.Outcome != "success" || a.Status != 200 && a.Status != 204 || a.Hash == "" || a.Seq == 0 || len(a.RequestID) != 24 || a.CreatedAt.IsZero() {
			t.Errorf("entry %+v", a)
		}
		if prev != nil && (a.CreatedAt.After(prev.CreatedAt) || a.CreatedAt.Equal(prev.CreatedAt) && a.ID >= prev.ID) {
			t.Errorf("entry %s (%s, %s) listed after %s (%s, %s)", a.Trigger, a.CreatedAt, a.ID, prev.Trigger, prev.CreatedAt, prev.ID)
		}
		prev = a
	}
	slices.Sort(triggers)
	if want := []string{"createClient", "deleteLivePhoto", "getLivePhoto", "uploadLivePhoto"}; !slices.Equal(triggers, want) {
		t.Errorf("audit triggers %v, want %v", triggers, want)
	}
	page, err := c.ListAuditLogs(ctx, &client.AuditLogFilter{ResourceID: photo.ID, Action: "delete"})
	if err != nil || page.TotalItems != 1 {
		t.Fatalf("ListAuditLogs = %+v, %v", page, err)
	}
	if a, err := c.GetAuditLog(ctx, page.Items[0].ID); err != nil || a.Hash != page.Items[0].Hash || a.Trigger != "deleteLivePhoto" {
		t.Errorf("GetAuditLog = %+v, %v", a, err)
	}

	rs, err := c.ListDeletionReceipts(ctx, &client.DeletionReceiptFilter{ResourceID: photo.ID})
	if err != nil || rs.TotalItems != 1 {
		t.Fatalf("ListDeletionReceipts = %+v, %v", rs, err)
	}
	rc := rs.Items[0]
	pemKey, err := e.vault.ReceiptKey()
	if err != nil {
		t.Fatal(err)
	}
	pub, err := facevault.ParseReceiptKey(pemKey)
	if err != nil {
		t.Fatal(err)
	}
	if rc.Action != "livePhoto.deleted" || rc.ResourceID != photo.ID || !ed25519.Verify(pub, []byte(rc.Payload), rc.Signature) {
		t.Errorf("receipt %+v does not verify", rc)
	}
	n := 0
	for r, err := range c.DeletionReceipts(ctx, &client.DeletionReceiptFilter{ResourceID: photo.ID}) {
		if err != nil || r.ID != rc.ID {
			t.Errorf("DeletionReceipts yielded %+v, %v", r, err)
		}
		n++
	}
	if n != 1 {
		t.Errorf("DeletionReceipts yielded %d, want 1", n)
	}
	_, err = c.ListDeletionReceipts(ctx, nil)
	wantError(t, err, 400, client.TypeInvalidRequest, "resourceId")

	if r, err := c.GetRetention(ctx); err != nil || r.DefaultDays != 0 {
		t.Errorf("GetRetention = %+v, %v", r, err)
	}
	if r, err := c.SetRetention(ctx, 90); err != nil || r.DefaultDays != 90 {
		t.Errorf("SetRetention = %+v, %v", r, err)
	}
	if r, err := c.GetRetention(ctx); err != nil || r.DefaultDays != 90 {
		t.Errorf("GetRetention after set = %+v, %v", r, err)
	}
	_, err = c.SetRetention(ctx, -1)
	wantError(t, err, 400, client.TypeInvalidRequest, "defaultDays")
}
