-- 0004: discovery (clusters of passages, their members, representatives and key terms), alerts,
-- and confidence intervals on the prevalence shares.

-- Wilson score interval (95%, z = 1.96) for x successes out of n: unlike the normal
-- approximation it stays inside [0, 1] and is sensible for the small counts of one day,
-- one language, one outlet. NULL when there is no denominator.
CREATE OR REPLACE MACRO wilson_lo(x, n) AS CASE WHEN n > 0 AND x = 0 THEN 0.0 WHEN n > 0 THEN greatest(0.0,
    ((x / n) + 1.9208 / n - 1.96 * sqrt((x / n) * (1 - x / n) / n + 0.9604 / (n * n)))
    / (1 + 3.8416 / n)) END;
CREATE OR REPLACE MACRO wilson_hi(x, n) AS CASE WHEN n > 0 AND x = n THEN 1.0 WHEN n > 0 THEN least(1.0,
    ((x / n) + 1.9208 / n + 1.96 * sqrt((x / n) * (1 - x / n) / n + 0.9604 / (n * n)))
    / (1 + 3.8416 / n)) END;

-- Same columns as in 0001, in the same order, with the interval of each share after them.
CREATE OR REPLACE VIEW prevalence_daily AS
WITH live_narratives AS (
    SELECT n.set_id, n.narrative_id FROM narratives n
    JOIN matchings l ON l.set_id = n.set_id AND l.set_version = n.set_version
), hits AS (
    SELECT day, lang, outlet_id, set_id, narrative_id,
           count(DISTINCT passage_id) AS matched_passages,
           count(DISTINCT document_id) AS matched_documents
    FROM live_matches WHERE decision = 'confirmed' GROUP BY ALL
), joined AS (
    SELECT c.day, n.set_id, n.narrative_id, c.lang, c.outlet_id, c.outlet, c.outlet_kind,
           coalesce(h.matched_passages, 0) AS matched_passages,
           coalesce(h.matched_documents, 0) AS matched_documents,
           c.total_passages, c.total_documents
    FROM coverage_daily c
    CROSS JOIN live_narratives n
    LEFT JOIN hits h ON h.day = c.day AND h.lang = c.lang AND h.outlet_id IS NOT DISTINCT FROM c.outlet_id
         AND h.set_id = n.set_id AND h.narrative_id = n.narrative_id
)
SELECT *,
       matched_passages / total_passages AS passage_share,
       matched_documents / total_documents AS document_share,
       wilson_lo(matched_passages, total_passages) AS passage_share_lo,
       wilson_hi(matched_passages, total_passages) AS passage_share_hi,
       wilson_lo(matched_documents, total_documents) AS document_share_lo,
       wilson_hi(matched_documents, total_documents) AS document_share_hi
FROM joined;

CREATE OR REPLACE VIEW prevalence_weekly AS
SELECT *,
       wilson_lo(matched_passages, total_passages) AS passage_share_lo,
       wilson_hi(matched_passages, total_passages) AS passage_share_hi,
       wilson_lo(matched_documents, total_documents) AS document_share_lo,
       wilson_hi(matched_documents, total_documents) AS document_share_hi
FROM (
    SELECT CAST(date_trunc('week', day) AS DATE) AS week, set_id, narrative_id, lang, outlet_id, outlet, outlet_kind,
           sum(matched_passages) AS matched_passages, sum(matched_documents) AS matched_documents,
           sum(total_passages) AS total_passages, sum(total_documents) AS total_documents,
           sum(matched_passages) / sum(total_passages) AS passage_share,
           sum(matched_documents) / sum(total_documents) AS document_share
    FROM prevalence_daily GROUP BY ALL
);

