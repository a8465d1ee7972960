/* Durable spool of API runs and emission deltas, drained in order by one sender thread. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <math.h>
#include <pthread.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include "log.h"
#include "uploader.h"
#include "util.h"

#define SPOOL_VERSION 1
#define RUN_FILE "run"
#define SERVER_ID_FILE "server_run_id"
#define LOCK_FILE "lock"
#define DELTA_PREFIX "delta-"
#define NEW_PREFIX ".new-"
#define TMP_PREFIX ".tmp-"
#define STALE_NEW_DIR_S 600 /* a begin_run never takes this long */
#define FILE_MAX 8192

struct uploader_run {
	struct uploader *u;
	struct uploader_run *next;
	char local_id[40];
	int dir_fd, lock_fd;
	struct api_run run;
	char server_id[API_ID_LEN];
	char *api_key;                   /* NULL: the uploader's default */
	unsigned long long send_seq;     /* next delta to send */
	unsigned long long next_seq;     /* next delta to add; [send_seq, next_seq) are spooled */
	bool created, failed, closed, retired;
};

struct uploader {
	pthread_mutex_t mu;
	pthread_cond_t wake;             /* to the sender: work, stop, retry time changed */
	pthread_cond_t progress;         /* to finish: something was sent or settled */
	pthread_t thread;
	bool thread_started;
	int spool_fd;
	char *spool_dir, *endpoint, *api_key;
	struct api_client *client;       /* the sender thread's only */
	struct uploader_run *runs;
	long backoff_initial_ms, backoff_max_ms;
	unsigned fails;                  /* consecutive retryable failures */
	uint64_t retry_at_ns;            /* CLOCK_MONOTONIC; 0: no backoff */
	volatile int cancel;
	bool stop, rejected;
	char last_error[API_MSG_LEN];
	char reported[16][API_ID_LEN];   /* experiments already named in an error */
	unsigned n_reported;
	uint64_t rng;
};

/* ---- spool files -------------------------------------------------------------------- */

enum ftype { FT_I64, FT_INT, FT_DBL, FT_STR };

struct field {
	const char *key;
	enum ftype type;
	size_t off, size;
};

#define FLD(T, S, M, K) { K, T, offsetof(S, M), sizeof(((S *)0)->M) }

static const struct field run_fields[] = {
	FLD(FT_I64, struct api_run, timestamp_us, "timestamp_us"),
	FLD(FT_STR, struct api_run, experiment_id, "experiment_id"),
	FLD(FT_STR, struct api_run, os, "os"),
	FLD(FT_STR, struct api_run, python_version, "python_version"),
	FLD(FT_STR, struct api_run, codecarbon_version, "codecarbon_version"),
	FLD(FT_INT, struct api_run, cpu_count, "cpu_count"),
	FLD(FT_STR, struct api_run, cpu_model, "cpu_model"),
	FLD(FT_INT, struct api_run, gpu_count, "gpu_count"),
	FLD(FT_STR, struct api_run, gpu_model, "gpu_model"),
	FLD(FT_DBL, struct api_run, longitude, "longitude"),
	FLD(FT_DBL, struct api_run, latitude, "latitude"),
	FLD(FT_STR, struct api_run, region, "region"),
	FLD(FT_STR, struct api_run, provider, "provider"),
	FLD(FT_DBL, struct api_run, ram_total_size_gib, "ram_total_size_gib"),
	FLD(FT_STR, struct api_run, tracking_mode, "tracking_mode"),
};

static const struct field delta_fields[] = {
	FLD(FT_I64, struct emission_delta, timestamp_us, "timestamp_us"),
	FLD(FT_I64, struct emission_delta, duration_s, "duration_s"),
	FLD(FT_DBL, struct emission_delta, emissions_kg, "emissions_kg"),
	FLD(FT_DBL, struct emission_delta, emissions_rate_kg_s, "emissions_rate_kg_s"),
	FLD(FT_DBL, struct emission_delta, cpu_power_w, "cpu_power_w"),
	FLD(FT_DBL, struct emission_delta, gpu_power_w, "gpu_power_w"),
	FLD(FT_DBL, struct emission_delta, ram_power_w, "ram_power_w"),
	FLD(FT_DBL, struct emission_delta, cpu_energy_kwh, "cpu_energy_kwh"),
	FLD(FT_DBL, struct emission_delta, gpu_energy_kwh, "gpu_energy_kwh"),
	FLD(FT_DBL, struct emission_delta, ram_energy_kwh, "ram_energy_kwh"),
	FLD(FT_DBL, struct emission_delta, energy_consumed_kwh, "energy_consumed_kwh"),
	FLD(FT_DBL, struct emission_delta, cpu_utilization_percent, "cpu_utilization_percent"),
	FLD(FT_DBL, struct emission_delta, gpu_utilization_percent, "gpu_utilization_percent"),
	FLD(FT_DBL, struct emission_delta, ram_utilization_percent, "ram_utilization_percent"),
	FLD(FT_DBL, struct emission_delta, wue_l_per_kwh, "wue_l_per_kwh"),
};

