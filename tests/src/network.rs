//! A real local atproto network for end-to-end tests: Bluesky's reference PDS and a
//! did:plc directory, run by `tests/reference/network.mjs` under Node ≥ 22 (DESIGN §7).
//!
//! Each [`TestNetwork`] is its own Node process with its own loopback ports and data
//! folder, so tests may start several at once. The process watches its stdin and stops
//! when it closes, so even a test binary killed with SIGKILL leaves nothing running.
//!
//! Node comes from [`crate::node`].

use std::collections::VecDeque;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{anyhow, bail, Context, Result};
use serde::Deserialize;
use serde_json::{json, Value};
use tokio::io::{AsyncBufReadExt, AsyncRead, BufReader};
use tokio::process::{Child, ChildStdin, Command};
use tokio::task::JoinHandle;

/// How long the network may take to answer after Node starts (a cold start takes ~3 s;
/// a machine busy compiling can be far slower).
const READY_TIMEOUT: Duration = Duration::from_secs(90);
/// How long a clean shutdown may take before the process is killed.
const STOP_TIMEOUT: Duration = Duration::from_secs(15);
/// How many of the process's most recent log lines are kept for error reports.
const LOG_TAIL_LINES: usize = 300;
/// The longest first label the PDS accepts for a handle under a service domain.
const MAX_HANDLE_LABEL: usize = 18;

/// A running local PLC directory and PDS, stopped when dropped or by [`TestNetwork::stop`].
#[derive(Debug)]
pub struct TestNetwork {
    // Declared first so it drops (and is killed) before `data_dir` is removed.
    child: Child,
    stdin: Option<ChildStdin>,
    data_dir: tempfile::TempDir,
    plc_url: String,
    pds_url: String,
    pds_did: Option<String>,
    http: reqwest::Client,
    logs: LogTail,
    accounts_created: AtomicU32,
}

/// An account created on the test PDS, with a live session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Account {
    /// The account's `did:plc`, registered in the local PLC directory.
    pub did: String,
    /// The account's handle, under `.test`.
    pub handle: String,
    /// A session access token for authenticated XRPC calls.
    pub access_jwt: String,
    /// The session refresh token.
    pub refresh_jwt: String,
    /// The account password.
    pub password: String,
}

/// Where a written record lives: its `at://` URI and the CID of the version written.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct RecordRef {
    /// `at://DID/COLLECTION/RKEY`.
    pub uri: String,
    /// The CID of the record block.
    pub cid: String,
}

/// A record read back from the PDS.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct Record {
    /// `at://DID/COLLECTION/RKEY`.
    pub uri: String,
    /// The CID of the current version.
    pub cid: Option<String>,
    /// The record in atproto JSON form.
    pub value: Value,
}

impl RecordRef {
    /// The record key: the last segment of the URI.
    pub fn rkey(&self) -> &str {
        self.uri.rsplit('/').next().unwrap_or_default()
    }

    /// The collection NSID: the second-to-last segment of the URI.
    pub fn collection(&self) -> &str {
        self.uri.rsplit('/').nth(1).unwrap_or_default()
    }
}

/// The JSON line `network.mjs` prints once both services answer.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct ReadyLine {
    plc_url: String,
    pds_url: String,
    pds_did: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct SessionResponse {
    did: String,
    handle: String,
    access_jwt: String,
    refresh_jwt: String,
}

