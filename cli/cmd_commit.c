/* driftwatch commit: a forensic snapshot of a container. */
#include <limits.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "opt.h"
#include "driftwatch/buf.h"
#include "docker.h"
#include "mounts.h"
#include "driftwatch/config.h"
#include "driftwatch/error.h"
#include "driftwatch/json.h"
#include "sign.h"
#include "snapshot.h"
#include "store.h"
#include "driftwatch/xmalloc.h"
#include "driftwatch/banned.h"

static const struct dw_opt opts[] = {
	{'o', "output", "PATH",
	 "the archive (default: "
	 "./<name>-<UTC time>.tar)",
	 1},
	{'r', "reason", "TEXT", "why: kept in the evidence and the store", 0},
	{'t', "tag", "REPO:TAG",
	 "the tag of the loaded image (default: "
	 "driftwatch/<name>:<time>)",
	 0},
	{'P', "no-pause", NULL,
	 "do not pause (or freeze) the container while "
	 "capturing",
	 0},
	{'M', "max-pause", "SECONDS",
	 "let it run again after this long whatever "
	 "happens\n(default 300)",
	 0},
	{'L', "layer-only", NULL, "write just the upper dir's layer tar", 0},
	{'R', "replace", NULL,
	 "then recreate the container from its image, "
	 "same\nconfiguration; keep the drifted one stopped",
	 0},
	{'d', "db", "PATH",
	 "the store for the chain of custody (default\n" DW_STORE_DEFAULT_PATH
	 ")",
	 0},
	{'S', "max-size", "SIZE",
	 "write at most this much file data (default 64GiB;\n"
	 "holes of sparse files are free)",
	 0},
	{'H', "host", "URL", "docker socket (unix:///path)", 0},
	{'K', "signing-key", "PATH",
	 "the Ed25519 key that signs it, made when "
	 "absent\n(default " DW_SIGNING_KEY_DEFAULT ")",
	 0},
	{'U', "no-sign", NULL, "write no signed statement", 0},
	{0, NULL, NULL, NULL, 0},
};

static const char *const synopsis[] = {
	"commit [options] CONTAINER",
	NULL,
};

static const struct dw_cmd_help help = {"commit", synopsis, NULL, opts};

/*
 * --replace: the drifted container is stopped and kept, renamed
 * <name>-drifted-<stamp>, as evidence; a fresh one with its name and
 * configuration is created from the original image and started.
 */
static int replace(struct dw_docker *d, const char *ref, const char *stamp)
{
	struct dw_buf p = DW_BUF_INIT;
	json_t *in = NULL, *body = NULL, *created = NULL;
	const char *id, *name;
	char *old_name = NULL;
	int err;

	dw_buf_addf(&p, "/containers/%s/json", ref);
	err = dw_docker_get_json(d, &in, p.ptr);
	if (err)
		goto out;
	id = dw_json_path_str(in, "Id");
	name = dw_json_path_str(in, "Name");
	if (!id || !name || !json_is_object(dw_json_path(in, "Config"))) {
		err = dw_error_set(DW_EINVAL,
				   "inspect of %s lacks Id, Name "
				   "or Config",
				   ref);
		goto out;
	}
	name += name[0] == '/';
	old_name = dw_xstrdup(name);
	dw_buf_reset(&p);
	dw_buf_addf(&p, "/containers/%s/stop?t=10", id);
	err = dw_docker_post_json(d, NULL, p.ptr, NULL);
	dw_buf_reset(&p);
	dw_buf_addf(&p, "/containers/%s/rename?name=%s-drifted-%s", id,
		    old_name, stamp);
	if (!err)
		err = dw_docker_post_json(d, NULL, p.ptr, NULL);
	if (err)
		goto out;
	/* The same configuration: Config (its Image is the original one),
	 * HostConfig (mounts, ports, restart policy) and the networks. */
	body = json_deep_copy(dw_json_path(in, "Config"));
	json_object_set(body, "HostConfig", dw_json_path(in, "HostConfig"));
	if (json_is_object(dw_json_path(in, "NetworkSettings.Networks")))
		json_object_set_new(
			body, "NetworkingConfig",
			json_pack(
				"{s:O}", "EndpointsConfig",
				dw_json_path(in, "NetworkSettings.Networks")));
	dw_buf_reset(&p);
	dw_buf_addf(&p, "/containers/create?name=%s", old_name);
	err = dw_docker_post_json(d, &created, p.ptr, body);
	if (err)
		goto out;
	dw_buf_reset(&p);
	dw_buf_addf(&p, "/containers/%s/start",
		    dw_json_path_str(created, "Id"));
	err = dw_docker_post_json(d, NULL, p.ptr, NULL);
	if (!err)
		printf("replaced: %s runs afresh from %s as %.12s; the drifted "
		       "one is kept, stopped, as %s-drifted-%s\n",
		       old_name, dw_json_path_str(in, "Config.Image"),
		       dw_json_path_str(created, "Id"), old_name, stamp);
out:
	json_decref(in);
	json_decref(body);
	json_decref(created);
	free(old_name);
	dw_buf_release(&p);
	return err;
}

