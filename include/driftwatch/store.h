#ifndef DW_STORE_H
#define DW_STORE_H

#include <stddef.h>

#include "driftwatch/diff.h"
#include "driftwatch/docker.h"

/*
 * The state and history store (SQLite in WAL mode): the only user of
 * SQLite. The file is created 0600 in a 0700 directory.
 */

#define DW_STORE_DEFAULT_PATH "/var/lib/driftwatch/driftwatch.db"

struct dw_store;

/*
 * Open (creating and migrating when `readonly` is 0) the store at `path`.
 * Returns 0, DW_EIO (cannot create or open), DW_EUNSUPPORTED (a schema
 * newer than this build knows).
 */
int dw_store_open(struct dw_store **out, const char *path, int readonly);
/* Close; NULL is a no-op. */
void dw_store_close(struct dw_store *s);

struct dw_sync_stats {
	size_t added;		/* paths that were not drifted before */
	size_t updated;		/* paths whose kind or metadata changed */
	size_t reverted;	/* paths no longer drifted */
	size_t total;		/* current drifted paths */
};

/*
 * Make the store's current changes of container `c` equal `cs`, appending
 * one event per added, updated or reverted path, marked with `source`
 * ("scan", "rescan", ...). All or nothing (one transaction).
 */
int dw_store_sync_container(struct dw_store *s,
			    const struct dw_container_layers *c,
			    const struct dw_changeset *cs, const char *source,
			    struct dw_sync_stats *stats);

/* One snapshot in the chain of custody. */
struct dw_snapshot_record {
	const char *container_id, *container_name;
	const char *path;		/* absolute */
	const char *archive_sha256, *evidence_sha256;
	const char *reason;		/* may be NULL */
	const char *operator_name;	/* who took it */
	const char *host;
	int paused;
};

int dw_store_add_snapshot(struct dw_store *s,
			  const struct dw_snapshot_record *r);

/* A rotation of a swarm secret: fingerprints only, never the secret. */
int dw_store_add_rotation(struct dw_store *s, const char *swarm_id,
			  const char *what, const char *before,
			  const char *after, const char *reason);

/* A drift event (or, for dw_store_current(), a current change). */
struct dw_event {
	long long time;
	const char *container_id;
	const char *container_name;
	const void *path;	/* raw bytes, not NUL-terminated */
	size_t path_len;
	const char *kind;	/* A, D, C; R for reverted */
	const char *source;
};

struct dw_event_query {
	const char *container;	/* name, id or unique id prefix; NULL: all */
	long long since;	/* epoch seconds */
	const char *kind;	/* "A", "D", "C", "R"; NULL: all */
};

/* Return non-zero to stop (that value is returned). */
typedef int (*dw_event_fn)(const struct dw_event *ev, void *ctx);

/* Events in the order they happened. DW_ENOTFOUND: no such container. */
int dw_store_events(struct dw_store *s, const struct dw_event_query *q,
		    dw_event_fn cb, void *ctx);

/* The current changes of a container, sorted by path (docker diff). */
int dw_store_current(struct dw_store *s, const char *container,
		     dw_event_fn cb, void *ctx);

/*
 * The alert outbox. An alert is kept until every sink that was known when
 * it was raised (or that was first seen before it) has taken it, across
 * restarts; a delivery is marked done the moment its sink said 2xx.
 * `payload` must hold no secret in clear.
 */
#include <jansson.h>
int dw_store_alert(struct dw_store *s, const char *kind, const char *summary,
		   const json_t *payload);

struct dw_alert {
	long long id;
	const char *sink;
	long long created;
	const char *kind;
	const char *summary;
	const char *payload;	/* JSON text */
};

/* Send one alert; 0 when the sink took it, else fill `why`. */
typedef int (*dw_deliver_fn)(const struct dw_alert *a, char *why,
			     size_t why_size, void *ctx);

/*
 * Make `sinks` known, each from now on (a sink seen for the first time
 * does not get the alerts raised before). Call before raising alerts.
 */
int dw_store_register_sinks(struct dw_store *s, const char *const *sinks,
			    size_t n);

/* Deliver what is due to `sinks` (URLs); `*sent` counts successes. */
int dw_store_deliver(struct dw_store *s, const char *const *sinks, size_t n,
		     dw_deliver_fn send, void *ctx, size_t *sent);

#endif
