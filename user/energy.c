/* Energy source selection, per-interval reading, wraparound, and the CPU-load / RAM models. */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "cpu_tdp.h"
#include "energy_priv.h"
#include "log.h"

#define GENERIC_CPU_TDP_W 85.0        /* CodeCarbon's default when no TDP is usable */
#define UNKNOWN_CPU_W_PER_THREAD 4.0  /* CodeCarbon: unknown model -> 4 W x logical CPUs */
#define PROBE_NS 80000000L            /* window for the "counters stay at 0" check */

int energy_counter_delta(uint64_t prev, uint64_t now, uint64_t max_range_uj, uint64_t *delta)
{
	if (now >= prev) {
		*delta = now - prev;
		return 0;
	}
	/* One wrap at the domain's own range; an unknown (or inconsistent) range cannot be undone. */
	if (max_range_uj == 0 || prev > max_range_uj)
		return -ERANGE;
	*delta = max_range_uj - prev + now;
	return 0;
}

double energy_cpu_model_w(double max_power_w, double load)
{
	if (!(load > 0.0))
		load = 0.0;
	if (load > 1.0)
		load = 1.0;
	return max_power_w * (0.1 + 0.9 * load * load * load);
}

/* CodeCarbon's DIMM count for a RAM size (CODECARBON.md 6.3). */
static int ram_dimms(double gib)
{
	static const double sizes[] = { 128, 64, 32, 16, 8, 4 };
	int count;

	if (gib <= 2)
		return 1;
	if (gib <= 16)
		return 2;
	if (gib <= 64)
		return 4;
	if (gib <= 128)
		return 8;
	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		if (sizes[i] <= gib / 8) {
			count = (int)ceil(gib / sizes[i]);
			return count > 32 ? 32 : count;
		}
	}
	return 8;
}

double energy_ram_model_w(double total_gib)
{
	const double per_dimm_w = 5.0; /* x86 */
	int dimms = ram_dimms(total_gib);
	double w = 0;

	for (int i = 1; i <= dimms; i++) {
		if (i <= 4)
			w += per_dimm_w;
		else if (i <= 8)
			w += per_dimm_w * 0.9;
		else if (i <= 16)
			w += per_dimm_w * 0.8;
		else
			w += per_dimm_w * 0.7;
	}
	return w < 10.0 ? 10.0 : w;
}

int energy_read_text(const char *path, char *buf, size_t len)
{
	ssize_t got;
	int fd, err = 0;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	got = read(fd, buf, len - 1);
	if (got < 0)
		err = -errno;
	close(fd);
	if (err)
		return err;
	buf[got] = '\0';
	while (got > 0 && (buf[got - 1] == '\n' || buf[got - 1] == ' ' || buf[got - 1] == '\t'))
		buf[--got] = '\0';
	return 0;
}

int energy_read_u64_file(const char *path, uint64_t *v)
{
	char buf[64], *end;
	unsigned long long x;
	int err;

	err = energy_read_text(path, buf, sizeof(buf));
	if (err)
		return err;
	if (buf[0] < '0' || buf[0] > '9')
		return -EINVAL;
	errno = 0;
	x = strtoull(buf, &end, 10);
	if (errno || *end)
		return -EINVAL;
	*v = x;
	return 0;
}

int energy_pkg_of_phys(const struct topology *t, int phys_id)
{
	for (int i = 0; i < t->n_pkgs; i++)
		if (t->pkg_phys_id[i] == phys_id)
			return i;
	return -1;
}

void energy_probe_sleep(void)
{
	struct timespec ts = { 0, PROBE_NS };

	while (nanosleep(&ts, &ts) && errno == EINTR)
		;
}

int energy_domain_read_raw(const struct energy_domain *d, uint64_t *raw)
{
	uint64_t v;
	ssize_t got;

	if (d->path[0])
		return energy_read_u64_file(d->path, raw);
	if (d->msr_reg) {
		got = pread(d->fd, &v, sizeof(v), d->msr_reg);
		if (got != (ssize_t)sizeof(v))
			return got < 0 ? -errno : -EIO;
		*raw = v & 0xffffffffULL; /* RAPL energy status: 32-bit counter */
		return 0;
	}
	got = read(d->fd, &v, sizeof(v));
	if (got != (ssize_t)sizeof(v))
		return got < 0 ? -errno : -EIO;
	*raw = v;
	return 0;
}

