//! Writes a large, valid, realistic mesh for benchmarks and load tests:
//!
//! ```text
//! cargo run --release -p dappctl --example synthetic_mesh -- <N> <OUT_DIR>
//! ```
//!
//! `OUT_DIR/mesh.yaml` holds the Mesh, `OUT_DIR/domains.yaml` about N/10 Domains (at least 3),
//! and `OUT_DIR/products/` one file per data product, each shaped like
//! `examples/products/sales-orders.yaml`: four schemas (one in two versions, the second a
//! major bump over a breaking change), a flow, a workflow, a snapshot, a connector input port
//! and 1–3 input ports consuming output ports of *earlier* products in other domains (so the
//! product graph is acyclic; product 0 has none), two output ports with contracts whose
//! consumer lists name exactly the products that read them, governance, pipelines, storage
//! and a widget with a mesh-unique tag.
//!
//! The output depends only on N (a fixed-seed generator, no clock, no hashing), and
//! `dappctl validate OUT_DIR` accepts it with no error and no warning. Existing `*.yaml` files
//! in `OUT_DIR/products/` are removed first, so a smaller N can reuse a directory.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::{fs, process};

const DOMAIN_WORDS: [&str; 12] = [
    "sales",
    "crm",
    "supply",
    "marketing",
    "finance",
    "logistics",
    "payments",
    "catalog",
    "support",
    "risk",
    "people",
    "billing",
];

/// Business entities: (schema base name, a property only this entity has, its logical type).
const ENTITIES: [(&str, &str, &str); 16] = [
    ("orders", "total_cents", "integer"),
    ("customers", "segment", "string"),
    ("invoices", "amount_cents", "integer"),
    ("shipments", "carrier", "string"),
    ("payments", "settled", "boolean"),
    ("inventory", "on_hand", "integer"),
    ("sessions", "duration_s", "number"),
    ("campaigns", "budget_cents", "integer"),
    ("tickets", "priority", "string"),
    ("claims", "payout_cents", "integer"),
    ("subscriptions", "plan", "string"),
    ("returns", "reason", "string"),
    ("suppliers", "rating", "number"),
    ("forecasts", "horizon_days", "integer"),
    ("clicks", "referrer", "string"),
    ("contracts", "signed_on", "date"),
];

const CONNECTORS: [&str; 6] = [
    "postgres-cdc",
    "kafka",
    "http",
    "tracking-pixel",
    "s3",
    "jdbc",
];

/// splitmix64: a tiny, well-mixed generator, seeded per product so output depends only on N.
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Self {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ 0xD1B5_4A32_D192_ED03)
    }

    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

/// Which output port of a provider an input port reads.
#[derive(Clone, Copy, PartialEq, Eq)]
enum PortKind {
    /// `<entity>-sql`, serving `<entity>@2.0.0`, at version 2.x.y.
    Sql,
    /// `<entity>-daily`, serving `<entity>_daily@1.0.0`, at version 1.x.0.
    Daily,
}

struct Upstream {
    provider: usize,
    port: PortKind,
}

struct Product {
    index: usize,
    domain: usize,
    name: String,
    entity: usize,
    upstream: Vec<Upstream>,
    /// Consumers of the sql and the daily port, in product order.
    sql_consumers: Vec<usize>,
    daily_consumers: Vec<usize>,
}

impl Product {
    fn sql_version(&self) -> (usize, usize) {
        (self.index % 4, self.index % 3)
    }

    fn daily_minor(&self) -> usize {
        self.index % 5
    }
}

fn domain_name(d: usize) -> String {
    format!(
        "{}-{}",
        DOMAIN_WORDS[d % DOMAIN_WORDS.len()],
        d / DOMAIN_WORDS.len()
    )
}

