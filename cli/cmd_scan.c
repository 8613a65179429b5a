/* driftwatch scan: find secrets in files, directories and stdin. */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cli.h"
#include "opt.h"
#include "scan_output.h"
#include "scan_baseline.h"
#include "scan_image.h"
#include "driftwatch/buf.h"
#include "driftwatch/escape.h"
#include "leak.h"
#include "driftwatch/config.h"
#include "driftwatch/error.h"
#include "driftwatch/git.h"
#include "scancache.h"
#include "confine.h"
#include "driftwatch/engine.h"
#include "driftwatch/sources.h"
#include "store.h"
#include "sandbox.h"
#include "swarm.h"
#include "driftwatch/xmalloc.h"
#include "driftwatch/banned.h"

#define DEFAULT_MAX_FILE_SIZE (512ull << 20)
#define CONFIG_NAME ".driftwatch.yaml"
/* Rules are linear; this bounds what one huge or hostile file can cost. */
#define SCAN_FILE_BUDGET_S 60
/* ... and a whole image, as a file of its own in the scanner process. */
#define SCAN_IMAGE_BUDGET_S 1800
#define MAX_BASELINES 32

struct scan {
	struct dw_config cfg;
	struct dw_engine *engine;
	struct dw_scanner *scanner;
	struct dw_source_opts opts;
	struct scan_out out;
	int unreadable; /* an input could not be read */
	int write_failed;
	/* Swarm secrets are matched against this host's swarm, if any. */
	const char *host;
	int swarm_state; /* 0 untried, 1 read, -1 none */
	struct dw_docker *docker;
	struct dw_swarm swarm;
	int respond; /* --respond: rotate live ones at once */
	/* The configurations the rules came from, for the scanner process
	 * (it builds the same rules): "" when none. */
	char *trusted_path, *repo_path;
	struct dw_sandbox *sandbox; /* run as root: decoding happens there */
	int rotated[3];
	const char *db;
	/* The store's history of this swarm's secrets, for stale ones. */
	struct dw_store *hist;
	int hist_state; /* 0 untried, 1 open, -1 none */
	/* --cache, opened before a confined reader could not (confine.h). */
	struct dw_blob_cache *cache;
	/*
	 * Not reported: ignore_fingerprints (matched here, not by the
	 * engine, so that --report-unused-ignores sees findings of the
	 * scanner process too, and --cache keeps what they hide) and the
	 * fingerprints of --baseline reports.
	 */
	struct scan_fpset ignores, baseline;
	struct scan_blout blout; /* --write-baseline */
	int write_baseline;
};

static const struct dw_opt opts[] = {
	{'f', "format", "FMT", "text (default), json, jsonl or sarif", 1},
	{'c', "config", "FILE",
	 "the trusted configuration (default: the user's own,\n"
	 "~/.config/driftwatch/config.yaml); a " CONFIG_NAME " in\n"
	 "the scanned content is added to it, without a command",
	 1},
	{'n', "no-repo-config", NULL,
	 "ignore a " CONFIG_NAME " found in the scanned content", 0},
	{'S', "show-secrets", NULL, "print secrets whole (default: redacted)",
	 0},
	{'m', "max-file-size", "SIZE", "skip larger files (default 512MiB)", 0},
	{'N', "no-color", NULL, "never color the text output", 0},
	{'I', "image", NULL,
	 "the operands are container images: image archives\n(docker "
	 "save, OCI layout tars) or names and ids of\nimages Docker has: "
	 "every layer, the config, the history",
	 0},
	{'g', "git", NULL,
	 "scan the history of the git repository named by "
	 "the\noperand (default .): every blob reachable from any ref,\n"
	 "each once",
	 0},
	{'s', "since", "REV", "only commits after REV", 0},
	{'r', "range", "A..B", "only the commits of a range", 0},
	{'b', "branch", "NAME", "only what one branch reaches", 0},
	{'A', "all-objects", NULL,
	 "every blob in the object store, reachable "
	 "or not",
	 0},
	{'C', "cache", "FILE",
	 "skip blobs already scanned with the same "
	 "rules",
	 0},
	{'T', "threads", "N", "scanning threads (default: one per core)", 0},
	{'R', "respond", NULL,
	 "rotate a live leaked token or unlock key of "
	 "this\nhost's swarm at once; run the configured command for\n"
	 "other tokens",
	 0},
	{'D', "db", "PATH", "the store rotations are recorded in", 0},
	{'B', "baseline", "REPORT",
	 "report only findings whose fingerprint is not in\nREPORT (an "
	 "earlier json, jsonl or sarif output;\nrepeatable)",
	 0},
	{'W', "write-baseline", "FILE",
	 "also write every finding (redacted, json) to FILE,\nto be a "
	 "--baseline later",
	 0},
	{'U', "report-unused-ignores", NULL,
	 "list the ignore_fingerprints entries no finding\nmatched", 0},
	{0, NULL, NULL, NULL, 0},
};

static const char *const synopsis[] = {
	"scan [options] PATH... | -",
	"scan --image [options] IMAGE...",
	"scan --git [--since REV | --range A..B | --branch NAME] [options] "
	"[REPO]",
	NULL,
};

static const struct dw_cmd_help help = {
	"scan", synopsis,
	"exit: 0 no findings, 1 findings, 2 usage or configuration error,\n"
	"      3 an input could not be read (findings still printed)",
	opts};

static int swarm_ready(struct scan *sc)
{
	if (!sc->swarm_state)
		sc->swarm_state =
			!dw_docker_open(&sc->docker, sc->host) &&
					!dw_swarm_read(sc->docker, &sc->swarm)
				? 1
				: -1;
	return sc->swarm_state > 0;
}

/* The store, read-only, for the history of this swarm's secrets. */
static int hist_ready(struct scan *sc)
{
	if (!sc->hist_state)
		sc->hist_state =
			!access(sc->db, R_OK) &&
					!dw_store_open(&sc->hist, sc->db, 1)
				? 1
				: -1;
	return sc->hist_state > 0;
}

/* --respond: a live secret of this swarm is rotated, once per kind. */
static void respond(struct scan *sc, json_t *attr, const struct dw_source *src,
		    uint64_t line)
{
	const char *role = json_string_value(json_object_get(attr, "role"));
	struct dw_buf why = DW_BUF_INIT;
	int what;

	if (strcmp(json_string_value(json_object_get(attr, "status")), "live"))
		return;
	what = (int)dw_swarm_secret_of_role(role);
	if (sc->rotated[what])
		return;
	sc->rotated[what] = 1;
	dw_buf_addf(&why, "leaked in %s:%llu", src->path,
		    (unsigned long long)line);
	{
		/* The leak itself is an alert too (redacted). */
		struct dw_store *st = NULL;
		json_t *p =
			json_pack("{s:s, s:I, s:O, s:O, s:O}", "path",
				  src->path, "line", (json_int_t)line,
				  "cluster", json_object_get(attr, "cluster"),
				  "role", json_object_get(attr, "role"),
				  "status", json_object_get(attr, "status"));
		char summary[600];

		snprintf(summary, sizeof(summary),
			 "live swarm %s leaked in "
			 "%s:%llu",
			 role, src->path, (unsigned long long)line);
		if (!dw_store_open(&st, sc->db, 0))
			dw_store_alert(st, "leak", summary, p);
		dw_store_close(st);
		json_decref(p);
	}
	fprintf(stderr,
		"driftwatch scan: the live %s of this swarm leaked "
		"(%s): rotating it\n",
		role, why.ptr);
	if (dw_cli_rotate(sc->docker, what, 0, sc->db, why.ptr))
		fprintf(stderr, "driftwatch scan: rotation failed: %s\n",
			dw_error_last());
	else
		json_object_set_new(attr, "rotated", json_true());
	dw_buf_release(&why);
}

/*
 * --respond for other tokens: the configured program gets the finding,
 * with the secret in clear, so that it can revoke it (leak.h).
 */
static void run_command(struct scan *sc, const struct dw_finding *f,
			const struct dw_source *src)
{
	struct dw_leak_src where = {
		NULL,	   NULL, src->path,  strlen(src->path),
		src->kind, 0,	 src->fields};

	if (dw_leak_run_command(sc->cfg.command, sc->cfg.command_timeout, f,
				&where))
		fprintf(stderr,
			"driftwatch scan: the command for %s at "
			"%s:%llu failed: %s\n",
			f->rule->id, src->path, (unsigned long long)f->line,
			dw_error_last());
}

