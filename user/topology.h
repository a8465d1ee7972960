/* Machine topology from sysfs/procfs: possible/online CPUs, CPU -> package map, CPU model, RAM. */
#ifndef CB_TOPOLOGY_H
#define CB_TOPOLOGY_H

#include <stdint.h>

struct topology {
	int n_possible;     /* possible CPUs: the number of slots in a per-CPU map value */
	int *possible;      /* possible[slot] = cpu id, ascending */
	int n_online;
	int *online;        /* online cpu ids, ascending */
	int max_cpu;        /* highest possible cpu id */
	int *pkg_of_cpu;    /* [cpu id] -> package index 0..n_pkgs-1, -1 if unknown/offline */
	int n_pkgs;         /* packages (sockets) with at least one online CPU */
	int *pkg_phys_id;   /* [package index] -> physical_package_id from sysfs */
	int *pkg_ncpus;     /* [package index] -> online CPUs in it */
	char cpu_model[128];       /* /proc/cpuinfo "model name", "" if unknown */
	uint64_t ram_total_bytes;  /* /proc/meminfo MemTotal */
};

/*
 * Parses a kernel CPU list such as "0-3,6\n" into a malloc'ed ascending array.
 * Returns 0 or -EINVAL on malformed text; *cpus is owned by the caller.
 */
int cpulist_parse(const char *text, int **cpus, int *n);

/*
 * Reads the topology under the given roots ("/sys" and "/proc" normally).
 * Packages are numbered in order of physical_package_id. Returns 0 or -errno.
 */
int topology__load(struct topology *t, const char *sysfs_root, const char *procfs_root);
void topology__free(struct topology *t);

#endif
