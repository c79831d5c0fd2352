package console_test

import (
	"bytes"
	"context"
	"fmt"
	"image/jpeg"
	"net/http"
	"net/netip"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/facevault/facevault"
	"github.com/facevault/facevault/console"
	fvhttp "github.com/facevault/facevault/http"
)

// TestFlaggedPhoto: a blurred selfie is flagged by the liveness check and
// is in the review queue, with its face box and landmarks drawn over its
// thumbnail and every figure in words; its page shows the full result;
// its thumbnail is served with no-store; the clear photo is not in the
// queue; another account's reviewer sees none of it.
func TestFlaggedPhoto(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		jo := e.client(e.Acme, "Jo", "Doe")
		flagged := e.upload(e.Acme, jo.ID, image_(t, "blurred"))
		clear := e.upload(e.Acme, jo.ID, image_(t, "clear"))
		if flagged.LivenessCheck.Outcome != facevault.OutcomeAttention ||
			!slices.Contains(flagged.LivenessReasons, facevault.ReasonSharpness) {
			t.Fatalf("blurred photo: outcome %s, reasons %v; want attention for sharpness", flagged.LivenessCheck.Outcome, flagged.LivenessReasons)
		}
		if clear.LivenessCheck.Outcome != facevault.OutcomeClear {
			t.Fatalf("clear photo: outcome %s", clear.LivenessCheck.Outcome)
		}
		b := e.signIn(reviewerName, e.Acme)

		res, body := b.get("/console/queue")
		if res.StatusCode != http.StatusOK {
			t.Fatalf("queue: %s\n%s", res.Status, body)
		}
		for _, want := range []string{
			`id="photo-` + flagged.ID + `"`,
			`Flagged for: Sharpness (blurred)`,
			`<rect class="facebox"`,
			`<circle class="landmark"`,
			`Face detected with`,
			`Liveness score`,
			`Sharpness `, `(at least 100 is sharp enough; lower means blurred)`,
			`Jo Doe`,
		} {
			if !strings.Contains(body, want) {
				t.Errorf("queue lacks %q", want)
			}
		}
		if strings.Contains(body, clear.ID) {
			t.Error("the clear photo is in the queue")
		}
		if strings.Contains(body, "style=") || strings.Contains(body, "<script") {
			t.Error("the queue has an inline style or a script, which the CSP refuses")
		}
		// Filters: a reason it does not have, another client, a date range
		// that excludes it, outcome clear.
		for q, want := range map[string]bool{
			"reason=sharpness": true,
			"reason=exposure":  false,
			"client=" + jo.ID:  true,
			"client=" + facevault.NewID(flagged.CreatedAt):                   false,
			"from=" + flagged.CreatedAt.Format("2006-01-02"):                 true,
			"to=" + flagged.CreatedAt.AddDate(0, 0, -1).Format("2006-01-02"): false,
			"outcome=clear": false,
		} {
			_, body := b.get("/console/queue?" + q)
			if got := strings.Contains(body, `id="photo-`+flagged.ID+`"`); got != want {
				t.Errorf("queue?%s shows the flagged photo: %v, want %v", q, got, want)
			}
		}
		_, body = b.get("/console/queue?outcome=clear")
		if !strings.Contains(body, `id="photo-`+clear.ID+`"`) {
			t.Error("queue?outcome=clear lacks the clear photo")
		}
		for _, q := range []string{"reason=nonsense", "from=yesterday", "page=0", "pageSize=5000", "kind=x"} {
			if res, _ := b.get("/console/queue?" + q); res.StatusCode != http.StatusBadRequest {
				t.Errorf("queue?%s: %s, want 400", q, res.Status)
			}
		}

		res, body = b.get("/console/photos/" + flagged.ID)
		if res.StatusCode != http.StatusOK {
			t.Fatalf("photo page: %s", res.Status)
		}
		for _, want := range []string{"Download original", "Redact…", "Mark reviewed", "Checked by", `id="outcome">attention`} {
			if !strings.Contains(body, want) {
				t.Errorf("photo page lacks %q", want)
			}
		}

		res, img := b.get("/console/photos/" + flagged.ID + "/image")
		if res.StatusCode != http.StatusOK || res.Header.Get("Content-Type") != "image/jpeg" || res.Header.Get("Cache-Control") != "no-store" {
			t.Fatalf("thumbnail: %s, %s, Cache-Control %q", res.Status, res.Header.Get("Content-Type"), res.Header.Get("Cache-Control"))
		}
		cfg, err := jpeg.DecodeConfig(bytes.NewReader([]byte(img)))
		if err != nil {
			t.Fatalf("thumbnail is no JPEG: %v", err)
		}
		q := flagged.LivenessCheck.Breakdown.QualityAnalysis.Breakdown
		// The upright 320×400 image, its longest side brought to 320.
		if q.ImageWidthPixels != 320 || q.ImageHeightPixels != 400 || cfg.Width != 256 || cfg.Height != 320 {
			t.Errorf("thumbnail %d×%d of a %d×%d image, want 256×320 of 320×400", cfg.Width, cfg.Height, q.ImageWidthPixels, q.ImageHeightPixels)
		}
		if st := e.Console.Thumbnails().Stats(); st.Entries == 0 || st.Bytes == 0 {
			t.Errorf("thumbnail cache after a thumbnail: %+v", st)
		}

		// Another account's reviewer: not found, whatever the cache holds.
		other := e.signIn(reviewerName, e.Globex)
		for _, p := range []string{"/console/photos/" + flagged.ID, "/console/photos/" + flagged.ID + "/image",
			"/console/photos/" + flagged.ID + "/original", "/console/clients/" + jo.ID} {
			if res, _ := other.get(p); res.StatusCode != http.StatusNotFound {
				t.Errorf("%s from another account: %s, want 404", p, res.Status)
			}
		}
		if _, body := other.get("/console/queue"); strings.Contains(body, flagged.ID) {
			t.Error("another account's queue shows the photo")
		}
	})
}

