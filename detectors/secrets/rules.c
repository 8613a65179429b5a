/*
 * The built-in rules: regexes, prefilters and validators. A validator
 * rejects look-alikes using what the format guarantees (lengths, value
 * ranges, checksums, decodable parts); it never touches the network.
 */
#include <ctype.h>
#include <jansson.h>
#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <string.h>
#include <time.h>
#include <zlib.h>

#include <openssl/bn.h>
#include <openssl/evp.h>

#include "rules.h"
#include "driftwatch/banned.h"

double dw_entropy(const char *s, size_t n)
{
	size_t count[256] = {0};
	double h = 0;
	size_t i;

	if (!n)
		return 0;
	for (i = 0; i < n; i++)
		count[(unsigned char)s[i]]++;
	for (i = 0; i < 256; i++) {
		double p;

		if (!count[i])
			continue;
		p = (double)count[i] / (double)n;
		h -= p * log2(p);
	}
	return h;
}

/* Compared case-insensitively, anywhere in a candidate. */
static const char *const placeholder_words[] = {
	"xxxx",
	"****",
	"....",
	"example",
	"changeme",
	"placeholder",
	"your_",
	"your-",
	"yourtoken",
	"dummy",
	"redacted",
	"<",
	">",
	"${",
	"{{",
	"$(",
	"%s",
	"0000000000",
	"1234567890abcdef",
	/*
	 * Values that specifications and providers publish as
	 * examples (lowercase: compared case-insensitively):
	 * RFC 6749's access, refresh and client secret, RFC 5849's
	 * tokens and secrets, Vault's and HCP Terraform's token
	 * examples, Microsoft's Entra client secret examples.
	 */
	"2yotnfzfejr1zcsicmwpaa",
	"tgzv3jokf0xg5qx2tlkwia",
	"7fjfp0zbr1ktdrbnfvdmiw",
	"splxlobezqqybys6wxsbia",
	"kd94hf93k423kf44",
	"pfkkdhi9sl3r4s00",
	"hdhd0244k9j7ao03",
	"nnch734d00sl2jdk",
	"hh5s93j4hdidpola",
	"dpf43f3p2l4k3l03",
	"ad180jjd733klru7",
	"0685bd9184jfhq22",
	"r0670saqznkx3yw40nddrpvk",
	"aynhlzjetm09mrrc11fslvk1",
	"gxznwiji5j752dgqdweuvloff0mtyaq00h9ba1j9",
	"defghijklmnopqrs",
	/* RFC 6749's client id and secret, RFC 6750's tokens */
	"s6bhdrkqt3",
	"gx1fbat3bv",
	"h480djs93hd8",
	"mf_9.b5f-4.1jqm",
	/* Dynatrace's token example (its public portion), Tailscale's
	 * key id example */
	"st2ey72kqinmh574wmnvi7yn",
	"abcdef1cntrl",
	/* Buildkite's API access and agent session token examples */
	"4f6ccde8c73e26244d73c5a77c91c242",
	"miyf6s3a3g9j8pybgtylc1frg9k6gdht",
	/* Mailgun's API key example */
	"3ax6xnjp29jd6fds4gc373sgvjxteol0",
};

#define NWORDS (sizeof(placeholder_words) / sizeof(placeholder_words[0]))
_Static_assert(NWORDS < 255, "word_head holds an index + 1 in a byte");

/*
 * The words by their first character: head[c] the first (index + 1),
 * next[] the rest; each one's length. Made once (every thread of a
 * scan calls this).
 */
static unsigned char word_head[256], word_next[NWORDS];
static size_t word_len[NWORDS];
static pthread_once_t words_once = PTHREAD_ONCE_INIT;

static void index_words(void)
{
	size_t k;

	for (k = NWORDS; k-- > 0;) {
		unsigned char c = (unsigned char)placeholder_words[k][0];

		word_len[k] = strlen(placeholder_words[k]);
		word_next[k] = word_head[c];
		word_head[c] = (unsigned char)(k + 1);
	}
}

int dw_is_placeholder(const char *s, size_t n)
{
	/*
	 * One pass: at each character only the words that begin with it
	 * (lowercased) are compared, so a candidate costs a few steps a
	 * byte however long (a run a rule's {20,} takes whole), and a short
	 * one (a key id among thousands on a line) no call per word. A line
	 * of "AKIA..." key ids spent half its scan here when every word was
	 * looked at, and its length taken, at each 'a'.
	 */
	size_t i, same = 1;

	pthread_once(&words_once, index_words);
	for (i = 0; i < n; i++) {
		unsigned k = word_head[tolower((unsigned char)s[i])];

		for (; k; k = word_next[k - 1]) {
			const char *w = placeholder_words[k - 1];
			size_t wl = word_len[k - 1], j;

			if (wl > n - i)
				continue;
			for (j = 1; j < wl; j++)
				if (tolower((unsigned char)s[i + j]) != w[j])
					break;
			if (j == wl)
				return 1;
		}
	}
	for (i = 1; i < n; i++)
		if (s[i] == s[0])
			same++;
	return n && same == n;
}

/* Value of `s` in base 36 has at most `bits` bits. */
static int base36_fits(const char *s, size_t n, int bits)
{
	BIGNUM *v = BN_new();
	size_t i;
	int ok = v != NULL;

	for (i = 0; ok && i < n; i++) {
		int d = isdigit((unsigned char)s[i]) ? s[i] - '0'
						     : s[i] - 'a' + 10;

		ok = BN_mul_word(v, 36) && BN_add_word(v, (BN_ULONG)d);
	}
	ok = ok && BN_num_bits(v) <= bits;
	BN_free(v);
	return ok;
}

/* Digests of the swarm CA that Docker's documentation prints. */
static const char *const docs_swarm_digests[] = {
	"3pu6hszjas19xyp7ghgosyx9k8atbfcr8p2is99znpy26u2lkl",
	"49nj1cmql0jkz5s954yi3oex3nedyz0fb0xx14ie39trti4wxv",
};

static int valid_swarm_join(const char *s, size_t n, const char *m, size_t mlen,
			    const char *line, size_t llen)
{
	/* SWMTKN-1-<50>-<25> or SWMTKN-2-<0|1>-<50>-<25> */
	size_t head = s[7] == '2' ? 11 : 9;
	const char *digest = s + head, *secret = digest + 51;
	size_t i;

	(void)m, (void)mlen, (void)line, (void)llen;
	if (n != head + 76)
		return 0;
	if (digest[0] < '0' || digest[0] > '6')
		return 0;
	if (!isdigit((unsigned char)secret[0]) &&
	    (secret[0] < 'a' || secret[0] > 'f'))
		return 0;
	for (i = 0; i < sizeof(docs_swarm_digests) / sizeof(char *); i++)
		if (!memcmp(digest, docs_swarm_digests[i], 50))
			return 0;
	return base36_fits(digest, 50, 256) && base36_fits(secret, 25, 128);
}

static int b64val(char c)
{
	const char *al = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
			 "0123456789+/";
	const char *p = c ? strchr(al, c) : NULL;

	return p ? (int)(p - al) : -1;
}

static int valid_swarm_unlock(const char *s, size_t n, const char *m,
			      size_t mlen, const char *line, size_t llen)
{
	static const char *const docs[] = {
		"SWMKEY-1-WuYH/IX284+lRcXuoVf38viIDK3HJEKY13MIHX+tTt8",
	};
	size_t i;

	(void)m, (void)mlen, (void)line, (void)llen;
	if (n != 52)
		return 0;
	for (i = 0; i < sizeof(docs) / sizeof(docs[0]); i++)
		if (!memcmp(s, docs[i], n))
			return 0;
	/* 32 bytes in 43 chars: the last char carries 4 bits, 2 unused. */
	return (b64val(s[51]) & 3) == 0;
}

/* Standard base64 (padding optional) into `out`; returns length or -1. */
static int b64decode(unsigned char *out, size_t outsize, const char *s,
		     size_t n)
{
	char tmp[1024];
	size_t k = n;
	int len, pad = 0;

	if (n + 3 > sizeof(tmp) || (n + 3) / 4 * 3 > outsize)
		return -1;
	memcpy(tmp, s, n);
	while (k % 4)
		tmp[k++] = '=';
	while (k > 0 && tmp[k - 1 - (size_t)pad] == '=' && pad < 2)
		pad++;
	len = EVP_DecodeBlock(out, (const unsigned char *)tmp, (int)k);
	return len < 0 ? -1 : len - pad;
}

/*
 * Base64 of printable "user:password", both parts there (Docker's auth,
 * HTTP Basic): the decoded length, `*colon` its colon; 0 when not.
 */
static int user_password(const char *s, size_t n, unsigned char raw[800],
			 const unsigned char **colon)
{
	int len = b64decode(raw, 800, s, n), i;

	if (len < 3)
		return 0;
	for (i = 0; i < len; i++)
		if (raw[i] < 0x20 || raw[i] == 0x7f)
			return 0;
	*colon = memchr(raw, ':', (size_t)len);
	return *colon && *colon > raw && *colon < raw + len - 1 ? len : 0;
}

static int valid_config_auth(const char *s, size_t n, const char *m,
			     size_t mlen, const char *line, size_t llen)
{
	unsigned char raw[800];
	const unsigned char *colon;

	(void)m, (void)mlen, (void)line, (void)llen;
	return user_password(s, n, raw, &colon) > 0;
}

/*
 * Body of a PEM block: enough base64 once headers and escapes are gone,
 * with at least one run of PEM_RUN base64 characters (a line of it):
 * prose between two markers ("The ... marker has been found") is not a
 * key.
 */
#define PEM_RUN 40

static size_t pem_body_chars(const char *m, size_t mlen, int *has_role)
{
	const char *p = memchr(m, '\n', mlen), *end = m + mlen;
	size_t count = 0, run = 0, longest = 0;
	int at_line_start = 1;

	*has_role = 0;
	if (!p || memmem(m, mlen, "\\n", 2))
		p = m; /* one line, or \n escapes inside a JSON string */
	for (; p < end; p++) {
		if (at_line_start && (size_t)(end - p) > 5 &&
		    !memcmp(p, "role:", 5))
			*has_role = 1;
		if (*p == '\\' && p + 1 < end && p[1] == 'n') {
			at_line_start = 1;
			p++;
			continue;
		}
		at_line_start = *p == '\n';
		if (isalnum((unsigned char)*p) || *p == '+' || *p == '/') {
			count++;
			if (++run > longest)
				longest = run;
		} else {
			run = 0;
		}
	}
	return longest >= PEM_RUN ? count : 0;
}

static int valid_private_key(const char *s, size_t n, const char *m,
			     size_t mlen, const char *line, size_t llen)
{
	int role;

	(void)s, (void)n, (void)line, (void)llen;
	return pem_body_chars(m, mlen, &role) >= 56 && !role;
}

static int valid_notary_key(const char *s, size_t n, const char *m, size_t mlen,
			    const char *line, size_t llen)
{
	int role;

	(void)s, (void)n, (void)line, (void)llen;
	return pem_body_chars(m, mlen, &role) >= 56 && role;
}

/* GitHub and npm: 30 random base62 chars, then their CRC32 in base62. */
static int base62_crc_ok(const char *body, size_t n)
{
	static const char al[] = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
				 "abcdefghijklmnopqrstuvwxyz";
	unsigned long crc, v = 0;
	size_t i;

	if (n != 36)
		return 0;
	crc = crc32(0, (const unsigned char *)body, 30);
	for (i = 30; i < 36; i++) {
		const char *p = strchr(al, body[i]);

		if (!p || !body[i])
			return 0;
		v = v * 62 + (unsigned long)(p - al);
	}
	return v == crc;
}

static int valid_github(const char *s, size_t n, const char *m, size_t mlen,
			const char *line, size_t llen)
{
	(void)m, (void)mlen, (void)line, (void)llen;
	if (n == 40 && s[3] == '_')
		return base62_crc_ok(s + 4, 36);
	return !dw_is_placeholder(s, n); /* github_pat_: no checksum */
}

static int valid_npm(const char *s, size_t n, const char *m, size_t mlen,
		     const char *line, size_t llen)
{
	(void)m, (void)mlen, (void)line, (void)llen;
	return n == 40 && base62_crc_ok(s + 4, 36);
}

/*
 * An age identity (age-encryption.org/v1): "AGE-SECRET-KEY-1", then 32
 * bytes as upper-case Bech32 (BIP 173) with its 6-character checksum
 * over the lower-cased human-readable part "age-secret-key-".
 */
static int valid_age(const char *s, size_t n, const char *m, size_t mlen,
		     const char *line, size_t llen)
{
	static const char hrp[] = "age-secret-key-";
	static const char cs[] = "QPZRY9X8GF2TVDW0S3JN54KHCE6MUA7L";
	static const unsigned long gen[5] = {0x3b6a57b2, 0x26508e6d, 0x1ea119fa,
					     0x3d4233dd, 0x2a1462b3};
	unsigned long chk = 1;
	size_t i, h = sizeof(hrp) - 1;

	(void)m, (void)mlen, (void)line, (void)llen;
	if (n != h + 1 + 58)
		return 0;
	/* the checksum over hrp's high bits, 0, hrp's low bits, the data */
	for (i = 0; i < 2 * h + 1 + 58; i++) {
		unsigned v, top = (unsigned)(chk >> 25);

		if (i < h)
			v = (unsigned char)hrp[i] >> 5;
		else if (i == h)
			v = 0;
		else if (i < 2 * h + 1)
			v = (unsigned char)hrp[i - h - 1] & 31;
		else {
			const char *p = strchr(cs, s[h + 1 + (i - 2 * h - 1)]);

			if (!p || !*p)
				return 0;
			v = (unsigned)(p - cs);
		}
		/* 52 groups carry 256 bits: the last one's low 4 are
		 * padding, zero in a key age wrote (and would read) */
		if (i == 2 * h + 1 + 51 && (v & 15))
			return 0;
		chk = ((chk & 0x1ffffff) << 5) ^ v;
		for (int b = 0; b < 5; b++)
			if ((top >> b) & 1)
				chk ^= gen[b];
	}
	return chk == 1;
}

/*
 * A WireGuard key as wg(8) writes them into a configuration
 * (`PrivateKey = ` from `wg genkey`, `PresharedKey = ` from `wg
 * genpsk`): 32 bytes in standard base64, 44 characters. Canonical: the
 * last character before the '=' carries 4 bits of data and 2 zero bits.
 * Not one byte repeated (AAAA...A=, a placeholder).
 */
static int valid_wireguard(const char *s, size_t n, const char *m, size_t mlen,
			   const char *line, size_t llen)
{
	size_t i;

	(void)m, (void)mlen, (void)line, (void)llen;
	if (n != 44 || s[43] != '=' || !strchr("AEIMQUYcgkosw048", s[42]))
		return 0;
	for (i = 1; i < 42 && s[i] == s[0]; i++)
		;
	return i < 42 && !dw_is_placeholder(s, n);
}

/* A base64url part as JSON (NULL when it is not, or too long to look). */
/* Base64 (standard or url-safe, padded or not) of `s`, into `out`. */
static int b64any(unsigned char *out, size_t outsize, const char *s, size_t n)
{
	char tmp[1020];
	size_t i;

	while (n && s[n - 1] == '=')
		n--;
	if (n > sizeof(tmp))
		return -1;
	for (i = 0; i < n; i++)
		tmp[i] = s[i] == '-' ? '+' : s[i] == '_' ? '/' : s[i];
	return b64decode(out, outsize, tmp, n);
}

