#ifndef DW_SIGN_H
#define DW_SIGN_H

/*
 * Signing: an Ed25519 key (libcrypto) and DSSE envelopes
 * (https://github.com/secure-systems-lab/dsse) of in-toto Statements.
 * The key sits on the host it signs for: root there can re-sign; what
 * shows tampering by root is a signature checked with a public key kept
 * elsewhere (driftwatch key export).
 */
#include <jansson.h>
#include <openssl/evp.h>

#include "driftwatch/buf.h"

#define DW_SIGNING_KEY_DEFAULT "/var/lib/driftwatch/keys/signing.key"
#define DW_INTOTO_PAYLOAD_TYPE "application/vnd.in-toto+json"
#define DW_INTOTO_STATEMENT "https://in-toto.io/Statement/v1"
/* This project's predicate of a snapshot (driftwatch-commit(1)). */
#define DW_SNAPSHOT_PREDICATE "urn:driftwatch:predicate:snapshot:v1"

/*
 * The private key at `path` (PEM, Ed25519). When absent and `create`: a
 * new one, written 0600 in a directory made 0700 (never over another
 * file: O_EXCL). Errors: DW_ENOTFOUND (absent, !create), DW_EIO,
 * DW_EINVAL (not an Ed25519 private key). Free with EVP_PKEY_free().
 */
int dw_sign_key_load(EVP_PKEY **out, const char *path, int create);
/* A public key from a PEM file (SubjectPublicKeyInfo); errors as above. */
int dw_sign_pubkey_load(EVP_PKEY **out, const char *path);
/* The public key as PEM, appended to `out`. */
int dw_sign_pubkey_pem(EVP_PKEY *k, struct dw_buf *out);
/* "sha256:" and the hex SHA-256 of the public key's DER. */
void dw_sign_keyid(EVP_PKEY *k, char out[72]);

/* "sha256:" and the hex SHA-256 of `n` bytes at `p`. */
void dw_sha256_hex(char out[72], const void *p, size_t n);

/* DSSE's pre-authentication encoding of `type` and `payload`. */
void dw_dsse_pae(struct dw_buf *out, const char *type, const void *payload,
		 size_t n);
/* A DSSE envelope of `payload` signed with `k` (caller decrefs). */
json_t *dw_dsse_sign(EVP_PKEY *k, const char *type, const void *payload,
		     size_t n);
/*
 * Check `env`: its payloadType is `type` and one of its signatures is
 * `pub`'s over the PAE. 0 with the payload in `payload`; DW_ERROR with
 * why in `report`.
 */
int dw_dsse_verify(EVP_PKEY *pub, json_t *env, const char *type,
		   struct dw_buf *payload, struct dw_buf *report);

#endif
