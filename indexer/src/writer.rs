//! Applies batches of judged events to Postgres with a handful of multi-row statements
//! (`UNNEST` arrays). A batch is split by author DID into [`LANES`] transactions that run
//! concurrently; the one carrying the source's cursor commits last, after the others, so a
//! stored cursor always covers committed writes (a crash in between only causes a replay).
//!
//! Every write is guarded by the record's repo revision, so replays, duplicates and stale
//! events change nothing: a version is written only if no newer version, deletion or rejection
//! of the same record is stored. Within a batch only the newest op per record is applied, which
//! gives the same end state as applying them one by one.

use std::collections::HashMap;
use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde_json::Value;
use sqlx::postgres::PgPool;
use sqlx::PgConnection;

use crate::event::{
    EventBody, ParkedFrame, RecordAction, RecordOp, RejectedEvent, SourceEvent, ValidRecord,
};
use crate::record_rules::{text_without_nul, without_nul};

/// Advisory lock ids `WRITE_LOCK + lane` serialise the transactions of every writer (live
/// ingest, backfill) on one lane, so that revision checks in one transaction never race with
/// writes of another to the same records.
const WRITE_LOCK: i64 = 0x6772_6e6c_6978; // "grnlix"

/// What happened to a record in a batch, for aggregates maintained by a [`BatchObserver`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordChange {
    /// The record's at-uri.
    pub uri: String,
    /// Its author.
    pub did: String,
    /// Its collection.
    pub collection: String,
    /// What changed.
    pub action: ChangeAction,
    /// The strongRef subject's uri of the version now stored (Put, Unhide) or removed
    /// (Delete, Hide).
    pub subject_uri: Option<String>,
    /// For a Put that replaced an earlier version: that version's subject uri (it may differ,
    /// and then both subjects' aggregates change).
    pub previous_subject_uri: Option<String>,
}

/// The kind of a [`RecordChange`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ChangeAction {
    /// A record was created or replaced by a newer valid version.
    Put,
    /// A record was deleted, or replaced by a version that does not count.
    Delete,
    /// The author's account became inactive; the record is kept but hidden.
    Hide,
    /// The author's account became active again; the record shows again.
    Unhide,
}

/// A hook run inside each batch's transactions just before commit, e.g. to maintain
/// per-proposal totals. An error rolls the batch back (it is retried).
///
/// A batch is written as [`LANES`] concurrent transactions split by author DID; the hook runs
/// in each with that lane's changes, just before that transaction commits. Lane 0's runs last,
/// after the other lanes have committed (it may see their writes), and is the one that stores
/// the cursor. A hook may take locks of its own: no lane waits for another while holding them.
#[async_trait]
pub trait BatchObserver: Send + Sync {
    /// Called with every record change the batch made (possibly none).
    async fn after_batch(
        &self,
        tx: &mut PgConnection,
        changes: &[RecordChange],
    ) -> Result<(), sqlx::Error>;
}

/// Counts of what a batch did, for metrics and tests.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct BatchOutcome {
    /// Events in the batch.
    pub events: usize,
    /// Records created or updated.
    pub puts: usize,
    /// Records deleted (including valid versions replaced by rejected ones).
    pub deletes: usize,
    /// Record versions stored as rejected.
    pub rejected_records: usize,
    /// Events stored as rejected.
    pub rejected_events: usize,
    /// Ops that changed nothing because a newer state was already stored.
    pub stale: usize,
    /// Records hidden or shown by account status changes.
    pub visibility_changes: usize,
}

/// Why a batch could not be written.
#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    /// The database failed; the whole batch was rolled back.
    #[error("database error while writing a batch: {0}")]
    Database(#[from] sqlx::Error),
}

/// Writes batches for one source (`source` names its cursor row).
#[derive(Clone)]
pub struct Writer {
    pool: PgPool,
    source: String,
    observer: Option<Arc<dyn BatchObserver>>,
}

impl std::fmt::Debug for Writer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Writer")
            .field("source", &self.source)
            .field("observer", &self.observer.is_some())
            .finish()
    }
}

