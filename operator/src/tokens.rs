//! Each product's own registry token, so no team shares one with another and no person has
//! to make it: the Secret `<product>-registry-token` in the product's namespace (made once,
//! from the operating system's random number generator, and never changed after), and the
//! product's line in the Secret the registry reads products' tokens from, granting exactly
//! the ids its widgets register under. Deleting the product's Secret rotates its token;
//! deleting the product takes its line out.

use std::collections::BTreeMap;

use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::Secret;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::Client;
use kube::api::{Api, Patch, PatchParams, PostParams};
use serde_json::json;

use crate::Result;
use crate::children::{self, MANAGER};
use crate::resource::DataProduct;
use crate::{registry, secrets};

/// The Secret in the platform namespace with one key per product that has widgets, which the
/// registry mounts as a directory of token files (`--tokens-file`).
pub const PRODUCT_TOKENS: &str = "dappmesh-registry-product-tokens";

/// The key of the product's Secret that holds its token (the heartbeat's token file).
pub const TOKEN_KEY: &str = "token";

/// The product's token Secret, in its namespace; `widgets.yaml.j2` mounts the same name.
pub fn secret_name(product: &str) -> String {
    format!("{product}-registry-token")
}

/// The product's key in [`PRODUCT_TOKENS`]: `<namespace>.<product>`, since names repeat
/// across namespaces. Both are DNS labels, so it is a valid Secret key, and it never starts
/// with `.`, which the registry skips (the kubelet's own entries in a mounted Secret do).
pub fn entry_key(product: &DataProduct) -> String {
    format!(
        "{}.{}",
        product.metadata.namespace.as_deref().unwrap_or_default(),
        product.metadata.name.as_deref().unwrap_or_default()
    )
}

/// The registry's token line for the product: its token, then one exact grant per widget id
/// (never a prefix: `registry:sales-orders*` would also cover a product `sales-orders-eu`).
pub fn line(token: &str, ids: &[String]) -> String {
    let grants: Vec<String> = ids.iter().map(|id| format!("registry:{id}")).collect();
    format!("{token} {}\n", grants.join(" "))
}

/// Brings the product's token in line: with widgets, its Secret exists (made if missing) and
/// its line grants exactly their ids; without, it has no line. Returns why not when the
/// Secret is there but holds no usable token: not the operator's to overwrite, so the
/// status names it as it names a child the product does not own, and the product's line is
/// taken out meanwhile (the token it granted may be the one someone meant to replace).
pub async fn ensure(
    client: &Client,
    platform: &str,
    product: &DataProduct,
) -> Result<Option<String>> {
    let key = entry_key(product);
    let ids = registry::widget_ids(product);
    if ids.is_empty() {
        set_entry(client, platform, PRODUCT_TOKENS, &key, None).await?;
        return Ok(None);
    }
    match product_token(client, product).await? {
        Ok(token) => {
            set_entry(
                client,
                platform,
                PRODUCT_TOKENS,
                &key,
                Some(&line(&token, &ids)),
            )
            .await?;
            Ok(None)
        }
        Err(conflict) => {
            set_entry(client, platform, PRODUCT_TOKENS, &key, None).await?;
            Ok(Some(conflict))
        }
    }
}

/// Takes the product's line out, so its token opens nothing once the product is deleted.
/// Its Secret goes with the product, through the owner reference.
pub async fn forget(client: &Client, platform: &str, product: &DataProduct) -> Result<()> {
    set_entry(client, platform, PRODUCT_TOKENS, &entry_key(product), None).await
}

/// The token in the product's Secret, which is made if missing and never changed after: a
/// token that changed under a running heartbeat would fail its next beat. Err: the Secret
/// exists without a usable token, as the conflict to report.
async fn product_token(
    client: &Client,
    product: &DataProduct,
) -> Result<std::result::Result<String, String>> {
    let namespace = product.metadata.namespace.clone().unwrap_or_default();
    let name = secret_name(product.metadata.name.as_deref().unwrap_or_default());
    let api: Api<Secret> = Api::namespaced(client.clone(), &namespace);
    let wanted = token_secret(product, &name, &secrets::generate()?);
    let (live, _) = secrets::get_or_create(&api, &wanted).await?;
    Ok(usable(&live).ok_or_else(|| {
        format!(
            "Secret/{name}: has no usable key {TOKEN_KEY} (16 to 512 printable characters, without `#` or `;`); delete it and the operator makes a new one"
        )
    }))
}

/// The Secret's token, if the registry would take it: what its token files accept, and
/// without the characters that start a comment or another token there.
pub(crate) fn usable(secret: &Secret) -> Option<String> {
    let token = secrets::text(secret, TOKEN_KEY)?;
    let printable = token
        .bytes()
        .all(|b| b.is_ascii_graphic() && b != b'#' && b != b';');
    ((16..=512).contains(&token.len()) && printable).then(|| token.to_owned())
}

