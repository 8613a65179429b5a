/* Live sources: followed logs, container logs, drop directories. */
#include <errno.h>
#include <dirent.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <glob.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "driftwatch/buf.h"
#include "driftwatch/clock.h"
#include "driftwatch/error.h"
#include "driftwatch/json.h"
#include "driftwatch/safeopen.h"
#include "log.h"
#include "driftwatch/sources.h"
#include "driftwatch/xmalloc.h"
#include "logwatch.h"
#include "sandbox.h"
#include "store.h"
#include "driftwatch/escape.h"
#include "driftwatch/banned.h"

#define DIR_MASK                                                               \
	(IN_CREATE | IN_MODIFY | IN_CLOSE_WRITE | IN_MOVED_FROM |              \
	 IN_MOVED_TO | IN_DELETE | IN_ONLYDIR | IN_DONT_FOLLOW)

/* A line longer than this is scanned as it is, without waiting more. */
#define PARTIAL_MAX (1u << 20)
/* ... and how much of it is scanned again with the rest. */
#define LINE_OVERLAP (4u << 10)
/* A file renamed away or deleted (or replaced under its name) is read
 * for what its writer still writes, until it has not grown for this
 * long: then closed. A new file under its name does not end it: the
 * writer may go on with the old one until it is told to reopen. */
#define ROTATED_GRACE_S 10
/* ... and at most this many at once: past it, the one rotated longest
 * ago is read to its end and closed, and that is said (a writer renaming
 * and writing on would hold a descriptor each for ever). */
#define ROTATED_MAX 64
/* What one loop turn reads of one file: the rest waits for the next
 * turn (a container's backlog never stalls the loop, or the watchdog). */
#define READ_TURN_MAX (4u << 20)
/* Docker's local format: the pieces of one line held back to be joined
 * at most this long (a line's 1 MiB join and one frame); past it they
 * are let go, scanned each but not joined, and that is said. */
#define HOLD_MAX ((1u << 20) + DW_LOCAL_FRAME_MAX)
/* Docker's local format: frames are decoded this many bytes at a time. */
#define LOCAL_BATCH (1u << 20)
/* json-file, CRI: the lines kept back for the open piece of a long line
 * to be joined with its rest at most this long (another stream's lines
 * in between); past it, let go and said. */
#define HOLD_LINES_MAX (64u << 10)
/* The lines from a key's BEGIN line or a .netrc entry's first one, kept
 * back to be read with the rest, at most this long (the rules' window
 * is 64 KiB of text after the line; a line before it, json-file or CRI
 * records of little text take room too); past it, let go and said. */
#define HOLD_KEY_MAX DW_LOG_KEY_HOLD_MAX
/* A whole file's time budget in the scanner (as the daemon's own). */
#define WHOLE_BUDGET_MS 2000

/*
 * A followed log, a container's json-file or local-format log, a drop
 * dir; Kubernetes' pod logs: the root (/var/log/pods), a pod's dir, a
 * container's dir of CRI-format files.
 */
enum pkind { P_LOG, P_DOCKER, P_LOCAL, P_DROP, P_CRI_ROOT, P_CRI_POD, P_CRI };

struct dirw {
	int wd;
	char *dir;
};

/* Which names of a directory matter, and what they are. */
struct pattern {
	char *dir, *glob;
	enum pkind kind;
	char *drop_kind; /* slack, mail, files */
	char *source_id, *name;
	int configured; /* from the configuration (not a container) */
	int pods;	/* Kubernetes' pod logs (dw_logwatch_pod_logs) */
	const char *source_kind; /* findings' source, when not the decoder's */
};

struct followed {
	char *path;
	const struct pattern *p;
	int fd;
	dev_t dev;
	ino_t ino;
	off_t off;
	unsigned long long line; /* complete lines read */
	struct dw_buf partial;
	int rotated; /* renamed away: read until idle ROTATED_GRACE_S */
	int more;    /* read up to its turn's budget: more is waiting */
	/* local format: bytes kept after the last batch; json-file, CRI:
	 * the whole lines kept for a join (hold_open) */
	size_t held;
	/* Where the lines of a PEM key with no END line yet begin in
	 * `partial`, after a scan (SIZE_MAX: none): hold_open() */
	size_t key_from;
	/* Docker's local format read here: where the frames of a key still
	 * open begin, and the entries before them (UINT64_MAX: none) */
	uint64_t key_off;
	unsigned long long key_line;
	long long rotated_at; /* monotonic s of the rotation, or of its last
			       * growth since: closed ROTATED_GRACE_S later */
	/* The last bytes read, ending at off: if they are not there any
	 * more, the file was truncated and written again past our offset. */
	char tail[64];
	size_t ntail;
	struct dw_local_log local; /* P_LOCAL: frames, not lines */
};

struct dw_logwatch {
	int ifd;
	int more; /* some followed file has more waiting (READ_TURN_MAX) */
	struct dw_store *store;
	dw_leak_fn fn;
	void *ctx;
	const struct dw_engine *engine;
	struct dw_scanner *scanner;
	/* The scanner process for lines (sandbox.h), or NULL: here. */
	struct dw_sandbox *sandbox;
	uint64_t max_file_size;
	struct dirw *dirs;
	size_t ndirs, dirs_alloc;
	struct pattern **pats;
	size_t npats, pats_alloc;
	struct followed **fol;
	size_t nfol, fol_alloc;
};

/* ---- findings ---- */

/* The record format of a pattern's files. */
static enum dw_log_format format_of(const struct pattern *p)
{
	return p->kind == P_DOCKER ? DW_LOG_DOCKER_JSON
	       : p->kind == P_CRI  ? DW_LOG_CRI
				   : DW_LOG_PLAIN;
}

struct found_ctx {
	struct dw_logwatch *w;
	const struct pattern *p;
	const char *path;
	const char *source;
};

static void report(struct found_ctx *k, const struct dw_finding *f,
		   const char *source, json_t *fields)
{
	/* Without a container name: the pattern's dir, never the file's
	 * own name (it may carry the secret; the path is redacted). */
	struct dw_leak_src src = {k->p->source_id,
				  k->p->name ? k->p->name : k->p->dir,
				  k->path,
				  strlen(k->path),
				  k->p->source_kind ? k->p->source_kind
						    : source,
				  1,
				  fields};

	k->w->fn(f, &src, k->w->ctx);
}

static int on_line_finding(const struct dw_finding *f, void *ctx)
{
	struct found_ctx *k = ctx;

	report(k, f, k->source, NULL);
	return 0;
}

static int on_source_finding(const struct dw_finding *f,
			     const struct dw_source *src, void *ctx)
{
	report(ctx, f, src->kind, src->fields);
	return 0;
}

/* ---- whole files: rotated .gz, dropped exports and mail ---- */