static json_t *b64url_json(const char *s, size_t k)
{
	unsigned char raw[800];
	int len = k ? b64any(raw, sizeof(raw), s, k) : -1;

	return len > 0 ? json_loadb((const char *)raw, (size_t)len, 0, NULL)
		       : NULL;
}

/*
 * The HMAC keys that documentation signs its example tokens with (the
 * jwt.io debugger's default, and "secret" of library READMEs): a token
 * that verifies with one of them is an example, and no secret, since
 * anyone can make it.
 */
static int signed_with_example_key(const char *s, size_t n, size_t sig_at)
{
	static const char *const keys[] = {"secret", "your-256-bit-secret"};
	unsigned char mac[EVP_MAX_MD_SIZE], sig[64];
	size_t i, maclen;

	/* 32 bytes, unpadded */
	if (n - sig_at != 43 || b64any(sig, sizeof(sig), s + sig_at, 43) != 32)
		return 0;
	for (i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
		if (EVP_Q_mac(NULL, "HMAC", NULL, "SHA256", NULL, keys[i],
			      strlen(keys[i]), (const unsigned char *)s,
			      sig_at - 1, mac, sizeof(mac), &maclen) &&
		    maclen == 32 && !memcmp(mac, sig, 32))
			return 1;
	return 0;
}

/*
 * A JWT: a header that is JSON with an "alg". Not reported: one past its
 * "exp" (it no longer lets anyone in), and an HS256 example signed with
 * a documentation key.
 */
static int valid_jwt(const char *s, size_t n, const char *m, size_t mlen,
		     const char *line, size_t llen)
{
	const char *dot = memchr(s, '.', n), *dot2;
	json_t *hdr, *body;
	const char *alg;
	int ok;

	(void)m, (void)mlen, (void)line, (void)llen;
	hdr = dot ? b64url_json(s, (size_t)(dot - s)) : NULL;
	alg = json_string_value(json_object_get(hdr, "alg"));
	ok = json_is_object(hdr) && json_object_get(hdr, "alg");
	dot2 = ok ? memchr(dot + 1, '.', n - (size_t)(dot + 1 - s)) : NULL;
	if (ok && dot2) {
		json_t *exp;

		body = b64url_json(dot + 1, (size_t)(dot2 - dot - 1));
		exp = json_object_get(body, "exp");
		if (json_is_integer(exp) &&
		    json_integer_value(exp) < (json_int_t)time(NULL))
			ok = 0;
		json_decref(body);
		if (ok && alg && !strcmp(alg, "HS256") &&
		    signed_with_example_key(s, n, (size_t)(dot2 + 1 - s)))
			ok = 0;
	}
	json_decref(hdr);
	return ok;
}

/*
 * Buildkite: bkua_/bkaa_ VERSION "." SECRET, VERSION unpadded base64 of a
 * decimal number ("MTA": 10); bkaj_ a JWT (its header JSON with an alg).
 */
static int valid_buildkite(const char *s, size_t n, const char *m, size_t mlen,
			   const char *line, size_t llen)
{
	const char *dot = memchr(s + 5, '.', n - 5);
	unsigned char v[16];
	int len, i;

	if (!memcmp(s, "bkaj_", 5))
		return valid_jwt(s + 5, n - 5, m, mlen, line, llen);
	if (!dot) /* no version: its length and alphabet are all */
		return 1;
	len = b64any(v, sizeof(v), s + 5, (size_t)(dot - s - 5));
	for (i = 0; i < len; i++)
		if (!isdigit(v[i]))
			return 0;
	return len > 0;
}

/* Mapbox: "sk." and base64url JSON naming the account ("u") and the
 * token ("a"), then "." and a signature. */
static int valid_mapbox(const char *s, size_t n, const char *m, size_t mlen,
			const char *line, size_t llen)
{
	const char *dot = memchr(s + 3, '.', n - 3);
	json_t *p = dot ? b64url_json(s + 3, (size_t)(dot - s - 3)) : NULL;
	int ok = json_is_string(json_object_get(p, "u")) &&
		 json_is_string(json_object_get(p, "a"));

	(void)m, (void)mlen, (void)line, (void)llen;
	json_decref(p);
	return ok;
}

/* `name` ends with `suffix` (case-insensitive) at a label boundary. */
static int host_is(const char *name, size_t n, const char *suffix)
{
	size_t k = strlen(suffix);

	return n >= k && !strncasecmp(name + n - k, suffix, k) &&
	       (n == k || name[n - k - 1] == '.');
}

/*
 * Names reserved for documentation and testing (RFC 2606, RFC 6761):
 * no credential for them is real.
 */
static int documentation_host(const char *h, size_t n)
{
	static const char *const names[] = {"example.com", "example.net",
					    "example.org", "example",
					    "test",	   "invalid"};
	size_t i;

	while (n && h[n - 1] == '.')
		n--;
	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (host_is(h, n, names[i]))
			return 1;
	return 0;
}

/* A password of fewer characters is an example ("abc:xyz@", "foo:bar@"). */
#define URL_PASSWORD_MIN 6

static int valid_url_credentials(const char *s, size_t n, const char *m,
				 size_t mlen, const char *line, size_t llen)
{
	static const char *const fake[] = {"password", "passwd", "pass",
					   "secret",   "pwd",	 "user"};
	const char *host = s + n + 1; /* after the '@' */
	size_t i;

	(void)line, (void)llen;
	if (s[0] == '$' || s[0] == '%' || n < URL_PASSWORD_MIN)
		return 0;
	/* No user ("redis://:PASSWORD@"): one password, no more colons
	 * ("cvs://:pserver:anoncvs@" is a method and a user). */
	if (s > m + 1 && s[-2] == '/' && memchr(s, ':', n))
		return 0;
	if (host > m && host <= m + mlen &&
	    documentation_host(host, (size_t)(m + mlen - host)))
		return 0;
	for (i = 0; i < sizeof(fake) / sizeof(fake[0]); i++)
		if (strlen(fake[i]) == n && !strncasecmp(s, fake[i], n))
			return 0;
	return !dw_is_placeholder(s, n);
}

static int b64ish(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
	       (c >= '0' && c <= '9') || c == '/' || c == '+';
}

/*
 * The AWS secret is a run of exactly 40 of [A-Za-z0-9/+] with none of
 * them (nor '=') on either side, after something (the keyword): a line
 * without such a run cannot match. Its regex, at each key id or keyword
 * (text repeating "AKIA..." puts one every 21 bytes), tries 80 places;
 * this one pass spares that (634 times the cost of ordinary text, before).
 */
static int aws_secret_could_match(const char *t, size_t n)
{
	size_t i = 0, j;

	while (i < n) {
		if (!b64ish((unsigned char)t[i])) {
			i++;
			continue;
		}
		for (j = i; j < n && b64ish((unsigned char)t[j]); j++)
			;
		if (j - i == 40 && i > 0 && (j == n || t[j] != '='))
			return 1;
		i = j;
	}
	return 0;
}

static int valid_mixed(const char *s, size_t n, const char *m, size_t mlen,
		       const char *line, size_t llen)
{
	int digit = 0, alpha = 0;
	size_t i;

	(void)m, (void)mlen, (void)line, (void)llen;
	for (i = 0; i < n; i++) {
		digit |= isdigit((unsigned char)s[i]) != 0;
		alpha |= isalpha((unsigned char)s[i]) != 0;
	}
	return digit && alpha && !dw_is_placeholder(s, n);
}

/*
 * generic-secret, but not where the name is a key's or token's id
 * ("private_key_id" beside a Google service account's key, "api_key_id"):
 * an id names a secret and is none. (A "secret_id" is Vault's AppRole
 * credential: it stays.)
 */
static int valid_generic_secret(const char *s, size_t n, const char *m,
				size_t mlen, const char *line, size_t llen)
{
	static const char *const ids[] = {"key_id",   "keyid",	 "key-id",
					  "token_id", "tokenid", "token-id"};
	size_t e = 0, i;

	/* (the match is not NUL-ended: the name ends at its first quote,
	 * blank or operator) */
	while (e < mlen && !strchr("\"' \t:=", m[e]))
		e++;
	for (i = 0; i < sizeof(ids) / sizeof(ids[0]); i++) {
		size_t k = strlen(ids[i]);

		if (e >= k && !strncasecmp(m + e - k, ids[i], k))
			return 0;
	}
	return valid_mixed(s, n, m, mlen, line, llen);
}

static int valid_random(const char *s, size_t n, const char *m, size_t mlen,
			const char *line, size_t llen);

/* Passwords that documentation uses for a password. */
static int doc_password(const char *s, size_t n)
{
	static const char *const fake[] = {
		"password", "passwd", "pass",	"secret",      "pwd",
		"user",	    "admin",  "test",	"open sesame", "root",
		"guest",    "123456", "letmein"};
	size_t i;

	for (i = 0; i < sizeof(fake) / sizeof(fake[0]); i++)
		if (strlen(fake[i]) == n && !strncasecmp(s, fake[i], n))
			return 1;
	return 0;
}

/*
 * A value that reads as words rather than a secret: letters, digits and
 * "_-." whose words (four lowercase letters or more, or a capital and
 * two or more) cover 60 % of it or more ("Argon2PasswordHasher",
 * "OAuth2Token"). Of random letters and digits this takes about 6 % at
 * 16 characters, 1.4 % at 32, none past 64 (counting runs anywhere took
 * two thirds of the random values of 64 characters).
 */
static int wordy(const char *s, size_t n)
{
	size_t i = 0, covered = 0;

	while (i < n) {
		size_t j = i;

		if (!isalnum((unsigned char)s[i]) && !strchr("_-.", s[i]))
			return 0;
		if (!islower((unsigned char)s[i])) {
			i++;
			continue;
		}
		while (j < n && islower((unsigned char)s[j]))
			j++;
		if (i > 0 && isupper((unsigned char)s[i - 1]) && j - i >= 2)
			covered += j - i + 1;
		else if (j - i >= 4)
			covered += j - i;
		i = j;
	}
	return covered * 10 >= n * 6;
}

/* A class name that says what it holds ("Ed25519PrivateKey"). */
static int class_name(const char *s, size_t n)
{
	static const char *const ends[] = {"Key",      "Token",	  "Secret",
					   "Password", "Hasher",  "Signer",
					   "Provider", "Manager", "Type"};
	size_t i, k;

	if (!isupper((unsigned char)s[0]) && !isdigit((unsigned char)s[0]))
		return 0;
	for (i = 0; i < n; i++)
		if (!isalnum((unsigned char)s[i]))
			return 0;
	for (i = 0; i < sizeof(ends) / sizeof(ends[0]); i++) {
		k = strlen(ends[i]);
		if (n > k && !memcmp(s + n - k, ends[i], k))
			return 1;
	}
	return 0;
}

/*
 * A name in a program rather than a value: snake_case or CONSTANT_CASE
 * with an underscore, or a dotted path of names ("x25519.X25519Key").
 */
static int identifier(const char *s, size_t n)
{
	size_t i;
	int under = 0, dot = 0, upper = 0, lower = 0, part_start = 1;

	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c == '.') {
			if (part_start)
				return 0;
			dot = part_start = 1;
			continue;
		}
		if (part_start && !isalpha(c) && c != '_')
			return 0;
		part_start = 0;
		if (c == '_')
			under = 1;
		else if (isupper(c))
			upper = 1;
		else if (islower(c))
			lower = 1;
		else if (!isdigit(c))
			return 0;
	}
	return !part_start && (dot || (under && !(upper && lower)));
}

/* What a value is called when it is not a value: "password123",
 * "my-secret-token", an IPv6 address. */
static int named_value(const char *s, size_t n)
{
	static const char *const words[] = {"password", "passwd", "secret",
					    "token"};
	/* (generic-assignment's values reach 256 characters) */
	char low[257];
	size_t i, colons = 0;

	if (n >= sizeof(low))
		return 0;
	for (i = 0; i < n; i++) {
		low[i] = (char)tolower((unsigned char)s[i]);
		colons += s[i] == ':';
	}
	low[n] = '\0';
	for (i = 0; i < sizeof(words) / sizeof(words[0]); i++)
		if (strstr(low, words[i]))
			return 1;
	return colons >= 3 || strstr(low, "::") != NULL;
}

/*
 * An unquoted assignment (generic-assignment): the name's last part says
 * what it holds when it is not the secret itself (DB_PASSWORD_FILE,
 * TOKEN_URL, SECRET_NAME, PASSWORD_HASH); the value is no path, URL,
 * reference or ciphertext, and mixes letters and digits.
 */
static int valid_assignment(const char *s, size_t n, const char *m, size_t mlen,
			    const char *line, size_t llen)
{
	static const char *const not_secret[] = {
		"file",	      "path",	  "dir",      "name",	 "type",
		"url",	      "uri",	  "length",   "len",	 "size",
		"env",	      "var",	  "field",    "header",	 "prefix",
		"endpoint",   "ttl",	  "timeout",  "expiry",	 "expires",
		"policy",     "format",	  "mode",     "enabled", "enable",
		"required",   "count",	  "max",      "min",	 "id",
		"hash",	      "sha",	  "sha256",   "digest",	 "checksum",
		"algorithm",  "method",	  "provider", "store",	 "backend",
		"version",    "location", "source",   "label",	 "key_id",
		"encryption", "cipher",	  "strength", "scheme",	 "iterations"};
	const char *sep, *end, *p;
	size_t i, k;
	int digit = 0, alpha = 0;

	(void)line, (void)llen, (void)mlen;
	/* The name: up to the separator (or the space before the value:
	 * ENV NAME VALUE), its last part after [_.-]. */
	for (sep = m; sep < s && *sep != '=' && *sep != ':'; sep++)
		;
	for (end = sep; end > m && isspace((unsigned char)end[-1]); end--)
		;
	/* a test's result as Automake's test driver and DejaGnu print it
	 * ("PASS: binutils-all/i386/pr21231a", "XPASS: gdb.base/a.exp"):
	 * at the line's start, one blank, a path or a dotted name */
	if (m == line && *sep == ':' && sep + 2 == s && sep[1] == ' ' &&
	    ((end - m == 4 && !memcmp(m, "PASS", 4)) ||
	     (end - m == 5 && !memcmp(m, "XPASS", 5))) &&
	    (memchr(s, '/', n) || memchr(s, '.', n)))
		return 0;
	for (i = 0; i < sizeof(not_secret) / sizeof(not_secret[0]); i++) {
		k = strlen(not_secret[i]);
		if ((size_t)(end - m) <= k)
			continue;
		p = end - k;
		if (strchr("_.-", p[-1]) && !strncasecmp(p, not_secret[i], k))
			return 0;
	}
	/* tokenizer, tokenization, secretary: not the word */
	for (p = m; p + 7 <= end; p++)
		if (!strncasecmp(p, "tokeniz", 7) ||
		    !strncasecmp(p, "tokenis", 7) ||
		    !strncasecmp(p, "secretar", 8))
			return 0;
	/* code: a call or a subscript ("f(x)", "a[1]"), the end of a
	 * statement, an argument or a call */
	for (i = 1; i < n; i++)
		if ((s[i] == '(' || s[i] == '[') &&
		    (isalnum((unsigned char)s[i - 1]) || s[i - 1] == '_'))
			return 0;
	if (strchr(";,)]", s[n - 1]))
		return 0;
	/* a version ("0.20.4-0ubuntu1": a pinned package) */
	if (isdigit((unsigned char)s[0])) {
		for (i = 0; i < n && isdigit((unsigned char)s[i]); i++)
			;
		if (i < n - 1 && s[i] == '.' &&
		    isdigit((unsigned char)s[i + 1]))
			return 0;
	}
	if (!strncmp(s, "./", 2) || !strncmp(s, "../", 3) ||
	    strchr("/~@", s[0]) || memmem(s, n, "://", 3) ||
	    !strncasecmp(s, "vault:", 6) || !strncasecmp(s, "enc:", 4) ||
	    !strncasecmp(s, "file:", 5) || !strncasecmp(s, "env:", 4) ||
	    !strncasecmp(s, "enc[", 4))
		return 0;
	for (i = 0; i < n; i++) {
		digit |= isdigit((unsigned char)s[i]) != 0;
		alpha |= isalpha((unsigned char)s[i]) != 0;
	}
	return digit && alpha && !wordy(s, n) && !identifier(s, n) &&
	       !class_name(s, n) && !named_value(s, n) && !doc_password(s, n);
}

