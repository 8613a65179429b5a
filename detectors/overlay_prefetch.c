/*
 * The reader thread of a full diff: lists an upper dir's tree, directory
 * by directory, in the order the walk will ask for the listings. See
 * overlay_prefetch.h for why and for the rules the walk keeps.
 *
 * Order: the walk enters the subdirectories of a directory in the order
 * of "name/" (so that its output is sorted bytewise by full path), and
 * lists a directory before anything below it. The reader walks depth
 * first in that same order, so the paths it publishes, each read as
 * "path/", only ever increase. When the walk asks for a path that sorts
 * before the last one published and it is not there, the reader skipped
 * it (vanished, unreadable, too deep) and never will list it: the walk
 * reads it itself. The reader never waits for the walk.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "overlay_prefetch.h"
#include "driftwatch/xmalloc.h"
#include "driftwatch/banned.h"

/* Deepest directory the reader lists; deeper ones the walk reads. */
#define PF_MAX_DEPTH 128
/* The reader stops once the listings not yet taken hold this much. */
#define PF_MAX_BYTES ((size_t)256 << 20)

struct listing {
	char *path; /* "" or "/a/b" */
	size_t len;
	dev_t dev;
	ino_t ino;
	struct names nm;
	int taken;
};

struct dw_prefetch {
	pthread_t thread;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int root;	   /* the reader's own description of the root */
	struct listing *v; /* published, in increasing order */
	size_t n, alloc;
	size_t bytes; /* held in listings not yet taken */
	int done;     /* the reader publishes nothing more */
	int cancel;
};

/* A directory the reader has listed and is descending into. */
struct frame {
	int fd;
	size_t pathlen;
	struct dw_buf kids; /* its subdirectories' names, NUL-ended */
	size_t *koff;	    /* in "name/" order */
	size_t nk, kalloc, next;
};

void dw_names_release(struct names *nm)
{
	dw_buf_release(&nm->arena);
	free(nm->v);
	nm->v = NULL;
	nm->n = nm->alloc = 0;
}

/* Compare "p/" with "q/" bytewise, for paths without a trailing '/'. */
static int cmp_key(const char *p, size_t pl, const char *q, size_t ql)
{
	int c = memcmp(p, q, pl < ql ? pl : ql);

	if (c || pl == ql)
		return c;
	if (pl < ql)
		return q[pl] == '/' ? -1 : '/' - (unsigned char)q[pl];
	return p[ql] == '/' ? 1 : (unsigned char)p[ql] - '/';
}

/* "a" against "b" as "a/" against "b/" (names hold no '/'). */
static int cmp_dirname(const void *a, const void *b, void *arena)
{
	const unsigned char *x =
		(const unsigned char *)arena + *(const size_t *)a;
	const unsigned char *y =
		(const unsigned char *)arena + *(const size_t *)b;

	while (*x && *x == *y) {
		x++;
		y++;
	}
	return (*x ? *x : '/') - (*y ? *y : '/');
}

static int cmp_name(const void *a, const void *b, void *arena)
{
	return strcmp((const char *)arena + ((const struct name_ent *)a)->off,
		      (const char *)arena + ((const struct name_ent *)b)->off);
}

