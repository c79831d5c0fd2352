package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/facevault/facevault"
)

// TestWebhookSurvivesKill: a node killed with SIGKILL while its webhook
// deliveries are in flight (the receiver holds them, unanswered) loses
// none of them: once their lease has expired the next node on the same
// stores sends them again, and the receiver gets every event, the ones it
// held a second time (at least once: receivers dedupe by event id). The
// dead node's attempt counts. On both back ends.
func TestWebhookSurvivesKill(t *testing.T) {
	bin := buildFacevault(t)
	t.Run("SQLiteFiles", func(t *testing.T) {
		runWebhookKill(t, bin, childEnv(), []string{"--data", t.TempDir()})
	})
	t.Run("PostgreSQLS3", func(t *testing.T) {
		st := newSharedStores(t)
		runWebhookKill(t, bin, childEnv("FACEVAULT_MASTER_KEY_FILE="+os.Getenv("FACEVAULT_MASTER_KEY_FILE"),
			"TMPDIR="+t.TempDir()), st.args())
	})
}

// killReceiver holds every delivery until answering is set; then it
// answers 200 and counts each event it accepted.
type killReceiver struct {
	answering atomic.Bool
	arrived   chan string // event ids, as requests arrive

	mu       sync.Mutex
	held     map[string]int // event id → requests held unanswered
	accepted map[string]int // event id → requests answered 200
	bad      []string
}

func (rc *killReceiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	var e struct {
		ID string `json:"id"`
	}
	if err := json.Unmarshal(body, &e); err != nil || e.ID == "" {
		rc.mu.Lock()
		rc.bad = append(rc.bad, fmt.Sprintf("not an event: %q", body))
		rc.mu.Unlock()
		w.WriteHeader(http.StatusBadRequest)
		return
	}
	if !rc.answering.Load() {
		rc.mu.Lock()
		rc.held[e.ID]++
		rc.mu.Unlock()
		rc.arrived <- e.ID
		<-r.Context().Done() // until the sender goes away
		return
	}
	rc.mu.Lock()
	rc.accepted[e.ID]++
	rc.mu.Unlock()
	w.WriteHeader(http.StatusOK)
}

func runWebhookKill(t *testing.T, bin string, env, storeArgs []string) {
	key := createKeyProcess(t, bin, env, storeArgs, "kill-webhooks", "test")
	rc := &killReceiver{arrived: make(chan string, 100), held: map[string]int{}, accepted: map[string]int{}}
	srv := httptest.NewServer(rc)
	defer srv.Close()
	// Short leases and timeouts, so that the next node takes the dead
	// node's deliveries over within the test; the dead node is killed long
	// before its own attempts would time out.
	const lease = 3 * time.Second
	nodeArgs := append(storeArgs, "--webhook-allow", "127.0.0.1", "--webhook-lease", lease.String(),
		"--webhook-timeout", "2s", "--webhook-interval", "100ms")
	a := startServeProcess(t, bin, env, nodeArgs...)
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
	hook := call(a, "POST", "/v1/webhooks", map[string]any{"url": srv.URL + "/hooks", "events": []string{"client.created"}})
	hookID := hook["id"].(string)
	const n = 5
	for i := range n {
		call(a, "POST", "/v1/clients", map[string]any{"type": "person", "email": fmt.Sprintf("k%d@example.com", i),
			"personDetails": map[string]any{"firstName": "K", "lastName": "L"}})
	}
	// Kill once a delivery is in flight: sent, not answered.
	select {
	case <-rc.arrived:
	case <-time.After(30 * time.Second):
		t.Fatalf("no delivery reached the receiver within 30s\nlog:\n%s", a.stderr)
	}
	a.kill()
	rc.mu.Lock()
	inFlight := len(rc.held)
	rc.mu.Unlock()
	t.Logf("the killed node had %d of %d deliveries in flight, unanswered", inFlight, n)
	rc.answering.Store(true)

	b := startServeProcess(t, bin, env, nodeArgs...)
	deadline := time.Now().Add(lease + 30*time.Second)
	var ds []any
	for {
		r := call(b, "GET", "/v1/webhooks/"+hookID+"/deliveries", nil)
		ds, _ = r["items"].([]any)
		succeeded := 0
		for _, d := range ds {
			if d.(map[string]any)["status"] == facevault.DeliverySucceeded {
				succeeded++
			}
		}
		if len(ds) == n && succeeded == n {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("deliveries after the restart and the lease: %v\nlog of the new node:\n%s", r["items"], b.stderr)
		}
		time.Sleep(50 * time.Millisecond)
	}
	rc.mu.Lock()
	defer rc.mu.Unlock()
	if len(rc.bad) > 0 {
		t.Errorf("the receiver got %v", rc.bad)
	}
	if len(rc.accepted) != n {
		t.Errorf("the receiver accepted %d events, want all %d", len(rc.accepted), n)
	}
	retried := 0
	for _, d := range ds {
		d := d.(map[string]any)
		id := d["eventId"].(string)
		if rc.accepted[id] < 1 {
			t.Errorf("event %s was never accepted", id)
		}
		if rc.held[id] > 0 {
			retried++
			if d["attempts"].(float64) < 2 {
				t.Errorf("delivery %v of an event the dead node was sending: want its attempt counted", d)
			}
		}
	}
	if retried == 0 {
		t.Errorf("no event the dead node was sending was sent again")
	}
	t.Logf("the new node delivered all %d events; %d that the dead node had in flight were sent again (at least once)", n, retried)
	b.stop(t)
}
