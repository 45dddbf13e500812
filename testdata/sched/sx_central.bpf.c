/* SPDX-License-Identifier: Apache-2.0 */
/*
 * sx_central: one CPU makes every scheduling decision (structops example).
 *
 * Runnable tasks wait, by pid, in a FIFO queue map.  A CPU other than the central one
 * never picks work itself: when it runs dry its dispatch callback only raises its
 * "needs work" flag.  A BPF timer fires every millisecond; when tasks wait and some CPU
 * needs work it preempts the central CPU, whose dispatch callback then hands one queued task to each
 * waiting CPU's local DSQ (SCX_DSQ_LOCAL_ON | cpu, then a kick to wake it) and takes one
 * for itself.  Counters (globals) let tests check who dispatched what.
 */
#include "scx_mini.h"

char _license[] SEC("license") = "GPL";

#define MAX_CPUS 64
#define TICK_NS 1000000ULL
#define SLICE_NS 5000000ULL

const volatile s32 central_cpu;

u8 needs_work[MAX_CPUS];
u64 nr_enqueued, nr_queue_full, nr_remote, nr_self, nr_ticks, nr_preempts, nr_lost;

struct {
	__uint(type, BPF_MAP_TYPE_QUEUE);
	__uint(max_entries, 4096);
	__type(value, s32);
} runq SEC(".maps");

struct central_tick {
	struct bpf_timer timer;
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, u32);
	__type(value, struct central_tick);
} tick_map SEC(".maps");

s32 BPF_STRUCT_OPS(sx_central_select_cpu, struct task_struct *p, s32 prev_cpu, u64 wake_flags)
{
	return prev_cpu; /* where it wakes does not matter: the central CPU places it */
}

void BPF_STRUCT_OPS(sx_central_enqueue, struct task_struct *p, u64 enq_flags)
{
	s32 pid = p->pid;

	__sync_fetch_and_add(&nr_enqueued, 1);
	if (bpf_map_push_elem(&runq, &pid, 0)) {
		/* queue full: let the built-in global DSQ carry it */
		__sync_fetch_and_add(&nr_queue_full, 1);
		scx_bpf_dsq_insert(p, SCX_DSQ_GLOBAL, SLICE_NS, enq_flags);
	}
}

/* Move the oldest queued task to @dsq; false when the queue is empty. */
static bool hand_out(u64 dsq)
{
	struct task_struct *p;
	s32 pid;

	if (bpf_map_pop_elem(&runq, &pid))
		return false;
	p = bpf_task_from_pid(pid);
	if (!p) {
		__sync_fetch_and_add(&nr_lost, 1); /* exited while queued */
		return true;
	}
	scx_bpf_dsq_insert(p, dsq, SLICE_NS, 0);
	bpf_task_release(p);
	return true;
}

void BPF_STRUCT_OPS(sx_central_dispatch, s32 cpu, struct task_struct *prev)
{
	u32 nr = scx_bpf_nr_cpu_ids();
	u32 i;

	if (cpu != central_cpu) {
		if (cpu >= 0 && cpu < MAX_CPUS)
			needs_work[cpu] = 1;
		return;
	}
	for (i = 0; i < MAX_CPUS && i < nr; i++) {
		if (i == central_cpu || !needs_work[i])
			continue;
		if (!scx_bpf_dispatch_nr_slots() || !hand_out(SCX_DSQ_LOCAL_ON | i))
			break;
		needs_work[i] = 0;
		__sync_fetch_and_add(&nr_remote, 1);
		scx_bpf_kick_cpu(i, SCX_KICK_IDLE);
	}
	if (scx_bpf_dispatch_nr_slots() && hand_out(SCX_DSQ_LOCAL))
		__sync_fetch_and_add(&nr_self, 1);
}

static int central_tick_fn(void *map, u32 *key, struct central_tick *t)
{
	u32 nr = scx_bpf_nr_cpu_ids();
	s32 pid;
	u32 i;

	__sync_fetch_and_add(&nr_ticks, 1);
	if (bpf_map_peek_elem(&runq, &pid)) /* nothing waits: nothing to hand out */
		goto rearm;
	for (i = 0; i < MAX_CPUS && i < nr; i++) {
		if (needs_work[i]) {
			__sync_fetch_and_add(&nr_preempts, 1);
			scx_bpf_kick_cpu(central_cpu, SCX_KICK_PREEMPT);
			break;
		}
	}
rearm:
	bpf_timer_start(&t->timer, TICK_NS, 0);
	return 0;
}

s32 BPF_STRUCT_OPS_SLEEPABLE(sx_central_init)
{
	u32 key = 0;
	struct central_tick *t = bpf_map_lookup_elem(&tick_map, &key);

	if (!t)
		return -2; /* -ENOENT */
	bpf_timer_init(&t->timer, &tick_map, CLOCK_MONOTONIC);
	bpf_timer_set_callback(&t->timer, central_tick_fn);
	return bpf_timer_start(&t->timer, TICK_NS, 0);
}

SEC(".struct_ops.link")
struct sched_ext_ops sx_central = {
	.select_cpu = (void *)sx_central_select_cpu,
	.enqueue = (void *)sx_central_enqueue,
	.dispatch = (void *)sx_central_dispatch,
	.init = (void *)sx_central_init,
	.timeout_ms = 5000,
	.name = "sx_central",
};
