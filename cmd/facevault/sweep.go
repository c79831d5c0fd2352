package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"

	"github.com/facevault/facevault"
)

// SweepCommand finishes destroying the images of deleted photos and clients,
// then removes stored images that have no record. On the embedded
// default it needs the data directory to itself (stop serve first); on a
// shared store it takes the sweep lease. serve sweeps on its own, at start-up
// and periodically.
type SweepCommand struct {
	Stdout, Stderr io.Writer
}

// Run executes the command.
func (c *SweepCommand) Run(ctx context.Context, args []string) error {
	fs := newFlagSet("sweep", c.Stderr)
	stores := addStoreFlags(fs)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("%w: unexpected argument %q", errUsage, fs.Arg(0))
	}
	db, err := openStore(ctx, stores.dbURL(), checkSchema)
	if err != nil {
		return err
	}
	defer db.Close()
	blobs, err := openBlobStore(ctx, stores.blobsURL())
	if err != nil {
		return err
	}
	defer blobs.close()
	logger := slog.New(slog.NewTextHandler(c.Stderr, nil))
	vault := facevault.NewVault(db, blobs, logger)
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
		holder: leaseHolder(), exclusive: blobs.exclusive}
	n, ran, err := sw.sweep(ctx, true)
	if err != nil {
		return err
	}
	if !ran {
		return fmt.Errorf("another node holds the %q lease: a running serve sweeps this store every --sweep-interval on its own; run sweep by hand only while no node sweeps", sweepLease)
	}
	fmt.Fprintf(c.Stdout, "Removed %d orphan images.\n", n)
	return nil
}
