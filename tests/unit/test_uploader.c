/*
 * Tests of the uploader (spool + sender thread) and the API client against the local test
 * server tests/api_server.py on 127.0.0.1 (started here; no outside network): order,
 * exactly-once delivery, 503s then recovery, 403, a hung server, SIGKILL then resume.
 */
#include <cjson/cJSON.h>
#include <curl/curl.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>
#include "api.h"
#include "uploader.h"
#include "util.h"

#define ORG "0a000000-0000-4000-8000-000000000001"
#define PROJECT "0b000000-0000-4000-8000-000000000001"
#define OTHER_PROJECT "0b000000-0000-4000-8000-000000000002"
#define TOKEN "cpt_test_token_for_the_project_0123456789abc"
#define OTHER_TOKEN "cpt_token_of_another_project_0123456789abcd"
#define EXP(n) "0c000000-0000-4000-8000-00000000000" #n

static const char seed_json[] =
	"{\"users\": [{\"token\": \"user-token\", \"name\": \"alice\", \"orgs\": [\"" ORG "\"]}],"
	" \"orgs\": [{\"id\": \"" ORG "\", \"name\": \"org\"}],"
	" \"projects\": [{\"id\": \"" PROJECT "\", \"name\": \"p\", \"organization_id\": \"" ORG "\"},"
	"  {\"id\": \"" OTHER_PROJECT "\", \"name\": \"q\", \"organization_id\": \"" ORG "\"}],"
	" \"experiments\": [{\"id\": \"" EXP(1) "\", \"name\": \"e1\", \"project_id\": \"" PROJECT "\"},"
	"  {\"id\": \"" EXP(2) "\", \"name\": \"e2\", \"project_id\": \"" PROJECT "\"},"
	"  {\"id\": \"" EXP(3) "\", \"name\": \"e3\", \"project_id\": \"" PROJECT "\"},"
	"  {\"id\": \"" EXP(4) "\", \"name\": \"e4\", \"project_id\": \"" PROJECT "\"},"
	"  {\"id\": \"" EXP(5) "\", \"name\": \"e5\", \"project_id\": \"" PROJECT "\"},"
	"  {\"id\": \"" EXP(6) "\", \"name\": \"e6\", \"project_id\": \"" PROJECT "\"},"
	"  {\"id\": \"" EXP(7) "\", \"name\": \"e7\", \"project_id\": \"" PROJECT "\"}],"
	" \"tokens\": [{\"token\": \"" TOKEN "\", \"project_id\": \"" PROJECT "\"},"
	"  {\"token\": \"" OTHER_TOKEN "\", \"project_id\": \"" OTHER_PROJECT "\"}]}";

static pid_t server_pid = -1;
static char server_url[64];
static char tmpdir[64];

/* ---- the test server ---- */

static int start_server(void **state)
{
	const char *script = getenv("CARBONBPF_API_SERVER");
	char port_file[128], seed_file[128], buf[32];
	FILE *f;

	(void)state;
	if (!script)
		script = "tests/api_server.py";
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/cb-uploader-XXXXXX");
	if (!mkdtemp(tmpdir) || access(script, R_OK))
		return 0; /* tests skip */
	snprintf(port_file, sizeof(port_file), "%s/port", tmpdir);
	snprintf(seed_file, sizeof(seed_file), "%s/seed.json", tmpdir);
	f = fopen(seed_file, "w");
	if (!f)
		return 0;
	fputs(seed_json, f);
	fclose(f);
	server_pid = fork();
	if (server_pid == 0) {
		int null = open("/dev/null", O_WRONLY);

		dup2(null, 1);
		execlp("python3", "python3", script, "--port-file", port_file, "--seed", seed_file,
		       (char *)NULL);
		_exit(127);
	}
	for (int i = 0; i < 100; i++) {
		long n = read_text_file(port_file, buf, sizeof(buf));
		int status;

		if (n > 0) {
			snprintf(server_url, sizeof(server_url), "http://127.0.0.1:%ld/", strtol(buf, NULL, 10));
			return 0;
		}
		if (waitpid(server_pid, &status, WNOHANG) == server_pid) {
			server_pid = -1;
			/* No python3: the tests skip. A server that died otherwise is a failure. */
			return WIFEXITED(status) && WEXITSTATUS(status) == 127 ? 0 : -1;
		}
		usleep(50000);
	}
	kill(server_pid, SIGKILL);
	waitpid(server_pid, NULL, 0);
	server_pid = -1;
	return -1;
}

