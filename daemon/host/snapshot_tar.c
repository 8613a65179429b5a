/* Snapshots: one layer dir as a tar, hashed as it is written. */
#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/utsname.h>
#include <sys/xattr.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "driftwatch/buf.h"
#include "driftwatch/safeopen.h"
#include "driftwatch/overlay_diff.h"
#include "driftwatch/error.h"
#include "driftwatch/escape.h"
#include "driftwatch/json.h"
#include "snapshot_int.h"
#include "driftwatch/xmalloc.h"
#include "driftwatch/lazylib.h"
#include "driftwatch/banned.h"

struct snap_archive_api snap_ar;

static const struct dw_lazy_sym archive_syms[] = {
#define SLOT(f) {#f, (void **)&snap_ar.f},
	ARCHIVE_SYMS(SLOT)
#undef SLOT
};

static struct dw_lazy_lib libarchive = {
	"libarchive.so.13", archive_syms,
	sizeof(archive_syms) / sizeof(archive_syms[0]), 0, ""};

int snap_load_archive(void)
{
	return dw_lazy_load(&libarchive);
}

#define MAX_DEPTH SNAP_TAR_MAX_DEPTH
/* Data extents of one sparse file that we archive as sparse. */
#define MAX_EXTENTS 1024

/* ---- hashing writer ---- */

/* OpenSSL 3 looks an algorithm up at every init unless it is fetched. */
static EVP_MD *sha256_md(void)
{
	static EVP_MD *md;

	if (!md)
		md = EVP_MD_fetch(NULL, "SHA256", NULL);
	return md;
}

void snap_hout_init(struct hout *h, int fd)
{
	h->fd = fd;
	h->md = EVP_MD_CTX_new();
	h->size = 0;
	h->kicked = 0;
	h->durable = 0;
	h->failed = 0;
	EVP_DigestInit_ex(h->md, sha256_md(), NULL);
}

int snap_hout_write(struct hout *h, const void *p, size_t n)
{
	const char *c = p;
	size_t off = 0;

	EVP_DigestUpdate(h->md, p, n);
	while (off < n) {
		ssize_t w = write(h->fd, c + off, n - off);

		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0) {
			h->failed = errno;
			return -1;
		}
		off += (size_t)w;
	}
	h->size += n;
	/*
	 * The file is fsync'ed when complete (commit_file()): its writeback
	 * is started every 8 MiB meanwhile, so that the disk works while the
	 * capture reads and that fsync waits for the last piece only (a
	 * 150 MB archive's fsync took 0.47 s, a third of the capture).
	 */
	if (h->durable && h->size - h->kicked >= (8u << 20)) {
		sync_file_range(h->fd, (off64_t)h->kicked,
				(off64_t)(h->size - h->kicked),
				SYNC_FILE_RANGE_WRITE);
		h->kicked = h->size;
	}
	return 0;
}

/* Finish: `out` gets the 64 hex digits. */
void snap_hout_final(struct hout *h, char out[65])
{
	unsigned char dig[EVP_MAX_MD_SIZE];
	unsigned len = 0;

	EVP_DigestFinal_ex(h->md, dig, &len);
	EVP_MD_CTX_free(h->md);
	h->md = NULL;
	dw_hex(out, dig, 32);
}

la_ssize_t snap_ar_write(struct archive *a, void *ctx, const void *buf,
			 size_t n)
{
	(void)a;
	return snap_hout_write(ctx, buf, n) ? -1 : (la_ssize_t)n;
}

/*
 * An archive is hashed and written by a thread of its own (struct
 * snap_awriter), so that a capture on two cores reads, hashes files and
 * builds entries on one while the other hashes and writes what is built. Full
 * slots are handed over in order; a slow disk holds the capture up (at most
 * four slots wait), it never grows memory.
 */
/* The thread: the file it hashed is finished (digest[cur]). */
static void aw_file_done(struct snap_awriter *w)
{
	unsigned char dig[EVP_MAX_MD_SIZE];
	unsigned dlen = 0;

	if (w->cur == UINT32_MAX)
		return;
	EVP_DigestFinal_ex(w->fmd, dig, &dlen);
	DW_ALLOC_GROW(w->digest, (size_t)w->cur + 1, w->digest_alloc);
	dw_hex(w->digest[w->cur], dig, 32);
	/* Files come in order, each told before its data: all before it
	 * are done. */
	w->ndigest = (size_t)w->cur + 1;
	w->cur = UINT32_MAX;
}

/* The thread: the bytes [pos, pos + n) of the stream, at `p`, through
 * the files' digests whose segments `seg` lie there. */
static void aw_files(struct snap_awriter *w, const struct snap_aw_seg *seg,
		     size_t nseg, const char *p, uint64_t n)
{
	size_t k;

	for (k = 0; k < nseg; k++) {
		uint64_t lo = seg[k].off > w->pos ? seg[k].off : w->pos,
			 hi = seg[k].off + seg[k].len < w->pos + n
				      ? seg[k].off + seg[k].len
				      : w->pos + n;

		if (seg[k].file != w->cur) {
			aw_file_done(w);
			w->cur = seg[k].file;
			EVP_DigestInit_ex(w->fmd, sha256_md(), NULL);
		}
		if (hi > lo)
			EVP_DigestUpdate(w->fmd, p + (lo - w->pos),
					 (size_t)(hi - lo));
	}
}

/*
 * Under mu: the segments that lie in the next `n` bytes of the stream
 * (all are known: they were told before their bytes were written),
 * copied to `*out`; those that end there are taken off the queue.
 */
static size_t aw_take_segs(struct snap_awriter *w, uint64_t n, int all,
			   struct snap_aw_seg **out, size_t *alloc)
{
	uint64_t end = w->pos + n;
	size_t got = 0, k = w->seg_head;

	while (k < w->nsegs && (all || w->segs[k].off < end ||
				(!w->segs[k].len && w->segs[k].off <= end))) {
		DW_ALLOC_GROW(*out, got + 1, *alloc);
		(*out)[got++] = w->segs[k];
		if (!all && w->segs[k].off + w->segs[k].len > end)
			break; /* it goes on in the next slot */
		k++;
	}
	w->seg_head = k;
	if (w->seg_head > 4096 && w->seg_head * 2 > w->nsegs) {
		memmove(w->segs, w->segs + w->seg_head,
			(w->nsegs - w->seg_head) * sizeof(*w->segs));
		w->nsegs -= w->seg_head;
		w->seg_head = 0;
	}
	return got;
}

