/* driftwatchd: discovers containers (Docker API and events, and overlay mounts
 * in /proc/self/mountinfo), has the monitor watch them and publishes its status
 * in the store. One thread runs everything but the Docker event stream; signals
 * come through a signalfd, so a single poll() loop handles all of it. daemon.h
 * lists the parts. */
#include "daemon.h"

#include "coverage.h"
#include "journal.h"
#include "sandbox.h"
#include "sign.h"
#include "driftwatch/clock.h"

#include <fcntl.h>
#include <malloc.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <systemd/sd-daemon.h>

#include "driftwatch/banned.h"

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

/* ---- overlay mounts of other runtimes ---- */

/*
 * Kubernetes' pod logs (pod_logs, under host_root): followed when the
 * directory is there, looked for again each minute when not.
 */
static void follow_pod_logs(struct daemon *dm)
{
	char *root;
	int was = dm->pods_followed;

	if (!dm->logs)
		return;
	dm->pods_tried = time(NULL);
	root = dm->pol.pod_logs && *dm->pol.pod_logs
		       ? dw_host_path(dm->pol.host_root, dm->pol.pod_logs)
		       : NULL;
	dm->pods_followed = dw_logwatch_pod_logs(dm->logs, root);
	if (dm->pods_followed && !was)
		dw_log_info("following Kubernetes' pod logs in %s", root);
	else if (root && !dm->pods_followed && was)
		dw_log_warn("%s is gone: Kubernetes' pod logs are not "
			    "followed",
			    root);
	free(root);
}

/*
 * The logs of a container seen by its overlay mount: its pod's CRI logs
 * are read when pod_logs is followed, by pod name; which container of
 * which pod a mount is, is not known yet (the pod's identity is not read
 * from the runtime's bundle): degraded, said.
 */
static void cover_mount_logs(struct daemon *dm, const struct dw_mount *m)
{
	const char *id = m->id;
	char detail[300];

	if (!dm->pol.pod_logs || !*dm->pol.pod_logs) {
		dw_monitor_cover(dm->mon, id, DW_FACET_LOGS,
				 DW_COVER_UNMONITORED, DW_REASON_DISABLED,
				 "pod_logs: \"\"");
		return;
	}
	/* Its pod's log dir, by the pod's uid and the container's name. */
	if (dm->pods_followed && m->k8s_uid && m->k8s_pod && m->k8s_container) {
		struct dw_buf p = DW_BUF_INIT;
		struct stat st;
		char *host;
		int there;

		dw_buf_addf(&p, "%s/%s_%s_%s/%s", dm->pol.pod_logs,
			    m->k8s_namespace ? m->k8s_namespace : "",
			    m->k8s_pod, m->k8s_uid, m->k8s_container);
		host = dw_host_path(dm->pol.host_root, p.ptr);
		there = !stat(host, &st) && S_ISDIR(st.st_mode);
		free(host);
		if (there) {
			dw_monitor_cover(dm->mon, id, DW_FACET_LOGS,
					 DW_COVER_MONITORED, DW_REASON_NONE,
					 p.ptr);
			dw_buf_release(&p);
			return;
		}
		dw_buf_release(&p);
	}
	snprintf(detail, sizeof(detail),
		 dm->pods_followed
			 ? "pod logs in %.200s are read by pod name; this "
			   "container's were not found there"
			 : "no pod log directory %.200s: no CRI log is read",
		 dm->pol.pod_logs);
	dw_monitor_cover(dm->mon, id, DW_FACET_LOGS,
			 dm->pods_followed ? DW_COVER_DEGRADED
					   : DW_COVER_UNMONITORED,
			 DW_REASON_NOT_BUILT, detail);
}

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
		struct dw_mount *m = &list[i];
		struct dw_buf name = DW_BUF_INIT;
		json_t *labels = NULL;
		struct dw_watch_spec s;

		/* A pod's pause container runs no workload: not watched. */
		if (m->sandbox)
			continue;
		/* A Kubernetes container by its pod: NS/POD/CONTAINER, and
		 * Kubernetes' own label keys (allow rules by label). */
		if (m->k8s_pod && m->k8s_container) {
			dw_buf_addf(&name, "%s/%s/%s",
				    m->k8s_namespace ? m->k8s_namespace : "",
				    m->k8s_pod, m->k8s_container);
			labels = json_pack("{s:s, s:s, s:s}",
					   "io.kubernetes.pod.namespace",
					   m->k8s_namespace ? m->k8s_namespace
							    : "",
					   "io.kubernetes.pod.name", m->k8s_pod,
					   "io.kubernetes.container.name",
					   m->k8s_container);
			if (m->k8s_uid)
				json_object_set_new(labels,
						    "io.kubernetes.pod.uid",
						    json_string(m->k8s_uid));
		} else if (m->ctr_name) {
			/* podman's: by its name, as `podman ps` shows it. */
			dw_buf_adds(&name, m->ctr_name);
		}
		/* CRI-O's pod labels: label rules hold for its pods. */
		if (m->labels) {
			json_t *l = json_loads(m->labels, 0, NULL);

			if (!labels)
				labels = json_object();
			if (json_is_object(l))
				json_object_update_missing(labels, l);
			json_decref(l);
		}
		s = (struct dw_watch_spec){m->id,
					   name.len ? name.ptr : m->name,
					   m->image ? m->image : "",
					   m->runtime,
					   m->upper,
					   m->lowers,
					   m->nlowers,
					   labels,
					   0,
					   NULL,
					   m->userxattr,
					   m->mount_points,
					   m->nmount_points};
		ids[kept++] = list[i].id;
		if (list[i].bad) {
			struct dw_cover_subject who = {list[i].id, list[i].name,
						       "", list[i].runtime};

			if (dw_coverage_set(dm->store, &who, DW_FACET_FS,
					    DW_COVER_UNMONITORED,
					    DW_REASON_STORAGE_DRIVER,
					    list[i].bad) == 1)
				dw_log_error(
					"overlay mount %s is not monitored: "
					"%s",
					list[i].name, list[i].bad);
			json_decref(labels);
			dw_buf_release(&name);
			continue;
		}
		if (!dw_monitor_has(dm->mon, list[i].id) &&
		    !dw_monitor_add(dm->mon, &s, DW_RESCAN_FULL))
			cover_mount_logs(dm, m);
		json_decref(labels);
		dw_buf_release(&name);
	}
	dw_monitor_keep_only(dm->mon, 0, ids, kept, "stopped");
	free(ids);
	dw_mounts_free_list(list, n);
}

