/* `carbonbpf monitor`: measure, attribute, convert and write, interval after interval. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <gnu/libc-version.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include "accounting.h"
#include "cgroup.h"
#include "emission_delta.h"
#include "log.h"
#include "monitor.h"
#include "report.h"
#include "topology.h"
#include "uploader.h"
#include "util.h"

#define UJ_PER_KWH 3.6e12

static volatile sig_atomic_t stop_requested;

static void on_stop_signal(int sig)
{
	if (stop_requested)
		_exit(128 + sig); /* a second Ctrl-C: stop at once */
	stop_requested = sig;
}

/* Only there to interrupt the sleep when the command ends; waitpid tells the rest. */
static void on_sigchld(int sig)
{
	(void)sig;
}

struct monitor {
	const struct monitor_opts *o;
	struct topology topo;
	struct tracer *tracer;
	struct energy_source *energy;
	struct accounting acc;
	struct tracer_snapshot snap;
	struct cgroup_names *cgroups;
	int proc_fd, iv_fd;           /* processes.csv, intervals file (-1: none) */
	char *buf;                    /* one interval's rows, written with one write(2) */
	size_t buf_len, buf_cap;
	long clk_tck;
	uint64_t start_mono_ns, end_mono_ns, interval_no;
	struct uploader *uploader;    /* NULL: no API upload */
	struct uploader_run *runs[SCOPE_MAX_EXPERIMENTS];
	struct emission_state sent[SCOPE_MAX_EXPERIMENTS];
	pid_t child;
	int child_status;
	uint64_t tree_bits;           /* experiments followed as process trees */
	/* run totals in microjoules, for the machine and per experiment bit */
	uint64_t machine_cpu_uj, machine_ram_uj;
	uint64_t exp_cpu_uj[SCOPE_MAX_EXPERIMENTS], exp_ram_uj[SCOPE_MAX_EXPERIMENTS];
	uint64_t busy_ns, capacity_ns;
	uint64_t reported_drops;
};

int descendants_of(const pid_t *roots, int n_roots, const pid_t *pid, const pid_t *ppid,
		   size_t n, pid_t **out, size_t *n_out)
{
	pid_t max = 0;
	size_t have = 0;
	bool grew = true;
	char *in;
	pid_t *set;

	for (int i = 0; i < n_roots; i++)
		max = roots[i] > max ? roots[i] : max;
	for (size_t i = 0; i < n; i++) {
		max = pid[i] > max ? pid[i] : max;
		max = ppid[i] > max ? ppid[i] : max;
	}
	in = calloc((size_t)max + 1, 1);
	set = malloc(((size_t)n_roots + n) * sizeof(*set));
	if (!in || !set) {
		free(in);
		free(set);
		return -ENOMEM;
	}
	for (int i = 0; i < n_roots; i++) {
		if (roots[i] > 0 && !in[roots[i]]) {
			in[roots[i]] = 1;
			set[have++] = roots[i];
		}
	}
	/* Fixed point: a process whose parent is in the set joins it (pids are not in birth
	 * order once they wrap, so one pass is not enough). */
	while (grew) {
		grew = false;
		for (size_t i = 0; i < n; i++) {
			if (pid[i] <= 0 || in[pid[i]] || ppid[i] <= 0 || !in[ppid[i]])
				continue;
			in[pid[i]] = 1;
			set[have++] = pid[i];
			grew = true;
		}
	}
	free(in);
	*out = set;
	*n_out = have;
	return 0;
}

/* Reads (pid, ppid) of every process under procfs_root. */
static int list_processes(const char *procfs_root, pid_t **pids, pid_t **ppids, size_t *n)
{
	size_t have = 0, cap = 1024;
	DIR *d = opendir(procfs_root);
	struct dirent *e;
	pid_t *p = malloc(cap * sizeof(pid_t)), *pp = malloc(cap * sizeof(pid_t));

	if (!d || !p || !pp) {
		int err = d ? -ENOMEM : -errno;

		if (d)
			closedir(d);
		free(p);
		free(pp);
		return err;
	}
	while ((e = readdir(d))) {
		char path[4096], stat[1024], *rp;
		int ppid;

		if (e->d_name[0] < '1' || e->d_name[0] > '9')
			continue;
		snprintf(path, sizeof(path), "%s/%s/stat", procfs_root, e->d_name);
		if (read_text_file(path, stat, sizeof(stat)) < 0)
			continue;
		/* "pid (comm) S ppid ...": comm may hold spaces and parentheses. */
		rp = strrchr(stat, ')');
		if (!rp || sscanf(rp + 1, " %*c %d", &ppid) != 1)
			continue;
		if (have == cap) {
			pid_t *np = realloc(p, cap * 2 * sizeof(pid_t)), *npp;

			if (np)
				p = np;
			npp = np ? realloc(pp, cap * 2 * sizeof(pid_t)) : NULL;
			if (!npp) {
				closedir(d);
				free(p);
				free(pp);
				return -ENOMEM;
			}
			pp = npp;
			cap *= 2;
		}
		p[have] = (pid_t)atoi(e->d_name);
		pp[have++] = (pid_t)ppid;
	}
	closedir(d);
	*pids = p;
	*ppids = pp;
	*n = have;
	return 0;
}

