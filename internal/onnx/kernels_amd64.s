//go:build amd64

#include "textflag.h"

// AVX2/FMA kernels; see kernels_amd64.go for what they compute and the
// bounds their callers check. Registers R14 and R15 are left alone.

// Epilogue helpers. ACC(y) names an accumulator.

// ZERO clears a register.
#define ZERO(r) VXORPS r, r, r

// PRELU(x, s): x = x < 0 ? x*s : x, using Y15.
#define PRELU(x, s) VMULPS s, x, Y15; VBLENDVPS x, Y15, x, x

// func gemm4x24AVX2(a *float32, rowStride, segStride, segs, segLen uintptr, b, c *float32, ldc uintptr, bias, res, slope *float32, act int)
//
// Strides in bytes. For r < 4 and j < 24:
//   c[r][j] = act(Σ_s Σ_k a[r][s][k]·b[s][k][j] + bias[j] (+ res[r][j]))
TEXT ·gemm4x24AVX2(SB), NOSPLIT, $0-96
	MOVQ a+0(FP), SI
	MOVQ rowStride+8(FP), R8
	MOVQ segStride+16(FP), R10
	MOVQ segs+24(FP), R11
	MOVQ segLen+32(FP), R12
	MOVQ b+40(FP), BX
	LEAQ (R8)(R8*2), R9
	ZERO(Y0); ZERO(Y1); ZERO(Y2); ZERO(Y3)
	ZERO(Y4); ZERO(Y5); ZERO(Y6); ZERO(Y7)
	ZERO(Y8); ZERO(Y9); ZERO(Y10); ZERO(Y11)

g24seg:
	MOVQ SI, DX
	MOVQ R12, CX

g24k:
	VMOVUPS (BX), Y12
	VMOVUPS 32(BX), Y13
	VMOVUPS 64(BX), Y14
	VBROADCASTSS (DX), Y15
	VFMADD231PS Y12, Y15, Y0
	VFMADD231PS Y13, Y15, Y1
	VFMADD231PS Y14, Y15, Y2
	VBROADCASTSS (DX)(R8*1), Y15
	VFMADD231PS Y12, Y15, Y3
	VFMADD231PS Y13, Y15, Y4
	VFMADD231PS Y14, Y15, Y5
	VBROADCASTSS (DX)(R8*2), Y15
	VFMADD231PS Y12, Y15, Y6
	VFMADD231PS Y13, Y15, Y7
	VFMADD231PS Y14, Y15, Y8
	VBROADCASTSS (DX)(R9*1), Y15
	VFMADD231PS Y12, Y15, Y9
	VFMADD231PS Y13, Y15, Y10
	VFMADD231PS Y14, Y15, Y11
	ADDQ $4, DX
	ADDQ $96, BX
	DECQ CX
	JNZ  g24k
	ADDQ R10, SI
	DECQ R11
	JNZ  g24seg

	MOVQ c+48(FP), DI
	MOVQ ldc+56(FP), R8
	LEAQ (R8)(R8*2), R9
	MOVQ bias+64(FP), AX
	VMOVUPS (AX), Y12
	VMOVUPS 32(AX), Y13
	VMOVUPS 64(AX), Y14
	VADDPS Y12, Y0, Y0; VADDPS Y13, Y1, Y1; VADDPS Y14, Y2, Y2
	VADDPS Y12, Y3, Y3; VADDPS Y13, Y4, Y4; VADDPS Y14, Y5, Y5
	VADDPS Y12, Y6, Y6; VADDPS Y13, Y7, Y7; VADDPS Y14, Y8, Y8
	VADDPS Y12, Y9, Y9; VADDPS Y13, Y10, Y10; VADDPS Y14, Y11, Y11
	MOVQ res+72(FP), AX
	TESTQ AX, AX
	JZ   g24act
	VADDPS (AX), Y0, Y0
	VADDPS 32(AX), Y1, Y1
	VADDPS 64(AX), Y2, Y2
	VADDPS (AX)(R8*1), Y3, Y3
	VADDPS 32(AX)(R8*1), Y4, Y4
	VADDPS 64(AX)(R8*1), Y5, Y5
	VADDPS (AX)(R8*2), Y6, Y6
	VADDPS 32(AX)(R8*2), Y7, Y7
	VADDPS 64(AX)(R8*2), Y8, Y8
	VADDPS (AX)(R9*1), Y9, Y9
	VADDPS 32(AX)(R9*1), Y10, Y10
	VADDPS 64(AX)(R9*1), Y11, Y11

