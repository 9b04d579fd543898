"""Checks that the workspace's `rust-version` is true of what it builds with.

Cargo reads `rust-version` as a promise: `cargo install` on an older toolchain refuses the
package only if the promise says so. So the promise must be at least the highest
`rust-version` of any dependency in Cargo.lock (kube 5 needs 1.89; we said 1.88 for a while).
Our own use of the standard library is held to the same number by clippy's `incompatible_msrv`
lint, which reads it from the manifest. Run from the repository root.
"""

import json
import subprocess
import sys


def version(text):
    """`1.89` and `1.89.0` are one version: compare as (major, minor, patch)."""
    parts = [int(part) for part in text.split(".")]
    return tuple(parts + [0] * (3 - len(parts)))


def show(v):
    return ".".join(map(str, v[:2] if v[2] == 0 else v))


def main():
    metadata = json.loads(
        subprocess.run(
            ["cargo", "metadata", "--format-version", "1", "--locked"],
            check=True,
            capture_output=True,
            text=True,
        ).stdout
    )
    members = set(metadata["workspace_members"])
    ours = {
        p["name"]: p["rust_version"] for p in metadata["packages"] if p["id"] in members
    }
    missing = sorted(name for name, v in ours.items() if not v)
    if missing:
        sys.exit(f"msrv: no rust-version in {', '.join(missing)} (use rust-version.workspace = true)")
    promised = min(version(v) for v in ours.values())
    needed = [
        (version(p["rust_version"]), f"{p['name']} {p['version']}")
        for p in metadata["packages"]
        if p["id"] not in members and p.get("rust_version")
    ]
    highest, which = max(needed)
    if highest > promised:
        sys.exit(
            f"msrv: rust-version says {show(promised)}, but {which} needs "
            f"{show(highest)}: raise rust-version in the root Cargo.toml"
        )
    print(
        f"msrv: rust-version {show(promised)} covers every dependency "
        f"(the highest, {which}, needs {show(highest)})"
    )


main()
