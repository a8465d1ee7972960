/*
 * Test and demo workload: burns CPU with a duty cycle, in threads or short-lived
 * children, and reports the kernel's own CPU accounting of itself (/proc/self/stat
 * utime+stime, and its children's from getrusage) so tests can compare carbonbpf with it.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static double wall_s = 1, duty = 1, child_ms = 5, child_ms_max;
static int threads = 1, children, io_ms;
static const char *report;
static int child_pids[8192], n_child_pids;

static double now(clockid_t c)
{
	struct timespec ts;

	clock_gettime(c, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Busy for `duty` of every 10 ms of wall time, until `wall_s` have passed. */
static void *burn(void *arg)
{
	double end = now(CLOCK_MONOTONIC) + wall_s;
	volatile unsigned long x = 0;

	(void)arg;
	while (now(CLOCK_MONOTONIC) < end) {
		double period_start = now(CLOCK_MONOTONIC);

		while (now(CLOCK_MONOTONIC) - period_start < 0.010 * duty)
			x++;
		if (duty < 1) {
			struct timespec ts = { 0, (long)(0.010 * (1 - duty) * 1e9) };

			nanosleep(&ts, NULL);
		}
		if (io_ms) {
			struct timespec ts = { 0, io_ms * 1000000L };

			nanosleep(&ts, NULL);
		}
	}
	return NULL;
}

/* utime + stime of this process from /proc/self/stat, in seconds. */
static double self_cpu_s(void)
{
	char buf[4096], *p;
	unsigned long long ut, st;
	FILE *f = fopen("/proc/self/stat", "r");
	size_t n;

	if (!f)
		return -1;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	p = strrchr(buf, ')');
	if (!p || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut, &st) != 2)
		return -1;
	return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
}

static void usage(void)
{
	fprintf(stderr, "usage: burn [--seconds S] [--duty 0..1] [--threads N] [--children N "
			"--child-ms MS [--child-ms-max MS]] [--io-ms MS] [--report FILE]\n");
	exit(2);
}

int main(int argc, char **argv)
{
	pthread_t tid[64];
	struct rusage ru;
	double kids_s = 0;

	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;

		if (!v)
			usage();
		if (!strcmp(a, "--seconds"))
			wall_s = atof(v);
		else if (!strcmp(a, "--duty"))
			duty = atof(v);
		else if (!strcmp(a, "--threads"))
			threads = atoi(v);
		else if (!strcmp(a, "--children"))
			children = atoi(v);
		else if (!strcmp(a, "--child-ms"))
			child_ms = atof(v);
		else if (!strcmp(a, "--child-ms-max"))
			child_ms_max = atof(v);
		else if (!strcmp(a, "--io-ms"))
			io_ms = atoi(v);
		else if (!strcmp(a, "--report"))
			report = v;
		else
			usage();
		i++;
	}
	if (threads < 1 || threads > 64 || duty <= 0 || duty > 1)
		usage();
	for (int i = 0; i < children; i++) {
		/* Each child burns child_ms, or a spread up to child_ms_max. */
		double ms = child_ms_max > child_ms ?
			child_ms + (child_ms_max - child_ms) * (double)(i % 97) / 96.0 : child_ms;
		pid_t pid = fork();

		if (pid == 0) {
			volatile unsigned long x = 0;
			double end = now(CLOCK_PROCESS_CPUTIME_ID) + ms / 1000.0;

			while (now(CLOCK_PROCESS_CPUTIME_ID) < end)
				x++;
			_exit(0);
		}
		if (pid > 0) {
			if (n_child_pids < 8192)
				child_pids[n_child_pids++] = (int)pid;
			waitpid(pid, NULL, 0);
		}
	}
	if (children)
		wall_s = 0;
	for (int i = 1; i < threads; i++)
		pthread_create(&tid[i], NULL, burn, NULL);
	if (wall_s > 0)
		burn(NULL);
	for (int i = 1; i < threads; i++)
		pthread_join(tid[i], NULL);
	getrusage(RUSAGE_CHILDREN, &ru);
	kids_s = (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
		 (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
	if (report) {
		FILE *f = fopen(report, "w");

		if (!f) {
			fprintf(stderr, "burn: %s: %s\n", report, strerror(errno));
			return 1;
		}
		fprintf(f, "pid=%d\ncpu_s=%.6f\nchildren_cpu_s=%.6f\nchild_pids=", (int)getpid(),
			self_cpu_s(), kids_s);
		for (int i = 0; i < n_child_pids; i++)
			fprintf(f, "%s%d", i ? "," : "", child_pids[i]);
		fputc('\n', f);
		fclose(f);
	}
	return 0;
}
