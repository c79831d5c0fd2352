package keyring

import (
	"bytes"
	"context"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/facevault/facevault/seal"
)

// Master wraps and unwraps client keys. A local key file implements it
// (LocalMaster); so can a key management service (Vault transit, AWS KMS),
// which keeps the master key out of the process altogether.
type Master interface {
	// ID names the master key without revealing it; it is stored beside
	// every key the master wraps.
	ID() string
	// Wrap encrypts key, bound to aad.
	Wrap(ctx context.Context, key, aad []byte) ([]byte, error)
	// Unwrap decrypts what Wrap returned for the same aad.
	Unwrap(ctx context.Context, wrapped, aad []byte) ([]byte, error)
}

// MasterKeySize is the size of a local master key: 32 random bytes,
// written base64-encoded in a key file or FACEVAULT_MASTER_KEY.
const MasterKeySize = 32

// LocalMaster is a master key held in memory, from a key file or the
// environment. It wraps with AES-256-GCM under a key derived from it.
type LocalMaster struct {
	id  string
	key []byte
}

// NewLocalMaster returns the master of a 32-byte key.
func NewLocalMaster(key []byte) (*LocalMaster, error) {
	if len(key) != MasterKeySize {
		return nil, fmt.Errorf("master key is %d bytes, want %d", len(key), MasterKeySize)
	}
	idKey, err := hkdf.Key(sha256.New, key, nil, "facevault master key id", 8)
	if err != nil {
		return nil, err
	}
	return &LocalMaster{id: hex.EncodeToString(idKey), key: bytes.Clone(key)}, nil
}

// ID is 16 hexadecimal digits derived from the key (HKDF), which tell keys
// apart without revealing them.
func (m *LocalMaster) ID() string { return m.id }

// Wrap implements Master.
func (m *LocalMaster) Wrap(_ context.Context, key, aad []byte) ([]byte, error) {
	return seal.SealMessage(m.key, "facevault master wrap", key, aad)
}

// Unwrap implements Master.
func (m *LocalMaster) Unwrap(_ context.Context, wrapped, aad []byte) ([]byte, error) {
	return seal.OpenMessage(m.key, "facevault master wrap", wrapped, aad)
}

// ParseMasterKeys reads master keys from text: one base64-encoded 32-byte
// key per line (blank lines and lines starting with # are ignored), the
// current one first; the others are older keys still accepted for
// unwrapping, during a rotation. source names the text in errors.
func ParseMasterKeys(text []byte, source string) ([]*LocalMaster, error) {
	var keys []*LocalMaster
	for i, line := range strings.Split(string(text), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		k, err := base64.StdEncoding.DecodeString(line)
		if err != nil {
			return nil, fmt.Errorf("master key in %s, line %d: not base64: write the key as base64 of %d random bytes (facevault keys new-master prints one)",
				source, i+1, MasterKeySize)
		}
		if len(k) != MasterKeySize {
			return nil, fmt.Errorf("master key in %s, line %d: %d bytes, want %d (base64 of %d random bytes)",
				source, i+1, len(k), MasterKeySize, MasterKeySize)
		}
		m, err := NewLocalMaster(k)
		if err != nil {
			return nil, err
		}
		keys = append(keys, m)
	}
	if len(keys) == 0 {
		return nil, fmt.Errorf("master key in %s: no key found", source)
	}
	return keys, nil
}

// ReadMasterFile reads the master keys of a key file (see ParseMasterKeys).
// The file must not be readable by group or others.
func ReadMasterFile(path string) ([]*LocalMaster, error) {
	info, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("master key file: %w", err)
	}
	if info.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("master key file %s is readable by others (mode %v): chmod 600 it", path, info.Mode().Perm())
	}
	text, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("master key file: %w", err)
	}
	return ParseMasterKeys(text, path)
}

// NewMasterKeyText returns a new random master key as a key file's line.
func NewMasterKeyText() (string, error) {
	k := make([]byte, MasterKeySize)
	if _, err := rand.Read(k); err != nil {
		return "", fmt.Errorf("new master key: %w", err)
	}
	return base64.StdEncoding.EncodeToString(k), nil
}

// WriteMasterFile writes keys (lines of base64, current first) to path,
// mode 0600, durably and atomically: a crash leaves the old file or the new
// one. With exclusive it fails if path exists.
func WriteMasterFile(path string, keys []string, exclusive bool) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return fmt.Errorf("master key file: %w", err)
	}
	if exclusive {
		if _, err := os.Lstat(path); err == nil {
			return fmt.Errorf("master key file %s: %w", path, fs.ErrExist)
		}
	}
	var b strings.Builder
	b.WriteString("# FaceVault master key file: keep it secret, back it up apart from the data.\n")
	b.WriteString("# The first key is current; any others are older keys still being rotated out.\n")
	for _, k := range keys {
		b.WriteString(k + "\n")
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".master-*.tmp")
	if err != nil {
		return fmt.Errorf("master key file: %w", err)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.WriteString(b.String()); err != nil {
		tmp.Close()
		return fmt.Errorf("master key file: %w", err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("master key file: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("master key file: %w", err)
	}
	if exclusive {
		if err := os.Link(tmp.Name(), path); err != nil {
			return fmt.Errorf("master key file: %w", err)
		}
	} else if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("master key file: %w", err)
	}
	d, err := os.Open(filepath.Dir(path))
	if err != nil {
		return fmt.Errorf("master key file: %w", err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("master key file: %w", err)
	}
	return nil
}

// errUnknownMaster is a key wrapped by a master key that is not configured.
var errUnknownMaster = errors.New("wrapped by a master key that is not configured")