static void *aw_main(void *arg)
{
	struct snap_awriter *w = arg;
	struct snap_aw_seg *mine = NULL;
	size_t alloc = 0, n;

	pthread_mutex_lock(&w->mu);
	for (;;) {
		unsigned i;

		while (!w->count && !w->done)
			pthread_cond_wait(&w->cv, &w->mu);
		if (!w->count)
			break;
		i = w->head;
		n = aw_take_segs(w, w->len[i], 0, &mine, &alloc);
		pthread_mutex_unlock(&w->mu);
		if (!w->h->failed)
			snap_hout_write(w->h, w->slot[i], w->len[i]);
		aw_files(w, mine, n, w->slot[i], w->len[i]);
		w->pos += w->len[i];
		pthread_mutex_lock(&w->mu);
		w->wfailed = w->h->failed;
		w->len[i] = 0;
		w->head = (w->head + 1) % SNAP_AW_SLOTS;
		w->count--;
		pthread_cond_broadcast(&w->cv);
	}
	/* Files at the very end with no data (empty ones). */
	n = aw_take_segs(w, 0, 1, &mine, &alloc);
	pthread_mutex_unlock(&w->mu);
	aw_files(w, mine, n, "", 0);
	aw_file_done(w);
	free(mine);
	return NULL;
}

void snap_aw_file(struct snap_awriter *w, uint32_t file, uint64_t off,
		  uint64_t len)
{
	pthread_mutex_lock(&w->mu);
	DW_ALLOC_GROW(w->segs, w->nsegs + 1, w->segs_alloc);
	w->segs[w->nsegs++] = (struct snap_aw_seg){off, len, file};
	pthread_mutex_unlock(&w->mu);
}

void snap_aw_start(struct snap_awriter *w, struct hout *h)
{
	unsigned i;

	memset(w, 0, sizeof(*w));
	w->h = h;
	w->cur = UINT32_MAX;
	w->fmd = EVP_MD_CTX_new();
	for (i = 0; i < SNAP_AW_SLOTS; i++)
		w->slot[i] = dw_xmalloc(SNAP_AW_SLOT_SIZE);
	pthread_mutex_init(&w->mu, NULL);
	pthread_cond_init(&w->cv, NULL);
	w->started = !pthread_create(&w->th, NULL, aw_main, w);
}

/* The slot being filled, to the thread; wait for a free one. */
static void aw_hand_over(struct snap_awriter *w)
{
	pthread_mutex_lock(&w->mu);
	w->count++;
	pthread_cond_broadcast(&w->cv);
	while (w->count >= SNAP_AW_SLOTS - 1)
		pthread_cond_wait(&w->cv, &w->mu);
	w->fill = (w->head + w->count) % SNAP_AW_SLOTS;
	w->failed = w->wfailed;
	pthread_mutex_unlock(&w->mu);
}

la_ssize_t snap_aw_write(struct archive *a, void *ctx, const void *buf,
			 size_t n)
{
	struct snap_awriter *w = ctx;
	const char *p = buf;
	size_t left = n;

	(void)a;
	if (!w->started)
		return snap_hout_write(w->h, buf, n) ? -1 : (la_ssize_t)n;
	if (w->failed)
		return -1;
	while (left) {
		size_t room = SNAP_AW_SLOT_SIZE - w->len[w->fill],
		       k = left < room ? left : room;

		memcpy(w->slot[w->fill] + w->len[w->fill], p, k);
		w->len[w->fill] += k;
		p += k;
		left -= k;
		if (w->len[w->fill] == SNAP_AW_SLOT_SIZE)
			aw_hand_over(w);
	}
	return (la_ssize_t)n;
}

/* All written (or failed): the thread is gone, `h` final. */
void snap_aw_finish(struct snap_awriter *w)
{
	unsigned i;

	if (w->started) {
		if (w->len[w->fill])
			aw_hand_over(w);
		pthread_mutex_lock(&w->mu);
		w->done = 1;
		pthread_cond_broadcast(&w->cv);
		pthread_mutex_unlock(&w->mu);
		pthread_join(w->th, NULL);
	}
	pthread_mutex_destroy(&w->mu);
	pthread_cond_destroy(&w->cv);
	for (i = 0; i < SNAP_AW_SLOTS; i++)
		free(w->slot[i]);
	free(w->segs);
	EVP_MD_CTX_free(w->fmd);
	/* (digest stays: the caller reads it, then snap_aw_release()) */
}

void snap_aw_release(struct snap_awriter *w)
{
	free(w->digest);
	w->digest = NULL;
}

/* ---- one layer dir as a tar ---- */

struct layer_tar;
static int fill_digests(struct layer_tar *t, const struct snap_awriter *w);

struct hardlink {
	dev_t dev;
	ino_t ino;
	char *path;
};

struct layer_tar {
	struct archive *a;
	struct dw_buf path;	 /* relative, no leading slash */
	struct dw_buf abs;	 /* the same with one (json_abs()) */
	struct dw_buf *evidence; /* JSON objects, comma-separated */
	struct hardlink *links;
	size_t nlinks, links_alloc;
	int pause_expired;  /* frozen no longer: the pause ran out */
	size_t truncated;   /* directories not entered: too deep */
	char *truncated_at; /* the first */
	uint64_t entries;
	int changed; /* a file changed while read */
	int frozen;  /* the container is paused: nothing moves */
	char *copybuf;
	EVP_MD_CTX *md;		     /* reused for every file */
	struct archive_entry *entry; /* reused for every entry (entry_for()) */
	/* Files' digests taken by the writer's thread (deferred()): the
	 * current file's number, and where each goes in the evidence. */
	struct snap_awriter *aw;
	uint32_t file;
	struct digest_at {
		size_t at;
		uint32_t file;
	} * patch;
	size_t npatch, patch_alloc;
	uint64_t stored, apparent; /* file bytes written; files' sizes */
	const struct dw_snapshot_budget *budget;
	char cap[256]; /* security.capability of the entry, if any */
	ssize_t caplen;
};

/* The data extents of a sparse file (none: a dense one). */
struct extents {
	struct {
		uint64_t off, len;
	} v[MAX_EXTENTS + 1]; /* + the end marker */
	size_t n;
};

/*
 * Map `fd`'s data with SEEK_DATA/SEEK_HOLE. A file with no hole maps to
 * nothing (read it whole); one with more extents than MAX_EXTENTS too,
 * unless that would mean copying a hole bigger than it stores: then
 * DW_ELIMIT.
 */
