/* `carbonbpf login`: check and save a project token and experiment id, or create an experiment with a user token. */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <sys/utsname.h>
#include <unistd.h>
#include "api_cli.h"
#include "commands.h"
#include "util.h"

static void usage(FILE *f)
{
	fprintf(f,
		"usage: carbonbpf login --api-key KEY --experiment-id ID [--api-endpoint URL] [--global]\n"
		"         checks KEY (a project token) and ID against the API by creating one empty\n"
		"         run in the experiment, then saves api_key and experiment_id\n"
		"       carbonbpf login [--token TOKEN | --token-file FILE] [--org NAME|ID]\n"
		"                       [--project NAME|ID] [--name NAME] [--description TEXT]\n"
		"                       [--country ISO3|NAME] [--region REGION] [--new-token]\n"
		"                       [--api-endpoint URL] [--global]\n"
		"         with a user access token (default: ./credentials.json of `codecarbon login`),\n"
		"         creates an experiment in the named (default: first) project, and a project\n"
		"         token when none is configured (or --new-token); saves experiment_id,\n"
		"         project_id, organization_id and api_key\n"
		"Keys are saved in ./.codecarbon.config (--global: ~/.codecarbon.config), mode 0600.\n"
		"KEY or TOKEN '-' reads it from standard input (keeps it out of the process list).\n");
}

/* The POST /runs fields for this machine, as far as a login check needs them. */
static void host_run(struct api_run *r, const char *experiment_id)
{
	struct utsname u;
	struct timeval tv;
	char info[65536], *p;
	long pages = sysconf(_SC_PHYS_PAGES), psize = sysconf(_SC_PAGESIZE);

	memset(r, 0, sizeof(*r));
	gettimeofday(&tv, NULL);
	r->timestamp_us = (int64_t)tv.tv_sec * 1000000 + tv.tv_usec;
	snprintf(r->experiment_id, sizeof(r->experiment_id), "%s", experiment_id);
	if (!uname(&u))
		snprintf(r->os, sizeof(r->os), "%.20s-%.80s-%.20s", u.sysname, u.release,
			 u.machine);
	r->cpu_count = (int)sysconf(_SC_NPROCESSORS_ONLN);
	if (read_text_file("/proc/cpuinfo", info, sizeof(info)) > 0 &&
	    (p = strstr(info, "model name")) && (p = strchr(p, ':'))) {
		p += 1 + strspn(p + 1, " \t");
		snprintf(r->cpu_model, sizeof(r->cpu_model), "%.*s", (int)strcspn(p, "\n"), p);
	}
	r->longitude = r->latitude = NAN;
	r->ram_total_size_gib = pages > 0 && psize > 0 ? (double)pages * (double)psize / (1 << 30) : NAN;
	snprintf(r->tracking_mode, sizeof(r->tracking_mode), "machine");
}

static int login_with_key(const struct api_cli_opts *o)
{
	char key[1024], run_id[API_ID_LEN];
	const char *keys[3], *values[3];
	struct api_result res;
	struct api_cli cli;
	struct api_run run;
	size_t n = 0;
	int ret, code;

	ret = api_cli_secret(o->api_key, key, sizeof(key));
	if (ret) {
		fprintf(stderr, "carbonbpf: login: error: cannot read the api key: %s\n", strerror(-ret));
		return 2;
	}
	if (!api_cli_is_uuid(o->experiment_id)) {
		fprintf(stderr, "carbonbpf: login: error: --experiment-id '%s' is not a UUID\n",
			o->experiment_id);
		explicit_bzero(key, sizeof(key));
		return 2;
	}
	code = api_cli_init(&cli, "login", o, false, key);
	if (code)
		goto out;
	host_run(&run, o->experiment_id);
	ret = api__create_run(cli.client, &run, run_id, &res);
	if (ret) {
		char what[1280];

		snprintf(what, sizeof(what), "%s refused the api key for experiment %s", cli.endpoint,
			 o->experiment_id);
		if (ret != -EREMOTEIO)
			snprintf(what, sizeof(what), "cannot reach the API at %s", cli.endpoint);
		api_cli_error(&cli, what, ret, &res);
		code = 1;
		goto out;
	}
	printf("api key accepted for experiment %s at %s (check run %s created)\n",
	       o->experiment_id, cli.endpoint, run_id);
	keys[n] = "api_key";
	values[n++] = key;
	keys[n] = "experiment_id";
	values[n++] = o->experiment_id;
	if (o->endpoint) {
		keys[n] = "api_endpoint";
		values[n++] = o->endpoint;
	}
	code = api_cli_save(&cli, o->global, keys, values, n);
out:
	api_cli_free(&cli);
	explicit_bzero(key, sizeof(key));
	return code;
}

