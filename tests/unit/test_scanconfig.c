/* The scan configuration (.driftwatch.yaml): every key, sizes, allow
 * paths, and the error a bad file is given (file and line named). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "driftwatch/config.h"
#include "driftwatch/error.h"

#define DATA DW_TEST_DATA "/scanconfig/"

static void test_full(void **state)
{
	struct dw_config c;

	(void)state;
	assert_int_equal(dw_config_load(&c, DATA "full.yaml"), 0);
	assert_int_equal(c.max_file_size, 10u << 20);
	assert_int_equal(c.ndisabled, 1);
	assert_string_equal(c.disabled[0], "jwt");
	assert_int_equal(c.nrules, 1);
	assert_int_equal(c.nignored, 1);
	assert_int_equal(c.ncommand, 2);
	assert_string_equal(c.command[0], "/usr/local/bin/revoke");
	assert_true(dw_config_path_allowed(&c, "vendor/a/b.go"));
	assert_true(dw_config_path_allowed(&c, "./docs/x/README.md"));
	assert_false(dw_config_path_allowed(&c, "src/vendor/a.go"));
	assert_false(dw_config_path_allowed(&c, "main.go"));
	dw_config_release(&c);
}

static void expect_error(const char *file, int code, const char *words)
{
	struct dw_config c;

	assert_int_equal(dw_config_load(&c, file), code);
	if (!strstr(dw_error_last(), words))
		fail_msg("%s: '%s' does not say '%s'", file, dw_error_last(),
			 words);
}

static void test_errors(void **state)
{
	(void)state;
	expect_error(DATA "unknown-key.yaml", DW_EINVAL, "unknown-key.yaml:2:");
	expect_error(DATA "bad-severity.yaml", DW_EINVAL, "severity");
	expect_error(DATA "bad-size.yaml", DW_EINVAL, "bad-size.yaml:1:");
	expect_error(DATA "malformed.yaml", DW_EINVAL, "malformed.yaml");
	expect_error(DATA "no-such-file.yaml", DW_EIO, "no-such-file");
}

static void test_sizes(void **state)
{
	static const struct {
		const char *s;
		uint64_t v;
	} ok[] = {
		{"123", 123},	      {"10KiB", 10 << 10}, {"5MiB", 5 << 20},
		{"2GiB", 2ull << 30}, {"1KB", 1 << 10},	   {"3mb", 3 << 20},
	};
	static const char *const bad[] = {"", "x", "-1", "10 TiB", "1.5MiB"};
	uint64_t v;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		assert_int_equal(dw_parse_size(&v, ok[i].s), 0);
		assert_int_equal(v, ok[i].v);
	}
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (!dw_parse_size(&v, bad[i]))
			fail_msg("'%s' was taken as a size", bad[i]);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_full),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_sizes),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
