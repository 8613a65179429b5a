/* driftwatchd: writer attribution, the loop's side (writerwatch.h). */
#include <fcntl.h>
#include <string.h>
#include <unistd.h>
#include <time.h>

#include "daemon.h"
#include "driftwatch/escape.h"
#include "procinfo.h"

#include "driftwatch/banned.h"

/* Lost events (an overflow, a stalled thread) degrade every container's
 * writer facet until this long has passed without another. */
#define DEGRADED_HOLD_S 60
#define STALL_MS 5000
#define CMDLINE_KEEP 1024 /* bytes of a redacted command line kept */

static struct {
	char **ids; /* the containers whose writer facet is monitored */
	size_t n, alloc;
	unsigned long long overflows, dropped, late, too_long; /* as seen */
	long long degraded_until; /* time(NULL); 0: not degraded */
	char why[160];
} ws;

static void ids_drop(const char *id)
{
	for (size_t i = 0; i < ws.n; i++)
		if (!strcmp(ws.ids[i], id)) {
			free(ws.ids[i]);
			ws.ids[i] = ws.ids[--ws.n];
			return;
		}
}

static void cover_one(struct daemon *dm, const char *id)
{
	if (ws.degraded_until)
		dw_monitor_cover(dm->mon, id, DW_FACET_WRITER,
				 DW_COVER_DEGRADED, DW_REASON_QUEUE_OVERFLOW,
				 ws.why);
	else
		dw_monitor_cover(dm->mon, id, DW_FACET_WRITER,
				 DW_COVER_MONITORED, DW_REASON_NONE,
				 "fanotify");
}

void dwd_writer_subject(struct daemon *dm, const struct dw_exec_subject *s,
			int add)
{
	int err;

	ids_drop(s->id);
	if (!add) {
		if (dm->writer)
			dwd_writer_remove(dm->writer, s->id);
		return;
	}
	if (!dm->pol.writer_attribution) {
		if (dm->writer)
			dwd_writer_remove(dm->writer, s->id);
		dw_monitor_cover(dm->mon, s->id, DW_FACET_WRITER,
				 DW_COVER_UNMONITORED, DW_REASON_DISABLED,
				 "writer_attribution: false");
		return;
	}
	if (!dm->writer) {
		dw_monitor_cover(dm->mon, s->id, DW_FACET_WRITER,
				 DW_COVER_UNMONITORED,
				 dm->o->once ? DW_REASON_DISABLED
					     : DW_REASON_FANOTIFY_UNAVAILABLE,
				 dm->writer_error);
		return;
	}
	err = dwd_writer_add(dm->writer, s->id, s->upper);
	if (err) {
		dw_monitor_cover(
			dm->mon, s->id, DW_FACET_WRITER, DW_COVER_UNMONITORED,
			err == DW_EUNSUPPORTED ? DW_REASON_STORAGE_DRIVER
					       : DW_REASON_FANOTIFY_UNAVAILABLE,
			dw_error_last());
		return;
	}
	DW_ALLOC_GROW(ws.ids, ws.n + 1, ws.alloc);
	ws.ids[ws.n++] = dw_xstrdup(s->id);
	cover_one(dm, s->id);
}

/* The detail of a change's event: who made it, or why that is not
 * known. The command line goes through the secret engine (redacted). */
/*
 * Is the file `ex` ("_exe": ino, size, ctime, mtime) at `exe` in the
 * container image content: the same inode, size and times in a lower
 * layer (as the exec watch decides)? The last few answers are kept: a
 * process that writes 100,000 files is looked up once.
 */
