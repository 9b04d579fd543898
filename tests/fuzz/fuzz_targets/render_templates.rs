//! Fuzzes rendering with a user's template (`dappctl render --templates`): arbitrary bytes
//! as one extra product template, rendered over the example mesh. Nothing may panic or run
//! away: a template that loops or floods ends in a `RenderError` by its fuel and output
//! limits, and what renders is objects with the paths the render promises.

#![no_main]

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;

use dappmesh_compiler::render::{Afresh, Options, render};
use dappmesh_compiler::validate::{Validated, validate_paths};

fn examples() -> &'static Validated {
    static VALIDATED: OnceLock<Validated> = OnceLock::new();
    VALIDATED.get_or_init(|| {
        let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../examples");
        validate_paths(&[root])
            .expect("the examples load")
            .validated
            .expect("the examples are valid")
    })
}

/// A directory of its own per fuzzing process, holding the one template under test.
fn templates() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir =
            std::env::temp_dir().join(format!("dappmesh-fuzz-templates-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("product")).expect("a temporary directory");
        dir
    })
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let file = templates().join("product/fuzz.yaml.j2");
    std::fs::write(&file, text).expect("the template is written");
    let options = Options {
        env: Some("dev".into()),
        templates: Some(templates().to_owned()),
    };
    if let Ok(rendered) = render(examples(), &options, &Afresh) {
        for path in rendered.output.files.keys() {
            assert!(
                !path.starts_with('/')
                    && !path.split('/').any(|part| part == ".." || part.is_empty()),
                "the render wrote outside its tree: {path}"
            );
        }
    }
});
