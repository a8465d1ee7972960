/* `carbonbpf monitor`: options and configuration turned into a monitor run. */
#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include "commands.h"
#include "config.h"
#include "log.h"
#include "intensity.h"
#include "monitor.h"
#include "util.h"

/* CodeCarbon's `monitor` measures every 10 s unless configured (its tracker default is 15). */
#define MONITOR_DEFAULT_MEASURE_SECS 10.0

static const char usage[] =
	"Usage: carbonbpf monitor [OPTIONS] [-- CMD [ARGS...]]\n"
	"\n"
	"Measures the energy and CO2eq of every process from scheduler events (BPF).\n"
	"  (no CMD, no --pid)  the whole machine until Ctrl-C or --duration\n"
	"  -- CMD ARGS         run CMD, track it and every descendant, exit with its code\n"
	"Scopes, each reported under its own experiment (repeatable; without =ID they use\n"
	"experiment_id; the same ID names one experiment however many scopes point at it):\n"
	"  --pid PID[=ID]      a running process and its descendants, those born later too\n"
	"  --cgroup PATH[=ID]  a cgroup v2 subtree (path below the v2 mount), movers included\n"
	"  --comm NAME[=ID]    every process with that command name\n"
	"  --uid UID[=ID]      every process of that user\n"
	"  [scope:NAME] sections of the config file: experiment_id plus pid/cgroup/comm/uid keys\n"
	"\n"
	"Options (names as `codecarbon monitor` where they overlap; each also a config key):\n"
	"  --measure-power-secs S   interval between measurements (default 10; key measure_power_secs)\n"
	"  --duration S             stop after S seconds\n"
	"  --output-dir DIR         where the CSV files go (default .; key output_dir)\n"
	"  --output-file NAME       emissions CSV (default emissions.csv; key output_file)\n"
	"  --processes-file NAME    per-process CSV (default processes.csv; key processes_file)\n"
	"  --intervals-file NAME    also write each interval's per-domain energy split\n"
	"  --on-csv-write MODE      append | update (key on_csv_write)\n"
	"  --idle-policy P          busy (default): energy split over busy time;\n"
	"                           capacity: split over CPU capacity, the rest to (idle)\n"
	"  --country-iso-code CODE  ISO 3166 alpha-3 or alpha-2 country for carbon intensity\n"
	"  --region NAME            US state, Canadian province or Nordic zone (name or code)\n"
	"  --offline / --no-offline accepted for CodeCarbon compatibility: carbonbpf never\n"
	"                           looks up the location online\n"
	"  --api / --no-api         upload runs and emission deltas to the CodeCarbon API\n"
	"                           (default: save_to_api / output_methods; off)\n"
	"  --api-call-interval N    measurements per API upload (key api_call_interval)\n"
	"  --experiment-id ID       experiment for emissions.csv (key experiment_id)\n"
	"  --log-level LEVEL        debug | info | warning | error | critical\n"
	"  --sysfs-root DIR         read /sys from DIR (key sysfs_root)\n"
	"  --procfs-root DIR        read /proc from DIR (key procfs_root)\n"
	"  --top N                  processes shown in the final table (default 10)\n"
	"  --max-processes N        size of the kernel process maps (default min(pid_max, 65536))\n"
	"  --attach MODE            auto | tp_btf | raw_tp (default auto: tp_btf, else raw_tp)\n"
	"  --quiet                  no final table\n"
	"  -h, --help               this help\n";

enum {
	OPT_MEASURE = 256, OPT_DURATION, OPT_OUTPUT_DIR, OPT_OUTPUT_FILE, OPT_PROCESSES_FILE,
	OPT_INTERVALS_FILE, OPT_ON_CSV_WRITE, OPT_IDLE_POLICY, OPT_COUNTRY, OPT_REGION,
	OPT_OFFLINE, OPT_NO_OFFLINE, OPT_API, OPT_NO_API, OPT_API_INTERVAL, OPT_EXPERIMENT,
	OPT_LOG_LEVEL, OPT_SYSFS, OPT_PROCFS, OPT_TOP, OPT_MAX_PROCESSES, OPT_ATTACH, OPT_QUIET,
	OPT_PID, OPT_CGROUP, OPT_COMM, OPT_UID,
};

