#ifndef DW_MONITOR_INT_H
#define DW_MONITOR_INT_H

/*
 * The parts of the live monitor, internal to driftwatchd:
 *   monitor.c          the containers and the monitor's life cycle
 *   monitor_watch.c    inotify watches; events mark paths dirty
 *   monitor_rescan.c   a rescan: diff, compare with the store, record
 *   monitor_analyse.c  a changed file: hash, ELF check, secrets
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <search.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "driftwatch/buf.h"
#include "driftwatch/overlay_diff.h"
#include "driftwatch/error.h"
#include "driftwatch/escape.h"
#include "driftwatch/json.h"
#include "log.h"
#include "driftwatch/xmalloc.h"
#include "coverage.h"
#include "mounts.h"
#include "sandbox.h"
#include "monitor.h"

/* IN_CLOSE_WRITE: a write through a shared mapping makes no IN_MODIFY;
 * its file's close (or last unmap) is the one event it makes. */
#define WATCH_MASK                                                             \
	(IN_CREATE | IN_DELETE | IN_MODIFY | IN_CLOSE_WRITE | IN_ATTRIB |      \
	 IN_MOVED_FROM | IN_MOVED_TO | IN_DELETE_SELF | IN_MOVE_SELF |         \
	 IN_ONLYDIR | IN_EXCL_UNLINK)

#define WATCH_KNOB "/proc/sys/fs/inotify/max_user_watches"
/* add_watch(): the container has as many watches as its budget. */
#define WATCH_OVER_BUDGET 1

struct container;

/* Paths noted between two rescans; sorted before they are looked up. */
struct pathset {
	char **v;
	size_t n, alloc;
	size_t bytes;
	int overflow; /* more than PATHSET_MAX(_BYTES): rescan whole */
};

#define PATHSET_MAX 65536
#define PATHSET_MAX_BYTES ((size_t)64 << 20)

struct watch {
	int wd;
	struct container *c;
	char *rel; /* "" for the upper dir, else "a/b" */
};

struct container {
	char *id, *name, *image, *runtime, *upper, *lowers_joined;
	char **lowers;
	size_t nlowers;
	json_t *labels;
	int immutable;
	int read_only;

	int dirty;
	enum dw_rescan_source source; /* of the pending rescan */
	long long dirty_since, last_event, not_before, next_poll;
	int rewatch;	 /* directory paths may be stale */
	int polling;	 /* no complete set of watches */
	int over_budget; /* polled: its own watch budget, not the host's */
	int broken;	 /* its dirs could not be read */
	int recorded;	 /* the store has its current name, labels */

	/*
	 * Its current changes are in the store alone, not in memory: a
	 * container with a million drifted files costs the daemon what
	 * changed, not what drifted. `nchanges` counts them (`counted`:
	 * read from the store once).
	 */
	long long nchanges;
	int counted;
	/*
	 * What inotify said since the last rescan, as "/a/b" paths (the
	 * upper dir is ""): the entries events named, and the directories
	 * whose whole subtree must be walked again. With `walked` (a full
	 * walk in this process recorded the store's changes) and no `full`,
	 * only the directories that hold them are walked, and compared with
	 * the store there (monitor_rescan.c).
	 */
	struct pathset ents, deep;
	int walked, full;
	/*
	 * A rescan records what its time budget (rescan_budget_ms) let it
	 * analyse, in path order from `resume` round to where it stopped;
	 * the next turn, a whole walk, goes on from there. So a container
	 * that drifts a million files holds the others up a budget at a
	 * time, and one that keeps rewriting its first files cannot keep
	 * the last from being looked at. `pending`: what was left.
	 */
	char *resume;
	size_t resume_len;
	long long pending;
	unsigned long long cut; /* rescans the budget cut short */
	/*
	 * A round: the turns from `round_from` round to it again, begun at
	 * `round_us` (wall clock). An entry born after it (statx btime,
	 * else ctime: the kernel's clocks, which a container cannot set
	 * back) waits for the next round, so files made faster than a turn
	 * analyses them cannot keep the cursor from coming round.
	 */
	long long round_us;
	char *round_from;
	size_t round_from_len;
	/*
	 * A round that ended with more entries left (made or changed
	 * during it, wherever their names sort) than it began with: the
	 * container drifts faster than its turns analyse it, and what it makes
	 * is recorded ever later. Said (the fs facet degraded, "backlog") until
	 * a round ends with nothing left. `round_n`: what the current round
	 * began with, `round_rows` what it analysed; `backlog`: what the last
	 * round left, `backlog_of`, `backlog_rows` and `backlog_ms` the round's
	 * figures then.
	 */
	long long round_n, round_rows;
	long long backlog, backlog_of, backlog_rows, backlog_ms;
	/* Set by a round's end, applied once its rows are stored (a
	 * failed store leaves a cleared backlog as it was). */
	int backlog_changed;
	/* The backlog the store kept from before driftwatchd or the
	 * container restarted (its detail, and since when: Unix seconds),
	 * said until a round ends with nothing left: a restart does not
	 * make a container that outruns its turns look monitored. */
	char *backlog_carried;
	long long backlog_carried_since;

