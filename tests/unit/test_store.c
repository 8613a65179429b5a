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
#include <ftw.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "driftwatch/buf.h"
#include "driftwatch/error.h"
#include "sign.h"
#include "store_int.h"

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
		{"/tmp/x", 6, 'A', 0100644, &m, NULL, 0, 0, DW_SEV_MEDIUM,
		 NULL},
		{"/usr/bin/x", 10, 'A', 0100755, &m, "ab", 1, 1,
		 DW_SEV_CRITICAL, NULL},
		{"/etc/group", 10, 'D', 0100000, NULL, NULL, -1, -1,
		 DW_SEV_HIGH, NULL},
	};
	struct dw_change_row revert = {"/tmp/x", 6,  'R', 0100000,	  NULL,
				       NULL,	 -1, -1,  DW_SEV_ALLOWED, NULL};
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
	struct dw_change_row row = {
		"/usr/bin/x", 10, 'C', 0100755,		&m,
		"ab",	      1,  1,   DW_SEV_CRITICAL, NULL};
	int crit = 0;

	(void)state;
	put(s, "id1", "c1");
	apply(s, "id1", &row, 1, "rescan");
	assert_int_equal(dw_store_load_changes(s, "id1", on_row, &crit), 0);
	assert_int_equal(crit, 1);
	dw_store_close(s);
}

static int on_path(const struct dw_change_row *r, void *ctx)
{
	struct dw_buf *b = ctx;

	dw_buf_add(b, r->path, r->path_len);
	dw_buf_addch(b, ' ');
	return 0;
}

/* The probes of a rescan of some directories: bytewise ranges, where
 * "/a-b" and "/a0" sort around "/a/..." and a skipped subtree is one. */
static void test_probes_below(void **state)
{
	static const char *const paths[] = {
		"/a",	  "/a-b",  "/a-b/x", "/a/b", "/a/b/c",
		"/a/b/d", "/a/b0", "/a/c",   "/a0",  "/b"};
	struct dw_change_row rows[10];
	struct dw_store *s = mem();
	struct dw_buf b = DW_BUF_INIT;
	char *skip[] = {"/a/b"}, *skip2[] = {"/a-b", "/a"};
	size_t i, n = 0;

	(void)state;
	put(s, "id1", "c1");
	for (i = 0; i < 10; i++)
		rows[i] = (struct dw_change_row){paths[i],   strlen(paths[i]),
						 'A',	     0040755,
						 NULL,	     NULL,
						 -1,	     -1,
						 DW_SEV_LOW, NULL};
	apply(s, "id1", rows, 10, "rescan");
	assert_int_equal(dw_store_count_changes(s, "id1"), 10);
	assert_int_equal(dw_store_has_change(s, "id1", "/a/b", 4, 0), 1);
	assert_int_equal(dw_store_has_change(s, "id1", "/a/b", 4, 1), 1);
	assert_int_equal(dw_store_has_change(s, "id1", "/a/c", 4, 1), 0);
	assert_int_equal(dw_store_has_change(s, "id1", "/a/x", 4, 0), 0);
	/* Below "/a": not "/a-b/x" nor "/a0", each once. */
	assert_int_equal(
		dw_store_load_below(s, "id1", "/a", 2, NULL, 0, on_path, &b),
		0);
	assert_string_equal(b.ptr, "/a/b /a/b/c /a/b/d /a/b0 /a/c ");
	dw_buf_setlen(&b, 0);
	assert_int_equal(
		dw_store_load_below(s, "id1", "/a", 2, skip, 1, on_path, &b),
		0);
	assert_string_equal(b.ptr, "/a/b /a/b0 /a/c ");
	/* The root, skipping two subtrees in walk order ("/a-b/" first). */
	dw_buf_setlen(&b, 0);
	assert_int_equal(
		dw_store_load_below(s, "id1", "", 0, skip2, 2, on_path, &b), 0);
	assert_string_equal(b.ptr, "/a /a-b /a0 /b ");
	assert_int_equal(dw_store_count_in(s, "id1", "/a/", 3, "/a0", 3, 2, &n),
			 0);
	assert_int_equal(n, 2);
	assert_int_equal(
		dw_store_count_in(s, "id1", "/a/", 3, "/a0", 3, 99, &n), 0);
	assert_int_equal(n, 5);
	assert_int_equal(
		dw_store_has_change_in(s, "id1", "/a/b0", 5, 1, "/a/c", 4), 1);
	assert_int_equal(
		dw_store_has_change_in(s, "id1", "/a/b0", 5, 0, "/a/c", 4), 0);
	dw_buf_release(&b);
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
	/* Migrated: read-only now works, and the rows it had are chained. */
	assert_int_equal(dw_store_open(&s, path, 1), 0);
	{
		struct dw_buf rep = DW_BUF_INIT;
		struct dw_chain_check ck;

		assert_int_equal(dw_store_verify_chains(s, NULL, NULL, NULL, 0,
							0, &rep, &ck, NULL),
				 0);
		assert_int_equal(ck.rows, 9); /* 7 events, 2 findings */
		dw_buf_release(&rep);
	}
	dw_store_close(s);
	unlink(path);
	snprintf(path, sizeof(path), "%s/driftwatch.db-wal", dir);
	unlink(path);
	snprintf(path, sizeof(path), "%s/driftwatch.db-shm", dir);
	unlink(path);
	rmdir(dir);
}

