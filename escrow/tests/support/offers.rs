//! Retainer offers as the AppView would report them, for the tests that bill retainers.

use greenlight_escrow::proposal_source::{OfferInfo, OfferTier};
use greenlight_funding::billing_period::Period;
use greenlight_funding::retainer::Terms;
use greenlight_funding::Currency;

use super::MAINTAINER;

/// The CID every test offer is indexed at.
pub const OFFER_CID: &str = "bafyreie5737gdxlw5i64vzichcalba3z2v5n6icifvx5xytvske7mr3hpm";

/// A monthly tier in USD.
pub fn tier(name: &str, amount: i64, seat_limit: Option<i64>) -> OfferTier {
    OfferTier {
        terms: Terms {
            tier: name.into(),
            amount,
            currency: Currency::parse("USD").unwrap(),
            period: Period::Month,
        },
        seat_limit,
    }
}

/// An authorized offer of [`MAINTAINER`]'s at `uri` with `tiers`.
pub fn offer(uri: &str, tiers: Vec<OfferTier>) -> OfferInfo {
    OfferInfo {
        uri: uri.into(),
        cid: OFFER_CID.into(),
        maintainer: MAINTAINER.into(),
        authorized: true,
        tiers,
    }
}
