//! Source cursors: where each source is up to, stored by the writer in the same transaction as
//! the writes it covers, and read back on every (re)connect.

use sqlx::postgres::PgPool;

/// Reads the stored cursor of `source`, if any.
pub async fn stored_cursor(pool: &PgPool, source: &str) -> Result<Option<i64>, sqlx::Error> {
    sqlx::query_scalar!(
        "SELECT position FROM appview.source_cursor WHERE source = $1",
        source
    )
    .fetch_optional(pool)
    .await
}
