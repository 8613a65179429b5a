/* The secret engine: scanning. Input is streamed in chunks cut at line ends, so
 * memory does not grow with the input. */
#include "engine_int.h"

#include <pthread.h>
#include <strings.h>

#include "driftwatch/banned.h"

int dw_scanner_new(struct dw_scanner **out, const struct dw_engine *e)
{
	struct dw_scanner *s = dw_xcalloc(1, sizeof(*s));

	s->e = e;
	if ((e->db && hs_alloc_scratch(e->db, &s->scratch) != HS_SUCCESS) ||
	    (e->named_db &&
	     hs_alloc_scratch(e->named_db, &s->scratch) != HS_SUCCESS)) {
		hs_free_scratch(s->scratch);
		free(s);
		return dw_error_set(DW_ERROR, "cannot allocate Hyperscan "
					      "scratch space");
	}
	s->md = pcre2_match_data_create(64, NULL);
	s->mctx = pcre2_match_context_create(NULL);
	s->jit = pcre2_jit_stack_create(32 << 10, 4 << 20, NULL);
	/* Bound the work a hostile line can cause in the interpreter. */
	pcre2_set_match_limit(s->mctx, 2000000);
	/* The interpreter's backtracking memory; JIT ignores the depth. */
	pcre2_set_heap_limit(s->mctx, 20 * 1024);
	pcre2_jit_stack_assign(s->mctx, NULL, s->jit);
	s->rule_done = dw_xcalloc(e->nrules + 1, 1);
	s->claim = dw_xcalloc(e->nrules + 1, 1);
	s->last_hit = dw_xcalloc(e->nrules + 1, sizeof(*s->last_hit));
	s->name_ok = dw_xcalloc(e->nrules + 1, 1);
	s->name_next = dw_xcalloc(e->nrules + 1, 1);
	dw_buf_init(&s->buf, 0);
	*out = s;
	return 0;
}

void dw_scanner_free(struct dw_scanner *s)
{
	if (!s)
		return;
	hs_free_scratch(s->scratch);
	pcre2_match_data_free(s->md);
	pcre2_match_context_free(s->mctx);
	pcre2_jit_stack_free(s->jit);
	free(s->rule_done);
	free(s->claim);
	free(s->last_hit);
	free(s->name_ok);
	free(s->name_next);
	free(s->hits);
	free(s->map);
	dw_buf_release(&s->buf);
	dw_buf_release(&s->dec);
	free(s);
}

/*
 * Count newlines 32 bytes at a time: each compare gives -1 per match,
 * summed into byte lanes that are flushed before they can overflow. Built
 * for AVX2 where the CPU has it (an ifunc picks), plain SSE2 otherwise.
 */
typedef signed char v32 __attribute__((vector_size(32)));
/* The per-lane counts: unsigned, so 255 matches wrap as defined. */
typedef unsigned char u32v __attribute__((vector_size(32)));

__attribute__((target_clones("avx2", "default"))) static uint64_t
count_newlines(const char *p, size_t n)
{
	const v32 nl = {'\n', '\n', '\n', '\n', '\n', '\n', '\n', '\n',
			'\n', '\n', '\n', '\n', '\n', '\n', '\n', '\n',
			'\n', '\n', '\n', '\n', '\n', '\n', '\n', '\n',
			'\n', '\n', '\n', '\n', '\n', '\n', '\n', '\n'};
	uint64_t total = 0;
	size_t i = 0;

	while (n - i >= 32) {
		u32v acc = {0};
		size_t end = i + 32 * 255 < n - 31 ? i + 32 * 255 : n - 31;
		int k;

		for (; i < end; i += 32) {
			v32 v;

			memcpy(&v, p + i, 32);
			acc -= (u32v)(v == nl);
		}
		for (k = 0; k < 32; k++)
			total += (unsigned char)acc[k];
	}
	for (; i < n; i++)
		total += p[i] == '\n';
	return total;
}

/* Line number of absolute offset `abs` (>= line_abs, inside buf). */
static uint64_t line_of(struct dw_scanner *s, uint64_t abs)
{
	const char *base = s->buf.ptr - s->buf_abs;

	/* Behind us only in the overlap of a cut line: no newlines there. */
	if (abs <= s->line_abs)
		return s->line_no;
	s->line_no += count_newlines(base + s->line_abs, abs - s->line_abs);
	s->line_abs = abs;
	return s->line_no;
}

/*
 * SHA-256 fetched once: EVP_sha256() looks the implementation up at each
 * init, under a lock (a line of thousands of key ids spent a tenth of
 * its scan there).
 */
static EVP_MD *fp_md;
static pthread_once_t fp_once = PTHREAD_ONCE_INIT;

static void fp_fetch(void)
{
	fp_md = EVP_MD_fetch(NULL, "SHA2-256", NULL);
}

void dw_secret_fingerprint(char out[72], const char *id, const char *sec,
			   size_t n)
{
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	unsigned char dig[EVP_MAX_MD_SIZE];
	unsigned len = 0;

	pthread_once(&fp_once, fp_fetch);
	EVP_DigestInit_ex(md, fp_md ? fp_md : EVP_sha256(), NULL);
	EVP_DigestUpdate(md, id, strlen(id));
	EVP_DigestUpdate(md, ":", 1);
	EVP_DigestUpdate(md, sec, n);
	EVP_DigestFinal_ex(md, dig, &len);
	EVP_MD_CTX_free(md);
	memcpy(out, "sha256:", 7);
	dw_hex(out + 7, dig, 32);
}

static int is_ignored(const struct dw_engine *e, const char *fp)
{
	return e->nignored && bsearch(&fp, e->ignored, e->nignored,
				      sizeof(char *), eng_cmp_str) != NULL;
}

/*
 * Whether a format's rule finds a secret in `sec` (a generic match that
 * spans lines found it on a later line than its own: there, the hits of
 * other rules come after it, and one secret is one finding). Costs the
 * format rules' regexes over a secret of at most a few hundred bytes, a
 * finding: findings are few.
 */
