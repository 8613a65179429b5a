/* The live monitor: inotify marks containers dirty, the diff engine says what
 * changed, and only the difference reaches the store. This file: the containers
 * and the life cycle; monitor_int.h lists the parts. */
#include "monitor_int.h"

#include "driftwatch/banned.h"

/* ---- containers ---- */

static struct container *find_container(const struct dw_monitor *m,
					const char *id)
{
	struct container *c;

	for (c = m->list; c; c = c->next)
		if (!strcmp(c->id, id))
			return c;
	return NULL;
}

const char *dw_rescan_source_name(enum dw_rescan_source s)
{
	static const char *const names[] = {"watch", "poll", "periodic",
					    "rescan"};

	return (unsigned)s < sizeof(names) / sizeof(names[0]) ? names[s]
							      : "rescan";
}

int dw_monitor_has(const struct dw_monitor *m, const char *id)
{
	return find_container(m, id) != NULL;
}

static void free_container(struct container *c)
{
	size_t i;

	free(c->id);
	free(c->name);
	free(c->image);
	free(c->runtime);
	free(c->upper);
	free(c->lowers_joined);
	for (i = 0; i < c->nlowers; i++)
		free(c->lowers[i]);
	free(c->lowers);
	json_decref(c->labels);
	mon_pathset_release(&c->ents);
	mon_pathset_release(&c->deep);
	for (i = 0; i < DW_FACET_COUNT; i++)
		free(c->cover[i].detail);
	for (size_t k = 0; k < c->nmount_points; k++)
		free(c->mount_points[k]);
	free(c->mount_points);
	free(c->mounts);
	free(c->truncated_at);
	free(c->forged_at);
	free(c->broken_why);
	free(c->backlog_carried);
	free(c->resume);
	free(c->round_from);
	free(c);
}

void mon_cover(struct dw_monitor *m, struct container *c, enum dw_facet f,
	       enum dw_cover state, enum dw_cover_reason reason,
	       const char *detail)
{
	struct dw_cover_subject who = {c->id, c->name, c->image, c->runtime};
	int err;

	if (c->cover[f].known && c->cover[f].state == state &&
	    c->cover[f].reason == reason &&
	    !strcmp(c->cover[f].detail, detail ? detail : ""))
		return;
	err = dw_coverage_set(m->store, &who, f, state, reason, detail);
	if (err < 0) {
		dw_log_warn("cannot record the coverage of %s: %s", c->name,
			    dw_error_last());
		return; /* tried again next time */
	}
	if (err == 1)
		dw_log_warn("container %s (%.12s): %s %s (%s)%s%s", c->name,
			    c->id, dw_facet_name(f), dw_cover_name(state),
			    dw_cover_reason_name(reason), detail ? ": " : "",
			    detail ? detail : "");
	else if (c->cover[f].known && state < c->cover[f].state)
		dw_log_info("container %s (%.12s): %s %s again", c->name, c->id,
			    dw_facet_name(f), dw_cover_name(state));
	else if (c->cover[f].known && state > c->cover[f].state)
		dw_log_warn("container %s (%.12s): %s %s (%s) again%s%s",
			    c->name, c->id, dw_facet_name(f),
			    dw_cover_name(state), dw_cover_reason_name(reason),
			    detail ? ": " : "", detail ? detail : "");
	c->cover[f].known = 1;
	c->cover[f].state = state;
	c->cover[f].reason = reason;
	free(c->cover[f].detail);
	c->cover[f].detail = dw_xstrdup(detail ? detail : "");
}

void dw_monitor_cover(struct dw_monitor *m, const char *id, enum dw_facet f,
		      enum dw_cover state, enum dw_cover_reason reason,
		      const char *detail)
{
	struct container *c = find_container(m, id);

	if (c)
		mon_cover(m, c, f, state, reason, detail);
}

int dw_monitor_cover_state(struct dw_monitor *m, const char *id,
			   enum dw_facet f)
{
	struct container *c = find_container(m, id);

	return c && c->cover[f].known ? (int)c->cover[f].state : -1;
}