static int exe_is_image(const char *id, char *const *lowers, size_t nlowers,
			const char *exe, json_t *ex)
{
	static struct {
		char id[80], exe[256];
		json_int_t ino, size, ctime, ctime_ns, mtime, mtime_ns;
		int image;
	} cache[16];
	static unsigned next;
	json_int_t ino = json_integer_value(json_object_get(ex, "ino"));
	json_int_t size = json_integer_value(json_object_get(ex, "size"));
	json_int_t ct = json_integer_value(json_object_get(ex, "ctime"));
	json_int_t ctn = json_integer_value(json_object_get(ex, "ctime_ns"));
	json_int_t mt = json_integer_value(json_object_get(ex, "mtime"));
	json_int_t mtn = json_integer_value(json_object_get(ex, "mtime_ns"));
	int image = 0;

	if (!json_is_object(ex) || exe[0] != '/' || strlen(id) >= 80 ||
	    strlen(exe) >= 256)
		return 0;
	for (size_t i = 0; i < 16; i++)
		if (!strcmp(cache[i].id, id) && !strcmp(cache[i].exe, exe) &&
		    cache[i].ino == ino && cache[i].size == size &&
		    cache[i].ctime == ct && cache[i].ctime_ns == ctn &&
		    cache[i].mtime == mt && cache[i].mtime_ns == mtn)
			return cache[i].image;
	for (size_t i = 0; !image && i < nlowers; i++) {
		int dir = open(lowers[i], O_PATH | O_DIRECTORY | O_CLOEXEC);
		struct stat lo;

		if (dir < 0)
			continue;
		image = !dwd_stat_beneath(dir, exe + 1, &lo) &&
			S_ISREG(lo.st_mode) && (json_int_t)lo.st_ino == ino &&
			(json_int_t)lo.st_size == size &&
			(json_int_t)lo.st_ctim.tv_sec == ct &&
			lo.st_ctim.tv_nsec == ctn &&
			(json_int_t)lo.st_mtim.tv_sec == mt &&
			lo.st_mtim.tv_nsec == mtn;
		close(dir);
	}
	next %= 16;
	snprintf(cache[next].id, sizeof(cache[next].id), "%s", id);
	snprintf(cache[next].exe, sizeof(cache[next].exe), "%s", exe);
	cache[next].ino = ino;
	cache[next].size = size;
	cache[next].ctime = ct;
	cache[next].ctime_ns = ctn;
	cache[next].mtime = mt;
	cache[next].mtime_ns = mtn;
	cache[next++].image = image;
	return image;
}

void dwd_redact_field(struct dw_monitor *m, json_t *o, const char *key)
{
	const char *v = json_string_value(json_object_get(o, key));
	struct dw_buf red = DW_BUF_INIT, b = DW_BUF_INIT;

	if (!v)
		return;
	dw_monitor_redact_text(m, v, strlen(v), NULL, &red);
	dw_utf8_sanitize(&b, red.ptr ? red.ptr : "", red.len);
	json_object_set_new(o, key, json_string(b.ptr ? b.ptr : ""));
	dw_buf_release(&red);
	dw_buf_release(&b);
}

