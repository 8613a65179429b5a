/* Docker Engine API client: the only user of libcurl for Docker. */
#define CURL_DISABLE_TYPECHECK
#include <curl/curl.h>
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "driftwatch/buf.h"
#include "docker.h"
#include "driftwatch/error.h"
#include "driftwatch/json.h"
#include "driftwatch/lazylib.h"
#include "driftwatch/xmalloc.h"
#include "driftwatch/banned.h"

/* libcurl is loaded on first use (see lazylib.h). */
static struct {
	CURLcode (*global_init)(long);
	CURL *(*easy_init)(void);
	void (*easy_cleanup)(CURL *);
	void (*easy_reset)(CURL *);
	CURLcode (*easy_setopt)(CURL *, CURLoption, ...);
	CURLcode (*easy_perform)(CURL *);
	CURLcode (*easy_getinfo)(CURL *, CURLINFO, ...);
	const char *(*easy_strerror)(CURLcode);
	char *(*easy_escape)(CURL *, const char *, int);
	void (*free)(void *);
	struct curl_slist *(*slist_append)(struct curl_slist *, const char *);
	void (*slist_free_all)(struct curl_slist *);
} dl;

static const struct dw_lazy_sym curl_syms[] = {
	{"curl_global_init", (void **)&dl.global_init},
	{"curl_easy_init", (void **)&dl.easy_init},
	{"curl_easy_cleanup", (void **)&dl.easy_cleanup},
	{"curl_easy_reset", (void **)&dl.easy_reset},
	{"curl_easy_setopt", (void **)&dl.easy_setopt},
	{"curl_easy_perform", (void **)&dl.easy_perform},
	{"curl_easy_getinfo", (void **)&dl.easy_getinfo},
	{"curl_easy_strerror", (void **)&dl.easy_strerror},
	{"curl_easy_escape", (void **)&dl.easy_escape},
	{"curl_free", (void **)&dl.free},
	{"curl_slist_append", (void **)&dl.slist_append},
	{"curl_slist_free_all", (void **)&dl.slist_free_all},
};

static struct dw_lazy_lib libcurl = {"libcurl.so.4", curl_syms,
				     sizeof(curl_syms) / sizeof(curl_syms[0]),
				     0, ""};

#define curl_global_init (*dl.global_init)
#define curl_easy_init (*dl.easy_init)
#define curl_easy_cleanup (*dl.easy_cleanup)
#define curl_easy_reset (*dl.easy_reset)
#undef curl_easy_setopt
#define curl_easy_setopt (*dl.easy_setopt)
#define curl_easy_perform (*dl.easy_perform)
#undef curl_easy_getinfo
#define curl_easy_getinfo (*dl.easy_getinfo)
#define curl_easy_strerror (*dl.easy_strerror)
#define curl_easy_escape (*dl.easy_escape)
#define curl_free (*dl.free)

/* An inspect document is a few KiB; a container list of thousands, MiBs. */
#define RESPONSE_MAX (64u << 20)

struct dw_docker {
	CURL *curl;
	char *socket;
	char *host_root; /* NULL: "/" */
	char *root_dir;	 /* DockerRootDir, once asked */
	struct dw_store *store;
	long timeout_ms; /* each request's, whole */
	int timed_out;	 /* the last request's answer did not come in time */
};

struct stream {
	void (*connected)(void *ctx);
	int (*line)(const char *s, size_t len, void *ctx);
	void *ctx;
	volatile int *stop;
	struct dw_buf pending; /* a partial line */
	CURL *curl;
	int told;
	int failed;
};

static int stream_tell(struct stream *st)
{
	long status = 0;

	if (st->told)
		return 0;
	curl_easy_getinfo(st->curl, CURLINFO_RESPONSE_CODE, &status);
	st->told = 1;
	if (status != 200) {
		st->failed = 1;
		return -1;
	}
	st->connected(st->ctx);
	return 0;
}

static size_t on_stream(char *data, size_t size, size_t nmemb, void *ctx)
{
	struct stream *st = ctx;
	size_t n = size * nmemb, i, start = 0;

	if (stream_tell(st))
		return 0;
	for (i = 0; i < n; i++) {
		if (data[i] != '\n')
			continue;
		if (st->pending.len) {
			dw_buf_add(&st->pending, data + start, i - start);
			if (st->line(st->pending.ptr, st->pending.len, st->ctx))
				return 0;
			dw_buf_reset(&st->pending);
		} else if (st->line(data + start, i - start, st->ctx)) {
			return 0;
		}
		start = i + 1;
	}
	/* A line longer than the buffer's cap fails the transfer. */
	if (start < n && dw_buf_add(&st->pending, data + start, n - start))
		return 0;
	return n;
}

