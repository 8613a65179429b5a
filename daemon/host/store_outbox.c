/* The store: alerts and their delivery outbox, one row per alert and sink. */
#include "store_int.h"
#include "driftwatch/clock.h"
#include "driftwatch/escape.h"

#include "driftwatch/banned.h"

/* ---- rate limits ---- */

/* Subjects tracked at most; past this, idle ones are forgotten, else
 * the rest share one bucket. */
#define LIMIT_KEYS 4096
/* What was held back is summarised after this long. */
#define LIMIT_WINDOW_S 10

struct bucket {
	char *kind, *subject;
	double tokens;
	long long refilled_ms;
	unsigned long long held;	 /* since the last summary */
	long long held_since, last_held; /* wall clock, s */
};

struct st_limit {
	long burst, per_minute;
	struct bucket *v;
	size_t n, alloc;
	/* Every subject past LIMIT_KEYS busy ones: one bucket for all. */
	struct bucket shared;
};

void st_limit_free(struct st_limit *l)
{
	size_t i;

	for (i = 0; l && i < l->n; i++) {
		free(l->v[i].kind);
		free(l->v[i].subject);
	}
	if (l) {
		free(l->v);
		free(l->shared.kind);
		free(l->shared.subject);
	}
	free(l);
}

void dw_store_set_alert_limit(struct dw_store *s, long burst, long per_minute)
{
	if (!s->limit) {
		s->limit = dw_xcalloc(1, sizeof(*s->limit));
		s->limit->shared.kind = dw_xstrdup("various");
		s->limit->shared.subject = dw_xstrdup("many subjects");
		s->limit->shared.refilled_ms = dw_mono_ms();
	}
	s->limit->burst = burst;
	s->limit->per_minute = per_minute;
}

static int limit_exempt(const char *kind)
{
	static const char *const never[] = {
		"heartbeat",	  "chain-head",	    "rate-limited",
		"rotation",	  "snapshot",	    "scanner-unconfined",
		"store-tampered", "daemon-started", "daemon-stopped"};
	size_t i;

	for (i = 0; i < sizeof(never) / sizeof(never[0]); i++)
		if (!strcmp(kind, never[i]))
			return 1;
	return 0;
}

static const char *limit_subject(const json_t *payload)
{
	static const char *const keys[] = {"source_id", "id", "source", "path"};
	size_t i;

	for (i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		const char *v =
			json_string_value(json_object_get(payload, keys[i]));

		if (v && *v)
			return v;
	}
	return "";
}

static struct bucket *limit_bucket(struct st_limit *l, const char *kind,
				   const char *subject)
{
	size_t i;

	for (i = 0; i < l->n; i++)
		if (!strcmp(l->v[i].kind, kind) &&
		    !strcmp(l->v[i].subject, subject))
			return &l->v[i];
	if (l->n >= LIMIT_KEYS) {
		/* Forget one that would be full by now and holds nothing
		 * back; else all new subjects share one bucket. */
		long long now = dw_mono_ms();

		for (i = 0; i < l->n; i++)
			if (!l->v[i].held &&
			    l->v[i].tokens + (double)(now -
						      l->v[i].refilled_ms) *
						     (double)l->per_minute /
						     60000.0 >=
				    (double)l->burst)
				break;
		if (i == l->n)
			return NULL; /* the caller uses the shared one */
		free(l->v[i].kind);
		free(l->v[i].subject);
		l->v[i] = l->v[--l->n];
	}
	DW_ALLOC_GROW(l->v, l->n + 1, l->alloc);
	memset(&l->v[l->n], 0, sizeof(l->v[l->n]));
	l->v[l->n].kind = dw_xstrdup(kind);
	l->v[l->n].subject = dw_xstrdup(subject);
	l->v[l->n].tokens = (double)l->burst;
	l->v[l->n].refilled_ms = dw_mono_ms();
	return &l->v[l->n++];
}

