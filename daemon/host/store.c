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
#include "store.h"
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
	/* 5: the live monitor: labels and state, per-file evidence,
	 * severities, sub-second event times, findings, daemon status */
	"ALTER TABLE containers ADD COLUMN labels TEXT NOT NULL DEFAULT '{}';"
	"ALTER TABLE containers ADD COLUMN state TEXT NOT NULL"
	"  DEFAULT 'running';"
	"ALTER TABLE changes ADD COLUMN sha256 TEXT;"
	"ALTER TABLE changes ADD COLUMN executable INTEGER;"
	"ALTER TABLE changes ADD COLUMN elf INTEGER;"
	"ALTER TABLE changes ADD COLUMN severity TEXT NOT NULL"
	"  DEFAULT 'medium';"
	"ALTER TABLE events ADD COLUMN time_us INTEGER;"
	"ALTER TABLE events ADD COLUMN severity TEXT NOT NULL"
	"  DEFAULT 'medium';"
	"ALTER TABLE events ADD COLUMN sha256 TEXT;"
	"CREATE TABLE findings (id INTEGER PRIMARY KEY,"
	"  time INTEGER NOT NULL, container_id TEXT NOT NULL,"
	"  path BLOB NOT NULL, rule TEXT NOT NULL, severity TEXT NOT NULL,"
	"  fingerprint TEXT NOT NULL, line INTEGER NOT NULL,"
	"  redacted TEXT NOT NULL,"
	"  UNIQUE (container_id, path, fingerprint));"
	"CREATE TABLE daemon_status (id INTEGER PRIMARY KEY CHECK (id = 1),"
	"  pid INTEGER NOT NULL, updated INTEGER NOT NULL,"
	"  doc TEXT NOT NULL);",
	/* 6: leaks from every source, attributed; where followed files
	 * were read up to */
	"ALTER TABLE findings ADD COLUMN source TEXT NOT NULL"
	"  DEFAULT 'container-file';"
	"ALTER TABLE findings ADD COLUMN cluster TEXT;"
	"ALTER TABLE findings ADD COLUMN role TEXT;"
	"ALTER TABLE findings ADD COLUMN status TEXT;"
	"CREATE INDEX findings_fingerprint ON findings(container_id,"
	"  fingerprint);"
	"CREATE TABLE follow_offsets (path BLOB PRIMARY KEY,"
	"  dev INTEGER NOT NULL, ino INTEGER NOT NULL,"
	"  offset INTEGER NOT NULL, line INTEGER NOT NULL) WITHOUT ROWID;",
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
	if (readonly) {
		int v = 0, n = (int)(sizeof(migrations) / sizeof(migrations[0]));

		err = user_version(s, &v);
		if (!err && v != n)
			err = dw_error_set(v > n ? DW_EUNSUPPORTED : DW_EINVAL,
					   "store %s has schema version %d, "
					   "this driftwatch reads %d%s", path,
					   v, n, v > n ? "" : " (start "
					   "driftwatchd once to migrate it)");
	} else {
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

static int prepare(struct dw_store *s, sqlite3_stmt **st, const char *sql)
{
	if (sqlite3_prepare_v2(s->db, sql, -1, st, NULL) != SQLITE_OK)
		return db_error(s, "cannot prepare a statement");
	return 0;
}

static int step_done(struct dw_store *s, sqlite3_stmt *st, const char *what)
{
	int rc = sqlite3_step(st);

	sqlite3_finalize(st);
	return rc == SQLITE_DONE ? 0 : db_error(s, what);
}

int dw_store_begin(struct dw_store *s)
{
	return exec(s, "BEGIN IMMEDIATE");
}

int dw_store_commit(struct dw_store *s)
{
	int err = exec(s, "COMMIT");

	if (err)
		dw_store_rollback(s);
	return err;
}

void dw_store_rollback(struct dw_store *s)
{
	sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
}

int dw_store_put_container(struct dw_store *s,
			   const struct dw_store_container *c)
{
	static const char sql[] =
		"INSERT INTO containers(id, name, image, runtime, upper_dir, "
		"lower_dirs, first_seen, last_seen, labels, state) VALUES "
		"(?1,?2,?3,?4,?5,?6,?7,?7,?8,?9) ON CONFLICT(id) DO UPDATE SET "
		"name=?2, image=?3, runtime=?4, upper_dir=?5, lower_dirs=?6, "
		"last_seen=?7, labels=?8, state=?9";
	sqlite3_stmt *st;
	int err = prepare(s, &st, sql);

	if (err)
		return err;
	sqlite3_bind_text(st, 1, c->id, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, c->name, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, c->image, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 4, c->runtime, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 5, c->upper, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 6, c->lowers, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 7, (sqlite3_int64)time(NULL));
	sqlite3_bind_text(st, 8, c->labels ? c->labels : "{}", -1,
			  SQLITE_STATIC);
	sqlite3_bind_text(st, 9, c->state, -1, SQLITE_STATIC);
	return step_done(s, st, "cannot record container");
}

int dw_store_set_container_state(struct dw_store *s, const char *id,
				 const char *state)
{
	sqlite3_stmt *st;
	int err = prepare(s, &st, "UPDATE containers SET state=?2, "
				  "last_seen=?3 WHERE id=?1");

	if (err)
		return err;
	sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, state, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 3, (sqlite3_int64)time(NULL));
	return step_done(s, st, "cannot record container state");
}

