/* CodeCarbon API client over libcurl with JSON bodies built and checked with cJSON. */
#include <cjson/cJSON.h>
#include <curl/curl.h>
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "api.h"
#include "http.h"

#define MAX_BODY (4u << 20) /* larger answers are not CodeCarbon's */

enum auth { AUTH_PROJECT, AUTH_USER };

struct api_client {
	CURL *curl;
	char *base;
	char *api_key;
	char *access_token;
	char *ca_file;
	long timeout_ms, connect_ms;
	const volatile int *cancel;
};

static pthread_once_t global_once = PTHREAD_ONCE_INIT;
static CURLcode global_rc;

static void global_init(void)
{
	global_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
}

static char *dup_or_null(const char *s)
{
	return s && *s ? strdup(s) : NULL;
}

static void free_secret(char *s)
{
	if (s) {
		explicit_bzero(s, strlen(s));
		free(s);
	}
}

struct api_client *api__new(const struct api_opts *o)
{
	struct api_client *c;
	size_t n;

	if (!o || !o->endpoint || !*o->endpoint || o->timeout_s < 0 || o->connect_timeout_s < 0) {
		errno = EINVAL;
		return NULL;
	}
	pthread_once(&global_once, global_init);
	if (global_rc != CURLE_OK) {
		errno = ENOMEM;
		return NULL;
	}
	c = calloc(1, sizeof(*c));
	if (!c)
		return NULL;
	c->base = strdup(o->endpoint);
	c->curl = curl_easy_init();
	if (!c->base || !c->curl || (o->api_key && *o->api_key && !(c->api_key = strdup(o->api_key))) ||
	    (o->access_token && *o->access_token && !(c->access_token = strdup(o->access_token))) ||
	    (o->ca_file && *o->ca_file && !(c->ca_file = strdup(o->ca_file)))) {
		api__free(c);
		errno = ENOMEM;
		return NULL;
	}
	/* CodeCarbon concatenates base + "/runs"; a trailing slash would give "//runs". */
	n = strlen(c->base);
	while (n > 0 && c->base[n - 1] == '/')
		c->base[--n] = '\0';
	c->timeout_ms = (o->timeout_s ? o->timeout_s : 2) * 1000;
	c->connect_ms = o->connect_timeout_s ? o->connect_timeout_s * 1000 :
					      (c->timeout_ms < 10000 ? c->timeout_ms : 10000);
	return c;
}

void api__free(struct api_client *c)
{
	if (!c)
		return;
	if (c->curl)
		curl_easy_cleanup(c->curl);
	free(c->base);
	free_secret(c->api_key);
	free_secret(c->access_token);
	free(c->ca_file);
	free(c);
}

int api__set_api_key(struct api_client *c, const char *api_key)
{
	char *k = dup_or_null(api_key);

	if (api_key && *api_key && !k)
		return -ENOMEM;
	free_secret(c->api_key);
	c->api_key = k;
	return 0;
}

void api__set_cancel_flag(struct api_client *c, const volatile int *flag)
{
	c->cancel = flag;
}

bool api__retryable(int err, const struct api_result *res)
{
	switch (err) {
	case -ETIMEDOUT:
	case -ECONNREFUSED:
	case -ECONNRESET:
	case -EHOSTUNREACH:
	case -EPROTO:
	case -EIO:
	case -EBADMSG:
		return true;
	case -EREMOTEIO:
		if (!res)
			return false;
		return res->http_status >= 500 || res->http_status == 408 ||
		       res->http_status == 429;
	default:
		return false;
	}
}

