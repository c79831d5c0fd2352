package upload

import (
	"bytes"
	stdbase64 "encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"regexp"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/emmansun/base64"

	"github.com/facevault/facevault"
)

// scriptReader returns the bytes of r in reads whose sizes a fuzzer
// chooses: byte b of the script (which repeats) asks for b bytes, 0 for an
// empty read (never two in a row, so that Parse does not give up on the
// reader), and 0xF0-0xFF for 8 to 128 KiB, across Parse's buffers. With an
// odd first byte, the last bytes come with io.EOF, as iotest.DataErrReader
// does.
type scriptReader struct {
	r         io.Reader
	script    []byte
	i         int
	lastEmpty bool
	eof       bool
}

func (s *scriptReader) Read(p []byte) (int, error) {
	if s.eof {
		return 0, io.EOF
	}
	if len(s.script) == 0 {
		return s.r.Read(p)
	}
	b := s.script[s.i%len(s.script)]
	s.i++
	n := int(b)
	switch {
	case b == 0 && !s.lastEmpty:
		s.lastEmpty = true
		return 0, nil
	case b == 0:
		n = 1
	case b >= 0xF0:
		n = int(b-0xEF) << 13
	}
	s.lastEmpty = false
	n, err := s.r.Read(p[:min(n, len(p))])
	if err == nil && s.script[0]&1 == 1 {
		// Peek: is that the end? Then say so with the data.
		var one [1]byte
		if k, perr := s.r.Read(one[:0]); k == 0 && perr == io.EOF {
			s.eof = true
			return n, io.EOF
		}
	}
	return n, err
}

// mutationJunk is what FuzzParseLarge inserts into or writes over a body.
var mutationJunk = []string{"\n", "\r", "\t", " ", "=", "==", "-", "_", "*", "é", "\xff", "\x00", `\n`, `\r\n`,
	`\u0041`, `\/`, `\\`, `\"`, `"`, "A", "AB", "ABC", `\u000a`, `\u0000`, `\u00e9`, "data:image/png;base64,", "}", ","}

