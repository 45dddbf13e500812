"""BPF helper functions: a registry keyed by helper id, and the base helpers.

A helper is a :class:`HelperSpec`: the kernel's id and name (``__BPF_FUNC_MAPPER`` in
``include/uapi/linux/bpf.h``), a typed signature, an optional allow-list of program types,
and a Python callable ``func(run, r1, r2, r3, r4, r5) -> r0`` where ``run`` is the
:class:`~structops.vm.context.RunContext` of the executing program.  The emulated kernel
registers its subsystem helpers through :meth:`HelperRegistry.register` exactly like the
base helpers below; a call to an id that is not registered (or not allowed for the
program type) is refused at load time with :class:`UnknownFunction`.

Maps are reached through the :class:`MapBackend` protocol: ``r1`` of a map helper is the
map's object address (what ``ld_imm64`` with a map fd resolved to), and lookups return the
*address* of the value inside the address space (0 when absent).
"""

from __future__ import annotations

import enum
import errno
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Generic, Protocol, Self, TypeVar, runtime_checkable

from structops.errors import FormatError, VMFault

if TYPE_CHECKING:
    from structops.vm.context import RunContext

__all__ = [
    "ArgType",
    "FuncRegistry",
    "HelperFunc",
    "HelperRegistry",
    "HelperSpec",
    "MapBackend",
    "ProgTypeSet",
    "RetType",
    "UnknownFunction",
    "base_helpers",
    "format_trace",
]

HelperFunc = Callable[["RunContext", int, int, int, int, int], int]
K = TypeVar("K")
S = TypeVar("S", bound="ProgTypeSet")


class UnknownFunction(FormatError):
    """A call to a helper id / kfunc that is not registered or not allowed here."""


class ArgType(enum.Enum):
    """Argument kinds of a helper signature (subset of the kernel's ``bpf_arg_type``)."""

    DONTCARE = "dontcare"
    ANYTHING = "anything"
    CONST_MAP_PTR = "const_map_ptr"
    PTR_TO_MAP_KEY = "ptr_to_map_key"
    PTR_TO_MAP_VALUE = "ptr_to_map_value"
    PTR_TO_CTX = "ptr_to_ctx"
    PTR_TO_MEM = "ptr_to_mem"
    CONST_SIZE = "const_size"
    PTR_TO_BTF_ID = "ptr_to_btf_id"


class RetType(enum.Enum):
    """Return kinds of a helper signature (subset of the kernel's ``bpf_return_type``)."""

    INTEGER = "integer"
    VOID = "void"
    PTR_TO_MAP_VALUE_OR_NULL = "ptr_to_map_value_or_null"
    PTR_TO_BTF_ID_OR_NULL = "ptr_to_btf_id_or_null"


class ProgTypeSet:
    """What helpers and kfuncs share: the program types that may call them (None: any)."""

    prog_types: frozenset[int] | None

    def allowed_for(self, prog_type: int | None) -> bool:
        """Whether programs of ``prog_type`` may call this function."""
        return self.prog_types is None or prog_type is None or prog_type in self.prog_types


@dataclass(frozen=True)
class HelperSpec(ProgTypeSet):
    """One helper: id, name, signature, allowed program types, implementation.

    ``prog_types`` is ``None`` for "any program type".  ``tail_call`` marks the one
    helper the executors treat specially (a successful call does not return).
    """

    id: int
    name: str
    func: HelperFunc
    args: tuple[ArgType, ...] = ()
    ret: RetType = RetType.INTEGER
    prog_types: frozenset[int] | None = None
    tail_call: bool = False


@runtime_checkable
class MapBackend(Protocol):
    """What a kernel map implements so programs can use it through helpers.

    Keys and values are bytes copied out of the address space; ``bpf_lookup`` returns
    the address of the value inside the address space, or 0 when the key is absent.
    Update/delete return 0 or a negative errno, like the kernel helpers.
    """

    @property
    def key_size(self) -> int:
        """Key size in bytes."""
        ...

    @property
    def value_size(self) -> int:
        """Value size in bytes."""
        ...

    def bpf_lookup(self, key: bytes) -> int:
        """Address of the value for ``key`` (0 if absent)."""
        ...

    def bpf_update(self, key: bytes, value: bytes, flags: int) -> int:
        """Insert or replace; 0 or ``-errno``."""
        ...

    def bpf_delete(self, key: bytes) -> int:
        """Remove ``key``; 0 or ``-errno`` (``-ENOENT`` when absent)."""
        ...


