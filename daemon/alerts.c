/* driftwatchd: delivering alerts to webhooks and Slack from the store outbox.
 */
#include <pthread.h>

#include "daemon.h"
#include "ecs.h"

#include "driftwatch/banned.h"

/* ---- alerts ---- */

/*
 * The delivery workers: the monitoring loop only appends to the outbox
 * (the store); these threads, each on a store connection of its own,
 * send what is due every second, one for each sink (up to 32; past that
 * sink i goes to worker i % nthreads, said), so a sink that never answers
 * (5 s a try) delays its own alerts, never another sink's, and never the
 * monitoring loop (before, a change waited behind up to 100 such tries
 * to reach the store).
 */
#define OUTBOX_THREADS_MAX 32

struct dwd_outbox;

struct outbox_worker {
	struct dwd_outbox *ob;
	pthread_t thread;
	size_t index;
};

struct dwd_outbox {
	struct outbox_worker w[OUTBOX_THREADS_MAX];
	size_t nthreads;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int stop;
	char **sinks; /* copies, under mu */
	size_t nsinks;
	long long cap; /* outbox_max, under mu */
	char *db;
};

/*
 * Slack's mrkdwn takes '&', '<' and '>' as control characters: "<!channel>"
 * in a container's file name would notify a whole channel, "<http://x|y>"
 * would make a link. They are escaped as Slack documents.
 */
static void slack_escape(struct dw_buf *out, const char *s)
{
	for (; *s; s++) {
		switch (*s) {
		case '&': dw_buf_adds(out, "&amp;"); break;
		case '<': dw_buf_adds(out, "&lt;"); break;
		case '>': dw_buf_adds(out, "&gt;"); break;
		default: dw_buf_addch(out, *s);
		}
	}
}

/*
 * Is it for a Slack channel? Signed chain heads are records for a
 * pipeline, not for people (one every few minutes), and so are the
 * daemon's stops and starts, but for a start after a run that did not
 * stop (killed or crashed) or beside another driftwatchd.
 */
static int for_people(const struct dw_alert *a)
{
	json_t *p = NULL;
	int yes;

	if (!strcmp(a->kind, "chain-head") ||
	    !strcmp(a->kind, "daemon-stopped"))
		return 0;
	if (strcmp(a->kind, "daemon-started"))
		return 1;
	if (dw_json_parse(&p, a->payload, strlen(a->payload), "alert"))
		return 1;
	yes = !json_is_true(json_object_get(p, "previous_run_stopped")) ||
	      json_is_true(json_object_get(p, "another_daemon"));
	json_decref(p);
	return yes;
}

/* One alert to one sink: Slack's incoming-webhook shape, or our JSON. */
static int send_alert(const struct dw_alert *a, char *why, size_t size,
		      void *ctx)
{
	const char *colon = strchr(a->sink, ':');
	const char *url = colon ? colon + 1 : a->sink;
	int slack = !strncmp(a->sink, "slack:", 6);
	char host[256] = "", id[320], when[32], hdr[400];
	const char *headers[] = {hdr, NULL};
	time_t t = (time_t)a->created;
	struct dw_buf body = DW_BUF_INIT;
	json_t *data = NULL, *doc;
	struct tm tm;
	long status = 0;
	int err;

	/* The daemon is stopping: leave the rest in the outbox. */
	if (ctx && __atomic_load_n(&((struct dwd_outbox *)ctx)->stop,
				   __ATOMIC_RELAXED))
		return 1;
	if (slack && !for_people(a))
		return 0;
	gethostname(host, sizeof(host) - 1);
	/* The id the outputs give this alert too (ecs.c). */
	dwd_ecs_event_id(id, sizeof(id), host, DW_FEED_ALERTS, a->id);
	snprintf(hdr, sizeof(hdr), "X-Driftwatch-Event: %s", id);
	gmtime_r(&t, &tm);
	strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
	if (slack) {
		struct dw_buf text = DW_BUF_INIT;

		dw_buf_adds(&text, "driftwatch: ");
		slack_escape(&text, a->summary);
		doc = json_pack("{s:s}", "text", text.ptr);
		dw_buf_release(&text);
	} else {
		dw_json_parse(&data, a->payload, strlen(a->payload), "alert");
		doc = json_pack("{s:s, s:s, s:s, s:s, s:s, s:o}", "event_id",
				id, "kind", a->kind, "summary", a->summary,
				"created", when, "host", host, "data",
				data ? data : json_object());
	}
	dw_json_dump(&body, doc, JSON_PRESERVE_ORDER);
	json_decref(doc);
	err = dw_http_post(url, body.ptr, body.len, headers, 5000, &status);
	dw_buf_release(&body);
	if (!err && status >= 200 && status < 300)
		return 0;
	if (err)
		snprintf(why, size, "%s", dw_error_last());
	else
		snprintf(why, size, "HTTP %ld", status);
	{
		char origin[300];

		dw_url_origin(origin, sizeof(origin), url);
		dw_log_warn("alert %lld to %s not delivered (%s); will retry",
			    a->id, origin, why);
	}
	return -1;
}