/* 1: within the limit (record it); 0: held back (counted in `*in`). */
static int limit_take(struct st_limit *l, const char *kind,
		      const json_t *payload, struct bucket **in)
{
	struct bucket *b;
	long long now = dw_mono_ms();

	if (!l || l->burst <= 0 || limit_exempt(kind))
		return 1;
	b = limit_bucket(l, kind, limit_subject(payload));
	if (!b)
		b = &l->shared;
	b->tokens += (double)(now - b->refilled_ms) * (double)l->per_minute /
		     60000.0;
	if (b->tokens > (double)l->burst)
		b->tokens = (double)l->burst;
	b->refilled_ms = now;
	if (b->tokens >= 1.0) {
		b->tokens -= 1.0;
		return 1;
	}
	if (!b->held)
		b->held_since = (long long)time(NULL);
	b->last_held = (long long)time(NULL);
	b->held++;
	*in = b;
	return 0;
}

static int record_alert(struct dw_store *s, const char *kind,
			const char *summary, const json_t *payload);

/* One held-back alert, counted in the store (a killed daemon's count
 * is summarised by the next: dw_store_alert_recover()). */
static void count_held(struct dw_store *s, const char *kind,
		       const char *subject)
{
	static const char sql[] =
		"INSERT INTO alerts_held VALUES (?1, ?2, 1, ?3, ?3) ON "
		"CONFLICT(kind, subject) DO UPDATE SET held = held + 1, "
		"until = ?3";
	sqlite3_stmt *st;

	if (st_prepare(s, &st, sql))
		return;
	sqlite3_bind_text(st, 1, kind, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, subject, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 3, (sqlite3_int64)time(NULL));
	st_step_done(s, st, "cannot count a held-back alert");
}

/*
 * The summary of what was held back of `kind` about `subject` (the
 * store's count, else `b`'s), recorded and the count cleared in one
 * transaction (when not inside the caller's). 0 when recorded.
 */
static int summarise(struct dw_store *s, const char *kind, const char *subject,
		     unsigned long long held, long long since, long long until,
		     long burst, long per_minute, const char *how)
{
	char summary[700];
	json_t *p;
	int err, own;

	snprintf(summary, sizeof(summary),
		 "%llu %s alerts about %.200s in %lld s were not sent "
		 "one by one (at most %ld at once, %ld a minute)%s: "
		 "what they were about is in the store (driftwatch "
		 "events, status) and the daemon's log",
		 held, kind, *subject ? subject : "-", until - since + 1, burst,
		 per_minute, how);
	p = json_pack("{s:s, s:s, s:s, s:I, s:I, s:I, s:I, s:I}", "severity",
		      "high", "alert_kind", kind, "subject", subject,
		      "held_back", (json_int_t)held, "since", (json_int_t)since,
		      "until", (json_int_t)until, "burst", (json_int_t)burst,
		      "per_minute", (json_int_t)per_minute);
	/* The summary and the count's end together (a kill between them
	 * would summarise the same alerts twice). */
	own = sqlite3_get_autocommit(s->db) && !dw_store_begin(s);
	err = record_alert(s, "rate-limited", summary, p);
	json_decref(p);
	if (!err) {
		sqlite3_stmt *st;

		if (!(err = st_prepare(s, &st,
				       "DELETE FROM alerts_held WHERE kind = "
				       "?1 AND subject = ?2"))) {
			sqlite3_bind_text(st, 1, kind, -1, SQLITE_STATIC);
			sqlite3_bind_text(st, 2, subject, -1, SQLITE_STATIC);
			err = st_step_done(s, st, "cannot clear a count");
		}
	}
	if (own) {
		if (err)
			dw_store_rollback(s);
		else
			err = dw_store_commit(s);
	}
	return err;
}

