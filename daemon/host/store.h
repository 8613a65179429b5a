#ifndef DW_STORE_H
#define DW_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "driftwatch/overlay_diff.h"
#include <openssl/types.h>

#include "driftwatch/severity.h"
#include "coverage.h"
#include "docker.h"

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
/* A store in memory holding only the store at `path`'s history of swarm
 * secrets (swarm_secrets), for a process that may hold no descriptor of
 * the store itself (confine.h). */
int dw_store_swarm_history_copy(struct dw_store **out, const char *path);

/*
 * Writes of the monitor go inside one transaction per rescan: begin, put
 * the container, apply its changes, commit (or roll back on error).
 */
int dw_store_begin(struct dw_store *s);
int dw_store_commit(struct dw_store *s); /* rolls back on failure */
void dw_store_rollback(struct dw_store *s);
/* A transaction unless the caller is in one: `*own` says this one began
 * it, and dw_store_tx_leave() then commits it (rolls back on `err`). */
int dw_store_tx_enter(struct dw_store *s, int *own);
int dw_store_tx_leave(struct dw_store *s, int own, int err);

/* A container as the monitor records it. */
struct dw_store_container {
	const char *id, *name, *image;
	const char *runtime; /* "docker", or the runtime of a mount */
	const char *upper;
	const char *lowers;	       /* dw_lowerdir_join()ed, topmost first */
	const char *labels;	       /* a JSON object's text, or NULL */
	const char *state;	       /* "running", "stopped", "removed" */
	const char *host_root;	       /* the dirs are named under it */
	uint64_t upper_dev, upper_ino; /* the upper dir's identity, or 0 */
};

int dw_store_put_container(struct dw_store *s,
			   const struct dw_store_container *c);
/* The layer dirs recorded for a container. */
struct dw_store_dirs {
	char *upper, *lowers; /* lowers as dw_lowerdir_join() made them */
	char *host_root;      /* the root they were named under ("/") */
	uint64_t upper_dev, upper_ino; /* 0: not recorded */
	long long last_seen;
};

/*
 * The layer dirs recorded for container `id` (as dw_store_put_container()
 * got them). DW_ENOTFOUND when the store has no such container. Release
 * with dw_store_dirs_release().
 */
int dw_store_container_dirs(struct dw_store *s, const char *id,
			    struct dw_store_dirs *d);
void dw_store_dirs_release(struct dw_store_dirs *d);
int dw_store_set_container_state(struct dw_store *s, const char *id,
				 const char *state);

/* One row of a container's current changes, or one that went away. */
struct dw_change_row {
	const void *path; /* raw bytes */
	size_t path_len;
	char kind;     /* A, C, D; R: no longer drifted (dropped) */
	uint32_t mode; /* st_mode, or the S_IFMT bits only */
	const struct dw_change_meta *meta; /* NULL for D and R */
	const char *sha256;  /* hex, or NULL (not a file, too big) */
	int executable, elf; /* 0 or 1; -1 when not known */
	enum dw_severity severity;
	const char *detail; /* its event's detail (JSON: who), or NULL */
};

/*
 * Record `rows` as container `cid`'s new or updated (A, C, D) and dropped
 * (R) current changes and append one event each, at `time_us`
 * (microseconds since the epoch), marked with `source` ("watch",
 * "rescan", "poll", ...). Call inside dw_store_begin()/commit().
 */
int dw_store_apply_changes(struct dw_store *s, const char *cid,
			   const struct dw_change_row *rows, size_t n,
			   const char *source, long long time_us);

typedef int (*dw_row_fn)(const struct dw_change_row *r, void *ctx);
/* The current changes of container `cid` (exact id), sorted by path. */
int dw_store_load_changes(struct dw_store *s, const char *cid, dw_row_fn cb,
			  void *ctx);

/*
 * Probes of container `cid`'s current changes, for the monitor's rescans
 * of one directory (paths are raw bytes, compared bytewise, "/a/b"):
 * is there one with lo < path < hi (lo <= path with `lo_incl`)? 1, 0,
 * or an error.
 */
