//go:build !amd64

package onnx

// selectKernels returns the portable kernels: there are no assembly
// kernels for this architecture.
func selectKernels(options) *kernels { return &genericKernels }