static int stop_server(void **state)
{
	char cmd[128];

	(void)state;
	if (server_pid > 0) {
		kill(server_pid, SIGTERM);
		waitpid(server_pid, NULL, 0);
	}
	if (*tmpdir) {
		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
		if (system(cmd))
			return -1;
	}
	return 0;
}

#define NEED_SERVER()                                       \
	do {                                                \
		if (server_pid <= 0) {                      \
			printf("SKIP: tests/api_server.py could not be started\n"); \
			skip();                             \
		}                                           \
	} while (0)

struct body {
	char *p;
	size_t len;
};

static size_t collect(char *d, size_t s, size_t n, void *arg)
{
	struct body *b = arg;
	char *p = realloc(b->p, b->len + s * n + 1);

	if (!p)
		return 0;
	memcpy(p + b->len, d, s * n);
	b->p = p;
	b->len += s * n;
	b->p[b->len] = '\0';
	return s * n;
}

/* A request to the server's /_test/ routes; returns the parsed answer (caller deletes). */
static cJSON *control(const char *method, const char *path, const char *json)
{
	struct body b = { 0 };
	char url[256];
	CURL *c = curl_easy_init();
	cJSON *ans = NULL;

	assert_non_null(c);
	snprintf(url, sizeof(url), "%s%s", server_url, path + 1);
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
	if (json)
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, json);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, collect);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &b);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, 5L);
	assert_int_equal(curl_easy_perform(c), CURLE_OK);
	curl_easy_cleanup(c);
	ans = b.p ? cJSON_Parse(b.p) : NULL;
	free(b.p);
	assert_non_null(ans);
	return ans;
}

static void fault(const char *mode, double seconds, const char *paths)
{
	char json[200];

	snprintf(json, sizeof(json), "{\"mode\": \"%s\", \"seconds\": %g%s%s}", mode, seconds,
		 paths ? ", \"paths\": " : "", paths ? paths : "");
	cJSON_Delete(control("POST", "/_test/fault", json));
}

static cJSON *emissions_of(const char *experiment_id)
{
	char path[128];

	snprintf(path, sizeof(path), "/_test/emissions?experiment_id=%s", experiment_id);
	return control("GET", path, NULL);
}

static int count_runs(const char *experiment_id)
{
	char path[128];
	cJSON *r;
	int n;

	snprintf(path, sizeof(path), "/_test/runs?experiment_id=%s", experiment_id);
	r = control("GET", path, NULL);
	n = cJSON_GetArraySize(r);
	cJSON_Delete(r);
	return n;
}

/* How many API requests (not /_test/) went to path with the status given (-1: any). */
static int count_requests(const char *path, int status)
{
	cJSON *r = control("GET", "/_test/requests", NULL), *it;
	int n = 0;

	cJSON_ArrayForEach(it, r) {
		const cJSON *p = cJSON_GetObjectItem(it, "path"), *s = cJSON_GetObjectItem(it, "status");

		if (!strcmp(p->valuestring, path) && (status < 0 || s->valueint == status))
			n++;
	}
	cJSON_Delete(r);
	return n;
}

/* ---- fixtures ---- */

static double num(const cJSON *o, const char *k)
{
	const cJSON *v = cJSON_GetObjectItem(o, k);

	assert_non_null(v);
	assert_true(cJSON_IsNumber(v));
	return v->valuedouble;
}

