/* The one glob dialect (driftwatch/glob.h). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "driftwatch/glob.h"

static void test_absolute(void **state)
{
	(void)state;
	assert_true(dw_glob_match("/tmp/**", "/tmp/a/b"));
	assert_true(dw_glob_match("/tmp/**", "/tmp")); /* the dir itself */
	assert_false(dw_glob_match("/tmp/**", "/tmpx"));
	assert_false(dw_glob_match("/tmp/**", "/tmpx/a"));
	assert_true(dw_glob_match("/**/foo", "/foo"));
	assert_true(dw_glob_match("/**/foo", "/a/b/foo"));
	assert_false(dw_glob_match("/**/foo", "/a/xfoo"));
	assert_true(dw_glob_match("/var/log/*.log", "/var/log/app.log"));
	assert_false(dw_glob_match("/var/log/*.log", "/var/log/x/app.log"));
	assert_true(dw_glob_match("/etc/?asswd", "/etc/passwd"));
	assert_false(dw_glob_match("/a?b", "/a/b"));
	assert_true(dw_glob_match("/a/**/c/*.so", "/a/x/y/c/l.so"));
	assert_false(dw_glob_match("/a/**/c/*.so", "/a/x/y/c/d/l.so"));
	assert_true(dw_glob_match("/exact", "/exact"));
	assert_false(dw_glob_match("/exact", "/exact/more"));
}

static void test_edges(void **state)
{
	(void)state;
	assert_true(dw_glob_match("**", ""));
	assert_true(dw_glob_match("**", "/a/b"));
	assert_true(dw_glob_match("*", ""));
	assert_false(dw_glob_match("*", "a/b"));
	assert_true(dw_glob_match("", ""));
	assert_false(dw_glob_match("", "a"));
	assert_true(dw_glob_match("a/**/b", "a/b"));
	assert_true(dw_glob_match("a/**/b", "a/x/b"));
	assert_false(dw_glob_match("a/**/b", "ab"));
	assert_true(dw_glob_match("/tmp/**", "/tmp/"));
	assert_true(dw_glob_match("*.so*", "libc.so.6"));
	assert_true(dw_glob_match("nginx:*", "nginx:1.27"));
	assert_false(dw_glob_match("nginx:*", "nginx"));
	assert_true(
		dw_glob_match("registry.example/**", "registry.example/a/b:1"));
	assert_false(
		dw_glob_match("registry.example/*", "registry.example/a/b:1"));
	/* Brackets and backslashes are ordinary bytes. */
	assert_true(dw_glob_match("/a[1]", "/a[1]"));
	assert_false(dw_glob_match("/a[1]", "/a1"));
	assert_true(dw_glob_match("/a\\*", "/a\\b"));
}

static void test_relative(void **state)
{
	(void)state;
	/* No '/': the last component, wherever it is. */
	assert_true(dw_glob_match_rel("*.pem", "a/b/key.pem"));
	assert_true(dw_glob_match_rel("*.pem", "./key.pem"));
	assert_false(dw_glob_match_rel("*.pem", "a/key.pem.txt"));
	/* With '/': the whole path from the scanned root. */
	assert_true(dw_glob_match_rel("vendor/**", "vendor/x/y.go"));
	assert_true(dw_glob_match_rel("vendor/**", "./vendor/x/y.go"));
	assert_true(dw_glob_match_rel("./vendor/**", "vendor/x"));
	assert_false(dw_glob_match_rel("vendor/*", "vendor/x/y.go"));
	assert_true(dw_glob_match_rel("vendor/*", "vendor/x"));
	assert_false(dw_glob_match_rel("vendor/**", "src/vendor/x"));
	assert_true(dw_glob_match_rel("**/testdata/**", "a/testdata/k"));
	assert_true(dw_glob_match_rel("**/testdata/**", "testdata/k"));
}

/*
 * A path a container chose must not make matching slow: a backtracking
 * matcher takes exponential time on this glob, this one O(m * n). 1 MiB
 * of path against 12 stars is 12 M steps, a fraction of a second.
 */
static void test_no_backtracking(void **state)
{
	size_t n = 1u << 20;
	char *s = malloc(n + 1);

	(void)state;
	memset(s, 'a', n);
	s[n] = '\0';
	assert_false(dw_glob_match("**a**a**a**a**a**a**a**a**a**a**a**b", s));
	assert_false(dw_glob_match("*a*a*a*a*a*a*a*a*a*a*a*a*b", s));
	free(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_absolute),
		cmocka_unit_test(test_edges),
		cmocka_unit_test(test_relative),
		cmocka_unit_test(test_no_backtracking),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