g24act:
	MOVQ act+88(FP), CX
	CMPQ CX, $1
	JEQ  g24relu
	CMPQ CX, $2
	JEQ  g24prelu
	JMP  g24store

g24relu:
	ZERO(Y15)
	VMAXPS Y15, Y0, Y0; VMAXPS Y15, Y1, Y1; VMAXPS Y15, Y2, Y2
	VMAXPS Y15, Y3, Y3; VMAXPS Y15, Y4, Y4; VMAXPS Y15, Y5, Y5
	VMAXPS Y15, Y6, Y6; VMAXPS Y15, Y7, Y7; VMAXPS Y15, Y8, Y8
	VMAXPS Y15, Y9, Y9; VMAXPS Y15, Y10, Y10; VMAXPS Y15, Y11, Y11
	JMP  g24store

g24prelu:
	MOVQ slope+80(FP), AX
	VMOVUPS (AX), Y12
	VMOVUPS 32(AX), Y13
	VMOVUPS 64(AX), Y14
	PRELU(Y0, Y12); PRELU(Y1, Y13); PRELU(Y2, Y14)
	PRELU(Y3, Y12); PRELU(Y4, Y13); PRELU(Y5, Y14)
	PRELU(Y6, Y12); PRELU(Y7, Y13); PRELU(Y8, Y14)
	PRELU(Y9, Y12); PRELU(Y10, Y13); PRELU(Y11, Y14)

g24store:
	VMOVUPS Y0, (DI)
	VMOVUPS Y1, 32(DI)
	VMOVUPS Y2, 64(DI)
	VMOVUPS Y3, (DI)(R8*1)
	VMOVUPS Y4, 32(DI)(R8*1)
	VMOVUPS Y5, 64(DI)(R8*1)
	VMOVUPS Y6, (DI)(R8*2)
	VMOVUPS Y7, 32(DI)(R8*2)
	VMOVUPS Y8, 64(DI)(R8*2)
	VMOVUPS Y9, (DI)(R9*1)
	VMOVUPS Y10, 32(DI)(R9*1)
	VMOVUPS Y11, 64(DI)(R9*1)
	VZEROUPPER
	RET

// func gemm4x16AVX2(a *float32, rowStride, segStride, segs, segLen uintptr, b, c *float32, ldc uintptr, bias, res, slope *float32, act int)
TEXT ·gemm4x16AVX2(SB), NOSPLIT, $0-96
	MOVQ a+0(FP), SI
	MOVQ rowStride+8(FP), R8
	MOVQ segStride+16(FP), R10
	MOVQ segs+24(FP), R11
	MOVQ segLen+32(FP), R12
	MOVQ b+40(FP), BX
	LEAQ (R8)(R8*2), R9
	ZERO(Y0); ZERO(Y1); ZERO(Y2); ZERO(Y3)
	ZERO(Y4); ZERO(Y5); ZERO(Y6); ZERO(Y7)

g16seg:
	MOVQ SI, DX
	MOVQ R12, CX