struct energy_domain *energy_domain_new(struct energy_source *e)
{
	struct energy_domain *d;

	if (e->n_dom >= ENERGY_MAX_READINGS - 1) /* one reading is kept for the RAM model */
		return NULL;
	d = &e->dom[e->n_dom++];
	memset(d, 0, sizeof(*d));
	d->fd = -1;
	d->pkg = -1;
	d->uj_per_unit = 1.0;
	return d;
}

static void close_domains(struct energy_source *e)
{
	for (int i = 0; i < e->n_dom; i++)
		if (e->dom[i].fd >= 0)
			close(e->dom[i].fd);
	e->n_dom = 0;
}

const char *energy_kind_name(enum energy_kind k)
{
	switch (k) {
	case ENERGY_POWERCAP:
		return "powercap";
	case ENERGY_PERF:
		return "perf power PMU";
	case ENERGY_MSR:
		return "msr";
	default:
		return "CPU-load model";
	}
}

/*
 * Max power per package for the model. TDP is one socket's, so it applies to each package;
 * a forced power is CodeCarbon's whole-machine figure, shared by the packages' CPU counts.
 */
static void model_open(struct energy_source *e, const struct energy_env *env)
{
	const struct topology *t = env->topo;
	const struct energy_opts *o = env->opts;
	char matched[128] = "", src[400], pmax[128];
	double tdp_w = 0;
	int total = 0, i, err;
	size_t off;

	e->kind = ENERGY_MODEL;
	if (t->n_pkgs > 0 && t->n_pkgs <= ENERGY_MAX_READINGS - 1) {
		e->n_model = t->n_pkgs;
		for (i = 0; i < t->n_pkgs; i++) {
			e->model_pkg[i] = i;
			e->model_ncpus[i] = t->pkg_ncpus[i];
			total += t->pkg_ncpus[i];
		}
	} else {
		/* No usable topology: one machine-wide entry. */
		e->n_model = 1;
		e->model_pkg[0] = -1;
		e->model_ncpus[0] = t->n_online;
		total = t->n_online;
	}

	if (o->force_cpu_power_w > 0) {
		for (i = 0; i < e->n_model; i++)
			e->model_pmax_w[i] = total > 0 ? o->force_cpu_power_w * e->model_ncpus[i] / total
						       : o->force_cpu_power_w / e->n_model;
		snprintf(src, sizeof(src), "force_cpu_power %.1f W for the machine, shared by CPU count",
			 o->force_cpu_power_w);
		goto done;
	}
	err = t->cpu_model[0] ? cpu_tdp_lookup(t->cpu_model, &tdp_w, matched, sizeof(matched))
			      : -ENOENT;
	if (!err) {
		for (i = 0; i < e->n_model; i++)
			e->model_pmax_w[i] = tdp_w;
		snprintf(src, sizeof(src), "TDP %.1f W of '%s' from CodeCarbon's cpu_power.csv as '%s'",
			 tdp_w, t->cpu_model, matched);
		goto done;
	}
	if (total > 0) {
		for (i = 0; i < e->n_model; i++)
			e->model_pmax_w[i] = UNKNOWN_CPU_W_PER_THREAD * e->model_ncpus[i];
		snprintf(src, sizeof(src),
			 "CPU '%s' not in the TDP table: CodeCarbon's rule %.0f W x %d logical CPUs = %.1f W",
			 t->cpu_model[0] ? t->cpu_model : "(unknown)", UNKNOWN_CPU_W_PER_THREAD, total,
			 UNKNOWN_CPU_W_PER_THREAD * total);
		goto done;
	}
	for (i = 0; i < e->n_model; i++)
		e->model_pmax_w[i] = GENERIC_CPU_TDP_W;
	snprintf(src, sizeof(src), "CPU '%s' unknown and no CPU count: CodeCarbon's generic %.0f W",
		 t->cpu_model, GENERIC_CPU_TDP_W);
done:
	for (i = 1; i < e->n_model && e->model_pmax_w[i] == e->model_pmax_w[0]; i++)
		;
	if (i == e->n_model) {
		snprintf(pmax, sizeof(pmax), "%.1f W", e->model_pmax_w[0]);
	} else {
		pmax[0] = '\0';
		for (i = 0, off = 0; i < e->n_model && off < sizeof(pmax); i++)
			off += (size_t)snprintf(pmax + off, sizeof(pmax) - off, "%s%.1f W (package %d)",
						i ? ", " : "", e->model_pmax_w[i], i);
	}
	snprintf(e->desc, sizeof(e->desc),
		 "CPU-load model (ESTIMATED): P = Pmax x (0.1 + 0.9 x load^3) per socket, Pmax %s (%s)",
		 pmax, src);
}

