/* The live monitor: rescans compare what the diff engine sees with the store
 * and record the difference. */
#include <ctype.h>
#include <malloc.h>
#include <time.h>

#include "monitor_int.h"

#include "driftwatch/banned.h"

/* ---- rescans ---- */

/* The exe of the process a change's detail names, when it is image
 * content of the container ("exe_image") and it did not exec around the
 * change ("exe_uncertain"), else NULL. */
static const char *image_writer(const char *detail, char *buf, size_t size)
{
	json_t *d = detail ? json_loads(detail, 0, NULL) : NULL;
	json_t *p = json_object_get(d, "process");
	const char *exe = json_string_value(json_object_get(p, "exe"));
	int ok = exe && json_is_true(json_object_get(p, "exe_image")) &&
		 !json_is_true(json_object_get(p, "exe_uncertain")) &&
		 strlen(exe) < size;

	if (ok)
		memcpy(buf, exe, strlen(exe) + 1);
	json_decref(d);
	return ok ? buf : NULL;
}

void mon_add_row(struct rescan *r, const struct dw_changeset *cs,
		 const struct dw_change *ch, char kind)
{
	struct container *c = r->c;
	const char *path = dw_change_path(cs, ch);
	struct dw_change_row *row;
	char *sha256 = NULL, exe[1024];
	const char *writer;
	int exec = -1, elf = -1;
	enum dw_severity sev;

	DW_ALLOC_GROW(r->rows, r->nrows + 1, r->alloc);
	row = &r->rows[r->nrows];
	/* Who made it, where it is known (and why not): an allow rule may
	 * name the process. */
	row->detail = r->m->on_writer
			      ? r->m->on_writer(r->m, c->id, c->lowers,
						c->nlowers, path, ch->path_len,
						r->since_us, r->m->writer_ctx)
			      : NULL;
	writer = dw_policy_names_processes(r->m->pol)
			 ? image_writer(row->detail, exe, sizeof(exe))
			 : NULL;
	sev = dw_policy_severity_by(r->m->pol, c->image, c->labels,
				    c->immutable, path, kind, 0, writer);
	/* Every new or changed file, allowed or not: a secret written to
	 * /tmp is a leak all the same. */
	if ((kind == 'A' || kind == 'C') && S_ISREG(ch->mode)) {
		exec = (ch->mode & 0111) != 0;
		elf = mon_analyse_file(r, path, &sha256);
		if (elf < 0)
			elf = -1;
		if (exec || elf == 1)
			sev = dw_policy_severity_by(r->m->pol, c->image,
						    c->labels, c->immutable,
						    path, kind, 1, writer);
	}
	row->path = path;
	row->path_len = ch->path_len;
	row->kind = kind;
	row->mode = ch->mode;
	row->meta = kind != 'R' && ch->has_meta ? &cs->meta[ch - cs->v] : NULL;
	row->sha256 = sha256;
	row->executable = exec;
	row->elf = elf;
	row->severity = sev;
	r->nrows++;
	if (r->deadline_ms && !r->over && mon_mono_ms() >= r->deadline_ms)
		r->over = 1;
	if (kind == 'R') {
		r->reverted++;
		return;
	}
	if (sev == DW_SEV_ALLOWED)
		return;
	r->notable++;
	r->critical += sev == DW_SEV_CRITICAL;
	if (sev > r->worst)
		r->worst = sev;
}

static int is_sorted(const struct dw_changeset *cs)
{
	size_t i;

	for (i = 1; i < cs->n; i++) {
		const struct dw_change *a = &cs->v[i - 1], *b = &cs->v[i];
		size_t n =
			a->path_len < b->path_len ? a->path_len : b->path_len;
		int cmp =
			memcmp(dw_change_path(cs, a), dw_change_path(cs, b), n);

		if (cmp > 0 || (!cmp && a->path_len >= b->path_len)) {
			dw_log_debug("out of order: %s then %s",
				     dw_change_path(cs, a),
				     dw_change_path(cs, b));
			return 0;
		}
	}
	return 1;
}

