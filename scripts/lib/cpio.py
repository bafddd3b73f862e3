#!/usr/bin/env python3
"""Packs a directory as a gzip'd newc cpio archive, the format Linux unpacks as an initramfs.

    python3 scripts/lib/cpio.py ROOT OUT.gz

Owners, modes and symlinks are kept (a board's rootfs has files of other owners); hard links
become copies; device nodes are left out (the board mounts devtmpfs). Entries are sorted, so
the same tree gives the same archive. No `cpio` program is needed. Several archives may be
concatenated: the kernel unpacks them in order, later files replacing earlier ones.
"""
import gzip
import os
import stat
import sys


def entry(name, st, data=b""):
    fields = (0, st.st_mode, st.st_uid, st.st_gid, 1, int(st.st_mtime), len(data), 0, 0, 0, 0, len(name) + 1, 0)
    rec = ("070701" + "".join(f"{v:08x}" for v in fields)).encode() + name.encode() + b"\0"
    return rec + b"\0" * (-len(rec) % 4) + data + b"\0" * (-len(data) % 4)


def pack(root, out):
    with gzip.open(out, "wb", compresslevel=1) as f:
        for d, dirs, files in os.walk(root):
            dirs.sort()
            for n in sorted(dirs) + sorted(files):
                p = os.path.join(d, n)
                st = os.lstat(p)
                if stat.S_ISLNK(st.st_mode):
                    data = os.readlink(p).encode()
                elif stat.S_ISREG(st.st_mode):
                    with open(p, "rb") as src:
                        data = src.read()
                elif stat.S_ISDIR(st.st_mode):
                    data = b""
                else:
                    continue
                f.write(entry(os.path.relpath(p, root), st, data))
        f.write(entry("TRAILER!!!", os.stat(root)))


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit("usage: cpio.py ROOT OUT.gz")
    pack(sys.argv[1], sys.argv[2])