/*
 * Marks the roots and every descendant alive now. Children forked from a marked process
 * are marked by the kernel from then on; a child forked by a not-yet-marked one while
 * we scan is caught by scanning again until nothing new turns up.
 */
static int seed_trees(struct monitor *m, const pid_t *roots, int n_roots, uint64_t mask)
{
	size_t seeded_before = 0;

	for (int round = 0; round < 8; round++) {
		pid_t *pids, *ppids, *tree;
		size_t n, n_tree, found = 0;
		uint32_t *tgids;
		int err = list_processes(m->o->procfs_root, &pids, &ppids, &n);

		if (err)
			return err;
		err = descendants_of(roots, n_roots, pids, ppids, n, &tree, &n_tree);
		free(pids);
		free(ppids);
		if (err)
			return err;
		tgids = malloc(n_tree * sizeof(*tgids));
		if (!tgids) {
			free(tree);
			return -ENOMEM;
		}
		for (size_t i = 0; i < n_tree; i++)
			tgids[i] = (uint32_t)tree[i];
		err = tracer__seed(m->tracer, tgids, n_tree, mask, &found);
		free(tgids);
		free(tree);
		if (err)
			return err;
		pr_debug("tracking %zu processes (round %d)", n_tree, round);
		if (n_tree == seeded_before)
			break;
		seeded_before = n_tree;
	}
	return 0;
}

static int append(struct monitor *m, const char *s, size_t len)
{
	if (m->buf_len + len > m->buf_cap) {
		size_t ncap = (m->buf_len + len) * 2;
		char *nb = realloc(m->buf, ncap);

		if (!nb)
			return -ENOMEM;
		m->buf = nb;
		m->buf_cap = ncap;
	}
	memcpy(m->buf + m->buf_len, s, len);
	m->buf_len += len;
	return 0;
}

/* Writes the buffered rows with one write(2): a crash leaves whole rows only. */
static int flush_rows(struct monitor *m, int fd, const char *what)
{
	int err = write_all(fd, m->buf, m->buf_len);

	if (err)
		pr_err("cannot write %s: %s", what, strerror(-err));
	m->buf_len = 0;
	return err;
}

/* Opens an output CSV for appending; writes the header when the file is new or empty.
 * A file with another header is moved to FILE.bak first. */
static int open_csv(const char *dir, const char *name, const char *header, int *fd_out)
{
	char path[4096], first[4096] = "";
	struct stat st;
	int fd;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	if (!stat(path, &st) && st.st_size > 0) {
		read_text_file(path, first, sizeof(first));
		first[strcspn(first, "\r\n")] = '\0';
		if (strcmp(first, header)) {
			char bak[4200];

			snprintf(bak, sizeof(bak), "%s.bak", path);
			if (rename(path, bak))
				return -errno;
			pr_warn("%s had another header; moved it to %s", path, bak);
		}
	}
	fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
	if (fd < 0)
		return -errno;
	if (!fstat(fd, &st) && st.st_size == 0) {
		size_t len = strlen(header);

		if (write(fd, header, len) != (ssize_t)len || write(fd, "\n", 1) != 1) {
			int err = -errno;

			close(fd);
			return err;
		}
	}
	*fd_out = fd;
	return 0;
}

static const char intervals_header[] =
	"timestamp,interval,duration_s,domain,package,energy_uj,busy_ns,capacity_ns,"
	"attributed_uj,unattributed_uj,idle_uj,processes";

static double uj_to_kwh(uint64_t uj)
{
	return (double)uj / UJ_PER_KWH;
}

