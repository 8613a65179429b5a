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
 * A batch: message i is the bytes of `buf` from ends[i - 1] (0) to
 * ends[i]. After dwd_relp_send(): how many went out, how many (from the
 * first) the receiver took (answered 200), also on an error, and whether
 * the error is the receiver's refusal of the message after those.
 */
struct dwd_relp_batch {
	const char *buf;
	const size_t *ends;
	size_t n;
	size_t sent, answered;
	int refused;
};
/*
 * Send a batch and wait for its answers: 0 when every message was
 * taken; DW_EUNREACHABLE (said why) when the session broke, an answer
 * refused a message, none came for `timeout_ms`, `until` passed
 * (dw_mono_ms(); 0: none) or `*stop` was set: close the session.
 */
int dwd_relp_send(struct dwd_relp *c, struct dwd_relp_batch *m, long timeout_ms,
		  long long until, const int *stop);
/* 1 when a batch of `n` would use up the session's transaction numbers
 * (close it and open another). */
int dwd_relp_worn(const struct dwd_relp *c, size_t n);
/* 0 when the receiver ended the session (or sent what it should not). */
int dwd_relp_alive(struct dwd_relp *c);
/* Closed: with a close command and its answer waited for up to
 * `timeout_ms` (0: not sent). */
void dwd_relp_close(struct dwd_relp **c, long timeout_ms);

#endif
