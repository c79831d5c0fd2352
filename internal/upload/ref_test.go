package upload

import (
	"bytes"
	stdbase64 "encoding/base64"
	"errors"
	"io"
	"regexp"
	"strings"

	"github.com/go-json-experiment/json/jsontext"
)

// refParse is a slow, obviously-correct model of Parse used by the fuzz
// target: the whole body is decoded with jsontext, then "data" is cleaned
// with strings functions and decoded with the standard library.
func refParse(body []byte) (Request, []byte, error) {
	req := Request{PerformLivenessCheck: true, Enrol: true}
	fail := errors.New("invalid")
	dec := jsontext.NewDecoder(bytes.NewReader(body), jsontext.AllowDuplicateNames(true))
	tok, err := dec.ReadToken()
	if err != nil || tok.Kind() != '{' {
		return req, nil, fail
	}
	var data []byte
	seenPLC, seenEnrol := false, false
	for dec.PeekKind() != '}' {
		rawName, err := dec.ReadValue()
		if err != nil || len(rawName) > maxKeyLen+2 {
			return req, nil, fail
		}
		name, err := jsontext.AppendUnquote(nil, rawName)
		if err != nil {
			return req, nil, fail
		}
		v, err := dec.ReadValue()
		if err != nil {
			return req, nil, fail
		}
		switch string(name) {
		case "data":
			if req.HasData || v.Kind() != '"' {
				return req, nil, fail
			}
			req.HasData = true
			s, err := jsontext.AppendUnquote(nil, v)
			if err != nil {
				return req, nil, fail
			}
			data, err = refDecode(string(s))
			if err != nil {
				return req, nil, fail
			}
		case "clientId":
			if req.HasClientID || v.Kind() != '"' || len(v) > maxValueLen {
				return req, nil, fail
			}
			s, _ := jsontext.AppendUnquote(nil, v)
			req.ClientID, req.HasClientID = string(s), true
		case "performLivenessCheck":
			if seenPLC || (v.Kind() != 't' && v.Kind() != 'f') {
				return req, nil, fail
			}
			seenPLC = true
			req.PerformLivenessCheck = v.Kind() == 't'
		case "enrol":
			if seenEnrol || (v.Kind() != 't' && v.Kind() != 'f') {
				return req, nil, fail
			}
			seenEnrol = true
			req.Enrol = v.Kind() == 't'
		default:
			if len(v) > maxValueLen || refDepth(v) > maxDepth || !v.IsValid() {
				return req, nil, fail
			}
		}
	}
	if _, err := dec.ReadToken(); err != nil {
		return req, nil, fail
	}
	if _, err := dec.ReadToken(); err != io.EOF {
		return req, nil, fail
	}
	req.Size = int64(len(data))
	return req, data, nil
}

var refPrefix = regexp.MustCompile(`(?i)^data:image/[a-z0-9.+-]+;base64,`)

// refDecode applies the contract's base64 rules to the unescaped string.
func refDecode(s string) ([]byte, error) {
	fail := errors.New("invalid base64")
	if len(s) >= 5 && strings.EqualFold(s[:5], "data:") {
		loc := refPrefix.FindStringIndex(s)
		if loc == nil {
			return nil, fail
		}
		s = s[loc[1]:]
	}
	s = strings.Map(func(r rune) rune {
		if r == ' ' || r == '\t' || r == '\r' || r == '\n' {
			return -1
		}
		return r
	}, s)
	t := strings.TrimRight(s, "=")
	pad := len(s) - len(t)
	switch m := len(t) % 4; {
	case m == 1:
		return nil, fail
	case pad > 0 && !(m == 2 && pad <= 2 || m == 3 && pad == 1):
		return nil, fail
	}
	b, err := stdbase64.RawStdEncoding.DecodeString(t)
	if err != nil || len(b) == 0 {
		return nil, fail
	}
	return b, nil
}

// refDepth is the deepest nesting of arrays and objects in a valid value.
func refDepth(v []byte) int {
	depth, most, inStr := 0, 0, false
	for i := 0; i < len(v); i++ {
		switch c := v[i]; {
		case inStr && c == '\\':
			i++
		case c == '"':
			inStr = !inStr
		case inStr:
		case c == '{' || c == '[':
			depth++
			most = max(most, depth)
		case c == '}' || c == ']':
			depth--
		}
	}
	return most
}
