//! Quotes and invoices: what accounts payable and the maintainer rely on being on them.

mod common;

use common::*;
use greenlight_retainer_documents::*;

/// Every fact on the invoice is on both renderings: accounts payable match on the number,
/// the PO, the legal names and the total.
#[test]
fn every_field_appears_in_the_html() {
    let doc = invoice();
    let html = document_html(&doc).unwrap();
    for expected in [
        "INVOICE",
        "GL-2026-000042",
        "2026-03-01",
        "2026-03-15",
        "Ada Lovelace",
        "12 Analytical Row",
        "London N1 9GU",
        "United Kingdom",
        "GB123456789",
        "ada@example.org",
        "did:plc:ada7lovelace",
        "Bill to",
        "Acme Widgets GmbH",
        "Hauptstrasse 5",
        "10115 Berlin",
        "DE811907980",
        "ap@acme.example",
        "acme.example",
        "PO-77-ALPHA",
        "Gold retainer: tokio-widgets maintenance",
        "Priority support add-on",
        "2026-03-01 to 2026-03-31",
        "2,500.00",
        "499.50",
        "USD 2,999.50",
        "Bank transfer, due within 14 days",
        "Thank you for supporting open source.",
        "Paid 2026-03-02",
    ] {
        assert!(
            html.contains(expected),
            "{expected:?} missing from the HTML"
        );
    }
    // Address lines stay separate lines.
    assert!(!html.contains("12 Analytical Row London"));
}

