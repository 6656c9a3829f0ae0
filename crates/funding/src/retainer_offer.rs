//! Retainer offers (`fund.greenlight.retainerOffer`): who may sell retainers for a project,
//! and which tiers are valid.
//!
//! An offer is only *sellable* (escrow quotes it, the AppView marks it authorized) when both
//! hold:
//!
//! - **Authority.** It covers at least one project, and for every covered project the author
//!   may take money for it: the project's owner or a listed maintainer who accepted
//!   ([`ProjectRecord::has_authority`], the rule status records follow), *and* the project is
//!   verified (it proves control of its repository or website), because unverified projects
//!   take no money anywhere in Greenlight. One covered project the author may not sell for
//!   makes the whole offer unsellable rather than being dropped silently: clients compare
//!   offers by what they cover, and an offer claiming someone else's project misleads them.
//!   A covered repository must be the repository of one of the covered projects (the one
//!   place its ownership was proven); compared with [`same_repository`].
//! - **Tiers** ([`validate_tiers`]): one to [`MAX_TIERS`]; each with a non-empty name unique
//!   within the offer ignoring case (a client's record names its tier, and "Gold" next to
//!   "gold" would be ambiguous); a price of at least one minor unit and at most
//!   [`MAX_PRICE`]; a currency in the [currency table](crate::currency), the same for every
//!   tier (tiers are compared side by side and totals are kept per currency); a period of
//!   `month` or `year`; and a seat limit, if any, from 1 to [`MAX_SEAT_LIMIT`].
//!
//! Every problem is reported, not just the first, so a client can show them all at once.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::billing_period::Period;
use crate::currency::Currency;
use crate::proposal::ProjectRecord;

/// The most tiers an offer has (the lexicon's `maxLength`).
pub const MAX_TIERS: usize = 10;
/// The most clients a tier's seat limit may allow (the lexicon's `maximum`).
pub const MAX_SEAT_LIMIT: i64 = 1_000;
/// The highest price per period, in minor units (the lexicon's `maximum`, as for pledges).
pub const MAX_PRICE: i64 = 100_000_000_000;

/// What a tier includes, as the structured flags clients compare across tiers. The free
/// text beside them in the record is for people and takes no part in the rules.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Included {
    /// Funding continued maintenance, reducing the risk of the project going unmaintained.
    pub risk_mitigation: bool,
    /// A channel of reciprocal access between the client's engineers and the maintainer.
    pub reciprocal_access: bool,
    /// Advice beyond the strict scope of the projects.
    pub advisory: bool,
}

/// One tier as written in an offer record (untrusted: may be anything).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TierRecord {
    /// The tier's name.
    pub name: String,
    /// Price per period in minor units of `currency`.
    pub amount: i64,
    /// Currency of the price.
    pub currency: Currency,
    /// The period as written (`month` or `year` when valid).
    pub period: String,
    /// What the tier includes.
    pub included: Included,
    /// Most clients at once, if limited.
    pub seat_limit: Option<i64>,
}

/// A tier that passed [`validate_tiers`].
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Tier {
    /// The tier's name, as written.
    pub name: String,
    /// Price per period in minor units of `currency`; positive.
    pub amount: i64,
    /// Currency of the price; in the table.
    pub currency: Currency,
    /// Length of a period.
    pub period: Period,
    /// What the tier includes.
    pub included: Included,
    /// Most clients at once, if limited; 1 to [`MAX_SEAT_LIMIT`].
    pub seat_limit: Option<u32>,
}

impl Tier {
    /// Whether one more client fits, given how many agreements on the tier are in force.
    pub fn has_seat(&self, in_force: u32) -> bool {
        self.seat_limit.is_none_or(|limit| in_force < limit)
    }
}

