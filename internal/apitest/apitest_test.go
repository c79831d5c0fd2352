package apitest

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
)

func exchange(method, target, body string, status int, resBody string) *Exchange {
	h := http.Header{"Authorization": {"test_key"}, "Content-Type": {"application/json"}}
	rh := http.Header{"Content-Type": {"application/json; charset=utf-8"}, "X-Request-Id": {"6b05e94e8876735d0bd72139"}}
	u, err := url.ParseRequestURI(target)
	if err != nil {
		panic(err)
	}
	return &Exchange{Method: method, URL: u, Header: h, Body: []byte(body), BodyComplete: true,
		Status: status, ResponseHeader: rh, ResponseBody: []byte(resBody), ResponseComplete: true}
}

const client = `{"id":"6b05e94e8876735d0bd72139","type":"person","email":"a@b.co","createdAt":"2026-11-24T19:45:18.289Z","updatedAt":"2026-11-24T19:45:18.289Z"`

// TestCheck: what the validator accepts and what it reports.
func TestCheck(t *testing.T) {
	v, err := New()
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name string
		x    *Exchange
		want string // "" for valid; else a part of the problem
	}{
		{"OK", exchange("GET", "/v1/clients/6b05e94e8876735d0bd72139", "", 200, client+"}"), ""},
		{"OKTrailingSlash", exchange("POST", "/v1/clients/", `{"type":"person","email":"a@b.co"}`, 200, client+"}"), ""},
		{"OKHead", exchange("HEAD", "/v1/clients/6b05e94e8876735d0bd72139", "", 200, ""), ""},
		{"ErrFieldNotDocumented", exchange("GET", "/v1/clients/6b05e94e8876735d0bd72139", "", 200, client+`,"secret":"x"}`), "secret"},
		{"ErrStatusNotDocumented", exchange("GET", "/v1/clients/6b05e94e8876735d0bd72139", "", 418, `{"type":"invalid_request","message":"x"}`), "418"},
		{"ErrErrorType", exchange("GET", "/v1/clients/6b05e94e8876735d0bd72139", "", 404, `{"type":"unauthorized","message":"x"}`), "GET /v1/clients/"},
		{"ErrRequestBody", exchange("POST", "/v1/clients", `{"type":"robot","email":"a@b.co"}`, 400, `{"type":"invalid_request","message":"x","param":"type"}`), "the request"},
		{"OKMarkedInvalid", func() *Exchange {
			x := exchange("POST", "/v1/clients", `{"type":"robot","email":"a@b.co"}`, 400, `{"type":"invalid_request","message":"x","param":"type"}`)
			x.Invalid = "a type the document does not list"
			return x
		}(), ""},
		{"OKUnknownRoute", exchange("GET", "/v2/nothing", "", 404, `{"type":"resource_not_found","message":"Unknown route GET /v2/nothing"}`), ""},
		{"ErrUnknownRouteAnswered", exchange("GET", "/v2/nothing", "", 200, `{}`), "404"},
		{"OKMethodNotAllowed", func() *Exchange {
			x := exchange("PUT", "/v1/clients", "", 405, `{"type":"invalid_request","message":"no"}`)
			x.ResponseHeader.Set("Allow", "GET, HEAD, POST")
			return x
		}(), ""},
		{"ErrMethodNotAllowedNoAllow", exchange("PUT", "/v1/clients", "", 405, `{"type":"invalid_request","message":"no"}`), "Allow"},
	} {
		t.Run(c.name, func(t *testing.T) {
			problems := v.Check(c.x)
			switch {
			case c.want == "" && len(problems) > 0:
				t.Errorf("problems with a valid exchange: %q", problems)
			case c.want != "" && (len(problems) == 0 || !strings.Contains(strings.Join(problems, "\n"), c.want)):
				t.Errorf("problems %q, want one mentioning %q", problems, c.want)
			}
		})
	}
}
