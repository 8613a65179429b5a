/* Docker Engine API client: the only user of libcurl for Docker. */
#define CURL_DISABLE_TYPECHECK
#include <curl/curl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

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
		     hdrs, 120000L, &resp);
	if (rc == CURLE_COULDNT_CONNECT) {
		err = dw_error_set(DW_EUNREACHABLE,
				   "cannot reach the docker daemon at %s "
				   "(is dockerd running?)",
				   d->socket);
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

static char *dup_or_empty(const char *s)
{
	return dw_xstrdup(s ? s : "");
}

static void split_lowers(struct dw_container_layers *l, const char *s)
{
	size_t alloc = 0;

	while (s && *s) {
		const char *colon = strchr(s, ':');
		size_t n = colon ? (size_t)(colon - s) : strlen(s);

		if (n) {
			DW_ALLOC_GROW(l->lowers, l->nlowers + 1, alloc);
			l->lowers[l->nlowers++] = dw_xstrndup(s, n);
		}
		s += n + (colon != NULL);
	}
}

/*
 * Where the container writes outside its layers: volumes, bind mounts
 * and tmpfs mounts (Mounts[] and HostConfig.Tmpfs), their destinations
 * joined with ", "; "" when none.
 */
static char *outside_layers(json_t *j)
{
	struct dw_buf b = DW_BUF_INIT;
	json_t *m, *v;
	const char *key;
	size_t i;

	json_array_foreach(json_object_get(j, "Mounts"), i, m)
	{
		const char *dst = dw_json_path_str(m, "Destination");
		const char *type = dw_json_path_str(m, "Type");

		if (dst)
			dw_buf_addf(&b, "%s%s (%s)", b.len ? ", " : "", dst,
				    type ? type : "mount");
	}
	json_object_foreach(dw_json_path(j, "HostConfig.Tmpfs"), key, v)
		dw_buf_addf(&b, "%s%s (tmpfs)", b.len ? ", " : "", key);
	if (!b.len)
		dw_buf_adds(&b, "");
	return dw_buf_detach(&b, NULL);
}

/* Which file holds a container's log, and in which format. */
static void log_file(struct dw_container_layers *l, json_t *j)
{
	const char *hostname = dw_json_path_str(j, "HostnamePath");
	const char *cache = dw_json_path_str(
		j, "HostConfig.LogConfig.Config.cache-disabled");
	const char *slash;
	struct dw_buf p = DW_BUF_INIT;

	if (!strcmp(l->log_driver, "json-file")) {
		free(l->log_path);
		l->log_path = dup_or_empty(dw_json_path_str(j, "LogPath"));
		return;
	}
	/* The container's own dir, where Docker keeps its hostname file. */
	if (!*l->log_driver || !strcmp(l->log_driver, "none") || !hostname ||
	    !(slash = strrchr(hostname, '/'))) {
		l->log_gap = "keeps no copy to read";
		return;
	}
	if (cache && !strcmp(cache, "true")) {
		l->log_gap = "keeps no copy to read (cache-disabled: true)";
		return;
	}
	dw_buf_add(&p, hostname, (size_t)(slash - hostname));
	if (!strcmp(l->log_driver, "local")) {
		dw_buf_adds(&p, "/local-logs/container.log");
	} else {
		struct stat st;

		/*
		 * Docker keeps the dual-logging cache only for drivers that
		 * cannot read their own logs back: journald and some plugins
		 * have none. No cache file at start: nothing to read, said.
		 */
		dw_buf_adds(&p, "/container-cached.log");
		if (stat(p.ptr, &st)) {
			l->log_gap = "is not read (no dual-logging cache "
				     "container-cached.log)";
			dw_buf_release(&p);
			return;
		}
	}
	free(l->log_path);
	l->log_path = dw_buf_detach(&p, NULL);
	l->log_local = 1;
}

static int fill_layers(struct dw_container_layers *l, json_t *j,
		       const char *ref)
{
	const char *driver = dw_json_path_str(j, "GraphDriver.Name");
	const char *upper = dw_json_path_str(j, "GraphDriver.Data.UpperDir");
	const char *name = dw_json_path_str(j, "Name");

	if (!driver)
		return dw_error_set(DW_EINVAL,
				    "docker inspect of %s has no GraphDriver",
				    ref);
	if (strcmp(driver, "overlay2") && strcmp(driver, "overlay"))
		return dw_error_set(DW_EUNSUPPORTED,
				    "container %s uses the %s storage driver; "
				    "only overlay2 is supported",
				    ref, driver);
	if (!upper)
		return dw_error_set(
			DW_EINVAL, "docker inspect of %s has no UpperDir", ref);
	memset(l, 0, sizeof(*l));
	l->id = dup_or_empty(dw_json_path_str(j, "Id"));
	l->name = dup_or_empty(name && name[0] == '/' ? name + 1 : name);
	l->image = dup_or_empty(dw_json_path_str(j, "Config.Image"));
	l->driver = dw_xstrdup(driver);
	l->upper = dw_xstrdup(upper);
	split_lowers(l, dw_json_path_str(j, "GraphDriver.Data.LowerDir"));
	l->labels = json_object_get(json_object_get(j, "Config"), "Labels");
	l->labels = json_is_object(l->labels) ? json_deep_copy(l->labels)
					      : json_object();
	l->read_only = json_is_true(json_object_get(
		json_object_get(j, "HostConfig"), "ReadonlyRootfs"));
	l->running = json_is_true(
		json_object_get(json_object_get(j, "State"), "Running"));
	l->log_driver =
		dup_or_empty(dw_json_path_str(j, "HostConfig.LogConfig.Type"));
	l->log_path = dup_or_empty(NULL);
	log_file(l, j);
	l->mounts = outside_layers(j);
	return 0;
}

int dw_docker_container_layers(struct dw_docker *d,
			       struct dw_container_layers *out, const char *ref)
{
	struct dw_buf path = DW_BUF_INIT;
	json_t *j = NULL;
	char *esc;
	int err;

	if (!*ref)
		return dw_error_set(DW_EINVAL, "empty container name");
	esc = curl_easy_escape(d->curl, ref, 0);
	if (!esc)
		return dw_error_set(DW_ERROR, "cannot escape '%s'", ref);
	dw_buf_addf(&path, "/containers/%s/json", esc);
	curl_free(esc);
	err = dw_docker_get_json(d, &j, path.ptr);
	if (err == DW_ENOTFOUND)
		err = dw_error_set(DW_ENOTFOUND, "no such container: %s", ref);
	if (!err)
		err = fill_layers(out, j, ref);
	json_decref(j);
	dw_buf_release(&path);
	return err;
}

void dw_container_layers_release(struct dw_container_layers *l)
{
	size_t i;

	free(l->id);
	free(l->name);
	free(l->image);
	free(l->driver);
	free(l->upper);
	for (i = 0; i < l->nlowers; i++)
		free(l->lowers[i]);
	free(l->lowers);
	json_decref(l->labels);
	free(l->log_path);
	free(l->log_driver);
	free(l->mounts);
	memset(l, 0, sizeof(*l));
}

int dw_http_post(const char *url, const char *body, size_t len,
		 const char *const *headers, long timeout_ms, long *status)
{
	struct curl_slist *hdrs = NULL;
	struct dw_buf resp = DW_BUF_INIT;
	CURL *c;
	CURLcode rc;
	int err = 0;

	*status = 0;
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
	rc = perform(c, url, 1, body, len, hdrs, timeout_ms, &resp);
	if (rc != CURLE_OK)
		err = dw_error_set(DW_EUNREACHABLE, "%s",
				   curl_easy_strerror(rc));
	else
		curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, status);
	dl.slist_free_all(hdrs);
	curl_easy_cleanup(c);
	dw_buf_release(&resp);
	return err;
}
