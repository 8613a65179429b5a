/* driftwatch rotate: rotate this swarm's join tokens or unlock key. */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "cli.h"
#include "docker.h"
#include "leak.h"
#include "driftwatch/error.h"
#include "store.h"
#include "swarm.h"
#include "driftwatch/banned.h"

static void usage(FILE *f)
{
	fprintf(f,
		"usage: driftwatch rotate --worker | --manager | --unlock-key\n"
		"                         [--dry-run] [--reason TEXT] [--db "
		"PATH] [--host URL]\n");
}

int dw_cli_rotate(struct dw_docker *d, int what_i, int dry_run,
		  const char *db, const char *reason)
{
	enum dw_swarm_secret what = (enum dw_swarm_secret)what_i;
	struct dw_rotation rot;
	struct dw_store *s = NULL;
	int err;

	if (!dry_run && dw_store_open(&s, db, 0))
		fprintf(stderr, "driftwatch: warning: the rotation will not be "
			"recorded: %s\n", dw_error_last());
	err = dw_leak_rotate(d, s, what, dry_run, reason, &rot);
	dw_store_close(s);
	if (err && err != DW_ESTORE)
		return err;
	if (dry_run)
		printf("would rotate the %s (now %s)\n",
		       dw_swarm_secret_name(what), rot.before);
	else
		printf("rotated the %s: %s -> %s\n",
		       dw_swarm_secret_name(what), rot.before, rot.after);
	if (err)
		fprintf(stderr, "driftwatch: warning: %s\n", dw_error_last());
	return 0;
}

int cmd_rotate(struct dw_cli *cli, int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "worker", no_argument, NULL, 'w' },
		{ "manager", no_argument, NULL, 'm' },
		{ "unlock-key", no_argument, NULL, 'u' },
		{ "dry-run", no_argument, NULL, 'n' },
		{ "reason", required_argument, NULL, 'r' },
		{ "db", required_argument, NULL, 'd' },
		{ "host", required_argument, NULL, 'H' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *db = DW_STORE_DEFAULT_PATH, *host = cli->host, *reason = NULL;
	struct dw_docker *d = NULL;
	int c, n = 0, what = -1, dry = 0, err;

	while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (c) {
		case 'w': what = DW_SWARM_WORKER; n++; break;
		case 'm': what = DW_SWARM_MANAGER; n++; break;
		case 'u': what = DW_SWARM_UNLOCK; n++; break;
		case 'n': dry = 1; break;
		case 'r': reason = optarg; break;
		case 'd': db = optarg; break;
		case 'H': host = optarg; break;
		case 'h': usage(stdout); return DW_EXIT_OK;
		default: usage(stderr); return DW_EXIT_USAGE;
		}
	}
	if (n != 1 || optind != argc) {
		usage(stderr);
		return DW_EXIT_USAGE;
	}
	if (dw_docker_open(&d, host))
		return dw_cli_fail("rotate", DW_EXIT_USAGE, "%s",
				   dw_error_last());
	err = dw_cli_rotate(d, what, dry, db,
			    reason ? reason : "driftwatch rotate");
	dw_docker_free(d);
	if (err)
		return dw_cli_fail("rotate", err == DW_EUNREACHABLE ? 3 :
				   DW_EXIT_ERROR, "%s", dw_error_last());
	return DW_EXIT_OK;
}