static int on_claim(unsigned id, unsigned long long from, unsigned long long to,
		    unsigned flags, void *ctx)
{
	struct dw_scanner *s = ctx;

	(void)from, (void)to, (void)flags;
	s->claim[s->e->pat_rule[id]] = 1;
	return 0;
}

static int claimed(struct dw_scanner *s, const char *sec, size_t n)
{
	PCRE2_SIZE *ov = pcre2_get_ovector_pointer(s->md);
	size_t i;

	/* the rules whose prefilters hit it, as in a scan (Hyperscan's
	 * scratch is free: the region's hits are in already) */
	memset(s->claim, 0, s->e->nrules);
	if (hs_scan(s->e->db, sec, (unsigned)n, 0, s->scratch, on_claim, s) !=
	    HS_SUCCESS)
		return 0;
	for (i = 0; i < s->e->nrules; i++) {
		const struct rule *f = &s->e->rules[i];
		size_t ss, se;

		if (!s->claim[i] || f->generic || f->multiline ||
		    (f->could_match && !f->could_match(sec, n)) ||
		    pcre2_match(f->re, (PCRE2_SPTR)sec, n, 0, 0, s->md,
				s->mctx) <= f->group)
			continue;
		ss = ov[2 * f->group];
		se = ov[2 * f->group + 1];
		/* (only what that rule would report itself: a password that
		 * holds a format's prefix and no valid secret is the generic
		 * rule's, as it was on one line) */
		if (ss != PCRE2_UNSET && se > ss &&
		    !(f->min_entropy > 0 &&
		      dw_entropy(sec + ss, se - ss) < f->min_entropy) &&
		    !dw_is_placeholder(sec + ss, se - ss) &&
		    (!f->validate || f->validate(sec + ss, se - ss, sec + ov[0],
						 ov[1] - ov[0], sec, n)))
			return 1;
	}
	return 0;
}

/*
 * Judge and report one candidate. `sec` lies in `text`, which starts at
 * absolute offset `text_abs` (for a decoded line, the map gives the raw
 * offset instead).
 */
static void candidate(struct dw_scanner *s, size_t ri, const char *sec,
		      size_t n, const char *m, size_t mlen, const char *line,
		      size_t llen, uint64_t sec_abs, uint64_t line_start,
		      int decoded)
{
	const struct rule *r = &s->e->rules[ri];
	struct dw_finding f;
	size_t i;
	int same = n && ri == s->memo_rule && n == s->memo_len &&
		   !memcmp(sec, s->memo, n);

	if (!n)
		return;
	if (same) {
		if (!s->memo_ok)
			return;
	} else {
		int ok = !(r->min_entropy > 0 &&
			   dw_entropy(sec, n) < r->min_entropy) &&
			 /* (every single-line rule's: its validator need
			  * not look again) */
			 !(r->multiline != DW_ML_BLOCK &&
			   dw_is_placeholder(sec, n));

		/* (one too long to keep is judged each time) */
		s->memo_len = n <= sizeof(s->memo) ? n : 0;
		s->memo_rule = ri;
		s->memo_ok = ok;
		s->memo_fp = 0;
		s->memo_claimed = -1;
		memcpy(s->memo, sec, s->memo_len);
		if (!ok)
			return;
	}
	/* (the validator may look at the match and the line: each time) */
	if (r->validate && !r->validate(sec, n, m, mlen, line, llen))
		return;
	/* (on a %-decoded line the format rules ran only where the raw
	 * line hit their prefilters: the overlap check below is theirs) */
	if (r->multiline == DW_ML_SPAN && r->generic && !decoded) {
		int c = same && s->memo_claimed >= 0 ? s->memo_claimed
						     : claimed(s, sec, n);

		if (s->memo_len == n && s->memo_rule == ri) /* kept */
			s->memo_claimed = c;
		if (c)
			return;
	}
	if (same && s->memo_fp) {
		memcpy(f.fingerprint, s->memo_fingerprint, 72);
	} else {
		dw_secret_fingerprint(f.fingerprint, r->info.id, sec, n);
		if (s->memo_len == n && s->memo_rule == ri) { /* kept */
			memcpy(s->memo_fingerprint, f.fingerprint, 72);
			s->memo_fp = 1;
		}
	}
	if (!s->redacting && is_ignored(s->e, f.fingerprint))
		return;
	for (i = 0; i < s->nseen; i++)
		if (!strcmp(s->seen[i], f.fingerprint) ||
		    (r->generic && sec_abs < s->seen_end[i] &&
		     sec_abs + n > s->seen_at[i]))
			return;
	if (s->nseen < LINE_SEEN_MAX) {
		/* (a generic rule's own span hides nothing) */
		s->seen_at[s->nseen] = r->generic ? 0 : sec_abs;
		s->seen_end[s->nseen] = r->generic ? 0 : sec_abs + n;
		memcpy(s->seen[s->nseen++], f.fingerprint, 72);
	}
	f.rule = &s->e->infos[ri];
	f.rule_index = ri;
	f.secret = sec;
	f.secret_len = n;
	f.offset = sec_abs;
	f.line = line_of(s, line_start);
	f.column = sec_abs - line_start + 1;
	if (r->multiline == DW_ML_SPAN && !decoded) {
		/* The secret's own line, past the one its match began on
		 * (counted here: line_of() only goes forward). */
		const char *p = line, *nl;

		while ((nl = memchr(p, '\n', (size_t)(sec - p)))) {
			f.line++;
			p = nl + 1;
		}
		/* (on its first line, the column is the line's: `line` is
		 * where a line cut at MAX_LINE was taken up again) */
		if (p != line)
			f.column = (uint64_t)(sec - p) + 1;
	}
	f.url_decoded = decoded;
	f.multiline = r->multiline != 0;
	f.unverified = 0;
	s->stop = s->cb(&f, s->ctx);
}

/*
 * Run rule `ri` over text[0..len) and report matches that start before
 * `start_limit`. Returns 1 when the text ended before a match could (the
 * caller may wait for more input), else 0.
 */
