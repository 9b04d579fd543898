//! Lineage of a validated mesh as a graph, for `dappctl graph`: the ports between data
//! products, and inside each product the flow DAG from input ports through schema versions to
//! output ports. The mesh becomes a `Lineage` first, which is then written as Mermaid
//! (`flowchart LR`) or Graphviz DOT: the same mesh always gives the same bytes.

use std::collections::HashSet;
use std::fmt::Write as _;

use crate::model::{DataProduct, NodeRef, SchemaId, SchemaState};
use crate::validate::Validated;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// A Mermaid `flowchart LR`, for Markdown that renders it (GitHub, GitLab, docs sites).
    Mermaid,
    /// A Graphviz `digraph`, for `dot -Tsvg`.
    Dot,
}

/// The lineage of the mesh as text in `format`, ending with a newline. Products are sorted by
/// domain then name; inside a product, ports and schemas keep their order in the file.
pub fn graph(mesh: &Validated, format: Format) -> String {
    let products: Vec<&DataProduct> = mesh.products.iter().map(|doc| &doc.spec).collect();
    let lineage = Lineage::of(&mesh.mesh.spec.metadata.name, &products);
    match format {
        Format::Mermaid => lineage.mermaid(),
        Format::Dot => lineage.dot(),
    }
}

/// The graph to draw, the same for both formats so they cannot disagree on what is in it.
struct Lineage {
    mesh: String,
    products: Vec<Cluster>,
    /// Output ports an input port names that no product of the mesh offers. A validated mesh
    /// has none; they are drawn rather than dropped so a gap in lineage stays visible.
    outside: Vec<Node>,
    /// From a producer's output port to each consumer's input port.
    between: Vec<Edge>,
}

struct Cluster {
    id: Id,
    label: String,
    nodes: Vec<Node>,
    edges: Vec<Edge>,
    /// What `nodes` and `edges` hold, so a large product is not scanned for each addition.
    declared: HashSet<Id>,
    linked: HashSet<Edge>,
}

struct Node {
    id: Id,
    /// Shown one per line.
    lines: Vec<String>,
    shape: Shape,
}

#[derive(Clone, Copy)]
enum Shape {
    Schema,
    Port,
    /// An input port fed by an external system rather than another product.
    Connector,
    /// Referenced but not declared anywhere in the mesh.
    Unknown,
}

#[derive(Clone, PartialEq, Eq, Hash)]
struct Edge {
    from: Id,
    to: Id,
    label: Option<String>,
    line: Line,
}

impl Edge {
    /// An empty label is no label: Mermaid cannot read `|""|`.
    fn new(from: Id, to: Id, label: Option<String>, line: Line) -> Edge {
        let label = label.filter(|l| !l.is_empty());
        Edge {
            from,
            to,
            label,
            line,
        }
    }
}

#[derive(Clone, Copy, PartialEq, Eq, Hash)]
enum Line {
    /// A port and the schema it produces or serves.
    Port,
    /// A flow step, labelled with its pipeline.
    Flow,
    /// `lineage.from` that no flow step draws already.
    Derived,
    /// From an old schema version to the one that supersedes it.
    Superseded,
    /// From one product's output port to another's input port, labelled with the range.
    Contract,
}

/// A node or cluster identifier, safe unquoted in both formats (see [`Id::new`]).
#[derive(Clone, PartialEq, Eq, Hash)]
struct Id(String);

