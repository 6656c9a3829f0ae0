//! A stand-in for a code forge, for the demo and the end-to-end tests: nothing here can reach
//! GitHub or Codeberg, so repositories live on this loopback server, which answers raw-file
//! requests in the layout Forgejo, Gitea and Codeberg use for a default branch
//! (`/<owner>/<repo>/raw/branch/HEAD/<path>`) from files in a directory. It exists so that a
//! project can publish the proof of its repository (`.greenlight`) and the AppView can fetch
//! it exactly as it would from a real forge.

use std::net::SocketAddr;
use std::path::{Component, Path, PathBuf};

use axum::extract::{Path as UrlPath, State};
use axum::http::StatusCode;
use axum::routing::get;
use axum::Router;

use crate::error::CliError;

/// A forge stand-in serving the files under `root`.
#[derive(Debug, Clone)]
pub struct DemoForge {
    root: PathBuf,
    base_url: String,
}

impl DemoForge {
    /// A forge over `root` (created if missing) that is reached at `base_url`.
    pub fn new(root: impl Into<PathBuf>, base_url: &str) -> Result<DemoForge, CliError> {
        let root = root.into();
        std::fs::create_dir_all(&root)
            .map_err(|error| CliError::InvalidArgument(format!("forge directory: {error}")))?;
        Ok(DemoForge {
            root,
            base_url: base_url.trim_end_matches('/').to_owned(),
        })
    }

    /// Serves the forge on `listener` until the process ends.
    pub async fn serve(self, listener: tokio::net::TcpListener) -> std::io::Result<()> {
        let app = Router::new()
            .route("/{owner}/{repo}/raw/branch/HEAD/{*path}", get(raw_file))
            .with_state(self);
        axum::serve(listener, app).await
    }

    /// Binds a free loopback port, serves the forge there in the background and returns it.
    pub async fn start_local(root: impl Into<PathBuf>) -> Result<DemoForge, CliError> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .map_err(|error| CliError::InvalidArgument(format!("forge port: {error}")))?;
        let address: SocketAddr = listener
            .local_addr()
            .map_err(|error| CliError::InvalidArgument(format!("forge port: {error}")))?;
        let forge = DemoForge::new(root, &format!("http://{address}"))?;
        tokio::spawn(forge.clone().serve(listener));
        Ok(forge)
    }

    /// The web address of the repository `owner/repo` on this forge.
    pub fn repository_url(&self, owner: &str, repo: &str) -> String {
        format!("{}/{owner}/{repo}", self.base_url)
    }

    /// Commits `contents` to `path` on the default branch of `owner/repo`.
    pub fn publish(
        &self,
        owner: &str,
        repo: &str,
        path: &str,
        contents: &str,
    ) -> Result<(), CliError> {
        let file = self.file(owner, repo, path)?;
        if let Some(parent) = file.parent() {
            std::fs::create_dir_all(parent)
                .map_err(|error| CliError::InvalidArgument(format!("forge: {error}")))?;
        }
        std::fs::write(&file, contents)
            .map_err(|error| CliError::InvalidArgument(format!("forge: {error}")))
    }

    /// Deletes `path` from `owner/repo`; a missing file is already deleted.
    pub fn remove(&self, owner: &str, repo: &str, path: &str) -> Result<(), CliError> {
        match std::fs::remove_file(self.file(owner, repo, path)?) {
            Err(error) if error.kind() != std::io::ErrorKind::NotFound => {
                Err(CliError::InvalidArgument(format!("forge: {error}")))
            }
            _ => Ok(()),
        }
    }

    /// Publishes the proof that `owner/repo` belongs to the Greenlight project `project_uri`.
    pub fn prove(&self, owner: &str, repo: &str, project_uri: &str) -> Result<(), CliError> {
        self.publish(owner, repo, ".greenlight", &format!("{project_uri}\n"))
    }

    fn file(&self, owner: &str, repo: &str, path: &str) -> Result<PathBuf, CliError> {
        confined(&self.root, &[owner, repo, path])
            .ok_or_else(|| CliError::InvalidArgument(format!("not a file path: {path}")))
    }
}

/// `root/parts...`, or None when any part could step outside `root`.
fn confined(root: &Path, parts: &[&str]) -> Option<PathBuf> {
    let mut out = root.to_path_buf();
    for part in parts {
        for component in Path::new(part).components() {
            match component {
                Component::Normal(name) => out.push(name),
                _ => return None,
            }
        }
    }
    Some(out)
}

async fn raw_file(
    State(forge): State<DemoForge>,
    UrlPath((owner, repo, path)): UrlPath<(String, String, String)>,
) -> Result<String, StatusCode> {
    let file = confined(&forge.root, &[&owner, &repo, &path]).ok_or(StatusCode::NOT_FOUND)?;
    tokio::fs::read_to_string(file)
        .await
        .map_err(|_| StatusCode::NOT_FOUND)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn serves_published_files_in_the_forgejo_raw_layout_and_nothing_outside() {
        let dir = tempfile::tempdir().unwrap();
        let forge = DemoForge::start_local(dir.path()).await.unwrap();
        let project = "at://did:plc:ada/fund.greenlight.project/tidepool";
        forge.prove("ada", "tidepool", project).unwrap();
        let url = format!(
            "{}/raw/branch/HEAD/.greenlight",
            forge.repository_url("ada", "tidepool")
        );
        let body = reqwest::get(&url).await.unwrap().text().await.unwrap();
        assert_eq!(body.trim(), project);
        forge.remove("ada", "tidepool", ".greenlight").unwrap();
        assert_eq!(reqwest::get(&url).await.unwrap().status(), 404);
        assert!(forge.publish("ada", "..", "x", "y").is_err());
        assert!(confined(dir.path(), &["a", "../../etc/passwd"]).is_none());
    }
}
