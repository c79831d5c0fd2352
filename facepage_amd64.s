//go:build amd64

#include "textflag.h"

// func dotsInt8AVX2(q *int16, codes *int8, d, n int, out *int32)
//
// For i < n: out[i] = Σ_j q[j]·codes[i·d+j], j < d, d a multiple of 16.
// Each step sign-extends 16 codes to int16 (VPMOVSXBW) and multiplies
// them by 16 values of q, adding pairs into 8 int32 lanes (VPMADDWD):
// with |q|, |code| ≤ 127 no lane can overflow for any d below 2^16.
TEXT ·dotsInt8AVX2(SB), NOSPLIT, $0-40
	MOVQ q+0(FP), SI
	MOVQ codes+8(FP), DI
	MOVQ d+16(FP), R8
	MOVQ n+24(FP), R9
	MOVQ out+32(FP), R10

face:
	VPXOR Y0, Y0, Y0
	MOVQ  SI, AX
	MOVQ  R8, CX

dim:
	VPMOVSXBW (DI), Y1
	VPMADDWD  (AX), Y1, Y2
	VPADDD    Y2, Y0, Y0
	ADDQ      $16, DI
	ADDQ      $32, AX
	SUBQ      $16, CX
	JNZ       dim

	VEXTRACTI128 $1, Y0, X1
	VPADDD       X1, X0, X0
	VPSHUFD      $0x4E, X0, X1
	VPADDD       X1, X0, X0
	VPSHUFD      $0xB1, X0, X1
	VPADDD       X1, X0, X0
	VMOVD        X0, R11
	MOVL         R11, (R10)
	ADDQ         $4, R10
	DECQ         R9
	JNZ          face

	VZEROUPPER
	RET