int api__format_time(int64_t unix_us, char *buf, size_t len)
{
	time_t sec = (time_t)(unix_us / 1000000);
	long usec = (long)(unix_us % 1000000);
	long off_min;
	struct tm tm;
	char date[24];

	if (usec < 0) {
		usec += 1000000;
		sec--;
	}
	if (!localtime_r(&sec, &tm) || !strftime(date, sizeof(date), "%Y-%m-%dT%H:%M:%S", &tm))
		return -EINVAL;
	off_min = tm.tm_gmtoff / 60;
	if ((size_t)snprintf(buf, len, "%s.%06ld%c%02ld:%02ld", date, usec, off_min < 0 ? '-' : '+',
			     labs(off_min) / 60, labs(off_min) % 60) >= len)
		return -ERANGE;
	return 0;
}

/* Replaces every copy of secret in s by "****", so no message can carry a token. */
static void mask(char *s, const char *secret)
{
	size_t n;
	char *p;

	if (!secret || (n = strlen(secret)) < 4)
		return;
	while ((p = strstr(s, secret))) {
		memcpy(p, "****", 4);
		memmove(p + 4, p + n, strlen(p + n) + 1);
	}
}

static void set_msg(struct api_client *c, struct api_result *res, const char *fmt, const char *a,
		    const char *b)
{
	if (!res)
		return;
	snprintf(res->message, sizeof(res->message), fmt, a, b);
	for (char *p = res->message; *p; p++)
		if (*p == '\n' || *p == '\r')
			*p = ' ';
	mask(res->message, c->api_key);
	mask(res->message, c->access_token);
}

static int on_progress(void *arg, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal,
		       curl_off_t ulnow)
{
	const struct api_client *c = arg;

	(void)dltotal;
	(void)dlnow;
	(void)ultotal;
	(void)ulnow;
	return c->cancel && *c->cancel;
}

/* The `detail` of a FastAPI error body: a string, or the first validation error. */
static void error_detail(const char *body, char *out, size_t len)
{
	cJSON *j = body ? cJSON_Parse(body) : NULL;
	const cJSON *d = cJSON_GetObjectItemCaseSensitive(j, "detail");

	*out = '\0';
	if (cJSON_IsString(d)) {
		snprintf(out, len, "%s", d->valuestring);
	} else if (cJSON_IsArray(d) && cJSON_GetArraySize(d) > 0) {
		const cJSON *e = cJSON_GetArrayItem(d, 0);
		const cJSON *msg = cJSON_GetObjectItemCaseSensitive(e, "msg");
		const cJSON *loc = cJSON_GetObjectItemCaseSensitive(e, "loc");
		const cJSON *last = cJSON_IsArray(loc) ? cJSON_GetArrayItem(loc, cJSON_GetArraySize(loc) - 1) : NULL;

		snprintf(out, len, "%s%s%s", cJSON_IsString(last) ? last->valuestring : "",
			 cJSON_IsString(last) ? ": " : "", cJSON_IsString(msg) ? msg->valuestring : "invalid");
	} else if (body && !j) {
		snprintf(out, len, "%.120s", body);
	}
	cJSON_Delete(j);
}

/*
 * One request: method and path (appended to the base URL), a JSON body or NULL, the
 * status expected. On 0 *out holds the parsed answer (caller deletes) when out is given.
 */