static unsigned long long mtime_ns(const struct stat *st)
{
	return (unsigned long long)st->st_mtim.tv_sec * 1000000000ull +
	       (unsigned long long)st->st_mtim.tv_nsec;
}

/*
 * A whole file in the scanner process: opened here (a regular file, not
 * followed if a symlink, at most max_file_size unless 0), decoded there.
 */
static int boxed_whole(struct dw_logwatch *w, const struct pattern *p,
		       const char *open_path, const char *path,
		       const struct dw_source_opts *o, struct found_ctx *k,
		       enum dw_scan_outcome *out, struct stat *st_out)
{
	char *copy = NULL;
	const char *channel = NULL;
	struct stat st;
	int fd, err;

	*out = DW_SCAN_DONE;
	if (p->kind == P_DROP && !strcmp(p->drop_kind, "slack")) {
		if (fnmatch("*.json", path, 0))
			return 0;
		copy = dw_xstrdup(path);
		channel = basename(dirname(copy));
	}
	fd = dw_open_regular(AT_FDCWD, open_path, 0, &st);
	if (fd < 0) {
		/* Swapped for a link or a FIFO since: not this file. */
		free(copy);
		return fd == DW_EUNSUPPORTED ? DW_EUNSUPPORTED : DW_EIO;
	}
	/* What is recorded as read is the file that was read. */
	*st_out = st;
	if (o->max_file_size && (uint64_t)st.st_size > o->max_file_size) {
		*out = DW_SCAN_SKIPPED_SIZE;
		err = 0;
	} else {
		err = dw_sandbox_scan_whole(w->sandbox, fd, path, channel,
					    o->max_file_size, WHOLE_BUDGET_MS,
					    out, on_source_finding, k);
	}
	/* "Binary" is the scanner's word: a file with no NUL byte where
	 * it looks (gzip, Docker's frames and archives are never binary)
	 * was not skipped for that. */
	if (!err && *out == DW_SCAN_SKIPPED_BINARY) {
		char head[8192];
		size_t len = strlen(path);
		ssize_t n =
			(len >= 3 && !strcmp(path + len - 3, ".gz")) ||
					!strcmp(dw_scan_decoder(path),
						DW_SOURCE_DOCKER_LOCAL_LOG) ||
					!strcmp(dw_scan_decoder(path),
						DW_SOURCE_MAIL) ||
					!strcmp(dw_scan_decoder(path),
						DW_SOURCE_ARCHIVE)
				? 0
				: pread(fd, head, sizeof(head), 0);

		if (n <= 0 || !memchr(head, '\0', (size_t)n))
			err = dw_error_set(DW_ELIMIT,
					   "the scanner called it binary, "
					   "and it is not");
	}
	close(fd);
	free(copy);
	return err;
}

/*
 * A whole file not scanned, or scanned in part (`what` says which; the
 * error says why): said in the log and an alert, naming it; it is not
 * tried again (its offset is recorded).
 */
static void whole_given_up(struct dw_logwatch *w, const struct pattern *p,
			   const char *path, const char *what)
{
	struct dw_buf shown = DW_BUF_INIT;
	char summary[900];
	json_t *a;

	dw_escape_path(&shown, path, strlen(path) < 300 ? strlen(path) : 300);
	snprintf(summary, sizeof(summary), "%s (%s): %s: %s", shown.ptr,
		 p->name ? p->name : p->dir, what, dw_error_last());
	dw_log_error("%s", summary);
	a = json_pack("{s:s, s:s, s:s}", "severity", "critical", "source",
		      p->source_id ? p->source_id : "", "path", shown.ptr);
	if (dw_store_alert(w->store, "evasion", summary, a))
		dw_log_warn("cannot queue an alert: %s", dw_error_last());
	json_decref(a);
	dw_buf_release(&shown);
}

