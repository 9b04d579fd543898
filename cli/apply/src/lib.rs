//! Delivery: what `dappctl apply`, `diff` and `delete` do with a rendered mesh on a cluster,
//! with server-side apply (field manager `dappctl`), in a safe order, pruning through
//! ApplySets. It takes rendered YAML (from the compiler's render or from files) and never
//! renders or validates itself; it may depend on the compiler for YAML parsing and
//! serialising, never on dappctl's command line.
//!
//! Order: CustomResourceDefinitions first (until Established), then Namespaces, then each
//! set's ApplySet parent, then the rest by sync wave. A parent records the union of what its
//! set held before and holds now until pruning is done, so an interrupted run does not lose
//! track of the kinds it applied; CRDs and namespaces go before any parent exists, and are
//! never pruned anyway (they are marked `Delete=false`).

pub mod applyset;
pub mod cluster;
pub mod delete;
pub mod diff;
pub mod manifest;
pub mod prune;
pub mod status;
pub mod wait;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;
use std::time::Duration;

use kube::api::{DynamicObject, Patch, PatchParams, ValidationDirective};
use serde_json::Value;
use tokio::task::JoinSet;

use applyset::Recorded;
use cluster::{Cluster, Refusal, RefusalKind};
use manifest::{Object, Set};

/// The field manager of every change `dappctl` makes.
pub const MANAGER: &str = "dappctl";

/// Requests in flight at once: enough to hide round trips, few enough to be polite.
const PARALLEL: usize = 8;

/// How long CRDs may take to be Established when `--wait` does not say.
const ESTABLISHED: Duration = Duration::from_secs(60);

/// Where results and progress go: the binary prints them, tests collect them.
pub trait Report: Send {
    /// A line that stays: one per object changed, pruned or failed.
    fn line(&mut self, text: &str);
    /// A transient status line (a terminal overwrites it; elsewhere it may be dropped).
    fn progress(&mut self, text: &str);
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DryRun {
    /// Nothing is sent that changes the cluster; outcomes are judged from what is live.
    Client,
    /// Every change is sent with `dryRun=All`: the server checks it and stores nothing.
    Server,
}

#[derive(Debug, Clone, Default)]
pub struct Options {
    pub dry_run: Option<DryRun>,
    /// Take over fields another field manager owns instead of failing on the conflict.
    pub force_conflicts: bool,
    pub prune: bool,
    /// Wait until everything is ready, at most this long.
    pub wait: Option<Duration>,
}

/// What happened to one object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Created,
    /// A dry run would create it, but the server could not check it: its namespace or its
    /// kind is created earlier in the same run.
    Unchecked(&'static str),
    Configured,
    Unchanged,
    Failed(String),
}

#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Summary {
    pub created: usize,
    pub configured: usize,
    pub unchanged: usize,
    pub failed: usize,
    pub pruned: usize,
    pub not_ready: usize,
}

impl Summary {
    pub fn succeeded(&self) -> bool {
        self.failed == 0 && self.not_ready == 0
    }

    fn count(&mut self, outcome: &Outcome) {
        match outcome {
            Outcome::Created | Outcome::Unchecked(_) => self.created += 1,
            Outcome::Configured => self.configured += 1,
            Outcome::Unchanged => self.unchanged += 1,
            Outcome::Failed(_) => self.failed += 1,
        }
    }
}

impl std::fmt::Display for Summary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "applied {}: {} created, {} configured, {} unchanged, {} failed",
            self.created + self.configured + self.unchanged + self.failed,
            self.created,
            self.configured,
            self.unchanged,
            self.failed
        )?;
        if self.pruned > 0 {
            write!(f, "; pruned {}", self.pruned)?;
        }
        if self.not_ready > 0 {
            write!(f, "; {} not ready", self.not_ready)?;
        }
        Ok(())
    }
}