int dw_store_has_change_in(struct dw_store *s, const char *cid, const char *lo,
			   size_t lolen, int lo_incl, const char *hi,
			   size_t hilen);
/* ... at `path` (`subtree` 0), or below the directory `path` (1)? */
int dw_store_has_change(struct dw_store *s, const char *cid, const char *path,
			size_t len, int subtree);
/*
 * The changes below directory `dir` ("" for the root), sorted by path,
 * leaving out those below the directories `skip` (sorted bytewise): one
 * seek past each, not a read of what it holds.
 */
int dw_store_load_below(struct dw_store *s, const char *cid, const char *dir,
			size_t len, char *const *skip, size_t nskip,
			dw_row_fn cb, void *ctx);
/* The change at `path`, if there is one (`cb` called once). */
int dw_store_load_at(struct dw_store *s, const char *cid, const char *path,
		     size_t len, dw_row_fn cb, void *ctx);
/* How many with lo < path < hi, counted up to `limit`. */
int dw_store_count_in(struct dw_store *s, const char *cid, const char *lo,
		      size_t lolen, const char *hi, size_t hilen, size_t limit,
		      size_t *count);
/* How many current changes `cid` has (-1: an error). */
long long dw_store_count_changes(struct dw_store *s, const char *cid);

/* A secret found by the daemon (redacted; the fingerprint names it). */
struct dw_finding_record {
	const char *source_id; /* a container id, or "log:GLOB", ... */
	const void *path;      /* the file, raw bytes */
	size_t path_len;
	const char *source; /* a DW_SOURCE_* name (driftwatch/sources.h) */
	const char *rule, *severity, *fingerprint, *redacted;
	unsigned long long line;
	const char *cluster, *role, *status; /* swarm secrets, or NULL */
	/* a stale one of this swarm: when it was current (0: not known),
	 * and who ended it ("driftwatch", "elsewhere"), or NULL */
	long long valid_from, valid_until;
	const char *rotated_by;
	int once_per_source; /* a fingerprint once per source_id, not
				once per path */
};

/* Is it known already (its fingerprint in this source, or at this path)? */
int dw_store_finding_known(struct dw_store *s,
			   const struct dw_finding_record *r);
/* Record it unless known; `*is_new` says which. */
int dw_store_add_finding(struct dw_store *s, const struct dw_finding_record *r,
			 int *is_new);

/*
 * The coverage of one facet of a container (coverage.h): recorded as it
 * changes; `since` keeps the time the state and reason began. `*news` is
 * 1 when the stored state or reason was another (or none), across
 * restarts: what to say once. dw_coverage_set() is the one caller.
 */
int dw_store_set_coverage(struct dw_store *s, const char *cid, const char *name,
			  enum dw_facet facet, enum dw_cover state,
			  enum dw_cover_reason reason, const char *detail,
			  int *news);

struct dw_coverage_row {
	const char *container_id, *name, *facet, *state, *reason, *detail;
	long long since;
};

/* Return non-zero to stop (that value is returned). */
typedef int (*dw_coverage_fn)(const struct dw_coverage_row *r, void *ctx);

/*
 * Is this the first time container `cid`'s facet is down for `reason`?
 * `*first` says; recorded either way (alerts go once per reason, also
 * when the state goes up and down again).
 */
int dw_store_coverage_first(struct dw_store *s, const char *cid,
			    enum dw_facet facet, enum dw_cover_reason reason,
			    int *first);

/* A removed container's coverage is history, not state: drop it (its
 * backlog is dropped apart: a wedged container's record goes when it
 * stops, its backlog only when it is removed). */
int dw_store_forget_coverage(struct dw_store *s, const char *cid);

/*
 * Container `cid`'s turns fell behind its drift (monitor_int.h: backlog):
 * `detail` says how, kept with the time it was first set, so a daemon or
 * container restart says it again until a round ends with nothing left
 * (then NULL: cleared).
 */
int dw_store_set_backlog(struct dw_store *s, const char *cid,
			 const char *detail);
/* The backlog recorded for `cid` (`*detail` the caller frees; `*since`
 * Unix seconds), or DW_ENOTFOUND. */