static int write_interval_rows(struct monitor *m)
{
	const struct monitor_opts *o = m->o;
	const struct accounting *a = &m->acc;
	char ts[32], row[4096], ids[2048], rt[32], cid[80];
	int err = 0;

	csv_local_timestamp(ts, sizeof(ts), time(NULL));
	for (size_t i = 0; i < a->n_active; i++) {
		const struct proc_rec *p = a->active[i];
		const char *cg = p->has_info ? cgroup_names__path(m->cgroups, p->info.cgroup_id) : "";
		uint64_t uj = p->iv_cpu_uj + p->iv_ram_uj;
		struct process_row r;

		scopes__ids(o->scopes, p->scope_mask, ids, sizeof(ids));
		if (container_id_from_cgroup(cg, rt, sizeof(rt), cid, sizeof(cid)))
			cid[0] = '\0';
		r = (struct process_row){
			.timestamp = ts,
			.interval = m->interval_no,
			.pid = p->key.tgid,
			.start_time_ticks = p->key.start_ns / (uint64_t)(1000000000 / m->clk_tck),
			.comm = p->has_info ? p->info.comm : "?",
			.cgroup = cg,
			.container_id = cid,
			.experiment_id = ids,
			.on_cpu_s = (double)p->iv_ns / 1e9,
			.cpu_energy_uj = p->iv_cpu_uj,
			.ram_energy_uj = p->iv_ram_uj,
			.cpu_energy_kwh = uj_to_kwh(p->iv_cpu_uj) * o->pue,
			.ram_energy_kwh = uj_to_kwh(p->iv_ram_uj) * o->pue,
			.emissions_kg = carbon_kg(uj_to_kwh(uj) * o->pue, o->intensity.g_per_kwh),
			.intensity_g_per_kwh = o->intensity.g_per_kwh,
			.intensity_source = o->intensity.source,
		};
		int len = process_row_format(row, sizeof(row), &r);

		if (len < 0 || (size_t)len >= sizeof(row) - 1)
			continue;
		row[len++] = '\n';
		if ((err = append(m, row, (size_t)len)))
			return err;
	}
	if ((err = flush_rows(m, m->proc_fd, o->processes_file)))
		return err;
	if (m->iv_fd < 0)
		return 0;
	for (int i = 0; i < a->n_splits; i++) {
		const struct domain_split *d = &a->splits[i];
		int len = snprintf(row, sizeof(row), "%s,%llu,%.6f,%s,%d,%llu,%llu,%llu,%llu,%llu,%llu,%zu\n",
				   ts, (unsigned long long)m->interval_no, (double)a->iv_wall_ns / 1e9,
				   d->reading.name, d->reading.pkg, (unsigned long long)d->reading.energy_uj,
				   (unsigned long long)d->busy_ns, (unsigned long long)d->capacity_ns,
				   (unsigned long long)d->attributed_uj,
				   (unsigned long long)d->unattributed_uj, (unsigned long long)d->idle_uj,
				   a->n_active);

		if ((err = append(m, row, (size_t)len)))
			return err;
	}
	return flush_rows(m, m->iv_fd, o->intervals_file);
}

/* Experiments a process belongs to now: its tree bits from the kernel, plus the rules. */
static uint64_t scope_mask_of(struct monitor *m, const struct proc_rec *p)
{
	uint64_t mask = p->info.scope_mask & m->tree_bits;

	if (p->has_info && scopes__has_rules(m->o->scopes))
		mask |= scopes__match_rules(m->o->scopes, cgroup_names__path(m->cgroups, p->info.cgroup_id),
					    p->info.comm, p->info.uid);
	return mask;
}

/* One measurement: snapshot, deltas, energy, split, totals, rows. */
static int measure(struct monitor *m)
{
	struct energy_sample es = { 0 };
	struct cb_task_key *forget = NULL;
	size_t n_forget = 0;
	int err;

	err = tracer__snapshot(m->tracer, &m->snap);
	if (err) {
		pr_err("cannot read the BPF maps: %s", strerror(-err));
		return err;
	}
	err = accounting__update(&m->acc, &m->snap, &forget, &n_forget);
	if (err)
		goto out;
	for (size_t i = 0; i < n_forget; i++)
		tracer__forget(m->tracer, &forget[i]);
	err = energy__read(m->energy, accounting__busy_ns(&m->acc), m->acc.iv_wall_ns, &es);
	if (err) {
		pr_err("cannot read energy: %s", strerror(-err));
		goto out;
	}
	if (m->acc.iv_wall_ns == 0) /* the baseline */
		goto out;
	m->interval_no++;
	err = accounting__attribute(&m->acc, &es, m->o->idle_policy);
	if (err) {
		pr_err("attribution failed: %s", strerror(-err));
		goto out;
	}
	for (int i = 0; i < m->acc.n_splits; i++) {
		const struct domain_split *d = &m->acc.splits[i];

		if (d->reading.is_ram)
			m->machine_ram_uj += d->reading.energy_uj;
		else
			m->machine_cpu_uj += d->reading.energy_uj;
	}
	for (size_t i = 0; i < m->acc.n_active; i++) {
		struct proc_rec *p = m->acc.active[i];
		int n_exp = m->o->scopes->n_exp;

		p->scope_mask = scope_mask_of(m, p);
		if (!p->scope_mask)
			continue;
		if (!p->exp_uj) {
			p->exp_uj = calloc((size_t)n_exp, sizeof(uint64_t));
			p->exp_ns = calloc((size_t)n_exp, sizeof(uint64_t));
			if (!p->exp_uj || !p->exp_ns) {
				err = -ENOMEM;
				goto out;
			}
		}
		/* What a process did while in an experiment, not before it joined. */
		for (int b = 0; b < n_exp; b++) {
			if (p->scope_mask & (1ull << b)) {
				m->exp_cpu_uj[b] += p->iv_cpu_uj;
				m->exp_ram_uj[b] += p->iv_ram_uj;
				p->exp_uj[b] += p->iv_cpu_uj + p->iv_ram_uj;
				p->exp_ns[b] += p->iv_ns;
			}
		}
	}
	for (int p = 0; p < m->acc.n_pkgs; p++)
		m->busy_ns += m->acc.iv_busy_pkg_ns[p];
	m->capacity_ns += (uint64_t)m->acc.n_online * m->acc.iv_wall_ns;
	if (m->acc.drops > m->reported_drops) {
		pr_warn("%llu kernel map inserts failed (map full: raise --max-processes); their time "
			"is reported as unattributed",
			(unsigned long long)(m->acc.drops - m->reported_drops));
		m->reported_drops = m->acc.drops;
	}
	cgroup_names__tick(m->cgroups);
	err = write_interval_rows(m);
out:
	free(forget);
	return err;
}

