package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/facevault/facevault"
)

// QuarantineListCommand lists the images the sweep has set aside: their
// keys (live photo ids), sizes, and when they were set aside.
type QuarantineListCommand struct {
	Stdout, Stderr io.Writer
}

// Run executes the command.
func (c *QuarantineListCommand) Run(ctx context.Context, args []string) error {
	fs := newFlagSet("quarantine list", c.Stderr)
	stores := addStoreFlags(fs)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("%w: unexpected argument %q", errUsage, fs.Arg(0))
	}
	db, blobs, _, err := stores.openPair(ctx, checkSchema, false)
	if err != nil {
		return err
	}
	defer db.Close()
	defer blobs.close()
	list, err := quarantined(ctx, blobs)
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(c.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "KEY\tSIZE\tQUARANTINED")
	for _, b := range list {
		fmt.Fprintf(tw, "%s\t%d\t%s\n", b.Key, b.Size, b.Since.UTC().Format(time.RFC3339))
	}
	return tw.Flush()
}

// quarantined lists the quarantine, oldest first.
func quarantined(ctx context.Context, q facevault.Quarantine) ([]facevault.QuarantinedBlob, error) {
	var list []facevault.QuarantinedBlob
	if err := q.Quarantined(ctx, func(b facevault.QuarantinedBlob) error {
		list = append(list, b)
		return nil
	}); err != nil {
		return nil, err
	}
	slices.SortFunc(list, func(a, b facevault.QuarantinedBlob) int {
		if c := a.Since.Compare(b.Since); c != 0 {
			return c
		}
		return strings.Compare(a.Key, b.Key)
	})
	return list, nil
}

// QuarantineRestoreCommand moves quarantined images back into the image
// store, by key or all of them. It never overwrites an image: a key that
// has one again is reported and left in quarantine.
type QuarantineRestoreCommand struct {
	Stdout, Stderr io.Writer
}

// Run executes the command.
func (c *QuarantineRestoreCommand) Run(ctx context.Context, args []string) error {
	fs := newFlagSet("quarantine restore", c.Stderr)
	stores := addStoreFlags(fs)
	all := fs.Bool("all", false, "restore every quarantined image")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	keys := fs.Args()
	if *all == (len(keys) > 0) {
		return fmt.Errorf("%w: quarantine restore takes keys (see 'facevault quarantine list') or --all, not both", errUsage)
	}
	for _, k := range keys {
		if !facevault.ValidID(k) {
			return fmt.Errorf("%w: %q is not a key: a key is a live photo id, 24 hex digits", errUsage, k)
		}
	}
	db, blobs, _, err := stores.openPair(ctx, checkSchema, false)
	if err != nil {
		return err
	}
	defer db.Close()
	defer blobs.close()
	if *all {
		list, err := quarantined(ctx, blobs)
		if err != nil {
			return err
		}
		for _, b := range list {
			keys = append(keys, b.Key)
		}
	}
	var restored, failed []string
	for _, k := range keys {
		err := blobs.Restore(ctx, k)
		switch {
		case err == nil:
			restored = append(restored, k)
			fmt.Fprintf(c.Stdout, "Restored %s.\n", k)
		case errors.Is(err, facevault.ErrExist):
			failed = append(failed, k)
			fmt.Fprintf(c.Stderr, "%s: not restored: an image with this key is in the image store; the quarantined one stays in quarantine\n", k)
		case errors.Is(err, facevault.ErrNotFound):
			failed = append(failed, k)
			fmt.Fprintf(c.Stderr, "%s: not restored: the quarantine holds no image with this key\n", k)
		default:
			return fmt.Errorf("restore %s: %w (restored %d before it)", k, err, len(restored))
		}
	}
	fmt.Fprintf(c.Stdout, "Restored %d images.\n", len(restored))
	if len(restored) > 0 {
		exist, err := db.ExistingLivePhotos(ctx, restored)
		if err != nil {
			return err
		}
		if n := len(restored) - len(exist); n > 0 {
			fmt.Fprintf(c.Stderr, "warning: %d of the restored images have no record in %s: the next sweep sets them aside again. "+
				"Is --db their record store?\n", n, redact(stores.dbURL()))
		}
	}
	if len(failed) > 0 {
		return fmt.Errorf("%d of the %d images were not restored: %s", len(failed), len(keys), strings.Join(failed, ", "))
	}
	return nil
}
