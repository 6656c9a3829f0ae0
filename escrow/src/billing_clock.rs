//! The billing calendar: which day it is for retainers, by escrow's clock.
//!
//! The funding rules count periods in calendar days and months (`greenlight_funding::
//! billing_period`), and escrow's clock is the truth. Tests and demos need months to pass in
//! seconds, so the calendar's day has a configurable length ([`crate::config::Config::
//! billing_day`]): day *n* after the origin begins `n × day` after it, and the origin instant
//! is day 2026-01-01. With a real day and the default origin ([`ORIGIN_SECONDS`]) the billing
//! date is simply the UTC date. A test with short days sets the origin to its own start
//! (`GREENLIGHT_ESCROW_BILLING_ORIGIN_SECONDS`), so its dates stay in the calendar's range;
//! the origin is configuration, so the mapping is the same across restarts.

use chrono::{DateTime, Duration, TimeZone, Utc};
use greenlight_funding::billing_period::Date;

/// Where the calendar's days are counted from: 2026-01-01T00:00:00Z is day 2026-01-01.
pub const ORIGIN_SECONDS: i64 = 1_767_225_600;

/// The default origin: the instant day [`origin_date`] begins on a real-day calendar.
pub fn origin() -> DateTime<Utc> {
    Utc.timestamp_opt(ORIGIN_SECONDS, 0)
        .single()
        .unwrap_or(DateTime::<Utc>::MIN_UTC)
}

/// The calendar date [`origin`] falls on.
pub fn origin_date() -> Date {
    Date::new(2026, 1, 1).unwrap_or(Date::MIN)
}

/// A billing calendar with days of a given length.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BillingClock {
    day: Duration,
    origin: DateTime<Utc>,
}

impl BillingClock {
    /// A calendar whose days last `day` (clamped to at least one millisecond), from the
    /// default origin.
    pub fn new(day: Duration) -> BillingClock {
        BillingClock::with_origin(day, origin())
    }

    /// A calendar whose days last `day` and whose day 2026-01-01 begins at `origin`.
    pub fn with_origin(day: Duration, origin: DateTime<Utc>) -> BillingClock {
        BillingClock {
            day: day.max(Duration::milliseconds(1)),
            origin,
        }
    }

    /// The billing date at `at`.
    pub fn date(&self, at: DateTime<Utc>) -> Date {
        let elapsed = (at - self.origin).num_milliseconds();
        let days = elapsed.div_euclid(self.day.num_milliseconds());
        origin_date()
            .add_days(days)
            .unwrap_or(if days < 0 { Date::MIN } else { Date::MAX })
    }

    /// The instant billing date `date` begins.
    pub fn start_of(&self, date: Date) -> DateTime<Utc> {
        let days = date.days_since_epoch() - origin_date().days_since_epoch();
        days.checked_mul(self.day.num_milliseconds())
            .and_then(|ms| self.origin.checked_add_signed(Duration::milliseconds(ms)))
            .unwrap_or(if days < 0 {
                DateTime::<Utc>::MIN_UTC
            } else {
                DateTime::<Utc>::MAX_UTC
            })
    }

    /// The instant `days` billing days after `at`.
    pub fn after_days(&self, at: DateTime<Utc>, days: u32) -> DateTime<Utc> {
        at + self.day * i32::try_from(days).unwrap_or(i32::MAX)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_real_day_is_the_utc_date() {
        let clock = BillingClock::new(Duration::days(1));
        let at = Utc.with_ymd_and_hms(2027, 3, 31, 23, 59, 59).unwrap();
        assert_eq!(clock.date(at), Date::new(2027, 3, 31).unwrap());
        assert_eq!(
            clock.start_of(Date::new(2027, 3, 31).unwrap()),
            Utc.with_ymd_and_hms(2027, 3, 31, 0, 0, 0).unwrap()
        );
        let before = Utc.with_ymd_and_hms(2025, 12, 31, 12, 0, 0).unwrap();
        assert_eq!(clock.date(before), Date::new(2025, 12, 31).unwrap());
    }

    #[test]
    fn a_short_day_calendar_starting_now_stays_in_range_for_years_of_periods() {
        let now = Utc.with_ymd_and_hms(2026, 11, 30, 7, 0, 0).unwrap();
        let clock = BillingClock::with_origin(Duration::milliseconds(300), now);
        assert_eq!(clock.date(now), origin_date());
        // A week of wall time is 2,016,000 days of 300 ms: still in the calendar.
        let later = clock.date(now + Duration::days(7));
        assert!(later < Date::MAX && later > origin_date());
    }

    #[test]
    fn short_days_run_the_calendar_fast_and_round_trip() {
        let clock = BillingClock::new(Duration::milliseconds(200));
        let at = origin() + Duration::milliseconds(31 * 200 + 10);
        // 6.21 s is day 31 after the origin: 2026-02-01.
        assert_eq!(clock.date(at), Date::new(2026, 2, 1).unwrap());
        for day in [
            Date::new(2026, 1, 1).unwrap(),
            Date::new(2031, 7, 15).unwrap(),
        ] {
            assert_eq!(clock.date(clock.start_of(day)), day);
            assert_eq!(
                clock.date(clock.start_of(day) - Duration::milliseconds(1)),
                day.add_days(-1).unwrap()
            );
        }
    }
}
