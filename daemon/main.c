/*
 * driftwatchd: discovers containers (Docker's API and events, and overlay
 * mounts in /proc/self/mountinfo), has the monitor watch them, delivers
 * alerts and publishes its status in the store. One thread runs
 * everything but the Docker event stream; signals come through a
 * signalfd, so a single poll() loop handles all of it.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "command.h"
#include "driftwatch/diff.h"
#include "docker.h"
#include "driftwatch/error.h"
#include "driftwatch/escape.h"
#include "driftwatch/json.h"
#include "log.h"
#include "snapshot.h"
#include "store.h"
#include "driftwatch/xmalloc.h"
#include "swarm.h"
#include "dockerwatch.h"
#include "logwatch.h"
#include "monitor.h"
#include "mounts.h"
#include "policy.h"
#include "driftwatch/banned.h"

#define DEFAULT_CONFIG "/etc/driftwatch/driftwatch.yaml"
#define MAX_SINKS 16

struct options {
	const char *config;
	int config_given;
	const char *db;
	const char *host;
	long interval; /* overrides rescan_interval when set */
	int foreground;
	int once;
	int verbose;
	int no_docker, no_mounts;
	int done; /* --help, --version or --config-keys was answered */
	char *sinks[MAX_SINKS]; /* "json:URL" or "slack:URL" */
	size_t nsinks;
};

struct daemon {
	struct options *o;
	struct dw_policy pol;
	struct dw_engine *engine;
	struct dw_store *store;
	struct dw_monitor *mon;
	struct dw_docker *docker; /* requests from the main thread */
	struct dw_dockerwatch *events;
	struct dw_mounts *mounts;
	struct dw_logwatch *logs;
	const char *db;
	char **sinks; /* options' and the config's */
	size_t nsinks;
	int docker_connected;
	char docker_error[512];
	long long started;
	char *last_status;
	long long status_written;
	int status_pending;
	char **snapshotted; /* containers auto-snapshotted this run */
	size_t nsnapshotted, snap_alloc;
};

static void usage(FILE *f)
{
	fprintf(f,
		"usage: driftwatchd [--foreground] [--config PATH] [--db "
		"PATH]\n"
		"                   [--host URL] [--interval SECONDS] "
		"[--once]\n"
		"                   [--no-docker] [--no-mounts] [--verbose]\n"
		"                   [--webhook URL]... [--slack-webhook "
		"URL]...\n"
		"       driftwatchd --config-keys | --version | --help\n"
		"See driftwatchd(8) and driftwatch.yaml(5).\n");
}

static int add_sink(struct options *o, const char *kind, const char *url)
{
	size_t len = strlen(url) + strlen(kind) + 2;

	if (o->nsinks == MAX_SINKS ||
	    (strncmp(url, "http://", 7) && strncmp(url, "https://", 8))) {
		fprintf(stderr,
			"driftwatchd: a webhook is an http(s) URL, at "
			"most %d of them\n",
			MAX_SINKS);
		return 2;
	}
	o->sinks[o->nsinks] = dw_xmalloc(len);
	snprintf(o->sinks[o->nsinks++], len, "%s:%s", kind, url);
	return 0;
}

