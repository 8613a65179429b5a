/* The SQLite store (SQLite is used here and nowhere else): schema, migrations,
 * transactions, containers, followed-file offsets and the status document.
 * store_int.h lists the parts. */
#include "store_int.h"

#include <stdio.h>

#include "driftwatch/banned.h"

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
	"  st_mtime_ns INTEGER, first_seen INTEGER NOT NULL,"
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
	"CREATE TABLE deliveries (alert_id INTEGER NOT NULL, sink TEXT NOT "
	"NULL,"
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
	/* 7: the coverage model, and one source vocabulary */
	"CREATE TABLE coverage (container_id TEXT NOT NULL,"
	"  name TEXT NOT NULL,"
	"  facet TEXT NOT NULL, state TEXT NOT NULL, reason TEXT NOT NULL,"
	"  detail TEXT NOT NULL, since INTEGER NOT NULL,"
	"  PRIMARY KEY (container_id, facet)) WITHOUT ROWID;"
	"ALTER TABLE changes ADD COLUMN st_ctime_ns INTEGER;"
	"ALTER TABLE changes ADD COLUMN st_ino INTEGER;"
	"CREATE TABLE coverage_alerted (container_id TEXT NOT NULL,"
	"  facet TEXT NOT NULL, reason TEXT NOT NULL,"
	"  PRIMARY KEY (container_id, facet, reason)) WITHOUT ROWID;"
	"UPDATE findings SET source = 'docker-json-log'"
	"  WHERE source = 'docker-log';",
	/* 8: which root the layer dirs were named under, and the upper
	 * dir's identity (a stopped container's recorded dirs) */
	"ALTER TABLE containers ADD COLUMN host_root TEXT;"
	"ALTER TABLE containers ADD COLUMN upper_dev INTEGER;"
	"ALTER TABLE containers ADD COLUMN upper_ino INTEGER;",
	/* 9: where each container's journal entries were read up to */
	"CREATE TABLE journal_cursors (source TEXT PRIMARY KEY,"
	"  cursor TEXT NOT NULL, entries INTEGER NOT NULL) WITHOUT ROWID;",
	/* 10: what is due to a sink, found without reading every delivery */
	"CREATE INDEX deliveries_pending ON deliveries(sink, next_try)"
	"  WHERE delivered IS NULL;",
	/* 11: the alerts held back by the rate limit, counted here until
	 * their summary is recorded (a killed daemon's too); a sink's
	 * undelivered alerts by id, for outbox_max */
	"CREATE INDEX deliveries_waiting ON deliveries(sink, alert_id)"
	"  WHERE delivered IS NULL;"
	"CREATE TABLE alerts_held (kind TEXT NOT NULL, subject TEXT NOT NULL,"
	"  held INTEGER NOT NULL, since INTEGER NOT NULL,"
	"  until INTEGER NOT NULL, PRIMARY KEY (kind, subject)) WITHOUT ROWID;",
	/* 12: this swarm's secrets over time (fingerprints only): a stale
	 * leaked one is told by role and by when it was valid */
	"CREATE TABLE swarm_secrets (swarm_id TEXT NOT NULL,"
	"  role TEXT NOT NULL, fingerprint TEXT NOT NULL,"
	"  valid_from INTEGER, valid_until INTEGER, ended_by TEXT,"
	"  PRIMARY KEY (swarm_id, role, fingerprint)) WITHOUT ROWID;"
	"CREATE INDEX swarm_secrets_fingerprint ON swarm_secrets(fingerprint);"
	"ALTER TABLE findings ADD COLUMN valid_from INTEGER;"
	"ALTER TABLE findings ADD COLUMN valid_until INTEGER;"
	"ALTER TABLE findings ADD COLUMN rotated_by TEXT;",
	/* 13: tamper evidence: the history hash-chained (store_chain.c),
	 * each chain's head and base, the signed heads; a snapshot's
	 * signed statement's digest. The rows already there are chained
	 * by backfill_chains() after 14. */
	"ALTER TABLE events ADD COLUMN chain_seq INTEGER;"
	"ALTER TABLE events ADD COLUMN chain_prev BLOB;"
	"ALTER TABLE events ADD COLUMN chain_hash BLOB;"
	"ALTER TABLE findings ADD COLUMN chain_seq INTEGER;"
	"ALTER TABLE findings ADD COLUMN chain_prev BLOB;"
	"ALTER TABLE findings ADD COLUMN chain_hash BLOB;"
	"ALTER TABLE snapshots ADD COLUMN statement_sha256 TEXT;"
	"ALTER TABLE snapshots ADD COLUMN chain_seq INTEGER;"
	"ALTER TABLE snapshots ADD COLUMN chain_prev BLOB;"
	"ALTER TABLE snapshots ADD COLUMN chain_hash BLOB;"
	"ALTER TABLE rotations ADD COLUMN chain_seq INTEGER;"
	"ALTER TABLE rotations ADD COLUMN chain_prev BLOB;"
	"ALTER TABLE rotations ADD COLUMN chain_hash BLOB;"
	"CREATE TABLE chain_heads (tbl TEXT NOT NULL, key TEXT NOT NULL,"
	"  base_seq INTEGER NOT NULL, base_hash BLOB NOT NULL,"
	"  seq INTEGER NOT NULL, id INTEGER NOT NULL, hash BLOB NOT NULL,"
	"  PRIMARY KEY (tbl, key)) WITHOUT ROWID;"
	"CREATE TABLE chain_signatures (id INTEGER PRIMARY KEY,"
	"  time INTEGER NOT NULL, root TEXT NOT NULL, envelope TEXT NOT NULL);",
	/* 14: what an event says beyond its path (an exec's process and
	 * action, JSON), hashed into its chain only when not NULL, so the
	 * rows before it keep their hashes */
	"ALTER TABLE events ADD COLUMN detail TEXT;",
	/* 15: where each output (driftwatch.yaml's outputs) has taken the
	 * feed up to: the last id of events, findings and alerts */
	"CREATE TABLE output_cursors (output TEXT NOT NULL,"
	"  tbl TEXT NOT NULL, last_id INTEGER NOT NULL,"
	"  PRIMARY KEY (output, tbl)) WITHOUT ROWID;"
	/* ... and the batch an output is writing: where its file ended
	 * before (a batch a killed daemon wrote but did not record is cut
	 * off and written again, not twice) */
	"CREATE TABLE output_batches (output TEXT PRIMARY KEY,"
	"  file_off INTEGER NOT NULL, dev INTEGER NOT NULL,"
	"  ino INTEGER NOT NULL) WITHOUT ROWID;",
	/* 16: a container whose turns fell behind its drift (a backlog),
	 * said again after a restart until a round ends with nothing left */
	"CREATE TABLE backlog (container_id TEXT PRIMARY KEY,"
	"  detail TEXT NOT NULL, since INTEGER NOT NULL) WITHOUT ROWID;",
};

