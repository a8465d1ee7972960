/*
 * CodeCarbon-compatible configuration: built-in defaults < ~/.codecarbon.config <
 * ./.codecarbon.config < CODECARBON_* environment < command-line flags. Section
 * [codecarbon], keys case-insensitive, `%%` read as `%`, values trimmed. carbonbpf's own
 * keys live in the same section. Values are kept as text with where they came from;
 * typed getters validate them.
 */
#ifndef CB_CONFIG_H
#define CB_CONFIG_H

#include <stdbool.h>

enum cfg_origin { CFG_DEFAULT, CFG_GLOBAL_FILE, CFG_LOCAL_FILE, CFG_ENV, CFG_FLAG };

struct config;

/* Where a value came from, for messages: "~/.codecarbon.config line 4", "env CODECARBON_X", "--flag". */
struct cfg_where {
	enum cfg_origin origin;
	char text[320];
};

/*
 * Loads defaults, then the global file (NULL: $HOME/.codecarbon.config), then the local
 * file (NULL: ./.codecarbon.config), then the CODECARBON_* variables of envp (NULL:
 * environ). A missing file is not an error. A file that cannot be parsed, an unknown key,
 * or a malformed value: one message naming file, line and key is written to errbuf and
 * -EINVAL returned. Returns 0 or -errno.
 */
int config__load(struct config **out, const char *global_path, const char *local_path,
		 char *const *envp, char *errbuf, int errlen);

/* Sets a value from a command-line flag (highest precedence). Returns 0, -EINVAL unknown key. */
int config__set_flag(struct config *c, const char *key, const char *value, const char *flag);

/* The effective text of key ("" allowed), NULL when unset. `where` may be NULL. */
const char *config__get(const struct config *c, const char *key, struct cfg_where *where);

/*
 * Typed getters: 0 and *out set; -ENOENT when unset (out untouched); -EINVAL when the
 * value is malformed, with a message naming where it came from in errbuf.
 * Booleans: true/false/yes/no/1/0 in any case.
 */
int config__get_bool(const struct config *c, const char *key, bool *out, char *errbuf, int errlen);
int config__get_double(const struct config *c, const char *key, double *out, char *errbuf, int errlen);
int config__get_int(const struct config *c, const char *key, long *out, char *errbuf, int errlen);

void config__free(struct config *c);

#endif
