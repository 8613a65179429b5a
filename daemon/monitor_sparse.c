/*
 * The live monitor: compare with the store, not with a copy in memory.
 *
 * A container's current changes live in the store alone. A rescan after
 * inotify events walks only the directories that hold the named entries
 * (a region each), and compares what it finds there with the store's
 * rows there; then the directories above each region, whose C depends on
 * whether anything is left below them. So a change in a container with a
 * million drifted files costs what the directory it is in holds, not the
 * million. A full rescan (start, the periodic one, an overflow) walks it
 * all and reads the store's rows in order alongside, holding only what
 * differs.
 */
#include "monitor_int.h"

#include "driftwatch/banned.h"

static int path_cmp(const char *a, size_t alen, const char *b, size_t blen)
{
	int r = memcmp(a, b, alen < blen ? alen : blen);

	return r ? r : (alen > blen) - (alen < blen);
}

/* Does the change (kind, mode, metadata or NULL) differ? */
static int differs(char k1, uint32_t m1, const struct dw_change_meta *p,
		   char k2, uint32_t m2, const struct dw_change_meta *q)
{
	if (k1 != k2 || m1 != m2 || !p != !q)
		return 1;
	if (!p)
		return 0;
	return p->uid != q->uid || p->gid != q->gid || p->size != q->size ||
	       p->mtime_sec != q->mtime_sec || p->mtime_nsec != q->mtime_nsec ||
	       p->ctime_ns != q->ctime_ns || p->ino != q->ino;
}

static const struct dw_change_meta *meta_at(const struct dw_changeset *cs,
					    const struct dw_change *x)
{
	return x->has_meta ? &cs->meta[x - cs->v] : NULL;
}

void mon_cs_push(struct dw_changeset *cs, const struct dw_change_row *r)
{
	struct dw_change *c;

	DW_ALLOC_GROW(cs->v, cs->n + 1, cs->alloc);
	DW_ALLOC_GROW(cs->meta, cs->n + 1, cs->meta_alloc);
	c = &cs->v[cs->n];
	c->path_off = cs->names.len;
	c->path_len = (uint32_t)r->path_len;
	c->mode = r->mode;
	c->kind = r->kind;
	c->has_meta = r->meta != NULL;
	if (r->meta)
		cs->meta[cs->n] = *r->meta;
	dw_buf_add(&cs->names, r->path, r->path_len);
	dw_buf_addch(&cs->names, '\0');
	cs->n++;
}

/* Compare the store's set with the new one, both sorted by path. */
void mon_compare_sets(struct rescan *r, const struct dw_changeset *old,
		      const struct dw_changeset *cur)
{
	size_t i = 0, j = 0;

	while (i < old->n || j < cur->n) {
		const struct dw_change *o = i < old->n ? &old->v[i] : NULL;
		const struct dw_change *n = j < cur->n ? &cur->v[j] : NULL;
		int cmp = !o   ? 1
			  : !n ? -1
			       : path_cmp(dw_change_path(old, o), o->path_len,
					  dw_change_path(cur, n), n->path_len);

		if (cmp < 0) {
			mon_add_row(r, old, o, 'R');
			i++;
		} else if (cmp > 0) {
			mon_add_row(r, cur, n, n->kind);
			r->added++;
			j++;
		} else {
			if (differs(o->kind, o->mode, meta_at(old, o), n->kind,
				    n->mode, meta_at(cur, n))) {
				mon_add_row(r, cur, n, n->kind);
				r->updated++;
			}
			i++;
			j++;
		}
	}
}

/* ---- a full rescan: the whole walk against the store, in order ---- */

struct stream {
	const struct dw_changeset *cur;
	size_t j;
	/* What differs: indexes into cur (added or updated), the store's
	 * rows that are gone; both in path order. */
	size_t *idx;
	unsigned char *upd;
	size_t nidx, alloc, upd_alloc;
	struct dw_changeset *gone;
};

