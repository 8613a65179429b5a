#ifndef DW_LOG_H
#define DW_LOG_H

/*
 * The one log API. Messages are lowercase, name the failure first and
 * never contain a secret. Until dw_log_init() is called they go to stderr.
 */

enum dw_log_target {
	DW_LOG_STDERR,
	DW_LOG_SYSLOG,
};

void dw_log_init(const char *ident, enum dw_log_target target, int verbose);
void dw_log_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void dw_log_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void dw_log_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void dw_log_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Log at error level and exit(1). */
void dw_fatal(const char *fmt, ...)
	__attribute__((format(printf, 1, 2), noreturn));

#endif
