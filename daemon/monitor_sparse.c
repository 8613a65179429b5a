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

	while ((i < old->n || j < cur->n) && !r->over) {
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

/* One row to be: a change of the walk (added or updated) or one gone. */
struct pick {
	const struct dw_changeset *set;
	const struct dw_change *ch;
	char kind; /* 'R': gone */
	unsigned char updated;
};

static int pick_cmp(const struct pick *p, const char *path, size_t len)
{
	return path_cmp(dw_change_path(p->set, p->ch), p->ch->path_len, path,
			len);
}

/* The first of the n picks (in path order) at or after `path`. */
static size_t pick_from(const struct pick *v, size_t n, const char *path,
			size_t len)
{
	size_t lo = 0, hi = n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (pick_cmp(&v[mid], path, len) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/* Was the entry of `p` born after `t_us` (btime; else its ctime)? */
static int born_after(int root, const struct pick *p, long long t_us)
{
	const char *path = dw_change_path(p->set, p->ch);
	struct statx sx;
	long long born;
	int fd;

	if (root < 0 || !path[0])
		return 0;
	fd = mon_open_rel(root, path + 1, O_PATH);
	if (fd < 0)
		return 0; /* gone: the row says so */
	if (statx(fd, "", AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW,
		  STATX_BTIME | STATX_CTIME, &sx)) {
		close(fd);
		return 0;
	}
	close(fd);
	born = sx.stx_mask & STATX_BTIME ? sx.stx_btime.tv_sec * 1000000LL +
						   sx.stx_btime.tv_nsec / 1000
					 : sx.stx_ctime.tv_sec * 1000000LL +
						   sx.stx_ctime.tv_nsec / 1000;
	return born > t_us;
}

static void set_path(char **s, size_t *len, const struct pick *p)
{
	free(*s);
	*s = NULL;
	*len = 0;
	if (!p)
		return;
	*len = p->ch->path_len;
	*s = dw_xstrndup(dw_change_path(p->set, p->ch), *len);
}

void mon_round_reset(struct container *c)
{
	set_path(&c->resume, &c->resume_len, NULL);
	set_path(&c->round_from, &c->round_from_len, NULL);
	c->round_us = 0;
}

/*
 * A round ended, `left` entries not recorded: those born during it (the
 * last turn skipped them) and those changed behind its cursor (no turn
 * of it looks there again), wherever their names sort.
 */
static void round_done(struct container *c, long long left)
{
	if (left > c->round_n) {
		c->backlog_changed |= !c->backlog;
		c->backlog = left;
		c->backlog_of = c->round_n;
		c->backlog_rows = c->round_rows;
		c->backlog_ms = (mon_wall_us() - c->round_us) / 1000;
	} else if (!left && (c->backlog || c->backlog_carried)) {
		c->backlog = 0;
		c->backlog_changed = 1;
	}
}

int mon_compare_store(struct rescan *r, const struct dw_changeset *cur,
		      struct dw_changeset *gone)
{
	struct stream s = {cur, 0, NULL, NULL, 0, 0, 0, gone};
	struct container *c = r->c;
	struct pick *v = NULL;
	size_t i = 0, k = 0, n = 0, alloc = 0, start = 0, len, t, later = 0;
	int err = dw_store_load_changes(r->m->store, c->id, on_stored, &s);
	int fresh = 0, root = -1;

	while (!err && s.j < cur->n)
		mark(&s, s.j++, 0);
	/* What differs, in path order. */
	while (!err && (i < gone->n || k < s.nidx)) {
		const struct dw_change *o = i < gone->n ? &gone->v[i] : NULL;
		const struct dw_change *x =
			k < s.nidx ? &cur->v[s.idx[k]] : NULL;

		DW_ALLOC_GROW(v, n + 1, alloc);
		if (o &&
		    (!x || path_cmp(dw_change_path(gone, o), o->path_len,
				    dw_change_path(cur, x), x->path_len) < 0)) {
			v[n++] = (struct pick){gone, o, 'R', 0};
			i++;
			continue;
		}
		v[n++] = (struct pick){cur, x, x->kind, s.upd[k]};
		k++;
	}
	free(s.idx);
	free(s.upd);
	/*
	 * The rows, from where the last turn stopped to where its round
	 * began, as long as the budget lasts (one row at least). What was
	 * born since the round began is the next round's.
	 */
	if (n && c->resume)
		start = pick_from(v, n, c->resume, c->resume_len) % n;
	len = n;
	if (n && c->round_us && c->round_from) {
		len = (pick_from(v, n, c->round_from, c->round_from_len) % n +
		       n - start) %
		      n;
		if (!len) { /* it came round: all of it is left */
			round_done(c, (long long)n);
			c->round_us = 0;
		}
		len = len ? len : n;
	}
	if (!c->round_us) {
		fresh = 1;
		c->round_us = r->walk_us;
		c->round_n = (long long)n;
		c->round_rows = 0;
		set_path(&c->round_from, &c->round_from_len,
			 n ? &v[start] : NULL);
	}
	if (!fresh)
		root = open(c->upper, O_PATH | O_DIRECTORY | O_CLOEXEC);
	for (t = 0; !err && t < len; t++) {
		const struct pick *p = &v[(start + t) % n];

		if (r->over)
			break;
		if (!fresh && p->kind != 'R' &&
		    born_after(root, p, c->round_us)) {
			later++;
			continue;
		}
		mon_add_row(r, p->set, p->ch, p->kind);
		if (p->kind == 'R')
			continue;
		if (p->updated)
			r->updated++;
		else
			r->added++;
	}
	if (root >= 0)
		close(root);
	c->pending = err ? 0 : (long long)(n - t + later);
	if (!err)
		c->round_rows += (long long)(t - later);
	if (!err && t < len) {
		/* The budget ran out: this round goes on from here. */
		set_path(&c->resume, &c->resume_len, &v[(start + t) % n]);
	} else {
		/* The round is done: what is left is the next one's. */
		if (!err)
			round_done(c, c->pending);
		mon_round_reset(c);
	}
	free(v);
	return err;
}

/* ---- a rescan of the entries inotify named ---- */

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

/* The entries named in one directory. */
struct region {
	char *dir; /* "/a/b", "" for the root */
	struct strv names;
	struct dw_changeset cur, old;
	struct dw_diff_level *levels; /* the dirs down to it, it last */
	size_t nlevels;
	struct dw_diff_level *named; /* per name */
	int gone;		     /* the directory is no more */
};

struct sparse {
	struct rescan *r;
	struct region *v;
	size_t n, alloc;
	/* The directories whose C was decided (each its own set: the rows
	 * point into them): new, and as stored. */
	struct dw_changeset **sets;
	size_t nsets, sets_alloc;
};

/* Sparse walks: only what a whole-walk path named (IN_CREATE of a
 * directory, a directory's own attributes) is entered. */
static int sp_unchanged(const char *path, size_t len, void *ctx)
{
	return !mon_under_deep(((struct sparse *)ctx)->r->c, path, len);
}

static int sp_kept(const char *path, size_t len, int subtree, void *ctx)
{
	struct sparse *sp = ctx;

	return dw_store_has_change(sp->r->m->store, sp->r->c->id, path, len,
				   subtree);
}

struct named_path {
	const char *path; /* "/dir/name" */
	size_t dirlen;
};

static int cmp_named(const void *a, const void *b)
{
	const struct named_path *x = a, *y = b;
	int c = path_cmp(x->path, x->dirlen, y->path, y->dirlen);

	return c ? c : strcmp(x->path + x->dirlen, y->path + y->dirlen);
}

static void region_add(struct sparse *sp, const char *dir, size_t len)
{
	struct region *g;

	DW_ALLOC_GROW(sp->v, sp->n + 1, sp->alloc);
	g = &sp->v[sp->n++];
	memset(g, 0, sizeof(*g));
	g->cur = (struct dw_changeset)DW_CHANGESET_INIT;
	g->old = (struct dw_changeset)DW_CHANGESET_INIT;
	g->dir = dw_xstrndup(dir, len);
}

/*
 * The regions: what inotify named, by directory. A path below one to
 * be walked whole is in that walk. 1 when the whole tree is to be
 * walked instead: the root named whole, or more levels to go down
 * than a walk of everything would cost in the worst case for the
 * paths noted (a container naming many deep directories).
 */
static int plan(struct sparse *sp, const struct container *c)
{
	struct named_path *v;
	size_t n = 0, i, levels = 0;
	const struct pathset *sets[2] = {&c->ents, &c->deep};

	v = dw_xcalloc(c->ents.n + c->deep.n + 1, sizeof(*v));
	for (size_t s = 0; s < 2; s++)
		for (i = 0; i < sets[s]->n; i++) {
			const char *p = sets[s]->v[i];
			const char *slash = strrchr(p, '/');

			if (!*p) {
				free(v);
				return 1;
			}
			if (slash == p
				    ? 0
				    : mon_under_deep(c, p, (size_t)(slash - p)))
				continue;
			v[n++] = (struct named_path){p, (size_t)(slash - p)};
		}
	if (n > 1)
		qsort(v, n, sizeof(*v), cmp_named);
	for (i = 0; i < n; i++) {
		const char *name = v[i].path + v[i].dirlen + 1;
		struct region *g = sp->n ? &sp->v[sp->n - 1] : NULL;

		if (!g ||
		    path_cmp(g->dir, strlen(g->dir), v[i].path, v[i].dirlen)) {
			region_add(sp, v[i].path, v[i].dirlen);
			g = &sp->v[sp->n - 1];
			for (const char *q = g->dir; *q; q++)
				g->nlevels += *q == '/';
			levels += g->nlevels;
		}
		/* ents and deep may both name it */
		if (!g->names.n || strcmp(g->names.v[g->names.n - 1], name))
			strv_push(&g->names, name, strlen(name));
	}
	free(v);
	return levels > PATHSET_MAX;
}

void mon_sparse_free(struct sparse *sp)
{
	size_t i;

	if (!sp)
		return;
	for (i = 0; i < sp->n; i++) {
		struct region *g = &sp->v[i];

		free(g->dir);
		strv_release(&g->names);
		free(g->levels);
		free(g->named);
		dw_changeset_release(&g->cur);
		dw_changeset_release(&g->old);
	}
	free(sp->v);
	for (i = 0; i < sp->nsets; i++) {
		dw_changeset_release(sp->sets[i]);
		free(sp->sets[i]);
	}
	free(sp->sets);
	free(sp);
}

int mon_rescan_sparse(struct rescan *r, struct sparse **out,
		      struct dw_changeset *seen)
{
	struct container *c = r->c;
	struct sparse *sp = dw_xcalloc(1, sizeof(*sp));
	struct dw_diff_reuse reuse = {NULL, sp_unchanged, sp_unchanged, sp_kept,
				      sp};
	size_t i;
	int err;

	sp->r = r;
	err = plan(sp, c);
	for (i = 0; !err && i < sp->n; i++) {
		struct region *g = &sp->v[i];

		g->levels = dw_xcalloc(g->nlevels + 1, sizeof(*g->levels));
		g->named = dw_xcalloc(g->names.n + 1, sizeof(*g->named));
		err = dw_overlay_diff_at(
			&g->cur, c->upper, (const char *const *)c->lowers,
			c->nlowers,
			DW_DIFF_STAT | (c->userxattr ? DW_DIFF_USERXATTR : 0),
			g->dir, g->names.v, g->names.n, &reuse, g->levels,
			g->named);
		/*
		 * Gone since its events: so was its entry in the directory
		 * above, and that event says so (a later rescan at worst,
		 * of the parent: it compares what was below with the store).
		 */
		if (err == 2) {
			g->gone = 1;
			dw_changeset_release(&g->cur);
			err = 0;
		}
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

static int on_row(const struct dw_change_row *row, void *ctx)
{
	mon_cs_push(ctx, row);
	return 0;
}

static struct dw_changeset *sorted_copy(const struct dw_changeset *cs)
{
	struct dw_changeset *out = dw_xcalloc(1, sizeof(*out));
	size_t *idx = dw_xcalloc(cs->n + 1, sizeof(*idx)), i, j;

	*out = (struct dw_changeset)DW_CHANGESET_INIT;
	for (i = 0; i < cs->n; i++)
		idx[i] = i;
	/* Insertion: what is loaded comes nearly sorted. */
	for (i = 1; i < cs->n; i++) {
		size_t x = idx[i];
		const struct dw_change *a = &cs->v[x];

		for (j = i; j > 0; j--) {
			const struct dw_change *b = &cs->v[idx[j - 1]];

			if (path_cmp(dw_change_path(cs, b), b->path_len,
				     dw_change_path(cs, a), a->path_len) <= 0)
				break;
			idx[j] = idx[j - 1];
		}
		idx[j] = x;
	}
	for (i = 0; i < cs->n; i++) {
		const struct dw_change *x = &cs->v[idx[i]];
		struct dw_change_row row = {
			dw_change_path(cs, x), x->path_len, x->kind, x->mode,
			meta_at(cs, x),	       NULL,	    -1,	     -1,
			DW_SEV_ALLOWED,	       NULL};

		mon_cs_push(out, &row);
	}
	free(idx);
	return out;
}

int mon_sparse_compare(struct rescan *r, struct sparse *sp)
{
	struct dw_buf path = DW_BUF_INIT;
	size_t i, k;
	int err = 0;

	for (i = 0; !err && i < sp->n; i++) {
		struct region *g = &sp->v[i];
		struct dw_changeset *old;

		if (g->gone)
			continue;
		/* The store's rows at and below each entry compared. */
		for (k = 0; !err && k < g->names.n; k++) {
			if (g->named[k].dir_only)
				continue;
			dw_buf_setlen(&path, 0);
			dw_buf_addf(&path, "%s/%s", g->dir, g->names.v[k]);
			err = dw_store_load_at(r->m->store, r->c->id, path.ptr,
					       path.len, on_row, &g->old);
			if (!err)
				err = dw_store_load_below(
					r->m->store, r->c->id, path.ptr,
					path.len, NULL, 0, on_row, &g->old);
		}
		if (err)
			break;
		old = sorted_copy(&g->old);
		dw_changeset_release(&g->old);
		g->old = *old;
		free(old);
		mon_compare_sets(r, &g->old, &g->cur);
		if (r->over)
			break; /* the caller walks it all, a budget a turn */
	}
	dw_buf_release(&path);
	return err;
}

/* A directory whose C is decided by what is below it. */
struct level_ref {
	char *path;
	size_t len, depth;
	const struct dw_diff_level *l;
	/* Its parent's: region and level index (-1: none). */
	size_t region;
	long parent;
};

static int cmp_ref(const void *a, const void *b)
{
	const struct level_ref *x = a, *y = b;

	if (x->depth != y->depth)
		return x->depth < y->depth ? 1 : -1;
	return path_cmp(x->path, x->len, y->path, y->len);
}

struct refs {
	struct level_ref *v;
	size_t n, alloc;
};

static void ref_add(struct refs *s, const char *path, size_t len,
		    const struct dw_diff_level *l, size_t region, long parent)
{
	size_t depth = 0, i;

	for (i = 0; i < len; i++)
		depth += path[i] == '/';
	DW_ALLOC_GROW(s->v, s->n + 1, s->alloc);
	s->v[s->n++] = (struct level_ref){
		dw_xstrndup(path, len), len, depth, l, region, parent};
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

static struct dw_changeset *new_set(struct sparse *sp)
{
	struct dw_changeset *cs = dw_xcalloc(1, sizeof(*cs));

	*cs = (struct dw_changeset)DW_CHANGESET_INIT;
	DW_ALLOC_GROW(sp->sets, sp->nsets + 1, sp->sets_alloc);
	sp->sets[sp->nsets++] = cs;
	return cs;
}

/* Decide one directory's row; 1 when it changed (then its parent is
 * looked at), 0, or an error. Its row is written at once: the store
 * then answers "anything below?" for the directories above. */
static int decide(struct rescan *r, struct sparse *sp,
		  const struct level_ref *x, const char *source, long long now)
{
	const struct dw_diff_level *l = x->l;
	struct dw_changeset *cur = new_set(sp), *old = new_set(sp);
	struct dw_change_row row = {x->path,
				    x->len,
				    l->kind,
				    l->mode,
				    l->has_meta ? &l->meta : NULL,
				    NULL,
				    -1,
				    -1,
				    DW_SEV_ALLOWED,
				    NULL};
	size_t n0 = r->nrows;
	int err = dw_store_load_at(r->m->store, r->c->id, x->path, x->len,
				   on_row, old);
	char kind = l->kind;

	if (!err && !kind) {
		int below = dw_store_has_change(r->m->store, r->c->id, x->path,
						x->len, 1);

		if (below < 0)
			return below;
		kind = below ? DW_CHANGE_MODIFY : 0;
	}
	if (err)
		return err;
	if (kind == DW_CHANGE_ADD && runtime_mount(r, x->path))
		kind = 0;
	row.kind = kind;
	mon_cs_push(cur, &row);
	if (!kind && old->n) {
		mon_add_row(r, old, &old->v[0], 'R');
	} else if (kind && !old->n) {
		mon_add_row(r, cur, &cur->v[0], kind);
		r->added++;
	} else if (kind && differs(old->v[0].kind, old->v[0].mode,
				   meta_at(old, &old->v[0]), kind,
				   cur->v[0].mode, meta_at(cur, &cur->v[0]))) {
		mon_add_row(r, cur, &cur->v[0], kind);
		r->updated++;
	}
	if (r->nrows == n0)
		return 0;
	err = dw_store_apply_changes(r->m->store, r->c->id, &r->rows[n0], 1,
				     source, now);
	return err ? err : 1;
}

int mon_sparse_chain(struct rescan *r, struct sparse *sp, const char *source,
		     long long now)
{
	struct refs todo = {NULL, 0, 0}, next = {NULL, 0, 0};
	size_t i, t = 0;
	int err = 0;

	/* Each region's directory, and the named ones not entered. */
	for (i = 0; i < sp->n; i++) {
		const struct region *g = &sp->v[i];
		long d = (long)g->nlevels - 1;

		if (g->gone)
			continue;
		if (g->nlevels)
			ref_add(&todo, g->dir, strlen(g->dir), &g->levels[d], i,
				d - 1);
		for (size_t k = 0; k < g->names.n; k++) {
			struct dw_buf p = DW_BUF_INIT;

			if (!g->named[k].dir_only)
				continue;
			dw_buf_addf(&p, "%s/%s", g->dir, g->names.v[k]);
			ref_add(&todo, p.ptr, p.len, &g->named[k], i, d);
			dw_buf_release(&p);
		}
	}
	if (todo.n > 1)
		qsort(todo.v, todo.n, sizeof(*todo.v), cmp_ref);
	/* Deepest first; a directory above one that changed is next. */
	while (!err && (t < todo.n || next.n)) {
		size_t depth = t < todo.n ? todo.v[t].depth : 0;
		struct refs now_ = {NULL, 0, 0};

		for (i = 0; i < next.n; i++)
			if (next.v[i].depth > depth)
				depth = next.v[i].depth;
		for (; t < todo.n && todo.v[t].depth == depth; t++) {
			DW_ALLOC_GROW(now_.v, now_.n + 1, now_.alloc);
			now_.v[now_.n++] = todo.v[t];
			todo.v[t].path = NULL;
		}
		for (i = 0; i < next.n;) {
			if (next.v[i].depth != depth) {
				i++;
				continue;
			}
			DW_ALLOC_GROW(now_.v, now_.n + 1, now_.alloc);
			now_.v[now_.n++] = next.v[i];
			next.v[i] = next.v[--next.n];
		}
		if (now_.n > 1)
			qsort(now_.v, now_.n, sizeof(*now_.v), cmp_ref);
		for (i = 0; !err && i < now_.n; i++) {
			const struct level_ref *x = &now_.v[i];
			int changed;

			if (i && !path_cmp(x->path, x->len, now_.v[i - 1].path,
					   now_.v[i - 1].len))
				continue; /* the same dir, twice */
			changed = decide(r, sp, x, source, now);
			if (changed < 0)
				err = changed;
			else if (changed && x->parent >= 0) {
				const struct region *g = &sp->v[x->region];
				const char *p = g->dir;

				for (long k = 0; k <= x->parent; k++)
					p = strchr(p + 1, '/');
				ref_add(&next, g->dir,
					p ? (size_t)(p - g->dir)
					  : strlen(g->dir),
					&g->levels[x->parent], x->region,
					x->parent - 1);
			}
		}
		for (i = 0; i < now_.n; i++)
			free(now_.v[i].path);
		free(now_.v);
	}
	for (i = 0; i < todo.n; i++)
		free(todo.v[i].path);
	for (i = 0; i < next.n; i++)
		free(next.v[i].path);
	free(todo.v);
	free(next.v);
	return err;
}
