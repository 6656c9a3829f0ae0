-- A payment that arrives after escrow gave up on a pledge is booked by escrow as a second
-- `pledge_hold` entry (`<pledge>:late-hold`) and then refunded, while the first hold stays
-- voided. One pledge must still be one row: take its live hold, or the newest one when every
-- hold was voided.
CREATE OR REPLACE VIEW appview.escrow_pledge AS
SELECT DISTINCT ON (h.pledge)
    h.pledge AS id, h.proposal, h.backer, h.currency, h.amount, h.created_at,
    CASE
        WHEN h.state = 'voided' THEN 'cancelled'
        WHEN EXISTS (SELECT 1 FROM appview.escrow_entry r
                     WHERE r.pledge = h.pledge AND r.kind = 'refund' AND r.state <> 'voided')
            THEN 'refunded'
        WHEN h.state = 'pending' THEN 'pending'
        WHEN EXISTS (SELECT 1 FROM appview.escrow_entry c
                     WHERE c.proposal = h.proposal AND c.state <> 'voided'
                       AND (c.kind = 'pledge_capture'
                            OR (c.kind = 'fee' AND c.debit_account LIKE 'held:%')))
            THEN 'paid'
        ELSE 'held'
    END AS state
FROM appview.escrow_entry h
WHERE h.kind = 'pledge_hold' AND h.pledge IS NOT NULL
ORDER BY h.pledge, (h.state = 'voided'), h.seq DESC;
