package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/facevault/facevault"
	"github.com/facevault/facevault/fsblob"
	"github.com/facevault/facevault/internal/testimage"
)

var (
	testKeyRE = regexp.MustCompile(`^test_[0-9A-Za-z]{40}$`)
	liveKeyRE = regexp.MustCompile(`^live_[0-9A-Za-z]{40}$`)
	// anyKeyRE finds secrets anywhere in a text.
	anyKeyRE = regexp.MustCompile(`(?:test|live)_[0-9A-Za-z]{40}`)
	// createdRE is the first line keys create prints.
	createdRE = regexp.MustCompile(`^Created (test|live) key ([0-9a-f]{24}) for account "([^"]*)"\.`)
)

// clearEnv removes every FACEVAULT_* variable for the duration of the test,
// so that the machine's environment cannot change what a command does.
func clearEnv(t *testing.T) {
	t.Helper()
	for _, kv := range os.Environ() {
		name, _, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(name, "FACEVAULT_") {
			t.Setenv(name, "") // restores the old value when the test ends
			os.Unsetenv(name)
		}
	}
}

// runCLI runs a command line as main does and returns what it printed.
func runCLI(t *testing.T, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	var out, errOut bytes.Buffer
	err = run(ctx, args, &out, &errOut)
	return out.String(), errOut.String(), err
}

// mustRun runs a command line that must succeed and returns its stdout.
func mustRun(t *testing.T, args ...string) string {
	t.Helper()
	stdout, stderr, err := runCLI(t, args...)
	if err != nil {
		t.Fatalf("facevault %s: %v\nstderr:\n%s", strings.Join(args, " "), err, stderr)
	}
	return stdout
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	return lines[len(lines)-1]
}

// createdKey is what keys create reported.
type createdKey struct {
	secret, id, mode, account string
}

// keysCreate runs keys create with args and checks its output: a first line
// naming the key, and the secret as the last line.
func keysCreate(t *testing.T, args ...string) createdKey {
	t.Helper()
	out := mustRun(t, append([]string{"keys", "create"}, args...)...)
	m := createdRE.FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("keys create printed %q, want a first line matching %s", out, createdRE)
	}
	k := createdKey{secret: lastLine(out), mode: m[1], id: m[2], account: m[3]}
	if !strings.HasPrefix(k.secret, k.mode+"_") {
		t.Fatalf("keys create: last line %q does not start with %q", k.secret, k.mode+"_")
	}
	return k
}

// assertUsageError checks that err is a usage error: exit code 2.
func assertUsageError(t *testing.T, err error) {
	t.Helper()
	if err == nil {
		t.Fatalf("got no error, want a usage error")
	}
	if got := exitCode(err); got != 2 {
		t.Fatalf("exit code of %q: got %d, want 2 (usage)", err, got)
	}
}

// keyRow is one line of keys list.
type keyRow struct {
	id, account, mode, hint, status string
}

// keysList runs keys list and parses its table.
func keysList(t *testing.T, args ...string) (map[string]keyRow, string) {
	t.Helper()
	out := mustRun(t, append([]string{"keys", "list"}, args...)...)
	lines := strings.Split(strings.TrimRight(out, "\n"), "\n")
	if got := strings.Fields(lines[0]); strings.Join(got, " ") != "ID ACCOUNT MODE KEY CREATED STATUS" {
		t.Fatalf("keys list header: got %q, want ID ACCOUNT MODE KEY CREATED STATUS", lines[0])
	}
	rows := map[string]keyRow{}
	for _, line := range lines[1:] {
		f := strings.Fields(line)
		if len(f) < 6 {
			t.Fatalf("keys list line %q has %d fields, want at least 6", line, len(f))
		}
		if _, err := time.Parse(time.RFC3339, f[4]); err != nil {
			t.Errorf("keys list line %q: CREATED %q is not RFC 3339: %v", line, f[4], err)
		}
		rows[f[0]] = keyRow{id: f[0], account: f[1], mode: f[2], hint: f[3], status: strings.Join(f[5:], " ")}
	}
	return rows, out
}

