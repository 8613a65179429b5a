/* driftwatchd: the exec watch's marks and reports (execwatch.c). */
#include "daemon.h"

#include "driftwatch/banned.h"

static void exec_hook(struct dw_monitor *m, const struct dw_exec_subject *s,
		      int add, void *ctx)
{
	struct daemon *dm = ctx;
	int mode = s->immutable ? dm->pol.exec_immutable : dm->pol.exec;
	int degraded = 0;

	if (!add) {
		if (dm->exec)
			dwd_exec_remove(dm->exec, s->id);
		return;
	}
	if (mode == DW_EXEC_OFF) {
		dw_monitor_cover(m, s->id, DW_FACET_EXEC, DW_COVER_UNMONITORED,
				 DW_REASON_DISABLED,
				 s->immutable ? "exec_immutable: off"
					      : "exec: off");
		return;
	}
	if (!dm->exec) {
		dw_monitor_cover(m, s->id, DW_FACET_EXEC, DW_COVER_UNMONITORED,
				 DW_REASON_FANOTIFY_UNAVAILABLE,
				 dm->exec_error);
		return;
	}
	if (dwd_exec_add(dm->exec, s->id, s->name, s->upper, s->lowers,
			 s->nlowers, mode == DW_EXEC_ENFORCE, &degraded)) {
		dw_log_warn("container %s (%.12s): execs not watched: %s",
			    s->name, s->id, dw_error_last());
		dw_monitor_cover(m, s->id, DW_FACET_EXEC, DW_COVER_UNMONITORED,
				 DW_REASON_FANOTIFY_UNAVAILABLE,
				 dw_error_last());
	} else if (degraded) {
		dw_monitor_cover(m, s->id, DW_FACET_EXEC, DW_COVER_DEGRADED,
				 DW_REASON_STORAGE_DRIVER, dw_error_last());
	} else {
		dw_monitor_cover(m, s->id, DW_FACET_EXEC, DW_COVER_MONITORED,
				 DW_REASON_NONE, dw_policy_exec_name(mode));
	}
}

void dwd_exec_begin(struct daemon *dm, int once)
{
	dw_monitor_on_exec(dm->mon, exec_hook, dm);
	if (once) {
		snprintf(dm->exec_error, sizeof(dm->exec_error),
			 "--once: a single pass watches no exec");
		return;
	}
	if (dm->pol.exec == DW_EXEC_OFF &&
	    dm->pol.exec_immutable == DW_EXEC_OFF) {
		snprintf(dm->exec_error, sizeof(dm->exec_error),
			 "off in the configuration (exec, exec_immutable)");
		return;
	}
	if (dwd_exec_start(&dm->exec, dm->pol.max_file_size,
			   dm->pol.host_root)) {
		snprintf(dm->exec_error, sizeof(dm->exec_error), "%s",
			 dw_error_last());
		dw_log_warn("execs of drifted files are not watched: %s",
			    dm->exec_error);
	}
}

static void record(struct daemon *dm, struct dwd_exec_report *r)
{
	struct dw_buf red = DW_BUF_INIT, path = DW_BUF_INIT, who = DW_BUF_INIT;
	json_t *pr = json_object_get(r->detail, "process"), *p;
	const char *comm = json_string_value(json_object_get(pr, "comm"));
	const char *action =
		json_string_value(json_object_get(r->detail, "action"));
	char summary[1024], *detail;

	detail = json_dumps(r->detail, JSON_COMPACT | JSON_PRESERVE_ORDER);
	if (*r->id &&
	    dw_store_record_exec(dm->store, r->id, r->path, DW_SEV_CRITICAL,
				 *r->sha256 ? r->sha256 : NULL, detail,
				 r->time_us))
		dw_log_warn("%s", dw_error_last());
	free(detail);
	/* The alert's path as drift alerts give it: secrets redacted. */
	dw_monitor_redact_text(dm->mon, r->path, strlen(r->path), NULL, &red);
	dw_utf8_sanitize(&path, red.ptr ? red.ptr : "", red.len);
	dw_escape_path(&who, comm ? comm : "?", comm ? strlen(comm) : 1);
	if (!strcmp(json_string_value(json_object_get(r->detail, "action")),
		    "running"))
		snprintf(summary, sizeof(summary),
			 "container %s (%.12s): %s runs %s: %s",
			 *r->name ? r->name : "?", r->id, who.ptr, path.ptr,
			 json_string_value(json_object_get(r->detail, "why")));
	else
		snprintf(summary, sizeof(summary),
			 "container %s (%.12s): %s executed a file that is not "
			 "image content: %s (%s)",
			 *r->name ? r->name : "?", r->id, who.ptr, path.ptr,
			 action);
	dw_log_warn("%s", summary);
	p = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s?, s:O}", "container",
		      r->name, "id", r->id, "severity", "critical", "path",
		      path.ptr, "action", action, "sha256",
		      *r->sha256 ? r->sha256 : NULL, "detail", r->detail);
	if (dw_store_alert(dm->store, "exec", summary, p))
		dw_log_warn("cannot queue an alert: %s", dw_error_last());
	json_decref(p);
	dw_buf_release(&red);
	dw_buf_release(&path);
	dw_buf_release(&who);
}

void dwd_exec_read(struct daemon *dm)
{
	struct dwd_exec_report *r, *next;
	struct dwd_exec_stats st;

	if (!dm->exec)
		return;
	for (r = dwd_exec_take(dm->exec); r; r = next) {
		next = r->next;
		record(dm, r);
		dwd_exec_free(r);
	}
	dwd_exec_stats(dm->exec, &st);
	if (st.lost > dm->exec_lost) {
		char summary[256];
		json_t *p;

		snprintf(summary, sizeof(summary),
			 "%llu exec reports lost: more arrived than the "
			 "loop could record (the execs were answered)",
			 st.lost - dm->exec_lost);
		dw_log_warn("%s", summary);
		p = json_pack("{s:s, s:I}", "severity", "critical", "lost",
			      (json_int_t)(st.lost - dm->exec_lost));
		if (dw_store_alert(dm->store, "exec-lost", summary, p))
			dw_log_warn("cannot queue an alert: %s",
				    dw_error_last());
		json_decref(p);
		dm->exec_lost = st.lost;
	}
}

void dwd_exec_end(struct daemon *dm)
{
	if (!dm->exec)
		return;
	/* Stop answering (the kernel lets what was held run) and hashing,
	 * record what was reported, then free. */
	dwd_exec_halt(dm->exec);
	dwd_exec_read(dm);
	dwd_exec_stop(dm->exec);
	dm->exec = NULL;
}