fn plan(n: usize) -> Vec<Product> {
    let domains = (n / 10).max(3);
    let mut products: Vec<Product> = (0..n)
        .map(|i| {
            let entity = (i * 7 + i / 16) % ENTITIES.len();
            Product {
                index: i,
                domain: i % domains,
                name: format!("{}-{i}", ENTITIES[entity].0.replace('_', "-")),
                entity,
                upstream: Vec::new(),
                sql_consumers: Vec::new(),
                daily_consumers: Vec::new(),
            }
        })
        .collect();
    for i in 1..n {
        let mut rng = Rng::new(i as u64);
        let wanted = 1 + rng.below(3);
        let domain = products[i].domain;
        let mut chosen: Vec<usize> = Vec::new();
        for _ in 0..wanted * 8 {
            if chosen.len() == wanted {
                break;
            }
            // Mostly recent products (pipelines build on their neighbours), sometimes any.
            let j = if rng.below(4) == 0 {
                rng.below(i)
            } else {
                i - 1 - rng.below(i.min(50))
            };
            if products[j].domain != domain && !chosen.contains(&j) {
                chosen.push(j);
            }
        }
        if chosen.is_empty() {
            // Always possible: products 0 and 1 sit in different domains.
            let j = (0..i).rev().find(|&j| products[j].domain != domain);
            chosen.extend(j);
        }
        for j in chosen {
            let port = if rng.below(3) == 0 {
                PortKind::Daily
            } else {
                PortKind::Sql
            };
            match port {
                PortKind::Sql => products[j].sql_consumers.push(i),
                PortKind::Daily => products[j].daily_consumers.push(i),
            }
            products[i].upstream.push(Upstream { provider: j, port });
        }
    }
    products
}

