/*
 * Container images as `docker save` writes them (Docker's manifest.json,
 * with or without an OCI layout beside it) or as an OCI image layout in
 * a tar (index.json): the config's Env, Cmd, Entrypoint, Labels and
 * history, then every layer from the top down, each entry of each layer
 * scanned as archive.c scans an archive. Top down, so that what a later
 * layer deletes (a whiteout, an opaque directory) or replaces is known
 * when a lower layer's secret is told: it is reported all the same, in
 * the layer that holds it, with the layer that hid it named.
 */
#include <ctype.h>
#include <errno.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "archive.h"
#include "archive_int.h"
#include "driftwatch/buf.h"
#include "driftwatch/error.h"
#include "driftwatch/escape.h"
#include "driftwatch/json.h"
#include "driftwatch/xmalloc.h"
#include "driftwatch/banned.h"

#define ar dw_ar

/* What of an archive is read into memory to find the image in it: the
 * entries that may be a manifest, an index or a config, each at most
 * this big, at most IMAGE_META_TOTAL in all. */
#define IMAGE_META_MAX (4u << 20)
#define IMAGE_META_TOTAL (64u << 20)
/* Entries of the archive itself, and of each layer. */
#define IMAGE_MEMBERS 100000
#define IMAGE_LAYER_ENTRIES 2000000
/* Layers of one image (overlayfs stacks at most 500; Docker 127). */
#define IMAGE_LAYERS 4096
/* Images of one archive, manifests an OCI index may list in all, and
 * layers all its images name: past these, the rest is not read (said). */
#define IMAGE_IMAGES 1000
#define IMAGE_MANIFESTS 1000
#define IMAGE_LAYER_REFS 20000
/* A user-given string as a finding's field (a history step, a path):
 * cut to this many bytes, never in the middle of a token. */
#define IMAGE_FIELD_MAX 116

/* 64-bit hashes of paths, sorted once their layer is read. */
struct pathset {
	uint64_t *v;
	size_t n, alloc;
};

struct member {
	char *name;
	char *link; /* a symlink's or hard link's target, normalized */
	int64_t at; /* its header */
	uint64_t size;
	char *data; /* the small ones, read */
	size_t len;
	/* Read as a layer (once, whatever images name it): */
	int read;
	struct pathset paths; /* every entry */
	struct pathset gone;  /* what its whiteouts delete */
	struct pathset opaque;
};

/* Keys kept whole (compared whole), by a seeded hash. */
struct strset {
	char **v;
	size_t n, cap;
};

struct layer {
	const char *blob;    /* its member's name */
	struct member *m;    /* NULL: not in the archive */
	const char *diff_id; /* from the config, or NULL */
	const char *step;    /* its history's created_by, or NULL */
};

struct img {
	struct dw_scanner *s;
	int fd;
	const char *display;
	dw_source_cb cb;
	void *ctx;
	struct member *m;
	size_t nm, nm_alloc;
	size_t *slot; /* member indexes by name's hash (SIZE_MAX: empty) */
	size_t nslot;
	/* Images and manifests read (whole keys), layers named */
	struct strset images_seen, manifests_seen;
	size_t manifests, refs;
	size_t images;	  /* read */
	uint64_t basis;	  /* of the layers' path hashes */
	size_t problems;  /* noted (what fits of them in `why`) */
	const char *name; /* RepoTags[0], or the config's digest */
	char config_digest[80];
	struct layer *l;
	size_t nl;
	size_t cur;	 /* the layer being read */
	char *cur_path;	 /* the entry of it being read, normalized */
	const char *key; /* the config part being scanned */
	int err;
	char why[1024];
};