int dw_names_read(struct names *nm, int fd, int layer)
{
	struct dirent *de;
	DIR *d;
	int dfd = openat(fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	int err = 0;

	if (dfd < 0)
		return errno;
	d = fdopendir(dfd);
	if (!d) {
		err = errno;
		close(dfd);
		return err;
	}
	errno = 0;
	while ((de = readdir(d))) {
		struct name_ent *ne;

		if (de->d_name[0] == '.' &&
		    (!de->d_name[1] ||
		     (de->d_name[1] == '.' && !de->d_name[2])))
			continue;
		DW_ALLOC_GROW(nm->v, nm->n + 1, nm->alloc);
		ne = &nm->v[nm->n++];
		ne->off = nm->arena.len;
		ne->layer = layer;
		ne->dtype = de->d_type;
		dw_buf_add(&nm->arena, de->d_name, strlen(de->d_name) + 1);
		errno = 0;
	}
	/* readdir() returns NULL at the end and on an error alike. */
	err = errno;
	closedir(d);
	return err;
}

/*
 * List directory `fd` into `nm` (sorted by name) and collect its
 * subdirectories into `f`. 0, or -1 when it could not be read whole.
 */
static int list_dir(int fd, struct names *nm, struct frame *f)
{
	size_t i;

	if (dw_names_read(nm, fd, -1))
		return -1;
	if (nm->n > 1)
		qsort_r(nm->v, nm->n, sizeof(*nm->v), cmp_name, nm->arena.ptr);
	for (i = 0; i < nm->n; i++) {
		const char *name = nm->arena.ptr + nm->v[i].off;
		struct stat st;

		if (nm->v[i].dtype == DT_UNKNOWN &&
		    (fstatat(fd, name, &st, AT_SYMLINK_NOFOLLOW) != 0 ||
		     !S_ISDIR(st.st_mode)))
			continue;
		if (nm->v[i].dtype != DT_DIR && nm->v[i].dtype != DT_UNKNOWN)
			continue;
		DW_ALLOC_GROW(f->koff, f->nk + 1, f->kalloc);
		f->koff[f->nk++] = f->kids.len;
		dw_buf_add(&f->kids, name, strlen(name) + 1);
	}
	if (f->nk > 1)
		qsort_r(f->koff, f->nk, sizeof(*f->koff), cmp_dirname,
			f->kids.ptr);
	return 0;
}

static void frame_release(struct frame *f)
{
	if (f->fd >= 0)
		close(f->fd);
	dw_buf_release(&f->kids);
	free(f->koff);
}

/* List `fd` (path in `path`) and publish it; 0 and a frame, or -1. */
static int visit(struct dw_prefetch *pf, int fd, const struct dw_buf *path,
		 struct frame *f)
{
	struct names nm = {DW_BUF_INIT, NULL, 0, 0};
	struct listing *l;
	struct stat st;
	int full;

	*f = (struct frame){fd, path->len, DW_BUF_INIT, NULL, 0, 0, 0};
	dw_buf_init(&nm.arena, 0);
	if (fstat(fd, &st) != 0 || list_dir(fd, &nm, f) != 0) {
		dw_names_release(&nm);
		frame_release(f);
		return -1;
	}
	pthread_mutex_lock(&pf->mu);
	DW_ALLOC_GROW(pf->v, pf->n + 1, pf->alloc);
	l = &pf->v[pf->n++];
	l->path = dw_xmalloc(path->len + 1);
	memcpy(l->path, path->ptr, path->len + 1);
	l->len = path->len;
	l->dev = st.st_dev;
	l->ino = st.st_ino;
	l->nm = nm;
	l->taken = 0;
	pf->bytes += nm.arena.alloc + nm.alloc * sizeof(*nm.v) + path->len +
		     sizeof(*l);
	full = pf->bytes > PF_MAX_BYTES;
	pthread_cond_broadcast(&pf->cv);
	pthread_mutex_unlock(&pf->mu);
	return full ? 1 : 0;
}

static int cancelled(struct dw_prefetch *pf)
{
	int c;

	pthread_mutex_lock(&pf->mu);
	c = pf->cancel;
	pthread_mutex_unlock(&pf->mu);
	return c;
}

static void *reader(void *arg)
{
	struct dw_prefetch *pf = arg;
	struct frame stack[PF_MAX_DEPTH];
	struct dw_buf path = DW_BUF_INIT;
	size_t depth = 0;
	int r;

	dw_buf_init(&path, 0);
	r = visit(pf, pf->root, &path, &stack[0]);
	pf->root = -1; /* the frame owns it now */
	if (r >= 0)
		depth = 1;
	while (r == 0 && depth && !cancelled(pf)) {
		struct frame *top = &stack[depth - 1];
		const char *name;
		int fd;

		if (top->next == top->nk) {
			frame_release(top);
			depth--;
			continue;
		}
		name = top->kids.ptr + top->koff[top->next++];
		if (depth == PF_MAX_DEPTH)
			continue;
		fd = openat(top->fd, name,
			    O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (fd < 0)
			continue;
		dw_buf_setlen(&path, top->pathlen);
		dw_buf_addch(&path, '/');
		dw_buf_adds(&path, name);
		r = visit(pf, fd, &path, &stack[depth]);
		if (r >= 0)
			depth++;
		if (r < 0)
			r = 0; /* skip what cannot be read; go on */
	}
	while (depth)
		frame_release(&stack[--depth]);
	dw_buf_release(&path);
	pthread_mutex_lock(&pf->mu);
	pf->done = 1;
	pthread_cond_broadcast(&pf->cv);
	pthread_mutex_unlock(&pf->mu);
	return NULL;
}

struct dw_prefetch *dw_prefetch_start(int root_fd)
{
	struct dw_prefetch *pf = dw_xcalloc(1, sizeof(*pf));

	pf->root = openat(root_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (pf->root < 0) {
		free(pf);
		return NULL;
	}
	pthread_mutex_init(&pf->mu, NULL);
	pthread_cond_init(&pf->cv, NULL);
	if (pthread_create(&pf->thread, NULL, reader, pf) != 0) {
		close(pf->root);
		pthread_cond_destroy(&pf->cv);
		pthread_mutex_destroy(&pf->mu);
		free(pf);
		return NULL;
	}
	return pf;
}

/* The index of `path` among the published, or -1. */
static ssize_t find(const struct dw_prefetch *pf, const char *path, size_t len)
{
	size_t lo = 0, hi = pf->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = cmp_key(pf->v[mid].path, pf->v[mid].len, path, len);

		if (!c)
			return (ssize_t)mid;
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return -1;
}

int dw_prefetch_take(struct dw_prefetch *pf, const char *path, size_t len,
		     int fd, struct names *nm)
{
	struct listing *l = NULL;
	struct names got;
	struct stat st;
	dev_t dev;
	ino_t ino;
	ssize_t i;

	if (!pf || nm->n || nm->arena.len)
		return 0;
	pthread_mutex_lock(&pf->mu);
	for (;;) {
		i = find(pf, path, len);
		if (i >= 0) {
			l = &pf->v[i];
			break;
		}
		if (pf->done ||
		    (pf->n && cmp_key(pf->v[pf->n - 1].path,
				      pf->v[pf->n - 1].len, path, len) > 0))
			break;
		pthread_cond_wait(&pf->cv, &pf->mu);
	}
	if (!l || l->taken) {
		pthread_mutex_unlock(&pf->mu);
		return 0;
	}
	l->taken = 1;
	got = l->nm;
	l->nm = (struct names){DW_BUF_INIT, NULL, 0, 0};
	pf->bytes -= got.arena.alloc + got.alloc * sizeof(*got.v);
	dev = l->dev;
	ino = l->ino;
	pthread_mutex_unlock(&pf->mu);
	/* Only a listing of the very directory the walk opened counts. */
	if (fstat(fd, &st) != 0 || st.st_dev != dev || st.st_ino != ino) {
		dw_names_release(&got);
		return 0;
	}
	dw_names_release(nm);
	*nm = got;
	return 1;
}

void dw_prefetch_stop(struct dw_prefetch *pf)
{
	size_t i;

	if (!pf)
		return;
	pthread_mutex_lock(&pf->mu);
	pf->cancel = 1;
	pthread_mutex_unlock(&pf->mu);
	pthread_join(pf->thread, NULL);
	for (i = 0; i < pf->n; i++) {
		free(pf->v[i].path);
		dw_names_release(&pf->v[i].nm);
	}
	free(pf->v);
	pthread_cond_destroy(&pf->cv);
	pthread_mutex_destroy(&pf->mu);
	free(pf);
}
