"""Call the members of any struct_ops map from a test (``bpf_dummy_ops``, testmod, yours).

For ``bpf_dummy_ops`` the calls go through ``BPF_PROG_TEST_RUN`` exactly as Linux
offers it, so the same test runs on the embedded kernel and on the real one; the
``struct bpf_dummy_ops_state *`` argument is a :class:`DummyState` whose ``val`` is
copied in before the call and back after it (``None`` passes NULL).  For every other
struct_ops type (which Linux cannot test_run) the embedded kernel calls the member
through its trampoline with integer arguments, as the subsystem would.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from structops.testing._globals import GlobalVariables
from structops.testing._load import LoadedObject, build, kernel_map, open_and_register

if TYPE_CHECKING:
    from structops.abi.protocol import Kernel, UserBuffer
    from structops.api import Collection, Link, Map

__all__ = ["DummyState", "StructOpsUnderTest", "load_struct_ops"]


@dataclass
class DummyState:
    """``struct bpf_dummy_ops_state { int val; }`` passed by pointer to dummy ops members."""

    val: int = 0


class StructOpsUnderTest(LoadedObject):
    """A registered struct_ops map whose members are methods (``ops.test_1(state)``).

    A member the map does not implement raises :class:`AttributeError`.  ``maps`` and
    ``globals`` give the object's maps and global variables; ``type_name`` is the
    struct_ops type (``bpf_dummy_ops``…).
    """

    __test__ = False

    def __init__(self, coll: Collection, st_map: Map, link: Link | None, kernel: Kernel) -> None:
        super().__init__(coll, st_map, link, kernel)
        assert st_map.spec.struct_ops is not None
        self.type_name = st_map.spec.struct_ops.type_name
        self.globals = GlobalVariables(coll)
        self._funcs = dict(st_map.spec.struct_ops.funcs)

    def members(self) -> list[str]:
        """The members the map implements (with a program)."""
        return [m for m, p in self._funcs.items() if p in self.collection.programs]

    def _state_buffer(self) -> UserBuffer:
        """One user buffer for the state, reused by every call (user memory is never freed)."""
        buf = getattr(self, "_state_buf", None)
        if buf is None:
            buf = self.kernel.alloc_user(4)
            self._state_buf = buf
        return buf

    def _dummy_call(self, member: str) -> Callable[..., int]:
        prog = self.collection.programs[self._funcs[member]]

        def call(state: DummyState | None, *args: int) -> int:
            buf = None
            if state is not None:
                buf = self._state_buffer()
                buf.write(struct.pack("<i", state.val))
            words = [buf.addr if buf is not None else 0, *(a & 0xFFFF_FFFF_FFFF_FFFF for a in args)]
            res = prog.test_run(args=words)
            if buf is not None and state is not None:
                state.val = struct.unpack("<i", buf.read(0, 4))[0]
            return int(struct.unpack("<i", struct.pack("<I", res.retval & 0xFFFF_FFFF))[0])

        return call

    def _trampoline_call(self, member: str) -> Callable[..., int]:
        if getattr(self.kernel, "name", "") != "embedded":
            raise AttributeError(
                f"{self.type_name}.{member} can only be called on the embedded kernel (Linux has no test_run for it)"
            )
        st_map = kernel_map(self.kernel, self.map.fd)
        kdata = st_map.kdata

        def call(*args: int) -> int:
            with self.kernel.rcu.read_lock():  # type: ignore[attr-defined]
                return int(kdata.call(member, *(a & 0xFFFF_FFFF_FFFF_FFFF for a in args)))

        return call

    def __getattr__(self, member: str) -> Callable[..., int]:
        if member.startswith("_"):
            raise AttributeError(member)
        if member not in self.members():
            raise AttributeError(f"{self.map.name} ({self.type_name}) does not implement {member}")
        fn = self._dummy_call(member) if self.type_name == "bpf_dummy_ops" else self._trampoline_call(member)
        fn.__name__ = member
        return fn

    def __repr__(self) -> str:
        return f"<StructOpsUnderTest {self.map.name} ({self.type_name}) members={self.members()}>"


def load_struct_ops(
    obj: str | Path | bytes | Collection,
    map_name: str | None = None,
    kernel: Kernel | None = None,
) -> StructOpsUnderTest:
    """Load an object, register one struct_ops map, and return its members as methods.

    ``kernel`` is the embedded kernel by default; ``bpf_dummy_ops`` objects also run on
    :class:`structops.linux.LinuxKernel`.
    """
    coll, st_map, link = open_and_register(obj, map_name, kernel)
    return build(StructOpsUnderTest, coll, st_map, link)
