package spoof

import (
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
)

// This file reads a TensorFlow.js graph model (model.json plus its weights
// file) and compiles it into a plan: a list of steps in topological order
// with static shapes (batch 1), constants decoded to float32, conv and
// matmul weights packed for the kernels, elementwise tails fused into the
// step that produces their input, and activation buffers assigned so that
// buffers are reused once their values are dead.

// tfjsModel is the part of a tfjs graph-model JSON file that is used.
type tfjsModel struct {
	Format        string `json:"format"`
	ModelTopology struct {
		Node []tfNode `json:"node"`
	} `json:"modelTopology"`
	Signature *struct {
		Inputs  map[string]tfTensorInfo `json:"inputs"`
		Outputs map[string]tfTensorInfo `json:"outputs"`
	} `json:"signature"`
	WeightsManifest []struct {
		Paths   []string     `json:"paths"`
		Weights []weightSpec `json:"weights"`
	} `json:"weightsManifest"`
}

type tfTensorInfo struct {
	Name string `json:"name"`
}

type tfNode struct {
	Name  string            `json:"name"`
	Op    string            `json:"op"`
	Input []string          `json:"input"`
	Attr  map[string]tfAttr `json:"attr"`
}

// tfAttr is a TensorFlow AttrValue as the tfjs converter writes it in JSON:
// strings are base64, integers are decimal strings.
type tfAttr struct {
	S    *string      `json:"s"`
	I    *json.Number `json:"i"`
	F    *float64     `json:"f"`
	B    *bool        `json:"b"`
	Type *string      `json:"type"`
	List *struct {
		S []string      `json:"s"`
		I []json.Number `json:"i"`
		F []float64     `json:"f"`
	} `json:"list"`
	Shape *struct {
		Dim []struct {
			Size json.Number `json:"size"`
		} `json:"dim"`
	} `json:"shape"`
}

type weightSpec struct {
	Name         string `json:"name"`
	Shape        []int  `json:"shape"`
	Dtype        string `json:"dtype"`
	Quantization *struct {
		Dtype         string   `json:"dtype"`
		Scale         *float64 `json:"scale"`
		Min           *float64 `json:"min"`
		OriginalDtype string   `json:"original_dtype"`
	} `json:"quantization"`
}

// supportedOps lists the graph operations the executor implements. Loading
// a model with any other operation fails.
var supportedOps = map[string]bool{
	"Placeholder": true, "Const": true, "Identity": true,
	"_FusedConv2D": true, "MaxPool": true, "Relu": true, "Reshape": true,
	"_FusedMatMul": true, "Sigmoid": true, "Softmax": true,
	"Mul": true, "Add": true, "AddV2": true,
}

// constant is a decoded weight: float32 data, or int32 data for shape
// operands.
type constant struct {
	shape []int
	f32   []float32
	i32   []int32
}

func (n *tfNode) str(key string) (string, bool, error) {
	a, ok := n.Attr[key]
	if !ok || a.S == nil {
		return "", false, nil
	}
	b, err := base64.StdEncoding.DecodeString(*a.S)
	if err != nil {
		return "", false, fmt.Errorf("node %q: attribute %s: %w", n.Name, key, err)
	}
	return string(b), true, nil
}

func (n *tfNode) strList(key string) ([]string, error) {
	a, ok := n.Attr[key]
	if !ok || a.List == nil {
		return nil, nil
	}
	out := make([]string, len(a.List.S))
	for i, s := range a.List.S {
		b, err := base64.StdEncoding.DecodeString(s)
		if err != nil {
			return nil, fmt.Errorf("node %q: attribute %s: %w", n.Name, key, err)
		}
		out[i] = string(b)
	}
	return out, nil
}

func (n *tfNode) intList(key string) ([]int, error) {
	a, ok := n.Attr[key]
	if !ok || a.List == nil {
		return nil, nil
	}
	out := make([]int, len(a.List.I))
	for i, s := range a.List.I {
		v, err := strconv.Atoi(string(s))
		if err != nil {
			return nil, fmt.Errorf("node %q: attribute %s: %w", n.Name, key, err)
		}
		out[i] = v
	}
	return out, nil
}

func (n *tfNode) boolean(key string) bool {
	a, ok := n.Attr[key]
	return ok && a.B != nil && *a.B
}

func (n *tfNode) integer(key string) (int, bool, error) {
	a, ok := n.Attr[key]
	if !ok || a.I == nil {
		return 0, false, nil
	}
	v, err := strconv.Atoi(string(*a.I))
	if err != nil {
		return 0, false, fmt.Errorf("node %q: attribute %s: %w", n.Name, key, err)
	}
	return v, true, nil
}

// checkFloat refuses nodes whose element type attribute is set to anything
// but float32.
func (n *tfNode) checkFloat() error {
	if a, ok := n.Attr["T"]; ok && a.Type != nil && *a.Type != "DT_FLOAT" {
		return fmt.Errorf("node %q (%s): element type %s is not supported, only DT_FLOAT", n.Name, n.Op, *a.Type)
	}
	return nil
}