/*
 * Whether a finding is reported: not when ignore_fingerprints hold it
 * (then it is in no baseline written either), nor when a --baseline
 * does (it still goes into the one written: a baseline written with
 * --baseline OLD replaces OLD).
 */
static int reported(struct scan *sc, const struct dw_finding *f,
		    const struct dw_source *src, const char *redacted)
{
	if (scan_fpset_hit(&sc->ignores, f->fingerprint)) {
		scan_out_count(&sc->out, "ignored", 1);
		return 0;
	}
	if (sc->blout.started && scan_out_add(&sc->blout.out, f, src, redacted))
		sc->write_failed = 1;
	if (scan_fpset_hit(&sc->baseline, f->fingerprint)) {
		scan_out_count(&sc->out, "baselined", 1);
		return 0;
	}
	return 1;
}

static int on_finding(const struct dw_finding *f, const struct dw_source *src,
		      void *ctx)
{
	struct scan *sc = ctx;
	struct dw_source with = *src;
	json_t *attr = NULL;

	if (!reported(sc, f, src, NULL))
		return 0;
	if (sc->respond && sc->cfg.ncommand && f->secret &&
	    !dw_swarm_rule(f->rule->id))
		run_command(sc, f, src);

	if (f->secret && dw_swarm_rule(f->rule->id) && swarm_ready(sc))
		attr = dw_swarm_attribute(&sc->swarm, f->rule->id, f->secret,
					  f->secret_len);
	/* Stale: which role it had, when, who rotated it (the store's
	 * history, when there is a store to read). */
	if (attr &&
	    !strcmp(json_string_value(json_object_get(attr, "status")),
		    "stale") &&
	    hist_ready(sc))
		dw_swarm_history(sc->hist, attr, f->fingerprint);
	if (attr) {
		if (sc->respond)
			respond(sc, attr, src, f->line);
		if (src->fields)
			json_object_update_missing(attr, src->fields);
		with.fields = attr;
	}
	if (scan_out_add(&sc->out, f, &with, NULL))
		sc->write_failed = 1;
	json_decref(attr);
	return 0;
}

static int on_git_finding(const struct dw_git_finding *gf, void *ctx)
{
	struct scan *sc = ctx;
	const struct dw_rule_info *rules;
	size_t n = dw_engine_rules(sc->engine, &rules), i;
	struct dw_finding shim;

	/* allow_paths hold for history too (the path the blob had). */
	if (gf->src && dw_config_path_allowed(&sc->cfg, gf->src->path))
		return 0;
	if (gf->f)
		return on_finding(gf->f, gf->src, ctx);
	/* From the cache: no secret at hand, its redacted form is. */
	memset(&shim, 0, sizeof(shim));
	for (i = 0; i < n && strcmp(rules[i].id, gf->rule_id); i++)
		;
	if (i == n)
		return 0;
	shim.rule = &rules[i];
	shim.rule_index = i;
	shim.line = gf->line;
	shim.column = gf->column;
	snprintf(shim.fingerprint, sizeof(shim.fingerprint), "%s",
		 gf->fingerprint);
	if (!reported(sc, &shim, gf->src, gf->redacted))
		return 0;
	if (scan_out_add(&sc->out, &shim, gf->src, gf->redacted))
		sc->write_failed = 1;
	return 0;
}

/*
 * --report-unused-ignores: each ignore_fingerprints entry that no
 * finding of this scan matched (what it did not read cannot match).
 */
static void unused_ignores(struct scan *sc)
{
	size_t i, n = 0;

	for (i = 0; i < sc->ignores.n; i++) {
		char text[160];

		if (sc->ignores.used[i])
			continue;
		n++;
		snprintf(text, sizeof(text),
			 "ignore_fingerprints entry %s matched no finding",
			 sc->ignores.fp[i]);
		fprintf(stderr, "driftwatch scan: %s\n", text);
		scan_out_note(&sc->out, "note", text);
	}
	scan_out_count(&sc->out, "unused_ignores", n);
}

/* An input that could not be read: stderr, the summary, exit 3. */
static void report_error(struct scan *sc)
{
	sc->unreadable = 1;
	sc->out.incomplete = 1;
	struct dw_buf b = DW_BUF_INIT;

	scan_out_count(&sc->out, "unreadable", 1);
	scan_out_note(&sc->out, "warning", dw_error_last());
	/* (it may name what the input chose: an archive's entry) */
	dw_escape_path(&b, dw_error_last(), strlen(dw_error_last()));
	fprintf(stderr, "driftwatch scan: %s\n", b.ptr ? b.ptr : "");
	dw_buf_release(&b);
}

/* One operand of --image: read by the scanner process when there is one
 * (an image is content its maker chose). */
static void scan_image(struct scan *sc, const char *ref)
{
	int fd = scan_image_open(&sc->docker, sc->host, ref), err;

	if (fd < 0) {
		report_error(sc);
		return;
	}
	err = sc->sandbox ? dw_sandbox_scan_image(sc->sandbox, fd, ref,
						  SCAN_IMAGE_BUDGET_S * 1000,
						  on_finding, sc)
			  : dw_image_scan(sc->scanner, fd, ref, on_finding, sc);
	close(fd);
	if (err == DW_ELIMIT || err == DW_ERROR)
		dw_error_set(DW_EIO, "%s: not scanned: %s", ref,
			     dw_error_last());
	if (err)
		report_error(sc);
	scan_out_count(&sc->out, "images", 1);
}

/* What a walk could not read or skipped: said on stderr, never silent. */
static void on_note(enum dw_scan_note kind, const char *path, void *ctx)
{
	struct scan *sc = ctx;
	struct dw_buf text = DW_BUF_INIT;

	if (kind == DW_NOTE_UNREADABLE) {
		report_error(sc);
		return;
	}
	if (kind == DW_NOTE_SCANNED || kind == DW_NOTE_BINARY) {
		scan_out_count(&sc->out,
			       kind == DW_NOTE_SCANNED ? "scanned" : "binary",
			       1);
		return;
	}
	if (kind == DW_NOTE_TIMED_OUT) {
		/* Partial input: findings so far are reported, exit 3. */
		sc->unreadable = 1;
		sc->out.incomplete = 1;
		dw_escape_path(&text, path, strlen(path));
		dw_buf_addf(&text,
			    ": stopped after %d s (the per-file time "
			    "budget); the rest was not scanned",
			    SCAN_FILE_BUDGET_S);
		scan_out_count(&sc->out, "timed_out", 1);
		scan_out_note(&sc->out, "warning", text.ptr);
	}
	if (kind == DW_NOTE_TOO_BIG) {
		dw_buf_adds(&text, "skipped ");
		dw_escape_path(&text, path, strlen(path));
		dw_buf_addf(&text, ": larger than --max-file-size (%llu bytes)",
			    (unsigned long long)sc->opts.max_file_size);
		scan_out_count(&sc->out, "too_big", 1);
		scan_out_note(&sc->out, "note", text.ptr);
	}
	if (text.len)
		fprintf(stderr, "driftwatch scan: %s\n", text.ptr);
	dw_buf_release(&text);
}

static int parse_format(const char *s, enum scan_format *fmt)
{
	static const char *const names[] = {"text", "json", "jsonl", "sarif"};
	int i;

	for (i = 0; i < 4; i++) {
		if (!strcmp(s, names[i])) {
			*fmt = (enum scan_format)i;
			return 0;
		}
	}
	return -1;
}

/* History: every reachable blob once, attributed to its commit. */
/*
 * What a history scan read and what it could not, on stderr and in
 * SARIF. Blobs that are not there (a partial clone, lost objects) make
 * the exit status 3, findings still printed; a scan that read nothing
 * says so.
 */
