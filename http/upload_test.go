package http_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"reflect"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	fvhttp "github.com/facevault/facevault/http"
)

const msgSize = "Image file size should be between 34KB and 4MB"

func b64(b []byte) string { return base64.StdEncoding.EncodeToString(b) }

// wrap inserts sep every n characters of s, as base64 -w n does.
func wrap(s string, n int, sep string) string {
	var b strings.Builder
	for i := 0; i < len(s); i += n {
		if i > 0 {
			b.WriteString(sep)
		}
		b.WriteString(s[i:min(i+n, len(s))])
	}
	return b.String()
}

// jsonString is s as a JSON string literal.
func jsonString(s string) string {
	b, err := json.Marshal(s)
	if err != nil {
		panic(err)
	}
	return string(b)
}

// checkPhoto checks the wire shape of a live photo.
func checkPhoto(t testing.TB, p map[string]any, clientID, contentType string, size int, liveness bool) {
	t.Helper()
	id := str(t, p, "id")
	if !idRE.MatchString(id) {
		t.Errorf("id = %q, not 24 lowercase hex characters", id)
	}
	if got := str(t, p, "clientId"); got != clientID {
		t.Errorf("clientId = %q, want %q", got, clientID)
	}
	if got := str(t, p, "contentType"); got != contentType {
		t.Errorf("contentType = %q, want %q", got, contentType)
	}
	if got := num(t, p, "size"); got != float64(size) {
		t.Errorf("size = %v, want %d", got, size)
	}
	if got, ok := p["performLivenessCheck"].(bool); !ok || got != liveness {
		t.Errorf("performLivenessCheck = %#v, want %v", p["performLivenessCheck"], liveness)
	}
	if got := str(t, p, "downloadLink"); got != "/livePhotos/"+id+"/download" {
		t.Errorf("downloadLink = %q, want /livePhotos/%s/download", got, id)
	}
	created, updated := parseTime(t, p, "createdAt"), parseTime(t, p, "updatedAt")
	if !created.Equal(updated) {
		t.Errorf("createdAt %v != updatedAt %v on a new photo", created, updated)
	}
	allowed := []string{"id", "clientId", "downloadLink", "contentType", "performLivenessCheck", "size",
		"createdAt", "updatedAt", "redacted", "redactedAt"}
	for k := range p {
		if !slices.Contains(allowed, k) {
			t.Errorf("live photo has an unexpected field %q", k)
		}
	}
	for _, k := range []string{"redacted", "redactedAt"} {
		if _, has := p[k]; has {
			t.Errorf("new live photo has %q", k)
		}
	}
}

// checkDownload downloads a photo and compares it with what was uploaded.
func (e *testEnv) checkDownload(t testing.TB, key string, photo map[string]any, img []byte) {
	t.Helper()
	id := str(t, photo, "id")
	r := e.do(t, "GET", "/v1/livePhotos/"+id+"/download", key, nil)
	wantStatus(t, r, http.StatusOK)
	ext := "jpg"
	if photo["contentType"] == "images/png" {
		ext = "png"
	}
	created := parseTime(t, photo, "createdAt")
	if got, want := str(t, r.JSON, "fileName"), fmt.Sprintf("selfie_%d.%s", created.UnixMilli(), ext); got != want {
		t.Errorf("fileName = %q, want %q", got, want)
	}
	if got := str(t, r.JSON, "contentType"); got != photo["contentType"] {
		t.Errorf("download contentType = %q, want %q", got, photo["contentType"])
	}
	data, err := base64.StdEncoding.Strict().DecodeString(str(t, r.JSON, "data"))
	if err != nil {
		t.Fatalf("download data is not standard base64: %v", err)
	}
	if !bytes.Equal(data, img) {
		t.Errorf("downloaded %d bytes differ from the %d uploaded", len(data), len(img))
	}
	sum := sha256.Sum256(img)
	if got, want := str(t, r.JSON, "sha256"), hex.EncodeToString(sum[:]); got != want {
		t.Errorf("download sha256 = %q, want %q, the SHA-256 of the stored image in lowercase hex", got, want)
	}
	if got := keys(r.JSON); !slices.Equal(got, []string{"contentType", "data", "fileName", "sha256"}) {
		t.Errorf("download fields = %v", got)
	}
}

