/*
 * The store: hash chains over the history (events, findings, snapshots,
 * rotations), their heads and bases, signed heads, and the walk that
 * checks them (driftwatch-verify(1), DESIGN.md "Tamper evidence").
 *
 * A row's hash is SHA-256 over a domain string, its table, its position
 * in its chain, the hash of the row before it and every column of its
 * own (typed, length-prefixed). Events and findings have one chain per
 * container (or source), so that retention, which deletes a container's
 * oldest rows, only ever cuts a chain's beginning; snapshots and
 * rotations are never pruned and have one chain each. chain_heads holds
 * each chain's last row (seq, id, hash) and its base: the position and
 * hash of the last row retention deleted (1 and zeros at first).
 */
#include "store_int.h"

#include <openssl/evp.h>
#include <stdio.h>

#include "driftwatch/escape.h"
#include "driftwatch/json.h"
#include "sign.h"

#include "driftwatch/banned.h"

#define HASH_LEN 32

/*
 * `nfixed`: the arguments of dw_chain_hash() hashed whatever they are
 * (the table, seq and prev, then the columns of schema 13); the columns
 * added since (0: none) are hashed only when not NULL, each after its
 * position, so a row written before one was added keeps its hash.
 */
static const struct chained {
	const char *name, *key, *cols, *what;
	int nfixed;
} chained[ST_NCHAINED] = {
	{"events", "container_id",
	 "id, time, container_id, path, kind, source, time_us, severity, "
	 "sha256, detail",
	 "container", 3 + 9},
	{"findings", "container_id",
	 "id, time, container_id, path, rule, severity, fingerprint, line, "
	 "redacted, source, cluster, role, status, valid_from, valid_until, "
	 "rotated_by",
	 "source", 0},
	{"snapshots", "''",
	 "id, time, container_id, container_name, path, archive_sha256, "
	 "evidence_sha256, reason, operator, host, paused, statement_sha256",
	 NULL, 0},
	{"rotations", "''",
	 "id, time, swarm_id, what, before_fingerprint, after_fingerprint, "
	 "reason",
	 NULL, 0},
};

static const unsigned char zero_hash[HASH_LEN];

static void put_be64(unsigned char *p, unsigned long long v)
{
	for (int i = 7; i >= 0; i--, v >>= 8)
		p[i] = (unsigned char)v;
}

/* dw_chain_hash(table, seq, prev, column...): NULL when the table is not
 * text, seq not an integer or prev not 32 bytes. */
static void fn_chain_hash(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
	static const char domain[] = "driftwatch-chain-v1";
	unsigned char md[EVP_MAX_MD_SIZE], be[9];
	unsigned int mdlen = 0;
	EVP_MD_CTX *m;
	int i, ok, nfixed = argc;

	if (argc < 3 || sqlite3_value_type(argv[0]) != SQLITE_TEXT ||
	    sqlite3_value_type(argv[1]) != SQLITE_INTEGER ||
	    sqlite3_value_type(argv[2]) != SQLITE_BLOB ||
	    sqlite3_value_bytes(argv[2]) != HASH_LEN) {
		sqlite3_result_null(ctx);
		return;
	}
	for (i = 0; i < ST_NCHAINED; i++)
		if (chained[i].nfixed &&
		    !strcmp((const char *)sqlite3_value_text(argv[0]),
			    chained[i].name))
			nfixed = chained[i].nfixed;
	m = EVP_MD_CTX_new();
	ok = m && EVP_DigestInit_ex(m, EVP_sha256(), NULL) == 1 &&
	     EVP_DigestUpdate(m, domain, sizeof(domain)) == 1;
	for (i = 0; ok && i < argc; i++) {
		sqlite3_value *v = argv[i];
		int t = sqlite3_value_type(v);
		const void *p = NULL;
		size_t n = 0;

		if (i >= nfixed) {
			if (t == SQLITE_NULL)
				continue;
			be[0] = 'o';
			put_be64(be + 1, (unsigned long long)i);
			ok = EVP_DigestUpdate(m, be, sizeof(be)) == 1;
		}

		/* Each value: a type byte, then 8 bytes (an integer, a
		 * real's bits) or a length and the bytes (text, blob). */
		be[0] = (unsigned char)"?iftbn"[t > 0 && t <= 5 ? t : 0];
		if (t == SQLITE_INTEGER) {
			put_be64(be + 1,
				 (unsigned long long)sqlite3_value_int64(v));
		} else if (t == SQLITE_FLOAT) {
			double d = sqlite3_value_double(v);
			unsigned long long bits;

			memcpy(&bits, &d, sizeof(bits));
			put_be64(be + 1, bits);
		} else if (t == SQLITE_TEXT || t == SQLITE_BLOB) {
			p = t == SQLITE_TEXT
				    ? (const void *)sqlite3_value_text(v)
				    : sqlite3_value_blob(v);
			n = (size_t)sqlite3_value_bytes(v);
			put_be64(be + 1, n);
		} else {
			memset(be + 1, 0, 8);
		}
		ok = EVP_DigestUpdate(m, be, sizeof(be)) == 1 &&
		     (!n || EVP_DigestUpdate(m, p, n) == 1);
	}
	ok = ok && EVP_DigestFinal_ex(m, md, &mdlen) == 1 && mdlen == HASH_LEN;
	EVP_MD_CTX_free(m);
	if (ok)
		sqlite3_result_blob(ctx, md, HASH_LEN, SQLITE_TRANSIENT);
	else
		sqlite3_result_error_nomem(ctx);
}

