#ifndef DW_SECRETS_RULES_H
#define DW_SECRETS_RULES_H

/* The built-in rules (internal to the engine). */

#include <stddef.h>

#include "driftwatch/engine.h"

/*
 * Judge a candidate: `s` is the secret, `m` the whole regex match and
 * `line` the line it was found on (its %-decoded form for a match found
 * there; for a rule that spans lines, the match's first line), none of
 * them a C string. Unless the rule spans lines, `line` holds `m` and `s`.
 * Non-zero keeps it.
 */
typedef int (*dw_validate_fn)(const char *s, size_t n, const char *m,
			      size_t mlen, const char *line, size_t llen);

#define DW_MAX_PREFILTERS 16

/* A multi-line rule (dw_builtin_rule.multiline): */
/* the regex matches a PEM BEGIN line, group 1 its label; the block ends
 * at the first END line after it, which must carry the same label */
#define DW_ML_BLOCK 1
/* the regex's match starts on the line and may go on over the lines
 * after it, up to MULTILINE_WINDOW bytes (a .netrc entry written over
 * several lines) */
#define DW_ML_SPAN 2

struct dw_builtin_rule {
	struct dw_rule_info info;
	const char *regex; /* PCRE2 */
	int secret_group;
	/* Hyperscan patterns that must hit on a line before the regex runs */
	const char *prefilters[DW_MAX_PREFILTERS];
	int caseless;  /* prefilters are case-insensitive */
	int multiline; /* 0, or how a match may go on past its line: */
	double min_entropy;
	dw_validate_fn validate;
	/* Whether `text` (a line) could hold a match at all, in one linear
	 * pass, before the regex runs over it: NULL, always. For regexes
	 * whose failure costs a bounded window at each of many starts. */
	int (*could_match)(const char *text, size_t len);
	/* A rule of names, not of formats (a password assigned to a name
	 * that says so): it reports nothing where a format's rule found a
	 * secret on the same line, so one secret is one finding. */
	int generic;
	/* Read only in files of these names (the path's last component,
	 * any case; dw_scan_name()): a format that is only a credential by
	 * where it is (.pgpass). NULL-ended; empty: every input. */
	const char *file_names[4];
};

extern const struct dw_builtin_rule dw_builtin_rules[];
extern const size_t dw_builtin_rule_count;

/* Shannon entropy in bits per byte. */
double dw_entropy(const char *s, size_t n);
/* Placeholder or documentation value (xxxx, <token>, ${VAR}, EXAMPLE…). */
int dw_is_placeholder(const char *s, size_t n);

#endif
