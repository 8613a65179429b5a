/* The live monitor: inotify marks containers dirty, the diff engine says
 * what changed, and only the difference reaches the store. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <search.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "driftwatch/buf.h"
#include "driftwatch/diff.h"
#include "driftwatch/error.h"
#include "driftwatch/escape.h"
#include "driftwatch/json.h"
#include "log.h"
#include "driftwatch/xmalloc.h"
#include "monitor.h"
#include "driftwatch/banned.h"

#define WATCH_MASK                                                           \
	(IN_CREATE | IN_DELETE | IN_MODIFY | IN_ATTRIB | IN_MOVED_FROM |     \
	 IN_MOVED_TO | IN_DELETE_SELF | IN_MOVE_SELF | IN_ONLYDIR |          \
	 IN_EXCL_UNLINK)

#define WATCH_LIMIT_CAP (4L << 20)

struct container;

/* Paths noted between two rescans; sorted before they are looked up. */
struct pathset {
	char **v;
	size_t n, alloc;
};

struct watch {
	int wd;
	struct container *c;
	char *rel;		/* "" for the upper dir, else "a/b" */
};

struct container {
	char *id, *name, *image, *runtime, *upper, *lowers_joined;
	char **lowers;
	size_t nlowers;
	json_t *labels;
	int immutable;
	int read_only;

	int dirty;
	const char *source;	/* of the pending rescan */
	long long dirty_since, last_event, not_before, next_poll;
	int rewatch;		/* directory paths may be stale */
	int polling;		/* no complete set of watches */
	int broken;		/* its dirs could not be read */
	int recorded;		/* the store has its current name, labels */

	struct dw_changeset prev;	/* the store's current changes */
	int prev_loaded;
	/*
	 * What inotify said since the last rescan, as "/a/b" paths (the
	 * upper dir is ""): the entries events named, and the directories
	 * whose whole subtree must be walked again. With `walked` (prev
	 * came from a walk in this process) and no `full`, everything else
	 * is copied from prev, not walked.
	 */
	struct pathset ents, deep;
	int walked, full;

	size_t nwatches;
	unsigned long long rescans, events;
	long long last_change;	/* wall clock, microseconds */
	long long last_cost_ms;

	struct container *next;
};

struct dw_monitor {
	int ifd;
	void *wds;		/* tsearch tree of struct watch */
	struct container *list;
	struct dw_store *store;
	const struct dw_policy *pol;
	const struct dw_engine *engine;
	struct dw_scanner *scanner;
	dw_critical_fn on_critical;
	void *critical_ctx;
	dw_leak_fn on_leak;
	void *leak_ctx;
	int limit_stuck;	/* max_user_watches cannot be raised */
	unsigned long long overflows, rescans, inotify_events, errors;
	long long last_event;	/* wall clock, microseconds */
	long long next_full;
};

static long long mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static long long wall_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (long long)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static int cmp_wd(const void *a, const void *b)
{
	int x = ((const struct watch *)a)->wd, y = ((const struct watch *)b)->wd;

	return (x > y) - (x < y);
}

static struct watch *find_watch(struct dw_monitor *m, int wd)
{
	struct watch key = { wd, NULL, NULL };
	void *node = tfind(&key, &m->wds, cmp_wd);

	return node ? *(struct watch **)node : NULL;
}

static void drop_watch(struct dw_monitor *m, struct watch *w)
{
	tdelete(w, &m->wds, cmp_wd);
	w->c->nwatches--;
	free(w->rel);
	free(w);
}

/* A path below the upper dir, never through a symlink or out of it. */
static int open_beneath(int root, const char *rel, int flags)
{
	struct open_how how;

	memset(&how, 0, sizeof(how));
	how.flags = (unsigned long long)(flags | O_NOFOLLOW | O_CLOEXEC);
	how.resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS |
		      RESOLVE_NO_MAGICLINKS | RESOLVE_NO_XDEV;
	return (int)syscall(SYS_openat2, root, *rel ? rel : ".", &how,
			    sizeof(how));
}

static long read_long(const char *path)
{
	char buf[32] = "";
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n = fd < 0 ? -1 : read(fd, buf, sizeof(buf) - 1);

	if (fd >= 0)
		close(fd);
	return n > 0 ? strtol(buf, NULL, 10) : -1;
}