/*
 * The first "-----END " in [from, to) of `text` (at `text_abs`), or -1,
 * from the cache when it covers it (engine_int.h).
 */
static ssize_t find_end(struct dw_scanner *s, const char *text,
			uint64_t text_abs, size_t from, size_t to)
{
	static const char mark[] = "-----END ";
	uint64_t f = text_abs + from, t = text_abs + to, at = f;
	const char *hit;

	if (s->end_known && s->end_from <= f) {
		if (s->end_at != END_NONE && s->end_at >= f)
			return s->end_at + sizeof(mark) - 1 <= t
				       ? (ssize_t)(s->end_at - text_abs)
				       : -1;
		if (s->end_at == END_NONE && s->end_to >= t)
			return -1;
		/* Searched up to end_to already: a mark may straddle it. */
		if (s->end_at == END_NONE && s->end_to > f + sizeof(mark) - 1)
			at = s->end_to - (sizeof(mark) - 1);
	}
	hit = at < t ? memmem(text + (at - text_abs), t - at, mark,
			      sizeof(mark) - 1)
		     : NULL;
	if (!s->end_known || s->end_from > f || s->end_at != END_NONE)
		s->end_from = f;
	s->end_known = 1;
	s->end_at = hit ? text_abs + (uint64_t)(hit - text) : END_NONE;
	s->end_to = t;
	return hit ? hit - text : -1;
}

/*
 * A multi-line rule (PEM keys): its regex matches the BEGIN line, group
 * 1 the label; the block ends at the first END line after it, which must
 * carry the same label (a block holds no other END line).
 */
static int run_block_rule(struct dw_scanner *s, size_t ri, const char *text,
			  size_t len, size_t start_limit, const char *line,
			  size_t llen, uint64_t text_abs, uint64_t line_start)
{
	const struct rule *r = &s->e->rules[ri];
	PCRE2_SIZE *ov = pcre2_get_ovector_pointer(s->md);
	size_t pos = 0;
	int found = 0;

	while (pos < start_limit && !s->stop) {
		size_t ls, ll, me;
		ssize_t e;

		if (pcre2_match(r->re, (PCRE2_SPTR)text, start_limit, pos, 0,
				s->md, s->mctx) < 2)
			break;
		ls = ov[2];
		ll = ov[3] - ov[2];
		me = ov[1];
		pos = me;
		e = find_end(s, text, text_abs, me, len);
		if (e < 0)
			continue;
		/* "-----END " LABEL "-----" */
		if ((size_t)e + 9 + ll + 5 > len ||
		    memcmp(text + e + 9, text + ls, ll) ||
		    memcmp(text + e + 9 + ll, "-----", 5))
			continue;
		found = 1;
		candidate(s, ri, text + ov[0], (size_t)e + 9 + ll + 5 - ov[0],
			  text + ov[0], (size_t)e + 9 + ll + 5 - ov[0], line,
			  llen, text_abs + ov[0], line_start, 0);
	}
	return !found;
}

/*
 * A rule whose match starts on the line (text[0..start_limit)) and may
 * go on over the lines after it, to the end of text. Returns 1 when
 * text ended inside a match that more input could complete (`more`:
 * text is all that has arrived, not all there is; `cut`: text ends at the
 * window's end, before what there is).
 */
static int run_span_rule(struct dw_scanner *s, size_t ri, const char *text,
			 size_t len, size_t start_limit, const char *line,
			 size_t llen, uint64_t text_abs, uint64_t line_start,
			 int more, int cut, int at_cut)
{
	const struct rule *r = &s->e->rules[ri];
	PCRE2_SIZE *ov = pcre2_get_ovector_pointer(s->md);
	size_t pos = 0;
	int rc = 0;

	if (!start_limit)
		return 0;
	/* Taken up again after a wait: its matches before the one it
	 * waited for were reported (past the per-line memory of 32). */
	if (s->span_rule == ri && s->span_abs > text_abs &&
	    s->span_abs < text_abs + start_limit)
		pos = (size_t)(s->span_abs - text_abs);
	while (pos < start_limit && !s->stop) {
		size_t ms, me, ss, se;

		/* (starts past the line are never tried: each line's search
		 * costs what its matches read, not the window; the limit is
		 * for this rule's regex only, compiled to take it) */
		pcre2_set_offset_limit(s->mctx, start_limit - 1);
		/* (a match running into the window's end, `cut` short of
		 * what there is, is no match: its secret would be cut) */
		rc = pcre2_match(r->re, (PCRE2_SPTR)text, len, pos,
				 more || cut ? PCRE2_PARTIAL_HARD : 0, s->md,
				 s->mctx);
		pcre2_set_offset_limit(s->mctx, PCRE2_UNSET);
		if (rc == PCRE2_ERROR_PARTIAL && more) {
			s->span_rule = ri;
			s->span_abs = text_abs + ov[0];
			return 1; /* wait for the rest */
		}
		/* Cut by the window: no match here, but one may start
		 * later on the line (inside this one's quoted token). */
		if (rc == PCRE2_ERROR_PARTIAL) {
			/* (at a line's cut: what follows is read from here,
			 * not only the OVERLAP kept; see process()) */
			if (at_cut && text_abs + ov[0] < s->cut_from_abs)
				s->cut_from_abs = text_abs + ov[0];
			pos = ov[0] + 1;
			continue;
		}
		if (rc < 0)
			break;
		/* (read before candidate() matches other rules with md) */
		ms = ov[0];
		me = ov[1];
		ss = ov[2 * r->group];
		se = ov[2 * r->group + 1];
		if (rc > r->group && ss != PCRE2_UNSET)
			candidate(s, ri, text + ss, se - ss, text + ms, me - ms,
				  line, llen, text_abs + ss, line_start, 0);
		pos = me > ms ? me : ms + 1;
	}
	return 0;
}

