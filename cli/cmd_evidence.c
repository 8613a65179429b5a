/*
 * driftwatch evidence export: a snapshot's evidence record in the formats
 * incident responders' tools read: a Sleuth Kit bodyfile (mactime), a
 * Timesketch JSONL timeline, and a sha256sum -c list.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "opt.h"
#include "driftwatch/buf.h"
#include "driftwatch/error.h"
#include "driftwatch/json.h"

#include "driftwatch/banned.h"

enum fmt { F_BODYFILE, F_TIMESKETCH, F_SHA256SUMS };

static const struct dw_opt opts[] = {
	{'f', "format", "FMT", "bodyfile (default), timesketch or sha256sums",
	 0},
	{0, NULL, NULL, NULL, 0},
};

static const char *const synopsis[] = {
	"evidence export [--format bodyfile|timesketch|sha256sums] PATH",
	NULL,
};

static const struct dw_cmd_help help = {
	"evidence", synopsis,
	"A snapshot's evidence record (PATH.evidence.json) as a Sleuth Kit "
	"bodyfile,\na Timesketch JSONL timeline or a sha256sum -c list, on "
	"stdout. Check the\nsnapshot first: driftwatch verify PATH.",
	opts};

/*
 * A name a container chose, as one bodyfile field: '|', '\', '%'
 * (mactime decodes %XX in every field), newlines and every other
 * control byte as \xNN, so that no name can end its row, forge another
 * or pass for another name.
 */
void dw_cli_bodyfile_field(struct dw_buf *out, const char *s)
{
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		if (c < 0x20 || c == 0x7f || c == '|' || c == '\\' || c == '%')
			dw_buf_addf(out, "\\x%02x", c);
		else
			dw_buf_addch(out, (char)c);
	}
}

/* TSK's mode_as_string of an octal st_mode ("104755" is "r/rrwsr-xr-x"):
 * the type twice, then the permissions with setuid, setgid, sticky. */
static void mode_string(char out[13], const char *octal)
{
	static const char rwx[] = "rwxrwxrwx";
	unsigned long m = strtoul(octal ? octal : "0", NULL, 8);
	char type;
	int i;

	switch (m & 0170000) {
	case 0040000: type = 'd'; break;
	case 0120000: type = 'l'; break;
	case 0020000: type = 'c'; break;
	case 0060000: type = 'b'; break;
	case 0010000: type = 'p'; break;
	case 0140000: type = 's'; break;
	default: type = 'r';
	}
	out[0] = type;
	out[1] = '/';
	out[2] = type;
	for (i = 0; i < 9; i++)
		out[3 + i] = (m >> (8 - i)) & 1 ? rwx[i] : '-';
	if (m & 04000)
		out[5] = m & 0100 ? 's' : 'S';
	if (m & 02000)
		out[8] = m & 010 ? 's' : 'S';
	if (m & 01000)
		out[11] = m & 01 ? 't' : 'T';
	out[12] = '\0';
}

/*
 * A time of the evidence in seconds and nanoseconds: a number of
 * nanoseconds, or, past what 64 bits hold (a container sets any time),
 * that number as a string. 0 when there is none.
 */
static int ev_time(json_t *v, long long *sec, long long *nsec)
{
	const char *str = json_string_value(v);

	*sec = *nsec = 0;
	if (json_is_integer(v)) {
		long long t = (long long)json_integer_value(v);

		*sec = t / 1000000000LL;
		*nsec = t % 1000000000LL;
		if (*nsec < 0) {
			*sec -= 1;
			*nsec += 1000000000LL;
		}
		return 1;
	}
	if (str && strlen(str) > 9 && strlen(str) < 30) {
		char head[32];
		size_t n = strlen(str) - 9;

		memcpy(head, str, n);
		head[n] = '\0';
		*sec = strtoll(head, NULL, 10);
		*nsec = strtoll(str + n, NULL, 10);
		if (*str == '-' && *nsec) { /* -S.N s: S+1 back, 1e9-N on */
			*sec -= 1;
			*nsec = 1000000000LL - *nsec;
		}
		return 1;
	}
	return 0;
}

