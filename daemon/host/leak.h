#ifndef DW_LEAK_H
#define DW_LEAK_H

#include <stddef.h>

#include <jansson.h>

#include "driftwatch/engine.h"
#include "driftwatch/sources.h"
#include "store.h"
#include "swarm.h"

/*
 * The one leak response of `driftwatch scan --respond` and driftwatchd:
 * a leaked secret of this host's swarm is attributed and rotated
 * (dw_leak_rotate), any other secret is handed to the operator's own
 * program (dw_leak_run_command), with one JSON document and one timeout.
 */

/*
 * Where a secret was found. `source` is a DW_SOURCE_* name; `source_id`
 * groups findings (a container id, "log:GLOB", "drop:DIR", or NULL for a
 * scan); `name` is a container's name or NULL.
 */
struct dw_leak_src {
	const char *source_id;
	const char *name;
	const void *path; /* the file, raw bytes */
	size_t path_len;
	const char *source;
	int once_per_source; /* report a secret once per source_id */
	json_t *fields;	     /* borrowed; extra fields (commit, stream) */
};

/* `f->secret` is valid during the call only. */
typedef void (*dw_leak_fn)(const struct dw_finding *f,
			   const struct dw_leak_src *src, void *ctx);

/* How long the operator's program may run, stdin included. */
#define DW_LEAK_COMMAND_TIMEOUT_S 30

/*
 * The document the operator's program reads on its stdin, one JSON
 * object: "rule", "severity", "secret" (in clear, so that it can be
 * revoked), "fingerprint", "source", "path" (UTF-8, invalid bytes as
 * U+FFFD), "line", "column", "source_id" and "name" when known, then
 * `src->fields`. The caller owns the result.
 */
json_t *dw_leak_command_doc(const struct dw_finding *f,
			    const struct dw_leak_src *src);

/*
 * Run `argv` (never through a shell; see dw_run_command()) with
 * dw_leak_command_doc() on its stdin, for at most `timeout_s` seconds
 * (0: DW_LEAK_COMMAND_TIMEOUT_S). 0 when it exited 0, else DW_ERROR with a
 * message that says how it ended.
 */
int dw_leak_run_command(char *const *argv, int timeout_s,
			const struct dw_finding *f,
			const struct dw_leak_src *src);

/*
 * Rotate `what` of the swarm the manager `d` leads (`dry_run`: only read
 * the current fingerprint into `rot->before`) and record the rotation in
 * `st` (may be NULL) with `reason`. Returns 0 when rotated; DW_ESTORE
 * when rotated but not recorded (`*rot` is set then too); another
 * negative code when nothing was rotated.
 */
int dw_leak_rotate(struct dw_docker *d, struct dw_store *st,
		   enum dw_swarm_secret what, int dry_run, const char *reason,
		   struct dw_rotation *rot);

/*
 * Keep `*scanner` a scanner of `engine` (NULL: none) as the configuration
 * changes; `*current` is the engine it was made for.
 */
static inline void dw_scanner_track(struct dw_scanner **scanner,
				    const struct dw_engine **current,
				    const struct dw_engine *engine)
{
	if (engine == *current)
		return;
	dw_scanner_free(*scanner);
	*scanner = NULL;
	*current = engine;
	if (engine && dw_scanner_new(scanner, engine))
		*scanner = NULL;
	/* The monitoring path never waits long on one file or log. */
	if (*scanner)
		dw_scanner_set_budget(*scanner, 2000);
}

#endif
