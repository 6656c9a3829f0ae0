//! Where atrium-oauth keeps pending authorizations and sessions: Postgres, sealed.

use atrium_api::types::string::Did;
use atrium_common::store::Store;
use atrium_oauth::store::session::{Session, SessionStore};
use atrium_oauth::store::state::{InternalStateData, StateStore};
use sqlx::PgPool;

use super::seal::{SealError, Sealer};

/// How long a started sign-in may take before its state is refused and swept.
pub const STATE_LIFETIME_MINUTES: i32 = 15;

/// A store failure (atrium wraps it in its own error).
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database failed.
    #[error("database: {0}")]
    Database(#[from] sqlx::Error),
    /// A row did not open.
    #[error(transparent)]
    Seal(#[from] SealError),
}

/// Pending authorizations (`appview.oauth_state`), single use and short-lived.
#[derive(Clone, Debug)]
pub struct PgStateStore {
    pub(crate) pool: PgPool,
    pub(crate) sealer: Sealer,
}

fn state_purpose(key: &str) -> String {
    format!("oauth_state:{key}")
}

fn session_purpose(did: &str) -> String {
    format!("oauth_session:{did}")
}

impl PgStateStore {
    /// The pending authorization `key`, if it exists and has not expired; it stays (the
    /// callback checks it against the browser before atrium consumes it).
    pub async fn peek(&self, key: &str) -> Result<Option<InternalStateData>, StoreError> {
        let row = sqlx::query!(
            "SELECT sealed FROM appview.oauth_state
             WHERE state = $1 AND created_at > now() - make_interval(mins => $2)",
            key,
            STATE_LIFETIME_MINUTES,
        )
        .fetch_optional(&self.pool)
        .await?;
        row.map(|row| self.sealer.open(&state_purpose(key), &row.sealed))
            .transpose()
            .map_err(StoreError::from)
    }
}

impl Store<String, InternalStateData> for PgStateStore {
    type Error = StoreError;

    async fn get(&self, key: &String) -> Result<Option<InternalStateData>, StoreError> {
        self.peek(key).await
    }

    async fn set(&self, key: String, value: InternalStateData) -> Result<(), StoreError> {
        let sealed = self.sealer.seal(&state_purpose(&key), &value)?;
        // Sweeping on write keeps the table to the sign-ins in progress.
        sqlx::query!(
            "DELETE FROM appview.oauth_state WHERE created_at < now() - make_interval(mins => $1)",
            STATE_LIFETIME_MINUTES,
        )
        .execute(&self.pool)
        .await?;
        sqlx::query!(
            "INSERT INTO appview.oauth_state (state, sealed) VALUES ($1, $2)
             ON CONFLICT (state) DO UPDATE SET sealed = EXCLUDED.sealed, created_at = now()",
            key,
            sealed,
        )
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn del(&self, key: &String) -> Result<(), StoreError> {
        sqlx::query!("DELETE FROM appview.oauth_state WHERE state = $1", key)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn clear(&self) -> Result<(), StoreError> {
        sqlx::query!("DELETE FROM appview.oauth_state")
            .execute(&self.pool)
            .await?;
        Ok(())
    }
}

impl StateStore for PgStateStore {}

/// OAuth sessions (`appview.oauth_session`): one per signed-in account, shared by its
/// browsers, refreshed by atrium as tokens expire.
#[derive(Clone, Debug)]
pub struct PgSessionStore {
    pub(crate) pool: PgPool,
    pub(crate) sealer: Sealer,
}

impl Store<Did, Session> for PgSessionStore {
    type Error = StoreError;

    async fn get(&self, did: &Did) -> Result<Option<Session>, StoreError> {
        let row = sqlx::query!(
            "SELECT sealed FROM appview.oauth_session WHERE did = $1",
            did.as_str(),
        )
        .fetch_optional(&self.pool)
        .await?;
        row.map(|row| {
            self.sealer
                .open(&session_purpose(did.as_str()), &row.sealed)
        })
        .transpose()
        .map_err(StoreError::from)
    }

    async fn set(&self, did: Did, value: Session) -> Result<(), StoreError> {
        let sealed = self.sealer.seal(&session_purpose(did.as_str()), &value)?;
        sqlx::query!(
            "INSERT INTO appview.oauth_session (did, sealed) VALUES ($1, $2)
             ON CONFLICT (did) DO UPDATE SET sealed = EXCLUDED.sealed, updated_at = now()",
            did.as_str(),
            sealed,
        )
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn del(&self, did: &Did) -> Result<(), StoreError> {
        sqlx::query!(
            "DELETE FROM appview.oauth_session WHERE did = $1",
            did.as_str()
        )
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn clear(&self) -> Result<(), StoreError> {
        sqlx::query!("DELETE FROM appview.oauth_session")
            .execute(&self.pool)
            .await?;
        Ok(())
    }
}

impl SessionStore for PgSessionStore {}
