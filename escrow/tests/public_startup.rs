//! The real binary refuses to face the public with demo settings: without `--demo` or
//! `GREENLIGHT_ESCROW_DEMO=1` it names everything unfit and exits before touching the
//! database; with either it starts and says loudly that it is a demo. (The decision itself
//! is unit-tested in `config.rs`.)

use std::process::{Command, Stdio};

/// Runs `greenlight-escrow <args>` with only `env` set among escrow's variables; a database
/// URL that cannot even be parsed shows, at once, that a refusal comes before any connection.
fn escrow(args: &[&str], env: &[(&str, &str)]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_greenlight-escrow"));
    command.args(args);
    for (name, _) in std::env::vars() {
        if name.starts_with("GREENLIGHT_") || name.starts_with("STRIPE_") {
            command.env_remove(&name);
        }
    }
    command
        .env(
            "ESCROW_DATABASE_URL",
            "postgres://nobody@127.0.0.1:not-a-port/none",
        )
        .env_remove("DATABASE_URL")
        .env("GREENLIGHT_ESCROW_BIND", "127.0.0.1:0")
        .envs(env.iter().copied())
        .stdin(Stdio::null());
    command
}

fn refusal(args: &[&str], env: &[(&str, &str)]) -> String {
    let output = escrow(args, env).output().unwrap();
    assert!(!output.status.success());
    String::from_utf8_lossy(&output.stderr).into_owned()
}

#[test]
fn the_defaults_are_refused_with_every_problem_named() {
    let stderr = refusal(&["serve"], &[]);
    for needle in [
        "escrow refuses to start",
        "GREENLIGHT_ESCROW_PROVIDER",
        "GREENLIGHT_ESCROW_SANDBOX_WEBHOOK_SECRET",
        "GREENLIGHT_ESCROW_ADMIN_PASSWORD: is unset",
        "GREENLIGHT_ESCROW_DEMO=1",
    ] {
        assert!(stderr.contains(needle), "{needle} missing:\n{stderr}");
    }
    // Refused before the database was tried.
    assert!(!stderr.contains("database"), "{stderr}");
    // `serve` is the default command, and refuses the same way.
    assert!(refusal(&[], &[]).contains("escrow refuses to start"));
}

#[test]
fn stripe_with_a_published_or_short_password_is_refused() {
    let stripe = [
        ("GREENLIGHT_ESCROW_PROVIDER", "stripe"),
        ("STRIPE_SECRET_KEY", "sk_test_x"),
        ("STRIPE_WEBHOOK_SECRET", "whsec_x"),
    ];
    for (password, problem) in [
        ("demo-admin", "a default published with Greenlight"),
        ("hunter2", "shorter than 16 characters"),
    ] {
        let mut env = stripe.to_vec();
        env.push(("GREENLIGHT_ESCROW_ADMIN_PASSWORD", password));
        let stderr = refusal(&["serve"], &env);
        assert!(
            stderr.contains("GREENLIGHT_ESCROW_ADMIN_PASSWORD") && stderr.contains(problem),
            "{password}:\n{stderr}"
        );
        assert!(!stderr.contains("GREENLIGHT_ESCROW_PROVIDER"), "{stderr}");
    }
    // With a proper password the configuration passes, and only the (unreachable)
    // database stops it.
    let mut env = stripe.to_vec();
    env.push((
        "GREENLIGHT_ESCROW_ADMIN_PASSWORD",
        "a-long-and-unpublished-password",
    ));
    let stderr = refusal(&["serve"], &env);
    assert!(!stderr.contains("refuses to start"), "{stderr}");
    assert!(stderr.contains("database"), "{stderr}");
}

#[test]
fn a_demo_gets_past_the_check_and_says_so() {
    for (args, env) in [
        (&["serve", "--demo"][..], &[][..]),
        (&["--demo"][..], &[][..]),
        (&["serve"][..], &[("GREENLIGHT_ESCROW_DEMO", "1")][..]),
    ] {
        let output = escrow(args, env).output().unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        // It got as far as the database, which does not exist here.
        assert!(!output.status.success());
        assert!(!stderr.contains("refuses to start"), "{args:?}:\n{stderr}");
        assert!(stderr.contains("DEMO"), "{args:?}:\n{stderr}");
        assert!(
            stderr.contains("GREENLIGHT_ESCROW_PROVIDER"),
            "the waived problems are listed:\n{stderr}"
        );
        assert!(stderr.contains("database"), "{args:?}:\n{stderr}");
    }
    // A flag that is neither yes nor no is an error, not a guess.
    let stderr = refusal(&["serve"], &[("GREENLIGHT_ESCROW_DEMO", "maybe")]);
    assert!(stderr.contains("GREENLIGHT_ESCROW_DEMO"), "{stderr}");
}

#[test]
fn the_demo_flag_is_not_needed_by_other_commands() {
    // `reconcile` neither serves nor refuses: it goes straight to the database.
    let output = escrow(&["reconcile"], &[])
        .stdout(Stdio::piped())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!stderr.contains("refuses to start"), "{stderr}");
    assert!(stderr.contains("database"), "{stderr}");
}