static sqlite3_int64 mtime_ns(const struct dw_change_meta *m)
{
	return (sqlite3_int64)m->mtime_sec * 1000000000 + m->mtime_nsec;
}

struct apply_stmts {
	sqlite3_stmt *put, *del, *event;
};

static void bind_row(sqlite3_stmt *st, const struct dw_change_row *r,
		     const char *cid, sqlite3_int64 now)
{
	char kind[2] = { r->kind, '\0' };
	const struct dw_change_meta *m = r->meta;
	int i;

	sqlite3_bind_text(st, 1, cid, -1, SQLITE_STATIC);
	sqlite3_bind_blob(st, 2, r->path, (int)r->path_len, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, kind, -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(st, 4, dw_file_type_name(r->mode), -1,
			  SQLITE_STATIC);
	for (i = 5; i <= 9; i++)
		sqlite3_bind_null(st, i);
	if (m) {
		sqlite3_bind_int64(st, 5, r->mode);
		sqlite3_bind_int64(st, 6, m->uid);
		sqlite3_bind_int64(st, 7, m->gid);
		sqlite3_bind_int64(st, 8, m->size);
		sqlite3_bind_int64(st, 9, mtime_ns(m));
	}
	sqlite3_bind_int64(st, 10, now);
	if (r->sha256)
		sqlite3_bind_text(st, 11, r->sha256, -1, SQLITE_STATIC);
	else
		sqlite3_bind_null(st, 11);
	for (i = 0; i < 2; i++) {
		int v = i ? r->elf : r->executable;

		if (v < 0)
			sqlite3_bind_null(st, 12 + i);
		else
			sqlite3_bind_int(st, 12 + i, v);
	}
	sqlite3_bind_text(st, 14, r->severity, -1, SQLITE_STATIC);
}

static int apply_row(struct dw_store *s, struct apply_stmts *q,
		     const char *cid, const struct dw_change_row *r,
		     const char *source, sqlite3_int64 now_us)
{
	char kind[2] = { r->kind, '\0' };
	sqlite3_stmt *st = r->kind == 'R' ? q->del : q->put;

	sqlite3_reset(st);
	if (r->kind == 'R') {
		sqlite3_bind_text(st, 1, cid, -1, SQLITE_STATIC);
		sqlite3_bind_blob(st, 2, r->path, (int)r->path_len,
				  SQLITE_STATIC);
	} else {
		bind_row(st, r, cid, now_us / 1000000);
	}
	if (sqlite3_step(st) != SQLITE_DONE)
		return db_error(s, "cannot record change");
	st = q->event;
	sqlite3_reset(st);
	sqlite3_bind_int64(st, 1, now_us / 1000000);
	sqlite3_bind_text(st, 2, cid, -1, SQLITE_STATIC);
	sqlite3_bind_blob(st, 3, r->path, (int)r->path_len, SQLITE_STATIC);
	sqlite3_bind_text(st, 4, kind, -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(st, 5, source, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 6, now_us);
	sqlite3_bind_text(st, 7, r->severity, -1, SQLITE_STATIC);
	if (r->sha256)
		sqlite3_bind_text(st, 8, r->sha256, -1, SQLITE_STATIC);
	else
		sqlite3_bind_null(st, 8);
	return sqlite3_step(st) == SQLITE_DONE ?
		       0 : db_error(s, "cannot append event");
}

int dw_store_apply_changes(struct dw_store *s, const char *cid,
			   const struct dw_change_row *rows, size_t n,
			   const char *source, long long time_us)
{
	static const char put[] =
		"INSERT INTO changes(container_id, path, kind, type, mode, uid,"
		" gid, size, mtime_ns, first_seen, last_seen, sha256, "
		"executable, elf, severity) VALUES (?1,?2,?3,?4,?5,?6,?7,?8,?9,"
		"?10,?10,?11,?12,?13,?14) ON CONFLICT(container_id, path) DO "
		"UPDATE SET kind=?3, type=?4, mode=?5, uid=?6, gid=?7, size=?8,"
		" mtime_ns=?9, last_seen=?10, sha256=?11, executable=?12, "
		"elf=?13, severity=?14";
	static const char del[] =
		"DELETE FROM changes WHERE container_id=?1 AND path=?2";
	static const char event[] =
		"INSERT INTO events(time, container_id, path, kind, source, "
		"time_us, severity, sha256) VALUES (?1,?2,?3,?4,?5,?6,?7,?8)";
	struct apply_stmts q = { NULL, NULL, NULL };
	size_t i;
	int err = prepare(s, &q.put, put);

	if (!err)
		err = prepare(s, &q.del, del);
	if (!err)
		err = prepare(s, &q.event, event);
	for (i = 0; !err && i < n; i++)
		err = apply_row(s, &q, cid, &rows[i], source, time_us);
	sqlite3_finalize(q.put);
	sqlite3_finalize(q.del);
	sqlite3_finalize(q.event);
	return err;
}

int dw_store_load_changes(struct dw_store *s, const char *cid,
			  dw_row_fn cb, void *ctx)
{
	static const char sql[] =
		"SELECT path, kind, mode, uid, gid, size, mtime_ns, sha256, "
		"coalesce(executable, -1), coalesce(elf, -1), severity, type "
		"FROM changes WHERE container_id=?1 ORDER BY path";
	sqlite3_stmt *st;
	int err = prepare(s, &st, sql);

	if (err)
		return err;
	sqlite3_bind_text(st, 1, cid, -1, SQLITE_STATIC);
	while (!err && sqlite3_step(st) == SQLITE_ROW) {
		struct dw_change_meta m;
		const char *kind = (const char *)sqlite3_column_text(st, 1);
		struct dw_change_row r = {
			sqlite3_column_blob(st, 0),
			(size_t)sqlite3_column_bytes(st, 0),
			kind ? kind[0] : 'C',
			(uint32_t)sqlite3_column_int64(st, 2),
			NULL,
			(const char *)sqlite3_column_text(st, 7),
			sqlite3_column_int(st, 8),
			sqlite3_column_int(st, 9),
			(const char *)sqlite3_column_text(st, 10),
		};

		if (sqlite3_column_type(st, 2) != SQLITE_NULL) {
			sqlite3_int64 ns = sqlite3_column_int64(st, 6);

			m.uid = (uint32_t)sqlite3_column_int64(st, 3);
			m.gid = (uint32_t)sqlite3_column_int64(st, 4);
			m.size = sqlite3_column_int64(st, 5);
			m.mtime_sec = ns / 1000000000;
			m.mtime_nsec = ns % 1000000000;
			r.meta = &m;
		} else {
			r.mode = dw_file_type_mode(
				(const char *)sqlite3_column_text(st, 11));
		}
		err = cb(&r, ctx);
	}
	sqlite3_finalize(st);
	return err;
}

int dw_store_finding_known(struct dw_store *s,
			   const struct dw_finding_record *r)
{
	static const char sql[] =
		"SELECT 1 FROM findings WHERE container_id = ?1 AND "
		"fingerprint = ?2 AND (?3 OR path = ?4) LIMIT 1";
	sqlite3_stmt *st;
	int known;

	if (prepare(s, &st, sql))
		return 0;
	sqlite3_bind_text(st, 1, r->source_id, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, r->fingerprint, -1, SQLITE_STATIC);
	sqlite3_bind_int(st, 3, r->once_per_source);
	sqlite3_bind_blob(st, 4, r->path, (int)r->path_len, SQLITE_STATIC);
	known = sqlite3_step(st) == SQLITE_ROW;
	sqlite3_finalize(st);
	return known;
}

int dw_store_add_finding(struct dw_store *s, const struct dw_finding_record *r,
			 int *is_new)
{
	static const char sql[] =
		"INSERT OR IGNORE INTO findings(time, container_id, path, rule,"
		" severity, fingerprint, line, redacted, source, cluster, role,"
		" status) VALUES (?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11,?12)";
	sqlite3_stmt *st;
	int err;

	*is_new = 0;
	if (dw_store_finding_known(s, r))
		return 0;
	err = prepare(s, &st, sql);
	if (err)
		return err;
	sqlite3_bind_int64(st, 1, (sqlite3_int64)time(NULL));
	sqlite3_bind_text(st, 2, r->source_id, -1, SQLITE_STATIC);
	sqlite3_bind_blob(st, 3, r->path, (int)r->path_len, SQLITE_STATIC);
	sqlite3_bind_text(st, 4, r->rule, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 5, r->severity, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 6, r->fingerprint, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 7, (sqlite3_int64)r->line);
	sqlite3_bind_text(st, 8, r->redacted, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 9, r->source, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 10, r->cluster, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 11, r->role, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 12, r->status, -1, SQLITE_STATIC);
	err = step_done(s, st, "cannot record finding");
	*is_new = !err && sqlite3_changes(s->db) > 0;
	return err;
}

int dw_store_get_offset(struct dw_store *s, const char *path,
			unsigned long long dev, unsigned long long ino,
			long long *offset, unsigned long long *line)
{
	sqlite3_stmt *st;
	int err = prepare(s, &st, "SELECT offset, line FROM follow_offsets "
				  "WHERE path = ?1 AND dev = ?2 AND ino = ?3");

	if (err)
		return err;
	sqlite3_bind_blob(st, 1, path, (int)strlen(path), SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, (sqlite3_int64)dev);
	sqlite3_bind_int64(st, 3, (sqlite3_int64)ino);
	err = DW_ENOTFOUND;
	if (sqlite3_step(st) == SQLITE_ROW) {
		*offset = sqlite3_column_int64(st, 0);
		*line = (unsigned long long)sqlite3_column_int64(st, 1);
		err = 0;
	}
	sqlite3_finalize(st);
	return err;
}

int dw_store_put_offset(struct dw_store *s, const char *path,
			unsigned long long dev, unsigned long long ino,
			long long offset, unsigned long long line)
{
	sqlite3_stmt *st;
	int err = prepare(s, &st, "INSERT OR REPLACE INTO follow_offsets "
				  "VALUES (?1, ?2, ?3, ?4, ?5)");

	if (err)
		return err;
	sqlite3_bind_blob(st, 1, path, (int)strlen(path), SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, (sqlite3_int64)dev);
	sqlite3_bind_int64(st, 3, (sqlite3_int64)ino);
	sqlite3_bind_int64(st, 4, offset);
	sqlite3_bind_int64(st, 5, (sqlite3_int64)line);
	return step_done(s, st, "cannot record a file offset");
}

int dw_store_put_status(struct dw_store *s, const char *doc)
{
	sqlite3_stmt *st;
	int err = prepare(s, &st, "INSERT OR REPLACE INTO daemon_status "
				  "VALUES (1, ?1, ?2, ?3)");

	if (err)
		return err;
	sqlite3_bind_int64(st, 1, (sqlite3_int64)getpid());
	sqlite3_bind_int64(st, 2, (sqlite3_int64)time(NULL));
	sqlite3_bind_text(st, 3, doc, -1, SQLITE_STATIC);
	return step_done(s, st, "cannot record status");
}

int dw_store_get_status(struct dw_store *s, char **doc, long long *pid,
			long long *updated)
{
	sqlite3_stmt *st;
	int err = prepare(s, &st, "SELECT pid, updated, doc FROM "
				  "daemon_status WHERE id = 1");

	if (err)
		return err;
	*doc = NULL;
	if (sqlite3_step(st) == SQLITE_ROW) {
		*pid = sqlite3_column_int64(st, 0);
		*updated = sqlite3_column_int64(st, 1);
		*doc = dw_xstrdup((const char *)sqlite3_column_text(st, 2));
	} else {
		err = dw_error_set(DW_ENOTFOUND, "the daemon has not written "
				   "a status to this store yet");
	}
	sqlite3_finalize(st);
	return err;
}

static int add_snapshot(struct dw_store *s, const struct dw_snapshot_record *r)
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

int dw_store_record_snapshot(struct dw_store *s,
			     const struct dw_snapshot_record *r)
{
	char summary[4200];
	json_t *p;
	int err = add_snapshot(s, r);

	if (err)
		return err;
	p = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s?, s:s, s:b}", "container",
		      r->container_name, "id", r->container_id, "path", r->path,
		      "archive_sha256", r->archive_sha256, "evidence_sha256",
		      r->evidence_sha256, "reason", r->reason, "operator",
		      r->operator_name, "paused", r->paused);
	snprintf(summary, sizeof(summary), "snapshot of %s taken: %s",
		 r->container_name, r->path);
	err = dw_store_alert(s, "snapshot", summary, p);
	json_decref(p);
	return err;
}

