/*
 * The store: walking the hash chains (driftwatch verify --store). Every
 * row is rehashed; each chain is followed from its base (what retention
 * pruned up to) to its recorded head; and every head the store signed,
 * and every anchor (heads exported earlier, kept off the host), is
 * looked for in it. Problems are reported with the row and position.
 */
#include "store_int.h"

#include <stdarg.h>
#include <stdio.h>

#include "driftwatch/json.h"
#include "sign.h"

#include "driftwatch/banned.h"

#define HASH_LEN 32
#define MAX_SAID 1000 /* problems said one by one; then counted */

/* A head some signed document says a chain passed through. */
struct expect {
	int t;
	char *key;
	long long base_seq, seq, id;
	unsigned char base_hash[HASH_LEN], hash[HASH_LEN];
	const char *from; /* "the head signed at …", "anchor FILE" */
	int done;
};

struct walk {
	struct dw_store *s;
	struct dw_buf *report;
	struct dw_chain_check *out;
	struct expect *e;
	size_t ne, alloc;
	char **froms;
	size_t nfroms, froms_alloc;
};

static void say(struct walk *w, int t, const char *key, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static void say(struct walk *w, int t, const char *key, const char *fmt, ...)
{
	va_list ap;

	if (w->out->problems++ >= MAX_SAID)
		return;
	if (st_chain_what(t))
		dw_buf_addf(w->report, "%s of %s %s: ", st_chain_table(t),
			    st_chain_what(t), key);
	else
		dw_buf_addf(w->report, "%s: ", st_chain_table(t));
	va_start(ap, fmt);
	dw_buf_vaddf(w->report, fmt, ap);
	va_end(ap);
	dw_buf_addch(w->report, '\n');
}

static int unhex(unsigned char *out, const char *s)
{
	if (!s || strlen(s) != 2 * HASH_LEN)
		return -1;
	for (size_t i = 0; i < HASH_LEN; i++) {
		unsigned v = 0;

		for (int j = 0; j < 2; j++) {
			char c = s[2 * i + (size_t)j];

			v <<= 4;
			if (c >= '0' && c <= '9')
				v |= (unsigned)(c - '0');
			else if (c >= 'a' && c <= 'f')
				v |= (unsigned)(c - 'a' + 10);
			else
				return -1;
		}
		out[i] = (unsigned char)v;
	}
	return 0;
}

static int table_of(const char *name)
{
	for (int t = 0; name && t < ST_NCHAINED; t++)
		if (!strcmp(name, st_chain_table(t)))
			return t;
	return -1;
}

static const char *keep_from(struct walk *w, const char *from)
{
	DW_ALLOC_GROW(w->froms, w->nfroms + 1, w->froms_alloc);
	w->froms[w->nfroms] = dw_xstrdup(from);
	return w->froms[w->nfroms++];
}

/*
 * The heads in a signed document (a DSSE envelope of dw_store_heads()),
 * as expectations; a signature that does not verify, or a document that
 * is not one, is a problem of its own.
 */
static void expect_doc(struct walk *w, EVP_PKEY *pub, json_t *env,
		       const char *name)
{
	struct dw_buf payload = DW_BUF_INIT, why = DW_BUF_INIT;
	json_t *doc = NULL, *chains, *c;
	char from[600], root[72];
	const char *label;
	size_t i;

	if (!pub) {
		dw_buf_addf(w->report,
			    "%s: not checked: no key to check it with\n", name);
		w->out->unchecked++;
		return;
	}
	if (dw_dsse_verify(pub, env, DW_HEADS_PAYLOAD_TYPE, &payload, &why)) {
		w->out->problems++;
		dw_buf_addf(w->report, "%s: %s", name, why.ptr ? why.ptr : "");
		goto out;
	}
	doc = json_loadb(payload.ptr ? payload.ptr : "", payload.len, 0, NULL);
	chains = json_object_get(doc, "chains");
	if (!json_is_array(chains) ||
	    strcmp(json_string_value(json_object_get(doc, "_type"))
			   ? json_string_value(json_object_get(doc, "_type"))
			   : "",
		   DW_HEADS_TYPE)) {
		w->out->problems++;
		dw_buf_addf(w->report, "%s: signed, but not chain heads\n",
			    name);
		goto out;
	}
	st_heads_root(chains, root);
	if (strcmp(root,
		   json_string_value(json_object_get(doc, "root"))
			   ? json_string_value(json_object_get(doc, "root"))
			   : "")) {
		w->out->problems++;
		dw_buf_addf(w->report, "%s: its root is not its heads'\n",
			    name);
		goto out;
	}
	snprintf(from, sizeof(from), "%s (%lld)", name,
		 (long long)json_integer_value(json_object_get(doc, "time")));
	label = keep_from(w, from);
	json_array_foreach(chains, i, c)
	{
		struct expect x;
		int t = table_of(
			json_string_value(json_object_get(c, "table")));
		const char *key = json_string_value(json_object_get(c, "key"));

		memset(&x, 0, sizeof(x));
		x.base_seq = json_integer_value(json_object_get(c, "base_seq"));
		x.seq = json_integer_value(json_object_get(c, "seq"));
		x.id = json_integer_value(json_object_get(c, "id"));
		if (t < 0 || !key || x.seq < 1 || x.base_seq < 1 ||
		    unhex(x.base_hash,
			  json_string_value(json_object_get(c, "base_hash"))) ||
		    unhex(x.hash,
			  json_string_value(json_object_get(c, "hash")))) {
			w->out->problems++;
			dw_buf_addf(w->report,
				    "%s: head %zu is not one a store "
				    "writes\n",
				    name, i);
			continue;
		}
		x.t = t;
		x.key = dw_xstrdup(key);
		x.from = label;
		DW_ALLOC_GROW(w->e, w->ne + 1, w->alloc);
		w->e[w->ne++] = x;
	}
	w->out->docs++;
out:
	json_decref(doc);
	dw_buf_release(&payload);
	dw_buf_release(&why);
}

static int expect_cmp(const void *a, const void *b)
{
	const struct expect *x = a, *y = b;
	int c;

	if (x->t != y->t)
		return x->t < y->t ? -1 : 1;
	c = strcmp(x->key, y->key);
	if (c)
		return c;
	return x->seq < y->seq ? -1 : x->seq > y->seq;
}

/* The store's own signed heads, newest last. */
static int expect_stored(struct walk *w, EVP_PKEY *pub)
{
	sqlite3_stmt *st;
	int rc, err = st_prepare(w->s, &st,
				 "SELECT id, time, envelope FROM "
				 "chain_signatures ORDER BY id");

	if (err)
		return err;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		const char *text = (const char *)sqlite3_column_text(st, 2);
		json_t *env = text ? json_loads(text, 0, NULL) : NULL;
		char name[120];

		snprintf(name, sizeof(name),
			 "the heads signed in the store "
			 "(signature %lld)",
			 (long long)sqlite3_column_int64(st, 0));
		if (!env) {
			w->out->problems++;
			dw_buf_addf(w->report, "%s: not an envelope\n", name);
			continue;
		}
		expect_doc(w, pub, env, name);
		if (sqlite3_column_int64(st, 1) > w->out->last_signed)
			w->out->last_signed = sqlite3_column_int64(st, 1);
		json_decref(env);
	}
	sqlite3_finalize(st);
	return rc == SQLITE_DONE
		       ? 0
		       : st_db_error(w->s, "cannot read the signed heads");
}

