package http

import (
	"fmt"
	"net/netip"
	"runtime"
	"testing"
	"time"

	"github.com/facevault/facevault"
)

func TestFailureLimiter(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	l := newFailureLimiter(10, 3, 100) // 10 a minute: a token every 6s
	a := sourceKey(netip.MustParseAddr("192.0.2.1"))
	b := sourceKey(netip.MustParseAddr("192.0.2.2"))
	for i := range 3 {
		if _, ok := l.allow(a, now); !ok {
			t.Fatalf("failure %d of a burst of 3 refused", i+1)
		}
		l.fail(a, now)
	}
	wait, ok := l.allow(a, now)
	if ok || wait != 6*time.Second {
		t.Fatalf("after 3 failures: allow = %v, %v; want refused for 6s", wait, ok)
	}
	if _, ok := l.allow(b, now); !ok {
		t.Errorf("another address is refused")
	}
	// Checking takes nothing: a source that keeps asking is refused as
	// long, no longer.
	for range 10 {
		l.allow(a, now.Add(3*time.Second))
	}
	if wait, ok := l.allow(a, now.Add(3*time.Second)); ok || wait != 3*time.Second {
		t.Errorf("3s later: allow = %v, %v; want refused for 3s", wait, ok)
	}
	if _, ok := l.allow(a, now.Add(6*time.Second)); !ok {
		t.Fatalf("6s later: refused, want one token back")
	}
	l.fail(a, now.Add(6*time.Second))
	if _, ok := l.allow(a, now.Add(6*time.Second)); ok {
		t.Errorf("the token that came back was taken, but allow still allows")
	}
	// A long quiet spell refills the bucket to its burst, no more.
	later := now.Add(time.Hour)
	for i := range 3 {
		if _, ok := l.allow(a, later); !ok {
			t.Fatalf("an hour later: failure %d of 3 refused", i+1)
		}
		l.fail(a, later)
	}
	if _, ok := l.allow(a, later); ok {
		t.Errorf("an hour later: a 4th failure allowed; the bucket holds 3")
	}
}

// TestFailureLimiterBounded fails from far more sources than tracked: the
// limiter never holds more than its cap, keeps the most recent, and
// forgets the oldest.
func TestFailureLimiterBounded(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	const max = 1000
	l := newFailureLimiter(10, 1, max)
	src := func(i int) netip.Prefix {
		return sourceKey(netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)}))
	}
	for i := range 50 * max {
		l.fail(src(i), now)
		if n := l.len(); n > max {
			t.Fatalf("after %d sources: %d tracked, want at most %d", i+1, n, max)
		}
	}
	if _, ok := l.allow(src(50*max-1), now); ok {
		t.Errorf("the latest source is no longer limited")
	}
	if _, ok := l.allow(src(0), now); !ok {
		t.Errorf("the oldest source is still tracked")
	}
}

func TestSourceKey(t *testing.T) {
	for _, tc := range []struct{ a, b string }{
		{"2001:db8:1:2:aaaa::1", "2001:db8:1:2:ffff:1:2:3"},
		{"192.0.2.7", "::ffff:192.0.2.7"},
		{"fe80::1%eth0", "fe80::2"},
	} {
		if ka, kb := sourceKey(netip.MustParseAddr(tc.a)), sourceKey(netip.MustParseAddr(tc.b)); ka != kb {
			t.Errorf("%s and %s count apart (%v, %v), want together", tc.a, tc.b, ka, kb)
		}
	}
	for _, tc := range []struct{ a, b string }{
		{"2001:db8:1:2::1", "2001:db8:1:3::1"},
		{"192.0.2.7", "192.0.2.8"},
	} {
		if ka, kb := sourceKey(netip.MustParseAddr(tc.a)), sourceKey(netip.MustParseAddr(tc.b)); ka == kb {
			t.Errorf("%s and %s count together (%v), want apart", tc.a, tc.b, ka)
		}
	}
}