/*
 * A store chained by schema 13 (before events.detail): migrated to 14,
 * its rows keep their hashes, and chaining goes on from its heads.
 */
static void test_migrates_chained_store(void **state)
{
	char dir[] = "/tmp/dw-store-XXXXXX", path[64];
	struct dw_store *s = NULL;
	struct dw_buf rep = DW_BUF_INIT;
	struct dw_chain_check ck;
	char id[80];

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/driftwatch.db", dir);
	copy_file(DW_TEST_DATA "/store/schema13.db", path);
	assert_int_equal(dw_store_open(&s, path, 0), 0);
	snprintf(id, sizeof(id), "%064d", 1);
	assert_int_equal(dw_store_record_exec(s, id, "/tmp/x", DW_SEV_CRITICAL,
					      NULL, "{}", 1000000),
			 0);
	dw_store_close(s);
	assert_int_equal(dw_store_open(&s, path, 1), 0);
	if (dw_store_verify_chains(s, NULL, NULL, NULL, 0,
				   DW_CHAIN_ALLOW_UNSIGNED, &rep, &ck, NULL))
		fail_msg("%s", rep.ptr);
	assert_int_equal(ck.rows, 25);
	assert_int_equal(ck.chains, 3);
	assert_int_equal(ck.problems, 0);
	dw_store_close(s);
	dw_buf_release(&rep);
	assert_int_equal(unlink(path), 0);
	for (int i = 0; i < 2; i++) {
		char side[80];

		snprintf(side, sizeof(side), "%s%s", path, i ? "-shm" : "-wal");
		unlink(side);
	}
	assert_int_equal(rmdir(dir), 0);
}

/* ---- the hash chains (tamper evidence) ---- */

struct chain_fx {
	char dir[32], db[64], key[96];
	struct dw_store *s;
	EVP_PKEY *k;
};