/* True while some tracked process is alive (as the kernel last told). */
static bool tracked_alive(const struct monitor *m)
{
	for (size_t i = 0; i < m->acc.n_procs; i++) {
		const struct proc_rec *p = m->acc.procs[i];

		if (!p->forgotten && p->has_info && (p->info.scope_mask & m->tree_bits) &&
		    !(p->info.flags & CB_TASK_EXITED))
			return true;
	}
	return false;
}

static int start_command(struct monitor *m, int *release_fd)
{
	int pfd[2];
	pid_t pid;

	if (pipe2(pfd, O_CLOEXEC))
		return -errno;
	pid = fork();
	if (pid < 0) {
		int err = -errno;

		close(pfd[0]);
		close(pfd[1]);
		return err;
	}
	if (pid == 0) {
		char c;

		signal(SIGINT, SIG_DFL);
		signal(SIGTERM, SIG_DFL);
		close(pfd[1]);
		/* Wait until the parent has marked us, so the command is tracked from exec on. */
		if (read(pfd[0], &c, 1) != 1)
			_exit(127);
		execvp(m->o->cmd[0], m->o->cmd);
		fprintf(stderr, "carbonbpf: cannot run %s: %s\n", m->o->cmd[0], strerror(errno));
		_exit(errno == ENOENT ? 127 : 126);
	}
	close(pfd[0]);
	m->child = pid;
	*release_fd = pfd[1];
	return 0;
}

/* Python's platform.platform() shape, as CodeCarbon reports the os. */
static void os_string(char *buf, size_t len)
{
	struct utsname u;

	uname(&u);
	/* Truncation is acceptable: the field is informational. */
	if (snprintf(buf, len, "%s-%s-%s-with-glibc%s", u.sysname, u.release, u.machine,
		     gnu_get_libc_version()) < 0)
		buf[0] = '\0';
}

/*
 * Cumulative figures of experiment `bit` (the whole machine when bit < 0) since the start,
 * `elapsed_s` later, as emissions.csv and the API report them: kWh with PUE applied, mean
 * powers over the run, mean machine CPU utilisation.
 */
static void run_totals(const struct monitor *m, int bit, double elapsed_s, struct emission_totals *t)
{
	const struct monitor_opts *o = m->o;
	uint64_t cpu_uj = bit >= 0 ? m->exp_cpu_uj[bit] : m->machine_cpu_uj;
	uint64_t ram_uj = bit >= 0 ? m->exp_ram_uj[bit] : m->machine_ram_uj;
	struct timespec now;

	clock_gettime(CLOCK_REALTIME, &now);
	memset(t, 0, sizeof(*t));
	t->measured_at_us = (int64_t)now.tv_sec * 1000000 + now.tv_nsec / 1000;
	t->elapsed_s = elapsed_s;
	t->cpu_energy_kwh = uj_to_kwh(cpu_uj) * o->pue;
	t->ram_energy_kwh = uj_to_kwh(ram_uj) * o->pue;
	t->gpu_energy_kwh = 0; /* GPUs are not measured; CodeCarbon sends 0 without one */
	t->energy_consumed_kwh = t->cpu_energy_kwh + t->ram_energy_kwh;
	t->emissions_kg = carbon_kg(t->energy_consumed_kwh, o->intensity.g_per_kwh);
	/* Powers are what the hardware drew: PUE applies to energy, as CodeCarbon. */
	t->cpu_power_w = elapsed_s > 0 ? (double)cpu_uj / 1e6 / elapsed_s : 0;
	t->ram_power_w = elapsed_s > 0 ? (double)ram_uj / 1e6 / elapsed_s : 0;
	t->gpu_power_w = NAN;
	t->cpu_utilization_percent = m->capacity_ns ? 100.0 * (double)m->busy_ns / (double)m->capacity_ns : NAN;
	t->gpu_utilization_percent = NAN;
	t->ram_utilization_percent = NAN;
	t->wue_l_per_kwh = o->wue;
}

