/* The live monitor: a changed file is hashed, checked for ELF and scanned for
 * secrets. */
#include <sys/mman.h>

#include "driftwatch/safeopen.h"
#include "monitor_int.h"

#include "driftwatch/banned.h"

/* The monitoring path never waits long on one file (as in-process). */
#define SCAN_BUDGET_MS 2000

struct analysis {
	struct rescan *r;
	const char *path;
};

static int on_secret(const struct dw_finding *f, void *ctx)
{
	struct analysis *a = ctx;
	struct rescan *r = a->r;
	struct dw_leak_src src = {r->c->id,
				  r->c->name,
				  a->path,
				  strlen(a->path),
				  DW_SOURCE_CONTAINER_FILE,
				  0,
				  NULL};

	if (r->m->on_leak)
		r->m->on_leak(f, &src, r->m->leak_ctx);
	return 0;
}

/*
 * Scan the file in the scanner process. A file that kills it (twice) is
 * the container's doing: its secrets facet is degraded, naming the file
 * and its hash, with one alert; the monitor goes on.
 */
static void boxed_scan(struct rescan *r, int fd, const char *path,
		       uint64_t size, EVP_MD_CTX *h, struct analysis *a)
{
	struct dw_monitor *m = r->m;
	const char *base = strrchr(path, '/');
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	char hex[2 * EVP_MAX_MD_SIZE + 1], detail[900], why[400];
	struct dw_buf shown = DW_BUF_INIT;
	EVP_MD_CTX *copy;
	int timed_out = 0,
	    err = dw_sandbox_scan_fd(m->sandbox, fd, size, SCAN_BUDGET_MS,
				     base ? base + 1 : path, &timed_out,
				     on_secret, a);

	if (!err && !timed_out)
		return;
	copy = EVP_MD_CTX_new();
	EVP_MD_CTX_copy_ex(copy, h);
	EVP_DigestFinal_ex(copy, md, &mdlen);
	EVP_MD_CTX_free(copy);
	dw_hex(hex, md, mdlen);
	/* The name is the container's: escaped, and cut. */
	dw_escape_path(&shown, path, strlen(path) < 300 ? strlen(path) : 300);
	/* Cut at its time budget, or at the findings one file may bring
	 * (DW_EIO: those up to there were told); else not scanned. */
	if (!err)
		snprintf(why, sizeof(why), "its %d ms time budget ran out",
			 SCAN_BUDGET_MS);
	else
		snprintf(why, sizeof(why), "%s", dw_error_last());
	snprintf(detail, sizeof(detail),
		 "%s for secrets: %s (sha256:%s, %llu "
		 "bytes): %s",
		 !err || err == DW_EIO ? "scanned in part" : "not scanned",
		 shown.ptr, hex, (unsigned long long)size, why);
	mon_cover(m, r->c, DW_FACET_SECRETS, DW_COVER_DEGRADED,
		  !err || err == DW_EIO ? DW_REASON_SIZE_BUDGET
					: DW_REASON_SCANNER_KILLED,
		  detail);
	dw_log_error("container %s: %s", r->c->name, detail);
	dw_buf_release(&shown);
}

/*
 * What the scanner process reads: a sealed copy of the bytes hashed here,
 * never the container's file itself, which the container can change
 * between the hash and the scan (a write through a shared mapping raises
 * no inotify event): the record's hash would then vouch for content that
 * was not scanned, and the next rescan, finding that hash again, would
 * not look. -1 when no copy can be made (said once in the log).
 */
static int scan_copy(void)
{
	static int said;
	int fd = memfd_create("driftwatch-scan",
			      MFD_CLOEXEC | MFD_ALLOW_SEALING);

	if (fd < 0 && !said++)
		dw_log_error("cannot copy files for the scanner (memfd_create: "
			     "%s): it reads them in place, where a container "
			     "can change them under the scan",
			     strerror(errno));
	return fd;
}

/* The copy is complete: nothing may change it now (the scanner gets it
 * read-write, as memfds are). */
static int seal_copy(int fd)
{
	return fcntl(fd, F_ADD_SEALS,
		     F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE | F_SEAL_SEAL);
}

