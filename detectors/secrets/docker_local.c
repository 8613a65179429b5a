/*
 * Docker's `local` log format, which the `local` driver writes and, for
 * every other driver but `none`, the dual-logging cache
 * (container-cached.log): frames of a big-endian u32 length, a protobuf
 * LogEntry of that length, and the length again. The decoder reads the
 * four fields it needs and skips the rest; every length is checked
 * against what is there, so no input makes it read past its buffer, and
 * a frame over DW_LOCAL_FRAME_MAX is corruption, not an allocation.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "driftwatch/error.h"
#include "driftwatch/sources.h"
#include "driftwatch/xmalloc.h"
#include "driftwatch/banned.h"

/* LogEntry fields (moby api/types/plugins/logdriver/entry.proto). */
enum { F_SOURCE = 1, F_TIME_NANO = 2, F_LINE = 3, F_PARTIAL = 4, F_META = 5 };
/* PartialLogEntryMetadata */
enum { M_LAST = 1 };

/* Joined partial entries are scanned once they reach this size. */
#define JOIN_MAX (1u << 20)

static int varint(const unsigned char **p, const unsigned char *end,
		  uint64_t *v)
{
	unsigned shift = 0;

	*v = 0;
	while (*p < end && shift < 64) {
		unsigned char b = *(*p)++;

		*v |= (uint64_t)(b & 0x7f) << shift;
		if (!(b & 0x80))
			return 0;
		shift += 7;
	}
	return -1;
}

/* One field: its number, wire type, and value (varint or bytes). */
struct pbf {
	unsigned num, wt;
	uint64_t v;
	const unsigned char *b;
	size_t n;
};

static int field(const unsigned char **p, const unsigned char *end,
		 struct pbf *f)
{
	uint64_t key;

	if (varint(p, end, &key))
		return -1;
	f->num = (unsigned)(key >> 3);
	f->wt = (unsigned)(key & 7);
	switch (f->wt) {
	case 0: return varint(p, end, &f->v);
	case 1:
	case 5: {
		size_t k = f->wt == 1 ? 8 : 4;

		if ((size_t)(end - *p) < k)
			return -1;
		*p += k;
		return 0;
	}
	case 2:
		if (varint(p, end, &f->v) || f->v > (uint64_t)(end - *p))
			return -1;
		f->b = *p;
		f->n = (size_t)f->v;
		*p += f->n;
		return 0;
	default: return -1;
	}
}

int dw_local_entry_decode(const unsigned char *p, size_t n,
			  struct dw_local_entry *e)
{
	const unsigned char *end = p + n;
	int piece = 0, meta = 0, last = 0;
	struct pbf f = {0};

	memset(e, 0, sizeof(*e));
	e->line = "";
	e->source = "";
	while (p < end) {
		if (field(&p, end, &f))
			return DW_EINVAL;
		if (f.num == F_SOURCE && f.wt == 2) {
			e->source = (const char *)f.b;
			e->source_len = f.n;
		} else if (f.num == F_TIME_NANO && f.wt == 0) {
			e->time_nano = (int64_t)f.v;
		} else if (f.num == F_LINE && f.wt == 2) {
			e->line = (const char *)f.b;
			e->line_len = f.n;
		} else if (f.num == F_PARTIAL && f.wt == 0) {
			piece = f.v != 0;
		} else if (f.num == F_META && f.wt == 2) {
			const unsigned char *q = f.b, *qe = f.b + f.n;
			struct pbf m = {0};

			meta = 1;
			while (q < qe) {
				if (field(&q, qe, &m))
					return DW_EINVAL;
				if (m.num == M_LAST && m.wt == 0)
					last = m.v != 0;
			}
		}
	}
	/*
	 * Docker marks every piece of a split line as partial; its metadata
	 * says which piece is the last. Without metadata (older Dockers),
	 * the flag alone: set on all pieces but the last.
	 */
	e->partial = meta ? !last : piece;
	return 0;
}

static uint32_t be32(const unsigned char *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	       (uint32_t)p[2] << 8 | (uint32_t)p[3];
}

struct local_sink {
	struct dw_local_log *l;
	const char *display;
	dw_source_cb cb;
	void *ctx;
	json_t *fields;
	int joined; /* scanning l->joined: only what spans pieces */
	const struct dw_local_entry *e; /* the entry scanned alone */
};

/* Does [off, off + n) of the joined line lie inside one piece? */
static int within_piece(const struct dw_local_log *l, uint64_t off, size_t n)
{
	/* The first cut past `off` (cuts ascend; a crafted file may hold a
	 * million one-byte pieces, so no linear search per finding). */
	size_t lo = 0, hi = l->ncuts;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (l->cuts[mid] > off)
			hi = mid;
		else
			lo = mid + 1;
	}
	return lo == l->ncuts || off + n <= l->cuts[lo];
}

static int forward(const struct dw_finding *f, void *ctx)
{
	struct local_sink *k = ctx;
	struct dw_source src = {k->display, DW_SOURCE_DOCKER_LOCAL_LOG,
				k->fields};

	/* Each piece was scanned as it came: report only what spans two. */
	if (k->joined && within_piece(k->l, f->offset, f->secret_len))
		return 0;
	/* (told now: not again when its stream's lines are scanned
	 * together) */
	if (!k->joined && f->multiline)
		dw_log_ml_told(&k->l->ml, k->e->source, k->e->source_len,
			       k->l->entries, f->fingerprint);
	return k->cb(f, &src, k->ctx);
}