class FuncRegistry(Generic[K, S]):
    """The common part of the helper and kfunc registries: specs by key, copyable."""

    def __init__(self, specs: Iterable[S] = ()) -> None:
        self._entries: dict[K, S] = {}
        for spec in specs:
            self.register(spec)

    def register(self, spec: S) -> S:
        """Add ``spec`` (each registry keys and checks it its own way)."""
        raise NotImplementedError

    def copy(self) -> Self:
        """An independent registry with the same entries."""
        return type(self)(self._entries.values())

    def _callable_by(self, spec: S, prog_type: int | None, refusal: str) -> S:
        """``spec`` if programs of ``prog_type`` may call it, else :class:`UnknownFunction`."""
        if not spec.allowed_for(prog_type):
            raise UnknownFunction(refusal)
        return spec

    def __contains__(self, key: object) -> bool:
        return key in self._entries

    def __len__(self) -> int:
        return len(self._entries)


class HelperRegistry(FuncRegistry[int, HelperSpec]):
    """Helper functions by id; the emulated kernel adds subsystem helpers here."""

    def register(self, spec: HelperSpec, *, replace: bool = False) -> HelperSpec:
        """Add ``spec``; an id already present needs ``replace=True``."""
        if not 0 < spec.id < 1 << 31:
            raise ValueError(f"helper id {spec.id} out of range")
        if spec.id in self._entries and not replace:
            raise ValueError(f"helper #{spec.id} ({self._entries[spec.id].name}) is already registered")
        self._entries[spec.id] = spec
        return spec

    def unregister(self, helper_id: int) -> None:
        """Remove a helper (no error when absent)."""
        self._entries.pop(helper_id, None)

    def get(self, helper_id: int) -> HelperSpec | None:
        """The helper with ``helper_id``, or ``None``."""
        return self._entries.get(helper_id)

    def resolve(self, helper_id: int, prog_type: int | None = None) -> HelperSpec:
        """The helper a program of ``prog_type`` calls as ``call helper_id``.

        Raises :class:`UnknownFunction` with the kernel verifier's wording.
        """
        spec = self._entries.get(helper_id)
        if spec is None:
            raise UnknownFunction(f"invalid func unknown#{helper_id}")
        return self._callable_by(
            spec, prog_type, f"program of type {prog_type} may not call helper {spec.name}#{helper_id}"
        )

    def ids(self) -> list[int]:
        """Registered ids, sorted."""
        return sorted(self._entries)


# ---------------------------------------------------------------------------- base helpers
def _map(run: RunContext, addr: int) -> MapBackend:
    backend = run.vm.map_at(addr)
    if backend is None:
        raise VMFault(f"helper called with {addr:#x}, which is not a map")
    return backend


def _map_lookup_elem(run: RunContext, r1: int, r2: int, r3: int, r4: int, r5: int) -> int:
    backend = _map(run, r1)
    return backend.bpf_lookup(run.space.read(r2, backend.key_size))


def _map_update_elem(run: RunContext, r1: int, r2: int, r3: int, r4: int, r5: int) -> int:
    backend = _map(run, r1)
    key = run.space.read(r2, backend.key_size)
    value = run.space.read(r3, backend.value_size)
    return backend.bpf_update(key, value, r4)


def _map_delete_elem(run: RunContext, r1: int, r2: int, r3: int, r4: int, r5: int) -> int:
    backend = _map(run, r1)
    return backend.bpf_delete(run.space.read(r2, backend.key_size))


def _ktime_get_ns(run: RunContext, *_: int) -> int:
    return run.vm.clock_ns()


def _ktime_get_coarse_ns(run: RunContext, *_: int) -> int:
    now = run.vm.clock_ns()
    return now - now % 4_000_000  # jiffy resolution at HZ=250


def _get_prandom_u32(run: RunContext, *_: int) -> int:
    return run.vm.random.getrandbits(32)


def _get_smp_processor_id(run: RunContext, *_: int) -> int:
    return run.vm.cpu


def _get_current_pid_tgid(run: RunContext, *_: int) -> int:
    """``bpf_get_current_pid_tgid``: ``tgid << 32 | pid`` of the current task.

    Programs of the embedded kernel run from the kernel's own context (TCP softirq work,
    test runs), whose task is the idle task: pid 0, tgid 0.
    """
    return 0


def _get_current_uid_gid(run: RunContext, *_: int) -> int:
    """``bpf_get_current_uid_gid``: ``gid << 32 | uid`` of the current task (root: 0)."""
    return 0


