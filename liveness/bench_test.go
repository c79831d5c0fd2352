package liveness

import (
	"bytes"
	"context"
	"image"
	"image/color"
	"image/draw"
	"runtime"
	"runtime/metrics"
	"sync"
	"testing"
	"time"

	"github.com/facevault/facevault/internal/imgdecode"
)

// benchInput is a generated benchmark image.
type benchInput struct {
	name string
	data []byte
}

var (
	benchOnce   sync.Once
	benchInputs []benchInput
)

// benchImages returns the benchmark inputs, made once from the sample
// fixture:
//   - 12MP-exif6: a 4000×3000 JPEG (quality 90) as a phone stores a portrait
//     photo — pixels on their side, EXIF orientation 6 — whose upright
//     content is the sample scaled up to 3000×4000 (face about 2,300 px);
//   - 640x480: a webcam-sized selfie, the sample scaled to 384×480 on a
//     light background.
func benchImages(b testing.TB) []benchInput {
	benchOnce.Do(func() {
		sample := fixtureRGBA(b, "pigo-sample.jpg")
		big := resizeBilinear(sample, 3000, 4000)
		phone := encodeJPEG(b, storedFor(big, orientRotate90), 90, exifApp1(6))
		selfie := flat(640, 480, color.RGBA{235, 235, 235, 255})
		small := resizeBilinear(sample, 384, 480)
		draw.Draw(selfie, small.Rect.Add(image.Pt(128, 0)), small, image.Point{}, draw.Src)
		benchInputs = []benchInput{
			{"12MP-exif6", phone},
			{"640x480", encodeJPEG(b, selfie, 90, nil)},
		}
	})
	return benchInputs
}

// BenchmarkAnalyze measures the whole check per input, with the time of
// each stage reported as a metric (ms/op averaged over the iterations) and
// the allocations of the whole call. Besides the two photos, it runs the
// worst-case uploads for memory (worstImages), which have no face.
func BenchmarkAnalyze(b *testing.B) {
	a := analyzer(b)
	inputs := append(benchImages(b), worstImages()...)
	for i, in := range inputs {
		b.Run(in.name, func(b *testing.B) {
			r, err := a.Analyze(context.Background(), bytes.NewReader(in.data))
			if err != nil {
				b.Fatal(err)
			}
			faces := 0
			if i < 2 {
				faces = 1
			}
			if n := r.Breakdown.IntegrityAnalysis.Breakdown.FaceCount; n != faces || !r.Breakdown.IntegrityAnalysis.Breakdown.ImageReadable {
				b.Fatalf("benchmark image has %d faces, want %d: %s", n, faces, describe(r))
			}
			b.Logf("%d bytes: %s", len(in.data), describe(r))
			var total stageTimes
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				var tm stageTimes
				if _, err := a.analyze(context.Background(), bytes.NewReader(in.data), &tm); err != nil {
					b.Fatal(err)
				}
				total.decode += tm.decode
				total.orient += tm.orient
				total.detect += tm.detect
				total.measure += tm.measure
				total.pad += tm.pad
			}
			ms := func(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) / float64(b.N) }
			b.ReportMetric(ms(total.decode), "decode-ms/op")
			b.ReportMetric(ms(total.orient), "orient+gray-ms/op")
			b.ReportMetric(ms(total.detect), "detect-ms/op")
			b.ReportMetric(ms(total.measure), "measure-ms/op")
			b.ReportMetric(ms(total.pad), "pad-ms/op")
		})
	}
}

// BenchmarkStage runs each stage alone on its own input, so that each
// stage's allocations are reported too. The detect and pad stages include
// preparing the networks' inputs (letterbox; crop and resampling).
func BenchmarkStage(b *testing.B) {
	a := analyzer(b)
	cfg := &a.cfg
	ctx := context.Background()
	for _, in := range benchImages(b) {
		p, err := probeImage(in.data, cfg)
		if err != nil {
			b.Fatal(err)
		}
		ww, wh := imgdecode.FitWithin(p.hdr.Width, p.hdr.Height, cfg.WorkingSize)
		img, err := decodeWorking(in.data, ww, wh)
		if err != nil {
			b.Fatal(err)
		}
		work := orient(img, p.orientation)
		g := gray{pix: grayOf(work), w: work.Rect.Dx(), h: work.Rect.Dy()}
		faces, err := a.detect(ctx, work)
		if err != nil || len(faces) != 1 {
			b.Fatalf("%s: %d faces, %v", in.name, len(faces), err)
		}
		f := faces[0]
		b.Run(in.name+"/decode", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := probeImage(in.data, cfg); err != nil {
					b.Fatal(err)
				}
				if _, err := decodeWorking(in.data, ww, wh); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(in.name+"/orient+gray", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				m := orient(img, p.orientation)
				_ = grayOf(m)
			}
		})
		b.Run(in.name+"/detect", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := a.detect(ctx, work); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(in.name+"/measure", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				a.quality(g, f, 1, 1, work.Rect.Dx(), work.Rect.Dy(), 1)
			}
		})
		b.Run(in.name+"/pad", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := a.liveness(ctx, work, f); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkConcurrentPeakHeap runs 16 analyses of the same worst-case upload
// at once, as 16 concurrent uploads would, and reports the peak of the Go
// heap while they run (peak-heap-MB: heap spans in use, HeapInuse; sampled
// every 200 µs from runtime/metrics) and the peak of the memory the runtime
// had mapped and not returned to the system (peak-mapped-MB, close to the
// process's resident set). The budget bounds what the analyses reserve;
// the figures include the garbage collector's slack and the 16 copies of
// the input bytes. Run it alone (-bench ConcurrentPeakHeap) for meaningful
// peaks: other benchmarks' garbage counts too.
func BenchmarkConcurrentPeakHeap(b *testing.B) {
	const n = 16
	for _, in := range worstImages() {
		b.Run(in.name, func(b *testing.B) {
			a := withBudget(b, DefaultConfig().MemoryBudget)
			var peakHeap, peakMapped uint64
			for b.Loop() {
				runtime.GC()
				stop := make(chan struct{})
				sampled := make(chan struct{})
				go func() {
					defer close(sampled)
					samples := []metrics.Sample{
						{Name: "/memory/classes/heap/objects:bytes"},
						{Name: "/memory/classes/heap/unused:bytes"},
						{Name: "/memory/classes/total:bytes"},
						{Name: "/memory/classes/heap/released:bytes"},
					}
					t := time.NewTicker(200 * time.Microsecond)
					defer t.Stop()
					for {
						metrics.Read(samples)
						heap := samples[0].Value.Uint64() + samples[1].Value.Uint64()
						mapped := samples[2].Value.Uint64() - samples[3].Value.Uint64()
						peakHeap, peakMapped = max(peakHeap, heap), max(peakMapped, mapped)
						select {
						case <-stop:
							return
						case <-t.C:
						}
					}
				}()
				var wg sync.WaitGroup
				errs := make(chan error, n)
				for range n {
					wg.Go(func() {
						if _, err := a.Analyze(context.Background(), bytes.NewReader(in.data)); err != nil {
							errs <- err
						}
					})
				}
				wg.Wait()
				close(stop)
				<-sampled
				close(errs)
				for err := range errs {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(peakHeap)/(1<<20), "peak-heap-MB")
			b.ReportMetric(float64(peakMapped)/(1<<20), "peak-mapped-MB")
			b.ReportMetric(float64(a.budget.state().peak)/(1<<20), "peak-reserved-MB")
		})
	}
}
