/*
 * What driftwatchd believes of a scanner process's finding in json-file
 * and CRI lines (lines_verify(): sandbox.c is included whole, for its
 * static functions). A scanner taken over by its input may name any two
 * lines as the pieces of a long line: the join is believed only when the
 * first is a piece that more follows, the second is of its stream, and
 * no line of that stream is between them.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "../../daemon/host/sandbox.c"

static struct dw_engine *engine;

/* A finding of `secret` claimed in the two lines of `data` (line2
 * first, then line; 1-based numbers of lines). */
static int claim_as(const char *data, int format, int line2, int line,
		    const char *secret, int lines)
{
	const struct dw_rule_info *rules;
	struct sb_finding h;
	struct dw_finding f;
	size_t off[16], len[16], n = 0, i, start = 0, dlen = strlen(data);

	for (i = 0; i < dlen && n < 16; i++)
		if (data[i] == '\n') {
			off[n] = start;
			len[n++] = i - start;
			start = i + 1;
		}
	dw_engine_rules(engine, &rules);
	memset(&h, 0, sizeof(h));
	memset(&f, 0, sizeof(f));
	h.line_off = off[line - 1];
	h.line_len = len[line - 1];
	if (line2) {
		h.line2_off = off[line2 - 1];
		h.line2_len = len[line2 - 1];
	}
	h.lines = (uint32_t)lines;
	h.docker = (uint32_t)lines;
	f.rule = &rules[0];
	f.secret = secret;
	f.secret_len = strlen(secret);
	dw_secret_fingerprint(f.fingerprint, f.rule->id, f.secret,
			      f.secret_len);
	{
		struct stream_cache c = {0};
		int r = lines_verify(data, dlen, format, &h, &f, 0, &c);

		dw_buf_release(&c.t);
		return r;
	}
}

static int claim(const char *data, int format, int line2, int line,
		 const char *secret)
{
	return claim_as(data, format, line2, line, secret, 0);
}

/* ... in a stream's lines from line2 to line, together. */
static int claim_lines(const char *data, int format, int line2, int line,
		       const char *secret)
{
	return claim_as(data, format, line2, line, secret, 1);
}

static const char cri[] = "T1 stdout P one SECRET\n"
			  "T2 stderr F other\n"
			  "T3 stdout F PART end\n"
			  "T4 stderr P two SECRET\n"
			  "T5 stdout F PART\n"
			  "T6 stdout F again\n";

static void test_join_believed(void **state)
{
	(void)state;
	assert_int_equal(claim(cri, DW_LOG_CRI, 1, 3, "SECRETPART"), 0);
	/* Only in the text: never across the raw lines' heads. */
	assert_int_equal(claim(cri, DW_LOG_CRI, 1, 3, "SECRET\nT3"), -1);
}

static void test_join_lies_refused(void **state)
{
	(void)state;
	/* A whole line (F) is not a piece that more follows. */
	assert_int_equal(claim(cri, DW_LOG_CRI, 3, 5, "endPART"), -1);
	/* Another stream's piece. */
	assert_int_equal(claim(cri, DW_LOG_CRI, 4, 5, "SECRETPART"), -1);
	/* A line of the stream between them. */
	assert_int_equal(claim(cri, DW_LOG_CRI, 1, 5, "SECRETPART"), -1);
	/* The second before the first. */
	assert_int_equal(claim(cri, DW_LOG_CRI, 3, 1, "PARTSECRET"), -1);
}

static void test_json_join(void **state)
{
	static const char js[] =
		"{\"log\":\"one SEC\",\"stream\":\"stdout\",\"time\":\"t\"}\n"
		"{\"log\":\"x\\n\",\"stream\":\"stderr\",\"time\":\"t\"}\n"
		"{\"log\":\"R\\u0045T end\\n\",\"stream\":\"stdout\"}\n"
		"{\"log\":\"two SEC\\\\n\",\"stream\":\"stdout\"}\n"
		"{\"log\":\"RET\\n\",\"stream\":\"stdout\"}\n";

	(void)state;
	assert_int_equal(claim(js, DW_LOG_DOCKER_JSON, 1, 3, "SECRET"), 0);
	/* An escaped backslash before an n: still a piece. */
	assert_int_equal(claim(js, DW_LOG_DOCKER_JSON, 4, 5, "SEC\\nRET"), 0);
	assert_int_equal(claim(js, DW_LOG_DOCKER_JSON, 2, 3, "xRET"), -1);
}

