/* The SQLite store: schema, migrations and the container sync. */
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
#include "driftwatch/store.h"
#include "driftwatch/xmalloc.h"
#include "driftwatch/banned.h"

struct dw_store {
	sqlite3 *db;
};

/* Each entry migrates the schema from version i to i + 1. */
static const char *const migrations[] = {
	"CREATE TABLE containers ("
	"  id TEXT PRIMARY KEY, name TEXT NOT NULL, image TEXT NOT NULL,"
	"  runtime TEXT NOT NULL, upper_dir TEXT NOT NULL,"
	"  lower_dirs TEXT NOT NULL,"
	"  first_seen INTEGER NOT NULL, last_seen INTEGER NOT NULL);"
	"CREATE TABLE changes ("
	"  container_id TEXT NOT NULL REFERENCES containers(id),"
	"  path BLOB NOT NULL, kind TEXT NOT NULL, type TEXT NOT NULL,"
	"  mode INTEGER, uid INTEGER, gid INTEGER, size INTEGER,"
	"  mtime_ns INTEGER, first_seen INTEGER NOT NULL,"
	"  last_seen INTEGER NOT NULL, seen INTEGER NOT NULL DEFAULT 1,"
	"  PRIMARY KEY (container_id, path)) WITHOUT ROWID;"
	"CREATE TABLE events ("
	"  id INTEGER PRIMARY KEY, time INTEGER NOT NULL,"
	"  container_id TEXT NOT NULL, path BLOB NOT NULL,"
	"  kind TEXT NOT NULL, source TEXT NOT NULL);"
	"CREATE INDEX events_container_time ON events(container_id, time);",
	/* 2: the chain of custody of snapshots */
	"CREATE TABLE snapshots ("
	"  id INTEGER PRIMARY KEY, time INTEGER NOT NULL,"
	"  container_id TEXT NOT NULL, container_name TEXT NOT NULL,"
	"  path TEXT NOT NULL, archive_sha256 TEXT NOT NULL,"
	"  evidence_sha256 TEXT NOT NULL, reason TEXT,"
	"  operator TEXT NOT NULL, host TEXT NOT NULL,"
	"  paused INTEGER NOT NULL);",
	/* 3: rotations of leaked swarm secrets (fingerprints only) */
	"CREATE TABLE rotations ("
	"  id INTEGER PRIMARY KEY, time INTEGER NOT NULL,"
	"  swarm_id TEXT NOT NULL, what TEXT NOT NULL,"
	"  before_fingerprint TEXT NOT NULL,"
	"  after_fingerprint TEXT NOT NULL, reason TEXT);",
	/* 4: the alert outbox: events, and their delivery to each sink */
	"CREATE TABLE alerts (id INTEGER PRIMARY KEY, created INTEGER NOT NULL,"
	"  kind TEXT NOT NULL, summary TEXT NOT NULL, payload TEXT NOT NULL);"
	"CREATE TABLE sinks (url TEXT PRIMARY KEY, since_id INTEGER NOT NULL);"
	"CREATE TABLE deliveries (alert_id INTEGER NOT NULL, sink TEXT NOT NULL,"
	"  attempts INTEGER NOT NULL DEFAULT 0,"
	"  next_try INTEGER NOT NULL DEFAULT 0, delivered INTEGER,"
	"  last_error TEXT, PRIMARY KEY (alert_id, sink)) WITHOUT ROWID;",
};

static int db_error(struct dw_store *s, const char *what)
{
	return dw_error_set(DW_EIO, "store: %s: %s", what,
			    sqlite3_errmsg(s->db));
}

static int exec(struct dw_store *s, const char *sql)
{
	if (sqlite3_exec(s->db, sql, NULL, NULL, NULL) != SQLITE_OK)
		return db_error(s, "statement failed");
	return 0;
}

