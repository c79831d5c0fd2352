package onnx

import (
	"context"
	"path/filepath"
	"sync"
	"testing"
)

// ortTimes holds onnxruntime's single-threaded time per run of each model
// on the benchmark input, measured once per test binary by reference.js.
var ortTimes struct {
	once sync.Once
	ms   map[string]float64
}

type benchModel struct {
	name, path string
	input      modelInput
}

func benchModels(b *testing.B) []benchModel {
	bf, fl := modelInputs(b)
	return []benchModel{
		{"blazeface-back", blazeFacePath, bf[0]},
		{"fr-liveness", frLivenessPath, fl[0]},
	}
}

// BenchmarkModels measures one Run of each face model on a real input, in
// one goroutine, with the assembly kernels (asm) and without (go), and
// reports it (go-ms) beside onnxruntime's time per run on the same input
// with one thread (ort-ms, measured by testdata/ort/reference.js over 20
// runs after 5 warm-up runs) and their ratio.
func BenchmarkModels(b *testing.B) {
	models := benchModels(b)
	ortTimes.once.Do(func() {
		var cases []*ortCase
		for _, m := range models {
			path, err := filepath.Abs(m.path)
			if err != nil {
				b.Fatal(err)
			}
			cases = append(cases, &ortCase{ID: m.name, path: path, feeds: m.input.feeds, Time: &ortTime{Warmup: 5, Runs: 20}})
		}
		ref, _ := runORT(b, cases)
		ortTimes.ms = make(map[string]float64)
		for _, m := range models {
			if ref[m.name].err != "" {
				b.Fatalf("%s: onnxruntime: %s", m.name, ref[m.name].err)
			}
			ortTimes.ms[m.name] = ref[m.name].msPerRun
		}
	})
	for _, m := range models {
		data := readFile(b, m.path)
		for _, kv := range []struct {
			name string
			opt  options
		}{{"asm", options{}}, {"go", options{generic: true}}} {
			b.Run(m.name+"/"+kv.name, func(b *testing.B) {
				model, err := load(data, kv.opt)
				if err != nil {
					b.Fatal(err)
				}
				ctx := context.Background()
				if _, err := model.Run(ctx, m.input.feeds); err != nil { // warm the pool
					b.Fatal(err)
				}
				b.ReportAllocs()
				b.ResetTimer()
				for range b.N {
					if _, err := model.Run(ctx, m.input.feeds); err != nil {
						b.Fatal(err)
					}
				}
				goMs := float64(b.Elapsed().Nanoseconds()) / 1e6 / float64(b.N)
				ortMs := ortTimes.ms[m.name]
				b.ReportMetric(goMs, "go-ms")
				b.ReportMetric(ortMs, "ort-ms")
				b.ReportMetric(goMs/ortMs, "ratio")
				b.ReportMetric(float64(model.ScratchBytes()), "scratch-bytes")
			})
		}
	}
}