static int map_extents(int fd, const struct stat *st, struct extents *x)
{
	uint64_t size = (uint64_t)st->st_size;
	off_t data = 0, hole;

	x->n = 0;
	if ((uint64_t)st->st_blocks * 512 >= size)
		return 0; /* allocated as much as it is long: dense */
	for (;;) {
		data = lseek(fd, data, SEEK_DATA);
		if (data < 0 || (uint64_t)data >= size)
			break; /* ENXIO: only a hole from here */
		hole = lseek(fd, data, SEEK_HOLE);
		if (hole < 0)
			hole = (off_t)size;
		if (x->n == MAX_EXTENTS) {
			x->n = 0;
			return size > ((uint64_t)64 << 20) ? DW_ELIMIT : 0;
		}
		x->v[x->n].off = (uint64_t)data;
		x->v[x->n].len =
			(uint64_t)(hole > (off_t)size ? (off_t)size : hole) -
			(uint64_t)data;
		x->n++;
		data = hole;
	}
	lseek(fd, 0, SEEK_SET);
	/* No hole after all (small files may have no blocks of their own). */
	if (x->n == 1 && !x->v[0].off && x->v[0].len == size) {
		x->n = 0;
		return 0;
	}
	/* A hole at the end is a data extent of no length (GNU sparse). */
	if (!x->n || x->v[x->n - 1].off + x->v[x->n - 1].len < size) {
		x->v[x->n].off = size;
		x->v[x->n].len = 0;
		x->n++;
	}
	return 0;
}

static int is_whiteout(const struct stat *st)
{
	return S_ISCHR(st->st_mode) && !major(st->st_rdev) &&
	       !minor(st->st_rdev);
}

/*
 * The kernel's overlay metadata of a Docker (rootful overlay2) layer:
 * trusted.overlay.* only. user.overlay.* is the container's own data
 * there: a fake opaque mark must not hide the image's files in the
 * evidence.
 */
static ssize_t ovl_get(int fd, const char *key, char *v, size_t n)
{
	char k[64];

	snprintf(k, sizeof(k), "trusted.overlay.%s", key);
	return fgetxattr(fd, k, v, n);
}

static int tar_error(struct layer_tar *t, const char *what)
{
	return dw_error_set(DW_EIO, "snapshot: %s %s: %s", what, t->path.ptr,
			    snap_ar.archive_error_string(t->a)
				    ? snap_ar.archive_error_string(t->a)
				    : "write failed");
}

/*
 * The entry of the current path (+ `suffix`): one archive_entry, cleared
 * and filled again for each (a new one per file was a large allocation
 * and free each time, malloc's consolidation and all: an eighth of a
 * capture's CPU time). Not freed by the caller.
 */
/*
 * Write an entry's header; non-zero when it could not be. A name that is
 * not in this locale's charset (in the C locale, any byte above 0x7f) is
 * written as its bytes with a pax hdrcharset=BINARY for that entry, and
 * libarchive warns: that is written, not a failure (it stopped every
 * capture). Set for the whole archive instead, that record went with
 * every entry: 100 MB more for 100,000 files.
 */
static int header_failed(struct layer_tar *t, struct archive_entry *e)
{
	return snap_ar.archive_write_header(t->a, e) < ARCHIVE_WARN;
}

static struct archive_entry *
entry_for(struct layer_tar *t, const struct stat *st, const char *suffix)
{
	struct archive_entry *e = snap_ar.archive_entry_clear(t->entry);

	if (*suffix) {
		struct dw_buf p = DW_BUF_INIT;

		dw_buf_addf(&p, "%s%s", t->path.ptr, suffix);
		snap_ar.archive_entry_set_pathname(e, p.ptr);
		dw_buf_release(&p);
	} else {
		snap_ar.archive_entry_set_pathname(e, t->path.ptr);
	}
	snap_ar.archive_entry_set_uid(e, st->st_uid);
	snap_ar.archive_entry_set_gid(e, st->st_gid);
	snap_ar.archive_entry_set_perm(e, st->st_mode & 07777);
	snap_ar.archive_entry_set_mtime(e, st->st_mtim.tv_sec,
					st->st_mtim.tv_nsec);
	return e;
}

/* The names of a directory, sorted, so archives are reproducible. */
static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a + 1, *(char *const *)b + 1);
}

/* Each name comes with its d_type in front (names[i][0]). */
static char **dir_names(int dfd, size_t *n)
{
	int fd = openat(dfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
	struct dirent *de;
	char **v = NULL;
	size_t alloc = 0;

	*n = 0;
	if (!d) {
		if (fd >= 0)
			close(fd);
		return NULL;
	}
	while ((de = readdir(d))) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		size_t len = strlen(de->d_name);
		char *e = dw_xmalloc(len + 2);

		e[0] = (char)de->d_type;
		memcpy(e + 1, de->d_name, len + 1);
		DW_ALLOC_GROW(v, *n + 1, alloc);
		v[(*n)++] = e;
	}
	closedir(d);
	if (*n > 1)
		qsort(v, *n, sizeof(char *), cmp_str);
	return v ? v : dw_xcalloc(1, sizeof(char *)); /* NULL: error only */
}

/* Append `str` as a JSON string (jansson does the escaping). */
static int json_str(struct dw_buf *b, const char *str)
{
	int sanitized = 0;
	json_t *v;
	size_t n;

	/* Printable ASCII with no quote or backslash, most names: as it
	 * is, just as jansson would write it (once per file of a capture). */
	for (n = 0;
	     str[n] >= 0x20 && str[n] < 0x7f && str[n] != '"' && str[n] != '\\';
	     n++)
		;
	if (!str[n]) {
		if (dw_buf_grow(b, n + 2))
			return 0;
		b->ptr[b->len++] = '"';
		memcpy(b->ptr + b->len, str, n);
		b->len += n;
		b->ptr[b->len++] = '"';
		b->ptr[b->len] = '\0';
		return 0;
	}
	v = json_string(str);

	if (!v) {
		struct dw_buf clean = DW_BUF_INIT;

		dw_utf8_sanitize(&clean, str, strlen(str));
		sanitized = 1;
		v = json_string(clean.ptr);
		dw_buf_release(&clean);
	}
	n = json_dumpb(v, NULL, 0, JSON_ENCODE_ANY);
	dw_buf_grow(b, n);
	json_dumpb(v, b->ptr + b->len, n, JSON_ENCODE_ANY);
	b->len += n;
	b->ptr[b->len] = '\0';
	json_decref(v);
	return sanitized;
}

