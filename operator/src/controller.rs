//! The controller: watches DataProducts (and the children they own, and the mesh ConfigMap),
//! and reconciles each one: render, make its databases' credentials, apply the children,
//! make its registry token, remove the children no longer rendered, write the status. A
//! finalizer runs the product's cleanup before Kubernetes removes it.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use k8s_openapi::api::apps::v1::{Deployment, StatefulSet};
use k8s_openapi::api::batch::v1::CronJob;
use k8s_openapi::api::core::v1::{ConfigMap, Service, ServiceAccount};
use k8s_openapi::api::networking::v1::NetworkPolicy;
use kube::api::{Api, Patch, PatchParams};
use kube::runtime::controller::{self, Action, Controller};
use kube::runtime::events::{Event as Note, EventType, Recorder, Reporter};
use kube::runtime::finalizer::{Event, finalizer};
use kube::runtime::reflector::{self, Store};
use kube::runtime::watcher;
use kube::{Client, Resource};
use serde_json::json;

use crate::children::{self, Kinds, MANAGER};
use crate::credentials;
use crate::mesh::{self, Rendered};
use crate::registry::{self, Catalog};
use crate::resource::{DataProduct, Json};
use crate::status::{self, Phase};
use crate::tokens;
use crate::web::Shared;
use crate::{Error, Result};

/// The finalizer the operator puts on every DataProduct it runs.
pub const FINALIZER: &str = "dappmesh.io/operator";

/// Where the mesh's own documents are.
#[derive(Debug, Clone)]
pub struct MeshSource {
    pub namespace: String,
    pub name: String,
}

/// How long a deleted product waits for the registry to forget it before it is released
/// anyway: a registry gone for good must not keep products from being deleted.
const DEREGISTER_FOR: Duration = Duration::from_secs(300);

/// What the controller is configured with.
pub struct Settings {
    pub mesh: MeshSource,
    /// The registry's catalog; None when the mesh runs without one.
    pub catalog: Option<Catalog>,
    /// Products reconciled at once.
    pub concurrency: u16,
}

/// What every reconcile shares.
pub struct Context {
    pub client: Client,
    pub mesh: MeshSource,
    catalog: Option<Catalog>,
    /// Failed catalog writes in a row, by product id: the delay before the next grows with
    /// them. Kept here, not in the status, so a failing registry does not change the status
    /// (and trigger a reconcile) on every attempt.
    attempts: std::sync::Mutex<std::collections::HashMap<String, u32>>,
    /// The mesh ConfigMap, as watched.
    mesh_config: Store<ConfigMap>,
    /// Each environment's mesh, checked.
    meshes: mesh::Meshes,
    products: Store<DataProduct>,
    kinds: Kinds,
    shared: Shared,
    recorder: Recorder,
}

/// Reconciles one product, inside the finalizer: its cleanup runs before it goes.
pub async fn reconcile(product: Arc<DataProduct>, ctx: Arc<Context>) -> Result<Action> {
    let started = Instant::now();
    let namespace = product.metadata.namespace.clone().unwrap_or_default();
    let api: Api<DataProduct> = Api::namespaced(ctx.client.clone(), &namespace);
    let outcome = finalizer(&api, FINALIZER, product, |event| async {
        match event {
            Event::Apply(product) => apply(&product, &ctx).await,
            Event::Cleanup(product) => cleanup(&product, &ctx).await,
        }
    })
    .await
    .map_err(|e| Error::Finalizer(Box::new(e)));
    ctx.shared.metrics.reconciled(started.elapsed());
    outcome
}

