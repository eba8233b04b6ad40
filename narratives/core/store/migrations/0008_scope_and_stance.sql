-- 0008: event scope and stance. A narrative counts in a document only when the document is about
-- the set's event (in scope) and the passage asserts it (not refutes or reports it).

-- the stance of a matched passage towards the narrative; NULL for matches made before stance
-- existed, read as `asserts` (what every match meant then)
ALTER TABLE matches ADD COLUMN stance VARCHAR;          -- asserts | refutes | reports
ALTER TABLE matches ADD COLUMN stance_score DOUBLE;     -- the stance head's probability

-- Per passage and live set: does it name one of the event's key terms, and how likely is it
-- about the event (the event head's probability; NULL when the set declares no event).
CREATE TABLE passage_scope (
    passage_id   BIGINT NOT NULL,
    set_id       VARCHAR NOT NULL,
    set_version  VARCHAR NOT NULL,
    model_id     VARCHAR NOT NULL,
    term_hit     BOOLEAN NOT NULL,
    event_score  DOUBLE,
    threshold    DOUBLE,                -- the event score a passage needs (Settings.scope_threshold)
    run_id       BIGINT,
    PRIMARY KEY (passage_id, set_id, set_version, model_id)
);

-- Per document and live set: in scope when one of its passages names a key term or scores at
-- least the threshold, and it was published inside the event's window. A set without an
-- event puts every document in scope.
CREATE OR REPLACE VIEW document_scope AS
WITH live AS (
    SELECT l.set_id, l.set_version, l.model_id,
           TRY_CAST(json_extract_string(s.definition, '$.event.start') AS DATE) AS start_day,
           TRY_CAST(json_extract_string(s.definition, '$.event.end') AS DATE) AS end_day,
           json_extract(s.definition, '$.event') IS NOT NULL AS scoped
    FROM matchings l JOIN narrative_sets s ON s.set_id = l.set_id AND s.version = l.set_version
), per_document AS (
    SELECT v.set_id, f.document_id, min(f.day) AS day,
           coalesce(bool_or(ps.term_hit), false) AS term_hit, max(ps.event_score) AS event_score,
           coalesce(bool_or(ps.event_score >= ps.threshold), false) AS event_like
    FROM live v CROSS JOIN passage_facts f
    LEFT JOIN passage_scope ps ON ps.passage_id = f.passage_id AND ps.set_id = v.set_id
         AND ps.set_version = v.set_version AND ps.model_id = v.model_id
    GROUP BY ALL
)
SELECT d.set_id, d.document_id, d.day, d.term_hit, d.event_score,
       NOT v.scoped OR ((d.term_hit OR d.event_like)
           AND (v.start_day IS NULL OR d.day >= v.start_day)
           AND (v.end_day IS NULL OR d.day <= v.end_day)) AS in_scope
FROM per_document d JOIN live v USING (set_id);

-- Matches of the live set version and model, with their passage, document and outlet. Outside
-- the event's scope a match's decision reads `out-of-scope`; `carries` is what prevalence counts.
CREATE OR REPLACE VIEW live_matches AS
SELECT m.passage_id, m.set_id, m.set_version, m.model_id, m.narrative_id, m.rank, m.score,
       m.threshold, m.exemplar_text, m.exemplar_lang, m.margin,
       CASE WHEN coalesce(ds.in_scope, true) THEN m.decision ELSE 'out-of-scope' END AS decision,
       m.run_id, f.document_id, f.lang, f.outlet_id, f.outlet, f.outlet_kind, f.day,
       p.text AS passage_text, d.url, d.title, d.published_at,
       coalesce(m.stance, 'asserts') AS stance, m.stance_score,
       coalesce(ds.in_scope, true) AS in_scope,
       m.decision = 'confirmed' AND coalesce(ds.in_scope, true)
           AND coalesce(m.stance, 'asserts') = 'asserts' AS carries
FROM matches m
JOIN matchings l ON l.set_id = m.set_id AND l.set_version = m.set_version AND l.model_id = m.model_id
JOIN passage_facts f ON f.passage_id = m.passage_id
JOIN passages p ON p.id = m.passage_id
JOIN documents d ON d.id = f.document_id
LEFT JOIN document_scope ds ON ds.set_id = m.set_id AND ds.document_id = f.document_id;

-- The event's own coverage: documents in scope per day × language × outlet, and across
-- languages (a document once).
CREATE OR REPLACE VIEW event_coverage_daily AS
SELECT s.set_id, f.day, f.lang, f.outlet_id, f.outlet, f.outlet_kind,
       count(*) AS event_passages, count(DISTINCT f.document_id) AS event_documents
FROM passage_facts f JOIN document_scope s ON s.document_id = f.document_id AND s.in_scope
GROUP BY ALL;

CREATE OR REPLACE VIEW event_coverage_daily_all AS
SELECT s.set_id, f.day, 'all' AS lang, f.outlet_id, f.outlet, f.outlet_kind,
       count(*) AS event_passages, count(DISTINCT f.document_id) AS event_documents
FROM passage_facts f JOIN document_scope s ON s.document_id = f.document_id AND s.in_scope
GROUP BY ALL;

-- Prevalence: documents carrying a narrative (confirmed, in scope, asserting), with two
-- denominators: all coverage (document_share: attention, as Media Cloud reports it) and the
-- event's coverage (event_share, the default of the CLI and dashboards). The columns of 0004
-- and 0007 keep their names, order and meaning; the event's are added after them.
CREATE OR REPLACE VIEW prevalence_daily AS
WITH live_narratives AS (
    SELECT n.set_id, n.narrative_id FROM narratives n
    JOIN matchings l ON l.set_id = n.set_id AND l.set_version = n.set_version
), hits AS (
    SELECT day, lang, outlet_id, set_id, narrative_id,
           count(DISTINCT passage_id) AS matched_passages,
           count(DISTINCT document_id) AS matched_documents
    FROM live_matches WHERE carries GROUP BY ALL
), joined AS (
    SELECT c.day, n.set_id, n.narrative_id, c.lang, c.outlet_id, c.outlet, c.outlet_kind,
           coalesce(h.matched_passages, 0) AS matched_passages,
           coalesce(h.matched_documents, 0) AS matched_documents,
           c.total_passages, c.total_documents,
           coalesce(e.event_passages, 0) AS event_passages,
           coalesce(e.event_documents, 0) AS event_documents
    FROM coverage_daily c
    CROSS JOIN live_narratives n
    LEFT JOIN hits h ON h.day = c.day AND h.lang = c.lang AND h.outlet_id IS NOT DISTINCT FROM c.outlet_id
         AND h.set_id = n.set_id AND h.narrative_id = n.narrative_id
    LEFT JOIN event_coverage_daily e ON e.day = c.day AND e.lang = c.lang
         AND e.outlet_id IS NOT DISTINCT FROM c.outlet_id AND e.set_id = n.set_id
)
SELECT day, set_id, narrative_id, lang, outlet_id, outlet, outlet_kind, matched_passages,
       matched_documents, total_passages, total_documents,
       matched_passages / total_passages AS passage_share,
       matched_documents / total_documents AS document_share,
       wilson_lo(matched_passages, total_passages) AS passage_share_lo,
       wilson_hi(matched_passages, total_passages) AS passage_share_hi,
       wilson_lo(matched_documents, total_documents) AS document_share_lo,
       wilson_hi(matched_documents, total_documents) AS document_share_hi,
       event_passages, event_documents,
       matched_documents / nullif(event_documents, 0) AS event_share,
       wilson_lo(matched_documents, event_documents) AS event_share_lo,
       wilson_hi(matched_documents, event_documents) AS event_share_hi
FROM joined;

CREATE OR REPLACE VIEW prevalence_daily_all AS
WITH live_narratives AS (
    SELECT n.set_id, n.narrative_id FROM narratives n
    JOIN matchings l ON l.set_id = n.set_id AND l.set_version = n.set_version
), hits AS (
    SELECT day, outlet_id, set_id, narrative_id,
           count(DISTINCT passage_id) AS matched_passages,
           count(DISTINCT document_id) AS matched_documents
    FROM live_matches WHERE carries GROUP BY ALL
), joined AS (
    SELECT c.day, n.set_id, n.narrative_id, 'all' AS lang, c.outlet_id, c.outlet, c.outlet_kind,
           coalesce(h.matched_passages, 0) AS matched_passages,
           coalesce(h.matched_documents, 0) AS matched_documents,
           c.total_passages, c.total_documents,
           coalesce(e.event_passages, 0) AS event_passages,
           coalesce(e.event_documents, 0) AS event_documents
    FROM coverage_daily_all c
    CROSS JOIN live_narratives n
    LEFT JOIN hits h ON h.day = c.day AND h.outlet_id IS NOT DISTINCT FROM c.outlet_id
         AND h.set_id = n.set_id AND h.narrative_id = n.narrative_id
    LEFT JOIN event_coverage_daily_all e ON e.day = c.day
         AND e.outlet_id IS NOT DISTINCT FROM c.outlet_id AND e.set_id = n.set_id
)
SELECT day, set_id, narrative_id, lang, outlet_id, outlet, outlet_kind, matched_passages,
       matched_documents, total_passages, total_documents,
       matched_passages / total_passages AS passage_share,
       matched_documents / total_documents AS document_share,
       wilson_lo(matched_passages, total_passages) AS passage_share_lo,
       wilson_hi(matched_passages, total_passages) AS passage_share_hi,
       wilson_lo(matched_documents, total_documents) AS document_share_lo,
       wilson_hi(matched_documents, total_documents) AS document_share_hi,
       event_passages, event_documents,
       matched_documents / nullif(event_documents, 0) AS event_share,
       wilson_lo(matched_documents, event_documents) AS event_share_lo,
       wilson_hi(matched_documents, event_documents) AS event_share_hi
FROM joined;

CREATE OR REPLACE VIEW prevalence_weekly AS
SELECT week, set_id, narrative_id, lang, outlet_id, outlet, outlet_kind, matched_passages,
       matched_documents, total_passages, total_documents, passage_share, document_share,
       wilson_lo(matched_passages, total_passages) AS passage_share_lo,
       wilson_hi(matched_passages, total_passages) AS passage_share_hi,
       wilson_lo(matched_documents, total_documents) AS document_share_lo,
       wilson_hi(matched_documents, total_documents) AS document_share_hi,
       event_passages, event_documents,
       matched_documents / nullif(event_documents, 0) AS event_share,
       wilson_lo(matched_documents, event_documents) AS event_share_lo,
       wilson_hi(matched_documents, event_documents) AS event_share_hi
FROM (
    SELECT CAST(date_trunc('week', day) AS DATE) AS week, set_id, narrative_id, lang, outlet_id, outlet, outlet_kind,
           sum(matched_passages) AS matched_passages, sum(matched_documents) AS matched_documents,
           sum(total_passages) AS total_passages, sum(total_documents) AS total_documents,
           sum(matched_passages) / sum(total_passages) AS passage_share,
           sum(matched_documents) / sum(total_documents) AS document_share,
           sum(event_passages) AS event_passages, sum(event_documents) AS event_documents
    FROM prevalence_daily GROUP BY ALL
);

CREATE OR REPLACE VIEW prevalence_weekly_all AS
SELECT week, set_id, narrative_id, lang, outlet_id, outlet, outlet_kind, matched_passages,
       matched_documents, total_passages, total_documents, passage_share, document_share,
       wilson_lo(matched_passages, total_passages) AS passage_share_lo,
       wilson_hi(matched_passages, total_passages) AS passage_share_hi,
       wilson_lo(matched_documents, total_documents) AS document_share_lo,
       wilson_hi(matched_documents, total_documents) AS document_share_hi,
       event_passages, event_documents,
       matched_documents / nullif(event_documents, 0) AS event_share,
       wilson_lo(matched_documents, event_documents) AS event_share_lo,
       wilson_hi(matched_documents, event_documents) AS event_share_hi
FROM (
    SELECT CAST(date_trunc('week', day) AS DATE) AS week, set_id, narrative_id, lang, outlet_id, outlet, outlet_kind,
           sum(matched_passages) AS matched_passages, sum(matched_documents) AS matched_documents,
           sum(total_passages) AS total_passages, sum(total_documents) AS total_documents,
           sum(matched_passages) / sum(total_passages) AS passage_share,
           sum(matched_documents) / sum(total_documents) AS document_share,
           sum(event_passages) AS event_passages, sum(event_documents) AS event_documents
    FROM prevalence_daily_all GROUP BY ALL
);

-- Who asserts, who refutes, who reports: confirmed, in-scope matches per day × narrative ×
-- language × outlet × stance (not zero-filled).
CREATE OR REPLACE VIEW stance_daily AS
SELECT day, set_id, narrative_id, lang, outlet_id, outlet, outlet_kind, stance,
       count(DISTINCT passage_id) AS passages, count(DISTINCT document_id) AS documents
FROM live_matches WHERE decision = 'confirmed' GROUP BY ALL;
