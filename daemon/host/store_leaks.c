/* The store: findings of secrets and swarm rotations. */
#include <signal.h>
#include <stdlib.h>
#include <time.h>

#include "store_int.h"

#include "driftwatch/banned.h"

int dw_store_finding_known(struct dw_store *s,
			   const struct dw_finding_record *r)
{
	static const char sql[] =
		"SELECT 1 FROM findings WHERE container_id = ?1 AND "
		"fingerprint = ?2 AND (?3 OR path = ?4) LIMIT 1";
	sqlite3_stmt *st;
	int known;

	if (st_prepare(s, &st, sql))
		return 0;
	sqlite3_bind_text(st, 1, r->source_id, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, r->fingerprint, -1, SQLITE_STATIC);
	sqlite3_bind_int(st, 3, r->once_per_source);
	sqlite3_bind_blob(st, 4, r->path, (int)r->path_len, SQLITE_STATIC);
	known = sqlite3_step(st) == SQLITE_ROW;
	sqlite3_finalize(st);
	return known;
}

/* Now, for a finding's time; tests may set the store's clock back
 * (DW_TEST_STORE_CLOCK, seconds), to have a history that old. */
static long long finding_time(void)
{
	long long now = (long long)time(NULL);
#ifdef DW_TEST_HOOKS
	const char *off = getenv("DW_TEST_STORE_CLOCK");

	if (off)
		now += strtoll(off, NULL, 10);
#endif
	return now;
}

int dw_store_add_finding(struct dw_store *s, const struct dw_finding_record *r,
			 int *is_new)
{
	static const char sql[] =
		"INSERT OR IGNORE INTO findings(time, container_id, path, rule,"
		" severity, fingerprint, line, redacted, source, cluster, role,"
		" status, valid_from, valid_until, rotated_by) VALUES (?1,?2,"
		"?3,?4,?5,?6,?7,?8,?9,?10,?11,?12,?13,?14,?15)";
	sqlite3_stmt *st;
	int own, err;

	*is_new = 0;
	if (dw_store_finding_known(s, r))
		return 0;
	err = dw_store_tx_enter(s, &own);
	if (!err)
		err = st_prepare(s, &st, sql);
	if (err)
		return dw_store_tx_leave(s, own, err);
	sqlite3_bind_int64(st, 1, (sqlite3_int64)finding_time());
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
	if (r->valid_from)
		sqlite3_bind_int64(st, 13, r->valid_from);
	if (r->valid_until)
		sqlite3_bind_int64(st, 14, r->valid_until);
	sqlite3_bind_text(st, 15, r->rotated_by, -1, SQLITE_STATIC);
	err = st_step_done(s, st, "cannot record finding");
	*is_new = !err && sqlite3_changes(s->db) > 0;
	if (*is_new)
		err = st_chain_one(s, ST_FINDINGS, r->source_id,
				   sqlite3_last_insert_rowid(s->db));
	err = dw_store_tx_leave(s, own, err);
	if (err)
		*is_new = 0;
	if (*is_new) {
		int v = dw_severity_parse(r->severity);

		if (v >= 0 && v < 5)
			s->counts.findings[v]++;
	}
#ifdef DW_TEST_HOOKS
	/* Tests: the process killed right after its Nth new finding. */
	if (*is_new && getenv("DW_TEST_KILL_AFTER_FINDING")) {
		static long stored;

		if (++stored ==
		    strtol(getenv("DW_TEST_KILL_AFTER_FINDING"), NULL, 10))
			raise(SIGKILL);
	}
#endif
	return err;
}

static int add_rotation(struct dw_store *s, const char *swarm_id,
			const char *what, const char *before, const char *after,
			const char *reason)
{
	static const char sql[] =
		"INSERT INTO rotations(time, swarm_id, what, "
		"before_fingerprint,"
		" after_fingerprint, reason) VALUES (?1,?2,?3,?4,?5,?6)";
	sqlite3_stmt *st;
	int rc;

	if (sqlite3_prepare_v2(s->db, sql, -1, &st, NULL) != SQLITE_OK)
		return st_db_error(s, "cannot st_prepare rotation record");
	sqlite3_bind_int64(st, 1, (sqlite3_int64)time(NULL));
	sqlite3_bind_text(st, 2, swarm_id, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, what, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 4, before, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 5, after, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 6, reason, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE)
		return st_db_error(s, "cannot record rotation");
	return st_chain_one(s, ST_ROTATIONS, "",
			    sqlite3_last_insert_rowid(s->db));
}

int dw_store_record_rotation(struct dw_store *s, const char *swarm_id,
			     const char *what, const char *before,
			     const char *after, const char *reason)
{
	char summary[256];
	json_t *p;
	int own, err = dw_store_tx_enter(s, &own);

	if (!err)
		err = add_rotation(s, swarm_id, what, before, after, reason);
	if (err)
		return dw_store_tx_leave(s, own, err);
	p = json_pack("{s:s, s:s, s:s, s:s, s:s?}", "swarm", swarm_id, "what",
		      what, "before", before, "after", after, "reason", reason);
	snprintf(summary, sizeof(summary), "rotated the %s of swarm %s", what,
		 swarm_id);
	err = dw_store_alert(s, "rotation", summary, p);
	json_decref(p);
	return dw_store_tx_leave(s, own, err);
}

