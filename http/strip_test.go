package http_test

import (
	"bytes"
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"image"
	"image/jpeg"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"reflect"
	"testing"

	fvhttp "github.com/facevault/facevault/http"
	"github.com/facevault/facevault/internal/metastrip"
	"github.com/facevault/facevault/internal/testimage"
)

// segment returns a JPEG segment with its marker and length.
func segment(marker byte, body []byte) []byte {
	s := binary.BigEndian.AppendUint16([]byte{0xFF, marker}, uint16(len(body)+2))
	return append(s, body...)
}

// pngChunk returns a PNG chunk with its CRC.
func pngChunk(typ string, data []byte) []byte {
	c := binary.BigEndian.AppendUint32(nil, uint32(len(data)))
	c = append(append(c, typ...), data...)
	return binary.BigEndian.AppendUint32(c, crc32.ChecksumIEEE(c[4:]))
}

// gpsTIFF is the TIFF structure of a phone's EXIF block: orientation o,
// an EXIF IFD with a maker note, and a GPS IFD with a position.
func gpsTIFF(o uint16) []byte {
	be := binary.BigEndian
	t := []byte("MM\x00*\x00\x00\x00\x08")
	// IFD0 at 8: three entries, to 8+2+36+4 = 50.
	t = be.AppendUint16(t, 3)
	t = append(t, 0x01, 0x12, 0, 3, 0, 0, 0, 1, byte(o>>8), byte(o), 0, 0) // orientation
	t = append(t, 0x87, 0x69, 0, 4, 0, 0, 0, 1, 0, 0, 0, 50)               // EXIF IFD at 50
	t = append(t, 0x88, 0x25, 0, 4, 0, 0, 0, 1, 0, 0, 0, 84)               // GPS IFD at 84
	t = append(t, 0, 0, 0, 0)
	// EXIF IFD at 50: a maker note, to 50+2+12+4 = 68; its 16 bytes to 84.
	t = be.AppendUint16(t, 1)
	t = append(t, 0x92, 0x7C, 0, 7, 0, 0, 0, 16, 0, 0, 0, 68)
	t = append(t, 0, 0, 0, 0)
	t = append(t, "MAKERNOTE-SERIAL"...)
	// GPS IFD at 84: latitude, to 84+2+24+4 = 114; its rationals to 138.
	t = be.AppendUint16(t, 2)
	t = append(t, 0x00, 0x01, 0, 2, 0, 0, 0, 2, 'N', 0, 0, 0) // GPSLatitudeRef
	t = append(t, 0x00, 0x02, 0, 5, 0, 0, 0, 3, 0, 0, 0, 114) // GPSLatitude
	t = append(t, 0, 0, 0, 0)
	for _, v := range []uint32{51, 1, 30, 1, 2628, 100} {
		t = be.AppendUint32(t, v)
	}
	return append(t, "GPS-secret"...)
}

// decodeB64 decodes a download's standard base64.
func decodeB64(t *testing.T, s string) []byte {
	t.Helper()
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		t.Fatalf("data is not base64: %v", err)
	}
	return b
}

func firstDiff(a, b []byte) int {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return i
		}
	}
	return min(len(a), len(b))
}

