/* driftwatch: the command table and global options. */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "sign.h"
#include "driftwatch/buf.h"
#include "driftwatch/error.h"
#include "docker.h"
#include "store.h"
#include "sandbox.h"
#include <stdlib.h>
#include "driftwatch/banned.h"

struct command {
	const char *name;
	int (*fn)(struct dw_cli *cli, int argc, char **argv);
	const char *summary;
};

static const struct command commands[] = {
	{"allow", cmd_allow,
	 "propose allow rules from the recorded drift (allow suggest)"},
	{"commit", cmd_commit,
	 "snapshot a container for forensics "
	 "(docker-loadable, with evidence)"},
	{"diff", cmd_diff,
	 "show a container's filesystem changes "
	 "(A/D/C, like docker diff)"},
	{"events", cmd_events,
	 "the drift history and current changes "
	 "in the store"},
	{"evidence", cmd_evidence,
	 "a snapshot's evidence as a bodyfile, Timesketch JSONL or sha256sums"},
	{"hook", cmd_hook, "install git hooks that block leaked secrets"},
	{"key", cmd_key, "export the public key that checks snapshots"},
	{"ps", cmd_ps, "every container driftwatch sees, and how well"},
	{"rules", cmd_rules, "the secret rules a scan uses"},
	{"rotate", cmd_rotate,
	 "rotate this swarm's join tokens or unlock "
	 "key"},
	{"scan", cmd_scan,
	 "find leaked secrets in files, logs, chats "
	 "and mail"},
	{"status", cmd_status, "what the daemon is watching, and how"},
	{"verify", cmd_verify,
	 "recheck a snapshot's digests and signature, or the store's "
	 "history"},
	{"version", cmd_version, "print the version"},
};

static void usage(FILE *f)
{
	size_t i;

	fprintf(f, "usage: driftwatch [--host URL] [--host-root DIR] <command> "
		   "[<args>]\n\n"
		   "commands:\n");
	for (i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		fprintf(f, "  %-10s %s\n", commands[i].name,
			commands[i].summary);
	fprintf(f, "\nrun 'driftwatch <command> --help' for a command's "
		   "options\n");
}

int dw_cli_docker(struct dw_cli *cli, const char *cmd, const char *host,
		  const char *db, struct dw_docker **out)
{
	struct dw_store *s = NULL;

	if (dw_docker_open(out, host ? host : cli->host))
		return dw_cli_fail(cmd, DW_EXIT_USAGE, "%s", dw_error_last());
	dw_docker_set_host_root(*out, cli->host_root);
	if (db && !access(db, R_OK) && !dw_store_open(&s, db, 1))
		dw_docker_set_store(*out, s);
	return 0;
}

const char *dw_cli_signing_key(void)
{
	const char *k = getenv("DRIFTWATCH_SIGNING_KEY");

	return k && *k ? k : DW_SIGNING_KEY_DEFAULT;
}

void dw_cli_sign_heads(struct dw_store *s, const char *key, const char *cmd)
{
	char host[256] = "";
	EVP_PKEY *k = NULL;
	int done = 0, err;

	if (!s)
		return;
	err = dw_sign_key_load(&k, key ? key : dw_cli_signing_key(), 0);
	if (err == DW_ENOTFOUND)
		return;
	gethostname(host, sizeof(host) - 1);
	if (err || dw_store_sign_heads(s, k, host, DW_SIGN_SAME_KEY, &done))
		fprintf(stderr,
			"driftwatch %s: warning: the store's chain heads "
			"are not signed: %s\n",
			cmd, dw_error_last());
	EVP_PKEY_free(k);
}

void dw_cli_docker_close(struct dw_docker *d)
{
	if (!d)
		return;
	dw_store_close(dw_docker_store(d));
	dw_docker_free(d);
}

void dw_cli_note_recorded(const char *cmd, const struct dw_container_layers *l)
{
	char when[32];
	time_t t = (time_t)l->recorded;
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
	fprintf(stderr,
		"driftwatch %s: note: container %s is not running: its layer "
		"dirs are those driftwatchd recorded while it ran (last "
		"recorded %s), still on disk\n",
		cmd, l->name, when);
}

int dw_cli_fail(const char *cmd, int code, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "driftwatch %s: ", cmd);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return code;
}

char *dw_cli_absolute(const char *p)
{
	struct dw_buf b = DW_BUF_INIT;
	char cwd[4096];

	if (p[0] != '/' && getcwd(cwd, sizeof(cwd)))
		dw_buf_addf(&b, "%s/", cwd);
	dw_buf_adds(&b, p);
	return dw_buf_detach(&b, NULL);
}

