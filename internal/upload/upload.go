// Package upload parses the body of a live photo upload,
//
//	{"clientId": "...", "data": "<base64>", "performLivenessCheck": true, "enrol": true}
//
// as a stream. The body can be several megabytes, almost all of it the
// base64 "data" string, so the parser never holds it in memory: it tokenizes
// the top-level object itself, decodes "data" as it arrives and hands the
// decoded bytes to a caller's io.Writer in chunks. Only the small values
// (clientId, performLivenessCheck and any unknown fields, each bounded) are
// captured whole, and those are validated with the jsontext package.
//
// Accepted in "data", as section 6 of the contract allows: standard base64
// (A-Z a-z 0-9 + /), an optional leading "data:image/<subtype>;base64,"
// prefix, spaces and line breaks anywhere (raw in the decoded string, that
// is written as JSON escapes \n \r \t, or as a plain space), and missing "="
// padding at the end. JSON escapes are decoded first: "\/" and "\u002F" are
// both "/". Everything else is a 400 naming the "data" parameter.
package upload

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/emmansun/base64"
	"github.com/go-json-experiment/json/jsontext"

	"github.com/facevault/facevault"
)

// Request is what the body said, other than the image bytes.
type Request struct {
	ClientID             string
	HasClientID          bool  // "clientId" was present (it may still be "")
	PerformLivenessCheck bool  // true unless the body says false
	Enrol                bool  // true unless the body says false
	HasData              bool  // "data" was present
	Size                 int64 // decoded bytes written to dst
}

// Limits. The read buffer and the decode chunk are sized so that a plain
// base64 body is decoded in a few large SIMD calls per buffer.
const (
	readSize    = 64 << 10 // bytes read from the body at a time
	chunkSize   = 32 << 10 // most base64 characters decoded in one call; a multiple of 4
	cleanSize   = 8 << 10  // base64 characters gathered by the slow path before decoding; a multiple of 4
	outSize     = 64 << 10 // decoded bytes gathered before a write to dst
	outSlack    = 64       // room past the decoded length for the SIMD decoder's wide stores
	maxKeyLen   = 256      // longest field name, in raw JSON bytes between the quotes
	maxValueLen = 64 << 10 // longest raw value of a field other than "data"
	maxDepth    = 64       // deepest nesting of arrays and objects inside a field value
	maxPrefix   = 128      // longest data URL prefix, "data:" excluded

	slowAfterShortRun = 64  // a failed fast decode that kept fewer characters than this...
	slowStretch       = 512 // ...sends this many characters down the slow path
)

// Classes of the characters of the "data" string, after JSON unescaping.
const (
	cBad      = iota // not base64
	cAlpha           // standard alphabet
	cSpace           // skipped
	cPad             // '='
	cURL             // '-' or '_': URL-safe alphabet
	cCtrl            // raw control character: not valid inside a JSON string
	cNonASCII        // byte >= 0x80
)

// b64class classifies bytes of the "data" string. Read-only.
var b64class = func() (t [256]uint8) {
	for c := 0; c < 0x20; c++ {
		t[c] = cCtrl
	}
	for c := 0x80; c < 0x100; c++ {
		t[c] = cNonASCII
	}
	for _, c := range []byte("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/") {
		t[c] = cAlpha
	}
	t[' '] = cSpace
	t['='] = cPad
	t['-'] = cURL
	t['_'] = cURL
	return t
}()

// Characters that the JSON escapes in "data" decode to when the decoded
// character is whitespace, or is a control character that base64 does not
// allow. They are then classified like any other character.
const (
	escSpace    = ' '
	escIllegal  = 0x7f // classified cBad
	escNonASCII = 0x80 // classified cNonASCII
)

