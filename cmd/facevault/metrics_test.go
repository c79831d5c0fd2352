package main

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"
)

// scrape reads a Prometheus text page into series (name with labels, as
// written) and values.
func scrape(t *testing.T, url string) map[string]float64 {
	t.Helper()
	res, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK || !strings.HasPrefix(res.Header.Get("Content-Type"), "text/plain") {
		b, _ := io.ReadAll(res.Body)
		t.Fatalf("GET %s: %d %s %q", url, res.StatusCode, res.Header.Get("Content-Type"), b)
	}
	out := map[string]float64{}
	sc := bufio.NewScanner(res.Body)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err != nil {
			t.Fatalf("metric line %q: %v", line, err)
		}
		out[line[:i]] = v
	}
	return out
}

// sum adds the series whose name is name and whose labels include every
// label given ("k=\"v\"").
func sum(series map[string]float64, name string, labels ...string) float64 {
	var total float64
	for k, v := range series {
		n, rest, _ := strings.Cut(k, "{")
		if n != name {
			continue
		}
		ok := true
		for _, l := range labels {
			ok = ok && strings.Contains(rest, l)
		}
		if ok {
			total += v
		}
	}
	return total
}

// TestServeMetrics: GET /metrics shows the requests by route and status,
// upload bytes and slot waits, the liveness check's stages and outcomes,
// checks, record and image store calls, background work and build info,
// on both back ends; none of it names a client, a photo or a key.
func TestServeMetrics(t *testing.T) {
	face, err := os.ReadFile("../../liveness/testdata/pigo-sample.jpg")
	if err != nil {
		t.Fatal(err)
	}
	run := func(t *testing.T, store string, args []string) {
		s := startServe(t, append(args, "--purge-interval", "100ms")...)
		key := s.bootstrapKeys(t).test
		client := s.createClient(t, key)
		photo := s.uploadPhoto(t, key, client, face)
		probe := s.uploadPhoto(t, key, client, face)
		if status, body := s.do(t, "POST", "/v1/checks", key, map[string]any{
			"clientId": client, "type": "age_estimation_check", "livePhotoId": probe}); status != http.StatusOK {
			t.Fatalf("create check: %d %s", status, body)
		}
		s.do(t, "GET", "/v1/clients/"+unknownHex(), key, nil)
		s.do(t, "GET", "/v1/no/such/route/"+photo, key, nil)
		var m map[string]float64
		deadline := time.Now().Add(20 * time.Second)
		for {
			m = scrape(t, "http://"+s.addr+"/metrics")
			if sum(m, "facevault_checks_total") >= 1 && sum(m, "facevault_background_items_total") >= 0 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatal("no check finished within 20s")
			}
			time.Sleep(50 * time.Millisecond)
		}
		for _, c := range []struct {
			name   string
			labels []string
			least  float64
		}{
			{"facevault_http_requests_total", []string{`route="POST /v1/livePhotos"`, `status="200"`}, 2},
			{"facevault_http_requests_total", []string{`route="GET /v1/clients/{id}"`, `status="404"`}, 1},
			{"facevault_http_requests_total", []string{`route="other"`, `status="404"`}, 1},
			{"facevault_http_request_duration_seconds_count", []string{`route="POST /v1/clients"`}, 1},
			{"facevault_upload_bytes_total", nil, 2 * float64(len(face))},
			{"facevault_upload_slot_wait_seconds_count", nil, 2},
			{"facevault_liveness_stage_seconds_count", []string{`stage="detect"`}, 2},
			{"facevault_liveness_stage_seconds_count", []string{`stage="pad"`}, 2},
			{"facevault_liveness_checks_total", []string{`outcome="clear"`}, 1},
			{"facevault_checks_total", []string{`type="age_estimation_check"`, `status="complete"`}, 1},
			{"facevault_check_duration_seconds_count", []string{`type="age_estimation_check"`}, 1},
			{"facevault_db_duration_seconds_count", []string{`store="` + store + `"`}, 1},
			{"facevault_build_info", nil, 1},
			{"go_goroutines", nil, 1},
		} {
			if got := sum(m, c.name, c.labels...); got < c.least {
				t.Errorf("%s%v = %v, want at least %v", c.name, c.labels, got, c.least)
			}
		}
		if store == "postgres" {
			if got := sum(m, "facevault_s3_request_duration_seconds_count", `method="PUT"`); got < 2 {
				t.Errorf("S3 PUT requests counted: %v, want at least the 2 uploads", got)
			}
		}
		for k := range m {
			for _, secret := range []string{client, photo, probe, key} {
				if strings.Contains(k, secret) {
					t.Errorf("series %s names %s", k, secret)
				}
			}
		}
		s.stop(t)
	}
	t.Run("SQLiteFiles", func(t *testing.T) {
		clearEnv(t)
		run(t, "sqlite", serveArgs(t.TempDir()))
	})
	t.Run("PostgreSQLS3", func(t *testing.T) {
		clearServeEnv(t)
		st := newSharedStores(t)
		run(t, "postgres", append(st.args(), "--addr", "127.0.0.1:0", "--data", t.TempDir()))
	})
}

// TestServeMetricsAddr: with --metrics-addr, /metrics is served there and
// not on the API's address.
func TestServeMetricsAddr(t *testing.T) {
	clearEnv(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	s := startServe(t, append(serveArgs(t.TempDir()), "--metrics-addr", addr)...)
	if m := scrape(t, "http://"+addr+"/metrics"); sum(m, "facevault_build_info") != 1 {
		t.Errorf("no build info on --metrics-addr")
	}
	if status, _ := s.do(t, "GET", "/metrics", "", nil); status != http.StatusNotFound {
		t.Errorf("GET /metrics on the API's address: %d, want 404", status)
	}
	s.stop(t)
}

// unknownHex is a well-formed id that names nothing.
func unknownHex() string { return strings.Repeat("0", 24) }
