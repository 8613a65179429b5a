#ifndef DW_MONITOR_H
#define DW_MONITOR_H

#include <jansson.h>
#include <stddef.h>

#include "driftwatch/engine.h"
#include "store.h"
#include "leak.h"
#include "coverage.h"
#include "policy.h"

/*
 * Why a container is rescanned, weakest first: the stronger reason wins
 * when several are pending. The name is stored with each event.
 */
enum dw_rescan_source {
	DW_RESCAN_WATCH,    /* inotify named paths */
	DW_RESCAN_POLL,	    /* a container without a full set of watches */
	DW_RESCAN_PERIODIC, /* the safety rescan (rescan_interval) */
	DW_RESCAN_FULL,	    /* start, reload, overflow, a runtime event */
};

/* "watch", "poll", "periodic", "rescan". */
const char *dw_rescan_source_name(enum dw_rescan_source s);

/*
 * The live monitor: every watched container's upper dir under recursive
 * inotify watches. An event only marks its container dirty; once the
 * container has been quiet for debounce_ms (or dirty for max_delay_ms)
 * the diff engine recomputes its changes, which are compared with the
 * last known set in memory, and only what differs is written to the
 * store, in one transaction. So the store always holds exactly what
 * `driftwatch diff` (and `docker diff`) reports, whatever inotify missed:
 * events only decide when to look.
 */

struct dw_monitor;

/* What the monitor needs to know of a container. */
struct dw_watch_spec {
	const char *id, *name, *image, *runtime;
	const char *upper;
	char *const *lowers; /* topmost first */
	size_t nlowers;
	const json_t *labels; /* an object, or NULL */
	int read_only;	      /* started --read-only */
	const char *mounts;   /* written outside the layers (or NULL) */
	int userxattr;	      /* an overlay mounted with userxattr */
	/* Runtime mount points: the directories the runtime made for them in
	 * the upper dir are not drift (ignore_runtime_mounts). */
	char *const *mount_points;
	size_t nmount_points;
};

/* Called after a rescan found a new critical change in container `id`. */
typedef void (*dw_critical_fn)(const char *id, const char *name, void *ctx);

/*
 * `store`, `policy` and `engine` (NULL: no secret scanning) stay the
 * caller's and must outlive the monitor (see dw_monitor_set_policy()).
 */
int dw_monitor_new(struct dw_monitor **out, struct dw_store *store,
		   const struct dw_policy *policy,
		   const struct dw_engine *engine);
void dw_monitor_free(struct dw_monitor *m);
void dw_monitor_set_policy(struct dw_monitor *m, const struct dw_policy *p,
			   const struct dw_engine *engine);
/* Each rescan analyses all it found in one turn, whatever
 * rescan_budget_ms (--once: nothing else waits, and it must end whole). */
void dw_monitor_unbudgeted(struct dw_monitor *m);
void dw_monitor_on_critical(struct dw_monitor *m, dw_critical_fn fn, void *ctx);
/* Secrets found in files written inside containers. */
void dw_monitor_on_leak(struct dw_monitor *m, dw_leak_fn fn, void *ctx);

/*
 * A container starts (`add` 1: its id, name, layers; `immutable` as the
 * policy decides) or stops being watched (`add` 0, the id alone): the
 * exec and writer watches mark it, and set its exec and writer facets
 * (dw_monitor_cover()).
 */
struct dw_exec_subject {
	const char *id, *name, *upper;
	char *const *lowers;
	size_t nlowers;
	int immutable;
};
typedef void (*dw_exec_hook)(struct dw_monitor *m,
			     const struct dw_exec_subject *s, int add,
			     void *ctx);
void dw_monitor_on_exec(struct dw_monitor *m, dw_exec_hook fn, void *ctx);

/*
 * Who made a change: the detail (JSON text, malloc'd; NULL: none) of the
 * event about to be recorded for `path` in container `id`, whose image
 * layers are `lowers`, made since `since_us` (CLOCK_MONOTONIC: the
 * container's previous rescan began, or the inotify queue was last read
 * empty before it, whichever is earlier: every change noted before it
 * was looked at) (writer attribution, the daemon's).
 * Its "process"
 * has "exe_image" true when its exe is image content of the container.
 * Called in the loop, once per event, and first with `path` NULL before a
 * rescan's events (returns NULL: what is queued is handled, and notes
 * from before `since_us` forgotten).
 */
typedef char *(*dw_writer_fn)(struct dw_monitor *m, const char *id,
			      char *const *lowers, size_t nlowers,
			      const void *path, size_t len, long long since_us,
			      void *ctx);
/* The details `fn` gave for container `id`'s rows were thrown away, the
 * rows not recorded (a turn over its budget, a failed compare or store):
 * the writers they named are lost (called with `ctx`). */
typedef void (*dw_writer_lost_fn)(struct dw_monitor *m, const char *id,
				  void *ctx);
void dw_monitor_on_writer(struct dw_monitor *m, dw_writer_fn fn,
			  dw_writer_lost_fn lost, void *ctx);

/* The inotify fd to poll for POLLIN. */
int dw_monitor_fd(const struct dw_monitor *m);
/* Read and handle what inotify has queued. */
void dw_monitor_read_events(struct dw_monitor *m);

/*
 * Watch a container (or refresh what is known of it), and rescan it
 * soon, marked `source`. Opted-out containers are skipped (returns 1).
 */
int dw_monitor_add(struct dw_monitor *m, const struct dw_watch_spec *s,
		   enum dw_rescan_source source);
/* A final rescan, then stop watching; the store says `state`. */
void dw_monitor_drop(struct dw_monitor *m, const char *id, const char *state);
int dw_monitor_has(const struct dw_monitor *m, const char *id);
void dw_monitor_rename(struct dw_monitor *m, const char *id, const char *name);
/* Every Docker (or, `docker` 0, every other) container not in `keep`
 * is dropped. */
void dw_monitor_keep_only(struct dw_monitor *m, int docker, char *const *keep,
			  size_t n, const char *state);
/*
 * Set a facet of container `id`'s coverage (coverage.h) from outside the
 * monitor (the log follower's facet); nothing when it is not watched.
 */
void dw_monitor_cover(struct dw_monitor *m, const char *id, enum dw_facet f,
		      enum dw_cover state, enum dw_cover_reason reason,
		      const char *detail);
/* Facet `f` of container `id` as last recorded (enum dw_cover), or -1. */
int dw_monitor_cover_state(struct dw_monitor *m, const char *id,
			   enum dw_facet f);

/*
 * dw_engine_redact_text() of the monitor's rules, the scan done in the
 * scanner process when there is one (the text is hostile: a file name).
 */
struct dw_buf;
struct dw_finding;
/* The monitor's scanner process (sandbox.h), or NULL. */
struct dw_sandbox;
struct dw_sandbox *dw_monitor_sandbox(const struct dw_monitor *m);
int dw_monitor_redact_text(struct dw_monitor *m, const char *text, size_t len,
			   const struct dw_finding *also, struct dw_buf *out);

/* Rescan every container soon, marked `source`. */
void dw_monitor_rescan_all(struct dw_monitor *m, enum dw_rescan_source source);

/*
 * Do the rescans that are due. Returns the milliseconds until the next
 * one is (-1: none pending).
 */
long dw_monitor_run(struct dw_monitor *m);

/* Counters and per-container state, for `driftwatch status`. */
json_t *dw_monitor_status(const struct dw_monitor *m);

#endif
