// SPDX-License-Identifier: (MIT OR GPL-2.0)
/* Scheduler accounting: on-CPU ns per process per CPU, idle ns per CPU, process tree following. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_tracing.h>
#include "carbonbpf.h"

char LICENSE[] SEC("license") = "Dual MIT/GPL";

#define E2BIG 7

/* max_entries of the two task maps are set by userspace before load (pid_max based). */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_HASH);
	__uint(max_entries, 1);
	__type(key, struct cb_task_key);
	__type(value, struct cb_task_time);
} task_time SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1);
	__type(key, struct cb_task_key);
	__type(value, struct cb_task_info);
} task_info SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct cb_cpu_state);
} cpu_state SEC(".maps");

/*
 * Keys whose task_info was created or changed (exec, exit, cgroup move, seeding), so that
 * userspace reads only those entries each interval instead of the whole map. A full ring
 * is counted (events_lost) and userspace then reads the whole map once.
 */
struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, CB_INFO_EVENTS_BYTES);
} info_events SEC(".maps");

/* tgid -> scope mask to give to that running process; read by seed_tasks. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} seed SEC(".maps");

/* Processes marked by the last run of seed_tasks. */
__u64 seeded;

/*
 * Field reads are written twice: direct loads for tp_btf (BTF pointers, fast) and
 * BPF_CORE_READ for raw_tp, whose arguments are plain integers to the verifier.
 * `btf` is a compile-time constant at every call site, so one branch is removed.
 */
static __always_inline void task_key_of(struct task_struct *t, struct cb_task_key *key, __u32 *pid,
					const bool btf)
{
	if (btf) {
		*pid = t->pid;
		key->tgid = t->tgid;
		key->start_ns = t->group_leader->start_boottime;
	} else {
		*pid = BPF_CORE_READ(t, pid);
		key->tgid = BPF_CORE_READ(t, tgid);
		key->start_ns = BPF_CORE_READ(t, group_leader, start_boottime);
	}
}

static __always_inline void count_drop(void)
{
	__u32 zero = 0;
	struct cb_cpu_state *st = bpf_map_lookup_elem(&cpu_state, &zero);

	if (st)
		st->drops++;
}

static __always_inline void info_changed(struct cb_task_key *key)
{
	/* No wakeup: userspace reads the ring on its own schedule. */
	if (bpf_ringbuf_output(&info_events, key, sizeof(*key), BPF_RB_NO_WAKEUP)) {
		__u32 zero = 0;
		struct cb_cpu_state *st = bpf_map_lookup_elem(&cpu_state, &zero);

		if (st)
			st->events_lost++;
	}
}

static __always_inline void read_comm(struct task_struct *t, char *comm)
{
	struct task_struct *leader = BPF_CORE_READ(t, group_leader);

	bpf_probe_read_kernel_str(comm, CB_COMM_LEN, &leader->comm);
}

static __always_inline __u64 cgroup_of(struct task_struct *t)
{
	return BPF_CORE_READ(t, cgroups, dfl_cgrp, kn, id);
}

static __always_inline void fill_info(struct task_struct *t, struct cb_task_info *info)
{
	info->cgroup_id = cgroup_of(t);
	info->ppid = BPF_CORE_READ(t, real_parent, tgid);
	info->uid = BPF_CORE_READ(t, real_cred, uid.val);
	read_comm(t, info->comm);
}

/* Slow path: first time this process runs on this CPU. */
static __noinline void new_task(struct task_struct *t, struct cb_task_key *key, __u64 delta,
				struct cb_cpu_state *st)
{
	struct cb_task_time init = { .on_cpu_ns = delta };
	struct cb_task_time *tt;
	struct cb_task_info info = {};

	if (bpf_map_update_elem(&task_time, key, &init, BPF_NOEXIST)) {
		/* Another CPU may have inserted the same process meanwhile. */
		tt = bpf_map_lookup_elem(&task_time, key);
		if (tt) {
			tt->on_cpu_ns += delta;
		} else {
			st->drops++;
			st->lost_ns += delta;
			return;
		}
	}
	if (bpf_map_lookup_elem(&task_info, key))
		return;
	fill_info(t, &info);
	if (!bpf_map_update_elem(&task_info, key, &info, BPF_NOEXIST))
		info_changed(key);
	else if (!bpf_map_lookup_elem(&task_info, key)) /* not a racing insert: map full */
		st->drops++;
}

