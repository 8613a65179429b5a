/* The writer watch's notes: a path's note is found wherever it sits in
 * its run, kept until taken or forgotten, and a note dropped untaken
 * marks its container's later takes as incomplete (no laundering). */
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "writer_notes.h"

static const unsigned char key[32] = "driftwatch-test-key-0123456789a";

#define DRIFTED "{\"exe\":\"/tmp/x/busybox\"}"
#define ALLOWED "{\"exe\":\"/bin/busybox\"}"

static void put(struct dwd_notes *t, const char *id, const char *path,
		const char *json, long long us)
{
	dwd_notes_put(t, id, path, strlen(path), json, us);
}

/* The note taken: its JSON (freed here, compared), mixed and lost. */
static void expect(struct dwd_notes *t, const char *id, const char *path,
		   long long since, const char *json, int mixed, int lost)
{
	int m = -1, l = -1;
	char *got = dwd_notes_take(t, id, path, strlen(path), since, &m, &l);

	if (json) {
		assert_non_null(got);
		assert_string_equal(got, json);
	} else {
		assert_null(got);
	}
	assert_int_equal(m, mixed);
	assert_int_equal(l, lost);
	free(got);
}

static void test_basic(void **state)
{
	struct dwd_notes *t = dwd_notes_new(key, 64, 1 << 20);

	(void)state;
	put(t, "c1", "/a", DRIFTED, 10);
	put(t, "c1", "/b", ALLOWED, 11);
	put(t, "c1", "/b", ALLOWED, 12);
	put(t, "c2", "/a", ALLOWED, 12);
	expect(t, "c1", "/a", 5, DRIFTED, 0, 0);
	expect(t, "c1", "/a", 5, NULL, 0, 0); /* taken */
	expect(t, "c1", "/b", 5, ALLOWED, 0, 0);
	/* Made before the window: a change that was not one. */
	expect(t, "c2", "/a", 13, NULL, 0, 0);
	/* The same path, another writer since: more writers. */
	put(t, "c1", "/c", DRIFTED, 20);
	put(t, "c1", "/c", ALLOWED, 21);
	expect(t, "c1", "/c", 5, ALLOWED, 1, 0);
	dwd_notes_free(t);
}

/*
 * A drifted write, then an allowed touch of the same path: whatever
 * slot of its run the first note sits in (others' notes were taken
 * meanwhile, freeing slots before it), the touch finds it: more writers.
 * In a table of 8 (one run), the path noted last sits in the slot left
 * free; its home slot is freed when the others are taken.
 */
static void test_run_holes(void **state)
{
	(void)state;
	for (int k = 0; k < 32; k++) {
		struct dwd_notes *t = dwd_notes_new(key, 8, 1 << 20);
		char path[32], other[32];

		for (int i = 0; i < 7; i++) {
			snprintf(other, sizeof(other), "/o%d-%d", k, i);
			put(t, "c1", other, ALLOWED, 10 + i);
		}
		snprintf(path, sizeof(path), "/ok/zz%d", k);
		put(t, "c1", path, DRIFTED, 20);
		for (int i = 0; i < 7; i++) {
			snprintf(other, sizeof(other), "/o%d-%d", k, i);
			expect(t, "c1", other, 5, ALLOWED, 0, 0);
		}
		put(t, "c1", path, ALLOWED, 30);
		expect(t, "c1", path, 5, ALLOWED, 1, 0);
		expect(t, "c1", path, 5, NULL, 0, 0); /* no stale twin */
		dwd_notes_free(t);
	}
}

/* The table full: the drifted note dropped, the touch's note alone is
 * then incomplete (lost), for that container only. */
static void test_dropped(void **state)
{
	struct dwd_notes *t = dwd_notes_new(key, 8, 1 << 20);
	char other[32];
	size_t dropped = 0;

	(void)state;
	put(t, "c2", "/quiet", ALLOWED, 9);
	put(t, "c1", "/ok/zz", DRIFTED, 10);
	for (int i = 0; i < 8; i++) {
		snprintf(other, sizeof(other), "/flood%d", i);
		dropped += dwd_notes_put(t, "c1", other, strlen(other), DRIFTED,
					 11 + i);
	}
	assert_true(dropped >= 2); /* the oldest first: c2's, then zz's */
	put(t, "c1", "/ok/zz", ALLOWED, 30);
	expect(t, "c1", "/ok/zz", 5, ALLOWED, 0, 1);
	/* A window that begins after the dropped notes: complete. */
	put(t, "c1", "/later", ALLOWED, 40);
	expect(t, "c1", "/later", 35, ALLOWED, 0, 0);
	/* c2's own note was dropped: its takes say so. */
	expect(t, "c2", "/quiet", 5, NULL, 0, 1);
	/* Forgotten before a time after the drops: complete again. */
	dwd_notes_forget(t, "c1", 25);
	put(t, "c1", "/ok/zz", ALLOWED, 50);
	expect(t, "c1", "/ok/zz", 5, ALLOWED, 0, 0);
	dwd_notes_free(t);
}

