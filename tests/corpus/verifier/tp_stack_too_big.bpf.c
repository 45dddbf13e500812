// Tracepoint: 400 bytes of stack in the program and 200 in a subprogram it calls
// (rejected: the combined stack of the two frames is over 512 bytes).
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

static __attribute__((noinline)) int callee(void *ctx)
{
	char b[200];

	bpf_probe_read_kernel(b, sizeof(b), ctx);
	return b[0] + b[199];
}

SEC("tracepoint/syscalls/sys_enter_write")
int stack_too_big(void *ctx)
{
	char a[400];

	bpf_probe_read_kernel(a, sizeof(a), ctx);
	return a[0] + a[399] + callee(ctx);
}

char LICENSE[] SEC("license") = "GPL";
