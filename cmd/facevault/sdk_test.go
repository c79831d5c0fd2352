package main

import (
	"bytes"
	"context"
	"image/gif"
	"image/jpeg"
	"image/png"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/facevault/facevault"
	"github.com/facevault/facevault/internal/apitest"
	"github.com/facevault/facevault/internal/testimage"
)

// sdkDir is the Node package holding the SDK end-to-end suite, relative to
// this package's directory (the working directory of its tests).
var sdkDir = filepath.Join("..", "..", "sdktest")

// sdkInstallHint says how to get what TestSDK needs.
const sdkInstallHint = "run the repository's test script (scripts/test), which installs the pinned ComplyCube Node SDK with `npm ci --prefix sdktest`"

// TestSDK runs sdktest/sdk.test.mjs: the official ComplyCube Node SDK
// (@complycube/api, pinned) drives a real FaceVault, started here in-process
// with the serve command, over real HTTP, once on each pair of back ends:
// the embedded default (SQLite and image files) and the scale-out one
// (PostgreSQL and S3). It fails rather than skips when Node, the SDK or a
// server is missing, so the suite cannot silently stop running.
func TestSDK(t *testing.T) {
	clearServeEnv(t) // the flags below decide, not FACEVAULT_DB and the like
	node, err := exec.LookPath("node")
	if err != nil {
		t.Fatalf("node is not on PATH: the SDK end-to-end test needs Node.js; %s", sdkInstallHint)
	}
	if _, err := os.Stat(filepath.Join(sdkDir, "node_modules", "@complycube", "api", "package.json")); err != nil {
		t.Fatalf("the ComplyCube Node SDK is not installed in sdktest/node_modules (%v); %s", err, sdkInstallHint)
	}
	script, err := filepath.Abs(filepath.Join(sdkDir, "sdk.test.mjs"))
	if err != nil {
		t.Fatal(err)
	}
	fixtures := writeSDKFixtures(t)

	for _, b := range []struct {
		name string
		// setup prepares empty stores and returns serve's flags for them
		// and the record store, open, for makeSDKKeys.
		setup func(t *testing.T) ([]string, facevault.Store)
	}{
		{"sqlite+files", func(t *testing.T) ([]string, facevault.Store) {
			dataDir := t.TempDir()
			db, err := openDB(t.Context(), dataDir)
			if err != nil {
				t.Fatal(err)
			}
			return []string{"--data", dataDir}, db
		}},
		{"postgres+s3", func(t *testing.T) ([]string, facevault.Store) {
			st := newSharedStores(t)
			return st.args(), st.open(t)
		}},
	} {
		t.Run(b.name, func(t *testing.T) {
			args, db := b.setup(t)
			keys := makeSDKKeys(t, db)
			runSDKSuite(t, node, script, fixtures, keys, args)
		})
	}
}

// runSDKSuite starts serve with the given store flags and runs the suite
// against it.
func runSDKSuite(t *testing.T, node, script, fixtures string, keys sdkKeys, storeArgs []string) {
	// The service, in-process, on a free port. Its log is kept and shown
	// only if the test fails: it logs every request.
	var serverLog lockedBuffer
	srvCtx, cancel := context.WithCancel(context.Background())
	addrc := make(chan string, 1)
	done := make(chan error, 1)
	serve := &ServeCommand{
		Stdout:   &serverLog,
		Stderr:   &serverLog,
		OnListen: func(addr string) { addrc <- addr },
	}
	go func() {
		// The suite fails to authenticate on purpose, some 50 times, all
		// from 127.0.0.1: a budget for that many failures per source.
		// Its webhooks deliver to receivers the suite runs on 127.0.0.1.
		done <- serve.Run(srvCtx, append(slices.Clone(storeArgs), "--addr", "127.0.0.1:0", "--auth-failures-burst", "1000",
			"--webhook-allow", "127.0.0.1", "--webhook-interval", "100ms"))
	}()
	// Stop the service and wait for Run to return before the test ends,
	// whatever happens below.
	defer func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("serve returned an error on shutdown: %v", err)
			}
		case <-time.After(45 * time.Second):
			t.Errorf("serve did not return within 45s of cancellation")
		}
		if t.Failed() {
			t.Logf("service log:\n%s", serverLog.String())
		}
	}()

	var addr string
	select {
	case addr = <-addrc:
	case err := <-done:
		done <- err // for the deferred shutdown check
		t.Fatalf("serve exited before listening: %v", err)
	case <-time.After(30 * time.Second):
		t.Fatal("serve did not start listening within 30s")
	}

	// Between the suite and the service, a proxy that validates every
	// request and answer against the OpenAPI document.
	v, err := apitest.New()
	if err != nil {
		t.Fatal(err)
	}
	proxy := httptest.NewServer(v.Proxy(&url.URL{Scheme: "http", Host: addr}, func(problem string) { t.Errorf("%s", problem) }))
	defer proxy.Close()

	// The suite itself. Its spec report streams into the test output.
	ctx, stop := context.WithTimeout(t.Context(), 10*time.Minute)
	defer stop()
	cmd := exec.CommandContext(ctx, node, "--test", "--test-reporter=spec", script)
	cmd.Env = append(os.Environ(),
		"FACEVAULT_URL="+proxy.URL,
		"FACEVAULT_TEST_KEY="+keys.test,
		"FACEVAULT_LIVE_KEY="+keys.live,
		"FACEVAULT_OTHER_KEY="+keys.other,
		"FACEVAULT_REVOKED_KEY="+keys.revoked,
		"FACEVAULT_FIXTURES="+fixtures,
		"NO_COLOR=1",
	)
	out := t.Output()
	cmd.Stdout = out // the same writer for both: exec then serializes writes
	cmd.Stderr = out
	cmd.WaitDelay = 10 * time.Second
	t.Logf("running %s against http://%s through %s (%s)", script, addr, proxy.URL, strings.Join(storeArgs, " "))
	if err := cmd.Run(); err != nil {
		t.Fatalf("the ComplyCube SDK suite failed (%v); see its report above", err)
	}
}

