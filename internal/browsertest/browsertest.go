// Package browsertest runs a real headless browser (Debian's chromium) for
// end-to-end tests of the review console, through the Chrome DevTools
// Protocol (github.com/chromedp/chromedp).
//
// The browser is the one FACEVAULT_TEST_CHROMIUM names, else
// /usr/bin/chromium; ./scripts/test installs it when it is missing and sets
// the variable. There is no skipping: without a browser the tests fail.
//
// Screenshots for the documentation are taken only when
// FACEVAULT_SCREENSHOTS names a directory (relative to the module root,
// e.g. FACEVAULT_SCREENSHOTS=docs); by default a test writes nothing.
package browsertest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
)

// Environment variables.
const (
	// EnvChromium names the browser binary.
	EnvChromium = "FACEVAULT_TEST_CHROMIUM"
	// EnvScreenshots names the directory screenshots go to; unset, none
	// are taken.
	EnvScreenshots = "FACEVAULT_SCREENSHOTS"
)

// defaultChromium is where Debian's chromium package puts the browser.
const defaultChromium = "/usr/bin/chromium"

// Chromium returns the path of the browser, failing tb if there is none.
func Chromium(tb testing.TB) string {
	tb.Helper()
	path := os.Getenv(EnvChromium)
	if path == "" {
		path = defaultChromium
	}
	fi, err := os.Stat(path)
	if err != nil || fi.IsDir() || fi.Mode().Perm()&0o111 == 0 {
		tb.Fatalf("browsertest: no browser at %s (%s): run ./scripts/test, which installs Debian's chromium", path, EnvChromium)
	}
	return path
}

// Options are what New can change of the browser.
type Options struct {
	// IgnoreCertErrors accepts any TLS certificate: for a test server
	// with a certificate of its own.
	IgnoreCertErrors bool
	// Width and Height are the window's size; 1280×900 by default.
	Width, Height int
}

// New starts a headless browser with a fresh profile of its own and
// returns the context of its first tab. The browser is stopped, and its
// profile removed, when tb ends.
func New(tb testing.TB, o Options) context.Context {
	tb.Helper()
	if o.Width == 0 {
		o.Width, o.Height = 1280, 900
	}
	var log bytes.Buffer
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(Chromium(tb)),
		chromedp.Headless,
		chromedp.NoSandbox, // tests run as root in containers
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.UserDataDir(tb.TempDir()),
		chromedp.WindowSize(o.Width, o.Height),
		// Nothing but the pages the test opens: no QUIC, no background
		// requests, no updates, no sync.
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-extensions", true),
		chromedp.Flag("disable-default-apps", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.Flag("metrics-recording-only", true),
		chromedp.Flag("password-store", "basic"),
		chromedp.CombinedOutput(&log),
	}
	if o.IgnoreCertErrors {
		opts = append(opts, chromedp.IgnoreCertErrors)
	}
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(allocCtx)
	tb.Cleanup(func() {
		cancel()
		cancelAlloc()
	})
	// The first Run starts the browser, bound to ctx (no timeout on it).
	if err := chromedp.Do(ctx); err != nil {
		tb.Fatalf("browsertest: start %s: %v\n%s", Chromium(tb), err, log.String())
	}
	return ctx
}

// Within runs fn with ctx limited to d, so that a page that never comes
// fails the test instead of hanging it.
func Within(tb testing.TB, ctx context.Context, d time.Duration, what string, fn func(ctx context.Context) error) {
	tb.Helper()
	tctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	if err := fn(tctx); err != nil {
		if errors.Is(err, context.DeadlineExceeded) {
			tb.Fatalf("browsertest: %s: no answer within %v", what, d)
		}
		tb.Fatalf("browsertest: %s: %v", what, err)
	}
}

// Cookies returns the cookies the browser would send to the current page.
func Cookies(tb testing.TB, ctx context.Context) []*network.Cookie {
	tb.Helper()
	res, err := chromedp.Call(ctx, network.GetCookies, network.GetCookiesParams{})
	if err != nil {
		tb.Fatalf("browsertest: cookies: %v", err)
	}
	return res.Cookies
}

// Header returns the response header name (any case) of resp, or "".
func Header(resp *network.Response, name string) string {
	for k, v := range resp.Headers {
		if strings.EqualFold(k, name) {
			return fmt.Sprint(v)
		}
	}
	return ""
}

// Screenshot saves a full-page PNG of the current page as
// console-<name>.png in the directory FACEVAULT_SCREENSHOTS names, and
// does nothing when it is unset.
func Screenshot(tb testing.TB, ctx context.Context, name string) {
	tb.Helper()
	dir := os.Getenv(EnvScreenshots)
	if dir == "" {
		return
	}
	if !filepath.IsAbs(dir) {
		root, err := moduleRoot()
		if err != nil {
			tb.Fatalf("browsertest: screenshot: %v", err)
		}
		dir = filepath.Join(root, dir)
	}
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		tb.Fatalf("browsertest: screenshot %s: %v", name, err)
	}
	path := filepath.Join(dir, "console-"+name+".png")
	if err := os.WriteFile(path, png, 0o644); err != nil {
		tb.Fatalf("browsertest: screenshot: %v", err)
	}
	tb.Logf("screenshot written to %s", path)
}

// moduleRoot finds the directory of go.mod above the working directory.
func moduleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("no go.mod above the working directory")
		}
		dir = parent
	}
}
