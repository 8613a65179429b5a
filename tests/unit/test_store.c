/*
 * The store against an in-memory SQLite database: containers, current
 * changes and their history, severity filters, findings, offsets, the
 * alert outbox; and a store file written by an earlier release opens and
 * migrates in place (tests/data/store/).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "driftwatch/error.h"
#include "store.h"

static struct dw_store *mem(void)
{
	struct dw_store *s = NULL;

	assert_int_equal(dw_store_open(&s, ":memory:", 0), 0);
	return s;
}

static void put(struct dw_store *s, const char *id, const char *name)
{
	struct dw_store_container c = {id,
				       name,
				       "busybox",
				       "docker",
				       "/u",
				       "/l1:/l2",
				       "{\"team\":\"blue\"}",
				       "running",
				       "/",
				       0,
				       0};

	assert_int_equal(dw_store_put_container(s, &c), 0);
}

struct seen {
	char lines[16][160];
	int n;
};

static int on_event(const struct dw_event *ev, void *ctx)
{
	struct seen *k = ctx;

	if (k->n < 16)
		snprintf(k->lines[k->n++], 160, "%s %.*s %s %s", ev->kind,
			 (int)ev->path_len, (const char *)ev->path, ev->source,
			 ev->severity);
	return 0;
}

static void apply(struct dw_store *s, const char *cid,
		  const struct dw_change_row *rows, size_t n, const char *src)
{
	assert_int_equal(dw_store_begin(s), 0);
	assert_int_equal(dw_store_apply_changes(s, cid, rows, n, src, 1000), 0);
	assert_int_equal(dw_store_commit(s), 0);
}

static void test_changes(void **state)
{
	struct dw_store *s = mem();
	struct dw_change_meta m = {0, 0, 6, 1700000000, 5, 1700000000000000005,
				   42};
	struct dw_change_row rows[] = {
		{"/tmp/x", 6, 'A', 0100644, &m, NULL, 0, 0, DW_SEV_MEDIUM},
		{"/usr/bin/x", 10, 'A', 0100755, &m, "ab", 1, 1,
		 DW_SEV_CRITICAL},
		{"/etc/group", 10, 'D', 0100000, NULL, NULL, -1, -1,
		 DW_SEV_HIGH},
	};
	struct dw_change_row revert = {"/tmp/x", 6,  'R', 0100000,	 NULL,
				       NULL,	 -1, -1,  DW_SEV_ALLOWED};
	struct dw_event_query q = {"web", 0, NULL, DW_SEV_HIGH, NULL, NULL};
	struct seen k;

	(void)state;
	put(s, "c0ffee1234", "web");
	apply(s, "c0ffee1234", rows, 3, "rescan");
	memset(&k, 0, sizeof(k));
	assert_int_equal(dw_store_current(s, "web", on_event, &k), 0);
	assert_int_equal(k.n, 3);
	assert_string_equal(k.lines[0], "D /etc/group current high");
	/* By severity: high and above. */
	memset(&k, 0, sizeof(k));
	assert_int_equal(dw_store_events(s, &q, on_event, &k), 0);
	assert_int_equal(k.n, 2);
	/* By id prefix; an unknown container is DW_ENOTFOUND. */
	memset(&k, 0, sizeof(k));
	q.container = "c0ff";
	q.min_severity = 0;
	assert_int_equal(dw_store_events(s, &q, on_event, &k), 0);
	assert_int_equal(k.n, 3);
	q.container = "nosuch";
	assert_int_equal(dw_store_events(s, &q, on_event, &k), DW_ENOTFOUND);
	/* Reverted: gone from the current drift, kept in the history. */
	apply(s, "c0ffee1234", &revert, 1, "watch");
	memset(&k, 0, sizeof(k));
	assert_int_equal(dw_store_current(s, "web", on_event, &k), 0);
	assert_int_equal(k.n, 2);
	memset(&k, 0, sizeof(k));
	q.container = "web";
	q.kind = "R";
	assert_int_equal(dw_store_events(s, &q, on_event, &k), 0);
	assert_int_equal(k.n, 1);
	assert_string_equal(k.lines[0], "R /tmp/x watch allowed");
	dw_store_close(s);
}

