/* driftwatch rotate: rotate this swarm's join tokens or unlock key. */
#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "cli.h"
#include "opt.h"
#include "docker.h"
#include "leak.h"
#include "driftwatch/error.h"
#include "store.h"
#include "swarm.h"
#include "driftwatch/banned.h"

static const struct dw_opt opts[] = {
	{'w', "worker", NULL, "rotate the worker join token", 0},
	{'m', "manager", NULL, "rotate the manager join token", 0},
	{'u', "unlock-key", NULL, "rotate the unlock key", 0},
	{'n', "dry-run", NULL, "only say what would be rotated", 0},
	{'r', "reason", "TEXT", "why: kept in the store", 0},
	{'d', "db", "PATH", "the store (default " DW_STORE_DEFAULT_PATH ")", 0},
	{'H', "host", "URL", "docker socket (unix:///path)", 0},
	{0, NULL, NULL, NULL, 0},
};

static const char *const synopsis[] = {
	"rotate --worker | --manager | --unlock-key [--dry-run] [--reason TEXT]"
	"\n                  [--db PATH] [--host URL]",
	NULL,
};

static const struct dw_cmd_help help = {"rotate", synopsis, NULL, opts};

int dw_cli_rotate(struct dw_docker *d, int what_i, int dry_run, const char *db,
		  const char *reason)
{
	enum dw_swarm_secret what = (enum dw_swarm_secret)what_i;
	struct dw_rotation rot;
	struct dw_store *s = NULL;
	int err;

	if (!dry_run && dw_store_open(&s, db, 0))
		fprintf(stderr,
			"driftwatch: warning: the rotation will not be "
			"recorded: %s\n",
			dw_error_last());
	err = dw_leak_rotate(d, s, what, dry_run, reason, &rot);
	if (!err)
		dw_cli_sign_heads(s, NULL, "rotate");
	dw_store_close(s);
	if (err && err != DW_ESTORE)
		return err;
	if (dry_run)
		printf("would rotate the %s (now %s)\n",
		       dw_swarm_secret_name(what), rot.before);
	else
		printf("rotated the %s: %s -> %s\n", dw_swarm_secret_name(what),
		       rot.before, rot.after);
	if (err)
		fprintf(stderr, "driftwatch: warning: %s\n", dw_error_last());
	return 0;
}

int cmd_rotate(struct dw_cli *cli, int argc, char **argv)
{
	const char *db = DW_STORE_DEFAULT_PATH, *host = cli->host,
		   *reason = NULL;
	struct dw_docker *d = NULL;
	struct dw_opts p;
	int c, n = 0, what = -1, dry = 0, err;

	dw_opts_init(&p, &help, argc, argv);
	while ((c = dw_opts_next(&p)) != -1) {
		switch (c) {
		case 'w':
			what = DW_SWARM_WORKER;
			n++;
			break;
		case 'm':
			what = DW_SWARM_MANAGER;
			n++;
			break;
		case 'u':
			what = DW_SWARM_UNLOCK;
			n++;
			break;
		case 'n': dry = 1; break;
		case 'r': reason = optarg; break;
		case 'd': db = optarg; break;
		case 'H': host = optarg; break;
		case DW_OPT_EXIT: return p.exit;
		default: return dw_opts_usage_error(&help);
		}
	}
	if (n != 1 || optind != argc)
		return dw_opts_usage_error(&help);
	if (dw_docker_open(&d, host))
		return dw_cli_fail("rotate", DW_EXIT_USAGE, "%s",
				   dw_error_last());
	err = dw_cli_rotate(d, what, dry, db,
			    reason ? reason : "driftwatch rotate");
	dw_docker_free(d);
	if (err)
		return dw_cli_fail("rotate",
				   err == DW_EUNREACHABLE ? DW_EXIT_NOTFOUND
							  : DW_EXIT_ERROR,
				   "%s", dw_error_last());
	return DW_EXIT_OK;
}
