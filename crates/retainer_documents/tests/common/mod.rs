//! Fixtures and PDF helpers shared by the integration tests.

#![allow(dead_code)]

use greenlight_retainer_documents::*;

pub fn date(y: i32, m: u8, d: u8) -> Date {
    Date::new(y, m, d).expect("valid date")
}

pub fn currency(code: &str) -> Currency {
    Currency::parse(code).expect("valid code")
}

pub fn vendor() -> Party {
    Party {
        name: "Ada Lovelace".into(),
        address: "12 Analytical Row\nLondon N1 9GU\nUnited Kingdom".into(),
        tax_id: Some("GB123456789".into()),
        email: Some("ada@example.org".into()),
        account: Some("did:plc:ada7lovelace".into()),
    }
}

pub fn client() -> Party {
    Party {
        name: "Acme Widgets GmbH".into(),
        address: "Hauptstrasse 5\n10115 Berlin\nGermany".into(),
        tax_id: Some("DE811907980".into()),
        email: Some("ap@acme.example".into()),
        account: Some("acme.example".into()),
    }
}

pub fn invoice() -> Document {
    Document {
        kind: DocumentKind::Invoice,
        number: invoice_number(2026, 42),
        issued_on: date(2026, 3, 1),
        due_on: Some(date(2026, 3, 15)),
        valid_until: None,
        vendor: vendor(),
        client: client(),
        purchase_order: Some("PO-77-ALPHA".into()),
        currency: Currency::USD,
        lines: vec![
            Line {
                description: "Gold retainer: tokio-widgets maintenance".into(),
                period: Some(LinePeriod {
                    start: date(2026, 3, 1),
                    end: date(2026, 4, 1),
                }),
                amount: 250_000,
            },
            Line {
                description: "Priority support add-on".into(),
                period: Some(LinePeriod {
                    start: date(2026, 3, 1),
                    end: date(2026, 4, 1),
                }),
                amount: 49_950,
            },
        ],
        payment_terms: "Bank transfer, due within 14 days".into(),
        notes: vec!["Thank you for supporting open source.".into()],
        status: Some("Paid 2026-03-02".into()),
    }
}

pub fn quote() -> Document {
    Document {
        kind: DocumentKind::Quote,
        number: quote_number(2026, 7),
        due_on: None,
        valid_until: Some(date(2026, 3, 31)),
        status: None,
        ..invoice()
    }
}

pub fn statement() -> IncomeStatement {
    let pay = |m: u8, d: u8, gross: i64, what: &str| {
        let fee = gross * 5 / 100;
        IncomeLine {
            date: date(2026, m, d),
            description: what.into(),
            gross,
            fee,
            net: gross - fee,
        }
    };
    IncomeStatement {
        maintainer: vendor(),
        year: 2026,
        currency: Currency::USD,
        lines: vec![
            pay(3, 2, 299_950, "Acme Widgets GmbH, Gold (GL-2026-000042)"),
            pay(1, 5, 100_000, "Initech, Silver"),
            pay(1, 20, 12_345, "Globex, Bronze"),
            pay(12, 31, 7, "Tiny donation"),
            pay(3, 2, 1_001, "Initech, top-up"),
        ],
    }
}

/// The PDF parsed by lopdf: panics if it does not parse.
pub fn parse(bytes: &[u8]) -> lopdf::Document {
    lopdf::Document::load_mem(bytes).expect("the PDF parses")
}

/// Every page's text as lopdf extracts it, pages joined by newlines.
pub fn text(bytes: &[u8]) -> String {
    let doc = parse(bytes);
    let pages: Vec<u32> = doc.get_pages().keys().copied().collect();
    doc.extract_text(&pages).expect("text extracts")
}

pub fn page_count(bytes: &[u8]) -> usize {
    parse(bytes).get_pages().len()
}

/// Whether `needle` occurs in the bytes.
pub fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

/// The file is a whole PDF: header, trailer, end marker.
pub fn assert_pdf_frame(bytes: &[u8]) {
    assert!(bytes.starts_with(b"%PDF-"), "starts with %PDF-");
    assert!(
        bytes.trim_ascii_end().ends_with(b"%%EOF"),
        "ends with %%EOF"
    );
    parse(bytes);
}