func TestKeysCreateListRevoke(t *testing.T) {
	clearEnv(t)
	dir := filepath.Join(t.TempDir(), "missing", "data")

	test := keysCreate(t, "--data", dir, "--mode", "test")
	if !testKeyRE.MatchString(test.secret) {
		t.Errorf("test key: got %q, want a match of %s", test.secret, testKeyRE)
	}
	if test.account != "default" {
		t.Errorf("test key account: got %q, want %q", test.account, "default")
	}
	if _, err := os.Stat(filepath.Join(dir, "facevault.db")); err != nil {
		t.Fatalf("keys create did not create the store in the missing directory: %v", err)
	}
	live := keysCreate(t, "--data", dir, "--mode", "live", "--account", "acme")
	if !liveKeyRE.MatchString(live.secret) {
		t.Errorf("live key: got %q, want a match of %s", live.secret, liveKeyRE)
	}
	if live.account != "acme" || live.mode != "live" {
		t.Errorf("live key: got account %q mode %q, want acme live", live.account, live.mode)
	}
	if test.id == live.id || test.secret == live.secret {
		t.Fatalf("two keys share an id or secret: %+v %+v", test, live)
	}

	// The keys authenticate against the store, each in its own scope.
	ctx := t.Context()
	db, err := openDB(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	testScope, err := facevault.Authenticate(ctx, db, test.secret)
	if err != nil {
		t.Fatalf("authenticate the test key: %v", err)
	}
	liveScope, err := facevault.Authenticate(ctx, db, live.secret)
	if err != nil {
		t.Fatalf("authenticate the live key: %v", err)
	}
	if testScope.Mode != facevault.ModeTest || liveScope.Mode != facevault.ModeLive || testScope.AccountID == liveScope.AccountID {
		t.Errorf("scopes: got %+v and %+v, want test and live modes in two accounts", testScope, liveScope)
	}
	db.Close()

	rows, out := keysList(t, "--data", dir)
	for _, secret := range []string{test.secret, live.secret} {
		if strings.Contains(out, secret) {
			t.Errorf("keys list shows the secret %q:\n%s", secret, out)
		}
		if strings.Contains(out, secret[len(secret)-20:]) {
			t.Errorf("keys list shows the tail of the secret %q:\n%s", secret, out)
		}
	}
	if m := anyKeyRE.FindAllString(out, -1); len(m) != 0 {
		t.Errorf("keys list shows secrets %q", m)
	}
	want := map[string]keyRow{
		test.id: {id: test.id, account: "default", mode: "test", hint: test.secret[:9] + "…", status: "active"},
		live.id: {id: live.id, account: "acme", mode: "live", hint: live.secret[:9] + "…", status: "active"},
	}
	if len(rows) != len(want) {
		t.Errorf("keys list: got %d keys, want %d:\n%s", len(rows), len(want), out)
	}
	for id, w := range want {
		if got := rows[id]; got != w {
			t.Errorf("keys list row of %s: got %+v, want %+v", id, got, w)
		}
	}

	out = mustRun(t, "keys", "revoke", "--data", dir, test.id)
	if want := "Revoked key " + test.id + ". Running nodes refuse it within their --key-cache-ttl (30s by default).\n"; out != want {
		t.Errorf("keys revoke printed %q, want %q", out, want)
	}
	rows, out = keysList(t, "--data", dir)
	if got := rows[test.id].status; !strings.HasPrefix(got, "revoked ") {
		t.Errorf("status of the revoked key: got %q, want \"revoked <time>\"\n%s", got, out)
	} else if _, err := time.Parse(time.RFC3339, strings.TrimPrefix(got, "revoked ")); err != nil {
		t.Errorf("revocation time %q is not RFC 3339: %v", got, err)
	}
	if got := rows[live.id].status; got != "active" {
		t.Errorf("status of the other key: got %q, want active", got)
	}
	db, err = openDB(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := facevault.Authenticate(ctx, db, test.secret); facevault.ErrorCode(err) != facevault.EUnauthorized {
		t.Errorf("authenticate a revoked key: got %v, want %s", err, facevault.EUnauthorized)
	}
	// Revoking again is allowed and changes nothing.
	mustRun(t, "keys", "revoke", "--data", dir, test.id)

	t.Run("unknown id", func(t *testing.T) {
		unknown := facevault.NewID(time.Now())
		_, _, err := runCLI(t, "keys", "revoke", "--data", dir, unknown)
		if err == nil {
			t.Fatalf("revoking an unknown id succeeded, want an error")
		}
		if !strings.Contains(err.Error(), unknown) {
			t.Errorf("error %q does not name the id %s", err, unknown)
		}
		if got := exitCode(err); got != 1 {
			t.Errorf("exit code: got %d, want 1", got)
		}
	})
	t.Run("no id", func(t *testing.T) {
		_, _, err := runCLI(t, "keys", "revoke", "--data", dir)
		assertUsageError(t, err)
	})
}

func TestKeysCreateUsageErrors(t *testing.T) {
	clearEnv(t)
	for _, tc := range []struct {
		name string
		args []string
	}{
		{"bogus mode", []string{"--mode", "bogus"}},
		{"missing mode", nil},
		{"upper-case mode", []string{"--mode", "TEST"}},
		{"empty account", []string{"--mode", "test", "--account", ""}},
		{"extra argument", []string{"--mode", "test", "extra"}},
		{"unknown flag", []string{"--mode", "test", "--colour", "blue"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "data")
			args := append([]string{"keys", "create", "--data", dir}, tc.args...)
			stdout, _, err := runCLI(t, args...)
			assertUsageError(t, err)
			if m := anyKeyRE.FindString(stdout); m != "" {
				t.Errorf("a refused keys create printed a key %q", m)
			}
			if _, err := os.Stat(dir); !errors.Is(err, fs.ErrNotExist) {
				t.Errorf("a refused keys create touched the data directory: stat got %v, want ErrNotExist", err)
			}
		})
	}
}

func TestCommandDispatch(t *testing.T) {
	clearEnv(t)
	for _, tc := range []struct {
		name     string
		args     []string
		wantCode int // 0: success
	}{
		{"no command", nil, 2},
		{"unknown command", []string{"frobnicate"}, 2},
		{"keys without subcommand", []string{"keys"}, 2},
		{"unknown keys subcommand", []string{"keys", "destroy"}, 2},
		{"-h of a command", []string{"keys", "list", "-h"}, 2},
		{"help", []string{"help"}, 0},
		{"--help", []string{"--help"}, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			stdout, stderr, err := runCLI(t, tc.args...)
			if tc.wantCode == 0 {
				if err != nil {
					t.Fatalf("got %v, want success", err)
				}
				if !strings.Contains(stdout, "Usage: facevault") {
					t.Errorf("stdout %q does not hold the usage text", stdout)
				}
				return
			}
			if err == nil {
				t.Fatalf("got success, want exit code %d", tc.wantCode)
			}
			if got := exitCode(err); got != tc.wantCode {
				t.Errorf("exit code: got %d, want %d", got, tc.wantCode)
			}
			if !strings.Contains(stderr, "Usage: facevault") {
				t.Errorf("stderr %q does not hold the usage text", stderr)
			}
		})
	}
}

