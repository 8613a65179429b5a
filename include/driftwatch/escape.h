#ifndef DW_ESCAPE_H
#define DW_ESCAPE_H

#include <stddef.h>

#include "driftwatch/buf.h"

/*
 * Append `s` (len bytes) to `out` so that it stays on one line and every
 * byte can be recovered: printable ASCII and valid, printable UTF-8 pass
 * through; a backslash becomes "\\"; \n, \t, \r become "\n", "\t", "\r";
 * any other control byte, DEL, C1 control or byte of invalid UTF-8 becomes
 * "\xHH", and so does each byte of a character that moves or reorders
 * text in a viewer (U+2028/9, bidi controls U+202A-E and U+2066-9,
 * U+200E/F, U+061C). Returns 0 or DW_ELIMIT (the buffer's maximum).
 */
int dw_escape_path(struct dw_buf *out, const char *s, size_t len);

/* Non-zero when s[0..len) is valid UTF-8 (no overlongs, no surrogates). */
int dw_utf8_valid(const char *s, size_t len);

/*
 * Append `s` to `out` with every byte that is not part of valid UTF-8
 * replaced by U+FFFD (one per byte, as Go's encoder does).
 */
int dw_utf8_sanitize(struct dw_buf *out, const char *s, size_t len);

/* Write `n` bytes as lowercase hex into dst (2n + 1 bytes, NUL-ended). */
void dw_hex(char *dst, const unsigned char *src, size_t n);

/* Length of the valid UTF-8 sequence at s (1..4), or 0 if invalid. */
size_t dw_utf8_seq_len(const unsigned char *s, size_t avail);

/*
 * A webhook URL as it may be logged: scheme, host and port only ("…" for
 * the rest). Its path and query are the secret (Slack's
 * /services/T…/B…/…), and so are credentials before an '@'.
 */
void dw_url_origin(char *out, size_t size, const char *url);

#endif
