/*
 * driftwatchd: the feed's rows as an OTLP/HTTP logs request, JSON
 * encoding (opentelemetry-proto's ExportLogsServiceRequest): one
 * resourceLogs per container (host.name, service.name, container.*,
 * k8s.namespace.name, k8s.pod.name), one logRecord per row, its body the
 * ECS document as JSON text and its attributes that document's fields
 * but for those of the resource, flattened with dots.
 */
#include <stdio.h>
#include <string.h>

#include "ecs.h"
#include "otlp.h"

#include "driftwatch/severity.h"

#include "driftwatch/banned.h"

static json_t *any_value(const json_t *v)
{
	char n[32];

	if (json_is_string(v))
		return json_pack("{s:O}", "stringValue", v);
	if (json_is_integer(v)) {
		/* int64 is a decimal string in OTLP's JSON. */
		snprintf(n, sizeof(n), "%lld",
			 (long long)json_integer_value(v));
		return json_pack("{s:s}", "intValue", n);
	}
	if (json_is_real(v))
		return json_pack("{s:f}", "doubleValue", json_real_value(v));
	if (json_is_boolean(v))
		return json_pack("{s:b}", "boolValue", json_is_true(v));
	if (json_is_array(v)) {
		json_t *values = json_array(), *e;
		size_t i;

		json_array_foreach(v, i, e)
		{
			json_t *a = any_value(e);

			if (a)
				json_array_append_new(values, a);
		}
		return json_pack("{s:{s:o}}", "arrayValue", "values", values);
	}
	return NULL; /* null; objects are flattened by the caller */
}

static void attr(json_t *attrs, const char *key, json_t *value)
{
	if (value)
		json_array_append_new(attrs, json_pack("{s:s, s:o}", "key", key,
						       "value", value));
}

static void attr_str(json_t *attrs, const char *key, const char *v)
{
	if (v && *v)
		attr(attrs, key, json_pack("{s:s}", "stringValue", v));
}

/* `o`'s fields as dotted keys under `prefix`. */
static void flatten(json_t *attrs, const char *prefix, const json_t *o)
{
	const char *k;
	json_t *v;

	json_object_foreach((json_t *)o, k, v)
	{
		char key[256];

		snprintf(key, sizeof(key), "%s%s%s", prefix, *prefix ? "." : "",
			 k);
		if (json_is_object(v))
			flatten(attrs, key, v);
		else
			attr(attrs, key, any_value(v));
	}
}

int dwd_otlp_severity(int sev)
{
	/* SeverityNumber: DEBUG 5, INFO 9, WARN 13, ERROR 17, FATAL 21. */
	static const int map[] = {5, 9, 13, 17, 21};

	return map[sev];
}

static const char *str(const json_t *o, const char *path)
{
	char key[64];
	const char *dot;

	while ((dot = strchr(path, '.')) && o) {
		snprintf(key, sizeof(key), "%.*s", (int)(dot - path), path);
		o = json_object_get(o, key);
		path = dot + 1;
	}
	return json_string_value(json_object_get(o, path));
}

/* The resource of one ECS document: its container, else the host. */
static json_t *resource(const json_t *doc, const char *host,
			const char *version)
{
	json_t *attrs = json_array();

	attr_str(attrs, "host.name", host);
	attr_str(attrs, "service.name", "driftwatchd");
	attr_str(attrs, "service.version", version);
	attr_str(attrs, "container.id", str(doc, "container.id"));
	attr_str(attrs, "container.name", str(doc, "container.name"));
	attr_str(attrs, "container.image.name",
		 str(doc, "container.image.name"));
	attr_str(attrs, "k8s.namespace.name",
		 str(doc, "orchestrator.namespace"));
	attr_str(attrs, "k8s.pod.name", str(doc, "orchestrator.resource.name"));
	return json_pack("{s:o}", "attributes", attrs);
}

static json_t *log_record(const json_t *doc, long long time_ns,
			  long long observed_ns)
{
	static const char *const resource_keys[] = {
		"@timestamp", "message",      "host",
		"container",  "orchestrator", "driftwatch",
	};
	json_t *attrs = json_array(), *rest = json_deep_copy(doc);
	int sev = dwd_ecs_doc_severity(doc);
	char t[32], o[32];
	char *text = json_dumps(doc, JSON_COMPACT | JSON_PRESERVE_ORDER);
	json_t *rec;
	size_t i;

	for (i = 0; i < sizeof(resource_keys) / sizeof(resource_keys[0]); i++)
		json_object_del(rest, resource_keys[i]);
	flatten(attrs, "", rest);
	json_decref(rest);
	snprintf(t, sizeof(t), "%lld", time_ns);
	snprintf(o, sizeof(o), "%lld", observed_ns);
	rec = json_pack("{s:s, s:s, s:i, s:s, s:{s:s}, s:o}", "timeUnixNano", t,
			"observedTimeUnixNano", o, "severityNumber",
			dwd_otlp_severity(sev), "severityText",
			dw_severity_name(sev), "body", "stringValue",
			text ? text : "{}", "attributes", attrs);
	free(text);
	return rec;
}

json_t *dwd_otlp_request(const struct dwd_otlp_item *items, size_t n,
			 const char *host, const char *version,
			 long long observed_ns)
{
	json_t *rls = json_array();
	json_t **records = dw_xcalloc(n + 1, sizeof(*records));
	const char **keys = dw_xcalloc(n + 1, sizeof(*keys));
	size_t nres = 0, i, j;

	/* One resourceLogs per container (or the host), in the order of
	 * their first row; the rows' order kept within each. */
	for (i = 0; i < n; i++) {
		const char *key = str(items[i].doc, "container.id");

		key = key ? key : "";
		for (j = 0; j < nres && strcmp(keys[j], key); j++)
			;
		if (j == nres) {
			keys[nres] = key;
			records[nres] = json_array();
			json_array_append_new(
				rls,
				json_pack("{s:o, s:[{s:{s:s, s:s}, s:O}]}",
					  "resource",
					  resource(items[i].doc, host, version),
					  "scopeLogs", "scope", "name",
					  "driftwatch", "version",
					  version ? version : "", "logRecords",
					  records[nres]));
			json_decref(records[nres]);
			nres++;
		}
		json_array_append_new(records[j],
				      log_record(items[i].doc, items[i].time_ns,
						 observed_ns));
	}
	free(records);
	free(keys);
	return json_pack("{s:o}", "resourceLogs", rls);
}

long long dwd_otlp_rejected(const char *answer, size_t len, char *why,
			    size_t why_size)
{
	json_t *j = json_loadb(answer, len, 0, NULL);
	json_t *ps = json_object_get(j, "partialSuccess");
	json_t *r = json_object_get(ps, "rejectedLogRecords");
	long long n = 0;

	*why = 0;
	/* int64 as a string or a number. */
	if (json_is_string(r))
		n = strtoll(json_string_value(r), NULL, 10);
	else if (json_is_integer(r))
		n = (long long)json_integer_value(r);
	if (n > 0 && json_string_value(json_object_get(ps, "errorMessage")))
		snprintf(
			why, why_size, "%s",
			json_string_value(json_object_get(ps, "errorMessage")));
	json_decref(j);
	return n < 0 ? 0 : n;
}