static int parse_args(struct options *o, int argc, char **argv)
{
	static const struct option longopts[] = {
		{"foreground", no_argument, NULL, 'f'},
		{"config", required_argument, NULL, 'c'},
		{"db", required_argument, NULL, 'd'},
		{"host", required_argument, NULL, 'H'},
		{"interval", required_argument, NULL, 'i'},
		{"once", no_argument, NULL, '1'},
		{"no-docker", no_argument, NULL, 'D'},
		{"no-mounts", no_argument, NULL, 'M'},
		{"verbose", no_argument, NULL, 'v'},
		{"help", no_argument, NULL, 'h'},
		{"version", no_argument, NULL, 'V'},
		{"webhook", required_argument, NULL, 'w'},
		{"slack-webhook", required_argument, NULL, 's'},
		{"config-keys", no_argument, NULL, 'K'},
		{NULL, 0, NULL, 0},
	};
	char *end;
	int c, err;

	memset(o, 0, sizeof(*o));
	o->config = DEFAULT_CONFIG;
	while ((c = getopt_long(argc, argv, "fc:d:H:i:vh", longopts, NULL)) !=
	       -1) {
		switch (c) {
		case 'f': o->foreground = 1; break;
		case 'c':
			o->config = optarg;
			o->config_given = 1;
			break;
		case 'd': o->db = optarg; break;
		case 'H': o->host = optarg; break;
		case '1': o->once = 1; break;
		case 'D': o->no_docker = 1; break;
		case 'M': o->no_mounts = 1; break;
		case 'v': o->verbose = 1; break;
		case 'i':
			errno = 0;
			o->interval = strtol(optarg, &end, 10);
			if (errno || *end || o->interval < 1 ||
			    o->interval > 86400) {
				fprintf(stderr,
					"driftwatchd: --interval takes "
					"1 to 86400 seconds, not '%s'\n",
					optarg);
				return 2;
			}
			break;
		case 'w':
		case 's':
			err = add_sink(o, c == 's' ? "slack" : "json", optarg);
			if (err)
				return err;
			break;
		case 'h':
			usage(stdout);
			o->done = 1;
			return 0;
		case 'V':
			printf("driftwatchd %s\n", DW_VERSION);
			o->done = 1;
			return 0;
		case 'K':
			dw_policy_print_keys(stdout);
			o->done = 1;
			return 0;
		default: usage(stderr); return 2;
		}
	}
	if (optind != argc) {
		usage(stderr);
		return 2;
	}
	return 0;
}

/* ---- alerts ---- */

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

static void deliver_alerts(struct daemon *dm)
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

static void set_sinks(struct daemon *dm)
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

/* ---- the first critical drift of a container: a forensic snapshot ---- */

static void auto_snapshot(const char *id, const char *name, void *ctx)
{
	struct daemon *dm = ctx;
	struct dw_snapshot_opts so;
	struct dw_snapshot_result r;
	struct dw_snapshot_record rec;
	struct dw_buf path = DW_BUF_INIT;
	char host[256] = "", stamp[32];
	time_t now = time(NULL);
	struct tm tm;
	char *tag = NULL;
	size_t i;

	if (!dm->pol.snapshot_on_critical || !dm->docker ||
	    strncmp(id, "mount:", 6) == 0)
		return;
	/* At most one per container per snapshot_interval, across
	 * restarts (the store remembers); and one try per run. */
	for (i = 0; i < dm->nsnapshotted; i++)
		if (!strcmp(dm->snapshotted[i], id))
			return;
	if (now - dw_store_last_snapshot(dm->store, id, "driftwatchd") <
	    dm->pol.snapshot_interval)
		return;
	DW_ALLOC_GROW(dm->snapshotted, dm->nsnapshotted + 1, dm->snap_alloc);
	dm->snapshotted[dm->nsnapshotted++] = dw_xstrdup(id);
	if (mkdir(dm->pol.snapshot_dir, 0700) < 0 && errno != EEXIST) {
		dw_log_error("cannot create %s: %s", dm->pol.snapshot_dir,
			     strerror(errno));
		return;
	}
	gmtime_r(&now, &tm);
	strftime(stamp, sizeof(stamp), "%Y%m%dT%H%M%SZ", &tm);
	dw_buf_addf(&path, "%s/%s-%s.tar", dm->pol.snapshot_dir, name, stamp);
	memset(&so, 0, sizeof(so));
	so.out_path = path.ptr;
	so.reason = "driftwatchd: first critical drift";
	tag = dw_snapshot_default_tag(name, stamp);
	so.tag = tag;
	dw_log_warn("container %s: critical drift, taking a snapshot to %s",
		    name, path.ptr);
	if (dw_snapshot_container(dm->docker, id, &so, &r)) {
		dw_log_error("snapshot of %s failed: %s", name,
			     dw_error_last());
		goto out;
	}
	gethostname(host, sizeof(host) - 1);
	rec = (struct dw_snapshot_record){id,
					  name,
					  path.ptr,
					  r.archive_sha256,
					  r.evidence_sha256,
					  so.reason,
					  "driftwatchd",
					  host,
					  r.paused};
	if (dw_store_record_snapshot(dm->store, &rec))
		dw_log_warn("%s", dw_error_last());
	else
		dw_log_info("snapshot of %s: %s (%s)", name, path.ptr,
			    r.archive_sha256);
	free(r.evidence_path);
out:
	dw_buf_release(&path);
	free(tag);
}

