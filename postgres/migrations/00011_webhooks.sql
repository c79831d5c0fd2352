-- Webhooks, the event outbox and deliveries. An event is written by the
-- transaction that makes its change, with one pending delivery per enabled
-- webhook of its account and mode that subscribes to its type; events no
-- webhook hears of are not kept. Senders claim due deliveries with a lease
-- (lease_holder until lease_until), taken with FOR UPDATE SKIP LOCKED so
-- that nodes claiming at once take different deliveries. Deliveries that
-- ended are pruned after a while, with the events they leave without a
-- delivery. events is the
-- JSON array of the webhook's event types; secret signs its deliveries.

-- +goose Up
CREATE TABLE webhooks (
	id              text COLLATE "C" NOT NULL PRIMARY KEY,
	account_id      text COLLATE "C" NOT NULL,
	mode            text COLLATE "C" NOT NULL,
	url             text             NOT NULL,
	description     text             NOT NULL DEFAULT '',
	events          jsonb            NOT NULL,
	enabled         boolean          NOT NULL,
	secret          text             NOT NULL,
	disabled_reason text             NOT NULL DEFAULT '',
	created_at      timestamptz      NOT NULL,
	updated_at      timestamptz      NOT NULL
);
CREATE INDEX webhooks_scope ON webhooks (account_id, mode, created_at DESC, id DESC);

CREATE TABLE webhook_events (
	id            text COLLATE "C" NOT NULL PRIMARY KEY,
	account_id    text COLLATE "C" NOT NULL,
	mode          text COLLATE "C" NOT NULL,
	type          text             NOT NULL,
	resource_type text             NOT NULL,
	body          bytea            NOT NULL,
	created_at    timestamptz      NOT NULL
);

CREATE TABLE webhook_deliveries (
	id              text COLLATE "C" NOT NULL PRIMARY KEY,
	account_id      text COLLATE "C" NOT NULL,
	mode            text COLLATE "C" NOT NULL,
	webhook_id      text COLLATE "C" NOT NULL REFERENCES webhooks (id) ON DELETE CASCADE,
	event_id        text COLLATE "C" NOT NULL REFERENCES webhook_events (id),
	event_type      text             NOT NULL,
	status          text             NOT NULL CHECK (status IN ('pending', 'succeeded', 'failed')),
	attempts        integer          NOT NULL DEFAULT 0,
	last_status     integer          NOT NULL DEFAULT 0,
	last_error      text             NOT NULL DEFAULT '',
	next_attempt_at timestamptz      NOT NULL,
	lease_holder    text,
	lease_until     timestamptz,
	created_at      timestamptz      NOT NULL,
	updated_at      timestamptz      NOT NULL
);
CREATE INDEX webhook_deliveries_webhook ON webhook_deliveries (webhook_id, created_at DESC, id DESC);
CREATE INDEX webhook_deliveries_event ON webhook_deliveries (event_id);
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (next_attempt_at) WHERE status = 'pending';
CREATE INDEX webhook_deliveries_done ON webhook_deliveries (updated_at) WHERE status <> 'pending';

-- +goose Down
DROP TABLE webhook_deliveries;
DROP TABLE webhook_events;
DROP TABLE webhooks;
