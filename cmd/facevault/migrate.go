package main

import (
	"context"
	"fmt"
	"io"
)

// MigrateCommand brings a record store's schema up to the version this
// binary knows. Run it before starting serve on a new or upgraded
// PostgreSQL database; it is safe to run from several nodes at once. It
// opens no image store, and so binds the database to none: its store id is
// recorded by the first command that opens it with its image store (see
// facevault.Bind), which checks the two belong together.
type MigrateCommand struct {
	Stdout, Stderr io.Writer
}

// Run executes the command.
func (c *MigrateCommand) Run(ctx context.Context, args []string) error {
	fs := newFlagSet("migrate", c.Stderr)
	stores := addStoreFlags(fs)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("%w: unexpected argument %q", errUsage, fs.Arg(0))
	}
	db, err := stores.openRecords(ctx, migrateSchema)
	if err != nil {
		return err
	}
	defer db.Close()
	if vs, ok := db.(interface {
		Version(context.Context) (int64, error)
	}); ok {
		v, err := vs.Version(ctx)
		if err != nil {
			return err
		}
		fmt.Fprintf(c.Stdout, "Schema is at version %d.\n", v)
	}
	return nil
}
