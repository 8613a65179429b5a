/* driftwatch key: the snapshot signing key's public half, to keep elsewhere. */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "opt.h"
#include "driftwatch/buf.h"
#include "driftwatch/error.h"
#include "sign.h"

#include "driftwatch/banned.h"

static const struct dw_opt opts[] = {
	{'s', "signing-key", "PATH",
	 "the private key (default\n" DW_SIGNING_KEY_DEFAULT ")", 0},
	{'c', "create", NULL, "make the key when there is none yet", 0},
	{0, NULL, NULL, NULL, 0},
};

static const char *const synopsis[] = {
	"key export [--signing-key PATH] [--create]",
	NULL,
};

static const struct dw_cmd_help help = {
	"key", synopsis,
	"Print the public key that checks snapshot signatures (PEM), and its "
	"id on\nstderr: keep it off this host, and check with 'driftwatch "
	"verify --key'.",
	opts};

int cmd_key(struct dw_cli *cli, int argc, char **argv)
{
	const char *path = dw_cli_signing_key();
	struct dw_buf pem = DW_BUF_INIT;
	EVP_PKEY *k = NULL;
	struct dw_opts p;
	char keyid[72];
	int c, create = 0, err;

	(void)cli;
	dw_opts_init(&p, &help, argc, argv);
	while ((c = dw_opts_next(&p)) != -1) {
		switch (c) {
		case 's': path = optarg; break;
		case 'c': create = 1; break;
		case DW_OPT_EXIT: return p.exit;
		default: return dw_opts_usage_error(&help);
		}
	}
	if (argc - optind != 1 || strcmp(argv[optind], "export"))
		return dw_opts_usage_error(&help);
	err = dw_sign_key_load(&k, path, create);
	if (err)
		return dw_cli_fail(
			"key",
			err == DW_ENOTFOUND ? DW_EXIT_NOTFOUND : DW_EXIT_ERROR,
			"%s%s", dw_error_last(),
			err == DW_ENOTFOUND ? " (made by the first signed "
					      "snapshot, or with --create)"
					    : "");
	err = dw_sign_pubkey_pem(k, &pem);
	dw_sign_keyid(k, keyid);
	EVP_PKEY_free(k);
	if (err) {
		dw_buf_release(&pem);
		return dw_cli_fail("key", DW_EXIT_ERROR, "%s", dw_error_last());
	}
	fwrite(pem.ptr, 1, pem.len, stdout);
	fprintf(stderr, "key id %s\n", keyid);
	dw_buf_release(&pem);
	return DW_EXIT_OK;
}
