/* Internals shared by the energy sources (energy.c, powercap.c, perf_power.c, msr.c); not an API. */
#ifndef CB_ENERGY_PRIV_H
#define CB_ENERGY_PRIV_H

#include <limits.h>
#include <stddef.h>
#include "energy.h"

/* One hardware energy counter that is read every interval. */
struct energy_domain {
	char name[32];        /* reported name: "package-0", "dram", "psys" */
	char where[64];       /* for energy__describe: "intel-rapl:0", "cpu 0 energy-pkg" */
	int pkg;              /* topology package index or -1 */
	bool is_ram;
	char path[PATH_MAX];  /* powercap: the energy_uj file */
	int fd;               /* perf event or msr device, -1 when unused */
	uint32_t msr_reg;     /* msr: the energy status register */
	double uj_per_unit;   /* microjoules per raw count; 1 for powercap */
	uint64_t max_raw;     /* the counter wraps to 0 after this many raw units; 0 unknown */
	uint64_t last_raw;    /* previous raw reading */
	uint64_t cum_raw;     /* raw units counted since open */
	uint64_t emitted_uj;  /* microjoules reported since open */
};

struct energy_source {
	enum energy_kind kind;
	int n_dom;
	struct energy_domain dom[ENERGY_MAX_READINGS];
	/* CPU-load model: one entry per package */
	int n_model;
	int model_pkg[ENERGY_MAX_READINGS];
	int model_ncpus[ENERGY_MAX_READINGS];
	double model_pmax_w[ENERGY_MAX_READINGS];
	/* RAM model, used when no dram counter is read */
	bool ram_modelled;
	double ram_w;
	char desc[1024];
};

/* What every source opener gets: options with defaults applied and the topology. */
struct energy_env {
	const struct energy_opts *opts;
	const char *sysfs_root;
	const char *dev_root;
	const struct topology *topo;
	struct energy_probe_result *probe; /* energy_probe(): openers record what they saw; else NULL */
	bool quiet;                        /* energy_probe(): warnings are reported, not logged */
};

/*
 * Source openers. On success the source's domains are appended to e->dom with their first
 * reading taken, and 0 is returned. Otherwise a negative errno is returned and `why` says
 * in a few words why the source is not used (-ENOMEM alone is fatal to energy__open).
 */
int powercap_open(struct energy_source *e, const struct energy_env *env, char *why, size_t len);
int perf_power_open(struct energy_source *e, const struct energy_env *env, char *why, size_t len);
int msr_open(struct energy_source *e, const struct energy_env *env, char *why, size_t len);

/* Appends a cleared domain (fd -1, pkg -1, 1 uj per unit); NULL when the table is full. */
struct energy_domain *energy_domain_new(struct energy_source *e);
/* Reads the raw value of a domain's counter (file, perf fd or msr). Returns 0 or -errno. */
int energy_domain_read_raw(const struct energy_domain *d, uint64_t *raw);
/* Reads an unsigned decimal from a sysfs-style file. Returns 0, -errno, or -EINVAL. */
int energy_read_u64_file(const char *path, uint64_t *v);
/* Reads a small text file, trailing white space removed. Returns 0 or -errno. */
int energy_read_text(const char *path, char *buf, size_t len);
/* Topology package index of a physical package id, or -1. */
int energy_pkg_of_phys(const struct topology *t, int phys_id);
/* Sleeps for the short probe window used to reject counters that stay at 0. */
void energy_probe_sleep(void);

#endif