/// What this run creates that later objects may depend on, for judging a dry run: a
/// namespace or a kind that does not exist yet cannot be checked by the server.
#[derive(Debug, Default)]
struct Ours {
    namespaces: BTreeSet<String>,
    /// (group, kind) of the custom resources our CRDs define.
    kinds: BTreeSet<(String, String)>,
}

impl Ours {
    fn of(sets: &[Set]) -> Ours {
        let mut ours = Ours::default();
        for object in sets.iter().flat_map(|s| &s.members) {
            if is_namespace(object) {
                ours.namespaces.insert(object.name.clone());
            }
            if is_crd(object) {
                let text = |p: &str| {
                    object
                        .value
                        .pointer(p)
                        .and_then(Value::as_str)
                        .unwrap_or("")
                        .to_owned()
                };
                ours.kinds
                    .insert((text("/spec/group"), text("/spec/names/kind")));
            }
        }
        ours
    }
}

fn is_namespace(object: &Object) -> bool {
    object.kind == "Namespace" && object.group().is_empty()
}

fn is_crd(object: &Object) -> bool {
    object.kind == "CustomResourceDefinition" && object.group() == "apiextensions.k8s.io"
}

/// One object to send: the rendered object labelled as a member of its set.
#[derive(Debug, Clone)]
struct Sending {
    reference: String,
    group: String,
    version: String,
    kind: String,
    name: String,
    namespace: Option<String>,
    value: Value,
}

impl Sending {
    fn member(object: &Object, id: &str) -> Sending {
        Sending {
            reference: object.reference(),
            group: object.group().to_owned(),
            version: object.version().to_owned(),
            kind: object.kind.clone(),
            name: object.name.clone(),
            namespace: object.namespace.clone(),
            value: applyset::member(object, id),
        }
    }

    fn parent(set: &Set, record: &Recorded) -> Sending {
        let value = applyset::parent(set, record);
        Sending {
            reference: manifest::reference(
                "ConfigMap",
                "",
                &set.parent_name(),
                Some(&set.namespace),
            ),
            group: String::new(),
            version: "v1".to_owned(),
            kind: "ConfigMap".to_owned(),
            name: set.parent_name(),
            namespace: Some(set.namespace.clone()),
            value,
        }
    }

    fn wait_target(&self) -> wait::Target {
        wait::Target {
            reference: self.reference.clone(),
            group: self.group.clone(),
            version: self.version.clone(),
            kind: self.kind.clone(),
            name: self.name.clone(),
            namespace: self.namespace.clone(),
        }
    }
}

