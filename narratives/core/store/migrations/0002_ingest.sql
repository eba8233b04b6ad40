-- 0002: what each source has seen (incremental ingest), and near-duplicate lookup keys.

-- One row per source of a sources file: conditional-request validators, the ids it has
-- already delivered, and how its last run went.
CREATE TABLE source_state (
    source_id      VARCHAR PRIMARY KEY,
    kind           VARCHAR NOT NULL,
    etag           VARCHAR,                 -- validators for conditional requests (feeds, pages)
    last_modified  VARCHAR,
    seen           VARCHAR[],               -- item ids already delivered (stored, copied or skipped)
    last_run_id    BIGINT,
    last_run_at    TIMESTAMP,
    last_status    VARCHAR,                 -- ok | not-modified | partial | failed
    last_counts    JSON,                    -- new, duplicate, reprint, error of the last run
    last_error     VARCHAR
);

-- MinHash LSH band keys of original documents: equal keys in a band make two documents
-- candidates for a near-duplicate check (narratives.ingest.dedup).
CREATE TABLE minhash_bands (
    band         INTEGER NOT NULL,
    bucket       BIGINT NOT NULL,
    document_id  BIGINT NOT NULL,
    PRIMARY KEY (band, bucket, document_id)
);

-- A reprint has no passages of its own: it carries its original's, under its own outlet and
-- date, so prevalence counts the reprinting outlet's coverage without embedding the text twice.
CREATE OR REPLACE VIEW passage_facts AS
SELECT p.id AS passage_id, d.id AS document_id, p.lang, d.outlet_id, o.name AS outlet,
       o.kind AS outlet_kind, CAST(d.published_at AS DATE) AS day
FROM documents d
LEFT JOIN reprints r ON r.reprint_id = d.id
JOIN passages p ON p.document_id = coalesce(r.original_id, d.id)
LEFT JOIN outlets o ON o.id = d.outlet_id
WHERE d.published_at IS NOT NULL;
