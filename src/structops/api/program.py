"""``Program``: a loaded program (test_run, pin, info)."""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import TYPE_CHECKING

from structops.abi.attrs import InfoAttr, ObjPinAttr, TestRunAttr
from structops.abi.consts import Cmd, ProgType
from structops.abi.fd import Fd
from structops.abi.protocol import Kernel

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


class Program:
    """A program of a loaded collection (``bpf_program__*``)."""

    def __init__(self, kernel: Kernel, fd: int, spec: ProgramSpec) -> None:
        self._fd = Fd.of(kernel, fd)
        self.kernel = kernel
        self.spec = spec

    @property
    def fd(self) -> int:
        """The program fd."""
        return self._fd.fd

    @property
    def name(self) -> str:
        """The program's name in the object."""
        return self.spec.name

    @property
    def type(self) -> ProgType:
        """The program type (``ProgType.BPF_PROG_TYPE_STRUCT_OPS``…)."""
        return ProgType(self.spec.prog_type)

    @property
    def id(self) -> int:
        """The kernel program id."""
        attr = InfoAttr(self.fd, bytearray(232))
        self.kernel.bpf(Cmd.BPF_OBJ_GET_INFO_BY_FD, attr)
        return int(struct.unpack_from("<I", attr.info, 4)[0])

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

    def pin(self, path: str) -> None:
        """BPF_OBJ_PIN the program at ``path``."""
        self.kernel.bpf(Cmd.BPF_OBJ_PIN, ObjPinAttr(path, bpf_fd=self.fd))

    def close(self) -> None:
        """Close the fd."""
        self._fd.close()

    def __repr__(self) -> str:
        kind = self.type.name.removeprefix("BPF_PROG_TYPE_").lower()
        try:
            return f"<Program {self.name!r} id={self.id} type={kind}>"
        except (OSError, ValueError):
            return f"<Program {self.name!r} type={kind} (closed)>"
