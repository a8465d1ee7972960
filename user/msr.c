/* RAPL energy through the msr driver (<dev>/cpu/N/msr), one CPU per package. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "energy_priv.h"
#include "log.h"

/* Intel SDM vol. 4, "RAPL interfaces"; AMD PPR "MSRC001_0299/029B". */
#define MSR_RAPL_POWER_UNIT 0x606
#define MSR_PKG_ENERGY_STATUS 0x611
#define MSR_DRAM_ENERGY_STATUS 0x619
#define MSR_AMD_RAPL_POWER_UNIT 0xc0010299
#define MSR_AMD_PKG_ENERGY_STATUS 0xc001029b

static int rdmsr(int fd, uint32_t reg, uint64_t *v)
{
	ssize_t got = pread(fd, v, sizeof(*v), reg);

	if (got == (ssize_t)sizeof(*v))
		return 0;
	return got < 0 ? -errno : -EIO;
}

int msr_open(struct energy_source *e, const struct energy_env *env, char *why, size_t len)
{
	const struct topology *t = env->topo;
	bool amd = !strncmp(t->cpu_model, "AMD", 3);
	uint32_t unit_reg = amd ? MSR_AMD_RAPL_POWER_UNIT : MSR_RAPL_POWER_UNIT;
	uint32_t pkg_reg = amd ? MSR_AMD_PKG_ENERGY_STATUS : MSR_PKG_ENERGY_STATUS;
	char path[PATH_MAX];
	int p, err = 0;

	if (t->n_pkgs == 0) {
		snprintf(why, len, "no package in the topology");
		return -ENODEV;
	}
	for (p = 0; p < t->n_pkgs; p++) {
		struct energy_domain *d;
		uint64_t unit, v;
		double uj_per_unit;
		int cpu = -1, fd;

		for (int i = 0; i < t->n_online && cpu < 0; i++)
			if (t->online[i] <= t->max_cpu && t->pkg_of_cpu[t->online[i]] == p)
				cpu = t->online[i];
		if (cpu < 0)
			continue;
		snprintf(path, sizeof(path), "%s/cpu/%d/msr", env->dev_root, cpu);
		fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd < 0) {
			err = -errno;
			if (err == -ENOENT || err == -ENXIO || err == -ENODEV)
				snprintf(why, len, "%s missing: msr module not loaded (modprobe msr)",
					 path);
			else if (err == -EACCES || err == -EPERM)
				snprintf(why, len, "%s: %s (needs root with CAP_SYS_RAWIO)", path,
					 strerror(-err));
			else
				snprintf(why, len, "%s: %s", path, strerror(-err));
			return err;
		}
		err = rdmsr(fd, unit_reg, &unit);
		if (err) {
			close(fd);
			snprintf(why, len, "rdmsr 0x%x on cpu %d: %s", unit_reg, cpu, strerror(-err));
			return err;
		}
		/* Energy status unit, bits 12:8: the counter counts 1/2^ESU joules. */
		uj_per_unit = 1e6 / (double)(1ULL << ((unit >> 8) & 0x1f));
		err = rdmsr(fd, pkg_reg, &v);
		if (err) {
			close(fd);
			snprintf(why, len, "rdmsr 0x%x on cpu %d: %s", pkg_reg, cpu, strerror(-err));
			return err;
		}
		d = energy_domain_new(e);
		if (!d) {
			close(fd);
			snprintf(why, len, "too many packages");
			return -E2BIG;
		}
		d->fd = fd;
		d->pkg = p;
		d->msr_reg = pkg_reg;
		d->uj_per_unit = uj_per_unit;
		d->max_raw = 1ULL << 32;
		snprintf(d->name, sizeof(d->name), "package-%d", t->pkg_phys_id[p]);
		snprintf(d->where, sizeof(d->where), "cpu %d msr 0x%x", cpu, pkg_reg);

		/*
		 * DRAM energy on Intel only; some server parts count it in a fixed unit that the
		 * unit MSR does not give (SDM "DRAM RAPL Domain"): the package unit is used.
		 */
		if (env->opts->include_dram && !amd && !rdmsr(fd, MSR_DRAM_ENERGY_STATUS, &v)) {
			struct energy_domain *r = energy_domain_new(e);

			if (!r) {
				snprintf(why, len, "too many packages");
				return -E2BIG;
			}
			*r = *d;
			r->fd = dup(fd);
			if (r->fd < 0) {
				err = -errno;
				snprintf(why, len, "dup: %s", strerror(-err));
				return err;
			}
			r->msr_reg = MSR_DRAM_ENERGY_STATUS;
			r->is_ram = true;
			snprintf(r->name, sizeof(r->name), "dram");
			snprintf(r->where, sizeof(r->where), "cpu %d msr 0x%x", cpu,
				 MSR_DRAM_ENERGY_STATUS);
		}
	}

	/* VMs that emulate the msr device often return 0: require energy over a short probe. */
	energy_probe_sleep();
	err = -ENODATA;
	for (int i = 0; i < e->n_dom; i++) {
		int rerr = energy_domain_read_raw(&e->dom[i], &e->dom[i].last_raw);

		if (rerr) {
			snprintf(why, len, "reading %s: %s", e->dom[i].where, strerror(-rerr));
			return rerr;
		}
		if (e->dom[i].last_raw)
			err = 0;
	}
	if (err)
		snprintf(why, len, "RAPL MSRs stayed at 0 over an 80 ms probe (virtual machine?)");
	return err;
}
