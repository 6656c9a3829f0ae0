//! What the tests that run the real `greenlight-escrow` binary share: starting it, its
//! database's URL, a free port to bind, and waiting on the database for what the process does.

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use sqlx::PgPool;

/// The URL of the test's own database, for the escrow process.
pub fn database_url(pool: &PgPool) -> String {
    let database = pool.connect_options().get_database().unwrap().to_owned();
    greenlight_store::server::database_url(&std::env::var("DATABASE_URL").unwrap(), &database)
}

/// A port nothing listens on right now.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Waits until `sql` (a boolean query) holds, for at most 30 s; on timeout fails with the
/// process's `log`.
pub async fn wait_for(pool: &PgPool, what: &str, sql: &str, log: &std::path::Path) {
    for _ in 0..300 {
        let done: bool = sqlx::query_scalar(sql).fetch_one(pool).await.unwrap();
        if done {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!(
        "timed out waiting for {what}; escrow log:\n{}",
        std::fs::read_to_string(log).unwrap_or_default()
    );
}

/// Starts `greenlight-escrow serve --demo` (the sandbox provider, a test password) on
/// `database`, learning stages from `appview`, with `failpoints` armed and `env` set; its
/// log goes to `log`.
pub fn spawn_escrow(
    database: &str,
    appview: &str,
    failpoints: Option<&str>,
    env: &[(&str, String)],
    log: &std::path::Path,
) -> Child {
    let mut command = Command::new(env!("CARGO_BIN_EXE_greenlight-escrow"));
    command
        .args(["serve", "--demo"])
        .env("ESCROW_DATABASE_URL", database)
        .env(
            "GREENLIGHT_ESCROW_BIND",
            format!("127.0.0.1:{}", free_port()),
        )
        .env("GREENLIGHT_APPVIEW_URL", appview)
        .env_remove("GREENLIGHT_ESCROW_FAILPOINTS")
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(log).unwrap());
    for (name, value) in env {
        command.env(name, value);
    }
    if let Some(points) = failpoints {
        command.env("GREENLIGHT_ESCROW_FAILPOINTS", points);
    }
    command.spawn().unwrap()
}