static int request(struct api_client *c, const char *method, const char *path, enum auth auth,
		   const cJSON *body, long expected, cJSON **out, struct api_result *res)
{
	char errbuf[CURL_ERROR_SIZE] = "", *url = NULL, *auth_hdr = NULL, *text = NULL;
	struct curl_slist *hdrs = NULL, *h;
	struct http_body b = { .max = MAX_BODY - 1 }; /* room for the NUL */
	const char *secret;
	CURLcode rc;
	long status = 0;
	int ret;

	if (out)
		*out = NULL;
	if (res) {
		res->http_status = 0;
		res->message[0] = '\0';
	}
	secret = auth == AUTH_PROJECT ? c->api_key : c->access_token;
	if (!secret) {
		set_msg(c, res, "%s%s", auth == AUTH_PROJECT ? "no api_key (project token) configured" :
						       "no user access token given", "");
		return -EINVAL;
	}
	if (asprintf(&url, "%s%s", c->base, path) < 0) {
		url = NULL;
		ret = -ENOMEM;
		goto cleanup;
	}
	if (asprintf(&auth_hdr, auth == AUTH_PROJECT ? "x-api-token: %s" : "Authorization: Bearer %s",
		     secret) < 0) {
		auth_hdr = NULL;
		ret = -ENOMEM;
		goto cleanup;
	}
	if (body && !(text = cJSON_PrintUnformatted(body))) {
		ret = -ENOMEM;
		goto cleanup;
	}
	h = curl_slist_append(hdrs, "Accept: application/json");
	hdrs = h ? h : hdrs;
	h = h ? curl_slist_append(hdrs, "Content-Type: application/json") : NULL;
	hdrs = h ? h : hdrs;
	h = h ? curl_slist_append(hdrs, auth_hdr) : NULL;
	hdrs = h ? h : hdrs;
	if (!h) {
		ret = -ENOMEM;
		goto cleanup;
	}

	/* Reset keeps the connection cache: keep-alive across requests. */
	curl_easy_reset(c->curl);
	curl_easy_setopt(c->curl, CURLOPT_URL, url);
	curl_easy_setopt(c->curl, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(c->curl, CURLOPT_CUSTOMREQUEST, method);
	if (text) {
		curl_easy_setopt(c->curl, CURLOPT_POSTFIELDS, text);
		curl_easy_setopt(c->curl, CURLOPT_POSTFIELDSIZE, (long)strlen(text));
	} else if (!strcmp(method, "GET")) {
		curl_easy_setopt(c->curl, CURLOPT_HTTPGET, 1L);
	}
	curl_easy_setopt(c->curl, CURLOPT_HTTPHEADER, hdrs);
	curl_easy_setopt(c->curl, CURLOPT_SSL_VERIFYPEER, 1L);
	curl_easy_setopt(c->curl, CURLOPT_SSL_VERIFYHOST, 2L);
	if (c->ca_file)
		curl_easy_setopt(c->curl, CURLOPT_CAINFO, c->ca_file);
	curl_easy_setopt(c->curl, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c->curl, CURLOPT_TIMEOUT_MS, c->timeout_ms);
	curl_easy_setopt(c->curl, CURLOPT_CONNECTTIMEOUT_MS, c->connect_ms);
	curl_easy_setopt(c->curl, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(c->curl, CURLOPT_WRITEFUNCTION, http_body_write);
	curl_easy_setopt(c->curl, CURLOPT_WRITEDATA, &b);
	curl_easy_setopt(c->curl, CURLOPT_ERRORBUFFER, errbuf);
	curl_easy_setopt(c->curl, CURLOPT_NOPROGRESS, 0L);
	curl_easy_setopt(c->curl, CURLOPT_XFERINFOFUNCTION, on_progress);
	curl_easy_setopt(c->curl, CURLOPT_XFERINFODATA, c);
	curl_easy_setopt(c->curl, CURLOPT_USERAGENT, "carbonbpf");

	rc = curl_easy_perform(c->curl);
	/* Do not leave the header (with the token) or buffer pointers in the handle. */
	curl_easy_setopt(c->curl, CURLOPT_HTTPHEADER, NULL);
	curl_easy_setopt(c->curl, CURLOPT_ERRORBUFFER, NULL);
	if (rc != CURLE_OK && !(rc == CURLE_WRITE_ERROR && b.too_big)) {
		ret = http_curl_errno(rc);
		set_msg(c, res, "%s", *errbuf ? errbuf : curl_easy_strerror(rc), NULL);
		goto cleanup;
	}
	curl_easy_getinfo(c->curl, CURLINFO_RESPONSE_CODE, &status);
	if (res)
		res->http_status = status;
	if (status != expected) {
		char detail[API_MSG_LEN];

		error_detail(b.p, detail, sizeof(detail));
		if (res) {
			char code[16];

			snprintf(code, sizeof(code), "%ld", status);
			set_msg(c, res, *detail ? "HTTP %s: %s" : "HTTP %s%s", code, detail);
		}
		ret = -EREMOTEIO;
		goto cleanup;
	}
	if (out) {
		*out = b.p && !b.too_big ? cJSON_ParseWithLength(b.p, b.len) : NULL;
		if (!*out) {
			set_msg(c, res, "malformed JSON in the answer to %s %s", method, path);
			ret = -EBADMSG;
			goto cleanup;
		}
	}
	ret = 0;
cleanup:
	if (auth_hdr)
		free_secret(auth_hdr);
	curl_slist_free_all(hdrs);
	free(url);
	free(text);
	/* An answer may hold a new project token. */
	if (b.p)
		explicit_bzero(b.p, b.cap);
	free(b.p);
	return ret;
}

/* Adds a string, or null when s is NULL or empty. */
static bool add_str(cJSON *o, const char *k, const char *s)
{
	return s && *s ? cJSON_AddStringToObject(o, k, s) != NULL : cJSON_AddNullToObject(o, k) != NULL;
}

/* Adds a number, or null when v is NaN or infinite. */
static bool add_num(cJSON *o, const char *k, double v)
{
	return isfinite(v) ? cJSON_AddNumberToObject(o, k, v) != NULL : cJSON_AddNullToObject(o, k) != NULL;
}

static bool add_time(cJSON *o, const char *k, int64_t unix_us)
{
	char ts[48];

	return !api__format_time(unix_us, ts, sizeof(ts)) && cJSON_AddStringToObject(o, k, ts);
}

int api__create_run(struct api_client *c, const struct api_run *r, char run_id[API_ID_LEN],
		    struct api_result *res)
{
	cJSON *o = cJSON_CreateObject(), *ans = NULL;
	bool ok;
	int ret;

	ok = o && add_time(o, "timestamp", r->timestamp_us) &&
	     cJSON_AddStringToObject(o, "experiment_id", r->experiment_id) &&
	     add_str(o, "os", r->os) && add_str(o, "python_version", r->python_version) &&
	     add_str(o, "codecarbon_version", r->codecarbon_version) &&
	     cJSON_AddNumberToObject(o, "cpu_count", r->cpu_count) && add_str(o, "cpu_model", r->cpu_model) &&
	     cJSON_AddNumberToObject(o, "gpu_count", r->gpu_count) && add_str(o, "gpu_model", r->gpu_model) &&
	     /* CodeCarbon rounds coordinates to 0.1 degree for privacy. */
	     add_num(o, "longitude", round(r->longitude * 10) / 10) &&
	     add_num(o, "latitude", round(r->latitude * 10) / 10) &&
	     add_str(o, "region", r->region) && add_str(o, "provider", r->provider) &&
	     add_num(o, "ram_total_size", r->ram_total_size_gib) &&
	     add_str(o, "tracking_mode", r->tracking_mode);
	if (!ok) {
		ret = -ENOMEM;
		goto cleanup;
	}
	ret = request(c, "POST", "/runs", AUTH_PROJECT, o, 201, &ans, res);
	if (ret)
		goto cleanup;
	{
		const cJSON *id = cJSON_GetObjectItemCaseSensitive(ans, "id");

		if (!cJSON_IsString(id) || !*id->valuestring || strlen(id->valuestring) >= API_ID_LEN) {
			set_msg(c, res, "POST /runs answered 201 without a run id%s%s", "", "");
			ret = -EBADMSG;
			goto cleanup;
		}
		strcpy(run_id, id->valuestring);
	}
cleanup:
	cJSON_Delete(o);
	cJSON_Delete(ans);
	return ret;
}

static bool add_opt_num(cJSON *o, const char *k, double v)
{
	return !isfinite(v) || cJSON_AddNumberToObject(o, k, v);
}

int api__add_emission(struct api_client *c, const char *run_id, const struct emission_delta *d,
		      struct api_result *res)
{
	cJSON *o = cJSON_CreateObject(), *ans = NULL;
	bool ok;
	int ret;

	ok = o && add_time(o, "timestamp", d->timestamp_us) &&
	     cJSON_AddStringToObject(o, "run_id", run_id) &&
	     cJSON_AddNumberToObject(o, "duration", (double)d->duration_s) &&
	     add_num(o, "emissions_sum", d->emissions_kg) &&
	     add_num(o, "emissions_rate", d->emissions_rate_kg_s) &&
	     add_num(o, "cpu_power", d->cpu_power_w) && add_num(o, "gpu_power", d->gpu_power_w) &&
	     add_num(o, "ram_power", d->ram_power_w) && add_num(o, "cpu_energy", d->cpu_energy_kwh) &&
	     add_num(o, "gpu_energy", d->gpu_energy_kwh) && add_num(o, "ram_energy", d->ram_energy_kwh) &&
	     add_num(o, "energy_consumed", d->energy_consumed_kwh) &&
	     add_opt_num(o, "cpu_utilization_percent", d->cpu_utilization_percent) &&
	     add_opt_num(o, "gpu_utilization_percent", d->gpu_utilization_percent) &&
	     add_opt_num(o, "ram_utilization_percent", d->ram_utilization_percent) &&
	     add_opt_num(o, "wue", d->wue_l_per_kwh);
	if (!ok) {
		ret = -ENOMEM;
		goto cleanup;
	}
	ret = request(c, "POST", "/emissions", AUTH_PROJECT, o, 201, &ans, res);
	if (!ret && !cJSON_IsString(ans)) {
		set_msg(c, res, "POST /emissions answered 201 without an emission id%s%s", "", "");
		ret = -EBADMSG;
	}
cleanup:
	cJSON_Delete(o);
	cJSON_Delete(ans);
	return ret;
}

int api__auth_check(struct api_client *c, char *user, size_t len, struct api_result *res)
{
	cJSON *ans = NULL;
	const cJSON *u, *v = NULL;
	int ret;

	ret = request(c, "GET", "/auth/check", AUTH_USER, NULL, 200, &ans, res);
	if (ret)
		return ret;
	u = cJSON_GetObjectItemCaseSensitive(ans, "user");
	if (!cJSON_IsObject(u)) {
		cJSON_Delete(ans);
		set_msg(c, res, "GET /auth/check answered without a user%s%s", "", "");
		return -EBADMSG;
	}
	for (const char *const *k = (const char *const[]){ "name", "email", "sub", NULL }; *k; k++) {
		v = cJSON_GetObjectItemCaseSensitive(u, *k);
		if (cJSON_IsString(v) && *v->valuestring)
			break;
		v = NULL;
	}
	snprintf(user, len, "%s", v ? v->valuestring : "(unnamed user)");
	cJSON_Delete(ans);
	return 0;
}

static void copy_str(const cJSON *o, const char *k, char *dst, size_t len)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);

	if (cJSON_IsString(v) && !*dst)
		snprintf(dst, len, "%s", v->valuestring);
}