// FuzzParseLarge compares Parse with the reference model on bodies of up to
// 600 KiB, larger than the fuzzer's own inputs can grow, so that edits land
// on the boundaries of Parse's read buffer, its decode chunks and its slow
// path. The fuzzer chooses the image size, the seed of its bytes and of the
// body's layout (prefix, line breaks, escaped slashes, missing padding, read
// sizes), and up to 16 edits: 4 bytes each, a 16-bit position, an operation
// and a junk string (mutationJunk). The position is relative to the whole
// data string, to a read buffer boundary, to a decode chunk boundary or to
// the end of the data (op&3), and the junk is inserted or written over
// (op&4).
func FuzzParseLarge(f *testing.F) {
	f.Add(uint32(100000), uint64(1), []byte{})
	f.Add(uint32(chunkSize/4*3), uint64(2), []byte{0x80, 0x00, 2, 4})
	f.Add(uint32(readSize), uint64(3), []byte{0x01, 0x00, 1, 12, 0x02, 0xfe, 1, 13})
	f.Add(uint32(3*readSize/4*3+1), uint64(4), []byte{0x00, 0x03, 3, 4, 0x00, 0x01, 7, 5})
	f.Add(uint32(outSize), uint64(5), []byte{0x40, 0x00, 0, 14, 0x41, 0x00, 4, 6, 0x42, 0x00, 4, 23})
	f.Add(uint32(cleanSize), uint64(6), []byte{0x00, 0x05, 2, 1, 0x00, 0x06, 2, 3})
	f.Fuzz(func(t *testing.T, size uint32, seed uint64, edits []byte) {
		r := rand.New(rand.NewPCG(seed, 3))
		b := []byte(randomBody(r, payload(1+int(size%(600<<10)), seed)))
		start := bytes.Index(b, []byte(`"data":"`)) + len(`"data":"`)
		end := bytes.LastIndex(b, []byte(`","performLivenessCheck"`))
		for k := 0; k+4 <= len(edits) && k < 64; k += 4 {
			pos := int(binary.BigEndian.Uint16(edits[k:]))
			op := edits[k+2]
			junk := mutationJunk[int(edits[k+3])%len(mutationJunk)]
			var at int
			switch op & 3 {
			case 0: // anywhere in the data string
				at = start + pos*(end-start)/0x10000
			case 1: // around a read buffer boundary of the body
				at = (pos>>8&7+1)*readSize + int(int8(pos))
			case 2: // around a decode chunk boundary of the data string
				at = start + (pos>>8&15+1)*chunkSize + int(int8(pos))
			case 3: // near the end of the data string, where padding is
				at = end - pos&15
			}
			at = max(0, min(at, len(b)))
			if op&4 == 0 {
				b = slicesInsert(b, at, junk)
			} else {
				b = append(b[:at:at], append([]byte(junk), b[min(at+len(junk), len(b)):]...)...)
			}
			if i := bytes.LastIndex(b, []byte(`","performLivenessCheck"`)); i >= start {
				end = i
			}
		}
		wreq, want, werr := refParse(b)
		rd := &chunkReader{r: bytes.NewReader(b), rnd: r}
		req, got, err := parse(t, rd)
		if (err == nil) != (werr == nil) {
			t.Fatalf("Parse error = %v, reference error = %v", err, werr)
		}
		if err != nil {
			var fe *facevault.Error
			if !errors.As(err, &fe) || fe.Code != facevault.EInvalid {
				t.Fatalf("Parse error = %v, want a 400", err)
			}
			return
		}
		if !bytes.Equal(got, want) {
			t.Fatalf("decoded %d bytes, reference %d; they differ", len(got), len(want))
		}
		if req != wreq {
			t.Fatalf("Request = %+v, reference %+v", req, wreq)
		}
	})
}

func slicesInsert(b []byte, at int, s string) []byte {
	out := make([]byte, 0, len(b)+len(s))
	out = append(out, b[:at]...)
	out = append(out, s...)
	return append(out, b[at:]...)
}

