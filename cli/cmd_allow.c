/*
 * driftwatch allow suggest: allow rules proposed from the store's history,
 * for a person to review: the paths that drift in every container of an
 * image (or in at least --min-containers of them), gathered into a
 * directory glob where three or more lie side by side, and the image
 * binaries that made them (a rule by process).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "cli.h"
#include "opt.h"
#include "driftwatch/buf.h"
#include "driftwatch/error.h"
#include "driftwatch/escape.h"
#include "driftwatch/json.h"
#include "driftwatch/xmalloc.h"
#include "store.h"

#include "driftwatch/banned.h"

/* Paths side by side in one directory from which a glob is proposed. */
#define GLOB_FROM 3
/* An exe that made at least this many of an image's paths: a rule. */
#define PROCESS_FROM 3

static const struct dw_opt opts[] = {
	{'c', "container", "C",
	 "only this container's history (name, id or id prefix)", 0},
	{'s', "since", "TIME", "only events since TIME (as events --since)", 0},
	{'m', "min-containers", "N",
	 "a path drifts in at least N containers of its image (default: in "
	 "every one)",
	 0},
	{'d', "db", "PATH", "the store (default " DW_STORE_DEFAULT_PATH ")", 0},
	{0, NULL, NULL, NULL, 0},
};

static const char *const synopsis[] = {
	"allow suggest [--container C] [--since TIME] [--min-containers N] "
	"[--db PATH]",
	NULL,
};

static const struct dw_cmd_help help = {
	"allow", synopsis,
	"Propose allow rules (driftwatch.yaml(5)) from the recorded history, "
	"as YAML\nto review: what drifts in every container of an image, and "
	"the image\nbinaries that write it. Nothing is changed.",
	opts};

/*
 * What the history says, by image:
 *   {image: {"containers": {id: 1}, "paths": {path: {"containers":
 *    {id: 1}, "exes": {exe: 1}}}, "critical": N, "skipped": N}}
 */
struct gather {
	json_t *ids;	/* container id -> image */
	json_t *images; /* as above */
	size_t events;
};

static int on_container(const struct dw_container_row *r, void *ctx)
{
	struct gather *g = ctx;

	json_object_set_new(g->ids, r->id,
			    json_string(r->image ? r->image : ""));
	return 0;
}

static json_t *image_of(struct gather *g, const char *image)
{
	json_t *im = json_object_get(g->images, image);

	if (!im) {
		im = json_pack("{s:o, s:o, s:i, s:i, s:i, s:i}", "containers",
			       json_object(), "paths", json_object(),
			       "critical", 0, "skipped", 0, "deleted", 0,
			       "sensitive", 0);
		json_object_set_new(g->images, image, im);
	}
	return im;
}

static void bump(json_t *o, const char *key)
{
	json_object_set_new(
		o, key,
		json_integer(json_integer_value(json_object_get(o, key)) + 1));
}

/* Can `p` be named exactly by a glob (no '*', '?'), in YAML, as UTF-8? */
static int nameable(const void *p, size_t n)
{
	struct dw_buf b = DW_BUF_INIT;
	int ok = n && memchr(p, '\0', n) == NULL && !memchr(p, '*', n) &&
		 !memchr(p, '?', n);

	if (ok) {
		dw_utf8_sanitize(&b, p, n);
		ok = b.len == n && !memcmp(b.ptr, p, n);
	}
	for (size_t i = 0; ok && i < n; i++)
		ok = ((const unsigned char *)p)[i] >= 0x20 &&
		     ((const unsigned char *)p)[i] != 0x7f;
	dw_buf_release(&b);
	return ok;
}

/* Where drift is a persistence or takeover foothold, never quieted by a
 * proposal (a person may still write such a rule). */
static int sensitive(const void *p, size_t n)
{
	static const char *const under[] = {
		"/bin/",	"/sbin/",	   "/usr/bin/",
		"/usr/sbin/",	"/usr/local/bin/", "/usr/local/sbin/",
		"/lib",		"/usr/lib",	   "/usr/local/lib",
		"/etc/cron",	"/var/spool/cron", "/etc/profile",
		"/etc/sudoers", "/etc/ld.so",	   "/etc/pam.d/",
		"/etc/ssh/",	"/etc/passwd",	   "/etc/shadow",
		"/etc/group",	"/etc/init.d/",	   "/etc/systemd/",
		"/root/",	"/var/www/",	   "/srv/www/",
		"/boot/",	"/etc/rc",
	};
	char path[4096];

	if (n >= sizeof(path))
		return 1;
	memcpy(path, p, n);
	path[n] = '\0';
	for (size_t i = 0; i < sizeof(under) / sizeof(under[0]); i++)
		if (!strncmp(path, under[i], strlen(under[i])))
			return 1;
	return strstr(path, "/.ssh/") || strstr(path, "site-packages/") ||
	       strstr(path, "dist-packages/") ||
	       strstr(path, "/node_modules/") || strstr(path, "/.bashrc") ||
	       strstr(path, "/.profile");
}

