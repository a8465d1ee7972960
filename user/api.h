/*
 * CodeCarbon API client (CODECARBON.md section 1): runs and emissions with a project
 * token, organizations, projects, experiments and project tokens with a user token.
 * libcurl and cJSON stay inside this module. Never logs; tokens never appear in messages.
 */
#ifndef CB_API_H
#define CB_API_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "emission_delta.h"

#define API_ID_LEN 64        /* ids (UUIDs) and their NUL */
#define API_MSG_LEN 256

struct api_client;

struct api_opts {
	const char *endpoint;       /* base URL; trailing slashes ignored; required */
	const char *api_key;        /* project token (x-api-token), for runs and emissions; may be NULL */
	const char *access_token;   /* user token (Bearer), for the other routes; may be NULL */
	const char *ca_file;        /* NULL: the system CA store; TLS peer and host always verified */
	long timeout_s;             /* whole request, > 0 (0: 2 s, CodeCarbon's) */
	long connect_timeout_s;     /* 0: min(timeout_s, 10) */
};

/*
 * What the server answered. http_status is 0 when no HTTP answer came (transport error).
 * message: the server's `detail` or the transport error, one line, tokens masked.
 */
struct api_result {
	long http_status;
	char message[API_MSG_LEN];
};

/* The fields of POST /runs (CODECARBON.md 1.4). Empty strings and NaN are sent as null. */
struct api_run {
	int64_t timestamp_us;       /* run start, unix microseconds */
	char experiment_id[API_ID_LEN];
	char os[128];
	char python_version[32];
	char codecarbon_version[32];
	int cpu_count;
	char cpu_model[128];
	int gpu_count;
	char gpu_model[128];
	double longitude, latitude; /* rounded to 0.1 when sent; NaN: null */
	char region[64];
	char provider[64];
	double ram_total_size_gib;  /* NaN: null */
	char tracking_mode[16];     /* "machine" or "process" */
};

/* An organization, project, experiment or project token, as the server returned it. */
struct api_object {
	char id[API_ID_LEN];
	char name[128];
	char description[256];
	char parent_id[API_ID_LEN]; /* project: organization_id; experiment, token: project_id */
	char timestamp[48];         /* experiment */
	char country[64];           /* experiment: country_iso_code or country_name */
	char token[128];            /* project token: the secret, only when just created */
	int access;                 /* project token */
	bool revoked;               /* project token */
};

/* The fields of POST /experiments (CODECARBON.md 1.6); NULL or "": null. */
struct api_experiment_create {
	const char *name, *description, *project_id;
	const char *country_name, *country_iso_code, *region;
	bool on_cloud;
	const char *cloud_provider, *cloud_region;
};

/*
 * Creates a client (one curl handle, reused: keep-alive). The strings are copied. Not
 * thread-safe: use one client per thread. Returns NULL with errno set (EINVAL, ENOMEM).
 */
struct api_client *api__new(const struct api_opts *o);
void api__free(struct api_client *c);

/* Replaces the project token sent as x-api-token (NULL: none). 0 or -ENOMEM. */
int api__set_api_key(struct api_client *c, const char *api_key);

/*
 * When *flag becomes non-zero (another thread sets it), a request in flight is abandoned
 * within about a second (libcurl's progress callback) with -ECANCELED. NULL: never.
 */
void api__set_cancel_flag(struct api_client *c, const volatile int *flag);

/*
 * Return values of every request below: 0 when the server answered the route's success
 * status with a well-formed body; -EREMOTEIO when it answered another status
 * (res->http_status, res->message); -EBADMSG when a success answer's body was malformed;
 * -ETIMEDOUT (timeout), -ECONNREFUSED, -ECONNRESET, -EHOSTUNREACH (name or route),
 * -EPROTO (TLS), -ECANCELED (cancel flag), -EIO (other transport errors), -ENOMEM.
 * res may be NULL.
 */

/* True when a request that failed with `err` and `res` may succeed if simply repeated
 * later: transport errors, 5xx, 408 and 429. 4xx and -ENOMEM/-EINVAL are not. */
bool api__retryable(int err, const struct api_result *res);

/* POST /runs with x-api-token (expects 201); the server's run id into run_id. */
int api__create_run(struct api_client *c, const struct api_run *run, char run_id[API_ID_LEN],
		    struct api_result *res);

/* POST /emissions with x-api-token (expects 201, a bare JSON string id). */
int api__add_emission(struct api_client *c, const char *run_id, const struct emission_delta *d,
		      struct api_result *res);

/* GET /auth/check with Bearer (200); the user's name, else email, else sub into user. */
int api__auth_check(struct api_client *c, char *user, size_t len, struct api_result *res);

/*
 * List routes (200, Bearer): *out is a malloc'ed array of *n objects, caller frees it
 * (NULL when n is 0).
 */
int api__list_orgs(struct api_client *c, struct api_object **out, size_t *n, struct api_result *res);
int api__list_projects(struct api_client *c, const char *org_id, struct api_object **out,
		       size_t *n, struct api_result *res);
int api__list_experiments(struct api_client *c, const char *project_id, struct api_object **out,
			  size_t *n, struct api_result *res);
/* GET /projects/{id}/api-tokens: the tokens' ids, names and access, never their secret. */
int api__list_project_tokens(struct api_client *c, const char *project_id,
			     struct api_object **out, size_t *n, struct api_result *res);

/* Create routes (201, Bearer): the created object into *out. */
int api__create_org(struct api_client *c, const char *name, const char *description,
		    struct api_object *out, struct api_result *res);
int api__create_project(struct api_client *c, const char *name, const char *description,
			const char *org_id, struct api_object *out, struct api_result *res);
int api__create_experiment(struct api_client *c, const struct api_experiment_create *e,
			   struct api_object *out, struct api_result *res);
/* POST /projects/{id}/api-tokens; access 1 read, 2 write, 3 read-write (0: 2). out->token
 * holds the secret: the only time the server shows it. */
int api__create_project_token(struct api_client *c, const char *project_id, const char *name,
			      int access, struct api_object *out, struct api_result *res);

/*
 * Reads the access_token of CodeCarbon's credentials.json (`codecarbon login` writes it in
 * the current directory) into buf. 0, -ENOENT, -EINVAL (no access_token), -ENAMETOOLONG,
 * or -errno.
 */
int api__read_credentials(const char *path, char *buf, size_t len);

/*
 * Formats a unix time in microseconds as local ISO-8601 with microseconds and offset
 * ("2026-08-08T11:35:50.123456+02:00") into buf (>= 33 bytes). 0 or -EINVAL/-ERANGE.
 */
int api__format_time(int64_t unix_us, char *buf, size_t len);

#endif
