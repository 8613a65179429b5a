/* driftwatch version: print the version. */
#include <stdio.h>

#include "cli.h"
#include "opt.h"

#include "driftwatch/banned.h"

static const char *const synopsis[] = {
	"version",
	NULL,
};

static const struct dw_cmd_help help = {"version", synopsis, NULL, NULL};

int cmd_version(struct dw_cli *cli, int argc, char **argv)
{
	struct dw_opts p;
	int c;

	(void)cli;
	if (argv) {
		dw_opts_init(&p, &help, argc, argv);
		while ((c = dw_opts_next(&p)) != -1)
			return c == DW_OPT_EXIT ? p.exit
						: dw_opts_usage_error(&help);
		if (optind != argc)
			return dw_opts_usage_error(&help);
	}
	printf("driftwatch %s\n", DW_VERSION);
	return DW_EXIT_OK;
}
