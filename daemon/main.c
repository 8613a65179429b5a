/*
 * driftwatchd: for now a periodic loop that diffs every running container
 * and keeps the store's current changes and history up to date. Signals
 * arrive through a signalfd, so the one loop below handles everything.
 */
#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <time.h>
#include <unistd.h>

#include "driftwatch/diff.h"
#include "driftwatch/docker.h"
#include "driftwatch/error.h"
#include "driftwatch/json.h"
#include "driftwatch/log.h"
#include "driftwatch/store.h"
#include "driftwatch/xmalloc.h"
#include "driftwatch/banned.h"

#define MAX_SINKS 16

struct options {
	const char *db;
	const char *host;
	long interval;
	int foreground;
	int once;
	int verbose;
	/* "json:URL" or "slack:URL" */
	char *sinks[MAX_SINKS];
	size_t nsinks;
};

static void usage(FILE *f)
{
	fprintf(f,
		"usage: driftwatchd [--foreground] [--db PATH] [--host URL]\n"
		"                   [--interval SECONDS] [--once] [--verbose]\n"
		"                   [--webhook URL]... [--slack-webhook URL]...\n");
}

static int parse_args(struct options *o, int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "foreground", no_argument, NULL, 'f' },
		{ "db", required_argument, NULL, 'd' },
		{ "host", required_argument, NULL, 'H' },
		{ "interval", required_argument, NULL, 'i' },
		{ "once", no_argument, NULL, '1' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ "webhook", required_argument, NULL, 'w' },
		{ "slack-webhook", required_argument, NULL, 's' },
		{ NULL, 0, NULL, 0 },
	};
	char *end;
	int c;

	memset(o, 0, sizeof(*o));
	o->db = DW_STORE_DEFAULT_PATH;
	o->interval = 10;
	while ((c = getopt_long(argc, argv, "fd:H:i:vh", longopts, NULL)) != -1) {
		switch (c) {
		case 'f': o->foreground = 1; break;
		case 'd': o->db = optarg; break;
		case 'H': o->host = optarg; break;
		case '1': o->once = 1; break;
		case 'v': o->verbose = 1; break;
		case 'i':
			errno = 0;
			o->interval = strtol(optarg, &end, 10);
			if (errno || *end || o->interval < 1 ||
			    o->interval > 86400) {
				fprintf(stderr, "driftwatchd: --interval takes "
					"1 to 86400 seconds, not '%s'\n", optarg);
				return 2;
			}
			break;
		case 'w':
		case 's':
			if (o->nsinks == MAX_SINKS ||
			    (strncmp(optarg, "http://", 7) &&
			     strncmp(optarg, "https://", 8))) {
				fprintf(stderr, "driftwatchd: a webhook is an "
					"http(s) URL, at most %d of them\n",
					MAX_SINKS);
				return 2;
			}
			o->sinks[o->nsinks] = dw_xmalloc(strlen(optarg) + 7);
			snprintf(o->sinks[o->nsinks++], strlen(optarg) + 7,
				 "%s:%s", c == 's' ? "slack" : "json", optarg);
			break;
		case 'h': usage(stdout); exit(0);
		case 'V': printf("driftwatchd %s\n", DW_VERSION); exit(0);
		default: usage(stderr); return 2;
		}
	}
	if (optind != argc) {
		usage(stderr);
		return 2;
	}
	return 0;
}

static void raise_drift_alert(struct dw_store *store,
			      const struct dw_container_layers *l,
			      const struct dw_sync_stats *st, const char *summary)
{
	json_t *p = json_pack("{s:s, s:s, s:s, s:I, s:I, s:I, s:I}",
			      "container", l->name, "id", l->id, "image",
			      l->image, "new", (json_int_t)st->added,
			      "updated", (json_int_t)st->updated, "reverted",
			      (json_int_t)st->reverted, "total",
			      (json_int_t)st->total);

	if (dw_store_alert(store, "drift", summary, p))
		dw_log_warn("cannot queue an alert: %s", dw_error_last());
	json_decref(p);
}

static void scan_container(struct dw_docker *d, struct dw_store *store,
			   const char *id)
{
	struct dw_container_layers l;
	struct dw_changeset cs = DW_CHANGESET_INIT;
	struct dw_sync_stats st;
	int err = dw_docker_container_layers(d, &l, id);

	if (err) {
		if (err != DW_ENOTFOUND)
			dw_log_warn("cannot inspect container %.12s: %s", id,
				    dw_error_last());
		return;
	}
	err = dw_overlay_diff(&cs, l.upper, (const char *const *)l.lowers,
			      l.nlowers, DW_DIFF_STAT);
	if (!err)
		err = dw_store_sync_container(store, &l, &cs, "scan", &st);
	if (err)
		dw_log_warn("cannot scan container %s: %s", l.name,
			    dw_error_last());
	else if (st.added || st.updated || st.reverted) {
		char summary[512];

		snprintf(summary, sizeof(summary), "container %s (%.12s): %zu "
			 "drifted paths (%zu new, %zu updated, %zu reverted)",
			 l.name, l.id, st.total, st.added, st.updated,
			 st.reverted);
		dw_log_info("%s", summary);
		if (st.added || st.updated)
			raise_drift_alert(store, &l, &st, summary);
	}
	dw_changeset_release(&cs);
	dw_container_layers_release(&l);
}

