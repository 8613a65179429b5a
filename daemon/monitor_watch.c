/* The live monitor: inotify watches on the upper dirs, and the paths their
 * events mark dirty. */
#include <errno.h>
#include <sys/resource.h>

#include "monitor_int.h"
#include "driftwatch/clock.h"

#include "driftwatch/banned.h"

long long mon_mono_ms(void)
{
	return dw_mono_ms();
}

long long mon_mono_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

long long mon_wall_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (long long)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static int cmp_wd(const void *a, const void *b)
{
	int x = ((const struct watch *)a)->wd,
	    y = ((const struct watch *)b)->wd;

	return (x > y) - (x < y);
}

static struct watch *find_watch(struct dw_monitor *m, int wd)
{
	struct watch key = {wd, NULL, NULL};
	void *node = tfind(&key, &m->wds, cmp_wd);

	return node ? *(struct watch **)node : NULL;
}

void mon_drop_watch(struct dw_monitor *m, struct watch *w)
{
	tdelete(w, &m->wds, cmp_wd);
	w->c->nwatches--;
	free(w->rel);
	free(w);
}

/* A path below the upper dir, never through a symlink or out of it. */
int mon_open_beneath(int root, const char *rel, int flags)
{
	struct open_how how;

	memset(&how, 0, sizeof(how));
	how.flags = (unsigned long long)(flags | O_NOFOLLOW | O_CLOEXEC);
	how.resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS |
		      RESOLVE_NO_MAGICLINKS | RESOLVE_NO_XDEV;
	return (int)syscall(SYS_openat2, root, *rel ? rel : ".", &how,
			    sizeof(how));
}

long mon_read_long(const char *path)
{
	char buf[32] = "";
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n = fd < 0 ? -1 : read(fd, buf, sizeof(buf) - 1);

	if (fd >= 0)
		close(fd);
	return n > 0 ? strtol(buf, NULL, 10) : -1;
}

/* Raise fs.inotify.max_user_watches when allowed; 0 when it was. */
static int write_watch_limit(long v)
{
	char buf[32];
	int fd = open(WATCH_KNOB, O_WRONLY | O_CLOEXEC), ok = 0;

	snprintf(buf, sizeof(buf), "%ld\n", v);
	if (fd >= 0) {
		ok = write(fd, buf, strlen(buf)) == (ssize_t)strlen(buf);
		close(fd);
	}
	return ok;
}

/*
 * Double the host's fs.inotify.max_user_watches, up to max_watch_limit:
 * the limit is the whole host's, so it is raised with a ceiling, the
 * host's own value is logged, and it is put back at exit.
 */
static int raise_watch_limit(struct dw_monitor *m)
{
	long cur = mon_read_long(WATCH_KNOB), want;
	long cap = m->pol->max_watch_limit;
	int ok;

	if (m->limit_stuck || !m->pol->raise_watch_limit || cur < 0 ||
	    cur >= cap) {
		m->limit_stuck = 1;
		return -1;
	}
	want = cur * 2 > cap ? cap : cur * 2;
	ok = write_watch_limit(want);
	if (!ok) {
		dw_log_warn("inotify watch limit %ld reached and cannot be "
			    "raised: containers that need more watches are "
			    "rescanned every %lds instead",
			    cur, m->pol->poll_interval);
		m->limit_stuck = 1;
		return -1;
	}
	if (!m->watch_limit_orig)
		m->watch_limit_orig = cur;
	m->watch_limit_set = want;
	dw_log_warn("raised fs.inotify.max_user_watches from %ld to %ld (the "
		    "host's own value was %ld; it is restored when "
		    "driftwatchd stops)",
		    cur, want, m->watch_limit_orig);
	return 0;
}

void mon_restore_watch_limit(struct dw_monitor *m)
{
	if (!m->watch_limit_orig ||
	    mon_read_long(WATCH_KNOB) != m->watch_limit_set)
		return; /* never raised, or changed by someone else since */
	if (write_watch_limit(m->watch_limit_orig))
		dw_log_info("restored fs.inotify.max_user_watches to %ld",
			    m->watch_limit_orig);
}

