/* Scope selectors, experiment bits, rule matching and container ids from cgroup paths. */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "scope.h"

static const char *const kind_names[] = { "pid", "cmd", "cgroup", "comm", "uid" };

const char *scope_kind_name(enum scope_kind k)
{
	return kind_names[k];
}

int scopes__experiment_bit(struct scopes *s, const char *experiment_id)
{
	for (int i = 0; i < s->n_exp; i++)
		if (!strcmp(s->experiments[i], experiment_id))
			return i;
	if (s->n_exp == SCOPE_MAX_EXPERIMENTS)
		return -E2BIG;
	snprintf(s->experiments[s->n_exp], sizeof(s->experiments[0]), "%s", experiment_id);
	return s->n_exp++;
}

static int parse_u32(const char *v, uint32_t *out)
{
	char *end;
	unsigned long x;

	if (!*v || !isdigit((unsigned char)*v))
		return -EINVAL;
	errno = 0;
	x = strtoul(v, &end, 10);
	if (errno || *end || x > 0xffffffffUL)
		return -EINVAL;
	*out = (uint32_t)x;
	return 0;
}

int scopes__add(struct scopes *s, enum scope_kind kind, const char *arg,
		const char *default_experiment, char *err, size_t errlen)
{
	struct scope_sel *sel;
	const char *eq = kind == SCOPE_CMD ? NULL : strrchr(arg, '=');
	char value[256];
	const char *exp = default_experiment;
	size_t vlen = eq ? (size_t)(eq - arg) : strlen(arg);
	int bit;

	if (s->n_sel == (int)(sizeof(s->sel) / sizeof(s->sel[0]))) {
		snprintf(err, errlen, "too many scopes (at most %zu)", sizeof(s->sel) / sizeof(s->sel[0]));
		return -E2BIG;
	}
	if (eq) {
		exp = eq + 1;
		if (!*exp) {
			snprintf(err, errlen, "--%s %s: empty experiment id after '='", kind_names[kind], arg);
			return -EINVAL;
		}
	}
	if (!exp || !*exp) {
		snprintf(err, errlen, "--%s %s: no experiment id (give VALUE=EXPERIMENT_ID or set "
			 "experiment_id)", kind_names[kind], arg);
		return -EINVAL;
	}
	if (vlen == 0 || vlen >= sizeof(value)) {
		snprintf(err, errlen, "--%s: empty or too long value '%s'", kind_names[kind], arg);
		return -EINVAL;
	}
	memcpy(value, arg, vlen);
	value[vlen] = '\0';
	sel = &s->sel[s->n_sel];
	memset(sel, 0, sizeof(*sel));
	sel->kind = kind;
	switch (kind) {
	case SCOPE_PID: {
		uint32_t pid;

		if (parse_u32(value, &pid) || pid == 0 || pid > 0x7fffffff) {
			snprintf(err, errlen, "--pid %s: not a process id", arg);
			return -EINVAL;
		}
		sel->pid = (pid_t)pid;
		break;
	}
	case SCOPE_UID:
		if (parse_u32(value, &sel->uid)) {
			snprintf(err, errlen, "--uid %s: not a numeric user id", arg);
			return -EINVAL;
		}
		break;
	case SCOPE_COMM:
		if (vlen > 15) {
			snprintf(err, errlen, "--comm %s: the kernel keeps 15 characters of a command "
				 "name; give the first 15 ('%.15s')", arg, value);
			return -EINVAL;
		}
		break;
	case SCOPE_CGROUP: {
		size_t n = vlen;

		/* Normalise: one leading '/', no trailing '/'; "/" is the root. */
		while (n > 1 && value[n - 1] == '/')
			value[--n] = '\0';
		if (value[0] != '/') {
			if (n + 1 >= sizeof(value)) {
				snprintf(err, errlen, "--cgroup %s: path too long", arg);
				return -EINVAL;
			}
			memmove(value + 1, value, n + 1);
			value[0] = '/';
		}
		for (const char *c = value; (c = strstr(c, "..")); c += 2) {
			if (c[-1] == '/' && (c[2] == '\0' || c[2] == '/')) {
				snprintf(err, errlen, "--cgroup %s: '..' is not allowed", arg);
				return -EINVAL;
			}
		}
		break;
	}
	case SCOPE_CMD:
		break;
	}
	snprintf(sel->value, sizeof(sel->value), "%s", value);
	bit = scopes__experiment_bit(s, exp);
	if (bit < 0) {
		snprintf(err, errlen, "too many experiments (at most %d)", SCOPE_MAX_EXPERIMENTS);
		return bit;
	}
	sel->bit = bit;
	s->n_sel++;
	return 0;
}

