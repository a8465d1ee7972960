/* `carbonbpf detect [--json]`: what this machine offers carbonbpf, and what carbonbpf will use. */
#include <errno.h>
#include <getopt.h>
#include <linux/capability.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "commands.h"
#include "config.h"
#include "detect.h"
#include "energy.h"
#include "intensity.h"
#include "log.h"
#include "topology.h"
#include "tracer.h"
#include "util.h"

#define DETECT_MAX_PROCESSES 1024 /* map size of the trial BPF load: small, it is closed at once */

static const char usage[] =
	"Usage: carbonbpf detect [OPTIONS]\n"
	"\n"
	"Shows what this machine offers and what `carbonbpf monitor` would use: CPU model,\n"
	"sockets, CPUs, RAM; every energy source and why each unused one is rejected (and\n"
	"whether energy will be estimated); whether the BPF programs load (tp_btf, raw_tp);\n"
	"the cgroup mode; privileges present and missing; the carbon intensity in effect.\n"
	"\n"
	"Options:\n"
	"  --json                   the same as one JSON object\n"
	"  --sysfs-root DIR         read /sys from DIR (key sysfs_root)\n"
	"  --procfs-root DIR        read /proc from DIR (key procfs_root)\n"
	"  --country-iso-code CODE  ISO 3166 alpha-3 or alpha-2 country for carbon intensity\n"
	"  --region NAME            US state, Canadian province or Nordic zone (name or code)\n"
	"  -h, --help               this help\n"
	"\n"
	"Exit status: 0 reported, 1 the configuration's intensity is unusable, 2 usage.\n";

enum { OPT_JSON = 256, OPT_SYSFS, OPT_PROCFS, OPT_COUNTRY, OPT_REGION };

static const struct option long_opts[] = {
	{ "json", no_argument, NULL, OPT_JSON },
	{ "sysfs-root", required_argument, NULL, OPT_SYSFS },
	{ "procfs-root", required_argument, NULL, OPT_PROCFS },
	{ "country-iso-code", required_argument, NULL, OPT_COUNTRY },
	{ "region", required_argument, NULL, OPT_REGION },
	{ "help", no_argument, NULL, 'h' },
	{ NULL, 0, NULL, 0 },
};

static const struct {
	int opt;
	const char *key;
	const char *flag;
} flag_keys[] = {
	{ OPT_SYSFS, "sysfs_root", "--sysfs-root" },
	{ OPT_PROCFS, "procfs_root", "--procfs-root" },
	{ OPT_COUNTRY, "country_iso_code", "--country-iso-code" },
	{ OPT_REGION, "region", "--region" },
};

/* Capabilities carbonbpf cares about, and what for. */
static const struct {
	int cap;
	const char *name;
	const char *use;
} caps[] = {
	{ CAP_BPF, "CAP_BPF", "load the BPF programs (with CAP_PERFMON)" },
	{ CAP_PERFMON, "CAP_PERFMON", "attach tracing programs; open the perf power PMU" },
	{ CAP_SYS_ADMIN, "CAP_SYS_ADMIN", "BPF on kernels before 5.8" },
	{ CAP_SYS_RAWIO, "CAP_SYS_RAWIO", "read RAPL MSRs through /dev/cpu/N/msr" },
};
#define N_CAPS (sizeof(caps) / sizeof(caps[0]))

struct bpf_try {
	const char *mode; /* "tp_btf", "raw_tp" */
	bool loads;
	char error[512];
};

struct detect {
	const char *sysfs_root, *procfs_root;
	struct topology topo;
	char online_list[256];
	struct energy_probe_result *energy;
	int energy_err;
	bool btf;
	char btf_path[64];
	struct bpf_try bpf[2];
	enum cgroup_mode cg_mode;
	char cg_v2[1024];
	int cg_err;
	uid_t euid;
	bool caps_known;
	uint64_t cap_mask;
	long long perf_paranoid; /* -100: unknown */
	int zones_unreadable, zones_total;
	char powercap_fix[700];
	struct carbon_intensity ci;
	int ci_err;
	char ci_msg[1024];
};

