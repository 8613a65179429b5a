/* driftwatchd: the response to what the monitor and the log follower find: an
 * automatic snapshot on a container first critical drift; a leaked secret
 * recorded once, attributed, alerted, rotated as the policy says. */

#include "daemon.h"
#include "jobq.h"

#include "driftwatch/banned.h"

/* ---- the first critical drift of a container: a forensic snapshot ---- */

/*
 * Take it (in the snapshot worker, with its own Docker client and store
 * connection, or in the loop under --once): pause, archive, evidence,
 * record, alert.
 */
/*
 * Docker's containers through the Engine API; another runtime's
 * ("mount:…" ids) from its overlay mount, its cgroup frozen.
 */
static int snapshot_one(struct dw_docker *docker, const char *host_root,
			const char *id, const char *name,
			const struct dw_snapshot_opts *so,
			struct dw_snapshot_result *r)
{
	struct dw_mount *list = NULL;
	size_t n = 0, hit = 0;
	int err;

	if (strncmp(id, "mount:", 6))
		return docker ? dw_snapshot_container(docker, id, so, r)
			      : dw_error_set(DW_EUNREACHABLE,
					     "no Docker connection");
	err = dw_mounts_find(host_root, id, &list, &n, &hit);
	if (!err)
		err = dw_snapshot_mount(host_root, &list[hit], name, so, r);
	dw_mounts_free_list(list, n);
	return err;
}

static void take_snapshot(struct dw_docker *docker, const char *host_root,
			  struct dw_store *store, const char *id,
			  const char *name, const char *dir, const char *key)
{
	char file[256];
	size_t i;
	struct dw_snapshot_opts so;
	struct dw_snapshot_result r;
	struct dw_snapshot_record rec;
	struct dw_buf path = DW_BUF_INIT;
	char host[256] = "", stamp[32];
	time_t now = time(NULL);
	struct tm tm;
	char *tag = NULL;

	if (mkdir(dir, 0700) < 0 && errno != EEXIST) {
		dw_log_error("cannot create %s: %s", dir, strerror(errno));
		return;
	}
	gmtime_r(&now, &tm);
	strftime(stamp, sizeof(stamp), "%Y%m%dT%H%M%SZ", &tm);
	/* NS/POD/CONTAINER: one file name. */
	snprintf(file, sizeof(file), "%s", name);
	for (i = 0; file[i]; i++)
		if (file[i] == '/')
			file[i] = '_';
	dw_buf_addf(&path, "%s/%s-%s.tar", dir, file, stamp);
	memset(&so, 0, sizeof(so));
	so.out_path = path.ptr;
	so.reason = "driftwatchd: first critical drift";
	so.signing_key = key && *key ? key : NULL;
	tag = dw_snapshot_default_tag(file, stamp);
	so.tag = tag;
	dw_log_warn("container %s: critical drift, taking a snapshot to %s",
		    name, path.ptr);
	if (snapshot_one(docker, host_root, id, name, &so, &r)) {
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
					  r.paused,
					  r.statement_path ? r.statement_sha256
							   : NULL};
	if (dw_store_record_snapshot(store, &rec))
		dw_log_warn("%s", dw_error_last());
	else
		dw_log_info("snapshot of %s: %s (%s)", name, path.ptr,
			    r.archive_sha256);
	if (r.statement_path)
		dw_log_info("snapshot of %s signed: %s (key %s)", name,
			    r.statement_path, r.keyid);
	if (r.sign_error[0])
		dw_log_error("snapshot of %s is not signed: %s", name,
			     r.sign_error);
	free(r.statement_path);
	if (r.truncated)
		dw_log_warn("snapshot of %s is incomplete: %zu directories "
			    "nested too deep to enter, the first at /%s",
			    name, r.truncated, r.truncated_at);
	free(r.truncated_at);
	free(r.evidence_path);
out:
	dw_buf_release(&path);
	free(tag);
}