int st_chain_register_db(sqlite3 *db)
{
	return sqlite3_create_function_v2(
		       db, "dw_chain_hash", -1,
		       SQLITE_UTF8 | SQLITE_DETERMINISTIC | SQLITE_DIRECTONLY,
		       NULL, fn_chain_hash, NULL, NULL, NULL) == SQLITE_OK
		       ? 0
		       : -1;
}

int st_chain_register(struct dw_store *s)
{
	if (st_chain_register_db(s->db))
		return st_db_error(s, "cannot register the chain hash");
	return 0;
}

void st_chain_finalize(struct dw_store *s)
{
	for (int t = 0; t < ST_NCHAINED; t++)
		sqlite3_finalize(s->chain_add[t]);
	sqlite3_finalize(s->chain_get);
	sqlite3_finalize(s->chain_put);
}

int st_cached(struct dw_store *s, sqlite3_stmt **st, const char *sql)
{
	if (*st) {
		sqlite3_reset(*st);
		sqlite3_clear_bindings(*st);
		return 0;
	}
	return st_prepare(s, st, sql);
}

static void copy_hash(unsigned char *dst, sqlite3_stmt *st, int col)
{
	if (sqlite3_column_bytes(st, col) == HASH_LEN)
		memcpy(dst, sqlite3_column_blob(st, col), HASH_LEN);
	else
		memset(dst, 0, HASH_LEN);
}

int st_chain_load(struct dw_store *s, int t, const char *key,
		  struct st_chain *c)
{
	int err, rc;

	memset(c, 0, sizeof(*c));
	c->t = t;
	c->key = dw_xstrdup(key ? key : "");
	c->base_seq = 1;
	if (sqlite3_get_autocommit(s->db))
		return dw_error_set(DW_ERROR, "store: a chained row written "
					      "outside a transaction");
	err = st_cached(s, &s->chain_get,
			"SELECT base_seq, base_hash, seq, id, hash FROM "
			"chain_heads WHERE tbl = ?1 AND key = ?2");
	if (err)
		return err;
	sqlite3_bind_text(s->chain_get, 1, chained[t].name, -1, SQLITE_STATIC);
	sqlite3_bind_text(s->chain_get, 2, c->key, -1, SQLITE_STATIC);
	rc = sqlite3_step(s->chain_get);
	if (rc == SQLITE_ROW) {
		c->base_seq = sqlite3_column_int64(s->chain_get, 0);
		copy_hash(c->base_hash, s->chain_get, 1);
		c->seq = sqlite3_column_int64(s->chain_get, 2);
		c->id = sqlite3_column_int64(s->chain_get, 3);
		copy_hash(c->hash, s->chain_get, 4);
	} else if (rc != SQLITE_DONE) {
		err = st_db_error(s, "cannot read a chain head");
	}
	sqlite3_reset(s->chain_get);
	return err;
}

