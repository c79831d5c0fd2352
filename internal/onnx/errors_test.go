package onnx

import (
	"context"
	"errors"
	"math"
	"slices"
	"strings"
	"sync"
	"testing"
)

// reluModel is a valid one-node model, the base of the refusal cases.
func reluModel() *tModel {
	return &tModel{
		inputs:  []tValue{in4("x", 1, 2, 3, 4)},
		outputs: []tValue{out("y")},
		nodes:   []tNode{{op: "Relu", in: []string{"x"}, out: []string{"y"}}},
	}
}

func withNode(n tNode, inits ...*tTensor) *tModel {
	m := reluModel()
	m.nodes = []tNode{n}
	m.inits = inits
	return m
}

func convWith(attrs ...tAttr) *tModel {
	return withNode(tNode{op: "Conv", in: []string{"x", "W"}, out: []string{"y"}, attrs: attrs},
		fTensor("W", []int64{2, 2, 1, 1}, []float32{1, 2, 3, 4}))
}

// TestLoadRefuses checks that Load refuses, with an error saying why, what
// it does not implement exactly, and malformed files.
func TestLoadRefuses(t *testing.T) {
	valid := reluModel().encode()
	tests := []struct {
		name string
		data []byte
		want string
	}{
		{"Empty", nil, "no graph"},
		{"Truncated", valid[:len(valid)-3], "truncated"},
		{"GroupWireType", append(slices.Clone(valid), 0x0b), "wire type 3"},
		{"OldIRVersion", (&tModel{ir: 2, inputs: reluModel().inputs, outputs: reluModel().outputs, nodes: reluModel().nodes}).encode(), "ir_version 2"},
		{"NewOpset", (&tModel{opset: 23, inputs: reluModel().inputs, outputs: reluModel().outputs, nodes: reluModel().nodes}).encode(), "operator set version 23"},
		{"UnknownOp", withNode(tNode{op: "Softplus", in: []string{"x"}, out: []string{"y"}}).encode(), "operator Softplus is not supported"},
		{"OtherDomain", withNode(tNode{op: "Relu", domain: "com.microsoft", in: []string{"x"}, out: []string{"y"}}).encode(), `operator domain "com.microsoft"`},
		{"UnknownAttribute", withNode(tNode{op: "Relu", in: []string{"x"}, out: []string{"y"}, attrs: []tAttr{aFloat("alpha", 1)}}).encode(), `attribute "alpha" is not supported`},
		{"AttributeTwice", convWith(aInt("group", 1), aInt("group", 1)).encode(), "given twice"},
		{"AttributeWrongType", convWith(aFloat("group", 1)).encode(), "has type FLOAT, want INT"},
		{"Dilations", convWith(aInts("dilations", 2, 2)).encode(), "dilations [2 2] are not supported"},
		{"AutoPad", convWith(aString("auto_pad", "SAME_UPPER")).encode(), `auto_pad "SAME_UPPER" is not supported`},
		{"BadGroup", convWith(aInt("group", 3)).encode(), "group 3 does not fit"},
		{"CeilMode", withNode(tNode{op: "MaxPool", in: []string{"x"}, out: []string{"y"}, attrs: []tAttr{ksize(2, 2), aInt("ceil_mode", 1)}}).encode(), "ceil_mode 1 is not supported"},
		{"MaxPoolIndices", withNode(tNode{op: "MaxPool", in: []string{"x"}, out: []string{"y", "idx"}, attrs: []tAttr{ksize(2, 2)}}).encode(), `optional output "idx" is not supported`},
		{"Float16", withNode(tNode{op: "Add", in: []string{"x", "k"}, out: []string{"y"}}, &tTensor{name: "k", dtype: 10, dims: []int64{1}, extra: pbBytes(nil, 9, []byte{0, 0})}).encode(), "FLOAT16 is not supported"},
		{"Int32Data", withNode(tNode{op: "Add", in: []string{"x", "k"}, out: []string{"y"}}, &tTensor{name: "k", dtype: 6, dims: []int64{1}, extra: pbBytes(nil, 5, []byte{1})}).encode(), "int32, string, double or uint64 data"},
		{"ExternalData", withNode(tNode{op: "Add", in: []string{"x", "k"}, out: []string{"y"}}, &tTensor{name: "k", dims: []int64{1}, extra: pbBytes(nil, 13, pbString(pbString(nil, 1, "location"), 2, "w.bin"))}).encode(), "external data"},
		{"DataLocation", withNode(tNode{op: "Add", in: []string{"x", "k"}, out: []string{"y"}}, &tTensor{name: "k", dims: []int64{1}, extra: pbInt(nil, 14, 1)}).encode(), "external data"},
		{"RawDataSize", withNode(tNode{op: "Add", in: []string{"x", "k"}, out: []string{"y"}}, &tTensor{name: "k", dims: []int64{2}, extra: pbBytes(nil, 9, []byte{0, 0, 0, 0})}).encode(), "raw_data has 4 bytes, shape [2] needs 8"},
		{"SparseInitializer", func() []byte { m := reluModel(); m.extra = pbBytes(nil, 15, nil); return m.encode() }(), "sparse initializers"},
		{"SymbolicInput", func() []byte {
			m := reluModel()
			m.inputs[0].sym = []bool{true}
			return m.encode()
		}(), "not fully known"},
		{"DoubleInput", func() []byte { m := reluModel(); m.inputs[0].dtype = 11; return m.encode() }(), "element type DOUBLE"},
		{"UndefinedInput", withNode(tNode{op: "Relu", in: []string{"nothing"}, out: []string{"y"}}).encode(), `input "nothing" is not defined`},
		{"Cycle", func() []byte {
			m := reluModel()
			m.nodes = []tNode{
				{op: "Add", in: []string{"x", "b"}, out: []string{"a"}},
				{op: "Relu", in: []string{"a"}, out: []string{"b"}},
				{op: "Relu", in: []string{"b"}, out: []string{"y"}},
			}
			return m.encode()
		}(), "cycle"},
		{"OutputNotComputed", func() []byte { m := reluModel(); m.outputs = []tValue{out("z")}; return m.encode() }(), `output "z" is not computed`},
		{"GatherOnActivation", withNode(tNode{op: "Gather", in: []string{"x", "i"}, out: []string{"y"}}, iTensor("i", 0)).encode(), "only constant data and indices"},
		{"MatMulActivations", func() []byte {
			m := reluModel()
			m.inputs = append(m.inputs, in4("w", 1, 2, 4, 3))
			m.nodes = []tNode{{op: "MatMul", in: []string{"x", "w"}, out: []string{"y"}}}
			return m.encode()
		}(), "must be a constant FLOAT tensor"},
		{"BroadcastActivations", func() []byte {
			m := reluModel()
			m.inputs = append(m.inputs, in4("z", 1, 1, 3, 4))
			m.nodes = []tNode{{op: "Add", in: []string{"x", "z"}, out: []string{"y"}}}
			return m.encode()
		}(), "broadcast between two activations is not supported"},
		{"TrainingMode", (&tModel{opset: 14, inputs: []tValue{in4("x", 1, 2, 3, 4)}, outputs: []tValue{out("y")},
			inits: []*tTensor{fTensor("s", []int64{2}, []float32{1, 1}), fTensor("b", []int64{2}, []float32{0, 0}), fTensor("m", []int64{2}, []float32{0, 0}), fTensor("v", []int64{2}, []float32{1, 1})},
			nodes: []tNode{{op: "BatchNormalization", in: []string{"x", "s", "b", "m", "v"}, out: []string{"y"}, attrs: []tAttr{aInt("training_mode", 1)}}}}).encode(), "training_mode"},
		{"HugeConstantOfShape", withNode(tNode{op: "ConstantOfShape", in: []string{"s"}, out: []string{"y"}}, iTensor("s", 1<<21)).encode(), "more than 1048576 elements"},
		{"FoldingBudget", func() []byte {
			// Each node folds a million zeros; together more than the
			// planner may allocate for a file this small.
			m := reluModel()
			m.inits = []*tTensor{iTensor("s", 1<<20)}
			var ins []string
			for i := range 8 {
				name := "z" + itoa(i)
				m.nodes = append(m.nodes, tNode{op: "ConstantOfShape", in: []string{"s"}, out: []string{name}})
				ins = append(ins, name)
			}
			m.nodes = append(m.nodes, tNode{op: "Concat", in: ins, out: []string{"c"}, attrs: []tAttr{aInt("axis", 0)}},
				tNode{op: "Add", in: []string{"y", "c"}, out: []string{"y2"}})
			m.outputs = []tValue{out("y2")}
			return m.encode()
		}(), "too much memory"},
		{"LocalFunctions", append(slices.Clone(valid), pbBytes(nil, 25, nil)...), "local functions"},
		{"NoOpType", withNode(tNode{op: "", in: []string{"x"}, out: []string{"y"}}).encode(), "no op_type"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Load(tt.data)
			if err == nil {
				t.Fatalf("Load succeeded, want an error containing %q", tt.want)
			}
			if !strings.Contains(err.Error(), tt.want) || !strings.HasPrefix(err.Error(), "onnx: ") {
				t.Fatalf("error %q, want one starting with \"onnx: \" and containing %q", err, tt.want)
			}
		})
	}
	if _, err := Load(valid); err != nil {
		t.Fatalf("the base model: %v", err)
	}
}

