package main

import (
	"bytes"
	"context"
	"fmt"
	"image/jpeg"
	"net/http"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/facevault/facevault/internal/browsertest"
	"github.com/facevault/facevault/internal/testimage"
)

// reviewImages are the uploads of the review tests: pigo's sample face,
// which the liveness check passes, and the same face blurred, which it
// flags for sharpness (with the face box and landmarks found).
func reviewImages(t *testing.T) (clear, blurred []byte) {
	t.Helper()
	face, err := os.ReadFile("../../liveness/testdata/pigo-sample.jpg")
	if err != nil {
		t.Fatal(err)
	}
	m, err := jpeg.Decode(bytes.NewReader(face))
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	if err := jpeg.Encode(&b, testimage.BoxBlur(m, 4), &jpeg.Options{Quality: 100}); err != nil {
		t.Fatal(err)
	}
	return face, b.Bytes()
}

// figure is what the browser shows of a photo's figure: the image as
// loaded and laid out, and the overlay drawn over it.
type figure struct {
	Loaded    bool    `json:"loaded"`
	ImgW      float64 `json:"imgW"`
	ImgH      float64 `json:"imgH"`
	SvgW      float64 `json:"svgW"`
	SvgH      float64 `json:"svgH"`
	DX        float64 `json:"dx"`
	Box       bool    `json:"box"`
	Landmarks int     `json:"landmarks"`
}

// figureOf reads the figure of the photo sel selects in.
func (b *browse) figureOf(sel string) figure {
	b.t.Helper()
	js := fmt.Sprintf(`(() => {
		const root = document.querySelector(%q);
		const img = root.querySelector(".figure img"), svg = root.querySelector(".figure svg");
		const i = img.getBoundingClientRect(), s = svg ? svg.getBoundingClientRect() : {width: 0, height: 0, left: 0, top: 0};
		return {loaded: img.complete && img.naturalWidth > 0, imgW: i.width, imgH: i.height, svgW: s.width, svgH: s.height,
			dx: Math.abs(i.left - s.left) + Math.abs(i.top - s.top),
			box: !!(svg && svg.querySelector("rect.facebox")), landmarks: svg ? svg.querySelectorAll("circle.landmark").length : 0};
	})()`, sel)
	var f figure
	browsertest.Within(b.t, b.ctx, 10*time.Second, "read the figure", func(ctx context.Context) error {
		// Images load after the page: wait for them.
		if err := chromedp.Do(ctx, chromedp.Poll[chromedp.Void](`Array.from(document.images).every(i => i.complete)`, chromedp.WithPollingInterval(50*time.Millisecond))); err != nil {
			return err
		}
		var err error
		f, err = chromedp.Run(ctx, chromedp.Evaluate[figure](js))
		return err
	})
	return f
}

// evalBool evaluates a JavaScript expression in the page.
func (b *browse) evalBool(js string) bool {
	b.t.Helper()
	var v bool
	browsertest.Within(b.t, b.ctx, 10*time.Second, "evaluate "+js, func(ctx context.Context) (err error) {
		v, err = chromedp.Run(ctx, chromedp.Evaluate[bool](js))
		return err
	})
	return v
}