static int user_version(struct dw_store *s, int *v)
{
	sqlite3_stmt *st;
	int rc = sqlite3_prepare_v2(s->db, "PRAGMA user_version", -1, &st,
				    NULL);

	if (rc != SQLITE_OK)
		return db_error(s, "cannot read schema version");
	*v = sqlite3_step(st) == SQLITE_ROW ? sqlite3_column_int(st, 0) : 0;
	sqlite3_finalize(st);
	return 0;
}

static int migrate(struct dw_store *s)
{
	int n = (int)(sizeof(migrations) / sizeof(migrations[0]));
	char pragma[64];
	int v = 0;
	int err = user_version(s, &v);

	if (err)
		return err;
	if (v > n)
		return dw_error_set(DW_EUNSUPPORTED,
				    "store schema version %d is newer than "
				    "this driftwatch (%d)", v, n);
	for (; v < n; v++) {
		snprintf(pragma, sizeof(pragma), "PRAGMA user_version=%d",
			 v + 1);
		err = exec(s, "BEGIN IMMEDIATE");
		if (!err)
			err = exec(s, migrations[v]);
		if (!err)
			err = exec(s, pragma);
		if (!err)
			err = exec(s, "COMMIT");
		if (err) {
			sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
			return err;
		}
	}
	return 0;
}

static int make_private_dir(const char *path)
{
	char *copy = dw_xstrdup(path);
	char *dir = dirname(copy);
	int err = 0;

	if (mkdir(dir, 0700) < 0 && errno != EEXIST)
		err = dw_error_errno(DW_EIO, errno,
				     "store: cannot create directory %s", dir);
	free(copy);
	return err;
}

int dw_store_open(struct dw_store **out, const char *path, int readonly)
{
	struct dw_store *s = dw_xcalloc(1, sizeof(*s));
	int flags = readonly ? SQLITE_OPEN_READONLY :
			       SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE;
	mode_t old_mask;
	int rc, err = 0;

	if (!readonly)
		err = make_private_dir(path);
	if (err)
		goto fail;
	old_mask = umask(077);
	rc = sqlite3_open_v2(path, &s->db, flags | SQLITE_OPEN_NOFOLLOW, NULL);
	umask(old_mask);
	if (rc != SQLITE_OK) {
		err = dw_error_set(DW_EIO, "store: cannot open %s: %s", path,
				   s->db ? sqlite3_errmsg(s->db) :
					   "out of memory");
		goto fail;
	}
	sqlite3_busy_timeout(s->db, 5000);
	if (!readonly) {
		err = exec(s, "PRAGMA journal_mode=WAL");
		if (!err)
			err = exec(s, "PRAGMA synchronous=NORMAL");
		if (!err)
			err = migrate(s);
	}
	if (err)
		goto fail;
	*out = s;
	return 0;
fail:
	dw_store_close(s);
	return err;
}

void dw_store_close(struct dw_store *s)
{
	if (!s)
		return;
	sqlite3_close(s->db);
	free(s);
}

static int upsert_container(struct dw_store *s,
			    const struct dw_container_layers *c, sqlite3_int64 now)
{
	static const char sql[] =
		"INSERT INTO containers VALUES (?1,?2,?3,?4,?5,?6,?7,?7) "
		"ON CONFLICT(id) DO UPDATE SET name=?2, image=?3, "
		"upper_dir=?5, lower_dirs=?6, last_seen=?7";
	struct dw_buf lowers = DW_BUF_INIT;
	sqlite3_stmt *st;
	size_t i;
	int rc;

	for (i = 0; i < c->nlowers; i++)
		dw_buf_addf(&lowers, "%s%s", i ? ":" : "", c->lowers[i]);
	if (sqlite3_prepare_v2(s->db, sql, -1, &st, NULL) != SQLITE_OK) {
		dw_buf_release(&lowers);
		return db_error(s, "cannot prepare container upsert");
	}
	sqlite3_bind_text(st, 1, c->id, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, c->name, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, c->image, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 4, "docker", -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 5, c->upper, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 6, lowers.ptr, (int)lowers.len, SQLITE_STATIC);
	sqlite3_bind_int64(st, 7, now);
	rc = sqlite3_step(st);
	sqlite3_finalize(st);
	dw_buf_release(&lowers);
	return rc == SQLITE_DONE ? 0 : db_error(s, "cannot record container");
}

