/*
 * The drift classifier: `docker diff` for overlay layers, from raw dirs.
 * See include/driftwatch/overlay_diff.h for the rules; the comments here say
 * how the two merged views are built without mounting them.
 *
 * A "view" is one merged directory: the upper dir at that path (if any)
 * and the lower dirs that overlayfs would merge below it, topmost first.
 * The old view (the image) never has an upper dir. As long as the new
 * view's lowers are the very same as the old view's, only names present
 * in the upper dir can differ (the fast path); an opaque or redirected
 * upper dir breaks that, and then both views' names are merged and
 * compared (the slow path). overlay_view.c builds views; overlay_int.h
 * holds what the two share.
 */
#include <sys/resource.h>

#include "overlay_int.h"
#include "driftwatch/escape.h"

#include "driftwatch/banned.h"

static int same_time(struct timespec a, struct timespec b)
{
	return a.tv_sec == b.tv_sec &&
	       (a.tv_nsec == b.tv_nsec || a.tv_nsec == 0 || b.tv_nsec == 0);
}

/* Docker's statDifferent(), bit for bit (S_IFBLK and S_IFSOCK contain
 * the S_IFDIR bit, so Docker skips size and mtime for them too). */
static int stat_different(const struct stat *o, const struct stat *n)
{
	if (o->st_mode != n->st_mode || o->st_uid != n->st_uid ||
	    o->st_gid != n->st_gid || o->st_rdev != n->st_rdev)
		return 1;
	if ((o->st_mode & S_IFDIR) == S_IFDIR)
		return 0;
	return o->st_size != n->st_size || !same_time(o->st_mtim, n->st_mtim);
}

static int entry_different(const struct view *ov, const struct entry *oe,
			   const struct view *nv, const struct entry *ne,
			   const char *name)
{
	char ocap[256], ncap[256];
	ssize_t on, nn;

	if (stat_different(&oe->st, &ne->st))
		return 1;
	on = ovl_read_cap(ovl_view_fd(ov, oe->layer), name, ocap, sizeof(ocap));
	nn = ovl_read_cap(ovl_view_fd(nv, ne->layer), name, ncap, sizeof(ncap));
	return on != nn || memcmp(ocap, ncap, (size_t)on) != 0;
}

static struct dw_change_meta meta_of(const struct stat *st)
{
	return (struct dw_change_meta){
		st->st_uid,
		st->st_gid,
		st->st_size,
		st->st_mtim.tv_sec,
		st->st_mtim.tv_nsec,
		(int64_t)st->st_ctim.tv_sec * 1000000000 + st->st_ctim.tv_nsec,
		(uint64_t)st->st_ino};
}

/*
 * Record a change at w->path and return its index. Kind 0 is a
 * placeholder for a directory whose C depends on what lies below it; the
 * placeholders left at the end are dropped by drop_placeholders().
 */
static size_t emit(struct walk *w, char kind, mode_t type,
		   const struct stat *st)
{
	struct dw_changeset *cs = w->cs;
	struct dw_change *c;
	int meta = st && (w->flags & DW_DIFF_STAT);

	DW_ALLOC_GROW(cs->v, cs->n + 1, cs->alloc);
	c = &cs->v[cs->n];
	c->kind = kind;
	c->has_meta = (unsigned char)meta;
	c->mode = meta ? st->st_mode : ((st ? st->st_mode : type) & S_IFMT);
	c->path_off = cs->names.len;
	c->path_len = (uint32_t)w->path.len;
	if (w->flags & DW_DIFF_STAT)
		DW_ALLOC_GROW(cs->meta, cs->n + 1, cs->meta_alloc);
	if (meta)
		cs->meta[cs->n] = meta_of(st);
	/* The arena has no maximum: this cannot fail. */
	dw_buf_add(&cs->names, w->path.ptr, w->path.len + 1);
	return cs->n++;
}

static void copy_change(struct walk *w, const struct dw_changeset *prev,
			const struct dw_change *c);

/* The caller's `kept` failed (it said why): the walk stops. */
#define DW_REUSE_ERR (-2)

/* Does path `e` sort before "p/" (bytewise)? */
static int before_subtree(const char *e, size_t el, const char *p, size_t len)
{
	int cmp = memcmp(e, p, el < len ? el : len);

	if (cmp)
		return cmp < 0;
	if (el <= len)
		return 1;
	return (unsigned char)e[len] < '/';
}

