package facevault_test

import (
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/facevault/facevault"
)

func TestClip(t *testing.T) {
	id := facevault.NewID(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC))
	long := strings.Repeat("a", 10000)
	for _, tc := range []struct {
		name, in, want string
	}{
		{"OKEmpty", "", ""},
		{"OKID", id, id},
		{"OKPathLike", "../../etc/passwd", "../../etc/passwd"},
		{"OKExactlyMax", strings.Repeat("x", facevault.MaxClip), strings.Repeat("x", facevault.MaxClip)},
		{"OKMultiByteAtMax", strings.Repeat("é", facevault.MaxClip), strings.Repeat("é", facevault.MaxClip)},
		{"LongASCII", long, strings.Repeat("a", facevault.MaxClip) + "…"},
		{"OneOverMax", strings.Repeat("x", facevault.MaxClip+1), strings.Repeat("x", facevault.MaxClip) + "…"},
		{"LongMultiByte", strings.Repeat("日本", 5000), strings.Repeat("日本", facevault.MaxClip/2) + "…"},
		{"InvalidShort", "ab\xffcd", "ab\uFFFDcd"},
		{"InvalidLong", strings.Repeat("\xff", 10000), "\uFFFD…"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := facevault.Clip(tc.in)
			if got != tc.want {
				t.Errorf("Clip(%.40q…) = %q, want %q", tc.in, got, tc.want)
			}
			if !utf8.ValidString(got) {
				t.Errorf("Clip(%.40q…) = %q: not valid UTF-8", tc.in, got)
			}
			if n := utf8.RuneCountInString(got); n > facevault.MaxClip+1 {
				t.Errorf("Clip(%.40q…) has %d characters, want at most %d", tc.in, n, facevault.MaxClip+1)
			}
		})
	}
}

func TestNotFoundMessagesClipIDs(t *testing.T) {
	long := strings.Repeat("0", 10000)
	for _, tc := range []struct {
		name string
		err  *facevault.Error
		want string
	}{
		{"Client", facevault.ErrClientNotFound(long), "Invalid client id '" + strings.Repeat("0", facevault.MaxClip) + "…'"},
		{"LivePhoto", facevault.ErrLivePhotoNotFound(long), "Invalid live photo id '" + strings.Repeat("0", facevault.MaxClip) + "…'"},
		{"ClientShort", facevault.ErrClientNotFound("nope"), "Invalid client id 'nope'"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.err.Message != tc.want {
				t.Errorf("message = %q, want %q", tc.err.Message, tc.want)
			}
		})
	}
}
