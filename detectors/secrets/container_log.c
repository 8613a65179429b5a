/*
 * Container logs of one line a record: Docker's json-file and the CRI
 * format of Kubernetes' /var/log/pods. Both cut a long line into 16 KiB
 * pieces, one a record; a piece is scanned as it comes and, with the last
 * bytes of the piece before it of its stream, for a secret across the
 * cut. The peek and text walks run in driftwatchd itself (to keep the
 * pieces of a line together and to check what the scanner process says
 * it found): no JSON parser there, a bounded walk of the bytes.
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "driftwatch/sources.h"
#include "driftwatch/xmalloc.h"
#include "driftwatch/banned.h"

/* Docker's json-file writer puts `log` first. */
#define JSON_HEAD "{\"log\":\""
#define JSON_HEAD_LEN (sizeof(JSON_HEAD) - 1)
/* A json-file line larger than this is not decoded (scanned raw). */
#define MAX_JSON_LINE (16u << 20)

void dw_log_join_init(struct dw_log_join *j)
{
	memset(j, 0, sizeof(*j));
	dw_buf_init(&j->slot[0].tail, 0);
	dw_buf_init(&j->slot[1].tail, 0);
	dw_buf_init(&j->slot[0].ml.text, 0);
	dw_buf_init(&j->slot[1].ml.text, 0);
}

void dw_log_join_release(struct dw_log_join *j)
{
	size_t i;

	for (i = 0; i < 2; i++) {
		dw_buf_release(&j->slot[i].tail);
		dw_buf_release(&j->slot[i].ml.text);
		free(j->slot[i].ml.lines);
		free(j->slot[i].ml.seen);
	}
	memset(j, 0, sizeof(*j));
}

/* UTF-8 of code point `c` into `out`. */
static void put_utf8(struct dw_buf *out, unsigned long c)
{
	if (c < 0x80) {
		dw_buf_addch(out, (int)c);
	} else if (c < 0x800) {
		dw_buf_addch(out, (int)(0xc0 | (c >> 6)));
		dw_buf_addch(out, (int)(0x80 | (c & 0x3f)));
	} else if (c < 0x10000) {
		dw_buf_addch(out, (int)(0xe0 | (c >> 12)));
		dw_buf_addch(out, (int)(0x80 | ((c >> 6) & 0x3f)));
		dw_buf_addch(out, (int)(0x80 | (c & 0x3f)));
	} else {
		dw_buf_addch(out, (int)(0xf0 | (c >> 18)));
		dw_buf_addch(out, (int)(0x80 | ((c >> 12) & 0x3f)));
		dw_buf_addch(out, (int)(0x80 | ((c >> 6) & 0x3f)));
		dw_buf_addch(out, (int)(0x80 | (c & 0x3f)));
	}
}

static int hex4(const char *p, unsigned long *v)
{
	size_t i;

	*v = 0;
	for (i = 0; i < 4; i++) {
		if (!isxdigit((unsigned char)p[i]))
			return -1;
		*v = *v * 16 +
		     (unsigned long)(isdigit((unsigned char)p[i])
					     ? p[i] - '0'
					     : (p[i] | 0x20) - 'a' + 10);
	}
	return 0;
}

void dw_json_unescape(const char *p, size_t n, struct dw_buf *out)
{
	static const char from[] = "\"\\/bfnrt", to[] = "\"\\/\b\f\n\r\t";
	size_t i;

	for (i = 0; i < n; i++) {
		const char *e;
		unsigned long c, lo;

		if (p[i] != '\\' || i + 1 >= n) {
			dw_buf_addch(out, p[i]);
			continue;
		}
		if ((e = memchr(from, p[i + 1], sizeof(from) - 1))) {
			dw_buf_addch(out, to[e - from]);
			i++;
		} else if (p[i + 1] == 'u' && i + 5 < n &&
			   !hex4(p + i + 2, &c)) {
			i += 5;
			/* A surrogate pair is one character. */
			if (c >= 0xd800 && c < 0xdc00 && i + 6 < n &&
			    p[i + 1] == '\\' && p[i + 2] == 'u' &&
			    !hex4(p + i + 3, &lo) && lo >= 0xdc00 &&
			    lo < 0xe000) {
				c = 0x10000 + ((c - 0xd800) << 10) +
				    (lo - 0xdc00);
				i += 6;
			}
			put_utf8(out, c);
		} else {
			dw_buf_addch(out, p[i]);
		}
	}
}

/*
 * json-file: the raw `log` string (escaped, without its quotes) and the
 * stream after it. 0, or -1 when the line is not Docker's.
 */