/* The store's count of kind/subject held back, if any. */
static int stored_held(struct dw_store *s, const char *kind,
		       const char *subject, unsigned long long *held,
		       long long *since, long long *until)
{
	sqlite3_stmt *st;
	int found = 0;

	if (st_prepare(s, &st,
		       "SELECT held, since, until FROM alerts_held WHERE "
		       "kind = ?1 AND subject = ?2"))
		return 0;
	sqlite3_bind_text(st, 1, kind, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, subject, -1, SQLITE_STATIC);
	if (sqlite3_step(st) == SQLITE_ROW) {
		*held = (unsigned long long)sqlite3_column_int64(st, 0);
		*since = sqlite3_column_int64(st, 1);
		*until = sqlite3_column_int64(st, 2);
		found = 1;
	}
	sqlite3_finalize(st);
	return found;
}

int dw_store_alert_flush(struct dw_store *s, int all)
{
	long long now = (long long)time(NULL);
	size_t i;
	int n = 0;

	for (i = 0; s->limit && i <= s->limit->n; i++) {
		struct bucket *b =
			i < s->limit->n ? &s->limit->v[i] : &s->limit->shared;
		unsigned long long held = b->held, stored = 0;
		long long since = b->held_since, until = b->last_held, s0, u0;

		if (!b->held || (!all && now - b->held_since < LIMIT_WINDOW_S))
			continue;
		/* The larger of the store's count (a killed run's of the
		 * same subject too) and ours (a count that failed to be
		 * written). */
		if (stored_held(s, b->kind, b->subject, &stored, &s0, &u0) &&
		    stored > held) {
			held = stored;
			since = s0 < since ? s0 : since;
		}
		if (!summarise(s, b->kind, b->subject, held, since, until,
			       s->limit->burst, s->limit->per_minute, "")) {
			n++;
			b->held = 0;
		}
	}
	return n;
}

int dw_store_alert_recover(struct dw_store *s)
{
	sqlite3_stmt *st;
	struct row {
		char *kind, *subject;
		unsigned long long held;
		long long since, until;
	} *v = NULL;
	size_t n = 0, alloc = 0, i;
	int told = 0;

	if (st_prepare(s, &st,
		       "SELECT kind, subject, held, since, until FROM "
		       "alerts_held"))
		return 0;
	while (sqlite3_step(st) == SQLITE_ROW) {
		DW_ALLOC_GROW(v, n + 1, alloc);
		v[n].kind =
			dw_xstrdup((const char *)sqlite3_column_text(st, 0));
		v[n].subject =
			dw_xstrdup((const char *)sqlite3_column_text(st, 1));
		v[n].held = (unsigned long long)sqlite3_column_int64(st, 2);
		v[n].since = sqlite3_column_int64(st, 3);
		v[n++].until = sqlite3_column_int64(st, 4);
	}
	sqlite3_finalize(st);
	for (i = 0; i < n; i++) {
		told += !summarise(s, v[i].kind, v[i].subject, v[i].held,
				   v[i].since, v[i].until,
				   s->limit ? s->limit->burst : 0,
				   s->limit ? s->limit->per_minute : 0,
				   ", held back by a driftwatchd that "
				   "stopped before it said so");
		free(v[i].kind);
		free(v[i].subject);
	}
	free(v);
	return told;
}

int dw_store_alert(struct dw_store *s, const char *kind, const char *summary,
		   const json_t *payload)
{
	struct bucket *b = NULL;

	if (!limit_take(s->limit, kind, payload, &b)) {
		count_held(s, b->kind, b->subject);
		return 0;
	}
	return record_alert(s, kind, summary, payload);
}

static int record_alert(struct dw_store *s, const char *kind,
			const char *summary, const json_t *payload)
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
	if (rc == SQLITE_DONE) {
		size_t i;

		for (i = 0; i < s->counts.nalerts &&
			    strcmp(s->counts.alerts[i].kind, kind);
		     i++)
			;
		if (i == s->counts.nalerts && i < 32 && strlen(kind) < 32) {
			snprintf(s->counts.alerts[i].kind,
				 sizeof(s->counts.alerts[i].kind), "%s", kind);
			s->counts.nalerts++;
		}
		if (i < s->counts.nalerts)
			s->counts.alerts[i].n++;
	}
	return rc == SQLITE_DONE ? 0 : st_db_error(s, "cannot record alert");
}

