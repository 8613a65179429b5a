/* driftwatch diff: `docker diff`, from the layer dirs themselves. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/capability.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "cli.h"
#include "opt.h"
#include "driftwatch/overlay_diff.h"
#include "docker.h"
#include "mounts.h"
#include "store.h"
#include "driftwatch/error.h"
#include "driftwatch/xmalloc.h"
#include "driftwatch/banned.h"

struct diff_args {
	const char *host;
	const char *db;
	const char *upper;
	char **lowers;
	size_t nlowers, alloc;
	enum dw_diff_format format;
	const char *container;
	int done;      /* --help was answered */
	int userxattr; /* --userxattr */
};

static const struct dw_opt opts[] = {
	{'f', "format", "FMT",
	 "text (default; 'K /path' per line, sorted) or "
	 "json",
	 1},
	{'H', "host", "URL",
	 "docker socket, unix:///path (default "
	 "$DOCKER_HOST,\nelse unix://" DW_DOCKER_DEFAULT_SOCKET ")",
	 1},
	{'d', "db", "PATH",
	 "driftwatchd's store, for a stopped container on Docker's "
	 "containerd\nimage store (default " DW_STORE_DEFAULT_PATH ")",
	 1},
	{'u', "upper", "DIR", "an overlay upper dir, read directly", 0},
	{'l', "lower", "DIRS",
	 "its lower dirs, topmost first, ':'-separated;"
	 "\nmay be repeated (appended in order)",
	 0},
	{'X', "userxattr", NULL,
	 "the layers are a userxattr (rootless) overlay's: its\n"
	 "metadata is in user.overlay.*, not trusted.overlay.*",
	 0},
	{0, NULL, NULL, NULL, 0},
};

static const char *const synopsis[] = {
	"diff [--format text|json] CONTAINER",
	"diff [--format text|json] --upper DIR [--lower DIR[:DIR...]]...",
	NULL,
};

static const struct dw_cmd_help help = {"diff", synopsis, NULL, opts};

static void add_lowers(struct diff_args *a, const char *spec)
{
	while (*spec) {
		const char *colon = strchr(spec, ':');
		size_t n = colon ? (size_t)(colon - spec) : strlen(spec);

		if (n) {
			DW_ALLOC_GROW(a->lowers, a->nlowers + 1, a->alloc);
			a->lowers[a->nlowers++] = dw_xstrndup(spec, n);
		}
		spec += n + (colon != NULL);
	}
}

static int parse(struct diff_args *a, int argc, char **argv)
{
	struct dw_opts p;
	int c;

	dw_opts_init(&p, &help, argc, argv);
	while ((c = dw_opts_next(&p)) != -1) {
		switch (c) {
		case 'f':
			if (!strcmp(optarg, "text"))
				a->format = DW_DIFF_FORMAT_TEXT;
			else if (!strcmp(optarg, "json"))
				a->format = DW_DIFF_FORMAT_JSON;
			else
				return dw_cli_fail("diff", DW_EXIT_USAGE,
						   "unknown format '%s' (text "
						   "or json)",
						   optarg);
			break;
		case 'H': a->host = optarg; break;
		case 'd': a->db = optarg; break;
		case 'u': a->upper = optarg; break;
		case 'l': add_lowers(a, optarg); break;
		case 'X': a->userxattr = 1; break;
		case DW_OPT_EXIT: a->done = 1; return p.exit;
		default: return dw_opts_usage_error(&help);
		}
	}
	if (a->upper && optind == argc)
		return 0;
	if (a->nlowers && !a->upper)
		return dw_cli_fail("diff", DW_EXIT_USAGE,
				   "--lower needs --upper");
	if (a->upper || argc - optind != 1)
		return dw_opts_usage_error(&help);
	a->container = argv[optind];
	return 0;
}

/*
 * Without CAP_SYS_ADMIN the kernel hides trusted.* xattrs (reads fail as
 * if absent), so opaque dirs and redirects of a rootful overlay would be
 * missed without any error: say so.
 */
static void warn_without_cap_sys_admin(void)
{
	struct __user_cap_header_struct hdr = {_LINUX_CAPABILITY_VERSION_3, 0};
	struct __user_cap_data_struct data[2];

	if (syscall(SYS_capget, &hdr, data) == 0 &&
	    (data[CAP_TO_INDEX(CAP_SYS_ADMIN)].effective &
	     CAP_TO_MASK(CAP_SYS_ADMIN)))
		return;
	fprintf(stderr, "driftwatch diff: warning: without CAP_SYS_ADMIN "
			"the trusted.overlay.* xattrs are invisible; opaque "
			"dirs and redirects of rootful overlays may be "
			"missed (run as root)\n");
}

