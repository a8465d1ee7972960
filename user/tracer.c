/* Loads the scheduler-accounting BPF programs and snapshots their maps. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "carbonbpf.skel.h"
#include "tracer.h"
#include "util.h"

struct tracer {
	struct carbonbpf_bpf *skel;
	struct bpf_link *links[5];
	bool raw_tp;
	int n_possible;
	int *online;
	int n_online;
	int fd_time, fd_info, fd_cpu, fd_seed;
	struct ring_buffer *info_ring;  /* keys of changed task_info entries */
	struct cb_task_key *events;     /* read from the ring since the last snapshot */
	size_t n_events, cap_events;
	bool read_all_info;             /* next snapshot reads the whole task_info map */
	uint64_t events_lost_seen;
};

uint32_t tracer_default_max_processes(const char *procfs_root)
{
	char path[4096];
	long long pid_max = 0;

	snprintf(path, sizeof(path), "%s/sys/kernel/pid_max", procfs_root);
	if (read_ll_file(path, &pid_max) || pid_max <= 0)
		pid_max = 32768;
	if (pid_max > 65536)
		pid_max = 65536;
	if (pid_max < 1024)
		pid_max = 1024;
	return (uint32_t)pid_max;
}

static int libbpf_quiet(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	if (level == LIBBPF_WARN && getenv("CARBONBPF_LIBBPF_DEBUG"))
		return vfprintf(stderr, fmt, ap);
	return 0;
}

static int load(struct tracer *t, const struct tracer_opts *o, bool raw)
{
	struct carbonbpf_bpf *skel = carbonbpf_bpf__open();
	int err;

	if (!skel)
		return -errno;
	bpf_program__set_autoload(skel->progs.switch_btf, !raw);
	bpf_program__set_autoload(skel->progs.fork_btf, !raw);
	bpf_program__set_autoload(skel->progs.exit_btf, !raw);
	bpf_program__set_autoload(skel->progs.exec_btf, !raw);
	bpf_program__set_autoload(skel->progs.cgroup_attach_btf, !raw);
	bpf_program__set_autoload(skel->progs.switch_raw, raw);
	bpf_program__set_autoload(skel->progs.fork_raw, raw);
	bpf_program__set_autoload(skel->progs.exit_raw, raw);
	bpf_program__set_autoload(skel->progs.exec_raw, raw);
	bpf_program__set_autoload(skel->progs.cgroup_attach_raw, raw);
	bpf_map__set_max_entries(skel->maps.task_time, o->max_processes);
	bpf_map__set_max_entries(skel->maps.task_info, o->max_processes);
	bpf_map__set_max_entries(skel->maps.seed, o->max_processes);
	err = carbonbpf_bpf__load(skel);
	if (err) {
		carbonbpf_bpf__destroy(skel);
		return err;
	}
	t->skel = skel;
	t->raw_tp = raw;
	return 0;
}

static int attach(struct tracer *t)
{
	struct carbonbpf_bpf *s = t->skel;
	struct bpf_program *progs[5];

	if (t->raw_tp) {
		progs[0] = s->progs.switch_raw;
		progs[1] = s->progs.fork_raw;
		progs[2] = s->progs.exit_raw;
		progs[3] = s->progs.exec_raw;
		progs[4] = s->progs.cgroup_attach_raw;
	} else {
		progs[0] = s->progs.switch_btf;
		progs[1] = s->progs.fork_btf;
		progs[2] = s->progs.exit_btf;
		progs[3] = s->progs.exec_btf;
		progs[4] = s->progs.cgroup_attach_btf;
	}
	for (int i = 0; i < 5; i++) {
		t->links[i] = bpf_program__attach(progs[i]);
		if (!t->links[i])
			return -errno;
	}
	return 0;
}

/* Runs flush_cpu on one CPU: closes its running slice (see bpf/carbonbpf.bpf.c). */
static int close_slice_on(struct tracer *t, int cpu)
{
	__u64 args[1] = { 0 };
	LIBBPF_OPTS(bpf_test_run_opts, opts, .ctx_in = args, .ctx_size_in = sizeof(args),
		    .flags = BPF_F_TEST_RUN_ON_CPU, .cpu = (__u32)cpu);

	return bpf_prog_test_run_opts(bpf_program__fd(t->skel->progs.flush_cpu), &opts);
}

