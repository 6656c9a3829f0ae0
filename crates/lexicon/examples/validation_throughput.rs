//! Records validated per second: `cargo run -p greenlight-lexicon --release --example
//! validation_throughput`.

use std::time::Instant;

use greenlight_lexicon::Catalog;
use serde_json::{json, Value};

fn records() -> Vec<(&'static str, Value)> {
    let subject = json!({
        "uri": "at://did:plc:ewvi7nxzyoun6zhxrhs64oiz/fund.greenlight.proposal/3lbjkn5wdtc2x",
        "cid": "bafyreidfayvfuwqa7qlnopdjiqrxzs6blmoeu4rujcjtnci5beludirz2a",
    });
    vec![
        (
            "fund.greenlight.project",
            json!({
                "$type": "fund.greenlight.project", "name": "Greenlight",
                "description": "Feature funding for open source. ".repeat(20),
                "repository": "https://github.com/example/greenlight", "currency": "EUR",
                "maintainers": ["did:plc:z72i7hdynmk6r22z27h6tvur"], "createdAt": "2025-03-01T12:00:00.000Z",
            }),
        ),
        (
            "fund.greenlight.proposal",
            json!({
                "$type": "fund.greenlight.proposal",
                "subject": { "$type": "com.atproto.repo.strongRef", "uri": "at://did:plc:ewvi7nxzyoun6zhxrhs64oiz/fund.greenlight.project/greenlight", "cid": "bafyreidfayvfuwqa7qlnopdjiqrxzs6blmoeu4rujcjtnci5beludirz2a" },
                "title": "Dark mode 🌙 for the dashboard",
                "body": "It would help everyone who works at night. ".repeat(40),
                "tags": ["ui", "accessibility"], "createdAt": "2025-03-01T12:00:00.000Z",
            }),
        ),
        (
            "fund.greenlight.estimate",
            json!({
                "$type": "fund.greenlight.estimate", "subject": subject, "amount": 2500,
                "currency": "USD", "createdAt": "2025-03-01T12:00:00.000Z",
            }),
        ),
        (
            "fund.greenlight.status",
            json!({
                "$type": "fund.greenlight.status", "subject": subject,
                "stage": { "$type": "fund.greenlight.status#preview", "url": "https://preview.example/",
                           "instructions": "Open settings.", "endsAt": "2025-04-01T00:00:00Z" },
                "createdAt": "2025-03-01T12:00:00.000Z",
            }),
        ),
        (
            "fund.greenlight.pledge",
            json!({
                "$type": "fund.greenlight.pledge", "subject": subject, "amount": 5000, "currency": "USD",
                "receipt": "plg_0123456789abcdef", "createdAt": "2025-03-01T12:00:00.000Z",
            }),
        ),
        (
            "fund.greenlight.dispute",
            json!({
                "$type": "fund.greenlight.dispute", "subject": subject, "reason": "Not as previewed.",
                "evidence": ["https://github.com/example/app/issues/42"], "createdAt": "2025-03-01T12:00:00.000Z",
            }),
        ),
    ]
}

fn main() {
    let catalog = match Catalog::embedded() {
        Ok(c) => c,
        Err(err) => {
            eprintln!("embedded lexicons: {err}");
            std::process::exit(1);
        }
    };
    let records = records();
    for (nsid, record) in &records {
        if let Err(err) = catalog.validate_record(nsid, record) {
            eprintln!("{nsid}: {err}");
            std::process::exit(1);
        }
    }
    let rounds = 100_000;
    let start = Instant::now();
    let mut ok = 0usize;
    for _ in 0..rounds {
        for (nsid, record) in &records {
            ok += usize::from(
                catalog
                    .validate_record(nsid, std::hint::black_box(record))
                    .is_ok(),
            );
        }
    }
    let elapsed = start.elapsed();
    let total = rounds * records.len();
    println!(
        "{total} records ({ok} valid) in {:.2?}: {:.0} records/s",
        elapsed,
        total as f64 / elapsed.as_secs_f64()
    );
}
