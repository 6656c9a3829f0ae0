//! Billing periods of a retainer: calendar months or years from the day it started.
//!
//! A retainer is billed per period in advance. Periods are counted in whole calendar months
//! from the *anchor*, the UTC day the first period began: period boundaries fall on the
//! anchor's day of the month, clamped to the month's last day when the month is shorter.
//! The clamp is always taken from the anchor, never from the previous boundary, so an
//! agreement started on 31 January renews on 28 (or 29) February, then 31 March, 30 April,
//! 31 May: a short month does not drag every later date down. A yearly period is twelve
//! months, so one started on 29 February renews on 28 February in common years and on
//! 29 February in leap years.
//!
//! Because both lengths are whole months from the same anchor, an agreement that moves
//! from a monthly to a yearly tier keeps its renewal day: its boundaries are
//! [`boundary`]`(anchor, m)` for the running total `m` of months.
//!
//! Everything here is integer calendar arithmetic on the proleptic Gregorian calendar in
//! UTC: no clock, no time zones, the same answer on every machine. Dates are limited to the
//! years 1 to 9999 (what RFC 3339 and the lexicon's `datetime` can write); anything that
//! would leave that range is `None`, never a panic.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::timestamp::Timestamp;

/// Microseconds in one day.
const MICROS_PER_DAY: i64 = 86_400_000_000;

/// A calendar day in UTC (proleptic Gregorian), between 0001-01-01 and 9999-12-31.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Date {
    // Field order makes the derived `Ord` chronological.
    year: i32,
    month: u8,
    day: u8,
}

/// Whether `year` is a leap year.
pub const fn is_leap_year(year: i32) -> bool {
    (year % 4 == 0 && year % 100 != 0) || year % 400 == 0
}

/// Days in `month` (1 to 12) of `year`; 0 for a month that does not exist.
pub const fn days_in_month(year: i32, month: u8) -> u8 {
    match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if is_leap_year(year) => 29,
        2 => 28,
        _ => 0,
    }
}

impl Date {
    /// The earliest date: 0001-01-01.
    pub const MIN: Date = Date {
        year: 1,
        month: 1,
        day: 1,
    };
    /// The latest date: 9999-12-31.
    pub const MAX: Date = Date {
        year: 9999,
        month: 12,
        day: 31,
    };

    /// The date `year-month-day`, if it exists and is in range.
    pub const fn new(year: i32, month: u8, day: u8) -> Option<Date> {
        if year < 1 || year > 9999 || day < 1 || day > days_in_month(year, month) {
            return None;
        }
        Some(Date { year, month, day })
    }

    /// The year (1 to 9999).
    pub const fn year(self) -> i32 {
        self.year
    }

    /// The month (1 to 12).
    pub const fn month(self) -> u8 {
        self.month
    }

    /// The day of the month (1 to 31).
    pub const fn day(self) -> u8 {
        self.day
    }

    /// Days since 1970-01-01 (negative before it).
    pub const fn days_since_epoch(self) -> i64 {
        // Howard Hinnant's days_from_civil: years start in March so the leap day is last.
        let y = self.year as i64 - if self.month <= 2 { 1 } else { 0 };
        let era = y.div_euclid(400);
        let yoe = y - era * 400;
        let m = self.month as i64;
        let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + self.day as i64 - 1;
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
        era * 146_097 + doe - 719_468
    }

    /// The date `days` after 1970-01-01, if in range.
    pub const fn from_days_since_epoch(days: i64) -> Option<Date> {
        // Keep the arithmetic far from overflow before checking the range precisely.
        if days < -800_000 || days > 3_000_000 {
            return None;
        }
        // Howard Hinnant's civil_from_days.
        let z = days + 719_468;
        let era = z.div_euclid(146_097);
        let doe = z - era * 146_097;
        let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
        let mp = (5 * doy + 2) / 153;
        let day = (doy - (153 * mp + 2) / 5 + 1) as u8;
        let month = if mp < 10 { mp + 3 } else { mp - 9 } as u8;
        let year = yoe + era * 400 + if month <= 2 { 1 } else { 0 };
        if year < 1 || year > 9999 {
            return None;
        }
        Some(Date {
            year: year as i32,
            month,
            day,
        })
    }