static void note(struct img *g, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* Problems are kept as long as they fit, all counted; scanning goes on. */
static void note(struct img *g, const char *fmt, ...)
{
	va_list ap;
	size_t at = 0;

	g->problems++;
	if (g->err) {
		at = strlen(g->why);
		if (at + 8 >= sizeof(g->why))
			return;
		snprintf(g->why + at, sizeof(g->why) - at, "; ");
		at += 2;
	}
	g->err = DW_EIO;
	va_start(ap, fmt);
	vsnprintf(g->why + at, sizeof(g->why) - at, fmt, ap);
	va_end(ap);
}

#define HASH_INIT 1469598103934665603ull

static uint64_t hash_more(uint64_t h, const char *p, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		h = (h ^ (unsigned char)p[i]) * 1099511628211ull;
	return h;
}

/* A layer's paths by hashes from a basis drawn for each scan: an
 * archive cannot be made, ahead of it, to collide with a path a secret
 * is at and so show it as hidden (it would still be reported). */
static void set_add(struct pathset *s, uint64_t basis, const char *p, size_t n)
{
	DW_ALLOC_GROW(s->v, s->n + 1, s->alloc);
	s->v[s->n++] = hash_more(basis, p, n);
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static void set_seal(struct pathset *s)
{
	if (s->n)
		qsort(s->v, s->n, sizeof(s->v[0]), cmp_u64);
}

static int set_has(const struct pathset *s, uint64_t h)
{
	return s->n && bsearch(&h, s->v, s->n, sizeof(h), cmp_u64) != NULL;
}

/* A layer's name for a path: no "./" or "/" before, none after. */
static char *normalize(const char *p)
{
	size_t n;

	while (p[0] == '.' && p[1] == '/')
		p += 2;
	while (*p == '/')
		p++;
	n = strlen(p);
	while (n && p[n - 1] == '/')
		n--;
	return dw_xstrndup(p, n);
}

/* ---- the archive's members ---- */

/* A name's place in a table: the scan's basis, then mixed (FNV's low
 * bits depend on the input's low bits alone: names can be made to
 * crowd one place when the basis is known). */
static uint64_t hash_key(const struct img *g, const char *p, size_t n)
{
	uint64_t h = hash_more(g->basis, p, n);

	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdull;
	h ^= h >> 33;
	h *= 0xc4ceb9fe1a85ec53ull;
	return h ^ (h >> 33);
}

static size_t *slot_of(const struct img *g, const char *name)
{
	size_t i = (size_t)hash_key(g, name, strlen(name)) & (g->nslot - 1);

	while (g->slot[i] != SIZE_MAX && strcmp(g->m[g->slot[i]].name, name))
		i = (i + 1) & (g->nslot - 1);
	return &g->slot[i];
}

/* The member `name`, its links followed (a few); the last of its name
 * (as extracting the archive keeps it), or NULL. */
static struct member *member(const struct img *g, const char *name)
{
	int hops;

	while (name[0] == '.' && name[1] == '/')
		name += 2;
	for (hops = 0; g->nslot && hops < 8; hops++) {
		size_t k = *slot_of(g, name);

		if (k == SIZE_MAX)
			return NULL;
		if (!g->m[k].link)
			return &g->m[k];
		name = g->m[k].link;
	}
	return NULL;
}

/* The index by name, the last of each name kept; duplicates said. */
static void index_members(struct img *g)
{
	size_t i, dups = 0;
	const char *first = NULL;

	for (g->nslot = 16; g->nslot < g->nm * 2; g->nslot *= 2)
		;
	g->slot = dw_xmalloc(g->nslot * sizeof(*g->slot));
	for (i = 0; i < g->nslot; i++)
		g->slot[i] = SIZE_MAX;
	for (i = 0; i < g->nm; i++) {
		size_t *k = slot_of(g, g->m[i].name);

		if (*k != SIZE_MAX && !dups++)
			first = g->m[i].name;
		*k = i;
	}
	if (dups)
		note(g,
		     "%s: %zu members named as an earlier one (the first: "
		     "%s): the last of each is read, as extracting the "
		     "archive keeps it",
		     g->display, dups, first);
}

/* A link's target as a member name: a symlink's relative to its own
 * directory, a hard link's from the top. */
static char *link_target(const char *name, const char *target, int sym)
{
	struct dw_buf b = DW_BUF_INIT;
	const char *slash = strrchr(name, '/');
	char *out, *w, *r, *seg;

	if (sym && *target != '/' && slash)
		dw_buf_add(&b, name, (size_t)(slash - name + 1));
	dw_buf_adds(&b, target);
	out = dw_buf_detach(&b, NULL);
	if (!out)
		return dw_xstrdup("");
	/* "." and ".." resolved; nothing above the top. */
	w = out;
	for (r = out; *r;) {
		size_t n;

		while (*r == '/')
			r++;
		seg = r;
		while (*r && *r != '/')
			r++;
		n = (size_t)(r - seg);
		if (!n || (n == 1 && seg[0] == '.'))
			continue;
		if (n == 2 && seg[0] == '.' && seg[1] == '.') {
			while (w > out && *--w != '/')
				;
			continue;
		}
		if (w > out)
			*w++ = '/';
		memmove(w, seg, n);
		w += n;
	}
	*w = '\0';
	return out;
}

static int worth_reading(const char *name, uint64_t size)
{
	size_t n = strlen(name);

	return size <= IMAGE_META_MAX &&
	       (!strncmp(name, "blobs/", 6) ||
		(n > 5 && !strcmp(name + n - 5, ".json")));
}

/* Pass one: every member's place, the small ones read. */
static int list_members(struct img *g)
{
	struct archive *a = ar.archive_read_new();
	struct archive_entry *e;
	struct dw_archive_fd o = {g->fd, NULL, 0, NULL, 0, 0};
	size_t kept = 0;
	int rc;

	if (!a)
		return dw_error_set(DW_EIO, "%s: cannot start a reader",
				    g->display);
	ar.archive_read_support_format_tar(a);
	ar.archive_read_support_filter_gzip(a);
	ar.archive_read_support_filter_zstd(a);
	ar.archive_read_support_filter_xz(a);
	ar.archive_read_support_filter_bzip2(a);
	o.buf = dw_xmalloc(256u << 10);
	if (dw_archive_open_fd(a, &o)) {
		rc = dw_error_set(DW_EIO, "%s: not an image archive: %s",
				  g->display, dw_error_last());
		goto out;
	}
	while ((rc = ar.archive_read_next_header(a, &e)) == ARCHIVE_OK ||
	       rc == ARCHIVE_WARN) {
		const char *p = ar.archive_entry_pathname(e);
		struct member *m;

		if (ar.archive_filter_code(a, 0) != ARCHIVE_FILTER_NONE) {
			rc = dw_error_set(
				DW_EUNSUPPORTED,
				"%s: a compressed image archive: give the tar "
				"itself (its layers are read in an order "
				"that needs seeking), e.g. gunzip it first",
				g->display);
			goto out;
		}
		if (!p)
			continue;
		if (ar.archive_entry_filetype(e) != AE_IFREG &&
		    ar.archive_entry_filetype(e) != AE_IFLNK &&
		    !ar.archive_entry_hardlink(e))
			continue;
		if (g->nm == IMAGE_MEMBERS) {
			rc = dw_error_set(DW_EIO,
					  "%s: more than %d members: not an "
					  "image archive",
					  g->display, IMAGE_MEMBERS);
			goto out;
		}
		DW_ALLOC_GROW(g->m, g->nm + 1, g->nm_alloc);
		m = &g->m[g->nm++];
		memset(m, 0, sizeof(*m));
		while (p[0] == '.' && p[1] == '/')
			p += 2;
		m->name = dw_xstrdup(p);
		if (ar.archive_entry_hardlink(e))
			m->link =
				link_target(p, ar.archive_entry_hardlink(e), 0);
		else if (ar.archive_entry_filetype(e) == AE_IFLNK)
			m->link = link_target(
				p,
				ar.archive_entry_symlink(e)
					? ar.archive_entry_symlink(e)
					: "",
				1);
		if (m->link)
			continue;
		m->at = ar.archive_read_header_position(a);
		m->size = (uint64_t)ar.archive_entry_size(e);
		if (worth_reading(m->name, m->size) &&
		    kept + m->size <= IMAGE_META_TOTAL) {
			struct dw_buf b = DW_BUF_INIT;
			char chunk[65536];
			la_ssize_t n;

			while ((n = ar.archive_read_data(a, chunk,
							 sizeof(chunk))) > 0 &&
			       b.len + (size_t)n <= IMAGE_META_MAX)
				dw_buf_add(&b, chunk, (size_t)n);
			m->len = b.len;
			m->data = dw_buf_detach(&b, NULL);
			kept += m->len;
		}
	}
	rc = rc == ARCHIVE_EOF
		     ? 0
		     : dw_error_set(DW_EIO, "%s: not an image archive: %s",
				    g->display,
				    ar.archive_error_string(a)
					    ? ar.archive_error_string(a)
					    : "malformed");
out:
	ar.archive_read_free(a);
	free(o.buf);
	return rc;
}

static json_t *member_json(const struct img *g, const char *name)
{
	const struct member *m = name ? member(g, name) : NULL;

	if (!m || !m->data)
		return NULL;
	return json_loadb(m->data, m->len, JSON_REJECT_DUPLICATES, NULL);
}

/* "sha256:abc" as the OCI layout's member "blobs/sha256/abc". */
static char *blob_name(const char *digest)
{
	const char *colon = digest ? strchr(digest, ':') : NULL;
	struct dw_buf b = DW_BUF_INIT;

	if (!colon || colon == digest || !colon[1] || strchr(colon + 1, '/') ||
	    memchr(digest, '/', (size_t)(colon - digest)) || colon[1] == '.')
		return NULL;
	dw_buf_addf(&b, "blobs/%.*s/%s", (int)(colon - digest), digest,
		    colon + 1);
	return dw_buf_detach(&b, NULL);
}

/* ---- findings ---- */

/* What a token is made of: a field is never cut inside a run of them
 * (a secret cut short is no longer one that redaction knows). */
static int tokenish(unsigned char c)
{
	return c >= 0x80 || isalnum(c) || strchr("_+/=.~-%$", c);
}

/* `s` as a field, cut to IMAGE_FIELD_MAX bytes before a token that
 * would not fit whole, whole UTF-8. */
static void add_cut(json_t *o, const char *key, const char *s)
{
	struct dw_buf b = DW_BUF_INIT;
	size_t n = strlen(s), cut = n;

	if (n > IMAGE_FIELD_MAX) {
		cut = IMAGE_FIELD_MAX;
		while (cut > 0 && tokenish((unsigned char)s[cut]) &&
		       tokenish((unsigned char)s[cut - 1]))
			cut--;
	}
	dw_utf8_sanitize(&b, s, cut);
	if (cut < n)
		dw_buf_adds(&b, "...");
	json_object_set_new(o, key, json_string(b.ptr ? b.ptr : ""));
	dw_buf_release(&b);
}

static int config_finding(const struct dw_finding *f, void *ctx)
{
	struct img *g = ctx;
	struct dw_source src = {g->display, DW_SOURCE_IMAGE, NULL};
	int rc;

	src.fields = json_object();
	add_cut(src.fields, "image", g->name);
	add_cut(src.fields, "key", g->key);
	rc = g->cb(f, &src, g->ctx);
	json_decref(src.fields);
	return rc;
}

/*
 * The layer above `i` that hides `path`: deletes it or a directory it
 * is in (a whiteout; an opaque directory above it), or puts something
 * else there. -1 when none does.
 */
static long hidden_in(const struct img *g, size_t i, const char *path,
		      const char **how)
{
	size_t j, k, n = strlen(path), nd = 0;
	uint64_t *dirs, whole, h = g->basis;
	long found = -1;

	/* Each directory's hash once (one pass: a path of thousands of
	 * levels costs its length, not its length squared). */
	for (k = 0; k < n; k++)
		nd += path[k] == '/';
	dirs = dw_xmalloc((nd ? nd : 1) * sizeof(*dirs));
	nd = 0;
	for (k = 0; k < n; k++) {
		if (path[k] == '/')
			dirs[nd++] = h;
		h = hash_more(h, path + k, 1);
	}
	whole = h;
	for (j = i + 1; found < 0 && j < g->nl; j++) {
		const struct member *m = g->l[j].m;

		if (!m || !m->read)
			continue;
		if (set_has(&m->gone, whole)) {
			*how = "deleted";
			found = (long)j;
		}
		for (k = 0; found < 0 && k < nd; k++)
			if (set_has(&m->gone, dirs[k]) ||
			    set_has(&m->opaque, dirs[k])) {
				*how = "deleted";
				found = (long)j;
			}
		if (found < 0 && set_has(&m->paths, whole)) {
			*how = "replaced";
			found = (long)j;
		}
	}
	free(dirs);
	return found;
}

static void layer_fields(json_t *o, const struct img *g, size_t i,
			 const char *prefix)
{
	char key[40], n[24];

	snprintf(n, sizeof(n), "%zu", i + 1);
	snprintf(key, sizeof(key), "%slayer", prefix);
	json_object_set_new(o, key, json_string(n));
	if (g->l[i].diff_id) {
		snprintf(key, sizeof(key), "%slayer_digest", prefix);
		add_cut(o, key, g->l[i].diff_id);
	}
	if (g->l[i].step) {
		snprintf(key, sizeof(key), "%sstep", prefix);
		add_cut(o, key, g->l[i].step);
	}
}

static int layer_finding(const struct dw_finding *f, const struct dw_source *in,
			 void *ctx)
{
	struct img *g = ctx;
	struct dw_source src = {g->display, DW_SOURCE_IMAGE, NULL};
	const json_t *entry =
		in->fields ? json_object_get(in->fields, "entry") : NULL;
	const char *how = NULL;
	long j = g->cur_path ? hidden_in(g, g->cur, g->cur_path, &how) : -1;
	int rc;

	src.fields = json_object();
	add_cut(src.fields, "image", g->name);
	add_cut(src.fields, "entry",
		json_is_string(entry) ? json_string_value(entry)
		: g->cur_path	      ? g->cur_path
				      : "");
	layer_fields(src.fields, g, g->cur, "");
	if (j >= 0) {
		json_object_set_new(src.fields, "hidden", json_string(how));
		layer_fields(src.fields, g, (size_t)j, "hidden_by_");
	}
	rc = g->cb(f, &src, g->ctx);
	json_decref(src.fields);
	return rc;
}

/* Each entry of the layer being read: its path kept for the layers
 * below, whiteouts as what they delete. */
static void on_entry(void *hctx, const char *path, int type)
{
	struct img *g = hctx;
	struct member *l = g->l[g->cur].m;
	char *p = normalize(path);
	const char *base = strrchr(p, '/');
	size_t dir = base ? (size_t)(base - p) : 0;
	struct dw_buf b = DW_BUF_INIT;

	(void)type;
	base = base ? base + 1 : p;
	free(g->cur_path);
	g->cur_path = p;
	if (strncmp(base, ".wh.", 4)) {
		set_add(&l->paths, g->basis, p, strlen(p));
		return;
	}
	if (!strcmp(base, ".wh..wh..opq")) {
		set_add(&l->opaque, g->basis, p, dir);
		return;
	}
	dw_buf_add(&b, p, dir);
	if (dir)
		dw_buf_addch(&b, '/');
	dw_buf_adds(&b, base + 4);
	set_add(&l->gone, g->basis, b.ptr, b.len);
	dw_buf_release(&b);
}

/* ---- the config ---- */

static void scan_text(struct img *g, const char *key, const struct dw_buf *t)
{
	if (!t->len)
		return;
	g->key = key;
	dw_scan_begin(g->s, 1, config_finding, g);
	dw_scan_feed(g->s, t->ptr, t->len);
	dw_scan_finish(g->s);
	if (dw_scan_timed_out(g->s))
		note(g,
		     "%s: %s: %s scanned only in part (the time budget ran "
		     "out)",
		     g->display, g->name, key);
}

/* Nesting of the config read (jansson takes 2048): deeper is said. */
#define CONFIG_DEPTH 256

/*
 * Every string of the config, wherever it is (Env, Cmd, Entrypoint,
 * Labels, OnBuild, Healthcheck, the legacy container_config, author, a
 * step's comment...) and every key of its objects, keyed by its place:
 * "config.Env" (a list of strings: one a line), "config.Labels" (an
 * object: "key=value", or the key alone, a line), "author" (a string at
 * the top), else the path. `skip`: a key of this object read elsewhere.
 */
static void walk_config(struct img *g, const json_t *v, struct dw_buf *key,
			int depth, const char *skip)
{
	struct dw_buf t = DW_BUF_INIT;
	size_t at = key->len, i;
	const char *k;
	json_t *x;
	int strings = 1;

	if (depth > CONFIG_DEPTH) {
		note(g,
		     "%s: %s: the config nests deeper than %d levels: not "
		     "read below %.200s",
		     g->display, g->name, CONFIG_DEPTH, key->ptr);
		return;
	}
	if (json_is_string(v)) {
		dw_buf_add(&t, json_string_value(v), json_string_length(v));
		scan_text(g, key->len ? key->ptr : "config", &t);
	} else if (json_is_array(v)) {
		json_array_foreach(v, i, x) strings &= json_is_string(x);
		if (strings) {
			json_array_foreach(v, i, x)
			{
				if (i)
					dw_buf_addch(&t, '\n');
				dw_buf_add(&t, json_string_value(x),
					   json_string_length(x));
			}
			scan_text(g, key->ptr, &t);
		} else {
			json_array_foreach(v, i, x)
			{
				dw_buf_addf(key, "[%zu]", i);
				walk_config(g, x, key, depth + 1, NULL);
				dw_buf_setlen(key, at);
			}
		}
	} else if (json_is_object(v)) {
		json_object_foreach((json_t *)v, k, x)
		{
			if (skip && !strcmp(k, skip))
				continue;
			if (t.len)
				dw_buf_addch(&t, '\n');
			dw_buf_adds(&t, k);
			if (json_is_string(x) && depth) {
				dw_buf_addch(&t, '=');
				dw_buf_add(&t, json_string_value(x),
					   json_string_length(x));
				continue;
			}
			if (key->len)
				dw_buf_addch(key, '.');
			dw_buf_adds(key, k);
			walk_config(g, x, key, depth + 1, NULL);
			dw_buf_setlen(key, at);
		}
		/* Its keys and strings, a line each. */
		scan_text(g, key->len ? key->ptr : "config", &t);
	}
	dw_buf_release(&t);
}

static void scan_config(struct img *g, const json_t *cfg)
{
	const json_t *hist = json_object_get(cfg, "history");
	struct dw_buf key = DW_BUF_INIT, t = DW_BUF_INIT;
	json_t *v;
	size_t i;

	walk_config(g, cfg, &key, 0, "history");
	/* One step a line: a line's number is its step's, from 1. */
	json_array_foreach(hist, i, v)
	{
		const char *s =
			json_string_value(json_object_get(v, "created_by"));

		if (i)
			dw_buf_addch(&t, '\n');
		for (; s && *s; s++)
			dw_buf_addch(&t, *s == '\n' ? ' ' : *s);
	}
	scan_text(g, "history", &t);
	/* The rest of each step (comment, author...), and a history that
	 * is no list of steps, whole. */
	dw_buf_reset(&key);
	if (json_is_array(hist)) {
		json_array_foreach(hist, i, v)
		{
			dw_buf_reset(&key);
			dw_buf_addf(&key, "history[%zu]", i);
			walk_config(g, v, &key, 1,
				    json_is_object(v) ? "created_by" : NULL);
		}
	} else if (hist) {
		dw_buf_adds(&key, "history");
		walk_config(g, hist, &key, 1, NULL);
	}
	dw_buf_release(&t);
	dw_buf_release(&key);
}

/* The layers' digests and steps from the config: the i-th layer is the
 * i-th step that is not an empty_layer. */
static void describe_layers(struct img *g, const json_t *cfg)
{
	const json_t *ids =
		json_object_get(json_object_get(cfg, "rootfs"), "diff_ids");
	const json_t *hist = json_object_get(cfg, "history"), *h;
	size_t i, k = 0, steps = 0;

	if (json_array_size(ids) == g->nl)
		for (i = 0; i < g->nl; i++)
			g->l[i].diff_id =
				json_string_value(json_array_get(ids, i));
	json_array_foreach(hist, i, h) steps +=
		!json_is_true(json_object_get(h, "empty_layer"));
	if (steps != g->nl) {
		if (json_array_size(hist))
			note(g,
			     "%s: its history has %zu steps that made layers "
			     "and it has %zu layers: layers are told without "
			     "their step",
			     g->display, steps, g->nl);
		return;
	}
	json_array_foreach(hist, i, h)
	{
		if (json_is_true(json_object_get(h, "empty_layer")))
			continue;
		g->l[k++].step =
			json_string_value(json_object_get(h, "created_by"));
	}
}

/* ---- one image ---- */

/* The layers from the top down, each member read once whatever images
 * name it (its findings told with the first that does). */
static void read_layers(struct img *g)
{
	size_t i;

	for (i = g->nl; i-- > 0;) {
		struct member *m = g->l[i].m;
		char display[512];
		int err;

		if (!m) {
			note(g, "%s: layer %zu (%s) is not in the archive",
			     g->display, i + 1,
			     g->l[i].blob ? g->l[i].blob : "?");
			continue;
		}
		if (m->read)
			continue;
		snprintf(display, sizeof(display), "%s: layer %zu (%s)",
			 g->display, i + 1, m->name);
		g->cur = i;
		m->read = 1;
		err = dw_archive_scan_member(
			g->s, g->fd, m->at, m->name, display, m->size,
			IMAGE_LAYER_ENTRIES, on_entry, g, layer_finding, g);
		free(g->cur_path);
		g->cur_path = NULL;
		if (err)
			note(g, "%s", dw_error_last());
		set_seal(&m->paths);
		set_seal(&m->gone);
		set_seal(&m->opaque);
	}
}

static char **strset_slot(const struct img *g, const struct strset *t,
			  const char *key, size_t len)
{
	size_t i = (size_t)hash_key(g, key, len) & (t->cap - 1);

	while (t->v[i] && strcmp(t->v[i], key))
		i = (i + 1) & (t->cap - 1);
	return &t->v[i];
}

/* Whether `key` is in `t` (and now is). */
static int seen(const struct img *g, struct strset *t, const char *key)
{
	size_t len = strlen(key), i;
	char **at;

	if (2 * (t->n + 1) > t->cap) {
		struct strset bigger = {NULL, 0, t->cap ? t->cap * 2 : 64};

		bigger.v = dw_xcalloc(bigger.cap, sizeof(*bigger.v));
		for (i = 0; i < t->cap; i++)
			if (t->v[i])
				*strset_slot(g, &bigger, t->v[i],
					     strlen(t->v[i])) = t->v[i];
		free(t->v);
		t->v = bigger.v;
		t->cap = bigger.cap;
	}
	at = strset_slot(g, t, key, len);
	if (*at)
		return 1;
	*at = dw_xstrdup(key);
	t->n++;
	return 0;
}

static void strset_free(struct strset *t)
{
	size_t i;

	for (i = 0; i < t->cap; i++)
		free(t->v[i]);
	free(t->v);
}

/* One image: its config (a member) and its layers (members, bottom
 * first); `tag` its name if it has one. Read once however often the
 * archive's manifests list it. */
static void scan_image(struct img *g, const char *config, const char **blobs,
		       size_t n, const char *tag)
{
	const char *slash = strrchr(config, '/');
	struct dw_buf key = DW_BUF_INIT;
	json_t *cfg;
	size_t i;
	int again;

	/* What it resolves to, each name's length first (a name may hold
	 * any byte but NUL). */
	dw_buf_addf(&key, "%zu:%s", strlen(config), config);
	for (i = 0; i < n; i++)
		dw_buf_addf(&key, "%zu:%s", blobs[i] ? strlen(blobs[i]) : 0,
			    blobs[i] ? blobs[i] : "");
	/* (past the limit: said below, nothing kept) */
	again = g->images < IMAGE_IMAGES && seen(g, &g->images_seen, key.ptr);
	dw_buf_release(&key);
	if (again)
		return;
	/* blobs/sha256/HEX or HEX.json: the image's id. */
	snprintf(g->config_digest, sizeof(g->config_digest), "sha256:%.64s",
		 slash ? slash + 1 : config);
	g->name = tag ? tag : g->config_digest;
	if (g->images >= IMAGE_IMAGES || g->refs + n > IMAGE_LAYER_REFS) {
		note(g,
		     "%s: %s not read: more than %d images or %d layers in "
		     "all",
		     g->display, g->name, IMAGE_IMAGES, IMAGE_LAYER_REFS);
		return;
	}
	g->refs += n;
	g->images++;
	cfg = member_json(g, config);
	if (!cfg)
		note(g, "%s: the config %s of %s is missing or not JSON",
		     g->display, config, g->name);
	g->l = dw_xcalloc(n ? n : 1, sizeof(*g->l));
	g->nl = n;
	for (i = 0; i < n; i++) {
		g->l[i].blob = blobs[i];
		g->l[i].m = blobs[i] ? member(g, blobs[i]) : NULL;
	}
	if (cfg) {
		describe_layers(g, cfg);
		scan_config(g, cfg);
	}
	read_layers(g);
	free(g->l);
	g->l = NULL;
	g->nl = 0;
	json_decref(cfg);
}

/* Docker's manifest.json: [{Config, RepoTags, Layers}] */
static void docker_manifest(struct img *g, const json_t *man)
{
	size_t i, k, n;
	json_t *im, *v;

	if (!json_is_array(man) || !json_array_size(man)) {
		note(g, "%s: manifest.json is not a list of images",
		     g->display);
		return;
	}
	json_array_foreach(man, i, im)
	{
		const json_t *layers = json_object_get(im, "Layers");
		const char *config =
			json_string_value(json_object_get(im, "Config"));
		const char **blobs;

		if (!config || !json_is_array(layers)) {
			note(g,
			     "%s: manifest.json: image %zu has no Config or "
			     "Layers",
			     g->display, i + 1);
			continue;
		}
		n = json_array_size(layers);
		blobs = dw_xcalloc(n ? n : 1, sizeof(*blobs));
		json_array_foreach(layers, k, v) blobs[k] =
			json_string_value(v);
		scan_image(g, config, blobs, n,
			   json_string_value(json_array_get(
				   json_object_get(im, "RepoTags"), 0)));
		free(blobs);
	}
}

/* An OCI manifest, or an index of them (`depth` levels more at most),
 * each read once, IMAGE_MANIFESTS in all. */
/*
 * OCI annotations (of an index, a manifest, a descriptor): "key=value" a
 * line, keyed by where they are ("annotations", "layers[2].annotations"),
 * told of image `name` (build tools put what they are given there:
 * `buildx --annotation`, a CI's variables).
 */
static void scan_annotations(struct img *g, const json_t *a, const char *name,
			     const char *key)
{
	struct dw_buf t = DW_BUF_INIT;
	const char *saved = g->name, *k;
	json_t *v;

	if (!json_is_object(a))
		return;
	json_object_foreach((json_t *)a, k, v)
	{
		if (t.len)
			dw_buf_addch(&t, '\n');
		dw_buf_adds(&t, k);
		if (json_is_string(v)) {
			dw_buf_addch(&t, '=');
			dw_buf_add(&t, json_string_value(v),
				   json_string_length(v));
		} else if (v) {
			/* (against the spec, but read: a token in a list) */
			char *j = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);

			dw_buf_addch(&t, '=');
			dw_buf_adds(&t, j ? j : "");
			free(j);
		}
	}
	g->name = name;
	scan_text(g, key, &t);
	g->name = saved;
	dw_buf_release(&t);
}

/* The annotations of `man` (an index or a manifest) and of each
 * descriptor in its list `list` ("manifests", "layers") and config. */
static void manifest_annotations(struct img *g, const json_t *man,
				 const char *name, const char *list)
{
	struct dw_buf key = DW_BUF_INIT;
	json_t *d;
	size_t i;

	scan_annotations(g, json_object_get(man, "annotations"), name,
			 "annotations");
	scan_annotations(
		g,
		json_object_get(json_object_get(man, "config"), "annotations"),
		name, "config.annotations");
	scan_annotations(
		g,
		json_object_get(json_object_get(man, "subject"), "annotations"),
		name, "subject.annotations");
	json_array_foreach(json_object_get(man, list), i, d)
	{
		if (!json_is_object(json_object_get(d, "annotations")))
			continue;
		dw_buf_reset(&key);
		dw_buf_addf(&key, "%s[%zu].annotations", list, i);
		scan_annotations(g, json_object_get(d, "annotations"), name,
				 key.ptr);
	}
	dw_buf_release(&key);
}

static void oci_manifest(struct img *g, const char *digest, const char *tag,
			 int depth)
{
	char *name = blob_name(digest), *config = NULL;
	json_t *man = NULL, *d;
	const json_t *list;
	char **blobs = NULL;
	size_t i, n = 0;

	if (g->manifests >= IMAGE_MANIFESTS) {
		if (g->manifests++ == IMAGE_MANIFESTS)
			note(g, "%s: more than %d manifests: the rest not read",
			     g->display, IMAGE_MANIFESTS);
		goto out;
	}
	if (name && seen(g, &g->manifests_seen, name))
		goto out;
	g->manifests++;
	man = name ? member_json(g, name) : NULL;
	if (!man) {
		note(g, "%s: manifest %s is missing or not JSON", g->display,
		     digest ? digest : "?");
		goto out;
	}
	list = json_object_get(man, "manifests");
	manifest_annotations(g, man,
			     tag      ? tag
			     : digest ? digest
				      : "?",
			     list ? "manifests" : "layers");
	if (list) {
		if (depth <= 0) {
			note(g, "%s: indexes nested too deep", g->display);
			goto out;
		}
		json_array_foreach(list, i, d)
		{
			if (g->manifests > IMAGE_MANIFESTS)
				break;
			oci_manifest(
				g,
				json_string_value(json_object_get(d, "digest")),
				tag, depth - 1);
		}
		goto out;
	}
	config = blob_name(json_string_value(
		json_object_get(json_object_get(man, "config"), "digest")));
	if (!config) {
		note(g, "%s: manifest %s has no config", g->display, digest);
		goto out;
	}
	n = json_array_size(json_object_get(man, "layers"));
	blobs = dw_xcalloc(n ? n : 1, sizeof(*blobs));
	json_array_foreach(json_object_get(man, "layers"), i, d) blobs[i] =
		blob_name(json_string_value(json_object_get(d, "digest")));
	scan_image(g, config, (const char **)blobs, n, tag);
	for (i = 0; i < n; i++)
		free(blobs[i]);
out:
	free(blobs);
	free(config);
	free(name);
	json_decref(man);
}

static void oci_index(struct img *g, const json_t *index)
{
	json_t *d;
	size_t i;

	manifest_annotations(g, index, "index.json", "manifests");
	if (!json_array_size(json_object_get(index, "manifests"))) {
		note(g, "%s: index.json lists no image", g->display);
		return;
	}
	json_array_foreach(json_object_get(index, "manifests"), i, d)
	{
		if (g->manifests > IMAGE_MANIFESTS)
			break;
		oci_manifest(g, json_string_value(json_object_get(d, "digest")),
			     json_string_value(json_object_get(
				     json_object_get(d, "annotations"),
				     "org.opencontainers.image.ref.name")),
			     2);
	}
}

/*
 * No manifest.json, no index.json: not an image, or one cut short (both
 * come last in what Docker writes). Whatever it holds is read as an
 * archive all the same, and that is said.
 */
static int as_archive(struct img *g)
{
	off_t end = lseek(g->fd, 0, SEEK_END);
	char why[512];
	int err;

	if (end < 0 || lseek(g->fd, 0, SEEK_SET) != 0)
		return dw_error_errno(DW_EIO, errno, "cannot read %s",
				      g->display);
	err = dw_archive_scan(g->s, g->fd, g->display, (uint64_t)end, 0, g->cb,
			      g->ctx);
	snprintf(why, sizeof(why), "%s", err ? dw_error_last() : "");
	return dw_error_set(DW_EIO,
			    "%s: not an image archive: no manifest.json or "
			    "index.json (cut short?); read as an archive, "
			    "without layers%s%s",
			    g->display, *why ? ": " : "", why);
}

int dw_image_scan(struct dw_scanner *s, int fd, const char *display,
		  dw_source_cb cb, void *ctx)
{
	struct img g;
	struct timespec now;
	json_t *man = NULL, *index = NULL;
	size_t i;
	int err = dw_archive_load();

	if (err)
		return err;
	memset(&g, 0, sizeof(g));
	g.s = s;
	g.fd = fd;
	g.display = display;
	g.cb = cb;
	g.ctx = ctx;
	/* (no getrandom(2) in the scanner process: the clock, and where
	 * the stack is) */
	clock_gettime(CLOCK_MONOTONIC, &now);
	g.basis = hash_more(HASH_INIT ^ (uint64_t)(uintptr_t)&g,
			    (const char *)&now, sizeof(now));
	err = list_members(&g);
	if (!err) {
		index_members(&g);
		man = member_json(&g, "manifest.json");
		index = member_json(&g, "index.json");
		/* Both, when both are there (Docker 25 and later write
		 * both, of the same images: each image is read once). */
		if (man)
			docker_manifest(&g, man);
		if (index)
			oci_index(&g, index);
		if (!man && !index)
			err = as_archive(&g);
		else if (!g.images && !g.err)
			note(&g, "%s: no image in it: its manifests list none",
			     display);
		json_decref(man);
		json_decref(index);
	}
	for (i = 0; i < g.nm; i++) {
		free(g.m[i].name);
		free(g.m[i].link);
		free(g.m[i].data);
		free(g.m[i].paths.v);
		free(g.m[i].gone.v);
		free(g.m[i].opaque.v);
	}
	free(g.m);
	free(g.slot);
	strset_free(&g.images_seen);
	strset_free(&g.manifests_seen);
	if (!err && g.err && g.problems > 1)
		err = dw_error_set(g.err,
				   "%zu problems (the first of them): %s",
				   g.problems, g.why);
	else if (!err && g.err)
		err = dw_error_set(g.err, "%s", g.why);
	return err;
}
