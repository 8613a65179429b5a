/* The store: alerts and their delivery outbox, one row per alert and sink. */
#include "store_int.h"

#include "driftwatch/banned.h"

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
		return st_db_error(s, "cannot st_prepare alert");
	}
	sqlite3_bind_int64(st, 1, (sqlite3_int64)time(NULL));
	sqlite3_bind_text(st, 2, kind, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, summary, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 4, text ? text : "{}", -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	sqlite3_finalize(st);
	free(text);
	return rc == SQLITE_DONE ? 0 : st_db_error(s, "cannot record alert");
}

static int exec_url(struct dw_store *s, const char *sql, const char *url)
{
	sqlite3_stmt *st;
	int rc;

	if (sqlite3_prepare_v2(s->db, sql, -1, &st, NULL) != SQLITE_OK)
		return st_db_error(s, "cannot st_prepare deliveries");
	sqlite3_bind_text(st, 1, url, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	sqlite3_finalize(st);
	return rc == SQLITE_DONE ? 0 : st_db_error(s, "cannot plan deliveries");
}

int dw_store_register_sinks(struct dw_store *s, const char *const *sinks,
			    size_t n)
{
	/* A sink gets the alerts raised from its first sight on. */
	static const char reg[] = "INSERT OR IGNORE INTO sinks VALUES (?1, "
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
	struct due_row {
		struct dw_alert a;
		int attempts;
	} *rows = NULL;
	sqlite3_stmt *q, *u;
	size_t i, nrows = 0, alloc = 0;
	int err = 0, rc;

	*sent = 0;
	for (i = 0; !err && i < n; i++)
		err = plan_sink(s, sinks[i]);
	if (err)
		return err;
	/*
	 * What is due, read whole first: each delivery is then recorded in
	 * a transaction of its own, whose failure is seen (a write left
	 * pending behind an open read was committed, or not, unseen: a busy
	 * store meant every alert of the pass was sent again).
	 */
	if (sqlite3_prepare_v2(s->db, due, -1, &q, NULL) != SQLITE_OK)
		return st_db_error(s, "cannot st_prepare delivery");
	sqlite3_bind_int64(q, 1, now);
	while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
		struct due_row *r;

		DW_ALLOC_GROW(rows, nrows + 1, alloc);
		r = &rows[nrows++];
		r->a = (struct dw_alert){
			sqlite3_column_int64(q, 0),
			dw_xstrdup((const char *)sqlite3_column_text(q, 1)),
			sqlite3_column_int64(q, 3),
			dw_xstrdup((const char *)sqlite3_column_text(q, 4)),
			dw_xstrdup((const char *)sqlite3_column_text(q, 5)),
			dw_xstrdup((const char *)sqlite3_column_text(q, 6)),
		};
		r->attempts = sqlite3_column_int(q, 2);
	}
	if (rc != SQLITE_DONE)
		err = st_db_error(s, "cannot read the outbox");
	sqlite3_finalize(q);
	for (i = 0; !err && i < nrows; i++) {
		struct due_row *r = &rows[i];
		char why[256] = "";
		int sr = send(&r->a, why, sizeof(why), ctx), done = sr == 0;
		/* Back off: 2, 4, 8 … seconds, at most five minutes. */
		sqlite3_int64 wait = r->attempts < 8 ? (2 << r->attempts) : 300;

		if (sr > 0)
			break;
		if (sqlite3_prepare_v2(s->db, done ? ok : retry, -1, &u,
				       NULL) != SQLITE_OK) {
			err = st_db_error(s,
					  "cannot st_prepare delivery update");
			break;
		}
		sqlite3_bind_int64(u, 1, r->a.id);
		sqlite3_bind_text(u, 2, r->a.sink, -1, SQLITE_TRANSIENT);
		sqlite3_bind_int64(u, 3, done ? now : now + wait);
		if (!done)
			sqlite3_bind_text(u, 4, why, -1, SQLITE_TRANSIENT);
		if (sqlite3_step(u) != SQLITE_DONE)
			err = st_db_error(s, "cannot record a delivery (it "
					     "will be sent again)");
		sqlite3_finalize(u);
		*sent += (size_t)(done && !err);
	}
	for (i = 0; i < nrows; i++) {
		free((char *)rows[i].a.sink);
		free((char *)rows[i].a.kind);
		free((char *)rows[i].a.summary);
		free((char *)rows[i].a.payload);
	}
	free(rows);
	return err;
}

/*
 * The container id for an id, a name (the live container of that name
 * before removed ones, the newest first) or a unique id prefix; NULL if
 * none.
 */