/* Raise fs.inotify.max_user_watches when allowed; 0 when it was. */
static int raise_watch_limit(struct dw_monitor *m)
{
	static const char knob[] = "/proc/sys/fs/inotify/max_user_watches";
	long cur = read_long(knob), want;
	char buf[32];
	int fd, ok = 0;

	if (m->limit_stuck || !m->pol->raise_watch_limit || cur < 0 ||
	    cur >= WATCH_LIMIT_CAP) {
		m->limit_stuck = 1;
		return -1;
	}
	want = cur * 2 > WATCH_LIMIT_CAP ? WATCH_LIMIT_CAP : cur * 2;
	snprintf(buf, sizeof(buf), "%ld\n", want);
	fd = open(knob, O_WRONLY | O_CLOEXEC);
	if (fd >= 0) {
		ok = write(fd, buf, strlen(buf)) == (ssize_t)strlen(buf);
		close(fd);
	}
	if (!ok) {
		dw_log_warn("inotify watch limit %ld reached and cannot be "
			    "raised: containers that need more watches are "
			    "rescanned every %lds instead", cur,
			    m->pol->poll_interval);
		m->limit_stuck = 1;
		return -1;
	}
	dw_log_info("raised fs.inotify.max_user_watches from %ld to %ld", cur,
		    want);
	return 0;
}

/* Watch the open directory `fd` of `c`. DW_ELIMIT: no watch left. */
static int add_watch(struct dw_monitor *m, struct container *c, int fd,
		     const char *rel)
{
	char proc[64];
	struct watch *w;
	int wd;

	snprintf(proc, sizeof(proc), "/proc/self/fd/%d", fd);
	wd = inotify_add_watch(m->ifd, proc, WATCH_MASK);
	if (wd < 0 && errno == ENOSPC && !raise_watch_limit(m))
		wd = inotify_add_watch(m->ifd, proc, WATCH_MASK);
	if (wd < 0)
		return errno == ENOSPC ? DW_ELIMIT : 0;
	w = find_watch(m, wd);
	if (w) {
		free(w->rel);
		w->rel = dw_xstrdup(rel);
		return 0;
	}
	w = dw_xmalloc(sizeof(*w));
	w->wd = wd;
	w->c = c;
	w->rel = dw_xstrdup(rel);
	tsearch(w, &m->wds, cmp_wd);
	c->nwatches++;
	return 0;
}

/*
 * Watch `rel` and every directory below it. Nothing is held open across
 * the recursion, so depth costs no file descriptors.
 */
static int watch_tree(struct dw_monitor *m, struct container *c, int root,
		      const char *rel, int depth)
{
	struct dw_buf child = DW_BUF_INIT;
	char **subdirs = NULL;
	size_t n = 0, alloc = 0, i;
	struct dirent *de;
	DIR *d;
	int fd = open_beneath(root, rel, O_RDONLY | O_DIRECTORY), err;

	if (fd < 0)
		return 0;	/* gone already, or not a directory now */
	err = add_watch(m, c, fd, rel);
	if (err || depth >= DW_DIFF_MAX_DEPTH || !(d = fdopendir(fd))) {
		close(fd);
		return err;
	}
	while ((de = readdir(d))) {
		struct stat st;

		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		if (de->d_type != DT_DIR &&
		    (de->d_type != DT_UNKNOWN ||
		     fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) ||
		     !S_ISDIR(st.st_mode)))
			continue;
		DW_ALLOC_GROW(subdirs, n + 1, alloc);
		subdirs[n++] = dw_xstrdup(de->d_name);
	}
	closedir(d);
	for (i = 0; i < n; i++) {
		if (!err) {
			dw_buf_reset(&child);
			dw_buf_addf(&child, "%s%s%s", rel, *rel ? "/" : "",
				    subdirs[i]);
			err = watch_tree(m, c, root, child.ptr, depth + 1);
		}
		free(subdirs[i]);
	}
	free(subdirs);
	dw_buf_release(&child);
	return err;
}

static void watch_from(struct dw_monitor *m, struct container *c,
		       const char *rel)
{
	int root = open(c->upper, O_PATH | O_DIRECTORY | O_CLOEXEC);

	if (root < 0)
		return;
	if (watch_tree(m, c, root, rel, 0) == DW_ELIMIT && !c->polling) {
		c->polling = 1;
		c->next_poll = mono_ms() + m->pol->poll_interval * 1000;
		dw_log_warn("container %s: out of inotify watches; rescanning "
			    "it every %lds instead", c->name,
			    m->pol->poll_interval);
	}
	close(root);
}

