/*
 * driftwatch hook: install git hooks that stop leaked secrets, and the
 * checks those hooks run.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "opt.h"
#include "driftwatch/buf.h"
#include "driftwatch/config.h"
#include "driftwatch/error.h"
#include "driftwatch/escape.h"
#include "driftwatch/git.h"
#include "driftwatch/engine.h"
#include "driftwatch/banned.h"

#define MARK "installed by driftwatch hook install"
#define CHAINED ".driftwatch-chained"

static const struct dw_opt opts[] = {
	{'p', "pre-push", NULL, "install: the pre-push hook too", 0},
	{0, NULL, NULL, NULL, 0},
};

static const char *const synopsis[] = {
	"hook install [--pre-push] [REPO]",
	"hook uninstall [REPO]",
	"hook pre-commit   (run by the pre-commit hook)",
	"hook pre-push     (run by the pre-push hook; refs on stdin)",
	NULL,
};

static const struct dw_cmd_help help = {"hook", synopsis, NULL, opts};

static int read_file(struct dw_buf *out, const char *path)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC), err;

	if (fd < 0)
		return -1;
	err = dw_buf_read_fd(out, fd);
	close(fd);
	return err ? -1 : 0;
}

static int is_ours(const char *path)
{
	struct dw_buf b = DW_BUF_INIT;
	int ours = !read_file(&b, path) && strstr(b.ptr, MARK);

	dw_buf_release(&b);
	return ours;
}

static void hook_script(struct dw_buf *b, const char *name, const char *self)
{
	dw_buf_addf(b,
		    "#!/bin/sh\n# driftwatch %s hook, " MARK ".\n"
		    "# `driftwatch hook uninstall` removes it and puts "
		    "back any hook it chained.\n",
		    name);
	dw_buf_addf(b, "dw='%s'\n[ -x \"$dw\" ] || dw=driftwatch\n", self);
	if (!strcmp(name, "pre-push")) {
		/* Both hooks read the refs on stdin: keep a copy. */
		dw_buf_addf(b, "refs=$(cat)\n"
			       "if [ -x \"$0" CHAINED "\" ]; then\n"
			       "\tprintf '%%s\\n' \"$refs\" | \"$0" CHAINED
			       "\" \"$@\" || exit $?\nfi\n"
			       "printf '%%s\\n' \"$refs\" | exec \"$dw\" hook "
			       "pre-push \"$@\"\n");
	} else {
		dw_buf_addf(b,
			    "if [ -x \"$0" CHAINED "\" ]; then\n"
			    "\t\"$0" CHAINED "\" \"$@\" || exit $?\nfi\n"
			    "exec \"$dw\" hook %s \"$@\"\n",
			    name);
	}
}

static int install_one(const char *dir, const char *name, const char *self)
{
	struct dw_buf path = DW_BUF_INIT, chained = DW_BUF_INIT,
		      body = DW_BUF_INIT, tmp = DW_BUF_INIT;
	size_t tmpdir_len;
	int ret = DW_EXIT_OK, fd;

	dw_buf_addf(&path, "%s/%s", dir, name);
	dw_buf_addf(&chained, "%s" CHAINED, path.ptr);
	/* A private directory beside it: nobody can plant a link there. */
	dw_buf_addf(&tmp, "%s/.driftwatch-XXXXXX", dir);
	mkdir(dir, 0755);
	if (access(path.ptr, F_OK) == 0 && !is_ours(path.ptr)) {
		if (access(chained.ptr, F_OK) == 0) {
			ret = dw_cli_fail("hook", DW_EXIT_ERROR,
					  "%s exists and so does %s: not "
					  "touching either",
					  path.ptr, chained.ptr);
			goto out;
		}
		if (rename(path.ptr, chained.ptr)) {
			ret = dw_cli_fail("hook", DW_EXIT_ERROR,
					  "cannot move "
					  "%s: %s",
					  path.ptr, strerror(errno));
			goto out;
		}
		printf("kept your %s hook as %s; it runs first\n", name,
		       chained.ptr);
	}
	hook_script(&body, name, self);
	if (!mkdtemp(tmp.ptr)) {
		ret = dw_cli_fail("hook", DW_EXIT_ERROR,
				  "cannot write in %s: %s", dir,
				  strerror(errno));
		goto out;
	}
	tmpdir_len = tmp.len;
	dw_buf_addf(&tmp, "/%s", name);
	fd = open(tmp.ptr, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
		  0755);
	if (fd < 0 || write(fd, body.ptr, body.len) != (ssize_t)body.len ||
	    close(fd) || rename(tmp.ptr, path.ptr)) {
		ret = dw_cli_fail("hook", DW_EXIT_ERROR, "cannot write %s: %s",
				  path.ptr, strerror(errno));
		unlink(tmp.ptr);
	} else {
		printf("installed %s\n", path.ptr);
	}
	dw_buf_setlen(&tmp, tmpdir_len);
	rmdir(tmp.ptr);
out:
	dw_buf_release(&path);
	dw_buf_release(&chained);
	dw_buf_release(&body);
	dw_buf_release(&tmp);
	return ret;
}

