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
#include "driftwatch/buf.h"
#include "driftwatch/error.h"
#include "driftwatch/lazylib.h"
#include "driftwatch/xmalloc.h"
#include "driftwatch/banned.h"

#define ARCHIVE_SYMS(X)                                                        \
	X(archive_read_new)                                                    \
	X(archive_read_free)                                                   \
	X(archive_read_support_format_tar)                                     \
	X(archive_read_support_format_zip)                                     \
	X(archive_read_support_format_ar)                                      \
	X(archive_read_support_format_cpio)                                    \
	X(archive_read_support_format_raw)                                     \
	X(archive_read_support_filter_gzip)                                    \
	X(archive_read_support_filter_bzip2)                                   \
	X(archive_read_support_filter_xz)                                      \
	X(archive_read_support_filter_lzma)                                    \
	X(archive_read_support_filter_zstd)                                    \
	X(archive_read_support_filter_lz4)                                     \
	X(archive_read_support_filter_compress)                                \
	X(archive_read_support_filter_rpm)                                     \
	X(archive_read_open)                                                   \
	X(archive_read_next_header)                                            \
	X(archive_read_data)                                                   \
	X(archive_error_string)                                                \
	X(archive_set_error)                                                   \
	X(archive_format)                                                      \
	X(archive_entry_pathname)                                              \
	X(archive_entry_filetype)

static struct {
#define FIELD(f) __typeof__(&f) f;
	ARCHIVE_SYMS(FIELD)
#undef FIELD
} ar;

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
	       has_suffix(path, ".xz") || has_suffix(path, ".zst");
}

/* What one archive (with those inside it) may still cost. */
struct budget {
	uint64_t limit, total;
	size_t entries;
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
};

static void fail(struct budget *b, int stop, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void fail(struct budget *b, int stop, const char *fmt, ...)
{
	va_list ap;

	b->stopped |= stop;
	if (b->err)
		return;
	b->err = DW_EIO;
	va_start(ap, fmt);
	vsnprintf(b->why, sizeof(b->why), fmt, ap);
	va_end(ap);
}

static int entry_finding(const struct dw_finding *f, void *ctx)
{
	struct walk *w = ctx;
	struct dw_source src = {w->display, DW_SOURCE_ARCHIVE, NULL};
	int rc;

	/* (none: the file itself, no archive after all) */
	src.fields = *w->entry ? json_pack("{s:s}", "entry", w->entry) : NULL;
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

/* One regular entry's data, scanned unless binary; all of it counted. */
static void scan_entry(struct walk *w, struct archive *a, const char *name)
{
	int binary = -1;

	w->entry = name;
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
		if (binary < 0)
			binary = memchr(w->buf, '\0',
					(size_t)n < SNIFF ? (size_t)n
							  : SNIFF) != NULL;
		if (!binary)
			dw_scan_feed(w->s, w->buf, (size_t)n);
	}
	if (binary <= 0)
		dw_scan_finish(w->s);
}

static void walk_archive(struct walk *w, struct archive *a, const char *prefix,
			 int depth);

/* An entry's data as the input of a nested reader. */
struct nested {
	struct walk *w;
	struct archive *outer;
	char *buf;
};

static la_ssize_t nested_read(struct archive *a, void *ctx, const void **out)
{
	struct nested *n = ctx;
	la_ssize_t got = ar.archive_read_data(n->outer, n->buf, READ_SIZE);

	(void)a;
	*out = n->buf;
	if (got > 0 && count(n->w, (size_t)got))
		return -1;
	return got;
}

static void walk_nested(struct walk *w, struct archive *outer, const char *name,
			int depth)
{
	struct nested n = {w, outer, dw_xmalloc(READ_SIZE)};
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
		const char *p = ar.archive_entry_pathname(e);
		struct dw_buf name = DW_BUF_INIT;

		if (++w->b->entries > DW_ARCHIVE_ENTRIES) {
			fail(w->b, 1,
			     "%s: stopped after %d entries; the rest was not "
			     "scanned",
			     w->display, DW_ARCHIVE_ENTRIES);
			break;
		}
		if (ar.archive_entry_filetype(e) != AE_IFREG)
			continue;
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
				walk_nested(w, a, name.ptr, depth + 1);
			else
				fail(w->b, 0,
				     "%s: entry %s not read: archives nested "
				     "deeper than %d are not opened",
				     w->display, name.ptr, DW_ARCHIVE_DEPTH);
		} else {
			scan_entry(w, a, name.ptr);
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

/* The archive itself, by read(2) (the scanner process may not fstat,
 * which libarchive's own fd reader does). */
struct outer {
	int fd;
	char *buf;
};

static la_ssize_t outer_read(struct archive *a, void *ctx, const void **out)
{
	struct outer *o = ctx;
	ssize_t n;

	do
		n = read(o->fd, o->buf, READ_SIZE);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		ar.archive_set_error(a, errno, "read: %s", strerror(errno));
	*out = o->buf;
	return n;
}

int dw_archive_scan(struct dw_scanner *s, int fd, const char *display,
		    uint64_t size, uint64_t max_file_size, dw_source_cb cb,
		    void *ctx)
{
	struct budget b;
	struct walk w = {s, display, cb, ctx, &b, NULL, ""};
	struct outer o = {fd, NULL};
	struct archive *a;
	int err = dw_archive_load();

	if (err || !size) /* (an empty file holds nothing) */
		return err;
	memset(&b, 0, sizeof(b));
	b.limit = size * DW_ARCHIVE_RATIO;
	if (b.limit < DW_ARCHIVE_FLOOR)
		b.limit = DW_ARCHIVE_FLOOR;
	if (max_file_size && b.limit > max_file_size * 16)
		b.limit = max_file_size * 16;
	a = new_reader();
	if (!a)
		return dw_error_set(DW_EIO, "%s: cannot start a reader",
				    display);
	o.buf = dw_xmalloc(READ_SIZE);
	if (ar.archive_read_open(a, &o, NULL, outer_read, NULL) != ARCHIVE_OK) {
		err = dw_error_set(DW_EIO, "%s: %s", display,
				   ar.archive_error_string(a)
					   ? ar.archive_error_string(a)
					   : "not an archive");
		ar.archive_read_free(a);
		free(o.buf);
		return err;
	}
	w.buf = dw_xmalloc(READ_SIZE);
	walk_archive(&w, a, NULL, 0);
	ar.archive_read_free(a);
	free(w.buf);
	free(o.buf);
	return b.err ? dw_error_set(b.err, "%s", b.why) : 0;
}