#define N(a) (sizeof(a) / sizeof((a)[0]))

/* Appends "key=value\n"; strings escaped (\\ and \n) so one line stays one value. */
static void put_str(FILE *f, const char *key, const char *s)
{
	fprintf(f, "%s=", key);
	for (; *s; s++) {
		if (*s == '\\')
			fputs("\\\\", f);
		else if (*s == '\n')
			fputs("\\n", f);
		else
			fputc(*s, f);
	}
	fputc('\n', f);
}

static void put_fields(FILE *f, const struct field *fl, size_t n, const void *obj)
{
	const char *base = obj;

	for (size_t i = 0; i < n; i++) {
		const void *p = base + fl[i].off;

		switch (fl[i].type) {
		case FT_I64:
			fprintf(f, "%s=%" PRId64 "\n", fl[i].key, *(const int64_t *)p);
			break;
		case FT_INT:
			fprintf(f, "%s=%d\n", fl[i].key, *(const int *)p);
			break;
		case FT_DBL:
			/* %.17g reads back as the same double; NaN as "nan". */
			fprintf(f, "%s=%.17g\n", fl[i].key, *(const double *)p);
			break;
		case FT_STR:
			put_str(f, fl[i].key, p);
			break;
		}
	}
}

/* Unescapes in place. */
static void unescape(char *s)
{
	char *w = s;

	for (; *s; s++) {
		if (*s == '\\' && s[1]) {
			s++;
			*w++ = *s == 'n' ? '\n' : *s;
		} else {
			*w++ = *s;
		}
	}
	*w = '\0';
}

/*
 * Parses key=value lines of text (modified) into obj; other keys go to fn (may be NULL).
 * Counts the known keys seen into *seen. -EINVAL on a malformed number.
 */
static int get_fields(char *text, const struct field *fl, size_t n, void *obj,
		      void (*fn)(const char *k, char *v, void *arg), void *arg)
{
	char *save = NULL, *line, *end;
	char *base = obj;

	for (line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char *v = strchr(line, '=');
		size_t i;

		if (!v)
			return -EINVAL;
		*v++ = '\0';
		for (i = 0; i < n && strcmp(fl[i].key, line); i++)
			;
		if (i == n) {
			if (fn)
				fn(line, v, arg);
			continue;
		}
		errno = 0;
		switch (fl[i].type) {
		case FT_I64: {
			long long x = strtoll(v, &end, 10);

			if (errno || end == v || *end)
				return -EINVAL;
			*(int64_t *)(base + fl[i].off) = x;
			break;
		}
		case FT_INT: {
			long x = strtol(v, &end, 10);

			if (errno || end == v || *end || x < -2147483647L || x > 2147483647L)
				return -EINVAL;
			*(int *)(base + fl[i].off) = (int)x;
			break;
		}
		case FT_DBL: {
			double x = strtod(v, &end);

			if (end == v || *end)
				return -EINVAL;
			*(double *)(base + fl[i].off) = x;
			break;
		}
		case FT_STR:
			unescape(v);
			snprintf(base + fl[i].off, fl[i].size, "%s", v);
			break;
		}
	}
	return 0;
}