impl Writer {
    /// A writer for `source` without an observer.
    pub fn new(pool: PgPool, source: impl Into<String>) -> Writer {
        Writer {
            pool,
            source: source.into(),
            observer: None,
        }
    }

    /// Adds the hook called inside every batch transaction.
    pub fn with_observer(mut self, observer: Arc<dyn BatchObserver>) -> Writer {
        self.observer = Some(observer);
        self
    }

    /// The source name whose cursor this writer stores.
    pub fn source(&self) -> &str {
        &self.source
    }

    /// The pool it writes to.
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    /// Applies `events` in one transaction and stores the largest cursor among them.
    pub async fn write_batch(&self, events: &[SourceEvent]) -> Result<BatchOutcome, WriteError> {
        let plan = BatchPlan::new(events);
        let cursor = plan.cursor;
        let mut lanes = plan.split().into_iter().enumerate();
        let first = lanes.next().map(|(_, plan)| plan).unwrap_or_default();
        // Every lane runs in its own transaction on its own connection, so Postgres works on
        // the batch with more than one core. The other lanes apply, observe and commit on their
        // own; lane 0 applies its statements meanwhile, then waits for them to commit before it
        // runs the observer and stores the cursor. So the cursor only ever covers committed
        // writes (a failure in between causes an idempotent replay), and observers never run in
        // two of a batch's transactions at once (an observer that takes a lock of its own
        // cannot wait on a lane that is itself waiting for the batch).
        let others =
            futures_util::future::join_all(lanes.filter(|(_, plan)| !plan.is_empty()).map(
                |(lane, plan)| async move {
                    let (mut tx, outcome, changes) = self.apply_lane(lane, plan).await?;
                    self.observe(&mut tx, &changes).await?;
                    tx.commit().await?;
                    Ok::<_, WriteError>(outcome)
                },
            ));
        let lane_zero = async {
            if first.is_empty() && cursor.is_none() {
                return Ok(None);
            }
            self.apply_lane(0, first).await.map(Some)
        };
        let (others, lane_zero) = tokio::join!(others, lane_zero);
        let mut outcome = BatchOutcome {
            events: events.len(),
            ..BatchOutcome::default()
        };
        for result in others {
            add_outcome(&mut outcome, &result?);
        }
        if let Some((mut tx, lane_outcome, changes)) = lane_zero? {
            add_outcome(&mut outcome, &lane_outcome);
            self.observe(&mut tx, &changes).await?;
            if let Some(cursor) = cursor {
                sqlx::query!(
                    "INSERT INTO appview.source_cursor (source, position) VALUES ($1, $2)
                     ON CONFLICT (source) DO UPDATE SET position = EXCLUDED.position, updated_at = now()",
                    self.source,
                    cursor
                )
                .execute(&mut *tx)
                .await?;
            }
            tx.commit().await?;
        }
        Ok(outcome)
    }

    async fn observe(
        &self,
        tx: &mut PgConnection,
        changes: &[RecordChange],
    ) -> Result<(), WriteError> {
        if let Some(observer) = &self.observer {
            observer.after_batch(tx, changes).await?;
        }
        Ok(())
    }

