package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/facevault/facevault"
	fvhttp "github.com/facevault/facevault/http"
)

// errAuditBroken is the error of an audit verify that found a chain broken.
var errAuditBroken = errors.New("the audit log has been tampered with")

// AuditVerifyCommand walks every chain of the audit log from its first
// entry and reports, per chain, its entries, its head and the first broken
// link. It exits with status 1 if any chain is broken.
type AuditVerifyCommand struct {
	Stdout, Stderr io.Writer
}

// Run executes the command.
func (c *AuditVerifyCommand) Run(ctx context.Context, args []string) error {
	fs := newFlagSet("audit verify", c.Stderr)
	stores := addStoreFlags(fs)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("%w: unexpected argument %q", errUsage, fs.Arg(0))
	}
	db, err := stores.openRecords(ctx, checkSchema)
	if err != nil {
		return err
	}
	defer db.Close()
	reports, err := facevault.VerifyAudit(ctx, db)
	if err != nil {
		return err
	}
	names, err := accountNames(ctx, db)
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(c.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ACCOUNT\tMODE\tENTRIES\tHEAD\tSTATUS")
	broken := 0
	for _, r := range reports {
		status := "ok"
		if b := r.Break; b != nil {
			broken++
			status = "BROKEN: " + b.Reason
			if b.ID != "" {
				status += " (entry id " + b.ID + ")"
			}
		}
		account, mode := chainName(r.AuditChainID, names), string(r.Mode)
		if mode == "" {
			mode = "-"
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%s\t%s\n", account, mode, r.Entries, r.Hash, status)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if broken > 0 {
		return fmt.Errorf("%w: %d of %d chains broken (see above)", errAuditBroken, broken, len(reports))
	}
	fmt.Fprintf(c.Stdout, "%d chains verified, none broken. Keep the HEAD hashes elsewhere: a later verify must reach them.\n", len(reports))
	return nil
}

// accountNames maps the ids of the accounts that have keys to their names.
func accountNames(ctx context.Context, keys facevault.KeyStore) (map[string]string, error) {
	ks, err := keys.ListKeys(ctx)
	if err != nil {
		return nil, err
	}
	names := map[string]string{}
	for _, k := range ks {
		names[k.AccountID] = k.AccountName
	}
	return names, nil
}

// chainName is how a chain's account is shown: its name and id, or "-" for
// the chain of no account.
func chainName(c facevault.AuditChainID, names map[string]string) string {
	if c.AccountID == "" {
		return "- (no account)"
	}
	if n, ok := names[c.AccountID]; ok {
		return fmt.Sprintf("%s (%s)", n, c.AccountID)
	}
	return c.AccountID
}

// AuditExportCommand writes audit log entries to standard output as JSON
// lines, chain after chain, each in the order it was appended: the API's
// object for each, with its account id and mode.
type AuditExportCommand struct {
	Stdout, Stderr io.Writer
}

// Run executes the command.
func (c *AuditExportCommand) Run(ctx context.Context, args []string) error {
	fs := newFlagSet("audit export", c.Stderr)
	stores := addStoreFlags(fs)
	account := fs.String("account", "", "export only this account's entries (its name, or its id); default: every account, "+
		"and the entries of failed authentications with no account")
	mode := fs.String("mode", "", "export only this mode's entries: test or live")
	since := fs.String("since", "", "export only entries created at or after this time (RFC 3339, or YYYY-MM-DD for midnight UTC)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("%w: unexpected argument %q", errUsage, fs.Arg(0))
	}
	if *mode != "" && !facevault.Mode(*mode).Valid() {
		return fmt.Errorf("%w: --mode must be test or live", errUsage)
	}
	var from time.Time
	if *since != "" {
		var err error
		if from, err = parseSince(*since); err != nil {
			return fmt.Errorf("%w: --since: %v", errUsage, err)
		}
	}
	db, err := stores.openRecords(ctx, checkSchema)
	if err != nil {
		return err
	}
	defer db.Close()
	accountID := ""
	if *account != "" {
		names, err := accountNames(ctx, db)
		if err != nil {
			return err
		}
		for id, name := range names {
			if name == *account || id == *account {
				accountID = id
			}
		}
		if accountID == "" {
			return fmt.Errorf("no account is named %q or has that id (see 'facevault keys list')", *account)
		}
	}
	keep := func(ch facevault.AuditChainID) bool {
		return (accountID == "" || ch.AccountID == accountID) && (*mode == "" || string(ch.Mode) == *mode)
	}
	w := bufio.NewWriter(c.Stdout)
	err = facevault.WalkAudit(ctx, db, keep, func(e *facevault.AuditEntry) error {
		if e.CreatedAt.Before(from) {
			return nil
		}
		line, err := fvhttp.MarshalAuditEntry(e)
		if err != nil {
			return err
		}
		w.Write(line)
		return w.WriteByte('\n')
	})
	if err != nil {
		return err
	}
	return w.Flush()
}

// parseSince reads --since: RFC 3339, or a date alone (midnight UTC).
func parseSince(s string) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t, nil
	}
	t, err := time.Parse(time.DateOnly, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("%q is not a time: want RFC 3339 (2006-01-02T15:04:05Z) or a date (2006-01-02)", s)
	}
	return t, nil
}