static json_t *coverage_json(const struct container *c)
{
	json_t *o = json_object();
	size_t f;

	for (f = 0; f < DW_FACET_COUNT; f++)
		if (c->cover[f].known)
			json_object_set_new(
				o, dw_facet_name((enum dw_facet)f),
				json_pack("{s:s, s:s, s:s}", "state",
					  dw_cover_name(c->cover[f].state),
					  "reason",
					  dw_cover_reason_name(
						  c->cover[f].reason),
					  "detail", c->cover[f].detail));
	return o;
}

static int is_immutable(const struct dw_policy *p, const struct container *c)
{
	return c->read_only || dw_policy_immutable(p, c->image, c->labels);
}

static void set_str(char **dst, const char *src)
{
	free(*dst);
	*dst = dw_xstrdup(src ? src : "");
}

int dw_monitor_add(struct dw_monitor *m, const struct dw_watch_spec *s,
		   enum dw_rescan_source source)
{
	struct container *c = find_container(m, s->id);
	const json_t *labels = s->labels;
	size_t i;
	int fresh = !c;

	if (labels && m->pol->ignore_label &&
	    dw_policy_label_matches(m->pol->ignore_label, labels)) {
		if (c)
			dw_monitor_drop(m, s->id, "running");
		return 1;
	}
	if (fresh) {
		c = dw_xcalloc(1, sizeof(*c));
		c->id = dw_xstrdup(s->id);
		c->next = m->list;
		m->list = c;
	}
	set_str(&c->name, s->name);
	set_str(&c->image, s->image);
	set_str(&c->runtime, s->runtime);
	set_str(&c->upper, s->upper);
	for (i = 0; i < c->nlowers; i++)
		free(c->lowers[i]);
	free(c->lowers);
	c->lowers = dw_xcalloc(s->nlowers + 1, sizeof(char *));
	for (i = 0; i < s->nlowers; i++)
		c->lowers[i] = dw_xstrdup(s->lowers[i]);
	c->nlowers = s->nlowers;
	free(c->lowers_joined);
	c->lowers_joined = dw_lowerdir_join(c->lowers, c->nlowers);
	json_decref(c->labels);
	c->labels = labels ? json_deep_copy(labels) : json_object();
	c->read_only = s->read_only;
	free(c->mounts);
	c->mounts = s->mounts ? dw_xstrdup(s->mounts) : NULL;
	for (size_t k = 0; k < c->nmount_points; k++)
		free(c->mount_points[k]);
	free(c->mount_points);
	c->mount_points = NULL;
	c->nmount_points = 0;
	if (s->nmount_points) {
		c->mount_points = dw_xcalloc(s->nmount_points, sizeof(char *));
		for (size_t k = 0; k < s->nmount_points; k++)
			c->mount_points[k] = dw_xstrdup(s->mount_points[k]);
		c->nmount_points = s->nmount_points;
	}
	c->userxattr = s->userxattr;
	c->recorded = 0;
	c->immutable = is_immutable(m->pol, c);
	if (fresh) {
		/* Who wrote and exec are the fanotify watches' (the
		 * daemon's hook, below), when there is one. */
		if (!m->on_exec) {
			mon_cover(m, c, DW_FACET_WRITER, DW_COVER_UNMONITORED,
				  DW_REASON_NOT_BUILT, NULL);
			mon_cover(m, c, DW_FACET_EXEC, DW_COVER_UNMONITORED,
				  DW_REASON_NOT_BUILT, NULL);
		}
		if (m->pol->scan_secrets)
			mon_cover(m, c, DW_FACET_SECRETS, DW_COVER_MONITORED,
				  DW_REASON_NONE, NULL);
		else
			mon_cover(m, c, DW_FACET_SECRETS, DW_COVER_UNMONITORED,
				  DW_REASON_DISABLED, "scan_secrets: false");
		/* Behind its drift before a restart: still, until a round
		 * says otherwise. */
		if (m->store) {
			int err = dw_store_get_backlog(
				m->store, &c->backlog_carried,
				&c->backlog_carried_since, c->id);

			if (err && err != DW_ENOTFOUND)
				dw_log_warn("container %s: %s", c->name,
					    dw_error_last());
		}
		/* Watch first, then rescan: nothing falls in between. */
		mon_watch_from(m, c, "");
		dw_log_info("watching container %s (%.12s, %s): %zu "
			    "directories%s",
			    c->name, c->id, c->runtime, c->nwatches,
			    c->polling ? ", polling" : "");
	}
	/* Every time: a container that restarted under the same id has a
	 * new overlay superblock to mark (the hook keeps an unchanged one). */
	if (m->on_exec) {
		struct dw_exec_subject es = {c->id,	 c->name,
					     c->upper,	 c->lowers,
					     c->nlowers, c->immutable};

		m->on_exec(m, &es, 1, m->exec_ctx);
	}
	mon_mark_dirty(c, source, mon_mono_ms());
	c->dirty_since = c->last_event = 0; /* due at once */
	return 0;
}