/* Appenders into a buffer known to be large enough (ev_begin()). */
static char *put_lit(char *q, const char *lit)
{
	size_t n = strlen(lit);

	memcpy(q, lit, n);
	return q + n;
}

static char *put_u64(char *q, unsigned long long v)
{
	char tmp[24];
	int n = 0;

	do
		tmp[n++] = (char)('0' + v % 10);
	while (v /= 10);
	while (n)
		*q++ = tmp[--n];
	return q;
}

static char *put_i64(char *q, long long v)
{
	if (v < 0) {
		*q++ = '-';
		return put_u64(q, 0ull - (unsigned long long)v);
	}
	return put_u64(q, (unsigned long long)v);
}

/*
 * Seconds and nanoseconds as one count of nanoseconds, exactly, whatever
 * the seconds (a container sets any time: 2300-01-01 overflowed 64 bits
 * and was recorded negative).
 */
static char *put_ns(char *q, long long sec, unsigned nsec)
{
	unsigned long long s;

	if (nsec >= 1000000000u)
		nsec = 999999999u;
	if (sec < 0 && nsec) { /* -(|sec| - 1) s and (1e9 - nsec) ns */
		*q++ = '-';
		s = 0ull - (unsigned long long)sec - 1;
		nsec = 1000000000u - nsec;
	} else if (sec < 0) {
		*q++ = '-';
		s = 0ull - (unsigned long long)sec;
	} else {
		s = (unsigned long long)sec;
	}
	if (s) {
		char tmp[12];
		int k;

		q = put_u64(q, s);
		for (k = 8; k >= 0; k--, nsec /= 10)
			tmp[k] = (char)('0' + nsec % 10);
		memcpy(q, tmp, 9);
		return q + 9;
	}
	return put_u64(q, nsec);
}

/* A time: a number of nanoseconds where 64 bits hold it (years 1678 to
 * 2261), else that number as a string (JSON readers refuse it as one). */
static char *put_time(char *q, long long sec, unsigned nsec)
{
	int fits = sec > -9223372036LL && sec < 9223372036LL - 1;

	if (!fits)
		*q++ = '"';
	q = put_ns(q, sec, nsec);
	if (!fits)
		*q++ = '"';
	return q;
}

/* "%06o": at least six octal digits. */
static char *put_oct6(char *q, unsigned v)
{
	char tmp[12];
	int n = 0;

	do
		tmp[n++] = (char)('0' + (v & 7));
	while (v >>= 3);
	while (n < 6)
		tmp[n++] = '0';
	while (n)
		*q++ = tmp[--n];
	return q;
}

/*
 * `rel` made absolute ("/" before it), as a JSON string. A name that is
 * not UTF-8 is shown with U+FFFD for what is not, which could be another
 * name's: the bytes themselves follow as "path_b64".
 */
static void json_abs(struct layer_tar *t, struct dw_buf *b)
{
	/* (one buffer for every entry: no allocation per file) */
	dw_buf_reset(&t->abs);
	dw_buf_addch(&t->abs, '/');
	dw_buf_adds(&t->abs, t->path.ptr);
	if (json_str(b, t->abs.ptr)) {
		char *b64 = dw_xmalloc(4 * (t->abs.len / 3 + 1) + 1);

		EVP_EncodeBlock((unsigned char *)b64,
				(const unsigned char *)t->abs.ptr,
				(int)t->abs.len);
		dw_buf_adds(b, ",\"path_b64\":\"");
		dw_buf_adds(b, b64);
		dw_buf_addch(b, '"');
		free(b64);
	}
}

static void ev_sep(struct layer_tar *t)
{
	if (t->evidence->len)
		dw_buf_addch(t->evidence, ',');
}

/*
 * Open one entry's evidence object (closed by the caller): the full
 * statx and every xattr, read through `fd` when there is one.
 */
static void ev_begin(struct layer_tar *t, const struct statx *sx, int fd,
		     int dfd, const char *name)
{
	struct dw_buf *b = t->evidence;
	char list[4096], val[4096], b64[5500], proc[320];
	ssize_t n, i;
	int first = 1;

	ev_sep(t);
	dw_buf_adds(b, "{\"path\":");
	json_abs(t, b);
#define NS(ts) (ts).tv_sec, (ts).tv_nsec
	{
		/* Without printf: ten numbers a file, printf's parsing was
		 * a tenth of a capture's CPU time. */
		char line[400], *q = line;

		q = put_lit(q, ",\"mode\":\"");
		q = put_oct6(q, sx->stx_mode);
		q = put_lit(q, "\",\"uid\":");
		q = put_i64(q, sx->stx_uid);
		q = put_lit(q, ",\"gid\":");
		q = put_i64(q, sx->stx_gid);
		q = put_lit(q, ",\"size\":");
		q = put_u64(q, sx->stx_size);
		q = put_lit(q, ",\"inode\":");
		q = put_u64(q, sx->stx_ino);
		q = put_lit(q, ",\"nlink\":");
		q = put_i64(q, sx->stx_nlink);
		q = put_lit(q, ",\"atime_ns\":");
		q = put_time(q, NS(sx->stx_atime));
		q = put_lit(q, ",\"mtime_ns\":");
		q = put_time(q, NS(sx->stx_mtime));
		q = put_lit(q, ",\"ctime_ns\":");
		q = put_time(q, NS(sx->stx_ctime));
		if (sx->stx_mask & STATX_BTIME) {
			q = put_lit(q, ",\"btime_ns\":");
			q = put_time(q, NS(sx->stx_btime));
		}
		dw_buf_add(b, line, (size_t)(q - line));
	}
#undef NS
	if (S_ISCHR(sx->stx_mode) || S_ISBLK(sx->stx_mode))
		dw_buf_addf(b, ",\"rdev\":\"%u:%u\"", sx->stx_rdev_major,
			    sx->stx_rdev_minor);
	if (fd < 0)
		snprintf(proc, sizeof(proc), "/proc/self/fd/%d/%s", dfd, name);
	n = fd >= 0 ? flistxattr(fd, list, sizeof(list))
		    : llistxattr(proc, list, sizeof(list));
	dw_buf_adds(b, ",\"xattrs_base64\":{");
	for (i = 0; n > 0 && i < n; i += (ssize_t)strlen(list + i) + 1) {
		ssize_t v =
			fd >= 0 ? fgetxattr(fd, list + i, val, sizeof(val))
				: lgetxattr(proc, list + i, val, sizeof(val));

		if (v < 0)
			continue;
		if (!strcmp(list + i, "security.capability") &&
		    (size_t)v <= sizeof(t->cap)) {
			memcpy(t->cap, val, (size_t)v);
			t->caplen = v;
		}
		EVP_EncodeBlock((unsigned char *)b64, (unsigned char *)val,
				(int)v);
		if (!first)
			dw_buf_addch(b, ',');
		first = 0;
		json_str(b, list + i);
		dw_buf_addf(b, ":\"%s\"", b64);
	}
	dw_buf_addch(b, '}');
}

