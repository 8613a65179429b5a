#ifndef DW_BUF_H
#define DW_BUF_H

#include <stdarg.h>
#include <stddef.h>

/*
 * The one growable byte buffer. `ptr` is always NUL-terminated (the NUL is
 * not counted in `len`) so it can be used as a C string when it holds
 * text. A non-zero `max` bounds `len`: appends that would pass it fail
 * with DW_ELIMIT and leave the buffer unchanged.
 */
struct dw_buf {
	char *ptr;
	size_t len;
	size_t alloc;
	size_t max;
};

#define DW_BUF_INIT                                                            \
	{                                                                      \
		NULL, 0, 0, 0                                                  \
	}

void dw_buf_init(struct dw_buf *b, size_t max);
/* Free the memory; the buffer is empty and reusable afterwards. */
void dw_buf_release(struct dw_buf *b);
/* Hand the string to the caller (who frees it); the buffer is reset. */
char *dw_buf_detach(struct dw_buf *b, size_t *len);

/* Make room for `extra` more bytes. 0, or DW_ELIMIT past `max`. */
int dw_buf_grow(struct dw_buf *b, size_t extra);
int dw_buf_add(struct dw_buf *b, const void *data, size_t len);
int dw_buf_adds(struct dw_buf *b, const char *s);
int dw_buf_addch(struct dw_buf *b, int c);
int dw_buf_addf(struct dw_buf *b, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
int dw_buf_vaddf(struct dw_buf *b, const char *fmt, va_list ap);
/*
 * Append everything `fd` still has to give (read(2), retried on EINTR).
 * Returns 0, DW_ELIMIT past `max` (what fitted is kept), or DW_EIO with
 * errno saved in the message ("read: …").
 */
int dw_buf_read_fd(struct dw_buf *b, int fd);
/* Write p[0..n) to `fd` whole (retried when cut or interrupted): 0, or
 * -1 with errno. */
int dw_write_all(int fd, const void *p, size_t n);
/* Cut the buffer back to `len` bytes (len <= b->len). */
void dw_buf_setlen(struct dw_buf *b, size_t len);
static inline void dw_buf_reset(struct dw_buf *b)
{
	dw_buf_setlen(b, 0);
}

#endif
