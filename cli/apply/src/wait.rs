//! `--wait`: polls what was applied until every object is ready (see [`super::status`]) or
//! the time is up, showing what it still waits for.

use std::time::{Duration, Instant};

use tokio::task::JoinSet;

use super::Report;
use super::cluster::{Cluster, Refusal};
use super::status::{Readiness, Status, status};

/// An object to wait for.
#[derive(Debug, Clone)]
pub struct Target {
    pub reference: String,
    pub group: String,
    pub version: String,
    pub kind: String,
    pub name: String,
    pub namespace: Option<String>,
}

/// Time between two looks: short at first, as most objects are ready within a second.
fn pause(round: u32) -> Duration {
    Duration::from_millis(match round {
        0..=3 => 250,
        4..=10 => 1000,
        _ => 2000,
    })
}

/// Waits until every target is Current; returns those that are not when the time is up, or
/// when each one left has Failed, with their last status.
pub async fn wait(
    cluster: &std::sync::Arc<Cluster>,
    targets: &[Target],
    timeout: Duration,
    report: &mut dyn Report,
) -> Vec<(Target, Status)> {
    let started = Instant::now();
    let deadline = started + timeout;
    let mut pending: Vec<(Target, Status)> = targets
        .iter()
        .map(|t| {
            let waiting = Status {
                readiness: Readiness::InProgress,
                message: "not looked at yet".to_owned(),
            };
            (t.clone(), waiting)
        })
        .collect();
    let mut round = 0;
    loop {
        pending = look(cluster, pending).await;
        pending.retain(|(_, s)| s.readiness != Readiness::Current);
        let all_failed = pending
            .iter()
            .all(|(_, s)| s.readiness == Readiness::Failed);
        if pending.is_empty() || all_failed || Instant::now() >= deadline {
            break;
        }
        let (first, status) = &pending[0];
        report.progress(&format!(
            "waiting for {} of {} objects ({}s): {}: {}",
            pending.len(),
            targets.len(),
            started.elapsed().as_secs(),
            first.reference,
            status.message
        ));
        tokio::time::sleep(pause(round).min(deadline.saturating_duration_since(Instant::now())))
            .await;
        round += 1;
    }
    report.progress("");
    pending
}

/// The current status of each target, a few requests at a time.
async fn look(
    cluster: &std::sync::Arc<Cluster>,
    pending: Vec<(Target, Status)>,
) -> Vec<(Target, Status)> {
    let limit = std::sync::Arc::new(tokio::sync::Semaphore::new(super::PARALLEL));
    let mut tasks = JoinSet::new();
    let count = pending.len();
    let targets: Vec<Target> = pending.iter().map(|(t, _)| t.clone()).collect();
    for (index, (target, _)) in pending.into_iter().enumerate() {
        let cluster = cluster.clone();
        let limit = limit.clone();
        tasks.spawn(async move {
            let _permit = limit.acquire_owned().await;
            let status = current(&cluster, &target).await;
            (index, target, status)
        });
    }
    let mut looked: Vec<Option<(Target, Status)>> = vec![None; count];
    while let Some(joined) = tasks.join_next().await {
        if let Ok((index, target, status)) = joined {
            looked[index] = Some((target, status));
        }
    }
    // A look that panicked leaves its object waiting, never counted as ready.
    looked
        .into_iter()
        .zip(targets)
        .map(|(found, target)| {
            found.unwrap_or_else(|| {
                let status = Status {
                    readiness: Readiness::InProgress,
                    message: "internal error while looking at it".to_owned(),
                };
                (target, status)
            })
        })
        .collect()
}

async fn current(cluster: &Cluster, target: &Target) -> Status {
    let kind = match cluster
        .kind(&target.group, &target.version, &target.kind)
        .await
    {
        Ok(kind) => kind,
        Err(refusal) => return unknown(refusal),
    };
    let api = cluster.api(&kind, target.namespace.as_deref());
    match api.get_opt(&target.name).await {
        Ok(live) => {
            let live = live.map(super::value_of);
            status(&target.group, &target.kind, live.as_ref())
        }
        Err(e) => unknown(Refusal::of(e)),
    }
}

/// A look that failed leaves the object waiting, saying why: the next look may succeed.
fn unknown(refusal: Refusal) -> Status {
    Status {
        readiness: Readiness::InProgress,
        message: format!("cannot read it: {}", refusal.message),
    }
}
