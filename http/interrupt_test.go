package http_test

import (
	"bytes"
	"encoding/base64"
	"net/http"
	"testing"
	"time"

	"github.com/facevault/facevault/internal/testimage"
)

// TestDeleteClientInterrupted is the finding that made deletes what they
// are: a client with many photos is deleted by a caller that gives up
// (its HTTP client times out) at ever later moments. Whatever the moment,
// either nothing changed — the client is there and every photo downloads
// byte for byte — or the client and every photo are gone for every
// request, and once the purge has run, so are their bytes. Never a listed
// photo without its bytes.
func TestDeleteClientInterrupted(t *testing.T) {
	forEachBackend(t, func(t *testing.T, env *testEnv) {
		const photos = 40
		outcomes := map[bool]int{}
		for round := 0; round < 12 && (round < 6 || outcomes[true] == 0 || outcomes[false] == 0); round++ {
			clientID := env.newClientID(t, env.KeyA)
			imgs := map[string][]byte{}
			for i := range photos {
				img := testimage.JPEGSize(36<<10, uint64(round*1000+i))
				imgs[str(t, env.upload(t, env.KeyA, clientID, img), "id")] = img
			}
			req, err := env.newRequest("DELETE", "/v1/clients/"+clientID, env.KeyA, nil)
			if err != nil {
				t.Fatal(err)
			}
			timeout := time.Duration(round*round) * 50 * time.Microsecond
			handled := env.logs.requests()
			res, err := (&http.Client{Timeout: timeout}).Do(req)
			answered := err == nil
			// The server may go on with a request its caller gave up on:
			// look once its handler is done.
			deadline := time.Now().Add(10 * time.Second)
			for env.logs.requests() == handled && time.Now().Before(deadline) {
				time.Sleep(time.Millisecond)
			}
			if answered {
				res.Body.Close()
				if res.StatusCode != http.StatusNoContent {
					t.Fatalf("round %d: DELETE answered %d", round, res.StatusCode)
				}
			}
			r := env.do(t, "GET", "/v1/clients/"+clientID, env.KeyA, nil)
			deleted := r.Status == http.StatusNotFound
			if !deleted {
				wantStatus(t, r, http.StatusOK)
			}
			if answered && !deleted {
				t.Fatalf("round %d: DELETE answered 204 but the client is still there", round)
			}
			outcomes[deleted]++
			listed := env.photoIDs(t, env.KeyA, clientID)
			if deleted && len(listed) != 0 {
				t.Fatalf("round %d: the client is gone but %d of its photos are listed", round, len(listed))
			}
			if !deleted && len(listed) != photos {
				t.Fatalf("round %d: the client is there with %d of its %d photos", round, len(listed), photos)
			}
			for id, img := range imgs {
				r := env.do(t, "GET", "/v1/livePhotos/"+id+"/download", env.KeyA, nil)
				if deleted {
					wantStatus(t, r, http.StatusNotFound)
					continue
				}
				wantStatus(t, r, http.StatusOK)
				if got, err := base64.StdEncoding.DecodeString(str(t, r.JSON, "data")); err != nil || !bytes.Equal(got, img) {
					t.Fatalf("round %d: photo %s downloads %d bytes differing from its %d", round, id, len(got), len(img))
				}
			}
			if deleted {
				env.waitPurged(t)
				for id := range imgs {
					if env.blobExists(t, id) {
						t.Fatalf("round %d: the bytes of %s outlived the purge", round, id)
					}
				}
			}
		}
		t.Logf("outcomes: %d deleted, %d left whole", outcomes[true], outcomes[false])
		if outcomes[true] == 0 {
			t.Errorf("no delete went through: the test shows nothing")
		}
	})
}