func TestEnvironment(t *testing.T) {
	t.Run("data and mode from the environment", func(t *testing.T) {
		clearEnv(t)
		dir := filepath.Join(t.TempDir(), "envdata")
		t.Setenv("FACEVAULT_DATA", dir)
		t.Setenv("FACEVAULT_MODE", "live")
		k := keysCreate(t)
		if !liveKeyRE.MatchString(k.secret) {
			t.Errorf("key: got %q, want a live key (FACEVAULT_MODE=live)", k.secret)
		}
		if _, err := os.Stat(filepath.Join(dir, "facevault.db")); err != nil {
			t.Errorf("FACEVAULT_DATA was not used: %v", err)
		}
		if rows, out := keysList(t); rows[k.id].mode != "live" {
			t.Errorf("keys list with FACEVAULT_DATA does not show the key %s:\n%s", k.id, out)
		}
	})

	t.Run("flags win over the environment", func(t *testing.T) {
		clearEnv(t)
		envDir := filepath.Join(t.TempDir(), "env")
		flagDir := filepath.Join(t.TempDir(), "flag")
		t.Setenv("FACEVAULT_DATA", envDir)
		t.Setenv("FACEVAULT_MODE", "live")
		k := keysCreate(t, "--data", flagDir, "--mode", "test")
		if !testKeyRE.MatchString(k.secret) {
			t.Errorf("key: got %q, want a test key (--mode test over FACEVAULT_MODE=live)", k.secret)
		}
		if _, err := os.Stat(filepath.Join(flagDir, "facevault.db")); err != nil {
			t.Errorf("--data was not used: %v", err)
		}
		if _, err := os.Stat(envDir); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("FACEVAULT_DATA was used despite --data: stat got %v, want ErrNotExist", err)
		}
	})

	t.Run("invalid mode in the environment", func(t *testing.T) {
		clearEnv(t)
		t.Setenv("FACEVAULT_DATA", t.TempDir())
		t.Setenv("FACEVAULT_MODE", "bogus")
		_, _, err := runCLI(t, "keys", "create")
		assertUsageError(t, err)
	})

	t.Run("invalid serve variable", func(t *testing.T) {
		clearEnv(t)
		dir := filepath.Join(t.TempDir(), "data")
		t.Setenv("FACEVAULT_MAX_UPLOADS", "abc")
		stdout, _, err := runCLI(t, "serve", "--data", dir, "--addr", "127.0.0.1:0")
		if err == nil {
			t.Fatalf("serve with FACEVAULT_MAX_UPLOADS=abc succeeded, want an error")
		}
		if !strings.Contains(err.Error(), "FACEVAULT_MAX_UPLOADS") || !strings.Contains(err.Error(), `"abc"`) {
			t.Errorf("error %q does not name FACEVAULT_MAX_UPLOADS and its value", err)
		}
		assertUsageError(t, err)
		if stdout != "" {
			t.Errorf("serve printed %q, want nothing", stdout)
		}
		if _, err := os.Stat(dir); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("serve touched the data directory: stat got %v, want ErrNotExist", err)
		}
	})

	t.Run("invalid trusted proxies variable", func(t *testing.T) {
		clearEnv(t)
		dir := filepath.Join(t.TempDir(), "data")
		t.Setenv("FACEVAULT_TRUSTED_PROXIES", "10.0.0.0/8,lb.internal")
		_, _, err := runCLI(t, "serve", "--data", dir, "--addr", "127.0.0.1:0")
		assertUsageError(t, err)
		if err == nil || !strings.Contains(err.Error(), "FACEVAULT_TRUSTED_PROXIES") || !strings.Contains(err.Error(), "lb.internal") {
			t.Errorf("error %v does not name FACEVAULT_TRUSTED_PROXIES and its value", err)
		}
		if _, err := os.Stat(dir); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("serve touched the data directory: stat got %v, want ErrNotExist", err)
		}
	})

	t.Run("serve configured by the environment only", func(t *testing.T) {
		clearEnv(t)
		dir := filepath.Join(t.TempDir(), "data")
		t.Setenv("FACEVAULT_DATA", dir)
		t.Setenv("FACEVAULT_ADDR", "127.0.0.1:0")
		t.Setenv("FACEVAULT_LOG_FORMAT", "json")
		s := startServe(t)
		keys := s.bootstrapKeys(t)
		if status, body := s.do(t, "GET", "/v1/clients", keys.test, nil); status != http.StatusOK {
			t.Errorf("GET /v1/clients: got %d %s, want 200", status, body)
		}
		if _, err := os.Stat(filepath.Join(dir, "facevault.db")); err != nil {
			t.Errorf("FACEVAULT_DATA was not used: %v", err)
		}
		s.stop(t)
		for _, line := range strings.Split(strings.TrimSpace(s.stderr.String()), "\n") {
			var v map[string]any
			if err := json.Unmarshal([]byte(line), &v); err != nil || v["msg"] == nil {
				t.Errorf("log line %q is not a JSON record (FACEVAULT_LOG_FORMAT=json): %v", line, err)
			}
		}
	})
}

// withDataDir adds a --data of the test's own to args that name none (the
// PostgreSQL and S3 ones): --data also names the key directory, where a
// first start writes the bootstrap keys, and its default is relative to
// the working directory, the package's source.
func withDataDir(t testing.TB, args []string) []string {
	if os.Getenv("FACEVAULT_DATA") != "" {
		return args // the test sets it so
	}
	for _, a := range args {
		if a == "--data" || strings.HasPrefix(a, "--data=") {
			return args
		}
	}
	return append(slices.Clone(args), "--data", t.TempDir())
}

// server is a serve command running in a goroutine.
type server struct {
	addr           string
	stdout, stderr *lockedBuffer
	cancel         context.CancelFunc
	cancelledAt    time.Time
	done           chan error
	returned       bool // Run has returned and was checked
	client         *http.Client
}

// serveArgs are the flags that run serve on dir and a free port.
func serveArgs(dir string) []string {
	return []string{"--data", dir, "--addr", "127.0.0.1:0"}
}

// startServe runs ServeCommand.Run with args until it listens. The server
// is stopped when the test ends, if the test has not stopped it.
func startServe(t *testing.T, args ...string) *server {
	t.Helper()
	args = withDataDir(t, args)
	ctx, cancel := context.WithCancel(context.Background())
	s := &server{
		stdout: &lockedBuffer{},
		stderr: &lockedBuffer{},
		cancel: cancel,
		done:   make(chan error, 1),
		client: &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{}},
	}
	addrc := make(chan string, 1)
	cmd := &ServeCommand{Stdout: s.stdout, Stderr: s.stderr, OnListen: func(addr string) { addrc <- addr }}
	go func() { s.done <- cmd.Run(ctx, args) }()
	t.Cleanup(func() { s.stop(t) })
	select {
	case s.addr = <-addrc:
	case err := <-s.done:
		s.returned = true
		t.Fatalf("serve exited before listening: %v\nlog:\n%s", err, s.stderr)
	case <-time.After(10 * time.Second):
		t.Fatalf("serve did not listen within 10s\nlog:\n%s", s.stderr)
	}
	return s
}

