package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/facevault/facevault"
	fvhttp "github.com/facevault/facevault/http"
	"github.com/facevault/facevault/liveness"
)

// ServeCommand runs the API service: on the embedded default (SQLite and
// image files under one data directory) or, with --db and --blobs, as one
// of any number of stateless nodes on PostgreSQL and S3.
type ServeCommand struct {
	Stdout, Stderr io.Writer
	// OnListen, if set, is called with the address the service listens on
	// once it accepts connections. Tests use it with --addr 127.0.0.1:0.
	OnListen func(addr string)
}

// Run executes the command until ctx is cancelled.
func (c *ServeCommand) Run(ctx context.Context, args []string) error {
	fs := newFlagSet("serve", c.Stderr)
	stores := addStoreFlags(fs)
	addr := fs.String("addr", "127.0.0.1:8080", "address to listen on")
	maxUploads := fs.Int("max-uploads", 16, "uploads processed at once; more wait up to --upload-queue-timeout, then get 429")
	queueTimeout := fs.Duration("upload-queue-timeout", 10*time.Second, "how long an upload waits for a free slot")
	rateLimit := fs.Float64("rate-limit", 0, "requests per second allowed per account and mode; 0 disables the limit")
	rateBurst := fs.Int("rate-burst", 0, "requests allowed in a burst above --rate-limit (default: the rate)")
	sweepEvery := fs.Duration("sweep-interval", time.Hour, "how often to remove images that have no record; 0 disables the periodic sweep")
	purgeEvery := fs.Duration("purge-interval", 10*time.Second, "how often to retry destroying images of deleted photos and clients "+
		"that could not be destroyed yet (each key also backs off, from 1s to 15m)")
	quarantineFor := fs.Duration("quarantine-for", defaultQuarantineFor, "how long the sweep keeps the images it removes in quarantine "+
		"('facevault quarantine restore' brings them back) before it destroys them; 0 destroys them at once")
	refuse := fs.Bool("liveness-refusals", true, "refuse live-mode uploads in which the liveness check finds no face, several faces "+
		"or unreadable pixels (422); false records those findings like any other. Test-mode uploads are never refused")
	logFormat := fs.String("log-format", "text", "log format: text or json")
	logLevel := fs.String("log-level", "info", "log level: debug, info, warn or error")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("%w: unexpected argument %q", errUsage, fs.Arg(0))
	}
	if *purgeEvery <= 0 {
		return fmt.Errorf("%w: --purge-interval must be positive", errUsage)
	}
	logger, err := newLogger(c.Stderr, *logFormat, *logLevel)
	if err != nil {
		return err
	}

	if *quarantineFor < 0 {
		return fmt.Errorf("%w: --quarantine-for must not be negative", errUsage)
	}
	db, blobs, storeID, err := stores.openPair(ctx, checkSchema, false)
	if err != nil {
		return err
	}
	defer db.Close()
	defer blobs.close()
	analyzer, err := liveness.New(liveness.DefaultConfig())
	if err != nil {
		return fmt.Errorf("load the liveness check: %w", err)
	}
	vault := facevault.NewVault(db, blobs, logger)
	vault.Analyzer = analyzer
	vault.RefuseLive = *refuse
	sweeper := &sweeper{vault: vault, leases: db, logger: logger, holder: leaseHolder(), exclusive: blobs.exclusive,
		keepFor: 2 * *sweepEvery, quarantineFor: *quarantineFor}

	// Images whose upload died before its record committed. A sweep
	// refused for finding too many does not keep the service from
	// starting: it removed nothing, and says so in the log.
	if _, _, err := sweeper.sweep(ctx, true); err != nil && !sweeper.logRefusal(ctx, err) {
		return fmt.Errorf("start-up sweep: %w", err)
	}
	api := fvhttp.NewServer(vault, db, logger, fvhttp.Config{
		MaxUploads:         *maxUploads,
		UploadQueueTimeout: *queueTimeout,
		RateLimit:          *rateLimit,
		RateBurst:          *rateBurst,
	})
	srv := &http.Server{
		Handler:           fvhttp.Logged(api, logger),
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       2 * time.Minute,
		WriteTimeout:      2 * time.Minute,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
		// Requests keep ctx's values but not its cancellation: when ctx is
		// cancelled, Shutdown lets requests in flight finish.
		BaseContext: func(net.Listener) context.Context { return context.WithoutCancel(ctx) },
	}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", *addr, err)
	}
	defer ln.Close()
	if err := c.bootstrap(ctx, db, ln.Addr().String()); err != nil {
		return err
	}
	logger.Info("FaceVault listening", "addr", ln.Addr().String(), "db", redact(stores.dbURL()), "blobs", stores.blobsURL(), "store", storeID)
	if c.OnListen != nil {
		c.OnListen(ln.Addr().String())
	}

	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	// The periodic sweep must be over before the deferred closes run,
	// however Run returns.
	sweepCtx, stopSweep := context.WithCancel(ctx)
	var sweeping sync.WaitGroup
	defer sweeping.Wait()
	defer stopSweep()
	if *sweepEvery > 0 {
		sweeping.Go(func() { sweeper.run(sweepCtx, *sweepEvery) })
	}
	// The purge destroys the images of deleted photos and clients: at once
	// for what a crash or an unreachable image store left queued, whenever a
	// client is deleted, and every --purge-interval for retries.
	sweeping.Go(func() { vault.RunPurge(sweepCtx, *purgeEvery) })
	select {
	case err := <-errc:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	logger.Info("shutting down")
	shutdownCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil {
		// Requests still running past the grace period are cut off, so that
		// none outlives the store it uses.
		srv.Close()
		return fmt.Errorf("shutdown: %w", err)
	}
	if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// bootstrap creates an account and one key of each mode on first start, and
// prints the keys once.
func (c *ServeCommand) bootstrap(ctx context.Context, keys facevault.KeyStore, addr string) error {
	has, err := keys.HasKeys(ctx)
	if err != nil || has {
		return err
	}
	test, _, err := createKey(ctx, keys, "default", facevault.ModeTest)
	if err != nil {
		return err
	}
	live, _, err := createKey(ctx, keys, "default", facevault.ModeLive)
	if err != nil {
		return err
	}
	fmt.Fprintf(c.Stdout, `FaceVault created account "default" with two API keys. They are shown only now; FaceVault keeps only their hashes.
  test key: %s
  live key: %s
Send a key as the Authorization header, for example:
  curl -H 'Authorization: %s' http://%s/v1/clients
Test and live keys see separate data. Make more with 'facevault keys create'.
`, test, live, test, addr)
	return nil
}

func newLogger(w io.Writer, format, level string) (*slog.Logger, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("%w: --log-level: %v", errUsage, err)
	}
	opts := &slog.HandlerOptions{Level: l}
	switch format {
	case "text":
		return slog.New(slog.NewTextHandler(w, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	}
	return nil, fmt.Errorf("%w: --log-format must be text or json", errUsage)
}
