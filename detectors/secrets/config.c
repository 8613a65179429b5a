/* .driftwatch.yaml, read with libyaml's document API. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <yaml.h>

#include "driftwatch/config.h"
#include "driftwatch/error.h"
#include "driftwatch/glob.h"
#include "driftwatch/xmalloc.h"
#include "driftwatch/yamldoc.h"
#include "driftwatch/banned.h"

int dw_parse_size(uint64_t *out, const char *s)
{
	static const struct {
		const char *suffix;
		uint64_t mult;
	} units[] = {
		{"", 1},	  {"b", 1},	     {"k", 1 << 10},
		{"kb", 1 << 10},  {"kib", 1 << 10},  {"m", 1 << 20},
		{"mb", 1 << 20},  {"mib", 1 << 20},  {"g", 1u << 30},
		{"gb", 1u << 30}, {"gib", 1u << 30},
	};
	char *end;
	unsigned long long v;
	size_t i;

	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || end == s || *s == '-')
		return DW_EINVAL;
	for (i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
		if (strcasecmp(end, units[i].suffix))
			continue;
		if (v > UINT64_MAX / units[i].mult)
			return DW_EINVAL;
		*out = v * units[i].mult;
		return 0;
	}
	return DW_EINVAL;
}

static int rule_field(struct dw_yaml *c, struct dw_custom_rule *r,
		      const char *key, yaml_node_t *v)
{
	const char *s = dw_yaml_scalar(v);
	char *end;

	if (!strcmp(key, "keywords"))
		return dw_yaml_strings(c, v, &r->keywords, &r->nkeywords);
	if (!s)
		return dw_yaml_bad(c, v, "expected a scalar");
	if (!strcmp(key, "id")) {
		free(r->id);
		r->id = dw_xstrdup(s);
	} else if (!strcmp(key, "regex")) {
		free(r->regex);
		r->regex = dw_xstrdup(s);
	} else if (!strcmp(key, "description")) {
		free(r->description);
		r->description = dw_xstrdup(s);
	} else if (!strcmp(key, "severity")) {
		int sev = dw_severity_parse(s);

		if (sev <= DW_SEV_ALLOWED)
			return dw_yaml_bad(c, v,
					   "severity must be low, medium, "
					   "high or critical");
		r->severity = (enum dw_severity)sev;
	} else if (!strcmp(key, "secret_group")) {
		long g = strtol(s, &end, 10);

		if (*end || g < 0 || g > 32)
			return dw_yaml_bad(c, v, "secret_group must be 0..32");
		r->secret_group = (int)g;
	} else if (!strcmp(key, "entropy")) {
		double e = strtod(s, &end);

		if (*end || e < 0 || e > 8)
			return dw_yaml_bad(c, v,
					   "entropy must be 0..8 (bits/byte)");
		r->min_entropy = e;
	} else {
		return dw_yaml_bad(c, v, "unknown rule key");
	}
	return 0;
}

static int parse_rule(struct dw_yaml *c, yaml_node_t *n,
		      struct dw_custom_rule *r)
{
	yaml_node_pair_t *p;
	int err = 0;

	memset(r, 0, sizeof(*r));
	r->severity = DW_SEV_MEDIUM;
	if (n->type != YAML_MAPPING_NODE)
		return dw_yaml_bad(c, n, "a rule must be a mapping");
	for (p = n->data.mapping.pairs.start;
	     !err && p < n->data.mapping.pairs.top; p++) {
		yaml_node_t *k = dw_yaml_node(c, p->key);
		yaml_node_t *v = dw_yaml_node(c, p->value);

		err = dw_yaml_scalar(k) ? rule_field(c, r, dw_yaml_scalar(k), v)
					: dw_yaml_bad(c, k, "expected a key");
	}
	if (!err && (!r->id || !*r->id))
		err = dw_yaml_bad(c, n, "a rule needs an id");
	if (!err && (!r->regex || !*r->regex))
		err = dw_yaml_bad(c, n, "a rule needs a regex");
	return err;
}

static int parse_rules(struct dw_yaml *c, struct dw_config *cfg, yaml_node_t *n)
{
	yaml_node_item_t *it;
	size_t alloc = 0;
	int err = 0;

	if (n->type != YAML_SEQUENCE_NODE)
		return dw_yaml_bad(c, n, "rules must be a list");
	for (it = n->data.sequence.items.start;
	     !err && it < n->data.sequence.items.top; it++) {
		DW_ALLOC_GROW(cfg->rules, cfg->nrules + 1, alloc);
		err = parse_rule(c, dw_yaml_node(c, *it),
				 &cfg->rules[cfg->nrules]);
		cfg->nrules++;
	}
	return err;
}

static int top_field(struct dw_yaml *c, struct dw_config *cfg, const char *key,
		     yaml_node_t *v)
{
	if (!strcmp(key, "rules"))
		return parse_rules(c, cfg, v);
	if (!strcmp(key, "disable"))
		return dw_yaml_strings(c, v, &cfg->disabled, &cfg->ndisabled);
	if (!strcmp(key, "allow_paths"))
		return dw_yaml_strings(c, v, &cfg->allow_paths, &cfg->nallow);
	if (!strcmp(key, "ignore_fingerprints"))
		return dw_yaml_strings(c, v, &cfg->ignored, &cfg->nignored);
	if (!strcmp(key, "command")) {
		int err = dw_yaml_strings(c, v, &cfg->command, &cfg->ncommand);

		if (!err && !cfg->ncommand)
			err = dw_yaml_bad(c, v, "command needs a program");
		if (!err) {
			/* execvp() wants the argv NULL-terminated. */
			cfg->command = dw_xreallocarray(cfg->command,
							cfg->ncommand + 1,
							sizeof(char *));
			cfg->command[cfg->ncommand] = NULL;
		}
		return err;
	}
	if (!strcmp(key, "command_timeout")) {
		const char *sv = dw_yaml_scalar(v);
		char *end;
		long n = sv ? strtol(sv, &end, 10) : 0;

		if (!sv || *end || n < 1 || n > 3600)
			return dw_yaml_bad(c, v,
					   "command_timeout is 1 to 3600 "
					   "seconds");
		cfg->command_timeout = (int)n;
		return 0;
	}
	if (!strcmp(key, "redact_keep")) {
		const char *sv = dw_yaml_scalar(v);
		char *end;
		long n = sv ? strtol(sv, &end, 10) : -1;

		if (!sv || !*sv || *end || n < 0 || n > DW_REDACT_KEEP_MAX)
			return dw_yaml_bad(c, v, "redact_keep is 0 to 8");
		cfg->engine.redact_keep = (int)n;
		cfg->engine.redact_keep_set = 1;
		return 0;
	}
	if (!strcmp(key, "max_file_size")) {
		if (!dw_yaml_scalar(v) ||
		    dw_parse_size(&cfg->max_file_size, dw_yaml_scalar(v)))
			return dw_yaml_bad(c, v,
					   "max_file_size must be a size "
					   "such as 100MiB");
		return 0;
	}
	return dw_yaml_bad(c, v, "unknown key");
}

