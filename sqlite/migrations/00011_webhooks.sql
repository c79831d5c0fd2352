-- Webhooks, the event outbox and deliveries. An event is written by the
-- transaction that makes its change, with one pending delivery per enabled
-- webhook of its account and mode that subscribes to its type; events no
-- webhook hears of are not kept. Senders claim due deliveries with a lease
-- (lease_holder until lease_until, epoch milliseconds), as runners claim
-- checks. Deliveries that ended are pruned after a while, with the events
-- they leave without a delivery. events is the JSON array of the webhook's event types; secret
-- signs its deliveries.

-- +goose Up
CREATE TABLE webhooks (
	id              TEXT    NOT NULL PRIMARY KEY,
	account_id      TEXT    NOT NULL,
	mode            TEXT    NOT NULL,
	url             TEXT    NOT NULL,
	description     TEXT    NOT NULL DEFAULT '',
	events          TEXT    NOT NULL,
	enabled         INTEGER NOT NULL,
	secret          TEXT    NOT NULL,
	disabled_reason TEXT    NOT NULL DEFAULT '',
	created_at      INTEGER NOT NULL,
	updated_at      INTEGER NOT NULL
);
CREATE INDEX webhooks_scope ON webhooks (account_id, mode, created_at DESC, id DESC);

CREATE TABLE webhook_events (
	id            TEXT    NOT NULL PRIMARY KEY,
	account_id    TEXT    NOT NULL,
	mode          TEXT    NOT NULL,
	type          TEXT    NOT NULL,
	resource_type TEXT    NOT NULL,
	body          BLOB    NOT NULL,
	created_at    INTEGER NOT NULL
);

CREATE TABLE webhook_deliveries (
	id              TEXT    NOT NULL PRIMARY KEY,
	account_id      TEXT    NOT NULL,
	mode            TEXT    NOT NULL,
	webhook_id      TEXT    NOT NULL REFERENCES webhooks (id) ON DELETE CASCADE,
	event_id        TEXT    NOT NULL REFERENCES webhook_events (id),
	event_type      TEXT    NOT NULL,
	status          TEXT    NOT NULL CHECK (status IN ('pending', 'succeeded', 'failed')),
	attempts        INTEGER NOT NULL DEFAULT 0,
	last_status     INTEGER NOT NULL DEFAULT 0,
	last_error      TEXT    NOT NULL DEFAULT '',
	next_attempt_at INTEGER NOT NULL,
	lease_holder    TEXT,
	lease_until     INTEGER,
	created_at      INTEGER NOT NULL,
	updated_at      INTEGER NOT NULL
);
CREATE INDEX webhook_deliveries_webhook ON webhook_deliveries (webhook_id, created_at DESC, id DESC);
CREATE INDEX webhook_deliveries_event ON webhook_deliveries (event_id);
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (next_attempt_at) WHERE status = 'pending';
CREATE INDEX webhook_deliveries_done ON webhook_deliveries (updated_at) WHERE status <> 'pending';

-- +goose Down
DROP TABLE webhook_deliveries;
DROP TABLE webhook_events;
DROP TABLE webhooks;