/* Writes name in dirfd through a temporary file, fsync, rename and a directory fsync. */
static int write_atomic(int dirfd, const char *name, const char *text, size_t len)
{
	char tmp[128];
	size_t done = 0;
	int fd, ret = 0;

	snprintf(tmp, sizeof(tmp), TMP_PREFIX "%s", name);
	fd = openat(dirfd, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno;
	while (done < len) {
		ssize_t w = write(fd, text + done, len - done);

		if (w < 0) {
			if (errno == EINTR)
				continue;
			ret = -errno;
			break;
		}
		done += (size_t)w;
	}
	if (!ret && fsync(fd))
		ret = -errno;
	if (close(fd) && !ret)
		ret = -errno;
	if (!ret && renameat(dirfd, tmp, dirfd, name))
		ret = -errno;
	if (ret) {
		unlinkat(dirfd, tmp, 0);
		return ret;
	}
	return fsync(dirfd) ? -errno : 0;
}

/* Reads a small file of dirfd into buf (NUL-terminated). Bytes read or -errno. */
static long read_at(int dirfd, const char *name, char *buf, size_t len)
{
	int fd = openat(dirfd, name, O_RDONLY | O_CLOEXEC);
	long r;

	if (fd < 0)
		return -errno;
	r = read_fd_text(fd, buf, len);
	close(fd);
	return r;
}

/* Serialises fields into a malloc'ed text (with an optional header). NULL on ENOMEM. */
static char *format_text(const char *header, const char *endpoint, const struct field *fl,
			 size_t n, const void *obj, size_t *len)
{
	char *text = NULL;
	FILE *f = open_memstream(&text, len);

	if (!f)
		return NULL;
	if (header)
		fputs(header, f);
	if (endpoint)
		put_str(f, "endpoint", endpoint);
	put_fields(f, fl, n, obj);
	if (fclose(f)) {
		free(text);
		return NULL;
	}
	return text;
}

static void strip_slashes(char *s)
{
	size_t n = strlen(s);

	while (n > 0 && s[n - 1] == '/')
		s[--n] = '\0';
}

struct run_extra {
	char endpoint[1024];
	int version;
};

static void run_extra_key(const char *k, char *v, void *arg)
{
	struct run_extra *x = arg;

	if (!strcmp(k, "endpoint")) {
		unescape(v);
		snprintf(x->endpoint, sizeof(x->endpoint), "%s", v);
	} else if (!strcmp(k, "version")) {
		x->version = atoi(v);
	}
}

/* Reads a run directory's `run` file. -ENOENT, -EINVAL (malformed or newer format). */
static int load_run_file(int dfd, struct api_run *run, struct run_extra *x)
{
	char text[FILE_MAX];
	long n = read_at(dfd, RUN_FILE, text, sizeof(text));
	int ret;

	if (n < 0)
		return (int)n;
	memset(run, 0, sizeof(*run));
	memset(x, 0, sizeof(*x));
	ret = get_fields(text, run_fields, N(run_fields), run, run_extra_key, x);
	if (ret || x->version != SPOOL_VERSION || !*run->experiment_id)
		return -EINVAL;
	return 0;
}

static int load_delta(int dfd, unsigned long long seq, struct emission_delta *d)
{
	char name[64], text[FILE_MAX];
	long n;

	snprintf(name, sizeof(name), DELTA_PREFIX "%012llu", seq);
	n = read_at(dfd, name, text, sizeof(text));
	if (n < 0)
		return (int)n;
	memset(d, 0, sizeof(*d));
	d->duration_s = 0;
	if (get_fields(text, delta_fields, N(delta_fields), d, NULL, NULL) || d->duration_s <= 0)
		return -EINVAL;
	return 0;
}

/* A DIR stream over directory fd dfd from its start, leaving dfd open; NULL on failure. */
static DIR *reopen_dir(int dfd)
{
	int fd = dup(dfd);
	DIR *d = fd >= 0 ? fdopendir(fd) : NULL;

	if (!d) {
		if (fd >= 0)
			close(fd);
		return NULL;
	}
	rewinddir(d);
	return d;
}

/* Removes every entry of a run directory, the lock last, then the directory itself. */
static void remove_run_dir(int spool_fd, const char *name, int dfd)
{
	DIR *d;
	struct dirent *e;

	unlinkat(dfd, RUN_FILE, 0);
	/* reopen_dir rewinds: a dup shares the offset an earlier scan left at the end. */
	d = reopen_dir(dfd);
	if (d) {
		while ((e = readdir(d))) {
			if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..") ||
			    !strcmp(e->d_name, LOCK_FILE))
				continue;
			unlinkat(dfd, e->d_name, 0);
		}
		closedir(d);
	}
	unlinkat(dfd, LOCK_FILE, 0);
	if (unlinkat(spool_fd, name, AT_REMOVEDIR) && errno != ENOENT)
		pr_debug("spool: cannot remove run directory %s: %s", name, strerror(errno));
	fsync(spool_fd);
}

/* ---- sender ------------------------------------------------------------------------- */

static unsigned long long pending_of(const struct uploader_run *r)
{
	return r->next_seq - r->send_seq;
}

static void summarize(struct uploader *u, struct uploader_summary *s)
{
	uint64_t now = mono_ns();

	memset(s, 0, sizeof(*s));
	for (struct uploader_run *r = u->runs; r; r = r->next) {
		s->deltas_pending += pending_of(r);
		s->runs_pending += !r->created;
		s->runs_failed += r->failed;
	}
	s->rejected = u->rejected;
	if (u->retry_at_ns > now)
		s->retry_in_s = (double)(u->retry_at_ns - now) / 1e9;
	snprintf(s->last_error, sizeof(s->last_error), "%s", u->last_error);
}

