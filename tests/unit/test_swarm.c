/* Swarm attribution (daemon/host/swarm.c): a leaked token is matched
 * against this host's swarm (its CA digest and current secrets) with no
 * network call: live or stale, worker or manager, ours or foreign. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include <jansson.h>

#include "swarm.h"

#define DIGEST "4s5k7vtq1uc4mbqrnjw06vhxh7nwckbkmqhgc4x1z8m0p2d1ns"
#define OTHER "0a1b2c3d4e5f6g7h8i9j0k1l2m3n4o5p6q7r8s9t0u1v2w3x4y"
#define WORKER "SWMTKN-1-" DIGEST "-0b7nlxb4k6ppq5ml2jc1z6oqa"
#define MANAGER "SWMTKN-1-" DIGEST "-3yz2o4kgw7xj1uq9kvd5fhc0e"
#define UNLOCK "SWMKEY-1-7c37Cc8654o6p38HnroywCi19pllOnGtbdZEgtKxZu8"

static struct dw_swarm swarm(char *unlock)
{
	struct dw_swarm s;

	memset(&s, 0, sizeof(s));
	s.id = "q3kxv7e1m0wq2b8p3i5ndf7rs";
	memcpy(s.ca_digest, DIGEST, 51);
	s.worker = WORKER;
	s.manager = MANAGER;
	s.unlock_key = unlock;
	return s;
}

static void expect(const struct dw_swarm *s, const char *rule,
		   const char *secret, const char *cluster, const char *role,
		   const char *status)
{
	json_t *a = dw_swarm_attribute(s, rule, secret, strlen(secret));

	assert_non_null(a);
	assert_string_equal(json_string_value(json_object_get(a, "cluster")),
			    cluster);
	assert_string_equal(json_string_value(json_object_get(a, "role")),
			    role);
	assert_string_equal(json_string_value(json_object_get(a, "status")),
			    status);
	json_decref(a);
}

static void test_join_tokens(void **state)
{
	struct dw_swarm s = swarm("");

	(void)state;
	expect(&s, "docker-swarm-join-token", WORKER, s.id, "worker", "live");
	expect(&s, "docker-swarm-join-token", MANAGER, s.id, "manager", "live");
	/* Our CA, an old secret: rotated since. */
	expect(&s, "docker-swarm-join-token",
	       "SWMTKN-1-" DIGEST "-0aaaaaaaaaaaaaaaaaaaaaaaa", s.id, "unknown",
	       "stale");
	/* Another cluster's CA. */
	expect(&s, "docker-swarm-join-token",
	       "SWMTKN-1-" OTHER "-0b7nlxb4k6ppq5ml2jc1z6oqa", "foreign",
	       "unknown", "stale");
	/* FIPS clusters: SWMTKN-2-<0|1>-: the digest is further on. */
	expect(&s, "docker-swarm-join-token",
	       "SWMTKN-2-1-" DIGEST "-0aaaaaaaaaaaaaaaaaaaaaaaa", s.id,
	       "unknown", "stale");
	/* Too short to hold a digest: never ours, never a crash. */
	expect(&s, "docker-swarm-join-token", "SWMTKN-1-4s5k", "foreign",
	       "unknown", "stale");
}

static void test_unlock_key(void **state)
{
	struct dw_swarm locked = swarm(UNLOCK), open = swarm("");

	(void)state;
	expect(&locked, "docker-swarm-unlock-key", UNLOCK, locked.id,
	       "unlock-key", "live");
	expect(&locked, "docker-swarm-unlock-key",
	       "SWMKEY-1-AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
	       "unknown", "unlock-key", "stale");
	/* Autolock off: no key is live. */
	expect(&open, "docker-swarm-unlock-key", UNLOCK, "unknown",
	       "unlock-key", "stale");
}

static void test_other_rules(void **state)
{
	struct dw_swarm s = swarm("");

	(void)state;
	assert_null(dw_swarm_attribute(&s, "github-token", "ghp_x", 5));
	assert_true(dw_swarm_rule("docker-swarm-join-token"));
	assert_true(dw_swarm_rule("docker-swarm-unlock-key"));
	assert_false(dw_swarm_rule("github-token"));
	assert_int_equal(dw_swarm_secret_of_role("worker"), DW_SWARM_WORKER);
	assert_int_equal(dw_swarm_secret_of_role("manager"), DW_SWARM_MANAGER);
	assert_int_equal(dw_swarm_secret_of_role("unlock-key"),
			 DW_SWARM_UNLOCK);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_join_tokens),
		cmocka_unit_test(test_unlock_key),
		cmocka_unit_test(test_other_rules),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
