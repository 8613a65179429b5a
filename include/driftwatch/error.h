#ifndef DW_ERROR_H
#define DW_ERROR_H

/*
 * Errors: functions return 0 on success and a negative DW_E* code on
 * failure; the human-readable detail of the most recent failure on this
 * thread is kept by dw_error_set() and read with dw_error_last().
 */

enum dw_error_code {
	DW_OK = 0,
	DW_ERROR = -1,	      /* generic failure */
	DW_EIO = -2,	      /* reading a file, directory or layer failed */
	DW_ENOTFOUND = -3,    /* the named object (container, ...) is missing */
	DW_EUNREACHABLE = -4, /* the Docker daemon could not be reached */
	DW_EINVAL = -5,	      /* malformed input or arguments */
	DW_EUNSUPPORTED = -6, /* valid, but not something we handle */
	DW_ELIMIT = -7,	      /* a safety bound (size, depth) was exceeded */
	DW_ESTORE = -8,	      /* done, but the store could not record it */
	DW_ECONFLICT = -9,    /* the state forbids it (HTTP 409) */
};

/*
 * Record the detail of a failure (printf-style) and return `code`, so a
 * caller can write `return dw_error_set(DW_EIO, "...")`. The message
 * must never contain a secret.
 */
int dw_error_set(int code, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* Like dw_error_set(), appending ": strerror(errnum)". */
int dw_error_errno(int code, int errnum, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/*
 * The message of the last failure on this thread ("" if none). The string
 * is owned by the library and valid until the next dw_error_set().
 */
const char *dw_error_last(void);

/* Forget the last failure. */
void dw_error_clear(void);

#endif