int st_chain_add(struct dw_store *s, struct st_chain *c, long long rowid)
{
	char sql[600];
	sqlite3_stmt **st = &s->chain_add[c->t];
	int err;

	if (!*st)
		snprintf(sql, sizeof(sql),
			 "UPDATE %s SET chain_seq = ?2, chain_prev = ?3, "
			 "chain_hash = dw_chain_hash('%s', ?2, ?3, %s) WHERE "
			 "id = ?1 RETURNING chain_hash",
			 chained[c->t].name, chained[c->t].name,
			 chained[c->t].cols);
	err = st_cached(s, st, sql);
	if (err)
		return err;
	sqlite3_bind_int64(*st, 1, rowid);
	sqlite3_bind_int64(*st, 2, c->seq + 1);
	sqlite3_bind_blob(*st, 3, c->seq ? c->hash : zero_hash, HASH_LEN,
			  SQLITE_TRANSIENT);
	if (sqlite3_step(*st) != SQLITE_ROW ||
	    sqlite3_column_bytes(*st, 0) != HASH_LEN) {
		err = st_db_error(s, "cannot chain a row");
		sqlite3_reset(*st);
		return err;
	}
	c->seq++;
	c->id = rowid;
	copy_hash(c->hash, *st, 0);
	c->dirty = 1;
	sqlite3_reset(*st);
	return 0;
}

int st_chain_save(struct dw_store *s, struct st_chain *c)
{
	int err;

	if (!c->dirty)
		return 0;
	err = st_cached(
		s, &s->chain_put,
		"INSERT OR REPLACE INTO chain_heads(tbl, key, base_seq, "
		"base_hash, seq, id, hash) VALUES (?1,?2,?3,?4,?5,?6,?7)");
	if (err)
		return err;
	sqlite3_bind_text(s->chain_put, 1, chained[c->t].name, -1,
			  SQLITE_STATIC);
	sqlite3_bind_text(s->chain_put, 2, c->key, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s->chain_put, 3, c->base_seq);
	sqlite3_bind_blob(s->chain_put, 4, c->base_hash, HASH_LEN,
			  SQLITE_STATIC);
	sqlite3_bind_int64(s->chain_put, 5, c->seq);
	sqlite3_bind_int64(s->chain_put, 6, c->id);
	sqlite3_bind_blob(s->chain_put, 7, c->hash, HASH_LEN, SQLITE_STATIC);
	if (sqlite3_step(s->chain_put) != SQLITE_DONE)
		err = st_db_error(s, "cannot record a chain head");
	sqlite3_reset(s->chain_put);
	c->dirty = err != 0;
	return err;
}

void st_chain_release(struct st_chain *c)
{
	free(c->key);
	c->key = NULL;
}

int st_chain_one(struct dw_store *s, int t, const char *key, long long rowid)
{
	struct st_chain c;
	int err = st_chain_load(s, t, key, &c);

	if (!err)
		err = st_chain_add(s, &c, rowid);
	if (!err)
		err = st_chain_save(s, &c);
	st_chain_release(&c);
	return err;
}

int dw_store_tx_enter(struct dw_store *s, int *own)
{
	*own = sqlite3_get_autocommit(s->db);
	return *own ? dw_store_begin(s) : 0;
}

int dw_store_tx_leave(struct dw_store *s, int own, int err)
{
	if (!own)
		return err;
	if (err) {
		dw_store_rollback(s);
		return err;
	}
	return dw_store_commit(s);
}

