// Command facevault runs the FaceVault service and manages its API keys.
//
//	facevault serve [--data DIR] [--addr HOST:PORT] ...
//	facevault keys create --mode test|live [--account NAME] [--data DIR]
//	facevault keys list [--data DIR]
//	facevault keys revoke [--data DIR] KEY_ID
//	facevault keys rotate-master [--data DIR] [--master-key-file F]
//	facevault keys retire-master [--data DIR] [--master-key-file F] MASTER_ID
//	facevault keys new-master
//	facevault sweep [--data DIR] [--force] [--quarantine-for D]
//	facevault quarantine list [--data DIR]
//	facevault quarantine restore [--data DIR] KEY...|--all
//	facevault receipts verify --public-key PEM FILE
//	facevault receipts public-key [--data DIR]
//	facevault migrate --db postgres://…
//	facevault audit verify [--data DIR]
//	facevault users create --name NAME --role reviewer|admin [--data DIR]  (password on stdin)
//	facevault users list|set-password|delete|unlock|disable|enable ... --name NAME
//	facevault audit export [--data DIR] [--account NAME] [--mode test|live] [--since TIME]
//	facevault eval --labels FILE [--plot FILE.png] [--json] DIR
//	facevault backup --to DIR|s3://bucket[/prefix]?endpoint=URL [--data DIR]
//	facevault restore --from DIR|s3://bucket[/prefix]?endpoint=URL --data NEWDIR
//
// Every command takes --db and --blobs URLs to choose its back ends
// (sqlite:///path or postgres://…; file:///path or s3://bucket?…); they
// default to the embedded SQLite database and image directory under --data.
// The commands that read or destroy images also take --keys (the key store
// URL) and --master-key-file; see keyring.go.
//
// Every flag can also be set with an environment variable: --data is
// FACEVAULT_DATA, --max-uploads is FACEVAULT_MAX_UPLOADS, and so on. A flag
// on the command line wins over the environment.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout, os.Stderr); err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(os.Stderr, "facevault:", err)
		}
		os.Exit(exitCode(err))
	}
}

func exitCode(err error) int {
	if errors.Is(err, flag.ErrHelp) || errors.Is(err, errUsage) {
		return 2
	}
	return 1
}

var errUsage = errors.New("usage error")

const usage = `Usage: facevault <command> [flags]

Commands:
  serve          run the API service
  keys create    create an API key (prints it once)
  keys list      list API keys (never the keys themselves)
  keys revoke    revoke an API key by its id
  keys rotate-master  make a new master key and rewrap every client key with it
  keys retire-master  remove an old master key no client key uses any more (ID)
  keys new-master     print a new random master key
  sweep          move stored images that have no record to quarantine
  quarantine list     list the images the sweep set aside
  quarantine restore  bring quarantined images back (KEY... or --all)
  receipts verify      check deletion receipts offline (FILE --public-key PEM)
  receipts public-key  print the key that verifies deletion receipts
  migrate        bring the record store's schema up to date
  audit verify   check that no audit log entry was changed, added or removed
  audit export   write audit log entries as JSON lines
  backup         write a consistent backup of the embedded default while it runs
                 (--to DIR or s3://bucket[/prefix]?endpoint=URL; holds no key)
  restore        bring a backup back into an empty data directory
                 (--from DIR or s3://… --data NEWDIR)
  users create   create a review console user (--name, --role reviewer|admin;
                 the password is read from standard input or asked for)
  users list     list console users (never their passwords)
  users set-password  give a console user a new password (ends their sessions)
  users delete   delete a console user (ends their sessions)
  users unlock   end a console user's lock-out after failed sign-ins
  users disable  stop a console user from signing in (ends their sessions)
  users enable   let a disabled console user sign in again
  eval           measure the liveness check on a folder of labelled photos
  face-eval      measure face embeddings on photos of known people

Run 'facevault <command> -h' for the flags of a command. Every flag can
also be set as FACEVAULT_<FLAG> in the environment (--max-uploads is
FACEVAULT_MAX_UPLOADS).
`

// run dispatches a command line. It is main without the process: tests call
// it directly.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	return runWithInput(ctx, args, os.Stdin, stdout, stderr)
}