    /// Applies one lane's share of a batch in a new transaction, left open for the caller,
    /// with the record changes it made.
    async fn apply_lane(
        &self,
        lane: usize,
        plan: BatchPlan<'_>,
    ) -> Result<
        (
            sqlx::Transaction<'static, sqlx::Postgres>,
            BatchOutcome,
            Vec<RecordChange>,
        ),
        WriteError,
    > {
        let mut tx = self.pool.begin().await?;
        // A batch commits its cursor with its writes, so if Postgres itself crashes and loses
        // the last commits, the cursor goes back with them and the events are replayed: waiting
        // for the WAL flush buys nothing here.
        sqlx::query!("SET LOCAL synchronous_commit = off")
            .execute(&mut *tx)
            .await?;
        sqlx::query!("SELECT pg_advisory_xact_lock($1)", WRITE_LOCK + lane as i64)
            .fetch_one(&mut *tx)
            .await?;
        let mut outcome = BatchOutcome::default();
        let mut changes = Vec::new();
        let started = std::time::Instant::now();
        let observed = self.observer.is_some();
        apply_puts(&mut tx, &plan.puts, observed, &mut changes, &mut outcome).await?;
        apply_deletes(&mut tx, &plan.deletes, &mut changes, &mut outcome).await?;
        apply_rejects(&mut tx, &plan.rejects, &mut changes, &mut outcome).await?;
        apply_identities(&mut tx, &plan.identities).await?;
        apply_accounts(&mut tx, &plan.accounts, &mut changes, &mut outcome).await?;
        apply_rejected_events(&mut tx, &self.source, &plan.rejected_events).await?;
        outcome.rejected_events = plan.rejected_events.len();
        if !plan.resyncs.is_empty() {
            let dids: Vec<String> = plan.resyncs.iter().map(|d| d.to_string()).collect();
            sqlx::query!(
                "INSERT INTO appview.backfill_repo (did, state) SELECT unnest($1::text[]), 'pending'
                 ON CONFLICT (did) DO UPDATE SET state = 'pending', updated_at = now()",
                &dids
            )
            .execute(&mut *tx)
            .await?;
        }
        apply_parks(&mut tx, &self.source, &plan.parks, &plan.unparks).await?;
        tracing::debug!(lane, ops = plan.puts.len() + plan.deletes.len() + plan.rejects.len(),
                        elapsed = ?started.elapsed(), "lane statements");
        Ok((tx, outcome, changes))
    }
}

/// How many transactions a batch is split into (by author DID). A constant, because every
/// writer of a database (live ingest, backfill) must agree on which lane a DID belongs to:
/// lanes are serialised across writers by an advisory lock each.
pub const LANES: usize = 2;

