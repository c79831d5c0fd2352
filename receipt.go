package facevault

import (
	"crypto/ed25519"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"time"

	"github.com/go-json-experiment/json"
)

// PhotoRef names a photo whose data key is recorded: its scope, its client,
// and the SHA-256 (hex) of its image as uploaded, which a deletion receipt
// quotes once the key is destroyed.
type PhotoRef struct {
	Scope    Scope
	ClientID string
	PhotoID  string
	SHA256   string
}

// Destruction is why keys are destroyed: the action a deletion receipt
// records. NoReceipt records none, for keys that never stood for a photo
// anyone could see (an upload that failed, an orphan the sweep finds).
type Destruction string

// The destructions that make receipts.
const (
	DestroyDeleted       Destruction = "livePhoto.deleted"
	DestroyRedacted      Destruction = "livePhoto.redacted"
	DestroyPurged        Destruction = "livePhoto.purged" // by the background purge, after a deletion or redaction
	DestroyClientDeleted Destruction = "client.deleted"
	DestroyRetention     Destruction = "livePhoto.retentionExpired"
	NoReceipt            Destruction = ""
)

// DeletionReceipt is the signed record of one destruction: Payload is the
// JSON text of a ReceiptPayload, exactly as signed; Signature is its
// Ed25519 signature by the deployment's receipt key, whose public half is
// served at /.well-known/facevault-receipts.pub.
type DeletionReceipt struct {
	ID           string
	Action       Destruction
	ResourceType string // livePhoto or client
	ResourceID   string
	CreatedAt    time.Time
	SigningKeyID string
	Payload      []byte
	Signature    []byte
}

// ReceiptPayload is what a deletion receipt says and its signature covers.
type ReceiptPayload struct {
	ReceiptID    string      `json:"receiptId"`
	Action       Destruction `json:"action"`
	AccountID    string      `json:"accountId"`
	Mode         Mode        `json:"mode"`
	ResourceType string      `json:"resourceType"`
	ResourceID   string      `json:"resourceId"`
	ClientID     string      `json:"clientId"`
	// DestroyedAt is when the keys were destroyed, in RFC 3339 to the
	// millisecond, UTC: from then on no copy of the bytes they sealed,
	// anywhere, can be decrypted.
	DestroyedAt  string         `json:"destroyedAt"`
	Destroyed    []DestroyedKey `json:"destroyed"`
	SigningKeyID string         `json:"signingKeyId"`
}

// DestroyedKey is one key a receipt records as destroyed: a photo's data
// key (with the SHA-256 of the image it sealed, as uploaded) or a client's
// key (which made every data key of its photos useless).
type DestroyedKey struct {
	ResourceType string `json:"resourceType"`
	ResourceID   string `json:"resourceId"`
	SHA256       string `json:"sha256,omitempty"`
	// KeyID names the destroyed key: the first 16 bytes, in hex, of the
	// SHA-256 of the key as it was stored (wrapped).
	KeyID string `json:"keyId"`
}

// ErrBadReceipt is a receipt whose signature does not verify.
var ErrBadReceipt = errors.New("the receipt's signature does not verify: it was altered, or signed by another key")

// VerifyReceipt checks a receipt's signature against the deployment's
// public key, and returns what it says.
func VerifyReceipt(pub ed25519.PublicKey, payload, signature []byte) (*ReceiptPayload, error) {
	if len(pub) != ed25519.PublicKeySize {
		return nil, fmt.Errorf("receipt public key is %d bytes, want %d", len(pub), ed25519.PublicKeySize)
	}
	if !ed25519.Verify(pub, payload, signature) {
		return nil, ErrBadReceipt
	}
	var p ReceiptPayload
	if err := json.Unmarshal(payload, &p); err != nil {
		return nil, fmt.Errorf("receipt payload: %w", err)
	}
	return &p, nil
}

// MarshalReceiptKey writes a receipt public key as PEM (PKIX), as
// /.well-known/facevault-receipts.pub serves it.
func MarshalReceiptKey(pub ed25519.PublicKey) ([]byte, error) {
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}), nil
}

// ParseReceiptKey reads what MarshalReceiptKey wrote.
func ParseReceiptKey(text []byte) (ed25519.PublicKey, error) {
	block, _ := pem.Decode(text)
	if block == nil || block.Type != "PUBLIC KEY" {
		return nil, errors.New("not a PEM public key (want the text of /.well-known/facevault-receipts.pub)")
	}
	key, err := x509.ParsePKIXPublicKey(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("public key: %w", err)
	}
	pub, ok := key.(ed25519.PublicKey)
	if !ok {
		return nil, fmt.Errorf("public key is a %T, not an Ed25519 key", key)
	}
	return pub, nil
}