static uint64_t backoff_ms(struct uploader *u)
{
	uint64_t d = (uint64_t)u->backoff_initial_ms;
	unsigned k = u->fails > 1 ? u->fails - 1 : 0;

	while (k-- && d < (uint64_t)u->backoff_max_ms)
		d *= 2;
	if (d > (uint64_t)u->backoff_max_ms)
		d = (uint64_t)u->backoff_max_ms;
	/* xorshift64: jitter so that many clients do not retry in step. */
	u->rng ^= u->rng << 13;
	u->rng ^= u->rng >> 7;
	u->rng ^= u->rng << 17;
	return d / 2 + u->rng % (d / 2 + 1);
}

static bool already_reported(struct uploader *u, const char *experiment_id)
{
	for (unsigned i = 0; i < u->n_reported; i++)
		if (!strcmp(u->reported[i], experiment_id))
			return true;
	if (u->n_reported < N(u->reported))
		snprintf(u->reported[u->n_reported++], API_ID_LEN, "%s", experiment_id);
	return false;
}

/* Called with the lock held after a request for run r. */
static void settle(struct uploader *u, struct uploader_run *r, int ret,
		   const struct api_result *res, const char *what)
{
	const char *msg;

	if (!ret) {
		if (u->fails)
			pr_info("the CodeCarbon API accepts uploads again");
		u->fails = 0;
		u->retry_at_ns = 0;
		u->last_error[0] = '\0';
		return;
	}
	if (ret == -ECANCELED)
		return;
	msg = *res->message ? res->message : strerror(-ret);
	snprintf(u->last_error, sizeof(u->last_error), "%s", msg);
	if (api__retryable(ret, res)) {
		struct uploader_summary s;

		u->fails++;
		u->retry_at_ns = mono_ns() + backoff_ms(u) * 1000000ull;
		if (u->fails == 1) {
			summarize(u, &s);
			pr_warn("cannot upload to the CodeCarbon API at %s (%s); %zu delta(s) wait in the spool %s, retrying with backoff",
				u->endpoint, msg, s.deltas_pending, u->spool_dir);
		} else {
			pr_debug("upload attempt %u failed: %s", u->fails, msg);
		}
		return;
	}
	r->failed = true;
	u->rejected = true;
	if (!already_reported(u, r->run.experiment_id))
		pr_err("the CodeCarbon API at %s refused %s for experiment %s (%s)%s; nothing more is sent for it in this session, its %llu delta(s) stay in the spool %s/%s",
		       u->endpoint, what, r->run.experiment_id, msg,
		       res->http_status == 401 || res->http_status == 403 ?
			       ": check api_key and experiment_id" : "",
		       pending_of(r), u->spool_dir, r->local_id);
}

static void create_one(struct uploader *u, struct uploader_run *r)
{
	struct api_result res = { 0 };
	struct api_run run = r->run;
	char id[API_ID_LEN] = "";
	int ret;

	pthread_mutex_unlock(&u->mu);
	ret = api__set_api_key(u->client, r->api_key ? r->api_key : u->api_key);
	if (!ret)
		ret = api__create_run(u->client, &run, id, &res);
	if (!ret) {
		char text[API_ID_LEN + 1];
		int wr;

		snprintf(text, sizeof(text), "%s\n", id);
		wr = write_atomic(r->dir_fd, SERVER_ID_FILE, text, strlen(text));
		if (wr)
			pr_warn("spool: cannot record the server's run id in %s/%s: %s (a restart would create the run again)",
				u->spool_dir, r->local_id, strerror(-wr));
	}
	pthread_mutex_lock(&u->mu);
	settle(u, r, ret, &res, "the run");
	if (!ret) {
		snprintf(r->server_id, sizeof(r->server_id), "%s", id);
		r->created = true;
	}
}

static void send_one(struct uploader *u, struct uploader_run *r)
{
	unsigned long long seq = r->send_seq;
	struct api_result res = { 0 };
	struct emission_delta d;
	char name[64], server_id[API_ID_LEN];
	int ret;

	snprintf(server_id, sizeof(server_id), "%s", r->server_id);
	snprintf(name, sizeof(name), DELTA_PREFIX "%012llu", seq);
	pthread_mutex_unlock(&u->mu);
	ret = load_delta(r->dir_fd, seq, &d);
	if (ret) {
		/* Only an outside hand can remove or damage a spooled delta: skip it, loudly. */
		pr_warn("spool: delta %s/%s/%s is %s; skipped", u->spool_dir, r->local_id, name,
			ret == -ENOENT ? "missing" : "unreadable");
		if (ret != -ENOENT) {
			char bad[80];

			snprintf(bad, sizeof(bad), "bad-%s", name);
			renameat(r->dir_fd, name, r->dir_fd, bad);
		}
		pthread_mutex_lock(&u->mu);
		r->send_seq++;
		return;
	}
	ret = api__set_api_key(u->client, r->api_key ? r->api_key : u->api_key);
	if (!ret)
		ret = api__add_emission(u->client, server_id, &d, &res);
	if (!ret) {
		/* Killed between the 201 and this removal, the delta is sent again on resume. */
		if (unlinkat(r->dir_fd, name, 0) || fsync(r->dir_fd))
			pr_warn("spool: cannot remove sent delta %s/%s/%s: %s", u->spool_dir,
				r->local_id, name, strerror(errno));
	}
	pthread_mutex_lock(&u->mu);
	settle(u, r, ret, &res, "an emission delta");
	if (!ret)
		r->send_seq++;
}

