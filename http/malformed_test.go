package http_test

import (
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"testing"
)

// TestMalformedHTTP sends requests net/http refuses before any handler
// runs, over raw TCP: each answer has net/http's status but the contract's
// JSON body, closes the connection, and is logged at info level.
func TestMalformedHTTP(t *testing.T) {
	// No storage is involved: one backend is enough.
	env := newTestEnv(t, backends[0])
	const badRequest = "The request is not valid HTTP and could not be read"
	for _, tc := range []struct {
		name, request string
		status        int
		typ, message  string
	}{
		{"ErrGarbage", "GARBAGE\r\n\r\n", 400, "invalid_request", badRequest},
		{"ErrNoPath", "GET  HTTP/1.1\r\nHost: x\r\n\r\n", 400, "invalid_request", badRequest},
		{"ErrNULInPath", "GET /v1/\x00clients HTTP/1.1\r\nHost: x\r\n\r\n", 400, "invalid_request", badRequest},
		{"ErrMissingHost", "GET /v1/clients HTTP/1.1\r\n\r\n", 400, "invalid_request", "The request is not valid HTTP: missing required Host header"},
		{"ErrMalformedHost", "GET /v1/clients HTTP/1.1\r\nHost: a b\r\n\r\n", 400, "invalid_request", "The request is not valid HTTP: malformed Host header"},
		{"ErrHeaderNameWithSpace", "GET /v1/clients HTTP/1.1\r\nHost: x\r\nBad Name: y\r\n\r\n", 400, "invalid_request", "The request is not valid HTTP: invalid header name"},
		{"ErrHeaderNameBadByte", "GET /v1/clients HTTP/1.1\r\nHost: x\r\nBad(Name: y\r\n\r\n", 400, "invalid_request", badRequest},
		{"ErrHeaderValueControl", "GET /v1/clients HTTP/1.1\r\nHost: x\r\nX-A: a\x01b\r\n\r\n", 400, "invalid_request", badRequest},
		{"ErrContentLength", "POST /v1/clients HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n", 400, "invalid_request", badRequest},
		{"ErrTwoContentLengths", "POST /v1/clients HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n", 400, "invalid_request", badRequest},
		{"ErrHeadersTooLarge", "GET /v1/clients HTTP/1.1\r\nHost: x\r\nX-A: " + strings.Repeat("a", 100<<10) + "\r\n\r\n",
			431, "request_too_large", "The request line and headers are larger than the server accepts"},
		{"ErrHTTP2", "GET /v1/clients HTTP/2.0\r\nHost: x\r\n\r\n", 505, "invalid_request", "The request's HTTP version is not supported: use HTTP/1.1"},
		{"ErrHTTP3", "GET /v1/clients HTTP/3.0\r\nHost: x\r\n\r\n", 505, "invalid_request", "The request's HTTP version is not supported: use HTTP/1.1"},
		{"ErrTransferEncoding", "POST /v1/clients HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\n",
			501, "invalid_request", "The request's Transfer-Encoding is not supported: send the body with a Content-Length or chunked"},
		{"ErrTransferEncodingGzipChunked", "POST /v1/clients HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip, chunked\r\n\r\n",
			501, "invalid_request", "The request's Transfer-Encoding is not supported: send the body with a Content-Length or chunked"},
		{"ErrExpect", "GET /v1/clients HTTP/1.1\r\nHost: x\r\nExpect: bogus\r\n\r\n",
			417, "invalid_request", "The request's Expect header is not supported: only '100-continue' is"},
		{"ErrExpectHTTP10", "GET /v1/clients HTTP/1.0\r\nExpect: bogus\r\n\r\n",
			417, "invalid_request", "The request's Expect header is not supported: only '100-continue' is"},
		// Requests net/http passes to the API, which answers them itself.
		{"ErrOptionsStar", "OPTIONS * HTTP/1.1\r\nHost: x\r\n\r\n", 404, "resource_not_found", "Unknown route OPTIONS *"},
		{"ErrHTTP2Preface", "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", 404, "resource_not_found", "Unknown route PRI *"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := env.dial(t, "")
			c.mustWrite(t, []byte(tc.request))
			r := c.answer(t)
			wantError(t, r, tc.status, tc.typ, tc.message, "")
			if got, want := r.Header.Get("Content-Length"), strconv.Itoa(len(r.Body)); got != want {
				t.Errorf("Content-Length = %q, want %s", got, want)
			}
			if tc.status == http.StatusNotFound {
				return
			}
			if !r.Close {
				t.Errorf("the answer lacks Connection: close")
			}
			c.wantClosed(t)
			wantLogged(t, env, slog.LevelInfo, "malformed request", "status", strconv.Itoa(tc.status))
		})
	}
	env.assertAlive(t)
}