/* ---- leaks: record once, attribute, alert, rotate as the policy says ---- */

static void rotate_leaked(struct daemon *dm, const struct dw_swarm *sw,
			  const char *role, const char *where)
{
	enum dw_swarm_secret what = dw_swarm_secret_of_role(role);
	struct dw_rotation rot;
	char reason[1000];
	int err;

	if (dm->pol.rotate != DW_ROTATE_AUTO) {
		if (dm->pol.rotate == DW_ROTATE_ASK)
			dw_log_warn("the live %s of this swarm leaked (%s); "
				    "rotate it with: driftwatch rotate --%s",
				    dw_swarm_secret_name(what), where, role);
		return;
	}
	snprintf(reason, sizeof(reason), "driftwatchd: leaked in %s", where);
	err = dw_leak_rotate(dm->docker, dm->store, what, 0, reason, &rot);
	if (err && err != DW_ESTORE) {
		dw_log_error("rotating the leaked %s failed: %s",
			     dw_swarm_secret_name(what), dw_error_last());
		return;
	}
	dw_log_warn("rotated the leaked %s of swarm %s: %s -> %s",
		    dw_swarm_secret_name(what), sw->id, rot.before, rot.after);
	if (err)
		dw_log_warn("%s", dw_error_last());
}

/*
 * For tokens driftwatch cannot rotate itself: the configured program gets
 * the finding, with the secret in clear, so it can revoke it.
 */
static void run_leak_command(struct daemon *dm, const struct dw_finding *f,
			     const struct dw_leak_src *src, const char *path)
{
	if (dw_leak_run_command(dm->pol.command, f, src))
		dw_log_warn("the command for %s in %s failed: %s", f->rule->id,
			    path, dw_error_last());
	else
		dw_log_info("ran %s for the %s in %s", dm->pol.command[0],
			    f->rule->id, path);
}

static void on_leak(const struct dw_finding *f, const struct dw_leak_src *src,
		    void *ctx)
{
	struct daemon *dm = ctx;
	struct dw_finding_record rec;
	struct dw_buf red = DW_BUF_INIT, path = DW_BUF_INIT;
	struct dw_swarm sw;
	json_t *attr = NULL, *p;
	char summary[1200], where[900], attributed[80] = "";
	int have_swarm = 0, is_new = 0;

	memset(&rec, 0, sizeof(rec));
	rec.source_id = src->source_id;
	rec.path = src->path;
	rec.path_len = src->path_len;
	rec.fingerprint = f->fingerprint;
	rec.once_per_source = src->once_per_source;
	/* A secret seen before costs one lookup, not a word with Docker. */
	if (dw_store_finding_known(dm->store, &rec))
		return;
	dw_secret_redact(&red, f->secret, f->secret_len);
	dw_utf8_sanitize(&path, src->path, src->path_len);
	if (f->secret && dw_swarm_rule(f->rule->id) && dm->docker &&
	    !dw_swarm_read(dm->docker, &sw)) {
		have_swarm = 1;
		attr = dw_swarm_attribute(&sw, f->rule->id, f->secret,
					  f->secret_len);
	}
	rec.source = src->source;
	rec.rule = f->rule->id;
	rec.severity = dw_severity_name(f->rule->severity);
	rec.redacted = red.ptr ? red.ptr : "";
	rec.line = f->line;
	rec.cluster = json_string_value(json_object_get(attr, "cluster"));
	rec.role = json_string_value(json_object_get(attr, "role"));
	rec.status = json_string_value(json_object_get(attr, "status"));
	if (dw_store_add_finding(dm->store, &rec, &is_new))
		dw_log_warn("%s", dw_error_last());
	if (!is_new)
		goto out;
	if (!strcmp(src->source, DW_SOURCE_CONTAINER_FILE))
		snprintf(where, sizeof(where), "container %s, %s:%llu",
			 src->name, path.ptr, (unsigned long long)f->line);
	else
		snprintf(where, sizeof(where), "%s %s:%llu", src->source,
			 path.ptr, (unsigned long long)f->line);
	if (rec.status)
		snprintf(attributed, sizeof(attributed), " (%s %s)", rec.status,
			 rec.role ? rec.role : "");
	snprintf(summary, sizeof(summary), "%s secret in %s%s", f->rule->id,
		 where, attributed);
	dw_log_warn("%s", summary);
	p = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:I, s:s, s:s}", "rule",
		      f->rule->id, "severity", rec.severity, "source",
		      src->source, "source_id", src->source_id, "name",
		      src->name, "path", path.ptr, "line", (json_int_t)f->line,
		      "fingerprint", f->fingerprint, "redacted", rec.redacted);
	if (attr)
		json_object_update(p, attr);
	if (dw_store_alert(dm->store, "leak", summary, p))
		dw_log_warn("%s", dw_error_last());
	json_decref(p);
	if (dm->pol.ncommand && f->secret && !dw_swarm_rule(f->rule->id))
		run_leak_command(dm, f, src, path.ptr);
	if (have_swarm && rec.status && !strcmp(rec.status, "live") &&
	    rec.cluster && !strcmp(rec.cluster, sw.id))
		rotate_leaked(dm, &sw, rec.role ? rec.role : "", where);