// Parse reads one JSON object from r, writing the base64-decoded "data" to
// dst as it streams, and returns the other fields.
//
// Errors:
//   - a *facevault.Error with code invalid_request (400) when the body is not
//     a JSON object of the expected shape; Param names the field at fault, if
//     one is. A body that ends early is "The request body is not valid JSON".
//     "data" present but empty is an error; "data" or "clientId" missing is
//     not (see HasData, HasClientID): the caller decides what to say.
//   - an error of dst.Write, returned unchanged; parsing stops at once.
//   - an error of r.Read other than io.EOF, wrapped (errors.As and errors.Is
//     see through it).
//
// On error the Request holds what was parsed so far, and Size counts the
// bytes already written to dst, which the caller should then discard: the
// body may be found wrong after "data" was streamed.
//
// Parse uses about 140 KiB of buffers, allocated per call, whatever the size
// of the body.
func Parse(r io.Reader, dst io.Writer) (Request, error) {
	const keyCap, scratchCap = 2 * maxKeyLen, 1 << 10
	mem := make([]byte, readSize+cleanSize+outSize+outSlack+keyCap+scratchCap)
	rest := mem[readSize+cleanSize+outSize+outSlack:]
	p := parser{
		r:       r,
		dst:     dst,
		buf:     mem[:readSize:readSize],
		clean:   mem[readSize : readSize : readSize+cleanSize],
		out:     mem[readSize+cleanSize : readSize+cleanSize : readSize+cleanSize+outSize+outSlack],
		key:     rest[:0:keyCap],
		scratch: rest[keyCap : keyCap : keyCap+scratchCap],
		qi:      -1,
		bi:      -1,
		req:     Request{PerformLivenessCheck: true, Enrol: true},
	}
	err := p.parse()
	return p.req, err
}

type parser struct {
	r    io.Reader
	dst  io.Writer
	rerr error // sticky error of r.Read

	buf      []byte // read buffer; buf[pos:end] is unread
	pos, end int
	off      int64 // offset in the body of buf[0]

	// The "data" string.
	dataStart int64  // offset in the body of its first byte
	qi, bi    int    // index in buf of the next '"' and '\\' at or after pos, or end; -1: unknown
	clean     []byte // base64 characters not yet decoded (cap cleanSize)
	out       []byte // decoded bytes not yet written to dst (cap outSize+outSlack)
	pad       int    // '=' seen
	padMax    int    // '=' allowed, once one was seen
	needOdd   bool   // the fast path failed: go slowly until past a non-alphabet character

	scratch []byte // raw key or value being captured
	key     []byte // unquoted key
	dupPLC  bool   // performLivenessCheck seen
	dupEnr  bool   // enrol seen
	req     Request
}

// readBool reads the value of a boolean field, once.
func (p *parser) readBool(name string, seen, dst *bool) error {
	if *seen {
		return errDuplicate(name)
	}
	*seen = true
	if err := p.readValue(name); err != nil {
		return err
	}
	switch string(p.scratch) {
	case "true":
		*dst = true
	case "false":
		*dst = false
	default:
		return facevault.Invalid(name, "The '%s' field must be a boolean", name)
	}
	return nil
}

// Errors. Each call makes a new *facevault.Error: callers may keep or change it.

func errNotJSON() error { return facevault.Invalid("", "The request body is not valid JSON") }

func errNotObject() error { return facevault.Invalid("", "The request body must be a JSON object") }

func errDuplicate(param string) error {
	return facevault.Invalid(param, "The '%s' field appears more than once", param)
}

func errBase64(at int64, format string, args ...any) error {
	return facevault.Invalid("data", "The 'data' field is not valid base64: %s (at byte %d of the string)",
		fmt.Sprintf(format, args...), at)
}

// fill reads more of the body into buf. Call it only when pos == end. It
// returns r's error (io.EOF at the end) only once the buffer is drained.
func (p *parser) fill() error {
	if p.rerr != nil {
		return p.rerr
	}
	p.off += int64(p.end)
	p.pos, p.end = 0, 0
	p.qi, p.bi = -1, -1
	for range 100 {
		n, err := p.r.Read(p.buf)
		if n < 0 || n > len(p.buf) {
			n, err = 0, errors.New("upload: reader returned an invalid count")
		}
		p.end = n
		if err != nil {
			p.rerr = err
			if n > 0 {
				return nil
			}
			return err
		}
		if n > 0 {
			return nil
		}
	}
	p.rerr = io.ErrNoProgress
	return p.rerr
}

// ioErr turns an error of fill into what Parse returns: the end of the body
// inside the object is a syntax error, anything else is the reader's.
func ioErr(err error) error {
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return errNotJSON()
	}
	return fmt.Errorf("upload: reading the request body: %w", err)
}

