/*
 * The classifier on hand-made layer dirs: whiteouts, opaque dirs,
 * multiple lowers, redirects, capabilities. Needs root (whiteouts are
 * 0:0 character devices, overlay xattrs live in trusted.*).
 */
#include <fcntl.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>
#include <cmocka.h>

#include "driftwatch/overlay_diff.h"
#include "overlay_prefetch.h"

static char root[64];

static const char *at(const char *rel)
{
	static char p[2][PATH_MAX];
	static int i;

	i = !i;
	snprintf(p[i], sizeof(p[i]), "%s/%s", root, rel);
	return p[i];
}

static void mkdirs(const char *rel)
{
	char tmp[PATH_MAX];
	char *s;

	snprintf(tmp, sizeof(tmp), "%s/%s", root, rel);
	for (s = tmp + strlen(root) + 1; *s; s++) {
		if (*s == '/') {
			*s = '\0';
			mkdir(tmp, 0755);
			*s = '/';
		}
	}
	mkdir(tmp, 0755);
}

static void put(const char *rel, const char *content)
{
	FILE *f = fopen(at(rel), "w");

	assert_non_null(f);
	fputs(content, f);
	fclose(f);
}

static void whiteout(const char *rel)
{
	assert_int_equal(mknod(at(rel), S_IFCHR | 0, makedev(0, 0)), 0);
}

static void opaque(const char *rel)
{
	assert_int_equal(setxattr(at(rel), "trusted.overlay.opaque", "y", 1, 0),
			 0);
}

/* Give `dst` the timestamps of `src`, as a copy-up does. */
static void same_times(const char *dst, const char *src)
{
	struct stat st;
	struct timespec ts[2];
	char d[PATH_MAX];

	snprintf(d, sizeof(d), "%s", at(dst));
	assert_int_equal(lstat(at(src), &st), 0);
	ts[0] = st.st_atim;
	ts[1] = st.st_mtim;
	assert_int_equal(utimensat(AT_FDCWD, d, ts, AT_SYMLINK_NOFOLLOW), 0);
}

static char *run_diff(const char *upper, const char *const *lowers, size_t n,
		      enum dw_diff_format fmt)
{
	const char *full[8];
	char store[8][PATH_MAX];
	struct dw_changeset cs = DW_CHANGESET_INIT;
	struct dw_buf out = DW_BUF_INIT, again = DW_BUF_INIT;
	char up[PATH_MAX];
	size_t i;

	snprintf(up, sizeof(up), "%s/%s", root, upper);
	for (i = 0; i < n; i++) {
		snprintf(store[i], sizeof(store[i]), "%s/%s", root, lowers[i]);
		full[i] = store[i];
	}
	assert_int_equal(
		dw_overlay_diff(&cs, up, full, n,
				fmt == DW_DIFF_FORMAT_JSON ? DW_DIFF_STAT : 0),
		0);
	assert_int_equal(dw_changeset_format(&out, &cs, fmt), 0);
	dw_changeset_release(&cs);
	/* With the reader thread listing ahead: the very same output. */
	assert_int_equal(
		dw_overlay_diff(&cs, up, full, n,
				DW_DIFF_PREFETCH | (fmt == DW_DIFF_FORMAT_JSON
							    ? DW_DIFF_STAT
							    : 0)),
		0);
	assert_int_equal(dw_changeset_format(&again, &cs, fmt), 0);
	assert_int_equal(again.len, out.len);
	assert_memory_equal(again.ptr ? again.ptr : "", out.ptr ? out.ptr : "",
			    out.len);
	dw_buf_release(&again);
	dw_changeset_release(&cs);
	return dw_buf_detach(&out, NULL);
}

static void expect_diff(const char *upper, const char *const *lowers, size_t n,
			const char *want)
{
	char *got = run_diff(upper, lowers, n, DW_DIFF_FORMAT_TEXT);

	assert_string_equal(got, want);
	free(got);
}