static void fx_open(struct chain_fx *f)
{
	struct dw_change_row rows[3] = {
		{"/a", 2, 'A', 0100644, NULL, NULL, -1, -1, DW_SEV_MEDIUM,
		 "{\"process\":{\"pid\":7,\"comm\":\"sh\"}}"},
		{"/b", 2, 'D', 0100644, NULL, NULL, -1, -1, DW_SEV_MEDIUM,
		 NULL},
		{"/c", 2, 'C', 0100644, NULL, NULL, -1, -1, DW_SEV_HIGH, NULL},
	};
	struct dw_snapshot_record snap = {
		"id1", "c1",   "/tmp/c1.tar", "sha256:aa", "sha256:bb",
		NULL,  "root", "h",	      1,	   "sha256:cc"};
	struct dw_finding_record r;
	int is_new;

	memset(f, 0, sizeof(*f));
	snprintf(f->dir, sizeof(f->dir), "/tmp/dw-chain-XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	snprintf(f->db, sizeof(f->db), "%s/driftwatch.db", f->dir);
	snprintf(f->key, sizeof(f->key), "%s/keys/signing.key", f->dir);
	assert_int_equal(dw_sign_key_load(&f->k, f->key, 1), 0);
	assert_int_equal(dw_store_open(&f->s, f->db, 0), 0);
	put(f->s, "id1", "c1");
	put(f->s, "id2", "c2");
	apply(f->s, "id1", rows, 3, "watch");	   /* events 1-3 */
	apply(f->s, "id2", rows, 2, "watch");	   /* events 4-5 */
	apply(f->s, "id1", rows + 2, 1, "rescan"); /* event 6 */
	memset(&r, 0, sizeof(r));
	r.source_id = "id1";
	r.path = "/a";
	r.path_len = 2;
	r.source = "container-file";
	r.rule = "github-token";
	r.severity = "high";
	r.fingerprint = "sha256:aa";
	r.redacted = "ghp_ab…";
	assert_int_equal(dw_store_add_finding(f->s, &r, &is_new), 0);
	assert_int_equal(is_new, 1);
	assert_int_equal(dw_store_record_snapshot(f->s, &snap), 0);
	assert_int_equal(dw_store_record_rotation(f->s, "swarm1", "worker",
						  "sha256:01", "sha256:02",
						  NULL),
			 0);
}

static int rm_one(const char *path, const struct stat *st, int type,
		  struct FTW *ftw)
{
	(void)st, (void)type, (void)ftw;
	return remove(path);
}

static void fx_close(struct chain_fx *f)
{
	dw_store_close(f->s);
	EVP_PKEY_free(f->k);
	assert_int_equal(nftw(f->dir, rm_one, 8, FTW_DEPTH | FTW_PHYS), 0);
}

/* Verify (anchor: NULL or one envelope); the report in `rep`. */
static long long check(struct chain_fx *f, json_t *anchor, struct dw_buf *rep,
		       struct dw_chain_check *ck)
{
	const char *name = "A";
	struct dw_store *r = NULL;
	int err;

	dw_buf_reset(rep);
	assert_int_equal(dw_store_open(&r, f->db, 1), 0);
	err = dw_store_verify_chains(r, f->k, anchor ? &anchor : NULL, &name,
				     anchor ? 1 : 0, 0, rep, ck, NULL);
	dw_store_close(r);
	assert_true(err == 0 || err == DW_ERROR);
	assert_int_equal(err == 0, ck->problems == 0);
	return ck->problems;
}

/* SQL on the store's file from outside driftwatch, as root could. */
static void raw(struct chain_fx *f, const char *sql)
{
	sqlite3 *db;

	assert_int_equal(sqlite3_open(f->db, &db), SQLITE_OK);
	assert_int_equal(st_chain_register_db(db), 0);
	if (sqlite3_exec(db, sql, NULL, NULL, NULL) != SQLITE_OK)
		fail_msg("%s: %s", sql, sqlite3_errmsg(db));
	sqlite3_close(db);
}

static void test_chain_intact_signed_pruned(void **state)
{
	struct chain_fx f;
	struct dw_buf rep = DW_BUF_INIT;
	struct dw_chain_check ck;
	struct dw_prune pr;
	int done = 0;

	(void)state;
	fx_open(&f);
	assert_int_equal(check(&f, NULL, &rep, &ck), 0);
	assert_int_equal(ck.rows, 9);
	assert_int_equal(ck.chains, 5); /* events x2, findings, snap, rot */
	assert_int_equal(ck.signed_docs, 0);
	assert_int_equal(dw_store_sign_heads(f.s, f.k, "h", 0, &done), 0);
	assert_int_equal(done, 1);
	/* Unchanged: not signed again. */
	assert_int_equal(dw_store_sign_heads(f.s, f.k, "h", 0, &done), 0);
	assert_int_equal(done, 0);
	assert_int_equal(check(&f, NULL, &rep, &ck), 0);
	assert_int_equal(ck.signed_docs, 1);
	assert_int_equal(ck.matched, 5);
	/* Retention cuts the chains' beginnings: still whole, and the
	 * heads signed before it still found. */
	assert_int_equal(dw_store_prune(f.s, 0, 2, f.k, "h", &pr), 0);
	assert_true(pr.pruned >= 4);
	assert_int_equal(check(&f, NULL, &rep, &ck), 0);
	assert_int_equal(ck.rows, 5);
	/* The prune signed the new bases itself: 5 heads twice. */
	assert_int_equal(ck.signed_docs, 2);
	assert_int_equal(ck.matched, 10);
	assert_int_equal(dw_store_sign_heads(f.s, f.k, "h", 0, &done), 0);
	assert_int_equal(done, 0);
	/* Appending goes on from a pruned chain. */
	{
		struct dw_change_row row = {"/d", 2,  'A', 0100644,	  NULL,
					    NULL, -1, -1,  DW_SEV_MEDIUM, NULL};

		apply(f.s, "id2", &row, 1, "watch");
	}
	assert_int_equal(check(&f, NULL, &rep, &ck), 0);
	assert_int_equal(ck.signed_docs, 2);
	assert_int_equal(ck.unsigned_rows, 1);
	dw_buf_release(&rep);
	fx_close(&f);
}

static int on_exec_event(const struct dw_event *ev, void *ctx)
{
	int *n = ctx;

	if (!strcmp(ev->kind, "X")) {
		assert_string_equal(ev->source, "fanotify");
		assert_string_equal(ev->severity, "critical");
		assert_string_equal(ev->detail, "{\"action\":\"denied\"}");
		assert_string_equal(ev->sha256, "ab12");
		assert_memory_equal(ev->path, "/tmp/x", 6);
		(*n)++;
	} else if (ev->path_len == 2 && !memcmp(ev->path, "/a", 2)) {
		/* A drift event's detail: who made it. */
		assert_string_equal(
			ev->detail,
			"{\"process\":{\"pid\":7,\"comm\":\"sh\"}}");
	} else {
		assert_null(ev->detail);
	}
	return 0;
}

/*
 * An exec (X) event: chained with its detail, which schema 14 added and
 * hashes only when not NULL, so the rows before it keep their hashes;
 * its detail edited, removed, or one added to an older row: each found.
 */
static void test_chain_exec_detail(void **state)
{
	static const char *const attacks[] = {
		"UPDATE events SET detail = '{\"action\":\"allowed\"}' "
		"WHERE kind = 'X'",
		"UPDATE events SET detail = NULL WHERE kind = 'X'",
		"UPDATE events SET detail = '{}' WHERE id = 1",
		"UPDATE events SET detail = NULL WHERE id = 1",
		"UPDATE events SET detail = '{}' WHERE id = 2",
	};
	struct dw_event_query q = {NULL, 0, NULL, 0, NULL, NULL};
	struct dw_buf rep = DW_BUF_INIT;
	struct dw_chain_check ck;
	int n = 0;

	(void)state;
	for (size_t i = 0; i < sizeof(attacks) / sizeof(attacks[0]); i++) {
		struct chain_fx f;

		fx_open(&f);
		assert_int_equal(dw_store_record_exec(f.s, "id1", "/tmp/x",
						      DW_SEV_CRITICAL, "ab12",
						      "{\"action\":\"denied\"}",
						      1000000),
				 0);
		if (!i) {
			assert_int_equal(
				dw_store_events(f.s, &q, on_exec_event, &n), 0);
			assert_int_equal(n, 1);
		}
		assert_int_equal(check(&f, NULL, &rep, &ck), 0);
		assert_int_equal(ck.rows, 10);
		raw(&f, attacks[i]);
		assert_true(check(&f, NULL, &rep, &ck) > 0);
		if (!strstr(rep.ptr, "was edited"))
			fail_msg("%s: %s", attacks[i], rep.ptr);
		fx_close(&f);
	}
	dw_buf_release(&rep);
}

static void test_chain_tampering_named(void **state)
{
	static const struct {
		const char *sql, *said;
	} attacks[] = {
		{"UPDATE events SET kind = 'A' WHERE id = 2",
		 "events of container id1: row id 2 (position 2) was edited"},
		{"DELETE FROM events WHERE id = 2",
		 "events of container id1: positions 2 to 2, before row id 3, "
		 "are gone"},
		{"INSERT INTO events(id, time, container_id, path, kind, "
		 "source) VALUES (100, 1, 'id1', x'2f78', 'D', 'watch')",
		 "events of container id1: row id 100 is not chained"},
		{"DELETE FROM events WHERE id = 6",
		 "events of container id1: positions 4 to 4 are gone"},
		{"DELETE FROM snapshots",
		 "snapshots: positions 1 to 1 are gone"},
		{"UPDATE rotations SET after_fingerprint = 'sha256:00'",
		 "rotations: row id 1 (position 1) was edited"},
		{"UPDATE findings SET container_id = 'id2'",
		 "findings of source id2: row id 1 (position 1) was edited"},
		{"DELETE FROM chain_heads WHERE key = 'id2'",
		 "events of container id2: no recorded head"},
		/* A row copied over another keeps a valid hash of its own
		 * but not its place. */
		{"UPDATE events SET (time, container_id, path, kind, source, "
		 "time_us, severity, sha256, chain_seq, chain_prev, "
		 "chain_hash) = (SELECT time, container_id, path, kind, "
		 "source, time_us, severity, sha256, chain_seq, chain_prev, "
		 "chain_hash FROM events WHERE id = 1) WHERE id = 3",
		 "row id 3 (position 1) was edited"},
	};
	struct dw_buf rep = DW_BUF_INIT;
	struct dw_chain_check ck;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(attacks) / sizeof(attacks[0]); i++) {
		struct chain_fx f;

		fx_open(&f);
		raw(&f, attacks[i].sql);
		if (!check(&f, NULL, &rep, &ck) ||
		    !strstr(rep.ptr, attacks[i].said))
			fail_msg("%s: not said (%s)\n%s", attacks[i].sql,
				 attacks[i].said, rep.ptr ? rep.ptr : "");
		fx_close(&f);
	}
	dw_buf_release(&rep);
}