/* Authorization: Basic: base64 of user:password, the password real. */
static int valid_basic_auth(const char *s, size_t n, const char *m, size_t mlen,
			    const char *line, size_t llen)
{
	unsigned char raw[800];
	const unsigned char *colon;
	int len = user_password(s, n, raw, &colon);

	(void)m, (void)mlen, (void)line, (void)llen;
	if (!len)
		return 0;
	return !doc_password((const char *)colon + 1,
			     (size_t)(raw + len - colon - 1)) &&
	       !dw_is_placeholder((const char *)raw, (size_t)len);
}

/* A bearer token: random-looking (letters and digits). */
static int valid_bearer(const char *s, size_t n, const char *m, size_t mlen,
			const char *line, size_t llen)
{
	(void)m, (void)mlen, (void)line, (void)llen;
	return !wordy(s, n) && valid_random(s, n, m, mlen, line, llen);
}

/*
 * Which of `words` (lowercase, at most 32) occur in t[0..n), ignoring
 * case: bit i for words[i]. One pass over the line, whatever the number
 * of words (a pass a word, each comparing at every first character, was
 * most of the time of a line of ";Password=..." repeated); it stops once
 * a word of `enough` is found.
 */
static unsigned words_nocase(const char *t, size_t n, const char *const *words,
			     size_t nw, unsigned enough)
{
	uint32_t first[256] = {0};
	size_t len[32], i, k;
	unsigned found = 0;

	for (k = 0; k < nw && k < 32; k++) {
		first[(unsigned char)words[k][0]] |= 1u << k;
		len[k] = strlen(words[k]);
	}
	for (i = 0; i < n; i++) {
		uint32_t m = first[tolower((unsigned char)t[i])] & ~found;

		while (m) {
			size_t j = 1;

			k = (size_t)__builtin_ctz(m);
			m &= m - 1;
			if (len[k] > n - i)
				continue;
			while (j < len[k] &&
			       tolower((unsigned char)t[i + j]) == words[k][j])
				j++;
			if (j == len[k]) {
				found |= 1u << k;
				if (found & enough)
					return found;
			}
		}
	}
	return found;
}

/* A connection string's line names a server, a data source or a driver
 * too ("Server=...;Password=...;", ODBC, JDBC): once a line. */
static int conn_could_match(const char *t, size_t n)
{
	static const char *const keys[] = {
		"server=",   "data source=",	 "uid=",  "user id=",
		"database=", "initial catalog=", "jdbc:", "driver=",
		"dsn=",	     "accountname="};

	return words_nocase(t, n, keys, sizeof(keys) / sizeof(keys[0]), ~0u) !=
	       0;
}

static int named_value(const char *s, size_t n);

static int valid_conn_password(const char *s, size_t n, const char *m,
			       size_t mlen, const char *line, size_t llen)
{
	(void)m, (void)mlen, (void)line, (void)llen;
	return !doc_password(s, n) && !named_value(s, n) && s[0] != '{' &&
	       s[0] != '$';
}

static int valid_password_word(const char *s, size_t n, const char *m,
			       size_t mlen, const char *line, size_t llen);

/* SQL: IDENTIFIED BY, or a statement that creates or alters a role or
 * user (prose says "password '...'" too): once a line. */
static int sql_could_match(const char *t, size_t n)
{
	static const char *const words[] = {"identified", "create ", "alter ",
					    "role ", "user "};
	unsigned f = words_nocase(t, n, words, 5, 1);

	return (f & 1) || ((f & 6) && (f & 24));
}

/* A password given to curl -u / --user: the line runs curl (looked at
 * once a line, not once a match: a line of "-u a:b" was quadratic). */
static int curl_could_match(const char *t, size_t n)
{
	return memmem(t, n, "curl", 4) != NULL;
}

static int valid_curl_user(const char *s, size_t n, const char *m, size_t mlen,
			   const char *line, size_t llen)
{
	(void)m, (void)mlen, (void)line, (void)llen;
	return !doc_password(s, n) && s[0] != '$';
}

/* A .pgpass password: not a documentation word nor a template's
 * field; in that file any other value is one (lowercase too). */
static int valid_pgpass(const char *s, size_t n, const char *m, size_t mlen,
			const char *line, size_t llen)
{
	(void)m, (void)mlen, (void)line, (void)llen;
	return !doc_password(s, n) && !strchr("${%", s[0]);
}

/* A password in SQL or .netrc: not a documentation word, nor a
 * template's field, nor lowercase letters only ("bobwillknow"). */
static int valid_password_word(const char *s, size_t n, const char *m,
			       size_t mlen, const char *line, size_t llen)
{
	size_t i;

	(void)m, (void)mlen, (void)line, (void)llen;
	if (doc_password(s, n) || strchr("$:{%\"'\\", s[0]))
		return 0;
	/* PostgreSQL's stored forms: a hash, not a password */
	if (!strncasecmp(s, "scram-sha-256$", 14) ||
	    (n == 35 && !strncasecmp(s, "md5", 3)))
		return 0;
	for (i = 0; i < n; i++)
		if (!islower((unsigned char)s[i]))
			return 1;
	return 0;
}

/* Mixed: an upper and a lower case letter, or a digit and a letter. */
static int valid_random(const char *s, size_t n, const char *m, size_t mlen,
			const char *line, size_t llen)
{
	int digit = 0, upper = 0, lower = 0;
	size_t i;

	(void)m, (void)mlen, (void)line, (void)llen;
	for (i = 0; i < n; i++) {
		digit |= isdigit((unsigned char)s[i]) != 0;
		upper |= isupper((unsigned char)s[i]) != 0;
		lower |= islower((unsigned char)s[i]) != 0;
	}
	return (digit + upper + lower) >= 2 && !dw_is_placeholder(s, n);
}

/*
 * An .npmrc's credentials: _authToken (a token: npm's legacy ones are
 * UUIDs), _auth (base64 of user:password), _password (base64 of the
 * password), for a registry (//host/:_authToken=) or for all.
 */
static int valid_npmrc(const char *s, size_t n, const char *m, size_t mlen,
		       const char *line, size_t llen)
{
	static const char *const theirs[] = {
		"npm_", "ghp_",	       "gho_",	 "ghs_",  "ghu_",
		"ghr_", "github_pat_", "glpat-", "gldt-", "glptt-"};
	unsigned char raw[800];
	const unsigned char *colon;
	const char *eq = memchr(m, '=', mlen), *k;
	size_t i;
	int len;

	if (!eq)
		return 0;
	for (k = eq; k > m && isspace((unsigned char)k[-1]); k--)
		;
	/* (the name's end: npm_config__authtoken in the environment) */
	if (k - m >= 10 && !strncasecmp(k - 10, "_authtoken", 10)) {
		/* a format's token is that rule's finding */
		for (i = 0; i < sizeof(theirs) / sizeof(theirs[0]); i++)
			if (n > strlen(theirs[i]) &&
			    !strncmp(s, theirs[i], strlen(theirs[i])))
				return 0;
		return n >= 16 && dw_entropy(s, n) >= 3.0 &&
		       valid_random(s, n, m, mlen, line, llen) &&
		       !identifier(s, n) && !wordy(s, n);
	}
	if (k - m >= 5 && !strncasecmp(k - 5, "_auth", 5)) {
		len = user_password(s, n, raw, &colon);
		return len > 0 &&
		       !doc_password((const char *)colon + 1,
				     (size_t)(raw + len - colon - 1));
	}
	len = b64decode(raw, sizeof(raw), s, n);
	if (len < 6)
		return 0;
	for (i = 0; i < (size_t)len; i++) /* printable ASCII */
		if (raw[i] < 0x20 || raw[i] >= 0x7f)
			return 0;
	return !doc_password((const char *)raw, (size_t)len) &&
	       !named_value((const char *)raw, (size_t)len);
}

/* A value given by a name, not a name or words itself
 * (CLOUDFLARE_API_TOKEN_FROM_ENVIRONMENT_V2). */
static int valid_named_key(const char *s, size_t n, const char *m, size_t mlen,
			   const char *line, size_t llen)
{
	return valid_random(s, n, m, mlen, line, llen) && !identifier(s, n) &&
	       !wordy(s, n);
}

/*
 * PyPI: a macaroon (version 2, its first field the location) in
 * base64url: "pypi-AgEIcHlwaS5vcmc..." is 02 01 08 "pypi.org".
 */
static int valid_pypi(const char *s, size_t n, const char *m, size_t mlen,
		      const char *line, size_t llen)
{
	unsigned char raw[16];

	(void)m, (void)mlen, (void)line, (void)llen;
	if (n < 5 + 16 || b64any(raw, sizeof(raw), s + 5, 16) < 12)
		return 0;
	return raw[0] == 0x02 && raw[1] == 0x01 && raw[2] > 0 && raw[2] < 128 &&
	       !dw_is_placeholder(s, n);
}

/*
 * Grafana service account tokens: "glsa_" SECRET "_" CHECKSUM, the
 * checksum the CRC32 (IEEE) of "glsa_" SECRET, its bytes little-endian,
 * in lowercase hex.
 */
static int valid_grafana(const char *s, size_t n, const char *m, size_t mlen,
			 const char *line, size_t llen)
{
	uLong c;
	char want[9];

	(void)m, (void)mlen, (void)line, (void)llen;
	if (n != 5 + 32 + 1 + 8)
		return 0;
	c = crc32(0L, (const Bytef *)s, 5 + 32);
	snprintf(want, sizeof(want), "%02x%02x%02x%02x", (unsigned)(c & 0xff),
		 (unsigned)((c >> 8) & 0xff), (unsigned)((c >> 16) & 0xff),
		 (unsigned)((c >> 24) & 0xff));
	return !memcmp(s + 38, want, 8);
}

/*
 * Sentry organization tokens: "sntrys_" base64 of a JSON object with
 * "iat" (when it was made), "_", 43 characters of base64.
 */
static int valid_sentry_org(const char *s, size_t n, const char *m, size_t mlen,
			    const char *line, size_t llen)
{
	unsigned char raw[800];
	const char *us = memchr(s + 7, '_', n - 7);
	json_t *j;
	int len, ok;

	(void)m, (void)mlen, (void)line, (void)llen;
	if (!us)
		return 0;
	len = b64any(raw, sizeof(raw), s + 7, (size_t)(us - s - 7));
	if (len <= 0)
		return 0;
	j = json_loadb((const char *)raw, (size_t)len, 0, NULL);
	ok = json_is_object(j) && json_object_get(j, "iat");
	json_decref(j);
	return ok;
}

static int valid_pem(const char *m, size_t mlen)
{
	int role;

	return pem_body_chars(m, mlen, &role) >= 56;
}

/*
 * Base64 of a PEM private key (a kubeconfig's client-key-data, a
 * Kubernetes secret's data, a CI variable): decoded, a private key with
 * a body. Only its first 760 bytes are decoded: BEGIN line and body.
 */
/* generic-assignment's name (secret-looking) and value (unquoted, not
 * a variable, an expression or a placeholder's bracket). */
/*
 * A key that has no mark of its own, found by the name it is given:
 * NAME, an optional quote, ":", "=", "=>" or ":=", an optional quote,
 * the VALUE (group 1) and no more of a token after it (caseless).
 */
#define KEY_BY_NAME(name, value)                                               \
	"(?i)\\b" name "[\"']?\\s*+(?::|=>?|:=)\\s*+[\"']?(" value             \
	")(?![0-9a-z_-])"

#define GA_NAME                                                                \
	"(?:[a-z0-9_.-]{0,64}(?:passw(?:or)?d|passphrase|secret|token|"        \
	"(?:api|access|private|auth|app|master|encryption|signing)[_-]?key)"   \
	"[a-z0-9_.-]{0,30}|[a-z0-9_.-]{0,64}(?<![a-z])(?:pass|pwd))"
#define GA_VALUE "([^\\s\"'`\\\\$&*!{\\[(<%|>][^\\s\"'`\\\\]{9,255})"

static int valid_b64_pem(const char *s, size_t n, const char *m, size_t mlen,
			 const char *line, size_t llen)
{
	unsigned char raw[800];
	int len;
	const char *end;

	(void)m, (void)mlen, (void)line, (void)llen;
	len = b64any(raw, sizeof(raw), s, n < 1012 ? n / 4 * 4 : 1012);
	if (len <= 0 || !memmem(raw, (size_t)len, "PRIVATE KEY-----", 16))
		return 0;
	/* The body ends at the END line, when that was decoded. */
	end = memmem(raw, (size_t)len, "-----END", 8);
	return valid_pem((const char *)raw,
			 end ? (size_t)(end - (const char *)raw) : (size_t)len);
}

/* Values that providers' documentation prints as a key of theirs. */
static int documented_value(const char *s, size_t n, const char *const *docs,
			    size_t count)
{
	size_t i;

	for (i = 0; i < count; i++)
		if (strlen(docs[i]) == n && !memcmp(s, docs[i], n))
			return 1;
	return 0;
}

/* Heroku's OAuth article prints this one as its prefixed example. */
static int valid_heroku(const char *s, size_t n, const char *m, size_t mlen,
			const char *line, size_t llen)
{
	static const char *const docs[] = {
		"HRKU-57dce771-afad-4c41-a8a5-d10b7fbc743c",
	};

	return !documented_value(s, n, docs, sizeof(docs) / sizeof(docs[0])) &&
	       valid_random(s, n, m, mlen, line, llen);
}

/* The test key that Stripe's API reference prints in its examples. */
static int valid_stripe_test(const char *s, size_t n, const char *m,
			     size_t mlen, const char *line, size_t llen)
{
	static const char *const docs[] = {
		"sk_test_4eC39HqLyjWDarjtT1zdp7dc",
		"sk_test_BQokikJOvBiI2HlWgH4olfQ2",
		"sk_test_26PHem9AhJZvU623DfE1x4sd",
	};

	return !documented_value(s, n, docs, sizeof(docs) / sizeof(docs[0])) &&
	       valid_random(s, n, m, mlen, line, llen);
}

/*
 * The token that the Bot API's documentation prints ("looks something
 * like").
 */
static int valid_telegram(const char *s, size_t n, const char *m, size_t mlen,
			  const char *line, size_t llen)
{
	static const char *const docs[] = {
		"123456:ABC-DEF1234ghIkl-zyx57W2v1u123ew11",
	};

	return !documented_value(s, n, docs, sizeof(docs) / sizeof(docs[0])) &&
	       valid_random(s, n, m, mlen, line, llen);
}

