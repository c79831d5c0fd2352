package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/facevault/facevault"
)

// KeysCreateCommand creates an API key and prints it, once, as the last line
// of its output.
type KeysCreateCommand struct {
	Stdout, Stderr io.Writer
}

// Run executes the command.
func (c *KeysCreateCommand) Run(ctx context.Context, args []string) error {
	fs := newFlagSet("keys create", c.Stderr)
	stores := addStoreFlags(fs)
	mode := fs.String("mode", "", "key mode: test or live (required)")
	account := fs.String("account", "default", "account the key belongs to; created if it does not exist")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("%w: unexpected argument %q", errUsage, fs.Arg(0))
	}
	if !facevault.Mode(*mode).Valid() {
		return fmt.Errorf("%w: --mode must be test or live", errUsage)
	}
	if *account == "" {
		return fmt.Errorf("%w: --account must not be empty", errUsage)
	}
	db, err := stores.openRecords(ctx, checkSchema)
	if err != nil {
		return err
	}
	defer db.Close()
	secret, key, err := createKey(ctx, db, *account, facevault.Mode(*mode))
	if err != nil {
		return err
	}
	fmt.Fprintf(c.Stdout, "Created %s key %s for account %q. It is shown only now; FaceVault keeps only its hash.\n", key.Mode, key.ID, *account)
	fmt.Fprintln(c.Stdout, secret)
	return nil
}

func createKey(ctx context.Context, keys facevault.KeyStore, accountName string, mode facevault.Mode) (string, *facevault.APIKey, error) {
	now := time.Now().UTC().Truncate(time.Millisecond)
	acct, err := keys.EnsureAccount(ctx, accountName, now)
	if err != nil {
		return "", nil, fmt.Errorf("account %q: %w", accountName, err)
	}
	secret, key, err := facevault.NewKey(acct, mode, now)
	if err != nil {
		return "", nil, err
	}
	if err := keys.CreateKey(ctx, key); err != nil {
		return "", nil, fmt.Errorf("store key: %w", err)
	}
	return secret, key, nil
}

// KeysListCommand lists API keys: their ids, accounts, modes and hints, never
// the keys.
type KeysListCommand struct {
	Stdout, Stderr io.Writer
}

// Run executes the command.
func (c *KeysListCommand) Run(ctx context.Context, args []string) error {
	fs := newFlagSet("keys list", c.Stderr)
	stores := addStoreFlags(fs)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	db, err := stores.openRecords(ctx, checkSchema)
	if err != nil {
		return err
	}
	defer db.Close()
	keys, err := db.ListKeys(ctx)
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(c.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tACCOUNT\tMODE\tKEY\tCREATED\tSTATUS")
	for _, k := range keys {
		status := "active"
		if !k.RevokedAt.IsZero() {
			status = "revoked " + k.RevokedAt.Format(time.RFC3339)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", k.ID, k.AccountName, k.Mode, k.Hint, k.CreatedAt.Format(time.RFC3339), status)
	}
	return tw.Flush()
}

// KeysRevokeCommand revokes an API key by id. Every node refuses it
// within its key cache's lifetime (serve --key-cache-ttl).
type KeysRevokeCommand struct {
	Stdout, Stderr io.Writer
}

// Run executes the command.
func (c *KeysRevokeCommand) Run(ctx context.Context, args []string) error {
	fs := newFlagSet("keys revoke", c.Stderr)
	stores := addStoreFlags(fs)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return fmt.Errorf("%w: keys revoke takes one key id (see 'facevault keys list')", errUsage)
	}
	id := fs.Arg(0)
	db, err := stores.openRecords(ctx, checkSchema)
	if err != nil {
		return err
	}
	defer db.Close()
	if err := db.RevokeKey(ctx, id, time.Now().UTC().Truncate(time.Millisecond)); errors.Is(err, facevault.ErrNotFound) {
		return fmt.Errorf("no key has id %q", id)
	} else if err != nil {
		return err
	}
	fmt.Fprintf(c.Stdout, "Revoked key %s. Running nodes refuse it within their --key-cache-ttl (30s by default).\n", id)
	return nil
}