/*
 * Root's re-chaining of one chain (table `t`, rows WHERE `cond`), the
 * algorithm being public: positions from `first`, the first row after
 * `base`; the recorded head and base set to match.
 */
static void rechain(sqlite3 *db, int t, const char *cond, long long first,
		    const unsigned char *base)
{
	sqlite3_stmt *rows, *upd;
	unsigned char prev[32];
	char sql[700];
	long long seq = first - 1, id = 0;

	memcpy(prev, base, 32);
	snprintf(sql, sizeof(sql),
		 "UPDATE %s SET chain_seq = ?2, chain_prev = ?3, "
		 "chain_hash = dw_chain_hash('%s', ?2, ?3, %s) WHERE "
		 "id = ?1 RETURNING chain_hash",
		 st_chain_table(t), st_chain_table(t), st_chain_cols(t));
	assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &upd, NULL),
			 SQLITE_OK);
	snprintf(sql, sizeof(sql), "SELECT id FROM %s WHERE %s ORDER BY id",
		 st_chain_table(t), cond);
	assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &rows, NULL),
			 SQLITE_OK);
	while (sqlite3_step(rows) == SQLITE_ROW) {
		id = sqlite3_column_int64(rows, 0);
		sqlite3_reset(upd);
		sqlite3_bind_int64(upd, 1, id);
		sqlite3_bind_int64(upd, 2, ++seq);
		sqlite3_bind_blob(upd, 3, prev, 32, SQLITE_TRANSIENT);
		assert_int_equal(sqlite3_step(upd), SQLITE_ROW);
		memcpy(prev, sqlite3_column_blob(upd, 0), 32);
	}
	sqlite3_finalize(rows);
	sqlite3_finalize(upd);
	snprintf(sql, sizeof(sql),
		 "UPDATE chain_heads SET seq = ?1, id = ?2, hash = ?3, "
		 "base_seq = ?4, base_hash = ?5 WHERE tbl = '%s' AND key IN "
		 "(SELECT %s FROM %s WHERE %s)",
		 st_chain_table(t), st_chain_keycol(t), st_chain_table(t),
		 cond);
	assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &upd, NULL),
			 SQLITE_OK);
	sqlite3_bind_int64(upd, 1, seq);
	sqlite3_bind_int64(upd, 2, id);
	sqlite3_bind_blob(upd, 3, prev, 32, SQLITE_TRANSIENT);
	sqlite3_bind_int64(upd, 4, first);
	sqlite3_bind_blob(upd, 5, base, 32, SQLITE_STATIC);
	assert_int_equal(sqlite3_step(upd), SQLITE_DONE);
	sqlite3_finalize(upd);
}

/*
 * Root on the host edits or deletes a row, re-chains what follows with the
 * (public) algorithm and re-signs with the local key: nothing in the
 * store can tell. Heads exported earlier and kept elsewhere can.
 */
