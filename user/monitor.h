/* `carbonbpf monitor`: the measurement loop tying tracer, energy, attribution, carbon and outputs. */
#ifndef CB_MONITOR_H
#define CB_MONITOR_H

#include <stdbool.h>
#include <sys/types.h>
#include "attribution.h"
#include "carbon.h"
#include "csv.h"
#include "energy.h"
#include "scope.h"
#include "tracer.h"
#include "uploader.h"

struct monitor_opts {
	double measure_power_secs;     /* interval length */
	double duration_secs;          /* 0: until Ctrl-C (or until the tracked processes end) */
	char *const *cmd;              /* NULL or the command to run and track (argv, NULL-ended) */
	const struct scopes *scopes;   /* selectors and experiments; the SCOPE_CMD one is cmd's */
	const char *output_dir;
	const char *output_file;       /* emissions.csv */
	const char *processes_file;    /* processes.csv */
	const char *intervals_file;    /* NULL or per-interval, per-domain energy split */
	enum csv_write_mode csv_mode;
	enum idle_policy idle_policy;
	const char *sysfs_root, *procfs_root;
	struct energy_opts energy;
	struct carbon_intensity intensity;
	bool warn_no_country;          /* intensity is the world average for lack of a country */
	const char *project_name;
	const char *machine_experiment_id; /* experiment_id of the machine row (no scope given) */
	double pue, wue;
	enum tracer_attach attach;
	uint32_t max_processes;        /* 0: from pid_max */
	int top;                       /* processes in the final table */
	bool quiet;                    /* no final table */
	bool api;                      /* upload runs and deltas to the CodeCarbon API */
	struct uploader_opts upload;   /* spool and API settings when api */
	long api_call_interval;        /* measurements per delta; -1: only at stop */
};

/*
 * Runs the monitor. On success returns 0 and sets *exit_code (the command's exit code
 * when one was run, else 0). On failure logs one clear message and returns -errno; no
 * output file is created when the failure happens before measuring starts.
 */
int monitor_run(const struct monitor_opts *o, int *exit_code);

/*
 * Pure: the pids of the descendants of `roots` among the processes (pid, ppid) given,
 * appended to *out (malloc'ed, *n_out entries). Returns 0 or -ENOMEM.
 */
int descendants_of(const pid_t *roots, int n_roots, const pid_t *pid, const pid_t *ppid,
		   size_t n, pid_t **out, size_t *n_out);

#endif
