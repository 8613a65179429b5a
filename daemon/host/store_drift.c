/* The store: the current drift of each container and its history (events). */
#include "store_int.h"

#include "driftwatch/banned.h"

sqlite3_int64 st_mtime_ns(const struct dw_change_meta *m)
{
	return (sqlite3_int64)m->mtime_sec * 1000000000 + m->mtime_nsec;
}

struct apply_stmts {
	sqlite3_stmt *put, *del, *event;
	struct st_chain chain; /* the container's events */
};

static void bind_row(sqlite3_stmt *st, const struct dw_change_row *r,
		     const char *cid, sqlite3_int64 now)
{
	char kind[2] = {r->kind, '\0'};
	const struct dw_change_meta *m = r->meta;
	int i;

	sqlite3_bind_text(st, 1, cid, -1, SQLITE_STATIC);
	sqlite3_bind_blob(st, 2, r->path, (int)r->path_len, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, kind, -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(st, 4, dw_file_type_name(r->mode), -1, SQLITE_STATIC);
	for (i = 5; i <= 9; i++)
		sqlite3_bind_null(st, i);
	sqlite3_bind_null(st, 15);
	sqlite3_bind_null(st, 16);
	if (m) {
		sqlite3_bind_int64(st, 5, r->mode);
		sqlite3_bind_int64(st, 6, m->uid);
		sqlite3_bind_int64(st, 7, m->gid);
		sqlite3_bind_int64(st, 8, m->size);
		sqlite3_bind_int64(st, 9, st_mtime_ns(m));
		sqlite3_bind_int64(st, 15, m->ctime_ns);
		sqlite3_bind_int64(st, 16, (sqlite3_int64)m->ino);
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
	sqlite3_bind_text(st, 14, dw_severity_name(r->severity), -1,
			  SQLITE_STATIC);
}

static int apply_row(struct dw_store *s, struct apply_stmts *q, const char *cid,
		     const struct dw_change_row *r, const char *source,
		     sqlite3_int64 now_us)
{
	char kind[2] = {r->kind, '\0'};
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
		return st_db_error(s, "cannot record change");
	st = q->event;
	sqlite3_reset(st);
	sqlite3_bind_int64(st, 1, now_us / 1000000);
	sqlite3_bind_text(st, 2, cid, -1, SQLITE_STATIC);
	sqlite3_bind_blob(st, 3, r->path, (int)r->path_len, SQLITE_STATIC);
	sqlite3_bind_text(st, 4, kind, -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(st, 5, source, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 6, now_us);
	sqlite3_bind_text(st, 7, dw_severity_name(r->severity), -1,
			  SQLITE_STATIC);
	if (r->sha256)
		sqlite3_bind_text(st, 8, r->sha256, -1, SQLITE_STATIC);
	else
		sqlite3_bind_null(st, 8);
	if (r->detail)
		sqlite3_bind_text(st, 9, r->detail, -1, SQLITE_STATIC);
	else
		sqlite3_bind_null(st, 9);
	if (sqlite3_step(st) != SQLITE_DONE)
		return st_db_error(s, "cannot append event");
	st_count_event(s, r->kind, dw_severity_name(r->severity));
	return st_chain_add(s, &q->chain, sqlite3_last_insert_rowid(s->db));
}

int dw_store_apply_changes(struct dw_store *s, const char *cid,
			   const struct dw_change_row *rows, size_t n,
			   const char *source, long long time_us)
{
	static const char put[] =
		"INSERT INTO changes(container_id, path, kind, type, mode, uid,"
		" gid, size, st_mtime_ns, first_seen, last_seen, sha256, "
		"executable, elf, severity, st_ctime_ns, st_ino) VALUES (?1,?2,"
		"?3,?4,?5,?6,?7,?8,?9,?10,?10,?11,?12,?13,?14,?15,?16) ON "
		"CONFLICT(container_id, path) DO "
		"UPDATE SET kind=?3, type=?4, mode=?5, uid=?6, gid=?7, size=?8,"
		" st_mtime_ns=?9, last_seen=?10, sha256=?11, executable=?12, "
		"elf=?13, severity=?14, st_ctime_ns=?15, st_ino=?16";
	static const char del[] =
		"DELETE FROM changes WHERE container_id=?1 AND path=?2";
	static const char event[] =
		"INSERT INTO events(time, container_id, path, kind, source, "
		"time_us, severity, sha256, detail) VALUES (?1,?2,?3,?4,?5,?6,"
		"?7,?8,?9)";
	struct apply_stmts q;
	size_t i;
	int err;

	memset(&q, 0, sizeof(q));
	err = st_chain_load(s, ST_EVENTS, cid, &q.chain);
	if (!err)
		err = st_prepare(s, &q.put, put);
	if (!err)
		err = st_prepare(s, &q.del, del);
	if (!err)
		err = st_prepare(s, &q.event, event);
	for (i = 0; !err && i < n; i++)
		err = apply_row(s, &q, cid, &rows[i], source, time_us);
	if (!err)
		err = st_chain_save(s, &q.chain);
	st_chain_release(&q.chain);
	sqlite3_finalize(q.put);
	sqlite3_finalize(q.del);
	sqlite3_finalize(q.event);
	return err;
}

void st_count_event(struct dw_store *s, char kind, const char *sev)
{
	const char *k = strchr(DW_STORE_KINDS, kind);
	int v = dw_severity_parse(sev);

	if (k && kind && v >= 0 && v < 5)
		s->counts.events[k - DW_STORE_KINDS][v]++;
}

void dw_store_counts(const struct dw_store *s, struct dw_store_counts *out)
{
	*out = s->counts;
}

int dw_store_record_exec(struct dw_store *s, const char *cid, const char *path,
			 enum dw_severity sev, const char *sha256,
			 const char *detail, long long time_us)
{
	static const char sql[] =
		"INSERT INTO events(time, container_id, path, kind, source, "
		"time_us, severity, sha256, detail) VALUES (?1,?2,?3,'X',"
		"'fanotify',?4,?5,?6,?7)";
	struct st_chain chain;
	sqlite3_stmt *st = NULL;
	int err, own;

	err = dw_store_tx_enter(s, &own);
	if (err)
		return err;
	memset(&chain, 0, sizeof(chain));
	err = st_chain_load(s, ST_EVENTS, cid, &chain);
	if (!err)
		err = st_prepare(s, &st, sql);
	if (!err) {
		sqlite3_bind_int64(st, 1, time_us / 1000000);
		sqlite3_bind_text(st, 2, cid, -1, SQLITE_STATIC);
		sqlite3_bind_blob(st, 3, path, (int)strlen(path),
				  SQLITE_STATIC);
		sqlite3_bind_int64(st, 4, time_us);
		sqlite3_bind_text(st, 5, dw_severity_name(sev), -1,
				  SQLITE_STATIC);
		if (sha256)
			sqlite3_bind_text(st, 6, sha256, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 7, detail, -1, SQLITE_STATIC);
		if (sqlite3_step(st) != SQLITE_DONE)
			err = st_db_error(s, "cannot append an exec event");
		else
			st_count_event(s, 'X', dw_severity_name(sev));
	}
	if (!err)
		err = st_chain_add(s, &chain, sqlite3_last_insert_rowid(s->db));
	if (!err)
		err = st_chain_save(s, &chain);
	st_chain_release(&chain);
	sqlite3_finalize(st);
	return dw_store_tx_leave(s, own, err);
}

#define ROW_COLUMNS                                                            \
	"SELECT path, kind, mode, uid, gid, size, st_mtime_ns, sha256, "       \
	"coalesce(executable, -1), coalesce(elf, -1), severity, type, "        \
	"coalesce(st_ctime_ns, 0), coalesce(st_ino, 0) FROM changes "

/* Call `cb` with each row `st` steps to (ROW_COLUMNS), until it returns
 * other than 0 (returned). */
static int each_row(sqlite3_stmt *st, dw_row_fn cb, void *ctx)
{
	int err = 0;

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
			DW_SEV_ALLOWED,
			NULL,
		};
		int sev = dw_severity_parse(
			(const char *)sqlite3_column_text(st, 10));

		if (sev > 0)
			r.severity = (enum dw_severity)sev;
		if (sqlite3_column_type(st, 2) != SQLITE_NULL) {
			sqlite3_int64 ns = sqlite3_column_int64(st, 6);

			m.uid = (uint32_t)sqlite3_column_int64(st, 3);
			m.gid = (uint32_t)sqlite3_column_int64(st, 4);
			m.size = sqlite3_column_int64(st, 5);
			m.mtime_sec = ns / 1000000000;
			m.mtime_nsec = ns % 1000000000;
			m.ctime_ns = sqlite3_column_int64(st, 12);
			m.ino = (uint64_t)sqlite3_column_int64(st, 13);
			r.meta = &m;
		} else {
			r.mode = dw_file_type_mode(
				(const char *)sqlite3_column_text(st, 11));
		}
		err = cb(&r, ctx);
	}
	return err;
}

int dw_store_load_changes(struct dw_store *s, const char *cid, dw_row_fn cb,
			  void *ctx)
{
	static const char sql[] =
		ROW_COLUMNS "WHERE container_id=?1 ORDER BY path";
	sqlite3_stmt *st;
	int err = st_prepare(s, &st, sql);

	if (err)
		return err;
	sqlite3_bind_text(st, 1, cid, -1, SQLITE_STATIC);
	err = each_row(st, cb, ctx);
	sqlite3_finalize(st);
	return err;
}

int dw_store_has_change_in(struct dw_store *s, const char *cid, const char *lo,
			   size_t lolen, int lo_incl, const char *hi,
			   size_t hilen)
{
	static const char *const sql[2] = {
		"SELECT 1 FROM changes WHERE container_id=?1 AND path > ?2 "
		"AND path < ?3 LIMIT 1",
		"SELECT 1 FROM changes WHERE container_id=?1 AND path >= ?2 "
		"AND path < ?3 LIMIT 1",
	};
	sqlite3_stmt **st = &s->probe[lo_incl ? 1 : 0];
	int err = st_cached(s, st, sql[lo_incl ? 1 : 0]), rc;

	if (err)
		return err;
	sqlite3_bind_text(*st, 1, cid, -1, SQLITE_STATIC);
	sqlite3_bind_blob(*st, 2, lo, (int)lolen, SQLITE_STATIC);
	sqlite3_bind_blob(*st, 3, hi, (int)hilen, SQLITE_STATIC);
	rc = sqlite3_step(*st);
	sqlite3_reset(*st);
	if (rc == SQLITE_ROW)
		return 1;
	return rc == SQLITE_DONE ? 0
				 : st_db_error(s, "cannot look up a change");
}

int dw_store_has_change(struct dw_store *s, const char *cid, const char *path,
			size_t len, int subtree)
{
	char *lo;
	int rc;

	if (!subtree) {
		sqlite3_stmt **st = &s->probe[2];
		int err = st_cached(s, st,
				    "SELECT 1 FROM changes WHERE "
				    "container_id=?1 AND path=?2");

		if (err)
			return err;
		sqlite3_bind_text(*st, 1, cid, -1, SQLITE_STATIC);
		sqlite3_bind_blob(*st, 2, path, (int)len, SQLITE_STATIC);
		rc = sqlite3_step(*st);
		sqlite3_reset(*st);
		if (rc == SQLITE_ROW)
			return 1;
		return rc == SQLITE_DONE
			       ? 0
			       : st_db_error(s, "cannot look up a change");
	}
	/* Below "a/b": "a/b/" < path < "a/b0" ('0' follows '/'). */
	lo = dw_xmalloc(2 * (len + 1));
	memcpy(lo, path, len);
	lo[len] = '/';
	memcpy(lo + len + 1, path, len);
	lo[2 * len + 1] = '0';
	rc = dw_store_has_change_in(s, cid, lo, len + 1, 0, lo + len + 1,
				    len + 1);
	free(lo);
	return rc;
}

/* Stops each_row() at a row below one of the directories to skip. */
struct below {
	char *const *skip;
	size_t nskip, j;
	dw_row_fn cb;
	void *ctx;
	const char *seek; /* then: go on from here (the skipped dir) */
	size_t seek_len;
};

static int bytecmp(const char *a, size_t alen, const char *b, size_t blen)
{
	int r = memcmp(a, b, alen < blen ? alen : blen);

	return r ? r : (alen > blen) - (alen < blen);
}

static int on_below(const struct dw_change_row *r, void *ctx)
{
	struct below *b = ctx;
	const char *p = r->path;

	/* Skipped dirs whose subtree ("k/" to "k0") ends before the row. */
	while (b->j < b->nskip) {
		const char *k = b->skip[b->j];
		size_t kl = strlen(k);
		int c = bytecmp(p, r->path_len < kl ? r->path_len : kl, k, kl);

		if (c > 0 || (c == 0 && r->path_len > kl &&
			      (unsigned char)p[kl] > '/')) {
			b->j++;
			continue;
		}
		if (c == 0 && r->path_len > kl && p[kl] == '/') {
			b->seek = k;
			b->seek_len = kl;
			return 1;
		}
		break;
	}
	return b->cb(r, b->ctx);
}

int dw_store_load_below(struct dw_store *s, const char *cid, const char *dir,
			size_t len, char *const *skip, size_t nskip,
			dw_row_fn cb, void *ctx)
{
	static const char sql[] = ROW_COLUMNS
		"WHERE container_id=?1 AND path >= ?2 AND path < ?3 "
		"ORDER BY path";
	struct below b = {skip, nskip, 0, cb, ctx, NULL, 0};
	struct dw_buf lo = DW_BUF_INIT, hi = DW_BUF_INIT;
	sqlite3_stmt *st;
	int err = st_prepare(s, &st, sql);

	if (err)
		return err;
	/* From "dir/" to "dir0"; after a skipped "k", on from "k0". */
	dw_buf_add(&lo, dir, len);
	dw_buf_addch(&lo, '/');
	dw_buf_add(&hi, dir, len);
	dw_buf_addch(&hi, '0');
	sqlite3_bind_text(st, 1, cid, -1, SQLITE_STATIC);
	sqlite3_bind_blob(st, 3, hi.ptr, (int)hi.len, SQLITE_STATIC);
	for (;;) {
		sqlite3_bind_blob(st, 2, lo.ptr, (int)lo.len, SQLITE_TRANSIENT);
		b.seek = NULL;
		err = each_row(st, on_below, &b);
		sqlite3_reset(st);
		if (err != 1 || !b.seek)
			break;
		dw_buf_setlen(&lo, 0);
		dw_buf_add(&lo, b.seek, b.seek_len);
		dw_buf_addch(&lo, '0');
		b.j++;
		err = 0;
	}
	sqlite3_finalize(st);
	dw_buf_release(&lo);
	dw_buf_release(&hi);
	return err;
}

int dw_store_load_at(struct dw_store *s, const char *cid, const char *path,
		     size_t len, dw_row_fn cb, void *ctx)
{
	static const char sql[] =
		ROW_COLUMNS "WHERE container_id=?1 AND path=?2";
	sqlite3_stmt *st;
	int err = st_prepare(s, &st, sql);

	if (err)
		return err;
	sqlite3_bind_text(st, 1, cid, -1, SQLITE_STATIC);
	sqlite3_bind_blob(st, 2, path, (int)len, SQLITE_STATIC);
	err = each_row(st, cb, ctx);
	sqlite3_finalize(st);
	return err > 0 ? 0 : err;
}

int dw_store_count_in(struct dw_store *s, const char *cid, const char *lo,
		      size_t lolen, const char *hi, size_t hilen, size_t limit,
		      size_t *count)
{
	static const char sql[] =
		"SELECT count(*) FROM (SELECT 1 FROM changes WHERE "
		"container_id=?1 AND path > ?2 AND path < ?3 LIMIT ?4)";
	sqlite3_stmt *st;
	int err = st_prepare(s, &st, sql);

	if (err)
		return err;
	sqlite3_bind_text(st, 1, cid, -1, SQLITE_STATIC);
	sqlite3_bind_blob(st, 2, lo, (int)lolen, SQLITE_STATIC);
	sqlite3_bind_blob(st, 3, hi, (int)hilen, SQLITE_STATIC);
	sqlite3_bind_int64(st, 4, (sqlite3_int64)limit);
	if (sqlite3_step(st) == SQLITE_ROW)
		*count = (size_t)sqlite3_column_int64(st, 0);
	else
		err = st_db_error(s, "cannot count changes");
	sqlite3_finalize(st);
	return err;
}

long long dw_store_count_changes(struct dw_store *s, const char *cid)
{
	sqlite3_stmt *st;
	long long n = -1;

	if (st_prepare(s, &st,
		       "SELECT count(*) FROM changes WHERE "
		       "container_id=?1"))
		return -1;
	sqlite3_bind_text(st, 1, cid, -1, SQLITE_STATIC);
	if (sqlite3_step(st) == SQLITE_ROW)
		n = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return n;
}

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
		dw_error_set(DW_ENOTFOUND, "no container '%s' in the store",
			     ref);
	return id;
}

