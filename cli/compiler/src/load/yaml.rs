//! YAML 1.2 text to trees, built from the parser's event stream: plain JSON for validation,
//! or spanned [`Node`]s when a diagnostic needs positions (see [`Tree`]).
//!
//! Building the tree ourselves (rather than through a serde layer) lets us hold hostile input
//! to fixed limits: nesting depth and what anchors and aliases copy are checked while the
//! events stream in, so a billion-laughs file or a 10,000-deep list fails fast, in bounded
//! memory.

use std::borrow::Cow;
use std::collections::{HashMap, HashSet};

use saphyr_parser::{Event, Parser, ScalarStyle, ScanError, Tag};

use super::node::{Entry, Node, Value};
use crate::source::{SourceFile, Span};

/// Limits that keep loading bounded whatever the input.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Deepest nesting of sequences and mappings.
    pub max_depth: usize,
    /// What anchors and aliases may copy in one file, in bytes of text plus [`NODE_COST`]
    /// per node: aliases copy whole trees, so a small file can otherwise expand without end.
    pub max_copy: usize,
    /// Most documents in one file: each costs memory and checks whatever its size, so a
    /// file of `---` lines (four bytes a document) would otherwise cost a gigabyte.
    pub max_documents: usize,
    /// Most nodes (scalars and collections, keys included) in one file. Memory follows the
    /// nodes, not the bytes: `[1,1,1,…]` is a node per two bytes, and a 16 MiB file of it
    /// took more than a gigabyte. A spec file has hundreds of nodes; a generated mesh in one
    /// file, tens of thousands.
    pub max_nodes: usize,
}

/// The cost of one node in [`Limits::max_copy`], beside the bytes of its text.
pub const NODE_COST: usize = 8;

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_depth: 64,
            max_copy: 4 * 1024 * 1024,
            max_documents: 10_000,
            max_nodes: 1_000_000,
        }
    }
}

/// Why a file is not a well-formed YAML stream.
#[derive(Debug, Clone, PartialEq)]
pub struct YamlError {
    pub kind: YamlErrorKind,
    pub span: Span,
    /// Where the first occurrence is, for duplicates.
    pub previous: Option<Span>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum YamlErrorKind {
    Syntax(String),
    DuplicateKey(String),
    TooDeep(usize),
    TooManyDocuments(usize),
    TooManyNodes(usize),
    AliasExpansion(usize),
    UnknownAlias,
    ComplexKey,
    UnsupportedTag(String),
    BadTaggedValue(String),
    NonFiniteNumber,
}

impl YamlError {
    fn at(kind: YamlErrorKind, span: Span) -> Self {
        YamlError {
            kind,
            span,
            previous: None,
        }
    }
}

/// A tree the loader can build: the spanned [`Node`] (for locating diagnostics) or plain JSON
/// (for validation, where positions are not needed until something is wrong).
pub trait Tree: Clone + Sized {
    /// A scalar, already resolved (never a `Seq` or `Map`).
    fn scalar(value: Value, span: Span) -> Self;
    fn seq(items: Vec<Self>, span: Span) -> Self;
    fn map(entries: Vec<(String, Span, Self)>, span: Span) -> Self;
    /// An alias copies its anchor's tree to a new place.
    fn moved_to(&mut self, span: Span);
}

impl Tree for Node {
    fn scalar(value: Value, span: Span) -> Self {
        Node { value, span }
    }

    fn seq(items: Vec<Self>, span: Span) -> Self {
        Node {
            value: Value::Seq(items),
            span,
        }
    }

    fn map(entries: Vec<(String, Span, Self)>, span: Span) -> Self {
        let entries = entries
            .into_iter()
            .map(|(key, key_span, value)| Entry {
                key,
                key_span,
                value,
            })
            .collect();
        Node {
            value: Value::Map(entries),
            span,
        }
    }

    fn moved_to(&mut self, span: Span) {
        self.span = span;
    }
}

impl Tree for serde_json::Value {
    fn scalar(value: Value, _: Span) -> Self {
        use serde_json::Value as J;
        match value {
            Value::Null => J::Null,
            Value::Bool(b) => J::Bool(b),
            Value::Int(i) => J::from(i),
            // JSON Schema calls 2.0 an integer but serde will not read it into one: a whole
            // float becomes the integer it equals, so both agree.
            Value::Float(f) if f.fract() == 0.0 && f.abs() < 9.0e15 => J::from(f as i64),
            // Non-finite floats are refused while parsing; NaN cannot reach here.
            Value::Float(f) => serde_json::Number::from_f64(f).map_or(J::Null, J::Number),
            Value::String(s) => J::String(s),
            Value::Seq(_) | Value::Map(_) => unreachable!("scalars only"),
        }
    }