/* Fills one api_object from an answer object; -EBADMSG when it has no string id. */
static int parse_object(const cJSON *j, struct api_object *o)
{
	const cJSON *v;

	memset(o, 0, sizeof(*o));
	v = cJSON_GetObjectItemCaseSensitive(j, "id");
	if (!cJSON_IsString(v) || strlen(v->valuestring) >= sizeof(o->id))
		return -EBADMSG;
	strcpy(o->id, v->valuestring);
	copy_str(j, "name", o->name, sizeof(o->name));
	copy_str(j, "description", o->description, sizeof(o->description));
	copy_str(j, "organization_id", o->parent_id, sizeof(o->parent_id));
	copy_str(j, "project_id", o->parent_id, sizeof(o->parent_id));
	copy_str(j, "timestamp", o->timestamp, sizeof(o->timestamp));
	copy_str(j, "country_iso_code", o->country, sizeof(o->country));
	copy_str(j, "country_name", o->country, sizeof(o->country));
	copy_str(j, "token", o->token, sizeof(o->token));
	v = cJSON_GetObjectItemCaseSensitive(j, "access");
	if (cJSON_IsNumber(v))
		o->access = v->valueint;
	o->revoked = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(j, "revoked"));
	return 0;
}

static int get_list(struct api_client *c, const char *path, struct api_object **out, size_t *n,
		    struct api_result *res)
{
	struct api_object *a = NULL;
	cJSON *ans = NULL;
	const cJSON *it;
	size_t i = 0, cnt;
	int ret;

