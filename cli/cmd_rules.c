/* driftwatch rules: the secret rules a scan uses, built in and configured. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "cli.h"
#include "opt.h"
#include "driftwatch/config.h"
#include "driftwatch/engine.h"
#include "driftwatch/error.h"
#include "driftwatch/json.h"
#include "driftwatch/buf.h"

#include "driftwatch/banned.h"

static const struct dw_opt opts[] = {
	{'c', "config", "FILE",
	 "the configuration scan --config would take\n(default: the user's "
	 "own, ~/.config/driftwatch/config.yaml)",
	 0},
	{'f', "format", "FMT", "text (default) or json", 0},
	{0, NULL, NULL, NULL, 0},
};

static const char *const synopsis[] = {
	"rules [--config FILE] [--format text|json]",
	NULL,
};

static const struct dw_cmd_help help = {
	"rules", synopsis,
	"List the secret rules a scan uses: id, severity, where the rule "
	"comes from\n(built in, or the configuration) and what it finds.",
	opts};

/* How many of the configuration's own rules it does not disable: the
 * engine lists them last, after the built-in ones. */
static size_t own_rules(const struct dw_config *cfg)
{
	size_t n = 0;

	for (size_t i = 0; i < cfg->nrules; i++) {
		size_t d;

		for (d = 0; d < cfg->ndisabled; d++)
			if (!strcmp(cfg->disabled[d], cfg->rules[i].id))
				break;
		n += d == cfg->ndisabled;
	}
	return n;
}

int cmd_rules(struct dw_cli *cli, int argc, char **argv)
{
	const char *config = NULL, *format = "text";
	const struct dw_rule_info *rules;
	struct dw_config cfg;
	struct dw_engine *e = NULL;
	struct dw_opts p;
	char *mine = NULL;
	size_t n, i, first_own;
	int c, err = 0, json;

	(void)cli;
	memset(&cfg, 0, sizeof(cfg));
	dw_opts_init(&p, &help, argc, argv);
	while ((c = dw_opts_next(&p)) != -1) {
		switch (c) {
		case 'c': config = optarg; break;
		case 'f': format = optarg; break;
		case DW_OPT_EXIT: return p.exit;
		default: return dw_opts_usage_error(&help);
		}
	}
	if (optind != argc)
		return dw_opts_usage_error(&help);
	json = !strcmp(format, "json");
	if (!json && strcmp(format, "text"))
		return dw_cli_fail("rules", DW_EXIT_USAGE,
				   "unknown format '%s' (text or json)",
				   format);
	/* As scan takes them: --config, else the user's own. */
	if (!config)
		err = dw_cli_user_config(&mine);
	if (!err && (config || mine))
		err = dw_config_load(&cfg, config ? config : mine);
	if (!err)
		err = dw_engine_new(&e, &cfg.engine);
	free(mine);
	if (err) {
		dw_config_release(&cfg);
		return dw_cli_fail("rules", DW_EXIT_USAGE, "%s",
				   dw_error_last());
	}
	n = dw_engine_rules(e, &rules);
	first_own = n - own_rules(&cfg);
	if (json) {
		json_t *a = json_array();
		struct dw_buf out = DW_BUF_INIT;

		for (i = 0; i < n; i++) {
			json_t *r = json_pack(
				"{s:s, s:s, s:s, s:s}", "id", rules[i].id,
				"severity", dw_severity_name(rules[i].severity),
				"source",
				i >= first_own ? "config" : "built-in",
				"description",
				rules[i].description ? rules[i].description
						     : "");

			/* (a rule's text not UTF-8: said, not dropped) */
			if (json_array_append_new(a, r))
				err = dw_cli_fail("rules", DW_EXIT_ERROR,
						  "rule %s cannot be written "
						  "as JSON",
						  rules[i].id);
		}
		dw_json_dump(&out, a, JSON_INDENT(2));
		if (!err)
			printf("%s\n", out.ptr);
		dw_buf_release(&out);
		json_decref(a);
	} else {
		for (i = 0; i < n; i++)
			printf("%-28s %-9s %-9s %s\n", rules[i].id,
			       dw_severity_name(rules[i].severity),
			       i >= first_own ? "config" : "built-in",
			       rules[i].description ? rules[i].description
						    : "");
	}
	dw_engine_free(e);
	dw_config_release(&cfg);
	return err ? err : DW_EXIT_OK;
}