static void stat_from_statx(struct stat *st, const struct statx *sx)
{
	memset(st, 0, sizeof(*st));
	st->st_mode = sx->stx_mode;
	st->st_uid = sx->stx_uid;
	st->st_gid = sx->stx_gid;
	st->st_size = (off_t)sx->stx_size;
	/* map_extents() probes for holes only where blocks < size. */
	st->st_blocks = (blkcnt_t)sx->stx_blocks;
	st->st_ino = sx->stx_ino;
	st->st_nlink = sx->stx_nlink;
	st->st_dev = makedev(sx->stx_dev_major, sx->stx_dev_minor);
	st->st_rdev = makedev(sx->stx_rdev_major, sx->stx_rdev_minor);
	st->st_mtim.tv_sec = sx->stx_mtime.tv_sec;
	st->st_mtim.tv_nsec = sx->stx_mtime.tv_nsec;
}

/*
 * Files' digests go to the evidence only; they are taken by the writer's
 * thread as the data passes (a third of the capturing thread's time was
 * hashing), where there is one.
 */
static int deferred(const struct layer_tar *t)
{
	return t->evidence && t->aw && t->aw->started;
}

/* Copy `len` bytes at the current offset into the archive and `md`. */
static int copy_data(struct layer_tar *t, int fd, uint64_t len, uint64_t *left)
{
	while (len && fd >= 0) {
		ssize_t n =
			read(fd, t->copybuf, len < COPY_SIZE ? len : COPY_SIZE);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return 1; /* shrank while read: libarchive pads */
		/* Told before libarchive has the bytes: the thread knows
		 * where they are before it can see them. */
		la_int64_t at = snap_ar.archive_filter_bytes(t->a, 0);

		if (deferred(t))
			snap_aw_file(t->aw, t->file, (uint64_t)at, (uint64_t)n);
		else if (t->evidence)
			EVP_DigestUpdate(t->md, t->copybuf, (size_t)n);
		if (snap_ar.archive_write_data(t->a, t->copybuf, (size_t)n) < 0)
			return tar_error(t, "cannot write");
		/* The digest is of the bytes where they were said to be:
		 * exactly those, or the capture fails (not a wrong one). */
		if (deferred(t) &&
		    snap_ar.archive_filter_bytes(t->a, 0) != at + n)
			return dw_error_set(DW_ERROR,
					    "snapshot: the archive did not "
					    "store /%s's data as it was read",
					    t->path.ptr);
		len -= (uint64_t)n;
		*left -= (uint64_t)n;
		t->stored += (uint64_t)n;
	}
	return 0;
}

static int add_file_data(struct layer_tar *t, int fd, const struct stat *st,
			 const struct extents *x, char sha[65])
{
	unsigned char dig[EVP_MAX_MD_SIZE];
	unsigned dlen = 0;
	uint64_t left = (uint64_t)st->st_size, at = 0;
	size_t i;
	int err = 0;

	if (deferred(t)) {
		/* A sparse file's map goes out with its first data (pax):
		 * written now, so that it is not taken for the data. */
		if (x->n && snap_ar.archive_write_data(t->a, t->copybuf, 0) < 0)
			return tar_error(t, "cannot write");
		t->file = t->aw->nfiles++;
		snap_aw_file(t->aw, t->file,
			     (uint64_t)snap_ar.archive_filter_bytes(t->a, 0),
			     0);
	} else if (t->evidence) {
		EVP_DigestInit_ex(t->md, sha256_md(), NULL);
	}
	if (!x->n) {
		err = copy_data(t, fd, left, &left);
	} else {
		/*
		 * A sparse file: the writer skips what we hand it for a hole
		 * without reading it, so a hole of any size costs nothing.
		 * The digest covers the data extents only (sparse.map in
		 * the evidence says where they are).
		 */
		for (i = 0; !err && i < x->n; i++) {
			uint64_t hole = x->v[i].off - at;

			while (hole) {
				size_t k = hole < COPY_SIZE ? hole : COPY_SIZE;
				ssize_t w = snap_ar.archive_write_data(
					t->a, t->copybuf, k);

				if (w <= 0) {
					err = tar_error(t, "cannot write");
					break;
				}
				hole -= (uint64_t)w;
				left -= (uint64_t)w;
			}
			if (!err && lseek(fd, (off_t)x->v[i].off, SEEK_SET) < 0)
				err = 1;
			if (!err)
				err = copy_data(t, fd, x->v[i].len, &left);
			at = x->v[i].off + x->v[i].len;
		}
		left = err ? left : 0;
	}
	if (left)
		t->changed = 1;
	sha[0] = '\0';
	if (t->evidence && !deferred(t)) {
		EVP_DigestFinal_ex(t->md, dig, &dlen);
		dw_hex(sha, dig, 32);
	}
	return err || left ? (err < 0 ? err : 1) : 0;
}

static int add_whiteout(struct layer_tar *t, const char *name)
{
	struct dw_buf wh = DW_BUF_INIT;
	const char *slash = strrchr(t->path.ptr, '/');
	size_t dirlen = slash ? (size_t)(slash - t->path.ptr) + 1 : 0;
	struct archive_entry *e = snap_ar.archive_entry_new();
	int err = 0;

	/* The deletion, in the form image layers carry it. */
	dw_buf_add(&wh, t->path.ptr, dirlen);
	dw_buf_addf(&wh, ".wh.%s", name);
	snap_ar.archive_entry_set_pathname(e, wh.ptr);
	snap_ar.archive_entry_set_filetype(e, AE_IFREG);
	snap_ar.archive_entry_set_perm(e, 0644);
	snap_ar.archive_entry_set_size(e, 0);
	if (header_failed(t, e))
		err = tar_error(t, "cannot write");
	snap_ar.archive_entry_free(e);
	dw_buf_release(&wh);
	t->entries++;
	if (t->evidence) {
		ev_sep(t);
		dw_buf_adds(t->evidence, "{\"path\":");
		json_abs(t, t->evidence);
		dw_buf_adds(t->evidence, ",\"whiteout\":\"deleted\"}");
	}
	return err;
}

