/* driftwatchd's configuration and drift policy. */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "driftwatch/config.h"
#include "driftwatch/glob.h"
#include "driftwatch/error.h"
#include "driftwatch/xmalloc.h"
#include "driftwatch/yamldoc.h"
#include "policy.h"
#include "store.h"
#include "driftwatch/banned.h"

static void free_strv(char **v, size_t n)
{
	while (n--)
		free(v[n]);
	free(v);
}

static void free_rules(struct dw_allow_rule *r, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		free(r[i].image);
		free(r[i].label);
		free(r[i].k8s_namespace);
		free(r[i].k8s_pod);
		free_strv(r[i].paths, r[i].npaths);
		free_strv(r[i].processes, r[i].nprocesses);
	}
	free(r);
}

static void output_release(struct dw_output_cfg *o)
{
	free(o->path);
	free(o->ca);
	free(o->cert);
	free(o->key);
	free(o->sd_id);
	free_strv(o->headers, o->nheaders);
}

void dw_policy_release(struct dw_policy *p)
{
	size_t i;

	free(p->db);
	free(p->docker_host);
	free(p->host_root);
	free(p->ignore_label);
	free(p->immutable_label);
	free(p->snapshot_dir);
	free(p->signing_key);
	free(p->pod_logs);
	free(p->metrics_listen);
	free_strv(p->high_paths, p->nhigh);
	free_strv(p->webhooks, p->nwebhooks);
	free_strv(p->logs, p->nlogs);
	free_strv(p->command, p->ncommand);
	for (i = 0; i < p->ndrops; i++) {
		free(p->drops[i].path);
		free(p->drops[i].kind);
	}
	free(p->drops);
	for (i = 0; i < p->noutputs; i++)
		output_release(&p->outputs[i]);
	free(p->outputs);
	free_rules(p->allow, p->nallow);
	free_rules(p->allow_exec, p->nallow_exec);
	free_rules(p->immutable, p->nimmutable);
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

enum rule_kind { RULE_ALLOW, RULE_EXEC, RULE_IMMUTABLE };

static int allow_rule(struct dw_yaml *y, yaml_node_t *n,
		      struct dw_allow_rule *r, enum rule_kind kind)
{
	yaml_node_pair_t *p;
	int err = 0;

	if (n->type != YAML_MAPPING_NODE)
		return dw_yaml_bad(y, n,
				   kind == RULE_IMMUTABLE
					   ? "an immutable rule is a mapping "
					     "of image, label, namespace, pod"
					   : "an allow rule is a mapping with "
					     "paths (and image, label, "
					     "namespace, pod)");
	for (p = n->data.mapping.pairs.start;
	     !err && p < n->data.mapping.pairs.top; p++) {
		const char *k = dw_yaml_scalar(dw_yaml_node(y, p->key));
		yaml_node_t *v = dw_yaml_node(y, p->value);

		if (k && !strcmp(k, "image"))
			err = string(y, v, &r->image);
		else if (k && !strcmp(k, "label"))
			err = string(y, v, &r->label);
		else if (k && !strcmp(k, "namespace"))
			err = string(y, v, &r->k8s_namespace);
		else if (k && !strcmp(k, "pod"))
			err = string(y, v, &r->k8s_pod);
		else if (k && !strcmp(k, "paths") && kind != RULE_IMMUTABLE)
			err = abs_globs(y, v, &r->paths, &r->npaths);
		else if (k && !strcmp(k, "process") && kind != RULE_IMMUTABLE &&
			 dw_yaml_scalar(v)) {
			/* One, or a list. */
			if (dw_yaml_scalar(v)[0] != '/')
				err = dw_yaml_bad(y, v,
						  "a process is its absolute "
						  "exe path (a glob)");
			if (!err) {
				size_t alloc = r->nprocesses;

				DW_ALLOC_GROW(r->processes, r->nprocesses + 1,
					      alloc);
				r->processes[r->nprocesses++] =
					dw_xstrdup(dw_yaml_scalar(v));
			}
		} else if (k && !strcmp(k, "process") && kind != RULE_IMMUTABLE)
			err = abs_globs(y, v, &r->processes, &r->nprocesses);
		else
			err = dw_yaml_bad(
				y, v,
				kind == RULE_IMMUTABLE
					? "unknown key in an immutable "
					  "rule (image, label, "
					  "namespace, pod)"
					: "unknown key in an allow rule "
					  "(image, label, namespace, "
					  "pod, paths, process)");
	}
	if (!err && kind != RULE_IMMUTABLE && !r->npaths && !r->nprocesses)
		err = dw_yaml_bad(y, n, "an allow rule needs paths or process");
	if (!err && kind == RULE_IMMUTABLE && !r->image && !r->label &&
	    !r->k8s_namespace && !r->k8s_pod)
		err = dw_yaml_bad(y, n,
				  "an immutable rule names what it selects "
				  "(image, label, namespace, pod)");
	return err;
}

/*
 * A list of allow rules into `*v`, `*n`. `exec`: allow_executables,
 * whose rules must name the image (an executable allowed everywhere is
 * no rule at all) and have no label.
 */
static int allow_rules(struct dw_yaml *y, yaml_node_t *v,
		       struct dw_allow_rule **rules, size_t *n,
		       enum rule_kind kind)
{
	yaml_node_item_t *it;
	size_t alloc = *n;
	int err = 0;

	if (v->type != YAML_SEQUENCE_NODE)
		return dw_yaml_bad(y, v, "a list of rules is expected");
	for (it = v->data.sequence.items.start;
	     !err && it < v->data.sequence.items.top; it++) {
		struct dw_allow_rule *r;

		DW_ALLOC_GROW(*rules, *n + 1, alloc);
		r = &(*rules)[(*n)++];
		memset(r, 0, sizeof(*r));
		err = allow_rule(y, dw_yaml_node(y, *it), r, kind);
		if (!err && kind == RULE_EXEC && (!r->image || r->label))
			err = dw_yaml_bad(y, dw_yaml_node(y, *it),
					  "an allow_executables rule names "
					  "the image and paths (no label)");
	}
	return err;
}

/* A Kubernetes label's value ("" when absent) against a glob. */
static int k8s_match(const char *glob, const json_t *labels, const char *key)
{
	const char *v = json_string_value(json_object_get(labels, key));

	return dw_glob_match(glob, v ? v : "");
}

/* Does rule `r` select the container (image, label, namespace, pod)? */
static int selects(const struct dw_allow_rule *r, const char *image,
		   const json_t *labels)
{
	return (!r->image || dw_glob_match(r->image, image ? image : "")) &&
	       (!r->label || dw_policy_label_matches(r->label, labels)) &&
	       (!r->k8s_namespace ||
		k8s_match(r->k8s_namespace, labels,
			  "io.kubernetes.pod.namespace")) &&
	       (!r->k8s_pod ||
		k8s_match(r->k8s_pod, labels, "io.kubernetes.pod.name"));
}

int dw_policy_immutable(const struct dw_policy *p, const char *image,
			const json_t *labels)
{
	size_t i;

	if (p->immutable_label &&
	    dw_policy_label_matches(p->immutable_label, labels))
		return 1;
	for (i = 0; i < p->nimmutable; i++)
		if (selects(&p->immutable[i], image, labels))
			return 1;
	return 0;
}

/* Does a rule of `rules` fit the container and match `path` (and, when
 * it names processes, the writer's exe)? */
static int allowed_by(const struct dw_allow_rule *rules, size_t n,
		      const char *image, const json_t *labels, const char *path,
		      const char *writer_exe)
{
	size_t i, j;

	for (i = 0; i < n; i++) {
		const struct dw_allow_rule *r = &rules[i];
		int by = !r->nprocesses, at = !r->npaths;

		if (!selects(r, image, labels))
			continue;
		for (j = 0; !by && writer_exe && j < r->nprocesses; j++)
			by = dw_glob_match(r->processes[j], writer_exe);
		for (j = 0; !at && j < r->npaths; j++)
			at = dw_glob_match(r->paths[j], path);
		if (by && at)
			return 1;
	}
	return 0;
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

static int size_value(struct dw_yaml *y, yaml_node_t *v, uint64_t *out);

/* The mode of a file an output makes: octal, at most 0666. */
static int mode_value(struct dw_yaml *y, yaml_node_t *v, long *out)
{
	const char *m = dw_yaml_scalar(v);
	char *end = NULL;
	long num = m ? strtol(m, &end, 8) : -1;

	if (!m || !*m || *end || num < 0 || num > 0666)
		return dw_yaml_bad(y, v,
				   "mode is octal, at most 0666 (0600, 0640)");
	*out = num;
	return 0;
}

/* Its type, before its other keys (which depend on it). */
static int output_type(struct dw_yaml *y, yaml_node_t *n, int *type)
{
	yaml_node_pair_t *pr;

	for (pr = n->data.mapping.pairs.start; pr < n->data.mapping.pairs.top;
	     pr++) {
		const char *k = dw_yaml_scalar(dw_yaml_node(y, pr->key));
		const char *v = dw_yaml_scalar(dw_yaml_node(y, pr->value));

		if (!k || strcmp(k, "type"))
			continue;
		if (v && !strcmp(v, "jsonl"))
			*type = DW_OUTPUT_JSONL;
		else if (v && !strcmp(v, "otlp"))
			*type = DW_OUTPUT_OTLP;
		else if (v && !strcmp(v, "syslog"))
			*type = DW_OUTPUT_SYSLOG;
		else
			return dw_yaml_bad(y, dw_yaml_node(y, pr->value),
					   "an output's type is jsonl, otlp or "
					   "syslog");
		return 0;
	}
	return dw_yaml_bad(y, n,
			   "an output needs a type (jsonl, otlp, syslog)");
}

static const char *const facilities[] = {
	"kern",	  "user",   "mail",   "daemon", "auth",	    "syslog",
	"lpr",	  "news",   "uucp",   "cron",	"authpriv", "ftp",
	"ntp",	  "audit",  "alert",  "clock",	"local0",   "local1",
	"local2", "local3", "local4", "local5", "local6",   "local7",
};

/* A syslog output's keys past its type; 1: not one of them. */
static int syslog_key(struct dw_yaml *y, const char *k, yaml_node_t *v,
		      struct dw_output_cfg *o, int *err)
{
	const char *s = dw_yaml_scalar(v);
	size_t i;

	if (!strcmp(k, "address"))
		*err = string(y, v, &o->path);
	else if (!strcmp(k, "ca"))
		*err = string(y, v, &o->ca);
	else if (!strcmp(k, "cert"))
		*err = string(y, v, &o->cert);
	else if (!strcmp(k, "key"))
		*err = string(y, v, &o->key);
	else if (!strcmp(k, "sd_id"))
		*err = string(y, v, &o->sd_id);
	else if (!strcmp(k, "transport")) {
		if (s && !strcmp(s, "tcp"))
			o->transport = DW_SYSLOG_TCP;
		else if (s && !strcmp(s, "tls"))
			o->transport = DW_SYSLOG_TLS;
		else if (s && !strcmp(s, "relp"))
			o->transport = DW_SYSLOG_RELP;
		else if (s && !strcmp(s, "relp-tls"))
			o->transport = DW_SYSLOG_RELP_TLS;
		else
			*err = dw_yaml_bad(y, v,
					   "transport is tcp, tls, relp or "
					   "relp-tls");
	} else if (!strcmp(k, "facility")) {
		for (i = 0; s && i < sizeof(facilities) / sizeof(*facilities);
		     i++)
			if (!strcmp(s, facilities[i]))
				break;
		if (!s || i == sizeof(facilities) / sizeof(*facilities))
			*err = dw_yaml_bad(y, v,
					   "facility is a syslog facility "
					   "name (local0, auth, daemon, ...)");
		o->facility = (int)i;
	} else
		return 1;
	return 0;
}

/* HOST:PORT or [V6]:PORT, the port 1 to 65535. */
static int address_ok(const char *a)
{
	const char *colon = a ? strrchr(a, ':') : NULL;
	char *end = NULL;
	long port;

	if (!colon || colon == a || colon - a > 255)
		return 0;
	/* [V6]: one pair of brackets, around all of the host */
	if (*a == '[' ? colon[-1] != ']' || strchr(a + 1, ']') != colon - 1
		      : strpbrk(a, "[]") != NULL)
		return 0;
	if (strspn(colon + 1, "0123456789") != strlen(colon + 1))
		return 0;
	port = strtol(colon + 1, &end, 10);
	return colon[1] && !*end && port >= 1 && port <= 65535;
}

/* NAME@PEN (RFC 5424 7.2.2): printable, no '=', ' ', ']', '"'. */
static int sd_id_ok(const char *s)
{
	const char *at = strchr(s, '@');
	size_t n = strlen(s);

	if (!at || at == s || !at[1] || n > 32)
		return 0;
	for (; *s; s++)
		if (*s <= 32 || *s >= 127 || strchr("= ]\"", *s))
			return 0;
	for (s = at + 1; *s; s++)
		if (*s < '0' || *s > '9')
			return 0;
	return 1;
}

/*
 * One output: {type: jsonl, path, max_size, keep, fsync, mode} or
 * {type: otlp, endpoint, headers}.
 */
static int output_one(struct dw_yaml *y, yaml_node_t *n,
		      struct dw_output_cfg *o)
{
	yaml_node_pair_t *pr;
	char *fs = NULL;
	long num;
	int err = 0, jsonl;

	o->max_size = 100ULL << 20;
	o->keep = 5;
	o->mode = 0600;
	o->facility = 16; /* local0 */
	o->summarise = 1000;
	if (n->type != YAML_MAPPING_NODE)
		return dw_yaml_bad(y, n,
				   "an output is {type: jsonl, path, ...} or "
				   "{type: otlp, endpoint, ...}");
	err = output_type(y, n, &o->type);
	jsonl = o->type == DW_OUTPUT_JSONL;
	for (pr = n->data.mapping.pairs.start;
	     !err && pr < n->data.mapping.pairs.top; pr++) {
		const char *k = dw_yaml_scalar(dw_yaml_node(y, pr->key));
		yaml_node_t *v = dw_yaml_node(y, pr->value);

		if (!k)
			err = dw_yaml_bad(y, v, "expected a key");
		else if (!strcmp(k, "type"))
			continue;
		else if (!strcmp(k, "summarise")) {
			err = number(y, v, 0, 1000000, &num);
			o->summarise = num;
		} else if (jsonl && !strcmp(k, "path"))
			err = string(y, v, &o->path);
		else if (jsonl && !strcmp(k, "max_size"))
			err = size_value(y, v, &o->max_size);
		else if (jsonl && !strcmp(k, "keep")) {
			err = number(y, v, 0, 1000, &num);
			o->keep = num;
		} else if (jsonl && !strcmp(k, "fsync"))
			err = string(y, v, &fs);
		else if (jsonl && !strcmp(k, "mode"))
			err = mode_value(y, v, &o->mode);
		else if (o->type == DW_OUTPUT_OTLP && !strcmp(k, "endpoint"))
			err = string(y, v, &o->path);
		else if (o->type == DW_OUTPUT_OTLP && !strcmp(k, "headers"))
			err = dw_yaml_strings(y, v, &o->headers, &o->nheaders);
		else if (o->type != DW_OUTPUT_SYSLOG ||
			 syslog_key(y, k, v, o, &err))
			err = dw_yaml_bad(
				y, v,
				jsonl ? "unknown key in a jsonl output (type, "
					"path, max_size, keep, fsync, mode, "
					"summarise)"
				: o->type == DW_OUTPUT_OTLP
					? "unknown key in an otlp output "
					  "(type, endpoint, headers, "
					  "summarise)"
					: "unknown key in a syslog output "
					  "(type, address, transport, ca, "
					  "cert, key, facility, sd_id, "
					  "summarise)");
	}
	if (!err && o->type == DW_OUTPUT_SYSLOG) {
		if (!o->sd_id)
			o->sd_id = dw_xstrdup("driftwatch@32473");
		if (!address_ok(o->path))
			err = dw_yaml_bad(y, n,
					  "a syslog output needs an address, "
					  "HOST:PORT or [V6]:PORT");
		else if (!sd_id_ok(o->sd_id))
			err = dw_yaml_bad(y, n,
					  "sd_id is NAME@PEN (your IANA "
					  "enterprise number), at most 32 "
					  "printable characters");
		else if (!DW_SYSLOG_IS_TLS(o->transport) &&
			 (o->ca || o->cert || o->key))
			err = dw_yaml_bad(y, n,
					  "ca, cert and key are for transport: "
					  "tls or relp-tls");
	}
	if (!err && jsonl && (!o->path || o->path[0] != '/'))
		err = dw_yaml_bad(y, n,
				  "a jsonl output needs an absolute path");
	if (!err && o->type == DW_OUTPUT_OTLP &&
	    (!o->path || (strncmp(o->path, "http://", 7) &&
			  strncmp(o->path, "https://", 8))))
		err = dw_yaml_bad(y, n,
				  "an otlp output needs an http(s) endpoint "
				  "(http://127.0.0.1:4318/v1/logs)");
	if (!err && o->nheaders > 32)
		err = dw_yaml_bad(y, n, "at most 32 headers");
	for (size_t i = 0; !err && i < o->nheaders; i++)
		if (!strchr(o->headers[i], ':') ||
		    strpbrk(o->headers[i], "\r\n"))
			err = dw_yaml_bad(y, n,
					  "a header is \"Name: value\" on one "
					  "line");
	if (!err && fs && strcmp(fs, "batch") && strcmp(fs, "none"))
		err = dw_yaml_bad(y, n, "fsync is batch or none");
	o->fsync = fs && !strcmp(fs, "none") ? DW_FSYNC_NONE : DW_FSYNC_BATCH;
	free(fs);
	return err;
}

/*
 * A jsonl output's path in one spelling: "//" and "/./" folded; ".."
 * and a trailing '/' refused. 0, or -1 for a bad one.
 */
static int normal_path(char *path)
{
	char *r = path, *w = path;

	while (*r) {
		if (r[0] == '/' &&
		    (r[1] == '/' || (r[1] == '.' && (r[2] == '/' || !r[2])))) {
			r += r[1] == '/' ? 1 : 2;
			continue;
		}
		if (r[0] == '/' && r[1] == '.' && r[2] == '.' &&
		    (r[3] == '/' || !r[3]))
			return -1;
		*w++ = *r++;
	}
	*w = 0;
	return w > path + 1 && w[-1] != '/' ? 0 : -1;
}

/* Does file `b` name `a` or one of its rotated files (a.N)? */
static int same_files(const char *a, const char *b)
{
	size_t n = strlen(a);

	if (strncmp(a, b, n))
		return 0;
	if (!b[n])
		return 1;
	if (b[n] != '.' || !b[n + 1])
		return 0;
	return strspn(b + n + 1, "0123456789") == strlen(b + n + 1);
}

static int outputs(struct dw_yaml *y, yaml_node_t *v, struct dw_policy *p)
{
	yaml_node_item_t *it;
	size_t alloc = p->noutputs, i;

	if (v->type != YAML_SEQUENCE_NODE)
		return dw_yaml_bad(y, v, "outputs is a list of outputs");
	for (it = v->data.sequence.items.start; it < v->data.sequence.items.top;
	     it++) {
		struct dw_output_cfg o = {0};
		yaml_node_t *n = dw_yaml_node(y, *it);
		int err = output_one(y, n, &o);

		if (!err && o.type == DW_OUTPUT_JSONL && normal_path(o.path))
			err = dw_yaml_bad(y, n,
					  "a jsonl output's path names a file "
					  "(no \"..\", no trailing '/')");
		for (i = 0; !err && i < p->noutputs; i++)
			if (p->outputs[i].type == o.type &&
			    (!strcmp(p->outputs[i].path, o.path) ||
			     (o.type == DW_OUTPUT_JSONL &&
			      (same_files(p->outputs[i].path, o.path) ||
			       same_files(o.path, p->outputs[i].path)))))
				err = dw_yaml_bad(y, n,
						  "two outputs name one file "
						  "(or one's rotated files) or "
						  "one endpoint");
		if (err) {
			output_release(&o);
			return err;
		}
		DW_ALLOC_GROW(p->outputs, p->noutputs + 1, alloc);
		p->outputs[p->noutputs++] = o;
	}
	return 0;
}

static const char *const rotate_names[] = {"off", "ask", "auto"};

const char *dw_policy_rotate_name(int rotate)
{
	return rotate_names[rotate];
}

/* One of three `names`, or `bad` said. */
static int enum_value(struct dw_yaml *y, yaml_node_t *v,
		      const char *const names[3], const char *bad, int *out)
{
	const char *s = dw_yaml_scalar(v);
	int i;

	for (i = 0; s && i < 3; i++)
		if (!strcmp(s, names[i])) {
			*out = i;
			return 0;
		}
	return dw_yaml_bad(y, v, bad);
}

static const char *const exec_names[] = {"off", "audit", "enforce"};

const char *dw_policy_exec_name(int exec)
{
	return exec_names[exec];
}

static int size_value(struct dw_yaml *y, yaml_node_t *v, uint64_t *out)
{
	const char *s = dw_yaml_scalar(v);

	if (!s || dw_parse_size(out, s))
		return dw_yaml_bad(y, v, "expected a size (16MiB, 4096, ...)");
	return 0;
}

static int command_value(struct dw_yaml *y, yaml_node_t *v, struct dw_policy *p)
{
	size_t alloc;
	int err = dw_yaml_strings(y, v, &p->command, &p->ncommand);

	if (!err && !p->ncommand)
		err = dw_yaml_bad(y, v, "command is a non-empty argv list");
	if (err)
		return err;
	alloc = p->ncommand; /* NULL-terminated for execvp */
	DW_ALLOC_GROW(p->command, p->ncommand + 1, alloc);
	p->command[p->ncommand] = NULL;
	return 0;
}

/*
 * Every key of driftwatch.yaml: its type, where it goes, its range and
 * default, and one line of help. This table parses, validates, sets the
 * defaults and documents the keys (driftwatchd --config-keys); a test
 * checks that driftwatch.yaml(5) and contrib/driftwatch.yaml name them all.
 */
enum key_type {
	K_BOOL,	      /* int */
	K_NUMBER,     /* long, from lo to hi */
	K_SIZE,	      /* uint64_t: 4096, 16MiB, ... */
	K_STRING,     /* char * */
	K_PATHS,      /* char **, size_t: absolute paths or globs */
	K_ROTATE,     /* int: DW_ROTATE_* */
	K_EXEC,	      /* int: DW_EXEC_* */
	K_ARGV,	      /* the command */
	K_WEBHOOKS,   /* JSON webhooks */
	K_SLACK,      /* Slack webhooks */
	K_ALLOW,      /* allow rules */
	K_ALLOW_EXEC, /* allow rules for executables */
	K_IMMUTABLE,  /* selectors of immutable containers */
	K_DROPS,      /* drop dirs */
	K_OUTPUTS,    /* outputs of every event */
};

static const char *const type_names[] = {
	[K_BOOL] = "bool",	  [K_NUMBER] = "number",
	[K_SIZE] = "size",	  [K_STRING] = "string",
	[K_PATHS] = "paths",	  [K_ROTATE] = "off|ask|auto",
	[K_ARGV] = "argv",	  [K_WEBHOOKS] = "urls",
	[K_SLACK] = "urls",	  [K_ALLOW] = "rules",
	[K_ALLOW_EXEC] = "rules", [K_IMMUTABLE] = "rules",
	[K_DROPS] = "dirs",	  [K_EXEC] = "off|audit|enforce",
	[K_OUTPUTS] = "outputs",
};

struct key {
	const char *name;
	enum key_type type;
	size_t off, count; /* offsetof the field (and of its count) */
	long lo, hi;	   /* K_NUMBER */
	long num;	   /* the default of numbers, bools, sizes */
	const char *str;   /* the default of strings, as text */
	const char *help;
};

#define F(f) offsetof(struct dw_policy, f)
#define NUM(name, f, lo, hi, def, help)                                        \
	{                                                                      \
		name, K_NUMBER, F(f), 0, lo, hi, def, NULL, help               \
	}
#define BOOL(name, f, def, help)                                               \
	{                                                                      \
		name, K_BOOL, F(f), 0, 0, 1, def, NULL, help                   \
	}
#define STR(name, f, def, help)                                                \
	{                                                                      \
		name, K_STRING, F(f), 0, 0, 0, 0, def, help                    \
	}
#define LIST(name, type, f, n, def, help)                                      \
	{                                                                      \
		name, type, F(f), F(n), 0, 0, 0, def, help                     \
	}

static const struct key keys[] = {
	STR("store", db, DW_STORE_DEFAULT_PATH, "the SQLite store"),
	STR("docker_host", docker_host, NULL,
	    "Docker's socket, unix:///path (default $DOCKER_HOST, else "
	    "unix:///var/run/docker.sock)"),
	STR("host_root", host_root, "/",
	    "where the host's / is seen (e.g. /host in a container): "
	    "every host path driftwatch reads (mountinfo, Docker's layer, "
	    "log and state dirs, /proc) is read under it"),
	BOOL("docker", docker, 1, "discover Docker's containers"),
	BOOL("mounts", mounts, 1,
	     "discover other runtimes' overlay mounts (mountinfo)"),
	NUM("debounce_ms", debounce_ms, 0, 10000, 20,
	    "quiet time after an event before a rescan"),
	NUM("max_delay_ms", max_delay_ms, 0, 60000, 50,
	    "the longest a dirty container waits for its rescan"),
	NUM("rescan_budget_ms", rescan_budget_ms, 100, 600000, 2000,
	    "the analysis one container's rescan may do before the others "
	    "get their turn"),
	NUM("rescan_interval", rescan_interval, 0, 86400 * 7, 900,
	    "seconds between full safety rescans; 0 turns them off"),
	NUM("poll_interval", poll_interval, 1, 86400, 10,
	    "seconds between rescans of a container without watches"),
	{"max_file_size", K_SIZE, F(max_file_size), 0, 0, 0, 16 << 20, NULL,
	 "larger files are not hashed, checked or scanned"},
	BOOL("scan_secrets", scan_secrets, 1,
	     "scan new and changed files for secrets"),
	BOOL("raise_watch_limit", raise_watch_limit, 1,
	     "raise fs.inotify.max_user_watches when it runs out (the "
	     "host's value is restored at exit)"),
	NUM("max_watch_limit", max_watch_limit, 8192, 100000000, 1048576,
	    "never raise fs.inotify.max_user_watches beyond this"),
	NUM("watch_budget", watch_budget, 16, 100000000, 200000,
	    "inotify watches one container may hold; a container with more "
	    "directories is rescanned every poll_interval instead, and its "
	    "fs facet is degraded (watch-budget)"),
	STR("ignore_label", ignore_label, "driftwatch.ignore=true",
	    "containers with this label (key or key=value) are not watched"),
	STR("immutable_label", immutable_label, "driftwatch.immutable=true",
	    "every change in containers with this label is critical"),
	LIST("immutable", K_IMMUTABLE, immutable, nimmutable, NULL,
	     "rules {image, label, namespace, pod}: every change in the "
	     "containers a rule selects is critical"),
	LIST("high_paths", K_PATHS, high_paths, nhigh,
	     "/etc /bin /sbin /usr /lib /lib32 /lib64 /libx32 /boot",
	     "changes under these paths are high (replaces the list)"),
	LIST("allow", K_ALLOW, allow, nallow, NULL,
	     "allow rules: {paths, image, label, namespace, pod}; matching "
	     "changes are "
	     "allowed, but never a new or changed executable"),
	LIST("allow_executables", K_ALLOW_EXEC, allow_exec, nallow_exec, NULL,
	     "rules {image, paths} that allow new or changed executables "
	     "and ELF files"),
	BOOL("snapshot_on_critical", snapshot_on_critical, 0,
	     "snapshot a container on its first critical drift"),
	NUM("snapshot_interval", snapshot_interval, 0, 86400 * 365, 3600,
	    "seconds between two automatic snapshots of a container"),
	STR("signing_key", signing_key, "/var/lib/driftwatch/keys/signing.key",
	    "the Ed25519 key that signs snapshots and the store's chain "
	    "heads (made when absent; \"\" leaves them unsigned)"),
	STR("snapshot_dir", snapshot_dir, "/var/lib/driftwatch/snapshots",
	    "where automatic snapshots are written"),
	{"rotate", K_ROTATE, F(rotate), 0, 0, 0, DW_ROTATE_ASK, NULL,
	 "a live leaked swarm secret: rotate it (auto), log how (ask), or "
	 "nothing (off)"},
	{"exec", K_EXEC, F(exec), 0, 0, 0, DW_EXEC_AUDIT, NULL,
	 "a process in a container executes a file that is not image "
	 "content: record and alert (audit), deny it with EPERM too "
	 "(enforce), or do not watch (off)"},
	STR("metrics_listen", metrics_listen, "",
	    "serve Prometheus metrics at GET /metrics on this loopback "
	    "address and port (127.0.0.1:9187, [::1]:9187) or unix:PATH; "
	    "\"\": none"),
	BOOL("writer_attribution", writer_attribution, 1,
	     "record the process that made each change (pid, comm, exe, "
	     "command line redacted), from a fanotify mark on the "
	     "filesystems that hold the containers' upper dirs"),
	NUM("exec_sweep_interval", exec_sweep_interval, 0, 86400, 30,
	    "seconds between two sweeps of /proc for container processes "
	    "no exec mark saw start (memfd, another filesystem, started "
	    "before the mark); 0: none"),
	{"exec_immutable", K_EXEC, F(exec_immutable), 0, 0, 0, DW_EXEC_AUDIT,
	 NULL,
	 "the same for immutable containers (immutable_label, immutable "
	 "rules): enforce suits --read-only containers"},
	LIST("logs", K_PATHS, logs, nlogs, NULL,
	     "globs of log files to follow and scan"),
	BOOL("docker_logs", docker_logs, 1,
	     "follow and scan the containers' logs"),
	BOOL("ignore_runtime_mounts", ignore_runtime_mounts, 1,
	     "the directories containerd and runc make in a container's "
	     "upper dir for its mounts (/dev, /proc, /sys, /run) are not "
	     "drift"),
	STR("pod_logs", pod_logs, "/var/log/pods",
	    "Kubernetes' pod log directory (CRI format, under host_root) "
	    "to follow and scan; \"\" turns it off"),
	LIST("drop_dirs", K_DROPS, drops, ndrops, NULL,
	     "directories where exports are dropped: {path, kind: "
	     "slack|mail|files}"),
	LIST("command", K_ARGV, command, ncommand, NULL,
	     "argv run for a leaked token driftwatch cannot rotate (the "
	     "finding on stdin)"),
	NUM("alert_burst", alert_burst, 0, 1000000, 20,
	    "alerts of one kind about one container (or source) sent at "
	    "once; past that, alert_rate a minute, and one summary says how "
	    "many more there were (0: no limit)"),
	NUM("alert_rate", alert_rate, 1, 1000000, 12,
	    "alerts of one kind about one container a minute, after "
	    "alert_burst"),
	NUM("outbox_max", outbox_max, 0, 1000000000, 100000,
	    "undelivered alerts kept for each sink; past it the oldest are "
	    "dropped and one outbox-dropped alert counts them (0: no cap)"),
	NUM("heartbeat_interval", heartbeat_interval, 0, 86400, 300,
	    "seconds between two heartbeat alerts to every sink (0: none)"),
	NUM("chain_sign_interval", chain_sign_interval, 0, 86400, 300,
	    "seconds between two signatures of the store's chain heads, "
	    "when they changed (0: only after retention and at exit)"),
	NUM("retention_days", retention_days, 0, 36500, 90,
	    "events, alerts and findings older than this are deleted "
	    "hourly (0: kept); the current drift never is"),
	NUM("retention_rows", retention_rows, 0, 1000000000, 1000000,
	    "at most this many events, alerts and findings are kept, the "
	    "newest (0: no cap)"),
	LIST("webhooks", K_WEBHOOKS, webhooks, nwebhooks, NULL,
	     "http(s) URLs that get every alert as JSON"),
	LIST("slack_webhooks", K_SLACK, webhooks, nwebhooks, NULL,
	     "Slack incoming-webhook URLs that get every alert"),
	LIST("outputs", K_OUTPUTS, outputs, noutputs, NULL,
	     "where every event goes (drift changes, findings, alerts), in "
	     "the Elastic Common Schema: {type: jsonl, path, max_size "
	     "(100MiB), keep (5), fsync: batch|none, mode (0600)} or {type: "
	     "otlp, endpoint (http(s)://HOST:4318/v1/logs), headers} or "
	     "{type: syslog, address (HOST:PORT), transport: "
	     "tcp|tls|relp|relp-tls, ca, "
	     "cert, key, facility (local0), sd_id (driftwatch@32473)}; "
	     "each with summarise (1000: a container's changes past 1000 a "
	     "minute, below high severity, as summaries; 0: every one)"),
};

#define FIELD(p, k, type) ((type *)(void *)((char *)(p) + (k)->off))

static void set_default(struct dw_policy *p, const struct key *k)
{
	const char *w;
	size_t alloc = 0;

	switch (k->type) {
	case K_BOOL:
	case K_EXEC:
	case K_ROTATE: *FIELD(p, k, int) = (int)k->num; break;
	case K_NUMBER: *FIELD(p, k, long) = k->num; break;
	case K_SIZE: *FIELD(p, k, uint64_t) = (uint64_t)k->num; break;
	case K_STRING:
		*FIELD(p, k, char *) = k->str ? dw_xstrdup(k->str) : NULL;
		break;
	case K_PATHS:
		/* Space-separated, for the table's sake. */
		for (w = k->str; w && *w; w += *w == ' ') {
			char ***list = FIELD(p, k, char **);
			size_t *n = (size_t *)(void *)((char *)p + k->count);
			size_t len = strcspn(w, " ");

			DW_ALLOC_GROW(*list, *n + 1, alloc);
			(*list)[(*n)++] = dw_xstrndup(w, len);
			w += len;
		}
		break;
	default: break;
	}
}

void dw_policy_defaults(struct dw_policy *p)
{
	size_t i;

	const char *key = getenv("DRIFTWATCH_SIGNING_KEY");

	memset(p, 0, sizeof(*p));
	for (i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
		set_default(p, &keys[i]);
	/* The key the CLI uses too, unless the configuration names one. */
	if (key && *key) {
		free(p->signing_key);
		p->signing_key = dw_xstrdup(key);
	}
}

static int set_paths(struct dw_yaml *y, yaml_node_t *v, struct dw_policy *p,
		     const struct key *k)
{
	char ***list = FIELD(p, k, char **);
	size_t *n = (size_t *)(void *)((char *)p + k->count);

	/* A list given in the file replaces the default. */
	free_strv(*list, *n);
	*list = NULL;
	*n = 0;
	return abs_globs(y, v, list, n);
}

static int set_key(struct dw_yaml *y, yaml_node_t *v, struct dw_policy *p,
		   const struct key *k)
{
	long n = 0;
	int err;

	switch (k->type) {
	case K_BOOL: return dw_yaml_bool(y, v, FIELD(p, k, int));
	case K_NUMBER:
		err = number(y, v, k->lo, k->hi, &n);
		if (!err)
			*FIELD(p, k, long) = n;
		return err;
	case K_SIZE: return size_value(y, v, FIELD(p, k, uint64_t));
	case K_STRING: return string(y, v, FIELD(p, k, char *));
	case K_PATHS: return set_paths(y, v, p, k);
	case K_ROTATE:
		return enum_value(y, v, rotate_names,
				  "rotate is auto, ask or off",
				  FIELD(p, k, int));
	case K_EXEC:
		return enum_value(y, v, exec_names,
				  "exec is audit, enforce or off",
				  FIELD(p, k, int));
	case K_ARGV: return command_value(y, v, p);
	case K_WEBHOOKS: return webhooks(y, v, p, "json");
	case K_SLACK: return webhooks(y, v, p, "slack");
	case K_ALLOW:
		return allow_rules(y, v, &p->allow, &p->nallow, RULE_ALLOW);
	case K_ALLOW_EXEC:
		return allow_rules(y, v, &p->allow_exec, &p->nallow_exec,
				   RULE_EXEC);
	case K_IMMUTABLE:
		return allow_rules(y, v, &p->immutable, &p->nimmutable,
				   RULE_IMMUTABLE);
	case K_DROPS: return drop_dirs(y, v, p);
	case K_OUTPUTS: return outputs(y, v, p);
	}
	return dw_yaml_bad(y, v, "unknown key");
}

static int field(struct dw_yaml *y, struct dw_policy *p, const char *name,
		 yaml_node_t *v)
{
	size_t i;

	for (i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
		if (!strcmp(name, keys[i].name))
			return set_key(y, v, p, &keys[i]);
	return dw_yaml_bad(y, v,
			   "unknown key (driftwatchd --config-keys "
			   "lists them)");
}

void dw_policy_print_keys(FILE *f)
{
	size_t i;

	for (i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		const struct key *k = &keys[i];

		fprintf(f, "%s (%s", k->name, type_names[k->type]);
		if (k->type == K_NUMBER)
			fprintf(f, ", %ld to %ld, default %ld", k->lo, k->hi,
				k->num);
		else if (k->type == K_BOOL)
			fprintf(f, ", default %s", k->num ? "true" : "false");
		else if (k->type == K_SIZE)
			fprintf(f, ", default %ld bytes", k->num);
		else if (k->type == K_ROTATE)
			fprintf(f, ", default %s", rotate_names[k->num]);
		else if (k->type == K_EXEC)
			fprintf(f, ", default %s", exec_names[k->num]);
		else if (k->str)
			fprintf(f, ", default %s", k->str);
		fprintf(f, ")\n    %s\n", k->help);
	}
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
		if (!err && k && !strcmp(k, "host_root") &&
		    (!p->host_root || *p->host_root != '/'))
			err = dw_yaml_bad(&y, dw_yaml_node(&y, pr->value),
					  "host_root is an absolute path");
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

enum dw_severity dw_policy_severity_by(const struct dw_policy *p,
				       const char *image, const json_t *labels,
				       int immutable, const char *path,
				       char kind, int exec_or_elf,
				       const char *writer_exe)
{
	size_t i;

	/*
	 * A new or changed executable is critical wherever it is: a path
	 * glob written for logs and caches (/tmp and all below) must not let a
	 * dropped binary through. Only allow_executables, which names the
	 * image, lowers it.
	 */
	if (kind != 'D' && exec_or_elf)
		return allowed_by(p->allow_exec, p->nallow_exec, image, labels,
				  path, writer_exe)
			       ? DW_SEV_ALLOWED
			       : DW_SEV_CRITICAL;
	if (allowed_by(p->allow, p->nallow, image, labels, path, writer_exe))
		return DW_SEV_ALLOWED;
	if (immutable)
		return DW_SEV_CRITICAL;
	for (i = 0; i < p->nhigh; i++)
		if (under(path, p->high_paths[i]))
			return DW_SEV_HIGH;
	return DW_SEV_MEDIUM;
}

int dw_policy_names_processes(const struct dw_policy *p)
{
	for (size_t i = 0; i < p->nallow; i++)
		if (p->allow[i].nprocesses)
			return 1;
	for (size_t i = 0; i < p->nallow_exec; i++)
		if (p->allow_exec[i].nprocesses)
			return 1;
	return 0;
}

enum dw_severity dw_policy_severity(const struct dw_policy *p,
				    const char *image, const json_t *labels,
				    int immutable, const char *path, char kind,
				    int exec_or_elf)
{
	return dw_policy_severity_by(p, image, labels, immutable, path, kind,
				     exec_or_elf, NULL);
}