/* The emissions.csv row of experiment `bit`, or of the whole machine when bit < 0. */
static void fill_emissions_row(const struct monitor *m, int bit, struct emissions_row *r, char *ts,
			       char *run_id, char *os, size_t os_len)
{
	const struct monitor_opts *o = m->o;
	double dur = (double)(m->end_mono_ns - m->start_mono_ns) / 1e9;
	struct emission_totals t;
	long long mem_avail_kb = -1;
	char meminfo[8192], *p;

	run_totals(m, bit, dur, &t);
	csv_local_timestamp(ts, 32, time(NULL));
	uuid4(run_id);
	os_string(os, os_len);
	snprintf(meminfo, sizeof(meminfo), "%s/meminfo", o->procfs_root);
	if (read_text_file(meminfo, meminfo, sizeof(meminfo)) > 0 &&
	    (p = strstr(meminfo, "MemAvailable:")))
		mem_avail_kb = atoll(p + strlen("MemAvailable:"));

	memset(r, 0, sizeof(*r));
	r->timestamp = ts;
	r->project_name = o->project_name;
	r->run_id = run_id;
	r->experiment_id = bit >= 0 ? o->scopes->experiments[bit] : o->machine_experiment_id;
	r->duration_s = dur;
	r->emissions_kg = t.emissions_kg;
	r->emissions_rate_kg_s = dur > 0 ? t.emissions_kg / dur : 0;
	r->cpu_power_w = (struct opt_double){ true, t.cpu_power_w };
	r->ram_power_w = (struct opt_double){ true, t.ram_power_w };
	r->cpu_energy_kwh = (struct opt_double){ true, t.cpu_energy_kwh };
	r->ram_energy_kwh = (struct opt_double){ true, t.ram_energy_kwh };
	r->energy_consumed_kwh = t.energy_consumed_kwh;
	r->water_consumed_l = o->wue * t.energy_consumed_kwh;
	r->country_name = o->intensity.country_name;
	r->country_iso_code = o->intensity.country_iso3;
	r->region = o->intensity.region;
	r->os = os;
	r->codecarbon_version = "carbonbpf-" CARBONBPF_VERSION;
	r->cpu_count = m->topo.n_online;
	r->cpu_model = m->topo.cpu_model;
	r->gpu_count = 0;
	r->ram_total_size_gib = (double)m->topo.ram_total_bytes / (1024.0 * 1024 * 1024);
	r->tracking_mode = bit >= 0 ? "process" : "machine";
	r->cpu_utilization_percent = (struct opt_double){ !isnan(t.cpu_utilization_percent),
							  t.cpu_utilization_percent };
	if (mem_avail_kb >= 0 && m->topo.ram_total_bytes) {
		double used = (double)m->topo.ram_total_bytes - (double)mem_avail_kb * 1024;

		r->ram_utilization_percent = (struct opt_double){ true, 100.0 * used / (double)m->topo.ram_total_bytes };
		r->ram_used_gb = (struct opt_double){ true, used / (1024.0 * 1024 * 1024) };
	}
	r->on_cloud = "N";
	r->pue = o->pue;
	r->wue = o->wue;
}

/* The runs this session reports: one per experiment, or the machine's (bit -1). */
static int run_bit(const struct monitor *m, int i)
{
	return m->o->scopes->n_exp ? i : -1;
}

static int n_runs(const struct monitor *m)
{
	return m->o->scopes->n_exp ? m->o->scopes->n_exp : 1;
}

/* Opens the uploader and spools one API run per experiment (local disk only). */
static int start_uploads(struct monitor *m)
{
	const struct monitor_opts *o = m->o;
	struct timespec now;
	int err;

	err = uploader__open(&m->uploader, &o->upload);
	if (err)
		return err;
	clock_gettime(CLOCK_REALTIME, &now);
	for (int i = 0; i < n_runs(m); i++) {
		int bit = run_bit(m, i);
		struct api_run run = {
			.timestamp_us = (int64_t)now.tv_sec * 1000000 + now.tv_nsec / 1000,
			.cpu_count = m->topo.n_online,
			.longitude = NAN,
			.latitude = NAN,
			.ram_total_size_gib = (double)m->topo.ram_total_bytes / (1024.0 * 1024 * 1024),
		};

		snprintf(run.experiment_id, sizeof(run.experiment_id), "%s",
			 bit >= 0 ? o->scopes->experiments[bit] : o->machine_experiment_id);
		os_string(run.os, sizeof(run.os));
		snprintf(run.codecarbon_version, sizeof(run.codecarbon_version), "carbonbpf-%s", CARBONBPF_VERSION);
		snprintf(run.cpu_model, sizeof(run.cpu_model), "%s", m->topo.cpu_model);
		snprintf(run.tracking_mode, sizeof(run.tracking_mode), "%s", bit >= 0 ? "process" : "machine");
		emission_state_init(&m->sent[i]);
		err = uploader__begin_run(m->uploader, &run, NULL, &m->runs[i]);
		if (err)
			return err;
	}
	return 0;
}