/* A name of another runtime's container, never Docker's. */
static int other_runtime(const char *ref)
{
	return (ref[0] != '/' && strchr(ref, '/')) ||
	       !strncmp(ref, "mount:", 6);
}

/* NS/POD/CONTAINER or RUNTIME://ID as one file and tag name component. */
static const char *safe_name(const char *ref)
{
	static char out[256];
	size_t i, n = 0;

	for (i = 0; ref[i] && n + 1 < sizeof(out); i++) {
		char c = ref[i];

		if (c == ':' && ref[i + 1] == '/' && ref[i + 2] == '/')
			i += 2, c = '-';
		else if (c == '/' || c == ':')
			c = '-';
		if (n || c != '-')
			out[n++] = c;
	}
	out[n] = '\0';
	return out;
}

static char *default_path(const char *name, const char *stamp, int layer)
{
	struct dw_buf b = DW_BUF_INIT;

	dw_buf_addf(&b, "%s-%s%s", name, stamp, layer ? ".layer.tar" : ".tar");
	return dw_buf_detach(&b, NULL);
}

static void record(const char *db, const char *ref,
		   const struct dw_snapshot_opts *o,
		   const struct dw_snapshot_result *r)
{
	struct dw_snapshot_record rec;
	struct dw_store *s = NULL;
	struct passwd *pw = getpwuid(getuid());
	char host[256] = "", abs[PATH_MAX];

	gethostname(host, sizeof(host) - 1);
	if (!realpath(o->out_path, abs))
		snprintf(abs, sizeof(abs), "%s", o->out_path);
	rec = (struct dw_snapshot_record){
		ref,
		ref,
		abs,
		r->archive_sha256,
		r->evidence_sha256,
		o->reason,
		pw ? pw->pw_name : "?",
		host,
		r->paused,
		r->statement_path ? r->statement_sha256 : NULL};
	if (dw_store_open(&s, db, 0) || dw_store_record_snapshot(s, &rec))
		fprintf(stderr,
			"driftwatch commit: warning: not recorded in "
			"the store: %s\n",
			dw_error_last());
	else if (o->signing_key)
		dw_cli_sign_heads(s, o->signing_key, "commit");
	dw_store_close(s);
}

