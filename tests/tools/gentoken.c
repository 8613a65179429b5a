/*
 * Make real-format tokens for the tests, deterministically from a seed:
 * valid lengths, value ranges and checksums, so the validators accept
 * them. None of them was ever issued by anybody.
 *   gentoken KIND SEED [COUNT]
 * With COUNT: COUNT tokens, one a line, of the seeds SEED1 .. SEEDCOUNT
 * (what COUNT runs of `gentoken KIND SEEDi` print, in one process).
 * KIND: swarm-worker swarm-fips unlock-key github npm docker-pat aws-id
 *       aws-secret gitlab slack-bot google stripe jwt age wireguard
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include <openssl/bn.h>
#include <openssl/evp.h>
#include <openssl/sha.h>

static unsigned char pool[4096];
static size_t used;

static void seed_pool(const char *seed)
{
	unsigned char block[32];
	size_t i;

	used = 0;
	for (i = 0; i < sizeof(pool); i += 32) {
		char in[256];

		snprintf(in, sizeof(in), "%s/%zu", seed, i);
		SHA256((const unsigned char *)in, strlen(in), block);
		memcpy(pool + i, block, 32);
	}
}

static unsigned char rnd(void)
{
	return pool[used++ % sizeof(pool)];
}

static void from_alphabet(char *out, size_t n, const char *al)
{
	size_t k = strlen(al), i;

	for (i = 0; i < n; i++)
		out[i] = al[rnd() % k];
	out[n] = '\0';
}

static void base36(char *out, const unsigned char *bytes, size_t nb,
		   size_t width)
{
	BIGNUM *v = BN_bin2bn(bytes, (int)nb, NULL);
	char tmp[128];
	size_t i = 0, j;

	while (!BN_is_zero(v))
		tmp[i++] = "0123456789abcdefghijklmnopqrstuvwxyz"[BN_div_word(
			v, 36)];
	while (i < width)
		tmp[i++] = '0';
	for (j = 0; j < i; j++)
		out[j] = tmp[i - 1 - j];
	out[i] = '\0';
	BN_free(v);
}

static void base62_crc(char *out, const char *body)
{
	static const char al[] = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
				 "abcdefghijklmnopqrstuvwxyz";
	unsigned long v = crc32(0, (const unsigned char *)body, 30);
	int i;

	for (i = 5; i >= 0; i--) {
		out[i] = al[v % 62];
		v /= 62;
	}
	out[6] = '\0';
}

static void b64url(char *out, const char *in)
{
	int n = EVP_EncodeBlock((unsigned char *)out, (const unsigned char *)in,
				(int)strlen(in));
	int i, k = 0;

	for (i = 0; i < n; i++) {
		if (out[i] == '=')
			continue;
		out[k++] = out[i] == '+' ? '-' : out[i] == '/' ? '_' : out[i];
	}
	out[k] = '\0';
}

/* Bech32 (BIP 173): 32 bytes as 52 five-bit groups and the checksum
 * over "age-secret-key-", upper-cased as age writes its identities. */
static unsigned long bech32_step(unsigned long chk, unsigned v)
{
	static const unsigned long gen[5] = {0x3b6a57b2, 0x26508e6d, 0x1ea119fa,
					     0x3d4233dd, 0x2a1462b3};
	unsigned top = (unsigned)(chk >> 25);

	chk = ((chk & 0x1ffffff) << 5) ^ v;
	for (int b = 0; b < 5; b++)
		if ((top >> b) & 1)
			chk ^= gen[b];
	return chk;
}

static void age_key(char *out, const unsigned char *bytes)
{
	static const char hrp[] = "age-secret-key-";
	static const char cs[] = "QPZRY9X8GF2TVDW0S3JN54KHCE6MUA7L";
	unsigned v[64];
	unsigned long chk = 1, acc = 0;
	int bits = 0, n = 0, i;

	for (i = 0; i < 32; i++) {
		acc = (acc << 8) | bytes[i];
		bits += 8;
		while (bits >= 5) {
			bits -= 5;
			v[n++] = (unsigned)(acc >> bits) & 31;
		}
	}
	if (bits)
		v[n++] = (unsigned)(acc << (5 - bits)) & 31;
	for (i = 0; hrp[i]; i++)
		chk = bech32_step(chk, (unsigned char)hrp[i] >> 5);
	chk = bech32_step(chk, 0);
	for (i = 0; hrp[i]; i++)
		chk = bech32_step(chk, (unsigned char)hrp[i] & 31);
	for (i = 0; i < n; i++)
		chk = bech32_step(chk, v[i]);
	for (i = 0; i < 6; i++)
		chk = bech32_step(chk, 0);
	chk ^= 1;
	for (i = 0; i < 6; i++)
		v[n + i] = (unsigned)(chk >> (5 * (5 - i))) & 31;
	for (i = 0; i < n + 6; i++)
		out[i] = cs[v[i]];
	out[n + 6] = '\0';
}

