-- fearless store, schema 7 (PostgreSQL): the SSH signature (armored, `ssh-keygen -Y sign`, namespace
-- fearless) over a state-changing entry's hash, by the key of its actor. NULL where the entry
-- was not signed. It stands beside the entry, outside the hash it signs.
ALTER TABLE journal ADD COLUMN signature TEXT;