int cmd_commit(struct dw_cli *cli, int argc, char **argv)
{
	struct dw_snapshot_opts o = {NULL, NULL, NULL, 0, 0, 0, 0, NULL};
	struct dw_mount *list = NULL;
	size_t nlist = 0, hit = 0;
	const char *ref, *runtime = "docker";
	char *end;
	long v;
	struct dw_snapshot_result r;
	struct dw_docker *d = NULL;
	const char *db = DW_STORE_DEFAULT_PATH, *host = cli->host;
	char *path = NULL, *tag = NULL, stamp[32];
	struct tm tm;
	time_t now = time(NULL);
	struct dw_opts p;
	int c, err, do_replace = 0, no_sign = 0;

	dw_opts_init(&p, &help, argc, argv);
	while ((c = dw_opts_next(&p)) != -1) {
		switch (c) {
		case 'o': o.out_path = optarg; break;
		case 'r': o.reason = optarg; break;
		case 't': o.tag = optarg; break;
		case 'P': o.no_pause = 1; break;
		case 'M':
			v = strtol(optarg, &end, 10);
			if (*end || end == optarg || v < 1 || v > 86400)
				return dw_cli_fail("commit", DW_EXIT_USAGE,
						   "--max-pause takes seconds "
						   "from 1 to 86400, not '%s'",
						   optarg);
			o.max_pause_s = (int)v;
			break;
		case 'L': o.layer_only = 1; break;
		case 'R': do_replace = 1; break;
		case 'S':
			if (dw_parse_size(&o.max_size, optarg) || !o.max_size)
				return dw_cli_fail("commit", DW_EXIT_USAGE,
						   "--max-size takes a size "
						   "(16GiB, ...), not '%s'",
						   optarg);
			break;
		case 'd': db = optarg; break;
		case 'H': host = optarg; break;
		case 'K': o.signing_key = optarg; break;
		case 'U': no_sign = 1; break;
		case DW_OPT_EXIT: return p.exit;
		default: return dw_opts_usage_error(&help);
		}
	}
	if (argc - optind != 1)
		return dw_opts_usage_error(&help);
	ref = argv[optind];
	if (!o.signing_key)
		o.signing_key = dw_cli_signing_key();
	if (no_sign)
		o.signing_key = NULL;
	if (dw_cli_docker(cli, "commit", host, db, &d))
		return DW_EXIT_USAGE;
	gmtime_r(&now, &tm);
	strftime(stamp, sizeof(stamp), "%Y%m%dT%H%M%SZ", &tm);
	if (!o.out_path)
		o.out_path = path =
			default_path(safe_name(ref), stamp, o.layer_only);
	if (!o.tag)
		o.tag = tag = dw_snapshot_default_tag(safe_name(ref), stamp);
	/* NS/POD/CONTAINER, RUNTIME://ID, mount:ID: another runtime's;
	 * else Docker's, then (not Docker's, or no Docker) another's. */
	err = other_runtime(ref) ? DW_ENOTFOUND
				 : dw_snapshot_container(d, ref, &o, &r);
	if (err == DW_ENOTFOUND || err == DW_EUNREACHABLE) {
		char why[1024];
		int merr;

		snprintf(why, sizeof(why), "%s", dw_error_last());
		merr = dw_mounts_find(cli->host_root, ref, &list, &nlist, &hit);
		if (merr == DW_ENOTFOUND && !other_runtime(ref)) {
			dw_error_set(err, "%s", why);
		} else if (merr) {
			err = merr;
		} else if (do_replace) {
			err = dw_error_set(DW_EUNSUPPORTED,
					   "--replace recreates Docker "
					   "containers only; %s is %s's",
					   ref, list[hit].runtime);
		} else {
			runtime = list[hit].runtime;
			err = dw_snapshot_mount(cli->host_root, &list[hit], ref,
						&o, &r);
		}
	}
	if (err) {
		dw_cli_docker_close(d);
		dw_mounts_free_list(list, nlist);
		free(path);
		free(tag);
		return dw_cli_fail("commit", dw_cli_exit_for(err), "%s",
				   dw_error_last());
	}
	if (r.recorded) {
		struct dw_container_layers l = {.name = argv[optind],
						.recorded = r.recorded};

		dw_cli_note_recorded("commit", &l);
	}
	record(db, argv[optind], &o, &r);
	printf("snapshot %s\n  %s, %llu bytes, %llu upper entries%s%s\n"
	       "  evidence %s (%s)\n",
	       o.out_path, r.archive_sha256, (unsigned long long)r.archive_size,
	       (unsigned long long)r.entries,
	       r.paused
		       ? (strcmp(runtime, "docker") ? ", frozen while captured"
						    : ", paused while captured")
		       : ", not paused",
	       r.changed_during_capture ? ", FILES CHANGED DURING CAPTURE" : "",
	       r.evidence_path, r.evidence_sha256);
	if (r.statement_path)
		printf("  signed %s (key %s)\n", r.statement_path, r.keyid);
	if (!o.layer_only && !strcmp(runtime, "docker"))
		printf("  load it with: docker load -i %s   (image %s)\n",
		       o.out_path, o.tag);
	else if (!o.layer_only)
		printf("  load it with: ctr -n k8s.io image import %s, "
		       "podman load -i %s or docker load -i %s   (image %s)\n",
		       o.out_path, o.out_path, o.out_path, o.tag);
	dw_mounts_free_list(list, nlist);
	err = do_replace ? replace(d, argv[optind], stamp) : 0;
	dw_cli_docker_close(d);
	if (err)
		dw_cli_fail("commit", DW_EXIT_ERROR,
			    "snapshot taken, but "
			    "--replace failed: %s",
			    dw_error_last());
	if (r.pause_expired)
		fprintf(stderr,
			"driftwatch commit: warning: the capture outlasted its "
			"pause (%d s): the rest was read from the running "
			"container; the evidence says so\n",
			o.max_pause_s ? o.max_pause_s : DW_SNAPSHOT_MAX_PAUSE);
	if (r.truncated)
		/* Evidence that is not whole is never reported as whole. */
		err = dw_cli_fail("commit", DW_EXIT_ERROR,
				  "incomplete: %zu director%s nested too deep "
				  "to enter (written, not their contents), the "
				  "first at /%s; the evidence says so",
				  r.truncated, r.truncated > 1 ? "ies" : "y",
				  r.truncated_at);
	if (r.sign_error[0])
		/* Written whole, but not signed as asked: not a success. */
		err = dw_cli_fail("commit", DW_EXIT_ERROR,
				  "the snapshot is written but not signed: %s "
				  "(--no-sign to take one unsigned)",
				  r.sign_error);
	free(r.statement_path);
	free(r.truncated_at);
	free(r.evidence_path);
	free(path);
	free(tag);
	return err ? DW_EXIT_ERROR : DW_EXIT_OK;
}
