-- The terms of a proposal's money, fixed when its first pledge or donation arrives: the project
-- it was about, who is paid (the project's owner, `maintainer`), the currency, the fee rate and
-- the preview's end. A row exists only once money arrived: escrow records nothing for a call it
-- refuses. Later answers from the AppView move the stage only while they are about the same
-- project, and a preview end only ever grows.
ALTER TABLE escrow.proposal
    ADD COLUMN project text,
    ADD COLUMN fee_bps integer CHECK (fee_bps BETWEEN 0 AND 10000),
    ADD COLUMN terms_fixed_at timestamptz,
    -- The public feed of proposal states (fund.greenlight.escrow.listProposalStates): a row
    -- changed since it was last published is `dirty`; the publisher gives it a new seq.
    ADD COLUMN seq bigint UNIQUE,
    ADD COLUMN dirty boolean NOT NULL DEFAULT true,
    ADD COLUMN updated_at timestamptz NOT NULL DEFAULT now();

-- Rows from before terms existed: the fee then in force was the default.
UPDATE escrow.proposal SET fee_bps = 500, terms_fixed_at = synced_at WHERE fee_bps IS NULL;
ALTER TABLE escrow.proposal ALTER COLUMN fee_bps SET NOT NULL;

CREATE SEQUENCE escrow.proposal_seq;
CREATE INDEX proposal_dirty ON escrow.proposal (uri) WHERE dirty;

-- Marks a proposal for publishing when anything the feed shows changes. The publisher's own
-- update (a new seq) is left alone, or publishing would re-dirty every row it published.
CREATE FUNCTION escrow.proposal_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.seq IS DISTINCT FROM OLD.seq THEN
        RETURN NEW;
    END IF;
    IF (NEW.project, NEW.maintainer, NEW.currency, NEW.fee_bps, NEW.stage, NEW.preview_ends_at,
        NEW.released_at, NEW.verification_ends_at, NEW.settlement)
       IS DISTINCT FROM
       (OLD.project, OLD.maintainer, OLD.currency, OLD.fee_bps, OLD.stage, OLD.preview_ends_at,
        OLD.released_at, OLD.verification_ends_at, OLD.settlement) THEN
        NEW.dirty := true;
        NEW.updated_at := now();
    END IF;
    RETURN NEW;
END
$$;
CREATE TRIGGER proposal_changed BEFORE UPDATE ON escrow.proposal
    FOR EACH ROW EXECUTE FUNCTION escrow.proposal_changed();

-- Open disputes are part of a proposal's published state.
CREATE FUNCTION escrow.dispute_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE escrow.proposal SET dirty = true, updated_at = now() WHERE uri = NEW.proposal;
    RETURN NULL;
END
$$;
CREATE TRIGGER dispute_changed AFTER INSERT OR UPDATE OF state ON escrow.dispute
    FOR EACH ROW EXECUTE FUNCTION escrow.dispute_changed();

-- Gives every changed proposal a new seq. One publisher at a time, so seqs become visible in
-- the order they were handed out and a follower reading `seq > cursor` misses nothing.
CREATE FUNCTION escrow.publish_proposal_states() RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
    n bigint;
BEGIN
    PERFORM pg_advisory_xact_lock(7420115);
    WITH changed AS (
        SELECT uri FROM escrow.proposal WHERE dirty AND project IS NOT NULL ORDER BY uri FOR UPDATE
    )
    UPDATE escrow.proposal p SET seq = nextval('escrow.proposal_seq'), dirty = false
    FROM changed c WHERE p.uri = c.uri;
    GET DIAGNOSTICS n = ROW_COUNT;
    RETURN n;
END
$$;
