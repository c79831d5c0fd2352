package http_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/facevault/facevault/internal/apitest"
)

// rawConn is a TCP connection to the test server on which the test writes
// the request's bytes itself: a body can be sent piece by piece, stalled,
// or cut off, and the answer read whenever it comes.
type rawConn struct {
	conn    net.Conn
	answerc chan rawAnswer
	closedc chan error // what the read after the answer returned

	mu       sync.Mutex
	answered bool
}

type rawAnswer struct {
	resp *response
	err  error
}

// dial connects to the test server, from the loopback address local if
// it is not "".
func (e *testEnv) dial(t testing.TB, local string) *rawConn {
	t.Helper()
	d := net.Dialer{Timeout: 5 * time.Second}
	if local != "" {
		d.LocalAddr = &net.TCPAddr{IP: net.ParseIP(local)}
	}
	conn, err := d.Dial("tcp", e.srv.Listener.Addr().String())
	if err != nil {
		t.Fatalf("dial the server: %v", err)
	}
	t.Cleanup(func() { conn.Close() })
	c := &rawConn{conn: conn, answerc: make(chan rawAnswer, 1), closedc: make(chan error, 1)}
	go c.read()
	return c
}

// read reads one answer, then waits for the server to close the
// connection (or the test to).
func (c *rawConn) read() {
	br := bufio.NewReader(c.conn)
	res, err := http.ReadResponse(br, nil)
	if err != nil {
		c.answerc <- rawAnswer{err: err}
		return
	}
	body, err := io.ReadAll(res.Body)
	res.Body.Close()
	r := &response{Status: res.StatusCode, Header: res.Header, Body: body, Close: res.Close}
	if bytes.HasPrefix(bytes.TrimSpace(body), []byte("{")) {
		json.Unmarshal(body, &r.JSON)
	}
	c.mu.Lock()
	c.answered = true
	c.mu.Unlock()
	c.answerc <- rawAnswer{resp: r, err: err}
	_, err = br.ReadByte()
	c.closedc <- err
}

// write sends p; the server may have closed the connection.
func (c *rawConn) write(p []byte) error {
	_, err := c.conn.Write(p)
	return err
}

func (c *rawConn) mustWrite(t testing.TB, p []byte) {
	t.Helper()
	if err := c.write(p); err != nil {
		t.Fatalf("write to the server: %v", err)
	}
}

// hasAnswered reports whether an answer has arrived.
func (c *rawConn) hasAnswered() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.answered
}

// answer waits up to 30s for the answer, which must be JSON.
func (c *rawConn) answer(t testing.TB) *response {
	t.Helper()
	select {
	case a := <-c.answerc:
		if a.err != nil {
			t.Fatalf("read the answer: %v", a.err)
		}
		if ct := a.resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
			t.Errorf("%d answered with Content-Type %q, want application/json; body %.300q", a.resp.Status, ct, a.resp.Body)
		}
		if !json.Valid(a.resp.Body) {
			t.Errorf("%d answered with a body that is not JSON: %.300q", a.resp.Status, a.resp.Body)
		}
		if a.resp.Header.Get("X-Request-Id") == "" {
			// Answered by the HTTP layer, before any handler (whose
			// answers the harness validates): its error must still be
			// the document's.
			v, err := apitest.New()
			if err != nil {
				t.Fatal(err)
			}
			if err := v.CheckError(a.resp.Status, a.resp.Body); err != nil {
				t.Errorf("%v", err)
			}
		}
		return a.resp
	case <-time.After(30 * time.Second):
		t.Fatalf("no answer within 30s")
	}
	return nil
}

// wantClosed checks that the server closes the connection after its answer.
func (c *rawConn) wantClosed(t testing.TB) {
	t.Helper()
	select {
	case err := <-c.closedc:
		if err == nil {
			t.Errorf("the server sent more after its answer, want the connection closed")
		} else if !errors.Is(err, io.EOF) && !errors.Is(err, syscall.ECONNRESET) {
			t.Errorf("reading after the answer: %v, want EOF (connection closed)", err)
		}
	case <-time.After(10 * time.Second):
		t.Errorf("the connection is still open 10s after the answer")
	}
}

// reset closes the connection with a TCP reset, as a client that crashes.
func (c *rawConn) reset() {
	if tc, ok := c.conn.(*net.TCPConn); ok {
		tc.SetLinger(0)
	}
	c.conn.Close()
}

// head is a request line and headers. length < 0 sends the body chunked.
func head(method, path, key string, length int) []byte {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s HTTP/1.1\r\nHost: facevault.test\r\n", method, path)
	if key != "" {
		fmt.Fprintf(&b, "Authorization: %s\r\n", key)
	}
	b.WriteString("Content-Type: application/json\r\n")
	if length < 0 {
		b.WriteString("Transfer-Encoding: chunked\r\n")
	} else {
		fmt.Fprintf(&b, "Content-Length: %d\r\n", length)
	}
	b.WriteString("\r\n")
	return []byte(b.String())
}

// chunk is p in chunked encoding.
func chunk(p []byte) []byte {
	return append(append([]byte(strconv.FormatInt(int64(len(p)), 16)+"\r\n"), p...), "\r\n"...)
}

// uploadJSON is the body of an upload of img.
func uploadJSON(clientID string, img []byte) []byte {
	return []byte(`{"clientId":"` + clientID + `","data":"` + b64(img) + `"}`)
}

// trickle sends body n bytes at a time, one piece every interval, until stop
// is closed, then the rest at once. The channel it returns gets the first
// write error, or nil once the whole body is sent.
func (c *rawConn) trickle(body []byte, n int, every time.Duration, stop <-chan struct{}) <-chan error {
	done := make(chan error, 1)
	go func() {
		t := time.NewTicker(every)
		defer t.Stop()
		for len(body) > 0 {
			select {
			case <-stop:
				done <- c.write(body)
				return
			case <-t.C:
			}
			p := body[:min(n, len(body))]
			if err := c.write(p); err != nil {
				done <- err
				return
			}
			body = body[len(p):]
		}
		done <- nil
	}()
	return done
}

// tryDo is do for goroutines other than the test's: it returns errors
// instead of failing the test.
func (e *testEnv) tryDo(method, path, key string, body any) (*response, error) {
	req, err := e.newRequest(method, path, key, body)
	if err != nil {
		return nil, err
	}
	res, err := e.client.Do(req)
	if err != nil {
		return nil, err
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		return nil, err
	}
	r := &response{Status: res.StatusCode, Header: res.Header, Body: b, Close: res.Close}
	if err := json.Unmarshal(b, &r.JSON); err != nil {
		return r, fmt.Errorf("%s %s: %d answered with a body that is not a JSON object: %.200q", method, path, r.Status, b)
	}
	return r, nil
}

// waitUntil polls cond for up to 10s.
func waitUntil(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("gave up waiting for %s after 10s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