static void raise_drift_alert(struct dw_monitor *m, const struct rescan *r)
{
	struct container *c = r->c;
	json_t *paths = json_array();
	char summary[600];
	size_t i;
	json_t *p;

	for (i = 0; i < r->nrows && json_array_size(paths) < 20; i++) {
		const struct dw_change_row *row = &r->rows[i];
		struct dw_buf b = DW_BUF_INIT;
		char kind[2] = {row->kind, '\0'};

		if (row->kind == 'R' || row->severity == DW_SEV_ALLOWED)
			continue;
		/* A file named by a token: the alert shows it redacted, as
		 * the leak alert does. */
		if (m->sandbox || m->scanner) {
			struct dw_buf red = DW_BUF_INIT;

			/* The scanner process; else the monitor's scanner:
			 * the analysis is done, and a scanner per path
			 * would cost a Hyperscan scratch. */
			if (m->sandbox)
				dw_monitor_redact_text(m, row->path,
						       row->path_len, NULL,
						       &red);
			else
				dw_scanner_redact_text(m->scanner, row->path,
						       row->path_len, NULL,
						       &red);
			dw_utf8_sanitize(&b, red.ptr ? red.ptr : "", red.len);
			dw_buf_release(&red);
		} else {
			dw_utf8_sanitize(&b, row->path, row->path_len);
		}
		{
			json_t *e = json_pack("{s:s, s:s, s:s}", "path", b.ptr,
					      "kind", kind, "severity",
					      dw_severity_name(row->severity));
			json_t *d = row->detail
					    ? json_loads(row->detail, 0, NULL)
					    : NULL;

			/* Who made it (process, or null and why not). */
			if (json_is_object(d))
				json_object_update(e, d);
			json_decref(d);
			json_array_append_new(paths, e);
		}
		dw_buf_release(&b);
	}
	snprintf(summary, sizeof(summary),
		 "container %s (%.12s): %zu drifted "
		 "paths (%zu new, %zu updated, %zu reverted), highest severity "
		 "%s",
		 c->name, c->id, r->total, r->added, r->updated, r->reverted,
		 dw_severity_name(r->worst));
	dw_log_info("%s", summary);
	p = json_pack("{s:s, s:s, s:s, s:s, s:I, s:I, s:I, s:I, s:o}",
		      "container", c->name, "id", c->id, "image", c->image,
		      "severity", dw_severity_name(r->worst), "new",
		      (json_int_t)r->added, "updated", (json_int_t)r->updated,
		      "reverted", (json_int_t)r->reverted, "total",
		      (json_int_t)r->total, "paths", paths);
	if (dw_store_alert(m->store, "drift", summary, p))
		dw_log_warn("cannot queue an alert: %s", dw_error_last());
	json_decref(p);
}

/* Write the rows (and, of a sparse rescan, the directories' C as it is
 * decided) in one transaction. 1 when nothing was to be written. */
