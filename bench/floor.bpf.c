// SPDX-License-Identifier: (MIT OR GPL-2.0)
/* Benchmark reference programs on sched_switch: what the parts of a per-switch program cost. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

char LICENSE[] SEC("license") = "Dual MIT/GPL";

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} sink SEC(".maps");

/* Nothing at all: the cost of dispatching a tp_btf program (and of bpf_stats). */
SEC("tp_btf/sched_switch")
int BPF_PROG(floor_empty, bool preempt, struct task_struct *prev, struct task_struct *next)
{
	return 0;
}

/* One clock read stored in a per-CPU array slot. */
SEC("tp_btf/sched_switch")
int BPF_PROG(floor_clock, bool preempt, struct task_struct *prev, struct task_struct *next)
{
	__u32 zero = 0;
	__u64 *v = bpf_map_lookup_elem(&sink, &zero);

	if (v)
		*v = bpf_ktime_get_ns();
	return 0;
}

/* The clock plus the loads that make carbonbpf's key (tgid, leader start time): all but
 * its hash map lookup. */
SEC("tp_btf/sched_switch")
int BPF_PROG(floor_key, bool preempt, struct task_struct *prev, struct task_struct *next)
{
	__u32 zero = 0;
	__u64 *v = bpf_map_lookup_elem(&sink, &zero);

	if (v)
		*v += bpf_ktime_get_ns() + prev->tgid + prev->group_leader->start_boottime;
	return 0;
}
