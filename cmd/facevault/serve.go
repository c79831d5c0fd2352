package main

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/facevault/facevault"
	"github.com/facevault/facevault/faceage"
	"github.com/facevault/facevault/faceid"
	fvhttp "github.com/facevault/facevault/http"
	"github.com/facevault/facevault/liveness"
	"github.com/facevault/facevault/metrics"
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
	keyFlags := addKeyFlags(fs)
	addr := fs.String("addr", "127.0.0.1:8080", "address to listen on")
	tlsCert := fs.String("tls-cert", "", "serve HTTPS with this certificate (PEM, the chain after the leaf), read again on SIGHUP; "+
		"needs --tls-key")
	tlsKey := fs.String("tls-key", "", "the private key (PEM) of --tls-cert")
	maxUploads := fs.Int("max-uploads", 16, "uploads processed at once (liveness check and commit, once the body has arrived); "+
		"more wait up to --upload-queue-timeout, a freed slot going to the waiting account that holds the fewest, then get 429")
	queueTimeout := fs.Duration("upload-queue-timeout", 10*time.Second, "how long an upload whose body has arrived waits for a processing slot")
	perAccount := fs.Int("max-uploads-per-account", 0, "uploads one account (and mode) may have in flight, from the first byte of the body "+
		"to the answer; more get 429 at once, unread (default: --max-uploads)")
	inFlight := fs.Int("max-uploads-in-flight", 0, "uploads in flight on this node, all accounts together; more get 429 at once, unread "+
		"(default: 8 × --max-uploads)")
	minBodyRate := fs.Int("min-body-rate", 16<<10, "slowest average rate, in bytes per second, at which a request body may arrive once "+
		"--body-grace has passed; a slower one gets 408 and its connection is closed. 0 disables")
	bodyGrace := fs.Duration("body-grace", 10*time.Second, "how long a request body may take before --min-body-rate applies")
	authRate := fs.Float64("auth-failures-per-minute", 10, "failed authentications allowed per minute from one source address "+
		"(IPv4 address, IPv6 /64); beyond the burst, requests from it get 429 before their key is looked up. 0 disables")
	authBurst := fs.Int("auth-failures-burst", 20, "failed authentications a source address may make at once, before --auth-failures-per-minute applies")
	authSources := fs.Int("auth-failures-sources", 65536, "source addresses whose failed authentications are remembered at once; "+
		"beyond, the one whose last failure is oldest is forgotten")
	var trustedProxies prefixesFlag
	fs.Var(&trustedProxies, "trusted-proxies", "comma-separated CIDR prefixes of reverse proxies and load balancers: "+
		"only from these peers is the client address taken from X-Forwarded-For (its rightmost untrusted hop)")
	rateLimit := fs.Float64("rate-limit", 0, "requests per second allowed per account and mode; 0 disables the limit")
	rateBurst := fs.Int("rate-burst", 0, "requests allowed in a burst above --rate-limit (default: the rate)")
	sweepEvery := fs.Duration("sweep-interval", time.Hour, "how often to remove images that have no record; 0 disables the periodic sweep")
	purgeEvery := fs.Duration("purge-interval", 10*time.Second, "how often to retry destroying images of deleted photos and clients "+
		"that could not be destroyed yet (each key also backs off, from 1s to 15m)")
	checkEvery := fs.Duration("check-interval", 5*time.Second, "how often to look for pending checks that another node accepted, "+
		"or whose runner died (this node's own new checks are run at once)")
	checkLease := fs.Duration("check-lease", facevault.DefaultCheckLease, "how long a node holds a check it runs: a check whose "+
		"node died is run by another once this has passed")
	faceIndexEvery := fs.Duration("face-index-interval", time.Minute, "how often the node holding the face index lease indexes newly "+
		"enrolled faces and rekeys the scopes that are due; 0 stops both on this node (faces not indexed are then opened "+
		"with their own keys, and if no node runs it, old face index keys are no longer destroyed)")
	faceIndexRekey := fs.Duration("face-index-rekey", facevault.DefaultFaceIndexRekey, "the longest a scope's face index key is "+
		"used: older, the index is re-sealed under a new key and the old key destroyed, so that a deleted face's copy in a "+
		"record-store backup is unreadable at most this long (plus --face-index-interval) after its deletion")
	faceIndexCells := fs.Int("face-index-cells", 0, "cells of a scope's face index partition; 0: the square root of its indexed faces")
	faceIndexMin := fs.Int("face-index-min-faces", facevault.DefaultFaceIndexMinFaces, "indexed faces from which a scope's face "+
		"index is partitioned; below, a search reads all of them")
	nprobe := nprobeFlag(-1)
	fs.Var(&nprobe, "face-search-nprobe", "cells of a partitioned face index that a search reads, nearest to the face first: "+
		"a number, or all (an exact search); default all on SQLite, "+strconv.Itoa(facevault.DefaultPostgresNProbe)+" on PostgreSQL")
	faceCache := bytesFlag(0)
	fs.Var(&faceCache, "face-search-cache", "memory in which a node on PostgreSQL keeps the face index pages it opened, so that a "+
		"search reads again only the pages that changed (bytes, or with a KiB, MiB or GiB suffix; about 190 MB holds a million "+
		"faces); default a quarter of --max-memory, at most half of it; 0 keeps none, and none is kept with --face-index-interval 0")
	quarantineFor := fs.Duration("quarantine-for", defaultQuarantineFor, "how long the sweep keeps the images it removes in quarantine "+
		"('facevault quarantine restore' brings them back) before it destroys them; 0 destroys them at once")
	maxMemory := bytesFlag(512 << 20)
	fs.Var(&maxMemory, "max-memory", "memory budget of the process (bytes, or with a KiB, MiB or GiB suffix): the Go runtime's soft "+
		"memory limit, half of which the liveness checks in progress may reserve for decoding and analysis; uploads wait for it")
	livenessOpts := addLivenessFlags(fs)
	refuse := fs.Bool("liveness-refusals", true, "refuse live-mode uploads in which the liveness check finds no face, several faces "+
		"or unreadable pixels (422); false records those findings like any other. Test-mode uploads are never refused")
	faceEmbeddings := fs.Bool("face-embeddings", true, "compute the face embedding of every upload in which the liveness check "+
		"finds one face, and keep it sealed with the photo, for the checks that compare faces (about 9 ms an upload with a face, "+
		"and some 30 MB more memory for the model); false leaves the model unloaded, and face checks then answer "+
		"422 face_data_unavailable")
	ageEstimation := fs.Bool("age-estimation", true, "run age estimation checks (age_estimation_check) with the embedded age model "+
		"(about 3 ms a check, 2 MB of memory); false refuses them as unavailable")
	metricsAddr := fs.String("metrics-addr", "", "serve GET /metrics (Prometheus) on this address only, apart from the API; "+
		"by default it is served on --addr, without a key")
	keyCacheTTL := fs.Duration("key-cache-ttl", facevault.DefaultKeyCacheTTL, "how long a node remembers an API key it looked up: "+
		"requests with it go on through a database outage that long, and a key revoked on another node is refused here within that "+
		"long. 0 looks every key up every time")
	minAge := fs.Int("min-age", facevault.DefaultMinimumAge, "the minimum age an age estimation check validates against: "+
		"clear when the estimated age is at least this")
	stripMetadata := fs.Bool("strip-metadata", false, "remove location and device metadata (EXIF with its GPS and maker notes, XMP, "+
		"IPTC, comments, PNG text chunks) from uploads before they are stored, keeping the pixels, the colour profile and the "+
		"orientation; the stored image, and the size and sha256 recorded, are then those of the stripped image")
	webhookAllow := fs.String("webhook-allow", "", "comma-separated host names and CIDR prefixes (an address alone is its own "+
		"prefix) that webhooks may call over http and at private, loopback or link-local addresses: internal receivers, tests. "+
		"Elsewhere a webhook URL must be https and resolve to public addresses only, checked at every connection")
	webhookTimeout := fs.Duration("webhook-timeout", facevault.DefaultWebhookTimeout, "how long a webhook delivery waits for "+
		"its receiver's answer before the attempt counts as failed")
	webhookLease := fs.Duration("webhook-lease", facevault.DefaultWebhookLease, "how long a node holds the webhook deliveries "+
		"it sends: a delivery whose node died is sent by another once this has passed; more than --webhook-timeout")
	webhookEvery := fs.Duration("webhook-interval", time.Second, "how often each node looks for webhook deliveries that are due")
	consoleOpts := addConsoleFlags(fs)
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
	if (*tlsCert == "") != (*tlsKey == "") {
		return fmt.Errorf("%w: --tls-cert and --tls-key go together", errUsage)
	}
	var certs *certReloader
	if *tlsCert != "" {
		var err error
		if certs, err = newCertReloader(*tlsCert, *tlsKey); err != nil {
			return err
		}
	}
	if *checkEvery <= 0 || *checkLease <= 0 {
		return fmt.Errorf("%w: --check-interval and --check-lease must be positive", errUsage)
	}
	if *webhookTimeout <= 0 || *webhookEvery <= 0 {
		return fmt.Errorf("%w: --webhook-timeout and --webhook-interval must be positive", errUsage)
	}
	if *webhookLease <= *webhookTimeout {
		return fmt.Errorf("%w: --webhook-lease must be longer than --webhook-timeout", errUsage)
	}
	webhookGuard, err := facevault.ParseWebhookAllow(*webhookAllow)
	if err != nil {
		return fmt.Errorf("%w: --webhook-allow: %v", errUsage, err)
	}
	if *keyCacheTTL < 0 {
		return fmt.Errorf("%w: --key-cache-ttl must not be negative", errUsage)
	}
	if *minAge < 1 || *minAge > 120 {
		return fmt.Errorf("%w: --min-age must be a whole number of years from 1 to 120", errUsage)
	}
	if err := consoleOpts.check(); err != nil {
		return err
	}
	if *faceIndexEvery < 0 {
		return fmt.Errorf("%w: --face-index-interval must not be negative", errUsage)
	}
	if *faceIndexRekey <= 0 {
		return fmt.Errorf("%w: --face-index-rekey must be positive", errUsage)
	}
	if *faceIndexCells < 0 || *faceIndexMin < 1 {
		return fmt.Errorf("%w: --face-index-cells must not be negative, --face-index-min-faces must be at least 1", errUsage)
	}
	logger, err := newLogger(c.Stderr, *logFormat, *logLevel)
	if err != nil {
		return err
	}
	logger.InfoContext(ctx, "configuration", configAttrs(fs)...)
	version, revision := buildVersion()
	mets := metrics.New(version, revision)
	stores.metrics = mets
	apiCfg := fvhttp.Config{
		MaxUploads:            *maxUploads,
		UploadQueueTimeout:    *queueTimeout,
		MaxUploadsPerAccount:  *perAccount,
		MaxUploadsInFlight:    *inFlight,
		MinBodyRate:           float64(*minBodyRate),
		BodyGrace:             *bodyGrace,
		RateLimit:             *rateLimit,
		RateBurst:             *rateBurst,
		AuthFailuresPerMinute: *authRate,
		AuthFailuresBurst:     *authBurst,
		AuthFailuresSources:   *authSources,
		TrustedProxies:        trustedProxies,
		Observer:              mets,
	}
	if *minBodyRate == 0 {
		apiCfg.MinBodyRate = -1 // no minimum
	}
	if err := checkLimits(
		limitFlag{name: "max-uploads", value: float64(*maxUploads), least: 1},
		limitFlag{name: "upload-queue-timeout", value: queueTimeout.Seconds(), positive: true},
		limitFlag{name: "max-uploads-per-account", value: float64(*perAccount)},
		limitFlag{name: "max-uploads-in-flight", value: float64(*inFlight)},
		limitFlag{name: "min-body-rate", value: float64(*minBodyRate)},
		limitFlag{name: "body-grace", value: bodyGrace.Seconds(), positive: true},
		limitFlag{name: "rate-limit", value: *rateLimit},
		limitFlag{name: "rate-burst", value: float64(*rateBurst)},
		limitFlag{name: "auth-failures-per-minute", value: *authRate},
		limitFlag{name: "auth-failures-burst", value: float64(*authBurst), least: 1},
		limitFlag{name: "auth-failures-sources", value: float64(*authSources), least: 1},
	); err != nil {
		return err
	}
	if per, all := cmp.Or(*perAccount, *maxUploads), cmp.Or(*inFlight, 8**maxUploads); per > all {
		what := fmt.Sprintf("--max-uploads-per-account (%d)", per)
		if *perAccount == 0 {
			what = fmt.Sprintf("--max-uploads (%d), the default of --max-uploads-per-account,", per)
		}
		return fmt.Errorf("%w: %s must not exceed --max-uploads-in-flight (%d)", errUsage, what, all)
	}

	if *quarantineFor < 0 {
		return fmt.Errorf("%w: --quarantine-for must not be negative", errUsage)
	}
	if err := livenessOpts.check(); err != nil {
		return err
	}
	if maxMemory < minMaxMemory {
		min := bytesFlag(minMaxMemory)
		return fmt.Errorf("%w: --max-memory must be at least %s", errUsage, min.String())
	}
	faceCacheSet := false
	fs.Visit(func(f *flag.Flag) { faceCacheSet = faceCacheSet || f.Name == "face-search-cache" })
	if !faceCacheSet {
		faceCache = maxMemory / 4
	}
	if faceCache > maxMemory/2 {
		return fmt.Errorf("%w: --face-search-cache must be at most half of --max-memory", errUsage)
	}
	// The runtime collects harder as the heap nears the budget; the
	// liveness checks, whose decoding is the one large allocation, reserve
	// from half of it and wait rather than exceed it.
	defer debug.SetMemoryLimit(debug.SetMemoryLimit(int64(maxMemory)))
	livenessCfg := liveness.DefaultConfig()
	livenessCfg.MemoryBudget = int64(maxMemory) / 2
	// Load the check before opening anything: a bad --pad-model stops
	// serve at once, with the stores untouched.
	analyzer, err := livenessOpts.analyzer(livenessCfg)
	if err != nil {
		return err
	}
	if *faceEmbeddings {
		// The embedding of the one face of a photo, computed with its
		// liveness check and kept sealed with its record, for the checks
		// that compare faces. Building the network leaves its encoded form
		// behind: give that memory back at once.
		embedder, err := faceid.New()
		if err != nil {
			return fmt.Errorf("load the face embedding model: %w", err)
		}
		debug.FreeOSMemory()
		analyzer.SetEmbedder(embedder.EmbedFace)
	}
	db, blobs, storeID, err := stores.openPair(ctx, checkSchema, false)
	if err != nil {
		return err
	}
	defer db.Close()
	defer blobs.close()
	// A master key made now is announced once serve listens: a serve
	// refused before then prints nothing.
	var newMaster bytes.Buffer
	keys, err := keyFlags.openKeyring(ctx, stores, storeID, createMaster, &newMaster)
	if err != nil {
		return err
	}
	defer keys.close()
	models := map[string]string{"liveness": analyzer.Engine()}
	if *faceEmbeddings {
		models["faceEmbeddings"] = faceid.Engine
	}
	if *ageEstimation {
		models["ageEstimation"] = faceage.Engine
	}
	logVersions(ctx, logger, db, models)
	vault := facevault.NewVault(db, blobs, logger)
	vault.Keys = keys
	vault.Analyzer = metrics.TimedAnalyzer{Analyzer: analyzer, M: mets}
	vault.Observer = mets
	vault.RefuseLive = *refuse
	vault.StripMetadata = *stripMetadata
	vault.MinimumAge = *minAge
	vault.Webhooks = facevault.WebhookOptions{Guard: webhookGuard, Timeout: *webhookTimeout}
	if *ageEstimation {
		ages, err := faceage.New()
		if err != nil {
			return fmt.Errorf("load the age estimation model: %w", err)
		}
		vault.Ages = faceage.ImageEstimator{Faces: analyzer, Ages: ages}
	}
	vault.FaceIndex = facevault.FaceIndexConfig{NProbe: nprobe.value(stores.postgres()), Cells: *faceIndexCells,
		MinFaces: *faceIndexMin, Rekey: *faceIndexRekey, PageCache: int64(faceCache)}
	if faceCache == 0 || *faceIndexEvery == 0 {
		// Without the rounds that check them, pages are not kept.
		vault.FaceIndex.PageCache = -1
	}
	sweeper := &sweeper{vault: vault, leases: db, logger: logger, holder: leaseHolder(), exclusive: blobs.exclusive,
		keepFor: 2 * *sweepEvery, quarantineFor: *quarantineFor}

	// Images whose upload died before its record committed. A sweep
	// refused for finding too many does not keep the service from
	// starting: it removed nothing, and says so in the log.
	if _, _, err := sweeper.sweep(ctx, true); err != nil && !sweeper.logRefusal(ctx, err) {
		return fmt.Errorf("start-up sweep: %w", err)
	}
	var apiKeys facevault.KeyStore = db
	if *keyCacheTTL > 0 {
		apiKeys = facevault.NewKeyCache(db, *keyCacheTTL, facevault.DefaultKeyCacheSize, nil)
	}
	api := fvhttp.NewServer(vault, apiKeys, logger, apiCfg)
	var handler http.Handler = api
	if *metricsAddr == "" {
		handler = withMetrics(api, mets.Handler())
	}
	// The review console: another client of the same vault, on the same
	// listener.
	consoleOpts.review.liveness = analyzer.Config()
	if handler, err = consoleOpts.mount(handler, vault, db, logger, *addr, certs != nil, trustedProxies); err != nil {
		return err
	}
	srv := fvhttp.NewHTTPServer(fvhttp.LoggedTrusting(handler, logger, trustedProxies), apiCfg, logger)
	// Requests keep ctx's values but not its cancellation: when ctx is
	// cancelled, Shutdown lets requests in flight finish.
	srv.BaseContext = func(net.Listener) context.Context { return context.WithoutCancel(ctx) }
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", *addr, err)
	}
	defer ln.Close()
	c.Stdout.Write(newMaster.Bytes())
	baseURL := "http://" + ln.Addr().String()
	if certs != nil {
		baseURL = "https://" + ln.Addr().String()
	}
	if err := c.bootstrap(ctx, db, baseURL, stores.keyDir()); err != nil {
		return err
	}
	// The metrics listener is up before serve says it listens.
	if *metricsAddr != "" {
		mln, err := net.Listen("tcp", *metricsAddr)
		if err != nil {
			return fmt.Errorf("listen on %s (--metrics-addr): %w", *metricsAddr, err)
		}
		mux := http.NewServeMux()
		mux.Handle("GET /metrics", mets.Handler())
		msrv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second, WriteTimeout: time.Minute}
		go msrv.Serve(mln)
		defer msrv.Close()
		logger.Info("metrics listening", "addr", mln.Addr().String())
	}
	logger.Info("FaceVault listening", "addr", ln.Addr().String(), "tls", certs != nil, "db", redact(stores.dbURL()), "blobs", stores.blobsURL(), "store", storeID)
	if c.OnListen != nil {
		c.OnListen(ln.Addr().String())
	}

	errc := make(chan error, 1)
	if certs != nil {
		srv.TLSConfig = certs.tlsConfig()
		go certs.reloadOnHangup(ctx, logger)
		go func() { errc <- srv.ServeTLS(fvhttp.NewListener(ln, logger), "", "") }()
	} else {
		go func() { errc <- srv.Serve(fvhttp.NewListener(ln, logger)) }()
	}
	// The periodic sweep must be over before the deferred closes run,
	// however Run returns.
	sweepCtx, stopSweep := context.WithCancel(ctx)
	var sweeping sync.WaitGroup
	defer sweeping.Wait()
	defer stopSweep()
	sweeping.Go(func() {
		// Once in the background at start: this sweep also encrypts the
		// images an earlier release stored in the clear (which the sweep
		// before listening leaves, not to delay the start).
		if _, _, err := sweeper.sweep(sweepCtx, false); err != nil && sweepCtx.Err() == nil && !sweeper.logRefusal(sweepCtx, err) {
			logger.ErrorContext(sweepCtx, "sweep failed", "err", err)
		}
		if *sweepEvery > 0 {
			sweeper.run(sweepCtx, *sweepEvery)
		}
	})
	// The purge destroys the images of deleted photos and clients: at once
	// for what a crash or an unreachable image store left queued, whenever a
	// client is deleted, and every --purge-interval for retries.
	sweeping.Go(func() { vault.RunPurge(sweepCtx, *purgeEvery) })
	// Checks accepted by any node of the store (a check is a row: one
	// accepted before a crash is run after it), each by the node that
	// holds its lease.
	sweeping.Go(func() { vault.RunChecks(sweepCtx, leaseHolder(), *checkEvery, *checkLease) })
	// Webhook deliveries from the outbox, on every node, each by the node
	// that holds its lease; never in a request's path.
	sweeping.Go(func() { vault.RunDeliveries(sweepCtx, leaseHolder(), *webhookEvery, *webhookLease) })
	// The face search index: one node at a time (under a lease) indexes
	// new enrolments and rekeys; searches work on every node meanwhile.
	if *faceIndexEvery > 0 {
		sweeping.Go(func() { vault.RunFaceIndex(sweepCtx, leaseHolder(), *faceIndexEvery, facevault.DefaultFaceIndexLease) })
	}
	// Photos stored before the review queue existed, whose sealed liveness
	// checks the record store cannot read, join the queue: once, at start.
	sweeping.Go(func() {
		n, err := vault.SummarizeLiveness(sweepCtx)
		if err != nil && sweepCtx.Err() == nil {
			logger.Error("liveness results not summarized for the review queue; retried at the next start", "err", err)
		} else if n > 0 {
			logger.Info("liveness results summarized for the review queue", "photos", n)
		}
	})
	// The audit log's counts of refused requests, appended every minute and
	// once more after the last request is answered: its context ends only
	// after Shutdown, whichever way Run returns.
	auditCtx, stopAudit := context.WithCancel(context.WithoutCancel(ctx))
	var auditing sync.WaitGroup
	defer auditing.Wait()
	defer stopAudit()
	auditing.Go(func() { api.RunAudit(auditCtx, time.Minute) })
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

