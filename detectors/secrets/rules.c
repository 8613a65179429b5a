/*
 * The built-in rules: regexes, prefilters and validators. A validator
 * rejects look-alikes using what the format guarantees (lengths, value
 * ranges, checksums, decodable parts); it never touches the network.
 */
#include <ctype.h>
#include <jansson.h>
#include <math.h>
#include <string.h>
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

int dw_is_placeholder(const char *s, size_t n)
{
	static const char *const words[] = {
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
	};
	/*
	 * One pass: a word is compared only where its first character is
	 * (lowercased), so a candidate costs a few steps a byte however long
	 * (a run a rule's {20,} takes whole), and a short one (a key id
	 * among thousands on a line) no call per word (memmem for each word
	 * was a quarter of the time on such lines).
	 */
	/* The words' first characters: from words[] itself, so that a word
	 * added is never skipped (a few steps a call). */
	unsigned char first[256] = {0};
	size_t i, k, same = 1;

	for (k = 0; k < sizeof(words) / sizeof(words[0]); k++)
		first[(unsigned char)words[k][0]] = 1;
	for (i = 0; i < n; i++) {
		int c = tolower((unsigned char)s[i]);

		if (!first[c])
			continue;
		for (k = 0; k < sizeof(words) / sizeof(words[0]); k++) {
			size_t wl, j;

			if (words[k][0] != c)
				continue;
			wl = strlen(words[k]);
			if (wl > n - i)
				continue;
			for (j = 1; j < wl; j++)
				if (tolower((unsigned char)s[i + j]) !=
				    words[k][j])
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

static int valid_config_auth(const char *s, size_t n, const char *m,
			     size_t mlen, const char *line, size_t llen)
{
	unsigned char raw[800];
	int len = b64decode(raw, sizeof(raw), s, n), i;
	const unsigned char *colon;

	(void)m, (void)mlen, (void)line, (void)llen;
	if (len < 3)
		return 0;
	for (i = 0; i < len; i++)
		if (raw[i] < 0x20 || raw[i] == 0x7f)
			return 0;
	colon = memchr(raw, ':', (size_t)len);
	return colon && colon > raw && colon < raw + len - 1;
}

/* Body of a PEM block: enough base64 once headers and escapes are gone. */
static size_t pem_body_chars(const char *m, size_t mlen, int *has_role)
{
	const char *p = memchr(m, '\n', mlen), *end = m + mlen;
	size_t count = 0;
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
		if (isalnum((unsigned char)*p) || *p == '+' || *p == '/')
			count++;
	}
	return count;
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

static int valid_jwt(const char *s, size_t n, const char *m, size_t mlen,
		     const char *line, size_t llen)
{
	const char *dot = memchr(s, '.', n);
	char tmp[800];
	unsigned char raw[800];
	size_t k, i;
	int len, ok;
	json_t *hdr;

	(void)m, (void)mlen, (void)line, (void)llen;
	k = dot ? (size_t)(dot - s) : 0;
	if (!k || k >= sizeof(tmp) - 4)
		return 0;
	for (i = 0; i < k; i++) /* base64url to base64 */
		tmp[i] = s[i] == '-' ? '+' : s[i] == '_' ? '/' : s[i];
	len = b64decode(raw, sizeof(raw), tmp, k);
	if (len <= 0)
		return 0;
	hdr = json_loadb((const char *)raw, (size_t)len, 0, NULL);
	ok = json_is_object(hdr) && json_object_get(hdr, "alg");
	json_decref(hdr);
	return ok;
}

static int valid_url_credentials(const char *s, size_t n, const char *m,
				 size_t mlen, const char *line, size_t llen)
{
	static const char *const fake[] = {"password", "passwd", "pass",
					   "secret",   "pwd",	 "user"};
	size_t i;

	(void)m, (void)mlen, (void)line, (void)llen;
	if (s[0] == '$' || s[0] == '%')
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

static int valid_not_placeholder(const char *s, size_t n, const char *m,
				 size_t mlen, const char *line, size_t llen)
{
	(void)m, (void)mlen, (void)line, (void)llen;
	return !dw_is_placeholder(s, n);
}

/*
 * The BEGIN line of a PEM private key, group 1 its label; the scanner
 * finds the END line (multiline rules: the first "-----END " after it,
 * which must carry the same label) without a regex, in linear time. The
 * possessive ++ never backtracks into a run of letters.
 */
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
		.validate = valid_not_placeholder,
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
		.multiline = 1,
		.validate = valid_notary_key,
	},
	{
		.info = {.id = "private-key",
			 .description = "Private key",
			 .severity = DW_SEV_CRITICAL},
		.regex = PEM_RE,
		.prefilters = {"-----BEGIN [A-Z0-9 ]*PRIVATE KEY"},
		.multiline = 1,
		.validate = valid_private_key,
	},
	{
		.info = {.id = "aws-access-key-id",
			 .description = "AWS access key id",
			 .severity = DW_SEV_HIGH},
		.regex = "(?<![A-Z0-9])(?:AKIA|ASIA|ABIA|ACCA)[A-Z2-7]{16}(?!["
			 "A-Z0-9])",
		.prefilters = {"AKIA", "ASIA", "ABIA", "ACCA"},
		.validate = valid_not_placeholder,
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
			       "secretaccesskey", "secret-access-key",
			       "(?:AKIA|ASIA)[A-Z2-7]{16}"},
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
		.regex = "(?<![A-Za-z0-9_-])(?:glpat|gldt|glrt|glptt|glcbt|"
			 "gloas|glft|"
			 "glsoat)-[A-Za-z0-9_-]{20,}",
		.prefilters = {"glpat-", "gldt-", "glrt-", "glptt-", "glcbt-",
			       "gloas-", "glft-", "glsoat-"},
		.validate = valid_not_placeholder,
	},
	{
		.info = {.id = "slack-token",
			 .description = "Slack token",
			 .severity = DW_SEV_HIGH},
		.regex = "(?<![A-Za-z0-9-])xox[abposr]-[0-9A-Za-z]{1,}-[0-9A-"
			 "Za-z-]{8,}",
		.prefilters = {"xox[abposr]-"},
		.validate = valid_not_placeholder,
	},
	{
		.info = {.id = "slack-webhook",
			 .description = "Slack incoming webhook",
			 .severity = DW_SEV_MEDIUM},
		.regex = "https://hooks\\.slack\\.com/"
			 "(?:services|workflows|triggers)/"
			 "[A-Za-z0-9_]{8,}/[A-Za-z0-9_]{8,}/[A-Za-z0-9_]{16,}",
		.prefilters = {"hooks.slack.com/"},
		.validate = valid_not_placeholder,
	},
	{
		.info = {.id = "stripe-secret-key",
			 .description = "Stripe live secret key",
			 .severity = DW_SEV_HIGH},
		.regex = "(?<![A-Za-z0-9_])(?:sk|rk)_live_[A-Za-z0-9]{20,}(?!["
			 "A-Za-z0-9_])",
		.prefilters = {"sk_live_", "rk_live_"},
		.validate = valid_not_placeholder,
	},
	{
		.info = {.id = "google-api-key",
			 .description = "Google API key",
			 .severity = DW_SEV_HIGH},
		.regex = "(?<![A-Za-z0-9_-])AIza[0-9A-Za-z_-]{35}(?![0-9A-Za-z_"
			 "-])",
		.prefilters = {"AIza"},
		.validate = valid_not_placeholder,
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
		.info = {.id = "jwt",
			 .description = "JSON Web Token",
			 .severity = DW_SEV_MEDIUM},
		.regex = "(?<![A-Za-z0-9_-])eyJ[A-Za-z0-9_-]{8,}\\.eyJ[A-Za-z0-"
			 "9_-]{8,}"
			 "\\.[A-Za-z0-9_-]{16,}",
		.prefilters = {"eyJ[A-Za-z0-9_-]+\\.eyJ"},
		.validate = valid_jwt,
	},
	{
		.info = {.id = "url-credentials",
			 .description = "Password in a URL",
			 .severity = DW_SEV_HIGH},
		.regex = "(?<![A-Za-z0-9+.-])[A-Za-z][A-Za-z0-9+.-]{1,20}://"
			 "[^\\s:/@\"'<>]{1,128}:([^\\s/"
			 "@\"'<>]{3,256})@[A-Za-z0-9._-]+",
		.secret_group = 1,
		.prefilters = {"://[^\\s:/@]+:[^\\s/@]+@"},
		.validate = valid_url_credentials,
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
		.validate = valid_mixed,
	},
};

const size_t dw_builtin_rule_count =
	sizeof(dw_builtin_rules) / sizeof(dw_builtin_rules[0]);