/* True when no api_key of the user's own is configured (only CodeCarbon's placeholder). */
static bool no_api_key(struct api_cli *cli)
{
	struct cfg_where where;
	const char *v = config__get(cli->cfg, "api_key", &where);

	return !v || !*v || where.origin == CFG_DEFAULT || !strcmp(v, "api_key");
}

static int login_with_token(const struct api_cli_opts *o)
{
	struct api_experiment_create ec = { 0 };
	struct api_object org, project, exp, tok;
	const char *keys[5], *values[5];
	char user[256], country[64] = "", tok_name[128], host[64] = "";
	struct api_result res;
	struct api_cli cli;
	size_t n = 0;
	int ret, code;

	memset(&tok, 0, sizeof(tok));
	code = api_cli_init(&cli, "login", o, true, NULL);
	if (code)
		goto out;
	ret = api__auth_check(cli.client, user, sizeof(user), &res);
	if (ret) {
		api_cli_error(&cli, ret == -EREMOTEIO ? "the API did not accept the user token" :
							 "cannot reach the API", ret, &res);
		code = 1;
		goto out;
	}
	fprintf(stderr, "carbonbpf: login: logged in as %s at %s\n", user, cli.endpoint);
	code = api_cli_find_project(&cli, o->org, o->project, &project, &org);
	if (code)
		goto out;

	ec.name = o->name ? o->name : "carbonbpf";
	ec.description = o->description ? o->description : "created by carbonbpf login";
	ec.project_id = project.id;
	if (o->country) {
		size_t len = strlen(o->country);

		snprintf(country, sizeof(country), "%s", o->country);
		if (len == 3 && isalpha((unsigned char)country[0]) &&
		    isalpha((unsigned char)country[1]) && isalpha((unsigned char)country[2])) {
			for (char *p = country; *p; p++)
				*p = (char)toupper((unsigned char)*p);
			ec.country_iso_code = country;
		} else {
			ec.country_name = country;
		}
	}
	ec.region = o->region;
	ret = api__create_experiment(cli.client, &ec, &exp, &res);
	if (ret) {
		api_cli_error(&cli, "creating the experiment", ret, &res);
		code = 1;
		goto out;
	}
	printf("created experiment %s (%s) in project %s of organization %s\n", exp.name, exp.id,
	       project.name, org.name);
	if (o->new_token || no_api_key(&cli)) {
		gethostname(host, sizeof(host) - 1);
		snprintf(tok_name, sizeof(tok_name), "carbonbpf %s", host);
		ret = api__create_project_token(cli.client, project.id, tok_name, 2, &tok, &res);
		if (ret) {
			api_cli_error(&cli, "creating a project token", ret, &res);
			code = 1;
			goto out;
		}
		printf("created project token '%s' (%s)\n", tok_name, tok.id);
		keys[n] = "api_key";
		values[n++] = tok.token;
	} else {
		fprintf(stderr, "carbonbpf: login: note: keeping the configured api_key; it must belong to project %s (else use --new-token)\n",
			project.name);
	}
	keys[n] = "experiment_id";
	values[n++] = exp.id;
	keys[n] = "project_id";
	values[n++] = project.id;
	keys[n] = "organization_id";
	values[n++] = org.id;
	if (o->endpoint) {
		keys[n] = "api_endpoint";
		values[n++] = o->endpoint;
	}
	code = api_cli_save(&cli, o->global, keys, values, n);
out:
	explicit_bzero(tok.token, sizeof(tok.token));
	api_cli_free(&cli);
	return code;
}

int cmd_login(int argc, char **argv)
{
	struct api_cli_opts o = { 0 };

	for (int i = 1; i < argc; i++) {
		int r;

		if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
			usage(stdout);
			return 0;
		}
		r = api_cli_option("login", argc, argv, &i, &o);
		if (r == 2) {
			usage(stderr);
			return 2;
		}
		if (r == 0 || o.access) {
			fprintf(stderr, "carbonbpf: login: unknown argument '%s'\n", argv[i]);
			usage(stderr);
			return 2;
		}
	}
	if (o.api_key || o.experiment_id) {
		if (!o.api_key || !o.experiment_id || o.token || o.token_file || o.org || o.project ||
		    o.name || o.description || o.country || o.region || o.new_token) {
			fprintf(stderr, "carbonbpf: login: --api-key and --experiment-id go together, without the user-token options\n");
			usage(stderr);
			return 2;
		}
		return login_with_key(&o);
	}
	if (o.token && o.token_file) {
		fprintf(stderr, "carbonbpf: login: --token and --token-file are exclusive\n");
		return 2;
	}
	return login_with_token(&o);
}