static int on_progress(void *ctx, curl_off_t dt, curl_off_t dn, curl_off_t ut,
		       curl_off_t un)
{
	struct stream *st = ctx;

	(void)dt;
	(void)dn;
	(void)ut;
	(void)un;
	return *st->stop ? 1 : 0;
}

static size_t on_header(char *data, size_t size, size_t nmemb, void *ctx)
{
	struct stream *st = ctx;
	size_t n = size * nmemb;

	/* The blank line that ends the headers: the answer has come. */
	if ((n == 2 && data[0] == '\r') || (n == 1 && data[0] == '\n'))
		if (stream_tell(st))
			return 0;
	return n;
}

int dw_docker_stream(struct dw_docker *d, const char *path,
		     void (*connected)(void *ctx),
		     int (*line)(const char *s, size_t len, void *ctx),
		     void *ctx, volatile int *stop)
{
	struct stream st = {connected,	 line,	  ctx, stop,
			    DW_BUF_INIT, d->curl, 0,   0};
	struct dw_buf url = DW_BUF_INIT;
	CURLcode rc;
	int err = 0;

	dw_buf_init(&st.pending, 1 << 20);
	dw_buf_addf(&url, "http://docker%s", path);
	curl_easy_reset(d->curl);
	curl_easy_setopt(d->curl, CURLOPT_UNIX_SOCKET_PATH, d->socket);
	curl_easy_setopt(d->curl, CURLOPT_URL, url.ptr);
	curl_easy_setopt(d->curl, CURLOPT_WRITEFUNCTION, on_stream);
	curl_easy_setopt(d->curl, CURLOPT_WRITEDATA, &st);
	curl_easy_setopt(d->curl, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(d->curl, CURLOPT_HEADERDATA, &st);
	curl_easy_setopt(d->curl, CURLOPT_XFERINFOFUNCTION, on_progress);
	curl_easy_setopt(d->curl, CURLOPT_XFERINFODATA, &st);
	curl_easy_setopt(d->curl, CURLOPT_NOPROGRESS, 0L);
	curl_easy_setopt(d->curl, CURLOPT_CONNECTTIMEOUT_MS, 5000L);
	curl_easy_setopt(d->curl, CURLOPT_NOSIGNAL, 1L);
	rc = curl_easy_perform(d->curl);
	if (rc == CURLE_COULDNT_CONNECT)
		err = dw_error_set(DW_EUNREACHABLE,
				   "cannot reach the docker "
				   "daemon at %s (is dockerd running?)",
				   d->socket);
	else if (st.failed)
		err = dw_error_set(DW_ERROR, "docker refused %s", path);
	else if (rc != CURLE_OK && rc != CURLE_ABORTED_BY_CALLBACK &&
		 !(rc == CURLE_WRITE_ERROR && *stop))
		err = dw_error_set(DW_EUNREACHABLE,
				   "docker stream %s ended: "
				   "%s",
				   path, curl_easy_strerror(rc));
	dw_buf_release(&st.pending);
	dw_buf_release(&url);
	return err;
}

static int parse_host(char **socket, const char *host)
{
	if (!strncmp(host, "unix://", 7))
		host += 7;
	else if (strstr(host, "://"))
		return dw_error_set(DW_EUNSUPPORTED,
				    "docker host %s is not supported: only "
				    "unix:// sockets are",
				    host);
	if (host[0] != '/')
		return dw_error_set(DW_EINVAL,
				    "docker host must be unix:///path, not "
				    "'%s'",
				    host);
	*socket = dw_xstrdup(host);
	return 0;
}

int dw_docker_open(struct dw_docker **out, const char *host)
{
	struct dw_docker *d;
	char *socket = NULL;
	int err;

	if (!host || !*host)
		host = getenv("DOCKER_HOST");
	if (!host || !*host)
		host = DW_DOCKER_DEFAULT_SOCKET;
	err = parse_host(&socket, host);
	if (!err)
		err = dw_lazy_load(&libcurl);
	if (err) {
		free(socket);
		return err;
	}
	if (curl_global_init(CURL_GLOBAL_DEFAULT)) {
		free(socket);
		return dw_error_set(DW_ERROR, "cannot initialise libcurl");
	}
	d = dw_xcalloc(1, sizeof(*d));
	d->socket = socket;
	d->timeout_ms = 120000L;
	d->curl = curl_easy_init();
	if (!d->curl) {
		dw_docker_free(d);
		return dw_error_set(DW_ERROR, "cannot initialise libcurl");
	}
	*out = d;
	return 0;
}

void dw_docker_free(struct dw_docker *d)
{
	if (!d)
		return;
	if (d->curl)
		curl_easy_cleanup(d->curl);
	free(d->socket);
	free(d->host_root);
	free(d->root_dir);
	free(d);
}

const char *dw_docker_socket(const struct dw_docker *d)
{
	return d->socket;
}

static size_t on_body(char *data, size_t size, size_t nmemb, void *ctx)
{
	/* A short count makes libcurl fail the transfer. */
	return dw_buf_add(ctx, data, size * nmemb) ? 0 : size * nmemb;
}

static int http_error(long status, const char *body, size_t len,
		      const char *path)
{
	const char *msg = NULL;
	json_t *j = NULL;
	int code = status == 404   ? DW_ENOTFOUND
		   : status == 409 ? DW_ECONFLICT
				   : DW_ERROR;
	int ret;

	if (!dw_json_parse(&j, body, len, "docker error"))
		msg = dw_json_path_str(j, "message");
	if (msg)
		ret = dw_error_set(code, "docker: %s", msg);
	else
		ret = dw_error_set(code, "docker: HTTP %ld for %s", status,
				   path);
	json_decref(j);
	return ret;
}

/*
 * The one place a request is set up: `url`, the answer into `resp`,
 * bounded in time; a POST when `post`, with `body` as JSON when not NULL.
 */
static CURLcode perform(CURL *c, const char *url, int post, const char *body,
			size_t len, struct curl_slist *hdrs, long timeout_ms,
			struct dw_buf *resp)
{
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, resp);
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS,
			 timeout_ms < 5000 ? timeout_ms : 5000L);
	curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, timeout_ms);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
	if (hdrs)
		curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);
	if (post) {
		curl_easy_setopt(c, CURLOPT_POST, 1L);
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, body ? body : "");
		curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE,
				 body ? (long)len : 0L);
	}
	return curl_easy_perform(c);
}