/* Ring callback: collects one changed key. */
static int on_info_event(void *ctx, void *data, size_t size)
{
	struct tracer *t = ctx;

	if (size < sizeof(struct cb_task_key))
		return 0;
	if (t->n_events == t->cap_events) {
		size_t ncap = t->cap_events ? t->cap_events * 2 : 256;
		struct cb_task_key *ne = realloc(t->events, ncap * sizeof(*ne));

		if (!ne) {
			t->read_all_info = true; /* lost track: read everything instead */
			return 0;
		}
		t->events = ne;
		t->cap_events = ncap;
	}
	memcpy(&t->events[t->n_events++], data, sizeof(struct cb_task_key));
	return 0;
}

int tracer__open(struct tracer **out, const struct tracer_opts *o, char *errbuf, size_t errlen)
{
	struct tracer *t = calloc(1, sizeof(*t));
	int err;

	if (!t)
		return -ENOMEM;
	t->n_possible = o->n_possible;
	t->n_online = o->n_online;
	t->online = malloc(sizeof(int) * (size_t)(o->n_online ? o->n_online : 1));
	if (!t->online) {
		free(t);
		return -ENOMEM;
	}
	memcpy(t->online, o->online, sizeof(int) * (size_t)o->n_online);
	libbpf_set_print(libbpf_quiet);

	err = -ENOENT;
	if (o->attach != TRACER_ATTACH_RAW_TP)
		err = load(t, o, false);
	if (err && o->attach != TRACER_ATTACH_TP_BTF)
		err = load(t, o, true);
	if (err) {
		if (err == -EPERM || err == -EACCES)
			snprintf(errbuf, errlen,
				 "cannot load the BPF programs: %s. Run carbonbpf as root, or give it "
				 "CAP_BPF and CAP_PERFMON (sudo setcap cap_bpf,cap_perfmon+ep carbonbpf)",
				 strerror(-err));
		else
			snprintf(errbuf, errlen,
				 "cannot load the BPF programs: %s. carbonbpf needs a kernel with BPF "
				 "and BTF (CONFIG_DEBUG_INFO_BTF); run `carbonbpf detect` for details "
				 "(CARBONBPF_LIBBPF_DEBUG=1 shows the verifier log)",
				 strerror(-err));
		goto fail;
	}
	t->fd_time = bpf_map__fd(t->skel->maps.task_time);
	t->fd_info = bpf_map__fd(t->skel->maps.task_info);
	t->fd_cpu = bpf_map__fd(t->skel->maps.cpu_state);
	t->fd_seed = bpf_map__fd(t->skel->maps.seed);
	t->info_ring = ring_buffer__new(bpf_map__fd(t->skel->maps.info_events), on_info_event, t, NULL);
	if (!t->info_ring) {
		err = -errno;
		snprintf(errbuf, errlen, "cannot open the BPF ring buffer: %s", strerror(-err));
		goto fail;
	}
	t->read_all_info = true;
	err = attach(t);
	if (err) {
		snprintf(errbuf, errlen, "cannot attach to the scheduler tracepoints (%s): %s",
			 t->raw_tp ? "raw_tp" : "tp_btf", strerror(-err));
		goto fail;
	}
	/* Start every CPU's first slice now, so the first interval is complete. */
	for (int i = 0; i < t->n_online; i++) {
		err = close_slice_on(t, t->online[i]);
		if (err) {
			snprintf(errbuf, errlen, "cannot run the BPF slice flush on CPU %d: %s",
				 t->online[i], strerror(-err));
			goto fail;
		}
	}
	*out = t;
	return 0;
fail:
	tracer__close(t);
	return err;
}

const char *tracer__attach_mode(const struct tracer *t)
{
	return t->raw_tp ? "raw_tp" : "tp_btf";
}

static int key_cmp(const void *a, const void *b)
{
	const struct cb_task_key *x = a, *y = b;

	if (x->tgid != y->tgid)
		return x->tgid < y->tgid ? -1 : 1;
	if (x->start_ns != y->start_ns)
		return x->start_ns < y->start_ns ? -1 : 1;
	return 0;
}