static int record(struct dw_monitor *m, struct rescan *r, struct sparse *sp)
{
	struct container *c = r->c;
	struct dw_store_container sc = {
		c->id,	    c->name,   c->image,
		c->runtime, c->upper,  c->lowers_joined,
		NULL,	    "running", m->pol->host_root,
		0,	    0};
	char *labels = json_dumps(c->labels, JSON_COMPACT | JSON_SORT_KEYS);
	struct stat st;
	long long now = mon_wall_us();
	int err;

	sc.labels = labels;
	/* Who the upper dir is: a stopped container's record is trusted
	 * only for the same dir (stat follows nothing but the path). */
	if (!lstat(c->upper, &st) && S_ISDIR(st.st_mode)) {
		sc.upper_dev = (uint64_t)st.st_dev;
		sc.upper_ino = (uint64_t)st.st_ino;
	}
	err = dw_store_begin(m->store);
	if (!err)
		err = dw_store_put_container(m->store, &sc);
	if (!err)
		err = dw_store_apply_changes(m->store, c->id, r->rows, r->nrows,
					     dw_rescan_source_name(c->source),
					     now);
	if (!err && sp)
		err = mon_sparse_chain(r, sp, dw_rescan_source_name(c->source),
				       now);
	r->total = (size_t)(c->nchanges + (long long)r->added -
			    (long long)r->reverted);
	if (!err && !r->nrows && c->recorded) {
		dw_store_rollback(m->store); /* nothing changed after all */
		free(labels);
		return 1;
	}
	if (!err && r->notable && (r->added || r->updated))
		raise_drift_alert(m, r);
	if (!err)
		err = dw_store_commit(m->store);
	else
		dw_store_rollback(m->store);
	free(labels);
	return err;
}

static void rescan_release(struct rescan *r)
{
	size_t i;

	for (i = 0; i < r->nrows; i++) {
		free((char *)r->rows[i].sha256);
		free((char *)r->rows[i].detail);
	}
	free(r->rows);
}

/* The rescan failed: nothing is recorded, the next one walks it all. */
static void rescan_failed(struct dw_monitor *m, struct container *c)
{
	if (!c->broken)
		dw_log_warn("cannot rescan container %s: %s", c->name,
			    dw_error_last());
	c->broken = 1;
	/* What inotify noted is gone with this try: walk it all next time. */
	c->full = 1;
	free(c->broken_why);
	c->broken_why = dw_xstrdup(dw_error_last());
	m->errors++;
	mon_fs_coverage(m, c);
}

static void backlog_detail(const struct dw_monitor *m,
			   const struct container *c, char *buf, size_t size)
{
	snprintf(buf, size,
		 "it drifts faster than it is analysed: a round of turns "
		 "that began with %lld entries to record had, after %lld ms, "
		 "analysed %lld and left %lld (made, changed or moved "
		 "meanwhile); they are recorded late, %ld ms of analysis a "
		 "turn",
		 c->backlog_of, c->backlog_ms, c->backlog_rows, c->backlog,
		 m->pol->rescan_budget_ms);
}

/* The backlog set or cleared: kept in the store for after a restart
 * (a carried one stays as it was recorded). */
static void backlog_keep(struct dw_monitor *m, const struct container *c)
{
	char d[512];
	int err = 0;

	if (c->backlog) {
		backlog_detail(m, c, d, sizeof(d));
		err = dw_store_set_backlog(m->store, c->id, d);
	} else if (!c->backlog_carried) {
		err = dw_store_set_backlog(m->store, c->id, NULL);
	}
	if (err)
		dw_log_warn("container %s: %s", c->name, dw_error_last());
}

/* The backlog before a rescan's round ended. */
struct backlog_was {
	long long n, of, rows, ms;
};

/* Its rows were stored: what the round's end said of the backlog holds
 * (kept in the store, said in the fs facet). */
static void backlog_apply(struct dw_monitor *m, struct container *c)
{
	if (!c->backlog_changed)
		return;
	if (!c->backlog) { /* cleared: the carried one ends too */
		free(c->backlog_carried);
		c->backlog_carried = NULL;
	}
	c->backlog_changed = 0;
	backlog_keep(m, c);
	mon_fs_coverage(m, c);
}

/* They were not: a backlog the round found stands (more is behind now,
 * not less); one it cleared is as it was (what was not stored is still
 * behind). */
static void backlog_undo(struct dw_monitor *m, struct container *c,
			 const struct backlog_was *w)
{
	if (c->backlog_changed && c->backlog) {
		backlog_apply(m, c);
		return;
	}
	c->backlog = w->n;
	c->backlog_of = w->of;
	c->backlog_rows = w->rows;
	c->backlog_ms = w->ms;
	c->backlog_changed = 0;
}

