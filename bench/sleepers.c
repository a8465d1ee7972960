/*
 * Benchmark helper: forks N small processes that sleep and wake up briefly once every
 * PERIOD seconds (staggered), then waits for EOF on stdin and kills and reaps them all.
 * Prints "ready N" on stdout once every child exists.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static void sleep_s(double s)
{
	struct timespec ts = { (time_t)s, (long)((s - (double)(time_t)s) * 1e9) };

	while (nanosleep(&ts, &ts) && errno == EINTR)
		;
}

/* A child: first wake at `offset_s`, then every `period_s`; period 0 sleeps for good. */
static void child(double offset_s, double period_s)
{
	if (period_s <= 0)
		for (;;)
			pause();
	sleep_s(offset_s);
	for (;;)
		sleep_s(period_s);
}

int main(int argc, char **argv)
{
	int n = argc > 1 ? atoi(argv[1]) : 0;
	double period_s = argc > 2 ? atof(argv[2]) : 0;
	pid_t *pids;
	char buf[64];
	int made = 0;

	if (n <= 0) {
		fprintf(stderr, "usage: sleepers N [PERIOD_S]\n");
		return 2;
	}
	pids = calloc((size_t)n, sizeof(*pids));
	if (!pids)
		return 1;
	for (int i = 0; i < n; i++) {
		pid_t pid = fork();

		if (pid == 0) {
			/* Whatever happens to the parent, no sleeper outlives it. */
			prctl(PR_SET_PDEATHSIG, SIGKILL);
			if (getppid() == 1)
				_exit(0);
			free(pids);
			child(period_s * (double)i / (double)n, period_s);
			_exit(0);
		}
		if (pid < 0) {
			fprintf(stderr, "sleepers: fork %d: %s\n", i, strerror(errno));
			break;
		}
		pids[made++] = pid;
	}
	printf("ready %d\n", made);
	fflush(stdout);
	while (read(0, buf, sizeof(buf)) > 0)
		;
	for (int i = 0; i < made; i++)
		kill(pids[i], SIGKILL);
	while (wait(NULL) > 0 || errno == EINTR)
		;
	free(pids);
	return made == n ? 0 : 1;
}