/// Renders the product and brings its children and status in line.
async fn apply(product: &DataProduct, ctx: &Context) -> Result<Action> {
    // At start the products may be listed before the mesh ConfigMap is.
    if mesh_text(ctx).is_none() {
        let _ =
            tokio::time::timeout(Duration::from_secs(5), ctx.mesh_config.wait_until_ready()).await;
    }
    let Some(mesh) = mesh_text(ctx) else {
        let message = format!(
            "waiting for the ConfigMap {}/{} (key {}), which `dappctl render` writes into platform/",
            ctx.mesh.namespace,
            ctx.mesh.name,
            mesh::MESH_KEY
        );
        let phase = Phase::Retrying {
            reason: "MeshMissing",
            message,
        };
        write_status(ctx, product, &phase, &[], &[], None).await?;
        return Ok(Action::requeue(Duration::from_secs(30)));
    };
    let products = ctx.products.state();
    let children = match ctx.meshes.render(&mesh, &products, product) {
        Rendered::Children(children) => children,
        Rendered::Invalid(message) => {
            if !was_stalled(product) {
                note(
                    ctx,
                    product,
                    EventType::Warning,
                    "Invalid",
                    "Render",
                    &message,
                )
                .await;
            }
            let phase = Phase::Stalled {
                reason: "Invalid",
                message,
            };
            write_status(ctx, product, &phase, &[], &[], None).await?;
            // Nothing to do until the product or the mesh changes, which triggers a reconcile.
            return Ok(Action::await_change());
        }
    };
    let endpoints = status::endpoints(&children);
    // Before the StatefulSets that mount them, so their pods never wait for a person.
    let unusable = credentials::ensure(&ctx.client, product, &children).await?;
    let mut outcome = children::apply(&ctx.client, &ctx.kinds, product, children).await?;
    outcome.conflicts.extend(unusable);
    // The product's own registry token, which its widgets' pods wait for. No watch sees its
    // Secret go (that would take reading every Secret of the cluster): a deleted one, which
    // is how a token is rotated, is made anew at the product's next reconcile.
    if let Some(conflict) = tokens::ensure(&ctx.client, &ctx.mesh.namespace, product).await? {
        outcome.conflicts.push(conflict);
    }
    let applied = outcome.applied;
    if is_new(product, &applied) {
        let generation = product.metadata.generation.unwrap_or_default();
        let text = format!(
            "generation {generation}: {} children applied",
            applied.len()
        );
        note(ctx, product, EventType::Normal, "Applied", "Apply", &text).await;
    }
    // A child left alone for a conflict is still rendered: it is not pruned.
    let removed = children::prune(&ctx.client, &ctx.kinds, product, &outcome.rendered).await?;
    if !removed.is_empty() {
        let text = format!("no longer rendered: {}", removed.join(", "));
        note(ctx, product, EventType::Normal, "Pruned", "Delete", &text).await;
    }
    if !outcome.conflicts.is_empty() {
        let message = format!(
            "not overwritten (the product does not own them): {}",
            outcome.conflicts.join("; ")
        );
        if !was_stalled(product) {
            note(
                ctx,
                product,
                EventType::Warning,
                "Conflict",
                "Apply",
                &message,
            )
            .await;
        }
        let phase = Phase::Stalled {
            reason: "Conflict",
            message,
        };
        write_status(ctx, product, &phase, &applied, &endpoints, None).await?;
        // A foreign object carries none of the product's labels, so no watch sees it go:
        // look again after a while.
        return Ok(Action::requeue(Duration::from_secs(60)));
    }
    let (registry, retry) = register(ctx, product, &endpoints).await;
    write_status(
        ctx,
        product,
        &Phase::Ready,
        &applied,
        &endpoints,
        Some(&registry),
    )
    .await?;
    // Drift is seen through the watches on the children; the long requeue is a safety net.
    Ok(Action::requeue(retry.unwrap_or(Duration::from_secs(600))))
}

/// Writes the product's catalog entry: the registration state for the status, and when to
/// try again if the registry did not take it.
async fn register(
    ctx: &Context,
    product: &DataProduct,
    endpoints: &[serde_json::Value],
) -> (serde_json::Value, Option<Duration>) {
    let Some(catalog) = &ctx.catalog else {
        return (json!({"state": "Disabled"}), None);
    };
    let id = registry::id(product);
    let outcome = catalog
        .register(&id, &registry::entry(product, endpoints))
        .await;
    let mut attempts = ctx.attempts.lock().expect("attempts lock");
    match outcome {
        Ok(()) => {
            attempts.remove(&id);
            (json!({"state": "Registered", "id": id}), None)
        }
        Err(message) => {
            let failed = attempts.entry(id.clone()).or_default();
            let delay = registry::backoff(*failed);
            *failed += 1;
            let state = json!({"state": "Unavailable", "id": id, "message": message});
            (state, Some(delay))
        }
    }
}

