"""C header output of BTF types, like ``bpftool btf dump file X format c``.

:func:`dump_c` prints definitions in an order a C compiler accepts: a type used by value
(struct member, array element) is defined before its user, a struct reached only through
pointers gets a forward declaration, anonymous structs, unions and enums are written
inline.  Struct layouts are reproduced exactly: gaps become anonymous bitfield padding
(``long: 64;``), under-aligned members make the struct ``__attribute__((packed))``.
Names that clash in C (two different ``struct foo``) get a ``___N`` suffix.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from structops.btf import types as bt
from structops.btf.layout import alignof, sizeof
from structops.btf.parse import Spec
from structops.errors import BTFError

__all__ = ["dump_c"]

_QUALS = {bt.Const: "const", bt.Volatile: "volatile", bt.Restrict: "restrict"}
_PAD_TYPES = ((64, "long"), (32, "int"), (16, "short"), (8, "char"))
_MODE = {1: "byte", 2: "HI", 4: "SI", 8: "DI"}
_NEW, _VISITING, _DONE = 0, 1, 2
_MAX_DEPTH = 200


def _peel_quals(t: bt.Type) -> bt.Type:
    while isinstance(t, bt.Const | bt.Volatile | bt.Restrict | bt.TypeTag):
        t = t.type
    return t


class _CWriter:
    """One dump: tracks what is declared / defined and the C names given to types."""

    def __init__(self) -> None:
        self.out: list[str] = []
        self.state: dict[int, int] = {}
        self.declared: set[int] = set()
        self.names: dict[int, str] = {}
        self.used: dict[tuple[str, str], int] = {}
        self.inlined_enums: set[int] = set()
        self.depth = 0
        self.align_cache: dict[int, int] = {}

    # -- names ---------------------------------------------------------------------
    def _claim(self, space: str, base: str) -> str:
        n = self.used.get((space, base), 0) + 1
        self.used[(space, base)] = n
        return base if n == 1 else f"{base}___{n}"

    def cname(self, t: bt.Type) -> str:
        """The C name of a named struct/union/enum/fwd (tag) or typedef."""
        key = id(t)
        name = self.names.get(key)
        if name is None:
            base = getattr(t, "name", "")
            if isinstance(t, bt.Fwd):
                name = base  # the same tag as the struct it declares
            elif isinstance(t, bt.Typedef):
                name = self._claim("ident", base)
            else:
                name = self._claim("tag", base)
            self.names[key] = name
        return name

    def enumerator(self, t: bt.Type, index: int, base: str) -> str:
        key = id(t) * 65536 + index  # stable per (enum object, value index)
        name = self.names.get(key)
        if name is None:
            name = self.names[key] = self._claim("ident", base)
        return name

    # -- ordering --------------------------------------------------------------------
    def need(self, t: bt.Type, strong: bool) -> None:
        """Make ``t`` usable here: defined when ``strong`` (used by value), else declared."""
        self.depth += 1
        if self.depth > _MAX_DEPTH:
            raise BTFError(f"type nesting too deep or cyclic at {bt.describe(t)}")
        try:
            self._need(t, strong)
        finally:
            self.depth -= 1

    def _need(self, t: bt.Type, strong: bool) -> None:
        for _ in range(_MAX_DEPTH):
            if isinstance(t, bt.Const | bt.Volatile | bt.Restrict | bt.TypeTag):
                t = t.type
            elif isinstance(t, bt.Pointer):
                t, strong = t.target, False
            elif isinstance(t, bt.Array):
                t, strong = t.type, True
            else:
                break
        else:
            raise BTFError(f"modifier chain too long or cyclic at {bt.describe(t)}")
        if isinstance(t, bt.Typedef):
            if t.name.startswith("__builtin_"):
                return  # predefined by the compiler (__builtin_va_list)
            self.typedef(t)
            if strong:
                self.need(t.type, True)
        elif isinstance(t, bt.Struct | bt.Union):
            if t.name:
                if strong:
                    self.define(t)
                else:
                    self.declare(t)
            else:
                for m in t.members:
                    self.need(m.type, True)
        elif isinstance(t, bt.Enum | bt.Enum64):
            if t.name:
                self.define_enum(t)
        elif isinstance(t, bt.Fwd):
            self.declare(t)
        elif isinstance(t, bt.FuncProto):
            self.need(t.return_type, False)
            for p in t.params:
                self.need(p.type, False)

    def declare(self, t: bt.Struct | bt.Union | bt.Fwd) -> None:
        key = id(t)
        if key in self.declared or self.state.get(key) == _DONE:
            return
        self.declared.add(key)
        kw = "union" if isinstance(t, bt.Union) or (isinstance(t, bt.Fwd) and t.is_union) else "struct"
        self.out.append(f"{kw} {self.cname(t)};\n")

    def _emit_once(self, t: bt.Type, cycle: str, emit: Callable[[], None]) -> None:
        """Run ``emit`` for ``t`` once; meeting ``t`` again while it runs is a cycle (BTFError)."""
        key = id(t)
        state = self.state.get(key, _NEW)
        if state == _DONE:
            return
        if state == _VISITING:
            raise BTFError(cycle)
        self.state[key] = _VISITING
        emit()
        self.state[key] = _DONE

    def define(self, t: bt.Struct | bt.Union) -> None:
        def emit() -> None:
            for m in t.members:
                self.need(m.type, True)
            self.out.append(self.composite(t, 0) + ";\n\n")

        self._emit_once(t, f"{bt.describe(t)} contains itself by value", emit)

    def define_enum(self, t: bt.Enum | bt.Enum64) -> None:
        key = id(t)
        if self.state.get(key) == _DONE:
            return
        self.state[key] = _DONE
        self.out.append(self.enum_body(t, 0) + ";\n\n")

    def typedef(self, t: bt.Typedef) -> None:
        def emit() -> None:
            self.need(t.type, False)
            self.out.append(f"typedef {self.decl(t.type, self.cname(t), 0)};\n\n")

        self._emit_once(t, f"typedef {t.name!r} refers to itself", emit)

    # -- text ------------------------------------------------------------------------
    def specifier(self, t: bt.Type, indent: int) -> str:
        if isinstance(t, bt.Void):
            return "void"
        if isinstance(t, bt.Int | bt.Float):
            return t.name
        if isinstance(t, bt.Typedef):
            return self.cname(t)
        if isinstance(t, bt.Struct | bt.Union):
            return self.composite(t, indent) if not t.name else f"{_kw(t)} {self.cname(t)}"
        if isinstance(t, bt.Fwd):
            return f"{'union' if t.is_union else 'struct'} {self.cname(t)}"
        if isinstance(t, bt.Enum | bt.Enum64):
            if t.name:
                return f"enum {self.cname(t)}"
            if id(t) in self.inlined_enums:  # enumerators already defined: keep the layout only
                return _int_spelling(t.size, t.signed)
            self.inlined_enums.add(id(t))
            return self.enum_body(t, indent)
        raise BTFError(f"{bt.describe(t)} cannot appear in a C declaration")

    def decl(self, t: bt.Type, inner: str, indent: int) -> str:
        """Return the C declaration of ``inner`` (a name, possibly '') with type ``t``."""
        quals: list[str] = []
        for _ in range(_MAX_DEPTH):
            if isinstance(t, bt.Const | bt.Volatile | bt.Restrict):
                if _QUALS[type(t)] not in quals:
                    quals.append(_QUALS[type(t)])
                t = t.type
            elif isinstance(t, bt.TypeTag):
                t = t.type
            elif isinstance(t, bt.Pointer):
                q = " ".join(quals)
                inner = f"*{q} {inner}".rstrip() if q else f"*{inner}"
                quals = []
                t = t.target
                if isinstance(_peel_quals(t), bt.Array | bt.FuncProto):
                    inner = f"({inner})"
            elif isinstance(t, bt.Array):
                inner = f"{inner}[{t.nelems}]"
                t = t.type
            elif isinstance(t, bt.FuncProto):
                params = [self.decl(p.type, p.name, indent) for p in t.params]
                if t.variadic:
                    params.append("...")
                inner = f"{inner}({', '.join(params) or 'void'})"
                quals = []
                t = t.return_type
            else:
                spec = self.specifier(t, indent)
                prefix = " ".join([*quals, spec])
                return f"{prefix} {inner}" if inner else prefix
        raise BTFError(f"declarator too deep or cyclic at {bt.describe(t)}")

    def enum_body(self, t: bt.Enum | bt.Enum64, indent: int) -> str:
        tabs = "\t" * (indent + 1)
        head = f"enum {self.cname(t)} " if t.name else "enum "
        lines = [head + "{"]
        big = False
        for i, v in enumerate(t.values):
            value = v.value
            big = big or not -(1 << 31) <= value < (1 << 32)
            if value == -(1 << 63):
                literal = f"({value + 1}LL - 1)"  # the literal 9223372036854775808 has no signed type
            else:
                literal = f"{value}{'ULL' if value >= 1 << 63 else ('LL' if value < -(1 << 31) else '')}"
            lines.append(f"{tabs}{self.enumerator(t, i, v.name)} = {literal},")
        lines.append("\t" * indent + "}")
        text = "\n".join(lines)
        natural = 8 if big else 4
        if t.size != natural and t.size in _MODE:
            text += f" __attribute__((mode({_MODE[t.size]})))"
        return text

    def composite(self, t: bt.Struct | bt.Union, indent: int) -> str:
        """The ``struct name { ... }`` text of ``t`` with padding that reproduces its layout."""
        tabs = "\t" * (indent + 1)
        head = f"{_kw(t)} {self.cname(t)} " if t.name else f"{_kw(t)} "
        cache = self.align_cache
        packed = _needs_packed(t, cache)
        body: list[str] = []
        pos = 0
        for m in t.members:
            if isinstance(t, bt.Struct):
                start = m.bit_offset
                natural = _natural_offset(m, pos, packed, cache)
                if start < natural:
                    raise BTFError(f"{bt.describe(t)}: member {m.name!r} overlaps the previous one")
                if start > natural:
                    body += [f"{tabs}{line};" for line in _padding(pos, start)]
            text = self.decl(m.type, m.name, indent + 1)
            if m.bitfield_size:
                text += f": {m.bitfield_size}"
            body.append(f"{tabs}{text};")
            end = m.bit_offset + (m.bitfield_size or 8 * sizeof(m.type))
            pos = max(pos, end) if isinstance(t, bt.Union) else end
        if isinstance(t, bt.Struct):
            align = 8 if packed else 8 * max((alignof(m.type, cache) for m in t.members), default=1)
            if -(-pos // align) * align != 8 * t.size:
                body += [f"{tabs}{line};" for line in _padding(pos, 8 * t.size)]
        elif pos < 8 * t.size:
            body.append(f"{tabs}unsigned char __pad[{t.size}];")
        text = head + "{\n" + "\n".join(body) + ("\n" if body else "") + "\t" * indent + "}"
        if packed:
            text += " __attribute__((packed))"
        return text


def _kw(t: bt.Struct | bt.Union) -> str:
    return "union" if isinstance(t, bt.Union) else "struct"


def _int_spelling(size: int, signed: bool) -> str:
    base = {1: "char", 2: "short", 4: "int", 8: "long long"}.get(size, "int")
    return ("signed " if signed else "unsigned ") + base


def _natural_offset(m: bt.Member, pos: int, packed: bool, cache: dict[int, int]) -> int:
    """Bit offset a C compiler would give ``m`` after ``pos`` bits (SysV rules)."""
    if packed:
        return pos
    if m.bitfield_size:
        unit = 8 * sizeof(m.type)
        if unit and pos // unit != (pos + m.bitfield_size - 1) // unit:
            return -(-pos // unit) * unit
        return pos
    align = 8 * alignof(m.type, cache)
    return -(-pos // align) * align


def _needs_packed(t: bt.Struct | bt.Union, cache: dict[int, int]) -> bool:
    """True if ``t`` cannot be laid out without ``__attribute__((packed))``."""
    align = 1
    pos = 0
    for m in t.members:
        a = alignof(m.type, cache)
        align = max(align, a)
        if isinstance(t, bt.Union):
            continue
        if m.bit_offset < _natural_offset(m, pos, False, cache):
            return True
        pos = m.bit_offset + (m.bitfield_size or 8 * sizeof(m.type))
    return t.size % align != 0


def _padding(pos: int, target: int) -> list[str]:
    """Anonymous bitfields filling bits [pos, target) without changing the alignment.

    Gaps longer than 64 bytes become one ``unsigned char`` array (named after its offset)
    so that the output stays small whatever the sizes in the BTF.
    """
    out = []
    if target - pos > 8 * 64:
        start = -(-pos // 8) * 8
        out += _padding(pos, start)
        count = (target - start) // 8
        out.append(f"unsigned char __pad_{start // 8}[{count}]")
        pos = start + 8 * count
    while pos < target:
        if pos % 8:
            step = min(8 - pos % 8, target - pos)
            out.append(f"char: {step}")
        else:
            for bits, spelling in _PAD_TYPES:
                if pos % bits == 0 and target - pos >= bits:
                    step = bits
                    out.append(f"{spelling}: {bits}")
                    break
            else:
                step = target - pos
                out.append(f"char: {step}")
        pos += step
    return out


def _is_top_level(t: bt.Type) -> bool:
    return isinstance(t, bt.Struct | bt.Union | bt.Enum | bt.Enum64 | bt.Typedef | bt.Fwd)


def _anon_enums_referenced(types: Sequence[bt.Type]) -> set[int]:
    """Anonymous enums that some printable type uses (they get written inline there)."""
    seen: set[int] = set()

    def mark(x: bt.Type) -> None:
        x = _peel_quals(x)
        while isinstance(x, bt.Pointer | bt.Array | bt.Typedef):
            if isinstance(x, bt.Typedef):
                x = x.type
            else:
                x = x.target if isinstance(x, bt.Pointer) else x.type
            x = _peel_quals(x)
            if isinstance(x, bt.Typedef):
                break
        if isinstance(x, bt.Enum | bt.Enum64) and not x.name:
            seen.add(id(x))

    for t in types:
        if isinstance(t, bt.Struct | bt.Union):
            for m in t.members:
                mark(m.type)
        elif isinstance(t, bt.Typedef | bt.Pointer | bt.Array | bt.Const | bt.Volatile | bt.Restrict):
            mark(t)
        elif isinstance(t, bt.FuncProto):
            mark(t.return_type)
            for p in t.params:
                mark(p.type)
    return seen


def dump_c(spec: Spec, roots: Sequence[bt.Type] | None = None) -> str:
    """Return a C header declaring ``roots`` (default: every type of ``spec``) and dependencies.

    Functions, variables, sections and decl tags are not printed (as bpftool does);
    their types are.  BTFError for layouts C cannot express.
    """
    w = _CWriter()
    if roots is None:
        everything = list(spec.types)
        referenced = _anon_enums_referenced(everything)
        roots = [t for t in everything if not (isinstance(t, bt.Enum | bt.Enum64) and id(t) in referenced)]
    for t in roots:
        if isinstance(t, bt.Func | bt.Var | bt.Datasec | bt.DeclTag):
            continue
        if isinstance(t, bt.Struct | bt.Union) and t.name:
            w.define(t)
        elif isinstance(t, bt.Enum | bt.Enum64):
            if t.name:
                w.define_enum(t)
            elif id(t) not in w.inlined_enums:
                w.out.append(w.enum_body(t, 0) + ";\n\n")
                w.inlined_enums.add(id(t))
        elif _is_top_level(t) or isinstance(
            t, bt.Pointer | bt.Array | bt.Const | bt.Volatile | bt.Restrict | bt.TypeTag
        ):
            w.need(t, True)
        elif isinstance(t, bt.FuncProto):
            w.need(t, False)
    guard = "__STRUCTOPS_BTF_DUMP_H__"
    return f"#ifndef {guard}\n#define {guard}\n\n" + "".join(w.out) + f"#endif /* {guard} */\n"