/* security.capability, as read with the evidence (or read now). */
static void add_capability(struct layer_tar *t, struct archive_entry *e, int fd)
{
	if (!t->evidence)
		t->caplen = fgetxattr(fd, "security.capability", t->cap,
				      sizeof(t->cap));
	if (t->caplen > 0)
		snap_ar.archive_entry_xattr_add_entry(
			e, "security.capability", t->cap, (size_t)t->caplen);
}

/* The sparse map in the evidence: what the data digest covers. */
static void ev_sparse(struct layer_tar *t, const struct extents *x,
		      const struct stat *st)
{
	size_t i;

	dw_buf_addf(t->evidence, ",\"sparse\":{\"size\":%llu,\"data\":[",
		    (unsigned long long)st->st_size);
	for (i = 0; i < x->n; i++)
		dw_buf_addf(t->evidence, "%s[%llu,%llu]", i ? "," : "",
			    (unsigned long long)x->v[i].off,
			    (unsigned long long)x->v[i].len);
	dw_buf_adds(t->evidence, "]}");
}

/*
 * Map a file's extents and hold it to the snapshot's budget: the sizes
 * it claims (apparent) and the bytes it makes us write (stored), which
 * must also leave the output's filesystem its reserve.
 */
static int budget_file(struct layer_tar *t, int fd, const struct stat *st,
		       struct extents *x)
{
	uint64_t data = 0;
	size_t i;
	int err = fd >= 0 ? map_extents(fd, st, x) : 0;

	if (fd < 0)
		x->n = 0;
	if (err)
		return dw_error_set(DW_ELIMIT,
				    "snapshot: /%s has more than %d data "
				    "extents in %llu bytes",
				    t->path.ptr, MAX_EXTENTS,
				    (unsigned long long)st->st_size);
	for (i = 0; i < x->n; i++)
		data += x->v[i].len;
	if (!x->n)
		data = (uint64_t)st->st_size;
	t->apparent += (uint64_t)st->st_size;
	if (t->budget && t->budget->max_apparent &&
	    t->apparent > t->budget->max_apparent)
		return dw_error_set(DW_ELIMIT,
				    "snapshot: files add up to more than %llu "
				    "bytes (at /%s); see --max-size",
				    (unsigned long long)t->budget->max_apparent,
				    t->path.ptr);
	if (t->budget && t->budget->max_stored &&
	    t->stored + data > t->budget->max_stored)
		return dw_error_set(DW_ELIMIT,
				    "snapshot: more than %llu bytes to store "
				    "(at /%s); see --max-size",
				    (unsigned long long)t->budget->max_stored,
				    t->path.ptr);
	if (t->budget && t->budget->free_bytes &&
	    t->stored + data > t->budget->free_bytes)
		return dw_error_set(DW_ELIMIT,
				    "snapshot: not enough free space for /%s "
				    "(%llu bytes left for the archive)",
				    t->path.ptr,
				    (unsigned long long)t->budget->free_bytes);
	return 0;
}

/*
 * The path of the first entry with `st`'s inode, or NULL (and it is
 * remembered as the first). An open-addressed table: a container with a
 * million hard links made the linear search quadratic (minutes, with the
 * container paused).
 */
static const char *link_seen(struct layer_tar *t, const struct stat *st)
{
	size_t i, mask;

	if (t->nlinks * 2 >= t->links_alloc) {
		size_t cap = t->links_alloc ? t->links_alloc * 2 : 1024, j;
		struct hardlink *old = t->links;

		t->links = dw_xcalloc(cap, sizeof(*t->links));
		for (j = 0; j < t->links_alloc; j++) {
			if (!old[j].path)
				continue;
			i = ((size_t)old[j].ino * 0x9E3779B97F4A7C15ull ^
			     (size_t)old[j].dev) &
			    (cap - 1);
			while (t->links[i].path)
				i = (i + 1) & (cap - 1);
			t->links[i] = old[j];
		}
		free(old);
		t->links_alloc = cap;
	}
	mask = t->links_alloc - 1;
	i = ((size_t)st->st_ino * 0x9E3779B97F4A7C15ull ^ (size_t)st->st_dev) &
	    mask;
	for (; t->links[i].path; i = (i + 1) & mask)
		if (t->links[i].dev == st->st_dev &&
		    t->links[i].ino == st->st_ino)
			return t->links[i].path;
	t->links[i] = (struct hardlink){st->st_dev, st->st_ino,
					dw_xstrdup(t->path.ptr)};
	t->nlinks++;
	return NULL;
}

/* A regular file: hard links kept as links, contents hashed. */
static int add_regular(struct layer_tar *t, struct archive_entry *e, int fd,
		       const struct stat *st)
{
	struct extents x;
	char sha[65];
	size_t i;
	int err;

	x.n = 0;
	if (st->st_nlink > 1) {
		const char *first = link_seen(t, st);

		if (first)
			snap_ar.archive_entry_set_hardlink(e, first);
	}
	if (!snap_ar.archive_entry_hardlink(e)) {
		snap_ar.archive_entry_set_size(e, st->st_size);
		err = budget_file(t, fd, st, &x);
		if (err)
			return err;
		for (i = 0; i < x.n; i++)
			snap_ar.archive_entry_sparse_add_entry(
				e, (la_int64_t)x.v[i].off,
				(la_int64_t)x.v[i].len);
	}
	if (fd >= 0)
		add_capability(t, e, fd);
	if (header_failed(t, e))
		return tar_error(t, "cannot write");
	if (snap_ar.archive_entry_hardlink(e))
		return 0;
	err = add_file_data(t, fd, st, &x, sha);
	if (err < 0)
		return err;
	if (t->evidence && x.n)
		ev_sparse(t, &x, st);
	if (t->evidence && err == 0) {
		dw_buf_adds(t->evidence, x.n ? ",\"sha256_data\":\"sha256:"
					     : ",\"sha256\":\"sha256:");
		if (deferred(t)) { /* filled in when the thread is done */
			DW_ALLOC_GROW(t->patch, t->npatch + 1, t->patch_alloc);
			t->patch[t->npatch++] =
				(struct digest_at){t->evidence->len, t->file};
			memset(sha, '0', 64);
		}
		dw_buf_add(t->evidence, sha, 64);
		dw_buf_addch(t->evidence, '"');
	}
	if (t->evidence && err > 0)
		dw_buf_adds(t->evidence, ",\"changed_during_capture\":true");
	return 0;
}