impl Id {
    /// `kind` followed by each part encoded, parts separated by `__`.
    ///
    /// Names may hold `-`, `.`, `@` and `+`, none of which Mermaid or DOT accept in a bare
    /// identifier, and Mermaid reads `a@` as an edge id. ASCII letters and digits stay; any
    /// other character becomes `_` and a letter (`_u` for `_` itself), or `_x` and six hex
    /// digits. An encoded part therefore never holds `__`, so distinct names never share an
    /// id. The fixed kinds (`product_`, `schema_`, `port_in_`, `port_out_`) keep ids clear of
    /// the words either format reserves (`end`, `style`, `graph`, `node`, ...).
    fn new(kind: &str, parts: &[&str]) -> Id {
        let mut id = kind.to_owned();
        for (i, part) in parts.iter().enumerate() {
            if i > 0 {
                id.push_str("__");
            }
            for c in part.chars() {
                match c {
                    'a'..='z' | 'A'..='Z' | '0'..='9' => id.push(c),
                    '_' => id.push_str("_u"),
                    '-' => id.push_str("_h"),
                    '.' => id.push_str("_d"),
                    '@' => id.push_str("_a"),
                    other => {
                        let _ = write!(id, "_x{:06x}", u32::from(other));
                    }
                }
            }
        }
        Id(id)
    }

    fn product(domain: &str, name: &str) -> Id {
        Id::new("product_", &[domain, name])
    }

    fn schema(domain: &str, name: &str, schema: &SchemaId) -> Id {
        Id::new("schema_", &[domain, name, &schema.to_string()])
    }

    fn input(domain: &str, name: &str, port: &str) -> Id {
        Id::new("port_in_", &[domain, name, port])
    }

    fn output(domain: &str, name: &str, port: &str) -> Id {
        Id::new("port_out_", &[domain, name, port])
    }
}

impl Lineage {
    fn of(mesh: &str, products: &[&DataProduct]) -> Lineage {
        let mut sorted = products.to_vec();
        sorted.sort_by(|a, b| {
            let (a, b) = (&a.metadata, &b.metadata);
            (&a.domain, &a.name, &a.version).cmp(&(&b.domain, &b.name, &b.version))
        });
        let clusters: Vec<Cluster> = sorted.iter().map(|p| Cluster::of(p)).collect();

        let offered: HashSet<&Id> = clusters
            .iter()
            .flat_map(|c| c.nodes.iter().map(|n| &n.id))
            .collect();
        let mut outside: Vec<Node> = Vec::new();
        let mut between = Vec::new();
        for consumer in &sorted {
            let m = &consumer.metadata;
            for port in &consumer.spec.data_in_use.input_ports {
                let Some(wanted) = &port.product else {
                    continue;
                };
                let from = Id::output(&wanted.domain, &wanted.name, &wanted.output_port);
                if !offered.contains(&from) && !outside.iter().any(|n| n.id == from) {
                    outside.push(Node {
                        id: from.clone(),
                        lines: vec![
                            format!("{}/{}", wanted.domain, wanted.name),
                            format!("out {}", wanted.output_port),
                            "not in this mesh".to_owned(),
                        ],
                        shape: Shape::Unknown,
                    });
                }
                between.push(Edge::new(
                    from,
                    Id::input(&m.domain, &m.name, &port.name),
                    Some(wanted.version.to_string()),
                    Line::Contract,
                ));
            }
        }
        Lineage {
            mesh: mesh.to_owned(),
            products: clusters,
            outside,
            between,
        }
    }
}

