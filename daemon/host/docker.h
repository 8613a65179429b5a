#ifndef DW_DOCKER_H
#define DW_DOCKER_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

/*
 * A client of the Docker Engine API over its unix socket (libcurl). The
 * API version is not pinned: paths are unversioned, so the daemon answers
 * in its own current version.
 */

#define DW_DOCKER_DEFAULT_SOCKET "/var/run/docker.sock"

struct dw_docker;
struct dw_store;

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
 * Where the host's / is seen ("/" or NULL: here). Every path Docker names
 * (layer dirs, log files, its root dir) is read under it.
 */
void dw_docker_set_host_root(struct dw_docker *d, const char *root);
const char *dw_docker_host_root(const struct dw_docker *d); /* or NULL */
/*
 * driftwatchd's store, read for the layer dirs of a stopped container on
 * the containerd image store (which mounts them only while it runs).
 */
void dw_docker_set_store(struct dw_docker *d, struct dw_store *s);
struct dw_store *dw_docker_store(const struct dw_docker *d);
/* DockerRootDir from GET /info (asked once), or NULL with the error set. */
const char *dw_docker_root_dir(struct dw_docker *d);
/* `s` escaped for a URL path (caller frees), or NULL. */
char *dw_docker_escape(struct dw_docker *d, const char *s);

/*
 * Each request's time limit, whole (default 120 s): a request that has
 * no answer by then fails with DW_EUNREACHABLE and dw_docker_timed_out()
 * says so until the next request.
 */
void dw_docker_set_timeout(struct dw_docker *d, long ms);
int dw_docker_timed_out(const struct dw_docker *d);

/*
 * GET `path` (already URL-safe, e.g. "/containers/json") and parse the
 * JSON answer into `*out` (caller decrefs). Errors: DW_EUNREACHABLE (no
 * daemon at the socket), DW_ENOTFOUND (HTTP 404), DW_ERROR (other HTTP
 * errors; Docker's message is kept), DW_EINVAL (bad JSON).
 */
int dw_docker_get_json(struct dw_docker *d, json_t **out, const char *path);

/*
 * GET `path` and write the answer's body to `fd` (an image archive:
 * GET /images/{name}/get), as long as it takes while bytes come: no
 * byte for the request timeout fails it. `*written` gets the bytes
 * written. Errors as for dw_docker_get_json() (Docker's message kept),
 * DW_EIO when `fd` cannot be written.
 */
int dw_docker_get_file(struct dw_docker *d, const char *path, int fd,
		       uint64_t *written);

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
/* The same, with the answer's body (up to 1 MiB) added to `answer` and
 * its Retry-After header in seconds (0: none), each when not NULL; it
 * ends (DW_EUNREACHABLE, "stopping") as soon as `*stop` is set. */
struct dw_buf;
int dw_http_post_answer(const char *url, const char *body, size_t len,
			const char *const *headers, long timeout_ms,
			long *status, struct dw_buf *answer,
			long *retry_after_s, const int *stop);

/*
 * The overlay layer dirs of one container, from its inspect document
 * (overlay2), or from its rootfs mount (the containerd image store), all
 * under the host root.
 */
struct dw_container_layers {
	char *id;
	char *name;   /* without the leading '/' */
	char *image;  /* Config.Image */
	char *driver; /* GraphDriver.Name */
	char *upper;
	char **lowers; /* topmost first */
	size_t nlowers;
	/*
	 * lowers[0] is Docker's init layer (the mount points it adds:
	 * /etc/hosts, /.dockerenv, ...), not the image's: 1 or 0; -1 when
	 * the lower dirs do not match the image's layer count.
	 */
	int init_layer;
	int snapshotter; /* on Docker's containerd image store */
	int userxattr;	 /* its overlay is mounted with userxattr */
	/* Not running, layers as driftwatchd recorded them: last seen. */
	long long recorded;
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
	int log_journald;    /* no log_path: its entries are in the journal */
	const char *log_gap; /* no log_path: why (a static string) */
	char *log_driver;    /* HostConfig.LogConfig.Type, or "" */
	char *mounts; /* volumes, binds, tmpfs: "/data (volume), ..." or "" */
};

/*
 * Inspect container `ref` (name, id or unique id prefix) and fill `out`.
 * DW_ENOTFOUND when Docker has no such container, DW_EUNSUPPORTED when its
 * storage driver is not overlay2 or the containerd store's overlayfs,
 * DW_ECONFLICT for a stopped container on the containerd store whose
 * layers driftwatchd's store does not hold, DW_EIO when a running one's
 * rootfs mount is not found, plus dw_docker_get_json()'s. `out` needs no
 * release on error.
 */
int dw_docker_container_layers(struct dw_docker *d,
			       struct dw_container_layers *out,
			       const char *ref);
/* The same, and the inspect document it was read from (`*inspect`, the
 * caller's to release) for a caller that needs it too: one request. */
int dw_docker_container_layers_inspect(struct dw_docker *d,
				       struct dw_container_layers *out,
				       const char *ref, json_t **inspect);
void dw_container_layers_release(struct dw_container_layers *l);

#endif