fn mesh_yaml(n: usize) -> String {
    format!(
        "# A synthetic mesh of {n} data products, written by `cargo run --example synthetic_mesh`.
apiVersion: dappmesh.io/v1alpha1
kind: Mesh
metadata:
  name: synthetic
  labels: {{ generated-by: synthetic-mesh }}
spec:
  urnPrefix: urn:dpds:synthetic
  environments:
    - name: dev
      destination: {{ server: https://kubernetes.default.svc }}
    - name: prod
      destination: {{ name: prod-cluster }}
      overrides: {{ replicas: 2, storageClass: fast-ssd }}
  defaults:
    imageRegistry: ghcr.io/synthetic
    resources:
      requests: {{ cpu: 50m, memory: 64Mi }}
      limits: {{ cpu: 500m, memory: 256Mi }}
    storageClass: standard
  gitops:
    repoURL: https://git.example.com/synthetic/mesh-gitops.git
    targetRevision: main
    path: rendered
"
    )
}

fn domains_yaml(n: usize) -> String {
    let mut out = String::new();
    for d in 0..(n / 10).max(3) {
        if d > 0 {
            out.push_str("---\n");
        }
        let name = domain_name(d);
        let word = DOMAIN_WORDS[d % DOMAIN_WORDS.len()];
        writeln!(
            out,
            "apiVersion: dappmesh.io/v1alpha1
kind: Domain
metadata:
  name: {name}
spec:
  owner: team-{name}
  description: The {word} data of business unit {}.",
            d / DOMAIN_WORDS.len()
        )
        .unwrap();
    }
    out
}

fn range(rng: &mut Rng, major: usize, minor: usize) -> String {
    match rng.below(4) {
        0 => format!("\"^{major}\""),
        1 => format!("\"~{major}.{minor}\""),
        2 => format!("\">={major}.0, <{}\"", major + 1),
        _ => format!("\"^{major}.{minor}\""),
    }
}

fn consumers(out: &mut String, products: &[Product], list: &[usize]) {
    if list.is_empty() {
        return;
    }
    out.push_str("            consumers:\n");
    for &c in list {
        let c = &products[c];
        writeln!(
            out,
            "              - {{ domain: {}, product: {} }}",
            domain_name(c.domain),
            c.name
        )
        .unwrap();
    }
}

/// What every section of one product's file is written from.
struct Spec<'a> {
    products: &'a [Product],
    p: &'a Product,
    i: usize,
    entity: &'static str,
    extra: &'static str,
    extra_type: &'static str,
    domain: String,
    name: &'a str,
    version: String,
    sql_minor: usize,
    sql_patch: usize,
    ports: Vec<String>,
    port_refs: String,
}

fn product_yaml(products: &[Product], p: &Product) -> String {
    let i = p.index;
    let (entity, extra, extra_type) = ENTITIES[p.entity];
    let domain = domain_name(p.domain);
    let name = &p.name;
    let version = format!("{}.{}.{}", 1 + i % 3, i % 7, i % 5);
    let (sql_minor, sql_patch) = p.sql_version();
    let ports: Vec<String> = p
        .upstream
        .iter()
        .map(|u| format!("from-{}", products[u.provider].name))
        .collect();
    let port_refs: String = ports.iter().map(|n| format!(", port:{n}")).collect();
    let s = Spec {
        products,
        p,
        i,
        entity,
        extra,
        extra_type,
        domain,
        name,
        version,
        sql_minor,
        sql_patch,
        ports,
        port_refs,
    };
    let mut out = String::with_capacity(6 * 1024);
    for section in [header, schemas, motion, inputs, outputs, operations] {
        section(&mut out, &s);
    }
    out
}

/// The metadata: name, domain, version, owner, description and labels.
fn header(w: &mut String, s: &Spec<'_>) {
    let Spec {
        products,
        p,
        i,
        entity,
        ref domain,
        name,
        ref version,
        ..
    } = *s;

    writeln!(
        w,
        "# Synthetic data product {i} of {}.
apiVersion: dappmesh.io/v1alpha1
kind: DataProduct
metadata:
  name: {name}
  domain: {domain}
  version: {version}
  status: active
  owner: team-{domain}
  description:
    purpose: Curated {entity} of {domain}, joined with {} upstream product{}.
    usage: Analytics, reporting and downstream products.
  labels: {{ tier: t{}, generated-by: synthetic-mesh }}",
        products.len(),
        p.upstream.len(),
        if p.upstream.len() == 1 { "" } else { "s" },
        i % 3
    )
    .unwrap();
}

/// Schemas: raw → v1 → v2 (breaking, hence a major bump) → daily aggregate.
fn schemas(w: &mut String, s: &Spec<'_>) {
    let Spec {
        products,
        p,
        entity,
        extra,
        extra_type,
        ref port_refs,
        ..
    } = *s;
    writeln!(
        w,
        "spec:
  dataAtRest:
    schemas:
      - name: {entity}_raw
        version: 1.0.0
        state: ingestion
        properties:
          - {{ name: id, logicalType: string, required: true, primaryKey: true }}
          - {{ name: payload, logicalType: object }}
          - {{ name: received_at, logicalType: timestamp }}
      - name: {entity}
        version: 1.0.0
        state: transformation
        lineage: {{ from: [{entity}_raw@1.0.0] }}
        properties:
          - {{ name: id, logicalType: string, required: true, primaryKey: true }}
          - {{ name: {extra}, logicalType: {extra_type}, required: true }}
          - {{ name: updated_at, logicalType: timestamp, required: true }}
          - {{ name: note, logicalType: string }}
      - name: {entity}
        version: 2.0.0 # adds a required column: breaking, so a major bump
        state: serving
        lineage: {{ from: [{entity}_raw@1.0.0{port_refs}], supersedes: {entity}@1.0.0 }}
        properties:
          - {{ name: id, logicalType: string, required: true, primaryKey: true }}
          - {{ name: {extra}, logicalType: {extra_type}, required: true }}
          - {{ name: updated_at, logicalType: timestamp, required: true }}
          - {{ name: note, logicalType: string }}
          - {{ name: region_code, logicalType: string, required: true, classification: internal }}"
    )
    .unwrap();
    for u in &p.upstream {
        let upstream_entity = ENTITIES[products[u.provider].entity].0;
        writeln!(
            w,
            "          - {{ name: {upstream_entity}_{}_ref, logicalType: string, classification: pii }}",
            u.provider
        )
        .unwrap();
    }
    writeln!(
        w,
        "      - name: {entity}_daily
        version: 1.0.0
        state: aggregation
        lineage: {{ from: [{entity}@2.0.0] }}
        properties:
          - {{ name: day, logicalType: date, required: true, primaryKey: true }}
          - {{ name: row_count, logicalType: integer, required: true }}
          - {{ name: {extra}_total, logicalType: number }}"
    )
    .unwrap();
}

/// Flow, workflow, snapshot.
fn motion(w: &mut String, s: &Spec<'_>) {
    let Spec {
        i,
        entity,
        ref port_refs,
        ..
    } = *s;
    writeln!(
        w,
        "  dataInMotion:
    flow:
      - {{ id: clean, from: [{entity}_raw@1.0.0], to: {entity}@1.0.0, pipeline: {entity}-batch }}
      - {{ id: normalize, from: [{entity}_raw@1.0.0{port_refs}], to: {entity}@2.0.0, pipeline: {entity}-stream }}
      - {{ id: aggregate, from: [{entity}@2.0.0], to: {entity}_daily@1.0.0, pipeline: {entity}-batch }}
    workflows:
      - name: nightly-{entity}
        schedule: \"{} {} * * *\"
        steps: [clean, aggregate]
        retries: {{ max: {}, backoff: exponential, initialDelay: 30s }}
        timeout: 1h30m
    snapshots:
      - {{ schema: {entity}@2.0.0, schedule: \"0 {} * * *\", retention: P90D, storage: lake }}",
        i % 60,
        i % 24,
        1 + i % 5,
        (i + 3) % 24
    )
    .unwrap();
}

/// Input ports: one external connector, then the upstream products' output ports.
fn inputs(w: &mut String, s: &Spec<'_>) {
    let Spec {
        products,
        p,
        i,
        entity,
        ref ports,
        ..
    } = *s;
    writeln!(
        w,
        "  dataInUse:
    inputPorts:
      - name: source
        description: The operational system of record.
        connector: {{ type: {}, cidr: 10.20.0.0/16, secretRef: {entity}-source-credentials, config: {{ batchSize: 500, tls: true }} }}
        produces: {entity}_raw@1.0.0",
        CONNECTORS[i % CONNECTORS.len()]
    )
    .unwrap();
    let mut rng = Rng::new(!(i as u64));
    for (u, port) in p.upstream.iter().zip(ports) {
        let provider = &products[u.provider];
        let provider_entity = ENTITIES[provider.entity].0;
        let (port_name, range) = match u.port {
            PortKind::Sql => (
                format!("{provider_entity}-sql"),
                range(&mut rng, 2, provider.sql_version().0),
            ),
            PortKind::Daily => (
                format!("{provider_entity}-daily"),
                range(&mut rng, 1, provider.daily_minor()),
            ),
        };
        writeln!(
            w,
            "      - name: {port}
        product: {{ domain: {}, name: {}, outputPort: {port_name}, version: {range} }}",
            domain_name(provider.domain),
            provider.name
        )
        .unwrap();
    }
}

/// Output ports with contracts.
fn outputs(w: &mut String, s: &Spec<'_>) {
    let Spec {
        products,
        p,
        i,
        entity,
        extra,
        sql_minor,
        sql_patch,
        ..
    } = *s;
    writeln!(
        w,
        "    outputPorts:
      - name: {entity}-sql
        type: sql
        version: 2.{sql_minor}.{sql_patch}
        serves: {entity}@2.0.0
        storage: warehouse
        contract:
          terms: {{ usage: Internal analytics only., noticePeriod: P3M }}
          sla:
            - {{ property: freshness, value: {}, unit: h, element: {entity}.updated_at }}
            - {{ property: availability, value: 99.5, unit: percent }}
          quality:
            - {{ metric: duplicateValues, mustBe: 0, element: {entity}.id }}
            - {{ metric: nullValues, mustBe: 0, element: {entity}.{extra} }}
            - {{ metric: rowCount, mustBeGreaterThan: 0, element: {entity} }}
          access:
            roles: [{entity}-analyst]",
        1 + i % 12
    )
    .unwrap();
    consumers(w, products, &p.sql_consumers);
    writeln!(
        w,
        "      - name: {entity}-daily
        type: rest
        version: 1.{}.0
        serves: {entity}_daily@1.0.0
        storage: warehouse
        contract:
          terms: {{ usage: Dashboards and reporting. }}
          quality:
            - {{ metric: nullValues, mustBe: 0, element: {entity}_daily.row_count }}
          access:
            roles: [{entity}-analyst, {entity}-admin]",
        p.daily_minor()
    )
    .unwrap();
    consumers(w, products, &p.daily_consumers);
}

/// Governance, processing, storage, widgets.
fn operations(w: &mut String, s: &Spec<'_>) {
    let Spec {
        i,
        entity,
        ref domain,
        name,
        ref version,
        ..
    } = *s;
    writeln!(
        w,
        "  governance:
    roles:
      - {{ name: {entity}-analyst, access: read }}
      - {{ name: {entity}-writer, access: write }}
      - {{ name: {entity}-admin, access: admin, description: Operates the product. }}
    secrets:
      - {{ name: {entity}-source-credentials, ref: \"vault:kv/{domain}/{name}/source\" }}
  processing:
    pipelines:
      - name: {entity}-stream
        mode: stream
        image: {domain}/{name}-stream:{version}
        replicas: {}
        resources:
          requests: {{ cpu: 100m, memory: 128Mi }}
          limits: {{ cpu: \"1\", memory: 512Mi }}
      - {{ name: {entity}-batch, mode: batch, image: {domain}/{name}-batch:{version} }}
  storage:
    - {{ name: warehouse, kind: analytics, engine: {}, size: {}Gi }}
    - {{ name: lake, kind: object, engine: s3, bucket: synthetic-{name}, cidr: 52.219.168.0/21 }}
  widgets:
    - name: {entity}-chart
      tag: {name}-chart
      props: {{ currency: EUR, days: {}, stacked: true }}
      image: {domain}/{name}-widget:1.0.{}",
        1 + i % 3,
        if i.is_multiple_of(2) {
            "clickhouse"
        } else {
            "pinot"
        },
        10 + i % 90,
        7 + i % 30,
        i % 10
    )
    .unwrap();
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (n, dir) = match args.as_slice() {
        [n, dir] => match n.parse::<usize>() {
            Ok(n) if n > 0 => (n, PathBuf::from(dir)),
            _ => usage(),
        },
        _ => usage(),
    };
    if let Err(e) = write_mesh(n, &dir) {
        eprintln!("synthetic_mesh: cannot write into {}: {e}", dir.display());
        process::exit(2);
    }
}

fn usage() -> ! {
    eprintln!("usage: synthetic_mesh <N> <OUT_DIR>   (N data products, N >= 1)");
    process::exit(2);
}

fn write_mesh(n: usize, dir: &Path) -> std::io::Result<()> {
    let products_dir = dir.join("products");
    fs::create_dir_all(&products_dir)?;
    for entry in fs::read_dir(&products_dir)? {
        let path = entry?.path();
        if path.extension().is_some_and(|e| e == "yaml") {
            fs::remove_file(path)?;
        }
    }
    fs::write(dir.join("mesh.yaml"), mesh_yaml(n))?;
    fs::write(dir.join("domains.yaml"), domains_yaml(n))?;
    let products = plan(n);
    let width = n.to_string().len();
    for p in &products {
        let file = products_dir.join(format!("{:0width$}-{}.yaml", p.index, p.name));
        fs::write(file, product_yaml(&products, p))?;
    }
    eprintln!(
        "wrote {n} data products in {} domains to {}",
        (n / 10).max(3),
        dir.display()
    );
    Ok(())
}