static struct api_run run_of(const char *experiment_id)
{
	struct api_run r = { 0 };

	r.timestamp_us = (int64_t)time(NULL) * 1000000 + 123456;
	snprintf(r.experiment_id, sizeof(r.experiment_id), "%s", experiment_id);
	snprintf(r.os, sizeof(r.os), "Linux-test");
	snprintf(r.codecarbon_version, sizeof(r.codecarbon_version), "carbonbpf-test");
	r.cpu_count = 8;
	snprintf(r.cpu_model, sizeof(r.cpu_model), "Test CPU @ 2.0GHz");
	r.longitude = 2.349;
	r.latitude = NAN;
	r.ram_total_size_gib = 15.5;
	snprintf(r.tracking_mode, sizeof(r.tracking_mode), "process");
	return r;
}

/* Delta number i (1, 2, ...): duration i s, i * 0.001 kWh of CPU, distinct values. */
static struct emission_delta delta_of(int i)
{
	struct emission_delta d = {
		.timestamp_us = 1700000000000000 + i * 1000000LL,
		.duration_s = i,
		.emissions_kg = i * 0.000475,
		.emissions_rate_kg_s = 0.000475,
		.cpu_power_w = 3.6,
		.gpu_power_w = NAN,
		.ram_power_w = 0.1 * i,
		.cpu_energy_kwh = i * 0.001,
		.gpu_energy_kwh = 0,
		.ram_energy_kwh = i / 3.0 * 1e-5,
		.energy_consumed_kwh = i * 0.001 + i / 3.0 * 1e-5,
		.cpu_utilization_percent = 12.5,
		.gpu_utilization_percent = NAN,
		.ram_utilization_percent = NAN,
		.wue_l_per_kwh = NAN,
	};
	return d;
}

static void make_spool(char *buf, size_t len, const char *name)
{
	snprintf(buf, len, "%s/%s", tmpdir, name);
}

static struct uploader_opts opts_for(const char *spool, const char *key)
{
	struct uploader_opts o = {
		.spool_dir = spool,
		.endpoint = server_url,
		.api_key = key,
		.timeout_s = 1,
		.backoff_initial_ms = 100,
		.backoff_max_ms = 800,
	};
	return o;
}

/* Run directories (not dot entries) in a spool, and delta files in them. */
static void spool_count(const char *spool, int *runs, int *deltas)
{
	DIR *d = opendir(spool);
	struct dirent *e;

	*runs = *deltas = 0;
	assert_non_null(d);
	while ((e = readdir(d))) {
		char sub[512];
		DIR *r;
		struct dirent *f;

		if (e->d_name[0] == '.')
			continue;
		(*runs)++;
		snprintf(sub, sizeof(sub), "%s/%s", spool, e->d_name);
		r = opendir(sub);
		assert_non_null(r);
		while ((f = readdir(r)))
			*deltas += !strncmp(f->d_name, "delta-", 6);
		closedir(r);
	}
	closedir(d);
}

/* The emissions the server holds for an experiment are deltas first..last, in order, once. */
static void assert_received(const char *experiment_id, int first, int last)
{
	cJSON *em = emissions_of(experiment_id), *it;
	int i = first;

	assert_int_equal(cJSON_GetArraySize(em), last - first + 1);
	cJSON_ArrayForEach(it, em) {
		struct emission_delta d = delta_of(i);

		assert_int_equal((int)num(it, "duration"), i);
		/* JSON numbers read back exactly: the client prints 17 significant digits. */
		assert_true(num(it, "cpu_energy") == d.cpu_energy_kwh);
		assert_true(num(it, "ram_energy") == d.ram_energy_kwh);
		assert_true(num(it, "energy_consumed") == d.energy_consumed_kwh);
		assert_true(num(it, "emissions_sum") == d.emissions_kg);
		assert_true(cJSON_IsNull(cJSON_GetObjectItem(it, "gpu_power")));
		assert_null(cJSON_GetObjectItem(it, "ram_utilization_percent"));
		i++;
	}
	cJSON_Delete(em);
}