static int proc_cmp(const void *a, const void *b)
{
	return key_cmp(&((const struct tracer_proc *)a)->key, &((const struct tracer_proc *)b)->key);
}

static int grow(void **keys, void **vals, size_t *cap, size_t key_size, size_t val_size)
{
	size_t ncap = *cap ? *cap * 2 : 1024;
	void *k = realloc(*keys, ncap * key_size), *v;

	if (!k)
		return -ENOMEM;
	*keys = k;
	v = realloc(*vals, ncap * val_size);
	if (!v)
		return -ENOMEM;
	*vals = v;
	*cap = ncap;
	return 0;
}

/*
 * Reads a whole hash map with batched lookups into growable key/value buffers.
 * Returns the number of entries or -errno.
 */
static long read_map(int fd, size_t key_size, size_t val_size, void **keys, void **vals, size_t *cap)
{
	uint8_t in_tok[16], out_tok[16]; /* hash maps use a 4-byte bucket cursor */
	bool first = true;
	size_t n = 0;

	for (;;) {
		__u32 count;
		int err;

		if (*cap - n < 256 && (err = grow(keys, vals, cap, key_size, val_size)))
			return err;
		count = (__u32)(*cap - n);
		err = bpf_map_lookup_batch(fd, first ? NULL : in_tok, out_tok,
					   (char *)*keys + n * key_size, (char *)*vals + n * val_size,
					   &count, NULL);
		n += count;
		if (err == -ENOENT)
			return (long)n;
		if (err == -ENOSPC && count == 0) {
			/* One bucket holds more than the room left: grow and retry it. */
			if ((err = grow(keys, vals, cap, key_size, val_size)))
				return err;
			continue;
		}
		if (err)
			return err;
		memcpy(in_tok, out_tok, sizeof(in_tok));
		first = false;
	}
}

/*
 * Reads into s the task_info entries that changed since the last snapshot, as the ring
 * names them; the whole map when the ring overflowed (events_lost grew) or on the first
 * snapshot. Returns the number of entries or -errno.
 */
static long read_infos(struct tracer *t, struct tracer_snapshot *s, uint64_t events_lost)
{
	const size_t ks = sizeof(struct cb_task_key), vs = sizeof(struct cb_task_info);
	size_t n = 0, u = 0;
	int err;

	t->n_events = 0;
	err = ring_buffer__consume(t->info_ring);
	if (err < 0)
		return err;
	if (t->read_all_info || events_lost != t->events_lost_seen) {
		t->read_all_info = false;
		t->events_lost_seen = events_lost;
		return read_map(t->fd_info, ks, vs, &s->ikeys_buf, &s->ivals_buf, &s->icap);
	}
	qsort(t->events, t->n_events, ks, key_cmp);
	for (size_t i = 0; i < t->n_events; i++) /* unique keys */
		if (!u || key_cmp(&t->events[u - 1], &t->events[i]))
			t->events[u++] = t->events[i];
	while (s->icap < u)
		if ((err = grow(&s->ikeys_buf, &s->ivals_buf, &s->icap, ks, vs)))
			return err;
	for (size_t i = 0; i < u; i++) {
		struct cb_task_info *info = (struct cb_task_info *)s->ivals_buf + n;

		/* Gone already (forgotten by userspace): nothing to read. */
		if (bpf_map_lookup_elem(t->fd_info, &t->events[i], info))
			continue;
		((struct cb_task_key *)s->ikeys_buf)[n++] = t->events[i];
	}
	return (long)n;
}