uint64_t scopes__tree_bits(const struct scopes *s)
{
	uint64_t m = 0;

	for (int i = 0; i < s->n_sel; i++)
		if (s->sel[i].kind == SCOPE_PID || s->sel[i].kind == SCOPE_CMD)
			m |= 1ull << s->sel[i].bit;
	return m;
}

int scopes__has_rules(const struct scopes *s)
{
	for (int i = 0; i < s->n_sel; i++)
		if (s->sel[i].kind != SCOPE_PID && s->sel[i].kind != SCOPE_CMD)
			return 1;
	return 0;
}

static int under(const char *path, const char *scope)
{
	size_t n = strlen(scope);

	if (!strcmp(scope, "/"))
		return 1;
	return !strncmp(path, scope, n) && (path[n] == '\0' || path[n] == '/');
}

uint64_t scopes__match_rules(const struct scopes *s, const char *cgroup_path, const char *comm,
			     uint32_t uid)
{
	uint64_t m = 0;

	for (int i = 0; i < s->n_sel; i++) {
		const struct scope_sel *sel = &s->sel[i];
		int hit = 0;

		switch (sel->kind) {
		case SCOPE_CGROUP:
			hit = cgroup_path && under(cgroup_path, sel->value);
			break;
		case SCOPE_COMM:
			hit = comm && !strcmp(comm, sel->value);
			break;
		case SCOPE_UID:
			hit = uid == sel->uid;
			break;
		default:
			break;
		}
		if (hit)
			m |= 1ull << sel->bit;
	}
	return m;
}

void scopes__ids(const struct scopes *s, uint64_t mask, char *buf, size_t len)
{
	size_t off = 0;

	buf[0] = '\0';
	for (int i = 0; i < s->n_exp && off < len; i++) {
		if (!(mask & (1ull << i)))
			continue;
		off += (size_t)snprintf(buf + off, len - off, "%s%s", off ? ";" : "", s->experiments[i]);
	}
}

/* The 64 hex digits that follow prefix in component c ("docker-<id>.scope", "<id>"). */
static int hex64_after(const char *c, size_t clen, const char *prefix, char *id, size_t idlen)
{
	size_t p = strlen(prefix);

	if (clen < p + 64 || strncmp(c, prefix, p))
		return 0;
	for (size_t i = 0; i < 64; i++)
		if (!isxdigit((unsigned char)c[p + i]))
			return 0;
	if (clen != p + 64 && strncmp(c + p + 64, ".scope", clen - p - 64))
		return 0;
	snprintf(id, idlen, "%.64s", c + p);
	return 1;
}

int container_id_from_cgroup(const char *path, char *runtime, size_t rlen, char *id, size_t idlen)
{
	static const struct {
		const char *prefix, *runtime;
	} scopes[] = {
		{ "docker-", "docker" },          { "cri-containerd-", "containerd" },
		{ "crio-", "cri-o" },             { "libpod-", "podman" },
		{ "", NULL }, /* bare id: cgroupfs drivers (/docker/<id>, /kubepods/.../<id>) */
	};
	const char *best_rt = NULL;
	int kube = strstr(path, "/kubepods") != NULL;
	char found[65] = "";

	/* Walk the components; the innermost container wins (a container in a pod). */
	for (const char *c = path; *c;) {
		const char *end;
		size_t clen;

		while (*c == '/')
			c++;
		end = strchr(c, '/');
		clen = end ? (size_t)(end - c) : strlen(c);
		for (size_t i = 0; clen && i < sizeof(scopes) / sizeof(scopes[0]); i++) {
			if (!hex64_after(c, clen, scopes[i].prefix, found, sizeof(found)))
				continue;
			best_rt = scopes[i].runtime;
			if (!best_rt) /* a bare id: name the runtime from the parent */
				best_rt = kube ? "kubepods" : strncmp(path, "/docker/", 8) ? "container" : "docker";
			snprintf(id, idlen, "%s", found);
			break;
		}
		if (!strncmp(c, "machine-", 8) && clen > 14 && !strncmp(c + clen - 6, ".scope", 6)) {
			best_rt = "machine";
			snprintf(id, idlen, "%.*s", (int)(clen - 14), c + 8);
		}
		c += clen;
	}
	if (!best_rt)
		return -ENOENT;
	snprintf(runtime, rlen, "%s", best_rt);
	return 0;
}