struct collect {
	const struct container *c;
	struct watch **all;
	size_t n, alloc;
};

static void collect_watch(const void *node, VISIT v, void *ctx)
{
	struct watch *w = *(struct watch *const *)node;
	struct collect *k = ctx;

	if ((v == postorder || v == leaf) && w->c == k->c) {
		DW_ALLOC_GROW(k->all, k->n + 1, k->alloc);
		k->all[k->n++] = w;
	}
}

void mon_unwatch(struct dw_monitor *m, struct container *c)
{
	struct collect k = {c, NULL, 0, 0};
	size_t i;

	/* Collect first: the tree must not change while walked. */
	twalk_r(m->wds, collect_watch, &k);
	for (i = 0; i < k.n; i++) {
		inotify_rm_watch(m->ifd, k.all[i]->wd);
		mon_drop_watch(m, k.all[i]);
	}
	free(k.all);
}

void dw_monitor_drop(struct dw_monitor *m, const char *id, const char *state)
{
	struct container **pp, *c;

	for (pp = &m->list; (c = *pp); pp = &c->next)
		if (!strcmp(c->id, id))
			break;
	if (!c)
		return;
	if (strcmp(state, "removed")) {
		/* What changed up to the end is kept. */
		c->source = c->dirty ? c->source : DW_RESCAN_FULL;
		mon_rescan_container(m, c);
	}
	mon_unwatch(m, c);
	if (m->on_exec) {
		struct dw_exec_subject es = {c->id, c->name, NULL, NULL, 0, 0};

		m->on_exec(m, &es, 0, m->exec_ctx);
	}
	if (dw_store_set_container_state(m->store, c->id, state))
		dw_log_warn("%s", dw_error_last());
	dw_log_info("stopped watching container %s (%.12s): %s", c->name, c->id,
		    state);
	*pp = c->next;
	free_container(c);
}

void dw_monitor_rename(struct dw_monitor *m, const char *id, const char *name)
{
	struct container *c = find_container(m, id);

	if (!c || !strcmp(c->name, name))
		return;
	dw_log_info("container %s is now %s", c->name, name);
	set_str(&c->name, name);
	c->recorded = 0;
	mon_mark_dirty(c, DW_RESCAN_FULL, mon_mono_ms());
}

void dw_monitor_keep_only(struct dw_monitor *m, int docker, char *const *keep,
			  size_t n, const char *state)
{
	struct container *c = m->list, *next;
	size_t i;

	for (; c; c = next) {
		next = c->next;
		if (docker != !strcmp(c->runtime, "docker"))
			continue;
		for (i = 0; i < n; i++)
			if (!strcmp(keep[i], c->id))
				break;
		if (i == n)
			dw_monitor_drop(m, c->id, state);
	}
}

void dw_monitor_rescan_all(struct dw_monitor *m, enum dw_rescan_source source)
{
	long long now = mon_mono_ms();
	struct container *c;

	for (c = m->list; c; c = c->next)
		mon_mark_dirty(c, source, now);
}

void mon_observe_rescan(struct dw_monitor *m, long long ms)
{
	static const long long le[] = {MON_RESCAN_BUCKETS};
	size_t i = 0;

	while (i < sizeof(le) / sizeof(le[0]) && ms > le[i])
		i++;
	m->rescan_le[i]++;
	m->rescan_ms_sum += ms;
}

