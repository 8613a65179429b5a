/* Following Docker's /events in a thread of its own. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "docker.h"
#include "driftwatch/error.h"
#include "driftwatch/json.h"
#include "driftwatch/xmalloc.h"
#include "dockerwatch.h"
#include "driftwatch/banned.h"

/* {"type":["container"]}, URL-encoded. */
#define EVENTS_PATH "/events?filters=%7B%22type%22%3A%5B%22container%22%5D%7D"

struct dw_dockerwatch {
	struct dw_docker *docker;
	pthread_t thread;
	int pipe[2]; /* messages to the main loop */
	int wake[2]; /* wakes the thread's backoff sleep */
	volatile int stop;
	int was_connected;
};

static void send_msg(struct dw_dockerwatch *w, const char *action,
		     const char *id, size_t idlen)
{
	struct dw_docker_msg m;
	ssize_t n;

	memset(&m, 0, sizeof(m));
	snprintf(m.action, sizeof(m.action), "%s", action);
	if (idlen >= sizeof(m.id))
		idlen = sizeof(m.id) - 1;
	memcpy(m.id, id, idlen);
	/* Smaller than PIPE_BUF: written whole, or not at all. */
	do
		n = write(w->pipe[1], &m, sizeof(m));
	while (n < 0 && errno == EINTR);
}

static void on_connected(void *ctx)
{
	struct dw_dockerwatch *w = ctx;

	w->was_connected = 1;
	send_msg(w, "connected", "", 0);
}

static int on_line(const char *s, size_t len, void *ctx)
{
	static const char *const wanted[] = {"start", "die", "destroy",
					     "rename"};
	json_t *j = NULL;
	const char *action, *id;
	size_t i;

	if (!len || dw_json_parse(&j, s, len, "docker event"))
		return 0;
	action = dw_json_path_str(j, "Action");
	id = dw_json_path_str(j, "Actor.ID");
	for (i = 0; action && id && i < sizeof(wanted) / sizeof(*wanted); i++)
		if (!strcmp(action, wanted[i]))
			send_msg(ctx, action, id, strlen(id));
	json_decref(j);
	return 0;
}

/* Sleep `ms` unless told to stop; 1 when stopping. */
static int nap(struct dw_dockerwatch *w, int ms)
{
	struct pollfd p = {w->wake[0], POLLIN, 0};

	poll(&p, 1, ms);
	return w->stop;
}

static void *run(void *arg)
{
	struct dw_dockerwatch *w = arg;
	int backoff = 250;

	while (!w->stop) {
		int err = dw_docker_stream(w->docker, EVENTS_PATH, on_connected,
					   on_line, w, &w->stop);
		const char *why = err ? dw_error_last()
				      : "dockerd closed the "
					"event stream";

		if (w->stop)
			break;
		send_msg(w, "lost", why, strlen(why));
		/* A stream that was up starts the backoff over. */
		if (w->was_connected)
			backoff = 250;
		w->was_connected = 0;
		if (nap(w, backoff))
			break;
		backoff = backoff < 8000 ? backoff * 2 : 8000;
	}
	return NULL;
}

int dw_dockerwatch_start(struct dw_dockerwatch **out, const char *host)
{
	struct dw_dockerwatch *w = dw_xcalloc(1, sizeof(*w));
	int err = dw_docker_open(&w->docker, host);

	if (err) {
		free(w);
		return err;
	}
	if (pipe2(w->pipe, O_CLOEXEC) < 0 || pipe2(w->wake, O_CLOEXEC) < 0) {
		err = dw_error_errno(DW_ERROR, errno, "cannot create a pipe");
		goto fail;
	}
	fcntl(w->pipe[0], F_SETFL, O_NONBLOCK);
	if (pthread_create(&w->thread, NULL, run, w)) {
		err = dw_error_set(DW_ERROR, "cannot start the docker event "
					     "thread");
		goto fail;
	}
	*out = w;
	return 0;
fail:
	dw_docker_free(w->docker);
	free(w);
	return err;
}

int dw_dockerwatch_fd(const struct dw_dockerwatch *w)
{
	return w->pipe[0];
}

void dw_dockerwatch_stop(struct dw_dockerwatch *w)
{
	char drain[4096];

	if (!w)
		return;
	w->stop = 1;
	if (write(w->wake[1], "x", 1) < 0) {
		/* the thread still sees w->stop within a second */
	}
	/* The thread may be blocked writing to a full pipe. */
	while (read(w->pipe[0], drain, sizeof(drain)) > 0)
		;
	pthread_join(w->thread, NULL);
	close(w->pipe[0]);
	close(w->pipe[1]);
	close(w->wake[0]);
	close(w->wake[1]);
	dw_docker_free(w->docker);
	free(w);
}
