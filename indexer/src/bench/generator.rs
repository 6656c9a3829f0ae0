//! The benchmark's stream: a deterministic (seeded) generator of a realistic mix of firehose
//! events, each a real `subscribeRepos` frame built with the firehose crate's encoder, together
//! with the row it stands for in the indexer's tables (for the COPY baseline).

use greenlight_firehose::test_fixtures::{cid_of, commit_frame, dagcbor, message, op};
use ipld_core::ipld;
use ipld_core::ipld::Ipld;
use serde_json::{json, Value};

use crate::record_rules::{DISPUTE, ESTIMATE, PLEDGE, PROJECT, PROPOSAL, STATUS};

/// A CID string used as every strongRef's cid.
const SUBJECT_CID: &str = "bafyreie5737gdxlw5i64vzichcalba3z2v5n6icifvx5xytvske7mr3hpm";

/// The generated repos have no keys: signatures are not checked in the benchmark.
const SIGNATURE: [u8; 64] = [7; 64];

/// A generated event: its frame and the row it stands for.
pub(super) struct GeneratedEvent {
    pub frame: Vec<u8>,
    pub row: StoredRow,
}

/// The row an event stands for in the indexer's tables.
pub(super) enum StoredRow {
    /// A created or updated record (`appview.record`).
    Record {
        did: String,
        collection: &'static str,
        rkey: String,
        cid: String,
        rev: String,
        record: Value,
    },
    /// A deleted record (`appview.record_tombstone`).
    Tombstone { uri: String, rev: String },
    /// An `#identity` or `#account` event (`appview.actor`).
    Actor {
        did: String,
        handle: Option<String>,
        active: bool,
        status: Option<&'static str>,
    },
}

/// A deterministic generator of a realistic mixed stream.
pub struct StreamGenerator {
    rng: u64,
    repos: usize,
    seq: i64,
    tid_clock: u64,
    /// Records that exist (for updates and deletes): (repo, collection, rkey).
    live: Vec<(usize, &'static str, String)>,
    proposals: Vec<String>,
    deactivated: Vec<bool>,
}

impl StreamGenerator {
    /// A generator over `repos` accounts.
    pub fn new(seed: u64, repos: usize) -> StreamGenerator {
        StreamGenerator {
            rng: seed.max(1),
            repos: repos.max(1),
            seq: 0,
            tid_clock: 1_700_000_000_000_000,
            live: Vec::new(),
            proposals: vec![format!("at://{}/{PROPOSAL}/3kaaaaaaaaaaa", repo_did(0))],
            deactivated: vec![false; repos.max(1)],
        }
    }

    fn next_u64(&mut self) -> u64 {
        // xorshift64*: fast and good enough to mix a benchmark stream.
        self.rng ^= self.rng >> 12;
        self.rng ^= self.rng << 25;
        self.rng ^= self.rng >> 27;
        self.rng.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n.max(1) as u64) as usize
    }

    fn tid(&mut self) -> String {
        self.tid_clock += 1;
        tid_string(self.tid_clock << 10)
    }

    /// Frames of the next `n` events, for tests.
    pub fn frames(&mut self, n: usize) -> Vec<Vec<u8>> {
        (0..n).map(|_| self.next_event().frame).collect()
    }

    /// A `#commit` frame deleting `path` in `did`'s repo at `rev`, for tests of hostile input.
    #[cfg(test)]
    pub(crate) fn delete_frame(&mut self, did: &str, rev: &str, path: &str) -> Vec<u8> {
        self.seq += 1;
        self.commit(did, rev, op("delete", path, None), None)
    }

    pub(super) fn next_event(&mut self) -> GeneratedEvent {
        self.seq += 1;
        let roll = self.below(1000);
        let repo = self.below(self.repos);
        match roll {
            0..=1 => self.account_event(repo),
            2..=21 => self.identity_event(repo),
            22..=121 if !self.live.is_empty() => self.delete_event(),
            122..=271 if !self.live.is_empty() => self.update_event(),
            272..=311 => self.invalid_event(repo),
            _ => self.create_event(repo, roll),
        }
    }

    fn account_event(&mut self, repo: usize) -> GeneratedEvent {
        let active = self.deactivated[repo];
        self.deactivated[repo] = !active;
        let did = repo_did(repo);
        let status = (!active).then_some("deactivated");
        let mut body =
            ipld!({"seq": self.seq, "did": did.clone(), "time": now_string(), "active": active});
        if let (Ipld::Map(fields), Some(status)) = (&mut body, status) {
            fields.insert("status".to_owned(), Ipld::String(status.to_owned()));
        }
        GeneratedEvent {
            frame: message("#account", &body),
            row: StoredRow::Actor {
                did,
                handle: None,
                active,
                status,
            },
        }
    }