static double now_s(void)
{
	return (double)mono_ns() / 1e9;
}

/* ---- tests ---- */

static void test_delivers_in_order_once_and_cleans_spool(void **state)
{
	struct uploader_summary s;
	struct uploader_run *r;
	struct uploader *u;
	struct uploader_opts o;
	struct api_run run = run_of(EXP(1));
	char spool[128];
	cJSON *runs, *first;
	int nr, nd;

	(void)state;
	NEED_SERVER();
	make_spool(spool, sizeof(spool), "spool-order");
	o = opts_for(spool, TOKEN);
	assert_int_equal(uploader__open(&u, &o), 0);
	assert_int_equal(uploader__begin_run(u, &run, NULL, &r), 0);
	for (int i = 1; i <= 5; i++) {
		struct emission_delta d = delta_of(i);

		assert_int_equal(uploader__add(r, &d), 0);
	}
	assert_int_equal(uploader__finish(u, 10, &s), 0);
	assert_int_equal(s.deltas_pending, 0);
	assert_false(s.rejected);
	assert_received(EXP(1), 1, 5);
	runs = control("GET", "/_test/runs?experiment_id=" EXP(1), NULL);
	assert_int_equal(cJSON_GetArraySize(runs), 1);
	first = cJSON_GetArrayItem(runs, 0);
	assert_int_equal((int)num(first, "cpu_count"), 8);
	/* Coordinates rounded to 0.1 degree, NaN sent as null. */
	assert_true(fabs(num(first, "longitude") - 2.3) < 1e-12);
	assert_true(cJSON_IsNull(cJSON_GetObjectItem(first, "latitude")));
	assert_string_equal(cJSON_GetObjectItem(first, "tracking_mode")->valuestring, "process");
	assert_true(cJSON_IsNull(cJSON_GetObjectItem(first, "python_version")));
	cJSON_Delete(runs);
	spool_count(spool, &nr, &nd);
	assert_int_equal(nr, 0);
	assert_int_equal(nd, 0);
}