    /// The UTC day `timestamp` falls on, if in range.
    pub const fn from_timestamp(timestamp: Timestamp) -> Option<Date> {
        Date::from_days_since_epoch(timestamp.as_micros().div_euclid(MICROS_PER_DAY))
    }

    /// Midnight UTC at the start of this day: where a period beginning on it begins.
    pub const fn start(self) -> Timestamp {
        // At most ~2.9 million days, far inside i64 microseconds.
        Timestamp::from_micros(self.days_since_epoch() * MICROS_PER_DAY)
    }

    /// The date `days` later (earlier when negative), if in range.
    pub const fn add_days(self, days: i64) -> Option<Date> {
        match self.days_since_epoch().checked_add(days) {
            Some(total) => Date::from_days_since_epoch(total),
            None => None,
        }
    }

    /// The date `months` calendar months later on `day` of that month, clamped to the
    /// month's last day; `None` out of range.
    const fn add_months_on_day(self, months: u32, day: u8) -> Option<Date> {
        let index = (self.year as i64) * 12 + (self.month as i64 - 1) + months as i64;
        let year = index.div_euclid(12);
        let month = (index.rem_euclid(12) + 1) as u8;
        if year > 9999 {
            return None;
        }
        let last = days_in_month(year as i32, month);
        Date::new(year as i32, month, if day < last { day } else { last })
    }
}

impl fmt::Display for Date {
    /// `YYYY-MM-DD`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04}-{:02}-{:02}", self.year, self.month, self.day)
    }
}

/// The length of a billing period, as a tier states it (`period` in the lexicon).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Period {
    /// One calendar month.
    Month,
    /// Twelve calendar months.
    Year,
}

impl Period {
    /// Both periods.
    pub const ALL: [Period; 2] = [Period::Month, Period::Year];

    /// Calendar months in one period.
    pub const fn months(self) -> u32 {
        match self {
            Period::Month => 1,
            Period::Year => 12,
        }
    }

    /// Periods in a year: what turns a price per period into an annual run rate.
    pub const fn per_year(self) -> i64 {
        match self {
            Period::Month => 12,
            Period::Year => 1,
        }
    }

    /// The name used in records and queries.
    pub const fn as_str(self) -> &'static str {
        match self {
            Period::Month => "month",
            Period::Year => "year",
        }
    }

    /// The period named `name` as in records ([`Period::as_str`]), if any. Exact: the
    /// lexicon's `knownValues` are lower case and an unknown value is not guessed at.
    pub fn parse(name: &str) -> Option<Period> {
        Period::ALL.into_iter().find(|p| p.as_str() == name)
    }
}

impl fmt::Display for Period {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The boundary `months` calendar months after `anchor`: on the anchor's day of the month,
/// clamped to that month's last day. `boundary(anchor, 0) == anchor`.
pub const fn boundary(anchor: Date, months: u32) -> Option<Date> {
    anchor.add_months_on_day(months, anchor.day)
}

/// One billing period: from `start` (inclusive) to `end` (exclusive), both at midnight UTC.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PeriodBounds {
    /// Which period: 0 is the first.
    pub index: u32,
    /// The first day of the period.
    pub start: Date,
    /// The first day of the next period.
    pub end: Date,
}

impl PeriodBounds {
    /// Whether `day` falls in the period.
    pub fn contains(&self, day: Date) -> bool {
        self.start <= day && day < self.end
    }

    /// How many days the period has.
    pub const fn days(&self) -> i64 {
        self.end.days_since_epoch() - self.start.days_since_epoch()
    }
}