long long dw_store_last_snapshot(struct dw_store *s, const char *cid,
				 const char *operator_name)
{
	sqlite3_stmt *st;
	long long t = 0;

	if (prepare(s, &st, "SELECT coalesce(max(time), 0) FROM snapshots "
			    "WHERE container_id = ?1 AND operator = ?2"))
		return 0;
	sqlite3_bind_text(st, 1, cid, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, operator_name, -1, SQLITE_STATIC);
	if (sqlite3_step(st) == SQLITE_ROW)
		t = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return t;
}

static int add_rotation(struct dw_store *s, const char *swarm_id,
			const char *what, const char *before, const char *after,
			const char *reason)
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

int dw_store_record_rotation(struct dw_store *s, const char *swarm_id,
			     const char *what, const char *before,
			     const char *after, const char *reason)
{
	char summary[256];
	json_t *p;
	int err = add_rotation(s, swarm_id, what, before, after, reason);

	if (err)
		return err;
	p = json_pack("{s:s, s:s, s:s, s:s, s:s?}", "swarm", swarm_id, "what",
		      what, "before", before, "after", after, "reason", reason);
	snprintf(summary, sizeof(summary), "rotated the %s of swarm %s", what,
		 swarm_id);
	err = dw_store_alert(s, "rotation", summary, p);
	json_decref(p);
	return err;
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

/*
 * The container id for an id, a name (the live container of that name
 * before removed ones, the newest first) or a unique id prefix; NULL if
 * none.
 */
static char *resolve_container(struct dw_store *s, const char *ref)
{
	static const char exact[] =
		"SELECT id FROM containers WHERE id = ?1 OR name = ?1 "
		"ORDER BY id = ?1 DESC, state = 'removed', last_seen DESC "
		"LIMIT 1";
	static const char prefix[] =
		"SELECT id FROM containers WHERE substr(id, 1, length(?1)) = ?1"
		" LIMIT 2";
	sqlite3_stmt *st;
	char *id = NULL;
	int rows = 0;

	if (sqlite3_prepare_v2(s->db, exact, -1, &st, NULL) != SQLITE_OK)
		return NULL;
	sqlite3_bind_text(st, 1, ref, -1, SQLITE_STATIC);
	if (sqlite3_step(st) == SQLITE_ROW)
		id = dw_xstrdup((const char *)sqlite3_column_text(st, 0));
	sqlite3_finalize(st);
	if (id)
		return id;
	if (sqlite3_prepare_v2(s->db, prefix, -1, &st, NULL) != SQLITE_OK)
		return NULL;
	sqlite3_bind_text(st, 1, ref, -1, SQLITE_STATIC);
	while (sqlite3_step(st) == SQLITE_ROW && ++rows == 1)
		id = dw_xstrdup((const char *)sqlite3_column_text(st, 0));
	sqlite3_finalize(st);
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

int dw_drift_severity_rank(const char *name)
{
	static const char *const names[] = { "allowed", "low", "medium",
					     "high", "critical" };
	int i;

	for (i = 0; name && i < 5; i++)
		if (!strcmp(name, names[i]))
			return i;
	return -1;
}

#define SEVERITY_RANK(col)                                                  \
	"CASE " col " WHEN 'critical' THEN 4 WHEN 'high' THEN 3 WHEN "      \
	"'medium' THEN 2 WHEN 'low' THEN 1 ELSE 0 END"

int dw_store_events(struct dw_store *s, const struct dw_event_query *q,
		    dw_event_fn cb, void *ctx)
{
	static const char sql[] =
		"SELECT e.time, e.container_id, coalesce(c.name, ''), e.path, "
		"e.kind, e.source, e.severity, coalesce(e.time_us, 0) FROM "
		"events e LEFT JOIN containers c ON c.id = e.container_id "
		"WHERE (?1 IS NULL OR e.container_id = ?1) AND e.time >= ?2 "
		"AND (?3 IS NULL OR e.kind = ?3) AND "
		SEVERITY_RANK("e.severity") " >= ?4 ORDER BY e.id";
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
	sqlite3_bind_int(st, 4, q->min_severity);
	while (!err && sqlite3_step(st) == SQLITE_ROW) {
		struct dw_event ev = {
			sqlite3_column_int64(st, 0),
			(const char *)sqlite3_column_text(st, 1),
			(const char *)sqlite3_column_text(st, 2),
			sqlite3_column_blob(st, 3),
			(size_t)sqlite3_column_bytes(st, 3),
			(const char *)sqlite3_column_text(st, 4),
			(const char *)sqlite3_column_text(st, 5),
			(const char *)sqlite3_column_text(st, 6),
			sqlite3_column_int64(st, 7),
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
		"SELECT last_seen, container_id, path, kind, severity FROM "
		"changes WHERE container_id = ?1 ORDER BY path";
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
			(const char *)sqlite3_column_text(st, 4), 0,
		};

		err = cb(&ev, ctx);
	}
	sqlite3_finalize(st);
	free(id);
	return err;
}