struct chain_state {
	int t, has_head;
	const char *key;
	long long base_seq, head_seq, head_id;
	unsigned char base_hash[HASH_LEN], head_hash[HASH_LEN];
	long long next_seq; /* the position the next row should have */
	unsigned char prev[HASH_LEN];
	long long rows;
	struct expect *e; /* this chain's expectations, by position */
	size_t ne, ke;
};

static void check_row(struct walk *w, struct chain_state *c, sqlite3_stmt *st)
{
	long long id = sqlite3_column_int64(st, 1);
	long long seq = sqlite3_column_int64(st, 2);
	const void *prev = sqlite3_column_blob(st, 3);
	const void *hash = sqlite3_column_blob(st, 4);
	const void *again = sqlite3_column_blob(st, 5);

	c->rows++;
	w->out->rows++;
	if (sqlite3_column_type(st, 2) != SQLITE_INTEGER ||
	    sqlite3_column_bytes(st, 3) != HASH_LEN ||
	    sqlite3_column_bytes(st, 4) != HASH_LEN) {
		say(w, c->t, c->key,
		    "row id %lld is not chained: written outside driftwatch",
		    id);
		return;
	}
	if (sqlite3_column_bytes(st, 5) != HASH_LEN ||
	    memcmp(again, hash, HASH_LEN))
		say(w, c->t, c->key,
		    "row id %lld (position %lld) was edited: its content is "
		    "not what was hashed",
		    id, seq);
	if (seq > c->next_seq)
		say(w, c->t, c->key,
		    "positions %lld to %lld, before row id %lld, are gone: "
		    "deleted",
		    c->next_seq, seq - 1, id);
	else if (seq < c->next_seq)
		say(w, c->t, c->key,
		    "row id %lld claims position %lld, after position %lld: "
		    "inserted or moved",
		    id, seq, c->next_seq - 1);
	else if (memcmp(prev, c->prev, HASH_LEN))
		say(w, c->t, c->key,
		    "row id %lld (position %lld) does not follow the row "
		    "before it: one of the two was inserted or replaced",
		    id, seq);
	/* What was signed at this position. */
	while (c->ke < c->ne && c->e[c->ke].seq < seq)
		c->ke++;
	for (size_t k = c->ke; k < c->ne && c->e[k].seq == seq; k++) {
		c->e[k].done = 1;
		if (memcmp(c->e[k].hash, hash, HASH_LEN))
			say(w, c->t, c->key,
			    "row id %lld (position %lld) is not the row %s "
			    "holds there: the chain was rewritten",
			    id, seq, c->e[k].from);
		else
			w->out->matched++;
	}
	c->next_seq = seq + 1;
	memcpy(c->prev, hash, HASH_LEN);
}

