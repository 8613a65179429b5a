/*
 * The built-in rules' examples: tests/data/rules/cases.txt holds a text
 * per line that a rule must find ('+') or must not ('-'), and every rule
 * has some of both:
 * checksums (CRC32 tails), swarm token ranges, PEM bodies, JWT headers,
 * Docker config auths.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "driftwatch/engine.h"

struct hits {
	const char *rule;
	int found;
};

static int on_finding(const struct dw_finding *f, void *ctx)
{
	struct hits *h = ctx;

	h->found |= !strcmp(f->rule->id, h->rule);
	return 0;
}

/* "\n" in a case is a newline. */
static size_t unescape(char *s)
{
	char *r = s, *w = s;

	while (*r) {
		if (r[0] == '\\' && (r[1] == 'n' || r[1] == 'r')) {
			*w++ = r[1] == 'n' ? '\n' : '\r';
			r += 2;
		} else {
			*w++ = *r++;
		}
	}
	*w = '\0';
	return (size_t)(w - s);
}

/* The rules that have a case of `sign` ('+' or '-'). */
static char seen[2][512][64];
static size_t nseen[2];

static int has_case(const char *rule, char sign)
{
	int k = sign == '+';
	size_t i;

	for (i = 0; i < nseen[k]; i++)
		if (!strcmp(seen[k][i], rule))
			return 1;
	return 0;
}

static void saw_case(const char *rule, char sign)
{
	int k = sign == '+';

	if (has_case(rule, sign))
		return;
	/* (a rule not kept here fails the check below: said, not lost) */
	if (nseen[k] < sizeof(seen[0]) / sizeof(seen[0][0]))
		snprintf(seen[k][nseen[k]++], sizeof(seen[k][0]), "%.63s",
			 rule);
}

static void test_cases(void **state)
{
	FILE *f = fopen(DW_TEST_DATA "/rules/cases.txt", "r");
	struct dw_engine *e = NULL;
	struct dw_scanner *s = NULL;
	char line[16384];
	int n = 0, bad = 0;

	(void)state;
	assert_non_null(f);
	assert_int_equal(dw_engine_new(&e, NULL), 0);
	assert_int_equal(dw_scanner_new(&s, e), 0);
	while (fgets(line, sizeof(line), f)) {
		char *rule, *text, *name;
		struct hits h = {NULL, 0};
		size_t len;

		line[strcspn(line, "\n")] = '\0';
		if (line[0] != '+' && line[0] != '-')
			continue;
		rule = line + 2;
		text = strchr(rule, ' ');
		assert_non_null(text);
		*text++ = '\0';
		len = unescape(text);
		/* RULE@NAME: the text is a file's of that name (.pgpass) */
		name = strchr(rule, '@');
		if (name)
			*name++ = '\0';
		h.rule = rule;
		saw_case(rule, line[0]);
		dw_scan_name(s, name);
		assert_int_equal(
			dw_scan_buffer(s, text, len, 1, on_finding, &h), 0);
		if (h.found != (line[0] == '+')) {
			fprintf(stderr, "%s: %s %s\n",
				h.found ? "found, should not" : "missed", rule,
				text);
			bad++;
		}
		n++;
	}
	fclose(f);
	/* Every built-in rule has cases of both kinds. */
	{
		const struct dw_rule_info *r;
		size_t nr = dw_engine_rules(e, &r), i;

		for (i = 0; i < nr; i++) {
			if (!has_case(r[i].id, '+') ||
			    !has_case(r[i].id, '-')) {
				fprintf(stderr,
					"rule %s: no '+' or no '-' case in "
					"cases.txt\n",
					r[i].id);
				bad++;
			}
		}
	}
	dw_scanner_free(s);
	dw_engine_free(e);
	fprintf(stderr, "%d cases, %d wrong\n", n, bad);
	assert_true(n >= 20);
	assert_int_equal(bad, 0);
}

struct where {
	int n;
	uint64_t line, column;
};

static int on_netrc(const struct dw_finding *f, void *ctx)
{
	struct where *w = ctx;

	if (!strcmp(f->rule->id, "netrc-password")) {
		w->n++;
		w->line = f->line;
		w->column = f->column;
	}
	return 0;
}