/* Chain every row of an older store, in the order they were written. */
int st_chain_backfill(struct dw_store *s)
{
	char sql[300];
	long long last, ids[512];
	char *keys[512];
	int err = 0;

	for (int t = 0; !err && t < ST_NCHAINED; t++) {
		snprintf(sql, sizeof(sql),
			 "SELECT id, %s FROM %s WHERE id > ?1 ORDER BY id "
			 "LIMIT 512",
			 chained[t].key, chained[t].name);
		for (last = -1; !err;) {
			sqlite3_stmt *st;
			int n = 0, i;

			err = st_prepare(s, &st, sql);
			if (err)
				break;
			sqlite3_bind_int64(st, 1, last);
			while (n < 512 && sqlite3_step(st) == SQLITE_ROW) {
				const unsigned char *k =
					sqlite3_column_text(st, 1);

				ids[n] = sqlite3_column_int64(st, 0);
				keys[n++] =
					dw_xstrdup(k ? (const char *)k : "");
			}
			sqlite3_finalize(st);
			for (i = 0; !err && i < n; i++)
				err = st_chain_one(s, t, keys[i], ids[i]);
			for (i = 0; i < n; i++)
				free(keys[i]);
			if (n < 512)
				break;
			last = ids[n - 1];
		}
	}
	return err;
}

/* ---- retention: what was deleted moves each chain's base ---- */

void st_pruned_note(struct st_pruned *p, int t, const char *key, long long seq,
		    const void *hash, int hash_len)
{
	size_t i;

	if (seq <= 0 || hash_len != HASH_LEN)
		return;
	for (i = 0; i < p->n; i++)
		if (p->v[i].t == t && !strcmp(p->v[i].key, key))
			break;
	if (i == p->n) {
		DW_ALLOC_GROW(p->v, p->n + 1, p->alloc);
		memset(&p->v[i], 0, sizeof(p->v[i]));
		p->v[i].t = t;
		p->v[i].key = dw_xstrdup(key);
		p->n++;
	}
	if (seq > p->v[i].seq) {
		p->v[i].seq = seq;
		memcpy(p->v[i].hash, hash, HASH_LEN);
	}
}

int st_pruned_apply(struct dw_store *s, struct st_pruned *p)
{
	sqlite3_stmt *st;
	int err = 0;

	for (size_t i = 0; !err && i < p->n; i++) {
		err = st_prepare(s, &st,
				 "UPDATE chain_heads SET base_seq = ?3, "
				 "base_hash = ?4 WHERE tbl = ?1 AND key = ?2 "
				 "AND base_seq < ?3");
		if (err)
			break;
		sqlite3_bind_text(st, 1, chained[p->v[i].t].name, -1,
				  SQLITE_STATIC);
		sqlite3_bind_text(st, 2, p->v[i].key, -1, SQLITE_STATIC);
		sqlite3_bind_int64(st, 3, p->v[i].seq + 1);
		sqlite3_bind_blob(st, 4, p->v[i].hash, HASH_LEN, SQLITE_STATIC);
		err = st_step_done(s, st, "cannot move a chain's base");
	}
	return err;
}

void st_pruned_release(struct st_pruned *p)
{
	for (size_t i = 0; i < p->n; i++)
		free(p->v[i].key);
	free(p->v);
	memset(p, 0, sizeof(*p));
}

const char *st_chain_table(int t)
{
	return chained[t].name;
}

const char *st_chain_keycol(int t)
{
	return chained[t].key;
}

const char *st_chain_cols(int t)
{
	return chained[t].cols;
}

const char *st_chain_what(int t)
{
	return chained[t].what;
}

/* ---- the heads, as a document; signing it ---- */

static void hex_of(char out[2 * HASH_LEN + 1], const void *h)
{
	dw_hex(out, h, HASH_LEN);
}