static void mark(struct stream *s, size_t j, int updated)
{
	DW_ALLOC_GROW(s->idx, s->nidx + 1, s->alloc);
	DW_ALLOC_GROW(s->upd, s->nidx + 1, s->upd_alloc);
	s->idx[s->nidx] = j;
	s->upd[s->nidx++] = (unsigned char)updated;
}

static int on_stored(const struct dw_change_row *row, void *ctx)
{
	struct stream *s = ctx;
	const struct dw_changeset *cur = s->cur;
	int cmp = 1;

	while (s->j < cur->n) {
		const struct dw_change *n = &cur->v[s->j];

		cmp = path_cmp(dw_change_path(cur, n), n->path_len, row->path,
			       row->path_len);
		if (cmp >= 0)
			break;
		mark(s, s->j++, 0);
	}
	if (s->j < cur->n && !cmp) {
		const struct dw_change *n = &cur->v[s->j];

		if (differs(row->kind, row->mode, row->meta, n->kind, n->mode,
			    meta_at(cur, n)))
			mark(s, s->j, 1);
		s->j++;
	} else {
		mon_cs_push(s->gone, row);
	}
	return 0;
}

int mon_compare_store(struct rescan *r, const struct dw_changeset *cur,
		      struct dw_changeset *gone)
{
	struct stream s = {cur, 0, NULL, NULL, 0, 0, 0, gone};
	size_t i = 0, k = 0;
	int err = dw_store_load_changes(r->m->store, r->c->id, on_stored, &s);

	while (!err && s.j < cur->n)
		mark(&s, s.j++, 0);
	/* The rows, in path order. */
	while (!err && (i < gone->n || k < s.nidx)) {
		const struct dw_change *o = i < gone->n ? &gone->v[i] : NULL;
		const struct dw_change *n =
			k < s.nidx ? &cur->v[s.idx[k]] : NULL;

		if (o &&
		    (!n || path_cmp(dw_change_path(gone, o), o->path_len,
				    dw_change_path(cur, n), n->path_len) < 0)) {
			mon_add_row(r, gone, o, 'R');
			i++;
			continue;
		}
		mon_add_row(r, cur, n, n->kind);
		if (s.upd[k])
			r->updated++;
		else
			r->added++;
		k++;
	}
	free(s.idx);
	free(s.upd);
	return err;
}

/* ---- a rescan of the directories inotify named ---- */

struct strv {
	char **v;
	size_t n, alloc;
};

static void strv_push(struct strv *s, const char *p, size_t len)
{
	DW_ALLOC_GROW(s->v, s->n + 1, s->alloc);
	s->v[s->n++] = dw_xstrndup(p, len);
}

static void strv_release(struct strv *s)
{
	while (s->n)
		free(s->v[--s->n]);
	free(s->v);
}

struct region {
	char *dir; /* "/a/b", "" for the root */
	struct dw_changeset cur, old;
	struct dw_diff_level *levels; /* the dirs down to it, it last */
	size_t nlevels;
	int below;
	/* What the walk did not look at and the store has rows for, in
	 * walk order: subtrees ("k/..."), and entries. */
	struct strv kept_dirs, kept_ents;
	size_t ke;
};

struct sparse {
	struct rescan *r;
	struct region *v;
	size_t n, alloc;
	struct region *at; /* being walked */
	/* The directories above the regions and the regions' own, deepest
	 * first: new, and as stored. */
	struct dw_changeset chain, chain_old;
};

static int sp_unchanged(const char *path, size_t len, void *ctx)
{
	return mon_subtree_unchanged(path, len, ((struct sparse *)ctx)->r->c);
}

static int sp_entry_unchanged(const char *path, size_t len, void *ctx)
{
	return mon_entry_unchanged(path, len, ((struct sparse *)ctx)->r->c);
}

static int sp_kept(const char *path, size_t len, int subtree, void *ctx)
{
	struct sparse *sp = ctx;
	int had = dw_store_has_change(sp->r->m->store, sp->r->c->id, path, len,
				      subtree);

	if (had > 0)
		strv_push(subtree ? &sp->at->kept_dirs : &sp->at->kept_ents,
			  path, len);
	return had;
}

