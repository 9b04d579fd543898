#!/usr/bin/env python3
"""Counts the Kubernetes objects in rendered YAML, by kind, for tests/bench/render.sh.

    kinds.py stats PATH              # JSON: {kind: {count, apiVersion, bytes, lines}}
    kinds.py values STATS.json       # helm values for chart/: the same counts and apiVersions
    kinds.py compare A.json B.json   # exit 1 unless both have the same kinds and counts
    kinds.py table A.json B.json     # markdown: kind, count, mean size in A and in B

PATH is a file (e.g. saved `helm template` output) or a directory, whose *.yaml and *.yml
files are read recursively. Documents are split on `---` lines; a document's kind and
apiVersion are its top-level `kind:` and `apiVersion:` keys, and documents without a kind
(empty ones, comments only) are skipped. Only the standard library is used, so no PyYAML.
"""
import json
import os
import re
import sys

SEPARATOR = re.compile(r"^---(?:\s.*)?$")
KIND = re.compile(r"^kind:\s*[\"']?([A-Za-z0-9]+)")
API_VERSION = re.compile(r"^apiVersion:\s*[\"']?([^\s\"'#]+)")


def files(path):
    if os.path.isfile(path):
        yield path
        return
    for top, dirs, names in os.walk(path):
        dirs.sort()
        for name in sorted(names):
            if name.endswith((".yaml", ".yml")):
                yield os.path.join(top, name)


def documents(text):
    doc = []
    for line in text.splitlines():
        if SEPARATOR.match(line):
            yield doc
            doc = []
        else:
            doc.append(line)
    yield doc


def stats(path):
    out = {}
    for name in files(path):
        with open(name, encoding="utf-8") as f:
            text = f.read()
        for doc in documents(text):
            kind = api = None
            for line in doc:
                if kind is None and (m := KIND.match(line)):
                    kind = m.group(1)
                elif api is None and (m := API_VERSION.match(line)):
                    api = m.group(1)
            if kind is None:
                continue
            # Size without comments and blank lines: helm adds a `# Source:` line to each.
            body = [l for l in doc if l.strip() and not l.lstrip().startswith("#")]
            s = out.setdefault(kind, {"count": 0, "apiVersion": api, "bytes": 0, "lines": 0})
            s["count"] += 1
            s["bytes"] += sum(len(l) + 1 for l in body)
            s["lines"] += len(body)
    return dict(sorted(out.items()))


def load(path):
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def main(argv):
    if len(argv) == 3 and argv[1] == "stats":
        json.dump(stats(argv[2]), sys.stdout, indent=1)
        print()
    elif len(argv) == 3 and argv[1] == "values":
        s = load(argv[2])
        # JSON is YAML, and helm -f reads it as such.
        values = {
            "counts": {k: v["count"] for k, v in s.items()},
            "apiVersions": {k: v["apiVersion"] for k, v in s.items() if v["apiVersion"]},
        }
        json.dump(values, sys.stdout, indent=1)
        print()
    elif len(argv) == 4 and argv[1] == "compare":
        a, b = load(argv[2]), load(argv[3])
        ca = {k: v["count"] for k, v in a.items()}
        cb = {k: v["count"] for k, v in b.items()}
        if ca != cb:
            for k in sorted(set(ca) | set(cb)):
                if ca.get(k, 0) != cb.get(k, 0):
                    print(f"{k}: {ca.get(k, 0)} vs {cb.get(k, 0)}", file=sys.stderr)
            return 1
    elif len(argv) == 4 and argv[1] == "table":
        a, b = load(argv[2]), load(argv[3])
        print("| kind | count | dappctl bytes/object | helm bytes/object | dappctl lines/object | helm lines/object |")
        print("|---|--:|--:|--:|--:|--:|")
        total = {"a": [0, 0], "b": [0, 0]}
        for k in sorted(set(a) | set(b)):
            sa = a.get(k, {"count": 0, "bytes": 0, "lines": 0})
            sb = b.get(k, {"count": 0, "bytes": 0, "lines": 0})
            mean = lambda s, f: f"{s[f] / s['count']:.0f}" if s["count"] else "-"
            print(f"| {k} | {sa['count']} | {mean(sa, 'bytes')} | {mean(sb, 'bytes')} "
                  f"| {mean(sa, 'lines')} | {mean(sb, 'lines')} |")
            total["a"][0] += sa["count"]
            total["a"][1] += sa["bytes"]
            total["b"][0] += sb["count"]
            total["b"][1] += sb["bytes"]
        mib = lambda n: f"{n / 1048576:.1f} MiB"
        print(f"| **total** | {total['a'][0]} | {mib(total['a'][1])} | {mib(total['b'][1])} | | |")
    else:
        print(__doc__.strip(), file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
