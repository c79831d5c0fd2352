package client_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/facevault/facevault"
	"github.com/facevault/facevault/client"
	"github.com/facevault/facevault/fsblob"
	fvhttp "github.com/facevault/facevault/http"
	"github.com/facevault/facevault/internal/backendtest"
	"github.com/facevault/facevault/internal/testimage"
	"github.com/facevault/facevault/keyring"
	"github.com/facevault/facevault/sqlite"
)

// backend opens a fresh record store, image store and key store.
type backend = backendtest.Backend

var backends = backendtest.All()

// env is a FaceVault server running in the test, as serve runs it, with
// an API key of one account in test mode.
type env struct {
	URL   string
	Key   string
	vault *facevault.Vault
}

// newEnv starts a server on SQLite and files.
func newEnv(t testing.TB) *env { return newEnvOn(t, backends[0]) }

func newEnvOn(t testing.TB, b backend) *env {
	t.Helper()
	store, blobs, keys := b.Open(t)
	e, stop, err := serve(store, blobs, keys)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(stop)
	return e
}

// serve starts the API over the stores, as serve does, with the
// background purge and audit counts, and makes an API key of one account
// in test mode. stop stops it all.
func serve(store facevault.Store, blobs facevault.BlobStore, keys *keyring.Keyring) (e *env, stop func(), err error) {
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	vault := facevault.NewVault(store, blobs, logger)
	vault.Keys = keys
	now := time.Now()
	acc, err := store.EnsureAccount(context.Background(), "account-a", now)
	if err != nil {
		return nil, nil, err
	}
	secret, rec, err := facevault.NewKey(acc, facevault.ModeTest, now)
	if err != nil {
		return nil, nil, err
	}
	if err := store.CreateKey(context.Background(), rec); err != nil {
		return nil, nil, err
	}
	api := fvhttp.NewServer(vault, store, logger, fvhttp.Config{})
	srv := httptest.NewUnstartedServer(nil)
	srv.Config = fvhttp.NewHTTPServer(fvhttp.Logged(api, logger), fvhttp.Config{}, logger)
	srv.Listener = fvhttp.NewListener(srv.Listener, logger)
	srv.Start()
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); vault.RunPurge(ctx, 50*time.Millisecond) }()
	go func() { defer wg.Done(); api.RunAudit(ctx, time.Hour) }()
	stop = func() {
		srv.Close()
		cancel()
		wg.Wait()
	}
	return &env{URL: srv.URL, Key: secret, vault: vault}, stop, nil
}

// exampleEnv is the server of the Examples, which have no testing.T: on
// SQLite and files in a temporary directory, started and stopped by
// TestMain.
var exampleEnv *env

func TestMain(m *testing.M) {
	code, err := runWithExampleServer(m)
	if err != nil {
		fmt.Fprintln(os.Stderr, "starting the example server:", err)
		os.Exit(1)
	}
	os.Exit(code)
}

func runWithExampleServer(m *testing.M) (int, error) {
	ctx := context.Background()
	dir, err := os.MkdirTemp("", "facevault-client-test")
	if err != nil {
		return 0, err
	}
	defer os.RemoveAll(dir)
	db, err := sqlite.Open(ctx, filepath.Join(dir, "facevault.db"))
	if err != nil {
		return 0, err
	}
	defer db.Close()
	blobs, err := fsblob.Open(filepath.Join(dir, "blobs"))
	if err != nil {
		return 0, err
	}
	defer blobs.Close()
	kdb, err := keyring.Open(ctx, "sqlite://"+filepath.Join(dir, "keys.db"))
	if err != nil {
		return 0, err
	}
	defer kdb.Close()
	master, err := keyring.NewLocalMaster(bytes.Repeat([]byte{0x5a}, keyring.MasterKeySize))
	if err != nil {
		return 0, err
	}
	keys, err := keyring.New(ctx, kdb, []keyring.Master{master})
	if err != nil {
		return 0, err
	}
	e, stop, err := serve(db, blobs, keys)
	if err != nil {
		return 0, err
	}
	defer stop()
	exampleEnv = e
	return m.Run(), nil
}

// client returns a client of the server at url (the env's by default) with
// fast, deterministic retries.
func (e *env) client(t testing.TB, url string, opts ...client.Option) *client.Client {
	t.Helper()
	if url == "" {
		url = e.URL
	}
	opts = append([]client.Option{
		client.WithBackoff(time.Millisecond, 4*time.Millisecond),
		client.WithJitter(func(d time.Duration) time.Duration { return d }),
	}, opts...)
	c, err := client.New(url, e.Key, opts...)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// newPerson creates a person.
func newPerson(t testing.TB, c *client.Client, first string) *client.ClientRecord {
	t.Helper()
	p, err := c.CreateClient(context.Background(), &client.ClientParams{
		Type: client.ClientPerson, Email: first + "@example.com",
		PersonDetails: &client.PersonDetails{FirstName: first, LastName: "Doe"},
	})
	if err != nil {
		t.Fatalf("CreateClient: %v", err)
	}
	return p
}

// jpegOf returns a JPEG of n bytes.
func jpegOf(n int) []byte { return testimage.JPEGSize(n, uint64(n)) }

// proxy is a reverse proxy in front of a server that a test can make fail:
// fail decides, for each request, what it does instead of forwarding it.
type proxy struct {
	srv  *httptest.Server
	mu   sync.Mutex
	seen []*http.Request // headers of every request, bodies not kept
	fail func(n int, w http.ResponseWriter, r *http.Request) bool
}

// newProxy starts a proxy to target. fail, if not nil, is called with the
// number of the request (from 1); if it answers (returning true) the
// request is not forwarded.
func newProxy(t testing.TB, target string, fail func(n int, w http.ResponseWriter, r *http.Request) bool) *proxy {
	u, err := url.Parse(target)
	if err != nil {
		t.Fatal(err)
	}
	rp := httputil.NewSingleHostReverseProxy(u)
	rp.ErrorLog = nil
	p := &proxy{fail: fail}
	p.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p.mu.Lock()
		p.seen = append(p.seen, r.Clone(context.Background()))
		n := len(p.seen)
		p.mu.Unlock()
		if p.fail != nil && p.fail(n, w, r) {
			return
		}
		rp.ServeHTTP(w, r)
	}))
	t.Cleanup(p.srv.Close)
	return p
}

// requests returns the requests the proxy saw.
func (p *proxy) requests() []*http.Request {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]*http.Request(nil), p.seen...)
}