static int on_row(const struct dw_change_row *r, void *ctx)
{
	int *crit = ctx;

	*crit += r->severity == DW_SEV_CRITICAL && r->elf == 1 && r->sha256 &&
		 !strcmp(r->sha256, "ab");
	return 0;
}

static void test_load_roundtrip(void **state)
{
	struct dw_store *s = mem();
	struct dw_change_meta m = {1, 2, 3, 4, 5, 6, 7};
	struct dw_change_row row = {"/usr/bin/x", 10, 'C', 0100755,	   &m,
				    "ab",	  1,  1,   DW_SEV_CRITICAL};
	int crit = 0;

	(void)state;
	put(s, "id1", "c1");
	apply(s, "id1", &row, 1, "rescan");
	assert_int_equal(dw_store_load_changes(s, "id1", on_row, &crit), 0);
	assert_int_equal(crit, 1);
	dw_store_close(s);
}

static void test_findings_and_offsets(void **state)
{
	struct dw_store *s = mem();
	struct dw_finding_record r;
	long long off = 0;
	unsigned long long line = 0;
	int is_new = -1;

	(void)state;
	memset(&r, 0, sizeof(r));
	r.source_id = "log:/var/log/*.log";
	r.path = "/var/log/a.log";
	r.path_len = strlen(r.path);
	r.source = "log";
	r.rule = "github-token";
	r.severity = "high";
	r.fingerprint = "sha256:aa";
	r.redacted = "ghp_ab…";
	r.line = 3;
	r.once_per_source = 1;
	assert_false(dw_store_finding_known(s, &r));
	assert_int_equal(dw_store_add_finding(s, &r, &is_new), 0);
	assert_int_equal(is_new, 1);
	assert_true(dw_store_finding_known(s, &r));
	assert_int_equal(dw_store_add_finding(s, &r, &is_new), 0);
	assert_int_equal(is_new, 0);
	assert_int_equal(
		dw_store_get_offset(s, "/var/log/a.log", 1, 2, &off, &line),
		DW_ENOTFOUND);
	assert_int_equal(
		dw_store_put_offset(s, "/var/log/a.log", 1, 2, 4096, 77), 0);
	assert_int_equal(
		dw_store_get_offset(s, "/var/log/a.log", 1, 2, &off, &line), 0);
	assert_int_equal(off, 4096);
	assert_int_equal(line, 77);
	dw_store_close(s);
}

static int tries;

static int flaky_sink(const struct dw_alert *a, char *why, size_t n, void *ctx)
{
	(void)a, (void)ctx;
	if (tries++ == 0) {
		snprintf(why, n, "HTTP 503");
		return -1;
	}
	return 0;
}

static void test_outbox(void **state)
{
	struct dw_store *s = mem();
	const char *sinks[] = {"json:http://127.0.0.1:9/x"};
	json_t *p = json_pack("{s:s}", "container", "web");
	size_t sent = 0;

	(void)state;
	assert_int_equal(dw_store_register_sinks(s, sinks, 1), 0);
	assert_int_equal(dw_store_alert(s, "drift", "web drifted", p), 0);
	json_decref(p);
	tries = 0;
	assert_int_equal(dw_store_deliver(s, sinks, 1, flaky_sink, NULL, &sent),
			 0);
	assert_int_equal(sent, 0);
	/* Kept, and delivered when the sink answers (after the backoff). */
	for (int i = 0; i < 100 && !sent; i++) {
		assert_int_equal(
			dw_store_deliver(s, sinks, 1, flaky_sink, NULL, &sent),
			0);
		if (!sent)
			usleep(50000);
	}
	assert_int_equal(sent, 1);
	sent = 0;
	assert_int_equal(dw_store_deliver(s, sinks, 1, flaky_sink, NULL, &sent),
			 0);
	assert_int_equal(sent, 0); /* once */
	dw_store_close(s);
}

static int fail_sink(const struct dw_alert *a, char *why, size_t n, void *ctx)
{
	(void)a, (void)ctx;
	snprintf(why, n, "HTTP 503");
	return -1;
}

