//! The `registry` binary: `serve` runs the registry, `heartbeat` runs the widget sidecar.
//! This file parses arguments, binds, serves and waits for signals; everything else is in
//! the library.

use std::net::IpAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, bail};
use clap::{Args, Parser, Subcommand, ValueEnum};
use dappmesh_service::{server, shutdown};
use registry::auth::ReadAccess;
use registry::clock::SystemClock;
use registry::heartbeat::HeartbeatArgs;
use registry::http::app_with_metrics_apart;
use registry::http::watch::{WatcherLimits, Watchers};
use registry::keyring::Keyring;
use registry::metrics::Metrics;
use registry::state::{Limits, Registry};
use registry::store::Store;
use registry::ttl::TtlPolicy;
use registry::{AppState, app};
use tokio::sync::watch;

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

unsafe extern "C" {
    /// mimalloc's `mi_option_set` (mimalloc.h), in the library linked for the allocator;
    /// declared here because the `mimalloc` crate exposes options only through a feature
    /// that pulls in another crate.
    fn mi_option_set(option: std::ffi::c_int, value: std::ffi::c_long);
}

/// `mi_option_purge_delay` in the mimalloc.h that libmimalloc-sys 0.1.49 builds (v3).
const MI_OPTION_PURGE_DELAY: std::ffi::c_int = 15;

/// Memory freed after a crowd of clients left goes back to the OS at once. mimalloc's
/// default delays that (1 s, and 10 s for whole arenas) and then purges only when a thread
/// allocates again, so the idle worker threads kept the peak for good: 1,000 event streams
/// took RSS from 13 to 26 MiB, and it stayed at 26 MiB after they closed (15.5 MiB with
/// this setting).
fn return_freed_memory_promptly() {
    // SAFETY: sets a global option by its documented index; any value is valid for it.
    unsafe { mi_option_set(MI_OPTION_PURGE_DELAY, 0) };
}

/// Connections the metrics listener admits: Prometheus keeps one open per scraper, and a
/// few spare ones let a second scraper or a curl in; at the limit the idle one goes.
const METRICS_CONNECTIONS: usize = 8;

#[derive(Parser)]
#[command(
    name = "registry",
    version,
    about = "DappMesh service registry and its heartbeat sidecar"
)]
struct Cli {
    /// Log level: error, warn, info, debug or trace.
    #[arg(long, global = true, env = "REGISTRY_LOG", default_value = "info")]
    log_level: tracing::Level,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the registry server.
    Serve(ServeArgs),
    /// Register a service and keep it registered (the widget sidecar).
    Heartbeat(SidecarArgs),
}

#[derive(Clone, Copy, ValueEnum)]
enum Reads {
    /// Anyone may read (idea-lab's behaviour).
    Open,
    /// Reads need a token with the `read` grant.
    Token,
}

