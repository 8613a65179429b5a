/* The daemon's configuration and drift policy: globs, severities, and
 * the errors a bad file gets. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "driftwatch/error.h"
#include "policy.h"

static char *write_file(const char *text)
{
	char *path = strdup("/tmp/dw-policy-XXXXXX");
	int fd = mkstemp(path);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
	return path;
}

static void test_severities(void **state)
{
	char *path = write_file("allow:\n"
				"  - paths: [\"/tmp/**\"]\n"
				"  - image: \"nginx:*\"\n"
				"    paths: [\"/var/cache/nginx/**\"]\n"
				"  - label: tier=web\n"
				"    paths: [\"/srv/**\"]\n"
				"allow_executables:\n"
				"  - image: \"build:*\"\n"
				"    paths: [\"/tmp/**\"]\n");
	json_t *web = json_pack("{s:s}", "tier", "web");
	json_t *none = json_object();
	struct dw_policy p;

	static const struct {
		const char *image;
		int web, immutable;
		const char *path;
		char kind;
		int exec;
		const char *want;
	} cases[] = {
		/* A path glob never allows an executable (it did). */
		{"busybox", 0, 0, "/tmp/x", 'A', 1, "critical"},
		{"busybox", 0, 0, "/tmp/x", 'C', 1, "critical"},
		{"busybox", 0, 0, "/tmp/x", 'A', 0, "allowed"},
		/* allow_executables does, for its image only. */
		{"build:7", 0, 0, "/tmp/cc1", 'A', 1, "allowed"},
		{"build:7", 0, 0, "/usr/bin/cc1", 'A', 1, "critical"},
		{"busybox", 0, 0, "/srv/x", 'A', 1, "critical"},
		{"nginx:1.25", 0, 0, "/var/cache/nginx/a", 'A', 0, "allowed"},
		{"busybox", 0, 0, "/var/cache/nginx/a", 'A', 0, "medium"},
		{"x", 1, 0, "/srv/up", 'C', 0, "allowed"},
		{"x", 0, 0, "/srv/up", 'C', 0, "medium"},
		{"x", 0, 0, "/usr/bin/x", 'A', 1, "critical"},
		{"x", 0, 0, "/etc/motd", 'C', 0, "high"},
		{"x", 0, 0, "/etcx", 'A', 0, "medium"},
		{"x", 0, 1, "/data/f", 'A', 0, "critical"},
		/* A deleted executable is rated by its path. */
		{"x", 0, 0, "/bin/sh", 'D', 1, "high"},
	};
	size_t i;

	(void)state;
	assert_int_equal(dw_policy_load(&p, path, 1), 0);
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		assert_string_equal(
			dw_severity_name(dw_policy_severity(
				&p, cases[i].image, cases[i].web ? web : none,
				cases[i].immutable, cases[i].path,
				cases[i].kind, cases[i].exec)),
			cases[i].want);
	dw_policy_release(&p);
	json_decref(web);
	json_decref(none);
	unlink(path);
	free(path);
}

/*
 * Allow rules by process: they match only a writer whose exe (image
 * content: the caller says so by passing it) matches, with the rule's
 * paths when it has some; a writer not known (or a drifted exe: NULL)
 * never matches; an executable still needs allow_executables.
 */