/// What a product's deletion needs before Kubernetes removes it: its token stops opening
/// anything first; its children (and its token's Secret) go with it through their owner
/// references. Its databases' credentials stay, as their volumes do ([`credentials`]).
async fn cleanup(product: &DataProduct, ctx: &Context) -> Result<Action> {
    tokens::forget(&ctx.client, &ctx.mesh.namespace, product).await?;
    if let Some(catalog) = &ctx.catalog
        && let Err(message) = catalog.deregister(&registry::id(product)).await
    {
        let deleted = product
            .metadata
            .deletion_timestamp
            .as_ref()
            .map(|t| t.0)
            .unwrap_or_else(k8s_openapi::jiff::Timestamp::now);
        let waited = k8s_openapi::jiff::Timestamp::now().duration_since(deleted);
        if waited.as_secs() < DEREGISTER_FOR.as_secs() as i64 {
            return Err(Error::Registry(message));
        }
        let text = format!("released although the registry still lists it: {message}");
        note(
            ctx,
            product,
            EventType::Warning,
            "RegistryUnavailable",
            "Finalize",
            &text,
        )
        .await;
    }
    let text = "deleted: its children go with it";
    note(
        ctx,
        product,
        EventType::Normal,
        "Released",
        "Finalize",
        text,
    )
    .await;
    Ok(Action::await_change())
}

/// Whether this reconcile applies something the status does not show yet: a new generation
/// or another set of children.
fn is_new(product: &DataProduct, applied: &[String]) -> bool {
    let status = product.status.as_ref().map(Json::to_value);
    let status = status.as_ref();
    let observed = status
        .and_then(|s| s.get("observedGeneration"))
        .and_then(serde_json::Value::as_i64);
    let children = status.and_then(|s| s.get("children"));
    observed != product.metadata.generation || children != Some(&json!(applied))
}

fn was_stalled(product: &DataProduct) -> bool {
    let status = product.status.as_ref().map(Json::to_value);
    status
        .as_ref()
        .and_then(|s| s.get("conditions"))
        .and_then(serde_json::Value::as_array)
        .into_iter()
        .flatten()
        .any(|c| c["type"] == "Stalled" && c["status"] == "True")
}

/// Records an event on the product; failing to is logged, never fatal.
async fn note(
    ctx: &Context,
    product: &DataProduct,
    type_: EventType,
    reason: &str,
    action: &str,
    text: &str,
) {
    let event = Note {
        type_,
        reason: reason.to_owned(),
        note: Some(text.chars().take(1024).collect()),
        action: action.to_owned(),
        secondary: None,
    };
    if let Err(e) = ctx.recorder.publish(&event, &product.object_ref(&())).await {
        tracing::warn!("cannot record an event: {e}");
    }
}

fn mesh_text(ctx: &Context) -> Option<String> {
    ctx.mesh_config
        .state()
        .iter()
        .find(|c| {
            c.metadata.name.as_deref() == Some(ctx.mesh.name.as_str())
                && c.metadata.namespace.as_deref() == Some(ctx.mesh.namespace.as_str())
        })
        .and_then(|c| c.data.as_ref()?.get(mesh::MESH_KEY).cloned())
}

async fn write_status(
    ctx: &Context,
    product: &DataProduct,
    phase: &Phase,
    children: &[String],
    endpoints: &[serde_json::Value],
    registry: Option<&serde_json::Value>,
) -> Result<()> {
    let namespace = product.metadata.namespace.clone().unwrap_or_default();
    let name = product.metadata.name.clone().unwrap_or_default();
    let api: Api<DataProduct> = Api::namespaced(ctx.client.clone(), &namespace);
    let patch = json!({
        "apiVersion": DataProduct::api_version(&()),
        "kind": DataProduct::kind(&()),
        "status": status::status(product, phase, children, endpoints, registry),
    });
    api.patch_status(
        &name,
        &PatchParams::apply(MANAGER).force(),
        &Patch::Apply(&patch),
    )
    .await?;
    Ok(())
}

