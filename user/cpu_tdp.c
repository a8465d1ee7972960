/* CPU brand string -> TDP watts, matched CodeCarbon-style against the generated table. */
#include <ctype.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "cpu_tdp.h"

#define MAX_TOKENS 24
#define TOKEN_LEN 32

struct tokens {
	int n;
	char t[MAX_TOKENS][TOKEN_LEN];
};

/* Lower-cases, trims and collapses runs of white space into one space. */
static void normalize(const char *in, char *out, size_t len)
{
	size_t o = 0;
	bool space = false;

	for (; *in && o + 1 < len; in++) {
		unsigned char c = (unsigned char)*in;

		if (isspace(c)) {
			space = o > 0;
			continue;
		}
		if (space && o + 2 < len)
			out[o++] = ' ';
		space = false;
		out[o++] = (char)tolower(c);
	}
	out[o] = '\0';
}

/* Removes every occurrence of word (already lower-case) from s, in place. */
static void erase_all(char *s, const char *word)
{
	size_t wl = strlen(word);
	char *p;

	while ((p = strstr(s, word)))
		memmove(p, p + wl, strlen(p + wl) + 1);
}

/* Removes a whole word (bounded by spaces or the ends of s), in place. */
static void erase_word(char *s, const char *word)
{
	size_t wl = strlen(word);
	char *p = s;

	while ((p = strstr(p, word))) {
		bool start = p == s || p[-1] == ' ';
		bool end = p[wl] == '\0' || p[wl] == ' ';

		if (start && end)
			memmove(p, p + wl, strlen(p + wl) + 1);
		else
			p += wl;
	}
}

/*
 * The brand as CodeCarbon cleans it before its second exact match: trademarks, the word
 * CPU, the "@ 3.20GHz" clock suffix and the word Processor removed.
 */
static void clean_brand(const char *norm, char *out, size_t len)
{
	char tmp[256], *at;

	snprintf(tmp, sizeof(tmp), "%s", norm);
	erase_all(tmp, "(r)");
	erase_all(tmp, "(tm)");
	at = strchr(tmp, '@');
	if (at)
		*at = '\0';
	erase_word(tmp, "cpu");
	erase_word(tmp, "processor");
	normalize(tmp, out, len);
}

/* Splits into maximal alphanumeric runs (fuzzywuzzy's default processing), each word once. */
static void tokenize(const char *s, struct tokens *tk)
{
	char tok[TOKEN_LEN];
	size_t l, k;
	int i;

	tk->n = 0;
	while (*s && tk->n < MAX_TOKENS) {
		while (*s && !isalnum((unsigned char)*s))
			s++;
		for (l = 0; isalnum((unsigned char)s[l]); l++)
			;
		if (l == 0)
			break;
		for (k = 0; k < l && k < TOKEN_LEN - 1; k++)
			tok[k] = (char)tolower((unsigned char)s[k]);
		tok[k] = '\0';
		s += l;
		for (i = 0; i < tk->n && strcmp(tk->t[i], tok); i++)
			;
		if (i == tk->n)
			memcpy(tk->t[tk->n++], tok, k + 1);
	}
}

static bool subset(const struct tokens *a, const struct tokens *b)
{
	for (int i = 0; i < a->n; i++) {
		int j;

		for (j = 0; j < b->n; j++)
			if (!strcmp(a->t[i], b->t[j]))
				break;
		if (j == b->n)
			return false;
	}
	return true;
}

static int cmp_entry(const void *key, const void *elem)
{
	return strcmp(key, ((const struct cpu_tdp_entry *)elem)->name);
}

static const struct cpu_tdp_entry *exact(const char *name)
{
	if (!name[0])
		return NULL;
	return bsearch(name, cpu_tdp_table, cpu_tdp_table_len, sizeof(cpu_tdp_table[0]),
		       cmp_entry);
}

/*
 * Token-set match at 100 % in fuzzywuzzy terms: one word set contains the other. An equal
 * set wins if unique; otherwise the containing matches must be unique.
 */
static const struct cpu_tdp_entry *token_match(const char *cleaned)
{
	const struct cpu_tdp_entry *eq = NULL, *sub = NULL;
	int n_eq = 0, n_sub = 0;
	struct tokens bt, et;

	tokenize(cleaned, &bt);
	if (bt.n == 0)
		return NULL;
	for (size_t i = 0; i < cpu_tdp_table_len; i++) {
		tokenize(cpu_tdp_table[i].name, &et);
		if (et.n == 0)
			continue;
		if (subset(&bt, &et) && subset(&et, &bt)) {
			eq = &cpu_tdp_table[i];
			n_eq++;
		} else if (subset(&bt, &et) || subset(&et, &bt)) {
			sub = &cpu_tdp_table[i];
			n_sub++;
		}
	}
	if (n_eq == 1)
		return eq;
	if (n_eq == 0 && n_sub == 1)
		return sub;
	return NULL;
}

int cpu_tdp_lookup(const char *brand, double *tdp_w, char *matched, size_t len)
{
	const struct cpu_tdp_entry *e;
	char norm[256], cleaned[256];

	if (!brand)
		return -EINVAL;
	normalize(brand, norm, sizeof(norm));
	if (!norm[0])
		return -EINVAL;
	clean_brand(norm, cleaned, sizeof(cleaned));
	e = exact(norm);
	if (!e)
		e = exact(cleaned);
	if (!e)
		e = token_match(cleaned);
	if (!e)
		return -ENOENT;
	*tdp_w = e->tdp_w;
	if (matched && len)
		snprintf(matched, len, "%s", e->name);
	return 0;
}
