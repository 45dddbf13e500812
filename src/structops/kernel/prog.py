"""Program objects of the embedded kernel (``struct bpf_prog`` + ``bpf_prog_aux``).

A program is loaded once (PROG_LOAD), checked by :mod:`structops.kernel.progload`,
translated for the VM, and then referenced by fds, struct_ops trampolines and
associations.  ``tag`` is the kernel's: the first 8 bytes of the SHA-256 (Linux 6.18; SHA-1 before)
of the instructions with map-fd immediates zeroed.
"""

from __future__ import annotations

import hashlib
import struct
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from structops.kernel.objects import KObject
from structops.kernel.struct_ops.assoc import POISON, Poison, prog_disassoc
from structops.kernel.struct_ops.registry import CtxArg
from structops.uapi import (
    BPF_PSEUDO_MAP_FD,
    BPF_PSEUDO_MAP_IDX,
    BPF_PSEUDO_MAP_IDX_VALUE,
    BPF_PSEUDO_MAP_VALUE,
)

if TYPE_CHECKING:
    from structops.kernel.btf_obj import BtfObject
    from structops.kernel.maps.base import BpfMap
    from structops.kernel.services import KernelServices
    from structops.kernel.struct_ops import StructOpsDesc, StructOpsMap

__all__ = ["GPL_COMPATIBLE", "POISON", "BpfProg", "CtxArg", "is_gpl_compatible", "prog_tag"]

#: license_is_gpl_compatible() strings.
GPL_COMPATIBLE = frozenset(
    {
        "GPL",
        "GPL v2",
        "GPL and additional rights",
        "Dual BSD/GPL",
        "Dual MIT/GPL",
        "Dual MPL/GPL",
    }
)


def is_gpl_compatible(license_: str) -> bool:
    """The kernel's license_is_gpl_compatible()."""
    return license_ in GPL_COMPATIBLE


def prog_tag(insns: bytes) -> bytes:
    """``bpf_prog_calc_tag``: SHA-256 of the insns with ld_imm64 map references zeroed, 8 bytes.

    Linux 6.18 (the project machines) hashes with SHA-256; older kernels used SHA-1.
    """
    buf = bytearray(insns)
    i = 0
    n = len(buf) // 8
    while i < n:
        code = buf[i * 8]
        if code == 0x18 and i + 1 < n:
            src = buf[i * 8 + 1] >> 4
            if src in (BPF_PSEUDO_MAP_FD, BPF_PSEUDO_MAP_VALUE, BPF_PSEUDO_MAP_IDX, BPF_PSEUDO_MAP_IDX_VALUE):
                struct.pack_into("<i", buf, i * 8 + 4, 0)
                struct.pack_into("<i", buf, i * 8 + 12, 0)
            i += 2
            continue
        i += 1
    return hashlib.sha256(bytes(buf)).digest()[:8]


@dataclass
class StructOpsAttach:
    """What check_struct_ops_btf_id recorded for a struct_ops prog (V11)."""

    desc: StructOpsDesc
    member_index: int
    member_name: str
    member_off: int
    func_proto: Any
    ctx_args: tuple[CtxArg, ...] = ()


@dataclass
class ProgStats:
    """run_cnt / run_time_ns like ``bpf_prog_stats`` (shown by bpftool with stats on)."""

    run_cnt: int = 0
    run_time_ns: int = 0
    misses: int = 0


class BpfProg(KObject):
    """A loaded program."""

    KIND = "prog"

    def __init__(self, kernel: KernelServices) -> None:
        super().__init__(kernel)
        self.prog_type = 0
        self.expected_attach_type = 0
        self.insns = b""
        self.name = ""
        self.license = ""
        self.gpl_compatible = False
        self.sleepable = False
        self.prog_flags = 0
        self.attach_btf: BtfObject | None = None
        self.attach_btf_id = 0
        self.btf: BtfObject | None = None
        self.func_info: bytes = b""
        self.line_info: bytes = b""
        self.used_maps: list[BpfMap] = []
        self.st_ops: StructOpsAttach | None = None
        self.st_ops_assoc: StructOpsMap | Poison | None = None  # A1-A5
        self.load_time_ns = time.monotonic_ns()
        self.uid = 0
        self.tag = b"\0" * 8
        self.stats = ProgStats()
        self.verified_insns = 0
        #: Runs the translated program: (args or ctx address) -> r0.  Set at load.
        self.runner: Callable[..., int] | None = None
        self._jited_len = 0
        self.extra: dict[str, object] = {}
        #: The VM's translated program (set by the executor at load).
        self.vm_program: Any = None

    @property
    def jited_len(self) -> int:
        """Bytes of translated code (the VM translates a big program on first need)."""
        vmprog = self.vm_program
        if not self._jited_len and vmprog is not None:
            self._jited_len = len(vmprog.jit_source)
        return self._jited_len

    @jited_len.setter
    def jited_len(self, value: int) -> None:
        self._jited_len = value

    @property
    def insn_cnt(self) -> int:
        """Number of 8-byte instruction slots."""
        return len(self.insns) // 8

    def release(self) -> None:
        """Free path: dissociate (A3a), drop map and BTF references."""
        prog_disassoc(self)
        for m in self.used_maps:
            m.put()
        self.used_maps = []
        if self.vm_program is not None:
            vmprog = self.vm_program
            self.vm_program = None
            self.runner = None
            self.kernel.rcu.call_rcu(vmprog.close)
        for b in (self.attach_btf, self.btf):
            if b is not None:
                b.put()
        self.attach_btf = None
        self.btf = None

    def assoc_map(self) -> StructOpsMap | None:
        """The associated struct_ops map, None when none or poisoned (A4)."""
        a = self.st_ops_assoc
        return None if a is None or a is POISON else a
