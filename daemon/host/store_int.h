#ifndef DW_STORE_INT_H
#define DW_STORE_INT_H

/*
 * The parts of the store, internal to the host library (SQLite is used in
 * these files and nowhere else):
 *   store.c          opening, schema and migrations, transactions,
 *                    containers, followed-file offsets, status
 *   store_drift.c    current changes and their history (events)
 *   store_leaks.c    findings and swarm rotations
 *   store_custody.c  snapshots (chain of custody)
 *   store_outbox.c   alerts and their delivery
 */
#include <errno.h>
#include <libgen.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "driftwatch/buf.h"
#include "driftwatch/error.h"
#include "store.h"
#include "driftwatch/xmalloc.h"

struct st_limit; /* store_outbox.c: alerts per kind and subject */

struct dw_store {
	sqlite3 *db;
	struct st_limit *limit; /* NULL: every alert is recorded */
	long long outbox_cap;	/* undelivered alerts kept per sink (0: all) */
	struct st_dropped *dropped; /* per sink: dropped, not yet told */
	size_t ndropped, dropped_alloc;
};

void st_limit_free(struct st_limit *l);
/* The counts of dropped alerts not said yet: due ones (`all`: all). */
void st_tell_dropped(struct dw_store *s, int all);

struct st_dropped {
	char *url;
	long long untold;
	long long told_at; /* time(NULL) of its last outbox-dropped alert */
};

int st_db_error(struct dw_store *s, const char *what);
int st_prepare(struct dw_store *s, sqlite3_stmt **st, const char *sql);
int st_step_done(struct dw_store *s, sqlite3_stmt *st, const char *what);
sqlite3_int64 st_mtime_ns(const struct dw_change_meta *m);

#endif
