"""The bpf() ABI layouts of Linux 6.18 as tables: ``union bpf_attr`` groups and ``bpf_*_info``.

Pure data (see :mod:`structops.abi.layout` for the table syntax).  Each ``union bpf_attr``
group's size is the offset just past the last field 6.18 defines for the command, where
the kernel's "unused attr bytes must be zero" check begins (C1, U0a); the whole union is
``BPF_ATTR_SIZE`` = 168 bytes (kernel-6.18-observed §5).  Field names are the kernel's,
except where one slot of a C union is named by its most general member (``id`` for
``start_id``/``map_id``..., ``new_fd``/``old_fd`` for ``new_map_fd``/``new_prog_fd``...).
Info struct sizes: bpf_map_info 104, bpf_prog_info 232, bpf_link_info 64 (the part this
project reads), bpf_btf_info 32.
"""

from __future__ import annotations

from structops.abi.layout import Layout

__all__ = [
    "BTF_INFO",
    "BTF_LOAD",
    "ENABLE_STATS",
    "GET_ID",
    "LINK_CREATE",
    "LINK_DETACH",
    "LINK_INFO",
    "LINK_UPDATE",
    "MAP_CREATE",
    "MAP_ELEM",
    "MAP_FREEZE",
    "MAP_INFO",
    "OBJ_INFO",
    "OBJ_PIN",
    "PROG_ASSOC_STRUCT_OPS",
    "PROG_BIND_MAP",
    "PROG_INFO",
    "PROG_LOAD",
    "PROG_TEST_RUN",
]

# fmt: off
# ---------------------------------------------------------------------------------------
# union bpf_attr
# ---------------------------------------------------------------------------------------
MAP_CREATE = Layout.parse("bpf_attr.map_create", 96, """
    0    u32       map_type
    4    u32       key_size
    8    u32       value_size
    12   u32       max_entries
    16   u32       map_flags
    20   u32       inner_map_fd
    24   u32       numa_node
    28   char[16]  map_name
    44   u32       map_ifindex
    48   u32       btf_fd
    52   u32       btf_key_type_id
    56   u32       btf_value_type_id
    60   u32       btf_vmlinux_value_type_id
    64   u64       map_extra
    72   s32       value_type_btf_obj_fd
    76   s32       map_token_fd
    """)

# LOOKUP / UPDATE / DELETE / GET_NEXT_KEY: ``value`` shares its slot with ``next_key``.
MAP_ELEM = Layout.parse("bpf_attr.map_elem", 32, """
    0    u32       map_fd
    8    ptr:in    key
    16   ptr:in    value
    24   u64       flags
    """)

MAP_FREEZE = Layout.parse("bpf_attr.map_freeze", 4, "0 u32 map_fd")

PROG_LOAD = Layout.parse("bpf_attr.prog_load", 168, """
    0    u32       prog_type
    4    u32       insn_cnt
    8    ptr:in    insns                 count=insn_cnt/8
    16   ptr:str   license
    24   u32       log_level
    28   u32       log_size
    32   ptr:out   log_buf               count=log_size
    40   u32       kern_version
    44   u32       prog_flags
    48   char[16]  prog_name
    64   u32       prog_ifindex
    68   u32       expected_attach_type
    72   u32       prog_btf_fd
    76   u32       func_info_rec_size
    80   ptr:in    func_info             count=func_info_cnt/func_info_rec_size
    88   u32       func_info_cnt
    92   u32       line_info_rec_size
    96   ptr:in    line_info             count=line_info_cnt/line_info_rec_size
    104  u32       line_info_cnt
    108  u32       attach_btf_id
    112  u32       attach_btf_obj_fd
    120  ptr:in    fd_array
    140  u32       log_true_size         written
    144  s32       prog_token_fd
    148  u32       fd_array_cnt
    """)

OBJ_PIN = Layout.parse("bpf_attr.obj_pin", 20, """
    0    ptr:str   pathname
    8    u32       bpf_fd
    12   u32       file_flags
    16   s32       path_fd
    """)

PROG_TEST_RUN = Layout.parse("bpf_attr.test", 76, """
    0    u32       prog_fd
    4    u32       retval                written
    8    u32       data_size_in
    12   u32       data_size_out         written
    16   ptr:in    data_in               count=data_size_in
    24   ptr:out   data_out              count=data_size_out
    32   u32       repeat
    36   u32       duration              written
    40   u32       ctx_size_in
    44   u32       ctx_size_out          written
    48   ptr:in    ctx_in                count=ctx_size_in
    56   ptr:out   ctx_out               count=ctx_size_out
    64   u32       flags
    68   u32       cpu
    72   u32       batch_size
    """)

