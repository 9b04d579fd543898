//! The cached registry lists: refreshed in the background every interval, rendered once
//! per refresh into the JSON the page gets, and kept when the registry stops answering so
//! that the page goes on working on the last good copy and says so. Each good widget list
//! also tells the bundle proxy which URLs are still registered, so that the pins of the
//! others are dropped.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, RwLock};
use std::time::{Duration, SystemTime};

use axum::body::Bytes;
use serde::Serialize;
use tokio::sync::watch;

use crate::bundle::Bundles;
use crate::source::{Collection, RegistrySource, SourceError};
use crate::view::{
    Bundle, ProductView, RegistryEntry, bundle_of, parse_products, parse_registry, widget_view,
};

/// One collection's last good answer.
struct Good<T> {
    items: Vec<T>,
    fetched_at: SystemTime,
}

/// One collection's state.
struct Slot<T> {
    good: Option<Good<T>>,
    /// The last refresh's failure; `None` when it succeeded.
    error: Option<String>,
    /// The rendered answer for the page; `None` until a first list was read.
    body: Option<Bytes>,
}

impl<T> Default for Slot<T> {
    fn default() -> Self {
        Slot {
            good: None,
            error: None,
            body: None,
        }
    }
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Answer<'a, T: Serialize> {
    /// `live`: the last refresh succeeded; `cached`: it failed and this is the last good copy.
    source: &'static str,
    error: Option<&'a str>,
    fetched_at: String,
    #[serde(flatten)]
    items: T,
}

#[derive(Serialize)]
struct Widgets<T: Serialize> {
    widgets: T,
}

#[derive(Serialize)]
struct Products<'a> {
    products: &'a [ProductView],
}

/// The cache; shared by the handlers and the refresher.
pub struct Listing {
    source: Arc<dyn RegistrySource>,
    stale_after: Duration,
    widgets: RwLock<Slot<RegistryEntry>>,
    products: RwLock<Slot<ProductView>>,
    /// Bundle URLs by widget id, from the last good list.
    bundles: RwLock<Arc<HashMap<String, Bundle>>>,
    /// The proxy whose pins follow the registered URLs.
    proxy: Arc<Bundles>,
}

/// What a handler gets for a collection.
pub enum Current {
    /// The rendered JSON answer.
    Ready(Bytes),
    /// No list was ever read; the reason of the last failure.
    Unavailable(String),
}

fn read<T>(lock: &RwLock<T>) -> std::sync::RwLockReadGuard<'_, T> {
    lock.read()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn write<T>(lock: &RwLock<T>) -> std::sync::RwLockWriteGuard<'_, T> {
    lock.write()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn to_bytes<T: Serialize>(value: &T) -> Bytes {
    // These types serialize to JSON infallibly: string keys, no non-finite floats.
    Bytes::from(serde_json::to_vec(value).unwrap_or_else(|_| b"null".to_vec()))
}

fn current<T>(slot: &RwLock<Slot<T>>) -> Current {
    let slot = read(slot);
    match (&slot.body, &slot.error) {
        (Some(body), _) => Current::Ready(body.clone()),
        (None, Some(e)) => Current::Unavailable(e.clone()),
        (None, None) => Current::Unavailable("the registry has not been read yet".to_owned()),
    }
}

impl Listing {
    pub fn new(
        source: Arc<dyn RegistrySource>,
        stale_after: Duration,
        proxy: Arc<Bundles>,
    ) -> Self {
        Listing {
            source,
            stale_after,
            widgets: RwLock::default(),
            products: RwLock::default(),
            bundles: RwLock::default(),
            proxy,
        }
    }

    pub fn widgets(&self) -> Current {
        current(&self.widgets)
    }

    pub fn products(&self) -> Current {
        current(&self.products)
    }

    /// Whether both lists have been read at least once.
    pub fn is_ready(&self) -> bool {
        read(&self.widgets).good.is_some() && read(&self.products).good.is_some()
    }

    /// The bundle URLs registered for a widget, if the widget is known.
    pub fn bundle(&self, id: &str) -> Option<Bundle> {
        read(&self.bundles).get(id).cloned()
    }

    /// Reads both lists once and re-renders the answers.
    pub async fn refresh(&self) {
        let (widgets, products) = tokio::join!(
            self.source.fetch(Collection::Widgets),
            self.source.fetch(Collection::Products)
        );
        let now = SystemTime::now();
        self.update_widgets(widgets, now);
        self.update_products(products, now);
    }

    fn update_widgets(&self, fetched: Result<Vec<u8>, SourceError>, now: SystemTime) {
        let parsed = fetched.map_err(|e| e.to_string()).and_then(|body| {
            parse_registry(&body).map_err(|e| format!("the registry list is not valid: {e}"))
        });
        let mut slot = write(&self.widgets);
        match parsed {
            Ok((items, skipped)) => {
                if skipped > 0 {
                    tracing::warn!(skipped, "registry entries without an id were skipped");
                }
                let bundles: HashMap<String, Bundle> =
                    items.iter().map(|e| (e.id.clone(), bundle_of(e))).collect();
                let urls: HashSet<String> = bundles
                    .values()
                    .flat_map(|b| [&b.js, &b.css])
                    .flatten()
                    .map(|u| u.as_str().to_owned())
                    .collect();
                self.proxy.keep_only(&urls);
                *write(&self.bundles) = Arc::new(bundles);
                slot.good = Some(Good {
                    items,
                    fetched_at: now,
                });
                slot.error = None;
            }
            Err(e) => {
                tracing::warn!(error = %e, "registry list not refreshed");
                slot.error = Some(e);
            }
        }
        let live = slot.error.is_none();
        slot.body = slot.good.as_ref().map(|good| {
            let views: Vec<_> = good
                .items
                .iter()
                .map(|e| widget_view(e, live, now, self.stale_after))
                .collect();
            to_bytes(&Answer {
                source: if live { "live" } else { "cached" },
                error: slot.error.as_deref(),
                fetched_at: humantime::format_rfc3339_millis(good.fetched_at).to_string(),
                items: Widgets { widgets: views },
            })
        });
    }

