/* Output of driftwatch scan: text, json, jsonl and SARIF 2.1.0. */
#include <string.h>

#include "cli.h"
#include "scan_output.h"
#include "driftwatch/buf.h"
#include "driftwatch/escape.h"
#include "driftwatch/json.h"
#include "driftwatch/banned.h"

void scan_out_init(struct scan_out *o, enum scan_format fmt, int show,
		   int color, const struct dw_engine *e)
{
	memset(o, 0, sizeof(*o));
	o->fmt = fmt;
	o->show_secrets = show;
	o->color = color;
	o->engine = e;
	o->redactor = NULL;
	o->to = stdout;
	o->all = json_array();
	o->summary = json_object();
}

static json_t *secret_json(const struct dw_finding *f, int show,
			   const char *redacted)
{
	struct dw_buf b = DW_BUF_INIT;
	json_t *v;

	if (f->secret && show)
		dw_utf8_sanitize(&b, f->secret, f->secret_len);
	else
		dw_buf_adds(&b, redacted ? redacted : "");
	if (!dw_utf8_valid(b.ptr, b.len)) {
		struct dw_buf c = DW_BUF_INIT;

		dw_utf8_sanitize(&c, b.ptr, b.len);
		dw_buf_release(&b);
		b = c;
	}
	v = json_stringn(b.ptr, b.len);
	dw_buf_release(&b);
	return v;
}

static json_t *path_json(const char *p)
{
	struct dw_buf b = DW_BUF_INIT;
	json_t *v;

	dw_utf8_sanitize(&b, p, strlen(p));
	v = json_stringn(b.ptr, b.len);
	dw_buf_release(&b);
	return v;
}

json_t *scan_finding_json(const struct dw_finding *f,
			  const struct dw_source *src, int show,
			  const char *redacted)
{
	json_t *o = json_object();

	json_object_set_new(o, "rule", json_string(f->rule->id));
	json_object_set_new(o, "severity",
			    json_string(dw_severity_name(f->rule->severity)));
	json_object_set_new(o, "path", path_json(src->path));
	json_object_set_new(o, "line", json_integer((json_int_t)f->line));
	json_object_set_new(o, "column", json_integer((json_int_t)f->column));
	json_object_set_new(o, "source", json_string(src->kind));
	json_object_set_new(o, "secret", secret_json(f, show, redacted));
	json_object_set_new(o, "fingerprint", json_string(f->fingerprint));
	if (f->url_decoded)
		json_object_set_new(o, "url_decoded", json_true());
	if (src->fields)
		json_object_update(o, src->fields);
	return o;
}

static const char *sev_color(enum dw_severity s)
{
	switch (s) {
	case DW_SEV_CRITICAL: return "\033[1;31m";
	case DW_SEV_HIGH: return "\033[31m";
	case DW_SEV_MEDIUM: return "\033[33m";
	default: return "\033[36m";
	}
}

static int write_text(struct scan_out *o, const struct dw_finding *f,
		      const struct dw_source *src, const char *redacted)
{
	struct dw_buf b = DW_BUF_INIT, sec = DW_BUF_INIT;
	const char *key;
	json_t *v;
	int err;

	dw_escape_path(&b, src->path, strlen(src->path));
	dw_buf_addf(&b, ":%llu:%llu: %s%s%s %s ", (unsigned long long)f->line,
		    (unsigned long long)f->column,
		    o->color ? sev_color(f->rule->severity) : "",
		    dw_severity_name(f->rule->severity),
		    o->color ? "\033[0m" : "", f->rule->id);
	if (f->secret && o->show_secrets)
		dw_buf_add(&sec, f->secret, f->secret_len);
	else
		dw_buf_adds(&sec, redacted ? redacted : "");
	dw_escape_path(&b, sec.ptr, sec.len);
	dw_buf_addf(&b, " %s", f->fingerprint);
	json_object_foreach(src->fields, key, v)
	{
		const char *s = json_string_value(v);

		dw_buf_addf(&b, " %s=", key);
		if (s)
			dw_escape_path(&b, s, strlen(s));
	}
	dw_buf_addch(&b, '\n');
	err = fwrite(b.ptr, 1, b.len, o->to) == b.len ? 0 : -1;
	dw_buf_release(&b);
	dw_buf_release(&sec);
	return err;
}