    fn seq(items: Vec<Self>, _: Span) -> Self {
        serde_json::Value::Array(items)
    }

    fn map(entries: Vec<(String, Span, Self)>, _: Span) -> Self {
        serde_json::Value::Object(entries.into_iter().map(|(k, _, v)| (k, v)).collect())
    }

    fn moved_to(&mut self, _: Span) {}
}

struct Anchored<T> {
    tree: T,
    size: usize,
    /// The scalar's text as a mapping key, when the anchored node is a scalar.
    key: Option<String>,
}

enum Frame<T> {
    Seq {
        start: usize,
        end: usize,
        anchor: usize,
        items: Vec<T>,
        size: usize,
    },
    Map {
        start: usize,
        end: usize,
        anchor: usize,
        entries: Vec<(String, Span, T)>,
        key: Option<(String, Span)>,
        seen: Option<HashSet<String>>,
        size: usize,
    },
}

impl<T> Frame<T> {
    fn awaits_key(&self) -> bool {
        matches!(self, Frame::Map { key: None, .. })
    }
}

/// Maps with more entries than this check duplicates through a hash set instead of a scan.
const LINEAR_DUPLICATE_SCAN: usize = 16;

/// Every document of the stream, as trees of type `T`.
pub fn parse<T: Tree>(file: &SourceFile, limits: Limits) -> Result<Vec<T>, YamlError> {
    let text: &str = file.text();
    // The parser counts characters; spans are bytes. ASCII text needs no conversion.
    let ascii = text.is_ascii();
    let offset = |m: &saphyr_parser::Marker| {
        if ascii {
            m.index()
        } else {
            file.offset_of(m.line(), m.col())
        }
    };
    let span_of =
        |s: &saphyr_parser::Span| Span::new(offset(&s.start), offset(&s.end).max(offset(&s.start)));
    let syntax = |e: ScanError| {
        let mut at = offset(e.marker());
        // The scanner guards flow nesting itself (255 levels), before our own depth check.
        if e.info() == "recursion limit exceeded" {
            return YamlError::at(YamlErrorKind::TooDeep(limits.max_depth), Span::new(at, at));
        }
        // The scanner stops after the tabs it complains about; point at the first of them.
        if e.info().contains("tab") {
            while text[..at].ends_with('\t') {
                at -= 1;
            }
        }
        YamlError::at(
            YamlErrorKind::Syntax(e.info().to_owned()),
            Span::new(at, at),
        )
    };

    let mut documents = Vec::new();
    let mut started = 0;
    let mut trees = Builder::new(limits);
    for event in Parser::new_from_str(text) {
        let (event, span) = event.map_err(syntax)?;
        let span = span_of(&span);
        if matches!(event, Event::SequenceStart(..) | Event::MappingStart(..)) {
            trees.may_open(span)?;
        }
        if matches!(
            event,
            Event::SequenceStart(..)
                | Event::MappingStart(..)
                | Event::Scalar(..)
                | Event::Alias(_)
        ) {
            trees.count_node(span)?;
        }
        let done = match event {
            Event::StreamStart | Event::StreamEnd | Event::Nothing => continue,
            Event::DocumentStart(_) => {
                started += 1;
                if started > limits.max_documents {
                    return Err(YamlError::at(
                        YamlErrorKind::TooManyDocuments(limits.max_documents),
                        span,
                    ));
                }
                trees.anchors.clear();
                continue;
            }
            Event::DocumentEnd => {
                documents.extend(trees.root.take());
                continue;
            }
            Event::SequenceStart(anchor, tag) => {
                check_collection_tag(tag.as_deref(), "seq", span)?;
                trees.stack.push(Frame::Seq {
                    start: span.start,
                    end: span.end,
                    anchor,
                    items: Vec::new(),
                    size: NODE_COST,
                });
                continue;
            }
            Event::MappingStart(anchor, tag) => {
                check_collection_tag(tag.as_deref(), "map", span)?;
                trees.stack.push(Frame::Map {
                    start: span.start,
                    end: span.end,
                    anchor,
                    entries: Vec::new(),
                    key: None,
                    seen: None,
                    size: NODE_COST,
                });
                continue;
            }
            Event::SequenceEnd | Event::MappingEnd => trees.close(span),
            Event::Scalar(text, style, anchor, tag) => {
                match trees.scalar(text, style, anchor, tag.as_deref(), span)? {
                    Some(done) => done,
                    None => continue,
                }
            }
            Event::Alias(id) => trees.alias(id, span)?,
        };
        trees.add(done, span)?;
    }
    Ok(documents)
}

/// A node the last event completed: its tree, its anchor, its cost (see
/// [`Limits::max_copy`]), where it ends, and its text as a key when it is a scalar.
struct Done<T> {
    tree: T,
    anchor: usize,
    size: usize,
    end: usize,
    key: Option<String>,
}

/// The trees of the document being read: the collections still open, the anchors seen, what
/// anchors and aliases have copied so far, and the finished root.
struct Builder<T> {
    stack: Vec<Frame<T>>,
    anchors: HashMap<usize, Anchored<T>>,
    copied: usize,
    root: Option<T>,
    /// Nodes seen in the whole file, bounded by `limits.max_nodes`.
    nodes: usize,
    limits: Limits,
}

impl<T: Tree> Builder<T> {
    fn new(limits: Limits) -> Self {
        Builder {
            stack: Vec::new(),
            anchors: HashMap::new(),
            copied: 0,
            root: None,
            nodes: 0,
            limits,
        }
    }