static int run_rule(struct dw_scanner *s, size_t ri, const char *text,
		    size_t len, size_t start_limit, const char *line,
		    size_t llen, uint64_t text_abs, uint64_t line_start,
		    const size_t *map)
{
	const struct rule *r = &s->e->rules[ri];
	PCRE2_SIZE *ov = pcre2_get_ovector_pointer(s->md);
	size_t pos = 0;
	int rc, found = 0;

	if (r->multiline == DW_ML_BLOCK)
		return run_block_rule(s, ri, text, len, start_limit, line, llen,
				      text_abs, line_start);
	if (r->could_match && !r->could_match(text, len))
		return 1; /* as when the regex finds nothing */
	while (pos <= len && !s->stop) {
		size_t ms, me, ss, se;

		/* (a line cut at MAX_LINE goes on in the next region: its
		 * start there is no line's start for "^") */
		rc = pcre2_match(r->re, (PCRE2_SPTR)text, len, pos,
				 !map && line_start != text_abs ? PCRE2_NOTBOL
								: 0,
				 s->md, s->mctx);
		if (rc < 0)
			break;
		ms = ov[0];
		me = ov[1];
		if (ms >= start_limit)
			break;
		found = 1;
		ss = ov[2 * r->group];
		se = ov[2 * r->group + 1];
		if (rc > r->group && ss != PCRE2_UNSET)
			candidate(s, ri, text + ss, se - ss, text + ms, me - ms,
				  line, llen,
				  map ? text_abs + map[ss] : text_abs + ss,
				  line_start, map != NULL);
		pos = me > ms ? me : ms + 1;
	}
	return !found;
}

static int hexval(int c)
{
	return c <= '9' ? c - '0' : (c | 0x20) - 'a' + 10;
}

/*
 * Decode %XX escapes of [p, p+n) into s->dec; 0 when there were none.
 * Once a line: every rule with a hit on it reads the same decoding (a
 * line of "%41"s was decoded once a rule, a byte at a time).
 */
static int url_decode_line(struct dw_scanner *s, const char *p, size_t n)
{
	size_t i, o = 0;
	char *d;

	if (s->dec_p == p && s->dec_n == n)
		return s->dec_any;
	s->dec_p = p;
	s->dec_n = n;
	s->dec_any = 0;
	if (!memchr(p, '%', n))
		return 0;
	dw_buf_reset(&s->dec);
	if (dw_buf_grow(&s->dec, n + 1)) {
		s->dec_p = NULL;
		return 0;
	}
	DW_ALLOC_GROW(s->map, n + 1, s->map_alloc);
	d = s->dec.ptr;
	for (i = 0; i < n; i++) {
		s->map[o] = i;
		if (p[i] == '%' && i + 2 < n &&
		    isxdigit((unsigned char)p[i + 1]) &&
		    isxdigit((unsigned char)p[i + 2])) {
			d[o++] = (char)(hexval((unsigned char)p[i + 1]) << 4 |
					hexval((unsigned char)p[i + 2]));
			i += 2;
			s->dec_any = 1;
		} else {
			d[o++] = p[i];
		}
	}
	s->map[o] = n;
	s->dec.len = o; /* (grown for n + 1 above) */
	d[o] = '\0';
	return s->dec_any;
}

static void new_line(struct dw_scanner *s, uint64_t ls, const char *p, size_t n)
{
	/* The same line again (a line longer than MAX_LINE, in pieces):
	 * what it reported stays reported. */
	if (ls != s->cur_line)
		s->nseen = 0;
	s->cur_line = ls;
	memset(s->rule_done, 0, s->e->nrules);
	s->line_allowed =
		!s->redacting &&
		memmem(p, n, ALLOW_MARK, sizeof(ALLOW_MARK) - 1) != NULL;
}

static int on_hit(unsigned id, unsigned long long from, unsigned long long to,
		  unsigned flags, void *ctx)
{
	struct dw_scanner *s = ctx;

	unsigned ri = s->cur_pat_rule[id];
	size_t last = s->last_hit[ri];

	(void)from, (void)flags;
	/* Looked at already (a cut line's overlap, done before), or a rule
	 * of file names this input does not have (.pgpass). */
	if (s->buf_abs + to <= s->done_abs ||
	    (s->e->rules[ri].file_names && !s->name_ok[ri]))
		return 0;
	/*
	 * A rule runs once a line: a later hit of it on the same line (no
	 * newline since its last kept hit) is not kept. A line of 131,072
	 * "AKIA"s made as many hits to sort; the newline searches between
	 * a rule's hits add up to the region's length, once a rule.
	 */
	s->last_hit[ri] = (size_t)to + 1;
	/*
	 * (moved on to this one even when not kept: searched once.) A hit
	 * is on the line of its last byte: a newline from the last byte of
	 * the one before up to the byte before this one's last starts
	 * another line (a hit may end on its line's newline).
	 */
	if (last >= 2 && to + 1 >= last &&
	    !memchr(s->buf.ptr + last - 2, '\n', (size_t)(to + 1 - last)))
		return 0;
	DW_ALLOC_GROW(s->hits, s->nhits + 1, s->hits_alloc);
	if (s->e->rules[ri].generic) {
		/* Its line's end: hits come in order of their ends, so each
		 * byte is searched once (the last line end found is kept). */
		if (!s->gen_le_set || to > s->gen_le) {
			const char *nl = memchr(s->buf.ptr + to - 1, '\n',
						s->region - (to - 1));

			s->gen_le = nl ? (size_t)(nl - s->buf.ptr) : s->region;
			s->gen_le_set = 1;
		}
		s->hits[s->nhits++] =
			(struct hit){s->gen_le > to ? s->gen_le : to, ri, 1};
		return 0;
	}
	s->hits[s->nhits++] = (struct hit){to, ri, 0};
	return 0;
}

/* By end; on the same end, format rules before generic ones. */
static int cmp_hit(const void *a, const void *b)
{
	const struct hit *x = a, *y = b;

	if (x->end != y->end)
		return (x->end > y->end) - (x->end < y->end);
	return x->generic - y->generic;
}

