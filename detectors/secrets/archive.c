/*
 * Archives inside scanned trees (zip and its kin, tar alone or
 * compressed, deb, rpm, cpio), read entry by entry with libarchive,
 * loaded on first use. Bounded against bombs: depth, entries, and what
 * they expand to against the archive's size.
 */
#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <stdarg.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "archive.h"
#include "archive_int.h"
#include "driftwatch/buf.h"
#include "driftwatch/error.h"
#include "driftwatch/escape.h"
#include "driftwatch/lazylib.h"
#include "driftwatch/xmalloc.h"
#include "driftwatch/banned.h"

struct dw_ar_table dw_ar;
#define ar dw_ar

static const struct dw_lazy_sym archive_syms[] = {
#define SLOT(f) {#f, (void **)&ar.f},
	ARCHIVE_SYMS(SLOT)
#undef SLOT
};

static struct dw_lazy_lib libarchive = {
	"libarchive.so.13", archive_syms,
	sizeof(archive_syms) / sizeof(archive_syms[0]), 0, ""};

int dw_archive_load(void)
{
	return dw_lazy_load(&libarchive);
}

#define READ_SIZE (256u << 10)
#define SNIFF 8192u

static int has_suffix(const char *s, const char *suffix)
{
	size_t n = strlen(s), k = strlen(suffix);

	return n > k && !strcasecmp(s + n - k, suffix);
}

int dw_archive_name(const char *path)
{
	static const char *const names[] = {
		".zip",	    ".jar",	 ".war",   ".ear",     ".aar",
		".apk",	    ".whl",	 ".nupkg", ".egg",     ".tar",
		".tgz",	    ".tar.gz",	 ".taz",   ".tar.bz2", ".tbz",
		".tbz2",    ".tar.xz",	 ".txz",   ".tar.zst", ".tzst",
		".tar.lz4", ".tar.lzma", ".tar.Z", ".deb",     ".udeb",
		".rpm",	    ".cpio",	 ".crate", ".gem",
	};
	size_t i;

	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (has_suffix(path, names[i]))
			return 1;
	return 0;
}

/* A compressed single file inside an archive: read as its content. */
static int compressed_name(const char *path)
{
	return has_suffix(path, ".gz") || has_suffix(path, ".bz2") ||
	       has_suffix(path, ".xz") || has_suffix(path, ".zst") ||
	       has_suffix(path, ".lz4") || has_suffix(path, ".lzma") ||
	       has_suffix(path, ".Z");
}

int dw_archive_magic(const void *head, size_t n)
{
	static const struct {
		const char *m;
		size_t len;
	} magic[] = {
		{"PK\3\4", 4},	 /* zip */
		{"PK\5\6", 4},	 /* an empty zip */
		{"\x1f\x8b", 2}, /* gzip */
		{"BZh", 3},	 /* bzip2 */
		{"\xfd"
		 "7zXZ",
		 6},			 /* xz */
		{"\x28\xb5\x2f\xfd", 4}, /* zstd */
		{"\x04\x22\x4d\x18", 4}, /* lz4 */
		{"\x5d\x00\x00", 3},	 /* lzma */
		{"!<arch>\n", 8},	 /* ar (deb) */
		{"\xed\xab\xee\xdb", 4}, /* rpm */
		{"070701", 6},		 /* cpio */
		{"070707", 6},		 /* cpio */
	};
	const unsigned char *p = head;
	size_t i;

	for (i = 0; i < sizeof(magic) / sizeof(magic[0]); i++)
		if (n >= magic[i].len && !memcmp(p, magic[i].m, magic[i].len))
			return 1;
	/* tar: "ustar" at 257 */
	return n >= 262 && !memcmp(p + 257, "ustar", 5);
}

/* What one archive (with those inside it) may still cost. */
struct budget {
	uint64_t limit, total;
	size_t entries, max_entries;
	int stopped; /* a limit was hit: everything stops */
	int err;     /* the first error, its message in `why` */
	char why[512];
};

