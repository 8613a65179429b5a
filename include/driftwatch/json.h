#ifndef DW_JSON_H
#define DW_JSON_H

#include <jansson.h>
#include <stddef.h>

#include "driftwatch/buf.h"

/*
 * The one place JSON is parsed and emitted (jansson underneath). Parsed
 * values are owned by the caller and released with json_decref().
 */

/*
 * Parse `len` bytes of untrusted JSON into `*out`. `what` names the input
 * in the error message ("docker inspect response"). Returns 0 or DW_EINVAL
 * with the line and column of the syntax error.
 */
int dw_json_parse(json_t **out, const char *data, size_t len, const char *what);

/*
 * Look up a dotted path ("GraphDriver.Data.UpperDir") of object members.
 * Returns the value (borrowed) or NULL when any step is missing or not an
 * object.
 */
json_t *dw_json_path(json_t *root, const char *dotted);

/* The string at `dotted`, or NULL when missing or not a string. */
const char *dw_json_path_str(json_t *root, const char *dotted);

/*
 * Append `v` serialised compactly to `out` (jansson's JSON_COMPACT, keys
 * in insertion order). Returns 0, DW_EINVAL (not encodable) or DW_ELIMIT.
 */
int dw_json_dump(struct dw_buf *out, const json_t *v, size_t flags);

#endif
