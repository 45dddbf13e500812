"""The embedded kernel's helper registry: ids and names, prototypes, implementations (V16).

One table per kernel (:class:`HelperTable`): for each ``enum bpf_func_id`` value of
Linux 6.18 its name (logs: "program of this type cannot use helper bpf_xxx#N"), its
:class:`~structops.verifier.ops.HelperProto` (what the verifier checks) and its Python
implementation (what the VM runs), filled from the base tables below and by subsystems
(``tcp_sockopt``, ``sk_storage``, the callback helpers).  Which helpers a program may call
is its program type's / struct_ops subsystem's ``get_func_proto`` set
(:data:`BASE_HELPERS` is ``bpf_base_func_proto`` for a CAP_BPF + CAP_PERFMON loader,
measured on Linux 6.18).  The VM's helper registry mirrors the implementations.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace

from structops.verifier.ops import (
    ARG_ANY,
    ARG_CTX,
    ARG_KEY,
    ARG_MAP,
    ARG_SIZE,
    ARG_SZMEM,
    ARG_UVAL,
    ARG_VAL,
    ARG_WRMEM_OR_ZERO,
    RET_INT,
    RET_MAP_VALUE_OR_NULL,
    RET_TASK_BTF,
    RET_U32,
    RET_VOID,
    HelperProto,
)
from structops.vm.helpers import HelperFunc, HelperRegistry, HelperSpec, base_helpers

__all__ = ["BASE_HELPERS", "BASE_PROTOS", "GPL_ONLY", "HELPER_NAMES", "HelperDef", "HelperTable", "helper_id"]

#: ``enum bpf_func_id`` (id -> name), taken from the 6.18 BTF.
HELPER_NAMES: dict[int, str] = {
    0: "bpf_unspec",
    1: "bpf_map_lookup_elem",
    2: "bpf_map_update_elem",
    3: "bpf_map_delete_elem",
    4: "bpf_probe_read",
    5: "bpf_ktime_get_ns",
    6: "bpf_trace_printk",
    7: "bpf_get_prandom_u32",
    8: "bpf_get_smp_processor_id",
    9: "bpf_skb_store_bytes",
    10: "bpf_l3_csum_replace",
    11: "bpf_l4_csum_replace",
    12: "bpf_tail_call",
    13: "bpf_clone_redirect",
    14: "bpf_get_current_pid_tgid",
    15: "bpf_get_current_uid_gid",
    16: "bpf_get_current_comm",
    17: "bpf_get_cgroup_classid",
    18: "bpf_skb_vlan_push",
    19: "bpf_skb_vlan_pop",
    20: "bpf_skb_get_tunnel_key",
    21: "bpf_skb_set_tunnel_key",
    22: "bpf_perf_event_read",
    23: "bpf_redirect",
    24: "bpf_get_route_realm",
    25: "bpf_perf_event_output",
    26: "bpf_skb_load_bytes",
    27: "bpf_get_stackid",
    28: "bpf_csum_diff",
    29: "bpf_skb_get_tunnel_opt",
    30: "bpf_skb_set_tunnel_opt",
    31: "bpf_skb_change_proto",
    32: "bpf_skb_change_type",
    33: "bpf_skb_under_cgroup",
    34: "bpf_get_hash_recalc",
    35: "bpf_get_current_task",
    36: "bpf_probe_write_user",
    37: "bpf_current_task_under_cgroup",
    38: "bpf_skb_change_tail",
    39: "bpf_skb_pull_data",
    40: "bpf_csum_update",
    41: "bpf_set_hash_invalid",
    42: "bpf_get_numa_node_id",
    43: "bpf_skb_change_head",
    44: "bpf_xdp_adjust_head",
    45: "bpf_probe_read_str",
    46: "bpf_get_socket_cookie",
    47: "bpf_get_socket_uid",
    48: "bpf_set_hash",
    49: "bpf_setsockopt",
    50: "bpf_skb_adjust_room",
    51: "bpf_redirect_map",
    52: "bpf_sk_redirect_map",
    53: "bpf_sock_map_update",
    54: "bpf_xdp_adjust_meta",
    55: "bpf_perf_event_read_value",
    56: "bpf_perf_prog_read_value",
    57: "bpf_getsockopt",
    58: "bpf_override_return",
    59: "bpf_sock_ops_cb_flags_set",
    60: "bpf_msg_redirect_map",
    61: "bpf_msg_apply_bytes",
    62: "bpf_msg_cork_bytes",
    63: "bpf_msg_pull_data",
    64: "bpf_bind",
    65: "bpf_xdp_adjust_tail",
    66: "bpf_skb_get_xfrm_state",
    67: "bpf_get_stack",
    68: "bpf_skb_load_bytes_relative",
    69: "bpf_fib_lookup",
    70: "bpf_sock_hash_update",
    71: "bpf_msg_redirect_hash",
    72: "bpf_sk_redirect_hash",
    73: "bpf_lwt_push_encap",
    74: "bpf_lwt_seg6_store_bytes",
    75: "bpf_lwt_seg6_adjust_srh",
    76: "bpf_lwt_seg6_action",
    77: "bpf_rc_repeat",
    78: "bpf_rc_keydown",
    79: "bpf_skb_cgroup_id",
    80: "bpf_get_current_cgroup_id",
    81: "bpf_get_local_storage",
    82: "bpf_sk_select_reuseport",
    83: "bpf_skb_ancestor_cgroup_id",
    84: "bpf_sk_lookup_tcp",
    85: "bpf_sk_lookup_udp",
    86: "bpf_sk_release",
    87: "bpf_map_push_elem",
    88: "bpf_map_pop_elem",
    89: "bpf_map_peek_elem",
    90: "bpf_msg_push_data",
    91: "bpf_msg_pop_data",
    92: "bpf_rc_pointer_rel",
    93: "bpf_spin_lock",
    94: "bpf_spin_unlock",
    95: "bpf_sk_fullsock",
    96: "bpf_tcp_sock",
    97: "bpf_skb_ecn_set_ce",
    98: "bpf_get_listener_sock",
    99: "bpf_skc_lookup_tcp",
    100: "bpf_tcp_check_syncookie",
    101: "bpf_sysctl_get_name",
    102: "bpf_sysctl_get_current_value",
    103: "bpf_sysctl_get_new_value",
    104: "bpf_sysctl_set_new_value",
    105: "bpf_strtol",
    106: "bpf_strtoul",
    107: "bpf_sk_storage_get",
    108: "bpf_sk_storage_delete",
    109: "bpf_send_signal",
    110: "bpf_tcp_gen_syncookie",
    111: "bpf_skb_output",
    112: "bpf_probe_read_user",
    113: "bpf_probe_read_kernel",
    114: "bpf_probe_read_user_str",
    115: "bpf_probe_read_kernel_str",
    116: "bpf_tcp_send_ack",
    117: "bpf_send_signal_thread",
    118: "bpf_jiffies64",
    119: "bpf_read_branch_records",
    120: "bpf_get_ns_current_pid_tgid",
    121: "bpf_xdp_output",
    122: "bpf_get_netns_cookie",
    123: "bpf_get_current_ancestor_cgroup_id",
    124: "bpf_sk_assign",
    125: "bpf_ktime_get_boot_ns",
    126: "bpf_seq_printf",
    127: "bpf_seq_write",
    128: "bpf_sk_cgroup_id",
    129: "bpf_sk_ancestor_cgroup_id",
    130: "bpf_ringbuf_output",
    131: "bpf_ringbuf_reserve",
    132: "bpf_ringbuf_submit",
    133: "bpf_ringbuf_discard",
    134: "bpf_ringbuf_query",
    135: "bpf_csum_level",
    136: "bpf_skc_to_tcp6_sock",
    137: "bpf_skc_to_tcp_sock",
    138: "bpf_skc_to_tcp_timewait_sock",
    139: "bpf_skc_to_tcp_request_sock",
    140: "bpf_skc_to_udp6_sock",
    141: "bpf_get_task_stack",
    142: "bpf_load_hdr_opt",
    143: "bpf_store_hdr_opt",
    144: "bpf_reserve_hdr_opt",
    145: "bpf_inode_storage_get",
    146: "bpf_inode_storage_delete",
    147: "bpf_d_path",
    148: "bpf_copy_from_user",
    149: "bpf_snprintf_btf",
    150: "bpf_seq_printf_btf",
    151: "bpf_skb_cgroup_classid",
    152: "bpf_redirect_neigh",
    153: "bpf_per_cpu_ptr",
    154: "bpf_this_cpu_ptr",
    155: "bpf_redirect_peer",
    156: "bpf_task_storage_get",
    157: "bpf_task_storage_delete",
    158: "bpf_get_current_task_btf",
    159: "bpf_bprm_opts_set",
    160: "bpf_ktime_get_coarse_ns",
    161: "bpf_ima_inode_hash",
    162: "bpf_sock_from_file",
    163: "bpf_check_mtu",
    164: "bpf_for_each_map_elem",
    165: "bpf_snprintf",
    166: "bpf_sys_bpf",
    167: "bpf_btf_find_by_name_kind",
    168: "bpf_sys_close",
    169: "bpf_timer_init",
    170: "bpf_timer_set_callback",
    171: "bpf_timer_start",
    172: "bpf_timer_cancel",
    173: "bpf_get_func_ip",
    174: "bpf_get_attach_cookie",
    175: "bpf_task_pt_regs",
    176: "bpf_get_branch_snapshot",
    177: "bpf_trace_vprintk",
    178: "bpf_skc_to_unix_sock",
    179: "bpf_kallsyms_lookup_name",
    180: "bpf_find_vma",
    181: "bpf_loop",
    182: "bpf_strncmp",
    183: "bpf_get_func_arg",
    184: "bpf_get_func_ret",
    185: "bpf_get_func_arg_cnt",
    186: "bpf_get_retval",
    187: "bpf_set_retval",
    188: "bpf_xdp_get_buff_len",
    189: "bpf_xdp_load_bytes",
    190: "bpf_xdp_store_bytes",
    191: "bpf_copy_from_user_task",
    192: "bpf_skb_set_tstamp",
    193: "bpf_ima_file_hash",
    194: "bpf_kptr_xchg",
    195: "bpf_map_lookup_percpu_elem",
    196: "bpf_skc_to_mptcp_sock",
    197: "bpf_dynptr_from_mem",
    198: "bpf_ringbuf_reserve_dynptr",
    199: "bpf_ringbuf_submit_dynptr",
    200: "bpf_ringbuf_discard_dynptr",
    201: "bpf_dynptr_read",
    202: "bpf_dynptr_write",
    203: "bpf_dynptr_data",
    204: "bpf_tcp_raw_gen_syncookie_ipv4",
    205: "bpf_tcp_raw_gen_syncookie_ipv6",
    206: "bpf_tcp_raw_check_syncookie_ipv4",
    207: "bpf_tcp_raw_check_syncookie_ipv6",
    208: "bpf_ktime_get_tai_ns",
    209: "bpf_user_ringbuf_drain",
    210: "bpf_cgrp_storage_get",
    211: "bpf_cgrp_storage_delete",
}

_BY_NAME = {v: k for k, v in HELPER_NAMES.items()}


def helper_id(name: str) -> int:
    """Helper id by name (``bpf_map_lookup_elem`` -> 1); KeyError if unknown."""
    return _BY_NAME[name if name.startswith("bpf_") else "bpf_" + name]


#: ``bpf_base_func_proto`` for a CAP_BPF + CAP_PERFMON loader: the helpers a
#: tcp_congestion_ops ``release`` program may call on Linux 6.18 minus the tcp_ca extras
#: (sk_storage_get/delete, tcp_send_ack), measured by loading one call of every id 1..214
#: (T10); it is also a subset of the socket filter's measured set.
BASE_HELPERS = frozenset(
    {1, 2, 3, 5, 6, 7, 8, 12, 14, 15, 16, 17, 22, 35, 37, 42, 55, 80, 87, 88, 89, 93, 94, 105, 106}
    | {109, 112, 113, 114, 115, 117, 118, 120, 123, 125, 130, 131, 132, 133, 134, 141, 148, 149}
    | {153, 154, 156, 157, 158, 160, 164, 165, 169, 170, 171, 172, 175, 176, 177, 180, 181, 182, 191}
    | {194, 195, 197, 198, 199, 200, 201, 202, 203, 208, 209, 210, 211}
)

#: Prototypes of the helpers whose arguments the verifier models (``bpf_func_proto``).
BASE_PROTOS: dict[int, tuple[tuple[str, ...], str]] = {
    1: ((ARG_MAP, ARG_KEY), RET_MAP_VALUE_OR_NULL),  # map_lookup_elem
    2: ((ARG_MAP, ARG_KEY, ARG_VAL, ARG_ANY), RET_INT),  # map_update_elem
    3: ((ARG_MAP, ARG_KEY), RET_INT),  # map_delete_elem
    5: ((), RET_INT),  # ktime_get_ns
    6: ((ARG_SZMEM, ARG_SIZE), RET_INT),  # trace_printk (varargs r3-r5 not checked)
    7: ((), RET_INT),  # get_prandom_u32 (Linux 6.18: R0 an unknown 64-bit scalar, corpus linked_mov32_wide)
    8: ((), RET_U32),  # get_smp_processor_id
    14: ((), RET_INT),  # get_current_pid_tgid
    15: ((), RET_INT),  # get_current_uid_gid
    42: ((), RET_U32),  # get_numa_node_id
    158: ((), RET_TASK_BTF),  # get_current_task_btf: a trusted task_struct
    87: ((ARG_MAP, ARG_VAL, ARG_ANY), RET_INT),  # map_push_elem
    88: ((ARG_MAP, ARG_UVAL), RET_INT),  # map_pop_elem
    89: ((ARG_MAP, ARG_UVAL), RET_INT),  # map_peek_elem
    107: ((ARG_MAP, ARG_ANY, ARG_ANY, ARG_ANY), RET_MAP_VALUE_OR_NULL),  # sk_storage_get: R0 value of R1's map
    108: ((ARG_MAP, ARG_ANY), RET_INT),  # sk_storage_delete
    12: ((ARG_CTX, ARG_MAP, ARG_ANY), RET_VOID),  # tail_call(ctx, prog_array, index)
    113: ((ARG_WRMEM_OR_ZERO, ARG_SIZE, ARG_ANY), RET_INT),  # probe_read_kernel (dst, size, unsafe src)
    115: ((ARG_WRMEM_OR_ZERO, ARG_SIZE, ARG_ANY), RET_INT),  # probe_read_kernel_str
    118: ((), RET_INT),  # jiffies64
    195: ((ARG_MAP, ARG_KEY, ARG_ANY), RET_MAP_VALUE_OR_NULL),  # map_lookup_percpu_elem
    125: ((), RET_INT),  # ktime_get_boot_ns
    160: ((), RET_INT),  # ktime_get_coarse_ns
    208: ((), RET_INT),  # ktime_get_tai_ns
}


#: ``gpl_only`` helpers (measured: "cannot call GPL-restricted function from non-GPL
#: compatible program" for a "Proprietary" socket filter, tracepoint or tc program).
GPL_ONLY = frozenset(
    {4, 6, 22, 25, 27, 35, 45, 55, 67, 69, 100, 110, 112, 113, 114, 115, 158, 163, 165, 169, 170, 171, 172}
    | {173, 175, 176, 177, 191, 204, 205, 206, 207}
)


@dataclass(frozen=True)
class HelperDef:
    """One helper of the registry: prototype (verifier) and implementation (VM, with its
    program types and VM-side signature), None when the embedded kernel has none."""

    proto: HelperProto
    impl: HelperSpec | None = None

    @property
    def id(self) -> int:
        """``enum bpf_func_id`` value."""
        return self.proto.id

    @property
    def name(self) -> str:
        """``bpf_<name>``."""
        return self.proto.name

    @property
    def prog_types(self) -> frozenset[int] | None:
        """Program types the implementation serves (None: any)."""
        return self.impl.prog_types if self.impl is not None else None


class HelperTable:
    """The one helper registry of an embedded kernel (ids, names, prototypes, implementations).

    The VM registry given to :meth:`attach_vm` receives every implementation, now and as
    subsystems :meth:`implement` theirs; implementations the VM already had are adopted.
    """

    def __init__(self) -> None:
        self._defs: dict[int, HelperDef] = {}
        self._vm: HelperRegistry | None = None
        for hid, name in HELPER_NAMES.items():
            if hid:
                kinds = BASE_PROTOS.get(hid)
                gpl = hid in GPL_ONLY
                proto = (
                    HelperProto(hid, name, kinds[0], kinds[1], gpl) if kinds else HelperProto(hid, name, gpl_only=gpl)
                )
                self._defs[hid] = HelperDef(proto)
        self.add_impls(base_helpers())
        from structops.kernel.net_helpers import NET_PROTOS, net_helpers

        for hid, (args, ret) in NET_PROTOS.items():
            self.declare(hid, args, ret)
        self.add_impls(net_helpers())

    def declare(self, hid: int, args: tuple[str, ...], ret: str = RET_INT) -> HelperDef:
        """Give helper ``hid`` a modelled prototype (a subsystem's ``bpf_func_proto``)."""
        old = self._defs.get(hid)
        if old is None:
            raise ValueError(f"helper id {hid} is not in enum bpf_func_id")
        new = replace(old, proto=HelperProto(hid, old.name, args, ret, old.proto.gpl_only))
        self._defs[hid] = new
        return new

    def implement(self, spec: HelperSpec) -> HelperDef:
        """Give helper ``spec.id`` its VM implementation (mirrored into the attached VM)."""
        old = self._defs.get(spec.id)
        if old is None:
            raise ValueError(f"helper id {spec.id} is not in enum bpf_func_id")
        new = replace(old, impl=spec)
        self._defs[spec.id] = new
        if self._vm is not None:
            self._vm.register(spec, replace=True)
        return new

    def define(
        self,
        hid: int,
        *,
        args: tuple[str, ...] | None = None,
        ret: str = RET_INT,
        impl: HelperFunc | None = None,
        prog_types: frozenset[int] | None = None,
    ) -> HelperDef:
        """:meth:`declare` (when ``args`` is set) and/or :meth:`implement` with a bare function."""
        d = self.declare(hid, args, ret) if args is not None else self._defs.get(hid)
        if d is None:
            raise ValueError(f"helper id {hid} is not in enum bpf_func_id")
        if impl is not None:
            d = self.implement(HelperSpec(hid, d.name, impl, prog_types=prog_types))
        return d

    def add_impls(self, specs: Iterable[HelperSpec]) -> None:
        """Adopt VM implementations (``HelperSpec``) whose id has none yet."""
        for spec in specs:
            d = self._defs.get(spec.id)
            if d is not None and d.impl is None:
                self._defs[spec.id] = replace(d, impl=spec)

    def attach_vm(self, registry: HelperRegistry) -> None:
        """Mirror the implementations into the VM's ``registry`` (and adopt what it has)."""
        for h in registry.ids():
            spec = registry.get(h)
            d = self._defs.get(h)
            if spec is not None and d is not None:
                self._defs[h] = replace(d, impl=spec)  # the instance the VM runs
        self._vm = registry
        for d in self._defs.values():
            if d.impl is not None and d.id not in registry:
                registry.register(d.impl)

    def get(self, hid: int) -> HelperDef | None:
        """The helper ``hid`` or None."""
        return self._defs.get(hid)

    def proto(self, hid: int) -> HelperProto | None:
        """The prototype of ``hid`` (None: not a helper of Linux 6.18)."""
        d = self._defs.get(hid)
        return d.proto if d is not None else None

    def name(self, hid: int) -> str:
        """``bpf_<name>`` for logs, ``unknown`` for an id Linux 6.18 does not have."""
        d = self._defs.get(hid)
        return d.name if d is not None else "unknown"

    def implemented(self, hid: int) -> bool:
        """Whether the VM can run helper ``hid``."""
        d = self._defs.get(hid)
        return d is not None and d.impl is not None
