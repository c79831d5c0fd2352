package http

import (
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"
)

// TestRequestIDFromProxy: a request id sent by a trusted proxy, if well
// formed, is the request's; from any other peer, or malformed, the server
// makes its own.
func TestRequestIDFromProxy(t *testing.T) {
	trusted := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}
	for _, tc := range []struct {
		name, remote, sent string
		trusted            []netip.Prefix
		kept               bool
	}{
		{"trusted proxy", "10.1.2.3:5000", "lb-7f3a.42:9", trusted, true},
		{"trusted proxy, IPv4 in IPv6", "[::ffff:10.1.2.3]:5000", "abc", trusted, true},
		{"untrusted peer", "192.0.2.1:5000", "abc", trusted, false},
		{"no trusted proxies", "10.1.2.3:5000", "abc", nil, false},
		{"malformed id", "10.1.2.3:5000", "a b", trusted, false},
		{"id too long", "10.1.2.3:5000", strings.Repeat("a", 129), trusted, false},
		{"no id", "10.1.2.3:5000", "", trusted, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest("GET", "/v1/clients", nil)
			r.RemoteAddr = tc.remote
			if tc.sent != "" {
				r.Header.Set(RequestIDHeader, tc.sent)
			}
			w := httptest.NewRecorder()
			got := RequestID(withRequestID(w, r, tc.trusted).Context())
			if (got == tc.sent) != tc.kept {
				t.Errorf("request id %q (sent %q), want the sent one: %v", got, tc.sent, tc.kept)
			}
			if got == "" || w.Header().Get(RequestIDHeader) != got {
				t.Errorf("request id %q, header %q", got, w.Header().Get(RequestIDHeader))
			}
		})
	}
	// The log line carries it too.
	var lines strings.Builder
	h := LoggedTrusting(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}), slog.New(slog.NewTextHandler(&lines, nil)), trusted)
	r := httptest.NewRequest("GET", "/healthz", nil)
	r.RemoteAddr = "10.0.0.9:1"
	r.Header.Set(RequestIDHeader, "from-the-proxy")
	h.ServeHTTP(httptest.NewRecorder(), r)
	if !strings.Contains(lines.String(), "requestId=from-the-proxy") {
		t.Errorf("log %q lacks the proxy's request id", lines.String())
	}
}

// TestRequestIDsInLogs: every record logged with a request's context
// carries its id, once, whether or not the caller added it.
func TestRequestIDsInLogs(t *testing.T) {
	var out strings.Builder
	logger := slog.New(RequestIDs(slog.NewTextHandler(&out, nil))).With("node", "a")
	w := httptest.NewRecorder()
	r := withRequestID(w, httptest.NewRequest("GET", "/", nil), nil)
	id := RequestID(r.Context())
	logger.InfoContext(r.Context(), "inside the request")
	logger.WarnContext(r.Context(), "said twice", "requestId", id)
	logger.Info("outside any request")
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != 3 {
		t.Fatalf("%d lines: %q", len(lines), out.String())
	}
	for i, want := range []int{1, 1, 0} {
		if got := strings.Count(lines[i], "requestId="+id); got != want {
			t.Errorf("line %q has the request id %d times, want %d", lines[i], got, want)
		}
		if !strings.Contains(lines[i], "node=a") {
			t.Errorf("line %q lost the logger's attributes", lines[i])
		}
	}
}