struct sync_stmts {
	sqlite3_stmt *get, *put, *event;
};

static void finalize_stmts(struct sync_stmts *q)
{
	sqlite3_finalize(q->get);
	sqlite3_finalize(q->put);
	sqlite3_finalize(q->event);
}

static int prepare_stmts(struct dw_store *s, struct sync_stmts *q)
{
	static const char get[] =
		"SELECT kind, mode, uid, gid, size, mtime_ns FROM changes "
		"WHERE container_id=?1 AND path=?2";
	static const char put[] =
		"INSERT INTO changes VALUES (?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,"
		"?10,1) ON CONFLICT(container_id, path) DO UPDATE SET "
		"kind=?3, type=?4, mode=?5, uid=?6, gid=?7, size=?8, "
		"mtime_ns=?9, last_seen=?10, seen=1";
	static const char event[] =
		"INSERT INTO events(time, container_id, path, kind, source) "
		"VALUES (?1,?2,?3,?4,?5)";

	memset(q, 0, sizeof(*q));
	if (sqlite3_prepare_v2(s->db, get, -1, &q->get, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(s->db, put, -1, &q->put, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(s->db, event, -1, &q->event, NULL) != SQLITE_OK) {
		finalize_stmts(q);
		return db_error(s, "cannot prepare statements");
	}
	return 0;
}

static int add_event(struct dw_store *s, sqlite3_stmt *st, sqlite3_int64 now,
		     const char *cid, const void *path, size_t len,
		     const char *kind, const char *source)
{
	int rc;

	sqlite3_reset(st);
	sqlite3_bind_int64(st, 1, now);
	sqlite3_bind_text(st, 2, cid, -1, SQLITE_STATIC);
	sqlite3_bind_blob(st, 3, path, (int)len, SQLITE_STATIC);
	sqlite3_bind_text(st, 4, kind, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 5, source, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	return rc == SQLITE_DONE ? 0 : db_error(s, "cannot append event");
}

static sqlite3_int64 mtime_ns(const struct dw_change_meta *m)
{
	return (sqlite3_int64)m->mtime_sec * 1000000000 + m->mtime_nsec;
}

/* Is the stored row different from change `c` (metadata `m` or NULL)? */
static int row_differs(sqlite3_stmt *get, const struct dw_change *c,
		       const struct dw_change_meta *m)
{
	const char *kind = (const char *)sqlite3_column_text(get, 0);

	if (!kind || kind[0] != c->kind)
		return 1;
	if (!m)
		return 0;
	return sqlite3_column_int64(get, 1) != c->mode ||
	       sqlite3_column_int64(get, 2) != m->uid ||
	       sqlite3_column_int64(get, 3) != m->gid ||
	       sqlite3_column_int64(get, 4) != m->size ||
	       sqlite3_column_int64(get, 5) != mtime_ns(m);
}

static int put_change(struct dw_store *s, struct sync_stmts *q,
		      const char *cid, const struct dw_changeset *cs,
		      const struct dw_change *c, sqlite3_int64 now,
		      const char *source, struct dw_sync_stats *stats)
{
	const char *path = dw_change_path(cs, c);
	const struct dw_change_meta *m = c->has_meta ? &cs->meta[c - cs->v] :
						       NULL;
	char kind[2] = { c->kind, '\0' };
	int rc, existed, differs = 1;

	sqlite3_reset(q->get);
	sqlite3_bind_text(q->get, 1, cid, -1, SQLITE_STATIC);
	sqlite3_bind_blob(q->get, 2, path, (int)c->path_len, SQLITE_STATIC);
	rc = sqlite3_step(q->get);
	existed = rc == SQLITE_ROW;
	if (existed)
		differs = row_differs(q->get, c, m);
	sqlite3_reset(q->put);
	sqlite3_bind_text(q->put, 1, cid, -1, SQLITE_STATIC);
	sqlite3_bind_blob(q->put, 2, path, (int)c->path_len, SQLITE_STATIC);
	sqlite3_bind_text(q->put, 3, kind, -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(q->put, 4, dw_file_type_name(c->mode), -1,
			  SQLITE_STATIC);
	for (rc = 5; rc <= 9; rc++)
		sqlite3_bind_null(q->put, rc);
	if (m) {
		sqlite3_bind_int64(q->put, 5, c->mode);
		sqlite3_bind_int64(q->put, 6, m->uid);
		sqlite3_bind_int64(q->put, 7, m->gid);
		sqlite3_bind_int64(q->put, 8, m->size);
		sqlite3_bind_int64(q->put, 9, mtime_ns(m));
	}
	sqlite3_bind_int64(q->put, 10, now);
	if (sqlite3_step(q->put) != SQLITE_DONE)
		return db_error(s, "cannot record change");
	stats->total++;
	if (!differs)
		return 0;
	if (existed)
		stats->updated++;
	else
		stats->added++;
	return add_event(s, q->event, now, cid, path, c->path_len, kind,
			 source);
}

/* Record and drop the changes that the latest scan no longer saw. */
static int drop_reverted(struct dw_store *s, const char *cid,
			 sqlite3_int64 now, const char *source,
			 struct dw_sync_stats *stats)
{
	static const char ev[] =
		"INSERT INTO events(time, container_id, path, kind, source) "
		"SELECT ?1, container_id, path, 'R', ?3 FROM changes "
		"WHERE container_id=?2 AND seen=0";
	static const char del[] =
		"DELETE FROM changes WHERE container_id=?1 AND seen=0";
	sqlite3_stmt *st;
	int rc;

	if (sqlite3_prepare_v2(s->db, ev, -1, &st, NULL) != SQLITE_OK)
		return db_error(s, "cannot prepare revert");
	sqlite3_bind_int64(st, 1, now);
	sqlite3_bind_text(st, 2, cid, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, source, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE)
		return db_error(s, "cannot record reverted changes");
	stats->reverted = (size_t)sqlite3_changes(s->db);
	if (sqlite3_prepare_v2(s->db, del, -1, &st, NULL) != SQLITE_OK)
		return db_error(s, "cannot prepare revert");
	sqlite3_bind_text(st, 1, cid, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	sqlite3_finalize(st);
	return rc == SQLITE_DONE ? 0 : db_error(s, "cannot drop changes");
}

static int mark_unseen(struct dw_store *s, const char *cid)
{
	sqlite3_stmt *st;
	int rc;

	if (sqlite3_prepare_v2(s->db,
			       "UPDATE changes SET seen=0 WHERE container_id=?1",
			       -1, &st, NULL) != SQLITE_OK)
		return db_error(s, "cannot prepare update");
	sqlite3_bind_text(st, 1, cid, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	sqlite3_finalize(st);
	return rc == SQLITE_DONE ? 0 : db_error(s, "cannot update changes");
}

int dw_store_sync_container(struct dw_store *s,
			    const struct dw_container_layers *c,
			    const struct dw_changeset *cs, const char *source,
			    struct dw_sync_stats *stats)
{
	struct dw_sync_stats st = { 0, 0, 0, 0 };
	struct sync_stmts q;
	sqlite3_int64 now = (sqlite3_int64)time(NULL);
	size_t i;
	int err = exec(s, "BEGIN IMMEDIATE");

	if (err)
		return err;
	err = prepare_stmts(s, &q);
	if (err)
		goto out;
	err = upsert_container(s, c, now);
	if (!err)
		err = mark_unseen(s, c->id);
	for (i = 0; !err && i < cs->n; i++)
		err = put_change(s, &q, c->id, cs, &cs->v[i], now, source, &st);
	if (!err)
		err = drop_reverted(s, c->id, now, source, &st);
	finalize_stmts(&q);
out:
	if (!err)
		err = exec(s, "COMMIT");
	if (err)
		sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
	else
		*stats = st;
	return err;
}

int dw_store_add_snapshot(struct dw_store *s, const struct dw_snapshot_record *r)
{
	static const char sql[] =
		"INSERT INTO snapshots(time, container_id, container_name, "
		"path, archive_sha256, evidence_sha256, reason, operator, "
		"host, paused) VALUES (?1,?2,?3,?4,?5,?6,?7,?8,?9,?10)";
	sqlite3_stmt *st;
	int rc;

	if (sqlite3_prepare_v2(s->db, sql, -1, &st, NULL) != SQLITE_OK)
		return db_error(s, "cannot prepare snapshot record");
	sqlite3_bind_int64(st, 1, (sqlite3_int64)time(NULL));
	sqlite3_bind_text(st, 2, r->container_id, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, r->container_name, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 4, r->path, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 5, r->archive_sha256, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 6, r->evidence_sha256, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 7, r->reason, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 8, r->operator_name, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 9, r->host, -1, SQLITE_STATIC);
	sqlite3_bind_int(st, 10, r->paused);
	rc = sqlite3_step(st);
	sqlite3_finalize(st);
	return rc == SQLITE_DONE ? 0 : db_error(s, "cannot record snapshot");
}

int dw_store_add_rotation(struct dw_store *s, const char *swarm_id,
			  const char *what, const char *before,
			  const char *after, const char *reason)
{
	static const char sql[] =
		"INSERT INTO rotations(time, swarm_id, what, before_fingerprint,"
		" after_fingerprint, reason) VALUES (?1,?2,?3,?4,?5,?6)";
	sqlite3_stmt *st;
	int rc;

	if (sqlite3_prepare_v2(s->db, sql, -1, &st, NULL) != SQLITE_OK)
		return db_error(s, "cannot prepare rotation record");
	sqlite3_bind_int64(st, 1, (sqlite3_int64)time(NULL));
	sqlite3_bind_text(st, 2, swarm_id, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, what, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 4, before, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 5, after, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 6, reason, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	sqlite3_finalize(st);
	return rc == SQLITE_DONE ? 0 : db_error(s, "cannot record rotation");
}

int dw_store_alert(struct dw_store *s, const char *kind, const char *summary,
		   const json_t *payload)
{
	static const char sql[] = "INSERT INTO alerts(created, kind, summary,"
				  " payload) VALUES (?1, ?2, ?3, ?4)";
	char *text = json_dumps(payload, JSON_COMPACT | JSON_PRESERVE_ORDER);
	sqlite3_stmt *st;
	int rc;

	if (sqlite3_prepare_v2(s->db, sql, -1, &st, NULL) != SQLITE_OK) {
		free(text);
		return db_error(s, "cannot prepare alert");
	}
	sqlite3_bind_int64(st, 1, (sqlite3_int64)time(NULL));
	sqlite3_bind_text(st, 2, kind, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, summary, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 4, text ? text : "{}", -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	sqlite3_finalize(st);
	free(text);
	return rc == SQLITE_DONE ? 0 : db_error(s, "cannot record alert");
}

static int exec_url(struct dw_store *s, const char *sql, const char *url)
{
	sqlite3_stmt *st;
	int rc;

	if (sqlite3_prepare_v2(s->db, sql, -1, &st, NULL) != SQLITE_OK)
		return db_error(s, "cannot prepare deliveries");
	sqlite3_bind_text(st, 1, url, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	sqlite3_finalize(st);
	return rc == SQLITE_DONE ? 0 : db_error(s, "cannot plan deliveries");
}

int dw_store_register_sinks(struct dw_store *s, const char *const *sinks,
			    size_t n)
{
	/* A sink gets the alerts raised from its first sight on. */
	static const char reg[] =
		"INSERT OR IGNORE INTO sinks VALUES (?1, "
		"(SELECT coalesce(max(id), 0) FROM alerts))";
	size_t i;
	int err = 0;

	for (i = 0; !err && i < n; i++)
		err = exec_url(s, reg, sinks[i]);
	return err;
}

static int plan_sink(struct dw_store *s, const char *url)
{
	static const char plan[] =
		"INSERT OR IGNORE INTO deliveries(alert_id, sink) SELECT a.id, "
		"?1 FROM alerts a, sinks k WHERE k.url = ?1 AND a.id > "
		"k.since_id";

	return exec_url(s, plan, url);
}

int dw_store_deliver(struct dw_store *s, const char *const *sinks, size_t n,
		     dw_deliver_fn send, void *ctx, size_t *sent)
{
	static const char due[] =
		"SELECT d.alert_id, d.sink, d.attempts, a.created, a.kind, "
		"a.summary, a.payload FROM deliveries d JOIN alerts a ON "
		"a.id = d.alert_id WHERE d.delivered IS NULL AND d.next_try <= "
		"?1 ORDER BY d.alert_id LIMIT 100";
	static const char ok[] =
		"UPDATE deliveries SET delivered = ?3, attempts = attempts + 1 "
		"WHERE alert_id = ?1 AND sink = ?2";
	static const char retry[] =
		"UPDATE deliveries SET attempts = attempts + 1, next_try = ?3, "
		"last_error = ?4 WHERE alert_id = ?1 AND sink = ?2";
	sqlite3_int64 now = (sqlite3_int64)time(NULL);
	sqlite3_stmt *q, *u;
	size_t i;
	int err = 0;

	*sent = 0;
	for (i = 0; !err && i < n; i++)
		err = plan_sink(s, sinks[i]);
	if (err)
		return err;
	if (sqlite3_prepare_v2(s->db, due, -1, &q, NULL) != SQLITE_OK)
		return db_error(s, "cannot prepare delivery");
	sqlite3_bind_int64(q, 1, now);
	while (sqlite3_step(q) == SQLITE_ROW) {
		struct dw_alert a = {
			sqlite3_column_int64(q, 0),
			(const char *)sqlite3_column_text(q, 1),
			sqlite3_column_int64(q, 3),
			(const char *)sqlite3_column_text(q, 4),
			(const char *)sqlite3_column_text(q, 5),
			(const char *)sqlite3_column_text(q, 6),
		};
		int attempts = sqlite3_column_int(q, 2);
		char why[256] = "";
		int done = send(&a, why, sizeof(why), ctx) == 0;
		/* Back off: 2, 4, 8 … seconds, at most five minutes. */
		sqlite3_int64 wait = attempts < 8 ? (2 << attempts) : 300;

		if (sqlite3_prepare_v2(s->db, done ? ok : retry, -1, &u, NULL)
		    != SQLITE_OK) {
			err = db_error(s, "cannot prepare delivery update");
			break;
		}
		sqlite3_bind_int64(u, 1, a.id);
		sqlite3_bind_text(u, 2, a.sink, -1, SQLITE_TRANSIENT);
		sqlite3_bind_int64(u, 3, done ? now : now + wait);
		if (!done)
			sqlite3_bind_text(u, 4, why, -1, SQLITE_TRANSIENT);
		if (sqlite3_step(u) != SQLITE_DONE)
			err = db_error(s, "cannot record a delivery");
		sqlite3_finalize(u);
		*sent += (size_t)done;
	}
	sqlite3_finalize(q);
	return err;
}

/* The container id for a name, id or unique id prefix; NULL if none. */
static char *resolve_container(struct dw_store *s, const char *ref)
{
	static const char sql[] =
		"SELECT id FROM containers WHERE name = ?1 OR id = ?1 "
		"UNION SELECT id FROM containers WHERE id LIKE ?2 LIMIT 2";
	struct dw_buf prefix = DW_BUF_INIT;
	sqlite3_stmt *st;
	char *id = NULL;
	int rows = 0;

	dw_buf_addf(&prefix, "%s%%", ref);
	if (sqlite3_prepare_v2(s->db, sql, -1, &st, NULL) != SQLITE_OK) {
		dw_buf_release(&prefix);
		return NULL;
	}
	sqlite3_bind_text(st, 1, ref, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, prefix.ptr, -1, SQLITE_STATIC);
	while (sqlite3_step(st) == SQLITE_ROW && ++rows == 1)
		id = dw_xstrdup((const char *)sqlite3_column_text(st, 0));
	sqlite3_finalize(st);
	dw_buf_release(&prefix);
	if (rows > 1) {
		free(id);
		dw_error_set(DW_EINVAL, "'%s' names more than one container",
			     ref);
		return NULL;
	}
	if (!id)
		dw_error_set(DW_ENOTFOUND, "no container '%s' in the store", ref);
	return id;
}

int dw_store_events(struct dw_store *s, const struct dw_event_query *q,
		    dw_event_fn cb, void *ctx)
{
	static const char sql[] =
		"SELECT e.time, e.container_id, coalesce(c.name, ''), e.path, "
		"e.kind, e.source FROM events e LEFT JOIN containers c ON "
		"c.id = e.container_id WHERE (?1 IS NULL OR e.container_id = ?1)"
		" AND e.time >= ?2 AND (?3 IS NULL OR e.kind = ?3) "
		"ORDER BY e.id";
	sqlite3_stmt *st;
	char *id = NULL;
	int err = 0;

	if (q->container && !(id = resolve_container(s, q->container)))
		return DW_ENOTFOUND;
	if (sqlite3_prepare_v2(s->db, sql, -1, &st, NULL) != SQLITE_OK) {
		free(id);
		return db_error(s, "cannot read events");
	}
	sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, q->since);
	if (q->kind)
		sqlite3_bind_text(st, 3, q->kind, -1, SQLITE_STATIC);
	while (!err && sqlite3_step(st) == SQLITE_ROW) {
		struct dw_event ev = {
			sqlite3_column_int64(st, 0),
			(const char *)sqlite3_column_text(st, 1),
			(const char *)sqlite3_column_text(st, 2),
			sqlite3_column_blob(st, 3),
			(size_t)sqlite3_column_bytes(st, 3),
			(const char *)sqlite3_column_text(st, 4),
			(const char *)sqlite3_column_text(st, 5),
		};

		err = cb(&ev, ctx);
	}
	sqlite3_finalize(st);
	free(id);
	return err;
}

int dw_store_current(struct dw_store *s, const char *container,
		     dw_event_fn cb, void *ctx)
{
	static const char sql[] =
		"SELECT last_seen, container_id, path, kind FROM changes "
		"WHERE container_id = ?1 ORDER BY path";
	sqlite3_stmt *st;
	char *id = resolve_container(s, container);
	int err = 0;

	if (!id)
		return DW_ENOTFOUND;
	if (sqlite3_prepare_v2(s->db, sql, -1, &st, NULL) != SQLITE_OK) {
		free(id);
		return db_error(s, "cannot read changes");
	}
	sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
	while (!err && sqlite3_step(st) == SQLITE_ROW) {
		struct dw_event ev = {
			sqlite3_column_int64(st, 0),
			(const char *)sqlite3_column_text(st, 1), container,
			sqlite3_column_blob(st, 2),
			(size_t)sqlite3_column_bytes(st, 2),
			(const char *)sqlite3_column_text(st, 3), "current",
		};

		err = cb(&ev, ctx);
	}
	sqlite3_finalize(st);
	free(id);
	return err;
}