impl Cluster {
    fn of(product: &DataProduct) -> Cluster {
        let m = &product.metadata;
        let (domain, name) = (m.domain.as_str(), m.name.as_str());
        let spec = &product.spec;
        let schema = |id: &SchemaId| Id::schema(domain, name, id);
        let input = |port: &str| Id::input(domain, name, port);
        let mut cluster = Cluster {
            id: Id::product(domain, name),
            label: format!("{domain}/{name} v{}", m.version),
            nodes: Vec::new(),
            edges: Vec::new(),
            declared: HashSet::new(),
            linked: HashSet::new(),
        };

        for port in &spec.data_in_use.input_ports {
            let (lines, shape) = match &port.connector {
                Some(connector) => (
                    vec![
                        format!("in {}", port.name),
                        connector.kind.as_str().to_owned(),
                    ],
                    Shape::Connector,
                ),
                None => (vec![format!("in {}", port.name)], Shape::Port),
            };
            cluster.declare(input(&port.name), lines, shape);
        }
        for s in &spec.data_at_rest.schemas {
            let lines = vec![s.id().to_string(), state_name(s.state).to_owned()];
            cluster.declare(schema(&s.id()), lines, Shape::Schema);
        }
        for port in &spec.data_in_use.output_ports {
            let lines = vec![
                format!("out {}", port.name),
                format!("{} v{}", port.kind.as_str(), port.version),
            ];
            cluster.declare(Id::output(domain, name, &port.name), lines, Shape::Port);
        }

        for port in &spec.data_in_use.input_ports {
            if let Some(produced) = &port.produces {
                let to = cluster.schema_node(schema(produced), produced);
                cluster.link(input(&port.name), to, None, Line::Port);
            }
        }
        // (from, to) pairs a flow step draws, so lineage that repeats them is not drawn twice.
        let mut drawn: HashSet<(Id, Id)> = HashSet::new();
        for step in &spec.data_in_motion.flow {
            let to = cluster.schema_node(schema(&step.to), &step.to);
            for from in &step.from {
                let from = cluster.ref_node(from, &schema, &input);
                drawn.insert((from.clone(), to.clone()));
                cluster.link(from, to.clone(), Some(step.pipeline.clone()), Line::Flow);
            }
        }
        for s in &spec.data_at_rest.schemas {
            let to = schema(&s.id());
            for from in &s.lineage.from {
                let from = cluster.ref_node(from, &schema, &input);
                if drawn.insert((from.clone(), to.clone())) {
                    cluster.link(from, to.clone(), Some("lineage".into()), Line::Derived);
                }
            }
            if let Some(old) = &s.lineage.supersedes {
                let old = cluster.schema_node(schema(old), old);
                let label = Some("superseded by".into());
                cluster.link(old, to.clone(), label, Line::Superseded);
            }
        }
        for port in &spec.data_in_use.output_ports {
            let from = cluster.schema_node(schema(&port.serves), &port.serves);
            let to = Id::output(domain, name, &port.name);
            cluster.link(from, to, None, Line::Port);
        }
        cluster
    }

    fn declare(&mut self, id: Id, lines: Vec<String>, shape: Shape) {
        if self.declared.insert(id.clone()) {
            self.nodes.push(Node { id, lines, shape });
        }
    }

    /// The node of a schema an edge names. A schema the product does not declare (only in a
    /// mesh built by hand) gets a node here, labelled as such: left to the formats, it would
    /// show its encoded id.
    fn schema_node(&mut self, id: Id, schema: &SchemaId) -> Id {
        let lines = vec![schema.to_string(), "not declared".to_owned()];
        self.declare(id.clone(), lines, Shape::Unknown);
        id
    }

    fn ref_node(
        &mut self,
        node: &NodeRef,
        schema: &impl Fn(&SchemaId) -> Id,
        input: &impl Fn(&str) -> Id,
    ) -> Id {
        match node {
            NodeRef::Schema(s) => self.schema_node(schema(s), s),
            NodeRef::Port(port) => {
                let id = input(port);
                let lines = vec![format!("in {port}"), "not declared".to_owned()];
                self.declare(id.clone(), lines, Shape::Unknown);
                id
            }
        }
    }

    /// Adds an edge unless the same one is drawn already (a flow step may list a node twice).
    fn link(&mut self, from: Id, to: Id, label: Option<String>, line: Line) {
        let edge = Edge::new(from, to, label, line);
        if self.linked.insert(edge.clone()) {
            self.edges.push(edge);
        }
    }
}

// The model's enums carry their YAML spelling only in serde attributes; these repeat it.

fn state_name(state: SchemaState) -> &'static str {
    match state {
        SchemaState::Ingestion => "ingestion",
        SchemaState::Transformation => "transformation",
        SchemaState::Aggregation => "aggregation",
        SchemaState::Serving => "serving",
    }
}

