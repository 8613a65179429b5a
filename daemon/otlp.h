#ifndef DWD_OTLP_H
#define DWD_OTLP_H

#include <jansson.h>
#include <stddef.h>

#include "driftwatch/xmalloc.h"

/* One row for a request: its ECS document (ecs.c) and its time. */
struct dwd_otlp_item {
	json_t *doc;
	long long time_ns;
};

/*
 * An OTLP/HTTP logs request, JSON encoding (caller decrefs): a
 * resourceLogs per container (host.name, service.name driftwatchd,
 * service.version, container.id, container.name, container.image.name,
 * k8s.namespace.name, k8s.pod.name), each row a logRecord (timeUnixNano,
 * observedTimeUnixNano, severityNumber and severityText from its
 * severity, body the ECS document as JSON text, attributes its other
 * fields flattened: event.id, event.kind, file.path, process.pid, ...).
 */
json_t *dwd_otlp_request(const struct dwd_otlp_item *items, size_t n,
			 const char *host, const char *version,
			 long long observed_ns);

/* SeverityNumber of a driftwatch severity (enum dw_severity): allowed 5
 * (DEBUG), low 9 (INFO), medium 13 (WARN), high 17 (ERROR), critical 21
 * (FATAL). */
int dwd_otlp_severity(int sev);

/* The rejectedLogRecords of an answer's partialSuccess (0: none), and
 * its errorMessage in `why`. */
long long dwd_otlp_rejected(const char *answer, size_t len, char *why,
			    size_t why_size);

#endif
