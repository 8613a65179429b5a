/*
 * driftwatchd: one vocabulary for every output. A row of the feed (a
 * drift event, a finding, an alert) as an Elastic Common Schema document
 * (driftwatch.yaml(5), OUTPUTS, lists every field): ECS names where they
 * exist, the row's own fields under `driftwatch`, and an OCSF class hint.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "ecs.h"

#include "driftwatch/buf.h"
#include "driftwatch/escape.h"
#include "driftwatch/severity.h"

#include "driftwatch/banned.h"

static const char *str(const json_t *o, const char *key)
{
	return json_string_value(json_object_get(o, key));
}

void dwd_ecs_event_id(char *out, size_t size, const char *host, int table,
		      long long id)
{
	/* An alert's id is the one its webhook delivery carries
	 * (X-Driftwatch-Event), so one alert has one id everywhere. */
	if (table == DW_FEED_ALERTS)
		snprintf(out, size, "%s:%lld", host, id);
	else
		snprintf(out, size, "%s:%s:%lld", host,
			 table == DW_FEED_EVENTS ? "event" : "finding", id);
}

int dwd_ecs_severity(const char *name)
{
	int s = name ? dw_severity_parse(name) : -1;

	return s < 0 ? DW_SEV_MEDIUM : s;
}

/* What a drift event's kind is, in ECS and OCSF words. */
static void drift_kind(const char *kind, const char **type, const char **action,
		       int *activity)
{
	static const struct {
		char kind;
		const char *type, *action;
		int activity; /* OCSF: 1 create/launch, 3 update, 4 delete */
	} map[] = {
		{'A', "creation", "added", 1},	{'D', "deletion", "deleted", 4},
		{'R', "change", "reverted", 3}, {'X', "start", "exec", 1},
		{'C', "change", "changed", 3},
	};
	size_t i;

	for (i = 0; i < sizeof(map) / sizeof(map[0]) - 1; i++)
		if (kind && *kind == map[i].kind)
			break;
	*type = map[i].type;
	*action = map[i].action;
	*activity = map[i].activity;
}

/* The ECS process object of driftwatch's own (writer, exec). */
static json_t *ecs_process(const json_t *p)
{
	json_t *o = json_object();
	const char *v;
	json_t *uid = json_object_get(p, "uid");

	if (json_is_integer(json_object_get(p, "pid")))
		json_object_set(o, "pid", json_object_get(p, "pid"));
	if ((v = str(p, "comm")))
		json_object_set_new(o, "name", json_string(v));
	if ((v = str(p, "exe")))
		json_object_set_new(o, "executable", json_string(v));
	if ((v = str(p, "cmdline")))
		json_object_set_new(o, "command_line", json_string(v));
	if (json_is_integer(json_object_get(p, "ppid")))
		json_object_set_new(
			o, "parent",
			json_pack("{s:O}", "pid", json_object_get(p, "ppid")));
	if (json_is_integer(uid)) {
		char u[32];

		snprintf(u, sizeof(u), "%lld",
			 (long long)json_integer_value(uid));
		json_object_set_new(o, "user", json_pack("{s:s}", "id", u));
	}
	return o;
}

/* container.* and orchestrator.* from the row's container fields. */
static void ecs_container(json_t *doc, const json_t *row, const char *id)
{
	json_t *labels = json_object_get(row, "labels");
	const char *name = str(row, "container"), *image = str(row, "image");
	const char *ns = str(labels, "io.kubernetes.pod.namespace");
	const char *pod = str(labels, "io.kubernetes.pod.name");
	json_t *c;

	if (!id && !name)
		return;
	c = json_object();
	if (id)
		json_object_set_new(c, "id", json_string(id));
	if (name)
		json_object_set_new(c, "name", json_string(name));
	if (image && *image)
		json_object_set_new(c, "image",
				    json_pack("{s:s}", "name", image));
	json_object_set_new(doc, "container", c);
	if (ns || pod) {
		json_t *o = json_pack("{s:s}", "type", "kubernetes");

		if (ns)
			json_object_set_new(o, "namespace", json_string(ns));
		if (pod)
			json_object_set_new(o, "resource",
					    json_pack("{s:s, s:s}", "type",
						      "pod", "name", pod));
		json_object_set_new(doc, "orchestrator", o);
	}
}