/*
 * Hits come nearly in order (Hyperscan reports them as it goes; a
 * generic rule's hit moves to its line's end, past the few hits after
 * it on that line): an insertion sort, stable as glibc's qsort is, costs
 * a step a hit where qsort cost a quarter of a scan of short lines each
 * with a hit. Past 64 moves a hit on average it hands over to qsort, so
 * no order of hits makes it quadratic.
 */
static void sort_hits(struct hit *h, size_t n)
{
	size_t i, moves = 0, budget = 64 * n;

	for (i = 1; i < n; i++) {
		struct hit x = h[i];
		size_t j = i;

		while (j > 0 && cmp_hit(&h[j - 1], &x) > 0) {
			h[j] = h[j - 1];
			j--;
			if (++moves > budget) {
				h[j] = x;
				qsort(h, n, sizeof(*h), cmp_hit);
				return;
			}
		}
		h[j] = x;
	}
}

/*
 * Look at the hits in buf[0..region). Returns the buffer offset up to
 * which the work is done: `region`, or the start of a line whose
 * multi-line match needs bytes that have not arrived yet.
 */
static long long mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Over the per-file time budget: stop, and say so (dw_scan_timed_out). */
static int over_budget(struct dw_scanner *s)
{
	if (!s->deadline_ms || mono_ms() < s->deadline_ms)
		return 0;
	s->timed_out = 1;
	s->stop = 1;
	return 1;
}

/*
 * Stop at line `ls` until the buffer reaches `upto` (or all has come): a
 * multi-line match there needs bytes that have not arrived. The hits
 * before this one (`end`) were looked at: not again (a line of many
 * secrets was reported twice past the per-line memory of findings).
 */
static size_t wait_for(struct dw_scanner *s, size_t ls, size_t end, size_t ri,
		       size_t upto)
{
	s->replay_abs = s->buf_abs + end;
	s->replay_rule = ri;
	s->replay_same = 1;
	s->wait_abs = s->buf_abs + upto;
	return ls;
}

static size_t scan_region(struct dw_scanner *s, size_t region, int final,
			  int forced)
{
	const char *buf = s->buf.ptr;
	size_t avail = s->buf.len, i, ls = 0, le = 0;
	uint64_t lsa = 0; /* absolute start of the line */
	int have_line = 0, fresh = 1;

	s->nhits = 0;
	s->dec_p = NULL;
	memset(s->last_hit, 0, s->e->nrules * sizeof(*s->last_hit));
	s->region = region;
	s->gen_le_set = 0;
	if (!region || (!s->e->db && !(s->name_any && s->e->named_db)))
		return region;
	s->cur_pat_rule = s->e->pat_rule;
	if (s->e->db && hs_scan(s->e->db, buf, (unsigned)region, 0, s->scratch,
				on_hit, s) != HS_SUCCESS)
		return region;
	/* The rules of file names, in a file of such a name (.pgpass);
	 * its hits start again from the region's start: the line end kept
	 * for generic hits (on_hit()) is not theirs */
	s->cur_pat_rule = s->e->named_pat_rule;
	s->gen_le_set = 0;
	if (s->name_any && s->e->named_db)
		/* (failed, it leaves the hits it had: the first scan's
		 * are looked at all the same) */
		(void)hs_scan(s->e->named_db, buf, (unsigned)region, 0,
			      s->scratch, on_hit, s);
	sort_hits(s->hits, s->nhits);
	for (i = 0; i < s->nhits && !s->stop; i++) {
		uint64_t end_abs = s->buf_abs + s->hits[i].end;
		size_t end = (size_t)s->hits[i].end, ri = s->hits[i].rule;
		const char *nl;

		/* (a hit before the one a wait stopped at was looked at:
		 * those that end before it, and those of the same end that
		 * came before it, generic hits moved to their line's end) */
		if (end_abs <= s->done_abs || end_abs < s->replay_abs)
			continue;
		if (s->replay_same && end_abs == s->replay_abs &&
		    ri != s->replay_rule)
			continue;
		s->replay_same = 0;
		/*
		 * The hit's line. Hits come sorted by end, so the line of
		 * the last one is tried first: a line of many hits (one long
		 * line of repeated prefixes) is searched for its ends once,
		 * not once per hit.
		 */
		if (!have_line || end <= ls || end > le + 1) {
			/*
			 * A line after the last one is searched for its start
			 * from the last one's newline, not from the buffer's
			 * start: the search costs its line, not the region
			 * (ASan's memrchr checks the whole range it is given;
			 * a region of short lines each hit was quadratic).
			 */
			size_t from = have_line && end > le + 1 ? le + 1 : 0;

			nl = end > from + 1
				     ? memrchr(buf + from, '\n', end - 1 - from)
				     : NULL;
			ls = nl ? (size_t)(nl - buf) + 1 : from;
			lsa = nl || from ? s->buf_abs + ls : s->open_line;
			nl = memchr(buf + end - 1, '\n', avail - (end - 1));
			le = nl ? (size_t)(nl - buf) : avail;
			have_line = 1;
		}
		/* (the first hit looked at in a region starts its line
		 * afresh: after a wait, hits before it were skipped, and the
		 * rule that waited must run again) */
		if (lsa != s->cur_line || fresh)
			new_line(s, lsa, buf + ls, le - ls);
		fresh = 0;
		if (s->line_allowed || s->rule_done[ri])
			continue;
		if (!(i & 63) && over_budget(s))
			break;
		s->rule_done[ri] = 1;
		s->ml_hit |= s->e->rules[ri].multiline != 0;
		if (s->e->rules[ri].multiline == DW_ML_SPAN) {
			/* (the window after the line: a match may start
			 * anywhere on a long one) */
			size_t wend = avail - le > MULTILINE_WINDOW
					      ? le + MULTILINE_WINDOW
					      : avail;

			/* (a line without its end is cut: never waited on;
			 * a match into the cut is kept for the next region,
			 * process()) */
			if (run_span_rule(s, ri, buf + ls, wend - ls,
					  le - ls + 1, buf + ls, le - ls,
					  s->buf_abs + ls, lsa,
					  !final && !forced && le < avail &&
						  wend == avail,
					  wend < avail || forced,
					  forced && wend == avail))
				return wait_for(s, ls, end, ri,
						le + MULTILINE_WINDOW);
			/* one line %-decoded, as before it could span */
			if (url_decode_line(s, buf + ls, le - ls))
				run_rule(s, ri, s->dec.ptr, s->dec.len,
					 s->dec.len, s->dec.ptr, s->dec.len,
					 s->buf_abs + ls, lsa, s->map);
			continue;
		}
		if (s->e->rules[ri].multiline) {
			/* (the window after the line, not after its start: a
			 * key 64 KiB into a line of minified JSON was never
			 * reported, the END searched for before the BEGIN) */
			size_t wend = avail - le > MULTILINE_WINDOW
					      ? le + MULTILINE_WINDOW
					      : avail;

			if (run_rule(s, ri, buf + ls, wend - ls, le - ls + 1,
				     buf + ls, le - ls, s->buf_abs + ls, lsa,
				     NULL) &&
			    !final && !forced && wend == avail)
				return wait_for(s, ls, end, ri,
						le + MULTILINE_WINDOW);
			continue;
		}
		run_rule(s, ri, buf + ls, le - ls, le - ls, buf + ls, le - ls,
			 s->buf_abs + ls, lsa, NULL);
		/* (not a rule of file names: those files are read as they
		 * are written, libpq decodes no %XX in a .pgpass) */
		if (!s->e->rules[ri].file_names &&
		    url_decode_line(s, buf + ls, le - ls))
			/* (the line a validator reads is the decoded one:
			 * the match is in it) */
			run_rule(s, ri, s->dec.ptr, s->dec.len, s->dec.len,
				 s->dec.ptr, s->dec.len, s->buf_abs + ls, lsa,
				 s->map);
	}
	return region;
}

