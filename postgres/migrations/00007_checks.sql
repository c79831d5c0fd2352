-- Checks on live photos, and their durable queue: a pending check is a row
-- that runners claim with a lease (lease_holder until lease_until), taken
-- with FOR UPDATE SKIP LOCKED so that nodes claiming at once take different
-- checks; a claimed check whose runner died is claimed again once its
-- lease has expired. Deleting a client deletes its checks; a live photo
-- that a check uses cannot be deleted. validation is a reviewer's
-- confirmation of a complete check's outcome (JSON).

-- +goose Up
CREATE TABLE checks (
	id            text COLLATE "C" NOT NULL PRIMARY KEY,
	account_id    text COLLATE "C" NOT NULL,
	mode          text COLLATE "C" NOT NULL,
	client_id     text COLLATE "C" NOT NULL,
	type          text             NOT NULL,
	live_photo_id text COLLATE "C" NOT NULL,
	status        text             NOT NULL CHECK (status IN ('pending', 'complete', 'failed')),
	result        jsonb,
	validation    jsonb,
	lease_holder  text,
	lease_until   timestamptz,
	created_at    timestamptz      NOT NULL,
	updated_at    timestamptz      NOT NULL,
	FOREIGN KEY (account_id, mode, client_id) REFERENCES clients (account_id, mode, id)
);
CREATE INDEX checks_scope ON checks (account_id, mode, created_at DESC, id DESC);
CREATE INDEX checks_photo ON checks (live_photo_id);
CREATE INDEX checks_client ON checks (account_id, mode, client_id);
CREATE INDEX checks_pending ON checks (created_at) WHERE status = 'pending';

-- +goose Down
DROP TABLE checks;
