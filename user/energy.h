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

/* What energy_probe() found for one source. */
enum energy_probe_status {
	ENERGY_PROBE_SELECTED,  /* reads energy and is the source energy__open() uses */
	ENERGY_PROBE_AVAILABLE, /* reads energy, but an earlier source or the configuration wins */
	ENERGY_PROBE_REJECTED,  /* cannot be used; `reason` says why */
};

/* One domain a source would read. */
struct energy_probe_domain {
	char name[32];  /* "package-0", "dram", "psys", "cpu-model" */
	char where[64]; /* "intel-rapl:0", "cpu 0 energy-pkg", "cpu 0 msr 0x611" */
	int pkg;        /* topology package index, or -1 */
	bool is_ram;
};

struct energy_probe_source {
	enum energy_kind kind;
	const char *name;       /* "powercap", "perf power PMU", "msr", "CPU-load model"; static */
	enum energy_probe_status status;
	int err;                /* -errno of a rejected source, else 0 */
	char reason[512];       /* why rejected or not selected; "" when selected */
	int n_domains;
	struct energy_probe_domain domains[ENERGY_MAX_READINGS];
};

#define ENERGY_PROBE_MAX_ZONES 64

/* A powercap zone (a directory with `name` and `energy_uj`) as the powercap source saw it. */
struct energy_probe_zone {
	char id[64];     /* "intel-rapl:0:2" */
	char name[32];   /* its `name` file: "package-0", "dram", "core", "psys" */
	char path[512];  /* the zone's directory */
	int read_err;    /* 0: energy_uj readable by this process, else -errno (-EACCES: root only) */
	bool used;       /* one of the domains the powercap source reads */
	char note[128];  /* when not used: why ("mirror ...", "core/uncore: inside the package") */
};

struct energy_probe_result {
	/* indexed by enum energy_kind: powercap, perf, msr, model */
	struct energy_probe_source src[ENERGY_MODEL + 1];
	enum energy_kind selected; /* what energy__open() would use */
	bool estimated;            /* selected == ENERGY_MODEL: energy will be estimated */
	char powercap_dir[512];    /* powercap directory scanned, "" when there is none */
	int n_zones;               /* zones listed (at most ENERGY_PROBE_MAX_ZONES) */
	bool zones_truncated;      /* more zones existed than listed */
	struct energy_probe_zone zones[ENERGY_PROBE_MAX_ZONES];
	char model[1024];          /* the CPU-load model with its Pmax and TDP origin (always) */
	char describe[1024];       /* energy__describe() of the source energy__open() would open */
};

/*
 * Runs the detection of energy__open() (the same openers, in the same order, with the same
 * options) but tries every source instead of stopping at the first, and reports each one:
 * selected, available or rejected with the reason; the powercap zones found with their
 * names, paths, readability and why each unused one is left out; and the model's
 * parameters. Opens and closes every counter it reads; sleeps about 80 ms per source that
 * needs a probe window. Logs rejections at info level as energy__open() does, and nothing
 * louder. `out` is caller-owned (about 80 KiB: allocate it on the heap). Returns 0 or -errno
 * (-EINVAL bad options, -ENOMEM).
 */
int energy_probe(const struct energy_opts *opts, const struct topology *topo,
		 struct energy_probe_result *out);

/* Static name of a source kind: "powercap", "perf power PMU", "msr", "CPU-load model". */
const char *energy_kind_name(enum energy_kind kind);

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
