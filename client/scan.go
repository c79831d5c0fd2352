package client

import (
	"bufio"
	"errors"
	"fmt"
	"io"
)

// scanner reads just enough JSON to take a download's object apart without
// holding its "data" string: keys and short strings are read whole, the
// data is streamed through a stringReader, anything else is skipped.
type scanner struct {
	r *bufio.Reader
}

// maxSmallString bounds the keys and short values read whole.
const maxSmallString = 4 << 10

// next returns the next byte that is not white space.
func (s *scanner) next() (byte, error) {
	for {
		c, err := s.r.ReadByte()
		if err != nil {
			if err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			return 0, err
		}
		switch c {
		case ' ', '\t', '\r', '\n':
			continue
		}
		return c, nil
	}
}

func (s *scanner) unexpected(c byte) error {
	return fmt.Errorf("malformed JSON in the answer: unexpected %q", c)
}

// expect reads the next byte that is not white space, which must be want.
func (s *scanner) expect(want byte) error {
	c, err := s.next()
	if err != nil {
		return err
	}
	if c != want {
		return s.unexpected(c)
	}
	return nil
}

// smallString reads the rest of a string whose opening quote was read.
func (s *scanner) smallString() (string, error) {
	b, err := io.ReadAll(io.LimitReader(&stringReader{r: s.r}, maxSmallString+1))
	if err != nil {
		return "", err
	}
	if len(b) > maxSmallString {
		return "", errors.New("a string in the answer is too long")
	}
	return string(b), nil
}

// skipValue skips one JSON value of any type.
func (s *scanner) skipValue() error {
	c, err := s.next()
	if err != nil {
		return err
	}
	depth := 0
	for {
		switch c {
		case '"':
			if _, err := io.Copy(io.Discard, &stringReader{r: s.r, any: true}); err != nil {
				return err
			}
		case '{', '[':
			depth++
		case '}', ']':
			depth--
		}
		if depth == 0 {
			if c == '"' || c == '}' || c == ']' {
				return nil
			}
			if c != '{' && c != '[' {
				// A number or literal: read to its end.
				for {
					b, err := s.r.Peek(1)
					if err != nil {
						return nil // the object's end is checked by the caller
					}
					switch b[0] {
					case ',', '}', ']', ' ', '\t', '\r', '\n':
						return nil
					}
					s.r.ReadByte()
				}
			}
		}
		if depth < 0 {
			return s.unexpected(c)
		}
		if c, err = s.r.ReadByte(); err != nil {
			if err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			return err
		}
	}
}

// stringReader reads the contents of a JSON string whose opening quote was
// read, unescaped, and returns io.EOF at its closing quote, which it
// consumes. Escapes of characters beyond ASCII are refused: the strings it
// reads (base64, hex, file names) have none.
type stringReader struct {
	r    *bufio.Reader
	done bool
	// any takes every escape, for a string that is skipped.
	any bool
}

func (s *stringReader) Read(p []byte) (int, error) {
	n := 0
	for n < len(p) && !s.done {
		if n > 0 && s.r.Buffered() == 0 {
			break // return what there is rather than wait
		}
		if _, err := s.r.Peek(1); err != nil {
			if err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			return n, err
		}
		buf, _ := s.r.Peek(s.r.Buffered())
		i := 0
		for i < len(buf) && n+i < len(p) {
			if c := buf[i]; c == '"' || c == '\\' || c < 0x20 {
				break
			}
			i++
		}
		copy(p[n:], buf[:i])
		s.r.Discard(i)
		n += i
		if n == len(p) || i == len(buf) {
			continue
		}
		switch c := buf[i]; {
		case c == '"':
			s.r.Discard(1)
			s.done = true
		case c < 0x20:
			return n, errors.New("malformed JSON in the answer: a control character in a string")
		default:
			b, err := s.escape()
			if err != nil {
				return n, err
			}
			p[n] = b
			n++
		}
	}
	if n == 0 && s.done {
		return 0, io.EOF
	}
	return n, nil
}

// escape reads an escape sequence, its backslash included.
func (s *stringReader) escape() (byte, error) {
	var e [2]byte
	if _, err := io.ReadFull(s.r, e[:]); err != nil {
		return 0, io.ErrUnexpectedEOF
	}
	switch e[1] {
	case '"', '\\', '/':
		return e[1], nil
	case 'b':
		return '\b', nil
	case 'f':
		return '\f', nil
	case 'n':
		return '\n', nil
	case 'r':
		return '\r', nil
	case 't':
		return '\t', nil
	case 'u':
		var h [4]byte
		if _, err := io.ReadFull(s.r, h[:]); err != nil {
			return 0, io.ErrUnexpectedEOF
		}
		v := 0
		for _, c := range h {
			v <<= 4
			switch {
			case '0' <= c && c <= '9':
				v |= int(c - '0')
			case 'a' <= c && c <= 'f':
				v |= int(c - 'a' + 10)
			case 'A' <= c && c <= 'F':
				v |= int(c - 'A' + 10)
			default:
				return 0, errors.New("malformed JSON in the answer: a bad \\u escape")
			}
		}
		if v >= 0x80 && !s.any {
			return 0, errors.New("malformed JSON in the answer: a non-ASCII character where none belongs")
		}
		return byte(v), nil // for a skipped string, any byte will do
	}
	return 0, errors.New("malformed JSON in the answer: a bad escape")
}
