/* driftwatch status: what the daemon last said it is doing. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "opt.h"
#include "driftwatch/buf.h"
#include "driftwatch/error.h"
#include "driftwatch/escape.h"
#include "driftwatch/json.h"
#include "store.h"
#include "driftwatch/banned.h"

static const struct dw_opt opts[] = {
	{'d', "db", "PATH", "the store (default " DW_STORE_DEFAULT_PATH ")", 0},
	{'f', "format", "FMT", "text (default) or json", 0},
	{0, NULL, NULL, NULL, 0},
};

static const char *const synopsis[] = {
	"status [--db PATH] [--format text|json]",
	NULL,
};

static const struct dw_cmd_help help = {"status", synopsis, NULL, opts};

static long long num(json_t *o, const char *key)
{
	return (long long)json_integer_value(json_object_get(o, key));
}

static const char *str(json_t *o, const char *key)
{
	const char *s = json_string_value(json_object_get(o, key));

	return s ? s : "";
}

/*
 * A string a container may have chosen (a name, a path in a detail), as
 * one line of text: escaped into one of a few rotating buffers, so that
 * several can be used in one printf.
 */
static const char *esc(const char *s)
{
	static struct dw_buf b[4];
	static unsigned k;
	struct dw_buf *o = &b[k++ % 4];

	dw_buf_reset(o);
	dw_escape_path(o, s, strlen(s));
	return o->ptr ? o->ptr : "";
}

static void ago(char *out, size_t size, long long us)
{
	long long s = (long long)time(NULL) - us / 1000000;

	if (!us)
		snprintf(out, size, "never");
	else if (s < 120)
		snprintf(out, size, "%llds ago", s);
	else if (s < 7200)
		snprintf(out, size, "%lldm ago", s / 60);
	else
		snprintf(out, size, "%lldh ago", s / 3600);
}

/* Every facet's coverage of every container the store knows. */
static int on_coverage(const struct dw_coverage_row *r, void *ctx)
{
	json_array_append_new(
		ctx,
		json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:I}", "id",
			  r->container_id, "name", r->name, "facet", r->facet,
			  "state", r->state, "reason", r->reason, "detail",
			  r->detail, "since", (json_int_t)r->since));
	return 0;
}

/*
 * What driftwatch cannot see, container by container; facets that no
 * container has (not built, turned off) once, at the end.
 */
static void print_coverage(json_t *doc)
{
	json_t *cover = json_object_get(doc, "coverage"), *r;
	struct dw_buf absent = DW_BUF_INIT;
	size_t i, shown = 0;

	json_array_foreach(cover, i, r)
	{
		const char *reason = str(r, "reason"), *name = str(r, "name");

		if (!strcmp(str(r, "state"), "monitored"))
			continue;
		if (!strcmp(reason, "not-built") ||
		    !strcmp(reason, "disabled")) {
			char item[64];

			snprintf(item, sizeof(item), "%s (%s)", str(r, "facet"),
				 reason);
			if (!strstr(absent.ptr ? absent.ptr : "", item))
				dw_buf_addf(&absent, "%s%s",
					    absent.len ? ", " : "", item);
			continue;
		}
		if (!shown++)
			printf("\nnot fully monitored:\n");
		printf("  %-24s %-12.12s %-8s %-11s %s%s%s\n", esc(name),
		       str(r, "id"), str(r, "facet"), str(r, "state"), reason,
		       *str(r, "detail") ? ": " : "", esc(str(r, "detail")));
	}
	if (!shown)
		printf("\nevery watched container is fully monitored\n");
	if (absent.len)
		printf("not monitored on this host: %s\n", absent.ptr);
	dw_buf_release(&absent);
}

/* The daemon writes its status at least every 30 s from its loop. */
#define STALL_S 90

