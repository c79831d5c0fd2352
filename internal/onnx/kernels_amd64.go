//go:build amd64

package onnx

import (
	"golang.org/x/sys/cpu"
)

// The assembly kernels (kernels_amd64.s). They read and write through raw
// pointers: their Go wrappers below check every bound first.

//go:noescape
func gemm4x24AVX2(a *float32, rowStride, segStride, segs, segLen uintptr, b, c *float32, ldc uintptr, bias, res, slope *float32, act int)

//go:noescape
func gemm4x16AVX2(a *float32, rowStride, segStride, segs, segLen uintptr, b, c *float32, ldc uintptr, bias, res, slope *float32, act int)

//go:noescape
func gemm4x8AVX2(a *float32, rowStride, segStride, segs, segLen uintptr, b, c *float32, ldc uintptr, bias, res, slope *float32, act int)

//go:noescape
func dwChunkAVX2(src *float32, rowStride, pixStride uintptr, w *float32, wRowStride uintptr, nky, nkx int, tapStride uintptr, npix int, dst, res, bias, slope *float32, act int)

//go:noescape
func maxPool2x2AVX2(dst, src0, src1 *float32, npix int, cs uintptr)

var avx2Kernels = kernels{gemm4: gemm4AVX2, dw: dwAVX2, maxPool2x2: maxPool2x2Dispatch, name: "avx2"}

// selectKernels returns the AVX2/FMA kernels when the CPU has them and opt
// does not ask for the portable ones.
func selectKernels(opt options) *kernels {
	if !opt.generic && cpu.X86.HasAVX2 && cpu.X86.HasFMA {
		return &avx2Kernels
	}
	return &genericKernels
}

// badCall reports a kernel call whose bounds do not hold: a bug in the
// planner, stopped before the assembly could touch memory it must not.
func badCall(what string) {
	panic("onnx: internal error: out-of-bounds " + what + " kernel call")
}

// gemm4AVX2 runs the assembly matrix kernel for a 4-row gemmCall.
func gemm4AVX2(g *gemmCall) {
	w := g.width
	k := g.segs * g.segLen
	if g.rows != 4 || g.segs < 1 || g.segLen < 1 || g.rowStride < 0 || g.segStride < 0 ||
		3*g.rowStride+(g.segs-1)*g.segStride+g.segLen > len(g.a) ||
		k*w > len(g.b) || 3*g.ldc+w > len(g.c) || w > len(g.bias) ||
		g.res != nil && 3*g.ldc+w > len(g.res) || g.act == actPRelu && w > len(g.slope) {
		badCall("matrix")
	}
	const f = 4 // bytes per float32
	var res, slope *float32
	if g.res != nil {
		res = &g.res[0]
	}
	if g.act == actPRelu {
		slope = &g.slope[0]
	}
	args := func(fn func(a *float32, rowStride, segStride, segs, segLen uintptr, b, c *float32, ldc uintptr, bias, res, slope *float32, act int)) {
		fn(&g.a[0], uintptr(g.rowStride*f), uintptr(g.segStride*f), uintptr(g.segs), uintptr(g.segLen),
			&g.b[0], &g.c[0], uintptr(g.ldc*f), &g.bias[0], res, slope, g.act)
	}
	switch w {
	case 24:
		args(gemm4x24AVX2)
	case 16:
		args(gemm4x16AVX2)
	case 8:
		args(gemm4x8AVX2)
	default:
		gemmGeneric(g)
	}
}

// dwAVX2 runs the assembly depthwise kernel, 8 channels at a time, when
// the channel stride allows it.
func dwAVX2(d *dwCall) {
	cs := d.cs
	if cs%8 != 0 {
		dwGeneric(d)
		return
	}
	if d.npix < 1 || d.nky < 1 || d.nkx < 1 ||
		(d.npix-1)*d.pixStride+(d.nky-1)*d.rowStride+d.nkx*cs > len(d.src) ||
		(d.nky-1)*d.wRowStride+d.nkx*cs > len(d.w) ||
		d.npix*cs > len(d.dst) || d.res != nil && d.npix*cs > len(d.res) ||
		cs > len(d.bias) || d.act == actPRelu && cs > len(d.slope) {
		badCall("depthwise")
	}
	const f = 4
	for c0 := 0; c0 < cs; c0 += 8 {
		var res, slope *float32
		if d.res != nil {
			res = &d.res[c0]
		}
		if d.act == actPRelu {
			slope = &d.slope[c0]
		}
		dwChunkAVX2(&d.src[c0], uintptr(d.rowStride*f), uintptr(d.pixStride*f), &d.w[c0], uintptr(d.wRowStride*f),
			d.nky, d.nkx, uintptr(cs*f), d.npix, &d.dst[c0], res, &d.bias[c0], slope, d.act)
	}
}

// maxPool2x2Dispatch runs the assembly 2x2 max-pooling kernel when the
// channel stride allows it.
func maxPool2x2Dispatch(dst, src0, src1 []float32, npix, cs int) {
	if cs%8 != 0 || npix < 1 {
		maxPool2x2Generic(dst, src0, src1, npix, cs)
		return
	}
	if npix*cs > len(dst) || 2*npix*cs > len(src0) || 2*npix*cs > len(src1) {
		badCall("max-pooling")
	}
	maxPool2x2AVX2(&dst[0], &src0[0], &src1[0], npix, uintptr(cs*4))
}
