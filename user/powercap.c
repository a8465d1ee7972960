/* powercap (RAPL) sysfs energy source: finds the zones, picks the domains, counts mirrors once. */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include "energy_priv.h"
#include "log.h"

#define PC_MAX_ZONES 128
#define PC_MAX_DEPTH 4

enum zone_type { Z_PKG, Z_DRAM, Z_PSYS, Z_OTHER };

struct pc_zone {
	char id[64];         /* directory name: "intel-rapl:0:2", "intel-rapl-mmio:0" */
	char dir[PATH_MAX - 32];  /* room left for "/max_energy_range_uj" */
	bool mmio;           /* under the intel-rapl-mmio control type */
	int depth;           /* 1: top-level zone, 2: its subzone, ... (indices in the id) */
	char name[32];       /* contents of the `name` file */
	enum zone_type type;
	int pkg_phys;        /* N of package-N[-die-M] (a subzone: its parent's), else -1 */
	int err;             /* 0, or -errno reading energy_uj */
	bool dropped;        /* a mirror of another zone, or not chosen */
	bool unwanted;       /* not chosen: another type is read, or never added */
	bool merged;         /* stands for mirrors found by equal readings */
	const char *mirror;  /* id of the zone kept in its place, when a mirror */
};

struct pc_scan {
	int n;
	struct pc_zone z[PC_MAX_ZONES];
};

static struct pc_zone *find_zone(struct pc_scan *s, const char *id)
{
	for (int i = 0; i < s->n; i++)
		if (!strcmp(s->z[i].id, id))
			return &s->z[i];
	return NULL;
}

/* "intel-rapl:0:2" -> mmio false, depth 2. Returns 0, or -EINVAL for other names. */
static int parse_zone_id(const char *id, bool *mmio, int *depth)
{
	const char *p;

	if (!strncmp(id, "intel-rapl-mmio:", 16)) {
		*mmio = true;
		p = id + 16;
	} else if (!strncmp(id, "intel-rapl:", 11)) {
		*mmio = false;
		p = id + 11;
	} else {
		return -EINVAL;
	}
	*depth = 1;
	if (*p < '0' || *p > '9')
		return -EINVAL;
	for (; *p; p++) {
		if (*p == ':') {
			if (p[1] < '0' || p[1] > '9')
				return -EINVAL;
			(*depth)++;
		} else if (*p < '0' || *p > '9') {
			return -EINVAL;
		}
	}
	return 0;
}

static void add_zone(struct pc_scan *s, const char *dir, const char *id)
{
	char path[PATH_MAX + 16];
	struct pc_zone *z;
	uint64_t v;
	struct stat st;
	bool mmio;
	int depth;

	if (s->n >= PC_MAX_ZONES || find_zone(s, id) || parse_zone_id(id, &mmio, &depth))
		return;
	if (strlen(dir) >= sizeof(z->dir) || strlen(id) >= sizeof(z->id))
		return;
	z = &s->z[s->n];
	memset(z, 0, sizeof(*z));
	memcpy(z->id, id, strlen(id) + 1);
	snprintf(z->dir, sizeof(z->dir), "%s", dir);
	z->mmio = mmio;
	z->depth = depth;
	z->pkg_phys = -1;
	snprintf(path, sizeof(path), "%s/name", dir);
	if (energy_read_text(path, z->name, sizeof(z->name)) || !z->name[0])
		return;
	/* A zone without energy_uj has no counter (a constraint-only zone): not a domain. */
	snprintf(path, sizeof(path), "%s/energy_uj", dir);
	if (stat(path, &st))
		return;
	z->err = energy_read_u64_file(path, &v);
	s->n++;
}

/*
 * Collects every zone below root. /sys/class/powercap holds flat links to all zones, the
 * devices/virtual/powercap tree nests subzones in their parent; only entries named
 * intel-rapl* are followed (never `subsystem` or `device`, which loop back).
 */
static void scan_dir(struct pc_scan *s, const char *dir, int level)
{
	char path[PATH_MAX];
	struct dirent *de;
	struct stat st;
	DIR *d;

	d = opendir(dir);
	if (!d)
		return;
	while ((de = readdir(d))) {
		if (strncmp(de->d_name, "intel-rapl", 10))
			continue;
		if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir, de->d_name) >= sizeof(path))
			continue;
		if (stat(path, &st) || !S_ISDIR(st.st_mode))
			continue;
		if (strchr(de->d_name, ':'))
			add_zone(s, path, de->d_name);
		if (level < PC_MAX_DEPTH)
			scan_dir(s, path, level + 1);
	}
	closedir(d);
}

