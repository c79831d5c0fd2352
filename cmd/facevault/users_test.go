package main

import (
	"bytes"
	"context"
	"net/http"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/facevault/facevault"
	"github.com/facevault/facevault/console"
)

// usersCLI runs a users command with stdin as standard input.
func usersCLI(t *testing.T, stdin string, args ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	var out, errOut bytes.Buffer
	err := runWithInput(ctx, append([]string{"users"}, args...), strings.NewReader(stdin), &out, &errOut)
	return out.String() + errOut.String(), err
}

// consoleUser reads a console user from the data directory's database.
func consoleUser(t *testing.T, dir, name string) *facevault.ConsoleUser {
	t.Helper()
	db, err := openDB(t.Context(), dir)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	u, err := db.ConsoleUserByName(t.Context(), name)
	if err != nil {
		t.Fatalf("console user %q: %v", name, err)
	}
	return u
}

// TestUsersCommands: create, list, set-password, unlock, disable, enable
// and delete, on the embedded default.
func TestUsersCommands(t *testing.T) {
	clearEnv(t)
	dir := filepath.Join(t.TempDir(), "data")
	data := []string{"--data", dir}

	out, err := usersCLI(t, "a long enough password\n", append([]string{"create", "--name", "ada", "--role", "admin"}, data...)...)
	if err != nil || out != "Created admin \"ada\". They sign in at /console/.\n" {
		t.Fatalf("users create: %v, %q", err, out)
	}
	// CRLF from a Windows password file is not part of the password.
	if out, err := usersCLI(t, "rex's password, long\r\n", append([]string{"create", "--name", "rex", "--role", "reviewer"}, data...)...); err != nil {
		t.Fatalf("users create rex: %v\n%s", err, out)
	}
	ada := consoleUser(t, dir, "ada")
	if ada.Role != facevault.RoleAdmin || ada.Disabled || !strings.HasPrefix(ada.PasswordHash, "$argon2id$v=19$m=65536,t=3,p=2$") {
		t.Errorf("stored ada: role %s, disabled %v, hash %q", ada.Role, ada.Disabled, ada.PasswordHash)
	}
	if ok, err := console.VerifyPassword(ada.PasswordHash, "a long enough password"); !ok || err != nil {
		t.Errorf("ada's stored hash does not verify her password: %v, %v", ok, err)
	}
	if ok, _ := console.VerifyPassword(consoleUser(t, dir, "rex").PasswordHash, "rex's password, long"); !ok {
		t.Error("rex's password kept its CR")
	}

	list := func() string {
		t.Helper()
		out, err := usersCLI(t, "", append([]string{"list"}, data...)...)
		if err != nil {
			t.Fatalf("users list: %v\n%s", err, out)
		}
		if strings.Contains(out, "argon2") {
			t.Errorf("users list shows a password hash:\n%s", out)
		}
		return out
	}
	rows := func() map[string][]string {
		t.Helper()
		m := map[string][]string{}
		lines := strings.Split(strings.TrimSpace(list()), "\n")
		if h := strings.Join(strings.Fields(lines[0]), " "); h != "NAME ROLE STATE FAILED SIGN-INS CREATED" {
			t.Fatalf("users list header %q", lines[0])
		}
		for _, l := range lines[1:] {
			f := strings.Fields(l)
			m[f[0]] = f[1:]
		}
		return m
	}
	if r := rows(); len(r) != 2 || r["ada"][0] != "admin" || r["ada"][1] != "active" || r["rex"][0] != "reviewer" {
		t.Errorf("users list: %v", r)
	}

	// set-password: the new one verifies, the old one no longer does.
	if out, err := usersCLI(t, "the new password of rex\n", append([]string{"set-password", "--name", "rex"}, data...)...); err != nil ||
		!strings.Contains(out, `Changed the password of "rex"`) {
		t.Fatalf("users set-password: %v, %q", err, out)
	}
	rex := consoleUser(t, dir, "rex")
	if ok, _ := console.VerifyPassword(rex.PasswordHash, "the new password of rex"); !ok {
		t.Error("the new password does not verify")
	}
	if ok, _ := console.VerifyPassword(rex.PasswordHash, "rex's password, long"); ok {
		t.Error("the old password still verifies")
	}

	// unlock clears a lock-out.
	db, err := openDB(t.Context(), dir)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.FailConsoleSignIn(t.Context(), rex.ID, time.Now(), 1, time.Hour); err != nil {
		t.Fatal(err)
	}
	db.Close()
	if r := rows(); !strings.HasPrefix(strings.Join(r["rex"][1:], " "), "locked until") {
		t.Errorf("users list of a locked user: %v", r["rex"])
	}
	if out, err := usersCLI(t, "", append([]string{"unlock", "--name", "rex"}, data...)...); err != nil || out != "Unlocked \"rex\".\n" {
		t.Fatalf("users unlock: %v, %q", err, out)
	}
	if u := consoleUser(t, dir, "rex"); u.Locked(time.Now()) || u.FailedSignIns != 0 {
		t.Errorf("after unlock: locked until %v, %d failures", u.LockedUntil, u.FailedSignIns)
	}

	// disable and enable.
	if out, err := usersCLI(t, "", append([]string{"disable", "--name", "rex"}, data...)...); err != nil || !strings.Contains(out, `Disabled "rex"`) {
		t.Fatalf("users disable: %v, %q", err, out)
	}
	if r := rows(); r["rex"][1] != "disabled" {
		t.Errorf("users list of a disabled user: %v", r["rex"])
	}
	if out, err := usersCLI(t, "", append([]string{"enable", "--name", "rex"}, data...)...); err != nil || out != "Enabled \"rex\".\n" {
		t.Fatalf("users enable: %v, %q", err, out)
	}
	if consoleUser(t, dir, "rex").Disabled {
		t.Error("still disabled after enable")
	}

	// delete.
	if out, err := usersCLI(t, "", append([]string{"delete", "--name", "rex"}, data...)...); err != nil || !strings.Contains(out, `Deleted "rex"`) {
		t.Fatalf("users delete: %v, %q", err, out)
	}
	if r := rows(); len(r) != 1 || r["ada"] == nil {
		t.Errorf("users list after delete: %v", r)
	}
}