/* Bounded in bytes: long command lines drop others' notes, counted. */
static void test_bytes(void **state)
{
	struct dwd_notes *t = dwd_notes_new(key, 4096, 64 * 1024);
	char *big = malloc(8192), path[32];
	size_t dropped = 0;

	(void)state;
	memset(big, 'x', 8191);
	big[0] = '{';
	big[8191] = '\0';
	put(t, "c1", "/ok/zz", DRIFTED, 10);
	for (int i = 0; i < 4096; i++) {
		snprintf(path, sizeof(path), "/flood%d", i);
		dropped +=
			dwd_notes_put(t, "c1", path, strlen(path), big, 11 + i);
	}
	assert_true(dropped > 4000);
	put(t, "c1", "/ok/zz", ALLOWED, 5000);
	expect(t, "c1", "/ok/zz", 5, ALLOWED, 0, 1);
	free(big);
	dwd_notes_free(t);
}

/* Notes stay however long the container's turns take; forget drops the
 * stale, and a gone container's all. */
static void test_forget(void **state)
{
	struct dwd_notes *t = dwd_notes_new(key, 64, 1 << 20);

	(void)state;
	put(t, "c1", "/a", DRIFTED, 10);
	put(t, "c1", "/b", DRIFTED, 20);
	put(t, "c2", "/a", DRIFTED, 10);
	dwd_notes_forget(t, "c1", 15);
	/* An hour later (in turns): still there. */
	put(t, "c1", "/b", ALLOWED, 3600LL * 1000000);
	expect(t, "c1", "/a", 5, NULL, 0, 0);
	expect(t, "c1", "/b", 15, ALLOWED, 1, 0);
	dwd_notes_forget(t, "c2", LLONG_MAX);
	expect(t, "c2", "/a", 5, NULL, 0, 0);
	dwd_notes_free(t);
}

/* The kernel's queue overflowed: every container's takes whose window
 * reaches back to it are incomplete. */
static void test_lost_all(void **state)
{
	struct dwd_notes *t = dwd_notes_new(key, 64, 1 << 20);

	(void)state;
	put(t, "c1", "/a", ALLOWED, 10);
	put(t, "c2", "/a", ALLOWED, 10);
	dwd_notes_lost_all(t, 12);
	expect(t, "c1", "/a", 5, ALLOWED, 0, 1);
	expect(t, "c2", "/a", 13, NULL, 0, 0);
	dwd_notes_free(t);
}

/* Rows whose notes were taken, then not recorded: later takes of the
 * container whose window reaches back to it are incomplete. */
static void test_rows_lost(void **state)
{
	struct dwd_notes *t = dwd_notes_new(key, 64, 1 << 20);

	(void)state;
	put(t, "c1", "/ok/zz", DRIFTED, 10);
	expect(t, "c1", "/ok/zz", 5, DRIFTED, 0, 0); /* taken, then... */
	dwd_notes_lost(t, "c1", 12);		     /* ...thrown away */
	put(t, "c1", "/ok/zz", ALLOWED, 20);
	expect(t, "c1", "/ok/zz", 5, ALLOWED, 0, 1);
	put(t, "c2", "/ok/zz", ALLOWED, 20);
	expect(t, "c2", "/ok/zz", 5, ALLOWED, 0, 0);
	dwd_notes_free(t);
}

/* A container's mark of lost notes covers its takes whose window reaches
 * back to it; the marks are bounded, and one evicted stands for every
 * container's (its container may still be watched). */
static void test_marks(void **state)
{
	struct dwd_notes *t = dwd_notes_new(key, 64, 1 << 20);
	char id[32];

	(void)state;
	dwd_notes_lost(t, "c1", 11); /* registered: unwatched until then */
	put(t, "c1", "/ok/zz", ALLOWED, 20);
	expect(t, "c1", "/ok/zz", 0, ALLOWED, 0, 1);
	put(t, "c2", "/a", ALLOWED, 11);
	expect(t, "c2", "/a", 0, ALLOWED, 0, 0);
	/* 2,000 more containers' marks: the oldest go (c1's first, the last
	 * gone975's, at 1075). Before, c1's take then said nothing was
	 * lost. */
	for (int i = 0; i < 2000; i++) {
		snprintf(id, sizeof(id), "gone%d", i);
		dwd_notes_lost(t, id, 100 + i);
	}
	put(t, "gone1999", "/f", ALLOWED, 5000);
	expect(t, "gone1999", "/f", 2000, ALLOWED, 0, 1);
	put(t, "c1", "/ok/zz", ALLOWED, 5000);
	expect(t, "c1", "/ok/zz", 0, ALLOWED, 0, 1);
	put(t, "c1", "/ok/zz", ALLOWED, 5000);
	expect(t, "c1", "/ok/zz", 1076, ALLOWED, 0, 0);
	put(t, "c2", "/b", ALLOWED, 5000);
	expect(t, "c2", "/b", 1075, ALLOWED, 0, 1);
	/* One forgotten, the last moved into its place: still found. */
	dwd_notes_forget(t, "gone1000", LLONG_MAX);
	put(t, "gone1999", "/g", ALLOWED, 5000);
	expect(t, "gone1999", "/g", 2000, ALLOWED, 0, 1);
	put(t, "gone1000", "/g", ALLOWED, 5000);
	expect(t, "gone1000", "/g", 1076, ALLOWED, 0, 0);
	dwd_notes_free(t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_basic),
		cmocka_unit_test(test_run_holes),
		cmocka_unit_test(test_dropped),
		cmocka_unit_test(test_bytes),
		cmocka_unit_test(test_forget),
		cmocka_unit_test(test_lost_all),
		cmocka_unit_test(test_rows_lost),
		cmocka_unit_test(test_marks),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
