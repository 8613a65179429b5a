/*
 * Containers on Docker's journald log driver: their entries (matched by
 * CONTAINER_ID_FULL) read through libsystemd's sd_journal, made into
 * CRI lines (time, stream, P|F, text) and scanned as pod logs are, in
 * the scanner process. Where each container was read up to is kept in the
 * store as a journal cursor, so a restart goes on there.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <systemd/sd-journal.h>
#include <time.h>

#include "driftwatch/buf.h"
#include "driftwatch/clock.h"
#include "driftwatch/error.h"
#include "driftwatch/sources.h"
#include "driftwatch/xmalloc.h"
#include "journal.h"
#include "log.h"
#include "logwatch.h"
#include "store.h"
#include "driftwatch/banned.h"

/* What one container's reading takes at most a loop turn. */
#define TURN_ENTRIES 20000
#define TURN_BYTES (4u << 20)
/* The entries from a piece of a long line still open are kept, to be
 * joined with its rest, this long at most (as for pod logs). */
#define HOLD_MAX (64u << 10)
/* A message longer than this is cut (Docker's pieces are 16 KiB). */
#define MESSAGE_MAX (1u << 20)

/* A container's reader is opened again this often, to see the files
 * journald rotated to (no inotify instance a container: those are few). */
#define REOPEN_MS 30000
/* A stopped container's entries are read this long after it stopped. */
#define GONE_GRACE_MS 5000

/* After a line (an entry) of what is read: where it ends in the lines,
 * the entry's cursor, whether no piece of a long line is open there. */
struct mark {
	size_t end;
	char *cursor;
	int closed;
};

struct jcont {
	char *id, *name, *display;
	sd_journal *j;
	char *cursor;	    /* the last entry whose lines are all done */
	char *last;	    /* the last entry read */
	uint64_t entries;   /* entries read up to `cursor` */
	struct dw_buf held; /* CRI lines after `cursor`, to be read again */
	struct mark *marks; /* one a line of `held` */
	size_t nmarks, amarks;
	int open[2];	   /* after the last entry read: stdout, stderr */
	int more;	   /* its turn's budget ran out */
	int gone;	   /* stopped: read to its end, then let go */
	long long gone_ms; /* since when (journald may write a little later) */
	long long opened_ms;
};

struct dw_journal {
	struct dw_store *store;
	struct dw_logwatch *logs;
	char *root; /* host_root: NULL for "/" */
	struct jcont **c;
	size_t n, alloc;
};

int dw_journal_new(struct dw_journal **out, struct dw_store *store,
		   struct dw_logwatch *logs, const char *host_root)
{
	struct dw_journal *jr = dw_xcalloc(1, sizeof(*jr));

	jr->store = store;
	jr->logs = logs;
	if (host_root && strcmp(host_root, "/"))
		jr->root = dw_xstrdup(host_root);
	*out = jr;
	return 0;
}

static void drop_marks(struct mark *m, size_t n)
{
	while (n-- > 0)
		free(m[n].cursor);
}

static void free_cont(struct jcont *c)
{
	sd_journal_close(c->j);
	free(c->id);
	free(c->name);
	free(c->display);
	free(c->cursor);
	free(c->last);
	dw_buf_release(&c->held);
	drop_marks(c->marks, c->nmarks);
	free(c->marks);
	free(c);
}

void dw_journal_free(struct dw_journal *jr)
{
	size_t i;

	if (!jr)
		return;
	for (i = 0; i < jr->n; i++)
		free_cont(jr->c[i]);
	free(jr->c);
	free(jr->root);
	free(jr);
}

/* Is there a journal to read at all (persistent or volatile)? */
static int has_journal(const struct dw_journal *jr)
{
	static const char *const dirs[] = {"/var/log/journal",
					   "/run/log/journal"};
	struct dw_buf p = DW_BUF_INIT;
	struct stat st;
	size_t i;
	int yes = 0;

	for (i = 0; i < 2 && !yes; i++) {
		dw_buf_reset(&p);
		dw_buf_addf(&p, "%s%s", jr->root ? jr->root : "", dirs[i]);
		yes = !stat(p.ptr, &st) && S_ISDIR(st.st_mode);
	}
	dw_buf_release(&p);
	return yes;
}

