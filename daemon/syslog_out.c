/*
 * driftwatchd: the syslog output. Each row of the feed as an RFC 5424
 * message (its ids in structured data, the ECS document as MSG), framed
 * by octet counting (RFC 6587) over TCP, or over TLS (RFC 5425) with the
 * configured CA and an optional client certificate.
 *
 * TCP cannot say what the receiver took. A batch counts as sent when the
 * kernel has the receiver's acknowledgement of all its bytes (the send
 * queue is empty, SIOCOUTQ); outputs.c sends the last 8 MiB of a lost
 * connection again (at least once; the receiver can drop what it has by
 * event.id).
 */
#include <arpa/inet.h>
#include <netdb.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <linux/sockios.h>
#include <netinet/in.h>
#include <netinet/tcp.h>

#include "daemon.h"
#include "ecs.h"
#include "syslog_out.h"
#include "driftwatch/clock.h"

#include "driftwatch/banned.h"

struct dwd_syslog {
	int fd;
	SSL_CTX *ctx;
	SSL *ssl;
};

static const char *str(const json_t *o, const char *key)
{
	return json_string_value(json_object_get(o, key));
}

/*
 * A PARAM-VALUE: '"', '\' and ']' escaped (RFC 5424 6.3.3); control
 * characters, which the RFC leaves raw and line-based receivers split
 * on, become '?' (the exact value is in MSG, JSON-escaped).
 */
static void sd_param(struct dw_buf *b, const char *name, const char *v)
{
	if (!v)
		return;
	dw_buf_addf(b, " %s=\"", name);
	for (; *v; v++) {
		if (*v == '"' || *v == '\\' || *v == ']')
			dw_buf_addch(b, '\\');
		dw_buf_addch(b, (unsigned char)*v < 32 || *v == 127 ? '?' : *v);
	}
	dw_buf_addch(b, '"');
}

/* PRINTUSASCII, at most `max`, for the header's fields. */
static void header_field(struct dw_buf *b, const char *v, size_t max)
{
	size_t n = 0;

	for (; v && *v && n < max; v++, n++)
		dw_buf_addch(b, *v > 32 && *v < 127 ? *v : '_');
	if (!n)
		dw_buf_addch(b, '-');
}

int dwd_syslog_severity(int sev)
{
	/* info, notice, warning, err, crit */
	static const int map[] = {6, 5, 4, 3, 2};

	return map[sev];
}

void dwd_syslog_message(struct dw_buf *out, const json_t *doc, int facility,
			const char *sd_id, const char *host, int pid)
{
	struct dw_buf m = DW_BUF_INIT;
	const json_t *dw = json_object_get(doc, "driftwatch");
	const json_t *ev = json_object_get(doc, "event");
	int sev = dwd_ecs_doc_severity(doc);
	char id[32];

	dw_buf_addf(&m, "<%d>1 ", facility * 8 + dwd_syslog_severity(sev));
	header_field(&m, str(doc, "@timestamp"), 64);
	dw_buf_addch(&m, ' ');
	header_field(&m, host, 255);
	dw_buf_addf(&m, " driftwatchd %d ", pid);
	header_field(&m,
		     str(ev, "action") ? str(ev, "action") : str(ev, "dataset"),
		     32);
	dw_buf_addf(&m, " [%s", sd_id);
	sd_param(&m, "event_id", str(ev, "id"));
	sd_param(&m, "table", str(dw, "table"));
	snprintf(id, sizeof(id), "%lld",
		 (long long)json_integer_value(json_object_get(dw, "id")));
	sd_param(&m, "id", id);
	sd_param(&m, "kind", str(dw, "kind"));
	sd_param(&m, "severity", dw_severity_name(sev));
	sd_param(&m, "container_id",
		 str(json_object_get(doc, "container"), "id"));
	sd_param(&m, "container",
		 str(json_object_get(doc, "container"), "name"));
	sd_param(&m, "path", str(json_object_get(doc, "file"), "path"));
	dw_buf_adds(&m, "] ");
	dw_json_dump(&m, doc, JSON_PRESERVE_ORDER);
	dw_buf_add(out, m.ptr, m.len);
	dw_buf_release(&m);
}

