/*
 * Energy sources: powercap (RAPL) sysfs, the perf `power` PMU, MSRs, and a CPU-load model
 * where none of them reads real energy. One interface: energy in integer microjoules per
 * domain for each interval, counted from counter differences, wraparound handled.
 */
#ifndef CB_ENERGY_H
#define CB_ENERGY_H

#include <stdbool.h>
#include <stdint.h>
#include "topology.h"

#define ENERGY_MAX_READINGS 64

enum energy_kind { ENERGY_POWERCAP, ENERGY_PERF, ENERGY_MSR, ENERGY_MODEL };

struct energy_opts {
	const char *sysfs_root;    /* "/sys" unless injected */
	const char *dev_root;      /* "/dev" unless injected (MSR) */
	bool prefer_psys;          /* rapl_prefer_psys */
	bool include_dram;         /* rapl_include_dram */
	bool force_model;          /* force_mode_cpu_load */
	double force_cpu_power_w;  /* > 0: model with this max power instead of TDP (force_cpu_power) */
	double force_ram_power_w;  /* > 0: RAM power (force_ram_power) */
};

/* Energy of one domain over one interval. */
struct energy_reading {
	char name[32];       /* "package-0", "dram", "psys", "cpu-model", "ram-model" */
	int pkg;             /* topology package index, or -1: the domain covers every CPU */
	bool is_ram;         /* reported as ram energy (dram domain or the RAM model) */
	uint64_t energy_uj;  /* energy in the interval, microjoules */
};

struct energy_sample {
	int n;
	struct energy_reading r[ENERGY_MAX_READINGS];
};

struct energy_source;

/*
 * Detects the sources in order (powercap, perf PMU, MSR, model), opens the first that
 * reads real energy, and takes its first counter reading. Every rejected source and the
 * reason is logged at info level. Never fails for lack of hardware: the model is the
 * last resort. Returns 0 or -errno (out of memory, bad options).
 */
int energy__open(struct energy_source **out, const struct energy_opts *opts,
		 const struct topology *topo);

/*
 * Energy since the previous call (or since open). busy_ns[pkg] is the busy (non-idle)
 * CPU time of each package in the interval and interval_ns the wall time; only the model
 * uses them. A domain whose sample must be dropped (wrap with unknown maximum) is left
 * out of `out` with a warning. Returns 0 or -errno.
 */
int energy__read(struct energy_source *e, const uint64_t *busy_ns, uint64_t interval_ns,
		 struct energy_sample *out);

enum energy_kind energy__kind(const struct energy_source *e);
/* True when the figures come from a model, not a hardware counter. */
bool energy__estimated(const struct energy_source *e);
/* One line naming the source and its domains or model parameters, e.g.
 * "powercap: package-0 (intel-rapl:0), dram (intel-rapl:0:2)" or
 * "CPU-load model P = 85.0 W x (0.1 + 0.9 x load^3) per socket (TDP of 'Xeon X': unknown, CodeCarbon default)". */
const char *energy__describe(const struct energy_source *e);
void energy__free(struct energy_source *e);

/*
 * Pure: counter difference now - prev for a counter that wraps at max_range_uj.
 * now < prev means one wrap: delta = max_range_uj - prev + now. Returns 0, or -ERANGE
 * when it wrapped and max_range_uj is 0 (unknown): the sample must be dropped.
 */
int energy_counter_delta(uint64_t prev, uint64_t now, uint64_t max_range_uj, uint64_t *delta);

/* Pure: CodeCarbon's CPU-load model, watts = max_power_w * (0.1 + 0.9 * load^3), load 0..1. */
double energy_cpu_model_w(double max_power_w, double load);
/* Pure: CodeCarbon's RAM model, watts for total_gib of RAM (x86: 5 W per DIMM, floor 10 W). */
double energy_ram_model_w(double total_gib);

#endif