/// The lane of a DID (FNV-1a, stable across processes and versions).
pub fn lane_of(did: &str) -> usize {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in did.bytes() {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    (hash % LANES as u64) as usize
}

fn add_outcome(total: &mut BatchOutcome, part: &BatchOutcome) {
    total.puts += part.puts;
    total.deletes += part.deletes;
    total.rejected_records += part.rejected_records;
    total.rejected_events += part.rejected_events;
    total.stale += part.stale;
    total.visibility_changes += part.visibility_changes;
}

/// A batch sorted into the statements that apply it.
#[derive(Default)]
struct BatchPlan<'a> {
    puts: Vec<(&'a RecordOp, &'a ValidRecord)>,
    deletes: Vec<&'a RecordOp>,
    rejects: Vec<&'a RecordOp>,
    /// Last handle per DID, in first-seen order.
    identities: Vec<(&'a str, Option<&'a str>)>,
    /// Last status per DID.
    accounts: Vec<(&'a str, bool, Option<&'a str>)>,
    rejected_events: Vec<(Option<i64>, &'a RejectedEvent)>,
    /// Repos to queue for backfill.
    resyncs: Vec<&'a str>,
    /// Commits to park, in order.
    parks: Vec<&'a ParkedFrame>,
    /// Parked commits replayed, per repo.
    unparks: Vec<(&'a str, &'a [i64])>,
    cursor: Option<i64>,
}

impl<'a> BatchPlan<'a> {
    fn is_empty(&self) -> bool {
        self.puts.is_empty()
            && self.deletes.is_empty()
            && self.rejects.is_empty()
            && self.identities.is_empty()
            && self.accounts.is_empty()
            && self.rejected_events.is_empty()
            && self.resyncs.is_empty()
            && self.parks.is_empty()
            && self.unparks.is_empty()
    }

    /// Splits the plan into [`LANES`] plans by author DID (the cursor stays out of them).
    fn split(self) -> Vec<BatchPlan<'a>> {
        let mut lanes: Vec<BatchPlan<'a>> = (0..LANES).map(|_| BatchPlan::default()).collect();
        for put in self.puts {
            lanes[lane_of(&put.0.did)].puts.push(put);
        }
        for op in self.deletes {
            lanes[lane_of(&op.did)].deletes.push(op);
        }
        for op in self.rejects {
            lanes[lane_of(&op.did)].rejects.push(op);
        }
        for identity in self.identities {
            lanes[lane_of(identity.0)].identities.push(identity);
        }
        for account in self.accounts {
            lanes[lane_of(account.0)].accounts.push(account);
        }
        for did in self.resyncs {
            lanes[lane_of(did)].resyncs.push(did);
        }
        // A repo's parks, its replayed records and their release share its lane, so a replay
        // and the release of what it replayed commit together (exactly once), after the parks
        // of the same batch.
        for parked in self.parks {
            lanes[lane_of(&parked.did)].parks.push(parked);
        }
        for unpark in self.unparks {
            lanes[lane_of(unpark.0)].unparks.push(unpark);
        }
        for rejected in self.rejected_events {
            let lane = rejected.1.did.as_deref().map_or(0, lane_of);
            lanes[lane].rejected_events.push(rejected);
        }
        lanes
    }

    fn new(events: &'a [SourceEvent]) -> BatchPlan<'a> {
        let mut plan = BatchPlan::default();
        // Newest op per record: the highest rev, and for equal revs the later one.
        let mut newest: HashMap<(&str, &str, &str), &RecordOp> = HashMap::new();
        let mut order: Vec<(&str, &str, &str)> = Vec::new();
        let mut identity_at: HashMap<&str, usize> = HashMap::new();
        let mut account_at: HashMap<&str, usize> = HashMap::new();
        for event in events {
            if let Some(cursor) = event.cursor {
                plan.cursor = Some(plan.cursor.map_or(cursor, |c: i64| c.max(cursor)));
            }
            match &event.body {
                EventBody::Records(ops) => {
                    for op in ops {
                        let key = (op.did.as_str(), op.collection.as_str(), op.rkey.as_str());
                        match newest.get(&key) {
                            Some(kept) if kept.rev > op.rev => {}
                            Some(_) => {
                                newest.insert(key, op);
                            }
                            None => {
                                newest.insert(key, op);
                                order.push(key);
                            }
                        }
                    }
                }
                EventBody::Identity { did, handle } => {
                    let entry = (did.as_str(), handle.as_deref());
                    match identity_at.get(did.as_str()) {
                        Some(&at) => plan.identities[at] = entry,
                        None => {
                            identity_at.insert(did, plan.identities.len());
                            plan.identities.push(entry);
                        }
                    }
                }
                EventBody::Account {
                    did,
                    active,
                    status,
                } => {
                    let entry = (did.as_str(), *active, status.as_deref());
                    match account_at.get(did.as_str()) {
                        Some(&at) => plan.accounts[at] = entry,
                        None => {
                            account_at.insert(did, plan.accounts.len());
                            plan.accounts.push(entry);
                        }
                    }
                }
                EventBody::Rejected(rejected) => {
                    plan.rejected_events.push((event.cursor, rejected))
                }
                EventBody::Resync { did } => plan.resyncs.push(did),
                EventBody::Park(parked) => plan.parks.push(parked),
                EventBody::Unpark { did, seqs } => plan.unparks.push((did, seqs)),
                EventBody::Nothing => {}
            }
        }
        for key in order {
            let Some(op) = newest.get(&key) else { continue };
            match &op.action {
                RecordAction::Put(record) => plan.puts.push((op, record)),
                RecordAction::Delete => plan.deletes.push(op),
                RecordAction::Reject { .. } => plan.rejects.push(op),
            }
        }
        plan
    }
}

/// A row of `RETURNING uri, did, collection, subject_uri` turned into a change.
fn change(
    uri: String,
    did: String,
    collection: String,
    subject_uri: Option<String>,
    action: ChangeAction,
) -> RecordChange {
    RecordChange {
        uri,
        did,
        collection,
        action,
        subject_uri,
        previous_subject_uri: None,
    }
}

async fn apply_puts(
    tx: &mut PgConnection,
    puts: &[(&RecordOp, &ValidRecord)],
    track_previous: bool,
    changes: &mut Vec<RecordChange>,
    outcome: &mut BatchOutcome,
) -> Result<(), sqlx::Error> {
    if puts.is_empty() {
        return Ok(());
    }
    let n = puts.len();
    let mut uri = Vec::with_capacity(n);
    let mut did = Vec::with_capacity(n);
    let mut collection = Vec::with_capacity(n);
    let mut rkey = Vec::with_capacity(n);
    let mut cid = Vec::with_capacity(n);
    let mut rev = Vec::with_capacity(n);
    let mut body: Vec<Value> = Vec::with_capacity(n);
    let mut subject_uri = Vec::with_capacity(n);
    let mut subject_cid = Vec::with_capacity(n);
    let mut amount = Vec::with_capacity(n);
    let mut currency = Vec::with_capacity(n);
    let mut stage = Vec::with_capacity(n);
    let mut created_at: Vec<DateTime<Utc>> = Vec::with_capacity(n);
    for (op, record) in puts {
        uri.push(op.uri());
        did.push(op.did.clone());
        collection.push(op.collection.clone());
        rkey.push(op.rkey.clone());
        cid.push(record.cid.clone());
        rev.push(op.rev.clone());
        body.push(record.body.clone());
        subject_uri.push(record.fields.subject_uri.clone());
        subject_cid.push(record.fields.subject_cid.clone());
        amount.push(record.fields.amount);
        currency.push(record.fields.currency.clone());
        stage.push(record.fields.stage.clone());
        created_at.push(record.fields.created_at);
    }
    // Subjects of the versions about to be replaced, for the observer only (a join back from
    // the insert's RETURNING would be planned as a nested loop over both CTEs).
    let previous: HashMap<String, Option<String>> = if track_previous {
        sqlx::query!(
            "SELECT uri, subject_uri FROM appview.record WHERE uri = ANY($1)",
            &uri
        )
        .fetch_all(&mut *tx)
        .await?
        .into_iter()
        .map(|row| (row.uri, row.subject_uri))
        .collect()
    } else {
        HashMap::new()
    };
    let rows = sqlx::query!(
        r#"WITH input AS (
               SELECT * FROM UNNEST($1::text[], $2::text[], $3::text[], $4::text[], $5::text[],
                                    $6::text[], $7::jsonb[], $8::text[], $9::text[], $10::int8[],
                                    $11::text[], $12::text[], $13::timestamptz[])
                   AS t(uri, did, collection, rkey, cid, rev, body, subject_uri, subject_cid,
                        amount, currency, stage, created_at)
           ), fresh AS (
               SELECT i.*,
                      COALESCE((SELECT NOT a.active FROM appview.actor a WHERE a.did = i.did), false) AS hidden
               FROM input i
               -- Scalar subqueries rather than NOT EXISTS: the planner cannot estimate UNNEST
               -- and would pick anti joins that scan these tables once per row.
               WHERE COALESCE((SELECT t.rev FROM appview.record_tombstone t WHERE t.uri = i.uri), '') < i.rev
                 AND COALESCE((SELECT j.rev FROM appview.rejected_record j WHERE j.uri = i.uri), '') < i.rev
           ), written AS (
               INSERT INTO appview.record AS r
                   (uri, did, collection, rkey, cid, rev, body, subject_uri, subject_cid, amount,
                    currency, stage, created_at, hidden)
               SELECT uri, did, collection, rkey, cid, rev, body, subject_uri, subject_cid,
                      amount, currency, stage, created_at, hidden
               FROM fresh
               ON CONFLICT (uri) DO UPDATE SET
                   cid = EXCLUDED.cid, rev = EXCLUDED.rev, body = EXCLUDED.body,
                   subject_uri = EXCLUDED.subject_uri, subject_cid = EXCLUDED.subject_cid,
                   amount = EXCLUDED.amount, currency = EXCLUDED.currency,
                   stage = EXCLUDED.stage, created_at = EXCLUDED.created_at,
                   indexed_at = now()
               WHERE r.rev < EXCLUDED.rev
               RETURNING r.uri, r.did, r.collection, r.subject_uri
           ), cleared AS (
               DELETE FROM appview.rejected_record j USING written w WHERE j.uri = w.uri
           )
           SELECT w.uri AS "uri!", w.did AS "did!", w.collection AS "collection!",
                  w.subject_uri
           FROM written w"#,
        &uri,
        &did,
        &collection,
        &rkey,
        &cid,
        &rev,
        &body,
        &subject_uri as &[Option<String>],
        &subject_cid as &[Option<String>],
        &amount as &[Option<i64>],
        &currency as &[Option<String>],
        &stage as &[Option<String>],
        &created_at,
    )
    .fetch_all(&mut *tx)
    .await?;
    outcome.puts += rows.len();
    outcome.stale += n - rows.len();
    changes.extend(rows.into_iter().map(|row| RecordChange {
        previous_subject_uri: previous.get(&row.uri).cloned().flatten(),
        ..change(
            row.uri,
            row.did,
            row.collection,
            row.subject_uri,
            ChangeAction::Put,
        )
    }));
    Ok(())
}

