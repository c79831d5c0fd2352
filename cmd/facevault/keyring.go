package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/facevault/facevault/keyring"
)

// masterKeyEnv holds master keys themselves (base64, the current first,
// separated by commas or newlines), for deployments that pass secrets in
// the environment rather than in a file. It is not a flag: a key on a
// command line is visible to every user of the machine.
const masterKeyEnv = "FACEVAULT_MASTER_KEY"

// keyFlags choose the key store and the master key.
type keyFlags struct {
	keys, masterKeyFile *string
}

func addKeyFlags(fs *flag.FlagSet) *keyFlags {
	return &keyFlags{
		keys: fs.String("keys", "", "key store URL: sqlite:///path/keys.db or postgres://user@host:5432/dbname "+
			"(default: keys.db in a directory beside the SQLite database's, named like it with -keys appended, or the keyring_* tables of a PostgreSQL --db)"),
		masterKeyFile: fs.String("master-key-file", "", "file holding the master key that wraps the key store's keys "+
			"(default: master.key beside the default key store; "+masterKeyEnv+" may hold the key itself instead)"),
	}
}

// keyDir is the default directory of the key store and master key: beside
// the directory of the SQLite database (--data, unless --db names another
// file), not in it, so that a copy of the data directory carries no key.
func (s *storeFlags) keyDir() string {
	dir := *s.data
	if path, ok := sqlitePath(s.dbURL()); ok {
		dir = filepath.Dir(path)
	}
	return filepath.Clean(dir) + "-keys"
}

func (k *keyFlags) keysURL(s *storeFlags) string {
	if *k.keys != "" {
		return *k.keys
	}
	if db := s.dbURL(); strings.HasPrefix(db, "postgres:") || strings.HasPrefix(db, "postgresql:") {
		return db
	}
	return "sqlite://" + filepath.Join(s.keyDir(), "keys.db")
}

func (k *keyFlags) masterPath(s *storeFlags) string {
	if *k.masterKeyFile != "" {
		return *k.masterKeyFile
	}
	return filepath.Join(s.keyDir(), "master.key")
}

// openedKeyring is a keyring and the key store under it.
type openedKeyring struct {
	*keyring.Keyring
	db *keyring.DB
}

func (k *openedKeyring) close() { k.db.Close() }

// masterMissing says what openKeyring does when no master key is
// configured and the key store was never used.
type masterMissing int

const (
	createMaster  masterMissing = iota // create a key file, and say where
	requireMaster                      // fail
	skipKeys                           // return no keyring: there are no keys
)

// openKeyring opens the key store, binds it to the FaceVault store storeID
// (a key store of another store is refused), and reads the master keys:
// from FACEVAULT_MASTER_KEY, or from the master key file. When neither
// exists and the key store was never used, it does as missing says (on
// createMaster, it tells out where the new key file is); a key store in use
// without its master key is refused, with nothing changed.
func (k *keyFlags) openKeyring(ctx context.Context, s *storeFlags, storeID string, missing masterMissing, out io.Writer) (*openedKeyring, error) {
	url := k.keysURL(s)
	db, err := keyring.Open(ctx, url)
	if err != nil {
		return nil, err
	}
	fail := func(err error) (*openedKeyring, error) {
		db.Close()
		return nil, err
	}
	if storeID != "" {
		bound, err := db.BindStoreID(ctx, storeID)
		if err != nil {
			return fail(err)
		}
		if bound != storeID {
			return fail(fmt.Errorf("the key store %s belongs to FaceVault store %s, not to this one (%s): is --keys right? Nothing was changed",
				redact(url), bound, storeID))
		}
	}
	masters, reload, err := k.masters(ctx, s, db, missing, out)
	if err != nil {
		return fail(err)
	}
	if masters == nil {
		db.Close()
		return nil, nil
	}
	kr, err := keyring.New(ctx, db, masters)
	if err != nil {
		return fail(err)
	}
	kr.Reload = reload
	if reload != nil {
		kr.ReloadEvery = reloadEvery
	}
	return &openedKeyring{Keyring: kr, db: db}, nil
}