impl Lineage {
    /// Cross-product edges come last, outside every subgraph: Mermaid places a node in the
    /// first subgraph that mentions it, so an edge written inside the consumer's subgraph
    /// would pull the producer's port into it.
    fn mermaid(&self) -> String {
        let mut out = String::from("flowchart LR\n");
        for cluster in &self.products {
            let _ = writeln!(
                out,
                "  subgraph {} [\"{}\"]",
                cluster.id.0,
                mermaid_text(&cluster.label)
            );
            for node in &cluster.nodes {
                mermaid_node(&mut out, "    ", node);
            }
            for edge in &cluster.edges {
                mermaid_edge(&mut out, "    ", edge);
            }
            out.push_str("  end\n");
        }
        for node in &self.outside {
            mermaid_node(&mut out, "  ", node);
        }
        for edge in &self.between {
            mermaid_edge(&mut out, "  ", edge);
        }
        out
    }

    /// Same order as [`Lineage::mermaid`], for the same reason: DOT also places a node in the
    /// first subgraph that mentions it.
    fn dot(&self) -> String {
        let mut out = format!("digraph {} {{\n", dot_string(&self.mesh));
        out.push_str("  rankdir=LR;\n");
        for cluster in &self.products {
            let _ = writeln!(out, "  subgraph cluster_{} {{", cluster.id.0);
            let _ = writeln!(out, "    label={};", dot_string(&cluster.label));
            for node in &cluster.nodes {
                dot_node(&mut out, "    ", node);
            }
            for edge in &cluster.edges {
                dot_edge(&mut out, "    ", edge);
            }
            out.push_str("  }\n");
        }
        for node in &self.outside {
            dot_node(&mut out, "  ", node);
        }
        for edge in &self.between {
            dot_edge(&mut out, "  ", edge);
        }
        out.push_str("}\n");
        out
    }
}

fn mermaid_node(out: &mut String, indent: &str, node: &Node) {
    let text: Vec<String> = node.lines.iter().map(|l| mermaid_text(l)).collect();
    let text = text.join("<br>");
    let (open, close) = match node.shape {
        Shape::Schema => ("[(", ")]"),
        Shape::Port => ("([", "])"),
        Shape::Connector => ("[/", "/]"),
        Shape::Unknown => ("[", "]"),
    };
    let _ = writeln!(out, "{indent}{}{open}\"{text}\"{close}", node.id.0);
}

fn mermaid_edge(out: &mut String, indent: &str, edge: &Edge) {
    let arrow = match edge.line {
        Line::Port | Line::Flow => "-->",
        Line::Derived | Line::Superseded => "-.->",
        Line::Contract => "==>",
    };
    let label = match &edge.label {
        Some(label) => format!("|\"{}\"|", mermaid_text(label)),
        None => String::new(),
    };
    let _ = writeln!(out, "{indent}{} {arrow}{label} {}", edge.from.0, edge.to.0);
}

/// Text for inside a Mermaid `"..."`. A quote would end the string; `<`, `>` and `&` would be
/// read as HTML; `#` starts Mermaid's own entity syntax (`#quot;`), which is how the others
/// are written; a backtick first would make a Markdown string and `%%{` a directive. Control
/// characters are written as entities too, so a label stays on its line.
fn mermaid_text(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '"' => out.push_str("#quot;"),
            '<' => out.push_str("#lt;"),
            '>' => out.push_str("#gt;"),
            '&' => out.push_str("#amp;"),
            '#' | '`' | '%' => {
                let _ = write!(out, "#{};", u32::from(c));
            }
            c if c.is_control() => {
                let _ = write!(out, "#{};", u32::from(c));
            }
            c => out.push(c),
        }
    }
    out
}

