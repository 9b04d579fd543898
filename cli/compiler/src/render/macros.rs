//! The shared pieces of the built-in templates (`_macros.j2`: labels, selector, sync wave,
//! security contexts, resources, probes), written by dappctl itself. They run tens of
//! thousands of times per render, and a template macro costs a frame and an output buffer
//! per call, several times what these cost. The built-in `_macros.j2` binds its names to
//! them, so templates import them as before, and a `_macros.j2` of the user's, with Jinja
//! macros of the same names, replaces them. Each writes what the macro of its name in
//! cli/docs/render.md writes, byte for byte (a test compares them).

use minijinja::value::Kwargs;
use minijinja::{Error, ErrorKind, State, Value};

/// The functions, by name, for the templates' global `dappctl`.
pub fn functions() -> Value {
    Value::from_iter([
        ("labels", Value::from_function(labels)),
        ("selector", Value::from_function(selector)),
        ("wave", Value::from_function(wave)),
        ("pod_security", Value::from_function(pod_security)),
        (
            "container_security",
            Value::from_function(container_security),
        ),
        ("resources", Value::from_function(resources)),
        ("http_probes", Value::from_function(http_probes)),
    ])
}

/// What `{{ value }}` prints; undefined is an error, as the templates' strict undefined makes it.
fn shown(value: &Value) -> Result<&Value, Error> {
    if value.is_undefined() {
        return Err(Error::from(ErrorKind::UndefinedError));
    }
    Ok(value)
}

fn attr(value: &Value, name: &str) -> Result<Value, Error> {
    let found = value.get_attr(name)?;
    if found.is_undefined() {
        return Err(Error::new(
            ErrorKind::UndefinedError,
            format!("`{name}` is undefined"),
        ));
    }
    Ok(found)
}

/// `value | tojson`, through the environment's own filter.
fn json(state: &State, value: Value) -> Result<Value, Error> {
    state.apply_filter("tojson", &[value])
}

fn labels(
    state: &State,
    product: &Value,
    component: &Value,
    name: &Value,
    instance: &Value,
) -> Result<Value, Error> {
    let version = json(state, attr(product, "labelVersion")?)?;
    let part_of = attr(product, "name")?;
    let domain = attr(product, "domain")?;
    Ok(Value::from_safe_string(format!(
        "app.kubernetes.io/name: {}\n\
         app.kubernetes.io/instance: {}\n\
         app.kubernetes.io/version: {version}\n\
         app.kubernetes.io/component: {}\n\
         app.kubernetes.io/part-of: {part_of}\n\
         app.kubernetes.io/managed-by: dappctl\n\
         dappmesh.io/domain: {domain}\n\
         dappmesh.io/product: {part_of}",
        shown(name)?,
        shown(instance)?,
        shown(component)?,
    )))
}

fn selector(product: &Value, instance: &Value) -> Result<Value, Error> {
    Ok(Value::from_safe_string(format!(
        "app.kubernetes.io/instance: {}\ndappmesh.io/product: {}",
        shown(instance)?,
        attr(product, "name")?,
    )))
}

fn wave(n: &Value) -> Result<Value, Error> {
    Ok(Value::from_safe_string(format!(
        "argocd.argoproj.io/sync-wave: \"{}\"",
        shown(n)?
    )))
}

fn pod_security() -> Value {
    Value::from_safe_string(
        "securityContext:\n  runAsNonRoot: true\n  runAsUser: 10001\n  runAsGroup: 10001\n  \
         fsGroup: 10001\n  seccompProfile:\n    type: RuntimeDefault"
            .to_owned(),
    )
}

fn container_security() -> Value {
    Value::from_safe_string(
        "imagePullPolicy: Always\nsecurityContext:\n  allowPrivilegeEscalation: false\n  \
         readOnlyRootFilesystem: true\n  runAsNonRoot: true\n  runAsUser: 10001\n  \
         capabilities:\n    drop:\n      - ALL\n  seccompProfile:\n    type: RuntimeDefault"
            .to_owned(),
    )
}

