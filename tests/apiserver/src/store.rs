//! The object store: every object by resource, namespace and name, the metadata the server owns
//! (uid, timestamps, generation, the global resourceVersion counter), deletion with finalizers
//! and cascades, and the bounded history of changes that watches replay.

use std::{
    collections::{BTreeMap, VecDeque},
    hash::BuildHasher,
    time::{SystemTime, UNIX_EPOCH},
};

use serde_json::{Value, json};
use tokio::sync::watch;

use crate::{discovery::Resource, status::Status};

/// (group, plural, namespace or "" when cluster-scoped, name)
type Key = (String, String, String, String);

/// How many changes a watch can resume from; older resourceVersions get 410 Expired. Enough
/// for a watcher to keep up while a benchmark writes thousands of objects (a real API
/// server's watch cache holds minutes of changes).
pub const HISTORY: usize = 16 * 1024;

/// One change, as a watch reports it.
pub(crate) struct Event {
    pub revision: u64,
    pub kind: &'static str,
    pub group: String,
    pub plural: String,
    pub object: Value,
}

pub(crate) struct Store {
    revision: u64,
    objects: BTreeMap<Key, Value>,
    history: VecDeque<Event>,
    changes: watch::Sender<u64>,
}

impl Store {
    pub(crate) fn new() -> Self {
        Store {
            revision: 0,
            objects: BTreeMap::new(),
            history: VecDeque::new(),
            changes: watch::Sender::new(0),
        }
    }

    /// The current resourceVersion: that of the latest change.
    pub(crate) fn revision(&self) -> u64 {
        self.revision
    }

    /// Wakes on every change; watches use it to wait without polling.
    pub(crate) fn subscribe(&self) -> watch::Receiver<u64> {
        self.changes.subscribe()
    }

    pub(crate) fn get(&self, r: &Resource, namespace: &str, name: &str) -> Option<&Value> {
        self.objects.get(&key(r, namespace, name))
    }

    /// Every object of one resource, ordered by namespace and name; only those of one
    /// namespace when it is given. A range of the ordered keys, not a scan: benchmarks keep
    /// tens of thousands of objects here.
    pub(crate) fn list(
        &self,
        group: &str,
        plural: &str,
        namespace: Option<&str>,
    ) -> impl Iterator<Item = &Value> {
        let start = (
            group.to_string(),
            plural.to_string(),
            namespace.unwrap_or_default().to_string(),
            String::new(),
        );
        let (group, plural) = (start.0.clone(), start.1.clone());
        let namespace = namespace.map(str::to_string);
        self.objects
            .range(start..)
            .take_while(move |(k, _)| {
                k.0 == group && k.1 == plural && namespace.as_ref().is_none_or(|n| &k.2 == n)
            })
            .map(|(_, v)| v)
    }

    pub(crate) fn all(&self) -> impl Iterator<Item = &Value> {
        self.objects.values()
    }

    /// The changes after `revision`, or 410 Expired when the history no longer reaches back
    /// that far.
    pub(crate) fn since(&self, revision: u64) -> Result<impl Iterator<Item = &Event>, Status> {
        match self.history.front() {
            Some(first) if revision + 1 < first.revision => Err(Status::expired(format!(
                "too old resource version: {revision} ({})",
                first.revision - 1
            ))),
            // Revisions only grow along the history: skip to the first one not seen.
            _ => {
                let first = self.history.partition_point(|e| e.revision <= revision);
                Ok(self.history.range(first..))
            }
        }
    }

    /// Stores `next` as the new state of its object and returns what the client sees, plus
    /// whether anything changed. A write equal to the stored object apart from managedFields
    /// times changes nothing, so clients can tell an unchanged apply by its resourceVersion.
    pub(crate) fn commit(
        &mut self,
        r: &Resource,
        live: Option<&Value>,
        mut next: Value,
        dry_run: bool,
    ) -> (Value, bool) {
        adopt(live, &mut next);
        if let Some(live) = live {
            if comparable(live) == comparable(&next) {
                return (live.clone(), false);
            }
            if spec(live) != spec(&next) {
                next["metadata"]["generation"] =
                    json!(live["metadata"]["generation"].as_i64().unwrap_or(1) + 1);
            }
        }
        if dry_run {
            return (next, true);
        }
        let meta = &next["metadata"];
        let key = key(
            r,
            meta["namespace"].as_str().unwrap_or_default(),
            meta["name"].as_str().unwrap_or_default(),
        );
        let finalized = meta["finalizers"].as_array().is_none_or(Vec::is_empty);
        if meta.get("deletionTimestamp").is_some() && finalized {
            return (self.remove(&key).unwrap_or(next), true);
        }
        let kind = if live.is_some() { "MODIFIED" } else { "ADDED" };
        (self.put(key, next, kind), true)
    }

    /// Starts the deletion of an object that still has finalizers: it stays, marked, until an
    /// update empties them.
    pub(crate) fn mark_deleted(
        &mut self,
        r: &Resource,
        namespace: &str,
        name: &str,
    ) -> Option<Value> {
        let mut object = self.get(r, namespace, name)?.clone();
        if object["metadata"].get("deletionTimestamp").is_some() {
            return Some(object);
        }
        object["metadata"]["deletionTimestamp"] = json!(now());
        object["metadata"]["deletionGracePeriodSeconds"] = json!(0);
        Some(self.put(key(r, namespace, name), object, "MODIFIED"))
    }