/// Applies every set to the cluster, then prunes and waits as asked.
#[allow(clippy::too_many_lines)]
pub async fn apply(
    cluster: Arc<Cluster>,
    sets: &[Set],
    options: &Options,
    report: &mut dyn Report,
) -> Summary {
    let ours = Arc::new(Ours::of(sets));
    let options = Arc::new(options.clone());
    let mut summary = Summary::default();
    let mut sent: Vec<Sending> = Vec::new();
    let ids: Vec<String> = sets.iter().map(applyset::id_of).collect();
    let mut failed_sets: BTreeSet<usize> = BTreeSet::new();

    // Phases: CRDs, namespaces, parents, then everything else wave by wave.
    let members: Vec<(usize, &Object)> = sets
        .iter()
        .enumerate()
        .flat_map(|(i, s)| s.members.iter().map(move |o| (i, o)))
        .collect();
    let crds: Vec<(usize, Sending)> = members
        .iter()
        .filter(|(_, o)| is_crd(o))
        .map(|(i, o)| (*i, Sending::member(o, &ids[*i])))
        .collect();
    let namespaces: Vec<(usize, Sending)> = members
        .iter()
        .filter(|(_, o)| is_namespace(o))
        .map(|(i, o)| (*i, Sending::member(o, &ids[*i])))
        .collect();

    let outcomes = send_all(&cluster, &crds, &options, &ours).await;
    record(
        options.dry_run,
        &crds,
        outcomes,
        &mut summary,
        &mut failed_sets,
        &mut sent,
        report,
    );
    if options.dry_run.is_none() && !crds.is_empty() {
        let targets: Vec<wait::Target> = crds.iter().map(|(_, s)| s.wait_target()).collect();
        let limit = options.wait.unwrap_or(ESTABLISHED);
        let late = wait::wait(&cluster, &targets, limit, report).await;
        for (target, status) in &late {
            summary.not_ready += 1;
            report.line(&format!(
                "{}: not established after {} ({})",
                target.reference,
                humantime::format_duration(limit),
                status.message
            ));
        }
    }
    let outcomes = send_all(&cluster, &namespaces, &options, &ours).await;
    record(
        options.dry_run,
        &namespaces,
        outcomes,
        &mut summary,
        &mut failed_sets,
        &mut sent,
        report,
    );

    // Parents record the union of what was and what is, until pruning is done.
    let mut previous: Vec<Recorded> = Vec::with_capacity(sets.len());
    let mut parents = Vec::with_capacity(sets.len());
    for (i, set) in sets.iter().enumerate() {
        let before = prune::recorded_parent(&cluster, set).await;
        let now = applyset::recorded(set);
        let before = match before {
            Ok(before) => before.unwrap_or_default(),
            Err(refusal) => {
                failed_sets.insert(i);
                summary.failed += 1;
                report.line(&format!(
                    "{}: cannot read the ApplySet parent: {}",
                    set.title(),
                    refusal.message
                ));
                Recorded::default()
            }
        };
        parents.push((i, Sending::parent(set, &before.union(&now))));
        previous.push(before);
    }
    let outcomes = send_all(&cluster, &parents, &options, &ours).await;
    for ((i, parent), outcome) in parents.iter().zip(outcomes) {
        if let Outcome::Failed(why) = outcome {
            failed_sets.insert(*i);
            summary.failed += 1;
            report.line(&format!("{}: {why}", parent.reference));
        }
    }

    let mut rest: Vec<(i64, usize, Sending)> = members
        .iter()
        .filter(|(_, o)| !is_crd(o) && !is_namespace(o))
        .map(|(i, o)| (o.wave, *i, Sending::member(o, &ids[*i])))
        .collect();
    rest.sort_by_key(|(wave, ..)| *wave);
    let mut at = 0;
    while at < rest.len() {
        let wave = rest[at].0;
        let end = rest[at..]
            .iter()
            .position(|(w, ..)| *w != wave)
            .map_or(rest.len(), |n| at + n);
        let batch: Vec<(usize, Sending)> = rest[at..end]
            .iter()
            .map(|(_, i, s)| (*i, s.clone()))
            .collect();
        let outcomes = send_all(&cluster, &batch, &options, &ours).await;
        record(
            options.dry_run,
            &batch,
            outcomes,
            &mut summary,
            &mut failed_sets,
            &mut sent,
            report,
        );
        at = end;
    }

    let dry = options.dry_run.is_some();
    let mode = match options.dry_run {
        None => prune::Mode::Delete,
        Some(DryRun::Server) => prune::Mode::ServerDryRun,
        Some(DryRun::Client) => prune::Mode::ClientDryRun,
    };
    if options.prune {
        for (i, set) in sets.iter().enumerate() {
            if failed_sets.contains(&i) {
                report.line(&format!(
                    "{}: not pruned, as some of its objects failed to apply",
                    set.title()
                ));
                continue;
            }
            let pruned = prune::prune(&cluster, set, &ids[i], &previous[i], mode, report).await;
            summary.pruned += pruned.pruned;
            summary.failed += pruned.failed;
            if pruned.failed == 0 && !dry {
                // Pruning is done: the parent now records only what the set holds.
                let exact = [(i, Sending::parent(set, &applyset::recorded(set)))];
                for outcome in send_all(&cluster, &exact, &options, &ours).await {
                    if let Outcome::Failed(why) = outcome {
                        summary.failed += 1;
                        report.line(&format!("{}: {why}", exact[0].1.reference));
                    }
                }
            }
        }
        let scope = sets
            .first()
            .and_then(|s| Some((s.mesh.clone()?, s.env.clone()?)));
        match scope {
            Some((mesh, env)) => {
                let gone = prune::prune_orphans(&cluster, &mesh, &env, &ids, mode, report).await;
                summary.pruned += gone.pruned;
                summary.failed += gone.failed;
            }
            None => report.line(
                "products no longer rendered are not pruned: the mesh's name is unknown (argocd/application-dappmesh.yaml is missing)",
            ),
        }
    }

    if let Some(timeout) = options.wait {
        if dry {
            report.line("not waiting: nothing was changed (dry run)");
        } else {
            let targets: Vec<wait::Target> = sent.iter().map(Sending::wait_target).collect();
            let started = std::time::Instant::now();
            let late = wait::wait(&cluster, &targets, timeout, report).await;
            if late.is_empty() {
                report.line(&format!(
                    "{} ready after {:.1}s",
                    count(targets.len(), "object"),
                    started.elapsed().as_secs_f64()
                ));
            }
            summary.not_ready = late.len();
            for (target, status) in &late {
                report.line(&format!(
                    "{}: not ready after {}: {}",
                    target.reference,
                    humantime::format_duration(timeout),
                    status.message
                ));
            }
        }
    }
    summary
}

