#ifndef DWD_SYSLOG_OUT_H
#define DWD_SYSLOG_OUT_H

#include <jansson.h>
#include <stddef.h>

#include "driftwatch/buf.h"
#include "policy.h"

/*
 * One ECS document (ecs.c) as an RFC 5424 message, framed by octet
 * counting (RFC 6587), added to `out`: PRI from `facility` and the
 * row's severity, the document's @timestamp, `host`, APP-NAME
 * driftwatchd, PROCID `pid`, MSGID its event.action; structured data
 * [SD_ID event_id table id kind severity container_id container path]
 * with '"', '\' and ']' escaped; MSG the document as JSON.
 */
void dwd_syslog_format(struct dw_buf *out, const json_t *doc, int facility,
		       const char *sd_id, const char *host, int pid);
/* The same message, not framed (RELP frames it itself). */
void dwd_syslog_message(struct dw_buf *out, const json_t *doc, int facility,
			const char *sd_id, const char *host, int pid);

/* Syslog severity of a driftwatch one (enum dw_severity): allowed 6
 * (info), low 5 (notice), medium 4 (warning), high 3 (err), critical 2
 * (crit). */
int dwd_syslog_severity(int sev);

/* An output's address (HOST:PORT or [V6]:PORT, checked as the
 * configuration loaded) as its host and port. */
void dwd_syslog_address(const char *address, char host[256], char port[16]);

/* A connection to a receiver (TCP, or TLS as `cfg` says). */
struct dwd_syslog;
int dwd_syslog_open(struct dwd_syslog **out, const struct dw_output_cfg *cfg,
		    long timeout_ms);
/* Send all of it and wait until the receiver's kernel acknowledged every
 * byte; DW_EUNREACHABLE (said why) otherwise, or when `*stop` is set (a
 * reload, a shutdown): reconnect. */
int dwd_syslog_send(struct dwd_syslog *c, const char *p, size_t n,
		    long timeout_ms, const int *stop);
/* Only write all of it (within `deadline`, dw_mono_ms()). */
int dwd_syslog_write(struct dwd_syslog *c, const char *p, size_t n,
		     long long deadline, const int *stop);
/* Read what is there, at most `size` (at least 1 byte, waiting until
 * `deadline`); DW_EUNREACHABLE when closed, not in time or stopped. */
int dwd_syslog_read(struct dwd_syslog *c, char *p, size_t size, size_t *got,
		    long long deadline, const int *stop);
/* 1 when there is nothing to read (and it is not closed). */
int dwd_syslog_quiet(struct dwd_syslog *c);
/* 0 when the receiver closed the connection. */
int dwd_syslog_alive(struct dwd_syslog *c);
void dwd_syslog_close(struct dwd_syslog **c);

#endif
