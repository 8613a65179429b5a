/*
 * driftwatchd: a Prometheus text-format /metrics endpoint (metrics_listen:
 * a loopback TCP address or a unix socket; off by default).
 *
 * The loop builds the text every 2 seconds from what it already has
 * (the monitor's status, the exec watch's counts, what this process wrote
 * to the store, the outbox per sink); a thread of its own serves the last
 * text to up to 32 clients at once, none blocking, each dropped 2 s after
 * it connected unless its request is complete. The server never touches
 * the store or the monitor, so a client that never reads or never stops
 * writing costs the metrics at most, never the monitoring.
 * No label carries a string a container chose (no container names or
 * paths): kinds, severities, facets and states are driftwatch's own, and a
 * sink is its position and its URL's origin (a webhook URL's path holds
 * its secret).
 */
#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sys/socket.h>
#include <sys/un.h>

#include "daemon.h"
#include "sign.h"

#include "driftwatch/banned.h"

#define REQUEST_MAX 8192
#define CLIENT_DEADLINE_MS 2000 /* from connect to a complete request */
#define CLIENTS_MAX 32

struct dwd_metrics {
	int fd, stop_pipe[2];
	pthread_t thread;
	pthread_mutex_t mu;
	char *text; /* the last built, under mu */
	char *unix_path;
	unsigned long long served, refused;
};

/* ---- the server ---- */

/* One client being read: its request so far, and its deadline. */
struct client {
	int fd;
	size_t n;
	long long deadline; /* monotonic ms */
	char req[REQUEST_MAX + 1];
};

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The whole answer, at once (MSG_DONTWAIT): a client that does not read
 * it is not waited for. */
static void reply(int c, const char *status, const char *type, const char *body)
{
	struct dw_buf b = DW_BUF_INIT;
	size_t off = 0;

	dw_buf_addf(&b,
		    "HTTP/1.1 %s\r\nContent-Type: %s\r\n"
		    "Content-Length: %zu\r\nConnection: close\r\n\r\n%s",
		    status, type, strlen(body), body);
	while (off < b.len) {
		ssize_t w = send(c, b.ptr + off, b.len - off,
				 MSG_NOSIGNAL | MSG_DONTWAIT);

		if (w <= 0)
			break;
		off += (size_t)w;
	}
	dw_buf_release(&b);
}

/* A complete request: answered (the client is then closed). */
static void answer(struct dwd_metrics *m, struct client *k)
{
	const char *req = k->req;

	if (strncmp(req, "GET ", 4)) {
		m->refused++;
		reply(k->fd, "405 Method Not Allowed", "text/plain",
		      "GET /metrics only\n");
	} else if (strncmp(req + 4, "/metrics", 8) || !strchr(" ?", req[12])) {
		m->refused++;
		reply(k->fd, "404 Not Found", "text/plain",
		      "GET /metrics only\n");
	} else {
		char *text;

		pthread_mutex_lock(&m->mu);
		text = dw_xstrdup(m->text ? m->text : "");
		pthread_mutex_unlock(&m->mu);
		reply(k->fd, "200 OK",
		      "text/plain; version=0.0.4; charset=utf-8", text);
		free(text);
		m->served++;
	}
}

/* Read what `k` sent: 1 when done with it (answered, or dropped). */
static int client_read(struct dwd_metrics *m, struct client *k)
{
	ssize_t r =
		recv(k->fd, k->req + k->n, REQUEST_MAX - k->n, MSG_DONTWAIT);

	if (r < 0 && (errno == EAGAIN || errno == EINTR))
		return 0;
	if (r <= 0)
		return 1;
	k->n += (size_t)r;
	k->req[k->n] = '\0';
	if (strstr(k->req, "\r\n\r\n") || strstr(k->req, "\n\n")) {
		answer(m, k);
		return 1;
	}
	if (k->n == REQUEST_MAX) {
		m->refused++;
		reply(k->fd, "431 Request Header Fields Too Large",
		      "text/plain", "request too large\n");
		return 1;
	}
	return 0;
}

/*
 * Up to CLIENTS_MAX clients at once, none blocking: each has
 * CLIENT_DEADLINE_MS from its connection to a complete request, then is
 * dropped. At the cap, new ones wait in the listen queue for a slot.
 */