	size_t nwatches;
	unsigned long long rescans, events;
	unsigned long long whole; /* rescans that walked the whole tree */
	long long last_change;	  /* wall clock, microseconds */
	/* When its last rescan began (CLOCK_MONOTONIC, microseconds): the
	 * notes of writer attribution older than that are not a change's. */
	long long rescan_began_us;
	long long last_cost_ms;

	/* What limits the fs facet (see mon_fs_coverage()). */
	char *mounts;	     /* written outside the layers, or NULL */
	char **mount_points; /* the runtime's, its dirs not drift */
	size_t nmount_points;
	int userxattr; /* DW_DIFF_USERXATTR */
	size_t forged; /* overlay metadata the kernel ignores */
	char *forged_at;
	size_t truncated;   /* directories too deep to walk */
	char *truncated_at; /* the first, escaped */
	size_t truncated_depth;
	char *broken_why; /* why the last rescan failed */

	unsigned also_alerted; /* further fs reasons alerted (1 << reason) */

	/* The coverage model, as last recorded (coverage.h). */
	struct {
		int known;
		enum dw_cover state;
		enum dw_cover_reason reason;
		char *detail;
	} cover[DW_FACET_COUNT];

	struct container *next;
};

struct dw_monitor {
	int ifd;
	void *wds; /* tsearch tree of struct watch */
	struct container *list;
	struct dw_store *store;
	const struct dw_policy *pol;
	const struct dw_engine *engine;
	struct dw_scanner *scanner;
	/* The scanner process for files written in containers (sandbox.h),
	 * for `sandbox_engine`; NULL: scanned here (said at start). */
	struct dw_sandbox *sandbox;
	const struct dw_engine *sandbox_engine;
	dw_critical_fn on_critical;
	void *critical_ctx;
	dw_leak_fn on_leak;
	void *leak_ctx;
	dw_exec_hook on_exec;
	void *exec_ctx;
	dw_writer_fn on_writer;
	dw_writer_lost_fn on_writer_lost;
	void *writer_ctx;
	/* When the inotify queue was last read empty (monotonic us, taken
	 * before that read): every change made before it is in what was
	 * read. A rescan of the entries named looked at nothing later. */
	long long drained_us;
	int limit_stuck; /* max_user_watches cannot be raised */
	long watch_limit_orig, watch_limit_set; /* the host's, and ours */
	unsigned long long overflows, rescans, inotify_events, errors;
	int unbudgeted;	      /* dw_monitor_unbudgeted() */
	long long last_event; /* wall clock, microseconds */
	long long next_full;
	/* How long rescans took: counts per bucket (not cumulative) of
	 * MON_RESCAN_BUCKETS' upper bounds in ms, the last one +Inf. */
	unsigned long long rescan_le[12];
	long long rescan_ms_sum;
};

#define MON_RESCAN_BUCKETS 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000
void mon_observe_rescan(struct dw_monitor *m, long long ms);