// TestRunRefuses checks Run's answers to inputs that do not fit the model.
func TestRunRefuses(t *testing.T) {
	m, err := Load(reluModel().encode())
	if err != nil {
		t.Fatal(err)
	}
	good := func() *Tensor { return &Tensor{Shape: []int{1, 2, 3, 4}, Data: make([]float32, 24)} }
	nan, inf := good(), good()
	nan.Data[5] = float32(math.NaN())
	inf.Data[23] = float32(math.Inf(-1))
	tests := []struct {
		name   string
		inputs map[string]*Tensor
		want   string
	}{
		{"Missing", map[string]*Tensor{}, "got 0 inputs, the model has 1"},
		{"WrongName", map[string]*Tensor{"z": good()}, `input "x" is missing`},
		{"Nil", map[string]*Tensor{"x": nil}, `input "x" is missing`},
		{"Extra", map[string]*Tensor{"x": good(), "z": good()}, "got 2 inputs"},
		{"Shape", map[string]*Tensor{"x": {Shape: []int{1, 2, 4, 3}, Data: make([]float32, 24)}}, "has shape [1 2 4 3], want [1 2 3 4]"},
		{"DataLength", map[string]*Tensor{"x": {Shape: []int{1, 2, 3, 4}, Data: make([]float32, 23)}}, "has 23 values, shape [1 2 3 4] needs 24"},
		{"NaN", map[string]*Tensor{"x": nan}, "value 5 is NaN"},
		{"Inf", map[string]*Tensor{"x": inf}, "value 23 is -Inf"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := m.Run(context.Background(), tt.inputs)
			if !errors.Is(err, ErrInput) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %v, want ErrInput containing %q", err, tt.want)
			}
		})
	}
	t.Run("Canceled", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		if _, err := m.Run(ctx, map[string]*Tensor{"x": good()}); !errors.Is(err, context.Canceled) {
			t.Fatalf("error %v, want context.Canceled", err)
		}
	})
	t.Run("OK", func(t *testing.T) {
		x := good()
		for i := range x.Data {
			x.Data[i] = float32(i) - 12
		}
		out, err := m.Run(context.Background(), map[string]*Tensor{"x": x})
		if err != nil {
			t.Fatal(err)
		}
		y := out["y"]
		for i, v := range y.Data {
			if want := max(float32(i)-12, 0); v != want {
				t.Fatalf("y[%d] = %g, want %g", i, v, want)
			}
		}
		if x.Data[0] != -12 {
			t.Fatal("Run changed its input")
		}
	})
}

