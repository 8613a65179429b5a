#ifndef DW_DOCKERWATCH_H
#define DW_DOCKERWATCH_H

/*
 * A thread that follows Docker's /events stream (containers only) and
 * hands what matters to the main loop through a pipe, reconnecting with
 * backoff (0.25 s doubling to 8 s) whenever dockerd goes away.
 */

struct dw_docker_msg {
	char action[16]; /* connected, lost, start, die, destroy, rename */
	char id[80];	 /* container id; the error for "lost" */
};

struct dw_dockerwatch;

/* Start following the daemon at `host` (see dw_docker_open()). */
int dw_dockerwatch_start(struct dw_dockerwatch **out, const char *host);
/* The fd to poll; each read returns whole struct dw_docker_msg. */
int dw_dockerwatch_fd(const struct dw_dockerwatch *w);
/* Stop the thread (within about a second) and free everything. */
void dw_dockerwatch_stop(struct dw_dockerwatch *w);

#endif