// shutdown cancels the server's context without waiting.
func (s *server) shutdown() {
	if s.cancelledAt.IsZero() {
		s.cancelledAt = time.Now()
		s.cancel()
	}
}

// stop cancels the server's context, if that is not done yet, and checks
// that Run returns nil promptly.
func (s *server) stop(t *testing.T) {
	t.Helper()
	if s.returned {
		return
	}
	s.returned = true
	s.shutdown()
	// The client's transport may hold a connection it dialled but never
	// sent a request on; net/http's Shutdown waits up to 5 s for such a
	// new connection before it counts as idle. Close the client's own idle
	// connections now, as a client going away would.
	s.client.CloseIdleConnections()
	select {
	case err := <-s.done:
		if err != nil {
			t.Errorf("serve returned %v after cancellation, want nil", err)
		}
		if d := time.Since(s.cancelledAt); d > 3*time.Second {
			t.Errorf("serve took %v to return after cancellation, want well under 3s", d)
		}
	case <-time.After(10 * time.Second):
		t.Errorf("serve did not return within 10s of cancellation")
	}
	if t.Failed() {
		t.Logf("serve log:\n%s", s.stderr)
	}
}

// do sends a request with the key as Authorization ("" sends none) and body
// as JSON (nil sends none), and returns the status and the response body.
func (s *server) do(t *testing.T, method, path, key string, body any) (int, []byte) {
	t.Helper()
	var r io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			t.Fatal(err)
		}
		r = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(t.Context(), method, "http://"+s.addr+path, r)
	if err != nil {
		t.Fatal(err)
	}
	if key != "" {
		req.Header.Set("Authorization", key)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := s.client.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: read body: %v", method, path, err)
	}
	return resp.StatusCode, b
}

// decode decodes a JSON response body into v.
func decode(t *testing.T, body []byte, v any) {
	t.Helper()
	if err := json.Unmarshal(body, v); err != nil {
		t.Fatalf("response %q is not the JSON expected: %v", body, err)
	}
}

// bootKeys are the keys serve prints on first start.
type bootKeys struct{ test, live string }

var bootKeyLineRE = regexp.MustCompile(`(?m)^  (test|live) key: (\S+)$`)

// bootKeysPathRE finds the file serve names on first start.
var bootKeysPathRE = regexp.MustCompile(`written to (\S+) \(readable by this user only\)`)

// bootstrapKeys checks what serve wrote on first start: standard output
// (not a terminal) names a file and shows no key; the file, readable by
// its owner only, holds exactly one test key and one live key, and a usage
// line. It returns the keys.
func (s *server) bootstrapKeys(t *testing.T) bootKeys {
	t.Helper()
	printed := s.stdout.String()
	if m := anyKeyRE.FindString(printed); m != "" {
		t.Fatalf("serve printed a key, %q, to an output that is not a terminal:\n%s", m, printed)
	}
	pm := bootKeysPathRE.FindStringSubmatch(printed)
	if pm == nil {
		t.Fatalf("serve did not say where it wrote the first keys:\n%s", printed)
	}
	fi, err := os.Stat(pm[1])
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("%s has mode %v, want 0600", pm[1], fi.Mode().Perm())
	}
	data, err := os.ReadFile(pm[1])
	if err != nil {
		t.Fatal(err)
	}
	out := string(data)
	var k bootKeys
	lines := bootKeyLineRE.FindAllStringSubmatch(out, -1)
	if len(lines) != 2 {
		t.Fatalf("serve printed %d key lines, want 2 (one test, one live):\n%s", len(lines), out)
	}
	for _, m := range lines {
		switch m[1] {
		case "test":
			k.test = m[2]
		case "live":
			k.live = m[2]
		}
	}
	if !testKeyRE.MatchString(k.test) {
		t.Fatalf("test key: got %q, want a match of %s:\n%s", k.test, testKeyRE, out)
	}
	if !liveKeyRE.MatchString(k.live) {
		t.Fatalf("live key: got %q, want a match of %s:\n%s", k.live, liveKeyRE, out)
	}
	// No other secret anywhere in the output.
	for _, m := range anyKeyRE.FindAllString(out, -1) {
		if m != k.test && m != k.live {
			t.Errorf("serve printed a third key %q:\n%s", m, out)
		}
	}
	usage := fmt.Sprintf("curl -H 'Authorization: %s' http://%s/v1/clients", k.test, s.addr)
	if !strings.Contains(out, usage) {
		t.Errorf("serve output lacks the usage line %q:\n%s", usage, out)
	}
	return k
}

// createClient creates a person client and returns its id.
func (s *server) createClient(t *testing.T, key string) string {
	t.Helper()
	status, body := s.do(t, "POST", "/v1/clients", key, map[string]any{
		"type":          "person",
		"email":         "ada@example.com",
		"personDetails": map[string]string{"firstName": "Ada", "lastName": "Lovelace"},
	})
	if status != http.StatusOK {
		t.Fatalf("POST /v1/clients: got %d %s, want 200", status, body)
	}
	var c struct{ ID string }
	decode(t, body, &c)
	if !facevault.ValidID(c.ID) {
		t.Fatalf("POST /v1/clients: id %q is not an object id", c.ID)
	}
	return c.ID
}

// uploadPhoto uploads img as a live photo of the client and returns its id.
func (s *server) uploadPhoto(t *testing.T, key, clientID string, img []byte) string {
	t.Helper()
	status, body := s.do(t, "POST", "/v1/livePhotos", key, map[string]any{
		"clientId": clientID,
		"data":     base64.StdEncoding.EncodeToString(img),
	})
	if status != http.StatusOK {
		t.Fatalf("POST /v1/livePhotos: got %d %s, want 200", status, body)
	}
	var p struct {
		ID   string
		Size int
	}
	decode(t, body, &p)
	if !facevault.ValidID(p.ID) || p.Size != len(img) {
		t.Fatalf("POST /v1/livePhotos: got id %q size %d, want an object id and size %d", p.ID, p.Size, len(img))
	}
	return p.ID
}