static void free_sinks(char **v, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

static char **copy_sinks(char *const *v, size_t n)
{
	char **c = dw_xcalloc(n + 1, sizeof(*c));
	size_t i;

	for (i = 0; i < n; i++)
		c[i] = dw_xstrdup(v[i]);
	return c;
}

/*
 * The sinks of worker `w` among `all`: every nthreads-th from its index
 * (each delivery is claimed in the store before it is sent, so a sink
 * that moves to another worker on a reload is never sent an alert
 * twice).
 */
static char **my_sinks(const struct outbox_worker *w, char *const *all,
		       size_t n, size_t *mine)
{
	char **c = dw_xcalloc(n + 1, sizeof(*c));
	size_t i;

	*mine = 0;
	for (i = w->index; i < n; i += w->ob->nthreads)
		c[(*mine)++] = dw_xstrdup(all[i]);
	return c;
}

static void *deliver_loop(void *arg)
{
	struct outbox_worker *w = arg;
	struct dwd_outbox *ob = w->ob;
	struct dw_store *st = NULL;

	if (dw_store_open(&st, ob->db, 0)) {
		dw_log_error("alert delivery stopped: %s; alerts stay in the "
			     "outbox",
			     dw_error_last());
		return NULL;
	}
	pthread_mutex_lock(&ob->mu);
	while (!ob->stop) {
		size_t n, sent = 0;
		char **sinks = my_sinks(w, ob->sinks, ob->nsinks, &n);
		struct timespec ts;

		dw_store_set_outbox_cap(st, ob->cap);
		pthread_mutex_unlock(&ob->mu);
		if (n && dw_store_deliver(st, (const char *const *)sinks, n,
					  send_alert, ob, &sent))
			dw_log_warn("alert delivery: %s", dw_error_last());
		else if (sent)
			dw_log_info("delivered %zu alert%s", sent,
				    sent > 1 ? "s" : "");
		free_sinks(sinks, n);
		pthread_mutex_lock(&ob->mu);
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_sec += 1;
		if (!ob->stop)
			pthread_cond_timedwait(&ob->cv, &ob->mu, &ts);
	}
	pthread_mutex_unlock(&ob->mu);
	dw_store_close(st);
	return NULL;
}

/* More sinks than workers: those sharing one wait for each other. */
static void shared_sinks_said(size_t nthreads, size_t nsinks)
{
	if (nsinks > nthreads)
		dw_log_warn(
			"%zu alert sinks share %zu delivery workers: a sink "
			"that does not answer delays those that share its "
			"worker",
			nsinks, nthreads);
}

void dwd_outbox_start(struct daemon *dm)
{
	struct dwd_outbox *ob = dw_xcalloc(1, sizeof(*ob));
	size_t i;

	pthread_mutex_init(&ob->mu, NULL);
	pthread_cond_init(&ob->cv, NULL);
	ob->db = dw_xstrdup(dm->db);
	ob->sinks = copy_sinks(dm->sinks, dm->nsinks);
	ob->nsinks = dm->nsinks;
	ob->cap = dm->pol.outbox_max;
	/* One per sink, up to OUTBOX_THREADS_MAX (sinks added by a reload
	 * share them). */
	ob->nthreads = dm->nsinks < 1			 ? 1
		       : dm->nsinks > OUTBOX_THREADS_MAX ? OUTBOX_THREADS_MAX
							 : dm->nsinks;
	for (i = 0; i < ob->nthreads; i++) {
		ob->w[i].ob = ob;
		ob->w[i].index = i;
		if (pthread_create(&ob->w[i].thread, NULL, deliver_loop,
				   &ob->w[i]))
			break;
	}
	if (i < ob->nthreads) {
		size_t started = i;

		dw_log_error("cannot start the alert delivery threads: alerts "
			     "are delivered from the monitoring loop");
		pthread_mutex_lock(&ob->mu);
		ob->stop = 1;
		pthread_cond_broadcast(&ob->cv);
		pthread_mutex_unlock(&ob->mu);
		for (i = 0; i < started; i++)
			pthread_join(ob->w[i].thread, NULL);
		free_sinks(ob->sinks, ob->nsinks);
		free(ob->db);
		free(ob);
		return;
	}
	dm->outbox = ob;
	shared_sinks_said(ob->nthreads, dm->nsinks);
}

void dwd_outbox_stop(struct daemon *dm)
{
	struct dwd_outbox *ob = dm->outbox;
	size_t i;

	if (!ob)
		return;
	pthread_mutex_lock(&ob->mu);
	__atomic_store_n(&ob->stop, 1, __ATOMIC_RELAXED);
	pthread_cond_broadcast(&ob->cv);
	pthread_mutex_unlock(&ob->mu);
	for (i = 0; i < ob->nthreads; i++)
		pthread_join(ob->w[i].thread, NULL);
	free_sinks(ob->sinks, ob->nsinks);
	free(ob->db);
	pthread_mutex_destroy(&ob->mu);
	pthread_cond_destroy(&ob->cv);
	free(ob);
	dm->outbox = NULL;
}

/* Deliver from the calling thread (--once, or no worker). */
void dwd_deliver_alerts(struct daemon *dm)
{
	size_t sent = 0;

	if (!dm->nsinks)
		return;
	if (dw_store_deliver(dm->store, (const char *const *)dm->sinks,
			     dm->nsinks, send_alert, NULL, &sent))
		dw_log_warn("alert delivery: %s", dw_error_last());
	else if (sent)
		dw_log_info("delivered %zu alert%s", sent, sent > 1 ? "s" : "");
}

void dwd_set_sinks(struct daemon *dm)
{
	size_t i;

	free(dm->sinks);
	dm->nsinks = dm->o->nsinks + dm->pol.nwebhooks;
	dm->sinks = dw_xcalloc(dm->nsinks + 1, sizeof(char *));
	for (i = 0; i < dm->o->nsinks; i++)
		dm->sinks[i] = dm->o->sinks[i];
	for (i = 0; i < dm->pol.nwebhooks; i++)
		dm->sinks[dm->o->nsinks + i] = dm->pol.webhooks[i];
	dw_store_set_outbox_cap(dm->store, dm->pol.outbox_max);
	if (dw_store_register_sinks(dm->store, (const char *const *)dm->sinks,
				    dm->nsinks))
		dw_log_warn("%s", dw_error_last());
	if (dm->outbox) {
		struct dwd_outbox *ob = dm->outbox;
		char **old;
		size_t nold;

		pthread_mutex_lock(&ob->mu);
		old = ob->sinks;
		nold = ob->nsinks;
		ob->sinks = copy_sinks(dm->sinks, dm->nsinks);
		ob->nsinks = dm->nsinks;
		ob->cap = dm->pol.outbox_max;
		/* Sinks added by a reload get workers of their own. */
		while (ob->nthreads < dm->nsinks &&
		       ob->nthreads < OUTBOX_THREADS_MAX) {
			struct outbox_worker *w = &ob->w[ob->nthreads];

			w->ob = ob;
			w->index = ob->nthreads;
			if (pthread_create(&w->thread, NULL, deliver_loop, w))
				break;
			ob->nthreads++;
		}
		pthread_mutex_unlock(&ob->mu);
		free_sinks(old, nold);
		shared_sinks_said(ob->nthreads, dm->nsinks);
	}
}
