/* SPDX-License-Identifier: Apache-2.0 */
/*
 * sx_qmap: a queue-map sched_ext scheduler with task storage (structops example).
 *
 * enqueue pushes the task's pid into a BPF_MAP_TYPE_QUEUE; dispatch pops pids, turns each
 * back into a task (bpf_task_from_pid, an acquired reference released with
 * bpf_task_release) and inserts it into the dispatching CPU's local DSQ.  Per-task state
 * lives in BPF_MAP_TYPE_TASK_STORAGE: how often the task was queued, and whether
 * select_cpu found it an idle CPU (then enqueue inserts it locally at once).  A full
 * queue falls back to the global DSQ.
 */
#include "scx_mini.h"

char _license[] SEC("license") = "GPL";

struct task_ctx {
	bool force_local;
	u64 nr_queued;
};

struct {
	__uint(type, BPF_MAP_TYPE_QUEUE);
	__uint(max_entries, 4096);
	__type(value, s32);
} queue SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_TASK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct task_ctx);
} task_ctxs SEC(".maps");

u64 nr_enqueued, nr_dispatched, nr_overflow, nr_lost, nr_local;

s32 BPF_STRUCT_OPS(sx_qmap_select_cpu, struct task_struct *p, s32 prev_cpu, u64 wake_flags)
{
	struct task_ctx *tctx = bpf_task_storage_get(&task_ctxs, p, 0, 0);
	bool is_idle = false;
	s32 cpu;

	if (!tctx)
		return prev_cpu;
	cpu = scx_bpf_select_cpu_dfl(p, prev_cpu, wake_flags, &is_idle);
	tctx->force_local = is_idle;
	return cpu;
}

void BPF_STRUCT_OPS(sx_qmap_enqueue, struct task_struct *p, u64 enq_flags)
{
	struct task_ctx *tctx = bpf_task_storage_get(&task_ctxs, p, 0, 0);
	s32 pid = p->pid;

	__sync_fetch_and_add(&nr_enqueued, 1);
	if (tctx) {
		tctx->nr_queued++;
		if (tctx->force_local) {
			tctx->force_local = false;
			__sync_fetch_and_add(&nr_local, 1);
			scx_bpf_dsq_insert(p, SCX_DSQ_LOCAL, SCX_SLICE_DFL, enq_flags);
			return;
		}
	}
	if (bpf_map_push_elem(&queue, &pid, 0)) {
		__sync_fetch_and_add(&nr_overflow, 1);
		scx_bpf_dsq_insert(p, SCX_DSQ_GLOBAL, SCX_SLICE_DFL, enq_flags);
	}
}

void BPF_STRUCT_OPS(sx_qmap_dispatch, s32 cpu, struct task_struct *prev)
{
	struct task_struct *p;
	s32 pid;
	int i;

	for (i = 0; i < 4; i++) {
		if (!scx_bpf_dispatch_nr_slots())
			break;
		if (bpf_map_pop_elem(&queue, &pid))
			break;
		p = bpf_task_from_pid(pid);
		if (!p) {
			__sync_fetch_and_add(&nr_lost, 1);
			continue;
		}
		__sync_fetch_and_add(&nr_dispatched, 1);
		scx_bpf_dsq_insert(p, SCX_DSQ_LOCAL, SCX_SLICE_DFL, 0);
		bpf_task_release(p);
	}
}

s32 BPF_STRUCT_OPS(sx_qmap_init_task, struct task_struct *p, struct scx_init_task_args *args)
{
	if (bpf_task_storage_get(&task_ctxs, p, 0, BPF_LOCAL_STORAGE_GET_F_CREATE))
		return 0;
	return -12; /* -ENOMEM */
}

SEC(".struct_ops.link")
struct sched_ext_ops sx_qmap = {
	.select_cpu = (void *)sx_qmap_select_cpu,
	.enqueue = (void *)sx_qmap_enqueue,
	.dispatch = (void *)sx_qmap_dispatch,
	.init_task = (void *)sx_qmap_init_task,
	.timeout_ms = 5000,
	.name = "sx_qmap",
};
