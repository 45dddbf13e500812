/* SPDX-License-Identifier: GPL-2.0 */
/* __arena globals (section .addr_space.1) in a BPF arena map: libbpf places them in the
 * arena, maps the arena into user space and copies their initial values there; the
 * program reaches them through address-space casts the compiler emits. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

char _license[] SEC("license") = "GPL";

#define __arena __attribute__((address_space(1)))

struct {
	__uint(type, BPF_MAP_TYPE_ARENA);
	__uint(map_flags, BPF_F_MMAPABLE);
	__uint(max_entries, 4); /* pages */
} arena SEC(".maps");

int __arena ar_counter = 5;
int __arena ar_seen[4] = { 1, 2, 3, 4 };

SEC("socket")
int arena_count(struct __sk_buff *skb)
{
	ar_counter += 1;
	ar_seen[ar_counter & 3] += 10;
	return ar_counter;
}