// TestRedactFromQueue: redacting a flagged photo after its confirmation
// destroys its image: it leaves the queue, its thumbnail and original are
// no longer served (from the cache neither), and the audit log records the
// view, the download and the redaction with the console user's name.
func TestRedactFromQueue(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		jo := e.client(e.Acme, "Jo", "Doe")
		p := e.upload(e.Acme, jo.ID, image_(t, "blurred"))
		b := e.signIn(reviewerName, e.Acme)
		if res, _ := b.get("/console/photos/" + p.ID + "/image"); res.StatusCode != http.StatusOK {
			t.Fatalf("thumbnail: %s", res.Status)
		}
		b.get("/console/photos/" + p.ID)
		res, orig := b.get("/console/photos/" + p.ID + "/original")
		if res.StatusCode != http.StatusOK || !bytes.Equal([]byte(orig), image_(t, "blurred")) {
			t.Fatalf("original: %s, %d bytes; want the image uploaded", res.Status, len(orig))
		}
		if cd := res.Header.Get("Content-Disposition"); !strings.Contains(cd, "attachment") || res.Header.Get("Cache-Control") != "no-store" {
			t.Errorf("original: Content-Disposition %q, Cache-Control %q", cd, res.Header.Get("Cache-Control"))
		}

		res, body := b.get("/console/photos/" + p.ID + "/redact")
		if res.StatusCode != http.StatusOK {
			t.Fatalf("confirmation: %s", res.Status)
		}
		for _, want := range []string{p.ID, "Jo Doe", "the image bytes", "encryption key", "face data", "Redact the photo"} {
			if !strings.Contains(body, want) {
				t.Errorf("confirmation lacks %q", want)
			}
		}
		// Without the token: refused, nothing destroyed.
		if res, _ := b.postToken("/console/photos/"+p.ID+"/redact", "", nil); res.StatusCode != http.StatusForbidden {
			t.Errorf("redact without CSRF token: %s, want 403", res.Status)
		}
		if res, _ := b.postToken("/console/photos/"+p.ID+"/redact", "forged", nil); res.StatusCode != http.StatusForbidden {
			t.Errorf("redact with a forged CSRF token: %s, want 403", res.Status)
		}
		if got, err := e.Vault.LivePhoto(context.Background(), e.Acme, p.ID); err != nil || got.Redacted() {
			t.Fatalf("photo after refused redactions: %v, redacted %v", err, got != nil && got.Redacted())
		}
		res, _ = b.post("/console/photos/"+p.ID+"/redact", nil)
		if res.StatusCode != http.StatusSeeOther {
			t.Fatalf("redact: %s", res.Status)
		}
		redactID := res.Header.Get(fvhttp.RequestIDHeader)
		if _, body := b.get(res.Header.Get("Location")); !strings.Contains(body, "Redacted live photo "+p.ID) || strings.Contains(body, `id="photo-`+p.ID) {
			t.Error("after redaction the queue does not say so, or still lists the photo")
		}
		if st := e.Console.Thumbnails().Stats(); st.Entries != 0 {
			t.Errorf("thumbnail cache after redaction: %+v, want empty", st)
		}
		for _, path := range []string{"/image", "/image?size=large", "/original"} {
			res, _ := b.get("/console/photos/" + p.ID + path)
			if res.StatusCode == http.StatusOK {
				t.Errorf("%s after redaction: %s", path, res.Status)
			}
		}
		if _, body := b.get("/console/photos/" + p.ID); !strings.Contains(body, `id="redacted"`) {
			t.Error("the photo page does not say the photo is redacted")
		}

		for trigger, action := range map[string]string{
			"consoleViewLivePhoto": facevault.ActionRead, "consoleDownloadLivePhoto": facevault.ActionDownload,
			"consoleRedactLivePhoto": facevault.ActionRedact, "consoleViewQueue": facevault.ActionList,
		} {
			es := e.entries(e.Acme, trigger)
			if len(es) == 0 {
				t.Errorf("no audit entry %s", trigger)
				continue
			}
			en := es[0]
			if en.ConsoleUser != reviewerName || en.Action != action || en.Outcome != facevault.OutcomeSuccess {
				t.Errorf("audit entry %s: user %q, action %s, outcome %s", trigger, en.ConsoleUser, en.Action, en.Outcome)
			}
			if trigger != "consoleViewQueue" && (en.ResourceID != p.ID || en.ClientID != jo.ID) {
				t.Errorf("audit entry %s: resource %s, client %s", trigger, en.ResourceID, en.ClientID)
			}
		}
		if es := e.entries(e.Acme, "consoleRedactLivePhoto"); len(es) != 1 || es[0].RequestID != redactID || redactID == "" {
			t.Errorf("redaction entries %+v, want one with the response's request id %q", es, redactID)
		}
		reports, err := facevault.VerifyAudit(context.Background(), e.Store)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range reports {
			if r.Break != nil {
				t.Errorf("audit chain %+v broken: %+v", r.AuditChainID, r.Break)
			}
		}
	})
}