/* Watch the open directory `fd` of `c`. DW_ELIMIT: no watch left. */
static int add_watch(struct dw_monitor *m, struct container *c, int fd,
		     const char *rel)
{
	char proc[64];
	struct watch *w;
	int wd;

	/* One container may not use up the host's watches. */
	if (c->nwatches >= (size_t)m->pol->watch_budget)
		return WATCH_OVER_BUDGET;
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
 * Open `rel` ("a/b", "" for the root) below `root` with `flags`, without
 * following a symlink and without leaving `root`. A path that fits in
 * PATH_MAX is one openat2 (RESOLVE_BENEATH); a longer one, which a
 * container can make, is opened a component at a time, so no length of
 * path hides a directory or a file.
 */
int mon_open_rel(int root, const char *rel, int flags)
{
	const char *p = rel, *slash;
	char name[NAME_MAX + 1];
	int cur = root, next;

	if (strlen(rel) < PATH_MAX - 1)
		return mon_open_beneath(root, rel, flags);
	for (;;) {
		size_t n;

		slash = strchr(p, '/');
		n = slash ? (size_t)(slash - p) : strlen(p);
		if (!n || n > NAME_MAX || (n == 1 && p[0] == '.') ||
		    (n == 2 && p[0] == '.' && p[1] == '.')) {
			next = -1;
			errno = EINVAL;
		} else {
			memcpy(name, p, n);
			name[n] = '\0';
			next = openat(cur, name,
				      (slash ? O_PATH | O_DIRECTORY : flags) |
					      O_NOFOLLOW | O_CLOEXEC);
		}
		if (cur != root)
			close(cur);
		if (next < 0 || !slash)
			return next;
		cur = next;
		p = slash + 1;
	}
}

/* As deep as the diff walks: DW_DIFF_MAX_DEPTH, or the descriptors left. */
static size_t watch_max_depth(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) || rl.rlim_cur == RLIM_INFINITY ||
	    rl.rlim_cur > DW_DIFF_MAX_DEPTH + 256)
		return DW_DIFF_MAX_DEPTH;
	return rl.rlim_cur > 512 ? (size_t)rl.rlim_cur - 256 : 256;
}

/*
 * Watch directory `fd` (its path `rel`) and every directory below it.
 * Each level keeps its descriptor while it lists its children, so the
 * path length never matters; the depth is bounded like the diff's.
 */
static int watch_tree(struct dw_monitor *m, struct container *c, int fd,
		      struct dw_buf *rel, size_t depth)
{
	size_t n = 0, alloc = 0, i, base = rel->len;
	char **subdirs = NULL;
	struct dirent *de;
	DIR *d;
	int err = add_watch(m, c, fd, rel->ptr), dup_fd;

	if (err || depth >= watch_max_depth()) {
		close(fd);
		return err;
	}
	dup_fd = dup(fd);
	d = dup_fd >= 0 ? fdopendir(dup_fd) : NULL;
	if (!d) {
		if (dup_fd >= 0)
			close(dup_fd);
		close(fd);
		return 0;
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
		int child = err ? -1
				: openat(fd, subdirs[i],
					 O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
						 O_CLOEXEC);

		if (child >= 0) {
			if (rel->len)
				dw_buf_addch(rel, '/');
			dw_buf_adds(rel, subdirs[i]);
			err = watch_tree(m, c, child, rel, depth + 1);
			dw_buf_setlen(rel, base);
		}
		free(subdirs[i]);
	}
	free(subdirs);
	close(fd);
	return err;
}

void mon_watch_from(struct dw_monitor *m, struct container *c, const char *rel)
{
	int root = open(c->upper, O_PATH | O_DIRECTORY | O_CLOEXEC), err = 0,
	    fd;

	if (root < 0)
		return;
	fd = c->polling ? -1 : mon_open_rel(root, rel, O_RDONLY | O_DIRECTORY);
	close(root);
	if (fd >= 0) {
		struct dw_buf path = DW_BUF_INIT;
		size_t depth = 0;
		const char *p;

		dw_buf_adds(&path, rel);
		for (p = rel; *p; p++)
			depth += *p == '/';
		err = watch_tree(m, c, fd, &path, depth + (*rel != 0));
		dw_buf_release(&path);
	}
	if (err == WATCH_OVER_BUDGET) {
		/* Its watches go back to the host: it is polled whole. */
		mon_unwatch(m, c);
		c->over_budget = 1;
	}
	if (err) {
		c->polling = 1;
		c->next_poll = mon_mono_ms() + m->pol->poll_interval * 1000;
		dw_log_warn(
			"container %s: %s; rescanning it every %lds instead",
			c->name,
			err == WATCH_OVER_BUDGET
				? "more directories than its watch budget"
				: "out of inotify watches",
			m->pol->poll_interval);
	}
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
	if (s->overflow || (s->n && !strcmp(s->v[s->n - 1], b.ptr))) {
		dw_buf_release(&b);
		return;
	}
	/*
	 * Bounded: past it the next rescan walks the container whole
	 * (mon_rescan_container), which needs no list.
	 */
	if (s->n >= PATHSET_MAX || s->bytes + b.len > PATHSET_MAX_BYTES) {
		s->overflow = 1;
		dw_buf_release(&b);
		return;
	}
	s->bytes += b.len;
	DW_ALLOC_GROW(s->v, s->n + 1, s->alloc);
	s->v[s->n++] = dw_buf_detach(&b, NULL);
}

