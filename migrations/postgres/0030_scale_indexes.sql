-- Indexes for a prefecture-sized network (issue 16; measured with benches/prefecture.rs at
-- 1,000,000 patients, 2,000,000 documents; see README "Running a larger network").
--
-- The patient list (/records) walks the patients in kana order and stops after 500 that the
-- facility may see (records::repo::visible_patients): without this index PostgreSQL sorted all
-- patients first.
CREATE INDEX patients_kana ON patients (kana, id);

-- Whether a blob is still referenced (records::repo::blob_referenced, for every attachment of a
-- purged document) looked through every consent row for a scan: 150 ms a hash at 1,300,000
-- consents. Most consents have no scan, so the indexes hold only those that do.
CREATE INDEX consents_scan ON consents (scan_hash) WHERE scan_hash IS NOT NULL;
CREATE INDEX consents_withdrawn_scan ON consents (withdrawn_scan_hash)
    WHERE withdrawn_scan_hash IS NOT NULL;