/* The root: SHA-256 over every head, in (table, key) order. */
void st_heads_root(json_t *chains, char out[72])
{
	EVP_MD_CTX *m = EVP_MD_CTX_new();
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int n = 0;
	char hex[2 * EVP_MAX_MD_SIZE + 1] = "";
	json_t *c;
	size_t i;
	int ok = m && EVP_DigestInit_ex(m, EVP_sha256(), NULL) == 1;

	json_array_foreach(chains, i, c)
	{
		struct dw_buf b = DW_BUF_INIT;

		dw_json_dump(&b, c, JSON_SORT_KEYS | JSON_COMPACT);
		dw_buf_addch(&b, '\n');
		ok = ok && EVP_DigestUpdate(m, b.ptr, b.len) == 1;
		dw_buf_release(&b);
	}
	if (ok && EVP_DigestFinal_ex(m, md, &n) == 1)
		dw_hex(hex, md, n);
	EVP_MD_CTX_free(m);
	snprintf(out, 72, "sha256:%.64s", hex);
}

/* A chain's key as JSON: "key" when it is UTF-8 (no NUL), else
 * "key_hex": no chain may drop out of a signed document. */
static json_t *head_json(const char *table, const void *key, size_t klen,
			 long long base_seq, const void *base_hash,
			 long long seq, long long id, const void *hash)
{
	char bh[2 * HASH_LEN + 1], hh[2 * HASH_LEN + 1];
	json_t *k = memchr(key, 0, klen) ? NULL : json_stringn(key, klen);
	json_t *h;

	hex_of(bh, base_hash);
	hex_of(hh, hash);
	h = json_pack("{s:s, s:I, s:s, s:I, s:I, s:s}", "table", table,
		      "base_seq", (json_int_t)base_seq, "base_hash", bh, "seq",
		      (json_int_t)seq, "id", (json_int_t)id, "hash", hh);
	if (h && k) {
		json_object_set_new(h, "key", k);
	} else if (h) {
		char *hex = dw_xmalloc(2 * klen + 1);

		dw_hex(hex, key, klen);
		json_object_set_new(h, "key_hex", json_string(hex));
		free(hex);
	}
	return h;
}

/* The highest row id of each chained table: what a document covers. */
static int watermarks(struct dw_store *s, json_t *out)
{
	char sql[120];
	sqlite3_stmt *st;
	int err = 0;

	for (int t = 0; !err && t < ST_NCHAINED; t++) {
		snprintf(sql, sizeof(sql),
			 "SELECT coalesce(max(id), 0) FROM %s",
			 chained[t].name);
		err = st_prepare(s, &st, sql);
		if (err)
			break;
		if (sqlite3_step(st) == SQLITE_ROW)
			json_object_set_new(
				out, chained[t].name,
				json_integer(sqlite3_column_int64(st, 0)));
		else
			err = st_db_error(s, "cannot read a table's last id");
		sqlite3_finalize(st);
	}
	return err;
}

int dw_store_heads(struct dw_store *s, const char *host, json_t **out)
{
	sqlite3_stmt *st;
	json_t *chains = json_array(), *marks = json_object(), *doc = NULL;
	long long rows = 0;
	char root[72];
	int rc, err = st_prepare(s, &st,
				 "SELECT tbl, CAST(key AS BLOB), base_seq, "
				 "base_hash, seq, id, hash FROM chain_heads "
				 "ORDER BY tbl, CAST(key AS BLOB)");

	*out = NULL;
	while (!err && (rc = sqlite3_step(st)) == SQLITE_ROW) {
		unsigned char bh[HASH_LEN], h[HASH_LEN];
		const char *tbl = (const char *)sqlite3_column_text(st, 0);
		const void *key = sqlite3_column_blob(st, 1);
		json_t *one;

		copy_hash(bh, st, 3);
		copy_hash(h, st, 6);
		one = head_json(tbl ? tbl : "", key ? key : "",
				(size_t)sqlite3_column_bytes(st, 1),
				sqlite3_column_int64(st, 2), bh,
				sqlite3_column_int64(st, 4),
				sqlite3_column_int64(st, 5), h);
		if (!one || json_array_append_new(chains, one))
			err = dw_error_set(DW_ERROR,
					   "store: a chain head cannot be "
					   "written as JSON");
		rows += sqlite3_column_int64(st, 4) -
			sqlite3_column_int64(st, 2) + 1;
	}
	if (!err && rc != SQLITE_DONE)
		err = st_db_error(s, "cannot read the chain heads");
	sqlite3_finalize(st);
	if (!err)
		err = watermarks(s, marks);
	if (!err) {
		st_heads_root(chains, root);
		doc = json_pack("{s:s, s:s, s:I, s:s, s:I, s:O, s:O}", "_type",
				DW_HEADS_TYPE, "host", host ? host : "", "time",
				(json_int_t)time(NULL), "root", root, "rows",
				(json_int_t)rows, "watermarks", marks, "chains",
				chains);
		if (!doc)
			err = dw_error_set(DW_ERROR,
					   "store: cannot build the heads");
	}
	json_decref(chains);
	json_decref(marks);
	*out = doc;
	return err;
}