/*
 * Entry `e` (text[0..n): its line, or with k->joined its pieces joined)
 * scanned. Alone, it is kept with its stream's lines for the multi-line
 * rules (a key a container prints is a frame a line): `cont`, it
 * continues a piece of its stream left open; `off`, its frame's offset
 * in the feed's data.
 */
static void scan_entry(struct dw_scanner *s, struct local_sink *k,
		       const struct dw_local_entry *e, const char *text,
		       size_t n, int cont, size_t off, size_t frame_len)
{
	char when[96] = "";
	time_t t = (time_t)(e->time_nano / 1000000000);
	struct tm tm;

	k->fields = json_object();
	if (e->source_len)
		json_object_set_new(k->fields, "stream",
				    json_stringn(e->source, e->source_len));
	/* Not strftime: glibc's reads /etc/localtime (tzset) on every call,
	 * which the scanner process may not. */
	if (e->time_nano > 0 && gmtime_r(&t, &tm)) {
		snprintf(when, sizeof(when),
			 "%04d-%02d-%02dT%02d:%02d:%02d.%09lldZ",
			 tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
			 tm.tm_hour, tm.tm_min, tm.tm_sec,
			 (long long)(e->time_nano % 1000000000));
		json_object_set_new(k->fields, "time", json_string(when));
	}
	k->e = e;
	dw_scan_buffer(s, text, n, k->l->entries, forward, k);
	if (!k->joined) {
		struct dw_log_entry_ml m = {.stream = e->source,
					    .stream_len = e->source_len,
					    .time = when,
					    .time_len = strlen(when),
					    .text = text,
					    .n = n,
					    .lineno = k->l->entries,
					    .raw_off = k->l->base + off,
					    .raw_len = frame_len,
					    .hit = dw_scan_multiline_hit(s),
					    .cont = cont,
					    .partial = e->partial};

		dw_log_ml_take(s, &k->l->ml, &m);
	}
	json_decref(k->fields);
	k->fields = NULL;
}

/* The multi-line rules' findings go where the feed's go. */
static void ml_route(struct dw_local_log *l, const char *display,
		     dw_source_cb cb, void *ctx)
{
	if (!l->ml_ready) {
		dw_log_join_init(&l->ml);
		l->ml_ready = 1;
	}
	l->ml.kind = DW_SOURCE_DOCKER_LOCAL_LOG;
	l->ml.display = display;
	l->ml.cb = cb;
	l->ml.ctx = ctx;
}

uint64_t dw_local_log_finish(struct dw_scanner *s, struct dw_local_log *l,
			     int keep, uint64_t from, const char *display,
			     dw_source_cb cb, void *ctx)
{
	ml_route(l, display, cb, ctx);
	return dw_log_join_finish_at(s, &l->ml, keep, from);
}

size_t dw_local_log_feed(struct dw_scanner *s, struct dw_local_log *l,
			 const char *data, size_t len, const char *display,
			 dw_source_cb cb, void *ctx)
{
	const unsigned char *p = (const unsigned char *)data;
	struct local_sink k = {l, display, cb, ctx, NULL, 0, NULL};
	size_t pos = 0;

	ml_route(l, display, cb, ctx);

	while (!l->corrupt && len - pos >= 4) {
		uint32_t size = be32(p + pos);
		struct dw_local_entry e;
		int other;

		if (size > DW_LOCAL_FRAME_MAX ||
		    (len - pos >= 8 + (size_t)size &&
		     be32(p + pos + 4 + size) != size)) {
			l->corrupt = 1;
			break;
		}
		if (len - pos < 8 + (size_t)size)
			break;
		if (dw_local_entry_decode(p + pos + 4, size, &e)) {
			l->corrupt = 1;
			break;
		}
		pos += 8 + (size_t)size;
		l->entries++;
		/* Another stream's entry between the pieces is its own, a
		 * piece of its own long line too (never mixed in). */
		other = l->joined.len &&
			(e.source_len != l->source_len ||
			 memcmp(e.source, l->source, e.source_len));
		/*
		 * A long line comes in 16 KiB pieces. Each is scanned as it
		 * comes (a line left open is not a hiding place), and the
		 * joined line once it ends, for what spans two pieces.
		 */
		scan_entry(s, &k, &e, e.line, e.line_len,
			   l->joined.len && !other, pos - 8 - size, 8 + size);
		if (other)
			continue;
		if (!l->joined.len) {
			l->source_len = e.source_len < sizeof(l->source)
						? e.source_len
						: sizeof(l->source);
			memcpy(l->source, e.source, l->source_len);
		}
		if (e.partial || l->joined.len) {
			if (l->joined.len) {
				DW_ALLOC_GROW(l->cuts, l->ncuts + 1,
					      l->cuts_alloc);
				l->cuts[l->ncuts++] = l->joined.len;
			}
			dw_buf_add(&l->joined, e.line, e.line_len);
			if (!e.partial || l->joined.len >= JOIN_MAX) {
				k.joined = 1;
				scan_entry(s, &k, &e, l->joined.ptr,
					   l->joined.len, 1, 0, 0);
				k.joined = 0;
				dw_buf_reset(&l->joined);
				l->ncuts = 0;
			}
		}
	}
	return pos;
}

void dw_local_log_release(struct dw_local_log *l)
{
	if (l->ml_ready)
		dw_log_join_release(&l->ml);
	dw_buf_release(&l->joined);
	free(l->cuts);
	memset(l, 0, sizeof(*l));
}