/* ---- Docker ---- */

/*
 * Which of a Docker container's logs are read: json-file and local logs,
 * and for any other driver Docker's dual-logging cache of them; `none`
 * or a disabled cache leave nothing to read.
 */
static void cover_docker_logs(struct daemon *dm,
			      const struct dw_container_layers *l,
			      int journal_err, const char *journal_why)
{
	char detail[400];

	if (!dm->pol.docker_logs) {
		dw_monitor_cover(dm->mon, l->id, DW_FACET_LOGS,
				 DW_COVER_UNMONITORED, DW_REASON_DISABLED,
				 "docker_logs: false");
	} else if (l->log_journald && journal_err) {
		snprintf(detail, sizeof(detail),
			 "log driver journald: not read (%s)", journal_why);
		dw_monitor_cover(dm->mon, l->id, DW_FACET_LOGS,
				 DW_COVER_UNMONITORED, DW_REASON_LOG_DRIVER,
				 detail);
	} else if (*l->log_path || l->log_journald) {
		dw_monitor_cover(dm->mon, l->id, DW_FACET_LOGS,
				 DW_COVER_MONITORED, DW_REASON_NONE, NULL);
	} else {
		snprintf(detail, sizeof(detail), "log driver %s %s",
			 *l->log_driver ? l->log_driver : "unknown",
			 l->log_gap ? l->log_gap : "is not read");
		dw_monitor_cover(dm->mon, l->id, DW_FACET_LOGS,
				 DW_COVER_UNMONITORED, DW_REASON_LOG_DRIVER,
				 detail);
	}
}

/*
 * A Docker container driftwatch cannot watch (its storage driver): never
 * silent. Its identity from the inspect document, its coverage in the
 * store, and one alert.
 */
static void unwatchable(struct daemon *dm, const char *id, const char *why)
{
	struct dw_buf path = DW_BUF_INIT;
	json_t *j = NULL;
	const char *name, *image, *driver;
	char detail[1024];

	dw_buf_addf(&path, "/containers/%s/json", id);
	if (dw_docker_get_json(dm->docker, &j, path.ptr)) {
		dw_buf_release(&path);
		return;
	}
	name = dw_json_path_str(j, "Name");
	image = dw_json_path_str(j, "Config.Image");
	driver = dw_json_path_str(j, "GraphDriver.Name");
	snprintf(detail, sizeof(detail), "storage driver %s: %s",
		 driver ? driver : "unknown", why);
	{
		struct dw_cover_subject who = {dw_json_path_str(j, "Id"),
					       name && *name == '/' ? name + 1
					       : name		    ? name
								    : "",
					       image ? image : "", "docker"};

		int rc = who.id ? dw_coverage_set(dm->store, &who, DW_FACET_FS,
						  DW_COVER_UNMONITORED,
						  DW_REASON_STORAGE_DRIVER,
						  detail)
				: 0;

		if (rc == 1)
			dw_log_error("container %s (%.12s) is not monitored: "
				     "%s",
				     who.name, who.id, detail);
		else if (rc < 0) /* not recorded: said here at least */
			dw_log_error("container %s (%.12s) is not monitored: "
				     "%s (not recorded: %s)",
				     who.name, who.id ? who.id : "", detail,
				     dw_error_last());
	}
	json_decref(j);
	dw_buf_release(&path);
}