// next consumes and returns one byte; the end of the body is an error.
func (p *parser) next() (byte, error) {
	if p.pos == p.end {
		if err := p.fill(); err != nil {
			return 0, ioErr(err)
		}
	}
	c := p.buf[p.pos]
	p.pos++
	return c, nil
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

// skipSpace consumes whitespace and then one more byte, which it returns.
// The end of the body is returned as fill's error, unconverted.
func (p *parser) skipSpace() (byte, error) {
	for {
		for p.pos < p.end {
			c := p.buf[p.pos]
			p.pos++
			if !isSpace(c) {
				return c, nil
			}
		}
		if err := p.fill(); err != nil {
			return 0, err
		}
	}
}

// token is skipSpace for where the object is not yet complete.
func (p *parser) token() (byte, error) {
	c, err := p.skipSpace()
	if err != nil {
		return 0, ioErr(err)
	}
	return c, nil
}

func (p *parser) parse() error {
	c, err := p.skipSpace()
	if err != nil {
		if errors.Is(err, io.EOF) {
			return errNotObject() // empty body
		}
		return ioErr(err)
	}
	if c != '{' {
		if strings.IndexByte(`["-0123456789tfn`, c) >= 0 {
			return errNotObject()
		}
		return errNotJSON()
	}
	if c, err = p.token(); err != nil {
		return err
	}
	if c != '}' {
		for {
			if c != '"' {
				return errNotJSON()
			}
			if err := p.readKey(); err != nil {
				return err
			}
			if c, err = p.token(); err != nil {
				return err
			}
			if c != ':' {
				return errNotJSON()
			}
			if err := p.readMember(); err != nil {
				return err
			}
			if c, err = p.token(); err != nil {
				return err
			}
			if c == '}' {
				break
			}
			if c != ',' {
				return errNotJSON()
			}
			if c, err = p.token(); err != nil {
				return err
			}
		}
	}
	// Nothing but whitespace may follow the object.
	for {
		for ; p.pos < p.end; p.pos++ {
			if !isSpace(p.buf[p.pos]) {
				return facevault.Invalid("", "The request body is not valid JSON: unexpected data after the object")
			}
		}
		if err := p.fill(); err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			return ioErr(err)
		}
	}
}

// readRawString appends to scratch a JSON string whose opening quote was
// just consumed (the quote included), up to and including the closing quote.
// It checks only where the string ends; jsontext checks the rest. It fails
// once scratch would pass limit bytes.
func (p *parser) readRawString(limit int, tooLong func() error) error {
	p.scratch = append(p.scratch, '"')
	for {
		c, err := p.next()
		if err != nil {
			return err
		}
		if len(p.scratch) >= limit {
			return tooLong()
		}
		p.scratch = append(p.scratch, c)
		switch c {
		case '"':
			return nil
		case '\\':
			c, err := p.next()
			if err != nil {
				return err
			}
			p.scratch = append(p.scratch, c)
		}
	}
}

// readKey reads an object member name whose opening quote was just consumed
// and leaves it, unquoted, in key.
func (p *parser) readKey() error {
	p.scratch = p.scratch[:0]
	err := p.readRawString(maxKeyLen+2, func() error {
		return facevault.Invalid("", "The request body has a field name longer than %d bytes", maxKeyLen)
	})
	if err != nil {
		return err
	}
	p.key, err = jsontext.AppendUnquote(p.key[:0], p.scratch)
	if err != nil {
		return errNotJSON()
	}
	return nil
}

// readMember reads the value of the member named key; the colon was just
// consumed.
func (p *parser) readMember() error {
	switch string(p.key) {
	case "data":
		if p.req.HasData {
			return errDuplicate("data")
		}
		p.req.HasData = true
		c, err := p.token()
		if err != nil {
			return err
		}
		if c != '"' {
			return facevault.Invalid("data", "The 'data' field must be a base64 string")
		}
		return p.readData()
	case "clientId":
		if p.req.HasClientID {
			return errDuplicate("clientId")
		}
		p.req.HasClientID = true
		if err := p.readValue("clientId"); err != nil {
			return err
		}
		if p.scratch[0] != '"' {
			return facevault.Invalid("clientId", "The 'clientId' field must be a string")
		}
		s, err := jsontext.AppendUnquote(p.key[:0], p.scratch) // key is no longer needed
		if err != nil {
			return facevault.Invalid("clientId", "The 'clientId' field is not a valid JSON string")
		}
		p.key = s
		p.req.ClientID = string(s)
		return nil
	case "performLivenessCheck":
		return p.readBool("performLivenessCheck", &p.dupPLC, &p.req.PerformLivenessCheck)
	case "enrol":
		return p.readBool("enrol", &p.dupEnr, &p.req.Enrol)
	default:
		if err := p.readValue(""); err != nil {
			return err
		}
		if !jsontext.Value(p.scratch).IsValid() {
			return errNotJSON()
		}
		return nil
	}
}

// isScalar reports whether c can be part of a JSON number or literal.
func isScalar(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '+' || c == '.'
}