    fn identity_event(&mut self, repo: usize) -> GeneratedEvent {
        let did = repo_did(repo);
        let handle = format!("user{repo}-{}.example.com", self.seq);
        GeneratedEvent {
            frame: message(
                "#identity",
                &ipld!({"seq": self.seq, "did": did.clone(), "time": now_string(), "handle": handle.clone()}),
            ),
            row: StoredRow::Actor {
                did,
                handle: Some(handle),
                active: true,
                status: None,
            },
        }
    }

    fn delete_event(&mut self) -> GeneratedEvent {
        let at = self.below(self.live.len());
        let (repo, collection, rkey) = self.live.swap_remove(at);
        let rev = self.tid();
        let did = repo_did(repo);
        let path = format!("{collection}/{rkey}");
        GeneratedEvent {
            frame: self.commit(&did, &rev, op("delete", &path, None), None),
            row: StoredRow::Tombstone {
                uri: format!("at://{did}/{path}"),
                rev,
            },
        }
    }

    fn update_event(&mut self) -> GeneratedEvent {
        let at = self.below(self.live.len());
        let (repo, collection, rkey) = self.live[at].clone();
        let record = self.record(collection, repo);
        self.write_event(repo, collection, rkey, record, "update")
    }

    fn invalid_event(&mut self, repo: usize) -> GeneratedEvent {
        let proposal = self.proposal();
        let record = match self.below(5) {
            // Lower-case currency.
            0 => json!({"$type": ESTIMATE, "subject": {"uri": proposal, "cid": SUBJECT_CID},
                        "amount": 500, "currency": "usd", "createdAt": "2025-01-01T00:00:00Z"}),
            // Negative amount.
            1 => json!({"$type": PLEDGE, "subject": {"uri": proposal, "cid": SUBJECT_CID},
                        "amount": -5, "currency": "USD", "receipt": "r", "createdAt": "2025-01-01T00:00:00Z"}),
            // A strongRef to the wrong collection.
            2 => {
                json!({"$type": ESTIMATE, "subject": {"uri": proposal.replace(PROPOSAL, PROJECT), "cid": SUBJECT_CID},
                        "amount": 500, "currency": "USD", "createdAt": "2025-01-01T00:00:00Z"})
            }
            // An oversized title.
            3 => {
                json!({"$type": PROPOSAL, "subject": {"$type": "fund.greenlight.proposal#repository", "url": "https://example.com/r"},
                        "title": "x".repeat(1300), "body": "", "createdAt": "2025-01-01T00:00:00Z"})
            }
            // The wrong record type.
            _ => json!({"$type": DISPUTE, "subject": {"uri": proposal, "cid": SUBJECT_CID},
                        "amount": 1, "currency": "USD", "createdAt": "2025-01-01T00:00:00Z"}),
        };
        let collection = match record["$type"].as_str() {
            Some(DISPUTE) => ESTIMATE,
            Some(PLEDGE) => PLEDGE,
            Some(PROPOSAL) => PROPOSAL,
            _ => ESTIMATE,
        };
        let rkey = self.tid();
        self.write_event(repo, collection, rkey, record, "create")
    }

    fn create_event(&mut self, repo: usize, roll: usize) -> GeneratedEvent {
        let collection = match roll % 100 {
            0..=39 => ESTIMATE,
            40..=59 => PLEDGE,
            60..=77 => PROPOSAL,
            78..=87 => STATUS,
            88..=94 => DISPUTE,
            _ => PROJECT,
        };
        let rkey = if collection == PROJECT {
            format!("project-{}", self.seq)
        } else {
            self.tid()
        };
        let record = self.record(collection, repo);
        if collection == PROPOSAL {
            self.proposals
                .push(format!("at://{}/{PROPOSAL}/{rkey}", repo_did(repo)));
            if self.proposals.len() > 50_000 {
                self.proposals.swap_remove(0);
            }
        }
        if self.live.len() < 200_000 {
            self.live.push((repo, collection, rkey.clone()));
        } else {
            let at = self.below(self.live.len());
            self.live[at] = (repo, collection, rkey.clone());
        }
        self.write_event(repo, collection, rkey, record, "create")
    }

    fn proposal(&mut self) -> String {
        let at = self.below(self.proposals.len());
        self.proposals[at].clone()
    }