/* A statement on sink `url` (?1) and, if it has one, a number (?2): its
 * changes, or -1 (the error set). */
static long long exec_url_n(struct dw_store *s, const char *sql,
			    const char *url, long long n)
{
	sqlite3_stmt *st;
	int rc;

	if (sqlite3_prepare_v2(s->db, sql, -1, &st, NULL) != SQLITE_OK)
		return st_db_error(s, "cannot st_prepare deliveries"), -1;
	sqlite3_bind_text(st, 1, url, -1, SQLITE_STATIC);
	if (sqlite3_bind_parameter_count(st) > 1)
		sqlite3_bind_int64(st, 2, n);
	rc = sqlite3_step(st);
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE)
		return st_db_error(s, "cannot plan deliveries"), -1;
	return sqlite3_changes(s->db);
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
		err = exec_url_n(s, reg, sinks[i], 0) < 0 ? DW_EIO : 0;
	return err;
}

void dw_store_set_outbox_cap(struct dw_store *s, long long cap)
{
	s->outbox_cap = cap;
}

/*
 * Alerts dropped for a sink past the outbox cap: one outbox-dropped
 * alert an hour a sink counts them (an alert for each drop would itself
 * push the next one out, forever, while the sink is down).
 */
#define DROPPED_TELL_S 3600

/* Said now: `d`'s count, if any. */
static int tell_one(struct dw_store *s, struct st_dropped *d, long long now)
{
	char origin[300], summary[600];
	json_t *p;
	int err;

	if (!d->untold)
		return 0;
	dw_url_origin(origin, sizeof(origin), d->url);
	snprintf(summary, sizeof(summary),
		 "%lld undelivered alerts to %s were dropped: more than "
		 "outbox_max (%lld) waited for it",
		 d->untold, origin, s->outbox_cap);
	p = json_pack("{s:s, s:s, s:I}", "severity", "high", "sink", origin,
		      "dropped", (json_int_t)d->untold);
	err = dw_store_alert(s, "outbox-dropped", summary, p);
	json_decref(p);
	if (!err) {
		d->untold = 0;
		d->told_at = now;
	}
	return err;
}

void st_tell_dropped(struct dw_store *s, int all)
{
	long long now = (long long)time(NULL);
	size_t i;

	for (i = 0; i < s->ndropped; i++)
		if (all || now - s->dropped[i].told_at >= DROPPED_TELL_S)
			tell_one(s, &s->dropped[i], now);
}

static int tell_dropped(struct dw_store *s, const char *url, long long n)
{
	long long now = (long long)time(NULL);
	struct st_dropped *d = NULL;
	size_t i;

	for (i = 0; i < s->ndropped && !d; i++)
		if (!strcmp(s->dropped[i].url, url))
			d = &s->dropped[i];
	if (!d) {
		DW_ALLOC_GROW(s->dropped, s->ndropped + 1, s->dropped_alloc);
		d = &s->dropped[s->ndropped++];
		d->url = dw_xstrdup(url);
		d->untold = 0;
		d->told_at = 0;
	}
	d->untold += n;
	if (d->told_at && now - d->told_at < DROPPED_TELL_S)
		return 0;
	return tell_one(s, d, now);
}

/*
 * The alerts raised since the sink was last planned become its
 * deliveries, and it is planned up to there (before, every pass read
 * every alert since the sink was first seen: half a second a sink a
 * second, with the store locked for writing, at a million alerts). Past
 * the outbox cap, the oldest undelivered are dropped, and said.
 */
