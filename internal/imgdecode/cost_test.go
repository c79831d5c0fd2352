package imgdecode

import (
	"fmt"
	"image/color"
	"runtime"
	"sync"
	"testing"

	"github.com/facevault/facevault/internal/testimage"
)

// allocated returns the bytes f allocates, as the runtime's TotalAlloc
// counts them (every allocation, rounded up to its size class).
func allocated(f func()) uint64 {
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	f()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

// decodeWithinCost decodes data to ow×oh and fails unless the decode
// allocated at most the header's Cost.
func decodeWithinCost(t testing.TB, name string, data []byte, ow, oh int) {
	t.Helper()
	hdr, err := ReadHeader(data)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	cost := hdr.Cost(ow, oh)
	var derr error
	got := allocated(func() { _, derr = Decode(data, ow, oh) })
	if derr != nil {
		t.Fatalf("%s: %v", name, derr)
	}
	if int64(got) > cost {
		t.Errorf("%s to %d×%d: allocated %d bytes, more than its Cost %d", name, ow, oh, got, cost)
	}
	t.Logf("%s %d×%d to %d×%d (1/%d): allocated %.2f MB, Cost %.2f MB", name, hdr.Width, hdr.Height, ow, oh,
		hdr.Reduction(ow, oh), float64(got)/1e6, float64(cost)/1e6)
}

var (
	worstOnce sync.Once
	worst     []worstCase
)

type worstCase struct {
	name string
	data []byte
}

// worstCases returns the generated worst-case uploads, made once.
func worstCases() []worstCase {
	worstOnce.Do(func() {
		worst = []worstCase{
			{"png16-50MP", testimage.WorstPNG16()},
			{"progressive-50MP", testimage.WorstProgressiveJPEG()},
			{"noise-4MB", testimage.NoiseJPEG4MB()},
		}
	})
	return worst
}

// TestWorstCasesWithinCost decodes each worst case to the liveness check's
// working size (960 px) and checks that the decode stays within its Cost,
// and that the Cost is a few megabytes where the standard decoders need
// hundreds.
func TestWorstCasesWithinCost(t *testing.T) {
	for _, wc := range worstCases() {
		hdr, err := ReadHeader(wc.data)
		if err != nil {
			t.Fatal(err)
		}
		ow, oh := FitWithin(hdr.Width, hdr.Height, 960)
		decodeWithinCost(t, wc.name, wc.data, ow, oh)
		if c := hdr.Cost(ow, oh); c > 16<<20 {
			t.Errorf("%s: Cost %d bytes, want at most 16 MiB", wc.name, c)
		}
	}
}

// TestCostBoundsLegalImages checks, from headers alone, the largest Cost of
// a legal upload (≤10,000 px a side, ≤50 MP) at the 640 px working size the
// liveness check uses and at 960 px. At 960 the largest is a progressive
// 4:4:4 JPEG of about 7,000×7,000 px, decoded at 1/4: 5 coefficients
// (int16) and 64 bits of refinement history kept per block, in three
// full-resolution components, about 46 MB; at 640, a progressive 4:2:2
// JPEG of 5,000×5,000 px, about 23 MB. (PNGs cost at most two 80 kB rows
// and an accumulator of the working size.)
func TestCostBoundsLegalImages(t *testing.T) {
	for _, tc := range []struct {
		working int
		bound   int64
	}{{640, 24 << 20}, {960, 48 << 20}} {
		var worstCost int64
		var worstName string
		for _, prog := range []bool{false, true} {
			for _, hv := range [][2]int{{1, 1}, {2, 1}, {2, 2}, {4, 2}} {
				for _, side := range []int{1000, 1279, 1280, 1919, 1920, 2559, 2560, 3839, 3840, 5000, 5119, 5120, 7071, 7679, 7680, 10000} {
					w, h := side, min(side, 50_000_000/side)
					o := testimage.JPEGOptions{Color: testimage.JPEGYCbCr, Quality: 50, H: hv[0], V: hv[1], Progressive: prog}
					data, err := testimage.EncodeJPEG(16, 16, func(x, y int) color.RGBA { return color.RGBA{} }, o)
					if err != nil {
						t.Fatal(err)
					}
					data = withSize(data, w, h)
					hdr, err := ReadHeader(data)
					if err != nil {
						t.Fatal(err)
					}
					ow, oh := FitWithin(w, h, tc.working)
					if c := hdr.Cost(ow, oh); c > worstCost {
						worstCost, worstName = c, fmt.Sprintf("%d×%d sampling %v progressive %v", w, h, hv, prog)
					}
				}
			}
		}
		t.Logf("largest Cost at %d px: %.1f MB (%s)", tc.working, float64(worstCost)/1e6, worstName)
		if worstCost > tc.bound {
			t.Errorf("largest Cost at %d px: %d bytes, want at most %d", tc.working, worstCost, tc.bound)
		}
	}
}

// withSize returns a copy of a JPEG whose SOF says w×h: a header for Cost,
// not an image that decodes.
func withSize(data []byte, w, h int) []byte {
	out := append([]byte(nil), data...)
	for i := 2; i+9 < len(out); {
		if out[i] != 0xff {
			i++
			continue
		}
		m := out[i+1]
		if m == 0xc0 || m == 0xc1 || m == 0xc2 {
			out[i+5], out[i+6] = byte(h>>8), byte(h)
			out[i+7], out[i+8] = byte(w>>8), byte(w)
			return out
		}
		i += 2 + int(out[i+2])<<8 + int(out[i+3])
	}
	panic("no SOF")
}
