//! The AppView schema applies to a fresh database and enforces what the indexer relies on.

use sqlx::PgPool;

#[sqlx::test(migrations = "../../migrations")]
async fn migrations_apply_and_rerun_as_a_no_op(pool: PgPool) {
    greenlight_store::MIGRATOR.run(&pool).await.unwrap();
    let tables: Vec<String> = sqlx::query_scalar(
        "SELECT table_name::text FROM information_schema.tables WHERE table_schema = 'appview' ORDER BY 1",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    // Later migrations add tables; these are the ones every other part relies on.
    for table in [
        "actor",
        "record",
        "record_tombstone",
        "rejected_record",
        "source_cursor",
    ] {
        assert!(
            tables.iter().any(|t| t == table),
            "appview.{table} is missing: {tables:?}"
        );
    }
    let applied: i64 = sqlx::query_scalar("SELECT count(*) FROM _sqlx_migrations")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(
        applied as usize,
        greenlight_store::MIGRATOR.iter().count(),
        "running the migrations again applied something twice"
    );
}

#[sqlx::test(migrations = "../../migrations")]
async fn a_record_is_unique_by_repo_collection_and_key(pool: PgPool) {
    let insert = "INSERT INTO appview.record (uri, did, collection, rkey, cid, rev, body, created_at)
                  VALUES ($1, 'did:plc:abc', 'fund.greenlight.proposal', '3kabc', 'bafy', '3kaaa', $2, now())";
    sqlx::query(insert)
        .bind("at://did:plc:abc/fund.greenlight.proposal/3kabc")
        .bind(serde_json::json!({"title": "x"}))
        .execute(&pool)
        .await
        .unwrap();
    // The same (did, collection, rkey) under another spelling of the uri must not slip in twice.
    let second = sqlx::query(insert)
        .bind("at://did:plc:abc/fund.greenlight.proposal/3kabc/")
        .bind(serde_json::json!({"title": "y"}))
        .execute(&pool)
        .await;
    assert!(second.is_err(), "a second row for one record was accepted");
}
