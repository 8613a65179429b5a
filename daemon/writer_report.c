/* driftwatchd: writer attribution, the loop's side (writerwatch.h). */
#include <string.h>
#include <time.h>

#include "daemon.h"
#include "driftwatch/escape.h"

/* Lost events (an overflow, a stalled thread) degrade every container's
 * writer facet until this long has passed without another. */
#define DEGRADED_HOLD_S 60
#define STALL_MS 5000

static struct {
	char **ids; /* the containers whose writer facet is monitored */
	size_t n, alloc;
	unsigned long long overflows; /* as last seen */
	long long degraded_until;     /* time(NULL); 0: not degraded */
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
static char *writer_detail(struct dw_monitor *m, const char *id,
			   const void *path, size_t len, void *ctx)
{
	struct daemon *dm = ctx;
	json_t *d, *p = NULL;
	const char *why;
	char *s;

	if (!id) {
		/* The rescan's events, queued before inotify's: handled. */
		if (dm->writer && dm->pol.writer_attribution &&
		    dwd_writer_sync(dm->writer))
			dw_log_debug("writer attribution: not synced in time");
		return NULL;
	}
	d = json_object();
	if (!dm->pol.writer_attribution)
		why = "writer_attribution: false";
	else if (!dm->writer)
		why = dm->writer_error;
	else
		p = dwd_writer_take(dm->writer, id, path, len, &why);
	if (p) {
		const char *cmd =
			json_string_value(json_object_get(p, "cmdline"));

		if (cmd) {
			struct dw_buf red = DW_BUF_INIT, b = DW_BUF_INIT;

			dw_monitor_redact_text(m, cmd, strlen(cmd), NULL, &red);
			dw_utf8_sanitize(&b, red.ptr ? red.ptr : "", red.len);
			json_object_set_new(p, "cmdline",
					    json_string(b.ptr ? b.ptr : ""));
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

void dwd_writer_begin(struct daemon *dm, int once)
{
	dw_monitor_on_writer(dm->mon, writer_detail, dm);
	if (once) {
		snprintf(dm->writer_error, sizeof(dm->writer_error),
			 "--once: a single pass sees no writer");
		return;
	}
	/* Started even when off: a reload may turn it on. */
	if (dwd_writer_start(&dm->writer)) {
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
	if (st.overflows > ws.overflows) {
		snprintf(ws.why, sizeof(ws.why),
			 "the kernel's fanotify queue overflowed (%llu times): "
			 "some changes have no process",
			 st.overflows);
		ws.overflows = st.overflows;
		lost = 1;
	} else if (st.stalled_ms > STALL_MS) {
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
	return json_pack("{s:b, s:b, s:b, s:I, s:I, s:I, s:I, s:I}", "watching",
			 dm->pol.writer_attribution, "pidfd", st.pidfd,
			 "degraded", ws.degraded_until != 0, "events",
			 (json_int_t)st.events, "noted", (json_int_t)st.noted,
			 "unresolved", (json_int_t)st.unresolved, "overflows",
			 (json_int_t)st.overflows, "dropped",
			 (json_int_t)st.dropped);
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