/// A failed reconcile is retried after a pause; the product's status says why.
pub fn error_policy(product: Arc<DataProduct>, error: &Error, ctx: Arc<Context>) -> Action {
    ctx.shared.metrics.failed(error.metric_label());
    tracing::warn!(
        product = product.metadata.name.as_deref().unwrap_or_default(),
        reason = error.metric_label(),
        "reconcile failed: {error}"
    );
    Action::requeue(Duration::from_secs(5))
}

/// Who records the events: this replica (its pod name, when Kubernetes gives it).
fn reporter() -> Reporter {
    Reporter {
        controller: MANAGER.to_owned(),
        instance: std::env::var("POD_NAME").ok(),
    }
}

/// Runs the controller until `shutdown` completes; `shared` gets its metrics and readiness.
pub async fn run(
    client: Client,
    settings: Settings,
    shared: Shared,
    shutdown: impl std::future::Future<Output = ()> + Send + Sync + 'static,
) {
    let Settings {
        mesh,
        catalog,
        concurrency,
    } = settings;
    let products: Api<DataProduct> = Api::all(client.clone());
    let config_maps: Api<ConfigMap> = Api::namespaced(client.clone(), &mesh.namespace);
    let (mesh_config, writer) = reflector::store();
    let mesh_changes = reflector::reflector(
        writer,
        watcher(
            config_maps,
            watcher::Config::default().fields(&format!("metadata.name={}", mesh.name)),
        ),
    )
    // Once the store holds what the event says (the initial list only lands at InitDone),
    // every product renders again with the mesh as it is now.
    .filter_map(|event| async move {
        match event {
            Ok(watcher::Event::InitDone | watcher::Event::Apply(_) | watcher::Event::Delete(_)) => {
                Some(())
            }
            _ => None,
        }
    });

    let children = watcher::Config::default().labels("dappmesh.io/product");
    // Bounded: each reconcile in flight holds a product's rendered children, and the API
    // server is better served by a steady stream than by every product at once.
    let controller = Controller::new(products, watcher::Config::default())
        .with_config(controller::Config::default().concurrency(concurrency));
    // Ready once the API server answers with DataProducts: the credentials work and the
    // CRD is served. Until then the controller's own list retries with backoff.
    let ready = shared.ready.clone();
    let probe: Api<DataProduct> = Api::all(client.clone());
    tokio::spawn(async move {
        let params = kube::api::ListParams::default().limit(1);
        while probe.list(&params).await.is_err() {
            tokio::time::sleep(Duration::from_secs(2)).await;
        }
        ready.store(true, Ordering::Relaxed);
    });
    let ctx = Arc::new(Context {
        client: client.clone(),
        mesh,
        catalog,
        attempts: Default::default(),
        mesh_config,
        meshes: mesh::Meshes::default(),
        products: controller.store(),
        kinds: Kinds::default(),
        shared,
        recorder: Recorder::new(client.clone(), reporter()),
    });
    controller
        .owns(Api::<ServiceAccount>::all(client.clone()), children.clone())
        .owns(Api::<Service>::all(client.clone()), children.clone())
        .owns(Api::<ConfigMap>::all(client.clone()), children.clone())
        .owns(Api::<Deployment>::all(client.clone()), children.clone())
        .owns(Api::<StatefulSet>::all(client.clone()), children.clone())
        .owns(Api::<CronJob>::all(client.clone()), children.clone())
        .owns(Api::<NetworkPolicy>::all(client.clone()), children)
        .reconcile_all_on(mesh_changes)
        .graceful_shutdown_on(shutdown)
        .run(reconcile, error_policy, ctx)
        .for_each(|outcome| async move {
            match outcome {
                Ok((object, _)) => tracing::debug!(product = %object.name, "reconciled"),
                Err(e) => tracing::debug!("controller: {e}"),
            }
        })
        .await;
}
