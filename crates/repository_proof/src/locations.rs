//! Where a project's proof files are: raw-file URLs of the repository's default branch on
//! its forge, and the website's `/.well-known/greenlight`.

use url::Url;

/// The files looked for at the root of the repository's default branch: our own file, and
/// GitHub's funding-file convention (also read by Forgejo), whose `custom` entry may link the
/// project's Greenlight page.
pub const REPOSITORY_FILES: [&str; 4] = [
    ".greenlight",
    ".github/FUNDING.yml",
    ".forgejo/FUNDING.yml",
    "FUNDING.yml",
];

/// The file looked for on the website.
pub const WEBSITE_FILE: &str = "/.well-known/greenlight";

/// Longest address the lexicon's `proofCheck.proofUrl` holds.
const MAX_URL: usize = 2048;

/// Which of a project's places a proof location belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Place {
    /// The `repository` of the project record.
    Repository,
    /// The `website` of the project record.
    Website,
}

impl Place {
    /// The lexicon's name for it (`proofCheck.place`).
    pub fn as_str(self) -> &'static str {
        match self {
            Place::Repository => "repository",
            Place::Website => "website",
        }
    }
}

/// A family of forges sharing one raw-file URL layout.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Forge {
    /// github.com: files on raw.githubusercontent.com.
    GitHub,
    /// gitlab.com and hosts named `gitlab.*`: `<repo>/-/raw/HEAD/<file>`.
    GitLab,
    /// Codeberg, Forgejo, Gitea, and every other host: `<repo>/raw/branch/HEAD/<file>`.
    Gitea,
}

/// A repository address understood well enough to find files in it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Repository {
    /// The forge family its host belongs to.
    pub forge: Forge,
    /// `scheme://host[:port]/owner/name` (GitLab: with every group), without a trailing `/`
    /// or `.git`.
    pub url: String,
}

/// Where to look, or why a place cannot be looked at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// Fetch this location.
    Fetch,
    /// The place cannot be checked; the reason is for people.
    Unsupported(String),
}

/// One proof location of a project.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Location {
    /// The place it belongs to.
    pub place: Place,
    /// The exact address to fetch (or, when unsupported, the place's own address).
    pub proof_url: String,
    /// Whether it is fetched.
    pub target: Target,
}

/// Why a repository address is not one we can find files in.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RepositoryError {
    /// Not an absolute http(s) URL with a host.
    #[error("the repository is not an http(s) address")]
    NotHttp,
    /// The path does not name an owner and a repository.
    #[error("the repository address does not name an owner and a repository")]
    NoRepositoryPath,
}

/// Parses a repository address and recognises its forge.
pub fn parse_repository(repository: &str) -> Result<Repository, RepositoryError> {
    let url = Url::parse(repository.trim()).map_err(|_| RepositoryError::NotHttp)?;
    if !matches!(url.scheme(), "https" | "http") {
        return Err(RepositoryError::NotHttp);
    }
    let host = url
        .host_str()
        .ok_or(RepositoryError::NotHttp)?
        .to_ascii_lowercase();
    let mut segments: Vec<&str> = url
        .path_segments()
        .map(|s| s.filter(|s| !s.is_empty()).collect())
        .unwrap_or_default();
    if let Some(last) = segments.last_mut() {
        *last = last.strip_suffix(".git").unwrap_or(last);
    }
    segments.retain(|s| !s.is_empty());
    let forge = if host == "github.com" || host == "www.github.com" {
        Forge::GitHub
    } else if host.starts_with("gitlab.") {
        Forge::GitLab
    } else {
        Forge::Gitea
    };
    let segments: Vec<&str> = match forge {
        // GitHub and Gitea-like forges have exactly owner/name; anything after it (a
        // `/tree/main` someone pasted) names a view of the repository, not another one.
        Forge::GitHub | Forge::Gitea => segments.into_iter().take(2).collect(),
        // GitLab nests groups; its views all start at `/-/`.
        Forge::GitLab => segments.into_iter().take_while(|s| *s != "-").collect(),
    };
    if segments.len() < 2 {
        return Err(RepositoryError::NoRepositoryPath);
    }
    let authority = match url.port() {
        Some(port) => format!("{host}:{port}"),
        None => host,
    };
    let path = segments.join("/");
    let url = match forge {
        Forge::GitHub => format!("https://github.com/{path}"),
        _ => format!("{}://{authority}/{path}", url.scheme()),
    };
    Ok(Repository { forge, url })
}

