/* SPDX-License-Identifier: MIT */
/* Types shared by the BPF programs (bpf/carbonbpf.bpf.c) and userspace (user/tracer.c). */
#ifndef CARBONBPF_H
#define CARBONBPF_H

#define CB_COMM_LEN 16

/*
 * A process is (tgid, start time of its thread-group leader in boot-time ns):
 * a reused pid gets a new start time, so it is a new key.
 */
struct cb_task_key {
	__u32 tgid;
	__u32 pad;
	__u64 start_ns; /* group_leader->start_boottime, CLOCK_BOOTTIME ns */
};

/* Per CPU, per process: cumulative on-CPU ns of all its threads on that CPU. */
struct cb_task_time {
	__u64 on_cpu_ns;
};

#define CB_TASK_EXITED 0x1u

/* Size of the ring of changed task_info keys (one struct cb_task_key per change). */
#define CB_INFO_EVENTS_BYTES (1u << 20)

/* One per process (not per CPU): what userspace cannot look up once it is gone. */
struct cb_task_info {
	__u64 cgroup_id;   /* cgroup v2 (default hierarchy) kernfs id, refreshed when it moves */
	__u64 scope_mask;  /* bit s set: the process belongs to tracked tree s */
	__u64 exit_ns;     /* CLOCK_MONOTONIC ns of the exit of its last thread */
	__u32 ppid;        /* tgid of the parent when first seen */
	__u32 flags;       /* CB_TASK_* */
	__u32 uid;         /* real uid (init namespace), refreshed at exec */
	__u32 pad;
	char comm[CB_COMM_LEN]; /* refreshed at exec and at exit */
};

/* Per CPU state, one slot of a per-CPU array. */
struct cb_cpu_state {
	__u64 last_ts;      /* CLOCK_MONOTONIC ns when the current slice began (0: unknown) */
	__u64 lost_ns;      /* cumulative ns that could not be charged (map full) */
	__u64 drops;        /* cumulative count of failed map inserts */
	__u64 events_lost;  /* cumulative count of info_events that did not fit the ring */
	__u64 switches;     /* cumulative count of sched_switch events */
};

#endif /* CARBONBPF_H */
