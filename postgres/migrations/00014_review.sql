-- The review console. live_photos keeps, in the clear, what the review
-- queue filters on: the liveness check's outcome and the reason codes of
-- its analyses that say attention (space-separated, with a space before
-- and after: facevault.ReasonsColumn), never a figure or a face position;
-- both are emptied when the photo is redacted. Photos and checks keep a
-- reviewer's mark (when, who, a note), which goes with their rows. Photos
-- stored before this migration with their check in the clear get their
-- outcome and reasons here; those whose check is sealed are not in the
-- queue. audit_log records the console user who acted, '' for API
-- requests and system work.

-- +goose Up
ALTER TABLE live_photos
	ADD COLUMN liveness_outcome text NOT NULL DEFAULT '',
	ADD COLUMN liveness_reasons text NOT NULL DEFAULT '',
	ADD COLUMN reviewed_at timestamptz,
	ADD COLUMN reviewer text NOT NULL DEFAULT '',
	ADD COLUMN review_note text NOT NULL DEFAULT '';

UPDATE live_photos SET
	liveness_outcome = coalesce(liveness_check->>'outcome', ''),
	liveness_reasons = CASE WHEN liveness_check->>'outcome' = 'attention' THEN ' ' ||
		CASE WHEN liveness_check #>> '{breakdown,integrityAnalysis,faceDetection}' = 'attention' THEN 'faceDetection ' ELSE '' END ||
		CASE WHEN liveness_check #>> '{breakdown,qualityAnalysis,faceSize}' = 'attention' THEN 'faceSize ' ELSE '' END ||
		CASE WHEN liveness_check #>> '{breakdown,qualityAnalysis,faceOrientation}' = 'attention' THEN 'faceOrientation ' ELSE '' END ||
		CASE WHEN liveness_check #>> '{breakdown,qualityAnalysis,sharpness}' = 'attention' THEN 'sharpness ' ELSE '' END ||
		CASE WHEN liveness_check #>> '{breakdown,qualityAnalysis,exposure}' = 'attention' THEN 'exposure ' ELSE '' END ||
		CASE WHEN liveness_check #>> '{breakdown,authenticityAnalysis,spoofedImageAnalysis}' = 'attention' THEN 'spoofedImageAnalysis ' ELSE '' END ||
		CASE WHEN liveness_check #>> '{breakdown,authenticityAnalysis,livenessCheck}' = 'attention' THEN 'livenessCheck ' ELSE '' END
	ELSE '' END
WHERE liveness_check IS NOT NULL AND NOT liveness_check ? 'sealed' AND redacted_at IS NULL;
UPDATE live_photos SET liveness_reasons = '' WHERE liveness_reasons = ' ';

-- The queue, newest first within an outcome.
CREATE INDEX live_photos_review ON live_photos (account_id, mode, liveness_outcome, created_at DESC, id DESC)
	WHERE redacted_at IS NULL;

ALTER TABLE checks
	ADD COLUMN reviewed_at timestamptz,
	ADD COLUMN reviewer text NOT NULL DEFAULT '',
	ADD COLUMN review_note text NOT NULL DEFAULT '';

ALTER TABLE audit_log ADD COLUMN console_user text NOT NULL DEFAULT '';

-- +goose Down
ALTER TABLE audit_log DROP COLUMN console_user;
ALTER TABLE checks DROP COLUMN review_note, DROP COLUMN reviewer, DROP COLUMN reviewed_at;
DROP INDEX live_photos_review;
ALTER TABLE live_photos DROP COLUMN review_note, DROP COLUMN reviewer, DROP COLUMN reviewed_at,
	DROP COLUMN liveness_reasons, DROP COLUMN liveness_outcome;