/* Scan what can be scanned now and drop what is no longer needed. */
static void process(struct dw_scanner *s, int final)
{
	size_t region, done, keep;
	const char *nl;
	int forced = 0;

	if (final) {
		region = s->buf.len;
	} else {
		nl = memrchr(s->buf.ptr + s->nl_checked, '\n',
			     s->buf.len - s->nl_checked);
		if (nl) {
			region = (size_t)(nl - s->buf.ptr) + 1;
		} else if (s->buf.len >= MAX_LINE) {
			region = s->buf.len;
			forced = 1;
		} else {
			s->nl_checked = s->buf.len;
			return;
		}
	}
	/* (a line cut at MAX_LINE is never waited on: what follows is
	 * read with its last OVERLAP bytes) */
	done = scan_region(s, region, final, forced);
	keep = forced && done > OVERLAP ? done - OVERLAP : done;
	/* A multi-line match cut there began before those OVERLAP bytes
	 * (an entry of long tokens): kept from its start, within the
	 * window, or it was never read whole. */
	if (forced &&
	    s->cut_from_abs >= s->buf_abs + (keep > MULTILINE_WINDOW
						     ? keep - MULTILINE_WINDOW
						     : 0) &&
	    s->cut_from_abs < s->buf_abs + keep)
		keep = (size_t)(s->cut_from_abs - s->buf_abs);
	s->cut_from_abs = UINT64_MAX;
	/*
	 * A line cut at MAX_LINE: the hits in its last OVERLAP bytes are
	 * looked at again with what follows (a secret may go on past the
	 * cut; before, one that did was never found).
	 */
	if (s->buf_abs + keep > s->done_abs)
		s->done_abs = s->buf_abs + keep;
	/* Count the newlines of what is dropped before it goes. */
	if (s->buf_abs + keep > s->line_abs)
		line_of(s, s->buf_abs + keep);
	nl = keep ? memrchr(s->buf.ptr, '\n', keep) : NULL;
	if (nl)
		s->open_line = s->buf_abs + (uint64_t)(nl - s->buf.ptr) + 1;
	memmove(s->buf.ptr, s->buf.ptr + keep, s->buf.len - keep);
	dw_buf_setlen(&s->buf, s->buf.len - keep);
	s->buf_abs += keep;
	s->nl_checked = 0;
}

/* Whether rule `ri` reads a file named `base` (rules.h: file_names). */
static int names_file(const struct dw_engine *e, size_t ri, const char *base)
{
	const char *const *names = e->rules[ri].file_names;
	size_t k;

	for (k = 0; base && names && k < 4 && names[k]; k++)
		if (!strcasecmp(base, names[k]))
			return 1;
	return 0;
}

/* The last component of `path` (NULL: none). */
static const char *base_name(const char *path)
{
	const char *slash = path ? strrchr(path, '/') : NULL;

	return slash ? slash + 1 : path;
}

int dw_engine_file_named(const struct dw_engine *e, const char *path)
{
	const char *base = base_name(path);
	size_t i;

	for (i = 0; base && i < e->nrules; i++)
		if (names_file(e, i, base))
			return 1;
	return 0;
}

int dw_engine_rule_named(const struct dw_engine *e, size_t rule_index)
{
	return rule_index < e->nrules && e->rules[rule_index].file_names;
}

const struct dw_engine *dw_scanner_engine(const struct dw_scanner *s)
{
	return s->e;
}

void dw_scan_name(struct dw_scanner *s, const char *path)
{
	const char *base = base_name(path);
	size_t i;

	for (i = 0; i < s->e->nrules; i++)
		s->name_next[i] = (unsigned char)names_file(s->e, i, base);
}

