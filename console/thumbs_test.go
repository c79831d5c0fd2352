package console_test

import (
	"bytes"
	"context"
	"fmt"
	"image/jpeg"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/facevault/facevault"
	"github.com/facevault/facevault/console"
)

// TestThumbnails: thumbnails are made once and then served from memory;
// the cache holds no more than its bound, evicting the least recently
// used; Forget drops a photo's, or a client's, at once; a negative bound
// keeps none; a redacted photo has none.
func TestThumbnails(t *testing.T) {
	e := newEnv(t, backends[0])
	ctx := context.Background()
	jo, al := e.client(e.Acme, "Jo", "Doe"), e.client(e.Acme, "Al", "Roe")
	img := image_(t, "clear")
	var photos []*facevault.LivePhoto
	for _, c := range []*facevault.Client{jo, jo, al} {
		photos = append(photos, e.upload(e.Acme, c.ID, img))
	}
	get := func(th *console.Thumbnails, p *facevault.LivePhoto, side int) []byte {
		t.Helper()
		b, err := th.Get(ctx, e.Acme, p, side)
		if err != nil {
			t.Fatalf("Get(%s): %v", p.ID, err)
		}
		return b
	}

	th := console.NewThumbnails(e.Vault, 0)
	first := get(th, photos[0], console.ThumbSmall)
	if cfg, err := jpeg.DecodeConfig(bytes.NewReader(first)); err != nil || max(cfg.Width, cfg.Height) != console.ThumbSmall {
		t.Fatalf("thumbnail: %+v, %v; want a JPEG %d px on its longest side", cfg, err, console.ThumbSmall)
	}
	again := get(th, photos[0], console.ThumbSmall)
	if st := th.Stats(); st.Hits != 1 || st.Misses != 1 || st.Entries != 1 || st.Bytes != int64(len(first)) {
		t.Errorf("after two gets: %+v, want 1 hit, 1 miss, 1 entry of %d bytes", st, len(first))
	}
	if !bytes.Equal(first, again) {
		t.Error("the cached thumbnail differs from the one made")
	}
	large := get(th, photos[0], console.ThumbLarge)
	if cfg, _ := jpeg.DecodeConfig(bytes.NewReader(large)); cfg.Height != 400 {
		t.Errorf("large thumbnail of a 320×400 image is %d×%d, want it unscaled", cfg.Width, cfg.Height)
	}

	// A bound of two small thumbnails: the third evicts the least recently
	// used.
	small := console.NewThumbnails(e.Vault, int64(2*len(first)+len(first)/2))
	get(small, photos[0], console.ThumbSmall)
	get(small, photos[1], console.ThumbSmall)
	get(small, photos[0], console.ThumbSmall) // photos[1] is now the least recently used
	get(small, photos[2], console.ThumbSmall)
	if st := small.Stats(); st.Entries != 2 || st.Bytes > st.Limit {
		t.Errorf("bounded cache: %+v, want 2 entries within the limit", st)
	}
	before := small.Stats().Misses
	get(small, photos[0], console.ThumbSmall)
	get(small, photos[2], console.ThumbSmall)
	if small.Stats().Misses != before {
		t.Error("the most recently used thumbnails were evicted")
	}
	get(small, photos[1], console.ThumbSmall)
	if small.Stats().Misses != before+1 {
		t.Error("the least recently used thumbnail was not evicted")
	}

	for _, p := range photos {
		get(th, p, console.ThumbSmall)
	}
	th.Forget(photos[1].ID, "")
	if st := th.Stats(); st.Entries != 3 { // photos 0 (two sizes) and 2
		t.Errorf("after forgetting one photo: %d entries, want 3", st.Entries)
	}
	th.Forget("", jo.ID)
	if st := th.Stats(); st.Entries != 1 {
		t.Errorf("after forgetting Jo's photos: %d entries, want 1 (Al's)", st.Entries)
	}

	none := console.NewThumbnails(e.Vault, -1)
	get(none, photos[0], console.ThumbSmall)
	if st := none.Stats(); st.Entries != 0 {
		t.Errorf("cache with a negative bound holds %d entries", st.Entries)
	}

	red, err := e.Vault.RedactLivePhoto(ctx, e.Acme, photos[2].ID)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := th.Get(ctx, e.Acme, red, console.ThumbSmall); facevault.ErrorCode(err) != facevault.ENotFound {
		t.Errorf("thumbnail of a redacted photo: %v, want ENotFound", err)
	}
}

// TestThumbnailsForgetOnDestroy: the vault tells the cache of photos
// destroyed through it, by the API as by the console: a photo deleted,
// redacted, or of a client deleted leaves the cache at once.
func TestThumbnailsForgetOnDestroy(t *testing.T) {
	e := newEnv(t, backends[0])
	ctx := context.Background()
	th := e.Console.Thumbnails()
	jo, al := e.client(e.Acme, "Jo", "Doe"), e.client(e.Acme, "Al", "Roe")
	img := image_(t, "clear")
	p1, p2, p3 := e.upload(e.Acme, jo.ID, img), e.upload(e.Acme, jo.ID, img), e.upload(e.Acme, al.ID, img)
	for _, p := range []*facevault.LivePhoto{p1, p2, p3} {
		if _, err := th.Get(ctx, e.Acme, p, console.ThumbSmall); err != nil {
			t.Fatal(err)
		}
	}
	if err := e.Vault.DeleteLivePhoto(ctx, e.Acme, p1.ID); err != nil {
		t.Fatal(err)
	}
	if n := th.Stats().Entries; n != 2 {
		t.Errorf("after deleting a photo: %d entries, want 2", n)
	}
	if _, err := e.Vault.RedactLivePhoto(ctx, e.Acme, p3.ID); err != nil {
		t.Fatal(err)
	}
	if n := th.Stats().Entries; n != 1 {
		t.Errorf("after redacting a photo: %d entries, want 1", n)
	}
	if err := e.Vault.DeleteClient(ctx, e.Acme, jo.ID); err != nil {
		t.Fatal(err)
	}
	if n := th.Stats().Entries; n != 0 {
		t.Errorf("after deleting the client: %d entries, want 0", n)
	}
}

