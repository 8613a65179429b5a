/* driftwatchd: delivering alerts to webhooks and Slack from the store outbox.
 */
#include "daemon.h"

#include "driftwatch/banned.h"

/* ---- alerts ---- */

/*
 * A webhook URL as it may be logged: scheme, host and port only. Its
 * path and query are the secret (Slack's /services/T…/B…/…), and so
 * are credentials before an '@'.
 */
static void url_origin(char *out, size_t size, const char *url)
{
	const char *host = strstr(url, "://"), *end, *at;

	if (!host) {
		snprintf(out, size, "(a webhook)");
		return;
	}
	host += 3;
	end = host + strcspn(host, "/?#");
	at = memchr(host, '@', (size_t)(end - host));
	while (at && memchr(at + 1, '@', (size_t)(end - at - 1)))
		at = memchr(at + 1, '@', (size_t)(end - at - 1));
	if (at)
		host = at + 1;
	snprintf(out, size, "%.*s%.*s/…", (int)(strstr(url, "://") - url + 3),
		 url, (int)(end - host), host);
}

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

	(void)ctx;
	gethostname(host, sizeof(host) - 1);
	snprintf(id, sizeof(id), "%s:%lld", host, a->id);
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

		url_origin(origin, sizeof(origin), url);
		dw_log_warn("alert %lld to %s not delivered (%s); will retry",
			    a->id, origin, why);
	}
	return -1;
}

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
	if (dw_store_register_sinks(dm->store, (const char *const *)dm->sinks,
				    dm->nsinks))
		dw_log_warn("%s", dw_error_last());
}