/* One pass over the running containers. Returns 0 or the docker error. */
static int scan_all(struct dw_docker *d, struct dw_store *store)
{
	json_t *list = NULL, *c;
	size_t i;
	int err = dw_docker_get_json(d, &list, "/containers/json");

	if (err)
		return err;
	json_array_foreach(list, i, c) {
		const char *id = dw_json_path_str(c, "Id");

		if (id)
			scan_container(d, store, id);
	}
	json_decref(list);
	return 0;
}

/* One alert to one sink: Slack's incoming-webhook shape, or our JSON. */
static int send_alert(const struct dw_alert *a, char *why, size_t size,
		      void *ctx)
{
	const char *colon = strchr(a->sink, ':');
	const char *url = colon ? colon + 1 : a->sink;
	int slack = !strncmp(a->sink, "slack:", 6);
	char host[256] = "", id[320], when[32], hdr[400];
	const char *headers[] = { hdr, NULL };
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
		doc = json_pack("{s:s+}", "text", "driftwatch: ", a->summary);
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
	dw_log_warn("alert %lld to %s not delivered (%s); will retry", a->id,
		    url, why);
	return -1;
}

static void deliver_alerts(const struct options *o, struct dw_store *store)
{
	size_t sent = 0;

	if (!o->nsinks)
		return;
	if (dw_store_deliver(store, (const char *const *)o->sinks, o->nsinks,
			     send_alert, NULL, &sent))
		dw_log_warn("alert delivery: %s", dw_error_last());
	else if (sent)
		dw_log_info("delivered %zu alert%s", sent, sent > 1 ? "s" : "");
}

static int block_signals(void)
{
	sigset_t set;

	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	if (sigprocmask(SIG_BLOCK, &set, NULL) < 0)
		return -1;
	return signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
}

/* Wait up to `seconds`; returns 1 when asked to stop. */
static int wait_signal(int sfd, long seconds)
{
	struct pollfd p = { sfd, POLLIN, 0 };
	struct signalfd_siginfo si;

	if (poll(&p, 1, (int)(seconds * 1000)) <= 0)
		return 0;
	while (read(sfd, &si, sizeof(si)) == sizeof(si)) {
		if (si.ssi_signo == SIGHUP) {
			dw_log_info("sighup: no configuration to reload yet");
			continue;
		}
		dw_log_info("received signal %u, stopping", si.ssi_signo);
		return 1;
	}
	return 0;
}

static int run(const struct options *o, struct dw_docker *d,
	       struct dw_store *store, int sfd)
{
	int reachable = -1;

	for (;;) {
		int err = scan_all(d, store);

		if (err && reachable != 0)
			dw_log_warn("%s; retrying every %lds", dw_error_last(),
				    o->interval);
		else if (!err && reachable != 1)
			dw_log_info("watching containers of the docker daemon "
				    "at %s", dw_docker_socket(d));
		reachable = !err;
		deliver_alerts(o, store);
		if (o->once)
			return err ? 3 : 0;
		if (wait_signal(sfd, o->interval))
			return 0;
	}
}

int main(int argc, char **argv)
{
	struct options o;
	struct dw_docker *d = NULL;
	struct dw_store *store = NULL;
	int ret = parse_args(&o, argc, argv);
	int sfd;

	if (ret)
		return ret;
	dw_log_init("driftwatchd", o.foreground ? DW_LOG_STDERR : DW_LOG_SYSLOG,
		    o.verbose);
	sfd = block_signals();
	if (sfd < 0)
		dw_fatal("cannot set up signal handling: %s", strerror(errno));
	if (dw_docker_open(&d, o.host))
		dw_fatal("%s", dw_error_last());
	if (dw_store_open(&store, o.db, 0) ||
	    dw_store_register_sinks(store, (const char *const *)o.sinks,
				    o.nsinks))
		dw_fatal("%s", dw_error_last());
	dw_log_info("driftwatchd %s started, store %s", DW_VERSION, o.db);
	ret = run(&o, d, store, sfd);
	dw_store_close(store);
	dw_docker_free(d);
	close(sfd);
	for (size_t i = 0; i < o.nsinks; i++)
		free(o.sinks[i]);
	dw_log_info("stopped");
	return ret;
}