static int json_walk(const char *line, size_t n, const char **text,
		     size_t *text_len, int *other)
{
	static const char stream[] = ",\"stream\":\"";
	size_t i;

	if (n < JSON_HEAD_LEN || memcmp(line, JSON_HEAD, JSON_HEAD_LEN))
		return -1;
	for (i = JSON_HEAD_LEN; i < n && line[i] != '"'; i++)
		if (line[i] == '\\')
			i++;
	if (i >= n)
		return -1;
	*text = line + JSON_HEAD_LEN;
	*text_len = i - JSON_HEAD_LEN;
	i++;
	*other = 1;
	if (n - i >= sizeof(stream) - 1 + 7 &&
	    !memcmp(line + i, stream, sizeof(stream) - 1) &&
	    !memcmp(line + i + sizeof(stream) - 1, "stdout\"", 7))
		*other = 0;
	return 0;
}

/* CRI: TIME SP STREAM SP TAG[:TAG…] SP TEXT; 0 or -1. */
static int cri_walk(const char *line, size_t n, const char **time,
		    size_t *time_len, const char **stream, size_t *stream_len,
		    int *partial, const char **text, size_t *text_len)
{
	const char *sp1 = memchr(line, ' ', n), *sp2, *sp3, *end = line + n;

	if (!sp1 || sp1 == line)
		return -1;
	sp2 = memchr(sp1 + 1, ' ', (size_t)(end - sp1 - 1));
	if (!sp2 || sp2 == sp1 + 1)
		return -1;
	sp3 = memchr(sp2 + 1, ' ', (size_t)(end - sp2 - 1));
	/* "F" with nothing after it is an empty line: no space either. */
	if (!sp3)
		sp3 = end;
	if (sp3 == sp2 + 1 || (sp2[1] != 'P' && sp2[1] != 'F') ||
	    (sp3 > sp2 + 2 && sp2[2] != ':'))
		return -1;
	*time = line;
	*time_len = (size_t)(sp1 - line);
	*stream = sp1 + 1;
	*stream_len = (size_t)(sp2 - sp1 - 1);
	*partial = sp2[1] == 'P';
	*text = sp3 < end ? sp3 + 1 : end;
	*text_len = (size_t)(end - *text);
	return 0;
}

int dw_log_line_peek(enum dw_log_format format, const char *line, size_t n,
		     int *other)
{
	const char *t, *st, *text;
	size_t tl, sl, xl;
	int partial;

	*other = 1;
	if (format == DW_LOG_DOCKER_JSON) {
		if (json_walk(line, n, &text, &xl, other))
			return -1;
		/* Docker ends a whole line's text with "\n"; an escaped
		 * backslash before an n is not one. */
		if (xl >= 2 && text[xl - 2] == '\\' && text[xl - 1] == 'n') {
			size_t k = xl - 2, bs = 0;

			while (k > 0 && text[k - 1] == '\\')
				k--, bs++;
			return bs % 2 ? 1 : 0;
		}
		return 1;
	}
	if (format == DW_LOG_CRI) {
		if (cri_walk(line, n, &t, &tl, &st, &sl, &partial, &text, &xl))
			return -1;
		*other = !(sl == 6 && !memcmp(st, "stdout", 6));
		return partial;
	}
	return -1;
}

size_t dw_log_open_from(enum dw_log_format format, const char *data, size_t len)
{
	size_t open[2] = {len, len}, start = 0, i;

	for (i = 0; i <= len; i++) {
		int other = 0, partial;

		if (i < len && data[i] != '\n')
			continue;
		if (i > start) {
			partial = dw_log_line_peek(format, data + start,
						   i - start, &other);
			open[other] = partial > 0 ? start : len;
		}
		start = i + 1;
	}
	return open[0] < open[1] ? open[0] : open[1];
}

int dw_log_line_text(enum dw_log_format format, const char *line, size_t n,
		     struct dw_buf *out)
{
	const char *t, *st, *text;
	size_t tl, sl, xl;
	int partial, other;

	if (format == DW_LOG_DOCKER_JSON) {
		if (json_walk(line, n, &text, &xl, &other))
			return -1;
		dw_json_unescape(text, xl, out);
		return 0;
	}
	if (format == DW_LOG_CRI) {
		if (cri_walk(line, n, &t, &tl, &st, &sl, &partial, &text, &xl))
			return -1;
		dw_buf_add(out, text, xl);
		return 0;
	}
	return -1;
}

/* ---- scanning ---- */

