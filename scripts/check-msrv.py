#!/usr/bin/env python3
"""Fails when the workspace's `rust-version` (Cargo.toml) is lower than what its locked
dependencies declare they need: the true minimum is the highest `rust-version` among the crates
of Cargo.lock (read from cargo's registry sources, which a build has unpacked). Prints the
crates that set the minimum. Crates not unpacked yet are not read (run after a build).
"""
import glob
import os
import sys
import tomllib

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CARGO_HOME = os.environ.get("CARGO_HOME", os.path.expanduser("~/.cargo"))


def version(v):
    return tuple(int(x) for x in v.split(".")[:3] if x.isdigit())


def main():
    with open(os.path.join(ROOT, "Cargo.toml"), "rb") as f:
        declared = tomllib.load(f)["workspace"]["package"]["rust-version"]
    with open(os.path.join(ROOT, "Cargo.lock"), "rb") as f:
        lock = tomllib.load(f)
    needs = []
    unread = 0
    for p in lock.get("package", []):
        if "registry" not in p.get("source", ""):
            continue
        found = glob.glob(os.path.join(CARGO_HOME, "registry", "src", "*", f"{p['name']}-{p['version']}", "Cargo.toml"))
        if not found:
            unread += 1
            continue
        with open(found[0], "rb") as f:
            rv = tomllib.load(f).get("package", {}).get("rust-version")
        if isinstance(rv, str):
            needs.append((version(rv), rv, f"{p['name']} {p['version']}"))
    needs.sort(reverse=True)
    top = needs[0] if needs else ((0,), "0", "none")
    setters = [n for v, _, n in needs if v == top[0]]
    print(f"msrv: Cargo.toml declares {declared}; the locked crates need {top[1]} ({', '.join(setters)});"
          f" {unread} crates not unpacked, not read", file=sys.stderr)
    if version(declared) < top[0]:
        print(f"msrv: raise rust-version in Cargo.toml to {top[1]}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
