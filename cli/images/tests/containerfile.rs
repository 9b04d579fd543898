//! The Containerfiles (cli/images/containerfiles/) against the builder's plan: the same
//! files with the same modes and owners, the same passwd and group text, and the same
//! user, entrypoint and ports. Docker cannot run here, so the files are parsed, not built.

use dappmesh_images::component::{ALL, UID};
use dappmesh_images::filesystem::{Content, leaves, plan};

/// The Containerfile's instructions, continuation lines joined.
fn instructions(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut current = String::new();
    for line in text.lines() {
        if current.is_empty() && (line.trim_start().starts_with('#') || line.trim().is_empty()) {
            continue;
        }
        match line.strip_suffix('\\') {
            Some(part) => current.push_str(part),
            None => {
                current.push_str(line);
                out.push(std::mem::take(&mut current));
            }
        }
    }
    out
}

/// The final stage's COPY lines as (target without the leading '/', mode, uid).
fn copies(instructions: &[String]) -> Vec<(String, u32, u64)> {
    let last_from = instructions
        .iter()
        .rposition(|i| i.starts_with("FROM "))
        .expect("a FROM");
    let mut out: Vec<_> = instructions[last_from..]
        .iter()
        .filter_map(|i| i.strip_prefix("COPY "))
        .map(|args| {
            let words: Vec<&str> = args.split_whitespace().collect();
            let flag = |name: &str| {
                words
                    .iter()
                    .find_map(|w| w.strip_prefix(&format!("--{name}=")))
            };
            let mode = u32::from_str_radix(flag("chmod").expect("every COPY sets --chmod"), 8)
                .expect("an octal mode");
            let uid = flag("chown").map_or(0, |o| {
                o.split(':')
                    .next()
                    .unwrap()
                    .parse()
                    .expect("a numeric owner")
            });
            let target = words.last().unwrap().trim_start_matches('/').to_owned();
            (target, mode, uid)
        })
        .collect();
    out.sort();
    out
}

/// The text a `printf '…' >/out/NAME` in the build stage writes.
fn printed(instructions: &[String], name: &str) -> String {
    let run = instructions.iter().find(|i| i.starts_with("RUN ")).unwrap();
    let end = run
        .find(&format!("' >/out/{name}"))
        .expect("a printf for the file");
    let start = run[..end].rfind("printf '").unwrap() + "printf '".len();
    run[start..end].replace("\\n", "\n")
}

#[test]
fn each_containerfile_builds_the_plan() {
    for component in &ALL {
        let path = format!(
            "{}/containerfiles/{}.Containerfile",
            env!("CARGO_MANIFEST_DIR"),
            component.name
        );
        let text = std::fs::read_to_string(&path).unwrap();
        let instructions = instructions(&text);
        let nodes = plan(component);
        let mut want: Vec<_> = leaves(&nodes)
            .into_iter()
            .map(|n| (n.path.clone(), n.mode, n.uid))
            .collect();
        want.sort();
        assert_eq!(copies(&instructions), want, "{path}");
        for node in &nodes {
            if let Content::Text(text) = &node.content {
                let file = node.path.rsplit('/').next().unwrap();
                assert_eq!(&printed(&instructions, file), text, "{path}: {}", node.path);
            }
        }
        let has = |line: &str| instructions.iter().any(|i| i == line);
        assert!(has(&format!("USER {UID}:{UID}")), "{path}: USER");
        assert!(
            has(&format!("ENTRYPOINT [\"{}\"]", component.entrypoint())),
            "{path}: ENTRYPOINT"
        );
        let ports: Vec<String> = component.ports.iter().map(u16::to_string).collect();
        if ports.is_empty() {
            assert!(
                !instructions.iter().any(|i| i.starts_with("EXPOSE")),
                "{path}"
            );
        } else {
            assert!(
                has(&format!("EXPOSE {}", ports.join(" "))),
                "{path}: EXPOSE"
            );
        }
    }
}
