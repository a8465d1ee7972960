/* Shared pieces of `carbonbpf login` and `carbonbpf api`: client, token, lookups, saving keys. */
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include "api_cli.h"

#define ERRLEN 512

static const struct {
	const char *name;
	size_t off;
} value_opts[] = {
	{ "--api-endpoint", offsetof(struct api_cli_opts, endpoint) },
	{ "--token", offsetof(struct api_cli_opts, token) },
	{ "--token-file", offsetof(struct api_cli_opts, token_file) },
	{ "--org", offsetof(struct api_cli_opts, org) },
	{ "--project", offsetof(struct api_cli_opts, project) },
	{ "--name", offsetof(struct api_cli_opts, name) },
	{ "--description", offsetof(struct api_cli_opts, description) },
	{ "--country", offsetof(struct api_cli_opts, country) },
	{ "--region", offsetof(struct api_cli_opts, region) },
	{ "--api-key", offsetof(struct api_cli_opts, api_key) },
	{ "--experiment-id", offsetof(struct api_cli_opts, experiment_id) },
	{ "--access", offsetof(struct api_cli_opts, access) },
};

int api_cli_option(const char *cmd, int argc, char **argv, int *i, struct api_cli_opts *o)
{
	const char *a = argv[*i];

	if (!strcmp(a, "--global")) {
		o->global = true;
		return 1;
	}
	if (!strcmp(a, "--new-token")) {
		o->new_token = true;
		return 1;
	}
	for (size_t k = 0; k < sizeof(value_opts) / sizeof(value_opts[0]); k++) {
		size_t n = strlen(value_opts[k].name);
		const char **dst = (const char **)((char *)o + value_opts[k].off);

		if (strncmp(a, value_opts[k].name, n) || (a[n] && a[n] != '='))
			continue;
		if (a[n] == '=') {
			*dst = a + n + 1;
		} else if (*i + 1 < argc) {
			*dst = argv[++*i];
		} else {
			fprintf(stderr, "carbonbpf: %s: %s needs a value\n", cmd, a);
			return 2;
		}
		return 1;
	}
	return 0;
}

int api_cli_secret(const char *arg, char *buf, size_t len)
{
	size_t n;

	if (strcmp(arg, "-")) {
		if (strlen(arg) >= len)
			return -ENAMETOOLONG;
		strcpy(buf, arg);
		return 0;
	}
	if (!fgets(buf, (int)len, stdin))
		return -ENODATA;
	n = strcspn(buf, "\r\n");
	buf[n] = '\0';
	return n ? 0 : -ENODATA;
}

bool api_cli_is_uuid(const char *s)
{
	static const int groups[] = { 8, 4, 4, 4, 12 };

	for (int g = 0; g < 5; g++) {
		for (int k = 0; k < groups[g]; k++, s++)
			if (!isxdigit((unsigned char)*s))
				return false;
		if (*s != (g < 4 ? '-' : '\0'))
			return false;
		s++;
	}
	return true;
}

void api_cli_error(const struct api_cli *cli, const char *what, int err,
		   const struct api_result *res)
{
	const char *msg = res && *res->message ? res->message : strerror(-err);

	fprintf(stderr, "carbonbpf: %s: error: %s: %s\n", cli->cmd, what, msg);
}

void api_cli_free(struct api_cli *cli)
{
	api__free(cli->client);
	cli->client = NULL;
	config__free(cli->cfg);
	cli->cfg = NULL;
	explicit_bzero(cli->user_token, sizeof(cli->user_token));
}