static bool has_cap(const struct detect *d, int cap)
{
	return d->caps_known && (d->cap_mask >> cap) & 1;
}

static void try_bpf(struct detect *d)
{
	static const enum tracer_attach modes[] = { TRACER_ATTACH_TP_BTF, TRACER_ATTACH_RAW_TP };
	struct topology real = { 0 };
	const struct topology *t = &d->topo;
	struct tracer_opts o = { 0 };

	/* BPF runs in this kernel: an injected /sys may describe another machine's CPUs. */
	if (strcmp(d->sysfs_root, "/sys") && !topology__load(&real, "/sys", "/proc"))
		t = &real;
	o.n_possible = t->n_possible;
	o.online = t->online;
	o.n_online = t->n_online;
	o.max_processes = DETECT_MAX_PROCESSES;
	for (int i = 0; i < 2; i++) {
		struct tracer *tr = NULL;
		int err;

		d->bpf[i].mode = i ? "raw_tp" : "tp_btf";
		o.attach = modes[i];
		err = tracer__open(&tr, &o, d->bpf[i].error, sizeof(d->bpf[i].error));
		d->bpf[i].loads = !err;
		if (!err) {
			d->bpf[i].error[0] = '\0';
			tracer__close(tr);
		} else if (!d->bpf[i].error[0]) {
			snprintf(d->bpf[i].error, sizeof(d->bpf[i].error), "%s", strerror(-err));
		}
	}
	if (t == &real)
		topology__free(&real);
}

static void read_cgroups(struct detect *d)
{
	char path[4096], *buf;
	long n;

	snprintf(path, sizeof(path), "%s/self/mountinfo", d->procfs_root);
	buf = malloc(1 << 20);
	if (!buf) {
		d->cg_err = -ENOMEM;
		return;
	}
	n = read_text_file(path, buf, 1 << 20);
	if (n < 0) {
		d->cg_err = (int)n;
	} else {
		d->cg_mode = detect_cgroup_mode(buf, d->cg_v2, sizeof(d->cg_v2));
		d->cg_err = 0;
	}
	free(buf);
}

static void read_privileges(struct detect *d)
{
	char path[4096];

	d->euid = geteuid();
	d->caps_known = !detect_effective_caps(d->procfs_root, &d->cap_mask);
	snprintf(path, sizeof(path), "%s/sys/kernel/perf_event_paranoid", d->procfs_root);
	if (read_ll_file(path, &d->perf_paranoid))
		d->perf_paranoid = -100;
	if (!d->energy)
		return;
	for (int i = 0; i < d->energy->n_zones; i++) {
		d->zones_total++;
		if (d->energy->zones[i].read_err == -EACCES || d->energy->zones[i].read_err == -EPERM)
			d->zones_unreadable++;
	}
	snprintf(d->powercap_fix, sizeof(d->powercap_fix),
		 "powercap energy_uj is root-only: run as root, or sudo chmod a+r %s/*/energy_uj",
		 d->energy->powercap_dir);
}

static void energy_opts_from_config(const struct config *c, struct energy_opts *o)
{
	char err[512];
	double v;
	bool b;

	if (!config__get_bool(c, "rapl_include_dram", &b, err, sizeof(err)))
		o->include_dram = b;
	if (!config__get_bool(c, "rapl_prefer_psys", &b, err, sizeof(err)))
		o->prefer_psys = b;
	if (!config__get_bool(c, "force_mode_cpu_load", &b, err, sizeof(err)))
		o->force_model = b;
	if (!config__get_double(c, "force_cpu_power", &v, err, sizeof(err)))
		o->force_cpu_power_w = v;
	if (!config__get_double(c, "force_ram_power", &v, err, sizeof(err)))
		o->force_ram_power_w = v;
}

static const char *status_word(enum energy_probe_status s)
{
	switch (s) {
	case ENERGY_PROBE_SELECTED:
		return "selected";
	case ENERGY_PROBE_AVAILABLE:
		return "available";
	default:
		return "rejected";
	}
}

