-- 0007: totals across languages. prevalence_daily counts a document in every language it has
-- passages in (a Ukrainian article quoting a Russian statement is coverage in both), so summing
-- its rows over languages counts such a document twice. These views count each document once:
-- the same columns as prevalence_daily / prevalence_weekly, with lang = 'all'.
CREATE OR REPLACE VIEW coverage_daily_all AS
SELECT day, outlet_id, outlet, outlet_kind,
       count(*) AS total_passages, count(DISTINCT document_id) AS total_documents
FROM passage_facts GROUP BY ALL;

CREATE OR REPLACE VIEW prevalence_daily_all AS
WITH live_narratives AS (
    SELECT n.set_id, n.narrative_id FROM narratives n
    JOIN matchings l ON l.set_id = n.set_id AND l.set_version = n.set_version
), hits AS (
    SELECT day, outlet_id, set_id, narrative_id,
           count(DISTINCT passage_id) AS matched_passages,
           count(DISTINCT document_id) AS matched_documents
    FROM live_matches WHERE decision = 'confirmed' GROUP BY ALL
), joined AS (
    SELECT c.day, n.set_id, n.narrative_id, 'all' AS lang, c.outlet_id, c.outlet, c.outlet_kind,
           coalesce(h.matched_passages, 0) AS matched_passages,
           coalesce(h.matched_documents, 0) AS matched_documents,
           c.total_passages, c.total_documents
    FROM coverage_daily_all c
    CROSS JOIN live_narratives n
    LEFT JOIN hits h ON h.day = c.day AND h.outlet_id IS NOT DISTINCT FROM c.outlet_id
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

CREATE OR REPLACE VIEW prevalence_weekly_all AS
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
    FROM prevalence_daily_all GROUP BY ALL
);