static size_t parent_len(const char *p)
{
	const char *slash = strrchr(p, '/');

	return slash ? (size_t)(slash - p) : 0;
}

/* Is there a region at exactly dir[0..len)? (Regions are sorted.) */
static int has_region(const struct sparse *sp, const char *dir, size_t len)
{
	size_t lo = 0, hi = sp->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		const char *d = sp->v[mid].dir;
		int cmp = path_cmp(d, strlen(d), dir, len);

		if (!cmp)
			return 1;
		if (cmp < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return 0;
}

/* Is `dir` a region, or below one? */
static int covered(const struct sparse *sp, const char *dir)
{
	const char *p;

	if (has_region(sp, "", 0))
		return 1;
	for (p = strchr(dir + 1, '/'); p; p = strchr(p + 1, '/'))
		if (has_region(sp, dir, (size_t)(p - dir)))
			return 1;
	return has_region(sp, dir, strlen(dir));
}

/*
 * The regions: the directories holding what inotify named, none below
 * another (that one's walk goes through it). Sorted, so that a
 * directory's ancestors are regions already when it comes.
 */
static void plan(struct sparse *sp, const struct container *c)
{
	struct strv dirs = {NULL, 0, 0};
	size_t i;

	for (i = 0; i < c->ents.n; i++)
		strv_push(&dirs, c->ents.v[i], parent_len(c->ents.v[i]));
	for (i = 0; i < c->deep.n; i++)
		strv_push(&dirs, c->deep.v[i], parent_len(c->deep.v[i]));
	if (dirs.n > 1)
		qsort(dirs.v, dirs.n, sizeof(char *), mon_cmp_str);
	for (i = 0; i < dirs.n; i++) {
		if (*dirs.v[i] ? covered(sp, dirs.v[i]) : sp->n > 0)
			continue;
		DW_ALLOC_GROW(sp->v, sp->n + 1, sp->alloc);
		memset(&sp->v[sp->n], 0, sizeof(sp->v[0]));
		sp->v[sp->n].cur = (struct dw_changeset)DW_CHANGESET_INIT;
		sp->v[sp->n].old = (struct dw_changeset)DW_CHANGESET_INIT;
		sp->v[sp->n++].dir = dw_xstrdup(dirs.v[i]);
	}
	strv_release(&dirs);
}

void mon_sparse_free(struct sparse *sp)
{
	size_t i;

	if (!sp)
		return;
	for (i = 0; i < sp->n; i++) {
		struct region *g = &sp->v[i];

		free(g->dir);
		free(g->levels);
		dw_changeset_release(&g->cur);
		dw_changeset_release(&g->old);
		strv_release(&g->kept_dirs);
		strv_release(&g->kept_ents);
	}
	free(sp->v);
	dw_changeset_release(&sp->chain);
	dw_changeset_release(&sp->chain_old);
	free(sp);
}

int mon_rescan_sparse(struct rescan *r, struct sparse **out,
		      struct dw_changeset *seen)
{
	struct container *c = r->c;
	struct sparse *sp = dw_xcalloc(1, sizeof(*sp));
	struct dw_diff_reuse reuse = {NULL, sp_unchanged, sp_entry_unchanged,
				      sp_kept, sp};
	size_t i;
	int err = 0;

	sp->r = r;
	sp->chain = (struct dw_changeset)DW_CHANGESET_INIT;
	sp->chain_old = (struct dw_changeset)DW_CHANGESET_INIT;
	plan(sp, c);
	/* A region (and its walk) grows with what was named: the region
	 * count is bounded by the pathsets' PATHSET_MAX. */
	for (i = 0; !err && i < sp->n; i++) {
		struct region *g = &sp->v[i];
		const char *p;

		for (p = g->dir; *p; p++)
			g->nlevels += *p == '/';
		g->levels = dw_xcalloc(g->nlevels ? g->nlevels : 1,
				       sizeof(*g->levels));
		sp->at = g;
		err = dw_overlay_diff_at(
			&g->cur, c->upper, (const char *const *)c->lowers,
			c->nlowers,
			DW_DIFF_STAT | (c->userxattr ? DW_DIFF_USERXATTR : 0),
			g->dir, &reuse, g->levels, &g->below);
		/* What the walks could not trust or reach. */
		seen->truncated += g->cur.truncated;
		if (g->cur.truncated_at && !seen->truncated_at)
			seen->truncated_at = dw_xstrdup(g->cur.truncated_at);
		if (g->cur.max_depth)
			seen->max_depth = g->cur.max_depth;
		seen->forged += g->cur.forged;
		if (g->cur.forged_at && !seen->forged_at)
			seen->forged_at = dw_xstrdup(g->cur.forged_at);
		if (!err && r->m->pol->ignore_runtime_mounts)
			dw_changeset_drop_added_dirs(&g->cur, c->mount_points,
						     c->nmount_points);
	}
	if (err) {
		mon_sparse_free(sp);
		return err;
	}
	*out = sp;
	return 0;
}

/* The store's rows below a region, but for those its walk kept. */
static int on_region_row(const struct dw_change_row *row, void *ctx)
{
	struct region *g = ctx;

	while (g->ke < g->kept_ents.n) {
		const char *k = g->kept_ents.v[g->ke];
		int cmp = path_cmp(k, strlen(k), row->path, row->path_len);

		if (cmp > 0)
			break;
		g->ke++;
		if (!cmp)
			return 0;
	}
	mon_cs_push(&g->old, row);
	return 0;
}

/* Is there a change below `dir` once the rows so far are applied? */
static int below_after(struct rescan *r, const char *dir, size_t len)
{
	struct strv gone = {NULL, 0, 0};
	struct dw_buf lo = DW_BUF_INIT, hi = DW_BUF_INIT;
	size_t i, left = 0;
	int had = 0, err;

	for (i = 0; i < r->nrows && !had; i++) {
		const struct dw_change_row *x = &r->rows[i];

		if (x->path_len <= len || memcmp(x->path, dir, len) ||
		    ((const char *)x->path)[len] != '/')
			continue;
		if (x->kind != 'R')
			had = 1;
		else
			strv_push(&gone, x->path, x->path_len);
	}
	if (had) {
		strv_release(&gone);
		return 1;
	}
	/* Stored rows below it, more than the ones going away? */
	dw_buf_add(&lo, dir, len);
	dw_buf_addch(&lo, '/');
	dw_buf_add(&hi, dir, len);
	dw_buf_addch(&hi, '0');
	err = dw_store_has_change_in(r->m->store, r->c->id, lo.ptr, lo.len, 0,
				     hi.ptr, hi.len);
	if (err > 0 && gone.n) {
		/* Count them up to one more than go away. */
		err = dw_store_count_in(r->m->store, r->c->id, lo.ptr, lo.len,
					hi.ptr, hi.len, gone.n + 1, &left);
		if (!err)
			err = left > gone.n;
	}
	dw_buf_release(&lo);
	dw_buf_release(&hi);
	strv_release(&gone);
	return err;
}

struct level_ref {
	const char *path; /* in its region's dir */
	size_t len, depth;
	const struct dw_diff_level *l;
};

static int cmp_level(const void *a, const void *b)
{
	const struct level_ref *x = a, *y = b;

	if (x->depth != y->depth)
		return x->depth < y->depth ? 1 : -1;
	return path_cmp(x->path, x->len, y->path, y->len);
}

static int on_level_row(const struct dw_change_row *row, void *ctx)
{
	mon_cs_push(ctx, row);
	return 1; /* one */
}

/* Runtime mount points are not drift (ignore_runtime_mounts). */
static int runtime_mount(const struct rescan *r, const char *path)
{
	size_t i;

	if (!r->m->pol->ignore_runtime_mounts)
		return 0;
	for (i = 0; i < r->c->nmount_points; i++)
		if (!strcmp(path, r->c->mount_points[i]))
			return 1;
	return 0;
}

/* The regions' directories and those above them, deepest first: C when
 * anything is left below (or they differ themselves), else nothing. */
static int chain(struct rescan *r, struct sparse *sp)
{
	struct level_ref *refs = NULL;
	size_t n = 0, alloc = 0, i, k, *old_at;
	int err = 0;

	for (i = 0; i < sp->n; i++) {
		const struct region *g = &sp->v[i];
		const char *p = g->dir;

		for (k = 0; k < g->nlevels; k++) {
			p = strchr(p + 1, '/');
			DW_ALLOC_GROW(refs, n + 1, alloc);
			refs[n++] = (struct level_ref){g->dir,
						       p ? (size_t)(p - g->dir)
							 : strlen(g->dir),
						       k, &g->levels[k]};
			if (!p)
				break;
		}
	}
	if (n > 1)
		qsort(refs, n, sizeof(*refs), cmp_level);
	/* Both sets first, whole: the rows point into them. */
	old_at = dw_xcalloc(n ? n : 1, sizeof(*old_at));
	for (i = 0, k = 0; i < n; i++) {
		const struct dw_diff_level *l = refs[i].l;
		struct dw_change_row row = {refs[i].path,
					    refs[i].len,
					    l->kind,
					    l->mode,
					    l->has_meta ? &l->meta : NULL,
					    NULL,
					    -1,
					    -1,
					    DW_SEV_ALLOWED,
					    NULL};

		if (i && !path_cmp(refs[i].path, refs[i].len, refs[i - 1].path,
				   refs[i - 1].len))
			refs[i].l = NULL; /* the same dir, from two regions */
		mon_cs_push(&sp->chain, &row);
		old_at[i] = sp->chain_old.n;
		if (!err && refs[i].l)
			err = dw_store_load_at(r->m->store, r->c->id,
					       refs[i].path, refs[i].len,
					       on_level_row, &sp->chain_old);
		if (sp->chain_old.n == old_at[i])
			old_at[i] = (size_t)-1;
	}
	for (i = 0; !err && i < n; i++) {
		struct dw_change *x = &sp->chain.v[i];
		const struct dw_change *o =
			old_at[i] == (size_t)-1 ? NULL
						: &sp->chain_old.v[old_at[i]];
		const char *path = dw_change_path(&sp->chain, x);
		int below;

		if (!refs[i].l)
			continue;
		if (!x->kind) {
			below = below_after(r, path, x->path_len);
			if (below < 0) {
				err = below;
				break;
			}
			x->kind = below ? DW_CHANGE_MODIFY : 0;
		}
		if (x->kind == DW_CHANGE_ADD && runtime_mount(r, path))
			x->kind = 0;
		if (!x->kind && o) {
			mon_add_row(r, &sp->chain_old, o, 'R');
		} else if (x->kind && !o) {
			mon_add_row(r, &sp->chain, x, x->kind);
			r->added++;
		} else if (x->kind &&
			   differs(o->kind, o->mode, meta_at(&sp->chain_old, o),
				   x->kind, x->mode, meta_at(&sp->chain, x))) {
			mon_add_row(r, &sp->chain, x, x->kind);
			r->updated++;
		}
	}
	free(old_at);
	free(refs);
	return err;
}

int mon_sparse_compare(struct rescan *r, struct sparse *sp)
{
	size_t i;
	int err = 0;

	for (i = 0; !err && i < sp->n; i++) {
		struct region *g = &sp->v[i];

		err = dw_store_load_below(r->m->store, r->c->id, g->dir,
					  strlen(g->dir), g->kept_dirs.v,
					  g->kept_dirs.n, on_region_row, g);
		if (!err)
			mon_compare_sets(r, &g->old, &g->cur);
	}
	if (!err)
		err = chain(r, sp);
	return err;
}
