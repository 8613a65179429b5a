/*
 * The store: walking the hash chains (driftwatch verify --store). Every
 * row is rehashed; each chain is followed from its base (what retention
 * pruned up to) to its recorded head; and every head the store signed,
 * and every anchor (heads exported earlier, kept off the host), is
 * looked for in it. Problems are reported with the row and position.
 *
 * The store file is the attacker's: its tables must be tables, keys are
 * compared as bytes (SQLite's BINARY order: CAST(key AS BLOB)),
 * positions outside 1..2^62 are refused before any arithmetic.
 */
#include "store_int.h"

#include <stdarg.h>
#include <stdio.h>

#include "driftwatch/json.h"
#include "sign.h"

#include "driftwatch/banned.h"

#define HASH_LEN 32
#define MAX_SAID 1000	    /* problems said one by one; then counted */
#define SEQ_MAX (1LL << 62) /* no chain gets near; arithmetic stays safe */
#define VALID_SEQ(v) ((v) >= 1 && (v) <= SEQ_MAX)

/* A key as bytes (NUL and all). */
struct key {
	unsigned char *p;
	size_t n;
};

static int bytes_cmp(const void *a, size_t an, const void *b, size_t bn)
{
	int c = an && bn ? memcmp(a, b, an < bn ? an : bn) : 0;

	return c ? c : (an > bn) - (an < bn);
}

static int key_cmp(const struct key *a, const void *p, size_t n)
{
	return bytes_cmp(a->p, a->n, p, n);
}

/* A head some signed document says a chain passed through. */
struct expect {
	int t;
	struct key key;
	long long base_seq, seq, id;
	long long watermark; /* the table's last row id then */
	unsigned char base_hash[HASH_LEN], hash[HASH_LEN];
	const char *from; /* "the heads signed in the store (…)", "anchor F" */
	size_t doc;	  /* which document */
	int done, newest, misfit_said;
};

/* A signed document whose heads were used: when it was signed, each
 * table ended at these row ids. */
struct doc {
	const char *from;
	long long marks[ST_NCHAINED];
};

struct walk {
	struct dw_store *s;
	struct dw_buf *report;
	struct dw_chain_check *out;
	struct expect *e;
	size_t ne, alloc;
	char **froms;
	size_t nfroms, froms_alloc;
	int have_newest;		     /* a stored signature verified */
	long long newest_marks[ST_NCHAINED]; /* its watermarks */
	int allow_unsigned;		     /* bases past it are not said */
	struct doc *docs;
	size_t ndocs, docs_alloc;
};

static void say(struct walk *w, int t, const struct key *key, const char *fmt,
		...) __attribute__((format(printf, 4, 5)));

static void say(struct walk *w, int t, const struct key *key, const char *fmt,
		...)
{
	va_list ap;

	if (w->out->problems++ >= MAX_SAID)
		return;
	if (st_chain_what(t)) {
		/* A key is a container id or a source: printable as is, or
		 * shown escaped. */
		dw_buf_addf(w->report, "%s of %s ", st_chain_table(t),
			    st_chain_what(t));
		for (size_t i = 0; i < key->n; i++) {
			unsigned char c = key->p[i];

			if (c < 0x20 || c == 0x7f || c == '\\')
				dw_buf_addf(w->report, "\\x%02x", c);
			else
				dw_buf_addch(w->report, (char)c);
		}
		dw_buf_adds(w->report, ": ");
	} else {
		dw_buf_addf(w->report, "%s: ", st_chain_table(t));
	}
	va_start(ap, fmt);
	dw_buf_vaddf(w->report, fmt, ap);
	va_end(ap);
	dw_buf_addch(w->report, '\n');
}

