/* Signing: the Ed25519 key and DSSE envelopes (sign.h). */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/bio.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "driftwatch/error.h"
#include "driftwatch/escape.h"
#include "driftwatch/xmalloc.h"
#include "sign.h"
#include "driftwatch/banned.h"

static int is_ed25519(EVP_PKEY *k)
{
	return k && EVP_PKEY_get_base_id(k) == EVP_PKEY_ED25519;
}

/* A new key at `path`: the directory 0700, the file 0600, O_EXCL. */
static int create_key(EVP_PKEY **out, const char *path)
{
	char *copy = dw_xstrdup(path), *dir = dirname(copy);
	EVP_PKEY *k = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
	BIO *b = NULL;
	int fd, err = 0;

	if (!k) {
		free(copy);
		return dw_error_set(DW_ERROR, "cannot make an Ed25519 key");
	}
	if (mkdir(dir, 0700) < 0 && errno != EEXIST)
		err = dw_error_errno(DW_EIO, errno, "cannot create %s", dir);
	free(copy);
	if (err) {
		EVP_PKEY_free(k);
		return err;
	}
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW,
		  0600);
	if (fd < 0) {
		EVP_PKEY_free(k);
		/* Made meanwhile by another: that one is the key. */
		if (errno == EEXIST)
			return dw_sign_key_load(out, path, 0);
		return dw_error_errno(DW_EIO, errno, "cannot create %s", path);
	}
	b = BIO_new_fd(fd, BIO_NOCLOSE);
	if (!b || !PEM_write_bio_PrivateKey(b, k, NULL, NULL, 0, NULL, NULL) ||
	    BIO_flush(b) != 1 || fsync(fd) < 0) {
		err = dw_error_set(DW_EIO, "cannot write the key %s", path);
		unlink(path);
	}
	BIO_free(b);
	close(fd);
	if (err) {
		EVP_PKEY_free(k);
		return err;
	}
	*out = k;
	return 0;
}

/*
 * A private key is ours alone: the file ours and 0600 (or stricter), its
 * directory ours and written by no one else; or someone else could have
 * put their key there (and could sign as us).
 */
static int key_is_private(const char *path, const struct stat *st)
{
	char *copy = dw_xstrdup(path);
	struct stat d;
	int ok = st->st_uid == geteuid() && !(st->st_mode & 077) &&
		 !stat(dirname(copy), &d) && d.st_uid == geteuid() &&
		 !(d.st_mode & 022);

	free(copy);
	return ok ? 0
		  : dw_error_set(DW_EINVAL,
				 "%s is not the owner's alone (the file 0600 "
				 "and its directory written by no one else "
				 "are): not used",
				 path);
}

/* A PEM file, never through a symlink nor a FIFO, at most 64 KiB; a
 * private one only when it is ours alone. */
static BIO *open_pem(const char *path, int private, int *err)
{
	struct stat st;
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
	BIO *b;

	if (fd < 0) {
		*err = errno == ENOENT
			       ? dw_error_set(DW_ENOTFOUND, "no key at %s",
					      path)
			       : dw_error_errno(DW_EIO, errno,
						"cannot read the key %s", path);
		return NULL;
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_size > 65536) {
		close(fd);
		*err = dw_error_set(DW_EINVAL, "%s is not a key file", path);
		return NULL;
	}
	if (private && (*err = key_is_private(path, &st))) {
		close(fd);
		return NULL;
	}
	b = BIO_new_fd(fd, BIO_CLOSE);
	if (!b) {
		close(fd);
		*err = dw_error_set(DW_ERROR, "out of memory");
	}
	return b;
}

int dw_sign_key_load(EVP_PKEY **out, const char *path, int create)
{
	EVP_PKEY *k;
	int err = 0;
	BIO *b;

	*out = NULL;
	b = open_pem(path, 1, &err);
	if (!b && err == DW_ENOTFOUND && create)
		return create_key(out, path);
	if (!b)
		return err;
	k = PEM_read_bio_PrivateKey(b, NULL, NULL, NULL);
	BIO_free(b);
	if (!is_ed25519(k)) {
		EVP_PKEY_free(k);
		return dw_error_set(DW_EINVAL,
				    "%s is not an Ed25519 private key (PEM)",
				    path);
	}
	*out = k;
	return 0;
}

int dw_sign_pubkey_load(EVP_PKEY **out, const char *path)
{
	EVP_PKEY *k;
	int err = 0;
	BIO *b = open_pem(path, 0, &err);

	*out = NULL;
	if (!b)
		return err;
	k = PEM_read_bio_PUBKEY(b, NULL, NULL, NULL);
	BIO_free(b);
	if (!is_ed25519(k)) {
		EVP_PKEY_free(k);
		return dw_error_set(DW_EINVAL,
				    "%s is not an Ed25519 public key (PEM)",
				    path);
	}
	*out = k;
	return 0;
}

int dw_sign_pubkey_pem(EVP_PKEY *k, struct dw_buf *out)
{
	BIO *b = BIO_new(BIO_s_mem());
	char *p;
	long n;

	if (!b || !PEM_write_bio_PUBKEY(b, k)) {
		BIO_free(b);
		return dw_error_set(DW_ERROR, "cannot write the public key");
	}
	n = BIO_get_mem_data(b, &p);
	dw_buf_add(out, p, (size_t)n);
	BIO_free(b);
	return 0;
}

