package http_test

import (
	"net/http"
	"slices"
	"testing"
	"time"
)

// TestDeleteLivePhoto covers DELETE /v1/livePhotos/{id}: record and bytes
// gone, and 404 from then on.
func TestDeleteLivePhoto(t *testing.T) {
	forEachBackend(t, func(t *testing.T, env *testEnv) {
		clientID := env.newClientID(t, env.KeyA)
		keep := str(t, env.upload(t, env.KeyA, clientID, images().jpeg), "id")
		photo := env.upload(t, env.KeyA, clientID, images().png)
		id := str(t, photo, "id")
		if !env.blobExists(t, id) {
			t.Fatalf("no blob after upload")
		}

		t.Run("OK", func(t *testing.T) {
			r := env.do(t, "DELETE", "/v1/livePhotos/"+id, env.KeyA, nil)
			wantStatus(t, r, http.StatusNoContent)
			if len(r.Body) != 0 {
				t.Errorf("204 with body %q", r.Body)
			}
			env.wantNoBlob(t, id)
		})
		msg := "Invalid live photo id '" + id + "'"
		t.Run("ErrGetAfterDelete", func(t *testing.T) {
			wantError(t, env.do(t, "GET", "/v1/livePhotos/"+id, env.KeyA, nil), http.StatusNotFound, "resource_not_found", msg, "")
		})
		t.Run("ErrDownloadAfterDelete", func(t *testing.T) {
			wantError(t, env.do(t, "GET", "/v1/livePhotos/"+id+"/download", env.KeyA, nil), http.StatusNotFound, "resource_not_found", msg, "")
		})
		t.Run("ErrRedactAfterDelete", func(t *testing.T) {
			wantError(t, env.do(t, "POST", "/v1/livePhotos/"+id+"/redact", env.KeyA, nil), http.StatusNotFound, "resource_not_found", msg, "")
		})
		t.Run("ErrDeleteAgain", func(t *testing.T) {
			wantError(t, env.do(t, "DELETE", "/v1/livePhotos/"+id, env.KeyA, nil), http.StatusNotFound, "resource_not_found", msg, "")
		})
		t.Run("OtherPhotoKept", func(t *testing.T) {
			if ids := env.photoIDs(t, env.KeyA, clientID); !slices.Equal(ids, []string{keep}) {
				t.Errorf("photos = %v, want [%s]", ids, keep)
			}
			env.checkDownload(t, env.KeyA, env.do(t, "GET", "/v1/livePhotos/"+keep, env.KeyA, nil).JSON, images().jpeg)
			if objs := env.snapshot(t); len(objs) != 1 {
				t.Errorf("blob store holds %v, want only %s", objs, keep)
			}
		})
		t.Run("OK/DeleteRedacted", func(t *testing.T) {
			wantStatus(t, env.do(t, "POST", "/v1/livePhotos/"+keep+"/redact", env.KeyA, nil), http.StatusOK)
			wantStatus(t, env.do(t, "DELETE", "/v1/livePhotos/"+keep, env.KeyA, nil), http.StatusNoContent)
			wantError(t, env.do(t, "GET", "/v1/livePhotos/"+keep, env.KeyA, nil), http.StatusNotFound, "resource_not_found", "Invalid live photo id '"+keep+"'", "")
			env.wantEmptyPhotoList(t, env.KeyA, clientID)
			if objs := env.snapshot(t); len(objs) != 0 {
				t.Errorf("blob store holds %v, want nothing", objs)
			}
		})
	})
}

