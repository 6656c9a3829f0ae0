-- Service-auth tokens escrow accepted, so that none is accepted twice: a token seen by
-- someone else on the way (a log, a proxy, a compromised client) must not open another call.
-- A token is named by its issuer's DID and its `jti`. Its row is needed only while the token
-- could still verify (`usable_until`: its `exp` plus the allowed clock skew); each accepted
-- token prunes a few rows that expired minutes ago (escrow/src/auth.rs). Escrow may run as
-- several processes, so the memory is here and the primary key decides which use was first.
CREATE TABLE escrow.spent_token (
    issuer text NOT NULL CHECK (length(issuer) BETWEEN 1 AND 2048),
    jti text NOT NULL CHECK (length(jti) BETWEEN 1 AND 256),
    usable_until timestamptz NOT NULL,
    spent_at timestamptz NOT NULL,
    PRIMARY KEY (issuer, jti)
);
CREATE INDEX spent_token_usable_until ON escrow.spent_token (usable_until);
