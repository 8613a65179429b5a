/*
 * Forensic snapshots: layer tars (libarchive), the docker-loadable image
 * archive, the evidence record, and their verification.
 */
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
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/utsname.h>
#include <sys/xattr.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "driftwatch/buf.h"
#include "driftwatch/diff.h"
#include "driftwatch/error.h"
#include "driftwatch/escape.h"
#include "driftwatch/json.h"
#include "snapshot.h"
#include "driftwatch/xmalloc.h"
#include "driftwatch/lazylib.h"
#include "driftwatch/banned.h"

/*
 * libarchive and the dozen compression and XML libraries it brings are
 * loaded on first use: only snapshots need them (see lazylib.h).
 */
#define ARCHIVE_SYMS(X) \
	X(archive_entry_free) \
	X(archive_entry_hardlink) \
	X(archive_entry_new) \
	X(archive_entry_pathname) \
	X(archive_entry_set_filetype) \
	X(archive_entry_set_gid) \
	X(archive_entry_set_hardlink) \
	X(archive_entry_set_mtime) \
	X(archive_entry_set_pathname) \
	X(archive_entry_set_perm) \
	X(archive_entry_set_rdev) \
	X(archive_entry_set_size) \
	X(archive_entry_set_symlink) \
	X(archive_entry_set_uid) \
	X(archive_entry_xattr_add_entry) \
	X(archive_error_string) \
	X(archive_read_data) \
	X(archive_read_free) \
	X(archive_read_new) \
	X(archive_read_next_header) \
	X(archive_read_open_filename) \
	X(archive_read_support_format_tar) \
	X(archive_write_close) \
	X(archive_write_data) \
	X(archive_write_free) \
	X(archive_write_header) \
	X(archive_write_new) \
	X(archive_write_open) \
	X(archive_write_set_bytes_in_last_block) \
	X(archive_write_set_bytes_per_block) \
	X(archive_write_set_format_pax_restricted) \

static struct {
#define DECLARE(f) __typeof__(f) *f;
	ARCHIVE_SYMS(DECLARE)
#undef DECLARE
} ar;

static const struct dw_lazy_sym archive_syms[] = {
#define SLOT(f) { #f, (void **)&ar.f },
	ARCHIVE_SYMS(SLOT)
#undef SLOT
};

static struct dw_lazy_lib libarchive = {
	"libarchive.so.13", archive_syms,
	sizeof(archive_syms) / sizeof(archive_syms[0]), 0, ""
};

#define COPY_SIZE (1u << 20)
#define MAX_DEPTH 4096

/* ---- hashing writer ---- */

struct hout {
	int fd;
	EVP_MD_CTX *md;
	uint64_t size;
	int failed;
};

/* OpenSSL 3 looks an algorithm up at every init unless it is fetched. */
static EVP_MD *sha256_md(void)
{
	static EVP_MD *md;

	if (!md)
		md = EVP_MD_fetch(NULL, "SHA256", NULL);
	return md;
}

static void hout_init(struct hout *h, int fd)
{
	h->fd = fd;
	h->md = EVP_MD_CTX_new();
	h->size = 0;
	h->failed = 0;
	EVP_DigestInit_ex(h->md, sha256_md(), NULL);
}

static int hout_write(struct hout *h, const void *p, size_t n)
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
static void hout_final(struct hout *h, char out[65])
{
	unsigned char dig[EVP_MAX_MD_SIZE];
	unsigned len = 0;

	EVP_DigestFinal_ex(h->md, dig, &len);
	EVP_MD_CTX_free(h->md);
	h->md = NULL;
	dw_hex(out, dig, 32);
}

static la_ssize_t ar_write(struct archive *a, void *ctx, const void *buf,
			   size_t n)
{
	(void)a;
	return hout_write(ctx, buf, n) ? -1 : (la_ssize_t)n;
}

/* ---- one layer dir as a tar ---- */

struct hardlink {
	dev_t dev;
	ino_t ino;
	char *path;
};

struct layer_tar {
	struct archive *a;
	struct dw_buf path;	/* relative, no leading slash */
	struct dw_buf *evidence;	/* JSON objects, comma-separated */
	struct hardlink *links;
	size_t nlinks, links_alloc;
	size_t depth;
	uint64_t entries;
	int changed;		/* a file changed while read */
	int frozen;		/* the container is paused: nothing moves */
	char *copybuf;
	EVP_MD_CTX *md;		/* reused for every file */
	char cap[256];		/* security.capability of the entry, if any */
	ssize_t caplen;
};

static int is_whiteout(const struct stat *st)
{
	return S_ISCHR(st->st_mode) && !major(st->st_rdev) &&
	       !minor(st->st_rdev);
}

static ssize_t ovl_get(int fd, const char *key, char *v, size_t n)
{
	char k[64];
	ssize_t r;

	snprintf(k, sizeof(k), "trusted.overlay.%s", key);
	r = fgetxattr(fd, k, v, n);
	if (r < 0) {
		snprintf(k, sizeof(k), "user.overlay.%s", key);
		r = fgetxattr(fd, k, v, n);
	}
	return r;
}

static int tar_error(struct layer_tar *t, const char *what)
{
	return dw_error_set(DW_EIO, "snapshot: %s %s: %s", what,
			    t->path.ptr, ar.archive_error_string(t->a) ?
			    ar.archive_error_string(t->a) : "write failed");
}

