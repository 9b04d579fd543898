//! Rules over the whole mesh, run on the documents that passed their schema. Each submodule
//! owns one family of rules; this module builds the name indexes they share.

mod evolution;
mod names;
mod ports;
mod product;
mod widgets;

use std::collections::{HashMap, HashSet};

use rayon::prelude::*;

use super::{Doc, Sorted};
use crate::diagnostic::Diagnostic;
use crate::model::{DataProduct, Domain};

/// Lookup by name over the mesh, built once.
struct Catalog<'a> {
    domains: HashMap<&'a str, &'a Doc<Domain>>,
    /// (domain, name) → index into `Sorted::products`; the first of duplicates wins.
    products: HashMap<(&'a str, &'a str), usize>,
    all_products: &'a [Doc<DataProduct>],
    /// Names that exist but failed their schema: no "not found" about them.
    broken_domains: HashSet<&'a str>,
    broken_products: HashSet<(&'a str, &'a str)>,
    /// Whether every document was identified; if not, a name we do not know may still exist.
    complete: bool,
}

impl<'a> Catalog<'a> {
    fn new(sorted: &'a Sorted) -> Self {
        let mut domains = HashMap::new();
        for d in &sorted.domains {
            domains.entry(d.spec.metadata.name.as_str()).or_insert(d);
        }
        let mut products = HashMap::new();
        for (i, p) in sorted.products.iter().enumerate() {
            let m = &p.spec.metadata;
            products
                .entry((m.domain.as_str(), m.name.as_str()))
                .or_insert(i);
        }
        Catalog {
            domains,
            products,
            all_products: &sorted.products,
            broken_domains: sorted.broken_domains.iter().map(String::as_str).collect(),
            broken_products: sorted
                .broken_products
                .iter()
                .map(|(d, n)| (d.as_str(), n.as_str()))
                .collect(),
            complete: !sorted.incomplete,
        }
    }

    fn product(&self, key: (&str, &str)) -> Option<(usize, &'a Doc<DataProduct>)> {
        self.products.get(&key).map(|&i| (i, &self.all_products[i]))
    }

    /// Whether a domain of this name may exist (and so must not be reported missing).
    fn domain_known(&self, name: &str) -> bool {
        !self.complete || self.domains.contains_key(name) || self.broken_domains.contains(name)
    }

    /// Whether a product of this name may exist beyond those that passed their schema.
    fn product_possible(&self, key: (&str, &str)) -> bool {
        !self.complete || self.broken_products.contains(&key)
    }
}

pub(super) fn check(sorted: &Sorted) -> Vec<Diagnostic> {
    let catalog = Catalog::new(sorted);
    let mut out = Vec::new();
    names::check(sorted, &catalog, &mut out);
    let per_product: Vec<Vec<Diagnostic>> = sorted
        .products
        .par_iter()
        .map(|doc| {
            let mut found = Vec::new();
            product::check(doc, &mut found);
            evolution::check(doc, &mut found);
            widgets::check(doc, &mut found);
            found
        })
        .collect();
    out.extend(per_product.into_iter().flatten());
    ports::check(sorted, &catalog, &mut out);
    out
}

/// "did you mean `x`?" when a close name exists, else the list of names (if short).
fn suggest<'a>(
    wrong: &str,
    candidates: impl IntoIterator<Item = &'a str> + Clone,
) -> Option<String> {
    if let Some(close) = crate::diagnostic::did_you_mean(wrong, candidates.clone()) {
        return Some(format!("did you mean `{close}`?"));
    }
    let mut all: Vec<&str> = candidates.into_iter().collect();
    all.sort_unstable();
    all.dedup();
    match all.len() {
        0 => None,
        1..=8 => Some(format!(
            "defined here: {}",
            all.iter()
                .map(|c| format!("`{c}`"))
                .collect::<Vec<_>>()
                .join(", ")
        )),
        _ => None,
    }
}

/// Reports every name that repeats an earlier one in the same scope: the items of the list
/// at pointer `list`, each named by its key `field`.
fn unique<'n, T>(
    doc: &Doc<T>,
    what: &str,
    list: &str,
    field: &str,
    names: impl IntoIterator<Item = &'n str>,
    out: &mut Vec<Diagnostic>,
) {
    let mut seen: HashMap<&str, usize> = HashMap::new();
    for (i, name) in names.into_iter().enumerate() {
        match seen.get(name) {
            Some(first) => out.push(
                doc.error(
                    "name::duplicate",
                    format!("duplicate {what} `{name}`"),
                    &format!("{list}/{i}/{field}"),
                )
                .label("defined again here")
                .related(
                    doc.file,
                    doc.span(&format!("{list}/{first}/{field}")),
                    "first defined here",
                )
                .help(format!("{what} names must be unique; rename or remove one")),
            ),
            None => {
                seen.insert(name, i);
            }
        }
    }
}

/// The first cycle of a directed graph of `n` nodes, found by depth-first search in node and
/// edge order: the label of the edge that closes it, and its nodes with the first repeated
/// at the end. Iterative, so long chains cannot overflow the stack.
fn find_cycle<L: Copy, I: Iterator<Item = (usize, L)>>(
    n: usize,
    edges: impl Fn(usize) -> I,
) -> Option<(L, Vec<usize>)> {
    #[derive(Clone, Copy, PartialEq)]
    enum Color {
        New,
        OnPath,
        Done,
    }
    let mut color = vec![Color::New; n];
    for start in 0..n {
        if color[start] != Color::New {
            continue;
        }
        color[start] = Color::OnPath;
        let mut path: Vec<(usize, I)> = vec![(start, edges(start))];
        while let Some((node, iter)) = path.last_mut() {
            let node = *node;
            match iter.next() {
                Some((to, label)) => match color[to] {
                    Color::New => {
                        color[to] = Color::OnPath;
                        path.push((to, edges(to)));
                    }
                    Color::OnPath => {
                        let from = path.iter().position(|(n, _)| *n == to).unwrap_or(0);
                        let mut cycle: Vec<usize> = path[from..].iter().map(|(n, _)| *n).collect();
                        cycle.push(to);
                        return Some((label, cycle));
                    }
                    Color::Done => {}
                },
                None => {
                    color[node] = Color::Done;
                    path.pop();
                }
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::find_cycle;

    #[test]
    fn finds_the_cycle_and_the_edge_that_closes_it() {
        let edges = [
            vec![(1, 'a')],
            vec![(2, 'b')],
            vec![(0, 'c'), (3, 'd')],
            vec![],
        ];
        let (label, cycle) = find_cycle(4, |n| edges[n].iter().copied()).unwrap();
        assert_eq!(label, 'c');
        assert_eq!(cycle, vec![0, 1, 2, 0]);
    }

    #[test]
    fn a_dag_has_no_cycle_even_when_paths_rejoin() {
        let edges = [vec![(1, ()), (2, ())], vec![(3, ())], vec![(3, ())], vec![]];
        assert!(find_cycle(4, |n| edges[n].iter().copied()).is_none());
    }

    #[test]
    fn a_long_chain_does_not_overflow() {
        let n = 200_000;
        assert!(find_cycle(n, |i| (i + 1 < n).then_some((i + 1, ())).into_iter()).is_none());
    }
}
