#ifndef DW_ENGINE_H
#define DW_ENGINE_H

#include "driftwatch/severity.h"

#include <stddef.h>
#include <stdint.h>

/*
 * The secret engine: built-in and configured rules compiled into one
 * Hyperscan prefilter (keywords and keyword-like regexes) and one PCRE2
 * (JIT) regex per rule that extracts and validates the secret. Text with
 * no prefilter hit costs a single pass of Hyperscan over it.
 *
 * A compiled engine is read-only and may be shared by threads; each
 * thread scans with its own struct dw_scanner.
 */

struct dw_rule_info {
	const char *id;
	const char *description;
	enum dw_severity severity;
};

/* A custom rule from the configuration (strings owned by the config). */
struct dw_custom_rule {
	char *id;
	char *description;
	char *regex;	 /* PCRE2 syntax */
	char **keywords; /* literals for the prefilter; may be none */
	size_t nkeywords;
	int secret_group;   /* capture group holding the secret; 0 = all */
	double min_entropy; /* Shannon bits per byte; 0 = no check */
	enum dw_severity severity;
};

/* What the engine is built from; see dw_config_load() in config.h. */
struct dw_engine_config {
	const struct dw_custom_rule *custom;
	size_t ncustom;
	char *const *disabled; /* rule ids to leave out */
	size_t ndisabled;
	char *const *ignored; /* "sha256:…" fingerprints never reported */
	size_t nignored;
	/*
	 * Where to keep compiled prefilters between runs (a private dir of
	 * the caller's), or NULL. Compiling costs ~30 ms; loading, ~1 ms.
	 */
	const char *cache_dir;
	/*
	 * How many characters of a secret are shown after its format's
	 * public prefix when it is redacted (0 to DW_REDACT_KEEP_MAX);
	 * DW_REDACT_KEEP_DEFAULT unless redact_keep_set.
	 */
	int redact_keep, redact_keep_set;
};

#define DW_REDACT_KEEP_DEFAULT 4
#define DW_REDACT_KEEP_MAX 8

struct dw_engine;

/*
 * Compile the built-in rules plus `cfg` (may be NULL). Errors: DW_EINVAL
 * with the rule id and the regex error position for a bad custom rule or
 * an unknown id in `disabled`.
 */
int dw_engine_new(struct dw_engine **out, const struct dw_engine_config *cfg);
void dw_engine_free(struct dw_engine *e);
/* The rules in use, in engine order (for SARIF's rule table). */
size_t dw_engine_rules(const struct dw_engine *e,
		       const struct dw_rule_info **rules);
/*
 * A digest of the rule set, changing whenever a rule or option does
 * (ignored fingerprints and redact_keep included): the scan cache key.
 */
const char *dw_engine_digest(const struct dw_engine *e);

struct dw_finding {
	const struct dw_rule_info *rule;
	size_t rule_index;
	const char *secret; /* raw bytes, valid during the callback only */
	size_t secret_len;
	uint64_t line;	      /* 1-based, within the scanned stream */
	uint64_t column;      /* 1-based byte column */
	uint64_t offset;      /* byte offset of the secret in the stream */
	char fingerprint[72]; /* "sha256:" + hex of SHA-256(id ":" secret) */
	int url_decoded;      /* found in the %-decoded form of the line */
	int multiline;	      /* by a rule whose match may span lines */
	/* Found in decoded content by the scanner process and checked by
	 * its fingerprint only (driftwatchd: sandbox.h): a scanner taken
	 * over by its input could have made it up. */
	int unverified;
};

/* Return 0 to go on, non-zero to stop the scan with that value. */
typedef int (*dw_finding_cb)(const struct dw_finding *f, void *ctx);

struct dw_scanner;

int dw_scanner_new(struct dw_scanner **out, const struct dw_engine *e);
void dw_scanner_free(struct dw_scanner *s);

/*
 * Stream interface: feed the bytes of one input in pieces of any size,
 * then finish it. Memory stays bounded by the chunk size whatever the
 * input's size or line length. `line_base` is the line number of the
 * stream's first line (1 for a file). dw_scan_begin() resets the scanner.
 */
void dw_scan_begin(struct dw_scanner *s, uint64_t line_base, dw_finding_cb cb,
		   void *ctx);
/*
 * The path of what the next scan (dw_scan_begin() or dw_scan_buffer())
 * reads, for the rules that read only files of some names (.pgpass, by
 * its last component); that scan takes it, the one after has none. An
 * input never named (a log, a chat) gets none of those rules.
 */
void dw_scan_name(struct dw_scanner *s, const char *path);
/* Whether some rule reads files at `path` only (its last component), and
 * whether rule `rule_index` is such a rule. */