// jsonString writes s as the content of a JSON string (without quotes) in
// one of the ways a client might, chosen by the bits of style: 1 escapes
// '/' as "\/"; 2 writes escapes as \u00XX rather than \n, \" and the like;
// 4 leaves control characters raw (which is not valid JSON); 8 (with 2)
// escapes every ASCII character; 16 writes \u escapes in upper case; 32
// escapes non-ASCII characters as \uXXXX (surrogate pairs beyond the BMP).
// Other bytes, invalid UTF-8 included, are written as they are.
func jsonString(s string, style uint8) string {
	var b strings.Builder
	hex := "0123456789abcdef"
	if style&16 != 0 {
		hex = "0123456789ABCDEF"
	}
	u := func(r rune) {
		b.WriteString(`\u`)
		for sh := 12; sh >= 0; sh -= 4 {
			b.WriteByte(hex[r>>sh&15])
		}
	}
	for i := 0; i < len(s); {
		c := s[i]
		if c >= 0x80 {
			r, n := utf8.DecodeRuneInString(s[i:])
			switch {
			case style&32 == 0 || r == utf8.RuneError && n == 1:
				b.WriteString(s[i : i+n])
			case r > 0xFFFF:
				r -= 0x10000
				u(0xD800 + r>>10)
				u(0xDC00 + r&0x3FF)
			default:
				u(r)
			}
			i += n
			continue
		}
		i++
		short := map[byte]string{'"': `\"`, '\\': `\\`, '\n': `\n`, '\r': `\r`, '\t': `\t`, '\b': `\b`, '\f': `\f`}[c]
		switch {
		case c < 0x20 && style&4 != 0:
			b.WriteByte(c)
		case c == '/' && style&1 != 0:
			b.WriteString(`\/`)
		case short != "" && style&2 == 0:
			b.WriteString(short)
		case c < 0x20 || c == '"' || c == '\\' || style&10 == 10:
			u(rune(c))
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

var stdPrefix = regexp.MustCompile(`^(?i:data:image/[a-z0-9.+-]+;base64,)`)

// stdDecodeData is the contract's "data" rule (docs/contract.md section 6)
// built on encoding/base64 alone: an optional data URL prefix, then
// standard base64 in which spaces, tabs and line breaks are ignored and
// missing '=' padding is supplied. It returns what the image bytes are, or
// an error.
func stdDecodeData(s string) ([]byte, error) {
	if len(s) >= 5 && strings.EqualFold(s[:5], "data:") {
		loc := stdPrefix.FindStringIndex(s)
		if loc == nil {
			return nil, errors.New("bad prefix")
		}
		s = s[loc[1]:]
	}
	s = strings.NewReplacer(" ", "", "\t", "", "\r", "", "\n", "").Replace(s)
	body := strings.TrimRight(s, "=")
	need := (4 - len(body)%4) % 4
	if len(body)%4 == 1 || len(s)-len(body) > need {
		return nil, errors.New("bad length or padding")
	}
	b, err := stdbase64.StdEncoding.DecodeString(body + strings.Repeat("=", need))
	if err != nil {
		return nil, err
	}
	if len(b) == 0 {
		return nil, errors.New("empty")
	}
	return b, nil
}

// FuzzBase64 fuzzes the "data" string: the fuzzer chooses its characters
// and how they are escaped in JSON (jsonString). Parse must agree with
// encoding/json, which unquotes the string, followed by stdDecodeData, which
// applies the contract's leniencies and decodes with encoding/base64: same
// bytes, or both refused. A string that is valid JSON but not acceptable
// base64 must be refused naming the "data" parameter.
func FuzzBase64(f *testing.F) {
	b64 := enc(img)
	for i, s := range []string{
		b64, strings.TrimRight(b64, "="), b64[:len(b64)-1], "AB", "ABC", "A", "AB=", "AB==", "ABC=", "ABC==", "AB===",
		"AAAA=", "=AAAA", "AA=A", "AA==AAAA", "AA\n==", "AA = =", " ", "\r\n", "",
		"data:image/png;base64," + b64, "DATA:IMAGE/JPEG;BASE64," + b64, "data:image/svg+xml;base64,AAAA",
		"data:image/;base64,AAAA", "data:text/plain;base64,AAAA", "data:image/png,AAAA", "data:AAAA", "dat",
		b64[:76] + "\r\n" + b64[76:], b64[:10] + "\t" + b64[10:], "AB-_", "AB+/", "AAAA\x00", "AAAA\u00a0",
		"AAAA\xff", "AAAA\u2028", "AAAA\U0001F600", "AAAA\"", "AAAA\\", "AAAA/",
	} {
		f.Add(s, uint8(i*7))
	}
	f.Fuzz(func(t *testing.T, s string, style uint8) {
		body := `{"clientId":"c","data":"` + jsonString(s, style) + `","performLivenessCheck":false}`
		var ref struct {
			Data string `json:"data"`
		}
		jerr := json.Unmarshal([]byte(body), &ref)
		var want []byte
		berr := jerr
		if jerr == nil {
			want, berr = stdDecodeData(ref.Data)
		}
		req, got, err := parse(t, strings.NewReader(body))
		if (err == nil) != (berr == nil) {
			t.Fatalf("body %q:\nParse error = %v\nencoding/json error = %v, then base64 error = %v", body, err, jerr, berr)
		}
		if err != nil {
			var fe *facevault.Error
			if !errors.As(err, &fe) || fe.Code != facevault.EInvalid {
				t.Fatalf("body %q: Parse error = %v, want a 400", body, err)
			}
			if jerr == nil && fe.Param != "data" {
				t.Fatalf("body %q is valid JSON; Parse error %v names %q, want \"data\"", body, err, fe.Param)
			}
			return
		}
		if !bytes.Equal(got, want) {
			t.Fatalf("body %q: decoded %x, encoding/base64 %x", body, got, want)
		}
		if req.ClientID != "c" || req.PerformLivenessCheck || !req.HasData {
			t.Fatalf("body %q: Request = %+v", body, req)
		}
	})
}

// FuzzBase64Decoder compares the SIMD decoder the upload path uses,
// github.com/emmansun/base64, with encoding/base64 on any input: the same
// bytes and count, an error for the same inputs at the same offset, and no
// write past the end of the destination (checked with a guard zone after
// it, both at the exact decoded length and with Parse's slack). It also
// checks plainPrefix, on which Parse's fast path relies: the prefix it
// keeps is plain alphabet, a whole number of groups, and was decoded
// correctly.
func FuzzBase64Decoder(f *testing.F) {
	for _, s := range []string{
		enc(payload(48, 1)), enc(payload(100, 2)), enc(payload(1000, 3)), enc(payload(61, 4)),
		strings.Repeat("A", 32) + "-" + strings.Repeat("A", 31), strings.Repeat("QUJD", 10) + "\r\n" + strings.Repeat("QUJD", 10),
		strings.Repeat("QUJD", 8) + "QQ==" + strings.Repeat("QUJD", 8), strings.Repeat("/+/+", 16) + "=", "", "A", "AA==", "=",
		strings.Repeat("QUJD", 9) + "é" + strings.Repeat("QUJD", 9), "00\n00000", "QUJD\rQUJD",
	} {
		f.Add([]byte(s))
	}
	const guard = 256
	decode := func(t *testing.T, src []byte, room int) (n int, err error, dst []byte) {
		full := make([]byte, room+guard)
		for i := range full {
			full[i] = 0xA5
		}
		n, err = base64.StdEncoding.Decode(full[:room:room], src)
		for i := room; i < len(full); i++ {
			if full[i] != 0xA5 {
				t.Fatalf("Decode of %d characters into %d bytes wrote past the end, at byte %d", len(src), room, i)
			}
		}
		return n, err, full[:room]
	}
	f.Fuzz(func(t *testing.T, src []byte) {
		want := make([]byte, stdbase64.StdEncoding.DecodedLen(len(src)))
		wn, werr := stdbase64.StdEncoding.Decode(want, src)
		for _, room := range []int{len(want), len(want) + outSlack} {
			n, err, got := decode(t, src, room)
			if (err == nil) != (werr == nil) {
				t.Fatalf("%q: error %v, encoding/base64 %v", src, err, werr)
			}
			if err != nil {
				if fmt.Sprint(err) != fmt.Sprint(werr) {
					t.Fatalf("%q: error %v, encoding/base64 %v", src, err, werr)
				}
				continue
			}
			if n != wn || !bytes.Equal(got[:n], want[:wn]) {
				t.Fatalf("%q: decoded %x, encoding/base64 %x", src, got[:n], want[:wn])
			}
		}
		// What Parse's fast path does with a run of characters: a whole
		// number of groups, decoded into room with slack.
		src = src[:len(src)&^3]
		m, err, got := decode(t, src, len(src)/4*3+outSlack)
		q := plainPrefix(src, m, err)
		if q < 0 || q > len(src) || q%4 != 0 {
			t.Fatalf("%q: plainPrefix = %d", src, q)
		}
		for i, c := range src[:q] {
			if b64class[c] != cAlpha {
				t.Fatalf("%q: plainPrefix = %d keeps %q at %d", src, q, c, i)
			}
		}
		ref, rerr := stdbase64.StdEncoding.DecodeString(string(src[:q]))
		if rerr != nil || !bytes.Equal(got[:q/4*3], ref) {
			t.Fatalf("%q: plainPrefix = %d, but the decoder wrote %x for it, encoding/base64 %x (%v)", src, q, got[:q/4*3], ref, rerr)
		}
	})
}
