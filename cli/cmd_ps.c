/*
 * driftwatch ps: every container the store knows, whatever its runtime,
 * with its identity, its drift and what driftwatch sees of it.
 */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "opt.h"
#include "driftwatch/buf.h"
#include "driftwatch/error.h"
#include "driftwatch/escape.h"
#include "driftwatch/json.h"
#include "store.h"
#include "driftwatch/banned.h"

static const struct dw_opt opts[] = {
	{'a', "all", NULL, "stopped and removed containers too", 0},
	{'n', "namespace", "NS",
	 "only the containers of pods in this "
	 "Kubernetes namespace",
	 0},
	{'f', "format", "FMT", "text (default) or json", 0},
	{'d', "db", "PATH", "the store (default " DW_STORE_DEFAULT_PATH ")", 0},
	{0, NULL, NULL, NULL, 0},
};

static const char *const synopsis[] = {
	"ps [--all] [--namespace NS] [--format text|json] [--db PATH]",
	NULL,
};

static const struct dw_cmd_help help = {"ps", synopsis, NULL, opts};

static const char *str(json_t *o, const char *key)
{
	const char *s = json_string_value(json_object_get(o, key));

	return s ? s : "";
}

static int on_container(const struct dw_container_row *r, void *ctx)
{
	json_t *labels = json_loads(r->labels ? r->labels : "{}", 0, NULL);
	json_t *o = json_pack(
		"{s:s, s:s, s:s, s:s, s:s, s:I, s:I, s:I, s:o}", "id", r->id,
		"name", r->name, "runtime", r->runtime, "image", r->image,
		"state", r->state, "drift", (json_int_t)r->drift, "first_seen",
		(json_int_t)r->first_seen, "last_seen",
		(json_int_t)r->last_seen, "coverage", json_array());

	if (json_is_object(labels)) {
		static const char *const k8s[][2] = {
			{"namespace", "io.kubernetes.pod.namespace"},
			{"pod", "io.kubernetes.pod.name"},
			{"container", "io.kubernetes.container.name"},
		};
		size_t i;

		for (i = 0; i < sizeof(k8s) / sizeof(k8s[0]); i++)
			if (json_is_string(json_object_get(labels, k8s[i][1])))
				json_object_set(
					o, k8s[i][0],
					json_object_get(labels, k8s[i][1]));
		json_object_set(o, "labels", labels);
	}
	json_decref(labels);
	json_array_append_new(ctx, o);
	return 0;
}

/* Each coverage row onto its container's "coverage". A container with
 * coverage and no row of its own (never watched: a storage driver, a
 * runtime that did not answer) is listed too: "not watched". */
struct listing {
	json_t *list;
	int add; /* list containers known only by their coverage */
};

static int on_coverage(const struct dw_coverage_row *r, void *ctx)
{
	struct listing *l = ctx;
	json_t *c, *hit = NULL;
	size_t i;

	json_array_foreach(l->list, i, c)
	{
		if (!strcmp(str(c, "id"), r->container_id)) {
			hit = c;
			break;
		}
	}
	if (!hit && !l->add)
		return 0;
	if (!hit) {
		hit = json_pack("{s:s, s:s, s:s, s:s, s:s, s:i, s:o}", "id",
				r->container_id, "name", r->name, "runtime", "",
				"image", "", "state", "not watched", "drift", 0,
				"coverage", json_array());
		json_array_append_new(l->list, hit);
	}
	json_array_append_new(json_object_get(hit, "coverage"),
			      json_pack("{s:s, s:s, s:s, s:s}", "facet",
					r->facet, "state", r->state, "reason",
					r->reason, "detail", r->detail));
	return 0;
}

/* A facet every container lacks (not built, turned off): said once. */
static int absent(json_t *f)
{
	return !strcmp(str(f, "reason"), "not-built") ||
	       !strcmp(str(f, "reason"), "disabled");
}

/* One line of text from a string a container chose. */
static void esc(struct dw_buf *b, const char *s)
{
	dw_buf_reset(b);
	dw_escape_path(b, s, strlen(s));
}

