/* driftwatchd: the exec watch's marks and reports (execwatch.c). */
#include "daemon.h"

#include "driftwatch/banned.h"

static void exec_hook(struct dw_monitor *m, const struct dw_exec_subject *s,
		      int add, void *ctx)
{
	struct daemon *dm = ctx;
	int mode = s->immutable ? dm->pol.exec_immutable : dm->pol.exec;
	int err;

	dwd_writer_subject(dm, s, add);
	if (!add || mode == DW_EXEC_OFF) {
		if (dm->exec)
			dwd_exec_remove(dm->exec, s->id);
		if (!add)
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
		/* --once is a mode asked for (no alert); else the host
		 * cannot (alerted once). */
		dw_monitor_cover(m, s->id, DW_FACET_EXEC, DW_COVER_UNMONITORED,
				 dm->o->once ? DW_REASON_DISABLED
					     : DW_REASON_FANOTIFY_UNAVAILABLE,
				 dm->exec_error);
		return;
	}
	err = dwd_exec_add(dm->exec, s->id, s->name, s->upper, s->lowers,
			   s->nlowers, mode == DW_EXEC_ENFORCE);
	if (err) {
		dw_monitor_cover(m, s->id, DW_FACET_EXEC, DW_COVER_UNMONITORED,
				 err == DW_EUNSUPPORTED
					 ? DW_REASON_STORAGE_DRIVER
					 : DW_REASON_FANOTIFY_UNAVAILABLE,
				 dw_error_last());
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
	/* Started even when both are off: a reload may turn them on. */
	if (dwd_exec_start(&dm->exec, dm->pol.max_file_size,
			   dm->pol.host_root)) {
		snprintf(dm->exec_error, sizeof(dm->exec_error), "%s",
			 dw_error_last());
		dw_log_warn("execs of drifted files are not watched: %s",
			    dm->exec_error);
	}
}

/*
 * Each container records at most EXEC_ROWS_PER_MIN repeated exec reports
 * a minute one by one (a loop of execs would grow the store without end),
 * and every file not yet recorded that minute (up to EXEC_NEW_PER_MIN);
 * the rest are counted, and each minute's count is one summary row and
 * alert.
 */
#define EXEC_ROWS_PER_MIN 60

struct exec_budget {
	char id[80], name[256];
	long long window; /* time(NULL) it began */
	unsigned rows;
	unsigned long long held_back;
	/* The files recorded this minute (FNV-1a of path and hash): a new
	 * one is always recorded, up to EXEC_NEW_PER_MIN, so 60 decoys
	 * cannot hide the one that matters in a count. */
	unsigned long long seen[256];
	unsigned nseen;
	unsigned news;
};

#define EXEC_NEW_PER_MIN 1000

static struct exec_budget *budgets;
static size_t nbudgets, budgets_alloc;

static void summarise(struct daemon *dm, struct exec_budget *b)
{
	char summary[512], detail[256];
	json_t *p;

	snprintf(summary, sizeof(summary),
		 "container %s (%.12s): %llu more exec reports in a minute "
		 "than the %d recorded one by one: counted only",
		 b->name, b->id, b->held_back, EXEC_ROWS_PER_MIN);
	snprintf(detail, sizeof(detail),
		 "{\"action\":\"summary\",\"held_back\":%llu,\"why\":"
		 "\"over %d exec reports a minute\"}",
		 b->held_back, EXEC_ROWS_PER_MIN);
	if (dw_store_record_exec(dm->store, b->id, "", DW_SEV_CRITICAL, NULL,
				 detail, (long long)time(NULL) * 1000000))
		dw_log_warn("%s", dw_error_last());
	dw_log_warn("%s", summary);
	p = json_pack("{s:s, s:s, s:s, s:I}", "container", b->name, "id", b->id,
		      "severity", "critical", "held_back",
		      (json_int_t)b->held_back);
	if (dw_store_alert(dm->store, "exec", summary, p))
		dw_log_warn("cannot queue an alert: %s", dw_error_last());
	json_decref(p);
	b->held_back = 0;
}

/* Windows that ended: their counts said, the idle ones forgotten. */
static void budgets_tick(struct daemon *dm, int all)
{
	long long now = (long long)time(NULL);

	for (size_t i = 0; i < nbudgets;) {
		struct exec_budget *b = &budgets[i];

		if (all || now - b->window >= 60) {
			if (b->held_back)
				summarise(dm, b);
			budgets[i] = budgets[--nbudgets];
		} else {
			i++;
		}
	}
}

static unsigned long long fnv(const char *a, const char *b)
{
	unsigned long long h = 1469598103934665603ULL;

	for (; *a; a++)
		h = (h ^ (unsigned char)*a) * 1099511628211ULL;
	h = (h ^ 0xff) * 1099511628211ULL;
	for (; *b; b++)
		h = (h ^ (unsigned char)*b) * 1099511628211ULL;
	return h;
}

/* May this report of container `id` be recorded one by one? */
static int budget_take(const char *id, const char *name, const char *path,
		       const char *sha)
{
	unsigned long long h = fnv(path, sha);
	int repeat = 0;

	long long now = (long long)time(NULL);
	struct exec_budget *b = NULL;

	for (size_t i = 0; i < nbudgets && !b; i++)
		if (!strcmp(budgets[i].id, id))
			b = &budgets[i];
	if (!b) {
		DW_ALLOC_GROW(budgets, nbudgets + 1, budgets_alloc);
		b = &budgets[nbudgets++];
		memset(b, 0, sizeof(*b));
		snprintf(b->id, sizeof(b->id), "%s", id);
		snprintf(b->name, sizeof(b->name), "%s", name);
		b->window = now;
	}
	for (unsigned i = 0; i < b->nseen && i < 256; i++)
		repeat |= b->seen[i] == h;
	if (!repeat && b->news < EXEC_NEW_PER_MIN) {
		/* A file not recorded this minute: always. */
		b->news++;
		b->seen[b->nseen++ % 256] = h;
		b->rows++;
		return 1;
	}
	if (b->rows < EXEC_ROWS_PER_MIN) {
		b->rows++;
		return 1;
	}
	b->held_back++;
	return 0;
}

static void record(struct daemon *dm, struct dwd_exec_report *r)
{
	struct dw_buf red = DW_BUF_INIT, path = DW_BUF_INIT, who = DW_BUF_INIT;
	json_t *pr = json_object_get(r->detail, "process"), *p;
	const char *comm = json_string_value(json_object_get(pr, "comm"));
	const char *action =
		json_string_value(json_object_get(r->detail, "action"));
	char summary[1024], *detail;
	size_t i;
	json_t *o;

	/* What a container chose to name its programs: redacted like its
	 * paths in alerts (a token as a directory name), here and in the
	 * alert. */
	dwd_redact_field(dm->mon, pr, "exe");
	json_array_foreach(json_object_get(r->detail, "parents"), i, o)
		dwd_redact_field(dm->mon, o, "exe");
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
	budgets_tick(dm, 0);
	for (r = dwd_exec_take(dm->exec); r; r = next) {
		next = r->next;
		if (budget_take(r->id, r->name, r->path, r->sha256))
			record(dm, r);
		dwd_exec_free(r);
	}
	dwd_exec_stats(dm->exec, &st);
	if (st.lost + st.overflows > dm->exec_lost) {
		char summary[320];
		json_t *p;
		unsigned long long n = st.lost + st.overflows - dm->exec_lost;

		snprintf(summary, sizeof(summary),
			 "%llu exec reports lost (%llu past the loop's queue, "
			 "%llu in all past the kernel's): execs ran unreported",
			 n, st.lost, st.overflows);
		dw_log_warn("%s", summary);
		p = json_pack("{s:s, s:I, s:I, s:I}", "severity", "critical",
			      "lost", (json_int_t)n, "queue",
			      (json_int_t)st.lost, "kernel",
			      (json_int_t)st.overflows);
		if (dw_store_alert(dm->store, "exec-lost", summary, p))
			dw_log_warn("cannot queue an alert: %s",
				    dw_error_last());
		json_decref(p);
		dm->exec_lost = st.lost + st.overflows;
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
	budgets_tick(dm, 1);
	free(budgets);
	budgets = NULL;
	nbudgets = budgets_alloc = 0;
	dwd_exec_stop(dm->exec);
	dm->exec = NULL;
}
