/*
 * libFuzzer target: the drift classifier on directory trees the input
 * builds, as a hostile container (and a layer's own metadata) could: an
 * upper dir over two lowers, with directories, files, symlinks,
 * whiteouts, nesting, odd names, and overlay xattrs in both namespaces
 * with any value (opaque marks, redirects with "..", empty and absolute
 * components). The diff must not crash, hang or read outside the layers:
 * every path it reports must lie in what the input made. The sparse walk
 * of named entries (the live monitor's, dw_overlay_diff_at()) too, in the
 * root and in directories the input may have made. Needs root
 * (whiteouts are device nodes, trusted.* xattrs); skipped otherwise.
 */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "driftwatch/overlay_diff.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char root[64];
static const char *const layers[] = {"up", "lo1", "lo2"};
/*
 * Names the tree is built from. Never "." or "..": the harness runs as
 * root and must touch nothing outside its own directory (an earlier
 * version chmod'ed "/" through "up/../../.."). Such names belong in the
 * xattr values, where the classifier must refuse them.
 */
static const char *const names[] = {"a", "b", "etc", "c d", "x\ny", "z", "d.e"};

static int rm_one(const char *p, const struct stat *st, int flag, struct FTW *f)
{
	(void)st, (void)flag, (void)f;
	return remove(p);
}

static void reset(void)
{
	char p[128];
	size_t i;

	nftw(root, rm_one, 32, FTW_DEPTH | FTW_PHYS);
	mkdir(root, 0755);
	for (i = 0; i < 3; i++) {
		snprintf(p, sizeof(p), "%s/%s", root, layers[i]);
		mkdir(p, 0755);
	}
}

/* A path from the input: a layer, then up to three components. */
static size_t path_of(const uint8_t *d, size_t n, char *out, size_t room)
{
	size_t k, len;

	if (n < 2)
		return 0;
	len = (size_t)snprintf(out, room, "%s/%s", root, layers[d[0] % 3]);
	for (k = 0; k < (size_t)(d[1] % 4) && 2 + k < n; k++)
		len += (size_t)snprintf(out + len, room - len, "/%s",
					names[d[2 + k] % 7]);
	return 2 + k;
}

/* Nothing depth-checked here is deeper than three components. */
static void check_depth(const struct dw_changeset *cs)
{
	size_t k;

	for (k = 0; k < cs->n; k++) {
		const char *q = dw_change_path(cs, &cs->v[k]);
		size_t depth = 0;

		for (; *q; q++)
			depth += *q == '/';
		if (depth > 3)
			abort();
	}
}

/* The sparse walk (the live monitor's): every name, entered. */
static int never_unchanged(const char *path, size_t len, void *ctx)
{
	(void)path, (void)len, (void)ctx;
	return 0;
}

static int kept_nothing(const char *path, size_t len, int subtree, void *ctx)
{
	(void)path, (void)len, (void)subtree, (void)ctx;
	return 0;
}

static void sparse(const char *up, const char *const *lowers, unsigned flags)
{
	/* The input's names, sorted bytewise and unique. */
	static char *const sorted[] = {"a",   "b",    "c d", "d.e",
				       "etc", "x\ny", "z"};
	static const char *const dirs[] = {"", "/a", "/a/etc", "/c d/z"};
	struct dw_diff_reuse reuse = {NULL, never_unchanged, never_unchanged,
				      kept_nothing, NULL};
	struct dw_diff_level levels[4], named[7];
	size_t d;

	for (d = 0; d < sizeof(dirs) / sizeof(dirs[0]); d++) {
		struct dw_changeset cs = DW_CHANGESET_INIT;

		if (!dw_overlay_diff_at(&cs, up, lowers, 2,
					flags | DW_DIFF_STAT, dirs[d], sorted,
					7, &reuse, levels, named))
			check_depth(&cs);
		dw_changeset_release(&cs);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct dw_changeset cs = DW_CHANGESET_INIT;
	char up[128], lo1[128], lo2[128], p[512], val[64];
	const char *lowers[] = {lo1, lo2};
	size_t i = 0, steps = 0, used, n;

	if (getuid())
		return 0;
	if (!root[0]) {
		snprintf(root, sizeof(root), "/tmp/dwfuzz-ovl-%d",
			 (int)getpid());
	}
	reset();
	while (i + 1 < size && steps++ < 64) {
		uint8_t op = data[i++];

		used = path_of(data + i, size - i, p, sizeof(p));
		if (!used)
			break;
		i += used;
		n = i < size ? (size_t)(data[i] % 24) : 0;
		memcpy(val, data + (i < size ? i + 1 : size),
		       n + i + 1 <= size ? n : 0);
		val[n + i + 1 <= size ? n : 0] = '\0';
		i += 1 + (n + i + 1 <= size ? n : 0);
		switch (op % 9) {
		case 0: mkdir(p, 0755); break;
		case 1:
			/* O_NOFOLLOW|O_EXCL: never through a symlink. */
			close(open(p, O_CREAT | O_EXCL | O_NOFOLLOW | O_WRONLY,
				   0644));
			break;
		case 2: mknod(p, S_IFCHR | 0, makedev(0, 0)); break;
		case 3: symlink(val, p); break;
		/* Never through a symlink the input made (l*, NOFOLLOW). */
		case 4:
			lsetxattr(p, "trusted.overlay.opaque", "y", 1, 0);
			break;
		case 5:
			lsetxattr(p, "trusted.overlay.redirect", val,
				  strlen(val), 0);
			break;
		case 6: lsetxattr(p, "user.overlay.opaque", "y", 1, 0); break;
		case 7:
			lsetxattr(p, "user.overlay.redirect", val, strlen(val),
				  0);
			break;
		default:
			fchmodat(AT_FDCWD, p, 0700, AT_SYMLINK_NOFOLLOW);
			break;
		}
	}
	snprintf(up, sizeof(up), "%s/up", root);
	snprintf(lo1, sizeof(lo1), "%s/lo1", root);
	snprintf(lo2, sizeof(lo2), "%s/lo2", root);
	sparse(up, lowers, size && data[0] & 1 ? DW_DIFF_USERXATTR : 0);
	for (i = 0; i < 2; i++) {
		unsigned flags = (i ? DW_DIFF_PREFETCH : 0) |
				 (size && data[0] & 1 ? DW_DIFF_USERXATTR : 0);

		/* Nothing from outside the layers: names the input could
		 * make, at most three deep. */
		if (!dw_overlay_diff(&cs, up, lowers, 2, flags | DW_DIFF_STAT))
			check_depth(&cs);
		dw_changeset_release(&cs);
	}
	return 0;
}