/* A copy that could not be made whole (no memory for it): this file is
 * read in place, and the log says so, once (files written while memory
 * is short would otherwise each add a line). */
static int drop_copy(int fd)
{
	static int said;

	if (!said++)
		dw_log_error("cannot copy a file for the scanner (%s): it "
			     "reads such files in place",
			     strerror(errno));
	close(fd);
	return -1;
}

/*
 * Hash a new or changed regular file, tell whether it is ELF, and scan it
 * for secrets. Returns 1 when it is ELF, 0 when not, -1 when not read
 * (gone, no longer a regular file, or over the size cap); `*sha256`
 * gets its SHA-256 in hex (the caller frees it).
 */
int mon_analyse_file(struct rescan *r, const char *path, char **sha256)
{
	struct dw_monitor *m = r->m;
	unsigned char md[EVP_MAX_MD_SIZE], head[4] = {0};
	unsigned int mdlen = 0;
	size_t got = 0;
	struct analysis a = {r, path};
	struct stat st;
	EVP_MD_CTX *h;
	int root, fd, err = 0, boxed = 0, copy = -1,
		      scan = m->scanner && m->pol->scan_secrets;
	char hex[2 * EVP_MAX_MD_SIZE + 1];

	root = open(r->c->upper, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (root < 0)
		return -1;
	/* O_PATH first: a device node or FIFO the container made (or swapped
	 * in) is never opened, only a regular file is (safeopen.h). */
	fd = mon_open_rel(root, path + 1, O_PATH);
	close(root);
	if (fd < 0)
		return -1;
	fd = dw_reopen_regular(fd, path, DW_OPEN_NOATIME, &st);
	if (fd < 0)
		return -1;
	if ((uint64_t)st.st_size > m->pol->max_file_size) {
		/* Too big to hash or scan, never too big to be an ELF: its
		 * header is read whatever the size (a 20 MB binary is still
		 * critical, and no path glob may allow it as "not ELF"). */
		ssize_t hn = pread(fd, head, 4, 0);

		close(fd);
		return hn == 4 && !memcmp(head, "\177ELF", 4);
	}
	h = EVP_MD_CTX_new();
	EVP_DigestInit_ex(h, EVP_sha256(), NULL);
	/* In the scanner process, once hashed here (pread: our offset). */
	if (scan && m->sandbox)
		scan = 0, boxed = 1, copy = scan_copy();
	if (scan) {
		dw_scan_name(m->scanner, path);
		dw_scan_begin(m->scanner, 1, on_secret, &a);
	}
	for (;;) {
		char local[64 * 1024], *p = local;
		size_t room = sizeof(local);
		ssize_t n;

		if (scan)
			p = dw_scan_reserve(m->scanner, &room);
		n = read(fd, p, room);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			err = n < 0;
			break;
		}
		if (got < 4)
			memcpy(head + got, p,
			       (size_t)n < 4 - got ? (size_t)n : 4 - got);
		got += (size_t)n;
		EVP_DigestUpdate(h, p, (size_t)n);
		if (copy >= 0 && dw_write_all(copy, p, (size_t)n))
			copy = drop_copy(copy);
		if (scan && dw_scan_commit(m->scanner, (size_t)n))
			scan = 0;
		if (got > m->pol->max_file_size)
			break;
	}
	if (scan)
		dw_scan_finish(m->scanner);
	/* An empty file holds no secret: no round trip to the scanner. */
	if (copy >= 0 && !err && seal_copy(copy))
		copy = drop_copy(copy);
	if (boxed && !err && got > 0)
		boxed_scan(r, copy >= 0 ? copy : fd, path, got, h, &a);
	if (copy >= 0)
		close(copy);
	close(fd);
	EVP_DigestFinal_ex(h, md, &mdlen);
	EVP_MD_CTX_free(h);
	if (err)
		return -1;
	dw_hex(hex, md, mdlen);
	*sha256 = dw_xstrdup(hex);
	return got >= 4 && !memcmp(head, "\177ELF", 4);
}
