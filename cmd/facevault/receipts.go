package main

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/go-json-experiment/json"

	"github.com/facevault/facevault"
)

// ReceiptsVerifyCommand checks deletion receipts offline: a file holding a
// receipt as GET /v1/deletionReceipts lists it (or the whole list answer),
// against the deployment's public key (the text of
// /.well-known/facevault-receipts.pub, saved to a file). It needs no store.
type ReceiptsVerifyCommand struct {
	Stdout, Stderr io.Writer
}

// errBadReceipt fails the command when a receipt does not verify.
var errBadReceipt = errors.New("receipt verification failed")

// wireReceipt is a receipt as the API lists it.
type wireReceipt struct {
	ID        string `json:"id"`
	Payload   string `json:"payload"`
	Signature string `json:"signature"`
}

// Run executes the command.
func (c *ReceiptsVerifyCommand) Run(_ context.Context, args []string) error {
	fs := newFlagSet("receipts verify", c.Stderr)
	keyFile := fs.String("public-key", "", "file holding the deployment's receipt key, as /.well-known/facevault-receipts.pub serves it (required)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 1 || *keyFile == "" {
		return fmt.Errorf("%w: give --public-key FILE and one receipt FILE", errUsage)
	}
	keyText, err := os.ReadFile(*keyFile)
	if err != nil {
		return fmt.Errorf("public key: %w", err)
	}
	pub, err := facevault.ParseReceiptKey(keyText)
	if err != nil {
		return fmt.Errorf("public key %s: %w", *keyFile, err)
	}
	text, err := os.ReadFile(fs.Arg(0))
	if err != nil {
		return fmt.Errorf("receipt: %w", err)
	}
	var doc struct {
		wireReceipt
		Items []wireReceipt `json:"items"`
	}
	if err := json.Unmarshal(text, &doc); err != nil {
		return fmt.Errorf("receipt %s: not a receipt (JSON as GET /v1/deletionReceipts answers): %w", fs.Arg(0), err)
	}
	receipts := doc.Items
	if doc.Payload != "" || doc.Signature != "" {
		receipts = append(receipts, doc.wireReceipt)
	}
	if len(receipts) == 0 {
		return fmt.Errorf("receipt %s: no receipt in it (want an object with payload and signature)", fs.Arg(0))
	}
	bad := 0
	for _, r := range receipts {
		sig, err := base64.StdEncoding.DecodeString(r.Signature)
		var p *facevault.ReceiptPayload
		if err == nil {
			p, err = facevault.VerifyReceipt(pub, []byte(r.Payload), sig)
		}
		if err == nil && r.ID != "" && p.ReceiptID != r.ID {
			err = fmt.Errorf("its id %s is not the signed one, %s", r.ID, p.ReceiptID)
		}
		if err != nil {
			bad++
			fmt.Fprintf(c.Stdout, "INVALID receipt %s: %v\n", r.ID, err)
			continue
		}
		var what []string
		for _, d := range p.Destroyed {
			what = append(what, d.ResourceType+" "+d.ResourceID)
		}
		fmt.Fprintf(c.Stdout, "valid receipt %s: %s of %s %s at %s, signed by key %s; destroyed the keys of %s\n",
			p.ReceiptID, p.Action, p.ResourceType, p.ResourceID, p.DestroyedAt, p.SigningKeyID, strings.Join(what, ", "))
	}
	if bad > 0 {
		return fmt.Errorf("%w: %d of %d receipts", errBadReceipt, bad, len(receipts))
	}
	return nil
}

// ReceiptsPublicKeyCommand prints the deployment's receipt key, as
// /.well-known/facevault-receipts.pub serves it, from the key store.
type ReceiptsPublicKeyCommand struct {
	Stdout, Stderr io.Writer
}

// Run executes the command.
func (c *ReceiptsPublicKeyCommand) Run(ctx context.Context, args []string) error {
	fs := newFlagSet("receipts public-key", c.Stderr)
	stores := addStoreFlags(fs)
	keyFlags := addKeyFlags(fs)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("%w: unexpected argument %q", errUsage, fs.Arg(0))
	}
	keys, err := keyFlags.openKeyring(ctx, stores, "", requireMaster, c.Stdout)
	if err != nil {
		return err
	}
	defer keys.close()
	_, pub := keys.ReceiptKey()
	text, err := facevault.MarshalReceiptKey(pub)
	if err != nil {
		return err
	}
	_, err = c.Stdout.Write(text)
	return err
}
