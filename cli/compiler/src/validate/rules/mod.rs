//! Rules over the whole mesh, run on the documents that passed their schema. Each submodule
//! owns one family of rules; this module builds the name indexes they share.

mod evolution;
mod names;
mod network;
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
    names::check(sorted, &mut out);
    let per_product: Vec<Vec<Diagnostic>> = sorted
        .products
        .par_iter()
        .map(|doc| {
            let mut found = Vec::new();
            names::check_product(doc, &catalog, &mut found);
            product::check(doc, &mut found);
            evolution::check(doc, &mut found);
            widgets::check(doc, &mut found);
            network::check(doc, &mut found);
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
fn unique<T>(
    doc: &Doc<T>,
    what: &str,
    list: &str,
    field: &str,
    names: &[&str],
    out: &mut Vec<Diagnostic>,
) {
    // Scopes hold a handful of names: a scan beats hashing, until a list grows long.
    const SCAN: usize = 16;
    let short = names.len() <= SCAN;
    let mut seen: HashMap<&str, usize> = HashMap::new();
    for (i, &name) in names.iter().enumerate() {
        let first = if short {
            names[..i].iter().position(|n| *n == name)
        } else {
            seen.get(name).copied()
        };
        match first {
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
            None if !short => {
                seen.insert(name, i);
            }
            None => {}
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

/// One cycle for each group of nodes that all reach one another (a strongly connected
/// component with a cycle in it), so two unrelated cycles are both reported.
fn find_cycles<L: Copy, I: Iterator<Item = (usize, L)>>(
    n: usize,
    edges: impl Fn(usize) -> I,
) -> Vec<(L, Vec<usize>)> {
    let component = strong_components(n, &edges);
    // A component is cyclic when it has two nodes or more, or one with an edge to itself.
    let mut size = vec![0usize; n];
    let mut self_loop = vec![false; n];
    for v in 0..n {
        size[component[v]] += 1;
        self_loop[component[v]] |= edges(v).any(|(to, _)| to == v);
    }
    (0..n)
        .filter(|&c| size[c] > 1 || self_loop[c])
        .filter_map(|c| {
            let inside = |v: usize| component[v] == c;
            find_cycle(n, |v| {
                edges(v).filter(move |&(to, _)| inside(v) && inside(to))
            })
        })
        .collect()
}

/// Tarjan's algorithm, iterative: the component of every node, numbered from 0.
fn strong_components<L, I: Iterator<Item = (usize, L)>>(
    n: usize,
    edges: &impl Fn(usize) -> I,
) -> Vec<usize> {
    const UNSEEN: usize = usize::MAX;
    let mut index = vec![UNSEEN; n];
    let mut low = vec![0; n];
    let mut on_stack = vec![false; n];
    let mut stack = Vec::new();
    let mut component = vec![UNSEEN; n];
    let (mut next_index, mut next_component) = (0, 0);
    for root in 0..n {
        if index[root] != UNSEEN {
            continue;
        }
        index[root] = next_index;
        low[root] = next_index;
        next_index += 1;
        stack.push(root);
        on_stack[root] = true;
        let mut path: Vec<(usize, I)> = vec![(root, edges(root))];
        while let Some((v, iter)) = path.last_mut() {
            let v = *v;
            match iter.next() {
                Some((w, _)) if index[w] == UNSEEN => {
                    index[w] = next_index;
                    low[w] = next_index;
                    next_index += 1;
                    stack.push(w);
                    on_stack[w] = true;
                    path.push((w, edges(w)));
                }
                Some((w, _)) => {
                    if on_stack[w] {
                        low[v] = low[v].min(index[w]);
                    }
                }
                None => {
                    path.pop();
                    if let Some((parent, _)) = path.last() {
                        low[*parent] = low[*parent].min(low[v]);
                    }
                    if low[v] == index[v] {
                        while let Some(w) = stack.pop() {
                            on_stack[w] = false;
                            component[w] = next_component;
                            if w == v {
                                break;
                            }
                        }
                        next_component += 1;
                    }
                }
            }
        }
    }
    component
}

#[cfg(test)]
mod tests {
    use super::{find_cycle, find_cycles};

    #[test]
    fn finds_one_cycle_per_group_of_nodes_that_reach_one_another() {
        // 0 → 1 → 0, 2 → 3 → 4 → 2, 5 → 5, and 1 → 2 joining the first two groups one way.
        let edges = [
            vec![(1, 'a')],
            vec![(0, 'b'), (2, 'x')],
            vec![(3, 'c')],
            vec![(4, 'd')],
            vec![(2, 'e')],
            vec![(5, 'f')],
        ];
        let mut found = find_cycles(6, |n| edges[n].iter().copied());
        found.sort_by_key(|(label, _)| *label);
        let labels: Vec<char> = found.iter().map(|(l, _)| *l).collect();
        assert_eq!(labels, ['b', 'e', 'f']);
        assert_eq!(found[1].1, vec![2, 3, 4, 2]);
    }

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