static long long secs(json_t *e, const char *key)
{
	long long s, ns;

	ev_time(json_object_get(e, key), &s, &ns);
	return s;
}

static void bodyfile_row(struct dw_buf *out, json_t *e, const char *path)
{
	char mode[13];

	mode_string(mode, json_string_value(json_object_get(e, "mode")));
	dw_buf_adds(out, "0|");
	dw_cli_bodyfile_field(out, path);
	dw_buf_addf(out, "|%lld|%s|%lld|%lld|%lld|%lld|%lld|%lld|%lld\n",
		    (long long)json_integer_value(json_object_get(e, "inode")),
		    mode,
		    (long long)json_integer_value(json_object_get(e, "uid")),
		    (long long)json_integer_value(json_object_get(e, "gid")),
		    (long long)json_integer_value(json_object_get(e, "size")),
		    secs(e, "atime_ns"), secs(e, "mtime_ns"),
		    secs(e, "ctime_ns"), secs(e, "btime_ns"));
}

static void timesketch_rows(struct dw_buf *out, json_t *e, const char *path,
			    json_t *ev)
{
	static const char *const kinds[][2] = {
		{"mtime_ns", "Content Modification Time"},
		{"atime_ns", "Last Access Time"},
		{"ctime_ns", "Metadata Modification Time"},
		{"btime_ns", "Creation Time"},
	};
	size_t k;

	for (k = 0; k < sizeof(kinds) / sizeof(kinds[0]); k++) {
		json_t *ns = json_object_get(e, kinds[k][0]), *row;
		long long s, n;
		time_t sec;
		char when[48];
		struct tm tm;

		if (!ev_time(ns, &s, &n) || s <= 0 || s > 9000000000000LL)
			continue;
		sec = (time_t)s;
		if (!gmtime_r(&sec, &tm))
			continue;
		strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%S", &tm);
		snprintf(when + strlen(when), sizeof(when) - strlen(when),
			 ".%06lldZ", n / 1000);
		row = json_object();
		json_object_set_new(row, "message",
				    json_sprintf("%s: %s", kinds[k][1], path));
		json_object_set_new(row, "datetime", json_string(when));
		json_object_set_new(
			row, "timestamp",
			json_integer((json_int_t)(s * 1000000LL + n / 1000)));
		json_object_set_new(row, "timestamp_desc",
				    json_string(kinds[k][1]));
		{
			static const char *const keys[] = {
				"path", "inode", "mode",  "uid",
				"gid",	"size",	 "sha256"};
			size_t j;

			for (j = 0; j < sizeof(keys) / sizeof(keys[0]); j++)
				if (json_object_get(e, keys[j]))
					json_object_set(
						row, keys[j],
						json_object_get(e, keys[j]));
		}
		if (json_object_get(json_object_get(ev, "container"), "name"))
			json_object_set(
				row, "container",
				json_object_get(
					json_object_get(ev, "container"),
					"name"));
		json_object_set_new(row, "data_type",
				    json_string("driftwatch:snapshot:file"));
		dw_json_dump(out, row, JSON_PRESERVE_ORDER);
		dw_buf_addch(out, '\n');
		json_decref(row);
	}
}

/*
 * sha256sum -c's own form: names with '\', a newline or a carriage
 * return escaped (a bare trailing CR is dropped when checked), the line
 * marked with a leading '\'; paths as ./ relative to the container's
 * root (a file named "-" is no stdin). 1 when its name is not the one
 * on disk (not valid UTF-8: the evidence holds U+FFFD there): left out.
 */
