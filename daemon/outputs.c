/*
 * driftwatchd: the outputs of every event (driftwatch.yaml's outputs).
 * Each output is a thread with a store connection of its own that reads
 * the feed (store_feed.c) from its cursor, so an output that is slow or
 * failing delays only itself, never the monitoring loop or another
 * output, and a restart goes on where its cursor is.
 *
 * A JSON lines file: one ECS document a line (ecs.c), appended in
 * batches. Before a batch the store notes where the file ended; after
 * it (and its fdatasync, fsync: batch) the cursor moves and the note
 * goes, in one transaction. A batch a killed daemon wrote but did not
 * record is cut off at start and written again: every row reaches the
 * file once. The file is rotated by size (PATH.1 ... PATH.keep), and
 * reopened when another program moved or removed it (logrotate).
 *
 * OTLP/HTTP (otlp.c): a batch is one request; the cursor moves on 2xx.
 * syslog (syslog_out.c): a batch counts as sent when the receiver's
 * kernel acknowledged it, and what went over a connection in its last
 * WINDOW_BYTES is sent again after it is lost (at least once). Over
 * RELP (relp_out.c) the receiver answers each message, and the cursor
 * moves past exactly what it answered.
 */
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <sys/file.h>
#include <sys/stat.h>

#include "daemon.h"
#include "docker.h"
#include "ecs.h"
#include "otlp.h"
#include "relp_out.h"
#include "syslog_out.h"
#include "driftwatch/clock.h"

#include "driftwatch/banned.h"

#define OUTPUTS_MAX 16
/* Rows of each table a batch takes at most. */
#define BATCH_ROWS 512
/* ... for syslog: smaller batches, each waiting for the receiver's
 * acknowledgement. */
#define SYSLOG_BATCH_ROWS 128
/* A row a RELP receiver refused this many times in a row (1 s apart: a
 * refusal is an answer, the receiver is there) is passed over. */
#define RELP_REFUSALS 5
/*
 * TCP says only that the receiver's kernel has the bytes, not that the
 * receiver read them: what was sent over a connection in its last
 * WINDOW_BYTES (more than a receive buffer holds: Linux grows one to 6
 * MiB by default) is sent again after that connection is lost, or after
 * a restart. At most WINDOW_BATCHES batches are remembered.
 */
#define WINDOW_BYTES (8 << 20)
#define WINDOW_BATCHES 256
/* An OTLP request past this is sent in halves (a Collector takes 20 MiB
 * by default); one refused as too large (413) too. */
#define OTLP_MAX_BYTES (4 << 20)
/* Bytes of a file's or a syslog batch past which it takes no more rows
 * (it always takes one): what a batch holds in memory, and how far a
 * file passes max_size. */
#define BATCH_BYTES (4 << 20)
/* What is still due at shutdown is written for this long at most. */
#define FINAL_MS 5000

struct output {
	struct dwd_outputs *all;
	struct dw_output_cfg cfg; /* its own copy of path */
	char name[4200];	  /* "jsonl:PATH": its cursor's key */
	char shown[4200]; /* in logs and metrics: its path, an endpoint's
			   * origin (its path may be a secret) */
	/* otlp, syslog: no try before (dw_mono_ms()), the last wait (s) */
	long long next_try_ms;
	long backoff_s;
	size_t otlp_rows; /* rows an OTLP request takes at most now */
	int in_final;	  /* in the last pass (its own deadline) */
	/* syslog: the connection, and the window of what went over it
	 * (sent again after it is lost; its start is the stored cursor) */
	struct dwd_syslog *conn;
	struct dwd_relp *relp; /* syslog over RELP: the session */
	/* ... the row the receiver refused last, how many times in a row */
	int refused_table;
	long long refused_id;
	int refusals;
	long long saved[DW_FEED_N]; /* as stored: the window's start */
	long long high[DW_FEED_N];  /* the last rows ever sent */
	struct sent_batch {
		long long from[DW_FEED_N]; /* the cursor before it */
		size_t bytes, rows;
	} window[WINDOW_BATCHES]; /* on this connection, oldest first */
	size_t nwindow, window_bytes;
	size_t resend_rows; /* to say at the next connection */
	int restarted;	    /* the previous run's window goes again */
	/* its cursor was read while this process held the outputs' lock
	 * (another driftwatchd may move it until then) */
	int synced;
	/* summarise: each container's changes this minute, and what this
	 * batch held back (bulk_read()) */
	struct bulk *bulk;
	size_t nbulk;
	int forcing;		   /* a summary goes in a full batch */
	long long bulk_first_held; /* the lowest id held (0: none) */
	pthread_t thread;
	int started;
	int fd;
	long long size; /* where the file ends */
	struct stat st; /* the open file's */
	long long at[DW_FEED_N];
	int failing; /* the last try failed (said once) */
	/* Counted for /metrics (atomics). */
	unsigned long long written, dropped, errors, rotated, rejected;
	unsigned long long resent, summarised;
	long long pending;
};

struct dwd_outputs {
	struct output o[OUTPUTS_MAX];
	size_t n;
	char host[256];
	char *db;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int stop;
	long long final_until; /* dw_mono_ms(): the last pass ends then */
	/* One process writes a store's outputs: flock()ed by its threads
	 * (one open file, so one lock for all), tried at each pass. */
	int lock_fd;
	int lock_said; /* another process has it: said once */
};

/* Its cursor's key: its type and its path or endpoint. */
static void output_name(char *out, size_t size, const struct dw_output_cfg *c)
{
	snprintf(out, size, "%s:%s",
		 c->type == DW_OUTPUT_OTLP     ? "otlp"
		 : c->type == DW_OUTPUT_SYSLOG ? "syslog"
					       : "jsonl",
		 c->path);
}

static int stopping(struct dwd_outputs *all)
{
	return __atomic_load_n(&all->stop, __ATOMIC_RELAXED);
}

/* The last pass at shutdown: until its deadline (none at a reload). */
static int final_due(struct dwd_outputs *all)
{
	return dw_mono_ms() <
	       __atomic_load_n(&all->final_until, __ATOMIC_RELAXED);
}

/* What is left of it (ms), for a send in it. */
static long final_left(struct dwd_outputs *all)
{
	long long left = __atomic_load_n(&all->final_until, __ATOMIC_RELAXED) -
			 dw_mono_ms();

	return left < 0 ? 0 : left > 10000 ? 10000 : (long)left;
}

/*
 * Is this process the one that writes the store's outputs? Two (a
 * `--once` from cron while the service runs) would each write the rows
 * past one cursor, and cut each other's batches.
 */
