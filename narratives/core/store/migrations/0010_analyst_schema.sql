-- 0010: the analysts' schema. Every public table, view and column gets a COMMENT (read them with
-- `SELECT * FROM tables_guide` or duckdb_columns()), the weekly prevalence views sum into BIGINT
-- (a plain SUM of BIGINT is HUGEINT, which pandas and most drivers read as an object or a
-- float), and a date spine (`calendar`, `prevalence_by_day`) fills the days without coverage.
--
-- Internal tables stay in `main` beside the public ones rather than moving to a schema of their
-- own: moving them would rewrite SQL in every stage for no gain to an analyst, who gets the same
-- from `tables_guide.public` and the "internal: ..." comment each of them carries.
-- CREATE OR REPLACE drops a relation's comments, so a later migration that replaces a view
-- comments it again (tests/test_sql_recipes.py fails otherwise).

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
           CAST(sum(matched_passages) AS BIGINT) AS matched_passages,
           CAST(sum(matched_documents) AS BIGINT) AS matched_documents,
           CAST(sum(total_passages) AS BIGINT) AS total_passages,
           CAST(sum(total_documents) AS BIGINT) AS total_documents,
           sum(matched_passages) / sum(total_passages) AS passage_share,
           sum(matched_documents) / sum(total_documents) AS document_share,
           CAST(sum(event_passages) AS BIGINT) AS event_passages,
           CAST(sum(event_documents) AS BIGINT) AS event_documents
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
           CAST(sum(matched_passages) AS BIGINT) AS matched_passages,
           CAST(sum(matched_documents) AS BIGINT) AS matched_documents,
           CAST(sum(total_passages) AS BIGINT) AS total_passages,
           CAST(sum(total_documents) AS BIGINT) AS total_documents,
           sum(matched_passages) / sum(total_passages) AS passage_share,
           sum(matched_documents) / sum(total_documents) AS document_share,
           CAST(sum(event_passages) AS BIGINT) AS event_passages,
           CAST(sum(event_documents) AS BIGINT) AS event_documents
    FROM prevalence_daily_all GROUP BY ALL
);

-- The date spine: every day from the first to the last with coverage (none on an empty store).
CREATE OR REPLACE VIEW calendar AS
SELECT CAST(unnest(generate_series(min(day), max(day), INTERVAL 1 DAY)) AS DATE) AS day
FROM passage_facts HAVING min(day) IS NOT NULL;

-- Prevalence per day x narrative x language with the outlets summed, over every calendar day:
-- a day without coverage in a language is a row with 0 documents and a NULL share (no
-- denominator), so a chart or a rolling mean needs no spine of its own.
CREATE OR REPLACE VIEW prevalence_by_day AS
WITH cells AS (
    SELECT day, set_id, narrative_id, lang,
           CAST(sum(matched_documents) AS BIGINT) AS matched_documents,
           CAST(sum(total_documents) AS BIGINT) AS total_documents,
           CAST(sum(event_documents) AS BIGINT) AS event_documents
    FROM (SELECT * FROM prevalence_daily UNION ALL SELECT * FROM prevalence_daily_all)
    GROUP BY ALL
), spine AS (
    SELECT c.day, n.set_id, n.narrative_id, l.lang
    FROM calendar c
    CROSS JOIN (SELECT DISTINCT set_id, narrative_id FROM prevalence_daily) n
    CROSS JOIN (SELECT DISTINCT lang FROM coverage_daily UNION SELECT 'all') l
), filled AS (
    SELECT s.day, s.set_id, s.narrative_id, s.lang,
           coalesce(x.matched_documents, 0) AS matched_documents,
           coalesce(x.total_documents, 0) AS total_documents,
           coalesce(x.event_documents, 0) AS event_documents
    FROM spine s LEFT JOIN cells x USING (day, set_id, narrative_id, lang)
)
SELECT day, set_id, narrative_id, lang, matched_documents, total_documents,
       matched_documents / nullif(total_documents, 0) AS document_share,
       wilson_lo(matched_documents, total_documents) AS document_share_lo,
       wilson_hi(matched_documents, total_documents) AS document_share_hi,
       event_documents,
       matched_documents / nullif(event_documents, 0) AS event_share,
       wilson_lo(matched_documents, event_documents) AS event_share_lo,
       wilson_hi(matched_documents, event_documents) AS event_share_hi
FROM filled;

-- What is here: every table and view of `main`, public or internal, with its comment.
CREATE OR REPLACE VIEW tables_guide AS
WITH relations AS (
    SELECT table_name AS relation, 'table' AS kind, comment FROM duckdb_tables()
    WHERE schema_name = 'main' AND database_name = current_database()
    UNION ALL
    SELECT view_name, 'view', comment FROM duckdb_views()
    WHERE schema_name = 'main' AND database_name = current_database() AND NOT internal
)
SELECT relation, kind,
       relation NOT IN ('_migrations', 'schema_migrations', 'minhash_bands', 'rollup_state',
                        'prevalence_rollup', 'passage_facts', 'matchings', 'source_state',
                        'embeddings', 'label_files', 'passage_scope') AS public,
       comment
FROM relations ORDER BY public DESC, relation;