static void rechain_attack(const char *attack, const char *said)
{
	struct chain_fx f;
	struct dw_buf rep = DW_BUF_INIT;
	struct dw_chain_check ck;
	json_t *heads = NULL, *anchor;
	sqlite3 *db;
	static const unsigned char zero[32];
	char sql[600];
	int done;

	fx_open(&f);
	assert_int_equal(dw_store_sign_heads(f.s, f.k, "h", 0, &done), 0);
	assert_int_equal(dw_store_heads(f.s, "h", &heads), 0);
	anchor = dw_store_heads_sign(f.k, heads);
	assert_non_null(anchor);
	dw_store_close(f.s);
	f.s = NULL;

	assert_int_equal(sqlite3_open(f.db, &db), SQLITE_OK);
	assert_int_equal(st_chain_register_db(db), 0);
	snprintf(sql, sizeof(sql), "BEGIN; %s; DELETE FROM chain_signatures",
		 attack);
	assert_int_equal(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
	rechain(db, ST_EVENTS, "container_id = 'id1'", 1, zero);
	assert_int_equal(sqlite3_exec(db, "COMMIT", NULL, NULL, NULL),
			 SQLITE_OK);
	sqlite3_close(db);
	assert_int_equal(dw_store_open(&f.s, f.db, 0), 0);
	assert_int_equal(
		dw_store_sign_heads(f.s, f.k, "h", DW_SIGN_FORCE, &done), 0);

	/* The store alone: consistent, and signed. */
	assert_int_equal(check(&f, NULL, &rep, &ck), 0);
	assert_int_equal(ck.signed_docs, 1);
	/* Against the anchor: the rewritten chain. */
	assert_true(check(&f, anchor, &rep, &ck) > 0);
	if (!strstr(rep.ptr, said))
		fail_msg("%s: not caught by the anchor:\n%s", attack, rep.ptr);
	/* The anchor itself re-signed by another key: said. */
	{
		EVP_PKEY *other = NULL;
		char path[128];
		json_t *forged;

		snprintf(path, sizeof(path), "%s/other.key", f.dir);
		assert_int_equal(dw_sign_key_load(&other, path, 1), 0);
		forged = dw_store_heads_sign(other, heads);
		assert_true(check(&f, forged, &rep, &ck) > 0);
		assert_non_null(strstr(rep.ptr, "anchor A: the signature "
						"does not verify"));
		json_decref(forged);
		EVP_PKEY_free(other);
	}
	json_decref(anchor);
	json_decref(heads);
	dw_buf_release(&rep);
	fx_close(&f);
}

static void test_chain_rechained_caught_by_anchor(void **state)
{
	(void)state;
	rechain_attack("UPDATE events SET kind = 'A' WHERE id = 2",
		       "events of container id1: row id 6 (position 4) is not "
		       "the row anchor A");
	rechain_attack("DELETE FROM events WHERE id = 2",
		       "events of container id1: positions 4 to 4, in anchor "
		       "A");
}

/*
 * A prune faked: rows edited, the chain renumbered from past the signed
 * head as if retention had cut everything before, its base made up.
 * Left signed as it was: the newest signature's base says so. Signed
 * again: the anchor's row ids say that rows it knew were renumbered.
 */
static void test_chain_fake_prune(void **state)
{
	struct chain_fx f;
	struct dw_buf rep = DW_BUF_INIT;
	struct dw_chain_check ck;
	json_t *heads = NULL, *anchor;
	unsigned char junk[32];
	sqlite3 *db;
	int done;

	(void)state;
	memset(junk, 0x5a, sizeof(junk));
	fx_open(&f);
	assert_int_equal(dw_store_sign_heads(f.s, f.k, "h", 0, &done), 0);
	assert_int_equal(dw_store_heads(f.s, "h", &heads), 0);
	anchor = dw_store_heads_sign(f.k, heads);
	dw_store_close(f.s);
	f.s = NULL;
	assert_int_equal(sqlite3_open(f.db, &db), SQLITE_OK);
	assert_int_equal(st_chain_register_db(db), 0);
	assert_int_equal(sqlite3_exec(db,
				      "BEGIN; UPDATE events SET path = "
				      "x'2f65766c' WHERE id = 6; UPDATE "
				      "snapshots SET archive_sha256 = "
				      "'sha256:00'",
				      NULL, NULL, NULL),
			 SQLITE_OK);
	rechain(db, ST_EVENTS, "container_id = 'id1'", 6, junk);
	rechain(db, ST_SNAPSHOTS, "1", 3, junk);
	assert_int_equal(sqlite3_exec(db, "COMMIT", NULL, NULL, NULL),
			 SQLITE_OK);
	assert_true(check(&f, NULL, &rep, &ck) > 0);
	assert_non_null(strstr(rep.ptr,
			       "events of container id1: it begins at "
			       "position 6, but the newest signature has it "
			       "begin at 1: pruned outside driftwatch"));
	assert_non_null(strstr(rep.ptr, "snapshots: it begins at position 3, "
					"but it is never pruned"));
	/* Signed again by root with the local key. */
	sqlite3_exec(db, "DELETE FROM chain_signatures", NULL, NULL, NULL);
	sqlite3_close(db);
	assert_int_equal(dw_store_open(&f.s, f.db, 0), 0);
	assert_int_equal(
		dw_store_sign_heads(f.s, f.k, "h", DW_SIGN_FORCE, &done), 0);
	assert_true(check(&f, anchor, &rep, &ck) > 0);
	if (!strstr(rep.ptr, "events of container id1: row id 1 is at "
			     "position 6, but when anchor A"))
		fail_msg("fake prune not caught by the anchor:\n%s", rep.ptr);
	json_decref(anchor);
	json_decref(heads);
	dw_buf_release(&rep);
	fx_close(&f);
}

/* What a hostile store file may hold: no crash, no hang, no "ok". */
static void test_chain_hostile_store(void **state)
{
	struct chain_fx f;
	struct dw_buf rep = DW_BUF_INIT;
	struct dw_chain_check ck;
	struct dw_store *r = NULL;
	struct dw_finding_record fr;
	json_t *heads = NULL, *anchor;
	const char *name = "A";
	int done, is_new;

	(void)state;
	/* Positions at the end of the integers. */
	fx_open(&f);
	raw(&f, "UPDATE events SET chain_seq = 9223372036854775807 WHERE "
		"id = 2; UPDATE chain_heads SET base_seq = "
		"-9223372036854775807 WHERE key = 'id2'");
	assert_true(check(&f, NULL, &rep, &ck) > 0);
	assert_non_null(strstr(rep.ptr, "which driftwatch never writes"));
	assert_non_null(strstr(rep.ptr, "its recorded head is not one"));
	fx_close(&f);
	/* A recursive view in a table's place: refused, not walked. */
	fx_open(&f);
	raw(&f,
	    "DROP TABLE rotations; CREATE VIEW rotations AS WITH "
	    "RECURSIVE n(id) AS (SELECT 1 UNION ALL SELECT id + 1 FROM n) "
	    "SELECT id, 0 AS time, '' AS swarm_id, '' AS what, '' AS "
	    "before_fingerprint, '' AS after_fingerprint, NULL AS reason, "
	    "1 AS chain_seq, NULL AS chain_prev, NULL AS chain_hash FROM n");
	assert_int_equal(dw_store_open(&r, f.db, 1), 0);
	assert_int_equal(dw_store_verify_chains(r, f.k, NULL, NULL, 0, 0, &rep,
						&ck, NULL),
			 DW_EIO);
	assert_non_null(strstr(dw_error_last(), "rotations is not a table"));
	dw_store_close(r);
	r = NULL;
	fx_close(&f);
	/* A key that is not UTF-8 stays in the signed heads (key_hex). */
	fx_open(&f);
	memset(&fr, 0, sizeof(fr));
	fr.source_id = "log:/var/log/\xff*.log";
	fr.path = "/var/log/\xff.log";
	fr.path_len = strlen(fr.path);
	fr.source = "log";
	fr.rule = "r";
	fr.severity = "high";
	fr.fingerprint = "sha256:ff";
	fr.redacted = "x";
	assert_int_equal(dw_store_add_finding(f.s, &fr, &is_new), 0);
	assert_int_equal(dw_store_sign_heads(f.s, f.k, "h", 0, &done), 0);
	assert_int_equal(done, 1);
	assert_int_equal(dw_store_heads(f.s, "h", &heads), 0);
	anchor = dw_store_heads_sign(f.k, heads);
	assert_non_null(anchor);
	assert_int_equal(check(&f, anchor, &rep, &ck), 0);
	assert_int_equal(ck.chains, 6);
	raw(&f, "UPDATE findings SET rule = 's' WHERE container_id LIKE "
		"'log:%'");
	assert_true(check(&f, anchor, &rep, &ck) > 0);
	assert_non_null(strstr(rep.ptr, "findings of source log:/var/log/"));
	/* Anchors, or signatures in the store, and no key: not "ok". */
	assert_int_equal(dw_store_open(&r, f.db, 1), 0);
	assert_int_equal(dw_store_verify_chains(r, NULL, &anchor, &name, 1, 0,
						&rep, &ck, NULL),
			 DW_EINVAL);
	assert_int_equal(dw_store_verify_chains(r, NULL, NULL, NULL, 0, 0, &rep,
						&ck, NULL),
			 DW_ERROR);
	assert_non_null(strstr(rep.ptr, "cannot be checked: no key"));
	dw_store_close(r);
	json_decref(anchor);
	json_decref(heads);
	fx_close(&f);
	/* A chain's last row changed: driftwatchd will not sign over it. */
	fx_open(&f);
	dw_store_close(f.s);
	raw(&f, "UPDATE rotations SET reason = 'x'");
	assert_int_equal(dw_store_open(&f.s, f.db, 0), 0);
	assert_int_equal(dw_store_sign_heads(f.s, f.k, "h", 0, &done),
			 DW_ERROR);
	assert_non_null(strstr(dw_error_last(), "is not its last row"));
	fx_close(&f);
	dw_buf_release(&rep);
}

/*
 * Second review: rows moved into a chain no signature lists; the daemon
 * asked to sign over a rewritten history; a store pruned with signing
 * off; a signer with another key.
 */
static void test_chain_second_review(void **state)
{
	static const unsigned char zero[32];
	struct chain_fx f;
	struct dw_buf rep = DW_BUF_INIT;
	struct dw_chain_check ck;
	struct dw_store *r = NULL;
	struct dw_prune pr;
	EVP_PKEY *other = NULL;
	char path[128];
	sqlite3 *db;
	int done;

	(void)state;
	/* Moved into a new chain, signatures left alone. */
	fx_open(&f);
	assert_int_equal(dw_store_sign_heads(f.s, f.k, "h", 0, &done), 0);
	dw_store_close(f.s);
	f.s = NULL;
	assert_int_equal(sqlite3_open(f.db, &db), SQLITE_OK);
	assert_int_equal(st_chain_register_db(db), 0);
	assert_int_equal(sqlite3_exec(db,
				      "BEGIN; UPDATE events SET container_id "
				      "= 'cZ', kind = 'C' WHERE container_id "
				      "= 'id2'; UPDATE chain_heads SET key = "
				      "'cZ' WHERE key = 'id2'",
				      NULL, NULL, NULL),
			 SQLITE_OK);
	rechain(db, ST_EVENTS, "container_id = 'cZ'", 1, zero);
	assert_int_equal(sqlite3_exec(db, "COMMIT", NULL, NULL, NULL),
			 SQLITE_OK);
	sqlite3_close(db);
	assert_true(check(&f, NULL, &rep, &ck) > 0);
	if (!strstr(rep.ptr, "events of container cZ: row id 4 was written "
			     "before the heads signed in the store"))
		fail_msg("moved chain not said:\n%s", rep.ptr);
	fx_close(&f);

	/* Rewritten and re-chained, the signatures left: driftwatchd will
	 * not sign over it (and so push the evidence out). */
	fx_open(&f);
	assert_int_equal(dw_store_sign_heads(f.s, f.k, "h", 0, &done), 0);
	assert_int_equal(sqlite3_open(f.db, &db), SQLITE_OK);
	assert_int_equal(st_chain_register_db(db), 0);
	assert_int_equal(sqlite3_exec(db,
				      "BEGIN; UPDATE events SET kind = 'A' "
				      "WHERE id = 2",
				      NULL, NULL, NULL),
			 SQLITE_OK);
	rechain(db, ST_EVENTS, "container_id = 'id1'", 1, zero);
	assert_int_equal(sqlite3_exec(db, "COMMIT", NULL, NULL, NULL),
			 SQLITE_OK);
	sqlite3_close(db);
	assert_int_equal(
		dw_store_sign_heads(f.s, f.k, "h", DW_SIGN_FORCE, &done),
		DW_ERROR);
	assert_non_null(strstr(dw_error_last(), "a head the last signature "
						"holds, is not what was "
						"signed"));
	fx_close(&f);

	/* Pruned by a driftwatchd with signing off: said, unless the store
	 * is declared kept so. */
	fx_open(&f);
	assert_int_equal(dw_store_sign_heads(f.s, f.k, "h", 0, &done), 0);
	assert_int_equal(dw_store_prune(f.s, 0, 2, NULL, "h", &pr), 0);
	assert_true(check(&f, NULL, &rep, &ck) > 0);
	assert_non_null(strstr(rep.ptr, "pruned outside driftwatch"));
	assert_int_equal(dw_store_open(&r, f.db, 1), 0);
	assert_int_equal(dw_store_verify_chains(r, f.k, NULL, NULL, 0,
						DW_CHAIN_ALLOW_UNSIGNED, &rep,
						&ck, NULL),
			 0);
	dw_store_close(r);
	/* Another key does not sign over this one's (the CLI's way). */
	snprintf(path, sizeof(path), "%s/other.key", f.dir);
	assert_int_equal(dw_sign_key_load(&other, path, 1), 0);
	assert_int_equal(dw_store_sign_heads(f.s, other, "h",
					     DW_SIGN_SAME_KEY | DW_SIGN_FORCE,
					     &done),
			 0);
	assert_int_equal(done, 0);
	EVP_PKEY_free(other);
	fx_close(&f);
	dw_buf_release(&rep);
}

/* The feed of the outputs: order, progress, gaps, cursors. */
struct feed_seen {
	char v[32][48];
	int n;
};

static int on_feed(const struct dw_feed_row *r, void *ctx)
{
	struct feed_seen *k = ctx;
	const char *what = json_string_value(json_object_get(r->doc, "path"));

	if (!what)
		what = json_string_value(json_object_get(r->doc, "kind"));
	if (k->n < 32)
		snprintf(k->v[k->n++], 48, "%s:%s", dw_feed_table(r->table),
			 what ? what : "?");
	return 0;
}

static void feed_all(struct dw_store *s, long long at[DW_FEED_N], size_t max,
		     struct feed_seen *k, long long *missing_total)
{
	long long last[DW_FEED_N], missing[DW_FEED_N];
	int rounds = 0;

	for (;;) {
		int before = k->n;

		assert_int_equal(dw_store_feed_read(s, at, max, on_feed, k,
						    last, missing),
				 0);
		for (int t = 0; t < DW_FEED_N; t++) {
			*missing_total += missing[t];
			at[t] = last[t];
		}
		if (k->n == before)
			break;
		assert_true(++rounds < 40); /* progress, no livelock */
	}
}

static void test_feed(void **state)
{
	struct dw_store *s = mem();
	long long now = (long long)time(NULL) * 1000000, at[DW_FEED_N];
	long long at2[DW_FEED_N], off, dev, ino, missing = 0;
	struct feed_seen k = {.n = 0};
	json_t *p = json_pack("{s:s}", "id", "id1");
	static const char *const want[] = {
		"events:/e1",	"events:/e2",	      "events:/e3",
		"alerts:drift", "events:/late-clock", "events:/e5",
	};

	(void)state;
	put(s, "id1", "web");
	/* A new output on an empty store starts at 0. */
	assert_int_equal(dw_store_feed_cursor(s, "o", at), 0);
	assert_true(!at[0] && !at[1] && !at[2]);
	/* Three events before an alert of this second, one whose clock
	 * stepped back after it, one after. */
	assert_int_equal(dw_store_record_exec(s, "id1", "/e1", DW_SEV_HIGH,
					      NULL, NULL, now - 3000000),
			 0);
	assert_int_equal(dw_store_record_exec(s, "id1", "/e2", DW_SEV_HIGH,
					      NULL, NULL, now - 2000000),
			 0);
	assert_int_equal(dw_store_record_exec(s, "id1", "/e3", DW_SEV_HIGH,
					      NULL, NULL, now - 1000000),
			 0);
	assert_int_equal(dw_store_alert(s, "drift", "three", p), 0);
	assert_int_equal(dw_store_record_exec(s, "id1", "/late-clock",
					      DW_SEV_HIGH, NULL, NULL,
					      now + 5000000),
			 0);
	assert_int_equal(dw_store_record_exec(s, "id1", "/e5", DW_SEV_HIGH,
					      NULL, NULL, now + 2000000),
			 0);
	json_decref(p);
	/* Read two at a time: the alert waits for the events before it;
	 * each table's own rows stay in id order (/late-clock before
	 * /e5), and every read makes progress. */
	memcpy(at2, at, sizeof(at));
	feed_all(s, at, 2, &k, &missing);
	assert_int_equal(k.n, 6);
	for (int i = 0; i < 6; i++)
		assert_string_equal(k.v[i], want[i]);
	assert_int_equal(missing, 0);
	assert_int_equal(at[DW_FEED_EVENTS], 5);
	assert_int_equal(at[DW_FEED_ALERTS], 1);
	/* One read of everything gives the same order. */
	k.n = 0;
	feed_all(s, at2, 512, &k, &missing);
	for (int i = 0; i < 6; i++)
		assert_string_equal(k.v[i], want[i]);
	/* Rows deleted before the output took them: counted. */
	assert_int_equal(dw_store_record_exec(s, "id1", "/x1", DW_SEV_HIGH,
					      NULL, NULL, now),
			 0);
	assert_int_equal(dw_store_record_exec(s, "id1", "/x2", DW_SEV_HIGH,
					      NULL, NULL, now),
			 0);
	assert_int_equal(dw_store_record_exec(s, "id1", "/x3", DW_SEV_HIGH,
					      NULL, NULL, now),
			 0);
	assert_int_equal(sqlite3_exec(s->db,
				      "DELETE FROM events WHERE id IN (6, 7)",
				      NULL, NULL, NULL),
			 SQLITE_OK);
	k.n = 0;
	feed_all(s, at, 512, &k, &missing);
	assert_int_equal(k.n, 1);
	assert_string_equal(k.v[0], "events:/x3");
	assert_int_equal(missing, 2);
	/* The cursor is kept, moves forward only, and ends the batch. */
	assert_int_equal(dw_store_feed_batch(s, "o", 123, 4, 5), 0);
	assert_int_equal(dw_store_feed_batch_get(s, "o", &off, &dev, &ino), 0);
	assert_true(off == 123 && dev == 4 && ino == 5);
	assert_int_equal(dw_store_feed_save(s, "o", at), 0);
	assert_int_equal(dw_store_feed_batch_get(s, "o", &off, &dev, &ino),
			 DW_ENOTFOUND);
	memset(at2, 0, sizeof(at2));
	assert_int_equal(dw_store_feed_save(s, "o", at2), 0);
	assert_int_equal(dw_store_feed_cursor(s, "o", at2), 0);
	assert_true(at2[DW_FEED_EVENTS] == 8 && at2[DW_FEED_ALERTS] == 1);
	/* An output first seen now takes the feed from now on. */
	assert_int_equal(dw_store_feed_cursor(s, "new", at2), 0);
	assert_true(at2[DW_FEED_EVENTS] == 8 && at2[DW_FEED_ALERTS] == 1 &&
		    at2[DW_FEED_FINDINGS] == 0);
	dw_store_close(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_changes),
		cmocka_unit_test(test_load_roundtrip),
		cmocka_unit_test(test_probes_below),
		cmocka_unit_test(test_findings_and_offsets),
		cmocka_unit_test(test_outbox),
		cmocka_unit_test(test_outbox_cap),
		cmocka_unit_test(test_coverage),
		cmocka_unit_test(test_migrates_release_store),
		cmocka_unit_test(test_migrates_chained_store),
		cmocka_unit_test(test_chain_intact_signed_pruned),
		cmocka_unit_test(test_chain_tampering_named),
		cmocka_unit_test(test_chain_exec_detail),
		cmocka_unit_test(test_chain_rechained_caught_by_anchor),
		cmocka_unit_test(test_chain_fake_prune),
		cmocka_unit_test(test_chain_hostile_store),
		cmocka_unit_test(test_chain_second_review),
		cmocka_unit_test(test_feed),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
