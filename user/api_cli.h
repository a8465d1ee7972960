/*
 * Pieces shared by the `carbonbpf login` and `carbonbpf api` commands: the API client from
 * the configuration and the command line, the user token, organization and project lookup
 * by name or id, saving keys into a config file. Prints messages to stderr as the commands do.
 */
#ifndef CB_API_CLI_H
#define CB_API_CLI_H

#include <stdbool.h>
#include <stddef.h>
#include "api.h"
#include "config.h"

struct api_cli {
	const char *cmd;              /* "login", "api": names the command in messages */
	struct config *cfg;
	struct api_client *client;
	char endpoint[1024];
	char user_token[8192];        /* "" when none */
};

/* Options of both commands, filled by api_cli_option. */
struct api_cli_opts {
	const char *endpoint;         /* --api-endpoint */
	const char *token;            /* --token (or "-": read from stdin) */
	const char *token_file;       /* --token-file */
	const char *org, *project;    /* --org, --project: name or id */
	const char *name, *description, *country, *region;
	const char *api_key, *experiment_id;
	const char *access;
	bool global, new_token;
};

/*
 * Consumes one option at argv[*i] ("--x VALUE" or "--x=VALUE") into o. Returns 1 when it
 * was one of ours (and advances *i past a separate value), 0 when not an option of the
 * table, 2 (after a message) when its value is missing.
 */
int api_cli_option(const char *cmd, int argc, char **argv, int *i, struct api_cli_opts *o);

/*
 * Loads the configuration and makes the client: endpoint from --api-endpoint or the
 * config, api_ca_file, api_timeout_secs, and (with want_user) the user token from
 * --token, --token-file or ./credentials.json (CodeCarbon's `codecarbon login` file).
 * api_key, when not NULL, is the project token given. Returns an exit code: 0 ok,
 * 1 failure, 2 usage/config error (message printed). cli_free in every case.
 */
int api_cli_init(struct api_cli *cli, const char *cmd, const struct api_cli_opts *o,
		 bool want_user, const char *api_key);
void api_cli_free(struct api_cli *cli);

/* "carbonbpf: CMD: error: WHAT: <server detail or error>" on stderr. */
void api_cli_error(const struct api_cli *cli, const char *what, int err,
		   const struct api_result *res);

/* Reads a secret given as "-" from one line of stdin, else copies arg. 0 or -errno. */
int api_cli_secret(const char *arg, char *buf, size_t len);

/* True when s looks like a UUID (8-4-4-4-12 hexadecimal digits). */
bool api_cli_is_uuid(const char *s);

/*
 * The organization named or with the id `want` (NULL: the first one) into *out.
 * Returns an exit code (message printed on failure).
 */
int api_cli_find_org(struct api_cli *cli, const char *want, struct api_object *out);

/*
 * The organization named `want` (name or id), or, when NULL, every one the user belongs
 * to, in *orgs (malloc'ed, *n of them). Returns an exit code: 0, or 1 after one message.
 */
int api_cli_orgs(struct api_cli *cli, const char *want, struct api_object **orgs, size_t *n);

/*
 * The project named or with the id `want` in organization `org_want` (NULL: any of the
 * user's organizations); want NULL: the configured project_id, else the first project.
 * *org_out (may be NULL) receives its organization. Returns an exit code.
 */
int api_cli_find_project(struct api_cli *cli, const char *org_want, const char *want,
			 struct api_object *out, struct api_object *org_out);

/*
 * Writes n keys into ./.codecarbon.config (global: ~/.codecarbon.config), makes the file
 * 0600 when it holds an api_key (saying so when it was readable by others), and prints
 * where (secrets masked). Returns an exit code.
 */
int api_cli_save(struct api_cli *cli, bool global, const char *const *keys,
		 const char *const *values, size_t n);

#endif