// TestRoles: a reviewer sees no delete-client link and a forged POST is
// refused with 403, the client untouched; an admin deletes the client after
// a confirmation that counts its photos and checks; deleting a photo goes
// through its confirmation too. Sign-in and sign-out are audited.
func TestRoles(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		jo := e.client(e.Acme, "Jo", "Doe")
		p1 := e.upload(e.Acme, jo.ID, image_(t, "blurred"))
		p2 := e.upload(e.Acme, jo.ID, image_(t, "clear"))
		rev := e.signIn(reviewerName, e.Acme)
		_, body := rev.get("/console/clients/" + jo.ID)
		if strings.Contains(body, "delete-client") {
			t.Error("a reviewer is offered to delete the client")
		}
		if !strings.Contains(body, p1.ID) || !strings.Contains(body, p2.ID) {
			t.Error("the client page lacks its photos")
		}
		if res, _ := rev.get("/console/clients/" + jo.ID + "/delete"); res.StatusCode != http.StatusForbidden {
			t.Errorf("reviewer's delete confirmation: %s, want 403", res.Status)
		}
		if res, _ := rev.post("/console/clients/"+jo.ID+"/delete", nil); res.StatusCode != http.StatusForbidden {
			t.Errorf("reviewer's forged delete: %s, want 403", res.Status)
		}
		if _, err := e.Vault.Client(context.Background(), e.Acme, jo.ID); err != nil {
			t.Fatalf("client after a reviewer's forged delete: %v", err)
		}

		// A reviewer deletes a photo, after its confirmation.
		res, body := rev.get("/console/photos/" + p2.ID + "/delete")
		if res.StatusCode != http.StatusOK || !strings.Contains(body, "the photo's record itself") {
			t.Fatalf("delete confirmation: %s", res.Status)
		}
		res, _ = rev.post("/console/photos/"+p2.ID+"/delete", nil)
		if res.StatusCode != http.StatusSeeOther {
			t.Fatalf("delete photo: %s", res.Status)
		}
		if _, err := e.Vault.LivePhoto(context.Background(), e.Acme, p2.ID); facevault.ErrorCode(err) != facevault.ENotFound {
			t.Errorf("deleted photo: %v", err)
		}
		if res, _ := rev.get("/console/photos/" + p2.ID); res.StatusCode != http.StatusNotFound {
			t.Errorf("deleted photo's page: %s", res.Status)
		}

		adm := e.signIn(adminName, e.Acme)
		_, body = adm.get("/console/clients/" + jo.ID)
		if !strings.Contains(body, "delete-client") {
			t.Error("an admin is not offered to delete the client")
		}
		adm.get("/console/photos/" + p1.ID + "/image") // cached, then forgotten
		res, body = adm.get("/console/clients/" + jo.ID + "/delete")
		if res.StatusCode != http.StatusOK {
			t.Fatalf("client delete confirmation: %s", res.Status)
		}
		for _, want := range []string{"Jo Doe", `id="confirm-photos">1<`, `id="confirm-checks">0<`} {
			if !strings.Contains(body, want) {
				t.Errorf("client delete confirmation lacks %q", want)
			}
		}
		res, _ = adm.post("/console/clients/"+jo.ID+"/delete", nil)
		if res.StatusCode != http.StatusSeeOther {
			t.Fatalf("delete client: %s", res.Status)
		}
		if _, err := e.Vault.Client(context.Background(), e.Acme, jo.ID); facevault.ErrorCode(err) != facevault.ENotFound {
			t.Errorf("deleted client: %v", err)
		}
		if st := e.Console.Thumbnails().Stats(); st.Entries != 0 {
			t.Errorf("thumbnail cache after deleting the client: %+v", st)
		}
		if res, _ := adm.get("/console/photos/" + p1.ID + "/image"); res.StatusCode != http.StatusNotFound {
			t.Errorf("thumbnail of a deleted client's photo: %s", res.Status)
		}
		es := e.entries(e.Acme, "consoleDeleteClient")
		if len(es) != 1 || es[0].ConsoleUser != adminName || es[0].ResourceID != jo.ID {
			t.Errorf("client deletion entries: %+v", es)
		}
		if es := e.entries(e.Acme, "consoleDeleteLivePhoto"); len(es) != 1 || es[0].ConsoleUser != reviewerName {
			t.Errorf("photo deletion entries: %+v", es)
		}

		res, _ = rev.post("/console/sign-out", nil)
		if res.StatusCode != http.StatusSeeOther {
			t.Fatalf("sign out: %s", res.Status)
		}
		if res, _ := rev.get("/console/queue"); res.StatusCode != http.StatusSeeOther || !strings.HasPrefix(res.Header.Get("Location"), "/console/sign-in") {
			t.Errorf("queue after sign-out: %s to %s", res.Status, res.Header.Get("Location"))
		}
		none := facevault.Scope{}
		signIns, signOuts := e.entries(none, "consoleSignIn"), e.entries(none, "consoleSignOut")
		if len(signIns) < 2 || len(signOuts) != 1 || signOuts[0].ConsoleUser != reviewerName {
			t.Errorf("sign-in entries %d, sign-out entries %+v", len(signIns), signOuts)
		}
	})
}