impl Repository {
    /// The raw-file URL of `file` on the default branch.
    pub fn raw_url(&self, file: &str) -> String {
        match self.forge {
            Forge::GitHub => {
                let path = self
                    .url
                    .strip_prefix("https://github.com/")
                    .unwrap_or(&self.url);
                format!("https://raw.githubusercontent.com/{path}/HEAD/{file}")
            }
            Forge::GitLab => format!("{}/-/raw/HEAD/{file}", self.url),
            // Forgejo and Gitea name the default branch `HEAD` under /raw/branch/; unlike the
            // legacy `/raw/<path>` form this cannot mistake a branch called `.github` for the
            // start of the path, and it answers without a redirect.
            Forge::Gitea => format!("{}/raw/branch/HEAD/{file}", self.url),
        }
    }
}

/// The website's proof location: `<origin>/.well-known/greenlight`.
pub fn website_proof_url(website: &str) -> Result<String, RepositoryError> {
    let url = Url::parse(website.trim()).map_err(|_| RepositoryError::NotHttp)?;
    if !matches!(url.scheme(), "https" | "http") || url.host_str().is_none() {
        return Err(RepositoryError::NotHttp);
    }
    Ok(format!(
        "{}{WEBSITE_FILE}",
        url.origin().ascii_serialization()
    ))
}

fn unsupported(place: Place, address: &str, why: String) -> Location {
    let mut proof_url: String = address.trim().to_owned();
    if proof_url.len() > MAX_URL {
        let mut end = MAX_URL;
        while !proof_url.is_char_boundary(end) {
            end -= 1;
        }
        proof_url.truncate(end);
    }
    Location {
        place,
        proof_url,
        target: Target::Unsupported(why),
    }
}

fn fetch(place: Place, address: &str, proof_url: String) -> Location {
    if proof_url.len() > MAX_URL {
        return unsupported(place, address, "the address is too long".to_owned());
    }
    Location {
        place,
        proof_url,
        target: Target::Fetch,
    }
}