/* ---- containers Docker does not answer for ---- */

/*
 * When to ask again about a container Docker did not answer for: after
 * 60 s, then twice as long each time up to an hour; and one such
 * question a minute at most whatever their number, so wedged containers
 * cost the loop DWD_DOCKER_TIMEOUT_MS a minute at most.
 */
#define STALLED_RETRY_S 60
#define STALLED_RETRY_MAX_S 3600

static ssize_t stalled_find(const struct daemon *dm, const char *id)
{
	size_t i;

	for (i = 0; i < dm->nstalled; i++)
		if (!strcmp(dm->stalled[i].id, id))
			return (ssize_t)i;
	return -1;
}

static void stalled_forget(struct daemon *dm, const char *id)
{
	ssize_t i = stalled_find(dm, id);

	if (i >= 0)
		dm->stalled[i] = dm->stalled[--dm->nstalled];
}

/*
 * Docker had no answer for a container's inspect (dockerd holds its lock:
 * a log driver blocked on a stalled receiver, a stop that never ends).
 * Never silent: its coverage, named from the container list (which takes
 * no container lock), and one alert; asked again in STALLED_RETRY_S, so
 * that the loop waits for it once a minute at most, not every pass.
 */
static void stalled(struct daemon *dm, const char *id, const char *why)
{
	ssize_t i = stalled_find(dm, id);
	struct dw_buf path = DW_BUF_INIT;
	json_t *list = NULL, *c;
	const char *name = "", *image = "";
	char detail[1024];

	if (i < 0) {
		DW_ALLOC_GROW(dm->stalled, dm->nstalled + 1, dm->stalled_alloc);
		i = (ssize_t)dm->nstalled++;
		snprintf(dm->stalled[i].id, sizeof(dm->stalled[i].id), "%s",
			 id);
		dm->stalled[i].tries = 0;
	}
	{
		long long wait =
			(long long)STALLED_RETRY_S
			<< (dm->stalled[i].tries < 6 ? dm->stalled[i].tries
						     : 6);

		dm->stalled[i].retry =
			(long long)time(NULL) + (wait < STALLED_RETRY_MAX_S
							 ? wait
							 : STALLED_RETRY_MAX_S);
		dm->stalled[i].tries++;
	}
	snprintf(detail, sizeof(detail),
		 "%s; not watched, asked again in %d s, then less often", why,
		 STALLED_RETRY_S);
	if (strspn(id, "0123456789abcdef") == strlen(id))
		dw_buf_addf(&path,
			    "/containers/"
			    "json?all=1&filters=%%7B%%22id%%22%%3A%%5B%%22%s%%"
			    "22%%5D%%7D",
			    id);
	if (path.len && !dw_docker_get_json(dm->docker, &list, path.ptr) &&
	    (c = json_array_get(list, 0))) {
		const char *n = json_string_value(
			json_array_get(json_object_get(c, "Names"), 0));

		name = n ? (*n == '/' ? n + 1 : n) : "";
		image = dw_json_path_str(c, "Image");
		image = image ? image : "";
	}
	{
		struct dw_cover_subject who = {id, name, image, "docker"};
		int rc = dw_coverage_set(
			dm->store, &who, DW_FACET_FS, DW_COVER_UNMONITORED,
			DW_REASON_RUNTIME_UNRESPONSIVE, detail);

		if (rc == 1)
			dw_log_error("container %s (%.12s) is not monitored: "
				     "%s",
				     name, id, detail);
		else if (rc < 0)
			dw_log_error("container %s (%.12s) is not monitored: "
				     "%s (not recorded: %s)",
				     name, id, detail, dw_error_last());
	}
	json_decref(list);
	dw_buf_release(&path);
}

static void watch_docker_container(struct daemon *dm, const char *id,
				   enum dw_rescan_source source)
{
	struct dw_container_layers l;
	struct dw_watch_spec s;
	int err = dw_docker_container_layers(dm->docker, &l, id);

	if (err && dw_docker_timed_out(dm->docker)) {
		stalled(dm, id, dw_error_last());
		return;
	}
	stalled_forget(dm, id);
	if (err) {
		/* Stopped or gone: nothing runs to watch. Unsupported, or
		 * its rootfs not found: never silent. */
		if (err == DW_EUNSUPPORTED || err == DW_EIO)
			unwatchable(dm, id, dw_error_last());
		else if (err != DW_ENOTFOUND && err != DW_ECONFLICT)
			dw_log_warn("cannot inspect container %.12s: %s", id,
				    dw_error_last());
		return;
	}
	if (l.running) {
		int jerr = 0;
		char jwhy[256] = "";

		s = (struct dw_watch_spec){l.id,
					   l.name,
					   l.image,
					   "docker",
					   l.upper,
					   l.lowers,
					   l.nlowers,
					   l.labels,
					   l.read_only,
					   *l.mounts ? l.mounts : NULL,
					   l.userxattr,
					   NULL,
					   0};

		/* Its log first: an opted-out container's log is still a
		 * place secrets leak to. */
		if (dm->logs && dm->pol.docker_logs)
			dw_logwatch_add_container(dm->logs, l.id, l.name,
						  l.log_path, l.log_local);
		if (dm->journal && dm->pol.docker_logs && l.log_journald &&
		    (jerr = dw_journal_add(dm->journal, l.id, l.name)))
			snprintf(jwhy, sizeof(jwhy), "%s", dw_error_last());
		if (!dw_monitor_add(dm->mon, &s, source))
			cover_docker_logs(dm, &l, jerr, jwhy);
	}
	dw_container_layers_release(&l);
}