#[derive(Args)]
struct ServeArgs {
    /// Address to listen on.
    #[arg(long, env = "REGISTRY_HOST", default_value = "0.0.0.0")]
    host: IpAddr,
    /// Port to listen on (0: any free port; the bound address is printed on stdout).
    #[arg(long, env = "PORT", default_value_t = 8080)]
    port: u16,
    /// Serve /metrics on a listener of its own on this port (same address as --host), and
    /// not on --port (0: any free port, printed on stdout after the main address).
    #[arg(long, env = "REGISTRY_METRICS_PORT")]
    metrics_port: Option<u16>,
    /// Directory of the SQLite database (created if missing).
    #[arg(long, env = "REGISTRY_DATA_DIR", default_value = "data")]
    data_dir: PathBuf,
    /// File of bearer tokens and their grants (see the README for the format), or a
    /// directory of such files (a mounted Secret); repeat for more. Re-read while serving.
    #[arg(long = "tokens-file", env = "REGISTRY_TOKENS_FILE")]
    tokens_files: Vec<PathBuf>,
    /// Tokens in the same format, entries separated by ';'.
    #[arg(long, env = "REGISTRY_TOKENS", hide_env_values = true)]
    tokens: Option<String>,
    /// How often the tokens files are read again to see whether they changed.
    #[arg(long, env = "REGISTRY_TOKENS_POLL_INTERVAL", default_value = "2s", value_parser = humantime::parse_duration)]
    tokens_poll_interval: Duration,
    /// Whether reads need a token.
    #[arg(long, env = "REGISTRY_READ_ACCESS", value_enum, default_value = "open")]
    read_access: Reads,
    /// Origins allowed to call the API from a browser (CORS); repeat or separate with ','.
    #[arg(
        long = "cors-origin",
        env = "REGISTRY_CORS_ORIGINS",
        value_delimiter = ','
    )]
    cors_origins: Vec<String>,
    /// TTL of a registration that asks for none: stale after this long without a heartbeat.
    #[arg(long, env = "REGISTRY_TTL", default_value = "15s", value_parser = humantime::parse_duration)]
    ttl: Duration,
    /// Shortest TTL a registration may ask for (ttlSeconds).
    #[arg(long, env = "REGISTRY_MIN_TTL", default_value = "1s", value_parser = humantime::parse_duration)]
    min_ttl: Duration,
    /// Longest TTL a registration may ask for.
    #[arg(long, env = "REGISTRY_MAX_TTL", default_value = "24h", value_parser = humantime::parse_duration)]
    max_ttl: Duration,
    /// How long a stale registration stays listed before it is evicted.
    #[arg(long, env = "REGISTRY_GRACE", default_value = "5m", value_parser = humantime::parse_duration)]
    grace: Duration,
    /// How often to look for stale and expired registrations.
    #[arg(long, env = "REGISTRY_SWEEP_INTERVAL", default_value = "1s", value_parser = humantime::parse_duration)]
    sweep_interval: Duration,
    #[arg(long, env = "REGISTRY_MAX_REGISTRATIONS", default_value_t = 10_000)]
    max_registrations: usize,
    #[arg(long, env = "REGISTRY_MAX_PRODUCTS", default_value_t = 10_000)]
    max_products: usize,
    /// Most long-polls and event streams open at once (at most 3/4 of --max-connections).
    #[arg(long, env = "REGISTRY_MAX_WATCHERS", default_value_t = 1024)]
    max_watchers: usize,
    /// Watcher slots kept for callers with a valid token.
    #[arg(long, env = "REGISTRY_WATCHER_RESERVE", default_value_t = 128)]
    watcher_reserve: usize,
    /// Watchers one anonymous client address (IPv6: one /64) may hold.
    #[arg(long, env = "REGISTRY_MAX_WATCHERS_PER_CLIENT", default_value_t = 32)]
    max_watchers_per_client: usize,
    /// Watchers one token may hold.
    #[arg(long, env = "REGISTRY_MAX_WATCHERS_PER_TOKEN", default_value_t = 256)]
    max_watchers_per_token: usize,
    /// Most client connections open at once (lowered to what the file limit allows). At
    /// the limit the connection idle longest is closed to admit a new one.
    #[arg(long, env = "REGISTRY_MAX_CONNECTIONS", default_value_t = 4096)]
    max_connections: usize,
    /// Most connections open at once from one client address (IPv6: one /64); at most half
    /// of --max-connections.
    #[arg(
        long,
        env = "REGISTRY_MAX_CONNECTIONS_PER_CLIENT",
        default_value_t = 256
    )]
    max_connections_per_client: usize,
    /// Longest a client may take to send a request's headers (and a keep-alive connection
    /// may stay idle) before the connection is closed.
    #[arg(long, env = "REGISTRY_HEADER_READ_TIMEOUT", default_value = "10s", value_parser = humantime::parse_duration)]
    header_read_timeout: Duration,
    /// Threads serving HTTP (the SQLite writer has its own).
    #[arg(long, env = "REGISTRY_WORKERS", default_value_t = 2)]
    workers: usize,
}