/*
 * SARIF's level and GitHub's security-severity score of a severity
 * (indexed by the enum: DW_SEV_ALLOWED is 0).
 */
static const char *sarif_level(enum dw_severity sev)
{
	switch (sev) {
	case DW_SEV_CRITICAL:
	case DW_SEV_HIGH: return "error";
	case DW_SEV_MEDIUM: return "warning";
	default: return "note";
	}
}

static const char *sarif_score(enum dw_severity sev)
{
	switch (sev) {
	case DW_SEV_CRITICAL: return "9.5";
	case DW_SEV_HIGH: return "8.0";
	case DW_SEV_MEDIUM: return "5.5";
	default: return "3.0";
	}
}

static json_t *sarif_result(const struct dw_finding *f,
			    const struct dw_source *src, int show,
			    const char *redacted)
{
	json_t *rec = scan_finding_json(f, src, show, redacted);
	const char *uri = src->path;
	char msg[512];

	while (uri[0] == '.' && uri[1] == '/')
		uri += 2;
	snprintf(msg, sizeof(msg), "%s found: %s", f->rule->description,
		 json_string_value(json_object_get(rec, "secret")));
	json_object_del(rec, "rule");
	json_object_del(rec, "path");
	json_object_del(rec, "line");
	json_object_del(rec, "column");
	json_object_del(rec, "fingerprint");
	return json_pack(
		"{s:s, s:I, s:s, s:{s:s}, s:[{s:{s:{s:o}, "
		"s:{s:I, s:I}}}], s:{s:s}, s:o}",
		"ruleId", f->rule->id, "ruleIndex", (json_int_t)f->rule_index,
		"level", sarif_level(f->rule->severity), "message", "text", msg,
		"locations", "physicalLocation", "artifactLocation", "uri",
		path_json(strcmp(uri, "-") ? uri : "stdin"), "region",
		"startLine", (json_int_t)f->line, "startColumn",
		(json_int_t)f->column, "partialFingerprints", "driftwatch/v1",
		f->fingerprint, "properties", rec);
}

/* `s` with every secret in it redacted, as valid UTF-8. */
static void redact_str(struct scan_out *o, struct dw_buf *out, const char *s,
		       size_t n, const struct dw_finding *f)
{
	struct dw_buf r = DW_BUF_INIT;

	if (!o->redactor && dw_scanner_new(&o->redactor, o->engine)) {
		dw_buf_adds(out, "…");
		return;
	}
	dw_scanner_redact_text(o->redactor, s, n, f, &r);
	dw_utf8_sanitize(out, r.ptr ? r.ptr : "", r.len);
	dw_buf_release(&r);
}

/*
 * What of a finding is shown: the secret redacted, and every field that
 * carries user content (the path, a commit subject, a chat user) with
 * whatever secret it holds redacted the same way.
 */
static json_t *redact_fields(struct scan_out *o, json_t *fields,
			     const struct dw_finding *f)
{
	json_t *r = json_object(), *v;
	const char *key;

	json_object_foreach(fields, key, v)
	{
		struct dw_buf b = DW_BUF_INIT;

		if (!json_is_string(v)) {
			json_object_set(r, key, v);
			continue;
		}
		redact_str(o, &b, json_string_value(v), json_string_length(v),
			   f);
		json_object_set_new(r, key,
				    json_stringn(b.ptr ? b.ptr : "", b.len));
		dw_buf_release(&b);
	}
	return r;
}

static int out_add(struct scan_out *o, const struct dw_finding *f,
		   const struct dw_source *src, const char *redacted);

int scan_out_add(struct scan_out *o, const struct dw_finding *f,
		 const struct dw_source *src, const char *redacted)
{
	struct dw_buf sec = DW_BUF_INIT, path = DW_BUF_INIT;
	struct dw_source shown = *src;
	int err;

	if (o->show_secrets || !o->engine)
		return out_add(o, f, src, redacted);
	if (f->secret) {
		dw_engine_redact(o->engine, f->rule_index, f->secret,
				 f->secret_len, &sec);
		redacted = sec.ptr;
	}
	redact_str(o, &path, src->path, strlen(src->path), f);
	shown.path = path.ptr ? path.ptr : "";
	shown.fields = src->fields ? redact_fields(o, src->fields, f) : NULL;
	err = out_add(o, f, &shown, redacted);
	json_decref(shown.fields);
	dw_buf_release(&sec);
	dw_buf_release(&path);
	return err;
}

