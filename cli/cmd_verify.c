/* driftwatch verify: recheck a snapshot's digests. */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "driftwatch/buf.h"
#include "driftwatch/error.h"
#include "snapshot.h"

#include "driftwatch/banned.h"

int cmd_verify(struct dw_cli *cli, int argc, char **argv)
{
	struct dw_buf report = DW_BUF_INIT;
	int err;

	(void)cli;
	if (argc != 2 || argv[1][0] == '-') {
		fprintf(argc == 2 && !strcmp(argv[1], "--help") ? stdout :
			stderr, "usage: driftwatch verify PATH\n");
		return argc == 2 && !strcmp(argv[1], "--help") ? 0 :
		       DW_EXIT_USAGE;
	}
	err = dw_snapshot_verify(argv[1], &report);
	if (err == DW_EIO) {
		dw_buf_release(&report);
		return dw_cli_fail("verify", DW_EXIT_USAGE, "%s",
				   dw_error_last());
	}
	if (err) {
		fprintf(stderr, "%sdriftwatch verify: %s: FAILED\n", report.ptr,
			argv[1]);
		dw_buf_release(&report);
		return 1;
	}
	printf("%s: ok\n", argv[1]);
	dw_buf_release(&report);
	return 0;
}
