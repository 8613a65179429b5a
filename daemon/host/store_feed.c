/*
 * The store: the feed of every row of events, findings and alerts, read
 * by the outputs (driftwatch.yaml's outputs) from a cursor of their own.
 *
 * Nothing is written for an output when an event happens: the rows are
 * already in the store, and each output keeps the last id it took of
 * each table. So an output that is down costs nothing on the monitoring
 * path, and a restart goes on where the output's cursor is. Ids grow
 * with every row and are never reused (retention always keeps the
 * newest row of each table): an id missing between the cursor and the
 * next row is a row retention deleted before the output took it; those
 * are counted for the output to tell.
 */
#include "store_int.h"
#include "driftwatch/escape.h"
#include "driftwatch/json.h"

#include "driftwatch/banned.h"

static const char *const feed_tables[DW_FEED_N] = {"events", "findings",
						   "alerts"};

const char *dw_feed_table(int t)
{
	return t >= 0 && t < DW_FEED_N ? feed_tables[t] : "?";
}

int dw_store_feed_cursor(struct dw_store *s, const char *output,
			 long long at[DW_FEED_N])
{
	static const char get[] =
		"SELECT last_id FROM output_cursors WHERE output = ?1 AND "
		"tbl = ?2";
	int t, err = 0, own;

	err = dw_store_tx_enter(s, &own);
	for (t = 0; !err && t < DW_FEED_N; t++) {
		sqlite3_stmt *st;
		char sql[128];
		int rc;

		err = st_prepare(s, &st, get);
		if (err)
			break;
		sqlite3_bind_text(st, 1, output, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 2, feed_tables[t], -1, SQLITE_STATIC);
		rc = sqlite3_step(st);
		if (rc == SQLITE_ROW) {
			at[t] = sqlite3_column_int64(st, 0);
			sqlite3_finalize(st);
			continue;
		}
		sqlite3_finalize(st);
		if (rc != SQLITE_DONE) {
			err = st_db_error(s, "cannot read an output's cursor");
			break;
		}
		/* An output seen for the first time takes the feed from
		 * now on, as a new alert sink does. */
		snprintf(sql, sizeof(sql),
			 "INSERT INTO output_cursors(output, tbl, last_id) "
			 "SELECT ?1, ?2, coalesce(max(id), 0) FROM %s "
			 "RETURNING last_id",
			 feed_tables[t]);
		err = st_prepare(s, &st, sql);
		if (err)
			break;
		sqlite3_bind_text(st, 1, output, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 2, feed_tables[t], -1, SQLITE_STATIC);
		if (sqlite3_step(st) == SQLITE_ROW)
			at[t] = sqlite3_column_int64(st, 0);
		else
			err = st_db_error(s, "cannot start an output's cursor");
		sqlite3_finalize(st);
	}
	return dw_store_tx_leave(s, own, err);
}

int dw_store_feed_save(struct dw_store *s, const char *output,
		       const long long at[DW_FEED_N])
{
	static const char put[] =
		"INSERT INTO output_cursors(output, tbl, last_id) VALUES "
		"(?1, ?2, ?3) ON CONFLICT (output, tbl) DO UPDATE SET "
		"last_id = max(last_id, excluded.last_id)";
	int t, err, own;

	err = dw_store_tx_enter(s, &own);
	for (t = 0; !err && t < DW_FEED_N; t++) {
		sqlite3_stmt *st;

		err = st_prepare(s, &st, put);
		if (err)
			break;
		sqlite3_bind_text(st, 1, output, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 2, feed_tables[t], -1, SQLITE_STATIC);
		sqlite3_bind_int64(st, 3, at[t]);
		err = st_step_done(s, st, "cannot save an output's cursor");
	}
	if (!err) {
		sqlite3_stmt *st;

		err = st_prepare(
			s, &st, "DELETE FROM output_batches WHERE output = ?1");
		if (!err) {
			sqlite3_bind_text(st, 1, output, -1, SQLITE_STATIC);
			err = st_step_done(s, st,
					   "cannot end an output's batch");
		}
	}
	return dw_store_tx_leave(s, own, err);
}

int dw_store_feed_batch(struct dw_store *s, const char *output, long long off,
			long long dev, long long ino)
{
	static const char sql[] =
		"INSERT OR REPLACE INTO output_batches(output, file_off, dev, "
		"ino) VALUES (?1, ?2, ?3, ?4)";
	sqlite3_stmt *st;
	int err = st_prepare(s, &st, sql);

	if (err)
		return err;
	sqlite3_bind_text(st, 1, output, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, off);
	sqlite3_bind_int64(st, 3, dev);
	sqlite3_bind_int64(st, 4, ino);
	return st_step_done(s, st, "cannot note an output's batch");
}

