#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "driftwatch/escape.h"

static void check_escape(const char *in, size_t len, const char *want)
{
	struct dw_buf b = DW_BUF_INIT;

	assert_int_equal(dw_escape_path(&b, in, len), 0);
	assert_string_equal(b.ptr, want);
	dw_buf_release(&b);
}

static void test_plain_passes(void **state)
{
	(void)state;
	check_escape("/etc/passwd", 11, "/etc/passwd");
	check_escape("/a b/c", 6, "/a b/c");
	check_escape("", 0, "");
}

static void test_controls_escaped(void **state)
{
	(void)state;
	check_escape("/a\nb", 4, "/a\\nb");
	check_escape("/a\tb\r", 5, "/a\\tb\\r");
	check_escape("/a\\b", 4, "/a\\\\b");
	check_escape("/\x01\x7f", 3, "/\\x01\\x7f");
}

static void test_utf8(void **state)
{
	(void)state;
	/* Valid UTF-8 passes, invalid bytes are \xHH, C1 controls too. */
	check_escape("/\xc3\xa9t\xc3\xa9", 6, "/\xc3\xa9t\xc3\xa9");
	check_escape("/bad\xffname", 9, "/bad\\xffname");
	check_escape("/t\xe2\x82", 4, "/t\\xe2\\x82");
	check_escape("/\xc2\x85", 3, "/\\xc2\\x85");
	check_escape("/\xc0\xaf", 3, "/\\xc0\\xaf");	      /* overlong '/' */
	check_escape("/\xed\xa0\x80", 4, "/\\xed\\xa0\\x80"); /* surrogate */
	/* Bidi override and line separator: they would reorder a line. */
	check_escape("/a\xe2\x80\xae"
		     "b",
		     6, "/a\\xe2\\x80\\xaeb");
	check_escape("/\xe2\x80\xa8", 4, "/\\xe2\\x80\\xa8");
	check_escape("/\xe2\x81\xa7x", 5, "/\\xe2\\x81\\xa7x");
	assert_true(dw_utf8_valid("\xf0\x9f\x98\x80", 4));
	assert_false(dw_utf8_valid("\xf4\x90\x80\x80", 4)); /* > U+10FFFF */
}

static void test_sanitize(void **state)
{
	struct dw_buf b = DW_BUF_INIT;

	(void)state;
	assert_int_equal(dw_utf8_sanitize(&b, "a\xff\xe2\x82z", 5), 0);
	assert_string_equal(b.ptr, "a\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbdz");
	dw_buf_release(&b);
}

static void test_one_line_always(void **state)
{
	struct dw_buf b = DW_BUF_INIT;
	char all[256];
	int i;

	(void)state;
	for (i = 0; i < 256; i++)
		all[i] = (char)i;
	assert_int_equal(dw_escape_path(&b, all, sizeof(all)), 0);
	assert_null(memchr(b.ptr, '\n', b.len));
	assert_null(memchr(b.ptr, '\0', b.len));
	dw_buf_release(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_plain_passes),
		cmocka_unit_test(test_controls_escaped),
		cmocka_unit_test(test_utf8),
		cmocka_unit_test(test_sanitize),
		cmocka_unit_test(test_one_line_always),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
