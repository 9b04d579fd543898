//! `dappctl graph`, through the library until `main.rs` has the subcommand: the bundled
//! examples as Mermaid and DOT snapshots; both formats read back by strict readers of the
//! subset they use, which must find the same graph; every port between the examples'
//! products and the flow inside one; names that need encoding; and the same bytes whatever
//! the order the files are found in.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};

use dappmesh_compiler::graph::{Format, graph};
use dappmesh_compiler::validate::{Validated, validate_paths};

use super::harness::{TempDir, repo_root};

fn validated(path: &Path) -> Validated {
    let outcome = validate_paths(&[path.to_path_buf()]).expect("the files load");
    let codes: Vec<&str> = outcome.report.diagnostics.iter().map(|d| d.code).collect();
    outcome
        .validated
        .unwrap_or_else(|| panic!("the mesh is invalid: {codes:?}"))
}

fn examples() -> Validated {
    validated(&repo_root().join("examples"))
}

#[test]
fn mermaid_of_the_examples() {
    insta::assert_snapshot!(graph(&examples(), Format::Mermaid));
}

#[test]
fn dot_of_the_examples() {
    insta::assert_snapshot!(graph(&examples(), Format::Dot));
}

#[test]
fn both_formats_draw_the_same_graph() {
    let mesh = examples();
    let mermaid = read_mermaid(&graph(&mesh, Format::Mermaid));
    let dot = read_dot(&graph(&mesh, Format::Dot));
    assert_eq!(mermaid, dot);
    assert_eq!(mermaid.clusters.len(), 7);
    assert_eq!(mermaid.nodes.len(), 32);
}

#[test]
fn every_port_between_the_examples_products_is_drawn() {
    let drawing = read_dot(&graph(&examples(), Format::Dot));
    let mut between: Vec<String> = drawing
        .edges
        .iter()
        .filter(|e| e.stroke == Stroke::Thick)
        .map(|e| {
            let end = |id: &str| {
                let (cluster, text) = &drawing.nodes[id];
                let first = text.lines().next().unwrap_or_default();
                format!("{} {first}", cluster.as_deref().unwrap_or("-"))
            };
            let range = e.label.as_deref().unwrap_or("-");
            format!("{} → {} ({range})", end(&e.from), end(&e.to))
        })
        .collect();
    between.sort();
    assert_eq!(
        between,
        [
            "crm/customers v3.2.0 out customers-sql → crm/customer-360 v1.1.0 in customers (^3.1)",
            "crm/customers v3.2.0 out customers-sql → sales/sales-orders v2.1.0 in customers (^3)",
            "marketing/web-analytics v1.0.0 out page-views → crm/customer-360 v1.1.0 in page-views (^1)",
            "sales/sales-orders v2.1.0 out orders-sql → crm/customer-360 v1.1.0 in orders (^2)",
            "sales/sales-orders v2.1.0 out orders-sql → finance/revenue-forecast v0.3.0 in orders (>=2.0.0, <3)",
            "sales/sales-orders v2.1.0 out orders-sql → supply/replenishment v1.0.0 in orders (^2)",
            "supply/inventory v1.4.0 out stock-levels → supply/replenishment v1.0.0 in stock (~1.4)",
        ]
    );
}

