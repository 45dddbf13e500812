"""Record the corpus' Linux verdicts: ``python3 tests/corpus/verifier/record.py`` (root, CAP_BPF).

Loads every case of ``cases.py`` on this machine's kernel through
:class:`structops.linux.LinuxKernel` with ``log_level=1`` and writes, per case, the
verdict, errno, failing instruction index and the log's last line (the rejection
message, or the "processed N insns" summary of an accepted program) to
``linux-6.18.json`` beside this file.  The same :func:`run_case` drives the embedded
replay and the real-kernel re-check, so both sides are measured the same way.

Unprivileged cases (``Case.priv`` false) run in a loader without any capability: on the
embedded kernel a process with no capabilities (``unprivileged_bpf_disabled`` 0 for the
load); on Linux a forked child that drops to uid/gid 65534 (which clears every capability)
while ``kernel.unprivileged_bpf_disabled`` is 0; the sysctl's value is put back afterwards
(only 0 and 2 are ever written: 1 cannot be undone without a reboot).  The child creates
its own maps and reports the outcome through a pipe.
"""

from __future__ import annotations

import errno
import json
import os
import platform
import re
import struct
import sys
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from cases import CASES, Case, render  # noqa: E402
from cases_locks import lock_facts  # noqa: E402
from cases_trust import trust_facts  # noqa: E402

from structops import btf  # noqa: E402
from structops.errors import BpfError  # noqa: E402
from structops.isa import assemble, encode  # noqa: E402
from structops.kernel.attrs import MapCreateAttr, ProgLoadAttr  # noqa: E402
from structops.uapi import Cmd, MapType, ProgType  # noqa: E402

DATA = HERE / "linux-6.18.json"
_INSN_LINE = re.compile(r"^(\d+): \(([0-9a-f]{2})\)")
_SYSCTL = Path("/proc/sys/kernel/unprivileged_bpf_disabled")
#: ``Case.ptype`` -> program type.
PTYPES = {
    "struct_ops": ProgType.BPF_PROG_TYPE_STRUCT_OPS,
    "socket": ProgType.BPF_PROG_TYPE_SOCKET_FILTER,
    "tc": ProgType.BPF_PROG_TYPE_SCHED_CLS,
    "act": ProgType.BPF_PROG_TYPE_SCHED_ACT,
    "xdp": ProgType.BPF_PROG_TYPE_XDP,
    "tracepoint": ProgType.BPF_PROG_TYPE_TRACEPOINT,
}
#: ``.insn CODE REGS OFF IMM`` lines (raw slots the assembler cannot spell) become this
#: marker instruction (``mov %r0, MARK+n``), patched after encoding.
_MARK = 0x5EAD0000


def map_facts(k: Any) -> dict[str, int]:
    """The maps a case's placeholders name, created on ``k`` (any loader may create them)."""
    out = {}
    for name, mtype, vsize in (
        ("MAP8", MapType.BPF_MAP_TYPE_ARRAY, 8),
        ("MAP16", MapType.BPF_MAP_TYPE_ARRAY, 16),
        ("HASH8", MapType.BPF_MAP_TYPE_HASH, 8),
    ):
        out[name] = k.bpf(Cmd.BPF_MAP_CREATE, MapCreateAttr(mtype, 4, vsize, 4))
    return out