g16k:
	VMOVUPS (BX), Y12
	VMOVUPS 32(BX), Y13
	VBROADCASTSS (DX), Y14
	VBROADCASTSS (DX)(R8*1), Y15
	VFMADD231PS Y12, Y14, Y0
	VFMADD231PS Y13, Y14, Y1
	VFMADD231PS Y12, Y15, Y2
	VFMADD231PS Y13, Y15, Y3
	VBROADCASTSS (DX)(R8*2), Y14
	VBROADCASTSS (DX)(R9*1), Y15
	VFMADD231PS Y12, Y14, Y4
	VFMADD231PS Y13, Y14, Y5
	VFMADD231PS Y12, Y15, Y6
	VFMADD231PS Y13, Y15, Y7
	ADDQ $4, DX
	ADDQ $64, BX
	DECQ CX
	JNZ  g16k
	ADDQ R10, SI
	DECQ R11
	JNZ  g16seg

	MOVQ c+48(FP), DI
	MOVQ ldc+56(FP), R8
	LEAQ (R8)(R8*2), R9
	MOVQ bias+64(FP), AX
	VMOVUPS (AX), Y12
	VMOVUPS 32(AX), Y13
	VADDPS Y12, Y0, Y0; VADDPS Y13, Y1, Y1
	VADDPS Y12, Y2, Y2; VADDPS Y13, Y3, Y3
	VADDPS Y12, Y4, Y4; VADDPS Y13, Y5, Y5
	VADDPS Y12, Y6, Y6; VADDPS Y13, Y7, Y7
	MOVQ res+72(FP), AX
	TESTQ AX, AX
	JZ   g16act
	VADDPS (AX), Y0, Y0
	VADDPS 32(AX), Y1, Y1
	VADDPS (AX)(R8*1), Y2, Y2
	VADDPS 32(AX)(R8*1), Y3, Y3
	VADDPS (AX)(R8*2), Y4, Y4
	VADDPS 32(AX)(R8*2), Y5, Y5
	VADDPS (AX)(R9*1), Y6, Y6
	VADDPS 32(AX)(R9*1), Y7, Y7

g16act:
	MOVQ act+88(FP), CX
	CMPQ CX, $1
	JEQ  g16relu
	CMPQ CX, $2
	JEQ  g16prelu
	JMP  g16store

g16relu:
	ZERO(Y15)
	VMAXPS Y15, Y0, Y0; VMAXPS Y15, Y1, Y1; VMAXPS Y15, Y2, Y2; VMAXPS Y15, Y3, Y3
	VMAXPS Y15, Y4, Y4; VMAXPS Y15, Y5, Y5; VMAXPS Y15, Y6, Y6; VMAXPS Y15, Y7, Y7
	JMP  g16store

g16prelu:
	MOVQ slope+80(FP), AX
	VMOVUPS (AX), Y12
	VMOVUPS 32(AX), Y13
	PRELU(Y0, Y12); PRELU(Y1, Y13); PRELU(Y2, Y12); PRELU(Y3, Y13)
	PRELU(Y4, Y12); PRELU(Y5, Y13); PRELU(Y6, Y12); PRELU(Y7, Y13)

g16store:
	VMOVUPS Y0, (DI)
	VMOVUPS Y1, 32(DI)
	VMOVUPS Y2, (DI)(R8*1)
	VMOVUPS Y3, 32(DI)(R8*1)
	VMOVUPS Y4, (DI)(R8*2)
	VMOVUPS Y5, 32(DI)(R8*2)
	VMOVUPS Y6, (DI)(R9*1)
	VMOVUPS Y7, 32(DI)(R9*1)
	VZEROUPPER
	RET

// func gemm4x8AVX2(a *float32, rowStride, segStride, segs, segLen uintptr, b, c *float32, ldc uintptr, bias, res, slope *float32, act int)
TEXT ·gemm4x8AVX2(SB), NOSPLIT, $0-96
	MOVQ a+0(FP), SI
	MOVQ rowStride+8(FP), R8
	MOVQ segStride+16(FP), R10
	MOVQ segs+24(FP), R11
	MOVQ segLen+32(FP), R12
	MOVQ b+40(FP), BX
	LEAQ (R8)(R8*2), R9
	ZERO(Y0); ZERO(Y1); ZERO(Y2); ZERO(Y3)

g8seg:
	MOVQ SI, DX
	MOVQ R12, CX

g8k:
	VMOVUPS (BX), Y12
	VBROADCASTSS (DX), Y4
	VBROADCASTSS (DX)(R8*1), Y5
	VBROADCASTSS (DX)(R8*2), Y6
	VBROADCASTSS (DX)(R9*1), Y7
	VFMADD231PS Y12, Y4, Y0
	VFMADD231PS Y12, Y5, Y1
	VFMADD231PS Y12, Y6, Y2
	VFMADD231PS Y12, Y7, Y3
	ADDQ $4, DX
	ADDQ $32, BX
	DECQ CX
	JNZ  g8k
	ADDQ R10, SI
	DECQ R11
	JNZ  g8seg

	MOVQ c+48(FP), DI
	MOVQ ldc+56(FP), R8
	LEAQ (R8)(R8*2), R9
	MOVQ bias+64(FP), AX
	VMOVUPS (AX), Y12
	VADDPS Y12, Y0, Y0; VADDPS Y12, Y1, Y1; VADDPS Y12, Y2, Y2; VADDPS Y12, Y3, Y3
	MOVQ res+72(FP), AX
	TESTQ AX, AX
	JZ   g8act
	VADDPS (AX), Y0, Y0
	VADDPS (AX)(R8*1), Y1, Y1
	VADDPS (AX)(R8*2), Y2, Y2
	VADDPS (AX)(R9*1), Y3, Y3

