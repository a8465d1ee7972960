/* BPF tests: the real programs on the real kernel's scheduler, driven by real processes. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sched.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>
#include <bpf/libbpf.h>
#include "tracer.h"
#include "util.h"

static int online[1024], n_online, n_possible;

static struct tracer *open_tracer(enum tracer_attach mode)
{
	struct tracer_opts o = {
		.n_possible = n_possible, .online = online, .n_online = n_online,
		.max_processes = 8192, .attach = mode,
	};
	struct tracer *t = NULL;
	char err[512];

	if (tracer__open(&t, &o, err, sizeof(err))) {
		fprintf(stderr, "tracer__open: %s\n", err);
		return NULL;
	}
	return t;
}

static const struct tracer_proc *find(const struct tracer_snapshot *s, pid_t pid)
{
	const struct tracer_proc *best = NULL;

	for (size_t i = 0; i < s->n; i++)
		if (s->procs[i].key.tgid == (uint32_t)pid &&
		    (!best || s->procs[i].key.start_ns > best->key.start_ns))
			best = &s->procs[i];
	return best;
}

static uint64_t total_ns(const struct tracer_proc *p)
{
	uint64_t sum = 0;

	for (int i = 0; p && p->on_cpu_ns && i < n_possible; i++)
		sum += p->on_cpu_ns[i];
	return sum;
}

static void spin_ms(int ms)
{
	uint64_t end = mono_ns() + (uint64_t)ms * 1000000ull;

	while (mono_ns() < end)
		;
}

/* A child that spins forever on one CPU, never sleeping. */
static pid_t start_spinner(void)
{
	pid_t pid = fork();

	if (pid == 0) {
		for (;;)
			;
	}
	return pid;
}

/* The kernel's own sum_exec_runtime of a process, ns (first field of /proc/PID/schedstat). */
static uint64_t schedstat_ns(pid_t pid)
{
	char path[64], buf[256];

	snprintf(path, sizeof(path), "/proc/%d/schedstat", (int)pid);
	if (read_text_file(path, buf, sizeof(buf)) <= 0)
		return 0;
	return strtoull(buf, NULL, 10);
}

/* What a spinner was charged between two snapshots, what the kernel says it ran, and the wall time. */
struct spin_figures {
	uint64_t charged_ns, kernel_ns, wall_ns;
	bool ok;
};

static struct spin_figures measure_spinner(enum tracer_attach mode)
{
	struct spin_figures f = { 0 };
	struct tracer_snapshot s = { 0 };
	struct tracer *t = open_tracer(mode);
	pid_t pid;
	uint64_t a, ka, t0;

	if (!t)
		return f;
	pid = start_spinner();
	if (pid > 0) {
		usleep(200000);
		f.ok = !tracer__snapshot(t, &s);
		ka = schedstat_ns(pid);
		t0 = s.mono_ns;
		a = total_ns(find(&s, pid));
		usleep(500000);
		f.ok = f.ok && !tracer__snapshot(t, &s);
		f.kernel_ns = schedstat_ns(pid) - ka;
		f.wall_ns = s.mono_ns - t0;
		f.charged_ns = total_ns(find(&s, pid)) - a;
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
	}
	tracer_snapshot__free(&s);
	tracer__close(t);
	printf("spinner: %.1f ms on CPU (kernel: %.1f ms) over %.1f ms wall\n", f.charged_ns / 1e6,
	       f.kernel_ns / 1e6, f.wall_ns / 1e6);
	return f;
}

/*
 * The running slice is included: between two snapshots a spinner that rarely switches out
 * is charged what the kernel says it ran, not only what ended at a switch.
 */
static void check_spinner(struct spin_figures f)
{
	assert_true(f.ok);
	assert_true(f.kernel_ns > 100000000);
	assert_true(f.charged_ns <= f.wall_ns + 2000000);
	/* Within 2% (+2 ms for the reads not being simultaneous) of the kernel's figure. */
	assert_true((double)f.charged_ns > (double)f.kernel_ns * 0.98 - 2e6);
	assert_true((double)f.charged_ns < (double)f.kernel_ns * 1.02 + 2e6);
}

static void running_slice_is_counted(enum tracer_attach mode)
{
	check_spinner(measure_spinner(mode));
}

static void running_slice_tp_btf(void **state) { (void)state; running_slice_is_counted(TRACER_ATTACH_TP_BTF); }

/*
 * The same while another process forks short-lived children as fast as it can: a load
 * under which a task's se.sum_exec_runtime read at the tracepoint lagged and a third of
 * the spinner's time went missing (the reason slices are timed with the clock).
 */
