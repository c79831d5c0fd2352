package main

import (
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"regexp"
	"strings"
	"testing"
)

// TestConfigAttrs: every flag is logged with its effective value, URLs
// without their password, secrets only as set or not.
func TestConfigAttrs(t *testing.T) {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.String("db", "", "")
	fs.String("webhook-secret", "", "")
	fs.String("api-token", "", "")
	fs.Int("max-uploads", 16, "")
	if err := fs.Parse([]string{"--db", "postgres://fv:hunter2@db.internal:5432/fv", "--webhook-secret", "s3cr3t"}); err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, a := range configAttrs(fs) {
		attr := a.(slog.Attr)
		got[attr.Key] = attr.Value.String()
	}
	want := map[string]string{"db": "postgres://fv:xxxxx@db.internal:5432/fv", "webhook-secret": "(set)", "api-token": "", "max-uploads": "16"}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %q, want %q", k, got[k], v)
		}
	}
	if len(got) != len(want) {
		t.Errorf("logged %v, want every flag once", got)
	}
	for k, v := range got {
		if strings.Contains(v, "hunter2") || strings.Contains(v, "s3cr3t") {
			t.Errorf("%s = %q shows a secret", k, v)
		}
	}
}

// TestServeLogsStart: serve logs its configuration before opening
// anything, and once the stores are open the versions of the binary, of
// the record store's schema (the newest migration) and of each model.
func TestServeLogsStart(t *testing.T) {
	clearEnv(t)
	dir := t.TempDir()
	s := startServe(t, serveArgs(dir)...)
	s.stop(t)
	log := s.stderr.String()
	for _, want := range []string{"msg=configuration", "addr=127.0.0.1:0", "face-embeddings=true", "min-age=18",
		"msg=versions", "livenessModel=", "faceEmbeddingsModel=", "ageEstimationModel="} {
		if !strings.Contains(log, want) {
			t.Errorf("the start-up log lacks %q:\n%s", want, log)
		}
	}
	migrations, err := os.ReadDir("../../sqlite/migrations")
	if err != nil {
		t.Fatal(err)
	}
	newest := 0
	for _, e := range migrations {
		var n int
		if _, err := fmt.Sscanf(e.Name(), "%05d_", &n); err == nil {
			newest = max(newest, n)
		}
	}
	m := regexp.MustCompile(`msg=versions .*schema=(\d+)`).FindStringSubmatch(log)
	if m == nil || m[1] != fmt.Sprint(newest) {
		t.Errorf("versions log %v, want schema=%d (the newest migration)", m, newest)
	}
}