int dw_store_get_backlog(struct dw_store *s, char **detail, long long *since,
			 const char *cid);

/*
 * Every facet's coverage of container `cid` (exact id; NULL: all), of
 * running containers and of those never watched (storage driver).
 */
int dw_store_coverage(struct dw_store *s, const char *cid, dw_coverage_fn cb,
		      void *ctx);

/* Where a followed file was read up to (DW_ENOTFOUND: never, or it is
 * another file now). */
int dw_store_get_offset(struct dw_store *s, const char *path,
			unsigned long long dev, unsigned long long ino,
			long long *offset, unsigned long long *line);
int dw_store_put_offset(struct dw_store *s, const char *path,
			unsigned long long dev, unsigned long long ino,
			long long offset, unsigned long long line);

/*
 * Where the journal entries of `source` (a container) were read up to:
 * the cursor of the last one and how many were read (DW_ENOTFOUND when
 * none were; the caller frees `*cursor`).
 */
int dw_store_get_cursor(struct dw_store *s, const char *source, char **cursor,
			unsigned long long *entries);
int dw_store_put_cursor(struct dw_store *s, const char *source,
			const char *cursor, unsigned long long entries);

/* The daemon's status document (JSON text), written as it runs. */
int dw_store_put_status(struct dw_store *s, const char *doc);
/* DW_ENOTFOUND when no daemon wrote one yet; the caller frees `*doc`. */
int dw_store_get_status(struct dw_store *s, char **doc, long long *pid,
			long long *updated);

/* One snapshot in the chain of custody. */
struct dw_snapshot_record {
	const char *container_id, *container_name;
	const char *path; /* absolute */
	const char *archive_sha256, *evidence_sha256;
	const char *reason;	   /* may be NULL */
	const char *operator_name; /* who took it */
	const char *host;
	int paused;
	const char *statement_sha256; /* "sha256:…" of PATH.intoto.jsonl,
					 or NULL: not signed */
};

/* Record it, and a "snapshot" alert carrying the digests. */
int dw_store_record_snapshot(struct dw_store *s,
			     const struct dw_snapshot_record *r);
/* When `operator_name` last snapshotted container `cid` (0: never). */
long long dw_store_last_snapshot(struct dw_store *s, const char *cid,
				 const char *operator_name);

/*
 * A rotation of a swarm secret (fingerprints only, never the secret), and
 * a "rotation" alert.
 */
/*
 * This swarm's `role` ("worker", "manager", "unlock-key") secret is
 * `fingerprint` now. When another was current, it ends now, ended by
 * `ended_by` ("driftwatch": a rotation of ours; "elsewhere": one we only
 * saw). `since`: when it began (0: not known, it was current before
 * driftwatch saw it). Fingerprints only, never the secret.
 */
int dw_store_swarm_secret_seen(struct dw_store *s, const char *swarm_id,
			       const char *role, const char *fingerprint,
			       const char *ended_by, long long since);
/*
 * What the store knows of a secret by its fingerprint: {swarm_id, role,
 * valid_from, valid_until, rotated_by} (caller decrefs), or NULL.
 */
#include <jansson.h>
json_t *dw_store_swarm_secret_find(struct dw_store *s, const char *fingerprint);

int dw_store_record_rotation(struct dw_store *s, const char *swarm_id,
			     const char *what, const char *before,
			     const char *after, const char *reason);

/* A drift event (or, for dw_store_current(), a current change). */
struct dw_event {
	long long time;
	const char *container_id;
	const char *container_name;
	const void *path; /* raw bytes, not NUL-terminated */
	size_t path_len;
	const char *kind; /* A, D, C; R for reverted; X for an exec */
	const char *source;
	const char *severity;
	long long time_us;  /* 0 when not recorded (older stores) */
	const char *detail; /* JSON (an exec's process, action) or NULL */
	const char *sha256; /* the file's, where known, or NULL */
};

/*
 * What was written through one store handle since it was opened (for
 * metrics: counters that start at zero with the process).
 */