// TestMarkReviewed: a note marks a flagged photo reviewed: it leaves the
// default queue, shows under "Reviewed" with the reviewer's name and note,
// and the audit log records it; a note too long is refused.
func TestMarkReviewed(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		jo := e.client(e.Acme, "Jo", "Doe")
		p := e.upload(e.Acme, jo.ID, image_(t, "blurred"))
		b := e.signIn(reviewerName, e.Acme)
		res, body := b.post("/console/photos/"+p.ID+"/review", url.Values{"note": {strings.Repeat("x", facevault.MaxReviewNote+1)}})
		if res.StatusCode != http.StatusBadRequest || !strings.Contains(body, "at most 2000") {
			t.Errorf("note too long: %s", res.Status)
		}
		note := "Blurred but the same person as the passport; accepted <b>."
		res, _ = b.post("/console/photos/"+p.ID+"/review", url.Values{"note": {note}})
		if res.StatusCode != http.StatusSeeOther {
			t.Fatalf("mark reviewed: %s", res.Status)
		}
		if _, body := b.get("/console/queue"); strings.Contains(body, `id="photo-`+p.ID) {
			t.Error("a reviewed photo is still in the queue")
		}
		_, body = b.get("/console/queue?reviewed=yes")
		if !strings.Contains(body, `id="photo-`+p.ID) || !strings.Contains(body, "Reviewed by <strong>"+reviewerName) ||
			!strings.Contains(body, "accepted &lt;b&gt;.") {
			t.Error("queue?reviewed=yes lacks the photo, its reviewer or its (escaped) note")
		}
		es := e.entries(e.Acme, "consoleReviewLivePhoto")
		if len(es) != 2 || es[0].Outcome != facevault.OutcomeSuccess || es[0].ConsoleUser != reviewerName ||
			es[0].Diff == nil || fmt.Sprint(es[0].Diff.Path) != "[review]" || es[1].Outcome != facevault.OutcomeFailure {
			t.Errorf("review entries: %+v", es)
		}
	})
}