// readValue captures into scratch the raw JSON value that follows (after
// whitespace), at most maxValueLen bytes and maxDepth levels deep. It finds
// only where the value ends; the caller validates it. param names the field
// in the errors about size.
func (p *parser) readValue(param string) error {
	tooLong := func() error {
		if param != "" {
			return facevault.Invalid(param, "The '%s' field is too long", param)
		}
		return facevault.Invalid("", "The request body has a field value longer than %d bytes", maxValueLen)
	}
	p.scratch = p.scratch[:0]
	c, err := p.token()
	if err != nil {
		return err
	}
	switch {
	case c == '"':
		return p.readRawString(maxValueLen, tooLong)
	case c == '{' || c == '[':
		depth := 0
		for {
			if len(p.scratch) >= maxValueLen {
				return tooLong()
			}
			switch c {
			case '"':
				if err := p.readRawString(maxValueLen, tooLong); err != nil {
					return err
				}
			case '{', '[':
				if depth++; depth > maxDepth {
					return facevault.Invalid("", "The request body is nested more than %d levels deep", maxDepth)
				}
				p.scratch = append(p.scratch, c)
			case '}', ']':
				p.scratch = append(p.scratch, c)
				if depth--; depth == 0 {
					return nil
				}
			default:
				p.scratch = append(p.scratch, c)
			}
			if c, err = p.next(); err != nil {
				return err
			}
		}
	case isScalar(c):
		p.scratch = append(p.scratch, c)
		for {
			if p.pos == p.end {
				if err := p.fill(); err != nil {
					return ioErr(err) // a body cannot end inside the object
				}
			}
			c := p.buf[p.pos]
			if !isScalar(c) {
				return nil
			}
			if len(p.scratch) >= maxValueLen {
				return tooLong()
			}
			p.scratch = append(p.scratch, c)
			p.pos++
		}
	default:
		return errNotJSON()
	}
}

// strByte consumes one character of the "data" string and returns it JSON
// unescaped (see escape), with its offset in the string; end reports the
// closing quote.
func (p *parser) strByte() (c byte, at int64, end bool, err error) {
	if p.pos == p.end {
		if err := p.fill(); err != nil {
			return 0, 0, false, ioErr(err)
		}
	}
	at = p.off + int64(p.pos) - p.dataStart
	switch c = p.buf[p.pos]; c {
	case '"':
		p.pos++
		return 0, at, true, nil
	case '\\':
		c, err = p.escape()
		return c, at, false, err
	default:
		p.pos++
		return c, at, false, nil
	}
}

// escape consumes a JSON escape sequence (buf[pos] is the backslash) in the
// "data" string and returns the character it stands for, mapped so that the
// character classes do the right thing: whitespace becomes a space, other
// control characters become escIllegal and anything beyond ASCII becomes
// escNonASCII.
func (p *parser) escape() (byte, error) {
	p.pos++
	c, err := p.next()
	if err != nil {
		return 0, err
	}
	switch c {
	case '/', '"', '\\':
		return c, nil
	case 'n', 'r', 't':
		return escSpace, nil
	case 'b', 'f':
		return escIllegal, nil
	case 'u':
		var v rune
		for range 4 {
			h, err := p.next()
			if err != nil {
				return 0, err
			}
			switch {
			case '0' <= h && h <= '9':
				h -= '0'
			case 'a' <= h && h <= 'f':
				h -= 'a' - 10
			case 'A' <= h && h <= 'F':
				h -= 'A' - 10
			default:
				return 0, errNotJSON()
			}
			v = v<<4 | rune(h)
		}
		switch {
		case v == '\n' || v == '\r' || v == '\t':
			return escSpace, nil
		case v < 0x20:
			return escIllegal, nil
		case v < 0x80:
			return byte(v), nil
		default:
			return escNonASCII, nil
		}
	default:
		return 0, errNotJSON()
	}
}