static int out_add(struct scan_out *o, const struct dw_finding *f,
		   const struct dw_source *src, const char *redacted)
{
	struct dw_buf b = DW_BUF_INIT;
	json_t *rec;
	int err = 0;

	o->count++;
	switch (o->fmt) {
	case SCAN_TEXT: return write_text(o, f, src, redacted);
	case SCAN_SARIF:
		json_array_append_new(
			o->all,
			sarif_result(f, src, o->show_secrets, redacted));
		return 0;
	case SCAN_JSON:
		json_array_append_new(
			o->all,
			scan_finding_json(f, src, o->show_secrets, redacted));
		return 0;
	case SCAN_JSONL:
		rec = scan_finding_json(f, src, o->show_secrets, redacted);
		dw_json_dump(&b, rec, JSON_PRESERVE_ORDER);
		dw_buf_addch(&b, '\n');
		err = fwrite(b.ptr, 1, b.len, o->to) == b.len ? 0 : -1;
		json_decref(rec);
		dw_buf_release(&b);
		return err;
	}
	return 0;
}

static json_t *sarif_rules(const struct dw_engine *e)
{

	const struct dw_rule_info *r;
	size_t n = dw_engine_rules(e, &r), i;
	json_t *a = json_array();

	for (i = 0; i < n; i++)
		json_array_append_new(
			a, json_pack("{s:s, s:s, s:{s:s}, s:{s:s}, s:{s:[s,s], "
				     "s:s}}",
				     "id", r[i].id, "name", r[i].id,
				     "shortDescription", "text",
				     r[i].description, "defaultConfiguration",
				     "level", sarif_level(r[i].severity),
				     "properties", "tags", "security", "secret",
				     "security-severity",
				     sarif_score(r[i].severity)));
	return a;
}

void scan_out_note(struct scan_out *o, const char *level, const char *text)
{
	if (!o->notes)
		o->notes = json_array();
	json_array_append_new(o->notes,
			      json_pack("{s:s, s:{s:s}}", "level", level,
					"message", "text", text));
}

void scan_out_count(struct scan_out *o, const char *key, size_t n)
{
	json_t *v = json_object_get(o->summary, key);

	json_object_set_new(
		o->summary, key,
		json_integer(json_integer_value(v) + (json_int_t)n));
}

int scan_out_finish(struct scan_out *o)
{
	struct dw_buf b = DW_BUF_INIT;
	json_t *doc = NULL;
	int err = 0;

	if (!o->notes)
		o->notes = json_array();
	json_object_set_new(o->summary, "findings",
			    json_integer((json_int_t)o->count));
	if (o->fmt == SCAN_JSON) {
		/* Findings, and whether everything was read: a consumer
		 * tells "nothing found" from "nothing read". */
		doc = json_pack("{s:O, s:b, s:O, s:O}", "findings", o->all,
				"complete", !o->incomplete, "summary",
				o->summary, "notes", o->notes);
	} else if (o->fmt == SCAN_SARIF) {
		doc = json_pack("{s:s, s:s, s:[{s:{s:{s:s, s:s, s:o}}, "
				"s:O}]}",
				"version", "2.1.0", "$schema",
				"https://json.schemastore.org/"
				"sarif-2.1.0.json",
				"runs", "tool", "driver", "name", "driftwatch",
				"version", DW_VERSION, "rules",
				sarif_rules(o->engine), "results", o->all);
		json_object_set_new(
			json_array_get(json_object_get(doc, "runs"), 0),
			"invocations",
			json_pack("[{s:b, s:O, s:{s:O}}]",
				  "executionSuccessful", !o->incomplete,
				  "toolExecutionNotifications", o->notes,
				  "properties", "summary", o->summary));
	}
	json_decref(o->notes);
	o->notes = NULL;
	json_decref(o->summary);
	o->summary = NULL;
	if (doc) {
		dw_json_dump(&b, doc, JSON_PRESERVE_ORDER);
		dw_buf_addch(&b, '\n');
		err = fwrite(b.ptr, 1, b.len, o->to) == b.len ? 0 : -1;
		json_decref(doc);
	}
	if (fflush(o->to))
		err = -1;
	dw_buf_release(&b);
	json_decref(o->all);
	o->all = NULL;
	dw_scanner_free(o->redactor);
	o->redactor = NULL;
	return err;
}
