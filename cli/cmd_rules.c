/* driftwatch rules: the secret rules a scan uses, built in and configured. */
#include <stdio.h>
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
	 "also the rules of this .driftwatch.yaml (and\nwithout those it "
	 "disables)",
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

/* Is `id` one of the configuration's own rules? */
static int custom(const struct dw_config *cfg, const char *id)
{
	for (size_t i = 0; i < cfg->nrules; i++)
		if (!strcmp(cfg->rules[i].id, id))
			return 1;
	return 0;
}

int cmd_rules(struct dw_cli *cli, int argc, char **argv)
{
	const char *config = NULL, *format = "text";
	const struct dw_rule_info *rules;
	struct dw_config cfg;
	struct dw_engine *e = NULL;
	struct dw_opts p;
	size_t n, i;
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
	if (config)
		err = dw_config_load(&cfg, config);
	if (!err)
		err = dw_engine_new(&e, config ? &cfg.engine : NULL);
	if (err) {
		dw_config_release(&cfg);
		return dw_cli_fail("rules", DW_EXIT_USAGE, "%s",
				   dw_error_last());
	}
	n = dw_engine_rules(e, &rules);
	if (json) {
		json_t *a = json_array();
		struct dw_buf out = DW_BUF_INIT;

		for (i = 0; i < n; i++)
			json_array_append_new(
				a,
				json_pack("{s:s, s:s, s:s, s:s}", "id",
					  rules[i].id, "severity",
					  dw_severity_name(rules[i].severity),
					  "source",
					  custom(&cfg, rules[i].id)
						  ? config
						  : "built-in",
					  "description",
					  rules[i].description
						  ? rules[i].description
						  : ""));
		dw_json_dump(&out, a, JSON_INDENT(2));
		printf("%s\n", out.ptr);
		dw_buf_release(&out);
		json_decref(a);
	} else {
		for (i = 0; i < n; i++)
			printf("%-28s %-9s %-9s %s\n", rules[i].id,
			       dw_severity_name(rules[i].severity),
			       custom(&cfg, rules[i].id) ? "config"
							 : "built-in",
			       rules[i].description ? rules[i].description
						    : "");
	}
	dw_engine_free(e);
	dw_config_release(&cfg);
	return DW_EXIT_OK;
}
