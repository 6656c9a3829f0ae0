//! The lifecycle stages of a proposal and which moves between them are allowed.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::status::RejectReason;

/// Where a proposal is in its lifecycle.
///
/// `Proposed → Development → Preview → Released`, with `Declined` reachable from
/// `Development` and `Preview`. `Released` and `Declined` are final.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Stage {
    /// Someone asked for the feature; no maintainer has acted on it.
    Proposed,
    /// A maintainer is building it (privately), with a funding goal.
    Development,
    /// A time-limited public preview is running; backers may pledge.
    Preview,
    /// The code was published as open source (final).
    Released,
    /// The maintainer gave up on it (final); held pledges get refunded.
    Declined,
}

impl Stage {
    /// Every stage, in lifecycle order.
    pub const ALL: [Stage; 5] = [
        Stage::Proposed,
        Stage::Development,
        Stage::Preview,
        Stage::Released,
        Stage::Declined,
    ];

    /// Whether nothing may follow this stage.
    pub const fn is_final(self) -> bool {
        matches!(self, Stage::Released | Stage::Declined)
    }

    /// Position in the lifecycle; the two final stages share the last position.
    pub const fn rank(self) -> u8 {
        match self {
            Stage::Proposed => 0,
            Stage::Development => 1,
            Stage::Preview => 2,
            Stage::Released | Stage::Declined => 3,
        }
    }

    /// Whether a status moving a proposal from `self` to `to` is allowed by the order rule.
    ///
    /// Repeating `Development` or `Preview` is allowed: it updates the stage (a new goal, a
    /// longer preview).
    pub fn can_move_to(self, to: Stage) -> bool {
        self.check_move(to).is_ok()
    }

    /// Like [`Stage::can_move_to`], but says why a move is not allowed.
    pub fn check_move(self, to: Stage) -> Result<(), RejectReason> {
        use Stage::*;
        match (self, to) {
            (from, _) if from.is_final() => Err(RejectReason::AfterFinal { stage: from }),
            (Proposed, Development)
            | (Development, Development | Preview | Declined)
            | (Preview, Preview | Released | Declined) => Ok(()),
            // A proposal cannot be declined before anyone started on it: there is nothing to
            // decline yet, so treat it as skipping development.
            (from, to) if to.rank() > from.rank() => Err(RejectReason::SkipsStage { from, to }),
            (from, to) => Err(RejectReason::MovesBackwards { from, to }),
        }
    }

    /// The lowercase name used in records and queries.
    pub const fn as_str(self) -> &'static str {
        match self {
            Stage::Proposed => "proposed",
            Stage::Development => "development",
            Stage::Preview => "preview",
            Stage::Released => "released",
            Stage::Declined => "declined",
        }
    }

    /// The stage named `name` as in records and queries ([`Stage::as_str`]), if any.
    pub fn parse(name: &str) -> Option<Stage> {
        Stage::ALL.into_iter().find(|stage| stage.as_str() == name)
    }
}

impl fmt::Display for Stage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_reads_back_every_name_and_nothing_else() {
        for stage in Stage::ALL {
            assert_eq!(Stage::parse(stage.as_str()), Some(stage));
        }
        assert_eq!(Stage::parse("Preview"), None);
        assert_eq!(Stage::parse("verifying"), None);
        assert_eq!(Stage::parse(""), None);
    }
}
