//! Leader election with a coordination.k8s.io Lease, as client-go does it: one replica holds
//! the Lease and renews it; the others wait until it expires (or is released) and take it
//! over. Every change goes through the Lease's resourceVersion, so two replicas can never both
//! believe they hold it.

use std::time::Duration;

use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, ObjectMeta};
use k8s_openapi::jiff::{SignedDuration, Timestamp};
use kube::api::{Api, PostParams};

/// How this replica takes part in the election.
#[derive(Debug, Clone)]
pub struct Election {
    pub namespace: String,
    pub name: String,
    /// This replica's identity (its pod name in a cluster).
    pub identity: String,
    /// How long a Lease not renewed stays its holder's.
    pub duration: Duration,
}

impl Election {
    /// How often the holder renews, and others look: a third of the duration, so two renewals
    /// can fail before the Lease expires.
    fn period(&self) -> Duration {
        self.duration / 3
    }

    fn api(&self, client: &kube::Client) -> Api<Lease> {
        Api::namespaced(client.clone(), &self.namespace)
    }

    /// Returns once this replica holds the Lease.
    pub async fn acquire(&self, client: &kube::Client) {
        loop {
            match self.try_acquire(&self.api(client)).await {
                Ok(true) => return,
                Ok(false) => {}
                Err(e) => tracing::warn!("leader election: {e}"),
            }
            tokio::time::sleep(self.period()).await;
        }
    }

    /// Renews the Lease until a renewal cannot be made before it would expire; returns then,
    /// as this replica is no longer the leader.
    pub async fn hold(&self, client: &kube::Client) {
        let api = self.api(client);
        let mut renewed = tokio::time::Instant::now();
        loop {
            tokio::time::sleep(self.period()).await;
            match self.try_acquire(&api).await {
                Ok(true) => renewed = tokio::time::Instant::now(),
                Ok(false) => {
                    tracing::warn!("leader election: another replica took the Lease");
                    return;
                }
                Err(e) => tracing::warn!("leader election: cannot renew: {e}"),
            }
            if renewed.elapsed() >= self.duration {
                tracing::warn!("leader election: the Lease expired before it could be renewed");
                return;
            }
        }
    }

    /// Gives the Lease up so that a standby replica takes over at once.
    pub async fn release(&self, client: &kube::Client) {
        let api = self.api(client);
        let Ok(Some(mut lease)) = api.get_opt(&self.name).await else {
            return;
        };
        let spec = lease.spec.get_or_insert_with(LeaseSpec::default);
        if spec.holder_identity.as_deref() != Some(self.identity.as_str()) {
            return;
        }
        spec.holder_identity = None;
        spec.lease_duration_seconds = Some(1);
        if let Err(e) = api
            .replace(&self.name, &PostParams::default(), &lease)
            .await
        {
            tracing::warn!("leader election: cannot release the Lease: {e}");
        }
    }

    /// Takes or renews the Lease if it is free, expired or already ours; false when another
    /// replica holds it.
    async fn try_acquire(&self, api: &Api<Lease>) -> Result<bool, kube::Error> {
        let now = Timestamp::now();
        let seconds = i32::try_from(self.duration.as_secs().max(1)).unwrap_or(i32::MAX);
        let Some(mut lease) = api.get_opt(&self.name).await? else {
            let lease = Lease {
                metadata: ObjectMeta {
                    name: Some(self.name.clone()),
                    namespace: Some(self.namespace.clone()),
                    ..ObjectMeta::default()
                },
                spec: Some(LeaseSpec {
                    holder_identity: Some(self.identity.clone()),
                    lease_duration_seconds: Some(seconds),
                    acquire_time: Some(MicroTime(now)),
                    renew_time: Some(MicroTime(now)),
                    lease_transitions: Some(0),
                    ..LeaseSpec::default()
                }),
            };
            return match api.create(&PostParams::default(), &lease).await {
                Ok(_) => Ok(true),
                // Another replica created it first.
                Err(kube::Error::Api(s)) if s.code == 409 => Ok(false),
                Err(e) => Err(e),
            };
        };
        let spec = lease.spec.get_or_insert_with(LeaseSpec::default);
        let ours = spec.holder_identity.as_deref() == Some(self.identity.as_str());
        let held = spec
            .holder_identity
            .as_deref()
            .is_some_and(|h| !h.is_empty());
        let expires = spec.renew_time.as_ref().map(|t| {
            let lasts = spec.lease_duration_seconds.unwrap_or(seconds);
            t.0 + SignedDuration::from_secs(i64::from(lasts))
        });
        let expired = expires.is_none_or(|at| at <= now);
        if held && !ours && !expired {
            return Ok(false);
        }
        if !ours {
            spec.holder_identity = Some(self.identity.clone());
            spec.acquire_time = Some(MicroTime(now));
            spec.lease_transitions = Some(spec.lease_transitions.unwrap_or(0) + 1);
        }
        spec.lease_duration_seconds = Some(seconds);
        spec.renew_time = Some(MicroTime(now));
        // The resourceVersion read above makes this fail if anyone changed the Lease since.
        match api
            .replace(&self.name, &PostParams::default(), &lease)
            .await
        {
            Ok(_) => Ok(true),
            Err(kube::Error::Api(s)) if s.code == 409 => Ok(false),
            Err(e) => Err(e),
        }
    }
}