static void git_summary(struct scan *sc, const struct dw_git_stats *st)
{
	char text[512];

	snprintf(text, sizeof(text),
		 "%zu commits, %zu blobs: %zu scanned (%zu of them "
		 "archives), %zu from the cache, %zu binary, %zu larger than "
		 "--max-file-size, %zu missing (partial clone or lost "
		 "objects), %zu unreadable",
		 st->commits, st->blobs, st->scanned, st->archives, st->cached,
		 st->binary, st->too_big, st->missing, st->unreadable);
	fprintf(stderr, "driftwatch scan: %s\n", text);
	scan_out_note(&sc->out,
		      st->missing || st->unreadable ? "warning" : "note", text);
	scan_out_count(&sc->out, "commits", st->commits);
	scan_out_count(&sc->out, "blobs", st->blobs);
	scan_out_count(&sc->out, "scanned", st->scanned);
	scan_out_count(&sc->out, "cached", st->cached);
	scan_out_count(&sc->out, "binary", st->binary);
	scan_out_count(&sc->out, "too_big", st->too_big);
	scan_out_count(&sc->out, "missing", st->missing);
	scan_out_count(&sc->out, "unreadable", st->unreadable);
	scan_out_count(&sc->out, "archives", st->archives);
	if (st->archives_cut) {
		char cut[1024];

		snprintf(cut, sizeof(cut),
			 "%zu of %zu archives in the history read in part "
			 "(what was read is reported); the first: %s",
			 st->archives_cut, st->archives, st->archive_error);
		fprintf(stderr, "driftwatch scan: %s\n", cut);
		scan_out_note(&sc->out, "warning", cut);
		scan_out_count(&sc->out, "archives_cut", st->archives_cut);
	}
	if (st->missing || st->unreadable || st->archives_cut) {
		sc->unreadable = 1;
		sc->out.incomplete = 1;
	}
	if (!st->commits && !st->blobs) {
		fprintf(stderr, "driftwatch scan: read nothing: no commit in "
				"what was asked\n");
		scan_out_note(&sc->out, "warning", "read nothing: no commit");
	}
}

/*
 * Who could change what is read at `fd` (a directory): the owners of it
 * and of every directory above it (one that is not root can rename it,
 * or what is in it, while it is read). 0 when only root; the one other
 * owner; -1 with the error set when two others, or a directory others
 * may write without the sticky bit, could.
 */
static long long who_could_change(int fd, const char *repo)
{
	long long other = 0;
	struct stat st, up;
	int cur = dup(fd), i, top = 0;

	for (i = 0; cur >= 0 && i < 4096 && !top; i++) {
		int parent;

		if (fstat(cur, &st))
			break;
		if (st.st_uid && other && (long long)st.st_uid != other) {
			close(cur);
			return dw_error_set(DW_EINVAL,
					    "%s: directories of uid %lld and "
					    "uid %u are on its path: either "
					    "could change it",
					    repo, other, (unsigned)st.st_uid),
			       -1;
		}
		if (st.st_uid)
			other = st.st_uid;
		if ((st.st_mode & (S_IWGRP | S_IWOTH)) &&
		    !(st.st_mode & S_ISVTX)) {
			close(cur);
			return dw_error_set(DW_EINVAL,
					    "%s: a directory on its path is "
					    "writable by others (mode %o)",
					    repo,
					    (unsigned)(st.st_mode & 07777)),
			       -1;
		}
		parent = openat(cur, "..", O_PATH | O_DIRECTORY | O_CLOEXEC);
		if (parent < 0 || fstat(parent, &up)) {
			if (parent >= 0)
				close(parent);
			break;
		}
		if (up.st_dev == st.st_dev && up.st_ino == st.st_ino) {
			close(parent);
			top = 1; /* the root */
			break;
		}
		close(cur);
		cur = parent;
	}
	if (cur >= 0)
		close(cur);
	/* Not walked to the root: not known, so not root's alone. */
	if (!top)
		return dw_error_set(DW_EIO,
				    "%s: the directories above it could not "
				    "all be checked",
				    repo),
		       -1;
	return other;
}

/*
 * Everything under directory `fd` (`at` names it) root's alone: owned by
 * root, written by nobody else (no group or other write bit), no
 * symbolic link (which could lead out, to a user's files). 0, or the
 * error set. Bounded: at most 64 levels and 10 million entries.
 */
static int root_alone_tree(int fd, const char *at, int depth, long *budget)
{
	struct dirent *de;
	DIR *d;
	int err = 0;

	if (depth > 64 || --*budget < 0)
		return dw_error_set(DW_EINVAL,
				    "%s: too deep or too large to "
				    "check",
				    at);
	d = fdopendir(fd);
	if (!d) {
		close(fd);
		return dw_error_errno(DW_EIO, errno, "cannot read %s", at);
	}
	while (!err && (de = readdir(d))) {
		struct stat st;
		char sub[4096];

		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		snprintf(sub, sizeof(sub), "%s/%s", at, de->d_name);
		if (--*budget < 0 ||
		    fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW))
			err = dw_error_set(DW_EIO, "cannot check %s", sub);
		else if (S_ISLNK(st.st_mode))
			err = dw_error_set(DW_EINVAL, "%s is a symbolic link",
					   sub);
		else if (st.st_uid)
			err = dw_error_set(DW_EINVAL, "%s belongs to uid %u",
					   sub, (unsigned)st.st_uid);
		else if (st.st_mode & (S_IWGRP | S_IWOTH))
			err = dw_error_set(DW_EINVAL,
					   "%s is writable by others (mode %o)",
					   sub, (unsigned)(st.st_mode & 07777));
		else if (S_ISDIR(st.st_mode)) {
			int c = openat(dirfd(d), de->d_name,
				       O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
					       O_CLOEXEC);

			err = c < 0 ? dw_error_errno(DW_EIO, errno,
						     "cannot open %s", sub)
				    : root_alone_tree(c, sub, depth + 1,
						      budget);
		}
	}
	closedir(d);
	return err;
}

/*
 * The repository in the working directory, to be read as root: root's
 * alone inside too (its .git a real directory and all in it root's, not
 * writable by others: no group-shared object store), and no way out of
 * it that libgit2 would follow as root (a gitfile, commondir, object
 * alternates, configuration includes). 0, or the error set.
 */
static int root_alone_gitdir(void)
{
	static const char *const out_of_it[] = {"commondir",
						"objects/info/alternates",
						"objects/info/http-alternates"};
	char path[64], buf[8192];
	const char *gd;
	struct stat st;
	long budget = 10000000;
	size_t i;
	ssize_t n;
	int fd, err;

	if (!lstat(".git", &st)) {
		if (!S_ISDIR(st.st_mode))
			return dw_error_set(DW_EINVAL,
					    ".git is not a directory (a "
					    "gitfile or a link leads "
					    "elsewhere)");
		gd = ".git";
	} else {
		gd = "."; /* a bare repository */
	}
	for (i = 0; i < sizeof(out_of_it) / sizeof(out_of_it[0]); i++) {
		snprintf(path, sizeof(path), "%s/%s", gd, out_of_it[i]);
		if (!lstat(path, &st))
			return dw_error_set(DW_EINVAL,
					    "%s leads out of the repository",
					    path);
	}
	snprintf(path, sizeof(path), "%s/config", gd);
	fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	while (fd >= 0 && (n = read(fd, buf, sizeof(buf) - 1)) > 0) {
		ssize_t k;

		buf[n] = '\0';
		for (k = 0; k < n; k++)
			buf[k] = (char)tolower((unsigned char)buf[k]);
		/* (a section name across two reads: a read ends at a line
		 * in practice; this is a refusal, never an allowance) */
		if (strstr(buf, "[include")) {
			close(fd);
			return dw_error_set(DW_EINVAL,
					    "%s includes other files", path);
		}
	}
	if (fd >= 0)
		close(fd);
	fd = open(gd, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return dw_error_errno(DW_EIO, errno, "cannot open %s", gd);
	if (fstat(fd, &st) || st.st_uid || (st.st_mode & (S_IWGRP | S_IWOTH))) {
		close(fd);
		return st.st_uid
			       ? dw_error_set(DW_EINVAL, "%s belongs to uid %u",
					      gd, (unsigned)st.st_uid)
			       : dw_error_set(DW_EINVAL,
					      "%s is writable by others "
					      "(mode %o)",
					      gd,
					      (unsigned)(st.st_mode & 07777));
	}
	err = root_alone_tree(fd, gd, 0, &budget);
	return err;
}

/*
 * As root, a repository is read as whoever could change it: libgit2
 * parses every object of it (packs, deltas, zlib) and the objects are
 * read by their path while it runs, so a flaw there, or a directory
 * renamed under it, must not give that user root. The directory named is
 * opened once and entered; if a user owns it or a directory above it,
 * that user (their own group, never root's; no supplementary groups; no
 * new privileges) becomes the process before libgit2 opens anything. Only
 * a path root alone can change is read with root's reach, and then
 * libgit2 opens exactly that directory (no search upwards) with no user or
 * system git configuration (whose safe.directory would relax its owner
 * check), in a process confined to reading (`*confine`: confine.h),
 * since what root cloned is no less hostile. `*dropped`: it became that
 * user. With `must_be_root` (--respond keeps root and is not confined), a
 * path another user could change is refused.
 */
static int enter_repo(const char *repo, int must_be_root, int *dropped,
		      int *confine)
{
	struct passwd *pw;
	long long owner;
	uid_t uid;
	gid_t gid;
	int fd = open(repo, O_PATH | O_DIRECTORY | O_CLOEXEC);

	*dropped = *confine = 0;
	if (fd < 0)
		return dw_error_errno(DW_EIO, errno, "cannot open %s", repo);
	owner = who_could_change(fd, repo);
	if (owner < 0 || fchdir(fd)) {
		int e = errno;

		close(fd);
		return owner < 0 ? DW_EINVAL
				 : dw_error_errno(DW_EIO, e, "cannot enter %s",
						  repo);
	}
	close(fd);
	/* Root's own git configuration is not read either way. */
	dw_git_skip_user_config();
	if (!owner) {
		dw_git_no_search();
		if (root_alone_gitdir()) {
			char why[512];

			snprintf(why, sizeof(why), "%s", dw_error_last());
			return dw_error_set(
				DW_EINVAL,
				"%s: as root, driftwatch reads only "
				"a repository root alone could "
				"have written: %s; scan it as the "
				"user who can write it",
				repo, why);
		}
		/* Read by a process that can read and do nothing else,
		 * unless it must rotate (--respond keeps root). */
		*confine = !must_be_root;
		return 0;
	}
	if (must_be_root)
		return dw_error_set(DW_EINVAL,
				    "%s: uid %lld could change it; --respond "
				    "(which keeps root) reads only a "
				    "repository root alone can change",
				    repo, owner);
	uid = (uid_t)owner;
	pw = getpwuid(uid);
	gid = pw && pw->pw_gid ? pw->pw_gid : 65534;
	if (setgroups(0, NULL) || setresgid(gid, gid, gid) ||
	    setresuid(uid, uid, uid) || prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0))
		return dw_error_errno(DW_ERROR, errno,
				      "cannot become uid %u to read %s",
				      (unsigned)uid, repo);
	/* Gone with the process that relays it (cleared by the change of
	 * uid). */
	dw_confine_pdeathsig();
	/* Now unprivileged: reading it gives nobody more than they had. */
	dw_git_any_owner();
	*dropped = 1;
	return 0;
}

