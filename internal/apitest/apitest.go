// Package apitest validates HTTP exchanges with the API against its OpenAPI
// document (package openapi), for the test suites: a handler wrapper for
// tests that run the API's handler in-process, and a reverse proxy for
// clients that speak to a server over the network. Every request and
// answer is checked: parameters, headers, bodies, statuses, and that an
// answer has no field the document does not list.
//
// Only tests use this package: it is the one place that imports the
// validator, so the server binary does not carry it.
package apitest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"

	"github.com/pb33f/libopenapi"
	validator "github.com/pb33f/libopenapi-validator"
	"github.com/pb33f/libopenapi-validator/config"
	vErrors "github.com/pb33f/libopenapi-validator/errors"
	"github.com/pb33f/libopenapi-validator/paths"
	"github.com/pb33f/libopenapi-validator/schema_validation"
	v3 "github.com/pb33f/libopenapi/datamodel/high/v3"

	"github.com/facevault/facevault/openapi"
)

// InvalidHeader marks a request a test sends malformed on purpose (bad
// JSON, a field of the wrong type, a missing key or field, a parameter out
// of range): its value says why. The request is not validated (it is meant
// not to be valid) but its answer is, as every answer is. The header is
// removed before the request reaches the server.
const InvalidHeader = "X-Test-Invalid-Request"

// Bounds on what is kept of a body for validation. A request body is
// read by the server as it arrives; the validator keeps a copy of at most
// MaxRequestBody bytes (a legal upload is at most about 5.6 MB of JSON,
// within the server's 8 MiB bound), and validates the body only if the
// server read it whole within that bound. A request whose body the server
// did not read to its end (answered before: a 401, a 413, a 429) or that
// is larger has only its parameters and headers validated. Answers are kept
// up to MaxResponseBody; a larger answer's body is not validated.
const (
	MaxRequestBody  = 8<<20 + 1<<10
	MaxResponseBody = 64 << 20
)

// Validator checks exchanges against the document. It is safe for
// concurrent use.
type Validator struct {
	mu    sync.Mutex
	v     validator.Validator
	model *v3.Document
	opts  *config.ValidationOptions
}

var (
	once      sync.Once
	shared    *Validator
	sharedErr error
)

// New returns the validator of the API's document (built once and shared:
// building it takes a while).
func New() (*Validator, error) {
	once.Do(func() { shared, sharedErr = build() })
	return shared, sharedErr
}

func build() (*Validator, error) {
	doc, err := libopenapi.NewDocument(openapi.JSON)
	if err != nil {
		return nil, fmt.Errorf("apitest: parse the OpenAPI document: %w", err)
	}
	m, err := doc.BuildV3Model()
	if err != nil {
		return nil, fmt.Errorf("apitest: build the OpenAPI model: %w", err)
	}
	opts := []config.Option{config.WithFormatAssertions()}
	v, errs := validator.NewValidator(doc, opts...)
	if len(errs) > 0 {
		return nil, fmt.Errorf("apitest: build the validator: %v", errs)
	}
	if ok, errs := v.ValidateDocument(); !ok {
		return nil, fmt.Errorf("apitest: the OpenAPI document is not valid: %s", describe(errs))
	}
	return &Validator{v: v, model: &m.Model, opts: config.NewValidationOptions(opts...)}, nil
}

// Exchange is one request and its answer, as seen by the server.
type Exchange struct {
	Method string
	// URL is the request's URL, as the server parsed it (path and query
	// are what matter).
	URL    *url.URL
	Header http.Header
	// Body holds what was read of the request body; BodyComplete is
	// whether that is the whole of it.
	Body         []byte
	BodyComplete bool
	// Invalid is the reason the test gave for sending the request
	// malformed on purpose, or "".
	Invalid string

	Status         int
	ResponseHeader http.Header
	ResponseBody   []byte
	// ResponseComplete is whether ResponseBody is the whole answer.
	ResponseComplete bool
}