static void print_text(json_t *doc, const char *state, long long pid)
{
	json_t *docker = json_object_get(doc, "docker"), *c;
	char when[32];
	size_t i;

	ago(when, sizeof(when), num(doc, "last_event_us"));
	printf("driftwatchd %s: %s (pid %lld)\n", str(doc, "version"), state,
	       pid);
	{
		char turned[32];

		ago(turned, sizeof(turned), num(doc, "updated") * 1000000);
		printf("loop:       last turned %s%s\n", turned,
		       !strcmp(state, "stalled") ? " (stalled: the watchdog "
						   "restarts it under systemd)"
						 : "");
	}
	printf("docker:     %s%s%s\n",
	       !json_is_true(json_object_get(docker, "enabled")) ? "off"
	       : json_is_true(json_object_get(docker, "connected"))
		       ? "connected"
		       : "not connected",
	       *str(docker, "error") ? ": " : "", esc(str(docker, "error")));
	printf("containers: %lld watched, %lld polled (no watches left)\n",
	       num(doc, "containers"), num(doc, "polling"));
	printf("watches:    %lld (fs.inotify.max_user_watches %lld)\n",
	       num(doc, "watches"), num(doc, "max_user_watches"));
	printf("rescans:    %lld, queue overflows %lld, errors %lld\n",
	       num(doc, "rescans"), num(doc, "overflows"), num(doc, "errors"));
	printf("last event: %s\n", when);
	{
		json_t *sc = json_object_get(doc, "scanner");

		if (json_is_object(sc))
			printf("scanner:    %s, pid %lld, %lld restarts, %lld "
			       "files given up on\n",
			       json_is_true(json_object_get(sc, "confined"))
				       ? "confined"
				       : "NOT CONFINED (files are scanned in "
					 "driftwatchd itself)",
			       num(sc, "pid"), num(sc, "restarts"),
			       num(sc, "inputs_given_up"));
	}
	{
		json_t *x = json_object_get(doc, "exec");

		if (json_is_true(json_object_get(x, "watching")))
			printf("exec:       %lld containers marked; %lld execs "
			       "held, %lld not image content, %lld denied, "
			       "%lld undecided, %lld reports lost\n",
			       num(x, "marked"), num(x, "held"),
			       num(x, "drifted"), num(x, "denied"),
			       num(x, "undecided"), num(x, "lost"));
		else if (json_is_object(x))
			printf("exec:       NOT WATCHED%s%s\n",
			       *str(x, "error") ? ": " : "",
			       esc(str(x, "error")));
	}
	if (num(doc, "full_rescan_interval_s") > 0)
		printf("full rescan: every %llds, next in %llds (it alone sees "
		       "writes through mmap and hard links)\n",
		       num(doc, "full_rescan_interval_s"),
		       num(doc, "next_full_rescan_s"));
	else
		printf("full rescan: off (writes through mmap and hard links "
		       "are not seen)\n");
	printf("\n");
	printf("%-24s %-12s %-10s %-7s %8s %8s %8s  %s\n", "NAME", "ID",
	       "RUNTIME", "MODE", "WATCHES", "CHANGES", "RESCANS",
	       "LAST CHANGE");
	json_array_foreach(json_object_get(doc, "watched"), i, c)
	{
		ago(when, sizeof(when), num(c, "last_change_us"));
		printf("%-24s %-12.12s %-10s %-7s %8lld %8lld %8lld  %s%s\n",
		       esc(str(c, "name")), str(c, "id"), str(c, "runtime"),
		       str(c, "mode"), num(c, "watches"), num(c, "changes"),
		       num(c, "rescans"), when,
		       json_is_true(json_object_get(c, "immutable"))
			       ? "  immutable"
			       : "");
		if (num(c, "pending") > 0)
			printf("  %lld more changes found, not yet recorded: "
			       "analysed rescan_budget_ms at a turn\n",
			       num(c, "pending"));
	}
}

int cmd_status(struct dw_cli *cli, int argc, char **argv)
{
	const char *db = DW_STORE_DEFAULT_PATH, *fmt = "text";
	char state[16];
	struct dw_store *s = NULL;
	long long pid = 0, updated = 0;
	char *text = NULL;
	json_t *doc = NULL, *cover = NULL;
	struct dw_opts p;
	int c, err, alive;

	(void)cli;
	dw_opts_init(&p, &help, argc, argv);
	while ((c = dw_opts_next(&p)) != -1) {
		switch (c) {
		case 'd': db = optarg; break;
		case 'f':
			fmt = optarg;
			if (strcmp(fmt, "text") && strcmp(fmt, "json"))
				return dw_cli_fail("status", DW_EXIT_USAGE,
						   "unknown format '%s'", fmt);
			break;
		case DW_OPT_EXIT: return p.exit;
		default: return dw_opts_usage_error(&help);
		}
	}
	if (optind != argc)
		return dw_opts_usage_error(&help);
	err = dw_store_open(&s, db, 1);
	if (!err)
		err = dw_store_get_status(s, &text, &pid, &updated);
	if (!err) {
		cover = json_array();
		err = dw_store_coverage(s, NULL, on_coverage, cover);
	}
	dw_store_close(s);
	if (!err)
		err = dw_json_parse(&doc, text, strlen(text), "status");
	free(text);
	if (!err)
		json_object_set_new(doc, "coverage", cover);
	else
		json_decref(cover);
	if (err)
		return dw_cli_fail("status",
				   err == DW_ENOTFOUND ? DW_EXIT_NOTFOUND
						       : DW_EXIT_ERROR,
				   "%s", dw_error_last());
	/* The document says "running" until the daemon says otherwise;
	 * a daemon that died without a word is found by its pid. */
	snprintf(state, sizeof(state), "%s", str(doc, "state"));
	alive = !strcmp(state, "running") &&
		(kill((pid_t)pid, 0) == 0 || errno == EPERM);
	if (!strcmp(state, "running") && !alive)
		snprintf(state, sizeof(state), "dead");
	/* Alive, but its loop (which writes the status at least every
	 * 30 s) has not turned for long: stuck. */
	if (alive && updated && (long long)time(NULL) - updated > STALL_S)
		snprintf(state, sizeof(state), "stalled");
	json_object_set_new(doc, "state", json_string(state));
	json_object_set_new(doc, "pid", json_integer(pid));
	json_object_set_new(doc, "updated", json_integer(updated));
	if (!strcmp(fmt, "json")) {
		struct dw_buf b = DW_BUF_INIT;

		dw_json_dump(&b, doc, JSON_PRESERVE_ORDER);
		printf("%s\n", b.ptr);
		dw_buf_release(&b);
	} else {
		print_text(doc, state, pid);
		print_coverage(doc);
	}
	json_decref(doc);
	return alive ? DW_EXIT_OK : DW_EXIT_NOTFOUND;
}