def kernel_facts(k: Any) -> dict[str, int]:
    """Map fds and BTF offsets a case's placeholders need, created/resolved on ``k``."""
    spec = btf.parse(k.vmlinux_btf())
    tp = spec.find("tcp_sock", btf.Struct)
    snd_cwnd = next(m.bit_offset // 8 for m in tp.members if m.name == "snd_cwnd")
    return {**map_facts(k), **lock_facts(k), **trust_facts(k), "SND_CWND": snd_cwnd}


def program(case: Case, facts: dict[str, int]) -> bytes:
    """The case's instruction bytes (assembly with fds filled in, ``.insn`` slots patched)."""
    raw: list[bytes] = []
    lines = []
    for line in render(case, facts).splitlines():
        if line.strip().startswith(".insn"):
            code, regs, off, imm = (int(x, 0) for x in line.split()[1:])
            lines.append(f"mov %r0, {_MARK + len(raw)}")
            raw.append(struct.pack("<BBhi", code, regs, off, imm))
        else:
            lines.append(line)
    out = bytearray(encode(assemble("\n".join(lines))))
    for n, slot in enumerate(raw):
        at = out.find(struct.pack("<BBhi", 0xB7, 0, 0, _MARK + n))
        out[at : at + 8] = slot
    return bytes(out)


def _attr(k: Any, case: Case, facts: dict[str, int], log: bytearray | None) -> ProgLoadAttr:
    ptype = PTYPES[case.ptype]
    member = type_id = 0
    if case.target is not None:
        spec = btf.parse(k.vmlinux_btf())
        st = spec.find(case.target[0], btf.Struct)
        type_id, member = spec.type_id(st), [m.name for m in st.members].index(case.target[1])
    return ProgLoadAttr(
        ptype,
        program(case, facts),
        expected_attach_type=member,
        attach_btf_id=type_id,
        log_buf=log,
        log_level=1 if log is not None else 0,
    )


def outcome(code: int, text: str) -> dict[str, Any]:
    """The record of a load that ended with ``code`` (0: accepted) and log ``text``."""
    out: dict[str, Any] = {}
    if code:
        out.update(verdict="reject", errno=errno.errorcode.get(code, str(code)))
    else:
        out.update(verdict="accept", errno=None)
    lines = [line for line in text.splitlines() if line.strip()]
    insn = None
    for line in lines:
        m = _INSN_LINE.match(line)
        if m:
            insn = int(m.group(1))
    out["insn"] = insn if out["verdict"] == "reject" else None
    if out["verdict"] == "reject":
        body = [line for line in lines if not line.startswith("processed ")]
        loop = [line for line in body if line.startswith("infinite loop detected")]
        out["message"] = loop[-1] if loop else body[-1] if body else ""  # state dumps follow it
    else:
        out["message"] = next((line for line in reversed(lines) if line.startswith("processed ")), "")
    return out


def _load_asm(k: Any, case: Case, facts: dict[str, int]) -> dict[str, Any]:
    log = bytearray(1 << 20)
    attr = _attr(k, case, facts, log)
    code = _load(k, attr)
    if code == errno.ENOSPC:  # the log overflowed (long runs): the verdict's errno without a log
        attr.log_level, attr.log_buf = 0, None
        code = _load(k, attr)
    return outcome(code, bytes(log).split(b"\0", 1)[0].decode("utf-8", "replace"))


def _load_obj(k: Any, case: Case) -> dict[str, Any]:
    """A C case: its committed object loaded with the project's loader (log level 1)."""
    from structops.api import Collection
    from structops.errors import VerifierError

    assert case.obj is not None
    c = Collection.open(HERE / case.obj)
    try:
        c.load(k, log_level=1)
    except VerifierError as exc:
        return outcome(exc.errno or -1, exc.log or "")
    except BpfError as exc:
        return outcome(exc.errno or -1, "")
    c.close()
    return outcome(0, "")


def run_case(k: Any, case: Case, facts: dict[str, int]) -> dict[str, Any]:
    """Load ``case`` on ``k`` (as an unprivileged loader when ``case.priv`` is false)."""
    if not case.priv:
        out = _run_unpriv(k, case, facts)
    elif case.obj is not None:
        out = _load_obj(k, case)
    else:
        out = _load_asm(k, case, facts)
    return {"item": case.item, **out}


_UNPRIV: dict[int, tuple[Any, Any, dict[str, int]]] = {}


def _as_unpriv(k: Any, facts: dict[str, int], fn: Any) -> Any:
    """``fn(process, facts)`` in the embedded kernel's process without capabilities."""
    entry = _UNPRIV.get(id(k))
    saved = k.unprivileged_bpf_disabled
    k.unprivileged_bpf_disabled = 0
    try:
        if entry is None or entry[0] is not k:
            proc = k.process(frozenset())
            entry = (k, proc, {**facts, **map_facts(proc)})
            _UNPRIV[id(k)] = entry
        return fn(entry[1], entry[2])
    finally:
        k.unprivileged_bpf_disabled = saved


def _run_unpriv(k: Any, case: Case, facts: dict[str, int]) -> dict[str, Any]:
    if hasattr(k, "process"):  # the embedded kernel: a process without capabilities
        return dict(_as_unpriv(k, facts, lambda proc, f: _load_asm(proc, case, f)))
    return _linux_unpriv(k, case, facts)


def _linux_unpriv(k: Any, case: Case, facts: dict[str, int]) -> dict[str, Any]:
    """Load ``case`` on Linux from a forked child without capabilities."""
    saved = _SYSCTL.read_text().strip()
    if saved not in ("0", "2"):
        return {"verdict": "skipped", "errno": None, "insn": None, "message": f"unprivileged_bpf_disabled={saved}"}
    _SYSCTL.write_text("0")
    try:
        rfd, wfd = os.pipe()
        pid = os.fork()
        if pid == 0:  # pragma: no cover - child
            os.close(rfd)
            try:
                os.setgroups([])
                os.setresgid(65534, 65534, 65534)
                os.setresuid(65534, 65534, 65534)
                res = _load_asm(k, case, {**facts, **map_facts(k)})
            except BaseException as exc:  # report anything to the parent
                res = {"verdict": "error", "errno": None, "insn": None, "message": repr(exc)}
            os.write(wfd, json.dumps(res).encode())
            os._exit(0)
        os.close(wfd)
        data = b""
        while chunk := os.read(rfd, 1 << 16):
            data += chunk
        os.close(rfd)
        os.waitpid(pid, 0)
        return dict(json.loads(data))
    finally:
        _SYSCTL.write_text(saved)


def _load(k: Any, attr: ProgLoadAttr) -> int:
    """PROG_LOAD; 0 when accepted (the fd is closed), else the errno."""
    try:
        fd = k.bpf(Cmd.BPF_PROG_LOAD, attr)
    except BpfError as exc:
        return exc.errno or -1
    k.close(fd)
    return 0


def main() -> int:
    from structops.linux import LinuxKernel

    k = LinuxKernel()
    facts = kernel_facts(k)
    results = {case.name: run_case(k, case, facts) for case in CASES}
    doc = {"kernel": platform.release(), "cases": results}
    DATA.write_text(json.dumps(doc, indent=1, sort_keys=True) + "\n")
    accepted = sum(r["verdict"] == "accept" for r in results.values())
    print(f"{len(results)} cases recorded from Linux {platform.release()}: {accepted} accepted -> {DATA}")
    return 0


def verified_insns(k: Any, case: Case, facts: dict[str, int]) -> int:
    """``bpf_prog_info.verified_insns`` of ``case`` loaded on ``k`` (the case must be accepted;
    an unprivileged case is loaded by the embedded kernel's process without capabilities)."""
    from structops.kernel.attrs import InfoAttr

    if not case.priv and hasattr(k, "process"):
        return int(_as_unpriv(k, facts, lambda proc, f: verified_insns(proc, _privileged(case), f)))

    fd = k.bpf(Cmd.BPF_PROG_LOAD, _attr(k, case, facts, None))
    try:
        info = InfoAttr(fd, bytearray(232))
        k.bpf(Cmd.BPF_OBJ_GET_INFO_BY_FD, info)
        return int(struct.unpack_from("<I", bytes(info.info), 216)[0])
    finally:
        k.close(fd)


def _privileged(case: Case) -> Case:
    from dataclasses import replace

    return replace(case, priv=True)


if __name__ == "__main__":
    raise SystemExit(main())