/* ECS categories of an alert's kind; OCSF class (0: none). */
static const char *alert_category(const char *kind, int *ocsf_class)
{
	static const struct {
		const char *kind, *category;
		int ocsf;
	} map[] = {
		{"drift", "file", 2004},
		{"exec", "process", 2004},
		{"leak", "intrusion_detection", 2004},
		{"evasion", "intrusion_detection", 2004},
		{"store-tampered", "intrusion_detection", 2004},
		{"snapshot", "file", 0},
		{"rotation", "iam", 0},
	};
	size_t i;

	for (i = 0; kind && i < sizeof(map) / sizeof(map[0]); i++)
		if (!strcmp(kind, map[i].kind)) {
			*ocsf_class = map[i].ocsf;
			return map[i].category;
		}
	*ocsf_class = 0;
	return "host";
}

/* Records of the daemon's own state, not detections. */
static int alert_is_state(const char *kind)
{
	return kind &&
	       (!strcmp(kind, "heartbeat") || !strcmp(kind, "chain-head") ||
		!strcmp(kind, "retention") || !strcmp(kind, "daemon-started") ||
		!strcmp(kind, "daemon-stopped"));
}

int dwd_ecs_doc_severity(const json_t *doc)
{
	json_t *s = json_object_get(json_object_get(doc, "event"), "severity");
	json_int_t v = json_integer_value(s);

	return json_is_integer(s) && v >= DW_SEV_ALLOWED && v <= DW_SEV_CRITICAL
		       ? (int)v
		       : DW_SEV_MEDIUM;
}

/* Changes an output summarised (outputs.c): a container's, counted. */
static void bulk_summary(json_t *doc, json_t *ev, const json_t *row,
			 const char *sevname, char *msg, size_t size)
{
	ecs_container(doc, row, str(row, "container_id"));
	snprintf(msg, size,
		 "%lld more changes in %.64s summarised (%lld added, %lld "
		 "deleted, %lld changed, highest %s): each is in the store",
		 (long long)json_integer_value(json_object_get(row, "changes")),
		 str(row, "container") ? str(row, "container")
				       : str(row, "container_id"),
		 (long long)json_integer_value(json_object_get(row, "added")),
		 (long long)json_integer_value(json_object_get(row, "deleted")),
		 (long long)json_integer_value(json_object_get(row, "changed")),
		 sevname ? sevname : "medium");
	json_object_set_new(ev, "dataset", json_string("driftwatch.drift"));
}