static int plan_sink(struct dw_store *s, const char *url)
{
	static const char plan[] =
		"INSERT OR IGNORE INTO deliveries(alert_id, sink) SELECT a.id, "
		"?1 FROM alerts a, sinks k WHERE k.url = ?1 AND a.id > "
		"k.since_id AND a.id <= ?2";
	static const char upto[] = "UPDATE sinks SET since_id = ?2 WHERE url = "
				   "?1 AND since_id < ?2";
	/* What waits of the alerts older than the newest `cap`: dropped. */
	static const char cap[] = "DELETE FROM deliveries WHERE sink = ?1 AND "
				  "delivered IS NULL AND alert_id <= ?2";
	sqlite3_stmt *st;
	sqlite3_int64 top = 0;
	long long dropped = 0, added;
	int err, behind = 1;

	/* Nothing new since it was planned (most passes): no write lock
	 * taken (a pass a second a sink would take it each time). */
	if (!st_prepare(s, &st,
			"SELECT (SELECT coalesce(max(id), 0) FROM alerts) > "
			"since_id FROM sinks WHERE url = ?1")) {
		sqlite3_bind_text(st, 1, url, -1, SQLITE_STATIC);
		if (sqlite3_step(st) == SQLITE_ROW)
			behind = sqlite3_column_int(st, 0);
		sqlite3_finalize(st);
	}
	if (!behind)
		return 0;
	if ((err = dw_store_begin(s)))
		return err;
	if (!st_prepare(s, &st, "SELECT coalesce(max(id), 0) FROM alerts")) {
		if (sqlite3_step(st) == SQLITE_ROW)
			top = sqlite3_column_int64(st, 0);
		sqlite3_finalize(st);
	}
	/* Only new alerts can take a sink past the cap: none, no look
	 * (a sink down under a million waiting alerts costs nothing). */
	if ((added = exec_url_n(s, plan, url, top)) < 0 ||
	    exec_url_n(s, upto, url, top) < 0 ||
	    (added > 0 && s->outbox_cap > 0 && top > s->outbox_cap &&
	     (dropped = exec_url_n(s, cap, url, top - s->outbox_cap)) < 0)) {
		dw_store_rollback(s);
		return DW_EIO;
	}
	if ((err = dw_store_commit(s)))
		return err;
	return dropped > 0 ? tell_dropped(s, url, dropped) : 0;
}

/* Put off for a minute, if still due: `*mine` says it was ours to send. */
static int claim(struct dw_store *s, sqlite3_int64 id, const char *sink,
		 sqlite3_int64 now, int *mine)
{
	static const char sql[] =
		"UPDATE deliveries SET next_try = ?3 + 60 WHERE alert_id = ?1 "
		"AND sink = ?2 AND delivered IS NULL AND next_try <= ?3";
	sqlite3_stmt *st;
	int err = st_prepare(s, &st, sql);

	*mine = 0;
	if (err)
		return err;
	sqlite3_bind_int64(st, 1, id);
	sqlite3_bind_text(st, 2, sink, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 3, now);
	err = st_step_done(s, st, "cannot claim a delivery");
	*mine = !err && sqlite3_changes(s->db) == 1;
	return err;
}

/* A claimed delivery not tried after all (stopping): due again now. */
static void release(struct dw_store *s, sqlite3_int64 id, const char *sink,
		    sqlite3_int64 now)
{
	static const char sql[] = "UPDATE deliveries SET next_try = ?3 WHERE "
				  "alert_id = ?1 AND sink = ?2";
	sqlite3_stmt *st;

	if (st_prepare(s, &st, sql))
		return;
	sqlite3_bind_int64(st, 1, id);
	sqlite3_bind_text(st, 2, sink, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 3, now);
	st_step_done(s, st, "cannot release a delivery");
}

