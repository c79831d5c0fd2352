package main

import (
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"time"

	"github.com/facevault/facevault"
	"github.com/facevault/facevault/console"
)

// consoleFlags are serve's flags for the review console.
type consoleFlags struct {
	enabled     *bool
	idle        *time.Duration
	lifetime    *time.Duration
	maxFailures *int
	lockout     *time.Duration
	https       *bool
	review      *reviewFlags
}

func addConsoleFlags(fs *flag.FlagSet) *consoleFlags {
	return &consoleFlags{
		enabled: fs.Bool("console", true, "serve the review console at /console/ on --addr (sign in with a user from 'facevault users create')"),
		idle:    fs.Duration("console-idle-timeout", console.DefaultIdleTimeout, "a console session not used for this long ends"),
		lifetime: fs.Duration("console-session-lifetime", console.DefaultLifetime, "a console session ends this long after sign-in, "+
			"used or not"),
		maxFailures: fs.Int("console-max-failures", console.DefaultMaxFailures, "failed sign-ins in a row that lock a console user out"),
		lockout:     fs.Duration("console-lockout", console.DefaultLockout, "how long a console user is locked out after --console-max-failures"),
		https: fs.Bool("console-https", false, "browsers reach the console over HTTPS through a proxy that terminates TLS: "+
			"its session cookie is then Secure (__Host-fv_session) although this server speaks plain HTTP. "+
			"With --tls-cert it always is"),
		review: addReviewFlags(fs),
	}
}

// check refuses settings that make no sense.
func (f *consoleFlags) check() error {
	if *f.idle <= 0 || *f.lifetime <= 0 || *f.lockout <= 0 || *f.maxFailures < 1 {
		return fmt.Errorf("%w: --console-idle-timeout, --console-session-lifetime and --console-lockout must be positive, "+
			"--console-max-failures at least 1", errUsage)
	}
	return nil
}

// mount returns api with the console (if enabled) serving /console and
// everything under it.
// A console served over plain HTTP on an address that is not loopback
// (without --console-https) is logged as a warning: its session cookie
// would cross the network in the clear.
func (f *consoleFlags) mount(api http.Handler, vault *facevault.Vault, db facevault.Store, logger *slog.Logger, addr string, tls bool,
	trusted []netip.Prefix) (http.Handler, error) {
	if !*f.enabled {
		return api, nil
	}
	if !tls && !*f.https && !loopback(addr) {
		logger.Warn("the console is served over plain HTTP on an address that is not loopback: its sign-in and session cookie "+
			"cross the network in the clear. Serve it with --tls-cert, or behind a proxy that terminates TLS with --console-https",
			"addr", addr)
	}
	events := &consoleEvents{}
	c, err := console.New(vault, db, db, logger, console.Config{
		IdleTimeout: *f.idle, Lifetime: *f.lifetime, MaxFailures: *f.maxFailures, Lockout: *f.lockout, HTTPS: *f.https,
		Events: events, TrustedProxies: trusted,
	})
	if err != nil {
		return nil, err
	}
	events.EventRecorder = f.review.apply(c, vault, db)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/console" || strings.HasPrefix(r.URL.Path, "/console/") {
			c.ServeHTTP(w, r)
			return
		}
		api.ServeHTTP(w, r)
	}), nil
}

// loopback reports whether addr (host:port) is on a loopback address.
func loopback(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if host == "localhost" {
		return true
	}
	ip, err := netip.ParseAddr(host)
	return err == nil && ip.IsLoopback()
}

// consoleEvents is the console's event recorder, set once the console is
// made (the audit log's, see reviewFlags.apply).
type consoleEvents struct{ console.EventRecorder }