out:
	if (have_swarm)
		dw_swarm_release(&sw);
	json_decref(attr);
	dw_buf_release(&red);
	dw_buf_release(&path);
}

/* ---- overlay mounts of other runtimes ---- */

static void read_mounts(struct daemon *dm)
{
	struct dw_mount *list = NULL;
	char **ids;
	size_t n = 0, i, kept = 0;

	if (dw_mounts_scan(dm->mounts, &list, &n)) {
		dw_log_warn("%s", dw_error_last());
		return;
	}
	ids = dw_xcalloc(n + 1, sizeof(char *));
	for (i = 0; i < n; i++) {
		struct dw_watch_spec s = {
			list[i].id,	 list[i].name,	"",
			list[i].runtime, list[i].upper, list[i].lowers,
			list[i].nlowers, NULL,		0};

		ids[kept++] = list[i].id;
		if (!dw_monitor_has(dm->mon, list[i].id))
			dw_monitor_add(dm->mon, &s, DW_RESCAN_FULL);
	}
	dw_monitor_keep_only(dm->mon, 0, ids, kept, "stopped");
	free(ids);
	dw_mounts_free_list(list, n);
}

/* ---- Docker ---- */

static void watch_docker_container(struct daemon *dm, const char *id,
				   enum dw_rescan_source source)
{
	struct dw_container_layers l;
	struct dw_watch_spec s;
	int err = dw_docker_container_layers(dm->docker, &l, id);

	if (err) {
		if (err != DW_ENOTFOUND)
			dw_log_warn("cannot inspect container %.12s: %s", id,
				    dw_error_last());
		return;
	}
	if (l.running) {
		s = (struct dw_watch_spec){l.id,      l.name,	l.image,
					   "docker",  l.upper,	l.lowers,
					   l.nlowers, l.labels, l.read_only};
		/* Its log first: an opted-out container's log is still a
		 * place secrets leak to. */
		if (dm->logs && dm->pol.docker_logs)
			dw_logwatch_add_container(dm->logs, l.id, l.name,
						  l.log_path);
		dw_monitor_add(dm->mon, &s, source);
	}
	dw_container_layers_release(&l);
}

/* Docker's own overlay mounts are followed through its API. */
static void docker_root(struct daemon *dm)
{
	json_t *info = NULL;

	if (!dm->mounts)
		return;
	if (!dw_docker_get_json(dm->docker, &info, "/info") &&
	    dw_json_path_str(info, "DockerRootDir"))
		dw_mounts_set_skip(dm->mounts,
				   dw_json_path_str(info, "DockerRootDir"));
	json_decref(info);
}

/* List the running containers: watch new ones, drop the gone. */
static int docker_reconcile(struct daemon *dm)
{
	json_t *list = NULL, *c;
	char **ids = NULL;
	size_t i, n = 0;
	int err = dw_docker_get_json(dm->docker, &list, "/containers/json");

	if (err)
		return err;
	docker_root(dm);
	if (dm->mounts)
		read_mounts(dm);
	ids = dw_xcalloc(json_array_size(list) + 1, sizeof(char *));
	json_array_foreach(list, i, c)
	{
		const char *id = dw_json_path_str(c, "Id");

		if (!id)
			continue;
		ids[n++] = dw_xstrdup(id);
		watch_docker_container(dm, id, DW_RESCAN_FULL);
	}
	dw_monitor_keep_only(dm->mon, 1, ids, n, "stopped");
	if (dm->logs)
		dw_logwatch_keep_containers(dm->logs, ids, n);
	for (i = 0; i < n; i++)
		free(ids[i]);
	free(ids);
	json_decref(list);
	return 0;
}