static void scan_whole(struct dw_logwatch *w, const struct pattern *p,
		       const char *path)
{
	struct found_ctx k = {w, p, path, DW_SOURCE_FILE};
	struct dw_source_opts o = {.max_file_size = w->max_file_size};
	enum dw_scan_outcome out = DW_SCAN_DONE;
	unsigned long long line;
	long long done;
	struct stat st;
	char via[400];
	const char *open_path = path;
	size_t dl = strlen(p->dir);
	int err, dfd = -1;

	if (!w->scanner)
		return;
	if (p->kind == P_DROP) {
		/*
		 * A drop dir's files are opened beneath the dir as it is now:
		 * a dir renamed and replaced by a symlink (the watch follows
		 * the inode, the name would not) leads nowhere.
		 */
		if (strncmp(path, p->dir, dl) || path[dl] != '/' ||
		    strchr(path + dl + 1, '/'))
			return;
		dfd = open(p->dir,
			   O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (dfd < 0) {
			dw_log_warn("%s is not a directory any more (%s): %s "
				    "not read",
				    p->dir, strerror(errno), path + dl + 1);
			return;
		}
		snprintf(via, sizeof(via), "/proc/self/fd/%d/%s", dfd,
			 path + dl + 1);
		open_path = via;
	} else {
		/* Rotated logs are streamed: no size limit to skip them. */
		o.max_file_size = 0;
	}
	if (lstat(open_path, &st) || !S_ISREG(st.st_mode) ||
	    /* Once per file: the store remembers what was scanned whole,
	     * its size and its mtime (a rewrite in place of the same size
	     * is read again). */
	    (!dw_store_get_offset(w->store, path, st.st_dev, st.st_ino, &done,
				  &line) &&
	     done == st.st_size && line == mtime_ns(&st))) {
		if (dfd >= 0)
			close(dfd);
		return;
	}
	if (w->sandbox) {
		err = boxed_whole(w, p, open_path, path, &o, &k, &out, &st);
	} else if (p->kind == P_DROP && !strcmp(p->drop_kind, "slack")) {
		char *copy = dw_xstrdup(path), *ch = basename(dirname(copy));

		err = fnmatch("*.json", path, 0)
			      ? 0
			      : dw_scan_slack_file(w->scanner, open_path, path,
						   ch, &o, on_source_finding,
						   &k);
		free(copy);
	} else {
		err = dw_scan_path(w->scanner, open_path, path, &o,
				   on_source_finding, &k, &out);
	}
	if (dfd >= 0)
		close(dfd);
	if (err == DW_EUNSUPPORTED)
		return; /* no longer a regular file: its next event says */
	if (err == DW_ERROR) {
		/* No scanner could be started: tried again next time. */
		dw_log_error("%s not scanned yet: %s", path, dw_error_last());
		return;
	}
	if (err == DW_ELIMIT)
		whole_given_up(w, p, path, "not scanned for secrets");
	else if (err && w->sandbox)
		whole_given_up(w, p, path, "not scanned in full for secrets");
	else if (err)
		dw_log_warn("cannot scan %s: %s", path, dw_error_last());
	else if (out == DW_SCAN_SKIPPED_SIZE)
		dw_log_warn("%s not scanned: larger than max_file_size", path);
	else if (out == DW_SCAN_SKIPPED_BINARY)
		dw_log_info("%s not scanned: binary content", path);
	else if (out == DW_SCAN_TIMED_OUT) {
		dw_error_set(DW_ELIMIT, "its %d ms time budget ran out",
			     WHOLE_BUDGET_MS);
		whole_given_up(w, p, path, "scanned in part for secrets");
	}
	dw_store_put_offset(w->store, path, st.st_dev, st.st_ino, st.st_size,
			    mtime_ns(&st));
}

/* ---- followed files ---- */

static int on_boxed_finding(const struct dw_finding *f,
			    const struct dw_source *src, void *ctx)
{
	struct found_ctx *k = ctx;

	report(k, f, src ? src->kind : k->source, src ? src->fields : NULL);
	return 0;
}

static void said(struct dw_logwatch *w, struct followed *f, const char *what,
		 const char *how);

/*
 * What the scanner failed on twice (`what`: "lines", "entries" from
 * f->line + 1): not scanned, said in the log and in an alert naming the
 * file; the file is read on.
 */
static void not_scanned(struct dw_logwatch *w, struct followed *f,
			const char *what)
{
	said(w, f, what, "not scanned for secrets");
}

/* The same for what was scanned in part, or not joined (`how`). */
static void said(struct dw_logwatch *w, struct followed *f, const char *what,
		 const char *how)
{
	struct dw_buf shown = DW_BUF_INIT;
	char summary[900];
	json_t *p;

	dw_escape_path(&shown, f->path,
		       strlen(f->path) < 300 ? strlen(f->path) : 300);
	snprintf(summary, sizeof(summary), "%s (%s): %s from %llu %s: %s",
		 shown.ptr, f->p->name ? f->p->name : f->p->dir, what,
		 (unsigned long long)f->line + 1, how, dw_error_last());
	dw_log_error("%s", summary);
	p = json_pack("{s:s, s:s, s:s, s:I}", "severity", "critical", "source",
		      f->p->source_id ? f->p->source_id : "", "path", shown.ptr,
		      "line", (json_int_t)f->line + 1);
	if (dw_store_alert(w->store, "evasion", summary, p))
		dw_log_warn("cannot queue an alert: %s", dw_error_last());
	json_decref(p);
	dw_buf_release(&shown);
}

/* Lines in the scanner process (not_scanned() when it fails on them). */
static void boxed_lines(struct dw_logwatch *w, struct followed *f,
			const char *data, size_t len, enum dw_log_format fmt)
{
	struct found_ctx k = {w, f->p, f->path,
			      fmt == DW_LOG_DOCKER_JSON
				      ? DW_SOURCE_DOCKER_JSON_LOG
			      : fmt == DW_LOG_CRI ? DW_SOURCE_CRI_LOG
						  : DW_SOURCE_LOG};
	int timed_out = 0;
	size_t hold = len;

	if (!dw_sandbox_scan_lines(w->sandbox, fmt, data, len, f->line + 1,
				   on_boxed_finding, &k, &timed_out, &hold)) {
		/* (where a key's lines with no END line yet begin) */
		if (hold < len && f->p->kind != P_LOCAL)
			f->key_from = hold;
		if (timed_out & DW_LINES_TIMED_OUT) {
			dw_error_set(DW_ELIMIT, "the time budget ran out");
			said(w, f, "lines", "scanned in part for secrets");
		}
		if (timed_out & DW_LINES_KEY_CUT) {
			dw_error_set(DW_ELIMIT,
				     "a private key or .netrc entry open from "
				     "the first line of one of the scanner "
				     "process's 160 KiB pieces to its end: it "
				     "was scanned in pieces, not whole");
			said(w, f, "lines", "scanned in pieces for secrets");
		}
		if (timed_out & DW_LINES_UNJOINED) {
			dw_error_set(DW_ELIMIT,
				     "a piece of a long line left open for "
				     "over 160 KiB of other lines: it was "
				     "scanned, not joined with its rest");
			said(w, f, "lines", "scanned in pieces for secrets");
		}
		return;
	}
	not_scanned(w, f, "lines");
}

static void scan_lines(struct dw_logwatch *w, struct followed *f,
		       const char *data, size_t len)
{
	struct found_ctx k = {w, f->p, f->path, DW_SOURCE_LOG};
	enum dw_log_format fmt = format_of(f->p);
	struct dw_log_join join;
	size_t i, start = 0;

	/* What a container (or anyone) wrote: read in the scanner process. */
	if (w->sandbox && w->scanner) {
		boxed_lines(w, f, data, len,
			    f->p->kind == P_LOCAL ? DW_LOG_PLAIN : fmt);
		for (i = 0; i < len; i++)
			f->line += data[i] == '\n';
		return;
	}

	if (fmt == DW_LOG_PLAIN) {
		if (w->scanner)
			dw_scan_buffer(w->scanner, data, len, f->line + 1,
				       on_line_finding, &k);
		/* A key's lines with no END line yet, a .netrc entry before
		 * its password: given again with the next read (hold_open()).
		 */
		if (w->scanner && f->p->kind == P_LOG)
			f->key_from = dw_log_open_key(data, len, DW_LOG_ML_MAX);
		for (i = 0; i < len; i++)
			f->line += data[i] == '\n';
		return;
	}
	/* json-file, CRI: the decoder `scan` uses too, a line at a time,
	 * the pieces of a long line joined. */
	dw_log_join_init(&join);
	for (i = 0; i <= len; i++) {
		if (i < len && data[i] != '\n')
			continue;
		if (i > start && w->scanner)
			dw_scan_log_line(w->scanner, &join, fmt, data + start,
					 i - start, f->line + 1, start, f->path,
					 on_source_finding, &k);
		f->line += i < len;
		start = i + 1;
	}
	if (w->scanner) {
		uint64_t from = dw_log_join_finish(w->scanner, &join);

		if (from < len)
			f->key_from = (size_t)from;
	}
	dw_log_join_release(&join);
}

/*
 * The frames in the scanner process: those up to the end of the last
 * line that ended are consumed; the pieces of a line still open stay in
 * `partial` (each was scanned) and go again with what follows, joined
 * then (and after a restart: the offset kept is before them). When the
 * scanner fails on them twice, they are not scanned: said in the log and
 * an alert, and the log is read on.
 */
static void boxed_frames(struct dw_logwatch *w, struct followed *f)
{
	struct found_ctx k = {w, f->p, f->path, DW_SOURCE_DOCKER_LOCAL_LOG};
	struct dw_frames_result res;
	uint64_t n = 0;
	size_t used,
		whole = dw_frames_complete(f->partial.ptr, f->partial.len, &n);
	int err;

	f->line = f->local.entries;
	if (f->local.corrupt) {
		used = f->partial.len;
		boxed_lines(w, f, f->partial.ptr, used, DW_LOG_PLAIN);
	} else if ((err = dw_sandbox_scan_frames(
			    w->sandbox, f->partial.ptr, f->partial.len, f->path,
			    f->local.entries, &res, on_source_finding, &k))) {
		/* Let go of the whole frames only, counted; a frame cut at
		 * the end of the read waits for its rest. */
		not_scanned(w, f, "entries");
		used = whole;
		f->local.entries += n;
	} else {
		used = res.consumed;
		f->local.entries += res.entries;
		if (res.timed_out) {
			dw_error_set(DW_ELIMIT, "the time budget ran out");
			said(w, f, "entries", "scanned in part for secrets");
		}
		if (res.corrupt) {
			f->local.corrupt = 1;
			dw_log_warn("%s: not Docker's local log format after "
				    "entry %llu; the rest is scanned as raw "
				    "bytes",
				    f->path,
				    (unsigned long long)f->local.entries);
			f->line = f->local.entries;
			boxed_lines(w, f, f->partial.ptr + used,
				    f->partial.len - used, DW_LOG_PLAIN);
			used = f->partial.len;
		} else if (f->partial.len - used > HOLD_MAX) {
			/*
			 * A line held open past HOLD_MAX (Docker's pieces
			 * of it with another stream's lines between, or a
			 * scanner that never says where lines end): its
			 * pieces were scanned each; let go of the frames
			 * the scanner was given, and say so.
			 */
			uint64_t m = 0;
			size_t given = dw_frames_complete(
				f->partial.ptr,
				res.given < f->partial.len ? res.given
							   : f->partial.len,
				&m);

			if (given > used) {
				f->line = f->local.entries;
				dw_error_set(DW_ELIMIT,
					     "a line left open for over %u "
					     "MiB: its 16 KiB pieces were "
					     "scanned each, not joined",
					     HOLD_MAX >> 20);
				said(w, f, "entries",
				     "scanned in pieces for secrets");
				f->local.entries += m - res.entries;
				used = given;
			}
		}
	}
	f->line = f->local.entries;
	memmove(f->partial.ptr, f->partial.ptr + used, f->partial.len - used);
	dw_buf_setlen(&f->partial, f->partial.len - used);
	f->held = f->partial.len;
}

/*
 * Docker's local format: the complete frames gathered so far. A bad frame
 * is said once, and the rest of the file is scanned as raw bytes.
 */
static void read_frames(struct dw_logwatch *w, struct followed *f)
{
	struct found_ctx k = {w, f->p, f->path, DW_SOURCE_DOCKER_LOCAL_LOG};
	size_t used = f->partial.len, from = 0;

	if (w->sandbox && w->scanner) {
		boxed_frames(w, f);
		return;
	}
	if (!f->local.corrupt && w->scanner) {
		uint64_t at = (uint64_t)(f->off - (off_t)f->partial.len), end;

		f->local.base = at;
		used = dw_local_log_feed(w->scanner, &f->local, f->partial.ptr,
					 f->partial.len, f->path,
					 on_source_finding, &k);
		/* What each stream's kept lines hold, now; an open key's
		 * lines stay for what comes next (in memory, bounded by the
		 * rules' window of its stream's text), and a restart reads
		 * its frames again if they are within 64 KiB of the end. */
		end = at + used;
		f->key_off =
			dw_local_log_finish(w->scanner, &f->local, 1, 0,
					    f->path, on_source_finding, &k);
		if (f->key_off != UINT64_MAX &&
		    end - f->key_off > DW_LOG_ML_MAX)
			f->key_off = UINT64_MAX;
		f->key_line = f->local.ml.hold_line - 1;
		if (f->local.corrupt) {
			dw_log_warn("%s: not Docker's local log format after "
				    "entry %llu; the rest is scanned as raw "
				    "bytes",
				    f->path,
				    (unsigned long long)f->local.entries);
			from = used; /* the good frames were read already */
			used = f->partial.len;
			f->key_off = UINT64_MAX;
		}
	}
	if (f->local.corrupt && w->scanner && used > from)
		dw_scan_buffer(w->scanner, f->partial.ptr + from, used - from,
			       f->local.entries + 1, on_line_finding, &k);
	f->line = f->local.entries;
	memmove(f->partial.ptr, f->partial.ptr + used, f->partial.len - used);
	dw_buf_setlen(&f->partial, f->partial.len - used);
}

/*
 * json-file, CRI: the lines from the open piece of a long line on (read
 * and scanned) stay to be given again with what follows, so that the
 * piece is joined with its rest; their line numbers with them, and the
 * offset kept for a restart before them. Returns how many bytes of
 * partial[0..end) stay. Past HOLD_LINES_MAX, let go and said.
 */
static size_t hold_open(struct dw_logwatch *w, struct followed *f, size_t end)
{
	size_t keep = format_of(f->p) == DW_LOG_PLAIN
			      ? end
			      : dw_log_open_from(format_of(f->p),
						 f->partial.ptr, end),
	       i;

	if (end - keep > HOLD_LINES_MAX) {
		dw_error_set(DW_ELIMIT,
			     "a piece of a long line left open for over %u "
			     "KiB of other lines: it was scanned, not joined "
			     "with its rest",
			     HOLD_LINES_MAX >> 10);
		said(w, f, "lines", "scanned in pieces for secrets");
		return 0;
	}
	/* And from a PEM key's BEGIN line with no END line yet, or a
	 * .netrc entry's first line before its password: its other lines
	 * may come with the next read. One past the rules' window is not
	 * named (dw_log_open_key(), the join): no match can span it. Held
	 * too long for the room kept: let go, and said. */
	if (f->key_from < keep && end - f->key_from > HOLD_KEY_MAX) {
		dw_error_set(DW_ELIMIT,
			     "a private key or .netrc entry left open for "
			     "over %u KiB of the log: the lines from it were "
			     "scanned, not kept to be read with the rest",
			     HOLD_KEY_MAX >> 10);
		said(w, f, "lines", "scanned in pieces for secrets");
	} else if (f->key_from < keep) {
		keep = f->key_from;
	}
	f->key_from = SIZE_MAX;
	for (i = keep; i < end; i++)
		f->line -= f->partial.ptr[i] == '\n';
	return end - keep;
}

/* Read what was appended since last time. */
static void read_new(struct dw_logwatch *w, struct followed *f)
{
	char buf[64 * 1024];
	struct stat st;
	ssize_t n;
	size_t read_turn = 0, cut;
	int fresh = 0; /* local format: frames read, not yet given */

	if (fstat(f->fd, &st))
		return;
	if (st.st_size >= f->off && f->ntail) {
		char now[sizeof(f->tail)];

		if (pread(f->fd, now, f->ntail, f->off - (off_t)f->ntail) !=
			    (ssize_t)f->ntail ||
		    memcmp(now, f->tail, f->ntail))
			st.st_size = -1;
	}
	if (st.st_size < f->off) {
		dw_log_info("%s was truncated; reading it from the start",
			    f->path);
		f->off = 0;
		f->line = 0;
		f->ntail = 0;
		dw_buf_reset(&f->partial);
		f->held = 0;
		f->key_off = UINT64_MAX;
		dw_local_log_release(&f->local);
	}
	f->more = 0;
	n = 0;
	while (read_turn < READ_TURN_MAX &&
	       (n = pread(f->fd, buf, sizeof(buf), f->off)) > 0) {
		size_t end, keep = (size_t)n < sizeof(f->tail)
					   ? (size_t)n
					   : sizeof(f->tail);

		read_turn += (size_t)n;
		if (f->ntail + keep > sizeof(f->tail)) {
			size_t drop = f->ntail + keep - sizeof(f->tail);

			memmove(f->tail, f->tail + drop, f->ntail - drop);
			f->ntail -= drop;
		}
		memcpy(f->tail + f->ntail, buf + n - keep, keep);
		f->ntail += keep;
		f->off += n;
		dw_buf_add(&f->partial, buf, (size_t)n);
		if (f->p->kind == P_LOCAL) {
			/* Frames in batches (a line still open is given
			 * again with each: not with every 64 KiB). */
			fresh = 1;
			if (f->partial.len - f->held >= LOCAL_BATCH) {
				read_frames(w, f);
				fresh = 0;
			}
			continue;
		}
		end = f->partial.len;
		while (end && f->partial.ptr[end - 1] != '\n')
			end--;
		cut = 0;
		/* No new whole line (past those held for a join): wait. */
		if (end <= f->held) {
			if (f->partial.len - f->held < PARTIAL_MAX)
				continue;
			end = f->partial.len, cut = LINE_OVERLAP;
		}
		scan_lines(w, f, f->partial.ptr, end);
		f->held = 0;
		if (!cut)
			f->held = cut = hold_open(w, f, end);
		f->key_from = SIZE_MAX;
		/* A line cut at PARTIAL_MAX: its last bytes stay, to be
		 * scanned with what follows (a secret across the cut is
		 * found; one found twice is stored once). */
		memmove(f->partial.ptr, f->partial.ptr + end - cut,
			f->partial.len - end + cut);
		dw_buf_setlen(&f->partial, f->partial.len - end + cut);
	}
	/* The rest next turn (the caller polls at once). */
	if (n > 0 && read_turn >= READ_TURN_MAX)
		f->more = w->more = 1;
	if (fresh)
		read_frames(w, f);
	/* Resume after the last complete line (not of a file rotated
	 * away: its path names the new one now, whose offset this is), or
	 * at an open key's frames kept in memory (read_frames()). */
	if (!f->rotated) {
		off_t at = f->off - (off_t)f->partial.len;
		unsigned long long line = f->line;

		if (f->key_off < (uint64_t)at) {
			at = (off_t)f->key_off;
			line = f->key_line;
		}
		dw_store_put_offset(w->store, f->path, f->dev, f->ino, at,
				    line);
	}
}

static struct followed *find_followed(struct dw_logwatch *w, const char *path)
{
	size_t i;

	for (i = 0; i < w->nfol; i++)
		if (!w->fol[i]->rotated && !strcmp(w->fol[i]->path, path))
			return w->fol[i];
	return NULL;
}

static void drop_followed(struct dw_logwatch *w, size_t i)
{
	struct followed *f = w->fol[i];

	/* A last line without its newline is still a line (the pieces of
	 * a local-format line held back were scanned each already). */
	if (f->partial.len && f->p->kind != P_LOCAL && w->scanner)
		scan_lines(w, f, f->partial.ptr, f->partial.len);

	close(f->fd);
	free(f->path);
	dw_buf_release(&f->partial);
	dw_local_log_release(&f->local);
	free(f);
	w->fol[i] = w->fol[--w->nfol];
}

static struct followed *follow(struct dw_logwatch *w, const struct pattern *p,
			       const char *path)
{
	struct followed *f;
	unsigned long long line = 0;
	long long off = 0;
	struct stat st;
	/* Never a symlink out of the directory, a FIFO or a device. */
	int fd = dw_open_regular(AT_FDCWD, path, 0, &st);

	if (fd < 0) {
		static long long warned_ms;

		/* Gone, or not a regular file: not to be followed. Out of
		 * descriptors: said (at most once a minute), not silent. */
		if ((errno == EMFILE || errno == ENFILE) &&
		    dw_mono_ms() - warned_ms >= 60000) {
			warned_ms = dw_mono_ms();
			dw_log_warn("%s: not followed: %s", path,
				    dw_error_last());
		}
		return NULL;
	}
	/* The same file as before the restart: go on where we were. */
	if (dw_store_get_offset(w->store, path, st.st_dev, st.st_ino, &off,
				&line) ||
	    off > st.st_size) {
		off = 0;
		line = 0;
	}
	f = dw_xcalloc(1, sizeof(*f));
	f->key_from = SIZE_MAX;
	f->key_off = UINT64_MAX;
	f->path = dw_xstrdup(path);
	f->p = p;
	f->fd = fd;
	f->dev = st.st_dev;
	f->ino = st.st_ino;
	f->off = off;
	f->line = line;
	f->local.entries = line;
	dw_buf_init(&f->partial, 0);
	DW_ALLOC_GROW(w->fol, w->nfol + 1, w->fol_alloc);
	w->fol[w->nfol++] = f;
	return f;
}

/* ---- directories and patterns ---- */

static void watch_dir(struct dw_logwatch *w, const char *dir)
{
	size_t i;
	int wd;

	for (i = 0; i < w->ndirs; i++)
		if (!strcmp(w->dirs[i].dir, dir))
			return;
	wd = inotify_add_watch(w->ifd, dir, DIR_MASK);
	if (wd < 0) {
		dw_log_warn("cannot watch %s: %s", dir, strerror(errno));
		return;
	}
	DW_ALLOC_GROW(w->dirs, w->ndirs + 1, w->dirs_alloc);
	w->dirs[w->ndirs].wd = wd;
	w->dirs[w->ndirs++].dir = dw_xstrdup(dir);
}

static int is_whole(const struct pattern *p, const char *name)
{
	size_t n = strlen(name);

	return p->kind == P_DROP || (n > 3 && !strcmp(name + n - 3, ".gz"));
}

/* A file of pattern `p` found already there. */
static void take(struct dw_logwatch *w, const struct pattern *p,
		 const char *path)
{
	struct followed *f;

	if (is_whole(p, path)) {
		scan_whole(w, p, path);
		return;
	}
	f = find_followed(w, path);
	if (!f)
		f = follow(w, p, path);
	if (f)
		read_new(w, f);
}

/* `f` was renamed away, deleted or replaced under its name. */
static void mark_rotated(struct dw_logwatch *w, struct followed *f)
{
	size_t j, n = 0, old = 0;

	if (!f->rotated)
		f->rotated_at = (dw_mono_ms() / 1000);
	f->rotated = 1;
	for (j = 0; j < w->nfol; j++)
		if (w->fol[j]->rotated &&
		    (!n++ || w->fol[j]->rotated_at < w->fol[old]->rotated_at))
			old = j;
	if (n <= ROTATED_MAX)
		return;
	dw_log_warn("%s: over %d logs rotated away or deleted are still "
		    "written to; the one idle longest is read once more "
		    "(up to 4 MiB) and closed: what is left in it and what "
		    "its writer writes to it from now on is not read",
		    w->fol[old]->path, ROTATED_MAX);
	read_new(w, w->fol[old]);
	drop_followed(w, old);
}

int dw_logwatch_continue(struct dw_logwatch *w)
{
	size_t j;

	if (!w->more)
		return 0;
	w->more = 0;
	for (j = 0; j < w->nfol; j++)
		if (w->fol[j]->more)
			read_new(w, w->fol[j]);
	return w->more;
}

void dw_logwatch_tick(struct dw_logwatch *w)
{
	long long now = (dw_mono_ms() / 1000);
	size_t j;

	for (j = w->nfol; j-- > 0;) {
		struct followed *f = w->fol[j];
		off_t was = f->off;

		if (!f->rotated)
			continue;
		/* No inotify event tells of writes to a file no longer in
		 * its directory: read it now and then. */
		read_new(w, f);
		if (f->off != was || f->more)
			f->rotated_at = now;
		else if (now - f->rotated_at >= ROTATED_GRACE_S) {
			dw_log_info(
				"%s: rotated away or deleted and not written "
				"for %d s: read to its end and closed",
				f->path, ROTATED_GRACE_S);
			drop_followed(w, j);
		}
	}
}

static struct pattern *add_pattern(struct dw_logwatch *w, const char *dir,
				   const char *glob, enum pkind kind,
				   const char *drop_kind, const char *source_id,
				   const char *name)
{
	struct pattern *p = dw_xcalloc(1, sizeof(*p));

	p->dir = dw_xstrdup(dir);
	p->glob = dw_xstrdup(glob);
	p->kind = kind;
	p->drop_kind = drop_kind ? dw_xstrdup(drop_kind) : NULL;
	p->source_id = dw_xstrdup(source_id);
	p->name = name ? dw_xstrdup(name) : NULL;
	DW_ALLOC_GROW(w->pats, w->npats + 1, w->pats_alloc);
	w->pats[w->npats++] = p;
	watch_dir(w, dir);
	return p;
}

static void free_pattern(struct pattern *p)
{
	free(p->dir);
	free(p->glob);
	free(p->drop_kind);
	free(p->source_id);
	free(p->name);
	free(p);
}

/* Drop pattern i and stop following its files. */
static void remove_pattern(struct dw_logwatch *w, size_t i)
{
	struct pattern *p = w->pats[i];
	size_t j;

	for (j = w->nfol; j-- > 0;)
		if (w->fol[j]->p == p) {
			read_new(w, w->fol[j]);
			drop_followed(w, j);
		}
	free_pattern(p);
	w->pats[i] = w->pats[--w->npats];
}

/* Everything already there that `p` names. */
static void take_existing(struct dw_logwatch *w, const struct pattern *p)
{
	struct dw_buf pat = DW_BUF_INIT;
	glob_t g;
	size_t i;

	dw_buf_addf(&pat, "%s/%s", p->dir, p->glob);
	if (!glob(pat.ptr, GLOB_NOSORT, NULL, &g)) {
		for (i = 0; i < g.gl_pathc; i++)
			take(w, p, g.gl_pathv[i]);
		globfree(&g);
	}
	dw_buf_release(&pat);
}

static void add_drop(struct dw_logwatch *w, const struct dw_drop_dir *d)
{
	struct dw_buf id = DW_BUF_INIT;
	struct pattern *p;
	glob_t g;
	size_t i;

	dw_buf_addf(&id, "drop:%s", d->path);
	p = add_pattern(w, d->path, "*", P_DROP, d->kind, id.ptr, NULL);
	p->configured = 1;
	take_existing(w, p);
	/* A Slack export is one directory per channel. */
	if (!strcmp(d->kind, "slack")) {
		dw_buf_reset(&id);
		dw_buf_addf(&id, "%s/*/", d->path);
		if (!glob(id.ptr, GLOB_ONLYDIR | GLOB_NOSORT, NULL, &g)) {
			for (i = 0; i < g.gl_pathc; i++) {
				size_t n = strlen(g.gl_pathv[i]);
				struct stat st;

				if (n && g.gl_pathv[i][n - 1] == '/')
					g.gl_pathv[i][n - 1] = '\0';
				/* glob's ONLYDIR takes symlinks to dirs too:
				 * one would lead out of the drop dir. */
				if (lstat(g.gl_pathv[i], &st) ||
				    !S_ISDIR(st.st_mode))
					continue;
				p = add_pattern(w, g.gl_pathv[i], "*.json",
						P_DROP, "slack", p->source_id,
						NULL);
				p->configured = 1;
				take_existing(w, p);
			}
			globfree(&g);
		}
	}
	dw_buf_release(&id);
}

void dw_logwatch_set_sandbox(struct dw_logwatch *w, struct dw_sandbox *sb)
{
	w->sandbox = sb;
}

void dw_logwatch_configure(struct dw_logwatch *w, char *const *globs,
			   size_t nglobs, const struct dw_drop_dir *drops,
			   size_t ndrops, const struct dw_engine *engine,
			   uint64_t max_file_size)
{
	size_t i;

	/* Files already followed are drained with the old engine. */
	for (i = w->npats; i-- > 0;)
		if (w->pats[i]->configured)
			remove_pattern(w, i);
	dw_scanner_track(&w->scanner, &w->engine, engine);
	w->max_file_size = max_file_size;
	for (i = 0; i < nglobs; i++) {
		char *a = dw_xstrdup(globs[i]), *b = dw_xstrdup(globs[i]);
		struct dw_buf id = DW_BUF_INIT;
		struct pattern *p;

		dw_buf_addf(&id, "log:%s", globs[i]);
		p = add_pattern(w, dirname(a), basename(b), P_LOG, NULL, id.ptr,
				NULL);
		p->configured = 1;
		take_existing(w, p);
		dw_buf_release(&id);
		free(a);
		free(b);
	}
	for (i = 0; i < ndrops; i++)
		add_drop(w, &drops[i]);
}

void dw_logwatch_add_container(struct dw_logwatch *w, const char *id,
			       const char *name, const char *log_path,
			       int local_format)
{
	char *a, *b;
	size_t i;
	struct pattern *p;

	if (!log_path || !*log_path)
		return;
	for (i = 0; i < w->npats; i++)
		if (!strcmp(w->pats[i]->source_id, id))
			return;
	a = dw_xstrdup(log_path);
	b = dw_xstrdup(log_path);
	p = add_pattern(w, dirname(a), basename(b),
			local_format ? P_LOCAL : P_DOCKER, NULL, id, name);
	take_existing(w, p);
	/*
	 * Rotated before we first saw the container (".1", ".2.gz"): read
	 * whole, once. Later rotations were drained through the open file.
	 */
	{
		struct dw_buf pat = DW_BUF_INIT;
		glob_t g;

		dw_buf_addf(&pat, "%s.*", log_path);
		if (!glob(pat.ptr, GLOB_NOSORT, NULL, &g)) {
			for (i = 0; i < g.gl_pathc; i++)
				scan_whole(w, p, g.gl_pathv[i]);
			globfree(&g);
		}
		dw_buf_release(&pat);
	}
	free(a);
	free(b);
}

void dw_logwatch_remove_container(struct dw_logwatch *w, const char *id)
{
	size_t i;

	for (i = w->npats; i-- > 0;)
		if (!w->pats[i]->configured && !w->pats[i]->pods &&
		    !strcmp(w->pats[i]->source_id, id))
			remove_pattern(w, i);
}

size_t dw_logwatch_scan_records(struct dw_logwatch *w, const char *source_id,
				const char *name, const char *display,
				const char *kind, const char *data, size_t len,
				uint64_t line_base)
{
	struct pattern p;
	struct followed f;

	memset(&p, 0, sizeof(p));
	memset(&f, 0, sizeof(f));
	p.dir = (char *)display;
	p.glob = (char *)"";
	p.kind = P_CRI;
	p.source_id = (char *)source_id;
	p.name = (char *)name;
	p.source_kind = kind;
	f.path = (char *)display;
	f.p = &p;
	f.fd = -1;
	f.line = line_base ? line_base - 1 : 0;
	f.key_from = SIZE_MAX;
	scan_lines(w, &f, data, len);
	return f.key_from < len ? f.key_from : len;
}

/* ---- Kubernetes' pod logs ---- */

/* The real directories in `dir` (never a symlink out of it). */
static void each_subdir(struct dw_logwatch *w, const char *dir,
			void (*fn)(struct dw_logwatch *w, const char *path))
{
	struct dw_buf path = DW_BUF_INIT;
	struct dirent *de;
	DIR *d = opendir(dir);

	if (!d)
		return;
	while ((de = readdir(d))) {
		struct stat st;

		if (de->d_name[0] == '.')
			continue;
		dw_buf_reset(&path);
		dw_buf_addf(&path, "%s/%s", dir, de->d_name);
		if (!lstat(path.ptr, &st) && S_ISDIR(st.st_mode))
			fn(w, path.ptr);
	}
	closedir(d);
	dw_buf_release(&path);
}

/* A container's dir <root>/<ns>_<pod>_<uid>/<container>. */
static void add_pod_container(struct dw_logwatch *w, const char *path)
{
	const char *c = strrchr(path, '/'), *pod, *u1, *u2;
	struct dw_buf id = DW_BUF_INIT, name = DW_BUF_INIT, pat = DW_BUF_INIT;
	struct pattern *p;
	size_t i;
	glob_t g;

	for (i = 0; i < w->npats; i++)
		if (w->pats[i]->kind == P_CRI && !strcmp(w->pats[i]->dir, path))
			return;
	for (pod = c; pod > path && pod[-1] != '/'; pod--)
		;
	u1 = memchr(pod, '_', (size_t)(c - pod));
	u2 = u1 ? memchr(u1 + 1, '_', (size_t)(c - u1 - 1)) : NULL;
	if (!u2) {
		dw_log_warn("%s: not a pod's log dir (<namespace>_<pod>_<uid>)",
			    path);
		return;
	}
	dw_buf_addf(&id, "pod:%.*s/%s", (int)(c - u2 - 1), u2 + 1, c + 1);
	dw_buf_addf(&name, "%.*s/%.*s/%s", (int)(u1 - pod), pod,
		    (int)(u2 - u1 - 1), u1 + 1, c + 1);
	p = add_pattern(w, path, "*.log", P_CRI, NULL, id.ptr, name.ptr);
	p->pods = 1;
	take_existing(w, p);
	/* Rotated before we saw them (N.log.<time>, .gz): read once. */
	dw_buf_addf(&pat, "%s/*.log.*", path);
	if (!glob(pat.ptr, GLOB_NOSORT, NULL, &g)) {
		for (i = 0; i < g.gl_pathc; i++)
			scan_whole(w, p, g.gl_pathv[i]);
		globfree(&g);
	}
	dw_buf_release(&pat);
	dw_buf_release(&id);
	dw_buf_release(&name);
}

/* A pod's dir: its containers' dirs, as they come. */
static void add_pod(struct dw_logwatch *w, const char *path)
{
	struct pattern *p;
	size_t i;

	for (i = 0; i < w->npats; i++)
		if (w->pats[i]->kind == P_CRI_POD &&
		    !strcmp(w->pats[i]->dir, path))
			break;
	if (i == w->npats) {
		p = add_pattern(w, path, "*", P_CRI_POD, NULL, "pods", NULL);
		p->pods = 1;
	}
	each_subdir(w, path, add_pod_container);
}

/* A pod's dir or container's dir went away: its patterns go too. */
static void remove_pods_under(struct dw_logwatch *w, const char *path)
{
	size_t i, n = strlen(path);

	for (i = w->npats; i-- > 0;)
		if (w->pats[i]->pods && w->pats[i]->kind != P_CRI_ROOT &&
		    !strncmp(w->pats[i]->dir, path, n) &&
		    (w->pats[i]->dir[n] == '/' || !w->pats[i]->dir[n]))
			remove_pattern(w, i);
}

/*
 * inotify's queue overflowed: pods and containers that came or went
 * meanwhile are found by listing them again.
 */
static void rescan_pods(struct dw_logwatch *w)
{
	char *root = NULL;
	struct stat st;
	size_t i;

	for (i = w->npats; i-- > 0;)
		if (w->pats[i]->pods && w->pats[i]->kind != P_CRI_ROOT &&
		    (lstat(w->pats[i]->dir, &st) || !S_ISDIR(st.st_mode)))
			remove_pattern(w, i);
	for (i = 0; i < w->npats && !root; i++)
		if (w->pats[i]->kind == P_CRI_ROOT)
			root = dw_xstrdup(w->pats[i]->dir);
	if (root)
		each_subdir(w, root, add_pod);
	free(root);
}

int dw_logwatch_pod_logs(struct dw_logwatch *w, const char *root)
{
	struct pattern *p;
	struct stat st;
	size_t i;

	for (i = 0; i < w->npats; i++)
		if (w->pats[i]->kind == P_CRI_ROOT)
			break;
	if (i < w->npats && root && !strcmp(w->pats[i]->dir, root))
		return 1;
	for (i = w->npats; i-- > 0;)
		if (w->pats[i]->pods)
			remove_pattern(w, i);
	if (!root || !*root)
		return 0;
	/* The operator's path: a symlink to the real one is followed. */
	if (stat(root, &st) || !S_ISDIR(st.st_mode))
		return 0;
	p = add_pattern(w, root, "*", P_CRI_ROOT, NULL, "pods", NULL);
	p->pods = 1;
	each_subdir(w, root, add_pod);
	return 1;
}

void dw_logwatch_keep_containers(struct dw_logwatch *w, char *const *ids,
				 size_t n)
{
	size_t i, j;

	for (i = w->npats; i-- > 0;) {
		if (w->pats[i]->configured || w->pats[i]->pods)
			continue;
		for (j = 0; j < n; j++)
			if (!strcmp(ids[j], w->pats[i]->source_id))
				break;
		if (j == n)
			remove_pattern(w, i);
	}
}

static void on_event(struct dw_logwatch *w, const struct inotify_event *ev)
{
	struct dw_buf path = DW_BUF_INIT;
	const char *dir = NULL;
	size_t i;

	for (i = 0; i < w->ndirs; i++)
		if (w->dirs[i].wd == ev->wd)
			break;
	if (i == w->ndirs)
		return;
	if (ev->mask & IN_IGNORED) {
		free(w->dirs[i].dir);
		w->dirs[i] = w->dirs[--w->ndirs];
		return;
	}
	dir = w->dirs[i].dir;
	if (!ev->len)
		return;
	dw_buf_addf(&path, "%s/%s", dir, ev->name);
	for (i = 0; i < w->npats; i++) {
		struct pattern *p = w->pats[i];
		struct followed *f;

		/* A pod's rotated logs, compressed: read whole, once. */
		if (strcmp(p->dir, dir) ||
		    (fnmatch(p->glob, ev->name, 0) &&
		     !(p->kind == P_CRI &&
		       !fnmatch("*.log.*.gz", ev->name, 0))))
			continue;
		if ((ev->mask & IN_ISDIR) && p->kind == P_DROP &&
		    !strcmp(p->drop_kind, "slack") && !strcmp(p->glob, "*")) {
			/* A new channel directory of a Slack export (a real
			 * one: never a symlink out of the drop dir). */
			struct pattern *c;
			struct stat st;

			if (lstat(path.ptr, &st) || !S_ISDIR(st.st_mode))
				break;
			c = add_pattern(w, path.ptr, "*.json", P_DROP, "slack",
					p->source_id, NULL);
			c->configured = 1;
			take_existing(w, c);
			break;
		}
		if (p->kind == P_CRI_ROOT || p->kind == P_CRI_POD) {
			struct stat st;

			if (!(ev->mask & IN_ISDIR))
				continue;
			if (ev->mask & (IN_DELETE | IN_MOVED_FROM))
				remove_pods_under(w, path.ptr);
			else if ((ev->mask & (IN_CREATE | IN_MOVED_TO)) &&
				 !lstat(path.ptr, &st) && S_ISDIR(st.st_mode))
				(p->kind == P_CRI_ROOT
					 ? add_pod
					 : add_pod_container)(w, path.ptr);
			break;
		}
		if (ev->mask & IN_ISDIR)
			continue;
		if (is_whole(p, ev->name)) {
			if (ev->mask & (IN_CLOSE_WRITE | IN_MOVED_TO))
				scan_whole(w, p, path.ptr);
			continue;
		}
		f = find_followed(w, path.ptr);
		if (f && (ev->mask & (IN_MOVED_FROM | IN_DELETE))) {
			/* Rotated away or deleted: read it out, keep the fd
			 * for the writer's last lines (dw_logwatch_tick). */
			read_new(w, f);
			mark_rotated(w, f);
			continue;
		}
		if (ev->mask & (IN_CREATE | IN_MOVED_TO)) {
			struct stat st;

			/* Replaced under its name: the old one is rotated. */
			if (f && !stat(path.ptr, &st) && st.st_ino != f->ino) {
				mark_rotated(w, f);
				f = NULL;
			}
			if (!f)
				f = follow(w, p, path.ptr);
		}
		if (!f && (ev->mask & (IN_MODIFY | IN_CLOSE_WRITE)))
			f = follow(w, p, path.ptr);
		if (f)
			read_new(w, f);
	}
	dw_buf_release(&path);
}

void dw_logwatch_read_events(struct dw_logwatch *w)
{
	char buf[16 * 1024]
		__attribute__((aligned(__alignof__(struct inotify_event))));
	ssize_t n;

	while ((n = read(w->ifd, buf, sizeof(buf))) > 0) {
		char *p;

		for (p = buf; p < buf + n;) {
			const struct inotify_event *ev = (void *)p;

			p += sizeof(*ev) + ev->len;
			if (ev->mask & IN_Q_OVERFLOW) {
				size_t i;

				/* Reading a followed file again is harmless:
				 * it goes on from its offset. */
				for (i = 0; i < w->nfol; i++)
					read_new(w, w->fol[i]);
				rescan_pods(w);
				continue;
			}
			on_event(w, ev);
		}
	}
}

size_t dw_logwatch_count(const struct dw_logwatch *w)
{
	return w->nfol;
}

int dw_logwatch_new(struct dw_logwatch **out, struct dw_store *store,
		    dw_leak_fn fn, void *ctx)
{
	struct dw_logwatch *w = dw_xcalloc(1, sizeof(*w));

	w->ifd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	if (w->ifd < 0) {
		free(w);
		return dw_error_errno(DW_ERROR, errno, "cannot start inotify");
	}
	w->store = store;
	w->fn = fn;
	w->ctx = ctx;
	*out = w;
	return 0;
}

int dw_logwatch_fd(const struct dw_logwatch *w)
{
	return w->ifd;
}

void dw_logwatch_free(struct dw_logwatch *w)
{
	size_t i;

	if (!w)
		return;
	while (w->nfol)
		drop_followed(w, w->nfol - 1);
	for (i = 0; i < w->npats; i++)
		free_pattern(w->pats[i]);
	for (i = 0; i < w->ndirs; i++)
		free(w->dirs[i].dir);
	free(w->pats);
	free(w->dirs);
	free(w->fol);
	dw_scanner_free(w->scanner);
	close(w->ifd);
	free(w);
}
