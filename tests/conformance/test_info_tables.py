"""``bpf_*_info`` through one table on both backends (``structops.abi.tables``).

The embedded kernel packs ``bpf_map_info`` / ``bpf_prog_info`` / ``bpf_link_info`` /
``bpf_btf_info`` with the same :class:`~structops.abi.layout.Layout` tables the
introspector unpacks with; offsets against the kernel's BTF are checked in
``tests/kernel/test_linux_attrs_layout.py``.  Here: the embedded kernel's info bytes
round-trip through the tables to the object's own attributes, and the real kernel's
BPF_OBJ_GET_INFO_BY_FD answers, decoded by the same tables, agree with the embedded
kernel's for the same object (K8 for the link's map_id, C16 for the struct_ops map).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from realkernel import real_kernel_skip_reason

from structops.abi.attrs import InfoAttr
from structops.abi.consts import Cmd, LinkType, MapType, ProgType
from structops.abi.protocol import Kernel
from structops.abi.tables import LINK_INFO, MAP_INFO, PROG_INFO
from structops.api import Collection
from structops.introspect import Introspector
from structops.kernel.emulated import EmulatedKernel

TESTDATA = Path(__file__).resolve().parents[2] / "testdata"


def _facts(k: Kernel) -> dict[str, Any]:
    """The info fields that do not depend on ids or on the kernel's own BTF numbering."""
    with Collection.open(TESTDATA / "reno.bpf.o").load(k) as c, Introspector(k) as intro:
        m = c.maps["so_reno"]
        mi = intro.map_info(m.fd)
        progs = sorted((intro.prog_info(p.fd) for p in c.programs.values()), key=lambda p: p.name)
        btf = intro.btf_info(intro.fd_by_id("btf", mi.btf_id))
        link = m.attach_struct_ops()
        li = intro.link_info(link.fd)
        link.close()
        return {
            "map": (mi.type, mi.key_size, mi.value_size, mi.max_entries, mi.map_flags, mi.name, mi.id == m.id),
            "map_btf": (mi.btf_id > 0, mi.btf_vmlinux_value_type_id > 0, btf.id == mi.btf_id, btf.kernel_btf),
            "progs": [(p.type, p.name, p.gpl_compatible, p.btf_id == mi.btf_id, p.attach_btf_id > 0) for p in progs],
            "link": (li.type, li.prog_id, li.map_id == m.id),
        }


def test_embedded_info_round_trips_through_the_tables() -> None:
    """Packed by kernel/info.py, unpacked by the introspector: the object's own values (C16, K8)."""
    facts = _facts(EmulatedKernel())
    assert facts["map"][0] == MapType.BPF_MAP_TYPE_STRUCT_OPS and facts["map"][5] == "so_reno"
    assert facts["map"][6] and facts["map_btf"] == (True, True, True, False)
    assert facts["link"] == (LinkType.BPF_LINK_TYPE_STRUCT_OPS, 0, True)
    progs = facts["progs"]
    assert isinstance(progs, list) and progs
    assert all(p[0] == ProgType.BPF_PROG_TYPE_STRUCT_OPS and p[2] and p[3] and p[4] for p in progs)


def test_info_bytes_equal_table_repack() -> None:
    """The embedded kernel's info bytes are exactly what the table packs from their unpacking."""
    k = EmulatedKernel()
    with Collection.open(TESTDATA / "reno.bpf.o").load(k) as c:
        m = c.maps["so_reno"]
        targets = [(MAP_INFO, m.fd)] + [(PROG_INFO, p.fd) for p in c.programs.values()]
        link = m.attach_struct_ops()
        for layout, fd in [*targets, (LINK_INFO, link.fd)]:
            raw = _info(k, fd, bytes(layout.size))
            assert len(raw) == layout.size and layout.pack(layout.unpack(raw)) == raw, layout.name
        assert MAP_INFO.read_int("id", _info(k, m.fd, bytes(MAP_INFO.size))) == m.id
        link.close()


def _info(k: Kernel, fd: int, prefill: bytes) -> bytes:
    attr = InfoAttr(fd, bytearray(prefill))
    k.bpf(Cmd.BPF_OBJ_GET_INFO_BY_FD, attr)
    return bytes(attr.info)


def test_info_agrees_with_the_real_kernel() -> None:
    """The real kernel's info structs, decoded by the same tables, say what the embedded one says."""
    reason = real_kernel_skip_reason()
    if reason:
        pytest.skip(reason)
    from structops.linux import LinuxKernel

    assert _facts(LinuxKernel()) == _facts(EmulatedKernel())


@pytest.mark.parametrize("backend", ["embedded", "linux"])
def test_detached_link_keeps_the_callers_map_id_bytes(backend: str) -> None:
    """K8: a detached struct_ops link writes no map_id and (having no program) no prog_id,
    so the caller's bytes stay; type and id are written."""
    k: Kernel = EmulatedKernel()
    if backend == "linux":
        reason = real_kernel_skip_reason()
        if reason:
            pytest.skip(reason)
        from structops.linux import LinuxKernel

        k = LinuxKernel()
    with Collection.open(TESTDATA / "reno.bpf.o").load(k) as c:
        link = c.maps["so_reno"].attach_struct_ops()
        link.detach()
        raw = _info(k, link.fd, LINK_INFO.pack({"map_id": 77, "prog_id": 9}))
        link.close()
    assert LINK_INFO.unpack(raw) | {"id": 0} == {
        "type": LinkType.BPF_LINK_TYPE_STRUCT_OPS,
        "id": 0,
        "prog_id": 9,
        "map_id": 77,
    }