static int outputs_locked(struct dwd_outputs *all)
{
	if (all->lock_fd < 0)
		return 1; /* no lock file (said when it was made) */
	if (!flock(all->lock_fd, LOCK_EX | LOCK_NB)) {
		if (__atomic_exchange_n(&all->lock_said, 0, __ATOMIC_RELAXED))
			dw_log_info("outputs: this driftwatchd writes them "
				    "again");
		return 1;
	}
	if (!__atomic_exchange_n(&all->lock_said, 1, __ATOMIC_RELAXED))
		dw_log_warn("outputs: another driftwatchd writes this store's "
			    "outputs (%s-outputs.lock): not written by this "
			    "one while it does",
			    all->db);
	return 0;
}

static void out_close(struct output *o)
{
	if (o->fd >= 0)
		close(o->fd);
	o->fd = -1;
}

/* Said once per run of failures, as a warning. */
static void out_failed(struct output *o, const char *what)
{
	__atomic_add_fetch(&o->errors, 1, __ATOMIC_RELAXED);
	if (!o->failing)
		dw_log_warn("output %s: %s; tried again, nothing is lost "
			    "while the store keeps it",
			    o->shown, what);
	o->failing = 1;
}

/*
 * Open (or create) the file: never through a symlink, never a FIFO or a
 * device, appended to. A file it creates gets the configured mode.
 */
static int out_open(struct output *o)
{
	int flags = O_WRONLY | O_APPEND | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY |
		    O_NONBLOCK;
	char why[4400];
	int fd = open(o->cfg.path, flags | O_CREAT | O_EXCL,
		      (mode_t)o->cfg.mode);
	int made = fd >= 0;

	if (fd < 0 && errno == EEXIST)
		fd = open(o->cfg.path, flags);
	if (fd < 0) {
		snprintf(why, sizeof(why), "cannot open: %s%s", strerror(errno),
			 errno == ENOENT  ? " (does its directory exist?)"
			 : errno == ELOOP ? " (a symlink: not followed)"
					  : "");
		out_failed(o, why);
		return -1;
	}
	if (fstat(fd, &o->st) < 0 || !S_ISREG(o->st.st_mode)) {
		close(fd);
		out_failed(o, "not a regular file: not written");
		return -1;
	}
	if (made && fchmod(fd, (mode_t)o->cfg.mode) < 0)
		dw_log_warn("output %s: cannot set its mode: %s", o->shown,
			    strerror(errno));
	o->fd = fd;
	o->size = (long long)o->st.st_size;
	return 0;
}

/*
 * A batch the last run wrote but did not record: cut off, so that it is
 * written once (its rows are read again from the cursor).
 */
static void out_recover(struct output *o, struct dw_store *st)
{
	long long off, dev, ino;

	if (dw_store_feed_batch_get(st, o->name, &off, &dev, &ino))
		return;
	if ((long long)o->st.st_dev != dev || (long long)o->st.st_ino != ino) {
		dw_log_warn("output %s: the last run's unfinished batch was "
			    "in a file that is no longer there: its rows "
			    "may appear twice",
			    o->shown);
		return;
	}
	if (o->size > off && ftruncate(o->fd, (off_t)off) == 0) {
		dw_log_warn("output %s: %lld bytes a stopped driftwatchd "
			    "wrote but did not record were cut off; written "
			    "again",
			    o->shown, o->size - off);
		o->size = off;
	}
}

/* PATH -> PATH.1 -> ... -> PATH.keep (gone); keep 0: PATH removed. */
static void out_rotate(struct output *o)
{
	size_t len = strlen(o->cfg.path) + 24;
	char *from = dw_xmalloc(len), *to = dw_xmalloc(len);
	long i;

	for (i = o->cfg.keep; i >= 1; i--) {
		snprintf(to, len, "%s.%ld", o->cfg.path, i);
		if (i > 1)
			snprintf(from, len, "%s.%ld", o->cfg.path, i - 1);
		else
			snprintf(from, len, "%s", o->cfg.path);
		if (rename(from, to) < 0 && errno != ENOENT)
			dw_log_warn("output: cannot rename %s to %s: %s", from,
				    to, strerror(errno));
	}
	if (!o->cfg.keep && unlink(o->cfg.path) < 0 && errno != ENOENT)
		dw_log_warn("output %s: cannot remove it to rotate: %s",
			    o->shown, strerror(errno));
	free(from);
	free(to);
	out_close(o);
	__atomic_add_fetch(&o->rotated, 1, __ATOMIC_RELAXED);
}

/* Rotated when it passed max_size; reopened when moved or removed. */
static void out_check(struct output *o)
{
	struct stat now;

	if (o->fd < 0)
		return;
	/* Cut in place by another program (logrotate's copytruncate):
	 * its end is where the next batch goes, and where a failed one is
	 * cut back to. */
	if (!fstat(o->fd, &now) && (long long)now.st_size != o->size) {
		if ((long long)now.st_size < o->size)
			dw_log_info("output %s: cut to %lld bytes by another "
				    "program",
				    o->shown, (long long)now.st_size);
		o->size = (long long)now.st_size;
	}
	if (lstat(o->cfg.path, &now) < 0 || now.st_dev != o->st.st_dev ||
	    now.st_ino != o->st.st_ino)
		out_close(o); /* moved or removed: made again */
	else if (o->cfg.max_size &&
		 (unsigned long long)o->size >= o->cfg.max_size)
		out_rotate(o);
}

/* ---- a container's bulk changes, summarised ---- */

/* The minute a container's `summarise` changes pass one by one in. */
#define BULK_WINDOW_S 60
/* Containers followed at once (the least recently seen goes). */
#define BULK_MAX 1024

struct bulk {
	char container[160];
	long long window; /* its minute's start (s) */
	long long n;	  /* changes in it */
	long long seen;	  /* when last (s), to choose one to forget */
	/* held back in this batch */
	long long held, first_id, last_id, last_us, kinds[3];
	int sev;
	json_t *row; /* the first held row: its container's fields */
};

struct bulk_read {
	struct output *o;
	dw_feed_fn fn;
	void *ctx;
};

static struct bulk *bulk_find(struct output *o, const char *container,
			      long long now)
{
	struct bulk *b, *old = NULL;
	size_t i;

	for (i = 0; i < o->nbulk; i++) {
		b = &o->bulk[i];
		if (!strcmp(b->container, container))
			return b;
		if (!b->held && (!old || b->seen < old->seen))
			old = b;
	}
	if (o->nbulk < BULK_MAX) {
		o->bulk =
			dw_xrealloc(o->bulk, (o->nbulk + 1) * sizeof(*o->bulk));
		old = &o->bulk[o->nbulk++];
	} else if (!old)
		return NULL; /* all hold rows of this batch: passed whole */
	memset(old, 0, sizeof(*old));
	snprintf(old->container, sizeof(old->container), "%s", container);
	old->window = now;
	return old;
}

/* A row of the feed: a container's change past its `summarise` this
 * minute, below high severity, is held back (counted), not sent. */