/*
 * Open and stat an entry. With the container paused nothing can swap an
 * entry between readdir and open, so a file or dir d_type vouches for is
 * opened at once and stated through its fd; otherwise the stat comes
 * first and only what it says is a file or dir is opened.
 */
static int open_entry(struct layer_tar *t, int dfd, const char *name,
		      unsigned char dtype, struct statx *sx, int *fdp)
{
	const unsigned mask = STATX_BASIC_STATS | STATX_BTIME;
	int fd = -1;

	*fdp = -1;
	/* Paused, nothing moves: d_type (from the filesystem, not the
	 * container) vouches for a regular file or a directory. */
	if (t->frozen && (dtype == DT_REG || dtype == DT_DIR)) {
		/* O_NOATIME: the capture leaves the times it records as
		 * they were (and spares a journal write per file). */
		int how = O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC |
			  (dtype == DT_DIR ? O_DIRECTORY : 0);

		fd = openat(dfd, name, how | O_NOATIME);
		if (fd < 0 && errno == EPERM)
			fd = openat(dfd, name, how);
		if (fd >= 0 && !statx(fd, "", AT_EMPTY_PATH, mask, sx)) {
			*fdp = fd;
			return 0;
		}
		if (fd >= 0)
			close(fd);
	}
	if (statx(dfd, name, AT_SYMLINK_NOFOLLOW, mask, sx) < 0)
		return errno == ENOENT
			       ? 1
			       : dw_error_errno(DW_EIO, errno,
						"snapshot: cannot stat %s",
						t->path.ptr);
	if (S_ISREG(sx->stx_mode) || S_ISDIR(sx->stx_mode)) {
		struct stat now;

		/*
		 * The container runs: what was a file may be a device node
		 * now. O_PATH opens nothing; only a regular file is reopened
		 * (safeopen.h). O_DIRECTORY fails before any driver's open.
		 */
		if (S_ISREG(sx->stx_mode)) {
			fd = openat(dfd, name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
			if (fd >= 0)
				fd = dw_reopen_regular(fd, t->path.ptr,
						       DW_OPEN_NOATIME, &now);
		} else {
			fd = openat(dfd, name,
				    O_RDONLY | O_NOFOLLOW | O_DIRECTORY |
					    O_CLOEXEC);
			if (fd >= 0 && fstat(fd, &now)) {
				close(fd);
				fd = -1;
			}
		}
		if (fd >= 0 &&
		    (now.st_ino != sx->stx_ino ||
		     (now.st_mode & S_IFMT) != (sx->stx_mode & S_IFMT))) {
			close(fd); /* swapped since we looked */
			fd = -1;
		}
		if (fd < 0)
			fd = -1;
	}
	*fdp = fd;
	return 0;
}

/*
 * Write entry `name` of `dfd`. A directory's descriptor is handed back in
 * `*subdir` (the walk goes into it), anything else's is closed.
 */
static int add_entry(struct layer_tar *t, int dfd, const char *name,
		     unsigned char dtype, int *subdir)
{
	struct archive_entry *e;
	struct statx sx;
	struct stat st;
	char target[PATH_MAX], v[2];
	int err, fd;

	*subdir = -1;
	err = open_entry(t, dfd, name, dtype, &sx, &fd);
	if (err)
		return err > 0 ? 0 : err; /* 1: vanished */
	stat_from_statx(&st, &sx);
	if (is_whiteout(&st) || S_ISSOCK(st.st_mode)) {
		if (fd >= 0)
			close(fd);
		/* tar has no sockets */
		return S_ISSOCK(st.st_mode) ? 0 : add_whiteout(t, name);
	}
	t->caplen = 0;
	if (t->evidence)
		ev_begin(t, &sx, fd, dfd, name);
	t->entries++;
	e = entry_for(t, &st, "");
	snap_ar.archive_entry_set_filetype(e, st.st_mode & S_IFMT);
	if (S_ISLNK(st.st_mode)) {
		ssize_t n = readlinkat(dfd, name, target, sizeof(target) - 1);

		target[n > 0 ? n : 0] = '\0';
		snap_ar.archive_entry_set_symlink(e, target);
	} else if (S_ISCHR(st.st_mode) || S_ISBLK(st.st_mode)) {
		snap_ar.archive_entry_set_rdev(e, st.st_rdev);
	}
	if (S_ISREG(st.st_mode)) {
		err = add_regular(t, e, fd, &st);
	} else if (header_failed(t, e)) {
		err = tar_error(t, "cannot write");
	} else if (S_ISDIR(st.st_mode) && fd >= 0 &&
		   ovl_get(fd, "opaque", v, sizeof(v)) == 1 && v[0] == 'y') {
		/* (the directory's entry is written: reused for this) */
		struct archive_entry *o = entry_for(t, &st, "/.wh..wh..opq");

		snap_ar.archive_entry_set_filetype(o, AE_IFREG);
		snap_ar.archive_entry_set_size(o, 0);
		if (header_failed(t, o))
			err = tar_error(t, "cannot write");
		if (t->evidence)
			dw_buf_adds(t->evidence, ",\"opaque\":true");
	}
	if (t->evidence)
		dw_buf_addch(t->evidence, '}');
	if (!err && S_ISDIR(st.st_mode) && fd >= 0) {
		*subdir = fd;
		return 0;
	}
	if (fd >= 0)
		close(fd);
	return err;
}

/*
 * Past the pause's deadline the watchdog has let the container run: what
 * d_type said no longer vouches for anything (safe opens from here on),
 * and the evidence says the capture outlived its pause.
 */
static void check_pause(struct layer_tar *t)
{
	struct timespec ts;

	/* (2: an image layer, which never changes: no pause to outlast.) */
	if (t->frozen != 1 || !t->budget || !t->budget->pause_deadline_ms)
		return;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	if ((long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000 >=
	    t->budget->pause_deadline_ms) {
		t->frozen = 0;
		t->pause_expired = 1;
	}
}

/* A directory being written: its sorted names and where we are. */
struct frame {
	int fd;
	char **names; /* d_type, then the name */
	size_t n, i;
	size_t base; /* t->path's length at this directory */
};

/*
 * How deep the walk may go: each level holds its directory open, so the
 * descriptors left bound it, and MAX_DEPTH does in any case.
 */
static size_t layer_max_depth(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) || rl.rlim_cur == RLIM_INFINITY ||
	    rl.rlim_cur > MAX_DEPTH + 64)
		return MAX_DEPTH;
	return rl.rlim_cur > 128 ? (size_t)rl.rlim_cur - 64 : 32;
}