static void print_text(json_t *list)
{
	struct dw_buf name = DW_BUF_INIT, image = DW_BUF_INIT;
	struct dw_buf cover = DW_BUF_INIT, gone = DW_BUF_INIT;
	int wn = 4, wi = 5;
	json_t *c, *f;
	size_t i, j;

	json_array_foreach(list, i, c)
	{
		esc(&name, str(c, "name"));
		esc(&image, str(c, "image"));
		wn = name.len > (size_t)wn ? (int)name.len : wn;
		wi = image.len > (size_t)wi ? (int)image.len : wi;
	}
	wn = wn > 48 ? 48 : wn;
	wi = wi > 32 ? 32 : wi;
	printf("%-*s  %-12s  %-10s  %-*s  %-11s  %6s  %s\n", wn, "NAME", "ID",
	       "RUNTIME", wi, "IMAGE", "STATE", "DRIFT", "NOT SEEN");
	json_array_foreach(list, i, c)
	{
		dw_buf_reset(&cover);
		json_array_foreach(json_object_get(c, "coverage"), j, f)
		{
			char item[128];

			if (!strcmp(str(f, "state"), "monitored"))
				continue;
			if (absent(f)) {
				snprintf(item, sizeof(item), "%s (%s)",
					 str(f, "facet"), str(f, "reason"));
				if (!strstr(gone.ptr ? gone.ptr : "", item))
					dw_buf_addf(&gone, "%s%s",
						    gone.len ? ", " : "", item);
				continue;
			}
			dw_buf_addf(&cover, "%s%s %s (%s)",
				    cover.len ? ", " : "", str(f, "facet"),
				    str(f, "state"), str(f, "reason"));
		}
		esc(&name, str(c, "name"));
		esc(&image, str(c, "image"));
		printf("%-*s  %-12.12s  %-10s  %-*s  %-11s  %6lld  %s\n", wn,
		       name.ptr, str(c, "id"), str(c, "runtime"), wi,
		       image.ptr ? image.ptr : "", str(c, "state"),
		       (long long)json_integer_value(
			       json_object_get(c, "drift")),
		       strcmp(str(c, "state"), "stopped") &&
				       strcmp(str(c, "state"), "removed")
			       ? (cover.len ? cover.ptr : "-")
			       : "");
	}
	if (gone.len)
		printf("\nnot seen on any container: %s\n", gone.ptr);
	dw_buf_release(&name);
	dw_buf_release(&image);
	dw_buf_release(&cover);
	dw_buf_release(&gone);
}

int cmd_ps(struct dw_cli *cli, int argc, char **argv)
{
	const char *db = DW_STORE_DEFAULT_PATH, *ns = NULL;
	int c, all = 0, json = 0, err;
	struct dw_store *s = NULL;
	struct dw_opts p;
	json_t *list;

	(void)cli;
	dw_opts_init(&p, &help, argc, argv);
	while ((c = dw_opts_next(&p)) != -1) {
		switch (c) {
		case 'a': all = 1; break;
		case 'n': ns = optarg; break;
		case 'f':
			if (strcmp(optarg, "text") && strcmp(optarg, "json"))
				return dw_cli_fail("ps", DW_EXIT_USAGE,
						   "unknown format '%s'",
						   optarg);
			json = !strcmp(optarg, "json");
			break;
		case 'd': db = optarg; break;
		case DW_OPT_EXIT: return p.exit;
		default: return dw_opts_usage_error(&help);
		}
	}
	if (optind != argc)
		return dw_opts_usage_error(&help);
	/* Read-only: works while the daemon writes, and when it is down. */
	if (dw_store_open(&s, db, 1))
		return dw_cli_fail("ps", DW_EXIT_ERROR, "%s", dw_error_last());
	list = json_array();
	err = dw_store_containers(s, all, ns, on_container, list);
	if (!err) {
		/* (Those have no pod labels: not listed by namespace.) */
		struct listing l = {list, ns == NULL};

		err = dw_store_coverage(s, NULL, on_coverage, &l);
	}
	dw_store_close(s);
	if (err) {
		json_decref(list);
		return dw_cli_fail("ps", DW_EXIT_ERROR, "%s", dw_error_last());
	}
	if (json) {
		struct dw_buf b = DW_BUF_INIT;

		dw_json_dump(&b, list, JSON_PRESERVE_ORDER);
		dw_buf_addch(&b, '\n');
		fwrite(b.ptr, 1, b.len, stdout);
		dw_buf_release(&b);
	} else {
		print_text(list);
	}
	json_decref(list);
	return DW_EXIT_OK;
}