/*
 * Chain the rows of a store older than 13 once every column the chains
 * hash exists (schema 14 added events.detail). A store at 13 was chained
 * as it was written, unless it was migrated to 13 by this code and
 * stopped before 14: then it has rows and no chain head.
 */
static int backfill_chains(struct dw_store *s, int from)
{
	sqlite3_stmt *st;
	int heads;

	if (from < 13)
		return st_chain_backfill(s);
	if (sqlite3_prepare_v2(s->db,
			       "SELECT EXISTS (SELECT 1 FROM chain_heads)", -1,
			       &st, NULL) != SQLITE_OK)
		return st_db_error(s, "cannot read the chain heads");
	heads = sqlite3_step(st) == SQLITE_ROW && sqlite3_column_int(st, 0);
	sqlite3_finalize(st);
	return heads ? 0 : st_chain_backfill(s);
}

/* Run after a migration's statements, in its transaction (index: the
 * version migrated to, minus one; `from`: the version before any ran). */
static int (*const migration_code[])(struct dw_store *, int from) = {
	[13] = backfill_chains,
};

int st_db_error(struct dw_store *s, const char *what)
{
	return dw_error_set(DW_EIO, "store: %s: %s", what,
			    sqlite3_errmsg(s->db));
}

static int exec(struct dw_store *s, const char *sql)
{
	if (sqlite3_exec(s->db, sql, NULL, NULL, NULL) != SQLITE_OK)
		return st_db_error(s, "statement failed");
	return 0;
}

