//! Injected failures for crash tests: named points in the payout and refund steps, and in the
//! booking of a mismatched payment, where a test (or `GREENLIGHT_ESCROW_FAILPOINTS`) makes
//! escrow fail, abort or hang.

use std::collections::HashMap;
use std::sync::Mutex;

/// What happens when an armed point is reached.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailAction {
    /// Return an error once, as if the process died there; the point then disarms.
    Error,
    /// Abort the process on the spot, as SIGKILL would.
    Abort,
    /// Stop here forever, so a test can kill the process while it sits at this point.
    Hang,
}

/// Every failure point escrow has, in the order a refund or payout reaches them. A
/// mismatched payment reaches `mismatch.*` in its webhook (booked, then committed) and the
/// `refund.*` points in the refund that returns it.
pub const POINTS: &[&str] = &[
    "mismatch.before_commit",
    "mismatch.after_commit",
    "refund.after_reserve",
    "refund.before_provider_call",
    "refund.after_provider_call",
    "refund.after_post",
    "payout.after_reserve",
    "payout.before_provider_call",
    "payout.after_provider_call",
    "payout.after_post",
    "retainer.after_charge",
    "retainer.before_payment_commit",
    "retainer.before_period_commit",
];

/// The armed failure points of one escrow instance.
#[derive(Debug, Default)]
pub struct FailPoints {
    armed: Mutex<HashMap<String, FailAction>>,
}

/// The error an armed [`FailAction::Error`] point returns.
#[derive(Debug, thiserror::Error)]
#[error("injected failure at {0}")]
pub struct InjectedFailure(pub String);

impl FailPoints {
    /// No point armed.
    pub fn none() -> FailPoints {
        FailPoints::default()
    }

    /// Reads `point=action,...` (action: error, abort, hang), e.g. from the environment.
    pub fn parse(spec: &str) -> Result<FailPoints, String> {
        let points = FailPoints::none();
        for item in spec
            .split(',')
            .map(str::trim)
            .filter(|item| !item.is_empty())
        {
            let (name, action) = item.split_once('=').unwrap_or((item, "error"));
            let action = match action {
                "error" => FailAction::Error,
                "abort" => FailAction::Abort,
                "hang" => FailAction::Hang,
                other => return Err(format!("unknown failure action {other:?}")),
            };
            if !POINTS.contains(&name) {
                return Err(format!("unknown failure point {name:?}"));
            }
            points.arm(name, action);
        }
        Ok(points)
    }

    /// Arms `point` with `action`.
    pub fn arm(&self, point: &str, action: FailAction) {
        self.lock().insert(point.to_owned(), action);
    }

    /// Called at each point: fails, aborts or hangs when armed, else returns `Ok`.
    pub async fn reached(&self, point: &str) -> Result<(), InjectedFailure> {
        let action = {
            let mut armed = self.lock();
            match armed.get(point).copied() {
                Some(FailAction::Error) => {
                    armed.remove(point);
                    Some(FailAction::Error)
                }
                other => other,
            }
        };
        match action {
            None => Ok(()),
            Some(FailAction::Error) => {
                tracing::warn!(point, "injected failure");
                Err(InjectedFailure(point.to_owned()))
            }
            Some(FailAction::Abort) => {
                tracing::warn!(point, "injected abort");
                std::process::abort();
            }
            Some(FailAction::Hang) => {
                tracing::warn!(point, "injected hang: waiting to be killed");
                eprintln!("FAILPOINT HANG {point}");
                std::future::pending::<()>().await;
                Ok(())
            }
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, FailAction>> {
        self.armed
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}