static char *writer_detail(struct dw_monitor *m, const char *id,
			   char *const *lowers, size_t nlowers,
			   const void *path, size_t len, long long since_us,
			   void *ctx)
{
	struct daemon *dm = ctx;
	json_t *d, *p = NULL;
	const char *why;
	char *s;

	if (!path) {
		/* The rescan's events, queued before inotify's: handled;
		 * its notes from before its previous rescan: stale. */
		if (dm->writer && dm->pol.writer_attribution) {
			int late = dwd_writer_sync(dm->writer);

			dwd_writer_forget(dm->writer, id, since_us);
			if (late) {
				/* Events of this window still queued: its
				 * notes may name some writers, not all. */
				dw_log_debug("writer attribution: not synced "
					     "in time");
				dwd_writer_lost(dm->writer, id);
			}
		}
		return NULL;
	}
	d = json_object();
	if (!dm->pol.writer_attribution)
		why = "writer_attribution: false";
	else if (!dm->writer)
		why = dm->writer_error;
	else if (dw_monitor_cover_state(m, id, DW_FACET_WRITER) ==
		 DW_COVER_UNMONITORED)
		why = "the container's writer facet is unmonitored (its "
		      "filesystem is not marked: driftwatch status says why)";
	else
		p = dwd_writer_take(dm->writer, id, path, len, since_us, &why);
	if (p) {
		const char *cmd =
			json_string_value(json_object_get(p, "cmdline"));
		const char *exe = json_string_value(json_object_get(p, "exe"));
		int cut;

		/* Did it exec around its change (or can that not be told:
		 * no exec watch on the container)? Then its exe may be the
		 * program it became after, not the writer's. */
		int uncertain =
			json_object_get(p, "_exec") != NULL ||
			json_is_true(json_object_get(p, "traced")) ||
			json_is_true(json_object_get(p, "more_writers")) ||
			json_is_true(json_object_get(p, "notes_lost")) ||
			dw_monitor_cover_state(m, id, DW_FACET_EXEC) !=
				DW_COVER_MONITORED;

		/* Its exe: image content, or not (then no allow rule
		 * naming a process matches it). */
		json_object_set_new(
			p, "exe_image",
			json_boolean(exe &&
				     exe_is_image(id, lowers, nlowers, exe,
						  json_object_get(p, "_exe"))));
		if (uncertain)
			json_object_set_new(p, "exe_uncertain", json_true());
		cut = json_object_get(p, "_cut") != NULL;
		/* What a container chose to name its programs: redacted
		 * like its paths (a token as a directory name). */
		dwd_redact_field(m, p, "exe");
		dwd_redact_field(m, p, "comm");
		json_object_del(p, "_exe");
		json_object_del(p, "_exec");
		json_object_del(p, "_cut");

		if (cmd) {
			struct dw_buf red = DW_BUF_INIT, b = DW_BUF_INIT;

			size_t keep;

			/* Redacted whole (as read, up to 8 KiB), then cut to
			 * 1 KiB on a character's boundary: a secret cut
			 * before redaction would not be recognised. */
			dw_monitor_redact_text(m, cmd, strlen(cmd), NULL, &red);
			dw_utf8_sanitize(&b, red.ptr ? red.ptr : "", red.len);
			keep = b.len;
			if (cut)
				json_object_set_new(p, "cmdline_truncated",
						    json_true());
			if (keep > CMDLINE_KEEP) {
				keep = CMDLINE_KEEP;
				while (keep && ((unsigned char)b.ptr[keep] &
						0xc0) == 0x80)
					keep--;
				json_object_set_new(p, "cmdline_truncated",
						    json_true());
			}
			json_object_set_new(
				p, "cmdline",
				json_stringn(b.ptr ? b.ptr : "", keep));
			dw_buf_release(&red);
			dw_buf_release(&b);
		}
		json_object_set_new(d, "process", p);
	} else {
		json_object_set_new(d, "process", json_null());
		json_object_set_new(d, "attribution", json_string(why));
	}
	s = json_dumps(d, JSON_COMPACT | JSON_PRESERVE_ORDER);
	json_decref(d);
	return s;
}

static void writer_lost(struct dw_monitor *m, const char *id, void *ctx)
{
	struct daemon *dm = ctx;

	(void)m;
	if (dm->writer && dm->pol.writer_attribution)
		dwd_writer_lost(dm->writer, id);
}

static long long exec_clock(void *ctx, pid_t pid)
{
	return dwd_exec_last_us(ctx, pid);
}

void dwd_writer_begin(struct daemon *dm, int once)
{
	dw_monitor_on_writer(dm->mon, writer_detail, writer_lost, dm);
	if (once) {
		snprintf(dm->writer_error, sizeof(dm->writer_error),
			 "--once: a single pass sees no writer");
		return;
	}
	/* Started even when off: a reload may turn it on. */
	if (!dwd_writer_start(&dm->writer)) {
		if (dm->exec)
			dwd_writer_exec_clock(dm->writer, exec_clock, dm->exec);
	} else {
		snprintf(dm->writer_error, sizeof(dm->writer_error), "%s",
			 dw_error_last());
		dw_log_warn("who changes containers' files is not known: %s",
			    dm->writer_error);
	}
}

