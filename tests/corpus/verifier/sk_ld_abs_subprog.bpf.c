// Socket filter: a legacy packet load (LD_ABS) in a static subprogram returning int
// (accepted: with BTF the subprogram may hold one; the verifier also explores the
// early return of 0 to the caller when the load is out of bounds).
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

unsigned long long load_half(void *skb, unsigned long long off) asm("llvm.bpf.load.half");

static __attribute__((noinline)) int ip_version(struct __sk_buff *skb)
{
	return load_half(skb, 0) >> 12;
}

SEC("socket")
int ld_abs_subprog(struct __sk_buff *skb)
{
	int v = ip_version(skb);

	return v == 4 || v == 6 ? skb->len : 0;
}

char LICENSE[] SEC("license") = "GPL";
