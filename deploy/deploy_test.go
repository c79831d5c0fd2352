// Package deploy holds the files that deploy FaceVault (a systemd unit, a
// Dockerfile, a Compose file) and the tests that check them.
package deploy

import (
	"bytes"
	"debug/elf"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
)

// built is the binary built as the Dockerfile builds it, once for the
// package's tests.
var built = sync.OnceValues(func() (string, error) {
	dir, err := os.MkdirTemp("", "facevault-deploy-")
	if err != nil {
		return "", err
	}
	buildDir = dir
	bin := filepath.Join(dir, "facevault")
	cmd := exec.Command("go", "build", "-trimpath", "-ldflags=-s -w", "-o", bin, "../cmd/facevault")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build: %v\n%s", err, out)
	}
	return bin, nil
})

// buildDir holds the binary, once built; TestMain removes it.
var buildDir string

func TestMain(m *testing.M) {
	code := m.Run()
	if buildDir != "" {
		os.RemoveAll(buildDir)
	}
	os.Exit(code)
}

func buildStatic(t *testing.T) string {
	t.Helper()
	bin, err := built()
	if err != nil {
		t.Fatal(err)
	}
	return bin
}

// TestSystemdUnit: the unit passes systemd-analyze verify (with ExecStart
// pointing at a real build of the binary) and its sandboxing scores as
// systemd-analyze security rates it, printed; every sandboxing setting the
// deployment promises is there.
func TestSystemdUnit(t *testing.T) {
	analyze, err := exec.LookPath("systemd-analyze")
	if err != nil {
		t.Fatal("systemd-analyze is needed to check deploy/facevault.service (Debian: apt-get install systemd)")
	}
	unit, err := os.ReadFile("facevault.service")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"DynamicUser=yes", "ProtectSystem=strict", "ReadWritePaths=/var/lib/facevault",
		"NoNewPrivileges=yes", "PrivateTmp=yes", "ProtectHome=yes", "CapabilityBoundingSet=\n", "StateDirectory=facevault"} {
		if !bytes.Contains(unit, []byte(want)) {
			t.Errorf("the unit lacks %q", strings.TrimSpace(want))
		}
	}
	bin := buildStatic(t)
	dir := t.TempDir()
	path := filepath.Join(dir, "facevault.service")
	if err := os.WriteFile(path, bytes.ReplaceAll(unit, []byte("/usr/local/bin/facevault"), []byte(bin)), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(analyze, "verify", path).CombinedOutput()
	if err != nil || len(bytes.TrimSpace(out)) > 0 {
		t.Errorf("systemd-analyze verify: %v\n%s", err, out)
	}
	out, err = exec.Command(analyze, "security", "--offline=true", "--no-pager", path).CombinedOutput()
	if err != nil {
		t.Fatalf("systemd-analyze security: %v\n%s", err, out)
	}
	m := regexp.MustCompile(`Overall exposure level for facevault.service: ([0-9.]+) (\S+)`).FindSubmatch(out)
	if m == nil {
		t.Fatalf("systemd-analyze security printed no exposure level:\n%s", out)
	}
	t.Logf("systemd-analyze security: exposure %s %s (0 is the least exposed, 10 the most)", m[1], m[2])
	if string(m[2]) != "OK" {
		t.Errorf("exposure %s is rated %s, want OK", m[1], m[2])
	}
}

// TestDockerBuild: the Dockerfile's build makes a static binary (no
// program interpreter, so it runs on an empty image), and the image runs
// it as an unprivileged user.
func TestDockerBuild(t *testing.T) {
	f, err := elf.Open(buildStatic(t))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			t.Error("the binary needs a program interpreter: it is not static")
		}
	}
	df, err := os.ReadFile("Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"CGO_ENABLED=0 go build -trimpath -ldflags='-s -w'", "FROM scratch", "USER 65532:65532"} {
		if !bytes.Contains(df, []byte(want)) {
			t.Errorf("the Dockerfile lacks %q", want)
		}
	}
}
