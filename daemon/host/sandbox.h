#ifndef DW_SANDBOX_H
#define DW_SANDBOX_H

#include <stdint.h>
#include <sys/types.h>

#include "driftwatch/engine.h"

/*
 * The scanner process: hostile file content is matched against the
 * secret rules in a child that can do nothing else. It is forked from
 * the privileged process once the engine is built (so it shares the
 * compiled rules), then, before it reads anything:
 *   - every descriptor but its socketpair end is closed;
 *   - it becomes the `driftwatch` system user (else nobody), with no
 *     supplementary groups and so no capabilities;
 *   - rlimits: data 1 GiB, CPU time, no files, no core dumps;
 *   - PR_SET_NO_NEW_PRIVS and a seccomp filter (libseccomp) that allows
 *     reading a received descriptor, memory, the socket and exiting:
 *     anything else kills it (SIGSYS).
 * It receives one regular file at a time (SCM_RIGHTS) and sends back its
 * findings. When it dies or overruns its time, it is restarted and the
 * file is tried once more; a file that kills it twice is reported as the
 * input that did (the caller records and alerts) and the caller goes on.
 */

struct dw_sandbox;

struct dw_sandbox_stats {
	pid_t pid;	   /* the scanner now (0: none) */
	unsigned restarts; /* after a death or an overrun */
	unsigned killed;   /* inputs given up on */
};

/*
 * Start a scanner for engine `e` (kept by the caller, unchanged while the
 * sandbox lives). `user` NULL: "driftwatch", else "nobody".
 */
int dw_sandbox_start(struct dw_sandbox **out, const struct dw_engine *e,
		     const char *user);
void dw_sandbox_free(struct dw_sandbox *sb);
void dw_sandbox_stats(const struct dw_sandbox *sb, struct dw_sandbox_stats *st);

/*
 * Scan regular file `fd` (read from offset 0 with pread, at most `max`
 * bytes; the caller's offset is left alone) and call `cb` per finding.
 * `name` is the file's name, for the test hooks only. Returns 0, or
 * DW_ELIMIT when the scanner died (or ran over `budget_ms`) on it twice:
 * dw_error_last() says how (a signal, a timeout), findings sent before
 * that were delivered.
 */
int dw_sandbox_scan_fd(struct dw_sandbox *sb, int fd, uint64_t max,
		       long long budget_ms, const char *name, dw_finding_cb cb,
		       void *ctx);

#endif