// TestUpload covers successful uploads (section 6), each downloaded back.
func TestUpload(t *testing.T) {
	forEachBackend(t, func(t *testing.T, env *testEnv) {
		clientID := env.newClientID(t, env.KeyA)
		im := images()
		jpeg := b64(im.jpeg)
		if !strings.HasSuffix(jpeg, "=") || !strings.Contains(jpeg, "/") {
			t.Fatal("test image: want base64 with padding and a '/'")
		}
		cases := []struct {
			name     string
			path     string
			body     string
			ct       string // content type wanted
			img      []byte
			liveness bool
			hdr      []string
		}{
			{name: "OK/JPEG", body: `{"clientId":"%s","data":"` + jpeg + `"}`, ct: "images/jpg", img: im.jpeg, liveness: true},
			{name: "OK/PNG", body: `{"clientId":"%s","data":"` + b64(im.png) + `"}`, ct: "images/png", img: im.png, liveness: true},
			{name: "OK/LivenessTrue", body: `{"clientId":"%s","data":"` + jpeg + `","performLivenessCheck":true}`, ct: "images/jpg", img: im.jpeg, liveness: true},
			{name: "OK/LivenessFalse", body: `{"performLivenessCheck":false,"clientId":"%s","data":"` + jpeg + `"}`, ct: "images/jpg", img: im.jpeg, liveness: false},
			{name: "OK/LivenessFalsePNG", body: `{"clientId":"%s","data":"` + b64(im.png) + `","performLivenessCheck":false}`, ct: "images/png", img: im.png, liveness: false},
			{name: "OK/DataURL", body: `{"clientId":"%s","data":"data:image/jpeg;base64,` + jpeg + `"}`, ct: "images/jpg", img: im.jpeg, liveness: true},
			{name: "OK/DataURLPNG", body: `{"clientId":"%s","data":"data:image/png;base64,` + b64(im.png) + `"}`, ct: "images/png", img: im.png, liveness: true},
			// The declared type means nothing: the bytes decide.
			{name: "OK/DataURLLies", body: `{"clientId":"%s","data":"data:image/png;base64,` + jpeg + `"}`, ct: "images/jpg", img: im.jpeg, liveness: true},
			{name: "OK/LineBreaks76", body: `{"clientId":"%s","data":` + jsonString(wrap(jpeg, 76, "\n")+"\n") + `}`, ct: "images/jpg", img: im.jpeg, liveness: true},
			{name: "OK/LineBreaksCRLF", body: `{"clientId":"%s","data":` + jsonString(wrap(jpeg, 64, "\r\n")) + `}`, ct: "images/jpg", img: im.jpeg, liveness: true},
			{name: "OK/LineBreaksPNG", body: `{"clientId":"%s","data":` + jsonString(wrap(b64(im.png), 76, "\n")) + `}`, ct: "images/png", img: im.png, liveness: true},
			{name: "OK/Spaces", body: `{"clientId":"%s","data":"` + wrap(jpeg, 100, " ") + `"}`, ct: "images/jpg", img: im.jpeg, liveness: true},
			{name: "OK/NoPadding", body: `{"clientId":"%s","data":"` + strings.TrimRight(jpeg, "=") + `"}`, ct: "images/jpg", img: im.jpeg, liveness: true},
			{name: "OK/NoPaddingWrapped", body: `{"clientId":"%s","data":` + jsonString(wrap(strings.TrimRight(jpeg, "="), 76, "\n")) + `}`, ct: "images/jpg", img: im.jpeg, liveness: true},
			{name: "OK/EscapedSlash", body: `{"clientId":"%s","data":"` + strings.ReplaceAll(jpeg, "/", `\/`) + `"}`, ct: "images/jpg", img: im.jpeg, liveness: true},
			{name: "OK/UnicodeEscapes", body: `{"clientId":"%s","data":"` + strings.ReplaceAll(jpeg, "+", `\u002B`) + `"}`, ct: "images/jpg", img: im.jpeg, liveness: true},
			{name: "OK/UnknownFields", body: `{"unknown":{"a":[1,2,{"b":null}]},"clientId":"%s","data":"` + jpeg + `","extra":"x"}`, ct: "images/jpg", img: im.jpeg, liveness: true},
			{name: "OK/Whitespace", body: "\n {\n \"clientId\" : \"%s\" ,\n \"data\" : \"" + jpeg + "\"\n}\n", ct: "images/jpg", img: im.jpeg, liveness: true},
			{name: "OK/TrailingSlash", path: "/v1/livePhotos/", body: `{"clientId":"%s","data":"` + jpeg + `"}`, ct: "images/jpg", img: im.jpeg, liveness: true},
			{name: "OK/Charset", body: `{"clientId":"%s","data":"` + jpeg + `"}`, ct: "images/jpg", img: im.jpeg, liveness: true, hdr: []string{"Content-Type", "application/json; charset=utf-8"}},
			{name: "OK/Min34KB", body: `{"clientId":"%s","data":"` + b64(im.jpegMin) + `"}`, ct: "images/jpg", img: im.jpegMin, liveness: true},
			{name: "OK/Max4MB", body: `{"clientId":"%s","data":"` + b64(im.jpegMax) + `"}`, ct: "images/jpg", img: im.jpegMax, liveness: true},
			{name: "OK/Max4MBWrapped", body: `{"clientId":"%s","data":` + jsonString(wrap(b64(im.jpegMax), 76, "\n")) + `}`, ct: "images/jpg", img: im.jpegMax, liveness: true},
			{name: "OK/PixelsAtBound", body: `{"clientId":"%s","data":"` + b64(im.pngEdge) + `"}`, ct: "images/png", img: im.pngEdge, liveness: true},
		}
		var uploaded []string
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				path := c.path
				if path == "" {
					path = "/v1/livePhotos"
				}
				r := env.do(t, "POST", path, env.KeyA, fmt.Sprintf(c.body, clientID), c.hdr...)
				wantStatus(t, r, http.StatusOK)
				checkPhoto(t, r.JSON, clientID, c.ct, len(c.img), c.liveness)
				id := str(t, r.JSON, "id")
				uploaded = append(uploaded, id)

				g := env.do(t, "GET", "/v1/livePhotos/"+id, env.KeyA, nil)
				wantStatus(t, g, http.StatusOK)
				if !reflect.DeepEqual(g.JSON, r.JSON) {
					t.Errorf("GET answers\n%s\nupload answered\n%s", g.Body, r.Body)
				}
				env.checkDownload(t, env.KeyA, r.JSON, c.img)
				if !env.blobExists(t, id) {
					t.Errorf("no blob for %s", id)
				}
			})
		}
		// Every upload is listed, and nothing else.
		got := env.photoIDs(t, env.KeyA, clientID)
		slices.Sort(got)
		slices.Sort(uploaded)
		if !slices.Equal(got, uploaded) {
			t.Errorf("listed photos = %v, want %v", got, uploaded)
		}
		// No temporaries are left: one object per photo.
		if objs := env.snapshot(t); len(objs) != len(uploaded) {
			t.Errorf("blob store holds %d objects for %d photos: %v", len(objs), len(uploaded), objs)
		}
	})
}