struct join_sink {
	struct dw_source src;
	dw_source_cb cb;
	void *ctx;
	size_t cut; /* scanning a join: only what spans this offset */
	int joined;
	struct dw_log_ml *ml; /* the line's stream's kept lines */
	uint64_t lineno;
};

static void ml_note(struct dw_log_ml *m, uint64_t lineno, const char *fp);

static int forward(const struct dw_finding *f, void *ctx)
{
	struct join_sink *k = ctx;

	if (k->joined &&
	    (f->offset >= k->cut || f->offset + f->secret_len <= k->cut))
		return 0;
	/* (told now: not again when the lines are scanned together) */
	if (f->multiline && !k->joined && k->ml)
		ml_note(k->ml, k->lineno, f->fingerprint);
	return k->cb(f, &k->src, k->ctx);
}

/* ---- a stream's lines together, for the multi-line rules ---- */

struct ml_sink {
	struct dw_log_join *j;
	struct dw_log_piece *p;
};

static int ml_seen(const struct dw_log_ml *m, uint64_t lineno, const char *fp)
{
	size_t i;

	for (i = m->nseen; i-- > 0;)
		if (m->seen[i].lineno == lineno &&
		    !strcmp(m->seen[i].fingerprint, fp))
			return 1;
	return 0;
}

static void ml_note(struct dw_log_ml *m, uint64_t lineno, const char *fp)
{
	if (ml_seen(m, lineno, fp))
		return;
	DW_ALLOC_GROW(m->seen, m->nseen + 1, m->seen_alloc);
	m->seen[m->nseen].lineno = lineno;
	memcpy(m->seen[m->nseen++].fingerprint, fp, 72);
}

/* The kept line that holds text offset `off`. */
static const struct dw_log_ml_line *ml_line_at(const struct dw_log_ml *m,
					       uint64_t off)
{
	size_t lo = 0, hi = m->nlines;

	while (hi - lo > 1) {
		size_t mid = lo + (hi - lo) / 2;

		if (m->lines[mid].text_off <= off)
			lo = mid;
		else
			hi = mid;
	}
	return &m->lines[lo];
}

/* What the multi-line rules found across the lines: told on its raw
 * line (where its secret starts), with that line's stream and time;
 * what was told already is not. */
static int ml_forward(const struct dw_finding *f, void *ctx)
{
	struct ml_sink *k = ctx;
	struct dw_log_ml *m = &k->p->ml;
	const struct dw_log_ml_line *l;
	struct dw_source src;
	struct dw_finding g;
	int stop;

	if (!f->multiline || !m->nlines || f->offset >= m->text.len)
		return 0;
	l = ml_line_at(m, f->offset);
	if (ml_seen(m, l->lineno, f->fingerprint))
		return 0;
	/* (kept lines are scanned again with what follows) */
	ml_note(m, l->lineno, f->fingerprint);
	g = *f;
	g.line = l->lineno;
	g.offset = f->offset - l->text_off;
	g.column = g.offset + 1;
	src.path = k->j->display;
	src.kind = k->j->kind;
	src.fields = json_object();
	json_object_set_new(src.fields, "stream",
			    json_stringn(m->stream, m->stream_len));
	if (l->time_len)
		json_object_set_new(src.fields, "time",
				    json_stringn(l->time, l->time_len));
	stop = k->j->cb(&g, &src, k->j->ctx);
	json_decref(src.fields);
	return stop;
}

/* Scan the kept lines together (one line alone was scanned as itself),
 * then keep those from `from` on (the notes of the line being read stay
 * too). */
static void ml_flush(struct dw_scanner *s, struct dw_log_join *j,
		     struct dw_log_piece *p, size_t from)
{
	struct dw_log_ml *m = &p->ml;
	struct ml_sink k = {j, p};
	size_t i, cut, n = 0;
	uint64_t keep_from;

	if (m->nlines > 1 && j->cb) {
		j->ml_first = &m->lines[0];
		j->ml_last = &m->lines[m->nlines - 1];
		dw_scan_buffer(s, m->text.ptr, m->text.len, 1, ml_forward, &k);
		j->timed_out |= dw_scan_timed_out(s);
		j->ml_first = j->ml_last = NULL;
	}
	if (from >= m->nlines) {
		dw_buf_reset(&m->text);
		m->nlines = 0;
		keep_from = m->cur_line;
	} else {
		cut = m->lines[from].text_off;
		memmove(m->text.ptr, m->text.ptr + cut, m->text.len - cut);
		dw_buf_setlen(&m->text, m->text.len - cut);
		memmove(m->lines, m->lines + from,
			(m->nlines - from) * sizeof(*m->lines));
		m->nlines -= from;
		for (i = 0; i < m->nlines; i++)
			m->lines[i].text_off -= cut;
		keep_from = m->lines[0].lineno < m->cur_line
				    ? m->lines[0].lineno
				    : m->cur_line;
	}
	for (i = 0; i < m->nseen; i++)
		if (m->seen[i].lineno >= keep_from)
			m->seen[n++] = m->seen[i];
	m->nseen = n;
}