int dw_store_deliver(struct dw_store *s, const char *const *sinks, size_t n,
		     dw_deliver_fn send, void *ctx, size_t *sent)
{
	static const char due[] =
		"SELECT d.alert_id, d.sink, d.attempts, a.created, a.kind, "
		"a.summary, a.payload FROM deliveries d JOIN alerts a ON "
		"a.id = d.alert_id WHERE d.delivered IS NULL AND d.next_try <= "
		"?1 AND d.sink = ?2 ORDER BY d.alert_id LIMIT 100";
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
	const char *failed = NULL;
	int err = 0, rc;

	*sent = 0;
	for (i = 0; !err && i < n; i++)
		err = plan_sink(s, sinks[i]);
	if (err)
		return err;
	/* Drops held back an hour (or the sink answers again): said. */
	st_tell_dropped(s, 0);
	/*
	 * What is due, read whole first: each delivery is then recorded in
	 * a transaction of its own, whose failure is seen (a write left
	 * pending behind an open read was committed, or not, unseen: a busy
	 * store meant every alert of the pass was sent again).
	 */
	/* Only these sinks' (another worker has the others; a sink no
	 * longer configured gets nothing). */
	if (sqlite3_prepare_v2(s->db, due, -1, &q, NULL) != SQLITE_OK)
		return st_db_error(s, "cannot st_prepare delivery");
	for (i = 0; i < n; i++) {
		sqlite3_reset(q);
		sqlite3_bind_int64(q, 1, now);
		sqlite3_bind_text(q, 2, sinks[i], -1, SQLITE_STATIC);
		while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
			struct due_row *r;

			DW_ALLOC_GROW(rows, nrows + 1, alloc);
			r = &rows[nrows++];
			r->a = (struct dw_alert){
				sqlite3_column_int64(q, 0),
				dw_xstrdup((const char *)sqlite3_column_text(
					q, 1)),
				sqlite3_column_int64(q, 3),
				dw_xstrdup((const char *)sqlite3_column_text(
					q, 4)),
				dw_xstrdup((const char *)sqlite3_column_text(
					q, 5)),
				dw_xstrdup((const char *)sqlite3_column_text(
					q, 6)),
			};
			r->attempts = sqlite3_column_int(q, 2);
		}
		if (rc != SQLITE_DONE) {
			err = st_db_error(s, "cannot read the outbox");
			break;
		}
	}
	sqlite3_finalize(q);
	for (i = 0; !err && i < nrows; i++) {
		struct due_row *r = &rows[i];
		char why[256] = "";
		/* Back off: 2, 4, 8 … seconds, at most five minutes. */
		sqlite3_int64 wait = r->attempts < 8 ? (2 << r->attempts) : 300;
		int sr, done, mine;

		/* A sink that failed in this pass is not tried again in it
		 * (a sink that never answers costs one try a pass). */
		if (failed && !strcmp(failed, r->a.sink))
			continue;
		/* Claimed first: whoever else reads it due (another worker
		 * after a reload) does not send it too. */
		if (claim(s, r->a.id, r->a.sink, now, &mine)) {
			err = DW_EIO;
			break;
		}
		if (!mine)
			continue;
		sr = send(&r->a, why, sizeof(why), ctx);
		done = sr == 0;
		if (sr > 0) {
			release(s, r->a.id, r->a.sink, now);
			break;
		}
		if (!done)
			failed = r->a.sink;
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

/* ---- retention ---- */

/*
 * One DELETE. For a chained table (`t` >= 0) it returns each deleted
 * row's key, position and hash: its chain's base moves past the last.
 */
static int prune_one(struct dw_store *s, const char *sql, long long arg, int t,
		     struct st_pruned *pr, long long *pruned)
{
	sqlite3_stmt *st;
	long long n = 0;
	int rc, err = st_prepare(s, &st, sql);

	if (err)
		return err;
	sqlite3_bind_int64(st, 1, (sqlite3_int64)arg);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		const char *key = (const char *)sqlite3_column_text(st, 0);

		st_pruned_note(pr, t, key ? key : "",
			       sqlite3_column_int64(st, 1),
			       sqlite3_column_blob(st, 2),
			       sqlite3_column_bytes(st, 2));
		n++;
	}
	if (rc == SQLITE_DONE && t < 0)
		n = sqlite3_changes(s->db);
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE)
		return st_db_error(s, "cannot prune");
	*pruned += n;
	return 0;
}

/* Rows deleted by one statement: a prune is spread over loop turns. */
/* Rows deleted a turn: the monitor waits meanwhile (a few ms each). */
#define PRUNE_CHUNK 4000
#define PRUNE_CHUNK_SQL "4000"