static int bulk_row(const struct dw_feed_row *r, void *ctx)
{
	struct bulk_read *br = ctx;
	struct output *o = br->o;
	const char *c =
		json_string_value(json_object_get(r->doc, "container_id"));
	const char *k = json_string_value(json_object_get(r->doc, "kind"));
	const char *sv = json_string_value(json_object_get(r->doc, "severity"));
	int sev = sv ? dw_severity_parse(sv) : -1;
	long long now = r->time_us / 1000000;
	struct bulk *b;
	int err;

	/* Execs, reverts, findings, alerts and high or critical changes
	 * go alone; after a held row, one ends the batch, so that the
	 * summaries are its tail (a RELP answer is then a plain prefix). */
	if (r->table != DW_FEED_EVENTS || !c || sev >= DW_SEV_HIGH || !k ||
	    !*k || !strchr("ADC", *k) || !(b = bulk_find(o, c, now)))
		return o->bulk_first_held ? DW_FEED_FULL : br->fn(r, br->ctx);
	b->seen = now;
	if (now - b->window >= BULK_WINDOW_S || now < b->window) {
		b->window = now;
		b->n = 0;
	}
	if (b->n < o->cfg.summarise) {
		if (o->bulk_first_held)
			return DW_FEED_FULL;
		err = br->fn(r, br->ctx);
		b->n += !err;
		return err;
	}
	if (!b->held++) {
		b->first_id = r->id;
		b->row = json_incref(r->doc);
	}
	if (!o->bulk_first_held || r->id < o->bulk_first_held)
		o->bulk_first_held = r->id;
	b->last_id = r->id;
	b->last_us = r->time_us;
	b->kinds[*k == 'A' ? 0 : *k == 'D' ? 1 : 2]++;
	if ((sev < 0 ? DW_SEV_MEDIUM : sev) > b->sev)
		b->sev = sev < 0 ? DW_SEV_MEDIUM : sev;
	return 0;
}

/* Nothing held (the batch's summary went, or its read failed). */
static void bulk_reset(struct bulk *b)
{
	json_decref(b->row);
	b->row = NULL;
	b->held = 0;
	memset(b->kinds, 0, sizeof(b->kinds));
	b->sev = 0;
}

/* Each container's held rows as one summary, at the batch's end (the
 * batch holds them whatever its size). */
static int bulk_flush(struct output *o, dw_feed_fn fn, void *ctx)
{
	size_t i;
	int err = 0;

	for (i = 0; i < o->nbulk; i++) {
		struct bulk *b = &o->bulk[i];
		const json_t *row = b->row;
		struct dw_feed_row r = {DW_FEED_EVENTS, b->last_id,
					b->last_us / 1000000, b->last_us, NULL};

		if (!b->held)
			continue;
		r.doc = json_pack(
			"{s:s, s:s, s:O?, s:O?, s:s, s:I, s:I, s:I, s:I, s:I, "
			"s:I}",
			"kind", "bulk", "container_id", b->container,
			"container", json_object_get(row, "container"), "image",
			json_object_get(row, "image"), "severity",
			dw_severity_name(b->sev), "changes",
			(json_int_t)b->held, "added", (json_int_t)b->kinds[0],
			"deleted", (json_int_t)b->kinds[1], "changed",
			(json_int_t)b->kinds[2], "first_id",
			(json_int_t)b->first_id, "last_id",
			(json_int_t)b->last_id);
		if (json_object_get(row, "labels"))
			json_object_set(r.doc, "labels",
					json_object_get(row, "labels"));
		o->forcing = 1;
		if (!err)
			err = fn(&r, ctx);
		o->forcing = 0;
		json_decref(r.doc);
		__atomic_add_fetch(&o->summarised, (unsigned long long)b->held,
				   __ATOMIC_RELAXED);
		bulk_reset(b);
	}
	return err;
}

/* The feed from the output's cursor, with bulk changes summarised. */
static int out_read(struct output *o, struct dw_store *st, size_t max,
		    dw_feed_fn fn, void *ctx, long long last[DW_FEED_N],
		    long long missing[DW_FEED_N])
{
	struct bulk_read br = {o, fn, ctx};
	int err;

	o->bulk_first_held = 0;
	if (!o->cfg.summarise)
		return dw_store_feed_read(st, o->at, max, fn, ctx, last,
					  missing);
	err = dw_store_feed_read(st, o->at, max, bulk_row, &br, last, missing);
	/* A failed read is read again: what it held goes then. */
	if (!err)
		err = bulk_flush(o, fn, ctx);
	else
		for (size_t i = 0; i < o->nbulk; i++)
			bulk_reset(&o->bulk[i]);
	return err;
}

struct batch {
	struct output *o;
	struct dw_buf buf;
	size_t rows;
};

static int add_line(const struct dw_feed_row *r, void *ctx)
{
	struct batch *b = ctx;
	json_t *doc;
	int err;

	if (b->rows && b->buf.len >= BATCH_BYTES && !b->o->forcing)
		return DW_FEED_FULL;
	doc = dwd_ecs_doc(r, b->o->all->host);
	err = dw_json_dump(&b->buf, doc, JSON_PRESERVE_ORDER);

	json_decref(doc);
	if (err)
		return err;
	dw_buf_addch(&b->buf, '\n');
	b->rows++;
	return 0;
}