/*
 * Spools each run's delta since the last one (final: the rest, at stop). Local disk I/O
 * only; a delta not spooled stays in the totals and goes with the next one.
 */
static void queue_deltas(struct monitor *m, double elapsed_s, bool final)
{
	for (int i = 0; i < n_runs(m); i++) {
		struct emission_totals t;
		struct emission_delta d;
		struct emission_state next;

		int err;

		run_totals(m, run_bit(m, i), elapsed_s, &t);
		err = emission_delta_make(&m->sent[i], &t, final, &d, &next);
		if (err == -EAGAIN || err == -ENODATA)
			continue; /* under a whole second yet, or nothing left: goes with the next */
		if (err) {
			pr_err("cannot make the API delta of experiment %s: %s", m->o->scopes->n_exp ?
			       m->o->scopes->experiments[run_bit(m, i)] : m->o->machine_experiment_id,
			       strerror(-err));
			continue;
		}
		if (!uploader__add(m->runs[i], &d))
			m->sent[i] = next;
	}
}

/* Drains the uploads at stop; returns -EACCES when the server refused something. */
static int finish_uploads(struct monitor *m)
{
	struct uploader_summary sum;

	uploader__finish(m->uploader, 10.0, &sum);
	m->uploader = NULL;
	if (sum.deltas_pending || sum.runs_pending)
		pr_warn("%zu emission deltas (and %zu runs) are not accepted yet; they stay in %s and "
			"the next carbonbpf run sends them", sum.deltas_pending, sum.runs_pending,
			m->o->upload.spool_dir);
	return sum.rejected ? -EACCES : 0;
}

/* One row per experiment, or one for the machine when no scope was given. */
static int write_emissions(struct monitor *m)
{
	int n = m->o->scopes->n_exp;

	for (int b = n ? 0 : -1; b < n; b++) { /* -1: the machine's row */
		struct emissions_row r;
		char ts[32], run_id[37], os[512], path[4096];
		int err;

		fill_emissions_row(m, b, &r, ts, run_id, os, sizeof(os));
		snprintf(path, sizeof(path), "%s/%s", m->o->output_dir, m->o->output_file);
		err = emissions_csv_write(path, &r, m->o->csv_mode);
		if (err) {
			pr_err("cannot write %s: %s", path, strerror(-err));
			return err;
		}
	}
	return 0;
}

/*
 * Checks, before measuring, that the outputs can be written: files can be created in the
 * directory (without leaving one behind), and no output name is taken by something that
 * is not a regular file.
 */
static int check_outputs(const struct monitor_opts *o)
{
	const char *names[3] = { o->output_file, o->processes_file, o->intervals_file };
	char path[4096];
	struct stat st;
	int fd;

	snprintf(path, sizeof(path), "%s/.carbonbpf-probe-XXXXXX", o->output_dir);
	fd = mkstemp(path);
	if (fd < 0) {
		int err = -errno;

		pr_err("output directory %s is not writable: %s. Create it or choose another with "
		       "--output-dir", o->output_dir, strerror(errno));
		return err;
	}
	close(fd);
	unlink(path);
	for (int i = 0; i < 3; i++) {
		if (!names[i])
			continue;
		snprintf(path, sizeof(path), "%s/%s", o->output_dir, names[i]);
		if (!stat(path, &st) && !S_ISREG(st.st_mode)) {
			pr_err("%s exists and is not a regular file: remove it or choose another name", path);
			return -EEXIST;
		}
	}
	return 0;
}

/* Every --pid names a live process and every --cgroup an existing v2 cgroup. */
static int check_scopes(const struct monitor_opts *o)
{
	char mnt[1024] = "";

	for (int i = 0; i < o->scopes->n_sel; i++) {
		const struct scope_sel *sel = &o->scopes->sel[i];
		char path[4096];
		struct stat st;

		if (sel->kind == SCOPE_PID) {
			snprintf(path, sizeof(path), "%s/%d", o->procfs_root, (int)sel->pid);
			if (stat(path, &st)) {
				pr_err("no process with pid %d: check the pid (it may have exited)", (int)sel->pid);
				return -ESRCH;
			}
		} else if (sel->kind == SCOPE_CGROUP) {
			if (!mnt[0] && cgroup_v2_mount(o->procfs_root, mnt, sizeof(mnt))) {
				pr_err("--cgroup %s: no cgroup v2 hierarchy is mounted (cgroup scopes need "
				       "cgroup v2, or the unified hierarchy of a hybrid host)", sel->value);
				return -ENOENT;
			}
			snprintf(path, sizeof(path), "%s%s", mnt, sel->value);
			if (stat(path, &st) || !S_ISDIR(st.st_mode)) {
				pr_err("--cgroup %s: no such cgroup (%s)", sel->value, path);
				return -ENOENT;
			}
		}
	}
	return 0;
}