/// Why an offer's tiers are not valid. `index` is the tier's position in the offer.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Error, Serialize, Deserialize)]
#[serde(
    tag = "kind",
    rename_all = "camelCase",
    rename_all_fields = "camelCase"
)]
pub enum TierProblem {
    /// An offer needs at least one tier.
    #[error("the offer has no tiers")]
    NoTiers,
    /// More than [`MAX_TIERS`].
    #[error("the offer has {count} tiers; at most {MAX_TIERS} are allowed")]
    TooManyTiers {
        /// How many there are.
        count: usize,
    },
    /// A name that is empty or only spaces.
    #[error("tier {index} has no name")]
    EmptyName {
        /// The tier.
        index: usize,
    },
    /// A name another tier already has, ignoring case.
    #[error("tier {index} has the same name as tier {first}")]
    DuplicateName {
        /// The later tier.
        index: usize,
        /// The first tier with that name.
        first: usize,
    },
    /// A price of zero or less.
    #[error("tier {index} must cost more than nothing")]
    NonPositivePrice {
        /// The tier.
        index: usize,
    },
    /// A price above [`MAX_PRICE`].
    #[error("tier {index} costs more than the highest price Greenlight handles")]
    PriceTooHigh {
        /// The tier.
        index: usize,
    },
    /// A currency not in the table.
    #[error("tier {index} is priced in {currency}, which Greenlight does not handle")]
    UnsupportedCurrency {
        /// The tier.
        index: usize,
        /// Its currency.
        currency: Currency,
    },
    /// A currency other than the first tier's.
    #[error("tier {index} is priced in {found}, the offer's first tier in {expected}")]
    MixedCurrencies {
        /// The tier.
        index: usize,
        /// The first tier's currency.
        expected: Currency,
        /// This tier's currency.
        found: Currency,
    },
    /// A period other than `month` or `year`.
    #[error("tier {index} has period {period:?}; only month and year are billed")]
    UnknownPeriod {
        /// The tier.
        index: usize,
        /// The period as written.
        period: String,
    },
    /// A seat limit below 1 or above [`MAX_SEAT_LIMIT`].
    #[error("tier {index} has a seat limit of {limit}; it must be 1 to {MAX_SEAT_LIMIT}")]
    SeatLimitOutOfRange {
        /// The tier.
        index: usize,
        /// The limit as written.
        limit: i64,
    },
}

/// The key tier names are compared by: trimmed and lower-cased (Unicode), so names that
/// people would read as the same are the same.
pub fn tier_name_key(name: &str) -> String {
    name.trim().to_lowercase()
}

/// Checks an offer's tiers; the valid tiers in the offer's order, or every problem found.
pub fn validate_tiers(tiers: &[TierRecord]) -> Result<Vec<Tier>, Vec<TierProblem>> {
    let mut problems = Vec::new();
    if tiers.is_empty() {
        problems.push(TierProblem::NoTiers);
    }
    if tiers.len() > MAX_TIERS {
        problems.push(TierProblem::TooManyTiers { count: tiers.len() });
    }
    let expected = tiers.first().map(|t| t.currency);
    let mut names: BTreeMap<String, usize> = BTreeMap::new();
    let mut valid = Vec::with_capacity(tiers.len());
    for (index, t) in tiers.iter().enumerate() {
        let before = problems.len();
        let key = tier_name_key(&t.name);
        if key.is_empty() {
            problems.push(TierProblem::EmptyName { index });
        } else if let Some(&first) = names.get(&key) {
            problems.push(TierProblem::DuplicateName { index, first });
        } else {
            names.insert(key, index);
        }
        if t.amount <= 0 {
            problems.push(TierProblem::NonPositivePrice { index });
        } else if t.amount > MAX_PRICE {
            problems.push(TierProblem::PriceTooHigh { index });
        }
        if !t.currency.supported() {
            problems.push(TierProblem::UnsupportedCurrency {
                index,
                currency: t.currency,
            });
        }
        if let Some(expected) = expected.filter(|&c| c != t.currency) {
            problems.push(TierProblem::MixedCurrencies {
                index,
                expected,
                found: t.currency,
            });
        }
        let period = Period::parse(&t.period);
        if period.is_none() {
            problems.push(TierProblem::UnknownPeriod {
                index,
                period: t.period.clone(),
            });
        }
        let seat_limit = match t.seat_limit {
            None => None,
            Some(limit) => match u32::try_from(limit) {
                Ok(seats) if (1..=MAX_SEAT_LIMIT).contains(&limit) => Some(seats),
                _ => {
                    problems.push(TierProblem::SeatLimitOutOfRange { index, limit });
                    None
                }
            },
        };
        if let (true, Some(period)) = (problems.len() == before, period) {
            valid.push(Tier {
                name: t.name.clone(),
                amount: t.amount,
                currency: t.currency,
                period,
                included: t.included,
                seat_limit,
            });
        }
    }
    if problems.is_empty() {
        Ok(valid)
    } else {
        Err(problems)
    }
}

