/* perf_event `power` PMU energy source (energy-pkg / energy-ram / energy-psys), one event per socket. */
#include <errno.h>
#include <linux/perf_event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>
#include "energy_priv.h"
#include "log.h"

#define PMU_DIR "/bus/event_source/devices/power"

struct pmu_event {
	const char *name;   /* "energy-pkg" */
	uint64_t config;
	double uj_per_count;
};

/* Reads events/<name> ("event=0x02"), .scale (J per count) and .unit. Returns 0 or -errno. */
static int read_event(const char *base, const char *name, struct pmu_event *ev, char *why,
		      size_t len)
{
	char path[PATH_MAX], buf[128], *end;
	double scale;
	int err;

	ev->name = name;
	snprintf(path, sizeof(path), "%s/events/%s", base, name);
	err = energy_read_text(path, buf, sizeof(buf));
	if (err) {
		snprintf(why, len, "no %s event (%s)", name, strerror(-err));
		return err;
	}
	/* The power PMU's only format term is event (config:0-7). */
	if (strncmp(buf, "event=", 6)) {
		snprintf(why, len, "%s: unsupported event '%s'", name, buf);
		return -EINVAL;
	}
	errno = 0;
	ev->config = strtoull(buf + 6, &end, 0);
	if (errno || *end) {
		snprintf(why, len, "%s: unsupported event '%s'", name, buf);
		return -EINVAL;
	}
	snprintf(path, sizeof(path), "%s/events/%s.unit", base, name);
	if (!energy_read_text(path, buf, sizeof(buf)) && strcmp(buf, "Joules")) {
		snprintf(why, len, "%s counts in '%s', not Joules", name, buf);
		return -EINVAL;
	}
	snprintf(path, sizeof(path), "%s/events/%s.scale", base, name);
	err = energy_read_text(path, buf, sizeof(buf));
	if (err) {
		snprintf(why, len, "%s.scale: %s", name, strerror(-err));
		return err;
	}
	scale = strtod(buf, &end);
	if (*end || !(scale > 0)) {
		snprintf(why, len, "%s.scale: bad value '%s'", name, buf);
		return -EINVAL;
	}
	ev->uj_per_count = scale * 1e6;
	return 0;
}

static int open_event(struct energy_source *e, int type, const struct pmu_event *ev, int cpu,
		      int pkg, const char *dname, bool is_ram, char *why, size_t len)
{
	struct perf_event_attr attr;
	struct energy_domain *d;
	int fd, err;

	memset(&attr, 0, sizeof(attr));
	attr.type = (uint32_t)type;
	attr.size = sizeof(attr);
	attr.config = ev->config;
	fd = (int)syscall(__NR_perf_event_open, &attr, -1, cpu, -1, PERF_FLAG_FD_CLOEXEC);
	if (fd < 0) {
		err = -errno;
		if (err == -EACCES || err == -EPERM)
			snprintf(why, len,
				 "perf_event_open(%s, cpu %d): %s (needs root or CAP_PERFMON, or kernel.perf_event_paranoid <= 0)",
				 ev->name, cpu, strerror(-err));
		else
			snprintf(why, len, "perf_event_open(%s, cpu %d): %s", ev->name, cpu,
				 strerror(-err));
		return err;
	}
	d = energy_domain_new(e);
	if (!d) {
		close(fd);
		snprintf(why, len, "too many events");
		return -E2BIG;
	}
	d->fd = fd;
	d->pkg = pkg;
	d->is_ram = is_ram;
	d->uj_per_unit = ev->uj_per_count;
	d->max_raw = 0; /* 64-bit count accumulated by the kernel: does not wrap */
	snprintf(d->name, sizeof(d->name), "%s", dname);
	snprintf(d->where, sizeof(d->where), "cpu %d %s", cpu, ev->name);
	return 0;
}

int perf_power_open(struct energy_source *e, const struct energy_env *env, char *why, size_t len)
{
	const struct topology *t = env->topo;
	const struct energy_opts *o = env->opts;
	struct pmu_event pkg_ev, ram_ev, psys_ev;
	bool have_pkg, have_ram = false, have_psys = false, use_psys;
	char base[PATH_MAX], path[PATH_MAX + 16], buf[4096], sub[256];
	int *cpus = NULL, ncpus = 0, type, err, i;
	uint64_t v;

	/* Events are opened in the running kernel; an injected tree does not describe it. */
	if (strcmp(env->sysfs_root, "/sys")) {
		snprintf(why, len, "sysfs root %s is injected: real perf events are not opened against it",
			 env->sysfs_root);
		return -ENODEV;
	}
	snprintf(base, sizeof(base), "%s" PMU_DIR, env->sysfs_root);
	snprintf(path, sizeof(path), "%s/type", base);
	err = energy_read_u64_file(path, &v);
	if (err) {
		snprintf(why, len, "no power PMU (%s: %s)", path, strerror(-err));
		return -ENODEV;
	}
	type = (int)v;
	snprintf(path, sizeof(path), "%s/cpumask", base);
	err = energy_read_text(path, buf, sizeof(buf));
	if (!err)
		err = cpulist_parse(buf, &cpus, &ncpus);
	if (err || ncpus == 0) {
		snprintf(why, len, "power PMU cpumask unreadable");
		free(cpus);
		return err == -ENOMEM ? -ENOMEM : -ENODEV;
	}

	have_pkg = !read_event(base, "energy-pkg", &pkg_ev, sub, sizeof(sub));
	if (o->include_dram)
		have_ram = !read_event(base, "energy-ram", &ram_ev, sub, sizeof(sub));
	if (o->prefer_psys || !have_pkg)
		have_psys = !read_event(base, "energy-psys", &psys_ev, sub, sizeof(sub));
	use_psys = have_psys && (o->prefer_psys || !have_pkg);
	if (!have_pkg && !use_psys) {
		snprintf(why, len, "power PMU has no energy-pkg or energy-psys event");
		err = -ENODEV;
		goto out;
	}

	if (use_psys) {
		/* psys covers the whole platform: one event, on the first CPU of the mask. */
		err = open_event(e, type, &psys_ev, cpus[0], -1, "psys", false, why, len);
		if (err)
			goto out;
	} else {
		for (i = 0; i < ncpus; i++) {
			int cpu = cpus[i], pkg = -1;
			char dname[32];

			if (cpu <= t->max_cpu)
				pkg = t->pkg_of_cpu[cpu];
			snprintf(dname, sizeof(dname), "package-%d",
				 pkg >= 0 ? t->pkg_phys_id[pkg] : i);
			err = open_event(e, type, &pkg_ev, cpu, pkg, dname, false, why, len);
			if (err)
				goto out;
			if (have_ram) {
				err = open_event(e, type, &ram_ev, cpu, pkg, "dram", true, why, len);
				if (err)
					goto out;
			}
		}
	}

	/* Some VMs expose the PMU but count nothing: require energy over a short probe. */
	energy_probe_sleep();
	err = -ENODATA;
	for (i = 0; i < e->n_dom; i++) {
		int rerr = energy_domain_read_raw(&e->dom[i], &e->dom[i].last_raw);

		if (rerr) {
			snprintf(why, len, "reading %s: %s", e->dom[i].where, strerror(-rerr));
			err = rerr;
			goto out;
		}
		if (e->dom[i].last_raw)
			err = 0;
	}
	if (err)
		snprintf(why, len, "power PMU counters stayed at 0 over an 80 ms probe (virtual machine?)");
out:
	free(cpus);
	return err;
}