// TestRedactLivePhoto covers POST /v1/livePhotos/{id}/redact.
func TestRedactLivePhoto(t *testing.T) {
	forEachBackend(t, func(t *testing.T, env *testEnv) {
		t0 := time.Date(2024, 3, 1, 12, 0, 0, 123e6, time.UTC)
		env.clock.Set(t0)
		clientID := env.newClientID(t, env.KeyA)
		photo := env.upload(t, env.KeyA, clientID, images().jpeg)
		other := env.upload(t, env.KeyA, clientID, images().png)
		id := str(t, photo, "id")

		t1 := t0.Add(90 * time.Minute)
		env.clock.Set(t1)
		t.Run("OK", func(t *testing.T) {
			r := env.do(t, "POST", "/v1/livePhotos/"+id+"/redact", env.KeyA, nil)
			wantStatus(t, r, http.StatusOK)
			if string(r.Body) != "{}" {
				t.Errorf("body = %s, want {}", r.Body)
			}
			env.wantNoBlob(t, id)
		})
		t.Run("RecordKept", func(t *testing.T) {
			r := env.do(t, "GET", "/v1/livePhotos/"+id, env.KeyA, nil)
			wantStatus(t, r, http.StatusOK)
			p := r.JSON
			if p["redacted"] != true {
				t.Errorf("redacted = %#v, want true", p["redacted"])
			}
			if got := parseTime(t, p, "redactedAt"); !got.Equal(t1) {
				t.Errorf("redactedAt = %v, want %v", got, t1)
			}
			if got := parseTime(t, p, "updatedAt"); !got.Equal(t1) {
				t.Errorf("updatedAt = %v, want %v (moved by the redaction)", got, t1)
			}
			if got := parseTime(t, p, "createdAt"); !got.Equal(t0) {
				t.Errorf("createdAt = %v, want %v", got, t0)
			}
			for _, k := range []string{"id", "clientId", "contentType", "performLivenessCheck", "size"} {
				if p[k] != photo[k] {
					t.Errorf("%s = %#v after redaction, was %#v", k, p[k], photo[k])
				}
			}
			_, ids := env.list(t, env.KeyA, "/v1/livePhotos?clientId="+clientID)
			if !slices.Contains(ids, id) {
				t.Errorf("redacted photo missing from the list %v", ids)
			}
		})
		t.Run("ErrDownloadRedacted", func(t *testing.T) {
			r := env.do(t, "GET", "/v1/livePhotos/"+id+"/download", env.KeyA, nil)
			wantError(t, r, http.StatusNotFound, "resource_not_found", "Live photo '"+id+"' has been redacted", "")
		})
		t.Run("OK/Again", func(t *testing.T) {
			env.clock.Set(t1.Add(time.Hour))
			r := env.do(t, "POST", "/v1/livePhotos/"+id+"/redact", env.KeyA, nil)
			wantStatus(t, r, http.StatusOK)
			if string(r.Body) != "{}" {
				t.Errorf("body = %s, want {}", r.Body)
			}
			g := env.do(t, "GET", "/v1/livePhotos/"+id, env.KeyA, nil)
			wantStatus(t, g, http.StatusOK)
			if g.JSON["redacted"] != true {
				t.Errorf("redacted = %#v after a second redaction", g.JSON["redacted"])
			}
			// Redacting again changes nothing.
			if got := parseTime(t, g.JSON, "redactedAt"); !got.Equal(t1) {
				t.Errorf("redactedAt = %v after a second redaction, want %v", got, t1)
			}
		})
		t.Run("OtherPhotoUntouched", func(t *testing.T) {
			oid := str(t, other, "id")
			r := env.do(t, "GET", "/v1/livePhotos/"+oid, env.KeyA, nil)
			wantStatus(t, r, http.StatusOK)
			if _, has := r.JSON["redacted"]; has {
				t.Errorf("other photo redacted: %s", r.Body)
			}
			env.checkDownload(t, env.KeyA, other, images().png)
		})
	})
}