    /// One more node in the file: a flood of tiny values is refused before it costs memory.
    fn count_node(&mut self, span: Span) -> Result<(), YamlError> {
        self.nodes += 1;
        if self.nodes > self.limits.max_nodes {
            return Err(YamlError::at(
                YamlErrorKind::TooManyNodes(self.limits.max_nodes),
                span,
            ));
        }
        Ok(())
    }

    /// A collection may not be a key, nor nest deeper than the limit.
    fn may_open(&self, span: Span) -> Result<(), YamlError> {
        if self.stack.last().is_some_and(Frame::awaits_key) {
            return Err(YamlError::at(YamlErrorKind::ComplexKey, span));
        }
        if self.stack.len() >= self.limits.max_depth {
            return Err(YamlError::at(
                YamlErrorKind::TooDeep(self.limits.max_depth),
                span,
            ));
        }
        Ok(())
    }

    /// The collection the end event closes, as a tree.
    fn close(&mut self, span: Span) -> Done<T> {
        let (tree, anchor, size, end) = match self.stack.pop() {
            Some(Frame::Seq {
                start,
                end,
                anchor,
                items,
                size,
            }) => {
                let end = if items.is_empty() { span.end } else { end };
                (T::seq(items, Span::new(start, end)), anchor, size, end)
            }
            Some(Frame::Map {
                start,
                end,
                anchor,
                entries,
                size,
                ..
            }) => {
                let end = if entries.is_empty() { span.end } else { end };
                (T::map(entries, Span::new(start, end)), anchor, size, end)
            }
            None => unreachable!("the parser balances collection events"),
        };
        Done {
            tree,
            anchor,
            size,
            end,
            key: None,
        }
    }

    /// A scalar as a tree, or nothing when it is a key (which keeps its source text, so
    /// `0x1F:` is key "0x1F", and needs no tree).
    fn scalar(
        &mut self,
        text: Cow<'_, str>,
        style: ScalarStyle,
        anchor: usize,
        tag: Option<&Tag>,
        span: Span,
    ) -> Result<Option<Done<T>>, YamlError> {
        if anchor == 0
            && let Some(Frame::Map {
                key: pending @ None,
                size,
                end,
                ..
            }) = self.stack.last_mut()
        {
            check_key_tag(tag, span)?;
            *size += NODE_COST + text.len();
            *end = span.end;
            *pending = Some((text.into_owned(), span));
            return Ok(None);
        }
        let key = (anchor != 0).then(|| text.to_string());
        let value = scalar(text, style, tag, span)?;
        let size = NODE_COST
            + match &value {
                Value::String(s) => s.len(),
                _ => 0,
            };
        Ok(Some(Done {
            tree: T::scalar(value, span),
            anchor,
            size,
            end: span.end,
            key,
        }))
    }