/*
 * The ids of the containers of Kubernetes pods in namespace NS and of
 * name POD (SQL parameters; NULL: any), from the io.kubernetes.pod.*
 * labels (containerd's and CRI-O's annotations, Docker's labels).
 */
#define K8S_LABEL(key) "json_extract(labels, '$.\"io.kubernetes.pod." key "\"')"
#define K8S_IDS(ns, pod)                                                       \
	"SELECT id FROM containers WHERE json_valid(labels) AND "              \
	"(" ns " IS NULL OR " K8S_LABEL(                                       \
		"namespace") " = " ns ") AND "                                 \
			     "(" pod                                           \
			     " IS NULL OR " K8S_LABEL("name") " = " pod ")"

/* DW_ENOTFOUND, said, when no container in the store is of that pod. */
static int k8s_known(struct dw_store *s, const char *ns, const char *pod)
{
	sqlite3_stmt *st;
	int found, err = st_prepare(s, &st, K8S_IDS("?1", "?2") " LIMIT 1");

	if (err)
		return err;
	sqlite3_bind_text(st, 1, ns, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, pod, -1, SQLITE_STATIC);
	found = sqlite3_step(st) == SQLITE_ROW;
	sqlite3_finalize(st);
	if (found)
		return 0;
	if (pod)
		return dw_error_set(DW_ENOTFOUND,
				    "no container of pod %s%s%s in the store",
				    ns ? ns : "", ns ? "/" : "", pod);
	return dw_error_set(DW_ENOTFOUND,
			    "no container in Kubernetes namespace %s in the "
			    "store",
			    ns);
}

