/* `carbonbpf api`: list and create organizations, projects, experiments and project tokens with a user token. */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "api_cli.h"
#include "commands.h"

static void usage(FILE *f)
{
	fprintf(f,
		"usage: carbonbpf api [--token TOKEN | --token-file FILE] [--api-endpoint URL] RESOURCE ACTION [OPTIONS]\n"
		"  orgs list\n"
		"  orgs create --name NAME [--description TEXT]\n"
		"  projects list [--org NAME|ID]                  (default: every organization)\n"
		"  projects create --name NAME [--description TEXT] [--org NAME|ID]\n"
		"  experiments list [--project NAME|ID]           (default: project_id, else the first)\n"
		"  experiments create --name NAME [--description TEXT] [--project NAME|ID]\n"
		"                     [--country ISO3|NAME] [--region REGION]\n"
		"  tokens list [--project NAME|ID]\n"
		"  tokens create [--project NAME|ID] [--name NAME] [--access 1|2|3]\n"
		"The user token defaults to ./credentials.json (`codecarbon login`); TOKEN '-' reads stdin.\n"
		"Lists print one tab-separated line per item: id, name, then details.\n");
}

static void print_objects(const char *kind, const struct api_object *a, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (!strcmp(kind, "experiments"))
			printf("%s\t%s\t%s\t%s\t%s\n", a[i].id, a[i].name, a[i].timestamp,
			       a[i].country, a[i].description);
		else if (!strcmp(kind, "tokens"))
			printf("%s\t%s\taccess=%d%s\n", a[i].id, a[i].name, a[i].access,
			       a[i].revoked ? "\trevoked" : "");
		else
			printf("%s\t%s\t%s\n", a[i].id, a[i].name, a[i].description);
	}
}

static int need_name(const struct api_cli_opts *o, const char *what)
{
	if (o->name && *o->name)
		return 0;
	fprintf(stderr, "carbonbpf: api: %s create needs --name NAME\n", what);
	return 2;
}

static int orgs(struct api_cli *cli, const char *action, const struct api_cli_opts *o)
{
	struct api_object *a, one;
	struct api_result res;
	size_t n;
	int ret;

	if (!strcmp(action, "list")) {
		ret = api__list_orgs(cli->client, &a, &n, &res);
		if (ret) {
			api_cli_error(cli, "listing organizations", ret, &res);
			return 1;
		}
		print_objects("orgs", a, n);
		free(a);
		return 0;
	}
	ret = api__create_org(cli->client, o->name, o->description ? o->description : "", &one, &res);
	if (ret) {
		api_cli_error(cli, "creating the organization", ret, &res);
		return 1;
	}
	print_objects("orgs", &one, 1);
	return 0;
}

static int projects(struct api_cli *cli, const char *action, const struct api_cli_opts *o)
{
	struct api_object org, *a, *orgs = NULL, one;
	struct api_result res;
	size_t n, n_orgs;
	int ret, code;

	if (!strcmp(action, "create")) {
		code = api_cli_find_org(cli, o->org, &org);
		if (code)
			return code;
		ret = api__create_project(cli->client, o->name, o->description ? o->description : "",
					  org.id, &one, &res);
		if (ret) {
			api_cli_error(cli, "creating the project", ret, &res);
			return 1;
		}
		print_objects("projects", &one, 1);
		return 0;
	}
	code = api_cli_orgs(cli, o->org, &orgs, &n_orgs);
	if (code)
		return code;
	for (size_t i = 0; i < n_orgs && !code; i++) {
		ret = api__list_projects(cli->client, orgs[i].id, &a, &n, &res);
		if (ret) {
			api_cli_error(cli, "listing projects", ret, &res);
			code = 1;
			break;
		}
		print_objects("projects", a, n);
		free(a);
	}
	free(orgs);
	return code;
}

