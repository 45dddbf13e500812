"""BTF parse speed: structops.btf against libbpf's btf__parse (ctypes, system libbpf.so.1).

Run: ``python benchmarks/btf_parse.py [PATH] [--repeat N]`` (default /sys/kernel/btf/vmlinux).

(a) lookup: open the file, find ``struct tcp_congestion_ops``, read its members
    (names, byte offsets, type ids).  Ours with the on-disk index cache warm and cold.
(b) full: parse every type header and build a name index (ours); btf__parse (libbpf,
    which indexes nothing by name).  Ours also with up-front validation.

Prints best-of-N times and ``ratio_lookup=`` / ``ratio_full=`` (ours / libbpf); the
libbpf column is skipped with a message where libbpf.so.1 cannot be loaded.
"""

from __future__ import annotations

import argparse
import ctypes
import os
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from structops import btf

TARGET = "tcp_congestion_ops"
BTF_KIND_STRUCT = 4


class _BtfType(ctypes.Structure):
    _fields_ = [("name_off", ctypes.c_uint32), ("info", ctypes.c_uint32), ("size", ctypes.c_uint32)]


class _BtfMember(ctypes.Structure):
    _fields_ = [("name_off", ctypes.c_uint32), ("type", ctypes.c_uint32), ("offset", ctypes.c_uint32)]


def best(fn: Callable[[], object], repeat: int) -> float:
    """Best wall time of ``fn`` over ``repeat`` runs, in milliseconds."""
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times) * 1e3


def ours_lookup(path: Path) -> list[tuple[str, int, int]]:
    spec = btf.parse_file(path, validate=False)
    ops = spec.find(TARGET, btf.Struct)
    return [(m.name, m.bit_offset // 8, spec.type_id(m.type)) for m in ops.members]


def ours_full(path: Path, validate: bool) -> btf.Spec:
    spec = btf.parse_file(path, validate=validate)
    spec.build_name_index()
    return spec


def load_libbpf() -> ctypes.CDLL | None:
    try:
        lib = ctypes.CDLL("libbpf.so.1")
    except OSError as exc:
        print(f"libbpf: skipped ({exc}); install libbpf1 for the comparison")
        return None
    lib.btf__parse.restype = ctypes.c_void_p
    lib.btf__parse.argtypes = [ctypes.c_char_p, ctypes.c_void_p]
    lib.btf__free.argtypes = [ctypes.c_void_p]
    lib.btf__find_by_name_kind.restype = ctypes.c_int
    lib.btf__find_by_name_kind.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_uint]
    lib.btf__type_by_id.restype = ctypes.POINTER(_BtfType)
    lib.btf__type_by_id.argtypes = [ctypes.c_void_p, ctypes.c_uint]
    lib.btf__name_by_offset.restype = ctypes.c_char_p
    lib.btf__name_by_offset.argtypes = [ctypes.c_void_p, ctypes.c_uint]
    return lib


def libbpf_lookup(lib: ctypes.CDLL, path: Path) -> list[tuple[str, int, int]]:
    handle = lib.btf__parse(str(path).encode(), None)
    if not handle:
        raise OSError("btf__parse failed")
    try:
        tid = lib.btf__find_by_name_kind(handle, TARGET.encode(), BTF_KIND_STRUCT)
        t = lib.btf__type_by_id(handle, tid)
        vlen = t.contents.info & 0xFFFF
        kflag = t.contents.info >> 31
        members = ctypes.cast(
            ctypes.addressof(t.contents) + ctypes.sizeof(_BtfType), ctypes.POINTER(_BtfMember * vlen)
        ).contents
        out = []
        for m in members:
            off = m.offset & 0xFFFFFF if kflag else m.offset
            out.append((lib.btf__name_by_offset(handle, m.name_off).decode(), off // 8, m.type))
        return out
    finally:
        lib.btf__free(handle)


def libbpf_full(lib: ctypes.CDLL, path: Path) -> None:
    handle = lib.btf__parse(str(path).encode(), None)
    if not handle:
        raise OSError("btf__parse failed")
    lib.btf__free(handle)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("path", nargs="?", default="/sys/kernel/btf/vmlinux")
    ap.add_argument("--repeat", type=int, default=15)
    args = ap.parse_args()
    path = Path(args.path)
    if not path.exists():
        print(f"skipped: {path} does not exist")
        return 0
    n = args.repeat
    cache_home = tempfile.mkdtemp(prefix="structops-bench-")
    os.environ["XDG_CACHE_HOME"] = cache_home  # a private cache: cold then warm
    os.environ["STRUCTOPS_BTF_CACHE"] = "0"
    cold_lookup = best(lambda: ours_lookup(path), n)
    cold_full = best(lambda: ours_full(path, False), n)
    validated_full = best(lambda: ours_full(path, True), max(1, n // 3))
    os.environ["STRUCTOPS_BTF_CACHE"] = "1"
    ours_lookup(path)  # fills the cache
    warm_lookup = best(lambda: ours_lookup(path), n)
    warm_full = best(lambda: ours_full(path, False), n)
    spec = btf.parse(path.read_bytes(), validate=False)
    t0 = time.perf_counter()
    for t in spec.types:
        if isinstance(t, btf.Struct | btf.Union):
            _ = t.members
    materialize = (time.perf_counter() - t0) * 1e3
    print(f"file: {path} ({path.stat().st_size} bytes, {len(spec)} type ids)")
    print(f"ours (a) open+lookup, index cache warm: {warm_lookup:8.2f} ms")
    print(f"ours (a) open+lookup, no cache:         {cold_lookup:8.2f} ms")
    print(f"ours (b) full parse + name index, no cache: {cold_full:8.2f} ms")
    print(f"ours (b) full parse + name index, cache warm: {warm_full:8.2f} ms")
    print(f"ours     full parse + validation + name index (no cache): {validated_full:8.2f} ms")
    print(f"ours     decode every struct/union with members: {materialize:8.2f} ms")
    lib = load_libbpf()
    if lib is None:
        return 0
    assert libbpf_lookup(lib, path) == ours_lookup(path), "libbpf and structops disagree"
    lb_lookup = best(lambda: libbpf_lookup(lib, path), n)
    lb_full = best(lambda: libbpf_full(lib, path), n)
    print(f"libbpf (a) btf__parse + find_by_name_kind + members: {lb_lookup:8.2f} ms")
    print(f"libbpf (b) btf__parse: {lb_full:8.2f} ms")
    print(f"ratio_lookup={warm_lookup / lb_lookup:.2f}  (no cache: {cold_lookup / lb_lookup:.2f})")
    print(f"ratio_full={cold_full / lb_full:.2f}  (cache warm: {warm_full / lb_full:.2f})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