int dw_store_containers(struct dw_store *s, int all, const char *k8s_namespace,
			dw_container_fn cb, void *ctx)
{
	sqlite3_stmt *st;
	int err = st_prepare(
		s, &st,
		"SELECT id, name, image, runtime, state, labels, first_seen, "
		"last_seen, (SELECT count(*) FROM changes WHERE container_id = "
		"c.id) FROM containers c WHERE (?1 OR state = 'running') AND "
		"(?2 IS NULL OR id IN (" K8S_IDS(
			"?2",
			"NULL") ")) ORDER BY "
				"state != 'running', name, last_seen DESC");

	if (err)
		return err;
	sqlite3_bind_int(st, 1, all != 0);
	sqlite3_bind_text(st, 2, k8s_namespace, -1, SQLITE_STATIC);
	while (!err && sqlite3_step(st) == SQLITE_ROW) {
		struct dw_container_row r = {
			(const char *)sqlite3_column_text(st, 0),
			(const char *)sqlite3_column_text(st, 1),
			(const char *)sqlite3_column_text(st, 2),
			(const char *)sqlite3_column_text(st, 3),
			(const char *)sqlite3_column_text(st, 4),
			(const char *)sqlite3_column_text(st, 5),
			sqlite3_column_int64(st, 6),
			sqlite3_column_int64(st, 7),
			sqlite3_column_int64(st, 8),
		};

		err = cb(&r, ctx);
	}
	sqlite3_finalize(st);
	return err;
}

