package main

// BenchmarkServeMemory: the resident memory of a serve process under the
// uploads that cost it the most, read from outside.

import (
	"bytes"
	"encoding/json"
	"fmt"
	"image"
	"image/jpeg"
	"io"
	"maps"
	"net/http"
	"os"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/facevault/facevault/internal/testimage"
)

const (
	// memoryUploads is how many uploads each iteration sends at once: the
	// default --max-uploads.
	memoryUploads = 16
	// maxRSSEnv overrides memoryMaxRSS, in MiB.
	maxRSSEnv = "FACEVAULT_BENCH_MAX_RSS_MB"
	// memoryMaxRSS is the resident memory, in MiB, past which the
	// benchmark kills the server, so that a run cannot exhaust the
	// machine: the peak reported is then a lower bound, and the capped
	// metric is 1.
	memoryMaxRSS = 4096
)

// BenchmarkServeMemory starts 'facevault serve' as a child process on the
// embedded default with default flags (16 upload slots, the liveness check
// and face embeddings on: where the memory goes), sends memoryUploads concurrent uploads of one
// worst-case image with a test key per iteration, and reports the process's
// resident memory as the kernel counts it, in MiB: idle-RSS-MB (VmRSS once
// it listens) and peak-RSS-MB (VmHWM after the uploads). Each case runs on a
// fresh process, so that the peak is the case's. Each case runs again with
// --face-embeddings=false (name suffix -no-embeddings), the face model not
// loaded, to show what the model costs.
//
// A watchdog reads VmRSS every 10ms and kills the process with SIGKILL if it
// passes memoryMaxRSS (4096 MiB; FACEVAULT_BENCH_MAX_RSS_MB to change it):
// peak-RSS-MB is then the last VmHWM read, a lower bound, and the capped
// metric is 1.
func BenchmarkServeMemory(b *testing.B) {
	maxRSS := int64(memoryMaxRSS)
	if s := os.Getenv(maxRSSEnv); s != "" {
		v, err := strconv.ParseInt(s, 10, 64)
		if err != nil || v <= 0 {
			b.Fatalf("%s=%q: want a positive number of MiB", maxRSSEnv, s)
		}
		maxRSS = v
	}
	bin := buildFacevault(b)
	for _, wc := range worstCaseUploads(b) {
		b.Run(wc.name, func(b *testing.B) {
			benchServeMemory(b, bin, wc.image, maxRSS<<20)
		})
		// The same without the face embedding model.
		b.Run(wc.name+"-no-embeddings", func(b *testing.B) {
			benchServeMemory(b, bin, wc.image, maxRSS<<20, "--face-embeddings=false")
		})
	}
}

func benchServeMemory(b *testing.B, bin string, img []byte, maxRSS int64, flags ...string) {
	dir := b.TempDir()
	env := childEnv()
	key := createKeyProcess(b, bin, env, []string{"--data", dir}, "bench", "test")
	p := startServeProcess(b, bin, env, append([]string{"--data", dir}, flags...)...)
	defer p.kill()
	// Under load 16 decodes of 50 megapixels take long: the server's own
	// timeouts bound them, and the watchdog its memory.
	p.client.Timeout = 0
	idle, err := procStatus(p.pid(), "VmRSS")
	if err != nil {
		b.Fatal(err)
	}
	status, resp, err := p.request("POST", "/v1/clients", key, map[string]any{
		"type":          "person",
		"email":         "bench@example.com",
		"personDetails": map[string]string{"firstName": "Bench", "lastName": "Mark"},
	})
	var c struct{ ID string }
	if err != nil || status != http.StatusOK || json.Unmarshal(resp, &c) != nil {
		b.Fatalf("create a client: got %d %s %v, want 200", status, resp, err)
	}
	body, err := json.Marshal(uploadBody(c.ID, img, true))
	if err != nil {
		b.Fatal(err)
	}

	// The watchdog.
	var (
		hwm    atomic.Int64
		capped atomic.Bool
		done   = make(chan struct{})
		wg     sync.WaitGroup
	)
	wg.Go(func() {
		for {
			m, err := procStatus(p.pid(), "VmRSS", "VmHWM")
			if err != nil {
				return // the process has exited
			}
			hwm.Store(m["VmHWM"])
			if m["VmRSS"] > maxRSS {
				capped.Store(true)
				p.kill()
				return
			}
			select {
			case <-done:
				return
			case <-time.After(10 * time.Millisecond):
			}
		}
	})

	answers := map[string]int{}
	var mu sync.Mutex
	for b.Loop() {
		if capped.Load() {
			continue
		}
		var uploads sync.WaitGroup
		for range memoryUploads {
			uploads.Go(func() {
				answer := sendUpload(p, key, body)
				mu.Lock()
				answers[answer]++
				mu.Unlock()
			})
		}
		uploads.Wait()
	}
	close(done)
	wg.Wait()
	if !capped.Load() {
		m, err := procStatus(p.pid(), "VmHWM")
		if err != nil {
			b.Fatalf("the server exited during the uploads: %v\nlog:\n%s", err, p.stderr)
		}
		hwm.Store(m["VmHWM"])
	}
	b.ReportMetric(float64(hwm.Load())/(1<<20), "peak-RSS-MB")
	b.ReportMetric(float64(idle["VmRSS"])/(1<<20), "idle-RSS-MB")
	if capped.Load() {
		b.ReportMetric(1, "capped")
		b.Logf("the server passed %d MiB of resident memory and was killed: its peak would have been higher (%s=%d to allow more)",
			maxRSS>>20, maxRSSEnv, 2*maxRSS>>20)
	}
	b.Logf("%d-byte image; answers: %v", len(img), answers)
	// Without the watchdog's kill, every upload is answered: a 200, or a
	// 4xx refusing what the server cannot afford; never a 5xx.
	for _, a := range slices.Sorted(maps.Keys(answers)) {
		if !capped.Load() && (a == "no answer" || a[0] == '5') {
			b.Errorf("%d uploads answered %q, want 200 or a 4xx\nlog:\n%s", answers[a], a, p.stderr)
		}
	}
}