async fn apply_deletes(
    tx: &mut PgConnection,
    deletes: &[&RecordOp],
    changes: &mut Vec<RecordChange>,
    outcome: &mut BatchOutcome,
) -> Result<(), sqlx::Error> {
    if deletes.is_empty() {
        return Ok(());
    }
    let uri: Vec<String> = deletes.iter().map(|op| op.uri()).collect();
    let rev: Vec<String> = deletes.iter().map(|op| op.rev.clone()).collect();
    let rows = sqlx::query!(
        r#"WITH input AS (
               SELECT * FROM UNNEST($1::text[], $2::text[]) AS t(uri, rev)
           ), tombstoned AS (
               INSERT INTO appview.record_tombstone AS t (uri, rev)
               SELECT uri, rev FROM input
               ON CONFLICT (uri) DO UPDATE SET rev = EXCLUDED.rev, deleted_at = now()
               WHERE t.rev < EXCLUDED.rev
           ), unrejected AS (
               DELETE FROM appview.rejected_record j USING input i
               WHERE j.uri = i.uri AND j.rev < i.rev
           )
           DELETE FROM appview.record r USING input i
           WHERE r.uri = i.uri AND r.rev < i.rev
           RETURNING r.uri, r.did, r.collection, r.subject_uri"#,
        &uri,
        &rev,
    )
    .fetch_all(&mut *tx)
    .await?;
    outcome.deletes += rows.len();
    changes.extend(rows.into_iter().map(|row| {
        change(
            row.uri,
            row.did,
            row.collection,
            row.subject_uri,
            ChangeAction::Delete,
        )
    }));
    Ok(())
}

