package main

import (
	"bufio"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/facevault/facevault/internal/testimage"
)

// rawExchange sends request bytes over a new TCP connection to addr and
// returns the answer's status, headers and JSON body.
func rawExchange(t *testing.T, addr string, request ...string) (int, http.Header, map[string]any) {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(30 * time.Second))
	for _, part := range request {
		if _, err := io.WriteString(conn, part); err != nil {
			t.Fatalf("send the request: %v", err)
		}
	}
	res, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("read the answer: %v", err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatalf("read the answer: %v", err)
	}
	if ct := res.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Errorf("%d answered with Content-Type %q, want JSON; body %q", res.StatusCode, ct, b)
	}
	var v map[string]any
	if err := json.Unmarshal(b, &v); err != nil {
		t.Errorf("%d answered with a body that is not a JSON object: %q", res.StatusCode, b)
	}
	return res.StatusCode, res.Header, v
}

// TestServeGuards runs serve with its guards tuned by flags and by the
// environment, and checks that each answers as configured, in JSON, and
// that none of it is logged as an error.
func TestServeGuards(t *testing.T) {
	clearEnv(t)
	t.Setenv("FACEVAULT_AUTH_FAILURES_BURST", "2")
	t.Setenv("FACEVAULT_BODY_GRACE", "200ms")
	s := startServe(t, append(serveArgs(t.TempDir()), "--min-body-rate", "1024")...)
	keys := s.bootstrapKeys(t)
	clientID := s.createClient(t, keys.test)

	t.Run("MalformedRequest", func(t *testing.T) {
		status, _, body := rawExchange(t, s.addr, "GET /v1/clients HTTP/1.1\r\n\r\n")
		if status != http.StatusBadRequest || body["type"] != "invalid_request" ||
			body["message"] != "The request is not valid HTTP: missing required Host header" {
			t.Errorf("request without Host: got %d %v, want the contract's 400", status, body)
		}
	})

	t.Run("StalledBody", func(t *testing.T) {
		img := testimage.JPEG(256, 256, 1)
		upload := `{"clientId":"` + clientID + `","data":"` + base64.StdEncoding.EncodeToString(img) + `"}`
		head := fmt.Sprintf("POST /v1/livePhotos HTTP/1.1\r\nHost: x\r\nAuthorization: %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n",
			keys.test, len(upload))
		status, hdr, body := rawExchange(t, s.addr, head, upload[:20])
		if status != http.StatusRequestTimeout || body["type"] != "request_timeout" {
			t.Errorf("stalled upload: got %d %v, want 408 request_timeout", status, body)
		}
		if hdr.Get("Retry-After") != "" {
			t.Errorf("a 408 with Retry-After %q", hdr.Get("Retry-After"))
		}
		s.uploadPhoto(t, keys.test, clientID, img) // a body sent at once is fine
	})

	t.Run("FailedAuthentications", func(t *testing.T) {
		bogus := "test_" + strings.Repeat("Z", 40)
		get := "GET /v1/clients HTTP/1.1\r\nHost: x\r\nAuthorization: %s\r\n\r\n"
		for i := range 2 {
			if status, _, body := rawExchange(t, s.addr, fmt.Sprintf(get, bogus)); status != http.StatusUnauthorized {
				t.Fatalf("failure %d: got %d %v, want 401", i+1, status, body)
			}
		}
		status, hdr, body := rawExchange(t, s.addr, fmt.Sprintf(get, keys.test))
		if status != http.StatusTooManyRequests || body["type"] != "rate_limit_exceeded" || hdr.Get("Retry-After") == "" {
			t.Errorf("after 2 failures (FACEVAULT_AUTH_FAILURES_BURST=2): got %d %v Retry-After %q, want 429 with Retry-After",
				status, body, hdr.Get("Retry-After"))
		}
	})

	s.stop(t)
	log := s.stderr.String()
	for _, want := range []string{"msg=\"malformed request\" status=400", "status=408", "status=429"} {
		if !strings.Contains(log, want) {
			t.Errorf("serve log lacks %q:\n%s", want, log)
		}
	}
	if strings.Contains(log, "level=ERROR") {
		t.Errorf("serve logged errors:\n%s", log)
	}
}