#define DW_STORE_KINDS "ADCRX"
struct dw_store_counts {
	unsigned long long events[5][5]; /* DW_STORE_KINDS x dw_severity */
	unsigned long long findings[5];	 /* new ones, by dw_severity */
	struct {
		char kind[32];
		unsigned long long n;
	} alerts[32]; /* by kind, the first 32 kinds seen */
	size_t nalerts;
};
void dw_store_counts(const struct dw_store *s, struct dw_store_counts *out);

/* Per sink: alerts not delivered yet, and of those how many failed at
 * least once. `cb` returns nonzero to stop. */
typedef int (*dw_sink_count_fn)(const char *sink, long long pending,
				long long failing, void *ctx);
int dw_store_delivery_counts(struct dw_store *s, dw_sink_count_fn cb,
			     void *ctx);

/*
 * An exec of a file that is not image content (kind X, source
 * "fanotify"): `path` in the container, the file's `sha256` (NULL: not
 * hashed), `detail` a JSON object (the process, its parents, the action
 * taken), chained into the container's events.
 */
int dw_store_record_exec(struct dw_store *s, const char *cid, const char *path,
			 enum dw_severity sev, const char *sha256,
			 const char *detail, long long time_us);

struct dw_event_query {
	const char *container; /* name, id or unique id prefix; NULL: all */
	long long since;       /* epoch seconds */
	const char *kind;      /* "A", "D", "C", "R", "X"; NULL: all */
	int min_severity;      /* an enum dw_severity; 0: all */
	/* Kubernetes: the containers of pods in this namespace, of pods of
	 * this name (both from the io.kubernetes.pod.* labels); NULL: all. */
	const char *k8s_namespace;
	const char *k8s_pod;
};

/* Return non-zero to stop (that value is returned). */
typedef int (*dw_event_fn)(const struct dw_event *ev, void *ctx);

/* Events in the order they happened. DW_ENOTFOUND: no such container. */
int dw_store_events(struct dw_store *s, const struct dw_event_query *q,
		    dw_event_fn cb, void *ctx);

/* A container the store knows (dw_store_containers()). */
struct dw_container_row {
	const char *id, *name, *image, *runtime, *state;
	const char *labels; /* a JSON object */
	long long first_seen, last_seen;
	long long drift; /* its current changes */
};

typedef int (*dw_container_fn)(const struct dw_container_row *r, void *ctx);

/*
 * The containers in the store, running first then by name; the stopped
 * and removed too when `all`. `k8s_namespace` (NULL: any) keeps those of
 * pods in that namespace.
 */
int dw_store_containers(struct dw_store *s, int all, const char *k8s_namespace,
			dw_container_fn cb, void *ctx);

/* The current changes of a container, sorted by path (docker diff). */
int dw_store_current(struct dw_store *s, const char *container, dw_event_fn cb,
		     void *ctx);

/*
 * The alert outbox. An alert is kept until every sink that was known when
 * it was raised (or that was first seen before it) has taken it, across
 * restarts; a delivery is marked done the moment its sink said 2xx.
 * `payload` must hold no secret in clear.
 */
#include <jansson.h>
int dw_store_alert(struct dw_store *s, const char *kind, const char *summary,
		   const json_t *payload);

/*
 * Rate limits (DESIGN: nothing a container does may flood the sinks):
 * alerts of one kind about one subject (a container, a followed source;
 * the payload's "source_id", "id", "source" or "path") pass `burst` at
 * once and `per_minute` after that (a token bucket); `burst` 0 turns
 * this off. What exceeds it is not recorded one by one but counted, and
 * dw_store_alert_flush() records one "rate-limited" alert per kind and
 * subject saying how many and since when (the drift, findings and
 * coverage themselves are in the store). Heartbeats, rotations,
 * snapshots and the summaries themselves are never limited.
 */
void dw_store_set_alert_limit(struct dw_store *s, long burst, long per_minute);
/*
 * Record the summaries of what was held back for 10 s or more (`all`:
 * of everything held back, as when the daemon stops). Returns how many.
 */
int dw_store_alert_flush(struct dw_store *s, int all);
/*
 * Each held-back alert is counted in the store until its summary is
 * recorded: at start, the counts a killed daemon left are summarised
 * (said so). Returns how many summaries.
 */