static struct archive_entry *entry_for(struct layer_tar *t,
				       const struct stat *st, const char *suffix)
{
	struct archive_entry *e = ar.archive_entry_new();
	struct dw_buf p = DW_BUF_INIT;

	dw_buf_addf(&p, "%s%s", t->path.ptr, suffix);
	ar.archive_entry_set_pathname(e, p.ptr);
	dw_buf_release(&p);
	ar.archive_entry_set_uid(e, st->st_uid);
	ar.archive_entry_set_gid(e, st->st_gid);
	ar.archive_entry_set_perm(e, st->st_mode & 07777);
	ar.archive_entry_set_mtime(e, st->st_mtim.tv_sec, st->st_mtim.tv_nsec);
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
	return v ? v : dw_xcalloc(1, sizeof(char *));	/* NULL: error only */
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
		int k = snprintf(line, sizeof(line),
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
	n = fd >= 0 ? flistxattr(fd, list, sizeof(list)) :
		      llistxattr(proc, list, sizeof(list));
	dw_buf_adds(b, ",\"xattrs_base64\":{");
	for (i = 0; n > 0 && i < n; i += (ssize_t)strlen(list + i) + 1) {
		ssize_t v = fd >= 0 ? fgetxattr(fd, list + i, val, sizeof(val)) :
			    lgetxattr(proc, list + i, val, sizeof(val));

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
	st->st_ino = sx->stx_ino;
	st->st_nlink = sx->stx_nlink;
	st->st_dev = makedev(sx->stx_dev_major, sx->stx_dev_minor);
	st->st_rdev = makedev(sx->stx_rdev_major, sx->stx_rdev_minor);
	st->st_mtim.tv_sec = sx->stx_mtime.tv_sec;
	st->st_mtim.tv_nsec = sx->stx_mtime.tv_nsec;
}

/* Copy an open regular file into the archive, hashing it. */
static int add_file_data(struct layer_tar *t, int fd, const struct stat *st,
			 char sha[65])
{
	EVP_MD_CTX *md = t->md;
	unsigned char dig[EVP_MAX_MD_SIZE];
	unsigned dlen = 0;
	uint64_t left = (uint64_t)st->st_size;
	int err = 0;

	EVP_DigestInit_ex(md, sha256_md(), NULL);
	while (left && fd >= 0) {
		ssize_t n = read(fd, t->copybuf, left < COPY_SIZE ? left :
						       COPY_SIZE);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;	/* shrank while read: libarchive pads */
		EVP_DigestUpdate(md, t->copybuf, (size_t)n);
		if (ar.archive_write_data(t->a, t->copybuf, (size_t)n) < 0) {
			err = tar_error(t, "cannot write");
			break;
		}
		left -= (uint64_t)n;
	}
	if (left)
		t->changed = 1;
	EVP_DigestFinal_ex(md, dig, &dlen);
	dw_hex(sha, dig, 32);
	return err || left ? (err ? err : 1) : 0;
}

static int walk_layer(struct layer_tar *t, int dfd);

static int add_whiteout(struct layer_tar *t, const char *name)
{
	struct dw_buf wh = DW_BUF_INIT;
	const char *slash = strrchr(t->path.ptr, '/');
	size_t dirlen = slash ? (size_t)(slash - t->path.ptr) + 1 : 0;
	struct archive_entry *e = ar.archive_entry_new();
	int err = 0;

	/* The deletion, in the form image layers carry it. */
	dw_buf_add(&wh, t->path.ptr, dirlen);
	dw_buf_addf(&wh, ".wh.%s", name);
	ar.archive_entry_set_pathname(e, wh.ptr);
	ar.archive_entry_set_filetype(e, AE_IFREG);
	ar.archive_entry_set_perm(e, 0644);
	ar.archive_entry_set_size(e, 0);
	if (ar.archive_write_header(t->a, e) != ARCHIVE_OK)
		err = tar_error(t, "cannot write");
	ar.archive_entry_free(e);
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
static void add_capability(struct layer_tar *t, struct archive_entry *e,
			   int fd)
{
	if (!t->evidence)
		t->caplen = fgetxattr(fd, "security.capability", t->cap,
				      sizeof(t->cap));
	if (t->caplen > 0)
		ar.archive_entry_xattr_add_entry(e, "security.capability", t->cap,
					      (size_t)t->caplen);
}

/* A regular file: hard links kept as links, contents hashed. */
static int add_regular(struct layer_tar *t, struct archive_entry *e, int fd,
		       const struct stat *st)
{
	char sha[65];
	size_t i;
	int err;

	for (i = 0; st->st_nlink > 1 && i < t->nlinks; i++) {
		if (t->links[i].dev == st->st_dev &&
		    t->links[i].ino == st->st_ino) {
			ar.archive_entry_set_hardlink(e, t->links[i].path);
			break;
		}
	}
	if (st->st_nlink > 1 && i == t->nlinks) {
		DW_ALLOC_GROW(t->links, t->nlinks + 1, t->links_alloc);
		t->links[t->nlinks++] = (struct hardlink){
			st->st_dev, st->st_ino, dw_xstrdup(t->path.ptr) };
	}
	if (!ar.archive_entry_hardlink(e))
		ar.archive_entry_set_size(e, st->st_size);
	if (fd >= 0)
		add_capability(t, e, fd);
	if (ar.archive_write_header(t->a, e) != ARCHIVE_OK)
		return tar_error(t, "cannot write");
	if (ar.archive_entry_hardlink(e))
		return 0;
	err = add_file_data(t, fd, st, sha);
	if (err < 0)
		return err;
	if (t->evidence && err == 0)
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
	if (t->frozen && (dtype == DT_REG || dtype == DT_DIR)) {
		fd = openat(dfd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK |
			    O_CLOEXEC | (dtype == DT_DIR ? O_DIRECTORY : 0));
		if (fd >= 0 && !statx(fd, "", AT_EMPTY_PATH, mask, sx)) {
			*fdp = fd;
			return 0;
		}
		if (fd >= 0)
			close(fd);
	}
	if (statx(dfd, name, AT_SYMLINK_NOFOLLOW, mask, sx) < 0)
		return errno == ENOENT ? 1 : dw_error_errno(DW_EIO, errno,
			"snapshot: cannot stat %s", t->path.ptr);
	if (S_ISREG(sx->stx_mode) || S_ISDIR(sx->stx_mode)) {
		struct stat now;

		fd = openat(dfd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK |
			    O_CLOEXEC | (S_ISDIR(sx->stx_mode) ?
					 O_DIRECTORY : 0));
		if (fd >= 0 && (fstat(fd, &now) || now.st_ino != sx->stx_ino ||
				(now.st_mode & S_IFMT) !=
				(sx->stx_mode & S_IFMT))) {
			close(fd);	/* swapped since we looked */
			fd = -1;
		}
	}
	*fdp = fd;
	return 0;
}

static int add_entry(struct layer_tar *t, int dfd, const char *name,
		     unsigned char dtype)
{
	struct archive_entry *e;
	struct statx sx;
	struct stat st;
	char target[PATH_MAX], v[2];
	int err, fd;

	err = open_entry(t, dfd, name, dtype, &sx, &fd);
	if (err)
		return err > 0 ? 0 : err;	/* 1: vanished */
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
	ar.archive_entry_set_filetype(e, st.st_mode & S_IFMT);
	if (S_ISLNK(st.st_mode)) {
		ssize_t n = readlinkat(dfd, name, target, sizeof(target) - 1);

		target[n > 0 ? n : 0] = '\0';
		ar.archive_entry_set_symlink(e, target);
	} else if (S_ISCHR(st.st_mode) || S_ISBLK(st.st_mode)) {
		ar.archive_entry_set_rdev(e, st.st_rdev);
	}
	if (S_ISREG(st.st_mode)) {
		err = add_regular(t, e, fd, &st);
	} else if (ar.archive_write_header(t->a, e) != ARCHIVE_OK) {
		err = tar_error(t, "cannot write");
	} else if (S_ISDIR(st.st_mode) && fd >= 0 &&
		   ovl_get(fd, "opaque", v, sizeof(v)) == 1 && v[0] == 'y') {
		struct archive_entry *o = entry_for(t, &st, "/.wh..wh..opq");

		ar.archive_entry_set_filetype(o, AE_IFREG);
		ar.archive_entry_set_size(o, 0);
		if (ar.archive_write_header(t->a, o) != ARCHIVE_OK)
			err = tar_error(t, "cannot write");
		ar.archive_entry_free(o);
		if (t->evidence)
			dw_buf_adds(t->evidence, ",\"opaque\":true");
	}
	ar.archive_entry_free(e);
	if (t->evidence)
		dw_buf_addch(t->evidence, '}');
	if (!err && S_ISDIR(st.st_mode) && fd >= 0)
		err = walk_layer(t, fd);
	if (fd >= 0)
		close(fd);
	return err;
}

static int walk_layer(struct layer_tar *t, int dfd)
{
	size_t n, i, base = t->path.len;
	char **names;
	int err = 0;

	if (++t->depth > MAX_DEPTH)
		return dw_error_set(DW_ELIMIT, "snapshot: %s nests deeper "
				    "than %d", t->path.ptr, MAX_DEPTH);
	names = dir_names(dfd, &n);
	if (!names)
		err = dw_error_errno(DW_EIO, errno, "snapshot: cannot read "
				     "%s", base ? t->path.ptr : "/");
	for (i = 0; i < n; i++) {
		if (!err) {
			if (base)
				dw_buf_addch(&t->path, '/');
			dw_buf_adds(&t->path, names[i] + 1);
			err = add_entry(t, dfd, names[i] + 1,
					(unsigned char)names[i][0]);
			dw_buf_setlen(&t->path, base);
		}
		free(names[i]);
	}
	free(names);
	t->depth--;
	return err;
}

/*
 * Write layer dir `dir` as an uncompressed tar to `fd`, its digest into
 * `digest` (hex). `evidence` (or NULL) collects every entry.
 */
static int tar_layer(const char *dir, int fd, char digest[65], uint64_t *size,
		     struct dw_buf *evidence, struct layer_tar *out_stats,
		     int frozen)
{
	struct layer_tar t;
	struct hout h;
	int dfd, err;

	memset(&t, 0, sizeof(t));
	t.frozen = frozen;
	t.evidence = evidence;
	t.copybuf = dw_xmalloc(COPY_SIZE);
	t.md = EVP_MD_CTX_new();
	dw_buf_init(&t.path, 0);
	dw_buf_adds(&t.path, "");
	hout_init(&h, fd);
	t.a = ar.archive_write_new();
	ar.archive_write_set_format_pax_restricted(t.a);
	/* Big writes; the last block is not padded out. */
	ar.archive_write_set_bytes_per_block(t.a, 1 << 16);
	ar.archive_write_set_bytes_in_last_block(t.a, 1);
	dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0) {
		err = dw_error_errno(DW_EIO, errno, "snapshot: cannot open %s",
				     dir);
	} else if (ar.archive_write_open(t.a, &h, NULL, ar_write, NULL) !=
		   ARCHIVE_OK) {
		err = tar_error(&t, "cannot start");
	} else {
		err = walk_layer(&t, dfd);
		if (ar.archive_write_close(t.a) != ARCHIVE_OK && !err)
			err = tar_error(&t, "cannot finish");
	}
	if (!err && h.failed)
		err = dw_error_errno(DW_EIO, h.failed, "snapshot: cannot "
				     "write the layer of %s", dir);
	if (dfd >= 0)
		close(dfd);
	ar.archive_write_free(t.a);
	hout_final(&h, digest);
	*size = h.size;
	if (out_stats) {
		out_stats->entries = t.entries;
		out_stats->changed = t.changed;
	}
	for (size_t i = 0; i < t.nlinks; i++)
		free(t.links[i].path);
	free(t.links);
	free(t.copybuf);
	EVP_MD_CTX_free(t.md);
	dw_buf_release(&t.path);
	return err;
}

/* ---- the image archive ---- */

struct blob {
	char digest[65];
	uint64_t size;
	char *file;		/* a temp file, or NULL for `data` */
	char *data;
};

struct blobs {
	struct blob *v;
	size_t n, alloc;
};

static struct blob *blob_new(struct blobs *b)
{
	DW_ALLOC_GROW(b->v, b->n + 1, b->alloc);
	memset(&b->v[b->n], 0, sizeof(b->v[0]));
	return &b->v[b->n++];
}

static void blob_json(struct blobs *b, json_t *j, char digest[65],
		      uint64_t *size)
{
	struct dw_buf buf = DW_BUF_INIT;
	struct blob *x = blob_new(b);
	struct hout h;

	dw_json_dump(&buf, j, JSON_PRESERVE_ORDER);
	hout_init(&h, -1);
	EVP_DigestUpdate(h.md, buf.ptr, buf.len);
	hout_final(&h, x->digest);
	x->size = buf.len;
	x->data = dw_buf_detach(&buf, NULL);
	memcpy(digest, x->digest, 65);
	*size = x->size;
}

static int write_member(struct archive *a, const char *name, const char *data,
			size_t len, const char *file, uint64_t size,
			char *copybuf)
{
	struct archive_entry *e = ar.archive_entry_new();
	int err = 0, fd = -1;

	ar.archive_entry_set_pathname(e, name);
	ar.archive_entry_set_filetype(e, AE_IFREG);
	ar.archive_entry_set_perm(e, 0644);
	ar.archive_entry_set_size(e, file ? (la_int64_t)size : (la_int64_t)len);
	ar.archive_entry_set_mtime(e, time(NULL), 0);
	if (ar.archive_write_header(a, e) != ARCHIVE_OK)
		err = DW_EIO;
	if (!err && !file && ar.archive_write_data(a, data, len) < 0)
		err = DW_EIO;
	if (!err && file) {
		ssize_t n;

		fd = open(file, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			err = DW_EIO;
		while (!err && (n = read(fd, copybuf, COPY_SIZE)) > 0)
			if (ar.archive_write_data(a, copybuf, (size_t)n) < 0)
				err = DW_EIO;
	}
	if (fd >= 0)
		close(fd);
	ar.archive_entry_free(e);
	return err ? dw_error_set(DW_EIO, "snapshot: cannot write %s: %s",
				  name, ar.archive_error_string(a) ?
				  ar.archive_error_string(a) : strerror(errno)) : 0;
}

static int write_dir(struct archive *a, const char *name)
{
	struct archive_entry *e = ar.archive_entry_new();
	int rc;

	ar.archive_entry_set_pathname(e, name);
	ar.archive_entry_set_filetype(e, AE_IFDIR);
	ar.archive_entry_set_perm(e, 0755);
	ar.archive_entry_set_mtime(e, time(NULL), 0);
	rc = ar.archive_write_header(a, e);
	ar.archive_entry_free(e);
	return rc == ARCHIVE_OK ? 0 : DW_EIO;
}

/* The outer tar docker load reads, written through `h`. */
static int write_image(struct hout *h, struct blobs *b, const char *extra[][2],
		       size_t nextra)
{
	struct archive *a = ar.archive_write_new();
	char *copybuf = dw_xmalloc(COPY_SIZE);
	struct dw_buf name = DW_BUF_INIT;
	size_t i;
	int err = 0;

	ar.archive_write_set_format_pax_restricted(a);
	if (ar.archive_write_open(a, h, NULL, ar_write, NULL) != ARCHIVE_OK)
		err = DW_EIO;
	for (i = 0; !err && i < nextra; i++)
		err = write_member(a, extra[i][0], extra[i][1],
				   strlen(extra[i][1]), NULL, 0, copybuf);
	if (!err)
		err = write_dir(a, "blobs/");
	if (!err)
		err = write_dir(a, "blobs/sha256/");
	for (i = 0; !err && i < b->n; i++) {
		dw_buf_reset(&name);
		dw_buf_addf(&name, "blobs/sha256/%s", b->v[i].digest);
		err = write_member(a, name.ptr, b->v[i].data,
				   b->v[i].data ? b->v[i].size : 0,
				   b->v[i].file, b->v[i].size, copybuf);
	}
	if (ar.archive_write_close(a) != ARCHIVE_OK && !err)
		err = dw_error_set(DW_EIO, "snapshot: cannot finish the "
				   "archive: %s", ar.archive_error_string(a));
	ar.archive_write_free(a);
	free(copybuf);
	dw_buf_release(&name);
	if (err == DW_EIO && !*dw_error_last())
		dw_error_set(DW_EIO, "snapshot: cannot write the archive");
	return err;
}

static json_t *descriptor(const char *media, const char *digest,
			  uint64_t size)
{
	return json_pack("{s:s, s:s+, s:I}", "mediaType", media, "digest",
			 "sha256:", digest, "size", (json_int_t)size);
}

/* This machine's architecture in Go's (and so OCI's) words. */
static const char *go_arch(void)
{
	static struct utsname u;

	if (uname(&u))
		return "amd64";
	if (!strcmp(u.machine, "x86_64"))
		return "amd64";
	if (!strcmp(u.machine, "aarch64"))
		return "arm64";
	if (!strncmp(u.machine, "arm", 3))
		return "arm";
	return u.machine;
}

/* The new image's config: the container's, our layers, our history. */
static json_t *image_config(json_t *inspect, const struct blobs *layers,
			    const char *reason)
{
	json_t *cfg = json_object(), *diff = json_array(), *hist = json_array();
	json_t *c = dw_json_path(inspect, "Config");
	char now[32];
	struct tm tm;
	time_t t = time(NULL);
	size_t i;

	gmtime_r(&t, &tm);
	strftime(now, sizeof(now), "%Y-%m-%dT%H:%M:%SZ", &tm);
	for (i = 0; i < layers->n; i++) {
		json_array_append_new(diff, json_sprintf("sha256:%s",
							 layers->v[i].digest));
		json_array_append_new(hist, json_pack("{s:s, s:s}", "created",
			now, "created_by", i + 1 < layers->n ?
			"driftwatch: image layer" :
			"driftwatch commit: the container's writable layer"));
	}
	if (reason)
		json_object_set_new(json_array_get(hist, layers->n - 1),
				    "comment", json_string(reason));
	json_object_set_new(cfg, "architecture", json_string(go_arch()));
	json_object_set_new(cfg, "os", json_string("linux"));
	json_object_set_new(cfg, "created", json_string(now));
	if (json_is_object(c))
		json_object_set(cfg, "config", c);
	json_object_set_new(cfg, "rootfs", json_pack("{s:s, s:o}", "type",
						     "layers", "diff_ids",
						     diff));
	json_object_set_new(cfg, "history", hist);
	return cfg;
}

/* ---- processes and sockets at capture time ---- */

static json_t *read_text(const char *path, size_t max)
{
	struct dw_buf b = DW_BUF_INIT;
	json_t *v;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return json_null();
	dw_buf_init(&b, max);
	dw_buf_read_fd(&b, fd);	/* what was read, even if cut at max */
	close(fd);
	{
		struct dw_buf s = DW_BUF_INIT;

		/* NULs (cmdline) as spaces; valid UTF-8 for JSON. */
		for (size_t i = 0; i < b.len; i++)
			if (!b.ptr[i])
				b.ptr[i] = ' ';
		dw_utf8_sanitize(&s, b.ptr, b.len);
		v = json_stringn(s.ptr, s.len);
		dw_buf_release(&s);
	}
	dw_buf_release(&b);
	return v;
}

static json_t *link_of(int pid, const char *what)
{
	char p[64], target[PATH_MAX];
	ssize_t n;

	snprintf(p, sizeof(p), "/proc/%d/%s", pid, what);
	n = readlink(p, target, sizeof(target) - 1);
	if (n < 0)
		return json_null();
	target[n] = '\0';
	return json_string(target);
}

static json_t *processes(struct dw_docker *d, const char *id)
{
	struct dw_buf path = DW_BUF_INIT;
	json_t *top = NULL, *out = json_array(), *row;
	size_t i;

	dw_buf_addf(&path, "/containers/%s/top?ps_args=-eo%%20pid,ppid,uid,"
		    "args", id);
	if (dw_docker_get_json(d, &top, path.ptr)) {
		dw_buf_release(&path);
		return json_pack("{s:s}", "error", dw_error_last());
	}
	json_array_foreach(json_object_get(top, "Processes"), i, row) {
		const char *pid_s = json_string_value(json_array_get(row, 0));
		int pid = pid_s ? (int)strtol(pid_s, NULL, 10) : 0;
		char p[64];

		snprintf(p, sizeof(p), "/proc/%d/cmdline", pid);
		json_array_append_new(out, json_pack("{s:O, s:O, s:O, s:O, "
			"s:o, s:o, s:o}", "pid", json_array_get(row, 0),
			"ppid", json_array_get(row, 1),
			"uid", json_array_get(row, 2),
			"args", json_array_get(row, 3),
			"exe", link_of(pid, "exe"), "cwd", link_of(pid, "cwd"),
			"cmdline", read_text(p, 1 << 16)));
	}
	json_decref(top);
	dw_buf_release(&path);
	return out;
}

static json_t *sockets(int pid)
{
	static const char *const kinds[] = { "tcp", "tcp6", "udp", "udp6",
					     "unix" };
	json_t *o = json_object();
	char p[64];
	size_t i;

	if (pid <= 0)
		return o;
	for (i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
		snprintf(p, sizeof(p), "/proc/%d/net/%s", pid, kinds[i]);
		json_object_set_new(o, kinds[i], read_text(p, 1 << 20));
	}
	return o;
}

/* ---- files: temporary names, fsync, rename ---- */

static int open_tmp(const char *final, struct dw_buf *tmp)
{
	int fd;

	dw_buf_reset(tmp);
	dw_buf_addf(tmp, "%s.tmp-%ld", final, (long)getpid());
	fd = open(tmp->ptr, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW |
		  O_CLOEXEC, 0600);
	if (fd < 0)
		dw_error_errno(DW_EIO, errno, "snapshot: cannot create %s",
			       tmp->ptr);
	return fd;
}

static int commit_file(int fd, const char *tmp, const char *final, int err)
{
	if (!err && fsync(fd))
		err = dw_error_errno(DW_EIO, errno, "snapshot: cannot fsync "
				     "%s", tmp);
	if (close(fd) && !err)
		err = dw_error_errno(DW_EIO, errno, "snapshot: cannot close "
				     "%s", tmp);
	if (!err && rename(tmp, final))
		err = dw_error_errno(DW_EIO, errno, "snapshot: cannot rename "
				     "%s", tmp);
	if (err)
		unlink(tmp);
	return err;
}

static int is_init_layer(const char *dir)
{
	size_t n = strlen(dir);

	return n > 10 && !strcmp(dir + n - 10, "-init/diff");
}

/* The image layers (bottom first), then the upper dir, as blobs. */
static int build_layers(struct blobs *b, const struct dw_container_layers *l,
			const char *tmpdir, struct dw_buf *evidence,
			struct dw_snapshot_result *r)
{
	struct dw_buf file = DW_BUF_INIT;
	size_t i;
	int err = 0;

	for (i = l->nlowers + 1; !err && i-- > 0;) {
		const char *dir = i == 0 ? l->upper : l->lowers[i - 1];
		struct layer_tar st;
		struct blob *x;
		int fd;

		if (i && is_init_layer(dir))
			continue;	/* not part of the image */
		dw_buf_reset(&file);
		dw_buf_addf(&file, "%s/layer-%zu.tar", tmpdir, b->n);
		fd = open(file.ptr, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC,
			  0600);
		if (fd < 0) {
			err = dw_error_errno(DW_EIO, errno, "snapshot: cannot "
					     "create %s", file.ptr);
			break;
		}
		x = blob_new(b);
		x->file = dw_xstrdup(file.ptr);
		/* Image layers never change: only the upper dir can. */
		err = tar_layer(dir, fd, x->digest, &x->size,
				i == 0 ? evidence : NULL, &st,
				i == 0 ? r->paused : 1);
		close(fd);
		if (i == 0) {
			r->entries = st.entries;
			r->changed_during_capture = st.changed;
		}
	}
	dw_buf_release(&file);
	return err;
}

static void cleanup_tmpdir(const char *tmpdir, struct blobs *b)
{
	size_t i;

	for (i = 0; i < b->n; i++) {
		if (b->v[i].file)
			unlink(b->v[i].file);
		free(b->v[i].file);
		free(b->v[i].data);
	}
	free(b->v);
	if (tmpdir)
		rmdir(tmpdir);
}

static int write_image_archive(const struct dw_container_layers *l,
			       json_t *inspect, const struct dw_snapshot_opts *o,
			       json_t *ev, struct dw_buf *entries,
			       struct dw_snapshot_result *r, int fd)
{
	struct blobs b = { NULL, 0, 0 };
	struct dw_buf tmpdir = DW_BUF_INIT;
	json_t *layers, *manifest, *index, *dmanifest, *cfg;
	char cfg_digest[65], man_digest[65];
	uint64_t cfg_size, man_size;
	size_t nlayers, i;
	struct hout h;
	char dig[65];
	struct dw_buf dm = DW_BUF_INIT, ix = DW_BUF_INIT;
	int err;

	dw_buf_addf(&tmpdir, "%s.layers-XXXXXX", o->out_path);
	if (!mkdtemp(tmpdir.ptr)) {
		err = dw_error_errno(DW_EIO, errno, "snapshot: cannot create "
				     "%s", tmpdir.ptr);
		dw_buf_release(&tmpdir);
		return err;
	}
	err = build_layers(&b, l, tmpdir.ptr, entries, r);
	nlayers = b.n;
	if (!err) {
		struct blobs only = { b.v, nlayers, 0 };

		cfg = image_config(inspect, &only, o->reason);
		blob_json(&b, cfg, cfg_digest, &cfg_size);
		json_decref(cfg);
		layers = json_array();
		for (i = 0; i < nlayers; i++)
			json_array_append_new(layers, descriptor(
				"application/vnd.oci.image.layer.v1.tar",
				b.v[i].digest, b.v[i].size));
		manifest = json_pack("{s:i, s:s, s:o, s:o}", "schemaVersion",
			2, "mediaType",
			"application/vnd.oci.image.manifest.v1+json", "config",
			descriptor("application/vnd.oci.image.config.v1+json",
				   cfg_digest, cfg_size), "layers", layers);
		blob_json(&b, manifest, man_digest, &man_size);
		json_decref(manifest);
		index = json_pack("{s:i, s:s, s:[o]}", "schemaVersion", 2,
			"mediaType", "application/vnd.oci.image.index.v1+json",
			"manifests", descriptor(
				"application/vnd.oci.image.manifest.v1+json",
				man_digest, man_size));
		json_object_set_new(json_array_get(json_object_get(index,
			"manifests"), 0), "annotations", json_pack("{s:s}",
			"io.containerd.image.name", o->tag));
		dmanifest = json_pack("[{s:s+, s:[s], s:[]}]", "Config",
			"blobs/sha256/", cfg_digest, "RepoTags", o->tag,
			"Layers");
		for (i = 0; i < nlayers; i++)
			json_array_append_new(json_object_get(json_array_get(
				dmanifest, 0), "Layers"), json_sprintf(
				"blobs/sha256/%s", b.v[i].digest));
		dw_json_dump(&dm, dmanifest, JSON_PRESERVE_ORDER);
		dw_json_dump(&ix, index, JSON_PRESERVE_ORDER);
		json_decref(index);
		json_decref(dmanifest);
		{
			const char *extra[][2] = {
				{ "oci-layout",
				  "{\"imageLayoutVersion\":\"1.0.0\"}" },
				{ "index.json", ix.ptr },
				{ "manifest.json", dm.ptr },
			};
			json_t *bl = json_object();

			hout_init(&h, fd);
			err = write_image(&h, &b, extra, 3);
			hout_final(&h, dig);
			if (!err && h.failed)
				err = dw_error_errno(DW_EIO, h.failed,
						     "snapshot: cannot write "
						     "the archive");
			snprintf(r->archive_sha256, sizeof(r->archive_sha256),
				 "sha256:%s", dig);
			r->archive_size = h.size;
			for (i = 0; i < b.n; i++)
				json_object_set_new(bl, b.v[i].digest,
					json_integer((json_int_t)b.v[i].size));
			json_object_set_new(ev, "blobs", bl);
			json_object_set_new(ev, "image", json_pack(
				"{s:s, s:s+, s:s+}", "tag", o->tag, "config",
				"sha256:", cfg_digest, "manifest", "sha256:",
				man_digest));
		}
	}
	cleanup_tmpdir(tmpdir.ptr, &b);
	dw_buf_release(&tmpdir);
	dw_buf_release(&dm);
	dw_buf_release(&ix);
	return err;
}

static int write_layer_only(const struct dw_container_layers *l,
			    struct dw_buf *entries,
			    struct dw_snapshot_result *r, int fd)
{
	struct layer_tar st;
	char dig[65];
	int err = tar_layer(l->upper, fd, dig, &r->archive_size, entries,
			    &st, r->paused);

	snprintf(r->archive_sha256, sizeof(r->archive_sha256), "sha256:%s",
		 dig);
	r->entries = st.entries;
	r->changed_during_capture = st.changed;
	return err;
}

/* `driftwatch diff` as it would print it (escaped, one change a line). */
static json_t *diff_text(const struct dw_container_layers *l)
{
	struct dw_changeset cs = DW_CHANGESET_INIT;
	struct dw_buf out = DW_BUF_INIT;
	json_t *v;

	if (!dw_overlay_diff(&cs, l->upper, (const char *const *)l->lowers,
			     l->nlowers, DW_DIFF_PREFETCH) &&
	    !dw_changeset_format(&out, &cs, DW_DIFF_FORMAT_TEXT))
		v = json_stringn(out.ptr, out.len);
	else
		v = json_pack("{s:s}", "error", dw_error_last());
	dw_changeset_release(&cs);
	dw_buf_release(&out);
	return v;
}

static json_t *evidence_head(const struct dw_snapshot_opts *o, json_t *inspect,
			     const struct dw_container_layers *l, int paused)
{
	char host[256] = "", now[48];
	struct timespec ts;
	struct tm tm;

	gethostname(host, sizeof(host) - 1);
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	strftime(now, 24, "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(now + strlen(now), sizeof(now) - strlen(now), ".%09ldZ",
		 ts.tv_nsec);
	return json_pack("{s:s, s:{s:s, s:s}, s:s, s:s, s:s?, s:{s:i, s:s?},"
			 " s:b, s:s, s:{s:s, s:s, s:s}, s:O}",
			 "format", "driftwatch-evidence-1",
			 "tool", "name", "driftwatch", "version", DW_VERSION,
			 "host", host, "captured_at", now,
			 "reason", o->reason,
			 "operator", "uid", (int)getuid(), "user",
			 getenv("SUDO_USER") ? getenv("SUDO_USER") :
						getenv("USER"),
			 "paused", paused,
			 "mode", o->layer_only ? "layer-only" : "image",
			 "container", "id", l->id, "name", l->name, "image",
			 l->image,
			 "inspect", inspect);
}

static int file_sha256(const char *path, char out[72])
{
	char *buf = dw_xmalloc(COPY_SIZE);
	struct hout h;
	char dig[65];
	ssize_t n;
	int fd = open(path, O_RDONLY | O_CLOEXEC), err = 0;

	if (fd < 0) {
		free(buf);
		return dw_error_errno(DW_EIO, errno, "cannot read %s", path);
	}
	hout_init(&h, -1);
	while ((n = read(fd, buf, COPY_SIZE)) > 0)
		EVP_DigestUpdate(h.md, buf, (size_t)n);
	if (n < 0)
		err = dw_error_errno(DW_EIO, errno, "cannot read %s", path);
	hout_final(&h, dig);
	snprintf(out, 72, "sha256:%s", dig);
	close(fd);
	free(buf);
	return err;
}

static int write_evidence(json_t *ev, struct dw_buf *entries,
			  const char *archive, struct dw_snapshot_result *r)
{
	struct dw_buf path = DW_BUF_INIT, tmp = DW_BUF_INIT, data = DW_BUF_INIT;
	const char *base = strrchr(archive, '/');
	int fd, err;

	json_object_set_new(ev, "archive", json_pack("{s:s, s:s, s:I}",
		"file", base ? base + 1 : archive, "sha256", r->archive_sha256,
		"size", (json_int_t)r->archive_size));
	dw_buf_addf(&path, "%s.evidence.json", archive);
	dw_json_dump(&data, ev, JSON_PRESERVE_ORDER);
	/* The upper entries were written as JSON text as they were read. */
	dw_buf_setlen(&data, data.len - 1);	/* the closing '}' */
	dw_buf_adds(&data, ",\"upper_entries\":[");
	dw_buf_add(&data, entries->ptr, entries->len);
	dw_buf_adds(&data, "]}\n");
	fd = open_tmp(path.ptr, &tmp);
	if (fd < 0) {
		err = DW_EIO;
	} else {
		struct hout h;
		char dig[65];

		hout_init(&h, fd);
		err = hout_write(&h, data.ptr, data.len) ?
		      dw_error_errno(DW_EIO, h.failed, "snapshot: cannot "
				     "write %s", tmp.ptr) : 0;
		hout_final(&h, dig);
		snprintf(r->evidence_sha256, sizeof(r->evidence_sha256),
			 "sha256:%s", dig);
		err = commit_file(fd, tmp.ptr, path.ptr, err);
	}
	if (!err)
		r->evidence_path = dw_buf_detach(&path, NULL);
	dw_buf_release(&path);
	dw_buf_release(&tmp);
	dw_buf_release(&data);
	return err;
}

/* ---- pausing, with the unpause guaranteed ---- */

static int set_paused(struct dw_docker *d, const char *id, int pause)
{
	struct dw_buf p = DW_BUF_INIT;
	int err;

	dw_buf_addf(&p, "/containers/%s/%s", id, pause ? "pause" : "unpause");
	err = dw_docker_post_json(d, NULL, p.ptr, NULL);
	dw_buf_release(&p);
	return err;
}

static int capture(struct dw_docker *d, const struct dw_container_layers *l,
		   json_t *inspect, const struct dw_snapshot_opts *o,
		   struct dw_snapshot_result *r)
{
	json_t *ev = evidence_head(o, inspect, l, r->paused);
	struct dw_buf tmp = DW_BUF_INIT, entries = DW_BUF_INIT;
	int pid = (int)json_integer_value(dw_json_path(inspect, "State.Pid"));
	int fd, err;

	json_object_set_new(ev, "processes", processes(d, l->id));
	json_object_set_new(ev, "sockets", sockets(pid));
	json_object_set_new(ev, "diff", diff_text(l));
	fd = open_tmp(o->out_path, &tmp);
	if (fd < 0) {
		err = DW_EIO;
	} else {
		err = o->layer_only ? write_layer_only(l, &entries, r, fd) :
		      write_image_archive(l, inspect, o, ev, &entries, r, fd);
		err = commit_file(fd, tmp.ptr, o->out_path, err);
	}
	if (r->changed_during_capture)
		json_object_set_new(ev, "changed_during_capture", json_true());
	if (!err)
		err = write_evidence(ev, &entries, o->out_path, r);
	if (err)
		unlink(o->out_path);	/* never half a snapshot */
	json_decref(ev);
	dw_buf_release(&tmp);
	dw_buf_release(&entries);
	return err;
}

char *dw_snapshot_default_tag(const char *name, const char *stamp)
{
	struct dw_buf t = DW_BUF_INIT;
	size_t i;

	dw_buf_addf(&t, "driftwatch/%s:%s", name, stamp);
	/* Repository names are lowercase. */
	for (i = 11; i < t.len && t.ptr[i] != ':'; i++)
		if (t.ptr[i] >= 'A' && t.ptr[i] <= 'Z')
			t.ptr[i] = (char)(t.ptr[i] - 'A' + 'a');
	return dw_buf_detach(&t, NULL);
}

int dw_snapshot_container(struct dw_docker *d, const char *ref,
			  const struct dw_snapshot_opts *o,
			  struct dw_snapshot_result *r)
{
	struct dw_container_layers l;
	struct dw_buf path = DW_BUF_INIT;
	json_t *inspect = NULL;
	sigset_t hold, old;
	int err, running, uerr = 0;

	memset(r, 0, sizeof(*r));
	err = dw_lazy_load(&libarchive);
	if (err)
		return err;
	err = dw_docker_container_layers(d, &l, ref);
	if (err)
		return err;
	dw_buf_addf(&path, "/containers/%s/json", l.id);
	err = dw_docker_get_json(d, &inspect, path.ptr);
	dw_buf_release(&path);
	if (err)
		goto out;
	running = json_is_true(dw_json_path(inspect, "State.Running")) &&
		  !json_is_true(dw_json_path(inspect, "State.Paused"));
	/* Nothing may stop us between pause and unpause. */
	sigemptyset(&hold);
	sigaddset(&hold, SIGINT);
	sigaddset(&hold, SIGTERM);
	sigaddset(&hold, SIGHUP);
	sigaddset(&hold, SIGPIPE);
	sigprocmask(SIG_BLOCK, &hold, &old);
	if (running && !o->no_pause) {
		err = set_paused(d, l.id, 1);
		r->paused = !err;
	}
	if (!err)
		err = capture(d, &l, inspect, o, r);
	if (r->paused)
		uerr = set_paused(d, l.id, 0);
	sigprocmask(SIG_SETMASK, &old, NULL);
	if (uerr && !err)
		err = uerr;
out:
	json_decref(inspect);
	dw_container_layers_release(&l);
	return err;
}

/* ---- verification ---- */

static int verify_blobs(const char *path, json_t *blobs, struct dw_buf *report)
{
	struct archive *a = ar.archive_read_new();
	struct archive_entry *e;
	char *buf = dw_xmalloc(COPY_SIZE);
	int bad = 0, seen = 0;

	ar.archive_read_support_format_tar(a);
	if (ar.archive_read_open_filename(a, path, 1 << 16) != ARCHIVE_OK) {
		dw_buf_addf(report, "cannot read %s as a tar: %s\n", path,
			    ar.archive_error_string(a));
		bad = 1;
	}
	while (!bad && ar.archive_read_next_header(a, &e) == ARCHIVE_OK) {
		const char *name = ar.archive_entry_pathname(e);
		struct hout h;
		char dig[65];
		la_ssize_t n;

		if (strncmp(name, "blobs/sha256/", 13) || !name[13])
			continue;
		hout_init(&h, -1);
		while ((n = ar.archive_read_data(a, buf, COPY_SIZE)) > 0)
			EVP_DigestUpdate(h.md, buf, (size_t)n);
		hout_final(&h, dig);
		seen++;
		if (n < 0 || strcmp(dig, name + 13)) {
			dw_buf_addf(report, "blob %s: content hashes to %s\n",
				    name + 13, dig);
			bad = 1;
		} else if (blobs && !json_object_get(blobs, name + 13)) {
			dw_buf_addf(report, "blob %s: not in the evidence "
				    "record\n", name + 13);
			bad = 1;
		}
	}
	if (!bad && blobs && (size_t)seen != json_object_size(blobs)) {
		dw_buf_addf(report, "the archive holds %d blobs, the evidence "
			    "lists %zu\n", seen, json_object_size(blobs));
		bad = 1;
	}
	ar.archive_read_free(a);
	free(buf);
	return bad;
}

int dw_snapshot_verify(const char *path, struct dw_buf *report)
{
	struct dw_buf evpath = DW_BUF_INIT, data = DW_BUF_INIT;
	json_t *ev = NULL;
	char actual[72];
	const char *want;
	int fd, bad = 0, err = dw_lazy_load(&libarchive);

	if (err)
		return err;
	dw_buf_addf(&evpath, "%s.evidence.json", path);
	fd = open(evpath.ptr, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		err = dw_error_errno(DW_EIO, errno, "cannot read %s",
				     evpath.ptr);
		goto out;
	}
	err = dw_buf_read_fd(&data, fd);
	close(fd);
	if (err) {
		char why[256];

		snprintf(why, sizeof(why), "%s", dw_error_last());
		err = dw_error_set(DW_EIO, "cannot read %s: %s", evpath.ptr,
				   why);
		goto out;
	}
	err = dw_json_parse(&ev, data.ptr, data.len, evpath.ptr);
	if (err) {
		dw_buf_addf(report, "%s\n", dw_error_last());
		err = DW_ERROR;
		goto out;
	}
	err = file_sha256(path, actual);
	if (err)
		goto out;
	want = dw_json_path_str(ev, "archive.sha256");
	if (!want || strcmp(want, actual)) {
		dw_buf_addf(report, "%s: sha256 is %s, the evidence says %s\n",
			    path, actual, want ? want : "(nothing)");
		bad = 1;
	}
	if (!strcmp(dw_json_path_str(ev, "mode") ? dw_json_path_str(ev, "mode")
		    : "", "image"))
		bad |= verify_blobs(path, json_object_get(ev, "blobs"), report);
	err = bad ? DW_ERROR : 0;
out:
	json_decref(ev);
	dw_buf_release(&evpath);
	dw_buf_release(&data);
	return err;
}