/* Deep trees hold one descriptor per level: allow as many as we may. */
static void raise_fd_limit(void)
{
	struct rlimit rl;

	if (!getrlimit(RLIMIT_NOFILE, &rl) && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
}

/*
 * A container of another runtime, by its overlay mount in the host's
 * mountinfo (containerd, CRI-O, podman, a plain mount): its layer dirs
 * from the mount's options, the runtime's own mount points left out as
 * driftwatchd leaves them out. 1 when none is named so; an error when
 * more than one is (the candidates listed).
 */
static int diff_mount(struct dw_cli *cli, struct diff_args *a,
		      struct dw_changeset *cs, unsigned flags, int *ret)
{
	struct dw_mount *list = NULL, *m;
	size_t n = 0, hit = 0;
	int err = dw_mounts_find(cli->host_root, a->container, &list, &n, &hit);

	if (err == DW_ENOTFOUND)
		return 1;
	if (err) {
		*ret = dw_cli_fail("diff", DW_EXIT_USAGE, "%s",
				   dw_error_last());
		return 0;
	}
	m = &list[hit];
	if (m->bad) {
		*ret = dw_cli_fail("diff", DW_EXIT_ERROR, "%s: %s",
				   a->container, m->bad);
	} else {
		err = dw_overlay_diff(
			cs, m->upper, (const char *const *)m->lowers,
			m->nlowers,
			flags | (m->userxattr ? DW_DIFF_USERXATTR : 0));
		dw_changeset_drop_added_dirs(cs, m->mount_points,
					     m->nmount_points);
		*ret = err ? dw_cli_fail("diff", DW_EXIT_ERROR,
					 "container %s: %s", a->container,
					 dw_error_last())
			   : 0;
	}
	dw_mounts_free_list(list, n);
	return 0;
}

static int diff_container(struct dw_cli *cli, struct diff_args *a,
			  struct dw_changeset *cs, unsigned flags)
{
	struct dw_container_layers l;
	struct dw_docker *d = NULL;
	int err, ret = 0;

	/* Not a Docker name: NS/POD/CONTAINER, mount:…, containerd://…;
	 * a mount point (or Docker's "/name") is looked for in both. */
	if (a->container[0] == '/' && !diff_mount(cli, a, cs, flags, &ret))
		return ret;
	if (a->container[0] != '/' && (strchr(a->container, '/') ||
				       !strncmp(a->container, "mount:", 6))) {
		if (!diff_mount(cli, a, cs, flags, &ret))
			return ret;
		return dw_cli_fail("diff", DW_EXIT_NOTFOUND, "%s",
				   dw_error_last());
	}
	if (dw_cli_docker(cli, "diff", a->host, a->db, &d))
		return DW_EXIT_USAGE;
	err = dw_docker_container_layers(d, &l, a->container);
	dw_cli_docker_close(d);
	/* Not Docker's (or no Docker here): another runtime's by its id
	 * or name. */
	if (err == DW_ENOTFOUND || err == DW_EIO || err == DW_EUNREACHABLE) {
		char why[512];

		snprintf(why, sizeof(why), "%s", dw_error_last());
		if (!diff_mount(cli, a, cs, flags, &ret))
			return ret;
		dw_error_set(err, "%s", why);
	}
	if (err)
		return dw_cli_fail("diff", dw_cli_exit_for(err), "%s",
				   dw_error_last());
	if (l.recorded)
		dw_cli_note_recorded("diff", &l);
	if (l.userxattr)
		flags |= DW_DIFF_USERXATTR;
	err = dw_overlay_diff(cs, l.upper, (const char *const *)l.lowers,
			      l.nlowers, flags);
	if (err)
		dw_cli_fail("diff", DW_EXIT_ERROR, "container %s: %s",
			    a->container, dw_error_last());
	dw_container_layers_release(&l);
	return err ? DW_EXIT_ERROR : 0;
}

int cmd_diff(struct dw_cli *cli, int argc, char **argv)
{
	struct diff_args a = {cli->host, DW_STORE_DEFAULT_PATH, NULL, NULL, 0,
			      0,	 DW_DIFF_FORMAT_TEXT,	NULL, 0,    0};
	struct dw_changeset cs = DW_CHANGESET_INIT;
	unsigned flags;
	size_t i;
	int ret = parse(&a, argc, argv);

	if (ret || a.done)
		goto out;
	raise_fd_limit();
	warn_without_cap_sys_admin();
	flags = DW_DIFF_PREFETCH |
		(a.format == DW_DIFF_FORMAT_JSON ? DW_DIFF_STAT : 0) |
		(a.userxattr ? DW_DIFF_USERXATTR : 0);
	if (a.container) {
		ret = diff_container(cli, &a, &cs, flags);
	} else if (dw_overlay_diff(&cs, a.upper, (const char *const *)a.lowers,
				   a.nlowers, flags)) {
		ret = dw_cli_fail("diff", DW_EXIT_ERROR, "%s", dw_error_last());
	}
	if (ret)
		goto out;
	if (cs.forged)
		fprintf(stderr,
			"driftwatch diff: warning: %zu overlay xattr%s that "
			"the kernel ignores %s ignored too (a container can "
			"write them); the first: %s\n",
			cs.forged, cs.forged > 1 ? "s" : "",
			cs.forged > 1 ? "were" : "was", cs.forged_at);
	if (dw_changeset_write(STDOUT_FILENO, &cs, a.format))
		ret = dw_cli_fail("diff", DW_EXIT_ERROR, "%s", dw_error_last());
	else if (cs.truncated)
		/* Printed, but not all of it: loud, and not a success. */
		ret = dw_cli_fail("diff", DW_EXIT_ERROR,
				  "incomplete: %zu director%s nested deeper "
				  "than %zu levels not compared, the first at "
				  "%s",
				  cs.truncated, cs.truncated > 1 ? "ies" : "y",
				  cs.max_depth, cs.truncated_at);
out:
	for (i = 0; i < a.nlowers; i++)
		free(a.lowers[i]);
	free(a.lowers);
	dw_changeset_release(&cs);
	return ret;
}
