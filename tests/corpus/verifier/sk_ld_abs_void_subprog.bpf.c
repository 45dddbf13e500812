// Socket filter: a legacy packet load in a static subprogram returning void (rejected:
// such a subprogram must return an integer, "LD_ABS is only allowed in functions that
// return 'int'.").
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

unsigned long long load_byte(void *skb, unsigned long long off) asm("llvm.bpf.load.byte");

__u32 seen;

static __attribute__((noinline)) void note_first(struct __sk_buff *skb)
{
	seen = load_byte(skb, 0);
}

SEC("socket")
int ld_abs_void_subprog(struct __sk_buff *skb)
{
	note_first(skb);
	return seen;
}

char LICENSE[] SEC("license") = "GPL";
