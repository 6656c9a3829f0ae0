-- The sandbox payment provider's own books. It stands in for an outside provider, so it keeps
-- its records apart from the ledger and commits them on its own: what it did survives a crash
-- of the escrow code that called it, exactly as a real provider's records would.
CREATE SCHEMA IF NOT EXISTS sandbox;

CREATE TABLE sandbox.payment (
    id text PRIMARY KEY,
    idempotency_key text NOT NULL UNIQUE,
    amount bigint NOT NULL CHECK (amount > 0),
    currency text NOT NULL,
    reference text NOT NULL,
    status text NOT NULL CHECK (status IN ('requires_payment', 'succeeded', 'failed', 'canceled')),
    created_at timestamptz NOT NULL
);

CREATE TABLE sandbox.refund (
    id text PRIMARY KEY,
    idempotency_key text NOT NULL UNIQUE,
    payment_id text NOT NULL REFERENCES sandbox.payment (id),
    amount bigint NOT NULL CHECK (amount > 0),
    currency text NOT NULL,
    created_at timestamptz NOT NULL
);

CREATE TABLE sandbox.connected_account (
    id text PRIMARY KEY,
    idempotency_key text NOT NULL UNIQUE,
    owner text NOT NULL,
    created_at timestamptz NOT NULL
);

CREATE TABLE sandbox.transfer (
    id text PRIMARY KEY,
    idempotency_key text NOT NULL UNIQUE,
    destination text NOT NULL REFERENCES sandbox.connected_account (id),
    amount bigint NOT NULL CHECK (amount > 0),
    currency text NOT NULL,
    created_at timestamptz NOT NULL
);

-- Events the sandbox sent, so a test (or an operator) can send one again.
CREATE TABLE sandbox.event (
    id text PRIMARY KEY,
    event_type text NOT NULL,
    payload jsonb NOT NULL,
    created_at timestamptz NOT NULL
);
