"""Validates every Kubernetes object in the YAML files under a directory with kubernetes-validate.

    python kube_validate.py OUT_DIR [K8S_VERSION...]     (run by check.sh with the oracles venv)

Each object of a built-in API group is validated as `kubernetes-validate --strict -k VERSION`
does (the same library call, `kubernetes_validate.utils.validate(obj, version, strict=True)`),
once per version. The CLI itself is not used because it lets through what this must not:

- an object it has no schema for only gets a WARN and exit 0. That is right for custom
  resources (dappmesh.io, argoproj.io, ...: validated by dappctl itself, not here), but it
  would also pass a built-in kind under a removed or misspelt apiVersion (batch/v1beta1
  CronJob, policy/v1beta1 PodSecurityPolicy) or a misspelt kind. So: an object whose API
  group is one Kubernetes serves (any group named in the schemas' x-kubernetes-group-version-kind,
  "" for core) must have a schema and pass it; any other group is a custom resource and is
  counted as skipped, by apiVersion and kind.
- YAML that does not parse makes the CLI exit with a message; checkov silently ignores such
  a file. Here it is a failure, and so is a duplicate mapping key (PyYAML keeps the last one;
  kubectl's strict field validation rejects the object), in custom resources too.
- a document that is not a mapping with apiVersion and kind is a failure.

Prints one summary line on success; otherwise one line per failure, then the summary.
Exit status: 0 all valid, 1 some failure, 2 usage error (bad or unsupported version, no dir).
"""

from __future__ import annotations

import json
import os
import re
import sys
from collections import Counter

import importlib_resources
import yaml
from kubernetes_validate import utils
from kubernetes_validate.version import __version__

MAX_MESSAGE = 300


class StrictLoader(yaml.SafeLoader):
    """PyYAML's safe loader, rejecting duplicate keys; `=` values as the CLI reads them."""


def _construct_mapping(loader: StrictLoader, node: yaml.MappingNode, deep: bool = False):
    loader.flatten_mapping(node)
    seen: dict = {}
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=True)
        try:
            first = seen.get(key)
        except TypeError:  # an unhashable key: the constructor below reports it
            continue
        if first is not None:
            raise yaml.constructor.ConstructorError(
                "while constructing a mapping", node.start_mark,
                f"found duplicate key {key!r} (first at line {first})", key_node.start_mark)
        seen[key] = key_node.start_mark.line + 1
    return yaml.SafeLoader.construct_mapping(loader, node, deep)


StrictLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)
StrictLoader.add_constructor("tag:yaml.org,2002:value", utils.construct_value)


def schema_dir(version: str) -> str:
    return f"kubernetes-json-schema/v{version}-local-strict"


def builtin_groups() -> set[str]:
    """Every API group that some Kubernetes version known to kubernetes-validate serves."""
    groups: set[str] = set()
    root = importlib_resources.files("kubernetes_validate")
    for version in utils.all_versions():
        defs = json.loads(root.joinpath(schema_dir(version), "_definitions.json").read_text())
        for definition in defs.get("$defs", defs.get("definitions", {})).values():
            for gvk in definition.get("x-kubernetes-group-version-kind", []):
                groups.add(gvk.get("group", ""))
    if not {"", "apps", "batch"} <= groups:
        raise SystemExit(f"kube_validate.py: cannot read the API groups from kubernetes-validate "
                         f"{__version__}'s schemas (found {sorted(groups)}); has its layout changed?")
    return groups


def parse_versions(args: list[str]) -> list[str]:
    supported = [utils.major_minor(v) for v in utils.all_versions()]
    if not args:
        return [supported[-1]]
    versions = []
    for arg in args:
        m = re.fullmatch(r"v?(\d+\.\d+)(\.\d+)?", arg)
        if not m or m.group(1) not in supported:
            raise SystemExit(f"kube_validate.py: Kubernetes version {arg!r} is not supported by "
                             f"kubernetes-validate {__version__} (it knows {supported[0]} to "
                             f"{supported[-1]}; give MAJOR.MINOR, e.g. {supported[-1]})")
        if m.group(1) not in versions:
            versions.append(m.group(1))
    return versions


def yaml_files(top: str) -> list[str]:
    found = []
    for dirpath, dirnames, filenames in os.walk(top):
        dirnames.sort()
        for name in sorted(filenames):
            if name.endswith((".yaml", ".yml")):
                found.append(os.path.join(dirpath, name))
    return found


def clip(text: str) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= MAX_MESSAGE else text[: MAX_MESSAGE - 3] + "..."


def main(argv: list[str]) -> int:
    if not argv or argv[0] in ("-h", "--help"):
        print(__doc__.strip())
        return 2
    top = argv[0]
    if not os.path.isdir(top):
        print(f"kube_validate.py: {top} is not a directory", file=sys.stderr)
        return 2
    try:
        versions = parse_versions(argv[1:])
    except SystemExit as e:
        print(e, file=sys.stderr)
        return 2
    groups = builtin_groups()

    failures: list[str] = []
    validated = 0
    custom: Counter = Counter()
    files = yaml_files(top)
    for path in files:
        shown = os.path.relpath(path, top)
        try:
            with open(path, encoding="utf-8") as f:
                docs = list(yaml.load_all(f, Loader=StrictLoader))
        except (yaml.YAMLError, UnicodeDecodeError, TypeError) as e:
            failures.append(f"{shown}: not valid YAML: {clip(e)}")
            continue
        for index, doc in enumerate(docs, 1):
            if doc is None:
                continue  # an empty document, as between two `---`
            if not isinstance(doc, dict) or not isinstance(doc.get("apiVersion"), str) \
                    or not isinstance(doc.get("kind"), str):
                failures.append(f"{shown}: document {index} is not a Kubernetes object "
                                f"(a mapping with apiVersion and kind)")
                continue
            api_version, kind = doc["apiVersion"], doc["kind"]
            group = api_version.rpartition("/")[0] if "/" in api_version else ""
            if group not in groups:
                custom[f"{api_version} {kind}"] += 1
                continue
            meta = doc.get("metadata") if isinstance(doc.get("metadata"), dict) else {}
            name = f"{kind}/{meta.get('name', meta.get('generateName', f'(document {index})'))}"
            validated += 1
            for version in versions:
                try:
                    utils.validate(doc, version, strict=True)
                except utils.ValidationError as e:
                    where = ".".join(str(p) for p in e.path) or "(top level)"
                    failures.append(f"{shown}: {name} @{version}: {where}: {clip(e.message)}")
                except utils.SchemaNotFoundError:
                    failures.append(f"{shown}: {name} @{version}: Kubernetes {version} serves no "
                                    f"kind {kind} in {api_version} (no schema)")
                except Exception as e:  # noqa: BLE001 - report, do not crash, on a library error
                    failures.append(f"{shown}: {name} @{version}: could not be validated: {clip(e)}")

    skipped = sum(custom.values())
    summary = (f"kubernetes-validate {__version__} --strict: {validated} objects in {len(files)} "
               f"files against {', '.join(versions)}; {skipped} custom resource"
               f"{'' if skipped == 1 else 's'} skipped")
    if custom:
        summary += " (" + ", ".join(f"{n}× {gvk}" for gvk, n in sorted(custom.items())) + ")"
    if not files:
        failures.append(f"no .yaml or .yml file under {top}")
    if failures:
        for line in failures:
            print(f"  {line}")
        print(f"{summary}: {len(failures)} FAILED")
        return 1
    print(summary)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