/* What a sink that answers again gets: each alert's kind and summary. */
static int keep_sink(const struct dw_alert *a, char *why, size_t n, void *ctx)
{
	(void)why, (void)n;
	json_array_append_new(ctx, json_pack("[s,s]", a->kind, a->summary));
	return 0;
}

/*
 * A sink down while alerts pile up: at most outbox_max wait for it, the
 * oldest dropped and counted in one outbox-dropped alert (one an hour,
 * never one per drop, which would push the next out forever); each pass
 * plans only what is new.
 */
static void test_outbox_cap(void **state)
{
	char path[] = "/tmp/dwcap-XXXXXX";
	int fd = mkstemp(path);
	struct dw_store *s = NULL;
	const char *sinks[] = {"json:http://u:pw@127.0.0.1:9/secret/path"};
	json_t *got = json_array();
	size_t sent = 0, i;
	char summary[64];

	(void)state;
	assert_true(fd >= 0);
	close(fd);
	assert_int_equal(dw_store_open(&s, path, 0), 0);
	assert_int_equal(dw_store_register_sinks(s, sinks, 1), 0);
	dw_store_set_outbox_cap(s, 5);
	for (i = 0; i < 12; i++) {
		snprintf(summary, sizeof(summary), "drift %zu", i);
		assert_int_equal(dw_store_alert(s, "drift", summary, NULL), 0);
	}
	assert_int_equal(dw_store_deliver(s, sinks, 1, fail_sink, NULL, &sent),
			 0);
	/* Passes while it is down: no alert about the alert it dropped. */
	for (i = 0; i < 5; i++)
		assert_int_equal(
			dw_store_deliver(s, sinks, 1, fail_sink, NULL, &sent),
			0);
	sleep(3); /* past the backoff of the first failure */
	assert_int_equal(dw_store_deliver(s, sinks, 1, keep_sink, got, &sent),
			 0);
	/* The newest kept: drifts 8 to 11, and the count of the dropped
	 * (7, then 1 pushed out by that alert), the sink shown by its
	 * origin only. */
	assert_int_equal(json_array_size(got), 5);
	assert_string_equal(
		json_string_value(json_array_get(json_array_get(got, 0), 1)),
		"drift 8");
	assert_string_equal(
		json_string_value(json_array_get(json_array_get(got, 3), 1)),
		"drift 11");
	assert_string_equal(
		json_string_value(json_array_get(json_array_get(got, 4), 0)),
		"outbox-dropped");
	assert_non_null(strstr(
		json_string_value(json_array_get(json_array_get(got, 4), 1)),
		"7 undelivered alerts to json:http://127.0.0.1:9/"));
	assert_null(strstr(
		json_string_value(json_array_get(json_array_get(got, 4), 1)),
		"secret"));
	/* Down again within the hour: 8 more, 3 dropped (and the one the
	 * first notice pushed out), not said yet; at stop they are (the
	 * count is not lost with the process). */
	for (i = 0; i < 8; i++) {
		snprintf(summary, sizeof(summary), "later %zu", i);
		assert_int_equal(dw_store_alert(s, "drift", summary, NULL), 0);
	}
	assert_int_equal(dw_store_deliver(s, sinks, 1, fail_sink, NULL, &sent),
			 0);
	dw_store_close(s);
	json_decref(got);
	got = json_array();
	assert_int_equal(dw_store_open(&s, path, 0), 0);
	sleep(3);
	assert_int_equal(dw_store_deliver(s, sinks, 1, keep_sink, got, &sent),
			 0);
	i = json_array_size(got) - 1;
	assert_string_equal(
		json_string_value(json_array_get(json_array_get(got, i), 0)),
		"outbox-dropped");
	assert_non_null(strstr(
		json_string_value(json_array_get(json_array_get(got, i), 1)),
		"4 undelivered alerts"));
	json_decref(got);
	dw_store_close(s);
	unlink(path);
	snprintf(summary, sizeof(summary), "%s-wal", path);
	unlink(summary);
	snprintf(summary, sizeof(summary), "%s-shm", path);
	unlink(summary);
}

