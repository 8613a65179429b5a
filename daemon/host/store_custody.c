/* The store: the chain of custody of snapshots. */
#include "store_int.h"

#include "driftwatch/banned.h"

static int add_snapshot(struct dw_store *s, const struct dw_snapshot_record *r)
{
	static const char sql[] =
		"INSERT INTO snapshots(time, container_id, container_name, "
		"path, archive_sha256, evidence_sha256, reason, operator, "
		"host, paused, statement_sha256) VALUES (?1,?2,?3,?4,?5,?6,?7,"
		"?8,?9,?10,?11)";
	sqlite3_stmt *st;
	int rc;

	if (sqlite3_prepare_v2(s->db, sql, -1, &st, NULL) != SQLITE_OK)
		return st_db_error(s, "cannot st_prepare snapshot record");
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
	sqlite3_bind_text(st, 11, r->statement_sha256, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE)
		return st_db_error(s, "cannot record snapshot");
	return st_chain_one(s, ST_SNAPSHOTS, "",
			    sqlite3_last_insert_rowid(s->db));
}

int dw_store_record_snapshot(struct dw_store *s,
			     const struct dw_snapshot_record *r)
{
	char summary[4200];
	json_t *p;
	int own, err = dw_store_tx_enter(s, &own);

	if (!err)
		err = add_snapshot(s, r);
	if (err)
		return dw_store_tx_leave(s, own, err);
	/* The digests leave the host with the alert: the statement's too,
	 * so that a re-signed one is told from the one made then. */
	p = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s?, s:s?, s:s, s:b}",
		      "container", r->container_name, "id", r->container_id,
		      "path", r->path, "archive_sha256", r->archive_sha256,
		      "evidence_sha256", r->evidence_sha256, "statement_sha256",
		      r->statement_sha256, "reason", r->reason, "operator",
		      r->operator_name, "paused", r->paused);
	snprintf(summary, sizeof(summary), "snapshot of %s taken: %s",
		 r->container_name, r->path);
	err = dw_store_alert(s, "snapshot", summary, p);
	json_decref(p);
	return dw_store_tx_leave(s, own, err);
}

long long dw_store_last_snapshot(struct dw_store *s, const char *cid,
				 const char *operator_name)
{
	sqlite3_stmt *st;
	long long t = 0;

	if (st_prepare(s, &st,
		       "SELECT coalesce(max(time), 0) FROM snapshots "
		       "WHERE container_id = ?1 AND operator = ?2"))
		return 0;
	sqlite3_bind_text(st, 1, cid, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, operator_name, -1, SQLITE_STATIC);
	if (sqlite3_step(st) == SQLITE_ROW)
		t = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return t;
}