async fn apply_rejects(
    tx: &mut PgConnection,
    rejects: &[&RecordOp],
    changes: &mut Vec<RecordChange>,
    outcome: &mut BatchOutcome,
) -> Result<(), sqlx::Error> {
    if rejects.is_empty() {
        return Ok(());
    }
    let n = rejects.len();
    let (mut uri, mut did, mut collection, mut rkey) = (
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
    );
    let (mut cid, mut rev, mut body, mut reason) = (
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::<Option<Value>>::with_capacity(n),
        Vec::with_capacity(n),
    );
    for op in rejects {
        let RecordAction::Reject {
            cid: c,
            body: b,
            reason: r,
        } = &op.action
        else {
            continue;
        };
        uri.push(op.uri());
        did.push(op.did.clone());
        collection.push(op.collection.clone());
        rkey.push(op.rkey.clone());
        cid.push(c.as_deref().map(text_without_nul));
        rev.push(op.rev.clone());
        body.push(b.clone().map(without_nul));
        reason.push(text_without_nul(r));
    }
    let rows = sqlx::query!(
        r#"WITH input AS (
               SELECT * FROM UNNEST($1::text[], $2::text[], $3::text[], $4::text[], $5::text[],
                                    $6::text[], $7::jsonb[], $8::text[])
                   AS t(uri, did, collection, rkey, cid, rev, body, reason)
           ), fresh AS (
               SELECT i.* FROM input i
               WHERE COALESCE((SELECT t.rev FROM appview.record_tombstone t WHERE t.uri = i.uri), '') < i.rev
                 AND COALESCE((SELECT r.rev FROM appview.record r WHERE r.uri = i.uri), '') < i.rev
           ), kept AS (
               INSERT INTO appview.rejected_record AS j
                   (uri, did, collection, rkey, cid, rev, body, reason)
               SELECT uri, did, collection, rkey, cid, rev, body, reason FROM fresh
               ON CONFLICT (uri) DO UPDATE SET
                   cid = EXCLUDED.cid, rev = EXCLUDED.rev, body = EXCLUDED.body,
                   reason = EXCLUDED.reason, rejected_at = now()
               WHERE j.rev < EXCLUDED.rev
               RETURNING j.uri
           ), replaced AS (
               DELETE FROM appview.record r USING fresh f
               WHERE r.uri = f.uri AND r.rev < f.rev
               RETURNING r.uri, r.did, r.collection, r.subject_uri
           )
           SELECT (SELECT count(*) FROM kept) AS "kept!",
                  r.uri AS "uri?", r.did AS "did?", r.collection AS "collection?", r.subject_uri
           FROM (SELECT 1) one LEFT JOIN replaced r ON true"#,
        &uri,
        &did,
        &collection,
        &rkey,
        &cid as &[Option<String>],
        &rev,
        &body as &[Option<Value>],
        &reason,
    )
    .fetch_all(&mut *tx)
    .await?;
    let kept = rows.first().map_or(0, |row| row.kept);
    outcome.rejected_records += usize::try_from(kept).unwrap_or(0);
    outcome.stale += n.saturating_sub(usize::try_from(kept).unwrap_or(0));
    for row in rows {
        if let (Some(uri), Some(did), Some(collection)) = (row.uri, row.did, row.collection) {
            outcome.deletes += 1;
            changes.push(change(
                uri,
                did,
                collection,
                row.subject_uri,
                ChangeAction::Delete,
            ));
        }
    }
    Ok(())
}

