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
 *   store_feed.c     the feed of every row for the outputs, their cursors
 *   store_chain.c    hash chains over the history, their signed heads
 *   store_verify.c   walking the chains (verify --store)
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

/* The chained tables (store_chain.c), in this order. */
enum { ST_EVENTS, ST_FINDINGS, ST_SNAPSHOTS, ST_ROTATIONS, ST_NCHAINED };

struct dw_store {
	sqlite3 *db;
	struct st_limit *limit; /* NULL: every alert is recorded */
	long long outbox_cap;	/* undelivered alerts kept per sink (0: all) */
	struct st_dropped *dropped; /* per sink: dropped, not yet told */
	size_t ndropped, dropped_alloc;
	/* store_chain.c's statements, prepared once */
	sqlite3_stmt *chain_add[ST_NCHAINED], *chain_get, *chain_put;
	/* store_drift.c's probes of the current changes, prepared once */
	sqlite3_stmt *probe[3];
	struct dw_store_counts counts; /* written through this handle */
};

/* Count an event of `kind` (A, D, C, R, X) and severity name `sev`. */
void st_count_event(struct dw_store *s, char kind, const char *sev);

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
/* `*st` reset for another use, or prepared the first time. */
int st_cached(struct dw_store *s, sqlite3_stmt **st, const char *sql);
sqlite3_int64 st_mtime_ns(const struct dw_change_meta *m);

/*
 * Hash chains (store_chain.c). A chained row is written inside a
 * transaction: load its chain's head, insert the row, add it by its
 * rowid, save the head. st_chain_one() does the three for one row.
 */
struct st_chain {
	int t;	   /* ST_EVENTS ... */
	char *key; /* the container or source; "" for one-chain tables */
	long long base_seq, seq, id;
	unsigned char base_hash[32], hash[32];
	int dirty;
};
int st_chain_register(struct dw_store *s); /* the SQL function */
/* dw_chain_hash(table, seq, prev, column...) on another connection (the
 * unit test's attacker, who knows the algorithm: it is no secret). */
int st_chain_register_db(sqlite3 *db);
void st_chain_finalize(struct dw_store *s);
int st_chain_load(struct dw_store *s, int t, const char *key,
		  struct st_chain *c);
int st_chain_add(struct dw_store *s, struct st_chain *c, long long rowid);
int st_chain_save(struct dw_store *s, struct st_chain *c);
void st_chain_release(struct st_chain *c);
int st_chain_one(struct dw_store *s, int t, const char *key, long long rowid);
int st_chain_backfill(struct dw_store *s);
const char *st_chain_table(int t);
const char *st_chain_keycol(int t);
const char *st_chain_cols(int t);
const char *st_chain_what(int t);

/* A transaction of its own unless the caller is in one. */

/* Retention: the last deleted row of each chain, its new base. */
struct st_pruned {
	struct st_pruned_chain {
		int t;
		char *key;
		long long seq;
		unsigned char hash[32];
	} * v;
	size_t n, alloc;
};
void st_pruned_note(struct st_pruned *p, int t, const char *key, long long seq,
		    const void *hash, int hash_len);
int st_pruned_apply(struct dw_store *s, struct st_pruned *p);
void st_pruned_release(struct st_pruned *p);

/* The root of a heads document's chains: SHA-256 over each, in order. */
void st_heads_root(json_t *chains, char out[72]);

#endif
