-- name: insert_document
-- Save an extracted article; a duplicate trial_job_id or idempotency_key inserts nothing and returns no row.
INSERT INTO bakeoff.documents (
    trial_job_id, idempotency_key, url, final_url, title, author, published, language,
    text, word_count, content_sha256, fetched_bytes
)
VALUES (
    :trial_job_id, :idempotency_key, :url, :final_url, :title, :author, :published, :language,
    :text, :word_count, :content_sha256, :fetched_bytes
)
ON CONFLICT DO NOTHING
RETURNING document_id, url, title, word_count;

-- name: find_saved_document
-- The rows an earlier delivery saved under the same trial_job_id or idempotency_key.
SELECT document_id, url, title, word_count, content_sha256
FROM bakeoff.documents
WHERE trial_job_id = :trial_job_id OR idempotency_key = :idempotency_key
ORDER BY created_at, document_id;

-- name: get_document
-- One saved document by id (for checks and the demo).
SELECT document_id, trial_job_id, idempotency_key, url, final_url, title, author, published, language,
       text, word_count, content_sha256, fetched_bytes, created_at
FROM bakeoff.documents
WHERE document_id = :document_id;

-- name: count_documents_for_job
-- How many documents a trial job has (idempotency checks: must never exceed one).
SELECT count(*) FROM bakeoff.documents WHERE trial_job_id = :trial_job_id;
