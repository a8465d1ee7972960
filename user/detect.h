/* Pure helpers of `carbonbpf detect`: cgroup mode from mountinfo, capabilities, CPU lists. */
#ifndef CB_DETECT_H
#define CB_DETECT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum cgroup_mode {
	CGROUP_MODE_NONE,   /* no cgroup filesystem mounted */
	CGROUP_MODE_V1,     /* only cgroup (v1) hierarchies */
	CGROUP_MODE_V2,     /* only the cgroup2 unified hierarchy */
	CGROUP_MODE_HYBRID, /* v1 hierarchies and a cgroup2 one (e.g. /sys/fs/cgroup/unified) */
};

/*
 * Pure: the cgroup mode from the text of a /proc/<pid>/mountinfo file (NUL-terminated).
 * The mount point of the first cgroup2 mount goes to v2_mnt ("" when none; octal escapes
 * such as \040 kept as the kernel writes them). Lines that do not parse are skipped.
 */
enum cgroup_mode detect_cgroup_mode(const char *mountinfo, char *v2_mnt, size_t len);

/* "none", "v1", "v2", "hybrid". */
const char *detect_cgroup_mode_name(enum cgroup_mode m);

/*
 * Pure: the CapEff mask from the text of a /proc/<pid>/status file. Returns 0, or -ENOENT
 * when there is no well-formed CapEff line.
 */
int detect_parse_capeff(const char *status, uint64_t *mask);

/*
 * The effective capability mask of this process (capget(2); where that fails, CapEff
 * of <procfs_root>/self/status). Returns 0 or -errno.
 */
int detect_effective_caps(const char *procfs_root, uint64_t *mask);

/* Pure: ascending cpu ids as a kernel CPU list, "0-3,6" ("" for none), truncated to len. */
void detect_format_cpulist(const int *cpus, int n, char *buf, size_t len);

#endif