// masters reads the configured master keys, creating a key file as
// openKeyring says, and returns a function that reads them again.
func (k *keyFlags) masters(ctx context.Context, s *storeFlags, db *keyring.DB, missing masterMissing, out io.Writer) ([]keyring.Master, func() ([]keyring.Master, error), error) {
	if text, ok := os.LookupEnv(masterKeyEnv); ok {
		if *k.masterKeyFile != "" {
			return nil, nil, fmt.Errorf("%w: both %s and --master-key-file are set: give the master key one way", errUsage, masterKeyEnv)
		}
		ms, err := keyring.ParseMasterKeys([]byte(strings.ReplaceAll(text, ",", "\n")), masterKeyEnv)
		if err != nil {
			return nil, nil, err
		}
		return asMasters(ms), nil, nil
	}
	path := k.masterPath(s)
	read := func() ([]keyring.Master, error) {
		ms, err := keyring.ReadMasterFile(path)
		return asMasters(ms), err
	}
	ms, err := read()
	if err == nil {
		return ms, read, nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return nil, nil, err
	}
	used, uerr := db.Used(ctx)
	if uerr != nil {
		return nil, nil, uerr
	}
	if used {
		return nil, nil, fmt.Errorf("the key store %s is in use, and its master key is missing: %s does not exist and %s is not set. "+
			"Give FaceVault the master key it was set up with (--master-key-file or %s); nothing was changed",
			db, path, masterKeyEnv, masterKeyEnv)
	}
	if missing == skipKeys {
		return nil, nil, nil
	}
	if missing == requireMaster {
		return nil, nil, fmt.Errorf("no master key: %s does not exist and %s is not set (serve creates one on first start)", path, masterKeyEnv)
	}
	text, err := keyring.NewMasterKeyText()
	if err != nil {
		return nil, nil, err
	}
	if err := keyring.WriteMasterFile(path, []string{text}, true); err != nil {
		return nil, nil, err
	}
	fmt.Fprintf(out, "Created a master key in %s: it encrypts every key that encrypts a photo.\n"+
		"Back it up now, apart from the data and from the key store (%s): without it no photo can be read.\n"+
		"Better still, move it off this disk and give it to FaceVault with --master-key-file or %s.\n", path, db, masterKeyEnv)
	ms, err = read()
	return ms, read, err
}

func asMasters(ms []*keyring.LocalMaster) []keyring.Master {
	out := make([]keyring.Master, len(ms))
	for i, m := range ms {
		out[i] = m
	}
	return out
}

// reloadEvery is how often a running node rereads its master key file
// before it makes a client key, to take up a rotation.
const reloadEvery = 10 * time.Second

// KeysRotateMasterCommand rotates the master key: it makes a new key,
// puts it first in the master key file (the old one stays, second, for
// reading), and rewraps every client key with it. Images and their data
// keys are not touched, and serve keeps running: nodes pick the new key up
// from the file when they meet a key wrapped by it, or within seconds.
type KeysRotateMasterCommand struct {
	Stdout, Stderr io.Writer
}

// Run executes the command.
func (c *KeysRotateMasterCommand) Run(ctx context.Context, args []string) error {
	fs := newFlagSet("keys rotate-master", c.Stderr)
	stores := addStoreFlags(fs)
	keyFlags := addKeyFlags(fs)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("%w: unexpected argument %q", errUsage, fs.Arg(0))
	}
	if _, ok := os.LookupEnv(masterKeyEnv); ok {
		// The keys are where the operator put them: the new one first.
		keys, err := keyFlags.openKeyring(ctx, stores, "", requireMaster, c.Stdout)
		if err != nil {
			return err
		}
		defer keys.close()
		return c.rotate(ctx, keys, masterKeyEnv)
	}
	path := keyFlags.masterPath(stores)
	old, err := readKeyLines(path)
	if err != nil {
		return err
	}
	// Check the file is the store's before changing it.
	keys, err := keyFlags.openKeyring(ctx, stores, "", requireMaster, c.Stdout)
	if err != nil {
		return err
	}
	keys.close()
	fresh, err := keyring.NewMasterKeyText()
	if err != nil {
		return err
	}
	if err := keyring.WriteMasterFile(path, append([]string{fresh}, old...), false); err != nil {
		return err
	}
	if keys, err = keyFlags.openKeyring(ctx, stores, "", requireMaster, c.Stdout); err != nil {
		return err
	}
	defer keys.close()
	return c.rotate(ctx, keys, path)
}