static const struct option long_opts[] = {
	{ "measure-power-secs", required_argument, NULL, OPT_MEASURE },
	{ "duration", required_argument, NULL, OPT_DURATION },
	{ "output-dir", required_argument, NULL, OPT_OUTPUT_DIR },
	{ "output-file", required_argument, NULL, OPT_OUTPUT_FILE },
	{ "processes-file", required_argument, NULL, OPT_PROCESSES_FILE },
	{ "intervals-file", required_argument, NULL, OPT_INTERVALS_FILE },
	{ "on-csv-write", required_argument, NULL, OPT_ON_CSV_WRITE },
	{ "idle-policy", required_argument, NULL, OPT_IDLE_POLICY },
	{ "country-iso-code", required_argument, NULL, OPT_COUNTRY },
	{ "region", required_argument, NULL, OPT_REGION },
	{ "offline", no_argument, NULL, OPT_OFFLINE },
	{ "no-offline", no_argument, NULL, OPT_NO_OFFLINE },
	{ "api", no_argument, NULL, OPT_API },
	{ "no-api", no_argument, NULL, OPT_NO_API },
	{ "api-call-interval", required_argument, NULL, OPT_API_INTERVAL },
	{ "experiment-id", required_argument, NULL, OPT_EXPERIMENT },
	{ "log-level", required_argument, NULL, OPT_LOG_LEVEL },
	{ "sysfs-root", required_argument, NULL, OPT_SYSFS },
	{ "procfs-root", required_argument, NULL, OPT_PROCFS },
	{ "top", required_argument, NULL, OPT_TOP },
	{ "max-processes", required_argument, NULL, OPT_MAX_PROCESSES },
	{ "attach", required_argument, NULL, OPT_ATTACH },
	{ "quiet", no_argument, NULL, OPT_QUIET },
	{ "pid", required_argument, NULL, OPT_PID },
	{ "cgroup", required_argument, NULL, OPT_CGROUP },
	{ "comm", required_argument, NULL, OPT_COMM },
	{ "uid", required_argument, NULL, OPT_UID },
	{ "help", no_argument, NULL, 'h' },
	{ NULL, 0, NULL, 0 },
};

/* Flags that are config keys: option -> key. */
static const struct {
	int opt;
	const char *key;
} flag_keys[] = {
	{ OPT_MEASURE, "measure_power_secs" },   { OPT_OUTPUT_DIR, "output_dir" },
	{ OPT_OUTPUT_FILE, "output_file" },      { OPT_PROCESSES_FILE, "processes_file" },
	{ OPT_ON_CSV_WRITE, "on_csv_write" },    { OPT_IDLE_POLICY, "idle_policy" },
	{ OPT_COUNTRY, "country_iso_code" },     { OPT_REGION, "region" },
	{ OPT_API_INTERVAL, "api_call_interval" }, { OPT_EXPERIMENT, "experiment_id" },
	{ OPT_LOG_LEVEL, "log_level" },          { OPT_SYSFS, "sysfs_root" },
	{ OPT_PROCFS, "procfs_root" },
};

static int parse_long(const char *s, long min, long max, long *out)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || end == s || *end || v < min || v > max)
		return -EINVAL;
	*out = v;
	return 0;
}

/* Reads a config value of any type as text; "" when unset. */
static const char *cfg_text(const struct config *c, const char *key)
{
	const char *v = config__get(c, key, NULL);

	return v ? v : "";
}

/* Fills everything that comes from the configuration. Returns 0 or 2 (usage/config error). */
/* True when the comma-separated list holds item (any case, spaces ignored). */
static bool list_has(const char *list, const char *item)
{
	size_t n = strlen(item);

	for (const char *p = list; *p;) {
		while (*p == ' ' || *p == ',')
			p++;
		if (!strncasecmp(p, item, n) && (p[n] == '\0' || p[n] == ',' || p[n] == ' '))
			return true;
		while (*p && *p != ',')
			p++;
	}
	return false;
}