int tracer__snapshot(struct tracer *t, struct tracer_snapshot *s)
{
	size_t np = (size_t)t->n_possible, n_time, n_info, n;
	uint64_t events_lost = 0;
	struct cb_cpu_state *cpus;
	struct timespec ts;
	__u32 zero = 0;
	long r;
	int err;

	for (int i = 0; i < t->n_online; i++) {
		err = close_slice_on(t, t->online[i]);
		if (err)
			return err;
	}
	clock_gettime(CLOCK_MONOTONIC, &ts);
	s->mono_ns = (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;

	cpus = calloc(np, sizeof(*cpus));
	if (!cpus)
		return -ENOMEM;
	err = bpf_map_lookup_elem(t->fd_cpu, &zero, cpus);
	if (err) {
		free(cpus);
		return err;
	}
	if (!s->lost_ns) {
		s->lost_ns = calloc(np, sizeof(uint64_t));
		if (!s->lost_ns) {
			free(cpus);
			return -ENOMEM;
		}
	}
	s->drops = s->switches = 0;
	for (size_t i = 0; i < np; i++) {
		s->lost_ns[i] = cpus[i].lost_ns;
		s->drops += cpus[i].drops;
		s->switches += cpus[i].switches;
		events_lost += cpus[i].events_lost;
	}
	free(cpus);

	r = read_map(t->fd_time, sizeof(struct cb_task_key), np * sizeof(uint64_t), &s->keys_buf,
		     &s->vals_buf, &s->cap);
	if (r < 0)
		return (int)r;
	n_time = (size_t)r;
	r = read_infos(t, s, events_lost);
	if (r < 0)
		return (int)r;
	n_info = (size_t)r;

	free(s->procs);
	s->procs = calloc(n_time + n_info + 1, sizeof(*s->procs));
	if (!s->procs)
		return -ENOMEM;
	for (n = 0; n < n_time; n++) {
		s->procs[n].key = ((struct cb_task_key *)s->keys_buf)[n];
		s->procs[n].on_cpu_ns = (const uint64_t *)s->vals_buf + n * np;
	}
	qsort(s->procs, n_time, sizeof(*s->procs), proc_cmp);
	for (size_t i = 0; i < n_info; i++) {
		struct tracer_proc probe = { .key = ((struct cb_task_key *)s->ikeys_buf)[i] };
		struct tracer_proc *p = bsearch(&probe, s->procs, n_time, sizeof(*p), proc_cmp);

		if (!p) { /* known to the kernel, never charged yet */
			p = &s->procs[n++];
			p->key = probe.key;
		}
		p->info = ((struct cb_task_info *)s->ivals_buf)[i];
		p->has_info = true;
	}
	qsort(s->procs, n, sizeof(*s->procs), proc_cmp);
	s->n = n;
	return 0;
}

void tracer_snapshot__free(struct tracer_snapshot *s)
{
	free(s->procs);
	free(s->lost_ns);
	free(s->keys_buf);
	free(s->vals_buf);
	free(s->ikeys_buf);
	free(s->ivals_buf);
	memset(s, 0, sizeof(*s));
}

int tracer__seed(struct tracer *t, const uint32_t *tgids, size_t n, uint64_t mask, size_t *found)
{
	struct bpf_link *link = NULL;
	size_t marked = 0;
	char buf[64];
	int fd = -1, err = 0;

	t->skel->bss->seeded = 0;
	for (size_t i = 0; i < n; i++) {
		err = bpf_map_update_elem(t->fd_seed, &tgids[i], &mask, BPF_ANY);
		if (err)
			goto out;
	}
	link = bpf_program__attach_iter(t->skel->progs.seed_tasks, NULL);
	if (!link) {
		err = -errno;
		goto out;
	}
	fd = bpf_iter_create(bpf_link__fd(link));
	if (fd < 0) {
		err = -errno;
		goto out;
	}
	while ((err = (int)read(fd, buf, sizeof(buf))) > 0)
		;
	if (err < 0) {
		err = -errno;
		goto out;
	}
	marked = (size_t)t->skel->bss->seeded;
out:
	for (size_t i = 0; i < n; i++)
		bpf_map_delete_elem(t->fd_seed, &tgids[i]);
	if (fd >= 0)
		close(fd);
	bpf_link__destroy(link);
	if (found)
		*found = marked;
	return err;
}

int tracer__forget(struct tracer *t, const struct cb_task_key *key)
{
	int e1 = bpf_map_delete_elem(t->fd_time, key);
	int e2 = bpf_map_delete_elem(t->fd_info, key);

	if (e1 && e1 != -ENOENT)
		return e1;
	if (e2 && e2 != -ENOENT)
		return e2;
	return 0;
}

void tracer__close(struct tracer *t)
{
	if (!t)
		return;
	for (int i = 0; i < 5; i++)
		bpf_link__destroy(t->links[i]);
	ring_buffer__free(t->info_ring);
	free(t->events);
	carbonbpf_bpf__destroy(t->skel);
	free(t->online);
	free(t);
}