// sdkKeys are the API keys the SDK suite uses.
type sdkKeys struct {
	test, live, other, revoked string
}

// makeSDKKeys creates, through the record store and before the service
// starts, a test and a live key for account "default", a test key for
// account "other", and a revoked test key for "default". It closes db.
func makeSDKKeys(t *testing.T, db facevault.Store) sdkKeys {
	t.Helper()
	ctx := t.Context()
	// Closed before the service starts: it opens the database itself.
	defer func() {
		if err := db.Close(); err != nil {
			t.Errorf("close database: %v", err)
		}
	}()
	mk := func(account string, mode facevault.Mode) (string, *facevault.APIKey) {
		secret, key, err := createKey(ctx, db, account, mode)
		if err != nil {
			t.Fatalf("create %s key for %q: %v", mode, account, err)
		}
		return secret, key
	}
	var k sdkKeys
	k.test, _ = mk("default", facevault.ModeTest)
	k.live, _ = mk("default", facevault.ModeLive)
	k.other, _ = mk("other", facevault.ModeTest)
	var revoked *facevault.APIKey
	k.revoked, revoked = mk("default", facevault.ModeTest)
	if err := db.RevokeKey(ctx, revoked.ID, time.Now().UTC().Truncate(time.Millisecond)); err != nil {
		t.Fatalf("revoke key: %v", err)
	}
	return k
}

// writeSDKFixtures writes the images the suite uploads into a temporary
// directory and returns it.
func writeSDKFixtures(t *testing.T) string {
	t.Helper()
	const kb, mb = 1 << 10, 1 << 20
	var g bytes.Buffer
	if err := gif.Encode(&g, testimage.Noise(256, 256, 5), nil); err != nil {
		t.Fatal(err)
	}
	// A real face (pigo's MIT-licensed sample photo, see
	// liveness/testdata/SOURCES.md), as JPEG and as PNG, so that the
	// liveness check finds one face; noise where it must find none.
	face, err := os.ReadFile("../../liveness/testdata/pigo-sample.jpg")
	if err != nil {
		t.Fatal(err)
	}
	img, err := jpeg.Decode(bytes.NewReader(face))
	if err != nil {
		t.Fatal(err)
	}
	var facePNG bytes.Buffer
	if err := png.Encode(&facePNG, img); err != nil {
		t.Fatal(err)
	}
	files := map[string][]byte{
		"photo.jpg":    face,
		"photo.png":    facePNG.Bytes(),
		"noface.jpg":   testimage.JPEG(256, 256, 1), // about 60 KB of noise
		"small.jpg":    testimage.JPEGSize(30*kb, 3),
		"big.jpg":      testimage.JPEGSize(5*mb, 4),
		"notimage.gif": g.Bytes(),
	}
	// The suite's failures must be about what they claim: the good images
	// and the GIF lie within the size bounds, so only their type decides.
	for _, name := range []string{"photo.jpg", "photo.png", "noface.jpg", "notimage.gif"} {
		if n := len(files[name]); n < 34*kb || n > 4*mb {
			t.Fatalf("fixture %s is %d bytes, outside 34 KB to 4 MB", name, n)
		}
	}
	dir := t.TempDir()
	for name, b := range files {
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// lockedBuffer is a bytes.Buffer safe for the service's concurrent writes.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
