package storetest

import (
	"encoding/json"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/facevault/facevault"
)

func newWebhook(at time.Time, url string, events ...string) *facevault.Webhook {
	return &facevault.Webhook{ID: facevault.NewID(at), URL: url, Description: "d", Events: events, Enabled: true,
		Secret: "s3cret", CreatedAt: at, UpdatedAt: at}
}

func mustCreateWebhook(t *testing.T, st facevault.Store, s facevault.Scope, w *facevault.Webhook) *facevault.Webhook {
	t.Helper()
	if err := st.CreateWebhook(t.Context(), s, w); err != nil {
		t.Fatalf("CreateWebhook: %v", err)
	}
	return w
}

// deliveriesOf lists every delivery of a webhook, newest first.
func deliveriesOf(t *testing.T, st facevault.Store, s facevault.Scope, hook string) []*facevault.Delivery {
	t.Helper()
	ds, _, err := st.Deliveries(t.Context(), s, hook, facevault.ListOptions{Page: all})
	if err != nil {
		t.Fatalf("Deliveries: %v", err)
	}
	return ds
}

func testWebhooks(t *testing.T, st facevault.Store) {
	ctx := t.Context()
	sc := mustScopes(t, st)
	var hooks []*facevault.Webhook
	for i := range 5 {
		hooks = append(hooks, mustCreateWebhook(t, st, sc.a, newWebhook(t0.Add(time.Duration(i)*time.Second), "https://h.example/", "*")))
	}
	got, err := st.Webhook(ctx, sc.a, hooks[0].ID)
	if err != nil || got.URL != "https://h.example/" || got.Secret != "s3cret" || !got.Enabled || got.Description != "d" ||
		!slices.Equal(got.Events, []string{"*"}) || !got.CreatedAt.Equal(t0) || got.Scope != sc.a {
		t.Errorf("Webhook = %+v, %v", got, err)
	}
	for _, s := range []facevault.Scope{sc.aLive, sc.b} {
		_, err := st.Webhook(ctx, s, hooks[0].ID)
		wantNotFound(t, "Webhook of another scope", err)
		_, err = st.UpdateWebhook(ctx, s, hooks[0].ID, func(*facevault.Webhook) error { return nil })
		wantNotFound(t, "UpdateWebhook of another scope", err)
		wantNotFound(t, "DeleteWebhook of another scope", st.DeleteWebhook(ctx, s, hooks[0].ID))
	}
	// Newest first, in chunks.
	page, total, err := st.Webhooks(ctx, sc.a, facevault.ListOptions{Page: facevault.Page{Page: 1, PageSize: 3}, Limit: 2})
	if err != nil || total != 5 || len(page) != 2 || page[0].ID != hooks[4].ID || page[1].ID != hooks[3].ID {
		t.Fatalf("Webhooks first chunk = %d items, total %d, %v", len(page), total, err)
	}
	next, total, err := st.Webhooks(ctx, sc.a, facevault.ListOptions{Page: facevault.Page{Page: 1, PageSize: 3}, Limit: 1,
		After: &facevault.Cursor{CreatedAt: page[1].CreatedAt, ID: page[1].ID}})
	if err != nil || total != -1 || len(next) != 1 || next[0].ID != hooks[2].ID {
		t.Errorf("Webhooks next chunk = %v, total %d, %v", next, total, err)
	}
	if other, total, _ := st.Webhooks(ctx, sc.b, facevault.ListOptions{Page: all}); total != 0 || len(other) != 0 {
		t.Errorf("another account lists %d webhooks", total)
	}
	// Update: an error from fn changes nothing.
	boom := errors.New("boom")
	if _, err := st.UpdateWebhook(ctx, sc.a, hooks[0].ID, func(w *facevault.Webhook) error { w.URL = "x"; return boom }); err != boom {
		t.Errorf("UpdateWebhook with a failing fn = %v", err)
	}
	u, err := st.UpdateWebhook(ctx, sc.a, hooks[0].ID, func(w *facevault.Webhook) error {
		w.Events, w.Enabled, w.DisabledReason, w.UpdatedAt = []string{"client.created"}, false, "why", t0.Add(time.Hour)
		return nil
	})
	if err != nil || u.Enabled || !slices.Equal(u.Events, []string{"client.created"}) {
		t.Errorf("UpdateWebhook = %+v, %v", u, err)
	}
	got, _ = st.Webhook(ctx, sc.a, hooks[0].ID)
	if got.Enabled || got.DisabledReason != "why" || !got.UpdatedAt.Equal(t0.Add(time.Hour)) || got.URL != "https://h.example/" {
		t.Errorf("after update: %+v", got)
	}
	if err := st.DeleteWebhook(ctx, sc.a, hooks[0].ID); err != nil {
		t.Fatalf("DeleteWebhook: %v", err)
	}
	_, err = st.Webhook(ctx, sc.a, hooks[0].ID)
	wantNotFound(t, "deleted webhook", err)
	wantNotFound(t, "DeleteWebhook again", st.DeleteWebhook(ctx, sc.a, hooks[0].ID))
}

