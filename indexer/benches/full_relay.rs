//! The full-relay benchmark (issue 13): the raw-firehose path on a stream shaped like a whole
//! relay, against a decode-only pass over the same bytes in the same run, with peak memory.
//! See `greenlight_indexer::bench::full_relay` for what is measured.
//!
//! ```text
//! export DATABASE_URL=$(scripts/postgres start)
//! cargo test --release -p greenlight-indexer --bench full_relay
//! ```
//!
//! (`cargo test`, not `cargo bench`: libtest's bench mode skips `#[test]`s.)
//!
//! `GREENLIGHT_BENCH_FRAMES` sets the stream's length (default 300,000) and
//! `GREENLIGHT_BENCH_ROUNDS` the rounds of passes over it (default 3, the median is reported);
//! a debug build runs one round of 2,000 frames, as a smoke test. It lives here rather than behind the binary's
//! `bench` command because the Greenlight authors' commits must really be signed, and the
//! signing key type (`k256`) is only a dev-dependency of the indexer. Without `DATABASE_URL`
//! it says so and does nothing.

use std::io::Write as _;

use greenlight_identity::PublicKey;
use greenlight_indexer::bench::full_relay::{self, FullRelayConfig};
use greenlight_indexer::bench::relay_mix::CommitSigner;
use k256::ecdsa::signature::Signer as _;

/// The key every generated Greenlight author signs with (a fixed one: the stream is
/// deterministic, and only its public half is published, in the authors' DID documents).
struct AuthorKey(k256::ecdsa::SigningKey);

impl CommitSigner for AuthorKey {
    fn public_key(&self) -> PublicKey {
        PublicKey::K256(*self.0.verifying_key())
    }

    fn sign(&self, unsigned: &[u8]) -> Vec<u8> {
        // k256 signs deterministically (RFC 6979) and low-S, as atproto requires.
        let signature: k256::ecdsa::Signature = self.0.sign(unsigned);
        signature.to_bytes().to_vec()
    }
}

/// A count from the environment, or `default`.
fn setting(name: &str, default: usize) -> Result<usize, String> {
    match std::env::var(name) {
        Ok(value) => value
            .parse()
            .map_err(|err| format!("{name}={value:?}: {err}")),
        Err(_) => Ok(default),
    }
}

// A `#[test]`: the bench target gets libtest's harness (the indexer's manifest declares no
// bench targets, so `harness = false` is not available here), and stable Rust has no
// `#[bench]`.
#[test]
fn full_relay() -> Result<(), String> {
    let Ok(database_url) = std::env::var("DATABASE_URL") else {
        eprintln!("full_relay: DATABASE_URL is not set; skipping (see scripts/postgres)");
        return Ok(());
    };
    let _ = tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "warn,sqlx=warn".into()),
        )
        .with_writer(std::io::stderr)
        .try_init();
    let key = k256::ecdsa::SigningKey::from_slice(&[0x42; 32]).map_err(|err| err.to_string())?;
    let debug = cfg!(debug_assertions);
    let frames = setting(
        "GREENLIGHT_BENCH_FRAMES",
        if debug { 2_000 } else { 300_000 },
    )?;
    let mut config = FullRelayConfig::new(database_url, frames);
    config.rounds = setting("GREENLIGHT_BENCH_ROUNDS", if debug { 1 } else { 3 })?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|err| err.to_string())?;
    let report = runtime
        .block_on(full_relay::run(config, &AuthorKey(key)))
        .map_err(|err| format!("{err:#}"))?;
    // Straight to stdout: libtest captures `println!` unless asked not to.
    let text = format!(
        "\nfull-relay mix ({} build)\n{report}\n",
        if cfg!(debug_assertions) {
            "debug"
        } else {
            "release"
        }
    );
    std::io::stdout()
        .write_all(text.as_bytes())
        .map_err(|err| err.to_string())?;
    if report.rejected_events != 0 || report.parked != 0 || report.identity_fetches != 0 {
        return Err(format!(
            "every frame is valid and every key is primed: expected no rejected events, parked commits or identity lookups ({report:?})"
        ));
    }
    Ok(())
}