static void *server_main(void *arg)
{
	struct dwd_metrics *m = arg;
	struct client *k = dw_xcalloc(CLIENTS_MAX, sizeof(*k));
	size_t nk = 0;

	for (;;) {
		struct pollfd p[CLIENTS_MAX + 2];
		long long now = now_ms(), wait = -1;
		size_t i, np = 0;

		p[np++] = (struct pollfd){m->stop_pipe[0], POLLIN, 0};
		p[np++] = (struct pollfd){nk < CLIENTS_MAX ? m->fd : -1, POLLIN,
					  0};
		for (i = 0; i < nk; i++) {
			p[np++] = (struct pollfd){k[i].fd, POLLIN, 0};
			if (wait < 0 || k[i].deadline - now < wait)
				wait = k[i].deadline - now < 0
					       ? 0
					       : k[i].deadline - now;
		}
		if (poll(p, np, (int)wait) < 0 && errno != EINTR)
			break;
		if (p[0].revents)
			break;
		now = now_ms();
		/* Clients first: their slots in p[] are k[]'s order. */
		for (i = nk; i-- > 0;) {
			int done = p[2 + i].revents ? client_read(m, &k[i])
						    : now >= k[i].deadline;

			if (done) {
				close(k[i].fd);
				k[i] = k[--nk];
			}
		}
		if (p[1].revents & POLLIN && nk < CLIENTS_MAX) {
			int c = accept4(m->fd, NULL, NULL,
					SOCK_CLOEXEC | SOCK_NONBLOCK);

			if (c >= 0) {
				k[nk].fd = c;
				k[nk].n = 0;
				k[nk].req[0] = '\0';
				k[nk].deadline = now + CLIENT_DEADLINE_MS;
				nk++;
			} else {
				/* EMFILE and the like: a pause, not a
				 * spin. */
				struct timespec pause = {0, 100 * 1000 * 1000};

				nanosleep(&pause, NULL);
			}
		}
	}
	for (size_t i = 0; i < nk; i++)
		close(k[i].fd);
	free(k);
	return NULL;
}

/* A loopback address and port ("127.0.0.1:9187", "[::1]:9187"), or
 * "unix:PATH": the listening socket, or -1 (the error set). */
