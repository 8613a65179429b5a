/* Snapshots: one layer dir as a tar, hashed as it is written. */
#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <errno.h>
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

#define MAX_DEPTH 4096
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

/* ---- one layer dir as a tar ---- */

struct hardlink {
	dev_t dev;
	ino_t ino;
	char *path;
};

struct layer_tar {
	struct archive *a;
	struct dw_buf path;	 /* relative, no leading slash */
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
	EVP_MD_CTX *md;		   /* reused for every file */
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

static struct archive_entry *
entry_for(struct layer_tar *t, const struct stat *st, const char *suffix)
{
	struct archive_entry *e = snap_ar.archive_entry_new();
	struct dw_buf p = DW_BUF_INIT;

	dw_buf_addf(&p, "%s%s", t->path.ptr, suffix);
	snap_ar.archive_entry_set_pathname(e, p.ptr);
	dw_buf_release(&p);
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
static void json_str(struct dw_buf *b, const char *str)
{
	json_t *v = json_string(str);
	size_t n;

	if (!v) {
		struct dw_buf clean = DW_BUF_INIT;

		dw_utf8_sanitize(&clean, str, strlen(str));
		v = json_string(clean.ptr);
		dw_buf_release(&clean);
	}
	n = json_dumpb(v, NULL, 0, JSON_ENCODE_ANY);
	dw_buf_grow(b, n);
	json_dumpb(v, b->ptr + b->len, n, JSON_ENCODE_ANY);
	b->len += n;
	b->ptr[b->len] = '\0';
	json_decref(v);
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
	{
		struct dw_buf abs = DW_BUF_INIT;

		dw_buf_addf(&abs, "/%s", t->path.ptr);
		json_str(b, abs.ptr);
		dw_buf_release(&abs);
	}
#define NS(ts) ((long long)(ts).tv_sec * 1000000000LL + (ts).tv_nsec)
	{
		char line[320];
		int k = snprintf(
			line, sizeof(line),
			",\"mode\":\"%06o\",\"uid\":%u,\"gid\":%u,"
			"\"size\":%llu,\"inode\":%llu,\"nlink\":%u,"
			"\"atime_ns\":%lld,\"mtime_ns\":%lld,\"ctime_ns\":%lld",
			sx->stx_mode, sx->stx_uid, sx->stx_gid,
			(unsigned long long)sx->stx_size,
			(unsigned long long)sx->stx_ino, sx->stx_nlink,
			NS(sx->stx_atime), NS(sx->stx_mtime),
			NS(sx->stx_ctime));

		dw_buf_add(b, line, (size_t)k);
	}
	if (sx->stx_mask & STATX_BTIME)
		dw_buf_addf(b, ",\"btime_ns\":%lld", NS(sx->stx_btime));
#undef NS
	if (S_ISCHR(sx->stx_mode) || S_ISBLK(sx->stx_mode))
		dw_buf_addf(b, ",\"rdev\":\"%u:%u\"", sx->stx_rdev_major,
			    sx->stx_rdev_minor);
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

/* Copy an open regular file into the archive, hashing it. */
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
		EVP_DigestUpdate(t->md, t->copybuf, (size_t)n);
		if (snap_ar.archive_write_data(t->a, t->copybuf, (size_t)n) < 0)
			return tar_error(t, "cannot write");
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

	EVP_DigestInit_ex(t->md, sha256_md(), NULL);
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
	EVP_DigestFinal_ex(t->md, dig, &dlen);
	dw_hex(sha, dig, 32);
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
	if (snap_ar.archive_write_header(t->a, e) != ARCHIVE_OK)
		err = tar_error(t, "cannot write");
	snap_ar.archive_entry_free(e);
	dw_buf_release(&wh);
	t->entries++;
	if (t->evidence) {
		struct dw_buf abs = DW_BUF_INIT;

		ev_sep(t);
		dw_buf_adds(t->evidence, "{\"path\":");
		dw_buf_addf(&abs, "/%s", t->path.ptr);
		json_str(t->evidence, abs.ptr);
		dw_buf_adds(t->evidence, ",\"whiteout\":\"deleted\"}");
		dw_buf_release(&abs);
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
	if (snap_ar.archive_write_header(t->a, e) != ARCHIVE_OK)
		return tar_error(t, "cannot write");
	if (snap_ar.archive_entry_hardlink(e))
		return 0;
	err = add_file_data(t, fd, st, &x, sha);
	if (err < 0)
		return err;
	if (t->evidence && x.n)
		ev_sparse(t, &x, st);
	if (t->evidence && err == 0 && x.n)
		dw_buf_addf(t->evidence, ",\"sha256_data\":\"sha256:%s\"", sha);
	else if (t->evidence && err == 0)
		dw_buf_addf(t->evidence, ",\"sha256\":\"sha256:%s\"", sha);
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
		fd = openat(dfd, name,
			    O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC |
				    (dtype == DT_DIR ? O_DIRECTORY : 0));
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
				fd = dw_reopen_regular(fd, t->path.ptr, 0,
						       &now);
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
	} else if (snap_ar.archive_write_header(t->a, e) != ARCHIVE_OK) {
		err = tar_error(t, "cannot write");
	} else if (S_ISDIR(st.st_mode) && fd >= 0 &&
		   ovl_get(fd, "opaque", v, sizeof(v)) == 1 && v[0] == 'y') {
		struct archive_entry *o = entry_for(t, &st, "/.wh..wh..opq");

		snap_ar.archive_entry_set_filetype(o, AE_IFREG);
		snap_ar.archive_entry_set_size(o, 0);
		if (snap_ar.archive_write_header(t->a, o) != ARCHIVE_OK)
			err = tar_error(t, "cannot write");
		snap_ar.archive_entry_free(o);
		if (t->evidence)
			dw_buf_adds(t->evidence, ",\"opaque\":true");
	}
	snap_ar.archive_entry_free(e);
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

/*
 * Write layer dir `dir` as an uncompressed tar to `fd`, its digest into
 * `digest` (hex). `evidence` (or NULL) collects every entry.
 */
int snap_tar_layer(const char *dir, int fd, char digest[65], uint64_t *size,
		   struct dw_buf *evidence, struct snap_tar_stats *out_stats,
		   int frozen, const struct dw_snapshot_budget *budget)
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
	dw_buf_init(&t.path, 0);
	dw_buf_adds(&t.path, "");
	snap_hout_init(&h, fd);
	t.a = snap_ar.archive_write_new();
	snap_ar.archive_write_set_format_pax_restricted(t.a);
	/* Big writes; the last block is not padded out. */
	snap_ar.archive_write_set_bytes_per_block(t.a, 1 << 16);
	snap_ar.archive_write_set_bytes_in_last_block(t.a, 1);
	dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0) {
		err = dw_error_errno(DW_EIO, errno, "snapshot: cannot open %s",
				     dir);
	} else if (snap_ar.archive_write_open(t.a, &h, NULL, snap_ar_write,
					      NULL) != ARCHIVE_OK) {
		err = tar_error(&t, "cannot start");
	} else {
		err = walk_layer(&t, dfd);
		if (snap_ar.archive_write_close(t.a) != ARCHIVE_OK && !err)
			err = tar_error(&t, "cannot finish");
	}
	if (!err && h.failed)
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
	dw_buf_release(&t.path);
	return err;
}