/*
 * kubeadm's bootstrap tokens: "[a-z0-9]{6}.[a-z0-9]{16}", an id and a
 * secret. Not those that Kubernetes' documentation prints.
 */
static int valid_bootstrap_token(const char *s, size_t n, const char *m,
				 size_t mlen, const char *line, size_t llen)
{
	static const char *const docs[] = {
		"abcdef.0123456789abcdef",
		"07401b.f395accd246ae52d",
	};

	return !documented_value(s, n, docs, sizeof(docs) / sizeof(docs[0])) &&
	       valid_random(s + 7, n - 7, m, mlen, line, llen);
}

/* Whether the `n` characters at `p` are digits; their value. */
static int digits(const char *p, size_t n)
{
	while (n--)
		if (!isdigit((unsigned char)p[n]))
			return 0;
	return 1;
}

static long strtol_n(const char *p, size_t n)
{
	long v = 0;

	while (n--)
		v = v * 10 + (*p++ - '0');
	return v;
}

/*
 * Azure shared access signatures: sig= is an HMAC-SHA256 in base64 (44
 * characters, one '=', the last before it carrying 4 bits and 2 zero
 * bits); in a URL it is percent-encoded, and found on the line as the
 * scanner decodes it. Only beside the SAS's version (sv=YYYY-MM-DD) on
 * the line. The signature that Microsoft's training prints is not valid
 * percent-encoding ("%6G") and is not reported; nor is a SAS past its
 * expiry.
 */
static int valid_azure_sas(const char *s, size_t n, const char *m, size_t mlen,
			   const char *line, size_t llen)
{
	const char *p, *end, *start;

	if (n != 44 || !strchr("AEIMQUYcgkosw048", s[42]) ||
	    !valid_random(s, 43, m, mlen, line, llen))
		return 0;
	/*
	 * Its URL or connection string: from the blank or quote before it
	 * to the one after, at most 2 KiB each way. Not the line: another
	 * URL's se= there is not this one's expiry (a decoy would hide
	 * it), and a line of many sig= searched whole for each was
	 * quadratic.
	 */
	for (start = m; start > line && m - start < 2048 &&
			!memchr(" \t\"'<>`", start[-1], 7);
	     start--)
		;
	for (end = s + n; end < line + llen && end - (s + n) < 2048 &&
			  !memchr(" \t\"'<>`", *end, 7);
	     end++)
		;
	line = start;
	p = start;
	/* Past its expiry (se=YYYY-MM-DD...) it lets nobody in. */
	while ((p = memmem(p, (size_t)(end - p), "se=", 3)) != NULL) {
		struct tm tm = {0};

		p += 3;
		/* (digits read one by one: the line is no C string) */
		if (p - 3 > line && memchr("?&;", p[-4], 3) && end - p >= 10 &&
		    digits(p, 4) && p[4] == '-' && digits(p + 5, 2) &&
		    p[7] == '-' && digits(p + 8, 2)) {
			tm.tm_year = (int)strtol_n(p, 4) - 1900;
			tm.tm_mon = (int)strtol_n(p + 5, 2) - 1;
			tm.tm_mday = (int)strtol_n(p + 8, 2);
			if (timegm(&tm) + 86400 < time(NULL))
				return 0;
			break;
		}
	}
	p = start;
	while ((p = memmem(p, (size_t)(end - p), "sv=", 3)) != NULL) {
		p += 3;
		if (end - p >= 10 && isdigit((unsigned char)p[0]) &&
		    isdigit((unsigned char)p[3]) && p[4] == '-' &&
		    isdigit((unsigned char)p[5]) && p[7] == '-' &&
		    isdigit((unsigned char)p[8]))
			return 1;
	}
	return 0;
}

/*
 * Kubernetes service account tokens: JWTs that the API server signs,
 * the legacy ones (a Secret's) with the issuer
 * "kubernetes/serviceaccount", the bound ones (TokenRequest, projected
 * volumes) with a "kubernetes.io" claim naming the service account.
 */
static int k8s_service_account_jwt(const char *s, size_t n)
{
	const char *dot = memchr(s, '.', n), *dot2;
	json_t *body, *k;
	const char *iss;
	int ok;

	dot2 = dot ? memchr(dot + 1, '.', n - (size_t)(dot + 1 - s)) : NULL;
	if (!dot2)
		return 0;
	body = b64url_json(dot + 1, (size_t)(dot2 - dot - 1));
	iss = json_string_value(json_object_get(body, "iss"));
	k = json_object_get(body, "kubernetes.io");
	ok = (iss && !strcmp(iss, "kubernetes/serviceaccount")) ||
	     json_is_object(json_object_get(k, "serviceaccount"));
	json_decref(body);
	return ok;
}

static int valid_k8s_sa_token(const char *s, size_t n, const char *m,
			      size_t mlen, const char *line, size_t llen)
{
	return k8s_service_account_jwt(s, n) &&
	       valid_jwt(s, n, m, mlen, line, llen);
}

/* The JSON Web Tokens that no rule of a format claims. */
static int valid_other_jwt(const char *s, size_t n, const char *m, size_t mlen,
			   const char *line, size_t llen)
{
	return !k8s_service_account_jwt(s, n) &&
	       valid_jwt(s, n, m, mlen, line, llen);
}

/*
 * Amazon Bedrock long-term API keys: "ABSK" and base64 of
 * "BedrockAPIKey-" ID "-at-" ACCOUNT ":" SECRET, the account 12 digits.
 */
static int valid_bedrock_key(const char *s, size_t n, const char *m,
			     size_t mlen, const char *line, size_t llen)
{
	unsigned char raw[768];
	const unsigned char *at, *colon;
	int len = b64decode(raw, sizeof(raw), s + 4, n - 4), i;

	(void)m, (void)mlen, (void)line, (void)llen;
	if (len < 14 + 1 + 4 + 12 + 1 + 20 || memcmp(raw, "BedrockAPIKey-", 14))
		return 0;
	at = memmem(raw + 14, (size_t)len - 14, "-at-", 4);
	if (!at || at == raw + 14 || raw + len - at < 4 + 12 + 1 + 20)
		return 0;
	for (i = 0; i < 12; i++)
		if (!isdigit(at[4 + i]))
			return 0;
	colon = at + 4 + 12;
	if (*colon != ':')
		return 0;
	for (i = 0; colon + 1 + i < raw + len; i++)
		if (!isgraph(colon[1 + i]))
			return 0;
	return valid_random((const char *)colon + 1,
			    (size_t)(raw + len - colon - 1), m, mlen, line,
			    llen);
}

/*
 * Amazon Bedrock short-term API keys: "bedrock-api-key-" and base64 of
 * a URL that AWS Signature Version 4 presigned
 * ("bedrock.amazonaws.com/?Action=CallWithBearerToken&X-Amz-...").
 */
static int valid_bedrock_short(const char *s, size_t n, const char *m,
			       size_t mlen, const char *line, size_t llen)
{
	static const char want[] = "bedrock.amazonaws.com/?Action="
				   "CallWithBearerToken&X-Amz-";
	unsigned char raw[96];
	int len = n >= 16 + 96 ? b64decode(raw, sizeof(raw), s + 16, 96) : -1;

	(void)m, (void)mlen, (void)line, (void)llen;
	return len >= (int)sizeof(want) - 1 &&
	       !memcmp(raw, want, sizeof(want) - 1);
}

/*
 * Fly.io macaroon tokens: "fm2_" and standard base64 of a MessagePack
 * array (its first byte 0x90 to 0x9f); `flyctl tokens create` prints
 * several, comma-separated, after "FlyV1 ".
 */
static int valid_flyio(const char *s, size_t n, const char *m, size_t mlen,
		       const char *line, size_t llen)
{
	unsigned char raw[12];

	(void)m, (void)mlen, (void)line, (void)llen;
	if (n < 4 + 16 || b64decode(raw, sizeof(raw), s + 4, 16) < 12)
		return 0;
	return (raw[0] & 0xf0) == 0x90 && raw[0] != 0x90 &&
	       !dw_is_placeholder(s, n);
}

/*
 * Notion's integration tokens: "ntn_", or "secret_" before Notion
 * changed its prefix; the old one only on a line that names Notion.
 */
static int valid_notion(const char *s, size_t n, const char *m, size_t mlen,
			const char *line, size_t llen)
{
	const char *from, *to, *p;

	/* Named within 256 bytes before it or after: a window, not the
	 * line (a line of a thousand secret_ values searched whole for
	 * each was quadratic). */
	if (s[0] == 's') {
		from = s - line > 256 ? s - 256 : line;
		to = line + llen - (s + n) > 256 ? s + n + 256 : line + llen;
		for (p = from; p + 6 <= to; p++)
			if (!strncasecmp(p, "notion", 6))
				break;
		if (p + 6 > to)
			return 0;
	}
	return valid_random(s, n, m, mlen, line, llen);
}

/* Tencent Cloud's API documentation prints these SecretIds. */
static int valid_tencent(const char *s, size_t n, const char *m, size_t mlen,
			 const char *line, size_t llen)
{
	static const char *const docs[] = {
		"AKID1IGx7Tu5mk150ds6fhbdi1RqD8KlI6dW32MD",
	};

	return !documented_value(s, n, docs, sizeof(docs) / sizeof(docs[0])) &&
	       valid_random(s + 4, n - 4, m, mlen, line, llen);
}

/*
 * Discord bot tokens: base64 of the bot's id (a snowflake: 17 to 20
 * decimal digits), ".", a timestamp, ".", an HMAC. Not the token of
 * Discord's authentication documentation.
 */
static int valid_discord_bot(const char *s, size_t n, const char *m,
			     size_t mlen, const char *line, size_t llen)
{
	static const char *const docs[] = {
		"MTk4NjIyNDgzNDcxOTI1MjQ4.Cl2FMQ.ZnCjm1XVW7vRze4b7Cq4se7kKWs",
	};
	const char *dot = memchr(s, '.', n);
	unsigned char raw[32];
	int len, i;

	if (!dot ||
	    documented_value(s, n, docs, sizeof(docs) / sizeof(docs[0])))
		return 0;
	len = b64any(raw, sizeof(raw), s, (size_t)(dot - s));
	if (len < 17 || len > 20 || raw[0] == '0')
		return 0;
	for (i = 0; i < len; i++)
		if (!isdigit(raw[i]))
			return 0;
	return valid_random(s, n, m, mlen, line, llen);
}

/* PagerDuty's REST API reference prints this key in its examples. */
static int valid_pagerduty(const char *s, size_t n, const char *m, size_t mlen,
			   const char *line, size_t llen)
{
	static const char *const docs[] = {"y_NbAkKc66ryYTWUXYEu"};

	return !documented_value(s, n, docs, sizeof(docs) / sizeof(docs[0])) &&
	       valid_random(s, n, m, mlen, line, llen);
}

/*
 * JFrog reference tokens: 64 characters of base64 (letters and digits
 * only, the platform's documentation says) of "reftkn:" and the rest.
 */
static int valid_jfrog_reference(const char *s, size_t n, const char *m,
				 size_t mlen, const char *line, size_t llen)
{
	unsigned char raw[64];
	int len;

	(void)m, (void)mlen, (void)line, (void)llen;
	len = b64decode(raw, sizeof(raw), s, n);
	return len >= 16 && !memcmp(raw, "reftkn:", 7) &&
	       !dw_is_placeholder(s, n);
}

/*
 * The private lines of an unencrypted PuTTY key: enough base64 for the
 * smallest private part (an Ed25519 key's 32 bytes, as an SSH string:
 * 48 characters).
 */
static int valid_ppk(const char *s, size_t n, const char *m, size_t mlen,
		     const char *line, size_t llen)
{
	size_t i, b64 = 0;

	(void)m, (void)mlen, (void)line, (void)llen;
	for (i = 0; i < n; i++)
		b64 += s[i] != '\r' && s[i] != '\n';
	return b64 >= 44 && !dw_is_placeholder(s, n);
}

/*
 * The BEGIN line of a PEM private key, group 1 its label; the scanner
 * finds the END line (multiline rules: the first "-----END " after it,
 * which must carry the same label) without a regex, in linear time. The
 * possessive ++ never backtracks into a run of letters.
 */
/* A token of a .netrc file: blank-free, or in double quotes. */
#define NETRC_TOKEN "(?:\"(?:[^\"\\\\\\r\\n]|\\\\.)*+\"|\\S++)"

#define PEM_RE "-----BEGIN ((?:[A-Z0-9]++ ){0,3}PRIVATE KEY(?: BLOCK)?)-----"