/* Where the lines a rule's window `window` still reaches from the end of
 * data[0..len) begin: a match starts on a line and goes on up to
 * `window` bytes past its end. */
static size_t window_from(const char *d, size_t len, size_t window)
{
	size_t lo = len > window ? len - window : 0;
	const char *q = lo ? memrchr(d, '\n', lo) : NULL;

	return q ? (size_t)(q - d) + 1 : 0;
}

static size_t open_block(const char *data, size_t len, size_t window)
{
	const char *p = NULL, *q, *end = data + len;

	for (q = data + window_from(data, len, window);
	     q < end && (q = memmem(q, (size_t)(end - q), "-----BEGIN ", 11));
	     q += 11)
		p = q;
	if (!p || memmem(p, (size_t)(end - p), "-----END ", 9))
		return SIZE_MAX;
	q = memrchr(data, '\n', (size_t)(p - data));
	return q ? (size_t)(q - data) + 1 : 0;
}

/* \s of PCRE2 (the netrc-password rule's blanks) */
static int netrc_blank(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' ||
	       c == '\r';
}

/* Blanks from d[*i]: 1 if there was one at least (0 and *i == len: the
 * data ended before one). */
static int netrc_blanks(const char *d, size_t len, size_t *i)
{
	size_t from = *i;

	while (*i < len && netrc_blank(d[*i]))
		(*i)++;
	return *i > from;
}

/* Keyword `w` at d[*i] (any case): 1 there, 0 not, -1 the data ended
 * inside it. */
static int netrc_word(const char *d, size_t len, size_t *i, const char *w)
{
	size_t n = strlen(w), k;

	for (k = 0; k < n; k++) {
		if (*i + k == len)
			return -1;
		if (tolower((unsigned char)d[*i + k]) != w[k])
			return 0;
	}
	*i += n;
	return 1;
}

/*
 * The readings of a token of the rule at d[i] (NETRC_TOKEN: in double
 * quotes with \\-escapes and no line end, or blank-free; the regex tries
 * the other when one fails later): ends[] gets where each ends, SIZE_MAX
 * where the data ends inside it or right after it (more may change it).
 * Returns how many (0: none). `min`: the fewest bytes of a blank-free
 * one. (PCRE2's newline is LF: an escape takes any byte but LF.)
 */
static int netrc_token_ends(const char *d, size_t len, size_t i, size_t min,
			    size_t ends[2])
{
	size_t j;
	int n = 0;

	if (d[i] == '"') {
		for (j = i + 1;
		     j < len && d[j] != '"' && d[j] != '\n' && d[j] != '\r';
		     j++)
			if (d[j] == '\\' && ++j < len && d[j] == '\n')
				break;
		if (j >= len || (d[j] == '"' && j + 1 == len))
			ends[n++] = SIZE_MAX;
		else if (d[j] == '"')
			ends[n++] = j + 1;
	}
	for (j = i; j < len && !netrc_blank(d[j]); j++)
		;
	if (j == len)
		ends[n++] = SIZE_MAX;
	else if (j - i >= min && (!n || ends[0] != j))
		ends[n++] = j;
	return n;
}

/* What comes next in a .netrc entry (after the blanks before it). */
enum {
	NETRC_HOST,
	NETRC_LOGIN_KW,
	NETRC_LOGIN,
	NETRC_ACCOUNT_KW,
	NETRC_ACCOUNT,
	NETRC_PASSWORD_KW,
	NETRC_PASSWORD
};

/*
 * Does the entry go on from d[i] (right after a keyword or token: blanks
 * must follow) to the end of the data, not yet past its password and the
 * blank after it? Each token is read both ways the regex may: at most 8
 * ways through an entry's tokens.
 */
