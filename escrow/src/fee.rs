//! The published platform fee and how it is rounded: one rule for every payout, donation and
//! (soon) retainer payment, kept in the funding rules (`greenlight_funding::fee`):
//! `floor(amount × basis_points / 10 000)`, so rounding favours the maintainer and
//! `fee + payout == amount` exactly. A proposal's payout is split once over the total held,
//! not pledge by pledge, so rounding happens once.

pub use greenlight_funding::fee::{split_fee as split, FeeSplit};

/// The default fee: the published 500 basis points, 5 %.
pub const DEFAULT_FEE_BASIS_POINTS: u32 = greenlight_funding::fee::PUBLISHED_FEE_BASIS_POINTS;