/* This swarm's secrets into the store's history (when this host is a
 * manager): a rotation someone else made is seen here. */
static void note_swarm(struct daemon *dm)
{
	struct dw_swarm sw;

	dm->swarm_noted = (long long)time(NULL);
	if (!dm->docker || dw_swarm_read(dm->docker, &sw))
		return;
	dw_swarm_note(dm->store, &sw, "elsewhere");
	dw_swarm_release(&sw);
}

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
	note_swarm(dm);
	if (dm->mounts)
		read_mounts(dm);
	ids = dw_xcalloc(json_array_size(list) + 1, sizeof(char *));
	json_array_foreach(list, i, c)
	{
		const char *id = dw_json_path_str(c, "Id");
		ssize_t si;

		if (!id)
			continue;
		ids[n++] = dw_xstrdup(id);
		/* Wedged a moment ago: its own retry asks again. */
		si = stalled_find(dm, id);
		if (si >= 0 && dm->stalled[si].retry > (long long)time(NULL))
			continue;
		watch_docker_container(dm, id, DW_RESCAN_FULL);
	}
	dw_monitor_keep_only(dm->mon, 1, ids, n, "stopped");
	if (dm->logs)
		dw_logwatch_keep_containers(dm->logs, ids, n);
	if (dm->journal)
		dw_journal_keep(dm->journal, ids, n);
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
		/* Wedged until it stopped: its runtime-unresponsive record
		 * goes with it (it is not running to be watched). */
		if (stalled_find(dm, m->id) >= 0)
			dw_store_forget_coverage(dm->store, m->id);
		stalled_forget(dm, m->id);
		dw_monitor_drop(dm->mon, m->id, "stopped");
		if (dm->logs)
			dw_logwatch_remove_container(dm->logs, m->id);
		if (dm->journal)
			dw_journal_remove(dm->journal, m->id);
	} else if (!strcmp(m->action, "destroy")) {
		stalled_forget(dm, m->id);
		dw_monitor_drop(dm->mon, m->id, "removed");
		dw_store_set_container_state(dm->store, m->id, "removed");
		dw_store_forget_coverage(dm->store, m->id);
		dw_store_set_backlog(dm->store, m->id, NULL);
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
	if (dm->exec) {
		struct dwd_exec_stats xs;

		dwd_exec_stats(dm->exec, &xs);
		json_object_set_new(
			doc, "exec",
			json_pack(
				"{s:b, s:I, s:I, s:I, s:I, s:I, s:I, s:I, "
				"s:I, s:I}",
				"watching", 1, "marked", (json_int_t)xs.marked,
				"held", (json_int_t)xs.held, "drifted",
				(json_int_t)xs.drifted, "undecided",
				(json_int_t)xs.undecided, "denied",
				(json_int_t)xs.denied, "lost",
				(json_int_t)xs.lost + (json_int_t)xs.overflows,
				"hold_p50_us", (json_int_t)xs.hold_p50_us,
				"hold_p99_us", (json_int_t)xs.hold_p99_us,
				"hold_max_us", (json_int_t)xs.hold_max_us));
	} else {
		json_object_set_new(doc, "exec",
				    json_pack("{s:b, s:s}", "watching", 0,
					      "error", dm->exec_error));
	}
	json_object_set_new(doc, "writer", dwd_writer_status(dm));
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

/* The rules, as the daemon builds them (the scanner process builds its own). */
static int build_engine(struct dw_engine **e)
{
	return dw_engine_new(e, NULL);
}

/* The scanner process's rules: the same built-in ones. */
static int build_scanner_engine(struct dw_engine **e, int argc, char **argv)
{
	(void)argc;
	(void)argv;
	return build_engine(e);
}

static int load_config(struct daemon *dm, struct dw_policy *p,
		       struct dw_engine **engine)
{
	int err = dw_policy_load(p, dm->o->config, dm->o->config_given);

	if (err)
		return err;
	if (dm->o->interval)
		p->rescan_interval = dm->o->interval;
	*engine = NULL;
	if (p->scan_secrets && (err = build_engine(engine))) {
		dw_policy_release(p);
		return err;
	}
	return 0;
}

static void configure_logs(struct daemon *dm)
{
	if (dm->logs)
		dw_logwatch_set_sandbox(dm->logs, dw_monitor_sandbox(dm->mon));
	if (dm->logs)
		dw_logwatch_configure(dm->logs, dm->pol.logs, dm->pol.nlogs,
				      dm->pol.drops, dm->pol.ndrops, dm->engine,
				      dm->pol.max_file_size);
	follow_pod_logs(dm);
}

static void reload_config(struct daemon *dm)
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
	dwd_set_sinks(dm);
	dwd_outputs_restart(dm);
	dw_store_set_alert_limit(dm->store, dm->pol.alert_burst,
				 dm->pol.alert_rate);
	/* Snapshots turned on now: their worker (it keeps the settings it
	 * started with but the directory, which each snapshot is given). */
	if (!dm->snapq)
		dwd_snapq_start(dm);
	/* Labels may opt containers in or out now: list them again. */
	if (dm->docker && dm->docker_connected && docker_reconcile(dm))
		dw_log_warn("%s", dw_error_last());
	dw_monitor_rescan_all(dm->mon, DW_RESCAN_FULL);
	dw_log_info("sighup: configuration %s reloaded", dm->o->config);
}