int dw_store_feed_batch_get(struct dw_store *s, const char *output,
			    long long *off, long long *dev, long long *ino)
{
	static const char sql[] = "SELECT file_off, dev, ino FROM "
				  "output_batches WHERE output = ?1";
	sqlite3_stmt *st;
	int rc, err = st_prepare(s, &st, sql);

	if (err)
		return err;
	sqlite3_bind_text(st, 1, output, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		*off = sqlite3_column_int64(st, 0);
		*dev = sqlite3_column_int64(st, 1);
		*ino = sqlite3_column_int64(st, 2);
	}
	sqlite3_finalize(st);
	return rc == SQLITE_ROW ? 0
	       : rc == SQLITE_DONE
		       ? DW_ENOTFOUND
		       : st_db_error(s, "cannot read an output's batch");
}

int dw_store_feed_pending(struct dw_store *s, const long long at[DW_FEED_N],
			  long long *pending)
{
	int t;

	*pending = 0;
	for (t = 0; t < DW_FEED_N; t++) {
		sqlite3_stmt *st;
		char sql[128];
		int err;

		snprintf(sql, sizeof(sql),
			 "SELECT count(*) FROM %s WHERE id > ?1",
			 feed_tables[t]);
		err = st_prepare(s, &st, sql);
		if (err)
			return err;
		sqlite3_bind_int64(st, 1, at[t]);
		if (sqlite3_step(st) == SQLITE_ROW)
			*pending += sqlite3_column_int64(st, 0);
		sqlite3_finalize(st);
	}
	return 0;
}

/* ---- reading ---- */

/* A text column, valid UTF-8 (what is not is replaced, never dropped). */
static void set_text(json_t *o, const char *key, sqlite3_stmt *st, int col)
{
	const unsigned char *v = sqlite3_column_text(st, col);
	struct dw_buf b = DW_BUF_INIT;
	json_t *j;

	if (!v)
		return;
	j = json_string((const char *)v);
	if (!j) {
		dw_utf8_sanitize(&b, (const char *)v,
				 (size_t)sqlite3_column_bytes(st, col));
		j = json_string(b.ptr ? b.ptr : "");
		dw_buf_release(&b);
	}
	json_object_set_new(o, key, j);
}

/* A path as stored (bytes): valid UTF-8, as `events` shows it. */
static void set_path(json_t *o, sqlite3_stmt *st, int col)
{
	struct dw_buf p = DW_BUF_INIT;

	dw_utf8_sanitize(&p, sqlite3_column_blob(st, col),
			 (size_t)sqlite3_column_bytes(st, col));
	json_object_set_new(o, "path", json_string(p.ptr ? p.ptr : ""));
	dw_buf_release(&p);
}

/* The container a row is about: name, image, labels (as stored). */
static void set_container(json_t *o, sqlite3_stmt *st, int col)
{
	json_t *labels = NULL;
	const char *l;

	if (sqlite3_column_type(st, col) == SQLITE_NULL)
		return;
	set_text(o, "container", st, col);
	set_text(o, "image", st, col + 1);
	l = (const char *)sqlite3_column_text(st, col + 2);
	if (l && !dw_json_parse(&labels, l, strlen(l), "labels") &&
	    json_is_object(labels))
		json_object_set_new(o, "labels", labels);
	else
		json_decref(labels);
}

/* Merge a JSON object text (the daemon's own) into `o`. */
static void merge_json(json_t *o, const char *key, const char *text)
{
	json_t *d = NULL;

	if (!text)
		return;
	if (dw_json_parse(&d, text, strlen(text), key) || !d) {
		json_object_set_new(o, key, json_string(text));
		return;
	}
	if (key)
		json_object_set_new(o, key, d);
	else {
		if (json_is_object(d))
			json_object_update(o, d);
		json_decref(d);
	}
}

#define CONTAINER_COLS "c.name, c.image, c.labels"
#define CONTAINER_JOIN(t) " LEFT JOIN containers c ON c.id = " t ".container_id"

static const char *const feed_sql[DW_FEED_N] = {
	"SELECT e.id, e.time, coalesce(e.time_us, e.time * 1000000), "
	"e.container_id, e.path, e.kind, e.source, e.severity, e.sha256, "
	"e.detail, " CONTAINER_COLS " FROM events e" CONTAINER_JOIN(
		"e") " WHERE e.id > ?1 ORDER BY e.id LIMIT ?2",
	"SELECT f.id, f.time, f.time * 1000000 + 999999, f.container_id, "
	"f.path, "
	"f.rule, f.source, f.severity, f.fingerprint, f.line, f.redacted, "
	"f.cluster, f.role, f.status, f.valid_from, f.valid_until, "
	"f.rotated_by, " CONTAINER_COLS " FROM findings f" CONTAINER_JOIN(
		"f") " WHERE f.id > ?1 ORDER BY f.id LIMIT ?2",
	"SELECT id, created, created * 1000000 + 999999, kind, summary, "
	"payload FROM "
	"alerts WHERE id > ?1 ORDER BY id LIMIT ?2",
};

static json_t *event_row(sqlite3_stmt *st)
{
	json_t *o = json_object();

	set_text(o, "container_id", st, 3);
	set_path(o, st, 4);
	set_text(o, "kind", st, 5);
	set_text(o, "source", st, 6);
	set_text(o, "severity", st, 7);
	set_text(o, "sha256", st, 8);
	/* An exec's process, parents, action; a change's writer. */
	merge_json(o, NULL, (const char *)sqlite3_column_text(st, 9));
	set_container(o, st, 10);
	return o;
}