// testWebhookOutbox: the changes write their events in their own
// transaction, one delivery per enabled webhook of the scope that
// subscribes; senders claim deliveries under a lease.
func testWebhookOutbox(t *testing.T, st facevault.Store) {
	ctx := t.Context()
	sc := mustScopes(t, st)
	all := mustCreateWebhook(t, st, sc.a, newWebhook(t0, "https://all.example/", "*"))
	photos := mustCreateWebhook(t, st, sc.a, newWebhook(t0, "https://photos.example/", "livePhoto.created", "livePhoto.deleted"))
	off := newWebhook(t0, "https://off.example/", "*")
	off.Enabled = false
	mustCreateWebhook(t, st, sc.a, off)
	other := mustCreateWebhook(t, st, sc.b, newWebhook(t0, "https://b.example/", "*"))

	c := mustCreateClient(t, st, sc.a, newPerson(t0, "Ada", "Lovelace"))
	if _, err := st.UpdateClient(ctx, sc.a, c.ID, func(c *facevault.Client) error { c.UpdatedAt = t0.Add(time.Second); return nil }); err != nil {
		t.Fatal(err)
	}
	// A change that rolls back writes nothing.
	if _, err := st.UpdateClient(ctx, sc.a, c.ID, func(c *facevault.Client) error { return errors.New("no") }); err == nil {
		t.Fatal("UpdateClient with a failing fn succeeded")
	}
	p := mustCreatePhoto(t, st, sc.a, newPhoto(t0.Add(2*time.Second), c.ID))
	if _, err := st.RedactLivePhoto(ctx, sc.a, p.ID, t0.Add(3*time.Second)); err != nil {
		t.Fatal(err)
	}
	if _, err := st.RedactLivePhoto(ctx, sc.a, p.ID, t0.Add(4*time.Second)); err != nil { // already redacted: no event
		t.Fatal(err)
	}
	if _, err := st.DeleteLivePhoto(ctx, sc.a, p.ID, t0.Add(5*time.Second)); err != nil {
		t.Fatal(err)
	}
	if err := st.DeleteClient(ctx, sc.a, c.ID, t0.Add(6*time.Second)); err != nil {
		t.Fatal(err)
	}

	var types []string
	ds := deliveriesOf(t, st, sc.a, all.ID)
	for _, d := range slices.Backward(ds) {
		types = append(types, d.EventType)
		if d.Status != facevault.DeliveryPending || d.Attempts != 0 || d.WebhookID != all.ID || d.Scope != sc.a {
			t.Errorf("new delivery %+v", d)
		}
	}
	want := []string{"client.created", "client.updated", "livePhoto.created", "livePhoto.redacted", "livePhoto.deleted", "client.deleted"}
	if !slices.Equal(types, want) {
		t.Errorf("deliveries of the * webhook: %v, want %v", types, want)
	}
	if got := deliveriesOf(t, st, sc.a, photos.ID); len(got) != 2 {
		t.Errorf("the photo webhook has %d deliveries, want 2", len(got))
	}
	if got := deliveriesOf(t, st, sc.a, off.ID); len(got) != 0 {
		t.Errorf("a disabled webhook has %d deliveries", len(got))
	}
	if got := deliveriesOf(t, st, sc.b, other.ID); len(got) != 0 {
		t.Errorf("another account's webhook has %d deliveries", len(got))
	}

	// Claims: due ones, oldest first, each by one holder at a time.
	now := t0.Add(time.Minute)
	claimed, err := st.ClaimDeliveries(ctx, "a", now, time.Minute, 3)
	if err != nil || len(claimed) != 3 {
		t.Fatalf("ClaimDeliveries = %d, %v", len(claimed), err)
	}
	first := claimed[0]
	var body struct {
		ID, Type, ResourceType string
		Payload                map[string]string
	}
	if err := json.Unmarshal(first.Body, &body); err != nil || body.ID != first.EventID || body.Type != first.EventType ||
		first.URL == "" || first.Secret != "s3cret" || first.Attempts != 1 {
		t.Errorf("claimed %+v (body %s): %v", first, first.Body, err)
	}
	if body.Type == "client.created" && body.Payload["id"] != c.ID {
		t.Errorf("event payload %v", body.Payload)
	}
	rest, err := st.ClaimDeliveries(ctx, "b", now, time.Minute, 100)
	if err != nil || len(rest) != 8-3 {
		t.Fatalf("second holder claimed %d, %v; want the 5 others", len(rest), err)
	}
	if more, _ := st.ClaimDeliveries(ctx, "c", now.Add(59*time.Second), time.Minute, 100); len(more) != 0 {
		t.Errorf("claimed %d under unexpired leases", len(more))
	}
	// Outcomes, by the holder only.
	r := facevault.DeliveryResult{At: now, Succeeded: true, Status: 200}
	wantNotFound(t, "FinishDelivery by another holder", st.FinishDelivery(ctx, first, "b", r))
	if err := st.FinishDelivery(ctx, first, "a", r); err != nil {
		t.Fatalf("FinishDelivery: %v", err)
	}
	wantNotFound(t, "FinishDelivery twice", st.FinishDelivery(ctx, first, "a", r))
	retry := facevault.DeliveryResult{At: now, Status: 500, Error: "answered 500", Next: now.Add(time.Minute)}
	if err := st.FinishDelivery(ctx, claimed[1], "a", retry); err != nil {
		t.Fatal(err)
	}
	// A lease that expired: another holder takes it, an attempt more.
	again, err := st.ClaimDeliveries(ctx, "c", now.Add(time.Minute), time.Minute, 100)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, d := range again {
		ids = append(ids, d.ID)
		if d.ID == claimed[2].ID && d.Attempts != 2 {
			t.Errorf("re-claimed delivery has %d attempts, want 2", d.Attempts)
		}
	}
	if !slices.Contains(ids, claimed[1].ID) || !slices.Contains(ids, claimed[2].ID) || slices.Contains(ids, first.ID) || len(again) != 7 {
		t.Errorf("claimed after the leases: %v", ids)
	}
	for _, d := range again {
		if d.ID == claimed[1].ID {
			final := facevault.DeliveryResult{At: now.Add(time.Minute), Status: 500, Error: "answered 500", DisabledReason: "gave up"}
			if err := st.FinishDelivery(ctx, d, "c", final); err != nil {
				t.Fatal(err)
			}
		}
	}
	hook, _ := st.Webhook(ctx, sc.a, claimed[1].WebhookID)
	if hook.Enabled || hook.DisabledReason != "gave up" {
		t.Errorf("webhook after a delivery failed for good: %+v", hook)
	}
	for _, d := range deliveriesOf(t, st, sc.a, hook.ID) {
		switch {
		case d.ID == first.ID:
			if d.Status != facevault.DeliverySucceeded || d.LastStatus != 200 {
				t.Errorf("succeeded delivery %+v", d)
			}
		case d.Status != facevault.DeliveryFailed:
			t.Errorf("delivery of a disabled webhook %+v", d)
		}
	}
}