/*
 * When the caller knows nothing changed at or below the directory at
 * w->path since `reuse->prev` was computed, copy its changes below that
 * directory instead of walking it. Returns how many were copied, or -1
 * when the directory must be walked.
 */
static ssize_t reuse_below(struct walk *w)
{
	const struct dw_diff_reuse *r = w->reuse;
	const struct dw_changeset *prev;
	size_t lo = 0, hi, n0 = w->cs->n, len = w->path.len;

	if (!r || !r->unchanged(w->path.ptr, len, r->ctx))
		return -1;
	if (!r->prev) { /* sparse: the caller keeps it */
		int had = r->kept(w->path.ptr, len, 1, r->ctx);

		return had < 0 ? DW_REUSE_ERR : had > 0;
	}
	prev = r->prev;
	hi = prev->n;
	/* The first change not sorting before "path/": the subtree. */
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		const struct dw_change *c = &prev->v[mid];

		if (before_subtree(dw_change_path(prev, c), c->path_len,
				   w->path.ptr, len))
			lo = mid + 1;
		else
			hi = mid;
	}
	for (; lo < prev->n; lo++) {
		const struct dw_change *c = &prev->v[lo];
		const char *p = dw_change_path(prev, c);

		if (c->path_len <= len || p[len] != '/' ||
		    memcmp(p, w->path.ptr, len))
			break;
		copy_change(w, prev, c);
	}
	return (ssize_t)(w->cs->n - n0);
}

/* Copy change `c` of `prev` to the output. */
static void copy_change(struct walk *w, const struct dw_changeset *prev,
			const struct dw_change *c)
{
	struct dw_change *d;

	DW_ALLOC_GROW(w->cs->v, w->cs->n + 1, w->cs->alloc);
	d = &w->cs->v[w->cs->n];
	*d = *c;
	d->path_off = w->cs->names.len;
	if (w->flags & DW_DIFF_STAT) {
		DW_ALLOC_GROW(w->cs->meta, w->cs->n + 1, w->cs->meta_alloc);
		if (c->has_meta && prev->meta)
			w->cs->meta[w->cs->n] = prev->meta[c - prev->v];
		else
			d->has_meta = 0;
	}
	dw_buf_add(&w->cs->names, dw_change_path(prev, c), c->path_len + 1);
	w->cs->n++;
}

/*
 * The entry at w->path, not a directory, did not change since prev: copy
 * its change, if it had one, without a stat. 0 when it must be looked
 * at; else 2 when it has a change, 1 when not; DW_REUSE_ERR.
 */