// Check validates an exchange and returns what is wrong with it, each
// problem naming the method, path and status; nil if it is valid.
func (v *Validator) Check(x *Exchange) []string {
	v.mu.Lock()
	defer v.mu.Unlock()
	req, err := http.NewRequest(x.Method, "/", nil)
	if err != nil {
		return []string{fmt.Sprintf("%s %s: the request cannot be rebuilt for validation: %v", x.Method, x.URL, err)}
	}
	u := *x.URL
	req.URL = &u
	req.Header = x.Header.Clone()
	head := x.Method == http.MethodHead
	if head {
		// HEAD is answered on every GET route, as GET without a body.
		req.Method = http.MethodGet
	}
	// Collections also answer with a trailing slash (the document says so
	// once; its paths are written without it).
	if p := req.URL.Path; len(p) > 1 && strings.HasSuffix(p, "/") {
		req.URL.Path = strings.TrimSuffix(p, "/")
		req.URL.RawPath = ""
	}
	where := fmt.Sprintf("%s %s → %d", x.Method, clip(x.URL.RequestURI()), x.Status)
	var problems []string
	report := func(what string, errs []*vErrors.ValidationError) {
		if len(errs) > 0 {
			problems = append(problems, fmt.Sprintf("%s: %s does not match the OpenAPI document: %s", where, what, describe(errs)))
		}
	}

	pathItem, errs, pathValue := paths.FindPath(req, v.model, v.opts)
	if pathItem == nil || len(errs) > 0 {
		return v.unrouted(x, errs, where)
	}

	if x.Invalid == "" {
		if x.BodyComplete {
			req.Body = io.NopCloser(bytes.NewReader(x.Body))
			req.ContentLength = int64(len(x.Body))
			_, errs := v.v.ValidateHttpRequestSyncWithPathItem(req, pathItem, pathValue)
			report("the request", errs)
		} else {
			// The server answered before reading the body, or the body
			// is larger than any legal one: only what precedes it.
			pv := v.v.GetParameterValidator()
			for _, f := range []func(*http.Request, *v3.PathItem, string) (bool, []*vErrors.ValidationError){
				pv.ValidatePathParamsWithPathItem, pv.ValidateQueryParamsWithPathItem,
				pv.ValidateHeaderParamsWithPathItem, pv.ValidateSecurityWithPathItem,
			} {
				_, errs := f(req, pathItem, pathValue)
				report("the request", errs)
			}
		}
		req.Body = nil
	}

	if x.Status == 0 {
		return problems // no answer was sent: the client went away
	}
	if head || !x.ResponseComplete {
		if !declared(pathItem, req.Method, x.Status) {
			problems = append(problems, fmt.Sprintf("%s: status %d is not documented for %s %s", where, x.Status, req.Method, pathValue))
		}
		return problems
	}
	res := &http.Response{
		StatusCode:    x.Status,
		Header:        x.ResponseHeader.Clone(),
		Body:          io.NopCloser(bytes.NewReader(x.ResponseBody)),
		ContentLength: int64(len(x.ResponseBody)),
		Request:       req,
	}
	_, errs = v.v.GetResponseBodyValidator().ValidateResponseBodyWithPathItem(req, res, pathItem, pathValue)
	report("the answer", errs)
	return problems
}

// unrouted checks the answer to a request that names no operation of the
// document: an unknown route is answered 404, a known path with a method
// it does not have 405 with an Allow header, both with the error body.
func (v *Validator) unrouted(x *Exchange, errs []*vErrors.ValidationError, where string) []string {
	want := http.StatusNotFound
	for _, e := range errs {
		if e.IsOperationMissingError() {
			want = http.StatusMethodNotAllowed
		}
	}
	if x.Status == 0 {
		return nil
	}
	var problems []string
	if x.Status != want {
		problems = append(problems, fmt.Sprintf("%s: a request that names no operation of the OpenAPI document must be answered %d (%s)", where, want, describe(errs)))
	}
	if want == http.StatusMethodNotAllowed && x.ResponseHeader.Get("Allow") == "" {
		problems = append(problems, where+": a 405 without an Allow header")
	}
	if x.Method != http.MethodHead && x.ResponseComplete {
		if err := checkError(x.ResponseBody, want); err != nil {
			problems = append(problems, fmt.Sprintf("%s: %v", where, err))
		}
	}
	return problems
}

