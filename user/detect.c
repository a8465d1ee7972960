/* Pure helpers of `carbonbpf detect`: cgroup mode, capabilities, CPU lists. */
#include <errno.h>
#include <inttypes.h>
#include <linux/capability.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "detect.h"
#include "util.h"

enum cgroup_mode detect_cgroup_mode(const char *mountinfo, char *v2_mnt, size_t len)
{
	bool v1 = false, v2 = false;
	const char *line = mountinfo;

	if (len)
		v2_mnt[0] = '\0';
	while (line && *line) {
		const char *eol = strchr(line, '\n');
		size_t n = eol ? (size_t)(eol - line) : strlen(line);
		char buf[4096], point[2048], fstype[64];
		char *sep;

		/* "36 25 0:31 / /sys/fs/cgroup/unified rw,nosuid shared:9 - cgroup2 cgroup2 rw" */
		if (n < sizeof(buf)) {
			memcpy(buf, line, n);
			buf[n] = '\0';
			sep = strstr(buf, " - ");
			if (sep && sscanf(sep + 3, "%63s", fstype) == 1 &&
			    sscanf(buf, "%*s %*s %*s %*s %2047s", point) == 1) {
				if (!strcmp(fstype, "cgroup")) {
					v1 = true;
				} else if (!strcmp(fstype, "cgroup2")) {
					if (!v2 && len)
						snprintf(v2_mnt, len, "%s", point);
					v2 = true;
				}
			}
		}
		line = eol ? eol + 1 : NULL;
	}
	if (v1 && v2)
		return CGROUP_MODE_HYBRID;
	if (v2)
		return CGROUP_MODE_V2;
	return v1 ? CGROUP_MODE_V1 : CGROUP_MODE_NONE;
}

const char *detect_cgroup_mode_name(enum cgroup_mode m)
{
	switch (m) {
	case CGROUP_MODE_V1:
		return "v1";
	case CGROUP_MODE_V2:
		return "v2";
	case CGROUP_MODE_HYBRID:
		return "hybrid";
	default:
		return "none";
	}
}

int detect_parse_capeff(const char *status, uint64_t *mask)
{
	const char *p = status;
	char *end;

	while ((p = strstr(p, "CapEff:"))) {
		if (p == status || p[-1] == '\n') {
			p += 7;
			while (*p == ' ' || *p == '\t')
				p++;
			errno = 0;
			*mask = strtoull(p, &end, 16);
			if (end == p || errno || (*end && *end != '\n'))
				return -ENOENT;
			return 0;
		}
		p += 7;
	}
	return -ENOENT;
}

int detect_effective_caps(const char *procfs_root, uint64_t *mask)
{
	struct __user_cap_header_struct hdr = { .version = _LINUX_CAPABILITY_VERSION_3 };
	struct __user_cap_data_struct data[_LINUX_CAPABILITY_U32S_3];
	char path[4096], buf[8192];
	long n;

	memset(data, 0, sizeof(data));
	if (!syscall(SYS_capget, &hdr, data)) {
		*mask = (uint64_t)data[1].effective << 32 | data[0].effective;
		return 0;
	}
	snprintf(path, sizeof(path), "%s/self/status", procfs_root ? procfs_root : "/proc");
	n = read_text_file(path, buf, sizeof(buf));
	if (n < 0)
		return (int)n;
	return detect_parse_capeff(buf, mask);
}

void detect_format_cpulist(const int *cpus, int n, char *buf, size_t len)
{
	size_t off = 0;

	if (!len)
		return;
	buf[0] = '\0';
	for (int i = 0; i < n && off < len; i++) {
		int j = i;

		while (j + 1 < n && cpus[j + 1] == cpus[j] + 1)
			j++;
		if (j > i)
			off += (size_t)snprintf(buf + off, len - off, "%s%d-%d", off ? "," : "",
						cpus[i], cpus[j]);
		else
			off += (size_t)snprintf(buf + off, len - off, "%s%d", off ? "," : "",
						cpus[i]);
		i = j;
	}
}