#[test]
fn html_is_a_standalone_page_without_scripts_or_external_resources() {
    let html = document_html(&invoice()).unwrap();
    assert!(html.starts_with("<!doctype html>"));
    assert!(html.trim_end().ends_with("</html>"));
    assert!(html.contains(r#"<meta name="robots" content="noindex">"#));
    assert!(html.contains(r#"<meta charset="utf-8">"#));
    assert!(html.contains("<style>"));
    assert!(html.contains("Content-Security-Policy"));
    let lower = html.to_lowercase();
    for forbidden in [
        "<script", "<link", "<img", "src=", "href=", "@import", "url(",
    ] {
        assert!(!lower.contains(forbidden), "{forbidden:?} in the HTML");
    }
}

#[test]
fn a_quote_says_quote_and_until_when_it_stands() {
    let doc = quote();
    let html = document_html(&doc).unwrap();
    assert!(html.contains("<h1>QUOTE</h1>"));
    assert!(html.contains("GLQ-2026-000007"));
    assert!(html.contains("Valid until"));
    assert!(html.contains("2026-03-31"));
    assert!(html.contains("Prepared for"));
    assert!(!html.contains("INVOICE"));
    let text = text(&document_pdf(&doc).unwrap());
    assert!(text.contains("QUOTE"));
    assert!(text.contains("GLQ-2026-000007"));
    assert!(text.contains("Valid until"));
}

/// Text from the network that tries to break out of the page is shown, not run.
#[test]
fn hostile_text_is_escaped_everywhere() {
    let attack = r#"<script>alert("x")</script> & 'q' "#;
    let mut doc = invoice();
    doc.number = format!("{attack}N");
    doc.vendor.name = format!("{attack}V");
    doc.vendor.address = format!("{attack}\n<b>line</b>");
    doc.vendor.tax_id = Some(format!("{attack}T"));
    doc.vendor.email = Some(format!("{attack}E"));
    doc.vendor.account = Some(format!("{attack}A"));
    doc.client.name = format!("{attack}C");
    doc.client.address = attack.to_owned();
    doc.purchase_order = Some(format!("{attack}PO"));
    doc.lines[0].description = format!("{attack}tier");
    doc.payment_terms = format!("{attack}terms");
    doc.notes = vec![format!("{attack}note")];
    doc.status = Some(format!("{attack}status"));
    let html = document_html(&doc).unwrap();
    assert!(!html.contains("<script"));
    assert!(!html.contains("<b>"));
    assert!(!html.contains(r#"("x")"#));
    assert!(html.contains("&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &#39;q&#39;"));
    let escaped = "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &#39;q&#39; ";
    for field in [
        "N", "V", "T", "E", "A", "C", "PO", "tier", "terms", "note", "status",
    ] {
        assert!(
            html.contains(&format!("{escaped}{field}<")),
            "field {field}"
        );
    }
    assert!(html.contains(&format!("<title>Invoice {escaped}N</title>")));
    assert!(
        html.contains(&format!("<p>{}</p>", escaped.trim_end())),
        "address line"
    );
    assert!(
        html.contains("<p>&lt;b&gt;line&lt;/b&gt;</p>"),
        "address line"
    );

    let pdf = document_pdf(&doc).unwrap();
    assert_pdf_frame(&pdf);
    assert!(text(&pdf).contains(r#"<script>alert("x")</script>"#));
}

#[test]
fn the_pdf_is_a_whole_file_with_the_facts_in_it() {
    let doc = invoice();
    let pdf = document_pdf(&doc).unwrap();
    assert_pdf_frame(&pdf);
    assert_eq!(page_count(&pdf), 1);
    let text = text(&pdf);
    for expected in [
        "INVOICE",
        "GL-2026-000042",
        "2026-03-15",
        "Ada Lovelace",
        "London N1 9GU",
        "GB123456789",
        "BILL TO",
        "Acme Widgets GmbH",
        "DE811907980",
        "PO-77-ALPHA",
        "Gold retainer: tokio-widgets maintenance",
        "2026-03-01 to 2026-03-31",
        "USD 2,999.50",
        "Bank transfer, due within 14 days",
        "Thank you for supporting open source.",
        "Paid 2026-03-02",
        "Page 1 of 1",
    ] {
        assert!(
            text.contains(expected),
            "{expected:?} missing from the PDF text"
        );
    }
    // Uncompressed content streams: the strings are in the file as written.
    assert!(contains(&pdf, b"(GL-2026-000042)"));
    assert!(contains(&pdf, b"(USD 2,999.50)"));
    // Standard fonts only: nothing embedded.
    assert!(contains(&pdf, b"/BaseFont /Helvetica"));
    assert!(contains(&pdf, b"/WinAnsiEncoding"));
    assert!(!contains(&pdf, b"/FontFile"));
}

#[test]
fn two_hundred_lines_continue_on_further_pages() {
    let mut doc = invoice();
    let template = doc.lines[0].clone();
    doc.lines = (0..200)
        .map(|i| Line {
            description: format!("Retainer line {i:03}"),
            amount: 1_000 + i,
            ..template.clone()
        })
        .collect();
    let pdf = document_pdf(&doc).unwrap();
    assert_pdf_frame(&pdf);
    let pages = page_count(&pdf);
    assert!(pages > 1, "{pages} page(s)");
    let text = text(&pdf);
    for i in [0, 1, 99, 150, 199] {
        assert!(text.contains(&format!("Retainer line {i:03}")), "line {i}");
    }
    // 200 × 1 000 + (0 + … + 199) = 219 900 cents.
    assert_eq!(doc.total().unwrap(), 219_900);
    assert!(text.contains("USD 2,199.00"));
    assert!(text.contains(&format!("Page {pages} of {pages}")));
    assert!(text.contains("INVOICE GL-2026-000042 (continued)"));
    // The column headings are repeated on every page the table continues on.
    assert!(text.matches("Description").count() >= pages.min(2));
}

#[test]
fn text_outside_winansi_does_not_break_the_pdf() {
    let mut doc = invoice();
    doc.client.name = "株式会社テスト 東京".into();
    doc.client.address = "東京都千代田区1-1\nБерлин 🚀".into();
    doc.lines[0].description = "Müller & Søn – “retainer” € \u{0301}é".into();
    doc.notes.push("😀".repeat(500));
    let pdf = document_pdf(&doc).unwrap();
    assert_pdf_frame(&pdf);
    let text = text(&pdf);
    assert!(text.contains("GL-2026-000042"));
    assert!(text.contains("USD 2,999.50"));
    // CJK becomes question marks in the PDF; Latin-1 and WinAnsi's extras survive.
    assert!(text.contains("????? ??"), "{text}");
    assert!(text.contains("Müller & Søn – “retainer” € ?é"), "{text}");
    // The HTML keeps the real text.
    let html = document_html(&doc).unwrap();
    assert!(html.contains("株式会社テスト 東京"));
    assert!(html.contains("Берлин 🚀"));
}

#[test]
fn the_same_document_gives_the_same_bytes() {
    let doc = invoice();
    assert_eq!(document_pdf(&doc).unwrap(), document_pdf(&doc).unwrap());
    assert_eq!(document_html(&doc).unwrap(), document_html(&doc).unwrap());
    let pdf = document_pdf(&doc).unwrap();
    assert!(!contains(&pdf, b"CreationDate"));
    assert!(!contains(&pdf, b"ModDate"));
    assert!(!contains(&pdf, b"/ID"));
}

/// Totals are exact sums of minor units, written with the currency's own decimals.
#[test]
fn totals_are_exact_in_every_minor_unit() {
    let cases: [(&str, [i64; 3], i64, &str); 3] = [
        ("JPY", [150_000, 3, -1_000], 149_003, "JPY 149,003"),
        ("USD", [1, 10, 99_999_999], 100_000_010, "USD 1,000,000.10"),
        ("BHD", [1, 1_000, 12_345], 13_346, "BHD 13.346"),
    ];
    for (code, amounts, total, shown) in cases {
        let mut doc = invoice();
        doc.currency = currency(code);
        let template = doc.lines[0].clone();
        doc.lines = amounts
            .iter()
            .map(|&amount| Line {
                amount,
                ..template.clone()
            })
            .collect();
        assert_eq!(doc.total().unwrap(), total, "{code}");
        let html = document_html(&doc).unwrap();
        assert!(html.contains(shown), "{code}: {shown} not in the HTML");
        assert!(html.contains(&format!("Amount ({code})")));
        let text = text(&document_pdf(&doc).unwrap());
        assert!(text.contains(shown), "{code}: {shown} not in the PDF");
    }
    // A credit line shows with its sign.
    let mut doc = invoice();
    doc.lines[1].amount = -300_000;
    assert_eq!(doc.total().unwrap(), -50_000);
    assert!(document_html(&doc).unwrap().contains("USD -500.00"));
}

#[test]
fn documents_that_cannot_be_written_truthfully_are_refused() {
    let mut doc = invoice();
    doc.lines[0].amount = i64::MAX;
    assert_eq!(doc.total(), Err(DocumentError::TotalOverflow));
    assert_eq!(document_html(&doc), Err(DocumentError::TotalOverflow));
    assert_eq!(document_pdf(&doc), Err(DocumentError::TotalOverflow));

    let mut doc = invoice();
    doc.currency = currency("XYZ");
    assert_eq!(
        document_pdf(&doc),
        Err(DocumentError::UnsupportedCurrency(currency("XYZ")))
    );

    let mut doc = invoice();
    doc.lines[1].period = Some(LinePeriod {
        start: date(2026, 4, 1),
        end: date(2026, 4, 1),
    });
    assert_eq!(
        document_html(&doc),
        Err(DocumentError::EmptyPeriod { line: 1 })
    );
}

#[test]
fn an_invoice_without_optional_fields_still_renders() {
    let doc = Document {
        due_on: None,
        purchase_order: None,
        status: None,
        notes: vec![],
        lines: vec![],
        vendor: Party {
            name: "Solo".into(),
            ..Party::default()
        },
        client: Party::default(),
        ..invoice()
    };
    let html = document_html(&doc).unwrap();
    assert!(html.contains("USD 0.00"));
    assert!(!html.contains("Purchase order"));
    assert!(!html.contains("Due date"));
    assert!(!html.contains("Notes"));
    let pdf = document_pdf(&doc).unwrap();
    assert_pdf_frame(&pdf);
    assert!(text(&pdf).contains("USD 0.00"));
}

#[test]
fn numbers_are_zero_padded_and_distinct() {
    assert_eq!(invoice_number(2026, 42), "GL-2026-000042");
    assert_eq!(quote_number(2026, 7), "GLQ-2026-000007");
    assert_eq!(invoice_number(2026, 0), "GL-2026-000000");
    assert_eq!(invoice_number(2027, 999_999), "GL-2027-999999");
    assert_eq!(invoice_number(2027, 1_000_000), "GL-2027-1000000");
    assert_eq!(quote_number(999, 1), "GLQ-0999-000001");
}

#[test]
fn periods_come_from_billing_bounds() {
    let bounds =
        greenlight_funding::period_bounds(date(2026, 1, 31), greenlight_funding::Period::Month, 1)
            .unwrap();
    let period = LinePeriod::from(bounds);
    assert_eq!(
        period.display().as_deref(),
        Some("2026-02-28 to 2026-03-30")
    );
}

/// Field lengths are not trusted either: a huge unbroken description renders, quickly, on
/// as many pages as it needs.
#[test]
fn huge_fields_render_on_many_pages() {
    let mut doc = invoice();
    doc.lines[0].description = "W".repeat(200_000);
    doc.client.address = "A".repeat(20_000);
    let started = std::time::Instant::now();
    let pdf = document_pdf(&doc).unwrap();
    let html = document_html(&doc).unwrap();
    assert!(started.elapsed() < std::time::Duration::from_secs(10));
    assert_pdf_frame(&pdf);
    assert!(page_count(&pdf) > 10);
    assert!(text(&pdf).contains("USD 2,999.50"));
    assert!(html.contains(&"W".repeat(200_000)));
}