/// Period `index` of an agreement whose periods all have length `period`, anchored at
/// `anchor`; `None` if it would end after 9999.
pub fn period_bounds(anchor: Date, period: Period, index: u32) -> Option<PeriodBounds> {
    let months = period.months();
    let start = boundary(anchor, index.checked_mul(months)?)?;
    let end = boundary(anchor, index.checked_add(1)?.checked_mul(months)?)?;
    Some(PeriodBounds { index, start, end })
}

/// The period containing `day`, for periods of length `period` anchored at `anchor`; `None`
/// before the anchor or out of range.
pub fn period_containing(anchor: Date, period: Period, day: Date) -> Option<PeriodBounds> {
    if day < anchor {
        return None;
    }
    let months_apart =
        (day.year() - anchor.year()) * 12 + i32::from(day.month()) - i32::from(anchor.month());
    // `day >= anchor`, so at least 0 months apart.
    let guess = u32::try_from(months_apart).ok()? / period.months();
    // Clamping can put the guessed period's start after `day` (anchor 31 Jan, day 15 Feb):
    // then the day is in the period before. It is never more than one off.
    let bounds = period_bounds(anchor, period, guess)?;
    if bounds.start > day {
        period_bounds(anchor, period, guess.checked_sub(1)?)
    } else {
        Some(bounds)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(y: i32, m: u8, day: u8) -> Date {
        Date::new(y, m, day).unwrap()
    }

    #[test]
    fn the_epoch_is_day_zero() {
        assert_eq!(d(1970, 1, 1).days_since_epoch(), 0);
        assert_eq!(Date::from_days_since_epoch(0), Some(d(1970, 1, 1)));
        assert_eq!(d(2000, 3, 1).days_since_epoch(), 11_017);
        assert_eq!(d(1969, 12, 31).days_since_epoch(), -1);
    }

    #[test]
    fn months_from_the_31st_clamp_from_the_anchor_not_the_previous_boundary() {
        let anchor = d(2025, 1, 31);
        let starts: Vec<Date> = (0..6)
            .map(|i| period_bounds(anchor, Period::Month, i).unwrap().start)
            .collect();
        assert_eq!(
            starts,
            [
                d(2025, 1, 31),
                d(2025, 2, 28),
                d(2025, 3, 31),
                d(2025, 4, 30),
                d(2025, 5, 31),
                d(2025, 6, 30)
            ]
        );
        assert_eq!(boundary(d(2024, 1, 31), 1), Some(d(2024, 2, 29)));
    }

    #[test]
    fn a_leap_day_anchor_renews_on_the_28th_then_the_29th() {
        let anchor = d(2024, 2, 29);
        assert_eq!(
            period_bounds(anchor, Period::Year, 0).unwrap().end,
            d(2025, 2, 28)
        );
        assert_eq!(
            period_bounds(anchor, Period::Year, 3).unwrap().end,
            d(2028, 2, 29)
        );
    }

    #[test]
    fn the_last_periods_before_year_10000_exist_and_later_ones_do_not() {
        let anchor = d(9999, 1, 15);
        assert_eq!(
            period_bounds(anchor, Period::Month, 10).unwrap().end,
            d(9999, 12, 15)
        );
        assert_eq!(period_bounds(anchor, Period::Month, 11), None);
        assert_eq!(period_bounds(anchor, Period::Year, 0), None);
        assert_eq!(period_bounds(d(2025, 1, 1), Period::Year, u32::MAX), None);
        assert_eq!(Date::MAX.add_days(1), None);
        assert_eq!(Date::MIN.add_days(-1), None);
    }

    #[test]
    fn a_day_before_the_anchor_is_in_no_period() {
        assert_eq!(
            period_containing(d(2025, 5, 10), Period::Month, d(2025, 5, 9)),
            None
        );
    }

    #[test]
    fn periods_are_named_as_in_the_lexicon() {
        assert_eq!(Period::parse("month"), Some(Period::Month));
        assert_eq!(Period::parse("year"), Some(Period::Year));
        assert_eq!(Period::parse("Month"), None);
        assert_eq!(Period::parse("week"), None);
        assert_eq!(d(987, 6, 5).to_string(), "0987-06-05");
    }
}