// TestUploadRefused covers every 400 and 404 an upload can get, and checks
// that none leaves anything behind.
func TestUploadRefused(t *testing.T) {
	forEachBackend(t, func(t *testing.T, env *testEnv) {
		clientID := env.newClientID(t, env.KeyA)
		otherAccount := env.newClientID(t, env.KeyB)
		otherMode := env.newClientID(t, env.KeyALive)
		unknown := unknownID()
		existing := str(t, env.upload(t, env.KeyA, clientID, images().png), "id")
		im := images()
		jpeg := b64(im.jpeg)
		body := func(data string) string { return `{"clientId":"` + clientID + `","data":` + data + `}` }
		withData := func(img []byte) string { return body(`"` + b64(img) + `"`) }
		illegal := jpeg[:1000] + "$" + jpeg[1001:]
		urlSafe := base64.URLEncoding.EncodeToString(im.jpeg)
		if !strings.ContainsAny(urlSafe, "-_") {
			t.Fatal("test image: want URL-safe base64 with '-' or '_'")
		}

		cases := []struct {
			name          string
			body          string
			hdr           []string
			status        int
			typ, msg, prm string
		}{
			{"ErrContentTypeMissing", withData(im.jpeg), []string{"Content-Type", ""}, 400, "invalid_request", "", "Content-Type"},
			{"ErrContentTypeTextPlain", withData(im.jpeg), []string{"Content-Type", "text/plain"}, 400, "invalid_request", "", "Content-Type"},
			{"ErrNotJSON", "clientId=" + clientID, nil, 400, "invalid_request", "", ""},
			{"ErrTruncated", `{"clientId":"` + clientID + `","data":"` + jpeg[:5000], nil, 400, "invalid_request", "", ""},
			{"ErrTruncatedAfterColon", `{"clientId":"` + clientID + `","data":`, nil, 400, "invalid_request", "", ""},
			{"ErrTruncatedWholeData", body(`"` + jpeg + `"`)[:len(body(`"`+jpeg+`"`))-1], nil, 400, "invalid_request", "", ""},
			{"ErrNotObject", `["` + clientID + `","` + jpeg + `"]`, nil, 400, "invalid_request", "", ""},
			{"ErrDataNumber", body(`12345`), nil, 400, "invalid_request", "", "data"},
			{"ErrDataObject", body(`{"base64":"` + jpeg + `"}`), nil, 400, "invalid_request", "", "data"},
			{"ErrDataArray", body(`["` + jpeg + `"]`), nil, 400, "invalid_request", "", "data"},
			{"ErrDataBool", body(`true`), nil, 400, "invalid_request", "", "data"},
			{"ErrDataNull", body(`null`), nil, 400, "invalid_request", "", "data"},
			{"ErrDataEmpty", body(`""`), nil, 400, "invalid_request", "", "data"},
			{"ErrDataOnlySpaces", body(`"  \n  "`), nil, 400, "invalid_request", "", "data"},
			{"ErrBase64Illegal", body(`"` + illegal + `"`), nil, 400, "invalid_request", "", "data"},
			{"ErrBase64IllegalAtEnd", body(`"` + jpeg + `!"`), nil, 400, "invalid_request", "", "data"},
			{"ErrBase64URLSafe", body(`"` + urlSafe + `"`), nil, 400, "invalid_request", "", "data"},
			{"ErrBase64Truncated", body(`"` + strings.TrimRight(jpeg, "=")[:len(strings.TrimRight(jpeg, "="))-2] + `"`), nil, 400, "invalid_request", "", "data"},
			{"ErrBase64PaddingInside", body(`"` + jpeg[:40] + `==` + jpeg[40:] + `"`), nil, 400, "invalid_request", "", "data"},
			{"ErrBase64DataAfterPadding", body(`"` + jpeg + `AAAA"`), nil, 400, "invalid_request", "", "data"},
			{"ErrBase64NonASCII", body(`"` + jpeg[:100] + `é` + jpeg[100:] + `"`), nil, 400, "invalid_request", "", "data"},
			{"ErrBase64EscapedControl", body(`"` + jpeg[:100] + `\u0000` + jpeg[100:] + `"`), nil, 400, "invalid_request", "", "data"},
			{"ErrDataURLNotBase64", body(`"data:image/jpeg,` + jpeg + `"`), nil, 400, "invalid_request", "", "data"},
			{"ErrGIF", withData(im.gif), nil, 400, "invalid_request", "", "data"},
			{"ErrPDF", withData(im.pdf), nil, 400, "invalid_request", "", "data"},
			{"ErrText", withData(im.text), nil, 400, "invalid_request", "", "data"},
			{"ErrJPEGBadHeader", withData(im.jpegBadHdr), nil, 400, "invalid_request", "", "data"},
			{"ErrJPEG30KB", withData(im.jpeg30K), nil, 400, "invalid_request", msgSize, "data"},
			{"ErrJPEG34KBMinus1", withData(im.jpegMinM1), nil, 400, "invalid_request", msgSize, "data"},
			{"ErrPNG33KB", withData(im.png33K), nil, 400, "invalid_request", msgSize, "data"},
			{"ErrJPEG4MBPlus1", withData(im.jpegMaxP1), nil, 400, "invalid_request", msgSize, "data"},
			{"ErrJPEG5MB", withData(im.jpeg5M), nil, 400, "invalid_request", msgSize, "data"},
			{"ErrPNGBomb60000", withData(im.pngBomb), nil, 400, "invalid_request", "", "data"},
			{"ErrPNGWidth10001", withData(im.pngWide), nil, 400, "invalid_request", "", "data"},
			{"ErrPNG64Megapixels", withData(im.pngPixels), nil, 400, "invalid_request", "", "data"},
			{"ErrLivenessString", `{"clientId":"` + clientID + `","data":"` + jpeg + `","performLivenessCheck":"true"}`, nil, 400, "invalid_request", "", "performLivenessCheck"},
			{"ErrLivenessNumber", `{"clientId":"` + clientID + `","performLivenessCheck":1,"data":"` + jpeg + `"}`, nil, 400, "invalid_request", "", "performLivenessCheck"},
			{"ErrLivenessObject", `{"clientId":"` + clientID + `","data":"` + jpeg + `","performLivenessCheck":{}}`, nil, 400, "invalid_request", "", "performLivenessCheck"},
			{"ErrLivenessArray", `{"clientId":"` + clientID + `","data":"` + jpeg + `","performLivenessCheck":[true]}`, nil, 400, "invalid_request", "", "performLivenessCheck"},
			{"ErrClientIDMissing", `{"data":"` + jpeg + `"}`, nil, 400, "invalid_request", "", "clientId"},
			{"ErrClientIDEmpty", `{"clientId":"","data":"` + jpeg + `"}`, nil, 400, "invalid_request", "", "clientId"},
			{"ErrClientIDNumber", `{"clientId":42,"data":"` + jpeg + `"}`, nil, 400, "invalid_request", "", "clientId"},
			{"ErrDataMissing", `{"clientId":"` + clientID + `"}`, nil, 400, "invalid_request", "", "data"},
			{"ErrDataMissingLiveness", `{"clientId":"` + clientID + `","performLivenessCheck":false}`, nil, 400, "invalid_request", "", "data"},
			{"ErrEmptyObject", `{}`, nil, 400, "invalid_request", "", "clientId"},
			{"ErrClientIDInvalidUTF8", "{\"clientId\":\"\xff\xfe\",\"data\":\"" + jpeg + "\"}", nil, 400, "invalid_request", "", "clientId"},
			{"ErrClientUnknown", `{"clientId":"` + unknown + `","data":"` + jpeg + `"}`, nil, 404, "resource_not_found", "Invalid client id '" + unknown + "'", ""},
			{"ErrClientUnknownAfterData", `{"data":"` + jpeg + `","clientId":"` + unknown + `"}`, nil, 404, "resource_not_found", "Invalid client id '" + unknown + "'", ""},
			{"ErrClientOtherAccountAfterData", `{"data":"` + jpeg + `","performLivenessCheck":false,"clientId":"` + otherAccount + `"}`, nil, 404, "resource_not_found", "Invalid client id '" + otherAccount + "'", ""},
			{"ErrClientIDNull", `{"clientId":null,"data":"` + jpeg + `"}`, nil, 400, "invalid_request", "", "clientId"},
			{"ErrClientMalformed", `{"clientId":"nope","data":"` + jpeg + `"}`, nil, 404, "resource_not_found", "Invalid client id 'nope'", ""},
			{"ErrClientOtherAccount", `{"clientId":"` + otherAccount + `","data":"` + jpeg + `"}`, nil, 404, "resource_not_found", "Invalid client id '" + otherAccount + "'", ""},
			{"ErrClientOtherMode", `{"clientId":"` + otherMode + `","data":"` + jpeg + `"}`, nil, 404, "resource_not_found", "Invalid client id '" + otherMode + "'", ""},
			{"ErrClientIsPhoto", `{"clientId":"` + existing + `","data":"` + jpeg + `"}`, nil, 404, "resource_not_found", "Invalid client id '" + existing + "'", ""},
		}
		before := env.snapshot(t)
		beforeIDs := env.photoIDs(t, env.KeyA, clientID)
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				hdr := c.hdr
				if c.status == http.StatusBadRequest {
					hdr = append(slices.Clip(hdr), invalid(c.name)...)
				}
				r := env.do(t, "POST", "/v1/livePhotos", env.KeyA, c.body, hdr...)
				wantError(t, r, c.status, c.typ, c.msg, c.prm)
				if got := env.snapshot(t); !slices.Equal(got, before) {
					t.Errorf("refused upload left objects behind:\nbefore %v\nafter  %v", before, got)
				}
				if got := env.photoIDs(t, env.KeyA, clientID); !slices.Equal(got, beforeIDs) {
					t.Errorf("photos after a refused upload = %v, want %v", got, beforeIDs)
				}
			})
		}
		for _, k := range []string{env.KeyB, env.KeyALive} {
			env.wantEmptyPhotoList(t, k, clientID)
		}
	})
}