g8act:
	MOVQ act+88(FP), CX
	CMPQ CX, $1
	JEQ  g8relu
	CMPQ CX, $2
	JEQ  g8prelu
	JMP  g8store

g8relu:
	ZERO(Y15)
	VMAXPS Y15, Y0, Y0; VMAXPS Y15, Y1, Y1; VMAXPS Y15, Y2, Y2; VMAXPS Y15, Y3, Y3
	JMP  g8store

g8prelu:
	MOVQ slope+80(FP), AX
	VMOVUPS (AX), Y12
	PRELU(Y0, Y12); PRELU(Y1, Y12); PRELU(Y2, Y12); PRELU(Y3, Y12)

g8store:
	VMOVUPS Y0, (DI)
	VMOVUPS Y1, (DI)(R8*1)
	VMOVUPS Y2, (DI)(R8*2)
	VMOVUPS Y3, (DI)(R9*1)
	VZEROUPPER
	RET

// func dwChunkAVX2(src *float32, rowStride, pixStride uintptr, w *float32, wRowStride uintptr, nky, nkx int, tapStride uintptr, npix int, dst, res, bias, slope *float32, act int)
//
// Depthwise convolution of 8 channels: for i < npix,
//   dst[i·tapStride] = act(Σ_ky Σ_kx src[i·pixStride + ky·rowStride + kx·tapStride]
//                               · w[ky·wRowStride + kx·tapStride] + bias (+ res[i·tapStride]))
// (byte offsets, 8 floats at each), four pixels at a time.
TEXT ·dwChunkAVX2(SB), NOSPLIT, $0-112
	MOVQ src+0(FP), R12
	MOVQ pixStride+16(FP), R8
	LEAQ (R8)(R8*2), R9
	MOVQ tapStride+56(FP), R13
	MOVQ dst+72(FP), DI
	MOVQ npix+64(FP), AX

dw4:
	CMPQ AX, $4
	JLT  dw1
	ZERO(Y0); ZERO(Y1); ZERO(Y2); ZERO(Y3)
	MOVQ R12, R10
	MOVQ w+24(FP), R11
	MOVQ nky+40(FP), DX

dw4ky:
	MOVQ R10, SI
	MOVQ R11, BX
	MOVQ nkx+48(FP), CX

dw4kx:
	VMOVUPS (BX), Y8
	VFMADD231PS (SI), Y8, Y0
	VFMADD231PS (SI)(R8*1), Y8, Y1
	VFMADD231PS (SI)(R8*2), Y8, Y2
	VFMADD231PS (SI)(R9*1), Y8, Y3
	ADDQ R13, SI
	ADDQ R13, BX
	DECQ CX
	JNZ  dw4kx
	ADDQ rowStride+8(FP), R10
	ADDQ wRowStride+32(FP), R11
	DECQ DX
	JNZ  dw4ky

	MOVQ bias+88(FP), CX
	VMOVUPS (CX), Y8
	VADDPS Y8, Y0, Y0; VADDPS Y8, Y1, Y1; VADDPS Y8, Y2, Y2; VADDPS Y8, Y3, Y3
	MOVQ res+80(FP), CX
	TESTQ CX, CX
	JZ   dw4act
	MOVQ DI, DX
	SUBQ dst+72(FP), DX
	ADDQ DX, CX
	LEAQ (R13)(R13*2), DX
	VADDPS (CX), Y0, Y0
	VADDPS (CX)(R13*1), Y1, Y1
	VADDPS (CX)(R13*2), Y2, Y2
	VADDPS (CX)(DX*1), Y3, Y3

