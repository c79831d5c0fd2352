package console

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"

	"golang.org/x/crypto/argon2"
)

// Password hashing: Argon2id (RFC 9106), memory-hard, with the parameters
// stored beside the hash in a PHC string, so that raising them later leaves
// existing hashes readable. 64 MiB, 3 passes and 2 lanes take about a
// tenth of a second on one server core: slow enough that a stolen record
// store is expensive to attack, fast enough for a sign-in. Sign-ins hash
// two at a time at most (Console.hashing), so that a burst of them never
// holds more than 128 MiB.
const (
	PasswordMemory  = 64 << 10 // KiB: 64 MiB
	PasswordTime    = 3
	PasswordThreads = 2
	passwordSaltLen = 16
	passwordKeyLen  = 32
)

// Password length bounds, in characters and bytes.
const (
	MinPasswordLen   = 12
	MaxPasswordBytes = 1024
)

// CheckPassword reports whether password is acceptable for a console user:
// at least MinPasswordLen characters, at most MaxPasswordBytes bytes, valid
// UTF-8.
func CheckPassword(password string) error {
	switch {
	case !utf8.ValidString(password):
		return errors.New("the password is not valid UTF-8")
	case utf8.RuneCountInString(password) < MinPasswordLen:
		return fmt.Errorf("the password must have at least %d characters", MinPasswordLen)
	case len(password) > MaxPasswordBytes:
		return fmt.Errorf("the password must have at most %d bytes", MaxPasswordBytes)
	}
	return nil
}

// HashPassword returns the Argon2id hash of password, with a new random
// salt, as a PHC string:
//
//	$argon2id$v=19$m=65536,t=3,p=2$<salt>$<hash>
//
// with salt and hash in unpadded standard base64.
func HashPassword(password string) (string, error) {
	salt := make([]byte, passwordSaltLen)
	if _, err := rand.Read(salt); err != nil {
		return "", fmt.Errorf("hash password: %w", err)
	}
	key := argon2.IDKey([]byte(password), salt, PasswordTime, PasswordMemory, PasswordThreads, passwordKeyLen)
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version, PasswordMemory, PasswordTime, PasswordThreads,
		base64.RawStdEncoding.EncodeToString(salt), base64.RawStdEncoding.EncodeToString(key)), nil
}

// VerifyPassword reports whether password matches the PHC string hash, in
// time that does not depend on how much of it matches. It returns an error
// if hash is not an Argon2id PHC string with sane parameters.
func VerifyPassword(hash, password string) (bool, error) {
	var (
		version, memory int
		time            uint32
		threads         uint8
	)
	parts := strings.Split(hash, "$")
	if len(parts) != 6 || parts[0] != "" || parts[1] != "argon2id" {
		return false, errors.New("verify password: not an argon2id hash")
	}
	if _, err := fmt.Sscanf(parts[2], "v=%d", &version); err != nil || version != argon2.Version {
		return false, fmt.Errorf("verify password: unsupported argon2 version %q", parts[2])
	}
	if _, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &memory, &time, &threads); err != nil {
		return false, fmt.Errorf("verify password: malformed parameters %q", parts[3])
	}
	// Bounds keep a tampered record from making a sign-in take all memory.
	if memory < 8*int(threads) || memory > 1<<20 || time < 1 || time > 20 || threads < 1 {
		return false, fmt.Errorf("verify password: parameters out of bounds %q", parts[3])
	}
	salt, err := base64.RawStdEncoding.DecodeString(parts[4])
	if err != nil || len(salt) < 8 {
		return false, errors.New("verify password: malformed salt")
	}
	want, err := base64.RawStdEncoding.DecodeString(parts[5])
	if err != nil || len(want) < 16 || len(want) > 64 {
		return false, errors.New("verify password: malformed hash")
	}
	got := argon2.IDKey([]byte(password), salt, time, uint32(memory), threads, uint32(len(want)))
	return subtle.ConstantTimeCompare(got, want) == 1, nil
}

// newDummyHash returns the hash a sign-in is verified against when it names
// no user that could sign in, so that such a sign-in takes as long as one
// with a wrong password. Its password is random and never known.
func newDummyHash() string {
	b := make([]byte, 32)
	rand.Read(b)
	h, err := HashPassword(base64.RawStdEncoding.EncodeToString(b))
	if err != nil {
		panic(err) // crypto/rand never fails
	}
	return h
}
