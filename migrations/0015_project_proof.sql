-- Proof that a project controls the repository (and website) it names: a file there naming
-- the project (see greenlight-repository-proof). Unlike the aggregates this is not derived
-- from records but observed on other sites, so a rebuild keeps it; the AppView's proof worker
-- re-checks every project periodically and soon after its record changes.

-- What makes two repository addresses the same repository: no scheme, no `www.`, lower case
-- (forges treat owner and name case-insensitively), no query or fragment, no trailing `/`
-- or `.git`. The one definition, used by the AppView and the aggregates alike.
CREATE FUNCTION appview.repository_key(url text) RETURNS text
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
AS $$
    SELECT regexp_replace(
               regexp_replace(
                   regexp_replace(lower(split_part(split_part(btrim(url), '#', 1), '?', 1)),
                                  '^https?://(www\.)?', ''),
                   '/+$', ''),
               '\.git/*$', '')
$$;

-- The latest check of each project.
CREATE TABLE appview.project_proof (
    project_uri    text PRIMARY KEY,
    -- The version of the project record checked, and the places it named then: a proof of
    -- other places says nothing about the record as it is now.
    cid            text NOT NULL,
    repository     text NOT NULL,
    website        text,
    repository_key text NOT NULL,
    -- Whether any location named the project.
    verified       boolean NOT NULL,
    -- When a check last found a proof (`defs#projectProof.verifiedAt`).
    verified_at    timestamptz,
    -- Since when, without interruption, a file in the repository itself names the project;
    -- null when none does. When several projects prove one repository, the earliest wins
    -- its bare-repository proposals.
    repository_verified_since timestamptz,
    checked_at     timestamptz NOT NULL
);
CREATE INDEX project_proof_checked_idx ON appview.project_proof (checked_at);
CREATE INDEX project_proof_repository_idx ON appview.project_proof (repository_key)
    WHERE repository_verified_since IS NOT NULL;

-- The latest check of each proof location of a project (`defs#proofCheck`), replaced whole
-- at every check.
CREATE TABLE appview.project_proof_check (
    project_uri text NOT NULL REFERENCES appview.project_proof (project_uri) ON DELETE CASCADE,
    proof_url   text NOT NULL,
    -- Order of the locations as checked (repository files, then the website).
    position    integer NOT NULL,
    place       text NOT NULL,
    result      text NOT NULL,
    detail      text,
    checked_at  timestamptz NOT NULL,
    PRIMARY KEY (project_uri, proof_url)
);

-- When `checkProjectProof` last ran for a project: the method's rate limit, shared by every
-- AppView process on this database.
CREATE TABLE appview.project_proof_request (
    project_uri  text PRIMARY KEY,
    requested_at timestamptz NOT NULL
);

-- Each project's proof as it stands for its record indexed now: verified only while the
-- checked places are still the record's places. What every reader uses.
CREATE VIEW appview.project_verification AS
SELECT p.project_uri AS uri,
       (p.verified AND same.places) AS verified,
       p.verified_at,
       CASE WHEN same.places THEN p.repository_verified_since END AS repository_verified_since,
       p.repository_key,
       p.checked_at
FROM appview.project_proof p
JOIN appview.record r ON r.uri = p.project_uri
    AND r.collection = 'fund.greenlight.project' AND NOT r.hidden
CROSS JOIN LATERAL (
    SELECT p.repository = (r.body->>'repository')
           AND p.website IS NOT DISTINCT FROM (r.body->>'website') AS places
) same;

-- Bare-repository proposals by repository, for attaching them to the project proving it.
CREATE INDEX record_repository_proposal_idx
    ON appview.record (appview.repository_key(body->'subject'->>'url'))
    WHERE collection = 'fund.greenlight.proposal'
      AND body->'subject'->>'$type' = 'fund.greenlight.proposal#repository';
