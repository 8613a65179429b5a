/* driftwatch verify: recheck a snapshot's digests and signature. */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "opt.h"
#include "driftwatch/buf.h"
#include "driftwatch/error.h"
#include "sign.h"
#include "snapshot.h"

#include "driftwatch/banned.h"

static const struct dw_opt opts[] = {
	{'k', "key", "PUB",
	 "the public key (PEM) to check the signature with,\nas "
	 "'driftwatch key export' wrote it elsewhere",
	 0},
	{'s', "signing-key", "PATH",
	 "else the local key's (default\n" DW_SIGNING_KEY_DEFAULT ")", 0},
	{0, NULL, NULL, NULL, 0},
};

static const char *const synopsis[] = {
	"verify [--key PUB | --signing-key PATH] PATH",
	NULL,
};

static const struct dw_cmd_help help = {
	"verify", synopsis,
	"Recheck a snapshot's archive and evidence against their digests, "
	"and its\nsigned statement (PATH.intoto.jsonl) against both.\n"
	"exit: 0 intact, 1 a digest or the signature does not match (or no "
	"signature),\n      2 unreadable",
	opts};

int cmd_verify(struct dw_cli *cli, int argc, char **argv)
{
	const char *pub = NULL, *key = dw_cli_signing_key();
	struct dw_buf report = DW_BUF_INIT, what = DW_BUF_INIT;
	struct dw_opts p;
	int c, err;

	(void)cli;
	dw_opts_init(&p, &help, argc, argv);
	while ((c = dw_opts_next(&p)) != -1) {
		switch (c) {
		case 'k': pub = optarg; break;
		case 's': key = optarg; break;
		case DW_OPT_EXIT: return p.exit;
		default: return dw_opts_usage_error(&help);
		}
	}
	if (argc - optind != 1)
		return dw_opts_usage_error(&help);
	err = dw_snapshot_verify(argv[optind], pub, key, &report, &what);
	if (err)
		dw_buf_release(&what);
	if (err == DW_EIO) {
		dw_buf_release(&report);
		return dw_cli_fail("verify", DW_EXIT_USAGE, "%s",
				   dw_error_last());
	}
	if (err) {
		fprintf(stderr, "%sdriftwatch verify: %s: FAILED\n", report.ptr,
			argv[optind]);
		dw_buf_release(&report);
		return DW_EXIT_FOUND;
	}
	/* Which key: the host's own proves nothing against root there. */
	printf("%s: ok (digests, and the signature checked with %s)\n",
	       argv[optind],
	       pub ? pub
		   : "this host's own key; --key PUB for an exported one");
	/* What the signature vouches for: compare with what you expect. */
	if (what.len)
		printf("  signed: %s\n", what.ptr);
	dw_buf_release(&what);
	dw_buf_release(&report);
	return DW_EXIT_OK;
}