static void test_cri_not_unescaped(void **state)
{
	static const char c[] = "T1 stdout F key \\u0041BC\n";

	(void)state;
	/* CRI text has no escapes: what is only there once unescaped,
	 * the scanner did not see. */
	assert_int_equal(claim(c, DW_LOG_CRI, 0, 1, "ABC"), -1);
	assert_int_equal(claim(c, DW_LOG_CRI, 0, 1, "\\u0041BC"), 0);
}

/*
 * A stream's whole lines together (a key printed a line a record): the
 * secret in their texts, each ending with a newline, the other stream's
 * lines left out; never across a piece, another stream or raw heads.
 */
static void test_lines_together(void **state)
{
	static const char c[] = "T1 stdout F -----BEGIN K-----\n"
				"T2 stderr F noise\n"
				"T3 stdout F AAAA\n"
				"T4 stdout F -----END K-----\n"
				"T5 stdout P piece\n";
	static const char e[] = "T1 stdout F -----BEGIN K-----\n"
				"T2 stdout F\n"
				"T3 stdout F BODY\n"
				"T4 stdout P -----END K-----\n"
				"T5 stdout F after\n";
	static const char js[] =
		"{\"log\":\"BEGIN\\n\",\"stream\":\"stdout\"}\n"
		"{\"log\":\"x\\n\",\"stream\":\"stderr\"}\n"
		"{\"log\":\"B\\u0042\\n\",\"stream\":\"stdout\"}\n";

	(void)state;
	assert_int_equal(
		claim_lines(c, DW_LOG_CRI, 1, 4,
			    "-----BEGIN K-----\nAAAA\n-----END K-----"),
		0);
	assert_int_equal(claim_lines(js, DW_LOG_DOCKER_JSON, 1, 3, "BEGIN\nBB"),
			 0);
	/* The other stream's line is not in the text. */
	assert_int_equal(claim_lines(c, DW_LOG_CRI, 1, 4, "K-----\nnoise"), -1);
	/* Named from the other stream's line. */
	assert_int_equal(claim_lines(c, DW_LOG_CRI, 2, 4, "AAAA"), -1);
	/* Ending at the first piece of a line (an END line printed
	 * without its newline), an empty line between: as kept. */
	assert_int_equal(claim_lines(c, DW_LOG_CRI, 3, 5,
				     "AAAA\n-----END "
				     "K-----\npiece\n"),
			 0);
	assert_int_equal(
		claim_lines(e, DW_LOG_CRI, 1, 4,
			    "-----BEGIN K-----\n\nBODY\n-----END K-----"),
		0);
	/* Starting at a piece. */
	assert_int_equal(claim_lines(e, DW_LOG_CRI, 4, 5, "K-----"), -1);
	/* The last before the first, or one line named twice. */
	assert_int_equal(claim_lines(c, DW_LOG_CRI, 4, 1, "AAAA"), -1);
	assert_int_equal(claim_lines(c, DW_LOG_CRI, 3, 3, "AAAA"), -1);
	/* Across the raw lines' heads: not text. */
	assert_int_equal(claim_lines(c, DW_LOG_CRI, 1, 3, "T3 stdout"), -1);
}

