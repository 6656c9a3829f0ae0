//! The HTML renderings: one standalone page each, every piece of caller text escaped.

use std::fmt::Write as _;

use crate::{
    document_facts, money, party_details, plain_amount, Document, DocumentError, IncomeStatement,
    Party, MONTHS,
};

/// Escapes text for HTML element content and quoted attribute values. Everything from the
/// caller goes through here: names, addresses and PO numbers come from the network.
fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// Print-friendly and plain: black on white, A4 margins, tables that repeat their heading on
/// every printed page.
const STYLE: &str = "\
@page { size: A4; margin: 18mm; }
* { box-sizing: border-box; }
body { font-family: Helvetica, Arial, sans-serif; font-size: 10.5pt; color: #111; background: #fff; margin: 0; }
main { max-width: 190mm; margin: 0 auto; padding: 12mm 0; }
header { display: flex; justify-content: space-between; align-items: flex-start; gap: 2em; border-bottom: 2px solid #111; padding-bottom: 0.6em; }
header .issuer { font-size: 16pt; font-weight: bold; overflow-wrap: anywhere; }
h1 { font-size: 22pt; letter-spacing: 0.08em; margin: 0; }
h2 { font-size: 10.5pt; margin: 0 0 0.3em; text-transform: uppercase; letter-spacing: 0.05em; color: #444; }
dl.facts { display: grid; grid-template-columns: max-content 1fr; gap: 0.15em 1.2em; margin: 1em 0; }
dl.facts dt { font-weight: bold; }
dl.facts dd { margin: 0; overflow-wrap: anywhere; }
.parties { display: grid; grid-template-columns: 1fr 1fr; gap: 2em; margin: 1.2em 0; }
.party p { margin: 0; overflow-wrap: anywhere; }
.party .name { font-weight: bold; }
table { width: 100%; border-collapse: collapse; margin: 1em 0; }
thead { display: table-header-group; }
th, td { text-align: left; vertical-align: top; padding: 0.35em 0.5em; border-bottom: 1px solid #ccc; overflow-wrap: anywhere; }
thead th { background: #eee; border-bottom: 1px solid #111; }
.amount { text-align: right; white-space: nowrap; font-variant-numeric: tabular-nums; }
.date, .period { white-space: nowrap; }
tfoot th, tfoot td { font-weight: bold; border-top: 2px solid #111; border-bottom: none; }
.status { display: inline-block; border: 2px solid #111; padding: 0.2em 0.6em; font-weight: bold; text-transform: uppercase; }
section { margin: 1em 0; }
section p { margin: 0.2em 0; overflow-wrap: anywhere; white-space: pre-line; }
tr { page-break-inside: avoid; }
";

fn page(title: &str, body: &str) -> String {
    format!(
        "<!doctype html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"robots\" content=\"noindex\">\n\
         <meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>{}</title>\n<style>\n{STYLE}</style>\n</head>\n<body>\n<main>\n{body}</main>\n</body>\n</html>\n",
        escape(title)
    )
}

fn party_html(out: &mut String, heading: &str, party: &Party) {
    let _ = write!(
        out,
        "<div class=\"party\">\n<h2>{}</h2>\n<p class=\"name\">{}</p>\n",
        escape(heading),
        escape(&party.name)
    );
    for line in party_details(party) {
        let _ = writeln!(out, "<p>{}</p>", escape(&line));
    }
    out.push_str("</div>\n");
}

fn facts_html(out: &mut String, facts: &[(&str, String)]) {
    out.push_str("<dl class=\"facts\">\n");
    for (label, value) in facts {
        let _ = writeln!(out, "<dt>{}</dt><dd>{}</dd>", escape(label), escape(value));
    }
    out.push_str("</dl>\n");
}

/// A quote or invoice as a complete HTML page. Fails as [`Document::total`] does, or on an
/// unsupported currency or an empty period (see the crate doc).
pub fn document_html(doc: &Document) -> Result<String, DocumentError> {
    let total = doc.check()?;
    let mut body = String::new();
    let _ = write!(
        body,
        "<header>\n<div class=\"issuer\">{}</div>\n<h1>{}</h1>\n</header>\n",
        escape(&doc.vendor.name),
        doc.kind.title()
    );
    if let Some(status) = &doc.status {
        let _ = writeln!(body, "<p class=\"status\">{}</p>", escape(status));
    }
    facts_html(&mut body, &document_facts(doc));

    body.push_str("<div class=\"parties\">\n");
    party_html(&mut body, "From", &doc.vendor);
    party_html(&mut body, doc.kind.client_heading(), &doc.client);
    body.push_str("</div>\n");

    let _ = write!(
        body,
        "<table class=\"lines\">\n<thead><tr><th>Description</th><th>Period</th>\
         <th class=\"amount\">Amount ({})</th></tr></thead>\n<tbody>\n",
        doc.currency
    );
    for line in &doc.lines {
        let period = line.period.and_then(|p| p.display()).unwrap_or_default();
        let _ = writeln!(
            body,
            "<tr><td>{}</td><td class=\"period\">{}</td><td class=\"amount\">{}</td></tr>",
            escape(&line.description),
            period,
            plain_amount(doc.currency, line.amount)
        );
    }
    let _ = write!(
        body,
        "</tbody>\n<tfoot><tr><th colspan=\"2\">Total</th><td class=\"amount\">{}</td></tr></tfoot>\n</table>\n",
        money(doc.currency, total)
    );

    let _ = write!(
        body,
        "<section class=\"terms\">\n<h2>Payment terms</h2>\n<p>{}</p>\n</section>\n",
        escape(&doc.payment_terms)
    );
    if !doc.notes.is_empty() {
        body.push_str("<section class=\"notes\">\n<h2>Notes</h2>\n");
        for note in &doc.notes {
            let _ = writeln!(body, "<p>{}</p>", escape(note));
        }
        body.push_str("</section>\n");
    }
    let title = format!("{} {}", doc.kind.word(), doc.number);
    Ok(page(&title, &body))
}

/// An income statement as a complete HTML page: every month's subtotals, the year's totals,
/// then every payment. Fails as [`IncomeStatement::summary`] does.
pub fn income_html(s: &IncomeStatement) -> Result<String, DocumentError> {
    let summary = s.summary()?;
    let c = s.currency;
    let mut body = String::new();
    let _ = write!(
        body,
        "<header>\n<div class=\"issuer\">{}</div>\n<h1>INCOME STATEMENT</h1>\n</header>\n",
        escape(&s.maintainer.name)
    );
    facts_html(
        &mut body,
        &[
            ("Year", s.year.to_string()),
            ("Currency", c.to_string()),
            ("Payments", summary.year.payments.to_string()),
        ],
    );
    body.push_str("<div class=\"parties\">\n");
    party_html(&mut body, "Maintainer", &s.maintainer);
    body.push_str("</div>\n");

    let _ = write!(
        body,
        "<h2>By month</h2>\n<table class=\"months\">\n<thead><tr><th>Month</th>\
         <th class=\"amount\">Payments</th><th class=\"amount\">Gross ({c})</th>\
         <th class=\"amount\">Platform fee ({c})</th><th class=\"amount\">Net ({c})</th>\
         </tr></thead>\n<tbody>\n"
    );
    for (name, month) in MONTHS.iter().zip(&summary.months) {
        let _ = writeln!(
            body,
            "<tr><td>{name}</td><td class=\"amount\">{}</td><td class=\"amount\">{}</td>\
             <td class=\"amount\">{}</td><td class=\"amount\">{}</td></tr>",
            month.payments,
            plain_amount(c, month.gross),
            plain_amount(c, month.fee),
            plain_amount(c, month.net)
        );
    }
    let y = summary.year;
    let _ = write!(
        body,
        "</tbody>\n<tfoot><tr><th>Total {}</th><td class=\"amount\">{}</td>\
         <td class=\"amount\">{}</td><td class=\"amount\">{}</td><td class=\"amount\">{}</td>\
         </tr></tfoot>\n</table>\n",
        s.year,
        y.payments,
        money(c, y.gross),
        money(c, y.fee),
        money(c, y.net)
    );

    let _ = write!(
        body,
        "<h2>Payments received</h2>\n<table class=\"payments\">\n<thead><tr><th>Date</th>\
         <th>Description</th><th class=\"amount\">Gross ({c})</th>\
         <th class=\"amount\">Fee ({c})</th><th class=\"amount\">Net ({c})</th></tr></thead>\n\
         <tbody>\n"
    );
    for line in s.lines_by_date() {
        let _ = writeln!(
            body,
            "<tr><td class=\"date\">{}</td><td>{}</td><td class=\"amount\">{}</td>\
             <td class=\"amount\">{}</td><td class=\"amount\">{}</td></tr>",
            line.date,
            escape(&line.description),
            plain_amount(c, line.gross),
            plain_amount(c, line.fee),
            plain_amount(c, line.net)
        );
    }
    let _ = write!(
        body,
        "</tbody>\n<tfoot><tr><th colspan=\"2\">Total {} ({} payments)</th>\
         <td class=\"amount\">{}</td><td class=\"amount\">{}</td><td class=\"amount\">{}</td>\
         </tr></tfoot>\n</table>\n",
        s.year,
        y.payments,
        plain_amount(c, y.gross),
        plain_amount(c, y.fee),
        plain_amount(c, y.net)
    );
    let title = format!("Income statement {} {}", s.year, c);
    Ok(page(&title, &body))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_every_markup_character() {
        assert_eq!(
            escape(r#"<a href="x" onclick='y'>&amp;</a>"#),
            "&lt;a href=&quot;x&quot; onclick=&#39;y&#39;&gt;&amp;amp;&lt;/a&gt;"
        );
        assert_eq!(escape("東京 Müller"), "東京 Müller");
    }
}
