package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/facevault/facevault"
	"github.com/facevault/facevault/console"
)

// The users commands manage the people who sign in to the review console
// (see package console). A password is never taken from a flag, where
// other users of the machine and the shell history would see it: it is
// read from standard input, one line, or, when that is a terminal, asked
// for twice without echo.

// UsersCreateCommand creates a console user.
type UsersCreateCommand struct {
	Stdin          io.Reader
	Stdout, Stderr io.Writer
}

// Run executes the command.
func (c *UsersCreateCommand) Run(ctx context.Context, args []string) error {
	fs := newFlagSet("users create", c.Stderr)
	stores := addStoreFlags(fs)
	name := fs.String("name", "", "the user's name, which they sign in with (required, unique)")
	role := fs.String("role", "", "reviewer (looks at photos and acts on them) or admin (also deletes clients and manages users) (required)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("%w: unexpected argument %q (the password is read from standard input, never from the command line)", errUsage, fs.Arg(0))
	}
	if err := console.CheckUserName(*name); err != nil {
		return fmt.Errorf("%w: --name: %v", errUsage, err)
	}
	if !facevault.ConsoleRole(*role).Valid() {
		return fmt.Errorf("%w: --role must be reviewer or admin", errUsage)
	}
	password, err := readNewPassword(c.Stdin, c.Stderr)
	if err != nil {
		return err
	}
	u, err := console.NewUser(*name, facevault.ConsoleRole(*role), password, time.Now().UTC().Truncate(time.Millisecond))
	if err != nil {
		return err
	}
	db, err := stores.openRecords(ctx, checkSchema)
	if err != nil {
		return err
	}
	defer db.Close()
	if err := db.CreateConsoleUser(ctx, u); errors.Is(err, facevault.ErrExist) {
		return fmt.Errorf("a console user is called %q already", *name)
	} else if err != nil {
		return err
	}
	fmt.Fprintf(c.Stdout, "Created %s %q. They sign in at /console/.\n", u.Role, u.Name)
	return nil
}

// UsersListCommand lists the console users, never their password hashes.
type UsersListCommand struct {
	Stdout, Stderr io.Writer
}

// Run executes the command.
func (c *UsersListCommand) Run(ctx context.Context, args []string) error {
	fs := newFlagSet("users list", c.Stderr)
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
	users, err := db.ConsoleUsers(ctx)
	if err != nil {
		return err
	}
	now := time.Now()
	tw := tabwriter.NewWriter(c.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tROLE\tSTATE\tFAILED SIGN-INS\tCREATED")
	for _, u := range users {
		state := "active"
		switch {
		case u.Disabled:
			state = "disabled"
		case u.Locked(now):
			state = "locked until " + u.LockedUntil.Format(time.RFC3339)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%s\n", u.Name, u.Role, state, u.FailedSignIns, u.CreatedAt.Format(time.RFC3339))
	}
	return tw.Flush()
}

// UsersChangeCommand is one of the commands that change one console user,
// named by --name: set-password, delete, unlock, disable and enable.
type UsersChangeCommand struct {
	Action         string
	Stdin          io.Reader
	Stdout, Stderr io.Writer
}

// Run executes the command.
func (c *UsersChangeCommand) Run(ctx context.Context, args []string) error {
	fs := newFlagSet("users "+c.Action, c.Stderr)
	stores := addStoreFlags(fs)
	name := fs.String("name", "", "the user's name (required)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("%w: unexpected argument %q", errUsage, fs.Arg(0))
	}
	if *name == "" {
		return fmt.Errorf("%w: --name is required", errUsage)
	}
	var hash string
	if c.Action == "set-password" {
		password, err := readNewPassword(c.Stdin, c.Stderr)
		if err != nil {
			return err
		}
		if hash, err = console.HashPassword(password); err != nil {
			return err
		}
	}
	db, err := stores.openRecords(ctx, checkSchema)
	if err != nil {
		return err
	}
	defer db.Close()
	u, err := db.ConsoleUserByName(ctx, *name)
	if errors.Is(err, facevault.ErrNotFound) {
		return fmt.Errorf("no console user is called %q (see 'facevault users list')", *name)
	} else if err != nil {
		return err
	}
	now := time.Now().UTC().Truncate(time.Millisecond)
	var done string
	switch c.Action {
	case "set-password":
		err, done = db.SetConsolePassword(ctx, u.ID, hash, now), "Changed the password of %q; their sessions have ended.\n"
	case "delete":
		err, done = db.DeleteConsoleUser(ctx, u.ID), "Deleted %q; their sessions have ended.\n"
	case "unlock":
		err, done = db.ClearConsoleSignIns(ctx, u.ID, now), "Unlocked %q.\n"
	case "disable":
		err, done = db.SetConsoleUserDisabled(ctx, u.ID, true, now), "Disabled %q; their sessions have ended.\n"
	case "enable":
		err, done = db.SetConsoleUserDisabled(ctx, u.ID, false, now), "Enabled %q.\n"
	default:
		return fmt.Errorf("%w: unknown users command %q", errUsage, c.Action)
	}
	if errors.Is(err, facevault.ErrNotFound) {
		return fmt.Errorf("no console user is called %q any more", *name)
	} else if err != nil {
		return err
	}
	fmt.Fprintf(c.Stdout, done, u.Name)
	return nil
}

// readNewPassword reads a new password: asked for twice, without echo, on
// a terminal; otherwise the first line of in. It checks it with
// console.CheckPassword.
func readNewPassword(in io.Reader, prompt io.Writer) (string, error) {
	var password string
	if fd, ok := terminalFD(in); ok {
		first, err := readHidden(fd, prompt, "Password: ")
		if err != nil {
			return "", err
		}
		if err := console.CheckPassword(first); err != nil {
			return "", fmt.Errorf("%w: %v", errUsage, err)
		}
		again, err := readHidden(fd, prompt, "Password again: ")
		if err != nil {
			return "", err
		}
		if again != first {
			return "", fmt.Errorf("%w: the two passwords differ", errUsage)
		}
		password = first
	} else {
		line, err := bufio.NewReaderSize(in, console.MaxPasswordBytes+2).ReadString('\n')
		if err != nil && !errors.Is(err, io.EOF) {
			return "", fmt.Errorf("read the password from standard input: %w", err)
		}
		password = strings.TrimSuffix(strings.TrimSuffix(line, "\n"), "\r")
		if password == "" {
			return "", fmt.Errorf("%w: no password on standard input (give it as one line, e.g. from a password manager: ... | facevault users ...)", errUsage)
		}
	}
	if err := console.CheckPassword(password); err != nil {
		return "", fmt.Errorf("%w: %v", errUsage, err)
	}
	return password, nil
}