/* The rows of this rescan are thrown away: the writers their details
 * named (their notes taken) are lost. */
static void rows_lost(const struct rescan *r)
{
	if (r->nrows && r->m->on_writer_lost)
		r->m->on_writer_lost(r->m, r->c->id, r->m->writer_ctx);
}

/* What this turn found is not all recorded: the next turn is a whole
 * walk, soon, and the notes of who wrote the rest are kept for it. */
static void next_turn(struct container *c, enum dw_rescan_source source,
		      long long since_us)
{
	c->full = 1;
	mon_mark_dirty(c, source, mon_mono_ms());
	c->cut++;
	c->rescan_began_us = since_us;
}

void mon_rescan_container(struct dw_monitor *m, struct container *c)
{
	struct dw_changeset cs = DW_CHANGESET_INIT, gone = DW_CHANGESET_INIT;
	struct sparse *sp = NULL;
	struct rescan r;
	struct backlog_was was;
	long long t0 = mon_mono_ms(), spent, began = mon_mono_us(), next_since;
	enum dw_rescan_source source = c->source;
	int err, partial;

	memset(&r, 0, sizeof(r));
	r.m = m;
	r.c = c;
	/* Notes of writes since the last rescan began are this one's. */
	r.since_us = c->rescan_began_us;
	r.walk_us = mon_wall_us();
	r.worst = DW_SEV_ALLOWED;
	c->dirty = 0;
	if (c->rewatch) {
		c->rewatch = 0;
		c->full = 1;
		mon_watch_from(m, c, "");
	}
	if (!c->counted) {
		c->nchanges = dw_store_count_changes(m->store, c->id);
		c->counted = c->nchanges >= 0;
	}
	mon_pathset_sort(&c->ents);
	mon_pathset_sort(&c->deep);
	/* Only what inotify saw all of may be skipped. */
	partial = c->walked && !c->full && c->source == DW_RESCAN_WATCH &&
		  !c->ents.overflow && !c->deep.overflow;
	/* What this rescan looks at: a walk, all that was made before it
	 * began; a look at the entries named, only what inotify had said
	 * when its queue was last read empty (events of changes made since
	 * may still be queued: their notes are the next rescan's). */
	next_since = partial && m->drained_us < began ? m->drained_us : began;
	err = partial ? mon_rescan_sparse(&r, &sp, &cs) : 1;
	if (err == 1) {
		/* The whole tree: at start, periodically, after an overflow,
		 * or when a named directory has gone meanwhile. */
		dw_changeset_release(&cs);
		partial = 0;
		err = dw_overlay_diff(
			&cs, c->upper, (const char *const *)c->lowers,
			c->nlowers,
			DW_DIFF_STAT | (c->userxattr ? DW_DIFF_USERXATTR : 0));
	}
	mon_pathset_clear(&c->ents);
	mon_pathset_clear(&c->deep);
	c->full = 0;
	if (err) {
		rescan_failed(m, c);
		mon_sparse_free(sp);
		dw_changeset_release(&cs);
		return;
	}
	c->broken = 0;
	/*
	 * What the walk could not trust or reach. A rescan of some
	 * directories did not look elsewhere: it can only add to what the
	 * last full walk found, never clear it (no flapping alerts).
	 */
	if (!partial || cs.truncated > c->truncated) {
		c->truncated = cs.truncated;
		c->truncated_depth = cs.max_depth;
		free(c->truncated_at);
		c->truncated_at =
			cs.truncated_at ? dw_xstrdup(cs.truncated_at) : NULL;
	}
	if (!partial || cs.forged > c->forged) {
		c->forged = cs.forged;
		free(c->forged_at);
		c->forged_at = cs.forged_at ? dw_xstrdup(cs.forged_at) : NULL;
	}
	mon_fs_coverage(m, c);
	if (!partial && !is_sorted(&cs)) {
		/* The engine promises sorted output; never trust blindly. */
		dw_log_error("container %s: unsorted changes; skipped",
			     c->name);
		dw_changeset_release(&cs);
		return;
	}
	if (!partial && m->pol->ignore_runtime_mounts)
		dw_changeset_drop_added_dirs(&cs, c->mount_points,
					     c->nmount_points);
	/* What writer attribution has queued now, handled before the
	 * changes take their notes (`path` NULL), and the container's notes
	 * older than the previous rescan forgotten. */
	if (m->on_writer)
		free(m->on_writer(m, c->id, NULL, 0, NULL, 0, r.since_us,
				  m->writer_ctx));
	/* The analysis gets the budget, and at least what the walk took
	 * (so walking again costs half the time at most). */
	spent = mon_mono_ms() - t0;
	if (!m->unbudgeted)
		r.deadline_ms = mon_mono_ms() +
				(m->pol->rescan_budget_ms - spent > spent
					 ? m->pol->rescan_budget_ms - spent
					 : spent);
	was = (struct backlog_was){c->backlog, c->backlog_of, c->backlog_rows,
				   c->backlog_ms};
	err = partial ? mon_sparse_compare(&r, sp)
		      : mon_compare_store(&r, &cs, &gone);
	if (!err && partial && r.over) {
		/* Too much to analyse in one turn here: nothing of it is
		 * kept, and the whole walk takes it a budget at a time. */
		dw_log_info("container %s: more changed than %ld ms can "
			    "analyse: walking it all, in turns",
			    c->name, m->pol->rescan_budget_ms);
		next_turn(c, source, r.since_us);
		rows_lost(&r);
		rescan_release(&r);
		mon_sparse_free(sp);
		dw_changeset_release(&gone);
		dw_changeset_release(&cs);
		c->last_cost_ms = mon_mono_ms() - t0;
		mon_observe_rescan(m, c->last_cost_ms);
		return;
	}
	if (err) {
		backlog_undo(m, c, &was);
		rescan_failed(m, c);
		rows_lost(&r);
		rescan_release(&r);
		mon_sparse_free(sp);
		dw_changeset_release(&gone);
		dw_changeset_release(&cs);
		return;
	}
	c->rescans++;
	c->whole += !partial;
	m->rescans++;
	if (r.nrows || !c->recorded || sp) {
		err = record(m, &r, sp);
		if (err < 0) {
			/* Nothing changed in the store: the next rescan, of
			 * the whole tree, tries again. */
			dw_log_warn("cannot store the changes of %s: %s",
				    c->name, dw_error_last());
			m->errors++;
			c->dirty = 1;
			c->full = 1;
			c->source = DW_RESCAN_FULL;
			c->dirty_since = c->last_event = mon_mono_ms();
			/* The cursor had moved past rows not stored: the
			 * next round begins at the top, none left behind. */
			mon_round_reset(c);
			backlog_undo(m, c, &was);
			rows_lost(&r);
			rescan_release(&r);
			mon_sparse_free(sp);
			dw_changeset_release(&gone);
			dw_changeset_release(&cs);
			return;
		}
		c->recorded = 1;
		c->nchanges = (long long)r.total;
		if (r.nrows)
			c->last_change = mon_wall_us();
		if (r.nrows)
			dw_log_debug("container %s: %zu rows (%s)", c->name,
				     r.nrows, dw_rescan_source_name(c->source));
	}
	backlog_apply(m, c);
	/* Recorded: the next rescan takes the notes made since this one
	 * began (one that failed or was cut keeps its window: the notes
	 * it took may be needed again). */
	c->rescan_began_us = next_since;
	c->walked = 1;
	if (!partial && c->pending > 0) {
		/* The budget ran out, or what was born during the round
		 * waits for the next: what was analysed is recorded, the
		 * rest is the next turn's (a whole walk, from there on),
		 * with the notes of who wrote it. */
		dw_log_info("container %s: %zu rows recorded in %lld ms, %lld "
			    "left for the next turn",
			    c->name, r.nrows, mon_mono_ms() - t0, c->pending);
		next_turn(c, source, r.since_us);
	}
	if (r.critical && m->on_critical)
		m->on_critical(c->id, c->name, m->critical_ctx);
	rescan_release(&r);
	mon_sparse_free(sp);
	dw_changeset_release(&gone);
	dw_changeset_release(&cs);
	/* What a big walk or record took goes back to the host: the daemon
	 * at rest holds what changed, not what drifted. */
	if (!partial || r.nrows > 4096)
		malloc_trim(0);
	c->last_cost_ms = mon_mono_ms() - t0;
	mon_observe_rescan(m, c->last_cost_ms);
}