async fn apply_identities(
    tx: &mut PgConnection,
    identities: &[(&str, Option<&str>)],
) -> Result<(), sqlx::Error> {
    if identities.is_empty() {
        return Ok(());
    }
    let did: Vec<String> = identities.iter().map(|(d, _)| d.to_string()).collect();
    let handle: Vec<Option<String>> = identities
        .iter()
        .map(|(_, h)| h.map(text_without_nul))
        .collect();
    sqlx::query!(
        "INSERT INTO appview.actor AS a (did, handle)
         SELECT * FROM UNNEST($1::text[], $2::text[])
         ON CONFLICT (did) DO UPDATE SET handle = EXCLUDED.handle, updated_at = now()",
        &did,
        &handle as &[Option<String>],
    )
    .execute(&mut *tx)
    .await?;
    Ok(())
}

async fn apply_accounts(
    tx: &mut PgConnection,
    accounts: &[(&str, bool, Option<&str>)],
    changes: &mut Vec<RecordChange>,
    outcome: &mut BatchOutcome,
) -> Result<(), sqlx::Error> {
    if accounts.is_empty() {
        return Ok(());
    }
    let did: Vec<String> = accounts.iter().map(|(d, _, _)| d.to_string()).collect();
    let active: Vec<bool> = accounts.iter().map(|(_, a, _)| *a).collect();
    let status: Vec<Option<String>> = accounts
        .iter()
        .map(|(_, _, s)| s.map(text_without_nul))
        .collect();
    sqlx::query!(
        "INSERT INTO appview.actor AS a (did, active, status)
         SELECT * FROM UNNEST($1::text[], $2::bool[], $3::text[])
         ON CONFLICT (did) DO UPDATE SET active = EXCLUDED.active, status = EXCLUDED.status,
                                         updated_at = now()",
        &did,
        &active,
        &status as &[Option<String>],
    )
    .execute(&mut *tx)
    .await?;
    // Account events are rare; one indexed statement per account keeps the plan obvious.
    let mut rows = Vec::new();
    for (did, active) in did.iter().zip(&active) {
        rows.extend(
            sqlx::query!(
                r#"UPDATE appview.record SET hidden = NOT $2
                   WHERE did = $1 AND hidden = $2
                   RETURNING uri, did, collection, subject_uri, hidden"#,
                did,
                active,
            )
            .fetch_all(&mut *tx)
            .await?,
        );
    }
    outcome.visibility_changes += rows.len();
    changes.extend(rows.into_iter().map(|row| {
        let action = if row.hidden {
            ChangeAction::Hide
        } else {
            ChangeAction::Unhide
        };
        change(row.uri, row.did, row.collection, row.subject_uri, action)
    }));
    Ok(())
}

