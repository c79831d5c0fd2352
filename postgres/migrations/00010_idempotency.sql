-- Requests sent with an Idempotency-Key header, one row per (account, mode,
-- key): in progress (status 0) while one execution holds it, under a lease
-- (token until lease_until), then done with the answer to replay (status,
-- body). fingerprint identifies the request (method, path, SHA-256 of the
-- body). client_id and resource_id name the client and the resource the
-- answer shows: deleting either deletes the row. Rows are removed 24 hours
-- after created_at. Nodes claim a key with one INSERT … ON CONFLICT: the
-- primary key lets one of them win.

-- +goose Up
CREATE TABLE idempotency_requests (
	account_id  text COLLATE "C" NOT NULL,
	mode        text COLLATE "C" NOT NULL,
	key         text COLLATE "C" NOT NULL,
	token       text COLLATE "C" NOT NULL,
	fingerprint text             NOT NULL DEFAULT '',
	status      integer          NOT NULL DEFAULT 0,
	body        bytea,
	client_id   text COLLATE "C" NOT NULL DEFAULT '',
	resource_id text COLLATE "C" NOT NULL DEFAULT '',
	created_at  timestamptz      NOT NULL,
	lease_until timestamptz      NOT NULL,
	PRIMARY KEY (account_id, mode, key)
);
CREATE INDEX idempotency_requests_created ON idempotency_requests (created_at);
CREATE INDEX idempotency_requests_client ON idempotency_requests (account_id, mode, client_id);
CREATE INDEX idempotency_requests_resource ON idempotency_requests (resource_id);

-- +goose Down
DROP TABLE idempotency_requests;