static void describe_hw(struct energy_source *e)
{
	size_t off;

	off = (size_t)snprintf(e->desc, sizeof(e->desc), "%s:", energy_kind_name(e->kind));
	for (int i = 0; i < e->n_dom && off < sizeof(e->desc); i++)
		off += (size_t)snprintf(e->desc + off, sizeof(e->desc) - off, "%s %s (%s)",
					i ? "," : "", e->dom[i].name, e->dom[i].where);
}

static void ram_open(struct energy_source *e, const struct energy_env *env)
{
	double gib = (double)env->topo->ram_total_bytes / (1024.0 * 1024.0 * 1024.0);
	size_t off = strlen(e->desc);

	for (int i = 0; i < e->n_dom; i++)
		if (e->dom[i].is_ram)
			return;
	e->ram_modelled = true;
	if (env->opts->force_ram_power_w > 0) {
		e->ram_w = env->opts->force_ram_power_w;
		snprintf(e->desc + off, sizeof(e->desc) - off, "; RAM %.1f W (force_ram_power)",
			 e->ram_w);
	} else {
		e->ram_w = energy_ram_model_w(gib);
		snprintf(e->desc + off, sizeof(e->desc) - off,
			 "; RAM model %.1f W (%.1f GiB, CodeCarbon 5 W per DIMM, floor 10 W)", e->ram_w,
			 gib);
	}
}

/* The hardware sources, in order of preference. */
static const struct {
	enum energy_kind kind;
	int (*open)(struct energy_source *, const struct energy_env *, char *, size_t);
} hw_sources[] = {
	{ ENERGY_POWERCAP, powercap_open },
	{ ENERGY_PERF, perf_power_open },
	{ ENERGY_MSR, msr_open },
};

static int check_opts(const struct energy_opts *opts)
{
	if (isnan(opts->force_cpu_power_w) || isnan(opts->force_ram_power_w) ||
	    opts->force_cpu_power_w < 0 || opts->force_ram_power_w < 0)
		return -EINVAL;
	return 0;
}

static void env_init(struct energy_env *env, const struct energy_opts *opts,
		     const struct topology *topo, struct energy_probe_result *probe)
{
	memset(env, 0, sizeof(*env));
	env->opts = opts;
	env->sysfs_root = opts->sysfs_root ? opts->sysfs_root : "/sys";
	env->dev_root = opts->dev_root ? opts->dev_root : "/dev";
	env->topo = topo;
	env->probe = probe;
	env->quiet = probe != NULL;
}

static void record_source(struct energy_probe_result *rep, enum energy_kind kind,
			  enum energy_probe_status status, int err, const char *reason,
			  const struct energy_source *e)
{
	struct energy_probe_source *s;

	if (!rep)
		return;
	s = &rep->src[kind];
	s->kind = kind;
	s->name = energy_kind_name(kind);
	s->status = status;
	s->err = err;
	snprintf(s->reason, sizeof(s->reason), "%s", reason);
	s->n_domains = 0;
	for (int i = 0; e && i < e->n_dom && i < ENERGY_MAX_READINGS; i++) {
		struct energy_probe_domain *d = &s->domains[s->n_domains++];

		snprintf(d->name, sizeof(d->name), "%s", e->dom[i].name);
		snprintf(d->where, sizeof(d->where), "%s", e->dom[i].where);
		d->pkg = e->dom[i].pkg;
		d->is_ram = e->dom[i].is_ram;
	}
	for (int i = 0; e && i < e->n_model && s->n_domains < ENERGY_MAX_READINGS; i++) {
		struct energy_probe_domain *d = &s->domains[s->n_domains++];

		snprintf(d->name, sizeof(d->name), "cpu-model");
		snprintf(d->where, sizeof(d->where), "%.1f W max", e->model_pmax_w[i]);
		d->pkg = e->model_pkg[i];
		d->is_ram = false;
	}
}