static const char *origin_word(enum carbon_origin o)
{
	switch (o) {
	case CARBON_ORIGIN_FORCED:
		return "forced";
	case CARBON_ORIGIN_CLOUD:
		return "cloud";
	case CARBON_ORIGIN_REGION:
		return "region";
	case CARBON_ORIGIN_COUNTRY:
		return "country";
	case CARBON_ORIGIN_LIVE:
		return "electricitymaps";
	default:
		return "world";
	}
}

/* The single sentence about how energy will be obtained. */
static void energy_verdict(const struct detect *d, char *buf, size_t len)
{
	const struct energy_probe_result *e = d->energy;

	if (!e)
		snprintf(buf, len, "energy sources could not be probed: %s", strerror(-d->energy_err));
	else if (e->estimated)
		snprintf(buf, len,
			 "ENERGY WILL BE ESTIMATED: %s; carbonbpf uses the CPU-load model",
			 e->src[ENERGY_POWERCAP].status == ENERGY_PROBE_AVAILABLE ||
					 e->src[ENERGY_PERF].status == ENERGY_PROBE_AVAILABLE ||
					 e->src[ENERGY_MSR].status == ENERGY_PROBE_AVAILABLE
				 ? "a hardware counter exists but the configuration forces the model"
				 : "no hardware energy counter can be read here");
	else
		snprintf(buf, len, "energy is measured by %s", energy_kind_name(e->selected));
}

/* Missing pieces, one per line in `out`, each with what to do. Returns their count. */
static int missing_privileges(const struct detect *d, const char **out, int max)
{
	int n = 0;

	if (!d->caps_known) {
		out[n++] = "capabilities unknown (capget failed and no CapEff)";
		return n;
	}
	if (!(has_cap(d, CAP_BPF) && has_cap(d, CAP_PERFMON)) && !has_cap(d, CAP_SYS_ADMIN) &&
	    n < max)
		out[n++] = "BPF: needs root, or CAP_BPF and CAP_PERFMON (sudo setcap "
			   "cap_bpf,cap_perfmon+ep carbonbpf)";
	if (d->zones_unreadable && n < max)
		out[n++] = d->powercap_fix;
	if (d->energy && d->energy->src[ENERGY_MSR].err == -EACCES && n < max)
		out[n++] = "msr: needs root with CAP_SYS_RAWIO";
	if (d->energy && d->energy->src[ENERGY_PERF].err == -EACCES && n < max)
		out[n++] = "perf power PMU: needs CAP_PERFMON or kernel.perf_event_paranoid <= 0";
	return n;
}

