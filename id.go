package facevault

import (
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"time"
)

// IDLen is the length of every object ID: 24 lowercase hex characters.
const IDLen = 24

// NewID returns a new object ID: 4 bytes of big-endian seconds since the Unix
// epoch followed by 8 random bytes, hex encoded. IDs sort roughly by creation
// time.
func NewID(now time.Time) string {
	var b [12]byte
	binary.BigEndian.PutUint32(b[:4], uint32(now.Unix()))
	if _, err := rand.Read(b[4:]); err != nil {
		// crypto/rand.Read never returns an error on supported platforms.
		panic(err)
	}
	return hex.EncodeToString(b[:])
}

// ValidID reports whether id has the shape of an object ID. IDs are checked
// with it before they reach a query or a file path.
func ValidID(id string) bool { return lowerHex(id, IDLen) }

// lowerHex reports whether s is n lowercase hexadecimal digits.
func lowerHex(s string, n int) bool {
	if len(s) != n {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}