// BenchmarkClientPage1000: a client with 1,000 photos, its page of the
// grid (24 thumbnails) and the thumbnails fetched as a agent fetches
// them (six at once): the page alone, the page with its thumbnails made
// (cold cache) and served from memory (warm). It reports milliseconds per
// page; the last page is measured, the one a paging store reads deepest.
func BenchmarkClientPage1000(b *testing.B) {
	e := newEnv(b, backends[0])
	ctx := context.Background()
	jo := e.client(e.Acme, "Jo", "Doe")
	img := image_(b, "clear")
	start := time.Now()
	for range 1000 {
		u, err := e.Vault.BeginUpload(ctx)
		if err != nil {
			b.Fatal(err)
		}
		u.Write(img)
		if _, err := e.Vault.FinishUpload(ctx, e.Acme, u, jo.ID, false); err != nil {
			b.Fatal(err)
		}
	}
	b.Logf("1,000 photos stored in %v", time.Since(start).Round(time.Millisecond))
	br := e.signIn(reviewerName, e.Acme)
	page := fmt.Sprintf("/console/clients/%s?page=%d", jo.ID, (1000+23)/24)
	thumbRE := regexp.MustCompile(`src="(/console/photos/[0-9a-f]+/image)"`)
	load := func(thumbs bool) {
		res, body := br.get(page)
		if res.StatusCode != http.StatusOK {
			b.Fatalf("client page: %s", res.Status)
		}
		if !thumbs {
			return
		}
		srcs := thumbRE.FindAllStringSubmatch(body, -1)
		if len(srcs) != 1000%24 {
			b.Fatalf("%d thumbnails on the last page, want %d", len(srcs), 1000%24)
		}
		var wg sync.WaitGroup
		ch := make(chan string)
		for range 6 {
			wg.Go(func() {
				for src := range ch {
					if res, _ := br.get(src); res.StatusCode != http.StatusOK {
						b.Errorf("%s: %s", src, res.Status)
					}
				}
			})
		}
		for _, m := range srcs {
			ch <- m[1]
		}
		close(ch)
		wg.Wait()
	}
	report := func(b *testing.B) {
		b.ReportMetric(float64(b.Elapsed().Microseconds())/1000/float64(b.N), "ms/page")
	}
	b.Run("html", func(b *testing.B) {
		for b.Loop() {
			load(false)
		}
		report(b)
	})
	b.Run("cold", func(b *testing.B) {
		for b.Loop() {
			b.StopTimer()
			e.Console.Thumbnails().Forget("", jo.ID)
			b.StartTimer()
			load(true)
		}
		report(b)
	})
	b.Run("warm", func(b *testing.B) {
		load(true)
		for b.Loop() {
			load(true)
		}
		report(b)
	})
}

// olderRelease is a record store as a release before the review queue
// wrote it: a photo's liveness check, sealed, but no outcome beside it.
type olderRelease struct{ facevault.Store }

func (o olderRelease) CreateLivePhoto(ctx context.Context, s facevault.Scope, p *facevault.LivePhoto) error {
	p.LivenessOutcome, p.LivenessReasons = "", nil
	return o.Store.CreateLivePhoto(ctx, s, p)
}

// TestSummarizeLiveness: a flagged photo stored by an earlier release,
// its check sealed, is not in the queue until the vault opens its check
// and records the outcome; then it is, with its reasons.
func TestSummarizeLiveness(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		jo := e.client(e.Acme, "Jo", "Doe")
		older := facevault.NewVault(olderRelease{e.Store}, e.Vault.Blobs, e.Vault.Logger)
		older.Keys, older.Analyzer = e.Vault.Keys, e.Vault.Analyzer
		old := &env{t: t, Store: e.Store, Vault: older}
		p := old.upload(e.Acme, jo.ID, image_(t, "blurred"))
		b := e.signIn(reviewerName, e.Acme)
		if _, body := b.get("/console/queue"); strings.Contains(body, p.ID) {
			t.Fatal("a photo without an outcome is in the queue")
		}
		n, err := e.Vault.SummarizeLiveness(ctx)
		if err != nil || n != 1 {
			t.Fatalf("SummarizeLiveness = %d, %v; want 1", n, err)
		}
		if _, body := b.get("/console/queue?reason=sharpness"); !strings.Contains(body, `id="photo-`+p.ID+`"`) {
			t.Error("the summarized photo is not in the queue for sharpness")
		}
		if n, err := e.Vault.SummarizeLiveness(ctx); err != nil || n != 0 {
			t.Errorf("SummarizeLiveness again = %d, %v; want 0", n, err)
		}
	})
}