static int count_one(struct dw_store *s, const char *sql, long long *n)
{
	sqlite3_stmt *st;
	int err = st_prepare(s, &st, sql);

	if (err)
		return err;
	if (sqlite3_step(st) == SQLITE_ROW)
		*n = sqlite3_column_int64(st, 0);
	else
		err = st_db_error(s, "cannot count");
	sqlite3_finalize(st);
	return err;
}

/*
 * One container's rows of chained table `t` past its newest `cap`, the
 * oldest first (a chain is only ever cut at its beginning), a chunk.
 */
static int prune_container(struct dw_store *s, int t, long long cap,
			   struct st_pruned *pr, long long *n)
{
	const char *table = t == ST_EVENTS ? "events" : "findings";
	char sql[600];
	sqlite3_stmt *st;
	char **ids = NULL;
	size_t nid = 0, alloc = 0, i;
	int err;

	snprintf(sql, sizeof(sql),
		 "SELECT container_id FROM %s GROUP BY container_id HAVING "
		 "count(*) > ?1 LIMIT 16",
		 table);
	err = st_prepare(s, &st, sql);
	if (err)
		return err;
	sqlite3_bind_int64(st, 1, cap);
	while (sqlite3_step(st) == SQLITE_ROW) {
		DW_ALLOC_GROW(ids, nid + 1, alloc);
		ids[nid++] =
			dw_xstrdup((const char *)sqlite3_column_text(st, 0));
	}
	sqlite3_finalize(st);
	snprintf(sql, sizeof(sql),
		 "DELETE FROM %s WHERE id IN (SELECT id FROM %s WHERE "
		 "container_id = ?1 ORDER BY id LIMIT max(0, min(%d, (SELECT "
		 "count(*) FROM %s WHERE container_id = ?1) - ?2))) "
		 "RETURNING container_id, chain_seq, chain_hash",
		 table, table, PRUNE_CHUNK, table);
	for (i = 0; !err && i < nid; i++) {
		int rc;

		err = st_prepare(s, &st, sql);
		if (err)
			break;
		sqlite3_bind_text(st, 1, ids[i], -1, SQLITE_STATIC);
		sqlite3_bind_int64(st, 2, cap);
		while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
			st_pruned_note(pr, t, ids[i],
				       sqlite3_column_int64(st, 1),
				       sqlite3_column_blob(st, 2),
				       sqlite3_column_bytes(st, 2));
			(*n)++;
		}
		sqlite3_finalize(st);
		if (rc != SQLITE_DONE)
			err = st_db_error(s, "cannot prune");
	}
	for (i = 0; i < nid; i++)
		free(ids[i]);
	free(ids);
	return err;
}

