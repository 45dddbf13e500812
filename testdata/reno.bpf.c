/* SPDX-License-Identifier: GPL-2.0 */
/* so_reno: Reno through kfuncs, registered through a bpf_link (.struct_ops.link). */
#include "reno_common.h"

SEC(".struct_ops.link")
struct tcp_congestion_ops so_reno = SO_RENO_OPS;
