#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "driftwatch/buf.h"
#include "driftwatch/error.h"

static void test_grow_and_format(void **state)
{
	struct dw_buf b = DW_BUF_INIT;
	int i;

	(void)state;
	for (i = 0; i < 1000; i++)
		assert_int_equal(dw_buf_addf(&b, "%d,", i), 0);
	assert_int_equal(strncmp(b.ptr, "0,1,2,", 6), 0);
	assert_int_equal(b.len, strlen(b.ptr));
	dw_buf_setlen(&b, 2);
	assert_string_equal(b.ptr, "0,");
	dw_buf_release(&b);
	assert_int_equal(b.len, 0);
	assert_string_equal(b.ptr, "");
}

static void test_max_is_enforced(void **state)
{
	struct dw_buf b;

	(void)state;
	dw_buf_init(&b, 8);
	assert_int_equal(dw_buf_adds(&b, "12345678"), 0);
	assert_int_equal(dw_buf_addch(&b, '9'), DW_ELIMIT);
	/* A failed append leaves the buffer as it was. */
	assert_string_equal(b.ptr, "12345678");
	assert_non_null(strstr(dw_error_last(), "limit"));
	dw_buf_release(&b);
}

static void test_detach(void **state)
{
	struct dw_buf b = DW_BUF_INIT;
	size_t len;
	char *s;

	(void)state;
	s = dw_buf_detach(&b, &len);
	assert_string_equal(s, "");
	free(s);
	dw_buf_adds(&b, "abc");
	s = dw_buf_detach(&b, &len);
	assert_int_equal(len, 3);
	assert_string_equal(s, "abc");
	assert_int_equal(b.len, 0);
	free(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_grow_and_format),
		cmocka_unit_test(test_max_is_enforced),
		cmocka_unit_test(test_detach),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