static void problem(struct walk *w, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void problem(struct walk *w, const char *fmt, ...)
{
	va_list ap;

	if (w->out->problems++ >= MAX_SAID)
		return;
	va_start(ap, fmt);
	dw_buf_vaddf(w->report, fmt, ap);
	va_end(ap);
	dw_buf_addch(w->report, '\n');
}

static int unhex(unsigned char *out, size_t n, const char *s)
{
	if (!s || strlen(s) != 2 * n)
		return -1;
	for (size_t i = 0; i < n; i++) {
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

/* A head's key: "key" (UTF-8), or "key_hex". */
static int head_key(json_t *c, struct key *k)
{
	const char *s = json_string_value(json_object_get(c, "key"));
	const char *hex = json_string_value(json_object_get(c, "key_hex"));

	if (s) {
		k->n = json_string_length(json_object_get(c, "key"));
		k->p = dw_xmalloc(k->n + 1);
		memcpy(k->p, s, k->n);
		return 0;
	}
	if (!hex || strlen(hex) % 2)
		return -1;
	k->n = strlen(hex) / 2;
	k->p = dw_xmalloc(k->n + 1);
	if (unhex(k->p, k->n, hex)) {
		free(k->p);
		k->p = NULL;
		return -1;
	}
	return 0;
}

/*
 * The heads in a signed document (a DSSE envelope of dw_store_heads()),
 * as expectations; a signature that does not verify, or a document that
 * is not one, is a problem of its own. `newest`: the store's newest
 * signature (its bases are the chains' bases now).
 */
static int expect_doc(struct walk *w, EVP_PKEY *pub, json_t *env,
		      const char *name, int newest)
{
	struct dw_buf payload = DW_BUF_INIT, why = DW_BUF_INIT;
	json_t *doc = NULL, *chains, *c, *marks;
	const char *type, *root_said, *label;
	char from[600], root[72];
	size_t i;
	int ok = 0;

	if (dw_dsse_verify(pub, env, DW_HEADS_PAYLOAD_TYPE, &payload, &why)) {
		problem(w, "%s: %.*s", name,
			(int)(why.len && why.ptr[why.len - 1] == '\n'
				      ? why.len - 1
				      : why.len),
			why.ptr ? why.ptr : "");
		goto out;
	}
	doc = json_loadb(payload.ptr ? payload.ptr : "", payload.len, 0, NULL);
	chains = json_object_get(doc, "chains");
	marks = json_object_get(doc, "watermarks");
	type = json_string_value(json_object_get(doc, "_type"));
	if (!json_is_array(chains) || !json_is_object(marks) || !type ||
	    strcmp(type, DW_HEADS_TYPE)) {
		problem(w, "%s: signed, but not chain heads", name);
		goto out;
	}
	st_heads_root(chains, root);
	root_said = json_string_value(json_object_get(doc, "root"));
	if (!root_said || strcmp(root, root_said)) {
		problem(w, "%s: its root is not its heads'", name);
		goto out;
	}
	snprintf(from, sizeof(from), "%s (%lld)", name,
		 (long long)json_integer_value(json_object_get(doc, "time")));
	label = keep_from(w, from);
	DW_ALLOC_GROW(w->docs, w->ndocs + 1, w->docs_alloc);
	w->docs[w->ndocs].from = label;
	for (int t = 0; t < ST_NCHAINED; t++)
		w->docs[w->ndocs].marks[t] = json_integer_value(
			json_object_get(marks, st_chain_table(t)));
	w->ndocs++;
	json_array_foreach(chains, i, c)
	{
		struct expect x;
		int t = table_of(
			json_string_value(json_object_get(c, "table")));

		memset(&x, 0, sizeof(x));
		x.base_seq = json_integer_value(json_object_get(c, "base_seq"));
		x.seq = json_integer_value(json_object_get(c, "seq"));
		x.id = json_integer_value(json_object_get(c, "id"));
		if (t >= 0)
			x.watermark = json_integer_value(
				json_object_get(marks, st_chain_table(t)));
		if (t < 0 || !VALID_SEQ(x.base_seq) || x.seq < x.base_seq - 1 ||
		    x.seq > SEQ_MAX || head_key(c, &x.key) ||
		    unhex(x.base_hash, HASH_LEN,
			  json_string_value(json_object_get(c, "base_hash"))) ||
		    unhex(x.hash, HASH_LEN,
			  json_string_value(json_object_get(c, "hash")))) {
			free(x.key.p);
			problem(w, "%s: head %zu is not one a store writes",
				name, i);
			continue;
		}
		x.t = t;
		x.from = label;
		x.doc = w->ndocs - 1;
		x.newest = newest;
		DW_ALLOC_GROW(w->e, w->ne + 1, w->alloc);
		w->e[w->ne++] = x;
	}
	if (newest) {
		w->have_newest = 1;
		for (int t = 0; t < ST_NCHAINED; t++)
			w->newest_marks[t] = json_integer_value(
				json_object_get(marks, st_chain_table(t)));
	}
	w->out->docs++;
	ok = 1;
out:
	json_decref(doc);
	dw_buf_release(&payload);
	dw_buf_release(&why);
	return ok;
}

static int expect_cmp(const void *a, const void *b)
{
	const struct expect *x = a, *y = b;
	int c;

	if (x->t != y->t)
		return x->t < y->t ? -1 : 1;
	c = key_cmp(&x->key, y->key.p, y->key.n);
	if (c)
		return c;
	return x->seq < y->seq ? -1 : x->seq > y->seq;
}

/* The store's own signed heads; the newest that verifies is the one
 * the chains' bases must agree with. */
static int expect_stored(struct walk *w, EVP_PKEY *pub)
{
	sqlite3_stmt *st;
	int rc, err = st_prepare(w->s, &st,
				 "SELECT id, time, envelope FROM "
				 "chain_signatures ORDER BY id DESC");

	if (err)
		return err;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		const char *text = (const char *)sqlite3_column_text(st, 2);
		json_t *env = text ? json_loads(text, 0, NULL) : NULL;
		char name[120];

		w->out->stored++;
		snprintf(name, sizeof(name),
			 "the heads signed in the store (signature %lld)",
			 (long long)sqlite3_column_int64(st, 0));
		if (!pub) {
			json_decref(env);
			continue;
		}
		if (!env) {
			problem(w, "%s: not an envelope", name);
			continue;
		}
		if (expect_doc(w, pub, env, name, !w->have_newest)) {
			w->out->signed_docs++;
			if (sqlite3_column_int64(st, 1) > w->out->last_signed)
				w->out->last_signed =
					sqlite3_column_int64(st, 1);
		}
		json_decref(env);
	}
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE)
		return st_db_error(w->s, "cannot read the signed heads");
	if (w->out->stored && !pub)
		problem(w,
			"%lld signed heads in the store cannot be checked: "
			"no key (--key PUB)",
			w->out->stored);
	return 0;
}

struct chain_state {
	int t, has_head;
	struct key key;
	long long base_seq, head_seq, head_id;
	unsigned char base_hash[HASH_LEN], head_hash[HASH_LEN];
	long long next_seq; /* the position the next row should have */
	unsigned char prev[HASH_LEN];
	long long rows, first_id;
	struct expect *e; /* this chain's expectations, by position */
	size_t ne, ke;
};

/*
 * A row against what a document says of its chain when it was signed:
 * the chain ended at x->seq and the table at row id x->watermark, so a
 * row is at or before that position exactly when its id is at or below
 * that watermark. A row renumbered to look newer (or older) does not.
 */
static void fits(struct walk *w, struct chain_state *c, struct expect *x,
		 long long id, long long seq)
{
	if ((id <= x->watermark) == (seq <= x->seq) || x->misfit_said)
		return;
	x->misfit_said = 1;
	say(w, c->t, &c->key,
	    "row id %lld is at position %lld, but when %s was signed the "
	    "chain ended at position %lld and the table at row id %lld: "
	    "renumbered or inserted",
	    id, seq, x->from, x->seq, x->watermark);
}

static void check_row(struct walk *w, struct chain_state *c, sqlite3_stmt *st)
{
	long long id = sqlite3_column_int64(st, 1);
	long long seq = sqlite3_column_int64(st, 2);
	const void *prev = sqlite3_column_blob(st, 3);
	const void *hash = sqlite3_column_blob(st, 4);
	const void *again = sqlite3_column_blob(st, 5);

	c->rows++;
	w->out->rows++;
	if (c->rows == 1)
		c->first_id = id;
	if (w->have_newest && id > w->newest_marks[c->t])
		w->out->unsigned_rows++;
	if (sqlite3_column_type(st, 2) != SQLITE_INTEGER ||
	    sqlite3_column_bytes(st, 3) != HASH_LEN ||
	    sqlite3_column_bytes(st, 4) != HASH_LEN) {
		say(w, c->t, &c->key,
		    "row id %lld is not chained: written outside driftwatch",
		    id);
		return;
	}
	if (!VALID_SEQ(seq) || id < 1) {
		say(w, c->t, &c->key,
		    "row id %lld is at position %lld, which driftwatch never "
		    "writes: written outside driftwatch",
		    id, seq);
		return;
	}
	if (sqlite3_column_bytes(st, 5) != HASH_LEN ||
	    memcmp(again, hash, HASH_LEN))
		say(w, c->t, &c->key,
		    "row id %lld (position %lld) was edited: its content is "
		    "not what was hashed",
		    id, seq);
	if (seq > c->next_seq)
		say(w, c->t, &c->key,
		    "positions %lld to %lld, before row id %lld, are gone: "
		    "deleted",
		    c->next_seq, seq - 1, id);
	else if (seq < c->next_seq)
		say(w, c->t, &c->key,
		    "row id %lld claims position %lld, after position %lld: "
		    "inserted or moved",
		    id, seq, c->next_seq - 1);
	else if (memcmp(prev, c->prev, HASH_LEN))
		say(w, c->t, &c->key,
		    "row id %lld (position %lld) does not follow the row "
		    "before it: one of the two was inserted or replaced",
		    id, seq);
	for (size_t k = 0; k < c->ne; k++)
		fits(w, c, &c->e[k], id, seq);
	/* What was signed at this position. */
	while (c->ke < c->ne && c->e[c->ke].seq < seq)
		c->ke++;
	for (size_t k = c->ke; k < c->ne && c->e[k].seq == seq; k++) {
		c->e[k].done = 1;
		if (memcmp(c->e[k].hash, hash, HASH_LEN))
			say(w, c->t, &c->key,
			    "row id %lld (position %lld) is not the row %s "
			    "holds there: the chain was rewritten",
			    id, seq, c->e[k].from);
		else
			w->out->matched++;
	}
	c->next_seq = seq + 1;
	memcpy(c->prev, hash, HASH_LEN);
}

static void finish_expect(struct walk *w, struct chain_state *c,
			  struct expect *x, long long last)
{
	if (x->base_seq > c->base_seq)
		say(w, c->t, &c->key,
		    "it begins at position %lld, but %s had pruned it to "
		    "%lld: rows are back",
		    c->base_seq, x->from, x->base_seq);
	/* The daemon signs the new bases in the transaction that prunes:
	 * bases past the newest signature were moved by someone else. */
	if (x->newest && !w->allow_unsigned &&
	    (x->base_seq != c->base_seq ||
	     memcmp(x->base_hash, c->base_hash, HASH_LEN)))
		say(w, c->t, &c->key,
		    "it begins at position %lld, but the newest signature has "
		    "it begin at %lld: pruned outside driftwatch",
		    c->base_seq, x->base_seq);
	if (x->done)
		return;
	if (!c->has_head && !c->rows) {
		say(w, c->t, &c->key,
		    "the chain is gone; %s has it up to position %lld", x->from,
		    x->seq);
	} else if (x->seq == c->base_seq - 1) {
		if (memcmp(x->hash, c->base_hash, HASH_LEN))
			say(w, c->t, &c->key,
			    "pruned up to position %lld, but not to the row "
			    "%s holds there",
			    x->seq, x->from);
		else
			w->out->matched++;
	} else if (x->seq < c->base_seq - 1) {
		w->out->pruned_since++;
	} else if (x->seq > last) {
		say(w, c->t, &c->key,
		    "positions %lld to %lld, in %s, are gone: deleted",
		    last + 1, x->seq, x->from);
	} else {
		say(w, c->t, &c->key, "position %lld, in %s, is gone: deleted",
		    x->seq, x->from);
	}
}

static void finish_chain(struct walk *w, struct chain_state *c)
{
	long long last = c->next_seq - 1;
	int newest = 0;

	if (!c->has_head && c->rows)
		say(w, c->t, &c->key,
		    "no recorded head: the chain's head was deleted");
	if (c->has_head && last < c->head_seq)
		say(w, c->t, &c->key,
		    "positions %lld to %lld are gone: deleted (the recorded "
		    "head is at position %lld, row id %lld)",
		    last + 1, c->head_seq, c->head_seq, c->head_id);
	else if (c->has_head && last > c->head_seq)
		say(w, c->t, &c->key,
		    "positions %lld to %lld are past the recorded head (at "
		    "%lld, row id %lld): written outside driftwatch, or the "
		    "head was rolled back",
		    c->head_seq + 1, last, c->head_seq, c->head_id);
	else if (c->has_head && memcmp(c->prev, c->head_hash, HASH_LEN))
		say(w, c->t, &c->key,
		    "the last row (position %lld) is not the recorded head: "
		    "replaced",
		    last);
	/* Snapshots and rotations are never pruned. */
	if (c->t >= ST_SNAPSHOTS &&
	    (c->base_seq != 1 ||
	     memcmp(c->base_hash, (unsigned char[HASH_LEN]){0}, HASH_LEN)))
		say(w, c->t, &c->key,
		    "it begins at position %lld, but it is never pruned: "
		    "rows deleted",
		    c->base_seq);
	for (size_t k = 0; k < c->ne; k++) {
		newest |= c->e[k].newest;
		finish_expect(w, c, &c->e[k], last);
	}
	/* A chain a document does not list began after it was signed: its
	 * rows are all newer than the table's last row then. */
	for (size_t d = 0; c->rows && d < w->ndocs; d++) {
		size_t k;

		for (k = 0; k < c->ne && c->e[k].doc != d; k++)
			;
		if (k == c->ne && c->first_id <= w->docs[d].marks[c->t])
			say(w, c->t, &c->key,
			    "row id %lld was written before %s, which has no "
			    "such chain: moved or inserted",
			    c->first_id, w->docs[d].from);
	}
	/* A chain the newest signature does not know began after it. */
	if (w->have_newest && !newest && c->base_seq != 1 && !w->allow_unsigned)
		say(w, c->t, &c->key,
		    "it begins at position %lld, but the newest signature "
		    "does not know it: pruned outside driftwatch",
		    c->base_seq);
}

/* Is each table the store reads a table of its own (not a view, not a
 * virtual table that could make rows without end)? */
static int tables_are_tables(struct walk *w)
{
	static const char *const extra[] = {"chain_heads", "chain_signatures"};
	sqlite3_stmt *st;
	int err = st_prepare(w->s, &st,
			     "SELECT type = 'table' AND sql NOT LIKE "
			     "'CREATE VIRTUAL%' FROM sqlite_schema WHERE "
			     "name = ?1");

	for (int i = 0; !err && i < ST_NCHAINED + 2; i++) {
		const char *name = i < ST_NCHAINED ? st_chain_table(i)
						   : extra[i - ST_NCHAINED];

		sqlite3_reset(st);
		sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
		if (sqlite3_step(st) != SQLITE_ROW ||
		    !sqlite3_column_int(st, 0))
			err = dw_error_set(DW_EIO,
					   "store: %s is not a table the "
					   "store makes",
					   name);
	}
	sqlite3_finalize(st);
	return err;
}

static int walk_table(struct walk *w, int t)
{
	char sql[700];
	sqlite3_stmt *heads = NULL, *rows = NULL;
	struct key prev_head = {NULL, 0};
	size_t ei = 0;
	int hrc, rrc, err;

	while (ei < w->ne && w->e[ei].t < t)
		ei++;
	snprintf(sql, sizeof(sql),
		 "SELECT CAST(%s AS BLOB), id, chain_seq, chain_prev, "
		 "chain_hash, dw_chain_hash('%s', chain_seq, chain_prev, %s) "
		 "FROM %s ORDER BY 1, id",
		 st_chain_keycol(t), st_chain_table(t), st_chain_cols(t),
		 st_chain_table(t));
	err = st_prepare(w->s, &rows, sql);
	if (!err)
		err = st_prepare(w->s, &heads,
				 "SELECT CAST(key AS BLOB), base_seq, "
				 "base_hash, seq, id, hash FROM chain_heads "
				 "WHERE tbl = ?1 ORDER BY 1");
	if (err)
		goto out;
	sqlite3_bind_text(heads, 1, st_chain_table(t), -1, SQLITE_STATIC);
	hrc = sqlite3_step(heads);
	rrc = sqlite3_step(rows);
	for (;;) {
		struct chain_state c;
		const void *kp = NULL;
		size_t kn = 0;
		int have = 0;

#define COLKEY(st)                                                             \
	sqlite3_column_blob(st, 0), (size_t)sqlite3_column_bytes(st, 0)
		memset(&c, 0, sizeof(c));
		/* The next chain: the least key of the heads, the rows and
		 * the expectations. */
		if (hrc == SQLITE_ROW) {
			kp = sqlite3_column_blob(heads, 0);
			kn = (size_t)sqlite3_column_bytes(heads, 0);
			have = 1;
		}
		if (rrc == SQLITE_ROW &&
		    (!have || bytes_cmp(COLKEY(rows), kp, kn) < 0)) {
			kp = sqlite3_column_blob(rows, 0);
			kn = (size_t)sqlite3_column_bytes(rows, 0);
			have = 1;
		}
		if (ei < w->ne && w->e[ei].t == t &&
		    (!have || key_cmp(&w->e[ei].key, kp, kn) < 0)) {
			kp = w->e[ei].key.p;
			kn = w->e[ei].key.n;
			have = 1;
		}
		if (!have)
			break;
		c.key.p = dw_xmalloc(kn + 1);
		memcpy(c.key.p, kp ? kp : "", kn);
		c.key.n = kn;
		c.t = t;
		c.base_seq = 1;
		w->out->chains++;
		if (hrc == SQLITE_ROW && !key_cmp(&c.key, COLKEY(heads))) {
			c.base_seq = sqlite3_column_int64(heads, 1);
			c.head_seq = sqlite3_column_int64(heads, 3);
			c.head_id = sqlite3_column_int64(heads, 4);
			if (prev_head.p &&
			    !key_cmp(&prev_head, c.key.p, c.key.n))
				say(w, t, &c.key,
				    "two recorded heads: one was added");
			else if (!VALID_SEQ(c.base_seq) ||
				 c.head_seq < c.base_seq - 1 ||
				 c.head_seq > SEQ_MAX ||
				 sqlite3_column_bytes(heads, 2) != HASH_LEN ||
				 sqlite3_column_bytes(heads, 5) != HASH_LEN)
				say(w, t, &c.key,
				    "its recorded head is not one driftwatch "
				    "writes: changed outside it");
			else
				c.has_head = 1;
			if (c.has_head) {
				memcpy(c.base_hash,
				       sqlite3_column_blob(heads, 2), HASH_LEN);
				memcpy(c.head_hash,
				       sqlite3_column_blob(heads, 5), HASH_LEN);
			} else {
				c.base_seq = 1;
			}
			free(prev_head.p);
			prev_head.p = dw_xmalloc(c.key.n + 1);
			memcpy(prev_head.p, c.key.p, c.key.n);
			prev_head.n = c.key.n;
			hrc = sqlite3_step(heads);
		}
		c.next_seq = c.base_seq;
		memcpy(c.prev, c.base_hash, HASH_LEN);
		c.e = w->e + ei;
		while (ei < w->ne && w->e[ei].t == t &&
		       !key_cmp(&w->e[ei].key, c.key.p, c.key.n))
			ei++, c.ne++;
		while (rrc == SQLITE_ROW && !key_cmp(&c.key, COLKEY(rows))) {
			check_row(w, &c, rows);
			rrc = sqlite3_step(rows);
		}
#undef COLKEY
		finish_chain(w, &c);
		free(c.key.p);
	}
	if ((hrc != SQLITE_DONE && hrc != SQLITE_ROW) ||
	    (rrc != SQLITE_DONE && rrc != SQLITE_ROW))
		err = st_db_error(w->s, "cannot read a chain");
out:
	free(prev_head.p);
	sqlite3_finalize(heads);
	sqlite3_finalize(rows);
	return err;
}

int dw_store_verify_chains(struct dw_store *s, EVP_PKEY *pub,
			   json_t *const *anchors, const char *const *names,
			   size_t nanchors, unsigned flags,
			   struct dw_buf *report, struct dw_chain_check *out,
			   json_t **heads)
{
	struct walk w;
	int err;

	memset(&w, 0, sizeof(w));
	w.allow_unsigned = !!(flags & DW_CHAIN_ALLOW_UNSIGNED);
	w.s = s;
	w.report = report;
	w.out = out;
	memset(out, 0, sizeof(*out));
	if (heads)
		*heads = NULL;
	if (nanchors && !pub)
		return dw_error_set(DW_EINVAL,
				    "anchors cannot be checked without a key "
				    "(--key PUB)");
	/* One read transaction: a writer's rows come after, not between. */
	err = sqlite3_exec(s->db, "BEGIN", NULL, NULL, NULL) == SQLITE_OK
		      ? 0
		      : st_db_error(s, "cannot begin reading");
	if (!err)
		err = tables_are_tables(&w);
	if (!err)
		err = expect_stored(&w, pub);
	for (size_t i = 0; !err && i < nanchors; i++) {
		char name[600];

		snprintf(name, sizeof(name), "anchor %s", names[i]);
		expect_doc(&w, pub, anchors[i], name, 0);
	}
	out->expected = (long long)w.ne;
	if (w.ne)
		qsort(w.e, w.ne, sizeof(*w.e), expect_cmp);
	for (int t = 0; !err && t < ST_NCHAINED; t++)
		err = walk_table(&w, t);
	if (!err && heads && !out->problems)
		err = dw_store_heads(s, NULL, heads);
	sqlite3_exec(s->db, "COMMIT", NULL, NULL, NULL);
	if (out->problems > MAX_SAID)
		dw_buf_addf(report, "... and %lld more problems\n",
			    out->problems - MAX_SAID);
	for (size_t i = 0; i < w.ne; i++)
		free(w.e[i].key.p);
	free(w.e);
	for (size_t i = 0; i < w.nfroms; i++)
		free(w.froms[i]);
	free(w.froms);
	free(w.docs);
	if (err && heads) {
		json_decref(*heads);
		*heads = NULL;
	}
	if (err)
		return err;
	return out->problems ? DW_ERROR : 0;
}