	*out = NULL;
	*n = 0;
	ret = request(c, "GET", path, AUTH_USER, NULL, 200, &ans, res);
	if (ret)
		return ret;
	if (!cJSON_IsArray(ans)) {
		set_msg(c, res, "GET %s did not answer a list%s", path, "");
		ret = -EBADMSG;
		goto cleanup;
	}
	cnt = (size_t)cJSON_GetArraySize(ans);
	if (cnt && !(a = calloc(cnt, sizeof(*a)))) {
		ret = -ENOMEM;
		goto cleanup;
	}
	cJSON_ArrayForEach(it, ans) {
		if (parse_object(it, &a[i])) {
			set_msg(c, res, "GET %s answered an item without an id%s", path, "");
			ret = -EBADMSG;
			goto cleanup;
		}
		i++;
	}
	*out = a;
	*n = cnt;
	a = NULL;
cleanup:
	free(a);
	cJSON_Delete(ans);
	return ret;
}

/* Path with one id segment, refusing ids that would change the path. */
static int id_path(char *buf, size_t len, const char *fmt, const char *id)
{
	if (!id || !*id || strpbrk(id, "/?#% \t\r\n"))
		return -EINVAL;
	if ((size_t)snprintf(buf, len, fmt, id) >= len)
		return -ENAMETOOLONG;
	return 0;
}