static int load_user_token(struct api_cli *cli, const struct api_cli_opts *o)
{
	int ret;

	if (o->token) {
		ret = api_cli_secret(o->token, cli->user_token, sizeof(cli->user_token));
		if (ret) {
			fprintf(stderr, "carbonbpf: %s: error: cannot read the token: %s\n", cli->cmd,
				strerror(-ret));
			return 2;
		}
		return 0;
	}
	if (o->token_file) {
		long n;
		FILE *f = fopen(o->token_file, "re");

		if (!f || !fgets(cli->user_token, sizeof(cli->user_token), f)) {
			fprintf(stderr, "carbonbpf: %s: error: cannot read the token from %s: %s\n",
				cli->cmd, o->token_file, f ? "empty file" : strerror(errno));
			if (f)
				fclose(f);
			return 2;
		}
		fclose(f);
		n = (long)strcspn(cli->user_token, "\r\n");
		cli->user_token[n] = '\0';
		return n ? 0 : 2;
	}
	ret = api__read_credentials("credentials.json", cli->user_token, sizeof(cli->user_token));
	if (ret) {
		fprintf(stderr, "carbonbpf: %s: error: no user token: give --token TOKEN (or - to read it from stdin), --token-file FILE, or run `codecarbon login` here to write ./credentials.json (%s)\n",
			cli->cmd, ret == -ENOENT ? "no ./credentials.json" :
			ret == -EINVAL ? "./credentials.json has no access_token" : strerror(-ret));
		return 2;
	}
	return 0;
}

int api_cli_init(struct api_cli *cli, const char *cmd, const struct api_cli_opts *o,
		 bool want_user, const char *api_key)
{
	struct api_opts ao = { 0 };
	char err[ERRLEN] = "";
	const char *v;
	long timeout = 0;
	int ret;

	memset(cli, 0, sizeof(*cli));
	cli->cmd = cmd;
	ret = config__load(&cli->cfg, NULL, NULL, NULL, err, sizeof(err));
	if (ret) {
		fprintf(stderr, "carbonbpf: %s: error: %s\n", cmd, *err ? err : strerror(-ret));
		return 2;
	}
	v = o->endpoint ? o->endpoint : config__get(cli->cfg, "api_endpoint", NULL);
	if (!v || !*v || (strncmp(v, "http://", 7) && strncmp(v, "https://", 8))) {
		fprintf(stderr, "carbonbpf: %s: error: api_endpoint '%s' is not an http:// or https:// URL\n",
			cmd, v ? v : "");
		return 2;
	}
	snprintf(cli->endpoint, sizeof(cli->endpoint), "%s", v);
	ret = config__get_int(cli->cfg, "api_timeout_secs", &timeout, err, sizeof(err));
	if (ret && ret != -ENOENT) {
		fprintf(stderr, "carbonbpf: %s: error: %s\n", cmd, err);
		return 2;
	}
	if (want_user) {
		ret = load_user_token(cli, o);
		if (ret)
			return ret;
	}
	ao.endpoint = cli->endpoint;
	ao.api_key = api_key;
	ao.access_token = *cli->user_token ? cli->user_token : NULL;
	ao.ca_file = config__get(cli->cfg, "api_ca_file", NULL);
	ao.timeout_s = timeout > 0 ? timeout : 0;
	cli->client = api__new(&ao);
	if (!cli->client) {
		fprintf(stderr, "carbonbpf: %s: error: API client: %s\n", cmd, strerror(errno));
		return 1;
	}
	return 0;
}

static bool matches(const struct api_object *x, const char *want)
{
	return !strcmp(x->id, want) || !strcmp(x->name, want);
}

int api_cli_find_org(struct api_cli *cli, const char *want, struct api_object *out)
{
	struct api_result res;
	struct api_object *orgs;
	size_t n, i;
	int ret;

	ret = api__list_orgs(cli->client, &orgs, &n, &res);
	if (ret) {
		api_cli_error(cli, "listing organizations", ret, &res);
		return 1;
	}
	for (i = 0; i < n && want && !matches(&orgs[i], want); i++)
		;
	if (i >= n) {
		if (want)
			fprintf(stderr, "carbonbpf: %s: error: no organization named or with id '%s' (%zu known; `carbonbpf api orgs list`)\n",
				cli->cmd, want, n);
		else
			fprintf(stderr, "carbonbpf: %s: error: this user has no organization; create one with `carbonbpf api orgs create --name NAME`\n",
				cli->cmd);
		free(orgs);
		return 1;
	}
	*out = orgs[i];
	free(orgs);
	return 0;
}

