/* SPDX-License-Identifier: GPL-2.0 */
/* About 40,000 instructions: a successful load with log_level 1 writes a long log, which
 * must never fail the load with ENOSPC (the loader grows the buffer). */
#include "lo_common.h"

__u64 big_acc = 0;

SEC("socket")
int lo_big(struct __sk_buff *skb)
{
	__u64 a = skb->len;

#pragma clang loop unroll(full)
	for (int i = 0; i < 10000; i++) {
		a = a * 3 + i;
		a ^= a >> 7;
	}
	big_acc = a;
	return 0;
}