static int on_event(const struct dw_event *ev, void *ctx)
{
	struct gather *g = ctx;
	const char *image =
		json_string_value(json_object_get(g->ids, ev->container_id));
	json_t *im, *p, *d = NULL, *pr;
	char *path;

	if (!strcmp(ev->kind, "X") || !strcmp(ev->kind, "R") ||
	    (ev->severity && !strcmp(ev->severity, "allowed")))
		return 0;
	g->events++;
	im = image_of(g, image && *image ? image : "?");
	json_object_set_new(json_object_get(im, "containers"), ev->container_id,
			    json_true());
	if (ev->severity && !strcmp(ev->severity, "critical")) {
		/* An executable (allow rules never lower it) or an
		 * immutable container's drift: not proposed. */
		bump(im, "critical");
		return 0;
	}
	if (!strcmp(ev->kind, "D")) {
		/* A removed file is not proposed: removing an image's
		 * binaries or configuration is not drift to quiet. */
		bump(im, "deleted");
		return 0;
	}
	if (!nameable(ev->path, ev->path_len)) {
		bump(im, "skipped");
		return 0;
	}
	if (sensitive(ev->path, ev->path_len)) {
		bump(im, "sensitive");
		return 0;
	}
	path = dw_xmalloc(ev->path_len + 1);
	memcpy(path, ev->path, ev->path_len);
	path[ev->path_len] = '\0';
	p = json_object_get(json_object_get(im, "paths"), path);
	if (!p) {
		p = json_pack("{s:o, s:o}", "containers", json_object(), "exes",
			      json_object());
		json_object_set_new(json_object_get(im, "paths"), path, p);
	}
	json_object_set_new(json_object_get(p, "containers"), ev->container_id,
			    json_true());
	/* Its writer, when an image binary that did not exec around it. */
	if (ev->detail && !dw_json_parse(&d, ev->detail, strlen(ev->detail),
					 "event detail")) {
		pr = json_object_get(d, "process");
		if (json_is_true(json_object_get(pr, "exe_image")) &&
		    !json_is_true(json_object_get(pr, "exe_uncertain")) &&
		    json_is_string(json_object_get(pr, "exe")) &&
		    nameable(json_string_value(json_object_get(pr, "exe")),
			     strlen(json_string_value(
				     json_object_get(pr, "exe")))))
			json_object_set_new(
				json_object_get(p, "exes"),
				json_string_value(json_object_get(pr, "exe")),
				json_true());
	}
	json_decref(d);
	free(path);
	return 0;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The keys of `o`, sorted (the array and its strings are borrowed). */
static const char **sorted_keys(json_t *o, size_t *n)
{
	const char **v = dw_xcalloc(json_object_size(o) + 1, sizeof(*v));
	const char *k;
	json_t *x;

	*n = 0;
	json_object_foreach(o, k, x)
	{
		(void)x;
		v[(*n)++] = k;
	}
	qsort(v, *n, sizeof(*v), cmp_str);
	return v;
}

static void parent_of(const char *path, struct dw_buf *out)
{
	const char *slash = strrchr(path, '/');

	dw_buf_reset(out);
	dw_buf_add(out, path,
		   slash && slash != path ? (size_t)(slash - path) : 1);
}

/*
 * `paths` (sorted) as globs: with `glob` (seen in two containers or
 * more), a directory holding GLOB_FROM or more of them becomes
 * a glob of its entries ("dir/" and a star: not below; not / nor a top
 * directory);
 * the rest stay as they are. Appended to `out` (a JSON array).
 */
static void collapse(const char **paths, size_t n, int glob, json_t *out)
{
	struct dw_buf dir = DW_BUF_INIT, cur = DW_BUF_INIT;
	json_t *dirs = json_object();
	size_t i;

	for (i = 0; i < n; i++) {
		parent_of(paths[i], &dir);
		bump(dirs, dir.ptr);
	}
	for (i = 0; i < n; i++) {
		const char *d;
		size_t depth = 0;

		parent_of(paths[i], &dir);
		d = dir.ptr;
		for (const char *q = d; *q; q++)
			depth += *q == '/';
		if (glob &&
		    json_integer_value(json_object_get(dirs, d)) >= GLOB_FROM &&
		    depth >= 2) {
			dw_buf_reset(&cur);
			dw_buf_addf(&cur, "%s/*", d);
			if (!json_array_size(out) ||
			    strcmp(json_string_value(json_array_get(
					   out, json_array_size(out) - 1)),
				   cur.ptr))
				json_array_append_new(out,
						      json_string(cur.ptr));
		} else {
			json_array_append_new(out, json_string(paths[i]));
		}
	}
	json_decref(dirs);
	dw_buf_release(&dir);
	dw_buf_release(&cur);
}

/* A shell or an interpreter: whatever it runs is it, to a rule. */
static int interpreter(const char *exe)
{
	static const char *const names[] = {
		"sh",	  "bash",  "dash", "ash",  "zsh", "busybox",
		"python", "perl",  "ruby", "node", "php", "lua",
		"java",	  "tclsh", "pwsh", "env",
	};
	const char *b = strrchr(exe, '/');

	b = b ? b + 1 : exe;
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (!strncmp(b, names[i], strlen(names[i])))
			return 1;
	return 0;
}

/* A YAML double-quoted scalar (JSON's escapes are YAML's). */
static void yq(const char *s)
{
	json_t *v = json_string(s);
	char *j = v ? json_dumps(v, JSON_ENCODE_ANY) : NULL;

	fputs(j ? j : "\"\"", stdout);
	free(j);
	json_decref(v);
}

static void print_list(json_t *a)
{
	size_t i;
	json_t *v;

	putchar('[');
	json_array_foreach(a, i, v)
	{
		if (i)
			fputs(", ", stdout);
		yq(json_string_value(v));
	}
	putchar(']');
}

/* The counts kept per image of what is not proposed, and what to say. */
static const char *const unproposed[][2] = {
	{"critical", "critical changes not proposed: an executable needs "
		     "allow_executables\n  # (naming the image), an immutable "
		     "container is meant to change nothing"},
	{"deleted", "removals not proposed"},
	{"sensitive", "changes not proposed: under binaries, libraries, cron, "
		      "init,\n  # ssh, sudoers, login scripts, web roots or "
		      "language packages"},
	{"skipped", "changes not proposed: their paths have '*', '?', control "
		    "characters\n  # or bytes that are not UTF-8, which a rule "
		    "cannot name exactly"},
};

/* One image's rules. Returns how many. */
static int suggest_image(const char *image, json_t *im, long min)
{
	json_t *paths = json_object_get(im, "paths"), *byexe = json_object();
	size_t nc = json_object_size(json_object_get(im, "containers"));
	size_t need = min > 0 ? (size_t)min : nc, np, ne, i;
	const char **pk = sorted_keys(paths, &np), **ek;
	const char **rest = dw_xcalloc(np + 1, sizeof(*rest));
	size_t nrest = 0;
	int rules = 0;

	/* The paths that drift in enough containers; each either under a
	 * rule of the exe that made it (when that exe made PROCESS_FROM
	 * or more) or in the image's rule by path. */
	for (i = 0; i < np; i++) {
		json_t *p = json_object_get(paths, pk[i]);
		const char *exe;
		json_t *x;

		if (json_object_size(json_object_get(p, "containers")) < need)
			continue;
		json_object_foreach(json_object_get(p, "exes"), exe, x)
		{
			json_t *l = json_object_get(byexe, exe);

			if (!l)
				json_object_set_new(byexe, exe,
						    l = json_array());
			json_array_append_new(l, json_string(pk[i]));
		}
	}
	ek = sorted_keys(byexe, &ne);
	for (i = 0; i < np; i++) {
		json_t *p = json_object_get(paths, pk[i]);
		int taken = 0;

		if (json_object_size(json_object_get(p, "containers")) < need)
			continue;
		for (size_t j = 0; j < ne && !taken; j++)
			taken = json_array_size(json_object_get(
					byexe, ek[j])) >= PROCESS_FROM &&
				json_object_get(json_object_get(p, "exes"),
						ek[j]);
		if (!taken)
			rest[nrest++] = pk[i];
	}
	printf("  # image ");
	yq(image);
	printf(": %zu container%s in the history; paths that drifted in %zu "
	       "or more\n",
	       nc, nc == 1 ? "" : "s", need);
	for (i = 0; i < ne; i++) {
		json_t *l = json_object_get(byexe, ek[i]), *globs;
		const char **v;
		size_t n;

		if (json_array_size(l) < PROCESS_FROM)
			continue;
		v = dw_xcalloc(json_array_size(l) + 1, sizeof(*v));
		for (n = 0; n < json_array_size(l); n++)
			v[n] = json_string_value(json_array_get(l, n));
		globs = json_array();
		collapse(v, n, nc >= 2 && need >= 2, globs);
		printf("  # %zu paths written by this image binary\n", n);
		if (interpreter(ek[i]))
			printf("  # it is an interpreter or a shell: every "
			       "script it runs matches this rule\n");
		printf("  - image: ");
		yq(image);
		printf("\n    process: ");
		yq(ek[i]);
		printf("\n    paths: ");
		print_list(globs);
		putchar('\n');
		json_decref(globs);
		free(v);
		rules++;
	}
	if (nrest) {
		json_t *globs = json_array();

		collapse(rest, nrest, nc >= 2 && need >= 2, globs);
		printf("  - image: ");
		yq(image);
		printf("\n    paths: ");
		print_list(globs);
		putchar('\n');
		json_decref(globs);
		rules++;
	}
	/* What was not proposed, and why: a count each. */
	for (i = 0; i < sizeof(unproposed) / sizeof(unproposed[0]); i++) {
		long long c = (long long)json_integer_value(
			json_object_get(im, unproposed[i][0]));

		if (c)
			printf("  # %lld %s\n", c, unproposed[i][1]);
	}
	if (!rules)
		printf("  # (nothing drifted in %zu or more of its "
		       "containers)\n",
		       need);
	free(pk);
	free(ek);
	free(rest);
	json_decref(byexe);
	return rules;
}

int cmd_allow(struct dw_cli *cli, int argc, char **argv)
{
	const char *db = DW_STORE_DEFAULT_PATH;
	struct dw_event_query q = {NULL, 0, NULL, 0, NULL, NULL};
	struct gather g = {json_object(), json_object(), 0};
	struct dw_store *s = NULL;
	struct dw_opts p;
	const char **ik;
	long min = 0;
	size_t ni;
	int c, err, rules = 0;

	(void)cli;
	if (argc < 2 || strcmp(argv[1], "suggest")) {
		json_decref(g.ids);
		json_decref(g.images);
		if (argc >= 2 &&
		    (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
			dw_opts_usage(&help, stdout);
			return DW_EXIT_OK;
		}
		return dw_opts_usage_error(&help);
	}
	dw_opts_init(&p, &help, argc - 1, argv + 1);
	while ((c = dw_opts_next(&p)) != -1) {
		char *end;

		switch (c) {
		case 'c': q.container = optarg; break;
		case 's':
			if (dw_cli_parse_time(&q.since, optarg))
				err = dw_cli_fail("allow", DW_EXIT_USAGE,
						  "bad time '%s'", optarg);
			else
				break;
			goto out;
		case 'm':
			min = strtol(optarg, &end, 10);
			if (*end || end == optarg || min < 1 || min > 1000000) {
				err = dw_cli_fail("allow", DW_EXIT_USAGE,
						  "--min-containers is a "
						  "number from 1");
				goto out;
			}
			break;
		case 'd': db = optarg; break;
		case DW_OPT_EXIT: err = p.exit; goto out;
		default: err = dw_opts_usage_error(&help); goto out;
		}
	}
	if (optind != argc - 1) {
		err = dw_opts_usage_error(&help);
		goto out;
	}
	if (dw_store_open(&s, db, 1)) {
		err = dw_cli_fail("allow", DW_EXIT_ERROR, "%s",
				  dw_error_last());
		goto out;
	}
	err = dw_store_containers(s, 1, NULL, on_container, &g);
	if (!err)
		err = dw_store_events(s, &q, on_event, &g);
	dw_store_close(s);
	if (err) {
		err = dw_cli_fail("allow",
				  err == DW_ENOTFOUND ? DW_EXIT_NOTFOUND
						      : DW_EXIT_ERROR,
				  "%s", dw_error_last());
		goto out;
	}
	printf("# driftwatch allow suggest: from %zu events (not allowed "
	       "already) in %s.\n# Review before use: each rule allows what "
	       "it names in every container of its image.\nallow:\n",
	       g.events, db);
	ik = sorted_keys(g.images, &ni);
	for (size_t i = 0; i < ni; i++)
		rules += suggest_image(ik[i], json_object_get(g.images, ik[i]),
				       min);
	free(ik);
	if (!rules)
		printf("  []\n");
	err = DW_EXIT_OK;
out:
	json_decref(g.ids);
	json_decref(g.images);
	return err;
}
