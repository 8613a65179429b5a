/* The coverage model (coverage.h): its vocabulary, recording, alerts. */
#include <stdio.h>

#include <jansson.h>

#include "coverage.h"
#include "store.h"

#include "driftwatch/banned.h"

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

const char *dw_facet_name(enum dw_facet f)
{
	static const char *const names[] = {"fs", "writer", "exec", "logs",
					    "secrets"};

	return (unsigned)f < COUNT(names) ? names[f] : "unknown";
}

const char *dw_cover_name(enum dw_cover c)
{
	static const char *const names[] = {"monitored", "degraded",
					    "unmonitored"};

	return (unsigned)c < COUNT(names) ? names[c] : "unknown";
}

const char *dw_cover_reason_name(enum dw_cover_reason r)
{
	static const char *const names[] = {
		"",
		"depth-limit",
		"watch-budget",
		"forged-metadata",
		"path-length",
		"size-budget",
		"unreadable",
		"scanner-killed",
		"backlog",
		"storage-driver",
		"log-driver",
		"fanotify-unavailable",
		"watch-limit",
		"mounts",
		"userns",
		"disabled",
		"not-built",
		"runtime-unresponsive",
		"queue-overflow",
	};

	return (unsigned)r < COUNT(names) ? names[r] : "unknown";
}

const char *dw_cover_alert_kind(enum dw_cover_reason r)
{
	return r < DW_REASON_ENV_FIRST ? "evasion" : "unmonitored";
}

/* One critical alert per container, facet and reason, ever. */
static int alert_once(struct dw_store *st, const struct dw_cover_subject *c,
		      enum dw_facet f, enum dw_cover state,
		      enum dw_cover_reason reason, const char *detail)
{
	char summary[600];
	json_t *p;
	int first = 0, err;

	if (state == DW_COVER_MONITORED || reason == DW_REASON_DISABLED ||
	    reason == DW_REASON_NOT_BUILT)
		return 0;
	err = dw_store_coverage_first(st, c->id, f, reason, &first);
	if (err || !first)
		return err;
	snprintf(summary, sizeof(summary),
		 "container %s (%.12s): %s %s (%s)%s%s", c->name, c->id,
		 dw_facet_name(f), dw_cover_name(state),
		 dw_cover_reason_name(reason), detail ? ": " : "",
		 detail ? detail : "");
	p = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s}",
		      "container", c->name, "id", c->id, "image",
		      c->image ? c->image : "", "runtime",
		      c->runtime ? c->runtime : "", "severity", "critical",
		      "facet", dw_facet_name(f), "state", dw_cover_name(state),
		      "reason", dw_cover_reason_name(reason), "detail",
		      detail ? detail : "");
	err = dw_store_alert(st, dw_cover_alert_kind(reason), summary, p);
	json_decref(p);
	return err ? err : 1;
}

int dw_coverage_set(struct dw_store *st, const struct dw_cover_subject *c,
		    enum dw_facet f, enum dw_cover state,
		    enum dw_cover_reason reason, const char *detail)
{
	int news = 0, err;

	err = dw_store_set_coverage(st, c->id, c->name, f, state, reason,
				    detail, &news);
	return err ? err : alert_once(st, c, f, state, reason, detail);
}

int dw_coverage_also(struct dw_store *st, const struct dw_cover_subject *c,
		     enum dw_facet f, enum dw_cover state,
		     enum dw_cover_reason reason, const char *detail)
{
	return alert_once(st, c, f, state, reason, detail);
}
