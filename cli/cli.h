#ifndef DW_CLI_H
#define DW_CLI_H

/*
 * Every exit status of every command (driftwatch(1) lists them). main()
 * never lets anything else out: a status outside 0..3 is a bug and exits
 * DW_EXIT_ERROR, and so does a command whose output could not be written.
 */
enum dw_exit {
	DW_EXIT_OK = 0,
	DW_EXIT_ERROR = 1,    /* the command could not do its work */
	DW_EXIT_FOUND = 1,    /* scan, hook: secrets found; verify: tampered */
	DW_EXIT_USAGE = 2,    /* bad options, arguments or configuration */
	DW_EXIT_NOTFOUND = 3, /* container not found / daemon unreachable */
	DW_EXIT_UNREADABLE = 3, /* scan: an input could not be read */
	DW_EXIT_MAX = 3,
};

/* Global options, parsed before the command name. */
struct dw_cli {
	const char *host;      /* --host, or NULL for $DOCKER_HOST */
	const char *host_root; /* --host-root, or NULL: "/" */
};

/* Each command: argv[0] is the command name; returns an exit code. */
int cmd_commit(struct dw_cli *cli, int argc, char **argv);
int cmd_diff(struct dw_cli *cli, int argc, char **argv);
int cmd_events(struct dw_cli *cli, int argc, char **argv);
/* A time as --since takes it: "1700000000", "2026-11-22",
 * "2026-11-22T10:00:00Z", or "15m", "2h", "7d" ago: epoch seconds, 0; or
 * -1. */
int dw_cli_parse_time(long long *out, const char *s);
int cmd_allow(struct dw_cli *cli, int argc, char **argv);
int cmd_hook(struct dw_cli *cli, int argc, char **argv);
int cmd_evidence(struct dw_cli *cli, int argc, char **argv);
/* A name a container chose as one Sleuth Kit bodyfile field ('|', '\\',
 * '%' and control bytes as \\xNN: no name can end its row or forge
 * another). */
struct dw_buf;
void dw_cli_bodyfile_field(struct dw_buf *out, const char *s);
int cmd_key(struct dw_cli *cli, int argc, char **argv);
/* The snapshot signing key: $DRIFTWATCH_SIGNING_KEY, else
 * DW_SIGNING_KEY_DEFAULT (sign.h). */
const char *dw_cli_signing_key(void);
/* Sign the store's chain heads with the key at `key` (NULL: that one)
 * when it exists and they changed (a warning for `cmd` if it cannot). */
struct dw_store;
void dw_cli_sign_heads(struct dw_store *s, const char *key, const char *cmd);
int cmd_ps(struct dw_cli *cli, int argc, char **argv);
int cmd_rotate(struct dw_cli *cli, int argc, char **argv);
int cmd_rules(struct dw_cli *cli, int argc, char **argv);
/*
 * The user's own scan configuration, $XDG_CONFIG_HOME/driftwatch/
 * config.yaml (else ~/.config/...), in `*out` (caller frees), or NULL
 * when there is none; DW_EINVAL when it is not the user's alone.
 */
int dw_cli_user_config(char **out);
int cmd_scan(struct dw_cli *cli, int argc, char **argv);
/* The scanner process's rules, as `scan` made them (sandbox.h). */
struct dw_engine;
int cmd_scan_scanner_build(struct dw_engine **e, int argc, char **argv);
int cmd_status(struct dw_cli *cli, int argc, char **argv);
int cmd_verify(struct dw_cli *cli, int argc, char **argv);
int cmd_version(struct dw_cli *cli, int argc, char **argv);

/* Print "driftwatch CMD: message" to stderr; returns `code`. */
int dw_cli_fail(const char *cmd, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/*
 * The per-user cache dir for compiled prefilters (caller frees), or NULL:
 * $DW_CACHE_DIR, else $XDG_CACHE_HOME/driftwatch, else ~/.cache/driftwatch.
 */
char *dw_cli_cache_dir(void);

/* `p` made absolute against the working directory (it may not exist;
 * left as it is when that cannot be had). The caller frees. */
char *dw_cli_absolute(const char *p);

/*
 * Connect to Docker (`host`, else cli->host) for a container's layers:
 * paths under cli->host_root, and driftwatchd's store at `db` opened
 * read-only when it is there (stopped containers on the containerd image
 * store). Free with dw_cli_docker_close(). Errors are printed for `cmd`.
 */
struct dw_docker;
int dw_cli_docker(struct dw_cli *cli, const char *cmd, const char *host,
		  const char *db, struct dw_docker **out);
void dw_cli_docker_close(struct dw_docker *d);
/* Say on stderr that `l` are the layers driftwatchd recorded. */
struct dw_container_layers;
void dw_cli_note_recorded(const char *cmd, const struct dw_container_layers *l);

/* Rotate a swarm secret, print and record it (shared by rotate, scan). */
int dw_cli_rotate(struct dw_docker *d, int what, int dry_run, const char *db,
		  const char *reason);

/*
 * Run as docker-driftwatch (Docker's CLI plugin): the metadata, or
 * Docker's global options read and the endpoint they name set as
 * cli->host, argv left at "driftwatch COMMAND ...". Returns an exit
 * status to end with, or -1 to go on (also when not run as the plugin).
 */
int dw_cli_plugin(int *argc, char ***argv, struct dw_cli *cli);

/* Map a library error code to an exit code. */
int dw_cli_exit_for(int err);

#endif
