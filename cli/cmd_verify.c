/* driftwatch verify: recheck a snapshot's digests. */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "opt.h"
#include "driftwatch/buf.h"
#include "driftwatch/error.h"
#include "snapshot.h"

#include "driftwatch/banned.h"

static const char *const synopsis[] = {
	"verify PATH",
	NULL,
};

static const struct dw_cmd_help help = {
	"verify", synopsis,
	"Recheck a snapshot's archive and evidence against their digests.\n"
	"exit: 0 intact, 1 a digest does not match, 2 unreadable",
	NULL};

int cmd_verify(struct dw_cli *cli, int argc, char **argv)
{
	struct dw_buf report = DW_BUF_INIT;
	struct dw_opts p;
	int c, err;

	(void)cli;
	dw_opts_init(&p, &help, argc, argv);
	while ((c = dw_opts_next(&p)) != -1)
		return c == DW_OPT_EXIT ? p.exit : dw_opts_usage_error(&help);
	if (argc - optind != 1)
		return dw_opts_usage_error(&help);
	err = dw_snapshot_verify(argv[optind], &report);
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
	printf("%s: ok\n", argv[optind]);
	dw_buf_release(&report);
	return DW_EXIT_OK;
}
