/*
 * libFuzzer target: what `driftwatch verify --store --anchor FILE` reads
 * of a heads document an attacker may have written. The input is the
 * payload, signed here with the key verify checks with (a signature
 * proves who signed, not that the document is sane), walked against a
 * small store: chains, keys, positions, hashes and watermarks of any
 * shape must give problems, never a crash or a hang. A document's root
 * is set right before signing, or nothing past the root check is read.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "driftwatch/buf.h"
#include "driftwatch/json.h"
#include "sign.h"
#include "store_int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct dw_store *s;
static EVP_PKEY *k;

static void setup(void)
{
	struct dw_change_row rows[2] = {
		{"/a", 2, 'A', 0100644, NULL, NULL, -1, -1, DW_SEV_MEDIUM,
		 NULL},
		{"/b", 2, 'D', 0100644, NULL, NULL, -1, -1, DW_SEV_HIGH, NULL},
	};
	struct dw_store_container c = {"id1", "c1", "img", "docker",
				       "/u",  "/l", "{}",  "running",
				       "/",   0,    0};
	int done;

	k = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
	if (!k || dw_store_open(&s, ":memory:", 0) ||
	    dw_store_put_container(s, &c))
		abort();
	for (int i = 0; i < 3; i++) {
		const char *id = i == 1 ? "id\xff" : "id1";

		if (dw_store_begin(s) ||
		    dw_store_apply_changes(s, id, rows, 2, "watch", 1000) ||
		    dw_store_commit(s))
			abort();
	}
	if (dw_store_record_rotation(s, "sw", "worker", "a", "b", NULL) ||
	    dw_store_sign_heads(s, k, "h", 0, &done))
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct dw_buf report = DW_BUF_INIT, text = DW_BUF_INIT;
	struct dw_chain_check ck;
	const char *name = "fuzz";
	json_t *env, *doc, *heads = NULL;
	char root[72];

	if (!s)
		setup();
	if (!size)
		return 0;
	doc = json_loadb((const char *)data + 1, size - 1, 0, NULL);
	if (json_is_object(doc) &&
	    json_is_array(json_object_get(doc, "chains"))) {
		st_heads_root(json_object_get(doc, "chains"), root);
		json_object_set_new(doc, "root", json_string(root));
		dw_json_dump(&text, doc, JSON_COMPACT);
		env = dw_dsse_sign(k, DW_HEADS_PAYLOAD_TYPE, text.ptr,
				   text.len);
	} else {
		env = dw_dsse_sign(k, DW_HEADS_PAYLOAD_TYPE, data + 1,
				   size - 1);
	}
	json_decref(doc);
	dw_buf_release(&text);
	if (!env)
		abort();
	dw_store_verify_chains(s, k, &env, &name, 1,
			       data[0] & 1 ? DW_CHAIN_ALLOW_UNSIGNED : 0,
			       &report, &ck, data[0] & 2 ? &heads : NULL);
	json_decref(heads);
	json_decref(env);
	dw_buf_release(&report);
	return 0;
}