// nprobeFlag is --face-search-nprobe: a number of cells, 0 for all of
// them, or -1 for the back end's default.
type nprobeFlag int

func (f *nprobeFlag) String() string {
	switch {
	case f == nil || *f < 0:
		return ""
	case *f == 0:
		return "all"
	}
	return strconv.Itoa(int(*f))
}

func (f *nprobeFlag) Set(v string) error {
	if v == "all" {
		*f = 0
		return nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 {
		return errors.New("want a number of cells (at least 1) or all")
	}
	*f = nprobeFlag(n)
	return nil
}

// value is the nprobe a vault is given: the back end's default unless set.
func (f nprobeFlag) value(postgres bool) int {
	switch {
	case f >= 0:
		return int(f)
	case postgres:
		return facevault.DefaultPostgresNProbe
	}
	return 0
}

// minMaxMemory is the least --max-memory: room for the service itself and
// for the largest liveness check (about 60 MB) in half of it.
const minMaxMemory = 128 << 20

// bytesFlag is a flag holding a size in bytes, written as a number of
// bytes or with a KiB, MiB or GiB suffix.
type bytesFlag int64

func (f *bytesFlag) String() string {
	if f == nil {
		return "0"
	}
	v := int64(*f)
	for _, u := range []struct {
		suffix string
		size   int64
	}{{"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}} {
		if v >= u.size && v%u.size == 0 {
			return strconv.FormatInt(v/u.size, 10) + u.suffix
		}
	}
	return strconv.FormatInt(v, 10)
}

func (f *bytesFlag) Set(s string) error {
	num, unit := s, int64(1)
	for _, u := range []struct {
		suffix string
		size   int64
	}{{"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}, {"B", 1}} {
		if n, ok := strings.CutSuffix(s, u.suffix); ok {
			num, unit = n, u.size
			break
		}
	}
	v, err := strconv.ParseInt(strings.TrimSpace(num), 10, 64)
	if err != nil || v < 0 || v > math.MaxInt64/unit {
		return fmt.Errorf("%q is not a size: want bytes, or a number with KiB, MiB or GiB", s)
	}
	*f = bytesFlag(v * unit)
	return nil
}

// prefixesFlag is a flag holding a comma-separated list of CIDR prefixes.
type prefixesFlag []netip.Prefix

func (f *prefixesFlag) String() string {
	if f == nil {
		return ""
	}
	s := make([]string, len(*f))
	for i, p := range *f {
		s[i] = p.String()
	}
	return strings.Join(s, ",")
}

func (f *prefixesFlag) Set(v string) error {
	ps, err := fvhttp.ParsePrefixes(v)
	if err != nil {
		return err
	}
	*f = ps
	return nil
}

// limitFlag is a numeric flag's value and the least it may be.
type limitFlag struct {
	name     string
	value    float64
	least    float64
	positive bool // more than least (0), not just as much
}

// checkLimits refuses a limit below its least value (or, if positive, not
// above it).
func checkLimits(flags ...limitFlag) error {
	for _, f := range flags {
		switch {
		case f.positive && f.value <= f.least:
			return fmt.Errorf("%w: --%s must be positive", errUsage, f.name)
		case f.value < f.least && f.least == 0:
			return fmt.Errorf("%w: --%s must not be negative", errUsage, f.name)
		case f.value < f.least:
			return fmt.Errorf("%w: --%s must be at least %v", errUsage, f.name, f.least)
		}
	}
	return nil
}

// bootstrapKeysFile is the file, in the key directory, where serve writes
// the keys it creates on first start.
const bootstrapKeysFile = "bootstrap-keys.txt"

// bootstrap creates an account and one key of each mode on first start,
// and writes them once to a file readable by this user only in dir, whose
// path it prints; it prints the keys themselves only when standard output
// is a terminal, so that they do not land in a service manager's or a
// container runtime's log.
func (c *ServeCommand) bootstrap(ctx context.Context, keys facevault.KeyStore, baseURL, dir string) error {
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
	text := fmt.Sprintf(`FaceVault created account "default" with two API keys. FaceVault keeps only their hashes.
  test key: %s
  live key: %s
Send a key as the Authorization header, for example:
  curl -H 'Authorization: %s' %s/v1/clients
Test and live keys see separate data. Make more with 'facevault keys create'.
`, test, live, test, baseURL)
	path := filepath.Join(dir, bootstrapKeysFile)
	if err := writeSecretFile(path, []byte(text)); err != nil {
		return fmt.Errorf("write the first API keys: %w", err)
	}
	fmt.Fprintf(c.Stdout, "FaceVault created account \"default\" with a test and a live API key, written to %s (readable by this user only). "+
		"Store them elsewhere and delete the file.\n", path)
	if isTerminal(c.Stdout) {
		io.WriteString(c.Stdout, text)
	}
	return nil
}

// writeSecretFile writes data to path, creating its directory (0700) if
// needed, as a file only its owner can read: written under a temporary
// name with mode 0600, synced, and renamed over path.
func writeSecretFile(path string, data []byte) error {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".*")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name()) // after a successful rename, a no-op
	if err := f.Chmod(0o600); err != nil {
		f.Close()
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(f.Name(), path)
}

// isTerminal reports whether w is a terminal (a character device).
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

func newLogger(w io.Writer, format, level string) (*slog.Logger, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("%w: --log-level: %v", errUsage, err)
	}
	opts := &slog.HandlerOptions{Level: l}
	switch format {
	case "text":
		return slog.New(fvhttp.RequestIDs(slog.NewTextHandler(w, opts))), nil
	case "json":
		return slog.New(fvhttp.RequestIDs(slog.NewJSONHandler(w, opts))), nil
	}
	return nil, fmt.Errorf("%w: --log-format must be text or json", errUsage)
}

// withMetrics serves GET /metrics from m and everything else from api.
func withMetrics(api, m http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/metrics" && (r.Method == http.MethodGet || r.Method == http.MethodHead) {
			w.Header().Set("Cache-Control", "no-store")
			m.ServeHTTP(w, r)
			return
		}
		api.ServeHTTP(w, r)
	})
}