// TestConsoleReview drives the review in a browser on both back ends: a
// reviewer signs in, finds the flagged photo in the queue (face box and
// landmarks over its thumbnail, the figures in words), opens it, redacts
// it after the confirmation, sees it gone from the queue and its image no
// longer served, cannot delete a client (no button; a forged form is
// refused), and signs out; an admin deletes a photo and then the client
// after their confirmations. Every action is in the audit log with the
// console user's name, as the API shows it. With FACEVAULT_SCREENSHOTS
// set, the queue, photo and client pages are saved as screenshots.
func TestConsoleReview(t *testing.T) {
	clearImg, blurred := reviewImages(t)
	for _, be := range consoleBackends {
		t.Run(be.name, func(t *testing.T) {
			e := be.start(t, 1)
			e.createUser(t, "ada", "admin", adaPassword)
			e.createUser(t, "rex", "reviewer", rexPassword)
			key := keysCreate(t, slices.Concat([]string{"--mode", "test", "--account", "acme"}, e.storeArgs)...).secret
			client := e.srv.createClient(t, key) // Ada Lovelace
			flagged := e.srv.uploadPhoto(t, key, client, blurred)
			kept := e.srv.uploadPhoto(t, key, client, clearImg)

			b := newBrowser(t, browsertest.Options{})
			wantStatus(t, "sign in as rex", b.signIn(e.base, "rex", rexPassword), http.StatusOK)
			wantStatus(t, "choose acme test", b.chooseScope(e.base, "acme", "test"), http.StatusOK)
			if p := b.page(); !strings.Contains(p.Text, "1 live photo needs a review") {
				t.Errorf("home page: %q", p.Text)
			}

			// The queue: the flagged photo, and only it.
			resp := b.open(e.base + "/console/queue")
			wantStatus(t, "queue", resp, http.StatusOK)
			wantSecurityHeaders(t, "queue", resp)
			p := b.page()
			item := "#photo-" + flagged
			for _, want := range []string{"Ada Lovelace", "Flagged for: Sharpness (blurred)", "Face detected with",
				"lower means blurred", "Liveness score", "needs attention"} {
				if !strings.Contains(strings.ToLower(p.Text), strings.ToLower(want)) {
					t.Errorf("queue lacks %q:\n%s", want, p.Text)
				}
			}
			if strings.Contains(p.Text, kept) || !b.evalBool(fmt.Sprintf(`!!document.querySelector(%q)`, item)) {
				t.Fatalf("queue: flagged photo shown %v, clear photo shown %v", !strings.Contains(p.Text, kept), strings.Contains(p.Text, kept))
			}
			f := b.figureOf(item)
			if !f.Loaded || !f.Box || f.Landmarks != 6 || f.ImgW < 100 || f.DX > 1 || abs(f.SvgW-f.ImgW) > 1 || abs(f.SvgH-f.ImgH) > 1 {
				t.Errorf("queue figure: %+v; want the thumbnail loaded, the face box and 6 landmarks laid exactly over it", f)
			}
			browsertest.Screenshot(t, b.ctx, "queue")
			// Keyboard: the first Tab reaches the skip link.
			b.do("tab", chromedp.KeyEvent("\t"))
			if !b.evalBool(`document.activeElement && document.activeElement.classList.contains("skip")`) {
				t.Error("the first Tab does not focus the skip link")
			}

			// A tablet's width: one column, nothing wider than the window.
			tablet := newBrowser(t, browsertest.Options{Width: 768, Height: 1024})
			tablet.signIn(e.base, "rex", rexPassword)
			tablet.chooseScope(e.base, "acme", "test")
			tablet.open(e.base + "/console/queue")
			if !tablet.evalBool(`document.documentElement.scrollWidth <= window.innerWidth`) {
				t.Error("the queue scrolls sideways at a tablet's width")
			}

			// The photo page, from the queue.
			resp = b.submit("open the flagged photo", chromedp.Click(chromedp.CSS(item+" h2 a")))
			wantStatus(t, "photo page", resp, http.StatusOK)
			p = b.page()
			if p.Path != "/console/photos/"+flagged || !strings.Contains(p.Text, "Download original") || !strings.Contains(p.Text, "Checked by") {
				t.Fatalf("photo page: on %s:\n%s", p.Path, p.Text)
			}
			if f := b.figureOf("main"); !f.Loaded || !f.Box || f.Landmarks != 6 {
				t.Errorf("photo page figure: %+v", f)
			}
			browsertest.Screenshot(t, b.ctx, "photo")

			// Redact, after the confirmation naming what goes.
			resp = b.submit("redact", chromedp.Click(chromedp.ID("redact")))
			wantStatus(t, "redact confirmation", resp, http.StatusOK)
			p = b.page()
			for _, want := range []string{flagged, "Ada Lovelace", "the image bytes", "encryption key", "face data"} {
				if !strings.Contains(p.Text, want) {
					t.Errorf("redact confirmation lacks %q:\n%s", want, p.Text)
				}
			}
			resp = b.submit("confirm redaction", chromedp.Click(chromedp.ID("confirm-button")))
			wantStatus(t, "redaction", resp, http.StatusOK)
			p = b.page()
			if p.Path != "/console/queue" || !strings.Contains(p.Notice, "Redacted live photo "+flagged) {
				t.Fatalf("after redaction: on %s, notice %q", p.Path, p.Notice)
			}
			if b.evalBool(fmt.Sprintf(`!!document.querySelector(%q)`, item)) {
				t.Error("the redacted photo is still in the queue")
			}
			resp = b.open(e.base + "/console/photos/" + flagged + "/image")
			wantStatus(t, "thumbnail of the redacted photo", resp, http.StatusGone)
			resp = b.open(e.base + "/console/photos/" + flagged + "/original")
			wantStatus(t, "original of the redacted photo", resp, http.StatusNotFound)
			if status, _ := e.srv.do(t, "GET", "/v1/livePhotos/"+flagged+"/download", key, nil); status != http.StatusNotFound {
				t.Errorf("API download of the redacted photo: %d, want 404", status)
			}

			// A reviewer cannot delete the client: no button, and a forged
			// form is refused.
			b.open(e.base + "/console/clients/" + client)
			if b.evalBool(`!!document.getElementById("delete-client")`) {
				t.Error("a reviewer is offered to delete the client")
			}
			resp = b.postForm("/console/clients/"+client+"/delete", map[string]string{"csrf": b.page().CSRF})
			wantStatus(t, "reviewer's forged client deletion", resp, http.StatusForbidden)
			if status, _ := e.srv.do(t, "GET", "/v1/clients/"+client, key, nil); status != http.StatusOK {
				t.Fatalf("client after a reviewer's forged deletion: %d", status)
			}
			b.open(e.base + "/console/")
			wantStatus(t, "sign out", b.submit("sign out", chromedp.Click(chromedp.ID("sign-out"))), http.StatusOK)
			if p := b.page(); p.Path != "/console/sign-in" {
				t.Fatalf("after signing out: on %s", p.Path)
			}

			// An admin: the client page, then delete the photo, then the
			// client.
			b.signIn(e.base, "ada", adaPassword)
			b.chooseScope(e.base, "acme", "test")
			wantStatus(t, "client page", b.open(e.base+"/console/clients/"+client), http.StatusOK)
			p = b.page()
			if !strings.Contains(p.Text, "Ada Lovelace") || !strings.Contains(p.Text, "ada@example.com") || !strings.Contains(p.Text, "Redacted") {
				t.Errorf("client page:\n%s", p.Text)
			}
			browsertest.Screenshot(t, b.ctx, "client")
			b.open(e.base + "/console/photos/" + kept)
			wantStatus(t, "delete confirmation", b.submit("delete photo", chromedp.Click(chromedp.ID("delete-photo"))), http.StatusOK)
			if p := b.page(); !strings.Contains(p.Text, kept) || !strings.Contains(p.Text, "the photo's record itself") {
				t.Errorf("delete confirmation:\n%s", p.Text)
			}
			wantStatus(t, "delete photo", b.submit("confirm deletion", chromedp.Click(chromedp.ID("confirm-button"))), http.StatusOK)
			if p := b.page(); p.Path != "/console/clients/"+client || !strings.Contains(p.Notice, "Deleted live photo "+kept) {
				t.Errorf("after deleting the photo: on %s, notice %q", p.Path, p.Notice)
			}
			if status, _ := e.srv.do(t, "GET", "/v1/livePhotos/"+kept, key, nil); status != http.StatusNotFound {
				t.Errorf("API get of the deleted photo: %d, want 404", status)
			}
			wantStatus(t, "client delete confirmation", b.submit("delete client", chromedp.Click(chromedp.ID("delete-client"))), http.StatusOK)
			p = b.page()
			if !strings.Contains(p.Text, "Ada Lovelace") || !strings.Contains(p.Text, "1 live photo") || !strings.Contains(p.Text, "0 checks") {
				t.Errorf("client delete confirmation (one redacted photo left, no checks):\n%s", p.Text)
			}
			wantStatus(t, "delete client", b.submit("confirm client deletion", chromedp.Click(chromedp.ID("confirm-button"))), http.StatusOK)
			if p := b.page(); p.Path != "/console/clients" || !strings.Contains(p.Notice, "Deleted client Ada Lovelace") {
				t.Errorf("after deleting the client: on %s, notice %q", p.Path, p.Notice)
			}
			if status, _ := e.srv.do(t, "GET", "/v1/clients/"+client, key, nil); status != http.StatusNotFound {
				t.Errorf("API get of the deleted client: %d, want 404", status)
			}

			// The audit log, through the API.
			for trigger, user := range map[string]string{
				"consoleViewQueue": "rex", "consoleViewLivePhoto": "rex", "consoleRedactLivePhoto": "rex",
				"consoleDeleteLivePhoto": "ada", "consoleDeleteClient": "ada",
			} {
				status, body := e.srv.do(t, "GET", "/v1/auditLogs?trigger="+trigger, key, nil)
				if status != http.StatusOK {
					t.Fatalf("audit log: %d %s", status, body)
				}
				var list struct {
					Items []struct{ ConsoleUser, Outcome, ResourceID string }
				}
				decode(t, body, &list)
				if !slices.ContainsFunc(list.Items, func(it struct{ ConsoleUser, Outcome, ResourceID string }) bool {
					return it.ConsoleUser == user && it.Outcome == "success"
				}) {
					t.Errorf("audit entries %s: %+v, want a success by %s", trigger, list.Items, user)
				}
			}
			// The reviewer's forged deletion was refused before it reached
			// the client: the one deletion is the admin's.
			status, body := e.srv.do(t, "GET", "/v1/auditLogs?trigger=consoleDeleteClient", key, nil)
			if status != http.StatusOK || strings.Count(string(body), `"consoleUser"`) != 1 {
				t.Errorf("client deletion entries: %d %s, want the admin's one", status, body)
			}
		})
	}
}

func abs(v float64) float64 {
	if v < 0 {
		return -v
	}
	return v
}