// feed takes one character of the "data" string, JSON unescaped, at offset at
// of the string. It is the slow path: runs of plain base64 go around it.
func (p *parser) feed(c byte, at int64) error {
	switch b64class[c] {
	case cAlpha:
		if p.pad > 0 {
			return errBase64(at, "'=' padding may only appear at the end")
		}
		p.clean = append(p.clean, c)
		if len(p.clean) == cap(p.clean) {
			return p.decodeClean()
		}
	case cSpace:
	case cPad:
		if p.pad == 0 {
			m := len(p.clean) & 3
			if m < 2 {
				return errBase64(at, "'=' padding may only appear at the end of a group of 4 characters")
			}
			p.padMax = 4 - m
		}
		if p.pad++; p.pad > p.padMax {
			return errBase64(at, "too much '=' padding")
		}
	case cURL:
		return errBase64(at, "illegal character '%c' (the URL-safe alphabet is not accepted, use standard base64 with '+' and '/')", c)
	case cCtrl:
		return facevault.Invalid("data", "The 'data' field contains an unescaped control character at byte %d of the string; line breaks inside a JSON string must be written as \\n", at)
	case cNonASCII:
		return errBase64(at, "illegal non-ASCII character")
	default:
		if c == escIllegal {
			return errBase64(at, "illegal control character")
		}
		return errBase64(at, "illegal character '%c'", c)
	}
	return nil
}

// decodeClean decodes clean, whose length is a multiple of 4, into out.
func (p *parser) decodeClean() error {
	if len(p.clean) == 0 {
		return nil
	}
	if err := p.reserve(len(p.clean) / 4 * 3); err != nil {
		return err
	}
	o := len(p.out)
	n, err := base64.StdEncoding.Decode(p.out[o:cap(p.out)], p.clean)
	if err != nil {
		// clean holds validated characters only.
		return fmt.Errorf("upload: decoding validated base64: %v", err)
	}
	p.out = p.out[:o+n]
	p.clean = p.clean[:0]
	return nil
}

// reserve makes room in out for n more decoded bytes, writing out to dst if
// it must.
func (p *parser) reserve(n int) error {
	if cap(p.out)-len(p.out) >= n+outSlack {
		return nil
	}
	return p.flush()
}

// flush writes out to dst. dst's error is returned unchanged.
func (p *parser) flush() error {
	if len(p.out) == 0 {
		return nil
	}
	n, err := p.dst.Write(p.out)
	p.req.Size += int64(n)
	if err != nil {
		return err
	}
	if n != len(p.out) {
		return io.ErrShortWrite
	}
	p.out = p.out[:0]
	return nil
}

// readData streams the "data" string, whose opening quote was just consumed.
func (p *parser) readData() error {
	p.dataStart = p.off + int64(p.pos)
	p.qi, p.bi = -1, -1
	slowMin := 0 // characters to take the slow way before trying the fast one again
	if end, err := p.readPrefix(); err != nil || end {
		if err != nil {
			return err
		}
		return p.finishData()
	}
	for {
		if p.pos == p.end {
			if err := p.fill(); err != nil {
				return ioErr(err)
			}
		}
		if p.qi < p.pos {
			p.qi = p.end
			if i := bytes.IndexByte(p.buf[p.pos:p.end], '"'); i >= 0 {
				p.qi = p.pos + i
			}
		}
		if p.bi < p.pos {
			p.bi = p.end
			if i := bytes.IndexByte(p.buf[p.pos:p.end], '\\'); i >= 0 {
				p.bi = p.pos + i
			}
		}
		stop := min(p.qi, p.bi)
		if p.pos == stop {
			if p.buf[p.pos] == '"' {
				p.pos++
				return p.finishData()
			}
			at := p.off + int64(p.pos) - p.dataStart
			c, err := p.escape()
			if err != nil {
				return err
			}
			if err := p.feed(c, at); err != nil {
				return err
			}
			continue
		}
		seg := p.buf[p.pos:stop]

		// Fast path: decode a run of base64 straight from the read buffer.
		if len(p.clean)&3 == 0 && p.pad == 0 && !p.needOdd && len(seg) >= 4 {
			if err := p.decodeClean(); err != nil {
				return err
			}
			n := min(len(seg)&^3, chunkSize)
			want := n / 4 * 3
			if err := p.reserve(want); err != nil {
				return err
			}
			o := len(p.out)
			m, err := base64.StdEncoding.Decode(p.out[o:cap(p.out)], seg[:n])
			if err == nil && m == want {
				p.out = p.out[:o+m]
				p.pos += n
				continue
			}
			// Something other than plain base64 is in seg[:n]. Keep the
			// groups before it, which the decoder got right, and go
			// slowly from there.
			q := plainPrefix(seg[:n], m, err)
			if q > 0 {
				p.out = p.out[:o+q/4*3]
				p.pos += q
				seg = seg[q:]
			}
			p.needOdd = true
			if q < slowAfterShortRun {
				// Runs of base64 are short here: the decoder's setup
				// costs more than it saves.
				slowMin = slowStretch
			}
		}

		// Slow path: character by character, until past the character
		// that stopped the fast path (and slowMin characters, and the
		// next non-base64 character after those) and at a group
		// boundary again.
		i := 0
		for i < len(seg) {
			c := seg[i]
			if b64class[c] == cAlpha && p.pad == 0 {
				p.clean = append(p.clean, c)
				i++
				if len(p.clean)&3 == 0 {
					if len(p.clean) == cap(p.clean) {
						if err := p.decodeClean(); err != nil {
							return err
						}
					}
					if !p.needOdd {
						break
					}
				}
				continue
			}
			if err := p.feed(c, p.off+int64(p.pos+i)-p.dataStart); err != nil {
				return err
			}
			if i >= slowMin {
				p.needOdd = false
			}
			i++
		}
		if i == len(seg) {
			p.needOdd = false
		}
		slowMin = max(0, slowMin-i)
		p.pos += i
	}
}

