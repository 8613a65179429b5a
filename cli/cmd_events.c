/* driftwatch events: the store's drift history and current changes. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "opt.h"
#include "driftwatch/buf.h"
#include "driftwatch/error.h"
#include "driftwatch/escape.h"
#include "driftwatch/json.h"
#include "driftwatch/xmalloc.h"
#include "store.h"
#include "driftwatch/banned.h"

enum fmt { F_TEXT, F_JSON, F_JSONL, F_BODYFILE, F_TIMESKETCH };

struct out {
	enum fmt fmt;
	int current;
	json_t *all;
	size_t n;
};

static const struct dw_opt opts[] = {
	{'c', "container", "C",
	 "a container's name or id (or a prefix); "
	 "a\nKubernetes one as NAMESPACE/POD/CONTAINER",
	 0},
	{'p', "pod", "NS/POD",
	 "the containers of a Kubernetes pod (POD alone: of\nthat name in "
	 "any namespace)",
	 0},
	{'n', "namespace", "NS",
	 "the containers of pods in a Kubernetes namespace", 0},
	{'s', "since", "TIME",
	 "epoch seconds, YYYY-MM-DD[THH:MM:SS[Z]], or an "
	 "age\nsuch as 30s, 15m, 2h, 7d",
	 0},
	{'k', "kind", "K", "A, D, C, R (reverted) or X (exec)", 0},
	{'S', "severity", "S",
	 "allowed, low, medium, high or critical: that "
	 "severity\nand above",
	 0},
	{'f', "format", "FMT",
	 "text (default), json, jsonl, or a timeline:\nbodyfile or "
	 "timesketch",
	 0},
	{'C', "current", NULL,
	 "the container's current changes, not the "
	 "history",
	 0},
	{'d', "db", "PATH", "the store (default " DW_STORE_DEFAULT_PATH ")", 0},
	{0, NULL, NULL, NULL, 0},
};

static const char *const synopsis[] = {
	"events [--container C | --pod NS/POD | --namespace NS] [--since TIME]"
	"\n                  [--kind A|D|C|R|X] [--severity S] "
	"[--format text|json|jsonl]\n                  [--db PATH]",
	"events --container C --current [--db PATH]",
	NULL,
};

static const struct dw_cmd_help help = {"events", synopsis, NULL, opts};

int dw_cli_parse_time(long long *out, const char *s)
{
	struct tm tm;
	char *end;
	long long v;

	memset(&tm, 0, sizeof(tm));
	errno = 0;
	v = strtoll(s, &end, 10);
	if (!errno && end != s && !*end) {
		*out = v;
		return 0;
	}
	if (!errno && end != s && end[1] == '\0' && strchr("smhd", *end)) {
		long long mult = *end == 's'   ? 1
				 : *end == 'm' ? 60
				 : *end == 'h' ? 3600
					       : 86400;

		*out = (long long)time(NULL) - v * mult;
		return 0;
	}
	end = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm);
	if (!end) {
		memset(&tm, 0, sizeof(tm));
		end = strptime(s, "%Y-%m-%d", &tm);
	}
	if (!end || (*end && strcmp(end, "Z")))
		return -1;
	*out = (long long)timegm(&tm);
	return 0;
}

static json_t *event_json(const struct dw_event *ev)
{
	struct dw_buf p = DW_BUF_INIT;
	char when[32];
	time_t t = (time_t)ev->time;
	struct tm tm;
	json_t *o;

	dw_utf8_sanitize(&p, ev->path, ev->path_len);
	gmtime_r(&t, &tm);
	strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
	o = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s}", "time", when,
		      "container", ev->container_name, "container_id",
		      ev->container_id, "kind", ev->kind, "path", p.ptr,
		      "severity", ev->severity ? ev->severity : "medium",
		      "source", ev->source);
	if (ev->time_us)
		json_object_set_new(o, "time_us", json_integer(ev->time_us));
	if (ev->sha256)
		json_object_set_new(o, "sha256", json_string(ev->sha256));
	if (ev->detail) {
		/* An exec: process, parents, file, action, why (the
		 * daemon's JSON, valid UTF-8 as it wrote it). */
		json_t *d = NULL;

		if (!dw_json_parse(&d, ev->detail, strlen(ev->detail),
				   "event detail") &&
		    json_is_object(d))
			json_object_update(o, d);
		json_decref(d);
	}
	dw_buf_release(&p);
	return o;
}

/* "  exec by COMM[PID] denied": who ran an X event's file; "  by
 * COMM[PID]": who made a change (text form; nothing when not known). */