fn resources(state: &State, r: &Value) -> Result<Value, Error> {
    let (requests, limits) = (attr(r, "requests")?, attr(r, "limits")?);
    let of = |side: &Value, name| json(state, attr(side, name)?);
    Ok(Value::from_safe_string(format!(
        "resources:\n  requests:\n    cpu: {}\n    memory: {}\n  limits:\n    cpu: {}\n    \
         memory: {}",
        of(&requests, "cpu")?,
        of(&requests, "memory")?,
        of(&limits, "cpu")?,
        of(&limits, "memory")?,
    )))
}

/// Liveness and readiness over HTTP on a named port; the paths are positional or `live=`,
/// `ready=`, as the macro's defaults.
fn http_probes(
    port: &Value,
    live: Option<Value>,
    ready: Option<Value>,
    kwargs: Kwargs,
) -> Result<Value, Error> {
    let path = |given: Option<Value>, name: &str, default: &str| -> Result<Value, Error> {
        let keyword: Option<Value> = kwargs.get(name)?;
        match (given, keyword) {
            (Some(_), Some(_)) => Err(Error::new(
                ErrorKind::TooManyArguments,
                format!("duplicate argument `{name}`"),
            )),
            (Some(value), None) | (None, Some(value)) => Ok(value),
            (None, None) => Ok(Value::from(default)),
        }
    };
    let live = path(live, "live", "/healthz")?;
    let ready = path(ready, "ready", "/readyz")?;
    kwargs.assert_all_used()?;
    let port = shown(port)?;
    Ok(Value::from_safe_string(format!(
        "livenessProbe:\n  httpGet:\n    path: {}\n    port: {port}\n  periodSeconds: 10\n  \
         failureThreshold: 3\nreadinessProbe:\n  httpGet:\n    path: {}\n    port: {port}\n  \
         periodSeconds: 5",
        shown(&live)?,
        shown(&ready)?,
    )))
}

#[cfg(test)]
mod tests {
    use minijinja::{Environment, UndefinedBehavior, context};

    /// The macros these functions stand for, as cli/docs/render.md shows them.
    const MACROS: &str = include_str!("../../../docs/macros.j2");

    #[test]
    fn each_function_writes_what_its_macro_writes() {
        let mut env = Environment::new();
        env.set_undefined_behavior(UndefinedBehavior::Strict);
        env.set_trim_blocks(true);
        env.set_lstrip_blocks(true);
        env.add_global("dappctl", super::functions());
        env.add_template("macros.j2", MACROS).unwrap();
        env.add_template(
            "native.j2",
            include_str!("../../../../templates/_macros.j2"),
        )
        .unwrap();
        let calls = [
            r#"m.labels(product, "pipeline", "ingest", "orders-ingest")"#,
            r#"m.labels(product, "storage", 'it''s <&> "quoted"', 7)"#,
            r#"m.selector(product, "orders-lake")"#,
            "m.wave(-1)",
            "m.wave(3)",
            "m.pod_security()",
            "m.container_security()",
            "m.resources(r)",
            r#"m.http_probes("health")"#,
            r#"m.http_probes(8080, "/ping")"#,
            r#"m.http_probes("http", "/a", "/b")"#,
            r#"m.http_probes("http", ready="/r")"#,
            r#"m.http_probes("http", live="/l", ready="/r")"#,
        ];
        let ctx = context! {
            product => context! { name => "orders", domain => "sales", labelVersion => "1.2.0-rc.1+<b>" },
            r => context! {
                requests => context! { cpu => "100m", memory => "128Mi" },
                limits => context! { cpu => 1, memory => "1Gi" },
            },
        };
        for call in calls {
            let render = |module: &str| {
                let source =
                    format!("{{% import \"{module}\" as m %}}\n  {{{{ {call} | indent(2) }}}}\n");
                env.render_str(&source, &ctx)
                    .unwrap_or_else(|e| panic!("{module}: {call}: {e:#}"))
            };
            assert_eq!(render("native.j2"), render("macros.j2"), "{call}");
        }
        // Mistakes are errors in both: a missing attribute, an unknown keyword.
        for call in [
            r#"m.labels({"name": "x"}, "a", "b", "c")"#,
            r#"m.http_probes("http", nope="/x")"#,
            r#"m.http_probes("http", "/a", live="/b")"#,
        ] {
            for module in ["native.j2", "macros.j2"] {
                let source = format!("{{% import \"{module}\" as m %}}{{{{ {call} }}}}");
                assert!(env.render_str(&source, &ctx).is_err(), "{module}: {call}");
            }
        }
    }
}