static void gap_alert(struct dw_journal *jr, const struct jcont *c)
{
	char summary[600];
	json_t *p;

	snprintf(summary, sizeof(summary),
		 "%s (%s): journal entries were removed (vacuumed or "
		 "rotated away) before driftwatchd read them: some of the "
		 "container's log lines may not have been scanned",
		 c->display, c->name);
	dw_log_error("%s", summary);
	p = json_pack("{s:s, s:s, s:s}", "severity", "high", "source", c->id,
		      "path", c->display);
	if (dw_store_alert(jr->store, "log-gap", summary, p))
		dw_log_warn("cannot queue an alert: %s", dw_error_last());
	json_decref(p);
}

/*
 * (Re)open container `c`'s reader, positioned after `after` (NULL: at
 * the head). An entry that is gone (vacuumed) is said, and reading goes
 * on from the first one there is.
 */
static int open_cont(struct dw_journal *jr, struct jcont *c, const char *after)
{
	struct dw_buf match = DW_BUF_INIT;
	uint64_t bytes = 0;
	int r;

	sd_journal_close(c->j);
	c->j = NULL;
	r = jr->root ? sd_journal_open_directory(&c->j, jr->root,
						 SD_JOURNAL_OS_ROOT)
		     : sd_journal_open(&c->j, SD_JOURNAL_LOCAL_ONLY);
	if (r < 0) {
		c->j = NULL;
		return dw_error_errno(DW_EIO, -r, "cannot open the journal");
	}
	/* Its directories there, but no file: journald does not run, or
	 * keeps nothing (Storage=none). */
	if (sd_journal_get_usage(c->j, &bytes) < 0 || !bytes)
		return dw_error_set(DW_ENOTFOUND,
				    "no journal file on this host");
	dw_buf_addf(&match, "CONTAINER_ID_FULL=%s", c->id);
	r = sd_journal_add_match(c->j, match.ptr, match.len);
	dw_buf_release(&match);
	if (r < 0)
		return dw_error_errno(DW_EIO, -r, "cannot match the journal");
	c->opened_ms = dw_mono_ms();
	if (!after) {
		sd_journal_seek_head(c->j);
		return 0;
	}
	if (sd_journal_seek_cursor(c->j, after) < 0) {
		sd_journal_seek_head(c->j);
		gap_alert(jr, c);
		return 0;
	}
	/* On it (then past it with the next read), or, when it is gone,
	 * on the first there is after it: from there again, said. */
	if (sd_journal_next(c->j) > 0 &&
	    sd_journal_test_cursor(c->j, after) <= 0) {
		sd_journal_seek_cursor(c->j, after);
		gap_alert(jr, c);
	}
	return 0;
}

int dw_journal_add(struct dw_journal *jr, const char *id, const char *name)
{
	struct jcont *c;
	unsigned long long entries = 0;
	char *cursor = NULL;
	size_t i;
	int err;

	for (i = 0; i < jr->n; i++)
		if (!strcmp(jr->c[i]->id, id)) {
			jr->c[i]->gone = 0; /* started again */
			return 0;
		}
	if (!has_journal(jr))
		return dw_error_set(
			DW_ENOTFOUND,
			"no journal on this host (%s/var/log/journal, "
			"%s/run/log/journal)",
			jr->root ? jr->root : "", jr->root ? jr->root : "");
	c = dw_xcalloc(1, sizeof(*c));
	c->id = dw_xstrdup(id);
	c->name = dw_xstrdup(name ? name : "");
	dw_buf_init(&c->held, 0);
	{
		struct dw_buf d = DW_BUF_INIT;

		dw_buf_addf(&d, "journal:CONTAINER_ID_FULL=%s", id);
		c->display = dw_buf_detach(&d, NULL);
	}
	/* Where the last run was: after it. */
	if (!dw_store_get_cursor(jr->store, c->display, &cursor, &entries)) {
		c->cursor = cursor;
		c->last = dw_xstrdup(cursor);
		c->entries = entries;
	}
	if ((err = open_cont(jr, c, c->cursor))) {
		free_cont(c);
		return err;
	}
	DW_ALLOC_GROW(jr->c, jr->n + 1, jr->alloc);
	jr->c[jr->n++] = c;
	return 0;
}

/* Stopped: its entries are read to their end over the next turns (a
 * container that printed a backlog and exited is read whole), then it
 * is let go. */
void dw_journal_remove(struct dw_journal *jr, const char *id)
{
	size_t i;

	for (i = 0; i < jr->n; i++)
		if (!strcmp(jr->c[i]->id, id) && !jr->c[i]->gone) {
			jr->c[i]->gone = 1;
			jr->c[i]->gone_ms = dw_mono_ms();
		}
}

