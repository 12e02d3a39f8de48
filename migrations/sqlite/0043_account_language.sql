-- The language of a person's pages (X.4, issue 15 item 8): 'ja' (the source) or 'en', which
-- only staff roles may choose (POST /account/language). Kept across log-outs.
ALTER TABLE accounts ADD COLUMN language TEXT NOT NULL DEFAULT 'ja' CHECK (language IN ('ja', 'en'));
