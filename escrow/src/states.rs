//! The states and kinds escrow stores as text, as enums, and the one guarded way each entity
//! changes state.
//!
//! Every state column has a transition table (`check_move`) and one function that moves a row
//! (`set_pledge_state`, `set_donation_state`, `set_job_state`, `settle_proposal`,
//! `resolve_dispute`): it checks the move, then updates `WHERE id = $1 AND state = $from`, and
//! fails with [`EscrowError::Internal`] when no row moved (the row was not where the caller
//! believed it was). A new state or move is added here, in the table and its test, first.

use std::fmt;

use chrono::{DateTime, Utc};
use sqlx::postgres::{PgArgumentBuffer, PgTypeInfo, PgValueRef};
use sqlx::{PgConnection, Postgres};

use crate::error::EscrowError;

/// A state or kind stored as text: its names, and sqlx encoding/decoding through them.
macro_rules! text_enum {
    ($(#[$meta:meta])* $name:ident { $($(#[$vmeta:meta])* $variant:ident => $text:literal,)+ }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum $name {
            $($(#[$vmeta])* $variant,)+
        }

        impl $name {
            /// Every value, in declaration order.
            pub const ALL: &'static [$name] = &[$($name::$variant,)+];

            /// The name stored in the database (and shown in views).
            pub fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $text,)+
                }
            }
        }

        impl std::str::FromStr for $name {
            type Err = UnknownName;
            fn from_str(name: &str) -> Result<Self, UnknownName> {
                match name {
                    $($text => Ok($name::$variant),)+
                    other => Err(UnknownName { what: stringify!($name), name: other.to_owned() }),
                }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl PartialEq<str> for $name {
            fn eq(&self, other: &str) -> bool {
                self.as_str() == other
            }
        }

        impl PartialEq<&str> for $name {
            fn eq(&self, other: &&str) -> bool {
                self.as_str() == *other
            }
        }

        impl sqlx::Type<Postgres> for $name {
            fn type_info() -> PgTypeInfo {
                <String as sqlx::Type<Postgres>>::type_info()
            }
            fn compatible(ty: &PgTypeInfo) -> bool {
                <String as sqlx::Type<Postgres>>::compatible(ty)
            }
        }

        impl<'r> sqlx::Decode<'r, Postgres> for $name {
            fn decode(value: PgValueRef<'r>) -> Result<Self, sqlx::error::BoxDynError> {
                let text = <&str as sqlx::Decode<Postgres>>::decode(value)?;
                Ok(text.parse()?)
            }
        }

        impl sqlx::Encode<'_, Postgres> for $name {
            fn encode_by_ref(
                &self,
                buf: &mut PgArgumentBuffer,
            ) -> Result<sqlx::encode::IsNull, sqlx::error::BoxDynError> {
                <&str as sqlx::Encode<Postgres>>::encode(self.as_str(), buf)
            }
        }

        impl From<$name> for String {
            fn from(value: $name) -> String {
                value.as_str().to_owned()
            }
        }
    };
}

/// A stored name no enum value has.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown {what} {name:?}")]
pub struct UnknownName {
    /// The enum.
    pub what: &'static str,
    /// The name found.
    pub name: String,
}

/// A move a transition table does not allow.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{what} cannot move from {from} to {to}")]
pub struct IllegalMove {
    /// The entity.
    pub what: &'static str,
    /// Its state.
    pub from: &'static str,
    /// The state asked for.
    pub to: &'static str,
}

impl From<IllegalMove> for EscrowError {
    fn from(illegal: IllegalMove) -> EscrowError {
        EscrowError::Internal(illegal.to_string())
    }
}

fn checked<T: Copy + Into<&'static str>>(
    what: &'static str,
    legal: bool,
    from: T,
    to: T,
) -> Result<(), IllegalMove> {
    if legal {
        Ok(())
    } else {
        Err(IllegalMove {
            what,
            from: from.into(),
            to: to.into(),
        })
    }
}

