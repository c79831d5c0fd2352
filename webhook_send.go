package facevault

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Webhook delivery schedule, as ComplyCube's: an attempt waits at most
// DefaultWebhookTimeout for an answer; a failed delivery is retried up to
// MaxWebhookRetries times, WebhookRetryDelay apart, and then fails, and
// its webhook is disabled.
const (
	DefaultWebhookTimeout = 15 * time.Second
	MaxWebhookRetries     = 10
	// DefaultWebhookLease is how long a sender holds the deliveries it
	// claimed: more than the timeout, so that no other node sends them
	// while an attempt is still waiting for its answer.
	DefaultWebhookLease = time.Minute
	// webhookBatch is how many deliveries a sender claims, and sends at
	// once.
	webhookBatch = 8
	// maxWebhookAnswer is how much of a receiver's answer is read.
	maxWebhookAnswer = 4 << 10
	// WebhookHistory is how long a delivery that ended (succeeded or
	// failed) stays listed: RunDeliveries prunes older ones every
	// hour, with their events.
	WebhookHistory = 30 * 24 * time.Hour
	// pruneBatch bounds the deliveries one prune transaction deletes.
	pruneBatch = 1000
)

// WebhookRetryDelay is how long a delivery waits after its n-th failed
// attempt: 60 s × 2^(n−1) (60 s, 120 s, 240 s, … about 8.5 hours after the
// tenth).
func WebhookRetryDelay(n int) time.Duration {
	if n < 1 {
		n = 1
	}
	return time.Minute << min(n-1, 20)
}

// WebhookOptions configure webhooks: which addresses they may call, and
// how deliveries are sent.
type WebhookOptions struct {
	// Guard decides which URLs a webhook may have and which addresses a
	// delivery may connect to; nil allows public https URLs only. Set it
	// before the first delivery: the sender keeps the one it finds then.
	Guard *WebhookGuard
	// Timeout bounds an attempt, from connecting to the end of the answer's
	// headers (DefaultWebhookTimeout when 0).
	Timeout time.Duration
}

// WebhookGuard keeps webhooks off the operator's network: a webhook URL must
// be https, and its host must resolve to public addresses only, both when
// the webhook is saved and at every connection a delivery makes (the
// address actually dialled is checked, so that a DNS answer that changes
// cannot send a delivery inside). Hosts and networks the operator allows
// (serve --webhook-allow) are exempt from both rules.
type WebhookGuard struct {
	// Hosts are host names (or IP literals) exempt, lower case.
	Hosts []string
	// Networks are address ranges exempt.
	Networks []netip.Prefix
	// LookupIP resolves a host name; nil uses the system resolver.
	LookupIP func(ctx context.Context, host string) ([]netip.Addr, error)
}

// ParseWebhookAllow parses a comma-separated list of host names and CIDR
// prefixes (an address alone is a prefix of its full length) into a guard.
func ParseWebhookAllow(list string) (*WebhookGuard, error) {
	g := &WebhookGuard{}
	for item := range strings.SplitSeq(list, ",") {
		item = strings.TrimSpace(item)
		if item == "" {
			continue
		}
		if p, err := netip.ParsePrefix(item); err == nil {
			g.Networks = append(g.Networks, p.Masked())
			continue
		}
		if a, err := netip.ParseAddr(strings.Trim(item, "[]")); err == nil {
			g.Networks = append(g.Networks, netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen()))
			continue
		}
		if strings.ContainsAny(item, "/:[] ") {
			return nil, fmt.Errorf("webhook allow list: %q is neither a host name nor a CIDR prefix", item)
		}
		g.Hosts = append(g.Hosts, strings.ToLower(strings.TrimSuffix(item, ".")))
	}
	return g, nil
}

// hostAllowed reports whether host is exempt: named, or an address in an
// exempt network.
func (g *WebhookGuard) hostAllowed(host string) bool {
	if slices.Contains(g.Hosts, strings.TrimSuffix(host, ".")) {
		return true
	}
	if a, err := netip.ParseAddr(host); err == nil {
		return g.inNetworks(a)
	}
	return false
}

