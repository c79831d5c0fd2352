package liveness

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"reflect"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/facevault/facevault/internal/imgdecode"
	"github.com/facevault/facevault/internal/testimage"
)

var (
	worstOnce   sync.Once
	worstInputs []benchInput
)

// worstImages returns the generated worst-case uploads: a 16-bit 50 MP PNG,
// a 50 MP progressive JPEG and a 4 MB noise JPEG (see internal/testimage).
func worstImages() []benchInput {
	worstOnce.Do(func() {
		worstInputs = []benchInput{
			{"png16-50MP", testimage.WorstPNG16()},
			{"progressive-50MP", testimage.WorstProgressiveJPEG()},
			{"noise-4MB", testimage.NoiseJPEG4MB()},
		}
	})
	return worstInputs
}

// allocated returns the bytes f allocates, as the runtime's TotalAlloc
// counts them.
func allocated(f func()) uint64 {
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	f()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

// TestAnalyzeWithinReservation checks that what an analysis allocates once
// the image is read (decode, working image, detection, measures, models)
// stays within the reservation computed from its header, on the fixtures,
// the benchmark images and the worst cases; and that every one of them fits
// the default budget.
func TestAnalyzeWithinReservation(t *testing.T) {
	a := analyzer(t)
	// The models' scratch buffers come from pools that a garbage collection
	// may empty: an analysis allocates them afresh then, and the
	// reservation counts them.
	runtime.GC()
	runtime.GC()
	inputs := []benchInput{
		{"pigo-sample.jpg", readFixture(t, "pigo-sample.jpg")},
		{"astronaut.png", readFixture(t, "astronaut.png")},
	}
	inputs = append(inputs, benchImages(t)...)
	inputs = append(inputs, worstImages()...)
	for _, in := range inputs {
		p, err := probeImage(in.data, &a.cfg)
		if err != nil {
			t.Fatalf("%s: %v", in.name, err)
		}
		ww, wh := imgdecode.FitWithin(p.hdr.Width, p.hdr.Height, a.cfg.WorkingSize)
		need := a.reservation(p.hdr, ww, wh)
		var res any
		got := allocated(func() {
			r, err := a.analyzeData(context.Background(), in.data, nil, stopwatch(false))
			if err != nil {
				t.Fatalf("%s: %v", in.name, err)
			}
			res = r
		})
		t.Logf("%s (%d×%d, %d bytes): allocated %.2f MB, reserved %.2f MB", in.name, p.hdr.Width, p.hdr.Height,
			len(in.data), float64(got)/1e6, float64(need)/1e6)
		if int64(got) > need {
			t.Errorf("%s: analysis allocated %d bytes, more than its reservation %d", in.name, got, need)
		}
		if need > DefaultConfig().MemoryBudget {
			t.Errorf("%s: reservation %d bytes exceeds the default budget %d", in.name, need, DefaultConfig().MemoryBudget)
		}
		if res == nil {
			t.Errorf("%s: no result", in.name)
		}
	}
	if st := a.budget.state(); st.used != 0 {
		t.Errorf("%d bytes still reserved after the analyses", st.used)
	}
}

// withBudget returns an analyzer sharing the shared one's detector and
// models, with a budget of its own.
func withBudget(t testing.TB, size int64) *Analyzer {
	shared := analyzer(t)
	a := *shared
	a.cfg.MemoryBudget = size
	a.budget = newBudget(size)
	return &a
}

// waitFor polls cond until it holds (synchronisation, not a timing
// assertion: it gives up only after a minute).
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(time.Minute); !cond(); {
		if time.Now().After(deadline) {
			t.Fatalf("gave up waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

// TestBudgetMakesAnalysesWait runs analyses concurrently under a budget
// that holds only one of them at a time: they queue instead of exceeding
// it, and all finish with the same result as alone.
func TestBudgetMakesAnalysesWait(t *testing.T) {
	data := readFixture(t, "pigo-sample.jpg")
	alone, err := analyzer(t).Analyze(context.Background(), bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	p, err := probeImage(data, &analyzer(t).cfg)
	if err != nil {
		t.Fatal(err)
	}
	ww, wh := imgdecode.FitWithin(p.hdr.Width, p.hdr.Height, analyzer(t).cfg.WorkingSize)
	need := analyzer(t).reservation(p.hdr, ww, wh)
	a := withBudget(t, need+need/2) // one analysis at a time
	ctx := context.Background()

	// Hold the budget so that all of them queue up, then let them go.
	if err := a.budget.acquire(ctx, need); err != nil {
		t.Fatal(err)
	}
	const n = 4
	errs := make(chan error, n)
	for range n {
		go func() {
			r, err := a.Analyze(ctx, bytes.NewReader(data))
			if err == nil && !reflect.DeepEqual(r, alone) {
				err = fmt.Errorf("result %s, alone %s", describe(r), describe(alone))
			}
			errs <- err
		}()
	}
	waitFor(t, "all analyses to wait", func() bool { return a.budget.state().waiting == n })
	if st := a.budget.state(); st.used != need {
		t.Fatalf("while they wait: %d bytes reserved, want only the %d held by the test", st.used, need)
	}
	a.budget.release(need)
	for range n {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
	st := a.budget.state()
	if st.peak > st.size {
		t.Errorf("peak reservation %d exceeds the budget %d", st.peak, st.size)
	}
	if st.peak != need {
		t.Errorf("peak reservation %d, want one analysis (%d): they ran one at a time", st.peak, need)
	}
	if st.waits != n || st.used != 0 || st.waiting != 0 {
		t.Errorf("after: %+v; want %d waits, nothing reserved or waiting", st, n)
	}
}

// TestBudgetWaitCancelled cancels an analysis while it waits for memory: it
// returns ctx's error without reserving anything, and the next one in the
// queue still runs.
func TestBudgetWaitCancelled(t *testing.T) {
	data := readFixture(t, "pigo-sample.jpg")
	a := withBudget(t, 64<<20)
	bg := context.Background()
	if err := a.budget.acquire(bg, 64<<20); err != nil { // all of it
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(bg)
	cancelled := make(chan error, 1)
	go func() {
		_, err := a.Analyze(ctx, bytes.NewReader(data))
		cancelled <- err
	}()
	waitFor(t, "the analysis to wait", func() bool { return a.budget.state().waiting == 1 })
	second := make(chan error, 1)
	go func() {
		_, err := a.Analyze(bg, bytes.NewReader(data))
		second <- err
	}()
	waitFor(t, "the second analysis to wait", func() bool { return a.budget.state().waiting == 2 })
	cancel()
	if err := <-cancelled; !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled while waiting: %v, want context.Canceled", err)
	}
	if st := a.budget.state(); st.waiting != 1 || st.used != 64<<20 {
		t.Fatalf("after the cancel: %+v, want the second still waiting and only the test's hold reserved", st)
	}
	a.budget.release(64 << 20)
	if err := <-second; err != nil {
		t.Fatalf("second analysis: %v", err)
	}
	if st := a.budget.state(); st.used != 0 || st.waiting != 0 {
		t.Errorf("at the end: %+v", st)
	}
}

// TestOverBudget: an image whose analysis needs more than the whole budget
// is refused with ErrOverBudget before anything is decoded, not queued for
// ever.
func TestOverBudget(t *testing.T) {
	a := withBudget(t, 1<<20)
	res, err := a.Analyze(context.Background(), bytes.NewReader(readFixture(t, "pigo-sample.jpg")))
	if !errors.Is(err, ErrOverBudget) || res != nil {
		t.Fatalf("Analyze with a 1 MiB budget: %v, %v; want ErrOverBudget", res, err)
	}
	if st := a.budget.state(); st.peak != 0 {
		t.Errorf("reserved %d bytes for a refused image", st.peak)
	}
	if _, err := New(func() Config { c := DefaultConfig(); c.MemoryBudget = 0; return c }()); err == nil {
		t.Error("New accepted a zero MemoryBudget")
	}
}
