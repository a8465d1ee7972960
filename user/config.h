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
#include <stddef.h>

enum cfg_origin { CFG_DEFAULT, CFG_GLOBAL_FILE, CFG_LOCAL_FILE, CFG_ENV, CFG_FLAG };

struct config;

/* Where a value came from, for messages: "/home/u/.codecarbon.config:4", "env CODECARBON_X", "--flag". */
struct cfg_where {
	enum cfg_origin origin;
	char text[320];
};

/* How a key's text is read. Empty text means "unset" for every type but CFG_T_STRING. */
enum cfg_type {
	CFG_T_STRING,
	CFG_T_BOOL,   /* true/false/yes/no/1/0, any case */
	CFG_T_INT,    /* decimal integer (long) */
	CFG_T_DOUBLE, /* finite decimal number */
	CFG_T_ENUM,   /* one of `allowed` */
	CFG_T_LIST,   /* comma-separated items, each one of `allowed` */
};

#define CFG_F_USED (1u << 0)     /* carbonbpf acts on it; otherwise accepted and ignored */
#define CFG_F_SECRET (1u << 1)   /* shown masked (last 4 characters) */
#define CFG_F_ICASE (1u << 2)    /* enum / list values compared case-insensitively */
#define CFG_F_NONNEG (1u << 3)   /* numbers must be >= 0 */
#define CFG_F_POSITIVE (1u << 4) /* numbers must be > 0 */
#define CFG_F_OWN (1u << 5)      /* carbonbpf's own key, unknown to CodeCarbon */

/* One known key: the single table README and `carbonbpf config` are generated from. */
struct cfg_key {
	const char *name;    /* lower case */
	const char *def;     /* built-in default text; NULL: unset */
	enum cfg_type type;
	const char *allowed; /* CFG_T_ENUM / CFG_T_LIST: values separated by '|'; else NULL */
	unsigned flags;      /* CFG_F_* */
	const char *help;    /* one line, for tables */
};

/* The known keys, in display order; *n receives their count. Static storage. */
const struct cfg_key *config_keys(size_t *n);

/* The known key named `name` (any case), or NULL. */
const struct cfg_key *config_key_find(const char *name);

/* The known key nearest to an unknown `name` (a likely typo), or NULL when none is close. */
const char *config_key_suggest(const char *name);

/*
 * Checks that `key` is known and `value` well-formed for it. On failure writes one
 * message "<where>: ..." to errbuf (where: e.g. "--set"; may be NULL) and returns -EINVAL.
 */
int config__check_value(const char *key, const char *value, const char *where, char *errbuf,
			int errlen);

/*
 * Loads defaults, then the global file (NULL: $HOME/.codecarbon.config), then the local
 * file (NULL: ./.codecarbon.config), then the CODECARBON_* variables of envp (NULL:
 * environ). A missing file is not an error. A file that cannot be parsed, an unknown key,
 * or a malformed value: one message naming file, line and key is written to errbuf and
 * -EINVAL returned. Returns 0 or -errno; *out is NULL on failure, else owned by the caller
 * (config__free).
 * Files are read like CodeCarbon's configparser: both files merged into one parser, a
 * [DEFAULT] section supplies keys the [codecarbon] section lacks, `%(key)s` refers to another
 * key; environment values are unescaped the same way (`%%`). Every [codecarbon]/[DEFAULT]
 * key and every CODECARBON_* variable must be known and well-formed, even when overridden.
 */
int config__load(struct config **out, const char *global_path, const char *local_path,
		 char *const *envp, char *errbuf, int errlen);

/*
 * Sets a value from a command-line flag (highest precedence), taken literally (no `%`
 * unescaping). `flag` names it in messages ("--pue"; NULL: "flag"). Returns 0, -EINVAL
 * unknown key or malformed value (config__check_value gives the message), -ENOMEM.
 */
int config__set_flag(struct config *c, const char *key, const char *value, const char *flag);

/* The effective text of key ("" allowed), NULL when unset. `where` may be NULL. */
const char *config__get(const struct config *c, const char *key, struct cfg_where *where);

/*
 * Typed getters: 0 and *out set; -ENOENT when unset or empty (out untouched); -EINVAL when
 * the value is malformed or the key unknown, with a message naming where it came from in
 * errbuf. Booleans: true/false/yes/no/1/0 in any case.
 */
int config__get_bool(const struct config *c, const char *key, bool *out, char *errbuf, int errlen);
int config__get_double(const struct config *c, const char *key, double *out, char *errbuf, int errlen);
int config__get_int(const struct config *c, const char *key, long *out, char *errbuf, int errlen);

/*
 * Calls fn for every key of every file section other than [codecarbon] and [DEFAULT]
 * (scopes), sections in first-seen order (global file first), each key once with its
 * effective (interpolated) value. [DEFAULT] keys are not copied into these sections.
 * Stops at and returns fn's first non-zero return; 0 otherwise.
 */
typedef int (*config_section_fn)(const char *section, const char *key, const char *value,
				 const struct cfg_where *where, void *arg);
int config__sections(const struct config *c, config_section_fn fn, void *arg);

/*
 * Display text of a value of key k into buf: "(unset)" for NULL, "\"\"" for empty,
 * secrets as "****" plus their last 4 characters (only "****" when 4 or fewer).
 */
void config__format_value(const struct cfg_key *k, const char *value, char *buf, size_t len);

/* "$HOME/.codecarbon.config" (HOME from envp, NULL: environ; else the passwd entry). 0 or -errno. */
int config__global_path(char *buf, size_t len, char *const *envp);

/*
 * Pure edit of a config file's text (len bytes; may be empty): sets key = value in
 * [codecarbon], replacing that key's value in place or adding a line after the section's
 * last key (the section, after a blank line, when missing); every other byte is kept.
 * `%` is written `%%`. `name` names the text in messages. Validates key and value first.
 * Returns 0 with *out (malloc'd, NUL-terminated, caller frees) and *out_len, or -EINVAL
 * with a message in errbuf, or -ENOMEM.
 */
int config__edit_text(const char *text, size_t len, const char *name, const char *key,
		      const char *value, char **out, size_t *out_len, char *errbuf, int errlen);

/*
 * Writes key = value into the config file at path (following a symlink) through a temp
 * file and rename: an existing file keeps its mode, a new one is created 0600 with a
 * [codecarbon] header. Returns 0, -EINVAL (message in errbuf) or -errno.
 */
int config__write_key(const char *path, const char *key, const char *value, char *errbuf,
		      int errlen);

void config__free(struct config *c);

#endif
