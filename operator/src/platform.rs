//! The platform's own registry tokens, made by the leader when it starts, so that no person
//! has to make a Secret for the platform to start: the operator's token
//! ([`OPERATOR_TOKEN`]) and the dashboard's ([`DASHBOARD_TOKEN`]), each made once from the
//! operating system's random number generator when missing, and their grants, one line
//! each in [`PLATFORM_TOKENS`], which the registry reads as one more `--tokens-file`.
//!
//! The operator needs a token the registry must know, and nothing runs before the operator
//! that could make both: so the operator makes its own token through the API (which it
//! reaches with its ServiceAccount, needing nothing from the registry) and uses what it
//! reads back, instead of a mounted file that the kubelet would fill only after the
//! Secret exists (and that would keep the pod from starting until then).
//!
//! A token Secret that exists wins: the operator never overwrites one. It grants only the
//! tokens it made itself (its label): a person who makes one of these Secrets grants its
//! token in `dappmesh-registry-tokens` as before, and the registry refuses a token listed
//! twice, so the operator must not list theirs again.

use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::Secret;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::Client;
use kube::api::Api;

use crate::tokens::{self, TOKEN_KEY};
use crate::{Result, secrets};

/// The operator's registry token (key `token`), in the platform namespace.
pub const OPERATOR_TOKEN: &str = "dappmesh-operator-registry-token";

/// The dashboard's registry token (key `token`), which its pod mounts.
pub const DASHBOARD_TOKEN: &str = "dappmesh-dashboard-registry-token";

/// The grants of the platform tokens the operator made: one key per service, each value
/// one line of the registry's token format. The registry mounts it as a `--tokens-file`.
pub const PLATFORM_TOKENS: &str = "dappmesh-registry-platform-tokens";

/// A platform service with a registry token: its Secret, its key in [`PLATFORM_TOKENS`] and
/// exactly the grants it needs.
struct Holder {
    secret: &'static str,
    key: &'static str,
    grants: &'static str,
}

/// The operator writes the catalog (PUT and DELETE of `/api/v1/products/{id}`) and reads
/// nothing; the dashboard only reads.
const HOLDERS: [Holder; 2] = [
    Holder {
        secret: OPERATOR_TOKEN,
        key: "operator",
        grants: "products:*",
    },
    Holder {
        secret: DASHBOARD_TOKEN,
        key: "dashboard",
        grants: "read",
    },
];

/// What [`ensure`] found.
#[derive(Debug, Default)]
pub struct Platform {
    /// The operator's own token, as its Secret holds it (whoever made it); None when that
    /// Secret has no token the registry would take.
    pub operator_token: Option<String>,
    /// Why a token Secret someone else made is not usable, one line each.
    pub unusable: Vec<String>,
}

/// Makes the platform's token Secrets that are missing in `namespace` and brings their
/// grants in line. Running it again changes nothing.
pub async fn ensure(client: &Client, namespace: &str) -> Result<Platform> {
    let api: Api<Secret> = Api::namespaced(client.clone(), namespace);
    let mut found = Platform::default();
    for holder in &HOLDERS {
        let wanted = token_secret(namespace, holder.secret, &secrets::generate()?);
        let (live, _) = secrets::get_or_create(&api, &wanted).await?;
        let token = tokens::usable(&live);
        if token.is_none() {
            found.unusable.push(format!(
                "Secret/{}: has no usable key {TOKEN_KEY} (16 to 512 printable characters, without `#` or `;`); delete it and the operator makes a new one at its next start",
                holder.secret
            ));
        }
        // A person's token is theirs to grant (and listing it twice would make the registry
        // refuse both); a line the operator wrote for a token since replaced goes.
        let line = token
            .as_deref()
            .filter(|_| secrets::made_by_operator(&live))
            .map(|token| format!("{token} {}\n", holder.grants));
        tokens::set_entry(
            client,
            namespace,
            PLATFORM_TOKENS,
            holder.key,
            line.as_deref(),
        )
        .await?;
        if holder.secret == OPERATOR_TOKEN {
            found.operator_token = token;
        }
    }
    Ok(found)
}

fn token_secret(namespace: &str, name: &str, token: &str) -> Secret {
    Secret {
        metadata: ObjectMeta {
            name: Some(name.to_owned()),
            namespace: Some(namespace.to_owned()),
            labels: Some(secrets::labels(&[])),
            ..ObjectMeta::default()
        },
        type_: Some("Opaque".to_owned()),
        data: Some(
            [(TOKEN_KEY.to_owned(), ByteString(token.as_bytes().to_vec()))]
                .into_iter()
                .collect(),
        ),
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
    fn the_operator_may_write_the_catalog_and_the_dashboard_only_read() {
        let (operator, dashboard) = (secrets::generate().unwrap(), secrets::generate().unwrap());
        let mut tokens = Tokens::default();
        for (holder, token) in HOLDERS.iter().zip([&operator, &dashboard]) {
            let line = format!("{token} {}\n", holder.grants);
            tokens.add(holder.key, &line).unwrap();
        }
        let check = |token: &str, need| tokens.check(Some(token), need, ReadAccess::Token);
        let product = "urn:dpds:acme:dataproducts:orders:1";
        assert_eq!(
            check(&operator, Need::Write(Collection::Products, product)),
            Ok(())
        );
        assert_eq!(check(&dashboard, Need::Read), Ok(()));
        assert_eq!(
            check(&dashboard, Need::Write(Collection::Products, product)),
            Err(Denied::Forbidden)
        );
        assert_eq!(
            check(
                &operator,
                Need::Write(Collection::Registry, "sales-orders-chart")
            ),
            Err(Denied::Forbidden)
        );
        assert_eq!(check(&operator, Need::Read), Err(Denied::Forbidden));
    }
}