// CheckError validates an error answer that no handler wrote: what the
// server's HTTP layer answers to malformed HTTP (a bad request line or
// header, headers too large, an unsupported version or transfer encoding)
// before any route. Its body must be the document's Error, with the
// status's documented type where the document gives one.
func (v *Validator) CheckError(status int, body []byte) error {
	v.mu.Lock()
	defer v.mu.Unlock()
	proxy := v.model.Components.Schemas.GetOrZero("Error")
	if proxy == nil {
		return fmt.Errorf("the document has no Error schema")
	}
	if ok, errs := schema_validation.NewSchemaValidator().ValidateSchemaBytes(proxy.Schema(), body); !ok {
		return fmt.Errorf("%d: the error body does not match the OpenAPI document's Error: %s", status, describe(errs))
	}
	want := map[int]string{http.StatusBadRequest: "invalid_request", http.StatusNotFound: "resource_not_found",
		http.StatusRequestTimeout: "request_timeout", http.StatusRequestEntityTooLarge: "request_too_large"}[status]
	var e struct{ Type string }
	if json.Unmarshal(body, &e); want != "" && e.Type != want {
		return fmt.Errorf("%d: error type %q, want %q", status, e.Type, want)
	}
	return nil
}

// checkError checks an error body of an answer to no operation.
func checkError(body []byte, status int) error {
	var e map[string]any
	if err := json.Unmarshal(body, &e); err != nil {
		return fmt.Errorf("the error body is not a JSON object: %.200q", body)
	}
	want := map[int]string{http.StatusNotFound: "resource_not_found", http.StatusMethodNotAllowed: "invalid_request"}[status]
	if e["type"] != want {
		return fmt.Errorf("error type %v, want %q", e["type"], want)
	}
	if m, _ := e["message"].(string); m == "" {
		return fmt.Errorf("error body without a message: %.200s", body)
	}
	for k, val := range e {
		if _, ok := val.(string); !ok || !slices.Contains([]string{"type", "message", "param"}, k) {
			return fmt.Errorf("error body has a field the document does not list, or of the wrong type: %q", k)
		}
	}
	return nil
}

// declared reports whether an operation documents a status.
func declared(item *v3.PathItem, method string, status int) bool {
	op := item.GetOperations().GetOrZero(strings.ToLower(method))
	if op == nil || op.Responses == nil {
		return false
	}
	if op.Responses.Default != nil {
		return true
	}
	_, ok := op.Responses.Codes.Get(fmt.Sprint(status))
	return ok
}

// describe joins a validator's errors with their reasons.
func describe(errs []*vErrors.ValidationError) string {
	var b strings.Builder
	for i, e := range errs {
		if i > 0 {
			b.WriteString("; ")
		}
		b.WriteString(e.Message)
		if e.Reason != "" && e.Reason != e.Message {
			b.WriteString(": " + e.Reason)
		}
		for _, s := range e.SchemaValidationErrors {
			fmt.Fprintf(&b, " [%s", s.Reason)
			if s.FieldPath != "" {
				fmt.Fprintf(&b, " at %s", s.FieldPath)
			} else if s.KeywordLocation != "" {
				fmt.Fprintf(&b, " at %s", s.KeywordLocation)
			}
			b.WriteString("]")
		}
	}
	return b.String()
}

// clip shortens a URL for a message.
func clip(s string) string {
	if len(s) > 200 {
		return s[:200] + "…"
	}
	return s
}