/* SIGHUP; systemd hears of it (Type=notify). */
static void reload(struct daemon *dm)
{
	sd_notify(0, "RELOADING=1");
	reload_config(dm);
	malloc_trim(0); /* the old rules, and building the new ones */
	sd_notify(0, "READY=1\nSTATUS=monitoring");
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

/*
 * Sign the store's chain heads when they changed since the last
 * signature (driftwatch-verify(1)): the "chain-head" alert takes the
 * root off this host, where root here cannot re-sign it.
 */
static void sign_heads(struct daemon *dm)
{
	char host[256] = "";
	EVP_PKEY *k = NULL;
	int done = 0, err;

	if (!dm->pol.signing_key || !*dm->pol.signing_key)
		return;
	gethostname(host, sizeof(host) - 1);
	err = dw_sign_key_load(&k, dm->pol.signing_key, 1);
	if (!err)
		err = dw_store_sign_heads(dm->store, k, host, 0, &done);
	EVP_PKEY_free(k);
	if (!err)
		return;
	dw_log_error("the store's chain heads are not signed: %s",
		     dw_error_last());
	/* A head that is not its chain's last row: the store was written
	 * by someone else. Said where the alerts go, once a run. */
	if (err == DW_ERROR && !dm->chain_alerted) {
		char summary[700];
		json_t *p = json_pack("{s:s, s:s}", "severity", "critical",
				      "error", dw_error_last());

		snprintf(summary, sizeof(summary),
			 "driftwatchd on %s: the store's history was changed "
			 "outside driftwatch: %s",
			 host, dw_error_last());
		if (!dw_store_alert(dm->store, "store-tampered", summary, p))
			dm->chain_alerted = 1;
		json_decref(p);
	}
}

/*
 * The service's start and stop, as alerts (to every sink and output).
 * Whether the previous run stopped is in a file of its own next to the
 * store, STORE-running (retention cannot delete it): this run's pid and
 * start while it runs, flock()ed; emptied only when it stopped. A start
 * that finds it not empty, or cannot tell, says the previous run did not
 * stop (killed or crashed); one that finds it locked says another
 * driftwatchd runs on this store.
 */
static void note_start(struct daemon *dm)
{
	char host[256] = "", path[4200], summary[900], why[300] = "";
	int unclean = 0, other = 0;
	struct stat st;
	json_t *p;

	gethostname(host, sizeof(host) - 1);
	snprintf(path, sizeof(path), "%s-running", dm->db);
	dm->run_fd =
		open(path, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (dm->run_fd < 0 || fstat(dm->run_fd, &st) < 0) {
		unclean = 1;
		snprintf(why, sizeof(why),
			 "; cannot tell whether its "
			 "previous run stopped (%.200s: %s)",
			 path, strerror(errno));
	} else if (flock(dm->run_fd, LOCK_EX | LOCK_NB) < 0) {
		other = 1;
		snprintf(why, sizeof(why),
			 "; another driftwatchd runs on "
			 "this store (%.200s is locked): two daemons record "
			 "each change twice",
			 path);
	} else if (st.st_size > 0) {
		unclean = 1;
		snprintf(why, sizeof(why),
			 "; its previous run did not stop "
			 "(killed or crashed): what changed while it was "
			 "down was not seen as it happened");
	}
	if (dm->run_fd >= 0 && !other) {
		char mark[64];
		int n = snprintf(mark, sizeof(mark), "%d %lld\n", (int)getpid(),
				 dm->started);

		if (ftruncate(dm->run_fd, 0) < 0 ||
		    pwrite(dm->run_fd, mark, (size_t)n, 0) != n ||
		    fdatasync(dm->run_fd) < 0)
			dw_log_warn("%s: %s: a stop that does not finish will "
				    "not be seen",
				    path, strerror(errno));
	}
	if (*why)
		dw_log_warn("driftwatchd started%s", why);
	snprintf(summary, sizeof(summary), "driftwatchd %s started on %s%s",
		 DW_VERSION, host, why);
	p = json_pack("{s:s, s:s, s:s, s:I, s:b, s:b}", "severity",
		      unclean || other ? "medium" : "info", "host", host,
		      "version", DW_VERSION, "pid", (json_int_t)getpid(),
		      "previous_run_stopped", !unclean, "another_daemon",
		      other);
	if (dw_store_alert(dm->store, "daemon-started", summary, p))
		dw_log_warn("cannot record the start: %s", dw_error_last());
	json_decref(p);
}

/* The last thing before the outbox and the outputs stop: a stop that
 * hangs before it (and is killed) is not one. */
static void note_stop(struct daemon *dm)
{
	char host[256] = "", summary[600];
	long long up = (long long)time(NULL) - dm->started;
	json_t *p;

	gethostname(host, sizeof(host) - 1);
	snprintf(summary, sizeof(summary),
		 "driftwatchd %s stopped on %s after %lld s", DW_VERSION, host,
		 up);
	p = json_pack("{s:s, s:s, s:s, s:I, s:I}", "severity", "info", "host",
		      host, "version", DW_VERSION, "pid", (json_int_t)getpid(),
		      "uptime_s", (json_int_t)up);
	if (dw_store_alert(dm->store, "daemon-stopped", summary, p))
		dw_log_warn("cannot record the stop: %s", dw_error_last());
	json_decref(p);
	/* Stopped: the mark goes (its lock with the descriptor). */
	if (dm->run_fd >= 0 && !flock(dm->run_fd, LOCK_EX | LOCK_NB) &&
	    ftruncate(dm->run_fd, 0) == 0)
		fdatasync(dm->run_fd);
	if (dm->run_fd >= 0)
		close(dm->run_fd);
	dm->run_fd = -1;
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
	dw_monitor_unbudgeted(dm->mon);
	while ((next = dw_monitor_run(dm->mon)) == 0)
		;
	sign_heads(dm);
	dwd_deliver_alerts(dm);
	dwd_outputs_once(dm);
	write_status(dm, "stopped", 1);
	return err ? 3 : 0;
}

/* Containers Docker did not answer for: the most overdue asked again,
 * one a minute at most. */
static void retry_stalled(struct daemon *dm, long long now)
{
	char id[80];
	size_t i, k = 0;

	if (now < dm->stalled_next)
		return;
	for (i = 1; i < dm->nstalled; i++)
		if (dm->stalled[i].retry < dm->stalled[k].retry)
			k = i;
	if (dm->stalled[k].retry > now)
		return;
	dm->stalled_next = now + STALLED_RETRY_S;
	memcpy(id, dm->stalled[k].id, sizeof(id));
	watch_docker_container(dm, id, DW_RESCAN_FULL);
}

/*
 * Once a loop turn: summaries of rate-limited alerts, the heartbeat
 * (so that a silent host is seen centrally), and retention, hourly.
 */
static void housekeeping(struct daemon *dm, long long now)
{

	dw_store_alert_flush(dm->store, 0);
	if (dm->logs)
		dw_logwatch_tick(dm->logs);
	if (dm->exec)
		dwd_exec_read(dm); /* the minutes' summaries too */
	if (dm->metrics && now >= dm->next_metrics) {
		dwd_metrics_update(dm);
		dm->next_metrics = now + 2;
	}
	if (dm->exec && dm->pol.exec_sweep_interval > 0 &&
	    now >= dm->next_sweep) {
		dwd_exec_sweep(dm->exec);
		dm->next_sweep = now + dm->pol.exec_sweep_interval;
	}
	if (dm->nstalled && dm->docker_connected)
		retry_stalled(dm, now);
	if (dm->docker_connected && now - dm->swarm_noted >= 300)
		note_swarm(dm);
	if (!dm->pods_followed && dm->pol.pod_logs && *dm->pol.pod_logs &&
	    now - dm->pods_tried >= 60)
		follow_pod_logs(dm);
	if (dm->pol.heartbeat_interval > 0 && now >= dm->next_heartbeat) {
		char host[256] = "", summary[600];
		json_t *doc = dw_monitor_status(dm->mon), *p;

		gethostname(host, sizeof(host) - 1);
		snprintf(summary, sizeof(summary),
			 "driftwatchd on %s is running: %lld containers "
			 "watched, up %lld s",
			 host,
			 (long long)json_integer_value(
				 json_object_get(doc, "containers")),
			 now - dm->started);
		p = json_pack("{s:s, s:s, s:s, s:I, s:I, s:O, s:O}", "severity",
			      "info", "host", host, "version", DW_VERSION,
			      "started", (json_int_t)dm->started, "uptime_s",
			      (json_int_t)(now - dm->started), "containers",
			      json_object_get(doc, "containers")
				      ? json_object_get(doc, "containers")
				      : json_null(),
			      "scanner",
			      json_object_get(doc, "scanner")
				      ? json_object_get(doc, "scanner")
				      : json_null());
		if (dw_store_alert(dm->store, "heartbeat", summary, p))
			dw_log_warn("heartbeat: %s", dw_error_last());
		json_decref(p);
		json_decref(doc);
		dm->next_heartbeat = now + dm->pol.heartbeat_interval;
	}
	if (dm->pol.chain_sign_interval > 0 && now >= dm->next_chain_sign) {
		sign_heads(dm);
		dm->next_chain_sign = now + dm->pol.chain_sign_interval;
	}
	if (now >= dm->next_prune) {
		struct dw_prune pr;
		char host[256] = "";
		EVP_PKEY *k = NULL;
		int err;

		dm->next_prune = now + 3600;
		gethostname(host, sizeof(host) - 1);
		/* The chains' new bases are signed with the prune (a
		 * checkpoint): without the key, nothing is pruned. */
		if (dm->pol.signing_key && *dm->pol.signing_key &&
		    dw_sign_key_load(&k, dm->pol.signing_key, 1)) {
			dw_log_warn("retention: %s", dw_error_last());
			return;
		}
		err = dw_store_prune(dm->store,
				     (long long)dm->pol.retention_days * 86400,
				     dm->pol.retention_rows, k, host, &pr);
		EVP_PKEY_free(k);
		if (err) {
			dw_log_warn("retention: %s", dw_error_last());
			return;
		}
		if (pr.pruned)
			dw_log_info("retention: %lld old events, alerts and "
				    "findings deleted",
				    pr.pruned);
		/* A big prune goes on next turn, a chunk at a time. */
		if (pr.more)
			dm->next_prune = now;
		if (pr.undelivered) {
			char summary[300];
			json_t *p = json_pack("{s:s, s:I}", "severity", "high",
					      "undelivered",
					      (json_int_t)pr.undelivered);

			snprintf(summary, sizeof(summary),
				 "retention deleted %lld alert deliveries "
				 "that no sink had taken (older than "
				 "retention_days, or past retention_rows)",
				 pr.undelivered);
			dw_log_warn("%s", summary);
			if (dw_store_alert(dm->store, "retention", summary, p))
				dw_log_warn("%s", dw_error_last());
			json_decref(p);
		}
	}
}

static int run(struct daemon *dm, int sfd)
{
	long long next_delivery = 0, last_ping = 0, ping_ms = 0;
	uint64_t wd_usec = 0;

	/* Under systemd: ready now, and the watchdog pinged twice per
	 * WatchdogSec from the loop itself, so a stalled loop is killed
	 * and restarted. Elsewhere these do nothing. */
	if (sd_watchdog_enabled(0, &wd_usec) > 0 && wd_usec >= 2000)
		ping_ms = (long long)(wd_usec / 2000);
	sd_notify(0, "READY=1\nSTATUS=monitoring");

	for (;;) {
		struct pollfd p[6];
		nfds_t n = 0;
		long wait = dw_monitor_run(dm->mon);
		long long now = (long long)time(NULL);
		int i;

		/* Without a worker thread only: it never blocks this loop. */
		if (!dm->outbox && dm->nsinks && now >= next_delivery) {
			dwd_deliver_alerts(dm);
			next_delivery = now + 1;
		}
		dwd_writer_tick(dm); /* lost events: said in the status */
		write_status(dm, "running", 0);
		housekeeping(dm, now);
		if (ping_ms && dw_mono_ms() - last_ping >= ping_ms) {
			sd_notify(0, "WATCHDOG=1");
			last_ping = dw_mono_ms();
		}
		if (ping_ms && (wait < 0 || wait > ping_ms))
			wait = ping_ms;
		/* A backlog is read a piece a turn: no waiting meanwhile. */
		if (dm->logs && dw_logwatch_continue(dm->logs))
			wait = 0;
		/* journald containers: their new entries, each second. */
		if (dw_journal_count(dm->journal)) {
			if (dw_journal_read(dm->journal))
				wait = 0;
			else if (wait < 0 || wait > 1000)
				wait = 1000;
		}
		if (((!dm->outbox && dm->nsinks) || dm->status_pending) &&
		    (wait < 0 || wait > 1000))
			wait = 1000;
		/* Summaries of held-back alerts are due within 10 s. */
		if (wait < 0 || wait > 5000)
			wait = 5000;
		/* The metrics' text, rebuilt every 2 s. */
		if (dm->metrics && wait > 2000)
			wait = 2000;
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
		if (dm->exec)
			p[n++] = (struct pollfd){dwd_exec_fd(dm->exec), POLLIN,
						 0};
		if (poll(p, n, (int)wait) < 0 && errno != EINTR)
			dw_fatal("poll: %s", strerror(errno));
		for (i = 0; i < (int)n; i++) {
			if (!p[i].revents)
				continue;
			if (p[i].fd == sfd && read_signals(dm, sfd)) {
				sd_notify(0, "STOPPING=1");
				return 0;
			}
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
			else if (dm->exec && p[i].fd == dwd_exec_fd(dm->exec))
				dwd_exec_read(dm);
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
	int ret, sfd;
	size_t i;

	if (dw_sandbox_is_child(argc, argv))
		dw_sandbox_child_main(argc, argv, build_scanner_engine);
	ret = parse_args(&o, argc, argv);
	if (ret)
		return ret;
	if (o.done)
		return fflush(stdout) || ferror(stdout) ? 1 : 0;
	memset(&dm, 0, sizeof(dm));
	dm.o = &o;
	dm.run_fd = -1;
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
	dwd_set_sinks(&dm);
	dwd_outputs_register(&dm);
	dw_store_set_alert_limit(dm.store, dm.pol.alert_burst,
				 dm.pol.alert_rate);
	if (dw_store_alert_recover(dm.store) > 0)
		dw_log_warn("the last run stopped with alerts held back by the "
			    "rate limit and not summarised: summarised now");
	if (!o.once)
		note_start(&dm);
	/* The first heartbeat one interval after the start. */
	dm.next_heartbeat = (long long)time(NULL) + dm.pol.heartbeat_interval;
	if (dw_monitor_new(&dm.mon, dm.store, &dm.pol, dm.engine))
		dw_fatal("%s", dw_error_last());
	dw_monitor_on_critical(dm.mon, dwd_auto_snapshot, &dm);
	dw_monitor_on_leak(dm.mon, dwd_on_leak, &dm);
	dwd_exec_begin(&dm, o.once);
	dwd_writer_begin(&dm, o.once);
	if (dw_logwatch_new(&dm.logs, dm.store, dwd_on_leak, &dm))
		dw_fatal("%s", dw_error_last());
	dw_journal_new(&dm.journal, dm.store, dm.logs, dm.pol.host_root);
	if (!o.no_docker && dm.pol.docker) {
		if (dw_docker_open(&dm.docker, o.host))
			dw_fatal("%s", dw_error_last());
		/* The loop's requests: one container Docker cannot answer
		 * for stalls the loop this long, once a minute at most. */
		dw_docker_set_timeout(dm.docker, DWD_DOCKER_TIMEOUT_MS);
		dw_docker_set_host_root(dm.docker, dm.pol.host_root);
		/* A stopped containerd-store container's recorded layers
		 * (an auto-snapshot of one that just exited). */
		dw_docker_set_store(dm.docker, dm.store);
		if (!o.once && dw_dockerwatch_start(&dm.events, o.host))
			dw_fatal("%s", dw_error_last());
	}
	if (!o.no_mounts && dm.pol.mounts &&
	    dw_mounts_open(&dm.mounts, dm.pol.host_root,
			   dm.docker ? "/var/lib/docker" : NULL))
		dw_log_warn("overlay mounts are not followed: %s",
			    dw_error_last());
	if (dm.docker)
		docker_root(&dm);
	configure_logs(&dm);
	/* What building the rules and starting took and gave back. */
	malloc_trim(0);
	dw_log_info("driftwatchd %s started, store %s, config %s%s", DW_VERSION,
		    dm.db, o.config,
		    access(o.config, F_OK) ? " (absent: defaults)" : "");
	if (o.once) {
		ret = run_once(&dm);
	} else {
		if (dm.mounts)
			read_mounts(&dm);
		dwd_outbox_start(&dm);
		dwd_outputs_start(&dm);
		dwd_cmdq_start(&dm);
		dwd_snapq_start(&dm);
		if (dm.pol.metrics_listen && *dm.pol.metrics_listen) {
			if (dwd_metrics_start(&dm.metrics,
					      dm.pol.metrics_listen))
				dw_fatal("%s", dw_error_last());
			dw_log_info("metrics at %s/metrics",
				    dm.pol.metrics_listen);
		}
		ret = run(&dm, sfd);
		dwd_metrics_stop(dm.metrics);
		dm.metrics = NULL;
		/* The writer first: it asks the exec watch's clock. */
		dwd_writer_end(&dm);
		dwd_exec_end(&dm);
		dwd_snapq_stop(&dm);
		dw_store_alert_flush(dm.store, 1);
		sign_heads(&dm);
		write_status(&dm, "stopped", 1);
		note_stop(&dm);
		dwd_cmdq_stop(&dm);
		dwd_outbox_stop(&dm);
		dwd_outputs_stop(&dm, 1);
	}
	dw_dockerwatch_stop(dm.events);
	dw_journal_read(dm.journal);
	dw_journal_free(dm.journal);
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
	free(dm.stalled);
	free(dm.sinks);
	free(dm.last_status);
	dw_log_info("stopped");
	return ret;
}
