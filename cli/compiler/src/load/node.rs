//! The YAML tree with a byte span on every node and every mapping key, so any JSON Pointer
//! into a document leads back to the text that produced it.

use crate::source::Span;

#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    pub value: Value,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    String(String),
    Seq(Vec<Node>),
    Map(Vec<Entry>),
}

#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    pub key: String,
    pub key_span: Span,
    pub value: Node,
}

/// Where a JSON Pointer leads in a tree: the node, and the span of the mapping key that holds
/// it when there is one.
#[derive(Debug, Clone, Copy)]
pub struct Located<'a> {
    pub node: &'a Node,
    pub key_span: Option<Span>,
}

impl Node {
    /// Follows JSON Pointer segments (already unescaped) as far as they lead.
    pub fn locate<'a, S: AsRef<str>>(&'a self, segments: &[S]) -> Located<'a> {
        let mut here = Located {
            node: self,
            key_span: None,
        };
        for segment in segments {
            let segment = segment.as_ref();
            let next = match &here.node.value {
                Value::Map(entries) => entries.iter().find(|e| e.key == segment).map(|e| Located {
                    node: &e.value,
                    key_span: Some(e.key_span),
                }),
                Value::Seq(items) => segment
                    .parse::<usize>()
                    .ok()
                    .and_then(|i| items.get(i))
                    .map(|node| Located {
                        node,
                        key_span: None,
                    }),
                _ => None,
            };
            match next {
                Some(next) => here = next,
                None => break,
            }
        }
        here
    }

    /// The span a diagnostic about this node should underline: a scalar itself, or for a
    /// collection its key (or its first line), so a label never covers a whole block.
    pub fn label_span(located: Located<'_>) -> Span {
        match (&located.node.value, located.key_span) {
            (Value::Seq(_) | Value::Map(_), Some(key)) => key,
            (Value::Map(entries), None) => entries.first().map_or(located.node.span, |e| {
                Span::new(e.key_span.start, e.key_span.end)
            }),
            (Value::Seq(_), None) => {
                Span::new(located.node.span.start, located.node.span.start + 1)
            }
            _ => located.node.span,
        }
    }
}
