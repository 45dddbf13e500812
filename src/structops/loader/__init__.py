"""ELF object loader: BPF ELF -> deterministic :class:`CollectionSpec` (spec phase).

``load_collection_spec(path_or_bytes)`` reads programs, maps (BTF-defined, global data,
``.kconfig``, struct_ops), BTF and ``.BTF.ext`` the way libbpf's open phase does; the
load phase (CO-RE, kernel type ids, struct_ops member matching) builds on the result.
"""

from structops.loader.btf_ext import BTFExt, CoreRelo, CoreReloKind, FuncInfo, LineInfo, parse_btf_ext
from structops.loader.collection import load_collection_spec, object_name_of
from structops.loader.core import CoreResult, patch_insn, relocate
from structops.loader.sections import SectionInfo, parse_section
from structops.loader.spec import (
    CollectionSpec,
    ExternKind,
    ExternSpec,
    MapKind,
    MapSpec,
    ProgramSpec,
    Reloc,
    RelocKind,
    StructOpsSpec,
    essential_name,
)

__all__ = [
    "BTFExt",
    "CollectionSpec",
    "CoreRelo",
    "CoreResult",
    "CoreReloKind",
    "ExternKind",
    "ExternSpec",
    "FuncInfo",
    "LineInfo",
    "MapKind",
    "MapSpec",
    "ProgramSpec",
    "Reloc",
    "RelocKind",
    "SectionInfo",
    "StructOpsSpec",
    "essential_name",
    "load_collection_spec",
    "object_name_of",
    "parse_btf_ext",
    "parse_section",
    "patch_insn",
    "relocate",
]
