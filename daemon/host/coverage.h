#ifndef DW_COVERAGE_H
#define DW_COVERAGE_H

/*
 * The coverage model: what driftwatch can see of each container, facet
 * by facet. A container may limit what driftwatch sees of it, never
 * silently: every facet is monitored, degraded or unmonitored, with a
 * reason; the state is stored, shown by `driftwatch status`, and each
 * step down raises one critical alert, "evasion" when the container
 * caused it, "unmonitored" when the environment did.
 */

enum dw_facet {
	DW_FACET_FS,	  /* filesystem drift (the upper dir) */
	DW_FACET_WRITER,  /* who wrote (fanotify) */
	DW_FACET_EXEC,	  /* exec of drifted binaries (fanotify) */
	DW_FACET_LOGS,	  /* the container's logs */
	DW_FACET_SECRETS, /* secrets in written files */
	DW_FACET_COUNT,
};

enum dw_cover {
	DW_COVER_MONITORED,
	DW_COVER_DEGRADED,    /* seen in part: the reason says which part */
	DW_COVER_UNMONITORED, /* not seen at all */
};

/*
 * Why a facet is not monitored. The first ones are the container's doing
 * (an "evasion" alert), the others the environment's ("unmonitored").
 */
enum dw_cover_reason {
	DW_REASON_NONE,
	DW_REASON_DEPTH_LIMIT,	   /* a tree deeper than the walk goes */
	DW_REASON_WATCH_BUDGET,	   /* more directories than its watches */
	DW_REASON_FORGED_METADATA, /* overlay xattrs the kernel ignores */
	DW_REASON_PATH_LENGTH,	   /* a path too long to open */
	DW_REASON_SIZE_BUDGET,	   /* files or captures over a size budget */
	DW_REASON_UNREADABLE,	   /* its layer dirs cannot be read */
	DW_REASON_SCANNER_KILLED,  /* a file that kills the scanner */
	DW_REASON_BACKLOG,	   /* drifts faster than it is analysed */
	/* environment-caused from here on */
	DW_REASON_ENV_FIRST,
	DW_REASON_STORAGE_DRIVER = DW_REASON_ENV_FIRST,
	DW_REASON_LOG_DRIVER,
	DW_REASON_FANOTIFY_UNAVAILABLE,
	DW_REASON_WATCH_LIMIT, /* the host's inotify watches ran out */
	DW_REASON_MOUNTS,      /* tmpfs, volumes, bind mounts: not layers */
	DW_REASON_USERNS,      /* user-namespace remapped: untested */
	DW_REASON_DISABLED,    /* turned off in the configuration */
	DW_REASON_NOT_BUILT,   /* this driftwatch does not have it yet */
	DW_REASON_RUNTIME_UNRESPONSIVE, /* the runtime did not answer */
	DW_REASON_QUEUE_OVERFLOW, /* events lost (a kernel queue, a stall) */
	DW_REASON_COUNT,
};

/* "fs", "writer", "exec", "logs", "secrets". */
const char *dw_facet_name(enum dw_facet f);
/* "monitored", "degraded", "unmonitored". */
const char *dw_cover_name(enum dw_cover c);
/* "depth-limit", "watch-budget", ... ; "" for DW_REASON_NONE. */
const char *dw_cover_reason_name(enum dw_cover_reason r);
/* The alert kind of a step down: "evasion" or "unmonitored". */
const char *dw_cover_alert_kind(enum dw_cover_reason r);

struct dw_store;

/* The container a coverage change is about. */
struct dw_cover_subject {
	const char *id, *name, *image, *runtime;
};

/*
 * Record facet `f` of container `c` as `state` for `reason` (`detail`
 * says more: a path, a count; may be NULL). The first time a facet steps
 * down for this reason (kept in the store, so once across restarts and
 * however often it goes up and down), one critical alert is raised,
 * "evasion" or
 * "unmonitored"; facets turned off in the configuration or not built are
 * recorded without one. Returns 1 when that happened (the caller logs
 * it), 0 when nothing was new, a negative code when the store failed.
 */
int dw_coverage_set(struct dw_store *st, const struct dw_cover_subject *c,
		    enum dw_facet f, enum dw_cover state,
		    enum dw_cover_reason reason, const char *detail);

/*
 * A further reason the facet is down, besides the one recorded: alerted
 * once like any (one reason must not hide another), the facet's row
 * unchanged. Returns as dw_coverage_set().
 */
int dw_coverage_also(struct dw_store *st, const struct dw_cover_subject *c,
		     enum dw_facet f, enum dw_cover state,
		     enum dw_cover_reason reason, const char *detail);

#endif
