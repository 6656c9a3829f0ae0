//! Other databases on the same Postgres server: the URL that names one, and scratch databases
//! that tests and benchmarks create and drop next to the real ones.
//!
//! Everything that needs "this server, another database" (the benchmarks of the indexer, the
//! AppView and escrow, the tests' scratch databases) goes through here, so a URL with a query
//! string, no database name or a `postgresql://` scheme is handled the same way everywhere.

use sqlx::{Connection, PgConnection};

/// `url` with its database name replaced by `name` (added when it has none), keeping the
/// scheme, credentials, host and any query string.
pub fn database_url(url: &str, name: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((base, query)) => (base, Some(query)),
        None => (url, None),
    };
    // The database is the path: whatever follows the first '/' after the authority.
    let authority = base.find("://").map_or(0, |scheme_end| scheme_end + 3);
    let server = match base[authority..].find('/') {
        Some(slash) => &base[..authority + slash],
        None => base,
    };
    match query {
        Some(query) => format!("{server}/{name}?{query}"),
        None => format!("{server}/{name}"),
    }
}

/// Creates an empty database `name` on the server of `server_url`, dropping one left over by
/// an earlier run, and returns its URL. `name` is spliced into SQL, so it must be a plain
/// identifier (letters, digits, `_`), as the callers' generated names are.
pub async fn create_database(server_url: &str, name: &str) -> Result<String, sqlx::Error> {
    let mut admin = PgConnection::connect(server_url).await?;
    sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        .execute(&mut admin)
        .await?;
    sqlx::query(&format!("CREATE DATABASE {name}"))
        .execute(&mut admin)
        .await?;
    Ok(database_url(server_url, name))
}

/// Drops the database `name` on the server of `server_url`, ending connections still open to
/// it (a test that failed midway may have left some).
pub async fn drop_database(server_url: &str, name: &str) -> Result<(), sqlx::Error> {
    let mut admin = PgConnection::connect(server_url).await?;
    sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        .execute(&mut admin)
        .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::database_url;

    #[test]
    fn database_names_are_replaced() {
        assert_eq!(
            database_url("postgres://u@h:1/db?sslmode=disable", "x"),
            "postgres://u@h:1/x?sslmode=disable"
        );
        assert_eq!(
            database_url("postgres://u@h:1/db", "x"),
            "postgres://u@h:1/x"
        );
        assert_eq!(
            database_url("postgres://u:p@localhost:5432/main?sslmode=disable", "b"),
            "postgres://u:p@localhost:5432/b?sslmode=disable"
        );
        assert_eq!(
            database_url("postgres://u@127.0.0.1:5432/greenlight", "x"),
            "postgres://u@127.0.0.1:5432/x"
        );
        assert_eq!(
            database_url("postgres://u@h/db?sslmode=disable", "x"),
            "postgres://u@h/x?sslmode=disable"
        );
    }

    #[test]
    fn a_server_url_without_a_database_gets_one() {
        assert_eq!(
            database_url("postgres://localhost:5432", "b"),
            "postgres://localhost:5432/b"
        );
        assert_eq!(database_url("postgres://u@h", "x"), "postgres://u@h/x");
        assert_eq!(
            database_url("postgresql://h?sslmode=disable", "x"),
            "postgresql://h/x?sslmode=disable"
        );
    }
}