/* GET, or POST when `post` (with `body` as JSON when not NULL). */
static int request(struct dw_docker *d, json_t **out, const char *path,
		   int post, const json_t *body)
{
	struct dw_buf url = DW_BUF_INIT, resp = DW_BUF_INIT, req = DW_BUF_INIT;
	struct curl_slist *hdrs = NULL;
	long status = 0;
	CURLcode rc;
	int err;

	if (out)
		*out = NULL;
	dw_buf_init(&resp, RESPONSE_MAX);
	dw_buf_addf(&url, "http://docker%s", path);
	curl_easy_reset(d->curl);
	curl_easy_setopt(d->curl, CURLOPT_UNIX_SOCKET_PATH, d->socket);
	if (body) {
		dw_json_dump(&req, body, 0);
		hdrs = dl.slist_append(NULL, "Content-Type: application/json");
	}
	rc = perform(d->curl, url.ptr, post, body ? req.ptr : NULL, req.len,
		     hdrs, d->timeout_ms, &resp);
	d->timed_out = rc == CURLE_OPERATION_TIMEDOUT;
	if (rc == CURLE_COULDNT_CONNECT) {
		err = dw_error_set(DW_EUNREACHABLE,
				   "cannot reach the docker daemon at %s "
				   "(is dockerd running?)",
				   d->socket);
		goto out;
	}
	if (d->timed_out) {
		err = dw_error_set(DW_EUNREACHABLE,
				   "docker did not answer %s within %ld ms",
				   path, d->timeout_ms);
		goto out;
	}
	if (rc != CURLE_OK) {
		err = dw_error_set(rc == CURLE_WRITE_ERROR ? DW_ELIMIT
							   : DW_EUNREACHABLE,
				   "docker request %s failed: %s", path,
				   curl_easy_strerror(rc));
		goto out;
	}
	curl_easy_getinfo(d->curl, CURLINFO_RESPONSE_CODE, &status);
	if (status < 200 || status > 299)
		err = http_error(status, resp.ptr, resp.len, path);
	else if (out && resp.len)
		err = dw_json_parse(out, resp.ptr, resp.len,
				    "docker API response");
	else
		err = 0;
out:
	if (hdrs)
		dl.slist_free_all(hdrs);
	dw_buf_release(&url);
	dw_buf_release(&resp);
	dw_buf_release(&req);
	return err;
}