// TestConcurrentRuns runs one model from several goroutines at once: each
// result must equal the result of a run alone.
func TestConcurrentRuns(t *testing.T) {
	data := readFile(t, frLivenessPath)
	m, err := Load(data)
	if err != nil {
		t.Fatal(err)
	}
	inputs := make([]*Tensor, 4)
	want := make([][]float32, len(inputs))
	for i := range inputs {
		inputs[i] = &Tensor{Shape: []int{1, 3, 128, 128}, Data: randomData(uint64(200+i), 3*128*128, 0, 255)}
		out, err := m.Run(context.Background(), map[string]*Tensor{"input": inputs[i]})
		if err != nil {
			t.Fatal(err)
		}
		want[i] = out["output"].Data
	}
	var wg sync.WaitGroup
	errs := make(chan error, 4*len(inputs))
	for g := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range 3 * len(inputs) {
				i := (g + j) % len(inputs)
				out, err := m.Run(context.Background(), map[string]*Tensor{"input": inputs[i]})
				if err != nil {
					errs <- err
					return
				}
				if !slices.Equal(out["output"].Data, want[i]) {
					errs <- errors.New("a concurrent run gave another result")
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

// TestModelInfo checks the names and shapes a Model reports, and that
// callers cannot change them.
func TestModelInfo(t *testing.T) {
	m, err := Load(readFile(t, blazeFacePath))
	if err != nil {
		t.Fatal(err)
	}
	in := m.Inputs()
	if len(in) != 1 || in[0].Name != "input:0" || !slices.Equal(in[0].Shape, []int{1, 256, 256, 3}) {
		t.Fatalf("inputs %v", in)
	}
	in[0].Shape[1] = 7
	if m.Inputs()[0].Shape[1] != 256 {
		t.Fatal("Inputs returned the model's own slice")
	}
	var names []string
	for _, o := range m.Outputs() {
		names = append(names, o.Name)
	}
	if !slices.Equal(names, []string{"Identity:0", "Identity_1:0", "Identity_2:0", "Identity_3:0"}) {
		t.Fatalf("outputs %v", names)
	}
	// The buffers are reused: one run needs far less than all the
	// intermediate values together.
	var all int64
	for _, v := range m.p.values {
		if !v.isConst {
			all += 4 * int64(v.size())
		}
	}
	n := m.ScratchBytes()
	if n < 4*256*256*3 || n > all/4 {
		t.Fatalf("ScratchBytes %d, all intermediate values together %d: want at least the input and at most a quarter of them", n, all)
	}
	t.Logf("ScratchBytes %d (all intermediate values together: %d)", n, all)
}
