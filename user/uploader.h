/*
 * Durable upload of runs and emission deltas to the CodeCarbon API: every run and delta
 * is synced to an on-disk spool before it is queued, a background thread sends them in
 * order and removes each only after the server's 201, retrying with capped exponential
 * backoff; a later session resumes what an earlier one left.
 *
 * Spool layout (spool_dir, 0700): one directory per run, named by a local UUID, holding
 * `run` (the POST /runs fields, endpoint and experiment id; key=value text), `server_run_id`
 * once the server created the run, `delta-NNNNNNNNNNNN` (one per emission delta, in order)
 * and `lock` (flock'ed by the process that owns the run, so two carbonbpf processes never
 * send the same run). Every file is written to a temporary name, fsync'ed, renamed and the
 * directory fsync'ed. A run's directory is removed once its session ended and every delta
 * was accepted. No token is ever written to the spool.
 *
 * Delivery: each delta reaches the server once, except when carbonbpf is killed between the
 * server's 201 and the removal of the spool file, or when the server stored a delta but its
 * answer never arrived (timeout, reset): that delta is then sent again.
 */
#ifndef CB_UPLOADER_H
#define CB_UPLOADER_H

#include <stdbool.h>
#include <stddef.h>
#include "api.h"
#include "emission_delta.h"

struct uploader;
struct uploader_run;

struct uploader_opts {
	const char *spool_dir;       /* created 0700 when missing (missing parents 0755) */
	const char *endpoint;        /* API base URL */
	const char *api_key;         /* default project token (x-api-token); may be NULL */
	const char *ca_file;         /* NULL: system CA store */
	long timeout_s;              /* per request, connect + transfer (0: 2 s) */
	long backoff_initial_ms;     /* first retry delay (0: 1000) */
	long backoff_max_ms;         /* cap of the doubling delay (0: 60000) */
	bool no_resume;              /* leave runs of earlier sessions alone */
};

/* How far the upload is; counts over every run the uploader knows. */
struct uploader_summary {
	size_t deltas_pending;       /* in the spool, not yet accepted */
	size_t runs_pending;         /* spooled runs the server has not created yet */
	size_t runs_failed;          /* refused with a 4xx: nothing more sent for them */
	bool rejected;               /* some request was refused with a 4xx */
	double retry_in_s;           /* > 0 while backing off after a failure */
	char last_error[API_MSG_LEN]; /* "" or the last failure, tokens masked */
};

/*
 * Opens (creating it 0700) the spool, takes over the runs an earlier process left there
 * (unless no_resume; only those recorded for the same endpoint, and not locked by a live
 * process), and starts the sender thread. The strings are copied. Returns 0 with *out
 * (caller ends it with uploader__finish) or -errno (-EINVAL bad opts, -EACCES, -ENOMEM...).
 * Logs once (pr_err) what failed, naming the spool directory; pr_info when it resumes.
 */
int uploader__open(struct uploader **out, const struct uploader_opts *o);

/*
 * Spools a new run (POST /runs with `run`'s fields, experiment_id required) and queues its
 * creation; api_key NULL: the default. Local disk I/O only: returns once the run is synced
 * to the spool, never waiting for the network. *out stays valid until uploader__finish.
 * Returns 0 or -errno (-EINVAL, -ENOSPC, -EIO...; logged).
 */
int uploader__begin_run(struct uploader *u, const struct api_run *run, const char *api_key,
			struct uploader_run **out);

/*
 * Writes delta d of run r to the spool, fsyncs file and directory, then wakes the sender.
 * Local disk I/O only: a slow or hung server never delays it. Deltas of one run are sent
 * in the order they were added; do not call it for one run from two threads at once.
 * A run refused by the server still spools (kept for a later session). Returns 0, or
 * -EINVAL (d->duration_s <= 0) or -errno from the disk (logged; d is then not queued and
 * the caller keeps its energy for the next delta).
 */
int uploader__add(struct uploader_run *r, const struct emission_delta *d);

/* The current state (e.g. for a status line). Never blocks on the network. */
void uploader__status(struct uploader *u, struct uploader_summary *out);

/*
 * Ends the session: no more runs or deltas; waits up to max_wait_s for everything to be
 * accepted (one immediate attempt even while backing off), then abandons a request in
 * flight, stops the sender and frees u. Drained runs are removed from the spool, the rest
 * stays for the next session. *out (may be NULL) says what is left: the monitor should
 * exit non-zero when out->rejected, and name the spool when anything is pending.
 * Returns 0 when nothing is left pending, -EAGAIN otherwise. u may be NULL (returns 0).
 */
int uploader__finish(struct uploader *u, double max_wait_s, struct uploader_summary *out);

/* One run found in a spool directory. */
struct uploader_spool_entry {
	const char *local_id;        /* the run's directory name */
	const char *experiment_id;
	const char *endpoint;
	const char *server_run_id;   /* "" when not created yet */
	size_t deltas;               /* deltas waiting */
};
typedef int (*uploader_spool_fn)(const struct uploader_spool_entry *e, void *arg);

/*
 * Calls fn for each run in the spool at spool_dir (read-only; no lock taken). Stops at and
 * returns fn's first non-zero return; 0 when done, -ENOENT when the spool does not exist,
 * or -errno.
 */
int uploader__spool_list(const char *spool_dir, uploader_spool_fn fn, void *arg);

#endif
