#!/usr/bin/env python3
"""Fails when the modules of a crate depend on one another in a cycle.

A module depends on another when its non-test code names it (`crate::x`, or `super::x` inside
a folder module). The crate root (lib.rs, main.rs) is left out: it declares every module.
Prints each cycle, e.g. `crates/report/src: model -> rows -> model`, and exits 1 if any.
"""
import glob
import os
import re
import sys


def modules(src):
    deps = {}
    for f in glob.glob(f"{src}/**/*.rs", recursive=True):
        rel = os.path.relpath(f, src)[:-3]
        name = rel.replace("/mod", "").replace("/", "::")
        if name in ("lib", "main"):
            continue
        top = name.split("::")[0]
        text = open(f, encoding="utf-8").read().split("#[cfg(test)]")[0]
        found = {m.group(1) for m in re.finditer(r"\bcrate::([a-z_][a-z0-9_]*)", text)}
        if "::" in name:  # a module in a folder module names its siblings with super::
            found |= {top}
        deps.setdefault(top, set()).update(d for d in found if d != top)
    return deps


def cycles(deps):
    out, seen = [], set()

    def walk(node, path):
        for d in sorted(deps.get(node, ())):
            if d not in deps:
                continue
            if d in path:
                cyc = path[path.index(d):] + [d]
                key = frozenset(cyc)
                if key not in seen:
                    seen.add(key)
                    out.append(cyc)
            else:
                walk(d, path + [d])

    for n in sorted(deps):
        walk(n, [n])
    return out


def main():
    bad = 0
    for src in sorted(glob.glob("crates/*/src")):
        for c in cycles(modules(src)):
            print(f"{src}: {' -> '.join(c)}")
            bad += 1
    if bad:
        print(f"module-cycles: {bad} cycle(s); move what both sides need into a module of its own", file=sys.stderr)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
