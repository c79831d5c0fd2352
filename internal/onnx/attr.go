package onnx

import (
	"fmt"
	"math"
	"slices"
)

// checkAttrs refuses attributes a node's operator does not know here.
func checkAttrs(n *nodeProto, allowed ...string) error {
	for _, a := range n.attrs {
		if !slices.Contains(allowed, a.name) {
			return fmt.Errorf("attribute %q is not supported", a.name)
		}
	}
	return nil
}

func attrOf(n *nodeProto, name string, typ int64) (*attribute, error) {
	a := n.attr(name)
	if a == nil {
		return nil, nil
	}
	if a.typ != typ {
		return nil, fmt.Errorf("attribute %q has type %s, want %s", name, attrTypeName(a.typ), attrTypeName(typ))
	}
	return a, nil
}

func intAttr(n *nodeProto, name string, def int64) (int64, error) {
	a, err := attrOf(n, name, attrInt)
	if err != nil || a == nil {
		return def, err
	}
	return a.i, nil
}

func floatAttr(n *nodeProto, name string, def float32) (float32, error) {
	a, err := attrOf(n, name, attrFloat)
	if err != nil || a == nil {
		return def, err
	}
	return a.f, nil
}

func stringAttr(n *nodeProto, name, def string) (string, error) {
	a, err := attrOf(n, name, attrString)
	if err != nil || a == nil {
		return def, err
	}
	return a.s, nil
}

// intsAttr returns an INTS attribute, or nil and false when absent.
func intsAttr(n *nodeProto, name string) ([]int64, bool, error) {
	a, err := attrOf(n, name, attrInts)
	if err != nil || a == nil {
		return nil, false, err
	}
	return a.ints, true, nil
}

// smallInts converts attribute integers to ints, refusing values outside
// ±maxElements (no shape, axis or window is larger).
func smallInts(name string, v []int64) ([]int, error) {
	out := make([]int, len(v))
	for i, x := range v {
		if x > maxElements || x < -maxElements {
			return nil, fmt.Errorf("attribute %q: value %d out of range", name, x)
		}
		out[i] = int(x)
	}
	return out, nil
}

// normAxis resolves a possibly negative axis against a rank.
func normAxis(axis int64, rank int) (int, error) {
	if axis < -int64(rank) || axis >= int64(rank) {
		return 0, fmt.Errorf("axis %d out of range for rank %d", axis, rank)
	}
	if axis < 0 {
		axis += int64(rank)
	}
	return int(axis), nil
}

func isFinite32(x float32) bool {
	return !math.IsNaN(float64(x)) && !math.IsInf(float64(x), 0)
}