/*
 * --git as root: the repository is read in a child process, and this one
 * (root, holding root's terminal or files as standard output and error,
 * root's environment, this host's swarm tokens) only relays what it
 * writes. The child has a session of its own (no controlling terminal),
 * /dev/null as input, pipes as output, an environment scrubbed of all but
 * what the output needs, and, of this swarm, keyed digests of its tokens
 * (dw_swarm_seal()), read by this process after the fork so that none of
 * it is in the child's memory. (A reader confined in place, and taken
 * over, dup'ed root's terminal and read what was typed there, or typed
 * into it, and read the tokens from its own memory.)
 * Returns 1 in the child; in this process 0, the child's exit status in
 * `*code`; -1 when no child could be started.
 */
static const char *const env_kept[] = {
	"HOME",
	"XDG_CACHE_HOME",
	"XDG_CONFIG_HOME",
	"NO_COLOR",
	"TERM",
	"LANG",
	"LC_ALL",
	"LC_CTYPE",
	"LC_MESSAGES",
	"TZ",
	"LSAN_OPTIONS",
	"ASAN_OPTIONS",
	"UBSAN_OPTIONS",
#ifdef DW_TEST_HOOKS
	"DW_TEST_",
#endif
};

/* NAME=... is one of env_kept[] (a name ending in '_': a prefix). Byte
 * by byte: no vector register holds what the value is. */
static int env_is_kept(const volatile char *e)
{
	size_t k, n;

	for (k = 0; k < sizeof(env_kept) / sizeof(env_kept[0]); k++) {
		const char *name = env_kept[k];

		for (n = 0; name[n] && e[n] == name[n]; n++)
			;
		if (!name[n] && (e[n] == '=' || name[n - 1] == '_'))
			return 1;
	}
	return 0;
}

/*
 * Every variable but env_kept[], wiped where it is (the process's first
 * environment is on its stack, and /proc/PID/environ shows it), a byte
 * at a time through a volatile pointer: a SIMD strlen left 32 bytes of a
 * value in a vector register, which the dynamic linker's lazy binding
 * then saved to the stack (the binary is also linked -z now).
 */
static void scrub_env(void)
{
	extern char **environ;
	char **e;

	for (e = environ; e && *e; e++) {
		volatile char *c = *e;

		if (env_is_kept(c))
			continue;
		while (*c)
			*c++ = '\0';
	}
}

/*
 * What the child wrote, relayed. C0 controls but tab and newline, and
 * DEL, never reach the output (correct output holds none raw: JSON and
 * text escape them): no 7-bit escape sequence, to a terminal or through a
 * pipe. To a terminal also no C1 control, neither U+0080..U+009F nor a
 * byte that is not UTF-8 in its shortest form (a lenient decoder takes
 * an overlong one for a C1). A sequence cut by the read waits in
 * `carry`. (Through a pipe, bytes above 0x7f pass as they are.)
 */
struct relay {
	int to, tty, failed, error;
	unsigned char carry[4];
	size_t ncarry;
};

/* The length of the UTF-8 sequence at `p` when it is one (shortest form,
 * no surrogate, at most U+10FFFF), 0 when not, -1 when cut short. */
static size_t utf8_len(const unsigned char *p, size_t n)
{
	unsigned char c = p[0], lo = 0x80, hi = 0xbf;
	size_t want, i;

	if (c >= 0xc2 && c <= 0xdf) {
		want = 2;
	} else if (c >= 0xe0 && c <= 0xef) {
		want = 3;
		lo = c == 0xe0 ? 0xa0 : 0x80;
		hi = c == 0xed ? 0x9f : 0xbf;
	} else if (c >= 0xf0 && c <= 0xf4) {
		want = 4;
		lo = c == 0xf0 ? 0x90 : 0x80;
		hi = c == 0xf4 ? 0x8f : 0xbf;
	} else {
		return 0;
	}
	if (n < 2)
		return (size_t)-1;
	if (p[1] < lo || p[1] > hi)
		return 0;
	for (i = 2; i < want; i++) {
		if (i >= n)
			return (size_t)-1;
		if ((p[i] & 0xc0) != 0x80)
			return 0;
	}
	return want;
}

static void relay_chunk(struct relay *r, const unsigned char *in, size_t n,
			int last)
{
	unsigned char buf[65536 + 8], out[65536 + 8];
	size_t i = 0, k = 0, len = r->ncarry + n;

	memcpy(buf, r->carry, r->ncarry);
	memcpy(buf + r->ncarry, in, n);
	r->ncarry = 0;
	while (i < len) {
		unsigned char c = buf[i];
		size_t u;

		if (c < 0x80) {
			out[k++] = (c < 0x20 && c != '\n' && c != '\t') ||
						   c == 0x7f
					   ? '?'
					   : c;
			i++;
			continue;
		}
		if (!r->tty) {
			out[k++] = c;
			i++;
			continue;
		}
		u = utf8_len(buf + i, len - i);
		if (u == (size_t)-1 && !last) {
			r->ncarry = len - i;
			memcpy(r->carry, buf + i, r->ncarry);
			break;
		}
		if (u == (size_t)-1 || !u || (c == 0xc2 && buf[i + 1] < 0xa0)) {
			out[k++] = '?';
			i += u == 2 ? 2 : 1;
			continue;
		}
		memcpy(out + k, buf + i, u);
		k += u;
		i += u;
	}
	if (!r->failed && k && dw_write_all(r->to, out, k)) {
		r->failed = 1;
		r->error = errno;
	}
}

