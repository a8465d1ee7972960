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

static const char *kind_name(enum energy_kind k)
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

	off = (size_t)snprintf(e->desc, sizeof(e->desc), "%s:", kind_name(e->kind));
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

int energy__open(struct energy_source **out, const struct energy_opts *opts,
		 const struct topology *topo)
{
	static const struct {
		enum energy_kind kind;
		int (*open)(struct energy_source *, const struct energy_env *, char *, size_t);
	} sources[] = {
		{ ENERGY_POWERCAP, powercap_open },
		{ ENERGY_PERF, perf_power_open },
		{ ENERGY_MSR, msr_open },
	};
	struct energy_env env;
	struct energy_source *e;
	char why[512];
	int err;

	if (!out || !opts || !topo)
		return -EINVAL;
	*out = NULL;
	if (isnan(opts->force_cpu_power_w) || isnan(opts->force_ram_power_w) ||
	    opts->force_cpu_power_w < 0 || opts->force_ram_power_w < 0)
		return -EINVAL;
	e = calloc(1, sizeof(*e));
	if (!e)
		return -ENOMEM;
	env.opts = opts;
	env.sysfs_root = opts->sysfs_root ? opts->sysfs_root : "/sys";
	env.dev_root = opts->dev_root ? opts->dev_root : "/dev";
	env.topo = topo;

	if (opts->force_model || opts->force_cpu_power_w > 0) {
		pr_info("energy: hardware counters not used: %s set",
			opts->force_model ? "force_mode_cpu_load" : "force_cpu_power");
	} else {
		for (size_t i = 0; i < sizeof(sources) / sizeof(sources[0]); i++) {
			why[0] = '\0';
			err = sources[i].open(e, &env, why, sizeof(why));
			if (!err) {
				e->kind = sources[i].kind;
				describe_hw(e);
				goto opened;
			}
			close_domains(e);
			if (err == -ENOMEM) {
				free(e);
				return err;
			}
			pr_info("energy: %s not used: %s", kind_name(sources[i].kind),
				why[0] ? why : strerror(-err));
		}
	}
	model_open(e, &env);
opened:
	ram_open(e, &env);
	pr_info("energy: %s", e->desc);
	*out = e;
	return 0;
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
