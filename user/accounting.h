/*
 * Userspace side of the attribution: turns cumulative BPF snapshots into per-interval
 * on-CPU time per process and package, splits each energy domain over the processes that
 * ran (attribution.c), and keeps per-process totals for the run. No BPF, no I/O: fed
 * with snapshots, unit-testable with made-up ones.
 */
#ifndef CB_ACCOUNTING_H
#define CB_ACCOUNTING_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "attribution.h"
#include "energy.h"
#include "tracer.h"

struct proc_rec {
	struct cb_task_key key;
	struct cb_task_info info;
	bool has_info;
	uint64_t *prev_ns;      /* [slot] cumulative ns as last seen */
	uint64_t *iv_pkg_ns;    /* [package] on-CPU ns in the current interval */
	uint64_t iv_ns;         /* on-CPU ns in the current interval, all CPUs */
	uint64_t iv_cpu_uj, iv_ram_uj; /* energy attributed in the current interval */
	uint64_t total_ns, cpu_uj, ram_uj; /* totals over the run */
	uint64_t scope_mask;    /* experiments it belonged to in its last active interval (set by the caller) */
	uint64_t *exp_uj, *exp_ns; /* NULL, or [experiment]: energy and time while in it (set by the caller) */
	bool exit_seen;         /* already flagged exited in an earlier snapshot */
	bool forgotten;         /* dropped from the kernel maps */
};

/* One energy domain's split in the current interval. */
struct domain_split {
	struct energy_reading reading;
	uint64_t busy_ns;       /* on-CPU ns of the processes on the domain's CPUs (lost included) */
	uint64_t capacity_ns;   /* CPUs x interval */
	uint64_t attributed_uj; /* to processes */
	uint64_t unattributed_uj; /* to time the kernel could not charge (map full) */
	uint64_t idle_uj;       /* to idle (capacity policy, or nothing ran) */
};

struct accounting {
	int n_slots;            /* possible CPUs */
	int n_pkgs;
	int *slot_pkg;          /* [slot] -> package index, -1 if offline/unknown */
	int *pkg_ncpus;         /* [package] -> online CPUs */
	int n_online;
	/* every process seen in the run */
	struct proc_rec **procs;
	size_t n_procs, cap_procs;
	size_t *table;          /* open addressing: index + 1 into procs, 0 = empty */
	size_t table_cap;
	/* processes with time in the current interval */
	struct proc_rec **active;
	size_t n_active;
	/* machine figures */
	uint64_t last_mono_ns;  /* snapshot time of the previous update, 0 before the first */
	uint64_t iv_wall_ns;    /* length of the current interval */
	uint64_t *prev_lost_ns; /* [slot] */
	uint64_t *iv_lost_pkg_ns, *iv_busy_pkg_ns; /* [package] */
	uint64_t iv_lost_ns;
	struct domain_split splits[ENERGY_MAX_READINGS];
	int n_splits;
	uint64_t drops;         /* cumulative failed kernel inserts (from the last snapshot) */
	struct cb_task_key *exited;  /* seen exited in the last snapshot: forgotten after the next */
	size_t n_exited, cap_exited;
	uint64_t total_idle_uj, total_unattributed_uj;
};

/*
 * slot_pkg[n_slots] maps per-CPU slots to packages; pkg_ncpus[n_pkgs] counts online CPUs.
 * Both are copied. Returns 0 or -ENOMEM.
 */
int accounting__init(struct accounting *a, int n_slots, const int *slot_pkg, int n_pkgs,
		     const int *pkg_ncpus);
void accounting__free(struct accounting *a);

/*
 * Takes a snapshot: computes each process's on-CPU ns per package since the previous one
 * and rebuilds the active list. The first call only sets the baseline (no interval).
 * Info in the snapshot replaces what the records held (a snapshot carries only the info
 * that changed). Processes seen exited in the previous snapshot are returned in *forget
 * (malloc'ed keys, *n_forget of them) for the caller to drop from the kernel maps: their
 * final slices have been charged and read since. Returns 0 or -ENOMEM.
 */
int accounting__update(struct accounting *a, const struct tracer_snapshot *s,
		       struct cb_task_key **forget, size_t *n_forget);

/*
 * Splits every domain of `e` over the active processes by their on-CPU time on the
 * domain's CPUs, exactly (see attribution_split), and adds the shares to the interval
 * and run figures. Time the kernel could not charge gets its share as unattributed, so
 * for every domain attributed + unattributed + idle == energy. Returns 0 or -errno.
 */
int accounting__attribute(struct accounting *a, const struct energy_sample *e,
			  enum idle_policy policy);

/* Busy (non-idle) ns per package in the current interval, for the CPU-load model. */
const uint64_t *accounting__busy_ns(const struct accounting *a);

/* The record of a process, or NULL. */
struct proc_rec *accounting__find(const struct accounting *a, const struct cb_task_key *key);

#endif