async fn apply_rejected_events(
    tx: &mut PgConnection,
    source: &str,
    rejected: &[(Option<i64>, &RejectedEvent)],
) -> Result<(), sqlx::Error> {
    if rejected.is_empty() {
        return Ok(());
    }
    let position: Vec<Option<i64>> = rejected.iter().map(|(p, _)| *p).collect();
    let did: Vec<Option<String>> = rejected
        .iter()
        .map(|(_, r)| r.did.as_deref().map(text_without_nul))
        .collect();
    let reason: Vec<String> = rejected
        .iter()
        .map(|(_, r)| text_without_nul(&r.reason))
        .collect();
    let body: Vec<Option<Value>> = rejected
        .iter()
        .map(|(_, r)| r.body.clone().map(without_nul))
        .collect();
    sqlx::query!(
        "INSERT INTO appview.rejected_event (source, position, did, reason, body)
         SELECT $1, * FROM UNNEST($2::int8[], $3::text[], $4::text[], $5::jsonb[])",
        source,
        &position as &[Option<i64>],
        &did as &[Option<String>],
        &reason,
        &body as &[Option<Value>],
    )
    .execute(&mut *tx)
    .await?;
    Ok(())
}

/// Parks commits and releases replayed ones (parks first: a batch may hold both for a repo).
async fn apply_parks(
    tx: &mut PgConnection,
    source: &str,
    parks: &[&ParkedFrame],
    unparks: &[(&str, &[i64])],
) -> Result<(), sqlx::Error> {
    if !parks.is_empty() {
        let seq: Vec<i64> = parks.iter().map(|p| p.seq).collect();
        let did: Vec<String> = parks.iter().map(|p| text_without_nul(&p.did)).collect();
        let frame: Vec<Vec<u8>> = parks.iter().map(|p| p.frame.clone()).collect();
        let reason: Vec<String> = parks.iter().map(|p| text_without_nul(&p.reason)).collect();
        // A replay of the stream after a crash parks the same frame again: keep the first.
        sqlx::query!(
            "INSERT INTO appview.parked_event (source, seq, did, frame, reason)
             SELECT $1, * FROM UNNEST($2::int8[], $3::text[], $4::bytea[], $5::text[])
             ON CONFLICT (source, seq) DO NOTHING",
            source,
            &seq,
            &did,
            &frame,
            &reason,
        )
        .execute(&mut *tx)
        .await?;
    }
    for (did, seqs) in unparks {
        sqlx::query!(
            "DELETE FROM appview.parked_event WHERE source = $1 AND did = $2 AND seq = ANY($3)",
            source,
            did,
            seqs,
        )
        .execute(&mut *tx)
        .await?;
    }
    Ok(())
}

/// Keeps the AppView's aggregates (`greenlight-aggregates`: proposal stages, estimate totals)
/// in step with every batch, inside the batch's own transaction.
#[derive(Debug, Clone, Copy, Default)]
pub struct AggregatesObserver;

#[async_trait]
impl BatchObserver for AggregatesObserver {
    async fn after_batch(
        &self,
        tx: &mut PgConnection,
        changes: &[RecordChange],
    ) -> Result<(), sqlx::Error> {
        let changed: Vec<greenlight_aggregates::ChangedRecord<'_>> = changes
            .iter()
            .map(|c| greenlight_aggregates::ChangedRecord {
                uri: &c.uri,
                collection: &c.collection,
                subject_uri: c.subject_uri.as_deref(),
                previous_subject_uri: c.previous_subject_uri.as_deref(),
            })
            .collect();
        greenlight_aggregates::apply_record_changes(tx, &changed)
            .await
            .map(|_| ())
    }
}