struct walk {
	struct dw_scanner *s;
	const char *display;
	dw_source_cb cb;
	void *ctx;
	struct budget *b;
	char *buf;
	const char *entry; /* the entry being scanned, for its findings */
	/* dw_archive_scan_member(): each entry of the member itself, named
	 * without the member's name */
	void (*on_entry)(void *hctx, const char *path, int type);
	void *hctx;
};

/* What an archive of `size` bytes may expand to, and its entries. */
static void budget_init(struct budget *b, uint64_t size, size_t max_entries)
{
	memset(b, 0, sizeof(*b));
	b->max_entries = max_entries;
	b->limit = size * DW_ARCHIVE_RATIO;
	if (b->limit < DW_ARCHIVE_FLOOR)
		b->limit = DW_ARCHIVE_FLOOR;
}

static void fail(struct budget *b, int stop, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void fail(struct budget *b, int stop, const char *fmt, ...)
{
	va_list ap;
	size_t at = 0;

	/* The first error is kept; the one that stops it all is said too. */
	if (b->err && (!stop || b->stopped)) {
		b->stopped |= stop;
		return;
	}
	if (b->err) {
		at = strlen(b->why);
		snprintf(b->why + at, sizeof(b->why) - at, "; then ");
		at = strlen(b->why);
	}
	b->stopped |= stop;
	b->err = DW_EIO;
	va_start(ap, fmt);
	vsnprintf(b->why + at, sizeof(b->why) - at, fmt, ap);
	va_end(ap);
}

static int entry_finding(const struct dw_finding *f, void *ctx)
{
	struct walk *w = ctx;
	struct dw_source src = {w->display, DW_SOURCE_ARCHIVE, NULL};
	int rc;

	/* (none: the file itself, no archive after all) */
	if (*w->entry) {
		struct dw_buf b = DW_BUF_INIT;

		dw_utf8_sanitize(&b, w->entry, strlen(w->entry));
		src.fields = json_pack("{s:s}", "entry", b.ptr ? b.ptr : "");
		dw_buf_release(&b);
	}
	rc = w->cb(f, &src, w->ctx);
	json_decref(src.fields);
	return rc;
}

/*
 * A reader of every format read here; "raw" last (it bids lowest): what
 * is no archive, or only compressed (a .gz in a tar), is read whole as
 * what it is, never skipped because of its name.
 */
static struct archive *new_reader(void)
{
	struct archive *a = ar.archive_read_new();

	if (!a)
		return NULL;
	ar.archive_read_support_format_tar(a);
	ar.archive_read_support_format_zip(a);
	ar.archive_read_support_format_ar(a);
	ar.archive_read_support_format_cpio(a);
	ar.archive_read_support_format_raw(a);
	ar.archive_read_support_filter_gzip(a);
	ar.archive_read_support_filter_bzip2(a);
	ar.archive_read_support_filter_xz(a);
	ar.archive_read_support_filter_lzma(a);
	ar.archive_read_support_filter_zstd(a);
	ar.archive_read_support_filter_lz4(a);
	ar.archive_read_support_filter_compress(a);
	ar.archive_read_support_filter_rpm(a);
	return a;
}

/* Counted against the budget: 0 go on, -1 stop (a limit, said). */
static int count(struct walk *w, size_t n)
{
	w->b->total += n;
	if (w->b->total <= w->b->limit)
		return 0;
	fail(w->b, 1,
	     "%s: stopped after it expanded to more than %llu bytes (%d "
	     "times its size, at least %llu MiB); the rest was not scanned",
	     w->display, (unsigned long long)w->b->limit, DW_ARCHIVE_RATIO,
	     (unsigned long long)(DW_ARCHIVE_FLOOR >> 20));
	return -1;
}

/* Any entry's data, not scanned: counted all the same (a directory
 * entry's data is decompressed to skip it too). */
static void drain(struct walk *w, struct archive *a)
{
	la_ssize_t n;

	while ((n = ar.archive_read_data(a, w->buf, READ_SIZE)) > 0)
		if (count(w, (size_t)n))
			break;
}

static void walk_nested(struct walk *w, struct archive *outer, const char *name,
			int depth, const char *first, size_t first_len);

/* An archive too deep to open: said, and its data read and counted all
 * the same (skipped, it would be decompressed by the reader it is in,
 * uncounted). */
static void too_deep(struct walk *w, struct archive *a, const char *name)
{
	fail(w->b, 0,
	     "%s: entry %s not read: archives nested deeper than %d are not "
	     "opened",
	     w->display, name, DW_ARCHIVE_DEPTH);
	drain(w, a);
}

/*
 * One regular entry's data, scanned unless binary; all of it counted.
 * Binary data that is an archive or compressed, whatever its name, is
 * opened as one (a name cannot hide it).
 */
static void scan_entry(struct walk *w, struct archive *a, const char *name,
		       int depth)
{
	int binary = -1;

	w->entry = name;
	dw_scan_name(w->s, name);
	dw_scan_begin(w->s, 1, entry_finding, w);
	for (;;) {
		la_ssize_t n = ar.archive_read_data(a, w->buf, READ_SIZE);

		if (n < 0) {
			fail(w->b, 0, "%s: entry %s: %s", w->display, name,
			     ar.archive_error_string(a)
				     ? ar.archive_error_string(a)
				     : "cannot be read");
			break;
		}
		if (!n || count(w, (size_t)n))
			break;
		if (binary < 0) {
			binary = memchr(w->buf, '\0',
					(size_t)n < SNIFF ? (size_t)n
							  : SNIFF) != NULL;
			if (binary && dw_archive_magic(w->buf, (size_t)n) &&
			    ar.archive_format(a) != ARCHIVE_FORMAT_RAW) {
				char *first = w->buf;

				if (depth + 1 >= DW_ARCHIVE_DEPTH) {
					too_deep(w, a, name);
					return;
				}
				/* (its own buffer from here on) */
				w->buf = dw_xmalloc(READ_SIZE);
				walk_nested(w, a, name, depth + 1, first,
					    (size_t)n);
				free(w->buf);
				w->buf = first;
				w->entry = name;
				return;
			}
		}
		if (!binary)
			dw_scan_feed(w->s, w->buf, (size_t)n);
	}
	if (binary <= 0) {
		dw_scan_finish(w->s);
		if (dw_scan_timed_out(w->s))
			fail(w->b, 0,
			     "%s: entry %s: scanned only in part (the time "
			     "budget ran out)",
			     w->display, name);
	}
}

static void walk_archive(struct walk *w, struct archive *a, const char *prefix,
			 int depth);

/* An entry's data as the input of a nested reader. */
struct nested {
	struct walk *w;
	struct archive *outer;
	char *buf;
	const char *first; /* read already (and counted): given first */
	size_t first_len;
};

static la_ssize_t nested_read(struct archive *a, void *ctx, const void **out)
{
	struct nested *n = ctx;
	la_ssize_t got;

	(void)a;
	if (n->first_len) {
		memcpy(n->buf, n->first, n->first_len);
		got = (la_ssize_t)n->first_len;
		n->first_len = 0;
		*out = n->buf;
		return got;
	}
	got = ar.archive_read_data(n->outer, n->buf, READ_SIZE);
	*out = n->buf;
	if (got > 0 && count(n->w, (size_t)got))
		return -1;
	return got;
}

static void walk_nested(struct walk *w, struct archive *outer, const char *name,
			int depth, const char *first, size_t first_len)
{
	struct nested n = {w, outer, dw_xmalloc(READ_SIZE), first, first_len};
	struct archive *a = new_reader();

	if (!a) {
		fail(w->b, 0, "%s: entry %s: cannot start a reader", w->display,
		     name);
	} else if (ar.archive_read_open(a, &n, NULL, nested_read, NULL) !=
		   ARCHIVE_OK) {
		if (!w->b->stopped)
			fail(w->b, 0, "%s: entry %s: %s", w->display, name,
			     ar.archive_error_string(a)
				     ? ar.archive_error_string(a)
				     : "not an archive");
	} else {
		walk_archive(w, a, name, depth);
	}
	if (a)
		ar.archive_read_free(a);
	free(n.buf);
}

static void walk_archive(struct walk *w, struct archive *a, const char *prefix,
			 int depth)
{
	struct archive_entry *e;
	int rc = ARCHIVE_OK;

	while (!w->b->stopped &&
	       ((rc = ar.archive_read_next_header(a, &e)) == ARCHIVE_OK ||
		rc == ARCHIVE_WARN)) {
		const char *p = ar.archive_entry_pathname_utf8(e);
		struct dw_buf name = DW_BUF_INIT;

		if (!p)
			p = ar.archive_entry_pathname(e);

		if (++w->b->entries > w->b->max_entries) {
			fail(w->b, 1,
			     "%s: stopped after %zu entries; the rest was not "
			     "scanned",
			     w->display, w->b->max_entries);
			break;
		}
		if (w->on_entry && depth == 0) {
			w->on_entry(w->hctx, p ? p : "",
				    (int)ar.archive_entry_filetype(e));
			prefix = NULL; /* (the member is the caller's) */
		}
		if (ar.archive_entry_filetype(e) != AE_IFREG) {
			drain(w, a);
			continue;
		}
		/* A compressed single file: its content, under its name. */
		if (ar.archive_format(a) == ARCHIVE_FORMAT_RAW)
			dw_buf_adds(&name, prefix ? prefix : "");
		else if (prefix)
			dw_buf_addf(&name, "%s!%s", prefix, p ? p : "?");
		else
			dw_buf_adds(&name, p ? p : "?");
		if (ar.archive_format(a) != ARCHIVE_FORMAT_RAW &&
		    (dw_archive_name(name.ptr) || compressed_name(name.ptr))) {
			if (depth + 1 < DW_ARCHIVE_DEPTH)
				walk_nested(w, a, name.ptr, depth + 1, NULL, 0);
			else
				too_deep(w, a, name.ptr);
		} else {
			scan_entry(w, a, name.ptr, depth);
		}
		dw_buf_release(&name);
	}
	if (!w->b->stopped && rc != ARCHIVE_EOF && rc != ARCHIVE_OK &&
	    rc != ARCHIVE_WARN)
		fail(w->b, 0, "%s%s%s: %s", w->display,
		     prefix ? ": entry " : "", prefix ? prefix : "",
		     ar.archive_error_string(a) ? ar.archive_error_string(a)
						: "malformed archive");
}

/*
 * The archive itself, by read(2) and lseek(2) (the scanner process may
 * not fstat, which libarchive's own fd reader does). Seeking lets the
 * zip reader use the central directory, as unzip does: the streaming one
 * stops at a stray signature between entries, and cannot see past what
 * precedes a zip (a launcher script, a self-extractor).
 */
#define outer dw_archive_fd

static la_int64_t outer_seek(struct archive *a, void *ctx, la_int64_t off,
			     int whence)
{
	struct outer *o = ctx;
	off_t at;

	(void)a;
	if (o->mem) {
		la_int64_t from = whence == SEEK_SET   ? 0
				  : whence == SEEK_CUR ? (la_int64_t)o->mem_pos
						       : (la_int64_t)o->mem_len;

		/* (never before the start nor past the end) */
		if (off < -from || off > (la_int64_t)o->mem_len - from)
			return ARCHIVE_FATAL;
		o->mem_pos = (size_t)(from + off);
		return (la_int64_t)o->mem_pos;
	}
	at = lseek(o->fd, whence == SEEK_SET ? o->base + off : off, whence);
	return at < 0 ? ARCHIVE_FATAL : (la_int64_t)(at - o->base);
}

static la_int64_t outer_skip(struct archive *a, void *ctx, la_int64_t n)
{
	struct outer *o = ctx;

	(void)a;
	if (o->mem) {
		size_t left = o->mem_len - o->mem_pos;

		if (n < 0)
			return 0;
		if ((uint64_t)n > left)
			n = (la_int64_t)left;
		o->mem_pos += (size_t)n;
		return n;
	}
	return lseek(o->fd, n, SEEK_CUR) < 0 ? 0 : n;
}

static la_ssize_t outer_read(struct archive *a, void *ctx, const void **out)
{
	struct outer *o = ctx;
	ssize_t n;

	if (o->mem) {
		size_t left = o->mem_len - o->mem_pos;

		n = (ssize_t)(left < READ_SIZE ? left : READ_SIZE);
		*out = o->mem + o->mem_pos;
		o->mem_pos += (size_t)n;
		return n;
	}
	do
		n = read(o->fd, o->buf, READ_SIZE);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		ar.archive_set_error(a, errno, "read: %s", strerror(errno));
	*out = o->buf;
	return n;
}

int dw_archive_open_fd(struct archive *a, struct dw_archive_fd *o)
{
	if (o->mem)
		o->mem_pos = 0;
	else if (lseek(o->fd, o->base, SEEK_SET) != o->base)
		return dw_error_errno(DW_EIO, errno, "cannot read");
	ar.archive_read_set_callback_data(a, o);
	ar.archive_read_set_read_callback(a, outer_read);
	ar.archive_read_set_seek_callback(a, outer_seek);
	ar.archive_read_set_skip_callback(a, outer_skip);
	if (ar.archive_read_open1(a) != ARCHIVE_OK)
		return dw_error_set(DW_EIO, "%s",
				    ar.archive_error_string(a)
					    ? ar.archive_error_string(a)
					    : "not an archive");
	return 0;
}

/*
 * One pass over the file from `o->base`: every format, or (`zip_only`)
 * the zip reader that starts from the central directory at its end.
 * The format it was read as, or -1 when it could not be opened.
 */
static int pass(struct walk *w, struct outer *o, int zip_only)
{
	struct archive *a = zip_only ? ar.archive_read_new() : new_reader();
	int format = -1;

	if (!a) {
		fail(w->b, 0, "%s: cannot start a reader", w->display);
		return -1;
	}
	if (zip_only)
		ar.archive_read_support_format_zip_seekable(a);
	if (dw_archive_open_fd(a, o)) {
		fail(w->b, 0, "%s: %s", w->display, dw_error_last());
	} else {
		walk_archive(w, a, NULL, 0);
		format = ar.archive_format(a);
	}
	ar.archive_read_free(a);
	return format;
}

/* Whether the file ends with a zip's end of central directory (within
 * the 64 KiB a comment may take). */
static int ends_as_zip(const struct outer *o, uint64_t size)
{
	size_t n = size < 65557 ? (size_t)size : 65557;
	char *tail;
	int yes;

	if (o->mem)
		return memmem(o->mem + (o->mem_len - n), n, "PK\5\6", 4) !=
		       NULL;
	tail = dw_xmalloc(n);
	yes = pread(o->fd, tail, n, o->base + (off_t)(size - n)) ==
		      (ssize_t)n &&
	      memmem(tail, n, "PK\5\6", 4) != NULL;
	free(tail);
	return yes;
}

static int scan_outer(struct dw_scanner *s, struct outer *o,
		      const char *display, uint64_t size,
		      uint64_t max_file_size, dw_source_cb cb, void *ctx);

int dw_archive_scan(struct dw_scanner *s, int fd, const char *display,
		    uint64_t size, uint64_t max_file_size, dw_source_cb cb,
		    void *ctx)
{
	struct outer o = {fd, NULL, 0, NULL, 0, 0};

	o.base = lseek(fd, 0, SEEK_CUR);
	if (o.base < 0)
		return dw_error_errno(DW_EIO, errno, "cannot read %s", display);
	return scan_outer(s, &o, display, size, max_file_size, cb, ctx);
}

int dw_archive_scan_mem(struct dw_scanner *s, const void *data, size_t len,
			const char *display, uint64_t max_file_size,
			dw_source_cb cb, void *ctx)
{
	struct outer o = {-1, NULL, 0, data, len, 0};

	return scan_outer(s, &o, display, len, max_file_size, cb, ctx);
}

static int scan_outer(struct dw_scanner *s, struct outer *o,
		      const char *display, uint64_t size,
		      uint64_t max_file_size, dw_source_cb cb, void *ctx)
{
	struct budget b;
	struct walk w = {s, display, cb, ctx, &b, NULL, "", NULL, NULL};
	int err = dw_archive_load(), format;

	if (err || !size) /* (an empty file holds nothing) */
		return err;
	budget_init(&b, size, DW_ARCHIVE_ENTRIES);
	if (max_file_size && b.limit > max_file_size * 16)
		b.limit = max_file_size * 16;
	o->buf = dw_xmalloc(READ_SIZE);
	w.buf = dw_xmalloc(READ_SIZE);
	format = pass(&w, o, 0);
	/*
	 * Read as something else (a tar, raw bytes) and still a zip at its
	 * end (a zip appended to a tar; one behind a launcher script that
	 * the reader did not see through): what unzip would extract is
	 * read too.
	 */
	if (!b.stopped &&
	    (format & ARCHIVE_FORMAT_BASE_MASK) != ARCHIVE_FORMAT_ZIP &&
	    ends_as_zip(o, size))
		pass(&w, o, 1);
	free(w.buf);
	free(o->buf);
	return b.err ? dw_error_set(b.err, "%s", b.why) : 0;
}

int dw_archive_scan_member(struct dw_scanner *s, int fd, int64_t at,
			   const char *member, const char *display,
			   uint64_t size, size_t max_entries,
			   void (*on_entry)(void *hctx, const char *path,
					    int type),
			   void *hctx, dw_source_cb cb, void *ctx)
{
	struct budget b;
	struct walk w = {s, display, cb, ctx, &b, NULL, "", on_entry, hctx};
	struct outer o = {fd, NULL, (off_t)at, NULL, 0, 0};
	struct archive *a;
	struct archive_entry *e;
	int err = dw_archive_load();
	const char *p;

	if (err)
		return err;
	budget_init(&b, size, max_entries);
	a = ar.archive_read_new();
	if (!a)
		return dw_error_set(DW_EIO, "%s: cannot start a reader",
				    display);
	ar.archive_read_support_format_tar(a);
	o.buf = dw_xmalloc(READ_SIZE);
	w.buf = dw_xmalloc(READ_SIZE);
	if (dw_archive_open_fd(a, &o)) {
		fail(&b, 0, "%s: %s", display, dw_error_last());
		goto out;
	}
	if (ar.archive_read_next_header(a, &e) < ARCHIVE_WARN) {
		fail(&b, 0, "%s: %s", display,
		     ar.archive_error_string(a) ? ar.archive_error_string(a)
						: "not a tar entry");
		goto out;
	}
	p = ar.archive_entry_pathname(e);
	while (p && p[0] == '.' && p[1] == '/')
		p += 2;
	if (!p || strcmp(p, member)) {
		fail(&b, 0, "%s: the archive changed while it was read",
		     display);
		goto out;
	}
	walk_nested(&w, a, member, 0, NULL, 0);
out:
	ar.archive_read_free(a);
	free(w.buf);
	free(o.buf);
	return b.err ? dw_error_set(b.err, "%s", b.why) : 0;
}