int dw_store_prune(struct dw_store *s, long long max_age_s, long long max_rows,
		   EVP_PKEY *k, const char *host, struct dw_prune *out)
{
	/*
	 * By age: each table's own time column (seconds). The newest row
	 * of each stays, so ids never start again from 1 (a sink would
	 * take new alerts for ones it had). Of a chained table, the rows
	 * before the first one young enough: a prefix (a clock set back
	 * cannot make a gap in a chain), its keys, positions and hashes
	 * returned.
	 */
#define CHAINED_CHUNK(t, cond)                                                 \
	"DELETE FROM " t " WHERE id IN (SELECT id FROM " t " WHERE " cond      \
	" AND id < (SELECT max(id) FROM " t                                    \
	") ORDER BY id LIMIT " PRUNE_CHUNK_SQL ") "                            \
	"RETURNING container_id, chain_seq, chain_hash"
#define YOUNG(t)                                                               \
	"id < coalesce((SELECT min(id) FROM " t " WHERE time >= ?1), "         \
	"(SELECT max(id) FROM " t "))"
	static const struct {
		const char *sql;
		int t; /* chained: ST_EVENTS, ST_FINDINGS; -1 */
	} by_age[] = {
		{CHAINED_CHUNK("events", YOUNG("events")), ST_EVENTS},
		{"DELETE FROM alerts WHERE id IN (SELECT id FROM alerts WHERE "
		 "created < ?1 AND id < (SELECT max(id) FROM alerts) "
		 "LIMIT " PRUNE_CHUNK_SQL ")",
		 -1},
		{CHAINED_CHUNK("findings", YOUNG("findings")), ST_FINDINGS},
	};
	/* By count: the newest rows stay (ids grow with time). */
	static const struct {
		const char *sql;
		int t;
	} by_rows[] = {
		{CHAINED_CHUNK("events",
			       "id <= (SELECT max(id) FROM events) - ?1"),
		 ST_EVENTS},
		{"DELETE FROM alerts WHERE id IN (SELECT id FROM alerts WHERE "
		 "id <= (SELECT max(id) FROM alerts) - ?1 AND id < (SELECT "
		 "max(id) FROM alerts) LIMIT " PRUNE_CHUNK_SQL ")",
		 -1},
		{CHAINED_CHUNK("findings",
			       "id <= (SELECT max(id) FROM findings) - ?1"),
		 ST_FINDINGS},
	};
#undef CHAINED_CHUNK
#undef YOUNG
	static const char orphans[] = "SELECT count(*) FROM deliveries WHERE "
				      "delivered IS NULL AND alert_id NOT IN "
				      "(SELECT id FROM alerts)";
	static const char drop_orphans[] = "DELETE FROM deliveries WHERE "
					   "alert_id NOT IN (SELECT id FROM "
					   "alerts)";
	struct st_pruned pr = {NULL, 0, 0};
	long long n = 0, before;
	size_t i;
	int err = dw_store_begin(s);

	memset(out, 0, sizeof(*out));
	for (i = 0; !err && max_age_s > 0 && i < 3; i++) {
		before = n;
		err = prune_one(s, by_age[i].sql,
				(long long)time(NULL) - max_age_s, by_age[i].t,
				&pr, &n);
		out->more |= n - before >= PRUNE_CHUNK;
	}
	for (i = 0; !err && max_rows > 0 && i < 3; i++) {
		before = n;
		err = prune_one(s, by_rows[i].sql, max_rows, by_rows[i].t, &pr,
				&n);
		out->more |= n - before >= PRUNE_CHUNK;
	}
	/* One container may not push every other's record out: each keeps
	 * at most a tenth of the cap of findings and events. */
	if (!err && max_rows > 0) {
		before = n;
		err = prune_container(s, ST_FINDINGS, (max_rows + 9) / 10, &pr,
				      &n);
		if (!err)
			err = prune_container(s, ST_EVENTS, (max_rows + 9) / 10,
					      &pr, &n);
		out->more |= n - before >= PRUNE_CHUNK;
	}
	/* Deliveries of alerts that went: those never made are counted. */
	if (!err)
		err = count_one(s, orphans, &out->undelivered);
	if (!err)
		err = prune_one(s, drop_orphans, 0, -1, &pr, &n);
	/* What was deleted is the chains' new base: a checkpoint, signed
	 * with the heads by driftwatchd right after. */
	if (!err)
		err = st_pruned_apply(s, &pr);
	if (!err && pr.n && k) {
		int done;

		err = dw_store_sign_heads(s, k, host, 0, &done);
	}
	st_pruned_release(&pr);
	if (err) {
		dw_store_rollback(s);
		return err;
	}
	err = dw_store_commit(s);
	if (!err)
		out->pruned = n;
	return err;
}

int dw_store_delivery_counts(struct dw_store *s, dw_sink_count_fn cb, void *ctx)
{
	static const char sql[] =
		"SELECT sink, count(*), coalesce(sum(attempts > 0), 0) FROM "
		"deliveries WHERE delivered IS NULL GROUP BY sink ORDER BY "
		"sink";
	sqlite3_stmt *st;
	int err = 0;

	if (st_prepare(s, &st, sql))
		return DW_EIO;
	while (!err && sqlite3_step(st) == SQLITE_ROW)
		err = cb((const char *)sqlite3_column_text(st, 0),
			 sqlite3_column_int64(st, 1),
			 sqlite3_column_int64(st, 2), ctx);
	sqlite3_finalize(st);
	return err;
}