func (c *KeysRotateMasterCommand) rotate(ctx context.Context, keys *openedKeyring, where string) error {
	res, err := keys.Rotate(ctx)
	if err != nil {
		return err
	}
	fmt.Fprintf(c.Stdout, "Rewrapped %d client keys with master key %s (from %s).\n", res.Rewrapped, keys.CurrentMaster(), where)
	if res.Remaining > 0 {
		fmt.Fprintf(c.Stdout, "%d client keys are still wrapped by an older master key (made meanwhile by a node that had not read the new key yet): run rotate-master again in a minute.\n", res.Remaining)
		return nil
	}
	fmt.Fprintf(c.Stdout, "No client key is wrapped by an older master key. Once every node has read %s, 'facevault keys retire-master ID' removes an old key.\n", where)
	return nil
}

// KeysRetireMasterCommand removes an old master key once no client key is
// wrapped by it: from the key store's checks, and from the master key file.
type KeysRetireMasterCommand struct {
	Stdout, Stderr io.Writer
}

// Run executes the command.
func (c *KeysRetireMasterCommand) Run(ctx context.Context, args []string) error {
	fs := newFlagSet("keys retire-master", c.Stderr)
	stores := addStoreFlags(fs)
	keyFlags := addKeyFlags(fs)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return fmt.Errorf("%w: give the id of the master key to retire", errUsage)
	}
	id := fs.Arg(0)
	keys, err := keyFlags.openKeyring(ctx, stores, "", requireMaster, c.Stdout)
	if err != nil {
		return err
	}
	defer keys.close()
	if err := keys.Retire(ctx, id); err != nil {
		return err
	}
	if _, ok := os.LookupEnv(masterKeyEnv); ok {
		fmt.Fprintf(c.Stdout, "Retired master key %s: remove it from %s.\n", id, masterKeyEnv)
		return nil
	}
	path := keyFlags.masterPath(stores)
	lines, err := readKeyLines(path)
	if err != nil {
		return err
	}
	var kept []string
	for _, line := range lines {
		ms, err := keyring.ParseMasterKeys([]byte(line), path)
		if err != nil {
			return err
		}
		if ms[0].ID() != id {
			kept = append(kept, line)
		}
	}
	if err := keyring.WriteMasterFile(path, kept, false); err != nil {
		return err
	}
	fmt.Fprintf(c.Stdout, "Retired master key %s and removed it from %s.\n", id, path)
	return nil
}

// readKeyLines returns the key lines of a master key file, checked.
func readKeyLines(path string) ([]string, error) {
	if _, err := keyring.ReadMasterFile(path); err != nil {
		return nil, err
	}
	text, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("master key file: %w", err)
	}
	var lines []string
	for _, line := range strings.Split(string(text), "\n") {
		if line = strings.TrimSpace(line); line != "" && !strings.HasPrefix(line, "#") {
			lines = append(lines, line)
		}
	}
	return lines, nil
}

// KeysNewMasterCommand prints a new random master key, for operators who
// give it in FACEVAULT_MASTER_KEY or a secret manager.
type KeysNewMasterCommand struct {
	Stdout, Stderr io.Writer
}

// Run executes the command.
func (c *KeysNewMasterCommand) Run(_ context.Context, args []string) error {
	fs := newFlagSet("keys new-master", c.Stderr)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("%w: unexpected argument %q", errUsage, fs.Arg(0))
	}
	text, err := keyring.NewMasterKeyText()
	if err != nil {
		return err
	}
	fmt.Fprintln(c.Stdout, text)
	return nil
}