static int uninstall_one(const char *dir, const char *name)
{
	struct dw_buf path = DW_BUF_INIT, chained = DW_BUF_INIT;
	int ret = DW_EXIT_OK;

	dw_buf_addf(&path, "%s/%s", dir, name);
	dw_buf_addf(&chained, "%s" CHAINED, path.ptr);
	if (access(path.ptr, F_OK) == 0 && !is_ours(path.ptr)) {
		printf("%s is not driftwatch's: left alone\n", path.ptr);
		goto out;
	}
	if (access(path.ptr, F_OK) == 0) {
		unlink(path.ptr);
		printf("removed %s\n", path.ptr);
	}
	if (access(chained.ptr, F_OK) == 0) {
		if (rename(chained.ptr, path.ptr))
			ret = dw_cli_fail("hook", DW_EXIT_ERROR,
					  "cannot "
					  "restore %s: %s",
					  path.ptr, strerror(errno));
		else
			printf("restored your %s hook\n", name);
	}
out:
	dw_buf_release(&path);
	dw_buf_release(&chained);
	return ret;
}

static int install(int argc, char **argv, int remove)
{
	char self[PATH_MAX];
	char *dir;
	ssize_t n;
	struct dw_opts p;
	int c, push = 0, ret;

	dw_opts_init(&p, &help, argc, argv);
	while ((c = dw_opts_next(&p)) != -1) {
		if (c == DW_OPT_EXIT)
			return p.exit;
		if (c != 'p' || remove)
			return dw_opts_usage_error(&help);
		push = 1;
	}
	if (argc - optind > 1)
		return dw_opts_usage_error(&help);
	dir = dw_git_hooks_dir(optind < argc ? argv[optind] : ".");
	if (!dir)
		return dw_cli_fail("hook", DW_EXIT_USAGE, "%s",
				   dw_error_last());
	if (remove) {
		ret = uninstall_one(dir, "pre-commit");
		if (!ret)
			ret = uninstall_one(dir, "pre-push");
		free(dir);
		return ret;
	}
	n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	self[n > 0 ? n : 0] = '\0';
	if (strchr(self, '\''))
		self[0] = '\0'; /* not quotable: fall back to $PATH */
	ret = install_one(dir, "pre-commit", self);
	if (!ret && push)
		ret = install_one(dir, "pre-push", self);
	free(dir);
	return ret;
}

struct hook_run {
	size_t count;
	int color;
	const struct dw_engine *e;
};

static int on_blocked(const struct dw_git_finding *gf, void *ctx)
{
	struct hook_run *h = ctx;
	struct dw_buf b = DW_BUF_INIT, red = DW_BUF_INIT;
	json_t *commit = json_object_get(gf->src->fields, "commit");
	const char *entry =
		json_string_value(json_object_get(gf->src->fields, "entry"));

	if (gf->note) {
		dw_escape_path(&b, gf->src->path, strlen(gf->src->path));
		fprintf(stderr, "driftwatch: note: %s: %s\n", b.ptr, gf->note);
		dw_buf_release(&b);
		return 0;
	}
	if (gf->f)
		dw_engine_redact(h->e, gf->f->rule_index, gf->f->secret,
				 gf->f->secret_len, &red);
	else if (gf->redacted)
		dw_buf_adds(&red, gf->redacted);
	{
		struct dw_buf p = DW_BUF_INIT;

		dw_engine_redact_text(h->e, gf->src->path,
				      strlen(gf->src->path), gf->f, &p);
		dw_escape_path(&b, p.ptr ? p.ptr : "", p.len);
		dw_buf_release(&p);
		/* an entry of an archive: "conf.zip!dir/file" */
		if (entry) {
			dw_engine_redact_text(h->e, entry, strlen(entry), gf->f,
					      &p);
			dw_buf_adds(&b, "!");
			dw_escape_path(&b, p.ptr ? p.ptr : "", p.len);
			dw_buf_release(&p);
		}
	}
	dw_buf_addf(&b, ":%llu: %s%s%s ", (unsigned long long)gf->line,
		    h->color ? "\033[1;31m" : "", gf->rule_id,
		    h->color ? "\033[0m" : "");
	dw_escape_path(&b, red.ptr, red.len);
	dw_buf_addf(&b, " (%s)", gf->fingerprint);
	if (json_is_string(commit))
		dw_buf_addf(&b, " in commit %.12s", json_string_value(commit));
	fprintf(stderr, "driftwatch: %s\n", b.ptr);
	h->count++;
	dw_buf_release(&b);
	dw_buf_release(&red);
	return 0;
}

