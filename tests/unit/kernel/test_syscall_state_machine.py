"""Hypothesis state machine over bpf() syscalls of the embedded kernel (S1-S6, F1, K*, KU*, KD*, T5).

Random sequences of BTF/map/prog/link commands with valid and invalid attributes: every
failure must be a BpfError (OSError with an errno), and after each step the kernel must be
consistent — map states legal for their kind, references positive, and the set of BPF
congestion controls in ``tcp_available_congestion_control`` exactly the names of the
registered maps (INUSE non-link maps and maps held by live links).  At the end, after
unregistering and closing everything, no object is left.
"""

from __future__ import annotations

import struct

import test_linux_scenarios as S
from hypothesis import strategies as st
from hypothesis.stateful import Bundle, RuleBasedStateMachine, consumes, invariant, rule

from structops.errors import BpfError
from structops.kernel import attrs as A
from structops.kernel.emulated import EmulatedKernel
from structops.kernel.struct_ops import StructOpsLink, StructOpsMap
from structops.uapi import Cmd, StructOpsState

NAMES = ["fz_a", "fz_b", "cubic", "", "bad-name"]
OPS = ["ssthresh", "cong_avoid", "undo_cwnd", "init", "name", "get_info"]


class SyscallMachine(RuleBasedStateMachine):
    btfs = Bundle("btfs")
    maps = Bundle("maps")
    progs = Bundle("progs")
    links = Bundle("links")

    def __init__(self) -> None:
        super().__init__()
        self.k = EmulatedKernel()
        self.env = S.resolve_env(self.k.vmlinux_btf())
        self.open_fds: set[int] = set()

    def _call(self, cmd: Cmd, attr: A.Attr) -> int | None:
        try:
            return self.k.bpf(cmd, attr)
        except BpfError as exc:
            assert exc.errno, exc
            return None

    @rule(target=btfs, empty=st.booleans())
    def load_btf(self, empty: bool) -> int:
        fd = self._call(Cmd.BPF_BTF_LOAD, A.BtfLoadAttr(btf=S.empty_btf() if empty else S.minimal_btf()))
        if fd is None:
            return -1
        self.open_fds.add(fd)
        return fd

    @rule(target=maps, btf=btfs, link=st.booleans(), bad=st.sampled_from(["", "key", "size", "type"]))
    def create_map(self, btf: int, link: bool, bad: str) -> int:
        e = self.env
        attr = A.MapCreateAttr(
            26,
            8 if bad == "key" else 4,
            e.tcp_value.size - (8 if bad == "size" else 0),
            1,
            map_flags=8192 if link else 0,
            btf_fd=btf if btf > 0 else 0,
            btf_vmlinux_value_type_id=e.tcp_ops.type_id if bad == "type" else e.tcp_value.type_id,
        )
        fd = self._call(Cmd.BPF_MAP_CREATE, attr)
        if fd is None:
            return -1
        self.open_fds.add(fd)
        return fd

    @rule(target=progs, member=st.sampled_from(OPS), kind=st.sampled_from(["ssthresh", "cong_avoid", "undo", "exit"]))
    def load_prog(self, member: str, kind: str) -> int:
        code = {
            "ssthresh": S.prog_ssthresh(self.env),
            "cong_avoid": S.prog_cong_avoid(self.env),
            "undo": S.prog_undo_cwnd(self.env),
            "exit": S.prog_bare_exit(),
        }[kind]
        attr = A.ProgLoadAttr(
            27, code, expected_attach_type=self.env.tcp_ops.index(member), attach_btf_id=self.env.tcp_ops.type_id
        )
        fd = self._call(Cmd.BPF_PROG_LOAD, attr)
        if fd is None:
            return -1
        self.open_fds.add(fd)
        return fd

    @rule(
        m=maps,
        ssthresh=progs,
        cong_avoid=progs,
        undo=progs,
        name=st.sampled_from(NAMES),
        poke=st.one_of(st.none(), st.integers(0, 255)),
        key=st.sampled_from([0, 0, 0, 1]),
    )
    def update(self, m: int, ssthresh: int, cong_avoid: int, undo: int, name: str, poke: int | None, key: int) -> None:
        slots = {"ssthresh": max(ssthresh, 0), "cong_avoid": max(cong_avoid, 0), "undo_cwnd": max(undo, 0)}
        value = bytearray(S.tcp_value(self.env, "", slots))
        off = self.env.tcp_data + self.env.tcp_ops.offset("name")
        raw = name.encode()
        value[off : off + len(raw)] = raw
        if poke is not None:
            value[poke] ^= 0x5A
        self._call(Cmd.BPF_MAP_UPDATE_ELEM, A.MapElemAttr(max(m, 0), key=struct.pack("<I", key), value=bytes(value)))

    @rule(m=maps)
    def delete(self, m: int) -> None:
        self._call(Cmd.BPF_MAP_DELETE_ELEM, A.MapElemAttr(max(m, 0), key=bytes(4)))

    @rule(target=links, m=maps)
    def link_create(self, m: int) -> int:
        fd = self._call(Cmd.BPF_LINK_CREATE, A.LinkCreateAttr.struct_ops(max(m, 0)))
        if fd is None:
            return -1
        self.open_fds.add(fd)
        return fd

    @rule(link=links, new=maps, old=maps, replace=st.booleans())
    def link_update(self, link: int, new: int, old: int, replace: bool) -> None:
        attr = A.LinkUpdateAttr(max(link, 0), new_fd=max(new, 0), flags=4 if replace else 0, old_fd=max(old, 0))
        self._call(Cmd.BPF_LINK_UPDATE, attr)

    @rule(link=links)
    def link_detach(self, link: int) -> None:
        self._call(Cmd.BPF_LINK_DETACH, A.LinkDetachAttr(max(link, 0)))

    @rule(fd=st.one_of(consumes(maps), consumes(progs), consumes(links), consumes(btfs)))
    def close(self, fd: int) -> None:
        if fd in self.open_fds:
            self.open_fds.discard(fd)
            self.k.close(fd)

    @rule(cmd=st.integers(0, 40), fd=st.integers(-1, 20), blob=st.binary(max_size=64), flags=st.integers(0, 2**32 - 1))
    def garbage(self, cmd: int, fd: int, blob: bytes, flags: int) -> None:
        """Random commands with random attrs only ever fail with an errno."""
        candidates: list[A.Attr] = [
            A.MapElemAttr(fd, key=blob or None, value=bytearray(blob), flags=flags),
            A.MapCreateAttr(cmd, fd & 0xFF, len(blob), flags & 0xF, map_flags=flags & 0xFFFF),
            A.LinkUpdateAttr(fd, new_fd=fd, flags=flags & 0xF, old_fd=fd),
            A.ProgLoadAttr(cmd, blob[: len(blob) // 8 * 8] or b"\x95" + bytes(7), expected_attach_type=flags & 0x1F),
            A.BtfLoadAttr(btf=blob),
            A.TestRunAttr(fd, ctx_in=blob or None),
        ]
        for attr in candidates:
            before = set(self.k.root.fds.fds())
            ret = self._call(Cmd(cmd) if cmd in Cmd._value2member_map_ else cmd, attr)  # type: ignore[arg-type]
            created = set(self.k.root.fds.fds()) - before
            if ret is not None and ret > 0 and ret in created:
                self.k.close(ret)

    @invariant()
    def consistent(self) -> None:
        registered: set[str] = set()
        for obj in self.k.ids["map"]:
            assert obj.refcnt >= 1 and obj.usercnt >= 0
            if isinstance(obj, StructOpsMap):
                state = obj.state
                if obj.is_link_map:
                    assert state in (
                        StructOpsState.BPF_STRUCT_OPS_STATE_INIT,
                        StructOpsState.BPF_STRUCT_OPS_STATE_READY,
                    )
                else:
                    assert state != StructOpsState.BPF_STRUCT_OPS_STATE_READY
                    if state == StructOpsState.BPF_STRUCT_OPS_STATE_INUSE:
                        registered.add(obj.kdata.read_str("name"))
        for link in self.k.ids["link"]:
            assert isinstance(link, StructOpsLink)
            if link.map is not None:
                registered.add(link.map.kdata.read_str("name"))
        bpf_ccs = {e.name for e in self.k.tcp_congestion.entries if e.is_bpf}
        assert bpf_ccs == registered

    def teardown(self) -> None:
        for m in list(self.k.ids["map"]):
            if isinstance(m, StructOpsMap) and m.state == StructOpsState.BPF_STRUCT_OPS_STATE_INUSE:
                fd = self.k.bpf(Cmd.BPF_MAP_GET_FD_BY_ID, A.GetIdAttr(id=m.id))
                self.k.bpf(Cmd.BPF_MAP_DELETE_ELEM, A.MapElemAttr(fd, key=bytes(4)))
                self.k.close(fd)
        self.k.root.exit()
        live = self.k.live_objects()
        assert live == {"map": [], "prog": [], "link": [], "btf": [1]}, live
        assert self.k.tramp_pages == 0
        assert [e.name for e in self.k.tcp_congestion.entries] == ["reno", "bbr", "cubic"]


TestSyscallStateMachine = SyscallMachine.TestCase
TestSyscallStateMachine.settings = __import__("hypothesis").settings(
    max_examples=int(__import__("os").environ.get("STRUCTOPS_SM_EXAMPLES", "40")), stateful_step_count=30, deadline=None
)