int dw_store_alert_recover(struct dw_store *s);

/*
 * Retention: events, alerts (with their deliveries) and findings older
 * than `max_age_s` (0: any age), and beyond the newest `max_rows` of
 * each table (0: no cap), and of findings and events beyond the newest
 * tenth of that of one container, are deleted, at most 20,000 rows a
 * statement (`more` says to call again); the newest row of each table
 * stays. The current drift (changes), snapshots, rotations and coverage
 * never are. Chains lose only their oldest rows; their new bases are
 * signed with `k` (when not NULL, as `host`) in the same transaction, a
 * checkpoint: a prune whose signing fails is not made.
 */
struct dw_prune {
	long long pruned;      /* rows deleted */
	long long undelivered; /* alerts deleted before a sink took them */
	int more;	       /* a chunk was full: call again soon */
};
int dw_store_prune(struct dw_store *s, long long max_age_s, long long max_rows,
		   EVP_PKEY *k, const char *host, struct dw_prune *out);

struct dw_alert {
	long long id;
	const char *sink;
	long long created;
	const char *kind;
	const char *summary;
	const char *payload; /* JSON text */
};

/*
 * Send one alert: 0 when the sink took it; < 0 (and `why` filled) to
 * retry it later; > 0 to stop delivering now, recording nothing.
 */
typedef int (*dw_deliver_fn)(const struct dw_alert *a, char *why,
			     size_t why_size, void *ctx);

/*
 * Make `sinks` known, each from now on (a sink seen for the first time
 * does not get the alerts raised before). Call before raising alerts.
 */
int dw_store_register_sinks(struct dw_store *s, const char *const *sinks,
			    size_t n);

/*
 * At most `cap` undelivered alerts are kept per sink (0: no cap): past
 * it, planning drops the oldest and raises one "outbox-dropped" alert
 * that counts them and names the sink by its origin.
 */
void dw_store_set_outbox_cap(struct dw_store *s, long long cap);

/* Deliver what is due to `sinks` (URLs); `*sent` counts successes. */
int dw_store_deliver(struct dw_store *s, const char *const *sinks, size_t n,
		     dw_deliver_fn send, void *ctx, size_t *sent);

/*
 * The feed (store_feed.c): every row of events, findings and alerts, for
 * the outputs of driftwatch.yaml, each reading from a cursor of its own
 * (the last id it took of each table), kept in the store.
 */
enum { DW_FEED_EVENTS, DW_FEED_FINDINGS, DW_FEED_ALERTS, DW_FEED_N };
/* "events", "findings", "alerts". */
const char *dw_feed_table(int t);

struct dw_feed_row {
	int table; /* DW_FEED_* */
	long long id;
	/* Seconds; microseconds where the table keeps them (events),
	 * else the second's last one (findings and alerts, which follow
	 * the events of their second that caused them). */
	long long time, time_us;
	/* The row's own fields (as `events --format json` has them for a
	 * drift event; a finding's; an alert's kind, summary and data),
	 * with its container's name, image and labels where known. */
	json_t *doc;
};
/* 0: taken; DW_FEED_FULL: not taken, the read ends before it (a batch
 * is full); other: an error, which ends the read and is returned. */
typedef int (*dw_feed_fn)(const struct dw_feed_row *r, void *ctx);
#define DW_FEED_FULL 1

/* Output `output`'s cursor; one seen for the first time starts at the
 * newest rows (it takes the feed from now on), recorded. */
int dw_store_feed_cursor(struct dw_store *s, const char *output,
			 long long at[DW_FEED_N]);
/* Move it forward (never back), and end its batch. */
int dw_store_feed_save(struct dw_store *s, const char *output,
		       const long long at[DW_FEED_N]);
/* Output `output` is about to write a batch to its file (`dev`, `ino`)
 * from offset `off`: kept until dw_store_feed_save() moves its cursor. */
int dw_store_feed_batch(struct dw_store *s, const char *output, long long off,
			long long dev, long long ino);
