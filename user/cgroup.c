/* cgroup v2 id -> path resolution by walking the v2 hierarchy (inode number == cgroup id). */
#include <dirent.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include "cgroup.h"

struct cg_entry {
	uint64_t id;
	char *path;
};

struct cgroup_names {
	char mnt[1024];
	struct cg_entry *e;
	size_t n, cap;
	bool may_rescan;
	uint64_t max_id;  /* highest id of the last scan */
	char unknown[32];
};

int cgroup_v2_mount(const char *procfs_root, char *mnt, size_t len)
{
	char path[4096], line[4096];
	FILE *f;
	int err = -ENOENT;

	snprintf(path, sizeof(path), "%s/self/mountinfo", procfs_root);
	f = fopen(path, "re");
	if (!f)
		return -errno;
	mnt[0] = '\0';
	while (fgets(line, sizeof(line), f)) {
		/* "36 25 0:31 / /sys/fs/cgroup/unified rw,... shared:9 - cgroup2 cgroup2 rw" */
		char *sep = strstr(line, " - ");
		char point[2048];

		if (!sep || strncmp(sep + 3, "cgroup2 ", 8))
			continue;
		if (sscanf(line, "%*s %*s %*s %*s %2047s", point) != 1)
			continue;
		snprintf(mnt, len, "%s", point);
		err = 0;
		break;
	}
	fclose(f);
	return err;
}

static int add(struct cgroup_names *c, uint64_t id, const char *rel)
{
	if (c->n == c->cap) {
		size_t ncap = c->cap ? c->cap * 2 : 64;
		struct cg_entry *ne = realloc(c->e, ncap * sizeof(*ne));

		if (!ne)
			return -ENOMEM;
		c->e = ne;
		c->cap = ncap;
	}
	c->e[c->n].id = id;
	c->e[c->n].path = strdup(rel);
	if (!c->e[c->n].path)
		return -ENOMEM;
	c->n++;
	return 0;
}

static void walk(struct cgroup_names *c, const char *abs, const char *rel, int depth)
{
	struct stat st;
	struct dirent *d;
	DIR *dir;

	if (depth > 64 || stat(abs, &st))
		return;
	if (add(c, (uint64_t)st.st_ino, rel[0] ? rel : "/"))
		return;
	dir = opendir(abs);
	if (!dir)
		return;
	while ((d = readdir(dir))) {
		char a[4096], r[4096];

		if (d->d_type != DT_DIR || d->d_name[0] == '.')
			continue;
		snprintf(a, sizeof(a), "%s/%s", abs, d->d_name);
		snprintf(r, sizeof(r), "%s/%s", rel, d->d_name);
		walk(c, a, r, depth + 1);
	}
	closedir(dir);
}

static int entry_cmp(const void *a, const void *b)
{
	const struct cg_entry *x = a, *y = b;

	return x->id < y->id ? -1 : x->id > y->id;
}

static void rescan(struct cgroup_names *c)
{
	for (size_t i = 0; i < c->n; i++)
		free(c->e[i].path);
	c->n = 0;
	if (c->mnt[0])
		walk(c, c->mnt, "", 0);
	qsort(c->e, c->n, sizeof(*c->e), entry_cmp);
	c->max_id = c->n ? c->e[c->n - 1].id : 0;
	c->may_rescan = false;
}

struct cgroup_names *cgroup_names__new(const char *procfs_root)
{
	struct cgroup_names *c = calloc(1, sizeof(*c));

	if (!c)
		return NULL;
	if (cgroup_v2_mount(procfs_root, c->mnt, sizeof(c->mnt)))
		c->mnt[0] = '\0';
	c->may_rescan = true;
	return c;
}

const char *cgroup_names__path(struct cgroup_names *c, uint64_t id)
{
	struct cg_entry probe = { .id = id }, *hit;

	for (int pass = 0; pass < 2; pass++) {
		hit = c->n ? bsearch(&probe, c->e, c->n, sizeof(*c->e), entry_cmp) : NULL;
		if (hit)
			return hit->path;
		/*
		 * Kernfs hands out ids in increasing order, so an unknown id below the highest
		 * seen is a cgroup removed since: rescanning would not find it, and must not
		 * use up the rescan a new cgroup (a higher id) needs in this interval.
		 */
		if (!c->may_rescan || (c->n && id < c->max_id))
			break;
		rescan(c);
	}
	snprintf(c->unknown, sizeof(c->unknown), "id:%llu", (unsigned long long)id);
	return c->unknown;
}

void cgroup_names__tick(struct cgroup_names *c)
{
	c->may_rescan = true;
}

void cgroup_names__free(struct cgroup_names *c)
{
	if (!c)
		return;
	for (size_t i = 0; i < c->n; i++)
		free(c->e[i].path);
	free(c->e);
	free(c);
}
