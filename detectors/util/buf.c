#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "driftwatch/buf.h"
#include "driftwatch/error.h"
#include "driftwatch/xmalloc.h"
#include "driftwatch/banned.h"

/* Shared empty string, so an untouched buffer is still a valid C string. */
static char empty_buf[1];

void dw_buf_init(struct dw_buf *b, size_t max)
{
	b->ptr = empty_buf;
	b->len = 0;
	b->alloc = 0;
	b->max = max;
}

void dw_buf_release(struct dw_buf *b)
{
	if (b->alloc)
		free(b->ptr);
	dw_buf_init(b, b->max);
}

char *dw_buf_detach(struct dw_buf *b, size_t *len)
{
	char *s;

	if (!b->alloc) {
		s = dw_xstrdup("");
	} else {
		s = b->ptr;
	}
	if (len)
		*len = b->len;
	dw_buf_init(b, b->max);
	return s;
}

int dw_buf_grow(struct dw_buf *b, size_t extra)
{
	size_t want;

	if (!b->ptr)
		dw_buf_init(b, b->max);
	if (extra > SIZE_MAX - b->len - 1 ||
	    (b->max && b->len + extra > b->max))
		return dw_error_set(DW_ELIMIT,
				    "buffer limit of %zu bytes exceeded",
				    b->max);
	want = b->len + extra + 1;
	if (want <= b->alloc)
		return 0;
	if (want < b->alloc * 2)
		want = b->alloc * 2;
	if (want < 64)
		want = 64;
	if (!b->alloc) {
		b->ptr = dw_xmalloc(want);
		b->ptr[0] = '\0';
	} else {
		b->ptr = dw_xrealloc(b->ptr, want);
	}
	b->alloc = want;
	return 0;
}

int dw_buf_add(struct dw_buf *b, const void *data, size_t len)
{
	int err = dw_buf_grow(b, len);

	if (err || !len)
		return err;
	memcpy(b->ptr + b->len, data, len);
	b->len += len;
	b->ptr[b->len] = '\0';
	return 0;
}

int dw_buf_adds(struct dw_buf *b, const char *s)
{
	return dw_buf_add(b, s, strlen(s));
}

int dw_buf_addch(struct dw_buf *b, int c)
{
	char ch = (char)c;

	return dw_buf_add(b, &ch, 1);
}

int dw_buf_vaddf(struct dw_buf *b, const char *fmt, va_list ap)
{
	va_list cp;
	int n;
	int err;

	va_copy(cp, ap);
	n = vsnprintf(NULL, 0, fmt, cp);
	va_end(cp);
	if (n < 0)
		return dw_error_set(DW_EINVAL, "bad format string");
	err = dw_buf_grow(b, (size_t)n);
	if (err)
		return err;
	vsnprintf(b->ptr + b->len, (size_t)n + 1, fmt, ap);
	b->len += (size_t)n;
	return 0;
}

int dw_buf_addf(struct dw_buf *b, const char *fmt, ...)
{
	va_list ap;
	int err;

	va_start(ap, fmt);
	err = dw_buf_vaddf(b, fmt, ap);
	va_end(ap);
	return err;
}

int dw_buf_read_fd(struct dw_buf *b, int fd)
{
	for (;;) {
		ssize_t n;
		int err = dw_buf_grow(b, 65536);

		if (err && b->max && b->len < b->max)
			err = dw_buf_grow(b, b->max - b->len);
		if (err)
			return err;
		n = read(fd, b->ptr + b->len, b->alloc - b->len - 1);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return dw_error_errno(DW_EIO, errno, "read");
		if (n == 0)
			return 0;
		b->len += (size_t)n;
		b->ptr[b->len] = '\0';
	}
}

void dw_buf_setlen(struct dw_buf *b, size_t len)
{
	if (!b->alloc)
		return;
	if (len > b->len)
		len = b->len;
	b->len = len;
	b->ptr[len] = '\0';
}

int dw_write_all(int fd, const void *p, size_t n)
{
	const char *c = p;
	size_t off = 0;

	while (off < n) {
		ssize_t w = write(fd, c + off, n - off);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			if (!w)
				errno = EIO;
			return -1;
		}
		off += (size_t)w;
	}
	return 0;
}
