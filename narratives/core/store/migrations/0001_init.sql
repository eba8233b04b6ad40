-- 0001: the core tables of the tracker and the prevalence views analysts query.
CREATE SEQUENCE seq_documents START 1;
CREATE SEQUENCE seq_passages START 1;
CREATE SEQUENCE seq_runs START 1;

CREATE TABLE outlets (
    id        VARCHAR PRIMARY KEY,          -- slug of the name
    name      VARCHAR NOT NULL,
    kind      VARCHAR,                      -- state-media, independent, ukrainian, international, telegram
    lang      VARCHAR,                      -- the outlet's usual language, if known
    homepage  VARCHAR
);

CREATE TABLE documents (
    id            BIGINT PRIMARY KEY DEFAULT nextval('seq_documents'),
    source_id     VARCHAR NOT NULL,         -- the source that brought it (a sources-file id, a corpus file)
    external_id   VARCHAR NOT NULL,         -- the source's own id for it, else its URL
    outlet_id     VARCHAR,
    url           VARCHAR,
    lang          VARCHAR,                  -- majority language of its passages (en, ru, uk, other)
    published_at  TIMESTAMP,
    title         VARCHAR,
    text          VARCHAR NOT NULL,
    content_hash  VARCHAR NOT NULL,         -- hash of the normalised text
    gold_labels   VARCHAR[],                -- labels shipped with a corpus, for checks; the matcher never reads them
    meta          JSON,
    run_id        BIGINT,
    ingested_at   TIMESTAMP DEFAULT current_timestamp,
    UNIQUE (source_id, external_id)
);

CREATE TABLE passages (
    id               BIGINT PRIMARY KEY DEFAULT nextval('seq_passages'),  -- = FAISS id
    document_id      BIGINT NOT NULL,
    seq              INTEGER NOT NULL,
    start_char       INTEGER NOT NULL,      -- offsets into documents.text
    end_char         INTEGER NOT NULL,
    text             VARCHAR NOT NULL,
    lang             VARCHAR NOT NULL,
    lang_confidence  DOUBLE,
    text_hash        VARCHAR NOT NULL,      -- key into embeddings (role 'passage')
    UNIQUE (document_id, seq)
);
CREATE INDEX passages_hash ON passages (text_hash);

CREATE TABLE embeddings (
    model_id   VARCHAR NOT NULL,
    text_hash  VARCHAR NOT NULL,
    dim        INTEGER NOT NULL,
    vector     FLOAT[] NOT NULL,
    created_at TIMESTAMP DEFAULT current_timestamp,
    PRIMARY KEY (model_id, text_hash)
);

CREATE TABLE narrative_sets (
    set_id       VARCHAR NOT NULL,
    version      VARCHAR NOT NULL,          -- hash of the set's content
    title        VARCHAR,
    event_date   DATE,
    source_path  VARCHAR,
    definition   JSON NOT NULL,
    loaded_at    TIMESTAMP DEFAULT current_timestamp,
    PRIMARY KEY (set_id, version)
);

CREATE TABLE narratives (
    set_id        VARCHAR NOT NULL,
    set_version   VARCHAR NOT NULL,
    narrative_id  VARCHAR NOT NULL,
    label         VARCHAR NOT NULL,
    description   VARCHAR,
    threshold     DOUBLE NOT NULL,
    version       VARCHAR NOT NULL,         -- hash of this narrative's own content
    PRIMARY KEY (set_id, set_version, narrative_id)
);

CREATE TABLE exemplars (
    set_id        VARCHAR NOT NULL,
    set_version   VARCHAR NOT NULL,
    narrative_id  VARCHAR NOT NULL,
    lang          VARCHAR NOT NULL,
    seq           INTEGER NOT NULL,
    text          VARCHAR NOT NULL,
    PRIMARY KEY (set_id, set_version, narrative_id, lang, seq)
);

-- One row per passage and candidate narrative (the top few by score), with the evidence.
CREATE TABLE matches (
    passage_id     BIGINT NOT NULL,
    set_id         VARCHAR NOT NULL,
    set_version    VARCHAR NOT NULL,
    model_id       VARCHAR NOT NULL,
    narrative_id   VARCHAR NOT NULL,
    rank           INTEGER NOT NULL,        -- 1 = best-scoring narrative for the passage
    score          DOUBLE NOT NULL,
    threshold      DOUBLE NOT NULL,
    exemplar_text  VARCHAR,                 -- nearest exemplar (or the description)
    exemplar_lang  VARCHAR,
    margin         DOUBLE,                  -- score minus the runner-up narrative's score
    decision       VARCHAR NOT NULL,        -- confirmed | suggested | rejected
    run_id         BIGINT,
    PRIMARY KEY (passage_id, set_id, set_version, model_id, narrative_id)
);

-- Which (set version, model) is live for each set: prevalence views read only these matches.
CREATE TABLE matchings (
    set_id       VARCHAR PRIMARY KEY,
    set_version  VARCHAR NOT NULL,
    model_id     VARCHAR NOT NULL,
    run_id       BIGINT,
    updated_at   TIMESTAMP DEFAULT current_timestamp
);