// runWithInput is run reading standard input (passwords) from stdin.
func runWithInput(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return errUsage
	}
	switch args[0] {
	case "serve":
		return (&ServeCommand{Stdout: stdout, Stderr: stderr}).Run(ctx, args[1:])
	case "keys":
		if len(args) < 2 {
			fmt.Fprint(stderr, usage)
			return errUsage
		}
		switch args[1] {
		case "create":
			return (&KeysCreateCommand{Stdout: stdout, Stderr: stderr}).Run(ctx, args[2:])
		case "list":
			return (&KeysListCommand{Stdout: stdout, Stderr: stderr}).Run(ctx, args[2:])
		case "revoke":
			return (&KeysRevokeCommand{Stdout: stdout, Stderr: stderr}).Run(ctx, args[2:])
		case "rotate-master":
			return (&KeysRotateMasterCommand{Stdout: stdout, Stderr: stderr}).Run(ctx, args[2:])
		case "retire-master":
			return (&KeysRetireMasterCommand{Stdout: stdout, Stderr: stderr}).Run(ctx, args[2:])
		case "new-master":
			return (&KeysNewMasterCommand{Stdout: stdout, Stderr: stderr}).Run(ctx, args[2:])
		}
	case "sweep":
		return (&SweepCommand{Stdout: stdout, Stderr: stderr}).Run(ctx, args[1:])
	case "quarantine":
		if len(args) < 2 {
			fmt.Fprint(stderr, usage)
			return errUsage
		}
		switch args[1] {
		case "list":
			return (&QuarantineListCommand{Stdout: stdout, Stderr: stderr}).Run(ctx, args[2:])
		case "restore":
			return (&QuarantineRestoreCommand{Stdout: stdout, Stderr: stderr}).Run(ctx, args[2:])
		}
	case "receipts":
		if len(args) < 2 {
			fmt.Fprint(stderr, usage)
			return errUsage
		}
		switch args[1] {
		case "verify":
			return (&ReceiptsVerifyCommand{Stdout: stdout, Stderr: stderr}).Run(ctx, args[2:])
		case "public-key":
			return (&ReceiptsPublicKeyCommand{Stdout: stdout, Stderr: stderr}).Run(ctx, args[2:])
		}
	case "migrate":
		return (&MigrateCommand{Stdout: stdout, Stderr: stderr}).Run(ctx, args[1:])
	case "audit":
		if len(args) < 2 {
			fmt.Fprint(stderr, usage)
			return errUsage
		}
		switch args[1] {
		case "verify":
			return (&AuditVerifyCommand{Stdout: stdout, Stderr: stderr}).Run(ctx, args[2:])
		case "export":
			return (&AuditExportCommand{Stdout: stdout, Stderr: stderr}).Run(ctx, args[2:])
		}
	case "users":
		if len(args) < 2 {
			fmt.Fprint(stderr, usage)
			return errUsage
		}
		switch args[1] {
		case "create":
			return (&UsersCreateCommand{Stdin: stdin, Stdout: stdout, Stderr: stderr}).Run(ctx, args[2:])
		case "list":
			return (&UsersListCommand{Stdout: stdout, Stderr: stderr}).Run(ctx, args[2:])
		case "set-password", "delete", "unlock", "disable", "enable":
			return (&UsersChangeCommand{Action: args[1], Stdin: stdin, Stdout: stdout, Stderr: stderr}).Run(ctx, args[2:])
		}
	case "backup":
		return (&BackupCommand{Stdout: stdout, Stderr: stderr}).Run(ctx, args[1:])
	case "restore":
		return (&RestoreCommand{Stdout: stdout, Stderr: stderr}).Run(ctx, args[1:])
	case "eval":
		return (&EvalCommand{Stdout: stdout, Stderr: stderr}).Run(ctx, args[1:])
	case "face-eval":
		return (&FaceEvalCommand{Stdout: stdout, Stderr: stderr}).Run(ctx, args[1:])
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return nil
	}
	fmt.Fprintf(stderr, "facevault: unknown command %q\n\n%s", strings.Join(args[:min(2, len(args))], " "), usage)
	return errUsage
}

// parseFlags parses args into fs, then fills every flag not given on the
// command line from its FACEVAULT_* environment variable.
func parseFlags(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return fmt.Errorf("%w: %w", errUsage, err)
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	var err error
	fs.VisitAll(func(f *flag.Flag) {
		if set[f.Name] || err != nil {
			return
		}
		name := envName(f.Name)
		if v, ok := os.LookupEnv(name); ok {
			if serr := fs.Set(f.Name, v); serr != nil {
				err = fmt.Errorf("%w: invalid value %q for %s: %w", errUsage, v, name, serr)
			}
		}
	})
	return err
}

// envName is the environment variable of a flag: FACEVAULT_ and the flag
// name in upper case with dashes as underscores.
func envName(flagName string) string {
	return "FACEVAULT_" + strings.ToUpper(strings.ReplaceAll(flagName, "-", "_"))
}

// newFlagSet returns a flag set that reports errors instead of exiting, with
// a usage text naming the environment variables.
func newFlagSet(name string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: facevault %s [flags]\n\nFlags (each also FACEVAULT_<NAME> in the environment):\n", name)
		fs.PrintDefaults()
	}
	return fs
}