int api__list_orgs(struct api_client *c, struct api_object **out, size_t *n, struct api_result *res)
{
	return get_list(c, "/organizations", out, n, res);
}

int api__list_projects(struct api_client *c, const char *org_id, struct api_object **out,
		       size_t *n, struct api_result *res)
{
	char path[160];
	int ret = id_path(path, sizeof(path), "/organizations/%s/projects", org_id);

	return ret ? ret : get_list(c, path, out, n, res);
}

int api__list_experiments(struct api_client *c, const char *project_id, struct api_object **out,
			  size_t *n, struct api_result *res)
{
	char path[160];
	int ret = id_path(path, sizeof(path), "/projects/%s/experiments", project_id);

	return ret ? ret : get_list(c, path, out, n, res);
}

int api__list_project_tokens(struct api_client *c, const char *project_id,
			     struct api_object **out, size_t *n, struct api_result *res)
{
	char path[160];
	int ret = id_path(path, sizeof(path), "/projects/%s/api-tokens", project_id);

	if (ret)
		return ret;
	ret = get_list(c, path, out, n, res);
	for (size_t i = 0; !ret && i < *n; i++)
		explicit_bzero((*out)[i].token, sizeof((*out)[i].token));
	return ret;
}

/* POST a body built by the caller (consumed), expecting 201 and an object. */
static int create(struct api_client *c, const char *path, cJSON *body, bool ok,
		  struct api_object *out, struct api_result *res)
{
	cJSON *ans = NULL;
	int ret;

	if (!ok) {
		cJSON_Delete(body);
		return -ENOMEM;
	}
	ret = request(c, "POST", path, AUTH_USER, body, 201, &ans, res);
	cJSON_Delete(body);
	if (ret)
		return ret;
	if (!cJSON_IsObject(ans) || parse_object(ans, out)) {
		set_msg(c, res, "POST %s answered 201 without an id%s", path, "");
		ret = -EBADMSG;
	}
	cJSON_Delete(ans);
	return ret;
}