/* enum dw_severity of a stored name, in SQL. */
#define SEVERITY_RANK(col)                                                     \
	"CASE " col " WHEN 'critical' THEN 4 WHEN 'high' THEN 3 WHEN "         \
	"'medium' THEN 2 WHEN 'low' THEN 1 ELSE 0 END"

int dw_store_events(struct dw_store *s, const struct dw_event_query *q,
		    dw_event_fn cb, void *ctx)
{
	static const char sql[] =
		"SELECT e.time, e.container_id, coalesce(c.name, ''), e.path, "
		"e.kind, e.source, e.severity, coalesce(e.time_us, 0), "
		"e.detail, e.sha256 FROM "
		"events e LEFT JOIN containers c ON c.id = e.container_id "
		"WHERE (?1 IS NULL OR e.container_id = ?1) AND e.time >= ?2 "
		"AND (?3 IS NULL OR e.kind = ?3) AND " SEVERITY_RANK(
			"e.severity") " >= ?4 AND "
				      "(?5 IS NULL AND ?6 IS NULL OR "
				      "e.container_id IN (" K8S_IDS(
					      "?5", "?6") ")) ORDER BY e.id";
	sqlite3_stmt *st;
	char *id = NULL;
	int err = 0;

	if (q->container && !(id = resolve_container(s, q->container)))
		return DW_ENOTFOUND;
	if ((q->k8s_namespace || q->k8s_pod) &&
	    (err = k8s_known(s, q->k8s_namespace, q->k8s_pod))) {
		free(id);
		return err;
	}
	if (sqlite3_prepare_v2(s->db, sql, -1, &st, NULL) != SQLITE_OK) {
		free(id);
		return st_db_error(s, "cannot read events");
	}
	sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, q->since);
	if (q->kind)
		sqlite3_bind_text(st, 3, q->kind, -1, SQLITE_STATIC);
	sqlite3_bind_int(st, 4, q->min_severity);
	sqlite3_bind_text(st, 5, q->k8s_namespace, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 6, q->k8s_pod, -1, SQLITE_STATIC);
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
			(const char *)sqlite3_column_text(st, 8),
			(const char *)sqlite3_column_text(st, 9),
		};

		err = cb(&ev, ctx);
	}
	sqlite3_finalize(st);
	free(id);
	return err;
}

int dw_store_current(struct dw_store *s, const char *container, dw_event_fn cb,
		     void *ctx)
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
		return st_db_error(s, "cannot read changes");
	}
	sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
	while (!err && sqlite3_step(st) == SQLITE_ROW) {
		struct dw_event ev = {
			sqlite3_column_int64(st, 0),
			(const char *)sqlite3_column_text(st, 1),
			container,
			sqlite3_column_blob(st, 2),
			(size_t)sqlite3_column_bytes(st, 2),
			(const char *)sqlite3_column_text(st, 3),
			"current",
			(const char *)sqlite3_column_text(st, 4),
			0,
			NULL,
			NULL,
		};

		err = cb(&ev, ctx);
	}
	sqlite3_finalize(st);
	free(id);
	return err;
}
