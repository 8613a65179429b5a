#ifndef DW_CLI_OPT_H
#define DW_CLI_OPT_H

#include <getopt.h>
#include <stdio.h>

/*
 * A command's options are one table: it drives getopt_long and prints
 * --help, so the two cannot disagree. --help is always there.
 */
struct dw_opt {
	int key;	  /* getopt's answer: a letter, or >= 256 */
	const char *name; /* the long name */
	const char *arg;  /* the argument's name; NULL: a flag */
	const char *help; /* what it does; "\n" starts a new line */
	int has_short;	  /* `key` is also a short option: -k */
};

struct dw_cmd_help {
	const char *name;	     /* "diff" */
	const char *const *synopsis; /* lines after "driftwatch ", NULL-ended */
	const char *about;	     /* a paragraph, or NULL */
	const struct dw_opt *opts;   /* ended by a zero entry */
};

#define DW_OPT_MAX 40

/* Returned by dw_opts_next() when the command must return `p->exit`. */
#define DW_OPT_EXIT (-2)

struct dw_opts {
	const struct dw_cmd_help *cmd;
	int argc;
	char **argv;
	struct option longs[DW_OPT_MAX + 2];
	char shorts[2 * DW_OPT_MAX + 4];
	int exit;
};

/*
 * Start parsing argv (argv[0] is the command's name). Aborts on a table
 * with more than DW_OPT_MAX options: a programming error.
 */
void dw_opts_init(struct dw_opts *p, const struct dw_cmd_help *cmd, int argc,
		  char **argv);

/*
 * The next option's key, with its argument in `optarg`; -1 when the
 * options end (the operands start at `optind`); DW_OPT_EXIT after --help
 * (usage printed on stdout, p->exit 0) or a bad option (getopt's message
 * and the usage on stderr, p->exit DW_EXIT_USAGE).
 */
int dw_opts_next(struct dw_opts *p);

/* Print the usage generated from the table. */
void dw_opts_usage(const struct dw_cmd_help *cmd, FILE *f);

/* Print the usage on stderr and return DW_EXIT_USAGE. */
int dw_opts_usage_error(const struct dw_cmd_help *cmd);

#endif