    fn update_products(&self, fetched: Result<Vec<u8>, SourceError>, now: SystemTime) {
        let parsed = fetched.map_err(|e| e.to_string()).and_then(|body| {
            parse_products(&body).map_err(|e| format!("the product catalog is not valid: {e}"))
        });
        let mut slot = write(&self.products);
        match parsed {
            Ok((items, _)) => {
                slot.good = Some(Good {
                    items,
                    fetched_at: now,
                });
                slot.error = None;
            }
            Err(e) => {
                tracing::warn!(error = %e, "product catalog not refreshed");
                slot.error = Some(e);
            }
        }
        let live = slot.error.is_none();
        slot.body = slot.good.as_ref().map(|good| {
            to_bytes(&Answer {
                source: if live { "live" } else { "cached" },
                error: slot.error.as_deref(),
                fetched_at: humantime::format_rfc3339_millis(good.fetched_at).to_string(),
                items: Products {
                    products: &good.items,
                },
            })
        });
    }

    /// Refreshes every `interval` until `stop` turns true.
    pub async fn run(self: Arc<Self>, interval: Duration, mut stop: watch::Receiver<bool>) {
        let mut ticker = tokio::time::interval(interval);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = ticker.tick() => self.refresh().await,
                _ = stop.changed() => return,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bundle::Bundles;
    use crate::source::SourceFuture;
    use std::sync::Mutex;

    /// Answers from a script, one answer per fetch, per collection.
    struct Scripted {
        widgets: Mutex<Vec<Result<Vec<u8>, SourceError>>>,
    }

    impl RegistrySource for Scripted {
        fn fetch(&self, what: Collection) -> SourceFuture<'_> {
            let answer = match what {
                Collection::Widgets => {
                    let mut w = self.widgets.lock().unwrap();
                    if w.len() > 1 {
                        w.remove(0)
                    } else {
                        w[0].clone()
                    }
                }
                Collection::Products => Ok(b"[]".to_vec()),
            };
            Box::pin(async move { answer })
        }
    }

    fn proxy() -> Arc<Bundles> {
        // What `dappmesh_service::startup::init` does in the binary.
        let _ = rustls::crypto::ring::default_provider().install_default();
        Arc::new(Bundles::new(Default::default(), Default::default()).unwrap())
    }

    fn json(c: Current) -> serde_json::Value {
        match c {
            Current::Ready(b) => serde_json::from_slice(&b).unwrap(),
            Current::Unavailable(e) => panic!("unavailable: {e}"),
        }
    }

    #[tokio::test]
    async fn the_last_good_list_is_served_when_the_registry_fails() {
        let good = br#"[{"id":"w","service":{"webComponent":{"jsUrl":"http://w/b.js"}},"widget":{"tag":"w-x"},"stale":false,"lastUpdated":"2099-01-01T00:00:00Z"}]"#;
        let listing = Listing::new(
            Arc::new(Scripted {
                widgets: Mutex::new(vec![
                    Err(SourceError::Unreachable("connection failed".into())),
                    Ok(good.to_vec()),
                    Err(SourceError::Status(500)),
                ]),
            }),
            Duration::from_secs(15),
            proxy(),
        );
        listing.refresh().await;
        assert!(
            matches!(listing.widgets(), Current::Unavailable(e) if e.contains("connection failed"))
        );
        assert!(!listing.is_ready());
        listing.refresh().await;
        let live = json(listing.widgets());
        assert_eq!(live["source"], "live");
        assert_eq!(live["error"], serde_json::Value::Null);
        assert_eq!(live["widgets"][0]["id"], "w");
        assert!(listing.is_ready());
        listing.refresh().await;
        let cached = json(listing.widgets());
        assert_eq!(cached["source"], "cached");
        assert_eq!(cached["error"], "the registry answered HTTP 500");
        assert_eq!(cached["widgets"], live["widgets"]);
        assert_eq!(cached["fetchedAt"], live["fetchedAt"]);
        assert!(listing.bundle("w").is_some_and(|b| b.js.is_some()));
        assert!(listing.bundle("other").is_none());
    }

    #[tokio::test]
    async fn an_invalid_answer_counts_as_a_failure() {
        let listing = Listing::new(
            Arc::new(Scripted {
                widgets: Mutex::new(vec![Ok(b"<html>".to_vec())]),
            }),
            Duration::from_secs(15),
            proxy(),
        );
        listing.refresh().await;
        assert!(matches!(listing.widgets(), Current::Unavailable(e) if e.contains("not valid")));
        assert!(matches!(listing.products(), Current::Ready(_)));
    }
}
