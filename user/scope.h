/*
 * Scopes and experiments: which processes belong to which experiment. A scope selects a
 * process tree (--pid, -- CMD; followed in the kernel), a cgroup v2 subtree, or a rule
 * (command name, uid). Each experiment id gets one bit; every selector naming the same
 * experiment shares it, so a process is counted once per experiment however many of its
 * selectors match. Pure functions, no I/O.
 */
#ifndef CB_SCOPE_H
#define CB_SCOPE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define SCOPE_MAX_EXPERIMENTS 64

enum scope_kind { SCOPE_PID, SCOPE_CMD, SCOPE_CGROUP, SCOPE_COMM, SCOPE_UID };

struct scope_sel {
	enum scope_kind kind;
	char value[256];   /* pid, cgroup path (normalised: leading '/', no trailing '/'), comm, uid */
	int bit;           /* experiment bit */
	pid_t pid;         /* SCOPE_PID */
	uint32_t uid;      /* SCOPE_UID */
};

struct scopes {
	struct scope_sel sel[256];
	int n_sel;
	char experiments[SCOPE_MAX_EXPERIMENTS][64];
	int n_exp;
};

/* "busy": kind names as on the command line (pid, cmd, cgroup, comm, uid). */
const char *scope_kind_name(enum scope_kind k);

/*
 * Adds a selector. `arg` is "VALUE" or "VALUE=EXPERIMENT_ID" (split at the last '=');
 * without an id the scope uses default_experiment. Validates the value (a pid > 0, a uid
 * number, a comm of 1-15 characters, a cgroup path). On error writes one message to err
 * and returns -EINVAL (-E2BIG: too many experiments or selectors).
 */
int scopes__add(struct scopes *s, enum scope_kind kind, const char *arg,
		const char *default_experiment, char *err, size_t errlen);

/* The bit of an experiment id, adding it if new; -E2BIG when all 64 are taken. */
int scopes__experiment_bit(struct scopes *s, const char *experiment_id);

/* Bits of the tree selectors (pid, cmd): those the kernel propagates at fork. */
uint64_t scopes__tree_bits(const struct scopes *s);

/* True when some selector is a rule or a cgroup (matched on every interval). */
int scopes__has_rules(const struct scopes *s);

/*
 * Bits of the rule and cgroup selectors a process matches: cgroup_path is the process's
 * cgroup v2 path relative to the v2 root (a scope "/a" covers "/a" and "/a/...", not
 * "/ab"); comm and uid as the kernel recorded them.
 */
uint64_t scopes__match_rules(const struct scopes *s, const char *cgroup_path, const char *comm,
			     uint32_t uid);

/* Experiment ids of mask joined with ';' into buf (empty when mask is 0). */
void scopes__ids(const struct scopes *s, uint64_t mask, char *buf, size_t len);

/*
 * Container id from a cgroup v2 path, for Docker (cgroupfs and systemd drivers), containerd
 * (cri-containerd-), CRI-O (crio-), podman (libpod-), kubepods (both drivers) and
 * systemd-nspawn machines (machine-NAME.scope). Writes the runtime ("docker", "containerd",
 * "cri-o", "podman", "kubepods", "machine") and the id (64 hex digits, or the machine
 * name) and returns 0; -ENOENT when the path is not a container's.
 */
int container_id_from_cgroup(const char *path, char *runtime, size_t rlen, char *id, size_t idlen);

#endif