const struct dw_builtin_rule dw_builtin_rules[] = {
	{
		.info = {.id = "docker-swarm-join-token",
			 .description = "Docker Swarm join token",
			 .severity = DW_SEV_CRITICAL},
		.regex = "(?<![A-Za-z0-9_-])SWMTKN-(?:1|2-[01])-[0-9a-z]{50}-["
			 "0-9a-z]{25}"
			 "(?![0-9a-z])",
		.prefilters = {"SWMTKN-"},
		.validate = valid_swarm_join,
	},
	{
		.info = {.id = "docker-swarm-unlock-key",
			 .description = "Docker Swarm unlock key",
			 .severity = DW_SEV_CRITICAL},
		.regex = "(?<![A-Za-z0-9_-])SWMKEY-1-[A-Za-z0-9+/"
			 "]{43}(?![A-Za-z0-9+/=])",
		.prefilters = {"SWMKEY-1-"},
		.validate = valid_swarm_unlock,
	},
	{
		.info = {.id = "docker-hub-pat",
			 .description =
				 "Docker Hub personal or organization access "
				 "token",
			 .severity = DW_SEV_HIGH},
		.regex =
			"(?<![A-Za-z0-9_])dckr_(?:pat|oat)_[A-Za-z0-9_-]{20,64}"
			"(?![A-Za-z0-9_-])",
		.prefilters = {"dckr_pat_", "dckr_oat_"},
	},
	{
		.info = {.id = "docker-config-auth",
			 .description = "Registry credentials in a Docker "
					"config.json",
			 .severity = DW_SEV_HIGH},
		.regex = "\"auth\"\\s*:\\s*\"([A-Za-z0-9+/]{4,}={0,2})\"",
		.secret_group = 1,
		.prefilters = {"\"auth\""},
		.validate = valid_config_auth,
	},
	{
		.info = {.id = "notary-private-key",
			 .description = "Notary/TUF private key",
			 .severity = DW_SEV_CRITICAL},
		.regex = PEM_RE,
		.prefilters = {"-----BEGIN [A-Z0-9 ]*PRIVATE KEY"},
		.multiline = DW_ML_BLOCK,
		.validate = valid_notary_key,
	},
	{
		.info = {.id = "private-key",
			 .description = "Private key",
			 .severity = DW_SEV_CRITICAL},
		.regex = PEM_RE,
		.prefilters = {"-----BEGIN [A-Z0-9 ]*PRIVATE KEY"},
		.multiline = DW_ML_BLOCK,
		.validate = valid_private_key,
	},
	{
		.info = {.id = "aws-access-key-id",
			 .description = "AWS access key id",
			 .severity = DW_SEV_HIGH},
		.regex = "(?<![A-Z0-9])(?:AKIA|ASIA|ABIA|ACCA)[A-Z2-7]{16}(?!["
			 "A-Z0-9])",
		.prefilters = {"AKIA", "ASIA", "ABIA", "ACCA"},
	},
	{
		.info = {.id = "aws-secret-access-key",
			 .description = "AWS secret access key",
			 .severity = DW_SEV_CRITICAL},
		.regex = "(?:(?i:aws.{0,20}secret|secret.?access.?key)|"
			 "(?:AKIA|ASIA)[A-Z2-7]{16})[^\\n]{0,80}?(?<![A-Za-z0-"
			 "9/+])"
			 "([A-Za-z0-9/+]{40})(?![A-Za-z0-9/+=])",
		.secret_group = 1,
		.prefilters = {"aws_secret", "aws-secret", "awssecret",
			       "aws secret", "secret_access_key",
			       "secretaccesskey", "secret-access-key", "AKIA",
			       "ASIA"},
		.caseless = 1,
		.min_entropy = 4.0,
		.validate = valid_mixed,
		.could_match = aws_secret_could_match,
	},
	{
		.info = {.id = "github-token",
			 .description = "GitHub token",
			 .severity = DW_SEV_HIGH},
		.regex = "(?<![A-Za-z0-9_])(?:gh[pousr]_[A-Za-z0-9]{36}|"
			 "github_pat_[A-Za-z0-9]{22}_[A-Za-z0-9]{59})(?![A-Za-"
			 "z0-9_])",
		.prefilters = {"ghp_", "gho_", "ghu_", "ghs_", "ghr_",
			       "github_pat_"},
		.validate = valid_github,
	},
	{
		.info = {.id = "gitlab-token",
			 .description = "GitLab token",
			 .severity = DW_SEV_HIGH},
		/* GitLab's token prefixes (docs.gitlab.com/security/tokens),
		 * perhaps after an instance's own ("acme-glpat-..."). */
		.regex = "(?<![A-Za-z0-9_])(?:glpat|gldt|glrtr?|glptt|glcbt|"
			 "gloas|glft|glsoat|glimt|glagent|glwt|glffct)-"
			 "[A-Za-z0-9_-]{20,}",
		.prefilters = {"glpat-", "gldt-", "glrt-", "glrtr-", "glptt-",
			       "glcbt-", "gloas-", "glft-", "glsoat-", "glimt-",
			       "glagent-", "glwt-", "glffct-"},
		/* (a run of one character is no token) */
		.min_entropy = 2.5,
	},
	{
		.info = {.id = "slack-token",
			 .description = "Slack token",
			 .severity = DW_SEV_HIGH},
		/* Bot, user and other tokens; app-level (xapp-); app
		 * configuration (xoxe.xoxp-) and refresh (xoxe-) tokens. */
		.regex = "(?<![A-Za-z0-9.-])(?:xox[abposr]|xoxe\\.xox[bp]|xoxe|"
			 "xapp)-[0-9A-Za-z]{1,}-[0-9A-Za-z-]{8,}",
		.prefilters = {"xox[abposr]-", "xoxe-", "xoxe.xox", "xapp-"},
		/* (a run of one character is no token) */
		.min_entropy = 2.5,
	},
	{
		.info = {.id = "slack-webhook",
			 .description = "Slack incoming webhook",
			 .severity = DW_SEV_MEDIUM},
		.regex = "https://hooks\\.slack\\.com/"
			 "(?:services|workflows|triggers)/"
			 "[A-Za-z0-9_]{8,}/[A-Za-z0-9_]{8,}/[A-Za-z0-9_]{16,}",
		.prefilters = {"hooks.slack.com/"},
	},
	{
		.info = {.id = "stripe-secret-key",
			 .description = "Stripe live secret key",
			 .severity = DW_SEV_HIGH},
		.regex = "(?<![A-Za-z0-9_])(?:sk|rk)_live_[A-Za-z0-9]{20,}(?!["
			 "A-Za-z0-9_])",
		.prefilters = {"sk_live_", "rk_live_"},
		/* (a run of one character is no token) */
		.min_entropy = 2.5,
	},
	{
		.info = {.id = "google-api-key",
			 .description = "Google API key",
			 .severity = DW_SEV_HIGH},
		.regex = "(?<![A-Za-z0-9_-])AIza[0-9A-Za-z_-]{35}(?![0-9A-Za-z_"
			 "-])",
		.prefilters = {"AIza"},
	},
	{
		.info = {.id = "npm-token",
			 .description = "npm access token",
			 .severity = DW_SEV_HIGH},
		.regex = "(?<![A-Za-z0-9_])npm_[A-Za-z0-9]{36}(?![A-Za-z0-9_])",
		.prefilters = {"npm_"},
		.validate = valid_npm,
	},
	{
		.info = {.id = "age-secret-key",
			 .description = "age encryption identity (secret key)",
			 .severity = DW_SEV_CRITICAL},
		.regex = "(?<![A-Za-z0-9-])AGE-SECRET-KEY-1[QPZRY9X8GF2TVDW0S3"
			 "JN54KHCE6MUA7L]{58}(?![A-Za-z0-9])",
		.prefilters = {"AGE-SECRET-KEY-1"},
		.validate = valid_age,
	},
	{
		.info = {.id = "wireguard-key",
			 .description = "WireGuard private or preshared key",
			 .severity = DW_SEV_CRITICAL},
		/* wg(8)'s configuration: keys are case-insensitive. */
		.regex = "(?<![A-Za-z0-9_])(?i:(?:private|preshared)key)[ "
			 "\\t]*=[ \\t]*([A-Za-z0-9+/]{43}=)(?![A-Za-z0-9+/=])",
		.secret_group = 1,
		.prefilters = {"privatekey", "presharedkey"},
		.caseless = 1,
		.min_entropy = 4.0,
		.validate = valid_wireguard,
	},
	{
		.info = {.id = "hashicorp-vault-token",
			 .description = "HashiCorp Vault token",
			 .severity = DW_SEV_CRITICAL},
		/* Service, batch and recovery tokens of Vault 1.10 and later
		 * (developer.hashicorp.com/vault/docs/concepts/tokens). */
		.regex = "(?<![A-Za-z0-9_.-])hv[sbr]\\.[A-Za-z0-9_-]{24,512}"
			 "(?![A-Za-z0-9_-])",
		.prefilters = {"hvs.", "hvb.", "hvr."},
		.validate = valid_random,
	},
	{
		.info = {.id = "pypi-token",
			 .description = "PyPI API token",
			 .severity = DW_SEV_HIGH},
		/* pypi- and a base64url macaroon of 85 characters or more
		 * (PyPI's secret reporting documentation). */
		.regex = "(?<![A-Za-z0-9_-])pypi-[A-Za-z0-9_-]{85,}",
		.prefilters = {"pypi-"},
		.validate = valid_pypi,
	},
	{
		.info = {.id = "grafana-service-account-token",
			 .description = "Grafana service account token",
			 .severity = DW_SEV_HIGH},
		.regex = "(?<![A-Za-z0-9_])glsa_[A-Za-z0-9]{32}_[0-9a-f]{8}"
			 "(?![A-Za-z0-9_])",
		.prefilters = {"glsa_"},
		.validate = valid_grafana,
	},
	{
		.info = {.id = "digitalocean-token",
			 .description =
				 "DigitalOcean personal access, OAuth or "
				 "refresh token",
			 .severity = DW_SEV_HIGH},
		.regex = "(?<![A-Za-z0-9_])do[por]_v1_[A-Za-z0-9]{32,128}"
			 "(?![A-Za-z0-9_])",
		.prefilters = {"dop_v1_", "doo_v1_", "dor_v1_"},
		.min_entropy = 3.0,
	},
	{
		.info = {.id = "shopify-token",
			 .description = "Shopify access token or app secret",
			 .severity = DW_SEV_HIGH},
		/* 38 characters: the prefix and 32 (shopify.dev changelog). */
		.regex = "(?<![A-Za-z0-9_])shp(?:at|ca|pa|ss)_[A-Za-z0-9]{32}"
			 "(?![A-Za-z0-9_])",
		.prefilters = {"shpat_", "shpca_", "shppa_", "shpss_"},
		.min_entropy = 3.0,
	},
	{
		.info = {.id = "pulumi-token",
			 .description = "Pulumi access token",
			 .severity = DW_SEV_HIGH},
		.regex = "(?<![A-Za-z0-9_-])pul-[A-Za-z0-9]{32,64}"
			 "(?![A-Za-z0-9_-])",
		.prefilters = {"pul-"},
		.min_entropy = 3.0,
		.validate = valid_random,
	},
	{
		.info = {.id = "doppler-token",
			 .description = "Doppler token",
			 .severity = DW_SEV_HIGH},
		/* dp.st.CONFIG.TOKEN (service tokens); dp.pt., dp.ct.,
		 * dp.sa., dp.scim., dp.audit. for the other kinds. */
		.regex =
			"(?<![A-Za-z0-9_.-])dp\\.(?:st\\.(?:[A-Za-z0-9_-]{1,64}"
			"\\.)?|(?:pt|ct|sa|scim|audit)\\.)[A-Za-z0-9]{40,64}"
			"(?![A-Za-z0-9_])",
		.prefilters = {"dp.st.", "dp.pt.", "dp.ct.", "dp.sa.",
			       "dp.scim.", "dp.audit."},
		.min_entropy = 3.5,
		.validate = valid_random,
	},
	{
		.info = {.id = "dynatrace-token",
			 .description = "Dynatrace access token",
			 .severity = DW_SEV_HIGH},
		/*
		 * Dynatrace's documented format: a prefix naming the kind
		 * ("dt0c01" API tokens, "dt0s01" and on for account and
		 * platform tokens), a 24-character public portion and a
		 * 64-character secret portion, dot-separated, in base32.
		 */
		.regex = "(?<![A-Za-z0-9_.-])dt0[a-z][0-9]{2}\\.[A-Z2-7]{24}\\."
			 "[A-Z2-7]{64}(?![A-Za-z0-9_-])",
		.prefilters = {"dt0[a-z][0-9]{2}\\.[A-Z2-7]"},
		.min_entropy = 3.5,
	},
	{
		.info = {.id = "tailscale-key",
			 .description = "Tailscale key",
			 .severity = DW_SEV_HIGH},
		/*
		 * tskey-KIND-ID-SECRET, KIND one of the documented api
		 * (API access token), auth (pre-authentication key), client
		 * (OAuth client secret), scim and webhook; letters and
		 * digits, case-sensitive.
		 */
		.regex =
			"(?<![A-Za-z0-9_-])tskey-(?:api|auth|client|scim|"
			"webhook)-[A-Za-z0-9]{6,40}-[A-Za-z0-9]{16,80}(?![A-Za-"
			"z0-9_-])",
		.prefilters = {"tskey-"},
		.min_entropy = 3.5,
		.validate = valid_random,
	},
	{
		.info = {.id = "buildkite-token",
			 .description =
				 "Buildkite API access, agent session or "
				 "agent job token",
			 .severity = DW_SEV_HIGH},
		/*
		 * buildkite.com/docs/platform/security/tokens: bkua_ (API
		 * access: "MTA." and 40 hex digits), bkaa_ (agent session:
		 * "MTA." and letters and digits), bkaj_ (agent job: a JWT).
		 * The version is optional: the page masks some of its
		 * examples, and API tokens older than it are bkua_ and
		 * the 40 hex digits alone.
		 */
		.regex =
			"(?<![A-Za-z0-9_-])(?:bkua_(?:[A-Za-z0-9]{2,12}\\.)?[0-"
			"9a-f]{40}|bkaa_(?:[A-Za-z0-9]{2,12}\\.)?[A-Za-z0-9]{"
			"40,"
			"120}|"
			"bkaj_eyJ[A-Za-z0-9_-]{8,1000}\\.eyJ[A-Za-z0-9_-]{8,"
			"4000}\\.[A-Za-z0-9_-]{16,1000})(?![A-Za-z0-9_.-])",
		.prefilters = {"bkua_", "bkaa_", "bkaj_eyJ"},
		.min_entropy = 3.0,
		.validate = valid_buildkite,
	},
	{
		.info = {.id = "mapbox-secret-token",
			 .description = "Mapbox secret access token",
			 .severity = DW_SEV_HIGH},
		/*
		 * docs.mapbox.com (access tokens): secret tokens start with
		 * "sk" (public ones, "pk", are meant to be seen). A JWT-like
		 * "sk." PAYLOAD "." SIGNATURE, the payload JSON naming the
		 * account and the token.
		 */
		.regex = "(?<![A-Za-z0-9_-])sk\\.eyJ[A-Za-z0-9_-]{10,400}\\.[A-"
			 "Za-z0-9_-]{16,128}(?![A-Za-z0-9_.-])",
		.prefilters = {"sk.eyJ"},
		.validate = valid_mapbox,
	},
	{
		.info = {.id = "anthropic-api-key",
			 .description = "Anthropic API key",
			 .severity = DW_SEV_HIGH},
		/* sk-ant-api03-..., sk-ant-admin01-... */
		.regex = "(?<![A-Za-z0-9_-])sk-ant-[a-z]{3,8}[0-9]{2}-"
			 "[A-Za-z0-9_-]{32,200}(?![A-Za-z0-9_-])",
		.prefilters = {"sk-ant-"},
		.min_entropy = 3.5,
		.validate = valid_random,
	},
	{
		.info = {.id = "sentry-token",
			 .description = "Sentry user, app or integration auth "
					"token",
			 .severity = DW_SEV_HIGH},
		/* The prefix and 64 hex digits (getsentry/sentry's
		 * generate_token). */
		.regex = "(?<![A-Za-z0-9_])sntry[uai]_[0-9a-f]{64}"
			 "(?![A-Za-z0-9_])",
		.prefilters = {"sntryu_", "sntrya_", "sntryi_"},
		.min_entropy = 3.0,
	},
	{
		.info = {.id = "sentry-org-token",
			 .description = "Sentry organization auth token",
			 .severity = DW_SEV_HIGH},
		.regex = "(?<![A-Za-z0-9_])sntrys_[A-Za-z0-9+/]{20,600}={0,2}_"
			 "[A-Za-z0-9+/]{43}(?![A-Za-z0-9+/=_])",
		.prefilters = {"sntrys_"},
		.validate = valid_sentry_org,
	},
	{
		.info = {.id = "terraform-cloud-token",
			 .description = "HCP Terraform (Terraform Cloud) API "
					"token",
			 .severity = DW_SEV_HIGH},
		.regex = "(?<![A-Za-z0-9_.-])[A-Za-z0-9]{14}\\.atlasv1\\."
			 "[A-Za-z0-9_-]{60,80}(?![A-Za-z0-9_-])",
		.prefilters = {".atlasv1."},
		.min_entropy = 3.5,
		.validate = valid_random,
	},
	{
		.info = {.id = "huggingface-token",
			 .description = "Hugging Face access token",
			 .severity = DW_SEV_HIGH},
		.regex = "(?<![A-Za-z0-9_-])hf_[A-Za-z0-9]{30,40}"
			 "(?![A-Za-z0-9_-])",
		.prefilters = {"hf_"},
		.min_entropy = 3.5,
		.validate = valid_random,
	},
	{
		.info = {.id = "azure-entra-client-secret",
			 .description = "Microsoft Entra (Azure AD) client "
					"secret",
			 .severity = DW_SEV_HIGH},
		/* Three characters, a digit, "Q~", then the rest: up to 40
		 * (Microsoft Purview's definition of this secret). */
		.regex = "(?<![A-Za-z0-9_~.-])[A-Za-z0-9_~.-]{3}[0-9]Q~"
			 "[A-Za-z0-9_~.-]{31,34}(?![A-Za-z0-9_~.-])",
		.prefilters = {"[0-9]Q~"},
		.min_entropy = 3.5,
		.validate = valid_random,
	},
	{
		.info = {.id = "atlassian-api-token",
			 .description = "Atlassian API token",
			 .severity = DW_SEV_HIGH},
		/* Identified by "ATAT" (Atlassian's javadoc); its length
		 * varies on purpose. */
		.regex = "(?<![A-Za-z0-9_-])ATATT[A-Za-z0-9_=-]{60,400}"
			 "(?![A-Za-z0-9_=-])",
		.prefilters = {"ATATT"},
		.min_entropy = 4.0,
		.validate = valid_random,
	},
	{
		.info = {.id = "openai-api-key",
			 .description = "OpenAI API key (project, service "
					"account, admin)",
			 .severity = DW_SEV_HIGH},
		/* The prefixes of OpenAI's key kinds: sk-proj- (project
		 * keys), sk-svcacct- (service accounts), sk-admin-. */
		.regex = "(?<![A-Za-z0-9_-])sk-(?:proj|svcacct|admin)-"
			 "[A-Za-z0-9_-]{40,250}(?![A-Za-z0-9_-])",
		.prefilters = {"sk-proj-", "sk-svcacct-", "sk-admin-"},
		.min_entropy = 4.0,
		.validate = valid_random,
	},
	{
		.info = {.id = "sendgrid-api-key",
			 .description = "Twilio SendGrid API key",
			 .severity = DW_SEV_HIGH},
		/* "SG.", a 22-character id, ".", a 43-character secret. */
		.regex = "(?<![A-Za-z0-9_.-])SG\\.[A-Za-z0-9_-]{22}\\."
			 "[A-Za-z0-9_-]{43}(?![A-Za-z0-9_-])",
		.prefilters = {"SG\\.[A-Za-z0-9_-]{22}\\."},
		.min_entropy = 4.0,
		.validate = valid_random,
	},
	{
		.info = {.id = "square-token",
			 .description = "Square access token or application "
					"secret",
			 .severity = DW_SEV_HIGH},
		/* Access tokens: "EAAA" and 60 more (64 in all); the older
		 * sq0atp- tokens and sq0csp- application secrets. */
		/* (never in a run of base64: "EAAA" is 12 zero bits) */
		.regex = "(?<![A-Za-z0-9_+/-])(?:EAAA[A-Za-z0-9_-]{60}|"
			 "sq0atp-[A-Za-z0-9_-]{22}|sq0csp-[A-Za-z0-9_-]{43})"
			 "(?![A-Za-z0-9_+/=-])",
		.prefilters = {"EAAA", "sq0atp-", "sq0csp-"},
		.min_entropy = 3.5,
		.validate = valid_random,
	},
	{
		.info = {.id = "replicate-api-token",
			 .description = "Replicate API token",
			 .severity = DW_SEV_HIGH},
		/* Replicate's API tokens page: 40 characters, always
		 * starting with r8_. */
		.regex = "(?<![A-Za-z0-9_])r8_[A-Za-z0-9]{37}"
			 "(?![A-Za-z0-9_])",
		.prefilters = {"r8_"},
		.min_entropy = 3.5,
		.validate = valid_random,
	},
	{
		.info = {.id = "stripe-webhook-secret",
			 .description = "Stripe webhook signing secret",
			 .severity = DW_SEV_HIGH},
		/* Stripe's webhook docs: an endpoint's signing secret
		 * starts with whsec_ (the dashboard's, and the one `stripe
		 * listen` prints); whoever holds it can forge events. */
		.regex = "(?<![A-Za-z0-9_])whsec_[A-Za-z0-9+/]{32,88}={0,2}"
			 "(?![A-Za-z0-9_+/=])",
		.prefilters = {"whsec_"},
		.min_entropy = 3.5,
		.validate = valid_random,
	},
	{
		.info = {.id = "sourcegraph-token",
			 .description = "Sourcegraph access token",
			 .severity = DW_SEV_HIGH},
		/* Sourcegraph's docs: access tokens start with sgp_; then
		 * the instance's 16 hex digits (or "local") and _, or not
		 * (older tokens), and the 40 hex digits of the secret. */
		.regex = "(?<![A-Za-z0-9_])sgp_(?:(?:[0-9a-f]{16}|local)_)?"
			 "[0-9a-f]{40}(?![A-Za-z0-9_])",
		.prefilters = {"sgp_"},
		.min_entropy = 3.0,
		.validate = valid_random,
	},
	{
		.info = {.id = "linear-api-key",
			 .description = "Linear personal API key",
			 .severity = DW_SEV_HIGH},
		.regex = "(?<![A-Za-z0-9_-])lin_api_[A-Za-z0-9]{40}"
			 "(?![A-Za-z0-9_-])",
		.prefilters = {"lin_api_"},
		.min_entropy = 4.0,
		.validate = valid_random,
	},
	{
		.info = {.id = "postman-api-key",
			 .description = "Postman API key",
			 .severity = DW_SEV_HIGH},
		.regex = "(?<![A-Za-z0-9_-])PMAK-[0-9a-f]{24}-[0-9a-f]{34}"
			 "(?![A-Za-z0-9_-])",
		.prefilters = {"PMAK-"},
		.min_entropy = 3.5,
	},
	{
		.info = {.id = "new-relic-key",
			 .description = "New Relic user API key or license "
					"key",
			 .severity = DW_SEV_HIGH},
		/* User keys start NRAK-; license (ingest) keys are 40
		 * characters ending in NRAL. */
		.regex = "(?<![A-Za-z0-9_-])(?:NRAK-[A-Z0-9]{27}|"
			 "[0-9a-f]{36}NRAL)(?![A-Za-z0-9_-])",
		.prefilters = {"NRAK-", "[0-9a-f]{36}NRAL"},
		.min_entropy = 3.5,
		.validate = valid_random,
	},
	{
		.info = {.id = "databricks-token",
			 .description = "Databricks personal access token",
			 .severity = DW_SEV_HIGH},
		.regex = "(?<![A-Za-z0-9_-])dapi[0-9a-f]{32}(?:-[0-9]+)?"
			 "(?![A-Za-z0-9_])",
		.prefilters = {"dapi[0-9a-f]{32}"},
		.min_entropy = 3.2,
	},
	{
		.info = {.id = "rubygems-api-key",
			 .description = "RubyGems.org API key",
			 .severity = DW_SEV_HIGH},
		.regex = "(?<![A-Za-z0-9_-])rubygems_[0-9a-f]{48}"
			 "(?![A-Za-z0-9_-])",
		.prefilters = {"rubygems_"},
		.min_entropy = 3.5,
	},
	{
		.info = {.id = "discord-webhook",
			 .description = "Discord webhook URL",
			 .severity = DW_SEV_HIGH},
		.regex = "https://(?:ptb\\.|canary\\.)?discord(?:app)?\\.com/"
			 "api/webhooks/[0-9]{17,20}/([A-Za-z0-9_-]{60,80})"
			 "(?![A-Za-z0-9_-])",
		.secret_group = 1,
		.prefilters = {"/api/webhooks/"},
		.min_entropy = 4.0,
		.validate = valid_random,
	},
	{
		.info = {.id = "teams-webhook",
			 .description = "Microsoft Teams incoming webhook URL",
			 .severity = DW_SEV_HIGH},
		/* .../webhookb2/GROUP@TENANT/IncomingWebhook/ID/CONNECTOR */
		.regex = "https://[A-Za-z0-9-]+\\.webhook\\.office\\.com/"
			 "webhookb2/[0-9a-f-]{36}@[0-9a-f-]{36}/"
			 "IncomingWebhook/([0-9a-f]{32}/[0-9a-f-]{36})"
			 "(?:/[A-Za-z0-9_-]+)?",
		.secret_group = 1,
		.prefilters = {"/IncomingWebhook/"},
	},
	{
		.info = {.id = "google-oauth-client-secret",
			 .description = "Google OAuth client secret",
			 .severity = DW_SEV_HIGH},
		.regex = "(?<![A-Za-z0-9_-])GOCSPX-[A-Za-z0-9_-]{28}"
			 "(?![A-Za-z0-9_-])",
		.prefilters = {"GOCSPX-"},
		.min_entropy = 3.5,
		.validate = valid_random,
	},
	{
		.info = {.id = "google-oauth-access-token",
			 .description =
				 "Google OAuth access token (short-lived)",
			 .severity = DW_SEV_MEDIUM},
		.regex = "(?<![A-Za-z0-9_.-])ya29\\.[A-Za-z0-9_-]{60,2048}"
			 "(?![A-Za-z0-9_-])",
		.prefilters = {"ya29."},
		.min_entropy = 4.0,
		.validate = valid_random,
	},
	{
		.info = {.id = "azure-storage-account-key",
			 .description = "Azure storage account key (in a "
					"connection string)",
			 .severity = DW_SEV_CRITICAL},
		/* 64 bytes in base64: 86 characters and "==". */
		.regex = "AccountKey=([A-Za-z0-9+/]{86}==)",
		.secret_group = 1,
		.prefilters = {"AccountKey="},
		.min_entropy = 4.5,
		.validate = valid_random,
	},
	{
		.info = {.id = "1password-service-account-token",
			 .description = "1Password service account token",
			 .severity = DW_SEV_CRITICAL},
		/* "ops_" and base64 of a JSON object. */
		.regex = "(?<![A-Za-z0-9_-])ops_eyJ[A-Za-z0-9+/_=-]{100,4000}",
		.prefilters = {"ops_eyJ"},
		.min_entropy = 4.0,
		.validate = valid_random,
	},
	{
		.info = {.id = "mailchimp-api-key",
			 .description = "Mailchimp API key",
			 .severity = DW_SEV_HIGH},
		/* 32 hex digits, "-", the data center (us1, us21...). */
		.regex = "(?<![A-Za-z0-9_-])[0-9a-f]{32}-us[0-9]{1,2}"
			 "(?![A-Za-z0-9_-])",
		.prefilters = {"[0-9a-f]{32}-us[0-9]"},
		.min_entropy = 3.2,
	},
	{
		.info = {.id = "twilio-api-key",
			 .description = "Twilio API key SID",
			 .severity = DW_SEV_MEDIUM},
		.regex = "(?<![A-Za-z0-9_-])SK[0-9a-f]{32}(?![A-Za-z0-9_-])",
		.prefilters = {"SK[0-9a-f]{32}"},
		.min_entropy = 3.2,
	},
	{
		.info = {.id = "azure-devops-pat",
			 .description = "Azure DevOps personal access token",
			 .severity = DW_SEV_HIGH},
		/* The 84-character format: "AZDO" at characters 77 to 80. */
		.regex = "(?<![A-Za-z0-9])[A-Za-z0-9]{76}AZDO[A-Za-z0-9]{4}"
			 "(?![A-Za-z0-9])",
		.prefilters = {"[A-Za-z0-9]{76}AZDO"},
		.min_entropy = 4.0,
		.validate = valid_random,
	},
	{
		.info = {.id = "azure-shared-access-key",
			 .description =
				 "Azure Service Bus, Event Hubs or Relay "
				 "shared access key (in a connection "
				 "string)",
			 .severity = DW_SEV_CRITICAL},
		/* 32 bytes in base64: 43 characters and "=". */
		.regex = "SharedAccessKey=([A-Za-z0-9+/]{43}=)",
		.secret_group = 1,
		.prefilters = {"SharedAccessKey="},
		.min_entropy = 4.0,
		.validate = valid_random,
	},
	{
		.info = {.id = "grafana-cloud-token",
			 .description = "Grafana Cloud access policy token",
			 .severity = DW_SEV_HIGH},
		/* "glc_" and base64 of a JSON object. */
		.regex = "(?<![A-Za-z0-9_])glc_eyJ[A-Za-z0-9+/_=-]{60,1000}"
			 "(?![A-Za-z0-9+/_=-])",
		.prefilters = {"glc_eyJ"},
		.min_entropy = 4.0,
		.validate = valid_random,
	},
	{
		.info = {.id = "braintree-access-token",
			 .description = "PayPal Braintree access token",
			 .severity = DW_SEV_HIGH},
		.regex = "access_token\\$(?:production|sandbox)\\$[0-9a-z]{16}"
			 "\\$[0-9a-f]{32}(?![0-9a-f])",
		.prefilters = {"access_token$"},
		.min_entropy = 3.5,
	},
	{
		.info = {.id = "crates-io-token",
			 .description = "crates.io API token",
			 .severity = DW_SEV_HIGH},
		/* crates.io's SecureToken: "cio" and 32 random letters and
		 * digits (its source, src/util/token.rs). */
		.regex = "(?<![A-Za-z0-9_])cio[A-Za-z0-9]{32}(?![A-Za-z0-9_])",
		.prefilters = {"cio[A-Za-z0-9]{32}"},
		.min_entropy = 3.5,
		.validate = valid_random,
	},
	{
		.info = {.id = "nuget-api-key",
			 .description = "NuGet.org API key",
			 .severity = DW_SEV_HIGH},
		/*
		 * NuGetGallery's ApiKeyV4: lowercase base32 (RFC 4648) of
		 * an id of 12 bytes, "v4" and 10 random, in 20 characters,
		 * then of a password of 16 random bytes in 26. "v4" makes
		 * "oy2" and a letter a-p; the bits past each part's bytes
		 * are zero, so its last character is a or q (4 zero bits)
		 * and the key's one of a e i m q u y 4 (2 zero bits).
		 */
		.regex = "(?<![A-Za-z0-9_])oy2[a-p][a-z2-7]{15}[aq][a-z2-7]{25}"
			 "[aeimquy4](?![A-Za-z0-9_])",
		.prefilters = {"oy2[a-p][a-z2-7]{15}[aq]"},
		.min_entropy = 3.5,
		.validate = valid_random,
	},
	{
		.info = {.id = "heroku-api-key",
			 .description = "Heroku OAuth token (HRKU-)",
			 .severity = DW_SEV_HIGH},
		/* Heroku prefixes its OAuth tokens HRKU- (its OAuth article:
		 * the prefix and a UUID, as the unprefixed tokens were). */
		.regex = "(?<![A-Za-z0-9_-])HRKU-(?:[0-9a-f]{8}-[0-9a-f]{4}-"
			 "[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|[A-Za-z0-9_-]{"
			 "30,200})(?![A-Za-z0-9_-])",
		.prefilters = {"HRKU-"},
		.min_entropy = 3.2,
		.validate = valid_heroku,
	},
	{
		.info = {.id = "stripe-test-key",
			 .description = "Stripe test-mode secret or restricted "
					"key",
			 .severity = DW_SEV_LOW},
		/* Test mode moves no money but reads and writes the
		 * account's test data, webhooks and settings. */
		.regex = "(?<![A-Za-z0-9_])(?:sk|rk)_test_[A-Za-z0-9]{20,}(?!["
			 "A-Za-z0-9_])",
		.prefilters = {"sk_test_", "rk_test_"},
		.min_entropy = 3.0,
		.validate = valid_stripe_test,
	},
	{
		.info = {.id = "jfrog-reference-token",
			 .description = "JFrog Platform reference token",
			 .severity = DW_SEV_HIGH},
		/* "cmVmd" and 59 letters and digits, base64 of "reftkn:"
		 * and the rest (JFrog's "Understanding Identity Tokens"). */
		.regex = "(?<![A-Za-z0-9+/])cmVmdGtu[A-Za-z0-9]{56}(?![A-Za-z0-"
			 "9+/=])",
		.prefilters = {"cmVmdGtu"},
		.validate = valid_jfrog_reference,
	},
	{
		.info = {.id = "putty-private-key",
			 .description = "Unencrypted PuTTY private key (.ppk)",
			 .severity = DW_SEV_CRITICAL},
		/*
		 * PuTTY's manual, appendix C: "PuTTY-User-Key-File-2" or
		 * "-3", "Encryption: none" (aes256-cbc is a key under a
		 * passphrase, not reported), "Comment:", "Public-Lines: N"
		 * and N lines of base64, "Private-Lines: N" and the private
		 * key's lines, the secret; lines end in LF, CR LF or CR.
		 */
		.regex = "PuTTY-User-Key-File-[23]: [!-~]{1,64}+(?:\\r\\n?|\\n)"
			 "Encryption: none(?:\\r\\n?|\\n)"
			 "Comment: [^\\r\\n]{0,1024}+(?:\\r\\n?|\\n)"
			 "Public-Lines: [0-9]{1,4}+(?:\\r\\n?|\\n)"
			 "(?:[A-Za-z0-9+/=]{1,128}+(?:\\r\\n?|\\n)){1,256}+"
			 "Private-Lines: [0-9]{1,4}+(?:\\r\\n?|\\n)"
			 "([A-Za-z0-9+/=]{1,128}+(?=[\\r\\n]|$)(?:(?:\\r\\n?|"
			 "\\n)[A-Za-z0-9+/=]{1,128}+(?=[\\r\\n]|$)){0,255}+)",
		.secret_group = 1,
		.prefilters = {"PuTTY-User-Key-File-[23]: "},
		.multiline = DW_ML_SPAN,
		.validate = valid_ppk,
	},
	{
		.info = {.id = "telegram-bot-token",
			 .description = "Telegram bot token in a Bot API URL",
			 .severity = DW_SEV_HIGH},
		/* The Bot API's requests: https://api.telegram.org/bot
		 * TOKEN/METHOD (files: /file/bot TOKEN/PATH); a token is
		 * the bot's numeric id, a colon and its secret. */
		.regex = "api\\.telegram\\.org/(?:file/)?bot([0-9]{5,16}:[A-Za-"
			 "z0-9_-]{30,64})(?![A-Za-z0-9_-])",
		.secret_group = 1,
		.prefilters = {"api.telegram.org/bot",
			       "api.telegram.org/file/bot"},
		.min_entropy = 3.5,
		.validate = valid_telegram,
	},
	{
		.info = {.id = "docker-config-identity-token",
			 .description = "Registry identity or refresh token in "
					"a Docker config.json",
			 .severity = DW_SEV_HIGH},
		/* docker/cli's AuthConfig: "identitytoken" (a refresh token
		 * that docker login keeps for token-based registries) and
		 * "registrytoken" (a bearer token). */
		.regex = "\"(?:identitytoken|registrytoken)\"\\s*+:\\s*+\"([^"
			 "\"\\s"
			 "\\\\]{16,4096}+)\"",
		.secret_group = 1,
		.prefilters = {"\"identitytoken\"", "\"registrytoken\""},
		.min_entropy = 3.5,
		.validate = valid_random,
		.generic = 1,
	},
	{
		.info = {.id = "groq-api-key",
			 .description = "Groq API key",
			 .severity = DW_SEV_HIGH},
		/* GroqCloud's keys start gsk_ (its console and SDKs). */
		.regex = "(?<![A-Za-z0-9_])gsk_[A-Za-z0-9]{40,100}(?![A-Za-z0-"
			 "9_])",
		.prefilters = {"gsk_[A-Za-z0-9]{40}"},
		.min_entropy = 4.0,
		.validate = valid_random,
	},
	{
		.info = {.id = "xai-api-key",
			 .description = "xAI API key",
			 .severity = DW_SEV_HIGH},
		/* xAI's console makes keys that start xai-. */
		.regex = "(?<![A-Za-z0-9_-])xai-[A-Za-z0-9]{60,120}(?![A-Za-z0-"
			 "9_-])",
		.prefilters = {"xai-[A-Za-z0-9]{60}"},
		.min_entropy = 4.0,
		.validate = valid_random,
	},
	{
		.info = {.id = "openrouter-api-key",
			 .description = "OpenRouter API key",
			 .severity = DW_SEV_HIGH},
		/* OpenRouter's keys start sk-or-v1- (its quickstart). */
		.regex = "(?<![A-Za-z0-9_-])sk-or-v1-[A-Za-z0-9]{40,128}(?![A-"
			 "Za-z0-9_-])",
		.prefilters = {"sk-or-v1-"},
		.min_entropy = 3.5,
		.validate = valid_random,
	},
	{
		.info = {.id = "k3s-token",
			 .description = "K3s cluster join token",
			 .severity = DW_SEV_CRITICAL},
		/*
		 * K3s's secure token (docs.k3s.io, "k3s token"): "K10", the
		 * SHA-256 of the cluster's CA in hex, "::", and the
		 * credentials (user:password, or a bootstrap token), the
		 * secret. The server token is the cluster's admin.
		 */
		.regex =
			"(?<![A-Za-z0-9])K10[0-9a-f]{64}::([^\\s\"'`]{6,256}+)",
		.secret_group = 1,
		.prefilters = {"K10[0-9a-f]{64}::"},
		.min_entropy = 2.5,
		.validate = valid_random,
	},
	{
		.info = {.id = "kubeadm-bootstrap-token",
			 .description = "Kubernetes bootstrap token (kubeadm "
					"join)",
			 .severity = DW_SEV_HIGH},
		/*
		 * Kubernetes' bootstrap tokens: six letters or digits, ".",
		 * sixteen, named as a token on the line (kubeadm join
		 * --token, a kubeadm configuration's token:, K3S_TOKEN=).
		 */
		.regex = "(?i:token)[^\\n]{0,40}?(?<![a-z0-9])([a-z0-9]{6}\\.["
			 "a-z0-9]{16})(?![A-Za-z0-9._-])",
		.secret_group = 1,
		.prefilters = {"[a-z0-9]{6}\\.[a-z0-9]{16}"},
		.min_entropy = 3.0,
		.validate = valid_bootstrap_token,
	},
	{
		.info = {.id = "discord-bot-token",
			 .description = "Discord bot token",
			 .severity = DW_SEV_HIGH},
		/* Base64 of the bot's numeric id ('1'-'9' first: M, N or
		 * O), ".", six characters, ".", the HMAC. */
		.regex = "(?<![A-Za-z0-9_.-])[MNO][A-Za-z0-9_-]{22,26}\\.[A-Za-"
			 "z0-9_-]{6}\\.[A-Za-z0-9_-]{27,40}(?![A-Za-z0-9_.-])",
		.prefilters =
			{"[MNO][A-Za-z0-9_-]{22,26}\\.[A-Za-z0-9_-]{6}\\."},
		.min_entropy = 4.0,
		.validate = valid_discord_bot,
	},
	{
		.info = {.id = "okta-api-token",
			 .description = "Okta API token (SSWS)",
			 .severity = DW_SEV_HIGH},
		/* Okta's API takes its tokens as "Authorization: SSWS
		 * TOKEN". */
		.regex = "\\bSSWS\\s++([A-Za-z0-9_-]{40,44}+)(?![A-Za-z0-9_-])",
		.secret_group = 1,
		.prefilters = {"SSWS"},
		.min_entropy = 4.0,
		.validate = valid_random,
	},
	{
		.info = {.id = "datadog-key",
			 .description = "Datadog API or application key",
			 .severity = DW_SEV_HIGH},
		/*
		 * An API key is 32 hex digits, an application key 40, each
		 * unmarked: named DD-API-KEY / DD-APPLICATION-KEY (the
		 * API's headers), DD_API_KEY / DD_APP_KEY (the Agent's
		 * environment), datadog_api_key and the like.
		 */
		.regex = KEY_BY_NAME(
			"(?:dd|datadog)[_-]?(?:api|app|application)[_-]?key",
			"[0-9a-f]{40}|[0-9a-f]{32}"),
		.secret_group = 1,
		.prefilters = {"dd_ap", "dd-ap", "ddap", "datadog_ap",
			       "datadog-ap", "datadogap"},
		.caseless = 1,
		.min_entropy = 3.0,
		.validate = valid_random,
	},
	{
		.info = {.id = "twilio-auth-token",
			 .description = "Twilio auth token",
			 .severity = DW_SEV_HIGH},
		/* 32 hex digits, unmarked: by its name (TWILIO_AUTH_TOKEN,
		 * twilio.auth_token, twilioAuthToken). */
		.regex = KEY_BY_NAME("twilio[_.-]?auth[_-]?token",
				     "[0-9a-f]{32}"),
		.secret_group = 1,
		.prefilters = {"twilio_auth", "twilio-auth", "twilio.auth",
			       "twilioauth"},
		.caseless = 1,
		.min_entropy = 3.0,
		.validate = valid_random,
	},
	{
		.info = {.id = "cloudflare-api-key",
			 .description =
				 "Cloudflare API token or global API key",
			 .severity = DW_SEV_HIGH},
		/* An API token is 40 characters, the global API key 37 hex
		 * digits, each unmarked: by name (CLOUDFLARE_API_TOKEN and
		 * CLOUDFLARE_API_KEY, what wrangler and the Terraform
		 * provider read; CF_API_KEY and the like). */
		.regex = KEY_BY_NAME(
			"(?:cloudflare|cf)[_-]?api[_-]?(?:token|key)",
			"[A-Za-z0-9_-]{40}|[0-9a-f]{37}"),
		.secret_group = 1,
		.prefilters = {"cloudflare_api", "cloudflare-api",
			       "cloudflareapi", "cf_api", "cf-api", "cfapi"},
		.caseless = 1,
		.min_entropy = 3.0,
		.validate = valid_named_key,
	},
	{
		.info = {.id = "sidekiq-credentials",
			 .description = "Sidekiq Pro or Enterprise gem server "
					"credentials",
			 .severity = DW_SEV_HIGH},
		/* Bundler's setting for the gem server, as the environment
		 * (BUNDLE_ENTERPRISE__CONTRIBSYS__COM=user:password) or
		 * bundle config writes it: 8 hex digits each. */
		.regex = "(?i)\\bBUNDLE_(?:ENTERPRISE|GEMS)__CONTRIBSYS__COM["
			 "\"']"
			 "?\\s*+(?::|=)\\s*+[\"']?([0-9a-f]{8}:[0-9a-f]{8})(?!["
			 "0-9a-"
			 "z])",
		.secret_group = 1,
		.prefilters = {"__contribsys__com"},
		.caseless = 1,
		.validate = valid_random,
	},
	{
		.info = {.id = "wandb-api-key",
			 .description = "Weights & Biases API key",
			 .severity = DW_SEV_HIGH},
		/* 40 hex digits, unmarked: by its name (WANDB_API_KEY). */
		.regex = KEY_BY_NAME("wandb[_-]?api[_-]?key", "[0-9a-f]{40}"),
		.secret_group = 1,
		.prefilters = {"wandb_api", "wandb-api", "wandbapi"},
		.caseless = 1,
		.min_entropy = 3.0,
		.validate = valid_random,
	},
	{
		.info = {.id = "mailgun-api-key",
			 .description = "Mailgun API key",
			 .severity = DW_SEV_HIGH},
		/* "key-" and 32 characters, or 32 hex digits, "-", 8 and
		 * 8: by their name (MAILGUN_API_KEY, mailgun.apiKey). */
		.regex =
			KEY_BY_NAME("mailgun[_.-]?(?:private[_-]?)?api[_-]?key",
				    "key-[a-z0-9]{32}|[0-9a-f]{32}-[0-9a-f]{8}-"
				    "[0-9a-f]{8}"),
		.secret_group = 1,
		.prefilters = {"mailgun"},
		.caseless = 1,
		.min_entropy = 3.0,
		.validate = valid_random,
	},
	{
		.info = {.id = "twitch-client-secret",
			 .description = "Twitch application client secret",
			 .severity = DW_SEV_HIGH},
		/* 30 lowercase letters and digits, by their name
		 * (TWITCH_CLIENT_SECRET). */
		.regex = KEY_BY_NAME("twitch[_.-]?client[_-]?secret",
				     "[a-z0-9]{30}"),
		.secret_group = 1,
		.prefilters = {"twitch"},
		.caseless = 1,
		.min_entropy = 3.0,
		.validate = valid_random,
	},
	{
		.info = {.id = "pagerduty-api-key",
			 .description = "PagerDuty REST API key",
			 .severity = DW_SEV_HIGH},
		/* The REST API's header: "Authorization: Token
		 * token=KEY", a key of 20 characters. */
		.regex =
			"\\bToken token=([A-Za-z0-9_+-]{20})(?![A-Za-z0-9_+-])",
		.secret_group = 1,
		.prefilters = {"Token token="},
		.min_entropy = 3.5,
		.validate = valid_pagerduty,
	},
	{
		.info = {.id = "fastly-api-token",
			 .description = "Fastly API token",
			 .severity = DW_SEV_HIGH},
		/* Fastly's API takes its tokens in a Fastly-Key header. */
		.regex = "(?i:fastly-key)[\"']?\\s*+[:=]\\s*+[\"']?([A-Za-z0-9_"
			 "-]"
			 "{32})(?![A-Za-z0-9_-])",
		.secret_group = 1,
		.prefilters = {"fastly-key"},
		.caseless = 1,
		.min_entropy = 3.5,
		.validate = valid_random,
	},
	{
		.info = {.id = "azure-sas-token",
			 .description = "Azure shared access signature (SAS)",
			 .severity = DW_SEV_HIGH},
		/* Its signature, in a URL or a connection string's
		 * SharedAccessSignature=, beside sv= (valid_azure_sas). */
		.regex = "[?&;]sig=([A-Za-z0-9+/]{43}=)(?![A-Za-z0-9+/=])",
		.secret_group = 1,
		.prefilters = {"sig="},
		.validate = valid_azure_sas,
	},
	{
		.info = {.id = "aws-bedrock-api-key",
			 .description = "Amazon Bedrock long-term API key",
			 .severity = DW_SEV_HIGH},
		/* base64 of "BedrockAPIKey-" begins "QmVkcm9ja0FQSUtleS". */
		.regex = "(?<![A-Za-z0-9+/])ABSKQmVkcm9ja0FQSUtleS[A-Za-z0-9+/]"
			 "{60,900}={0,2}(?![A-Za-z0-9+/=])",
		.prefilters = {"ABSKQmVkcm9ja0FQSUtleS"},
		.validate = valid_bedrock_key,
	},
	{
		.info = {.id = "aws-bedrock-short-term-api-key",
			 .description = "Amazon Bedrock short-term API key (a "
					"presigned URL, valid up to 12 hours)",
			 .severity = DW_SEV_MEDIUM},
		/* base64 of "bedrock.amazonaws.com/?Action=...". */
		.regex =
			"(?<![A-Za-z0-9_-])bedrock-api-key-YmVkcm9jay5hbWF6b25h"
			"d3MuY29tLz9BY3Rpb249[A-Za-z0-9+/]{100,12000}={0,2}",
		.prefilters = {"bedrock-api-key-YmVkcm9jay5hbWF6b25hd3MuY29t"},
		.validate = valid_bedrock_short,
	},
	{
		.info = {.id = "alibaba-access-key-id",
			 .description = "Alibaba Cloud AccessKey ID",
			 .severity = DW_SEV_HIGH},
		.regex =
			"(?<![A-Za-z0-9])LTAI[A-Za-z0-9]{12,20}(?![A-Za-z0-9])",
		.prefilters = {"LTAI"},
		.min_entropy = 3.0,
		.validate = valid_random,
	},
	{
		.info = {.id = "tencent-cloud-secret-id",
			 .description = "Tencent Cloud API SecretId",
			 .severity = DW_SEV_HIGH},
		.regex =
			"(?<![A-Za-z0-9])AKID[A-Za-z0-9]{32}(?:[A-Za-z0-9]{4})?"
			"(?![A-Za-z0-9])",
		.prefilters = {"AKID"},
		.min_entropy = 3.5,
		.validate = valid_tencent,
	},
	{
		.info = {.id = "notion-token",
			 .description = "Notion integration token",
			 .severity = DW_SEV_HIGH},
		.regex = "(?<![A-Za-z0-9_])(?:ntn_[A-Za-z0-9]{40,60}|secret_["
			 "A-Za-z0-9]{43})(?![A-Za-z0-9_])",
		.prefilters = {"ntn_", "secret_"},
		.min_entropy = 3.5,
		.validate = valid_notion,
	},
	{
		.info = {.id = "supabase-secret-key",
			 .description = "Supabase secret API key or personal "
					"access token",
			 .severity = DW_SEV_HIGH},
		.regex = "(?<![A-Za-z0-9_])(?:sb_secret_[A-Za-z0-9_-]{20,80}|"
			 "sbp_[0-9a-f]{40})(?![A-Za-z0-9_-])",
		.prefilters = {"sb_secret_", "sbp_"},
		.min_entropy = 3.0,
		.validate = valid_random,
	},
	{
		.info = {.id = "planetscale-token",
			 .description =
				 "PlanetScale service token, OAuth token "
				 "or database password",
			 .severity = DW_SEV_HIGH},
		.regex =
			"(?<![A-Za-z0-9_])pscale_(?:tkn|oauth|pw)_[A-Za-z0-9_-]"
			"{32,64}(?![A-Za-z0-9_-])",
		.prefilters = {"pscale_tkn_", "pscale_oauth_", "pscale_pw_"},
		.min_entropy = 3.5,
		.validate = valid_random,
	},
	{
		.info = {.id = "flyio-token",
			 .description = "Fly.io access token (macaroon)",
			 .severity = DW_SEV_HIGH},
		.regex = "(?<![A-Za-z0-9_+/])fm2_[A-Za-z0-9+/]{40,4000}={0,2}",
		.prefilters = {"fm2_"},
		.validate = valid_flyio,
	},
	{
		.info = {.id = "azure-app-configuration-secret",
			 .description =
				 "Azure App Configuration access key (in "
				 "a connection string)",
			 .severity = DW_SEV_HIGH},
		/* Endpoint=https://STORE.azconfig.io;Id=ID;Secret=SECRET */
		.regex =
			"\\.azconfig\\.io/?;Id=[^;\\s]{1,64};Secret=([A-Za-z0-9"
			"+/]{40,88}={0,2})(?![A-Za-z0-9+/=])",
		.secret_group = 1,
		.prefilters = {".azconfig.io"},
		.min_entropy = 3.5,
		.validate = valid_random,
	},
	{
		.info = {.id = "harness-token",
			 .description = "Harness personal access or service "
					"account token",
			 .severity = DW_SEV_HIGH},
		/* pat.ACCOUNT.TOKEN_ID.SECRET (sat. for a service account) */
		.regex =
			"(?<![A-Za-z0-9_.-])(?:pat|sat)\\.[A-Za-z0-9_-]{22}\\.["
			"0-9a-f]{24}\\.[A-Za-z0-9]{20}(?![A-Za-z0-9_.-])",
		.prefilters = {"pat.", "sat."},
		.min_entropy = 3.0,
		.validate = valid_random,
	},
	{
		.info = {.id = "aws-session-token",
			 .description = "AWS temporary session token (STS)",
			 .severity = DW_SEV_MEDIUM},
		/* base64 of what STS issues: "\\x01\\n\\x03aws...",
		 * "\\x17\\n\\x06\\x65r/aws...", "!\\n\\torigin_ec..." */
		.regex = "(?<![A-Za-z0-9+/"
			 "])(?:AQoDYXdzE|FwoGZXIvYXdzE|IQoJb3JpZ2l"
			 "uX2Vj)[A-Za-z0-9+/]{100,10000}={0,2}(?![A-Za-z0-9+/"
			 "=])",
		.prefilters = {"AQoDYXdzE", "FwoGZXIvYXdzE",
			       "IQoJb3JpZ2luX2Vj"},
		.min_entropy = 4.0,
		.validate = valid_random,
	},
	{
		.info = {.id = "npmrc-credentials",
			 .description = "Registry credentials in an .npmrc "
					"(_authToken, _auth, _password)",
			 .severity = DW_SEV_HIGH},
		/* Not a token that a format's rule finds (npm_, ghp_):
		 * that rule's finding alone. Also the environment's
		 * NPM_CONFIG__AUTH and the like. */
		.regex = "(?<![A-Za-z0-9_.])(?:(?i:npm_config__(?:authtoken|"
			 "auth|"
			 "password))|_(?:authToken|auth|password))\\s*=\\s*[\"'"
			 "]?("
			 "[^\\s\"'#;\\\\]{8,2048}+)",
		.secret_group = 1,
		.prefilters = {"_authToken", "_auth", "_password",
			       "(?i)npm_config__"},
		.validate = valid_npmrc,
	},
	{
		.info = {.id = "base64-private-key",
			 .description = "Private key in base64 (kubeconfig "
					"client-key-data, Kubernetes secrets)",
			 .severity = DW_SEV_CRITICAL},
		/* A PEM file in base64 starts with "-----BEGIN". */
		.regex = "(?<![A-Za-z0-9+/])LS0tLS1CRUdJTi[A-Za-z0-9+/]{80,}"
			 "={0,2}",
		.prefilters = {"LS0tLS1CRUdJTi"},
		.validate = valid_b64_pem,
	},
	{
		.info = {.id = "kubernetes-service-account-token",
			 .description = "Kubernetes service account token",
			 .severity = DW_SEV_CRITICAL},
		/* A JWT the API server signed (valid_k8s_sa_token); the jwt
		 * rule leaves them to this one. */
		.regex = "(?<![A-Za-z0-9_-])eyJ[A-Za-z0-9_-]{8,}\\.eyJ[A-Za-z0-"
			 "9_-]{8,}"
			 "\\.[A-Za-z0-9_-]{16,}",
		.prefilters = {"eyJ[A-Za-z0-9_-]"},
		.validate = valid_k8s_sa_token,
	},
	{
		.info = {.id = "jwt",
			 .description = "JSON Web Token",
			 .severity = DW_SEV_MEDIUM},
		.regex = "(?<![A-Za-z0-9_-])eyJ[A-Za-z0-9_-]{8,}\\.eyJ[A-Za-z0-"
			 "9_-]{8,}"
			 "\\.[A-Za-z0-9_-]{16,}",
		.prefilters = {"eyJ[A-Za-z0-9_-]"},
		.validate = valid_other_jwt,
	},
	{
		.info = {.id = "url-credentials",
			 .description = "Password in a URL",
			 .severity = DW_SEV_HIGH},
		.regex = "(?<![A-Za-z0-9+.-])[A-Za-z][A-Za-z0-9+.-]{1,20}://"
			 "[^\\s:/@\"'<>]{0,128}:([^\\s/"
			 "@\"'<>]{3,256})@[A-Za-z0-9._-]+",
		.secret_group = 1,
		.prefilters = {"://[^\\s:/@]*:[^\\s/@]+@"},
		.validate = valid_url_credentials,
	},
	{
		.info = {.id = "generic-assignment",
			 .description =
				 "Secret-looking unquoted value assigned "
				 "to a secret-looking name (.env, shell, "
				 "YAML, INI, properties, Dockerfile)",
			 .severity = DW_SEV_MEDIUM},
		/* The whole line: NAME=VALUE, NAME: VALUE, export/ENV/ARG
		 * NAME=VALUE, "- NAME=VALUE" (compose), a Dockerfile's
		 * older ENV NAME VALUE, a comment after. */
		.regex = "(?i)^\\s*(?|(?:(?:export|set|env|arg|readonly|local|"
			 "declare(?:\\s+-[a-z]+)?)\\s+|-\\s+)?" GA_NAME
			 "\\s*(?::=|=|:)\\s*" GA_VALUE "|env\\s+" GA_NAME
			 "\\s+" GA_VALUE ")(?:\\s+#.*)?\\s*$",
		.secret_group = 1,
		.prefilters = {"passw", "passphrase", "secret", "token",
			       "api_key", "apikey", "api-key", "access_key",
			       "accesskey", "private_key", "auth_key",
			       "app_key", "master_key", "encryption_key",
			       "signing_key", "(?:pass|pwd)\\s*(?::=|=|:)"},
		.caseless = 1,
		.min_entropy = 3.0,
		.validate = valid_assignment,
		.generic = 1,
	},
	{
		.info = {.id = "http-basic-auth",
			 .description = "HTTP Basic credentials in an "
					"Authorization header",
			 .severity = DW_SEV_HIGH},
		.regex = "(?i)\\bauthorization\\s*:\\s*basic\\s+([a-z0-9+/]"
			 "{8,512}={0,2})(?![a-z0-9+/=])",
		.secret_group = 1,
		.prefilters = {"authorization"},
		.caseless = 1,
		.validate = valid_basic_auth,
	},
	{
		.info = {.id = "http-bearer-token",
			 .description = "Bearer token in an Authorization "
					"header",
			 .severity = DW_SEV_MEDIUM},
		.regex = "(?i)\\bauthorization\\s*:\\s*bearer\\s+([a-z0-9._~+/"
			 "-]{20,1024}=*)(?![a-z0-9._~+/=-])",
		.secret_group = 1,
		.prefilters = {"authorization"},
		.caseless = 1,
		.min_entropy = 3.5,
		.validate = valid_bearer,
		.generic = 1,
	},
	{
		.info = {.id = "connection-string-password",
			 .description = "Password in a database connection "
					"string (ADO.NET, ODBC, JDBC)",
			 .severity = DW_SEV_HIGH},
		.regex = "(?i)(?:^|[;\\s\"'?&])(?:password|pwd)\\s*=\\s*([^;\"'"
			 "\\s&(),]{6,128})(?=\\s*(?:[;\"'&]|$))",
		.secret_group = 1,
		.prefilters = {"password=", "pwd=", "password =", "pwd ="},
		.caseless = 1,
		.validate = valid_conn_password,
		.could_match = conn_could_match,
		.generic = 1,
	},
	{
		.info = {.id = "curl-user-password",
			 .description = "Password given to curl -u/--user",
			 .severity = DW_SEV_HIGH},
		.regex =
			"(?<![A-Za-z0-9-])(?:-u|--user)[\\s=]+['\"]?[^\\s:'\"$]"
			"{1,64}:([^\\s'\"@]{6,128})['\"]?(?:\\s|$)",
		.secret_group = 1,
		.prefilters = {"-u ", "--user"},
		.validate = valid_curl_user,
		.could_match = curl_could_match,
		.generic = 1,
	},
	{
		.info = {.id = "sql-password",
			 .description = "Password in SQL (IDENTIFIED BY, "
					"PASSWORD '...')",
			 .severity = DW_SEV_HIGH},
		.regex = "(?i)\\b(?:identified\\s+by|password)\\s+'([^'\\s]{6,"
			 "128})'",
		.secret_group = 1,
		.prefilters = {"identified by", "password '"},
		.caseless = 1,
		.validate = valid_password_word,
		.could_match = sql_could_match,
		.generic = 1,
	},
	{
		.info = {.id = "pgpass-password",
			 .description = "Password in a PostgreSQL password "
					"file (.pgpass)",
			 .severity = DW_SEV_HIGH},
		/*
		 * PostgreSQL's libpq manual, "The Password File": lines of
		 * hostname:port:database:username:password, each of the
		 * first four a literal or "*", ":" and "\\" escaped with
		 * "\\"; "#" starts a comment line. libpq's password ends at
		 * the first ":" not escaped (a "\\" last on the line is
		 * itself), whatever its length (an RDS IAM token is about
		 * 1 KB). The file is .pgpass
		 * (pgpass.conf on Windows): five colon fields are a
		 * credential only there, so only there is it read.
		 */
		.regex = "^(?!#)(?:[^:\\\\\r\n]|\\\\.)++:(?:[0-9]{1,5}|\\*):"
			 "(?:[^:\\\\\r\n]|\\\\.)*+:(?:[^:\\\\\r\n]|\\\\.)++:"
			 "((?:[^:\\\\\r\n]|\\\\[^\r\n]|\r(?!$))++\\\\?)",
		.secret_group = 1,
		/* :port: (a port, or "*"; the host may end in an escaped
		 * ":", an IPv6 address's "::") */
		.prefilters = {":([0-9]{1,5}|\\*):"},
		.validate = valid_pgpass,
		.generic = 1,
		.file_names = {".pgpass", "pgpass.conf"},
	},
	{
		.info = {.id = "netrc-password",
			 .description = "Password in a .netrc entry",
			 .severity = DW_SEV_HIGH},
		/*
		 * netrc(5): "machine HOST" (or "default"), then "login
		 * USER", "account" maybe, "password PASSWORD", tokens
		 * apart by blanks or newlines: on one line or one a line
		 * (curl's own example). curl 7.84 and later (and Python's
		 * netrc) take a token in double quotes with \\-escapes,
		 * the only way to write a blank in a password.
		 */
		.regex = "(?i)\\b(?:machine\\s++" NETRC_TOKEN "|default)"
			 "\\s++login\\s++" NETRC_TOKEN
			 "(?:\\s++account\\s++" NETRC_TOKEN ")?"
			 "\\s++password\\s++"
			 "(?|\"((?:[^\"\\\\\\r\\n]|\\\\.){6,128}+)\"|"
			 "([^\\s\"'`]{6,128}+))(?![^\\s])",
		.secret_group = 1,
		.prefilters = {"machine", "default[ \\t]+login"},
		.caseless = 1,
		.multiline = DW_ML_SPAN,
		.validate = valid_password_word,
		.generic = 1,
	},
	{
		.info = {.id = "generic-secret",
			 .description = "Secret-looking value assigned to a "
					"secret-looking name",
			 .severity = DW_SEV_MEDIUM},
		.regex = "(?i)(?<![A-Za-z0-9])[a-z0-9_.-]{0,20}(?:secret|"
			 "passwd|password|"
			 "api[_-]?key|access[_-]?token|auth[_-]?token|private[_"
			 "-]?key)"
			 "[a-z0-9_]{0,10}[\"']?\\s*(?::=|=>|=|:)\\s*[\"']([^\"'"
			 "\\s]{12,128})"
			 "[\"']",
		.secret_group = 1,
		.prefilters = {"secret", "passwd", "password", "api_key",
			       "apikey", "api-key", "access_token",
			       "accesstoken", "access-token", "auth_token",
			       "authtoken", "auth-token", "private_key",
			       "privatekey"},
		.caseless = 1,
		.min_entropy = 3.5,
		.validate = valid_generic_secret,
		.generic = 1,
	},
};

const size_t dw_builtin_rule_count =
	sizeof(dw_builtin_rules) / sizeof(dw_builtin_rules[0]);
