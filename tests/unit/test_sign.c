/* Signing (daemon/host/sign.c): the key made once and kept private, DSSE
 * envelopes that verify with the key's public half and with no other,
 * and payloads that do not survive an edit. */
#define _XOPEN_SOURCE 700
#include <ftw.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "driftwatch/error.h"
#include "sign.h"

static char dir[64];

static int setup(void **state)
{
	(void)state;
	snprintf(dir, sizeof(dir), "/tmp/dwsign.XXXXXX");
	return mkdtemp(dir) ? 0 : -1;
}

static int rm_one(const char *path, const struct stat *st, int flag,
		  struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static int teardown(void **state)
{
	(void)state;
	return nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

static void test_pae(void **state)
{
	struct dw_buf b = DW_BUF_INIT;

	(void)state;
	/* DSSE's own example of the encoding. */
	dw_dsse_pae(&b, "http://example.com/HelloWorld", "hello world", 11);
	assert_int_equal(b.len,
			 strlen("DSSEv1 29 http://example.com/HelloWorld "
				"11 hello world"));
	assert_memory_equal(b.ptr,
			    "DSSEv1 29 http://example.com/HelloWorld 11 hello "
			    "world",
			    b.len);
	dw_buf_release(&b);
}

static void test_key_made_once(void **state)
{
	char path[128], id1[72], id2[72];
	EVP_PKEY *a = NULL, *b = NULL;
	struct stat st;

	(void)state;
	snprintf(path, sizeof(path), "%s/keys/signing.key", dir);
	assert_int_equal(dw_sign_key_load(&a, path, 0), DW_ENOTFOUND);
	assert_int_equal(dw_sign_key_load(&a, path, 1), 0);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	assert_int_equal(dw_sign_key_load(&b, path, 1), 0);
	dw_sign_keyid(a, id1);
	dw_sign_keyid(b, id2);
	assert_string_equal(id1, id2); /* the same key, not a new one */
	assert_int_equal(strlen(id1), 7 + 64);
	EVP_PKEY_free(a);
	EVP_PKEY_free(b);
}

static void test_sign_verify(void **state)
{
	static const char msg[] = "{\"_type\":\"x\",\"subject\":[]}";
	char path[128], other[128], pubpath[128];
	struct dw_buf payload = DW_BUF_INIT, report = DW_BUF_INIT;
	struct dw_buf pem = DW_BUF_INIT;
	EVP_PKEY *k = NULL, *o = NULL, *pub = NULL;
	json_t *env;
	FILE *f;

	(void)state;
	snprintf(path, sizeof(path), "%s/k1", dir);
	snprintf(other, sizeof(other), "%s/k2", dir);
	snprintf(pubpath, sizeof(pubpath), "%s/k1.pub", dir);
	assert_int_equal(dw_sign_key_load(&k, path, 1), 0);
	assert_int_equal(dw_sign_key_load(&o, other, 1), 0);
	env = dw_dsse_sign(k, DW_INTOTO_PAYLOAD_TYPE, msg, strlen(msg));
	assert_non_null(env);
	/* The exported public key checks it; the payload comes back. */
	assert_int_equal(dw_sign_pubkey_pem(k, &pem), 0);
	f = fopen(pubpath, "w");
	assert_non_null(f);
	fwrite(pem.ptr, 1, pem.len, f);
	fclose(f);
	assert_int_equal(dw_sign_pubkey_load(&pub, pubpath), 0);
	assert_int_equal(dw_dsse_verify(pub, env, DW_INTOTO_PAYLOAD_TYPE,
					&payload, &report),
			 0);
	assert_int_equal(payload.len, strlen(msg));
	assert_memory_equal(payload.ptr, msg, payload.len);
	/* Another key: no. */
	assert_int_equal(dw_dsse_verify(o, env, DW_INTOTO_PAYLOAD_TYPE,
					&payload, &report),
			 DW_ERROR);
	/* Another payload type: no. */
	assert_int_equal(
		dw_dsse_verify(pub, env, "text/plain", &payload, &report),
		DW_ERROR);
	/* An edited payload (same length): no. */
	json_object_set_new(
		env, "payload",
		json_string("eyJfdHlwZSI6InkiLCJzdWJqZWN0IjpbXX0="));
	assert_int_equal(dw_dsse_verify(pub, env, DW_INTOTO_PAYLOAD_TYPE,
					&payload, &report),
			 DW_ERROR);
	/* Not base64: said, no crash. */
	json_object_set_new(env, "payload", json_string("%%%"));
	assert_int_equal(dw_dsse_verify(pub, env, DW_INTOTO_PAYLOAD_TYPE,
					&payload, &report),
			 DW_ERROR);
	assert_non_null(strstr(report.ptr, "not base64"));
	/* A public key file is no private key. */
	EVP_PKEY_free(o);
	assert_int_equal(dw_sign_key_load(&o, pubpath, 0), DW_EINVAL);
	assert_null(o);
	json_decref(env);
	EVP_PKEY_free(k);
	EVP_PKEY_free(pub);
	dw_buf_release(&payload);
	dw_buf_release(&report);
	dw_buf_release(&pem);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_pae),
		cmocka_unit_test(test_key_made_once),
		cmocka_unit_test(test_sign_verify),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
