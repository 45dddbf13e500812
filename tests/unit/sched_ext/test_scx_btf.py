"""The embedded kernel's sched_ext BTF against a real 6.18 sched_ext vmlinux.h (SX-R1, SX-T2).

This machine's kernel has no sched_ext, so the reference is the scx repository's
``vmlinux.h`` for v6.18 (local, never committed; skipped when absent): every sched_ext
struct has the real members in the real order, every ``scx_*`` enum the real
enumerators and values (``SCX_EFLAG_INITIALIZED``: see the note below).
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from structops import btf
from structops.kernel import kbtf
from structops.kernel.subsys.sched_ext.btf_names import is_sched_ext_name

HEADER = Path(
    os.environ.get("STRUCTOPS_SCX_VMLINUX_H", "/work/ext/scx/scheds/vmlinux/arch/x86/vmlinux-v6.18-rc4-g6146a0f1dfae.h")
)


@pytest.fixture(scope="module")
def header() -> str:
    if not HEADER.is_file():
        pytest.skip(f"{HEADER} is absent (sched-ext/scx checkout; or set STRUCTOPS_SCX_VMLINUX_H)")
    return HEADER.read_text()


@pytest.fixture(scope="module")
def ours() -> btf.Spec:
    return btf.parse(kbtf.vmlinux_btf_bytes())


def _body(header: str, kind: str, name: str) -> str:
    if re.search(rf"^{kind} {re.escape(name)} \{{\}};", header, re.M):
        return ""
    m = re.search(rf"^{kind} {re.escape(name)} \{{(.*?)^\}};", header, re.S | re.M)
    assert m is not None, f"{kind} {name} not in the header"
    return m.group(1)


def _member_names(body: str) -> list[str]:
    names = []
    for line in body.splitlines():
        line = line.strip().rstrip(";")
        if not line or re.fullmatch(r"(long|int|char): \d+", line):  # anonymous padding
            continue
        m = re.search(r"\(\*(\w+)\)\(", line) or re.search(r"(\w+)(\[\d+\])?$", line)
        assert m is not None, line
        names.append(m.group(1))
    return names


def test_sched_ext_structs_have_the_real_members_in_order(ours: btf.Spec, header: str) -> None:
    """SX-R1/SX-T2: sched_ext_ops, sched_ext_entity, scx_exit_info, args structs, DSQ, iterator."""
    seen = set()
    for t in ours.types[1:]:
        if isinstance(t, btf.Struct) and t.name and is_sched_ext_name(t.name):
            assert [m.name for m in t.members] == _member_names(_body(header, "struct", t.name)), t.name
            seen.add(t.name)
    assert {"sched_ext_ops", "sched_ext_entity", "scx_exit_info", "scx_dispatch_q", "bpf_iter_scx_dsq"} <= seen
    task = ours.find("task_struct", btf.Struct)
    assert btf.underlying(task.member("scx").type).name == "sched_ext_entity"


def test_sched_ext_enums_have_the_real_values(ours: btf.Spec, header: str) -> None:
    """Enumerator names and values as 6.18 (SCX_EFLAG_INITIALIZED is 1, as in the source; the dump shows 0)."""
    n = 0
    for t in ours.types[1:]:
        if isinstance(t, btf.Enum | btf.Enum64) and t.name and is_sched_ext_name(t.name):
            real = {}
            for line in _body(header, "enum", t.name).splitlines():
                m = re.match(r"\s*(\w+) = (-?\d+)(ULL)?,", line)
                if m:
                    real[m.group(1)] = int(m.group(2))
            got = {v.name: v.value for v in t.values}
            if t.name == "scx_exit_flags":
                assert got == {"SCX_EFLAG_INITIALIZED": 1}
                continue
            assert {k: v & 0xFFFF_FFFF_FFFF_FFFF for k, v in got.items()} == {
                k: v & 0xFFFF_FFFF_FFFF_FFFF for k, v in real.items()
            }, t.name
            n += 1
    assert n >= 20