#[derive(Args)]
struct SidecarArgs {
    /// The registration id.
    #[arg(long, env = "ID")]
    id: Option<String>,
    /// The registration body (JSON), as idea-lab's BODY.
    #[arg(long, env = "BODY")]
    body: Option<String>,
    /// The registry's base URL, e.g. http://registry.dappmesh:8080.
    #[arg(long, env = "REGISTRY_URL")]
    registry_url: Option<String>,
    /// idea-lab's name for the registry address (host:port), used without REGISTRY_URL.
    #[arg(long, env = "HOSTPORT", hide = true)]
    hostport: Option<String>,
    /// Time between heartbeats: seconds or a duration such as 3s (default 3s).
    #[arg(long, env = "INTERVAL")]
    interval: Option<String>,
    /// idea-lab's name for the interval in seconds, used without INTERVAL.
    #[arg(long, env = "FREQUENCY_IN_SECONDS", hide = true)]
    frequency_in_seconds: Option<String>,
    /// The bearer token.
    #[arg(long, env = "REGISTRY_TOKEN", hide_env_values = true)]
    token: Option<String>,
    /// A file holding the bearer token, re-read on every attempt.
    #[arg(long, env = "REGISTRY_TOKEN_FILE")]
    token_file: Option<PathBuf>,
    /// Longest wait between retries while the registry is unreachable.
    #[arg(long, env = "MAX_BACKOFF", default_value = "10s", value_parser = humantime::parse_duration)]
    max_backoff: Duration,
    /// Time limit of one request.
    #[arg(long, env = "REQUEST_TIMEOUT", default_value = "5s", value_parser = humantime::parse_duration)]
    timeout: Duration,
    /// Check the configuration and the token, then exit: 0 when the sidecar can run (for
    /// exec probes).
    #[arg(long)]
    check: bool,
}

fn main() -> ExitCode {
    return_freed_memory_promptly();
    let cli = Cli::parse();
    dappmesh_service::startup::init(cli.log_level);
    let result = match cli.command {
        Command::Serve(args) => serve(args),
        Command::Heartbeat(args) => heartbeat(args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!("{e:#}");
            ExitCode::FAILURE
        }
    }
}

fn load_tokens(args: &ServeArgs) -> anyhow::Result<Keyring> {
    let keyring = Keyring::load(args.tokens_files.clone(), args.tokens.clone())?;
    if keyring.current().is_empty() {
        tracing::warn!("no tokens configured: every write will be refused with 401");
    }
    Ok(keyring)
}

/// What the listeners admit: connections (kept within the open-file limit) and watchers.
struct Admission {
    api: server::Limits,
    metrics: server::Limits,
    watchers: WatcherLimits,
}

fn admission(args: &ServeArgs) -> Admission {
    // The metrics listener's few connections come out of the same file limit.
    let metrics_connections = if args.metrics_port.is_some() {
        METRICS_CONNECTIONS
    } else {
        0
    };
    let (budget, lowered) =
        server::connection_budget(args.max_connections.saturating_add(metrics_connections));
    let max_connections = budget.saturating_sub(metrics_connections).max(1);
    if lowered {
        tracing::warn!(
            max_connections,
            "--max-connections lowered to what the open-file limit (ulimit -n) allows"
        );
    }
    // Watchers hold their connections, so some connections must stay for everything else.
    let max_watchers = args.max_watchers.min(max_connections - max_connections / 4);
    if max_watchers < args.max_watchers {
        tracing::warn!(
            max_watchers,
            "--max-watchers lowered to 3/4 of the connection limit"
        );
    }
    let watcher_limits = WatcherLimits {
        max: max_watchers,
        reserve: args.watcher_reserve.min(max_watchers),
        per_client: args.max_watchers_per_client,
        per_token: args.max_watchers_per_token,
    };
    let limits = server::Limits {
        max_connections,
        max_connections_per_client: args
            .max_connections_per_client
            .clamp(1, (max_connections / 2).max(1)),
        header_read_timeout: args.header_read_timeout,
    };
    let metrics_limits = server::Limits {
        max_connections: METRICS_CONNECTIONS,
        max_connections_per_client: METRICS_CONNECTIONS / 2,
        header_read_timeout: args.header_read_timeout,
    };
    Admission {
        api: limits,
        metrics: metrics_limits,
        watchers: watcher_limits,
    }
}