static int netrc_goes_on(const char *d, size_t len, size_t i, int next)
{
	size_t ends[2], at;
	int n, k, r;

	if (!netrc_blanks(d, len, &i) || i == len)
		return i == len;
	switch (next) {
	case NETRC_HOST:
	case NETRC_LOGIN:
	case NETRC_ACCOUNT:
	case NETRC_PASSWORD:
		n = netrc_token_ends(d, len, i, next == NETRC_PASSWORD ? 6 : 1,
				     ends);
		for (k = 0; k < n; k++)
			if (ends[k] == SIZE_MAX ||
			    (next != NETRC_PASSWORD &&
			     netrc_goes_on(d, len, ends[k], next + 1)))
				return 1;
		return 0;
	case NETRC_LOGIN_KW:
		r = netrc_word(d, len, &i, "login");
		return r == -1 ||
		       (r == 1 && netrc_goes_on(d, len, i, NETRC_LOGIN));
	case NETRC_ACCOUNT_KW:
		at = i;
		r = netrc_word(d, len, &at, "account");
		if (r == -1 ||
		    (r == 1 && netrc_goes_on(d, len, at, NETRC_ACCOUNT)))
			return 1;
		break; /* no account: the password */
	default: break;
	}
	r = netrc_word(d, len, &i, "password");
	return r == -1 || (r == 1 && netrc_goes_on(d, len, i, NETRC_PASSWORD));
}

/*
 * Does a .netrc entry starting at d[at] (the netrc-password rule:
 * "machine HOST" or "default", "login USER", maybe "account ACCT",
 * "password PASSWORD", apart by blanks and line ends) go on to the end of
 * the data, not yet past its password (its lines may still come)?
 */
static int netrc_open_at(const char *d, size_t len, size_t at)
{
	size_t i = at;
	int r = netrc_word(d, len, &i, "machine");

	if (r)
		return r == -1 || netrc_goes_on(d, len, i, NETRC_HOST);
	r = netrc_word(d, len, &i, "default");
	return r == -1 || (r == 1 && netrc_goes_on(d, len, i, NETRC_LOGIN_KW));
}

/*
 * The start of the line of the first .netrc entry that data[0..len)
 * ends inside, of those whose first keyword's line the rule's window
 * reaches; SIZE_MAX: none. Every keyword is tried, in order (a host,
 * login or account may be the word "machine" or "default" too): each
 * try reads at most an entry's 8 tokens and their blanks.
 */
static size_t open_netrc(const char *d, size_t len, size_t window)
{
	size_t i;
	const char *q;

	for (i = window_from(d, len, window); i < len; i++) {
		char c = (char)(d[i] | 0x20);

		/* (two letters first: a cheap no for most words) */
		if ((c != 'm' && c != 'd') ||
		    (i + 1 < len &&
		     (char)(d[i + 1] | 0x20) != (c == 'm' ? 'a' : 'e')) ||
		    (i &&
		     (isalnum((unsigned char)d[i - 1]) || d[i - 1] == '_')))
			continue;
		if (netrc_open_at(d, len, i)) {
			q = memrchr(d, '\n', i);
			return q ? (size_t)(q - d) + 1 : 0;
		}
	}
	return SIZE_MAX;
}

size_t dw_log_open_key(const char *data, size_t len, size_t window)
{
	size_t b = open_block(data, len, window),
	       n = open_netrc(data, len, window);

	return b < n ? b : n;
}

/* The lines kept, scanned together; the `raw_off` of the earliest
 * stream's last open BEGIN line at `from` or after (j->hold_line: its
 * line), kept with what follows it if `keep`. */
static uint64_t join_finish(struct dw_scanner *s, struct dw_log_join *j,
			    int keep, uint64_t from)
{
	uint64_t open = UINT64_MAX;
	size_t k, i, n;

	/* The last BEGIN line kept of each stream with no END after it
	 * (an END line scanned its lines and let them go; a key's lines
	 * hold no BEGIN: an earlier one is no key's), or the first line of
	 * a .netrc entry the kept lines end inside, whichever is first. */
	for (k = 0; k < 2; k++) {
		const struct dw_log_ml *m = &j->slot[k].ml;

		for (i = m->nlines; i-- > 0 && !m->lines[i].block;)
			;
		if (i < m->nlines && m->lines[i].raw_off < from)
			i = m->nlines;
		/* (each against `from` on its own: an entry before it must
		 * not take the place of a key after it) */
		n = m->nlines ? open_netrc(m->text.ptr, m->text.len,
					   DW_LOG_ML_MAX)
			      : SIZE_MAX;
		if (n != SIZE_MAX) {
			size_t e = (size_t)(ml_line_at(m, n) - m->lines);

			if (e < i && m->lines[e].raw_off >= from)
				i = e;
		}
		if (i < m->nlines && m->lines[i].raw_off < open) {
			open = m->lines[i].raw_off;
			j->hold_line = m->lines[i].lineno;
		}
		ml_flush(s, j, &j->slot[k],
			 keep && i < m->nlines ? i : SIZE_MAX);
	}
	return open;
}