#[test]
fn the_flow_inside_sales_orders() {
    let drawing = read_mermaid(&graph(&examples(), Format::Mermaid));
    let sales = Some("sales/sales-orders v2.1.0".to_owned());
    let name = |id: &str| drawing.nodes[id].1.lines().next().unwrap().to_owned();
    let inside: Vec<String> = drawing
        .edges
        .iter()
        .filter(|e| drawing.nodes[&e.from].0 == sales && drawing.nodes[&e.to].0 == sales)
        .map(|e| {
            let label = e
                .label
                .as_deref()
                .map(|l| format!(" [{l}]"))
                .unwrap_or_default();
            format!("{} {:?} {}{label}", name(&e.from), e.stroke, name(&e.to))
        })
        .collect();
    assert_eq!(
        inside,
        [
            "in web-shop-cdc Solid orders_raw@1.0.0",
            "orders_raw@1.0.0 Solid orders@2.0.0 [orders-stream]",
            "in customers Solid orders@2.0.0 [orders-stream]",
            "orders@2.0.0 Solid daily_revenue@1.0.0 [revenue-batch]",
            // orders@1.0.0 has lineage but no flow step; daily_revenue's lineage repeats a
            // flow step and is not drawn again.
            "orders_raw@1.0.0 Dashed orders@1.0.0 [lineage]",
            "orders@1.0.0 Dashed orders@2.0.0 [superseded by]",
            "orders@2.0.0 Solid out orders-sql",
            "daily_revenue@1.0.0 Solid out revenue-daily",
        ]
    );
    let schema = drawing
        .nodes
        .values()
        .find(|(_, t)| t.starts_with("orders@1.0.0"));
    assert_eq!(schema.unwrap().1, "orders@1.0.0\ntransformation");
    let connector = drawing
        .nodes
        .values()
        .find(|(_, t)| t.starts_with("in web-shop-cdc"));
    assert_eq!(connector.unwrap().1, "in web-shop-cdc\npostgres-cdc");
}