// TestDeleteClient covers DELETE /v1/clients/{id}: the client and its live
// photos go, image bytes included.
func TestDeleteClient(t *testing.T) {
	forEachBackend(t, func(t *testing.T, env *testEnv) {
		clientID := env.newClientID(t, env.KeyA)
		otherID := env.newClientID(t, env.KeyA)
		var photos []string
		for _, img := range [][]byte{images().jpeg, images().png, images().jpegMin} {
			photos = append(photos, str(t, env.upload(t, env.KeyA, clientID, img), "id"))
		}
		wantStatus(t, env.do(t, "POST", "/v1/livePhotos/"+photos[2]+"/redact", env.KeyA, nil), http.StatusOK)
		otherPhoto := str(t, env.upload(t, env.KeyA, otherID, images().jpeg), "id")

		t.Run("OK", func(t *testing.T) {
			r := env.do(t, "DELETE", "/v1/clients/"+clientID, env.KeyA, nil)
			wantStatus(t, r, http.StatusNoContent)
		})
		t.Run("Cascade", func(t *testing.T) {
			// The photos are gone for the API at once...
			for _, id := range photos {
				msg := "Invalid live photo id '" + id + "'"
				wantError(t, env.do(t, "GET", "/v1/livePhotos/"+id, env.KeyA, nil), http.StatusNotFound, "resource_not_found", msg, "")
				wantError(t, env.do(t, "GET", "/v1/livePhotos/"+id+"/download", env.KeyA, nil), http.StatusNotFound, "resource_not_found", msg, "")
				wantError(t, env.do(t, "DELETE", "/v1/livePhotos/"+id, env.KeyA, nil), http.StatusNotFound, "resource_not_found", msg, "")
				wantError(t, env.do(t, "POST", "/v1/livePhotos/"+id+"/redact", env.KeyA, nil), http.StatusNotFound, "resource_not_found", msg, "")
			}
			env.wantEmptyPhotoList(t, env.KeyA, clientID)
			// ...and their bytes as soon as the background purge has run.
			env.waitPurged(t)
			for _, id := range photos {
				env.wantNoBlob(t, id)
			}
		})
		msg := "Invalid client id '" + clientID + "'"
		t.Run("ErrGetAfterDelete", func(t *testing.T) {
			wantError(t, env.do(t, "GET", "/v1/clients/"+clientID, env.KeyA, nil), http.StatusNotFound, "resource_not_found", msg, "")
		})
		t.Run("ErrUpdateAfterDelete", func(t *testing.T) {
			wantError(t, env.do(t, "POST", "/v1/clients/"+clientID, env.KeyA, map[string]any{"mobile": "1"}), http.StatusNotFound, "resource_not_found", msg, "")
		})
		t.Run("ErrDeleteAgain", func(t *testing.T) {
			wantError(t, env.do(t, "DELETE", "/v1/clients/"+clientID, env.KeyA, nil), http.StatusNotFound, "resource_not_found", msg, "")
		})
		t.Run("ErrUploadAfterDelete", func(t *testing.T) {
			before := env.snapshot(t)
			r := env.do(t, "POST", "/v1/livePhotos", env.KeyA, map[string]any{"clientId": clientID, "data": b64(images().jpeg)})
			wantError(t, r, http.StatusNotFound, "resource_not_found", msg, "")
			if got := env.snapshot(t); !slices.Equal(got, before) {
				t.Errorf("refused upload left objects behind: %v -> %v", before, got)
			}
		})
		t.Run("OtherClientKept", func(t *testing.T) {
			wantStatus(t, env.do(t, "GET", "/v1/clients/"+otherID, env.KeyA, nil), http.StatusOK)
			if ids := env.photoIDs(t, env.KeyA, otherID); !slices.Equal(ids, []string{otherPhoto}) {
				t.Errorf("photos of the other client = %v", ids)
			}
			if objs := env.snapshot(t); len(objs) != 1 || !env.blobExists(t, otherPhoto) {
				t.Errorf("blob store holds %v, want only %s", objs, otherPhoto)
			}
			_, ids := env.list(t, env.KeyA, "/v1/clients")
			if !slices.Equal(ids, []string{otherID}) {
				t.Errorf("clients = %v, want [%s]", ids, otherID)
			}
		})
	})
}