// testWebhookClaimsConcurrent: holders claiming at once never take the
// same delivery.
func testWebhookClaimsConcurrent(t *testing.T, st facevault.Store) {
	ctx := t.Context()
	sc := mustScopes(t, st)
	mustCreateWebhook(t, st, sc.a, newWebhook(t0, "https://all.example/", "client.created"))
	const n = 40
	for i := range n {
		mustCreateClient(t, st, sc.a, newPerson(t0.Add(time.Duration(i)*time.Millisecond), "A", "B"))
	}
	var mu sync.Mutex
	seen := map[string]int{}
	var wg sync.WaitGroup
	for h := range 4 {
		wg.Go(func() {
			for {
				ds, err := st.ClaimDeliveries(ctx, string(rune('a'+h)), t0.Add(time.Minute), time.Minute, 3)
				if err != nil {
					t.Errorf("ClaimDeliveries: %v", err)
					return
				}
				if len(ds) == 0 {
					return
				}
				mu.Lock()
				for _, d := range ds {
					seen[d.ID]++
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if len(seen) != n {
		t.Errorf("%d deliveries claimed, want %d", len(seen), n)
	}
	for id, k := range seen {
		if k != 1 {
			t.Errorf("delivery %s claimed %d times", id, k)
		}
	}
}

// testWebhookPrune: deliveries that ended before a time go, with the
// events no other delivery needs; pending ones stay.
func testWebhookPrune(t *testing.T, st facevault.Store) {
	ctx := t.Context()
	sc := mustScopes(t, st)
	one := mustCreateWebhook(t, st, sc.a, newWebhook(t0, "https://one.example/", "client.created"))
	two := mustCreateWebhook(t, st, sc.a, newWebhook(t0, "https://two.example/", "client.created"))
	for i := range 3 {
		mustCreateClient(t, st, sc.a, newPerson(t0.Add(time.Duration(i)*time.Second), "A", "B"))
	}
	now := t0.Add(time.Minute)
	ds, err := st.ClaimDeliveries(ctx, "h", now, time.Minute, 100)
	if err != nil || len(ds) != 6 {
		t.Fatalf("ClaimDeliveries = %d, %v", len(ds), err)
	}
	for _, d := range ds {
		r := facevault.DeliveryResult{At: now, Succeeded: true, Status: 200}
		switch {
		case d.WebhookID == two.ID && d.EventType == "client.created" && d.CreatedAt.Equal(t0):
			r = facevault.DeliveryResult{At: now, Status: 500, Error: "answered 500", Next: now.Add(time.Hour)} // still pending
		case d.WebhookID == two.ID:
			r.At = now.Add(2 * time.Hour) // ended later
		}
		if err := st.FinishDelivery(ctx, d, "h", r); err != nil {
			t.Fatal(err)
		}
	}
	n, err := st.PruneDeliveries(ctx, now.Add(time.Hour), 2)
	if err != nil || n != 2 {
		t.Fatalf("PruneDeliveries (batch of 2) = %d, %v", n, err)
	}
	if n, err = st.PruneDeliveries(ctx, now.Add(time.Hour), 100); err != nil || n != 1 {
		t.Fatalf("PruneDeliveries again = %d, %v; want the third of the first webhook", n, err)
	}
	if got := deliveriesOf(t, st, sc.a, one.ID); len(got) != 0 {
		t.Errorf("the first webhook keeps %d deliveries", len(got))
	}
	left := deliveriesOf(t, st, sc.a, two.ID)
	if len(left) != 3 {
		t.Fatalf("the second webhook keeps %d deliveries, want 3 (one pending, two ended later)", len(left))
	}
	// The events the second webhook's deliveries need are still there.
	again, err := st.ClaimDeliveries(ctx, "h", now.Add(time.Hour), time.Minute, 100)
	if err != nil || len(again) != 1 || len(again[0].Body) == 0 {
		t.Errorf("the pending delivery after a prune: %v, %v", again, err)
	}
	if n, err := st.PruneDeliveries(ctx, now.Add(3*time.Hour), 100); err != nil || n != 2 {
		t.Errorf("PruneDeliveries later = %d, %v; want the two that ended", n, err)
	}
}