// sendUpload sends an upload body and returns its answer's status (and type, if
// not 200), or "no answer".
func sendUpload(p *serveProcess, key string, body []byte) string {
	req, err := http.NewRequest("POST", "http://"+p.addr+"/v1/livePhotos", bytes.NewReader(body))
	if err != nil {
		return "no answer"
	}
	req.Header.Set("Authorization", key)
	req.Header.Set("Content-Type", "application/json")
	resp, err := p.client.Do(req)
	if err != nil {
		return "no answer"
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return "no answer"
	}
	if resp.StatusCode == http.StatusOK {
		return "200"
	}
	var e struct{ Type string }
	json.Unmarshal(b, &e)
	return fmt.Sprintf("%d %s", resp.StatusCode, e.Type)
}

// worstCase is an upload within the contract's bounds that costs the
// server much memory.
type worstCase struct {
	name  string
	image []byte
}

// worstCaseUploads makes the worst cases of BenchmarkServeMemory: each is
// a legal upload (34 KB to 4 MiB, at most 10,000 pixels a side and 50
// megapixels).
func worstCaseUploads(tb testing.TB) []worstCase {
	tb.Helper()
	start := time.Now()
	cases := []worstCase{
		// 400 MB of pixels in under 1 MB of file.
		{"PNG16bit50MP", testimage.WorstPNG16()},
		// A smooth 50 MP picture: under 1 MB of file.
		{"JPEG50MP", jpeg50MP(tb)},
		// 50 MP whose coefficients arrive scan by scan: a full decoder
		// keeps them all until the last.
		{"ProgressiveJPEG50MP", testimage.WorstProgressiveJPEG()},
		// A file as large as allowed that compresses nothing.
		{"NoiseJPEG4MB", testimage.NoiseJPEG4MB()},
	}
	for _, c := range cases {
		if n := len(c.image); n < 34<<10 || n > 4<<20 {
			tb.Fatalf("worst case %s is %d bytes: not a legal upload (34 KB to 4 MiB)", c.name, n)
		}
	}
	tb.Logf("made the worst cases in %v", time.Since(start).Round(time.Millisecond))
	return cases
}

// jpeg50MP encodes a 10000×5000 baseline JPEG of smooth gradients.
func jpeg50MP(tb testing.TB) []byte {
	tb.Helper()
	const w, h = 10000, 5000
	m := image.NewYCbCr(image.Rect(0, 0, w, h), image.YCbCrSubsampleRatio420)
	for y := range h {
		for x := range w {
			m.Y[y*m.YStride+x] = uint8(x*255/w/2 + y*255/h/2)
		}
	}
	for i := range m.Cb {
		m.Cb[i] = uint8(96 + i%m.CStride*64/m.CStride)
		m.Cr[i] = uint8(160 - i/m.CStride*64/(h/2))
	}
	var b bytes.Buffer
	if err := jpeg.Encode(&b, m, &jpeg.Options{Quality: 75}); err != nil {
		tb.Fatal(err)
	}
	return b.Bytes()
}