static void print_text(const struct detect *d)
{
	const struct energy_probe_result *e = d->energy;
	const char *missing[8];
	char verdict[512];
	int n_missing;

	printf("carbonbpf %s detect\n\n", CARBONBPF_VERSION);
	printf("Machine\n");
	printf("  CPU model      %s\n", d->topo.cpu_model[0] ? d->topo.cpu_model : "(unknown)");
	printf("  sockets        %d\n", d->topo.n_pkgs);
	printf("  CPUs           %d possible, %d online (%s)\n", d->topo.n_possible,
	       d->topo.n_online, d->online_list);
	printf("  RAM            %.1f GiB\n",
	       (double)d->topo.ram_total_bytes / (1024.0 * 1024.0 * 1024.0));

	energy_verdict(d, verdict, sizeof(verdict));
	printf("\nEnergy\n  %s\n", verdict);
	if (e) {
		for (int k = 0; k <= ENERGY_MODEL; k++) {
			const struct energy_probe_source *s = &e->src[k];

			printf("  %-15s %s", s->name, status_word(s->status));
			if (s->reason[0])
				printf(": %s", s->reason);
			printf("\n");
			if (k == ENERGY_MODEL)
				continue;
			for (int i = 0; i < s->n_domains; i++)
				printf("                    %s (%s)\n", s->domains[i].name,
				       s->domains[i].where);
		}
		if (!e->estimated)
			printf("  model          %s\n", e->model);
		printf("  in use         %s\n", e->describe);
		if (!e->powercap_dir[0]) {
			printf("  powercap zones none (no powercap directory under %s)\n",
			       d->sysfs_root);
		} else if (!e->n_zones) {
			printf("  powercap zones none under %s\n", e->powercap_dir);
		} else {
			printf("  powercap zones under %s:\n", e->powercap_dir);
			bool pc_selected = e->src[ENERGY_POWERCAP].status == ENERGY_PROBE_SELECTED;

			for (int i = 0; i < e->n_zones; i++) {
				const struct energy_probe_zone *z = &e->zones[i];

				printf("    %-18s %-12s %s; %s%s%s\n", z->id, z->name,
				       z->read_err ? strerror(-z->read_err) : "readable",
				       !z->used	    ? "not used"
				       : z->read_err ? "wanted, but unreadable"
				       : pc_selected ? "used"
						     : "would be used",
				       z->note[0] ? ": " : "", z->note);
				printf("    %18s %s\n", "", z->path);
			}
			if (e->zones_truncated)
				printf("    (more zones not listed)\n");
		}
	}

	printf("\nBPF\n");
	printf("  BTF            %s %s\n", d->btf_path, d->btf ? "present" : "missing");
	for (int i = 0; i < 2; i++)
		printf("  %-14s %s%s%s\n", d->bpf[i].mode, d->bpf[i].loads ? "loads" : "FAILS",
		       d->bpf[i].loads ? "" : ": ", d->bpf[i].error);
	if (d->bpf[0].loads || d->bpf[1].loads)
		printf("  backend        BPF (%s)\n", d->bpf[0].loads ? "tp_btf" : "raw_tp");
	else
		printf("  backend        none: BPF programs do not load here\n");

	printf("\ncgroups\n");
	if (d->cg_err)
		printf("  mode           unknown (%s/self/mountinfo: %s)\n", d->procfs_root,
		       strerror(-d->cg_err));
	else
		printf("  mode           %s%s%s\n", detect_cgroup_mode_name(d->cg_mode),
		       d->cg_v2[0] ? ", v2 hierarchy at " : "", d->cg_v2);

	printf("\nPrivileges\n");
	printf("  euid           %d%s\n", (int)d->euid, d->euid == 0 ? " (root)" : "");
	for (size_t i = 0; i < N_CAPS; i++)
		printf("  %-14s %s (%s)\n", caps[i].name,
		       !d->caps_known ? "unknown" : has_cap(d, caps[i].cap) ? "present" : "missing",
		       caps[i].use);
	if (!d->zones_total)
		printf("  powercap       no zones to read\n");
	else if (d->zones_unreadable)
		printf("  powercap       %d of %d zones' energy_uj NOT readable by this user\n",
		       d->zones_unreadable, d->zones_total);
	else
		printf("  powercap       energy_uj readable\n");
	if (d->perf_paranoid != -100)
		printf("  perf paranoid  %lld (kernel.perf_event_paranoid)\n", d->perf_paranoid);
	n_missing = missing_privileges(d, missing, 8);
	if (!n_missing)
		printf("  missing        nothing\n");
	for (int i = 0; i < n_missing; i++)
		printf("  missing        %s\n", missing[i]);

	printf("\nCarbon intensity\n");
	if (d->ci_err && d->ci_err != -ENOENT) {
		printf("  ERROR          %s\n", d->ci_msg);
		return;
	}
	printf("  intensity      %.3f g CO2eq/kWh\n", d->ci.g_per_kwh);
	printf("  source         %s\n", d->ci.source);
	if (d->ci.country_iso3[0])
		printf("  country        %s (%s)\n", d->ci.country_iso3, d->ci.country_name);
	if (d->ci.region[0])
		printf("  region         %s\n", d->ci.region);
	if (d->ci_err == -ENOENT)
		printf("  warning        %s\n", d->ci_msg);
	else if (d->ci.is_world_default)
		printf("  warning        no country known: the world average is used (set "
		       "country_iso_code or --country-iso-code)\n");
}