static int load_repo_engine(struct dw_config *cfg, struct dw_engine **e)
{
	struct dw_buf p = DW_BUF_INIT;
	char *root = dw_git_workdir(NULL);
	char *cache = dw_cli_cache_dir();
	int err = 0;

	memset(cfg, 0, sizeof(*cfg));
	if (root) {
		dw_buf_addf(&p, "%s.driftwatch.yaml", root);
		if (access(p.ptr, F_OK) == 0)
			err = dw_config_load(cfg, p.ptr);
	}
	cfg->engine.cache_dir = cache;
	if (!err)
		err = dw_engine_new(e, &cfg->engine);
	cfg->engine.cache_dir = NULL;
	dw_buf_release(&p);
	free(cache);
	free(root);
	return err;
}

static int run_check(int push)
{
	struct hook_run h = {0, isatty(STDERR_FILENO), NULL};
	struct dw_config cfg;
	struct dw_engine *e = NULL;
	struct dw_buf in = DW_BUF_INIT;
	int err = load_repo_engine(&cfg, &e);

	if (err) {
		dw_config_release(&cfg);
		return dw_cli_fail("hook", DW_EXIT_USAGE, "%s",
				   dw_error_last());
	}
	h.e = e;
	if (push) {
		const char *to = getenv("PRE_COMMIT_TO_REF");
		const char *from = getenv("PRE_COMMIT_FROM_REF");

		dw_buf_read_fd(&in, STDIN_FILENO);
		/* The pre-commit framework passes the range in its own way. */
		if (!in.len && to && *to)
			dw_buf_addf(&in, "local %s remote %s\n", to,
				    from && *from ? from
						  : "00000000000000000000000000"
						    "00000000000000");
		err = dw_git_scan_push(e, NULL, in.ptr, on_blocked, &h);
	} else {
		err = dw_git_scan_staged(e, NULL, on_blocked, &h);
	}
	dw_engine_free(e);
	dw_config_release(&cfg);
	dw_buf_release(&in);
	if (err)
		return dw_cli_fail("hook", DW_EXIT_ERROR, "%s",
				   dw_error_last());
	if (!h.count)
		return DW_EXIT_OK;
	fprintf(stderr,
		"driftwatch: %s blocked: %zu secret%s in what is being %s.\n"
		"  Either remove %s (and rotate %s: it may have leaked "
		"already),\n"
		"  or, if it is not a secret, add 'driftwatch:allow' to its "
		"line or its\n"
		"  fingerprint to ignore_fingerprints in .driftwatch.yaml.\n",
		push ? "push" : "commit", h.count, h.count > 1 ? "s" : "",
		push ? "pushed" : "committed", h.count > 1 ? "them" : "it",
		h.count > 1 ? "them" : "it");
	return DW_EXIT_FOUND;
}

int cmd_hook(struct dw_cli *cli, int argc, char **argv)
{
	(void)cli;
	if (argc < 2)
		return dw_opts_usage_error(&help);
	optind = 1;
	if (!strcmp(argv[1], "install"))
		return install(argc - 1, argv + 1, 0);
	if (!strcmp(argv[1], "uninstall"))
		return install(argc - 1, argv + 1, 1);
	if (!strcmp(argv[1], "pre-commit"))
		return run_check(0);
	if (!strcmp(argv[1], "pre-push"))
		return run_check(1);
	if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
		dw_opts_usage(&help, stdout);
		return DW_EXIT_OK;
	}
	return dw_opts_usage_error(&help);
}