/* The rescans' durations: {"le_ms": [bounds], "counts": [per bucket,
 * +Inf last], "sum_ms": N}. */
static json_t *rescan_histogram(const struct dw_monitor *m)
{
	static const long long le[] = {MON_RESCAN_BUCKETS};
	json_t *b = json_array(), *n = json_array();
	size_t i;

	for (i = 0; i < sizeof(le) / sizeof(le[0]); i++)
		json_array_append_new(b, json_integer(le[i]));
	for (i = 0; i <= sizeof(le) / sizeof(le[0]); i++)
		json_array_append_new(
			n, json_integer((json_int_t)m->rescan_le[i]));
	return json_pack("{s:o, s:o, s:I}", "le_ms", b, "counts", n, "sum_ms",
			 (json_int_t)m->rescan_ms_sum);
}

void dw_monitor_unbudgeted(struct dw_monitor *m)
{
	m->unbudgeted = 1;
}

json_t *dw_monitor_status(const struct dw_monitor *m)
{
	json_t *list = json_array(), *doc;
	size_t watches = 0, polling = 0;
	const struct container *c;

	for (c = m->list; c; c = c->next) {
		json_array_append_new(
			list,
			json_pack("{s:s, s:s, s:s, s:s, s:s, s:I, s:I, s:I, "
				  "s:I, s:I, s:I, s:I, s:I, "
				  "s:b, s:b, s:o}",
				  "id", c->id, "name", c->name, "image",
				  c->image, "runtime", c->runtime, "mode",
				  c->polling ? "poll" : "inotify", "watches",
				  (json_int_t)c->nwatches, "changes",
				  (json_int_t)c->nchanges, "rescans",
				  (json_int_t)c->rescans, "rescans_whole",
				  (json_int_t)c->whole, "rescans_cut",
				  (json_int_t)c->cut, "pending",
				  (json_int_t)c->pending, "events",
				  (json_int_t)c->events, "last_change_us",
				  (json_int_t)c->last_change, "immutable",
				  c->immutable, "readable", !c->broken,
				  "coverage", coverage_json(c)));
		watches += c->nwatches;
		polling += c->polling != 0;
	}
	doc = json_pack(
		"{s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, "
		"s:o}",
		"containers", (json_int_t)json_array_size(list), "watches",
		(json_int_t)watches, "polling", (json_int_t)polling,
		"overflows", (json_int_t)m->overflows, "rescans",
		(json_int_t)m->rescans, "inotify_events",
		(json_int_t)m->inotify_events, "errors", (json_int_t)m->errors,
		"last_event_us", (json_int_t)m->last_event, "max_user_watches",
		(json_int_t)mon_read_long(
			"/proc/sys/fs/inotify/max_user_watches"),
		"max_queued_events",
		(json_int_t)mon_read_long(
			"/proc/sys/fs/inotify/max_queued_events"),
		"watched", list);
	/*
	 * Writes through a shared mmap (until it is closed and unmapped)
	 * and through a hard link from outside the upper dir raise no
	 * inotify event: only the full rescan sees them. Say when it is
	 * due.
	 */
	{
		struct dw_sandbox_stats st = {0, 0, 0};

		if (m->sandbox)
			dw_sandbox_stats(m->sandbox, &st);
		/* Where container files are scanned for secrets. */
		json_object_set_new(
			doc, "scanner",
			json_pack("{s:b, s:I, s:I, s:I}", "confined",
				  m->sandbox != NULL, "pid", (json_int_t)st.pid,
				  "restarts", (json_int_t)st.restarts,
				  "inputs_given_up", (json_int_t)st.killed));
	}
	json_object_set_new(doc, "full_rescan_interval_s",
			    json_integer(m->pol->rescan_interval));
	json_object_set_new(doc, "rescan_duration", rescan_histogram(m));
	json_object_set_new(
		doc, "next_full_rescan_s",
		json_integer(!m->pol->rescan_interval ? -1
			     : m->next_full > mon_mono_ms()
				     ? (m->next_full - mon_mono_ms()) / 1000
				     : 0));
	return doc;
}

/* ---- life cycle ---- */

