//! The `operator` binary: reads its flags, starts logging, and runs the controller until
//! SIGTERM or Ctrl-C.

use std::time::Duration;

use clap::{Parser, Subcommand};
use dappmesh_service::{shutdown, startup};
use operator::controller::{self, MeshSource, Settings};
use operator::leader::Election;
use operator::registry::Catalog;

#[derive(Parser)]
#[command(
    name = "operator",
    version,
    about = "Runs DataProduct resources in the cluster"
)]
struct Args {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Reconcile every DataProduct of the cluster.
    Run {
        /// The namespace of the mesh ConfigMap (default: the operator's own, where `dappctl
        /// render` puts it with the rest of the platform).
        #[arg(long, env = "MESH_NAMESPACE")]
        mesh_namespace: Option<String>,
        /// The ConfigMap holding the Mesh and Domain documents (key mesh.yaml).
        #[arg(long, env = "MESH_CONFIGMAP", default_value = "dappmesh-mesh")]
        mesh_configmap: String,
        /// Where /metrics, /healthz and /readyz are served.
        #[arg(long, env = "LISTEN", default_value = "0.0.0.0:8080")]
        listen: std::net::SocketAddr,
        /// The Lease replicas elect their leader with (in the mesh ConfigMap's namespace).
        #[arg(long, env = "LEASE_NAME", default_value = "dappmesh-operator")]
        lease_name: String,
        /// How long the leader's Lease lasts without renewal; standbys take over after it.
        #[arg(long, env = "LEASE_DURATION", default_value = "15s", value_parser = humantime::parse_duration)]
        lease_duration: Duration,
        /// This replica's name in the election (default: the pod's name, else host and pid).
        #[arg(long, env = "POD_NAME")]
        identity: Option<String>,
        /// The registry whose data-product catalog lists the products (none: no catalog).
        #[arg(long, env = "REGISTRY_URL")]
        registry_url: Option<String>,
        /// A file holding the bearer token for the catalog (a `products:*` grant). Without
        /// it, the token is the one `--platform-secrets` finds or makes.
        #[arg(long, env = "REGISTRY_TOKEN_FILE")]
        registry_token_file: Option<std::path::PathBuf>,
        /// Once leading, make the platform's registry token Secrets that are missing (the
        /// operator's, the dashboard's and their grants, in the mesh ConfigMap's namespace)
        /// and use the operator's own for the catalog.
        #[arg(long, env = "PLATFORM_SECRETS")]
        platform_secrets: bool,
        /// How many products are reconciled at once.
        #[arg(long, env = "CONCURRENCY", default_value_t = 4, value_parser = clap::value_parser!(u16).range(1..))]
        concurrency: u16,
    },
}

fn main() -> anyhow::Result<()> {
    one_arena();
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?
        .block_on(run())
}

/// One malloc arena for the process. A check of the mesh runs on rayon's threads and what
/// it keeps is used from tokio's; with an arena per thread each holds on to what the others
/// freed. The benchmark's peak RSS at 1,000 products: 77 MiB with glibc's default, 70 with
/// one arena; the operator is I/O-bound, so the shared lock costs nothing measurable.
fn one_arena() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only tunes the allocator; it runs before any other thread exists.
    unsafe {
        libc::mallopt(libc::M_ARENA_MAX, 1);
    }
}

async fn run() -> anyhow::Result<()> {
    startup::init(tracing::Level::INFO);
    let Command::Run {
        mesh_namespace,
        mesh_configmap,
        listen,
        lease_name,
        lease_duration,
        identity,
        registry_url,
        registry_token_file,
        platform_secrets,
        concurrency,
    } = Args::parse().command;
    let token = match &registry_token_file {
        Some(path) => Some(
            std::fs::read_to_string(path)
                .map_err(|e| anyhow::anyhow!("cannot read {}: {e}", path.display()))?
                .trim()
                .to_owned(),
        ),
        None => None,
    };
    let client = kube::Client::try_default().await?;
    let mesh = MeshSource {
        namespace: mesh_namespace.unwrap_or_else(|| client.default_namespace().to_owned()),
        name: mesh_configmap,
    };
    let shared = operator::web::Shared::default();
    let listener = tokio::net::TcpListener::bind(listen).await?;
    let web = axum::serve(listener, operator::web::app(shared.clone()));
    tokio::spawn(async move {
        if let Err(e) = web.await {
            tracing::error!("the HTTP endpoints stopped: {e}");
        }
    });
    let election = Election {
        namespace: mesh.namespace.clone(),
        name: lease_name,
        identity: identity.unwrap_or_else(default_identity),
        duration: lease_duration,
    };
    let stopping = shutdown::flag_on_signal(|| tracing::info!("stopping"));
    let stopped = |mut flag: tokio::sync::watch::Receiver<bool>| async move {
        shutdown::stopped(&mut flag).await;
    };
    tokio::select! {
        () = election.acquire(&client) => {}
        () = stopped(stopping.clone()) => return Ok(()),
    }
    tracing::info!(identity = %election.identity, "leading");
    // The dashboard's Secret is made even when the operator's own token comes from a file.
    let made = if platform_secrets {
        tokio::select! {
            token = platform_token(&client, &mesh.namespace) => token,
            () = stopped(stopping.clone()) => return Ok(()),
        }
    } else {
        None
    };
    let token = token.or(made);
    let catalog = registry_url
        .as_deref()
        .map(|url| Catalog::new(url, token))
        .transpose()?;
    let (lost_tx, lost_rx) = tokio::sync::oneshot::channel();
    let holder = {
        let (election, client) = (election.clone(), client.clone());
        tokio::spawn(async move {
            election.hold(&client).await;
            let _ = lost_tx.send(());
        })
    };
    let end = {
        let stopping = stopping.clone();
        async move {
            tokio::select! {
                () = stopped(stopping) => {}
                _ = lost_rx => {}
            }
        }
    };
    let settings = Settings {
        mesh,
        catalog,
        concurrency,
    };
    controller::run(client.clone(), settings, shared, end).await;
    if holder.is_finished() {
        // Another replica leads now: exit non-zero, so the pod restarts as a standby.
        anyhow::bail!("lost the leader Lease");
    }
    holder.abort();
    election.release(&client).await;
    Ok(())
}

/// Makes the platform's token Secrets that are missing, retrying until the API server
/// takes it (a missing Role shows here first), and returns the operator's token.
async fn platform_token(client: &kube::Client, namespace: &str) -> Option<String> {
    loop {
        match operator::platform::ensure(client, namespace).await {
            Ok(platform) => {
                for why in &platform.unusable {
                    tracing::error!("{why}");
                }
                return platform.operator_token;
            }
            Err(e) => tracing::warn!("cannot make the platform's token Secrets: {e}"),
        }
        tokio::time::sleep(Duration::from_secs(5)).await;
    }
}

/// A name unique among replicas when Kubernetes gives none: host and process id.
fn default_identity() -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap_or_default();
    format!("{}-{}", host.trim(), std::process::id())
}