int api_cli_orgs(struct api_cli *cli, const char *want, struct api_object **orgs, size_t *n)
{
	struct api_object one;
	struct api_result res;
	int ret, code;

	if (want) {
		code = api_cli_find_org(cli, want, &one);
		if (code)
			return code;
		*orgs = malloc(sizeof(**orgs));
		if (!*orgs)
			return 1;
		(*orgs)[0] = one;
		*n = 1;
		return 0;
	}
	ret = api__list_orgs(cli->client, orgs, n, &res);
	if (ret) {
		api_cli_error(cli, "listing organizations", ret, &res);
		return 1;
	}
	return 0;
}

int api_cli_find_project(struct api_cli *cli, const char *org_want, const char *want,
			 struct api_object *out, struct api_object *org_out)
{
	const char *configured = config__get(cli->cfg, "project_id", NULL);
	struct api_object *orgs = NULL;
	struct api_result res;
	size_t n_orgs = 0;
	bool first_only = false;
	int ret, code;

	if (!want && configured && *configured && !org_want)
		want = configured;
	else if (!want)
		first_only = true;
	code = api_cli_orgs(cli, org_want, &orgs, &n_orgs);
	if (code)
		return code;
	code = 1; /* until a project is found */
	for (size_t o = 0; o < n_orgs; o++) {
		struct api_object *projects;
		size_t n;

		ret = api__list_projects(cli->client, orgs[o].id, &projects, &n, &res);
		if (ret) {
			api_cli_error(cli, "listing projects", ret, &res);
			goto out;
		}
		for (size_t p = 0; p < n; p++) {
			if (first_only || matches(&projects[p], want)) {
				*out = projects[p];
				if (org_out)
					*org_out = orgs[o];
				free(projects);
				code = 0;
				goto out;
			}
		}
		free(projects);
		if (first_only)
			break; /* the default project is the first one of the first organization */
	}
	if (want)
		fprintf(stderr, "carbonbpf: %s: error: no project named or with id '%s'%s (`carbonbpf api projects list`)\n",
			cli->cmd, want, want == configured ? " (project_id of the configuration)" : "");
	else
		fprintf(stderr, "carbonbpf: %s: error: %s has no project; create one with `carbonbpf api projects create --name NAME`\n",
			cli->cmd, n_orgs ? "the first organization" : "this user");
	code = 1;
out:
	free(orgs);
	return code;
}

int api_cli_save(struct api_cli *cli, bool global, const char *const *keys,
		 const char *const *values, size_t n)
{
	char path[PATH_MAX], err[ERRLEN] = "", shown[256];
	bool secret = false;
	struct stat st;
	int ret;

	if (global) {
		ret = config__global_path(path, sizeof(path), NULL);
		if (ret) {
			fprintf(stderr, "carbonbpf: %s: error: cannot find the home directory: %s\n",
				cli->cmd, strerror(-ret));
			return 1;
		}
	} else {
		snprintf(path, sizeof(path), "./.codecarbon.config");
	}
	for (size_t i = 0; i < n; i++) {
		const struct cfg_key *k = config_key_find(keys[i]);

		ret = config__write_key(path, keys[i], values[i], err, sizeof(err));
		if (ret) {
			fprintf(stderr, "carbonbpf: %s: error: cannot save %s: %s\n", cli->cmd, keys[i],
				*err ? err : strerror(-ret));
			return 1;
		}
		secret |= k && (k->flags & CFG_F_SECRET);
		config__format_value(k, values[i], shown, sizeof(shown));
		printf("%s: %s = %s\n", path, keys[i], shown);
	}
	/* A file holding a token must not be readable by others. */
	if (secret && !stat(path, &st) && (st.st_mode & 077)) {
		if (chmod(path, st.st_mode & 07700)) {
			fprintf(stderr, "carbonbpf: %s: warning: %s holds an api_key and is readable by others (mode %04o), and chmod failed: %s\n",
				cli->cmd, path, st.st_mode & 07777, strerror(errno));
		} else {
			fprintf(stderr, "carbonbpf: %s: note: %s holds an api_key: mode changed from %04o to %04o\n",
				cli->cmd, path, st.st_mode & 07777, st.st_mode & 07700);
		}
	}
	return 0;
}
