/* Machine topology from sysfs/procfs: CPU lists, CPU -> package map, CPU model name, RAM size. */
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "topology.h"

/* Far above any real machine; bounds the allocation a corrupt list could ask for. */
#define CPULIST_MAX_ID (1 << 20)

static int cmp_int(const void *a, const void *b)
{
	int x = *(const int *)a, y = *(const int *)b;

	return (x > y) - (x < y);
}

static int parse_cpu_id(const char **p, int *out)
{
	char *end;
	long v;

	if (!isdigit((unsigned char)**p))
		return -EINVAL;
	errno = 0;
	v = strtol(*p, &end, 10);
	if (errno || v < 0 || v >= CPULIST_MAX_ID)
		return -EINVAL;
	*p = end;
	*out = (int)v;
	return 0;
}

int cpulist_parse(const char *text, int **cpus, int *n)
{
	const char *p = text;
	int *arr = NULL, cnt = 0, cap = 0, i, w;

	*cpus = NULL;
	*n = 0;
	if (!text)
		return -EINVAL;
	while (*p == ' ' || *p == '\t')
		p++;
	/* The kernel prints an empty list as "\n" (e.g. /sys/.../cpu/offline). */
	if (*p == '\0' || *p == '\n')
		goto tail;
	for (;;) {
		int lo, hi;

		if (parse_cpu_id(&p, &lo))
			goto bad;
		hi = lo;
		if (*p == '-') {
			p++;
			if (parse_cpu_id(&p, &hi) || hi < lo)
				goto bad;
		}
		if (cnt + (hi - lo + 1) > CPULIST_MAX_ID)
			goto bad;
		if (cnt + (hi - lo + 1) > cap) {
			int ncap = cap ? cap : 16;
			int *tmp;

			while (ncap < cnt + (hi - lo + 1))
				ncap *= 2;
			tmp = realloc(arr, (size_t)ncap * sizeof(*arr));
			if (!tmp) {
				free(arr);
				return -ENOMEM;
			}
			arr = tmp;
			cap = ncap;
		}
		for (i = lo; i <= hi; i++)
			arr[cnt++] = i;
		if (*p != ',')
			break;
		p++;
	}
tail:
	while (*p == '\n' || *p == ' ' || *p == '\t')
		p++;
	if (*p != '\0')
		goto bad;
	if (cnt) {
		qsort(arr, (size_t)cnt, sizeof(*arr), cmp_int);
		for (i = 1, w = 1; i < cnt; i++)
			if (arr[i] != arr[w - 1])
				arr[w++] = arr[i];
		cnt = w;
	}
	*cpus = arr;
	*n = cnt;
	return 0;
bad:
	free(arr);
	return -EINVAL;
}

/* Reads a small text file into buf (NUL-terminated). Returns 0 or -errno. */
static int read_text(const char *path, char *buf, size_t len)
{
	FILE *f = fopen(path, "re");
	size_t got;
	int err;

	if (!f)
		return -errno;
	got = fread(buf, 1, len - 1, f);
	err = ferror(f) ? -EIO : 0;
	fclose(f);
	buf[got] = '\0';
	return err;
}

static int read_cpulist_file(const char *root, const char *name, int **cpus, int *n)
{
	char path[PATH_MAX], buf[8192];
	int err;

	snprintf(path, sizeof(path), "%s/devices/system/cpu/%s", root, name);
	err = read_text(path, buf, sizeof(buf));
	if (err)
		return err;
	return cpulist_parse(buf, cpus, n);
}

/* physical_package_id of a CPU; a missing topology file (some VMs, containers) means 0. */
static int read_phys_id(const char *root, int cpu)
{
	char path[PATH_MAX], buf[32];
	long v;

	snprintf(path, sizeof(path), "%s/devices/system/cpu/cpu%d/topology/physical_package_id",
		 root, cpu);
	if (read_text(path, buf, sizeof(buf)))
		return 0;
	v = strtol(buf, NULL, 10);
	if (v < 0 || v > INT_MAX)
		return 0;
	return (int)v;
}

