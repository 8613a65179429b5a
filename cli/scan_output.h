#ifndef DW_SCAN_OUTPUT_H
#define DW_SCAN_OUTPUT_H

#include <jansson.h>
#include <stdio.h>

#include "driftwatch/engine.h"
#include "driftwatch/sources.h"

enum scan_format { SCAN_TEXT, SCAN_JSON, SCAN_JSONL, SCAN_SARIF };

/* Collects findings and writes them in the chosen format (to stdout). */
struct scan_out {
	enum scan_format fmt;
	int show_secrets;
	int color;
	FILE *to; /* stdout unless changed after scan_out_init() */
	const struct dw_engine *engine;
	struct dw_scanner *redactor; /* for fields that hold a secret */
	json_t *all;		     /* json and sarif: results so far */
	size_t count;
	/*
	 * What could not be read, for SARIF's
	 * run.invocations[].toolExecutionNotifications: an array of
	 * {level, text}, or NULL. Owned.
	 */
	json_t *notes;
	int incomplete; /* executionSuccessful: false */
	/*
	 * What was read and what was not, as counts (json: "summary",
	 * SARIF: the invocation's properties). Owned.
	 */
	json_t *summary;
};

/* Add a notification (SARIF level "warning" or "note"). */
void scan_out_note(struct scan_out *o, const char *level, const char *text);
/* Add `n` to count `key` of the summary. */
void scan_out_count(struct scan_out *o, const char *key, size_t n);

void scan_out_init(struct scan_out *o, enum scan_format fmt, int show,
		   int color, const struct dw_engine *e);
/*
 * Report one finding (text and jsonl are written at once). `redacted`,
 * when not NULL, is the shown form of a secret that is not at hand
 * (f->secret is NULL: a finding from the scan cache).
 */
int scan_out_add(struct scan_out *o, const struct dw_finding *f,
		 const struct dw_source *src, const char *redacted);
/* Write what was collected (json, sarif) and release. 0 or -1 (write). */
int scan_out_finish(struct scan_out *o);

/*
 * The JSON record of a finding: rule, severity, path, line, column,
 * source, secret (redacted unless `show`), fingerprint, and the source's
 * own fields.
 */
json_t *scan_finding_json(const struct dw_finding *f,
			  const struct dw_source *src, int show,
			  const char *redacted);

#endif