// download fetches a live photo's image bytes.
func (s *server) download(t *testing.T, key, id string) []byte {
	t.Helper()
	status, body := s.do(t, "GET", "/v1/livePhotos/"+id+"/download", key, nil)
	if status != http.StatusOK {
		t.Fatalf("download %s: got %d %s, want 200", id, status, body)
	}
	var d struct{ Data string }
	decode(t, body, &d)
	b, err := base64.StdEncoding.DecodeString(d.Data)
	if err != nil {
		t.Fatalf("download %s: data is not base64: %v", id, err)
	}
	return b
}

// assertAuthorized checks that key can list clients.
func (s *server) assertAuthorized(t *testing.T, name, key string) {
	t.Helper()
	status, body := s.do(t, "GET", "/v1/clients", key, nil)
	if status != http.StatusOK {
		t.Errorf("GET /v1/clients with the %s: got %d %s, want 200", name, status, body)
		return
	}
	var list struct{ TotalItems *int }
	decode(t, body, &list)
	if list.TotalItems == nil {
		t.Errorf("GET /v1/clients with the %s: body %s is not a list", name, body)
	}
}

// assertUnauthorized checks that key is refused with the contract's 401.
func (s *server) assertUnauthorized(t *testing.T, name, key string) {
	t.Helper()
	status, body := s.do(t, "GET", "/v1/clients", key, nil)
	if status != http.StatusUnauthorized {
		t.Errorf("GET /v1/clients with %s: got %d %s, want 401", name, status, body)
		return
	}
	var e struct{ Type, Message string }
	decode(t, body, &e)
	if e.Type != "unauthorized" || e.Message != "The 'Authorization' header is invalid" {
		t.Errorf("GET /v1/clients with %s: got body %s, want the contract's 401", name, body)
	}
}

// blobFile is where the data directory keeps a live photo's bytes.
func blobFile(dir, id string) string {
	return filepath.Join(dir, "blobs", id[len(id)-2:], id)
}

// plantOrphan writes image bytes with no record, as an upload that died
// between writing its bytes and committing its record leaves them.
func plantOrphan(t *testing.T, dir string) string {
	t.Helper()
	id := facevault.NewID(time.Now())
	path := blobFile(dir, id)
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte("orphaned image bytes"), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func assertGone(t *testing.T, path, what string) {
	t.Helper()
	if _, err := os.Stat(path); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("%s %s: stat got %v, want ErrNotExist", what, path, err)
	}
}

func assertFileBytes(t *testing.T, path string, want []byte) {
	t.Helper()
	got, err := os.ReadFile(path)
	if err != nil {
		t.Errorf("read %s: %v", path, err)
	} else if !bytes.Equal(got, want) {
		t.Errorf("%s holds %d bytes differing from the %d expected", path, len(got), len(want))
	}
}

func TestServeEndToEnd(t *testing.T) {
	clearEnv(t)
	dir := t.TempDir()
	const keyTTL = time.Second
	s := startServe(t, append(serveArgs(dir), "--key-cache-ttl", keyTTL.String())...)
	keys := s.bootstrapKeys(t)

	s.assertAuthorized(t, "printed test key", keys.test)
	s.assertAuthorized(t, "printed live key", keys.live)
	s.assertAuthorized(t, "printed test key with Bearer", "Bearer "+keys.test)
	s.assertUnauthorized(t, "a bogus key", "test_"+strings.Repeat("A", 40))
	s.assertUnauthorized(t, "no key", "")

	// Keys managed while serve runs take effect at once.
	made := keysCreate(t, "--data", dir, "--mode", "test", "--account", "acme")
	s.assertAuthorized(t, "key made by keys create while serving", made.secret)
	mustRun(t, "keys", "revoke", "--data", dir, made.id)
	// The node looked the key up just now: it remembers it for the key
	// cache's lifetime, and refuses it once that has passed.
	time.Sleep(keyTTL)
	s.assertUnauthorized(t, "a key revoked while serving, once the key cache's lifetime has passed", made.secret)

	// Test and live data are apart.
	clientID := s.createClient(t, keys.test)
	if status, body := s.do(t, "GET", "/v1/clients/"+clientID, keys.live, nil); status != http.StatusNotFound {
		t.Errorf("GET a test client with the live key: got %d %s, want 404", status, body)
	}

	s.stop(t)
	// Restart: keys are shown once only, and the old ones still work.
	s = startServe(t, serveArgs(dir)...)
	if out := s.stdout.String(); out != "" {
		t.Errorf("serve printed on restart:\n%s\nwant nothing (keys are shown once)", out)
	}
	s.assertAuthorized(t, "test key after restart", keys.test)
	s.assertAuthorized(t, "live key after restart", keys.live)
	s.assertUnauthorized(t, "the revoked key after restart", made.secret)
	if status, body := s.do(t, "GET", "/v1/clients/"+clientID, keys.test, nil); status != http.StatusOK {
		t.Errorf("GET the client after restart: got %d %s, want 200", status, body)
	}
	rows, out := keysList(t, "--data", dir)
	if len(rows) != 3 {
		t.Errorf("keys list after restart: got %d keys, want 3 (two printed, one made):\n%s", len(rows), out)
	}
}

