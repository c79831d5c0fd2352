package facevault

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"strings"
	"time"
)

// keySecretLen is the number of random base62 characters in a key after its
// mode prefix: about 238 bits of entropy.
const keySecretLen = 40

const base62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

// HashKey returns the hash under which a key is stored. Keys carry far more
// entropy than a password, so a single SHA-256 is the right tool: it is
// fast to check on every request and infeasible to invert.
func HashKey(secret string) []byte {
	h := sha256.Sum256([]byte(secret))
	return h[:]
}

// NewKey generates a key for the account and mode. It returns the secret,
// which is shown once and never stored, and the record to store.
func NewKey(account *Account, mode Mode, now time.Time) (string, *APIKey, error) {
	if !mode.Valid() {
		return "", nil, fmt.Errorf("mode must be %q or %q, not %q", ModeTest, ModeLive, mode)
	}
	b := make([]byte, keySecretLen)
	for i := range b {
		// Rejection sampling keeps the characters uniform.
		for {
			var r [1]byte
			if _, err := rand.Read(r[:]); err != nil {
				return "", nil, fmt.Errorf("generate key: %w", err)
			}
			if r[0] < 248 { // 248 = 4 × 62
				b[i] = base62[r[0]%62]
				break
			}
		}
	}
	secret := string(mode) + "_" + string(b)
	return secret, &APIKey{
		ID:          NewID(now),
		AccountID:   account.ID,
		AccountName: account.Name,
		Mode:        mode,
		Hint:        secret[:len(mode)+5] + "…",
		Hash:        HashKey(secret),
		CreatedAt:   now,
	}, nil
}

// ErrUnauthorized is the contract's 401.
func ErrUnauthorized() *Error {
	return &Error{Code: EUnauthorized, Message: "The 'Authorization' header is invalid"}
}

// Authenticate returns the scope of an API key, or the contract's 401 if the
// key is malformed, unknown or revoked.
func Authenticate(ctx context.Context, keys KeyStore, secret string) (Scope, error) {
	k, err := AuthenticateKey(ctx, keys, secret)
	if err != nil {
		return Scope{}, err
	}
	return Scope{AccountID: k.AccountID, Mode: k.Mode}, nil
}

// AuthenticateKey is Authenticate returning the stored key. A key that is
// known but revoked is returned too, with the 401: its account and id are
// what the audit log records of the failed attempt. Otherwise the key is
// nil on error.
func AuthenticateKey(ctx context.Context, keys KeyStore, secret string) (*APIKey, error) {
	mode, _, ok := strings.Cut(secret, "_")
	if !ok || !Mode(mode).Valid() || len(secret) < len(mode)+1+32 || len(secret) > 200 {
		return nil, ErrUnauthorized()
	}
	h := HashKey(secret)
	k, err := keys.KeyByHash(ctx, h)
	if errors.Is(err, ErrNotFound) {
		return nil, ErrUnauthorized()
	} else if err != nil {
		return nil, fmt.Errorf("authenticate: %w", err)
	}
	if subtle.ConstantTimeCompare(k.Hash, h) != 1 || k.Mode != Mode(mode) {
		return nil, ErrUnauthorized()
	}
	if !k.RevokedAt.IsZero() {
		return k, ErrUnauthorized()
	}
	return k, nil
}