// TestEchoesClipped sends ids, paths and methods of 10,000 characters, and
// bytes that are not UTF-8: the answers quote at most 64 characters of
// them, with an ellipsis, as valid JSON.
func TestEchoesClipped(t *testing.T) {
	forEachBackend(t, func(t *testing.T, env *testEnv) {
		long := strings.Repeat("0", 10000)
		clip := strings.Repeat("0", 64) + "…"
		photoMsg := "Invalid live photo id '" + clip + "'"
		clientMsg := "Invalid client id '" + clip + "'"
		for _, tc := range []struct {
			name, method, path string
			body               any
			status             int
			message            string
		}{
			{"GetClient", "GET", "/v1/clients/" + long, nil, 404, clientMsg},
			{"UpdateClient", "POST", "/v1/clients/" + long, map[string]any{"email": "a@b.co"}, 404, clientMsg},
			{"DeleteClient", "DELETE", "/v1/clients/" + long, nil, 404, clientMsg},
			{"GetLivePhoto", "GET", "/v1/livePhotos/" + long, nil, 404, photoMsg},
			{"DeleteLivePhoto", "DELETE", "/v1/livePhotos/" + long, nil, 404, photoMsg},
			{"Download", "GET", "/v1/livePhotos/" + long + "/download", nil, 404, photoMsg},
			{"Redact", "POST", "/v1/livePhotos/" + long + "/redact", nil, 404, photoMsg},
			{"UploadClientID", "POST", "/v1/livePhotos", map[string]any{"clientId": long, "data": b64(images().jpeg)}, 404, clientMsg},
			{"UnknownRoute", "GET", "/v1/" + long, nil, 404, "Unknown route GET /v1/" + strings.Repeat("0", 60) + "…"},
			{"MethodNotAllowed", "PUT", "/v1/clients/" + long, nil, 405,
				"The method PUT is not allowed on /v1/clients/" + strings.Repeat("0", 52) + "…; allowed: DELETE, GET, HEAD, POST"},
			{"LongMethod", strings.Repeat("X", 10000), "/v1/clients", nil, 405,
				"The method " + strings.Repeat("X", 64) + "… is not allowed on /v1/clients; allowed: GET, HEAD, POST"},
			{"NotUTF8ID", "GET", "/v1/clients/%FF%FE", nil, 404, "Invalid client id '\uFFFD'"},
			{"NotUTF8Route", "GET", "/v1/%FF", nil, 404, "Unknown route GET /v1/\uFFFD"},
			{"MetadataKey", "POST", "/v1/clients", map[string]any{"type": "person", "email": "a@b.co",
				"personDetails": map[string]any{"firstName": "A", "lastName": "B"}, "metadata": map[string]any{long: nil}}, 400,
				"Metadata value of '" + clip + "' must be a string"},
			// Short ids come back exactly as sent.
			{"ShortID", "GET", "/v1/clients/nope", nil, 404, "Invalid client id 'nope'"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				r := env.do(t, tc.method, tc.path, env.KeyA, tc.body)
				typ := map[int]string{400: "invalid_request", 404: "resource_not_found", 405: "invalid_request"}[tc.status]
				param := ""
				if tc.name == "MetadataKey" {
					param = "metadata"
				}
				wantError(t, r, tc.status, typ, tc.message, param)
				if len(r.Body) > 400 {
					t.Errorf("the answer is %d bytes long: %.100s…", len(r.Body), r.Body)
				}
			})
		}
	})
}