static __always_inline void charge(struct task_struct *t, __u64 delta, struct cb_cpu_state *st,
				   const bool btf)
{
	struct cb_task_key key = {};
	struct cb_task_time *tt;
	__u32 pid;

	task_key_of(t, &key, &pid, btf);
	if (pid == 0) /* each CPU's idle task has pid 0: idle time is not kept */
		return;
	tt = bpf_map_lookup_elem(&task_time, &key);
	if (tt)
		tt->on_cpu_ns += delta;
	else
		new_task(t, &key, delta, st);
}

/*
 * Close the slice that ran on this CPU up to now and charge it to `t`; `on_switch`
 * counts a sched_switch event.
 *
 * The slice is timed with the clock, not with the task's se.sum_exec_runtime: on this
 * project's 6.18 kernel the runtime of the task leaving the CPU is not always brought up
 * to date before the tracepoint (under fork-heavy load a third of a busy task's time went
 * missing), while the clock cannot miss anything. The price is a small bias against the
 * kernel's own figure: the scheduler's work before the tracepoint is the leaving task's
 * here, the next one's there, and steal time is not taken out.
 */
static __always_inline int close_slice(struct task_struct *t, const bool btf, const bool on_switch)
{
	__u32 zero = 0;
	struct cb_cpu_state *st = bpf_map_lookup_elem(&cpu_state, &zero);
	__u64 now, last;

	if (!st)
		return 0;
	if (on_switch)
		st->switches++;
	now = bpf_ktime_get_ns();
	last = st->last_ts;
	st->last_ts = now;
	if (last && now > last)
		charge(t, now - last, st, btf);
	return 0;
}

SEC("tp_btf/sched_switch")
int BPF_PROG(switch_btf, bool preempt, struct task_struct *prev, struct task_struct *next)
{
	return close_slice(prev, true, true);
}

SEC("raw_tp/sched_switch")
int BPF_PROG(switch_raw, bool preempt, struct task_struct *prev, struct task_struct *next)
{
	return close_slice(prev, false, true);
}

/*
 * Run by userspace on each CPU through BPF_PROG_TEST_RUN with BPF_F_TEST_RUN_ON_CPU: the
 * kernel runs it in an IPI on that CPU, so `current` is whatever task is running there
 * (the idle task included), and the slice still running is charged without waiting for
 * it to switch out.
 */
SEC("raw_tp")
int flush_cpu(void *ctx)
{
	return close_slice((struct task_struct *)bpf_get_current_task(), false, false);
}

static __always_inline int on_fork(struct task_struct *parent, struct task_struct *child)
{
	struct cb_task_key pkey = {}, ckey = {};
	struct cb_task_info *pinfo, info = {};
	__u32 pid;

	task_key_of(child, &ckey, &pid, false);
	if (pid != ckey.tgid) /* a new thread, not a new process */
		return 0;
	task_key_of(parent, &pkey, &pid, false);
	pinfo = bpf_map_lookup_elem(&task_info, &pkey);
	if (!pinfo || !pinfo->scope_mask)
		return 0;
	fill_info(child, &info);
	info.scope_mask = pinfo->scope_mask;
	info.ppid = pkey.tgid;
	if (bpf_map_update_elem(&task_info, &ckey, &info, BPF_ANY))
		count_drop();
	else
		info_changed(&ckey);
	return 0;
}

SEC("tp_btf/sched_process_fork")
int BPF_PROG(fork_btf, struct task_struct *parent, struct task_struct *child)
{
	return on_fork(parent, child);
}

SEC("raw_tp/sched_process_fork")
int BPF_PROG(fork_raw, struct task_struct *parent, struct task_struct *child)
{
	return on_fork(parent, child);
}

