-- A job the provider refused for good ('failed') leaves its money owed in refunds:<did> or
-- payable:<did>. An operator retries it (once the cause is fixed: a restricted account, a
-- wrong destination): the failed job becomes 'superseded' and a new job, with a new ledger
-- transfer and so a new provider idempotency key, takes over. Nothing stays stuck owed.
ALTER TABLE escrow.job DROP CONSTRAINT job_state_check;
ALTER TABLE escrow.job ADD CONSTRAINT job_state_check
    CHECK (state IN ('awaiting_account', 'ready', 'reserved', 'done', 'failed', 'superseded'));
ALTER TABLE escrow.job ADD COLUMN retry_of text UNIQUE REFERENCES escrow.job (id);
