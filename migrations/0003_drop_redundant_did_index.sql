-- The (did, collection, rkey) unique index already serves lookups by did (hiding and unhiding
-- an account's records); a second index on did alone only slows every insert down.
DROP INDEX IF EXISTS appview.record_did_idx;