int dw_monitor_new(struct dw_monitor **out, struct dw_store *store,
		   const struct dw_policy *policy,
		   const struct dw_engine *engine)
{
	struct dw_monitor *m = dw_xcalloc(1, sizeof(*m));

	m->ifd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	if (m->ifd < 0) {
		free(m);
		return dw_error_errno(DW_ERROR, errno, "cannot start inotify");
	}
	m->store = store;
	dw_monitor_set_policy(m, policy, engine);
	*out = m;
	return 0;
}

void dw_monitor_set_policy(struct dw_monitor *m, const struct dw_policy *p,
			   const struct dw_engine *engine)
{
	struct container *c;

	m->pol = p;
	m->limit_stuck = 0;
	dw_scanner_track(&m->scanner, &m->engine, engine);
	if (engine != m->sandbox_engine) {
		/* A new rule set: a new scanner process, forked with it. */
		dw_sandbox_free(m->sandbox);
		m->sandbox = NULL;
		m->sandbox_engine = engine;
		if (engine &&
		    dw_sandbox_start(&m->sandbox, engine, NULL, NULL)) {
			char summary[600];
			json_t *doc;

			snprintf(summary, sizeof(summary),
				 "secrets in container files are scanned "
				 "inside driftwatchd, not in a confined "
				 "scanner process: %s",
				 dw_error_last());
			dw_log_error("%s", summary);
			/* Loud where the fleet looks, not only in a log. */
			doc = json_pack("{s:s, s:s}", "severity", "high",
					"detail", summary);
			if (m->store &&
			    dw_store_alert(m->store, "scanner-unconfined",
					   summary, doc))
				dw_log_warn("cannot queue an alert: %s",
					    dw_error_last());
			json_decref(doc);
		}
	}
	/* The immutable label may have changed with the configuration. */
	for (c = m->list; c; c = c->next)
		c->immutable = is_immutable(p, c);
}

struct dw_sandbox *dw_monitor_sandbox(const struct dw_monitor *m)
{
	return m->sandbox;
}

int dw_monitor_redact_text(struct dw_monitor *m, const char *text, size_t len,
			   const struct dw_finding *also, struct dw_buf *out)
{
	/* Text a container chose (a file name) is scanned where its file
	 * contents are: in the scanner process when there is one. */
	if (m->sandbox) {
		int n = dw_sandbox_redact_text(m->sandbox, text, len, also,
					       out);

		if (n == DW_ERROR)
			dw_log_warn("%s", dw_error_last());
		return n;
	}
	if (m->engine)
		return dw_engine_redact_text(m->engine, text, len, also, out);
	return dw_buf_add(out, text, len) ? DW_ELIMIT : 0;
}

void dw_monitor_on_critical(struct dw_monitor *m, dw_critical_fn fn, void *ctx)
{
	m->on_critical = fn;
	m->critical_ctx = ctx;
}

void dw_monitor_on_writer(struct dw_monitor *m, dw_writer_fn fn,
			  dw_writer_lost_fn lost, void *ctx)
{
	m->on_writer = fn;
	m->on_writer_lost = lost;
	m->writer_ctx = ctx;
}

void dw_monitor_on_exec(struct dw_monitor *m, dw_exec_hook fn, void *ctx)
{
	m->on_exec = fn;
	m->exec_ctx = ctx;
}

void dw_monitor_on_leak(struct dw_monitor *m, dw_leak_fn fn, void *ctx)
{
	m->on_leak = fn;
	m->leak_ctx = ctx;
}

int dw_monitor_fd(const struct dw_monitor *m)
{
	return m->ifd;
}

static void free_watch(void *p)
{
	struct watch *w = p;

	free(w->rel);
	free(w);
}

void dw_monitor_free(struct dw_monitor *m)
{
	struct container *c, *next;

	if (!m)
		return;
	mon_restore_watch_limit(m);
	tdestroy(m->wds, free_watch);
	for (c = m->list; c; c = next) {
		next = c->next;
		free_container(c);
	}
	dw_scanner_free(m->scanner);
	dw_sandbox_free(m->sandbox);
	close(m->ifd);
	free(m);
}
