/* driftwatchd's configuration and drift policy. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "driftwatch/config.h"
#include "driftwatch/glob.h"
#include "driftwatch/error.h"
#include "driftwatch/xmalloc.h"
#include "driftwatch/yamldoc.h"
#include "policy.h"
#include "driftwatch/banned.h"

static const char *const default_high[] = {
	"/etc",	  "/bin",   "/sbin",   "/usr",	"/lib",
	"/lib32", "/lib64", "/libx32", "/boot",
};

void dw_policy_defaults(struct dw_policy *p)
{
	size_t i, alloc = 0;

	memset(p, 0, sizeof(*p));
	p->docker = 1;
	p->mounts = 1;
	p->debounce_ms = 20;
	p->max_delay_ms = 50;
	p->rescan_interval = 900;
	p->poll_interval = 10;
	p->max_file_size = 16u << 20;
	p->scan_secrets = 1;
	p->raise_watch_limit = 1;
	p->ignore_label = dw_xstrdup("driftwatch.ignore=true");
	p->immutable_label = dw_xstrdup("driftwatch.immutable=true");
	p->snapshot_dir = dw_xstrdup("/var/lib/driftwatch/snapshots");
	p->snapshot_interval = 3600;
	p->rotate = DW_ROTATE_ASK;
	p->docker_logs = 1;
	for (i = 0; i < sizeof(default_high) / sizeof(default_high[0]); i++) {
		DW_ALLOC_GROW(p->high_paths, p->nhigh + 1, alloc);
		p->high_paths[p->nhigh++] = dw_xstrdup(default_high[i]);
	}
}

static void free_strv(char **v, size_t n)
{
	while (n--)
		free(v[n]);
	free(v);
}

void dw_policy_release(struct dw_policy *p)
{
	size_t i;

	free(p->db);
	free(p->docker_host);
	free(p->ignore_label);
	free(p->immutable_label);
	free(p->snapshot_dir);
	free_strv(p->high_paths, p->nhigh);
	free_strv(p->webhooks, p->nwebhooks);
	free_strv(p->logs, p->nlogs);
	free_strv(p->command, p->ncommand);
	for (i = 0; i < p->ndrops; i++) {
		free(p->drops[i].path);
		free(p->drops[i].kind);
	}
	free(p->drops);
	for (i = 0; i < p->nallow; i++) {
		free(p->allow[i].image);
		free(p->allow[i].label);
		free_strv(p->allow[i].paths, p->allow[i].npaths);
	}
	free(p->allow);
	memset(p, 0, sizeof(*p));
}

static int number(struct dw_yaml *y, yaml_node_t *v, long lo, long hi,
		  long *out)
{
	const char *s = dw_yaml_scalar(v);
	char *end;
	long n;

	if (!s)
		return dw_yaml_bad(y, v, "expected a number");
	errno = 0;
	n = strtol(s, &end, 10);
	if (errno || end == s || *end || n < lo || n > hi) {
		char msg[96];

		snprintf(msg, sizeof(msg), "expected a number from %ld to %ld",
			 lo, hi);
		return dw_yaml_bad(y, v, msg);
	}
	*out = n;
	return 0;
}

static int string(struct dw_yaml *y, yaml_node_t *v, char **out)
{
	const char *s = dw_yaml_scalar(v);

	if (!s)
		return dw_yaml_bad(y, v, "expected a string");
	free(*out);
	*out = dw_xstrdup(s);
	return 0;
}

static int abs_globs(struct dw_yaml *y, yaml_node_t *v, char ***out, size_t *n)
{
	size_t i, first = *n;
	int err = dw_yaml_strings(y, v, out, n);

	for (i = first; !err && i < *n; i++)
		if ((*out)[i][0] != '/')
			err = dw_yaml_bad(y, v,
					  "paths are absolute "
					  "(start with /)");
	return err;
}

static int allow_rule(struct dw_yaml *y, yaml_node_t *n,
		      struct dw_allow_rule *r)
{
	yaml_node_pair_t *p;
	int err = 0;

	if (n->type != YAML_MAPPING_NODE)
		return dw_yaml_bad(y, n,
				   "an allow rule is a mapping with "
				   "paths (and image, label)");
	for (p = n->data.mapping.pairs.start;
	     !err && p < n->data.mapping.pairs.top; p++) {
		const char *k = dw_yaml_scalar(dw_yaml_node(y, p->key));
		yaml_node_t *v = dw_yaml_node(y, p->value);

		if (k && !strcmp(k, "image"))
			err = string(y, v, &r->image);
		else if (k && !strcmp(k, "label"))
			err = string(y, v, &r->label);
		else if (k && !strcmp(k, "paths"))
			err = abs_globs(y, v, &r->paths, &r->npaths);
		else
			err = dw_yaml_bad(y, v,
					  "unknown key in an allow rule "
					  "(image, label, paths)");
	}
	if (!err && !r->npaths)
		err = dw_yaml_bad(y, n, "an allow rule needs paths");
	return err;
}

static int allow_rules(struct dw_yaml *y, yaml_node_t *v, struct dw_policy *p)
{
	yaml_node_item_t *it;
	size_t alloc = p->nallow;
	int err = 0;

	if (v->type != YAML_SEQUENCE_NODE)
		return dw_yaml_bad(y, v, "allow is a list of rules");
	for (it = v->data.sequence.items.start;
	     !err && it < v->data.sequence.items.top; it++) {
		DW_ALLOC_GROW(p->allow, p->nallow + 1, alloc);
		memset(&p->allow[p->nallow], 0, sizeof(p->allow[0]));
		err = allow_rule(y, dw_yaml_node(y, *it),
				 &p->allow[p->nallow++]);
	}
	return err;
}

static int webhooks(struct dw_yaml *y, yaml_node_t *v, struct dw_policy *p,
		    const char *kind)
{
	char **urls = NULL;
	size_t n = 0, i, alloc = p->nwebhooks;
	int err = dw_yaml_strings(y, v, &urls, &n);

	for (i = 0; !err && i < n; i++) {
		size_t len = strlen(urls[i]) + strlen(kind) + 2;

		if (strncmp(urls[i], "http://", 7) &&
		    strncmp(urls[i], "https://", 8)) {
			err = dw_yaml_bad(y, v, "a webhook is an http(s) URL");
			break;
		}
		DW_ALLOC_GROW(p->webhooks, p->nwebhooks + 1, alloc);
		p->webhooks[p->nwebhooks] = dw_xmalloc(len);
		snprintf(p->webhooks[p->nwebhooks++], len, "%s:%s", kind,
			 urls[i]);
	}
	free_strv(urls, n);
	return err;
}

static int drop_dirs(struct dw_yaml *y, yaml_node_t *v, struct dw_policy *p)
{
	yaml_node_item_t *it;
	size_t alloc = p->ndrops;

	if (v->type != YAML_SEQUENCE_NODE)
		return dw_yaml_bad(y, v, "drop_dirs is a list of {path, kind}");
	for (it = v->data.sequence.items.start; it < v->data.sequence.items.top;
	     it++) {
		yaml_node_t *n = dw_yaml_node(y, *it);
		struct dw_drop_dir d = {NULL, NULL};
		yaml_node_pair_t *pr;
		int err = 0;

		if (n->type != YAML_MAPPING_NODE)
			return dw_yaml_bad(y, n, "a drop dir is {path, kind}");
		for (pr = n->data.mapping.pairs.start;
		     !err && pr < n->data.mapping.pairs.top; pr++) {
			const char *k =
				dw_yaml_scalar(dw_yaml_node(y, pr->key));
			yaml_node_t *val = dw_yaml_node(y, pr->value);

			if (k && !strcmp(k, "path"))
				err = string(y, val, &d.path);
			else if (k && !strcmp(k, "kind"))
				err = string(y, val, &d.kind);
			else
				err = dw_yaml_bad(y, val,
						  "unknown key in a "
						  "drop dir (path, kind)");
		}
		if (!err && (!d.path || d.path[0] != '/'))
			err = dw_yaml_bad(y, n,
					  "a drop dir needs an absolute "
					  "path");
		if (!err && !d.kind)
			d.kind = dw_xstrdup("files");
		if (!err && strcmp(d.kind, "slack") && strcmp(d.kind, "mail") &&
		    strcmp(d.kind, "files"))
			err = dw_yaml_bad(y, n,
					  "a drop dir's kind is slack, "
					  "mail or files");
		if (err) {
			free(d.path);
			free(d.kind);
			return err;
		}
		DW_ALLOC_GROW(p->drops, p->ndrops + 1, alloc);
		p->drops[p->ndrops++] = d;
	}
	return 0;
}

static const char *const rotate_names[] = {"off", "ask", "auto"};

const char *dw_policy_rotate_name(int rotate)
{
	return rotate_names[rotate];
}

static int rotate_value(struct dw_yaml *y, yaml_node_t *v, int *out)
{
	const char *s = dw_yaml_scalar(v);
	int i;

	for (i = 0; s && i < 3; i++)
		if (!strcmp(s, rotate_names[i])) {
			*out = i;
			return 0;
		}
	return dw_yaml_bad(y, v, "rotate is auto, ask or off");
}

static int size_value(struct dw_yaml *y, yaml_node_t *v, uint64_t *out)
{
	const char *s = dw_yaml_scalar(v);

	if (!s || dw_parse_size(out, s))
		return dw_yaml_bad(y, v, "expected a size (16MiB, 4096, ...)");
	return 0;
}

static int field(struct dw_yaml *y, struct dw_policy *p, const char *k,
		 yaml_node_t *v)
{
	if (!strcmp(k, "store"))
		return string(y, v, &p->db);
	if (!strcmp(k, "docker_host"))
		return string(y, v, &p->docker_host);
	if (!strcmp(k, "docker"))
		return dw_yaml_bool(y, v, &p->docker);
	if (!strcmp(k, "mounts"))
		return dw_yaml_bool(y, v, &p->mounts);
	if (!strcmp(k, "debounce_ms"))
		return number(y, v, 0, 10000, &p->debounce_ms);
	if (!strcmp(k, "max_delay_ms"))
		return number(y, v, 0, 60000, &p->max_delay_ms);
	if (!strcmp(k, "rescan_interval"))
		return number(y, v, 0, 86400 * 7, &p->rescan_interval);
	if (!strcmp(k, "poll_interval"))
		return number(y, v, 1, 86400, &p->poll_interval);
	if (!strcmp(k, "max_file_size"))
		return size_value(y, v, &p->max_file_size);
	if (!strcmp(k, "scan_secrets"))
		return dw_yaml_bool(y, v, &p->scan_secrets);
	if (!strcmp(k, "raise_watch_limit"))
		return dw_yaml_bool(y, v, &p->raise_watch_limit);
	if (!strcmp(k, "ignore_label"))
		return string(y, v, &p->ignore_label);
	if (!strcmp(k, "immutable_label"))
		return string(y, v, &p->immutable_label);
	if (!strcmp(k, "high_paths")) {
		free_strv(p->high_paths, p->nhigh);
		p->high_paths = NULL;
		p->nhigh = 0;
		return abs_globs(y, v, &p->high_paths, &p->nhigh);
	}
	if (!strcmp(k, "allow"))
		return allow_rules(y, v, p);
	if (!strcmp(k, "snapshot_on_critical"))
		return dw_yaml_bool(y, v, &p->snapshot_on_critical);
	if (!strcmp(k, "snapshot_interval"))
		return number(y, v, 0, 86400 * 365, &p->snapshot_interval);
	if (!strcmp(k, "snapshot_dir"))
		return string(y, v, &p->snapshot_dir);
	if (!strcmp(k, "rotate"))
		return rotate_value(y, v, &p->rotate);
	if (!strcmp(k, "logs"))
		return abs_globs(y, v, &p->logs, &p->nlogs);
	if (!strcmp(k, "docker_logs"))
		return dw_yaml_bool(y, v, &p->docker_logs);
	if (!strcmp(k, "drop_dirs"))
		return drop_dirs(y, v, p);
	if (!strcmp(k, "command")) {
		int err = dw_yaml_strings(y, v, &p->command, &p->ncommand);

		if (!err && !p->ncommand)
			err = dw_yaml_bad(y, v,
					  "command is a non-empty argv "
					  "list");
		if (!err) { /* NULL-terminated for execvp */
			size_t alloc = p->ncommand;

			DW_ALLOC_GROW(p->command, p->ncommand + 1, alloc);
			p->command[p->ncommand] = NULL;
		}
		return err;
	}
	if (!strcmp(k, "webhooks"))
		return webhooks(y, v, p, "json");
	if (!strcmp(k, "slack_webhooks"))
		return webhooks(y, v, p, "slack");
	return dw_yaml_bad(y, v, "unknown key");
}