static int reader_child(struct scan *sc, int *code)
{
	int out[2] = {-1, -1}, err[2] = {-1, -1}, sw[2] = {-1, -1};
	int bl[2] = {-1, -1}, st = 0, null, pfd, k;
	pid_t parent = getpid(), pid;

	if (pipe2(out, O_CLOEXEC) || pipe2(err, O_CLOEXEC) ||
	    pipe2(sw, O_CLOEXEC) || (sc->blout.f && pipe2(bl, O_CLOEXEC))) {
		int e = errno;

		for (k = 0; k < 2; k++) {
			if (out[k] >= 0)
				close(out[k]);
			if (err[k] >= 0)
				close(err[k]);
			if (sw[k] >= 0)
				close(sw[k]);
		}
		errno = e;
		return -1;
	}
	fflush(stdout);
	fflush(stderr);
	pid = fork();
	if (pid < 0)
		return -1;
	if (!pid) {
		char buf[65536];
		size_t got = 0;
		ssize_t n;
		json_t *j;

		prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
		if (getppid() != parent)
			_exit(DW_EXIT_UNREADABLE);
		dw_confine_set_parent(parent);
		setsid();
		null = open("/dev/null", O_RDONLY | O_CLOEXEC);
		if (null < 0 || dup2(null, STDIN_FILENO) < 0 ||
		    dup2(out[1], STDOUT_FILENO) < 0 ||
		    dup2(err[1], STDERR_FILENO) < 0)
			_exit(DW_EXIT_ERROR);
		close(null);
		close(out[0]);
		close(out[1]);
		close(err[0]);
		close(err[1]);
		close(sw[1]);
		/* --write-baseline: through a pipe, never the file. */
		if (bl[1] >= 0) {
			close(bl[0]);
			scan_blout_to_pipe(&sc->blout, bl[1]);
		}
		while (got < sizeof(buf) - 1 &&
		       (n = read(sw[0], buf + got, sizeof(buf) - 1 - got)) > 0)
			got += (size_t)n;
		close(sw[0]);
		buf[got] = '\0';
		j = got ? json_loads(buf, 0, NULL) : NULL;
		sc->swarm_state =
			j && !dw_swarm_from_sealed(&sc->swarm, j) ? 1 : -1;
		json_decref(j);
		explicit_bzero(buf, sizeof(buf));
		scrub_env();
		return 1;
	}
	close(out[1]);
	close(err[1]);
	close(sw[0]);
	if (bl[1] >= 0)
		close(bl[1]);
	/* This swarm, for the child as digests only. */
	if (swarm_ready(sc) && !dw_swarm_seal(&sc->swarm)) {
		json_t *j = dw_swarm_sealed_json(&sc->swarm);
		char *txt = j ? json_dumps(j, JSON_COMPACT) : NULL;

		if (txt)
			dw_write_all(sw[1], txt, strlen(txt));
		free(txt);
		json_decref(j);
	}
	close(sw[1]);
	/*
	 * Relayed until the child has ended and its pipes are drained: a
	 * process it left behind (possible as a repository's owner) that
	 * holds them does not hold this one up.
	 */
	pfd = (int)syscall(SYS_pidfd_open, pid, 0);
	{
		struct pollfd pf[4] = {{out[0], POLLIN, 0},
				       {err[0], POLLIN, 0},
				       {pfd, POLLIN, 0},
				       {bl[0], POLLIN, 0}};
		struct relay r[2] = {
			{STDOUT_FILENO, isatty(STDOUT_FILENO), 0, 0, {0}, 0},
			{STDERR_FILENO, isatty(STDERR_FILENO), 0, 0, {0}, 0}};
		int open_n = bl[0] >= 0 ? 3 : 2, ended = 0;
		/* After the child: what its pipes hold, within bounds (a
		 * process it left that writes on does not hold this up). */
		size_t after = 0;

		signal(SIGPIPE, SIG_IGN);
		while (open_n) {
			int i, rc = poll(pf, 4, ended ? 0 : -1);

			if (rc < 0 && errno == EINTR)
				continue;
			if (rc < 0 || (ended && !rc) || after > (16u << 20))
				break;
			if (pf[2].fd >= 0 && pf[2].revents) {
				ended = 1; /* drain what is there, then stop */
				pf[2].fd = -1;
			}
			for (i = 0; i < 2; i++) {
				unsigned char buf[65536];
				ssize_t n;

				if (pf[i].fd < 0 || !pf[i].revents)
					continue;
				n = read(pf[i].fd, buf, sizeof(buf));
				if (n < 0 && errno == EINTR)
					continue;
				if (n <= 0) {
					relay_chunk(&r[i], buf, 0, 1);
					close(pf[i].fd);
					pf[i].fd = -1;
					open_n--;
					continue;
				}
				relay_chunk(&r[i], buf, (size_t)n, 0);
				if (ended)
					after += (size_t)n;
			}
			if (pf[3].fd >= 0 && pf[3].revents) {
				unsigned char buf[65536];
				ssize_t n = read(pf[3].fd, buf, sizeof(buf));

				if (n < 0 && errno == EINTR)
					continue;
				if (n >= 0)
					scan_blout_relay(&sc->blout, buf,
							 (size_t)n);
				else
					sc->blout.relay_error = errno;
				if (n <= 0) {
					close(pf[3].fd);
					pf[3].fd = -1;
					open_n--;
				} else if (ended) {
					after += (size_t)n;
				}
			}
		}
		if (pf[3].fd >= 0)
			close(pf[3].fd);
		for (st = 0; st < 2; st++)
			if (pf[st].fd >= 0) {
				relay_chunk(&r[st], (const unsigned char *)"",
					    0, 1);
				close(pf[st].fd);
			}
		st = 0;
		if (pfd >= 0)
			close(pfd);
		if (r[0].failed) {
			sc->write_failed = 1;
			fprintf(stderr,
				"driftwatch scan: cannot write output: "
				"%s\n",
				strerror(r[0].error));
			*code = DW_EXIT_ERROR;
		}
	}
	while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
		;
	if (*code == DW_EXIT_ERROR)
		return 0;
	if (WIFEXITED(st)) {
		*code = WEXITSTATUS(st);
	} else {
		fprintf(stderr,
			"driftwatch scan: the process that read the "
			"repository died (signal %d)\n",
			WIFSIGNALED(st) ? WTERMSIG(st) : 0);
		*code = DW_EXIT_UNREADABLE;
	}
	return 0;
}

static void wipe_command(struct dw_config *c)
{
	size_t i;

	for (i = 0; i < c->ncommand; i++) {
		volatile char *p = c->command[i];

		while (p && *p)
			*p++ = '\0';
	}
}

/* What confine_reader() made ready, when the scan ends before it began. */
static void drop_ready(struct scan *sc)
{
	dw_scancache_close(sc->cache);
	sc->cache = NULL;
	dw_store_close(sc->hist);
	sc->hist = NULL;
	sc->hist_state = 0;
	if (sc->swarm_state > 0)
		dw_swarm_release(&sc->swarm);
	sc->swarm_state = 0;
	dw_docker_free(sc->docker);
	sc->docker = NULL;
}

/*
 * Root's own repository: what the reader will need of what it may no
 * longer open is made ready first: --cache opened, the store's history of
 * this swarm's secrets copied into memory, this host's swarm read (and
 * the Docker connection closed), then it is confined (confine.h). A
 * reader that cannot be confined is an error: the repository is not read.
 */
static int confine_reader(struct scan *sc, const char *cache_path)
{
	char *real = NULL, *wal = NULL, *shm = NULL;
	int err = 0;

	if (cache_path && dw_scancache_open(&sc->cache, cache_path, ""))
		return DW_EIO;
	/* This swarm came sealed from the parent (reader_child()). */
	if (!sc->hist_state)
		sc->hist_state =
			!access(sc->db, R_OK) && !dw_store_swarm_history_copy(
							 &sc->hist, sc->db)
				? 1
				: -1;
	if (cache_path && (real = realpath(cache_path, NULL))) {
		size_t n = strlen(real) + 5;

		wal = dw_xmalloc(n);
		shm = dw_xmalloc(n);
		snprintf(wal, n, "%s-wal", real);
		snprintf(shm, n, "%s-shm", real);
	}
	{
		/* The cache, and the pipe a baseline goes through. */
		const char *keep[] = {real ? real : sc->blout.keep, wal, shm,
				      sc->blout.keep, NULL};
		char *rules_cache = dw_cli_cache_dir();
		const char *also[] = {rules_cache, NULL};

		if (dw_confine_reader(real || sc->blout.keep[0] ? keep : NULL,
				      rules_cache ? also : NULL))
			err = dw_error_set(
				DW_ERROR,
				"cannot confine the process that reads root's "
				"repository (%s); scan it as a user without "
				"root instead (setpriv --reuid=nobody "
				"--regid=nogroup --clear-groups driftwatch "
				"scan --git ...), where it is readable",
				dw_error_last());
		free(rules_cache);
	}
	free(real);
	free(wal);
	free(shm);
	if (err)
		return err;
	/* Its owner, root, was checked (enter_repo()); this is not root. */
	dw_git_any_owner();
	return 0;
}