int api__create_org(struct api_client *c, const char *name, const char *description,
		    struct api_object *out, struct api_result *res)
{
	cJSON *o = cJSON_CreateObject();

	return create(c, "/organizations", o,
		      o && cJSON_AddStringToObject(o, "name", name ? name : "") &&
			      cJSON_AddStringToObject(o, "description", description ? description : ""),
		      out, res);
}

int api__create_project(struct api_client *c, const char *name, const char *description,
			const char *org_id, struct api_object *out, struct api_result *res)
{
	cJSON *o = cJSON_CreateObject();

	return create(c, "/projects", o,
		      o && cJSON_AddStringToObject(o, "name", name ? name : "") &&
			      cJSON_AddStringToObject(o, "description", description ? description : "") &&
			      cJSON_AddStringToObject(o, "organization_id", org_id ? org_id : ""),
		      out, res);
}

int api__create_experiment(struct api_client *c, const struct api_experiment_create *e,
			   struct api_object *out, struct api_result *res)
{
	cJSON *o = cJSON_CreateObject();

	return create(c, "/experiments", o,
		      o && cJSON_AddStringToObject(o, "name", e->name ? e->name : "") &&
			      cJSON_AddStringToObject(o, "description", e->description ? e->description : "") &&
			      cJSON_AddStringToObject(o, "project_id", e->project_id ? e->project_id : "") &&
			      cJSON_AddBoolToObject(o, "on_cloud", e->on_cloud) &&
			      add_str(o, "country_name", e->country_name) &&
			      add_str(o, "country_iso_code", e->country_iso_code) &&
			      add_str(o, "region", e->region) &&
			      add_str(o, "cloud_provider", e->cloud_provider) &&
			      add_str(o, "cloud_region", e->cloud_region),
		      out, res);
}

int api__create_project_token(struct api_client *c, const char *project_id, const char *name,
			      int access, struct api_object *out, struct api_result *res)
{
	char path[160];
	cJSON *o;
	int ret = id_path(path, sizeof(path), "/projects/%s/api-tokens", project_id);

	if (ret)
		return ret;
	if (access < 0 || access > 3)
		return -EINVAL;
	o = cJSON_CreateObject();
	ret = create(c, path, o,
		     o && add_str(o, "name", name) &&
			     cJSON_AddNumberToObject(o, "access", access ? access : 2),
		     out, res);
	if (!ret && !*out->token) {
		set_msg(c, res, "POST %s answered without the token%s", path, "");
		ret = -EBADMSG;
	}
	return ret;
}

int api__read_credentials(const char *path, char *buf, size_t len)
{
	char *text = NULL;
	size_t cap = 0, n = 0;
	cJSON *j = NULL;
	const cJSON *t;
	FILE *f;
	int ret;

	f = fopen(path, "re");
	if (!f)
		return -errno;
	for (;;) {
		size_t r;

		if (n + 4096 + 1 > cap) {
			char *p;

			if (cap >= (1u << 20)) {
				ret = -EINVAL;
				goto cleanup;
			}
			cap = cap ? cap * 2 : 8192;
			p = realloc(text, cap);
			if (!p) {
				ret = -ENOMEM;
				goto cleanup;
			}
			text = p;
		}
		r = fread(text + n, 1, 4096, f);
		n += r;
		if (r < 4096)
			break;
	}
	if (ferror(f)) {
		ret = -EIO;
		goto cleanup;
	}
	j = cJSON_ParseWithLength(text, n);
	t = cJSON_GetObjectItemCaseSensitive(j, "access_token");
	if (!cJSON_IsString(t) || !*t->valuestring) {
		ret = -EINVAL;
		goto cleanup;
	}
	if (strlen(t->valuestring) >= len) {
		ret = -ENAMETOOLONG;
		goto cleanup;
	}
	strcpy(buf, t->valuestring);
	ret = 0;
cleanup:
	if (text) {
		explicit_bzero(text, n);
		free(text);
	}
	cJSON_Delete(j);
	fclose(f);
	return ret;
}