uint64_t dw_log_join_finish(struct dw_scanner *s, struct dw_log_join *j)
{
	return join_finish(s, j, 0, 0);
}

uint64_t dw_log_join_finish_at(struct dw_scanner *s, struct dw_log_join *j,
			       int keep, uint64_t from)
{
	return join_finish(s, j, keep, from);
}

/*
 * A line of the stream, scanned as itself already (`hit`: a multi-line
 * rule's keyword was on it): kept from a line with a hit on. `last`: the
 * first piece of a line cut (a key's END line printed without its
 * newline is one): scanned with the lines kept, which end there.
 */
static void ml_add(struct dw_scanner *s, struct dw_log_join *j,
		   struct dw_log_piece *p, const char *text, size_t n,
		   uint64_t lineno, uint64_t raw_off, uint64_t raw_len,
		   const char *time, size_t time_len, int hit, int last)
{
	struct dw_log_ml *m = &p->ml;
	struct dw_log_ml_line *l;
	size_t i;

	/* Longer than the rules' window: no match spans it. */
	if (n + 1 > DW_LOG_ML_MAX) {
		ml_flush(s, j, p, SIZE_MAX);
		return;
	}
	if (!m->nlines && (!hit || last))
		return;
	if (m->text.len + n + 1 > 2 * DW_LOG_ML_MAX ||
	    m->nlines >= DW_LOG_ML_LINES) {
		/* Full: scanned, and kept from the first line with a hit in
		 * its last DW_LOG_ML_MAX (and half its lines): a key that
		 * begins there is read whole with what follows. */
		size_t from = SIZE_MAX;

		for (i = 1; i < m->nlines && from == SIZE_MAX; i++)
			if (m->lines[i].hit &&
			    m->text.len - m->lines[i].text_off <=
				    DW_LOG_ML_MAX &&
			    m->nlines - i <= DW_LOG_ML_LINES / 2)
				from = i;
		ml_flush(s, j, p, from);
		if (!m->nlines && (!hit || last))
			return;
	}
	DW_ALLOC_GROW(m->lines, m->nlines + 1, m->alloc);
	l = &m->lines[m->nlines++];
	l->lineno = lineno;
	l->raw_off = raw_off;
	l->raw_len = raw_len;
	l->text_off = m->text.len;
	l->time_len = time_len < sizeof(l->time) ? time_len : 0;
	memcpy(l->time, time, l->time_len);
	l->hit = hit;
	/* (a BEGIN with no END after it on its line) */
	l->block = hit && open_block(text, n, n) != SIZE_MAX;
	dw_buf_add(&m->text, text, n);
	dw_buf_addch(&m->text, '\n');
	if (last)
		ml_flush(s, j, p, SIZE_MAX);
	/* A PEM block's END line: the block rules' blocks end there (kept
	 * if another begins on it: `cat a.pem b.pem`, no newline between) */
	else if (m->nlines > 1 && n >= 9 && memmem(text, n, "-----END ", 9))
		ml_flush(s, j, p, l->block ? m->nlines - 1 : SIZE_MAX);
}

/* Entry `e` of slot `p`: kept with its stream's lines when it starts a
 * line (`!e->cont`); one that continues a piece ends them. */
static void ml_take(struct dw_scanner *s, struct dw_log_join *j,
		    struct dw_log_piece *p, const struct dw_log_entry_ml *e)
{
	p->ml.cur_line = e->lineno;
	if (e->cont || e->odd) {
		ml_flush(s, j, p, SIZE_MAX);
		/* The last piece of a long line with a keyword (a key's BEGIN
		 * after 16 KiB of other text on its line): the first of the
		 * lines kept, its piece's text as its line's. */
		if (e->odd || !e->hit || e->partial)
			return;
	}
	if (!e->hit && !p->ml.nlines)
		return;
	p->ml.stream_len = e->stream_len < sizeof(p->ml.stream)
				   ? e->stream_len
				   : sizeof(p->ml.stream);
	memcpy(p->ml.stream, e->stream, p->ml.stream_len);
	ml_add(s, j, p, e->text, e->n, e->lineno, e->raw_off, e->raw_len,
	       e->time, e->time_len, e->hit, e->partial);
}

static int slot_of(const char *stream, size_t stream_len)
{
	return !(stream_len == 6 && !memcmp(stream, "stdout", 6));
}