-- One clustering of one window of passages (all of them, or the residual that no seeded
-- narrative claims), with how k was chosen.
CREATE SEQUENCE seq_clusterings START 1;
CREATE TABLE clusterings (
    id            BIGINT PRIMARY KEY DEFAULT nextval('seq_clusterings'),
    run_id        BIGINT,
    model_id      VARCHAR NOT NULL,
    set_id        VARCHAR,                 -- the live set its clusters were compared with
    set_version   VARCHAR,
    scope         VARCHAR NOT NULL,        -- all | residual
    window_start  DATE,
    window_end    DATE,
    passages      INTEGER NOT NULL,
    k             INTEGER NOT NULL,        -- the k chosen
    k_scores      JSON,                    -- {k: silhouette} of every k tried
    parameters    JSON,
    created_at    TIMESTAMP DEFAULT current_timestamp
);

CREATE SEQUENCE seq_clusters START 1;
CREATE TABLE clusters (
    id                  BIGINT PRIMARY KEY DEFAULT nextval('seq_clusters'),
    clustering_id       BIGINT NOT NULL,
    size                INTEGER NOT NULL,  -- passages
    documents           INTEGER NOT NULL,
    coherence           DOUBLE NOT NULL,   -- mean cosine of members to the centroid (centred space)
    nearest_narrative   VARCHAR,           -- seeded narrative nearest the centroid
    nearest_similarity  DOUBLE,            -- cosine of the centroid to its nearest exemplar
    confirmed_share     DOUBLE,            -- members confirmed for that narrative by the matcher
    status              VARCHAR NOT NULL,  -- matches | emerging
    first_day           DATE,
    last_day            DATE
);

CREATE TABLE cluster_members (
    cluster_id  BIGINT NOT NULL,
    passage_id  BIGINT NOT NULL,
    similarity  DOUBLE NOT NULL,           -- cosine to the centroid
    PRIMARY KEY (cluster_id, passage_id)
);

-- The passages nearest the centroid, per language: what an analyst reads, and what promote
-- turns into exemplars.
CREATE TABLE cluster_representatives (
    cluster_id  BIGINT NOT NULL,
    lang        VARCHAR NOT NULL,
    rank        INTEGER NOT NULL,
    passage_id  BIGINT NOT NULL,
    similarity  DOUBLE NOT NULL,
    PRIMARY KEY (cluster_id, lang, rank)
);

-- Class-based TF-IDF terms per language (the cluster's passages in that language as one class).
CREATE TABLE cluster_terms (
    cluster_id  BIGINT NOT NULL,
    lang        VARCHAR NOT NULL,
    rank        INTEGER NOT NULL,
    term        VARCHAR NOT NULL,
    weight      DOUBLE NOT NULL,
    PRIMARY KEY (cluster_id, lang, rank)
);

-- A cluster's size per language and outlet.
CREATE VIEW cluster_sizes AS
SELECT m.cluster_id, f.lang, f.outlet_id, f.outlet, f.outlet_kind,
       count(*) AS passages, count(DISTINCT f.document_id) AS documents
FROM cluster_members m JOIN passage_facts f ON f.passage_id = m.passage_id
GROUP BY ALL;

-- A day whose share rose well above its trailing baseline, with the test that said so.
CREATE SEQUENCE seq_alerts START 1;
CREATE TABLE alerts (
    id             BIGINT PRIMARY KEY DEFAULT nextval('seq_alerts'),
    run_id         BIGINT,
    subject_kind   VARCHAR NOT NULL,       -- narrative | cluster
    subject_id     VARCHAR NOT NULL,       -- narrative id, or cluster id
    day            DATE NOT NULL,
    lang           VARCHAR NOT NULL,       -- en | ru | uk | all
    matched        INTEGER NOT NULL,       -- documents carrying it that day
    total          INTEGER NOT NULL,       -- documents that day
    share          DOUBLE NOT NULL,
    baseline       DOUBLE NOT NULL,        -- trailing share it is compared with
    p_value        DOUBLE,
    test           VARCHAR NOT NULL,       -- the test and its parameters
    created_at     TIMESTAMP DEFAULT current_timestamp,
    UNIQUE (subject_kind, subject_id, day, lang, test)
);
