package main

// Helpers to run the facevault command as a separate process: what a test
// needs to kill the service with SIGKILL, or to read its memory from
// outside.

import (
	"bufio"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// buildFacevault builds the facevault command into a temporary directory
// and returns the binary's path. It uses the go command that runs the
// tests, so that the binary is built from the same sources.
func buildFacevault(tb testing.TB) string {
	tb.Helper()
	goTool, err := exec.LookPath("go")
	if err != nil {
		tb.Fatalf("the go command is needed to build facevault: %v", err)
	}
	bin := filepath.Join(tb.TempDir(), "facevault")
	start := time.Now()
	cmd := exec.Command(goTool, "build", "-o", bin, ".")
	if out, err := cmd.CombinedOutput(); err != nil {
		tb.Fatalf("go build -o %s .: %v\n%s", bin, err, out)
	}
	tb.Logf("built %s in %v", bin, time.Since(start).Round(time.Millisecond))
	return bin
}

// childEnv is the environment of a facevault process: the test's, without
// the FACEVAULT_* variables, which would set its flags, and with extra
// ("NAME=value") added.
func childEnv(extra ...string) []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "FACEVAULT_") {
			env = append(env, kv)
		}
	}
	return append(env, extra...)
}

// runFacevault runs a facevault command that must succeed and returns its
// standard output.
func runFacevault(tb testing.TB, bin string, env []string, args ...string) string {
	tb.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Env = env
	var stdout, stderr lockedBuffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		tb.Fatalf("facevault %s: %v\nstderr:\n%s", strings.Join(args, " "), err, stderr.String())
	}
	return stdout.String()
}

// createKeyProcess runs 'facevault keys create' and returns the secret, the
// last line it prints.
func createKeyProcess(tb testing.TB, bin string, env []string, storeArgs []string, account, mode string) string {
	tb.Helper()
	args := append([]string{"keys", "create", "--mode", mode, "--account", account}, storeArgs...)
	secret := lastLine(runFacevault(tb, bin, env, args...))
	if !strings.HasPrefix(secret, mode+"_") {
		tb.Fatalf("keys create --mode %s: last line %q is not a %s key", mode, secret, mode)
	}
	return secret
}

// serveProcess is 'facevault serve' running as a child process.
type serveProcess struct {
	cmd            *exec.Cmd
	addr           string
	stdout, stderr *lockedBuffer
	exited         chan struct{} // closed once the process has exited
	waitErr        error         // what Wait returned; read after exited
	client         *http.Client
}

// listeningRE finds the address in serve's text log line that says it
// listens.
var listeningRE = regexp.MustCompile(`msg="FaceVault listening" addr=(\S+)`)

// startServeProcess starts 'facevault serve' with args and --addr
// 127.0.0.1:0, and waits until it listens. The process is killed when the
// test ends, if it still runs.
func startServeProcess(tb testing.TB, bin string, env []string, args ...string) *serveProcess {
	tb.Helper()
	p := &serveProcess{
		stdout: &lockedBuffer{},
		stderr: &lockedBuffer{},
		exited: make(chan struct{}),
		client: &http.Client{
			Timeout:   30 * time.Second,
			Transport: &http.Transport{MaxIdleConnsPerHost: 32},
		},
	}
	p.cmd = exec.Command(bin, append([]string{"serve", "--addr", "127.0.0.1:0"}, withDataDir(tb, args)...)...)
	p.cmd.Env = env
	p.cmd.Stdout, p.cmd.Stderr = p.stdout, p.stderr
	if err := p.cmd.Start(); err != nil {
		tb.Fatalf("start facevault serve: %v", err)
	}
	go func() {
		p.waitErr = p.cmd.Wait()
		close(p.exited)
	}()
	tb.Cleanup(p.kill)
	deadline := time.Now().Add(20 * time.Second)
	for {
		if m := listeningRE.FindStringSubmatch(p.stderr.String()); m != nil {
			p.addr = m[1]
			return p
		}
		select {
		case <-p.exited:
			tb.Fatalf("facevault serve exited before listening: %v\nlog:\n%s", p.waitErr, p.stderr)
		case <-time.After(5 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			p.kill()
			tb.Fatalf("facevault serve did not listen within 20s\nlog:\n%s", p.stderr)
		}
	}
}

// pid is the process id.
func (p *serveProcess) pid() int { return p.cmd.Process.Pid }

// kill sends SIGKILL, if the process still runs, and waits for it to exit.
func (p *serveProcess) kill() {
	select {
	case <-p.exited:
	default:
		p.cmd.Process.Signal(syscall.SIGKILL)
		<-p.exited
	}
	p.client.CloseIdleConnections()
}

// stop asks the process to shut down with SIGTERM and checks that it exits
// cleanly and promptly.
func (p *serveProcess) stop(tb testing.TB) {
	tb.Helper()
	defer p.client.CloseIdleConnections()
	select {
	case <-p.exited:
		tb.Errorf("facevault serve had exited before it was stopped: %v\nlog:\n%s", p.waitErr, p.stderr)
		return
	default:
	}
	p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.exited:
		if p.waitErr != nil {
			tb.Errorf("facevault serve exited with %v after SIGTERM, want 0\nlog:\n%s", p.waitErr, p.stderr)
		}
	case <-time.After(15 * time.Second):
		p.kill()
		tb.Errorf("facevault serve did not exit within 15s of SIGTERM\nlog:\n%s", p.stderr)
	}
}

// procStatus reads fields of /proc/<pid>/status that are sizes in kB (VmRSS,
// VmHWM, ...) and returns them in bytes.
func procStatus(pid int, fields ...string) (map[string]int64, error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return nil, err
	}
	defer f.Close()
	want := map[string]bool{}
	for _, name := range fields {
		want[name] = true
	}
	got := map[string]int64{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		name, rest, ok := strings.Cut(sc.Text(), ":")
		if !ok || !want[name] {
			continue
		}
		v := strings.Fields(rest)
		if len(v) != 2 || v[1] != "kB" {
			return nil, fmt.Errorf("/proc/%d/status: %s: unexpected value %q", pid, name, rest)
		}
		kb, err := strconv.ParseInt(v[0], 10, 64)
		if err != nil {
			return nil, fmt.Errorf("/proc/%d/status: %s: %w", pid, name, err)
		}
		got[name] = kb << 10
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	for _, name := range fields {
		if _, ok := got[name]; !ok {
			return nil, fmt.Errorf("/proc/%d/status has no %s (has the process exited?)", pid, name)
		}
	}
	return got, nil
}