/// `1 object`, `2 objects`.
fn count(n: usize, noun: &str) -> String {
    if n == 1 {
        format!("1 {noun}")
    } else {
        format!("{n} {noun}s")
    }
}

/// Prints each outcome, counts it, and keeps what was sent for waiting.
fn record(
    dry_run: Option<DryRun>,
    batch: &[(usize, Sending)],
    outcomes: Vec<Outcome>,
    summary: &mut Summary,
    failed_sets: &mut BTreeSet<usize>,
    sent: &mut Vec<Sending>,
    report: &mut dyn Report,
) {
    // As kubectl marks them.
    let dry = match dry_run {
        None => "",
        Some(DryRun::Client) => " (dry run)",
        Some(DryRun::Server) => " (server dry run)",
    };
    for ((set, sending), outcome) in batch.iter().zip(outcomes) {
        summary.count(&outcome);
        let reference = &sending.reference;
        match &outcome {
            Outcome::Failed(why) => {
                failed_sets.insert(*set);
                report.line(&format!("{reference}: {why}"));
            }
            Outcome::Created => report.line(&format!("{reference} created{dry}")),
            Outcome::Unchecked(why) => report.line(&format!(
                "{reference} created{dry}, not checked by the server: {why}"
            )),
            Outcome::Configured => report.line(&format!("{reference} configured{dry}")),
            Outcome::Unchanged => {}
        }
        if !matches!(outcome, Outcome::Failed(_)) {
            sent.push(sending.clone());
        }
    }
}

/// Sends a batch, a few requests at a time; outcomes come back in the batch's order.
async fn send_all(
    cluster: &Arc<Cluster>,
    batch: &[(usize, Sending)],
    options: &Arc<Options>,
    ours: &Arc<Ours>,
) -> Vec<Outcome> {
    let limit = Arc::new(tokio::sync::Semaphore::new(PARALLEL));
    let mut tasks = JoinSet::new();
    for (index, (_, sending)) in batch.iter().enumerate() {
        let (cluster, options, ours, limit) = (
            cluster.clone(),
            options.clone(),
            ours.clone(),
            limit.clone(),
        );
        let sending = sending.clone();
        tasks.spawn(async move {
            let _permit = limit.acquire_owned().await;
            (index, send(&cluster, &sending, &options, &ours).await)
        });
    }
    let mut outcomes: HashMap<usize, Outcome> = HashMap::new();
    while let Some(joined) = tasks.join_next().await {
        match joined {
            Ok((index, outcome)) => {
                outcomes.insert(index, outcome);
            }
            Err(e) => {
                // A task only ends this way if it panicked: report it on every unsent object.
                let message = format!("internal error: {e}");
                for index in 0..batch.len() {
                    outcomes
                        .entry(index)
                        .or_insert_with(|| Outcome::Failed(message.clone()));
                }
            }
        }
    }
    (0..batch.len())
        .map(|i| {
            outcomes
                .remove(&i)
                .unwrap_or_else(|| Outcome::Failed("not sent".to_owned()))
        })
        .collect()
}

