#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "driftwatch/error.h"
#include "driftwatch/banned.h"

/* Long enough for a message naming a path far deeper than PATH_MAX. */
#define DW_ERROR_MAX 8192

static _Thread_local char last_error[DW_ERROR_MAX];

/*
 * Formatted into a scratch buffer first: a message may quote the last one
 * ("...: %s", dw_error_last()), and vsnprintf must not read what it writes.
 */
static void set_message(const char *fmt, va_list ap, int errnum)
{
	char msg[DW_ERROR_MAX];
	int n = vsnprintf(msg, sizeof(msg), fmt, ap);

	if (n < 0) {
		last_error[0] = '\0';
		return;
	}
	if (errnum && (size_t)n < sizeof(msg))
		snprintf(msg + n, sizeof(msg) - (size_t)n, ": %s",
			 strerror(errnum));
	memcpy(last_error, msg, sizeof(msg));
}

int dw_error_set(int code, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	set_message(fmt, ap, 0);
	va_end(ap);
	return code;
}

int dw_error_errno(int code, int errnum, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	set_message(fmt, ap, errnum);
	va_end(ap);
	return code;
}

const char *dw_error_last(void)
{
	return last_error;
}

void dw_error_clear(void)
{
	last_error[0] = '\0';
}