/* Note "/rel" or "/rel/name" (rel "" is the upper dir itself). */
static void note(struct pathset *s, const char *rel, const char *name)
{
	struct dw_buf b = DW_BUF_INIT;

	if (*rel)
		dw_buf_addf(&b, "/%s", rel);
	if (name)
		dw_buf_addf(&b, "/%s", name);
	dw_buf_addch(&b, '\0');
	/* A busy file is noted once per run of events at most. */
	if (s->n && !strcmp(s->v[s->n - 1], b.ptr)) {
		dw_buf_release(&b);
		return;
	}
	DW_ALLOC_GROW(s->v, s->n + 1, s->alloc);
	s->v[s->n++] = dw_buf_detach(&b, NULL);
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void pathset_sort(struct pathset *s)
{
	if (s->n > 1)
		qsort(s->v, s->n, sizeof(char *), cmp_str);
}

static void pathset_clear(struct pathset *s)
{
	while (s->n)
		free(s->v[--s->n]);
}

static void pathset_release(struct pathset *s)
{
	pathset_clear(s);
	free(s->v);
}

/* Index of the first path not sorting before `key`. */
static size_t lower_bound(const struct pathset *s, const char *key)
{
	size_t lo = 0, hi = s->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (strcmp(s->v[mid], key) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static int has(const struct pathset *s, const char *key)
{
	size_t i = lower_bound(s, key);

	return i < s->n && !strcmp(s->v[i], key);
}

/* Is `p` or a directory above it to be walked whole? (`p` is modified.) */
static int under_deep(const struct container *c, char *p)
{
	char *slash;

	for (;;) {
		if (has(&c->deep, p))
			return 1;
		slash = strrchr(p, '/');
		if (!slash)
			return 0;
		*slash = '\0';
	}
}

/*
 * For the diff engine: did nothing change at or below directory `path`?
 * Every event names an entry "/dir/name", so a change below `path` is
 * an entry sorting under "path/".
 */
static int subtree_unchanged(const char *path, size_t len, void *ctx)
{
	struct container *c = ctx;
	char *p = dw_xmalloc(len + 2);
	size_t i;
	int same;

	memcpy(p, path, len);
	p[len] = '/';
	p[len + 1] = '\0';
	i = lower_bound(&c->ents, p);
	same = !(i < c->ents.n && !strncmp(c->ents.v[i], p, len + 1));
	p[len] = '\0';
	same = same && !under_deep(c, p);
	free(p);
	return same;
}

/* Nor did anything happen to the entry itself, or the dirs above it. */
static int entry_unchanged(const char *path, size_t len, void *ctx)
{
	struct container *c = ctx;
	char *p = dw_xstrndup(path, len);
	int same = !has(&c->ents, p) && !under_deep(c, p);

	free(p);
	return same;
}

static void mark_dirty(struct container *c, const char *source,
		       long long now)
{
	/* The strongest reason wins: rescan > poll > watch. */
	if (!c->dirty || !strcmp(source, "rescan") ||
	    (!strcmp(source, "poll") && !strcmp(c->source, "watch")))
		c->source = source;
	if (!c->dirty)
		c->dirty_since = now;
	c->dirty = 1;
	c->last_event = now;
}

void dw_monitor_read_events(struct dw_monitor *m)
{
	char buf[64 * 1024] __attribute__((aligned(__alignof__(struct inotify_event))));
	long long now = mono_ms();
	ssize_t n;

	while ((n = read(m->ifd, buf, sizeof(buf))) > 0) {
		char *p;

		for (p = buf; p < buf + n;) {
			const struct inotify_event *ev = (void *)p;
			struct watch *w;
			struct container *c;

			p += sizeof(*ev) + ev->len;
			m->inotify_events++;
			if (ev->mask & IN_Q_OVERFLOW) {
				m->overflows++;
				dw_log_warn("inotify queue overflow: rescanning "
					    "every container");
				for (c = m->list; c; c = c->next) {
					c->rewatch = 1;
					c->full = 1;
					mark_dirty(c, "rescan", now);
				}
				continue;
			}
			w = find_watch(m, ev->wd);
			if (!w)
				continue;
			c = w->c;
			if (ev->mask & IN_IGNORED) {
				drop_watch(m, w);
				continue;
			}
			if (!ev->len) {
				/* The directory itself: its mode, or xattrs
				 * that decide what shows through it. */
				if (ev->mask & IN_ATTRIB)
					note(&c->deep, w->rel, NULL);
				if (ev->mask & IN_MOVE_SELF)
					c->rewatch = 1;
			} else {
				note(&c->ents, w->rel, ev->name);
			}
			if ((ev->mask & IN_ISDIR) && ev->len) {
				if (ev->mask & IN_CREATE) {
					struct dw_buf rel = DW_BUF_INIT;

					dw_buf_addf(&rel, "%s%s%s", w->rel,
						    *w->rel ? "/" : "",
						    ev->name);
					watch_from(m, c, rel.ptr);
					note(&c->deep, w->rel, ev->name);
					dw_buf_release(&rel);
				} else if (ev->mask & (IN_MOVED_TO |
						       IN_MOVED_FROM)) {
					/* Paths below it changed. */
					c->rewatch = 1;
				}
			}
			c->events++;
			mark_dirty(c, "watch", now);
		}
	}
	m->last_event = wall_us();
}

/* ---- rescans ---- */

struct rescan {
	struct dw_monitor *m;
	struct container *c;
	struct dw_change_row *rows;	/* their sha256 strings are ours */
	size_t nrows, alloc;
	size_t added, updated, reverted, notable, critical, total;
	const char *worst;
};

static int path_cmp(const char *a, size_t alen, const char *b, size_t blen)
{
	int r = memcmp(a, b, alen < blen ? alen : blen);

	return r ? r : (alen > blen) - (alen < blen);
}

static int meta_differs(const struct dw_changeset *a,
			const struct dw_change *x,
			const struct dw_changeset *b,
			const struct dw_change *y)
{
	const struct dw_change_meta *p, *q;

	if (x->kind != y->kind || x->mode != y->mode ||
	    x->has_meta != y->has_meta)
		return 1;
	if (!x->has_meta)
		return 0;
	p = &a->meta[x - a->v];
	q = &b->meta[y - b->v];
	return p->uid != q->uid || p->gid != q->gid || p->size != q->size ||
	       p->mtime_sec != q->mtime_sec || p->mtime_nsec != q->mtime_nsec;
}

struct analysis {
	struct rescan *r;
	const char *path;
};

static int on_secret(const struct dw_finding *f, void *ctx)
{
	struct analysis *a = ctx;
	struct rescan *r = a->r;
	struct dw_leak_src src = { r->c->id, r->c->name, a->path,
				   strlen(a->path), DW_SOURCE_CONTAINER_FILE, 0, NULL };

	if (r->m->on_leak)
		r->m->on_leak(f, &src, r->m->leak_ctx);
	return 0;
}

/*
 * Hash a new or changed regular file, tell whether it is ELF, and scan it
 * for secrets. Returns 1 when it is ELF, 0 when not, -1 when not read
 * (gone, no longer a regular file, or over the size cap); `*sha256`
 * gets its SHA-256 in hex (the caller frees it).
 */
static int analyse_file(struct rescan *r, const char *path, char **sha256)
{
	struct dw_monitor *m = r->m;
	unsigned char md[EVP_MAX_MD_SIZE], head[4] = { 0 };
	unsigned int mdlen = 0;
	size_t got = 0;
	struct analysis a = { r, path };
	struct stat st;
	EVP_MD_CTX *h;
	int root, fd, err = 0, scan = m->scanner && m->pol->scan_secrets;
	char hex[2 * EVP_MAX_MD_SIZE + 1];

	root = open(r->c->upper, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (root < 0)
		return -1;
	fd = open_beneath(root, path + 1, O_RDONLY | O_NONBLOCK | O_NOCTTY |
			  O_NOATIME);
	if (fd < 0 && errno == EPERM)
		fd = open_beneath(root, path + 1, O_RDONLY | O_NONBLOCK |
				  O_NOCTTY);
	close(root);
	if (fd < 0)
		return -1;
	if (fstat(fd, &st) || !S_ISREG(st.st_mode) ||
	    (uint64_t)st.st_size > m->pol->max_file_size) {
		close(fd);
		return -1;
	}
	h = EVP_MD_CTX_new();
	EVP_DigestInit_ex(h, EVP_sha256(), NULL);
	if (scan)
		dw_scan_begin(m->scanner, 1, on_secret, &a);
	for (;;) {
		char local[64 * 1024], *p = local;
		size_t room = sizeof(local);
		ssize_t n;

		if (scan)
			p = dw_scan_reserve(m->scanner, &room);
		n = read(fd, p, room);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			err = n < 0;
			break;
		}
		if (got < 4)
			memcpy(head + got, p, (size_t)n < 4 - got ?
					      (size_t)n : 4 - got);
		got += (size_t)n;
		EVP_DigestUpdate(h, p, (size_t)n);
		if (scan && dw_scan_commit(m->scanner, (size_t)n))
			scan = 0;
		if (got > m->pol->max_file_size)
			break;
	}
	if (scan)
		dw_scan_finish(m->scanner);
	close(fd);
	EVP_DigestFinal_ex(h, md, &mdlen);
	EVP_MD_CTX_free(h);
	if (err)
		return -1;
	dw_hex(hex, md, mdlen);
	*sha256 = dw_xstrdup(hex);
	return got >= 4 && !memcmp(head, "\177ELF", 4);
}

static const char *worse(const char *a, const char *b)
{
	return dw_drift_severity_rank(b) > dw_drift_severity_rank(a) ? b : a;
}

static void add_row(struct rescan *r, const struct dw_changeset *cs,
		    const struct dw_change *ch, char kind)
{
	struct container *c = r->c;
	const char *path = dw_change_path(cs, ch);
	struct dw_change_row *row;
	char *sha256 = NULL;
	int exec = -1, elf = -1;
	const char *sev;

	DW_ALLOC_GROW(r->rows, r->nrows + 1, r->alloc);
	row = &r->rows[r->nrows];
	sev = dw_policy_severity(r->m->pol, c->image, c->labels, c->immutable,
				 path, kind, 0);
	/* Every new or changed file, allowed or not: a secret written to
	 * /tmp is a leak all the same. */
	if ((kind == 'A' || kind == 'C') && S_ISREG(ch->mode)) {
		exec = (ch->mode & 0111) != 0;
		elf = analyse_file(r, path, &sha256);
		if (elf < 0)
			elf = -1;
		if ((exec || elf == 1) && strcmp(sev, "allowed"))
			sev = dw_policy_severity(r->m->pol, c->image,
						 c->labels, c->immutable, path,
						 kind, 1);
	}
	row->path = path;
	row->path_len = ch->path_len;
	row->kind = kind;
	row->mode = ch->mode;
	row->meta = kind != 'R' && ch->has_meta ? &cs->meta[ch - cs->v] :
						  NULL;
	row->sha256 = sha256;
	row->executable = exec;
	row->elf = elf;
	row->severity = sev;
	r->nrows++;
	if (kind == 'R') {
		r->reverted++;
		return;
	}
	if (!strcmp(sev, "allowed"))
		return;
	r->notable++;
	r->critical += !strcmp(sev, "critical");
	r->worst = worse(r->worst, sev);
}

/* Compare the last known set with the new one, both sorted by path. */
static void compare_sets(struct rescan *r, const struct dw_changeset *old,
			 const struct dw_changeset *cur)
{
	size_t i = 0, j = 0;

	while (i < old->n || j < cur->n) {
		const struct dw_change *o = i < old->n ? &old->v[i] : NULL;
		const struct dw_change *n = j < cur->n ? &cur->v[j] : NULL;
		int cmp = !o ? 1 : !n ? -1 :
			  path_cmp(dw_change_path(old, o), o->path_len,
				   dw_change_path(cur, n), n->path_len);

		if (cmp < 0) {
			add_row(r, old, o, 'R');
			i++;
		} else if (cmp > 0) {
			add_row(r, cur, n, n->kind);
			r->added++;
			j++;
		} else {
			if (meta_differs(old, o, cur, n)) {
				add_row(r, cur, n, n->kind);
				r->updated++;
			}
			i++;
			j++;
		}
	}
}

static int is_sorted(const struct dw_changeset *cs)
{
	size_t i;

	for (i = 1; i < cs->n; i++)
		if (path_cmp(dw_change_path(cs, &cs->v[i - 1]),
			     cs->v[i - 1].path_len, dw_change_path(cs, &cs->v[i]),
			     cs->v[i].path_len) >= 0) {
			dw_log_debug("out of order: %s then %s",
				     dw_change_path(cs, &cs->v[i - 1]),
				     dw_change_path(cs, &cs->v[i]));
			return 0;
		}
	return 1;
}

/* Append one change to a set (for the set loaded from the store). */
static void cs_push(struct dw_changeset *cs, const struct dw_change_row *r)
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

static int on_stored(const struct dw_change_row *r, void *ctx)
{
	cs_push(ctx, r);
	return 0;
}

static void raise_drift_alert(struct dw_monitor *m, const struct rescan *r)
{
	struct container *c = r->c;
	json_t *paths = json_array();
	char summary[600];
	size_t i;
	json_t *p;

	for (i = 0; i < r->nrows && json_array_size(paths) < 20; i++) {
		const struct dw_change_row *row = &r->rows[i];
		struct dw_buf b = DW_BUF_INIT;
		char kind[2] = { row->kind, '\0' };

		if (row->kind == 'R' || !strcmp(row->severity, "allowed"))
			continue;
		dw_utf8_sanitize(&b, row->path, row->path_len);
		json_array_append_new(paths, json_pack("{s:s, s:s, s:s}",
			"path", b.ptr, "kind", kind, "severity",
			row->severity));
		dw_buf_release(&b);
	}
	snprintf(summary, sizeof(summary), "container %s (%.12s): %zu drifted "
		 "paths (%zu new, %zu updated, %zu reverted), highest severity "
		 "%s", c->name, c->id, r->total, r->added, r->updated,
		 r->reverted, r->worst);
	dw_log_info("%s", summary);
	p = json_pack("{s:s, s:s, s:s, s:s, s:I, s:I, s:I, s:I, s:o}",
		      "container", c->name, "id", c->id, "image", c->image,
		      "severity", r->worst, "new", (json_int_t)r->added,
		      "updated", (json_int_t)r->updated, "reverted",
		      (json_int_t)r->reverted, "total", (json_int_t)r->total,
		      "paths", paths);
	if (dw_store_alert(m->store, "drift", summary, p))
		dw_log_warn("cannot queue an alert: %s", dw_error_last());
	json_decref(p);
}

static int record(struct dw_monitor *m, struct rescan *r)
{
	struct container *c = r->c;
	struct dw_store_container sc = { c->id, c->name, c->image, c->runtime,
					  c->upper, c->lowers_joined, NULL,
					  "running" };
	char *labels = json_dumps(c->labels, JSON_COMPACT | JSON_SORT_KEYS);
	int err;

	sc.labels = labels;
	err = dw_store_begin(m->store);
	if (!err)
		err = dw_store_put_container(m->store, &sc);
	if (!err)
		err = dw_store_apply_changes(m->store, c->id, r->rows, r->nrows,
					     c->source, wall_us());
	if (!err && r->notable && (r->added || r->updated))
		raise_drift_alert(m, r);
	if (!err)
		err = dw_store_commit(m->store);
	else
		dw_store_rollback(m->store);
	free(labels);
	return err;
}

static void rescan_release(struct rescan *r)
{
	size_t i;

	for (i = 0; i < r->nrows; i++)
		free((char *)r->rows[i].sha256);
	free(r->rows);
}

static void rescan(struct dw_monitor *m, struct container *c)
{
	struct dw_changeset cs = DW_CHANGESET_INIT;
	struct dw_diff_reuse reuse;
	struct rescan r;
	long long t0 = mono_ms();
	int err;

	memset(&r, 0, sizeof(r));
	r.m = m;
	r.c = c;
	r.worst = "allowed";
	c->dirty = 0;
	if (c->rewatch) {
		c->rewatch = 0;
		c->full = 1;
		watch_from(m, c, "");
	}
	if (!c->prev_loaded) {
		if (dw_store_load_changes(m->store, c->id, on_stored, &c->prev))
			dw_log_warn("cannot load the stored changes of %s: %s",
				    c->name, dw_error_last());
		c->prev_loaded = 1;
	}
	reuse.prev = &c->prev;
	reuse.unchanged = subtree_unchanged;
	reuse.entry_unchanged = entry_unchanged;
	reuse.ctx = c;
	pathset_sort(&c->ents);
	pathset_sort(&c->deep);
	/* Only what inotify saw all of may be skipped. */
	err = dw_overlay_diff_reuse(&cs, c->upper,
				    (const char *const *)c->lowers,
				    c->nlowers, DW_DIFF_STAT,
				    c->walked && !c->full &&
				    !strcmp(c->source, "watch") ? &reuse :
				    NULL);
	pathset_clear(&c->ents);
	pathset_clear(&c->deep);
	c->full = 0;
	if (err) {
		if (!c->broken)
			dw_log_warn("cannot rescan container %s: %s", c->name,
				    dw_error_last());
		c->broken = 1;
		m->errors++;
		dw_changeset_release(&cs);
		return;
	}
	c->broken = 0;
	if (!is_sorted(&cs)) {
		/* The engine promises sorted output; never trust blindly. */
		dw_log_error("container %s: unsorted changes; skipped", c->name);
		dw_changeset_release(&cs);
		return;
	}
	compare_sets(&r, &c->prev, &cs);
	r.total = cs.n;
	c->rescans++;
	m->rescans++;
	if (r.nrows || !c->recorded) {
		err = record(m, &r);
		if (err) {
			/* Keep the old set: the next rescan tries again. */
			dw_log_warn("cannot store the changes of %s: %s",
				    c->name, dw_error_last());
			m->errors++;
			c->dirty = 1;
			c->source = "rescan";
			c->dirty_since = c->last_event = mono_ms();
			rescan_release(&r);
			dw_changeset_release(&cs);
			return;
		}
		c->recorded = 1;
		if (r.nrows)
			c->last_change = wall_us();
		dw_log_debug("container %s: %zu rows (%s)", c->name, r.nrows,
			     c->source);
	}
	dw_changeset_release(&c->prev);
	c->prev = cs;
	c->walked = 1;
	if (r.critical && m->on_critical)
		m->on_critical(c->id, c->name, m->critical_ctx);
	rescan_release(&r);
	c->last_cost_ms = mono_ms() - t0;
}

/* When a dirty container is rescanned: once quiet for debounce_ms, or
 * dirty for max_delay_ms, but not before its last rescan's cost again. */
static long long due_at(const struct dw_monitor *m, const struct container *c)
{
	long long due = c->last_event + m->pol->debounce_ms;

	if (due > c->dirty_since + m->pol->max_delay_ms)
		due = c->dirty_since + m->pol->max_delay_ms;
	return due < c->not_before ? c->not_before : due;
}

long dw_monitor_run(struct dw_monitor *m)
{
	long long now = mono_ms(), next = -1;
	struct container *c;

	if (m->pol->rescan_interval && now >= m->next_full) {
		if (m->next_full)
			dw_monitor_rescan_all(m, "periodic");
		m->next_full = now + m->pol->rescan_interval * 1000;
	}
	for (c = m->list; c; c = c->next) {
		if (c->polling && now >= c->next_poll) {
			mark_dirty(c, "poll", now);
			c->next_poll = now + m->pol->poll_interval * 1000;
			c->rewatch = 1;	/* maybe watches are free again */
		}
		if (c->dirty && now >= due_at(m, c)) {
			rescan(m, c);
			now = mono_ms();
			/* A busy container is rescanned half the time at most. */
			c->not_before = now + c->last_cost_ms;
		}
		if (c->dirty && (next < 0 || due_at(m, c) < next))
			next = due_at(m, c);
		if (c->polling && (next < 0 || c->next_poll < next))
			next = c->next_poll;
	}
	if (m->pol->rescan_interval && (next < 0 || m->next_full < next))
		next = m->next_full;
	return next < 0 ? -1 : next > now ? (long)(next - now) : 0;
}

/* ---- containers ---- */

static struct container *find_container(const struct dw_monitor *m,
					const char *id)
{
	struct container *c;

	for (c = m->list; c; c = c->next)
		if (!strcmp(c->id, id))
			return c;
	return NULL;
}

int dw_monitor_has(const struct dw_monitor *m, const char *id)
{
	return find_container(m, id) != NULL;
}

static void free_container(struct container *c)
{
	size_t i;

	free(c->id);
	free(c->name);
	free(c->image);
	free(c->runtime);
	free(c->upper);
	free(c->lowers_joined);
	for (i = 0; i < c->nlowers; i++)
		free(c->lowers[i]);
	free(c->lowers);
	json_decref(c->labels);
	dw_changeset_release(&c->prev);
	pathset_release(&c->ents);
	pathset_release(&c->deep);
	free(c);
}

static int is_immutable(const struct dw_policy *p, const struct container *c)
{
	return c->read_only || (p->immutable_label &&
				dw_policy_label_matches(p->immutable_label,
							c->labels));
}

static void set_str(char **dst, const char *src)
{
	free(*dst);
	*dst = dw_xstrdup(src ? src : "");
}

int dw_monitor_add(struct dw_monitor *m, const struct dw_watch_spec *s,
		   const char *source)
{
	struct container *c = find_container(m, s->id);
	const json_t *labels = s->labels;
	struct dw_buf lowers = DW_BUF_INIT;
	size_t i;
	int fresh = !c;

	if (labels && m->pol->ignore_label &&
	    dw_policy_label_matches(m->pol->ignore_label, labels)) {
		if (c)
			dw_monitor_drop(m, s->id, "running");
		return 1;
	}
	if (fresh) {
		c = dw_xcalloc(1, sizeof(*c));
		c->id = dw_xstrdup(s->id);
		c->next = m->list;
		m->list = c;
		c->prev = (struct dw_changeset)DW_CHANGESET_INIT;
	}
	set_str(&c->name, s->name);
	set_str(&c->image, s->image);
	set_str(&c->runtime, s->runtime);
	set_str(&c->upper, s->upper);
	for (i = 0; i < c->nlowers; i++)
		free(c->lowers[i]);
	free(c->lowers);
	c->lowers = dw_xcalloc(s->nlowers + 1, sizeof(char *));
	for (i = 0; i < s->nlowers; i++) {
		c->lowers[i] = dw_xstrdup(s->lowers[i]);
		dw_buf_addf(&lowers, "%s%s", i ? ":" : "", s->lowers[i]);
	}
	c->nlowers = s->nlowers;
	set_str(&c->lowers_joined, lowers.ptr);
	dw_buf_release(&lowers);
	json_decref(c->labels);
	c->labels = labels ? json_deep_copy(labels) : json_object();
	c->read_only = s->read_only;
	c->recorded = 0;
	c->immutable = is_immutable(m->pol, c);
	if (fresh) {
		/* Watch first, then rescan: nothing falls in between. */
		watch_from(m, c, "");
		dw_log_info("watching container %s (%.12s, %s): %zu "
			    "directories%s", c->name, c->id, c->runtime,
			    c->nwatches, c->polling ? ", polling" : "");
	}
	mark_dirty(c, source, mono_ms());
	c->dirty_since = c->last_event = 0;	/* due at once */
	return 0;
}

struct collect {
	const struct container *c;
	struct watch **all;
	size_t n, alloc;
};

static void collect_watch(const void *node, VISIT v, void *ctx)
{
	struct watch *w = *(struct watch *const *)node;
	struct collect *k = ctx;

	if ((v == postorder || v == leaf) && w->c == k->c) {
		DW_ALLOC_GROW(k->all, k->n + 1, k->alloc);
		k->all[k->n++] = w;
	}
}

static void unwatch(struct dw_monitor *m, struct container *c)
{
	struct collect k = { c, NULL, 0, 0 };
	size_t i;

	/* Collect first: the tree must not change while walked. */
	twalk_r(m->wds, collect_watch, &k);
	for (i = 0; i < k.n; i++) {
		inotify_rm_watch(m->ifd, k.all[i]->wd);
		drop_watch(m, k.all[i]);
	}
	free(k.all);
}

void dw_monitor_drop(struct dw_monitor *m, const char *id, const char *state)
{
	struct container **pp, *c;

	for (pp = &m->list; (c = *pp); pp = &c->next)
		if (!strcmp(c->id, id))
			break;
	if (!c)
		return;
	if (strcmp(state, "removed")) {
		/* What changed up to the end is kept. */
		c->source = c->dirty ? c->source : "rescan";
		rescan(m, c);
	}
	unwatch(m, c);
	if (dw_store_set_container_state(m->store, c->id, state))
		dw_log_warn("%s", dw_error_last());
	dw_log_info("stopped watching container %s (%.12s): %s", c->name,
		    c->id, state);
	*pp = c->next;
	free_container(c);
}

void dw_monitor_rename(struct dw_monitor *m, const char *id, const char *name)
{
	struct container *c = find_container(m, id);

	if (!c || !strcmp(c->name, name))
		return;
	dw_log_info("container %s is now %s", c->name, name);
	set_str(&c->name, name);
	c->recorded = 0;
	mark_dirty(c, "rescan", mono_ms());
}

void dw_monitor_keep_only(struct dw_monitor *m, int docker,
			  char *const *keep, size_t n, const char *state)
{
	struct container *c = m->list, *next;
	size_t i;

	for (; c; c = next) {
		next = c->next;
		if (docker != !strcmp(c->runtime, "docker"))
			continue;
		for (i = 0; i < n; i++)
			if (!strcmp(keep[i], c->id))
				break;
		if (i == n)
			dw_monitor_drop(m, c->id, state);
	}
}

void dw_monitor_rescan_all(struct dw_monitor *m, const char *source)
{
	long long now = mono_ms();
	struct container *c;

	for (c = m->list; c; c = c->next)
		mark_dirty(c, source, now);
}

json_t *dw_monitor_status(const struct dw_monitor *m)
{
	json_t *list = json_array();
	size_t watches = 0, polling = 0;
	const struct container *c;

	for (c = m->list; c; c = c->next) {
		json_array_append_new(list, json_pack(
			"{s:s, s:s, s:s, s:s, s:s, s:I, s:I, s:I, s:I, s:I, "
			"s:b, s:b}",
			"id", c->id, "name", c->name, "image", c->image,
			"runtime", c->runtime, "mode",
			c->polling ? "poll" : "inotify", "watches",
			(json_int_t)c->nwatches, "changes",
			(json_int_t)c->prev.n, "rescans",
			(json_int_t)c->rescans, "events",
			(json_int_t)c->events, "last_change_us",
			(json_int_t)c->last_change, "immutable", c->immutable,
			"readable", !c->broken));
		watches += c->nwatches;
		polling += c->polling != 0;
	}
	return json_pack("{s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, "
			 "s:o}",
			 "containers", (json_int_t)json_array_size(list),
			 "watches", (json_int_t)watches, "polling",
			 (json_int_t)polling, "overflows",
			 (json_int_t)m->overflows, "rescans",
			 (json_int_t)m->rescans, "inotify_events",
			 (json_int_t)m->inotify_events, "errors",
			 (json_int_t)m->errors, "last_event_us",
			 (json_int_t)m->last_event, "max_user_watches",
			 (json_int_t)read_long(
				 "/proc/sys/fs/inotify/max_user_watches"),
			 "max_queued_events",
			 (json_int_t)read_long(
				 "/proc/sys/fs/inotify/max_queued_events"),
			 "watched", list);
}

/* ---- life cycle ---- */

int dw_monitor_new(struct dw_monitor **out, struct dw_store *store,
		   const struct dw_policy *policy,
		   const struct dw_engine *engine)
{
	struct dw_monitor *m = dw_xcalloc(1, sizeof(*m));

	m->ifd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	if (m->ifd < 0) {
		free(m);
		return dw_error_errno(DW_ERROR, errno, "cannot start inotify");
	}
	m->store = store;
	dw_monitor_set_policy(m, policy, engine);
	*out = m;
	return 0;
}

void dw_monitor_set_policy(struct dw_monitor *m, const struct dw_policy *p,
			   const struct dw_engine *engine)
{
	struct container *c;

	m->pol = p;
	m->limit_stuck = 0;
	dw_scanner_track(&m->scanner, &m->engine, engine);
	/* The immutable label may have changed with the configuration. */
	for (c = m->list; c; c = c->next)
		c->immutable = is_immutable(p, c);
}

void dw_monitor_on_critical(struct dw_monitor *m, dw_critical_fn fn,
			    void *ctx)
{
	m->on_critical = fn;
	m->critical_ctx = ctx;
}

void dw_monitor_on_leak(struct dw_monitor *m, dw_leak_fn fn, void *ctx)
{
	m->on_leak = fn;
	m->leak_ctx = ctx;
}

int dw_monitor_fd(const struct dw_monitor *m)
{
	return m->ifd;
}

static void free_watch(void *p)
{
	struct watch *w = p;

	free(w->rel);
	free(w);
}

void dw_monitor_free(struct dw_monitor *m)
{
	struct container *c, *next;

	if (!m)
		return;
	tdestroy(m->wds, free_watch);
	for (c = m->list; c; c = next) {
		next = c->next;
		free_container(c);
	}
	dw_scanner_free(m->scanner);
	close(m->ifd);
	free(m);
}