impl TestNetwork {
    /// Starts a fresh PLC directory and PDS on free loopback ports and waits until both answer.
    pub async fn start() -> Result<TestNetwork> {
        let node = crate::node::node_binary()?;
        let script = repo_root().join("tests/reference/network.mjs");
        let data_dir = tempfile::Builder::new()
            .prefix("greenlight-network-")
            .tempdir()
            .context("creating the network's data folder")?;

        let mut child = Command::new(&node)
            .arg(&script)
            .arg("--data-dir")
            .arg(data_dir.path())
            .current_dir(script.parent().unwrap_or_else(|| Path::new(".")))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .with_context(|| format!("spawning {} {}", node.display(), script.display()))?;

        let logs = LogTail::default();
        let stdin = child.stdin.take();
        let stdout = child.stdout.take().context("child stdout was not piped")?;
        let stderr = child.stderr.take().context("child stderr was not piped")?;
        let stderr_task = logs.follow(stderr, "stderr");
        let mut stdout_lines = BufReader::new(stdout).lines();

        let ready = match tokio::time::timeout(READY_TIMEOUT, stdout_lines.next_line()).await {
            Ok(Ok(Some(line))) => serde_json::from_str::<ReadyLine>(&line)
                .with_context(|| format!("unexpected first line from network.mjs: {line:?}")),
            Ok(Ok(None)) => Err(anyhow!("network.mjs exited before it was ready")),
            Ok(Err(err)) => Err(anyhow!(err).context("reading network.mjs stdout")),
            Err(_) => Err(anyhow!(
                "network.mjs was not ready within {}s",
                READY_TIMEOUT.as_secs()
            )),
        };
        let ready = match ready {
            Ok(ready) => ready,
            Err(err) => {
                let status = stop_child(&mut child, Duration::from_secs(5)).await;
                // The process is gone, so its stderr reaches EOF; wait for the last lines.
                let _ = tokio::time::timeout(Duration::from_secs(2), stderr_task).await;
                return Err(err.context(format!(
                    "starting the local atproto network with {} ({status}); its log:\n{}",
                    node.display(),
                    logs.text()
                )));
            }
        };
        // Nothing else should come on stdout, but it must stay drained and open.
        logs.follow(stdout_lines.into_inner(), "stdout");

        let http = reqwest::Client::builder()
            .no_proxy()
            .timeout(Duration::from_secs(30))
            .build()
            .context("building the HTTP client")?;
        tracing::debug!(plc = %ready.plc_url, pds = %ready.pds_url, "local atproto network ready");
        Ok(TestNetwork {
            child,
            stdin,
            data_dir,
            plc_url: ready.plc_url,
            pds_url: ready.pds_url,
            pds_did: ready.pds_did,
            http,
            logs,
            accounts_created: AtomicU32::new(0),
        })
    }

    /// The PDS base URL, e.g. `http://localhost:41234` (no trailing slash).
    pub fn pds_url(&self) -> &str {
        &self.pds_url
    }

    /// The did:plc directory base URL (no trailing slash).
    pub fn plc_url(&self) -> &str {
        &self.plc_url
    }

    /// The PDS's service DID (`did:web:localhost`), when the script reported it.
    pub fn pds_did(&self) -> Option<&str> {
        self.pds_did.as_deref()
    }

    /// The PDS firehose: `ws://…/xrpc/com.atproto.sync.subscribeRepos`.
    pub fn firehose_url(&self) -> String {
        let host = self
            .pds_url
            .strip_prefix("http://")
            .map(|rest| format!("ws://{rest}"))
            .or_else(|| {
                self.pds_url
                    .strip_prefix("https://")
                    .map(|rest| format!("wss://{rest}"))
            })
            .unwrap_or_else(|| self.pds_url.clone());
        format!("{host}/xrpc/com.atproto.sync.subscribeRepos")
    }

    /// The folder holding the PDS's databases and blobs (removed when the network goes).
    pub fn data_dir(&self) -> &Path {
        self.data_dir.path()
    }

    /// The most recent lines the network process logged, for diagnosing a failing test.
    pub fn logs(&self) -> String {
        self.logs.text()
    }

    /// Creates an account with a unique handle `<prefix><n>.test` and returns its session.
    ///
    /// The prefix is reduced to lowercase ASCII letters and digits and shortened to fit
    /// the PDS's 18-character limit on the first label.
    pub async fn create_account(&self, handle_prefix: &str) -> Result<Account> {
        let n = self.accounts_created.fetch_add(1, Ordering::Relaxed) + 1;
        let label = handle_label(handle_prefix, n);
        let handle = format!("{label}.test");
        let password = format!("pw-{label}-{}", std::process::id());
        let session: SessionResponse = self
            .post(
                "com.atproto.server.createAccount",
                None,
                &json!({
                    "handle": handle,
                    "email": format!("{label}@example.com"),
                    "password": password,
                }),
            )
            .await
            .with_context(|| format!("creating account {handle}"))
            .and_then(|body| {
                serde_json::from_value(body).context("reading the createAccount response")
            })?;
        Ok(Account {
            did: session.did,
            handle: session.handle,
            access_jwt: session.access_jwt,
            refresh_jwt: session.refresh_jwt,
            password,
        })
    }

    /// Creates a record with a server-chosen rkey (a TID) in the account's repo.
    ///
    /// A JSON object without `$type` gets `$type: collection`, as atproto requires.
    pub async fn create_record(
        &self,
        account: &Account,
        collection: &str,
        record: Value,
    ) -> Result<RecordRef> {
        let body = json!({
            "repo": account.did,
            "collection": collection,
            "record": with_type(record, collection),
        });
        let response = self
            .post(
                "com.atproto.repo.createRecord",
                Some(&account.access_jwt),
                &body,
            )
            .await
            .with_context(|| format!("creating a {collection} record for {}", account.did))?;
        serde_json::from_value(response).context("reading the createRecord response")
    }

