#ifndef DW_POLICY_H
#define DW_POLICY_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "driftwatch/severity.h"
#include "logwatch.h"

/*
 * driftwatchd's configuration (/etc/driftwatch/driftwatch.yaml) and the
 * drift policy it holds: which changes are allowed, how severe the rest
 * are, which containers are left alone. See the README for every key.
 */

struct dw_allow_rule {
	char *image; /* glob on the image name, or NULL: any */
	char *label; /* "key" or "key=value", or NULL: any */
	/* Globs on a Kubernetes container's pod namespace and pod name
	 * (its io.kubernetes.pod.* labels), or NULL: any. */
	char *k8s_namespace, *k8s_pod;
	char **paths; /* globs; "**" crosses '/' */
	size_t npaths;
	/* Globs on the exe of the process that made the change, which must
	 * be image content of the container; none: any process. */
	char **processes;
	size_t nprocesses;
};

/*
 * An output of every event (driftwatch.yaml's outputs): a JSON lines
 * file, rotated by size, or an OpenTelemetry (OTLP/HTTP) logs endpoint.
 */
enum { DW_OUTPUT_JSONL, DW_OUTPUT_OTLP, DW_OUTPUT_SYSLOG };
enum { DW_FSYNC_BATCH, DW_FSYNC_NONE };
/* Syslog transports: octet counting over TCP or TLS, or RELP over TCP
 * or TLS (each message answered by the receiver). */
enum { DW_SYSLOG_TCP, DW_SYSLOG_TLS, DW_SYSLOG_RELP, DW_SYSLOG_RELP_TLS };
#define DW_SYSLOG_IS_TLS(t) ((t) == DW_SYSLOG_TLS || (t) == DW_SYSLOG_RELP_TLS)
#define DW_SYSLOG_IS_RELP(t)                                                   \
	((t) == DW_SYSLOG_RELP || (t) == DW_SYSLOG_RELP_TLS)
struct dw_output_cfg {
	int type; /* DW_OUTPUT_* */
	/* jsonl: an absolute path; otlp: the endpoint URL; syslog:
	 * HOST:PORT or [V6]:PORT */
	char *path;
	char **headers; /* otlp: "Name: value" */
	size_t nheaders;
	int transport;	       /* syslog: DW_SYSLOG_* */
	char *ca, *cert, *key; /* syslog over TLS: PEM files */
	int facility;	       /* syslog: 0 to 23 */
	char *sd_id;	       /* syslog: NAME@PEN */
	uint64_t max_size;     /* rotated when it passes this; 0: never */
	long keep;	       /* rotated files kept (PATH.1 ... PATH.keep) */
	int fsync;	       /* DW_FSYNC_* */
	long mode;	       /* of a file it creates */
	/* A container's drift changes past this many a minute (below
	 * high severity) go as one summary a batch; 0: every one. */
	long summarise;
};