// countingReader produces n bytes: prefix, then filler, counting what was
// read.
type countingReader struct {
	prefix string
	filler byte
	n      int64
	read   atomic.Int64
}

func (r *countingReader) Read(p []byte) (int, error) {
	off := r.read.Load()
	if off >= r.n {
		return 0, io.EOF
	}
	p = p[:min(int64(len(p)), r.n-off)]
	for i := range p {
		if o := off + int64(i); o < int64(len(r.prefix)) {
			p[i] = r.prefix[o]
		} else {
			p[i] = r.filler
		}
	}
	r.read.Add(int64(len(p)))
	return len(p), nil
}

// settled waits until the count has not moved for a while and returns it.
func (r *countingReader) settled() int64 {
	last := r.read.Load()
	for range 40 {
		time.Sleep(50 * time.Millisecond)
		n := r.read.Load()
		if n == last {
			return n
		}
		last = n
	}
	return last
}

// TestTooLarge covers 413: a body larger than any legal request is refused
// without reading it all, and the server carries on.
func TestTooLarge(t *testing.T) {
	const size = 50 << 20
	// How much more than the server's limit may be consumed: what the
	// kernel buffers on both ends of a loopback connection (Linux's
	// autotuning allows up to tcp_wmem + tcp_rmem maxima, 4 + 6 MiB by
	// default), and what the server drains before closing. Measured: about
	// 4 MiB past the limit.
	const slack = 16 << 20
	forEachBackend(t, func(t *testing.T, env *testEnv) {
		clientID := env.newClientID(t, env.KeyA)
		existing := str(t, env.upload(t, env.KeyA, clientID, images().jpeg), "id")
		// An upload body that stays acceptable all the way: a real JPEG
		// followed by spaces, which base64 skips, so only its size is wrong.
		uploadPrefix := `{"clientId":"` + clientID + `","data":"` + b64(images().jpeg)
		clientPrefix := `{"type":"person","email":"big@example.com","externalId":"`
		cases := []struct {
			name, path, prefix string
			filler             byte
			chunked            bool
			limit              int64 // the server's limit for this path
		}{
			{"ErrUploadContentLength", "/v1/livePhotos", uploadPrefix, ' ', false, 0},
			{"ErrUploadChunked", "/v1/livePhotos", uploadPrefix, ' ', true, fvhttp.MaxUploadBody},
			{"ErrUploadTrailingSlashChunked", "/v1/livePhotos/", uploadPrefix, ' ', true, fvhttp.MaxUploadBody},
			{"ErrCreateClientContentLength", "/v1/clients", clientPrefix, 'x', false, 0},
			{"ErrCreateClientChunked", "/v1/clients", clientPrefix, 'x', true, fvhttp.MaxJSONBody},
			{"ErrUpdateClientChunked", "/v1/clients/" + clientID, `{"externalId":"`, 'x', true, fvhttp.MaxJSONBody},
		}
		before := env.snapshot(t)
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				cr := &countingReader{prefix: c.prefix, filler: c.filler, n: size}
				var body io.Reader = cr
				if c.chunked {
					body = struct{ io.Reader }{cr} // hide the type: no length
				}
				req, err := env.newRequest("POST", c.path, env.KeyA, body)
				if err != nil {
					t.Fatal(err)
				}
				if c.chunked {
					req.ContentLength = -1
				} else {
					req.ContentLength = size
				}
				start := time.Now()
				r := env.send(t, req)
				wantError(t, r, http.StatusRequestEntityTooLarge, "request_too_large", "", "")
				consumed := cr.settled()
				t.Logf("%s: 413 after %v, %.1f MB of %d MB consumed", c.name, time.Since(start).Round(time.Millisecond), float64(consumed)/(1<<20), size>>20)
				if consumed > c.limit+slack {
					t.Errorf("%d bytes of the body were consumed; the server should have stopped at %d (+ %d of buffers)", consumed, c.limit, slack)
				}
				if consumed >= size {
					t.Errorf("the whole %d-byte body was consumed", size)
				}
				env.assertAlive(t)
			})
		}
		if got := env.snapshot(t); !slices.Equal(got, before) {
			t.Errorf("refused uploads left objects behind:\nbefore %v\nafter  %v", before, got)
		}
		if ids := env.photoIDs(t, env.KeyA, clientID); !slices.Equal(ids, []string{existing}) {
			t.Errorf("photos = %v, want [%s]", ids, existing)
		}
		_, ids := env.list(t, env.KeyA, "/v1/clients")
		if len(ids) != 1 {
			t.Errorf("%d clients, want 1", len(ids))
		}
		c := env.do(t, "GET", "/v1/clients/"+clientID, env.KeyA, nil)
		wantStatus(t, c, http.StatusOK)
		if _, has := c.JSON["externalId"]; has {
			t.Errorf("client updated by a refused request: %s", c.Body)
		}
		// And an upload still works.
		env.upload(t, env.KeyA, clientID, images().png)
	})
}