/* Where a .netrc entry or a PEM key that the text ends inside begins. */
static void test_open_key(void **state)
{
	static const struct {
		const char *text;
		long open; /* -1: none */
	} c[] = {
		{"x\nmachine h.example.com\nlogin u\n", 2},
		{"x\nmachine h.example.com\n", 2},
		{"x\nMACHINE h login u password\n", 2},
		{"x\n  machine h login u account a\n", 2},
		{"machine h login u password pw12", 0},
		{"machine h login u password \"a b", 0},
		{"default login u\n", 0},
		{"a\nb\nmachine", 4},
		{"x\nmachine h login u pass", 2},
		/* a host, login or account that is a keyword too; a quote
		 * not closed on its line, or text after it: blank-free */
		{"x\nmachine build-machine login ci\n", 2},
		{"machine h\nlogin default\n", 0},
		{"machine h\nlogin u\naccount default\n", 0},
		{"machine h\nlogin \"deploy\n", 0},
		{"machine h\nlogin \"de\"ploy\n", 0},
		{"machine \"h\nlogin u\n", 0},
		{"machine \"h i\" login u\n", 0},
		{"machine h login u password \"a b\"", 0},
		/* an escaped CR in quotes (PCRE2's newline is LF); a quoted
		 * reading that fails later, the blank-free one that holds */
		{"machine \"a\\\rb\" login u\n", 0},
		{"machine \"h login u\"\npassword\n", 0},
		{"machine \"h login u account a\"\npassword\n", 0},
		/* past its password, or no entry at all */
		{"machine h login u password secret1\n", -1},
		{"machine h login u password \"a b c\"\n", -1},
		{"the machine is down\n", -1},
		{"machine h\nuser u\n", -1},
		{"machine h login u\nport 22\n", -1},
		{"submachine h login u\n", -1},
		{"machinery h login u\n", -1},
		/* the earliest of a key and an entry; a key closed */
		{"-----BEGIN K-----\nAAAA\nmachine h\n", 0},
		{"-----BEGIN K-----\n-----END K-----\nmachine h\n", 34},
		{"-----BEGIN K-----\nAAAA\n", 0},
		{"-----BEGIN K-----\nAAAA\n-----END K-----\n", -1},
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(c) / sizeof(*c); i++) {
		size_t got = dw_log_open_key(c[i].text, strlen(c[i].text),
					     DW_LOG_ML_MAX);

		if (got != (c[i].open < 0 ? SIZE_MAX : (size_t)c[i].open))
			fail_msg("case %zu (%s): %zu", i, c[i].text, got);
	}
	/* The window is counted from the end of the keyword's line. */
	{
		char *t = malloc(70000);

		memset(t, 'x', 70000);
		memcpy(t + 50000, " machine h login u\n", 19);
		memset(t + 50019, '\n', 19981);
		assert_int_equal(dw_log_open_key(t, 70000, DW_LOG_ML_MAX), 0);
		free(t);
	}
	/* Past the window: let go. */
	assert_int_equal(dw_log_open_key("machine h\n"
					 "xxxxxxxxxxxx",
					 22, 8),
			 SIZE_MAX);
}

/* The kept lines of a CRI log that end inside a .netrc entry: held from
 * its first line, to be read again with what follows. */
static int no_finding(const struct dw_finding *f, const struct dw_source *src,
		      void *ctx)
{
	(void)f;
	(void)src;
	++*(int *)ctx;
	return 0;
}

static void test_join_holds_netrc(void **state)
{
	static const char *const lines[] = {
		"T1 stdout F starting",
		"T2 stdout F machine git.example.com",
		"T3 stdout F login deploy",
	};
	struct dw_scanner *s;
	struct dw_log_join j;
	uint64_t off = 0, want = 0;
	size_t i;
	int found = 0;

	(void)state;
	assert_int_equal(dw_scanner_new(&s, engine), 0);
	dw_log_join_init(&j);
	for (i = 0; i < 3; i++) {
		if (i == 1)
			want = off;
		dw_scan_log_line(s, &j, DW_LOG_CRI, lines[i], strlen(lines[i]),
				 i + 1, off, "t", no_finding, &found);
		off += strlen(lines[i]) + 1;
	}
	assert_true(dw_log_join_finish(s, &j) == want);
	assert_int_equal(found, 0);
	dw_log_join_release(&j);
	dw_scanner_free(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_join_believed),
		cmocka_unit_test(test_join_lies_refused),
		cmocka_unit_test(test_json_join),
		cmocka_unit_test(test_cri_not_unescaped),
		cmocka_unit_test(test_lines_together),
		cmocka_unit_test(test_open_key),
		cmocka_unit_test(test_join_holds_netrc),
	};

	if (dw_engine_new(&engine, NULL))
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
