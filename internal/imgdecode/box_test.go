package imgdecode

import (
	"testing"
)

// TestBoxPlane checks the area filter on a plane small enough to work out
// by hand, shrinking and growing.
func TestBoxPlane(t *testing.T) {
	src := []byte{
		0, 2, 10, 20,
		4, 6, 30, 40,
		100, 100, 7, 7,
		100, 100, 7, 9,
	}
	got := make([]byte, 4)
	BoxPlane(src, 4, 1, 4, 4, got, 1, 2, 2)
	if want := []byte{3, 25, 100, 8}; string(got) != string(want) {
		t.Errorf("4x4 to 2x2: %v, want %v", got, want)
	}
	// Growing (not used by the check) repeats samples.
	up := make([]byte, 16)
	BoxPlane([]byte{1, 2, 3, 4}, 2, 1, 2, 2, up, 1, 4, 4)
	if want := []byte{1, 1, 2, 2, 1, 1, 2, 2, 3, 3, 4, 4, 3, 3, 4, 4}; string(up) != string(want) {
		t.Errorf("2x2 to 4x4: %v, want %v", up, want)
	}
	// Uneven ratio: every output is a mean of at least one input and the
	// constant plane stays constant.
	flat := make([]byte, 7*5)
	for i := range flat {
		flat[i] = 77
	}
	out := make([]byte, 3*2)
	BoxPlane(flat, 7, 1, 7, 5, out, 1, 3, 2)
	for i, v := range out {
		if v != 77 {
			t.Fatalf("constant plane: out[%d] = %d", i, v)
		}
	}
}

func TestFitWithin(t *testing.T) {
	for _, tc := range []struct{ w, h, max, ww, wh int }{
		{640, 480, 960, 640, 480},
		{4000, 3000, 960, 960, 720},
		{3000, 4000, 960, 720, 960},
		{10000, 5, 960, 960, 1},
		{960, 960, 960, 960, 960},
	} {
		if ww, wh := FitWithin(tc.w, tc.h, tc.max); ww != tc.ww || wh != tc.wh {
			t.Errorf("FitWithin(%d, %d, %d) = %d, %d; want %d, %d", tc.w, tc.h, tc.max, ww, wh, tc.ww, tc.wh)
		}
	}
}
