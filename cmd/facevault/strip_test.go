package main

import (
	"bytes"
	"encoding/base64"
	"encoding/binary"
	"net/http"
	"path/filepath"
	"strings"
	"testing"

	"github.com/facevault/facevault/internal/metastrip"
	"github.com/facevault/facevault/internal/testimage"
)

// photoWithGPS is a JPEG whose EXIF block holds orientation 6 and a GPS
// position, followed by a comment.
func photoWithGPS() []byte {
	seg := func(marker byte, body []byte) []byte {
		s := binary.BigEndian.AppendUint16([]byte{0xFF, marker}, uint16(len(body)+2))
		return append(s, body...)
	}
	tiff := []byte("MM\x00*\x00\x00\x00\x08\x00\x02" +
		"\x01\x12\x00\x03\x00\x00\x00\x01\x00\x06\x00\x00" + // orientation 6
		"\x88\x25\x00\x04\x00\x00\x00\x01\x00\x00\x00\x26" + // GPS IFD at 38
		"\x00\x00\x00\x00" +
		"\x00\x01\x00\x01\x00\x02\x00\x00\x00\x02N\x00\x00\x00\x00\x00\x00\x00" + // GPSLatitudeRef N
		"GPS-secret-51.5N")
	img := testimage.JPEG(256, 256, 31)
	out := append([]byte{0xFF, 0xD8}, seg(0xE1, append([]byte("Exif\x00\x00"), tiff...))...)
	out = append(out, seg(0xFE, []byte("taken at home"))...)
	return append(out, img[2:]...)
}

// TestServeStripMetadata runs serve with and without --strip-metadata (and
// its variable) and checks what a download gives back.
func TestServeStripMetadata(t *testing.T) {
	photo := photoWithGPS()
	img := testimage.JPEG(256, 256, 31)
	stripped := append(append([]byte{0xFF, 0xD8}, metastrip.JPEGOrientationSegment(6)...), img[2:]...)
	for _, tc := range []struct {
		name  string
		flags []string
		env   string
		want  []byte
	}{
		{"Default", nil, "", photo},
		{"Flag", []string{"--strip-metadata"}, "", stripped},
		{"Environment", nil, "true", stripped},
		{"FlagWinsOverEnvironment", []string{"--strip-metadata=false"}, "true", photo},
	} {
		t.Run(tc.name, func(t *testing.T) {
			clearEnv(t)
			if tc.env != "" {
				t.Setenv("FACEVAULT_STRIP_METADATA", tc.env)
			}
			s := startServe(t, append(serveArgs(t.TempDir()), tc.flags...)...)
			keys := s.bootstrapKeys(t)
			clientID := s.createClient(t, keys.test)
			status, body := s.do(t, "POST", "/v1/livePhotos", keys.test, map[string]any{
				"clientId": clientID, "data": base64.StdEncoding.EncodeToString(photo),
			})
			if status != http.StatusOK {
				t.Fatalf("upload: got %d %s, want 200", status, body)
			}
			var p struct {
				ID   string
				Size int
			}
			decode(t, body, &p)
			if p.Size != len(tc.want) {
				t.Errorf("size %d, want %d", p.Size, len(tc.want))
			}
			got := s.download(t, keys.test, p.ID)
			if !bytes.Equal(got, tc.want) {
				t.Errorf("download: %d bytes, not the %d expected", len(got), len(tc.want))
			}
			if strip := !bytes.Equal(tc.want, photo); strip && (bytes.Contains(got, []byte("GPS-secret")) || bytes.Contains(got, []byte("taken at home"))) {
				t.Errorf("the download still holds the GPS position or the comment")
			}
		})
	}
	t.Run("ErrBadVariable", func(t *testing.T) {
		clearEnv(t)
		dir := filepath.Join(t.TempDir(), "data")
		t.Setenv("FACEVAULT_STRIP_METADATA", "sometimes")
		_, _, err := runCLI(t, "serve", "--data", dir, "--addr", "127.0.0.1:0")
		assertUsageError(t, err)
		if err == nil || !strings.Contains(err.Error(), "FACEVAULT_STRIP_METADATA") {
			t.Errorf("error %v does not name FACEVAULT_STRIP_METADATA", err)
		}
	})
}