# *_GET_NEXT_ID (``id`` = start_id) and *_GET_FD_BY_ID (``id`` = prog_id / map_id ...).
GET_ID = Layout.parse("bpf_attr.get_id", 16, """
    0    u32       id
    4    u32       next_id               written
    8    u32       open_flags
    12   s32       token_fd
    """)

OBJ_INFO = Layout.parse("bpf_attr.info", 16, """
    0    u32       bpf_fd
    4    u32       info_len              written
    8    ptr:out   info                  count=info_len
    """)

BTF_LOAD = Layout.parse("bpf_attr.btf_load", 40, """
    0    ptr:in    btf                   count=btf_size
    8    ptr:out   btf_log_buf           count=btf_log_size
    16   u32       btf_size
    20   u32       btf_log_size
    24   u32       btf_log_level
    28   u32       btf_log_true_size     written
    32   u32       btf_flags
    36   s32       btf_token_fd
    """)

# ``prog_fd`` shares its slot with ``map_fd`` (struct_ops links pass the map there).
LINK_CREATE = Layout.parse("bpf_attr.link_create", 64, """
    0    u32       prog_fd
    4    u32       target_fd
    8    u32       attach_type
    12   u32       flags
    16   u32       target_btf_id
    """)

LINK_UPDATE = Layout.parse("bpf_attr.link_update", 16, """
    0    u32       link_fd
    4    u32       new_fd
    8    u32       flags
    12   u32       old_fd
    """)

LINK_DETACH = Layout.parse("bpf_attr.link_detach", 4, "0 u32 link_fd")

ENABLE_STATS = Layout.parse("bpf_attr.enable_stats", 4, "0 u32 type")

PROG_BIND_MAP = Layout.parse("bpf_attr.prog_bind_map", 12, """
    0    u32       prog_fd
    4    u32       map_fd
    8    u32       flags
    """)

# Newest trees only (spec 1.5, A1-A5); 6.18 does not know the command.
PROG_ASSOC_STRUCT_OPS = Layout.parse("bpf_attr.prog_assoc_struct_ops", 12, """
    0    u32       map_fd
    4    u32       prog_fd
    8    u32       flags
    """)

# ---------------------------------------------------------------------------------------
# BPF_OBJ_GET_INFO_BY_FD structs
# ---------------------------------------------------------------------------------------
MAP_INFO = Layout.parse("bpf_map_info", 104, """
    0    u32       type
    4    u32       id
    8    u32       key_size
    12   u32       value_size
    16   u32       max_entries
    20   u32       map_flags
    24   char[16]  name
    40   u32       ifindex
    44   u32       btf_vmlinux_value_type_id
    48   u64       netns_dev
    56   u64       netns_ino
    64   u32       btf_id
    68   u32       btf_key_type_id
    72   u32       btf_value_type_id
    76   u32       btf_vmlinux_id
    80   u64       map_extra
    88   u64       hash
    96   u32       hash_size
    """)

PROG_INFO = Layout.parse("bpf_prog_info", 232, """
    0    u32       type
    4    u32       id
    8    u8[8]     tag
    16   u32       jited_prog_len
    20   u32       xlated_prog_len
    24   ptr       jited_prog_insns
    32   ptr       xlated_prog_insns
    40   u64       load_time
    48   u32       created_by_uid
    52   u32       nr_map_ids
    56   ptr       map_ids
    64   char[16]  name
    80   u32       ifindex
    84   u32       gpl_compatible        bits=1
    88   u64       netns_dev
    96   u64       netns_ino
    104  u32       nr_jited_ksyms
    108  u32       nr_jited_func_lens
    112  ptr       jited_ksyms
    120  ptr       jited_func_lens
    128  u32       btf_id
    132  u32       func_info_rec_size
    136  ptr       func_info
    144  u32       nr_func_info
    148  u32       nr_line_info
    152  ptr       line_info
    160  ptr       jited_line_info
    168  u32       nr_jited_line_info
    172  u32       line_info_rec_size
    176  u32       jited_line_info_rec_size
    180  u32       nr_prog_tags
    184  ptr       prog_tags
    192  u64       run_time_ns
    200  u64       run_cnt
    208  u64       recursion_misses
    216  u32       verified_insns
    220  u32       attach_btf_obj_id
    224  u32       attach_btf_id
    """)

# The common head and the struct_ops member of the union (K8).
LINK_INFO = Layout.parse("bpf_link_info", 64, """
    0    u32       type
    4    u32       id
    8    u32       prog_id
    16   u32       map_id                # struct_ops.map_id
    """)

BTF_INFO = Layout.parse("bpf_btf_info", 32, """
    0    ptr       btf
    8    u32       btf_size
    12   u32       id
    16   ptr       name
    24   u32       name_len
    28   u32       kernel_btf
    """)
# fmt: on