macro_rules! into_static_str {
    ($($name:ident),+) => {$(
        impl From<$name> for &'static str {
            fn from(value: $name) -> &'static str {
                value.as_str()
            }
        }
    )+};
}

text_enum! {
    /// A pledge's state.
    PledgeState {
        /// Waiting at the provider's checkout; its hold is pending in the ledger.
        Pending => "pending",
        /// Paid; the money is held for the proposal.
        Held => "held",
        /// Withdrawn by the backer during the preview (refunded if it was held).
        Cancelled => "cancelled",
        /// Returned to the backer.
        Refunded => "refunded",
        /// Paid to the maintainer.
        PaidOut => "paid_out",
        /// The payment never came (failed, abandoned, or paid with the wrong amount).
        Failed => "failed",
    }
}

impl PledgeState {
    /// Whether a pledge may move from `from` to `to`:
    ///
    /// - `pending` → `held` (paid), `failed` (payment failed or abandoned at settlement),
    ///   `cancelled` (withdrawn), `refunded` (paid after its proposal settled);
    /// - `held` → `refunded`, `cancelled` (withdrawn during the preview), `paid_out`;
    /// - `failed` → `refunded`: a payment arriving after the pledge failed is refunded;
    /// - `cancelled` → `cancelled`: a payment arriving after the pledge was cancelled is
    ///   refunded and the pledge stays cancelled.
    pub fn check_move(from: PledgeState, to: PledgeState) -> Result<(), IllegalMove> {
        use PledgeState::*;
        let legal = matches!(
            (from, to),
            (Pending, Held | Failed | Cancelled | Refunded)
                | (Held, Refunded | Cancelled | PaidOut)
                | (Failed, Refunded)
                | (Cancelled, Cancelled)
        );
        checked("pledge", legal, from, to)
    }
}

text_enum! {
    /// A donation's state.
    DonationState {
        /// Waiting at the provider's checkout.
        Pending => "pending",
        /// Paid; its payout to the maintainer is queued.
        Received => "received",
        /// Paid to the maintainer (or nothing was left to pay after the fee).
        PaidOut => "paid_out",
        /// The payment never came, or came with the wrong amount.
        Failed => "failed",
    }
}

impl DonationState {
    /// Whether a donation may move from `from` to `to`: `pending` → `received`, `paid_out`
    /// (nothing left after the fee) or `failed`; `failed` → `received` or `paid_out` (the
    /// payment succeeded late: a gift received after all); `received` → `paid_out`.
    pub fn check_move(from: DonationState, to: DonationState) -> Result<(), IllegalMove> {
        use DonationState::*;
        let legal = matches!(
            (from, to),
            (Pending, Received | PaidOut | Failed)
                | (Failed, Received | PaidOut)
                | (Received, PaidOut)
        );
        checked("donation", legal, from, to)
    }
}

text_enum! {
    /// A dispute's state.
    DisputeState {
        /// Filed, undecided: it blocks the payout.
        Open => "open",
        /// Decided for the filer: everyone is refunded.
        Upheld => "upheld",
        /// Decided against the filer.
        Rejected => "rejected",
    }
}

impl DisputeState {
    /// Whether a dispute may move from `from` to `to`: only an open one is decided.
    pub fn check_move(from: DisputeState, to: DisputeState) -> Result<(), IllegalMove> {
        use DisputeState::*;
        let legal = matches!((from, to), (Open, Upheld | Rejected));
        checked("dispute", legal, from, to)
    }
}

text_enum! {
    /// What a job does.
    JobKind {
        /// Returns a payment to a backer.
        Refund => "refund",
        /// Pays a maintainer.
        Payout => "payout",
    }
}

