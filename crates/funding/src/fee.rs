//! The published platform fee and how it is rounded: the one rule for payouts, donations
//! and retainer payments (escrow's `fee` module re-exports it).
//!
//! The fee is `floor(amount × basis_points / 10 000)`: rounding always favours the
//! maintainer, and the payout is what remains, so `fee + payout == amount` exactly, to the
//! minor unit.

use serde::{Deserialize, Serialize};

/// The published fee: 500 basis points, 5 % (escrow's default).
pub const PUBLISHED_FEE_BASIS_POINTS: u32 = 500;

/// An amount split into the platform's fee and the maintainer's share.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FeeSplit {
    /// What the platform keeps.
    pub fee: i64,
    /// What the maintainer receives.
    pub payout: i64,
}

/// Splits `amount` (minor units; a negative amount counts as 0) at `basis_points` (at most
/// 10 000; more counts as 10 000).
pub fn split_fee(amount: i64, basis_points: u32) -> FeeSplit {
    let amount = amount.max(0);
    let basis_points = i128::from(basis_points.min(10_000));
    // i128 so that amount × 10 000 cannot overflow for any i64 amount; the quotient is at
    // most `amount`, so it fits back into i64.
    let fee = i64::try_from(i128::from(amount) * basis_points / 10_000).unwrap_or(amount);
    FeeSplit {
        fee,
        payout: amount - fee,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Worked examples: rounding down, the parts adding up, the extremes.
    #[test]
    fn rounds_like_escrow() {
        assert_eq!(
            split_fee(10_000, 500),
            FeeSplit {
                fee: 500,
                payout: 9_500
            }
        );
        assert_eq!(
            split_fee(1_999, 500),
            FeeSplit {
                fee: 99,
                payout: 1_900
            }
        );
        assert_eq!(split_fee(19, 500), FeeSplit { fee: 0, payout: 19 });
        assert_eq!(split_fee(1, 10_000), FeeSplit { fee: 1, payout: 0 });
        assert_eq!(split_fee(-5, 500), FeeSplit { fee: 0, payout: 0 });
        assert_eq!(
            split_fee(i64::MAX, 20_000),
            FeeSplit {
                fee: i64::MAX,
                payout: 0
            }
        );
    }
}