def _tail_call_placeholder(run: RunContext, *_: int) -> int:  # pragma: no cover - executors special-case
    raise VMFault("bpf_tail_call must be dispatched by the executor")


_CONV = {"d", "i", "u", "x", "X", "p", "s", "c"}


def format_trace(run: RunContext, fmt: bytes, args: list[int]) -> str:
    """Format a ``bpf_trace_printk`` string the way the kernel's ``bprintf`` does.

    Supports ``%d %i %u %x %X %c %s %p %%`` with ``l``/``ll`` modifiers; without a
    modifier the argument is treated as 32 bits.  Raises ``ValueError`` for an
    unsupported conversion or too many conversions (the helper then returns -EINVAL).
    """
    text = fmt.decode("latin-1")
    out: list[str] = []
    i = 0
    argi = 0
    while i < len(text):
        ch = text[i]
        if ch != "%":
            out.append(ch)
            i += 1
            continue
        if text.startswith("%%", i):
            out.append("%")
            i += 2
            continue
        j = i + 1
        longs = 0
        while j < len(text) and text[j] == "l":
            longs += 1
            j += 1
        if j >= len(text) or text[j] not in _CONV or longs > 2:
            raise ValueError(f"unsupported format at offset {i}")
        if argi >= len(args):
            raise ValueError("more conversions than arguments")
        conv = text[j]
        value = args[argi]
        argi += 1
        bits = 64 if longs else 32
        value &= (1 << bits) - 1
        if conv in "di":
            out.append(str(value - (1 << bits) if value >> (bits - 1) else value))
        elif conv == "u":
            out.append(str(value))
        elif conv == "x":
            out.append(f"{value:x}")
        elif conv == "X":
            out.append(f"{value:X}")
        elif conv == "c":
            out.append(chr(value & 0xFF))
        elif conv == "p":
            out.append(f"0x{args[argi - 1] & (1 << 64) - 1:016x}")
        else:  # "s"
            try:
                out.append(run.space.read_cstr(args[argi - 1], 256).decode("latin-1"))
            except VMFault:
                out.append("(efault)")
        i = j + 1
    return "".join(out)


def _trace_printk(run: RunContext, r1: int, r2: int, r3: int, r4: int, r5: int) -> int:
    if not 0 < r2 <= 1024:
        return -errno.EINVAL
    raw = run.space.read(r1, r2)
    if raw[-1:] != b"\0":
        return -errno.EINVAL
    try:
        text = format_trace(run, raw.split(b"\0", 1)[0], [r3, r4, r5])
    except ValueError:
        return -errno.EINVAL
    run.vm.trace_log.append(text)
    return len(text.encode("latin-1", "replace"))


def base_helpers() -> list[HelperSpec]:
    """The helpers every program type may call (ids checked against ``linux/bpf.h``)."""
    A = ArgType
    return [
        HelperSpec(
            1,
            "map_lookup_elem",
            _map_lookup_elem,
            (A.CONST_MAP_PTR, A.PTR_TO_MAP_KEY),
            RetType.PTR_TO_MAP_VALUE_OR_NULL,
        ),
        HelperSpec(
            2,
            "map_update_elem",
            _map_update_elem,
            (A.CONST_MAP_PTR, A.PTR_TO_MAP_KEY, A.PTR_TO_MAP_VALUE, A.ANYTHING),
        ),
        HelperSpec(3, "map_delete_elem", _map_delete_elem, (A.CONST_MAP_PTR, A.PTR_TO_MAP_KEY)),
        HelperSpec(5, "ktime_get_ns", _ktime_get_ns),
        HelperSpec(
            6,
            "trace_printk",
            _trace_printk,
            (A.PTR_TO_MEM, A.CONST_SIZE, A.ANYTHING, A.ANYTHING, A.ANYTHING),
        ),
        HelperSpec(7, "get_prandom_u32", _get_prandom_u32),
        HelperSpec(8, "get_smp_processor_id", _get_smp_processor_id),
        HelperSpec(14, "get_current_pid_tgid", _get_current_pid_tgid),
        HelperSpec(15, "get_current_uid_gid", _get_current_uid_gid),
        HelperSpec(
            12,
            "tail_call",
            _tail_call_placeholder,
            (A.PTR_TO_CTX, A.CONST_MAP_PTR, A.ANYTHING),
            RetType.VOID,
            tail_call=True,
        ),
        HelperSpec(125, "ktime_get_boot_ns", _ktime_get_ns),
        HelperSpec(160, "ktime_get_coarse_ns", _ktime_get_coarse_ns),
    ]
