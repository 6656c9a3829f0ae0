//! Income statements: the numbers a maintainer gives their accountant must add up exactly.

mod common;

use common::*;
use greenlight_retainer_documents::*;

#[test]
fn monthly_subtotals_and_year_totals_sum_exactly() {
    let s = statement();
    let summary = s.summary().unwrap();
    let totals = |payments, gross: i64, fee: i64| IncomeTotals {
        payments,
        gross,
        fee,
        net: gross - fee,
    };
    // January: 100 000 (fee 5 000) and 12 345 (fee 617).
    assert_eq!(summary.months[0], totals(2, 112_345, 5_617));
    assert_eq!(summary.months[1], IncomeTotals::default());
    // March: 299 950 (fee 14 997) and 1 001 (fee 50).
    assert_eq!(summary.months[2], totals(2, 300_951, 15_047));
    // December: 7, fee 0.
    assert_eq!(summary.months[11], totals(1, 7, 0));
    assert_eq!(summary.year, totals(5, 413_303, 20_664));

    // The year is the sum of its months, and of its payments.
    let sum = |f: fn(&IncomeTotals) -> i64| summary.months.iter().map(f).sum::<i64>();
    assert_eq!(sum(|t| t.gross), summary.year.gross);
    assert_eq!(sum(|t| t.fee), summary.year.fee);
    assert_eq!(sum(|t| t.net), summary.year.net);
    assert_eq!(s.lines.iter().map(|l| l.net).sum::<i64>(), summary.year.net);
}

#[test]
fn the_html_shows_every_month_the_totals_and_every_payment() {
    let s = statement();
    let html = income_html(&s).unwrap();
    assert!(html.starts_with("<!doctype html>"));
    assert!(html.contains(r#"<meta name="robots" content="noindex">"#));
    assert!(!html.to_lowercase().contains("<script"));
    for month in [
        "January",
        "February",
        "March",
        "April",
        "May",
        "June",
        "July",
        "August",
        "September",
        "October",
        "November",
        "December",
    ] {
        assert!(html.contains(&format!("<td>{month}</td>")), "{month}");
    }
    for expected in [
        "INCOME STATEMENT",
        "Ada Lovelace",
        "GB123456789",
        "did:plc:ada7lovelace",
        "2026",
        "1,123.45",
        "56.17",
        "1,067.28",
        "3,009.51",
        "USD 4,133.03",
        "USD 206.64",
        "USD 3,926.39",
        "Acme Widgets GmbH, Gold (GL-2026-000042)",
        "2026-12-31",
        "Tiny donation",
        "0.07",
    ] {
        assert!(
            html.contains(expected),
            "{expected:?} missing from the HTML"
        );
    }
    // Payments are listed by date.
    let jan5 = html.find("2026-01-05").unwrap();
    let jan20 = html.find("2026-01-20").unwrap();
    let dec31 = html.find("2026-12-31").unwrap();
    assert!(jan5 < jan20 && jan20 < dec31);
}

#[test]
fn the_pdf_shows_the_same_numbers() {
    let s = statement();
    let pdf = income_pdf(&s).unwrap();
    assert_pdf_frame(&pdf);
    let text = text(&pdf);
    for expected in [
        "INCOME STATEMENT",
        "Ada Lovelace",
        "January",
        "December",
        "1,123.45",
        "3,009.51",
        "Total 2026",
        "4,133.03",
        "206.64",
        "3,926.39",
        "Tiny donation",
        "Page 1 of 1",
    ] {
        assert!(
            text.contains(expected),
            "{expected:?} missing from the PDF text"
        );
    }
    assert_eq!(income_pdf(&s).unwrap(), pdf, "deterministic");
}

#[test]
fn exact_in_currencies_without_and_with_three_decimals() {
    for (code, shown) in [("JPY", "413,303"), ("BHD", "413.303")] {
        let mut s = statement();
        s.currency = currency(code);
        let html = income_html(&s).unwrap();
        assert!(html.contains(&format!("{code} {shown}")), "{code}");
        assert!(text(&income_pdf(&s).unwrap()).contains(shown), "{code}");
    }
}

#[test]
fn hostile_and_non_latin_text_is_safe() {
    let mut s = statement();
    s.maintainer.name = "<script>alert(1)</script> 山田太郎".into();
    s.lines[0].description = "\"><img src=x onerror=alert(1)> 🚀".into();
    let html = income_html(&s).unwrap();
    assert!(!html.contains("<script>"));
    assert!(!html.contains("<img"));
    assert!(html.contains("&lt;script&gt;alert(1)&lt;/script&gt; 山田太郎"));
    assert!(html.contains("&quot;&gt;&lt;img src=x onerror=alert(1)&gt; 🚀"));
    let pdf = income_pdf(&s).unwrap();
    assert_pdf_frame(&pdf);
    assert!(text(&pdf).contains("<script>alert(1)</script> ????"));
}

#[test]
fn a_year_of_many_payments_paginates() {
    let mut s = statement();
    s.lines = (0..365)
        .map(|i| IncomeLine {
            date: date(2026, 1 + (i % 12) as u8, 1 + (i % 28) as u8),
            description: format!("Payment {i}"),
            gross: 1_000,
            fee: 50,
            net: 950,
        })
        .collect();
    let summary = s.summary().unwrap();
    assert_eq!(summary.year.gross, 365_000);
    assert_eq!(summary.year.payments, 365);
    assert_eq!(
        summary.months.iter().map(|m| m.payments).sum::<usize>(),
        365
    );
    let pdf = income_pdf(&s).unwrap();
    assert_pdf_frame(&pdf);
    let pages = page_count(&pdf);
    assert!(pages > 1);
    let text = text(&pdf);
    assert!(text.contains("Payment 364"));
    assert!(text.contains(&format!("Page {pages} of {pages}")));
}

#[test]
fn statements_that_do_not_add_up_are_refused() {
    let mut s = statement();
    s.lines[1].date = date(2025, 12, 31);
    assert_eq!(
        s.summary(),
        Err(DocumentError::OutsideYear {
            line: 1,
            date: date(2025, 12, 31),
            year: 2026
        })
    );
    assert!(income_html(&s).is_err());
    assert!(income_pdf(&s).is_err());

    let mut s = statement();
    s.lines[2].net += 1;
    assert_eq!(s.summary(), Err(DocumentError::NetMismatch { line: 2 }));

    let mut s = statement();
    for line in &mut s.lines {
        line.gross = i64::MAX / 2;
        line.fee = 0;
        line.net = i64::MAX / 2;
    }
    assert_eq!(s.summary(), Err(DocumentError::TotalOverflow));

    let mut s = statement();
    s.currency = currency("XYZ");
    assert_eq!(
        income_html(&s),
        Err(DocumentError::UnsupportedCurrency(currency("XYZ")))
    );
}
