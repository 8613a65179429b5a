#ifndef DWD_ECS_H
#define DWD_ECS_H

#include <jansson.h>
#include <stddef.h>

#include "store.h"

/*
 * A row of the feed as one Elastic Common Schema document for the
 * outputs (caller decrefs): @timestamp, event.{id, kind, category, type,
 * action, severity, sequence, dataset, module, provider}, message,
 * host.name, file.*, process.*, container.*, orchestrator.*, rule.name,
 * the row's own fields under `driftwatch`, and `ocsf` (class_uid,
 * category_uid, activity_id) where an OCSF class fits.
 */
json_t *dwd_ecs_doc(const struct dw_feed_row *r, const char *host);

/* The row's stable event.id: "HOST:ID" for an alert (as its webhook
 * delivery says), "HOST:event:ID", "HOST:finding:ID". */
void dwd_ecs_event_id(char *out, size_t size, const char *host, int table,
		      long long id);

/* event.severity: 0 allowed, 1 low, 2 medium, 3 high, 4 critical. */
int dwd_ecs_severity(const char *name);
/* A document's event.severity (an enum dw_severity): what every output
 * maps to its own scale. */
int dwd_ecs_doc_severity(const json_t *doc);

#endif
