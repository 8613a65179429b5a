#include <stdio.h>

#include "cli.h"
#include "driftwatch/banned.h"

int cmd_version(struct dw_cli *cli, int argc, char **argv)
{
	(void)cli;
	(void)argc;
	(void)argv;
	printf("driftwatch %s\n", DW_VERSION);
	return DW_EXIT_OK;
}