text_enum! {
    /// A job's state (see [`crate::jobs`]).
    JobState {
        /// A payout waiting for the maintainer's payout account.
        AwaitingAccount => "awaiting_account",
        /// Decided, nothing reserved yet.
        Ready => "ready",
        /// A pending ledger transfer holds the amount.
        Reserved => "reserved",
        /// The provider confirmed; the transfer is posted.
        Done => "done",
        /// The provider refused for good; the transfer is voided.
        Failed => "failed",
        /// A failed job retried by a new one.
        Superseded => "superseded",
    }
}

impl JobState {
    /// Whether a job may move from `from` to `to`: `awaiting_account` ⇄ `ready`;
    /// `ready` → `reserved` → `done` or `failed`; `failed` → `superseded` (retried).
    pub fn check_move(from: JobState, to: JobState) -> Result<(), IllegalMove> {
        use JobState::*;
        let legal = matches!(
            (from, to),
            (AwaitingAccount, Ready)
                | (Ready, AwaitingAccount | Reserved)
                | (Reserved, Done | Failed)
                | (Failed, Superseded)
        );
        checked("job", legal, from, to)
    }
}

text_enum! {
    /// How a proposal's held money was settled (NULL in the database while undecided).
    Settlement {
        /// Paid to the maintainer.
        Payout => "payout",
        /// Returned to the backers.
        Refund => "refund",
    }
}

impl Settlement {
    /// Whether a proposal may be settled from `from` (`None`: undecided) to `to`: a proposal
    /// is settled once, and never changes its settlement.
    pub fn check_move(from: Option<Settlement>, to: Settlement) -> Result<(), IllegalMove> {
        match from {
            None => Ok(()),
            Some(from) => checked("proposal settlement", false, from, to),
        }
    }
}

into_static_str!(
    PledgeState,
    DonationState,
    DisputeState,
    JobKind,
    JobState,
    Settlement
);

fn moved(rows: u64, what: &str, id: &str, from: &str, to: &str) -> Result<(), EscrowError> {
    if rows == 0 {
        return Err(EscrowError::Internal(format!(
            "{what} {id} was not {from}; not moved to {to}"
        )));
    }
    Ok(())
}

/// Moves pledge `id` from `from` to `to`; fails when the move is illegal or the pledge was
/// not `from`.
pub async fn set_pledge_state(
    conn: &mut PgConnection,
    id: &str,
    from: PledgeState,
    to: PledgeState,
    at: DateTime<Utc>,
) -> Result<(), EscrowError> {
    PledgeState::check_move(from, to)?;
    let rows = sqlx::query!(
        "UPDATE escrow.pledge SET state = $3, updated_at = $4 WHERE id = $1 AND state = $2",
        id,
        from.as_str(),
        to.as_str(),
        at,
    )
    .execute(conn)
    .await?
    .rows_affected();
    moved(rows, "pledge", id, from.as_str(), to.as_str())
}

/// Moves every pledge of `proposal` that is `from` to `to` (the caller holds the proposal's
/// row lock); returns how many moved.
pub async fn set_proposal_pledges_state(
    conn: &mut PgConnection,
    proposal: &str,
    from: PledgeState,
    to: PledgeState,
    at: DateTime<Utc>,
) -> Result<u64, EscrowError> {
    PledgeState::check_move(from, to)?;
    Ok(sqlx::query!(
        "UPDATE escrow.pledge SET state = $3, updated_at = $4 WHERE proposal = $1 AND state = $2",
        proposal,
        from.as_str(),
        to.as_str(),
        at,
    )
    .execute(conn)
    .await?
    .rows_affected())
}

/// Moves donation `id` from `from` to `to`, recording its fee when given; fails when the move
/// is illegal or the donation was not `from`.
pub async fn set_donation_state(
    conn: &mut PgConnection,
    id: &str,
    from: DonationState,
    to: DonationState,
    fee: Option<i64>,
    at: DateTime<Utc>,
) -> Result<(), EscrowError> {
    DonationState::check_move(from, to)?;
    let rows = sqlx::query!(
        "UPDATE escrow.donation SET state = $3, fee = coalesce($4, fee), updated_at = $5
         WHERE id = $1 AND state = $2",
        id,
        from.as_str(),
        to.as_str(),
        fee,
        at,
    )
    .execute(conn)
    .await?
    .rows_affected();
    moved(rows, "donation", id, from.as_str(), to.as_str())
}