/*
 * A .netrc entry over three lines, cut at every few bytes by the end of
 * the scanner's first chunk (4 MiB, engine_int.h's CHUNK): found once,
 * on its password's line and column, however the input was cut (a match
 * that runs into the end of what has arrived waits for the rest).
 */
static void test_span_cut(void **state)
{
	static const char entry[] = "machine git.internal.example\n"
				    "  login ci-bot\n"
				    "  password Hq4vZ9tLm2Xw\n";
	const size_t chunk = 4u << 20, elen = sizeof(entry) - 1;
	struct dw_engine *e = NULL;
	struct dw_scanner *s = NULL;
	char *buf = malloc(chunk + elen);
	size_t cut;

	(void)state;
	assert_non_null(buf);
	assert_int_equal(dw_engine_new(&e, NULL), 0);
	assert_int_equal(dw_scanner_new(&s, e), 0);
	for (cut = 0; cut <= elen; cut += 3) {
		size_t pre = chunk - elen + cut, i;
		struct where w = {0, 0, 0};
		uint64_t lines = 0;

		/* lines of 64 bytes before the entry */
		for (i = 0; i < pre; i++)
			buf[i] = (i % 64 == 63 || i == pre - 1) ? '\n' : 'x';
		for (i = 0; i < pre; i++)
			lines += buf[i] == '\n';
		memcpy(buf + pre, entry, elen);
		assert_int_equal(
			dw_scan_buffer(s, buf, pre + elen, 1, on_netrc, &w), 0);
		if (w.n != 1 || w.line != lines + 3 || w.column != 12)
			fprintf(stderr,
				"cut %zu: %d findings, line %llu (want %llu) "
				"column %llu\n",
				cut, w.n, (unsigned long long)w.line,
				(unsigned long long)(lines + 3),
				(unsigned long long)w.column);
		assert_int_equal(w.n, 1);
		assert_int_equal(w.line, lines + 3);
		assert_int_equal(w.column, 12);
	}
	dw_scanner_free(s);
	dw_engine_free(e);
	free(buf);
}

/* snprintf() at `p`, in a buffer that ends at `end`: what it wrote. */
static size_t putf(char *p, const char *end, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(p, (size_t)(end - p), fmt, ap);
	va_end(ap);
	return n > 0 && n < end - p ? (size_t)n : 0;
}

/* `n` bytes of lines of 64 ('x' and a newline), the last one shorter. */
static void fill_lines(char *buf, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		buf[i] = i % 64 == 63 || i == n - 1 ? '\n' : 'x';
}

/* Every finding of a scan, by rule: count, the last one's place. */
struct all {
	int n, netrc, other;
	uint64_t line, column;
	char fp[64][72];
	int dup;
};

static int on_any(const struct dw_finding *f, void *ctx)
{
	struct all *a = ctx;
	int i;

	for (i = 0; i < a->n && i < 64; i++)
		a->dup |= !strcmp(a->fp[i], f->fingerprint);
	if (a->n < 64)
		memcpy(a->fp[a->n], f->fingerprint, 72);
	a->n++;
	if (!strcmp(f->rule->id, "netrc-password"))
		a->netrc++;
	else
		a->other++;
	a->line = f->line;
	a->column = f->column;
	return 0;
}

static void scan_all(struct dw_scanner *s, const char *buf, size_t len,
		     struct all *a)
{
	memset(a, 0, sizeof(*a));
	assert_int_equal(dw_scan_buffer(s, buf, len, 1, on_any, a), 0);
}

/*
 * A review's attacks on the multi-line (span) rule, each of which the
 * first version failed:
 * - a line over 16 MiB (cut, no newline) ending in a partial entry: the
 *   scanner waited on a cut line and crashed (keep < 0);
 * - the same on a line of 16 MiB + 100 bytes: the column was counted
 *   from where the cut line was taken up again;
 * - a password running past the 64 KiB window's end: reported cut
 *   short (a wrong secret), beside the format's own finding;
 * - 40 secrets then a waiting entry on one line at the end of a chunk:
 *   the line was read again whole and 8 of them reported twice;
 * - a 4 MiB line ending in an entry, then 20,000 pieces of one byte:
 *   each piece rescanned the 4 MiB (minutes; the time budget ran out
 *   and the secret after them was lost).
 */