static void running_slice_under_fork_storm(void **state)
{
	struct spin_figures f;
	pid_t storm = fork();

	(void)state;
	if (storm == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		for (;;) {
			pid_t kid = fork();

			if (kid == 0) {
				/* Like tools/burn's children: spin on the process CPU clock. */
				struct timespec a, b;

				clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &a);
				do
					clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &b);
				while ((b.tv_sec - a.tv_sec) * 1000000000L + (b.tv_nsec - a.tv_nsec) < 2000000L);
				_exit(0);
			}
			if (kid > 0)
				waitpid(kid, NULL, 0);
		}
	}
	assert_true(storm > 0);
	f = measure_spinner(TRACER_ATTACH_AUTO);
	kill(storm, SIGKILL);
	waitpid(storm, NULL, 0);
	check_spinner(f);
}
static void running_slice_raw_tp(void **state) { (void)state; running_slice_is_counted(TRACER_ATTACH_RAW_TP); }

/* A process that exits keeps its figures (and the exited flag) until harvested. */
static void exited_process_is_kept(void **state)
{
	struct tracer_snapshot s = { 0 };
	struct tracer *t = open_tracer(TRACER_ATTACH_AUTO);
	const struct tracer_proc *p;
	pid_t pid;

	(void)state;
	assert_non_null(t);
	/* A first snapshot reads every entry; later ones only what the kernel says changed. */
	assert_int_equal(tracer__snapshot(t, &s), 0);
	pid = fork();
	if (pid == 0) {
		spin_ms(30);
		_exit(0);
	}
	waitpid(pid, NULL, 0);
	assert_int_equal(tracer__snapshot(t, &s), 0);
	p = find(&s, pid);
	assert_non_null(p);
	assert_true(p->has_info);
	assert_true(p->info.flags & CB_TASK_EXITED);
	assert_true(total_ns(p) > 20000000);
	assert_int_equal(tracer__forget(t, &p->key), 0);
	assert_int_equal(tracer__snapshot(t, &s), 0);
	assert_null(find(&s, pid));
	tracer_snapshot__free(&s);
	tracer__close(t);
}

/* Seeded processes carry the scope bits, and children born later inherit them. */
static void seed_and_fork_follow_the_tree(void **state)
{
	struct tracer_snapshot s = { 0 };
	struct tracer *t = open_tracer(TRACER_ATTACH_AUTO);
	int go[2], done[2];
	const struct tracer_proc *p;
	pid_t parent, child = 0;
	uint32_t tgid;
	size_t found = 0;
	char c;

	(void)state;
	assert_non_null(t);
	assert_int_equal(pipe(go), 0);
	assert_int_equal(pipe(done), 0);
	parent = fork();
	if (parent == 0) {
		pid_t kid;

		if (read(go[0], &c, 1) != 1)
			_exit(1);
		kid = fork();
		if (kid == 0) {
			spin_ms(5);
			_exit(0);
		}
		if (write(done[1], &kid, sizeof(kid)) != sizeof(kid))
			_exit(1);
		waitpid(kid, NULL, 0);
		pause();
		_exit(0);
	}
	tgid = (uint32_t)parent;
	assert_int_equal(tracer__seed(t, &tgid, 1, 0x4, &found), 0);
	assert_int_equal(found, 1);
	assert_int_equal(write(go[1], "x", 1), 1);
	assert_int_equal(read(done[0], &child, sizeof(child)), sizeof(child));
	usleep(50000);
	assert_int_equal(tracer__snapshot(t, &s), 0);
	p = find(&s, parent);
	assert_non_null(p);
	assert_int_equal(p->info.scope_mask, 0x4);
	p = find(&s, child);
	assert_non_null(p);
	assert_int_equal(p->info.scope_mask, 0x4);
	assert_int_equal(p->info.ppid, (uint32_t)parent);
	assert_true(total_ns(p) > 0);
	/* An unrelated process has no bits. */
	p = find(&s, getpid());
	assert_true(!p || p->info.scope_mask == 0);
	kill(parent, SIGKILL);
	waitpid(parent, NULL, 0);
	tracer_snapshot__free(&s);
	tracer__close(t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(running_slice_tp_btf),
		cmocka_unit_test(running_slice_raw_tp),
		cmocka_unit_test(running_slice_under_fork_storm),
		cmocka_unit_test(exited_process_is_kept),
		cmocka_unit_test(seed_and_fork_follow_the_tree),
	};
	struct tracer *t;
	char buf[4096];

	if (read_text_file("/sys/devices/system/cpu/online", buf, sizeof(buf)) < 0)
		return 1;
	/* Minimal parse here (the real parser is unit-tested): "a-b,c". */
	for (char *tok = strtok(buf, ",\n"); tok; tok = strtok(NULL, ",\n")) {
		int lo, hi;

		if (sscanf(tok, "%d-%d", &lo, &hi) != 2)
			hi = lo = atoi(tok);
		for (int c = lo; c <= hi; c++)
			online[n_online++] = c;
	}
	n_possible = libbpf_num_possible_cpus();
	t = open_tracer(TRACER_ATTACH_AUTO);
	if (!t) {
		printf("SKIP: BPF tracer tests: cannot load BPF here (not root / no BTF)\n");
		return 0;
	}
	tracer__close(t);
	return cmocka_run_group_tests_name("bpf_tracer", tests, NULL, NULL);
}