static int listen_on(const char *spec, char **unix_path)
{
	int fd;

	*unix_path = NULL;
	if (!strncmp(spec, "unix:", 5)) {
		struct sockaddr_un sa = {.sun_family = AF_UNIX};
		const char *path = spec + 5;
		struct stat st;

		if (path[0] != '/' || strlen(path) >= sizeof(sa.sun_path))
			return dw_error_set(DW_EINVAL,
					    "metrics_listen: unix:PATH takes "
					    "an absolute path of at most %zu "
					    "bytes",
					    sizeof(sa.sun_path) - 1);
		/* Its directory only root may change: else another user
		 * could swap the path between our calls (for a link to a
		 * file of root's to be made 0660, say). */
		{
			char *dir = dw_xstrdup(path),
			     *slash = strrchr(dir, '/');
			struct stat ds;
			int ok;

			if (slash == dir)
				slash[1] = '\0';
			else
				*slash = '\0';
			ok = !stat(dir, &ds) && S_ISDIR(ds.st_mode) &&
			     ds.st_uid == 0 && !(ds.st_mode & 022);
			free(dir);
			if (!ok)
				return dw_error_set(
					DW_EINVAL,
					"metrics_listen: %s: its directory "
					"must be root's and writable by root "
					"alone",
					path);
		}
		/* A socket left by an earlier run: only a socket. */
		if (!lstat(path, &st)) {
			if (!S_ISSOCK(st.st_mode))
				return dw_error_set(
					DW_EINVAL,
					"metrics_listen: %s exists and is not "
					"a socket",
					path);
			unlink(path);
		}
		memcpy(sa.sun_path, path, strlen(path) + 1);
		fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) ||
		    fchmodat(AT_FDCWD, path, 0660, AT_SYMLINK_NOFOLLOW) ||
		    listen(fd, 16)) {
			int e = errno;

			if (fd >= 0)
				close(fd);
			return dw_error_errno(DW_EIO, e, "metrics_listen %s",
					      spec);
		}
		*unix_path = dw_xstrdup(path);
		return fd;
	} else {
		char host[64];
		const char *colon = strrchr(spec, ':');
		struct addrinfo hints = {0}, *ai = NULL;
		int loop = 0, one = 1;
		size_t hl;

		char *end;
		long port;

		if (!colon || colon == spec || !colon[1])
			return dw_error_set(DW_EINVAL,
					    "metrics_listen: ADDRESS:PORT or "
					    "unix:PATH, not '%s'",
					    spec);
		errno = 0;
		port = strtol(colon + 1, &end, 10);
		if (colon[1] < '0' || colon[1] > '9' || *end || errno ||
		    port < 1 || port > 65535)
			return dw_error_set(DW_EINVAL,
					    "metrics_listen: the port of '%s' "
					    "is not 1 to 65535",
					    spec);
		hl = (size_t)(colon - spec);
		if (spec[0] == '[' && hl > 2 && spec[hl - 1] == ']') {
			spec++;
			hl -= 2;
		}
		if (hl >= sizeof(host))
			return dw_error_set(DW_EINVAL, "metrics_listen: '%s'",
					    spec);
		memcpy(host, spec, hl);
		host[hl] = '\0';
		hints.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV | AI_PASSIVE;
		hints.ai_socktype = SOCK_STREAM;
		if (getaddrinfo(host, colon + 1, &hints, &ai) || !ai)
			return dw_error_set(DW_EINVAL,
					    "metrics_listen: '%s' is not a "
					    "numeric address and port",
					    spec);
		if (ai->ai_family == AF_INET)
			loop = (ntohl(((struct sockaddr_in *)ai->ai_addr)
					      ->sin_addr.s_addr) >>
				24) == 127;
		else if (ai->ai_family == AF_INET6)
			loop = IN6_IS_ADDR_LOOPBACK(
				&((struct sockaddr_in6 *)ai->ai_addr)
					 ->sin6_addr);
		if (!loop) {
			freeaddrinfo(ai);
			return dw_error_set(DW_EINVAL,
					    "metrics_listen: %s is not a "
					    "loopback address (a unix socket "
					    "or 127.0.0.0/8, ::1)",
					    host);
		}
		fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (fd >= 0)
			setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one,
				   sizeof(one));
		if (fd < 0 || bind(fd, ai->ai_addr, ai->ai_addrlen) ||
		    listen(fd, 16)) {
			int e = errno;

			if (fd >= 0)
				close(fd);
			freeaddrinfo(ai);
			return dw_error_errno(DW_EIO, e, "metrics_listen %s",
					      spec);
		}
		freeaddrinfo(ai);
		return fd;
	}
}

int dwd_metrics_start(struct dwd_metrics **out, const char *spec)
{
	struct dwd_metrics *m;
	char *unix_path;
	int fd;

	*out = NULL;
	fd = listen_on(spec, &unix_path);
	if (fd < 0)
		return fd;
	m = dw_xcalloc(1, sizeof(*m));
	m->fd = fd;
	m->unix_path = unix_path;
	pthread_mutex_init(&m->mu, NULL);
	if (pipe2(m->stop_pipe, O_CLOEXEC) ||
	    pthread_create(&m->thread, NULL, server_main, m)) {
		close(fd);
		free(unix_path);
		free(m);
		return dw_error_set(DW_EIO, "metrics: cannot start a thread");
	}
	*out = m;
	return 0;
}

void dwd_metrics_stop(struct dwd_metrics *m)
{
	if (!m)
		return;
	if (write(m->stop_pipe[1], "x", 1) < 0)
		dw_log_warn("metrics: stopping: %s", strerror(errno));
	pthread_join(m->thread, NULL);
	close(m->fd);
	close(m->stop_pipe[0]);
	close(m->stop_pipe[1]);
	if (m->unix_path)
		unlink(m->unix_path);
	free(m->unix_path);
	free(m->text);
	pthread_mutex_destroy(&m->mu);
	free(m);
}

/* ---- the text, built by the loop ---- */