func (g *WebhookGuard) inNetworks(a netip.Addr) bool {
	a = a.Unmap()
	for _, p := range g.Networks {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// addrAllowed reports whether a delivery may connect to a: a public
// address, or one in an exempt network.
func (g *WebhookGuard) addrAllowed(a netip.Addr) bool {
	return publicAddr(a) || g.inNetworks(a)
}

// nonPublic are ranges that are not the public internet, beyond those
// netip.Addr's predicates name.
var nonPublic = []netip.Prefix{
	netip.MustParsePrefix("0.0.0.0/8"),       // "this network"
	netip.MustParsePrefix("100.64.0.0/10"),   // carrier-grade NAT
	netip.MustParsePrefix("192.0.0.0/24"),    // IETF protocol assignments
	netip.MustParsePrefix("198.18.0.0/15"),   // benchmarking
	netip.MustParsePrefix("240.0.0.0/4"),     // reserved, broadcast
	netip.MustParsePrefix("64:ff9b:1::/48"),  // local-use NAT64
	netip.MustParsePrefix("2001:db8::/32"),   // documentation
	netip.MustParsePrefix("fec0::/10"),       // site-local (deprecated)
	netip.MustParsePrefix("100::/64"),        // discard
	netip.MustParsePrefix("2002::/16"),       // 6to4, which may embed any IPv4 address
	netip.MustParsePrefix("64:ff9b::/96"),    // NAT64, likewise
	netip.MustParsePrefix("::ffff:0:0/96"),   // IPv4-mapped (checked unmapped)
	netip.MustParsePrefix("2001::/32"),       // Teredo
	netip.MustParsePrefix("192.88.99.0/24"),  // 6to4 relay anycast
	netip.MustParsePrefix("198.51.100.0/24"), // documentation
	netip.MustParsePrefix("203.0.113.0/24"),  // documentation
	netip.MustParsePrefix("192.0.2.0/24"),    // documentation
}

// publicAddr reports whether a is a public unicast address: not loopback,
// private, link-local, unspecified, multicast or otherwise reserved.
func publicAddr(a netip.Addr) bool {
	a = a.Unmap()
	if !a.IsValid() || a.IsLoopback() || a.IsPrivate() || a.IsLinkLocalUnicast() || a.IsLinkLocalMulticast() ||
		a.IsInterfaceLocalMulticast() || a.IsMulticast() || a.IsUnspecified() {
		return false
	}
	for _, p := range nonPublic {
		if p.Contains(a) {
			return false
		}
	}
	return true
}

// lookup resolves host: an address literal is itself.
func (g *WebhookGuard) lookup(ctx context.Context, host string) ([]netip.Addr, error) {
	if a, err := netip.ParseAddr(host); err == nil {
		return []netip.Addr{a.Unmap()}, nil
	}
	if g.LookupIP != nil {
		return g.LookupIP(ctx, host)
	}
	addrs, err := net.DefaultResolver.LookupNetIP(ctx, "ip", host)
	for i := range addrs {
		addrs[i] = addrs[i].Unmap()
	}
	return addrs, err
}

// CheckURL checks a webhook URL as it is saved: an absolute https URL (http
// only for an exempt host) without credentials, whose host resolves, to
// public addresses only unless exempt. The error is EInvalid with param url.
func (g *WebhookGuard) CheckURL(ctx context.Context, raw string) error {
	u, err := url.Parse(raw)
	if err != nil || !u.IsAbs() || u.Host == "" || u.Opaque != "" {
		return Invalid("url", "The 'url' must be an absolute https URL")
	}
	if len(raw) > 2048 {
		return Invalid("url", "The 'url' must be at most 2048 characters")
	}
	if u.User != nil {
		return Invalid("url", "The 'url' must not carry a user name or password")
	}
	host := hostOf(u)
	exempt := g.hostAllowed(host)
	switch {
	case u.Scheme == "https":
	case u.Scheme == "http" && exempt:
	default:
		return Invalid("url", "The 'url' must use https")
	}
	if exempt {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	addrs, err := g.lookup(ctx, host)
	if err != nil || len(addrs) == 0 {
		return Invalid("url", "The host of the 'url' (%s) does not resolve", Clip(host))
	}
	for _, a := range addrs {
		if !g.addrAllowed(a) {
			return Invalid("url", "The host of the 'url' (%s) resolves to a private, loopback or link-local address, "+
				"which webhooks may not call", Clip(host))
		}
	}
	return nil
}

// errAddrRefused is a connection refused by the guard.
var errAddrRefused = errors.New("webhook: address refused: not a public address")

// exemptKey marks a request's context: its host is exempt.
type exemptKey struct{}

// dial connects for a delivery: it resolves the host itself and checks,
// as the socket connects, every address it dials.
func (g *WebhookGuard) dial(ctx context.Context, network, addr string) (net.Conn, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, err
	}
	exempt, _ := ctx.Value(exemptKey{}).(bool)
	addrs, err := g.lookup(ctx, strings.ToLower(host))
	if err != nil {
		return nil, fmt.Errorf("webhook: resolve %s: %w", host, err)
	}
	if len(addrs) == 0 {
		return nil, fmt.Errorf("webhook: resolve %s: no address", host)
	}
	d := net.Dialer{Control: func(_, address string, _ syscall.RawConn) error {
		ap, err := netip.ParseAddrPort(address)
		if err != nil {
			return fmt.Errorf("webhook: dial %s: %w", address, err)
		}
		if !exempt && !g.addrAllowed(ap.Addr()) {
			return fmt.Errorf("%w (%s)", errAddrRefused, ap.Addr())
		}
		return nil
	}}
	var errs []error
	for _, a := range addrs {
		conn, err := d.DialContext(ctx, network, net.JoinHostPort(a.String(), port))
		if err == nil {
			return conn, nil
		}
		errs = append(errs, err)
	}
	return nil, errors.Join(errs...)
}

// webhookClient returns the HTTP client deliveries are sent with: no
// proxy, no redirects followed, every connection through the guard.
func webhookClient(g *WebhookGuard) *http.Client {
	return &http.Client{
		Transport: &http.Transport{
			DialContext:           g.dial,
			ForceAttemptHTTP2:     true,
			MaxIdleConnsPerHost:   2,
			IdleConnTimeout:       30 * time.Second,
			TLSHandshakeTimeout:   10 * time.Second,
			ResponseHeaderTimeout: 0, // the attempt's own timeout bounds it
		},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// Sender sends webhook deliveries from the outbox. Every node runs one
// (RunDeliveries); each delivery is attempted by the node holding its
// lease.
type Sender struct {
	v      *Vault
	guard  *WebhookGuard
	client *http.Client
}

// sender returns the Vault's sender, made on first use.
func (v *Vault) sender() *Sender {
	v.senderOnce.Do(func() {
		g := v.guard()
		v.send = &Sender{v: v, guard: g, client: webhookClient(g)}
	})
	return v.send
}

func (v *Vault) webhookTimeout() time.Duration {
	if v.Webhooks.Timeout > 0 {
		return v.Webhooks.Timeout
	}
	return DefaultWebhookTimeout
}

// RunDeliveries sends due webhook deliveries until ctx is done, at most
// 8 at once: whenever a send slot is free it claims due deliveries for the
// free slots, under holder's name with a lease of ttl, sends each in its
// own goroutine and records the outcome. It looks for due deliveries every
// interval, and as soon as a slot frees. It never runs in a request's path:
// a slow receiver holds one slot for at most the timeout, and nothing
// else. It returns once the sends in flight have ended.
func (v *Vault) RunDeliveries(ctx context.Context, holder string, every, ttl time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	prune := time.NewTicker(time.Hour)
	defer prune.Stop()
	v.pruneDeliveries(ctx)
	busy := make(chan struct{}, webhookBatch)  // one token per send in flight
	freed := make(chan struct{}, webhookBatch) // a send has ended
	var sends sync.WaitGroup
	defer sends.Wait()
	for {
		if free := webhookBatch - len(busy); free > 0 && ctx.Err() == nil {
			ds, err := v.Store.ClaimDeliveries(ctx, holder, v.Now(), ttl, free)
			if err != nil && ctx.Err() == nil {
				v.Logger.ErrorContext(ctx, "claim webhook deliveries", "err", err)
			}
			for _, d := range ds {
				busy <- struct{}{}
				sends.Go(func() {
					defer func() {
						<-busy
						select {
						case freed <- struct{}{}:
						default:
						}
					}()
					if err := v.deliver(ctx, d, holder); err != nil && ctx.Err() == nil {
						v.Logger.ErrorContext(ctx, "webhook delivery", "err", err)
					}
				})
			}
			if err == nil && len(ds) == free {
				continue // there may be more due: claim again once a slot frees
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-freed:
		case <-prune.C:
			v.pruneDeliveries(ctx)
		}
	}
}

// pruneDeliveries deletes the deliveries that ended more than
// WebhookHistory ago, with their events, in batches.
func (v *Vault) pruneDeliveries(ctx context.Context) {
	before := v.Now().Add(-WebhookHistory)
	total := 0
	for ctx.Err() == nil {
		n, err := v.Store.PruneDeliveries(ctx, before, pruneBatch)
		total += n
		if err != nil {
			if ctx.Err() == nil {
				v.Logger.ErrorContext(ctx, "prune webhook deliveries", "err", err)
			}
			break
		}
		if n < pruneBatch {
			break
		}
	}
	if total > 0 {
		v.Logger.InfoContext(ctx, "pruned webhook deliveries", "deliveries", total, "endedBefore", before)
	}
}

// SendDeliveries claims the deliveries due now (at most 8), sends them
// concurrently, records their outcomes and returns how many it claimed,
// once all are done: one round of RunDeliveries, for tools and tests.
func (v *Vault) SendDeliveries(ctx context.Context, holder string, ttl time.Duration) (int, error) {
	ds, err := v.Store.ClaimDeliveries(ctx, holder, v.Now(), ttl, webhookBatch)
	if err != nil {
		return 0, fmt.Errorf("claim deliveries: %w", err)
	}
	var wg sync.WaitGroup
	errs := make([]error, len(ds))
	for i, d := range ds {
		wg.Go(func() { errs[i] = v.deliver(ctx, d, holder) })
	}
	wg.Wait()
	return len(ds), errors.Join(errs...)
}

// deliver makes one attempt at d and records it.
func (v *Vault) deliver(ctx context.Context, d *Delivery, holder string) error {
	status, sendErr := v.sender().post(ctx, d, v.webhookTimeout())
	if ctx.Err() != nil {
		return nil // shutting down: the lease runs out and another attempt follows
	}
	r := DeliveryResult{At: v.Now(), Status: status, Succeeded: sendErr == nil}
	log := v.Logger.With("deliveryId", d.ID, "webhookId", d.WebhookID, "eventId", d.EventID, "attempt", d.Attempts)
	if sendErr != nil {
		r.Error = attemptError(sendErr)
		if d.Attempts > MaxWebhookRetries {
			r.DisabledReason = fmt.Sprintf("Disabled after %d failed attempts at delivering event %s: %s", d.Attempts, d.EventID, r.Error)
			log.WarnContext(ctx, "webhook delivery failed for the last time; webhook disabled", "err", sendErr)
		} else {
			r.Next = r.At.Add(WebhookRetryDelay(d.Attempts))
			log.InfoContext(ctx, "webhook delivery failed; retrying later", "retryAt", r.Next, "err", sendErr)
		}
	} else {
		log.DebugContext(ctx, "webhook delivered", "status", status)
	}
	err := v.Store.FinishDelivery(ctx, d, holder, r)
	if errors.Is(err, ErrNotFound) {
		log.WarnContext(ctx, "webhook delivery finished elsewhere or gone")
		return nil
	}
	if err != nil {
		err = fmt.Errorf("delivery %s: record attempt: %w", d.ID, err)
		v.observeBackground(ctx, "webhooks", 0, err)
		return err
	}
	if r.Succeeded {
		v.observeBackground(ctx, "webhooks", 1, nil)
	} else {
		v.observeBackground(ctx, "webhookFailures", 1, nil)
	}
	return nil
}

// maxAttemptError bounds the error recorded of an attempt, in bytes.
const maxAttemptError = 500

// attemptError is what a delivery records of a failed attempt: the cause,
// without the request's method and URL, at most maxAttemptError bytes of
// valid UTF-8.
func attemptError(err error) string {
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	s := strings.ToValidUTF8(err.Error(), "\uFFFD")
	if len(s) > maxAttemptError {
		s = strings.ToValidUTF8(s[:maxAttemptError], "")
	}
	return s
}

// post sends d's body to its URL, signed, and returns the status of the
// answer: an error unless 2xx.
func (s *Sender) post(ctx context.Context, d *Delivery, timeout time.Duration) (int, error) {
	u, err := url.Parse(d.URL)
	if err != nil {
		return 0, fmt.Errorf("webhook url: %w", err)
	}
	exempt := s.guard.hostAllowed(hostOf(u))
	if u.Scheme != "https" && !(u.Scheme == "http" && exempt) {
		return 0, errors.New("webhook url: not https")
	}
	ctx, cancel := context.WithTimeout(context.WithValue(ctx, exemptKey{}, exempt), timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, d.URL, bytes.NewReader(d.Body))
	if err != nil {
		return 0, fmt.Errorf("webhook request: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "FaceVault-Webhooks/1")
	req.Header.Set(SignatureHeader, SignWebhook(d.Secret, d.Body))
	resp, err := s.client.Do(req)
	if err != nil {
		if errors.Is(err, context.DeadlineExceeded) {
			return 0, fmt.Errorf("no answer within %s", timeout)
		}
		return 0, err
	}
	defer resp.Body.Close()
	io.Copy(io.Discard, io.LimitReader(resp.Body, maxWebhookAnswer))
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return resp.StatusCode, fmt.Errorf("answered %d", resp.StatusCode)
	}
	return resp.StatusCode, nil
}
