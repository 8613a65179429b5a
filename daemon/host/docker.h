#ifndef DW_DOCKER_H
#define DW_DOCKER_H

#include <jansson.h>
#include <stddef.h>

/*
 * A client of the Docker Engine API over its unix socket (libcurl). The
 * API version is not pinned: paths are unversioned, so the daemon answers
 * in its own current version.
 */

#define DW_DOCKER_DEFAULT_SOCKET "/var/run/docker.sock"

struct dw_docker;

/*
 * Connect lazily to `host` ("unix:///path" or "/path"); NULL means
 * $DOCKER_HOST, else DW_DOCKER_DEFAULT_SOCKET. Returns 0, or
 * DW_EUNSUPPORTED for tcp:// and other schemes, DW_EINVAL for garbage.
 * Free with dw_docker_free().
 */
int dw_docker_open(struct dw_docker **out, const char *host);
void dw_docker_free(struct dw_docker *d);
/* The socket path in use (for messages). */
const char *dw_docker_socket(const struct dw_docker *d);

/*
 * GET `path` (already URL-safe, e.g. "/containers/json") and parse the
 * JSON answer into `*out` (caller decrefs). Errors: DW_EUNREACHABLE (no
 * daemon at the socket), DW_ENOTFOUND (HTTP 404), DW_ERROR (other HTTP
 * errors; Docker's message is kept), DW_EINVAL (bad JSON).
 */
int dw_docker_get_json(struct dw_docker *d, json_t **out, const char *path);

/*
 * POST `path` with an optional JSON `body` (NULL: none). `*out` gets the
 * parsed answer, or NULL when Docker sent none (204); `out` may be NULL.
 * Errors as for dw_docker_get_json(); DW_ERROR for 409 and other codes.
 */
int dw_docker_post_json(struct dw_docker *d, json_t **out, const char *path,
			const json_t *body);

/*
 * GET `path` and hand each line of the (endless) answer to `line`, until
 * the daemon closes it, `line` returns non-zero, or `*stop` becomes
 * non-zero (checked at least once a second). `connected` is called once
 * the daemon has answered 200. Returns 0 when stopped or closed by the
 * daemon, else dw_docker_get_json()'s errors.
 */
int dw_docker_stream(struct dw_docker *d, const char *path,
		     void (*connected)(void *ctx),
		     int (*line)(const char *s, size_t len, void *ctx),
		     void *ctx, volatile int *stop);

/*
 * POST `body` (JSON) to an http(s) `url` with extra `headers` (NULL-ended
 * "Name: value" strings, or NULL). `*status` gets the HTTP status.
 * Returns 0 (whatever the status), DW_EUNREACHABLE (no answer within
 * `timeout_ms`; the message says why) or DW_EINVAL (not http/https).
 */
int dw_http_post(const char *url, const char *body, size_t len,
		 const char *const *headers, long timeout_ms, long *status);

/* The overlay layer dirs of one container, from its inspect document. */
struct dw_container_layers {
	char *id;
	char *name;   /* without the leading '/' */
	char *image;  /* Config.Image */
	char *driver; /* GraphDriver.Name */
	char *upper;
	char **lowers; /* topmost first */
	size_t nlowers;
	json_t *labels; /* Config.Labels, an object (maybe empty) */
	int read_only;	/* HostConfig.ReadonlyRootfs */
	int running;	/* State.Running */
	/*
	 * The log file driftwatch reads, else "": json-file's LogPath; the
	 * `local` driver's local-logs/container.log; for any other driver
	 * but `none`, Docker's dual-logging cache container-cached.log
	 * (unless the container's cache-disabled is true).
	 */
	char *log_path;
	int log_local;	     /* log_path is in Docker's local format */
	const char *log_gap; /* no log_path: why (a static string) */
	char *log_driver;    /* HostConfig.LogConfig.Type, or "" */
	char *mounts; /* volumes, binds, tmpfs: "/data (volume), ..." or "" */
};

/*
 * Inspect container `ref` (name, id or unique id prefix) and fill `out`.
 * DW_ENOTFOUND when Docker has no such container, DW_EUNSUPPORTED when its
 * storage driver is not overlay/overlay2, plus dw_docker_get_json()'s.
 */
int dw_docker_container_layers(struct dw_docker *d,
			       struct dw_container_layers *out,
			       const char *ref);
void dw_container_layers_release(struct dw_container_layers *l);

#endif