static void docker_message(struct daemon *dm, const struct dw_docker_msg *m)
{
	if (!strcmp(m->action, "connected")) {
		if (docker_reconcile(dm)) {
			dw_log_warn("%s", dw_error_last());
			return;
		}
		dm->docker_connected = 1;
		dm->docker_error[0] = '\0';
		dw_log_info("following the docker daemon at %s",
			    dw_docker_socket(dm->docker));
	} else if (!strcmp(m->action, "lost")) {
		if (dm->docker_connected || !dm->docker_error[0])
			dw_log_warn("lost the docker daemon (%s); reconnecting",
				    m->id);
		dm->docker_connected = 0;
		snprintf(dm->docker_error, sizeof(dm->docker_error), "%s",
			 m->id);
	} else if (!strcmp(m->action, "start")) {
		watch_docker_container(dm, m->id, DW_RESCAN_FULL);
	} else if (!strcmp(m->action, "die")) {
		dw_monitor_drop(dm->mon, m->id, "stopped");
		if (dm->logs)
			dw_logwatch_remove_container(dm->logs, m->id);
	} else if (!strcmp(m->action, "destroy")) {
		dw_monitor_drop(dm->mon, m->id, "removed");
		dw_store_set_container_state(dm->store, m->id, "removed");
	} else if (!strcmp(m->action, "rename")) {
		struct dw_container_layers l;

		if (!dw_docker_container_layers(dm->docker, &l, m->id)) {
			dw_monitor_rename(dm->mon, l.id, l.name);
			dw_container_layers_release(&l);
		}
	}
}

static void read_docker(struct daemon *dm)
{
	struct dw_docker_msg m;

	while (read(dw_dockerwatch_fd(dm->events), &m, sizeof(m)) ==
	       (ssize_t)sizeof(m))
		docker_message(dm, &m);
}

/* ---- status ---- */

static void write_status(struct daemon *dm, const char *state, int force)
{
	long long now = (long long)time(NULL);
	json_t *doc;
	char *text;

	/* At most once a second: a busy host must not write it per event;
	 * the loop comes back within the second for what was held. */
	if (!force && now == dm->status_written) {
		dm->status_pending = 1;
		return;
	}
	dm->status_pending = 0;
	doc = dw_monitor_status(dm->mon);
	json_object_set_new(doc, "state", json_string(state));
	json_object_set_new(doc, "version", json_string(DW_VERSION));
	json_object_set_new(doc, "started", json_integer(dm->started));
	json_object_set_new(doc, "config", json_string(dm->o->config));
	json_object_set_new(doc, "docker",
			    json_pack("{s:b, s:b, s:s}", "enabled",
				      dm->events != NULL, "connected",
				      dm->docker_connected, "error",
				      dm->docker_error));
	json_object_set_new(doc, "mounts", json_boolean(dm->mounts != NULL));
	json_object_set_new(
		doc, "followed_files",
		json_integer((json_int_t)(dm->logs ? dw_logwatch_count(dm->logs)
						   : 0)));
	json_object_set_new(doc, "rotate",
			    json_string(dw_policy_rotate_name(dm->pol.rotate)));
	text = json_dumps(doc, JSON_COMPACT | JSON_PRESERVE_ORDER);
	json_decref(doc);
	/* Write what changed, and a heartbeat every 30 s. */
	if (text && (force || now - dm->status_written >= 30 ||
		     !dm->last_status || strcmp(text, dm->last_status))) {
		if (dw_store_put_status(dm->store, text))
			dw_log_warn("%s", dw_error_last());
		dm->status_written = now;
		free(dm->last_status);
		dm->last_status = text;
	} else {
		free(text);
	}
}

/* ---- configuration ---- */

static int load_config(struct daemon *dm, struct dw_policy *p,
		       struct dw_engine **engine)
{
	int err = dw_policy_load(p, dm->o->config, dm->o->config_given);