void dw_journal_keep(struct dw_journal *jr, char *const *ids, size_t n)
{
	size_t i, k;

	for (i = 0; i < jr->n; i++) {
		for (k = 0; k < n; k++)
			if (!strcmp(ids[k], jr->c[i]->id))
				break;
		if (k == n)
			dw_journal_remove(jr, jr->c[i]->id);
	}
}

/* A field's value ("NAME=value"), or NULL. */
static const char *field(sd_journal *j, const char *name, size_t *len)
{
	const void *d;
	size_t n, nl = strlen(name);

	if (sd_journal_get_data(j, name, &d, &n) < 0 || n <= nl)
		return NULL;
	*len = n - nl - 1;
	return (const char *)d + nl + 1;
}

/*
 * The current entry as one CRI line: its time (UTC), its stream (Docker
 * logs stderr at priority 3, stdout at 6), P when Docker says more of
 * the line follows, and the message (a newline in it, which no line of
 * Docker's has, becomes a space: it would end the record).
 */
static int entry_line(sd_journal *j, struct dw_buf *out, int *partial,
		      int *other)
{
	const char *msg, *prio, *part;
	size_t mlen = 0, plen = 0, xlen = 0, i, start = out->len;
	uint64_t usec = 0;
	time_t t;
	struct tm tm;

	msg = field(j, "MESSAGE", &mlen);
	if (!msg)
		msg = "", mlen = 0;
	if (mlen > MESSAGE_MAX)
		mlen = MESSAGE_MAX;
	prio = field(j, "PRIORITY", &plen);
	part = field(j, "CONTAINER_PARTIAL_MESSAGE", &xlen);
	*partial = part && xlen == 4 && !memcmp(part, "true", 4);
	*other = prio && plen == 1 && prio[0] == '3';
	sd_journal_get_realtime_usec(j, &usec);
	t = (time_t)(usec / 1000000);
	if (!gmtime_r(&t, &tm))
		memset(&tm, 0, sizeof(tm));
	dw_buf_addf(out, "%04d-%02d-%02dT%02d:%02d:%02d.%06lluZ %s %c ",
		    tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
		    tm.tm_min, tm.tm_sec, (unsigned long long)(usec % 1000000),
		    *other ? "stderr" : "stdout", *partial ? 'P' : 'F');
	dw_buf_add(out, msg, mlen);
	for (i = out->len - mlen; i < out->len; i++)
		if (out->ptr[i] == '\n')
			out->ptr[i] = ' ';
	dw_buf_addch(out, '\n');
	return out->len > start ? 0 : -1;
}

/* Lines of `c` let go, each read scanned but not with the rest: said. */
static void let_go(struct dw_journal *jr, const struct jcont *c,
		   const char *what)
{
	char summary[700];
	json_t *p;

	snprintf(summary, sizeof(summary), "%s (%s): %s", c->display, c->name,
		 what);
	dw_log_error("%s", summary);
	p = json_pack("{s:s, s:s, s:s}", "severity", "critical", "source",
		      c->id, "path", c->display);
	if (dw_store_alert(jr->store, "evasion", summary, p))
		dw_log_warn("cannot queue an alert: %s", dw_error_last());
	json_decref(p);
}

/*
 * One container's new entries, up to its turn's budget (new bytes: what
 * is held does not count). Held, given again with the next entries: the
 * lines from the last safe place (no piece of a long line open, a cursor
 * to go on from) before a piece still open, and those from the first
 * line of a private key or .netrc entry still open. The cursor kept is
 * the last safe place before both, so a restart reads them again.
 */
