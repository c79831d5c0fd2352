package upload

import (
	"bytes"
	stdbase64 "encoding/base64"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/facevault/facevault"
)

// payload returns n deterministic pseudo-random bytes.
func payload(n int, seed uint64) []byte {
	r := rand.New(rand.NewPCG(seed, 1))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

func enc(b []byte) string { return stdbase64.StdEncoding.EncodeToString(b) }

// body makes an upload body around a raw JSON string content for "data".
func body(data string) string {
	return `{"clientId": "c1", "data": "` + data + `", "performLivenessCheck": true}`
}

func parse(t testing.TB, r io.Reader) (Request, []byte, error) {
	t.Helper()
	var out bytes.Buffer
	req, err := Parse(r, &out)
	if err == nil && req.Size != int64(out.Len()) {
		t.Errorf("Size = %d, wrote %d", req.Size, out.Len())
	}
	return req, out.Bytes(), err
}

var img = payload(100, 7) // 100 bytes: base64 ends with "=="

func TestParseValid(t *testing.T) {
	b64 := enc(img)
	b99 := enc(img[:99]) // no padding
	b98 := enc(img[:98]) // one '='
	b97 := enc(img[:97]) // two '='
	lines := func(s string, n int, sep string) string {
		var sb strings.Builder
		for len(s) > n {
			sb.WriteString(s[:n] + sep)
			s = s[n:]
		}
		sb.WriteString(s)
		return sb.String()
	}
	tests := []struct {
		name string
		body string
		want []byte
		req  Request // Size filled in from want
	}{
		{"plain", body(b64), img, Request{ClientID: "c1", HasClientID: true, PerformLivenessCheck: true, Enrol: true, HasData: true}},
		{"no padding needed", body(b99), img[:99], Request{ClientID: "c1", HasClientID: true, PerformLivenessCheck: true, Enrol: true, HasData: true}},
		{"one pad", body(b98), img[:98], Request{ClientID: "c1", HasClientID: true, PerformLivenessCheck: true, Enrol: true, HasData: true}},
		{"two pads", body(b97), img[:97], Request{ClientID: "c1", HasClientID: true, PerformLivenessCheck: true, Enrol: true, HasData: true}},
		{"one pad missing", body(strings.TrimSuffix(b98, "=")), img[:98], Request{ClientID: "c1", HasClientID: true, PerformLivenessCheck: true, Enrol: true, HasData: true}},
		{"two pads missing", body(strings.TrimSuffix(b97, "==")), img[:97], Request{ClientID: "c1", HasClientID: true, PerformLivenessCheck: true, Enrol: true, HasData: true}},
		{"one of two pads missing", body(strings.TrimSuffix(b97, "=")), img[:97], Request{ClientID: "c1", HasClientID: true, PerformLivenessCheck: true, Enrol: true, HasData: true}},
		{"prefix jpeg", body("data:image/jpeg;base64," + b64), img, Request{ClientID: "c1", HasClientID: true, PerformLivenessCheck: true, Enrol: true, HasData: true}},
		{"prefix png escaped slash", body(`data:image\/png;base64,` + b64), img, Request{ClientID: "c1", HasClientID: true, PerformLivenessCheck: true, Enrol: true, HasData: true}},
		{"prefix mixed case", body("DATA:Image/PNG;Base64," + b64), img, Request{ClientID: "c1", HasClientID: true, PerformLivenessCheck: true, Enrol: true, HasData: true}},
		{"prefix svg+xml", body("data:image/svg+xml;base64," + b64), img, Request{ClientID: "c1", HasClientID: true, PerformLivenessCheck: true, Enrol: true, HasData: true}},
		{"LF escaped every 76", body(lines(b64, 76, `\n`)), img, Request{ClientID: "c1", HasClientID: true, PerformLivenessCheck: true, Enrol: true, HasData: true}},
		{"CRLF escaped every 64", body(lines(b64, 64, `\r\n`)), img, Request{ClientID: "c1", HasClientID: true, PerformLivenessCheck: true, Enrol: true, HasData: true}},
		{"CRLF escaped every 7", body(lines(b64, 7, `\r\n`) + `\r\n`), img, Request{ClientID: "c1", HasClientID: true, PerformLivenessCheck: true, Enrol: true, HasData: true}},
		{"tabs escaped", body(lines(b64, 10, `\t`)), img, Request{ClientID: "c1", HasClientID: true, PerformLivenessCheck: true, Enrol: true, HasData: true}},
		{"spaces", body(" " + lines(b64, 3, " ") + " "), img, Request{ClientID: "c1", HasClientID: true, PerformLivenessCheck: true, Enrol: true, HasData: true}},
		{"space inside padding", body(strings.TrimSuffix(b97, "==") + "= = "), img[:97], Request{ClientID: "c1", HasClientID: true, PerformLivenessCheck: true, Enrol: true, HasData: true}},
		{"unicode escaped newline and space", body(lines(b64, 20, `\u000a\u000D\u0020`)), img, Request{ClientID: "c1", HasClientID: true, PerformLivenessCheck: true, Enrol: true, HasData: true}},
		{"slash escaped", body(strings.ReplaceAll(b64, "/", `\/`)), img, Request{ClientID: "c1", HasClientID: true, PerformLivenessCheck: true, Enrol: true, HasData: true}},
		{"unicode escaped", body(strings.NewReplacer("/", `\u002F`, "=", `\u003D`, "A", `\u0041`, "+", `\u002b`).Replace(b64)), img, Request{ClientID: "c1", HasClientID: true, PerformLivenessCheck: true, Enrol: true, HasData: true}},
		{"liveness false", `{"performLivenessCheck":false,"data":"` + b64 + `","clientId":"x"}`, img, Request{ClientID: "x", HasClientID: true, PerformLivenessCheck: false, Enrol: true, HasData: true}},
		{"enrol false", `{"enrol":false,"data":"` + b64 + `","clientId":"x"}`, img, Request{ClientID: "x", HasClientID: true, PerformLivenessCheck: true, Enrol: false, HasData: true}},
		{"enrol true", `{"clientId":"x","data":"` + b64 + `","enrol":true}`, img, Request{ClientID: "x", HasClientID: true, PerformLivenessCheck: true, Enrol: true, HasData: true}},
		{"liveness default", `{"data":"` + b64 + `","clientId":"x"}`, img, Request{ClientID: "x", HasClientID: true, PerformLivenessCheck: true, Enrol: true, HasData: true}},
		{"no clientId", `{"data":"` + b64 + `"}`, img, Request{PerformLivenessCheck: true, Enrol: true, HasData: true}},
		{"empty clientId", `{"data":"` + b64 + `","clientId":""}`, img, Request{HasClientID: true, PerformLivenessCheck: true, Enrol: true, HasData: true}},
		{"clientId escaped", `{"data":"` + b64 + `","clientId":"a\u00e9\"\\"}`, img, Request{ClientID: "a\u00e9\"\\", HasClientID: true, PerformLivenessCheck: true, Enrol: true, HasData: true}},
		{"escaped key", `{"d\u0061ta":"` + b64 + `","client\u0049d":"x"}`, img, Request{ClientID: "x", HasClientID: true, PerformLivenessCheck: true, Enrol: true, HasData: true}},
		{"no data", `{"clientId":"x"}`, nil, Request{ClientID: "x", HasClientID: true, PerformLivenessCheck: true, Enrol: true}},
		{"empty object", ` { } `, nil, Request{PerformLivenessCheck: true, Enrol: true}},
		{"whitespace everywhere", " \r\n\t{ \n\"data\" \t:\r\n \"" + b64 + "\" \n,\n\"clientId\"\n:\n\"x\"\n}\n\r\t ", img, Request{ClientID: "x", HasClientID: true, PerformLivenessCheck: true, Enrol: true, HasData: true}},
		{"unknown fields of every type", `{"s":"x\"}","n":-1.5e3,"z":0,"t":true,"f":false,"nul":null,"a":[1,"]",{"b":[]}],"o":{"k":{"l":"}"}},"e":{},"ea":[],"data":"` + b64 + `","x":"é"}`, img, Request{PerformLivenessCheck: true, Enrol: true, HasData: true}},
		{"duplicate unknown key", `{"x":1,"x":2,"data":"` + b64 + `"}`, img, Request{PerformLivenessCheck: true, Enrol: true, HasData: true}},
		{"key is case sensitive", `{"Data":1,"CLIENTID":2,"data":"` + b64 + `"}`, img, Request{PerformLivenessCheck: true, Enrol: true, HasData: true}},
		{"longest key", `{"` + strings.Repeat("k", maxKeyLen) + `":1,"data":"` + b64 + `"}`, img, Request{PerformLivenessCheck: true, Enrol: true, HasData: true}},
		{"longest value", `{"x":"` + strings.Repeat("v", maxValueLen-2) + `","data":"` + b64 + `"}`, img, Request{PerformLivenessCheck: true, Enrol: true, HasData: true}},
		{"deepest value", `{"x":` + strings.Repeat("[", maxDepth) + strings.Repeat("]", maxDepth) + `,"data":"` + b64 + `"}`, img, Request{PerformLivenessCheck: true, Enrol: true, HasData: true}},
		{"nonzero trailing bits ignored", body("AB"), []byte{0}, Request{ClientID: "c1", HasClientID: true, PerformLivenessCheck: true, Enrol: true, HasData: true}},
	}
	for _, tt := range tests {
		readers := map[string]func(io.Reader) io.Reader{
			"whole":   func(r io.Reader) io.Reader { return r },
			"onebyte": iotest.OneByteReader,
			"half":    iotest.HalfReader,
			"dataerr": iotest.DataErrReader,
		}
		for rname, wrap := range readers {
			t.Run(tt.name+"/"+rname, func(t *testing.T) {
				req, got, err := parse(t, wrap(strings.NewReader(tt.body)))
				if err != nil {
					t.Fatalf("Parse: %v", err)
				}
				if !bytes.Equal(got, tt.want) {
					t.Errorf("decoded %d bytes, want %d: %x vs %x", len(got), len(tt.want), got, tt.want)
				}
				want := tt.req
				want.Size = int64(len(tt.want))
				if req != want {
					t.Errorf("Request = %+v, want %+v", req, want)
				}
			})
		}
	}
}

func TestParseInvalid(t *testing.T) {
	b64 := enc(img)
	b97 := enc(img[:97])
	const (
		notJSON   = "The request body is not valid JSON"
		notObject = "The request body must be a JSON object"
		notB64    = "The 'data' field is not valid base64"
		notString = "The 'data' field must be a base64 string"
	)
	tests := []struct {
		name  string
		body  string
		param string
		msg   string // prefix of the message
	}{
		// Not an object.
		{"empty body", ``, "", notObject},
		{"only whitespace", " \n\t ", "", notObject},
		{"array", `[{"data":"AAAA"}]`, "", notObject},
		{"string", `"AAAA"`, "", notObject},
		{"number", `12`, "", notObject},
		{"negative", `-1`, "", notObject},
		{"true", `true`, "", notObject},
		{"null", `null`, "", notObject},
		{"garbage", `xyz`, "", notJSON},
		{"BOM", "\ufeff{}", "", notJSON},

		// Truncated.
		{"open brace only", `{`, "", notJSON},
		{"truncated in key", `{"dat`, "", notJSON},
		{"truncated after key", `{"data"`, "", notJSON},
		{"truncated after colon", `{"data":`, "", notJSON},
		{"truncated in data", `{"data":"` + b64[:50], "", notJSON},
		{"truncated in data escape", `{"data":"` + b64[:50] + `\`, "", notJSON},
		{"truncated in data unicode escape", `{"data":"` + b64[:50] + `\u00`, "", notJSON},
		{"truncated after data", `{"data":"` + b64 + `"`, "", notJSON},
		{"truncated after comma", `{"data":"` + b64 + `",`, "", notJSON},
		{"truncated in unknown value", `{"x":[1,2`, "", notJSON},
		{"truncated in unknown string", `{"x":"abc`, "", notJSON},
		{"truncated in scalar", `{"x":12`, "", notJSON},
		{"truncated in clientId", `{"clientId":"ab`, "", notJSON},

		// Syntax.
		{"trailing garbage", `{"data":"` + b64 + `"} x`, "", notJSON},
		{"two objects", `{"data":"` + b64 + `"}{}`, "", notJSON},
		{"trailing comma", `{"data":"` + b64 + `",}`, "", notJSON},
		{"missing comma", `{"data":"` + b64 + `" "clientId":"x"}`, "", notJSON},
		{"missing colon", `{"data" "` + b64 + `"}`, "", notJSON},
		{"unquoted key", `{data:"` + b64 + `"}`, "", notJSON},
		{"single quotes", `{'data':'` + b64 + `'}`, "", notJSON},
		{"leading comma", `{,"data":"` + b64 + `"}`, "", notJSON},
		{"bad escape in data", body(b64[:8] + `\x` + b64[8:]), "", notJSON},
		{"bad unicode escape in data", body(b64[:8] + `\u00g1` + b64[8:]), "", notJSON},
		{"invalid UTF-8 in key", "{\"da\xffta\":1,\"data\":\"" + b64 + "\"}", "", notJSON},
		{"invalid UTF-8 in unknown value", "{\"x\":\"\xff\",\"data\":\"" + b64 + "\"}", "", notJSON},
		{"invalid unknown value", `{"x":[1,}`, "", notJSON},
		{"invalid number", `{"x":01}`, "", notJSON},
		{"bare word", `{"x":nope}`, "", notJSON},
		{"mismatched brackets", `{"x":[1}`, "", notJSON},
		{"duplicate name in unknown object", `{"x":{"a":1,"a":2}}`, "", notJSON},
		{"key too long", `{"` + strings.Repeat("k", maxKeyLen+1) + `":1}`, "", "The request body has a field name longer"},
		{"value too long", `{"x":"` + strings.Repeat("v", maxValueLen) + `"}`, "", "The request body has a field value longer"},
		{"array too long", `{"x":[` + strings.Repeat("1,", maxValueLen/2) + `1]}`, "", "The request body has a field value longer"},
		{"number too long", `{"x":` + strings.Repeat("1", maxValueLen+1) + `}`, "", "The request body has a field value longer"},
		{"too deep", `{"x":` + strings.Repeat("[", maxDepth+1) + strings.Repeat("]", maxDepth+1) + `}`, "", "The request body is nested"},

		// data.
		{"data number", `{"data":123}`, "data", notString},
		{"data null", `{"data":null}`, "data", notString},
		{"data object", `{"data":{"x":"AAAA"}}`, "data", notString},
		{"data array", `{"data":["AAAA"]}`, "data", notString},
		{"data true", `{"data":true}`, "data", notString},
		{"data empty", body(""), "data", "The 'data' field is required"},
		{"data only whitespace", body(` \n `), "data", "The 'data' field is required"},
		{"data only prefix", body("data:image/png;base64,"), "data", "The 'data' field is required"},
		{"duplicate data", `{"data":"` + b64 + `","data":"` + b64 + `"}`, "data", "The 'data' field appears more than once"},
		{"illegal char", body(b64[:10] + "*" + b64[10:]), "data", notB64},
		{"illegal char at start", body("!" + b64), "data", notB64},
		{"illegal char in last group", body(b64[:len(b64)-3] + "!"), "data", notB64},
		{"url-safe minus", body(b64[:10] + "-" + b64[10:]), "data", notB64},
		{"url-safe underscore", body("____"), "data", notB64},
		{"pad in the middle", body(b64[:8] + "=" + b64[8:]), "data", notB64},
		{"padded group in the middle", body("AA==AAAA"), "data", notB64},
		{"data after padding", body(b97 + "AAAA"), "data", notB64},
		{"pad after full group", body("AAAA="), "data", notB64},
		{"pad after one char", body("AAAAA="), "data", notB64},
		{"too much padding", body("AA==="), "data", notB64},
		{"three pads", body("AAA=="), "data", notB64},
		{"only padding", body("===="), "data", notB64},
		{"one char group", body(b64[:len(b64)-4] + "A"), "data", notB64},
		{"single char", body("A"), "data", notB64},
		{"five chars", body("AAAAA"), "data", notB64},
		{"raw newline", body(b64[:76] + "\n" + b64[76:]), "data", "The 'data' field contains an unescaped control"},
		{"raw tab", body(b64[:3] + "\t" + b64[3:]), "data", "The 'data' field contains an unescaped control"},
		{"escaped quote", body(b64[:8] + `\"` + b64[8:]), "data", notB64},
		{"escaped backslash", body(b64[:8] + `\\` + b64[8:]), "data", notB64},
		{"escaped backspace", body(b64[:8] + `\b` + b64[8:]), "data", notB64},
		{"escaped formfeed", body(b64[:8] + `\f` + b64[8:]), "data", notB64},
		{"escaped NUL", body(b64[:8] + `\u0000` + b64[8:]), "data", notB64},
		{"escaped non-ASCII", body(b64[:8] + `\u00e9` + b64[8:]), "data", notB64},
		{"raw non-ASCII", body(b64[:8] + "é" + b64[8:]), "data", notB64},
		{"invalid UTF-8 in data", body(b64[:8] + "\xff" + b64[8:]), "data", notB64},
		{"prefix not image", body("data:text/plain;base64," + b64), "data", "The 'data' field has an invalid prefix"},
		{"prefix without base64", body("data:image/png," + b64), "data", "The 'data' field has an invalid prefix"},
		{"prefix without subtype", body("data:image/;base64," + b64), "data", "The 'data' field has an invalid prefix"},
		{"prefix never ends", body("data:image/png;base64" + b64), "data", "The 'data' field has an invalid prefix"},
		{"prefix twice", body("data:image/png;base64,data:image/png;base64," + b64), "data", notB64},
		{"prefix not at start", body("AAAA" + "data:image/png;base64," + b64), "data", notB64},
		{"prefix after space", body(" data:image/png;base64," + b64), "data", notB64},

		// clientId and performLivenessCheck.
		{"clientId number", `{"clientId":12,"data":"` + b64 + `"}`, "clientId", "The 'clientId' field must be a string"},
		{"clientId null", `{"clientId":null,"data":"` + b64 + `"}`, "clientId", "The 'clientId' field must be a string"},
		{"clientId object", `{"clientId":{"a":"b"},"data":"` + b64 + `"}`, "clientId", "The 'clientId' field must be a string"},
		{"clientId array", `{"clientId":["a"],"data":"` + b64 + `"}`, "clientId", "The 'clientId' field must be a string"},
		{"clientId invalid UTF-8", "{\"clientId\":\"a\xffb\"}", "clientId", "The 'clientId' field is not a valid JSON string"},
		{"clientId bad escape", `{"clientId":"a\qb"}`, "clientId", "The 'clientId' field is not a valid JSON string"},
		{"clientId too long", `{"clientId":"` + strings.Repeat("c", maxValueLen) + `"}`, "clientId", "The 'clientId' field is too long"},
		{"duplicate clientId", `{"clientId":"a","clientId":"a"}`, "clientId", "The 'clientId' field appears more than once"},
		{"liveness string", `{"performLivenessCheck":"true"}`, "performLivenessCheck", "The 'performLivenessCheck' field must be a boolean"},
		{"liveness number", `{"performLivenessCheck":1}`, "performLivenessCheck", "The 'performLivenessCheck' field must be a boolean"},
		{"liveness null", `{"performLivenessCheck":null}`, "performLivenessCheck", "The 'performLivenessCheck' field must be a boolean"},
		{"liveness array", `{"performLivenessCheck":[true]}`, "performLivenessCheck", "The 'performLivenessCheck' field must be a boolean"},
		{"liveness object", `{"performLivenessCheck":{}}`, "performLivenessCheck", "The 'performLivenessCheck' field must be a boolean"},
		{"liveness misspelt", `{"performLivenessCheck":True}`, "performLivenessCheck", "The 'performLivenessCheck' field must be a boolean"},
		{"liveness truex", `{"performLivenessCheck":truex}`, "performLivenessCheck", "The 'performLivenessCheck' field must be a boolean"},
		{"duplicate liveness", `{"performLivenessCheck":true,"performLivenessCheck":true}`, "performLivenessCheck", "The 'performLivenessCheck' field appears more than once"},
		{"enrol string", `{"enrol":"false"}`, "enrol", "The 'enrol' field must be a boolean"},
		{"enrol null", `{"enrol":null}`, "enrol", "The 'enrol' field must be a boolean"},
		{"enrol number", `{"enrol":0}`, "enrol", "The 'enrol' field must be a boolean"},
		{"duplicate enrol", `{"enrol":false,"enrol":false}`, "enrol", "The 'enrol' field appears more than once"},
	}
	for _, tt := range tests {
		for rname, wrap := range map[string]func(io.Reader) io.Reader{
			"whole":   func(r io.Reader) io.Reader { return r },
			"onebyte": iotest.OneByteReader,
			"half":    iotest.HalfReader,
			"dataerr": iotest.DataErrReader,
		} {
			t.Run(tt.name+"/"+rname, func(t *testing.T) {
				_, _, err := parse(t, wrap(strings.NewReader(tt.body)))
				var fe *facevault.Error
				if !errors.As(err, &fe) {
					t.Fatalf("Parse error = %v, want a *facevault.Error", err)
				}
				if fe.Code != facevault.EInvalid || fe.Param != tt.param || !strings.HasPrefix(fe.Message, tt.msg) {
					t.Errorf("Parse error = %+v, want code %s, param %q, message %q...", fe, facevault.EInvalid, tt.param, tt.msg)
				}
			})
		}
	}
}

// TestParseErrorPosition checks that base64 errors say where they are.
func TestParseErrorPosition(t *testing.T) {
	_, _, err := parse(t, strings.NewReader(body(strings.Repeat("A", 100000)+"-AAA")))
	if err == nil || !strings.Contains(err.Error(), "at byte 100000 of the string") || !strings.Contains(err.Error(), "URL-safe") {
		t.Errorf("error = %v", err)
	}
}

// randomBody encodes b the way some client might: maybe with a data URL
// prefix, line breaks of random kinds at random places, escaped slashes and
// missing padding.
func randomBody(r *rand.Rand, b []byte) string {
	s := enc(b)
	if r.IntN(2) == 0 {
		s = strings.TrimRight(s, "=")
	}
	var sb strings.Builder
	sb.WriteString(`{"clientId":"c","data":"`)
	if r.IntN(3) == 0 {
		sb.WriteString([]string{"data:image/jpeg;base64,", `data:image\/png;base64,`}[r.IntN(2)])
	}
	breaks := []string{`\n`, `\r\n`, " ", `\t`, `\u000A`}
	mode := r.IntN(4) // 0: none, 1: fixed width, 2: random, 3: random and rare
	width := 1 + r.IntN(100)
	brk := breaks[r.IntN(len(breaks))]
	escSlash := r.IntN(3) == 0
	for i := 0; i < len(s); i++ {
		switch mode {
		case 1:
			if i > 0 && i%width == 0 {
				sb.WriteString(brk)
			}
		case 2:
			if r.IntN(width) == 0 {
				sb.WriteString(breaks[r.IntN(len(breaks))])
			}
		case 3:
			if r.IntN(50000) == 0 {
				sb.WriteString(breaks[r.IntN(len(breaks))])
			}
		}
		if s[i] == '/' && escSlash {
			sb.WriteString(`\/`)
		} else {
			sb.WriteByte(s[i])
		}
	}
	sb.WriteString(`","performLivenessCheck":false}`)
	return sb.String()
}

// TestParseRandom compares Parse with encoding/base64 over many lengths,
// break positions and read sizes, to exercise every chunk boundary.
func TestParseRandom(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	n := 400
	if testing.Short() {
		n = 50
	}
	for i := range n {
		var size int
		switch i % 4 {
		case 0:
			size = 1 + r.IntN(200)
		case 1:
			size = 1 + r.IntN(100000)
		case 2:
			size = 1 + r.IntN(400000)
		case 3: // around the chunk and buffer sizes
			size = []int{chunkSize / 4 * 3, readSize / 4 * 3, readSize, outSize, 2 * outSize, cleanSize / 4 * 3}[r.IntN(6)] + r.IntN(9) - 4
		}
		want := payload(size, uint64(i))
		b := randomBody(r, want)
		var rd io.Reader = strings.NewReader(b)
		switch r.IntN(5) {
		case 0:
			if len(b) < 50000 {
				rd = iotest.OneByteReader(rd)
			}
		case 1:
			rd = iotest.HalfReader(rd)
		case 2:
			rd = iotest.DataErrReader(rd)
		case 3:
			rd = &chunkReader{r: rd, rnd: r}
		}
		req, got, err := parse(t, rd)
		if err != nil {
			t.Fatalf("case %d (size %d): Parse: %v\nbody starts %.200s", i, size, err, b)
		}
		if !bytes.Equal(got, want) {
			t.Fatalf("case %d (size %d): decoded %d bytes, differ from the %d encoded", i, size, len(got), len(want))
		}
		if req.ClientID != "c" || req.PerformLivenessCheck || !req.HasData {
			t.Fatalf("case %d: Request = %+v", i, req)
		}
	}
}

// TestParseMutations damages large valid bodies at random and compares Parse
// with the reference model, which covers the fast path's fallbacks.
func TestParseMutations(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	junk := []string{"\n", "\r", "\t", " ", "=", "==", "-", "_", "*", "é", "\xff", "\x00", `\n`, `\r\n`, `\u0041`, `\/`, `\\`, `\"`, `"`, "A", "AB", "ABC"}
	n := 600
	if testing.Short() {
		n = 100
	}
	for i := range n {
		b := randomBody(r, payload(1+r.IntN(150000), uint64(i)))
		start := strings.Index(b, `"data":"`) + len(`"data":"`)
		end := strings.LastIndex(b, `","performLivenessCheck"`)
		for range 1 + r.IntN(3) {
			at := start + r.IntN(end-start)
			if r.IntN(4) == 0 {
				at = max(start, end-r.IntN(8)) // near the end, where padding is
			}
			j := junk[r.IntN(len(junk))]
			if r.IntN(2) == 0 {
				b = b[:at] + j + b[at:] // insert
			} else {
				b = b[:at] + j + b[min(at+len(j), len(b)):] // overwrite
			}
			end = strings.LastIndex(b, `","performLivenessCheck"`)
			if end < start {
				break
			}
		}
		var rd io.Reader = strings.NewReader(b)
		if r.IntN(2) == 0 {
			rd = &chunkReader{r: rd, rnd: r}
		}
		req, got, err := parse(t, rd)
		wreq, want, werr := refParse([]byte(b))
		if (err == nil) != (werr == nil) {
			t.Fatalf("case %d: Parse error = %v, reference error = %v", i, err, werr)
		}
		if err != nil {
			var fe *facevault.Error
			if !errors.As(err, &fe) || fe.Code != facevault.EInvalid {
				t.Fatalf("case %d: Parse error = %v, want a 400", i, err)
			}
			continue
		}
		if !bytes.Equal(got, want) || req != wreq {
			t.Fatalf("case %d: Parse and reference differ: %+v vs %+v", i, req, wreq)
		}
	}
}

// chunkReader returns reads of random sizes.
type chunkReader struct {
	r   io.Reader
	rnd *rand.Rand
}

func (c *chunkReader) Read(p []byte) (int, error) {
	n := 1 + c.rnd.IntN(10000)
	if c.rnd.IntN(10) == 0 {
		return 0, nil // allowed, discouraged
	}
	return c.r.Read(p[:min(n, len(p))])
}

// failWriter accepts limit bytes and then fails with a *facevault.Error, as
// the caller's size-bounding writer does.
type failWriter struct {
	limit, n, calls int
	failed          bool
}

func (w *failWriter) Write(p []byte) (int, error) {
	w.calls++
	if w.failed {
		panic("Write after an error")
	}
	if w.n+len(p) > w.limit {
		w.failed = true
		k := w.limit - w.n
		w.n = w.limit
		return k, facevault.Invalid("data", "Image file size should be between 34KB and 4MB")
	}
	w.n += len(p)
	return len(p), nil
}

// countReader counts the bytes read through it.
type countReader struct {
	r io.Reader
	n int
}

func (c *countReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += n
	return n, err
}

func TestParseWriterError(t *testing.T) {
	data := payload(4<<20, 3)
	b := body(enc(data))
	for _, limit := range []int{0, 1, 1000, 34 << 10, 100 << 10, 1 << 20} {
		t.Run(fmt.Sprint(limit), func(t *testing.T) {
			w := &failWriter{limit: limit}
			cr := &countReader{r: strings.NewReader(b)}
			req, err := Parse(cr, w)
			var fe *facevault.Error
			if !errors.As(err, &fe) || fe.Param != "data" || !strings.HasPrefix(fe.Message, "Image file size") {
				t.Fatalf("Parse error = %v, want the writer's", err)
			}
			if req.Size != int64(limit) {
				t.Errorf("Size = %d, want %d", req.Size, limit)
			}
			// Stopped at once: at most a read buffer and an output
			// buffer's worth of input beyond what the writer took.
			if most := limit*4/3 + readSize + outSize*4/3 + 100; cr.n > most {
				t.Errorf("read %d bytes after the writer failed at %d; want at most %d", cr.n, limit, most)
			}
		})
	}
}

type customErr struct{}

func (customErr) Error() string { return "custom" }

// errAfterReader returns the bytes of r and then err (instead of io.EOF).
type errAfterReader struct {
	r   io.Reader
	err error
}

func (e *errAfterReader) Read(p []byte) (int, error) {
	n, err := e.r.Read(p)
	if err == io.EOF {
		err = e.err
	}
	return n, err
}

func TestParseReaderError(t *testing.T) {
	b64 := enc(payload(200000, 5))
	full := body(b64)
	for _, cut := range []int{0, 1, 20, 30, 1000, 100000, len(full) - 1} {
		t.Run(fmt.Sprint(cut), func(t *testing.T) {
			_, err := Parse(&errAfterReader{r: strings.NewReader(full[:cut]), err: customErr{}}, io.Discard)
			var ce customErr
			if !errors.As(err, &ce) {
				t.Fatalf("Parse error = %v, want the reader's", err)
			}
			var fe *facevault.Error
			if errors.As(err, &fe) {
				t.Errorf("reader error reported as %v", fe)
			}
		})
	}
	// The reader's error after the object: trailing data cannot be checked.
	_, err := Parse(&errAfterReader{r: strings.NewReader(full), err: customErr{}}, io.Discard)
	if !errors.As(err, new(customErr)) {
		t.Errorf("error after the object: Parse error = %v, want the reader's", err)
	}
	// io.ErrUnexpectedEOF is the end of the body.
	_, err = Parse(&errAfterReader{r: strings.NewReader(full[:100]), err: io.ErrUnexpectedEOF}, io.Discard)
	var fe *facevault.Error
	if !errors.As(err, &fe) || fe.Message != "The request body is not valid JSON" || fe.Param != "" {
		t.Errorf("ErrUnexpectedEOF: Parse error = %v", err)
	}
	// A reader that never makes progress.
	_, err = Parse(zeroReader{}, io.Discard)
	if !errors.Is(err, io.ErrNoProgress) {
		t.Errorf("zero reader: Parse error = %v", err)
	}
}

type zeroReader struct{}

func (zeroReader) Read([]byte) (int, error) { return 0, nil }

func TestParseMaxBytesError(t *testing.T) {
	b := body(enc(payload(1<<20, 9)))
	rec := httptest.NewRecorder()
	r := http.MaxBytesReader(rec, io.NopCloser(strings.NewReader(b)), 100000)
	_, err := Parse(r, io.Discard)
	var mb *http.MaxBytesError
	if !errors.As(err, &mb) || mb.Limit != 100000 {
		t.Fatalf("Parse error = %v, want *http.MaxBytesError", err)
	}
}

func TestParseAllocs(t *testing.T) {
	b := []byte(body(enc(payload(1<<20, 4))))
	rd := bytes.NewReader(b)
	allocs := testing.AllocsPerRun(20, func() {
		rd.Reset(b)
		if _, err := Parse(rd, io.Discard); err != nil {
			t.Fatal(err)
		}
	})
	if allocs > 5 {
		t.Errorf("%v allocations per Parse, want at most 5", allocs)
	}
}

// benchBody is a body around 4 MiB of image, encoded as base64 with sep
// after every width characters (none if width is 0).
func benchBody(width int, sep string) []byte {
	s := enc(payload(4<<20, 11))
	if width > 0 {
		var sb strings.Builder
		for len(s) > width {
			sb.WriteString(s[:width])
			sb.WriteString(sep)
			s = s[width:]
		}
		sb.WriteString(s)
		s = sb.String()
	}
	return []byte(body(s))
}

func BenchmarkParse(b *testing.B) {
	for _, bc := range []struct {
		name  string
		width int
		sep   string
	}{
		{"plain", 0, ""},
		{"lines76", 76, `\n`},
		{"crlf76", 76, `\r\n`},
		{"lines77", 77, `\n`},
		{"spaces76", 76, " "},
		{"spaces1", 1, " "},
	} {
		b.Run(bc.name, func(b *testing.B) {
			in := benchBody(bc.width, bc.sep)
			rd := bytes.NewReader(in)
			b.SetBytes(int64(len(in)))
			b.ReportAllocs()
			for b.Loop() {
				rd.Reset(in)
				req, err := Parse(rd, io.Discard)
				if err != nil || req.Size != 4<<20 {
					b.Fatal(req.Size, err)
				}
			}
		})
	}
}

// FuzzParse compares Parse with the reference model on any body, read
// whole, in halves, and in reads whose sizes the fuzzer chooses (see
// scriptReader): the fields, the decoded bytes and whether the body is
// refused must agree, and a refusal must be a 400.
func FuzzParse(f *testing.F) {
	b64 := enc(img)
	for i, s := range []string{
		body(b64),
		body("data:image/png;base64," + b64),
		body(`data:image\/png;base64,` + strings.ReplaceAll(b64, "/", `\/`)),
		body(b64[:76] + `\r\n` + b64[76:]),
		body(b64[:76] + `\n` + b64[76:len(b64)-2]),
		body(" " + b64[:3] + " " + b64[3:]),
		body(`\u0041\u0041\u003D\u003D`),
		body("AB"),
		body("A"),
		body(""),
		body("AA=A"),
		body("-_"),
		`{"data":1}`,
		`{"x":[{"a":null,"b":[true,false,1.5e-3,"s"]}],"data":"AAAA"}`,
		`{"clientId":"x","clientId":"y"}`,
		`{"performLivenessCheck":false,"data":"AAAA"}`,
		`{"enrol":false,"data":"AAAA"}`,
		`{"enrol":true,"enrol":false}`,
		`[]`,
		`{"data":"AAAA"} x`,
		`{"data":"AAAA"`,
		"{\"data\":\"AA\nAA\"}",
	} {
		f.Add([]byte(s), []byte{byte(i), 0, 3, 0xF1})
	}
	f.Fuzz(func(t *testing.T, in, script []byte) {
		wreq, want, werr := refParse(in)
		for _, wrap := range []func(io.Reader) io.Reader{
			func(r io.Reader) io.Reader { return r },
			iotest.HalfReader,
			func(r io.Reader) io.Reader { return &scriptReader{r: r, script: script} },
		} {
			req, got, err := parse(t, wrap(bytes.NewReader(in)))
			if (err == nil) != (werr == nil) {
				t.Fatalf("Parse error = %v, reference error = %v", err, werr)
			}
			if err != nil {
				var fe *facevault.Error
				if !errors.As(err, &fe) || fe.Code != facevault.EInvalid {
					t.Fatalf("Parse error = %v, want a 400", err)
				}
				continue
			}
			if !bytes.Equal(got, want) {
				t.Fatalf("decoded %x, reference %x", got, want)
			}
			if req != wreq {
				t.Fatalf("Request = %+v, reference %+v", req, wreq)
			}
		}
	})
}
