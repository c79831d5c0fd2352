package client_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/facevault/facevault/client"
)

// TestDownloadIntegrity: a download whose data was altered on the way (by a
// proxy that changes one base64 character) is an *IntegrityError that says
// the bytes written are not the image.
func TestDownloadIntegrity(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	c := e.client(t, "")
	jane := newPerson(t, c, "Jane")
	img := jpegOf(60 << 10)
	photo, err := c.UploadLivePhoto(ctx, &client.UploadParams{ClientID: jane.ID, Image: bytes.NewReader(img), PerformLivenessCheck: client.Bool(false)})
	if err != nil {
		t.Fatal(err)
	}
	altering := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		req, _ := http.NewRequestWithContext(r.Context(), r.Method, e.URL+r.URL.RequestURI(), r.Body)
		req.Header = r.Header.Clone()
		resp, err := http.DefaultTransport.RoundTrip(req)
		if err != nil {
			t.Error(err)
			return
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		if i := bytes.Index(body, []byte(`"data":"`)); i >= 0 {
			j := i + len(`"data":"`) + 1000
			if body[j] == 'A' {
				body[j] = 'B'
			} else {
				body[j] = 'A'
			}
		}
		for k, vs := range resp.Header {
			w.Header()[k] = vs
		}
		w.WriteHeader(resp.StatusCode)
		w.Write(body)
	}))
	defer altering.Close()

	var buf bytes.Buffer
	_, err = e.client(t, altering.URL).DownloadLivePhoto(ctx, photo.ID, &buf)
	var ie *client.IntegrityError
	if !errors.As(err, &ie) || !errors.Is(err, client.ErrIntegrity) {
		t.Fatalf("download of altered data: %v (%T), want an *IntegrityError", err, err)
	}
	sum := sha256.Sum256(img)
	bad := sha256.Sum256(buf.Bytes())
	if ie.Want != hex.EncodeToString(sum[:]) || ie.Got != hex.EncodeToString(bad[:]) || ie.Written != int64(len(img)) || ie.LivePhotoID != photo.ID {
		t.Errorf("IntegrityError %+v: want the stored digest, that of the %d bytes written, and the photo id", ie, len(img))
	}
	if !strings.Contains(err.Error(), "discard") {
		t.Errorf("message %q does not tell the caller to discard the bytes", err)
	}

	// The same download, unaltered.
	buf.Reset()
	d, err := c.DownloadLivePhoto(ctx, photo.ID, &buf)
	if err != nil || !d.Verified || !bytes.Equal(buf.Bytes(), img) {
		t.Errorf("download: %+v, %v", d, err)
	}
}