/*
 * The selection shared by energy__open() and energy_probe(): the hardware sources in order,
 * the first that reads energy kept open in e, else the CPU-load model; then the RAM model
 * where no dram counter is read. Without a report it stops at the first source that works;
 * with one it also tries the others (on a scratch source, closed again) and records every
 * outcome. Returns 0 or -ENOMEM.
 */
static int select_source(struct energy_source *e, const struct energy_env *env,
			 struct energy_probe_result *rep)
{
	const struct energy_opts *opts = env->opts;
	bool forced = opts->force_model || opts->force_cpu_power_w > 0;
	const char *force_key = opts->force_model ? "force_mode_cpu_load" : "force_cpu_power";
	struct energy_source *scratch = NULL;
	bool found = false;
	char why[512];
	int err = 0;

	if (forced)
		pr_info("energy: hardware counters not used: %s set", force_key);
	for (size_t i = 0; i < sizeof(hw_sources) / sizeof(hw_sources[0]); i++) {
		enum energy_kind kind = hw_sources[i].kind;
		struct energy_source *t = e;

		if (forced || found) {
			if (!rep)
				break;
			if (!scratch)
				scratch = calloc(1, sizeof(*scratch));
			if (!scratch) {
				err = -ENOMEM;
				goto out;
			}
			t = scratch;
		}
		why[0] = '\0';
		err = hw_sources[i].open(t, env, why, sizeof(why));
		if (!err) {
			if (t == e) {
				e->kind = kind;
				describe_hw(e);
				found = true;
				record_source(rep, kind, ENERGY_PROBE_SELECTED, 0, "", t);
			} else {
				if (forced)
					snprintf(why, sizeof(why), "reads energy, but %s is set", force_key);
				else
					snprintf(why, sizeof(why), "reads energy, but %s is preferred",
						 energy_kind_name(e->kind));
				record_source(rep, kind, ENERGY_PROBE_AVAILABLE, 0, why, t);
				close_domains(t);
			}
			continue;
		}
		close_domains(t);
		if (err == -ENOMEM)
			goto out;
		if (!why[0])
			snprintf(why, sizeof(why), "%s", strerror(-err));
		pr_info("energy: %s not used: %s", energy_kind_name(kind), why);
		record_source(rep, kind, ENERGY_PROBE_REJECTED, err, why, NULL);
	}
	err = 0;
	if (!found) {
		model_open(e, env);
		if (rep) {
			snprintf(rep->model, sizeof(rep->model), "%s", e->desc);
			record_source(rep, ENERGY_MODEL, ENERGY_PROBE_SELECTED, 0, "", e);
		}
	} else if (rep) {
		/* The model's parameters are worth showing even when a counter is read. */
		if (!scratch)
			scratch = malloc(sizeof(*scratch));
		if (!scratch) {
			err = -ENOMEM;
			goto out;
		}
		memset(scratch, 0, sizeof(*scratch));
		model_open(scratch, env);
		snprintf(rep->model, sizeof(rep->model), "%s", scratch->desc);
		record_source(rep, ENERGY_MODEL, ENERGY_PROBE_AVAILABLE, 0,
			      "not needed: a hardware counter reads energy", scratch);
	}
	ram_open(e, env);
	if (rep) {
		rep->selected = e->kind;
		rep->estimated = e->kind == ENERGY_MODEL;
		snprintf(rep->describe, sizeof(rep->describe), "%s", e->desc);
	}
out:
	free(scratch);
	return err;
}