-- Comments (generated from the columns of the schema as of 0009 plus the views above).
COMMENT ON TABLE _migrations IS 'internal: the migrations applied to this database (narratives.core.store)';
COMMENT ON COLUMN _migrations.name IS 'name';
COMMENT ON COLUMN _migrations.applied_at IS 'internal bookkeeping';
COMMENT ON TABLE alerts IS 'days a narrative''s (or cluster''s) share in a language rose well above its trailing baseline, with the one-sided binomial test that said so';
COMMENT ON COLUMN alerts.id IS 'row id';
COMMENT ON COLUMN alerts.run_id IS 'runs.id of the run that wrote the row';
COMMENT ON COLUMN alerts.subject_kind IS 'narrative | cluster';
COMMENT ON COLUMN alerts.subject_id IS 'narrative id, or cluster id';
COMMENT ON COLUMN alerts.day IS 'calendar day (UTC) of publication';
COMMENT ON COLUMN alerts.lang IS 'language: en, ru, uk, other, or all (across languages)';
COMMENT ON COLUMN alerts.matched IS 'documents carrying it that day';
COMMENT ON COLUMN alerts.total IS 'documents that day in that language';
COMMENT ON COLUMN alerts.share IS 'matched / total';
COMMENT ON COLUMN alerts.baseline IS 'the trailing share it was compared with (add-half smoothed)';
COMMENT ON COLUMN alerts.p_value IS 'one-sided exact binomial p-value of matched under the baseline share';
COMMENT ON COLUMN alerts.test IS 'the test and its parameters';
COMMENT ON COLUMN alerts.created_at IS 'when the row was written';
COMMENT ON VIEW calendar IS 'every day from the first to the last day with coverage: the date spine to LEFT JOIN a series to so quiet days show as 0';
COMMENT ON COLUMN calendar.day IS 'a day between the first and last day with coverage';
COMMENT ON TABLE cluster_members IS 'the passages of each cluster, with their cosine to its centroid';
COMMENT ON COLUMN cluster_members.cluster_id IS 'clusters.id';
COMMENT ON COLUMN cluster_members.passage_id IS 'passages.id (= its FAISS id)';
COMMENT ON COLUMN cluster_members.similarity IS 'cosine similarity';
COMMENT ON TABLE cluster_representatives IS 'per cluster and language, the passages nearest its centroid';
COMMENT ON COLUMN cluster_representatives.cluster_id IS 'clusters.id';
COMMENT ON COLUMN cluster_representatives.lang IS 'language: en, ru, uk, other, or all (across languages)';
COMMENT ON COLUMN cluster_representatives.rank IS '1 = first';
COMMENT ON COLUMN cluster_representatives.passage_id IS 'passages.id (= its FAISS id)';
COMMENT ON COLUMN cluster_representatives.similarity IS 'cosine similarity';
COMMENT ON VIEW cluster_sizes IS 'a cluster''s passages and documents per language and outlet';
COMMENT ON COLUMN cluster_sizes.cluster_id IS 'clusters.id';
COMMENT ON COLUMN cluster_sizes.lang IS 'language: en, ru, uk, other, or all (across languages)';
COMMENT ON COLUMN cluster_sizes.outlet_id IS 'outlets.id';
COMMENT ON COLUMN cluster_sizes.outlet IS 'outlet name';
COMMENT ON COLUMN cluster_sizes.outlet_kind IS 'state-media, independent, ukrainian, international or telegram (NULL: unknown)';
COMMENT ON COLUMN cluster_sizes.passages IS 'the cluster''s passages there';
COMMENT ON COLUMN cluster_sizes.documents IS 'their documents';
COMMENT ON TABLE cluster_terms IS 'class-based TF-IDF key terms per cluster and language';
COMMENT ON COLUMN cluster_terms.cluster_id IS 'clusters.id';
COMMENT ON COLUMN cluster_terms.lang IS 'language: en, ru, uk, other, or all (across languages)';
COMMENT ON COLUMN cluster_terms.rank IS '1 = first';
COMMENT ON COLUMN cluster_terms.term IS 'a key term';
COMMENT ON COLUMN cluster_terms.weight IS 'its class-based TF-IDF weight';
COMMENT ON TABLE clusterings IS 'one clustering of one window of passages (all, or the residual no seeded narrative claims), with how k was chosen';
COMMENT ON COLUMN clusterings.id IS 'row id';
COMMENT ON COLUMN clusterings.run_id IS 'runs.id of the run that wrote the row';
COMMENT ON COLUMN clusterings.model_id IS 'embedding model id';
COMMENT ON COLUMN clusterings.set_id IS 'the live set its clusters were compared with';
COMMENT ON COLUMN clusterings.set_version IS 'hash of the set file''s content';
COMMENT ON COLUMN clusterings.scope IS 'all | residual';
COMMENT ON COLUMN clusterings.window_start IS 'first day of the window';
COMMENT ON COLUMN clusterings.window_end IS 'last day of the window';
COMMENT ON COLUMN clusterings.passages IS 'passages clustered';
COMMENT ON COLUMN clusterings.k IS 'the number of clusters chosen';
COMMENT ON COLUMN clusterings.k_scores IS '{k: silhouette} of every k tried';
COMMENT ON COLUMN clusterings.parameters IS 'the clustering settings';
COMMENT ON COLUMN clusterings.created_at IS 'when the row was written';
COMMENT ON TABLE clusters IS 'the clusters of each clustering: size, coherence, nearest seeded narrative, emerging or not';
COMMENT ON COLUMN clusters.id IS 'row id';
COMMENT ON COLUMN clusters.clustering_id IS 'clusterings.id';
COMMENT ON COLUMN clusters.size IS 'passages';
COMMENT ON COLUMN clusters.documents IS 'documents';
COMMENT ON COLUMN clusters.coherence IS 'mean cosine of members to the centroid (centred space)';
COMMENT ON COLUMN clusters.nearest_narrative IS 'seeded narrative nearest the centroid';
COMMENT ON COLUMN clusters.nearest_similarity IS 'cosine of the centroid to its nearest exemplar';
COMMENT ON COLUMN clusters.confirmed_share IS 'share of members confirmed for that narrative by the matcher';
COMMENT ON COLUMN clusters.status IS 'matches | emerging';
COMMENT ON COLUMN clusters.first_day IS 'first day of its members';
COMMENT ON COLUMN clusters.last_day IS 'last day of its members';
COMMENT ON VIEW coverage_daily IS 'documents and passages per day x language x outlet: the all-coverage denominators (only days with coverage; see calendar)';
COMMENT ON COLUMN coverage_daily.day IS 'calendar day (UTC) of publication';
COMMENT ON COLUMN coverage_daily.lang IS 'passage language: en, ru, uk or other';
COMMENT ON COLUMN coverage_daily.outlet_id IS 'outlets.id';
COMMENT ON COLUMN coverage_daily.outlet IS 'outlet name';
COMMENT ON COLUMN coverage_daily.outlet_kind IS 'state-media, independent, ukrainian, international or telegram (NULL: unknown)';
COMMENT ON COLUMN coverage_daily.total_passages IS 'all passages in the cell (the attention denominator)';
COMMENT ON COLUMN coverage_daily.total_documents IS 'all documents in the cell (the attention denominator)';
COMMENT ON VIEW coverage_daily_all IS 'coverage_daily across languages (a document once)';
COMMENT ON COLUMN coverage_daily_all.day IS 'calendar day (UTC) of publication';
COMMENT ON COLUMN coverage_daily_all.outlet_id IS 'outlets.id';
COMMENT ON COLUMN coverage_daily_all.outlet IS 'outlet name';
COMMENT ON COLUMN coverage_daily_all.outlet_kind IS 'state-media, independent, ukrainian, international or telegram (NULL: unknown)';
COMMENT ON COLUMN coverage_daily_all.total_passages IS 'all passages in the cell (the attention denominator)';
COMMENT ON COLUMN coverage_daily_all.total_documents IS 'all documents that day and outlet (a document once)';
COMMENT ON VIEW document_scope IS 'per document and live set: is it about the set''s event (a key term or the event head, inside the event window)';
COMMENT ON COLUMN document_scope.set_id IS 'narrative set id';
COMMENT ON COLUMN document_scope.document_id IS 'documents.id';
COMMENT ON COLUMN document_scope.day IS 'the document''s day';
COMMENT ON COLUMN document_scope.term_hit IS 'one of its passages names an event key term';
COMMENT ON COLUMN document_scope.event_score IS 'the highest event score of its passages';
COMMENT ON COLUMN document_scope.in_scope IS 'about the set''s event: counts in prevalence';
COMMENT ON TABLE documents IS 'every stored document (article, post, reprint) with its outlet, date and text';
COMMENT ON COLUMN documents.id IS 'document id';
COMMENT ON COLUMN documents.source_id IS 'the source that brought it (a sources-file id, a corpus file)';
COMMENT ON COLUMN documents.external_id IS 'the source''s own id for it, else its URL';
COMMENT ON COLUMN documents.outlet_id IS 'outlets.id';
COMMENT ON COLUMN documents.url IS 'URL';
COMMENT ON COLUMN documents.lang IS 'majority language of its passages (en, ru, uk, other)';
COMMENT ON COLUMN documents.published_at IS 'publication time (UTC)';
COMMENT ON COLUMN documents.title IS 'title';
COMMENT ON COLUMN documents.text IS 'text';
COMMENT ON COLUMN documents.content_hash IS 'hash of the normalised text';
COMMENT ON COLUMN documents.gold_labels IS 'labels shipped with a corpus, for checks; the matcher never reads them';
COMMENT ON COLUMN documents.meta IS 'source-specific fields (JSON)';
COMMENT ON COLUMN documents.run_id IS 'runs.id of the run that wrote the row';
COMMENT ON COLUMN documents.ingested_at IS 'when it was stored';
COMMENT ON TABLE embeddings IS 'internal: the embedding cache, keyed by model and text hash (vectors as float32 blobs)';
COMMENT ON COLUMN embeddings.model_id IS 'embedding model id';
COMMENT ON COLUMN embeddings.text_hash IS 'internal bookkeeping';
COMMENT ON COLUMN embeddings.dim IS 'internal bookkeeping';
COMMENT ON COLUMN embeddings.vector IS 'internal bookkeeping';
COMMENT ON COLUMN embeddings.created_at IS 'when the row was written';
COMMENT ON VIEW event_coverage_daily IS 'documents about the live set''s event per day x language x outlet: the denominator of event_share';
COMMENT ON COLUMN event_coverage_daily.set_id IS 'narrative set id';
COMMENT ON COLUMN event_coverage_daily.day IS 'calendar day (UTC) of publication';
COMMENT ON COLUMN event_coverage_daily.lang IS 'language: en, ru, uk, other, or all (across languages)';
COMMENT ON COLUMN event_coverage_daily.outlet_id IS 'outlets.id';
COMMENT ON COLUMN event_coverage_daily.outlet IS 'outlet name';
COMMENT ON COLUMN event_coverage_daily.outlet_kind IS 'state-media, independent, ukrainian, international or telegram (NULL: unknown)';
COMMENT ON COLUMN event_coverage_daily.event_passages IS 'passages of documents about the set''s event';
COMMENT ON COLUMN event_coverage_daily.event_documents IS 'documents about the set''s event (the default denominator)';
COMMENT ON VIEW event_coverage_daily_all IS 'event_coverage_daily across languages (a document once)';
COMMENT ON COLUMN event_coverage_daily_all.set_id IS 'narrative set id';
COMMENT ON COLUMN event_coverage_daily_all.day IS 'calendar day (UTC) of publication';
COMMENT ON COLUMN event_coverage_daily_all.lang IS 'language: en, ru, uk, other, or all (across languages)';
COMMENT ON COLUMN event_coverage_daily_all.outlet_id IS 'outlets.id';
COMMENT ON COLUMN event_coverage_daily_all.outlet IS 'outlet name';
COMMENT ON COLUMN event_coverage_daily_all.outlet_kind IS 'state-media, independent, ukrainian, international or telegram (NULL: unknown)';
COMMENT ON COLUMN event_coverage_daily_all.event_passages IS 'passages of documents about the set''s event';
COMMENT ON COLUMN event_coverage_daily_all.event_documents IS 'documents about the set''s event (the default denominator)';
COMMENT ON TABLE exemplars IS 'the example sentences of each narrative, per language, as loaded from the set file';
COMMENT ON COLUMN exemplars.set_id IS 'narrative set id';
COMMENT ON COLUMN exemplars.set_version IS 'hash of the set file''s content';
COMMENT ON COLUMN exemplars.narrative_id IS 'narrative id within its set';
COMMENT ON COLUMN exemplars.lang IS 'language: en, ru, uk, other, or all (across languages)';
COMMENT ON COLUMN exemplars.seq IS 'its position in the set file';
COMMENT ON COLUMN exemplars.text IS 'the exemplar sentence';
COMMENT ON TABLE forwards IS 'Telegram forwards: a post and the channel or outlet it was forwarded from';
COMMENT ON COLUMN forwards.document_id IS 'documents.id of the forwarding post';
COMMENT ON COLUMN forwards.origin_name IS 'the channel or outlet it was forwarded from';
COMMENT ON COLUMN forwards.origin_outlet_id IS 'outlets.id when the origin is a tracked outlet';
COMMENT ON COLUMN forwards.origin_message_id IS 'the origin''s message id';
COMMENT ON COLUMN forwards.origin_date IS 'when the origin posted it';
COMMENT ON COLUMN forwards.views IS 'views of the forwarding post';
COMMENT ON TABLE ingest_errors IS 'bad items ingest skipped, and why';
COMMENT ON COLUMN ingest_errors.id IS 'row id';
COMMENT ON COLUMN ingest_errors.run_id IS 'runs.id of the run that wrote the row';
COMMENT ON COLUMN ingest_errors.source_id IS 'the source';
COMMENT ON COLUMN ingest_errors.item IS 'line number, URL or message id of the bad item';
COMMENT ON COLUMN ingest_errors.reason IS 'why it was skipped';
COMMENT ON COLUMN ingest_errors.created_at IS 'when the row was written';
COMMENT ON TABLE label_files IS 'internal: how far the labels step has read each file of the label journal';
COMMENT ON COLUMN label_files.file IS 'internal bookkeeping';
COMMENT ON COLUMN label_files.bytes_read IS 'internal bookkeeping';
COMMENT ON COLUMN label_files.stored_at IS 'internal bookkeeping';
COMMENT ON TABLE labels IS 'analysts'' verdicts from the review queue (audit and uncertain streams); a later verdict on the same item and narrative supersedes an earlier one';
COMMENT ON COLUMN labels.label_id IS 'content hash of the verdict (import and sync are idempotent)';
COMMENT ON COLUMN labels.set_id IS 'narrative set id';
COMMENT ON COLUMN labels.narrative_id IS 'the narrative the item was served for';
COMMENT ON COLUMN labels.item_kind IS 'passage | document';
COMMENT ON COLUMN labels.stream IS 'uncertain (trains the head) | audit (measures error) | imported';
COMMENT ON COLUMN labels.verdict IS 'asserts | refutes | reports | no | none (none of the set''s narratives)';
COMMENT ON COLUMN labels.document_hash IS 'documents.content_hash';
COMMENT ON COLUMN labels.passage_hash IS 'passages.text_hash, for passage items';
COMMENT ON COLUMN labels.lang IS 'language: en, ru, uk, other, or all (across languages)';
COMMENT ON COLUMN labels.day IS 'the item''s day';
COMMENT ON COLUMN labels.stratum IS 'audit: counted | not-counted, the tracker''s decision when served';
COMMENT ON COLUMN labels.stratum_share IS 'audit: that stratum''s share of the event''s documents then';
COMMENT ON COLUMN labels.score IS 'the tracker''s score for the narrative when served';
COMMENT ON COLUMN labels.set_version IS 'the set version served';
COMMENT ON COLUMN labels.model_id IS 'embedding model id';
COMMENT ON COLUMN labels.run_id IS 'the run whose results were reviewed';
COMMENT ON COLUMN labels.who IS 'the analyst';
COMMENT ON COLUMN labels.labelled_at IS 'when the verdict was given';
COMMENT ON COLUMN labels.stored_at IS 'when it was stored';
COMMENT ON VIEW live_matches IS 'matches of the live set version and model with their passage, document and outlet; carries = what prevalence counts (confirmed, in scope, asserting)';
COMMENT ON COLUMN live_matches.passage_id IS 'passages.id (= its FAISS id)';
COMMENT ON COLUMN live_matches.set_id IS 'narrative set id';
COMMENT ON COLUMN live_matches.set_version IS 'hash of the set file''s content';
COMMENT ON COLUMN live_matches.model_id IS 'embedding model id';
COMMENT ON COLUMN live_matches.narrative_id IS 'narrative id within its set';
COMMENT ON COLUMN live_matches.rank IS '1 = first';
COMMENT ON COLUMN live_matches.score IS 'the scorer''s score for the narrative';
COMMENT ON COLUMN live_matches.threshold IS 'the cut the score was compared with';
COMMENT ON COLUMN live_matches.exemplar_text IS 'the nearest exemplar (or the description)';
COMMENT ON COLUMN live_matches.exemplar_lang IS 'its language';
COMMENT ON COLUMN live_matches.margin IS 'score minus the runner-up narrative''s score';
COMMENT ON COLUMN live_matches.decision IS 'confirmed | suggested | rejected (out-of-scope in live_matches outside the event)';
COMMENT ON COLUMN live_matches.run_id IS 'runs.id of the run that wrote the row';
COMMENT ON COLUMN live_matches.document_id IS 'documents.id';
COMMENT ON COLUMN live_matches.lang IS 'language: en, ru, uk, other, or all (across languages)';
COMMENT ON COLUMN live_matches.outlet_id IS 'outlets.id';
COMMENT ON COLUMN live_matches.outlet IS 'outlet name';
COMMENT ON COLUMN live_matches.outlet_kind IS 'state-media, independent, ukrainian, international or telegram (NULL: unknown)';
COMMENT ON COLUMN live_matches.day IS 'calendar day (UTC) of publication';
COMMENT ON COLUMN live_matches.passage_text IS 'the passage''s text';
COMMENT ON COLUMN live_matches.url IS 'the document''s URL';
COMMENT ON COLUMN live_matches.title IS 'the document''s title';
COMMENT ON COLUMN live_matches.published_at IS 'the document''s publication time (UTC)';
COMMENT ON COLUMN live_matches.stance IS 'asserts | refutes | reports (towards the narrative)';
COMMENT ON COLUMN live_matches.stance_score IS 'the stance head''s probability';
COMMENT ON COLUMN live_matches.in_scope IS 'about the set''s event: counts in prevalence';
COMMENT ON COLUMN live_matches.carries IS 'confirmed, in scope and asserting: what prevalence counts';
COMMENT ON TABLE matches IS 'per passage and candidate narrative (the best few by score) the matcher''s score, decision and stance, for every set version and model ever run';
COMMENT ON COLUMN matches.passage_id IS 'passages.id (= its FAISS id)';
COMMENT ON COLUMN matches.set_id IS 'narrative set id';
COMMENT ON COLUMN matches.set_version IS 'hash of the set file''s content';
COMMENT ON COLUMN matches.model_id IS 'embedding model id';
COMMENT ON COLUMN matches.narrative_id IS 'narrative id within its set';
COMMENT ON COLUMN matches.rank IS '1 = first';
COMMENT ON COLUMN matches.score IS 'the scorer''s score for the narrative';
COMMENT ON COLUMN matches.threshold IS 'the cut the score was compared with';
COMMENT ON COLUMN matches.exemplar_text IS 'the nearest exemplar (or the description)';
COMMENT ON COLUMN matches.exemplar_lang IS 'its language';
COMMENT ON COLUMN matches.margin IS 'score minus the runner-up narrative''s score';
COMMENT ON COLUMN matches.decision IS 'confirmed | suggested | rejected (out-of-scope in live_matches outside the event)';
COMMENT ON COLUMN matches.run_id IS 'runs.id of the run that wrote the row';
COMMENT ON COLUMN matches.stance IS 'asserts | refutes | reports (towards the narrative)';
COMMENT ON COLUMN matches.stance_score IS 'the stance head''s probability';
COMMENT ON TABLE matchings IS 'internal: which set version and model are live for each set; the live_* and prevalence_* views read only those';
COMMENT ON COLUMN matchings.set_id IS 'narrative set id';
COMMENT ON COLUMN matchings.set_version IS 'hash of the set file''s content';
COMMENT ON COLUMN matchings.model_id IS 'embedding model id';
COMMENT ON COLUMN matchings.run_id IS 'runs.id of the run that wrote the row';
COMMENT ON COLUMN matchings.updated_at IS 'internal bookkeeping';
COMMENT ON COLUMN matchings.training IS 'internal bookkeeping';
COMMENT ON TABLE minhash_bands IS 'internal: MinHash LSH band keys of original documents, the near-duplicate lookup of ingest';
COMMENT ON COLUMN minhash_bands.band IS 'internal bookkeeping';
COMMENT ON COLUMN minhash_bands.bucket IS 'internal bookkeeping';
COMMENT ON COLUMN minhash_bands.document_id IS 'documents.id';
COMMENT ON TABLE narrative_sets IS 'every version of every narrative set loaded (a version is the hash of the file''s content)';
COMMENT ON COLUMN narrative_sets.set_id IS 'narrative set id';
COMMENT ON COLUMN narrative_sets.version IS 'hash of the set file''s content';
COMMENT ON COLUMN narrative_sets.title IS 'the set''s title';
COMMENT ON COLUMN narrative_sets.event_date IS 'the day of the event';
COMMENT ON COLUMN narrative_sets.source_path IS 'the YAML file it was loaded from';
COMMENT ON COLUMN narrative_sets.definition IS 'the whole set as JSON';
COMMENT ON COLUMN narrative_sets.loaded_at IS 'when it was loaded';
COMMENT ON TABLE narratives IS 'the narratives of each set version, with label, description and cosine threshold';
COMMENT ON COLUMN narratives.set_id IS 'narrative set id';
COMMENT ON COLUMN narratives.set_version IS 'hash of the set file''s content';
COMMENT ON COLUMN narratives.narrative_id IS 'narrative id within its set';
COMMENT ON COLUMN narratives.label IS 'short human label';
COMMENT ON COLUMN narratives.description IS 'what the narrative claims';
COMMENT ON COLUMN narratives.threshold IS 'the set''s cosine threshold (decides under the cosine scorers only)';
COMMENT ON COLUMN narratives.version IS 'hash of this narrative''s own content';
COMMENT ON TABLE outlets IS 'the outlets (media, channels) documents come from, with their kind';
COMMENT ON COLUMN outlets.id IS 'slug of the name';
COMMENT ON COLUMN outlets.name IS 'name';
COMMENT ON COLUMN outlets.kind IS 'state-media, independent, ukrainian, international or telegram';
COMMENT ON COLUMN outlets.lang IS 'the outlet''s usual language, if known';
COMMENT ON COLUMN outlets.homepage IS 'its homepage URL';
COMMENT ON VIEW passage_facts IS 'internal: every passage with the day, language and outlet prevalence is cut by (the denominators); use live_matches, coverage_daily or prevalence_* instead';
COMMENT ON COLUMN passage_facts.passage_id IS 'passages.id (= its FAISS id)';
COMMENT ON COLUMN passage_facts.document_id IS 'documents.id';
COMMENT ON COLUMN passage_facts.lang IS 'language: en, ru, uk, other, or all (across languages)';
COMMENT ON COLUMN passage_facts.outlet_id IS 'outlets.id';
COMMENT ON COLUMN passage_facts.outlet IS 'outlet name';
COMMENT ON COLUMN passage_facts.outlet_kind IS 'state-media, independent, ukrainian, international or telegram (NULL: unknown)';
COMMENT ON COLUMN passage_facts.day IS 'calendar day (UTC) of publication';
COMMENT ON TABLE passage_scope IS 'internal: per passage and live set, whether it names an event key term and its event score; document_scope is the per-document answer';
COMMENT ON COLUMN passage_scope.passage_id IS 'passages.id (= its FAISS id)';
COMMENT ON COLUMN passage_scope.set_id IS 'narrative set id';
COMMENT ON COLUMN passage_scope.set_version IS 'hash of the set file''s content';
COMMENT ON COLUMN passage_scope.model_id IS 'embedding model id';
COMMENT ON COLUMN passage_scope.term_hit IS 'names one of the event''s key terms';
COMMENT ON COLUMN passage_scope.event_score IS 'the event head''s probability that it is about the event';
COMMENT ON COLUMN passage_scope.threshold IS 'the cut the score was compared with';
COMMENT ON COLUMN passage_scope.run_id IS 'runs.id of the run that wrote the row';
COMMENT ON TABLE passages IS 'documents split into passages (the unit that is embedded and matched), with their language';
COMMENT ON COLUMN passages.id IS 'passage id (= its FAISS id)';
COMMENT ON COLUMN passages.document_id IS 'documents.id';
COMMENT ON COLUMN passages.seq IS 'position in the document, from 0';
COMMENT ON COLUMN passages.start_char IS 'offset of its start in documents.text';
COMMENT ON COLUMN passages.end_char IS 'offset of its end in documents.text';
COMMENT ON COLUMN passages.text IS 'text';
COMMENT ON COLUMN passages.lang IS 'detected language: en, ru, uk or other';
COMMENT ON COLUMN passages.lang_confidence IS 'the language detector''s confidence';
COMMENT ON COLUMN passages.text_hash IS 'key into the embedding cache';
COMMENT ON VIEW prevalence_by_day IS 'per day x narrative x language (en, ru, uk and all) over every calendar day, outlets summed: documents carrying it, of all and of the event''s coverage, shares with 95% Wilson intervals, 0 on days without coverage';
COMMENT ON COLUMN prevalence_by_day.day IS 'calendar day (UTC) of publication';
COMMENT ON COLUMN prevalence_by_day.set_id IS 'narrative set id';
COMMENT ON COLUMN prevalence_by_day.narrative_id IS 'narrative id within its set';
COMMENT ON COLUMN prevalence_by_day.lang IS 'en, ru, uk, or all (across languages, a document once)';
COMMENT ON COLUMN prevalence_by_day.matched_documents IS 'documents carrying the narrative (a passage confirmed, in scope, asserting)';
COMMENT ON COLUMN prevalence_by_day.total_documents IS 'all documents in the cell (the attention denominator)';
COMMENT ON COLUMN prevalence_by_day.document_share IS 'matched_documents / total_documents';
COMMENT ON COLUMN prevalence_by_day.document_share_lo IS '95% Wilson interval of document_share, lower bound';
COMMENT ON COLUMN prevalence_by_day.document_share_hi IS '95% Wilson interval of document_share, upper bound';
COMMENT ON COLUMN prevalence_by_day.event_documents IS 'documents about the set''s event (the default denominator)';
COMMENT ON COLUMN prevalence_by_day.event_share IS 'matched_documents / event_documents: the share of the event''s coverage (NULL without event coverage)';
COMMENT ON COLUMN prevalence_by_day.event_share_lo IS '95% Wilson interval of event_share, lower bound';
COMMENT ON COLUMN prevalence_by_day.event_share_hi IS '95% Wilson interval of event_share, upper bound';
COMMENT ON VIEW prevalence_daily IS 'per day x narrative x language x outlet (days with coverage only): documents and passages carrying the narrative, their shares of all and of the event''s coverage, with 95% Wilson intervals';
COMMENT ON COLUMN prevalence_daily.day IS 'calendar day (UTC) of publication';
COMMENT ON COLUMN prevalence_daily.set_id IS 'narrative set id';
COMMENT ON COLUMN prevalence_daily.narrative_id IS 'narrative id within its set';
COMMENT ON COLUMN prevalence_daily.lang IS 'language: en, ru, uk, other, or all (across languages)';
COMMENT ON COLUMN prevalence_daily.outlet_id IS 'outlets.id';
COMMENT ON COLUMN prevalence_daily.outlet IS 'outlet name';
COMMENT ON COLUMN prevalence_daily.outlet_kind IS 'state-media, independent, ukrainian, international or telegram (NULL: unknown)';
COMMENT ON COLUMN prevalence_daily.matched_passages IS 'passages carrying the narrative (confirmed, in scope, asserting)';
COMMENT ON COLUMN prevalence_daily.matched_documents IS 'documents carrying the narrative (a passage confirmed, in scope, asserting)';
COMMENT ON COLUMN prevalence_daily.total_passages IS 'all passages in the cell (the attention denominator)';
COMMENT ON COLUMN prevalence_daily.total_documents IS 'all documents in the cell (the attention denominator)';
COMMENT ON COLUMN prevalence_daily.passage_share IS 'matched_passages / total_passages';
COMMENT ON COLUMN prevalence_daily.document_share IS 'matched_documents / total_documents';
COMMENT ON COLUMN prevalence_daily.passage_share_lo IS '95% Wilson interval of passage_share, lower bound';
COMMENT ON COLUMN prevalence_daily.passage_share_hi IS '95% Wilson interval of passage_share, upper bound';
COMMENT ON COLUMN prevalence_daily.document_share_lo IS '95% Wilson interval of document_share, lower bound';
COMMENT ON COLUMN prevalence_daily.document_share_hi IS '95% Wilson interval of document_share, upper bound';
COMMENT ON COLUMN prevalence_daily.event_passages IS 'passages of documents about the set''s event';
COMMENT ON COLUMN prevalence_daily.event_documents IS 'documents about the set''s event (the default denominator)';
COMMENT ON COLUMN prevalence_daily.event_share IS 'matched_documents / event_documents: the share of the event''s coverage (NULL without event coverage)';
COMMENT ON COLUMN prevalence_daily.event_share_lo IS '95% Wilson interval of event_share, lower bound';
COMMENT ON COLUMN prevalence_daily.event_share_hi IS '95% Wilson interval of event_share, upper bound';
COMMENT ON VIEW prevalence_daily_all IS 'prevalence_daily across languages (lang = ''all'', a document once)';
COMMENT ON COLUMN prevalence_daily_all.day IS 'calendar day (UTC) of publication';
COMMENT ON COLUMN prevalence_daily_all.set_id IS 'narrative set id';
COMMENT ON COLUMN prevalence_daily_all.narrative_id IS 'narrative id within its set';
COMMENT ON COLUMN prevalence_daily_all.lang IS 'language: en, ru, uk, other, or all (across languages)';
COMMENT ON COLUMN prevalence_daily_all.outlet_id IS 'outlets.id';
COMMENT ON COLUMN prevalence_daily_all.outlet IS 'outlet name';
COMMENT ON COLUMN prevalence_daily_all.outlet_kind IS 'state-media, independent, ukrainian, international or telegram (NULL: unknown)';
COMMENT ON COLUMN prevalence_daily_all.matched_passages IS 'passages carrying the narrative (confirmed, in scope, asserting)';
COMMENT ON COLUMN prevalence_daily_all.matched_documents IS 'documents carrying the narrative (a passage confirmed, in scope, asserting)';
COMMENT ON COLUMN prevalence_daily_all.total_passages IS 'all passages in the cell (the attention denominator)';
COMMENT ON COLUMN prevalence_daily_all.total_documents IS 'all documents in the cell (the attention denominator)';
COMMENT ON COLUMN prevalence_daily_all.passage_share IS 'matched_passages / total_passages';
COMMENT ON COLUMN prevalence_daily_all.document_share IS 'matched_documents / total_documents';
COMMENT ON COLUMN prevalence_daily_all.passage_share_lo IS '95% Wilson interval of passage_share, lower bound';
COMMENT ON COLUMN prevalence_daily_all.passage_share_hi IS '95% Wilson interval of passage_share, upper bound';
COMMENT ON COLUMN prevalence_daily_all.document_share_lo IS '95% Wilson interval of document_share, lower bound';
COMMENT ON COLUMN prevalence_daily_all.document_share_hi IS '95% Wilson interval of document_share, upper bound';
COMMENT ON COLUMN prevalence_daily_all.event_passages IS 'passages of documents about the set''s event';
COMMENT ON COLUMN prevalence_daily_all.event_documents IS 'documents about the set''s event (the default denominator)';
COMMENT ON COLUMN prevalence_daily_all.event_share IS 'matched_documents / event_documents: the share of the event''s coverage (NULL without event coverage)';
COMMENT ON COLUMN prevalence_daily_all.event_share_lo IS '95% Wilson interval of event_share, lower bound';
COMMENT ON COLUMN prevalence_daily_all.event_share_hi IS '95% Wilson interval of event_share, upper bound';
COMMENT ON VIEW prevalence_weekly IS 'prevalence_daily summed per ISO week (week = its Monday)';
COMMENT ON COLUMN prevalence_weekly.week IS 'Monday of the ISO week';
COMMENT ON COLUMN prevalence_weekly.set_id IS 'narrative set id';
COMMENT ON COLUMN prevalence_weekly.narrative_id IS 'narrative id within its set';
COMMENT ON COLUMN prevalence_weekly.lang IS 'language: en, ru, uk, other, or all (across languages)';
COMMENT ON COLUMN prevalence_weekly.outlet_id IS 'outlets.id';
COMMENT ON COLUMN prevalence_weekly.outlet IS 'outlet name';
COMMENT ON COLUMN prevalence_weekly.outlet_kind IS 'state-media, independent, ukrainian, international or telegram (NULL: unknown)';
COMMENT ON COLUMN prevalence_weekly.matched_passages IS 'passages carrying the narrative (confirmed, in scope, asserting)';
COMMENT ON COLUMN prevalence_weekly.matched_documents IS 'documents carrying the narrative (a passage confirmed, in scope, asserting)';
COMMENT ON COLUMN prevalence_weekly.total_passages IS 'all passages in the cell (the attention denominator)';
COMMENT ON COLUMN prevalence_weekly.total_documents IS 'all documents in the cell (the attention denominator)';
COMMENT ON COLUMN prevalence_weekly.passage_share IS 'matched_passages / total_passages';
COMMENT ON COLUMN prevalence_weekly.document_share IS 'matched_documents / total_documents';
COMMENT ON COLUMN prevalence_weekly.passage_share_lo IS '95% Wilson interval of passage_share, lower bound';
COMMENT ON COLUMN prevalence_weekly.passage_share_hi IS '95% Wilson interval of passage_share, upper bound';
COMMENT ON COLUMN prevalence_weekly.document_share_lo IS '95% Wilson interval of document_share, lower bound';
COMMENT ON COLUMN prevalence_weekly.document_share_hi IS '95% Wilson interval of document_share, upper bound';
COMMENT ON COLUMN prevalence_weekly.event_passages IS 'passages of documents about the set''s event';
COMMENT ON COLUMN prevalence_weekly.event_documents IS 'documents about the set''s event (the default denominator)';
COMMENT ON COLUMN prevalence_weekly.event_share IS 'matched_documents / event_documents: the share of the event''s coverage (NULL without event coverage)';
COMMENT ON COLUMN prevalence_weekly.event_share_lo IS '95% Wilson interval of event_share, lower bound';
COMMENT ON COLUMN prevalence_weekly.event_share_hi IS '95% Wilson interval of event_share, upper bound';
COMMENT ON VIEW prevalence_weekly_all IS 'prevalence_daily_all summed per ISO week (week = its Monday)';
COMMENT ON COLUMN prevalence_weekly_all.week IS 'Monday of the ISO week';
COMMENT ON COLUMN prevalence_weekly_all.set_id IS 'narrative set id';
COMMENT ON COLUMN prevalence_weekly_all.narrative_id IS 'narrative id within its set';
COMMENT ON COLUMN prevalence_weekly_all.lang IS 'language: en, ru, uk, other, or all (across languages)';
COMMENT ON COLUMN prevalence_weekly_all.outlet_id IS 'outlets.id';
COMMENT ON COLUMN prevalence_weekly_all.outlet IS 'outlet name';
COMMENT ON COLUMN prevalence_weekly_all.outlet_kind IS 'state-media, independent, ukrainian, international or telegram (NULL: unknown)';
COMMENT ON COLUMN prevalence_weekly_all.matched_passages IS 'passages carrying the narrative (confirmed, in scope, asserting)';
COMMENT ON COLUMN prevalence_weekly_all.matched_documents IS 'documents carrying the narrative (a passage confirmed, in scope, asserting)';
COMMENT ON COLUMN prevalence_weekly_all.total_passages IS 'all passages in the cell (the attention denominator)';
COMMENT ON COLUMN prevalence_weekly_all.total_documents IS 'all documents in the cell (the attention denominator)';
COMMENT ON COLUMN prevalence_weekly_all.passage_share IS 'matched_passages / total_passages';
COMMENT ON COLUMN prevalence_weekly_all.document_share IS 'matched_documents / total_documents';
COMMENT ON COLUMN prevalence_weekly_all.passage_share_lo IS '95% Wilson interval of passage_share, lower bound';
COMMENT ON COLUMN prevalence_weekly_all.passage_share_hi IS '95% Wilson interval of passage_share, upper bound';
COMMENT ON COLUMN prevalence_weekly_all.document_share_lo IS '95% Wilson interval of document_share, lower bound';
COMMENT ON COLUMN prevalence_weekly_all.document_share_hi IS '95% Wilson interval of document_share, upper bound';
COMMENT ON COLUMN prevalence_weekly_all.event_passages IS 'passages of documents about the set''s event';
COMMENT ON COLUMN prevalence_weekly_all.event_documents IS 'documents about the set''s event (the default denominator)';
COMMENT ON COLUMN prevalence_weekly_all.event_share IS 'matched_documents / event_documents: the share of the event''s coverage (NULL without event coverage)';
COMMENT ON COLUMN prevalence_weekly_all.event_share_lo IS '95% Wilson interval of event_share, lower bound';
COMMENT ON COLUMN prevalence_weekly_all.event_share_hi IS '95% Wilson interval of event_share, upper bound';
COMMENT ON TABLE reprints IS 'copies of a document published by other outlets (exact or near duplicates): the edges amplification is measured on';
COMMENT ON COLUMN reprints.original_id IS 'documents.id of the earliest copy';
COMMENT ON COLUMN reprints.reprint_id IS 'documents.id of the later copy';
COMMENT ON COLUMN reprints.kind IS 'exact | near';
COMMENT ON COLUMN reprints.similarity IS 'estimated Jaccard similarity of shingles (1 for exact copies)';
COMMENT ON COLUMN reprints.delay_seconds IS 'reprint published_at minus original published_at';
COMMENT ON TABLE rollup_state IS 'internal: fingerprint of the tables prevalence_rollup was computed from; the rollup is read only while it matches';
COMMENT ON COLUMN rollup_state.name IS 'name';
COMMENT ON COLUMN rollup_state.fingerprint IS 'internal bookkeeping';
COMMENT ON COLUMN rollup_state.run_id IS 'runs.id of the run that wrote the row';
COMMENT ON COLUMN rollup_state.refreshed_at IS 'internal bookkeeping';
COMMENT ON TABLE runs IS 'one row per run of a step or the pipeline: components, parameters, model, set version, counts, timings and error';
COMMENT ON COLUMN runs.id IS 'row id';
COMMENT ON COLUMN runs.kind IS 'pipeline, ingest, embed, match, eval, ...';
COMMENT ON COLUMN runs.status IS 'running | ok | failed';
COMMENT ON COLUMN runs.started_at IS 'start time';
COMMENT ON COLUMN runs.finished_at IS 'end time';
COMMENT ON COLUMN runs.components IS 'registered names of the parts used (JSON)';
COMMENT ON COLUMN runs.parameters IS 'every setting that changes a number (JSON)';
COMMENT ON COLUMN runs.model_id IS 'embedding model id';
COMMENT ON COLUMN runs.set_id IS 'the narrative set';
COMMENT ON COLUMN runs.set_version IS 'hash of the set file''s content';
COMMENT ON COLUMN runs.counts IS 'what the run stored (JSON)';
COMMENT ON COLUMN runs.timings IS 'seconds per step (JSON)';
COMMENT ON COLUMN runs.error IS 'the error of a failed run';
COMMENT ON TABLE source_state IS 'internal: per source of a sources file, the conditional-request validators and item ids already seen (incremental ingest)';
COMMENT ON COLUMN source_state.source_id IS 'internal bookkeeping';
COMMENT ON COLUMN source_state.kind IS 'kind';
COMMENT ON COLUMN source_state.etag IS 'internal bookkeeping';
COMMENT ON COLUMN source_state.last_modified IS 'internal bookkeeping';
COMMENT ON COLUMN source_state.seen IS 'internal bookkeeping';
COMMENT ON COLUMN source_state.last_run_id IS 'internal bookkeeping';
COMMENT ON COLUMN source_state.last_run_at IS 'internal bookkeeping';
COMMENT ON COLUMN source_state.last_status IS 'internal bookkeeping';
COMMENT ON COLUMN source_state.last_counts IS 'internal bookkeeping';
COMMENT ON COLUMN source_state.last_error IS 'internal bookkeeping';
COMMENT ON VIEW stance_daily IS 'confirmed, in-scope matches per day x narrative x language x outlet x stance: who asserts, refutes or reports (not zero-filled)';
COMMENT ON COLUMN stance_daily.day IS 'calendar day (UTC) of publication';
COMMENT ON COLUMN stance_daily.set_id IS 'narrative set id';
COMMENT ON COLUMN stance_daily.narrative_id IS 'narrative id within its set';
COMMENT ON COLUMN stance_daily.lang IS 'language: en, ru, uk, other, or all (across languages)';
COMMENT ON COLUMN stance_daily.outlet_id IS 'outlets.id';
COMMENT ON COLUMN stance_daily.outlet IS 'outlet name';
COMMENT ON COLUMN stance_daily.outlet_kind IS 'state-media, independent, ukrainian, international or telegram (NULL: unknown)';
COMMENT ON COLUMN stance_daily.stance IS 'asserts | refutes | reports (towards the narrative)';
COMMENT ON COLUMN stance_daily.passages IS 'confirmed, in-scope passages with that stance';
COMMENT ON COLUMN stance_daily.documents IS 'documents with such a passage';
COMMENT ON VIEW tables_guide IS 'the relations of this database: public (for analysts) or internal, with their comments';
COMMENT ON COLUMN tables_guide.relation IS 'table or view name';
COMMENT ON COLUMN tables_guide.kind IS 'table | view';
COMMENT ON COLUMN tables_guide.public IS 'true for the relations analysts query; false for internal bookkeeping';
COMMENT ON COLUMN tables_guide.comment IS 'what it holds';