// TestDownloadShapes: the download's object is read whatever the order of
// its fields, with escapes, line breaks in the base64 and fields unknown to
// the client; without sha256 (ComplyCube) the bytes are not verified; a
// cut or malformed answer is an error.
func TestDownloadShapes(t *testing.T) {
	img := jpegOf(40 << 10)
	sum := sha256.Sum256(img)
	digest := hex.EncodeToString(sum[:])
	b64 := base64.StdEncoding.EncodeToString(img)
	var wrapped strings.Builder
	for i := 0; i < len(b64); i += 76 {
		wrapped.WriteString(b64[i:min(i+76, len(b64))])
		wrapped.WriteString(`\r\n`)
	}
	escaped := strings.ReplaceAll(b64, "/", `\/`)
	escaped = strings.Replace(escaped, "A", `\u0041`, 5)
	for _, tc := range []struct {
		name, body string
		verified   bool
		fails      bool
	}{
		{"sha256 first", `{"fileName":"selfie_1.jpg","contentType":"images/jpg","sha256":"` + digest + `","data":"` + b64 + `"}`, true, false},
		{"sha256 last", `{"data":"` + b64 + `","sha256":"` + digest + `","fileName":"selfie_1.jpg","contentType":"images/jpg"}`, true, false},
		{"escapes and white space", " {\n \"fileName\" : \"selfie_1.jpg\",\"contentType\":\"images\\/jpg\", \"data\" : \"" + escaped + "\" , \"sha256\":\"" + digest + "\" }\n", true, false},
		{"wrapped base64", `{"fileName":"selfie_1.jpg","contentType":"images/jpg","sha256":"` + digest + `","data":"` + wrapped.String() + `"}`, true, false},
		{"unknown fields", `{"extra":{"a":[1,2,{"b":"\"}"}],"c":null},"n":-1.5e3,"t":true,"fileName":"selfie_1.jpg","contentType":"images/jpg","sha256":"` + digest + `","data":"` + b64 + `","s":"\u00e9"}`, true, false},
		{"no sha256", `{"fileName":"selfie_1.jpg","contentType":"images/jpg","data":"` + b64 + `"}`, false, false},
		{"cut short", `{"fileName":"selfie_1.jpg","contentType":"images/jpg","sha256":"` + digest + `","data":"` + b64[:1000], false, true},
		{"no closing brace", `{"fileName":"selfie_1.jpg","contentType":"images/jpg","sha256":"` + digest + `","data":"` + b64 + `"`, false, true},
		{"not base64", `{"fileName":"selfie_1.jpg","contentType":"images/jpg","data":"***"}`, false, true},
		{"no data", `{"fileName":"selfie_1.jpg","contentType":"images/jpg"}`, false, true},
		{"not an object", `[]`, false, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "application/json")
				io.WriteString(w, tc.body)
			}))
			defer srv.Close()
			c, err := client.New(srv.URL, "k")
			if err != nil {
				t.Fatal(err)
			}
			var buf bytes.Buffer
			d, err := c.DownloadLivePhoto(context.Background(), "p1", &buf)
			if tc.fails {
				if err == nil {
					t.Fatalf("succeeded: %+v", d)
				}
				if !strings.Contains(err.Error(), "discard") {
					t.Errorf("error %q does not tell the caller to discard the bytes", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(buf.Bytes(), img) || d.Verified != tc.verified || d.FileName != "selfie_1.jpg" ||
				d.ContentType != client.ContentTypeJPEG || d.Size != int64(len(img)) {
				t.Errorf("download %+v, %d bytes, equal %v; want verified %v", d, buf.Len(), bytes.Equal(buf.Bytes(), img), tc.verified)
			}
		})
	}
}

// TestUploadBody: the upload's body is the contract's JSON, with the image
// in standard base64; its length is sent ahead for an io.Seeker (read from
// its current offset) and the body is chunked for any other reader.
func TestUploadBody(t *testing.T) {
	img := jpegOf(40 << 10)
	type seen struct {
		length int64
		te     []string
		body   map[string]any
	}
	got := make(chan seen, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var s seen
		s.length, s.te = r.ContentLength, r.TransferEncoding
		if err := json.NewDecoder(r.Body).Decode(&s.body); err != nil {
			t.Error(err)
		}
		got <- s
		io.WriteString(w, `{"id":"p1"}`)
	}))
	defer srv.Close()
	c, err := client.New(srv.URL, "k")
	if err != nil {
		t.Fatal(err)
	}
	seeker := bytes.NewReader(append([]byte("skipped"), img...))
	seeker.Seek(int64(len("skipped")), io.SeekStart)
	for _, tc := range []struct {
		name    string
		image   io.Reader
		chunked bool
	}{{"seeker", seeker, false}, {"stream", io.MultiReader(bytes.NewReader(img)), true}} {
		_, err := c.UploadLivePhoto(context.Background(), &client.UploadParams{ClientID: "c1", Image: tc.image,
			PerformLivenessCheck: client.Bool(false), Enrol: client.Bool(false)})
		if err != nil {
			t.Fatal(err)
		}
		s := <-got
		want := map[string]any{"clientId": "c1", "performLivenessCheck": false, "enrol": false, "data": base64.StdEncoding.EncodeToString(img)}
		if len(s.body) != len(want) {
			t.Errorf("%s: body fields %d, want %d", tc.name, len(s.body), len(want))
		}
		for k, v := range want {
			if s.body[k] != v {
				t.Errorf("%s: %s = %.40v, want %.40v", tc.name, k, s.body[k], v)
			}
		}
		if chunked := len(s.te) == 1 && s.te[0] == "chunked"; chunked != tc.chunked || !tc.chunked && s.length <= 0 {
			t.Errorf("%s: Content-Length %d, Transfer-Encoding %v", tc.name, s.length, s.te)
		}
	}
}
