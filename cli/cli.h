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
	const char *host; /* --host, or NULL for $DOCKER_HOST */
};

/* Each command: argv[0] is the command name; returns an exit code. */
int cmd_commit(struct dw_cli *cli, int argc, char **argv);
int cmd_diff(struct dw_cli *cli, int argc, char **argv);
int cmd_events(struct dw_cli *cli, int argc, char **argv);
int cmd_hook(struct dw_cli *cli, int argc, char **argv);
int cmd_rotate(struct dw_cli *cli, int argc, char **argv);
int cmd_scan(struct dw_cli *cli, int argc, char **argv);
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

/* Rotate a swarm secret, print and record it (shared by rotate, scan). */
struct dw_docker;
int dw_cli_rotate(struct dw_docker *d, int what, int dry_run, const char *db,
		  const char *reason);

/* Map a library error code to an exit code. */
int dw_cli_exit_for(int err);

#endif
