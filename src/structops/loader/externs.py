"""Externs at load: ``__ksym`` kfuncs and variables, ``.kconfig`` values (libbpf rules).

* ``__ksym`` (:func:`relocate_ksym`): found in vmlinux BTF, a kfunc call gets
  ``BPF_PSEUDO_KFUNC_CALL`` and the FUNC id, an ``ld_imm64`` (a kfunc's address or a typed
  kernel variable) ``BPF_PSEUDO_BTF_ID`` and the FUNC/VAR id; missing and ``__weak``, a call
  is poisoned (libbpf ``poison_kfunc_call``: helper ``POISON_CALL_KFUNC_BASE`` + the
  extern's index) and an address loads 0, so ``bpf_ksym_exists()`` is false; missing and
  strong, a LoadError naming the program and the extern;
* an untyped ``__ksym`` variable (``extern const void sym __ksym``): its address from the
  kernel's symbol table (:func:`kernel_symbols`), 0 when ``__weak`` and absent;
* ``.kconfig`` (:func:`kconfig_contents`): the kernel's configuration (the kernel object's
  ``kconfig()`` or ``/proc/config.gz``), ``y``/``m``/``n`` as 1/2/0, numbers, strings;
  ``LINUX_KERNEL_VERSION`` from the release; a missing ``__weak`` value stays 0.
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Mapping
from pathlib import Path

from structops import btf as btflib
from structops.abi.protocol import Kernel
from structops.errors import ELFError
from structops.loader.spec import CollectionSpec, ExternKind, MapSpec, ProgramSpec, RelocKind
from structops.uapi import BPF_PSEUDO_BTF_ID, BPF_PSEUDO_KFUNC_CALL

__all__ = [
    "POISON_CALL_KFUNC_BASE",
    "LoadError",
    "kconfig_contents",
    "kernel_config",
    "kernel_symbols",
    "parse_kallsyms",
    "relocate_ksym",
]


class LoadError(ELFError):
    """The object cannot be loaded on this kernel for a loader-level reason (libbpf's -EINVAL)."""


#: libbpf's POISON_CALL_KFUNC_BASE: a weak kfunc missing from the kernel becomes a call
#: to helper ``POISON_CALL_KFUNC_BASE + extern index`` (an error only if it is reached).
POISON_CALL_KFUNC_BASE = 2002000000


def relocate_ksym(
    p: ProgramSpec,
    code: bytearray,
    off: int,
    kind: RelocKind,
    name: str,
    spec: CollectionSpec,
    vmlinux: btflib.Spec,
    symbols: Callable[[], Mapping[str, int | None]] = dict,
) -> None:
    """Resolve a ``__ksym`` extern: kfunc call, kfunc address or kernel variable.

    Found in vmlinux BTF: the call gets ``BPF_PSEUDO_KFUNC_CALL`` + the FUNC id, an
    ``ld_imm64`` gets ``BPF_PSEUDO_BTF_ID`` + the FUNC or VAR id.  Missing and ``__weak``:
    a call is poisoned (libbpf ``poison_kfunc_call``), an address loads 0 (so
    ``bpf_ksym_exists()`` is false).  Missing and strong: a LoadError naming the extern.
    A variable declared without a type takes its address from ``symbols()`` (the kernel's
    kallsyms, see :func:`kernel_symbols`) as a plain 64-bit constant.
    """
    ext = spec.externs.get(name)
    if ext is not None and ext.typeless and kind is not RelocKind.KFUNC:
        _relocate_typeless(p, code, off, name, ext.weak, symbols())
        return
    is_func = kind is RelocKind.KFUNC or (ext is not None and ext.kind is ExternKind.KFUNC)
    try:
        sym = vmlinux.find(name, btflib.Func if is_func else btflib.Var)
    except KeyError:
        if ext is not None and ext.weak:
            if kind is RelocKind.KFUNC:
                index = list(spec.externs).index(name)
                struct.pack_into("<BBhi", code, off, 0x85, 0, 0, POISON_CALL_KFUNC_BASE + index)
            else:
                code[off + 1] &= 0x0F
                struct.pack_into("<i", code, off + 4, 0)
                struct.pack_into("<i", code, off + 12, 0)
            return
        what = "kfunc" if is_func else "ksym"
        raise LoadError(
            f"prog '{p.name}': extern ({what}) '{name}': not found in kernel BTF "
            "(declare it __weak and test bpf_ksym_exists() to make it optional)"
        ) from None
    btf_id = vmlinux.type_id(sym)
    if kind is RelocKind.KFUNC:
        code[off + 1] = (code[off + 1] & 0x0F) | (BPF_PSEUDO_KFUNC_CALL << 4)
        struct.pack_into("<i", code, off + 4, btf_id)
        struct.pack_into("<h", code, off + 2, 0)
    else:
        code[off + 1] = (code[off + 1] & 0x0F) | (BPF_PSEUDO_BTF_ID << 4)
        struct.pack_into("<i", code, off + 4, btf_id)
        struct.pack_into("<i", code, off + 12, 0)


def _relocate_typeless(p: ProgramSpec, code: bytearray, off: int, name: str, weak: bool,
                       table: Mapping[str, int | None]) -> None:  # fmt: skip
    """``ld_imm64`` of an untyped ``__ksym``: the symbol's address, 0 when weak and absent."""
    if name not in table and not weak:
        raise LoadError(
            f"prog '{p.name}': extern (ksym) '{name}': not found in the kernel's symbol table "
            "(/proc/kallsyms); declare it __weak to make it optional"
        )
    addr = table.get(name, 0)
    if addr is None:
        raise LoadError(
            f"prog '{p.name}': extern (ksym) '{name}': resolution is ambiguous (the kernel has "
            "several symbols of that name at different addresses)"
        )
    code[off + 1] &= 0x0F
    struct.pack_into("<I", code, off + 4, addr & 0xFFFF_FFFF)
    struct.pack_into("<I", code, off + 12, (addr >> 32) & 0xFFFF_FFFF)


def kernel_symbols(kernel: Kernel) -> dict[str, int | None]:
    """The target kernel's symbol addresses (name -> address; None where ambiguous).

    A kernel object may provide ``kallsyms()`` (the embedded kernel does); otherwise
    ``/proc/kallsyms`` is read like libbpf does: module symbols count by their bare name,
    a name listed at two different addresses is ambiguous.
    """
    provider = getattr(kernel, "kallsyms", None)
    if callable(provider):
        return dict(provider())
    try:
        text = Path("/proc/kallsyms").read_text(errors="replace")
    except OSError:
        return {}
    return parse_kallsyms(text)


def parse_kallsyms(text: str) -> dict[str, int | None]:
    """Parse kallsyms lines (``address type name [module]``)."""
    out: dict[str, int | None] = {}
    for line in text.splitlines():
        fields = line.split()
        if len(fields) < 3:
            continue
        try:
            addr = int(fields[0], 16)
        except ValueError:
            continue
        name = fields[2]
        if name in out and out[name] != addr:
            out[name] = None
        else:
            out[name] = addr
    return out


def kernel_config(kernel: Kernel) -> dict[str, str]:
    """The target kernel's configuration (``CONFIG_*`` -> value text).

    A kernel object may provide ``kconfig()`` (the embedded kernel does); otherwise the
    running kernel's ``/proc/config.gz`` or ``/boot/config-<release>`` is read, as libbpf does.
    """
    provider = getattr(kernel, "kconfig", None)
    if callable(provider):
        return dict(provider())
    import gzip
    import os

    text = ""
    try:
        text = gzip.decompress(Path("/proc/config.gz").read_bytes()).decode(errors="replace")
    except OSError:
        try:
            text = Path(f"/boot/config-{os.uname().release}").read_text(errors="replace")
        except OSError:
            text = ""
    out: dict[str, str] = {}
    for line in text.splitlines():
        if line.startswith("CONFIG_") and "=" in line:
            key, _, value = line.partition("=")
            out[key] = value
    return out


def kconfig_contents(spec: CollectionSpec, m: MapSpec, kernel: Kernel) -> bytes:
    """``.kconfig`` values: y=1, m=2, n=0, numbers, strings (libbpf ``bpf_object__read_kconfig_file``)."""
    config = kernel_config(kernel)
    buf = bytearray(m.contents or bytes(m.value_size))
    for ext in spec.externs.values():
        if ext.kind is not ExternKind.KCONFIG:
            continue
        raw = config.get(ext.name)
        if raw is None:
            if ext.name == "LINUX_KERNEL_VERSION":
                import os

                parts = [int(x) for x in os.uname().release.split("-")[0].split(".")[:3] if x.isdigit()]
                parts += [0] * (3 - len(parts))
                raw = str((parts[0] << 16) + (parts[1] << 8) + min(parts[2], 255))
            elif ext.weak:
                continue
            else:
                raise LoadError(f"extern (kcfg) '{ext.name}': value not found in the kernel config")
        if raw in ("y", "m", "n"):
            value = {"y": 1, "m": 2, "n": 0}[raw].to_bytes(ext.size or 1, "little")
        elif raw.startswith('"'):
            value = raw.strip('"').encode()[: max(ext.size - 1, 0)].ljust(ext.size, b"\0")
        else:
            try:
                number = int(raw, 0)
            except ValueError:
                raise LoadError(f"extern (kcfg) '{ext.name}': cannot parse value {raw!r}") from None
            value = (number & ((1 << (8 * ext.size)) - 1)).to_bytes(ext.size, "little")
        buf[ext.offset : ext.offset + ext.size] = value
    return bytes(buf)
