//go:build !amd64

package facevault

// dotsInt8 sets out[i] to the dot product of q and the i-th code of
// codes, each of len(q) values (dotsInt8Generic: no assembly kernel on
// this architecture).
func dotsInt8(q []int16, codes []int8, out []int32) {
	dotsInt8Generic(q, codes, out)
}
