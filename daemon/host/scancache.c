/* The incremental blob cache of `scan --git`, in SQLite. */
#include <sqlite3.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "driftwatch/buf.h"
#include "driftwatch/error.h"
#include "scancache.h"
#include "driftwatch/xmalloc.h"
#include "driftwatch/banned.h"

struct cache {
	struct dw_blob_cache api;
	sqlite3 *db;
	char *rules;
	sqlite3_stmt *get_blob, *get_findings, *put_blob, *del_findings,
		*put_finding;
};

static const char schema[] =
	"CREATE TABLE IF NOT EXISTS blobs (blob TEXT PRIMARY KEY,"
	" rules TEXT NOT NULL) WITHOUT ROWID;"
	"CREATE TABLE IF NOT EXISTS findings (blob TEXT NOT NULL,"
	" rule TEXT NOT NULL, line INTEGER NOT NULL, col INTEGER NOT NULL,"
	" fingerprint TEXT NOT NULL, redacted TEXT NOT NULL);"
	"CREATE INDEX IF NOT EXISTS findings_blob ON findings(blob);";

static int fail(struct cache *c, const char *what)
{
	return dw_error_set(DW_EIO, "scan cache: %s: %s", what,
			    sqlite3_errmsg(c->db));
}

static int get(void *self, const char *blob, dw_cached_finding_cb cb, void *ctx)
{
	struct cache *c = self;
	const char *rules;
	int hit;

	sqlite3_reset(c->get_blob);
	sqlite3_bind_text(c->get_blob, 1, blob, -1, SQLITE_STATIC);
	if (sqlite3_step(c->get_blob) != SQLITE_ROW)
		return 0;
	rules = (const char *)sqlite3_column_text(c->get_blob, 0);
	hit = rules && !strcmp(rules, c->rules);
	if (!hit)
		return 0;
	sqlite3_reset(c->get_findings);
	sqlite3_bind_text(c->get_findings, 1, blob, -1, SQLITE_STATIC);
	while (sqlite3_step(c->get_findings) == SQLITE_ROW)
		cb((const char *)sqlite3_column_text(c->get_findings, 0),
		   (uint64_t)sqlite3_column_int64(c->get_findings, 1),
		   (uint64_t)sqlite3_column_int64(c->get_findings, 2),
		   (const char *)sqlite3_column_text(c->get_findings, 3),
		   (const char *)sqlite3_column_text(c->get_findings, 4), ctx);
	return 1;
}

static int begin(void *self)
{
	struct cache *c = self;

	return sqlite3_exec(c->db, "BEGIN IMMEDIATE", NULL, NULL, NULL) ==
			       SQLITE_OK
		       ? 0
		       : fail(c, "begin");
}

static int put_blob(void *self, const char *blob)
{
	struct cache *c = self;

	sqlite3_reset(c->del_findings);
	sqlite3_bind_text(c->del_findings, 1, blob, -1, SQLITE_STATIC);
	sqlite3_reset(c->put_blob);
	sqlite3_bind_text(c->put_blob, 1, blob, -1, SQLITE_STATIC);
	sqlite3_bind_text(c->put_blob, 2, c->rules, -1, SQLITE_STATIC);
	if (sqlite3_step(c->del_findings) != SQLITE_DONE ||
	    sqlite3_step(c->put_blob) != SQLITE_DONE)
		return fail(c, "cannot record a blob");
	return 0;
}

static int put_finding(void *self, const char *blob, const char *rule,
		       uint64_t line, uint64_t column, const char *fp,
		       const char *redacted)
{
	struct cache *c = self;
	sqlite3_stmt *st = c->put_finding;

	sqlite3_reset(st);
	sqlite3_bind_text(st, 1, blob, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, rule, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 3, (sqlite3_int64)line);
	sqlite3_bind_int64(st, 4, (sqlite3_int64)column);
	sqlite3_bind_text(st, 5, fp, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 6, redacted, -1, SQLITE_STATIC);
	return sqlite3_step(st) == SQLITE_DONE
		       ? 0
		       : fail(c, "cannot record a finding");
}

static int commit(void *self, int err)
{
	struct cache *c = self;

	if (err) {
		sqlite3_exec(c->db, "ROLLBACK", NULL, NULL, NULL);
		return err;
	}
	return sqlite3_exec(c->db, "COMMIT", NULL, NULL, NULL) == SQLITE_OK
		       ? 0
		       : fail(c, "commit");
}