    /// A copy of the anchored tree, charged against the limit.
    fn alias(&mut self, id: usize, span: Span) -> Result<Done<T>, YamlError> {
        let Some(target) = self.anchors.get(&id) else {
            return Err(YamlError::at(YamlErrorKind::UnknownAlias, span));
        };
        charge(&mut self.copied, target.size, self.limits, span)?;
        let key = if self.stack.last().is_some_and(Frame::awaits_key) {
            target.key.clone()
        } else {
            None
        };
        let mut tree = target.tree.clone();
        tree.moved_to(span);
        Ok(Done {
            tree,
            anchor: 0,
            size: target.size,
            end: span.end,
            key,
        })
    }

    /// Keeps a finished node's anchor and puts the node where it belongs: the root, the
    /// next item of a sequence, or a mapping's pending key or its value.
    fn add(&mut self, done: Done<T>, span: Span) -> Result<(), YamlError> {
        let Done {
            tree,
            anchor,
            size,
            end,
            key,
        } = done;
        if anchor != 0 {
            // Keeping the anchored tree for later aliases is a copy too.
            charge(&mut self.copied, size, self.limits, span)?;
            self.anchors.insert(
                anchor,
                Anchored {
                    tree: tree.clone(),
                    size,
                    key: key.clone(),
                },
            );
        }
        match self.stack.last_mut() {
            None => self.root = Some(tree),
            Some(Frame::Seq {
                items,
                size: total,
                end: last,
                ..
            }) => {
                *total += size;
                *last = end;
                items.push(tree);
            }
            Some(Frame::Map {
                entries,
                key: pending,
                seen,
                size: total,
                end: last,
                ..
            }) => {
                *total += size;
                *last = end;
                match pending.take() {
                    None => {
                        let key = key.ok_or(YamlError::at(YamlErrorKind::ComplexKey, span))?;
                        *pending = Some((key, span));
                    }
                    Some((name, key_span)) => {
                        if let Some(previous) = find_duplicate(entries, seen, &name) {
                            return Err(YamlError {
                                kind: YamlErrorKind::DuplicateKey(name),
                                span: key_span,
                                previous: Some(previous),
                            });
                        }
                        entries.push((name, key_span, tree));
                    }
                }
            }
        }
        Ok(())
    }
}

/// Counts a copy made for an anchor or an alias against [`Limits::max_copy`].
fn charge(copied: &mut usize, cost: usize, limits: Limits, span: Span) -> Result<(), YamlError> {
    *copied += cost;
    if *copied > limits.max_copy {
        return Err(YamlError::at(
            YamlErrorKind::AliasExpansion(limits.max_copy),
            span,
        ));
    }
    Ok(())
}

fn find_duplicate<T>(
    entries: &[(String, Span, T)],
    seen: &mut Option<HashSet<String>>,
    name: &str,
) -> Option<Span> {
    if entries.len() < LINEAR_DUPLICATE_SCAN {
        return entries.iter().find(|e| e.0 == name).map(|e| e.1);
    }
    let seen = seen.get_or_insert_with(|| entries.iter().map(|e| e.0.clone()).collect());
    if seen.insert(name.to_owned()) {
        None
    } else {
        entries.iter().find(|e| e.0 == name).map(|e| e.1)
    }
}

/// Keys are text whatever their tag, but a tag we do not know is still an error there.
fn check_key_tag(tag: Option<&Tag>, span: Span) -> Result<(), YamlError> {
    match core_tag(tag) {
        Some(Err(other)) => Err(YamlError::at(YamlErrorKind::UnsupportedTag(other), span)),
        _ => Ok(()),
    }
}

fn core_tag(tag: Option<&Tag>) -> Option<Result<&str, String>> {
    tag.map(|t| {
        if t.is_yaml_core_schema() {
            Ok(t.suffix.as_str())
        } else {
            Err(t.to_string())
        }
    })
}

fn check_collection_tag(tag: Option<&Tag>, expected: &str, span: Span) -> Result<(), YamlError> {
    match core_tag(tag) {
        None => Ok(()),
        Some(Ok(suffix)) if suffix == expected => Ok(()),
        Some(Ok(suffix)) => Err(YamlError::at(
            YamlErrorKind::UnsupportedTag(format!("!!{suffix}")),
            span,
        )),
        Some(Err(other)) => Err(YamlError::at(YamlErrorKind::UnsupportedTag(other), span)),
    }
}

fn scalar(
    text: Cow<'_, str>,
    style: ScalarStyle,
    tag: Option<&Tag>,
    span: Span,
) -> Result<Value, YamlError> {
    let value = match core_tag(tag) {
        None if style == ScalarStyle::Plain => resolve_plain(&text),
        None | Some(Ok("str")) => None,
        Some(Ok(suffix @ ("int" | "float" | "bool" | "null"))) => {
            let resolved = resolve_plain(&text);
            let fits = matches!(
                (suffix, &resolved),
                ("int", Some(Value::Int(_)))
                    | ("float", Some(Value::Float(_) | Value::Int(_)))
                    | ("bool", Some(Value::Bool(_)))
                    | ("null", Some(Value::Null))
            );
            if !fits {
                return Err(YamlError::at(
                    YamlErrorKind::BadTaggedValue(format!("!!{suffix}")),
                    span,
                ));
            }
            match resolved {
                Some(Value::Int(i)) if suffix == "float" => Some(Value::Float(i as f64)),
                other => other,
            }
        }
        Some(Ok(suffix)) => {
            return Err(YamlError::at(
                YamlErrorKind::UnsupportedTag(format!("!!{suffix}")),
                span,
            ));
        }
        Some(Err(other)) => return Err(YamlError::at(YamlErrorKind::UnsupportedTag(other), span)),
    };
    match value {
        Some(Value::Float(f)) if !f.is_finite() => {
            Err(YamlError::at(YamlErrorKind::NonFiniteNumber, span))
        }
        Some(value) => Ok(value),
        None => Ok(Value::String(text.into_owned())),
    }
}

/// Resolves a plain scalar by the YAML 1.2 core schema; `None` means it is a string.
/// (YAML 1.1's `yes`, `no`, `on`, `off` are strings here, as the 1.2 spec says.)
fn resolve_plain(text: &str) -> Option<Value> {
    match text {
        "" | "~" | "null" | "Null" | "NULL" => return Some(Value::Null),
        "true" | "True" | "TRUE" => return Some(Value::Bool(true)),
        "false" | "False" | "FALSE" => return Some(Value::Bool(false)),
        ".inf" | ".Inf" | ".INF" | "+.inf" | "+.Inf" | "+.INF" => {
            return Some(Value::Float(f64::INFINITY));
        }
        "-.inf" | "-.Inf" | "-.INF" => return Some(Value::Float(f64::NEG_INFINITY)),
        ".nan" | ".NaN" | ".NAN" => return Some(Value::Float(f64::NAN)),
        _ => {}
    }
    // `from_str_radix` would take a sign (`0o-7`), which the core schema does not.
    if let Some(octal) = text.strip_prefix("0o")
        && !octal.is_empty()
        && octal.bytes().all(|b| (b'0'..=b'7').contains(&b))
    {
        return i64::from_str_radix(octal, 8).ok().map(Value::Int);
    }
    if let Some(hex) = text.strip_prefix("0x")
        && !hex.is_empty()
        && hex.bytes().all(|b| b.is_ascii_hexdigit())
    {
        return i64::from_str_radix(hex, 16).ok().map(Value::Int);
    }
    let digits = text.strip_prefix(['-', '+']).unwrap_or(text);
    if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) {
        // An integer too large for i64 is still a number, not a string.
        return Some(text.parse::<i64>().map_or_else(
            |_| Value::Float(text.parse().unwrap_or(f64::INFINITY)),
            Value::Int,
        ));
    }
    is_core_float(digits).then(|| text.parse::<f64>().ok().map(Value::Float))?
}

