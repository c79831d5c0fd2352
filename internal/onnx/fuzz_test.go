package onnx

import (
	"context"
	"runtime/metrics"
	"strings"
	"testing"
)

// heapAllocated is the total number of bytes the program has allocated on
// the heap so far.
func heapAllocated() uint64 {
	s := []metrics.Sample{{Name: "/gc/heap/allocs:bytes"}}
	metrics.Read(s)
	return s[0].Value.Uint64()
}

// loadAllocLimit is the most Load may allocate for a file of n bytes: the
// planner's budget (loadBudget float32s plus 16 per byte), the decoded
// copies of the file's tensors, and slack for bookkeeping. A file cannot
// make Load allocate in proportion to a number written in it.
func loadAllocLimit(n int) uint64 {
	return 4*loadBudget + 16<<20 + 128*uint64(n)
}

// FuzzLoad feeds arbitrary bytes to Load: it must never panic, must refuse
// with an "onnx: " error what it does not load, must stay within
// loadAllocLimit, and a model it loads must run (on zeros) without
// panicking when its buffers are small.
func FuzzLoad(f *testing.F) {
	f.Add([]byte{})
	f.Add(reluModel().encode())
	for i, c := range opCases() {
		if i%3 == 0 { // a sample of the operator cases
			f.Add(c.model.encode())
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		before := heapAllocated()
		m, err := Load(data)
		if got := heapAllocated() - before; got > loadAllocLimit(len(data)) {
			t.Fatalf("Load of %d bytes allocated %d bytes, more than %d", len(data), got, loadAllocLimit(len(data)))
		}
		if err != nil {
			if !strings.HasPrefix(err.Error(), "onnx: ") {
				t.Fatalf("error %q does not start with \"onnx: \"", err)
			}
			return
		}
		if m.ScratchBytes() > 4<<20 {
			return
		}
		inputs := make(map[string]*Tensor)
		for _, in := range m.Inputs() {
			inputs[in.Name] = &Tensor{Shape: in.Shape, Data: make([]float32, numElements(in.Shape))}
		}
		out, err := m.Run(context.Background(), inputs)
		if err != nil {
			t.Fatalf("Run on zeros: %v", err)
		}
		for _, o := range m.Outputs() {
			if got := out[o.Name]; got == nil || len(got.Data) != numElements(o.Shape) {
				t.Fatalf("output %q: %v, want shape %v", o.Name, got, o.Shape)
			}
		}
	})
}
