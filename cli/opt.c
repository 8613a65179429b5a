/* Option tables: getopt_long's arrays and --help from one table. */
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "opt.h"

#include "driftwatch/banned.h"

void dw_opts_init(struct dw_opts *p, const struct dw_cmd_help *cmd, int argc,
		  char **argv)
{
	const struct dw_opt *o;
	size_t n = 0, s = 0;

	memset(p, 0, sizeof(*p));
	p->cmd = cmd;
	p->argc = argc;
	p->argv = argv;
	for (o = cmd->opts; o && o->name; o++) {
		if (n == DW_OPT_MAX)
			abort();
		p->longs[n].name = o->name;
		p->longs[n].has_arg = o->arg ? required_argument : no_argument;
		p->longs[n].val = o->key;
		n++;
		if (o->has_short) {
			p->shorts[s++] = (char)o->key;
			if (o->arg)
				p->shorts[s++] = ':';
		}
	}
	p->longs[n].name = "help";
	p->longs[n].val = 'h';
	p->shorts[s++] = 'h';
	p->shorts[s] = '\0';
}

int dw_opts_next(struct dw_opts *p)
{
	int c = getopt_long(p->argc, p->argv, p->shorts, p->longs, NULL);

	if (c == 'h') {
		dw_opts_usage(p->cmd, stdout);
		p->exit = DW_EXIT_OK;
		return DW_OPT_EXIT;
	}
	if (c == '?' || c == ':') {
		p->exit = dw_opts_usage_error(p->cmd);
		return DW_OPT_EXIT;
	}
	return c;
}

/* "--name ARG" or "-k, --name ARG" */
static size_t opt_label(const struct dw_opt *o, char *buf, size_t n)
{
	int len =
		snprintf(buf, n, "%s%c%s--%s%s%s", o->has_short ? "-" : "",
			 o->has_short ? o->key : ' ', o->has_short ? ", " : "",
			 o->name, o->arg ? " " : "", o->arg ? o->arg : "");

	if (!o->has_short)
		memmove(buf, buf + 1, strlen(buf)); /* the blank */
	return len > 0 ? (size_t)len : 0;
}

void dw_opts_usage(const struct dw_cmd_help *cmd, FILE *f)
{
	const struct dw_opt *o;
	const char *const *syn;
	size_t width = 0;
	char label[128];

	for (syn = cmd->synopsis; *syn; syn++)
		fprintf(f, "%s driftwatch %s\n",
			syn == cmd->synopsis ? "usage:" : "   or:", *syn);
	if (cmd->about)
		fprintf(f, "\n%s\n", cmd->about);
	for (o = cmd->opts; o && o->name; o++)
		if (o->help && opt_label(o, label, sizeof(label)) > width)
			width = strlen(label);
	if (cmd->opts && cmd->opts->name)
		fputc('\n', f);
	for (o = cmd->opts; o && o->name; o++) {
		const char *h = o->help, *nl;

		if (!h)
			continue;
		opt_label(o, label, sizeof(label));
		fprintf(f, "  %-*s  ", (int)width, label);
		/* Continuation lines line up under the first. */
		while ((nl = strchr(h, '\n'))) {
			fprintf(f, "%.*s\n  %-*s  ", (int)(nl - h), h,
				(int)width, "");
			h = nl + 1;
		}
		fprintf(f, "%s\n", h);
	}
	fprintf(f, "  %-*s  this help\n\nSee driftwatch-%s(1).\n", (int)width,
		"--help", cmd->name);
}

int dw_opts_usage_error(const struct dw_cmd_help *cmd)
{
	dw_opts_usage(cmd, stderr);
	return DW_EXIT_USAGE;
}
