-- How many times a check has been claimed: a check whose runs keep failing
-- on an internal error (not on its photo) waits longer before each new
-- attempt, and ends failed after facevault.MaxCheckAttempts.

-- +goose Up
ALTER TABLE checks ADD COLUMN attempts INTEGER NOT NULL DEFAULT 0;

-- +goose Down
ALTER TABLE checks DROP COLUMN attempts;