/* "package-3" or "package-3-die-1" -> 3; -1 otherwise. */
static int package_phys(const char *name)
{
	int n, die, pos = -1, pos2 = -1;

	if (sscanf(name, "package-%d%n", &n, &pos) != 1 || pos < 0 || n < 0)
		return -1;
	if (name[pos] == '\0')
		return n;
	if (sscanf(name + pos, "-die-%d%n", &die, &pos2) == 1 && pos2 > 0 && name[pos + pos2] == '\0')
		return n;
	return -1;
}

static void classify(struct pc_scan *s)
{
	for (int i = 0; i < s->n; i++) {
		struct pc_zone *z = &s->z[i];

		z->type = Z_OTHER;
		if (z->depth == 1 && package_phys(z->name) >= 0) {
			z->type = Z_PKG;
			z->pkg_phys = package_phys(z->name);
		} else if (z->depth == 1 && !strcmp(z->name, "psys")) {
			z->type = Z_PSYS;
		} else if (!strcmp(z->name, "dram")) {
			z->type = Z_DRAM;
		}
	}
	/* A subzone belongs to the package its parent zone names. */
	for (int i = 0; i < s->n; i++) {
		struct pc_zone *z = &s->z[i], *parent;
		char pid[64];
		char *colon;

		if (z->depth < 2)
			continue;
		snprintf(pid, sizeof(pid), "%s", z->id);
		colon = strrchr(pid, ':');
		*colon = '\0';
		parent = find_zone(s, pid);
		while (parent && parent->depth > 1) {
			colon = strrchr(pid, ':');
			*colon = '\0';
			parent = find_zone(s, pid);
		}
		if (parent && parent->type == Z_PKG)
			z->pkg_phys = parent->pkg_phys;
	}
}

static int zone_read(const struct pc_zone *z, uint64_t *v)
{
	char path[PATH_MAX + 16];

	snprintf(path, sizeof(path), "%s/energy_uj", z->dir);
	return energy_read_u64_file(path, v);
}

/*
 * Whether two readable zones show one counter: a, b, a again; when a did not move in
 * between, b must equal it. Retried a few times should the counter tick during the reads.
 */
static bool same_counter(const struct pc_zone *a, const struct pc_zone *b)
{
	uint64_t a1, b1, a2;

	for (int i = 0; i < 5; i++) {
		if (zone_read(a, &a1) || zone_read(b, &b1) || zone_read(a, &a2))
			return false;
		if (a1 == a2)
			return b1 == a1;
	}
	return b1 == a1 || b1 == a2;
}

static int cmp_zone(const void *pa, const void *pb)
{
	const struct pc_zone *a = pa, *b = pb;

	if (a->type != b->type)
		return (int)a->type - (int)b->type;
	if (a->pkg_phys != b->pkg_phys)
		return a->pkg_phys - b->pkg_phys;
	if (a->depth != b->depth)
		return a->depth - b->depth;
	/* MMIO first: of the MSR and MMIO copies of a domain the MMIO one is preferred. */
	if (a->mmio != b->mmio)
		return a->mmio ? -1 : 1;
	return strcmp(a->id, b->id);
}

static bool wanted(const struct pc_zone *z, enum zone_type main_type, bool include_dram)
{
	if (z->type == main_type)
		return true;
	return include_dram && main_type == Z_PKG && z->type == Z_DRAM;
}

/*
 * Counting mirrors once. Zones are candidates for being one counter only when they stand
 * for the same thing by name: same type and same package number (package-0,
 * package-0-die-1 and the MMIO package-0 all say package 0; psys with psys; a dram with
 * the dram of the same package). Among them:
 *  - the MSR (intel-rapl) and MMIO (intel-rapl-mmio) zones with the same name are two
 *    interfaces to one RAPL register: always one counter, the MMIO copy preferred when
 *    readable (as CodeCarbon does), else the MSR one;
 *  - any other pair (dies of one package, two zones with one name) is one counter only
 *    when their readings are equal (same_counter); dies with their own counters differ
 *    and are all counted, each charged to the package.
 * A zone left unreadable cannot be compared and is kept, so that powercap is rejected
 * rather than silently missing energy.
 */
