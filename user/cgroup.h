/* cgroup v2 ids (kernfs inode numbers, as BPF reports them) to paths, and the mount to find them. */
#ifndef CB_CGROUP_H
#define CB_CGROUP_H

#include <stddef.h>
#include <stdint.h>

struct cgroup_names;

/*
 * Finds the cgroup v2 mount in <procfs_root>/self/mountinfo (pure v2 or the unified
 * hierarchy of a hybrid host). Writes its path into mnt (may be "" when there is none).
 * Returns 0 or -ENOENT.
 */
int cgroup_v2_mount(const char *procfs_root, char *mnt, size_t len);

/* Opens a resolver over the v2 mount (NULL: none found; every id then reads "id:N"). */
struct cgroup_names *cgroup_names__new(const char *procfs_root);
/*
 * Path of cgroup `id` relative to the v2 root ("/" for the root), rescanning the tree at
 * most once per call to cgroup_names__tick for an id newer than any seen (a new cgroup:
 * kernfs ids grow); "id:N" if not found (the cgroup is gone). The string stays valid until the resolver is freed.
 */
const char *cgroup_names__path(struct cgroup_names *c, uint64_t id);
/* Allows one more rescan (call once per interval). */
void cgroup_names__tick(struct cgroup_names *c);
void cgroup_names__free(struct cgroup_names *c);

#endif
