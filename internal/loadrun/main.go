// Command loadrun runs facevault serve on the embedded default, puts a
// load on it (clients, uploads with the liveness check, downloads, lists,
// checks, a few requests that fail), scrapes /metrics every second, and
// draws the panels of FaceVault's Grafana dashboard (internal/dashboard)
// from the scrapes into one PNG: the dashboard as it looks under load,
// where no Prometheus and Grafana run.
//
//	go run ./internal/loadrun -duration 60s -png docs/metrics-dashboard.png
//
// Run it from the repository's root.
package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sync"
	"time"

	"github.com/facevault/facevault/internal/testimage"
)

func main() {
	duration := flag.Duration("duration", time.Minute, "how long the load runs")
	workers := flag.Int("workers", 8, "concurrent callers")
	out := flag.String("png", "docs/metrics-dashboard.png", "where to write the panels")
	flag.Parse()
	if err := run(*duration, *workers, *out); err != nil {
		log.Fatal(err)
	}
}

func run(duration time.Duration, workers int, out string) error {
	dir, err := os.MkdirTemp("", "facevault-loadrun-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	bin := filepath.Join(dir, "facevault")
	if b, err := exec.Command("go", "build", "-o", bin, "./cmd/facevault").CombinedOutput(); err != nil {
		return fmt.Errorf("go build: %v\n%s", err, b)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	data := filepath.Join(dir, "data")
	cmd := exec.CommandContext(ctx, bin, "serve", "--data", data, "--addr", "127.0.0.1:0", "--check-interval", "1s")
	stderr, err := cmd.StderrPipe()
	if err != nil {
		return err
	}
	cmd.Stdout = io.Discard
	if err := cmd.Start(); err != nil {
		return err
	}
	defer cmd.Wait()
	defer cmd.Process.Signal(os.Interrupt)
	addr, err := waitListening(stderr)
	if err != nil {
		return err
	}
	go io.Copy(io.Discard, stderr)
	keys, err := os.ReadFile(data + "-keys/bootstrap-keys.txt")
	if err != nil {
		return err
	}
	m := regexp.MustCompile(`test key: (\S+)`).FindSubmatch(keys)
	if m == nil {
		return errors.New("no test key in bootstrap-keys.txt")
	}
	c := &caller{base: "http://" + addr, key: string(m[1]), http: &http.Client{Timeout: time.Minute}}
	face, err := os.ReadFile("liveness/testdata/pigo-sample.jpg")
	if err != nil {
		return err
	}
	other, err := os.ReadFile("liveness/testdata/astronaut.png")
	if err != nil {
		return err
	}
	images := [][]byte{face, other, testimage.JPEG(640, 480, 1), testimage.PNG(400, 400, 2)}

	var scrapes []scrape
	stop := time.Now().Add(duration)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() { c.load(stop, images, uint64(w)) })
	}
	tick := time.NewTicker(time.Second)
	for time.Now().Before(stop.Add(2 * time.Second)) {
		s, err := c.scrape()
		if err != nil {
			return err
		}
		scrapes = append(scrapes, s)
		<-tick.C
	}
	tick.Stop()
	wg.Wait()
	f, err := os.Create(out)
	if err != nil {
		return err
	}
	if err := drawPanels(f, scrapes); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	c.mu.Lock()
	fmt.Printf("%s: %d requests by %d callers in %v (%d uploads, %d checks); panels in %s\n",
		addr, c.requests, workers, duration, c.uploads, c.checks, out)
	c.mu.Unlock()
	return nil
}

// waitListening reads serve's log until it says where it listens.
func waitListening(r io.Reader) (string, error) {
	sc := bufio.NewScanner(r)
	re := regexp.MustCompile(`msg="FaceVault listening" addr=(\S+)`)
	for sc.Scan() {
		if m := re.FindStringSubmatch(sc.Text()); m != nil {
			return m[1], nil
		}
	}
	return "", errors.New("serve exited before listening")
}

// caller sends the load.
type caller struct {
	base, key string
	http      *http.Client

	mu                        sync.Mutex
	requests, uploads, checks int
}

func (c *caller) do(method, path string, body any) (int, map[string]any) {
	var r io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		r = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, c.base+path, r)
	req.Header.Set("Authorization", c.key)
	req.Header.Set("Content-Type", "application/json")
	res, err := c.http.Do(req)
	c.mu.Lock()
	c.requests++
	c.mu.Unlock()
	if err != nil {
		return 0, nil
	}
	defer res.Body.Close()
	var out map[string]any
	json.NewDecoder(res.Body).Decode(&out)
	return res.StatusCode, out
}

// load sends a mix of requests until stop: a client, uploads of its
// photos, reads, a check on a face, and a request for something missing.
func (c *caller) load(stop time.Time, images [][]byte, seed uint64) {
	rng := rand.New(rand.NewPCG(seed, 1))
	for time.Now().Before(stop) {
		_, cl := c.do("POST", "/v1/clients", map[string]any{"type": "person", "email": "load@example.com",
			"personDetails": map[string]any{"firstName": "Load", "lastName": "Run"}})
		id, _ := cl["id"].(string)
		if id == "" {
			time.Sleep(100 * time.Millisecond)
			continue
		}
		var faces []string
		for i := range 1 + rng.IntN(3) {
			img := images[(int(seed)+i)%len(images)]
			status, p := c.do("POST", "/v1/livePhotos", map[string]any{"clientId": id, "data": base64.StdEncoding.EncodeToString(img)})
			c.mu.Lock()
			c.uploads++
			c.mu.Unlock()
			if pid, _ := p["id"].(string); status == http.StatusOK && bytes.Equal(img, images[0]) {
				faces = append(faces, pid)
			}
		}
		c.do("GET", "/v1/clients/"+id, nil)
		c.do("GET", "/v1/livePhotos?clientId="+id, nil)
		for _, f := range faces {
			c.do("GET", "/v1/livePhotos/"+f+"/download", nil)
			typ := "face_authentication_check"
			if rng.IntN(2) == 0 {
				typ = "age_estimation_check"
			}
			if status, _ := c.do("POST", "/v1/checks", map[string]any{"clientId": id, "type": typ, "livePhotoId": f}); status == http.StatusOK {
				c.mu.Lock()
				c.checks++
				c.mu.Unlock()
			}
		}
		c.do("GET", "/v1/clients/000000000000000000000000", nil) // 404
		if rng.IntN(4) == 0 {
			c.do("DELETE", "/v1/clients/"+id, nil)
		}
	}
}

func (c *caller) scrape() (scrape, error) {
	res, err := c.http.Get(c.base + "/metrics")
	if err != nil {
		return scrape{}, err
	}
	defer res.Body.Close()
	return parseScrape(res.Body, time.Now())
}