/* A download's body: to the file when the answer is 2xx, else kept (a
 * few KiB) for the error's message. */
struct download {
	CURL *curl;
	int fd;
	int ok; /* -1 unknown yet, 0 an error, 1 written to fd */
	int failed_errno;
	uint64_t written;
	struct dw_buf err;
};

static size_t on_download(char *data, size_t size, size_t nmemb, void *ctx)
{
	struct download *dl_ = ctx;
	size_t n = size * nmemb, off = 0;

	if (dl_->ok < 0) {
		long status = 0;

		curl_easy_getinfo(dl_->curl, CURLINFO_RESPONSE_CODE, &status);
		dl_->ok = status >= 200 && status <= 299;
	}
	if (!dl_->ok)
		return dw_buf_add(&dl_->err, data, n) ? 0 : n;
	while (off < n) {
		ssize_t w = write(dl_->fd, data + off, n - off);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			dl_->failed_errno = w < 0 ? errno : ENOSPC;
			return 0;
		}
		off += (size_t)w;
	}
	dl_->written += n;
	return n;
}

int dw_docker_get_file(struct dw_docker *d, const char *path, int fd,
		       uint64_t *written)
{
	struct download x = {d->curl, fd, -1, 0, 0, DW_BUF_INIT};
	struct dw_buf url = DW_BUF_INIT;
	long status = 0;
	CURLcode rc;
	int err = 0;

	*written = 0;
	dw_buf_init(&x.err, 64u << 10);
	dw_buf_addf(&url, "http://docker%s", path);
	curl_easy_reset(d->curl);
	curl_easy_setopt(d->curl, CURLOPT_UNIX_SOCKET_PATH, d->socket);
	curl_easy_setopt(d->curl, CURLOPT_URL, url.ptr);
	curl_easy_setopt(d->curl, CURLOPT_WRITEFUNCTION, on_download);
	curl_easy_setopt(d->curl, CURLOPT_WRITEDATA, &x);
	curl_easy_setopt(d->curl, CURLOPT_CONNECTTIMEOUT_MS, 5000L);
	/* As long as it takes, while it moves: stalled a whole timeout,
	 * it fails. */
	curl_easy_setopt(d->curl, CURLOPT_LOW_SPEED_LIMIT, 1L);
	curl_easy_setopt(d->curl, CURLOPT_LOW_SPEED_TIME,
			 (d->timeout_ms + 999) / 1000);
	curl_easy_setopt(d->curl, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(d->curl, CURLOPT_FOLLOWLOCATION, 0L);
	rc = curl_easy_perform(d->curl);
	curl_easy_getinfo(d->curl, CURLINFO_RESPONSE_CODE, &status);
	if (rc == CURLE_COULDNT_CONNECT)
		err = dw_error_set(DW_EUNREACHABLE,
				   "cannot reach the docker daemon at %s "
				   "(is dockerd running?)",
				   d->socket);
	else if (x.failed_errno)
		err = dw_error_errno(DW_EIO, x.failed_errno,
				     "cannot write what docker sent for %s",
				     path);
	else if (status && (status < 200 || status > 299))
		err = http_error(status, x.err.ptr, x.err.len, path);
	else if (rc != CURLE_OK)
		err = dw_error_set(DW_EUNREACHABLE,
				   "docker request %s failed after %llu "
				   "bytes: %s",
				   path, (unsigned long long)x.written,
				   curl_easy_strerror(rc));
	*written = x.written;
	dw_buf_release(&x.err);
	dw_buf_release(&url);
	return err;
}

void dw_docker_set_timeout(struct dw_docker *d, long ms)
{
	d->timeout_ms = ms > 0 ? ms : 120000L;
}

int dw_docker_timed_out(const struct dw_docker *d)
{
	return d->timed_out;
}

int dw_docker_get_json(struct dw_docker *d, json_t **out, const char *path)
{
	int err;

	err = request(d, out, path, 0, NULL);
	if (!err && !*out)
		err = dw_error_set(DW_EINVAL, "docker sent no answer to %s",
				   path);
	return err;
}

int dw_docker_post_json(struct dw_docker *d, json_t **out, const char *path,
			const json_t *body)
{
	return request(d, out, path, 1, body);
}

char *dw_docker_escape(struct dw_docker *d, const char *s)
{
	char *e, *out;

	if (dw_lazy_load(&libcurl) || !d->curl)
		return NULL;
	e = curl_easy_escape(d->curl, s, 0);
	if (!e)
		return NULL;
	out = dw_xstrdup(e);
	curl_free(e);
	return out;
}

void dw_docker_set_host_root(struct dw_docker *d, const char *root)
{
	free(d->host_root);
	d->host_root =
		root && *root && strcmp(root, "/") ? dw_xstrdup(root) : NULL;
}

const char *dw_docker_host_root(const struct dw_docker *d)
{
	return d->host_root;
}

void dw_docker_set_store(struct dw_docker *d, struct dw_store *s)
{
	d->store = s;
}

struct dw_store *dw_docker_store(const struct dw_docker *d)
{
	return d->store;
}

const char *dw_docker_root_dir(struct dw_docker *d)
{
	json_t *info = NULL;
	const char *dir;

	if (d->root_dir)
		return d->root_dir;
	if (dw_docker_get_json(d, &info, "/info"))
		return NULL;
	dir = dw_json_path_str(info, "DockerRootDir");
	if (dir && *dir == '/')
		d->root_dir = dw_xstrdup(dir);
	json_decref(info);
	if (!d->root_dir)
		dw_error_set(DW_EINVAL, "docker info has no DockerRootDir");
	return d->root_dir;
}

int dw_http_post(const char *url, const char *body, size_t len,
		 const char *const *headers, long timeout_ms, long *status)
{
	return dw_http_post_answer(url, body, len, headers, timeout_ms, status,
				   NULL, NULL, NULL);
}

/* A request ends when *stop is set (a reload, a shutdown). */
static int on_post_progress(void *ctx, curl_off_t dt, curl_off_t dn,
			    curl_off_t ut, curl_off_t un)
{
	(void)dt;
	(void)dn;
	(void)ut;
	(void)un;
	return __atomic_load_n((const int *)ctx, __ATOMIC_RELAXED) ? 1 : 0;
}

int dw_http_post_answer(const char *url, const char *body, size_t len,
			const char *const *headers, long timeout_ms,
			long *status, struct dw_buf *answer,
			long *retry_after_s, const int *stop)
{
	struct curl_slist *hdrs = NULL;
	struct dw_buf resp = DW_BUF_INIT;
	CURL *c;
	CURLcode rc;
	int err = 0;

	*status = 0;
	if (retry_after_s)
		*retry_after_s = 0;
	if (strncmp(url, "http://", 7) && strncmp(url, "https://", 8))
		return dw_error_set(DW_EINVAL,
				    "a webhook must be an http:// or https:// "
				    "URL (its path is a secret: not shown)");
	err = dw_lazy_load(&libcurl);
	if (err)
		return err;
	c = curl_easy_init();
	if (!c)
		return dw_error_set(DW_ERROR, "cannot initialise libcurl");
	dw_buf_init(&resp, 1 << 20);
	hdrs = dl.slist_append(hdrs, "Content-Type: application/json");
	for (; headers && *headers; headers++)
		hdrs = dl.slist_append(hdrs, *headers);
	if (stop) {
		curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, on_post_progress);
		curl_easy_setopt(c, CURLOPT_XFERINFODATA, stop);
		curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
	}
	rc = perform(c, url, 1, body, len, hdrs, timeout_ms, &resp);
	/* An answer past 1 MiB is cut, not a failure: a 2xx is taken. */
	if (rc == CURLE_WRITE_ERROR && answer) {
		curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, status);
		if (*status >= 200 && *status <= 299)
			rc = CURLE_OK;
	}
	if (rc == CURLE_ABORTED_BY_CALLBACK)
		err = dw_error_set(DW_EUNREACHABLE, "stopping");
	else if (rc != CURLE_OK)
		err = dw_error_set(DW_EUNREACHABLE, "%s",
				   curl_easy_strerror(rc));
	else {
		curl_off_t after = 0;

		curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, status);
		if (retry_after_s &&
		    curl_easy_getinfo(c, CURLINFO_RETRY_AFTER, &after) ==
			    CURLE_OK &&
		    after > 0)
			*retry_after_s = after > 86400 ? 86400 : (long)after;
		if (answer)
			dw_buf_add(answer, resp.ptr ? resp.ptr : "", resp.len);
	}
	dl.slist_free_all(hdrs);
	curl_easy_cleanup(c);
	dw_buf_release(&resp);
	return err;
}