/// A project an offer covers, as the AppView knows it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(
    tag = "kind",
    rename_all = "camelCase",
    rename_all_fields = "camelCase"
)]
pub enum CoveredProject {
    /// An indexed project record.
    Known {
        /// AT-URI of the project record.
        uri: String,
        /// The project's owner, maintainers and consents.
        record: ProjectRecord,
        /// The project's repository URL, from its record.
        repository: String,
        /// Whether the project currently proves control of its repository or website.
        verified: bool,
    },
    /// A reference the AppView cannot resolve (deleted, or not indexed yet).
    Unknown {
        /// AT-URI from the offer.
        uri: String,
    },
}

impl CoveredProject {
    /// The project's AT-URI.
    pub fn uri(&self) -> &str {
        match self {
            CoveredProject::Known { uri, .. } | CoveredProject::Unknown { uri } => uri,
        }
    }
}

/// Why the author of an offer may not sell it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Error, Serialize, Deserialize)]
#[serde(
    tag = "kind",
    rename_all = "camelCase",
    rename_all_fields = "camelCase"
)]
pub enum AuthorityProblem {
    /// The offer covers no project, so nobody proved anything about what it sells.
    #[error("the offer covers no project")]
    NoProjects,
    /// The same project is covered twice.
    #[error("{uri} is covered twice")]
    DuplicateProject {
        /// The project.
        uri: String,
    },
    /// The project record is not known.
    #[error("{uri} is not a known project")]
    UnknownProject {
        /// The project.
        uri: String,
    },
    /// The project does not prove control of its repository or website.
    #[error("{uri} is not verified, so it takes no money")]
    NotVerified {
        /// The project.
        uri: String,
    },
    /// Listed as a maintainer, but no acceptance in their own repo.
    #[error("the author is invited to maintain {uri} but has not accepted")]
    MaintainerNotAccepted {
        /// The project.
        uri: String,
    },
    /// Neither the owner nor a listed maintainer.
    #[error("the author neither owns nor maintains {uri}")]
    NotAMaintainer {
        /// The project.
        uri: String,
    },
    /// A repository that is not a covered project's repository.
    #[error("{url} is not the repository of a covered project")]
    RepositoryNotCovered {
        /// The repository.
        url: String,
    },
}

/// Whether `author` may sell retainers for `project`: the owner or a consenting maintainer
/// of a verified project. The reasons are checked in the order a maintainer fixes them.
pub fn may_offer_for(
    author: &str,
    uri: &str,
    project: &ProjectRecord,
    verified: bool,
) -> Result<(), AuthorityProblem> {
    let uri = uri.to_owned();
    if !project.has_authority(author) {
        return Err(if project.maintainers.iter().any(|m| m == author) {
            AuthorityProblem::MaintainerNotAccepted { uri }
        } else {
            AuthorityProblem::NotAMaintainer { uri }
        });
    }
    if !verified {
        return Err(AuthorityProblem::NotVerified { uri });
    }
    Ok(())
}