dw4act:
	MOVQ act+104(FP), CX
	CMPQ CX, $1
	JEQ  dw4relu
	CMPQ CX, $2
	JEQ  dw4prelu
	JMP  dw4store

dw4relu:
	ZERO(Y15)
	VMAXPS Y15, Y0, Y0; VMAXPS Y15, Y1, Y1; VMAXPS Y15, Y2, Y2; VMAXPS Y15, Y3, Y3
	JMP  dw4store

dw4prelu:
	MOVQ slope+96(FP), CX
	VMOVUPS (CX), Y8
	PRELU(Y0, Y8); PRELU(Y1, Y8); PRELU(Y2, Y8); PRELU(Y3, Y8)

dw4store:
	LEAQ (R13)(R13*2), DX
	VMOVUPS Y0, (DI)
	VMOVUPS Y1, (DI)(R13*1)
	VMOVUPS Y2, (DI)(R13*2)
	VMOVUPS Y3, (DI)(DX*1)
	LEAQ (R12)(R8*4), R12
	LEAQ (DI)(R13*4), DI
	SUBQ $4, AX
	JMP  dw4

dw1:
	TESTQ AX, AX
	JZ   dwdone
	ZERO(Y0)
	MOVQ R12, R10
	MOVQ w+24(FP), R11
	MOVQ nky+40(FP), DX

dw1ky:
	MOVQ R10, SI
	MOVQ R11, BX
	MOVQ nkx+48(FP), CX

dw1kx:
	VMOVUPS (BX), Y8
	VFMADD231PS (SI), Y8, Y0
	ADDQ R13, SI
	ADDQ R13, BX
	DECQ CX
	JNZ  dw1kx
	ADDQ rowStride+8(FP), R10
	ADDQ wRowStride+32(FP), R11
	DECQ DX
	JNZ  dw1ky

	MOVQ bias+88(FP), CX
	VADDPS (CX), Y0, Y0
	MOVQ res+80(FP), CX
	TESTQ CX, CX
	JZ   dw1act
	MOVQ DI, DX
	SUBQ dst+72(FP), DX
	ADDQ DX, CX
	VADDPS (CX), Y0, Y0

dw1act:
	MOVQ act+104(FP), CX
	CMPQ CX, $1
	JEQ  dw1relu
	CMPQ CX, $2
	JEQ  dw1prelu
	JMP  dw1store

dw1relu:
	ZERO(Y15)
	VMAXPS Y15, Y0, Y0
	JMP  dw1store

dw1prelu:
	MOVQ slope+96(FP), CX
	VMOVUPS (CX), Y8
	PRELU(Y0, Y8)

dw1store:
	VMOVUPS Y0, (DI)
	ADDQ R8, R12
	ADDQ R13, DI
	DECQ AX
	JMP  dw1

dwdone:
	VZEROUPPER
	RET

// func maxPool2x2AVX2(dst, src0, src1 *float32, npix int, cs uintptr)
//
// For i < npix, with byte offsets and cs a multiple of 32:
//   dst[i·cs] = max(src0[2i·cs], src0[(2i+1)·cs], src1[2i·cs], src1[(2i+1)·cs])
// (cs/4 floats each).
TEXT ·maxPool2x2AVX2(SB), NOSPLIT, $0-40
	MOVQ dst+0(FP), DI
	MOVQ src0+8(FP), SI
	MOVQ src1+16(FP), DX
	MOVQ npix+24(FP), AX
	MOVQ cs+32(FP), R8
	TESTQ AX, AX
	JZ   mpdone

mppix:
	MOVQ R8, CX

mpchunk:
	VMOVUPS (SI), Y0
	VMAXPS  (SI)(R8*1), Y0, Y0
	VMOVUPS (DX), Y1
	VMAXPS  (DX)(R8*1), Y1, Y1
	VMAXPS  Y1, Y0, Y0
	VMOVUPS Y0, (DI)
	ADDQ $32, SI
	ADDQ $32, DX
	ADDQ $32, DI
	SUBQ $32, CX
	JNZ  mpchunk
	ADDQ R8, SI
	ADDQ R8, DX
	DECQ AX
	JNZ  mppix

mpdone:
	VZEROUPPER
	RET