/*
 * A Docker daemon with userns-remap keeps its layers under
 * <root>/<uid>.<gid>/overlay2/: driftwatch has not been tested there.
 */
static int userns_remapped(const char *upper)
{
	const char *p = strstr(upper, "/overlay2/");
	const char *q;

	if (!p)
		return 0;
	for (q = p; q > upper && q[-1] != '/'; q--)
		;
	/* q..p is the component before overlay2: digits '.' digits? */
	if (q == p || !isdigit((unsigned char)*q))
		return 0;
	while (q < p && isdigit((unsigned char)*q))
		q++;
	if (q == p || *q++ != '.' || q == p)
		return 0;
	while (q < p && isdigit((unsigned char)*q))
		q++;
	return q == p;
}

/*
 * The fs facet of `c` from everything that limits it now: the worst
 * reason is recorded as its state, every other one is alerted too (once
 * each): one harmless forged xattr must not hide a depth limit.
 */
void mon_fs_coverage(struct dw_monitor *m, struct container *c)
{
	struct dw_cover_subject who = {c->id, c->name, c->image, c->runtime};
	struct {
		enum dw_cover state;
		enum dw_cover_reason reason;
		char detail[512];
	} r[7];
	size_t n = 0, i;

	if (c->broken) {
		r[n].state = DW_COVER_UNMONITORED;
		r[n].reason = DW_REASON_UNREADABLE;
		snprintf(r[n++].detail, sizeof(r[0].detail), "%s",
			 c->broken_why ? c->broken_why : "");
	}
	if (c->forged) {
		r[n].state = DW_COVER_DEGRADED;
		r[n].reason = DW_REASON_FORGED_METADATA;
		snprintf(r[n++].detail, sizeof(r[0].detail),
			 "%zu overlay xattr%s the kernel ignores, ignored too; "
			 "the first: %s",
			 c->forged, c->forged > 1 ? "s" : "", c->forged_at);
	}
	if (c->truncated) {
		r[n].state = DW_COVER_DEGRADED;
		r[n].reason = DW_REASON_DEPTH_LIMIT;
		snprintf(r[n++].detail, sizeof(r[0].detail),
			 "%zu director%s nested deeper than %zu levels not "
			 "walked, the first at %s",
			 c->truncated, c->truncated > 1 ? "ies" : "y",
			 c->truncated_depth, c->truncated_at);
	}
	if (c->backlog) {
		r[n].state = DW_COVER_DEGRADED;
		r[n].reason = DW_REASON_BACKLOG;
		backlog_detail(m, c, r[n++].detail, sizeof(r[0].detail));
	} else if (c->backlog_carried) {
		char when[32];
		time_t t = (time_t)c->backlog_carried_since;
		struct tm tm;

		strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ",
			 gmtime_r(&t, &tm));
		r[n].state = DW_COVER_DEGRADED;
		r[n].reason = DW_REASON_BACKLOG;
		snprintf(r[n++].detail, sizeof(r[0].detail),
			 "before driftwatchd or the container restarted "
			 "(since %s), %s; said until a round of turns ends "
			 "with nothing left",
			 when, c->backlog_carried);
	}
	if (c->polling) {
		r[n].state = DW_COVER_DEGRADED;
		r[n].reason = c->over_budget ? DW_REASON_WATCH_BUDGET
					     : DW_REASON_WATCH_LIMIT;
		snprintf(r[n++].detail, sizeof(r[0].detail),
			 c->over_budget ? "more directories than watch_budget "
					  "(%ld); rescanned every %lds"
					: "no inotify watch left on the host "
					  "(%ld watches); rescanned every %lds",
			 c->over_budget ? m->pol->watch_budget
					: mon_read_long(WATCH_KNOB),
			 m->pol->poll_interval);
	}
	if (userns_remapped(c->upper)) {
		r[n].state = DW_COVER_DEGRADED;
		r[n].reason = DW_REASON_USERNS;
		snprintf(r[n++].detail, sizeof(r[0].detail),
			 "a user-namespace remapped Docker (its layers are "
			 "under <uid>.<gid>/): untested");
	}
	if (c->mounts) {
		r[n].state = DW_COVER_DEGRADED;
		r[n].reason = DW_REASON_MOUNTS;
		snprintf(r[n++].detail, sizeof(r[0].detail),
			 "writes to %s are not in its layers", c->mounts);
	}
	if (!n) {
		mon_cover(m, c, DW_FACET_FS, DW_COVER_MONITORED, DW_REASON_NONE,
			  NULL);
		return;
	}
	mon_cover(m, c, DW_FACET_FS, r[0].state, r[0].reason, r[0].detail);
	for (i = 1; i < n; i++) {
		if (c->also_alerted & (1u << r[i].reason))
			continue;
		if (dw_coverage_also(m->store, &who, DW_FACET_FS, r[i].state,
				     r[i].reason, r[i].detail) >= 0)
			c->also_alerted |= 1u << r[i].reason;
	}
}