/*
 * The snapshot worker: a snapshot pauses a container and reads its whole
 * upper dir; in the loop, one container's critical drift would hold up
 * the monitoring of every other (minutes, for a large one). Jobs wait in
 * a queue of SNAPQ_MAX; a full queue is said, the snapshot not taken.
 */
#define SNAPQ_MAX 16

struct snap_job {
	char *id, *name, *dir, *key;
};

/* The worker's settings and its own connections. */
struct snap_ctx {
	char *db, *host, *host_root;
	long burst, rate;
	struct dw_store *st;
	struct dw_docker *d;
};

static void snap_release(void *job)
{
	struct snap_job *j = job;

	free(j->id);
	free(j->name);
	free(j->dir);
	free(j->key);
	free(j);
}

/* The worker's own connections, made when a job comes (again, after a
 * failure): 0, or the error said for that job. */
static int snap_connect(struct snap_ctx *c)
{
	if (c->st && c->d)
		return 0;
	if ((!c->st && dw_store_open(&c->st, c->db, 0)) ||
	    (!c->d && dw_docker_open(&c->d, c->host)))
		return DW_ERROR;
	dw_docker_set_host_root(c->d, c->host_root);
	dw_docker_set_store(c->d, c->st);
	dw_store_set_alert_limit(c->st, c->burst, c->rate);
	return 0;
}

static void snap_run(void *ctx, void *job, const int *stop)
{
	struct snap_ctx *c = ctx;
	struct snap_job *j = job;

	(void)stop; /* a snapshot under way is finished: it has bounds */
	if (snap_connect(c)) {
		dw_log_error("no snapshot of %s: the snapshot worker has no "
			     "connection: %s",
			     j->name, dw_error_last());
		return;
	}
	take_snapshot(c->d, c->host_root, c->st, j->id, j->name, j->dir,
		      j->key);
	dw_store_alert_flush(c->st, 1);
}

static void snap_left(void *ctx, void *job)
{
	(void)ctx;
	dw_log_warn("stopping: the snapshot of %s was not taken",
		    ((struct snap_job *)job)->name);
}

static void snap_done(void *ctx)
{
	struct snap_ctx *c = ctx;

	dw_docker_free(c->d);
	dw_store_close(c->st);
	c->d = NULL;
	c->st = NULL;
}

static void snap_ctx_free(struct snap_ctx *c)
{
	free(c->db);
	free(c->host);
	free(c->host_root);
	free(c);
}

void dwd_snapq_start(struct daemon *dm)
{
	static const struct dwd_jobq_ops ops = {snap_run, snap_release,
						snap_left, snap_done};
	struct snap_ctx *c;

	if (!dm->pol.snapshot_on_critical)
		return;
	c = dw_xcalloc(1, sizeof(*c));
	c->db = dw_xstrdup(dm->db);
	c->host = dm->o->host ? dw_xstrdup(dm->o->host) : NULL;
	c->host_root = dm->pol.host_root ? dw_xstrdup(dm->pol.host_root) : NULL;
	c->burst = dm->pol.alert_burst;
	c->rate = dm->pol.alert_rate;
	dm->snapq = dwd_jobq_start(SNAPQ_MAX, &ops, c);
	if (!dm->snapq) {
		dw_log_error("cannot start the snapshot thread: snapshots are "
			     "taken in the monitoring loop");
		snap_ctx_free(c);
		return;
	}
	dm->snap_ctx = c;
}

/* Stop: the snapshot being taken is finished (it has its own bounds);
 * those still queued are not taken, and said. */
void dwd_snapq_stop(struct daemon *dm)
{
	dwd_jobq_stop(dm->snapq);
	dm->snapq = NULL;
	if (dm->snap_ctx)
		snap_ctx_free(dm->snap_ctx);
	dm->snap_ctx = NULL;
}

static void snapq_push(struct dwd_jobq *q, const char *id, const char *name,
		       const char *dir, const char *key)
{
	struct snap_job *j = dw_xcalloc(1, sizeof(*j));

	j->key = dw_xstrdup(key ? key : "");
	j->id = dw_xstrdup(id);
	j->name = dw_xstrdup(name);
	j->dir = dw_xstrdup(dir);
	if (dwd_jobq_push(q, j)) {
		dw_log_error("the snapshot queue is full (%d waiting): no "
			     "snapshot of %s",
			     SNAPQ_MAX, name);
		snap_release(j);
	}
}