static int prepare(struct cache *c)
{
	static const struct {
		size_t off;
		const char *sql;
	} q[] = {
		{offsetof(struct cache, get_blob),
		 "SELECT rules FROM blobs WHERE blob=?1"},
		{offsetof(struct cache, get_findings),
		 "SELECT rule, line, col, fingerprint, redacted FROM findings"
		 " WHERE blob=?1"},
		{offsetof(struct cache, put_blob),
		 "INSERT OR REPLACE INTO blobs VALUES (?1, ?2)"},
		{offsetof(struct cache, del_findings),
		 "DELETE FROM findings WHERE blob=?1"},
		{offsetof(struct cache, put_finding),
		 "INSERT INTO findings VALUES (?1,?2,?3,?4,?5,?6)"},
	};
	size_t i;

	for (i = 0; i < sizeof(q) / sizeof(q[0]); i++)
		if (sqlite3_prepare_v2(c->db, q[i].sql, -1,
				       (sqlite3_stmt **)((char *)c + q[i].off),
				       NULL) != SQLITE_OK)
			return fail(c, "cannot prepare");
	return 0;
}

static int open_db(struct cache *c, const char *path)
{
	mode_t old = umask(077);
	int rc = sqlite3_open_v2(path, &c->db,
				 SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE |
					 SQLITE_OPEN_NOFOLLOW,
				 NULL);

	umask(old);
	if (rc != SQLITE_OK)
		return rc;
	/* Its content is what earlier scans wrote, of hostile input
	 * perhaps: no schema it holds runs anything. */
	sqlite3_db_config(c->db, SQLITE_DBCONFIG_DEFENSIVE, 1, NULL);
	sqlite3_db_config(c->db, SQLITE_DBCONFIG_TRUSTED_SCHEMA, 0, NULL);
	sqlite3_busy_timeout(c->db, 5000);
	rc = sqlite3_exec(c->db,
			  "PRAGMA journal_mode=WAL; PRAGMA temp_store=MEMORY",
			  NULL, NULL, NULL);
	if (rc == SQLITE_OK)
		rc = sqlite3_exec(c->db, schema, NULL, NULL, NULL);
	return rc;
}

int dw_scancache_open(struct dw_blob_cache **out, const char *path,
		      const char *rules_digest)
{
	struct cache *c = dw_xcalloc(1, sizeof(*c));
	int rc = open_db(c, path), err = 0;

	c->rules = dw_xstrdup(rules_digest);
	/* A cache that is not one (damaged, or written over): kept aside,
	 * said, and a new one begun; only a cache, it loses no finding. */
	if (rc == SQLITE_NOTADB || rc == SQLITE_CORRUPT) {
		struct dw_buf aside = DW_BUF_INIT;

		sqlite3_close(c->db);
		c->db = NULL;
		dw_buf_addf(&aside, "%s.damaged", path);
		if (!rename(path, aside.ptr)) {
			static const char *const side[] = {"-wal", "-shm"};
			int k;

			for (k = 0; k < 2; k++) {
				struct dw_buf p = DW_BUF_INIT;

				dw_buf_addf(&p, "%s%s", path, side[k]);
				unlink(p.ptr);
				dw_buf_release(&p);
			}
			fprintf(stderr,
				"driftwatch scan: warning: the scan cache %s "
				"was not a cache (%s): moved to %s, and a new "
				"one begun\n",
				path, sqlite3_errstr(rc), aside.ptr);
			rc = open_db(c, path);
		}
		dw_buf_release(&aside);
	}
	if (rc != SQLITE_OK)
		err = dw_error_set(DW_EIO, "scan cache %s: %s", path,
				   c->db ? sqlite3_errmsg(c->db)
					 : sqlite3_errstr(rc));
	if (!err)
		err = prepare(c);
	if (err) {
		dw_scancache_close(&c->api);
		return err;
	}
	c->api = (struct dw_blob_cache){c,	  get,	       begin,
					put_blob, put_finding, commit};
	*out = &c->api;
	return 0;
}

void dw_scancache_rules(struct dw_blob_cache *api, const char *rules_digest)
{
	struct cache *c = (struct cache *)api;

	free(c->rules);
	c->rules = dw_xstrdup(rules_digest);
}

void dw_scancache_close(struct dw_blob_cache *api)
{
	struct cache *c = (struct cache *)api;

	if (!c)
		return;
	sqlite3_finalize(c->get_blob);
	sqlite3_finalize(c->get_findings);
	sqlite3_finalize(c->put_blob);
	sqlite3_finalize(c->del_findings);
	sqlite3_finalize(c->put_finding);
	sqlite3_close(c->db);
	free(c->rules);
	free(c);
}