static int user_version(struct dw_store *s, int *v)
{
	sqlite3_stmt *st;
	int rc =
		sqlite3_prepare_v2(s->db, "PRAGMA user_version", -1, &st, NULL);

	if (rc != SQLITE_OK)
		return st_db_error(s, "cannot read schema version");
	*v = sqlite3_step(st) == SQLITE_ROW ? sqlite3_column_int(st, 0) : 0;
	sqlite3_finalize(st);
	return 0;
}

static int migrate(struct dw_store *s)
{
	int n = (int)(sizeof(migrations) / sizeof(migrations[0]));
	char pragma[64];
	int v = 0, from;
	int err = user_version(s, &v);

	if (err)
		return err;
	from = v;
	if (v > n)
		return dw_error_set(DW_EUNSUPPORTED,
				    "store schema version %d is newer than "
				    "this driftwatch (%d)",
				    v, n);
	for (; v < n; v++) {
		snprintf(pragma, sizeof(pragma), "PRAGMA user_version=%d",
			 v + 1);
		err = exec(s, "BEGIN IMMEDIATE");
		if (!err)
			err = exec(s, migrations[v]);
		if (!err &&
		    (size_t)v < sizeof(migration_code) /
					sizeof(migration_code[0]) &&
		    migration_code[v])
			err = migration_code[v](s, from);
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

static int open_once(struct dw_store **out, const char *path, int readonly)
{
	struct dw_store *s = dw_xcalloc(1, sizeof(*s));
	int flags = readonly ? SQLITE_OPEN_READONLY
			     : SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE;
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
				   s->db ? sqlite3_errmsg(s->db)
					 : "out of memory");
		goto fail;
	}
	sqlite3_busy_timeout(s->db, 5000);
	/* The file may have been written by someone else: its schema runs
	 * no function of ours, and cannot be written to as data. */
	sqlite3_db_config(s->db, SQLITE_DBCONFIG_DEFENSIVE, 1, NULL);
	sqlite3_db_config(s->db, SQLITE_DBCONFIG_TRUSTED_SCHEMA, 0, NULL);
	err = st_chain_register(s);
	if (err)
		goto fail;
	if (readonly) {
		int v = 0,
		    n = (int)(sizeof(migrations) / sizeof(migrations[0]));

		err = user_version(s, &v);
		if (!err && v != n)
			err = dw_error_set(
				v > n ? DW_EUNSUPPORTED : DW_EINVAL,
				"store %s has schema version %d, "
				"this driftwatch reads %d%s",
				path, v, n,
				v > n ? ""
				      : " (start "
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

/*
 * A reader can meet the store between the writer's checkpoint and the
 * shared-memory index's re-creation (SQLITE_CANTOPEN for a moment): try
 * again for up to a second before saying it cannot be opened.
 */
int dw_store_open(struct dw_store **out, const char *path, int readonly)
{
	int err, i;

	for (i = 0;; i++) {
		err = open_once(out, path, readonly);
		if (!err || !readonly || err != DW_EIO || i == 20 ||
		    access(path, F_OK))
			return err;
		usleep(50000);
	}
}

void dw_store_close(struct dw_store *s)
{
	if (s)
		st_tell_dropped(s, 1);
	if (s && s->limit) {
		dw_store_alert_flush(s, 1);
		st_limit_free(s->limit);
		s->limit = NULL;
	}
	if (!s)
		return;
	for (size_t i = 0; i < s->ndropped; i++)
		free(s->dropped[i].url);
	free(s->dropped);
	st_chain_finalize(s);
	for (size_t i = 0; i < sizeof(s->probe) / sizeof(s->probe[0]); i++)
		sqlite3_finalize(s->probe[i]);
	sqlite3_close(s->db);
	free(s);
}

int st_prepare(struct dw_store *s, sqlite3_stmt **st, const char *sql)
{
	if (sqlite3_prepare_v2(s->db, sql, -1, st, NULL) != SQLITE_OK)
		return st_db_error(s, "cannot st_prepare a statement");
	return 0;
}

int st_step_done(struct dw_store *s, sqlite3_stmt *st, const char *what)
{
	int rc = sqlite3_step(st);

	sqlite3_finalize(st);
	return rc == SQLITE_DONE ? 0 : st_db_error(s, what);
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
		"lower_dirs, first_seen, last_seen, labels, state, host_root, "
		"upper_dev, upper_ino) VALUES "
		"(?1,?2,?3,?4,?5,?6,?7,?7,?8,?9,?10,?11,?12) ON CONFLICT(id) "
		"DO "
		"UPDATE SET "
		"name=?2, image=?3, runtime=?4, upper_dir=?5, lower_dirs=?6, "
		"last_seen=?7, labels=?8, state=?9, host_root=?10, "
		"upper_dev=?11, upper_ino=?12";
	sqlite3_stmt *st;
	int err = st_prepare(s, &st, sql);

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
	sqlite3_bind_text(st, 10, c->host_root ? c->host_root : "/", -1,
			  SQLITE_STATIC);
	if (c->upper_ino) {
		sqlite3_bind_int64(st, 11, (sqlite3_int64)c->upper_dev);
		sqlite3_bind_int64(st, 12, (sqlite3_int64)c->upper_ino);
	}
	return st_step_done(s, st, "cannot record container");
}

int dw_store_container_dirs(struct dw_store *s, const char *id,
			    struct dw_store_dirs *d)
{
	sqlite3_stmt *st;
	int err = st_prepare(s, &st,
			     "SELECT upper_dir, lower_dirs, last_seen, "
			     "host_root, upper_dev, upper_ino FROM containers "
			     "WHERE id=?1");

	memset(d, 0, sizeof(*d));
	if (err)
		return err;
	sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
	switch (sqlite3_step(st)) {
	case SQLITE_ROW:
		d->upper = dw_xstrdup((const char *)sqlite3_column_text(st, 0));
		d->lowers =
			dw_xstrdup((const char *)sqlite3_column_text(st, 1));
		d->last_seen = sqlite3_column_int64(st, 2);
		d->host_root = dw_xstrdup(
			sqlite3_column_type(st, 3) == SQLITE_NULL
				? "/"
				: (const char *)sqlite3_column_text(st, 3));
		d->upper_dev = (uint64_t)sqlite3_column_int64(st, 4);
		d->upper_ino = (uint64_t)sqlite3_column_int64(st, 5);
		break;
	case SQLITE_DONE:
		err = dw_error_set(DW_ENOTFOUND, "no record of container %s",
				   id);
		break;
	default: err = st_db_error(s, "cannot read a container");
	}
	sqlite3_finalize(st);
	return err;
}

void dw_store_dirs_release(struct dw_store_dirs *d)
{
	free(d->upper);
	free(d->lowers);
	free(d->host_root);
	memset(d, 0, sizeof(*d));
}

int dw_store_set_container_state(struct dw_store *s, const char *id,
				 const char *state)
{
	sqlite3_stmt *st;
	int err = st_prepare(s, &st,
			     "UPDATE containers SET state=?2, "
			     "last_seen=?3 WHERE id=?1");

	if (err)
		return err;
	sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, state, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 3, (sqlite3_int64)time(NULL));
	return st_step_done(s, st, "cannot record container state");
}

int dw_store_get_offset(struct dw_store *s, const char *path,
			unsigned long long dev, unsigned long long ino,
			long long *offset, unsigned long long *line)
{
	sqlite3_stmt *st;
	int err = st_prepare(s, &st,
			     "SELECT offset, line FROM follow_offsets "
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
	int err = st_prepare(s, &st,
			     "INSERT OR REPLACE INTO follow_offsets "
			     "VALUES (?1, ?2, ?3, ?4, ?5)");

	if (err)
		return err;
	sqlite3_bind_blob(st, 1, path, (int)strlen(path), SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, (sqlite3_int64)dev);
	sqlite3_bind_int64(st, 3, (sqlite3_int64)ino);
	sqlite3_bind_int64(st, 4, offset);
	sqlite3_bind_int64(st, 5, (sqlite3_int64)line);
	return st_step_done(s, st, "cannot record a file offset");
}

int dw_store_get_cursor(struct dw_store *s, const char *source, char **cursor,
			unsigned long long *entries)
{
	sqlite3_stmt *st;
	int err = st_prepare(s, &st,
			     "SELECT cursor, entries FROM journal_cursors "
			     "WHERE source = ?1");

	if (err)
		return err;
	sqlite3_bind_text(st, 1, source, -1, SQLITE_STATIC);
	err = DW_ENOTFOUND;
	if (sqlite3_step(st) == SQLITE_ROW) {
		*cursor = dw_xstrdup((const char *)sqlite3_column_text(st, 0));
		*entries = (unsigned long long)sqlite3_column_int64(st, 1);
		err = 0;
	}
	sqlite3_finalize(st);
	return err;
}

int dw_store_put_cursor(struct dw_store *s, const char *source,
			const char *cursor, unsigned long long entries)
{
	sqlite3_stmt *st;
	int err = st_prepare(s, &st,
			     "INSERT OR REPLACE INTO journal_cursors "
			     "VALUES (?1, ?2, ?3)");

	if (err)
		return err;
	sqlite3_bind_text(st, 1, source, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, cursor, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 3, (sqlite3_int64)entries);
	return st_step_done(s, st, "cannot record a journal cursor");
}

/* The stored state and reason of a facet; 0 when there is none. */
static int stored_coverage(struct dw_store *s, const char *cid,
			   enum dw_facet facet, char state[16], char reason[32])
{
	sqlite3_stmt *st;
	int found = 0;

	if (st_prepare(s, &st,
		       "SELECT state, reason FROM coverage WHERE "
		       "container_id = ?1 AND facet = ?2"))
		return 0;
	sqlite3_bind_text(st, 1, cid, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, dw_facet_name(facet), -1, SQLITE_STATIC);
	if (sqlite3_step(st) == SQLITE_ROW) {
		snprintf(state, 16, "%s", sqlite3_column_text(st, 0));
		snprintf(reason, 32, "%s", sqlite3_column_text(st, 1));
		found = 1;
	}
	sqlite3_finalize(st);
	return found;
}

int dw_store_set_coverage(struct dw_store *s, const char *cid, const char *name,
			  enum dw_facet facet, enum dw_cover state,
			  enum dw_cover_reason reason, const char *detail,
			  int *news)
{
	char old_state[16] = "", old_reason[32] = "";
	int had = stored_coverage(s, cid, facet, old_state, old_reason);
	sqlite3_stmt *st;
	int err;

	/* News: a state or reason this container's facet did not have. */
	*news = !had || strcmp(old_state, dw_cover_name(state)) ||
		strcmp(old_reason, dw_cover_reason_name(reason));
	err = st_prepare(
		s, &st,
		"INSERT INTO coverage VALUES (?1, ?7, ?2, ?3, ?4, ?5, ?6) "
		"ON CONFLICT(container_id, facet) DO UPDATE SET "
		"name = ?7, state = ?3, reason = ?4, detail = ?5, since = "
		"CASE WHEN state = ?3 AND reason = ?4 THEN since ELSE ?6 END");

	if (err)
		return err;
	sqlite3_bind_text(st, 1, cid, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, dw_facet_name(facet), -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, dw_cover_name(state), -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 4, dw_cover_reason_name(reason), -1,
			  SQLITE_STATIC);
	sqlite3_bind_text(st, 5, detail ? detail : "", -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 6, (sqlite3_int64)time(NULL));
	sqlite3_bind_text(st, 7, name ? name : "", -1, SQLITE_STATIC);
	return st_step_done(s, st, "cannot record coverage");
}

int dw_store_coverage_first(struct dw_store *s, const char *cid,
			    enum dw_facet facet, enum dw_cover_reason reason,
			    int *first)
{
	sqlite3_stmt *st;
	int err = st_prepare(s, &st,
			     "INSERT OR IGNORE INTO coverage_alerted "
			     "VALUES (?1, ?2, ?3)");

	if (err)
		return err;
	sqlite3_bind_text(st, 1, cid, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, dw_facet_name(facet), -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, dw_cover_reason_name(reason), -1,
			  SQLITE_STATIC);
	err = st_step_done(s, st, "cannot record a coverage alert");
	*first = !err && sqlite3_changes(s->db) == 1;
	return err;
}

int dw_store_forget_coverage(struct dw_store *s, const char *cid)
{
	sqlite3_stmt *st;
	int err = st_prepare(s, &st,
			     "DELETE FROM coverage WHERE container_id = ?1;");

	if (!err) {
		sqlite3_bind_text(st, 1, cid, -1, SQLITE_STATIC);
		err = st_step_done(s, st, "cannot forget coverage");
	}
	if (err)
		return err;
	err = st_prepare(
		s, &st, "DELETE FROM coverage_alerted WHERE container_id = ?1");

	if (err)
		return err;
	sqlite3_bind_text(st, 1, cid, -1, SQLITE_STATIC);
	return st_step_done(s, st, "cannot forget coverage");
}

int dw_store_set_backlog(struct dw_store *s, const char *cid,
			 const char *detail)
{
	sqlite3_stmt *st;
	int err = st_prepare(
		s, &st,
		detail ? "INSERT INTO backlog (container_id, detail, since) "
			 "VALUES (?1, ?2, ?3) ON CONFLICT (container_id) DO "
			 "UPDATE SET detail = excluded.detail"
		       : "DELETE FROM backlog WHERE container_id = ?1");

	if (err)
		return err;
	sqlite3_bind_text(st, 1, cid, -1, SQLITE_STATIC);
	if (detail) {
		sqlite3_bind_text(st, 2, detail, -1, SQLITE_STATIC);
		sqlite3_bind_int64(st, 3, (sqlite3_int64)time(NULL));
	}
	return st_step_done(s, st, "cannot record a backlog");
}

int dw_store_get_backlog(struct dw_store *s, char **detail, long long *since,
			 const char *cid)
{
	sqlite3_stmt *st;
	int err = st_prepare(s, &st,
			     "SELECT detail, since FROM backlog "
			     "WHERE container_id = ?1");

	if (err)
		return err;
	sqlite3_bind_text(st, 1, cid, -1, SQLITE_STATIC);
	err = sqlite3_step(st) == SQLITE_ROW ? 0 : DW_ENOTFOUND;
	if (!err) {
		const unsigned char *d = sqlite3_column_text(st, 0);

		*detail = dw_xstrdup(d ? (const char *)d : "");
		*since = sqlite3_column_int64(st, 1);
	}
	sqlite3_finalize(st);
	return err;
}

int dw_store_coverage(struct dw_store *s, const char *cid, dw_coverage_fn cb,
		      void *ctx)
{
	sqlite3_stmt *st;
	int err = st_prepare(s, &st,
			     "SELECT container_id, name, facet, state, reason, "
			     "detail, since FROM coverage WHERE (?1 IS NULL "
			     "OR container_id = ?1) AND container_id NOT IN "
			     "(SELECT id FROM containers WHERE state != "
			     "'running') ORDER BY container_id, facet");

	if (err)
		return err;
	sqlite3_bind_text(st, 1, cid, -1, SQLITE_STATIC);
	while (!err && sqlite3_step(st) == SQLITE_ROW) {
		struct dw_coverage_row r = {
			(const char *)sqlite3_column_text(st, 0),
			(const char *)sqlite3_column_text(st, 1),
			(const char *)sqlite3_column_text(st, 2),
			(const char *)sqlite3_column_text(st, 3),
			(const char *)sqlite3_column_text(st, 4),
			(const char *)sqlite3_column_text(st, 5),
			sqlite3_column_int64(st, 6),
		};

		err = cb(&r, ctx);
	}
	sqlite3_finalize(st);
	return err;
}

int dw_store_put_status(struct dw_store *s, const char *doc)
{
	sqlite3_stmt *st;
	int err = st_prepare(s, &st,
			     "INSERT OR REPLACE INTO daemon_status "
			     "VALUES (1, ?1, ?2, ?3)");

	if (err)
		return err;
	sqlite3_bind_int64(st, 1, (sqlite3_int64)getpid());
	sqlite3_bind_int64(st, 2, (sqlite3_int64)time(NULL));
	sqlite3_bind_text(st, 3, doc, -1, SQLITE_STATIC);
	return st_step_done(s, st, "cannot record status");
}

int dw_store_get_status(struct dw_store *s, char **doc, long long *pid,
			long long *updated)
{
	sqlite3_stmt *st;
	int err = st_prepare(s, &st,
			     "SELECT pid, updated, doc FROM "
			     "daemon_status WHERE id = 1");

	if (err)
		return err;
	*doc = NULL;
	switch (sqlite3_step(st)) {
	case SQLITE_ROW:
		*pid = sqlite3_column_int64(st, 0);
		*updated = sqlite3_column_int64(st, 1);
		*doc = dw_xstrdup((const char *)sqlite3_column_text(st, 2));
		break;
	case SQLITE_DONE:
		err = dw_error_set(DW_ENOTFOUND, "the daemon has not written "
						 "a status to this store yet");
		break;
	default: err = st_db_error(s, "cannot read the daemon's status");
	}
	sqlite3_finalize(st);
	return err;
}