static int scan_git(struct scan *sc, const char *repo, struct dw_git_opts *o,
		    const char *cache_path, int show)
{
	struct dw_blob_cache *cache = NULL;
	struct dw_git_stats st;
	int err;

	o->max_blob_size = sc->opts.max_file_size;
	o->progress = isatty(STDERR_FILENO);
	o->cache_needs_secrets = show;
	if (sc->cache) {
		cache = sc->cache;
		sc->cache = NULL;
		dw_scancache_rules(cache, dw_engine_digest(sc->engine));
	} else if (cache_path &&
		   dw_scancache_open(&cache, cache_path,
				     dw_engine_digest(sc->engine))) {
		return dw_cli_fail("scan", DW_EXIT_USAGE, "%s",
				   dw_error_last());
	}
	o->cache = cache;
	memset(&st, 0, sizeof(st));
	err = dw_git_scan_history(sc->engine, repo, o, on_git_finding, sc, &st);
	dw_scancache_close(cache);
	if (err == DW_EINVAL || err == DW_ENOTFOUND)
		return dw_cli_fail("scan", DW_EXIT_USAGE, "%s",
				   dw_error_last());
	if (err)
		report_error(sc);
	git_summary(sc, &st);
	return 0;
}

/* --config, else .driftwatch.yaml in the first directory, else here. */
/*
 * The user's own configuration, $XDG_CONFIG_HOME/driftwatch/config.yaml
 * (else ~/.config/...): NULL when there is none. It may set a program, so
 * it must be the user's and nobody else's to write.
 */
int dw_cli_user_config(char **out)
{
	struct dw_buf p = DW_BUF_INIT;
	const char *xdg = getenv("XDG_CONFIG_HOME");
	const char *home = getenv("HOME");
	struct stat st;

	*out = NULL;
	if (xdg && *xdg == '/')
		dw_buf_addf(&p, "%s/driftwatch/config.yaml", xdg);
	else if (home && *home == '/')
		dw_buf_addf(&p, "%s/.config/driftwatch/config.yaml", home);
	else
		return 0;
	if (lstat(p.ptr, &st) < 0) {
		dw_buf_release(&p);
		return 0;
	}
	if (!S_ISREG(st.st_mode) || st.st_uid != geteuid() ||
	    (st.st_mode & 022)) {
		dw_error_set(DW_EINVAL,
			     "refusing %s: it must be a regular file owned by "
			     "uid %u and writable by nobody else",
			     p.ptr, (unsigned)geteuid());
		dw_buf_release(&p);
		return DW_EINVAL;
	}
	*out = dw_buf_detach(&p, NULL);
	return 0;
}

/*
 * Whose configuration counts (driftwatch-scan(1), TRUST): the trusted
 * one is --config FILE, else the user's own; it may set anything. A
 * .driftwatch.yaml found in the scanned content (the first directory
 * scanned, the repository for --git, else the current one) only
 * describes that content: it is added to the trusted one, named on
 * stderr, may not set a command, and is ignored with --no-repo-config.
 */
static int load_found_in(struct scan *sc, int argc, char **argv);

static int load_config(struct scan *sc, const char *explicit_path,
		       int repo_config, int argc, char **argv)
{
	char *mine = NULL;
	int err;

	memset(&sc->cfg, 0, sizeof(sc->cfg));
	err = explicit_path ? 0 : dw_cli_user_config(&mine);
	if (!err && (explicit_path || mine))
		err = dw_config_load(&sc->cfg,
				     explicit_path ? explicit_path : mine);
	sc->trusted_path = dw_xstrdup(explicit_path ? explicit_path
				      : mine	    ? mine
						    : "");
	free(mine);
	if (err || !repo_config)
		return err;
	return load_found_in(sc, argc, argv);
}

/* The same, once the trusted one is read (--git as root, enter_repo()). */
static int load_found(struct scan *sc, int repo_config, char *workdir)
{
	return repo_config ? load_found_in(sc, 1, &workdir) : 0;
}

/* The configuration found in the scanned content (see load_config()). */
static int load_found_in(struct scan *sc, int argc, char **argv)
{
	struct dw_buf p = DW_BUF_INIT;
	struct dw_config found;
	struct stat st;
	int i, err;

	for (i = 0; i < argc; i++) {
		if (stat(argv[i], &st) == 0 && S_ISDIR(st.st_mode)) {
			dw_buf_addf(&p, "%s/" CONFIG_NAME, argv[i]);
			break;
		}
	}
	if (!p.len)
		dw_buf_adds(&p, CONFIG_NAME);
	if (lstat(p.ptr, &st) < 0) {
		dw_buf_release(&p);
		return 0;
	}
	err = dw_config_load(&found, p.ptr);
	if (!err && found.ncommand) {
		err = dw_error_set(
			DW_EINVAL,
			"%s: 'command' is not allowed in a "
			"configuration found in the scanned content "
			"(it would run a program the content chose); "
			"set it in --config FILE or "
			"~/.config/driftwatch/config.yaml",
			p.ptr);
		dw_config_release(&found);
	}
	if (!err) {
		fprintf(stderr,
			"driftwatch scan: applying %s from the scanned content "
			"(%zu allow path%s, %zu ignored fingerprint%s, %zu "
			"rule%s, %zu disabled rule%s); --no-repo-config "
			"ignores it\n",
			p.ptr, found.nallow, found.nallow == 1 ? "" : "s",
			found.nignored, found.nignored == 1 ? "" : "s",
			found.nrules, found.nrules == 1 ? "" : "s",
			found.ndisabled, found.ndisabled == 1 ? "" : "s");
		dw_config_merge(&sc->cfg, &found);
		sc->repo_path = dw_xstrdup(p.ptr);
	}
	dw_buf_release(&p);
	return err;
}

/*
 * In the scanner process (`driftwatch scan` as root): the same rules,
 * from the same configurations (argv: the trusted one, the one found in
 * the content, the cache directory; "" for none). The daemon compares
 * their digest with its own.
 */
int cmd_scan_scanner_build(struct dw_engine **e, int argc, char **argv)
{
	static struct dw_config cfg; /* the engine's for its life */
	struct dw_config found;
	int err = 0;

	memset(&cfg, 0, sizeof(cfg));
	if (argc != 3)
		return DW_EINVAL;
	if (*argv[0])
		err = dw_config_load(&cfg, argv[0]);
	if (!err && *argv[1]) {
		err = dw_config_load(&found, argv[1]);
		if (!err)
			dw_config_merge(&cfg, &found);
	}
	cfg.engine.cache_dir = *argv[2] ? argv[2] : NULL;
	/* Ignored fingerprints are matched by `scan` itself (reported()). */
	cfg.engine.ignored = NULL;
	cfg.engine.nignored = 0;
	return err ? err : dw_engine_new(e, &cfg.engine);
}

/* A file a walk opened, decoded and scanned in the scanner process. */
static int boxed_opened(void *hctx, int fd, const char *path,
			const char *channel, dw_source_cb cb, void *ctx,
			enum dw_scan_outcome *outcome)
{
	struct scan *sc = hctx;
	int err = dw_sandbox_scan_whole(
		sc->sandbox, fd, path, channel, sc->opts.max_file_size,
		SCAN_FILE_BUDGET_S * 1000, outcome, cb, ctx);

	/* Failed twice, or not decoded whole: unreadable, said, exit 3. */
	if (err == DW_ELIMIT || err == DW_ERROR)
		return dw_error_set(DW_EIO, "%s: not scanned: %s", path,
				    dw_error_last());
	return err;
}

/* Standard input in pieces: where a piece starts in it. */
struct stdin_piece {
	struct scan *sc;
	uint64_t line;	 /* the piece's first line */
	uint64_t column; /* where in that line the piece starts (0-based) */
	size_t seen;	 /* its first bytes, scanned whole with the last one */
};