static int token(const char *kind, const char *seed)
{
	static const char b62[] = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
				  "abcdefghijklmnopqrstuvwxyz";
	unsigned char bytes[32];
	char a[256], b[256], c[256];
	int i;

	seed_pool(seed);
	for (i = 0; i < 32; i++)
		bytes[i] = rnd();
	if (!strcmp(kind, "swarm-worker") || !strcmp(kind, "swarm-fips")) {
		base36(a, bytes, 32, 50);
		base36(b, bytes + 16, 16, 25);
		printf("SWMTKN-%s-%s-%s\n", kind[6] == 'f' ? "2-1" : "1", a, b);
	} else if (!strcmp(kind, "unlock-key")) {
		EVP_EncodeBlock((unsigned char *)a, bytes, 32);
		a[43] = '\0'; /* drop the padding */
		printf("SWMKEY-1-%s\n", a);
	} else if (!strcmp(kind, "github") || !strcmp(kind, "npm")) {
		from_alphabet(a, 30, b62);
		base62_crc(b, a);
		printf("%s%s%s\n", kind[0] == 'g' ? "ghp_" : "npm_", a, b);
	} else if (!strcmp(kind, "docker-pat")) {
		from_alphabet(a, 27, b62);
		printf("dckr_pat_%s\n", a);
	} else if (!strcmp(kind, "aws-id")) {
		from_alphabet(a, 16, "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567");
		printf("AKIA%s\n", a);
	} else if (!strcmp(kind, "aws-secret")) {
		from_alphabet(a, 40,
			      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijkl"
			      "mnopqrstuvwxyz0123456789/+");
		printf("%s\n", a);
	} else if (!strcmp(kind, "gitlab")) {
		from_alphabet(a, 20, b62);
		printf("glpat-%s\n", a);
	} else if (!strcmp(kind, "slack-bot")) {
		from_alphabet(a, 24, b62);
		printf("xoxb-%u-%u-%s\n", 100000 + rnd() * 17u,
		       200000 + rnd() * 31u, a);
	} else if (!strcmp(kind, "google")) {
		from_alphabet(a, 35, b62);
		printf("AIza%s\n", a);
	} else if (!strcmp(kind, "stripe")) {
		from_alphabet(a, 24, b62);
		printf("sk_live_%s\n", a);
	} else if (!strcmp(kind, "jwt")) {
		from_alphabet(c, 16, b62);
		b64url(a, "{\"alg\":\"HS256\",\"typ\":\"JWT\"}");
		snprintf(c + 16, sizeof(c) - 16, "%s", "");
		b64url(b, "{\"sub\":\"1234567890\",\"name\":\"driftwatch\"}");
		from_alphabet(c, 43, b62);
		printf("%s.%s.%s\n", a, b, c);
	} else if (!strcmp(kind, "age")) {
		age_key(a, bytes);
		printf("AGE-SECRET-KEY-1%s\n", a);
	} else if (!strcmp(kind, "wireguard")) {
		/* A Curve25519 secret as `wg genkey` makes one (clamped,
		 * RFC 7748), in standard base64: 44 characters. */
		bytes[0] &= 248;
		bytes[31] = (unsigned char)((bytes[31] & 127) | 64);
		EVP_EncodeBlock((unsigned char *)a, bytes, 32);
		printf("%s\n", a);
	} else {
		fprintf(stderr, "gentoken: unknown kind %s\n", kind);
		return 2;
	}
	return 0;
}

int main(int argc, char **argv)
{
	char seed[256];
	long n, i;
	char *end;

	if (argc == 3)
		return token(argv[1], argv[2]);
	n = argc == 4 ? strtol(argv[3], &end, 10) : 0;
	if (argc != 4 || *end || n < 1 || n > 1000000 ||
	    strlen(argv[2]) > 200) {
		fprintf(stderr, "usage: gentoken KIND SEED [COUNT]\n");
		return 2;
	}
	for (i = 1; i <= n; i++) {
		snprintf(seed, sizeof(seed), "%s%ld", argv[2], i);
		if (token(argv[1], seed))
			return 2;
	}
	return 0;
}