static void drop_mirrors(struct pc_scan *s, int lo, int hi)
{
	for (int i = lo; i < hi; i++) {
		struct pc_zone *a = &s->z[i];

		if (a->dropped)
			continue;
		for (int j = i + 1; j < hi; j++) {
			struct pc_zone *b = &s->z[j];

			if (b->dropped || a->depth != b->depth)
				continue;
			if (a->mmio != b->mmio && !strcmp(a->name, b->name)) {
				if (a->err && !b->err) {
					a->dropped = true;
					a->mirror = b->id;
					break;
				}
				b->dropped = true;
				b->mirror = a->id;
			} else if (!a->err && !b->err && same_counter(a, b)) {
				b->dropped = true;
				b->mirror = a->id;
				a->merged = true;
			}
		}
	}
}

static const char *type_word(enum zone_type t)
{
	switch (t) {
	case Z_PKG:
		return "package";
	case Z_PSYS:
		return "psys";
	case Z_DRAM:
		return "dram";
	default:
		return "other";
	}
}

/* Why a zone that is not read was left out, for energy_probe(). */
static void zone_note(const struct pc_zone *z, enum zone_type main_type, bool include_dram,
		      char *buf, size_t len)
{
	if (z->mirror)
		snprintf(buf, len, "mirror of %s: one counter, counted once", z->mirror);
	else if (!z->unwanted)
		buf[0] = '\0';
	else if (z->type == Z_OTHER)
		snprintf(buf, len, "%s: %s", z->name,
			 z->pkg_phys >= 0 ? "part of the package's energy, never added on top"
					  : "not a package, dram or psys domain");
	else if (z->type == Z_DRAM && main_type == Z_PKG && !include_dram)
		snprintf(buf, len, "dram: not added (rapl_include_dram is false)");
	else if (main_type == Z_PSYS)
		snprintf(buf, len, "%s: psys is read instead (it covers the platform)",
			 type_word(z->type));
	else
		snprintf(buf, len, "%s: package domains are read instead (rapl_prefer_psys is false)",
			 type_word(z->type));
}

/* Copies the zones and their fate into env->probe (energy_probe() only). */
static void record_zones(const struct energy_env *env, const struct pc_scan *s,
			 enum zone_type main_type)
{
	struct energy_probe_result *p = env->probe;

	if (!p)
		return;
	p->n_zones = 0;
	p->zones_truncated = s->n > ENERGY_PROBE_MAX_ZONES;
	for (int i = 0; i < s->n && i < ENERGY_PROBE_MAX_ZONES; i++) {
		const struct pc_zone *z = &s->z[i];
		struct energy_probe_zone *o = &p->zones[p->n_zones++];

		snprintf(o->id, sizeof(o->id), "%s", z->id);
		snprintf(o->name, sizeof(o->name), "%s", z->name);
		snprintf(o->path, sizeof(o->path), "%.*s", (int)sizeof(o->path) - 1, z->dir);
		o->read_err = z->err;
		o->used = !z->dropped;
		zone_note(z, main_type, env->opts->include_dram, o->note, sizeof(o->note));
	}
}

