#ifndef DW_SEVERITY_H
#define DW_SEVERITY_H

/*
 * One severity scale for everything driftwatch reports: drift changes,
 * secrets, alerts and event filters. Ordered: a larger value is worse.
 * `allowed` is only ever given to drift that an allow rule covers.
 */
enum dw_severity {
	DW_SEV_ALLOWED,
	DW_SEV_LOW,
	DW_SEV_MEDIUM,
	DW_SEV_HIGH,
	DW_SEV_CRITICAL,
};

/* "allowed", "low", "medium", "high", "critical"; "unknown" otherwise. */
const char *dw_severity_name(enum dw_severity s);

/* The severity `s` names, or -1 when it names none. */
int dw_severity_parse(const char *s);

#endif