static int setup(void **state)
{
	(void)state;
	snprintf(root, sizeof(root), "/tmp/dw-unit-XXXXXX");
	if (!mkdtemp(root))
		return -1;
	mkdirs("up");
	mkdirs("lo1");
	mkdirs("lo2");
	return 0;
}

static int teardown(void **state)
{
	char cmd[PATH_MAX + 16];

	(void)state;
	snprintf(cmd, sizeof(cmd), "%s", root);
	/* nftw would do, but the tree is ours and tiny. */
	if (fork() == 0) {
		execlp("rm", "rm", "-rf", cmd, (char *)NULL);
		_exit(127);
	}
	return 0;
}

#define NEED_ROOT()                                                            \
	do {                                                                   \
		if (geteuid() != 0) {                                          \
			print_message("needs root: skipped\n");                \
			skip();                                                \
		}                                                              \
	} while (0)

static void test_add_delete_modify(void **state)
{
	const char *lowers[] = {"lo1"};

	(void)state;
	NEED_ROOT();
	mkdirs("lo1/etc");
	put("lo1/etc/passwd", "root\n");
	put("lo1/etc/group", "root\n");
	mkdirs("up/etc");
	put("up/etc/passwd", "root and more\n");
	whiteout("up/etc/group");
	mkdirs("up/new/dir");
	put("up/new/dir/f", "x");
	expect_diff("up", lowers, 1,
		    "C /etc\nD /etc/group\nC /etc/passwd\n"
		    "A /new\nA /new/dir\nA /new/dir/f\n");
}

static void test_copy_up_and_stray_whiteout_are_silent(void **state)
{
	const char *lowers[] = {"lo1"};

	(void)state;
	NEED_ROOT();
	mkdirs("lo1/etc");
	put("lo1/etc/hosts", "h\n");
	mkdirs("up/etc");
	put("up/etc/hosts", "h\n");
	same_times("up/etc/hosts", "lo1/etc/hosts");
	whiteout("up/etc/never-existed");
	expect_diff("up", lowers, 1, "");
}

static void test_opaque_dir(void **state)
{
	const char *lowers[] = {"lo1"};

	(void)state;
	NEED_ROOT();
	mkdirs("lo1/d/sub");
	put("lo1/d/a", "a");
	put("lo1/d/b", "b");
	put("lo1/d/sub/x", "x");
	mkdirs("up/d");
	opaque("up/d");
	put("up/d/a", "new a");
	expect_diff("up", lowers, 1, "C /d\nC /d/a\nD /d/b\nD /d/sub\n");
}

static void test_multiple_lowers(void **state)
{
	const char *lowers[] = {"lo1", "lo2"};

	(void)state;
	NEED_ROOT();
	/* lo1 deletes /x of lo2 and makes /y opaque over lo2's /y. */
	put("lo2/x", "x");
	whiteout("lo1/x");
	mkdirs("lo2/y");
	put("lo2/y/old", "o");
	mkdirs("lo1/y");
	opaque("lo1/y");
	put("lo1/y/kept", "k");
	put("up/x", "back");
	mkdirs("up/y");
	same_times("up/y", "lo1/y");
	whiteout("up/y/old");
	whiteout("up/y/kept");
	expect_diff("up", lowers, 2, "A /x\nC /y\nD /y/kept\n");
}

static void test_capability_xattr(void **state)
{
	const char *lowers[] = {"lo1"};
	/* A v2 capability blob: cap_net_raw permitted+effective. */
	static const unsigned char cap[20] = {0x01, 0x00, 0x00, 0x02,
					      0x00, 0x20, 0x00, 0x00};

	(void)state;
	NEED_ROOT();
	mkdirs("lo1/bin");
	put("lo1/bin/ping", "elf");
	mkdirs("up/bin");
	put("up/bin/ping", "elf");
	same_times("up/bin/ping", "lo1/bin/ping");
	expect_diff("up", lowers, 1, "");
	assert_int_equal(setxattr(at("up/bin/ping"), "security.capability", cap,
				  sizeof(cap), 0),
			 0);
	expect_diff("up", lowers, 1, "C /bin\nC /bin/ping\n");
}

