/*
 * libFuzzer target: what `driftwatch verify` reads of a snapshot's
 * signature, PATH.intoto.jsonl, an attacker may have written: the DSSE
 * envelope's JSON, its base64 and the signature check (sign.c included
 * for its base64 decoder).
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../daemon/host/sign.c"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static EVP_PKEY *k;
	struct dw_buf payload = DW_BUF_INIT, report = DW_BUF_INIT;
	char *s;
	json_t *env;

	if (!k && !(k = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519")))
		abort();
	if (!size)
		return 0;
	s = malloc(size);
	memcpy(s, data + 1, size - 1);
	s[size - 1] = '\0';
	if (data[0] & 1) {
		unb64(&payload, s);
	} else if ((env = json_loadb((const char *)data + 1, size - 1, 0,
				     NULL))) {
		dw_dsse_verify(k, env, DW_INTOTO_PAYLOAD_TYPE, &payload,
			       &report);
		json_decref(env);
	}
	free(s);
	dw_buf_release(&payload);
	dw_buf_release(&report);
	return 0;
}