// TestCheckQueue: complete checks whose outcome is attention are in the
// queue of checks, with their findings in words; a reviewer marks one
// reviewed with a note; pending and clear checks are not there.
func TestCheckQueue(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		jo, al := e.client(e.Acme, "Jo", "Doe"), e.client(e.Acme, "Al", "Roe")
		pj := e.upload(e.Acme, jo.ID, image_(t, "clear"))
		pa := e.upload(e.Acme, al.ID, image_(t, "clear"))
		// Checks are made and run through the record store's queue, as
		// the runners do: this vault computes no embeddings to compare.
		results := map[string]*facevault.CheckResult{}
		mk := func(clientID, photoID string, r *facevault.CheckResult) *facevault.Check {
			t.Helper()
			now := time.Now().UTC().Truncate(time.Millisecond)
			c := &facevault.Check{ID: facevault.NewID(now), ClientID: clientID, Type: facevault.CheckFaceAuthentication,
				LivePhotoID: photoID, Status: facevault.CheckPending, CreatedAt: now, UpdatedAt: now}
			if err := e.Store.CreateCheck(ctx, e.Acme, c); err != nil {
				t.Fatal(err)
			}
			results[c.ID] = r
			return c
		}
		twin := mk(jo.ID, pj.ID, &facevault.CheckResult{Outcome: facevault.OutcomeAttention, Breakdown: facevault.CheckBreakdown{
			FaceAuthentication: &facevault.FaceAuthentication{FacialSimilarity: facevault.OutcomeClear,
				Breakdown: facevault.FaceAuthenticationBreakdown{FacesMatched: []facevault.FaceMatch{{LivePhotoID: pj.ID, FacialSimilarityScore: 99}}}},
			PreviouslyEnrolledFace: &facevault.PreviouslyEnrolledFace{Outcome: facevault.OutcomeAttention,
				Matches: []facevault.ClientMatch{{ClientID: al.ID, LivePhotoID: pa.ID, Score: 97}}},
		}})
		fine := mk(al.ID, pa.ID, &facevault.CheckResult{Outcome: facevault.OutcomeClear, Breakdown: facevault.CheckBreakdown{
			FaceAuthentication: &facevault.FaceAuthentication{FacialSimilarity: facevault.OutcomeClear}}})
		for range 2 {
			c, err := e.Store.ClaimCheck(ctx, "test", time.Now(), time.Minute)
			if err != nil {
				t.Fatal(err)
			}
			c.Status, c.Result, c.UpdatedAt = facevault.CheckComplete, results[c.ID], time.Now()
			if err := e.Store.FinishCheck(ctx, c, "test"); err != nil {
				t.Fatal(err)
			}
		}
		pending := mk(jo.ID, pj.ID, nil)

		b := e.signIn(reviewerName, e.Acme)
		_, body := b.get("/console/")
		if !strings.Contains(body, `id="waiting-checks">1<`) {
			t.Error("the home page does not count one check to review")
		}
		res, body := b.get("/console/queue?kind=checks")
		if res.StatusCode != http.StatusOK {
			t.Fatalf("queue of checks: %s", res.Status)
		}
		for _, want := range []string{`id="check-` + twin.ID + `"`, "Previously enrolled face (matches another client)",
			"matches client " + al.ID + "&#39;s photo " + pa.ID + " with similarity 97 of 100", "Jo Doe"} {
			if !strings.Contains(body, want) {
				t.Errorf("queue of checks lacks %q", want)
			}
		}
		for _, c := range []*facevault.Check{fine, pending} {
			if strings.Contains(body, c.ID) {
				t.Errorf("queue of checks shows %s (%s)", c.ID, c.Status)
			}
		}
		_, body = b.get("/console/queue?kind=checks&reason=faceAuthentication")
		if strings.Contains(body, twin.ID) {
			t.Error("reason faceAuthentication shows a check whose face authentication is clear")
		}
		res, _ = b.post("/console/checks/"+twin.ID+"/review", url.Values{"note": {"Twins, enrolled apart on purpose."}, "next": {"/console/queue?kind=checks"}})
		if res.StatusCode != http.StatusSeeOther {
			t.Fatalf("review check: %s", res.Status)
		}
		_, body = b.get(res.Header.Get("Location"))
		if strings.Contains(body, `id="check-`+twin.ID) || !strings.Contains(body, "Marked check "+twin.ID+" reviewed") {
			t.Error("after its review the check is still in the queue, or no notice says so")
		}
		if es := e.entries(e.Acme, "consoleReviewCheck"); len(es) != 1 || es[0].ConsoleUser != reviewerName || es[0].ResourceID != twin.ID {
			t.Errorf("check review entries: %+v", es)
		}
		if res, _ := b.post("/console/checks/"+facevault.NewID(time.Now())+"/review", nil); res.StatusCode != http.StatusNotFound {
			t.Errorf("review of an unknown check: %s, want 404", res.Status)
		}
	})
}