static void test_redirect(void **state)
{
	const char *lowers[] = {"lo1"};

	(void)state;
	NEED_ROOT();
	/* What a rename of /a to /b leaves with redirect_dir=on. */
	mkdirs("lo1/a");
	put("lo1/a/x", "x");
	whiteout("up/a");
	mkdirs("up/b");
	assert_int_equal(
		setxattr(at("up/b"), "trusted.overlay.redirect", "/a", 2, 0),
		0);
	expect_diff("up", lowers, 1, "D /a\nA /b\nA /b/x\n");
}

/* The forged metadata count of a diff of up/ over lo1/, with `flags`. */
static size_t forged_in(unsigned flags, char **first)
{
	struct dw_changeset cs = DW_CHANGESET_INIT;
	char up[PATH_MAX], lo[PATH_MAX];
	const char *lp[] = {lo};
	size_t n;

	snprintf(up, sizeof(up), "%s", at("up"));
	snprintf(lo, sizeof(lo), "%s", at("lo1"));
	assert_int_equal(dw_overlay_diff(&cs, up, lp, 1, flags), 0);
	n = cs.forged;
	if (first)
		*first = cs.forged_at ? strdup(cs.forged_at) : NULL;
	dw_changeset_release(&cs);
	return n;
}

/*
 * A redirect out of its layer: before, "../../../../etc" made the walk
 * list whatever lay there as the container's drift. Ignored, counted.
 */
static void test_redirect_escape_is_forged(void **state)
{
	static const char *const bad[] = {
		"../../../../../../../../etc",
		"..",
		".",
		"/a/../../etc",
		"/a//b",
		"a/b",
		"/",
	};
	const char *lowers[] = {"lo1"};
	char *first = NULL;
	size_t i;

	(void)state;
	NEED_ROOT();
	mkdirs("lo1/a");
	put("lo1/a/x", "x");
	mkdirs("up/b");
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(setxattr(at("up/b"),
					  "trusted.overlay.redirect", bad[i],
					  strlen(bad[i]), 0),
				 0);
		/* Merged by its own name: a new, empty directory. */
		expect_diff("up", lowers, 1, "A /b\n");
		assert_int_equal(forged_in(0, &first), 1);
		assert_string_equal(first, "trusted.overlay.redirect on /b");
		free(first);
	}
}

/*
 * user.overlay.* on a rootful mount is the container's own data: a fake
 * opaque mark must not turn the image's files into deletions, nor a fake
 * redirect pull other files in. Honoured only with DW_DIFF_USERXATTR.
 */
static void test_user_namespace_is_not_ours(void **state)
{
	const char *lowers[] = {"lo1"};
	char *first = NULL;

	(void)state;
	NEED_ROOT();
	mkdirs("lo1/etc");
	put("lo1/etc/passwd", "root");
	mkdirs("lo1/a");
	put("lo1/a/x", "x");
	mkdirs("up/etc");
	same_times("up/etc", "lo1/etc");
	put("up/etc/new", "n");
	assert_int_equal(
		setxattr(at("up/etc"), "user.overlay.opaque", "y", 1, 0), 0);
	expect_diff("up", lowers, 1, "C /etc\nA /etc/new\n");
	assert_int_equal(forged_in(0, &first), 1);
	assert_string_equal(first, "user.overlay.opaque on /etc");
	free(first);
	/* In userxattr mode it is the kernel's: /etc is opaque. */
	assert_int_equal(forged_in(DW_DIFF_USERXATTR, NULL), 0);
	/* And trusted.overlay.* is then the forgery. */
	assert_int_equal(
		setxattr(at("up/etc"), "trusted.overlay.opaque", "y", 1, 0), 0);
	assert_int_equal(forged_in(DW_DIFF_USERXATTR, NULL), 1);
}