fn dot_node(out: &mut String, indent: &str, node: &Node) {
    let label = dot_string(&node.lines.join("\n"));
    let shape = match node.shape {
        Shape::Schema => "shape=cylinder",
        Shape::Port => "shape=box, style=rounded",
        Shape::Connector => "shape=parallelogram",
        Shape::Unknown => "shape=box, style=dashed",
    };
    let _ = writeln!(out, "{indent}{} [label={label}, {shape}];", node.id.0);
}

fn dot_edge(out: &mut String, indent: &str, edge: &Edge) {
    let mut attributes = Vec::new();
    if let Some(label) = &edge.label {
        attributes.push(format!("label={}", dot_string(label)));
    }
    match edge.line {
        Line::Port | Line::Flow => {}
        Line::Derived => attributes.push("style=dashed".to_owned()),
        Line::Superseded => attributes.push("style=dotted".to_owned()),
        Line::Contract => attributes.push("style=bold".to_owned()),
    }
    let attributes = if attributes.is_empty() {
        String::new()
    } else {
        format!(" [{}]", attributes.join(", "))
    };
    let _ = writeln!(out, "{indent}{} -> {}{attributes};", edge.from.0, edge.to.0);
}

/// A DOT quoted string. Inside one only `\"` is an escape for the parser, but labels then read
/// backslash escapes of their own (`\n`, `\l`, `\N` for the node name), so a backslash is
/// doubled; and Graphviz decodes HTML entities in every label, so `&` is written `&amp;` for a
/// name such as `a&lt;b` to show as written. A line break becomes `\n`, other control
/// characters a space.
fn dot_string(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '&' => out.push_str("&amp;"),
            '\n' => out.push_str("\\n"),
            c if c.is_control() => out.push(' '),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn ids_keep_only_letters_digits_and_underscores() {
        let id = Id::schema(
            "sales-eu",
            "orders.v2",
            &"orders_raw@1.0.0-rc.1+b7".parse().unwrap(),
        );
        assert_eq!(
            id.0,
            "schema_sales_heu__orders_dv2__orders_uraw_a1_d0_d0_hrc_d1_x00002bb7"
        );
    }

    #[test]
    fn ids_that_a_naive_encoding_would_merge_stay_apart() {
        // With every other character turned into `_`, each pair below would be one id.
        let pairs = [
            (Id::input("a", "b-c", "d"), Id::input("a-b", "c", "d")),
            (Id::input("a", "b", "c_d"), Id::input("a", "b", "c-d")),
            (Id::input("a", "b", "_hx"), Id::input("a", "b", "-x")),
            (Id::input("a", "b", "c__d"), Id::input("a", "b__c", "d")),
        ];
        for (a, b) in pairs {
            assert!(a != b, "{} == {}", a.0, b.0);
        }
    }

    proptest! {
        #[test]
        fn distinct_names_never_share_an_id(
            a in proptest::collection::vec("[-_.@a-b+\u{e9}]{0,4}", 3),
            b in proptest::collection::vec("[-_.@a-b+\u{e9}]{0,4}", 3),
        ) {
            let id = |p: &[String]| Id::input(&p[0], &p[1], &p[2]);
            prop_assert_eq!(a == b, id(&a) == id(&b));
            let valid = id(&a).0.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
            prop_assert!(valid);
        }
    }

    #[test]
    fn mermaid_text_leaves_no_quote_tag_or_entity_start() {
        assert_eq!(
            mermaid_text("a\"b<c>d&e#f`g%h\ni|j"),
            "a#quot;b#lt;c#gt;d#amp;e#35;f#96;g#37;h#10;i|j"
        );
    }

    #[test]
    fn dot_string_escapes_quotes_backslashes_and_entities() {
        assert_eq!(
            dot_string("a\"b\\n&lt;\nc\td"),
            "\"a\\\"b\\\\n&amp;lt;\\nc d\""
        );
    }

    /// A product with names the schema would refuse, read straight into the model: the
    /// formats must still be well-formed whatever the names hold.
    fn awkward() -> DataProduct {
        serde_json::from_value(serde_json::json!({
            "metadata": {
                "name": "we\"ird<&>",
                "domain": "d\\om#ain",
                "version": "1.0.0-rc.1+b7",
                "owner": "x"
            },
            "spec": {
                "dataAtRest": { "schemas": [
                    { "name": "raw\"x", "version": "1.0.0", "state": "ingestion", "properties": [] },
                    { "name": "end", "version": "2.0.0", "state": "serving", "properties": [],
                      "lineage": { "from": ["raw\"x@1.0.0", "port:in|put"] } }
                ]},
                "dataInMotion": { "flow": [
                    { "id": "f", "from": ["raw\"x@1.0.0"], "to": "end@2.0.0", "pipeline": "p<1>" }
                ]},
                "dataInUse": {
                    "inputPorts": [
                        { "name": "src`%%{x}", "connector": { "type": "http" }, "produces": "raw\"x@1.0.0" },
                        { "name": "in|put", "product": {
                            "domain": "o\"ther", "name": "p", "outputPort": "o&p", "version": ">=1.0.0, <2"
                        }}
                    ],
                    "outputPorts": [
                        { "name": "out\"put", "type": "sql", "version": "1.0.0", "serves": "end@2.0.0",
                          "storage": "s", "contract": { "terms": { "usage": "u" } } }
                    ]
                }
            }
        }))
        .expect("the model reads it")
    }

    #[test]
    fn awkward_names_stay_inside_their_mermaid_strings() {
        let text = Lineage::of("m", &[&awkward()]).mermaid();
        for line in text.lines() {
            let quotes = line.matches('"').count();
            assert!(quotes == 0 || quotes == 2, "{line}");
            assert!(!line.contains('`') && !line.contains("%%"), "{line}");
            let inner = line.split('"').nth(1).unwrap_or("");
            assert!(
                !inner.replace("<br>", "").contains(['<', '>', '&']),
                "{line}"
            );
        }
        assert!(text.contains("in src#96;#37;#37;{x}<br>http"), "{text}");
        assert!(text.contains("|\"#gt;=1.0.0, #lt;2\"|"), "{text}");
        // The port the input names is outside the mesh, drawn once at the top level.
        assert!(
            text.contains("\n  port_out_o_x000022ther__p__o_x000026p[\""),
            "{text}"
        );
    }

    #[test]
    fn awkward_names_stay_inside_their_dot_strings() {
        let text = Lineage::of("m\"x", &[&awkward()]).dot();
        assert!(text.starts_with("digraph \"m\\\"x\" {\n"), "{text}");
        assert!(
            text.contains("label=\"d\\\\om#ain/we\\\"ird<&amp;> v1.0.0-rc.1+b7\";"),
            "{text}"
        );
        assert!(text.contains("[label=\"p<1>\"]"), "{text}");
        // `end` is a schema name, not the end of anything, once it is inside an id.
        assert!(text.contains("schema_d_x00005com_x000023ain__we_x000022ird_x00003c_x000026_x00003e__end_a2_d0_d0 [label=\"end@2.0.0\\nserving\""), "{text}");
    }

    #[test]
    fn an_empty_label_is_left_off() {
        let mut product = awkward();
        product.spec.data_in_motion.flow[0].pipeline = String::new();
        let text = Lineage::of("m", &[&product]).mermaid();
        assert!(!text.contains("|\"\"|"), "{text}");
        assert!(!Lineage::of("m", &[&product]).dot().contains("label=\"\""));
    }

    #[test]
    fn flow_edges_are_not_repeated_as_lineage() {
        let text = Lineage::of("m", &[&awkward()]).dot();
        // raw"x → end is a flow step; in|put → end is lineage only.
        assert_eq!(text.matches("label=\"lineage\"").count(), 1, "{text}");
        assert_eq!(text.matches("label=\"p<1>\"").count(), 1, "{text}");
    }
}