// TestAuditEvents: sign-ins and sign-outs go to the chain of no account,
// with the user's name only when the name is a user's: a name typed that
// is no one's (perhaps a password in the wrong field) is not kept.
func TestAuditEvents(t *testing.T) {
	e := newEnv(t, backends[0])
	ctx := context.Background()
	a := console.AuditEvents{Log: e.Store}
	at := time.Now()
	for _, ev := range []console.Event{
		{Type: console.EventSignInFailed, UserName: "hunter2 hunter2", Remote: "10.0.0.9:5123", At: at},
		{Type: console.EventLockedOut, UserName: reviewerName, UserID: facevault.NewID(at), Remote: "10.0.0.9:5123", At: at},
	} {
		if err := a.RecordConsoleEvent(ctx, ev); err != nil {
			t.Fatal(err)
		}
	}
	none := facevault.Scope{}
	failed, locked := e.entries(none, console.TriggerSignInFailed), e.entries(none, console.TriggerLockedOut)
	if len(failed) != 1 || failed[0].ConsoleUser != "" || failed[0].Outcome != facevault.OutcomeFailure || failed[0].Status != 401 ||
		failed[0].Source != "10.0.0.9" || failed[0].ResourceType != console.AuditConsoleSession {
		t.Errorf("failed sign-in entry: %+v", failed)
	}
	if len(locked) != 1 || locked[0].ConsoleUser != reviewerName || locked[0].Status != 429 {
		t.Errorf("lock-out entry: %+v", locked)
	}

	// An admin's change to a user, and a request refused for the role.
	subject, route := facevault.NewID(at), "POST /console/clients/{id}/delete"
	for _, ev := range []console.Event{
		{Type: console.EventUserDisabled, UserName: adminName, UserID: facevault.NewID(at), SubjectName: reviewerName, SubjectID: subject, Remote: "10.0.0.9", At: at},
		{Type: console.EventRefused, UserName: reviewerName, UserID: facevault.NewID(at), Route: route, Remote: "10.0.0.9", At: at},
	} {
		if err := a.RecordConsoleEvent(ctx, ev); err != nil {
			t.Fatal(err)
		}
	}
	disabled, refused := e.entries(none, console.TriggerDisableUser), e.entries(none, console.TriggerRefused)
	if len(disabled) != 1 || disabled[0].ConsoleUser != adminName || disabled[0].ResourceType != console.AuditConsoleUser ||
		disabled[0].ResourceID != subject || disabled[0].Action != facevault.ActionUpdate || disabled[0].Outcome != facevault.OutcomeSuccess {
		t.Errorf("user disabled entry: %+v", disabled)
	}
	if len(refused) != 1 || refused[0].ConsoleUser != reviewerName || refused[0].ResourceType != console.AuditConsoleRoute ||
		refused[0].ResourceID != route || refused[0].Status != 403 || refused[0].Outcome != facevault.OutcomeFailure {
		t.Errorf("refusal entry: %+v", refused)
	}
}

// TestAuditSource: the audit log records the browser's address: the one
// a trusted proxy forwards in X-Forwarded-For, and the peer's when the
// peer is not a trusted proxy, whatever the header says.
func TestAuditSource(t *testing.T) {
	for _, tc := range []struct {
		name    string
		trusted []netip.Prefix
		want    string
	}{
		{"trusted proxy", []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}, "203.0.113.7"},
		{"untrusted peer", nil, "127.0.0.1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnvConfig(t, backends[0], console.Config{TrustedProxies: tc.trusted})
			b := e.signIn(reviewerName, e.Acme)
			req, err := http.NewRequest(http.MethodGet, e.URL+"/console/queue", nil)
			if err != nil {
				t.Fatal(err)
			}
			req.Header.Set("X-Forwarded-For", "198.51.100.1, 203.0.113.7")
			if res, _ := b.do(req); res.StatusCode != http.StatusOK {
				t.Fatalf("queue: %s", res.Status)
			}
			es := e.entries(e.Acme, console.TriggerViewQueue)
			if len(es) != 1 || es[0].Source != tc.want {
				t.Errorf("queue entries %+v, want one from %s", es, tc.want)
			}
		})
	}
}
