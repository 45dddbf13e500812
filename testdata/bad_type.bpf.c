/* SPDX-License-Identifier: GPL-2.0 */
/* Broken on purpose: a struct_ops map whose struct type no kernel offers. */
#include "vmlinux.h"
#include "so_bpf.h"

char _license[] SEC("license") = "GPL";

struct nonexistent_ops {
	int (*do_thing)(int value);
	int knob;
};

SEC("struct_ops/do_thing")
SO_OPS(int, nx_do_thing, (int, value))
{
	return value * 3;
}

SEC(".struct_ops")
struct nonexistent_ops nx_ops = {
	.do_thing = (void *)nx_do_thing,
};
