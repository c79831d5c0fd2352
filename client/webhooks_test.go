package client_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/facevault/facevault"
	"github.com/facevault/facevault/client"
)

// TestWebhooks: the webhook calls against a real server, and a receiver
// built with EventHandler that verifies what the service sends: create
// (the secret shown once), get, list, update, a delivered and verified
// client.created event, the deliveries listed, a refused URL, delete.
func TestWebhooks(t *testing.T) {
	for _, b := range backends {
		t.Run(b.Name, func(t *testing.T) {
			e := newEnvOn(t, b)
			ctx := context.Background()
			e.vault.Webhooks.Guard = &facevault.WebhookGuard{Networks: []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}}
			c := e.client(t, "")

			var mu sync.Mutex
			var events []*client.Event
			var secret string
			handler := func(ev *client.Event) error {
				mu.Lock()
				events = append(events, ev)
				mu.Unlock()
				return nil
			}
			// The receiver checks with the secret, known once created.
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				mu.Lock()
				key := secret
				mu.Unlock()
				client.EventHandler(key, handler).ServeHTTP(w, r)
			}))
			defer srv.Close()

			url := srv.URL + "/hook"
			desc := "events of tests"
			hook, err := c.CreateWebhook(ctx, &client.WebhookParams{URL: &url, Description: &desc, Events: &[]string{"client.created"}})
			if err != nil {
				t.Fatal(err)
			}
			if hook.Secret == "" || !hook.Enabled || hook.URL != url || len(hook.Events) != 1 {
				t.Fatalf("created %+v, want it enabled, with its secret", hook)
			}
			mu.Lock()
			secret = hook.Secret
			mu.Unlock()

			got, err := c.GetWebhook(ctx, hook.ID)
			if err != nil || got.Secret != "" || got.ID != hook.ID {
				t.Fatalf("GetWebhook = %+v, %v; want it without its secret", got, err)
			}
			page, err := c.ListWebhooks(ctx, nil)
			if err != nil || page.TotalItems != 1 || page.Items[0].ID != hook.ID {
				t.Fatalf("ListWebhooks = %+v, %v", page, err)
			}
			n := 0
			for w, err := range c.Webhooks(ctx, nil) {
				if err != nil {
					t.Fatal(err)
				}
				n += len(w.ID)
			}
			if n == 0 {
				t.Error("Webhooks yielded nothing")
			}

			newPerson(t, c, "Jane")
			if _, err := e.vault.SendDeliveries(ctx, "test", time.Minute); err != nil {
				t.Fatal(err)
			}
			mu.Lock()
			if len(events) != 1 || events[0].Type != "client.created" || events[0].ResourceType != "client" {
				t.Fatalf("received %+v, want one client.created", events)
			}
			mu.Unlock()
			ds, err := c.ListDeliveries(ctx, hook.ID, nil)
			if err != nil || ds.TotalItems != 1 || ds.Items[0].Status != "succeeded" || ds.Items[0].Attempts != 1 {
				t.Fatalf("deliveries %+v, %v; want one succeeded", ds, err)
			}

			off := false
			upd, err := c.UpdateWebhook(ctx, hook.ID, &client.WebhookParams{Enabled: &off})
			if err != nil || upd.Enabled {
				t.Fatalf("UpdateWebhook = %+v, %v; want it disabled", upd, err)
			}
			bad := "http://10.0.0.1/hook"
			if _, err := c.CreateWebhook(ctx, &client.WebhookParams{URL: &bad, Events: &[]string{"*"}}); !client.IsInvalid(err) {
				t.Errorf("a private http URL: %v, want a 400", err)
			} else if ce := err.(*client.Error); ce.Param != "url" {
				t.Errorf("a private http URL: param %q, want url", ce.Param)
			}
			if err := c.DeleteWebhook(ctx, hook.ID); err != nil {
				t.Fatal(err)
			}
			if _, err := c.GetWebhook(ctx, hook.ID); !client.IsNotFound(err) {
				t.Errorf("GetWebhook after delete: %v, want 404", err)
			}
		})
	}
}
