#ifndef DW_DAEMON_H
#define DW_DAEMON_H

/*
 * driftwatchd's own state, shared by its parts:
 *   main.c     options, discovery (Docker, mounts), status, the loop
 *   alerts.c   delivering the alert outbox to webhooks and Slack
 *   outputs.c  every event to the outputs (JSON lines files, OTLP,
 *              syslog; in ECS: ecs.c), each from its cursor over the
 *              store
 *   respond.c  automatic snapshots and the response to leaked secrets
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
#include "driftwatch/overlay_diff.h"
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
#include "execwatch.h"
#include "writerwatch.h"
#include "logwatch.h"
#include "monitor.h"
#include "mounts.h"
#include "policy.h"

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
	int run_fd; /* STORE-running: this run's mark (note_start()) */
	struct dw_policy pol;
	struct dw_engine *engine;
	struct dw_store *store;
	struct dw_monitor *mon;
	struct dw_docker *docker; /* requests from the main thread */
	struct dw_dockerwatch *events;
	struct dw_mounts *mounts;
	struct dw_logwatch *logs;
	struct dw_journal *journal; /* containers on the journald driver */
	int pods_followed;	    /* Kubernetes' pod logs (pod_logs) */
	long long pods_tried;	    /* time(NULL) of the last look for them */
	const char *db;
	char **sinks; /* options' and the config's */
	size_t nsinks;
	int docker_connected;
	char docker_error[512];
	long long started;
	long long next_heartbeat, next_prune; /* time(NULL) */
	long long next_chain_sign;
	int chain_alerted; /* store-tampered said this run */
	char *last_status;
	long long status_written;
	int status_pending;
	struct dwd_outbox *outbox;	/* the delivery worker, or NULL */
	struct dwd_outputs *outputs;	/* the outputs' threads, or NULL */
	struct dwd_jobq *cmdq;		/* the command worker, or NULL */
	unsigned long long cmd_dropped; /* commands its full queue refused */
	struct dwd_jobq *snapq;		/* the snapshot worker, or NULL */
	struct snap_ctx *snap_ctx;	/* its settings and connections */
	/* Docker containers whose inspect had no answer in time: not
	 * asked again before `retry` (time(NULL)), so one wedged container
	 * does not stall every pass of the loop. */
	struct dwd_stalled {
		char id[80];
		long long retry;
		int tries; /* asked again this often: backs off */
	} * stalled;
	size_t nstalled, stalled_alloc;
	long long stalled_next; /* no retry of any before (time(NULL)) */
	long long swarm_noted;	/* this swarm's secrets last noted */
	char **snapshotted;	/* containers auto-snapshotted this run */
	size_t nsnapshotted, snap_alloc;
	struct dwd_exec *exec;	      /* the exec watch, or NULL */
	char exec_error[256];	      /* why there is none */
	unsigned long long exec_lost; /* reports lost, said */
	long long next_sweep;
	struct dwd_writer *writer;   /* writer attribution, or NULL */
	char writer_error[256];	     /* why there is none */
	struct dwd_metrics *metrics; /* the /metrics endpoint, or NULL */
	long long next_metrics; /* time(NULL) */ /* of /proc (time(NULL)) */
};

/* How long a Docker request from the loop may wait (ms). */
#define DWD_DOCKER_TIMEOUT_MS 10000L

void dwd_deliver_alerts(struct daemon *dm);
/* The delivery worker thread: started after dwd_set_sinks(), stopped
 * before the store is closed. */
void dwd_outbox_start(struct daemon *dm);
void dwd_outbox_stop(struct daemon *dm);
/*
 * The outputs of every event (outputs.c): their cursors made before
 * anything is recorded (register), a thread each (start, stop; restart
 * after a reload), or all written from the calling thread (--once).
 */
void dwd_outputs_register(struct daemon *dm);
void dwd_outputs_start(struct daemon *dm);
/* `drain`: what is due is written first, for a few seconds at most. */
void dwd_outputs_stop(struct daemon *dm, int drain);
void dwd_outputs_restart(struct daemon *dm);
void dwd_outputs_once(struct daemon *dm);
struct dwd_output_stats {
	const char *path; /* a file's path, an endpoint's origin */
	unsigned long long written, dropped, errors, rotated, rejected;
	unsigned long long resent;     /* syslog: rows sent again */
	unsigned long long summarised; /* rows sent as summaries */
	long long pending;
};
typedef int (*dwd_output_fn)(const struct dwd_output_stats *s, void *ctx);
int dwd_outputs_each(struct daemon *dm, dwd_output_fn cb, void *ctx);
/* The leak command's worker thread and its queue (takes `text`). */
void dwd_cmdq_start(struct daemon *dm);
/* Automatic snapshots off the monitoring loop (snapshot_on_critical). */
void dwd_snapq_start(struct daemon *dm);
void dwd_snapq_stop(struct daemon *dm);
void dwd_cmdq_stop(struct daemon *dm);
void dwd_cmdq_push(struct daemon *dm, char *text, const char *label);
void dwd_set_sinks(struct daemon *dm);
void dwd_auto_snapshot(const char *id, const char *name, void *ctx);
void dwd_on_leak(const struct dw_finding *f, const struct dw_leak_src *src,
		 void *ctx);
int dwd_run(struct daemon *dm, int sfd);
/* The exec watch (execwatch.h): started before containers are added (or
 * its absence said, `once`: a single pass watches no exec), its reports
 * recorded and alerted by the loop, stopped before the store closes. */
void dwd_exec_begin(struct daemon *dm, int once);
void dwd_exec_read(struct daemon *dm);
void dwd_exec_end(struct daemon *dm);
/* Writer attribution (writerwatch.h): started with the exec watch, each
 * container marked by the same hook (`add`), checked each loop turn
 * (lost events: coverage degraded), stopped before the store closes. */
void dwd_writer_begin(struct daemon *dm, int once);
void dwd_writer_subject(struct daemon *dm, const struct dw_exec_subject *s,
			int add);
void dwd_writer_tick(struct daemon *dm);
void dwd_writer_end(struct daemon *dm);
json_t *dwd_writer_status(struct daemon *dm);
/* Member `key` of `o` (a string a container chose), redacted by the
 * monitor's secret rules and made valid UTF-8. */
void dwd_redact_field(struct dw_monitor *m, json_t *o, const char *key);
/* The /metrics endpoint (metrics.c): started when metrics_listen is set,
 * its text rebuilt by the loop every few seconds. */
struct dwd_metrics;
int dwd_metrics_start(struct dwd_metrics **out, const char *spec);
void dwd_metrics_stop(struct dwd_metrics *m);
void dwd_metrics_update(struct daemon *dm);

#endif
