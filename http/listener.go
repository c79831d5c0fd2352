package http

import (
	"bytes"
	"log/slog"
	"net"
	"net/http"
	"strconv"

	"github.com/go-json-experiment/json"

	"github.com/facevault/facevault"
)

// NewListener wraps ln so that the answers net/http writes on its own, to
// requests it cannot parse, are the contract's JSON errors with the same
// status instead of text/plain: 400 (malformed request line or header,
// missing Host), 431 (headers too large), 501 (unsupported transfer
// encoding), 505 (unsupported HTTP version) and the 417 for an Expect
// header other than 100-continue. Each is logged at info level.
//
// net/http has no hook for these: conn.serve writes each, before any
// handler runs, as a single write of a fixed shape (a status line,
// "Content-Type: text/plain; charset=utf-8", "Connection: close", and a
// short text; the 417 as a header block with no body). The wrapped
// connections recognise exactly those writes and replace them; every other
// write passes through untouched. The API itself never answers text/plain
// or 417, so nothing it writes can be mistaken for one.
func NewListener(ln net.Listener, logger *slog.Logger) net.Listener {
	return &errorListener{Listener: ln, logger: logger}
}

type errorListener struct {
	net.Listener
	logger *slog.Logger
}

func (l *errorListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &errorConn{Conn: c, logger: l.logger}, nil
}

type errorConn struct {
	net.Conn
	logger *slog.Logger
}

func (c *errorConn) Write(p []byte) (int, error) {
	out, status, reason, ok := rewriteNetHTTPError(p)
	if !ok {
		return c.Conn.Write(p)
	}
	c.logger.Info("malformed request", "status", status, "reason", reason, "remote", c.RemoteAddr().String())
	if _, err := c.Conn.Write(out); err != nil {
		return 0, err
	}
	return len(p), nil
}

// CloseWrite lets net/http half-close the connection after a 431, as it
// does on a bare TCP connection.
func (c *errorConn) CloseWrite() error {
	if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return nil
}

// netHTTPErrorHeaders are the headers of net/http's own error answers
// (net/http/server.go, conn.serve).
const netHTTPErrorHeaders = "\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close\r\n\r\n"

// rewriteNetHTTPError returns the JSON answer that replaces p, if p is one
// of net/http's own error answers, with its status and net/http's reason.
func rewriteNetHTTPError(p []byte) (out []byte, status int, reason string, ok bool) {
	const maxLen = 1 << 10 // they are short
	if len(p) > maxLen || len(p) < len("HTTP/1.1 417 ") || !bytes.HasPrefix(p, []byte("HTTP/1.")) {
		return nil, 0, "", false
	}
	if status, ok := parseExpectationFailed(p); ok {
		return jsonAnswer(status, facevault.EInvalid,
			"The request's Expect header is not supported: only '100-continue' is"), status, "unsupported Expect header", true
	}
	if !bytes.HasPrefix(p, []byte("HTTP/1.1 ")) {
		return nil, 0, "", false
	}
	i := bytes.Index(p, []byte(netHTTPErrorHeaders))
	if i < 0 {
		return nil, 0, "", false
	}
	line, body := string(p[len("HTTP/1.1 "):i]), string(p[i+len(netHTTPErrorHeaders):])
	if len(line) < 5 || line[3] != ' ' {
		return nil, 0, "", false
	}
	status, err := strconv.Atoi(line[:3])
	text := http.StatusText(status)
	if err != nil || status < 400 || status > 599 || text == "" || line[4:4+min(len(text), len(line)-4)] != text {
		return nil, 0, "", false
	}
	detail := line[4+len(text):]
	switch {
	case detail == "" && body == line: // "400 Bad Request", "431 Request Header Fields Too Large"
	case len(detail) > 2 && detail[:2] == ": " && body == line: // statusError: "400 Bad Request: missing required Host header"
		detail = detail[2:]
	case detail == "" && status == http.StatusNotImplemented && body == "Unsupported transfer encoding":
		detail = "unsupported transfer encoding"
	default:
		return nil, 0, "", false
	}
	code, msg := facevault.EInvalid, ""
	switch status {
	case http.StatusBadRequest:
		msg = "The request is not valid HTTP and could not be read"
		if detail != "" {
			msg = "The request is not valid HTTP: " + detail
		}
	case http.StatusRequestHeaderFieldsTooLarge:
		code, msg = facevault.ETooLarge, "The request line and headers are larger than the server accepts"
	case http.StatusNotImplemented:
		msg = "The request's Transfer-Encoding is not supported: send the body with a Content-Length or chunked"
	case http.StatusHTTPVersionNotSupported:
		msg = "The request's HTTP version is not supported: use HTTP/1.1"
	default:
		msg = "The request could not be read: " + text
		if detail != "" {
			msg += ": " + detail
		}
	}
	if detail == "" {
		detail = text
	}
	return jsonAnswer(status, code, msg), status, detail, true
}

// parseExpectationFailed recognises the 417 net/http answers to an Expect
// header other than 100-continue: a status line and headers, no body.
func parseExpectationFailed(p []byte) (int, bool) {
	var rest []byte
	var ok bool
	for _, proto := range []string{"HTTP/1.1", "HTTP/1.0"} {
		if rest, ok = bytes.CutPrefix(p, []byte(proto+" 417 Expectation Failed\r\n")); ok {
			break
		}
	}
	if !ok || !bytes.HasSuffix(rest, []byte("\r\n\r\n")) || bytes.Count(rest, []byte("\r\n\r\n")) != 1 ||
		!bytes.Contains(rest, []byte("Content-Length: 0\r\n")) || bytes.Contains(rest, []byte("Content-Type:")) {
		return 0, false
	}
	return http.StatusExpectationFailed, true
}

// jsonAnswer is a whole HTTP response carrying the contract's JSON error,
// after which the connection is closed.
func jsonAnswer(status int, code, message string) []byte {
	body, err := json.Marshal(errorJSON{Type: code, Message: message})
	if err != nil {
		panic(err) // fixed ASCII strings
	}
	var b bytes.Buffer
	b.WriteString("HTTP/1.1 " + strconv.Itoa(status) + " " + http.StatusText(status) + "\r\n")
	b.WriteString("Content-Type: application/json; charset=utf-8\r\n")
	b.WriteString("Content-Length: " + strconv.Itoa(len(body)) + "\r\n")
	b.WriteString("Connection: close\r\n\r\n")
	b.Write(body)
	return b.Bytes()
}