    /// A valid record of `collection` by `repo` (also the full-relay mix's Greenlight records).
    pub(super) fn record(&mut self, collection: &'static str, repo: usize) -> Value {
        let created_at = "2025-03-04T05:06:07.000Z";
        let proposal = self.proposal();
        let amount = 100 + self.below(100_000) as i64;
        match collection {
            ESTIMATE => json!({"$type": ESTIMATE, "subject": {"uri": proposal, "cid": SUBJECT_CID},
                               "amount": amount, "currency": "USD", "createdAt": created_at}),
            PLEDGE => json!({"$type": PLEDGE, "subject": {"uri": proposal, "cid": SUBJECT_CID},
                             "amount": amount, "currency": "EUR", "receipt": format!("pl_{}", self.seq),
                             "createdAt": created_at}),
            PROPOSAL => json!({"$type": PROPOSAL,
                               "subject": {"$type": "com.atproto.repo.strongRef",
                                           "uri": format!("at://{}/{PROJECT}/project-1", repo_did(repo)),
                                           "cid": SUBJECT_CID},
                               "title": format!("Feature number {}", self.seq),
                               "body": "Offline sync, so that the app works on a plane. ".repeat(4),
                               "tags": ["sync", "offline"], "createdAt": created_at}),
            STATUS => json!({"$type": STATUS, "subject": {"uri": proposal, "cid": SUBJECT_CID},
                             "stage": {"$type": "fund.greenlight.status#development", "goal": amount * 10,
                                       "currency": "USD", "note": "Starting now."},
                             "createdAt": created_at}),
            DISPUTE => json!({"$type": DISPUTE, "subject": {"uri": proposal, "cid": SUBJECT_CID},
                              "reason": "The release does not include the previewed feature.",
                              "evidence": ["https://example.com/issue/1"], "createdAt": created_at}),
            _ => json!({"$type": PROJECT, "name": format!("Project {repo}"),
                        "description": "A project funded through Greenlight.",
                        "repository": format!("https://example.com/p/{repo}.git"),
                        "currency": "USD", "createdAt": created_at}),
        }
    }

    fn write_event(
        &mut self,
        repo: usize,
        collection: &'static str,
        rkey: String,
        record: Value,
        action: &str,
    ) -> GeneratedEvent {
        let rev = self.tid();
        let did = repo_did(repo);
        let block = dagcbor(&record);
        let cid = cid_of(&block);
        let write = op(action, &format!("{collection}/{rkey}"), Some(cid));
        GeneratedEvent {
            frame: self.commit(&did, &rev, write, Some(block)),
            row: StoredRow::Record {
                did,
                collection,
                rkey,
                cid: cid.to_string(),
                rev,
                record,
            },
        }
    }

    /// A one-op `#commit` at the current sequence number, as the real firehose sends them.
    fn commit(&self, did: &str, rev: &str, op: Ipld, record: Option<Vec<u8>>) -> Vec<u8> {
        let records: Vec<Vec<u8>> = record.into_iter().collect();
        commit_frame(
            self.seq,
            did,
            rev,
            vec![op],
            &records,
            &SIGNATURE,
            &now_string(),
        )
    }
}

fn repo_did(repo: usize) -> String {
    format!("did:plc:bench{repo:019}")
}

pub(super) fn now_string() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

pub(super) fn tid_string(mut value: u64) -> String {
    const ALPHABET: &[u8; 32] = b"234567abcdefghijklmnopqrstuvwxyz";
    let mut out = [b'2'; 13];
    for slot in out.iter_mut().rev() {
        *slot = ALPHABET[(value & 31) as usize];
        value >>= 5;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::{EventBody, RecordAction, SourceEvent};
    use crate::metrics::Metrics;
    use crate::record_rules::RecordRules;
    use crate::source::firehose::{FrameJudge, FrameOutcome};

    /// Decodes and judges frames as the indexer would, without a database.
    async fn judge_frames(frames: &[Vec<u8>]) -> Vec<SourceEvent> {
        let rules = RecordRules::embedded().unwrap();
        let judge = FrameJudge::new(rules, None, None, std::sync::Arc::new(Metrics::default()));
        let mut events = Vec::new();
        for frame in frames {
            if let FrameOutcome::Event(event) = judge.judge(frame).await {
                events.push(event);
            }
        }
        events
    }

    fn is_rejection(event: &SourceEvent) -> bool {
        match &event.body {
            EventBody::Rejected(_) => true,
            EventBody::Records(ops) => ops
                .iter()
                .any(|op| matches!(op.action, RecordAction::Reject { .. })),
            _ => false,
        }
    }

    #[tokio::test]
    async fn the_generated_stream_decodes_and_mixes_valid_and_invalid_records() {
        let mut generator = StreamGenerator::new(7, 50);
        let frames = generator.frames(3000);
        let events = judge_frames(&frames).await;
        assert_eq!(events.len(), 3000, "every frame must decode into an event");
        let rejected = events.iter().filter(|e| is_rejection(e)).count();
        assert!(rejected > 40 && rejected < 300, "{rejected} rejections");
        let undecodable = events
            .iter()
            .filter(|e| matches!(e.body, EventBody::Rejected(_)))
            .count();
        assert_eq!(undecodable, 0);
        let accounts = events
            .iter()
            .filter(|e| matches!(e.body, EventBody::Account { .. }))
            .count();
        assert!(accounts > 0);
    }

    #[test]
    fn tids_sort_by_time_and_are_valid() {
        let a = tid_string(1_700_000_000_000_000 << 10);
        let b = tid_string(1_700_000_000_000_001 << 10);
        assert!(crate::record_rules::is_tid(&a), "{a}");
        assert!(a < b);
    }
}