static void read_cpu_model(const char *procfs_root, char *out, size_t len)
{
	char path[PATH_MAX], line[512];
	FILE *f;

	out[0] = '\0';
	snprintf(path, sizeof(path), "%s/cpuinfo", procfs_root);
	f = fopen(path, "re");
	if (!f)
		return;
	while (fgets(line, sizeof(line), f)) {
		char *colon, *v, *end;

		if (strncmp(line, "model name", 10))
			continue;
		colon = strchr(line, ':');
		if (!colon)
			continue;
		v = colon + 1;
		while (*v == ' ' || *v == '\t')
			v++;
		end = v + strlen(v);
		while (end > v && isspace((unsigned char)end[-1]))
			*--end = '\0';
		snprintf(out, len, "%s", v);
		break;
	}
	fclose(f);
}

static uint64_t read_mem_total(const char *procfs_root)
{
	char path[PATH_MAX], line[256];
	unsigned long long kib;
	uint64_t bytes = 0;
	FILE *f;

	snprintf(path, sizeof(path), "%s/meminfo", procfs_root);
	f = fopen(path, "re");
	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "MemTotal: %llu kB", &kib) == 1) {
			bytes = (uint64_t)kib * 1024;
			break;
		}
	}
	fclose(f);
	return bytes;
}

void topology__free(struct topology *t)
{
	if (!t)
		return;
	free(t->possible);
	free(t->online);
	free(t->pkg_of_cpu);
	free(t->pkg_phys_id);
	free(t->pkg_ncpus);
	memset(t, 0, sizeof(*t));
}

int topology__load(struct topology *t, const char *sysfs_root, const char *procfs_root)
{
	int *phys = NULL, i, j, err;

	memset(t, 0, sizeof(*t));
	if (!sysfs_root)
		sysfs_root = "/sys";
	if (!procfs_root)
		procfs_root = "/proc";

	err = read_cpulist_file(sysfs_root, "possible", &t->possible, &t->n_possible);
	if (err)
		goto fail;
	if (t->n_possible == 0) {
		err = -EINVAL;
		goto fail;
	}
	t->max_cpu = t->possible[t->n_possible - 1];
	/* Without an "online" file every possible CPU is taken as online. */
	err = read_cpulist_file(sysfs_root, "online", &t->online, &t->n_online);
	if (err == -ENOENT) {
		t->online = malloc((size_t)t->n_possible * sizeof(int));
		if (!t->online) {
			err = -ENOMEM;
			goto fail;
		}
		memcpy(t->online, t->possible, (size_t)t->n_possible * sizeof(int));
		t->n_online = t->n_possible;
	} else if (err) {
		goto fail;
	}

	t->pkg_of_cpu = malloc((size_t)(t->max_cpu + 1) * sizeof(int));
	phys = malloc((size_t)(t->max_cpu + 1) * sizeof(int));
	t->pkg_phys_id = calloc((size_t)t->n_online + 1, sizeof(int));
	t->pkg_ncpus = calloc((size_t)t->n_online + 1, sizeof(int));
	if (!t->pkg_of_cpu || !phys || !t->pkg_phys_id || !t->pkg_ncpus) {
		err = -ENOMEM;
		goto fail;
	}
	for (i = 0; i <= t->max_cpu; i++) {
		t->pkg_of_cpu[i] = -1;
		phys[i] = -1;
	}

	/* Distinct physical ids of online CPUs, sorted: their rank is the package index. */
	for (i = 0; i < t->n_online; i++) {
		int cpu = t->online[i], id, pos;

		if (cpu > t->max_cpu)
			continue; /* online but not possible: inconsistent sysfs, ignore */
		id = read_phys_id(sysfs_root, cpu);
		phys[cpu] = id;
		for (pos = 0; pos < t->n_pkgs && t->pkg_phys_id[pos] < id; pos++)
			;
		if (pos < t->n_pkgs && t->pkg_phys_id[pos] == id)
			continue;
		memmove(&t->pkg_phys_id[pos + 1], &t->pkg_phys_id[pos],
			(size_t)(t->n_pkgs - pos) * sizeof(int));
		t->pkg_phys_id[pos] = id;
		t->n_pkgs++;
	}
	for (i = 0; i <= t->max_cpu; i++) {
		if (phys[i] < 0)
			continue;
		for (j = 0; j < t->n_pkgs; j++) {
			if (t->pkg_phys_id[j] == phys[i]) {
				t->pkg_of_cpu[i] = j;
				t->pkg_ncpus[j]++;
				break;
			}
		}
	}
	free(phys);

	read_cpu_model(procfs_root, t->cpu_model, sizeof(t->cpu_model));
	t->ram_total_bytes = read_mem_total(procfs_root);
	return 0;
fail:
	free(phys);
	topology__free(t);
	return err;
}
