#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "driftwatch/escape.h"
#include "driftwatch/banned.h"

size_t dw_utf8_seq_len(const unsigned char *s, size_t avail)
{
	unsigned char c = s[0];
	size_t n, i;
	uint32_t cp;

	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf) {
		n = 2;
		cp = c & 0x1f;
	} else if (c >= 0xe0 && c <= 0xef) {
		n = 3;
		cp = c & 0x0f;
	} else if (c >= 0xf0 && c <= 0xf4) {
		n = 4;
		cp = c & 0x07;
	} else {
		return 0;
	}
	if (avail < n)
		return 0;
	for (i = 1; i < n; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (s[i] & 0x3f);
	}
	/* Overlong forms, surrogates and values past U+10FFFF. */
	if ((n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000) ||
	    (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff)
		return 0;
	return n;
}

void dw_hex(char *dst, const unsigned char *src, size_t n)
{
	static const char digits[] = "0123456789abcdef";
	size_t i;

	for (i = 0; i < n; i++) {
		dst[2 * i] = digits[src[i] >> 4];
		dst[2 * i + 1] = digits[src[i] & 15];
	}
	dst[2 * n] = '\0';
}

int dw_utf8_valid(const char *s, size_t len)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t i = 0, n;

	while (i < len) {
		n = dw_utf8_seq_len(p + i, len - i);
		if (!n)
			return 0;
		i += n;
	}
	return 1;
}

/* C1 controls (U+0080..U+009F) are two bytes: 0xc2 0x80..0x9f. */
static int is_c1(const unsigned char *p, size_t n)
{
	return n == 2 && p[0] == 0xc2 && p[1] < 0xa0;
}

/*
 * Characters that move or reorder text in a viewer: the line and
 * paragraph separators U+2028/9, the bidi embeddings, overrides and
 * isolates U+202A-E and U+2066-9, the marks U+200E/F and U+061C. A name
 * with U+202E can show a log line other than the one written.
 */
static int is_layout_control(const unsigned char *p, size_t n)
{
	if (n == 2)
		return p[0] == 0xd8 && p[1] == 0x9c;
	if (n != 3 || p[0] != 0xe2)
		return 0;
	return (p[1] == 0x80 && ((p[2] >= 0xa8 && p[2] <= 0xae) ||
				 p[2] == 0x8e || p[2] == 0x8f)) ||
	       (p[1] == 0x81 && p[2] >= 0xa6 && p[2] <= 0xa9);
}

int dw_escape_path(struct dw_buf *out, const char *s, size_t len)
{
	static const char hex[] = "0123456789abcdef";
	const unsigned char *p = (const unsigned char *)s;
	size_t i = 0, start = 0, n;
	char esc[4] = {'\\', 'x', 0, 0};
	int err;

	while (i < len) {
		unsigned char c = p[i];

		if (c >= 0x20 && c < 0x7f && c != '\\') {
			i++;
			continue;
		}
		n = c >= 0x80 ? dw_utf8_seq_len(p + i, len - i) : 0;
		if (n && !is_c1(p + i, n) && !is_layout_control(p + i, n)) {
			i += n;
			continue;
		}
		err = dw_buf_add(out, s + start, i - start);
		if (err)
			return err;
		if (c == '\\' || c == '\n' || c == '\t' || c == '\r') {
			esc[1] = c == '\\'   ? '\\'
				 : c == '\n' ? 'n'
				 : c == '\t' ? 't'
					     : 'r';
			err = dw_buf_add(out, esc, 2);
			esc[1] = 'x';
		} else {
			esc[2] = hex[c >> 4];
			esc[3] = hex[c & 15];
			err = dw_buf_add(out, esc, 4);
		}
		if (err)
			return err;
		i++;
		start = i;
	}
	return dw_buf_add(out, s + start, i - start);
}

int dw_utf8_sanitize(struct dw_buf *out, const char *s, size_t len)
{
	static const char repl[] = "\xef\xbf\xbd";
	const unsigned char *p = (const unsigned char *)s;
	size_t i = 0, start = 0, n;
	int err;

	while (i < len) {
		n = dw_utf8_seq_len(p + i, len - i);
		if (n) {
			i += n;
			continue;
		}
		err = dw_buf_add(out, s + start, i - start);
		if (!err)
			err = dw_buf_add(out, repl, 3);
		if (err)
			return err;
		i++;
		start = i;
	}
	return dw_buf_add(out, s + start, i - start);
}

/*
 * A webhook URL as it may be logged: scheme, host and port only. Its
 * path and query are the secret (Slack's /services/T…/B…/…), and so
 * are credentials before an '@'.
 */
void dw_url_origin(char *out, size_t size, const char *url)
{
	const char *host = strstr(url, "://"), *end, *at;

	if (!host) {
		snprintf(out, size, "(a webhook)");
		return;
	}
	host += 3;
	end = host + strcspn(host, "/?#");
	at = memchr(host, '@', (size_t)(end - host));
	while (at && memchr(at + 1, '@', (size_t)(end - at - 1)))
		at = memchr(at + 1, '@', (size_t)(end - at - 1));
	if (at)
		host = at + 1;
	snprintf(out, size, "%.*s%.*s/…", (int)(strstr(url, "://") - url + 3),
		 url, (int)(end - host), host);
}