json_t *dwd_ecs_doc(const struct dw_feed_row *r, const char *host)
{
	const json_t *row = r->doc;
	char id[320], when[40], msg[512];
	time_t t = (time_t)(r->table == DW_FEED_EVENTS ? r->time_us / 1000000
						       : r->time);
	struct tm tm;
	json_t *doc, *ev, *dw;
	const char *sevname = str(row, "severity"), *category = "host";
	const char *type = "info", *action = NULL, *kind = "event";
	int activity = 0, ocsf_class = 0;

	gmtime_r(&t, &tm);
	strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%S", &tm);
	/* Microseconds where the table keeps them. */
	if (r->table == DW_FEED_EVENTS)
		snprintf(when + strlen(when), sizeof(when) - strlen(when),
			 ".%06lldZ",
			 (r->time_us % 1000000 + 1000000) % 1000000);
	else
		snprintf(when + strlen(when), sizeof(when) - strlen(when), "Z");
	dwd_ecs_event_id(id, sizeof(id), host, r->table, r->id);
	doc = json_pack("{s:s}", "@timestamp", when);
	ev = json_object();
	switch (r->table) {
	case DW_FEED_EVENTS: {
		const char *k = str(row, "kind"), *path = str(row, "path");
		json_t *p = json_object_get(row, "process"), *f;

		if (k && !strcmp(k, "bulk")) {
			bulk_summary(doc, ev, row, sevname, msg, sizeof(msg));
			/* Its own id: its last row may also go alone when
			 * read again in another window. */
			snprintf(id, sizeof(id), "%.255s:bulk:%lld-%lld", host,
				 (long long)json_integer_value(
					 json_object_get(row, "first_id")),
				 (long long)r->id);
			category = "file";
			type = "info";
			action = "bulk-changes";
			ocsf_class = 1001;
			activity = 99; /* other */
			break;
		}
		f = json_pack("{s:s}", "path", path ? path : "");

		drift_kind(k, &type, &action, &activity);
		category = k && *k == 'X' ? "process" : "file";
		ocsf_class = k && *k == 'X' ? 1007 : 1001;
		if (str(row, "sha256"))
			json_object_set_new(f, "hash",
					    json_pack("{s:s}", "sha256",
						      str(row, "sha256")));
		json_object_set_new(doc, "file", f);
		if (json_is_object(p))
			json_object_set_new(doc, "process", ecs_process(p));
		ecs_container(doc, row, str(row, "container_id"));
		snprintf(msg, sizeof(msg), "%s %.400s in %.64s (%s)",
			 k ? k : "?", path ? path : "",
			 str(row, "container") ? str(row, "container")
					       : str(row, "container_id"),
			 sevname ? sevname : "medium");
		json_object_set_new(ev, "dataset",
				    json_string("driftwatch.drift"));
		break;
	}
	case DW_FEED_FINDINGS: {
		const char *path = str(row, "path");

		kind = "alert";
		category = "intrusion_detection";
		type = "indicator";
		action = "secret-found";
		ocsf_class = 2004;
		activity = 1;
		json_object_set_new(
			doc, "file",
			json_pack("{s:s}", "path", path ? path : ""));
		ecs_container(doc, row,
			      str(row, "container") ? str(row, "source_id")
						    : NULL);
		json_object_set_new(
			doc, "rule",
			json_pack("{s:s}", "name",
				  str(row, "rule") ? str(row, "rule") : ""));
		snprintf(msg, sizeof(msg), "%.64s in %.400s (%s)",
			 str(row, "rule") ? str(row, "rule") : "secret",
			 path ? path : "", sevname ? sevname : "medium");
		json_object_set_new(ev, "dataset",
				    json_string("driftwatch.finding"));
		break;
	}
	default: {
		const char *k = str(row, "kind"), *sum = str(row, "summary");
		const json_t *data = json_object_get(row, "data");

		kind = alert_is_state(k) ? "state" : "alert";
		/* A start after a run that did not stop is news. */
		if (k && !strcmp(k, "daemon-started") &&
		    (json_is_false(
			     json_object_get(data, "previous_run_stopped")) ||
		     json_is_true(json_object_get(data, "another_daemon"))))
			kind = "alert";
		category = alert_category(k, &ocsf_class);
		action = k;
		activity = ocsf_class ? 1 : 0;
		if (!sevname)
			sevname = str(data, "severity");
		/* An alert about a container names it and its id. */
		if (str(data, "container") && str(data, "id"))
			ecs_container(doc, data, str(data, "id"));
		snprintf(msg, sizeof(msg), "%.500s", sum ? sum : "");
		json_object_set_new(ev, "dataset",
				    json_string("driftwatch.alert"));
	}
	}
	json_object_set_new(ev, "id", json_string(id));
	json_object_set_new(ev, "kind", json_string(kind));
	json_object_set_new(ev, "category", json_pack("[s]", category));
	json_object_set_new(ev, "type", json_pack("[s]", type));
	if (action)
		json_object_set_new(ev, "action", json_string(action));
	json_object_set_new(ev, "severity",
			    json_integer(dwd_ecs_severity(sevname)));
	json_object_set_new(ev, "sequence", json_integer(r->id));
	json_object_set_new(ev, "module", json_string("driftwatch"));
	json_object_set_new(ev, "provider", json_string("driftwatchd"));
	json_object_set_new(doc, "event", ev);
	{
		/* Cut above at a byte count: a character a container
		 * chose may be cut in two; replaced, never dropped. */
		struct dw_buf m = DW_BUF_INIT;

		dw_utf8_sanitize(&m, msg, strlen(msg));
		json_object_set_new(doc, "message",
				    json_string(m.ptr ? m.ptr : ""));
		dw_buf_release(&m);
	}
	json_object_set_new(doc, "host", json_pack("{s:s}", "name", host));
	json_object_set_new(doc, "ecs",
			    json_pack("{s:s}", "version", "8.11.0"));
	dw = json_deep_copy(row);
	/* The container's labels gave orchestrator.*; not carried whole:
	 * an image's author chooses them, and their size, which every line
	 * about that container would repeat. */
	json_object_del(dw, "labels");
	json_object_set_new(dw, "table", json_string(dw_feed_table(r->table)));
	json_object_set_new(dw, "id", json_integer(r->id));
	json_object_set_new(doc, "driftwatch", dw);
	if (ocsf_class)
		json_object_set_new(doc, "ocsf",
				    json_pack("{s:i, s:i, s:i}", "class_uid",
					      ocsf_class, "category_uid",
					      ocsf_class / 1000, "activity_id",
					      activity));
	return doc;
}