/* cJSON_Add* return NULL on allocation failure; the final print then fails as a whole. */
static cJSON *build_json(const struct detect *d)
{
	const struct energy_probe_result *e = d->energy;
	cJSON *root = cJSON_CreateObject(), *o, *arr, *it, *sub;
	const char *missing[8];
	char verdict[512];
	int n_missing;

	if (!root)
		return NULL;
	cJSON_AddStringToObject(root, "version", CARBONBPF_VERSION);
	o = cJSON_AddObjectToObject(root, "machine");
	if (o) {
		cJSON_AddStringToObject(o, "cpu_model", d->topo.cpu_model);
		cJSON_AddNumberToObject(o, "sockets", d->topo.n_pkgs);
		cJSON_AddNumberToObject(o, "cpus_possible", d->topo.n_possible);
		cJSON_AddNumberToObject(o, "cpus_online", d->topo.n_online);
		cJSON_AddStringToObject(o, "online", d->online_list);
		cJSON_AddNumberToObject(o, "ram_bytes", (double)d->topo.ram_total_bytes);
	}

	energy_verdict(d, verdict, sizeof(verdict));
	o = cJSON_AddObjectToObject(root, "energy");
	if (o) {
		cJSON_AddBoolToObject(o, "estimated", !e || e->estimated);
		cJSON_AddStringToObject(o, "summary", verdict);
		cJSON_AddStringToObject(o, "selected", e ? energy_kind_name(e->selected) : "");
		cJSON_AddStringToObject(o, "in_use", e ? e->describe : "");
		cJSON_AddStringToObject(o, "model", e ? e->model : "");
		arr = cJSON_AddArrayToObject(o, "sources");
		for (int k = 0; e && arr && k <= ENERGY_MODEL; k++) {
			const struct energy_probe_source *s = &e->src[k];

			it = cJSON_CreateObject();
			if (!it || !cJSON_AddItemToArray(arr, it))
				break;
			cJSON_AddStringToObject(it, "name", s->name);
			cJSON_AddStringToObject(it, "status", status_word(s->status));
			cJSON_AddStringToObject(it, "reason", s->reason);
			if (s->err)
				cJSON_AddStringToObject(it, "error", strerror(-s->err));
			else
				cJSON_AddNullToObject(it, "error");
			sub = cJSON_AddArrayToObject(it, "domains");
			for (int i = 0; sub && i < s->n_domains; i++) {
				cJSON *dm = cJSON_CreateObject();

				if (!dm || !cJSON_AddItemToArray(sub, dm))
					break;
				cJSON_AddStringToObject(dm, "name", s->domains[i].name);
				cJSON_AddStringToObject(dm, "where", s->domains[i].where);
				cJSON_AddNumberToObject(dm, "package", s->domains[i].pkg);
				cJSON_AddBoolToObject(dm, "ram", s->domains[i].is_ram);
			}
		}
		sub = cJSON_AddObjectToObject(o, "powercap");
		if (sub) {
			if (e && e->powercap_dir[0])
				cJSON_AddStringToObject(sub, "dir", e->powercap_dir);
			else
				cJSON_AddNullToObject(sub, "dir");
			cJSON_AddBoolToObject(sub, "truncated", e && e->zones_truncated);
			arr = cJSON_AddArrayToObject(sub, "zones");
			for (int i = 0; e && arr && i < e->n_zones; i++) {
				const struct energy_probe_zone *z = &e->zones[i];

				it = cJSON_CreateObject();
				if (!it || !cJSON_AddItemToArray(arr, it))
					break;
				cJSON_AddStringToObject(it, "id", z->id);
				cJSON_AddStringToObject(it, "name", z->name);
				cJSON_AddStringToObject(it, "path", z->path);
				cJSON_AddBoolToObject(it, "readable", !z->read_err);
				if (z->read_err)
					cJSON_AddStringToObject(it, "error", strerror(-z->read_err));
				else
					cJSON_AddNullToObject(it, "error");
				/* chosen: one of the domains the powercap source reads */
				cJSON_AddBoolToObject(it, "chosen", z->used);
				cJSON_AddStringToObject(it, "note", z->note);
			}
		}
	}

	o = cJSON_AddObjectToObject(root, "bpf");
	if (o) {
		cJSON_AddStringToObject(o, "btf_path", d->btf_path);
		cJSON_AddBoolToObject(o, "btf", d->btf);
		for (int i = 0; i < 2; i++) {
			it = cJSON_AddObjectToObject(o, d->bpf[i].mode);
			if (!it)
				continue;
			cJSON_AddBoolToObject(it, "loads", d->bpf[i].loads);
			if (d->bpf[i].loads)
				cJSON_AddNullToObject(it, "error");
			else
				cJSON_AddStringToObject(it, "error", d->bpf[i].error);
		}
		if (d->bpf[0].loads || d->bpf[1].loads)
			cJSON_AddStringToObject(o, "backend", d->bpf[0].loads ? "tp_btf" : "raw_tp");
		else
			cJSON_AddNullToObject(o, "backend");
	}

	o = cJSON_AddObjectToObject(root, "cgroup");
	if (o) {
		cJSON_AddStringToObject(o, "mode",
					d->cg_err ? "unknown" : detect_cgroup_mode_name(d->cg_mode));
		if (!d->cg_err && d->cg_v2[0])
			cJSON_AddStringToObject(o, "v2_mount", d->cg_v2);
		else
			cJSON_AddNullToObject(o, "v2_mount");
	}

	o = cJSON_AddObjectToObject(root, "privileges");
	if (o) {
		cJSON_AddNumberToObject(o, "euid", d->euid);
		sub = cJSON_AddObjectToObject(o, "capabilities");
		for (size_t i = 0; sub && i < N_CAPS; i++) {
			if (d->caps_known)
				cJSON_AddBoolToObject(sub, caps[i].name, has_cap(d, caps[i].cap));
			else
				cJSON_AddNullToObject(sub, caps[i].name);
		}
		if (d->zones_total)
			cJSON_AddBoolToObject(o, "powercap_readable", !d->zones_unreadable);
		else
			cJSON_AddNullToObject(o, "powercap_readable");
		if (d->perf_paranoid != -100)
			cJSON_AddNumberToObject(o, "perf_event_paranoid", (double)d->perf_paranoid);
		else
			cJSON_AddNullToObject(o, "perf_event_paranoid");
		n_missing = missing_privileges(d, missing, 8);
		arr = cJSON_AddArrayToObject(o, "missing");
		for (int i = 0; arr && i < n_missing; i++)
			cJSON_AddItemToArray(arr, cJSON_CreateString(missing[i]));
	}

	o = cJSON_AddObjectToObject(root, "intensity");
	if (o) {
		bool usable = !d->ci_err || d->ci_err == -ENOENT;

		if (usable) {
			cJSON_AddNumberToObject(o, "g_per_kwh", d->ci.g_per_kwh);
			cJSON_AddStringToObject(o, "source", d->ci.source);
			cJSON_AddStringToObject(o, "origin", origin_word(d->ci.origin));
			cJSON_AddStringToObject(o, "country_iso3", d->ci.country_iso3);
			cJSON_AddStringToObject(o, "country_name", d->ci.country_name);
			cJSON_AddStringToObject(o, "region", d->ci.region);
			cJSON_AddBoolToObject(o, "world_default", d->ci.is_world_default);
		}
		if (d->ci_err == -ENOENT)
			cJSON_AddStringToObject(o, "warning", d->ci_msg);
		else
			cJSON_AddNullToObject(o, "warning");
		if (usable)
			cJSON_AddNullToObject(o, "error");
		else
			cJSON_AddStringToObject(o, "error", d->ci_msg);
	}
	return root;
}