/* A secret read from a file that others can read: say so (the file, never the secret). */
static void warn_if_readable(const struct config *c, const char *key)
{
	struct cfg_where w;
	struct stat st;
	char path[320], *colon;

	if (!config__get(c, key, &w) || (w.origin != CFG_GLOBAL_FILE && w.origin != CFG_LOCAL_FILE))
		return;
	snprintf(path, sizeof(path), "%s", w.text);
	colon = strrchr(path, ':'); /* "PATH:LINE" */
	if (colon)
		*colon = '\0';
	if (!stat(path, &st) && (st.st_mode & 0044))
		pr_warn("%s holds %s and other users can read it: chmod 600 %s", path, key, path);
}

/* True when key was set somewhere (a file, the environment, a flag), not by default. */
static bool configured(const struct config *c, const char *key)
{
	struct cfg_where w;

	return config__get(c, key, &w) && w.origin != CFG_DEFAULT;
}

/*
 * Reads an optional number into *out when set, checking it lies in [min, max]. Returns
 * 0 (set or unset) or 2 after one message naming where the value came from.
 */
static int number_in_range(const struct config *c, const char *key, double min, double max,
			   double *out, bool *set)
{
	struct cfg_where w;
	char err[512];
	double d;

	if (config__get_double(c, key, &d, err, sizeof(err)))
		return 0; /* unset; malformed values were rejected at load */
	if (!(d >= min && d <= max)) {
		config__get(c, key, &w);
		pr_err("%s: %s = %g is out of range (%g to %g)", w.text, key, d, min, max);
		return 2;
	}
	*out = d;
	if (set)
		*set = true;
	return 0;
}

static bool is_uuid(const char *s)
{
	static const char shape[] = "xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx";

	if (strlen(s) != sizeof(shape) - 1)
		return false;
	for (size_t i = 0; shape[i]; i++)
		if (shape[i] == '-' ? s[i] != '-' : !isxdigit((unsigned char)s[i]))
			return false;
	return true;
}

/* The API settings, checked before anything is measured. Returns 0 or 2. */
static int api_from_config(const struct config *c, struct monitor_opts *mo)
{
	const char *ep = cfg_text(c, "api_endpoint");
	char err[512];
	long l;

	/* Like `codecarbon monitor`: an upload every 30 measurements unless configured. */
	mo->api_call_interval = 30;
	if (configured(c, "api_call_interval") && !config__get_int(c, "api_call_interval", &l, err, sizeof(err)))
		mo->api_call_interval = l;
	if (mo->api_call_interval == 0 || mo->api_call_interval < -1) {
		pr_err("api_call_interval must be -1 (only at the end) or > 0 (got %ld)", mo->api_call_interval);
		return 2;
	}
	if (strncasecmp(ep, "http://", 7) && strncasecmp(ep, "https://", 8)) {
		pr_err("api_endpoint '%s' is not an http:// or https:// URL", ep);
		return 2;
	}
	for (int b = -1; b < mo->scopes->n_exp; b++) {
		const char *id = b < 0 ? mo->machine_experiment_id : mo->scopes->experiments[b];

		if (b < 0 && mo->scopes->n_exp)
			continue; /* the machine run is uploaded only when no scope is given */
		if (!is_uuid(id)) {
			pr_err("experiment id '%s' is not a UUID: the CodeCarbon API needs the id of an "
			       "existing experiment (carbonbpf login creates one)", id);
			return 2;
		}
	}
	mo->upload.spool_dir = cfg_text(c, "spool_dir");
	mo->upload.endpoint = ep;
	mo->upload.api_key = cfg_text(c, "api_key");
	mo->upload.ca_file = config__get(c, "api_ca_file", NULL);
	mo->upload.timeout_s = 2;
	if (!config__get_int(c, "api_timeout_secs", &l, err, sizeof(err)))
		mo->upload.timeout_s = l;
	warn_if_readable(c, "api_key");
	return 0;
}