/// Settles proposal `uri` (undecided until now); fails when it was already settled.
pub async fn settle_proposal(
    conn: &mut PgConnection,
    uri: &str,
    from: Option<Settlement>,
    to: Settlement,
    at: DateTime<Utc>,
) -> Result<(), EscrowError> {
    Settlement::check_move(from, to)?;
    let rows = sqlx::query!(
        "UPDATE escrow.proposal SET settlement = $2, settled_at = $3
         WHERE uri = $1 AND settlement IS NULL",
        uri,
        to.as_str(),
        at,
    )
    .execute(conn)
    .await?
    .rows_affected();
    moved(rows, "proposal", uri, "undecided", to.as_str())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Checks a table against its list of legal moves: every listed move is accepted, every
    /// other pair of states is refused.
    fn table<T: Copy + PartialEq + fmt::Debug>(
        all: &[T],
        check: impl Fn(T, T) -> Result<(), IllegalMove>,
        legal: &[(T, T)],
    ) {
        for &from in all {
            for &to in all {
                let expected = legal.contains(&(from, to));
                assert_eq!(
                    check(from, to).is_ok(),
                    expected,
                    "{from:?} -> {to:?} should be {}",
                    if expected { "legal" } else { "refused" }
                );
            }
        }
    }

    #[test]
    fn pledge_moves() {
        use PledgeState::*;
        table(
            PledgeState::ALL,
            PledgeState::check_move,
            &[
                (Pending, Held),
                (Pending, Failed),
                (Pending, Cancelled),
                (Pending, Refunded),
                (Held, Refunded),
                (Held, Cancelled),
                (Held, PaidOut),
                (Failed, Refunded),
                (Cancelled, Cancelled),
            ],
        );
    }

    #[test]
    fn donation_moves() {
        use DonationState::*;
        table(
            DonationState::ALL,
            DonationState::check_move,
            &[
                (Pending, Received),
                (Pending, PaidOut),
                (Pending, Failed),
                (Failed, Received),
                (Failed, PaidOut),
                (Received, PaidOut),
            ],
        );
    }

    #[test]
    fn dispute_moves() {
        use DisputeState::*;
        table(
            DisputeState::ALL,
            DisputeState::check_move,
            &[(Open, Upheld), (Open, Rejected)],
        );
    }

    #[test]
    fn job_moves() {
        use JobState::*;
        table(
            JobState::ALL,
            JobState::check_move,
            &[
                (AwaitingAccount, Ready),
                (Ready, AwaitingAccount),
                (Ready, Reserved),
                (Reserved, Done),
                (Reserved, Failed),
                (Failed, Superseded),
            ],
        );
    }

    #[test]
    fn settlement_moves() {
        for &to in Settlement::ALL {
            assert!(Settlement::check_move(None, to).is_ok());
            for &from in Settlement::ALL {
                assert!(Settlement::check_move(Some(from), to).is_err());
            }
        }
    }

    #[test]
    fn names_round_trip() {
        fn round_trip<T>(all: &[T])
        where
            T: Copy + PartialEq + fmt::Debug + std::str::FromStr + Into<&'static str>,
            T::Err: fmt::Debug,
        {
            for &value in all {
                let name: &'static str = value.into();
                assert_eq!(name.parse::<T>().unwrap(), value);
            }
            assert!("no_such_state".parse::<T>().is_err());
        }
        round_trip(PledgeState::ALL);
        round_trip(DonationState::ALL);
        round_trip(DisputeState::ALL);
        round_trip(JobKind::ALL);
        round_trip(JobState::ALL);
        round_trip(Settlement::ALL);
    }
}