int dw_store_swarm_secret_seen(struct dw_store *s, const char *swarm_id,
			       const char *role, const char *fingerprint,
			       const char *ended_by, long long since)
{
	sqlite3_stmt *st;
	long long now = (long long)time(NULL);
	int same = 0, err = dw_store_begin(s);

	if (err)
		return err;
	err = st_prepare(s, &st,
			 "SELECT fingerprint = ?3 FROM swarm_secrets WHERE "
			 "swarm_id = ?1 AND role = ?2 AND valid_until IS NULL");
	if (!err) {
		sqlite3_bind_text(st, 1, swarm_id, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 2, role, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 3, fingerprint, -1, SQLITE_STATIC);
		same = sqlite3_step(st) == SQLITE_ROW &&
		       sqlite3_column_int(st, 0);
		sqlite3_finalize(st);
	}
	if (!err && !same) {
		err = st_prepare(s, &st,
				 "UPDATE swarm_secrets SET valid_until = ?3, "
				 "ended_by = ?4 WHERE swarm_id = ?1 AND role "
				 "= ?2 AND valid_until IS NULL");
		if (!err) {
			sqlite3_bind_text(st, 1, swarm_id, -1, SQLITE_STATIC);
			sqlite3_bind_text(st, 2, role, -1, SQLITE_STATIC);
			sqlite3_bind_int64(st, 3, now);
			sqlite3_bind_text(st, 4, ended_by, -1, SQLITE_STATIC);
			err = st_step_done(s, st, "cannot end a swarm secret");
		}
		if (!err)
			err = st_prepare(s, &st,
					 "INSERT OR IGNORE INTO swarm_secrets "
					 "VALUES (?1, ?2, ?3, ?4, NULL, NULL)");
		if (!err) {
			sqlite3_bind_text(st, 1, swarm_id, -1, SQLITE_STATIC);
			sqlite3_bind_text(st, 2, role, -1, SQLITE_STATIC);
			sqlite3_bind_text(st, 3, fingerprint, -1,
					  SQLITE_STATIC);
			if (since > 0)
				sqlite3_bind_int64(st, 4, since);
			err = st_step_done(s, st,
					   "cannot record a swarm secret");
		}
	}
	if (err) {
		dw_store_rollback(s);
		return err;
	}
	return dw_store_commit(s);
}

json_t *dw_store_swarm_secret_find(struct dw_store *s, const char *fingerprint)
{
	sqlite3_stmt *st;
	json_t *out = NULL;

	if (st_prepare(s, &st,
		       "SELECT swarm_id, role, valid_from, valid_until, "
		       "ended_by FROM swarm_secrets WHERE fingerprint = ?1 "
		       "LIMIT 1"))
		return NULL;
	sqlite3_bind_text(st, 1, fingerprint, -1, SQLITE_STATIC);
	if (sqlite3_step(st) == SQLITE_ROW) {
		out = json_pack("{s:s, s:s}", "swarm_id",
				(const char *)sqlite3_column_text(st, 0),
				"role",
				(const char *)sqlite3_column_text(st, 1));
		if (sqlite3_column_type(st, 2) != SQLITE_NULL)
			json_object_set_new(
				out, "valid_from",
				json_integer(sqlite3_column_int64(st, 2)));
		if (sqlite3_column_type(st, 3) != SQLITE_NULL)
			json_object_set_new(
				out, "valid_until",
				json_integer(sqlite3_column_int64(st, 3)));
		if (sqlite3_column_type(st, 4) != SQLITE_NULL)
			json_object_set_new(
				out, "rotated_by",
				json_string((const char *)sqlite3_column_text(
					st, 4)));
	}
	sqlite3_finalize(st);
	return out;
}

int dw_store_swarm_history_copy(struct dw_store **out, const char *path)
{
	struct dw_store *mem = NULL, *src = NULL;
	sqlite3_stmt *get = NULL, *put = NULL;
	int err, rc = SQLITE_DONE, i;

	*out = NULL;
	err = dw_store_open(&src, path, 1);
	if (!err)
		err = dw_store_open(&mem, ":memory:", 0);
	if (!err)
		err = st_prepare(src, &get,
				 "SELECT swarm_id, role, fingerprint, "
				 "valid_from, valid_until, ended_by FROM "
				 "swarm_secrets");
	if (!err)
		err = st_prepare(
			mem, &put,
			"INSERT OR IGNORE INTO swarm_secrets(swarm_id, "
			"role, fingerprint, valid_from, valid_until, "
			"ended_by) VALUES (?1, ?2, ?3, ?4, ?5, ?6)");
	while (!err && (rc = sqlite3_step(get)) == SQLITE_ROW) {
		for (i = 0; i < 6; i++)
			sqlite3_bind_value(put, i + 1,
					   sqlite3_column_value(get, i));
		if (sqlite3_step(put) != SQLITE_DONE)
			err = st_db_error(mem, "cannot copy the history");
		sqlite3_reset(put);
	}
	if (!err && rc != SQLITE_DONE)
		err = st_db_error(src, "cannot read the history");
	sqlite3_finalize(get);
	sqlite3_finalize(put);
	dw_store_close(src);
	if (err) {
		dw_store_close(mem);
		return err;
	}
	*out = mem;
	return 0;
}
