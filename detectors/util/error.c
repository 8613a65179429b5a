#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "driftwatch/error.h"
#include "driftwatch/banned.h"

/* Long enough for a message naming a path far deeper than PATH_MAX. */
#define DW_ERROR_MAX 8192

static _Thread_local char last_error[DW_ERROR_MAX];

static void set_message(const char *fmt, va_list ap, int errnum)
{
	int n = vsnprintf(last_error, sizeof(last_error), fmt, ap);

	if (n < 0) {
		last_error[0] = '\0';
		return;
	}
	if (errnum && (size_t)n < sizeof(last_error))
		snprintf(last_error + n, sizeof(last_error) - (size_t)n,
			 ": %s", strerror(errnum));
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