/* Fills everything that comes from the configuration. Returns 0, 1 or 2 (usage/config error). */
static int opts_from_config(struct config *c, struct monitor_opts *mo)
{
	char err[512] = "";
	bool flag = false;
	enum log_level lvl;
	double forced;
	bool b;
	int r;

	/* Like `codecarbon monitor`, quiet unless a log level is asked for. */
	if (configured(c, "log_level") && !log_parse_level(cfg_text(c, "log_level"), &lvl))
		log_set_level(lvl);
	/* `codecarbon monitor` measures every 10 s unless configured (its tracker: 15). */
	mo->measure_power_secs = MONITOR_DEFAULT_MEASURE_SECS;
	if (configured(c, "measure_power_secs") &&
	    number_in_range(c, "measure_power_secs", 0.05, 86400, &mo->measure_power_secs, NULL))
		return 2;
	mo->output_dir = cfg_text(c, "output_dir");
	if (!mo->output_dir[0])
		mo->output_dir = ".";
	mo->output_file = cfg_text(c, "output_file");
	mo->processes_file = cfg_text(c, "processes_file");
	mo->csv_mode = strcasecmp(cfg_text(c, "on_csv_write"), "update") ? CSV_APPEND : CSV_UPDATE;
	if (idle_policy_parse(cfg_text(c, "idle_policy"), &mo->idle_policy)) {
		pr_err("idle_policy must be busy or capacity (got '%s')", cfg_text(c, "idle_policy"));
		return 2;
	}
	mo->sysfs_root = cfg_text(c, "sysfs_root");
	mo->procfs_root = cfg_text(c, "procfs_root");
	mo->energy.sysfs_root = mo->sysfs_root;
	mo->energy.dev_root = "/dev";
	if (!config__get_bool(c, "rapl_include_dram", &b, err, sizeof(err)))
		mo->energy.include_dram = b;
	if (!config__get_bool(c, "rapl_prefer_psys", &b, err, sizeof(err)))
		mo->energy.prefer_psys = b;
	if (!config__get_bool(c, "force_mode_cpu_load", &b, err, sizeof(err)))
		mo->energy.force_model = b;
	/* Figures beyond these are typos, and would overflow the sums. */
	mo->pue = 1.0;
	mo->wue = 0;
	if (number_in_range(c, "force_cpu_power", 0.001, 1e6, &mo->energy.force_cpu_power_w, NULL) ||
	    number_in_range(c, "force_ram_power", 0.001, 1e6, &mo->energy.force_ram_power_w, NULL) ||
	    number_in_range(c, "pue", 1.0, 10.0, &mo->pue, NULL) ||
	    number_in_range(c, "wue", 0, 1000, &mo->wue, NULL) ||
	    number_in_range(c, "force_carbon_intensity_g_co2e_kwh", 0, 1e5, &forced, NULL))
		return 2;
	mo->machine_experiment_id = cfg_text(c, "experiment_id");
	mo->project_name = cfg_text(c, "project_name");

	r = intensity_from_config(c, &flag, &mo->intensity, err, sizeof(err));
	if (r == -ENOENT && flag) {
		pr_err("%s", err);
		return 2;
	} else if (r == -ENOENT) {
		pr_warn("%s", err);
	} else if (r) {
		pr_err("%s", err);
		return r == -ENOMEM ? 1 : 2;
	}
	/* Said once measuring starts, not before an error that stops the run. */
	mo->warn_no_country = mo->intensity.is_world_default && r == 0;
	return 0;
}

/* The output files must be distinct plain names. Returns 0 or 2. */
static int check_output_names(const struct monitor_opts *mo)
{
	const char *names[3] = { mo->output_file, mo->processes_file, mo->intervals_file };

	for (int i = 0; i < 3; i++) {
		if (!names[i])
			continue;
		if (!names[i][0] || strchr(names[i], '/') || !strcmp(names[i], ".") || !strcmp(names[i], "..")) {
			pr_err("output file name '%s' must be a plain file name (use --output-dir for the "
			       "directory)", names[i]);
			return 2;
		}
		for (int j = 0; j < i; j++) {
			if (names[j] && !strcmp(names[i], names[j])) {
				pr_err("two outputs are both named '%s': give the emissions, processes and "
				       "intervals files different names", names[i]);
				return 2;
			}
		}
	}
	return 0;
}

struct scope_arg {
	enum scope_kind kind;
	const char *arg;
};