static void finish_chain(struct walk *w, struct chain_state *c)
{
	long long last = c->next_seq - 1;

	if (!c->has_head && c->rows)
		say(w, c->t, c->key,
		    "no recorded head: the chain's head was deleted");
	if (c->has_head && last < c->head_seq)
		say(w, c->t, c->key,
		    "positions %lld to %lld are gone: deleted (the recorded "
		    "head is at position %lld, row id %lld)",
		    last + 1, c->head_seq, c->head_seq, c->head_id);
	else if (c->has_head && last > c->head_seq)
		say(w, c->t, c->key,
		    "positions %lld to %lld are past the recorded head (at "
		    "%lld, row id %lld): written outside driftwatch, or the "
		    "head was rolled back",
		    c->head_seq + 1, last, c->head_seq, c->head_id);
	else if (c->has_head && memcmp(c->prev, c->head_hash, HASH_LEN))
		say(w, c->t, c->key,
		    "the last row (position %lld) is not the recorded head: "
		    "replaced",
		    last);
	for (size_t k = 0; k < c->ne; k++) {
		struct expect *x = &c->e[k];

		if (x->base_seq > c->base_seq)
			say(w, c->t, c->key,
			    "it begins at position %lld, but %s had pruned "
			    "it to %lld: rows are back",
			    c->base_seq, x->from, x->base_seq);
		if (x->done)
			continue;
		if (!c->has_head && !c->rows) {
			say(w, c->t, c->key,
			    "the chain is gone; %s has it up to position %lld",
			    x->from, x->seq);
		} else if (x->seq == c->base_seq - 1) {
			if (memcmp(x->hash, c->base_hash, HASH_LEN))
				say(w, c->t, c->key,
				    "pruned up to position %lld, but not "
				    "to the row %s holds there",
				    x->seq, x->from);
			else
				w->out->matched++;
		} else if (x->seq < c->base_seq - 1) {
			w->out->pruned_since++;
		} else if (x->seq > last) {
			say(w, c->t, c->key,
			    "positions %lld to %lld, in %s, are gone: "
			    "deleted",
			    last + 1, x->seq, x->from);
		} else {
			say(w, c->t, c->key,
			    "position %lld, in %s, is gone: deleted", x->seq,
			    x->from);
		}
	}
}

static const char *col_key(sqlite3_stmt *st, int col)
{
	const char *k = (const char *)sqlite3_column_text(st, col);

	return k ? k : "";
}