void dw_scan_begin(struct dw_scanner *s, uint64_t line_base, dw_finding_cb cb,
		   void *ctx)
{
	/* The name given for this scan, and none for the next one. */
	memcpy(s->name_ok, s->name_next, s->e->nrules);
	s->name_any = memchr(s->name_ok, 1, s->e->nrules) != NULL;
	memset(s->name_next, 0, s->e->nrules);
	dw_buf_reset(&s->buf);
	s->nl_checked = 0;
	s->buf_abs = s->done_abs = s->line_abs = s->open_line = 0;
	s->wait_abs = s->replay_abs = s->span_abs = 0;
	s->replay_same = 0;
	s->ml_hit = 0;
	s->cut_from_abs = UINT64_MAX;
	s->span_rule = SIZE_MAX;
	s->line_no = line_base;
	s->cur_line = UINT64_MAX;
	s->cb = cb;
	s->ctx = ctx;
	s->stop = 0;
	s->end_known = 0;
	s->timed_out = 0;
	s->deadline_ms = s->budget_ms ? mono_ms() + s->budget_ms : 0;
	if (s->hard_deadline_ms &&
	    (!s->deadline_ms || s->deadline_ms > s->hard_deadline_ms))
		s->deadline_ms = s->hard_deadline_ms;
}

void dw_scanner_set_budget(struct dw_scanner *s, long long ms)
{
	s->budget_ms = ms > 0 ? ms : 0;
}

void dw_scanner_set_deadline(struct dw_scanner *s, long long ms)
{
	s->hard_deadline_ms = ms > 0 ? mono_ms() + ms : 0;
}

int dw_scanner_past_deadline(const struct dw_scanner *s)
{
	return s->hard_deadline_ms && mono_ms() >= s->hard_deadline_ms;
}

int dw_scan_timed_out(const struct dw_scanner *s)
{
	return s->timed_out;
}

/*
 * Whether a full chunk is worth a scan: not while a multi-line match
 * waits for bytes still to come (each piece of input rescanned the whole
 * region: a gzip of one-byte members took the whole time budget), unless
 * the buffer is at its most.
 */
static int ready(const struct dw_scanner *s)
{
	return s->buf_abs + s->buf.len >= s->wait_abs ||
	       s->buf.len >= MAX_LINE + MULTILINE_WINDOW + OVERLAP;
}

int dw_scan_feed(struct dw_scanner *s, const char *data, size_t len)
{
	while (len && !s->stop) {
		/* Past a chunk without a newline: gather up to a whole line. */
		size_t target = s->buf.len >= CHUNK ? MAX_LINE : CHUNK;
		size_t room = target > s->buf.len ? target - s->buf.len : 0;
		size_t n = len < room ? len : room;

		if (!n)
			n = len < OVERLAP ? len : OVERLAP;
		dw_buf_add(&s->buf, data, n);
		data += n;
		len -= n;
		if (s->buf.len >= CHUNK && ready(s))
			process(s, 0);
	}
	return s->stop;
}

char *dw_scan_reserve(struct dw_scanner *s, size_t *room)
{
	size_t target = s->buf.len >= CHUNK ? MAX_LINE : CHUNK;
	size_t want = target > s->buf.len ? target - s->buf.len : OVERLAP;

	dw_buf_grow(&s->buf, want);
	*room = want;
	return s->buf.ptr + s->buf.len;
}

int dw_scan_commit(struct dw_scanner *s, size_t n)
{
	s->buf.len += n;
	s->buf.ptr[s->buf.len] = '\0';
	if (s->buf.len >= CHUNK && !s->stop && ready(s))
		process(s, 0);
	return s->stop;
}

int dw_scan_multiline_hit(const struct dw_scanner *s)
{
	return s->ml_hit;
}

int dw_scan_finish(struct dw_scanner *s)
{
	if (!s->stop)
		process(s, 1);
	memset(s->name_ok, 0, s->e->nrules);
	s->name_any = 0;
	return s->stop;
}

int dw_scan_buffer(struct dw_scanner *s, const char *data, size_t len,
		   uint64_t line_base, dw_finding_cb cb, void *ctx)
{
	dw_scan_begin(s, line_base, cb, ctx);
	dw_scan_feed(s, data, len);
	return dw_scan_finish(s);
}

/* The length of the public prefix of `secret` under rule `r`. */
static size_t public_prefix(const struct rule *r, const char *secret,
			    size_t len)
{
	size_t i, n = 0;

	for (i = 0; i < r->nprefixes; i++) {
		size_t k = strlen(r->prefixes[i]);

		if (k > n && k < len && !memcmp(secret, r->prefixes[i], k))
			n = k;
	}
	/*
	 * Version fields after a keyword that ends in '-': "SWMTKN-" "1-",
	 * "2-0-" (one digit each, so a random part is rarely taken).
	 */
	for (i = 0; i < 2 && n && secret[n - 1] == '-' && n + 2 < len &&
		    isdigit((unsigned char)secret[n]) && secret[n + 1] == '-';
	     i++)
		n += 2;
	return n < len ? n : 0;
}

int dw_engine_redact(const struct dw_engine *e, size_t rule_index,
		     const char *secret, size_t len, struct dw_buf *out)
{
	size_t pre = 0, keep;

	/* A PEM block: its BEGIN line only, which is all public. */
	if (len > 11 && !memcmp(secret, "-----BEGIN ", 11)) {
		const char *end = memmem(secret + 11, len - 11, "-----", 5);

		if (end)
			return dw_buf_add(out, secret,
					  (size_t)(end - secret) + 5) ||
					       dw_buf_adds(out, "…")
				       ? DW_ELIMIT
				       : 0;
	}
	if (rule_index < e->nrules)
		pre = public_prefix(&e->rules[rule_index], secret, len);
	keep = (len - pre) / 4;
	if (keep > (size_t)e->redact_keep)
		keep = (size_t)e->redact_keep;
	if (dw_buf_add(out, secret, pre + keep))
		return DW_ELIMIT;
	return dw_buf_adds(out, "…");
}

/* A secret to hide (a copy of its bytes), and the rule that found it. */
struct span {
	char *p;
	size_t len, rule;
};

struct spans {
	struct span *v;
	size_t n, alloc;
	int decoded; /* a secret seen only %-decoded */
};

