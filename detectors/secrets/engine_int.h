#ifndef DW_ENGINE_INT_H
#define DW_ENGINE_INT_H

/*
 * The secret engine's parts, internal to the detectors: engine.c compiles
 * the rules and the Hyperscan prefilter, scanner.c scans with them.
 */
#define PCRE2_CODE_UNIT_WIDTH 8
#include <ctype.h>
#include <fcntl.h>
#include <hs/hs.h>
#include <pcre2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "rules.h"
#include "driftwatch/buf.h"
#include "driftwatch/error.h"
#include "driftwatch/escape.h"
#include "driftwatch/xmalloc.h"

/* Lines are gathered into chunks of about this size before a scan. */
#define CHUNK (4u << 20)
/* A line longer than this is cut (with OVERLAP bytes of context kept). */
#define MAX_LINE (16u << 20)
#define OVERLAP 4096u
/* How far a multi-line match (a PEM block) may reach past its line. */
#define MULTILINE_WINDOW (64u << 10)
#define ALLOW_MARK "driftwatch:allow"
/* Findings remembered per line, to drop a %-decoded repeat. */
#define LINE_SEEN_MAX 32

struct rule {
	struct dw_rule_info info;
	pcre2_code *re;
	int group;
	int multiline;
	double min_entropy;
	dw_validate_fn validate;
	int (*could_match)(const char *text, size_t len); /* rules.h */
	int generic;					  /* rules.h */
	const char *const *file_names; /* rules.h; NULL: every input */
	/* The format's literal prefixes (the keywords), shown when redacted */
	const char *prefixes[DW_MAX_PREFILTERS];
	size_t nprefixes;
};

struct dw_engine {
	struct rule *rules;
	struct dw_rule_info *infos;
	size_t nrules;
	hs_database_t *db;
	unsigned *pat_rule; /* Hyperscan pattern id -> rule index */
	/* The rules of file names' prefilters (rules.h: file_names),
	 * scanned only in an input that has one of those names */
	hs_database_t *named_db;
	unsigned *named_pat_rule;
	char **ignored; /* sorted fingerprints */
	size_t nignored, ignored_alloc;
	char **owned; /* strings of custom rules, copied */
	size_t nowned, owned_alloc;
	char digest[72];
	int redact_keep; /* characters shown after a public prefix */
};

struct hit {
	/* Offset just past the keyword; for a generic rule, its line's end
	 * (so it sorts after the format rules' hits of its line). */
	uint64_t end;
	unsigned rule;
	int generic;
};

struct dw_scanner {
	const struct dw_engine *e;
	hs_scratch_t *scratch;
	pcre2_match_data *md;
	pcre2_match_context *mctx;
	pcre2_jit_stack *jit;
	struct dw_buf buf;   /* stream bytes not yet done with */
	size_t nl_checked;   /* buf[0..nl_checked) has no newline */
	uint64_t buf_abs;    /* absolute offset of buf.ptr[0] */
	uint64_t done_abs;   /* keyword hits ending here or before: done */
	uint64_t wait_abs;   /* a multi-line match waits for bytes up to here */
	int ml_hit;	     /* dw_scan_multiline_hit() */
	uint64_t replay_abs; /* hits ending before here: looked at */
	size_t replay_rule;  /* ... and at it, those before this rule's */
	int replay_same;
	uint64_t cut_from_abs; /* a span match cut at a line's cut began here */
	/* the span rule that waited, and where its waiting match began */
	size_t span_rule;
	uint64_t span_abs;
	uint64_t line_abs;  /* newlines before this offset are counted */
	uint64_t line_no;   /* the line number at line_abs */
	uint64_t open_line; /* where the line running into buf began */
	struct hit *hits;
	size_t nhits, hits_alloc;
	uint64_t cur_line; /* start of the line the state below is for */
	unsigned char *rule_done;
	unsigned char *claim; /* scanner.c: claimed() */
	/* Per rule: the end (+1) of its last hit kept in this region, 0:
	 * none (hits of a rule on one line past the first are not kept). */
	size_t *last_hit;
	int line_allowed;
	/* A redaction scan: allow marks and ignores do not hide secrets */
	int redacting;
	char seen[LINE_SEEN_MAX][72];
	/*
	 * The last candidate judged (rule, secret): whether its entropy and
	 * placeholder checks passed and its fingerprint, which depend on
	 * nothing else (a line of one key id repeated judged each copy).
	 */
	size_t memo_rule, memo_len;
	int memo_ok, memo_fp;
	int memo_claimed; /* claimed()'s answer, -1 not asked */
	char memo[128], memo_fingerprint[72];
	size_t nseen;
	/* Where this line's findings of format rules lie (absolute). */
	uint64_t seen_at[LINE_SEEN_MAX], seen_end[LINE_SEEN_MAX];
	/* The end of the line of the last generic rule's hit (buffer
	 * offset of its newline, or the region's end). */
	size_t gen_le, region;
	int gen_le_set;
	struct dw_buf dec;	/* the %-decoded line */
	size_t *map, map_alloc; /* decoded index -> raw index */
	/* The line `dec` is of (decoded once for all of its rules; NULL
	 * at each region), and whether it had escapes. */
	const char *dec_p;
	size_t dec_n;
	int dec_any;
	dw_finding_cb cb;
	void *ctx;
	int stop;
	/* Per rule of file names: whether this scan's input has one of its
	 * names (dw_scan_name() sets `name_next`, dw_scan_begin() takes
	 * it, the end of the scan drops it). */
	unsigned char *name_ok, *name_next;
	int name_any;		      /* some rule's name_ok is set */
	const unsigned *cur_pat_rule; /* of the database being scanned */
	/*
	 * Where the next "-----END " is, for multi-line rules: found at
	 * end_at (absolute; END_NONE: none in [end_from, end_to)). Blocks
	 * are looked up in increasing order, so every byte is searched once
	 * however many BEGIN lines there are (a file of them was quadratic).
	 */
	uint64_t end_from, end_to, end_at;
	int end_known;
	/* The per-file time budget (dw_scan_set_budget), CLOCK_MONOTONIC. */
	long long budget_ms, deadline_ms;
	long long hard_deadline_ms; /* dw_scanner_set_deadline(), or 0 */
	int timed_out;
};

#define END_NONE UINT64_MAX

int eng_cmp_str(const void *a, const void *b);

#endif
