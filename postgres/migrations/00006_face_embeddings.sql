-- Face embeddings: computed at upload when the liveness check finds one
-- face, sealed under the photo's data key like its image (NULL when none
-- was computed, and once the photo is redacted), and whether the photo is
-- enrolled: used as one of its client's faces by the checks that compare
-- faces (an upload may opt out; redaction takes it out).

-- +goose Up
ALTER TABLE live_photos ADD COLUMN face_embedding bytea;
ALTER TABLE live_photos ADD COLUMN enrolled boolean NOT NULL DEFAULT true;

-- +goose Down
ALTER TABLE live_photos DROP COLUMN enrolled;
ALTER TABLE live_photos DROP COLUMN face_embedding;