static void add_span(struct spans *sp, const char *p, size_t len, size_t rule)
{
	char *c;

	if (!len)
		return;
	c = dw_xmalloc(len);
	memcpy(c, p, len);
	DW_ALLOC_GROW(sp->v, sp->n + 1, sp->alloc);
	sp->v[sp->n++] = (struct span){c, len, rule};
}

static void spans_free(struct spans *sp)
{
	size_t i;

	for (i = 0; i < sp->n; i++) {
		explicit_bzero(sp->v[i].p, sp->v[i].len);
		free(sp->v[i].p);
	}
	free(sp->v);
}

static int collect_span(const struct dw_finding *f, void *ctx)
{
	struct spans *sp = ctx;

	if (f->url_decoded)
		sp->decoded = 1;
	else
		add_span(sp, f->secret, f->secret_len, f->rule_index);
	return 0;
}

/* The first copy of any secret at or after `from`: the longest there. */
static const struct span *first_copy(const struct spans *sp, const char *text,
				     size_t len, size_t from, size_t *at)
{
	const struct span *best = NULL;
	size_t i;

	for (i = 0; i < sp->n; i++) {
		const char *o = memmem(text + from, len - from, sp->v[i].p,
				       sp->v[i].len);
		size_t a;

		if (!o)
			continue;
		a = (size_t)(o - text);
		if (!best || a < *at ||
		    (a == *at && sp->v[i].len > best->len)) {
			best = &sp->v[i];
			*at = a;
		}
	}
	return best;
}

/*
 * A field longer than this is cut (a commit subject of a hostile repo
 * can be megabytes, and is redacted once per finding); with more secrets
 * than REDACT_SPANS_MAX it is hidden whole (the replacement pass is
 * quadratic in them).
 */
#define REDACT_TEXT_MAX (8u << 10)
#define REDACT_SPANS_MAX 64

/* How much of a text of `full` bytes is shown, and scanned. */
static void redact_window(size_t full, size_t *keep, size_t *scan)
{
	*keep = *scan = full;
	/* Scanned a little past the cut: a secret across it is seen. */
	if (full > REDACT_TEXT_MAX) {
		*keep = REDACT_TEXT_MAX;
		*scan = DW_REDACT_SCAN_MAX < full ? DW_REDACT_SCAN_MAX : full;
	}
}

int dw_scanner_redact_scan(struct dw_scanner *s, const char *text, size_t len,
			   dw_finding_cb cb, void *ctx)
{
	size_t keep, scan;

	redact_window(len, &keep, &scan);
	s->redacting = 1;
	dw_scan_buffer(s, text, scan, 1, cb, ctx);
	s->redacting = 0;
	return 0;
}

/* The replacement: every copy of every span's secret in `text`. */
static int apply_spans(const struct dw_engine *e, const char *text, size_t full,
		       struct spans *sp, const struct dw_finding *also,
		       struct dw_buf *out)
{
	size_t pos = 0, i, keep, len;
	int n = 0;

	redact_window(full, &keep, &len);
	if (sp->decoded || sp->n > REDACT_SPANS_MAX)
		return dw_buf_adds(out, "…") ? DW_ELIMIT : 1;
	/* The finding's own secret too: its rule may need context the
	 * field does not have. */
	if (also && also->secret)
		add_span(sp, also->secret, also->secret_len, also->rule_index);
	/*
	 * Every copy of every secret, not only where the scan reported one
	 * (it reports a secret once per line); overlapping copies are hidden
	 * as one run, shown as the first one's redacted form.
	 */
	while (pos < keep) {
		size_t at = 0, end;
		const struct span *x = first_copy(sp, text, len, pos, &at);
		int grew = 1;

		if (!x || at >= keep)
			break;
		end = at + x->len;
		while (grew) {
			grew = 0;
			for (i = 0; i < sp->n; i++) {
				const char *o = text + at;

				while ((o = memmem(o, len - (size_t)(o - text),
						   sp->v[i].p, sp->v[i].len)) &&
				       o < text + end) {
					if ((size_t)(o - text) + sp->v[i].len >
					    end) {
						end = (size_t)(o - text) +
						      sp->v[i].len;
						grew = 1;
					}
					o++;
				}
			}
		}
		dw_buf_add(out, text + pos, at - pos);
		dw_engine_redact(e, x->rule, text + at, x->len, out);
		pos = end;
		n++;
	}
	if (pos < keep)
		dw_buf_add(out, text + pos, keep - pos);
	if (full > (pos > keep ? pos : keep))
		dw_buf_addf(out, "…[%zu bytes cut]",
			    full - (pos > keep ? pos : keep));
	return n;
}

int dw_scanner_redact_text(struct dw_scanner *s, const char *text, size_t len,
			   const struct dw_finding *also, struct dw_buf *out)
{
	struct spans sp = {NULL, 0, 0, 0};
	int n;

	dw_scanner_redact_scan(s, text, len, collect_span, &sp);
	n = apply_spans(s->e, text, len, &sp, also, out);
	spans_free(&sp);
	return n;
}

int dw_redact_apply(const struct dw_engine *e, const char *text, size_t len,
		    const struct dw_redact_span *v, size_t nv, int decoded,
		    const struct dw_finding *also, struct dw_buf *out)
{
	struct spans sp = {NULL, 0, 0, decoded};
	size_t i;
	int n;

	for (i = 0; i < nv && i <= REDACT_SPANS_MAX; i++)
		add_span(&sp, v[i].secret, v[i].len, v[i].rule_index);
	n = apply_spans(e, text, len, &sp, also, out);
	spans_free(&sp);
	return n;
}

int dw_engine_redact_text(const struct dw_engine *e, const char *text,
			  size_t len, const struct dw_finding *also,
			  struct dw_buf *out)
{
	struct dw_scanner *s;
	int n;

	if (dw_scanner_new(&s, e))
		return dw_buf_adds(out, "…") ? DW_ELIMIT : 1;
	n = dw_scanner_redact_text(s, text, len, also, out);
	dw_scanner_free(s);
	return n;
}
