#include <string.h>

#include "driftwatch/error.h"
#include "driftwatch/json.h"
#include "driftwatch/banned.h"

int dw_json_parse(json_t **out, const char *data, size_t len, const char *what)
{
	json_error_t jerr;
	json_t *v = json_loadb(data, len, JSON_REJECT_DUPLICATES, &jerr);

	if (!v)
		return dw_error_set(DW_EINVAL,
				    "malformed %s: %s at line %d column %d",
				    what, jerr.text, jerr.line, jerr.column);
	*out = v;
	return 0;
}

json_t *dw_json_path(json_t *root, const char *dotted)
{
	const char *p = dotted;
	json_t *cur = root;

	while (cur && *p) {
		const char *dot = strchr(p, '.');
		size_t n = dot ? (size_t)(dot - p) : strlen(p);

		if (!json_is_object(cur))
			return NULL;
		cur = json_object_getn(cur, p, n);
		p += n;
		if (*p == '.')
			p++;
	}
	return cur;
}

const char *dw_json_path_str(json_t *root, const char *dotted)
{
	json_t *v = dw_json_path(root, dotted);

	return json_is_string(v) ? json_string_value(v) : NULL;
}

static int dump_cb(const char *buf, size_t size, void *data)
{
	return dw_buf_add(data, buf, size) ? -1 : 0;
}

int dw_json_dump(struct dw_buf *out, const json_t *v, size_t flags)
{
	size_t before = out->len;

	if (json_dump_callback(v, dump_cb, out, flags | JSON_COMPACT)) {
		dw_buf_setlen(out, before);
		return dw_error_set(DW_EINVAL, "cannot encode JSON output");
	}
	return 0;
}