// decodeWeights splits the weights file into constants, in manifest order.
func decodeWeights(m *tfjsModel, bin []byte) (map[string]*constant, error) {
	consts := make(map[string]*constant)
	off := 0
	for _, group := range m.WeightsManifest {
		for _, w := range group.Weights {
			n := 1
			for _, d := range w.Shape {
				if d < 0 {
					return nil, fmt.Errorf("weight %q: negative dimension in shape %v", w.Name, w.Shape)
				}
				n *= d
			}
			c := &constant{shape: append([]int(nil), w.Shape...)}
			elem := 4
			if q := w.Quantization; q != nil {
				switch {
				case q.Dtype == "float16" && w.Dtype == "float32":
					elem = 2
				default:
					return nil, fmt.Errorf("weight %q: quantization %s of %s is not supported (only float16 of float32)", w.Name, q.Dtype, w.Dtype)
				}
			}
			if off+n*elem > len(bin) {
				return nil, fmt.Errorf("weight %q: needs bytes %d..%d but the weights file has %d", w.Name, off, off+n*elem, len(bin))
			}
			b := bin[off : off+n*elem]
			off += n * elem
			switch {
			case elem == 2:
				c.f32 = make([]float32, n)
				for i := range c.f32 {
					c.f32[i] = float16to32(binary.LittleEndian.Uint16(b[2*i:]))
				}
			case w.Dtype == "float32":
				c.f32 = make([]float32, n)
				for i := range c.f32 {
					c.f32[i] = math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:]))
				}
			case w.Dtype == "int32":
				c.i32 = make([]int32, n)
				for i := range c.i32 {
					c.i32[i] = int32(binary.LittleEndian.Uint32(b[4*i:]))
				}
			default:
				return nil, fmt.Errorf("weight %q: dtype %s is not supported (only float32 and int32)", w.Name, w.Dtype)
			}
			if _, dup := consts[w.Name]; dup {
				return nil, fmt.Errorf("weight %q appears twice in the manifest", w.Name)
			}
			consts[w.Name] = c
		}
	}
	if off != len(bin) {
		return nil, fmt.Errorf("weights file has %d bytes but the manifest describes %d", len(bin), off)
	}
	return consts, nil
}

// float16to32 converts an IEEE 754 half-precision value to float32 exactly,
// as tfjs does when it dequantizes float16 weights.
func float16to32(h uint16) float32 {
	sign := uint32(h>>15) << 31
	exp := uint32(h>>10) & 0x1f
	mant := uint32(h) & 0x3ff
	switch {
	case exp == 0x1f: // Inf or NaN
		return math.Float32frombits(sign | 0x7f800000 | mant<<13)
	case exp != 0: // normal
		return math.Float32frombits(sign | (exp+112)<<23 | mant<<13)
	case mant == 0: // zero
		return math.Float32frombits(sign)
	default: // subnormal: value = mant * 2^-24
		f := float32(mant) * (1.0 / (1 << 24))
		if sign != 0 {
			f = -f
		}
		return f
	}
}

// tensorName strips the output index (":0") from a tensor name and reports
// control inputs ("^name").
func tensorName(s string) (name string, control bool, err error) {
	if strings.HasPrefix(s, "^") {
		return s[1:], true, nil
	}
	if i := strings.LastIndexByte(s, ':'); i >= 0 {
		if s[i+1:] != "0" {
			return "", false, fmt.Errorf("input %q: only the first output of a node can be used", s)
		}
		s = s[:i]
	}
	return s, false, nil
}

// parseModel parses the JSON and weights of a tfjs graph model and compiles
// it. name is used in errors.
func parseModel(name string, modelJSON, weights []byte) (*plan, error) {
	var m tfjsModel
	if err := json.Unmarshal(modelJSON, &m); err != nil {
		return nil, fmt.Errorf("%s: parsing model JSON: %w", name, err)
	}
	if m.Format != "" && m.Format != "graph-model" {
		return nil, fmt.Errorf("%s: format %q is not a tfjs graph model", name, m.Format)
	}
	if len(m.ModelTopology.Node) == 0 {
		return nil, fmt.Errorf("%s: model has no nodes", name)
	}
	// Refuse unknown operations before anything else, naming them all.
	var unknown []string
	for _, n := range m.ModelTopology.Node {
		if !supportedOps[n.Op] {
			unknown = append(unknown, fmt.Sprintf("%s (node %q)", n.Op, n.Name))
		}
	}
	if len(unknown) > 0 {
		return nil, fmt.Errorf("%s: unsupported operation: %s", name, strings.Join(unknown, ", "))
	}
	consts, err := decodeWeights(&m, weights)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	p, err := compile(&m, consts)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return p, nil
}

// topoSort orders nodes so that every node comes after its inputs.
func topoSort(nodes []tfNode) ([]*tfNode, error) {
	byName := make(map[string]*tfNode, len(nodes))
	for i := range nodes {
		n := &nodes[i]
		if n.Name == "" {
			return nil, errors.New("node without a name")
		}
		if _, dup := byName[n.Name]; dup {
			return nil, fmt.Errorf("two nodes named %q", n.Name)
		}
		byName[n.Name] = n
	}
	const (
		unvisited = iota
		visiting
		done
	)
	state := make(map[string]int, len(nodes))
	order := make([]*tfNode, 0, len(nodes))
	var visit func(n *tfNode) error
	visit = func(n *tfNode) error {
		switch state[n.Name] {
		case done:
			return nil
		case visiting:
			return fmt.Errorf("graph has a cycle through node %q", n.Name)
		}
		state[n.Name] = visiting
		for _, in := range n.Input {
			iname, _, err := tensorName(in)
			if err != nil {
				return fmt.Errorf("node %q: %w", n.Name, err)
			}
			dep, ok := byName[iname]
			if !ok {
				return fmt.Errorf("node %q: input %q is not a node of the graph", n.Name, in)
			}
			if err := visit(dep); err != nil {
				return err
			}
		}
		state[n.Name] = done
		order = append(order, n)
		return nil
	}
	for i := range nodes {
		if err := visit(&nodes[i]); err != nil {
			return nil, err
		}
	}
	return order, nil
}