/// Every proof location of a project with this repository and website.
pub fn locations(repository: &str, website: Option<&str>) -> Vec<Location> {
    let mut out = Vec::new();
    match parse_repository(repository) {
        Ok(repo) => {
            for file in REPOSITORY_FILES {
                out.push(fetch(Place::Repository, repository, repo.raw_url(file)));
            }
        }
        Err(error) => out.push(unsupported(
            Place::Repository,
            repository,
            error.to_string(),
        )),
    }
    if let Some(website) = website.filter(|w| !w.trim().is_empty()) {
        match website_proof_url(website) {
            Ok(url) => out.push(fetch(Place::Website, website, url)),
            Err(_) => out.push(unsupported(
                Place::Website,
                website,
                "the website is not an http(s) address".to_owned(),
            )),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn urls(repository: &str) -> Vec<String> {
        locations(repository, None)
            .into_iter()
            .map(|l| {
                assert_eq!(l.target, Target::Fetch, "{repository}");
                l.proof_url
            })
            .collect()
    }

    #[test]
    fn github_repositories_map_to_raw_githubusercontent() {
        let expected = vec![
            "https://raw.githubusercontent.com/o/r/HEAD/.greenlight",
            "https://raw.githubusercontent.com/o/r/HEAD/.github/FUNDING.yml",
            "https://raw.githubusercontent.com/o/r/HEAD/.forgejo/FUNDING.yml",
            "https://raw.githubusercontent.com/o/r/HEAD/FUNDING.yml",
        ];
        for repository in [
            "https://github.com/o/r",
            "https://github.com/o/r/",
            "https://github.com/o/r.git",
            "https://github.com/o/r.git/",
            "https://GitHub.com/o/r",
            "https://www.github.com/o/r",
            "https://github.com/o/r/tree/main/src",
            " https://github.com/o/r ",
        ] {
            assert_eq!(urls(repository), expected, "{repository}");
        }
        assert_eq!(
            parse_repository("https://github.com/o/r.git").unwrap(),
            Repository {
                forge: Forge::GitHub,
                url: "https://github.com/o/r".into()
            }
        );
    }

    #[test]
    fn gitlab_repositories_keep_their_groups_and_use_dash_raw() {
        assert_eq!(
            urls("https://gitlab.com/group/sub/r.git")[0],
            "https://gitlab.com/group/sub/r/-/raw/HEAD/.greenlight"
        );
        assert_eq!(
            urls("https://gitlab.gnome.org/GNOME/gtk/-/tree/main")[3],
            "https://gitlab.gnome.org/GNOME/gtk/-/raw/HEAD/FUNDING.yml"
        );
        assert_eq!(
            parse_repository("https://gitlab.example.org/a/b/")
                .unwrap()
                .forge,
            Forge::GitLab
        );
    }

    #[test]
    fn codeberg_forgejo_gitea_and_other_hosts_use_raw_branch_head() {
        assert_eq!(
            urls("https://codeberg.org/forgejo/forgejo.git/"),
            vec![
                "https://codeberg.org/forgejo/forgejo/raw/branch/HEAD/.greenlight",
                "https://codeberg.org/forgejo/forgejo/raw/branch/HEAD/.github/FUNDING.yml",
                "https://codeberg.org/forgejo/forgejo/raw/branch/HEAD/.forgejo/FUNDING.yml",
                "https://codeberg.org/forgejo/forgejo/raw/branch/HEAD/FUNDING.yml",
            ]
        );
        // Self-hosted, with a port: the port is kept, the scheme too (the fetcher decides
        // whether plain http may be fetched).
        assert_eq!(
            urls("http://127.0.0.1:3000/me/tool")[0],
            "http://127.0.0.1:3000/me/tool/raw/branch/HEAD/.greenlight"
        );
        assert_eq!(
            parse_repository("https://git.example.net/me/tool")
                .unwrap()
                .forge,
            Forge::Gitea
        );
    }

    #[test]
    fn unusable_repositories_are_one_unsupported_location() {
        for repository in [
            "https://github.com/onlyowner",
            "https://example.com/",
            "ftp://example.com/o/r",
            "git@github.com:o/r.git",
            "",
        ] {
            let found = locations(repository, None);
            assert_eq!(found.len(), 1, "{repository}");
            assert_eq!(found[0].place, Place::Repository);
            assert!(
                matches!(found[0].target, Target::Unsupported(_)),
                "{repository}"
            );
        }
    }

    #[test]
    fn the_website_is_checked_at_its_origins_well_known_file() {
        let found = locations(
            "https://github.com/o/r",
            Some("https://Example.com:8443/docs/index.html?x=1"),
        );
        assert_eq!(found.len(), 5);
        assert_eq!(
            found[4],
            Location {
                place: Place::Website,
                proof_url: "https://example.com:8443/.well-known/greenlight".into(),
                target: Target::Fetch,
            }
        );
        let found = locations("https://github.com/o/r", Some("mailto:me@example.com"));
        assert!(matches!(found[4].target, Target::Unsupported(_)));
        assert_eq!(locations("https://github.com/o/r", Some("  ")).len(), 4);
    }

    #[test]
    fn proof_urls_never_exceed_the_lexicon_limit() {
        let long = format!("https://codeberg.org/o/{}", "r".repeat(2040));
        let found = locations(&long, None);
        assert!(found.iter().all(|l| l.proof_url.len() <= MAX_URL));
        assert!(found
            .iter()
            .all(|l| matches!(l.target, Target::Unsupported(_))));
    }
}
