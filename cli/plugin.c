/*
 * driftwatch as Docker's CLI plugin: `docker driftwatch diff web`. Docker
 * runs docker-driftwatch (a link to this program) as
 *   docker-driftwatch docker-cli-plugin-metadata
 *   docker-driftwatch [DOCKER'S GLOBAL OPTIONS] driftwatch COMMAND ...
 * The Docker endpoint is the one the docker command would use (-H,
 * --context, $DOCKER_HOST, $DOCKER_CONTEXT, the config's current
 * context); driftwatch reads this host's layers, so only a local one (a
 * unix socket) is taken.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "cli.h"
#include "sign.h"
#include "driftwatch/buf.h"
#include "driftwatch/xmalloc.h"

#include "driftwatch/banned.h"

#define PLUGIN_NAME "docker-driftwatch"

/* The commands that make sense after `docker`. */
static const char *const plugin_commands[] = {"diff",	"commit",  "events",
					      "status", "ps",	   "version",
					      "verify", "evidence"};

/* Docker's global options that take a value (docker(1)). */
static const char *const valued[] = {
	"--config",    "--context", "-c",	   "--host",	"-H",
	"--log-level", "-l",	    "--tlscacert", "--tlscert", "--tlskey"};

static int is_valued(const char *opt, size_t n)
{
	for (size_t i = 0; i < sizeof(valued) / sizeof(valued[0]); i++)
		if (strlen(valued[i]) == n && !strncmp(opt, valued[i], n))
			return 1;
	return 0;
}

struct docker_opts {
	const char *config, *context, *host;
	int tls;
};

/* Docker's config dir: --config, $DOCKER_CONFIG, ~/.docker. */
static void config_dir(const struct docker_opts *o, struct dw_buf *out)
{
	const char *d = o->config ? o->config : getenv("DOCKER_CONFIG");
	const char *home = getenv("HOME");

	if (d && *d)
		dw_buf_adds(out, d);
	else
		dw_buf_addf(out, "%s/.docker", home && *home ? home : "/root");
}

/*
 * The endpoint of context `name`, from Docker's context store
 * (CONFIG/contexts/meta/<sha256 of the name>/meta.json). Caller frees.
 */
static char *context_host(const struct docker_opts *o, const char *name,
			  int *err)
{
	struct dw_buf path = DW_BUF_INIT;
	char digest[72];
	json_error_t je;
	json_t *meta;
	char *host = NULL;
	const char *h;

	*err = 0;
	dw_sha256_hex(digest, name, strlen(name));
	config_dir(o, &path);
	dw_buf_addf(&path, "/contexts/meta/%s/meta.json", digest + 7);
	meta = json_load_file(path.ptr, 0, &je);
	h = json_string_value(json_object_get(
		json_object_get(json_object_get(meta, "Endpoints"), "docker"),
		"Host"));
	if (!meta)
		*err = dw_cli_fail("driftwatch", DW_EXIT_USAGE,
				   "docker context '%s' is not known (%s)",
				   name, je.text);
	else if (h)
		host = dw_xstrdup(h);
	else
		*err = dw_cli_fail("driftwatch", DW_EXIT_USAGE,
				   "docker context '%s' has no Docker endpoint",
				   name);
	json_decref(meta);
	dw_buf_release(&path);
	return host;
}

/* The current context named by Docker's config.json, or NULL. */
static char *current_context(const struct docker_opts *o)
{
	struct dw_buf path = DW_BUF_INIT;
	json_t *cfg;
	char *name = NULL;
	const char *n;

	config_dir(o, &path);
	dw_buf_adds(&path, "/config.json");
	cfg = json_load_file(path.ptr, 0, NULL);
	n = json_string_value(json_object_get(cfg, "currentContext"));
	if (n && *n)
		name = dw_xstrdup(n);
	json_decref(cfg);
	dw_buf_release(&path);
	return name;
}

/* Where the docker command would connect, as Docker decides it; NULL
 * and `*err` set when that cannot be known. Caller frees. */
static char *endpoint(const struct docker_opts *o, const char **from, int *err)
{
	const char *env_host = getenv("DOCKER_HOST");
	const char *env_ctx = getenv("DOCKER_CONTEXT");
	char *ctx = NULL, *host;

	*err = 0;
	if (o->host && o->context) {
		*err = dw_cli_fail("driftwatch", DW_EXIT_USAGE,
				   "--host and --context cannot both be given");
		return NULL;
	}
	if (o->host) {
		*from = "--host";
		return dw_xstrdup(o->host);
	}
	if (o->context)
		ctx = dw_xstrdup(o->context);
	else if (env_host && *env_host) {
		*from = "$DOCKER_HOST";
		return dw_xstrdup(env_host);
	} else if (env_ctx && *env_ctx)
		ctx = dw_xstrdup(env_ctx);
	else
		ctx = current_context(o);
	if (!ctx || !strcmp(ctx, "default")) {
		const char *tls = getenv("DOCKER_TLS_VERIFY");

		free(ctx);
		*from = "the default context";
		/* as docker: with $DOCKER_TLS_VERIFY, TLS on localhost */
		return dw_xstrdup(env_host && *env_host ? env_host
				  : tls && *tls		? "tcp://localhost:2376"
							: "unix:///var/run/"
							  "docker.sock");
	}
	*from = "the docker context";
	host = context_host(o, ctx, err);
	free(ctx);
	return host;
}

#define NCOMMANDS (sizeof(plugin_commands) / sizeof(*plugin_commands))