void dwd_auto_snapshot(const char *id, const char *name, void *ctx)
{
	struct daemon *dm = ctx;
	time_t now = time(NULL);
	size_t i;

	if (!dm->pol.snapshot_on_critical)
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
	if (dm->snapq)
		snapq_push(dm->snapq, id, name, dm->pol.snapshot_dir,
			   dm->pol.signing_key);
	else
		take_snapshot(dm->docker, dm->pol.host_root, dm->store, id,
			      name, dm->pol.snapshot_dir, dm->pol.signing_key);
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
	/* A rotation may take longer than the loop's 10 s questions. */
	dw_docker_set_timeout(dm->docker, 120000L);
	err = dw_leak_rotate(dm->docker, dm->store, what, 0, reason, &rot);
	dw_docker_set_timeout(dm->docker, DWD_DOCKER_TIMEOUT_MS);
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
	char label[600];

	snprintf(label, sizeof(label), "the %s in %s", f->rule->id, path);
	/* In the worker thread: the program may take its whole timeout. */
	if (dm->cmdq) {
		json_t *doc = dw_leak_command_doc(f, src);
		char *text =
			json_dumps(doc, JSON_COMPACT | JSON_PRESERVE_ORDER);

		json_decref(doc);
		if (text)
			dwd_cmdq_push(dm, text, label);
		else
			dw_log_warn("cannot encode %s for the command", label);
		return;
	}
	if (dw_leak_run_command(dm->pol.command, 0, f, src))
		dw_log_warn("the command for %s failed: %s", label,
			    dw_error_last());
	else
		dw_log_info("ran %s for %s", dm->pol.command[0], label);
}

/*
 * The command worker: findings wait in a bounded queue (the secret in
 * clear, in memory only) and one thread runs the program for each, so a
 * program that takes its whole timeout never holds up monitoring. A full
 * queue is said, never silent.
 */
#define CMDQ_MAX 64

struct cmd_job {
	char *text;  /* the JSON document, secret in clear */
	char *label; /* "the RULE in PATH" */
	char **argv; /* the command when it was queued */
};

static void cmd_release(void *job)
{
	struct cmd_job *j = job;
	size_t i;

	if (j->text)
		explicit_bzero(j->text, strlen(j->text));
	free(j->text);
	free(j->label);
	for (i = 0; j->argv && j->argv[i]; i++)
		free(j->argv[i]);
	free(j->argv);
	free(j);
}

/* The program is killed with its group when the daemon stops (`stop`). */
static void cmd_run(void *ctx, void *job, const int *stop)
{
	struct cmd_job *j = job;

	(void)ctx;
	if (dw_run_command_cancel(j->argv, j->text, strlen(j->text),
				  DW_LEAK_COMMAND_TIMEOUT_S, stop))
		dw_log_warn("the command for %s failed: %s", j->label,
			    dw_error_last());
	else
		dw_log_info("ran %s for %s", j->argv[0], j->label);
}

void dwd_cmdq_push(struct daemon *dm, char *text, const char *label)
{
	struct cmd_job *j = dw_xcalloc(1, sizeof(*j));
	size_t i;

	j->text = text;
	j->label = dw_xstrdup(label);
	j->argv = dw_xcalloc(dm->pol.ncommand + 1, sizeof(char *));
	for (i = 0; i < dm->pol.ncommand; i++)
		j->argv[i] = dw_xstrdup(dm->pol.command[i]);
	if (dwd_jobq_push(dm->cmdq, j)) {
		dm->cmd_dropped++;
		dw_log_error("the command queue is full (%d waiting): the "
			     "command was not run for %s (%llu not run so "
			     "far)",
			     CMDQ_MAX, label, dm->cmd_dropped);
		cmd_release(j);
	}
}

