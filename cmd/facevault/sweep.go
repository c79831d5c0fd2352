package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"

	"github.com/facevault/facevault"
)

// SweepCommand first finishes destroying the images of deleted photos and
// clients (the purge queue), then removes stored images that have no
// record: it moves them to the image store's quarantine (or destroys them,
// with --quarantine-for 0) and destroys what was quarantined longer ago than
// --quarantine-for. It refuses when the orphans are more than
// facevault.SweepLimit of the images, unless --force. On the embedded
// default it needs the data directory to itself (stop serve first); on a
// shared store it takes the sweep lease. serve sweeps on its own, at
// start-up and periodically.
type SweepCommand struct {
	Stdout, Stderr io.Writer
}

// Run executes the command.
func (c *SweepCommand) Run(ctx context.Context, args []string) error {
	fs := newFlagSet("sweep", c.Stderr)
	stores := addStoreFlags(fs)
	keyFlags := addKeyFlags(fs)
	quarantineFor := fs.Duration("quarantine-for", defaultQuarantineFor, "how long removed images are kept in quarantine before "+
		"a sweep destroys them; 0 destroys them at once")
	force := fs.Bool("force", false, "remove the orphans even if they are many (more than max(1%, min(16, half)) of the images), "+
		"and bind a record store and an image store whose only disagreement is that the images have no record")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("%w: unexpected argument %q", errUsage, fs.Arg(0))
	}
	if *quarantineFor < 0 {
		return fmt.Errorf("%w: --quarantine-for must not be negative", errUsage)
	}
	db, blobs, storeID, err := stores.openPair(ctx, checkSchema, *force)
	if err != nil {
		return err
	}
	defer db.Close()
	defer blobs.close()
	logger := slog.New(slog.NewTextHandler(c.Stderr, nil))
	vault := facevault.NewVault(db, blobs, logger)
	// The keys without a record are swept too; a key store never used has
	// none, and needs no master key.
	keys, err := keyFlags.openKeyring(ctx, stores, storeID, skipKeys, c.Stdout)
	if err != nil {
		return err
	}
	if keys != nil {
		defer keys.close()
		vault.Keys = keys
	}
	// Finish destroying what deletes queued first: those images have no
	// record any more, and are not the sweep's to judge.
	purged, err := vault.Purge(ctx)
	if err != nil {
		return err
	}
	if purged.Destroyed > 0 || purged.Failed > 0 {
		fmt.Fprintf(c.Stdout, "Destroyed %d images of deleted photos and clients (%d attempts failed and stay queued).\n",
			purged.Destroyed, purged.Failed)
	}
	sw := &sweeper{vault: vault, leases: db, logger: logger,
		holder: leaseHolder(), exclusive: blobs.exclusive, quarantineFor: *quarantineFor, force: *force, sealAtStart: true}
	res, ran, err := sw.sweep(ctx, true)
	if res.Expired > 0 {
		fmt.Fprintf(c.Stdout, "Destroyed %d images quarantined more than %v ago.\n", res.Expired, *quarantineFor)
	}
	var refused *facevault.SweepRefusedError
	if errors.As(err, &refused) && refused.Keys {
		return fmt.Errorf("%w: %d of the %d keys of the key store %s have no record in %s: is --keys the key store of this record store? "+
			"Run again with --force to destroy them", err, refused.Orphans, refused.Examined, redact(keyFlags.keysURL(stores)), redact(stores.dbURL()))
	}
	if errors.As(err, &refused) {
		return fmt.Errorf("%w: %d of the %d images of %s have no record in %s. %s", err, refused.Orphans, refused.Examined,
			redact(stores.blobsURL()), redact(stores.dbURL()), refusalHint(*quarantineFor))
	}
	if err != nil {
		return err
	}
	if !ran {
		return fmt.Errorf("another node holds the %q lease: a running serve sweeps this store every --sweep-interval on its own; run sweep by hand only while no node sweeps", sweepLease)
	}
	if *quarantineFor > 0 {
		fmt.Fprintf(c.Stdout, "Moved %d orphan images to quarantine for %v ('facevault quarantine list' shows them).\n", res.Quarantined, *quarantineFor)
	} else {
		fmt.Fprintf(c.Stdout, "Removed %d orphan images.\n", res.Destroyed)
	}
	if sw.sealed.Sealed > 0 || sw.sealed.Failed > 0 {
		fmt.Fprintf(c.Stdout, "Encrypted %d images stored in the clear by an earlier release (%d could not be, and are left as they were).\n",
			sw.sealed.Sealed, sw.sealed.Failed)
	}
	if res.KeysDestroyed > 0 {
		fmt.Fprintf(c.Stdout, "Destroyed %d keys without a record.\n", res.KeysDestroyed)
	}
	return nil
}
