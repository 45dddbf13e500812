// tc classifier: a bpf_loop callback opens an RCU read section and returns (rejected: the
// section is still open when the main program exits).
#include "rbcommon.h"

extern void bpf_rcu_read_lock(void) __ksym;
extern void bpf_rcu_read_unlock(void) __ksym;

static long open_section(__u64 i, void *ctx)
{
	bpf_rcu_read_lock();
	return 1;
}

SEC("tc")
int rcu_loop_cb(struct __sk_buff *skb)
{
	bpf_loop(1, open_section, NULL, 0);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