/*
 * Each head against its chain's last row, before it is signed: a head
 * or a last row changed by hand is not signed over (a cheap look, one
 * row a chain; verify --store walks them all).
 */
static int heads_match_rows(struct dw_store *s)
{
	char sql[700];
	sqlite3_stmt *h, *by_table[ST_NCHAINED] = {NULL}, *r;
	int rc, err = st_prepare(s, &h,
				 "SELECT tbl, key, seq, id, hash FROM "
				 "chain_heads");

	while (!err && (rc = sqlite3_step(h)) == SQLITE_ROW) {
		int t = -1;
		const char *tbl = (const char *)sqlite3_column_text(h, 0);

		for (int i = 0; tbl && i < ST_NCHAINED; i++)
			if (!strcmp(tbl, chained[i].name))
				t = i;
		if (t < 0) {
			err = dw_error_set(DW_ERROR,
					   "store: a chain head of no table");
			break;
		}
		/* one statement a table, not one a chain (10,000 chains:
		 * as many parses on each signing) */
		if (!by_table[t]) {
			snprintf(sql, sizeof(sql),
				 "SELECT chain_seq = ?2 AND chain_hash = ?3 "
				 "AND dw_chain_hash('%s', chain_seq, "
				 "chain_prev, %s) = chain_hash AND %s IS ?4 "
				 "FROM %s WHERE id = ?1",
				 chained[t].name, chained[t].cols,
				 chained[t].key, chained[t].name);
			err = st_prepare(s, &by_table[t], sql);
			if (err)
				break;
		}
		r = by_table[t];
		sqlite3_reset(r);
		sqlite3_bind_int64(r, 1, sqlite3_column_int64(h, 3));
		sqlite3_bind_int64(r, 2, sqlite3_column_int64(h, 2));
		sqlite3_bind_value(r, 3, sqlite3_column_value(h, 4));
		sqlite3_bind_value(r, 4, sqlite3_column_value(h, 1));
		rc = sqlite3_step(r);
		/* Its last row may be gone by retention (the base then
		 * equals the head): only a row that is there is compared. */
		if (rc == SQLITE_ROW && !sqlite3_column_int(r, 0))
			err = dw_error_set(
				DW_ERROR,
				"store: the head of %s chain %s is "
				"not its last row (row id %lld): "
				"the store was changed outside "
				"driftwatch (not signed nor pruned "
				"until it is moved aside; driftwatch "
				"verify --store says where)",
				chained[t].name,
				t >= ST_SNAPSHOTS
					? "(one)"
					: (const char *)sqlite3_column_text(h,
									    1),
				(long long)sqlite3_column_int64(h, 3));
		else if (rc != SQLITE_ROW && rc != SQLITE_DONE)
			err = st_db_error(s, "cannot read a chain's last row");
	}
	sqlite3_finalize(h);
	for (int t = 0; t < ST_NCHAINED; t++)
		sqlite3_finalize(by_table[t]);
	return err;
}

json_t *dw_store_heads_sign(EVP_PKEY *k, json_t *doc)
{
	struct dw_buf b = DW_BUF_INIT;
	json_t *env;

	dw_json_dump(&b, doc, JSON_PRESERVE_ORDER | JSON_COMPACT);
	env = dw_dsse_sign(k, DW_HEADS_PAYLOAD_TYPE, b.ptr, b.len);
	dw_buf_release(&b);
	return env;
}