static void test_span_attacks(void **state)
{
	const size_t big = (16u << 20) + 100;
	struct dw_engine *e = NULL;
	struct dw_scanner *s = NULL;
	char *buf = malloc((18u << 20));
	const char *bend = buf + (18u << 20);
	struct all a;
	size_t n, i, at;

	(void)state;
	assert_non_null(buf);
	assert_int_equal(dw_engine_new(&e, NULL), 0);
	assert_int_equal(dw_scanner_new(&s, e), 0);

	n = 0;
	memcpy(buf, "machine ", 8);
	memset(buf + 8, 'A', (17u << 20));
	n = 8 + (17u << 20);
	n += putf(buf + n, bend, "\ntoken dckr_pat_Qw7Zr2LmX9vTk3NpB6yHs4Dj\n");
	scan_all(s, buf, n, &a);
	assert_int_equal(a.other, 1);

	memset(buf, 'x', big);
	n = big +
	    putf(buf + big, bend, " machine h login u password Kx9mQ2wLp7Zt\n");
	scan_all(s, buf, n, &a);
	assert_int_equal(a.netrc, 1);
	assert_int_equal(a.line, 1);
	assert_int_equal(a.column, big + 29);

	n = putf(buf, bend, "machine h login u password");
	at = (64u << 10) + 27 - 14; /* the window ends 14 bytes in */
	memset(buf + n, '\n', at - n);
	n = at + putf(buf + at, bend, "dckr_pat_Qw7Zr2LmX9vTk3NpB6yHs4Dj\n");
	scan_all(s, buf, n, &a);
	assert_int_equal(a.netrc, 0);
	assert_int_equal(a.other, 1);

	/* lines of 64 bytes, then the line of secrets at the chunk's end */
	{
		char line[2048];
		size_t ll = 0, pre, k;

		for (k = 0; k < 40; k++)
			ll += putf(line + ll, line + sizeof(line),
				   "dckr_pat_Qw7Zr2LmX9vTk3NpB6yHs%04zu ", k);
		ll += putf(line + ll, line + sizeof(line),
			   "machine h login u password");
		pre = (4u << 20) - ll;
		fill_lines(buf, pre);
		memcpy(buf + pre, line, ll);
		n = pre + ll;
		n += putf(buf + n, bend, "\n  Kx9mQ2wLp7Zt\n");
		scan_all(s, buf, n, &a);
		assert_int_equal(a.other, 40);
		assert_int_equal(a.netrc, 1);
		assert_false(a.dup);
	}

	/* the stall: a budget of 20 s it used to run out of */
	memset(buf, 'y', 4u << 20);
	n = (4u << 20) +
	    putf(buf + (4u << 20), bend, " machine h login u password\n");
	memset(&a, 0, sizeof(a));
	dw_scanner_set_budget(s, 20000);
	dw_scan_begin(s, 1, on_any, &a);
	dw_scan_feed(s, buf, n);
	for (i = 0; i < 20000; i++)
		dw_scan_feed(s, " ", 1);
	dw_scan_feed(
		s,
		"\n  Kx9mQ2wLp7Zt\ntoken dckr_pat_Qw7Zr2LmX9vTk3NpB6yHs4Dj\n",
		strlen("\n  Kx9mQ2wLp7Zt\ntoken "
		       "dckr_pat_Qw7Zr2LmX9vTk3NpB6yHs4Dj\n"));
	dw_scan_finish(s);
	assert_false(dw_scan_timed_out(s));
	assert_int_equal(a.other, 1);
	dw_scanner_set_budget(s, 0);

	/* Second review. A wait, then the waiting entry's first line also
	 * held another rule's prefix: on the rescan that rule's hit was
	 * skipped as looked at, the line was not started afresh, and the
	 * netrc rule counted as done: nothing reported, exit 0. */
	{
		static const char entry[] = "token ghp_ machine h.example\n"
					    "  login u\n"
					    "  password Zq8vN3kP2xLm7Rt4Wb\n";
		size_t el = sizeof(entry) - 1, pre = (4u << 20) - 20;

		fill_lines(buf, pre);
		memcpy(buf + pre, entry, el);
		scan_all(s, buf, pre + el, &a);
		assert_int_equal(a.netrc, 1);
	}
	/* A match cut by the window's end hid one that starts later on
	 * the same line (inside its quoted token). */
	n = putf(buf, bend,
		 "machine \"x default login u password "
		 "Zq8vN3kP2xLm7Rt4Wb y\" login v password");
	memset(buf + n, '\n', 70000);
	n += 70000;
	scan_all(s, buf, n, &a);
	assert_int_equal(a.netrc, 1);
	/* An entry across a 16 MiB line's cut: reported once, whole (it
	 * was also reported cut short). */
	memset(buf, 'x', (16u << 20) - 40);
	n = (16u << 20) - 40;
	n += putf(buf + n, bend,
		  " machine h login u password "
		  "Zq8vN3kP2xLm7Rt4WbYc9Hd\n");
	scan_all(s, buf, n, &a);
	assert_int_equal(a.netrc, 1);
	assert_false(a.dup);
	/* 40 entries on one line, the last cut by the chunk's end: the
	 * rescan reported 8 of the first 39 again. */
	{
		size_t ll = 0, pre, k;
		char *line = malloc(4096);

		assert_non_null(line);
		for (k = 0; k < 40; k++)
			ll += putf(line + ll, line + 4096,
				   "machine h login u password "
				   "Zq8vN3kP2xLm7R%04zu ",
				   k);
		ll += putf(line + ll, line + 4096,
			   "machine h login u password");
		pre = (4u << 20) - ll;
		fill_lines(buf, pre);
		memcpy(buf + pre, line, ll);
		n = pre + ll + putf(buf + pre + ll, bend, "\n  Kx9mQ2wLp7Zt\n");
		scan_all(s, buf, n, &a);
		assert_int_equal(a.netrc, 41);
		assert_false(a.dup);
		free(line);
	}
	/* Third review. A PEM key more than 64 KiB into its line (minified
	 * JSON): the window was counted from the line's start, the END
	 * looked for before the BEGIN: never reported, exit 0. */
	memset(buf, 'a', 70000);
	n = 70000 +
	    putf(buf + 70000, bend,
		 "-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEILgmD3n5"
		 "zkyZQcktY8bG/4WLhAomJU27bmepf9QMhbNg\n-----END PRIVATE "
		 "KEY-----\n");
	scan_all(s, buf, n, &a);
	assert_int_equal(a.other, 1);
	/* 40 generic findings and an entry waiting on one line: the
	 * generic hits, moved to the line's end as the waiting one was,
	 * ran again on the rescan (8 reported twice). */
	{
		size_t ll = 0, pre, k;
		char *line = malloc(4096);

		assert_non_null(line);
		for (k = 0; k < 40; k++)
			ll += putf(line + ll, line + 4096,
				   "k%02zu_secret=\"Zq8vN3kP2xLm%02zuRt4"
				   "Wb\" ",
				   k, k);
		ll += putf(line + ll, line + 4096,
			   "machine h login u password\n        ");
		pre = (4u << 20) - ll + 10;
		fill_lines(buf, pre);
		memcpy(buf + pre, line, ll);
		n = pre + ll + putf(buf + pre + ll, bend, "Kx9mQ2wLp7Zt\n");
		scan_all(s, buf, n, &a);
		assert_int_equal(a.n, 41);
		assert_false(a.dup);
		free(line);
	}
	/* An entry longer than the OVERLAP kept at a 16 MiB line's cut,
	 * across it: its "machine" was not in what was kept, never read
	 * whole. */
	memset(buf, 'y', (16u << 20) - 4500);
	n = (16u << 20) - 4500;
	n += putf(buf + n, bend, " machine h");
	memset(buf + n, ' ', 10000);
	n += 10000;
	n += putf(buf + n, bend, "login u password Zq8vN3kP2xLm7Rt4Wb\n");
	scan_all(s, buf, n, &a);
	assert_int_equal(a.netrc, 1);
	/* The stall again, on a line of nearly MAX_LINE (16 MiB): past
	 * MAX_LINE every piece rescanned the line. */
	memset(buf, 'y', (16u << 20) - 100);
	n = (16u << 20) - 100;
	n += putf(buf + n, bend, " machine a.example login bob\n");
	memset(&a, 0, sizeof(a));
	dw_scanner_set_budget(s, 20000);
	dw_scan_begin(s, 1, on_any, &a);
	dw_scan_feed(s, buf, n);
	for (i = 0; i < 70000; i++)
		dw_scan_feed(s, " ", 1);
	dw_scan_feed(s, "\ntoken dckr_pat_Qw7Zr2LmX9vTk3NpB6yHs4Dj\n",
		     strlen("\ntoken dckr_pat_Qw7Zr2LmX9vTk3NpB6yHs4Dj\n"));
	dw_scan_finish(s);
	assert_false(dw_scan_timed_out(s));
	assert_int_equal(a.other, 1);
	dw_scanner_set_budget(s, 0);

	dw_scanner_free(s);
	dw_engine_free(e);
	free(buf);
}