static int write_all(int fd, const char *p, size_t n)
{
	while (n) {
		ssize_t w = write(fd, p, n);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

/*
 * Move the output's cursor to `at`, and record in the same transaction
 * one output-dropped alert for the rows retention deleted before this
 * output took them (`missing`, NULL: none): the count is never lost
 * between the two.
 */
static int save_cursor(struct output *o, struct dw_store *st,
		       const long long at[DW_FEED_N], const long long *missing)
{
	long long n = 0;
	char summary[4400];
	json_t *p = NULL;
	int t, err;

	for (t = 0; missing && t < DW_FEED_N; t++)
		n += missing[t];
	if (n) {
		snprintf(summary, sizeof(summary),
			 "output %s: %lld rows (%lld events, %lld findings, "
			 "%lld alerts) were deleted by retention before it "
			 "took them",
			 o->shown, n, missing[DW_FEED_EVENTS],
			 missing[DW_FEED_FINDINGS], missing[DW_FEED_ALERTS]);
		p = json_pack("{s:s, s:s, s:I, s:I, s:I, s:I}", "output",
			      o->shown, "severity", "high", "dropped",
			      (json_int_t)n, "events",
			      (json_int_t)missing[DW_FEED_EVENTS], "findings",
			      (json_int_t)missing[DW_FEED_FINDINGS], "alerts",
			      (json_int_t)missing[DW_FEED_ALERTS]);
	}
	err = dw_store_begin(st);
	if (!err)
		err = dw_store_feed_save(st, o->name, at);
	if (!err && p)
		err = dw_store_alert(st, "output-dropped", summary, p);
	if (!err)
		err = dw_store_commit(st);
	else
		dw_store_rollback(st);
	json_decref(p);
	if (!err && n) {
		__atomic_add_fetch(&o->dropped, (unsigned long long)n,
				   __ATOMIC_RELAXED);
		dw_log_warn("%s", summary);
	}
	return err;
}

/* One batch: 1 written, 0 nothing left, -1 failed (retried later). */
static int out_batch(struct output *o, struct dw_store *st)
{
	struct batch b = {o, DW_BUF_INIT, 0};
	long long last[DW_FEED_N], missing[DW_FEED_N];
	int err, t, moved = 0;

	err = out_read(o, st, BATCH_ROWS, add_line, &b, last, missing);
	for (t = 0; t < DW_FEED_N; t++)
		moved |= last[t] != o->at[t];
	if (err) {
		dw_buf_release(&b.buf);
		out_failed(o, dw_error_last());
		return -1;
	}
	if (!moved) {
		dw_buf_release(&b.buf);
		return 0;
	}
	if (b.buf.len &&
	    dw_store_feed_batch(st, o->name, o->size, (long long)o->st.st_dev,
				(long long)o->st.st_ino)) {
		dw_buf_release(&b.buf);
		out_failed(o, dw_error_last());
		return -1;
	}
	if (b.buf.len &&
	    (write_all(o->fd, b.buf.ptr, b.buf.len) < 0 ||
	     (o->cfg.fsync == DW_FSYNC_BATCH && fdatasync(o->fd) < 0))) {
		char why[300];

		snprintf(why, sizeof(why), "cannot write: %s", strerror(errno));
		/* Nothing half-written stays: cut back, tried again. */
		if (ftruncate(o->fd, (off_t)o->size) < 0)
			out_close(o);
		dw_buf_release(&b.buf);
		out_failed(o, why);
		return -1;
	}
	if (save_cursor(o, st, last, missing)) {
		/* Written, not recorded: the next try (or run) cuts it. */
		dw_buf_release(&b.buf);
		out_failed(o, dw_error_last());
		out_close(o);
		return -1;
	}
	o->size += (long long)b.buf.len;
	memcpy(o->at, last, sizeof(o->at));
	__atomic_add_fetch(&o->written, (unsigned long long)b.rows,
			   __ATOMIC_RELAXED);
	dw_buf_release(&b.buf);
	if (o->failing)
		dw_log_info("output %s: writing again", o->shown);
	o->failing = 0;
	return 1;
}

/* ---- OTLP/HTTP ---- */

struct otlp_batch {
	struct output *o;
	struct dwd_otlp_item *v;
	size_t n, alloc;
	size_t forced; /* summaries (bulk_flush()), past otlp_rows */
};

static int add_record(const struct dw_feed_row *r, void *ctx)
{
	struct otlp_batch *b = ctx;

	if (b->n - b->forced >= b->o->otlp_rows && !b->o->forcing)
		return DW_FEED_FULL;
	b->forced += b->o->forcing != 0;
	DW_ALLOC_GROW(b->v, b->n + 1, b->alloc);
	b->v[b->n].doc = dwd_ecs_doc(r, b->o->all->host);
	/* Microseconds where the table keeps them, else its second. */
	b->v[b->n++].time_ns = r->table == DW_FEED_EVENTS
				       ? r->time_us * 1000
				       : r->time * 1000000000LL;
	return 0;
}

/* Wait before the next try: Retry-After when the receiver said it
 * (at most 5 minutes), else 1, 2, 4 ... 60 s. */
static void out_backoff(struct output *o, long retry_after_s)
{
	long wait = retry_after_s > 0	 ? retry_after_s
		    : o->backoff_s <= 0	 ? 1
		    : o->backoff_s >= 30 ? 60
					 : o->backoff_s * 2;

	if (wait > 300)
		wait = 300;
	o->backoff_s = retry_after_s > 0 ? o->backoff_s : wait;
	o->next_try_ms = dw_mono_ms() + wait * 1000;
}

/* One request: 1 taken, 0 nothing left, -1 failed (tried again). */
static int otlp_batch(struct output *o, struct dw_store *st)
{
	struct otlp_batch b = {o, NULL, 0, 0, 0};
	long long last[DW_FEED_N], missing[DW_FEED_N], rejected;
	struct dw_buf body = DW_BUF_INIT, answer = DW_BUF_INIT;
	const char *hdrs[40];
	long status = 0, after = 0, left;
	char why[300];
	json_t *req;
	size_t i, nh = 0;
	int err, moved = 0, t, rejected_all = 0;

	if (dw_mono_ms() < o->next_try_ms)
		return 0;
	err = out_read(o, st, BATCH_ROWS, add_record, &b, last, missing);
	for (t = 0; t < DW_FEED_N; t++)
		moved |= last[t] != o->at[t];
	if (err || !moved) {
		for (i = 0; i < b.n; i++)
			json_decref(b.v[i].doc);
		free(b.v);
		if (err)
			out_failed(o, dw_error_last());
		return err ? -1 : 0;
	}
	req = dwd_otlp_request(b.v, b.n, o->all->host, DW_VERSION,
			       (long long)time(NULL) * 1000000000LL);
	for (i = 0; i < b.n; i++)
		json_decref(b.v[i].doc);
	free(b.v);
	dw_json_dump(&body, req, JSON_PRESERVE_ORDER);
	json_decref(req);
	/* Too big (names a container chose escaped twice over): halves,
	 * down to one record, which always goes. */
	if (body.len > OTLP_MAX_BYTES && b.n - b.forced > 1) {
		o->otlp_rows = (b.n - b.forced) / 2;
		dw_buf_release(&body);
		return 1;
	}
	for (i = 0; i < o->cfg.nheaders && nh < 39; i++)
		hdrs[nh++] = o->cfg.headers[i];
	hdrs[nh] = NULL;
	/* A reload's stop ends a request that waits; the last pass of a
	 * shutdown has its own deadline. */
	left = final_left(o->all);
	err = dw_http_post_answer(o->cfg.path, body.ptr, body.len, hdrs,
				  o->in_final ? (left > 0 ? left : 1) : 10000,
				  &status, &answer, &after,
				  o->in_final ? NULL : &o->all->stop);
	if (err && !o->in_final && stopping(o->all)) {
		/* Ended by the stop: not a failure (the last pass goes
		 * on, a reload's new thread too). */
		dw_buf_release(&body);
		dw_buf_release(&answer);
		return 0;
	}
	if (!err && status == 413 && b.n - b.forced > 1) {
		dw_log_info("output %s: the receiver refused %zu records "
			    "(%zu bytes) as too large: sent in halves",
			    o->shown, b.n, body.len);
		o->otlp_rows = (b.n - b.forced) / 2;
		dw_buf_release(&body);
		dw_buf_release(&answer);
		return 1;
	}
	if (!err && status == 413) {
		/* One record the receiver will never take: its refusal,
		 * counted and said as a rejection, not a wedge. */
		dw_buf_release(&answer);
		answer.len = 0;
		snprintf(why, sizeof(why),
			 "refused as too large (HTTP 413, %zu bytes)",
			 body.len);
		status = 200;
		rejected_all = 1;
	}
	dw_buf_release(&body);
	if (err || status < 200 || status > 299) {
		if (err)
			snprintf(why, sizeof(why), "not delivered: %s",
				 dw_error_last());
		else
			snprintf(why, sizeof(why), "not delivered: HTTP %ld%s",
				 status,
				 status == 429 || status == 502 ||
						 status == 503 || status == 504
					 ? " (the receiver asks to retry)"
					 : " (kept and tried again: "
					   "check the endpoint)");
		dw_buf_release(&answer);
		out_backoff(o, err ? 0 : after);
		out_failed(o, why);
		return -1;
	}
	/* Taken. Records the receiver rejected (partialSuccess) are not
	 * to be sent again (OTLP): counted and said. */
	if (rejected_all)
		rejected = (long long)b.n;
	else
		rejected = dwd_otlp_rejected(answer.ptr ? answer.ptr : "",
					     answer.len, why, sizeof(why));
	if (rejected > (long long)b.n)
		rejected = (long long)b.n;
	dw_buf_release(&answer);
	if (save_cursor(o, st, last, missing)) {
		out_failed(o, dw_error_last());
		return -1;
	}
	memcpy(o->at, last, sizeof(o->at));
	o->backoff_s = 0;
	if (o->otlp_rows < BATCH_ROWS)
		o->otlp_rows = o->otlp_rows * 2 < BATCH_ROWS ? o->otlp_rows * 2
							     : BATCH_ROWS;
	__atomic_add_fetch(&o->written, (unsigned long long)b.n,
			   __ATOMIC_RELAXED);
	if (rejected > 0) {
		__atomic_add_fetch(&o->rejected, (unsigned long long)rejected,
				   __ATOMIC_RELAXED);
		dw_log_warn("output %s: the receiver rejected %lld of %zu "
			    "records: %.200s",
			    o->shown, rejected, b.n, why);
	}
	if (o->failing)
		dw_log_info("output %s: delivering again", o->shown);
	o->failing = 0;
	return 1;
}

/* ---- syslog ---- */

struct syslog_batch {
	struct output *o;
	struct dw_buf buf;
	size_t rows;
	int pid;
	/* RELP: messages not framed; where each ends, and its row */
	int relp;
	size_t *ends;
	struct row_at {
		int table;
		long long id;
		long long gap;	       /* ids missing before it (retention) */
		long long held, first; /* a summary: its rows, the first */
	} * at;
	long long prev[DW_FEED_N]; /* the last id of each table */
};

static int add_message(const struct dw_feed_row *r, void *ctx)
{
	struct syslog_batch *b = ctx;
	json_t *doc;

	if (b->rows && b->buf.len >= BATCH_BYTES && !b->o->forcing)
		return DW_FEED_FULL;
	doc = dwd_ecs_doc(r, b->o->all->host);
	if (b->relp) {
		dwd_syslog_message(&b->buf, doc, b->o->cfg.facility,
				   b->o->cfg.sd_id, b->o->all->host, b->pid);
		b->ends =
			dw_xrealloc(b->ends, (b->rows + 1) * sizeof(*b->ends));
		b->at = dw_xrealloc(b->at, (b->rows + 1) * sizeof(*b->at));
		b->ends[b->rows] = b->buf.len;
		b->at[b->rows].table = r->table;
		b->at[b->rows].id = r->id;
		/* A summary (bulk_flush()): the rows it counts. */
		b->at[b->rows].held =
			b->o->forcing
				? (long long)json_integer_value(
					  json_object_get(r->doc, "changes"))
				: 0;
		b->at[b->rows].first =
			b->o->forcing
				? (long long)json_integer_value(
					  json_object_get(r->doc, "first_id"))
				: r->id;
		b->at[b->rows].gap =
			b->o->forcing ? 0 : r->id - b->prev[r->table] - 1;
		if (!b->o->forcing)
			b->prev[r->table] = r->id;
	} else
		dwd_syslog_format(&b->buf, doc, b->o->cfg.facility,
				  b->o->cfg.sd_id, b->o->all->host, b->pid);
	json_decref(doc);
	b->rows++;
	return 0;
}

static void syslog_batch_free(struct syslog_batch *b)
{
	dw_buf_release(&b->buf);
	free(b->ends);
	free(b->at);
}

/* The connection is gone: its window goes again, from the window's
 * start, on the next one. `why` NULL: ended by a stop, not a failure. */
static void syslog_lost(struct output *o, const char *why)
{
	size_t i;

	dwd_syslog_close(&o->conn);
	for (i = 0; i < o->nwindow; i++)
		o->resend_rows += o->window[i].rows;
	o->nwindow = 0;
	o->window_bytes = 0;
	memcpy(o->at, o->saved, sizeof(o->at));
	if (!why)
		return; /* ended by a stop: not a failure */
	out_backoff(o, 0);
	out_failed(o, why);
}

/* A batch sent on this connection; the window's start moves past what
 * fell out of it. */
static void window_add(struct output *o, const long long from[DW_FEED_N],
		       size_t bytes, size_t rows)
{
	struct sent_batch *w;

	if (o->nwindow == WINDOW_BATCHES) {
		o->window_bytes -= o->window[0].bytes;
		memmove(&o->window[0], &o->window[1],
			--o->nwindow * sizeof(o->window[0]));
	}
	w = &o->window[o->nwindow++];
	memcpy(w->from, from, sizeof(w->from));
	w->bytes = bytes;
	w->rows = rows;
	o->window_bytes += bytes;
	while (o->nwindow > 1 &&
	       o->window_bytes - o->window[0].bytes >= WINDOW_BYTES) {
		o->window_bytes -= o->window[0].bytes;
		memmove(&o->window[0], &o->window[1],
			--o->nwindow * sizeof(o->window[0]));
	}
}

/* One batch: 1 sent, 0 nothing left, -1 failed (tried again). */
static int syslog_batch(struct output *o, struct dw_store *st)
{
	struct syslog_batch b = {
		.o = o, .buf = DW_BUF_INIT, .pid = (int)getpid()};
	long long last[DW_FEED_N], missing[DW_FEED_N];
	int err, t, moved = 0, resending = 0;

	if (dw_mono_ms() < o->next_try_ms)
		return 0;
	if (o->conn && !dwd_syslog_alive(o->conn)) {
		syslog_lost(o, "the receiver closed the connection");
		return -1;
	}
	if (!o->conn) {
		char why[600];

		if (dwd_syslog_open(&o->conn, &o->cfg, 5000)) {
			snprintf(why, sizeof(why), "not delivered: %s",
				 dw_error_last());
			out_backoff(o, 0);
			out_failed(o, why);
			return -1;
		}
		if (o->restarted)
			dw_log_info("output %s: connected; what a previous "
				    "run sent in its last %d MiB, if anything, "
				    "is sent again (at least once)",
				    o->shown, WINDOW_BYTES >> 20);
		o->restarted = 0;
		if (o->resend_rows) {
			dw_log_info("output %s: connected; the last %zu rows "
				    "are sent again (at least once)",
				    o->shown, o->resend_rows);
			__atomic_add_fetch(&o->resent,
					   (unsigned long long)o->resend_rows,
					   __ATOMIC_RELAXED);
			o->resend_rows = 0;
		}
	}
	err = out_read(o, st, SYSLOG_BATCH_ROWS, add_message, &b, last,
		       missing);
	for (t = 0; t < DW_FEED_N; t++) {
		moved |= last[t] != o->at[t];
		resending |= o->at[t] < o->high[t];
	}
	if (err || !moved) {
		dw_buf_release(&b.buf);
		if (err)
			out_failed(o, dw_error_last());
		return err ? -1 : 0;
	}
	/* The stop of a reload ends a send that waits; the last pass of
	 * a shutdown has its own deadline. */
	if (dwd_syslog_send(o->conn, b.buf.ptr, b.buf.len,
			    o->in_final ? final_left(o->all) : 10000,
			    o->in_final ? NULL : &o->all->stop)) {
		char why[600];

		snprintf(why, sizeof(why), "not delivered: %s",
			 dw_error_last());
		dw_buf_release(&b.buf);
		if (!o->in_final && stopping(o->all)) {
			syslog_lost(o, NULL);
			return 0;
		}
		syslog_lost(o, why);
		return -1;
	}
	window_add(o, o->at, b.buf.len, b.rows);
	dw_buf_release(&b.buf);
	/* The store keeps where the window begins: it goes again after a
	 * restart, as after a reconnect. Gaps of a batch sent again were
	 * told the first time. */
	if (save_cursor(o, st, o->window[0].from, resending ? NULL : missing)) {
		out_failed(o, dw_error_last());
		syslog_lost(o, "the store did not take the cursor");
		return -1;
	}
	memcpy(o->saved, o->window[0].from, sizeof(o->saved));
	for (t = 0; t < DW_FEED_N; t++) {
		o->at[t] = last[t];
		if (last[t] > o->high[t])
			o->high[t] = last[t];
	}
	o->backoff_s = 0;
	__atomic_add_fetch(&o->written, (unsigned long long)b.rows,
			   __ATOMIC_RELAXED);
	if (o->failing)
		dw_log_info("output %s: delivering again", o->shown);
	o->failing = 0;
	return 1;
}

/*
 * One batch over RELP: 1 sent, 0 nothing left, -1 failed (tried again).
 * The cursor moves past the messages the receiver answered, also when
 * the session broke after some of them; the rest go again. A message
 * refused RELP_REFUSALS times in a row is passed over, counted and said
 * (it stays in the store): one row a receiver cannot take does not hold
 * back every row after it.
 */
static int relp_batch(struct output *o, struct dw_store *st)
{
	struct syslog_batch b = {
		.o = o, .buf = DW_BUF_INIT, .pid = (int)getpid(), .relp = 1};
	long long last[DW_FEED_N], missing[DW_FEED_N], to[DW_FEED_N];
	long long gaps[DW_FEED_N] = {0};
	struct dwd_relp_batch m = {0};
	size_t taken, i;
	int err, t, moved = 0, passed = 0, cancelled;
	char why[600] = "";

	if (dw_mono_ms() < o->next_try_ms)
		return 0;
	memcpy(b.prev, o->at, sizeof(b.prev));
	err = out_read(o, st, SYSLOG_BATCH_ROWS, add_message, &b, last,
		       missing);
	for (t = 0; t < DW_FEED_N; t++)
		moved |= last[t] != o->at[t];
	if (err || !moved) {
		syslog_batch_free(&b);
		if (err)
			out_failed(o, dw_error_last());
		return err ? -1 : 0;
	}
	if (o->relp &&
	    (!dwd_relp_alive(o->relp) || dwd_relp_worn(o->relp, b.rows)))
		dwd_relp_close(&o->relp, 0);
	err = o->relp ? 0
		      : dwd_relp_open(&o->relp, &o->cfg,
				      o->in_final ? final_left(o->all) : 5000);
	m.buf = b.buf.ptr;
	m.ends = b.ends;
	m.n = b.rows;
	if (!err)
		err = dwd_relp_send(
			o->relp, &m, 10000,
			o->in_final ? __atomic_load_n(&o->all->final_until,
						      __ATOMIC_RELAXED)
				    : 0,
			o->in_final ? NULL : &o->all->stop);
	/* Ended by the stop: what was answered counts, the rest goes in
	 * the last pass (or the reload's new thread), not a failure. */
	cancelled = err && !o->in_final && stopping(o->all);
	if (err) {
		snprintf(why, sizeof(why), "not delivered: %s",
			 dw_error_last());
		dwd_relp_close(&o->relp, 0);
	}
	taken = m.answered;
	/* The same row refused again and again: passed over. */
	if (m.refused) {
		const struct row_at *r = &b.at[m.answered];

		if (o->refused_table == r->table && o->refused_id == r->id)
			o->refusals++;
		else
			o->refusals = 1;
		o->refused_table = r->table;
		o->refused_id = r->id;
		if (o->refusals >= RELP_REFUSALS) {
			passed = 1;
			taken++;
			o->refusals = 0;
		}
	}
	memcpy(to, last, sizeof(to));
	if (taken < b.rows) {
		memcpy(to, o->at, sizeof(to));
		for (i = 0; i < taken; i++) {
			to[b.at[i].table] = b.at[i].id;
			gaps[b.at[i].table] += b.at[i].gap;
		}
		memcpy(missing, gaps, sizeof(missing));
		/* The summaries are the batch's tail: the rows of one not
		 * taken go again (its first row bounds the cursor). */
		for (i = taken; i < b.rows; i++)
			if (b.at[i].held && to[DW_FEED_EVENTS] >= b.at[i].first)
				to[DW_FEED_EVENTS] = b.at[i].first - 1;
	}
	if (taken && save_cursor(o, st, to, missing)) {
		/* Sent again: the receiver takes them twice. */
		snprintf(why, sizeof(why),
			 "the store did not take the cursor: %s",
			 dw_error_last());
		dwd_relp_close(&o->relp, 0);
		__atomic_add_fetch(&o->resent, (unsigned long long)taken,
				   __ATOMIC_RELAXED);
		err = -1;
	} else if (taken) {
		memcpy(o->at, to, sizeof(o->at));
		__atomic_add_fetch(&o->written, (unsigned long long)m.answered,
				   __ATOMIC_RELAXED);
		if (passed) {
			const struct row_at *r = &b.at[m.answered];

			__atomic_add_fetch(&o->rejected,
					   r->held ? (unsigned long long)r->held
						   : 1,
					   __ATOMIC_RELAXED);
			if (r->held)
				dw_log_warn("output %s: the receiver refused "
					    "the summary of %lld events rows "
					    "(%lld to %lld) %d times: passed "
					    "over (they stay in the store)",
					    o->shown, r->held, r->first, r->id,
					    RELP_REFUSALS);
			else
				dw_log_warn(
					"output %s: the receiver refused the "
					"%s row %lld %d times: passed over (it "
					"stays in the store)",
					o->shown,
					o->refused_table == DW_FEED_EVENTS
						? "events"
					: o->refused_table == DW_FEED_FINDINGS
						? "findings"
						: "alerts",
					o->refused_id, RELP_REFUSALS);
		}
	}
	syslog_batch_free(&b);
	if (err && cancelled)
		return 0;
	if (err) {
		/* Sent and not answered: sent again, and the receiver may
		 * have taken some of them before the session broke. */
		if (m.sent > m.answered + (size_t)m.refused) {
			size_t again = m.sent - m.answered - (size_t)m.refused;

			__atomic_add_fetch(&o->resent,
					   (unsigned long long)again,
					   __ATOMIC_RELAXED);
			dw_log_info("output %s: %zu messages were sent and "
				    "not answered: sent again (the receiver "
				    "may hold some of them twice)",
				    o->shown, again);
		}
		out_backoff(o, 0);
		out_failed(o, why);
		/* Progress: the next session at once; a refusal: in 1 s. */
		if (taken && !passed) {
			o->backoff_s = 0;
			o->next_try_ms = 0;
		} else if (m.refused) {
			o->backoff_s = 0;
			o->next_try_ms = dw_mono_ms() + 1000;
		}
		return -1;
	}
	o->backoff_s = 0;
	o->refusals = 0;
	if (o->failing)
		dw_log_info("output %s: delivering again", o->shown);
	o->failing = 0;
	return 1;
}

/* Its cursor as stored. */
static int out_cursor(struct output *o, struct dw_store *st)
{
	if (dw_store_feed_cursor(st, o->name, o->at)) {
		dw_log_error("output %s: %s", o->shown, dw_error_last());
		return -1;
	}
	memcpy(o->saved, o->at, sizeof(o->at));
	return 0;
}

/* Everything due, batch by batch (until stopped). */
static void out_pass(struct output *o, struct dw_store *st, int final)
{
	int r = outputs_locked(o->all);
	long long pending;

	o->in_final = final;
	/* The cursor read before the lock was held may be behind: the
	 * driftwatchd that had the lock (a `--once`) moved it since. Read
	 * again, also while locked out, for the pending count. */
	if (!o->synced) {
		if (out_cursor(o, st))
			r = -1;
		else
			o->synced = r;
	}

	while (r > 0 && o->cfg.type == DW_OUTPUT_OTLP &&
	       (final ? !o->failing && final_due(o->all) : !stopping(o->all)))
		r = otlp_batch(o, st);
	while (r > 0 && o->cfg.type == DW_OUTPUT_SYSLOG &&
	       (final ? !o->failing && final_due(o->all) : !stopping(o->all)))
		r = DW_SYSLOG_IS_RELP(o->cfg.transport) ? relp_batch(o, st)
							: syslog_batch(o, st);
	while (r > 0 && o->cfg.type == DW_OUTPUT_JSONL &&
	       (final ? final_due(o->all) : !stopping(o->all))) {
		out_check(o);
		if (o->fd < 0) {
			if (out_open(o))
				break;
			out_recover(o, st);
		}
		r = out_batch(o, st);
	}
	if (!dw_store_feed_pending(st, o->at, &pending))
		__atomic_store_n(&o->pending, pending, __ATOMIC_RELAXED);
}

static int out_begin(struct output *o, struct dw_store *st)
{
	if (out_cursor(o, st))
		return -1;
	/* A syslog output's stored cursor is the start of the last run's
	 * window: sent again, said at the first connection. */
	o->restarted = o->cfg.type == DW_OUTPUT_SYSLOG &&
		       !DW_SYSLOG_IS_RELP(o->cfg.transport);
	return 0;
}

static void *output_loop(void *arg)
{
	struct output *o = arg;
	struct dwd_outputs *all = o->all;
	struct dw_store *st = NULL;

	if (dw_store_open(&st, all->db, 0)) {
		dw_log_error("output %s stopped: %s; its events stay in the "
			     "store",
			     o->shown, dw_error_last());
		return NULL;
	}
	if (out_begin(o, st)) {
		dw_store_close(st);
		return NULL;
	}
	pthread_mutex_lock(&all->mu);
	while (!all->stop) {
		struct timespec ts;

		pthread_mutex_unlock(&all->mu);
		out_pass(o, st, 0);
		pthread_mutex_lock(&all->mu);
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_sec += 1;
		if (!all->stop)
			pthread_cond_timedwait(&all->cv, &all->mu, &ts);
	}
	pthread_mutex_unlock(&all->mu);
	/* What the daemon recorded as it stopped goes too. */
	out_pass(o, st, 1);
	out_close(o);
	/* Politely, within what is left of the last pass (none at a
	 * reload). */
	dwd_relp_close(&o->relp,
		       final_left(all) < 1000 ? final_left(all) : 1000);
	dw_store_close(st);
	return NULL;
}

static struct dwd_outputs *outputs_new(struct daemon *dm)
{
	struct dwd_outputs *all = dw_xcalloc(1, sizeof(*all));
	size_t i;

	pthread_mutex_init(&all->mu, NULL);
	pthread_cond_init(&all->cv, NULL);
	all->db = dw_xstrdup(dm->db);
	all->lock_fd = -1;
	if (dm->pol.noutputs && strcmp(dm->db, ":memory:")) {
		size_t len = strlen(dm->db) + 16;
		char *lock = dw_xmalloc(len);

		snprintf(lock, len, "%s-outputs.lock", dm->db);
		all->lock_fd = open(lock,
				    O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW |
					    O_NOCTTY | O_NONBLOCK,
				    0600);
		if (all->lock_fd < 0)
			dw_log_warn("outputs: cannot open %s (%s): another "
				    "driftwatchd on this store could write "
				    "them too",
				    lock, strerror(errno));
		free(lock);
	}
	if (gethostname(all->host, sizeof(all->host) - 1) < 0)
		snprintf(all->host, sizeof(all->host), "localhost");
	if (dm->pol.noutputs > OUTPUTS_MAX)
		dw_log_warn("%zu outputs configured: the first %d are written",
			    dm->pol.noutputs, OUTPUTS_MAX);
	for (i = 0; i < dm->pol.noutputs && i < OUTPUTS_MAX; i++) {
		struct output *o = &all->o[all->n++];

		o->all = all;
		o->cfg = dm->pol.outputs[i];
		o->cfg.path = dw_xstrdup(dm->pol.outputs[i].path);
		o->cfg.headers =
			dw_xcalloc(o->cfg.nheaders + 1, sizeof(char *));
		for (size_t h = 0; h < o->cfg.nheaders; h++)
			o->cfg.headers[h] =
				dw_xstrdup(dm->pol.outputs[i].headers[h]);
		/* Its own copies: a reload releases the policy's. */
		o->cfg.ca = o->cfg.ca ? dw_xstrdup(o->cfg.ca) : NULL;
		o->cfg.cert = o->cfg.cert ? dw_xstrdup(o->cfg.cert) : NULL;
		o->cfg.key = o->cfg.key ? dw_xstrdup(o->cfg.key) : NULL;
		o->cfg.sd_id = o->cfg.sd_id ? dw_xstrdup(o->cfg.sd_id) : NULL;
		o->fd = -1;
		o->otlp_rows = BATCH_ROWS;
		output_name(o->name, sizeof(o->name), &o->cfg);
		if (o->cfg.type == DW_OUTPUT_OTLP)
			dw_url_origin(o->shown, sizeof(o->shown), o->cfg.path);
		else
			snprintf(o->shown, sizeof(o->shown), "%s", o->cfg.path);
	}
	return all;
}

static void outputs_free(struct dwd_outputs *all)
{
	size_t i;

	for (i = 0; i < all->n; i++) {
		out_close(&all->o[i]);
		dwd_syslog_close(&all->o[i].conn);
		dwd_relp_close(&all->o[i].relp, 0);
		for (size_t k = 0; k < all->o[i].nbulk; k++)
			json_decref(all->o[i].bulk[k].row);
		free(all->o[i].bulk);
		free(all->o[i].cfg.path);
		free(all->o[i].cfg.ca);
		free(all->o[i].cfg.cert);
		free(all->o[i].cfg.key);
		free(all->o[i].cfg.sd_id);
		for (size_t h = 0; h < all->o[i].cfg.nheaders; h++)
			free(all->o[i].cfg.headers[h]);
		free(all->o[i].cfg.headers);
	}
	if (all->lock_fd >= 0)
		close(all->lock_fd); /* and its lock */
	pthread_mutex_destroy(&all->mu);
	pthread_cond_destroy(&all->cv);
	free(all->db);
	free(all);
}

void dwd_outputs_register(struct daemon *dm)
{
	size_t i;
	long long at[DW_FEED_N];

	/* Each output's cursor exists before anything is recorded, so a
	 * new one takes what this run records from its first event. */
	for (i = 0; i < dm->pol.noutputs && i < OUTPUTS_MAX; i++) {
		char name[4200];

		output_name(name, sizeof(name), &dm->pol.outputs[i]);
		if (dw_store_feed_cursor(dm->store, name, at))
			dw_log_warn("output %s: %s", dm->pol.outputs[i].path,
				    dw_error_last());
	}
}

void dwd_outputs_start(struct daemon *dm)
{
	struct dwd_outputs *all;
	size_t i;

	if (!dm->pol.noutputs)
		return;
	all = outputs_new(dm);
	for (i = 0; i < all->n; i++) {
		struct output *o = &all->o[i];

		if (pthread_create(&o->thread, NULL, output_loop, o)) {
			dw_log_error("output %s: cannot start its thread; its "
				     "events stay in the store",
				     o->shown);
			continue;
		}
		o->started = 1;
	}
	dm->outputs = all;
}

/* Its threads stopped (not freed). */
static void outputs_halt(struct dwd_outputs *all, int drain)
{
	size_t i;

	pthread_mutex_lock(&all->mu);
	/* At shutdown, what is due is written for FINAL_MS at most; at a
	 * reload not at all (the cursors are in the store: the new
	 * threads go on), so neither waits on a backlog. */
	__atomic_store_n(&all->final_until, drain ? dw_mono_ms() + FINAL_MS : 0,
			 __ATOMIC_RELAXED);
	__atomic_store_n(&all->stop, 1, __ATOMIC_RELAXED);
	pthread_cond_broadcast(&all->cv);
	pthread_mutex_unlock(&all->mu);
	for (i = 0; i < all->n; i++)
		if (all->o[i].started)
			pthread_join(all->o[i].thread, NULL);
}

void dwd_outputs_stop(struct daemon *dm, int drain)
{
	if (!dm->outputs)
		return;
	outputs_halt(dm->outputs, drain);
	outputs_free(dm->outputs);
	dm->outputs = NULL;
}

/* An output a reload keeps keeps its counts (counters in /metrics do
 * not go back). */
static void outputs_carry(const struct dwd_outputs *from,
			  struct dwd_outputs *to)
{
	size_t i, j;

	for (i = 0; from && to && i < to->n; i++)
		for (j = 0; j < from->n; j++) {
			const struct output *a = &from->o[j];
			struct output *b = &to->o[i];

			if (strcmp(a->name, b->name))
				continue;
#define CARRY(f) __atomic_add_fetch(&b->f, a->f, __ATOMIC_RELAXED)
			CARRY(written);
			CARRY(dropped);
			CARRY(errors);
			CARRY(rotated);
			CARRY(rejected);
			CARRY(resent);
			CARRY(summarised);
#undef CARRY
			break;
		}
}

void dwd_outputs_restart(struct daemon *dm)
{
	struct dwd_outputs *old = dm->outputs;

	if (old) {
		outputs_halt(old, 0);
		/* Its lock goes before the new threads take it. */
		if (old->lock_fd >= 0)
			close(old->lock_fd);
		old->lock_fd = -1;
	}
	dm->outputs = NULL;
	dwd_outputs_register(dm);
	dwd_outputs_start(dm);
	outputs_carry(old, dm->outputs);
	if (old)
		outputs_free(old);
}

void dwd_outputs_once(struct daemon *dm)
{
	struct dwd_outputs *all;
	size_t i;

	if (!dm->pol.noutputs)
		return;
	all = outputs_new(dm);
	/* A run of its own: everything due is written. */
	all->final_until = LLONG_MAX;
	for (i = 0; i < all->n; i++)
		if (!out_begin(&all->o[i], dm->store))
			out_pass(&all->o[i], dm->store, 1);
	outputs_free(all);
}

int dwd_outputs_each(struct daemon *dm, dwd_output_fn cb, void *ctx)
{
	struct dwd_outputs *all = dm->outputs;
	size_t i;
	int err = 0;

	for (i = 0; all && !err && i < all->n; i++) {
		struct output *o = &all->o[i];
		struct dwd_output_stats s = {
			o->shown,
			__atomic_load_n(&o->written, __ATOMIC_RELAXED),
			__atomic_load_n(&o->dropped, __ATOMIC_RELAXED),
			__atomic_load_n(&o->errors, __ATOMIC_RELAXED),
			__atomic_load_n(&o->rotated, __ATOMIC_RELAXED),
			__atomic_load_n(&o->rejected, __ATOMIC_RELAXED),
			__atomic_load_n(&o->resent, __ATOMIC_RELAXED),
			__atomic_load_n(&o->summarised, __ATOMIC_RELAXED),
			__atomic_load_n(&o->pending, __ATOMIC_RELAXED),
		};

		err = cb(&s, ctx);
	}
	return err;
}
