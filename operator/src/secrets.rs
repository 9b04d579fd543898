//! Secrets the operator makes once and never changes: random values from the operating
//! system, written with create-if-absent semantics. A Secret that exists wins, whoever made
//! it (a person, another replica that led before, an External Secrets controller): the
//! operator only ever creates, so it cannot overwrite what someone else put there.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::Secret;
use kube::api::{Api, PostParams};

use crate::children::MANAGER;
use crate::{Error, Result};

/// Bytes of randomness in a token or password: 256 bits, written as 64 hex digits (no
/// character that a shell, an XML file or a URL would read specially).
const RANDOM_BYTES: usize = 32;

/// The label the operator puts on every Secret it makes, telling them from a person's.
pub const MANAGED_BY: &str = "app.kubernetes.io/managed-by";

/// A new random value: 32 bytes from the operating system, in hex.
pub fn generate() -> Result<String> {
    use ring::rand::SecureRandom;
    let mut bytes = [0u8; RANDOM_BYTES];
    ring::rand::SystemRandom::new()
        .fill(&mut bytes)
        .map_err(|_| Error::Random)?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

/// The Secret named as `wanted` in `api`'s namespace: the live one if it exists, else
/// `wanted`, created now. True when this call made it.
pub async fn get_or_create(api: &Api<Secret>, wanted: &Secret) -> Result<(Secret, bool)> {
    let name = wanted.metadata.name.as_deref().unwrap_or_default();
    if let Some(live) = api.get_opt(name).await? {
        return Ok((live, false));
    }
    let params = PostParams {
        field_manager: Some(MANAGER.to_owned()),
        ..PostParams::default()
    };
    match api.create(&params, wanted).await {
        Ok(made) => Ok((made, true)),
        // Made since the read (by a replica that led before this one, or a person): that
        // one is the Secret, never this.
        Err(kube::Error::Api(e)) if e.code == 409 => Ok((api.get(name).await?, false)),
        Err(e) => Err(e.into()),
    }
}

/// Whether the operator made this Secret (its label), rather than a person.
pub fn made_by_operator(secret: &Secret) -> bool {
    secret
        .metadata
        .labels
        .as_ref()
        .and_then(|l| l.get(MANAGED_BY))
        .is_some_and(|m| m == MANAGER)
}

/// A key of the Secret as text, trimmed; None when it is missing, empty or not UTF-8.
pub fn text<'s>(secret: &'s Secret, key: &str) -> Option<&'s str> {
    let bytes = &secret.data.as_ref()?.get(key)?.0;
    let text = std::str::from_utf8(bytes).ok()?.trim();
    (!text.is_empty()).then_some(text)
}

/// The labels of a Secret the operator makes: who made it, and what else the caller says.
pub fn labels(extra: &[(&str, &str)]) -> BTreeMap<String, String> {
    std::iter::once((MANAGED_BY, MANAGER))
        .chain(extra.iter().copied())
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_256_random_bits_in_hex() {
        let (a, b) = (generate().unwrap(), generate().unwrap());
        assert_eq!(a.len(), 64);
        assert!(a.bytes().all(|c| c.is_ascii_hexdigit()), "{a}");
        assert_ne!(a, b);
    }
}