/*
 * $DW_CACHE_DIR, else $XDG_CACHE_HOME/driftwatch, else
 * ~/.cache/driftwatch, created 0700; NULL when none can be had.
 */
char *dw_cli_cache_dir(void)
{
	struct dw_buf p = DW_BUF_INIT;
	const char *env = getenv("DW_CACHE_DIR");
	const char *xdg = getenv("XDG_CACHE_HOME");
	const char *home = getenv("HOME");
	struct stat st;

	if (env && *env) {
		dw_buf_adds(&p, env);
	} else if (xdg && *xdg == '/') {
		dw_buf_addf(&p, "%s/driftwatch", xdg);
	} else if (home && *home == '/') {
		dw_buf_addf(&p, "%s/.cache", home);
		mkdir(p.ptr, 0700);
		dw_buf_adds(&p, "/driftwatch");
	} else {
		return NULL;
	}
	mkdir(p.ptr, 0700);
	if (lstat(p.ptr, &st) < 0 || !S_ISDIR(st.st_mode) ||
	    st.st_uid != geteuid() || (st.st_mode & 022)) {
		dw_buf_release(&p);
		return NULL;
	}
	return dw_buf_detach(&p, NULL);
}

int dw_cli_exit_for(int err)
{
	switch (err) {
	case DW_OK: return DW_EXIT_OK;
	case DW_ENOTFOUND:
	case DW_EUNREACHABLE: return DW_EXIT_NOTFOUND;
	default: return DW_EXIT_ERROR;
	}
}

/*
 * What a command's status becomes: a failed write to stdout (a full disk,
 * a closed pipe) is an error, never a silent success, and nothing outside
 * enum dw_exit leaves the program (a -1 would exit 255).
 */
static int finish(const char *cmd, int ret)
{
	if (ret < 0 || ret > DW_EXIT_MAX) {
		fprintf(stderr,
			"driftwatch %s: internal error: exit status "
			"%d\n",
			cmd, ret);
		ret = DW_EXIT_ERROR;
	}
	if (fflush(stdout) || ferror(stdout) || fclose(stdout)) {
		fprintf(stderr, "driftwatch %s: cannot write the output: %s\n",
			cmd, strerror(errno));
		return DW_EXIT_ERROR;
	}
	return ret;
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{"host", required_argument, NULL, 'H'},
		{"host-root", required_argument, NULL, 'R'},
		{"help", no_argument, NULL, 'h'},
		{"version", no_argument, NULL, 'V'},
		{NULL, 0, NULL, 0},
	};
	struct dw_cli cli = {NULL};
	size_t i;
	int c;

	/* `scan` as root decodes in a scanner process: this program again. */
	if (dw_sandbox_is_child(argc, argv))
		dw_sandbox_child_main(argc, argv, cmd_scan_scanner_build);
	/* As docker-driftwatch: Docker's CLI plugin (plugin.c). */
	c = dw_cli_plugin(&argc, &argv, &cli);
	if (c >= 0)
		return finish("docker driftwatch", c);

	/*
	 * A closed pipe is a failed write (EPIPE), reported and counted by
	 * finish(), never a silent death: output already written and
	 * findings a program was being told about are not lost with it.
	 */
	signal(SIGPIPE, SIG_IGN);
	/* '+': stop at the command name; its options are its own. */
	while ((c = getopt_long(argc, argv, "+H:h", longopts, NULL)) != -1) {
		switch (c) {
		case 'H': cli.host = optarg; break;
		case 'R':
			if (*optarg != '/') {
				fprintf(stderr,
					"driftwatch: --host-root takes "
					"an absolute path, not '%s'\n",
					optarg);
				return DW_EXIT_USAGE;
			}
			cli.host_root = optarg;
			break;
		case 'h': usage(stdout); return finish("--help", DW_EXIT_OK);
		case 'V':
			return finish("--version", cmd_version(&cli, 0, NULL));
		default: usage(stderr); return DW_EXIT_USAGE;
		}
	}
	if (optind >= argc) {
		usage(stderr);
		return DW_EXIT_USAGE;
	}
	for (i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
		if (!strcmp(argv[optind], commands[i].name)) {
			argc -= optind;
			argv += optind;
			optind = 0; /* reset getopt for the command */
			return finish(commands[i].name,
				      commands[i].fn(&cli, argc, argv));
		}
	}
	fprintf(stderr, "driftwatch: '%s' is not a command\n", argv[optind]);
	usage(stderr);
	return DW_EXIT_USAGE;
}