static int experiments(struct api_cli *cli, const char *action, const struct api_cli_opts *o)
{
	struct api_experiment_create ec = { 0 };
	struct api_object project, *a, one;
	struct api_result res;
	char country[64] = "";
	size_t n;
	int ret, code;

	code = api_cli_find_project(cli, o->org, o->project, &project, NULL);
	if (code)
		return code;
	if (!strcmp(action, "list")) {
		ret = api__list_experiments(cli->client, project.id, &a, &n, &res);
		if (ret) {
			api_cli_error(cli, "listing experiments", ret, &res);
			return 1;
		}
		print_objects("experiments", a, n);
		free(a);
		return 0;
	}
	ec.name = o->name;
	ec.description = o->description ? o->description : "";
	ec.project_id = project.id;
	ec.region = o->region;
	if (o->country) {
		snprintf(country, sizeof(country), "%s", o->country);
		if (strlen(country) == 3 && isalpha((unsigned char)country[0]) &&
		    isalpha((unsigned char)country[1]) && isalpha((unsigned char)country[2])) {
			for (char *p = country; *p; p++)
				*p = (char)toupper((unsigned char)*p);
			ec.country_iso_code = country;
		} else {
			ec.country_name = country;
		}
	}
	ret = api__create_experiment(cli->client, &ec, &one, &res);
	if (ret) {
		api_cli_error(cli, "creating the experiment", ret, &res);
		return 1;
	}
	print_objects("experiments", &one, 1);
	return 0;
}

static int tokens(struct api_cli *cli, const char *action, const struct api_cli_opts *o)
{
	struct api_object project, *a, one;
	struct api_result res;
	long access = 2;
	size_t n;
	int ret, code;

	if (o->access) {
		char *end;

		access = strtol(o->access, &end, 10);
		if (*end || access < 1 || access > 3) {
			fprintf(stderr, "carbonbpf: api: --access must be 1 (read), 2 (write) or 3 (read-write)\n");
			return 2;
		}
	}
	code = api_cli_find_project(cli, o->org, o->project, &project, NULL);
	if (code)
		return code;
	if (!strcmp(action, "list")) {
		ret = api__list_project_tokens(cli->client, project.id, &a, &n, &res);
		if (ret) {
			api_cli_error(cli, "listing project tokens", ret, &res);
			return 1;
		}
		print_objects("tokens", a, n);
		free(a);
		return 0;
	}
	ret = api__create_project_token(cli->client, project.id, o->name ? o->name : "carbonbpf",
					(int)access, &one, &res);
	if (ret) {
		api_cli_error(cli, "creating the project token", ret, &res);
		return 1;
	}
	/* The server shows a token only once: stdout carries it alone, for a pipe. */
	printf("%s\n", one.token);
	fprintf(stderr, "carbonbpf: api: created project token '%s' (%s) for project %s; it is shown only now.\n"
			"Save it with: carbonbpf login --api-key - --experiment-id ID\n",
		one.name, one.id, project.name);
	explicit_bzero(one.token, sizeof(one.token));
	return 0;
}

int cmd_api(int argc, char **argv)
{
	static const char *const resources[] = { "orgs", "projects", "experiments", "tokens" };
	struct api_cli_opts o = { 0 };
	const char *pos[2] = { NULL, NULL };
	struct api_cli cli;
	int npos = 0, code;
	size_t r;

	for (int i = 1; i < argc; i++) {
		int got;

		if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
			usage(stdout);
			return 0;
		}
		got = api_cli_option("api", argc, argv, &i, &o);
		if (got == 2) {
			usage(stderr);
			return 2;
		}
		if (got == 1)
			continue;
		if (got == 0 && argv[i][0] != '-' && npos < 2) {
			pos[npos++] = argv[i];
			continue;
		}
		fprintf(stderr, "carbonbpf: api: unknown argument '%s'\n", argv[i]);
		usage(stderr);
		return 2;
	}
	if (o.api_key || o.experiment_id || o.global || o.new_token) {
		fprintf(stderr, "carbonbpf: api: --api-key, --experiment-id, --global and --new-token are options of `carbonbpf login`\n");
		return 2;
	}
	for (r = 0; npos == 2 && r < sizeof(resources) / sizeof(resources[0]); r++)
		if (!strcmp(pos[0], resources[r]))
			break;
	if (npos != 2 || r == sizeof(resources) / sizeof(resources[0]) ||
	    (strcmp(pos[1], "list") && strcmp(pos[1], "create"))) {
		usage(stderr);
		return 2;
	}
	if (!strcmp(pos[1], "create") && r != 3 && need_name(&o, pos[0]))
		return 2;
	if (o.token && o.token_file) {
		fprintf(stderr, "carbonbpf: api: --token and --token-file are exclusive\n");
		return 2;
	}
	code = api_cli_init(&cli, "api", &o, true, NULL);
	if (!code) {
		switch (r) {
		case 0:
			code = orgs(&cli, pos[1], &o);
			break;
		case 1:
			code = projects(&cli, pos[1], &o);
			break;
		case 2:
			code = experiments(&cli, pos[1], &o);
			break;
		default:
			code = tokens(&cli, pos[1], &o);
			break;
		}
	}
	api_cli_free(&cli);
	return code;
}