// TestUsersCommandErrors: every way a users command can be refused, and
// that a refused create stores nothing.
func TestUsersCommandErrors(t *testing.T) {
	clearEnv(t)
	dir := filepath.Join(t.TempDir(), "data")
	data := []string{"--data", dir}
	if out, err := usersCLI(t, "a long enough password\n", append([]string{"create", "--name", "ada", "--role", "admin"}, data...)...); err != nil {
		t.Fatalf("users create: %v\n%s", err, out)
	}
	for _, tc := range []struct {
		name  string
		stdin string
		args  []string
		usage bool   // a usage error (exit code 2)
		want  string // in the error
	}{
		{"NoName", "a long enough password\n", []string{"create", "--role", "admin"}, true, "--name: the name must not be empty"},
		{"BadName", "a long enough password\n", []string{"create", "--name", " ada", "--role", "admin"}, true, "no space at either end"},
		{"LongName", "a long enough password\n", []string{"create", "--name", strings.Repeat("n", 65), "--role", "admin"}, true, "at most 64"},
		{"NoRole", "a long enough password\n", []string{"create", "--name", "bob"}, true, "--role must be reviewer or admin"},
		{"BadRole", "a long enough password\n", []string{"create", "--name", "bob", "--role", "root"}, true, "--role must be reviewer or admin"},
		{"PasswordArgument", "", []string{"create", "--name", "bob", "--role", "admin", "hunter2hunter2"}, true, "never from the command line"},
		{"NoPassword", "", []string{"create", "--name", "bob", "--role", "admin"}, true, "no password on standard input"},
		{"ShortPassword", "short\n", []string{"create", "--name", "bob", "--role", "admin"}, true, "at least 12 characters"},
		{"LongPassword", strings.Repeat("p", 1025) + "\n", []string{"create", "--name", "bob", "--role", "admin"}, true, "at most 1024 bytes"},
		{"NotUTF8", "\xff\xfe long enough password\n", []string{"create", "--name", "bob", "--role", "admin"}, true, "not valid UTF-8"},
		{"NameTaken", "a long enough password\n", []string{"create", "--name", "ada", "--role", "reviewer"}, false, `a console user is called "ada" already`},
		{"UnknownFlag", "", []string{"list", "--nope"}, true, "flag provided but not defined"},
		{"ListArgument", "", []string{"list", "ada"}, true, `unexpected argument "ada"`},
		{"SetPasswordNoName", "another long password\n", []string{"set-password"}, true, "--name is required"},
		{"SetPasswordShort", "short\n", []string{"set-password", "--name", "ada"}, true, "at least 12 characters"},
		{"SetPasswordUnknown", "another long password\n", []string{"set-password", "--name", "nobody"}, false, `no console user is called "nobody"`},
		{"DeleteUnknown", "", []string{"delete", "--name", "nobody"}, false, `no console user is called "nobody"`},
		{"UnlockUnknown", "", []string{"unlock", "--name", "nobody"}, false, `no console user is called "nobody"`},
		{"DisableArgument", "", []string{"disable", "--name", "ada", "extra"}, true, `unexpected argument "extra"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, err := usersCLI(t, tc.stdin, append(tc.args, data...)...)
			if err == nil {
				t.Fatalf("users %s succeeded:\n%s", strings.Join(tc.args, " "), out)
			}
			if tc.usage {
				assertUsageError(t, err)
			} else if exitCode(err) != 1 {
				t.Errorf("exit code %d, want 1", exitCode(err))
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q, want it to say %q", err, tc.want)
			}
		})
	}
	// Nothing but ada was stored, and her password is unchanged.
	out, err := usersCLI(t, "", append([]string{"list"}, data...)...)
	if err != nil || strings.Count(out, "\n") != 2 || !strings.Contains(out, "ada") {
		t.Errorf("users list after the refusals: %v\n%s", err, out)
	}
	if ok, _ := console.VerifyPassword(consoleUser(t, dir, "ada").PasswordHash, "a long enough password"); !ok {
		t.Error("a refused set-password changed ada's password")
	}
	// A bare "users" is a usage error.
	if _, err := usersCLI(t, ""); err == nil {
		t.Error("a bare users succeeded")
	} else {
		assertUsageError(t, err)
	}
}

// TestServeConsoleFlags: the console's flags are checked, and
// --console=false leaves /console to the API (which knows no such route).
func TestServeConsoleFlags(t *testing.T) {
	clearEnv(t)
	for _, args := range [][]string{
		{"--console-idle-timeout", "0s"},
		{"--console-session-lifetime", "-1s"},
		{"--console-lockout", "0s"},
		{"--console-max-failures", "0"},
	} {
		_, _, err := runCLI(t, append([]string{"serve", "--data", t.TempDir(), "--addr", "127.0.0.1:0"}, args...)...)
		assertUsageError(t, err)
	}
	srv := startServe(t, slices.Concat(serveArgs(t.TempDir()), consoleServeFlags, []string{"--console=false"})...)
	status, body := srv.do(t, http.MethodGet, "/console/sign-in", "", nil)
	if status != http.StatusNotFound || !strings.Contains(string(body), "resource_not_found") {
		t.Errorf("GET /console/sign-in with --console=false: %d %s, want the API's 404", status, body)
	}
}

func TestLoopback(t *testing.T) {
	for addr, want := range map[string]bool{
		"127.0.0.1:8080": true, "[::1]:8080": true, "localhost:8080": true, "127.0.0.2:80": true,
		"0.0.0.0:8080": false, ":8080": false, "[::]:8080": false, "10.0.0.1:8080": false, "example.com:443": false, "nonsense": false,
	} {
		if got := loopback(addr); got != want {
			t.Errorf("loopback(%q) = %v, want %v", addr, got, want)
		}
	}
}