// plainPrefix returns how many leading characters of src, a multiple of 4,
// are plain base64 whose decoding is the first bytes of what the decoder
// wrote, given its result m, err for src.
//
// The decoder accepts more than this parser: it skips raw CR and LF (control
// characters, which a JSON string may not hold) and takes '=' padding. Short
// of those, it stops at the first character that is not in the alphabet and
// reports its offset; the groups before that group and before any CR, LF or
// '=' are plain base64 decoded in place.
func plainPrefix(src []byte, m int, err error) int {
	k := len(src)
	if err != nil {
		ce, ok := err.(base64.CorruptInputError)
		if !ok || ce < 0 || int64(ce) > int64(len(src)) {
			return 0
		}
		k = int(ce)
	}
	for _, c := range []byte{'\r', '\n', '='} {
		if i := bytes.IndexByte(src[:k], c); i >= 0 {
			k = i
		}
	}
	q := k &^ 3
	if m < q/4*3 {
		return 0
	}
	return q
}

// readPrefix consumes a leading "data:image/<subtype>;base64," if the string
// starts with "data:"; otherwise it feeds what it read to the decoder. end
// reports that it consumed the closing quote.
func (p *parser) readPrefix() (end bool, err error) {
	const scheme = "data:"
	var head [len(scheme)]byte
	var at [len(scheme)]int64
	n := 0
	for n < len(scheme) {
		c, a, e, err := p.strByte()
		if err != nil {
			return false, err
		}
		if e {
			end = true
			break
		}
		head[n], at[n] = c, a
		n++
		if lower(c) != scheme[n-1] {
			break
		}
	}
	if n < len(scheme) || lower(head[n-1]) != ':' {
		for i := range n {
			if err := p.feed(head[i], at[i]); err != nil {
				return false, err
			}
		}
		return end, nil
	}
	// "data:" seen: the rest up to the comma must be "image/<subtype>;base64".
	var rest [maxPrefix]byte
	m := 0
	bad := func() error {
		return facevault.Invalid("data", "The 'data' field has an invalid prefix: only 'data:image/<type>;base64,' may precede the base64")
	}
	for {
		c, _, e, err := p.strByte()
		if err != nil {
			return false, err
		}
		if e || m == len(rest) {
			return false, bad()
		}
		if c == ',' {
			break
		}
		rest[m] = lower(c)
		m++
	}
	s := rest[:m]
	const image, b64 = "image/", ";base64"
	if !bytes.HasPrefix(s, []byte(image)) || !bytes.HasSuffix(s, []byte(b64)) || len(s) <= len(image)+len(b64) {
		return false, bad()
	}
	for _, c := range s[len(image) : len(s)-len(b64)] {
		if !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '.' || c == '+' || c == '-') {
			return false, bad()
		}
	}
	return false, nil
}

func lower(c byte) byte {
	if 'A' <= c && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}

// finishData completes the "data" string once its closing quote is consumed:
// it decodes the last, possibly unpadded, group and writes what is left.
func (p *parser) finishData() error {
	switch len(p.clean) & 3 {
	case 1:
		return facevault.Invalid("data", "The 'data' field is not valid base64: it ends with a group of only one character")
	case 2: // "xx", or "xx=" with one '=' missing
		p.clean = append(p.clean, '=', '=')
	case 3:
		p.clean = append(p.clean, '=')
	}
	if err := p.decodeClean(); err != nil {
		return err
	}
	if err := p.flush(); err != nil {
		return err
	}
	if p.req.Size == 0 {
		return facevault.Invalid("data", "The 'data' field is required")
	}
	return nil
}