struct section_ctx {
	struct scopes *scopes;
	const char *default_experiment;
	char *err;
	size_t errlen;
	char section[128];
	char experiment[64];
	int n_selectors;
};

/*
 * [scope:NAME] sections: experiment_id and selector keys (pid, cgroup, comm, uid, each
 * possibly repeated across sections). Called per key in file order.
 */
static int scope_key(const char *section, const char *key, const char *value,
		     const struct cfg_where *where, void *arg)
{
	static const struct {
		const char *key;
		enum scope_kind kind;
	} sel_keys[] = { { "pid", SCOPE_PID }, { "cgroup", SCOPE_CGROUP }, { "comm", SCOPE_COMM },
			 { "uid", SCOPE_UID } };
	struct section_ctx *x = arg;
	char msg[512];

	if (strncmp(section, "scope:", 6))
		return 0;
	if (strcmp(section, x->section)) {
		snprintf(x->section, sizeof(x->section), "%s", section);
		x->experiment[0] = '\0';
	}
	if (!strcmp(key, "experiment_id")) {
		snprintf(x->experiment, sizeof(x->experiment), "%s", value);
		return 0;
	}
	for (size_t i = 0; i < sizeof(sel_keys) / sizeof(sel_keys[0]); i++) {
		char full[512];

		if (strcmp(key, sel_keys[i].key))
			continue;
		/* The section's experiment_id, if it came before; else the default. */
		snprintf(full, sizeof(full), "%s=%s", value,
			 x->experiment[0] ? x->experiment : x->default_experiment);
		if (scopes__add(x->scopes, sel_keys[i].kind, full, x->default_experiment, msg, sizeof(msg))) {
			snprintf(x->err, x->errlen, "%s: [%s] %s: %s", where->text, section, key, msg);
			return -EINVAL;
		}
		x->n_selectors++;
		return 0;
	}
	snprintf(x->err, x->errlen, "%s: [%s]: unknown key '%s' (a scope section takes experiment_id, "
		 "pid, cgroup, comm, uid)", where->text, section, key);
	return -EINVAL;
}