static int setup(struct monitor *m)
{
	const struct monitor_opts *o = m->o;
	struct tracer_opts to = { 0 };
	char errbuf[512], path[4096];
	struct stat st;
	int *slot_pkg = NULL, err;

	snprintf(path, sizeof(path), "%s/stat", o->procfs_root);
	if (stat(path, &st)) {
		pr_err("%s is not a procfs (no %s): check --procfs-root", o->procfs_root, path);
		return -ENOENT;
	}
	err = topology__load(&m->topo, o->sysfs_root, o->procfs_root);
	if (err) {
		pr_err("cannot read the CPU topology under %s: %s", o->sysfs_root, strerror(-err));
		return err;
	}
	if ((err = check_outputs(o)) || (err = check_scopes(o)))
		return err;
	to.n_possible = m->topo.n_possible;
	to.online = m->topo.online;
	to.n_online = m->topo.n_online;
	to.max_processes = o->max_processes ? o->max_processes : tracer_default_max_processes(o->procfs_root);
	to.attach = o->attach;
	err = tracer__open(&m->tracer, &to, errbuf, sizeof(errbuf));
	if (err) {
		pr_err("%s", errbuf);
		return err;
	}
	err = energy__open(&m->energy, &o->energy, &m->topo);
	if (err) {
		pr_err("cannot open an energy source: %s", strerror(-err));
		return err;
	}
	slot_pkg = malloc(sizeof(int) * (size_t)m->topo.n_possible);
	if (!slot_pkg)
		return -ENOMEM;
	for (int s = 0; s < m->topo.n_possible; s++)
		slot_pkg[s] = m->topo.pkg_of_cpu[m->topo.possible[s]];
	err = accounting__init(&m->acc, m->topo.n_possible, slot_pkg, m->topo.n_pkgs, m->topo.pkg_ncpus);
	free(slot_pkg);
	if (err)
		return err;
	m->cgroups = cgroup_names__new(o->procfs_root);
	if (!m->cgroups)
		return -ENOMEM;
	return 0;
}

static int open_outputs(struct monitor *m)
{
	const struct monitor_opts *o = m->o;
	int err;

	err = open_csv(o->output_dir, o->processes_file, processes_csv_header, &m->proc_fd);
	if (err) {
		pr_err("cannot open %s/%s: %s", o->output_dir, o->processes_file, strerror(-err));
		return err;
	}
	if (o->intervals_file) {
		err = open_csv(o->output_dir, o->intervals_file, intervals_header, &m->iv_fd);
		if (err) {
			pr_err("cannot open %s/%s: %s", o->output_dir, o->intervals_file, strerror(-err));
			return err;
		}
	}
	return 0;
}

static void teardown(struct monitor *m)
{
	if (m->proc_fd >= 0)
		close(m->proc_fd);
	if (m->iv_fd >= 0)
		close(m->iv_fd);
	free(m->buf);
	cgroup_names__free(m->cgroups);
	accounting__free(&m->acc);
	tracer_snapshot__free(&m->snap);
	energy__free(m->energy);
	tracer__close(m->tracer);
	topology__free(&m->topo);
}

static void install_signals(void)
{
	struct sigaction sa = { 0 };

	sa.sa_handler = on_stop_signal;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sa.sa_handler = on_sigchld;
	sa.sa_flags = SA_NOCLDSTOP;
	sigaction(SIGCHLD, &sa, NULL);
}

/* Sleeps until the absolute monotonic deadline or a signal. */
static void sleep_until(uint64_t deadline_ns)
{
	struct timespec ts = { .tv_sec = (time_t)(deadline_ns / 1000000000ull),
			       .tv_nsec = (long)(deadline_ns % 1000000000ull) };

	clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL);
}

static bool child_done(struct monitor *m)
{
	if (!m->child)
		return false;
	if (waitpid(m->child, &m->child_status, WNOHANG) == m->child) {
		m->child = -m->child; /* remember it ended */
		return true;
	}
	return m->child < 0;
}

