"""Summarises a `checkov -o json` report: one line when clean, else the failures compactly.

    python checkov_report.py REPORT.json SKIPPED_IDS     (run by check.sh)

SKIPPED_IDS is the comma-separated list given to --skip-check (only for the summary).
Fails (exit 1) on any failed check or parsing error, or when the report is not what checkov
writes for one framework. Checks skipped inline by an object's `checkov.io/skip*` annotation
are counted and listed, so that none hides unnoticed.
"""

from __future__ import annotations

import json
import sys


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print(__doc__.strip(), file=sys.stderr)
        return 2
    path, skipped_ids = argv
    try:
        with open(path, encoding="utf-8") as f:
            report = json.load(f)
    except (OSError, ValueError) as e:
        print(f"  checkov wrote no JSON report ({e})")
        return 1
    # One framework: an object; several: a list of them; no file of that framework: a bare summary.
    if isinstance(report, list):
        reports = report
    else:
        reports = [report]
    version = "?"
    passed = failed = parse_errors = 0
    lines: list[str] = []
    inline: list[str] = []
    for r in reports:
        if not isinstance(r, dict):
            print(f"  unexpected checkov report: {str(r)[:200]}")
            return 1
        summary = r.get("summary", r)
        version = summary.get("checkov_version", version)
        passed += summary.get("passed", 0)
        results = r.get("results", {})
        for check in results.get("failed_checks", []):
            failed += 1
            keys = ", ".join(check.get("check_result", {}).get("evaluated_keys", []) or [])
            start, end = (check.get("file_line_range") or [0, 0])[:2]
            where = f"{check.get('file_path', '?').lstrip('/')}:{start}-{end}"
            lines.append(f"  {check['check_id']} {check.get('resource', '?')} ({where})"
                         f"{' at ' + keys if keys else ''}: {check.get('check_name', '')}")
        for check in results.get("skipped_checks", []):
            inline.append(f"{check['check_id']} on {check.get('resource', '?')}")
        for error in results.get("parsing_errors", []):
            parse_errors += 1
            lines.append(f"  parsing error: {error}")
        parse_errors = max(parse_errors, summary.get("parsing_errors", 0))

    text = (f"checkov {version} (kubernetes): {passed} passed, {failed} failed, "
            f"{len(inline)} skipped inline; not run (checkov-skips.txt): {skipped_ids or 'none'}")
    if inline:
        text += "; inline skips: " + ", ".join(sorted(inline))
    if failed or parse_errors:
        print("\n".join(sorted(lines)))
        print(f"{text}: FAILED")
        return 1
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
