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
#include <errno.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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
/* A history step as a finding's field: cut to this many bytes. */
#define IMAGE_STEP_MAX 120

struct member {
	char *name;
	int64_t at; /* its header */
	uint64_t size;
	char *data; /* the small ones, read */
	size_t len;
};

/* 64-bit hashes of paths, sorted once their layer is read. */
struct pathset {
	uint64_t *v;
	size_t n, alloc;
};

struct layer {
	const char *blob;     /* its member */
	const char *diff_id;  /* from the config, or NULL */
	const char *step;     /* its history's created_by, or NULL */
	struct pathset paths; /* every entry */
	struct pathset gone;  /* what its whiteouts delete */
	struct pathset opaque;
	int read; /* read already (its blob at a higher place too) */
};

struct img {
	struct dw_scanner *s;
	int fd;
	const char *display;
	dw_source_cb cb;
	void *ctx;
	struct member *m;
	size_t nm, nm_alloc;
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

/* The first problem is kept, the others counted in; scanning goes on. */
static void note(struct img *g, const char *fmt, ...)
{
	va_list ap;
	size_t at = 0;

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

static uint64_t hash_path(const char *p, size_t n)
{
	uint64_t h = 1469598103934665603ull;
	size_t i;

	for (i = 0; i < n; i++)
		h = (h ^ (unsigned char)p[i]) * 1099511628211ull;
	return h;
}

static void set_add(struct pathset *s, const char *p, size_t n)
{
	DW_ALLOC_GROW(s->v, s->n + 1, s->alloc);
	s->v[s->n++] = hash_path(p, n);
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

static int set_has(const struct pathset *s, const char *p, size_t n)
{
	uint64_t h = hash_path(p, n);

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

static const struct member *member(const struct img *g, const char *name)
{
	size_t i;

	while (name[0] == '.' && name[1] == '/')
		name += 2;
	for (i = 0; i < g->nm; i++)
		if (!strcmp(g->m[i].name, name))
			return &g->m[i];
	return NULL;
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
	struct dw_archive_fd o = {g->fd, NULL, 0};
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
		if (!p || ar.archive_entry_filetype(e) != AE_IFREG)
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
	const struct member *m = member(g, name);

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

/* `s` cut for a field, whole UTF-8. */
static void add_cut(json_t *o, const char *key, const char *s)
{
	struct dw_buf b = DW_BUF_INIT;
	size_t n = strlen(s);

	dw_utf8_sanitize(&b, s, n > IMAGE_STEP_MAX ? IMAGE_STEP_MAX : n);
	if (n > IMAGE_STEP_MAX) {
		/* (the sanitizer may have cut a character in two: "?") */
		dw_buf_adds(&b, "...");
	}
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
	json_object_set_new(src.fields, "key", json_string(g->key));
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
	size_t j, n = strlen(path), k;

	for (j = i + 1; j < g->nl; j++) {
		const struct layer *l = &g->l[j];

		if (set_has(&l->gone, path, n)) {
			*how = "deleted";
			return (long)j;
		}
		for (k = n; k > 0; k--) {
			if (path[k - 1] != '/')
				continue;
			if (set_has(&l->gone, path, k - 1) ||
			    set_has(&l->opaque, path, k - 1)) {
				*how = "deleted";
				return (long)j;
			}
		}
		if (set_has(&l->paths, path, n)) {
			*how = "replaced";
			return (long)j;
		}
	}
	return -1;
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
	json_object_set_new(
		src.fields, "entry",
		entry ? json_copy((json_t *)entry)
		      : json_string(g->cur_path ? g->cur_path : ""));
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
	struct layer *l = &g->l[g->cur];
	char *p = normalize(path);
	const char *base = strrchr(p, '/');
	size_t dir = base ? (size_t)(base - p) : 0;
	struct dw_buf b = DW_BUF_INIT;

	(void)type;
	base = base ? base + 1 : p;
	free(g->cur_path);
	g->cur_path = p;
	if (strncmp(base, ".wh.", 4)) {
		set_add(&l->paths, p, strlen(p));
		return;
	}
	if (!strcmp(base, ".wh..wh..opq")) {
		set_add(&l->opaque, p, dir);
		return;
	}
	dw_buf_add(&b, p, dir);
	if (dir)
		dw_buf_addch(&b, '/');
	dw_buf_adds(&b, base + 4);
	set_add(&l->gone, b.ptr, b.len);
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
}

/* A list of strings, one a line (Env), or joined by spaces (Cmd). */
static void scan_strings(struct img *g, const char *key, const json_t *a,
			 const char *sep)
{
	struct dw_buf t = DW_BUF_INIT;
	size_t i;
	json_t *v;

	json_array_foreach(a, i, v)
	{
		if (!json_is_string(v))
			continue;
		if (i)
			dw_buf_adds(&t, sep);
		dw_buf_add(&t, json_string_value(v), json_string_length(v));
	}
	scan_text(g, key, &t);
	dw_buf_release(&t);
}

static void scan_config(struct img *g, const json_t *cfg)
{
	const json_t *c = json_object_get(cfg, "config");
	const json_t *labels = json_object_get(c, "Labels");
	const char *k;
	json_t *v;
	struct dw_buf t = DW_BUF_INIT;
	size_t i;

	scan_strings(g, "config.Env", json_object_get(c, "Env"), "\n");
	scan_strings(g, "config.Cmd", json_object_get(c, "Cmd"), " ");
	scan_strings(g, "config.Entrypoint", json_object_get(c, "Entrypoint"),
		     " ");
	json_object_foreach((json_t *)labels, k, v)
	{
		if (t.len)
			dw_buf_addch(&t, '\n');
		dw_buf_addf(&t, "%s=%s", k,
			    json_is_string(v) ? json_string_value(v) : "");
	}
	scan_text(g, "config.Labels", &t);
	dw_buf_release(&t);
	/* One step a line: a line's number is its step's, from 1. */
	json_array_foreach(json_object_get(cfg, "history"), i, v)
	{
		const char *s =
			json_string_value(json_object_get(v, "created_by"));

		if (i)
			dw_buf_addch(&t, '\n');
		for (; s && *s; s++)
			dw_buf_addch(&t, *s == '\n' ? ' ' : *s);
	}
	scan_text(g, "history", &t);
	dw_buf_release(&t);
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

static void read_layers(struct img *g)
{
	size_t i, j;

	for (i = g->nl; i-- > 0;) {
		struct layer *l = &g->l[i];
		const struct member *m = l->blob ? member(g, l->blob) : NULL;
		char display[512];
		int err;

		if (l->read)
			continue;
		if (!m) {
			note(g, "%s: layer %zu (%s) is not in the archive",
			     g->display, i + 1, l->blob ? l->blob : "?");
			continue;
		}
		snprintf(display, sizeof(display), "%s: layer %zu (%s)",
			 g->display, i + 1, m->name);
		g->cur = i;
		err = dw_archive_scan_member(
			g->s, g->fd, m->at, m->name, display, m->size,
			IMAGE_LAYER_ENTRIES, on_entry, g, layer_finding, g);
		free(g->cur_path);
		g->cur_path = NULL;
		if (err)
			note(g, "%s", dw_error_last());
		set_seal(&l->paths);
		set_seal(&l->gone);
		set_seal(&l->opaque);
		/* The same blob lower too: read once, here. */
		for (j = 0; j < i; j++)
			if (g->l[j].blob && !strcmp(g->l[j].blob, l->blob))
				g->l[j].read = 1;
	}
}

static void release_layers(struct img *g)
{
	size_t i;

	for (i = 0; i < g->nl; i++) {
		free(g->l[i].paths.v);
		free(g->l[i].gone.v);
		free(g->l[i].opaque.v);
	}
	free(g->l);
	g->l = NULL;
	g->nl = 0;
}

/* One image: its config (a member) and its layers (members, bottom
 * first); `tag` its name if it has one. */
static void scan_image(struct img *g, const char *config, const char **blobs,
		       size_t n, const char *tag)
{
	json_t *cfg = member_json(g, config);
	const char *slash = strrchr(config, '/');
	size_t i;

	/* blobs/sha256/HEX or HEX.json: the image's id. */
	snprintf(g->config_digest, sizeof(g->config_digest), "sha256:%.64s",
		 slash ? slash + 1 : config);
	g->name = tag ? tag : g->config_digest;
	if (n > IMAGE_LAYERS) {
		note(g, "%s: %s has %zu layers, more than %d: not read",
		     g->display, g->name, n, IMAGE_LAYERS);
		return;
	}
	if (!cfg) {
		note(g, "%s: the config %s of %s is missing or not JSON",
		     g->display, config, g->name);
		/* Its layers are read all the same. */
	}
	g->l = dw_xcalloc(n ? n : 1, sizeof(*g->l));
	g->nl = n;
	for (i = 0; i < n; i++)
		g->l[i].blob = blobs[i];
	if (cfg) {
		describe_layers(g, cfg);
		scan_config(g, cfg);
	}
	read_layers(g);
	release_layers(g);
	json_decref(cfg);
}

/* Docker's manifest.json: [{Config, RepoTags, Layers}] */
static int docker_manifest(struct img *g, const json_t *man)
{
	size_t i, k, n;
	json_t *im, *v;

	if (!json_is_array(man) || !json_array_size(man))
		return dw_error_set(DW_EIO,
				    "%s: manifest.json is not a list of "
				    "images",
				    g->display);
	json_array_foreach(man, i, im)
	{
		const json_t *layers = json_object_get(im, "Layers");
		const char *config =
			json_string_value(json_object_get(im, "Config"));
		const char **blobs;

		if (!config || !json_is_array(layers)) {
			note(g,
			     "%s: manifest.json: image %zu has no Config "
			     "or Layers",
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
	return 0;
}

/* An OCI manifest, or an index of them (`depth` levels more at most). */
static void oci_manifest(struct img *g, const char *digest, const char *tag,
			 int depth)
{
	char *name = blob_name(digest), *config = NULL;
	json_t *man = name ? member_json(g, name) : NULL, *d;
	const json_t *list = json_object_get(man, "manifests");
	char **blobs = NULL;
	size_t i, n = 0;

	if (!man) {
		note(g, "%s: manifest %s is missing or not JSON", g->display,
		     digest ? digest : "?");
		goto out;
	}
	if (list) {
		if (depth <= 0) {
			note(g, "%s: indexes nested too deep", g->display);
			goto out;
		}
		json_array_foreach(list, i, d) oci_manifest(
			g, json_string_value(json_object_get(d, "digest")), tag,
			depth - 1);
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

static int oci_index(struct img *g, const json_t *index)
{
	json_t *d;
	size_t i;

	if (!json_array_size(json_object_get(index, "manifests")))
		return dw_error_set(DW_EIO, "%s: index.json lists no image",
				    g->display);
	json_array_foreach(json_object_get(index, "manifests"), i, d)
		oci_manifest(g, json_string_value(json_object_get(d, "digest")),
			     json_string_value(json_object_get(
				     json_object_get(d, "annotations"),
				     "org.opencontainers.image.ref.name")),
			     2);
	return 0;
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
	json_t *top;
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
	err = list_members(&g);
	if (!err) {
		/* Docker's own list first: it names the tags. */
		if ((top = member_json(&g, "manifest.json"))) {
			err = docker_manifest(&g, top);
		} else if ((top = member_json(&g, "index.json"))) {
			err = oci_index(&g, top);
		} else {
			err = as_archive(&g);
		}
		json_decref(top);
	}
	for (i = 0; i < g.nm; i++) {
		free(g.m[i].name);
		free(g.m[i].data);
	}
	free(g.m);
	if (!err && g.err)
		err = dw_error_set(g.err, "%s", g.why);
	return err;
}