static int walk_table(struct walk *w, int t)
{
	char sql[700];
	sqlite3_stmt *heads = NULL, *rows = NULL;
	size_t ei = 0;
	int hrc, rrc, err;

	while (ei < w->ne && w->e[ei].t < t)
		ei++;
	snprintf(sql, sizeof(sql),
		 "SELECT %s, id, chain_seq, chain_prev, chain_hash, "
		 "dw_chain_hash('%s', chain_seq, chain_prev, %s) FROM %s "
		 "ORDER BY 1, id",
		 st_chain_keycol(t), st_chain_table(t), st_chain_cols(t),
		 st_chain_table(t));
	err = st_prepare(w->s, &rows, sql);
	if (!err)
		err = st_prepare(w->s, &heads,
				 "SELECT key, base_seq, base_hash, seq, id, "
				 "hash FROM chain_heads WHERE tbl = ?1 ORDER "
				 "BY key");
	if (err)
		goto out;
	sqlite3_bind_text(heads, 1, st_chain_table(t), -1, SQLITE_STATIC);
	hrc = sqlite3_step(heads);
	rrc = sqlite3_step(rows);
	for (;;) {
		struct chain_state c;
		const char *key = NULL;
		char *k;

		if (hrc == SQLITE_ROW)
			key = col_key(heads, 0);
		if (rrc == SQLITE_ROW &&
		    (!key || strcmp(col_key(rows, 0), key) < 0))
			key = col_key(rows, 0);
		if (ei < w->ne && w->e[ei].t == t &&
		    (!key || strcmp(w->e[ei].key, key) < 0))
			key = w->e[ei].key;
		if (!key)
			break;
		k = dw_xstrdup(key);
		memset(&c, 0, sizeof(c));
		c.t = t;
		c.key = k;
		c.base_seq = 1;
		w->out->chains++;
		if (hrc == SQLITE_ROW && !strcmp(col_key(heads, 0), k)) {
			c.has_head = 1;
			c.base_seq = sqlite3_column_int64(heads, 1);
			if (sqlite3_column_bytes(heads, 2) == HASH_LEN)
				memcpy(c.base_hash,
				       sqlite3_column_blob(heads, 2), HASH_LEN);
			c.head_seq = sqlite3_column_int64(heads, 3);
			c.head_id = sqlite3_column_int64(heads, 4);
			if (sqlite3_column_bytes(heads, 5) == HASH_LEN)
				memcpy(c.head_hash,
				       sqlite3_column_blob(heads, 5), HASH_LEN);
			hrc = sqlite3_step(heads);
		}
		c.next_seq = c.base_seq;
		memcpy(c.prev, c.base_hash, HASH_LEN);
		c.e = w->e + ei;
		while (ei < w->ne && w->e[ei].t == t &&
		       !strcmp(w->e[ei].key, k))
			ei++, c.ne++;
		while (rrc == SQLITE_ROW && !strcmp(col_key(rows, 0), k)) {
			check_row(w, &c, rows);
			rrc = sqlite3_step(rows);
		}
		finish_chain(w, &c);
		free(k);
	}
	if ((hrc != SQLITE_DONE && hrc != SQLITE_ROW) ||
	    (rrc != SQLITE_DONE && rrc != SQLITE_ROW))
		err = st_db_error(w->s, "cannot read a chain");
out:
	sqlite3_finalize(heads);
	sqlite3_finalize(rows);
	return err;
}

int dw_store_verify_chains(struct dw_store *s, EVP_PKEY *pub,
			   json_t *const *anchors, const char *const *names,
			   size_t nanchors, struct dw_buf *report,
			   struct dw_chain_check *out, json_t **heads)
{
	struct walk w = {s, report, out, NULL, 0, 0, NULL, 0, 0};
	int err;

	memset(out, 0, sizeof(*out));
	/* One read transaction: a writer's rows come after, not between. */
	err = sqlite3_exec(s->db, "BEGIN", NULL, NULL, NULL) == SQLITE_OK
		      ? 0
		      : st_db_error(s, "cannot begin reading");
	if (!err)
		err = expect_stored(&w, pub);
	out->signed_docs = out->docs;
	for (size_t i = 0; !err && i < nanchors; i++) {
		char name[600];

		snprintf(name, sizeof(name), "anchor %s", names[i]);
		expect_doc(&w, pub, anchors[i], name);
	}
	out->expected = (long long)w.ne;
	if (w.ne)
		qsort(w.e, w.ne, sizeof(*w.e), expect_cmp);
	for (int t = 0; !err && t < ST_NCHAINED; t++)
		err = walk_table(&w, t);
	if (heads)
		*heads = NULL;
	if (!err && heads && !out->problems)
		err = dw_store_heads(s, NULL, heads);
	sqlite3_exec(s->db, "COMMIT", NULL, NULL, NULL);
	if (out->problems > MAX_SAID)
		dw_buf_addf(report, "... and %lld more problems\n",
			    out->problems - MAX_SAID);
	for (size_t i = 0; i < w.ne; i++)
		free(w.e[i].key);
	free(w.e);
	for (size_t i = 0; i < w.nfroms; i++)
		free(w.froms[i]);
	free(w.froms);
	if (err)
		return err;
	return out->problems ? DW_ERROR : 0;
}
