//! The `dashboard` binary: `serve` parses its flags, starts the refresher, binds, serves
//! and waits for a signal; everything else is in the library.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, bail};
use axum::http::HeaderValue;
use clap::{Args, Parser, Subcommand};
use dashboard::bundle::{Bundles, Limits};
use dashboard::egress::{Policy, Rule};
use dashboard::listing::Listing;
use dashboard::source::HttpRegistry;
use dashboard::{AppState, app};
use tokio::sync::watch;
use url::Url;

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(name = "dashboard", version, about = "DappMesh dashboard")]
struct Cli {
    /// Log level: error, warn, info, debug or trace.
    #[arg(long, global = true, env = "DASHBOARD_LOG", default_value = "info")]
    log_level: tracing::Level,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the page and its backend.
    Serve(ServeArgs),
}

#[derive(Args)]
struct ServeArgs {
    /// Address to listen on (port 0: any free port; the bound address is printed on stdout).
    #[arg(long, env = "DASHBOARD_LISTEN", conflicts_with = "port")]
    listen: Option<SocketAddr>,
    /// Port to listen on, on all addresses, when --listen is not given.
    #[arg(long, env = "PORT", default_value_t = 8080)]
    port: u16,
    /// The registry's base URL, e.g. http://registry.dappmesh:8080.
    #[arg(long, env = "REGISTRY_URL")]
    registry_url: Url,
    /// A file holding a bearer token for reading the registry (when it runs with
    /// --read-access token); re-read on every refresh.
    #[arg(long, env = "REGISTRY_TOKEN_FILE")]
    registry_token_file: Option<PathBuf>,
    /// How often the registry lists are read.
    #[arg(long, env = "DASHBOARD_REFRESH", default_value = "3s", value_parser = humantime::parse_duration)]
    refresh: Duration,
    /// When the registry sends no TTL (an idea-lab registry), a widget is stale this long
    /// after its last heartbeat; the same as the registry's default --ttl.
    #[arg(long, env = "DASHBOARD_STALE_AFTER", default_value = "15s", value_parser = humantime::parse_duration)]
    stale_after: Duration,
    /// Origins widgets may read data from (CSP connect-src), e.g. https://tracker.example;
    /// repeat or separate with ','.
    #[arg(
        long = "connect-src",
        env = "DASHBOARD_CONNECT_SRC",
        value_delimiter = ','
    )]
    connect_src: Vec<String>,
    /// Largest widget bundle the proxy fetches, in bytes.
    #[arg(long, env = "DASHBOARD_MAX_BUNDLE_BYTES", default_value_t = 2 * 1024 * 1024)]
    max_bundle_bytes: usize,
    /// Most bytes of bundles kept in memory.
    #[arg(long, env = "DASHBOARD_BUNDLE_CACHE_BYTES", default_value_t = 16 * 1024 * 1024)]
    bundle_cache_bytes: usize,
    /// How long a fetched bundle is served before it is fetched again.
    #[arg(long, env = "DASHBOARD_BUNDLE_TTL", default_value = "60s", value_parser = humantime::parse_duration)]
    bundle_ttl: Duration,
    /// What the bundle proxy may reach beyond public addresses: a CIDR block (every address
    /// inside it, even loopback) or a host pattern, `exact.host` or `*.suffix` (those hosts
    /// may resolve to private addresses, never to loopback, link-local or metadata ones);
    /// repeat or separate with ','.
    #[arg(
        long = "bundle-allow",
        env = "DASHBOARD_BUNDLE_ALLOW",
        value_delimiter = ',',
        value_parser = parse_rule
    )]
    bundle_allow: Vec<Option<Rule>>,
    /// Time limit of one request to the registry or to a widget host.
    #[arg(long, env = "DASHBOARD_UPSTREAM_TIMEOUT", default_value = "5s", value_parser = humantime::parse_duration)]
    upstream_timeout: Duration,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    dappmesh_service::startup::init(cli.log_level);
    let Command::Serve(args) = cli.command;
    match serve(args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!("{e:#}");
            ExitCode::FAILURE
        }
    }
}

/// One `--bundle-allow` entry; an empty one (a trailing ',') is no entry.
fn parse_rule(entry: &str) -> Result<Option<Rule>, String> {
    if entry.trim().is_empty() {
        return Ok(None);
    }
    entry.parse().map(Some)
}

/// A CSP source for connect-src: an origin, nothing that widens or breaks the policy.
fn check_origin(origin: &str) -> anyhow::Result<String> {
    let url = Url::parse(origin).with_context(|| format!("--connect-src {origin}"))?;
    if !matches!(url.scheme(), "http" | "https") || url.host().is_none() {
        bail!("--connect-src {origin}: must be an http(s) origin");
    }
    Ok(url.origin().ascii_serialization())
}

fn serve(args: ServeArgs) -> anyhow::Result<()> {
    if !matches!(args.registry_url.scheme(), "http" | "https") {
        bail!("--registry-url must be http or https");
    }
    if args.refresh < Duration::from_millis(100) {
        bail!("--refresh must be at least 100ms");
    }
    let connect_src = args
        .connect_src
        .iter()
        .filter(|o| !o.trim().is_empty())
        .map(|o| check_origin(o.trim()))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let csp = HeaderValue::from_str(&dashboard::page::content_security_policy(&connect_src))
        .context("building the Content-Security-Policy")?;
    let source = HttpRegistry::new(
        args.registry_url.clone(),
        args.registry_token_file.clone(),
        args.upstream_timeout,
    )
    .context("building the registry client")?;
    let policy = Policy::new(args.bundle_allow.iter().flatten().cloned().collect());
    let bundle_allow = policy.to_string();
    let bundles = Arc::new(
        Bundles::new(
            Limits {
                max_bundle_bytes: args.max_bundle_bytes,
                cache_bytes: args.bundle_cache_bytes,
                cache_ttl: args.bundle_ttl,
                timeout: args.upstream_timeout,
            },
            policy,
        )
        .context("building the bundle client")?,
    );
    let listing = Arc::new(Listing::new(
        Arc::new(source),
        args.stale_after,
        Arc::clone(&bundles),
    ));
    let state = AppState {
        listing: Arc::clone(&listing),
        bundles,
        csp,
    };
    let addr = args
        .listen
        .unwrap_or_else(|| SocketAddr::from(([0, 0, 0, 0], args.port)));
    // One thread: the work is a few small requests and a refresh every few seconds, and
    // each extra runtime thread costs resident memory.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the runtime")?;
    runtime.block_on(async move {
        let signal = dappmesh_service::shutdown::signal();
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .with_context(|| format!("binding {addr}"))?;
        let bound = listener.local_addr()?;
        println!("dashboard listening on http://{bound}");
        tracing::info!(%bound, registry = %args.registry_url, %bundle_allow, "serving");
        let (stop_tx, stop_rx) = watch::channel(false);
        let refresher = tokio::spawn(listing.run(args.refresh, stop_rx));
        axum::serve(listener, app(state))
            .with_graceful_shutdown(async move {
                signal.await;
                let _ = stop_tx.send(true);
            })
            .await
            .context("serving")?;
        let _ = refresher.await;
        Ok(())
    })
}