// rotatedFace is pigo's sample face stored turned 90° counter-clockwise,
// as a camera held sideways stores it: orientation 6 turns it upright.
func rotatedFace(t *testing.T) []byte {
	t.Helper()
	b, err := os.ReadFile("../liveness/testdata/pigo-sample.jpg")
	if err != nil {
		t.Fatal(err)
	}
	up, err := jpeg.Decode(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	r := up.Bounds()
	w, h := r.Dx(), r.Dy()
	stored := image.NewRGBA(image.Rect(0, 0, h, w))
	for y := range h {
		for x := range w {
			stored.Set(y, w-1-x, up.At(r.Min.X+x, r.Min.Y+y))
		}
	}
	var out bytes.Buffer
	if err := jpeg.Encode(&out, stored, &jpeg.Options{Quality: 100}); err != nil {
		t.Fatal(err)
	}
	return out.Bytes()
}

// TestStripMetadata uploads photos with GPS EXIF, XMP, comments and text
// chunks to a server with and without --strip-metadata, on both back ends,
// and checks what the record says and what a download gives back: with
// it, exactly the metadata is gone and the orientation kept (the liveness
// check, which reads the stored bytes, turns the face upright); without
// it, the download is the upload byte for byte.
func TestStripMetadata(t *testing.T) {
	face := rotatedFace(t)
	xmp := segment(0xE1, []byte("http://ns.adobe.com/xap/1.0/\x00<x:xmpmeta>GPS-secret</x:xmpmeta>"))
	com := segment(0xFE, []byte("taken at home"))
	exif := segment(0xE1, append([]byte("Exif\x00\x00"), gpsTIFF(6)...))
	var photo []byte
	photo = append(photo, face[:2]...)
	photo = append(photo, exif...)
	photo = append(photo, xmp...)
	photo = append(photo, com...)
	photo = append(photo, face[2:]...)
	photo = append(photo, "GPS-secret trailer"...)
	strippedPhoto := append(append(bytes.Clone(face[:2]), metastrip.JPEGOrientationSegment(6)...), face[2:]...)

	png := testimage.PNGSize(40<<10, 8)
	n := 8 + 25 // signature and IHDR
	text := pngChunk("tEXt", []byte("Comment\x00taken at home"))
	exifChunk := pngChunk("eXIf", gpsTIFF(3))
	pngPhoto := append(append(append(bytes.Clone(png[:n]), text...), exifChunk...), png[n:]...)
	iend := bytes.Index(png, []byte("IEND")) + 8 // image/png's encoder, then padding
	strippedPNG := append(append(bytes.Clone(png[:n]), metastrip.PNGOrientationChunk(3)...), png[n:iend]...)

	for _, strip := range []bool{true, false} {
		t.Run(fmt.Sprintf("StripMetadata=%v", strip), func(t *testing.T) {
			forEachBackend(t, func(t *testing.T, env *testEnv) {
				livenessEnv(t, env, true)
				env.vault.StripMetadata = strip
				for _, tc := range []struct {
					name          string
					upload, want  []byte
					orientation   int
					faces         float64
					key           string
					checkLiveness bool
				}{
					{"JPEG", photo, strippedPhoto, 6, 1, env.KeyALive, true},
					{"PNG", pngPhoto, strippedPNG, 1, 0, env.KeyA, false},
				} {
					t.Run(tc.name, func(t *testing.T) {
						want := tc.upload
						if strip {
							want = tc.want
						}
						clientID := env.newClientID(t, tc.key)
						r := env.do(t, "POST", "/v1/livePhotos", tc.key, map[string]any{"clientId": clientID, "data": b64(tc.upload)})
						wantStatus(t, r, http.StatusOK)
						if got := num(t, r.JSON, "size"); got != float64(len(want)) {
							t.Errorf("size %v, want %d", got, len(want))
						}
						d := env.do(t, "GET", "/v1/livePhotos/"+str(t, r.JSON, "id")+"/download", tc.key, nil)
						wantStatus(t, d, http.StatusOK)
						got := decodeB64(t, str(t, d.JSON, "data"))
						if !bytes.Equal(got, want) {
							t.Errorf("download: %d bytes, not the %d expected (first difference at %d)", len(got), len(want), firstDiff(got, want))
						}
						if strip && (bytes.Contains(got, []byte("GPS-secret")) || bytes.Contains(got, []byte("taken at home")) ||
							bytes.Contains(got, []byte("MAKERNOTE"))) {
							t.Errorf("the download still holds metadata")
						}
						if !tc.checkLiveness {
							return
						}
						// The liveness check read the stored bytes: it found the
						// orientation, and so the face upright.
						check := r.JSON["livenessCheck"].(map[string]any)["breakdown"].(map[string]any)
						integrity := check["integrityAnalysis"].(map[string]any)["breakdown"].(map[string]any)
						quality := check["qualityAnalysis"].(map[string]any)["breakdown"].(map[string]any)
						if got := []any{integrity["faceCount"], quality["exifOrientation"]}; !reflect.DeepEqual(got, []any{tc.faces, float64(tc.orientation)}) {
							t.Errorf("faceCount, exifOrientation = %v, want [%v %d]", got, tc.faces, tc.orientation)
						}
					})
				}
			})
		})
	}

	// An image whose segments do not follow one another cannot be told
	// apart from its metadata: refused, nothing stored. Without the flag
	// it is stored like any image the header check accepts.
	t.Run("ErrSegmentsBroken", func(t *testing.T) {
		forEachBackend(t, func(t *testing.T, env *testEnv) {
			img := testimage.JPEG(256, 256, 12)
			broken := append(append(bytes.Clone(img[:2]), com[:len(com)-3]...), img[2:]...) // the comment's length is 3 too long
			clientID := env.newClientID(t, env.KeyA)
			env.vault.StripMetadata = true
			before := env.snapshot(t)
			r := env.do(t, "POST", "/v1/livePhotos", env.KeyA, map[string]any{"clientId": clientID, "data": b64(broken)})
			wantError(t, r, http.StatusBadRequest, "invalid_request",
				fmt.Sprintf("The image is not a valid JPG file: a byte other than 0xFF where a segment must begin at byte %d, "+
					"so its metadata cannot be removed", 2+len(com)), "data")
			if after := env.snapshot(t); !reflect.DeepEqual(after, before) {
				t.Errorf("a refused upload left objects: before %v, after %v", before, after)
			}
			if ids := env.photoIDs(t, env.KeyA, clientID); len(ids) != 0 {
				t.Errorf("a refused upload left photos %v", ids)
			}
			env.vault.StripMetadata = false
			env.upload(t, env.KeyA, clientID, broken)
		})
	})
}

// BenchmarkUploadStripMetadata measures the upload handler (as
// BenchmarkUploadHandler does) on a 3.8 MB photo with GPS EXIF and a
// comment, with the metadata filter off and on: the filter's cost in the
// whole upload path.
func BenchmarkUploadStripMetadata(b *testing.B) {
	img := testimage.NoiseJPEG4MB()
	exif := segment(0xE1, append([]byte("Exif\x00\x00"), gpsTIFF(6)...))
	photo := append(append(append(bytes.Clone(img[:2]), exif...), segment(0xFE, []byte("taken at home"))...), img[2:]...)
	for _, be := range backends {
		for _, strip := range []bool{false, true} {
			b.Run(fmt.Sprintf("%s/strip=%v", be.name, strip), func(b *testing.B) {
				env := newTestEnv(b, be)
				env.vault.StripMetadata = strip
				clientID := env.newClientID(b, env.KeyA)
				body := []byte(`{"clientId":"` + clientID + `","data":"` + b64(photo) + `","performLivenessCheck":false}`)
				h := fvhttp.NewServer(env.vault, env.store, slog.New(slog.DiscardHandler), fvhttp.Config{})
				rd := bytes.NewReader(body)
				b.SetBytes(int64(len(photo)))
				b.ReportAllocs()
				for b.Loop() {
					rd.Reset(body)
					req := httptest.NewRequest("POST", "/v1/livePhotos", rd)
					req.Header.Set("Content-Type", "application/json")
					req.Header.Set("Authorization", env.KeyA)
					w := httptest.NewRecorder()
					h.ServeHTTP(w, req)
					if w.Code != http.StatusOK {
						b.Fatalf("status %d: %s", w.Code, w.Body)
					}
				}
			})
		}
	}
}