int mon_cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

void mon_pathset_sort(struct pathset *s)
{
	if (s->n > 1)
		qsort(s->v, s->n, sizeof(char *), mon_cmp_str);
}

void mon_pathset_clear(struct pathset *s)
{
	while (s->n)
		free(s->v[--s->n]);
	s->bytes = 0;
	s->overflow = 0;
}

void mon_pathset_release(struct pathset *s)
{
	mon_pathset_clear(s);
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

int mon_under_deep(const struct container *c, const char *path, size_t len)
{
	char *p = dw_xstrndup(path, len);
	int deep = under_deep(c, p);

	free(p);
	return deep;
}

/*
 * For the diff engine: did nothing change at or below directory `path`?
 * Every event names an entry "/dir/name", so a change below `path` is
 * an entry sorting under "path/".
 */
int mon_subtree_unchanged(const char *path, size_t len, void *ctx)
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
int mon_entry_unchanged(const char *path, size_t len, void *ctx)
{
	struct container *c = ctx;
	char *p = dw_xstrndup(path, len);
	int same = !has(&c->ents, p) && !under_deep(c, p);

	free(p);
	return same;
}

void mon_mark_dirty(struct container *c, enum dw_rescan_source source,
		    long long now)
{
	/* The strongest reason wins. */
	if (!c->dirty || source > c->source)
		c->source = source;
	if (!c->dirty)
		c->dirty_since = now;
	c->dirty = 1;
	c->last_event = now;
}

void dw_monitor_read_events(struct dw_monitor *m)
{
	char buf[64 * 1024]
		__attribute__((aligned(__alignof__(struct inotify_event))));
	long long now = mon_mono_ms(), before = mon_mono_us();
	ssize_t n = 0;
	int rounds = 0;

	/*
	 * At most 16 buffers a turn: a container writing as fast as it can
	 * must not keep the loop here (rescans, signals and the other
	 * containers wait meanwhile); the kernel queues the rest.
	 */
	while (rounds++ < 16 && (n = read(m->ifd, buf, sizeof(buf))) > 0) {
		char *p;

		for (p = buf; p < buf + n;) {
			const struct inotify_event *ev = (void *)p;
			struct watch *w;
			struct container *c;

			p += sizeof(*ev) + ev->len;
			m->inotify_events++;
			if (ev->mask & IN_Q_OVERFLOW) {
				m->overflows++;
				dw_log_warn(
					"inotify queue overflow: rescanning "
					"every container");
				for (c = m->list; c; c = c->next) {
					c->rewatch = 1;
					c->full = 1;
					mon_mark_dirty(c, DW_RESCAN_FULL, now);
				}
				continue;
			}
			w = find_watch(m, ev->wd);
			if (!w)
				continue;
			c = w->c;
			if (ev->mask & IN_IGNORED) {
				mon_drop_watch(m, w);
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
					note(&c->deep, w->rel, ev->name);
					/* May free every watch of c, w too
					 * (over its budget): w is not used
					 * after this. */
					w = NULL;
					mon_watch_from(m, c, rel.ptr);
					dw_buf_release(&rel);
				} else if (ev->mask &
					   (IN_MOVED_TO | IN_MOVED_FROM)) {
					/* Paths below it changed. */
					c->rewatch = 1;
				}
			}
			c->events++;
			mon_mark_dirty(c, DW_RESCAN_WATCH, now);
		}
		before = mon_mono_us();
	}
	/* Read empty (not cut at 16 buffers, nor failed otherwise):
	 * whatever was made before that read is in hand. */
	if (n < 0 && errno == EAGAIN)
		m->drained_us = before;
	m->last_event = mon_wall_us();
}