void dwd_syslog_format(struct dw_buf *out, const json_t *doc, int facility,
		       const char *sd_id, const char *host, int pid)
{
	struct dw_buf m = DW_BUF_INIT;

	dwd_syslog_message(&m, doc, facility, sd_id, host, pid);
	/* Octet counting: the length, a space, the message. */
	dw_buf_addf(out, "%zu ", m.len);
	dw_buf_add(out, m.ptr, m.len);
	dw_buf_release(&m);
}

/* ---- the connection ---- */

void dwd_syslog_close(struct dwd_syslog **pp)
{
	struct dwd_syslog *c = *pp;

	if (!c)
		return;
	if (c->ssl) {
		SSL_shutdown(c->ssl); /* close_notify, not waited for */
		SSL_free(c->ssl);
	}
	if (c->ctx)
		SSL_CTX_free(c->ctx);
	if (c->fd >= 0)
		close(c->fd);
	free(c);
	*pp = NULL;
}

static int ssl_error(const char *what)
{
	char e[256] = "";
	unsigned long code = ERR_get_error();

	if (code)
		ERR_error_string_n(code, e, sizeof(e));
	ERR_clear_error();
	return dw_error_set(DW_EUNREACHABLE, "%s%s%s", what, *e ? ": " : "", e);
}

/* Connected within `timeout_ms`, or an error. */
static int tcp_connect(const char *host, const char *port, long timeout_ms,
		       int *out)
{
	struct addrinfo hints = {0}, *res = NULL, *a;
	int rc, fd = -1, err = 0;

	hints.ai_socktype = SOCK_STREAM;
	rc = getaddrinfo(host, port, &hints, &res);
	if (rc)
		return dw_error_set(DW_EUNREACHABLE, "cannot resolve %s: %s",
				    host, gai_strerror(rc));
	for (a = res; a; a = a->ai_next) {
		struct pollfd p;

		fd = socket(a->ai_family,
			    a->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK,
			    a->ai_protocol);
		if (fd < 0)
			continue;
		if (connect(fd, a->ai_addr, a->ai_addrlen) == 0)
			break;
		p.fd = fd;
		p.events = POLLOUT;
		if (errno == EINPROGRESS && poll(&p, 1, (int)timeout_ms) == 1) {
			socklen_t len = sizeof(err);

			if (!getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) &&
			    !err)
				break;
			errno = err ? err : ETIMEDOUT;
		} else if (errno == EINPROGRESS)
			errno = ETIMEDOUT;
		err = errno;
		close(fd);
		fd = -1;
	}
	freeaddrinfo(res);
	if (fd < 0)
		return dw_error_set(DW_EUNREACHABLE, "cannot connect: %s",
				    strerror(err ? err : ECONNREFUSED));
	*out = fd;
	return 0;
}

/* Wait until `fd` is ready for `events` (ms); 0 ready, -1 not in time. */
static int wait_fd(int fd, short events, long long deadline)
{
	struct pollfd p = {fd, events, 0};
	long long left = deadline - dw_mono_ms();

	if (left <= 0)
		return -1;
	return poll(&p, 1, (int)left) == 1 ? 0 : -1;
}