static void who_text(struct dw_buf *b, const struct dw_event *ev)
{
	json_t *d = NULL, *pr;
	const char *comm, *action;

	if (!ev->detail ||
	    dw_json_parse(&d, ev->detail, strlen(ev->detail), "event detail"))
		return;
	pr = json_object_get(d, "process");
	comm = json_string_value(json_object_get(pr, "comm"));
	action = json_string_value(json_object_get(d, "action"));
	if (!action && !json_is_object(pr)) {
		json_decref(d);
		return;
	}
	dw_buf_adds(b, action ? "  exec by " : "  by ");
	if (comm)
		dw_escape_path(b, comm, strlen(comm));
	else
		dw_buf_adds(b, "?");
	dw_buf_addf(b, "[%lld]",
		    (long long)json_integer_value(json_object_get(pr, "pid")));
	if (action)
		dw_buf_addf(b, " %s", action);
	json_decref(d);
}

/*
 * The history as a timeline: a Sleuth Kit bodyfile row per event (its
 * name the path with kind and severity, its mtime and ctime the time it
 * was recorded), or a Timesketch JSONL line.
 */
static void timeline_row(struct out *o, const struct dw_event *ev)
{
	struct dw_buf b = DW_BUF_INIT, p = DW_BUF_INIT, name = DW_BUF_INIT;
	long long us = ev->time_us ? ev->time_us : ev->time * 1000000LL;

	dw_utf8_sanitize(&p, ev->path, ev->path_len);
	if (o->fmt == F_BODYFILE) {
		dw_buf_addf(&name, "%s (%s %s, %s)", p.ptr ? p.ptr : "",
			    ev->kind, ev->severity ? ev->severity : "medium",
			    ev->container_name);
		dw_buf_adds(&b, "0|");
		dw_cli_bodyfile_field(&b, name.ptr);
		dw_buf_addf(&b, "|0|-/----------|0|0|0|0|%lld|%lld|0\n",
			    ev->time, ev->time);
	} else {
		json_t *j = event_json(ev);
		char when[48];
		time_t t = (time_t)(us / 1000000);
		struct tm tm;

		gmtime_r(&t, &tm);
		strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%S", &tm);
		snprintf(when + strlen(when), sizeof(when) - strlen(when),
			 ".%06lldZ", us % 1000000);
		json_object_set_new(
			j, "message",
			json_sprintf("%s %s (%s) in %s", ev->kind,
				     p.ptr ? p.ptr : "",
				     ev->severity ? ev->severity : "medium",
				     ev->container_name));
		json_object_set_new(j, "datetime", json_string(when));
		json_object_set_new(j, "timestamp", json_integer(us));
		json_object_set_new(j, "timestamp_desc",
				    json_string("Drift Recorded"));
		json_object_set_new(j, "data_type",
				    json_string("driftwatch:drift"));
		dw_json_dump(&b, j, JSON_PRESERVE_ORDER);
		dw_buf_addch(&b, '\n');
		json_decref(j);
	}
	fwrite(b.ptr, 1, b.len, stdout);
	dw_buf_release(&b);
	dw_buf_release(&p);
	dw_buf_release(&name);
}

static int on_event(const struct dw_event *ev, void *ctx)
{
	struct out *o = ctx;
	struct dw_buf b = DW_BUF_INIT;
	json_t *j;

	o->n++;
	if (o->fmt == F_BODYFILE || o->fmt == F_TIMESKETCH) {
		timeline_row(o, ev);
		return 0;
	}
	if (o->fmt == F_TEXT) {
		char when[32];
		time_t t = (time_t)ev->time;
		struct tm tm;

		if (!o->current) {
			gmtime_r(&t, &tm);
			strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
			dw_buf_addf(&b, "%s  %s  ", when, ev->container_name);
		}
		dw_buf_addf(&b, "%s ", ev->kind);
		dw_escape_path(&b, ev->path, ev->path_len);
		if (!o->current)
			dw_buf_addf(&b, "  %s (%s)",
				    ev->severity ? ev->severity : "medium",
				    ev->source);
		who_text(&b, ev);
		dw_buf_addch(&b, '\n');
		fwrite(b.ptr, 1, b.len, stdout);
	} else {
		j = event_json(ev);
		if (o->fmt == F_JSON) {
			json_array_append_new(o->all, j);
		} else {
			dw_json_dump(&b, j, JSON_PRESERVE_ORDER);
			dw_buf_addch(&b, '\n');
			fwrite(b.ptr, 1, b.len, stdout);
			json_decref(j);
		}
	}
	dw_buf_release(&b);
	return 0;
}

