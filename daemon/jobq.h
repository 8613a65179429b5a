#ifndef DWD_JOBQ_H
#define DWD_JOBQ_H

#include <stddef.h>

/*
 * A worker thread and the bounded queue of jobs it takes one at a time,
 * off the monitoring loop (the leak command, automatic snapshots). The
 * loop pushes; a full queue refuses (the caller says so and frees the
 * job). At stop, the job under way ends as `run` lets it (it sees `stop`
 * set), and the jobs still queued go to `left`, then `release`.
 */
struct dwd_jobq;

struct dwd_jobq_ops {
	/* In the worker, outside the lock; `stop` becomes 1 at stop. */
	void (*run)(void *ctx, void *job, const int *stop);
	void (*release)(void *job);
	void (*left)(void *ctx, void *job); /* queued at stop (may be NULL) */
	void (*done)(void *ctx); /* in the worker, as it ends (may be NULL) */
};

/* NULL when the thread cannot start (the caller does the work itself). */
struct dwd_jobq *dwd_jobq_start(size_t cap, const struct dwd_jobq_ops *ops,
				void *ctx);
/* 0, or -1 when full: `job` is then still the caller's. */
int dwd_jobq_push(struct dwd_jobq *q, void *job);
/* Stop, join, hand over what was left; returns how many were. */
size_t dwd_jobq_stop(struct dwd_jobq *q);

#endif
