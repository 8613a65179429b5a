#ifndef DW_LOGWATCH_H
#define DW_LOGWATCH_H

#include <stddef.h>
#include <stdint.h>

#include "driftwatch/engine.h"
#include "store.h"
#include "leak.h"

/*
 * Live sources of the secret engine: log files (globs), Docker's
 * json-file container logs, and drop directories where Slack exports and
 * mail land. New content is scanned as it arrives (inotify on the
 * directories), rotation by rename and by truncation is followed, and
 * rotated `.gz` files are scanned once. Where each file was read up to is
 * kept in the store, so a restart resumes there.
 */

struct dw_drop_dir {
	char *path;
	char *kind; /* slack, mail, files */
};

struct dw_logwatch;

int dw_logwatch_new(struct dw_logwatch **out, struct dw_store *store,
		    dw_leak_fn fn, void *ctx);
void dw_logwatch_free(struct dw_logwatch *w);
/* Poll it for POLLIN. */
int dw_logwatch_fd(const struct dw_logwatch *w);

/*
 * (Re)configure: `globs` of log files (a glob in the last component
 * only), drop dirs, the engine to scan with (NULL: nothing is scanned)
 * and the size cap for files scanned whole. Files already followed stay
 * followed where they are.
 */
/*
 * The scanner process that reads followed lines (plain text and Docker's
 * json-file; the local format is still read here), or NULL.
 */
struct dw_sandbox;
void dw_logwatch_set_sandbox(struct dw_logwatch *w, struct dw_sandbox *sb);
void dw_logwatch_configure(struct dw_logwatch *w, char *const *globs,
			   size_t nglobs, const struct dw_drop_dir *drops,
			   size_t ndrops, const struct dw_engine *engine,
			   uint64_t max_file_size);

/*
 * Follow a container's log (and its rotations): json-file lines, or
 * Docker's local format (the `local` driver, the dual-logging cache).
 */
void dw_logwatch_add_container(struct dw_logwatch *w, const char *id,
			       const char *name, const char *log_path,
			       int local_format);
void dw_logwatch_remove_container(struct dw_logwatch *w, const char *id);

/*
 * Follow Kubernetes' pod logs under `root` (/var/log/pods as this host
 * sees it; NULL or "": no more): `<ns>_<pod>_<uid>/<container>/N.log` in
 * CRI format, pods and containers as they come and go, rotated files
 * read once; findings name the pod ("ns/pod/container", source id
 * "pod:<uid>/<container>"). Returns 1 when it is followed, 0 when there
 * is no such directory (nothing to follow: the caller says so).
 */
int dw_logwatch_pod_logs(struct dw_logwatch *w, const char *root);
/* Stop following the logs of containers not in `ids`. */
void dw_logwatch_keep_containers(struct dw_logwatch *w, char *const *ids,
				 size_t n);

/*
 * An open private key or .netrc entry (its lines are held to be read
 * again with what follows) is held this long at most, counted in raw
 * log bytes from its first line; past it, it is let go and said.
 */
#define DW_LOG_KEY_HOLD_MAX (128u << 10)

/*
 * Records of another source (a container's journal entries, made CRI
 * lines by the caller) scanned as followed lines are, in the scanner
 * process when there is one: findings told with `source_id`, `name`,
 * `display` as their path and `kind` as their source, line numbers
 * from `line_base`; what the scanner fails on is said as for a file.
 * Returns where the lines of a private key or .netrc entry still open
 * at the end begin (the start of a line in `data`), or `len`: the
 * caller gives them again with what follows.
 */
size_t dw_logwatch_scan_records(struct dw_logwatch *w, const char *source_id,
				const char *name, const char *display,
				const char *kind, const char *data, size_t len,
				uint64_t line_base);

/* Handle what inotify queued. */
void dw_logwatch_read_events(struct dw_logwatch *w);
/* Now and then (the daemon's loop): files renamed away or deleted 10 s
 * ago and not replaced are read to their end and closed. */
void dw_logwatch_tick(struct dw_logwatch *w);
/*
 * Each followed file is read at most 4 MiB a loop turn: the rest of
 * those that had more is read by this, once a turn. Returns 1 when some
 * still have more (the caller comes back at once, without waiting).
 */
int dw_logwatch_continue(struct dw_logwatch *w);

/* Files followed, for `status`. */
size_t dw_logwatch_count(const struct dw_logwatch *w);

#endif