/* Applies the options to the configuration. Returns -1 to go on, else the exit code. */
static int parse_args(int argc, char **argv, struct config *cfg, bool *json)
{
	char errbuf[1024];
	int opt, err;

	optind = 1;
	while ((opt = getopt_long(argc, argv, "+h", long_opts, NULL)) != -1) {
		const char *key = NULL, *flag = NULL;

		for (size_t i = 0; i < sizeof(flag_keys) / sizeof(flag_keys[0]); i++) {
			if (flag_keys[i].opt == opt) {
				key = flag_keys[i].key;
				flag = flag_keys[i].flag;
			}
		}
		if (key) {
			errbuf[0] = '\0';
			err = config__check_value(key, optarg, flag, errbuf, sizeof(errbuf));
			if (!err)
				err = config__set_flag(cfg, key, optarg, flag);
			if (err) {
				pr_err("%s", errbuf[0] ? errbuf : strerror(-err));
				return err == -ENOMEM ? 1 : 2;
			}
			continue;
		}
		switch (opt) {
		case OPT_JSON:
			*json = true;
			break;
		case 'h':
			fputs(usage, stdout);
			return 0;
		default:
			fputs(usage, stderr);
			return 2;
		}
	}
	if (optind < argc) {
		pr_err("detect: unexpected argument '%s'", argv[optind]);
		return 2;
	}
	return -1;
}