CREATE TABLE runs (
    id           BIGINT PRIMARY KEY DEFAULT nextval('seq_runs'),
    kind         VARCHAR NOT NULL,          -- pipeline, ingest, embed, match, eval, ...
    status       VARCHAR NOT NULL,          -- running | ok | failed
    started_at   TIMESTAMP DEFAULT current_timestamp,
    finished_at  TIMESTAMP,
    components   JSON,                      -- registered names of the parts used
    parameters   JSON,                      -- every setting that changes a number
    model_id     VARCHAR,
    set_id       VARCHAR,
    set_version  VARCHAR,
    counts       JSON,
    timings      JSON,
    error        VARCHAR
);

-- Every passage with the facts prevalence is cut by: the denominators.
CREATE VIEW passage_facts AS
SELECT p.id AS passage_id, p.document_id, p.lang, d.outlet_id, o.name AS outlet, o.kind AS outlet_kind,
       CAST(d.published_at AS DATE) AS day
FROM passages p
JOIN documents d ON d.id = p.document_id
LEFT JOIN outlets o ON o.id = d.outlet_id
WHERE d.published_at IS NOT NULL;

-- Matches of the live set version and model, with their passage, document and outlet.
CREATE VIEW live_matches AS
SELECT m.*, f.document_id, f.lang, f.outlet_id, f.outlet, f.outlet_kind, f.day,
       p.text AS passage_text, d.url, d.title, d.published_at
FROM matches m
JOIN matchings l ON l.set_id = m.set_id AND l.set_version = m.set_version AND l.model_id = m.model_id
JOIN passage_facts f ON f.passage_id = m.passage_id
JOIN passages p ON p.id = m.passage_id
JOIN documents d ON d.id = f.document_id;

CREATE VIEW coverage_daily AS
SELECT day, lang, outlet_id, outlet, outlet_kind,
       count(*) AS total_passages, count(DISTINCT document_id) AS total_documents
FROM passage_facts GROUP BY ALL;

-- Zero-filled: one row per day x language x outlet that has coverage, x live narrative.
CREATE VIEW prevalence_daily AS
WITH live_narratives AS (
    SELECT n.set_id, n.narrative_id FROM narratives n
    JOIN matchings l ON l.set_id = n.set_id AND l.set_version = n.set_version
), hits AS (
    SELECT day, lang, outlet_id, set_id, narrative_id,
           count(DISTINCT passage_id) AS matched_passages,
           count(DISTINCT document_id) AS matched_documents
    FROM live_matches WHERE decision = 'confirmed' GROUP BY ALL
)
SELECT c.day, n.set_id, n.narrative_id, c.lang, c.outlet_id, c.outlet, c.outlet_kind,
       coalesce(h.matched_passages, 0) AS matched_passages,
       coalesce(h.matched_documents, 0) AS matched_documents,
       c.total_passages, c.total_documents,
       coalesce(h.matched_passages, 0) / c.total_passages AS passage_share,
       coalesce(h.matched_documents, 0) / c.total_documents AS document_share
FROM coverage_daily c
CROSS JOIN live_narratives n
LEFT JOIN hits h ON h.day = c.day AND h.lang = c.lang AND h.outlet_id IS NOT DISTINCT FROM c.outlet_id
     AND h.set_id = n.set_id AND h.narrative_id = n.narrative_id;

CREATE VIEW prevalence_weekly AS
SELECT CAST(date_trunc('week', day) AS DATE) AS week, set_id, narrative_id, lang, outlet_id, outlet, outlet_kind,
       sum(matched_passages) AS matched_passages, sum(matched_documents) AS matched_documents,
       sum(total_passages) AS total_passages, sum(total_documents) AS total_documents,
       sum(matched_passages) / sum(total_passages) AS passage_share,
       sum(matched_documents) / sum(total_documents) AS document_share
FROM prevalence_daily GROUP BY ALL;

-- A bad item is recorded here and skipped; the rest of the run goes on.
CREATE SEQUENCE seq_ingest_errors START 1;
CREATE TABLE ingest_errors (
    id          BIGINT PRIMARY KEY DEFAULT nextval('seq_ingest_errors'),
    run_id      BIGINT,
    source_id   VARCHAR NOT NULL,
    item        VARCHAR,                    -- line number, URL or message id of the bad item
    reason      VARCHAR NOT NULL,
    created_at  TIMESTAMP DEFAULT current_timestamp
);

-- Copies of a document published by other outlets (exact or near duplicates). A reprint keeps
-- its documents row (its outlet and date count) but its passages are not stored or embedded again:
-- the edge is how amplification is measured.
CREATE TABLE reprints (
    original_id    BIGINT NOT NULL,        -- documents.id of the earliest copy
    reprint_id     BIGINT NOT NULL,        -- documents.id of the later copy
    kind           VARCHAR NOT NULL,       -- exact | near
    similarity     DOUBLE,                 -- e.g. estimated Jaccard of shingles for near copies
    delay_seconds  DOUBLE,                 -- reprint published_at minus original published_at
    PRIMARY KEY (original_id, reprint_id)
);

-- Telegram forwards (and similar re-posts) whose origin is named by the source.
CREATE TABLE forwards (
    document_id        BIGINT PRIMARY KEY, -- the forwarding post
    origin_name        VARCHAR NOT NULL,   -- the channel or outlet it was forwarded from
    origin_outlet_id   VARCHAR,            -- outlets.id when the origin is a tracked outlet
    origin_message_id  VARCHAR,
    origin_date        TIMESTAMP,
    views              BIGINT
);
