/*
 * emissions.csv (CodeCarbon 3.3's 38 columns, one row per run) and processes.csv (one row
 * per process per interval). Row formatting is pure; file handling never leaves a
 * half-written file behind.
 */
#ifndef CB_CSV_H
#define CB_CSV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <time.h>

#define EMISSIONS_CSV_COLUMNS 38
extern const char *const emissions_csv_header[EMISSIONS_CSV_COLUMNS];

/* A value that may be absent: absent values are written as an empty field. */
struct opt_double {
	bool set;
	double v;
};

/* One emissions.csv row. Strings may be NULL (empty field). Units as CodeCarbon's. */
struct emissions_row {
	const char *timestamp;        /* local time YYYY-MM-DDTHH:MM:SS */
	const char *project_name;
	const char *run_id;
	const char *experiment_id;
	double duration_s;
	double emissions_kg;
	double emissions_rate_kg_s;
	struct opt_double cpu_power_w, gpu_power_w, ram_power_w;
	struct opt_double cpu_energy_kwh, gpu_energy_kwh, ram_energy_kwh;
	double energy_consumed_kwh;
	double water_consumed_l;
	const char *country_name, *country_iso_code, *region, *cloud_provider, *cloud_region;
	const char *os, *python_version, *codecarbon_version;
	int cpu_count;
	const char *cpu_model;
	int gpu_count;
	const char *gpu_model;
	struct opt_double longitude, latitude;
	double ram_total_size_gib;
	const char *tracking_mode;    /* "machine" or "process" */
	struct opt_double cpu_utilization_percent, gpu_utilization_percent, ram_utilization_percent;
	struct opt_double ram_used_gb;
	const char *on_cloud;         /* "Y" / "N" */
	double pue, wue;
};

enum csv_write_mode { CSV_APPEND, CSV_UPDATE };

/*
 * Formats one row (no trailing newline) into a malloc'ed string, quoting fields that
 * contain a comma, quote or newline. Returns NULL with errno set on allocation failure.
 */
char *emissions_row_format(const struct emissions_row *row);

/*
 * Writes `row` to path. Missing or empty file: header + row. Existing file whose header
 * differs (compared as sorted lists of names): the old file is renamed to path.bak (or
 * path_0.bak, path_1.bak, ... if taken), a pr_warn says so, and a new file is started.
 * Same names in another order: the row is written in the file's column order.
 * CSV_UPDATE replaces the one row with the same run_id (appends when there are 0 or
 * several, or when row->run_id is NULL). Existing rows are parsed as RFC 4180 (quoted
 * fields may hold commas and newlines) and kept byte for byte. The file is rewritten
 * through a temporary file, fsync(2) and rename(2) in the same directory, so a failure
 * leaves the old file intact; an existing file's mode is kept. A symlink is followed.
 * Returns 0 or -errno (-ENOENT missing directory, -ENOTDIR, -EACCES, -EISDIR, ...).
 */
int emissions_csv_write(const char *path, const struct emissions_row *row, enum csv_write_mode mode);

/* One processes.csv row. */
struct process_row {
	const char *timestamp;      /* local time YYYY-MM-DDTHH:MM:SS */
	uint64_t interval;          /* 1, 2, ...: the measurement interval of the run */
	uint32_t pid;
	uint64_t start_time_ticks;  /* as /proc/PID/stat field 22 (clock ticks since boot) */
	const char *comm;
	const char *cgroup;         /* cgroup v2 path, "" if unknown */
	const char *container_id;   /* from the cgroup path, "" if none */
	const char *experiment_id;  /* ';'-separated ids, "" for processes outside any scope */
	double on_cpu_s;            /* on-CPU seconds in the interval */
	uint64_t cpu_energy_uj, ram_energy_uj; /* exact attributed energy in the interval */
	double cpu_energy_kwh, ram_energy_kwh;
	double emissions_kg;
	double intensity_g_per_kwh;
	const char *intensity_source;
};

/* Column names of processes.csv, comma-separated, no newline. */
extern const char *const processes_csv_header;
/*
 * Formats one processes.csv row (no newline) into buf, quoting like emissions_row_format.
 * Like snprintf: always NUL-terminates when size > 0 and returns the length the whole row
 * needs (excluding the NUL), so a return >= size means it was truncated. -EINVAL if row NULL.
 */
int process_row_format(char *buf, size_t size, const struct process_row *row);

/*
 * Writes v the way Python's repr() (and so pandas' to_csv) does: the shortest digits
 * that read back as v, "1.0" for integral values, exponent form "1e-05" / "1.5e+16" when
 * the decimal exponent is < -4 or >= 16. NaN gives "" (pandas writes NaN as an empty
 * field), infinities "inf" / "-inf". Like snprintf: returns the length needed.
 */
int csv_format_double(char *buf, size_t size, double v);

/*
 * Writes t as local time "YYYY-MM-DDTHH:MM:SS" (no zone, as CodeCarbon's CSV timestamp)
 * into buf. Returns 0, -ERANGE if len < 20, or -EINVAL if t cannot be converted.
 */
int csv_local_timestamp(char *buf, size_t len, time_t t);

#endif