static void test_unreachable_server_keeps_everything(void **state)
{
	struct uploader_summary s;
	struct uploader_run *r;
	struct uploader *u;
	struct uploader_opts o;
	struct api_run run = run_of(EXP(2));
	char spool[128];
	struct stat st;
	int nr, nd;

	(void)state;
	NEED_SERVER();
	make_spool(spool, sizeof(spool), "parent/spool-offline/");
	o = opts_for(spool, TOKEN);
	/* Port 1 on loopback: connection refused. */
	o.endpoint = "http://127.0.0.1:1";
	assert_int_equal(uploader__open(&u, &o), 0);
	assert_int_equal(stat(spool, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0700);
	assert_int_equal(uploader__begin_run(u, &run, NULL, &r), 0);
	for (int i = 1; i <= 3; i++) {
		struct emission_delta d = delta_of(i);

		assert_int_equal(uploader__add(r, &d), 0);
	}
	{
		struct emission_delta bad = delta_of(1);

		bad.duration_s = 0;
		assert_int_equal(uploader__add(r, &bad), -EINVAL);
	}
	assert_int_equal(uploader__finish(u, 0.3, &s), -EAGAIN);
	assert_int_equal(s.deltas_pending, 3);
	assert_int_equal(s.runs_pending, 1);
	assert_false(s.rejected);
	spool_count(spool, &nr, &nd);
	assert_int_equal(nr, 1);
	assert_int_equal(nd, 3);

	/* Another endpoint leaves the run alone... */
	o = opts_for(spool, TOKEN);
	assert_int_equal(uploader__open(&u, &o), 0);
	assert_int_equal(uploader__finish(u, 1, &s), 0);
	spool_count(spool, &nr, &nd);
	assert_int_equal(nd, 3);
	assert_int_equal(count_runs(EXP(2)), 0);
}

static void test_503_then_recovery_exactly_once_in_order(void **state)
{
	struct uploader_summary s;
	struct uploader_run *r;
	struct uploader *u;
	struct uploader_opts o;
	struct api_run run = run_of(EXP(3));
	char spool[128];
	double t0, worst = 0;
	int before;

	(void)state;
	NEED_SERVER();
	before = count_requests("/emissions", 503) + count_requests("/runs", 503);
	make_spool(spool, sizeof(spool), "spool-503");
	o = opts_for(spool, TOKEN);
	fault("503", 3, NULL);
	t0 = now_s();
	assert_int_equal(uploader__open(&u, &o), 0);
	assert_int_equal(uploader__begin_run(u, &run, NULL, &r), 0);
	for (int i = 1; i <= 8; i++) {
		struct emission_delta d = delta_of(i);
		double t = now_s();

		assert_int_equal(uploader__add(r, &d), 0);
		t = now_s() - t;
		worst = t > worst ? t : worst;
		usleep(500000);
	}
	/* While the server failed, adding never waited for it. */
	assert_true(worst < 0.2);
	uploader__status(u, &s);
	assert_int_equal(uploader__finish(u, 10, &s), 0);
	assert_true(now_s() - t0 < 12);
	assert_int_equal(s.deltas_pending, 0);
	assert_true(count_requests("/emissions", 503) + count_requests("/runs", 503) - before >= 2);
	assert_received(EXP(3), 1, 8);
	assert_int_equal(count_runs(EXP(3)), 1);
}

/* Captures this process's stderr into a file while fn runs; returns the text (free). */
static char *stderr_of(void (*fn)(void *), void *arg)
{
	char path[128], *text = calloc(1, 8192);
	int saved = dup(2), fd;

	snprintf(path, sizeof(path), "%s/stderr", tmpdir);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	assert_true(fd >= 0 && saved >= 0 && text);
	fflush(stderr);
	dup2(fd, 2);
	close(fd);
	fn(arg);
	fflush(stderr);
	dup2(saved, 2);
	close(saved);
	assert_true(read_text_file(path, text, 8192) >= 0);
	return text;
}

struct rejected_case {
	char spool[128];
	struct uploader_summary s;
	int ret;
};

static void run_rejected(void *arg)
{
	struct rejected_case *c = arg;
	struct api_run run = run_of(EXP(4));
	struct uploader_opts o = opts_for(c->spool, OTHER_TOKEN);
	struct uploader_run *r;
	struct uploader *u;

	assert_int_equal(uploader__open(&u, &o), 0);
	assert_int_equal(uploader__begin_run(u, &run, NULL, &r), 0);
	for (int i = 1; i <= 3; i++) {
		struct emission_delta d = delta_of(i);

		assert_int_equal(uploader__add(r, &d), 0);
		usleep(200000);
	}
	c->ret = uploader__finish(u, 3, &c->s);
}

static void test_403_one_clear_error_and_deltas_kept(void **state)
{
	struct rejected_case c = { 0 };
	int before, nr, nd, errors = 0;
	char *text, *line, *save = NULL;

	(void)state;
	NEED_SERVER();
	before = count_requests("/runs", 403);
	make_spool(c.spool, sizeof(c.spool), "spool-403");
	text = stderr_of(run_rejected, &c);
	assert_int_equal(c.ret, -EAGAIN);
	assert_true(c.s.rejected);
	assert_int_equal(c.s.runs_failed, 1);
	assert_int_equal(c.s.deltas_pending, 3);
	/* Refused once, not retried in a loop. */
	assert_int_equal(count_requests("/runs", 403) - before, 1);
	assert_int_equal(count_runs(EXP(4)), 0);
	spool_count(c.spool, &nr, &nd);
	assert_int_equal(nr, 1);
	assert_int_equal(nd, 3);
	assert_null(strstr(text, OTHER_TOKEN));
	assert_null(strstr(text, "cpt_"));
	for (line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		if (!strstr(line, ": error: "))
			continue;
		errors++;
		assert_non_null(strstr(line, EXP(4)));
		assert_non_null(strstr(line, "403"));
		assert_non_null(strstr(line, c.spool));
	}
	assert_int_equal(errors, 1);
	free(text);
}

static void test_hung_server_is_bounded_and_never_delays_add(void **state)
{
	struct uploader_summary s;
	struct uploader_run *r;
	struct uploader *u;
	struct uploader_opts o;
	struct api_run run = run_of(EXP(5));
	char spool[128];
	double t, worst = 0;

	(void)state;
	NEED_SERVER();
	make_spool(spool, sizeof(spool), "spool-hang");
	o = opts_for(spool, TOKEN);
	fault("hang", 30, NULL);
	assert_int_equal(uploader__open(&u, &o), 0);
	assert_int_equal(uploader__begin_run(u, &run, NULL, &r), 0);
	for (int i = 1; i <= 5; i++) {
		struct emission_delta d = delta_of(i);

		t = now_s();
		assert_int_equal(uploader__add(r, &d), 0);
		t = now_s() - t;
		worst = t > worst ? t : worst;
		usleep(300000);
	}
	assert_true(worst < 0.2);
	uploader__status(u, &s);
	/* 1.5 s of requests bounded by the 1 s timeout: at least one timed out by now. */
	assert_true(*s.last_error);
	t = now_s();
	assert_int_equal(uploader__finish(u, 1, &s), -EAGAIN);
	/* The wait, plus at most about one second for libcurl to notice the cancel. */
	assert_true(now_s() - t < 2.6);
	assert_int_equal(s.deltas_pending, 5);

	fault("none", 0, NULL);
	assert_int_equal(uploader__open(&u, &o), 0);
	assert_int_equal(uploader__finish(u, 10, &s), 0);
	assert_received(EXP(5), 1, 5);
}

static void test_sigkill_then_resume_delivers_spooled_deltas(void **state)
{
	struct uploader_summary s;
	struct uploader_opts o;
	struct uploader *u;
	char spool[128], c;
	int fds[2], nr, nd, status;
	pid_t pid;

	(void)state;
	NEED_SERVER();
	make_spool(spool, sizeof(spool), "spool-kill");
	o = opts_for(spool, TOKEN);
	/* Runs are created, emissions refused with 503: the "server down" part. */
	fault("503", 60, "[\"/emissions\"]");
	assert_int_equal(pipe(fds), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct api_run run = run_of(EXP(6));
		struct uploader_run *r;
		struct uploader_summary cs;

		close(fds[0]);
		if (uploader__open(&u, &o) || uploader__begin_run(u, &run, NULL, &r))
			_exit(1);
		for (int i = 1; i <= 4; i++) {
			struct emission_delta d = delta_of(i);

			if (uploader__add(r, &d))
				_exit(1);
		}
		do {
			usleep(20000);
			uploader__status(u, &cs);
		} while (cs.runs_pending);
		if (write(fds[1], "x", 1) != 1)
			_exit(1);
		for (;;)
			pause();
	}
	close(fds[1]);
	assert_int_equal(read(fds[0], &c, 1), 1);
	close(fds[0]);
	kill(pid, SIGKILL);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFSIGNALED(status));
	spool_count(spool, &nr, &nd);
	assert_int_equal(nr, 1);
	assert_int_equal(nd, 4);
	assert_int_equal(count_runs(EXP(6)), 1);

	fault("none", 0, NULL);
	assert_int_equal(uploader__open(&u, &o), 0);
	assert_int_equal(uploader__finish(u, 10, &s), 0);
	assert_received(EXP(6), 1, 4);
	/* The run the killed process created is reused, not created again. */
	assert_int_equal(count_runs(EXP(6)), 1);
	spool_count(spool, &nr, &nd);
	assert_int_equal(nr, 0);
}

