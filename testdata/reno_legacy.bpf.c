/* SPDX-License-Identifier: GPL-2.0 */
/* so_reno: Reno through kfuncs, legacy registration by map update (.struct_ops). */
#include "reno_common.h"

SEC(".struct_ops")
struct tcp_congestion_ops so_reno = SO_RENO_OPS;