/// Sends one object with server-side apply and says what changed.
async fn send(cluster: &Cluster, sending: &Sending, options: &Options, ours: &Ours) -> Outcome {
    let kind = match cluster
        .kind(&sending.group, &sending.version, &sending.kind)
        .await
    {
        Ok(kind) => kind,
        Err(refusal)
            if refusal.kind == RefusalKind::NotFound
                && options.dry_run.is_some()
                && ours
                    .kinds
                    .contains(&(sending.group.clone(), sending.kind.clone())) =>
        {
            return Outcome::Unchecked("its CustomResourceDefinition is applied first");
        }
        Err(refusal) => return Outcome::Failed(refusal.message),
    };
    // A dry run cannot have the server check an object in a namespace this run creates.
    let namespace_comes_first = |refusal: &Refusal| {
        options.dry_run.is_some()
            && refusal.kind == RefusalKind::NotFound
            && sending
                .namespace
                .as_ref()
                .is_some_and(|ns| ours.namespaces.contains(ns))
    };
    let api = cluster.api(&kind, sending.namespace.as_deref());
    let live = match api.get_opt(&sending.name).await {
        Ok(live) => live.map(value_of),
        Err(e) => {
            let refusal = Refusal::of(e);
            if namespace_comes_first(&refusal) {
                return Outcome::Unchecked("its namespace is created first");
            }
            return Outcome::Failed(refusal.message);
        }
    };
    if options.dry_run == Some(DryRun::Client) {
        return match live {
            None => Outcome::Created,
            Some(live) if diff::contains(&live, &sending.value) => Outcome::Unchanged,
            Some(_) => Outcome::Configured,
        };
    }
    let params = PatchParams {
        dry_run: options.dry_run == Some(DryRun::Server),
        force: options.force_conflicts,
        field_manager: Some(MANAGER.to_owned()),
        field_validation: Some(ValidationDirective::Strict),
    };
    match api
        .patch(&sending.name, &params, &Patch::Apply(&sending.value))
        .await
    {
        Ok(after) => {
            let after = value_of(after);
            match live {
                None => Outcome::Created,
                Some(before) if diff::same_intent(&before, &after) => Outcome::Unchanged,
                Some(_) => Outcome::Configured,
            }
        }
        Err(e) => {
            let refusal = Refusal::of(e);
            if namespace_comes_first(&refusal) {
                return Outcome::Unchecked("its namespace is created first");
            }
            Outcome::Failed(match refusal.kind {
                RefusalKind::Conflict => format!(
                    "{} (another field manager owns these fields; --force-conflicts takes them over)",
                    refusal.message
                ),
                _ => refusal.message,
            })
        }
    }
}

pub(crate) fn value_of(object: DynamicObject) -> Value {
    serde_json::to_value(object).unwrap_or(Value::Null)
}

/// The sets of a render or of a rendered directory, for one environment.
pub fn sets_of(
    files: &BTreeMap<String, Vec<u8>>,
    env: Option<&str>,
    root: &std::path::Path,
) -> Result<Vec<Set>, manifest::ManifestError> {
    let env = manifest::choose_env(files, env)?;
    manifest::sets(files, &env, root)
}
