package main

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"os"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestCheckSurvivesKill: checks accepted with 200 by a node that is then
// killed with SIGKILL, before it has finished them all, are completed by
// the next node on the same stores: the ones it had not claimed at once,
// the one it was running (claimed, lease held by the dead node) once its
// lease has expired. On both back ends. The kill lands as soon as the
// node's log shows a check claimed and not complete; what the dead node
// left is read from its log afterwards ("check claimed" and "check
// complete" lines): checks unfinished must be at least one, or the test
// has proven nothing, and how many were claimed is reported.
func TestCheckSurvivesKill(t *testing.T) {
	bin := buildFacevault(t)
	face, err := os.ReadFile("../../liveness/testdata/pigo-sample.jpg")
	if err != nil {
		t.Fatal(err)
	}
	t.Run("SQLiteFiles", func(t *testing.T) {
		runCheckKill(t, bin, face, childEnv(), []string{"--data", t.TempDir()})
	})
	t.Run("PostgreSQLS3", func(t *testing.T) {
		st := newSharedStores(t)
		runCheckKill(t, bin, face, childEnv("FACEVAULT_MASTER_KEY_FILE="+os.Getenv("FACEVAULT_MASTER_KEY_FILE"),
			"TMPDIR="+t.TempDir()), st.args())
	})
}

func runCheckKill(t *testing.T, bin string, face []byte, env, storeArgs []string) {
	key := createKeyProcess(t, bin, env, storeArgs, "kill-checks", "test")
	// The dead node's leases are short, so that the next node takes its
	// checks over within the test.
	const lease = 3 * time.Second
	nodeArgs := append(storeArgs, "--check-lease", lease.String(), "--check-interval", "200ms")
	a := startServeProcess(t, bin, env, append(nodeArgs, "--log-level", "debug")...)
	call := func(p *serveProcess, method, path string, body any) map[string]any {
		t.Helper()
		status, b, err := p.request(method, path, key, body)
		if err != nil || status != http.StatusOK {
			t.Fatalf("%s %s: %d %s %v", method, path, status, b, err)
		}
		var m map[string]any
		if err := json.Unmarshal(b, &m); err != nil {
			t.Fatalf("%s %s: %v", method, path, err)
		}
		return m
	}
	client := call(a, "POST", "/v1/clients", map[string]any{"type": "person", "email": "k@example.com",
		"personDetails": map[string]any{"firstName": "K", "lastName": "L"}})["id"].(string)
	// Enrolled faces make each check open and compare many embeddings: a
	// check takes long enough for the kill to land while some are pending.
	var photos []string
	for range 12 {
		p := call(a, "POST", "/v1/livePhotos", map[string]any{"clientId": client, "data": base64.StdEncoding.EncodeToString(face)})
		photos = append(photos, p["id"].(string))
	}
	const n = 40
	ids := make([]string, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			status, b, err := a.request("POST", "/v1/checks", key, map[string]any{
				"clientId": client, "type": "face_authentication_check", "livePhotoId": photos[i%len(photos)]})
			if err != nil || status != http.StatusOK {
				t.Errorf("create check %d: %d %s %v", i, status, b, err)
				return
			}
			var m map[string]any
			json.Unmarshal(b, &m)
			ids[i], _ = m["id"].(string)
		})
	}
	wg.Wait()
	if t.Failed() {
		return
	}
	// Kill while a check runs: once more are claimed than complete.
	count := func(msg string) int { return strings.Count(a.stderr.String(), `msg="`+msg+`"`) }
	for wait := time.Now().Add(10 * time.Second); count("check claimed") <= count("check complete") && time.Now().Before(wait); {
		time.Sleep(100 * time.Microsecond)
	}
	a.kill()
	done, claimed := count("check complete"), count("check claimed")
	t.Logf("the killed node had claimed %d and finished %d of %d accepted checks: %d running when killed", claimed, done, n, claimed-done)
	if done >= n {
		t.Fatalf("the node finished every check before it was killed: nothing left to take over")
	}

	b := startServeProcess(t, bin, env, nodeArgs...)
	deadline := time.Now().Add(lease + 30*time.Second)
	for _, id := range ids {
		for {
			c := call(b, "GET", "/v1/checks/"+id, nil)
			if c["status"] == "complete" {
				if r, _ := c["result"].(map[string]any); r == nil || r["outcome"] != "clear" {
					t.Errorf("check %s: result %v, want clear (the same face is enrolled)", id, c["result"])
				}
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("check %s still %v %v after the restart and its lease\nlog of the new node:\n%s", id, c["status"], lease, b.stderr)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	t.Logf("the new node completed the %d checks the killed node left (%d completions in its log)", n-done,
		strings.Count(b.stderr.String(), `msg="check complete"`))
	b.stop(t)
}
