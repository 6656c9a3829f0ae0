//! The benchmark's yardstick: the same stream loaded with Postgres `COPY`, one row per event,
//! into tables shaped like the indexer's (same columns and indexes): record-carrying events
//! into a copy of `appview.record`, deletes into a copy of `appview.record_tombstone`, identity
//! and account events into a copy of `appview.actor`. Its input is written to files first so
//! that only Postgres's load is timed.

use std::io::Write as _;
use std::path::Path;
use std::time::{Duration, Instant};

use sqlx::postgres::PgPool;

use super::generator::{StoredRow, StreamGenerator};
use super::BenchConfig;

/// The tables the rows go to, in the order of [`table_of`]'s indexes.
const COPY_TARGETS: [(&str, &str); 3] = [
    ("record.tsv", "COPY bench_copy.record (uri, did, collection, rkey, cid, rev, body, subject_uri, subject_cid, amount, currency, stage, created_at) FROM STDIN"),
    ("tombstone.tsv", "COPY bench_copy.record_tombstone (uri, rev) FROM STDIN"),
    ("actor.tsv", "COPY bench_copy.actor (did, handle, active, status) FROM STDIN"),
];

/// Loads one row per event of the configured stream with COPY; returns the rows and the
/// time the COPY took. Its files go into `dir`.
pub(super) async fn run(
    pool: &PgPool,
    config: &BenchConfig,
    dir: &Path,
) -> anyhow::Result<(usize, Duration)> {
    let paths = COPY_TARGETS.map(|(file, _)| dir.join(file));
    {
        let mut files = [
            std::io::BufWriter::new(std::fs::File::create(&paths[0])?),
            std::io::BufWriter::new(std::fs::File::create(&paths[1])?),
            std::io::BufWriter::new(std::fs::File::create(&paths[2])?),
        ];
        let mut stream = StreamGenerator::new(config.seed, config.repos);
        for n in 0..config.events {
            let row = stream.next_event().row;
            files[table_of(&row)].write_all(copy_line(&row, n).as_bytes())?;
        }
        for file in &mut files {
            file.flush()?;
        }
    }
    let mut conn = pool.acquire().await?;
    for statement in [
        "DROP SCHEMA IF EXISTS bench_copy CASCADE",
        "CREATE SCHEMA bench_copy",
        "CREATE TABLE bench_copy.record (LIKE appview.record INCLUDING ALL)",
        "CREATE TABLE bench_copy.record_tombstone (LIKE appview.record_tombstone INCLUDING ALL)",
        "CREATE TABLE bench_copy.actor (LIKE appview.actor INCLUDING ALL)",
    ] {
        sqlx::query(statement).execute(&mut *conn).await?;
    }
    let started = Instant::now();
    for (path, (_, statement)) in paths.iter().zip(COPY_TARGETS) {
        let mut copy = conn.copy_in_raw(statement).await?;
        let file = tokio::fs::File::open(path).await?;
        copy.read_from(file).await?;
        copy.finish().await?;
    }
    let elapsed = started.elapsed();
    sqlx::query("DROP SCHEMA bench_copy CASCADE")
        .execute(&mut *conn)
        .await?;
    for path in &paths {
        let _ = std::fs::remove_file(path);
    }
    Ok((config.events, elapsed))
}

/// Which of [`COPY_TARGETS`] a row goes to.
fn table_of(row: &StoredRow) -> usize {
    match row {
        StoredRow::Record { .. } => 0,
        StoredRow::Tombstone { .. } => 1,
        StoredRow::Actor { .. } => 2,
    }
}

/// The row of event number `n` in COPY's text format. Keys get `#n` appended: the stream
/// writes the same record many times, and the baseline has no revision guard to absorb that.
fn copy_line(row: &StoredRow, n: usize) -> String {
    match row {
        StoredRow::Record {
            did,
            collection,
            rkey,
            cid,
            rev,
            record,
        } => {
            let subject = record["subject"]["uri"].as_str();
            let subject_cid = subject.and(record["subject"]["cid"].as_str());
            format!(
                "at://{did}/{collection}/{rkey}#{n}\t{did}\t{collection}\t{rkey}#{n}\t{cid}\t{rev}\t{}\t{}\t{}\t{}\t{}\t\\N\t2025-03-04T05:06:07Z\n",
                copy_escape(&record.to_string()),
                subject.unwrap_or("\\N"),
                subject_cid.unwrap_or("\\N"),
                record["amount"].as_i64().map_or("\\N".to_owned(), |a| a.to_string()),
                record["currency"].as_str().unwrap_or("\\N"),
            )
        }
        StoredRow::Tombstone { uri, rev } => format!("{uri}#{n}\t{rev}\n"),
        StoredRow::Actor {
            did,
            handle,
            active,
            status,
        } => format!(
            "{did}#{n}\t{}\t{active}\t{}\n",
            handle.as_deref().unwrap_or("\\N"),
            status.unwrap_or("\\N")
        ),
    }
}

/// Escapes a value for COPY's text format.
fn copy_escape(text: &str) -> String {
    text.replace('\\', "\\\\")
        .replace('\t', "\\t")
        .replace('\n', "\\n")
        .replace('\r', "\\r")
}