static int last_root(struct dw_store *s, char root[72])
{
	sqlite3_stmt *st;
	int err = st_prepare(s, &st,
			     "SELECT root FROM chain_signatures ORDER BY id "
			     "DESC LIMIT 1");

	root[0] = '\0';
	if (err)
		return err;
	if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_text(st, 0))
		snprintf(root, 72, "%s", sqlite3_column_text(st, 0));
	sqlite3_finalize(st);
	return 0;
}

/*
 * The heads of the newest signature (when `k` made it) still in their
 * chains: each head's row, by its id, still at that position with that
 * hash, or pruned by retention since (its base past it). Signing over a
 * rewritten history would bless it, and push the signature that shows
 * it out of the last 16. `*ours`: the newest signature is k's (or there
 * is none).
 */
static int signed_heads_hold(struct dw_store *s, EVP_PKEY *k, int *ours)
{
	struct dw_buf payload = DW_BUF_INIT, why = DW_BUF_INIT;
	sqlite3_stmt *st, *row[ST_NCHAINED] = {NULL}, *base = NULL;
	json_t *env = NULL, *doc = NULL, *c;
	size_t i;
	int err = st_prepare(s, &st,
			     "SELECT envelope FROM chain_signatures ORDER BY "
			     "id DESC LIMIT 1");

	*ours = 1;
	if (err)
		return err;
	if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_text(st, 0))
		env = json_loads((const char *)sqlite3_column_text(st, 0), 0,
				 NULL);
	sqlite3_finalize(st);
	if (!env)
		return 0;
	*ours = !dw_dsse_verify(k, env, DW_HEADS_PAYLOAD_TYPE, &payload, &why);
	if (*ours)
		doc = json_loadb(payload.ptr ? payload.ptr : "", payload.len, 0,
				 NULL);
	json_array_foreach(json_object_get(doc, "chains"), i, c)
	{
		char sql[200];
		const char *tbl =
			json_string_value(json_object_get(c, "table"));
		const char *key = json_string_value(json_object_get(c, "key"));
		const char *hex = json_string_value(json_object_get(c, "hash"));
		long long seq = json_integer_value(json_object_get(c, "seq"));
		long long id = json_integer_value(json_object_get(c, "id"));
		char have[2 * HASH_LEN + 1] = "";
		int t = -1, rc, gone = 0;

		for (int j = 0; tbl && j < ST_NCHAINED; j++)
			if (!strcmp(tbl, chained[j].name))
				t = j;
		if (t < 0 || !hex)
			continue;
		if (!row[t]) {
			snprintf(sql, sizeof(sql),
				 "SELECT chain_seq, chain_hash FROM %s WHERE "
				 "id = ?1",
				 chained[t].name);
			err = st_prepare(s, &row[t], sql);
			if (err)
				break;
		}
		st = row[t];
		sqlite3_reset(st);
		sqlite3_bind_int64(st, 1, id);
		rc = sqlite3_step(st);
		if (rc == SQLITE_ROW && sqlite3_column_bytes(st, 1) == HASH_LEN)
			dw_hex(have, sqlite3_column_blob(st, 1), HASH_LEN);
		if (rc == SQLITE_ROW &&
		    (sqlite3_column_int64(st, 0) != seq || strcmp(have, hex)))
			err = DW_ERROR;
		gone = rc == SQLITE_DONE;
		/* Gone: only retention's doing when the base is past it. */
		if (!err && gone && key) {
			if (!base && (err = st_prepare(s, &base,
						       "SELECT base_seq > ?3 "
						       "FROM chain_heads WHERE "
						       "tbl = ?1 AND key = "
						       "?2")))
				break;
			sqlite3_reset(base);
			sqlite3_bind_text(base, 1, tbl, -1, SQLITE_STATIC);
			sqlite3_bind_text(base, 2, key, -1, SQLITE_STATIC);
			sqlite3_bind_int64(base, 3, seq);
			if (sqlite3_step(base) != SQLITE_ROW ||
			    !sqlite3_column_int(base, 0))
				err = DW_ERROR;
		}
		if (err) {
			err = dw_error_set(DW_ERROR,
					   "store: row id %lld of %s, a head "
					   "the last signature holds, is not "
					   "what was signed: the history was "
					   "changed outside driftwatch (not "
					   "signed nor pruned until the store "
					   "is moved aside; driftwatch verify "
					   "--store says where)",
					   id, tbl);
			break;
		}
	}
	for (int t = 0; t < ST_NCHAINED; t++)
		sqlite3_finalize(row[t]);
	sqlite3_finalize(base);
	json_decref(doc);
	json_decref(env);
	dw_buf_release(&payload);
	dw_buf_release(&why);
	return err;
}