static void test_process_rules(void **state)
{
	char *path =
		write_file("allow:\n"
			   "  - process: [/usr/bin/dpkg, \"/usr/lib/apt/*\"]\n"
			   "  - process: /usr/bin/python3*\n"
			   "    paths: [\"/srv/app/**\"]\n"
			   "allow_executables:\n"
			   "  - image: debian\n"
			   "    process: [/usr/bin/dpkg]\n");
	char *bad = write_file("allow:\n  - image: x\n");
	char *rel = write_file("allow:\n  - process: [dpkg]\n");
	json_t *none = json_object();
	struct dw_policy p;

	(void)state;
	assert_int_equal(dw_policy_load(&p, path, 1), 0);
	assert_true(dw_policy_names_processes(&p));
	assert_int_equal(dw_policy_severity_by(&p, "x", none, 0, "/var/lib/a",
					       'A', 0, "/usr/bin/dpkg"),
			 DW_SEV_ALLOWED);
	assert_int_equal(dw_policy_severity_by(&p, "x", none, 0, "/var/lib/a",
					       'A', 0, "/usr/lib/apt/methods"),
			 DW_SEV_ALLOWED);
	assert_int_equal(dw_policy_severity_by(&p, "x", none, 0, "/var/lib/a",
					       'A', 0, NULL),
			 DW_SEV_MEDIUM);
	assert_int_equal(dw_policy_severity_by(&p, "x", none, 0, "/var/lib/a",
					       'A', 0, "/usr/bin/dpkg2"),
			 DW_SEV_MEDIUM);
	/* process and paths: both. */
	assert_int_equal(dw_policy_severity_by(&p, "x", none, 0, "/srv/app/x",
					       'C', 0, "/usr/bin/python3.11"),
			 DW_SEV_ALLOWED);
	assert_int_equal(dw_policy_severity_by(&p, "x", none, 0, "/var/x", 'C',
					       0, "/usr/bin/python3.11"),
			 DW_SEV_MEDIUM);
	/* An executable: only allow_executables (image and process). */
	assert_int_equal(dw_policy_severity_by(&p, "debian", none, 0,
					       "/usr/bin/x", 'A', 1,
					       "/usr/bin/dpkg"),
			 DW_SEV_ALLOWED);
	assert_int_equal(dw_policy_severity_by(&p, "alpine", none, 0,
					       "/usr/bin/x", 'A', 1,
					       "/usr/bin/dpkg"),
			 DW_SEV_CRITICAL);
	assert_int_equal(dw_policy_severity_by(&p, "debian", none, 0,
					       "/usr/bin/x", 'A', 1, NULL),
			 DW_SEV_CRITICAL);
	dw_policy_release(&p);
	/* Neither paths nor process; a process not absolute: refused. */
	assert_int_not_equal(dw_policy_load(&p, bad, 1), 0);
	assert_non_null(strstr(dw_error_last(), "paths or process"));
	assert_int_not_equal(dw_policy_load(&p, rel, 1), 0);
	json_decref(none);
	unlink(path);
	unlink(bad);
	unlink(rel);
	free(path);
	free(bad);
	free(rel);
}

/*
 * Kubernetes: allow and immutable rules by pod namespace and pod name
 * (globs on the io.kubernetes.pod.* labels every runtime's pods carry),
 * and immutable rules by image.
 */