static void plugin_usage(FILE *f)
{
	fprintf(f, "usage: docker [DOCKER OPTIONS] driftwatch COMMAND "
		   "[ARGS...]\n\ncommands:");
	for (size_t k = 0; k < NCOMMANDS; k++)
		fprintf(f, " %s", plugin_commands[k]);
	fprintf(f, "\n\n'docker driftwatch COMMAND --help' for a command's; "
		   "the others run as\n'driftwatch COMMAND'. See "
		   "driftwatch(1), DOCKER CLI PLUGIN.\n");
}

/* Record one of Docker's options (`name` as given, `v` its value). */
static int docker_opt(struct docker_opts *o, const char *name, size_t n,
		      const char *v)
{
#define IS(lit) (n == sizeof(lit) - 1 && !strncmp(name, lit, n))
	if (IS("--config")) {
		o->config = *v ? v : NULL;
	} else if (IS("--context") || IS("-c")) {
		o->context = *v ? v : NULL; /* "": as not given, as docker */
	} else if (IS("--host") || IS("-H")) {
		if (o->host)
			return dw_cli_fail("driftwatch", DW_EXIT_USAGE,
					   "specify only one -H");
		o->host = *v ? v : NULL;
	}
#undef IS
	return 0;
}

int dw_cli_plugin(int *argc, char ***argv, struct dw_cli *cli)
{
	const char *base = strrchr((*argv)[0], '/');
	struct docker_opts o = {NULL, NULL, NULL, 0};
	const char *from = "";
	char **av = *argv, *host;
	int i, err;

	base = base ? base + 1 : (*argv)[0];
	if (strcmp(base, PLUGIN_NAME))
		return -1;
	if (*argc == 2 && !strcmp(av[1], "docker-cli-plugin-metadata")) {
		printf("{\"SchemaVersion\": \"0.1.0\", \"Vendor\": "
		       "\"driftwatch\", \"Version\": \"%s\", "
		       "\"ShortDescription\": \"Container drift and leaked "
		       "secrets: diff, commit, events, status, ps\"}\n",
		       DW_VERSION);
		return DW_EXIT_OK;
	}
	/* `docker help driftwatch` */
	if (*argc == 3 && !strcmp(av[1], "help") &&
	    !strcmp(av[2], "driftwatch")) {
		plugin_usage(stdout);
		return DW_EXIT_OK;
	}
	/* Docker's global options, up to the plugin's name, read as its
	 * flag parser reads them: --name=value, --name value, and runs of
	 * short flags (-DHunix:///x, -D -c name). */
	for (i = 1; i < *argc && strcmp(av[i], "driftwatch"); i++) {
		const char *a = av[i];

		if (a[0] != '-' || !a[1])
			break;
		if (a[1] == '-') {
			const char *eq = strchr(a, '=');
			size_t n = eq ? (size_t)(eq - a) : strlen(a);
			const char *v = "";

			if (is_valued(a, n)) {
				if (eq)
					v = eq + 1;
				else if (i + 1 < *argc)
					v = av[++i];
				else
					return dw_cli_fail(
						"driftwatch", DW_EXIT_USAGE,
						"docker's %s needs a value", a);
			}
			if (!strncmp(a, "--tls", 5))
				o.tls = 1;
			err = docker_opt(&o, a, n, v);
			if (err)
				return err;
			continue;
		}
		for (const char *p = a + 1; *p; p++) {
			char name[3] = {'-', *p, '\0'};
			const char *v;

			if (*p == 'D')
				continue; /* --debug */
			if (!strchr("Hcl", *p))
				return dw_cli_fail("driftwatch", DW_EXIT_USAGE,
						   "docker's -%c is not known "
						   "here",
						   *p);
			if (p[1])
				v = p[1] == '=' ? p + 2 : p + 1;
			else if (i + 1 < *argc)
				v = av[++i];
			else
				return dw_cli_fail("driftwatch", DW_EXIT_USAGE,
						   "docker's -%c needs a value",
						   *p);
			err = docker_opt(&o, name, 2, v);
			if (err)
				return err;
			break;
		}
	}
	if (i >= *argc || strcmp(av[i], "driftwatch"))
		return dw_cli_fail("driftwatch", DW_EXIT_USAGE,
				   "run by docker as 'docker driftwatch "
				   "COMMAND' (this is %s)",
				   PLUGIN_NAME);
	host = endpoint(&o, &from, &err);
	if (!host)
		return err;
	/* Only this host's Docker: its layers are what is read. */
	if (strncmp(host, "unix://", 7) || o.tls) {
		err = dw_cli_fail("driftwatch", DW_EXIT_USAGE,
				  "%s points at %s: driftwatch reads this "
				  "host's container layers, and runs only "
				  "against a local Docker (a unix socket)",
				  from, host);
		free(host);
		return err;
	}
	cli->host = host; /* kept for the process's life */
	/* What follows is driftwatch's own: argv[0] and the command, with
	 * no option of driftwatch's own before it (Docker's are given
	 * before 'driftwatch'). */
	*argc -= i;
	*argv += i;
	if (*argc < 2 || !strcmp((*argv)[1], "--help") ||
	    !strcmp((*argv)[1], "-h")) {
		plugin_usage(*argc < 2 ? stderr : stdout);
		return *argc < 2 ? DW_EXIT_USAGE : DW_EXIT_OK;
	}
	for (size_t k = 0; k < NCOMMANDS; k++)
		if (!strcmp((*argv)[1], plugin_commands[k]))
			return -1;
	if ((*argv)[1][0] == '-')
		return dw_cli_fail("driftwatch", DW_EXIT_USAGE,
				   "'docker driftwatch' takes Docker's options "
				   "before 'driftwatch', and a command after "
				   "it, not %s",
				   (*argv)[1]);
	return dw_cli_fail("driftwatch", DW_EXIT_USAGE,
			   "'docker driftwatch %s' is not offered: run "
			   "'driftwatch %s'",
			   (*argv)[1], (*argv)[1]);
}