int dw_store_sign_heads(struct dw_store *s, EVP_PKEY *k, const char *host,
			unsigned flags, int *signed_now)
{
	int force = !!(flags & DW_SIGN_FORCE), ours = 1;
	json_t *doc = NULL, *env = NULL, *p;
	struct dw_buf text = DW_BUF_INIT;
	char prev[72], keyid[72], summary[300], digest[72];
	const char *root;
	sqlite3_stmt *st;
	int own, err;

	*signed_now = 0;
	err = dw_store_tx_enter(s, &own);
	if (!err)
		err = heads_match_rows(s);
	if (!err)
		err = signed_heads_hold(s, k, &ours);
	/* Another key's signature is the newest: left to whoever holds it
	 * (a store signed by two keys fails verify with either). */
	if (!err && !ours && (flags & DW_SIGN_SAME_KEY))
		goto out;
	if (!err)
		err = dw_store_heads(s, host, &doc);
	if (!err)
		err = last_root(s, prev);
	root = json_string_value(json_object_get(doc, "root"));
	if (err || (!force && root && !strcmp(root, prev)) ||
	    !json_array_size(json_object_get(doc, "chains")))
		goto out;
	env = dw_store_heads_sign(k, doc);
	if (!env) {
		err = dw_error_set(DW_ERROR, "store: cannot sign the heads");
		goto out;
	}
	dw_json_dump(&text, env, JSON_PRESERVE_ORDER | JSON_COMPACT);
	err = st_prepare(s, &st,
			 "INSERT INTO chain_signatures(time, root, envelope) "
			 "VALUES (?1, ?2, ?3)");
	if (!err) {
		sqlite3_bind_int64(st, 1, (sqlite3_int64)time(NULL));
		sqlite3_bind_text(st, 2, root, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 3, text.ptr, (int)text.len,
				  SQLITE_STATIC);
		err = st_step_done(s, st, "cannot record signed heads");
	}
	/* The last 16 are kept: what is checked is the newest, and those
	 * before it for a rollback; the outputs have every one. */
	if (!err && !st_prepare(s, &st,
				"DELETE FROM chain_signatures WHERE id <= "
				"(SELECT max(id) FROM chain_signatures) - 16"))
		err = st_step_done(s, st, "cannot prune signed heads");
	if (err)
		goto out;
	dw_sign_keyid(k, keyid);
	dw_sha256_hex(digest, text.ptr, text.len);
	p = json_pack("{s:s, s:s, s:s, s:O, s:O, s:s, s:s}", "severity", "info",
		      "host", host ? host : "", "root", root, "rows",
		      json_object_get(doc, "rows"), "time",
		      json_object_get(doc, "time"), "envelope_sha256", digest,
		      "keyid", keyid);
	json_object_set_new(p, "chains",
			    json_integer((json_int_t)json_array_size(
				    json_object_get(doc, "chains"))));
	snprintf(summary, sizeof(summary),
		 "the store's chain heads signed: %s (%zu chains)", root,
		 json_array_size(json_object_get(doc, "chains")));
	err = dw_store_alert(s, "chain-head", summary, p);
	json_decref(p);
	*signed_now = !err;
out:
	err = dw_store_tx_leave(s, own, err);
	if (err)
		*signed_now = 0;
	json_decref(doc);
	json_decref(env);
	dw_buf_release(&text);
	return err;
}