void dwd_cmdq_start(struct daemon *dm)
{
	static const struct dwd_jobq_ops ops = {cmd_run, cmd_release, NULL,
						NULL};

	dm->cmdq = dwd_jobq_start(CMDQ_MAX, &ops, NULL);
	if (!dm->cmdq)
		dw_log_error("cannot start the command thread: commands run "
			     "in the monitoring loop");
}

/* Stop: the program running now is killed with its group; what is still
 * queued is not run, and said. */
void dwd_cmdq_stop(struct daemon *dm)
{
	size_t left = dwd_jobq_stop(dm->cmdq);

	if (left)
		dw_log_warn("stopping: the command was not run for %zu "
			    "queued finding%s",
			    left, left == 1 ? "" : "s");
	dm->cmdq = NULL;
}

void dwd_on_leak(const struct dw_finding *f, const struct dw_leak_src *src,
		 void *ctx)
{
	struct daemon *dm = ctx;
	struct dw_finding_record rec;
	struct dw_buf red = DW_BUF_INIT, path = DW_BUF_INIT;
	struct dw_swarm sw;
	json_t *attr = NULL, *p;
	char summary[1200], where[900], attributed[80] = "";
	int have_swarm = 0, is_new = 0, own = 0, err;

	memset(&rec, 0, sizeof(rec));
	rec.source_id = src->source_id;
	rec.path = src->path;
	rec.path_len = src->path_len;
	rec.fingerprint = f->fingerprint;
	rec.once_per_source = src->once_per_source;
	/* A secret seen before costs one lookup, not a word with Docker. */
	if (dw_store_finding_known(dm->store, &rec))
		return;
	dw_engine_redact(dm->engine, f->rule_index, f->secret, f->secret_len,
			 &red);
	{
		/* A path can carry a secret too (a file named by a token). */
		struct dw_buf rp = DW_BUF_INIT;

		dw_monitor_redact_text(dm->mon, src->path, src->path_len, f,
				       &rp);
		dw_utf8_sanitize(&path, rp.ptr ? rp.ptr : "", rp.len);
		dw_buf_release(&rp);
	}
	if (f->secret && dw_swarm_rule(f->rule->id) && dm->docker &&
	    !dw_swarm_read(dm->docker, &sw)) {
		have_swarm = 1;
		attr = dw_swarm_attribute(&sw, f->rule->id, f->secret,
					  f->secret_len);
		dw_swarm_history(dm->store, attr, f->fingerprint);
	}
	rec.source = src->source;
	rec.rule = f->rule->id;
	rec.severity = dw_severity_name(f->rule->severity);
	rec.redacted = red.ptr ? red.ptr : "";
	rec.line = f->line;
	rec.cluster = json_string_value(json_object_get(attr, "cluster"));
	rec.role = json_string_value(json_object_get(attr, "role"));
	rec.status = json_string_value(json_object_get(attr, "status"));
	rec.valid_from = (long long)json_integer_value(
		json_object_get(attr, "valid_from"));
	rec.valid_until = (long long)json_integer_value(
		json_object_get(attr, "valid_until"));
	rec.rotated_by = json_string_value(json_object_get(attr, "rotated_by"));
	/* The finding and its alert (or its count, held back by the rate
	 * limit) in one transaction: killed between the two, a finding
	 * would be stored that no alert or summary ever tells of. */
	if (dw_store_tx_enter(dm->store, &own)) {
		dw_log_warn("%s", dw_error_last());
		own = 0; /* each in a transaction of its own, then */
	}
	err = dw_store_add_finding(dm->store, &rec, &is_new);
	if (err)
		dw_log_warn("%s", dw_error_last());
	if (!is_new) {
		dw_store_tx_leave(dm->store, own, err);
		goto out;
	}
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
	if (f->unverified)
		json_object_set_new(p, "verified", json_false());
	/* An alert that cannot be stored (a full disk) leaves the finding
	 * stored all the same, and said: its text is not read again. */
	if (dw_store_alert(dm->store, "leak", summary, p))
		dw_log_warn("%s", dw_error_last());
	if (dw_store_tx_leave(dm->store, own, 0))
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
