package facevault_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/facevault/facevault"
)

func TestParseWebhookAllow(t *testing.T) {
	g, err := facevault.ParseWebhookAllow(" 127.0.0.1, 10.0.0.0/8 ,Receiver.Internal., ::1,[fd00::2]")
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"127.0.0.1/32", "10.0.0.0/8", "::1/128", "fd00::2/128"}
	if len(g.Networks) != len(want) {
		t.Fatalf("networks %v, want %v", g.Networks, want)
	}
	for i, p := range g.Networks {
		if p.String() != want[i] {
			t.Errorf("network %d = %s, want %s", i, p, want[i])
		}
	}
	if len(g.Hosts) != 1 || g.Hosts[0] != "receiver.internal" {
		t.Errorf("hosts %v", g.Hosts)
	}
	for _, bad := range []string{"10.0.0.0/33", "a b", "http://x/"} {
		if _, err := facevault.ParseWebhookAllow(bad); err == nil {
			t.Errorf("ParseWebhookAllow(%q) accepted", bad)
		}
	}
	if g, err := facevault.ParseWebhookAllow(""); err != nil || len(g.Hosts)+len(g.Networks) != 0 {
		t.Errorf("empty list: %+v, %v", g, err)
	}
}

// TestWebhookGuardCheckURL: https only, public addresses only, unless the
// operator allows the host or its network.
func TestWebhookGuardCheckURL(t *testing.T) {
	hosts := map[string]string{
		"public.example": "93.184.216.34", "public6.example": "2606:2800:220:1::1", "lo.example": "127.0.0.1",
		"ll.example": "169.254.169.254", "ten.example": "10.9.8.7", "ula.example": "fd12::1", "mapped.example": "::ffff:127.0.0.1",
		"inside.example": "10.1.2.3",
	}
	g := &facevault.WebhookGuard{LookupIP: func(_ context.Context, h string) ([]netip.Addr, error) {
		if a, ok := hosts[h]; ok {
			return []netip.Addr{netip.MustParseAddr(a)}, nil
		}
		return nil, errors.New("no such host")
	}}
	ctx := context.Background()
	ok := []string{"https://public.example/x", "https://public6.example:8443/", "https://93.184.216.34/", "https://[2606:2800:220:1::1]/"}
	for _, u := range ok {
		if err := g.CheckURL(ctx, u); err != nil {
			t.Errorf("CheckURL(%s) = %v", u, err)
		}
	}
	bad := map[string]string{
		"http://public.example/":      "https",
		"ftp://public.example/":       "https",
		"https://lo.example/":         "private",
		"https://ll.example/":         "private",
		"https://ten.example/":        "private",
		"https://ula.example/":        "private",
		"https://mapped.example/":     "private",
		"https://127.0.0.1/":          "private",
		"https://[::1]/":              "private",
		"https://[fe80::1%25eth0]/":   "private",
		"https://0.0.0.0/":            "private",
		"https://224.0.0.1/":          "private",
		"https://100.64.1.1/":         "private",
		"https://nowhere.example/":    "does not resolve",
		"https://u:p@public.example/": "password",
		"/relative":                   "absolute",
		"https:///nohost":             "absolute",
		"https://public.example/" + strings.Repeat("a", 2048): "2048",
	}
	for u, msg := range bad {
		err := g.CheckURL(ctx, u)
		var fe *facevault.Error
		if !errors.As(err, &fe) || fe.Code != facevault.EInvalid || fe.Param != "url" || !strings.Contains(fe.Message, msg) {
			t.Errorf("CheckURL(%.60s) = %v, want 400 param url saying %q", u, err, msg)
		}
	}
	// Allowed hosts and networks: http and private addresses are fine.
	g.Hosts = []string{"lo.example"}
	g.Networks = []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}
	for _, u := range []string{"http://lo.example:8080/", "https://lo.example/", "http://10.1.2.3/", "https://inside.example/"} {
		if err := g.CheckURL(ctx, u); err != nil {
			t.Errorf("allowed CheckURL(%s) = %v", u, err)
		}
	}
	if err := g.CheckURL(ctx, "http://inside.example/"); err == nil {
		t.Error("http to a host that merely resolves into an allowed network was accepted")
	}
}

func TestWebhookRetryDelay(t *testing.T) {
	want := []time.Duration{time.Minute, 2 * time.Minute, 4 * time.Minute, 8 * time.Minute}
	for i, w := range want {
		if got := facevault.WebhookRetryDelay(i + 1); got != w {
			t.Errorf("WebhookRetryDelay(%d) = %v, want %v", i+1, got, w)
		}
	}
	if got := facevault.WebhookRetryDelay(facevault.MaxWebhookRetries); got != 512*time.Minute {
		t.Errorf("the tenth retry waits %v", got)
	}
}

// TestCheckEvents: the events of a check's states, with their payload.
func TestCheckEvents(t *testing.T) {
	at := time.Date(2025, 1, 2, 3, 4, 5, 678_000_000, time.UTC)
	c := &facevault.Check{ID: facevault.NewID(at), ClientID: facevault.NewID(at), LivePhotoID: facevault.NewID(at),
		Type: facevault.CheckFaceAuthentication, Status: facevault.CheckPending, CreatedAt: at, UpdatedAt: at}
	types := func(es []*facevault.Event) (out []string) {
		for _, e := range es {
			out = append(out, e.Type)
		}
		return out
	}
	if got := types(facevault.CheckEvents(c)); strings.Join(got, ",") != "check.pending" {
		t.Errorf("pending: %v", got)
	}
	c.Status, c.Result = facevault.CheckComplete, &facevault.CheckResult{Outcome: facevault.OutcomeAttention}
	es := facevault.CheckEvents(c)
	if got := types(es); strings.Join(got, ",") != "check.completed,check.completed.attention" {
		t.Errorf("complete: %v", got)
	}
	var e struct {
		ID, Type, ResourceType, CreatedAt string
		Payload                           map[string]string
	}
	if err := json.Unmarshal(es[1].Body, &e); err != nil {
		t.Fatal(err)
	}
	if e.ID != es[1].ID || e.ResourceType != "check" || e.CreatedAt != "2025-01-02T03:04:05.678Z" || e.Payload["outcome"] != "attention" ||
		e.Payload["status"] != "complete" || e.Payload["id"] != c.ID || es[0].ID == es[1].ID {
		t.Errorf("event %s", es[1].Body)
	}
	c.Status, c.Result = facevault.CheckFailed, nil
	if got := types(facevault.CheckEvents(c)); strings.Join(got, ",") != "check.failed" {
		t.Errorf("failed: %v", got)
	}
}