int powercap_open(struct energy_source *e, const struct energy_env *env, char *why, size_t len)
{
	const struct energy_opts *o = env->opts;
	enum zone_type main_type;
	char root[PATH_MAX];
	struct pc_scan *s;
	bool has_pkg = false, has_psys = false;
	struct stat st;
	int i, err = 0;

	snprintf(root, sizeof(root), "%s/class/powercap", env->sysfs_root);
	if (stat(root, &st)) {
		snprintf(root, sizeof(root), "%s/devices/virtual/powercap", env->sysfs_root);
		if (stat(root, &st)) {
			snprintf(why, len, "no powercap in %s (no RAPL driver, or a VM)", env->sysfs_root);
			return -ENODEV;
		}
	}
	if (env->probe)
		snprintf(env->probe->powercap_dir, sizeof(env->probe->powercap_dir), "%.*s",
			 (int)sizeof(env->probe->powercap_dir) - 1, root);
	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	scan_dir(s, root, 0);
	classify(s);
	for (i = 0; i < s->n; i++) {
		has_pkg |= s->z[i].type == Z_PKG;
		has_psys |= s->z[i].type == Z_PSYS;
	}
	if (o->prefer_psys && has_psys) {
		main_type = Z_PSYS;
	} else if (has_pkg) {
		main_type = Z_PKG;
	} else if (has_psys) {
		main_type = Z_PSYS;
	} else {
		for (i = 0; i < s->n; i++)
			s->z[i].unwanted = s->z[i].dropped = true;
		record_zones(env, s, Z_PKG);
		snprintf(why, len, s->n ? "no package or psys domain under %s" : "no RAPL zone under %s",
			 root);
		err = -ENODEV;
		goto out;
	}
	/* psys covers the platform, DRAM included: never added to it. */
	for (i = 0; i < s->n; i++)
		s->z[i].unwanted = s->z[i].dropped = !wanted(&s->z[i], main_type, o->include_dram);
	qsort(s->z, (size_t)s->n, sizeof(s->z[0]), cmp_zone);
	for (int lo = 0, hi; lo < s->n; lo = hi) {
		for (hi = lo + 1; hi < s->n && s->z[hi].type == s->z[lo].type &&
				  s->z[hi].pkg_phys == s->z[lo].pkg_phys;
		     hi++)
			;
		drop_mirrors(s, lo, hi);
	}
	record_zones(env, s, main_type);

	for (i = 0; i < s->n; i++) {
		const struct pc_zone *z = &s->z[i];

		if (z->dropped || !z->err)
			continue;
		err = z->err;
		if (err == -EACCES || err == -EPERM) {
			/* The one diagnostic for this: the kernel made energy_uj root-only (CVE-2020-8694). */
			if (!env->quiet)
				pr_warn("powercap: cannot read %s/energy_uj: %s. RAPL energy counters are root-only on current kernels: run carbonbpf as root, or `sudo chmod a+r %s/*/energy_uj` (every zone). Falling back to the next energy source.",
					z->dir, strerror(-err), root);
			if (env->quiet) /* the warning above was not given: the reason says it all */
				snprintf(why, len,
					 "%s/energy_uj not readable by this user: root-only on current kernels (run as root, or `sudo chmod a+r %s/*/energy_uj`)",
					 z->dir, root);
			else
				snprintf(why, len, "energy_uj not readable by this user");
		} else {
			snprintf(why, len, "cannot read %s/energy_uj: %s", z->dir, strerror(-err));
		}
		goto out;
	}

	for (i = 0; i < s->n; i++) {
		const struct pc_zone *z = &s->z[i];
		struct energy_domain *d;
		char path[PATH_MAX + 32];

		if (z->dropped)
			continue;
		d = energy_domain_new(e);
		if (!d) {
			snprintf(why, len, "more than %d domains", ENERGY_MAX_READINGS - 1);
			err = -E2BIG;
			goto out;
		}
		/* dies found to repeat one package counter report it as the package */
		if (z->merged && z->type == Z_PKG)
			snprintf(d->name, sizeof(d->name), "package-%d", z->pkg_phys);
		else
			snprintf(d->name, sizeof(d->name), "%s", z->name);
		snprintf(d->where, sizeof(d->where), "%s", z->id);
		d->pkg = z->pkg_phys >= 0 ? energy_pkg_of_phys(env->topo, z->pkg_phys) : -1;
		d->is_ram = z->type == Z_DRAM;
		snprintf(d->path, sizeof(d->path), "%s/energy_uj", z->dir);
		snprintf(path, sizeof(path), "%s/max_energy_range_uj", z->dir);
		if (energy_read_u64_file(path, &d->max_raw))
			d->max_raw = 0;
		if (d->max_raw == 0 && !env->quiet)
			pr_warn("powercap: %s (%s) has no usable max_energy_range_uj: an interval in which it wraps will be dropped",
				d->name, d->where);
		err = energy_domain_read_raw(d, &d->last_raw);
		if (err) {
			snprintf(why, len, "cannot read %s: %s", d->path, strerror(-err));
			goto out;
		}
		if (z->pkg_phys >= 0 && d->pkg < 0)
			pr_debug("powercap: %s: no online CPU has physical package id %d",
				 d->where, z->pkg_phys);
	}
out:
	free(s);
	return err;
}