#[test]
fn the_same_mesh_gives_the_same_bytes_whatever_the_file_order() {
    let dir_of_examples = repo_root().join("examples");
    let expected = [Format::Mermaid, Format::Dot].map(|f| graph(&examples(), f));
    assert_eq!(
        expected,
        [Format::Mermaid, Format::Dot].map(|f| graph(&examples(), f))
    );

    // Files are found in path order: numbering the products backwards reverses it.
    let dir = TempDir::new("graph-order");
    let mut products: Vec<_> = std::fs::read_dir(dir_of_examples.join("products"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    products.sort();
    for (i, path) in products.iter().rev().enumerate() {
        let name = path.file_name().unwrap().to_string_lossy();
        dir.write(&format!("{i:02}-{name}"), std::fs::read(path).unwrap());
    }
    for name in ["mesh.yaml", "domains.yaml"] {
        dir.write(
            &format!("zz-{name}"),
            std::fs::read(dir_of_examples.join(name)).unwrap(),
        );
    }
    let shuffled = validated(dir.path());
    for (format, expected) in [Format::Mermaid, Format::Dot].into_iter().zip(&expected) {
        let text = graph(&shuffled, format);
        assert_eq!(&text, expected, "{format:?}");
        assert!(text.ends_with('\n'), "{text}");
    }
}

/// Names the schema allows that neither format takes as an identifier: `-` in domains,
/// products and ports, `_` in schemas, and pre-release and build metadata (`-`, `.`, `+`) in
/// versions, with a version range holding `<` and `>`.
#[test]
fn names_that_need_encoding_are_drawn_apart() {
    let dir = TempDir::new("graph-names");
    let mesh = std::fs::read_to_string(repo_root().join("examples/mesh.yaml")).unwrap();
    dir.write("mesh.yaml", mesh);
    dir.write(
        "domains.yaml",
        "apiVersion: dappmesh.io/v1alpha1\nkind: Domain\nmetadata: { name: north-eu }\nspec: { owner: team-a }\n---\napiVersion: dappmesh.io/v1alpha1\nkind: Domain\nmetadata: { name: north }\nspec: { owner: team-b }\n",
    );
    let product = |domain: &str, name: &str, input: &str| {
        format!(
            r#"apiVersion: dappmesh.io/v1alpha1
kind: DataProduct
metadata: {{ name: {name}, domain: {domain}, version: 1.0.0-rc.1+build.5, owner: team }}
spec:
  dataAtRest:
    schemas:
      - name: eu_events
        version: 1.0.0-rc.1+build.5
        state: serving
        properties:
          - {{ name: id, logicalType: string, required: true }}
  dataInUse:
{input}    outputPorts:
      - name: eu-events
        type: stream
        version: 1.0.0-rc.1
        serves: eu_events@1.0.0-rc.1+build.5
        storage: db
        contract:
          terms: {{ usage: Internal. }}
  storage:
    - {{ name: db, kind: operational, engine: postgres, size: 1Gi }}
"#
        )
    };
    dir.write("a.yaml", product("north-eu", "events", ""));
    let input = "    inputPorts:\n      - name: north-eu\n        product: { domain: north-eu, name: events, outputPort: eu-events, version: \">=1.0.0-rc.1, <2\" }\n";
    dir.write("b.yaml", product("north", "eu-events", input));

    let mesh = validated(dir.path());
    let mermaid = graph(&mesh, Format::Mermaid);
    let drawing = read_mermaid(&mermaid);
    assert_eq!(drawing, read_dot(&graph(&mesh, Format::Dot)));
    assert_eq!(
        drawing.clusters,
        [
            "north/eu-events v1.0.0-rc.1+build.5",
            "north-eu/events v1.0.0-rc.1+build.5"
        ]
    );
    // Two schemas and two output ports of the same names, one input port: none merged.
    assert_eq!(drawing.nodes.len(), 5, "{mermaid}");
    let contract = drawing.edges.iter().find(|e| e.stroke == Stroke::Thick);
    assert_eq!(
        contract.and_then(|e| e.label.as_deref()),
        Some(">=1.0.0-rc.1, <2")
    );
}

#[test]
fn graphviz_accepts_the_dot_when_it_is_installed() {
    let text = graph(&examples(), Format::Dot);
    let child = Command::new("dot")
        .arg("-Tcanon")
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn();
    let Ok(mut child) = child else {
        // Not installed: `read_dot` in the other tests is then the only check.
        return;
    };
    child
        .stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success() && stderr.is_empty(), "{stderr}");
}

/// What a drawing shows, read back from either format.
#[derive(Debug, Default, PartialEq, Eq)]
struct Drawing {
    /// Cluster titles, in order.
    clusters: Vec<String>,
    /// Node id → (title of its cluster, its text with line breaks as `\n`).
    nodes: BTreeMap<String, (Option<String>, String)>,
    edges: Vec<Edge>,
}

#[derive(Debug, PartialEq, Eq)]
struct Edge {
    from: String,
    to: String,
    label: Option<String>,
    stroke: Stroke,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stroke {
    Solid,
    /// Mermaid has one dotted stroke; DOT's dashed and dotted both read as this.
    Dashed,
    Thick,
}

impl Drawing {
    /// A node is declared once, before any edge names it (either format would otherwise
    /// create it where first named, possibly in the wrong cluster).
    fn node(&mut self, id: &str, cluster: Option<&String>, text: String) {
        let old = self.nodes.insert(id.to_owned(), (cluster.cloned(), text));
        assert!(old.is_none(), "`{id}` declared twice");
    }

    /// An edge inside a cluster joins two of its nodes; any other edge comes after every
    /// cluster.
    fn edge(&mut self, edge: Edge, cluster: Option<&String>) {
        for end in [&edge.from, &edge.to] {
            let (home, _) = self
                .nodes
                .get(end)
                .unwrap_or_else(|| panic!("`{end}` used before it is declared"));
            if cluster.is_some() {
                assert_eq!(home.as_ref(), cluster, "`{end}` drawn in another cluster");
            }
        }
        self.edges.push(edge);
    }
}

/// Reads the Mermaid subset `graph` writes, refusing anything else.
fn read_mermaid(text: &str) -> Drawing {
    let mut lines = text.lines();
    assert_eq!(lines.next(), Some("flowchart LR"));
    let mut drawing = Drawing::default();
    let mut open: Option<String> = None;
    for line in lines {
        let line = line.trim_start();
        if let Some(rest) = line.strip_prefix("subgraph ") {
            assert!(open.is_none(), "nested subgraph: {line}");
            let (id, title) = rest.split_once(' ').expect("subgraph id [title]");
            mermaid_id(id);
            let title = title
                .strip_prefix("[\"")
                .and_then(|t| t.strip_suffix("\"]"));
            let title = mermaid_string(title.unwrap_or_else(|| panic!("a quoted title: {line}")));
            drawing.clusters.push(title.clone());
            open = Some(title);
        } else if line == "end" {
            open.take().expect("`end` closes a subgraph");
        } else {
            let end = line
                .find(|c: char| !c.is_ascii_alphanumeric() && c != '_')
                .unwrap_or_else(|| panic!("a node or an edge: {line}"));
            let (id, rest) = line.split_at(end);
            mermaid_id(id);
            match rest.strip_prefix(' ') {
                Some(rest) => {
                    let edge = mermaid_edge(id, rest);
                    drawing.edge(edge, open.as_ref());
                }
                None => {
                    let text = [
                        ("[(\"", "\")]"),
                        ("([\"", "\"])"),
                        ("[/\"", "\"/]"),
                        ("[\"", "\"]"),
                    ]
                    .into_iter()
                    .find_map(|(open, close)| rest.strip_prefix(open)?.strip_suffix(close))
                    .unwrap_or_else(|| panic!("a known shape around a quoted label: {line}"));
                    drawing.node(id, open.as_ref(), mermaid_string(text));
                }
            }
        }
    }
    assert!(open.is_none(), "a subgraph is left open");
    drawing
}

/// The rest of an edge line after `from `: an arrow, maybe a quoted label, the target.
fn mermaid_edge(from: &str, rest: &str) -> Edge {
    let (stroke, rest) = [
        ("-->", Stroke::Solid),
        ("-.->", Stroke::Dashed),
        ("==>", Stroke::Thick),
    ]
    .into_iter()
    .find_map(|(arrow, stroke)| rest.strip_prefix(arrow).map(|r| (stroke, r)))
    .unwrap_or_else(|| panic!("an arrow: {rest}"));
    let (label, to) = match rest.strip_prefix("|\"") {
        Some(rest) => {
            let (label, to) = rest.split_once("\"| ").expect("a closed label");
            (Some(mermaid_string(label)), to)
        }
        None => (
            None,
            rest.strip_prefix(' ').expect("a space before the target"),
        ),
    };
    mermaid_id(to);
    Edge {
        from: from.to_owned(),
        to: to.to_owned(),
        label,
        stroke,
    }
}

/// A bare id Mermaid reads as one: letters, digits and `_`, starting with a letter, and not
/// starting with a word its lexer takes first (it matches most keywords even inside a word).
fn mermaid_id(id: &str) {
    let valid = id.starts_with(|c: char| c.is_ascii_alphabetic())
        && id.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    assert!(valid, "not a bare id: `{id}`");
    let keywords = [
        "end",
        "subgraph",
        "graph",
        "flowchart",
        "style",
        "linkStyle",
        "classDef",
        "class",
        "click",
        "call",
        "href",
        "default",
        "interpolate",
        "direction",
    ];
    assert!(
        !keywords.iter().any(|k| id.starts_with(k)),
        "`{id}` starts with a keyword"
    );
}

/// The text of a Mermaid `"..."`: no quote, backtick, `%` or raw HTML but `<br>`, and every
/// `#` an entity.
fn mermaid_string(text: &str) -> String {
    assert!(!text.contains(['"', '`', '%']), "unescaped in `{text}`");
    let text = text.replace("<br>", "\n");
    assert!(!text.contains(['<', '>', '&']), "raw HTML in `{text}`");
    let mut out = String::new();
    let mut rest = text.as_str();
    while let Some(at) = rest.find('#') {
        out.push_str(&rest[..at]);
        let (entity, after) = rest[at + 1..]
            .split_once(';')
            .expect("an entity ends with ;");
        out.push(match entity {
            "quot" => '"',
            "lt" => '<',
            "gt" => '>',
            "amp" => '&',
            code => code
                .parse::<u32>()
                .ok()
                .and_then(char::from_u32)
                .unwrap_or_else(|| panic!("not an entity: #{code};")),
        });
        rest = after;
    }
    out.push_str(rest);
    out
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Token {
    Id(String),
    /// The text between the quotes, still escaped.
    Quoted(String),
    Punct(&'static str),
}

/// Reads the DOT subset `graph` writes, refusing anything else: one digraph; attribute,
/// node and edge statements ending in `;`; clusters that are not nested and open with their
/// label.
fn read_dot(text: &str) -> Drawing {
    let mut tokens = dot_tokens(text).into_iter().peekable();
    assert_eq!(tokens.next(), Some(Token::Id("digraph".into())));
    assert!(
        matches!(tokens.next(), Some(Token::Quoted(_))),
        "a quoted graph name"
    );
    assert_eq!(tokens.next(), Some(Token::Punct("{")));
    let mut drawing = Drawing::default();
    // Inside a cluster: its label, once read.
    let mut open: Option<Option<String>> = None;
    let title = |open: &Option<Option<String>>| {
        open.as_ref()
            .map(|t| t.clone().expect("a cluster's label comes first"))
    };
    loop {
        let id = match tokens.next().expect("the digraph is closed") {
            Token::Punct("}") if open.is_some() => {
                open = None;
                continue;
            }
            Token::Punct("}") => break,
            Token::Id(keyword) if keyword == "subgraph" => {
                assert!(open.is_none(), "nested subgraph");
                let Some(Token::Id(id)) = tokens.next() else {
                    panic!("a subgraph id")
                };
                assert!(id.starts_with("cluster_"), "`{id}` is drawn as a cluster");
                assert_eq!(tokens.next(), Some(Token::Punct("{")));
                open = Some(None);
                continue;
            }
            Token::Id(id) => id,
            other => panic!("unexpected {other:?}"),
        };
        match tokens.peek() {
            Some(Token::Punct("=")) => {
                tokens.next();
                match (&mut open, id.as_str(), tokens.next().expect("a value")) {
                    (Some(title @ None), "label", Token::Quoted(label)) => {
                        let label = dot_string(&label);
                        drawing.clusters.push(label.clone());
                        *title = Some(label);
                    }
                    (None, "rankdir", Token::Id(dir)) => assert_eq!(dir, "LR"),
                    (_, name, value) => panic!("unexpected `{name}={value:?}`"),
                }
                assert_eq!(tokens.next(), Some(Token::Punct(";")));
            }
            Some(Token::Punct("->")) => {
                tokens.next();
                let Some(Token::Id(to)) = tokens.next() else {
                    panic!("an edge target")
                };
                dot_id(&id);
                dot_id(&to);
                let mut attributes = dot_attributes(&mut tokens);
                let label = attributes.remove("label").map(|l| dot_string(&l));
                let stroke = match attributes.remove("style").as_deref() {
                    None => Stroke::Solid,
                    Some("dashed" | "dotted") => Stroke::Dashed,
                    Some("bold") => Stroke::Thick,
                    Some(other) => panic!("style {other}"),
                };
                assert!(attributes.is_empty(), "{attributes:?}");
                let edge = Edge {
                    from: id,
                    to,
                    label,
                    stroke,
                };
                drawing.edge(edge, title(&open).as_ref());
            }
            Some(Token::Punct("[")) => {
                dot_id(&id);
                let mut attributes = dot_attributes(&mut tokens);
                let label = attributes.remove("label").expect("a node label");
                let shape = attributes.remove("shape").expect("a node shape");
                let shapes = ["cylinder", "box", "parallelogram"];
                assert!(shapes.contains(&shape.as_str()), "shape {shape}");
                attributes.remove("style");
                assert!(attributes.is_empty(), "{attributes:?}");
                drawing.node(&id, title(&open).as_ref(), dot_string(&label));
            }
            other => panic!("unexpected {other:?} after `{id}`"),
        }
    }
    assert_eq!(tokens.next(), None, "nothing after the digraph");
    drawing
}

/// `[name=value, ...];`, the closing `;` included. Values are ids or quoted (still escaped).
fn dot_attributes(tokens: &mut impl Iterator<Item = Token>) -> BTreeMap<String, String> {
    let mut next = || tokens.next();
    let mut attributes = BTreeMap::new();
    match next() {
        Some(Token::Punct(";")) => return attributes,
        Some(Token::Punct("[")) => {}
        other => panic!("attributes or `;`, not {other:?}"),
    }
    loop {
        let Some(Token::Id(name)) = next() else {
            panic!("an attribute name")
        };
        assert_eq!(next(), Some(Token::Punct("=")));
        let value = match next() {
            Some(Token::Id(v) | Token::Quoted(v)) => v,
            other => panic!("a value, not {other:?}"),
        };
        assert!(
            attributes.insert(name, value).is_none(),
            "an attribute twice"
        );
        match next() {
            Some(Token::Punct(",")) => {}
            Some(Token::Punct("]")) => break,
            other => panic!("`,` or `]`, not {other:?}"),
        }
    }
    assert_eq!(next(), Some(Token::Punct(";")));
    attributes
}

fn dot_tokens(text: &str) -> Vec<Token> {
    let mut tokens = Vec::new();
    let mut chars = text.char_indices().peekable();
    while let Some((start, c)) = chars.next() {
        match c {
            c if c.is_whitespace() => {}
            '{' | '}' | '[' | ']' | ';' | ',' | '=' => {
                let punct = ["{", "}", "[", "]", ";", ",", "="];
                tokens.push(Token::Punct(
                    punct.into_iter().find(|p| p.starts_with(c)).unwrap(),
                ));
            }
            '-' => {
                assert_eq!(
                    chars.next().map(|(_, c)| c),
                    Some('>'),
                    "`-` starts only `->`"
                );
                tokens.push(Token::Punct("->"));
            }
            '"' => {
                let mut quoted = String::new();
                loop {
                    let (_, c) = chars.next().expect("a closed string");
                    match c {
                        '"' => break,
                        '\\' => {
                            quoted.push(c);
                            quoted.push(chars.next().expect("an escaped character").1);
                        }
                        '\n' | '\r' => panic!("a line break inside a string"),
                        c => quoted.push(c),
                    }
                }
                tokens.push(Token::Quoted(quoted));
            }
            c if c.is_ascii_alphabetic() || c == '_' => {
                let mut end = start + c.len_utf8();
                while let Some(&(i, c)) = chars.peek() {
                    if !(c.is_ascii_alphanumeric() || c == '_') {
                        break;
                    }
                    end = i + c.len_utf8();
                    chars.next();
                }
                tokens.push(Token::Id(text[start..end].to_owned()));
            }
            c => panic!("unexpected `{c}` at byte {start}"),
        }
    }
    tokens
}

/// A node id is not one of DOT's keywords, which it matches in any case.
fn dot_id(id: &str) {
    let keywords = ["node", "edge", "graph", "digraph", "subgraph", "strict"];
    assert!(
        !keywords.iter().any(|k| id.eq_ignore_ascii_case(k)),
        "`{id}` is a keyword"
    );
}

/// A label's text: the escapes `graph` writes (`\"`, `\\`, `\n`) and only `&amp;` as an
/// entity, since Graphviz decodes entities in labels.
fn dot_string(quoted: &str) -> String {
    let mut out = String::new();
    let mut chars = quoted.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => out.push(match chars.next() {
                Some('"') => '"',
                Some('\\') => '\\',
                Some('n') => '\n',
                other => panic!("escape \\{other:?} in `{quoted}`"),
            }),
            c => out.push(c),
        }
    }
    let entities = out.matches('&').count();
    assert_eq!(
        entities,
        out.matches("&amp;").count(),
        "a raw `&` in `{quoted}`"
    );
    out.replace("&amp;", "&")
}