// TestServeShutdownFinishesInFlightUpload cancels serve's context while an
// upload is half sent: graceful shutdown stops accepting connections but
// lets the upload finish, and the photo is there after a restart.
func TestServeShutdownFinishesInFlightUpload(t *testing.T) {
	clearEnv(t)
	dir := t.TempDir()
	s := startServe(t, serveArgs(dir)...)
	key := s.bootstrapKeys(t).test
	clientID := s.createClient(t, key)
	img := testimage.JPEG(256, 256, 1)
	body := []byte(`{"clientId":"` + clientID + `","data":"` + base64.StdEncoding.EncodeToString(img) + `"}`)

	pr, pw := io.Pipe()
	defer pw.Close()
	req, err := http.NewRequestWithContext(t.Context(), "POST", "http://"+s.addr+"/v1/livePhotos", pr)
	if err != nil {
		t.Fatal(err)
	}
	req.ContentLength = int64(len(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", key)
	type result struct {
		status int
		body   []byte
		err    error
	}
	resc := make(chan result, 1)
	go func() {
		resp, err := s.client.Do(req)
		if err != nil {
			resc <- result{err: err}
			return
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		resc <- result{resp.StatusCode, b, err}
	}()
	half := len(body) / 2
	wrote := make(chan error, 1)
	go func() { _, err := pw.Write(body[:half]); wrote <- err }()
	select {
	case err := <-wrote:
		if err != nil {
			t.Fatalf("send the first half: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the first half of the body was not taken within 5s")
	}
	// The handler runs once the upload's temporary file exists.
	waitFor(t, "the upload's temporary file", func() bool {
		entries, err := os.ReadDir(filepath.Join(dir, "blobs", "tmp"))
		return err == nil && len(entries) > 0
	})

	s.shutdown()
	waitFor(t, "the listener to close", func() bool {
		c, err := net.Dial("tcp", s.addr)
		if err != nil {
			return true
		}
		c.Close()
		return false
	})
	if _, err := pw.Write(body[half:]); err != nil {
		t.Fatalf("send the second half: %v", err)
	}
	pw.Close()
	var res result
	select {
	case res = <-resc:
	case <-time.After(10 * time.Second):
		t.Fatal("no response to the in-flight upload within 10s")
	}
	if res.err != nil || res.status != http.StatusOK {
		t.Fatalf("in-flight upload during shutdown: got %d %s %v, want 200", res.status, res.body, res.err)
	}
	var p struct{ ID string }
	decode(t, res.body, &p)
	s.stop(t)

	s = startServe(t, serveArgs(dir)...)
	if got := s.download(t, key, p.ID); !bytes.Equal(got, img) {
		t.Errorf("photo uploaded during shutdown: downloaded %d bytes differing from the %d uploaded", len(got), len(img))
	}
}

// waitFor polls cond for up to 5s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("gave up waiting for %s after 5s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

func TestServeCrashRecovery(t *testing.T) {
	clearEnv(t)
	dir := t.TempDir()
	s := startServe(t, serveArgs(dir)...)
	key := s.bootstrapKeys(t).test
	img := testimage.JPEG(256, 256, 1)
	photoID := s.uploadPhoto(t, key, s.createClient(t, key), img)
	if got := s.download(t, key, photoID); !bytes.Equal(got, img) {
		t.Fatalf("download before restart: got %d bytes differing from the %d uploaded", len(got), len(img))
	}
	s.stop(t)

	// What a crash leaves: committed bytes without a record, and a
	// temporary file.
	orphan := plantOrphan(t, dir)
	stray := filepath.Join(dir, "blobs", "tmp", photoID+".0123456789abcdef")
	if err := os.WriteFile(stray, []byte("half an upload"), 0o600); err != nil {
		t.Fatal(err)
	}

	s = startServe(t, serveArgs(dir)...)
	// The start-up sweep runs before serve listens.
	assertGone(t, orphan, "orphan image")
	assertGone(t, stray, "temporary file")
	assertSealedFile(t, dir, photoID, img)
	if got := s.download(t, key, photoID); !bytes.Equal(got, img) {
		t.Errorf("download after restart: got %d bytes differing from the %d uploaded", len(got), len(img))
	}
	if log := s.stderr.String(); !strings.Contains(log, "sweep removed orphan images") || !strings.Contains(log, "count=1") || !strings.Contains(log, "startup=true") {
		t.Errorf("serve log does not report one orphan removed at start-up:\n%s", log)
	}
}

// TestServePeriodicSweep runs serve with a short --sweep-interval: an image
// without a record older than the grace period goes, a recent one (an
// upload that may be in flight) stays.
func TestServePeriodicSweep(t *testing.T) {
	clearEnv(t)
	dir := t.TempDir()
	s := startServe(t, append(serveArgs(dir), "--sweep-interval", "10ms")...)
	key := s.bootstrapKeys(t).test
	img := testimage.JPEG(256, 256, 1)
	photoID := s.uploadPhoto(t, key, s.createClient(t, key), img)
	// The photo's file is as old as the orphan: only the record saves it.
	old := time.Now().Add(-sweepGrace - time.Minute)
	if err := os.Chtimes(blobFile(dir, photoID), old, old); err != nil {
		t.Fatal(err)
	}
	stale, recent := plantOrphan(t, dir), plantOrphan(t, dir)
	if err := os.Chtimes(stale, old, old); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the periodic sweep to remove the stale orphan", func() bool {
		_, err := os.Stat(stale)
		return errors.Is(err, fs.ErrNotExist)
	})
	if _, err := os.Stat(recent); err != nil {
		t.Errorf("the periodic sweep removed a recent image: %v", err)
	}
	if got := s.download(t, key, photoID); !bytes.Equal(got, img) {
		t.Errorf("download after the periodic sweep: got %d bytes differing from the %d uploaded", len(got), len(img))
	}
}

func TestSweepCommand(t *testing.T) {
	clearEnv(t)
	dir := t.TempDir()
	s := startServe(t, serveArgs(dir)...)
	key := s.bootstrapKeys(t).test
	img := testimage.JPEG(256, 256, 1)
	clientID := s.createClient(t, key)
	photoID := s.uploadPhoto(t, key, clientID, img)
	// Two orphans among five images: within what a sweep removes unforced
	// (facevault.SweepLimit).
	for range 2 {
		s.uploadPhoto(t, key, clientID, img)
	}
	s.stop(t)

	orphans := []string{plantOrphan(t, dir), plantOrphan(t, dir)}
	if out := mustRun(t, "sweep", "--data", dir); out != sweptOut(2) {
		t.Errorf("sweep printed %q, want %q", out, sweptOut(2))
	}
	for _, o := range orphans {
		assertGone(t, o, "orphan image")
	}
	assertSealedFile(t, dir, photoID, img)
	if out := mustRun(t, "sweep", "--data", dir); out != sweptOut(0) {
		t.Errorf("second sweep printed %q, want %q", out, sweptOut(0))
	}

	// While serve runs it owns the directory: sweep must refuse.
	s = startServe(t, serveArgs(dir)...)
	orphan := plantOrphan(t, dir)
	stdout, _, err := runCLI(t, "sweep", "--data", dir)
	if !errors.Is(err, fsblob.ErrLocked) {
		t.Fatalf("sweep while serve runs: got %v, want an error wrapping fsblob.ErrLocked", err)
	}
	if got := exitCode(err); got != 1 {
		t.Errorf("exit code: got %d, want 1", got)
	}
	if stdout != "" {
		t.Errorf("refused sweep printed %q, want nothing", stdout)
	}
	if _, err := os.Stat(orphan); err != nil {
		t.Errorf("refused sweep touched the image directory: %v", err)
	}
	if got := s.download(t, key, photoID); !bytes.Equal(got, img) {
		t.Errorf("download after the refused sweep: got %d bytes differing from the %d uploaded", len(got), len(img))
	}
}

// sweptOut is what sweep prints after moving n orphans to quarantine for
// the default time.
func sweptOut(n int) string {
	return fmt.Sprintf("Moved %d orphan images to quarantine for 168h0m0s ('facevault quarantine list' shows them).\n", n)
}

func TestServeTwiceOnOneDirectory(t *testing.T) {
	clearEnv(t)
	dir := t.TempDir()
	first := startServe(t, serveArgs(dir)...)
	keys := first.bootstrapKeys(t)

	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	var stdout, stderr lockedBuffer
	second := &ServeCommand{
		Stdout: &stdout,
		Stderr: &stderr,
		// Should the second serve start, stop it at once: the test fails
		// on its nil error below rather than hanging.
		OnListen: func(string) { cancel() },
	}
	err := second.Run(ctx, serveArgs(dir))
	if err == nil {
		t.Fatalf("a second serve on the same data directory succeeded, want an error")
	}
	if !errors.Is(err, fsblob.ErrLocked) || !strings.Contains(err.Error(), "in use by another process") {
		t.Errorf("second serve: got %q, want a lock error saying the directory is in use", err)
	}
	if got := exitCode(err); got != 1 {
		t.Errorf("exit code: got %d, want 1", got)
	}
	if out := stdout.String(); out != "" {
		t.Errorf("second serve printed %q, want nothing", out)
	}

	first.assertAuthorized(t, "test key on the first serve", keys.test)
	first.createClient(t, keys.test)
}

func TestServeBadFlags(t *testing.T) {
	clearEnv(t)
	for _, tc := range []struct {
		name      string
		args      []string
		wantUsage bool
		wantText  string
	}{
		{"unusable address", []string{"--addr", "not-an-address:xx"}, false, "not-an-address:xx"},
		{"unknown log format", []string{"--log-format", "xml"}, true, "--log-format"},
		{"unknown log level", []string{"--log-level", "loud"}, true, "--log-level"},
		{"extra argument", []string{"now"}, true, `"now"`},
		{"non-numeric flag value", []string{"--max-uploads", "abc"}, true, "max-uploads"},
		{"unknown flag", []string{"--colour", "blue"}, true, "colour"},
		{"no upload slot", []string{"--max-uploads", "0"}, true, "--max-uploads must be at least 1"},
		{"zero queue timeout", []string{"--upload-queue-timeout", "0s"}, true, "--upload-queue-timeout must be positive"},
		{"negative uploads per account", []string{"--max-uploads-per-account", "-1"}, true, "--max-uploads-per-account must not be negative"},
		{"negative uploads in flight", []string{"--max-uploads-in-flight", "-1"}, true, "--max-uploads-in-flight must not be negative"},
		{"per account above the default node bound", []string{"--max-uploads-per-account", "200"}, true,
			"--max-uploads-per-account (200) must not exceed --max-uploads-in-flight (128)"},
		{"per account above the node bound", []string{"--max-uploads-per-account", "10", "--max-uploads-in-flight", "5"}, true,
			"--max-uploads-per-account (10) must not exceed --max-uploads-in-flight (5)"},
		{"default per account above the node bound", []string{"--max-uploads", "32", "--max-uploads-in-flight", "20"}, true,
			"--max-uploads (32), the default of --max-uploads-per-account, must not exceed --max-uploads-in-flight (20)"},
		{"negative body rate", []string{"--min-body-rate", "-1"}, true, "--min-body-rate must not be negative"},
		{"body rate with a unit", []string{"--min-body-rate", "16KiB"}, true, "min-body-rate"},
		{"zero body grace", []string{"--body-grace", "0s"}, true, "--body-grace must be positive"},
		{"negative auth failure rate", []string{"--auth-failures-per-minute", "-1"}, true, "--auth-failures-per-minute must not be negative"},
		{"zero auth failure burst", []string{"--auth-failures-burst", "0"}, true, "--auth-failures-burst must be at least 1"},
		{"zero auth failure sources", []string{"--auth-failures-sources", "0"}, true, "--auth-failures-sources must be at least 1"},
		{"negative rate limit", []string{"--rate-limit", "-1"}, true, "--rate-limit must not be negative"},
		{"trusted proxy prefix too long", []string{"--trusted-proxies", "10.0.0.0/8,10.0.0.0/33"}, true, "trusted-proxies"},
		{"trusted proxy by name", []string{"--trusted-proxies", "lb.internal"}, true, "trusted-proxies"},
		{"zero purge interval", []string{"--purge-interval", "0s"}, true, "--purge-interval must be positive"},
		{"TLS certificate without a key", []string{"--tls-cert", "cert.pem"}, true, "--tls-cert and --tls-key go together"},
		{"TLS key without a certificate", []string{"--tls-key", "key.pem"}, true, "--tls-cert and --tls-key go together"},
		{"TLS files missing", []string{"--tls-cert", "/nonexistent/cert.pem", "--tls-key", "/nonexistent/key.pem"}, false, "load TLS certificate"},
		{"negative key cache lifetime", []string{"--key-cache-ttl", "-1s"}, true, "--key-cache-ttl must not be negative"},
		{"zero minimum age", []string{"--min-age", "0"}, true, "--min-age must be a whole number of years from 1 to 120"},
		{"minimum age too high", []string{"--min-age", "121"}, true, "--min-age must be a whole number of years from 1 to 120"},
		{"zero check interval", []string{"--check-interval", "0s"}, true, "--check-interval and --check-lease must be positive"},
		{"webhook allow list not hosts or prefixes", []string{"--webhook-allow", "10.0.0.0/33"}, true, "--webhook-allow"},
		{"webhook allow list with a URL", []string{"--webhook-allow", "http://x/"}, true, "--webhook-allow"},
		{"zero webhook timeout", []string{"--webhook-timeout", "0s"}, true, "--webhook-timeout and --webhook-interval must be positive"},
		{"zero webhook interval", []string{"--webhook-interval", "0s"}, true, "--webhook-timeout and --webhook-interval must be positive"},
		{"webhook lease within the timeout", []string{"--webhook-lease", "15s"}, true, "--webhook-lease must be longer than --webhook-timeout"},
		{"negative face index interval", []string{"--face-index-interval", "-1s"}, true, "--face-index-interval must not be negative"},
		{"zero face index rekey", []string{"--face-index-rekey", "0s"}, true, "--face-index-rekey must be positive"},
		{"negative face index cells", []string{"--face-index-cells", "-1"}, true, "--face-index-cells must not be negative"},
		{"zero face index minimum", []string{"--face-index-min-faces", "0"}, true, "--face-index-min-faces must be at least 1"},
		{"zero nprobe", []string{"--face-search-nprobe", "0"}, true, "face-search-nprobe"},
		{"nprobe not a number", []string{"--face-search-nprobe", "some"}, true, "face-search-nprobe"},
		{"face search cache over half the memory", []string{"--max-memory", "1GiB", "--face-search-cache", "513MiB"}, true, "--face-search-cache must be at most half of --max-memory"},
		{"face search cache not a size", []string{"--face-search-cache", "lots"}, true, "face-search-cache"},
		{"memory budget too small", []string{"--max-memory", "64MiB"}, true, "--max-memory must be at least 128MiB"},
		{"memory budget not a size", []string{"--max-memory", "lots"}, true, "max-memory"},
		{"memory budget in an unknown unit", []string{"--max-memory", "1TB"}, true, "max-memory"},
		{"negative memory budget", []string{"--max-memory", "-1GiB"}, true, "max-memory"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
			defer cancel()
			dir := t.TempDir()
			var stdout, stderr lockedBuffer
			cmd := &ServeCommand{Stdout: &stdout, Stderr: &stderr, OnListen: func(string) { cancel() }}
			err := cmd.Run(ctx, append([]string{"--data", dir}, tc.args...))
			if err == nil {
				t.Fatalf("serve %q succeeded, want an error", tc.args)
			}
			if !strings.Contains(err.Error(), tc.wantText) {
				t.Errorf("error %q does not mention %s", err, tc.wantText)
			}
			wantCode := 1
			if tc.wantUsage {
				wantCode = 2
			}
			if got := exitCode(err); got != wantCode {
				t.Errorf("exit code of %q: got %d, want %d", err, got, wantCode)
			}
			if out := stdout.String(); out != "" {
				t.Errorf("refused serve printed %q, want nothing", out)
			}
		})
	}
}

// --liveness-refusals decides whether a live key's upload with no face is
// refused or recorded; a test key's never is.
func TestServeLivenessRefusals(t *testing.T) {
	clearEnv(t)
	noFace := testimage.JPEG(256, 256, 21)
	for _, tt := range []struct {
		name   string
		flags  []string
		status int
	}{
		{"Default", nil, http.StatusUnprocessableEntity},
		{"Off", []string{"--liveness-refusals=false"}, http.StatusOK},
	} {
		t.Run(tt.name, func(t *testing.T) {
			s := startServe(t, append(serveArgs(t.TempDir()), tt.flags...)...)
			keys := s.bootstrapKeys(t)
			clientID := s.createClient(t, keys.live)
			status, body := s.do(t, "POST", "/v1/livePhotos", keys.live, map[string]any{
				"clientId": clientID,
				"data":     base64.StdEncoding.EncodeToString(noFace),
			})
			if status != tt.status {
				t.Fatalf("live upload with no face: got %d %s, want %d", status, body, tt.status)
			}
			if status != http.StatusOK && !strings.Contains(string(body), `"type":"no_face_detected"`) {
				t.Errorf("got body %s, want type no_face_detected", body)
			}
			// A test key's upload is recorded, never refused.
			s.uploadPhoto(t, keys.test, s.createClient(t, keys.test), noFace)
		})
	}
}

func TestBytesFlag(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want int64
		text string
	}{
		{"536870912", 512 << 20, "512MiB"},
		{"512MiB", 512 << 20, "512MiB"},
		{"1GiB", 1 << 30, "1GiB"},
		{"1536MiB", 1536 << 20, "1536MiB"},
		{"100KiB", 100 << 10, "100KiB"},
		{"1000B", 1000, "1000"},
		{" 2 GiB", 2 << 30, "2GiB"},
	} {
		var f bytesFlag
		if err := f.Set(tc.in); err != nil || int64(f) != tc.want || f.String() != tc.text {
			t.Errorf("Set(%q) = %d %q, %v; want %d %q", tc.in, int64(f), f.String(), err, tc.want, tc.text)
		}
	}
	for _, in := range []string{"", "MiB", "1.5GiB", "-1", "1TB", "9999999999999GiB"} {
		var f bytesFlag
		if err := f.Set(in); err == nil {
			t.Errorf("Set(%q) = %d, want an error", in, int64(f))
		}
	}
}
