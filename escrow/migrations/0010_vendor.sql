-- How a maintainer appears as the vendor on their retainer quotes and invoices (legal name,
-- address, tax id, email). Private to escrow: a document issued after a change shows the new
-- details; documents issued before keep theirs, frozen in their own facts.
CREATE TABLE escrow.vendor (
    did text PRIMARY KEY,
    details jsonb NOT NULL,
    updated_at timestamptz NOT NULL
);