static void test_symlinks_not_followed(void **state)
{
	const char *lowers[] = {"lo1"};

	(void)state;
	NEED_ROOT();
	assert_int_equal(symlink("/", at("up/root")), 0);
	assert_int_equal(symlink("/etc/shadow", at("up/shadow")), 0);
	expect_diff("up", lowers, 1, "A /root\nA /shadow\n");
}

static void test_deeper_than_path_max(void **state)
{
	const char *lowers[] = {"lo1"};
	struct dw_changeset cs = DW_CHANGESET_INIT;
	char name[64], up[PATH_MAX], lo[PATH_MAX];
	const char *lp[] = {lo};
	size_t i, longest = 0;
	int fd, next, pass;

	(void)state;
	(void)lowers;
	NEED_ROOT();
	memset(name, 'd', 60);
	name[60] = '\0';
	fd = open(at("up"), O_RDONLY | O_DIRECTORY);
	/* 140 * 61 bytes > PATH_MAX; deeper than the reader lists, too. */
	for (i = 0; i < 140; i++) {
		assert_int_equal(mkdirat(fd, name, 0755), 0);
		next = openat(fd, name, O_RDONLY | O_DIRECTORY);
		close(fd);
		fd = next;
	}
	close(openat(fd, "leaf", O_CREAT | O_WRONLY, 0644));
	close(fd);
	snprintf(up, sizeof(up), "%s", at("up"));
	snprintf(lo, sizeof(lo), "%s", at("lo1"));
	for (pass = 0; pass < 2; pass++) {
		assert_int_equal(dw_overlay_diff(&cs, up, lp, 1,
						 pass ? DW_DIFF_PREFETCH : 0),
				 0);
		assert_int_equal(cs.n, 141);
		longest = 0;
		for (i = 0; i < cs.n; i++)
			if (cs.v[i].path_len > longest)
				longest = cs.v[i].path_len;
		assert_true(longest > PATH_MAX);
		dw_changeset_release(&cs);
	}
}

/* A chain of `levels` directories "a" under up/, a file at the bottom. */
static void deep_chain(size_t levels)
{
	int fd = open(at("up"), O_RDONLY | O_DIRECTORY), next;
	size_t i;

	for (i = 0; i < levels; i++) {
		assert_int_equal(mkdirat(fd, "a", 0755), 0);
		next = openat(fd, "a", O_RDONLY | O_DIRECTORY);
		close(fd);
		fd = next;
	}
	close(openat(fd, "bottom", O_CREAT | O_WRONLY, 0644));
	close(fd);
}

/*
 * Deeper than the walk goes: not an error, the rest is complete, and the
 * deep part is counted and named. Also when descriptors are short.
 */
static void test_too_deep_is_partial_not_fatal(void **state)
{
	struct dw_changeset cs = DW_CHANGESET_INIT;
	char up[PATH_MAX], lo[PATH_MAX];
	const char *lp[] = {lo};
	struct rlimit old, low;
	int pass;

	(void)state;
	NEED_ROOT();
	deep_chain(DW_DIFF_MAX_DEPTH + 50);
	put("up/z-after", "x");
	snprintf(up, sizeof(up), "%s", at("up"));
	snprintf(lo, sizeof(lo), "%s", at("lo1"));
	for (pass = 0; pass < 2; pass++) {
		assert_int_equal(dw_overlay_diff(&cs, up, lp, 1,
						 pass ? DW_DIFF_PREFETCH : 0),
				 0);
		/* Every level the walk went into, and the sibling after. */
		assert_int_equal(cs.n, DW_DIFF_MAX_DEPTH + 1);
		assert_string_equal(dw_change_path(&cs, &cs.v[cs.n - 1]),
				    "/z-after");
		assert_int_equal(cs.truncated, 1);
		assert_int_equal(cs.max_depth, DW_DIFF_MAX_DEPTH);
		assert_memory_equal(cs.truncated_at, "/a/a/a/", 7);
		dw_changeset_release(&cs);
	}
	/* 300 descriptors: about (300 - 256) / 2 levels. */
	assert_int_equal(getrlimit(RLIMIT_NOFILE, &old), 0);
	low = old;
	low.rlim_cur = 300;
	assert_int_equal(setrlimit(RLIMIT_NOFILE, &low), 0);
	assert_int_equal(dw_overlay_diff(&cs, up, lp, 1, 0), 0);
	assert_int_equal(setrlimit(RLIMIT_NOFILE, &old), 0);
	assert_int_equal(cs.max_depth, 22);
	assert_int_equal(cs.n, 22 + 1);
	assert_int_equal(cs.truncated, 1);
	dw_changeset_release(&cs);
}

