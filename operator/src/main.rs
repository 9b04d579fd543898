//! The `operator` binary: reads its flags, starts logging, and runs the controller until
//! SIGTERM or Ctrl-C.

use clap::{Parser, Subcommand};
use operator::controller::{self, MeshSource};

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
    },
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_max_level(tracing::Level::INFO)
        .init();
    // One TLS provider for the process, chosen here rather than by whichever crate asks first.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let Command::Run {
        mesh_namespace,
        mesh_configmap,
        listen,
    } = Args::parse().command;
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
    controller::run(client, mesh, shared, shutdown()).await;
    Ok(())
}

/// SIGTERM (how Kubernetes stops a pod) or Ctrl-C.
async fn shutdown() {
    let mut terminate = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .expect("a SIGTERM handler");
    tokio::select! {
        _ = terminate.recv() => {}
        _ = tokio::signal::ctrl_c() => {}
    }
}