void dwd_writer_tick(struct daemon *dm)
{
	struct dwd_writer_stats st;
	long long now = (long long)time(NULL);
	int lost = 0;

	if (!dm->writer)
		return;
	dwd_writer_stats(dm->writer, &st);
	/* Each way of losing attribution: its count now, as last seen, and
	 * the words around the count. The first that grew is said. */
	const struct {
		unsigned long long now, *seen;
		const char *before, *after;
	} losses[] = {
		{st.overflows, &ws.overflows,
		 "the kernel's fanotify queue overflowed (",
		 " times): some changes have no process"},
		{st.dropped, &ws.dropped, "",
		 " notes of changes dropped before their changes were "
		 "recorded (more than the notes hold): some changes have no "
		 "process"},
		{st.late, &ws.late, "attribution fell behind the changes (",
		 " times not ready when they were recorded): some changes "
		 "have no process"},
		{st.too_long, &ws.too_long, "",
		 " changes in directories nested past PATH_MAX could not be "
		 "placed: they have no process"},
	};

	for (size_t i = 0; i < sizeof(losses) / sizeof(losses[0]); i++) {
		if (!lost && losses[i].now > *losses[i].seen) {
			snprintf(ws.why, sizeof(ws.why), "%s%llu%s",
				 losses[i].before, losses[i].now,
				 losses[i].after);
			lost = 1;
		}
		*losses[i].seen = losses[i].now;
	}
	if (!lost && st.stalled_ms > STALL_MS) {
		snprintf(ws.why, sizeof(ws.why),
			 "attribution stalled for %lld s on one batch of "
			 "events",
			 st.stalled_ms / 1000);
		lost = 1;
	}
	if (lost) {
		int was = ws.degraded_until != 0;

		ws.degraded_until = now + DEGRADED_HOLD_S;
		if (!was) {
			dw_log_warn("writer attribution degraded: %s", ws.why);
			for (size_t i = 0; i < ws.n; i++)
				cover_one(dm, ws.ids[i]);
		}
	} else if (ws.degraded_until && now >= ws.degraded_until) {
		ws.degraded_until = 0;
		dw_log_info("writer attribution: no events lost for %d s",
			    DEGRADED_HOLD_S);
		for (size_t i = 0; i < ws.n; i++)
			cover_one(dm, ws.ids[i]);
	}
}

json_t *dwd_writer_status(struct daemon *dm)
{
	struct dwd_writer_stats st;

	if (!dm->writer)
		return json_pack("{s:b, s:s}", "watching", 0, "error",
				 dm->writer_error);
	dwd_writer_stats(dm->writer, &st);
	return json_pack("{s:b, s:b, s:b, s:I, s:I, s:I, s:I, s:I, s:I, "
			 "s:I}",
			 "watching", dm->pol.writer_attribution, "pidfd",
			 st.pidfd, "degraded", ws.degraded_until != 0, "events",
			 (json_int_t)st.events, "noted", (json_int_t)st.noted,
			 "unresolved", (json_int_t)st.unresolved, "too_long",
			 (json_int_t)st.too_long, "overflows",
			 (json_int_t)st.overflows, "dropped",
			 (json_int_t)st.dropped, "late", (json_int_t)st.late);
}

void dwd_writer_end(struct daemon *dm)
{
	dwd_writer_stop(dm->writer);
	dm->writer = NULL;
	snprintf(dm->writer_error, sizeof(dm->writer_error),
		 "driftwatchd was stopping");
	for (size_t i = 0; i < ws.n; i++)
		free(ws.ids[i]);
	free(ws.ids);
	memset(&ws, 0, sizeof(ws));
}