void dw_log_ml_take(struct dw_scanner *s, struct dw_log_join *j,
		    const struct dw_log_entry_ml *e)
{
	ml_take(s, j, &j->slot[slot_of(e->stream, e->stream_len)], e);
}

void dw_log_ml_told(struct dw_log_join *j, const char *stream,
		    size_t stream_len, uint64_t lineno, const char *fingerprint)
{
	struct dw_log_ml *m = &j->slot[slot_of(stream, stream_len)].ml;

	m->cur_line = lineno;
	ml_note(m, lineno, fingerprint);
}

/* One decoded piece: scanned, joined with its stream's open piece. */
static void scan_piece(struct dw_scanner *s, struct dw_log_join *j,
		       struct join_sink *k, const char *stream,
		       size_t stream_len, const char *time, size_t time_len,
		       int partial, const char *text, size_t n, uint64_t lineno,
		       const char *raw, uint64_t raw_off, uint64_t raw_len)
{
	int other = slot_of(stream, stream_len), o = 0;
	struct dw_log_piece *p = &j->slot[other];
	struct dw_log_entry_ml e = {.stream = stream,
				    .stream_len = stream_len,
				    .time = time,
				    .time_len = time_len,
				    .text = text,
				    .n = n,
				    .lineno = lineno,
				    .raw_off = raw_off,
				    .raw_len = raw_len,
				    .partial = partial};
	size_t keep;
	int pk;

	/* (the scanner process's checker reads the raw lines the way
	 * dw_log_line_peek() does: a line is kept only if that says it is a
	 * whole line of this stream too, and one it reads as of a stream
	 * ends that stream's kept lines unless kept) */
	pk = dw_log_line_peek(j->format, raw, (size_t)raw_len, &o);
	p->ml.cur_line = lineno;
	k->ml = &p->ml;
	k->lineno = lineno;
	dw_scan_buffer(s, text, n, lineno, forward, k);
	j->timed_out |= dw_scan_timed_out(s);
	k->ml = NULL;
	e.hit = dw_scan_multiline_hit(s);
	e.cont = p->open;
	e.odd = pk != partial || o != other;
	ml_take(s, j, p, &e);
	if (e.odd && pk >= 0 && o != other)
		ml_flush(s, j, &j->slot[o], SIZE_MAX);
	/* An empty piece that more follows changes nothing. */
	if (!n && partial && p->open)
		return;
	if (p->open && n && p->stream_len == stream_len &&
	    !memcmp(p->stream, stream, stream_len)) {
		size_t cut = p->tail.len;
		json_t *fields = k->src.fields;

		dw_buf_add(&p->tail, text, n);
		k->joined = 1;
		k->cut = cut;
		j->joining = p;
		/* Told where it starts: the open piece's line and time. */
		k->src.fields = json_copy(fields);
		if (p->time_len)
			json_object_set_new(k->src.fields, "time",
					    json_stringn(p->time, p->time_len));
		dw_scan_buffer(s, p->tail.ptr, p->tail.len, p->lineno, forward,
			       k);
		j->timed_out |= dw_scan_timed_out(s);
		json_decref(k->src.fields);
		k->src.fields = fields;
		j->joining = NULL;
		k->joined = 0;
	}
	p->open = partial;
	dw_buf_reset(&p->tail);
	if (!partial)
		return;
	/* Its last bytes, no more than it has: a join never costs more
	 * than the two pieces it joins. */
	keep = n < DW_LOG_JOIN_TAIL ? n : DW_LOG_JOIN_TAIL;
	dw_buf_add(&p->tail, text + n - keep, keep);
	p->stream_len =
		stream_len < sizeof(p->stream) ? stream_len : sizeof(p->stream);
	memcpy(p->stream, stream, p->stream_len);
	p->time_len = time_len < sizeof(p->time) ? time_len : 0;
	memcpy(p->time, time, p->time_len);
	p->lineno = lineno;
	p->raw_off = raw_off;
	p->raw_len = raw_len;
}