/* Keep the final figures of a process: mark it exited; userspace harvests and deletes. */
static __always_inline int on_exit(struct task_struct *t)
{
	struct cb_task_key key = {};
	struct cb_task_info *info, init = {};
	__u32 pid;

	/* signal->live is decremented before the tracepoint; 0 means the last thread. */
	if (BPF_CORE_READ(t, signal, live.counter) != 0)
		return 0;
	task_key_of(t, &key, &pid, false);
	info = bpf_map_lookup_elem(&task_info, &key);
	if (!info) {
		fill_info(t, &init);
		bpf_map_update_elem(&task_info, &key, &init, BPF_NOEXIST);
		info = bpf_map_lookup_elem(&task_info, &key);
		if (!info) {
			count_drop();
			return 0;
		}
	}
	/* The comm may have changed at exec since the process was first seen. */
	read_comm(t, info->comm);
	info->exit_ns = bpf_ktime_get_ns();
	info->flags |= CB_TASK_EXITED;
	info_changed(&key);
	return 0;
}

SEC("tp_btf/sched_process_exit")
int BPF_PROG(exit_btf, struct task_struct *t)
{
	return on_exit(t);
}

SEC("raw_tp/sched_process_exit")
int BPF_PROG(exit_raw, struct task_struct *t)
{
	return on_exit(t);
}

/*
 * Run by userspace as a task iterator after filling `seed`: every running process named
 * there gets the scope bits, under the exact (tgid, start time) key the kernel uses, which
 * /proc cannot give (it rounds the start time to clock ticks). Forks then propagate them.
 */
SEC("iter/task")
int seed_tasks(struct bpf_iter__task *ctx)
{
	struct task_struct *t = ctx->task;
	struct cb_task_key key = {};
	struct cb_task_info *info, init = {};
	__u64 *mask;
	__u32 pid;

	if (!t)
		return 0;
	task_key_of(t, &key, &pid, false);
	if (pid != key.tgid)
		return 0;
	mask = bpf_map_lookup_elem(&seed, &key.tgid);
	if (!mask)
		return 0;
	info = bpf_map_lookup_elem(&task_info, &key);
	if (!info) {
		fill_info(t, &init);
		bpf_map_update_elem(&task_info, &key, &init, BPF_NOEXIST);
		info = bpf_map_lookup_elem(&task_info, &key);
		if (!info) {
			count_drop();
			return 0;
		}
	}
	__sync_fetch_and_or(&info->scope_mask, *mask);
	info_changed(&key);
	seeded++;
	return 0;
}

/* Keep what rules match on current: the command name and uid change at exec. */
static __always_inline int on_exec(struct task_struct *t)
{
	struct cb_task_key key = {};
	struct cb_task_info *info;
	__u32 pid;

	task_key_of(t, &key, &pid, false);
	info = bpf_map_lookup_elem(&task_info, &key);
	if (info) {
		read_comm(t, info->comm);
		info->uid = BPF_CORE_READ(t, real_cred, uid.val);
		info_changed(&key);
	}
	return 0;
}

SEC("tp_btf/sched_process_exec")
int BPF_PROG(exec_btf, struct task_struct *t)
{
	return on_exec(t);
}

SEC("raw_tp/sched_process_exec")
int BPF_PROG(exec_raw, struct task_struct *t)
{
	return on_exec(t);
}

/*
 * A process moved to another cgroup: record where it is now, so a cgroup scope covers
 * processes that move in after the start. Traced after the move, for the group leader
 * (kernel/cgroup/cgroup.c, cgroup_attach_task); the v2 id is re-read, so moves in v1
 * hierarchies of a hybrid host change nothing.
 */
static __always_inline int on_cgroup_attach(struct task_struct *t)
{
	struct cb_task_key key = {};
	struct cb_task_info *info;
	__u32 pid;

	task_key_of(t, &key, &pid, false);
	info = bpf_map_lookup_elem(&task_info, &key);
	if (info) {
		info->cgroup_id = cgroup_of(t);
		info_changed(&key);
	}
	return 0;
}

SEC("tp_btf/cgroup_attach_task")
int BPF_PROG(cgroup_attach_btf, struct cgroup *dst, const char *path, struct task_struct *t)
{
	return on_cgroup_attach(t);
}

SEC("raw_tp/cgroup_attach_task")
int BPF_PROG(cgroup_attach_raw, struct cgroup *dst, const char *path, struct task_struct *t)
{
	return on_cgroup_attach(t);
}