static void read_cont(struct dw_journal *jr, struct jcont *c)
{
	struct dw_buf lines = DW_BUF_INIT;
	struct mark *m;
	size_t nm, am, done = 0, cut, keep, key, cut_len, i;
	uint64_t n = 0;
	/* What is open goes on from the last turn (the held lines). */
	int open[2] = {c->open[0], c->open[1]}, r;

	c->more = 0;
	/* Now and then afresh, for the files journald rotated to. */
	if (!c->j || dw_mono_ms() - c->opened_ms >= REOPEN_MS) {
		if (open_cont(jr, c, c->last)) {
			dw_log_warn("%s (%s): %s", c->display, c->name,
				    dw_error_last());
			return;
		}
	}
	/* The lines held back come first again, joined then. */
	dw_buf_add(&lines, c->held.ptr, c->held.len);
	m = c->marks, nm = c->nmarks, am = c->amarks;
	while (n < TURN_ENTRIES && lines.len - c->held.len < TURN_BYTES &&
	       (r = sd_journal_next(c->j)) > 0) {
		int partial, other;

		entry_line(c->j, &lines, &partial, &other);
		n++;
		open[other] = partial;
		DW_ALLOC_GROW(m, nm + 1, am);
		m[nm].end = lines.len;
		m[nm].cursor = NULL;
		/* Nothing open after it: a safe place to go on from. */
		m[nm].closed = !open[0] && !open[1] &&
			       sd_journal_get_cursor(c->j, &m[nm].cursor) >= 0;
		nm++;
	}
	c->marks = m, c->nmarks = nm, c->amarks = am;
	if (n >= TURN_ENTRIES || lines.len - c->held.len >= TURN_BYTES)
		c->more = 1;
	if (!n) {
		dw_buf_release(&lines);
		return;
	}
	{
		char *last = NULL;

		if (sd_journal_get_cursor(c->j, &last) >= 0) {
			free(c->last);
			c->last = last;
		}
	}
	for (i = nm; i-- > 0 && !done;)
		if (m[i].closed)
			done = i + 1;
	/* Held too long behind another stream: let go, the pieces each were
	 * scanned (said in the scanner's words by the caller's alert). */
	if (lines.len - (done ? m[done - 1].end : 0) > HOLD_MAX &&
	    (m[nm - 1].closed ||
	     sd_journal_get_cursor(c->j, &m[nm - 1].cursor) >= 0)) {
		char what[300];

		snprintf(what, sizeof(what),
			 "a piece of a long line left open for over %u KiB "
			 "of other entries: scanned, not joined with its rest",
			 HOLD_MAX >> 10);
		let_go(jr, c, what);
		m[nm - 1].closed = 1;
		done = nm;
		open[0] = open[1] = 0;
	}
	c->open[0] = open[0];
	c->open[1] = open[1];
	key = dw_logwatch_scan_records(jr->logs, c->id, c->name, c->display,
				       DW_SOURCE_JOURNALD, lines.ptr, lines.len,
				       c->entries + 1);
	/* A key or .netrc entry open at the end: held from the last safe
	 * place before its first line, unless held too long already. */
	cut = keep = done;
	if (done && key < m[done - 1].end) {
		if (lines.len - key > DW_LOG_KEY_HOLD_MAX) {
			char what[300];

			snprintf(what, sizeof(what),
				 "a private key or .netrc entry left open for "
				 "over %u KiB of entries: the entries from it "
				 "were scanned, not kept to be read with the "
				 "rest",
				 DW_LOG_KEY_HOLD_MAX >> 10);
			let_go(jr, c, what);
		} else {
			/* In memory from its first line (a piece of a long
			 * line, read again, is read as a line); kept for a
			 * restart: the last safe place before it. */
			while (cut && m[cut - 1].end > key)
				cut--;
			keep = cut;
			while (keep && !m[keep - 1].closed)
				keep--;
		}
	}
	/* Lines from `cut` on: given again next time. */
	cut_len = cut ? m[cut - 1].end : 0;
	dw_buf_reset(&c->held);
	dw_buf_add(&c->held, lines.ptr + cut_len, lines.len - cut_len);
	dw_buf_release(&lines);
	if (keep) {
		free(c->cursor);
		c->cursor = m[keep - 1].cursor;
		m[keep - 1].cursor = NULL;
		if (dw_store_put_cursor(jr->store, c->display, c->cursor,
					c->entries + keep))
			dw_log_warn("%s", dw_error_last());
	}
	c->entries += cut;
	drop_marks(m, cut);
	memmove(m, m + cut, (nm - cut) * sizeof(*m));
	c->nmarks = nm -= cut;
	for (i = 0; i < nm; i++)
		m[i].end -= cut_len;
}

int dw_journal_read(struct dw_journal *jr)
{
	size_t i;
	int more = 0;

	for (i = jr ? jr->n : 0; i-- > 0;) {
		struct jcont *c = jr->c[i];

		read_cont(jr, c);
		more |= c->more;
		/* Stopped, and read to its end a while later: let go. */
		if (c->gone && !c->more &&
		    dw_mono_ms() - c->gone_ms >= GONE_GRACE_MS) {
			free_cont(c);
			jr->c[i] = jr->c[--jr->n];
		}
	}
	return more;
}

size_t dw_journal_count(const struct dw_journal *jr)
{
	return jr ? jr->n : 0;
}
