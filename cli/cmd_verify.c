/* driftwatch verify: recheck a snapshot's digests and signature, or the
 * store's hash chains. */
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "opt.h"
#include "driftwatch/buf.h"
#include "driftwatch/error.h"
#include "driftwatch/json.h"
#include "driftwatch/xmalloc.h"
#include "sign.h"
#include "snapshot.h"
#include "store.h"

#include "driftwatch/banned.h"

static const struct dw_opt opts[] = {
	{'k', "key", "PUB",
	 "the public key (PEM) to check the signature with,\nas "
	 "'driftwatch key export' wrote it elsewhere",
	 0},
	{'s', "signing-key", "PATH",
	 "else the local key's (default\n" DW_SIGNING_KEY_DEFAULT ")", 0},
	{'S', "store", NULL,
	 "check the store's hash chains instead of a snapshot", 0},
	{'d', "db", "PATH", "the store (default " DW_STORE_DEFAULT_PATH ")", 0},
	{'a', "anchor", "FILE",
	 "heads exported earlier (--export-heads) and kept\noff this "
	 "host: each must still be in the store\n(repeatable)",
	 0},
	{'e', "export-heads", "FILE",
	 "when the store is intact, write its heads signed\nto FILE ('-': "
	 "standard output), to keep off this host",
	 0},
	{'u', "allow-unsigned", NULL,
	 "a store with rows and no signed heads is not a\nfailure (one kept "
	 "with signing_key \"\")",
	 0},
	{0, NULL, NULL, NULL, 0},
};

static const char *const synopsis[] = {
	"verify [--key PUB | --signing-key PATH] PATH",
	"verify --store [--db PATH] [--key PUB | --signing-key PATH] "
	"[--anchor FILE]... [--export-heads FILE] [--allow-unsigned]",
	NULL,
};

static const struct dw_cmd_help help = {
	"verify", synopsis,
	"Recheck a snapshot's archive and evidence against their digests, "
	"and its\nsigned statement (PATH.intoto.jsonl) against both. With "
	"--store: rehash every\nrow of the store's history (events, "
	"findings, snapshots, rotations), follow\neach chain to its head, "
	"and find every signed head and anchor in it.\n"
	"exit: 0 intact, 1 a digest, a row or a signature does not match (or "
	"no\n      signature), 2 unreadable",
	opts};

struct store_args {
	const char *db, *pub, *key, *export_to;
	const char **anchors;
	size_t nanchors;
	int allow_unsigned;
};

/* The heads, signed with the local key, to `to` ('-': stdout). */
static int export_heads(const struct store_args *a, EVP_PKEY *pub,
			json_t *heads)
{
	char host[256] = "";
	struct dw_buf text = DW_BUF_INIT;
	EVP_PKEY *k = NULL;
	json_t *env = NULL;
	int fd = -1, err;

	gethostname(host, sizeof(host) - 1);
	json_object_set_new(heads, "host", json_string(host));
	err = dw_sign_key_load(&k, a->key, 0);
	/* Signed by the key it will be checked with: --key's private half. */
	if (!err && pub) {
		char a_id[72], b_id[72];

		dw_sign_keyid(k, a_id);
		dw_sign_keyid(pub, b_id);
		if (strcmp(a_id, b_id))
			err = dw_error_set(DW_EINVAL,
					   "%s is not the private half of %s "
					   "(--signing-key PATH)",
					   a->key, a->pub);
	}
	if (!err) {
		env = dw_store_heads_sign(k, heads);
		err = env ? 0 : DW_ERROR;
	}
	if (err)
		return dw_cli_fail("verify", DW_EXIT_ERROR,
				   "cannot sign the heads: %s",
				   dw_error_last());
	dw_json_dump(&text, env, JSON_PRESERVE_ORDER | JSON_COMPACT);
	dw_buf_addch(&text, '\n');
	fd = strcmp(a->export_to, "-") ? open(a->export_to,
					      O_WRONLY | O_CREAT | O_TRUNC |
						      O_NOFOLLOW | O_CLOEXEC,
					      0644)
				       : STDOUT_FILENO;
	if (fd < 0 || write(fd, text.ptr, text.len) != (ssize_t)text.len ||
	    (fd != STDOUT_FILENO && close(fd) < 0))
		err = dw_cli_fail("verify", DW_EXIT_ERROR, "cannot write %s",
				  a->export_to);
	else
		fd = -1;
	if (fd > STDOUT_FILENO)
		close(fd);
	EVP_PKEY_free(k);
	json_decref(env);
	dw_buf_release(&text);
	return err;
}

static const char *when(long long t, char *buf, size_t n)
{
	time_t tt = (time_t)t;
	struct tm tm;

	if (!gmtime_r(&tt, &tm) || !strftime(buf, n, "%Y-%m-%dT%H:%M:%SZ", &tm))
		snprintf(buf, n, "%lld", t);
	return buf;
}