/* The digest (the scan cache's key) of one custom rule. */
static void digest_of(char out[72], char *id, char *regex, int ignore)
{
	static char fp[] = "sha256:00000000000000000000000000000000000000000"
			   "00000000000000000000000";
	char *ignored[] = {fp};
	struct dw_custom_rule r = {.id = id, .regex = regex};
	struct dw_engine_config c = {.custom = &r, .ncustom = 1};
	struct dw_engine *e = NULL;

	if (ignore) {
		c.ignored = ignored;
		c.nignored = 1;
	}
	assert_int_equal(dw_engine_new(&e, &c), 0);
	memcpy(out, dw_engine_digest(e), 72);
	dw_engine_free(e);
}

/* Everything that changes a result changes the digest; fields do not
 * run into each other (review: "tok"+"en" was "toke"+"n"). */
/* Counts the findings of one rule. */
struct count {
	const char *rule;
	int n;
};

static int count_rule(const struct dw_finding *f, void *ctx)
{
	struct count *c = ctx;

	c->n += !strcmp(f->rule->id, c->rule);
	return 0;
}

/*
 * A .pgpass comment line longer than a scan's line (16 MiB) is cut; what
 * follows the cut is no line's start. A review found "^" matched there:
 * five colon fields past the cut of a "#" line were reported.
 */