static void scan_json_line(struct dw_scanner *s, struct dw_log_join *j,
			   struct join_sink *k, const char *line, size_t n,
			   uint64_t lineno, uint64_t raw_off)
{
	/* A NUL the container wrote is "\u0000" in Docker's line. */
	json_t *doc = n < MAX_JSON_LINE
			      ? json_loadb(line, n, JSON_ALLOW_NUL, NULL)
			      : NULL;
	json_t *log = json_object_get(doc, "log"), *v;
	const char *stream = "", *time = "";
	size_t stream_len = 0, time_len = 0, len;
	const char *text;

	if (!json_is_string(log)) {
		int o;

		/* Not one of Docker's lines: scanned as it is, not lost.
		 * (One the daemon's checker reads as of a stream ends that
		 * stream's kept lines: scan_piece().) */
		dw_scan_buffer(s, line, n, lineno, forward, k);
		j->timed_out |= dw_scan_timed_out(s);
		if (dw_log_line_peek(DW_LOG_DOCKER_JSON, line, n, &o) >= 0)
			ml_flush(s, j, &j->slot[o], SIZE_MAX);
		json_decref(doc);
		return;
	}
	k->src.fields = json_object();
	if ((v = json_object_get(doc, "stream")) && json_is_string(v)) {
		json_object_set(k->src.fields, "stream", v);
		stream = json_string_value(v);
		stream_len = json_string_length(v);
	}
	if ((v = json_object_get(doc, "time")) && json_is_string(v)) {
		json_object_set(k->src.fields, "time", v);
		time = json_string_value(v);
		time_len = json_string_length(v);
	}
	text = json_string_value(log);
	len = json_string_length(log);
	/* A whole line ends with its newline; a piece has none. */
	if (len && text[len - 1] == '\n')
		scan_piece(s, j, k, stream, stream_len, time, time_len, 0, text,
			   len - 1, lineno, line, raw_off, n);
	else
		scan_piece(s, j, k, stream, stream_len, time, time_len, 1, text,
			   len, lineno, line, raw_off, n);
	json_decref(k->src.fields);
	k->src.fields = NULL;
	json_decref(doc);
}

static void scan_cri_line(struct dw_scanner *s, struct dw_log_join *j,
			  struct join_sink *k, const char *line, size_t n,
			  uint64_t lineno, uint64_t raw_off)
{
	const char *t, *st, *text;
	size_t tl, sl, xl;
	int partial;

	if (cri_walk(line, n, &t, &tl, &st, &sl, &partial, &text, &xl)) {
		dw_scan_buffer(s, line, n, lineno, forward, k);
		j->timed_out |= dw_scan_timed_out(s);
		return;
	}
	k->src.fields = json_object();
	json_object_set_new(k->src.fields, "stream", json_stringn(st, sl));
	json_object_set_new(k->src.fields, "time", json_stringn(t, tl));
	scan_piece(s, j, k, st, sl, t, tl, partial, text, xl, lineno, line,
		   raw_off, n);
	json_decref(k->src.fields);
	k->src.fields = NULL;
}

void dw_scan_log_line(struct dw_scanner *s, struct dw_log_join *j,
		      enum dw_log_format format, const char *line, size_t n,
		      uint64_t lineno, uint64_t raw_off, const char *display,
		      dw_source_cb cb, void *ctx)
{
	struct join_sink k;

	memset(&k, 0, sizeof(k));
	k.src.path = display;
	k.src.kind = format == DW_LOG_CRI ? DW_SOURCE_CRI_LOG
					  : DW_SOURCE_DOCKER_JSON_LOG;
	k.cb = cb;
	k.ctx = ctx;
	j->format = format;
	j->kind = k.src.kind;
	j->display = display;
	j->cb = cb;
	j->ctx = ctx;
	if (format == DW_LOG_DOCKER_JSON)
		scan_json_line(s, j, &k, line, n, lineno, raw_off);
	else if (format == DW_LOG_CRI)
		scan_cri_line(s, j, &k, line, n, lineno, raw_off);
	else
		dw_scan_buffer(s, line, n, lineno, forward, &k);
	j->timed_out |= dw_scan_timed_out(s);
}

int dw_is_cri_log(const char *path)
{
	const char *base = strrchr(path, '/'), *p, *dir, *pod;
	size_t under = 0;

	if (!base)
		return 0;
	/* N.log, N.log.20240102-030405, N.log.20240102-030405.gz */
	p = base + 1;
	if (!isdigit((unsigned char)*p))
		return 0;
	while (isdigit((unsigned char)*p))
		p++;
	if (strncmp(p, ".log", 4))
		return 0;
	p += 4;
	if (*p == '.') {
		p++;
		while (isdigit((unsigned char)*p) || *p == '-')
			p++;
	}
	if (*p && strcmp(p, ".gz"))
		return 0;
	/* .../<ns>_<pod>_<uid>/<container>/N.log */
	for (dir = base; dir > path && dir[-1] != '/'; dir--)
		;
	if (dir == base || dir - path < 2)
		return 0;
	for (pod = dir - 1; pod > path && pod[-1] != '/'; pod--)
		under += pod[-1] == '_';
	return under == 2;
}