static int list_cb(const struct uploader_spool_entry *e, void *arg)
{
	int *n = arg;

	assert_string_equal(e->experiment_id, EXP(7));
	assert_string_equal(e->server_run_id, "");
	assert_int_equal(e->deltas, 2);
	(*n)++;
	return 0;
}

static void test_spool_list_and_resume_creates_the_run(void **state)
{
	struct uploader_summary s;
	struct uploader_run *r;
	struct uploader *u;
	struct uploader_opts o;
	struct api_run run = run_of(EXP(7));
	char spool[128];
	int n = 0;

	(void)state;
	NEED_SERVER();
	make_spool(spool, sizeof(spool), "spool-list");
	o = opts_for(spool, TOKEN);
	fault("reset", 60, NULL);
	assert_int_equal(uploader__open(&u, &o), 0);
	assert_int_equal(uploader__begin_run(u, &run, NULL, &r), 0);
	for (int i = 1; i <= 2; i++) {
		struct emission_delta d = delta_of(i);

		assert_int_equal(uploader__add(r, &d), 0);
	}
	assert_int_equal(uploader__finish(u, 0.5, &s), -EAGAIN);
	assert_int_equal(s.runs_pending, 1);
	assert_int_equal(uploader__spool_list(spool, list_cb, &n), 0);
	assert_int_equal(n, 1);
	assert_int_equal(count_runs(EXP(7)), 0);

	fault("none", 0, NULL);
	assert_int_equal(uploader__open(&u, &o), 0);
	assert_int_equal(uploader__finish(u, 10, &s), 0);
	assert_int_equal(count_runs(EXP(7)), 1);
	assert_received(EXP(7), 1, 2);
}

