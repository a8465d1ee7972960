/*
 * The kernel side seen from userspace: loads bpf/carbonbpf.bpf.c (tp_btf, or its raw_tp
 * twin where tp_btf cannot load), and takes snapshots of the cumulative per-process,
 * per-CPU on-CPU time with every CPU's running slice closed first.
 */
#ifndef CB_TRACER_H
#define CB_TRACER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <linux/types.h>
#include "carbonbpf.h"

enum tracer_attach { TRACER_ATTACH_AUTO, TRACER_ATTACH_TP_BTF, TRACER_ATTACH_RAW_TP };

struct tracer_opts {
	int n_possible;          /* possible CPUs: slots of a per-CPU value */
	const int *online;       /* online cpu ids, where running slices are closed */
	int n_online;
	uint32_t max_processes;  /* entries of the task maps */
	enum tracer_attach attach;
};

/* One process in a snapshot. */
struct tracer_proc {
	struct cb_task_key key;
	struct cb_task_info info;  /* all zero when !has_info */
	bool has_info;             /* info is new or changed since the last snapshot (or all, on
				    * the first one): otherwise keep what an earlier one said */
	const uint64_t *on_cpu_ns; /* n_possible cumulative ns, or NULL: never charged yet */
};

struct tracer_snapshot {
	uint64_t mono_ns;      /* CLOCK_MONOTONIC when every CPU's slice was closed */
	size_t n;
	struct tracer_proc *procs;
	uint64_t *lost_ns;     /* [slot] cumulative ns not charged for lack of map space */
	uint64_t drops;        /* all CPUs: failed map inserts */
	uint64_t switches;     /* all CPUs: sched_switch events seen */
	/* buffers owned by the snapshot */
	void *keys_buf, *vals_buf, *ikeys_buf, *ivals_buf;
	size_t cap, icap;
};

struct tracer;

/* Reads pid_max under procfs_root; returns the map size to use: min(pid_max, 65536), at least 1024. */
uint32_t tracer_default_max_processes(const char *procfs_root);

/*
 * Opens, sizes, loads and attaches the BPF programs. On failure returns -errno and a
 * one-line reason with what to do in errbuf (e.g. missing CAP_BPF).
 */
int tracer__open(struct tracer **out, const struct tracer_opts *opts, char *errbuf, size_t errlen);
/* "tp_btf" or "raw_tp": which twin is attached. */
const char *tracer__attach_mode(const struct tracer *t);

/*
 * Closes the running slice on every online CPU, then reads all maps into s (reusing its
 * buffers; zero-initialise s before the first call). Returns 0 or -errno.
 */
int tracer__snapshot(struct tracer *t, struct tracer_snapshot *s);
void tracer_snapshot__free(struct tracer_snapshot *s);

/*
 * Gives scope bits `mask` to the running processes tgids[0..n) under their exact kernel
 * keys; their children born from now on inherit the bits in the kernel. Processes not
 * found are skipped; *found (may be NULL) counts those marked. Returns 0 or -errno.
 */
int tracer__seed(struct tracer *t, const uint32_t *tgids, size_t n, uint64_t mask, size_t *found);

/* Drops a harvested process from the kernel maps. Returns 0 or -errno. */
int tracer__forget(struct tracer *t, const struct cb_task_key *key);

void tracer__close(struct tracer *t);

#endif