static void test_output_is_sorted_bytewise(void **state)
{
	const char *lowers[] = {"lo1"};

	(void)state;
	NEED_ROOT();
	/* '-' (0x2d) and '.' (0x2e) sort before '/' (0x2f). */
	mkdirs("up/a/x");
	put("up/a-b", "");
	put("up/a.c", "");
	put("up/a/x/y", "");
	put("up/ab", "");
	put("up/A", "");
	expect_diff("up", lowers, 1,
		    "A /A\nA /a\nA /a-b\nA /a.c\nA /a/x\nA /a/x/y\nA /ab\n");
}

static void test_json_invalid_utf8(void **state)
{
	const char *lowers[] = {"lo1"};
	char *got;

	(void)state;
	NEED_ROOT();
	put("up/bad\xffname", "x");
	got = run_diff("up", lowers, 1, DW_DIFF_FORMAT_JSON);
	assert_non_null(strstr(got, "\"path\":\"/bad\xef\xbf\xbdname\""));
	assert_non_null(strstr(got, "\"path_base64\":\"L2JhZP9uYW1l\""));
	assert_non_null(strstr(got, "\"type\":\"file\""));
	assert_non_null(strstr(got, "\"size\":1"));
	free(got);
}

static void test_missing_layer_is_an_error(void **state)
{
	struct dw_changeset cs = DW_CHANGESET_INIT;
	const char *lp[] = {"/nonexistent-lower"};

	(void)state;
	assert_int_not_equal(
		dw_overlay_diff(&cs, "/nonexistent-upper", lp, 1, 0), 0);
	dw_changeset_release(&cs);
}

/* The paths a reuse callback says changed ("" ends the list). */
struct told {
	const char *const *dirs; /* changed at or below */
	const char *const *ents; /* entries that changed */
};

static int in_list(const char *const *v, const char *p, size_t len, int prefix)
{
	for (; *v; v++) {
		size_t n = strlen(*v);

		if (n == len && !memcmp(*v, p, len))
			return 1;
		if (prefix && n > len && !memcmp(*v, p, len) &&
		    (*v)[len] == '/')
			return 1;
	}
	return 0;
}

static int told_unchanged(const char *p, size_t len, void *ctx)
{
	return !in_list(((struct told *)ctx)->dirs, p, len, 1);
}

static int told_entry_unchanged(const char *p, size_t len, void *ctx)
{
	return !in_list(((struct told *)ctx)->ents, p, len, 0);
}

static char *diff_text(const char *upper, const char *lower,
		       const struct dw_changeset *prev, struct told *t,
		       struct dw_changeset *keep)
{
	struct dw_changeset cs = DW_CHANGESET_INIT;
	struct dw_diff_reuse r = {prev, told_unchanged, told_entry_unchanged,
				  NULL, t};
	struct dw_buf out = DW_BUF_INIT;
	char up[PATH_MAX], lo[PATH_MAX];
	const char *lows[1] = {lo};

	snprintf(up, sizeof(up), "%s/%s", root, upper);
	snprintf(lo, sizeof(lo), "%s/%s", root, lower);
	assert_int_equal(dw_overlay_diff_reuse(&cs, up, lows, 1, DW_DIFF_STAT,
					       prev ? &r : NULL),
			 0);
	assert_int_equal(dw_changeset_format(&out, &cs, DW_DIFF_FORMAT_TEXT),
			 0);
	if (keep)
		*keep = cs;
	else
		dw_changeset_release(&cs);
	return dw_buf_detach(&out, NULL);
}