int energy__open(struct energy_source **out, const struct energy_opts *opts,
		 const struct topology *topo)
{
	struct energy_env env;
	struct energy_source *e;
	int err;

	if (!out || !opts || !topo)
		return -EINVAL;
	*out = NULL;
	if (check_opts(opts))
		return -EINVAL;
	e = calloc(1, sizeof(*e));
	if (!e)
		return -ENOMEM;
	env_init(&env, opts, topo, NULL);
	err = select_source(e, &env, NULL);
	if (err) {
		energy__free(e);
		return err;
	}
	pr_info("energy: %s", e->desc);
	*out = e;
	return 0;
}

int energy_probe(const struct energy_opts *opts, const struct topology *topo,
		 struct energy_probe_result *out)
{
	struct energy_env env;
	struct energy_source *e;
	int err;

	if (!opts || !topo || !out)
		return -EINVAL;
	memset(out, 0, sizeof(*out));
	if (check_opts(opts))
		return -EINVAL;
	e = calloc(1, sizeof(*e));
	if (!e)
		return -ENOMEM;
	env_init(&env, opts, topo, out);
	err = select_source(e, &env, out);
	energy__free(e);
	return err;
}

static uint64_t joules_uj(double watts, uint64_t interval_ns)
{
	double uj = watts * (double)interval_ns / 1000.0;

	return uj > 0 ? (uint64_t)llround(uj) : 0;
}

static void add_reading(struct energy_sample *out, const char *name, int pkg, bool is_ram,
			uint64_t energy_uj)
{
	struct energy_reading *r;

	if (out->n >= ENERGY_MAX_READINGS)
		return;
	r = &out->r[out->n++];
	snprintf(r->name, sizeof(r->name), "%s", name);
	r->pkg = pkg;
	r->is_ram = is_ram;
	r->energy_uj = energy_uj;
}

static void read_domain(struct energy_domain *d, struct energy_sample *out)
{
	uint64_t now, delta, total_uj;
	int err;

	err = energy_domain_read_raw(d, &now);
	if (err) {
		pr_warn("energy: cannot read %s (%s): %s; its energy is counted at the next read",
			d->name, d->where, strerror(-err));
		return;
	}
	err = energy_counter_delta(d->last_raw, now, d->max_raw, &delta);
	if (err) {
		pr_warn("energy: %s (%s) went back from %llu to %llu and its counter range is unknown: sample dropped",
			d->name, d->where, (unsigned long long)d->last_raw, (unsigned long long)now);
		d->last_raw = now;
		return;
	}
	d->last_raw = now;
	d->cum_raw += delta;
	/* Converting the running total (not each delta) keeps fractions of a unit from being lost. */
	if (d->uj_per_unit == 1.0)
		total_uj = d->cum_raw;
	else
		total_uj = (uint64_t)((double)d->cum_raw * d->uj_per_unit);
	add_reading(out, d->name, d->pkg, d->is_ram, total_uj - d->emitted_uj);
	d->emitted_uj = total_uj;
}

int energy__read(struct energy_source *e, const uint64_t *busy_ns, uint64_t interval_ns,
		 struct energy_sample *out)
{
	if (!e || !out)
		return -EINVAL;
	out->n = 0;
	for (int i = 0; i < e->n_dom; i++)
		read_domain(&e->dom[i], out);
	for (int i = 0; i < e->n_model; i++) {
		int p = e->model_pkg[i];
		double w;

		if (busy_ns && p >= 0 && interval_ns > 0 && e->model_ncpus[i] > 0) {
			double load = (double)busy_ns[p] /
				      ((double)e->model_ncpus[i] * (double)interval_ns);

			w = energy_cpu_model_w(e->model_pmax_w[i], load);
		} else {
			/* Load unknown: CodeCarbon's constant mode, half the maximum. */
			w = 0.5 * e->model_pmax_w[i];
		}
		add_reading(out, "cpu-model", p, false, joules_uj(w, interval_ns));
	}
	if (e->ram_modelled)
		add_reading(out, "ram-model", -1, true, joules_uj(e->ram_w, interval_ns));
	return 0;
}

enum energy_kind energy__kind(const struct energy_source *e)
{
	return e->kind;
}

bool energy__estimated(const struct energy_source *e)
{
	return e->kind == ENERGY_MODEL;
}

const char *energy__describe(const struct energy_source *e)
{
	return e->desc;
}

void energy__free(struct energy_source *e)
{
	if (!e)
		return;
	close_domains(e);
	free(e);
}
