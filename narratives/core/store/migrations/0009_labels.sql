-- 0009: analysts' labels (the review queue) and what the head was trained with.

-- One row per verdict an analyst gave. Items are named by content, not by row id, so a label
-- survives a re-ingest, another database (export/import) and any set version: a document by
-- its content hash, a passage by its text hash. Nothing ever deletes a row; a later verdict on
-- the same item and narrative supersedes an earlier one when read (labels.queries).
CREATE TABLE labels (
    label_id       VARCHAR PRIMARY KEY,   -- content hash of the verdict: import and sync are idempotent
    set_id         VARCHAR NOT NULL,
    narrative_id   VARCHAR NOT NULL,      -- the narrative the item was served for
    item_kind      VARCHAR NOT NULL,      -- passage | document
    stream         VARCHAR NOT NULL,      -- uncertain (trains the head) | audit (measures error) | imported
    verdict        VARCHAR NOT NULL,      -- asserts | refutes | reports | no | none (none of the set's narratives)
    document_hash  VARCHAR NOT NULL,      -- documents.content_hash
    passage_hash   VARCHAR,               -- passages.text_hash, for passage items
    lang           VARCHAR,
    day            DATE,
    stratum        VARCHAR,               -- audit: counted | not-counted, the tracker's decision when served
    stratum_share  DOUBLE,                -- audit: that stratum's share of the event's documents then
    score          DOUBLE,                -- the tracker's score for the narrative when served
    set_version    VARCHAR,
    model_id       VARCHAR,
    run_id         BIGINT,                -- the run whose results were reviewed
    who            VARCHAR NOT NULL,
    labelled_at    TIMESTAMP NOT NULL,
    stored_at      TIMESTAMP DEFAULT current_timestamp
);

-- How far the labels step has read each file of the label journal (<home>/labels/*.jsonl,
-- append-only): it stores complete lines past this offset, so a file still being written is
-- read again later from where it stopped, and no line is read twice or skipped.
CREATE TABLE label_files (
    file        VARCHAR PRIMARY KEY,      -- the file's name in the journal folder
    bytes_read  BIGINT NOT NULL,          -- bytes stored so far (always the end of a whole line)
    stored_at   TIMESTAMP DEFAULT current_timestamp
);

-- The labelled examples a match was made with (a fingerprint of the labels the head used):
-- when it changes, the match step scores the live set again.
ALTER TABLE matchings ADD COLUMN training VARCHAR;