static int reuse_entry(struct walk *w)
{
	const struct dw_diff_reuse *r = w->reuse;
	const struct dw_changeset *prev;
	size_t lo = 0, hi;

	if (!r || !r->entry_unchanged ||
	    !r->entry_unchanged(w->path.ptr, w->path.len, r->ctx))
		return 0;
	if (!r->prev) { /* sparse: the caller keeps it */
		int had = r->kept(w->path.ptr, w->path.len, 0, r->ctx);

		return had < 0 ? DW_REUSE_ERR : had > 0 ? 2 : 1;
	}
	prev = r->prev;
	hi = prev->n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		const struct dw_change *c = &prev->v[mid];
		size_t n =
			c->path_len < w->path.len ? c->path_len : w->path.len;
		int cmp = memcmp(dw_change_path(prev, c), w->path.ptr, n);

		if (!cmp)
			cmp = (c->path_len > w->path.len) -
			      (c->path_len < w->path.len);
		if (!cmp) {
			copy_change(w, prev, c);
			return 2;
		}
		if (cmp < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return 1; /* unchanged, and no change before either */
}

static void drop_placeholders(struct dw_changeset *cs)
{
	size_t i, k = 0;

	for (i = 0; i < cs->n; i++) {
		if (!cs->v[i].kind)
			continue;
		if (cs->meta)
			cs->meta[k] = cs->meta[i];
		cs->v[k++] = cs->v[i];
	}
	cs->n = k;
}

/*
 * What a directory's walk visits, in output order. A directory entry is
 * two items: itself, and its subtree, which sorts as "name/" does, so
 * that "a", "a-b", "a/x" come out in bytewise order of the full paths.
 */
struct item {
	const char *name;
	size_t idx; /* into the caller's entry array */
	int subtree;
};

static int cmp_item(const void *a, const void *b)
{
	const struct item *x = a, *y = b;
	const unsigned char *p = (const unsigned char *)x->name;
	const unsigned char *q = (const unsigned char *)y->name;
	int cp, cq;

	while (*p && *p == *q) {
		p++;
		q++;
	}
	cp = *p ? *p : x->subtree ? '/' : 0;
	cq = *q ? *q : y->subtree ? '/' : 0;
	return cp - cq;
}

struct items {
	struct item *v;
	size_t n, alloc;
};

static void sort_items(struct items *it)
{
	size_t i = 1;

	/* Listings from the reader come sorted: mostly nothing to do. */
	while (i < it->n && cmp_item(&it->v[i - 1], &it->v[i]) < 0)
		i++;
	/* qsort() wants a valid base even for zero elements. */
	if (i < it->n)
		qsort(it->v, it->n, sizeof(*it->v), cmp_item);
}

static void item_add(struct items *it, const char *name, size_t idx,
		     int subtree)
{
	DW_ALLOC_GROW(it->v, it->n + 1, it->alloc);
	it->v[it->n++] = (struct item){name, idx, subtree};
}

static const char *name_at(const struct names *nm, size_t i)
{
	return nm->arena.ptr + nm->v[i].off;
}

/* Add the entries of directory `fd` to `nm`, tagged with `layer`. */
static int read_names(struct walk *w, struct names *nm, int fd, int layer)
{
	int err;

	if (layer < 0 &&
	    dw_prefetch_take(w->pf, w->path.ptr, w->path.len, fd, nm))
		return 0;
	err = dw_names_read(nm, fd, layer);
	if (err)
		return dw_error_errno(DW_EIO, err, "cannot read directory %s",
				      ovl_shown_path(w));
	return 0;
}

static int cmp_name_layer(const void *a, const void *b, void *arena)
{
	const struct name_ent *x = a, *y = b;
	int c = strcmp((const char *)arena + x->off,
		       (const char *)arena + y->off);

	if (c)
		return c;
	return (x->layer > y->layer) - (x->layer < y->layer);
}

/* Sort by name, then layer, and drop all but the first of each name. */
static void names_unique(struct names *nm)
{
	size_t i, k = 0;

	if (nm->n > 1)
		qsort_r(nm->v, nm->n, sizeof(*nm->v), cmp_name_layer,
			nm->arena.ptr);
	for (i = 0; i < nm->n; i++) {
		if (k && !strcmp(name_at(nm, k - 1), name_at(nm, i)))
			continue;
		nm->v[k++] = nm->v[i];
	}
	nm->n = k;
}

/* Every name in all layers of `v` (visible or whited out), unique. */
static int view_names(struct walk *w, struct names *nm, const struct view *v)
{
	size_t i;
	int err = 0;

	if (v->upper >= 0)
		err = read_names(w, nm, v->upper, -1);
	for (i = 0; !err && i < v->nl; i++)
		err = read_names(w, nm, v->lfds[i], (int)i);
	return err;
}

static int push_name(struct walk *w, const char *name)
{
	if (dw_buf_addch(&w->path, '/') || dw_buf_adds(&w->path, name))
		return DW_ELIMIT;
	return 0;
}

/*
 * Going one level deeper: 1 (not an error) when the directory is too deep
 * to walk; it is counted, the first one named, and the walk goes on with
 * its siblings.
 */
static int enter(struct walk *w)
{
	struct dw_changeset *cs = w->cs;

	if (++w->depth <= w->max_depth)
		return 0;
	if (!cs->truncated++) {
		struct dw_buf b = DW_BUF_INIT;

		dw_escape_path(&b, w->path.ptr,
			       w->path.len > 200 ? 200 : w->path.len);
		if (w->path.len > 200)
			dw_buf_adds(&b, "...");
		cs->truncated_at = dw_buf_detach(&b, NULL);
	}
	cs->max_depth = w->max_depth;
	/* Sparse: what lies below is the caller's to keep. */
	if (w->reuse && !w->reuse->prev &&
	    w->reuse->kept(w->path.ptr, w->path.len, 1, w->reuse->ctx) < 0)
		return DW_EIO;
	return 1;
}

/*
 * How deep the walk may go: DW_DIFF_MAX_DEPTH, or what the descriptors
 * left allow (each level holds its upper dir and, off the fast path, its
 * lower dirs; the prefetch thread holds up to 128 more).
 */
static size_t max_depth(size_t nlowers)
{
	struct rlimit rl;
	size_t budget;

	if (getrlimit(RLIMIT_NOFILE, &rl) || rl.rlim_cur == RLIM_INFINITY)
		return DW_DIFF_MAX_DEPTH;
	budget = rl.rlim_cur > 256 ? (size_t)rl.rlim_cur - 256 : 16;
	budget /= 1 + nlowers;
	return budget < DW_DIFF_MAX_DEPTH ? (budget ? budget : 1)
					  : DW_DIFF_MAX_DEPTH;
}

static int add_all(struct walk *w, const struct view *v);

static mode_t dtype_mode(unsigned char t)
{
	switch (t) {
	case DT_DIR: return S_IFDIR;
	case DT_REG: return S_IFREG;
	case DT_LNK: return S_IFLNK;
	case DT_FIFO: return S_IFIFO;
	case DT_SOCK: return S_IFSOCK;
	case DT_CHR: return S_IFCHR;
	case DT_BLK: return S_IFBLK;
	default: return 0;
	}
}

/* Report everything below directory entry `e` of `v` as added. */
static int add_below(struct walk *w, const struct view *v,
		     const struct entry *e, const char *name)
{
	struct view child;
	ssize_t reused = reuse_below(w);
	int err;

	if (reused == DW_REUSE_ERR)
		return DW_EIO;
	if (reused >= 0)
		return 0;
	err = ovl_child_view(w, &child, v, e, name, NULL);

	if (!err && (child.upper >= 0 || child.nl))
		err = add_all(w, &child);
	ovl_view_release(&child);
	return err;
}

/*
 * The hot path of a new tree: a directory that exists only in the upper
 * layer. d_type says what each entry is, so a plain file costs no stat
 * unless the caller wants its metadata.
 */
static int add_upper_only(struct walk *w, const struct view *v)
{
	struct names nm = {DW_BUF_INIT, NULL, 0, 0};
	struct items it = {NULL, 0, 0};
	struct entry e = {1, -1, {0}};
	size_t base = w->path.len, i;
	int err = read_names(w, &nm, v->upper, -1);

	for (i = 0; !err && i < nm.n; i++) {
		unsigned char t = nm.v[i].dtype;

		if (t == DT_UNKNOWN || t == DT_CHR) {
			/* Settle the type; whiteouts are not entries. */
			enum probe_result r =
				ovl_probe(v->upper, name_at(&nm, i), &e.st);

			if (r == P_ERR)
				err = dw_error_errno(DW_EIO, errno,
						     "cannot stat %s/%s in a "
						     "layer",
						     w->path.ptr,
						     name_at(&nm, i));
			if (r != P_FOUND)
				continue;
			t = nm.v[i].dtype = S_ISDIR(e.st.st_mode)   ? DT_DIR
					    : S_ISCHR(e.st.st_mode) ? DT_CHR
								    : DT_REG;
		}
		item_add(&it, name_at(&nm, i), i, 0);
		if (t == DT_DIR)
			item_add(&it, name_at(&nm, i), i, 1);
	}
	if (!err)
		sort_items(&it);
	for (i = 0; !err && i < it.n; i++) {
		const struct item *x = &it.v[i];
		unsigned char t = nm.v[x->idx].dtype;
		enum probe_result r = P_FOUND;
		int kept = 0;

		err = push_name(w, x->name);
		if (!err && x->subtree) {
			err = add_below(w, v, &e, x->name);
		} else if (!err && t != DT_DIR && (kept = reuse_entry(w))) {
			/* copied from the previous result, or kept */
			r = P_NONE;
			if (kept == DW_REUSE_ERR)
				err = DW_EIO;
		} else if (!err && !(w->flags & DW_DIFF_STAT)) {
			emit(w, DW_CHANGE_ADD, dtype_mode(t), NULL);
		} else if (!err) {
			r = ovl_probe(v->upper, x->name, &e.st);
		}
		if (r == P_ERR)
			err = ovl_probe_error(w);
		else if (!err && r == P_FOUND && !x->subtree &&
			 (w->flags & DW_DIFF_STAT))
			emit(w, DW_CHANGE_ADD, 0, &e.st);
		dw_buf_setlen(&w->path, base);
	}
	free(it.v);
	dw_names_release(&nm);
	return err;
}

/* Report everything in the merged directory `v` as added. */
static int add_all(struct walk *w, const struct view *v)
{
	struct names nm = {DW_BUF_INIT, NULL, 0, 0};
	struct items it = {NULL, 0, 0};
	struct entry *ents = NULL;
	size_t base = w->path.len, i;
	int err = enter(w);

	if (!err && !v->nl) {
		err = add_upper_only(w, v);
		goto out;
	}
	if (!err)
		err = view_names(w, &nm, v);
	if (!err) {
		names_unique(&nm);
		ents = dw_xcalloc(nm.n ? nm.n : 1, sizeof(*ents));
	}
	for (i = 0; !err && i < nm.n; i++) {
		err = push_name(w, name_at(&nm, i));
		if (!err)
			err = ovl_lookup(w, v, name_at(&nm, i), &ents[i]);
		dw_buf_setlen(&w->path, base);
		if (err || !ents[i].found)
			continue;
		item_add(&it, name_at(&nm, i), i, 0);
		if (S_ISDIR(ents[i].st.st_mode))
			item_add(&it, name_at(&nm, i), i, 1);
	}
	if (!err)
		sort_items(&it);
	for (i = 0; !err && i < it.n; i++) {
		const struct item *x = &it.v[i];

		err = push_name(w, x->name);
		if (!err && x->subtree)
			err = add_below(w, v, &ents[x->idx], x->name);
		else if (!err)
			emit(w, DW_CHANGE_ADD, 0, &ents[x->idx].st);
		dw_buf_setlen(&w->path, base);
	}
out:
	free(ents);
	free(it.v);
	dw_names_release(&nm);
	w->depth--;
	return err > 0 ? 0 : err;
}

/* One name of a directory being compared, after both lookups. */
struct pair {
	struct entry oe, ne;
	size_t slot; /* the placeholder for the dir's own C */
	int differ;
	int reused; /* unchanged non-directory: copied */
};

static int compare_dir(struct walk *w, const struct view *ov,
		       const struct view *nv, int *changed);

/* The entry itself: A, D, C, or a placeholder for a directory. */
static void compare_self(struct walk *w, const struct view *ov,
			 const struct view *nv, struct pair *p,
			 const char *name, int *changed)
{
	if (!p->oe.found) {
		emit(w, DW_CHANGE_ADD, 0, &p->ne.st);
	} else if (!p->ne.found) {
		emit(w, DW_CHANGE_DELETE, p->oe.st.st_mode, NULL);
	} else {
		p->differ = entry_different(ov, &p->oe, nv, &p->ne, name);
		if (!p->differ) {
			if (S_ISDIR(p->ne.st.st_mode) &&
			    S_ISDIR(p->oe.st.st_mode))
				p->slot = emit(w, 0, 0, &p->ne.st);
			return;
		}
		emit(w, DW_CHANGE_MODIFY, 0, &p->ne.st);
	}
	*changed = 1;
}

/* What lies below a directory of the new view. */
static int compare_below(struct walk *w, const struct view *ov,
			 const struct view *nv, struct pair *p,
			 const char *name, int fast, int *changed)
{
	struct view oc = {-1, NULL, 0, 0}, nc = {-1, NULL, 0, 0};
	int sub = 0, err;

	ssize_t reused;

	if (!p->oe.found || !S_ISDIR(p->oe.st.st_mode))
		return add_below(w, nv, &p->ne, name);
	reused = reuse_below(w);
	if (reused == DW_REUSE_ERR)
		return DW_EIO;
	if (reused >= 0) {
		if (reused > 0) {
			*changed = 1;
			if (!p->differ)
				w->cs->v[p->slot].kind = DW_CHANGE_MODIFY;
		}
		return 0;
	}
	err = ovl_child_view(w, &oc, ov, &p->oe, name, NULL);
	if (!err)
		err = ovl_child_view(w, &nc, nv, &p->ne, name,
				     fast ? &oc : NULL);
	if (!err)
		err = compare_dir(w, &oc, &nc, &sub);
	if (!err && sub) {
		*changed = 1;
		if (!p->differ)
			w->cs->v[p->slot].kind = DW_CHANGE_MODIFY;
	}
	ovl_view_release(&nc);
	ovl_view_release(&oc);
	return err;
}

static int compare_dir(struct walk *w, const struct view *ov,
		       const struct view *nv, int *changed)
{
	struct names nm = {DW_BUF_INIT, NULL, 0, 0};
	struct items it = {NULL, 0, 0};
	struct pair *pairs = NULL;
	size_t base = w->path.len, i;
	/* Same lowers below: only what the upper dir holds can differ. */
	int fast = nv->lfds == ov->lfds && nv->nl == ov->nl;
	int err = enter(w);

	*changed = 0;
	if (err || (fast && nv->upper < 0))
		goto out;
	if (fast) {
		err = read_names(w, &nm, nv->upper, -1);
	} else {
		err = view_names(w, &nm, nv);
		if (!err)
			err = view_names(w, &nm, ov);
		if (!err)
			names_unique(&nm);
	}
	if (!err)
		pairs = dw_xcalloc(nm.n ? nm.n : 1, sizeof(*pairs));
	for (i = 0; !err && i < nm.n; i++) {
		struct pair *p = &pairs[i];
		unsigned char t = nm.v[i].dtype;

		err = push_name(w, name_at(&nm, i));
		/* An upper entry inotify saw no change of needs no stat. */
		if (!err && fast && t != DT_DIR && t != DT_UNKNOWN &&
		    w->reuse && w->reuse->entry_unchanged &&
		    w->reuse->entry_unchanged(w->path.ptr, w->path.len,
					      w->reuse->ctx)) {
			p->reused = 1;
			dw_buf_setlen(&w->path, base);
			item_add(&it, name_at(&nm, i), i, 0);
			continue;
		}
		if (!err)
			err = ovl_lookup(w, ov, name_at(&nm, i), &p->oe);
		if (!err)
			err = ovl_lookup(w, nv, name_at(&nm, i), &p->ne);
		dw_buf_setlen(&w->path, base);
		if (err || (!p->oe.found && !p->ne.found))
			continue;
		item_add(&it, name_at(&nm, i), i, 0);
		if (p->ne.found && S_ISDIR(p->ne.st.st_mode))
			item_add(&it, name_at(&nm, i), i, 1);
	}
	if (!err)
		sort_items(&it);
	for (i = 0; !err && i < it.n; i++) {
		const struct item *x = &it.v[i];

		err = push_name(w, x->name);
		if (!err && pairs[x->idx].reused) {
			int had = reuse_entry(w);

			if (had == DW_REUSE_ERR)
				err = DW_EIO;
			else if (had == 2)
				*changed = 1;
		} else if (!err && x->subtree)
			err = compare_below(w, ov, nv, &pairs[x->idx], x->name,
					    fast, changed);
		else if (!err)
			compare_self(w, ov, nv, &pairs[x->idx], x->name,
				     changed);
		dw_buf_setlen(&w->path, base);
	}
out:
	free(pairs);
	free(it.v);
	dw_names_release(&nm);
	w->depth--;
	return err > 0 ? 0 : err;
}

static int open_root(const char *dir, int *fd)
{
	*fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (*fd < 0)
		return dw_error_errno(errno == ENOTDIR ? DW_EINVAL : DW_EIO,
				      errno, "cannot open layer directory %s",
				      dir);
	return 0;
}

int dw_overlay_diff(struct dw_changeset *out, const char *upper,
		    const char *const *lowers, size_t nlowers, unsigned flags)
{
	return dw_overlay_diff_reuse(out, upper, lowers, nlowers, flags, NULL);
}

/* The root views: the upper dir over its lowers, and the lowers alone. */
static int open_roots(struct walk *w, struct view *ov, struct view *nv,
		      const char *upper, const char *const *lowers,
		      size_t nlowers)
{
	size_t i;
	int err;

	ov->lfds = dw_xcalloc(nlowers ? nlowers : 1, sizeof(int));
	ov->owns_lfds = 1;
	err = open_root(upper, &nv->upper);
	for (i = 0; !err && i < nlowers; i++) {
		err = open_root(lowers[i], &ov->lfds[ov->nl]);
		if (err)
			break;
		/* An opaque lower root hides the layers below it. */
		if (ovl_is_opaque(w, ov->lfds[ov->nl++]))
			break;
	}
	if (err)
		return err;
	w->root_lfds = ov->lfds;
	w->root_nl = ov->nl;
	w->max_depth = max_depth(ov->nl);
	nv->lfds = ov->lfds;
	nv->nl = ov->nl;
	if (ovl_is_opaque(w, nv->upper))
		nv->nl = 0;
	if (!w->cs->names.ptr)
		dw_buf_init(&w->cs->names, 0);
	dw_buf_init(&w->path, 0);
	return 0;
}

static void close_roots(struct walk *w, struct view *ov, struct view *nv)
{
	if (nv->upper >= 0)
		close(nv->upper);
	ovl_view_release(ov);
	dw_buf_release(&w->path);
}

int dw_overlay_diff_reuse(struct dw_changeset *out, const char *upper,
			  const char *const *lowers, size_t nlowers,
			  unsigned flags, const struct dw_diff_reuse *reuse)
{
	struct walk w = {out, DW_BUF_INIT, flags, 0, 0, NULL, 0, reuse, NULL};
	struct view ov = {-1, NULL, 0, 0}, nv = {-1, NULL, 0, 0};
	int changed, err = open_roots(&w, &ov, &nv, upper, lowers, nlowers);

	if (!err) {
		if ((flags & DW_DIFF_PREFETCH) && !reuse)
			w.pf = dw_prefetch_start(nv.upper);
		err = compare_dir(&w, &ov, &nv, &changed);
		dw_prefetch_stop(w.pf);
		drop_placeholders(out);
	}
	close_roots(&w, &ov, &nv);
	return err;
}

/* Release a level of the way down (never the roots: redirects use them). */
static void release_level(struct view *o, struct view *n)
{
	ovl_view_release(n); /* may share o's lowers: first */
	ovl_view_release(o);
}

static void level_of(struct dw_diff_level *l, char kind, unsigned flags,
		     const struct stat *st)
{
	l->kind = kind;
	l->has_meta = (flags & DW_DIFF_STAT) != 0;
	l->mode = l->has_meta ? st->st_mode : st->st_mode & S_IFMT;
	l->meta = meta_of(st);
}

/* The entries `names` of the directory of views ov/nv (not listed). */
static int compare_named(struct walk *w, const struct view *ov,
			 const struct view *nv, int in_old, char *const *names,
			 size_t n, struct dw_diff_level *named)
{
	struct items it = {NULL, 0, 0};
	struct pair *pairs = dw_xcalloc(n ? n : 1, sizeof(*pairs));
	size_t base = w->path.len, i;
	int fast = in_old && nv->lfds == ov->lfds && nv->nl == ov->nl;
	int changed = 0, err = enter(w);

	for (i = 0; !err && i < n; i++) {
		struct pair *p = &pairs[i];
		int odir, ndir;

		memset(&named[i], 0, sizeof(named[i]));
		err = push_name(w, names[i]);
		if (!err && in_old)
			err = ovl_lookup(w, ov, names[i], &p->oe);
		if (!err)
			err = ovl_lookup(w, nv, names[i], &p->ne);
		odir = p->oe.found && S_ISDIR(p->oe.st.st_mode);
		ndir = p->ne.found && S_ISDIR(p->ne.st.st_mode);
		if (!err && ndir &&
		    w->reuse->unchanged(w->path.ptr, w->path.len,
					w->reuse->ctx)) {
			/* Its own state only; a new directory the caller
			 * did not name whole: the whole walk instead. */
			if (odir)
				level_of(&named[i],
					 entry_different(ov, &p->oe, nv, &p->ne,
							 names[i])
						 ? DW_CHANGE_MODIFY
						 : 0,
					 w->flags, &p->ne.st);
			else
				err = 1;
			named[i].dir_only = 1;
		}
		dw_buf_setlen(&w->path, base);
		if (err || named[i].dir_only || (!p->oe.found && !p->ne.found))
			continue;
		item_add(&it, names[i], i, 0);
		if (ndir)
			item_add(&it, names[i], i, 1);
	}
	if (!err)
		sort_items(&it);
	for (i = 0; !err && i < it.n; i++) {
		const struct item *x = &it.v[i];

		err = push_name(w, x->name);
		if (!err && x->subtree)
			err = compare_below(w, ov, nv, &pairs[x->idx], x->name,
					    fast, &changed);
		else if (!err)
			compare_self(w, ov, nv, &pairs[x->idx], x->name,
				     &changed);
		dw_buf_setlen(&w->path, base);
	}
	free(pairs);
	free(it.v);
	w->depth--;
	return err;
}

int dw_overlay_diff_at(struct dw_changeset *out, const char *upper,
		       const char *const *lowers, size_t nlowers,
		       unsigned flags, const char *dir, char *const *names,
		       size_t nnames, const struct dw_diff_reuse *reuse,
		       struct dw_diff_level *levels,
		       struct dw_diff_level *named)
{
	struct walk w = {out, DW_BUF_INIT, flags, 0, 0, NULL, 0, reuse, NULL};
	struct view ov = {-1, NULL, 0, 0}, nv = {-1, NULL, 0, 0};
	struct view o = {-1, NULL, 0, 0}, n = {-1, NULL, 0, 0};
	const struct view *co = &ov, *cn = &nv;
	int err = open_roots(&w, &ov, &nv, upper, lowers, nlowers);
	int in_old = 1; /* the directory is one in the image too */
	const char *p = dir;
	size_t k = 0;

	while (!err && *p == '/') {
		const char *end = strchr(p + 1, '/');
		size_t len = end ? (size_t)(end - p - 1) : strlen(p + 1);
		char *name = dw_xstrndup(p + 1, len);
		struct entry oe = {0, -1, {0}}, ne = {0, -1, {0}};
		struct view no = {-1, NULL, 0, 0}, nn = {-1, NULL, 0, 0};
		int fast = cn->lfds == co->lfds && cn->nl == co->nl;

		err = push_name(&w, name);
		if (!err && ++w.depth >= w.max_depth)
			err = 1; /* too deep: the whole walk counts it */
		if (!err && in_old)
			err = ovl_lookup(&w, co, name, &oe);
		if (!err)
			err = ovl_lookup(&w, cn, name, &ne);
		if (!err && (!ne.found || !S_ISDIR(ne.st.st_mode)))
			err = 2; /* gone, or no longer a directory */
		if (!err) {
			level_of(&levels[k++],
				 !oe.found ? DW_CHANGE_ADD
				 : entry_different(co, &oe, cn, &ne, name)
					 ? DW_CHANGE_MODIFY
					 : 0,
				 flags, &ne.st);
			in_old = oe.found && S_ISDIR(oe.st.st_mode);
		}
		if (!err && in_old)
			err = ovl_child_view(&w, &no, co, &oe, name, NULL);
		if (!err)
			err = ovl_child_view(&w, &nn, cn, &ne, name,
					     fast && in_old ? &no : NULL);
		free(name);
		if (co != &ov)
			release_level(&o, &n);
		o = no;
		n = nn;
		co = &o;
		cn = &n;
		p += 1 + len;
	}
	if (!err)
		err = compare_named(&w, co, cn, in_old, names, nnames, named);
	if (!err)
		drop_placeholders(out);
	if (co != &ov)
		release_level(&o, &n);
	close_roots(&w, &ov, &nv);
	return err;
}

void dw_changeset_drop_added_dirs(struct dw_changeset *cs, char *const *paths,
				  size_t n)
{
	size_t i, k, out = 0;

	if (!n)
		return;
	for (i = 0; i < cs->n; i++) {
		const struct dw_change *x = &cs->v[i];
		const char *path = cs->names.ptr + x->path_off;
		int drop = 0;

		/* A directory, or an empty file (a file bind mount's
		 * target: podman's /etc/hosts, /run/.containerenv). */
		if (x->kind == DW_CHANGE_ADD &&
		    (S_ISDIR(x->mode) || (S_ISREG(x->mode) && x->has_meta &&
					  cs->meta && cs->meta[i].size == 0)))
			for (k = 0; k < n && !drop; k++)
				drop = !strcmp(path, paths[k]);
		if (drop)
			continue;
		cs->v[out] = cs->v[i];
		if (cs->meta)
			cs->meta[out] = cs->meta[i];
		out++;
	}
	cs->n = out;
}

void dw_changeset_release(struct dw_changeset *cs)
{
	free(cs->v);
	free(cs->meta);
	free(cs->truncated_at);
	free(cs->forged_at);
	cs->v = NULL;
	cs->meta = NULL;
	cs->truncated_at = cs->forged_at = NULL;
	cs->n = cs->alloc = cs->meta_alloc = cs->truncated = cs->forged = 0;
	dw_buf_release(&cs->names);
}
