"""The BTF type graph: one frozen dataclass per BTF kind (btf.rst section 2.2).

Types refer to each other by object, never by id, so cycles (``struct list_head``
pointing at itself) are ordinary.  Equality is identity (``eq=False``): two structurally
equal types from different blobs are different objects, which keeps comparisons and
hashing O(1) on cyclic graphs.  Only :class:`Void` compares equal to every other ``Void``.

Types decoded by :func:`structops.btf.parse` are *lazy*: the scalar fields are filled at
decode time and the referenced types (``Pointer.target``, ``Struct.members`` ...) on
first access.  The laziness is invisible to users: attributes simply appear.  Types a
user constructs (for :class:`structops.btf.Builder`) are ordinary dataclass instances.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Any, Protocol

from structops.errors import BTFError

__all__ = [
    "Array",
    "Const",
    "Datasec",
    "DeclTag",
    "Enum",
    "Enum64",
    "EnumValue",
    "Float",
    "Func",
    "FuncLinkage",
    "FuncProto",
    "Fwd",
    "Int",
    "IntEncoding",
    "Member",
    "Param",
    "Pointer",
    "Restrict",
    "Struct",
    "Type",
    "TypeTag",
    "Typedef",
    "Union",
    "Var",
    "VarLinkage",
    "VarSecinfo",
    "Void",
    "Volatile",
]


class IntEncoding(enum.IntFlag):
    """BTF_INT_ENCODING bits of a BTF_KIND_INT (btf.rst 2.2.1)."""

    NONE = 0
    SIGNED = 1
    CHAR = 2
    BOOL = 4


class FuncLinkage(enum.IntEnum):
    """Linkage of a BTF_KIND_FUNC, stored in its vlen (btf.rst 2.2.12)."""

    STATIC = 0
    GLOBAL = 1
    EXTERN = 2


class VarLinkage(enum.IntEnum):
    """Linkage of a BTF_KIND_VAR (btf.rst 2.2.14)."""

    STATIC = 0
    GLOBAL_ALLOCATED = 1
    GLOBAL_EXTERN = 2


class _Filler(Protocol):
    def _fill(self, obj: object, rec: int) -> None: ...


def _lazy_getattr(self: object, attr: str) -> Any:
    """Decode the lazy references of a parsed object on first access to one of them."""
    d = self.__dict__
    lazy = d.get("_lazy")
    if lazy is None or attr.startswith("__"):
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {attr!r}")
    filler: _Filler = lazy[0]
    filler._fill(self, lazy[1])
    del d["_lazy"]
    try:
        return d[attr]
    except KeyError:
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {attr!r}") from None


class _Lazy:
    """Mixin giving parsed objects lazily decoded fields (see the module docstring)."""

    def __repr__(self) -> str:
        return describe(self)


# Assigned outside the class body so that mypy keeps checking attribute names strictly.
_Lazy.__getattr__ = _lazy_getattr  # type: ignore[attr-defined]


class Type(_Lazy):
    """Base class of every BTF type; ``kind`` is the BTF_KIND_* number."""

    kind: int = 0


@dataclass(frozen=True, eq=True, repr=False)
class Void(Type):
    """Type id 0: ``void``; also the return type of a function returning nothing."""

    kind = 0


@dataclass(frozen=True, eq=False, repr=False)
class Int(Type):
    """BTF_KIND_INT: an integer of ``size`` bytes whose value has ``bits`` bits at ``offset``."""

    name: str
    size: int
    encoding: IntEncoding = IntEncoding.NONE
    bits: int = 0
    offset: int = 0
    kind = 1

    def __post_init__(self) -> None:
        if self.bits == 0:
            object.__setattr__(self, "bits", self.size * 8)

    @property
    def signed(self) -> bool:
        """True for a signed integer."""
        return bool(self.encoding & IntEncoding.SIGNED)


@dataclass(frozen=True, eq=False, repr=False)
class Pointer(Type):
    """BTF_KIND_PTR: a pointer to ``target`` (8 bytes on every BPF target)."""

    target: Type
    kind = 2


@dataclass(frozen=True, eq=False, repr=False)
class Array(Type):
    """BTF_KIND_ARRAY: ``nelems`` elements of ``type``, indexed by ``index_type``."""

    type: Type
    index_type: Type
    nelems: int
    kind = 3


@dataclass(frozen=True, eq=False, repr=False)
class Member(_Lazy):
    """One ``struct btf_member``: a field at ``bit_offset`` bits (``bitfield_size`` 0 if plain)."""

    name: str
    type: Type
    bit_offset: int = 0
    bitfield_size: int = 0

    @property
    def offset(self) -> int:
        """Byte offset of the member; BTFError for a member not starting on a byte."""
        if self.bit_offset % 8:
            raise BTFError(f"member {self.name or '(anon)'!r} is at bit {self.bit_offset}, not byte aligned")
        return self.bit_offset // 8


@dataclass(frozen=True, eq=False, repr=False)
class _Composite(Type):
    """The fields of a struct or union: ``name``, ``size`` in bytes, ``members``."""

    name: str
    size: int
    members: tuple[Member, ...] = ()

    def member(self, name: str) -> Member:
        """Return the direct member called ``name`` (KeyError if there is none)."""
        for m in self.members:
            if m.name == name:
                return m
        raise KeyError(f"{describe(self)} has no member {name!r}")


class Struct(_Composite):
    """BTF_KIND_STRUCT: ``struct name`` of ``size`` bytes."""

    kind = 4


class Union(_Composite):
    """BTF_KIND_UNION: ``union name`` of ``size`` bytes."""

    kind = 5


@dataclass(frozen=True, eq=False, repr=False)
class EnumValue(_Lazy):
    """One enumerator (``struct btf_enum`` / ``struct btf_enum64``)."""

    name: str
    value: int


@dataclass(frozen=True, eq=False, repr=False)
class _Enumeration(Type):
    """The fields of both enum kinds: ``name``, ``size``, ``values``; ``signed`` is the kind_flag."""

    name: str
    size: int
    values: tuple[EnumValue, ...] = ()
    signed: bool = False


class Enum(_Enumeration):
    """BTF_KIND_ENUM: up to 32-bit enumerators (btf.rst 2.2.6)."""

    kind = 6


class Enum64(_Enumeration):
    """BTF_KIND_ENUM64: 64-bit enumerators (btf.rst 2.2.19)."""

    kind = 19


@dataclass(frozen=True, eq=False, repr=False)
class Fwd(Type):
    """BTF_KIND_FWD: a forward declaration of a struct (or union when ``is_union``)."""

    name: str
    is_union: bool = False
    kind = 7


@dataclass(frozen=True, eq=False, repr=False)
class _Named(Type):
    """A kind that gives a ``name`` to (or tags with it) another ``type``."""

    name: str
    type: Type


class Typedef(_Named):
    """BTF_KIND_TYPEDEF: ``typedef type name``."""

    kind = 8


@dataclass(frozen=True, eq=False, repr=False)
class _Qualifier(Type):
    """A kind that qualifies ``type`` and has no name."""

    type: Type


class Volatile(_Qualifier):
    """BTF_KIND_VOLATILE: ``volatile type``."""

    kind = 9


class Const(_Qualifier):
    """BTF_KIND_CONST: ``const type``."""

    kind = 10


class Restrict(_Qualifier):
    """BTF_KIND_RESTRICT: ``restrict type``."""

    kind = 11


@dataclass(frozen=True, eq=False, repr=False)
class Param(_Lazy):
    """One ``struct btf_param`` of a function prototype."""

    name: str
    type: Type


@dataclass(frozen=True, eq=False, repr=False)
class FuncProto(Type):
    """BTF_KIND_FUNC_PROTO: a function signature; ``variadic`` for a trailing ``...``."""

    return_type: Type
    params: tuple[Param, ...] = ()
    variadic: bool = False
    kind = 13


@dataclass(frozen=True, eq=False, repr=False)
class Func(Type):
    """BTF_KIND_FUNC: a named function (or kfunc / BPF subprogram) of prototype ``type``."""

    name: str
    type: FuncProto
    linkage: FuncLinkage = FuncLinkage.STATIC
    kind = 12


@dataclass(frozen=True, eq=False, repr=False)
class Var(Type):
    """BTF_KIND_VAR: a global or static variable of ``type``."""

    name: str
    type: Type
    linkage: VarLinkage = VarLinkage.STATIC
    kind = 14


@dataclass(frozen=True, eq=False, repr=False)
class VarSecinfo(_Lazy):
    """One ``struct btf_var_secinfo``: where variable ``type`` (a Var or Func) sits in a section."""

    type: Type
    offset: int
    size: int


@dataclass(frozen=True, eq=False, repr=False)
class Datasec(Type):
    """BTF_KIND_DATASEC: an ELF data section (``.data``, ``.struct_ops.link`` ...)."""

    name: str
    size: int
    vars: tuple[VarSecinfo, ...] = ()
    kind = 15


@dataclass(frozen=True, eq=False, repr=False)
class Float(Type):
    """BTF_KIND_FLOAT: a floating point type of ``size`` bytes."""

    name: str
    size: int
    kind = 16


@dataclass(frozen=True, eq=False, repr=False)
class DeclTag(_Named):
    """BTF_KIND_DECL_TAG: ``btf_decl_tag(name)`` on ``type`` or, with ``component_idx`` >= 0, on
    its member / parameter number ``component_idx``."""

    component_idx: int = -1
    kind = 17


class TypeTag(_Named):
    """BTF_KIND_TYPE_TAG: ``btf_type_tag(name)`` qualifying ``type`` (e.g. ``__user``)."""

    kind = 18


KIND_NAMES = {
    0: "VOID",
    1: "INT",
    2: "PTR",
    3: "ARRAY",
    4: "STRUCT",
    5: "UNION",
    6: "ENUM",
    7: "FWD",
    8: "TYPEDEF",
    9: "VOLATILE",
    10: "CONST",
    11: "RESTRICT",
    12: "FUNC",
    13: "FUNC_PROTO",
    14: "VAR",
    15: "DATASEC",
    16: "FLOAT",
    17: "DECL_TAG",
    18: "TYPE_TAG",
    19: "ENUM64",
}


def describe(obj: object) -> str:
    """Return a short, non-recursive description such as ``STRUCT 'sock' size=1144``."""
    if isinstance(obj, Type):
        name = obj.__dict__.get("name", "")
        kind = KIND_NAMES.get(obj.kind, "?")
        text = f"{kind} {name!r}" if name else kind
        size = obj.__dict__.get("size")
        if size is not None:
            text += f" size={size}"
        return f"<{text}>"
    if isinstance(obj, Member | Param | EnumValue):
        return f"<{type(obj).__name__} {obj.__dict__.get('name', '')!r}>"
    return f"<{type(obj).__name__}>"


def _lazy_fields(cls: type, *names: str) -> None:
    """Drop the class-level defaults of lazily decoded fields so ``__getattr__`` sees them.

    The dataclass ``__init__`` keeps its own copy of the defaults, so construction is
    unchanged; only parsed objects, which skip ``__init__``, rely on this.
    """
    for name in names:
        if name in cls.__dict__:
            delattr(cls, name)


for _cls, _names in (
    (_Composite, ("members",)),
    (_Enumeration, ("values",)),
    (FuncProto, ("params",)),
    (Datasec, ("vars",)),
):
    _lazy_fields(_cls, *_names)
