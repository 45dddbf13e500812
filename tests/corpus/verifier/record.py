"""Record the corpus' Linux verdicts: ``python3 tests/corpus/verifier/record.py`` (root, CAP_BPF).

Loads every case of ``cases.py`` on this machine's kernel through
:class:`structops.linux.LinuxKernel` with ``log_level=1`` and writes, per case, the
verdict, errno, failing instruction index and the log's last line (the rejection
message, or the "processed N insns" summary of an accepted program) to
``linux-6.18.json`` beside this file.  The same :func:`run_case` drives the embedded
replay and the real-kernel re-check, so both sides are measured the same way.
"""

from __future__ import annotations

import errno
import json
import platform
import re
import sys
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from cases import CASES, Case, render  # noqa: E402

from structops import btf  # noqa: E402
from structops.errors import BpfError  # noqa: E402
from structops.isa import assemble, encode  # noqa: E402
from structops.kernel.attrs import MapCreateAttr, ProgLoadAttr  # noqa: E402
from structops.uapi import Cmd, MapType, ProgType  # noqa: E402

DATA = HERE / "linux-6.18.json"
_INSN_LINE = re.compile(r"^(\d+): \(([0-9a-f]{2})\)")


def kernel_facts(k: Any) -> dict[str, int]:
    """Map fds and BTF offsets a case's placeholders need, created/resolved on ``k``."""
    spec = btf.parse(k.vmlinux_btf())
    tp = spec.find("tcp_sock", btf.Struct)
    snd_cwnd = next(m.bit_offset // 8 for m in tp.members if m.name == "snd_cwnd")
    map8 = k.bpf(Cmd.BPF_MAP_CREATE, MapCreateAttr(MapType.BPF_MAP_TYPE_ARRAY, 4, 8, 4))
    map16 = k.bpf(Cmd.BPF_MAP_CREATE, MapCreateAttr(MapType.BPF_MAP_TYPE_ARRAY, 4, 16, 4))
    return {"MAP8": map8, "MAP16": map16, "SND_CWND": snd_cwnd}


def _target(k: Any, case: Case) -> tuple[int, int]:
    spec = btf.parse(k.vmlinux_btf())
    st = spec.find(case.target[0], btf.Struct)
    return spec.type_id(st), [m.name for m in st.members].index(case.target[1])


def run_case(k: Any, case: Case, facts: dict[str, int]) -> dict[str, Any]:
    """Load ``case`` on ``k``; the outcome as a JSON-able record."""
    type_id, member = _target(k, case)
    log = bytearray(1 << 20)
    attr = ProgLoadAttr(
        ProgType.BPF_PROG_TYPE_STRUCT_OPS,
        encode(assemble(render(case, facts))),
        expected_attach_type=member,
        attach_btf_id=type_id,
        log_buf=log,
        log_level=1,
    )
    out: dict[str, Any] = {"item": case.item}
    code = _load(k, attr)
    if code == errno.ENOSPC:  # the log overflowed (long runs): the verdict's errno without a log
        attr.log_level, attr.log_buf = 0, None
        code = _load(k, attr)
        attr.log_buf = log
    if code:
        out.update(verdict="reject", errno=errno.errorcode.get(code, str(code)))
    else:
        out.update(verdict="accept", errno=None)
    text = bytes(log).split(b"\0", 1)[0].decode("utf-8", "replace")
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


if __name__ == "__main__":
    raise SystemExit(main())


def verified_insns(k: Any, case: Case, facts: dict[str, int]) -> int:
    """``bpf_prog_info.verified_insns`` of ``case`` loaded on ``k`` (the case must be accepted)."""
    import struct

    from structops.kernel.attrs import InfoAttr

    type_id, member = _target(k, case)
    code = encode(assemble(render(case, facts)))
    attr = ProgLoadAttr(ProgType.BPF_PROG_TYPE_STRUCT_OPS, code, expected_attach_type=member, attach_btf_id=type_id)
    fd = k.bpf(Cmd.BPF_PROG_LOAD, attr)
    try:
        info = InfoAttr(fd, bytearray(232))
        k.bpf(Cmd.BPF_OBJ_GET_INFO_BY_FD, info)
        return int(struct.unpack_from("<I", bytes(info.info), 216)[0])
    finally:
        k.close(fd)