static int count_rows(const struct dw_coverage_row *r, void *ctx)
{
	(void)r;
	++*(int *)ctx;
	return 0;
}

/* News once per state and reason, also across restarts (the store). */
static void test_coverage(void **state)
{
	struct dw_store *s = mem();
	int news = -1, rows = 0;

	(void)state;
	put(s, "id1", "c1");
	assert_int_equal(dw_store_set_coverage(
				 s, "id1", "c1", DW_FACET_FS, DW_COVER_DEGRADED,
				 DW_REASON_DEPTH_LIMIT, "x", &news),
			 0);
	assert_int_equal(news, 1);
	assert_int_equal(dw_store_set_coverage(
				 s, "id1", "c1", DW_FACET_FS, DW_COVER_DEGRADED,
				 DW_REASON_DEPTH_LIMIT, "y", &news),
			 0);
	assert_int_equal(news, 0); /* only the detail changed */
	assert_int_equal(dw_store_set_coverage(s, "id1", "c1", DW_FACET_FS,
					       DW_COVER_UNMONITORED,
					       DW_REASON_UNREADABLE, NULL,
					       &news),
			 0);
	assert_int_equal(news, 1);
	assert_int_equal(dw_store_set_coverage(s, "id1", "c1", DW_FACET_LOGS,
					       DW_COVER_MONITORED,
					       DW_REASON_NONE, NULL, &news),
			 0);
	assert_int_equal(dw_store_coverage(s, NULL, count_rows, &rows), 0);
	assert_int_equal(rows, 2);
	/* A stopped container's coverage is not shown; a removed one's is
	 * forgotten. */
	assert_int_equal(dw_store_set_container_state(s, "id1", "stopped"), 0);
	rows = 0;
	assert_int_equal(dw_store_coverage(s, NULL, count_rows, &rows), 0);
	assert_int_equal(rows, 0);
	assert_int_equal(dw_store_forget_coverage(s, "id1"), 0);
	dw_store_close(s);
}

static void copy_file(const char *from, const char *to)
{
	FILE *in = fopen(from, "rb"), *out = fopen(to, "wb");
	char buf[65536];
	size_t n;

	assert_non_null(in);
	assert_non_null(out);
	while ((n = fread(buf, 1, sizeof(buf), in)) > 0)
		assert_int_equal(fwrite(buf, 1, n, out), n);
	fclose(in);
	assert_int_equal(fclose(out), 0);
}

static void test_migrates_release_store(void **state)
{
	char dir[] = "/tmp/dw-store-XXXXXX", path[64];
	struct dw_store *s = NULL;
	struct dw_event_query q = {NULL, 0, NULL, 0, NULL, NULL};
	struct seen k;

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/driftwatch.db", dir);
	copy_file(DW_TEST_DATA "/store/schema6.db", path);
	/* Read-only first: an older store is refused with a clear word. */
	if (dw_store_open(&s, path, 1)) {
		assert_non_null(strstr(dw_error_last(), "schema version"));
		s = NULL;
	}
	dw_store_close(s);
	assert_int_equal(dw_store_open(&s, path, 0), 0);
	memset(&k, 0, sizeof(k));
	assert_int_equal(dw_store_events(s, &q, on_event, &k), 0);
	assert_true(k.n > 0);
	dw_store_close(s);
	/* Migrated: read-only now works. */
	assert_int_equal(dw_store_open(&s, path, 1), 0);
	dw_store_close(s);
	unlink(path);
	snprintf(path, sizeof(path), "%s/driftwatch.db-wal", dir);
	unlink(path);
	snprintf(path, sizeof(path), "%s/driftwatch.db-shm", dir);
	unlink(path);
	rmdir(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_changes),
		cmocka_unit_test(test_load_roundtrip),
		cmocka_unit_test(test_findings_and_offsets),
		cmocka_unit_test(test_outbox),
		cmocka_unit_test(test_outbox_cap),
		cmocka_unit_test(test_coverage),
		cmocka_unit_test(test_migrates_release_store),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