/* What inotify reports lets unchanged dirs and files go unvisited, and
 * the result stays that of a full walk. */
static void test_reuse_equals_full_walk(void **state)
{
	static const char *const none[] = {NULL};
	static const char *const dirs[] = {"/new", "/etc", NULL};
	static const char *const ents[] = {"/new/b", "/etc/passwd", NULL};
	struct dw_changeset prev = DW_CHANGESET_INIT;
	struct told t = {dirs, ents}, liar = {none, none};
	char *full, *reused, *stale;

	(void)state;
	mkdirs("lo1/etc");
	mkdirs("lo1/usr/lib");
	put("lo1/etc/passwd", "root\n");
	put("lo1/usr/lib/libc", "c");
	mkdirs("up/new/deep");
	mkdirs("up/usr/lib");
	put("up/new/a", "a");
	put("up/new/deep/x", "x");
	put("up/usr/lib/added", "l");
	mkdirs("up/etc");
	free(diff_text("up", "lo1", NULL, NULL, &prev));
	/* Then: a file added in /new, /etc/passwd copied up and changed. */
	put("up/new/b", "b");
	put("up/etc/passwd", "root and more\n");
	full = diff_text("up", "lo1", NULL, NULL, NULL);
	reused = diff_text("up", "lo1", &prev, &t, NULL);
	assert_string_equal(reused, full);
	assert_non_null(strstr(full, "A /new/b\n"));
	assert_non_null(strstr(full, "C /etc/passwd\n"));
	assert_non_null(strstr(full, "A /usr/lib/added\n"));
	/* Told nothing changed, it copies: so the copy path really ran. */
	stale = diff_text("up", "lo1", &prev, &liar, NULL);
	assert_null(strstr(stale, "A /new/b\n"));
	assert_non_null(strstr(stale, "A /usr/lib/added\n"));
	free(full);
	free(reused);
	free(stale);
	dw_changeset_release(&prev);
}

/* Take the reader's listing of `rel` (below "up"): its entry count, or -1
 * when the reader did not serve it. */
static int take(struct dw_prefetch *pf, const char *rel)
{
	struct names nm = {DW_BUF_INIT, NULL, 0, 0};
	char path[256];
	int fd, got, n;

	snprintf(path, sizeof(path), "up%s", rel);
	fd = open(at(path), O_RDONLY | O_DIRECTORY);
	assert_true(fd >= 0);
	got = dw_prefetch_take(pf, rel, strlen(rel), fd, &nm);
	n = got ? (int)nm.n : -1;
	if (got) {
		size_t i;

		for (i = 1; i < nm.n; i++) /* sorted by name */
			assert_true(strcmp(nm.arena.ptr + nm.v[i - 1].off,
					   nm.arena.ptr + nm.v[i].off) < 0);
	}
	dw_names_release(&nm);
	close(fd);
	return n;
}

/*
 * The reader lists in the walk's order ("a b", "a-b", "a.c" before the
 * inside of "a", as "a/" sorts after them), so every directory is served
 * from it; a directory replaced since it was listed, or asked for twice,
 * or never there, is not, and nothing waits forever.
 */
