-- Payments the provider took for another amount or currency than their pledge or donation
-- asked for. Such money is booked as received (`mismatched_payment`: provider_clearing ->
-- refunds:<payer>, in the currency received), the pledge or donation fails, and a refund job
-- returns exactly what was received. One row per payment, written in the webhook's
-- transaction: operators see what happened here, and any later event about the payment
-- finds the row and changes nothing.
CREATE TABLE escrow.mismatched_payment (
    provider text NOT NULL,
    payment_id text NOT NULL,
    -- The webhook event that reported the payment.
    event_id text NOT NULL,
    pledge text REFERENCES escrow.pledge (id),
    donation text REFERENCES escrow.donation (id),
    -- The backer or donor, who is refunded.
    payer text NOT NULL,
    expected_amount bigint NOT NULL CHECK (expected_amount > 0),
    expected_currency text NOT NULL CHECK (expected_currency ~ '^[A-Z]{3}$'),
    received_amount bigint NOT NULL CHECK (received_amount >= 0),
    received_currency text NOT NULL CHECK (received_currency ~ '^[A-Z]{3}$'),
    -- The ledger transfer booking the money and the job refunding it; NULL when nothing
    -- was received.
    transfer_id text UNIQUE REFERENCES escrow.transfer (id),
    refund_job text UNIQUE REFERENCES escrow.job (id),
    created_at timestamptz NOT NULL,
    PRIMARY KEY (provider, payment_id),
    CHECK ((pledge IS NULL) <> (donation IS NULL)),
    CHECK ((transfer_id IS NULL) = (refund_job IS NULL)),
    CHECK ((received_amount = 0) = (transfer_id IS NULL)),
    -- Only a payment that differs is recorded here.
    CHECK (received_amount <> expected_amount OR received_currency <> expected_currency)
);