struct dw_policy {
	char *db;
	char *docker_host;
	char *host_root;	/* "/" unless the host is seen elsewhere */
	int docker;		/* discover Docker's containers */
	int mounts;		/* discover other overlay mounts */
	long debounce_ms;	/* quiet time before a rescan */
	long max_delay_ms;	/* longest a dirty container waits */
	long rescan_budget_ms;	/* analysis a rescan does in one turn */
	long rescan_interval;	/* seconds between safety rescans; 0 off */
	long poll_interval;	/* seconds, for containers without watches */
	uint64_t max_file_size; /* files analysed (hash, ELF, secrets) */
	int scan_secrets;
	int raise_watch_limit;
	long max_watch_limit; /* never raise the host's limit beyond this */
	long watch_budget;    /* inotify watches one container may hold */
	char *ignore_label;   /* "key" or "key=value" */
	char *immutable_label;
	char **high_paths;
	size_t nhigh;
	struct dw_allow_rule *allow;
	size_t nallow;
	struct dw_allow_rule *allow_exec; /* allow_executables */
	size_t nallow_exec;
	/* immutable: containers these select ({image, label, namespace,
	 * pod}, no paths) are immutable, as with immutable_label. */
	struct dw_allow_rule *immutable;
	size_t nimmutable;
	int snapshot_on_critical;
	long snapshot_interval;	  /* seconds between two per container */
	long alert_burst;	  /* alerts of a kind about a subject at once */
	long alert_rate;	  /* ... and per minute after that */
	long heartbeat_interval;  /* seconds; 0: none */
	long chain_sign_interval; /* seconds; 0: after retention, at exit */
	long outbox_max;	  /* undelivered alerts kept per sink; 0: all */
	long retention_days;	  /* events, alerts, findings; 0: forever */
	long retention_rows;	  /* the newest kept of each; 0: no cap */
	char *snapshot_dir;
	char *signing_key; /* "": snapshots unsigned */
	char **webhooks;   /* "json:URL" / "slack:URL" */
	size_t nwebhooks;
	int rotate;  /* DW_ROTATE_* */
	char **logs; /* globs of log files to follow */
	size_t nlogs;
	int docker_logs; /* follow containers' json-file logs */
	char *pod_logs;	 /* Kubernetes' pod log dir ("": not followed) */
	int ignore_runtime_mounts; /* runtime-made mount point dirs */
	struct dw_drop_dir *drops;
	size_t ndrops;
	char **command; /* argv run for other leaked tokens, or NULL */
	size_t ncommand;
	int exec;		  /* DW_EXEC_*: drifted binaries executed */
	int exec_immutable;	  /* ... in immutable containers */
	long exec_sweep_interval; /* seconds between sweeps of /proc; 0 off */
	int writer_attribution;	  /* who made each change (fanotify) */
	char *metrics_listen;	  /* "": no /metrics endpoint */
	struct dw_output_cfg *outputs;
	size_t noutputs;
};

enum { DW_EXEC_OFF, DW_EXEC_AUDIT, DW_EXEC_ENFORCE };
/* "off", "audit", "enforce". */
const char *dw_policy_exec_name(int exec);

enum { DW_ROTATE_OFF, DW_ROTATE_ASK, DW_ROTATE_AUTO };
/* "off", "ask", "auto". */
const char *dw_policy_rotate_name(int rotate);

/* Every key with its type, range, default and help, for --config-keys. */
void dw_policy_print_keys(FILE *f);

/* The defaults alone. */
void dw_policy_defaults(struct dw_policy *p);
/*
 * Defaults, then the file at `path`. A missing file is an error only when
 * `must_exist`. DW_EINVAL names the file, line and key of a bad value;
 * `p` is left released then.
 */
int dw_policy_load(struct dw_policy *p, const char *path, int must_exist);
void dw_policy_release(struct dw_policy *p);

/* Is a container of this image and labels immutable (immutable_label,
 * or an immutable rule selects it)? */
int dw_policy_immutable(const struct dw_policy *p, const char *image,
			const json_t *labels);

/* Does "key" or "key=value" `sel` match `labels` (a JSON object)? */
int dw_policy_label_matches(const char *sel, const json_t *labels);

/*
 * The severity of a change. A new or changed executable or ELF file is
 * critical unless an allow_executables rule (image and path) allows it;
 * no other rule lowers it. Anything else: allowed (an allow rule that
 * fits the image and labels matches the path), critical (an immutable
 * container), high (under high_paths) or medium.
 */
enum dw_severity dw_policy_severity(const struct dw_policy *p,
				    const char *image, const json_t *labels,
				    int immutable, const char *path, char kind,
				    int exec_or_elf);

/* Does an allow rule name processes (is the writer worth looking at)? */
int dw_policy_names_processes(const struct dw_policy *p);

/*
 * The same, knowing who made the change: `writer_exe` is the exe of the
 * process that did (as the container sees it), when that file is image
 * content of the container, else NULL. A rule with `process` matches
 * only such a writer.
 */
enum dw_severity dw_policy_severity_by(const struct dw_policy *p,
				       const char *image, const json_t *labels,
				       int immutable, const char *path,
				       char kind, int exec_or_elf,
				       const char *writer_exe);

#endif