static json_t *finding_row(sqlite3_stmt *st)
{
	static const char *const keys[] = {"rule", "source", "severity",
					   "fingerprint"};
	json_t *o = json_object();
	size_t i;

	set_text(o, "source_id", st, 3);
	set_path(o, st, 4);
	for (i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
		set_text(o, keys[i], st, 5 + (int)i);
	json_object_set_new(o, "line",
			    json_integer(sqlite3_column_int64(st, 9)));
	set_text(o, "redacted", st, 10);
	set_text(o, "cluster", st, 11);
	set_text(o, "role", st, 12);
	set_text(o, "status", st, 13);
	if (sqlite3_column_type(st, 14) != SQLITE_NULL)
		json_object_set_new(o, "valid_from",
				    json_integer(sqlite3_column_int64(st, 14)));
	if (sqlite3_column_type(st, 15) != SQLITE_NULL)
		json_object_set_new(o, "valid_until",
				    json_integer(sqlite3_column_int64(st, 15)));
	set_text(o, "rotated_by", st, 16);
	set_container(o, st, 17);
	return o;
}

static json_t *alert_row(sqlite3_stmt *st)
{
	json_t *o = json_object();

	set_text(o, "kind", st, 3);
	set_text(o, "summary", st, 4);
	merge_json(o, "data", (const char *)sqlite3_column_text(st, 5));
	return o;
}

/*
 * Read up to `max` rows of each table past `after` and hand them to `cb`
 * in the order they happened, each table's own in id order. When a
 * table gave `max` rows (it may have more), the rows of the others
 * after the last of those wait for the next read, so the order holds
 * across reads too; the table that sets that limit always goes whole,
 * so every read makes progress.
 */
int dw_store_feed_read(struct dw_store *s, const long long after[DW_FEED_N],
		       size_t max, dw_feed_fn cb, void *ctx,
		       long long last[DW_FEED_N], long long missing[DW_FEED_N])
{
	struct dw_feed_row *rows[DW_FEED_N] = {NULL};
	size_t n[DW_FEED_N] = {0}, alloc[DW_FEED_N] = {0}, at[DW_FEED_N] = {0};
	long long limit = 0;
	int t, lim = -1, err = 0, own = sqlite3_get_autocommit(s->db);

	/* One snapshot of the three tables (a read transaction). */
	if (own && sqlite3_exec(s->db, "BEGIN", NULL, NULL, NULL) != SQLITE_OK)
		return st_db_error(s, "cannot read the feed");
	for (t = 0; !err && t < DW_FEED_N; t++) {
		sqlite3_stmt *st;

		last[t] = after[t];
		missing[t] = 0;
		err = st_prepare(s, &st, feed_sql[t]);
		if (err)
			break;
		sqlite3_bind_int64(st, 1, after[t]);
		sqlite3_bind_int64(st, 2, (sqlite3_int64)max);
		while (sqlite3_step(st) == SQLITE_ROW) {
			struct dw_feed_row *r;

			DW_ALLOC_GROW(rows[t], n[t] + 1, alloc[t]);
			r = &rows[t][n[t]++];
			r->table = t;
			r->id = sqlite3_column_int64(st, 0);
			r->time = sqlite3_column_int64(st, 1);
			r->time_us = sqlite3_column_int64(st, 2);
			r->doc = t == DW_FEED_EVENTS	 ? event_row(st)
				 : t == DW_FEED_FINDINGS ? finding_row(st)
							 : alert_row(st);
		}
		sqlite3_finalize(st);
		if (n[t] >= max && max &&
		    (lim < 0 || rows[t][n[t] - 1].time_us < limit)) {
			lim = t;
			limit = rows[t][n[t] - 1].time_us;
		}
	}
	if (own)
		sqlite3_exec(s->db, "COMMIT", NULL, NULL, NULL);
	while (!err) {
		int best = -1;

		for (t = 0; t < DW_FEED_N; t++) {
			const struct dw_feed_row *h =
				at[t] < n[t] ? &rows[t][at[t]] : NULL;

			if (!h || (lim >= 0 && t != lim && h->time_us > limit))
				continue;
			if (best < 0 ||
			    h->time_us < rows[best][at[best]].time_us)
				best = t;
		}
		if (best < 0)
			break;
		err = cb(&rows[best][at[best]], ctx);
		if (err == DW_FEED_FULL) {
			err = 0; /* not taken: the read ends before it */
			break;
		}
		if (err)
			break;
		missing[best] += rows[best][at[best]].id - last[best] - 1;
		last[best] = rows[best][at[best]++].id;
	}
	for (t = 0; t < DW_FEED_N; t++) {
		size_t i;

		for (i = 0; i < n[t]; i++)
			json_decref(rows[t][i].doc);
		free(rows[t]);
	}
	return err;
}