    /// Removes an object now. A namespace takes its objects with it, a CRD its custom resources.
    pub(crate) fn delete(&mut self, r: &Resource, namespace: &str, name: &str) -> Option<Value> {
        self.remove(&key(r, namespace, name))
    }

    fn remove(&mut self, key: &Key) -> Option<Value> {
        let mut object = self.objects.remove(key)?;
        self.revision += 1;
        object["metadata"]["resourceVersion"] = json!(self.revision.to_string());
        self.record("DELETED", key, object.clone());
        let orphans: Vec<Key> = match (key.0.as_str(), key.1.as_str()) {
            ("", "namespaces") => self
                .objects
                .keys()
                .filter(|k| k.2 == key.3)
                .cloned()
                .collect(),
            ("apiextensions.k8s.io", "customresourcedefinitions") => {
                let (group, plural) =
                    (&object["spec"]["group"], &object["spec"]["names"]["plural"]);
                self.objects
                    .keys()
                    .filter(|k| group == k.0.as_str() && plural == k.1.as_str())
                    .cloned()
                    .collect()
            }
            _ => vec![],
        };
        for orphan in orphans {
            self.remove(&orphan);
        }
        Some(object)
    }

    fn put(&mut self, key: Key, mut object: Value, kind: &'static str) -> Value {
        self.revision += 1;
        object["metadata"]["resourceVersion"] = json!(self.revision.to_string());
        self.objects.insert(key.clone(), object.clone());
        self.record(kind, &key, object.clone());
        object
    }

    fn record(&mut self, kind: &'static str, key: &Key, object: Value) {
        if self.history.len() == HISTORY {
            self.history.pop_front();
        }
        let (group, plural) = (key.0.clone(), key.1.clone());
        self.history.push_back(Event {
            revision: self.revision,
            kind,
            group,
            plural,
            object,
        });
        self.changes.send_replace(self.revision);
    }
}

fn key(r: &Resource, namespace: &str, name: &str) -> Key {
    let namespace = if r.namespaced { namespace } else { "" };
    (
        r.group.clone(),
        r.plural.clone(),
        namespace.to_string(),
        name.to_string(),
    )
}

/// Copies the metadata only the server writes from the stored object, or mints it on create.
fn adopt(live: Option<&Value>, next: &mut Value) {
    let Some(object) = next.as_object_mut() else {
        return;
    };
    let meta = object.entry("metadata").or_insert_with(|| json!({}));
    if !meta.is_object() {
        *meta = json!({});
    }
    let owned = [
        "uid",
        "creationTimestamp",
        "generation",
        "resourceVersion",
        "deletionTimestamp",
        "deletionGracePeriodSeconds",
    ];
    for field in owned {
        match live.and_then(|l| l["metadata"].get(field)) {
            Some(value) => meta[field] = value.clone(),
            None => _ = meta.as_object_mut().and_then(|m| m.shift_remove(field)),
        }
    }
    if live.is_none() {
        meta["uid"] = json!(uid());
        meta["creationTimestamp"] = json!(now());
        meta["generation"] = json!(1);
    }
}

/// The object without what a no-op write may still change: the resourceVersion, and the time
/// (and so the order) of the writer's managedFields entry.
fn comparable(object: &Value) -> Value {
    let mut object = object.clone();
    if let Some(meta) = object["metadata"].as_object_mut() {
        meta.shift_remove("resourceVersion");
        if let Some(Value::Array(entries)) = meta.get_mut("managedFields") {
            entries
                .iter_mut()
                .filter_map(Value::as_object_mut)
                .for_each(|e| _ = e.shift_remove("time"));
            entries.sort_by_cached_key(Value::to_string);
        }
    }
    object
}

/// Everything outside metadata and status: a change here bumps the generation.
fn spec(object: &Value) -> Value {
    let mut object = object.clone();
    if let Some(map) = object.as_object_mut() {
        map.shift_remove("metadata");
        map.shift_remove("status");
    }
    object
}

/// An RFC 3339 UTC timestamp with seconds, as Kubernetes writes them.
pub(crate) fn now() -> String {
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs()) as i64;
    // Days to civil date, after Howard Hinnant's `civil_from_days`.
    let (days, rest) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    let (h, m, s) = (rest / 3_600, rest % 3_600 / 60, rest % 60);
    format!("{year:04}-{month:02}-{day:02}T{h:02}:{m:02}:{s:02}Z")
}

fn uid() -> String {
    let state = std::hash::RandomState::new();
    let (a, b) = (state.hash_one(1u8), state.hash_one(2u8));
    format!(
        "{:08x}-{:04x}-4{:03x}-{:04x}-{:012x}",
        a >> 32,
        (a >> 16) & 0xffff,
        a & 0xfff,
        0x8000 | (b >> 48) & 0x3fff,
        b & 0xffff_ffff_ffff
    )
}

#[cfg(test)]
mod tests {
    #[test]
    fn timestamps_are_rfc3339_utc() {
        let now = super::now();
        assert_eq!(now.len(), 20, "{now}");
        assert!(
            now.starts_with("20") && now.ends_with('Z') && &now[10..11] == "T",
            "{now}"
        );
    }
}