func TestClientAddr(t *testing.T) {
	trusted, err := ParsePrefixes("10.0.0.0/8, 2001:db8::/32,192.0.2.1")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, remote string
		xff          []string
		want         string
	}{
		{"NoHeader", "203.0.113.9:5000", nil, "203.0.113.9"},
		{"UntrustedPeerHeaderIgnored", "203.0.113.9:5000", []string{"198.51.100.1"}, "203.0.113.9"},
		{"TrustedPeer", "10.1.2.3:5000", []string{"198.51.100.1"}, "198.51.100.1"},
		{"TrustedPeerNoHeader", "10.1.2.3:5000", nil, "10.1.2.3"},
		{"RightmostUntrusted", "10.1.2.3:5000", []string{"1.1.1.1, 198.51.100.1, 10.9.9.9"}, "198.51.100.1"},
		{"SpoofedLeftIgnored", "10.1.2.3:5000", []string{"10.5.5.5", "198.51.100.1"}, "198.51.100.1"},
		{"SeveralHeaders", "10.1.2.3:5000", []string{"198.51.100.7", "10.2.2.2"}, "198.51.100.7"},
		{"AllTrusted", "10.1.2.3:5000", []string{"10.4.4.4, 192.0.2.1"}, "10.4.4.4"},
		{"MalformedEndsAtTrustedHop", "10.1.2.3:5000", []string{"198.51.100.1, garbage, 10.7.7.7"}, "10.7.7.7"},
		{"WithPort", "10.1.2.3:5000", []string{"198.51.100.1:4711"}, "198.51.100.1"},
		{"IPv6", "[2001:db8::5]:443", []string{"2001:db8:ffff::1, [2a00:1450::1]:80"}, "2a00:1450::1"},
		{"MappedPeer", "[::ffff:10.1.2.3]:5000", []string{"198.51.100.1"}, "198.51.100.1"},
		{"UnreadablePeer", "@", []string{"198.51.100.1"}, "invalid IP"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := clientAddr(tc.remote, tc.xff, trusted).String(); got != tc.want {
				t.Errorf("clientAddr(%q, %q) = %s, want %s", tc.remote, tc.xff, got, tc.want)
			}
		})
	}
}

func TestParsePrefixes(t *testing.T) {
	got, err := ParsePrefixes(" 10.1.2.3/8 ,, ::1, 2001:db8::/32")
	if err != nil {
		t.Fatal(err)
	}
	want := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("::1/128"), netip.MustParsePrefix("2001:db8::/32")}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("got %v, want %v", got, want)
	}
	if ps, err := ParsePrefixes(""); err != nil || len(ps) != 0 {
		t.Errorf("empty list: got %v, %v", ps, err)
	}
	for _, bad := range []string{"10.0.0.0/33", "example.com", "10.0.0.0/8;", "fe80::1%eth0", "1.2.3"} {
		if _, err := ParsePrefixes(bad); err == nil {
			t.Errorf("ParsePrefixes(%q) succeeded, want an error", bad)
		}
	}
}

func TestInflight(t *testing.T) {
	a := facevault.Scope{AccountID: "a", Mode: facevault.ModeTest}
	aLive := facevault.Scope{AccountID: "a", Mode: facevault.ModeLive}
	b := facevault.Scope{AccountID: "b", Mode: facevault.ModeTest}
	f := newInflight(2, 3)
	a1, err1 := f.enter(a)
	a2, err2 := f.enter(a)
	if err1 != nil || err2 != nil {
		t.Fatalf("two uploads of a: %v, %v", err1, err2)
	}
	if _, err := f.enter(a); facevault.ErrorCode(err) != facevault.ERateLimited {
		t.Fatalf("a third upload of a: got %v, want %s", err, facevault.ERateLimited)
	}
	bRelease, err := f.enter(b)
	if err != nil {
		t.Fatalf("an upload of b while a is at its bound: %v", err)
	}
	if _, err := f.enter(aLive); facevault.ErrorCode(err) != facevault.ERateLimited {
		t.Fatalf("a fourth upload on the node: got %v, want %s", err, facevault.ERateLimited)
	}
	a1()
	a1() // harmless
	if f.n[a] != 1 || f.all != 2 {
		t.Fatalf("after one release (twice): a has %d, node %d; want 1 and 2", f.n[a], f.all)
	}
	release, err := f.enter(aLive)
	if err != nil {
		t.Fatalf("a's live mode counts apart: %v", err)
	}
	release()
	a2()
	bRelease()
	if len(f.n) != 0 || f.all != 0 {
		t.Errorf("after every release: %v, %d in all; want none", f.n, f.all)
	}
}

// BenchmarkFailureLimiterMemory reports the memory a tracked source costs.
func BenchmarkFailureLimiterMemory(b *testing.B) {
	const n = 65536
	now := time.Now()
	var before, after runtime.MemStats
	for b.Loop() {
		runtime.GC()
		runtime.ReadMemStats(&before)
		l := newFailureLimiter(10, 20, n)
		for i := range n {
			l.fail(sourceKey(netip.AddrFrom16([16]byte{0x20, 0x01, 0x0d, 0xb8, byte(i >> 8), byte(i)})), now)
		}
		runtime.GC()
		runtime.ReadMemStats(&after)
		b.ReportMetric(float64(after.HeapAlloc-before.HeapAlloc)/n, "B/source")
		b.ReportMetric(float64(after.HeapAlloc-before.HeapAlloc)/(1<<20), "MiB/65536-sources")
		runtime.KeepAlive(l)
	}
}