/// The product's token Secret: owned by the product, so it goes with it, and labelled as the
/// operator's, since no render has it.
fn token_secret(product: &DataProduct, name: &str, token: &str) -> Secret {
    let labels = secrets::labels(&[(
        "dappmesh.io/product",
        product.metadata.name.as_deref().unwrap_or_default(),
    )]);
    Secret {
        metadata: ObjectMeta {
            name: Some(name.to_owned()),
            namespace: product.metadata.namespace.clone(),
            labels: Some(labels),
            owner_references: Some(vec![children::owner_reference(product)]),
            ..ObjectMeta::default()
        },
        type_: Some("Opaque".to_owned()),
        data: Some(BTreeMap::from([(
            TOKEN_KEY.to_owned(),
            ByteString(token.as_bytes().to_vec()),
        )])),
        ..Secret::default()
    }
}

/// Sets the key `key` of the platform's tokens Secret `secret` ([`PRODUCT_TOKENS`] or
/// [`crate::platform::PLATFORM_TOKENS`]) to `line` (None: removes it), writing only when it
/// differs and only that key: a merge patch, so products reconciled at once never undo each
/// other's lines. The Secret is made with the first line.
pub(crate) async fn set_entry(
    client: &Client,
    platform: &str,
    secret: &str,
    key: &str,
    line: Option<&str>,
) -> Result<()> {
    let api: Api<Secret> = Api::namespaced(client.clone(), platform);
    let live = api.get_opt(secret).await?;
    let current = live
        .as_ref()
        .and_then(|s| s.data.as_ref()?.get(key))
        .map(|b| b.0.as_slice());
    if current == line.map(str::as_bytes) {
        return Ok(());
    }
    let value = line.map(|l| ByteString(l.as_bytes().to_vec()));
    if live.is_none() {
        let Some(value) = &value else {
            return Ok(());
        };
        let params = PostParams {
            field_manager: Some(MANAGER.to_owned()),
            ..PostParams::default()
        };
        match api
            .create(
                &params,
                &tokens_secret(platform, secret, key, value.clone()),
            )
            .await
        {
            Ok(_) => return Ok(()),
            // Another reconcile made it first: this key goes into theirs.
            Err(kube::Error::Api(e)) if e.code == 409 => {}
            Err(e) => return Err(e.into()),
        }
    }
    // `null` deletes the key.
    let patch = json!({"data": {key: value}});
    let params = PatchParams {
        field_manager: Some(MANAGER.to_owned()),
        ..PatchParams::default()
    };
    match api.patch(secret, &params, &Patch::Merge(&patch)).await {
        Ok(_) => Ok(()),
        // Deleted since the read: no line left to take out.
        Err(kube::Error::Api(e)) if e.code == 404 && line.is_none() => Ok(()),
        Err(e) => Err(e.into()),
    }
}

fn tokens_secret(platform: &str, secret: &str, key: &str, value: ByteString) -> Secret {
    Secret {
        metadata: ObjectMeta {
            name: Some(secret.to_owned()),
            namespace: Some(platform.to_owned()),
            labels: Some(secrets::labels(&[])),
            ..ObjectMeta::default()
        },
        type_: Some("Opaque".to_owned()),
        data: Some(BTreeMap::from([(key.to_owned(), value)])),
        ..Secret::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    // The registry crate, not this crate's `registry` module.
    use ::registry::auth::{Denied, Need, ReadAccess, Tokens};
    use ::registry::store::Collection;

    #[test]
    fn the_registry_grants_the_line_exactly_its_widget_ids() {
        let token = secrets::generate().unwrap();
        assert_eq!(token.len(), 64);
        assert!(token.bytes().all(|b| b.is_ascii_hexdigit()), "{token}");
        let ids = [
            "sales-orders-chart".to_owned(),
            "sales-orders-map".to_owned(),
        ];
        let mut tokens = Tokens::default();
        tokens.add("sales.orders", &line(&token, &ids)).unwrap();
        let write = |id| {
            tokens.check(
                Some(&token),
                Need::Write(Collection::Registry, id),
                ReadAccess::Token,
            )
        };
        assert_eq!(write("sales-orders-chart"), Ok(()));
        assert_eq!(write("sales-orders-map"), Ok(()));
        // Not another product's widget whose id merely starts the same, nor a read.
        assert_eq!(write("sales-orders-chart-eu"), Err(Denied::Forbidden));
        assert_eq!(
            tokens.check(Some(&token), Need::Read, ReadAccess::Token),
            Err(Denied::Forbidden)
        );
    }

    #[test]
    fn a_token_the_registry_would_misread_is_not_used() {
        let secret = |token: &str| Secret {
            data: Some(BTreeMap::from([(
                TOKEN_KEY.to_owned(),
                ByteString(token.as_bytes().to_vec()),
            )])),
            ..Secret::default()
        };
        assert_eq!(
            usable(&secret("0123456789abcdef\n")).as_deref(),
            Some("0123456789abcdef")
        );
        assert_eq!(usable(&secret("short")), None);
        assert_eq!(usable(&secret("0123456789abcdef#x")), None);
        assert_eq!(usable(&secret("0123456789 abcdef")), None);
        assert_eq!(usable(&Secret::default()), None);
    }
}