static int tls_start(struct dwd_syslog *c, const struct dw_output_cfg *cfg,
		     const char *host, long long deadline)
{
	int rc;

	c->ctx = SSL_CTX_new(TLS_client_method());
	if (!c->ctx)
		return ssl_error("TLS");
	SSL_CTX_set_min_proto_version(c->ctx, TLS1_2_VERSION);
	SSL_CTX_set_verify(c->ctx, SSL_VERIFY_PEER, NULL);
	if ((cfg->ca && *cfg->ca
		     ? SSL_CTX_load_verify_locations(c->ctx, cfg->ca, NULL)
		     : SSL_CTX_set_default_verify_paths(c->ctx)) != 1)
		return ssl_error("cannot load the CA");
	if (cfg->cert && *cfg->cert &&
	    (SSL_CTX_use_certificate_chain_file(c->ctx, cfg->cert) != 1 ||
	     SSL_CTX_use_PrivateKey_file(
		     c->ctx, cfg->key && *cfg->key ? cfg->key : cfg->cert,
		     SSL_FILETYPE_PEM) != 1))
		return ssl_error("cannot load the client certificate");
	c->ssl = SSL_new(c->ctx);
	if (!c->ssl || SSL_set_fd(c->ssl, c->fd) != 1)
		return ssl_error("TLS");
	/* The receiver's name, or its address (in a SAN), must be in its
	 * certificate; a name goes as SNI too (an address may not). */
	{
		unsigned char a[16];
		int ip = inet_pton(AF_INET, host, a) == 1 ||
			 inet_pton(AF_INET6, host, a) == 1;

		if (ip ? X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(c->ssl),
						       host) != 1
		       : (SSL_set_tlsext_host_name(c->ssl, host) != 1 ||
			  X509_VERIFY_PARAM_set1_host(SSL_get0_param(c->ssl),
						      host, 0) != 1))
			return ssl_error("TLS");
	}
	for (;;) {
		rc = SSL_connect(c->ssl);
		if (rc == 1)
			return 0;
		rc = SSL_get_error(c->ssl, rc);
		if ((rc != SSL_ERROR_WANT_READ && rc != SSL_ERROR_WANT_WRITE) ||
		    wait_fd(c->fd, rc == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT,
			    deadline))
			break;
	}
	rc = (int)SSL_get_verify_result(c->ssl);
	if (rc != X509_V_OK)
		return dw_error_set(DW_EUNREACHABLE,
				    "TLS: the receiver's certificate is not "
				    "trusted: %s",
				    X509_verify_cert_error_string(rc));
	return ssl_error("TLS handshake failed");
}

void dwd_syslog_address(const char *a, char host[256], char port[16])
{
	const char *colon = strrchr(a, ':');

	/* HOST:PORT, [V6]:PORT (checked when the configuration loaded). */
	if (*a == '[')
		snprintf(host, 256, "%.*s", (int)(colon - a - 2), a + 1);
	else
		snprintf(host, 256, "%.*s", (int)(colon - a), a);
	snprintf(port, 16, "%s", colon + 1);
}

int dwd_syslog_open(struct dwd_syslog **out, const struct dw_output_cfg *cfg,
		    long timeout_ms)
{
	struct dwd_syslog *c = dw_xcalloc(1, sizeof(*c));
	char host[256], port[16];
	int err, one = 1;
	long long deadline = dw_mono_ms() + timeout_ms;

	c->fd = -1;
	dwd_syslog_address(cfg->path, host, port);
	err = tcp_connect(host, port, timeout_ms, &c->fd);
	if (!err)
		setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (!err && DW_SYSLOG_IS_TLS(cfg->transport))
		err = tls_start(c, cfg, host, deadline);
	if (err) {
		dwd_syslog_close(&c);
		return err;
	}
	*out = c;
	return 0;
}

/* After an SSL call returned `rc`: 0 ready to try again, 1 not in time,
 * -1 an error (in OpenSSL's queue). */
static int ssl_wait(struct dwd_syslog *c, int rc, long long deadline)
{
	rc = SSL_get_error(c->ssl, rc);
	if (rc != SSL_ERROR_WANT_READ && rc != SSL_ERROR_WANT_WRITE)
		return -1;
	return wait_fd(c->fd, rc == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT,
		       deadline)
		       ? 1
		       : 0;
}

int dwd_syslog_write(struct dwd_syslog *c, const char *p, size_t n,
		     long long deadline, const int *stop)
{
	while (n) {
		if (stop && __atomic_load_n(stop, __ATOMIC_RELAXED))
			return dw_error_set(DW_EUNREACHABLE, "stopping");
		ssize_t w;

		if (c->ssl) {
			size_t done = 0;
			int rc = SSL_write_ex(c->ssl, p, n, &done);

			if (rc == 1) {
				p += done;
				n -= done;
				continue;
			}
			if (!ssl_wait(c, rc, deadline))
				continue;
			return ssl_error("cannot send");
		}
		w = send(c->fd, p, n, MSG_NOSIGNAL);
		if (w > 0) {
			p += w;
			n -= (size_t)w;
			continue;
		}
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0 && errno == EAGAIN &&
		    !wait_fd(c->fd, POLLOUT, deadline))
			continue;
		return dw_error_set(DW_EUNREACHABLE, "cannot send: %s",
				    w < 0 && errno != EAGAIN
					    ? strerror(errno)
					    : "the receiver does not read");
	}
	return 0;
}

