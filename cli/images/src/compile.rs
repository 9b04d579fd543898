//! The static binaries: one `cargo build` for every component asked for, on the glibc
//! target with `+crt-static`, with the build machine's paths remapped so they do not end up
//! in the binaries (panic messages and debug info name /build and /cargo instead).

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::component::{Arch, Component};
use crate::{Error, Result};

pub struct Build<'a> {
    /// The workspace root (where Cargo.lock is).
    pub root: &'a Path,
    pub arch: Arch,
    /// A Cargo profile: `release` for images that ship; the tests use a faster one.
    pub profile: &'a str,
}

impl Build<'_> {
    /// Builds `components` and returns each binary's path, in the same order.
    pub fn run(&self, components: &[&Component]) -> Result<Vec<PathBuf>> {
        let target = self.arch.rust_target();
        let home = std::env::var("CARGO_HOME")
            .map(PathBuf::from)
            .or_else(|_| std::env::var("HOME").map(|h| Path::new(&h).join(".cargo")));
        let mut flags = vec![
            "-C".to_owned(),
            "target-feature=+crt-static".to_owned(),
            format!("--remap-path-prefix={}=/build", self.root.display()),
        ];
        if let Ok(home) = home {
            flags.push(format!("--remap-path-prefix={}=/cargo", home.display()));
        }
        let mut command = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
        command
            .current_dir(self.root)
            .args([
                "build",
                "--locked",
                "--target",
                target,
                "--profile",
                self.profile,
            ])
            // The encoded form outranks RUSTFLAGS and target rustflags, so a caller's flags
            // cannot drop +crt-static; with --target it reaches neither build scripts nor
            // proc-macros, which run on the host and stay dynamic.
            .env("CARGO_ENCODED_RUSTFLAGS", flags.join("\x1f"))
            .env_remove("RUSTFLAGS");
        for c in components {
            command.args(["-p", c.package]);
        }
        let shown = format!(
            "cargo build --locked --target {target} --profile {} {}",
            self.profile,
            components
                .iter()
                .map(|c| format!("-p {}", c.package))
                .collect::<Vec<_>>()
                .join(" ")
        );
        let status = command.status().map_err(|source| Error::Spawn {
            command: shown.clone(),
            source,
        })?;
        if !status.success() {
            return Err(Error::Command {
                command: shown,
                status: status.to_string(),
            });
        }
        // `release` and `dev` keep their historic directory names; any other profile is
        // its own.
        let dir = match self.profile {
            "dev" => "debug",
            other => other,
        };
        let target_dir = std::env::var("CARGO_TARGET_DIR")
            .map(PathBuf::from)
            .unwrap_or_else(|_| self.root.join("target"));
        Ok(components
            .iter()
            .map(|c| target_dir.join(target).join(dir).join(c.name))
            .collect())
    }
}