int cmd_events(struct dw_cli *cli, int argc, char **argv)
{
	struct dw_event_query q = {NULL, 0, NULL, 0, NULL, NULL};
	char *pod = NULL;
	struct out o = {F_TEXT, 0, NULL, 0};
	const char *db = DW_STORE_DEFAULT_PATH;
	struct dw_store *s = NULL;
	struct dw_opts p;
	int c, err;

	(void)cli;
	dw_opts_init(&p, &help, argc, argv);
	while ((c = dw_opts_next(&p)) != -1) {
		switch (c) {
		case 'c': q.container = optarg; break;
		case 'p':
			free(pod);
			pod = dw_xstrdup(optarg);
			break;
		case 'n': q.k8s_namespace = optarg; break;
		case 's':
			if (dw_cli_parse_time(&q.since, optarg))
				return dw_cli_fail("events", DW_EXIT_USAGE,
						   "bad time '%s'", optarg);
			break;
		case 'k':
			if (strlen(optarg) != 1 || !strchr("ADCRX", optarg[0]))
				return dw_cli_fail("events", DW_EXIT_USAGE,
						   "--kind is A, D, C, R or X");
			q.kind = optarg;
			break;
		case 'S':
			q.min_severity = dw_severity_parse(optarg);
			if (q.min_severity < 0)
				return dw_cli_fail(
					"events", DW_EXIT_USAGE,
					"--severity is allowed, low, "
					"medium, high or critical");
			break;
		case 'f':
			o.fmt = !strcmp(optarg, "json")		? F_JSON
				: !strcmp(optarg, "jsonl")	? F_JSONL
				: !strcmp(optarg, "bodyfile")	? F_BODYFILE
				: !strcmp(optarg, "timesketch") ? F_TIMESKETCH
								: F_TEXT;
			if (o.fmt == F_TEXT && strcmp(optarg, "text"))
				return dw_cli_fail("events", DW_EXIT_USAGE,
						   "unknown format '%s'",
						   optarg);
			break;
		case 'C': o.current = 1; break;
		case 'd': db = optarg; break;
		case DW_OPT_EXIT: return p.exit;
		default: return dw_opts_usage_error(&help);
		}
	}
	if (o.current && (o.fmt == F_BODYFILE || o.fmt == F_TIMESKETCH))
		return dw_cli_fail("events", DW_EXIT_USAGE,
				   "--current has no times of its own: a "
				   "timeline is of the history (or of a "
				   "snapshot: driftwatch evidence export)");
	if (optind != argc || (o.current && !q.container) ||
	    (q.container && (pod || q.k8s_namespace))) {
		free(pod);
		return dw_opts_usage_error(&help);
	}
	if (pod) {
		char *slash = strchr(pod, '/');

		/* NS/POD, or POD (with --namespace, or in any). */
		if (slash && q.k8s_namespace) {
			free(pod);
			return dw_cli_fail("events", DW_EXIT_USAGE,
					   "--pod NS/POD names the namespace: "
					   "--namespace is not needed");
		}
		if (slash)
			*slash = '\0';
		q.k8s_namespace = slash ? pod : q.k8s_namespace;
		q.k8s_pod = slash ? slash + 1 : pod;
		if (!*q.k8s_pod ||
		    (slash && (!*pod || strchr(q.k8s_pod, '/')))) {
			dw_cli_fail("events", DW_EXIT_USAGE,
				    "--pod is NAMESPACE/POD or POD");
			free(pod);
			return DW_EXIT_USAGE;
		}
	}
	/* Read-only: works while the daemon writes, and when it is down. */
	if (dw_store_open(&s, db, 1)) {
		free(pod);
		return dw_cli_fail("events", DW_EXIT_ERROR, "%s",
				   dw_error_last());
	}
	o.all = json_array();
	err = o.current ? dw_store_current(s, q.container, on_event, &o)
			: dw_store_events(s, &q, on_event, &o);
	dw_store_close(s);
	free(pod);
	if (!err && o.fmt == F_JSON) {
		struct dw_buf b = DW_BUF_INIT;

		dw_json_dump(&b, o.all, JSON_PRESERVE_ORDER);
		dw_buf_addch(&b, '\n');
		fwrite(b.ptr, 1, b.len, stdout);
		dw_buf_release(&b);
	}
	json_decref(o.all);
	if (err)
		return dw_cli_fail("events",
				   err == DW_ENOTFOUND ? DW_EXIT_NOTFOUND
						       : DW_EXIT_ERROR,
				   "%s", dw_error_last());
	return DW_EXIT_OK;
}
