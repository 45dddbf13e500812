"""``Program``: a loaded program (test_run, pin, info)."""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import TYPE_CHECKING

from structops.abi.attrs import TestRunAttr
from structops.abi.consts import Cmd, ProgType
from structops.abi.tables import PROG_INFO
from structops.api._handle import Handle

if TYPE_CHECKING:
    from structops.loader.spec import ProgramSpec

__all__ = ["Program", "TestRunResult"]


@dataclass(frozen=True)
class TestRunResult:
    """What BPF_PROG_TEST_RUN returned."""

    __test__ = False

    retval: int
    duration: int
    data_out: bytes
    ctx_out: bytes


class Program(Handle["ProgramSpec"]):
    """A program of a loaded collection (``bpf_program__*``)."""

    _INFO = PROG_INFO
    _TYPE_PREFIX = "BPF_PROG_TYPE_"
    spec: ProgramSpec

    @property
    def type(self) -> ProgType:
        """The program type (``ProgType.BPF_PROG_TYPE_STRUCT_OPS``…)."""
        return ProgType(self.spec.prog_type)

    def test_run(
        self, *, args: list[int] | None = None, ctx: bytes | None = None, data: bytes | None = None, repeat: int = 0
    ) -> TestRunResult:
        """BPF_PROG_TEST_RUN; ``args`` is the u64 argument array of a struct_ops program
        (``bpf_dummy_ops`` only, as in Linux)."""
        ctx_in = struct.pack(f"<{len(args)}Q", *args) if args is not None else ctx
        data_out = bytearray(len(data) + 256) if data is not None else None
        attr = TestRunAttr(self.fd, data_in=data, data_out=data_out, ctx_in=ctx_in, repeat=repeat)
        self.kernel.bpf(Cmd.BPF_PROG_TEST_RUN, attr)
        return TestRunResult(attr.retval, attr.duration, bytes(data_out or b""), b"")
