"""The deterministic result of reading a BPF ELF object: CollectionSpec and its parts.

A spec holds only what the object file says (cilium/ebpf's "spec vs object" rule,
DESIGN.md "Decisions"): the same bytes give the same spec on every machine.  Anything
that needs the target kernel -- CO-RE results, kernel type ids, struct_ops member
indices, fds -- is left symbolic here and resolved by the load phase:

* instructions keep their ELF immediates, except bpf-to-bpf calls, which are linked
  exactly like libbpf's ``bpf_object__reloc_code`` (callee code appended, imm fixed);
* every instruction that needs a load-time value has a :class:`Reloc` naming the map,
  global-data offset, kfunc or ksym it refers to;
* ``.BTF.ext`` records are attached to the programs with instruction indices in the
  linked program (as libbpf passes them to BPF_PROG_LOAD);
* struct_ops maps carry their local type name, shadow bytes and member -> program
  bindings (selftests report B.1 / B.3).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field

from structops.abi.consts import MapType, ProgType
from structops.btf.parse import Spec as BTFSpec
from structops.loader.btf_ext import BTFExt, CoreRelo, FuncInfo, LineInfo

__all__ = [
    "CollectionSpec",
    "ExternKind",
    "ExternSpec",
    "MapKind",
    "MapSpec",
    "ProgramSpec",
    "Reloc",
    "RelocKind",
    "StructOpsSpec",
]

INSN_SIZE = 8


class RelocKind(enum.Enum):
    """What a relocated instruction refers to (libbpf ``enum reloc_type``)."""

    #: ``ld_imm64`` of a ``.maps`` map: becomes BPF_PSEUDO_MAP_FD at load.
    MAP = "map"
    #: ``ld_imm64`` into global data (``.data``/``.rodata``/``.bss``/``.kconfig`` map value
    #: at ``offset``): becomes BPF_PSEUDO_MAP_VALUE.
    MAP_VALUE = "map_value"
    #: bpf-to-bpf call, already linked: ``target`` names the callee.
    CALL = "call"
    #: ``ld_imm64`` of a subprogram address (callback), already linked: BPF_PSEUDO_FUNC.
    SUBPROG_ADDR = "subprog_addr"
    #: call of an extern function in ``.ksyms``: becomes BPF_PSEUDO_KFUNC_CALL + BTF id.
    KFUNC = "kfunc"
    #: ``ld_imm64`` of an extern variable in ``.ksyms``: BPF_PSEUDO_BTF_ID (or its address).
    KSYM = "ksym"
    #: ``ld_imm64`` of an ``__arena`` global: a direct value load of the object's arena map
    #: at ``arena_data_off + offset`` (:mod:`structops.loader.arena`).
    ARENA = "arena"


@dataclass(frozen=True, slots=True)
class Reloc:
    """One symbolic relocation of a linked program's instruction ``insn``.

    ``target`` is a map name (a key of :attr:`CollectionSpec.maps`), a subprogram or an
    extern symbol; ``offset`` is the byte offset in the map value for MAP_VALUE.
    """

    insn: int
    kind: RelocKind
    target: str
    offset: int = 0
    weak: bool = False


class ExternKind(enum.Enum):
    """Kinds of undefined symbols libbpf resolves at load (``enum extern_type``)."""

    KCONFIG = "kconfig"
    KSYM_VAR = "ksym_var"
    KFUNC = "kfunc"


@dataclass(frozen=True, slots=True)
class ExternSpec:
    """An extern (``__kconfig`` / ``__ksym``) symbol, with its slot in ``.kconfig``."""

    name: str
    kind: ExternKind
    weak: bool
    btf_id: int
    #: ``.kconfig`` only: offset and size of the value inside the ``.kconfig`` map.
    offset: int = 0
    size: int = 0
    #: ``__ksym`` variable declared without a type (``extern const void sym __ksym``):
    #: resolved from the kernel's symbol table (kallsyms), not from BTF, as libbpf does.
    typeless: bool = False


@dataclass(slots=True)
class ProgramSpec:
    """One BPF program: its code (linked with its subprograms) and how to load it."""

    name: str
    section: str
    prog_type: ProgType
    expected_attach_type: int
    #: Text after ``/`` in the section name (kprobe function, struct_ops member hint ...).
    attach_to: str
    sleepable: bool
    autoload: bool
    #: Raw instructions, 8 bytes each; ld_imm64 uses two slots.
    instructions: bytes
    license: str
    kernel_version: int
    #: Instruction index of this program inside its ELF section.
    section_insn_offset: int
    relocations: tuple[Reloc, ...] = ()
    func_infos: tuple[FuncInfo, ...] = ()
    line_infos: tuple[LineInfo, ...] = ()
    core_relos: tuple[CoreRelo, ...] = ()
    #: Subprograms appended after the program's own code, in order.
    subprograms: tuple[str, ...] = ()
    #: True when the section name matched a known program type.
    known_section: bool = True
    xdp_frags: bool = False

    @property
    def insn_count(self) -> int:
        """Number of 8-byte instruction slots."""
        return len(self.instructions) // INSN_SIZE

    @property
    def is_struct_ops(self) -> bool:
        """True for a ``struct_ops`` / ``struct_ops.s`` program."""
        return self.prog_type == ProgType.BPF_PROG_TYPE_STRUCT_OPS

    def slot(self, index: int) -> bytes:
        """Return the 8 bytes of instruction slot ``index``."""
        if not 0 <= index < self.insn_count:
            raise IndexError(f"{self.name}: instruction {index} out of range ({self.insn_count})")
        return self.instructions[index * INSN_SIZE : (index + 1) * INSN_SIZE]


@dataclass(slots=True)
class StructOpsSpec:
    """The struct_ops part of a struct_ops map (one variable of a .struct_ops* section).

    ``data`` is the shadow value: the variable's bytes from the section (function
    pointer slots are zero there).  ``funcs`` maps member name -> program name from the
    section's relocations; ``func_offsets`` gives each such member's byte offset.
    """

    type_name: str
    type_id: int
    data: bytes
    funcs: dict[str, str] = field(default_factory=dict)
    func_offsets: dict[str, int] = field(default_factory=dict)
    is_link: bool = False

    @property
    def kernel_type_name(self) -> str:
        """The type name with any ``___flavour`` suffix dropped (libbpf essential name)."""
        return essential_name(self.type_name)


def essential_name(name: str) -> str:
    """Drop a CO-RE ``___suffix`` flavour: ``tcp_congestion_ops___v2`` -> ``tcp_congestion_ops``."""
    cut = name.find("___")
    return name if cut <= 0 else name[:cut]


class MapKind(enum.Enum):
    """Where a map came from in the object."""

    BTF_DEFINED = ".maps"
    DATA = ".data"
    RODATA = ".rodata"
    BSS = ".bss"
    KCONFIG = ".kconfig"
    STRUCT_OPS = ".struct_ops"


@dataclass(slots=True)
class MapSpec:
    """One map to create: kernel attributes plus its origin and initial contents."""

    #: Name given to the kernel (libbpf rules; global data maps are ``<obj>.<sec>``).
    name: str
    #: Name in the object: the variable name, or the section name for global data.
    real_name: str
    kind: MapKind
    section: str
    type: MapType
    key_size: int
    value_size: int
    max_entries: int
    flags: int = 0
    numa_node: int = 0
    map_extra: int = 0
    pinning: int = 0
    btf_key_type_id: int = 0
    btf_value_type_id: int = 0
    #: Initial value bytes for global data maps (zeros for .bss / .kconfig).
    contents: bytes | None = None
    #: False for maps in ``?.struct_ops*`` sections (libbpf autocreate).
    autocreate: bool = True
    struct_ops: StructOpsSpec | None = None
    #: Inner map template of a map-in-map (``values`` member).
    inner: MapSpec | None = None
    #: Initial slots of a map-in-map / prog array: index -> map or program name.
    init_slots: dict[int, str] = field(default_factory=dict)


@dataclass(slots=True)
class CollectionSpec:
    """Everything an ELF object declares: programs, maps, BTF, license, version."""

    object_name: str
    programs: dict[str, ProgramSpec]
    maps: dict[str, MapSpec]
    btf: BTFSpec | None
    btf_ext: BTFExt | None
    license: str
    kversion: int
    externs: dict[str, ExternSpec] = field(default_factory=dict)
    #: The object's raw .BTF after libbpf-style DATASEC fix-ups (what is sent to the kernel).
    btf_raw: bytes = b""
    #: Initial contents of the ``__arena`` globals (section ``.addr_space.1``), if any.
    arena_data: bytes | None = None

    def map_by_name(self, name: str) -> MapSpec:
        """Find a map by object name (``.bss``, ``so_reno``) or kernel name (``reno.bss``)."""
        if name in self.maps:
            return self.maps[name]
        for m in self.maps.values():
            if m.name == name:
                return m
        raise KeyError(f"no map {name!r} in object {self.object_name!r}")

    @property
    def struct_ops_maps(self) -> dict[str, MapSpec]:
        """The struct_ops maps, by variable name."""
        return {k: m for k, m in self.maps.items() if m.struct_ops is not None}
