//! Types generated from the lexicon documents by `greenlight-lexgen`.
//!
//! Do not edit: change `lexicons/` and run `cargo run -p greenlight-lexgen`.
/// NSIDs of every record type.
pub const RECORD_NSIDS: &[&str] = &[
    "fund.greenlight.dispute",
    "fund.greenlight.estimate",
    "fund.greenlight.maintainer",
    "fund.greenlight.pledge",
    "fund.greenlight.project",
    "fund.greenlight.proposal",
    "fund.greenlight.retainer",
    "fund.greenlight.retainerOffer",
    "fund.greenlight.status",
];
/// The `com` namespace.
pub mod com {
    /// The `com.atproto` namespace.
    pub mod atproto {
        /// The `com.atproto.repo` namespace.
        pub mod repo {
            /// `com.atproto.repo.strongRef`: A URI with a content-hash fingerprint.
            pub mod strong_ref {
                /// The NSID of this document, `com.atproto.repo.strongRef`.
                pub const NSID: &str = "com.atproto.repo.strongRef";
                /// The `com.atproto.repo.strongRef` object.
                #[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
                pub struct StrongRef {
                    /// The `uri` property.
                    pub uri: String,
                    /// The `cid` property.
                    pub cid: String,
                }
            }
        }
    }
}
/// The `fund` namespace.
pub mod fund {
    /// The `fund.greenlight` namespace.
    pub mod greenlight {
        /// `fund.greenlight.checkProjectProof`: Checks now whether a project's repository and website publish the proof that names it, instead of waiting for the periodic re-check. Anyone may ask; a project is checked at most once every few seconds.
        pub mod check_project_proof {
            /// The NSID of this document, `fund.greenlight.checkProjectProof`.
            pub const NSID: &str = "fund.greenlight.checkProjectProof";
            /// Request body of `fund.greenlight.checkProjectProof` (application/json).
            #[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
            pub struct Input {
                /// AT-URI of the fund.greenlight.project record.
                pub project: String,
            }
            /// Response body of `fund.greenlight.checkProjectProof` (application/json).
            pub type Output = crate::generated::fund::greenlight::defs::ProjectProof;
        }
        /// `fund.greenlight.defs`: Views shared by the Greenlight AppView's queries.
        pub mod defs {
            /// The NSID of this document, `fund.greenlight.defs`.
            pub const NSID: &str = "fund.greenlight.defs";
            /// A person, by DID, with their handle when it is known and verified.
            #[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
            pub struct ActorRef {
                /// The person's DID.
                pub did: String,
                /// The person's current verified handle.
                #[serde(default, skip_serializing_if = "Option::is_none")]
                pub handle: Option<String>,
            }
            /// A proposal's subject when it is a fund.greenlight.project record.
            #[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
            pub struct ProjectRef {
                /// AT-URI of the project record.
                pub uri: String,
                /// Project name; absent while the project record is not indexed.
                #[serde(default, skip_serializing_if = "Option::is_none")]
                pub name: Option<String>,
                /// Whether the project currently proves control of its repository or website (see projectProof). Only proposals of verified projects take pledges and donations.
                #[serde(default, skip_serializing_if = "Option::is_none")]
                pub verified: Option<bool>,
            }
            /// A proposal's subject when it is a repository of a project not on Greenlight.
            #[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
            pub struct RepositoryRef {
                /// Public source repository of the project.
                pub url: String,
            }
            /// A project with its funding totals.
            #[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
            pub struct ProjectView {
                /// AT-URI of the project record.
                pub uri: String,
                /// CID of the indexed version of the project record.
                pub cid: String,
                /// The account whose repo holds the project record.
                pub owner: ActorRef,
                /// Display name of the project.
                pub name: String,
                /// What the project is, in Markdown.
                pub description: String,
                /// Public source repository where releases land.
                pub repository: String,
                /// Project home page.
                #[serde(default, skip_serializing_if = "Option::is_none")]
                pub website: Option<String>,
                /// Currency of the project's amounts: an upper-case ISO 4217 code.
                pub currency: String,
                /// Maintainers listed in the project record who accepted in a fund.greenlight.maintainer record of their own: besides the owner, only they may post status.
                pub maintainers: Vec<ActorRef>,
                /// Maintainers listed in the project record who have not accepted yet; their status records do not count.
                #[serde(
                    rename = "invitedMaintainers",
                    default,
                    skip_serializing_if = "Option::is_none"
                )]
                pub invited_maintainers: Option<Vec<ActorRef>>,
                /// Number of visible proposals for the project.
                #[serde(rename = "proposalCount")]
                pub proposal_count: i64,
                /// Funding summed over the project's proposals.
                pub totals: FundingTotals,
                /// Whether the repository or website proves the project, and when it was last checked.
                #[serde(default, skip_serializing_if = "Option::is_none")]
                pub proof: Option<ProjectProof>,
                /// When the AppView indexed this version of the record.
                #[serde(rename = "indexedAt")]
                pub indexed_at: String,
                /// Client-declared creation time of the project record.
                #[serde(rename = "createdAt")]
                pub created_at: String,
            }
            /// A proposal with its lifecycle stage and funding totals.
            #[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
            pub struct ProposalView {
                /// AT-URI of the proposal record.
                pub uri: String,
                /// CID of the indexed version of the proposal record.
                pub cid: String,
                /// Who wrote the proposal.
                pub author: ActorRef,
                /// The project the feature is for.
                pub subject: ProposalViewSubject,
                /// Short title of the feature.
                pub title: String,
                /// What the feature is and why it matters, in Markdown.
                pub body: String,
                /// Topic tags.
                #[serde(default, skip_serializing_if = "Option::is_none")]
                pub tags: Option<Vec<String>>,
                /// Current lifecycle stage.
                pub stage: String,
                /// Accepted status records, oldest first (at most the latest 100).
                #[serde(rename = "stageHistory")]
                pub stage_history: Vec<StageEvent>,
                /// Funding goal from the latest development status, in minor units.
                #[serde(default, skip_serializing_if = "Option::is_none")]
                pub goal: Option<i64>,
                /// Currency of every amount of the proposal: the project's currency, or USD for a proposal about a bare repository.
                pub currency: String,
                /// The proposal's funding totals.
                pub totals: FundingTotals,
                /// The latest preview, once the proposal reached preview.
                #[serde(default, skip_serializing_if = "Option::is_none")]
                pub preview: Option<PreviewInfo>,
                /// The release, once the proposal was released.
                #[serde(default, skip_serializing_if = "Option::is_none")]
                pub release: Option<ReleaseInfo>,
                /// Why the proposal was declined, when it was.
                #[serde(
                    rename = "declineReason",
                    default,
                    skip_serializing_if = "Option::is_none"
                )]
                pub decline_reason: Option<String>,
                /// State of the money held for the proposal: none (nothing held yet), open (accepting pledges or holding them), verifying (released, in the verification period), disputed (payout frozen by an open dispute), paid (paid out), refunded (held pledges returned).
                #[serde(
                    rename = "escrowState",
                    default,
                    skip_serializing_if = "Option::is_none"
                )]
                pub escrow_state: Option<String>,
                /// Who escrow pays: the project's owner, fixed with the other terms when the first money arrived.
                #[serde(default, skip_serializing_if = "Option::is_none")]
                pub payee: Option<ActorRef>,
                /// True when the proposal's author deleted or hid it (or replaced it with an invalid version) after its maintainer took it up: it is kept, out of lists, because money may be held under its terms.
                #[serde(default, skip_serializing_if = "Option::is_none")]
                pub withdrawn: Option<bool>,
                /// When escrow first saw the release, by escrow's own clock: the verification period runs from here.
                #[serde(
                    rename = "verificationStartedAt",
                    default,
                    skip_serializing_if = "Option::is_none"
                )]
                pub verification_started_at: Option<String>,
                /// When the verification period ends, by escrow's clock (the release record's own dates do not move it).
                #[serde(
                    rename = "verificationEndsAt",
                    default,
                    skip_serializing_if = "Option::is_none"
                )]
                pub verification_ends_at: Option<String>,
                /// When the AppView indexed this version of the record.
                #[serde(rename = "indexedAt")]
                pub indexed_at: String,
                /// Client-declared creation time of the proposal record.
                #[serde(rename = "createdAt")]
                pub created_at: String,
            }
            /// The project the feature is for.
            #[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
            #[serde(tag = "$type")]
            pub enum ProposalViewSubject {
                /// A `fund.greenlight.defs#projectRef`.
                #[serde(
                    rename = "fund.greenlight.defs#projectRef",
                    alias = "lex:fund.greenlight.defs#projectRef"
                )]
                ProjectRef(ProjectRef),
                /// A `fund.greenlight.defs#repositoryRef`.
                #[serde(
                    rename = "fund.greenlight.defs#repositoryRef",
                    alias = "lex:fund.greenlight.defs#repositoryRef"
                )]
                RepositoryRef(RepositoryRef),
                /// A member this version of the lexicons does not know, kept as raw JSON.
                #[serde(untagged)]
                Unknown(serde_json::Value),
            }
            /// Details of a proposal's preview.
            #[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
            pub struct PreviewInfo {
                /// Where the preview can be tried.
                pub url: String,
                /// How to try the preview, in Markdown.
                pub instructions: String,
                /// When the preview, and pledging, ends.
                #[serde(rename = "endsAt")]
                pub ends_at: String,
            }
            /// Details of a proposal's open-source release.
            #[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
            pub struct ReleaseInfo {
                /// Public location of the released source code.
                #[serde(rename = "sourceUrl")]
                pub source_url: String,
                /// Commit hash or tag of the release.
                #[serde(default, skip_serializing_if = "Option::is_none")]
                pub revision: Option<String>,
                /// License of the released code, as an SPDX license expression.
                pub license: String,
            }
            /// One accepted stage change of a proposal.
            #[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
            pub struct StageEvent {
                /// The stage entered.
                pub stage: String,
                /// AT-URI of the fund.greenlight.status record.
                pub uri: String,
                /// Who wrote the status record.
                pub author: ActorRef,
                /// Client-declared creation time of the status record.
                #[serde(rename = "createdAt")]
                pub created_at: String,
            }
            /// Funding totals of one proposal, or of a project (summed over its proposals). All amounts are in the currency's minor units.
            #[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
            pub struct FundingTotals {
                /// AT-URI of the proposal or project these totals are for.
                pub uri: String,
                /// Currency of the amounts: an upper-case ISO 4217 code.
                pub currency: String,
                /// Number of counted estimates (latest per author, made before the preview).
                #[serde(rename = "estimateCount")]
                pub estimate_count: i64,
                /// Sum of counted estimates, each limited to its author's cap.
                #[serde(rename = "estimateTotal")]
                pub estimate_total: i64,
                /// How many counted estimates were limited by their author's cap.
                #[serde(rename = "cappedEstimateCount")]
                pub capped_estimate_count: i64,
                /// Funding goal of the proposal's latest development status (proposals only).
                #[serde(default, skip_serializing_if = "Option::is_none")]
                pub goal: Option<i64>,
                /// Pledged money escrow currently holds.
                #[serde(rename = "pledgedHeld")]
                pub pledged_held: i64,
                /// Pledged money paid out to the maintainer.
                #[serde(rename = "paidOut")]
                pub paid_out: i64,
                /// Pledged money refunded to backers.
                pub refunded: i64,
                /// Donations received.
                pub donations: i64,
                /// Number of pledges that escrow holds or paid out.
                #[serde(rename = "pledgeCount")]
                pub pledge_count: i64,
                /// Number of distinct backers of those pledges.
                #[serde(rename = "backerCount")]
                pub backer_count: i64,
            }
            /// An estimate and how much of it counts.
            #[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
            pub struct EstimateView {
                /// AT-URI of the estimate record.
                pub uri: String,
                /// CID of the estimate record.
                pub cid: String,
                /// Who made the estimate.
                pub author: ActorRef,
                /// Amount stated in the record, in minor units.
                pub amount: i64,
                /// Amount that counts toward the totals: the amount limited to the author's cap, or 0 when frozen.
                #[serde(rename = "countedAmount")]
                pub counted_amount: i64,
                /// Currency of the amounts: an upper-case ISO 4217 code.
                pub currency: String,
                /// True when the amount exceeds the author's estimate cap and counts at the cap.
                pub capped: bool,
                /// True when the estimate was made after the preview began; shown, not counted.
                pub frozen: bool,
                /// Client-declared creation time of the estimate record.
                #[serde(rename = "createdAt")]
                pub created_at: String,
                /// When the AppView indexed the estimate.
                #[serde(rename = "indexedAt")]
                pub indexed_at: String,
            }
            /// A pledge record with the state escrow reports for it.
            #[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
            pub struct PledgeView {
                /// AT-URI of the pledge record.
                pub uri: String,
                /// CID of the pledge record.
                pub cid: String,
                /// Who pledged.
                pub backer: ActorRef,
                /// Amount pledged, in minor units.
                pub amount: i64,
                /// Currency of the amount: an upper-case ISO 4217 code.
                pub currency: String,
                /// The escrow service's pledge id.
                pub receipt: String,
                /// State of the pledged money per escrow: pending (escrow has not confirmed it), held, cancelled, refunded, paid (paid out to the maintainer).
                pub state: String,
                /// Client-declared creation time of the pledge record.
                #[serde(rename = "createdAt")]
                pub created_at: String,
                /// When the AppView indexed the pledge.
                #[serde(rename = "indexedAt")]
                pub indexed_at: String,
            }
            /// A person's contributions and current estimate caps.
            #[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
            pub struct ActorView {
                /// The person's DID.
                pub did: String,
                /// The person's current verified handle.
                #[serde(default, skip_serializing_if = "Option::is_none")]
                pub handle: Option<String>,
                /// Successful contributions, one entry per currency.
                pub contributions: Vec<ContributionSummary>,
                /// Current estimate cap per currency the person contributed or estimated in; any other currency has its newcomer floor (25.00 for USD and EUR; one table per currency, in greenlight-funding).
                #[serde(rename = "estimateCaps")]
                pub estimate_caps: Vec<EstimateCap>,
                /// Number of visible proposals the person wrote.
                #[serde(rename = "proposalCount")]
                pub proposal_count: i64,
                /// Number of the person's current estimates.
                #[serde(rename = "estimateCount")]
                pub estimate_count: i64,
                /// Number of the person's pledges that escrow holds or paid out.
                #[serde(rename = "pledgeCount")]
                pub pledge_count: i64,
            }
            /// A person's successful contributions in one currency (amounts in minor units).
            #[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
            pub struct ContributionSummary {
                /// Currency of the amounts: an upper-case ISO 4217 code.
                pub currency: String,
                /// Largest single successful contribution: a donation or a paid-out pledge.
                #[serde(rename = "largestSuccessful")]
                pub largest_successful: i64,
                /// Sum of the person's pledges that were paid out.
                #[serde(rename = "totalPaid")]
                pub total_paid: i64,
                /// Sum of the person's donations.
                pub donations: i64,
            }
            /// The most one estimate by a person counts for, in one currency: the larger of the currency's newcomer floor (25.00 for USD and EUR) and twice their largest successful contribution.
            #[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
            pub struct EstimateCap {
                /// Currency of the cap: an upper-case ISO 4217 code.
                pub currency: String,
                /// The cap, in minor units.
                pub cap: i64,
            }
            /// A project's proof of control: a file in its repository or on its website that names the project. Anyone can re-check it by opening each proofUrl and finding the expected text.
            #[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
            pub struct ProjectProof {
                /// True while at least one place publishes a proof naming the project.
                pub verified: bool,
                /// What a proof file must contain: the project's AT-URI (or the owner's DID).
                pub expected: String,
                /// When a check last found a proof.
                #[serde(
                    rename = "verifiedAt",
                    default,
                    skip_serializing_if = "Option::is_none"
                )]
                pub verified_at: Option<String>,
                /// The latest check of each place and proof file.
                pub checks: Vec<ProofCheck>,
            }
            /// The latest check of one proof location.
            #[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
            pub struct ProofCheck {
                /// Which of the project's places was checked.
                pub place: String,
                /// The exact address fetched (a forge's raw-file URL, or a website's /.well-known/ file).
                #[serde(rename = "proofUrl")]
                pub proof_url: String,
                /// verified (the file names the project), missing (no such file), mismatch (the file does not name the project), unsupported (the place cannot be checked), error (the fetch failed).
                pub result: String,
                /// Why, for people.
                #[serde(default, skip_serializing_if = "Option::is_none")]
                pub detail: Option<String>,
                /// When the check ran.
                #[serde(rename = "checkedAt")]
                pub checked_at: String,
            }
        }
        /// `fund.greenlight.dispute`: A backer's public claim that a released proposal was not delivered as previewed. The binding dispute is filed with escrow (fund.greenlight.escrow.fileDispute).
        pub mod dispute {
            /// The NSID of this document, `fund.greenlight.dispute`.
            pub const NSID: &str = "fund.greenlight.dispute";
            /// A backer's public claim that a released proposal was not delivered as previewed. The binding dispute is filed with escrow (fund.greenlight.escrow.fileDispute).
            #[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
            pub struct Dispute {
                /// The proposal, by strong reference to its fund.greenlight.proposal record.
                pub subject: crate::generated::com::atproto::repo::strong_ref::StrongRef,
                /// What is wrong with the release, in Markdown.
                pub reason: String,
                /// Links supporting the claim.
                #[serde(default, skip_serializing_if = "Option::is_none")]
                pub evidence: Option<Vec<String>>,
                /// Client-declared time the record was created.
                #[serde(rename = "createdAt")]
                pub created_at: String,
            }
            impl crate::LexiconRecord for Dispute {
                const NSID: &'static str = NSID;
            }
        }
        /// The `fund.greenlight.escrow` namespace.
        pub mod escrow {
            /// `fund.greenlight.escrow.cancelPledge`: Cancel one's own pledge during the preview; held money is refunded.
            pub mod cancel_pledge {
                /// The NSID of this document, `fund.greenlight.escrow.cancelPledge`.
                pub const NSID: &str = "fund.greenlight.escrow.cancelPledge";
                /// The pledge to cancel.
                #[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
                pub struct Input {
                    /// Escrow's pledge id.
                    pub pledge: String,
                    /// Client-chosen key making the call safe to retry: the same key with the same body returns the first answer; the same key with a different body fails with IdempotencyConflict. Keys are scoped to the caller.
                    #[serde(rename = "idempotencyKey")]
                    pub idempotency_key: String,
                }
                /// Response body of `fund.greenlight.escrow.cancelPledge` (application/json).
                pub type Output = crate::generated::fund::greenlight::escrow::defs::PledgeView;
            }
            /// `fund.greenlight.escrow.cancelRetainer`: Cancel an agreement (service auth: the caller is the client). An active agreement keeps running to the end of the paid period and then ends; one not started yet ends at once; one past due ends at once and its unpaid invoice is voided.
            pub mod cancel_retainer {
                /// The NSID of this document, `fund.greenlight.escrow.cancelRetainer`.
                pub const NSID: &str = "fund.greenlight.escrow.cancelRetainer";
                /// The request.
                #[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
                pub struct Input {
                    /// Escrow's retainer agreement id.
                    pub agreement: String,
                    /// Client-chosen key making the call safe to retry: the same key with the same body returns the first answer; the same key with a different body fails with IdempotencyConflict. Keys are scoped to the caller.
                    #[serde(rename = "idempotencyKey")]
                    pub idempotency_key: String,
                }
                /// Response body of `fund.greenlight.escrow.cancelRetainer` (application/json).
                pub type Output = crate::generated::fund::greenlight::escrow::retainer_defs::AgreementView;
            }
            /// `fund.greenlight.escrow.changeRetainerTier`: Change an active agreement to another tier of the same offer (service auth: the caller is the client). The change takes effect from the next period; the running period is never re-priced. Asking for the tier in force withdraws a pending change.
            pub mod change_retainer_tier {
                /// The NSID of this document, `fund.greenlight.escrow.changeRetainerTier`.
                pub const NSID: &str = "fund.greenlight.escrow.changeRetainerTier";
                /// The request.
                #[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
                pub struct Input {
                    /// Escrow's retainer agreement id.
                    pub agreement: String,
                    /// Name of the new tier, as in the offer.
                    pub tier: String,
                    /// Client-chosen key making the call safe to retry: the same key with the same body returns the first answer; the same key with a different body fails with IdempotencyConflict. Keys are scoped to the caller.
                    #[serde(rename = "idempotencyKey")]
                    pub idempotency_key: String,
                }
                /// Response body of `fund.greenlight.escrow.changeRetainerTier` (application/json).
                pub type Output = crate::generated::fund::greenlight::escrow::retainer_defs::AgreementView;
            }
            /// `fund.greenlight.escrow.connectPayoutAccount`: Create or continue the caller's payout account with a payment provider, so payouts can reach them.
            pub mod connect_payout_account {
                /// The NSID of this document, `fund.greenlight.escrow.connectPayoutAccount`.
                pub const NSID: &str = "fund.greenlight.escrow.connectPayoutAccount";
                /// The provider to connect.
                #[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
                pub struct Input {
                    /// Payment provider; omit for the service's configured provider.
                    #[serde(default, skip_serializing_if = "Option::is_none")]
                    pub provider: Option<String>,
                    /// Client-chosen key making the call safe to retry: the same key with the same body returns the first answer; the same key with a different body fails with IdempotencyConflict. Keys are scoped to the caller.
                    #[serde(rename = "idempotencyKey")]
                    pub idempotency_key: String,
                }
                /// The caller's payout account.
                #[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
                pub struct Output {
                    /// The payout account id at the provider.
                    #[serde(rename = "accountId")]
                    pub account_id: String,
                    /// Payment provider.
                    pub provider: String,
                    /// Where the caller finishes onboarding, while it is incomplete.
                    #[serde(
                        rename = "onboardingUrl",
                        default,
                        skip_serializing_if = "Option::is_none"
                    )]
                    pub onboarding_url: Option<String>,
                    /// State of the account: pending (onboarding incomplete), active (payouts enabled), restricted (the provider disabled payouts).
                    pub status: String,
                }
            }
            /// `fund.greenlight.escrow.createDonation`: Donate to a proposal in development (service auth: the caller is the donor). Paid to the maintainer minus the platform fee once payment completes; not escrowed.
            pub mod create_donation {
                /// The NSID of this document, `fund.greenlight.escrow.createDonation`.
                pub const NSID: &str = "fund.greenlight.escrow.createDonation";
                /// A donation to create.
                #[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
                pub struct Input {
                    /// The proposal, by strong reference to its record.
                    pub proposal: crate::generated::com::atproto::repo::strong_ref::StrongRef,
                    /// Amount in the currency's minor units (e.g. cents).
                    pub amount: i64,
                    /// Currency of the amount: an upper-case ISO 4217 code; must be the proposal's currency.
                    pub currency: String,
                    /// Client-chosen key making the call safe to retry: the same key with the same body returns the first answer; the same key with a different body fails with IdempotencyConflict. Keys are scoped to the caller.
                    #[serde(rename = "idempotencyKey")]
                    pub idempotency_key: String,
                }
                /// Response body of `fund.greenlight.escrow.createDonation` (application/json).
                pub type Output = crate::generated::fund::greenlight::escrow::defs::DonationView;
            }
            /// `fund.greenlight.escrow.createPledge`: Pledge money to a proposal in preview (service auth: the caller is the backer). Returns the pending pledge with a checkoutUrl; it is held once payment completes.
            pub mod create_pledge {
                /// The NSID of this document, `fund.greenlight.escrow.createPledge`.
                pub const NSID: &str = "fund.greenlight.escrow.createPledge";
                /// A pledge to create.
                #[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
                pub struct Input {
                    /// The proposal, by strong reference to its record.
                    pub proposal: crate::generated::com::atproto::repo::strong_ref::StrongRef,
                    /// Amount in the currency's minor units (e.g. cents).
                    pub amount: i64,
                    /// Currency of the amount: an upper-case ISO 4217 code; must be the proposal's currency.
                    pub currency: String,
                    /// Client-chosen key making the call safe to retry: the same key with the same body returns the first answer; the same key with a different body fails with IdempotencyConflict. Keys are scoped to the caller.
                    #[serde(rename = "idempotencyKey")]
                    pub idempotency_key: String,
                }
                /// Response body of `fund.greenlight.escrow.createPledge` (application/json).
                pub type Output = crate::generated::fund::greenlight::escrow::defs::PledgeView;
            }
            /// `fund.greenlight.escrow.defs`: Views shared by the Greenlight escrow service's methods.
            pub mod defs {
                /// The NSID of this document, `fund.greenlight.escrow.defs`.
                pub const NSID: &str = "fund.greenlight.escrow.defs";
                /// A pledge as escrow sees it. Amounts in the currency's minor units.
                #[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
                pub struct PledgeView {
                    /// Escrow's pledge id; the receipt in the backer's fund.greenlight.pledge record.
                    pub id: String,
                    /// The proposal pledged to.
                    pub proposal: crate::generated::com::atproto::repo::strong_ref::StrongRef,
                    /// The backer's DID.
                    pub backer: String,
                    /// Amount pledged.
                    pub amount: i64,
                    /// Currency of the amount: an upper-case ISO 4217 code.
                    pub currency: String,
                    /// State of the pledge: pending (awaiting payment at checkout), held (in escrow), cancelled (by the backer during preview, refunded), refunded (after a decline, an expired preview or an upheld dispute), paid_out (to the maintainer), failed (payment did not complete).
                    pub state: String,
                    /// Where the backer completes payment with the provider, while pending.
                    #[serde(
                        rename = "checkoutUrl",
                        default,
                        skip_serializing_if = "Option::is_none"
                    )]
                    pub checkout_url: Option<String>,
                    /// When escrow created the pledge.
                    #[serde(rename = "createdAt")]
                    pub created_at: String,
                    /// When the pledge last changed state.
                    #[serde(rename = "updatedAt")]
                    pub updated_at: String,
                }
                /// A donation: paid to the maintainer at once, minus the platform fee, not escrowed.
                #[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
                pub struct DonationView {
                    /// Escrow's donation id.
                    pub id: String,
                    /// The proposal donated to.
                    pub proposal: crate::generated::com::atproto::repo::strong_ref::StrongRef,
                    /// The donor's DID.
                    pub donor: String,
                    /// Amount donated.
                    pub amount: i64,
                    /// Currency of the amounts: an upper-case ISO 4217 code.
                    pub currency: String,
                    /// Platform fee taken from the donation, once it was received.
                    #[serde(default, skip_serializing_if = "Option::is_none")]
                    pub fee: Option<i64>,
                    /// State of the donation: pending (awaiting payment at checkout), received (paid; payable to the maintainer), paid_out (transferred to the maintainer), failed (payment did not complete).
                    pub state: String,
                    /// Where the donor completes payment with the provider, while pending.
                    #[serde(
                        rename = "checkoutUrl",
                        default,
                        skip_serializing_if = "Option::is_none"
                    )]
                    pub checkout_url: Option<String>,
                    /// When escrow created the donation.
                    #[serde(rename = "createdAt")]
                    pub created_at: String,
                    /// When the donation last changed state.
                    #[serde(rename = "updatedAt")]
                    pub updated_at: String,
                }
                /// A dispute against a released proposal. While open, payout is frozen.
                #[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
                pub struct DisputeView {
                    /// Escrow's dispute id.
                    pub id: String,
                    /// The disputed proposal.
                    pub proposal: crate::generated::com::atproto::repo::strong_ref::StrongRef,
                    /// DID of the backer who filed the dispute.
                    pub filer: String,
                    /// What is wrong with the release, in Markdown.
                    pub reason: String,
                    /// Links supporting the claim.
                    #[serde(default, skip_serializing_if = "Option::is_none")]
                    pub evidence: Option<Vec<String>>,
                    /// State of the dispute: open (payout frozen), upheld (all pledges refunded), rejected (payout continues).
                    pub state: String,
                    /// The operator's explanation of the resolution.
                    #[serde(
                        rename = "resolutionNote",
                        default,
                        skip_serializing_if = "Option::is_none"
                    )]
                    pub resolution_note: Option<String>,
                    /// When the dispute was filed.
                    #[serde(rename = "createdAt")]
                    pub created_at: String,
                    /// When an operator resolved the dispute.
                    #[serde(
                        rename = "resolvedAt",
                        default,
                        skip_serializing_if = "Option::is_none"
                    )]
                    pub resolved_at: Option<String>,
                }
                /// The money of one proposal as escrow sees it (amounts in the currency's minor units).
                #[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
                pub struct ProposalState {
                    /// AT-URI of the proposal record.
                    pub proposal: String,
                    /// The proposal's stage as escrow last learned it from the AppView.
                    pub stage: String,
                    /// Currency of the amounts: an upper-case ISO 4217 code.
                    pub currency: String,
                    /// Pledged money currently held.
                    pub held: i64,
                    /// Pledged money paid out to the maintainer, after fees.
                    #[serde(rename = "paidOut")]
                    pub paid_out: i64,
                    /// Pledged money refunded to backers.
                    pub refunded: i64,
                    /// Donations received.
                    pub donations: i64,
                    /// Platform fees taken from payouts and donations.
                    pub fees: i64,
                    /// Number of held or paid-out pledges.
                    #[serde(rename = "pledgeCount")]
                    pub pledge_count: i64,
                    /// When the preview (and pledging) ends.
                    #[serde(
                        rename = "previewEndsAt",
                        default,
                        skip_serializing_if = "Option::is_none"
                    )]
                    pub preview_ends_at: Option<String>,
                    /// When the verification period after the release ends.
                    #[serde(
                        rename = "verificationEndsAt",
                        default,
                        skip_serializing_if = "Option::is_none"
                    )]
                    pub verification_ends_at: Option<String>,
                    /// Number of open disputes; any open dispute freezes payout.
                    #[serde(rename = "openDisputes")]
                    pub open_disputes: i64,
                    /// Where the payout stands: none (nothing to pay out yet), verifying (released; verification running), frozen (an open dispute), awaiting_account (due, but the maintainer has no payout account; the money waits and never expires), paid (paid out), refunded (held pledges returned).
                    #[serde(rename = "payoutState")]
                    pub payout_state: String,
                }
                /// One double-entry ledger movement in the public feed. A change of state (pending to posted or voided) appears again under a new, higher seq; keep the latest by id.
                #[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
                pub struct LedgerEntry {
                    /// Position in the public feed; strictly increasing.
                    pub seq: i64,
                    /// Ledger entry id, stable across state changes.
                    pub id: String,
                    /// When the entry was created.
                    #[serde(rename = "createdAt")]
                    pub created_at: String,
                    /// What the movement is: pledge_hold, pledge_capture, refund, refund_payment, payout, fee, donation, mismatched_payment (a payment that did not match its pledge or donation, returned to its payer), retainer_payment (a client's payment for one period of a retainer, paid to the maintainer), ...
                    pub kind: String,
                    /// State of the entry: pending (reserved, not final), posted (final), voided (cancelled, no effect).
                    pub state: String,
                    /// Currency of the amount: an upper-case ISO 4217 code.
                    pub currency: String,
                    /// Amount moved, in the currency's minor units (may aggregate several pledges).
                    pub amount: i64,
                    /// Ledger account debited (e.g. provider_clearing, held:<proposal>).
                    #[serde(rename = "debitAccount")]
                    pub debit_account: String,
                    /// Ledger account credited.
                    #[serde(rename = "creditAccount")]
                    pub credit_account: String,
                    /// The proposal the movement belongs to, if any.
                    #[serde(default, skip_serializing_if = "Option::is_none")]
                    pub proposal: Option<String>,
                    /// The pledge the movement belongs to, if any.
                    #[serde(default, skip_serializing_if = "Option::is_none")]
                    pub pledge: Option<String>,
                    /// The donation the movement belongs to, if any.
                    #[serde(default, skip_serializing_if = "Option::is_none")]
                    pub donation: Option<String>,
                    /// The backer or donor, if any.
                    #[serde(default, skip_serializing_if = "Option::is_none")]
                    pub backer: Option<String>,
                    /// The maintainer paid, if any.
                    #[serde(default, skip_serializing_if = "Option::is_none")]
                    pub maintainer: Option<String>,
                    /// The retainer agreement the movement belongs to, if any.
                    #[serde(default, skip_serializing_if = "Option::is_none")]
                    pub agreement: Option<String>,
                }
                /// What escrow fixed for a proposal when its first pledge or donation arrived, and where its money stands by escrow's clock. Nothing a record does later changes the terms.
                #[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
                pub struct ProposalTerms {
                    /// Position in the feed; strictly increasing.
                    pub seq: i64,
                    /// AT-URI of the proposal record.
                    pub proposal: String,
                    /// The project the proposal was about when money first arrived; only its status records move the money.
                    pub project: String,
                    /// Who is paid: the project's owner.
                    pub payee: String,
                    /// Currency of every amount of the proposal: an upper-case ISO 4217 code.
                    pub currency: String,
                    /// The platform fee in basis points, as published when the first money arrived.
                    #[serde(rename = "feeBasisPoints")]
                    pub fee_basis_points: i64,
                    /// End of the preview; a later preview may extend it, never shorten it.
                    #[serde(
                        rename = "previewEndsAt",
                        default,
                        skip_serializing_if = "Option::is_none"
                    )]
                    pub preview_ends_at: Option<String>,
                    /// The proposal's stage as escrow holds it; released stays released.
                    pub stage: String,
                    /// When escrow first saw the release (escrow's clock).
                    #[serde(
                        rename = "verificationStartedAt",
                        default,
                        skip_serializing_if = "Option::is_none"
                    )]
                    pub verification_started_at: Option<String>,
                    /// When the verification period ends (escrow's clock).
                    #[serde(
                        rename = "verificationEndsAt",
                        default,
                        skip_serializing_if = "Option::is_none"
                    )]
                    pub verification_ends_at: Option<String>,
                    /// Disputes not yet resolved; while any is open, payout waits.
                    #[serde(
                        rename = "openDisputes",
                        default,
                        skip_serializing_if = "Option::is_none"
                    )]
                    pub open_disputes: Option<i64>,
                    /// payout or refund, once the held money was settled.
                    #[serde(default, skip_serializing_if = "Option::is_none")]
                    pub settlement: Option<String>,
                    /// When the first money arrived and the terms were fixed.
                    #[serde(rename = "termsFixedAt")]
                    pub terms_fixed_at: String,
                    /// When this state last changed.
                    #[serde(rename = "updatedAt")]
                    pub updated_at: String,
                }
            }
            /// `fund.greenlight.escrow.fileDispute`: A backer disputes a released proposal during its verification period; freezes payout until an operator resolves it.
            pub mod file_dispute {
                /// The NSID of this document, `fund.greenlight.escrow.fileDispute`.
                pub const NSID: &str = "fund.greenlight.escrow.fileDispute";
                /// The dispute to file.
                #[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
                pub struct Input {
                    /// The disputed proposal.
                    pub proposal: crate::generated::com::atproto::repo::strong_ref::StrongRef,
                    /// What is wrong with the release, in Markdown.
                    pub reason: String,
                    /// Links supporting the claim.
                    #[serde(default, skip_serializing_if = "Option::is_none")]
                    pub evidence: Option<Vec<String>>,
                    /// Client-chosen key making the call safe to retry: the same key with the same body returns the first answer; the same key with a different body fails with IdempotencyConflict. Keys are scoped to the caller.
                    #[serde(rename = "idempotencyKey")]
                    pub idempotency_key: String,
                }
                /// Response body of `fund.greenlight.escrow.fileDispute` (application/json).
                pub type Output = crate::generated::fund::greenlight::escrow::defs::DisputeView;
            }
            /// `fund.greenlight.escrow.getIncomeStatement`: The caller's income for one calendar year, from the ledger: every payment credited to them (retainer periods, donations, released pledges), the fee, and what they were paid (service auth: the caller is the maintainer).
            pub mod get_income_statement {
                /// The NSID of this document, `fund.greenlight.escrow.getIncomeStatement`.
                pub const NSID: &str = "fund.greenlight.escrow.getIncomeStatement";
                /// Query parameters of `fund.greenlight.escrow.getIncomeStatement`.
                #[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
                pub struct Params {
                    /// The calendar year (UTC).
                    pub year: i64,
                }
                /// Response body of `fund.greenlight.escrow.getIncomeStatement` (application/json).
                #[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
                pub struct Output {
                    /// The year.
                    pub year: i64,
                    /// One statement per currency received.
                    pub currencies: Vec<CurrencyIncome>,
                }
                /// A year's income in one currency.
                #[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
                pub struct CurrencyIncome {
                    /// ISO 4217.
                    pub currency: String,
                    /// Everything credited, minor units.
                    pub gross: i64,
                    /// The platform's fee on it.
                    pub fees: i64,
                    /// Gross minus fees.
                    pub net: i64,
                    /// Of gross, what retainer clients paid.
                    pub retainers: i64,
                    /// The statement as a printable page.
                    #[serde(rename = "htmlUrl")]
                    pub html_url: String,
                    /// The statement as PDF.
                    #[serde(rename = "pdfUrl")]
                    pub pdf_url: String,
                }
            }
            /// `fund.greenlight.escrow.getLargestContribution`: A person's largest successful contribution (a donation or a paid-out pledge) in one currency; it sets their estimate cap.
            pub mod get_largest_contribution {
                /// The NSID of this document, `fund.greenlight.escrow.getLargestContribution`.
                pub const NSID: &str = "fund.greenlight.escrow.getLargestContribution";
                /// Query parameters of `fund.greenlight.escrow.getLargestContribution`.
                #[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
                pub struct Params {
                    /// The person's DID.
                    pub did: String,
                    /// Currency to look in: an upper-case ISO 4217 code.
                    pub currency: String,
                }
                /// The largest contribution.
                #[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
                pub struct Output {
                    /// The person's DID.
                    pub did: String,
                    /// Currency of the amount: an upper-case ISO 4217 code.
                    pub currency: String,
                    /// Largest successful contribution in minor units; 0 if none.
                    pub amount: i64,
                }
            }
            /// `fund.greenlight.escrow.getPledge`: Get one pledge by escrow's pledge id.
            pub mod get_pledge {
                /// The NSID of this document, `fund.greenlight.escrow.getPledge`.
                pub const NSID: &str = "fund.greenlight.escrow.getPledge";
                /// Query parameters of `fund.greenlight.escrow.getPledge`.
                #[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
                pub struct Params {
                    /// Escrow's pledge id.
                    pub id: String,
                }
                /// Response body of `fund.greenlight.escrow.getPledge` (application/json).
                pub type Output = crate::generated::fund::greenlight::escrow::defs::PledgeView;
            }
            /// `fund.greenlight.escrow.getProposalState`: The money of one proposal: held, paid out, refunded, disputes and payout state.
            pub mod get_proposal_state {
                /// The NSID of this document, `fund.greenlight.escrow.getProposalState`.
                pub const NSID: &str = "fund.greenlight.escrow.getProposalState";
                /// Query parameters of `fund.greenlight.escrow.getProposalState`.
                #[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
                pub struct Params {
                    /// AT-URI of the proposal record.
                    pub proposal: String,
                }
                /// Response body of `fund.greenlight.escrow.getProposalState` (application/json).
                pub type Output = crate::generated::fund::greenlight::escrow::defs::ProposalState;
            }
            /// `fund.greenlight.escrow.getRetainerAgreement`: Get one retainer agreement with its invoices (service auth: the caller is the client or the maintainer).
            pub mod get_retainer_agreement {
                /// The NSID of this document, `fund.greenlight.escrow.getRetainerAgreement`.
                pub const NSID: &str = "fund.greenlight.escrow.getRetainerAgreement";
                /// Query parameters of `fund.greenlight.escrow.getRetainerAgreement`.
                #[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
                pub struct Params {
                    /// Escrow's retainer agreement id.
                    pub id: String,
                }
                /// Response body of `fund.greenlight.escrow.getRetainerAgreement` (application/json).
                pub type Output = crate::generated::fund::greenlight::escrow::retainer_defs::AgreementView;
            }
            /// `fund.greenlight.escrow.listLedgerEntries`: The public ledger feed: every entry in increasing seq order, for followers such as the AppView.
            pub mod list_ledger_entries {
                /// The NSID of this document, `fund.greenlight.escrow.listLedgerEntries`.
                pub const NSID: &str = "fund.greenlight.escrow.listLedgerEntries";
                /// Query parameters of `fund.greenlight.escrow.listLedgerEntries`.
                #[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
                pub struct Params {
                    /// Return entries with a seq greater than this (a seq in decimal, from a previous page's cursor); omit to start at the beginning.
                    #[serde(default, skip_serializing_if = "Option::is_none")]
                    pub cursor: Option<String>,
                    /// Most items to return (1 to 1000).
                    #[serde(default, skip_serializing_if = "Option::is_none")]
                    pub limit: Option<i64>,
                }
                /// A page of ledger entries.
                #[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
                pub struct Output {
                    /// The seq of the last entry returned; pass it back to continue. Absent when no entries were returned.
                    #[serde(default, skip_serializing_if = "Option::is_none")]
                    pub cursor: Option<String>,
                    /// Entries in increasing seq order.
                    pub entries: Vec<
                        crate::generated::fund::greenlight::escrow::defs::LedgerEntry,
                    >,
                }
            }
            /// `fund.greenlight.escrow.listProposalStates`: The public feed of escrow's proposal states: the terms fixed when money first arrived, and escrow's own clock for verification. A proposal appears again under a higher seq whenever its state changes; keep the latest by proposal.
            pub mod list_proposal_states {
                /// The NSID of this document, `fund.greenlight.escrow.listProposalStates`.
                pub const NSID: &str = "fund.greenlight.escrow.listProposalStates";
                /// Query parameters of `fund.greenlight.escrow.listProposalStates`.
                #[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
                pub struct Params {
                    /// Return states with a seq greater than this (a seq in decimal, from a previous page's cursor); omit to start at the beginning.
                    #[serde(default, skip_serializing_if = "Option::is_none")]
                    pub cursor: Option<String>,
                    /// Most items to return (1 to 1000).
                    #[serde(default, skip_serializing_if = "Option::is_none")]
                    pub limit: Option<i64>,
                }
                /// Response body of `fund.greenlight.escrow.listProposalStates` (application/json).
                #[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
                pub struct Output {
                    /// The seq of the last state returned; pass it back to continue. Absent when none were returned.
                    #[serde(default, skip_serializing_if = "Option::is_none")]
                    pub cursor: Option<String>,
                    /// Proposal states in increasing seq order.
                    pub states: Vec<
                        crate::generated::fund::greenlight::escrow::defs::ProposalTerms,
                    >,
                }
            }
            /// `fund.greenlight.escrow.listRetainerAgreements`: The caller's retainer agreements, as client and as maintainer, with their invoices (service auth).
            pub mod list_retainer_agreements {
                /// The NSID of this document, `fund.greenlight.escrow.listRetainerAgreements`.
                pub const NSID: &str = "fund.greenlight.escrow.listRetainerAgreements";
                /// Query parameters of `fund.greenlight.escrow.listRetainerAgreements`.
                #[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
                pub struct Params {}
                /// Response body of `fund.greenlight.escrow.listRetainerAgreements` (application/json).
                #[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
                pub struct Output {
                    /// Agreements the caller pays, newest first.
                    #[serde(rename = "asClient")]
                    pub as_client: Vec<
                        crate::generated::fund::greenlight::escrow::retainer_defs::AgreementView,
                    >,
                    /// Agreements paying the caller, newest first.
                    #[serde(rename = "asMaintainer")]
                    pub as_maintainer: Vec<
                        crate::generated::fund::greenlight::escrow::retainer_defs::AgreementView,
                    >,
                }
            }
            /// `fund.greenlight.escrow.listRetainerStates`: The public feed of retainer agreements' states: who is paid, on which tier, in force or not, and the client only when they asked to be listed. An agreement appears again under a higher seq whenever its state changes; keep the latest by agreement.
            pub mod list_retainer_states {
                /// The NSID of this document, `fund.greenlight.escrow.listRetainerStates`.
                pub const NSID: &str = "fund.greenlight.escrow.listRetainerStates";
                /// Query parameters of `fund.greenlight.escrow.listRetainerStates`.
                #[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
                pub struct Params {
                    /// Return states with a seq greater than this (a seq in decimal, from a previous page's cursor); omit to start at the beginning.
                    #[serde(default, skip_serializing_if = "Option::is_none")]
                    pub cursor: Option<String>,
                    /// Most items to return (1 to 1000).
                    #[serde(default, skip_serializing_if = "Option::is_none")]
                    pub limit: Option<i64>,
                }
                /// Response body of `fund.greenlight.escrow.listRetainerStates` (application/json).
                #[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
                pub struct Output {
                    /// The seq of the last state returned; pass it back to continue. Absent when none were returned.
                    #[serde(default, skip_serializing_if = "Option::is_none")]
                    pub cursor: Option<String>,
                    /// Agreement states in increasing seq order.
                    pub states: Vec<
                        crate::generated::fund::greenlight::escrow::retainer_defs::RetainerState,
                    >,
                }
            }
            /// `fund.greenlight.escrow.requestQuote`: Ask for a quote for one tier of a retainer offer (service auth: the caller is the client). Creates an agreement in state requested; escrow issues the quote (state quoted) with the offer's price for the tier. Nothing is owed until the client starts it.
            pub mod request_quote {
                /// The NSID of this document, `fund.greenlight.escrow.requestQuote`.
                pub const NSID: &str = "fund.greenlight.escrow.requestQuote";
                /// The request.
                #[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
                pub struct Input {
                    /// The offer, by strong reference to its record: the quote is for this version.
                    pub offer: crate::generated::com::atproto::repo::strong_ref::StrongRef,
                    /// Name of the tier, as in the offer.
                    pub tier: String,
                    /// Who is invoiced.
                    pub billing: crate::generated::fund::greenlight::escrow::retainer_defs::BillingDetails,
                    /// How to collect each period: invoice (bank transfer) or card.
                    pub collection: String,
                    /// Whether the client may be named in public (the maintainer's page, the ledger feed, the feed of agreement states). Default false: the money still shows in the maintainer's totals, without the client's DID. Fixed for the agreement.
                    #[serde(
                        rename = "listedPublicly",
                        default,
                        skip_serializing_if = "Option::is_none"
                    )]
                    pub listed_publicly: Option<bool>,
                    /// Client-chosen key making the call safe to retry: the same key with the same body returns the first answer; the same key with a different body fails with IdempotencyConflict. Keys are scoped to the caller.
                    #[serde(rename = "idempotencyKey")]
                    pub idempotency_key: String,
                }
                /// Response body of `fund.greenlight.escrow.requestQuote` (application/json).
                pub type Output = crate::generated::fund::greenlight::escrow::retainer_defs::AgreementView;
            }
            /// `fund.greenlight.escrow.resolveDispute`: Resolve an open dispute (operators only): upheld refunds every pledge, rejected lets payout continue.
            pub mod resolve_dispute {
                /// The NSID of this document, `fund.greenlight.escrow.resolveDispute`.
                pub const NSID: &str = "fund.greenlight.escrow.resolveDispute";
                /// The resolution.
                #[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
                pub struct Input {
                    /// Escrow's dispute id.
                    pub dispute: String,
                    /// Outcome: upheld (every pledge is refunded) or rejected (payout continues).
                    pub outcome: String,
                    /// Explanation of the resolution, shown publicly.
                    pub note: String,
                    /// Client-chosen key making the call safe to retry: the same key with the same body returns the first answer; the same key with a different body fails with IdempotencyConflict. Keys are scoped to the caller.
                    #[serde(rename = "idempotencyKey")]
                    pub idempotency_key: String,
                }
                /// Response body of `fund.greenlight.escrow.resolveDispute` (application/json).
                pub type Output = crate::generated::fund::greenlight::escrow::defs::DisputeView;
            }
            /// `fund.greenlight.escrow.retainerDefs`: Views of retainer agreements shared by the Greenlight escrow service's methods. Amounts in the currency's minor units.
            pub mod retainer_defs {
                /// The NSID of this document, `fund.greenlight.escrow.retainerDefs`.
                pub const NSID: &str = "fund.greenlight.escrow.retainerDefs";
                /// How the client is invoiced: the details a company's accounts payable needs on a quote and an invoice. Kept by escrow, never published.
                #[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
                pub struct BillingDetails {
                    /// The client's registered legal name.
                    #[serde(rename = "legalName")]
                    pub legal_name: String,
                    /// The client's billing address, one line per line.
                    pub address: String,
                    /// The client's tax or VAT id, when it has one.
                    #[serde(
                        rename = "taxId",
                        default,
                        skip_serializing_if = "Option::is_none"
                    )]
                    pub tax_id: Option<String>,
                    /// The client's purchase-order number, printed on the quote and every invoice.
                    #[serde(
                        rename = "purchaseOrder",
                        default,
                        skip_serializing_if = "Option::is_none"
                    )]
                    pub purchase_order: Option<String>,
                    /// Where quotes and invoices are sent.
                    #[serde(default, skip_serializing_if = "Option::is_none")]
                    pub email: Option<String>,
                }
                /// A retainer agreement as escrow sees it. Each paid period is paid out to the maintainer at once, minus the published fee: retainer money is not escrowed.
                #[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
                pub struct AgreementView {
                    /// Escrow's agreement id; the receipt in the client's fund.greenlight.retainer record.
                    pub id: String,
                    /// The offer, at the version quoted.
                    pub offer: crate::generated::com::atproto::repo::strong_ref::StrongRef,
                    /// The client's DID.
                    pub client: String,
                    /// The maintainer's DID: the payee.
                    pub maintainer: String,
                    /// The tier in force for the current period.
                    pub tier: String,
                    /// Price per period of the tier in force.
                    pub amount: i64,
                    /// Currency of the amounts: an upper-case ISO 4217 code.
                    pub currency: String,
                    /// Length of one billing period: month (calendar months from the start date, clamped to the month's last day) or year.
                    pub period: String,
                    /// The tier that takes effect from the next period, after a change of tier.
                    #[serde(
                        rename = "nextTier",
                        default,
                        skip_serializing_if = "Option::is_none"
                    )]
                    pub next_tier: Option<String>,
                    /// Price per period from the next period, after a change of tier or price.
                    #[serde(
                        rename = "nextAmount",
                        default,
                        skip_serializing_if = "Option::is_none"
                    )]
                    pub next_amount: Option<i64>,
                    /// How each period is collected: invoice (sent for payment by bank transfer) or card (charged automatically).
                    pub collection: String,
                    /// State of the agreement: requested (a quote was asked for), quoted (escrow issued a quote; nothing is owed yet), active (the current period is paid), past_due (the current period's payment failed and is being retried on the published schedule), cancelling (cancelled; ends when the paid period ends), ended (cancelled or withdrawn; final), lapsed (payment failed after every retry; final).
                    pub state: String,
                    /// When the first period began.
                    #[serde(
                        rename = "startsAt",
                        default,
                        skip_serializing_if = "Option::is_none"
                    )]
                    pub starts_at: Option<String>,
                    /// When the current period began.
                    #[serde(
                        rename = "currentPeriodStartsAt",
                        default,
                        skip_serializing_if = "Option::is_none"
                    )]
                    pub current_period_starts_at: Option<String>,
                    /// When the current period ends; a cancelling agreement ends then.
                    #[serde(
                        rename = "currentPeriodEndsAt",
                        default,
                        skip_serializing_if = "Option::is_none"
                    )]
                    pub current_period_ends_at: Option<String>,
                    /// Failed payment attempts for the current period (past_due only).
                    #[serde(
                        rename = "failedAttempts",
                        default,
                        skip_serializing_if = "Option::is_none"
                    )]
                    pub failed_attempts: Option<i64>,
                    /// When the failed payment is next retried (past_due only).
                    #[serde(
                        rename = "nextRetryAt",
                        default,
                        skip_serializing_if = "Option::is_none"
                    )]
                    pub next_retry_at: Option<String>,
                    /// Where the quote can be read, once quoted.
                    #[serde(
                        rename = "quoteUrl",
                        default,
                        skip_serializing_if = "Option::is_none"
                    )]
                    pub quote_url: Option<String>,
                    /// The agreement's invoices, newest first (at most the latest 100); only in getRetainerAgreement.
                    #[serde(default, skip_serializing_if = "Option::is_none")]
                    pub invoices: Option<Vec<InvoiceView>>,
                    /// When escrow created the agreement.
                    #[serde(rename = "createdAt")]
                    pub created_at: String,
                    /// When the agreement last changed.
                    #[serde(rename = "updatedAt")]
                    pub updated_at: String,
                    /// Whether the client asked to be named in public.
                    #[serde(
                        rename = "listedPublicly",
                        default,
                        skip_serializing_if = "Option::is_none"
                    )]
                    pub listed_publicly: Option<bool>,
                    /// Where the open invoice of the current period can be paid (bank transfer details or card), while one is open.
                    #[serde(
                        rename = "paymentUrl",
                        default,
                        skip_serializing_if = "Option::is_none"
                    )]
                    pub payment_url: Option<String>,
                    /// The quote's number, once issued.
                    #[serde(
                        rename = "quoteNumber",
                        default,
                        skip_serializing_if = "Option::is_none"
                    )]
                    pub quote_number: Option<String>,
                }
                /// One period's invoice: numbered, and immutable once issued.
                #[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
                pub struct InvoiceView {
                    /// The invoice number, unique and sequential per maintainer.
                    pub number: String,
                    /// Start of the period billed.
                    #[serde(rename = "periodStartsAt")]
                    pub period_starts_at: String,
                    /// End of the period billed.
                    #[serde(rename = "periodEndsAt")]
                    pub period_ends_at: String,
                    /// The tier billed.
                    pub tier: String,
                    /// Amount billed.
                    pub amount: i64,
                    /// The published platform fee on the amount, once paid.
                    pub fee: i64,
                    /// What the maintainer receives: amount minus fee.
                    pub payout: i64,
                    /// Currency of the amounts: an upper-case ISO 4217 code.
                    pub currency: String,
                    /// State of the invoice: open (issued, awaiting payment), paid, retrying (a payment failed; retried on the published schedule), void (the agreement lapsed or ended before it was paid).
                    pub state: String,
                    /// Where the invoice document can be read.
                    #[serde(
                        rename = "documentUrl",
                        default,
                        skip_serializing_if = "Option::is_none"
                    )]
                    pub document_url: Option<String>,
                    /// When the invoice was issued.
                    #[serde(rename = "issuedAt")]
                    pub issued_at: String,
                    /// When it was paid.
                    #[serde(
                        rename = "paidAt",
                        default,
                        skip_serializing_if = "Option::is_none"
                    )]
                    pub paid_at: Option<String>,
                    /// The same invoice as PDF.
                    #[serde(
                        rename = "pdfUrl",
                        default,
                        skip_serializing_if = "Option::is_none"
                    )]
                    pub pdf_url: Option<String>,
                    /// When the invoice is due.
                    #[serde(
                        rename = "dueAt",
                        default,
                        skip_serializing_if = "Option::is_none"
                    )]
                    pub due_at: Option<String>,
                }
                /// One agreement's state in escrow's public feed. The client is named only when they asked to be listed; the amount is public either way, so the maintainer's totals reconcile to the cent.
                #[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
                pub struct RetainerState {
                    /// Position in the feed; strictly increasing.
                    pub seq: i64,
                    /// Escrow's agreement id, the receipt a client's fund.greenlight.retainer record carries.
                    pub agreement: String,
                    /// The offer the agreement was quoted from.
                    pub offer: String,
                    /// Who is paid.
                    pub maintainer: String,
                    /// The client, only when they asked to be listed.
                    #[serde(default, skip_serializing_if = "Option::is_none")]
                    pub client: Option<String>,
                    /// The tier in force.
                    pub tier: String,
                    /// Price per period in minor units.
                    pub amount: i64,
                    /// ISO 4217.
                    pub currency: String,
                    /// Length of a period.
                    pub period: String,
                    /// As in agreementView.
                    pub state: String,
                    /// Periods paid so far.
                    #[serde(rename = "paidPeriods")]
                    pub paid_periods: i64,
                    /// End of the period in force, when in force.
                    #[serde(
                        rename = "currentPeriodEndsAt",
                        default,
                        skip_serializing_if = "Option::is_none"
                    )]
                    pub current_period_ends_at: Option<String>,
                    /// When the state last changed.
                    #[serde(rename = "updatedAt")]
                    pub updated_at: String,
                }
                /// A maintainer as the vendor on their retainer quotes and invoices. Private to escrow: shown only on the documents of the maintainer's own agreements.
                #[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
                pub struct VendorDetails {
                    /// The maintainer's legal name (or their business's), as invoices must show it.
                    #[serde(rename = "legalName")]
                    pub legal_name: String,
                    /// Postal address, several lines.
                    pub address: String,
                    /// VAT or other tax id.
                    #[serde(
                        rename = "taxId",
                        default,
                        skip_serializing_if = "Option::is_none"
                    )]
                    pub tax_id: Option<String>,
                    /// Where clients write about invoices.
                    #[serde(default, skip_serializing_if = "Option::is_none")]
                    pub email: Option<String>,
                }
            }
            /// `fund.greenlight.escrow.setVendorDetails`: Set how the caller appears as the vendor on the quotes and invoices escrow issues for their retainers from now on (service auth: the caller is the maintainer). Documents already issued keep what they said.
            pub mod set_vendor_details {
                /// The NSID of this document, `fund.greenlight.escrow.setVendorDetails`.
                pub const NSID: &str = "fund.greenlight.escrow.setVendorDetails";
                /// The request.
                #[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
                pub struct Input {
                    /// The vendor details.
                    pub details: crate::generated::fund::greenlight::escrow::retainer_defs::VendorDetails,
                }
                /// Response body of `fund.greenlight.escrow.setVendorDetails` (application/json).
                #[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
                pub struct Output {
                    /// As stored.
                    pub details: crate::generated::fund::greenlight::escrow::retainer_defs::VendorDetails,
                    /// When they were stored.
                    #[serde(rename = "updatedAt")]
                    pub updated_at: String,
                }
            }
            /// `fund.greenlight.escrow.startRetainer`: Accept a quote and start the agreement (service auth: the caller is the client). The first period begins now and is invoiced or charged at once; each later period begins on the same day of the month (or year), clamped to the month's last day.
            pub mod start_retainer {
                /// The NSID of this document, `fund.greenlight.escrow.startRetainer`.
                pub const NSID: &str = "fund.greenlight.escrow.startRetainer";
                /// The request.
                #[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
                pub struct Input {
                    /// Escrow's retainer agreement id.
                    pub agreement: String,
                    /// Client-chosen key making the call safe to retry: the same key with the same body returns the first answer; the same key with a different body fails with IdempotencyConflict. Keys are scoped to the caller.
                    #[serde(rename = "idempotencyKey")]
                    pub idempotency_key: String,
                }
                /// Response body of `fund.greenlight.escrow.startRetainer` (application/json).
                pub type Output = crate::generated::fund::greenlight::escrow::retainer_defs::AgreementView;
            }
        }
        /// `fund.greenlight.estimate`: What the author would pay for a proposed feature. No money moves. One estimate per author and proposal counts: the newest. It counts at most the author's estimate cap.
        pub mod estimate {
            /// The NSID of this document, `fund.greenlight.estimate`.
            pub const NSID: &str = "fund.greenlight.estimate";
            /// What the author would pay for a proposed feature. No money moves. One estimate per author and proposal counts: the newest. It counts at most the author's estimate cap.
            #[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
            pub struct Estimate {
                /// The proposal, by strong reference to its fund.greenlight.proposal record.
                pub subject: crate::generated::com::atproto::repo::strong_ref::StrongRef,
                /// Amount the author would pay, in the currency's minor units (e.g. cents).
                pub amount: i64,
                /// Currency of the amount: an upper-case ISO 4217 code; must be the proposal's currency to count.
                pub currency: String,
                /// Client-declared time the record was created.
                #[serde(rename = "createdAt")]
                pub created_at: String,
            }
            impl crate::LexiconRecord for Estimate {
                const NSID: &'static str = NSID;
            }
        }
        /// `fund.greenlight.getActor`: A person's contributions and current estimate caps.
        pub mod get_actor {
            /// The NSID of this document, `fund.greenlight.getActor`.
            pub const NSID: &str = "fund.greenlight.getActor";
            /// Query parameters of `fund.greenlight.getActor`.
            #[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
            pub struct Params {
                /// The person, by DID or handle.
                pub actor: String,
            }
            /// Response body of `fund.greenlight.getActor` (application/json).
            pub type Output = crate::generated::fund::greenlight::defs::ActorView;
        }
        /// `fund.greenlight.getFundingTotals`: Funding totals for several proposals or projects at once (for widgets and badges). A URI that is not indexed is absent from the output.
        pub mod get_funding_totals {
            /// The NSID of this document, `fund.greenlight.getFundingTotals`.
            pub const NSID: &str = "fund.greenlight.getFundingTotals";
            /// Query parameters of `fund.greenlight.getFundingTotals`.
            #[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
            pub struct Params {
                /// Proposals and/or projects to total.
                pub uris: Vec<String>,
            }
            /// Totals for the known URIs.
            #[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
            pub struct Output {
                /// One entry per known URI.
                pub totals: Vec<crate::generated::fund::greenlight::defs::FundingTotals>,
            }
        }
        /// `fund.greenlight.getProject`: Get one project with its funding totals.
        pub mod get_project {
            /// The NSID of this document, `fund.greenlight.getProject`.
            pub const NSID: &str = "fund.greenlight.getProject";
            /// Query parameters of `fund.greenlight.getProject`.
            #[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
            pub struct Params {
                /// AT-URI of the project record.
                pub uri: String,
            }
            /// Response body of `fund.greenlight.getProject` (application/json).
            pub type Output = crate::generated::fund::greenlight::defs::ProjectView;
        }
        /// `fund.greenlight.getProposal`: Get one proposal with its stage and funding totals.
        pub mod get_proposal {
            /// The NSID of this document, `fund.greenlight.getProposal`.
            pub const NSID: &str = "fund.greenlight.getProposal";
            /// Query parameters of `fund.greenlight.getProposal`.
            #[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
            pub struct Params {
                /// AT-URI of the proposal record.
                pub uri: String,
            }
            /// Response body of `fund.greenlight.getProposal` (application/json).
            pub type Output = crate::generated::fund::greenlight::defs::ProposalView;
        }
        /// `fund.greenlight.getRetainerOffer`: Get one retainer offer with its tiers and seats.
        pub mod get_retainer_offer {
            /// The NSID of this document, `fund.greenlight.getRetainerOffer`.
            pub const NSID: &str = "fund.greenlight.getRetainerOffer";
            /// Query parameters of `fund.greenlight.getRetainerOffer`.
            #[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
            pub struct Params {
                /// AT-URI of the fund.greenlight.retainerOffer record.
                pub uri: String,
            }
            /// Response body of `fund.greenlight.getRetainerOffer` (application/json).
            pub type Output = crate::generated::fund::greenlight::retainer_defs::OfferView;
        }
        /// `fund.greenlight.listEstimates`: List the current estimates of a proposal (latest per author), newest first.
        pub mod list_estimates {
            /// The NSID of this document, `fund.greenlight.listEstimates`.
            pub const NSID: &str = "fund.greenlight.listEstimates";
            /// Query parameters of `fund.greenlight.listEstimates`.
            #[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
            pub struct Params {
                /// AT-URI of the proposal record.
                pub proposal: String,
                /// Most items to return (1 to 100).
                #[serde(default, skip_serializing_if = "Option::is_none")]
                pub limit: Option<i64>,
                /// Opaque cursor from a previous page's `cursor`; omit for the first page.
                #[serde(default, skip_serializing_if = "Option::is_none")]
                pub cursor: Option<String>,
            }
            /// A page of estimates.
            #[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
            pub struct Output {
                /// Cursor for the next page; absent on the last page.
                #[serde(default, skip_serializing_if = "Option::is_none")]
                pub cursor: Option<String>,
                /// The estimates.
                pub estimates: Vec<
                    crate::generated::fund::greenlight::defs::EstimateView,
                >,
            }
        }
        /// `fund.greenlight.listPledges`: List the pledges of a proposal, newest first.
        pub mod list_pledges {
            /// The NSID of this document, `fund.greenlight.listPledges`.
            pub const NSID: &str = "fund.greenlight.listPledges";
            /// Query parameters of `fund.greenlight.listPledges`.
            #[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
            pub struct Params {
                /// AT-URI of the proposal record.
                pub proposal: String,
                /// Most items to return (1 to 100).
                #[serde(default, skip_serializing_if = "Option::is_none")]
                pub limit: Option<i64>,
                /// Opaque cursor from a previous page's `cursor`; omit for the first page.
                #[serde(default, skip_serializing_if = "Option::is_none")]
                pub cursor: Option<String>,
            }
            /// A page of pledges.
            #[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
            pub struct Output {
                /// Cursor for the next page; absent on the last page.
                #[serde(default, skip_serializing_if = "Option::is_none")]
                pub cursor: Option<String>,
                /// The pledges.
                pub pledges: Vec<crate::generated::fund::greenlight::defs::PledgeView>,
            }
        }
        /// `fund.greenlight.listProjects`: List projects, newest first, optionally those one person owns or maintains.
        pub mod list_projects {
            /// The NSID of this document, `fund.greenlight.listProjects`.
            pub const NSID: &str = "fund.greenlight.listProjects";
            /// Query parameters of `fund.greenlight.listProjects`.
            #[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
            pub struct Params {
                /// Only projects this person (DID or handle) owns or maintains.
                #[serde(default, skip_serializing_if = "Option::is_none")]
                pub maintainer: Option<String>,
                /// Most items to return (1 to 100).
                #[serde(default, skip_serializing_if = "Option::is_none")]
                pub limit: Option<i64>,
                /// Opaque cursor from a previous page's `cursor`; omit for the first page.
                #[serde(default, skip_serializing_if = "Option::is_none")]
                pub cursor: Option<String>,
            }
            /// A page of projects.
            #[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
            pub struct Output {
                /// Cursor for the next page; absent on the last page.
                #[serde(default, skip_serializing_if = "Option::is_none")]
                pub cursor: Option<String>,
                /// The projects.
                pub projects: Vec<crate::generated::fund::greenlight::defs::ProjectView>,
            }
        }
        /// `fund.greenlight.listProposals`: List proposals, optionally for one project or repository, or in one stage.
        pub mod list_proposals {
            /// The NSID of this document, `fund.greenlight.listProposals`.
            pub const NSID: &str = "fund.greenlight.listProposals";
            /// Query parameters of `fund.greenlight.listProposals`.
            #[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
            pub struct Params {
                /// Only proposals for this fund.greenlight.project record.
                #[serde(default, skip_serializing_if = "Option::is_none")]
                pub project: Option<String>,
                /// Only proposals whose subject is this repository (directly or via its project).
                #[serde(default, skip_serializing_if = "Option::is_none")]
                pub repository: Option<String>,
                /// Only proposals in this stage.
                #[serde(default, skip_serializing_if = "Option::is_none")]
                pub stage: Option<String>,
                /// Order: top (counted estimate total), new (newest first), pledged (most pledged money).
                #[serde(default, skip_serializing_if = "Option::is_none")]
                pub sort: Option<String>,
                /// Most items to return (1 to 100).
                #[serde(default, skip_serializing_if = "Option::is_none")]
                pub limit: Option<i64>,
                /// Opaque cursor from a previous page's `cursor`; omit for the first page.
                #[serde(default, skip_serializing_if = "Option::is_none")]
                pub cursor: Option<String>,
            }
            /// A page of proposals.
            #[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
            pub struct Output {
                /// Cursor for the next page; absent on the last page.
                #[serde(default, skip_serializing_if = "Option::is_none")]
                pub cursor: Option<String>,
                /// The proposals, in the requested order.
                pub proposals: Vec<
                    crate::generated::fund::greenlight::defs::ProposalView,
                >,
            }
        }
        /// `fund.greenlight.listRetainerOffers`: List retainer offers by a maintainer or covering a project, newest first. Exactly one of maintainer and project is given.
        pub mod list_retainer_offers {
            /// The NSID of this document, `fund.greenlight.listRetainerOffers`.
            pub const NSID: &str = "fund.greenlight.listRetainerOffers";
            /// Query parameters of `fund.greenlight.listRetainerOffers`.
            #[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
            pub struct Params {
                /// The maintainer's DID.
                #[serde(default, skip_serializing_if = "Option::is_none")]
                pub maintainer: Option<String>,
                /// AT-URI of a covered fund.greenlight.project record.
                #[serde(default, skip_serializing_if = "Option::is_none")]
                pub project: Option<String>,
                /// Most items to return (1 to 100).
                #[serde(default, skip_serializing_if = "Option::is_none")]
                pub limit: Option<i64>,
                /// Opaque cursor from a previous page's `cursor`; omit for the first page.
                #[serde(default, skip_serializing_if = "Option::is_none")]
                pub cursor: Option<String>,
            }
            /// A page of offers.
            #[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
            pub struct Output {
                /// Cursor for the next page; absent on the last page.
                #[serde(default, skip_serializing_if = "Option::is_none")]
                pub cursor: Option<String>,
                /// The offers.
                pub offers: Vec<
                    crate::generated::fund::greenlight::retainer_defs::OfferView,
                >,
            }
        }
        /// `fund.greenlight.listRetainers`: List retainers, newest first: a maintainer's clients with their totals (clients who asked not to be listed are counted but not named), or a client's own retainers. Exactly one of maintainer and client is given.
        pub mod list_retainers {
            /// The NSID of this document, `fund.greenlight.listRetainers`.
            pub const NSID: &str = "fund.greenlight.listRetainers";
            /// Query parameters of `fund.greenlight.listRetainers`.
            #[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
            pub struct Params {
                /// The maintainer's DID: list their clients.
                #[serde(default, skip_serializing_if = "Option::is_none")]
                pub maintainer: Option<String>,
                /// The client's DID: list their retainers.
                #[serde(default, skip_serializing_if = "Option::is_none")]
                pub client: Option<String>,
                /// Most items to return (1 to 100).
                #[serde(default, skip_serializing_if = "Option::is_none")]
                pub limit: Option<i64>,
                /// Opaque cursor from a previous page's `cursor`; omit for the first page.
                #[serde(default, skip_serializing_if = "Option::is_none")]
                pub cursor: Option<String>,
            }
            /// A page of retainers.
            #[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
            pub struct Output {
                /// Cursor for the next page; absent on the last page.
                #[serde(default, skip_serializing_if = "Option::is_none")]
                pub cursor: Option<String>,
                /// The retainers.
                pub retainers: Vec<
                    crate::generated::fund::greenlight::retainer_defs::RetainerView,
                >,
                /// With maintainer: the maintainer's retainer income, one entry per currency.
                #[serde(default, skip_serializing_if = "Option::is_none")]
                pub totals: Option<
                    Vec<
                        crate::generated::fund::greenlight::retainer_defs::RetainerTotals,
                    >,
                >,
            }
        }
        /// `fund.greenlight.maintainer`: The author accepts to maintain a project that lists them in its `maintainers`. A listed maintainer's status records count only while this record is in their own repo; deleting it withdraws.
        pub mod maintainer {
            /// The NSID of this document, `fund.greenlight.maintainer`.
            pub const NSID: &str = "fund.greenlight.maintainer";
            /// The author accepts to maintain a project that lists them in its `maintainers`. A listed maintainer's status records count only while this record is in their own repo; deleting it withdraws.
            #[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
            pub struct Maintainer {
                /// The project, by strong reference to its fund.greenlight.project record.
                pub subject: crate::generated::com::atproto::repo::strong_ref::StrongRef,
                /// Client-declared time the record was created.
                #[serde(rename = "createdAt")]
                pub created_at: String,
            }
            impl crate::LexiconRecord for Maintainer {
                const NSID: &'static str = NSID;
            }
        }
        /// `fund.greenlight.pledge`: Public attribution of money a backer pledged into escrow for a proposal. The money itself is held by the escrow service; the AppView counts a pledge only as far as escrow confirms it.
        pub mod pledge {
            /// The NSID of this document, `fund.greenlight.pledge`.
            pub const NSID: &str = "fund.greenlight.pledge";
            /// Public attribution of money a backer pledged into escrow for a proposal. The money itself is held by the escrow service; the AppView counts a pledge only as far as escrow confirms it.
            #[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
            pub struct Pledge {
                /// The proposal, by strong reference to its fund.greenlight.proposal record.
                pub subject: crate::generated::com::atproto::repo::strong_ref::StrongRef,
                /// Amount pledged, in the currency's minor units (e.g. cents).
                pub amount: i64,
                /// Currency of the amount: an upper-case ISO 4217 code.
                pub currency: String,
                /// The escrow service's pledge id (fund.greenlight.escrow.defs#pledgeView id).
                pub receipt: String,
                /// Client-declared time the record was created.
                #[serde(rename = "createdAt")]
                pub created_at: String,
            }
            impl crate::LexiconRecord for Pledge {
                const NSID: &'static str = NSID;
            }
        }
        /// `fund.greenlight.project`: A software project that accepts feature funding through Greenlight. Written by its owner (the repo's DID); the record key is free-form, a short slug is recommended.
        pub mod project {
            /// The NSID of this document, `fund.greenlight.project`.
            pub const NSID: &str = "fund.greenlight.project";
            /// A software project that accepts feature funding through Greenlight. Written by its owner (the repo's DID); the record key is free-form, a short slug is recommended.
            #[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
            pub struct Project {
                /// Display name of the project.
                pub name: String,
                /// What the project is, in Markdown.
                pub description: String,
                /// Public source repository where releases land (for example a git hosting URL). Released features are checked against it.
                pub repository: String,
                /// Project home page, when it differs from the repository.
                #[serde(default, skip_serializing_if = "Option::is_none")]
                pub website: Option<String>,
                /// Currency of every amount for this project's proposals: an upper-case ISO 4217 code.
                #[serde(default, skip_serializing_if = "Option::is_none")]
                pub currency: Option<String>,
                /// DIDs besides the owner allowed to post fund.greenlight.status records for this project's proposals.
                #[serde(default, skip_serializing_if = "Option::is_none")]
                pub maintainers: Option<Vec<String>>,
                /// Client-declared time the record was created.
                #[serde(rename = "createdAt")]
                pub created_at: String,
            }
            impl crate::LexiconRecord for Project {
                const NSID: &'static str = NSID;
            }
        }
        /// `fund.greenlight.proposal`: A feature proposal for a project. Anyone may write one.
        pub mod proposal {
            /// The NSID of this document, `fund.greenlight.proposal`.
            pub const NSID: &str = "fund.greenlight.proposal";
            /// A feature proposal for a project. Anyone may write one.
            #[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
            pub struct Proposal {
                /// The project the feature is for: a strong reference to its fund.greenlight.project record, or a bare repository for a project not on Greenlight yet.
                pub subject: ProposalSubject,
                /// Short title of the feature.
                pub title: String,
                /// What the feature is and why it matters, in Markdown.
                pub body: String,
                /// Topic tags for discovery.
                #[serde(default, skip_serializing_if = "Option::is_none")]
                pub tags: Option<Vec<String>>,
                /// Client-declared time the record was created.
                #[serde(rename = "createdAt")]
                pub created_at: String,
            }
            /// The project the feature is for: a strong reference to its fund.greenlight.project record, or a bare repository for a project not on Greenlight yet.
            #[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
            #[serde(tag = "$type")]
            pub enum ProposalSubject {
                /// A `com.atproto.repo.strongRef`.
                #[serde(
                    rename = "com.atproto.repo.strongRef",
                    alias = "com.atproto.repo.strongRef#main",
                    alias = "lex:com.atproto.repo.strongRef",
                    alias = "lex:com.atproto.repo.strongRef#main"
                )]
                StrongRef(crate::generated::com::atproto::repo::strong_ref::StrongRef),
                /// A `fund.greenlight.proposal#repository`.
                #[serde(
                    rename = "fund.greenlight.proposal#repository",
                    alias = "lex:fund.greenlight.proposal#repository"
                )]
                Repository(Repository),
                /// A member this version of the lexicons does not know, kept as raw JSON.
                #[serde(untagged)]
                Unknown(serde_json::Value),
            }
            impl crate::LexiconRecord for Proposal {
                const NSID: &'static str = NSID;
            }
            /// A project identified only by its source repository (not yet on Greenlight).
            #[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
            pub struct Repository {
                /// Public source repository of the project.
                pub url: String,
            }
        }
        /// `fund.greenlight.retainer`: Public attribution of a retainer agreement a client holds with a maintainer, like a pledge: the money is billed and paid by the escrow service, and the AppView counts the record only as far as escrow confirms the agreement.
        pub mod retainer {
            /// The NSID of this document, `fund.greenlight.retainer`.
            pub const NSID: &str = "fund.greenlight.retainer";
            /// Public attribution of a retainer agreement a client holds with a maintainer, like a pledge: the money is billed and paid by the escrow service, and the AppView counts the record only as far as escrow confirms the agreement.
            #[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
            pub struct Retainer {
                /// The offer, by strong reference to its fund.greenlight.retainerOffer record (the version the client agreed to).
                pub subject: crate::generated::com::atproto::repo::strong_ref::StrongRef,
                /// Name of the tier chosen, as in the offer.
                pub tier: String,
                /// Whether the client wants to be named among the maintainer's clients. When false the AppView counts the agreement in totals without naming the client.
                #[serde(rename = "listedPublicly")]
                pub listed_publicly: bool,
                /// The escrow service's agreement id (fund.greenlight.escrow.retainerDefs#agreementView id).
                pub receipt: String,
                /// Client-declared time the record was created.
                #[serde(rename = "createdAt")]
                pub created_at: String,
            }
            impl crate::LexiconRecord for Retainer {
                const NSID: &'static str = NSID;
            }
        }
        /// `fund.greenlight.retainerDefs`: Views of retainer offers and retainers shared by the Greenlight AppView's queries.
        pub mod retainer_defs {
            /// The NSID of this document, `fund.greenlight.retainerDefs`.
            pub const NSID: &str = "fund.greenlight.retainerDefs";
            /// A retainer offer with who may sell it and how many clients hold it.
            #[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
            pub struct OfferView {
                /// AT-URI of the fund.greenlight.retainerOffer record.
                pub uri: String,
                /// CID of the indexed version of the offer record.
                pub cid: String,
                /// The maintainer whose repo holds the offer.
                pub maintainer: crate::generated::fund::greenlight::defs::ActorRef,
                /// The covered projects.
                pub projects: Vec<crate::generated::fund::greenlight::defs::ProjectRef>,
                /// The covered repositories.
                pub repositories: Vec<String>,
                /// What a client gets, in Markdown.
                pub description: String,
                /// The tiers, in the offer's order.
                pub tiers: Vec<TierView>,
                /// Currency of every tier's price: an upper-case ISO 4217 code.
                pub currency: String,
                /// The contract terms.
                #[serde(
                    rename = "termsUrl",
                    default,
                    skip_serializing_if = "Option::is_none"
                )]
                pub terms_url: Option<String>,
                /// True when the maintainer may sell retainers for every covered project (its verified owner or a consenting maintainer) and the tiers are valid; only then does escrow quote it.
                pub authorized: bool,
                /// Why the offer is not authorized, for people.
                #[serde(default, skip_serializing_if = "Option::is_none")]
                pub refusal: Option<String>,
                /// Number of active agreements on the offer, listed or not.
                #[serde(rename = "clientCount")]
                pub client_count: i64,
                /// When the AppView indexed this version of the record.
                #[serde(rename = "indexedAt")]
                pub indexed_at: String,
                /// Client-declared creation time of the offer record.
                #[serde(rename = "createdAt")]
                pub created_at: String,
            }
            /// One tier of an offer with its seats.
            #[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
            pub struct TierView {
                /// Name of the tier.
                pub name: String,
                /// Price per period, in minor units.
                pub amount: i64,
                /// Currency of the price: an upper-case ISO 4217 code.
                pub currency: String,
                /// Length of one billing period: month (calendar months from the start date, clamped to the month's last day) or year.
                pub period: String,
                /// What the tier includes.
                pub included: crate::generated::fund::greenlight::retainer_offer::Included,
                /// Most clients the tier takes at once; absent means no limit.
                #[serde(
                    rename = "seatLimit",
                    default,
                    skip_serializing_if = "Option::is_none"
                )]
                pub seat_limit: Option<i64>,
                /// Number of active agreements on the tier.
                #[serde(rename = "activeClients")]
                pub active_clients: i64,
            }
            /// A retainer: a client's record with the agreement state escrow reports.
            #[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
            pub struct RetainerView {
                /// AT-URI of the fund.greenlight.retainer record.
                pub uri: String,
                /// CID of the retainer record.
                pub cid: String,
                /// The client; absent when the client asked not to be listed and the caller is not the client.
                #[serde(default, skip_serializing_if = "Option::is_none")]
                pub client: Option<crate::generated::fund::greenlight::defs::ActorRef>,
                /// AT-URI of the offer.
                pub offer: String,
                /// The maintainer retained.
                #[serde(default, skip_serializing_if = "Option::is_none")]
                pub maintainer: Option<
                    crate::generated::fund::greenlight::defs::ActorRef,
                >,
                /// Name of the tier in force.
                pub tier: String,
                /// Price per period of the tier in force, in minor units.
                #[serde(default, skip_serializing_if = "Option::is_none")]
                pub amount: Option<i64>,
                /// Currency of the amounts: an upper-case ISO 4217 code.
                #[serde(default, skip_serializing_if = "Option::is_none")]
                pub currency: Option<String>,
                /// Length of one billing period: month (calendar months from the start date, clamped to the month's last day) or year.
                #[serde(default, skip_serializing_if = "Option::is_none")]
                pub period: Option<String>,
                /// State of the agreement: requested (a quote was asked for), quoted (escrow issued a quote; nothing is owed yet), active (the current period is paid), past_due (the current period's payment failed and is being retried on the published schedule), cancelling (cancelled; ends when the paid period ends), ended (cancelled or withdrawn; final), lapsed (payment failed after every retry; final).
                pub state: String,
                /// Whether the client asked to be named.
                #[serde(rename = "listedPublicly")]
                pub listed_publicly: bool,
                /// What the client paid under the agreement so far, in minor units.
                #[serde(
                    rename = "paidTotal",
                    default,
                    skip_serializing_if = "Option::is_none"
                )]
                pub paid_total: Option<i64>,
                /// When the paid period in force ends (and a cancelling agreement ends).
                #[serde(
                    rename = "currentPeriodEndsAt",
                    default,
                    skip_serializing_if = "Option::is_none"
                )]
                pub current_period_ends_at: Option<String>,
                /// Client-declared creation time of the retainer record.
                #[serde(rename = "createdAt")]
                pub created_at: String,
                /// When the AppView indexed the record.
                #[serde(rename = "indexedAt")]
                pub indexed_at: String,
            }
            /// A maintainer's retainer income in one currency, from escrow's ledger feed: every agreement counts, listed or not, so the totals reconcile with the ledger to the cent.
            #[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
            pub struct RetainerTotals {
                /// Currency of the amounts: an upper-case ISO 4217 code.
                pub currency: String,
                /// Number of active agreements (including cancelling ones until they end).
                #[serde(rename = "activeClients")]
                pub active_clients: i64,
                /// How many of them asked to be named.
                #[serde(rename = "listedClients")]
                pub listed_clients: i64,
                /// Sum of period payments clients made.
                pub paid: i64,
                /// The platform's published fee on those payments.
                pub fees: i64,
                /// What the maintainer received: paid minus fees.
                #[serde(rename = "paidOut")]
                pub paid_out: i64,
                /// What the active agreements pay per year at their current tiers (monthly tiers times 12).
                #[serde(
                    rename = "annualRunRate",
                    default,
                    skip_serializing_if = "Option::is_none"
                )]
                pub annual_run_rate: Option<i64>,
            }
        }
        /// `fund.greenlight.retainerOffer`: A maintainer's offer of retainers to the companies that depend on their work: not hours or deliverables, but maintenance, access and advice, priced per period. Written by the maintainer; counts only for projects they own (verified) or maintain with consent. The record key is free-form, a short slug is recommended.
        pub mod retainer_offer {
            /// The NSID of this document, `fund.greenlight.retainerOffer`.
            pub const NSID: &str = "fund.greenlight.retainerOffer";
            /// A maintainer's offer of retainers to the companies that depend on their work: not hours or deliverables, but maintenance, access and advice, priced per period. Written by the maintainer; counts only for projects they own (verified) or maintain with consent. The record key is free-form, a short slug is recommended.
            #[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
            pub struct RetainerOffer {
                /// Projects the retainer covers, by strong reference to their fund.greenlight.project records.
                #[serde(default, skip_serializing_if = "Option::is_none")]
                pub projects: Option<
                    Vec<crate::generated::com::atproto::repo::strong_ref::StrongRef>,
                >,
                /// Source repositories the retainer covers; each must be the repository of one of the covered projects.
                #[serde(default, skip_serializing_if = "Option::is_none")]
                pub repositories: Option<Vec<String>>,
                /// What a client gets and why it matters, in Markdown.
                pub description: String,
                /// The tiers a client chooses from, in the order to show them (at most 10).
                pub tiers: Vec<Tier>,
                /// The contract terms every tier is sold under.
                #[serde(
                    rename = "termsUrl",
                    default,
                    skip_serializing_if = "Option::is_none"
                )]
                pub terms_url: Option<String>,
                /// Client-declared time the record was created.
                #[serde(rename = "createdAt")]
                pub created_at: String,
            }
            impl crate::LexiconRecord for RetainerOffer {
                const NSID: &'static str = NSID;
            }
            /// One tier of a retainer offer: its price per period and what it includes.
            #[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
            pub struct Tier {
                /// Name of the tier, unique within the offer (compared ignoring case); a client's fund.greenlight.retainer record names it.
                pub name: String,
                /// Price per period, in the currency's minor units (e.g. cents).
                pub amount: i64,
                /// Currency of the price: an upper-case ISO 4217 code; every tier of an offer uses the same currency.
                pub currency: String,
                /// Length of one billing period: month (calendar months from the start date, clamped to the month's last day) or year.
                pub period: String,
                /// What the tier includes.
                pub included: Included,
                /// Most clients this tier takes at once; absent means no limit.
                #[serde(
                    rename = "seatLimit",
                    default,
                    skip_serializing_if = "Option::is_none"
                )]
                pub seat_limit: Option<i64>,
            }
            /// What a tier includes, as flags a client can compare across tiers, plus free text for the rest.
            #[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
            pub struct Included {
                /// The client funds continued maintenance of the covered projects, reducing the business risk of them going unmaintained (security fixes, releases, reviews).
                #[serde(rename = "riskMitigation")]
                pub risk_mitigation: bool,
                /// A channel of reciprocal access: the maintainer learns how the client uses the projects, keeps those uses in mind when planning and involves the client when relevant changes are on the roadmap.
                #[serde(rename = "reciprocalAccess")]
                pub reciprocal_access: bool,
                /// The maintainer is available to the client for advice on topics of their expertise beyond the strict scope of the covered projects.
                pub advisory: bool,
                /// Anything else the tier includes, in Markdown (for example how often the maintainer meets the client's engineers).
                #[serde(default, skip_serializing_if = "Option::is_none")]
                pub details: Option<String>,
            }
        }
        /// `fund.greenlight.searchProposals`: Full-text search over proposal titles, bodies and tags.
        pub mod search_proposals {
            /// The NSID of this document, `fund.greenlight.searchProposals`.
            pub const NSID: &str = "fund.greenlight.searchProposals";
            /// Query parameters of `fund.greenlight.searchProposals`.
            #[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
            pub struct Params {
                /// Search terms.
                pub q: String,
                /// Most items to return (1 to 100).
                #[serde(default, skip_serializing_if = "Option::is_none")]
                pub limit: Option<i64>,
                /// Opaque cursor from a previous page's `cursor`; omit for the first page.
                #[serde(default, skip_serializing_if = "Option::is_none")]
                pub cursor: Option<String>,
            }
            /// A page of matching proposals.
            #[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
            pub struct Output {
                /// Cursor for the next page; absent on the last page.
                #[serde(default, skip_serializing_if = "Option::is_none")]
                pub cursor: Option<String>,
                /// Matching proposals, best first.
                pub proposals: Vec<
                    crate::generated::fund::greenlight::defs::ProposalView,
                >,
            }
        }
        /// `fund.greenlight.status`: Moves a proposal to a stage. Counts only when written by the project's owner or a listed maintainer, and only in order (development, preview, then release; decline from development or preview). Repeating the current stage updates it.
        pub mod status {
            /// The NSID of this document, `fund.greenlight.status`.
            pub const NSID: &str = "fund.greenlight.status";
            /// Moves a proposal to a stage. Counts only when written by the project's owner or a listed maintainer, and only in order (development, preview, then release; decline from development or preview). Repeating the current stage updates it.
            #[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
            pub struct Status {
                /// The proposal, by strong reference to its fund.greenlight.proposal record.
                pub subject: crate::generated::com::atproto::repo::strong_ref::StrongRef,
                /// The stage the proposal enters, with its details.
                pub stage: StatusStage,
                /// Client-declared time the record was created.
                #[serde(rename = "createdAt")]
                pub created_at: String,
            }
            /// The stage the proposal enters, with its details.
            #[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
            #[serde(tag = "$type")]
            pub enum StatusStage {
                /// A `fund.greenlight.status#development`.
                #[serde(
                    rename = "fund.greenlight.status#development",
                    alias = "lex:fund.greenlight.status#development"
                )]
                Development(Development),
                /// A `fund.greenlight.status#preview`.
                #[serde(
                    rename = "fund.greenlight.status#preview",
                    alias = "lex:fund.greenlight.status#preview"
                )]
                Preview(Preview),
                /// A `fund.greenlight.status#release`.
                #[serde(
                    rename = "fund.greenlight.status#release",
                    alias = "lex:fund.greenlight.status#release"
                )]
                Release(Release),
                /// A `fund.greenlight.status#decline`.
                #[serde(
                    rename = "fund.greenlight.status#decline",
                    alias = "lex:fund.greenlight.status#decline"
                )]
                Decline(Decline),
                /// A member this version of the lexicons does not know, kept as raw JSON.
                #[serde(untagged)]
                Unknown(serde_json::Value),
            }
            impl crate::LexiconRecord for Status {
                const NSID: &'static str = NSID;
            }
            /// The maintainer is building the feature, privately, for the stated goal.
            #[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
            pub struct Development {
                /// Funding the maintainer asks for, in the currency's minor units (e.g. cents).
                pub goal: i64,
                /// Currency of the goal: an upper-case ISO 4217 code; must be the project's currency.
                pub currency: String,
                /// Optional note to backers, in Markdown.
                #[serde(default, skip_serializing_if = "Option::is_none")]
                pub note: Option<String>,
            }
            /// The feature is publicly previewable until endsAt; backers may pledge during the preview.
            #[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
            pub struct Preview {
                /// Where the preview can be tried.
                pub url: String,
                /// How to try the preview, in Markdown.
                pub instructions: String,
                /// When the preview, and pledging, ends.
                #[serde(rename = "endsAt")]
                pub ends_at: String,
            }
            /// The feature was released as open source; starts the verification period before payout.
            #[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
            pub struct Release {
                /// Public location of the released source code.
                #[serde(rename = "sourceUrl")]
                pub source_url: String,
                /// Revision of the release in the repository: a commit hash or tag name.
                #[serde(default, skip_serializing_if = "Option::is_none")]
                pub revision: Option<String>,
                /// License of the released code, as an SPDX license expression.
                pub license: String,
            }
            /// The maintainer will not ship the feature; every held pledge is refunded.
            #[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
            pub struct Decline {
                /// Why the proposal was declined.
                pub reason: String,
            }
        }
    }
}