static void test_kubernetes_rules(void **state)
{
	char *path = write_file("allow:\n"
				"  - namespace: \"kube-*\"\n"
				"    pod: \"fluentd-*\"\n"
				"    paths: [\"/var/log/**\"]\n"
				"immutable:\n"
				"  - namespace: prod\n"
				"  - image: \"registry.example/pay/*\"\n"
				"  - namespace: staging\n"
				"    pod: \"db-*\"\n");
	json_t *fluentd = json_pack("{s:s, s:s}", "io.kubernetes.pod.namespace",
				    "kube-system", "io.kubernetes.pod.name",
				    "fluentd-x7k2p");
	json_t *other =
		json_pack("{s:s, s:s}", "io.kubernetes.pod.namespace",
			  "default", "io.kubernetes.pod.name", "fluentd-x7k2p");
	json_t *prod = json_pack("{s:s, s:s}", "io.kubernetes.pod.namespace",
				 "prod", "io.kubernetes.pod.name", "web-1");
	json_t *stdb = json_pack("{s:s, s:s}", "io.kubernetes.pod.namespace",
				 "staging", "io.kubernetes.pod.name", "db-0");
	json_t *stweb = json_pack("{s:s, s:s}", "io.kubernetes.pod.namespace",
				  "staging", "io.kubernetes.pod.name", "web-0");
	json_t *none = json_object();
	struct dw_policy p;

	(void)state;
	assert_int_equal(dw_policy_load(&p, path, 1), 0);
	assert_int_equal(dw_policy_severity(&p, "fluentd", fluentd, 0,
					    "/var/log/a.log", 'A', 0),
			 DW_SEV_ALLOWED);
	assert_int_equal(dw_policy_severity(&p, "fluentd", other, 0,
					    "/var/log/a.log", 'A', 0),
			 DW_SEV_MEDIUM);
	/* A Docker container without the labels: no pod, no match. */
	assert_int_equal(dw_policy_severity(&p, "fluentd", none, 0,
					    "/var/log/a.log", 'A', 0),
			 DW_SEV_MEDIUM);
	assert_true(dw_policy_immutable(&p, "nginx", prod));
	assert_true(
		dw_policy_immutable(&p, "registry.example/pay/api:3", none));
	assert_true(dw_policy_immutable(&p, "nginx", stdb));
	assert_false(dw_policy_immutable(&p, "nginx", stweb));
	assert_false(dw_policy_immutable(&p, "nginx", none));
	/* immutable_label still counts. */
	json_object_set_new(none, "driftwatch.immutable", json_string("true"));
	assert_true(dw_policy_immutable(&p, "nginx", none));
	dw_policy_release(&p);
	json_decref(fluentd);
	json_decref(other);
	json_decref(prod);
	json_decref(stdb);
	json_decref(stweb);
	json_decref(none);
	unlink(path);
	free(path);
}

static void expect_error(const char *text, const char *what)
{
	char *path = write_file(text);
	struct dw_policy p;

	assert_int_equal(dw_policy_load(&p, path, 1), DW_EINVAL);
	if (!strstr(dw_error_last(), what))
		fail_msg("'%s' not in '%s'", what, dw_error_last());
	unlink(path);
	free(path);
}

static void test_bad_files(void **state)
{
	struct dw_policy p;

	(void)state;
	expect_error("debounce_ms: 20\nbogus: 1\n", ":2: unknown key");
	expect_error("allow:\n  - image: x\n", "needs paths");
	expect_error("allow:\n  - paths: [tmp]\n", "absolute");
	expect_error("rotate: sometimes\n", "auto, ask or off");
	expect_error("exec: sometimes\n", "audit, enforce or off");
	expect_error("exec_immutable: on\n", "audit, enforce or off");
	expect_error("exec_sweep_interval: -1\n", "from 0 to 86400");
	expect_error("debounce_ms: -5\n", "from 0 to 10000");
	expect_error("allow: [oops\n", ":");
	expect_error("drop_dirs:\n  - path: /x\n    kind: fax\n",
		     "slack, mail or files");
	expect_error("webhooks: [ftp://x]\n", "http(s)");
	expect_error("immutable:\n  - paths: [/x]\n", "unknown key in an "
						      "immutable rule");
	expect_error("immutable:\n  - {}\n", "names what it selects");
	expect_error("allow:\n  - pods: x\n    paths: [/x]\n",
		     "(image, label, namespace, pod, paths, process)");
	/* Absent: an error only when asked for. */
	assert_int_equal(dw_policy_load(&p, "/nonexistent/dw.yaml", 0), 0);
	assert_int_equal(p.debounce_ms, 20);
	/* The exec watch: audit by default, every 30 s a sweep. */
	assert_int_equal(p.exec, DW_EXEC_AUDIT);
	assert_int_equal(p.exec_immutable, DW_EXEC_AUDIT);
	assert_int_equal(p.exec_sweep_interval, 30);
	dw_policy_release(&p);
	assert_int_equal(dw_policy_load(&p, "/nonexistent/dw.yaml", 1), DW_EIO);
}

int main(void)
{
	const struct CMUnitTest tests[] = {

		cmocka_unit_test(test_severities),
		cmocka_unit_test(test_bad_files),
		cmocka_unit_test(test_kubernetes_rules),
		cmocka_unit_test(test_process_rules),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