static int sha256sums_row(struct dw_buf *out, json_t *e, const char *path)
{
	const char *sha = json_string_value(json_object_get(e, "sha256"));
	const char *p = path + (path[0] == '/');

	if (!sha || strncmp(sha, "sha256:", 7))
		return 0;
	if (strstr(p, "\xef\xbf\xbd"))
		return 1;
	if (strpbrk(p, "\\\n\r"))
		dw_buf_addch(out, '\\');
	dw_buf_addf(out, "%s  ./", sha + 7);
	for (; *p; p++)
		if (*p == '\\')
			dw_buf_adds(out, "\\\\");
		else if (*p == '\n')
			dw_buf_adds(out, "\\n");
		else if (*p == '\r')
			dw_buf_adds(out, "\\r");
		else
			dw_buf_addch(out, *p);
	dw_buf_addch(out, '\n');
	return 0;
}

int cmd_evidence(struct dw_cli *cli, int argc, char **argv)
{
	struct dw_buf path = DW_BUF_INIT, data = DW_BUF_INIT, out = DW_BUF_INIT;
	enum fmt fmt = F_BODYFILE;
	json_t *ev = NULL, *e;
	struct dw_opts p;
	size_t i, sparse = 0, lossy = 0;
	FILE *in;
	int c, err;

	(void)cli;
	dw_opts_init(&p, &help, argc, argv);
	while ((c = dw_opts_next(&p)) != -1) {
		switch (c) {
		case 'f':
			if (!strcmp(optarg, "bodyfile"))
				fmt = F_BODYFILE;
			else if (!strcmp(optarg, "timesketch"))
				fmt = F_TIMESKETCH;
			else if (!strcmp(optarg, "sha256sums"))
				fmt = F_SHA256SUMS;
			else
				return dw_cli_fail("evidence", DW_EXIT_USAGE,
						   "unknown format '%s'",
						   optarg);
			break;
		case DW_OPT_EXIT: return p.exit;
		default: return dw_opts_usage_error(&help);
		}
	}
	if (argc - optind != 2 || strcmp(argv[optind], "export"))
		return dw_opts_usage_error(&help);
	dw_buf_addf(&path, "%s.evidence.json", argv[optind + 1]);
	in = fopen(path.ptr, "re");
	err = in ? dw_buf_read_fd(&data, fileno(in))
		 : dw_error_errno(DW_EIO, errno, "cannot read %s", path.ptr);
	if (in)
		fclose(in);
	if (!err)
		err = dw_json_parse(&ev, data.ptr, data.len, path.ptr);
	dw_buf_release(&data);
	if (err) {
		dw_buf_release(&path);
		return dw_cli_fail("evidence", DW_EXIT_USAGE, "%s",
				   dw_error_last());
	}
	json_array_foreach(json_object_get(ev, "upper_entries"), i, e)
	{
		const char *name =
			json_string_value(json_object_get(e, "path"));

		if (!name || json_object_get(e, "whiteout"))
			continue;
		if (fmt == F_BODYFILE)
			bodyfile_row(&out, e, name);
		else if (fmt == F_TIMESKETCH)
			timesketch_rows(&out, e, name, ev);
		else if (json_object_get(e, "sparse"))
			sparse++; /* its digest covers its data, not its holes
				   */
		else
			lossy += (size_t)sha256sums_row(&out, e, name);
		if (out.len > (1u << 20)) {
			fwrite(out.ptr, 1, out.len, stdout);
			dw_buf_reset(&out);
		}
	}
	fwrite(out.ptr ? out.ptr : "", 1, out.len, stdout);
	if (sparse)
		fprintf(stderr,
			"driftwatch evidence: %zu sparse file%s left out of "
			"the list: %s digest covers %s data, not %s holes "
			"(sha256_data in the evidence)\n",
			sparse, sparse > 1 ? "s" : "",
			sparse > 1 ? "their" : "its",
			sparse > 1 ? "their" : "its",
			sparse > 1 ? "their" : "its");
	if (lossy)
		fprintf(stderr,
			"driftwatch evidence: %zu file%s left out of the list: "
			"not valid UTF-8, the evidence does not hold %s name "
			"as "
			"it is on disk\n",
			lossy, lossy > 1 ? "s" : "",
			lossy > 1 ? "their" : "its");
	json_decref(ev);
	dw_buf_release(&path);
	dw_buf_release(&out);
	return lossy ? DW_EXIT_ERROR : DW_EXIT_OK;
}
