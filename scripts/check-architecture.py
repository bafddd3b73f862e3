#!/usr/bin/env python3
"""Fails when docs/ARCHITECTURE.md's crate table disagrees with the Cargo.toml files.

Every crate under crates/ has one row; the row's "depends on" cell names exactly the
workspace crates its [dependencies] list (optional ones included, dev-dependencies not), by
their folder names, then after a `;` the other crates worth knowing (serde, tract-onnx, …),
which are not checked. Text in parentheses is a remark and is not read. Prints each disagreement and exits 1 if any.
"""
import glob
import os
import re
import sys
import tomllib

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def workspace():
    """folder name -> (package name, set of workspace folder names it depends on)."""
    manifests = {}
    for path in sorted(glob.glob(os.path.join(ROOT, "crates", "*", "Cargo.toml"))):
        folder = os.path.basename(os.path.dirname(path))
        with open(path, "rb") as f:
            manifests[folder] = tomllib.load(f)
    by_package = {m["package"]["name"]: folder for folder, m in manifests.items()}
    out = {}
    for folder, m in manifests.items():
        deps = {by_package[d] for d in m.get("dependencies", {}) if d in by_package}
        out[folder] = (m["package"]["name"], deps)
    return out


def table(text):
    """folder name -> the "depends on" cell, from the Crates table."""
    section = text.split("## Crates", 1)[1].split("\n## ", 1)[0]
    rows = {}
    for line in section.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        m = re.fullmatch(r"`([a-z-]+)`", cells[0]) if len(cells) == 3 else None
        if m:
            rows[m.group(1)] = cells[2]
    return rows


def named(cell, crates):
    """The workspace crates a cell names: before its first `;` (after it: other crates), remarks
    in parentheses left out."""
    cell = cell.split(";", 1)[0]
    prev = None
    while prev != cell:
        prev, cell = cell, re.sub(r"\([^()]*\)", "", cell)
    words = set(re.findall(r"[a-z][a-z0-9-]*", cell.replace("`", " ")))
    return words & set(crates)


def main():
    crates = workspace()
    with open(os.path.join(ROOT, "docs", "ARCHITECTURE.md"), encoding="utf-8") as f:
        rows = table(f.read())
    problems = []
    for folder in sorted(set(crates) | set(rows)):
        if folder not in rows:
            problems.append(f"crate `{folder}` has no row in the crate table")
            continue
        if folder not in crates:
            problems.append(f"row `{folder}` names no crate under crates/")
            continue
        want, got = crates[folder][1], named(rows[folder], crates)
        if want != got:
            missing, extra = sorted(want - got), sorted(got - want)
            problems.append(
                f"`{folder}` depends on: Cargo.toml {sorted(want) or '–'}, table {sorted(got) or '–'}"
                f" (missing {missing or '–'}, extra {extra or '–'})"
            )
    for p in problems:
        print(f"docs/ARCHITECTURE.md: {p}", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
