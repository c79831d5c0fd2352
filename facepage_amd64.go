//go:build amd64

package facevault

import "golang.org/x/sys/cpu"

// dotsInt8AVX2 sets out[i] to the dot product of q (d int16s) and the i-th
// code of codes (d int8s each), for i < n; d is a multiple of 16 and n at
// least 1 (facepage_amd64.s). dotsInt8 checks the bounds.
//
//go:noescape
func dotsInt8AVX2(q *int16, codes *int8, d, n int, out *int32)

// dotsInt8 sets out[i] to the dot product of q and the i-th code of
// codes, each of len(q) values: with the AVX2 kernel when the CPU has it
// and len(q) is a multiple of 16, else with dotsInt8Generic.
func dotsInt8(q []int16, codes []int8, out []int32) {
	d, n := len(q), len(out)
	if !cpu.X86.HasAVX2 || d == 0 || d%16 != 0 || n == 0 {
		dotsInt8Generic(q, codes, out)
		return
	}
	if len(codes) < n*d {
		panic("facevault: internal error: codes shorter than their dot products")
	}
	dotsInt8AVX2(&q[0], &codes[0], d, n, &out[0])
}