int monitor_run(const struct monitor_opts *o, int *exit_code)
{
	struct monitor m = { .o = o, .proc_fd = -1, .iv_fd = -1 };
	uint64_t period_ns = (uint64_t)llround(o->measure_power_secs * 1e9);
	uint64_t end_ns = 0, next;
	int release_fd = -1, err, api_err = 0;

	*exit_code = 0;
	stop_requested = 0;
	m.clk_tck = sysconf(_SC_CLK_TCK);
	install_signals();
	if ((err = setup(&m)))
		goto out;
	m.tree_bits = scopes__tree_bits(o->scopes);
	for (int i = 0; !err && i < o->scopes->n_sel; i++) {
		const struct scope_sel *sel = &o->scopes->sel[i];

		if (sel->kind == SCOPE_PID) {
			err = seed_trees(&m, &sel->pid, 1, 1ull << sel->bit);
		} else if (sel->kind == SCOPE_CMD) {
			if ((err = start_command(&m, &release_fd))) {
				pr_err("cannot start %s: %s", o->cmd[0], strerror(-err));
				goto out;
			}
			err = seed_trees(&m, &m.child, 1, 1ull << sel->bit);
		}
	}
	if (err) {
		pr_err("cannot mark the processes to track: %s", strerror(-err));
		goto out;
	}
	if ((err = open_outputs(&m)))
		goto out;
	if (o->api && (err = start_uploads(&m)))
		goto out;
	if ((err = measure(&m))) /* baseline: the run starts here */
		goto out;
	m.start_mono_ns = m.acc.last_mono_ns;
	if (release_fd >= 0) {
		if (write(release_fd, "x", 1) != 1)
			pr_warn("cannot release the command: %s", strerror(errno));
		close(release_fd);
		release_fd = -1;
	}
	if (o->warn_no_country)
		pr_warn("no country known: using the world average %.0f g CO2eq/kWh (set "
			"--country-iso-code or country_iso_code)", o->intensity.g_per_kwh);
	pr_info("measuring every %.3g s with %s (%s)", o->measure_power_secs,
		tracer__attach_mode(m.tracer), energy__describe(m.energy));
	if (o->duration_secs > 0)
		end_ns = m.start_mono_ns + (uint64_t)llround(o->duration_secs * 1e9);
	next = m.start_mono_ns + period_ns;
	for (;;) {
		uint64_t wake = end_ns && end_ns < next ? end_ns : next;
		bool last;

		while (!stop_requested && !child_done(&m) && mono_ns() < wake)
			sleep_until(wake);
		last = stop_requested || child_done(&m) || (end_ns && mono_ns() >= end_ns);
		if ((err = measure(&m)))
			goto out;
		if (!last && !o->cmd && m.tree_bits && !scopes__has_rules(o->scopes) &&
		    !tracked_alive(&m)) {
			pr_info("every tracked process has exited");
			last = true;
		}
		if (last)
			break;
		if (m.uploader && o->api_call_interval > 0 && m.interval_no % (uint64_t)o->api_call_interval == 0)
			queue_deltas(&m, (double)(m.acc.last_mono_ns - m.start_mono_ns) / 1e9, false);
		next += period_ns;
		if (next < mono_ns()) /* we fell behind: skip, do not burst */
			next = mono_ns() + period_ns;
	}
	if (m.child > 0) { /* stopped by a signal: pass it on and collect the command */
		kill(m.child, stop_requested ? stop_requested : SIGTERM);
		waitpid(m.child, &m.child_status, 0);
		m.child = -m.child;
	}
	m.end_mono_ns = m.acc.last_mono_ns;
	if (m.uploader)
		queue_deltas(&m, (double)(m.end_mono_ns - m.start_mono_ns) / 1e9, true);
	if ((err = write_emissions(&m)))
		goto out;
	if (m.uploader)
		api_err = finish_uploads(&m);
	if (m.child < 0) {
		if (WIFEXITED(m.child_status))
			*exit_code = WEXITSTATUS(m.child_status);
		else if (WIFSIGNALED(m.child_status))
			*exit_code = 128 + WTERMSIG(m.child_status);
	}
	if (!o->quiet) {
		struct report_info ri = {
			.scopes = o->scopes,
			.machine_experiment_id = o->machine_experiment_id,
			.duration_s = (double)(m.end_mono_ns - m.start_mono_ns) / 1e9,
			.energy_source = energy__describe(m.energy),
			.estimated = energy__estimated(m.energy),
			.attach_mode = tracer__attach_mode(m.tracer),
			.intensity = &o->intensity,
			.pue = o->pue,
			.idle_policy = o->idle_policy,
			.top = o->top,
			.output_dir = o->output_dir,
			.output_file = o->output_file,
			.processes_file = o->processes_file,
			.drops = m.acc.drops,
		};
		report_write(stdout, &m.acc, &ri);
	}
	err = api_err; /* the files are written; a refused upload still fails the run */
out:
	if (release_fd >= 0)
		close(release_fd); /* the command sees EOF and exits 127 */
	if (m.child > 0) {
		kill(m.child, SIGKILL);
		waitpid(m.child, NULL, 0);
	}
	if (m.uploader) /* a failure before the end: keep what was spooled */
		finish_uploads(&m);
	teardown(&m);
	return err;
}