static void test_prefetch_serves_the_walk(void **state)
{
	static const char *const dirs[] = {
		"", "/a b", "/a-b", "/a.c", "/a", "/a/x", "/a/x/y", "/ab", "/z",
	};
	struct dw_prefetch *pf;
	size_t i;
	int fd;

	(void)state;
	for (i = 1; i < sizeof(dirs) / sizeof(*dirs); i++) {
		char rel[64];

		snprintf(rel, sizeof(rel), "up%s", dirs[i]);
		mkdirs(rel);
		snprintf(rel, sizeof(rel), "up%s/f1", dirs[i]);
		put(rel, "");
	}
	put("up/a/f2", "");
	fd = open(at("up"), O_RDONLY | O_DIRECTORY);
	assert_true(fd >= 0);

	pf = dw_prefetch_start(fd);
	assert_non_null(pf);
	assert_int_equal(take(pf, ""), 6); /* the six dirs */
	assert_int_equal(take(pf, "/a b"), 1);
	assert_int_equal(take(pf, "/a-b"), 1);
	assert_int_equal(take(pf, "/a.c"), 1);
	assert_int_equal(take(pf, "/a"), 3); /* x, f1, f2 */
	assert_int_equal(take(pf, "/a/x"), 2);
	assert_int_equal(take(pf, "/a/x/y"), 1);
	assert_int_equal(take(pf, "/ab"), 1);
	assert_int_equal(take(pf, "/z"), 1);
	assert_int_equal(take(pf, "/z"), -1); /* taken already */
	mkdirs("up/zz"); /* made after the root was listed */
	assert_int_equal(take(pf, "/zz"), -1);
	dw_prefetch_stop(pf);

	/* Listed, then replaced before the walk opened it: not served. */
	pf = dw_prefetch_start(fd);
	assert_non_null(pf);
	assert_int_equal(take(pf, "/z"), 1); /* the reader is past /ab */
	assert_int_equal(rename(at("up/ab"), at("up/ab.old")), 0);
	mkdirs("up/ab");
	assert_int_equal(take(pf, "/ab"), -1);
	dw_prefetch_stop(pf); /* frees what was not taken */
	close(fd);
}

/*
 * A runtime's mount points in the upper dir are not drift: the dirs, and
 * the empty files of file bind mounts (podman's /etc/hosts,
 * /run/.containerenv). A file there with content, or a path that is no
 * mount point, stays.
 */
static void test_runtime_mount_points_dropped(void **state)
{
	char *const points[] = {"/dev", "/etc/hosts", "/run/.containerenv",
				"/etc/resolv.conf"};
	struct dw_changeset cs = DW_CHANGESET_INIT;
	struct dw_buf out = DW_BUF_INIT;
	const char *lowers[1];
	char up[PATH_MAX], lo[PATH_MAX];

	(void)state;
	NEED_ROOT();
	mkdirs("lo1/etc");
	mkdirs("up/dev");
	mkdirs("up/etc");
	mkdirs("up/run");
	put("up/etc/hosts", "");
	put("up/run/.containerenv", "");
	put("up/etc/resolv.conf", "nameserver 10.0.0.1\n");
	put("up/etc/hostname", "");
	snprintf(up, sizeof(up), "%s/up", root);
	snprintf(lo, sizeof(lo), "%s/lo1", root);
	lowers[0] = lo;
	assert_int_equal(dw_overlay_diff(&cs, up, lowers, 1, DW_DIFF_STAT), 0);
	dw_changeset_drop_added_dirs(&cs, points, 4);
	assert_int_equal(dw_changeset_format(&out, &cs, DW_DIFF_FORMAT_TEXT),
			 0);
	assert_string_equal(out.ptr, "C /etc\nA /etc/hostname\n"
				     "A /etc/resolv.conf\nA /run\n");
	dw_buf_release(&out);
	dw_changeset_release(&cs);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_add_delete_modify),
		T(test_copy_up_and_stray_whiteout_are_silent),
		T(test_opaque_dir),
		T(test_multiple_lowers),
		T(test_capability_xattr),
		T(test_redirect),
		T(test_redirect_escape_is_forged),
		T(test_user_namespace_is_not_ours),
		T(test_symlinks_not_followed),
		T(test_deeper_than_path_max),
		T(test_too_deep_is_partial_not_fatal),
		T(test_output_is_sorted_bytewise),
		T(test_json_invalid_utf8),
		T(test_missing_layer_is_an_error),
		T(test_reuse_equals_full_walk),
		T(test_prefetch_serves_the_walk),
		T(test_runtime_mount_points_dropped),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
