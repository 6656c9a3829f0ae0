-- Signing in to the AppView in a browser with atproto OAuth (the AppView is the OAuth
-- client). Tokens and DPoP keys never reach the browser: they are sealed (XChaCha20-Poly1305
-- under the AppView's session secret) and kept here; the browser holds only a random
-- session id, of which only the SHA-256 is stored.

-- One pending authorization per sign-in started: PKCE verifier, DPoP key, issuer, and the
-- binding to the browser that started it. Single use; old rows are swept.
CREATE TABLE appview.oauth_state (
    state       text PRIMARY KEY,
    sealed      bytea NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now()
);

-- The OAuth session (token set and DPoP key) of each signed-in account.
CREATE TABLE appview.oauth_session (
    did         text PRIMARY KEY,
    sealed      bytea NOT NULL,
    updated_at  timestamptz NOT NULL DEFAULT now()
);

-- A browser's sign-in: the cookie carries the id, the forms carry the CSRF token.
CREATE TABLE appview.browser_session (
    id_hash     bytea PRIMARY KEY,
    did         text NOT NULL,
    handle      text,
    csrf        text NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    expires_at  timestamptz NOT NULL
);
CREATE INDEX browser_session_did ON appview.browser_session (did);
