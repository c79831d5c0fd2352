package main

// BenchmarkServeListMemory: the resident memory of a serve process answering
// many pages of large clients at once, read from outside.

import (
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

const (
	// listMemoryClients is how many clients the benchmark makes: one full
	// page.
	listMemoryClients = 1000
	// listMemoryRequests is how many pages of them it asks for at once.
	listMemoryRequests = 16
)

// largeClient is a client as large as the contract allows: every attribute
// set, and 50 metadata keys of 40 characters with values of 500.
func largeClient(i int) map[string]any {
	meta := map[string]string{}
	for k := range 50 {
		meta[fmt.Sprintf("%02d%s", k, strings.Repeat("k", 38))] = fmt.Sprintf("%05d", i) + strings.Repeat("v", 495)
	}
	return map[string]any{
		"type": "person", "email": fmt.Sprintf("large%d@example.com", i),
		"mobile": "+44 7700 900000", "telephone": "+44 20 7946 0000", "externalId": fmt.Sprint("ext-", i),
		"joinedDate": "2020-01-01",
		"personDetails": map[string]string{
			"firstName": "Large", "middleName": "Client", "lastName": fmt.Sprint("Number", i),
			"dob": "1990-01-01", "gender": "other", "nationality": "GB", "birthCountry": "GB",
		},
		"metadata": meta,
	}
}

// BenchmarkServeListMemory starts 'facevault serve' as a child process on
// the embedded default, makes listMemoryClients clients of the largest size
// the contract allows (about 27 KB of JSON each), then per iteration asks
// for listMemoryRequests pages of all of them at once (pageSize=1000, about
// 28 MB each) and reads the answers slowly, a chunk at a time, as a remote
// caller would. It reports the process's resident memory in MiB before the
// lists (idle-RSS-MB, with the clients made) and at its peak
// (peak-RSS-MB), the size of one answer, and the time to answer all.
func BenchmarkServeListMemory(b *testing.B) {
	bin := buildFacevault(b)
	dir := b.TempDir()
	env := childEnv()
	key := createKeyProcess(b, bin, env, []string{"--data", dir}, "bench", "test")
	p := startServeProcess(b, bin, env, "--data", dir)
	defer p.kill()
	p.client.Timeout = 0

	start := time.Now()
	var wg sync.WaitGroup
	errs := make(chan error, listMemoryClients)
	work := make(chan int)
	for range 4 {
		wg.Go(func() {
			for i := range work {
				status, resp, err := p.request("POST", "/v1/clients", key, largeClient(i))
				if err != nil || status != http.StatusOK {
					errs <- fmt.Errorf("create client %d: %d %s %v", i, status, resp, err)
				}
			}
		})
	}
	for i := range listMemoryClients {
		work <- i
	}
	close(work)
	wg.Wait()
	close(errs)
	for err := range errs {
		b.Fatal(err)
	}
	b.Logf("made %d large clients in %v", listMemoryClients, time.Since(start).Round(time.Millisecond))
	before, err := procStatus(p.pid(), "VmRSS", "VmHWM")
	if err != nil {
		b.Fatal(err)
	}

	var size int64
	var took time.Duration
	for b.Loop() {
		start := time.Now()
		var lists sync.WaitGroup
		sizes := make(chan int64, listMemoryRequests)
		for range listMemoryRequests {
			lists.Go(func() {
				req, err := http.NewRequest("GET", "http://"+p.addr+"/v1/clients?pageSize=1000", nil)
				if err != nil {
					b.Error(err)
					return
				}
				req.Header.Set("Authorization", key)
				res, err := p.client.Do(req)
				if err != nil {
					b.Error(err)
					return
				}
				defer res.Body.Close()
				if res.StatusCode != http.StatusOK {
					b.Errorf("list: %d", res.StatusCode)
					return
				}
				// A remote caller reads at its own pace: 64 KiB at a time,
				// with a pause, so the server cannot hand the whole answer
				// to the socket at once.
				var n int64
				buf := make([]byte, 64<<10)
				for {
					k, err := io.ReadFull(res.Body, buf)
					n += int64(k)
					if err != nil {
						break
					}
					time.Sleep(200 * time.Microsecond)
				}
				sizes <- n
			})
		}
		lists.Wait()
		close(sizes)
		for n := range sizes {
			size = n
		}
		took = time.Since(start)
	}
	after, err := procStatus(p.pid(), "VmHWM")
	if err != nil {
		b.Fatalf("the server exited during the lists: %v\nlog:\n%s", err, p.stderr)
	}
	b.ReportMetric(float64(before["VmRSS"])/(1<<20), "idle-RSS-MB")
	b.ReportMetric(float64(after["VmHWM"])/(1<<20), "peak-RSS-MB")
	b.ReportMetric(float64(size)/(1<<20), "MB/answer")
	b.ReportMetric(took.Seconds(), "s/16-lists")
	if size < 20<<20 {
		b.Errorf("an answer is %d bytes, want the 1,000 large clients (over 20 MB)", size)
	}
}
