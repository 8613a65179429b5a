#ifndef DWD_RELP_OUT_H
#define DWD_RELP_OUT_H

#include <stddef.h>

#include "policy.h"

/* Messages sent and not yet answered, at most. */
#define DWD_RELP_WINDOW 128

/* A RELP session (relp_out.c) over TCP or TLS as `cfg` says: connected
 * and opened (the receiver takes the syslog command). */
struct dwd_relp;
int dwd_relp_open(struct dwd_relp **out, const struct dw_output_cfg *cfg,
		  long timeout_ms);
/*
 * Send `n` messages, message i the bytes of `buf` from ends[i - 1] (0)
 * to ends[i], and wait for their answers. `*sent`: how many went out;
 * `*answered`: how many, from
 * the first, the receiver took (200), also on an error; all `n` when 0
 * is returned. DW_EUNREACHABLE (said why) when the session broke, an
 * answer refused a message, none came for `timeout_ms` or `*stop` was
 * set: close the session.
 */
int dwd_relp_send(struct dwd_relp *c, const char *buf, const size_t *ends,
		  size_t n, size_t *sent, size_t *answered, long timeout_ms,
		  const int *stop);
/* 0 when the receiver ended the session (or sent what it should not). */
int dwd_relp_alive(struct dwd_relp *c);
/* Closed: with a close command and its answer waited for up to
 * `timeout_ms` (0: not sent). */
void dwd_relp_close(struct dwd_relp **c, long timeout_ms);

#endif