int dwd_syslog_read(struct dwd_syslog *c, char *p, size_t size, size_t *got,
		    long long deadline, const int *stop)
{
	for (;;) {
		ssize_t r;
		int one = 1;

		/* Acknowledged at once: a receiver that answers in small
		 * writes (RELP) waits for the acknowledgement of one before
		 * it sends the next (Nagle), and a delayed one costs 40 ms
		 * whenever this side has nothing to send. Linux resets it:
		 * set before each read. */
		setsockopt(c->fd, IPPROTO_TCP, TCP_QUICKACK, &one, sizeof(one));

		if (stop && __atomic_load_n(stop, __ATOMIC_RELAXED))
			return dw_error_set(DW_EUNREACHABLE, "stopping");
		if (c->ssl) {
			int rc = SSL_read_ex(c->ssl, p, size, got);

			if (rc == 1)
				return 0;
			if (SSL_get_error(c->ssl, rc) == SSL_ERROR_ZERO_RETURN)
				break;
			rc = ssl_wait(c, rc, deadline);
			if (!rc)
				continue;
			if (rc > 0)
				return dw_error_set(DW_EUNREACHABLE,
						    "the receiver does not "
						    "answer");
			return ssl_error("cannot receive");
		}
		r = recv(c->fd, p, size, 0);
		if (r > 0) {
			*got = (size_t)r;
			return 0;
		}
		if (!r)
			break;
		if (errno == EINTR)
			continue;
		if (errno != EAGAIN)
			return dw_error_set(DW_EUNREACHABLE,
					    "cannot receive: %s",
					    strerror(errno));
		if (wait_fd(c->fd, POLLIN, deadline))
			return dw_error_set(DW_EUNREACHABLE,
					    "the receiver does not answer");
	}
	return dw_error_set(DW_EUNREACHABLE,
			    "the receiver closed the connection");
}

int dwd_syslog_send(struct dwd_syslog *c, const char *p, size_t n,
		    long timeout_ms, const int *stop)
{
	long long deadline = dw_mono_ms() + timeout_ms;
	int q, err = dwd_syslog_write(c, p, n, deadline, stop);

	if (err)
		return err;
	/* Sent when the receiver's kernel has acknowledged every byte. */
	for (;;) {
		struct pollfd pf = {c->fd, POLLIN, 0};

		if (ioctl(c->fd, SIOCOUTQ, &q) < 0)
			return dw_error_set(DW_EUNREACHABLE, "SIOCOUTQ: %s",
					    strerror(errno));
		if (!q)
			return 0;
		/* A receiver that closed says so by a readable socket. */
		if (poll(&pf, 1, 0) == 1 && (pf.revents & (POLLHUP | POLLERR)))
			break;
		if (dw_mono_ms() >= deadline ||
		    (stop && __atomic_load_n(stop, __ATOMIC_RELAXED)))
			break;
		poll(NULL, 0, 5);
	}
	return dw_error_set(DW_EUNREACHABLE,
			    "the receiver did not acknowledge %d bytes", q);
}

int dwd_syslog_quiet(struct dwd_syslog *c)
{
	struct pollfd p = {c->fd, POLLIN, 0};

	return poll(&p, 1, 0) == 0 && (!c->ssl || !SSL_pending(c->ssl));
}

int dwd_syslog_alive(struct dwd_syslog *c)
{
	struct pollfd p = {c->fd, POLLIN, 0};
	char b;
	ssize_t n;

	/* A syslog receiver does not write: readable means closed, but
	 * for what TLS itself sends (session tickets), read by OpenSSL. */
	if (poll(&p, 1, 0) != 1)
		return 1;
	if (c->ssl) {
		int rc = SSL_read(c->ssl, &b, 1);

		ERR_clear_error();
		return rc > 0 ||
		       SSL_get_error(c->ssl, rc) == SSL_ERROR_WANT_READ;
	}
	n = recv(c->fd, &b, 1, MSG_PEEK | MSG_DONTWAIT);
	return n > 0 || (n < 0 && errno == EAGAIN);
}