	if (err)
		return err;
	if (dm->o->interval)
		p->rescan_interval = dm->o->interval;
	*engine = NULL;
	if (p->scan_secrets && (err = dw_engine_new(engine, NULL))) {
		dw_policy_release(p);
		return err;
	}
	return 0;
}

static void configure_logs(struct daemon *dm)
{
	if (dm->logs)
		dw_logwatch_configure(dm->logs, dm->pol.logs, dm->pol.nlogs,
				      dm->pol.drops, dm->pol.ndrops, dm->engine,
				      dm->pol.max_file_size);
}

static void reload(struct daemon *dm)
{
	struct dw_policy p;
	struct dw_engine *e = NULL;

	if (load_config(dm, &p, &e)) {
		dw_log_error("sighup: configuration %s rejected, the old one "
			     "stays: %s",
			     dm->o->config, dw_error_last());
		return;
	}
	{
		struct dw_policy old = dm->pol;
		struct dw_engine *old_engine = dm->engine;

		dm->pol = p;
		dm->engine = e;
		/* Drops the scanner of the old engine before it goes. */
		dw_monitor_set_policy(dm->mon, &dm->pol, dm->engine);
		configure_logs(dm);
		dw_policy_release(&old);
		dw_engine_free(old_engine);
	}
	set_sinks(dm);
	/* Labels may opt containers in or out now: list them again. */
	if (dm->docker && dm->docker_connected && docker_reconcile(dm))
		dw_log_warn("%s", dw_error_last());
	dw_monitor_rescan_all(dm->mon, DW_RESCAN_FULL);
	dw_log_info("sighup: configuration %s reloaded", dm->o->config);
}

/* ---- the loop ---- */

static int block_signals(void)
{
	sigset_t set;

	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	sigaddset(&set, SIGPIPE);
	if (sigprocmask(SIG_BLOCK, &set, NULL) < 0)
		return -1;
	return signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
}

/* 1 when asked to stop. */
static int read_signals(struct daemon *dm, int sfd)
{
	struct signalfd_siginfo si;

	while (read(sfd, &si, sizeof(si)) == sizeof(si)) {
		if (si.ssi_signo == SIGHUP) {
			reload(dm);
		} else if (si.ssi_signo != SIGPIPE) {
			dw_log_info("received signal %u, stopping",
				    si.ssi_signo);
			return 1;
		}
	}
	return 0;
}

static int run_once(struct daemon *dm)
{
	int err = 0;
	long next;

	if (dm->docker) {
		err = docker_reconcile(dm); /* reads the mounts too */
		if (err)
			dw_log_warn("%s", dw_error_last());
	}
	if (dm->mounts && (!dm->docker || err))
		read_mounts(dm);
	while ((next = dw_monitor_run(dm->mon)) == 0)
		;
	deliver_alerts(dm);
	write_status(dm, "stopped", 1);
	return err ? 3 : 0;
}

static int run(struct daemon *dm, int sfd)
{
	long long next_delivery = 0;

	for (;;) {
		struct pollfd p[5];
		nfds_t n = 0;
		long wait = dw_monitor_run(dm->mon);
		long long now = (long long)time(NULL);
		int i;

		if (dm->nsinks && now >= next_delivery) {
			deliver_alerts(dm);
			next_delivery = now + 1;
		}
		write_status(dm, "running", 0);
		if ((dm->nsinks || dm->status_pending) &&
		    (wait < 0 || wait > 1000))
			wait = 1000;
		if (wait < 0 || wait > 30000)
			wait = 30000;
		p[n++] = (struct pollfd){sfd, POLLIN, 0};
		p[n++] = (struct pollfd){dw_monitor_fd(dm->mon), POLLIN, 0};
		if (dm->events)
			p[n++] = (struct pollfd){dw_dockerwatch_fd(dm->events),
						 POLLIN, 0};
		if (dm->mounts)
			p[n++] = (struct pollfd){dw_mounts_fd(dm->mounts),
						 POLLPRI, 0};
		if (dm->logs)
			p[n++] = (struct pollfd){dw_logwatch_fd(dm->logs),
						 POLLIN, 0};
		if (poll(p, n, (int)wait) < 0 && errno != EINTR)
			dw_fatal("poll: %s", strerror(errno));
		for (i = 0; i < (int)n; i++) {
			if (!p[i].revents)
				continue;
			if (p[i].fd == sfd && read_signals(dm, sfd))
				return 0;
			if (p[i].fd == dw_monitor_fd(dm->mon))
				dw_monitor_read_events(dm->mon);
			else if (dm->events &&
				 p[i].fd == dw_dockerwatch_fd(dm->events))
				read_docker(dm);
			else if (dm->mounts &&
				 p[i].fd == dw_mounts_fd(dm->mounts))
				read_mounts(dm);
			else if (dm->logs &&
				 p[i].fd == dw_logwatch_fd(dm->logs))
				dw_logwatch_read_events(dm->logs);
		}
	}
}

