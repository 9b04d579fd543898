//! Where the dashboard reads the registry from: the [`RegistrySource`] trait, and its
//! HTTP implementation against a real registry (`GET /api/v1/registry`,
//! `GET /api/v1/products`), with an optional bearer token for registries that need one to
//! read.

use std::future::Future;
use std::path::PathBuf;
use std::pin::Pin;
use std::time::Duration;

use reqwest::header::AUTHORIZATION;
use url::Url;

/// Largest registry answer read: 10,000 registrations are about 4 MiB of JSON.
pub const MAX_LIST_BYTES: usize = 16 * 1024 * 1024;

/// The two collections the dashboard shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Collection {
    Widgets,
    Products,
}

impl Collection {
    fn path(self) -> &'static str {
        match self {
            Collection::Widgets => "api/v1/registry",
            Collection::Products => "api/v1/products",
        }
    }
}

/// Why a list could not be read. The text reaches the page (in the "cached" banner), so it
/// names the failure but never the token.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SourceError {
    #[error("the registry is unreachable: {0}")]
    Unreachable(String),
    #[error("the registry answered HTTP {0}")]
    Status(u16),
    #[error("the registry's answer is larger than {MAX_LIST_BYTES} bytes")]
    TooLarge,
    #[error("the registry token file cannot be read: {0}")]
    Token(String),
}

pub type SourceFuture<'a> = Pin<Box<dyn Future<Output = Result<Vec<u8>, SourceError>> + Send + 'a>>;

/// Reads a collection's JSON. A trait object so that the cache can be tested against a
/// scripted source as well as a real registry.
pub trait RegistrySource: Send + Sync {
    fn fetch(&self, what: Collection) -> SourceFuture<'_>;
}

/// A registry reached over HTTP.
pub struct HttpRegistry {
    client: reqwest::Client,
    base: Url,
    /// Re-read on every request, so that a rotated Secret works without a restart.
    token_file: Option<PathBuf>,
}

impl HttpRegistry {
    /// `base` is the registry's root URL, e.g. `http://registry:8080`.
    pub fn new(
        base: Url,
        token_file: Option<PathBuf>,
        timeout: Duration,
    ) -> Result<Self, reqwest::Error> {
        let mut base = base;
        if !base.path().ends_with('/') {
            let path = format!("{}/", base.path());
            base.set_path(&path);
        }
        let client = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout)
            .redirect(reqwest::redirect::Policy::none())
            .build()?;
        Ok(HttpRegistry {
            client,
            base,
            token_file,
        })
    }

    async fn get(&self, what: Collection) -> Result<Vec<u8>, SourceError> {
        // Joining a fixed relative path onto a base ending in '/' cannot fail.
        let url = self
            .base
            .join(what.path())
            .map_err(|e| SourceError::Unreachable(e.to_string()))?;
        let mut request = self.client.get(url);
        if let Some(path) = &self.token_file {
            // A token file is a few bytes on a local or tmpfs mount: read it directly.
            let token = std::fs::read_to_string(path)
                .map_err(|e| SourceError::Token(format!("{}: {e}", path.display())))?;
            request = request.header(AUTHORIZATION, format!("Bearer {}", token.trim()));
        }
        let mut response = request
            .send()
            .await
            .map_err(|e| SourceError::Unreachable(without_url(&e)))?;
        if !response.status().is_success() {
            return Err(SourceError::Status(response.status().as_u16()));
        }
        let mut body = Vec::new();
        while let Some(chunk) = response
            .chunk()
            .await
            .map_err(|e| SourceError::Unreachable(without_url(&e)))?
        {
            if body.len() + chunk.len() > MAX_LIST_BYTES {
                return Err(SourceError::TooLarge);
            }
            body.extend_from_slice(&chunk);
        }
        Ok(body)
    }
}

impl RegistrySource for HttpRegistry {
    fn fetch(&self, what: Collection) -> SourceFuture<'_> {
        Box::pin(self.get(what))
    }
}

/// reqwest's message, without the URL it appends (the page needs the reason, not where
/// the registry lives).
fn without_url(e: &reqwest::Error) -> String {
    let kind = if e.is_timeout() {
        "timed out"
    } else if e.is_connect() {
        "connection failed"
    } else if e.is_body() || e.is_decode() {
        "the answer was cut short"
    } else {
        "request failed"
    };
    kind.to_owned()
}