/// Whether two repository URLs name the same repository: equal once the scheme and host are
/// lower-cased and a trailing `/` or `.git` is dropped. Deliberately no more lenient: a
/// looser match could let an offer claim a repository the project never proved.
pub fn same_repository(a: &str, b: &str) -> bool {
    fn canonical(url: &str) -> String {
        let url = url.trim_end_matches('/');
        let url = url.strip_suffix(".git").unwrap_or(url);
        match url.split_once("://") {
            Some((scheme, rest)) => {
                let (host, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
                format!(
                    "{}://{}{path}",
                    scheme.to_ascii_lowercase(),
                    host.to_ascii_lowercase()
                )
            }
            None => url.to_owned(),
        }
    }
    canonical(a) == canonical(b)
}

/// Checks that `author` may sell an offer covering `projects` and `repositories`; every
/// problem found, in the offer's order.
pub fn check_authority(
    author: &str,
    projects: &[CoveredProject],
    repositories: &[String],
) -> Result<(), Vec<AuthorityProblem>> {
    let mut problems = Vec::new();
    if projects.is_empty() {
        problems.push(AuthorityProblem::NoProjects);
    }
    let mut seen = std::collections::BTreeSet::new();
    for project in projects {
        if !seen.insert(project.uri()) {
            problems.push(AuthorityProblem::DuplicateProject {
                uri: project.uri().to_owned(),
            });
            continue;
        }
        match project {
            CoveredProject::Unknown { uri } => {
                problems.push(AuthorityProblem::UnknownProject { uri: uri.clone() });
            }
            CoveredProject::Known {
                uri,
                record,
                verified,
                ..
            } => {
                if let Err(problem) = may_offer_for(author, uri, record, *verified) {
                    problems.push(problem);
                }
            }
        }
    }
    for url in repositories {
        let covered = projects.iter().any(|p| {
            matches!(p, CoveredProject::Known { repository, .. } if same_repository(repository, url))
        });
        if !covered {
            problems.push(AuthorityProblem::RepositoryNotCovered { url: url.clone() });
        }
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(problems)
    }
}

/// A `fund.greenlight.retainerOffer` record and what the AppView knows about what it covers.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OfferInput {
    /// DID of the repository holding the offer.
    pub author: String,
    /// The covered projects, in the record's order.
    pub projects: Vec<CoveredProject>,
    /// The covered repositories, in the record's order.
    pub repositories: Vec<String>,
    /// The tiers, in the record's order.
    pub tiers: Vec<TierRecord>,
}

/// What the rules say about one offer.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OfferVerdict {
    /// The valid tiers (empty when any tier has a problem).
    pub tiers: Vec<Tier>,
    /// Every problem with the tiers.
    pub tier_problems: Vec<TierProblem>,
    /// Every reason the author may not sell it.
    pub authority_problems: Vec<AuthorityProblem>,
}

impl OfferVerdict {
    /// Whether escrow may quote the offer: valid tiers and full authority.
    pub fn is_sellable(&self) -> bool {
        self.tier_problems.is_empty() && self.authority_problems.is_empty()
    }

    /// The tier a client names, compared as tier names are ([`tier_name_key`]).
    pub fn tier(&self, name: &str) -> Option<&Tier> {
        let key = tier_name_key(name);
        self.tiers.iter().find(|t| tier_name_key(&t.name) == key)
    }

    /// The offer's currency, when its tiers are valid.
    pub fn currency(&self) -> Option<Currency> {
        self.tiers.first().map(|t| t.currency)
    }
}

/// Judges an offer. Pure and total.
pub fn check_offer(offer: &OfferInput) -> OfferVerdict {
    let (tiers, tier_problems) = match validate_tiers(&offer.tiers) {
        Ok(tiers) => (tiers, Vec::new()),
        Err(problems) => (Vec::new(), problems),
    };
    let authority_problems =
        check_authority(&offer.author, &offer.projects, &offer.repositories).err();
    OfferVerdict {
        tiers,
        tier_problems,
        authority_problems: authority_problems.unwrap_or_default(),
    }
}
