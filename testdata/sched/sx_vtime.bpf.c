/* SPDX-License-Identifier: Apache-2.0 */
/*
 * sx_vtime: a weighted virtual-time sched_ext scheduler (structops example).
 *
 * Tasks wait in one vtime-ordered user DSQ.  A task's vtime advances by the time it
 * ran scaled by 100 / p->scx.weight (sched_ext weight scale: nice 0 = 100), so CPU
 * time is shared in proportion to weight.  A waking task's vtime is clamped to at
 * most one slice behind the current vtime, so sleepers cannot bank credit.
 */
#include "scx_mini.h"

char _license[] SEC("license") = "GPL";

#define SHARED_DSQ 0

u64 vtime_now;
u64 nr_local, nr_queued;
int exit_kind;

static __always_inline bool vtime_before(u64 a, u64 b)
{
	return (s64)(a - b) < 0;
}

s32 BPF_STRUCT_OPS(sx_vtime_select_cpu, struct task_struct *p, s32 prev_cpu, u64 wake_flags)
{
	bool is_idle = false;
	s32 cpu = scx_bpf_select_cpu_dfl(p, prev_cpu, wake_flags, &is_idle);

	if (is_idle) {
		__sync_fetch_and_add(&nr_local, 1);
		scx_bpf_dsq_insert(p, SCX_DSQ_LOCAL, SCX_SLICE_DFL, 0);
	}
	return cpu;
}

void BPF_STRUCT_OPS(sx_vtime_enqueue, struct task_struct *p, u64 enq_flags)
{
	u64 vtime = p->scx.dsq_vtime;

	if (vtime_before(vtime, vtime_now - SCX_SLICE_DFL))
		vtime = vtime_now - SCX_SLICE_DFL;
	__sync_fetch_and_add(&nr_queued, 1);
	scx_bpf_dsq_insert_vtime(p, SHARED_DSQ, SCX_SLICE_DFL, vtime, enq_flags);
}

void BPF_STRUCT_OPS(sx_vtime_dispatch, s32 cpu, struct task_struct *prev)
{
	scx_bpf_dsq_move_to_local(SHARED_DSQ);
}

void BPF_STRUCT_OPS(sx_vtime_running, struct task_struct *p)
{
	if (vtime_before(vtime_now, p->scx.dsq_vtime))
		vtime_now = p->scx.dsq_vtime;
}

void BPF_STRUCT_OPS(sx_vtime_stopping, struct task_struct *p, bool runnable)
{
	p->scx.dsq_vtime += (SCX_SLICE_DFL - p->scx.slice) * 100 / p->scx.weight;
}

void BPF_STRUCT_OPS(sx_vtime_enable, struct task_struct *p)
{
	p->scx.dsq_vtime = vtime_now;
}

s32 BPF_STRUCT_OPS_SLEEPABLE(sx_vtime_init)
{
	return scx_bpf_create_dsq(SHARED_DSQ, -1);
}

void BPF_STRUCT_OPS(sx_vtime_exit, struct scx_exit_info *ei)
{
	exit_kind = ei->kind;
}

SEC(".struct_ops.link")
struct sched_ext_ops sx_vtime = {
	.select_cpu = (void *)sx_vtime_select_cpu,
	.enqueue = (void *)sx_vtime_enqueue,
	.dispatch = (void *)sx_vtime_dispatch,
	.running = (void *)sx_vtime_running,
	.stopping = (void *)sx_vtime_stopping,
	.enable = (void *)sx_vtime_enable,
	.init = (void *)sx_vtime_init,
	.exit = (void *)sx_vtime_exit,
	.name = "sx_vtime",
};