static void test_api_format_time(void **state)
{
	char buf[48];

	(void)state;
	setenv("TZ", "UTC-2", 1); /* POSIX: two hours east of UTC */
	tzset();
	assert_int_equal(api__format_time(1700000000123456LL, buf, sizeof(buf)), 0);
	/* 1700000000 s = 2023-11-14T22:13:20Z. */
	assert_string_equal(buf, "2023-11-15T00:13:20.123456+02:00");
	assert_int_equal(api__format_time(1700000000123456LL, buf, 20), -ERANGE);
	unsetenv("TZ");
	tzset();
}

static void test_api_retryable(void **state)
{
	struct api_result r = { .http_status = 503 };

	(void)state;
	assert_true(api__retryable(-EREMOTEIO, &r));
	r.http_status = 429;
	assert_true(api__retryable(-EREMOTEIO, &r));
	r.http_status = 403;
	assert_false(api__retryable(-EREMOTEIO, &r));
	r.http_status = 422;
	assert_false(api__retryable(-EREMOTEIO, &r));
	assert_true(api__retryable(-ETIMEDOUT, NULL));
	assert_true(api__retryable(-ECONNRESET, NULL));
	assert_false(api__retryable(-EINVAL, NULL));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_api_format_time),
		cmocka_unit_test(test_api_retryable),
		cmocka_unit_test(test_delivers_in_order_once_and_cleans_spool),
		cmocka_unit_test(test_unreachable_server_keeps_everything),
		cmocka_unit_test(test_503_then_recovery_exactly_once_in_order),
		cmocka_unit_test(test_403_one_clear_error_and_deltas_kept),
		cmocka_unit_test(test_hung_server_is_bounded_and_never_delays_add),
		cmocka_unit_test(test_sigkill_then_resume_delivers_spooled_deltas),
		cmocka_unit_test(test_spool_list_and_resume_creates_the_run),
	};

	return cmocka_run_group_tests(tests, start_server, stop_server);
}
