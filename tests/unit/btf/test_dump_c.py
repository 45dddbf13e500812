"""dump_c writes a C header that compiles and reproduces every struct layout of the BTF.

The compile checks run clang (any of clang-19 / clang) only when it is installed; the
layout is then checked by the compiler itself with _Static_assert on offsetof/sizeof.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from structops import btf

CLANG = shutil.which("clang-19") or shutil.which("clang")


def layout_asserts(spec: btf.Spec, types: list[btf.Type] | None = None) -> str:
    """_Static_asserts of sizeof and of every byte-aligned named member offset."""
    lines = []
    for t in types if types is not None else list(spec.types):
        if not isinstance(t, btf.Struct | btf.Union) or not t.name or len(spec.find_all(t.name)) > 1:
            continue
        kw = "union" if isinstance(t, btf.Union) else "struct"
        lines.append(f'_Static_assert(sizeof({kw} {t.name}) == {t.size}, "size of {t.name}");')
        for m in t.members:
            if m.name and not m.bitfield_size:
                lines.append(
                    f"_Static_assert(__builtin_offsetof({kw} {t.name}, {m.name}) == {m.bit_offset // 8}, "
                    f'"{t.name}.{m.name}");'
                )
    return "\n".join(lines) + "\n"


def compile_c(tmp_path: Path, text: str) -> None:
    if CLANG is None:
        pytest.skip("clang not installed")
    path = tmp_path / "dump.c"
    path.write_text(text)
    res = subprocess.run([CLANG, "-fsyntax-only", "-Wall", "-Werror", str(path)], capture_output=True, text=True)
    assert res.returncode == 0, res.stderr[:4000]


def test_dump_orders_definitions_before_use(spec: btf.Spec) -> None:
    text = btf.dump_c(spec)
    assert text.index("union value {") < text.index("struct node {")
    assert text.index("typedef u32 u32_alias;") < text.index("typedef u32_alias u32_alias2;")
    assert "struct opaque;" in text and "union fwd_union;" in text
    assert "typedef int (*visit_fn)(struct node *, void *);" in text
    assert "int *(*ret_ptr_fn)(const char *restrict);" in text
    assert "void (*cb)(int, ...);" in text
    assert "} __attribute__((packed));" in text  # packed_s


def test_dump_roots_only_pulls_dependencies(spec: btf.Spec) -> None:
    text = btf.dump_c(spec, [spec.find("flags", btf.Struct)])
    assert "struct flags {" in text and "enum color {" in text and "typedef unsigned char u8;" in text
    assert "struct node" not in text


def test_fixture_dump_compiles_with_same_layout(spec: btf.Spec, tmp_path: Path) -> None:
    compile_c(tmp_path, btf.dump_c(spec) + layout_asserts(spec))


def test_duplicate_names_are_renamed(tmp_path: Path) -> None:
    i32 = btf.Int("int", 4, btf.IntEncoding.SIGNED)
    a = btf.Struct("dup", 4, (btf.Member("x", i32, 0),))
    b = btf.Struct("dup", 8, (btf.Member("y", btf.Int("long", 8, btf.IntEncoding.SIGNED), 0),))
    e1 = btf.Enum("e1", 4, (btf.EnumValue("SAME", 1),))
    e2 = btf.Enum("e2", 4, (btf.EnumValue("SAME", 2),))
    spec = btf.parse(btf.encode([a, b, e1, e2]))
    text = btf.dump_c(spec)
    assert "struct dup {" in text and "struct dup___2 {" in text and "SAME___2 = 2" in text
    compile_c(tmp_path, text)


def test_self_containing_struct_is_rejected() -> None:
    s = btf.Struct("s", 4, ())
    object.__setattr__(s, "members", (btf.Member("me", s, 0),))
    spec = btf.parse(btf.encode([s]), validate=False)
    with pytest.raises(btf.BTFError):
        btf.dump_c(spec)