int cmd_monitor(int argc, char **argv)
{
	struct monitor_opts mo = { .top = 10 };
	struct config *cfg = NULL;
	struct scopes *scopes = calloc(1, sizeof(*scopes));
	struct scope_arg sargs[256];
	int n_sargs = 0, opt, rc = 2, exit_code = 0, err;
	int api_flag = 0;
	char errbuf[1024] = "";
	long l;

	if (!scopes)
		return 1;
	err = config__load(&cfg, NULL, NULL, NULL, errbuf, sizeof(errbuf));
	if (err) {
		pr_err("%s", errbuf[0] ? errbuf : strerror(-err));
		goto out;
	}
	optind = 1;
	while ((opt = getopt_long(argc, argv, "+h", long_opts, NULL)) != -1) {
		const char *key = NULL;

		for (size_t i = 0; i < sizeof(flag_keys) / sizeof(flag_keys[0]); i++)
			if (flag_keys[i].opt == opt)
				key = flag_keys[i].key;
		if (key) {
			char flag[64] = "";

			for (const struct option *lo = long_opts; lo->name; lo++)
				if (lo->val == opt)
					snprintf(flag, sizeof(flag), "--%s", lo->name);
			err = config__check_value(key, optarg, flag, errbuf, sizeof(errbuf));
			if (!err)
				err = config__set_flag(cfg, key, optarg, flag);
			if (err) {
				pr_err("%s", errbuf[0] ? errbuf : "invalid option value");
				goto out;
			}
			continue;
		}
		switch (opt) {
		case OPT_DURATION: {
			char *end;

			errno = 0;
			mo.duration_secs = strtod(optarg, &end);
			if (errno || end == optarg || *end || !(mo.duration_secs > 0 && mo.duration_secs <= 1e9)) {
				pr_err("--duration needs a number of seconds from 0 to 1e9 (got '%s')", optarg);
				goto out;
			}
			break;
		}
		case OPT_INTERVALS_FILE:
			mo.intervals_file = optarg;
			break;
		case OPT_OFFLINE:
		case OPT_NO_OFFLINE:
			break;
		case OPT_NO_API:
			api_flag = -1;
			break;
		case OPT_API:
			api_flag = 1;
			break;
		case OPT_TOP:
			if (parse_long(optarg, 1, 100000, &l)) {
				pr_err("--top needs a number from 1 to 100000 (got '%s')", optarg);
				goto out;
			}
			mo.top = (int)l;
			break;
		case OPT_MAX_PROCESSES:
			if (parse_long(optarg, 64, 1 << 22, &l)) {
				pr_err("--max-processes needs a number from 64 to 4194304 (got '%s')", optarg);
				goto out;
			}
			mo.max_processes = (uint32_t)l;
			break;
		case OPT_ATTACH:
			if (!strcmp(optarg, "auto"))
				mo.attach = TRACER_ATTACH_AUTO;
			else if (!strcmp(optarg, "tp_btf"))
				mo.attach = TRACER_ATTACH_TP_BTF;
			else if (!strcmp(optarg, "raw_tp"))
				mo.attach = TRACER_ATTACH_RAW_TP;
			else {
				pr_err("--attach must be auto, tp_btf or raw_tp (got '%s')", optarg);
				goto out;
			}
			break;
		case OPT_QUIET:
			mo.quiet = true;
			break;
		case OPT_PID:
		case OPT_CGROUP:
		case OPT_COMM:
		case OPT_UID:
			if (n_sargs == (int)(sizeof(sargs) / sizeof(sargs[0]))) {
				pr_err("too many scopes");
				goto out;
			}
			sargs[n_sargs].kind = opt == OPT_PID ? SCOPE_PID : opt == OPT_CGROUP ? SCOPE_CGROUP :
					      opt == OPT_COMM ? SCOPE_COMM : SCOPE_UID;
			sargs[n_sargs++].arg = optarg;
			break;
		case 'h':
			fputs(usage, stdout);
			rc = 0;
			goto out;
		default:
			fputs(usage, stderr);
			goto out;
		}
	}
	if (optind < argc) {
		if (strcmp(argv[optind - 1], "--")) {
			pr_err("unexpected argument '%s' (put the command to run after --)", argv[optind]);
			goto out;
		}
		mo.cmd = &argv[optind];
		if (!mo.cmd[0][0]) {
			pr_err("the command after -- is empty");
			goto out;
		}
	} else if (optind > 1 && !strcmp(argv[optind - 1], "--")) {
		pr_err("nothing after --: give the command to run, or leave -- out to measure the "
		       "whole machine");
		goto out;
	}
	if ((rc = opts_from_config(cfg, &mo)) || (rc = check_output_names(&mo)))
		goto out;
	rc = 2;
	{
		const char *def = mo.machine_experiment_id;
		struct section_ctx x = { .scopes = scopes, .default_experiment = def, .err = errbuf,
					 .errlen = sizeof(errbuf) };

		if (mo.cmd && scopes__add(scopes, SCOPE_CMD, mo.cmd[0], def, errbuf, sizeof(errbuf))) {
			pr_err("%s", errbuf);
			goto out;
		}
		for (int i = 0; i < n_sargs; i++) {
			if (scopes__add(scopes, sargs[i].kind, sargs[i].arg, def, errbuf, sizeof(errbuf))) {
				pr_err("%s", errbuf);
				goto out;
			}
		}
		if (config__sections(cfg, scope_key, &x)) {
			pr_err("%s", errbuf);
			goto out;
		}
	}
	mo.scopes = scopes;
	{
		bool b = false;
		char e[256];

		/* API upload: asked by --api, save_to_api or output_methods; --no-api wins. */
		config__get_bool(cfg, "save_to_api", &b, e, sizeof(e));
		if (configured(cfg, "output_methods"))
			b = list_has(cfg_text(cfg, "output_methods"), "api");
		mo.api = api_flag > 0 || (b && api_flag == 0);
		if (mo.api && api_from_config(cfg, &mo))
			goto out;
	}
	err = monitor_run(&mo, &exit_code);
	rc = err ? 1 : exit_code;
out:
	free(scopes);
	config__free(cfg);
	return rc;
}
