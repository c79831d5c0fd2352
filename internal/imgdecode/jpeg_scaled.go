package imgdecode

import "math"

// The scaled inverse DCT turns the top-left k×k dequantized coefficients of a
// block into k×k pixels (k = 1, 2 or 4, r = 8/k): exactly the means over r×r groups of
// the full 8×8 inverse DCT of the block with its other coefficients set to
// zero, before rounding and clamping.
//
// Why: the mean of the 8-point DCT basis function of frequency u over the
// samples j·r … j·r+r−1 is cos((2j+1)uπ/2k) · a(u), with
// a(u) = sin(ruπ/16) / (r·sin(uπ/16)) and a(0) = 1: the k-point basis
// function of the same frequency, attenuated. So a k-point inverse DCT whose
// coefficients are scaled by a(u)·a(v) gives those means with k² terms
// instead of 64. libjpeg's jidctred.c uses the k-point transforms without the
// attenuation (a slightly sharper result). The coefficients beyond k×k are
// dropped: their group means are small but not zero (aliasing), and this is
// the one way in which the scaled decode differs from a full decode followed
// by a box filter, besides rounding and clamping once per group rather than
// once per pixel.
// basis[k][x][u] is the 1-D k-point basis, scaled and attenuated (k = 1, 2,
// 4, 8; for 8 it is the plain 8-point inverse DCT).
var basis = func() (t [9][8][8]float32) {
	for _, k := range []int{1, 2, 4, 8} {
		r := 8 / k
		for x := range k {
			for u := range k {
				c := 1.0
				if u == 0 {
					c = 1 / math.Sqrt2
				}
				a := 1.0
				if u > 0 {
					a = math.Sin(float64(r*u)*math.Pi/16) / (float64(r) * math.Sin(float64(u)*math.Pi/16))
				}
				t[k][x][u] = float32(0.5 * c * a * math.Cos(float64((2*x+1)*u)*math.Pi/float64(2*k)))
			}
		}
	}
	return t
}()

// clampPixel rounds v (a level-shifted sample) and clamps it to a byte.
func clampPixel(v float32) byte {
	v += 128.5
	if v <= 0 {
		return 0
	}
	if v >= 255 {
		return 255
	}
	return byte(v)
}

// scaledTransform writes the kh×kv pixels (kh across, kv down, each 1, 2, 4
// or 8, not both 8) of the dequantized block b (natural order) to dst, rows
// stride apart. A component's horizontal and vertical scales differ when
// its sampling factors do (see jpegDecoder.setup).
func scaledTransform(b *block, kh, kv int, dst []byte, stride int) {
	if kh == 1 && kv == 1 {
		// The DC term alone: its mean is DC/8.
		v := (b[0] + 4) >> 3
		dst[0] = byte(min(max(v+128, 0), 255))
		return
	}
	th, tv := &basis[kh], &basis[kv]
	var tmp [8][8]float32 // tmp[v][x]
	for v := range kv {
		row := b[8*v : 8*v+kh]
		zero := true
		for _, c := range row {
			if c != 0 {
				zero = false
				break
			}
		}
		if zero {
			continue
		}
		for x := range kh {
			t := &th[x]
			s := float32(0)
			for u, c := range row {
				s += t[u] * float32(c)
			}
			tmp[v][x] = s
		}
	}
	for y := range kv {
		t := &tv[y]
		out := dst[y*stride : y*stride+kh]
		for x := range out {
			s := float32(0)
			for v := range kv {
				s += t[v] * tmp[v][x]
			}
			out[x] = clampPixel(s)
		}
	}
}