static int parse_doc(struct dw_yaml *c, struct dw_config *cfg)
{
	yaml_node_t *root = yaml_document_get_root_node(&c->doc);
	yaml_node_pair_t *p;
	int err = 0;

	if (!root)
		return 0; /* an empty file is an empty configuration */
	if (root->type != YAML_MAPPING_NODE)
		return dw_yaml_bad(c, root,
				   "the configuration must be a mapping");
	for (p = root->data.mapping.pairs.start;
	     !err && p < root->data.mapping.pairs.top; p++) {
		yaml_node_t *k = dw_yaml_node(c, p->key);
		yaml_node_t *v = dw_yaml_node(c, p->value);

		err = dw_yaml_scalar(k)
			      ? top_field(c, cfg, dw_yaml_scalar(k), v)
			      : dw_yaml_bad(c, k, "expected a key");
	}
	return err;
}

/* The engine's view of the lists the configuration owns. */
static void point_engine(struct dw_config *cfg)
{
	cfg->engine.custom = cfg->rules;
	cfg->engine.ncustom = cfg->nrules;
	cfg->engine.disabled = cfg->disabled;
	cfg->engine.ndisabled = cfg->ndisabled;
	cfg->engine.ignored = cfg->ignored;
	cfg->engine.nignored = cfg->nignored;
}

int dw_config_load(struct dw_config *cfg, const char *path)
{
	struct dw_yaml y;
	int err;

	memset(cfg, 0, sizeof(*cfg));
	err = dw_yaml_load(&y, path);
	if (err)
		return err;
	err = parse_doc(&y, cfg);
	dw_yaml_release(&y);
	point_engine(cfg);
	if (err)
		dw_config_release(cfg);
	return err;
}

void dw_config_release(struct dw_config *cfg)
{
	size_t i;

	for (i = 0; i < cfg->nrules; i++) {
		free(cfg->rules[i].id);
		free(cfg->rules[i].description);
		free(cfg->rules[i].regex);
		dw_strv_free(cfg->rules[i].keywords, cfg->rules[i].nkeywords);
	}
	free(cfg->rules);
	dw_strv_free(cfg->disabled, cfg->ndisabled);
	dw_strv_free(cfg->allow_paths, cfg->nallow);
	dw_strv_free(cfg->ignored, cfg->nignored);
	dw_strv_free(cfg->command, cfg->ncommand);
	memset(cfg, 0, sizeof(*cfg));
}

/* Move the `*n` strings of `*from` to the end of `*to` (`*nto`). */
static void move_strv(char ***to, size_t *nto, char ***from, size_t *n)
{
	size_t alloc = *nto;

	if (!*n)
		return;
	DW_ALLOC_GROW(*to, *nto + *n, alloc);
	memcpy(*to + *nto, *from, *n * sizeof(char *));
	*nto += *n;
	free(*from);
	*from = NULL;
	*n = 0;
}

void dw_config_merge(struct dw_config *dst, struct dw_config *src)
{
	size_t alloc = dst->nrules;

	if (src->nrules) {
		DW_ALLOC_GROW(dst->rules, dst->nrules + src->nrules, alloc);
		memcpy(dst->rules + dst->nrules, src->rules,
		       src->nrules * sizeof(*src->rules));
		dst->nrules += src->nrules;
		free(src->rules);
		src->rules = NULL;
		src->nrules = 0;
	}
	move_strv(&dst->disabled, &dst->ndisabled, &src->disabled,
		  &src->ndisabled);
	move_strv(&dst->allow_paths, &dst->nallow, &src->allow_paths,
		  &src->nallow);
	move_strv(&dst->ignored, &dst->nignored, &src->ignored, &src->nignored);
	if (!dst->max_file_size)
		dst->max_file_size = src->max_file_size;
	/*
	 * A program comes from the trusted side only: src's is dropped. So
	 * is its redact_keep: scanned content cannot make its own secrets
	 * shown in a CI log (dst->engine is kept as it is).
	 */
	dw_config_release(src);
	point_engine(dst);
}

int dw_config_path_allowed(const struct dw_config *cfg, const char *path)
{
	size_t i;

	for (i = 0; i < cfg->nallow; i++)
		if (dw_glob_match_rel(cfg->allow_paths[i], path))
			return 1;
	return 0;
}
