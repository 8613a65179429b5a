/* driftwatchd: a worker thread and its bounded queue of jobs. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "driftwatch/xmalloc.h"
#include "jobq.h"
#include "driftwatch/banned.h"

struct dwd_jobq {
	pthread_t thread;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int stop;
	void **jobs;
	size_t cap, head, n;
	struct dwd_jobq_ops ops;
	void *ctx;
};

static void *loop(void *arg)
{
	struct dwd_jobq *q = arg;

	pthread_mutex_lock(&q->mu);
	for (;;) {
		void *job;

		while (!q->stop && !q->n)
			pthread_cond_wait(&q->cv, &q->mu);
		if (q->stop)
			break;
		job = q->jobs[q->head];
		q->jobs[q->head] = NULL;
		q->head = (q->head + 1) % q->cap;
		q->n--;
		pthread_mutex_unlock(&q->mu);
		q->ops.run(q->ctx, job, &q->stop);
		q->ops.release(job);
		pthread_mutex_lock(&q->mu);
	}
	pthread_mutex_unlock(&q->mu);
	if (q->ops.done)
		q->ops.done(q->ctx);
	return NULL;
}

struct dwd_jobq *dwd_jobq_start(size_t cap, const struct dwd_jobq_ops *ops,
				void *ctx)
{
	struct dwd_jobq *q = dw_xcalloc(1, sizeof(*q));

	q->cap = cap;
	q->jobs = dw_xcalloc(cap, sizeof(*q->jobs));
	q->ops = *ops;
	q->ctx = ctx;
	pthread_mutex_init(&q->mu, NULL);
	pthread_cond_init(&q->cv, NULL);
	if (pthread_create(&q->thread, NULL, loop, q)) {
		pthread_mutex_destroy(&q->mu);
		pthread_cond_destroy(&q->cv);
		free(q->jobs);
		free(q);
		return NULL;
	}
	return q;
}

int dwd_jobq_push(struct dwd_jobq *q, void *job)
{
	pthread_mutex_lock(&q->mu);
	if (q->n == q->cap) {
		pthread_mutex_unlock(&q->mu);
		return -1;
	}
	q->jobs[(q->head + q->n) % q->cap] = job;
	q->n++;
	pthread_cond_signal(&q->cv);
	pthread_mutex_unlock(&q->mu);
	return 0;
}

size_t dwd_jobq_stop(struct dwd_jobq *q)
{
	size_t i, left;

	if (!q)
		return 0;
	pthread_mutex_lock(&q->mu);
	__atomic_store_n(&q->stop, 1, __ATOMIC_RELAXED);
	pthread_cond_broadcast(&q->cv);
	pthread_mutex_unlock(&q->mu);
	pthread_join(q->thread, NULL);
	left = q->n;
	for (i = 0; i < q->n; i++) {
		void *job = q->jobs[(q->head + i) % q->cap];

		if (q->ops.left)
			q->ops.left(q->ctx, job);
		q->ops.release(job);
	}
	pthread_mutex_destroy(&q->mu);
	pthread_cond_destroy(&q->cv);
	free(q->jobs);
	free(q);
	return left;
}
