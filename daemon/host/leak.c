/* The leak response shared by `driftwatch scan --respond` and driftwatchd. */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "command.h"
#include "driftwatch/buf.h"
#include "driftwatch/error.h"
#include "driftwatch/escape.h"
#include "leak.h"

#include "driftwatch/banned.h"

json_t *dw_leak_command_doc(const struct dw_finding *f,
			    const struct dw_leak_src *src)
{
	struct dw_buf path = DW_BUF_INIT;
	json_t *o = json_object();

	dw_utf8_sanitize(&path, src->path, src->path_len);
	json_object_set_new(o, "rule", json_string(f->rule->id));
	json_object_set_new(o, "severity",
			    json_string(dw_severity_name(f->rule->severity)));
	json_object_set_new(o, "secret",
			    f->secret ? json_stringn(f->secret, f->secret_len)
				      : json_null());
	json_object_set_new(o, "fingerprint", json_string(f->fingerprint));
	json_object_set_new(o, "source", json_string(src->source));
	json_object_set_new(o, "path", json_stringn(path.ptr, path.len));
	json_object_set_new(o, "line", json_integer((json_int_t)f->line));
	json_object_set_new(o, "column", json_integer((json_int_t)f->column));
	if (f->unverified)
		json_object_set_new(o, "verified", json_false());
	if (src->source_id)
		json_object_set_new(o, "source_id",
				    json_string(src->source_id));
	if (src->name)
		json_object_set_new(o, "name", json_string(src->name));
	if (src->fields)
		json_object_update_missing(o, src->fields);
	dw_buf_release(&path);
	return o;
}

int dw_leak_run_command(char *const *argv, int timeout_s,
			const struct dw_finding *f,
			const struct dw_leak_src *src)
{
	json_t *doc = dw_leak_command_doc(f, src);
	char *text = json_dumps(doc, JSON_COMPACT | JSON_PRESERVE_ORDER);
	int err;

	json_decref(doc);
	if (!text)
		return dw_error_set(DW_ERROR, "cannot encode the finding for "
					      "the command");
	err = dw_run_command(argv, text, strlen(text),
			     timeout_s > 0 ? timeout_s
					   : DW_LEAK_COMMAND_TIMEOUT_S);
	free(text);
	return err;
}

int dw_leak_rotate(struct dw_docker *d, struct dw_store *st,
		   enum dw_swarm_secret what, int dry_run, const char *reason,
		   struct dw_rotation *rot)
{
	struct dw_swarm sw;
	int err = dw_swarm_rotate(d, what, dry_run, rot);

	if (err || dry_run || !st)
		return err;
	err = dw_swarm_read(d, &sw);
	if (err)
		return dw_error_set(DW_ESTORE,
				    "rotated, but the swarm's id "
				    "could not be read to record it: %s",
				    dw_error_last());
	err = dw_store_record_rotation(st, sw.id, dw_swarm_secret_name(what),
				       rot->before, rot->after, reason);
	/* The history: the one rotated away known (since when, if not
	 * seen before: not known), then ended by us. */
	if (!err) {
		static const char *const roles[] = {"worker", "manager",
						    "unlock-key"};

		err = dw_store_swarm_secret_seen(st, sw.id, roles[what],
						 rot->before, "elsewhere", 0);
		if (!err)
			err = dw_store_swarm_secret_seen(
				st, sw.id, roles[what], rot->after,
				"driftwatch", (long long)time(NULL));
	}
	dw_swarm_release(&sw);
	return err ? dw_error_set(DW_ESTORE, "rotated, but not recorded: %s",
				  dw_error_last())
		   : 0;
}
