"""``bpf_testmod``: the selftests' test module as a loadable module of the embedded kernel.

Mirrors what the kernel selftests rely on (not available on the project machines,
which have CONFIG_MODULES=n): ``bpf_testmod_ops`` with nullable (``task__nullable``)
and refcounted (``task__ref``) arguments, an op without a cfi stub
(``unsupported_ops``, V8), a data member handled by ``init_member``, and 40
``tramp_N`` ops whose trampolines cross one image page; ``bpf_testmod_ops2`` and
``bpf_testmod_ops3`` allow one registration at a time (-EEXIST otherwise).
"""

from __future__ import annotations

import errno
from typing import TYPE_CHECKING

from structops import btf as btflib
from structops.kernel.kbtf import TESTMOD_NAME, testmod_btf_bytes
from structops.kernel.modules import Module
from structops.kernel.struct_ops import KData, StructOpsLink, StructOpsOps

if TYPE_CHECKING:
    from structops.kernel.emulated import EmulatedKernel

__all__ = ["make_module", "registered"]


def registered(kernel: EmulatedKernel, name: str) -> list[KData]:
    """KData currently registered for testmod type ``name``."""
    mod = kernel.modules.get(TESTMOD_NAME)
    if mod is None:
        return []
    return list(getattr(mod, "registrations", {}).get(name, []))


def _ops(name: str, stubs: dict[str, str | None], *, single: bool, regs: dict[str, list[KData]]) -> StructOpsOps:
    def init_member(t: btflib.Struct, m: btflib.Member, kdata: KData, udata: bytes) -> int:
        if m.name == "data":  # handled scalar, copied into kdata
            size = btflib.sizeof(m.type)
            kdata.write("data", udata[m.offset : m.offset + size])
            return 1
        return 0

    def reg(kdata: KData, link: StructOpsLink | None) -> int:
        lst = regs.setdefault(name, [])
        if single and lst:
            return -errno.EEXIST
        lst.append(kdata)
        return 0

    def unreg(kdata: KData, link: StructOpsLink | None) -> None:
        lst = regs.get(name, [])
        if kdata in lst:
            lst.remove(kdata)

    def update(new: KData, old: KData, link: StructOpsLink) -> int:
        lst = regs.setdefault(name, [])
        if old not in lst:
            return -errno.EINVAL
        lst[lst.index(old)] = new
        return 0

    return StructOpsOps(
        name=name,
        cfi_stubs=stubs,
        init_member=init_member,
        reg=reg,
        unreg=unreg,
        update=update,
    )


def make_module() -> Module:
    """A fresh ``bpf_testmod`` module object (load it with ``kernel.load_module``)."""
    regs: dict[str, list[KData]] = {}
    ops_stubs: dict[str, str | None] = {
        "test_1": "bpf_testmod_test_1",
        "test_2": "bpf_testmod_test_2",
        "test_maybe_null": "bpf_testmod_ops__test_maybe_null",
        "unsupported_ops": None,
        "test_refcounted": "bpf_testmod_ops__test_refcounted",
        "test_return_ref_kptr": "bpf_testmod_ops__test_return_ref_kptr",
    }
    for i in range(1, 41):
        ops_stubs[f"tramp_{i}"] = "bpf_testmod_tramp"
    module = Module(
        name=TESTMOD_NAME,
        btf=testmod_btf_bytes(),
        struct_ops=[
            _ops("bpf_testmod_ops", ops_stubs, single=False, regs=regs),
            _ops("bpf_testmod_ops2", {"test_1": "bpf_testmod_test_1"}, single=True, regs=regs),
            _ops(
                "bpf_testmod_ops3",
                {"test_1": "bpf_testmod_ops3__test_1", "test_2": "bpf_testmod_ops3__test_2"},
                single=True,
                regs=regs,
            ),
            _ops(
                "bpf_testmod_multi_st_ops",
                {"test_1": "bpf_testmod_multi_st_ops__test_1"},
                single=False,
                regs=regs,
            ),
        ],
    )
    module.registrations = regs  # type: ignore[attr-defined]
    return module