/// `( \. [0-9]+ | [0-9]+ ( \. [0-9]* )? ) ( [eE] [-+]? [0-9]+ )?`, sign already stripped.
fn is_core_float(s: &str) -> bool {
    let (mantissa, exponent) = match s.find(['e', 'E']) {
        Some(i) => (&s[..i], Some(&s[i + 1..])),
        None => (s, None),
    };
    let (int, frac) = match mantissa.split_once('.') {
        Some((int, frac)) => (int, Some(frac)),
        None => (mantissa, None),
    };
    let digits = |t: &str| t.bytes().all(|b| b.is_ascii_digit());
    let mantissa_ok = match frac {
        Some(frac) => digits(int) && digits(frac) && !(int.is_empty() && frac.is_empty()),
        None => !int.is_empty() && digits(int),
    };
    let exponent_ok = exponent.is_none_or(|e| {
        let e = e.strip_prefix(['-', '+']).unwrap_or(e);
        !e.is_empty() && digits(e)
    });
    mantissa_ok && exponent_ok
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(text: &str) -> Result<Vec<Node>, YamlError> {
        parse(&SourceFile::new("t.yaml".into(), text), Limits::default())
    }

    fn json(text: &str) -> serde_json::Value {
        let mut docs = parse(&SourceFile::new("t.yaml".into(), text), Limits::default()).unwrap();
        docs.remove(0)
    }

    #[test]
    fn resolves_scalars_by_the_yaml_1_2_core_schema() {
        assert_eq!(
            json("a: yes\nb: 2.1.0\nc: 1.5\nd: 0x1F\ne: ~\nf: 'true'\ng: 12\nh: 1e3\n"),
            serde_json::json!({"a":"yes","b":"2.1.0","c":1.5,"d":31,"e":null,"f":"true","g":12,"h":1000})
        );
    }

    #[test]
    fn spans_point_at_keys_and_values() {
        let text = "metadata:\n  name: orders\n";
        let docs = load(text).unwrap();
        let located = docs[0].locate(&["metadata", "name"]);
        assert_eq!(
            &text[located.node.span.start..located.node.span.end],
            "orders"
        );
        let key = located.key_span.unwrap();
        assert_eq!(&text[key.start..key.end], "name");
    }

    #[test]
    fn duplicate_keys_point_at_both_occurrences() {
        let err = load("a: 1\nb: 2\na: 3\n").unwrap_err();
        assert_eq!(err.kind, YamlErrorKind::DuplicateKey("a".into()));
        assert_eq!(err.span, Span::new(10, 11));
        assert_eq!(err.previous, Some(Span::new(0, 1)));
    }

    #[test]
    fn duplicate_keys_are_found_in_large_maps() {
        let mut text: String = (0..40).map(|i| format!("k{i}: {i}\n")).collect();
        text.push_str("k7: again\n");
        let err = load(&text).unwrap_err();
        assert_eq!(err.kind, YamlErrorKind::DuplicateKey("k7".into()));
    }

    #[test]
    fn keys_keep_their_source_text() {
        assert_eq!(
            json("0x1F: a\n1.10: b\nTrue: c\ntrue: d\n"),
            serde_json::json!({"0x1F":"a","1.10":"b","True":"c","true":"d"})
        );
    }

    #[test]
    fn a_long_string_copied_by_aliases_hits_the_limit() {
        let big = "x".repeat(1024 * 1024);
        let text = format!("big: &s \"{big}\"\ncopies: [*s, *s, *s, *s, *s]\n");
        let err = load(&text).unwrap_err();
        assert!(
            matches!(err.kind, YamlErrorKind::AliasExpansion(_)),
            "{err:?}"
        );
        assert!(load(&format!("big: &s \"{big}\"\ncopies: [*s, *s]\n")).is_ok());
    }

    #[test]
    fn signed_radix_literals_are_strings() {
        assert_eq!(
            json("a: 0o-7\nb: 0x+1F\nc: 0o17\n"),
            serde_json::json!({"a":"0o-7","b":"0x+1F","c":15})
        );
    }

    #[test]
    fn multi_document_streams_yield_every_document() {
        assert_eq!(load("a: 1\n---\nb: 2\n---\n").unwrap().len(), 3);
    }

    #[test]
    fn alias_bombs_stop_at_the_expansion_limit() {
        let mut text = String::from("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
        for i in 1..10 {
            let refs = vec![format!("*a{}", i - 1); 10].join(", ");
            text.push_str(&format!("a{i}: &a{i} [{refs}]\n"));
        }
        let err = load(&text).unwrap_err();
        assert!(
            matches!(err.kind, YamlErrorKind::AliasExpansion(_)),
            "{err:?}"
        );
    }

    #[test]
    fn deep_nesting_is_refused() {
        let text = format!("{}{}", "[".repeat(200), "]".repeat(200));
        let err = load(&text).unwrap_err();
        assert_eq!(err.kind, YamlErrorKind::TooDeep(64));
    }

    #[test]
    fn infinite_numbers_and_foreign_tags_are_refused() {
        assert_eq!(
            load("a: .inf\n").unwrap_err().kind,
            YamlErrorKind::NonFiniteNumber
        );
        assert!(matches!(
            load("a: !vault secret\n").unwrap_err().kind,
            YamlErrorKind::UnsupportedTag(_)
        ));
        assert_eq!(json("a: !!int '12'\n"), serde_json::json!({"a":12}));
    }
}
