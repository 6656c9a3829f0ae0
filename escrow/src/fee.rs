//! The published platform fee and how it is rounded.
//!
//! The fee is `floor(amount × basis_points / 10 000)`: rounding always favours the maintainer,
//! and the payout is what remains, so `fee + payout == amount` exactly, to the minor unit.
//! A proposal's payout is split once over the total held, not pledge by pledge, so rounding
//! happens once.

/// The default fee: 500 basis points, 5 %.
pub const DEFAULT_FEE_BASIS_POINTS: u32 = 500;

/// An amount split into the platform's fee and the maintainer's share.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FeeSplit {
    /// What the platform keeps.
    pub fee: i64,
    /// What the maintainer receives.
    pub payout: i64,
}

/// Splits `amount` (minor units, not negative) at `basis_points` (at most 10 000).
pub fn split(amount: i64, basis_points: u32) -> FeeSplit {
    let amount = amount.max(0);
    let basis_points = i128::from(basis_points.min(10_000));
    // i128 so that amount × 10 000 cannot overflow for any i64 amount.
    let fee = (i128::from(amount) * basis_points / 10_000) as i64;
    FeeSplit {
        fee,
        payout: amount - fee,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fee_rounds_down_and_the_parts_add_up() {
        assert_eq!(
            split(10_000, 500),
            FeeSplit {
                fee: 500,
                payout: 9_500
            }
        );
        assert_eq!(
            split(1_999, 500),
            FeeSplit {
                fee: 99,
                payout: 1_900
            }
        );
        assert_eq!(split(19, 500), FeeSplit { fee: 0, payout: 19 });
        assert_eq!(split(1, 10_000), FeeSplit { fee: 1, payout: 0 });
        for amount in [0, 1, 7, 99, 101, 12_345, 99_999_999_999, i64::MAX] {
            for bps in [0, 1, 250, 500, 999, 10_000] {
                let parts = split(amount, bps);
                assert_eq!(parts.fee + parts.payout, amount, "{amount} at {bps}");
                assert!(parts.fee >= 0 && parts.payout >= 0);
            }
        }
    }
}