static void retire(struct uploader *u, struct uploader_run *r)
{
	r->retired = true;
	pthread_mutex_unlock(&u->mu);
	remove_run_dir(u->spool_fd, r->local_id, r->dir_fd);
	pthread_mutex_lock(&u->mu);
}

static void wait_until(struct uploader *u, pthread_cond_t *cv, uint64_t at_ns)
{
	struct timespec ts = { .tv_sec = (time_t)(at_ns / 1000000000ull),
			       .tv_nsec = (long)(at_ns % 1000000000ull) };

	pthread_cond_timedwait(cv, &u->mu, &ts);
}

static void *sender_main(void *arg)
{
	struct uploader *u = arg;

	pthread_mutex_lock(&u->mu);
	while (!u->stop) {
		struct uploader_run *r, *work = NULL;
		bool retired = false;

		for (r = u->runs; r; r = r->next) {
			if (r->failed || r->retired)
				continue;
			if (r->created && !pending_of(r)) {
				if (r->closed) {
					retire(u, r);
					retired = true;
					break;
				}
				continue;
			}
			work = r;
			break;
		}
		if (retired) {
			pthread_cond_broadcast(&u->progress);
			continue;
		}
		if (!work) {
			pthread_cond_broadcast(&u->progress);
			pthread_cond_wait(&u->wake, &u->mu);
			continue;
		}
		if (u->retry_at_ns > mono_ns()) {
			wait_until(u, &u->wake, u->retry_at_ns);
			continue;
		}
		if (!work->created)
			create_one(u, work);
		else
			send_one(u, work);
		pthread_cond_broadcast(&u->progress);
	}
	pthread_mutex_unlock(&u->mu);
	return NULL;
}

/* ---- public ------------------------------------------------------------------------- */

static void run_free(struct uploader_run *r)
{
	if (r->dir_fd >= 0)
		close(r->dir_fd);
	if (r->lock_fd >= 0)
		close(r->lock_fd);
	if (r->api_key) {
		explicit_bzero(r->api_key, strlen(r->api_key));
		free(r->api_key);
	}
	free(r);
}

static void uploader_free(struct uploader *u)
{
	while (u->runs) {
		struct uploader_run *r = u->runs;

		u->runs = r->next;
		run_free(r);
	}
	api__free(u->client);
	if (u->spool_fd >= 0)
		close(u->spool_fd);
	free(u->spool_dir);
	free(u->endpoint);
	if (u->api_key) {
		explicit_bzero(u->api_key, strlen(u->api_key));
		free(u->api_key);
	}
	pthread_cond_destroy(&u->wake);
	pthread_cond_destroy(&u->progress);
	pthread_mutex_destroy(&u->mu);
	free(u);
}

/* Inserts r keeping the list ordered by run start (resumed runs drain oldest first). */
static void insert_run(struct uploader *u, struct uploader_run *r)
{
	struct uploader_run **p = &u->runs;

	while (*p && (*p)->run.timestamp_us <= r->run.timestamp_us)
		p = &(*p)->next;
	r->next = *p;
	*p = r;
}

static void append_run(struct uploader *u, struct uploader_run *r)
{
	struct uploader_run **p = &u->runs;

	while (*p)
		p = &(*p)->next;
	*p = r;
}