int dw_engine_file_named(const struct dw_engine *e, const char *path);
int dw_engine_rule_named(const struct dw_engine *e, size_t rule_index);
/* The engine a scanner runs. */
const struct dw_engine *dw_scanner_engine(const struct dw_scanner *s);
int dw_scan_feed(struct dw_scanner *s, const char *data, size_t len);
int dw_scan_finish(struct dw_scanner *s);

/*
 * Zero-copy feeding: dw_scan_reserve() returns where up to `*room` bytes
 * may be written (read(2) straight into it), dw_scan_commit() hands over
 * the `n` bytes written. Equivalent to dw_scan_feed() of those bytes.
 */
char *dw_scan_reserve(struct dw_scanner *s, size_t *room);
int dw_scan_commit(struct dw_scanner *s, size_t n);

/*
 * Did the last stream have a line where a multi-line rule's keyword was
 * (a PEM BEGIN, a .netrc `machine`), whether or not it was completed?
 * A caller that scans its records one at a time (container logs) joins
 * the lines from there (dw_log_join).
 */
int dw_scan_multiline_hit(const struct dw_scanner *s);

/*
 * A time budget for each stream from now on (0: none): past it the scan
 * stops where it is, and dw_scan_timed_out() says so; what was found up
 * to there is reported. Rules are linear, but a stream can be huge.
 */
void dw_scanner_set_budget(struct dw_scanner *s, long long ms);
/*
 * One deadline `ms` from now for every stream until it is cleared (0):
 * an input made of many streams (a log's lines, a mail's parts) is
 * bounded as a whole, not only each stream by its budget.
 * dw_scanner_past_deadline() says whether it has passed.
 */
void dw_scanner_set_deadline(struct dw_scanner *s, long long ms);
int dw_scanner_past_deadline(const struct dw_scanner *s);
int dw_scan_timed_out(const struct dw_scanner *s);

/* begin + feed + finish for one buffer. */
int dw_scan_buffer(struct dw_scanner *s, const char *data, size_t len,
		   uint64_t line_base, dw_finding_cb cb, void *ctx);

/*
 * The fingerprint of a secret found by rule `rule_id`: "sha256:" + hex
 * SHA-256 of the rule id, ':' and the secret. Content-based, so moving a
 * secret does not change it; everything that names a secret without
 * showing it (findings, ignores, caches, rotation records) uses this.
 */
void dw_secret_fingerprint(char out[72], const char *rule_id,
			   const char *secret, size_t len);

/*
 * The form a secret of rule `rule_index` is shown in by default, appended
 * to `out`: the format's public prefix (the rule's literal keyword it
 * starts with, and version fields such as "1-"), at most the engine's
 * redact_keep characters more, never more than a quarter of the rest,
 * then "…". A PEM block shows its BEGIN line only.
 */
struct dw_buf;
int dw_engine_redact(const struct dw_engine *e, size_t rule_index,
		     const char *secret, size_t len, struct dw_buf *out);

/*
 * `text` with every copy of every secret the engine finds in it (allow
 * marks and ignored fingerprints do not count here), and of `also`'s
 * secret when given, redacted as above (overlapping copies as one run),
 * appended to `out`: for fields that carry user content next to a
 * finding (commit subjects, paths, chat and mail fields). Returns the
 * number of runs replaced; when a secret was found only in the
 * %-decoded form, or more than 64 were, the whole text is replaced by
 * "…". Only the first 8 KiB of `text` are kept (the cut is said).
 */
int dw_engine_redact_text(const struct dw_engine *e, const char *text,
			  size_t len, const struct dw_finding *also,
			  struct dw_buf *out);
/* The same with a scanner of the caller's (not one mid-scan). */
int dw_scanner_redact_text(struct dw_scanner *s, const char *text, size_t len,
			   const struct dw_finding *also, struct dw_buf *out);
/*
 * The same in two halves, for a scan done elsewhere (the scanner
 * process): dw_scanner_redact_scan() reports the secrets of the part of
 * `text` redaction looks at (ignored fingerprints too); given those
 * secrets (`decoded`: one was seen only %-decoded), dw_redact_apply()
 * writes the redacted text as dw_scanner_redact_text() does.
 */
int dw_scanner_redact_scan(struct dw_scanner *s, const char *text, size_t len,
			   dw_finding_cb cb, void *ctx);
/* All of a text that redaction reads: shown 8 KiB, scanned 1 KiB more. */
#define DW_REDACT_SCAN_MAX ((8u << 10) + 1024)
struct dw_redact_span {
	const char *secret;
	size_t len;
	size_t rule_index;
};
int dw_redact_apply(const struct dw_engine *e, const char *text, size_t len,
		    const struct dw_redact_span *v, size_t nv, int decoded,
		    const struct dw_finding *also, struct dw_buf *out);

#endif