static int verify_store(const struct store_args *a)
{
	struct dw_buf report = DW_BUF_INIT;
	struct dw_chain_check ck;
	struct dw_store *s = NULL;
	json_t **anchors = dw_xcalloc(a->nanchors + 1, sizeof(*anchors));
	json_t *heads = NULL;
	EVP_PKEY *pub = NULL;
	char t[40];
	int err = 0, rc = DW_EXIT_OK;
	size_t i;

	/* The key: an exported public one proves something against root
	 * here; the host's own only against everyone else. */
	if (a->pub)
		err = dw_sign_pubkey_load(&pub, a->pub);
	else if (dw_sign_key_load(&pub, a->key, 0))
		pub = NULL;
	for (i = 0; !err && i < a->nanchors; i++) {
		json_error_t je;

		anchors[i] = json_load_file(a->anchors[i], 0, &je);
		if (!anchors[i])
			err = dw_error_set(DW_EIO, "anchor %s: %s",
					   a->anchors[i], je.text);
	}
	if (!err)
		err = dw_store_open(&s, a->db, 1);
	if (!err)
		err = dw_store_verify_chains(
			s, pub, anchors, a->anchors, a->nanchors,
			a->allow_unsigned ? DW_CHAIN_ALLOW_UNSIGNED : 0,
			&report, &ck, a->export_to ? &heads : NULL);
	if (err && err != DW_ERROR) {
		rc = dw_cli_fail("verify", DW_EXIT_USAGE, "%s",
				 dw_error_last());
		goto out;
	}
	/* Rows and not one signature: never signed, or the signatures
	 * were deleted; said unless the store is meant to be unsigned. */
	if (!err && !ck.stored && ck.rows && !a->allow_unsigned) {
		dw_buf_addf(&report,
			    "the store's heads were never signed, or their "
			    "signatures were deleted (--allow-unsigned for a "
			    "store kept with signing_key \"\")\n");
		ck.problems++;
		err = DW_ERROR;
	}
	if (err) {
		fprintf(stderr,
			"%sdriftwatch verify: store %s: FAILED (%lld "
			"problem%s)\n",
			report.ptr ? report.ptr : "", a->db, ck.problems,
			ck.problems == 1 ? "" : "s");
		rc = DW_EXIT_FOUND;
		goto out;
	}
	printf("store %s: ok: %lld rows in %lld chains\n", a->db, ck.rows,
	       ck.chains);
	if (ck.signed_docs)
		printf("  signed heads: %lld found in it, checked with %s; "
		       "newest signed %s; %lld rows written since\n",
		       ck.signed_docs,
		       a->pub ? a->pub
			      : "this host's own key (--key PUB for an "
				"exported one)",
		       when(ck.last_signed, t, sizeof(t)), ck.unsigned_rows);
	else
		printf("  signed heads: none%s\n",
		       ck.rows ? " (--allow-unsigned)" : "");
	if (a->nanchors)
		printf("  anchors: %zu, their heads found; %lld of them "
		       "pruned since (not checkable)\n",
		       a->nanchors, ck.pruned_since);
	if (a->export_to)
		rc = export_heads(a, a->pub ? pub : NULL, heads);
out:
	for (i = 0; i < a->nanchors; i++)
		json_decref(anchors[i]);
	free(anchors);
	json_decref(heads);
	EVP_PKEY_free(pub);
	dw_store_close(s);
	dw_buf_release(&report);
	return rc;
}

int cmd_verify(struct dw_cli *cli, int argc, char **argv)
{
	const char *pub = NULL, *key = dw_cli_signing_key();
	struct dw_buf report = DW_BUF_INIT, what = DW_BUF_INIT;
	struct store_args sa = {
		DW_STORE_DEFAULT_PATH, NULL, NULL, NULL, NULL, 0, 0};
	size_t anchors_alloc = 0;
	struct dw_opts p;
	int c, err, store = 0;

	(void)cli;
	dw_opts_init(&p, &help, argc, argv);
	while ((c = dw_opts_next(&p)) != -1) {
		switch (c) {
		case 'k': pub = optarg; break;
		case 's': key = optarg; break;
		case 'S': store = 1; break;
		case 'd': sa.db = optarg; break;
		case 'a':
			DW_ALLOC_GROW(sa.anchors, sa.nanchors + 1,
				      anchors_alloc);
			sa.anchors[sa.nanchors++] = optarg;
			break;
		case 'e': sa.export_to = optarg; break;
		case 'u': sa.allow_unsigned = 1; break;
		case DW_OPT_EXIT: free(sa.anchors); return p.exit;
		default: free(sa.anchors); return dw_opts_usage_error(&help);
		}
	}
	if (store || sa.nanchors || sa.export_to || sa.allow_unsigned) {
		if (!store || argc != optind) {
			free(sa.anchors);
			return dw_opts_usage_error(&help);
		}
		sa.pub = pub;
		sa.key = key;
		err = verify_store(&sa);
		free(sa.anchors);
		return err;
	}
	if (argc - optind != 1)
		return dw_opts_usage_error(&help);
	err = dw_snapshot_verify(argv[optind], pub, key, &report, &what);
	if (err)
		dw_buf_release(&what);
	if (err == DW_EIO) {
		dw_buf_release(&report);
		return dw_cli_fail("verify", DW_EXIT_USAGE, "%s",
				   dw_error_last());
	}
	if (err) {
		fprintf(stderr, "%sdriftwatch verify: %s: FAILED\n", report.ptr,
			argv[optind]);
		dw_buf_release(&report);
		return DW_EXIT_FOUND;
	}
	/* Which key: the host's own proves nothing against root there. */
	printf("%s: ok (digests, and the signature checked with %s)\n",
	       argv[optind],
	       pub ? pub
		   : "this host's own key; --key PUB for an exported one");
	/* What the signature vouches for: compare with what you expect. */
	if (what.len)
		printf("  signed: %s\n", what.ptr);
	dw_buf_release(&what);
	dw_buf_release(&report);
	return DW_EXIT_OK;
}