    /// Creates or replaces the record at `collection/rkey` in the account's repo.
    pub async fn put_record(
        &self,
        account: &Account,
        collection: &str,
        rkey: &str,
        record: Value,
    ) -> Result<RecordRef> {
        let body = json!({
            "repo": account.did,
            "collection": collection,
            "rkey": rkey,
            "record": with_type(record, collection),
        });
        let response = self
            .post(
                "com.atproto.repo.putRecord",
                Some(&account.access_jwt),
                &body,
            )
            .await
            .with_context(|| format!("putting {collection}/{rkey} for {}", account.did))?;
        serde_json::from_value(response).context("reading the putRecord response")
    }

    /// Deletes the record at `collection/rkey` from the account's repo.
    pub async fn delete_record(
        &self,
        account: &Account,
        collection: &str,
        rkey: &str,
    ) -> Result<()> {
        let body = json!({
            "repo": account.did,
            "collection": collection,
            "rkey": rkey,
        });
        self.post(
            "com.atproto.repo.deleteRecord",
            Some(&account.access_jwt),
            &body,
        )
        .await
        .with_context(|| format!("deleting {collection}/{rkey} for {}", account.did))?;
        Ok(())
    }

    /// Reads a record from any repo on the PDS; `None` when it does not exist.
    pub async fn get_record(
        &self,
        repo: &str,
        collection: &str,
        rkey: &str,
    ) -> Result<Option<Record>> {
        let url = format!("{}/xrpc/com.atproto.repo.getRecord", self.pds_url);
        let request = self.http.get(&url).query(&[
            ("repo", repo),
            ("collection", collection),
            ("rkey", rkey),
        ]);
        match send(request).await {
            Ok(body) => serde_json::from_value(body)
                .map(Some)
                .context("reading the getRecord response"),
            Err(XrpcFailure::Status { error, .. })
                if error.as_deref() == Some("RecordNotFound") =>
            {
                Ok(None)
            }
            Err(err) => {
                Err(anyhow!(err).context(format!("getting {collection}/{rkey} from {repo}")))
            }
        }
    }

    /// Stops the network: asks the process to shut down cleanly (by closing its stdin),
    /// kills it if that takes too long, and waits for it to exit.
    pub async fn stop(mut self) -> Result<()> {
        drop(self.stdin.take());
        let status = match tokio::time::timeout(STOP_TIMEOUT, self.child.wait()).await {
            Ok(status) => status.context("waiting for the network process")?,
            Err(_) => {
                self.child
                    .kill()
                    .await
                    .context("killing the network process")?;
                bail!(
                    "the network did not stop within {}s and was killed; its log:\n{}",
                    STOP_TIMEOUT.as_secs(),
                    self.logs.text()
                );
            }
        };
        if !status.success() {
            bail!(
                "the network process exited with {status} on shutdown; its log:\n{}",
                self.logs.text()
            );
        }
        Ok(())
    }

    async fn post(&self, nsid: &str, token: Option<&str>, body: &Value) -> Result<Value> {
        let mut request = self
            .http
            .post(format!("{}/xrpc/{nsid}", self.pds_url))
            .json(body);
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        Ok(send(request).await?)
    }
}

/// Why an XRPC call failed.
#[derive(Debug)]
enum XrpcFailure {
    /// The request never got a readable response.
    Transport(reqwest::Error),
    /// The server answered with an error status.
    Status {
        status: reqwest::StatusCode,
        error: Option<String>,
        body: String,
    },
}

impl std::fmt::Display for XrpcFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            XrpcFailure::Transport(err) => write!(f, "XRPC request failed: {err}"),
            XrpcFailure::Status { status, body, .. } => write!(f, "XRPC error {status}: {body}"),
        }
    }
}

impl std::error::Error for XrpcFailure {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            XrpcFailure::Transport(err) => Some(err),
            XrpcFailure::Status { .. } => None,
        }
    }
}

async fn send(request: reqwest::RequestBuilder) -> Result<Value, XrpcFailure> {
    let response = request.send().await.map_err(XrpcFailure::Transport)?;
    let status = response.status();
    let body = response.text().await.map_err(XrpcFailure::Transport)?;
    if !status.is_success() {
        let error = serde_json::from_str::<Value>(&body)
            .ok()
            .and_then(|v| v.get("error").and_then(Value::as_str).map(str::to_owned));
        return Err(XrpcFailure::Status {
            status,
            error,
            body,
        });
    }
    if body.is_empty() {
        return Ok(Value::Null);
    }
    serde_json::from_str(&body).or(Ok(Value::String(body)))
}