static int stdin_finding(const struct dw_finding *f, void *ctx)
{
	static const struct dw_source in = {"-", DW_SOURCE_STDIN, NULL};
	struct stdin_piece *p = ctx;
	struct dw_finding g = *f;

	/* Within what the last piece held whole: told then. */
	if (f->offset + f->secret_len <= p->seen)
		return 0;
	if (g.line == 1)
		g.column += p->column;
	g.line += p->line - 1;
	return on_finding(&g, &in, p->sc);
}

#define STDIN_PIECE (16u << 20)
#define STDIN_OVERLAP (64u << 10)

/*
 * Standard input in the scanner process: 16 MiB pieces of whole lines
 * (a longer line is cut there, and its last 64 KiB given again with the
 * rest, so a secret across the cut is found once), each in a memory file
 * of its own, each finding checked at its offset.
 */
static int boxed_stdin(struct scan *sc)
{
	struct dw_buf b = DW_BUF_INIT;
	struct stdin_piece piece = {sc, 1, 0, 0};
	int err = 0, eof = 0;

	dw_buf_grow(&b, STDIN_PIECE);
	while (!err && (!eof || b.len > piece.seen)) {
		size_t cut, i, keep;
		int fd, timed_out = 0, rc;
		ssize_t n = 1;

		while (!eof && b.len < STDIN_PIECE) {
			n = read(STDIN_FILENO, b.ptr + b.len,
				 STDIN_PIECE - b.len);
			if (n < 0 && errno == EINTR)
				continue;
			if (n <= 0)
				break;
			b.len += (size_t)n;
		}
		if (n < 0) {
			err = dw_error_errno(DW_EIO, errno, "cannot read -");
			break;
		}
		eof = eof || n == 0 || b.len < STDIN_PIECE;
		cut = b.len;
		while (!eof && cut > piece.seen && b.ptr[cut - 1] != '\n')
			cut--;
		keep = 0;
		if (cut <= piece.seen) { /* one line longer than a piece */
			cut = b.len;
			keep = eof ? 0 : STDIN_OVERLAP;
		}
		fd = memfd_create("driftwatch-stdin", MFD_CLOEXEC);
		if (fd < 0 || dw_write_all(fd, b.ptr, cut)) {
			err = dw_error_errno(DW_EIO, errno, "cannot spool -");
			if (fd >= 0)
				close(fd);
			break;
		}
		rc = dw_sandbox_scan_fd(sc->sandbox, fd, cut,
					SCAN_FILE_BUDGET_S * 1000, "-",
					&timed_out, stdin_finding, &piece);
		if (rc)
			err = dw_error_set(
				DW_EIO,
				rc == DW_EIO ? "-: %s"
					     : "-: not scanned in full: %s",
				dw_error_last());
		close(fd);
		if (timed_out)
			sc->unreadable = 1;
		for (i = piece.seen; i < cut; i++)
			piece.line += b.ptr[i] == '\n';
		/* A line cut: the next piece starts in it, `keep` back. */
		piece.column = keep ? piece.column + cut - keep : 0;
		memmove(b.ptr, b.ptr + cut - keep, b.len - cut + keep);
		b.len = b.len - cut + keep;
		piece.seen = keep;
	}
	dw_buf_release(&b);
	return err;
}