int dw_policy_load(struct dw_policy *p, const char *path, int must_exist)
{
	struct dw_yaml y;
	yaml_node_t *root;
	yaml_node_pair_t *pr;
	int err;

	dw_policy_defaults(p);
	if (!must_exist && access(path, F_OK) < 0 && errno == ENOENT)
		return 0;
	err = dw_yaml_load(&y, path);
	if (err) {
		dw_policy_release(p);
		return err;
	}
	root = yaml_document_get_root_node(&y.doc);
	if (root && root->type != YAML_MAPPING_NODE)
		err = dw_yaml_bad(&y, root, "the configuration is a mapping");
	for (pr = root && !err ? root->data.mapping.pairs.start : NULL;
	     pr && !err && pr < root->data.mapping.pairs.top; pr++) {
		const char *k = dw_yaml_scalar(dw_yaml_node(&y, pr->key));

		err = k ? field(&y, p, k, dw_yaml_node(&y, pr->value))
			: dw_yaml_bad(&y, dw_yaml_node(&y, pr->key),
				      "expected a key");
	}
	dw_yaml_release(&y);
	if (err)
		dw_policy_release(p);
	return err;
}

int dw_policy_label_matches(const char *sel, const json_t *labels)
{
	const char *eq = strchr(sel, '=');
	size_t klen = eq ? (size_t)(eq - sel) : strlen(sel);
	const char *key;
	json_t *v;

	json_object_foreach((json_t *)labels, key, v)
	{
		if (strlen(key) != klen || memcmp(key, sel, klen))
			continue;
		return !eq || (json_is_string(v) &&
			       !strcmp(json_string_value(v), eq + 1));
	}
	return 0;
}

static int under(const char *path, const char *dir)
{
	size_t n = strlen(dir);

	if (strpbrk(dir, "*?"))
		return dw_glob_match(dir, path);
	while (n > 1 && dir[n - 1] == '/')
		n--;
	return !strncmp(path, dir, n) && (path[n] == '/' || !path[n]);
}

enum dw_severity dw_policy_severity(const struct dw_policy *p,
				    const char *image, const json_t *labels,
				    int immutable, const char *path, char kind,
				    int exec_or_elf)
{
	size_t i, j;

	for (i = 0; i < p->nallow; i++) {
		const struct dw_allow_rule *r = &p->allow[i];

		if (r->image && !dw_glob_match(r->image, image ? image : ""))
			continue;
		if (r->label && !dw_policy_label_matches(r->label, labels))
			continue;
		for (j = 0; j < r->npaths; j++)
			if (dw_glob_match(r->paths[j], path))
				return DW_SEV_ALLOWED;
	}
	if (immutable || (kind != 'D' && exec_or_elf))
		return DW_SEV_CRITICAL;
	for (i = 0; i < p->nhigh; i++)
		if (under(path, p->high_paths[i]))
			return DW_SEV_HIGH;
	return DW_SEV_MEDIUM;
}