static void family(struct dw_buf *b, const char *name, const char *type,
		   const char *help)
{
	dw_buf_addf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* A family of one sample without labels. */
static void single(struct dw_buf *b, const char *name, const char *type,
		   const char *help, long long v)
{
	family(b, name, type, help);
	dw_buf_addf(b, "%s %lld\n", name, v);
}

static long long num(json_t *o, const char *key)
{
	return (long long)json_integer_value(json_object_get(o, key));
}

/* A label value in the text format: \, " and newlines escaped. */
static void label(struct dw_buf *b, const char *v)
{
	for (; *v; v++) {
		if (*v == '\\' || *v == '"')
			dw_buf_addch(b, '\\');
		if (*v == '\n')
			dw_buf_adds(b, "\\n");
		else
			dw_buf_addch(b, *v);
	}
}

struct sink_ctx {
	struct dw_buf *b;
	int failing;
};

static int sink_line(const char *sink, long long pending, long long failing,
		     void *ctx)
{
	struct sink_ctx *k = ctx;
	char origin[300], digest[72];
	const char *colon = strchr(sink, ':');

	/* Its origin, and 8 hex digits of its digest to tell two of one
	 * origin apart (its path, a webhook's secret, is not shown). */
	dw_url_origin(origin, sizeof(origin), colon ? colon + 1 : sink);
	dw_sha256_hex(digest, sink, strlen(sink));
	dw_buf_adds(k->b, k->failing ? "driftwatch_alerts_failing{sink=\""
				     : "driftwatch_alerts_pending{sink=\"");
	label(k->b, origin);
	dw_buf_addf(k->b, " #%.8s\"} %lld\n",
		    strncmp(digest, "sha256:", 7) ? digest : digest + 7,
		    k->failing ? failing : pending);
	return 0;
}

/* One metric of every output: `which` picks it. */
struct output_ctx {
	struct dw_buf *b;
	const char *name;
	int which;
};

static int output_line(const struct dwd_output_stats *s, void *ctx)
{
	struct output_ctx *k = ctx;
	const unsigned long long v[] = {
		(unsigned long long)(s->pending < 0 ? 0 : s->pending),
		s->written,
		s->dropped,
		s->errors,
		s->rotated,
		s->rejected,
		s->resent,
		s->summarised};

	dw_buf_addf(k->b, "%s{output=\"", k->name);
	label(k->b, s->path);
	dw_buf_addf(k->b, "\"} %llu\n", v[k->which]);
	return 0;
}

static void output_counts(struct daemon *dm, struct dw_buf *b)
{
	static const struct {
		const char *name, *type, *help;
	} m[] = {
		{"driftwatch_output_pending", "gauge",
		 "Events, findings and alerts in the store an output has not "
		 "written yet."},
		{"driftwatch_output_written_total", "counter",
		 "Rows an output has written since start."},
		{"driftwatch_output_dropped_total", "counter",
		 "Rows retention deleted before an output took them."},
		{"driftwatch_output_errors_total", "counter",
		 "Failed tries to write an output (each retried)."},
		{"driftwatch_output_rotations_total", "counter",
		 "Rotations of an output's file by size."},
		{"driftwatch_output_rejected_total", "counter",
		 "Records a receiver rejected (OTLP partialSuccess; a row a "
		 "RELP receiver refused 5 times)."},
		{"driftwatch_output_resent_total", "counter",
		 "Rows a syslog output sent again after a reconnect (at least "
		 "once)."},
		{"driftwatch_output_summarised_total", "counter",
		 "A container's bulk changes an output sent as summaries "
		 "(each is in the store)."},
	};

	for (int i = 0; i < (int)(sizeof(m) / sizeof(m[0])); i++) {
		struct output_ctx k = {b, m[i].name, i};

		family(b, m[i].name, m[i].type, m[i].help);
		dwd_outputs_each(dm, output_line, &k);
	}
}

static void coverage_counts(struct dw_buf *b, json_t *watched)
{
	static const char *const facets[] = {"fs", "writer", "exec", "logs",
					     "secrets"};
	static const char *const states[] = {"monitored", "degraded",
					     "unmonitored"};

	family(b, "driftwatch_coverage", "gauge",
	       "Watched containers by facet and coverage state.");
	for (size_t f = 0; f < 5; f++)
		for (size_t s = 0; s < 3; s++) {
			size_t i, n = 0;
			json_t *c;

			json_array_foreach(watched, i, c)
			{
				json_t *cv = json_object_get(
					json_object_get(c, "coverage"),
					facets[f]);
				const char *st = json_string_value(
					json_object_get(cv, "state"));

				n += st && !strcmp(st, states[s]);
			}
			dw_buf_addf(b,
				    "driftwatch_coverage{facet=\"%s\","
				    "state=\"%s\"} %zu\n",
				    facets[f], states[s], n);
		}
}

void dwd_metrics_update(struct daemon *dm)
{
	struct dw_buf b = DW_BUF_INIT;
	json_t *doc, *h, *sc;
	struct dw_store_counts cnt;
	struct stat st;
	long long bytes = 0;
	char path[4200];

	if (!dm->metrics)
		return;
	doc = dw_monitor_status(dm->mon);
	single(&b, "driftwatch_up", "gauge", "1: driftwatchd is running.", 1);
	single(&b, "driftwatch_start_time_seconds", "gauge",
	       "When driftwatchd started (Unix time).", dm->started);
	single(&b, "driftwatch_docker_connected", "gauge",
	       "1: following the Docker daemon.",
	       (long long)(dm->docker_connected));
	family(&b, "driftwatch_containers", "gauge",
	       "Watched containers, by how: inotify watches or polling.");
	dw_buf_addf(&b,
		    "driftwatch_containers{mode=\"inotify\"} %lld\n"
		    "driftwatch_containers{mode=\"poll\"} %lld\n",
		    num(doc, "containers") - num(doc, "polling"),
		    num(doc, "polling"));
	coverage_counts(&b, json_object_get(doc, "watched"));
	single(&b, "driftwatch_inotify_watches", "gauge",
	       "inotify watches held.", num(doc, "watches"));
	single(&b, "driftwatch_inotify_max_user_watches", "gauge",
	       "The host's fs.inotify.max_user_watches.",
	       num(doc, "max_user_watches"));
	single(&b, "driftwatch_inotify_overflows_total", "counter",
	       "inotify queue overflows (each followed by full rescans).",
	       num(doc, "overflows"));
	single(&b, "driftwatch_rescan_errors_total", "counter",
	       "Rescans that failed.", num(doc, "errors"));
	h = json_object_get(doc, "rescan_duration");
	family(&b, "driftwatch_rescan_duration_seconds", "histogram",
	       "How long rescans of a container took.");
	{
		json_t *le = json_object_get(h, "le_ms"),
		       *counts = json_object_get(h, "counts");
		long long cum = 0;
		size_t i;

		for (i = 0; i < json_array_size(le); i++) {
			cum += (long long)json_integer_value(
				json_array_get(counts, i));
			dw_buf_addf(&b,
				    "driftwatch_rescan_duration_seconds_bucket"
				    "{le=\"%g\"} %lld\n",
				    (double)json_integer_value(
					    json_array_get(le, i)) /
					    1000.0,
				    cum);
		}
		cum += (long long)json_integer_value(json_array_get(counts, i));
		dw_buf_addf(&b,
			    "driftwatch_rescan_duration_seconds_bucket{le="
			    "\"+Inf\"} %lld\n"
			    "driftwatch_rescan_duration_seconds_sum %.3f\n"
			    "driftwatch_rescan_duration_seconds_count %lld\n",
			    cum, (double)num(h, "sum_ms") / 1000.0, cum);
	}
	sc = json_object_get(doc, "scanner");
	single(&b, "driftwatch_scanner_restarts_total", "counter",
	       "Restarts of the scanner process (after a death or overrun).",
	       num(sc, "restarts"));
	single(&b, "driftwatch_scanner_inputs_given_up_total", "counter",
	       "Files the scanner failed on twice (reported).",
	       num(sc, "inputs_given_up"));
	json_decref(doc);

	dw_store_counts(dm->store, &cnt);
	family(&b, "driftwatch_events_total", "counter",
	       "Events recorded since start, by kind and severity.");
	for (int k = 0; k < 5; k++)
		for (int v = 0; v < 5; v++)
			dw_buf_addf(&b,
				    "driftwatch_events_total{kind=\"%c\","
				    "severity=\"%s\"} %llu\n",
				    DW_STORE_KINDS[k], dw_severity_name(v),
				    cnt.events[k][v]);
	family(&b, "driftwatch_findings_total", "counter",
	       "New secret findings recorded since start, by severity.");
	for (int v = 0; v < 5; v++)
		dw_buf_addf(&b,
			    "driftwatch_findings_total{severity=\"%s\"} %llu\n",
			    dw_severity_name(v), cnt.findings[v]);
	family(&b, "driftwatch_alerts_total", "counter",
	       "Alerts raised since start, by kind.");
	for (size_t i = 0; i < cnt.nalerts; i++) {
		dw_buf_adds(&b, "driftwatch_alerts_total{kind=\"");
		label(&b, cnt.alerts[i].kind);
		dw_buf_addf(&b, "\"} %llu\n", cnt.alerts[i].n);
	}
	{
		struct sink_ctx k = {&b, 0};

		family(&b, "driftwatch_alerts_pending", "gauge",
		       "Alerts not delivered yet, by sink (its position "
		       "and origin).");
		dw_store_delivery_counts(dm->store, sink_line, &k);
		k.failing = 1;
		family(&b, "driftwatch_alerts_failing", "gauge",
		       "Of those, alerts whose delivery failed at least "
		       "once.");
		dw_store_delivery_counts(dm->store, sink_line, &k);
	}
	output_counts(dm, &b);
	single(&b, "driftwatch_exec_watching", "gauge",
	       "1: execs in containers are watched (fanotify).",
	       (long long)(dm->exec != NULL));
	if (dm->exec) {
		struct dwd_exec_stats xs;

		dwd_exec_stats(dm->exec, &xs);
		single(&b, "driftwatch_exec_marked", "gauge",
		       "Containers whose execs are held and decided.",
		       (long long)xs.marked);
		family(&b, "driftwatch_exec_total", "counter",
		       "Execs held and answered, by what they were.");
		dw_buf_addf(&b,
			    "driftwatch_exec_total{result=\"image\"} %llu\n"
			    "driftwatch_exec_total{result=\"drifted\"} %llu\n"
			    "driftwatch_exec_total{result=\"undecided\"} "
			    "%llu\n",
			    xs.held - xs.drifted - xs.undecided, xs.drifted,
			    xs.undecided);
		single(&b, "driftwatch_exec_denied_total", "counter",
		       "Execs denied (enforce).", (long long)xs.denied);
		single(&b, "driftwatch_exec_reports_lost_total", "counter",
		       "Exec reports lost (past the loop's queue or the "
		       "kernel's).",
		       (long long)(xs.lost + xs.overflows));
	}
	single(&b, "driftwatch_writer_watching", "gauge",
	       "1: who changes containers' files is recorded (fanotify).",
	       (long long)(dm->writer != NULL && dm->pol.writer_attribution));
	if (dm->writer) {
		struct dwd_writer_stats ws;

		dwd_writer_stats(dm->writer, &ws);
		single(&b, "driftwatch_writer_events_total", "counter",
		       "Events read by writer attribution (the host's too).",
		       (long long)ws.events);
		single(&b, "driftwatch_writer_noted_total", "counter",
		       "Changes in containers' upper dirs with their process.",
		       (long long)ws.noted);
		family(&b, "driftwatch_writer_lost_total", "counter",
		       "Attribution lost, by why: the kernel's queue "
		       "overflowed, notes dropped before their changes were "
		       "recorded, changes recorded before attribution caught "
		       "up, directories past PATH_MAX or gone when looked up.");
		dw_buf_addf(&b,
			    "driftwatch_writer_lost_total{why=\"overflow\"} "
			    "%llu\n"
			    "driftwatch_writer_lost_total{why=\"dropped\"} "
			    "%llu\n"
			    "driftwatch_writer_lost_total{why=\"late\"} %llu\n"
			    "driftwatch_writer_lost_total{why=\"too_long\"} "
			    "%llu\n"
			    "driftwatch_writer_lost_total{why=\"gone\"} %llu\n",
			    ws.overflows, ws.dropped, ws.late, ws.too_long,
			    ws.unresolved);
	}
	snprintf(path, sizeof(path), "%s", dm->db);
	if (!stat(path, &st))
		bytes += st.st_size;
	snprintf(path, sizeof(path), "%s-wal", dm->db);
	if (!stat(path, &st))
		bytes += st.st_size;
	single(&b, "driftwatch_store_bytes", "gauge",
	       "The store's size on disk (with its write-ahead log).", bytes);
	pthread_mutex_lock(&dm->metrics->mu);
	free(dm->metrics->text);
	dm->metrics->text = dw_buf_detach(&b, NULL);
	pthread_mutex_unlock(&dm->metrics->mu);
}