/* When a dirty container is rescanned: once quiet for debounce_ms, or
 * dirty for max_delay_ms, but not before its last rescan's cost again. */
static long long due_at(const struct dw_monitor *m, const struct container *c)
{
	long long due = c->last_event + m->pol->debounce_ms;

	if (due > c->dirty_since + m->pol->max_delay_ms)
		due = c->dirty_since + m->pol->max_delay_ms;
	return due < c->not_before ? c->not_before : due;
}

long dw_monitor_run(struct dw_monitor *m)
{
	long long now = mon_mono_ms(), next = -1;
	struct container *c;

	if (m->pol->rescan_interval && now >= m->next_full) {
		if (m->next_full)
			dw_monitor_rescan_all(m, DW_RESCAN_PERIODIC);
		m->next_full = now + m->pol->rescan_interval * 1000;
	}
	for (c = m->list; c; c = c->next) {
		if (c->polling && now >= c->next_poll) {
			mon_mark_dirty(c, DW_RESCAN_POLL, now);
			c->next_poll = now + m->pol->poll_interval * 1000;
			c->rewatch = 1; /* maybe watches are free again */
		}
		if (c->dirty && now >= due_at(m, c)) {
			unsigned long long whole = c->whole;

			mon_rescan_container(m, c);
			now = mon_mono_ms();
			/* A busy container is rescanned half the time at most:
			 * by what its rescans of changed directories cost, not
			 * by a walk of the whole tree (the next one is not). */
			c->not_before =
				now +
				(c->whole == whole ||
						 c->last_cost_ms <
							 m->pol->max_delay_ms
					 ? c->last_cost_ms
					 : m->pol->max_delay_ms);
		}
		if (c->dirty && (next < 0 || due_at(m, c) < next))
			next = due_at(m, c);
		if (c->polling && (next < 0 || c->next_poll < next))
			next = c->next_poll;
	}
	if (m->pol->rescan_interval && (next < 0 || m->next_full < next))
		next = m->next_full;
	return next < 0 ? -1 : next > now ? (long)(next - now) : 0;
}