fn with_type(mut record: Value, collection: &str) -> Value {
    if let Some(object) = record.as_object_mut() {
        object
            .entry("$type")
            .or_insert_with(|| Value::String(collection.to_owned()));
    }
    record
}

/// `<prefix><n>`: lowercase letters and digits, at least 3 and at most 18 characters.
fn handle_label(prefix: &str, n: u32) -> String {
    let suffix = format!("{n:02}");
    let keep = MAX_HANDLE_LABEL.saturating_sub(suffix.len());
    let mut label: String = prefix
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .map(|c| c.to_ascii_lowercase())
        .take(keep)
        .collect();
    if label.is_empty() {
        label.push_str("user");
    }
    label.push_str(&suffix);
    label
}

/// Kills the child if still running and describes how it ended.
async fn stop_child(child: &mut Child, grace: Duration) -> String {
    if let Ok(Some(status)) = child.try_wait() {
        return format!("exited with {status}");
    }
    match tokio::time::timeout(grace, child.wait()).await {
        Ok(Ok(status)) => format!("exited with {status}"),
        _ => match child.kill().await {
            Ok(()) => "killed".to_owned(),
            Err(err) => format!("could not be killed: {err}"),
        },
    }
}

/// The most recent lines a child process wrote, shared with the tasks reading them.
#[derive(Debug, Clone, Default)]
struct LogTail(Arc<Mutex<VecDeque<String>>>);

impl LogTail {
    /// Reads `stream` line by line into the tail until EOF; echoes each line to our stderr
    /// when `GREENLIGHT_NETWORK_LOG` is set.
    fn follow<R>(&self, stream: R, name: &'static str) -> JoinHandle<()>
    where
        R: AsyncRead + Unpin + Send + 'static,
    {
        let tail = self.clone();
        let echo = std::env::var_os("GREENLIGHT_NETWORK_LOG").is_some();
        tokio::spawn(async move {
            let mut lines = BufReader::new(stream).lines();
            while let Ok(Some(line)) = lines.next_line().await {
                if echo {
                    eprintln!("[network {name}] {line}");
                }
                tracing::trace!(target: "greenlight_tests::network", stream = name, "{line}");
                tail.push(line);
            }
        })
    }

    fn push(&self, line: String) {
        // A poisoned lock only means another reader panicked mid-push; the lines are intact.
        let mut lines = self.0.lock().unwrap_or_else(|poison| poison.into_inner());
        if lines.len() == LOG_TAIL_LINES {
            lines.pop_front();
        }
        lines.push_back(line);
    }

    fn text(&self) -> String {
        let lines = self.0.lock().unwrap_or_else(|poison| poison.into_inner());
        if lines.is_empty() {
            return "(no output)".to_owned();
        }
        lines
            .iter()
            .map(String::as_str)
            .collect::<Vec<_>>()
            .join("\n")
    }
}

/// The repository root, found from this crate's manifest folder.
fn repo_root() -> PathBuf {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    manifest.parent().unwrap_or(manifest).to_path_buf()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn handle_labels_fit_the_pds_limits() {
        assert_eq!(handle_label("alice", 1), "alice01");
        assert_eq!(handle_label("", 7), "user07");
        assert_eq!(handle_label("Bob_Smith!", 123), "bobsmith123");
        let long = handle_label("averyveryverylongprefixindeed", 4_000_000_000);
        assert_eq!(long.len(), MAX_HANDLE_LABEL);
        assert!(long.ends_with("4000000000"));
    }

    #[test]
    fn record_refs_split_their_uri() {
        let r = RecordRef {
            uri: "at://did:plc:abc/fund.greenlight.proposal/3kabc".to_owned(),
            cid: "bafy".to_owned(),
        };
        assert_eq!(r.rkey(), "3kabc");
        assert_eq!(r.collection(), "fund.greenlight.proposal");
    }

    #[test]
    fn records_get_their_type() {
        let typed = with_type(json!({"title": "x"}), "fund.greenlight.proposal");
        assert_eq!(typed["$type"], "fund.greenlight.proposal");
        let kept = with_type(json!({"$type": "other.thing"}), "fund.greenlight.proposal");
        assert_eq!(kept["$type"], "other.thing");
    }
}
