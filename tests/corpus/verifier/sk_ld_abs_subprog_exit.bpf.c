// Socket filter: a static subprogram with a legacy packet load returns 5 (in a register the
// compiler cannot see through); the caller dereferences a scalar unless the result is 5.
// Whether the verifier explores the load's early return of 0 to the caller decides.
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

unsigned long long load_byte(void *skb, unsigned long long off) asm("llvm.bpf.load.byte");

static __attribute__((noinline)) int five(struct __sk_buff *skb)
{
	unsigned long long b = load_byte(skb, 0);
	int r;

	asm volatile("" : : "r"(b));
	asm volatile("%0 = 5" : "=r"(r));
	return r;
}

SEC("socket")
int ld_abs_subprog_exit(struct __sk_buff *skb)
{
	if (five(skb) != 5)
		return *(volatile __u32 *)(unsigned long)skb->len;
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