int cmd_detect(int argc, char **argv)
{
	struct energy_opts eo = { 0 };
	struct detect d = { 0 };
	struct config *cfg = NULL;
	char errbuf[1024] = "";
	bool json = false, flag = false;
	struct cfg_where w;
	enum log_level lvl;
	struct stat st;
	int rc = 2, err;

	err = config__load(&cfg, NULL, NULL, NULL, errbuf, sizeof(errbuf));
	if (err) {
		pr_err("%s", errbuf[0] ? errbuf : strerror(-err));
		return 2;
	}
	rc = parse_args(argc, argv, cfg, &json);
	if (rc >= 0)
		goto out;
	rc = 1;
	/* Like monitor: warnings only, unless a log level is asked for. */
	if (config__get(cfg, "log_level", &w) && w.origin != CFG_DEFAULT &&
	    !log_parse_level(config__get(cfg, "log_level", NULL), &lvl))
		log_set_level(lvl);
	d.sysfs_root = config__get(cfg, "sysfs_root", NULL);
	d.procfs_root = config__get(cfg, "procfs_root", NULL);
	if (!d.sysfs_root || !*d.sysfs_root)
		d.sysfs_root = "/sys";
	if (!d.procfs_root || !*d.procfs_root)
		d.procfs_root = "/proc";

	/* The intensity first: an unknown country on the command line is a usage error. */
	d.ci_err = intensity_from_config(cfg, &flag, &d.ci, d.ci_msg, sizeof(d.ci_msg));
	if (d.ci_err == -ENOENT && flag) {
		pr_err("%s", d.ci_msg);
		rc = 2;
		goto out;
	}
	if (d.ci_err == -ENOMEM)
		goto out;

	err = topology__load(&d.topo, d.sysfs_root, d.procfs_root);
	if (err) {
		pr_err("cannot read the CPU topology under %s: %s", d.sysfs_root, strerror(-err));
		goto out;
	}
	detect_format_cpulist(d.topo.online, d.topo.n_online, d.online_list, sizeof(d.online_list));

	eo.sysfs_root = d.sysfs_root;
	eo.dev_root = "/dev";
	energy_opts_from_config(cfg, &eo);
	d.energy = calloc(1, sizeof(*d.energy));
	d.energy_err = d.energy ? energy_probe(&eo, &d.topo, d.energy) : -ENOMEM;
	if (d.energy_err) {
		free(d.energy);
		d.energy = NULL;
	}

	/* libbpf reads the running kernel's BTF here, whatever --sysfs-root says. */
	snprintf(d.btf_path, sizeof(d.btf_path), "/sys/kernel/btf/vmlinux");
	d.btf = !stat(d.btf_path, &st);
	try_bpf(&d);
	read_cgroups(&d);
	read_privileges(&d);

	if (json) {
		cJSON *root = build_json(&d);
		char *text = root ? cJSON_Print(root) : NULL;

		cJSON_Delete(root);
		if (!text) {
			pr_err("detect: out of memory building the JSON report");
			goto out;
		}
		printf("%s\n", text);
		free(text);
	} else {
		print_text(&d);
	}
	if (d.ci_err == -ENOENT)
		pr_warn("%s", d.ci_msg);
	else if (d.ci_err)
		pr_err("%s", d.ci_msg);
	rc = d.ci_err && d.ci_err != -ENOENT ? 1 : 0;
out:
	if (fflush(stdout) && rc == 0)
		rc = 1;
	free(d.energy);
	topology__free(&d.topo);
	config__free(cfg);
	return rc;
}
