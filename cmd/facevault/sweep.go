package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/facevault/facevault"
)

// SweepCommand removes stored images that have no record. It needs the data
// directory to itself: stop serve first (serve sweeps at start-up and
// periodically on its own).
type SweepCommand struct {
	Stdout, Stderr io.Writer
}

// Run executes the command.
func (c *SweepCommand) Run(ctx context.Context, args []string) error {
	fs := newFlagSet("sweep", c.Stderr)
	data := dataFlag(fs)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	db, err := openDB(ctx, *data)
	if err != nil {
		return err
	}
	defer db.Close()
	blobs, err := openBlobs(*data)
	if err != nil {
		return err
	}
	defer blobs.Close()
	v := facevault.NewVault(db, blobs, slog.New(slog.NewTextHandler(c.Stderr, nil)))
	n, err := v.Sweep(ctx, time.Now().Add(time.Second))
	if err != nil {
		return err
	}
	fmt.Fprintf(c.Stdout, "Removed %d orphan images.\n", n)
	return nil
}