fn serve(args: ServeArgs) -> anyhow::Result<()> {
    let keyring = Arc::new(load_tokens(&args)?);
    if args.tokens_poll_interval < Duration::from_millis(100) {
        bail!("--tokens-poll-interval must be at least 100ms");
    }
    let policy = TtlPolicy {
        default: args.ttl,
        min: args.min_ttl,
        max: args.max_ttl,
        grace: args.grace,
    }
    .validate()?;
    if args.sweep_interval < Duration::from_millis(10) {
        bail!("--sweep-interval must be at least 10ms");
    }
    if args.header_read_timeout < Duration::from_millis(100) {
        bail!("--header-read-timeout must be at least 100ms");
    }
    let admission = admission(&args);
    let cors_origins = args
        .cors_origins
        .iter()
        .filter(|o| !o.trim().is_empty())
        .map(|o| registry::http::parse_origin(o.trim()).map_err(anyhow::Error::msg))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(args.workers.clamp(1, 64))
        .enable_all()
        .build()?;
    let store = Store::open(&args.data_dir)?;
    let (registry, writer) = Registry::start(
        store,
        Arc::new(SystemClock),
        policy,
        Limits {
            max_registrations: args.max_registrations,
            max_products: args.max_products,
        },
    )?;
    let (stop, stopped) = watch::channel(false);
    let state = AppState {
        registry: registry.clone(),
        keyring: Arc::clone(&keyring),
        reads: match args.read_access {
            Reads::Open => ReadAccess::Open,
            Reads::Token => ReadAccess::Token,
        },
        metrics: Arc::new(Metrics::default()),
        watchers: Arc::new(Watchers::new(admission.watchers)),
        shutdown: stopped.clone(),
        cors_origins,
    };
    let shutdown = stopped.clone();
    runtime.block_on(async move {
        // Installed before binding: a SIGTERM from then on stops the server gracefully.
        let signal = shutdown::signal();
        let listener = bind(args.host, args.port).await?;
        let metrics_listener = match args.metrics_port {
            Some(port) => Some(bind(args.host, port).await?),
            None => None,
        };
        let addr = listener.local_addr()?;
        // Tests and scripts read these lines to learn the ports when started with port 0.
        println!("registry listening on http://{addr}");
        if let Some(l) = &metrics_listener {
            let metrics_addr = l.local_addr()?;
            println!("registry metrics on http://{metrics_addr}");
            tracing::info!(%metrics_addr, "serving /metrics on its own port");
        }
        tracing::info!(%addr, data_dir = %args.data_dir.display(), "serving");
        let sweeper = {
            let registry = registry.clone();
            let interval = args.sweep_interval;
            tokio::spawn(async move { registry.sweep_every(interval, stopped).await })
        };
        let tokens_watcher =
            tokio::spawn(keyring.watch(args.tokens_poll_interval, shutdown.clone()));
        drop(registry);
        tokio::spawn(async move {
            signal.await;
            tracing::info!("shutting down");
            let _ = stop.send(true);
        });
        match metrics_listener {
            None => server::serve(listener, app(state), admission.api, shutdown).await,
            Some(metrics_listener) => {
                let (api, metrics) = app_with_metrics_apart(state);
                // Both stop on the same flag; the server exits once both have drained.
                tokio::join!(
                    server::serve(listener, api, admission.api, shutdown.clone()),
                    server::serve(metrics_listener, metrics, admission.metrics, shutdown),
                );
            }
        }
        sweeper.await?;
        tokens_watcher.await?;
        anyhow::Ok(())
    })?;
    // Every handle is gone now, so the writer drains its queue and stops.
    writer.join();
    Ok(())
}

async fn bind(host: IpAddr, port: u16) -> anyhow::Result<tokio::net::TcpListener> {
    tokio::net::TcpListener::bind((host, port))
        .await
        .with_context(|| format!("binding {host}:{port}"))
}

fn heartbeat(args: SidecarArgs) -> anyhow::Result<()> {
    let cfg = HeartbeatArgs {
        id: args.id,
        body: args.body,
        registry_url: args.registry_url,
        hostport: args.hostport,
        interval: args.interval,
        frequency_in_seconds: args.frequency_in_seconds,
        token: args.token,
        token_file: args.token_file,
        max_backoff: args.max_backoff,
        timeout: args.timeout,
    }
    .resolve()?;
    if args.check {
        return cfg.check().map_err(anyhow::Error::msg);
    }
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async move {
        let stopped = shutdown::flag_on_signal(|| {});
        registry::heartbeat::run(cfg, stopped).await?;
        anyhow::Ok(())
    })
}
