//! Idempotency keys of procedures: the same (caller, key) with the same body returns the
//! first answer; with another body it fails with `IdempotencyConflict`.
//!
//! The key is claimed by inserting its row in the transaction that does the work, so a
//! concurrent call with the same key waits on the row and then replays the committed answer;
//! if the first call fails, its claim rolls back and the retry does the work. Only successful
//! answers are stored: an error (say, the proposal was not in preview yet) may be retried.

use chrono::{DateTime, Utc};
use serde_json::Value;
use sha2::{Digest, Sha256};
use sqlx::PgConnection;

use crate::error::EscrowError;

/// Whether a call is new or a replay.
#[derive(Debug, Clone, PartialEq)]
pub enum Claim {
    /// First use of the key: do the work, then [`record`] the answer.
    Fresh,
    /// The key answered this body before: send the stored answer.
    Replay(Value),
}

/// A hash of the method and the body, independent of key order.
pub fn request_hash(method: &str, body: &Value) -> Vec<u8> {
    let mut hasher = Sha256::new();
    hasher.update(method.as_bytes());
    hasher.update([0u8]);
    hasher.update(canonical(body).as_bytes());
    hasher.finalize().to_vec()
}

/// JSON with object keys sorted, so equal bodies serialize equally.
fn canonical(value: &Value) -> String {
    match value {
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            let fields: Vec<String> = keys
                .into_iter()
                .map(|key| format!("{}:{}", Value::String(key.clone()), canonical(&map[key])))
                .collect();
            format!("{{{}}}", fields.join(","))
        }
        Value::Array(items) => {
            format!(
                "[{}]",
                items.iter().map(canonical).collect::<Vec<_>>().join(",")
            )
        }
        other => other.to_string(),
    }
}

/// Claims `key` for `caller` in the caller's transaction.
pub async fn claim(
    conn: &mut PgConnection,
    caller: &str,
    key: &str,
    method: &str,
    hash: &[u8],
    at: DateTime<Utc>,
) -> Result<Claim, EscrowError> {
    let inserted = sqlx::query!(
        "INSERT INTO escrow.idempotency_key (caller, key, method, request_hash, created_at)
         VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING",
        caller,
        key,
        method,
        hash,
        at,
    )
    .execute(&mut *conn)
    .await?;
    if inserted.rows_affected() == 1 {
        return Ok(Claim::Fresh);
    }
    let stored = sqlx::query!(
        "SELECT request_hash, response FROM escrow.idempotency_key WHERE caller = $1 AND key = $2",
        caller,
        key,
    )
    .fetch_one(&mut *conn)
    .await?;
    match stored.response {
        Some(response) if stored.request_hash == hash => Ok(Claim::Replay(response)),
        _ => Err(EscrowError::method(
            "IdempotencyConflict",
            "this idempotency key was already used with a different request",
        )),
    }
}

/// Stores the answer of a fresh claim, in the same transaction.
pub async fn record(
    conn: &mut PgConnection,
    caller: &str,
    key: &str,
    response: &Value,
) -> Result<(), EscrowError> {
    sqlx::query!(
        "UPDATE escrow.idempotency_key SET response = $3 WHERE caller = $1 AND key = $2",
        caller,
        key,
        response,
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// Looks `key` up without claiming it: the stored answer when this body was answered before,
/// `None` when the key is unused (or its first call is still running).
pub async fn lookup(
    conn: &mut PgConnection,
    caller: &str,
    key: &str,
    hash: &[u8],
) -> Result<Option<Value>, EscrowError> {
    let stored = sqlx::query!(
        "SELECT request_hash, response FROM escrow.idempotency_key WHERE caller = $1 AND key = $2",
        caller,
        key,
    )
    .fetch_optional(conn)
    .await?
    .map(|row| (row.request_hash, row.response));
    match stored {
        None | Some((_, None)) => Ok(None),
        Some((stored_hash, Some(response))) if stored_hash == hash => Ok(Some(response)),
        Some(_) => Err(EscrowError::method(
            "IdempotencyConflict",
            "this idempotency key was already used with a different request",
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_hash_ignores_key_order_but_not_values_or_method() {
        let a = serde_json::json!({"amount": 5, "proposal": {"uri": "u", "cid": "c"}});
        let b = serde_json::json!({"proposal": {"cid": "c", "uri": "u"}, "amount": 5});
        let c = serde_json::json!({"proposal": {"cid": "c", "uri": "u"}, "amount": 6});
        assert_eq!(request_hash("m", &a), request_hash("m", &b));
        assert_ne!(request_hash("m", &a), request_hash("m", &c));
        assert_ne!(request_hash("m", &a), request_hash("n", &a));
    }
}
