-- fearless store, schema 6 (PostgreSQL): what vouched for each journal entry's actor — the store's
-- database role, the OS account, or nobody (a claim under identity.mode: trust). NULL for
-- entries written before schema 6. When set, it is one of the fields the entry's hash covers.
ALTER TABLE journal ADD COLUMN vouched_by TEXT;