/* A directory left by a begin_run that never finished (crash): removed once stale. */
static void clean_new_dir(struct uploader *u, const char *name)
{
	struct stat st;
	int dfd, lfd;

	if (fstatat(u->spool_fd, name, &st, AT_SYMLINK_NOFOLLOW) || !S_ISDIR(st.st_mode) ||
	    time(NULL) - st.st_mtime < STALE_NEW_DIR_S)
		return;
	dfd = openat(u->spool_fd, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		return;
	lfd = openat(dfd, LOCK_FILE, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (lfd >= 0 && !flock(lfd, LOCK_EX | LOCK_NB))
		remove_run_dir(u->spool_fd, name, dfd);
	if (lfd >= 0)
		close(lfd);
	close(dfd);
}

/* Scans a run directory for its delta range; removes temporary files. */
static void scan_deltas(int dfd, unsigned long long *lo, unsigned long long *hi, size_t *count,
			bool clean)
{
	DIR *d = reopen_dir(dfd);
	struct dirent *e;

	*lo = *hi = 0;
	*count = 0;
	if (!d)
		return;
	while ((e = readdir(d))) {
		unsigned long long seq;
		char *end;

		if (clean && !strncmp(e->d_name, TMP_PREFIX, strlen(TMP_PREFIX))) {
			unlinkat(dfd, e->d_name, 0);
			continue;
		}
		if (strncmp(e->d_name, DELTA_PREFIX, strlen(DELTA_PREFIX)))
			continue;
		errno = 0;
		seq = strtoull(e->d_name + strlen(DELTA_PREFIX), &end, 10);
		if (errno || *end)
			continue;
		if (!*count || seq < *lo)
			*lo = seq;
		if (!*count || seq + 1 > *hi)
			*hi = seq + 1;
		(*count)++;
	}
	closedir(d);
}

static void resume_one(struct uploader *u, const char *name, size_t *n_runs, size_t *n_deltas)
{
	struct uploader_run *r = NULL;
	struct run_extra x;
	char id[API_ID_LEN + 2];
	size_t count;
	long n;
	int dfd, lfd = -1, ret;

	dfd = openat(u->spool_fd, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
	if (dfd < 0)
		return;
	lfd = openat(dfd, LOCK_FILE, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (lfd < 0 || flock(lfd, LOCK_EX | LOCK_NB))
		goto skip; /* owned by a carbonbpf that is still running */
	r = calloc(1, sizeof(*r));
	if (!r)
		goto skip;
	ret = load_run_file(dfd, &r->run, &x);
	if (ret == -ENOENT) {
		/* A removal that was cut short: nothing left to send. */
		remove_run_dir(u->spool_fd, name, dfd);
		goto skip;
	}
	if (ret) {
		pr_warn("spool: %s/%s/%s is unreadable or from another version; left alone",
			u->spool_dir, name, RUN_FILE);
		goto skip;
	}
	strip_slashes(x.endpoint);
	if (strcmp(x.endpoint, u->endpoint)) {
		pr_info("spool: run %s (experiment %s) was for %s, not %s; left in the spool", name,
			r->run.experiment_id, x.endpoint, u->endpoint);
		goto skip;
	}
	n = read_at(dfd, SERVER_ID_FILE, id, sizeof(id));
	if (n > 0) {
		id[strcspn(id, "\n")] = '\0';
		if (strlen(id) < sizeof(r->server_id)) {
			strcpy(r->server_id, id);
			r->created = *r->server_id != '\0';
		}
	}
	scan_deltas(dfd, &r->send_seq, &r->next_seq, &count, true);
	snprintf(r->local_id, sizeof(r->local_id), "%s", name);
	r->u = u;
	r->dir_fd = dfd;
	r->lock_fd = lfd;
	r->closed = true;
	insert_run(u, r);
	(*n_runs)++;
	*n_deltas += count;
	return;
skip:
	free(r);
	if (lfd >= 0)
		close(lfd);
	close(dfd);
}

static void resume(struct uploader *u)
{
	size_t n_runs = 0, n_deltas = 0;
	DIR *d = reopen_dir(u->spool_fd);
	struct dirent *e;

	if (!d)
		return;
	while ((e = readdir(d))) {
		if (!strncmp(e->d_name, NEW_PREFIX, strlen(NEW_PREFIX)))
			clean_new_dir(u, e->d_name);
		else if (e->d_name[0] != '.')
			resume_one(u, e->d_name, &n_runs, &n_deltas);
	}
	closedir(d);
	if (n_runs)
		pr_info("spool: resuming %zu deltas of %zu runs left by an earlier session in %s",
			n_deltas, n_runs, u->spool_dir);
}

/* Creates the missing parents of path (0755, like mkdir -p); the leaf is left to the caller. */
static int mkdir_parents(const char *path)
{
	char *p, *s = strdup(path);

	if (!s)
		return -ENOMEM;
	for (p = s + 1; (p = strchr(p, '/')); p++) {
		*p = '\0';
		if (mkdir(s, 0755) && errno != EEXIST) {
			int ret = -errno;

			free(s);
			return ret;
		}
		*p = '/';
	}
	free(s);
	return 0;
}

int uploader__open(struct uploader **out, const struct uploader_opts *o)
{
	struct api_opts ao = { 0 };
	pthread_condattr_t ca;
	struct uploader *u;
	int ret;

	*out = NULL;
	if (!o || !o->spool_dir || !*o->spool_dir || !o->endpoint || !*o->endpoint ||
	    o->timeout_s < 0 || o->backoff_initial_ms < 0 || o->backoff_max_ms < 0)
		return -EINVAL;
	u = calloc(1, sizeof(*u));
	if (!u)
		return -ENOMEM;
	u->spool_fd = -1;
	pthread_mutex_init(&u->mu, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&u->wake, &ca);
	pthread_cond_init(&u->progress, &ca);
	pthread_condattr_destroy(&ca);
	u->backoff_initial_ms = o->backoff_initial_ms ? o->backoff_initial_ms : 1000;
	u->backoff_max_ms = o->backoff_max_ms ? o->backoff_max_ms : 60000;
	if (u->backoff_max_ms < u->backoff_initial_ms)
		u->backoff_max_ms = u->backoff_initial_ms;
	u->rng = mono_ns() | 1;
	u->spool_dir = strdup(o->spool_dir);
	u->endpoint = strdup(o->endpoint);
	if (!u->spool_dir || !u->endpoint || (o->api_key && !(u->api_key = strdup(o->api_key)))) {
		ret = -ENOMEM;
		goto fail;
	}
	strip_slashes(u->endpoint);
	strip_slashes(u->spool_dir);
	ao.endpoint = u->endpoint;
	ao.ca_file = o->ca_file;
	ao.timeout_s = o->timeout_s;
	u->client = api__new(&ao);
	if (!u->client) {
		ret = -errno;
		pr_err("API client for %s: %s", u->endpoint, strerror(-ret));
		goto fail;
	}
	api__set_cancel_flag(u->client, &u->cancel);
	if ((ret = mkdir_parents(u->spool_dir)) || (mkdir(u->spool_dir, 0700) && errno != EEXIST)) {
		ret = ret ? ret : -errno;
		pr_err("cannot create the spool directory %s: %s", u->spool_dir, strerror(-ret));
		goto fail;
	}
	u->spool_fd = open(u->spool_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (u->spool_fd < 0) {
		ret = -errno;
		pr_err("cannot open the spool directory %s: %s", u->spool_dir, strerror(-ret));
		goto fail;
	}
	if (!o->no_resume)
		resume(u);
	ret = -pthread_create(&u->thread, NULL, sender_main, u);
	if (ret) {
		pr_err("cannot start the API sender thread: %s", strerror(-ret));
		goto fail;
	}
	u->thread_started = true;
	*out = u;
	return 0;
fail:
	uploader_free(u);
	return ret;
}

int uploader__begin_run(struct uploader *u, const struct api_run *run, const char *api_key,
			struct uploader_run **out)
{
	struct uploader_run *r;
	char tmpname[64], header[64], *text = NULL;
	size_t len;
	int ret;

	*out = NULL;
	if (!u || !run || !*run->experiment_id)
		return -EINVAL;
	r = calloc(1, sizeof(*r));
	if (!r)
		return -ENOMEM;
	r->dir_fd = r->lock_fd = -1;
	r->u = u;
	r->run = *run;
	if (api_key && !(r->api_key = strdup(api_key))) {
		ret = -ENOMEM;
		goto fail;
	}
	ret = uuid4(r->local_id);
	if (ret)
		goto fail;
	snprintf(tmpname, sizeof(tmpname), NEW_PREFIX "%s", r->local_id);
	if (mkdirat(u->spool_fd, tmpname, 0700)) {
		ret = -errno;
		goto fail;
	}
	r->dir_fd = openat(u->spool_fd, tmpname, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (r->dir_fd < 0) {
		ret = -errno;
		goto fail_dir;
	}
	r->lock_fd = openat(r->dir_fd, LOCK_FILE, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (r->lock_fd < 0 || flock(r->lock_fd, LOCK_EX | LOCK_NB)) {
		ret = -errno;
		goto fail_dir;
	}
	snprintf(header, sizeof(header), "version=%d\n", SPOOL_VERSION);
	text = format_text(header, u->endpoint, run_fields, N(run_fields), run, &len);
	if (!text) {
		ret = -ENOMEM;
		goto fail_dir;
	}
	ret = write_atomic(r->dir_fd, RUN_FILE, text, len);
	free(text);
	if (ret)
		goto fail_dir;
	if (renameat(u->spool_fd, tmpname, u->spool_fd, r->local_id)) {
		ret = -errno;
		goto fail_dir;
	}
	if (fsync(u->spool_fd)) {
		ret = -errno;
		snprintf(tmpname, sizeof(tmpname), "%s", r->local_id);
		goto fail_dir;
	}
	pthread_mutex_lock(&u->mu);
	append_run(u, r);
	pthread_cond_signal(&u->wake);
	pthread_mutex_unlock(&u->mu);
	*out = r;
	return 0;
fail_dir:
	pr_err("cannot spool a run for experiment %s in %s: %s", run->experiment_id, u->spool_dir,
	       strerror(-ret));
	if (r->dir_fd >= 0)
		remove_run_dir(u->spool_fd, tmpname, r->dir_fd);
	run_free(r);
	return ret;
fail:
	pr_err("cannot spool a run for experiment %s: %s", run->experiment_id, strerror(-ret));
	run_free(r);
	return ret;
}

int uploader__add(struct uploader_run *r, const struct emission_delta *d)
{
	struct uploader *u;
	char name[64], *text;
	size_t len;
	int ret;

	if (!r || !d || d->duration_s <= 0)
		return -EINVAL;
	u = r->u;
	text = format_text(NULL, NULL, delta_fields, N(delta_fields), d, &len);
	if (!text)
		return -ENOMEM;
	/* The lock is never held across network I/O, so this waits for local work only. */
	pthread_mutex_lock(&u->mu);
	if (r->closed) {
		ret = -EINVAL;
		goto out;
	}
	snprintf(name, sizeof(name), DELTA_PREFIX "%012llu", r->next_seq);
	ret = write_atomic(r->dir_fd, name, text, len);
	if (ret) {
		pr_err("cannot spool an emission delta of experiment %s in %s/%s: %s",
		       r->run.experiment_id, u->spool_dir, r->local_id, strerror(-ret));
		goto out;
	}
	r->next_seq++;
	pthread_cond_signal(&u->wake);
out:
	pthread_mutex_unlock(&u->mu);
	free(text);
	return ret;
}

void uploader__status(struct uploader *u, struct uploader_summary *out)
{
	pthread_mutex_lock(&u->mu);
	summarize(u, out);
	pthread_mutex_unlock(&u->mu);
}

static bool settled(const struct uploader *u)
{
	for (const struct uploader_run *r = u->runs; r; r = r->next)
		if (!r->failed && !r->retired)
			return false;
	return true;
}

int uploader__finish(struct uploader *u, double max_wait_s, struct uploader_summary *out)
{
	struct uploader_summary s;
	uint64_t deadline;

	if (!u) {
		if (out)
			memset(out, 0, sizeof(*out));
		return 0;
	}
	if (!(max_wait_s >= 0))
		max_wait_s = 0;
	if (max_wait_s > 1e6)
		max_wait_s = 1e6;
	deadline = mono_ns() + (uint64_t)(max_wait_s * 1e9);
	pthread_mutex_lock(&u->mu);
	for (struct uploader_run *r = u->runs; r; r = r->next)
		r->closed = true;
	if (u->retry_at_ns && max_wait_s > 0)
		u->retry_at_ns = mono_ns(); /* one last attempt before giving up */
	pthread_cond_broadcast(&u->wake);
	while (!settled(u) && mono_ns() < deadline)
		wait_until(u, &u->progress, deadline);
	u->stop = true;
	__atomic_store_n(&u->cancel, 1, __ATOMIC_SEQ_CST);
	pthread_cond_broadcast(&u->wake);
	pthread_mutex_unlock(&u->mu);
	if (u->thread_started)
		pthread_join(u->thread, NULL);

	for (struct uploader_run *r = u->runs; r; r = r->next)
		if (!r->retired && !r->failed && r->created && !pending_of(r)) {
			remove_run_dir(u->spool_fd, r->local_id, r->dir_fd);
			r->retired = true;
		}
	summarize(u, &s);
	s.retry_in_s = 0;
	if (out)
		*out = s;
	uploader_free(u);
	return s.deltas_pending || s.runs_pending ? -EAGAIN : 0;
}

int uploader__spool_list(const char *spool_dir, uploader_spool_fn fn, void *arg)
{
	struct dirent *e;
	int ret = 0, sfd;
	DIR *d;

	sfd = open(spool_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (sfd < 0)
		return -errno;
	d = fdopendir(sfd);
	if (!d) {
		ret = -errno;
		close(sfd);
		return ret;
	}
	while (!ret && (e = readdir(d))) {
		struct uploader_spool_entry ent;
		unsigned long long lo, hi;
		struct run_extra x;
		struct api_run run;
		char id[API_ID_LEN + 2] = "";
		int dfd;

		if (e->d_name[0] == '.')
			continue;
		dfd = openat(sfd, e->d_name, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
		if (dfd < 0)
			continue;
		if (load_run_file(dfd, &run, &x)) {
			close(dfd);
			continue;
		}
		if (read_at(dfd, SERVER_ID_FILE, id, sizeof(id)) < 0)
			id[0] = '\0';
		id[strcspn(id, "\n")] = '\0';
		strip_slashes(x.endpoint);
		ent.local_id = e->d_name;
		ent.experiment_id = run.experiment_id;
		ent.endpoint = x.endpoint;
		ent.server_run_id = id;
		scan_deltas(dfd, &lo, &hi, &ent.deltas, false);
		close(dfd);
		ret = fn(&ent, arg);
	}
	closedir(d);
	return ret;
}