/* The batch it was writing when it stopped; DW_ENOTFOUND: none. */
int dw_store_feed_batch_get(struct dw_store *s, const char *output,
			    long long *off, long long *dev, long long *ino);
/* Rows past `at`, all tables. */
int dw_store_feed_pending(struct dw_store *s, const long long at[DW_FEED_N],
			  long long *pending);
/*
 * Up to `max` rows of each table past `after`, to `cb` in the order they
 * happened (each table's in id order). `last` gets the id of each
 * table's last row taken (the new cursor once the caller has
 * them safe), `missing` how many ids were skipped before it: rows that
 * retention deleted before this output took them. `cb`'s nonzero return
 * stops the read and is returned.
 */
int dw_store_feed_read(struct dw_store *s, const long long after[DW_FEED_N],
		       size_t max, dw_feed_fn cb, void *ctx,
		       long long last[DW_FEED_N], long long missing[DW_FEED_N]);

/*
 * Tamper evidence (driftwatch-verify(1)). The rows of events, findings,
 * snapshots and rotations are hash-chained as they are written: one
 * chain per container (or source) for events and findings, one each for
 * snapshots and rotations. A chain's head (its last row) and base (the
 * last row retention deleted) are kept for every chain ever written.
 */
struct dw_buf;

#define DW_HEADS_TYPE "urn:driftwatch:chain-heads:v1"
#define DW_HEADS_PAYLOAD_TYPE "application/vnd.driftwatch.chain-heads+json"

/* Every chain's head and base now, as a document (caller decrefs):
 * {_type, host, time, root, rows, chains: [{table, key, base_seq,
 * base_hash, seq, id, hash}]}. */
int dw_store_heads(struct dw_store *s, const char *host, json_t **out);
/* That document in a DSSE envelope signed with `k` (caller decrefs). */
json_t *dw_store_heads_sign(EVP_PKEY *k, json_t *doc);
/*
 * Sign the heads with `k` when they changed since the last signature (or
 * DW_SIGN_FORCE): kept in the store (the last 16) and raised as a
 * "chain-head" alert carrying the root and the envelope's digest, for the
 * outputs to hold off this host. `*signed_now` says whether it was
 * signed. DW_ERROR (nothing signed) when a head is not its chain's last
 * row, or a head of the newest signature (k's) is not in its chain.
 */
#define DW_SIGN_FORCE 1u    /* sign even when unchanged */
#define DW_SIGN_SAME_KEY 2u /* not when the newest is another key's */
int dw_store_sign_heads(struct dw_store *s, EVP_PKEY *k, const char *host,
			unsigned flags, int *signed_now);

struct dw_chain_check {
	long long chains, rows, problems;
	long long stored;	 /* signatures in the store */
	long long signed_docs;	 /* of them, verified with the key */
	long long docs;		 /* signed documents used: those, anchors */
	long long expected;	 /* heads from those documents */
	long long matched;	 /* found as signed */
	long long pruned_since;	 /* signed heads retention deleted since */
	long long last_signed;	 /* when the store last signed (0: never) */
	long long unsigned_rows; /* written after the newest signature */
};

/*
 * Walk every chain: rehash each row, follow it from its base to its
 * recorded head, and look for every head of the store's signed documents
 * and of `anchors` (DSSE envelopes of heads exported earlier, named by
 * `names`) in it; signatures checked with `pub` (NULL: not checked).
 * Problems go to `report`, one per line, with table, chain, row id and
 * position. 0: intact; DW_ERROR: a problem; DW_EIO: unreadable (or
 * not a store's tables); DW_EINVAL: anchors and no key. When
 * `heads` is not NULL and the store is intact, it gets the heads walked
 * (dw_store_heads(), read in the same transaction; caller decrefs).
 */
/* A store kept (partly) with signing off: chain bases past the newest
 * signature are retention's, not said. */
#define DW_CHAIN_ALLOW_UNSIGNED 1u
int dw_store_verify_chains(struct dw_store *s, EVP_PKEY *pub,
			   json_t *const *anchors, const char *const *names,
			   size_t nanchors, unsigned flags,
			   struct dw_buf *report, struct dw_chain_check *out,
			   json_t **heads);

#endif
