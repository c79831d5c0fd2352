package http_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"math"
	"net/http"
	"strings"
	"testing"

	"github.com/facevault/facevault/faceid"
	"github.com/facevault/facevault/liveness"
)

// TestFaceEmbeddingAtUpload: an upload in which the liveness check finds
// one face keeps that face's embedding with its record, sealed under the
// photo's key, never shown through the API; none for several faces, none
// without the check; "enrol": false keeps the embedding but leaves the
// photo out of its client's faces; redaction destroys the embedding.
func TestFaceEmbeddingAtUpload(t *testing.T) {
	imgs, err := livenessImages()
	if err != nil {
		t.Fatal(err)
	}
	a, err := liveness.New(liveness.DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	e, err := faceid.New()
	if err != nil {
		t.Fatal(err)
	}
	a.SetEmbedder(e.EmbedFace)
	forEachBackend(t, func(t *testing.T, env *testEnv) {
		ctx := context.Background()
		env.vault.Analyzer = a
		clientID := env.newClientID(t, env.KeyA)
		upload := func(img []byte, extra map[string]any) (string, map[string]any) {
			body := map[string]any{"clientId": clientID, "data": b64(img)}
			for k, v := range extra {
				body[k] = v
			}
			r := env.do(t, "POST", "/v1/livePhotos", env.KeyA, body)
			wantStatus(t, r, http.StatusOK)
			for k := range r.JSON {
				if strings.Contains(strings.ToLower(k), "embed") || strings.Contains(strings.ToLower(k), "enrol") {
					t.Errorf("the photo object shows %q", k)
				}
			}
			return str(t, r.JSON, "id"), r.JSON
		}
		record := func(id string) ([]float32, bool, []byte) {
			t.Helper()
			p, err := env.store.LivePhoto(ctx, env.ScopeA, id)
			if err != nil {
				t.Fatal(err)
			}
			emb, err := env.vault.FaceEmbedding(ctx, p)
			if err != nil {
				t.Fatal(err)
			}
			return emb, p.Enrolled, p.SealedEmbedding
		}

		first, _ := upload(imgs["face"], nil)
		emb, enrolled, sealed := record(first)
		if len(emb) != 128 || !enrolled {
			t.Fatalf("a one-face upload: embedding of %d values, enrolled %v; want 128 and enrolled", len(emb), enrolled)
		}
		norm := 0.0
		for _, v := range emb {
			norm += float64(v) * float64(v)
		}
		if math.Abs(norm-1) > 1e-4 {
			t.Errorf("embedding norm² %.6f, want 1", norm)
		}
		plain := make([]byte, 16)
		for i := range 4 {
			binary.LittleEndian.PutUint32(plain[4*i:], math.Float32bits(emb[i]))
		}
		if bytes.Contains(sealed, plain) {
			t.Error("the record store holds the embedding in the clear")
		}

		again, _ := upload(imgs["face"], map[string]any{"enrol": false})
		emb2, enrolled2, _ := record(again)
		if enrolled2 || len(emb2) != 128 {
			t.Errorf("an upload with enrol false: enrolled %v, %d values; want not enrolled, with its embedding", enrolled2, len(emb2))
		}
		if faceid.Similarity(emb, emb2) < 99.9 {
			t.Errorf("the same photo twice: similarity %.2f, want the same embedding", faceid.Similarity(emb, emb2))
		}
		for name, extra := range map[string]map[string]any{
			"two faces":  nil,
			"no face":    nil,
			"no check":   {"performLivenessCheck": false},
			"unreadable": nil,
		} {
			img := imgs[name]
			if img == nil {
				img = imgs["face"]
			}
			id, _ := upload(img, extra)
			if emb, _, sealed := record(id); emb != nil || sealed != nil {
				t.Errorf("%s: an embedding was kept", name)
			}
		}

		wantStatus(t, env.do(t, "POST", "/v1/livePhotos/"+first+"/redact", env.KeyA, nil), http.StatusOK)
		if emb, enrolled, sealed := record(first); emb != nil || sealed != nil || enrolled {
			t.Errorf("after redaction: embedding %v, sealed %d bytes, enrolled %v; want all gone", emb != nil, len(sealed), enrolled)
		}
		wantError(t, env.do(t, "POST", "/v1/livePhotos", env.KeyA, map[string]any{"clientId": clientID, "data": b64(imgs["face"]), "enrol": "no"}, invalid("enrol not a boolean")...),
			http.StatusBadRequest, "invalid_request", "The 'enrol' field must be a boolean", "enrol")
	})
}