/* Start on directory `fd` (the caller keeps it on failure). */
static int push_dir(struct layer_tar *t, struct frame *f, int fd)
{
	*f = (struct frame){fd, NULL, 0, 0, t->path.len};
	f->names = dir_names(fd, &f->n);
	if (f->names)
		return 0;
	return dw_error_errno(DW_EIO, errno, "snapshot: cannot read %s",
			      t->path.len ? t->path.ptr : "/");
}

static void pop_dir(struct frame *f)
{
	while (f->i < f->n)
		free(f->names[f->i++]);
	free(f->names);
	if (f->fd >= 0)
		close(f->fd);
}

/*
 * Every entry below `root`, depth first in name order, with no recursion:
 * the stack is ours, on the heap, so a container's depth costs no C stack
 * (its frames were 14.5 KB a level: 700 levels crashed the capture). A
 * directory deeper than the descriptors allow is written but not entered:
 * counted in t->truncated, the first named, and the capture goes on.
 */
static int walk_layer(struct layer_tar *t, int root)
{
	size_t max = layer_max_depth(), depth = 0, alloc = 0;
	struct frame *stack = NULL;
	int err;

	DW_ALLOC_GROW(stack, 1, alloc);
	err = push_dir(t, &stack[0], root);
	depth = err ? 0 : 1;
	while (!err && depth) {
		struct frame *f = &stack[depth - 1];
		char *e;
		int sub = -1;

		if (f->i == f->n) {
			f->fd = depth == 1 ? -1
					   : f->fd; /* root: the caller's */
			pop_dir(f);
			depth--;
			if (depth)
				dw_buf_setlen(&t->path, stack[depth - 1].base);
			continue;
		}
		e = f->names[f->i++];
		check_pause(t);
		dw_buf_setlen(&t->path, f->base);
		if (f->base)
			dw_buf_addch(&t->path, '/');
		dw_buf_adds(&t->path, e + 1);
		err = add_entry(t, f->fd, e + 1, (unsigned char)e[0], &sub);
		free(e);
		if (err || sub < 0) {
			if (sub >= 0)
				close(sub);
			continue;
		}
		if (depth >= max) {
			close(sub);
			if (!t->truncated++) {
				struct dw_buf b = DW_BUF_INIT;

				dw_escape_path(&b, t->path.ptr,
					       t->path.len > 200 ? 200
								 : t->path.len);
				if (t->path.len > 200)
					dw_buf_adds(&b, "...");
				t->truncated_at = dw_buf_detach(&b, NULL);
			}
			continue;
		}
		DW_ALLOC_GROW(stack, depth + 1, alloc);
		err = push_dir(t, &stack[depth], sub);
		if (err)
			close(sub);
		else
			depth++;
	}
	while (depth) {
		if (depth == 1)
			stack[0].fd = -1;
		pop_dir(&stack[--depth]);
	}
	free(stack);
	return err;
}

/* The files' digests the writer's thread took, into the evidence. */
static int fill_digests(struct layer_tar *t, const struct snap_awriter *w)
{
	size_t i;

	for (i = 0; i < t->npatch; i++) {
		if (t->patch[i].file >= w->ndigest)
			return dw_error_set(DW_ERROR,
					    "snapshot: a file's digest was not "
					    "taken (file %u)",
					    (unsigned)t->patch[i].file);
		memcpy(t->evidence->ptr + t->patch[i].at,
		       w->digest[t->patch[i].file], 64);
	}
	return 0;
}

/*
 * Write layer dir `dir` as an uncompressed tar to `fd`, its digest into
 * `digest` (hex). `evidence` (or NULL) collects every entry.
 */
int snap_tar_layer(const char *dir, int fd, int durable, char digest[65],
		   uint64_t *size, struct dw_buf *evidence,
		   struct snap_tar_stats *out_stats, int frozen,
		   const struct dw_snapshot_budget *budget)
{
	struct layer_tar t;
	struct hout h;
	int dfd, err;

	memset(&t, 0, sizeof(t));
	t.frozen = frozen;
	t.evidence = evidence;
	t.budget = budget;
	t.copybuf = dw_xmalloc(COPY_SIZE);
	t.md = EVP_MD_CTX_new();
	t.entry = snap_ar.archive_entry_new();
	dw_buf_init(&t.path, 0);
	dw_buf_adds(&t.path, "");
	snap_hout_init(&h, fd);
	h.durable = durable;
	t.a = snap_ar.archive_write_new();
	snap_ar.archive_write_set_format_pax_restricted(t.a);
	/* Big writes; the last block is not padded out. */
	snap_ar.archive_write_set_bytes_per_block(t.a, 1 << 16);
	snap_ar.archive_write_set_bytes_in_last_block(t.a, 1);
	dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0) {
		err = dw_error_errno(DW_EIO, errno, "snapshot: cannot open %s",
				     dir);
	} else {
		struct snap_awriter w;

		snap_aw_start(&w, &h);
		t.aw = &w;
		if (snap_ar.archive_write_open(t.a, &w, NULL, snap_aw_write,
					       NULL) != ARCHIVE_OK) {
			err = tar_error(&t, "cannot start");
		} else {
			err = walk_layer(&t, dfd);
			if (snap_ar.archive_write_close(t.a) != ARCHIVE_OK &&
			    !err)
				err = tar_error(&t, "cannot finish");
		}
		snap_aw_finish(&w);
		if (!err)
			err = fill_digests(&t, &w);
		snap_aw_release(&w);
		t.aw = NULL;
	}
	/* The writer's own reason (a full disk) over libarchive's. */
	if (h.failed)
		err = dw_error_errno(DW_EIO, h.failed,
				     "snapshot: cannot "
				     "write the layer of %s",
				     dir);
	if (dfd >= 0)
		close(dfd);
	snap_ar.archive_write_free(t.a);
	snap_hout_final(&h, digest);
	*size = h.size;
	if (out_stats) {
		out_stats->entries = t.entries;
		out_stats->changed = t.changed;
		out_stats->truncated = t.truncated;
		out_stats->pause_expired = t.pause_expired;
		out_stats->truncated_at = t.truncated_at;
		t.truncated_at = NULL;
	}
	for (size_t i = 0; i < t.links_alloc; i++)
		free(t.links[i].path);
	free(t.links);
	free(t.truncated_at);
	free(t.copybuf);
	EVP_MD_CTX_free(t.md);
	snap_ar.archive_entry_free(t.entry);
	free(t.patch);
	dw_buf_release(&t.path);
	dw_buf_release(&t.abs);
	return err;
}