struct rescan {
	struct dw_monitor *m;
	struct container *c;
	struct dw_change_row *rows; /* their sha256 strings are ours */
	size_t nrows, alloc;
	size_t added, updated, reverted, notable, critical, total;
	enum dw_severity worst;
	long long since_us; /* the previous rescan began (monotonic) */
	/* Past it (CLOCK_MONOTONIC, ms), the rows stop being analysed:
	 * `over` is set after the first row that ends past it. */
	long long deadline_ms;
	int over;
	long long walk_us; /* the walk began (wall clock) */
};

long long mon_mono_ms(void);
long long mon_mono_us(void);
long long mon_wall_us(void);
void mon_drop_watch(struct dw_monitor *m, struct watch *w);
int mon_open_beneath(int root, const char *rel, int flags);
long mon_read_long(const char *path);
void mon_watch_from(struct dw_monitor *m, struct container *c, const char *rel);
void mon_pathset_sort(struct pathset *s);
void mon_pathset_clear(struct pathset *s);
void mon_pathset_release(struct pathset *s);
int mon_subtree_unchanged(const char *path, size_t len, void *ctx);
int mon_entry_unchanged(const char *path, size_t len, void *ctx);
void mon_mark_dirty(struct container *c, enum dw_rescan_source source,
		    long long now);
int mon_analyse_file(struct rescan *r, const char *path, char **sha256);
int mon_cmp_str(const void *a, const void *b); /* of char *s */

/* A change found (kind: A, C, D; R: gone) becomes a row of `r`. */
void mon_add_row(struct rescan *r, const struct dw_changeset *cs,
		 const struct dw_change *ch, char kind);
/* The rows that turn `old` into `cur` (both sorted). */
void mon_compare_sets(struct rescan *r, const struct dw_changeset *old,
		      const struct dw_changeset *cur);
void mon_cs_push(struct dw_changeset *cs, const struct dw_change_row *row);
/* A full walk `cur` against the store's rows, read in order; `gone`
 * holds those no longer there (the rows point into it). */
int mon_compare_store(struct rescan *r, const struct dw_changeset *cur,
		      struct dw_changeset *gone);
/* Forget the round of cut turns: the next whole walk starts one, at the
 * top (after its turn could not be stored, say). */
void mon_round_reset(struct container *c);
/*
 * A rescan of the directories inotify named (monitor_sparse.c): walked
 * first (`seen` gets what they could not trust or reach), compared with
 * the store after writer attribution caught up. mon_rescan_sparse()
 * returns 1 when the whole tree must be walked instead.
 */
struct sparse;
int mon_rescan_sparse(struct rescan *r, struct sparse **sp,
		      struct dw_changeset *seen);
int mon_sparse_compare(struct rescan *r, struct sparse *sp);
/* In the transaction, once the rows so far are written: the C of the
 * named directories and those above, deepest first, each row written
 * as it is decided (the store answers what is left below). */
int mon_sparse_chain(struct rescan *r, struct sparse *sp, const char *source,
		     long long now);
void mon_sparse_free(struct sparse *sp);
/* Is `path` or a directory above it to be walked whole? */
int mon_under_deep(const struct container *c, const char *path, size_t len);
void mon_rescan_container(struct dw_monitor *m, struct container *c);

/* The fs facet of `c` from what limits it now, worst first. */
void mon_fs_coverage(struct dw_monitor *m, struct container *c);

/* Set facet `f` of `c` (coverage.h); a step down is logged and alerted
 * once. */
void mon_cover(struct dw_monitor *m, struct container *c, enum dw_facet f,
	       enum dw_cover state, enum dw_cover_reason reason,
	       const char *detail);

/* Open `rel` below `root`, whatever its length (monitor_watch.c). */
int mon_open_rel(int root, const char *rel, int flags);

/* Remove every watch of `c`. */
void mon_unwatch(struct dw_monitor *m, struct container *c);
/* Put fs.inotify.max_user_watches back if driftwatchd raised it. */
void mon_restore_watch_limit(struct dw_monitor *m);

#endif