int cmd_scan(struct dw_cli *cli, int argc, char **argv)
{
	struct scan sc;
	enum scan_format fmt = SCAN_TEXT;
	const char *config = NULL;
	uint64_t max_cli = 0;
	char *cache = NULL, *end, *workdir = NULL;
	const char *cache_path = NULL;
	struct dw_git_opts gopts;
	struct dw_opts p;
	int show = 0, color = -1, git = 0, c, i, ret, repo_config = 1;
	int image = 0;
	int owner_read = 0; /* --git as root: the trusted config read */
	int confine = 0;    /* --git as root on root's own repository */
	int reader = 0;	    /* this is the process that reads the repository */
	int ended = 0;	    /* the scan ended, its output written */
	int report_unused = 0;
	const char *write_baseline = NULL, *baselines[MAX_BASELINES];
	int nbaselines = 0;
	char *abs_cache = NULL;

	memset(&gopts, 0, sizeof(gopts));

	memset(&sc, 0, sizeof(sc));
	sc.host = cli->host;
	sc.db = DW_STORE_DEFAULT_PATH;
	dw_opts_init(&p, &help, argc, argv);
	while ((c = dw_opts_next(&p)) != -1) {
		switch (c) {
		case 'f':
			if (parse_format(optarg, &fmt))
				return dw_cli_fail("scan", DW_EXIT_USAGE,
						   "unknown format '%s' (text, "
						   "json, jsonl or sarif)",
						   optarg);
			break;
		case 'c': config = optarg; break;
		case 'n': repo_config = 0; break;
		case 'R': sc.respond = 1; break;
		case 'D': sc.db = optarg; break;
		case 'B':
			if (nbaselines == MAX_BASELINES)
				return dw_cli_fail("scan", DW_EXIT_USAGE,
						   "at most %d --baseline",
						   MAX_BASELINES);
			baselines[nbaselines++] = optarg;
			break;
		case 'W': write_baseline = optarg; break;
		case 'U': report_unused = 1; break;
		case 'g': git = 1; break;
		case 'I': image = 1; break;
		case 's': gopts.since = optarg; break;
		case 'r': gopts.range = optarg; break;
		case 'b': gopts.branch = optarg; break;
		case 'A': gopts.all_objects = 1; break;
		case 'C': cache_path = optarg; break;
		case 'T':
			gopts.threads = (int)strtol(optarg, &end, 10);
			if (*end || gopts.threads < 1 || gopts.threads > 64)
				return dw_cli_fail("scan", DW_EXIT_USAGE,
						   "--threads takes 1 to 64");
			break;
		case 'S': show = 1; break;
		case 'N': color = 0; break;
		case 'm':
			if (dw_parse_size(&max_cli, optarg) || !max_cli)
				return dw_cli_fail(
					"scan", DW_EXIT_USAGE,
					"bad size '%s' (e.g. 100MiB)", optarg);
			break;
		case DW_OPT_EXIT: return p.exit;
		default: return dw_opts_usage_error(&help);
		}
	}
	if (!git && (gopts.since || gopts.range || gopts.branch ||
		     gopts.all_objects || cache_path))
		return dw_cli_fail("scan", DW_EXIT_USAGE,
				   "--since, --range, "
				   "--branch, --all-objects and --cache go "
				   "with --git");
	if (git && image)
		return dw_cli_fail("scan", DW_EXIT_USAGE,
				   "--git and --image do not go together");
	if (image && optind >= argc)
		return dw_cli_fail("scan", DW_EXIT_USAGE,
				   "--image takes one or more images");
	if (git && argc - optind > 1)
		return dw_cli_fail("scan", DW_EXIT_USAGE,
				   "--git takes one "
				   "repository");
	if (!git && optind >= argc)
		return dw_opts_usage_error(&help);
	/* Read and made before a reader is forked: both are the user's. */
	for (i = 0; i < nbaselines; i++) {
		if (scan_baseline_load(&sc.baseline, baselines[i])) {
			scan_fpset_free(&sc.baseline);
			return dw_cli_fail("scan", DW_EXIT_USAGE, "%s",
					   dw_error_last());
		}
	}
	if (write_baseline && scan_blout_open(&sc.blout, write_baseline)) {
		scan_fpset_free(&sc.baseline);
		return dw_cli_fail("scan", DW_EXIT_USAGE, "%s",
				   dw_error_last());
	}
	if (git && !geteuid()) {
		int dropped, code = 0, child;

		/* The reading is a child's; this process relays (--respond
		 * keeps root, and reads only root's own repository). */
		if (!sc.respond) {
			child = reader_child(&sc, &code);
			if (child < 0) {
				ret = dw_cli_fail("scan", DW_EXIT_ERROR,
						  "cannot start the process "
						  "that reads the repository: "
						  "%s",
						  strerror(errno));
				goto done;
			}
			if (!child) {
				if (sc.swarm_state > 0)
					dw_swarm_release(&sc.swarm);
				dw_docker_free(sc.docker);
				ret = code;
				/* (and the report came whole: commit()) */
				ended = !sc.write_failed &&
					(code == DW_EXIT_OK ||
					 code == DW_EXIT_FOUND ||
					 code == DW_EXIT_UNREADABLE);
				/* Stopped before it scanned (a repository it
				 * could not open): nothing to write. */
				if (code == DW_EXIT_UNREADABLE &&
				    sc.blout.tmp && !sc.blout.relay_len)
					ended = 0;
				goto done;
			}
			reader = 1;
		}

		/* The trusted configuration is root's, read as root. */
		if (load_config(&sc, config, 0, 0, NULL)) {
			ret = dw_cli_fail("scan", DW_EXIT_USAGE, "%s",
					  dw_error_last());
			free(sc.trusted_path);
			goto done;
		}
		/* Before the working directory changes: a relative cache. */
		if (cache_path && cache_path[0] != '/')
			cache_path = abs_cache = dw_cli_absolute(cache_path);
		if (enter_repo(optind < argc ? argv[optind] : ".", sc.respond,
			       &dropped, &confine)) {
			dw_config_release(&sc.cfg);
			free(sc.trusted_path);
			free(abs_cache);
			ret = dw_cli_fail("scan", DW_EXIT_UNREADABLE, "%s",
					  dw_error_last());
			goto done;
		}
		/* The repository is "." from here on. */
		if (optind < argc)
			argv[optind] = (char *)".";
		/* The owner could edit a cache to hide what root looks for. */
		if (dropped && cache_path) {
			fprintf(stderr, "driftwatch scan: --cache is not used "
					"when root reads another user's "
					"repository\n");
			cache_path = NULL;
		}
		owner_read = 1;
		/* The reader never runs it (--respond is not read so): what a
		 * trusted configuration's command holds is not its to keep. */
		if (!sc.respond)
			wipe_command(&sc.cfg);
		if (confine && confine_reader(&sc, cache_path)) {
			ret = dw_cli_fail("scan", DW_EXIT_UNREADABLE, "%s",
					  dw_error_last());
			drop_ready(&sc);
			dw_config_release(&sc.cfg);
			free(sc.trusted_path);
			free(abs_cache);
			goto done;
		}
	}
	if (git) {
		/* The repository's .driftwatch.yaml is at its root. */
		workdir = dw_git_workdir(optind < argc ? argv[optind] : ".");
		if (!workdir) {
			ret = dw_cli_fail("scan", DW_EXIT_USAGE, "%s",
					  dw_error_last());
			/* (the trusted configuration, read already as root) */
			if (owner_read)
				dw_config_release(&sc.cfg);
			drop_ready(&sc);
			free(sc.trusted_path);
			free(abs_cache);
			goto done;
		}
	}
	if ((owner_read ? load_found(&sc, repo_config, workdir)
			: load_config(&sc, config, repo_config,
				      git ? 1 : argc - optind,
				      git ? &workdir : argv + optind))) {
		ret = dw_cli_fail("scan", DW_EXIT_USAGE, "%s", dw_error_last());
		drop_ready(&sc);
		free(sc.trusted_path);
		free(sc.repo_path);
		free(workdir);
		goto done;
	}
	/* Matched by reported(), not by the engine. */
	for (i = 0; i < (int)sc.cfg.nignored; i++)
		scan_fpset_add(&sc.ignores, sc.cfg.ignored[i]);
	scan_fpset_seal(&sc.ignores);
	sc.cfg.engine.ignored = NULL;
	sc.cfg.engine.nignored = 0;
	cache = dw_cli_cache_dir();
	sc.cfg.engine.cache_dir = cache;
	if (dw_engine_new(&sc.engine, &sc.cfg.engine) ||
	    dw_scanner_new(&sc.scanner, sc.engine)) {
		ret = dw_cli_fail("scan", DW_EXIT_USAGE, "%s", dw_error_last());
		goto out;
	}
	dw_scanner_set_budget(sc.scanner, SCAN_FILE_BUDGET_S * 1000);
	/*
	 * As root, what the content says is decoded and scanned in the
	 * scanner process (driftwatchd(8), THE SCANNER PROCESS): files of
	 * a tree and standard input (not yet --git: libgit2 reads the
	 * repository here). A scanner that cannot confine itself is said,
	 * and the scan goes on here.
	 */
	if (!geteuid() && !git) {
		const char *extra[] = {sc.trusted_path ? sc.trusted_path : "",
				       sc.repo_path ? sc.repo_path : "",
				       cache ? cache : "", NULL};

		if (dw_sandbox_start(&sc.sandbox, sc.engine, NULL, extra))
			fprintf(stderr,
				"driftwatch scan: warning: running as root, "
				"and the scanner process could not confine "
				"itself (%s): scanning in this process\n",
				dw_error_last());
	}
	sc.opts.max_file_size = max_cli		       ? max_cli
				: sc.cfg.max_file_size ? sc.cfg.max_file_size
						       : DEFAULT_MAX_FILE_SIZE;
	if (sc.sandbox) {
		sc.opts.scan_opened = boxed_opened;
		sc.opts.hctx = &sc;
	}
	if (color < 0)
		color = fmt == SCAN_TEXT && isatty(STDOUT_FILENO) &&
			!getenv("NO_COLOR");
	scan_out_init(&sc.out, fmt, show, color, sc.engine);
	if (sc.blout.f)
		scan_blout_start(&sc.blout, sc.engine);
	if (git) {
		ret = scan_git(&sc, optind < argc ? argv[optind] : ".", &gopts,
			       cache_path, show);
		if (ret)
			goto out;
	}
	for (i = optind; !git && i < argc; i++) {
		struct stat st;

		if (image) {
			scan_image(&sc, argv[i]);
		} else if (!strcmp(argv[i], "-")) {
			if (sc.sandbox ? boxed_stdin(&sc)
				       : dw_scan_fd(sc.scanner, STDIN_FILENO,
						    "-", on_finding, &sc))
				report_error(&sc);
			else
				scan_out_count(&sc.out, "scanned", 1);
		} else if (stat(argv[i], &st) < 0) {
			dw_error_errno(DW_EIO, errno, "cannot read %s",
				       argv[i]);
			report_error(&sc);
		} else {
			dw_scan_tree(sc.scanner, argv[i], &sc.cfg, &sc.opts,
				     on_finding, on_note, &sc);
		}
	}
	if (!git && !sc.unreadable &&
	    !json_object_size(sc.out.summary)) { /* an empty directory */
		fprintf(stderr, "driftwatch scan: read nothing: no file in "
				"what was asked\n");
		scan_out_note(&sc.out, "warning", "read nothing: no file");
	}
	if (report_unused)
		unused_ignores(&sc);
	/* A baseline only after the output: not when that failed. */
	if (scan_out_finish(&sc.out) || sc.write_failed ||
	    scan_blout_finish(&sc.blout, sc.out.incomplete)) {
		ret = dw_cli_fail("scan", DW_EXIT_ERROR,
				  "cannot write output: "
				  "%s",
				  strerror(errno));
	} else {
		ret = sc.unreadable  ? DW_EXIT_UNREADABLE
		      : sc.out.count ? DW_EXIT_FOUND
				     : DW_EXIT_OK;
		ended = 1;
	}
out:
	dw_scancache_close(sc.cache); /* when the scan never began */
	free(abs_cache);
	/* Left when an error cut the scan short. */
	json_decref(sc.out.all);
	json_decref(sc.out.summary);
	json_decref(sc.out.notes);
	if (sc.swarm_state > 0)
		dw_swarm_release(&sc.swarm);
	dw_store_close(sc.hist);
	dw_docker_free(sc.docker);
	dw_sandbox_free(sc.sandbox);
	free(sc.trusted_path);
	free(sc.repo_path);
	dw_scanner_free(sc.scanner);
	dw_engine_free(sc.engine);
	dw_config_release(&sc.cfg);
	free(cache);
	free(workdir);
done:
	/* The baseline is renamed into place by the process that was
	 * asked for it, once the scan ended (whatever it found). */
	if (!reader && ended && ret == DW_EXIT_UNREADABLE && sc.blout.tmp)
		fprintf(stderr,
			"driftwatch scan: warning: --write-baseline: written "
			"from a scan that did not read everything; what it "
			"missed is not in it\n");
	if (reader)
		scan_blout_close(&sc.blout);
	else if (scan_blout_commit(&sc.blout, ended))
		ret = dw_cli_fail("scan", DW_EXIT_ERROR, "%s", dw_error_last());
	scan_fpset_free(&sc.ignores);
	scan_fpset_free(&sc.baseline);
	return ret;
}
