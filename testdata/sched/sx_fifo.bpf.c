/* SPDX-License-Identifier: Apache-2.0 */
/*
 * sx_fifo: a global FIFO sched_ext scheduler (structops example).
 *
 * Every task goes to one shared user DSQ in arrival order; each CPU takes the head
 * when it needs work.  Idle CPUs found by scx_bpf_select_cpu_dfl get the waking task
 * directly.  Knobs (.rodata, set before load) exercise the kernel's rules in tests:
 *   error_after  call scx_bpf_error("...%d", n) at the n-th enqueue (SX-K31)
 *   no_dispatch  never move tasks to a CPU: the watchdog ejects the scheduler (SX-E7)
 *   bad_kfunc    call a dispatch-only kfunc from enqueue (runtime context check, SX-K2)
 */
#include "scx_mini.h"

char _license[] SEC("license") = "GPL";

#define SHARED_DSQ 0

const volatile u32 error_after;
const volatile bool no_dispatch;
const volatile bool bad_kfunc;

u64 nr_enqueued, nr_local, nr_dispatched;
int exit_kind;
s64 exit_code;
char exit_msg[128];

s32 BPF_STRUCT_OPS(sx_fifo_select_cpu, struct task_struct *p, s32 prev_cpu, u64 wake_flags)
{
	bool is_idle = false;
	s32 cpu = scx_bpf_select_cpu_dfl(p, prev_cpu, wake_flags, &is_idle);

	if (is_idle && !no_dispatch) {
		__sync_fetch_and_add(&nr_local, 1);
		scx_bpf_dsq_insert(p, SCX_DSQ_LOCAL, SCX_SLICE_DFL, 0);
	}
	return cpu;
}

void BPF_STRUCT_OPS(sx_fifo_enqueue, struct task_struct *p, u64 enq_flags)
{
	u64 n = __sync_fetch_and_add(&nr_enqueued, 1) + 1;

	if (error_after && n >= error_after)
		scx_bpf_error("sx_fifo: error after %d enqueues", (int)n);
	if (bad_kfunc)
		scx_bpf_dsq_move_to_local(SHARED_DSQ);
	scx_bpf_dsq_insert(p, SHARED_DSQ, SCX_SLICE_DFL, enq_flags);
}

void BPF_STRUCT_OPS(sx_fifo_dispatch, s32 cpu, struct task_struct *prev)
{
	if (no_dispatch)
		return;
	if (scx_bpf_dsq_move_to_local(SHARED_DSQ))
		__sync_fetch_and_add(&nr_dispatched, 1);
}

s32 BPF_STRUCT_OPS_SLEEPABLE(sx_fifo_init)
{
	return scx_bpf_create_dsq(SHARED_DSQ, -1);
}

void BPF_STRUCT_OPS(sx_fifo_exit, struct scx_exit_info *ei)
{
	exit_code = ei->exit_code;
	bpf_probe_read_kernel_str(exit_msg, sizeof(exit_msg), ei->msg);
	exit_kind = ei->kind;
}

SEC(".struct_ops.link")
struct sched_ext_ops sx_fifo = {
	.select_cpu = (void *)sx_fifo_select_cpu,
	.enqueue = (void *)sx_fifo_enqueue,
	.dispatch = (void *)sx_fifo_dispatch,
	.init = (void *)sx_fifo_init,
	.exit = (void *)sx_fifo_exit,
	.timeout_ms = 5000,
	.name = "sx_fifo",
};