void dw_sign_keyid(EVP_PKEY *k, char out[72])
{
	unsigned char *der = NULL, md[EVP_MAX_MD_SIZE];
	unsigned int n = 0;
	char hex[2 * EVP_MAX_MD_SIZE + 1] = "";
	int len = i2d_PUBKEY(k, &der);

	if (len > 0 && EVP_Digest(der, (size_t)len, md, &n, EVP_sha256(), NULL))
		dw_hex(hex, md, n);
	OPENSSL_free(der);
	snprintf(out, 72, "sha256:%.64s", hex);
}

void dw_sha256_hex(char out[72], const void *p, size_t n)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int len = 0;
	char hex[2 * EVP_MAX_MD_SIZE + 1] = "";

	if (EVP_Digest(p, n, md, &len, EVP_sha256(), NULL))
		dw_hex(hex, md, len);
	snprintf(out, 72, "sha256:%.64s", hex);
}

void dw_dsse_pae(struct dw_buf *out, const char *type, const void *payload,
		 size_t n)
{
	dw_buf_addf(out, "DSSEv1 %zu %s %zu ", strlen(type), type, n);
	dw_buf_add(out, payload, n);
}

static char *b64(const void *p, size_t n)
{
	char *out = dw_xmalloc(4 * ((n + 2) / 3) + 1);

	EVP_EncodeBlock((unsigned char *)out, p, (int)n);
	return out;
}

/* Standard base64 (with padding) into `out`; -1 when it is not. */
static int unb64(struct dw_buf *out, const char *s)
{
	size_t n = strlen(s), pad = 0;
	unsigned char *p;
	int got;

	if (!n || n % 4 || n > (64u << 20))
		return -1;
	pad = (s[n - 1] == '=') + (n > 1 && s[n - 2] == '=');
	p = dw_xmalloc(n / 4 * 3 + 1);
	got = EVP_DecodeBlock(p, (const unsigned char *)s, (int)n);
	if (got < 0 || (size_t)got < pad) {
		free(p);
		return -1;
	}
	dw_buf_add(out, p, (size_t)got - pad);
	free(p);
	return 0;
}

json_t *dw_dsse_sign(EVP_PKEY *k, const char *type, const void *payload,
		     size_t n)
{
	struct dw_buf pae = DW_BUF_INIT;
	EVP_MD_CTX *c = EVP_MD_CTX_new();
	unsigned char sig[64];
	size_t siglen = sizeof(sig);
	char keyid[72], *p64 = NULL, *s64 = NULL;
	json_t *env = NULL;

	dw_dsse_pae(&pae, type, payload, n);
	if (c && EVP_DigestSignInit(c, NULL, NULL, NULL, k) == 1 &&
	    EVP_DigestSign(c, sig, &siglen, (const unsigned char *)pae.ptr,
			   pae.len) == 1) {
		dw_sign_keyid(k, keyid);
		p64 = b64(payload, n);
		s64 = b64(sig, siglen);
		env = json_pack("{s:s, s:s, s:[{s:s, s:s}]}", "payloadType",
				type, "payload", p64, "signatures", "keyid",
				keyid, "sig", s64);
	} else {
		dw_error_set(DW_ERROR, "signing failed");
	}
	EVP_MD_CTX_free(c);
	dw_buf_release(&pae);
	free(p64);
	free(s64);
	return env;
}

int dw_dsse_verify(EVP_PKEY *pub, json_t *env, const char *type,
		   struct dw_buf *payload, struct dw_buf *report)
{
	const char *t = json_string_value(json_object_get(env, "payloadType"));
	const char *p = json_string_value(json_object_get(env, "payload"));
	json_t *sigs = json_object_get(env, "signatures"), *s;
	struct dw_buf pae = DW_BUF_INIT, sig = DW_BUF_INIT;
	char keyid[72];
	size_t i;
	int ok = 0;

	dw_buf_reset(payload);
	if (!t || strcmp(t, type)) {
		dw_buf_addf(report, "the envelope's payloadType is not %s\n",
			    type);
		return DW_ERROR;
	}
	if (!p || unb64(payload, p)) {
		dw_buf_addf(report, "the envelope's payload is not base64\n");
		return DW_ERROR;
	}
	dw_dsse_pae(&pae, type, payload->ptr ? payload->ptr : "", payload->len);
	dw_sign_keyid(pub, keyid);
	json_array_foreach(sigs, i, s)
	{
		const char *v = json_string_value(json_object_get(s, "sig"));
		EVP_MD_CTX *c;

		dw_buf_reset(&sig);
		if (!v || unb64(&sig, v) || sig.len != 64)
			continue;
		c = EVP_MD_CTX_new();
		ok = c && EVP_DigestVerifyInit(c, NULL, NULL, NULL, pub) == 1 &&
		     EVP_DigestVerify(c, (const unsigned char *)sig.ptr,
				      sig.len, (const unsigned char *)pae.ptr,
				      pae.len) == 1;
		EVP_MD_CTX_free(c);
		if (ok)
			break;
	}
	if (!ok)
		dw_buf_addf(report,
			    "the signature does not verify with key %s\n",
			    keyid);
	dw_buf_release(&pae);
	dw_buf_release(&sig);
	return ok ? 0 : DW_ERROR;
}