static void test_pgpass_cut(void **state)
{
	const size_t cut = (16u << 20) - 4096;
	static const char rec[] = "Kx9Lm:1:Kx9Lm:Kx9Lm:";
	struct dw_engine *e = NULL;
	struct dw_scanner *s = NULL;
	struct count c = {"pgpass-password", 0};
	size_t len = cut + 820 * (sizeof(rec) - 1) + 1, at, k;
	char *buf = malloc(len);

	(void)state;
	assert_non_null(buf);
	buf[0] = '#';
	memset(buf + 1, 'a', len - 1);
	at = cut - 8200;
	for (k = 0; k < 820; k++, at += sizeof(rec) - 1)
		memcpy(buf + at, rec, sizeof(rec) - 1);
	buf[len - 1] = '\n';
	assert_int_equal(dw_engine_new(&e, NULL), 0);
	assert_int_equal(dw_scanner_new(&s, e), 0);
	/* records on both sides of the cut, one starting right at it */
	for (at = cut - 8200; at < cut; at += sizeof(rec) - 1)
		;
	assert_true(at == cut || at - cut < sizeof(rec) - 1);
	dw_scan_name(s, "/root/.pgpass");
	assert_int_equal(dw_scan_buffer(s, buf, len, 1, count_rule, &c), 0);
	if (c.n)
		fprintf(stderr, "%d findings in a comment line\n", c.n);
	assert_int_equal(c.n, 0);
	dw_scanner_free(s);
	dw_engine_free(e);
	free(buf);
}

static void test_digest(void **state)
{
	char a[72], b[72], c[72];

	(void)state;
	digest_of(a, "tok", "en_[0-9]{8}", 0);
	digest_of(b, "toke", "n_[0-9]{8}", 0);
	digest_of(c, "tok", "en_[0-9]{8}", 1);
	assert_string_not_equal(a, b);
	assert_string_not_equal(a, c);
	digest_of(b, "tok", "en_[0-9]{8}", 0);
	assert_string_equal(a, b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cases),
		cmocka_unit_test(test_span_cut),
		cmocka_unit_test(test_span_attacks),
		cmocka_unit_test(test_pgpass_cut),
		cmocka_unit_test(test_digest),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
