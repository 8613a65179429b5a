#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <syslog.h>
#include <time.h>

#include "log.h"
#include "driftwatch/buf.h"
#include "driftwatch/escape.h"
#include "driftwatch/banned.h"

static const char *log_ident = "driftwatch";
static enum dw_log_target log_target = DW_LOG_STDERR;
static int log_verbose;

void dw_log_init(const char *ident, enum dw_log_target target, int verbose)
{
	log_ident = ident;
	log_target = target;
	log_verbose = verbose;
	if (target == DW_LOG_SYSLOG)
		openlog(ident, LOG_PID | LOG_NDELAY, LOG_DAEMON);
}

static void vlog(int prio, const char *level, const char *fmt, va_list ap)
{
	char raw[4096];
	char stamp[32];
	struct dw_buf msg = DW_BUF_INIT;
	struct tm tm;
	time_t now;
	int n;

	if (prio == LOG_DEBUG && !log_verbose)
		return;
	n = vsnprintf(raw, sizeof(raw), fmt, ap);
	if (n < 0)
		n = 0;
	/*
	 * One message, one line: what a container named (a path with a
	 * newline, an escape sequence) cannot forge a log line of its own.
	 */
	dw_escape_path(&msg, raw,
		       (size_t)n < sizeof(raw) ? (size_t)n : sizeof(raw) - 1);
	if (log_target == DW_LOG_SYSLOG) {
		syslog(prio, "%s", msg.ptr ? msg.ptr : "");
	} else {
		now = time(NULL);
		gmtime_r(&now, &tm);
		strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%SZ", &tm);
		fprintf(stderr, "%s %s[%s]: %s\n", stamp, log_ident, level,
			msg.ptr ? msg.ptr : "");
	}
	dw_buf_release(&msg);
}

#define DEFINE_LOG(fn, prio, level)                                            \
	void fn(const char *fmt, ...)                                          \
	{                                                                      \
		va_list ap;                                                    \
		va_start(ap, fmt);                                             \
		vlog(prio, level, fmt, ap);                                    \
		va_end(ap);                                                    \
	}

DEFINE_LOG(dw_log_debug, LOG_DEBUG, "debug")
DEFINE_LOG(dw_log_info, LOG_INFO, "info")
DEFINE_LOG(dw_log_warn, LOG_WARNING, "warn")
DEFINE_LOG(dw_log_error, LOG_ERR, "error")

void dw_fatal(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vlog(LOG_CRIT, "fatal", fmt, ap);
	va_end(ap);
	exit(1);
}