static void raise_fd_limit(void)
{
	struct rlimit r;

	if (!getrlimit(RLIMIT_NOFILE, &r) && r.rlim_cur < r.rlim_max) {
		r.rlim_cur = r.rlim_max;
		setrlimit(RLIMIT_NOFILE, &r);
	}
}

int main(int argc, char **argv)
{
	struct options o;
	struct daemon dm;
	int ret = parse_args(&o, argc, argv);
	int sfd;
	size_t i;

	if (ret)
		return ret;
	if (o.done)
		return fflush(stdout) || ferror(stdout) ? 1 : 0;
	memset(&dm, 0, sizeof(dm));
	dm.o = &o;
	dm.started = (long long)time(NULL);
	dw_log_init("driftwatchd", o.foreground ? DW_LOG_STDERR : DW_LOG_SYSLOG,
		    o.verbose);
	if (load_config(&dm, &dm.pol, &dm.engine))
		dw_fatal("%s", dw_error_last());
	dm.db = o.db ? o.db : dm.pol.db ? dm.pol.db : DW_STORE_DEFAULT_PATH;
	if (!o.host)
		o.host = dm.pol.docker_host;
	raise_fd_limit();
	sfd = block_signals();
	if (sfd < 0)
		dw_fatal("cannot set up signal handling: %s", strerror(errno));
	if (dw_store_open(&dm.store, dm.db, 0))
		dw_fatal("%s", dw_error_last());
	set_sinks(&dm);
	if (dw_monitor_new(&dm.mon, dm.store, &dm.pol, dm.engine))
		dw_fatal("%s", dw_error_last());
	dw_monitor_on_critical(dm.mon, auto_snapshot, &dm);
	dw_monitor_on_leak(dm.mon, on_leak, &dm);
	if (dw_logwatch_new(&dm.logs, dm.store, on_leak, &dm))
		dw_fatal("%s", dw_error_last());
	if (!o.no_docker && dm.pol.docker) {
		if (dw_docker_open(&dm.docker, o.host))
			dw_fatal("%s", dw_error_last());
		if (!o.once && dw_dockerwatch_start(&dm.events, o.host))
			dw_fatal("%s", dw_error_last());
	}
	if (!o.no_mounts && dm.pol.mounts &&
	    dw_mounts_open(&dm.mounts, dm.docker ? "/var/lib/docker" : NULL))
		dw_log_warn("overlay mounts are not followed: %s",
			    dw_error_last());
	if (dm.docker)
		docker_root(&dm);
	configure_logs(&dm);
	dw_log_info("driftwatchd %s started, store %s, config %s%s", DW_VERSION,
		    dm.db, o.config,
		    access(o.config, F_OK) ? " (absent: defaults)" : "");
	if (o.once) {
		ret = run_once(&dm);
	} else {
		if (dm.mounts)
			read_mounts(&dm);
		ret = run(&dm, sfd);
		write_status(&dm, "stopped", 1);
	}
	dw_dockerwatch_stop(dm.events);
	dw_logwatch_free(dm.logs);
	dw_mounts_close(dm.mounts);
	dw_monitor_free(dm.mon);
	dw_store_close(dm.store);
	dw_docker_free(dm.docker);
	dw_engine_free(dm.engine);
	dw_policy_release(&dm.pol);
	close(sfd);
	for (i = 0; i < o.nsinks; i++)
		free(o.sinks[i]);
	for (i = 0; i < dm.nsnapshotted; i++)
		free(dm.snapshotted[i]);
	free(dm.snapshotted);
	free(dm.sinks);
	free(dm.last_status);
	dw_log_info("stopped");
	return ret;
}
