/* Baselines of driftwatch scan: fingerprints not to report, and writing
 * a new baseline. */
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "scan_baseline.h"
#include "driftwatch/buf.h"
#include "driftwatch/error.h"
#include "driftwatch/safeopen.h"
#include "driftwatch/xmalloc.h"
#include "driftwatch/banned.h"

/* A report larger than this is refused (a million findings is ~500 MB). */
#define BASELINE_MAX (1ull << 30)
#define SARIF_KEY "driftwatch/v1"

void scan_fpset_add(struct scan_fpset *s, const char *fp)
{
	if (s->n == s->alloc) {
		s->alloc = s->alloc ? 2 * s->alloc : 16;
		s->fp = dw_xreallocarray(s->fp, s->alloc, sizeof(*s->fp));
	}
	s->fp[s->n++] = dw_xstrdup(fp);
	s->sealed = 0;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

void scan_fpset_seal(struct scan_fpset *s)
{
	size_t i, k = 0;

	if (s->n > 1)
		qsort(s->fp, s->n, sizeof(*s->fp), cmp_str);
	for (i = 0; i < s->n; i++) {
		if (k && !strcmp(s->fp[k - 1], s->fp[i]))
			free(s->fp[i]);
		else
			s->fp[k++] = s->fp[i];
	}
	s->n = k;
	free(s->used);
	s->used = dw_xcalloc(s->n + 1, 1);
	s->sealed = 1;
}

int scan_fpset_hit(struct scan_fpset *s, const char *fp)
{
	char **at;

	if (!s->n)
		return 0;
	if (!s->sealed)
		scan_fpset_seal(s);
	at = bsearch(&fp, s->fp, s->n, sizeof(*s->fp), cmp_str);
	if (!at)
		return 0;
	s->used[at - s->fp] = 1;
	return 1;
}

void scan_fpset_free(struct scan_fpset *s)
{
	dw_strv_free(s->fp, s->n);
	free(s->used);
	memset(s, 0, sizeof(*s));
}

/* "sha256:" and 64 lowercase hex digits: what scan reports. */
static int fp_valid(const char *s)
{
	size_t i;

	if (!s || strlen(s) != 71 || strncmp(s, "sha256:", 7))
		return 0;
	for (i = 7; i < 71; i++)
		if (!((s[i] >= '0' && s[i] <= '9') ||
		      (s[i] >= 'a' && s[i] <= 'f')))
			return 0;
	return 1;
}

/* Line numbers, counted on from where the last one was asked (linear). */
struct lines {
	const char *p;
	size_t off;
	unsigned long line;
};

static unsigned long line_at(struct lines *l, size_t off)
{
	for (; l->off < off; l->off++)
		l->line += l->p[l->off] == '\n';
	return l->line;
}

/* One finding record (json, jsonl): its "fingerprint". */
static int add_record(struct scan_fpset *s, json_t *rec, const char *path,
		      unsigned long line, size_t index)
{
	const char *fp = json_string_value(json_object_get(rec, "fingerprint"));

	if (fp_valid(fp)) {
		scan_fpset_add(s, fp);
		return 0;
	}
	return dw_error_set(DW_EINVAL,
			    "%s:%lu: finding %zu has no fingerprint of "
			    "driftwatch scan (\"sha256:\" and 64 hex digits)",
			    path, line, index + 1);
}

/* A SARIF log: each result's partialFingerprints."driftwatch/v1". */
static int add_sarif(struct scan_fpset *s, json_t *doc, const char *path,
		     unsigned long line)
{
	json_t *runs = json_object_get(doc, "runs"), *run, *res;
	size_t i, k;

	if (!json_is_array(runs))
		return dw_error_set(DW_EINVAL,
				    "%s:%lu: \"runs\" is not an "
				    "array",
				    path, line);
	json_array_foreach(runs, i, run)
	{
		json_t *results = json_object_get(run, "results");

		if (!json_is_object(run))
			return dw_error_set(DW_EINVAL,
					    "%s:%lu: run %zu is not an object",
					    path, line, i + 1);
		if (!results)
			continue;
		if (!json_is_array(results))
			return dw_error_set(DW_EINVAL,
					    "%s:%lu: run %zu: \"results\" is "
					    "not an array",
					    path, line, i + 1);
		json_array_foreach(results, k, res)
		{
			const char *fp = json_string_value(json_object_get(
				json_object_get(res, "partialFingerprints"),
				SARIF_KEY));

			if (!fp_valid(fp))
				return dw_error_set(
					DW_EINVAL,
					"%s:%lu: run %zu, result %zu has no "
					"partialFingerprints.\"" SARIF_KEY "\" "
					"(not a SARIF log of driftwatch scan)",
					path, line, i + 1, k + 1);
			scan_fpset_add(s, fp);
		}
	}
	return 0;
}

/* One top-level JSON value of the report. */
static int add_value(struct scan_fpset *s, json_t *v, const char *path,
		     unsigned long line, size_t *nrec, int *incomplete)
{
	json_t *findings = json_object_get(v, "findings"), *rec;
	size_t i;
	int err;

	/* Said, not refused: what it lacks is reported again (loud). */
	if (json_is_false(json_object_get(v, "complete")) ||
	    json_is_false(json_object_get(
		    json_array_get(
			    json_object_get(
				    json_array_get(json_object_get(v, "runs"),
						   0),
				    "invocations"),
			    0),
		    "executionSuccessful")))
		*incomplete = 1;

	if (!json_is_object(v))
		return dw_error_set(DW_EINVAL,
				    "%s:%lu: not a report of driftwatch scan "
				    "(json, jsonl or sarif)",
				    path, line);
	if (json_object_get(v, "runs"))
		return add_sarif(s, v, path, line);
	if (findings) { /* --format json */
		if (!json_is_array(findings))
			return dw_error_set(DW_EINVAL,
					    "%s:%lu: \"findings\" is not an "
					    "array",
					    path, line);
		json_array_foreach(findings, i, rec)
		{
			err = add_record(s, rec, path, line, i);
			if (err)
				return err;
		}
		return 0;
	}
	return add_record(s, v, path, line, (*nrec)++); /* a jsonl line */
}

static int load(struct scan_fpset *s, const char *path, int quiet);

int scan_baseline_load(struct scan_fpset *s, const char *path)
{
	return load(s, path, 0);
}

static int load(struct scan_fpset *s, const char *path, int quiet)
{
	struct scan_fpset got;
	struct dw_buf b;
	struct stat st;
	struct lines lines;
	size_t off = 0, nrec = 0, i;
	int fd, err = 0, incomplete = 0;

	memset(&got, 0, sizeof(got));
	fd = dw_open_regular(AT_FDCWD, path, DW_OPEN_FOLLOW, &st);
	if (fd == DW_ENOTFOUND || fd == DW_EUNSUPPORTED)
		return dw_error_set(fd == DW_ENOTFOUND ? DW_EIO : DW_EINVAL,
				    "cannot read the baseline %s: %s", path,
				    fd == DW_ENOTFOUND ? strerror(ENOENT)
						       : "not a regular file");
	if (fd < 0)
		return fd;
	dw_buf_init(&b, BASELINE_MAX);
	err = dw_buf_read_fd(&b, fd);
	close(fd);
	if (err == DW_ELIMIT)
		err = dw_error_set(DW_EINVAL,
				   "the baseline %s is larger than %llu "
				   "bytes",
				   path, (unsigned long long)BASELINE_MAX);
	else if (err)
		err = dw_error_set(DW_EIO, "cannot read the baseline %s: %s",
				   path, dw_error_last());
	/* One JSON document (json, sarif) or one per line (jsonl). */
	lines.p = b.ptr;
	lines.off = 0;
	lines.line = 1;
	while (!err) {
		json_error_t je;
		json_t *v;

		while (off < b.len && strchr(" \t\r\n", b.ptr[off]))
			off++;
		if (off >= b.len)
			break;
		v = json_loadb(b.ptr + off, b.len - off,
			       JSON_DISABLE_EOF_CHECK | JSON_ALLOW_NUL, &je);
		if (!v) {
			/* Where it went wrong (at the end: on the last line).
			 */
			size_t at = off + (size_t)je.position;

			if (at >= b.len && b.len && b.ptr[b.len - 1] == '\n')
				at = b.len - 1;
			err = dw_error_set(
				DW_EINVAL,
				"%s:%lu: not a report of driftwatch scan "
				"(json, jsonl or sarif; text output cannot "
				"be a baseline): %s",
				path, line_at(&lines, at), je.text);
			break;
		}
		err = add_value(&got, v, path, line_at(&lines, off), &nrec,
				&incomplete);
		json_decref(v);
		off += je.position;
	}
	dw_buf_release(&b);
	for (i = 0; !err && i < got.n; i++)
		scan_fpset_add(s, got.fp[i]);
	scan_fpset_free(&got);
	if (!err && incomplete && !quiet)
		fprintf(stderr,
			"driftwatch scan: warning: the baseline %s comes from "
			"a scan that did not read everything: findings in "
			"what it missed are reported\n",
			path);
	return err;
}

/*
 * The temporary file, removed when a signal ends the process before it
 * was renamed (the process that made it; a forked reader forgets it).
 */
static const char *volatile pending_tmp;

static void on_signal(int sig)
{
	const char *t = pending_tmp;

	if (t)
		unlink(t);
	signal(sig, SIG_DFL);
	raise(sig);
}

static void watch_signals(const char *tmp)
{
	static const int sigs[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT};
	size_t i;

	pending_tmp = tmp;
	for (i = 0; tmp && i < sizeof(sigs) / sizeof(sigs[0]); i++) {
		struct sigaction sa, old;

		memset(&sa, 0, sizeof(sa));
		sa.sa_handler = on_signal;
		sigemptyset(&sa.sa_mask);
		/* Not where the signal was ignored (nohup). */
		if (!sigaction(sigs[i], NULL, &old) &&
		    old.sa_handler != SIG_IGN)
			sigaction(sigs[i], &sa, NULL);
	}
}

int scan_blout_open(struct scan_blout *b, const char *path)
{
	struct stat st;
	mode_t mask;
	size_t n = strlen(path);
	int fd, old;

	memset(b, 0, sizeof(*b));
	if (!n || path[n - 1] == '/')
		return dw_error_set(DW_EINVAL,
				    "--write-baseline '%s': not a file name",
				    path);
	/* A file is replaced by a new one (renamed over it): a device, a
	 * FIFO or a symlink would be replaced, not written to. */
	old = lstat(path, &st) == 0;
	if (old && !S_ISREG(st.st_mode))
		return dw_error_set(DW_EINVAL,
				    "--write-baseline %s: not a regular file "
				    "(it would be replaced by one)",
				    path);
	b->path = dw_cli_absolute(path);
	b->tmp = dw_xmalloc(strlen(b->path) + 16);
	snprintf(b->tmp, strlen(b->path) + 16, "%s.tmp-XXXXXX", b->path);
	fd = mkostemp(b->tmp, O_CLOEXEC);
	if (fd < 0) {
		int e = errno;

		free(b->tmp);
		free(b->path);
		b->tmp = b->path = NULL;
		return dw_error_errno(DW_EIO, e,
				      "--write-baseline %s: cannot create a "
				      "file beside it",
				      path);
	}
	/*
	 * An existing baseline keeps its mode and, where this process may
	 * give it, its owner; a new one is made as any file the user makes
	 * (the umask decides, not mkstemp's 0600).
	 */
	mask = umask(0);
	umask(mask);
	if (old && fchown(fd, st.st_uid, st.st_gid))
		(void)0; /* not ours to give: the mode is still kept */
	if (fchmod(fd, old ? st.st_mode & 07777 : 0666 & ~mask) ||
	    !(b->f = fdopen(fd, "w"))) {
		int e = errno;

		close(fd);
		unlink(b->tmp);
		free(b->tmp);
		free(b->path);
		b->tmp = b->path = NULL;
		return dw_error_errno(DW_EIO, e, "--write-baseline %s", path);
	}
	watch_signals(b->tmp);
	return 0;
}

void scan_blout_to_pipe(struct scan_blout *b, int fd)
{
	char link[64];
	ssize_t n;

	fclose(b->f); /* nothing buffered: the file, closed here */
	pending_tmp = NULL;
	b->f = fdopen(fd, "w");
	if (!b->f) {
		close(fd);
		return; /* finish() fails: the baseline is not kept */
	}
	b->pipe = 1;
	snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
	n = readlink(link, b->keep, sizeof(b->keep) - 1);
	b->keep[n > 0 ? n : 0] = '\0';
}

void scan_blout_relay(struct scan_blout *b, const void *p, size_t n)
{
	b->relayed = 1;
	if (!n) {
		b->relay_eof = 1;
		return;
	}
	if (b->relay_error)
		return;
	if (b->relay_len + n > BASELINE_MAX)
		b->relay_error = EFBIG;
	else if (dw_write_all(fileno(b->f), p, n))
		b->relay_error = errno;
	b->relay_len += n;
}

void scan_blout_start(struct scan_blout *b, const struct dw_engine *e)
{
	scan_out_init(&b->out, SCAN_JSON, 0, 0, e);
	b->out.to = b->f;
	b->started = 1;
}

int scan_blout_finish(struct scan_blout *b, int incomplete)
{
	if (!b->started)
		return !b->f && b->path ? -1 : 0;
	b->started = 0;
	b->out.incomplete = incomplete;
	if (scan_out_finish(&b->out))
		return -1;
	return b->pipe ? 0 : fsync(fileno(b->f));
}

static void blout_release(struct scan_blout *b)
{
	if (b->started) {
		json_decref(b->out.all);
		json_decref(b->out.summary);
		json_decref(b->out.notes);
		dw_scanner_free(b->out.redactor);
	}
	if (pending_tmp == b->tmp)
		pending_tmp = NULL;
	if (b->f)
		fclose(b->f);
	free(b->path);
	free(b->tmp);
	memset(b, 0, sizeof(*b));
}

int scan_blout_commit(struct scan_blout *b, int keep)
{
	int err = 0;

	if (!b->tmp)
		return 0;
	/* Relayed: whole, and something (a reader whose output failed
	 * sends nothing). */
	if (keep && b->relayed &&
	    (b->relay_error || !b->relay_eof || !b->relay_len))
		err = b->relay_error == EFBIG
			      ? dw_error_set(DW_EIO,
					     "cannot write the baseline %s: "
					     "larger than %llu bytes",
					     b->path,
					     (unsigned long long)BASELINE_MAX)
			      : dw_error_errno(DW_EIO,
					       b->relay_error ? b->relay_error
							      : EPIPE,
					       "cannot write the baseline %s",
					       b->path);
	else if (keep && fsync(fileno(b->f)))
		err = dw_error_errno(DW_EIO, errno,
				     "cannot write the baseline %s", b->path);
	/*
	 * What is renamed into place must load as a baseline: a reader
	 * that was cut short, or lies in what it sends, leaves the old one.
	 */
	if (keep && !err) {
		struct scan_fpset check;

		memset(&check, 0, sizeof(check));
		if (load(&check, b->tmp, 1))
			err = dw_error_set(DW_EIO,
					   "the baseline %s was not written: "
					   "the report made for it is not one "
					   "(%s)",
					   b->path, dw_error_last());
		scan_fpset_free(&check);
	}
	if (keep && !err && rename(b->tmp, b->path))
		err = dw_error_errno(DW_EIO, errno,
				     "cannot write the baseline %s", b->path);
	if (!keep || err)
		unlink(b->tmp);
	blout_release(b);
	return err;
}

void scan_blout_close(struct scan_blout *b)
{
	blout_release(b);
}
