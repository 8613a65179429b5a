/* Overlay mounts from /proc/self/mountinfo. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "driftwatch/buf.h"
#include "driftwatch/error.h"
#include "driftwatch/escape.h"
#include "driftwatch/xmalloc.h"
#include "mounts.h"
#include "driftwatch/banned.h"

struct dw_mounts {
	int fd;
	char *skip;
};

/* mountinfo escapes space, tab, newline, '\' and ',' as \ooo. */
static char *unescape(const char *s, size_t n)
{
	char *out = dw_xmalloc(n + 1), *o = out;
	size_t i;

	for (i = 0; i < n; i++) {
		if (s[i] == '\\' && i + 3 < n + 1 && s[i + 1] >= '0' &&
		    s[i + 1] <= '3' && s[i + 2] >= '0' && s[i + 2] <= '7' &&
		    s[i + 3] >= '0' && s[i + 3] <= '7') {
			*o++ = (char)((s[i + 1] - '0') * 64 +
				      (s[i + 2] - '0') * 8 + (s[i + 3] - '0'));
			i += 3;
		} else {
			*o++ = s[i];
		}
	}
	*o = '\0';
	return out;
}

/* overlayfs' lowerdir: ':'-separated, "\:" a literal colon. */
static void split_lowers(struct dw_mount *m, const char *s)
{
	struct dw_buf cur = DW_BUF_INIT;
	size_t alloc = 0;

	for (;; s++) {
		if (*s == '\\' && s[1]) {
			dw_buf_addch(&cur, *++s);
			continue;
		}
		if (*s && *s != ':') {
			dw_buf_addch(&cur, *s);
			continue;
		}
		if (cur.len) {
			DW_ALLOC_GROW(m->lowers, m->nlowers + 1, alloc);
			m->lowers[m->nlowers++] = dw_buf_detach(&cur, NULL);
		}
		if (!*s)
			break;
	}
	dw_buf_release(&cur);
}

static const char *guess_runtime(const char *upper)
{
	if (strstr(upper, "/containerd/"))
		return "containerd";
	if (strstr(upper, "/containers/storage/"))
		return "containers-storage";
	return "overlay";
}

static char *mount_id(const char *upper)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int n = 0;
	char hex[2 * EVP_MAX_MD_SIZE + 1], *id = dw_xmalloc(6 + 16 + 1);

	EVP_Digest(upper, strlen(upper), md, &n, EVP_sha256(), NULL);
	dw_hex(hex, md, n);
	snprintf(id, 6 + 16 + 1, "mount:%.16s", hex);
	return id;
}

static void mount_release(struct dw_mount *m)
{
	size_t j;

	free(m->id);
	free(m->name);
	free(m->runtime);
	free(m->upper);
	for (j = 0; j < m->nlowers; j++)
		free(m->lowers[j]);
	free(m->lowers);
}

/* One mountinfo line into `out`: 1 when it is an overlay with an upper
 * dir, 0 when not, DW_EINVAL when malformed. */
static int parse_line(const char *line, struct dw_mount *out)
{
	const char *f[5], *sep = strstr(line, " - "), *p = line, *opts;
	char *upper = NULL, *lower = NULL;
	size_t i;

	memset(out, 0, sizeof(*out));
	for (i = 0; i < 5; i++) {
		f[i] = p;
		p = strchr(p, ' ');
		if (!p || (sep && p > sep))
			return DW_EINVAL;
		p++;
	}
	if (!sep || strncmp(sep + 3, "overlay ", 8))
		return 0;
	opts = strchr(sep + 11, ' ');
	if (!opts)
		return DW_EINVAL;
	for (p = opts + 1; *p && *p != '\n';) {
		size_t n = strcspn(p, ",\n");

		if (n > 9 && !strncmp(p, "upperdir=", 9) && !upper)
			upper = unescape(p + 9, n - 9);
		else if (n > 9 && !strncmp(p, "lowerdir=", 9) && !lower)
			lower = unescape(p + 9, n - 9);
		else if (n == 9 && !strncmp(p, "userxattr", 9))
			out->userxattr = 1;
		p += n + (p[n] == ',');
	}
	if (!upper || !lower || upper[0] != '/') {
		free(upper);
		free(lower);
		return 0;
	}
	out->upper = upper;
	out->name = unescape(f[4], strcspn(f[4], " "));
	out->runtime = dw_xstrdup(guess_runtime(upper));
	out->id = mount_id(upper);
	split_lowers(out, lower);
	free(lower);
	return 1;
}

int dw_mounts_open(struct dw_mounts **out, const char *skip)
{
	struct dw_mounts *m = dw_xcalloc(1, sizeof(*m));

	m->fd = open("/proc/self/mountinfo", O_RDONLY | O_CLOEXEC);
	if (m->fd < 0) {
		free(m);
		return dw_error_errno(DW_EIO, errno,
				      "cannot open /proc/self/mountinfo");
	}
	dw_mounts_set_skip(m, skip);
	*out = m;
	return 0;
}

void dw_mounts_set_skip(struct dw_mounts *m, const char *skip)
{
	free(m->skip);
	m->skip = skip ? dw_xstrdup(skip) : NULL;
}

void dw_mounts_close(struct dw_mounts *m)
{
	if (!m)
		return;
	close(m->fd);
	free(m->skip);
	free(m);
}

int dw_mounts_fd(const struct dw_mounts *m)
{
	return m->fd;
}

int dw_mounts_parse(char *text, const char *skip, struct dw_mount **out,
		    size_t *n)
{
	size_t alloc = 0, i, nskip = skip ? strlen(skip) : 0;
	char *line, *next;

	*out = NULL;
	*n = 0;
	for (line = text; line && *line; line = next) {
		struct dw_mount mt;

		next = strchr(line, '\n');
		if (next)
			*next++ = '\0';
		if (parse_line(line, &mt) != 1)
			continue;
		if (nskip && !strncmp(mt.upper, skip, nskip) &&
		    (mt.upper[nskip] == '/' || !mt.upper[nskip])) {
			mount_release(&mt);
			continue;
		}
		for (i = 0; i < *n; i++)
			if (!strcmp((*out)[i].id, mt.id))
				break;
		if (i < *n) { /* the same upper mounted twice */
			mount_release(&mt);
			continue;
		}
		DW_ALLOC_GROW(*out, *n + 1, alloc);
		(*out)[(*n)++] = mt;
	}
	return 0;
}

int dw_mounts_scan(struct dw_mounts *m, struct dw_mount **out, size_t *n)
{
	struct dw_buf all = DW_BUF_INIT;
	int err;

	*out = NULL;
	*n = 0;
	/* Reading from the start re-arms the POLLPRI notification. */
	if (lseek(m->fd, 0, SEEK_SET) < 0)
		return dw_error_errno(DW_EIO, errno, "mountinfo");
	err = dw_buf_read_fd(&all, m->fd);
	if (!err)
		err = dw_mounts_parse(all.ptr ? all.ptr : "", m->skip, out, n);
	dw_buf_release(&all);
	return err;
}

void dw_mounts_free_list(struct dw_mount *list, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		mount_release(&list[i]);
	free(list);
}
