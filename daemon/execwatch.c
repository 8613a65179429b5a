/* driftwatchd: execs of files that are not image content (fanotify). */
#include <errno.h>
#include <fcntl.h>
#include <linux/magic.h>
#include <linux/openat2.h>
#include <openssl/evp.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <sys/eventfd.h>
#include <sys/fanotify.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/sysmacros.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "driftwatch/buf.h"
#include "driftwatch/error.h"
#include "driftwatch/escape.h"
#include "driftwatch/xmalloc.h"
#include "execwatch.h"
#include "jobq.h"
#include "log.h"
#include "mounts.h"
#include "procinfo.h"

#include "driftwatch/banned.h"

#define HASHQ_MAX 256 /* files waiting to be hashed */
#define DONE_MAX 1024 /* reports waiting for the loop */
#define HOST_BINS 6
#define EXEC_TIMES 8192
#define PARENTS_MAX 4	 /* the parent chain kept */
#define EVENTS_BUF 16384 /* one read of the group */
#define HOLDS 1024	 /* hold times kept for the percentiles */

enum verdict { V_IMAGE, V_DRIFT, V_UNDECIDED };

struct target {
	char *id, *name, *upper, *mp; /* mp: its mount point */
	dev_t dev;		      /* the overlay superblock's */
	ino_t pidns[8]; /* pid namespaces of its processes, as seen */
	int npidns;
	int *lower; /* O_PATH dirfds, topmost first */
	size_t nlower;
	int enforce;
};

struct dwd_exec {
	int fan, efd, stop_pipe[2];
	pthread_t thread;
	int running;
	uint64_t max_size;
	char *host_root;
	pthread_mutex_t mu; /* what follows */
	struct target *t;
	size_t nt, alloc;
	struct dwd_exec_report *head, *tail;
	size_t ndone;
	struct dwd_exec_stats st;
	long long holds[HOLDS]; /* microseconds, a ring */
	struct dwd_jobq *hashq;
	/* The sweep's (the loop's alone): processes reported, as pid and
	 * start time. */
	struct swept {
		pid_t pid;
		unsigned long long start;
		int reported;
	} * seen;
	size_t nseen, seen_alloc;
	/* The host's binaries a container's process may run from the
	 * host (the loop's): docker-init, which Docker bind-mounts into a
	 * container, and runc, whose init runs from a detached read-only
	 * bind mount of itself (or a memfd copy: then by content).
	 * Stat again each sweep: a package upgrade replaces them. */
	struct host_bin {
		dev_t dev;
		ino_t ino;
		long long ctime_ns;
		off_t size;
		int found;
		char sha[65]; /* runc's; "" for docker-init */
	} bins[HOST_BINS];
	/* Files run in containers, decided once each (the loop's). */
	struct exe_key {
		dev_t tdev, dev; /* the target's overlay, the file's */
		ino_t ino;
		long long ctime_ns;
	} * exes;
	size_t nexes, exes_alloc;
	/* Files whose exec the answering thread reported (under mu): the
	 * sweep does not report them again. A ring. */
	struct exe_key execd[1024];
	size_t nexecd;
	ino_t own_pidns; /* driftwatchd's: never learned for a container */
	/* When a process last exec'd (under mu): the latest time of the
	 * pids of each bucket (pid % EXEC_TIMES), so that a collision only
	 * makes it later (writer attribution asks, dwd_exec_last_us()). */
	long long exec_times[EXEC_TIMES];
};

static long long wall_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (long long)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static long long mono_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

void dwd_exec_free(struct dwd_exec_report *r)
{
	if (!r)
		return;
	if (r->fd >= 0)
		close(r->fd);
	free(r->id);
	free(r->name);
	free(r->path);
	json_decref(r->detail);
	free(r);
}

/* ---- the decision ---- */

/*
 * Does the group hold a mark on the superblock of device `dev`? The
 * kernel lists the group's marks in its fdinfo ("fanotify sdev:%x ...",
 * its own dev_t encoding); a superblock's marks go with it.
 */
static int sb_marked(struct dwd_exec *x, dev_t dev)
{
	char p[64], line[256];
	unsigned long want = (unsigned long)major(dev) << 20 | minor(dev);
	int found = 0;
	FILE *f;

	snprintf(p, sizeof(p), "/proc/self/fdinfo/%d", x->fan);
	f = fopen(p, "re");
	if (!f)
		return 0;
	while (!found && fgets(line, sizeof(line), f)) {
		unsigned long sdev;

		if (sscanf(line, "fanotify sdev:%lx", &sdev) == 1)
			found = sdev == want;
	}
	fclose(f);
	return found;
}

static struct target *target_of_dev(struct dwd_exec *x, dev_t dev)
{
	for (size_t i = 0; i < x->nt; i++)
		if (x->t[i].dev == dev)
			return &x->t[i];
	return NULL;
}

/*
 * Is the file open on `fd` image content? Under x->mu. `*fst` its stat,
 * `*tp` the container (NULL: not known), `path` what the kernel names it
 * in the container, `why` why undecided or why drift.
 */
static enum verdict decide(struct dwd_exec *x, int fd, struct stat *fst,
			   struct target **tp, char *path, size_t size,
			   char *why, size_t why_size)
{
	struct stat st, lo;
	struct target *t;
	char link[64];
	ssize_t n;
	size_t len;

	*tp = NULL;
	path[0] = '\0';
	memset(fst, 0, sizeof(*fst));
	if (fstat(fd, &st)) {
		snprintf(why, why_size, "fstat: %s", strerror(errno));
		return V_UNDECIDED;
	}
	/* By the file's device alone: the overlay's, for every file of a
	 * container whose layers share one filesystem (the only ones
	 * marked). Never the process's root: a stat there may follow it
	 * into a filesystem of the container's making (FUSE) and hang. */
	t = target_of_dev(x, st.st_dev);
	*tp = t;
	*fst = st;
	snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
	n = readlink(link, path, size - 1);
	if (n < 0)
		n = 0;
	path[n] = '\0';
	if (!t) {
		snprintf(why, why_size, "not a watched container's overlay");
		return V_UNDECIDED;
	}
	if (!S_ISREG(st.st_mode)) {
		snprintf(why, why_size, "not a regular file");
		return V_UNDECIDED;
	}
	if (path[0] != '/') {
		snprintf(why, why_size, "no path in the container");
		return V_DRIFT;
	}
	/* Unlinked since it was opened: its inode still says what it is. */
	len = strlen(path);
	if (len > 10 && !strcmp(path + len - 10, " (deleted)"))
		path[len - 10] = '\0';
	for (size_t i = 0; i < t->nlower; i++) {
		if (dwd_stat_beneath(t->lower[i], path + 1, &lo))
			continue;
		if (S_ISREG(lo.st_mode) && lo.st_ino == st.st_ino &&
		    lo.st_size == st.st_size &&
		    dwd_same_time(&lo.st_ctim, &st.st_ctim) &&
		    dwd_same_time(&lo.st_mtim, &st.st_mtim))
			return V_IMAGE;
	}
	snprintf(why, why_size, "not image content");
	return V_DRIFT;
}

/* ---- the process waiting in exec (before it becomes the new program) */

/* ---- hashing, after the answer ---- */

/* Is the file on `fd` still as `at` saw it? */
static int same_file(int fd, const struct stat *at)
{
	struct stat st;

	return !fstat(fd, &st) && st.st_ino == at->st_ino &&
	       st.st_size == at->st_size &&
	       dwd_same_time(&st.st_mtim, &at->st_mtim) &&
	       dwd_same_time(&st.st_ctim, &at->st_ctim);
}

static void hash_report(struct dwd_exec *x, struct dwd_exec_report *r)
{
	unsigned char buf[65536], md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	EVP_MD_CTX *h = EVP_MD_CTX_new();
	json_t *file = json_object_get(r->detail, "file");
	uint64_t off = 0;
	int ok = h && EVP_DigestInit_ex(h, EVP_sha256(), NULL) == 1;

	if (ok && r->at.st_ino && !same_file(r->fd, &r->at)) {
		json_object_set_new(file, "hashed",
				    json_string("changed after it ran: not "
						"hashed"));
		ok = 0;
	}

	while (ok) {
		size_t want = sizeof(buf);
		ssize_t n;

		if (off >= x->max_size) {
			json_object_set_new(file, "hashed",
					    json_string("over max_file_size"));
			ok = 0;
			break;
		}
		if (x->max_size - off < want)
			want = (size_t)(x->max_size - off);
		n = pread(r->fd, buf, want, (off_t)off);
		if (n < 0) {
			json_object_set_new(file, "hashed",
					    json_string(strerror(errno)));
			ok = 0;
			break;
		}
		if (!n)
			break;
		if (!off) {
			json_object_set_new(
				file, "elf",
				json_boolean(n >= 4 &&
					     !memcmp(buf, "\177ELF", 4)));
			json_object_set_new(
				file, "script",
				json_boolean(n >= 2 && !memcmp(buf, "#!", 2)));
		}
		ok = EVP_DigestUpdate(h, buf, (size_t)n) == 1;
		off += (uint64_t)n;
	}
	/* The file as it ran, before and after: a script rewritten since
	 * (a running ELF file cannot be written) has no hash of its own. */
	if (ok && r->at.st_ino && !same_file(r->fd, &r->at)) {
		json_object_set_new(file, "hashed",
				    json_string("changed after it ran: not "
						"hashed"));
		ok = 0;
	}
	if (ok && EVP_DigestFinal_ex(h, md, &mdlen) == 1 && mdlen == 32)
		dw_hex(r->sha256, md, 32);
	EVP_MD_CTX_free(h);
	close(r->fd);
	r->fd = -1;
}

/* A report to the loop (under no lock). */
static void deliver(struct dwd_exec *x, struct dwd_exec_report *r)
{
	uint64_t one = 1;
	int lost = 0;

	pthread_mutex_lock(&x->mu);
	if (x->ndone >= DONE_MAX) {
		x->st.lost++;
		lost = 1;
	} else {
		r->next = NULL;
		if (x->tail)
			x->tail->next = r;
		else
			x->head = r;
		x->tail = r;
		x->ndone++;
	}
	pthread_mutex_unlock(&x->mu);
	if (lost)
		dwd_exec_free(r);
	else if (write(x->efd, &one, sizeof(one)) < 0 && errno != EAGAIN)
		dw_log_warn("exec reports: eventfd: %s", strerror(errno));
}

static void hash_run(void *ctx, void *job, const int *stop)
{
	(void)stop;
	hash_report(ctx, job);
	deliver(ctx, job);
}

/* Every job was handed on to the loop by hash_run() or hash_left(). */
static void hash_release(void *job)
{
	(void)job;
}

static void hash_left(void *ctx, void *job)
{
	struct dwd_exec_report *r = job;

	json_object_set_new(json_object_get(r->detail, "file"), "hashed",
			    json_string("daemon stopping"));
	close(r->fd);
	r->fd = -1;
	deliver(ctx, r);
}

/* ---- the answering thread ---- */

/* A report of `pid` executing (or running) `path` in container `id`
 * ("": not known), its process read now (never under x->mu). */
static struct dwd_exec_report *make_report(const char *id, const char *name,
					   const char *path, pid_t pid,
					   const char *action, const char *why,
					   int denied)
{
	struct dwd_exec_report *r = dw_xcalloc(1, sizeof(*r));
	json_t *d = json_object(), *pr = json_object(), *ps = json_array();
	pid_t pp;

	r->fd = -1;
	r->id = dw_xstrdup(id);
	r->name = dw_xstrdup(name);
	r->path = dw_xstrdup(path[0] ? path : "?");
	r->denied = denied;
	r->time_us = wall_us();
	pp = dwd_process_info(pid, pr, 0);
	for (int i = 0; pp > 1 && i < PARENTS_MAX; i++) {
		json_t *o = json_object();

		pp = dwd_process_info(pp, o, 0);
		json_array_append_new(ps, o);
	}
	json_object_set_new(d, "action", json_string(action));
	json_object_set_new(d, "why", json_string(why));
	json_object_set_new(d, "process", pr);
	json_object_set_new(d, "parents", ps);
	json_object_set_new(d, "file", json_object());
	r->detail = d;
	return r;
}

/* The report goes on to be hashed from `fd` (taken), then to the loop. */
static void hand_on(struct dwd_exec *x, struct dwd_exec_report *r, int fd)
{
	r->fd = fd;
	if (!x->hashq || dwd_jobq_push(x->hashq, r)) {
		json_object_set_new(json_object_get(r->detail, "file"),
				    "hashed", json_string("hash queue full"));
		close(r->fd);
		r->fd = -1;
		deliver(x, r);
	}
}

static void answer(struct dwd_exec *x, const struct fanotify_event_metadata *m)
{
	struct fanotify_response resp = {m->fd, FAN_ALLOW};
	char path[4096], why[128] = "", id[80] = "", name[256] = "";
	struct dwd_exec_report *r = NULL;
	struct target *t;
	struct stat st;
	enum verdict v;
	long long t0 = mono_us(), held;
	int deny;

	/* The decision under the lock (the targets' layer dirs); nothing
	 * else, so the loop never waits on a process's /proc. */
	pthread_mutex_lock(&x->mu);
	v = decide(x, m->fd, &st, &t, path, sizeof(path), why, sizeof(why));
	/* enforce: deny what is not image content, and what cannot be
	 * decided in a container that enforces; audit: allow. */
	deny = v != V_IMAGE && t && t->enforce;
	if (t) {
		snprintf(id, sizeof(id), "%s", t->id);
		snprintf(name, sizeof(name), "%s", t->name);
		if (v == V_DRIFT)
			x->execd[x->nexecd++ % 1024] = (struct exe_key){
				t->dev, st.st_dev, st.st_ino,
				(long long)st.st_ctim.tv_sec * 1000000000LL +
					st.st_ctim.tv_nsec};
	}
	/* Before the answer: a process is its new program only after it. */
	x->exec_times[(unsigned)m->pid % EXEC_TIMES] = mono_us();
	pthread_mutex_unlock(&x->mu);
	if (v != V_IMAGE) {
		r = make_report(id, name, path, m->pid,
				deny ? "denied" : "allowed", why, deny);
		r->at = st; /* what ran: the hash must be of it */
	}
	resp.response = deny ? FAN_DENY : FAN_ALLOW;
	if (write(x->fan, &resp, sizeof(resp)) != (ssize_t)sizeof(resp))
		dw_log_warn("exec: answering fanotify: %s", strerror(errno));
	held = mono_us() - t0;
	pthread_mutex_lock(&x->mu);
	x->holds[x->st.held % HOLDS] = held;
	x->st.held++;
	x->st.drifted += v == V_DRIFT;
	x->st.undecided += v == V_UNDECIDED;
	x->st.denied += deny;
	if (held > x->st.hold_max_us)
		x->st.hold_max_us = held;
	pthread_mutex_unlock(&x->mu);
	if (r)
		hand_on(x, r, m->fd);
	else
		close(m->fd);
}

/* ---- the sweep: what runs and was never exec'd under our mark ---- */

static int cmp_swept(const void *a, const void *b)
{
	const struct swept *x = a, *y = b;

	if (x->pid != y->pid)
		return (x->pid > y->pid) - (x->pid < y->pid);
	return (x->start > y->start) - (x->start < y->start);
}

/* Seen by the last sweep (`v` sorted), or NULL. */
static const struct swept *seen_find(const struct swept *v, size_t n, pid_t pid,
				     unsigned long long start)
{
	struct swept k = {pid, start, 0};

	return n ? bsearch(&k, v, n, sizeof(k), cmp_swept) : NULL;
}

/* The device, inode and ctime of `path` (at `dir`; "" with
 * AT_EMPTY_PATH), from what the kernel has cached: a FUSE server of the
 * container's making is never asked (AT_STATX_DONT_SYNC). */
static int cached_stat(int dir, const char *path, int flags, dev_t *dev,
		       ino_t *ino, long long *ctime_ns)
{
	struct statx sx;

	if (statx(dir, path, flags | AT_STATX_DONT_SYNC,
		  STATX_INO | STATX_CTIME, &sx))
		return -1;
	*dev = makedev(sx.stx_dev_major, sx.stx_dev_minor);
	*ino = (ino_t)sx.stx_ino;
	if (ctime_ns)
		*ctime_ns = sx.stx_ctime.tv_sec * 1000000000LL +
			    sx.stx_ctime.tv_nsec;
	return 0;
}

static int same_key(const struct exe_key *a, const struct exe_key *b)
{
	return a->tdev == b->tdev && a->dev == b->dev && a->ino == b->ino &&
	       a->ctime_ns == b->ctime_ns;
}

static struct exe_key *exe_find(struct dwd_exec *x, const struct exe_key *k)
{
	for (size_t i = 0; i < x->nexes; i++)
		if (same_key(&x->exes[i], k))
			return &x->exes[i];
	return NULL;
}

/* The SHA-256 of what `fd` reads, at most `max` bytes; "" when not. */
static void sha_of(int fd, uint64_t max, char out[65])
{
	unsigned char buf[65536], md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	EVP_MD_CTX *h = EVP_MD_CTX_new();
	uint64_t off = 0;
	int ok = h && EVP_DigestInit_ex(h, EVP_sha256(), NULL) == 1;
	ssize_t n;

	out[0] = '\0';
	while (ok && off < max &&
	       (n = pread(fd, buf, sizeof(buf), (off_t)off)) > 0) {
		ok = EVP_DigestUpdate(h, buf, (size_t)n) == 1;
		off += (uint64_t)n;
	}
	if (ok && off < max && EVP_DigestFinal_ex(h, md, &mdlen) == 1 &&
	    mdlen == 32)
		dw_hex(out, md, 32);
	EVP_MD_CTX_free(h);
}

/* The host binaries' paths: docker-init's first, then runc's. */
static const char *const host_bin_paths[HOST_BINS] = {
	"/usr/bin/docker-init", "/usr/libexec/docker/docker-init",
	"/usr/sbin/runc",	"/usr/bin/runc",
	"/usr/local/sbin/runc", "/usr/local/bin/runc"};
#define FIRST_RUNC 2

/* Each host binary stat'ed again; a runc hashed again when it changed. */
static void host_bins_refresh(struct dwd_exec *x)
{
	for (int i = 0; i < HOST_BINS; i++) {
		struct host_bin *b = &x->bins[i];
		char p[4096];
		struct stat st;
		long long ct;
		int fd;

		snprintf(p, sizeof(p), "%s%s",
			 strcmp(x->host_root, "/") ? x->host_root : "",
			 host_bin_paths[i]);
		fd = open(p, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
		if (fd < 0 || fstat(fd, &st) || !S_ISREG(st.st_mode)) {
			if (fd >= 0)
				close(fd);
			b->found = 0;
			continue;
		}
		ct = (long long)st.st_ctim.tv_sec * 1000000000LL +
		     st.st_ctim.tv_nsec;
		if (!b->found || b->dev != st.st_dev || b->ino != st.st_ino ||
		    b->ctime_ns != ct || b->size != st.st_size) {
			b->dev = st.st_dev;
			b->ino = st.st_ino;
			b->ctime_ns = ct;
			b->size = st.st_size;
			b->sha[0] = '\0';
			if (i >= FIRST_RUNC)
				sha_of(fd, (uint64_t)st.st_size + 1, b->sha);
			b->found = 1;
		}
		close(fd);
	}
}

/* Is (dev, ino) one of the host's own binaries, run from the host? */
static int is_host_bin(const struct dwd_exec *x, dev_t dev, ino_t ino)
{
	for (int i = 0; i < HOST_BINS; i++)
		if (x->bins[i].found && x->bins[i].dev == dev &&
		    x->bins[i].ino == ino)
			return 1;
	return 0;
}

/* Is the memfd on `fd` runc's copy of itself, by content? */
static int is_runc_copy(struct dwd_exec *x, int fd)
{
	struct stat st;
	char sha[65] = "";

	if (fstat(fd, &st))
		return 0;
	for (int i = FIRST_RUNC; i < HOST_BINS; i++) {
		const struct host_bin *b = &x->bins[i];

		if (!b->found || !b->sha[0] || b->size != st.st_size)
			continue;
		if (!sha[0])
			sha_of(fd, (uint64_t)st.st_size + 1, sha);
		if (sha[0] && !strcmp(sha, b->sha))
			return 1;
	}
	return 0;
}

/* The pid namespace of `pid` (its inode), or 0. */
static ino_t pidns_of(pid_t pid)
{
	char p[64];
	dev_t dev;
	ino_t ino;

	snprintf(p, sizeof(p), "/proc/%d/ns/pid", (int)pid);
	return cached_stat(AT_FDCWD, p, 0, &dev, &ino, NULL) ? 0 : ino;
}

/* What places a process in a container, read once (outside the lock):
 * its pid namespace, and its cgroups (which name a Docker container). */
struct proc_id {
	ino_t ns;
	char cgroup[2048];
};

static void proc_id_read(pid_t pid, struct proc_id *pi)
{
	char p[64];

	pi->ns = pidns_of(pid);
	snprintf(p, sizeof(p), "/proc/%d/cgroup", (int)pid);
	if (dwd_read_small(p, pi->cgroup, sizeof(pi->cgroup)) <= 0)
		pi->cgroup[0] = '\0';
}

/*
 * The container a process belongs to: its root on a target's overlay (its
 * pid namespace then learned for it); else its cgroup naming a Docker
 * container (64 hex), or a pid namespace learned: a process that moved
 * its root off its container's overlay (chroot), `*moved` set. Under
 * x->mu.
 */
static struct target *member_of(struct dwd_exec *x, const struct proc_id *pi,
				dev_t root_dev, int *moved)
{
	struct target *t = target_of_dev(x, root_dev);

	*moved = 0;
	if (t) {
		int known = 0;

		for (int i = 0; i < t->npidns; i++)
			known |= t->pidns[i] == pi->ns;
		if (pi->ns && pi->ns != x->own_pidns && !known && t->npidns < 8)
			t->pidns[t->npidns++] = pi->ns;
		return t;
	}
	for (size_t i = 0; i < x->nt; i++) {
		int in = strlen(x->t[i].id) == 64 &&
			 strstr(pi->cgroup, x->t[i].id) != NULL;

		for (int j = 0; !in && pi->ns && j < x->t[i].npidns; j++)
			in = x->t[i].pidns[j] == pi->ns;
		if (in) {
			*moved = 1;
			return &x->t[i];
		}
	}
	return NULL;
}

/* One process: reported (1) when it runs what no exec mark saw. */
static int sweep_one(struct dwd_exec *x, pid_t pid, struct swept **now,
		     size_t *nnow, size_t *now_alloc)
{
	char p[64], path[4096], why[128] = "", id[80] = "", name[256] = "";
	struct target *t;
	struct stat st;
	unsigned long long start;
	const char *what = NULL;
	struct dwd_exec_report *r;
	struct exe_key k = {0}, *known = NULL;
	struct proc_id pi;
	dev_t root_dev;
	ino_t ino;
	ssize_t n;
	int fd, readable = 0, other_fs = 0, moved = 0, by_pid = 0;

	snprintf(p, sizeof(p), "/proc/%d/root", (int)pid);
	if (cached_stat(AT_FDCWD, p, 0, &root_dev, &ino, NULL))
		return 0;
	proc_id_read(pid, &pi);
	pthread_mutex_lock(&x->mu);
	t = member_of(x, &pi, root_dev, &moved);
	pthread_mutex_unlock(&x->mu);
	if (!t)
		return 0;
	start = dwd_start_ticks(pid);
	snprintf(p, sizeof(p), "/proc/%d/exe", (int)pid);
	n = readlink(p, path, sizeof(path) - 1);
	/* O_PATH: nothing of the file's filesystem is called to open it. */
	fd = n > 0 ? open(p, O_PATH | O_CLOEXEC) : -1;
	if (fd < 0)
		return 0; /* gone, or a kernel thread */
	path[n] = '\0';
	if (cached_stat(fd, "", AT_EMPTY_PATH, &k.dev, &k.ino, &k.ctime_ns)) {
		close(fd);
		return 0;
	}
	pthread_mutex_lock(&x->mu);
	/* Looked up again: the loop may have dropped it meanwhile. */
	t = member_of(x, &pi, root_dev, &moved);
	if (t) {
		k.tdev = t->dev;
		known = exe_find(x, &k);
		for (size_t i = 0; !known && i < x->nexecd && i < 1024; i++)
			if (same_key(&x->execd[i], &k))
				known = &x->execd[i]; /* reported at exec */
	}
	if (!t) {
		what = NULL;
	} else if (moved) {
		/* Whatever it runs, its root left the overlay: said once
		 * for the process. */
		what = "runs with its root moved off its container's overlay "
		       "(chroot), where no exec mark sees";
		by_pid = 1;
		other_fs = k.dev != t->dev;
		readable = !other_fs;
	} else if (known) {
		what = NULL; /* decided, or reported, before */
	} else if (!strncmp(path, "/memfd:", 7)) {
		int rfd;

		snprintf(p, sizeof(p), "/proc/self/fd/%d", fd);
		rfd = open(p, O_RDONLY | O_CLOEXEC);
		/* runc re-executes itself from a sealed memfd copy: that
		 * copy is runc's binary, byte for byte (its name proves
		 * nothing: memfd_create() takes any). */
		if (rfd < 0 || !is_runc_copy(x, rfd))
			what = "runs from an anonymous file (memfd)";
		if (rfd >= 0)
			close(rfd);
		readable = 1; /* shmem */
	} else if (k.dev != t->dev) {
		/* The host's docker-init or runc (runc init, before its
		 * container starts, runs from a detached bind mount of the
		 * host's runc: the same file). */
		int init = is_host_bin(x, k.dev, k.ino);

		if (!init)
			what = "runs from another filesystem (a volume, tmpfs "
			       "or bind mount), which no exec mark sees";
		other_fs = 1;
	} else {
		/* On the overlay, never seen at an exec: started before
		 * the mark, or forked since from such a process. */
		int rfd;
		struct target *t2;

		snprintf(p, sizeof(p), "/proc/self/fd/%d", fd);
		rfd = open(p, O_RDONLY | O_CLOEXEC);
		if (rfd >= 0) {
			if (decide(x, rfd, &st, &t2, path, sizeof(path), why,
				   sizeof(why)) != V_IMAGE)
				what = "not image content, and never seen "
				       "executed (started before its "
				       "container's exec was watched)";
			close(rfd);
		}
		readable = 1; /* the overlay: the host's layers */
	}
	if (t && !known && !moved) {
		/* Decided (fine or reported): never again for this file. */
		if (x->nexes >= 4096)
			x->nexes = 0; /* bounded: forget, decide again */
		DW_ALLOC_GROW(x->exes, x->nexes + 1, x->exes_alloc);
		x->exes[x->nexes++] = k;
	}
	if (what) {
		snprintf(id, sizeof(id), "%s", t->id);
		snprintf(name, sizeof(name), "%s", t->name);
	}
	pthread_mutex_unlock(&x->mu);
	if (!what) {
		close(fd);
		return 0;
	}
	if (by_pid) {
		/* Reported when seen so by two sweeps in a row: a runtime's
		 * own process joining the container (runc init, between its
		 * setns calls) is in its pid namespace with the host's root
		 * for a moment, and gone by the next sweep. */
		const struct swept *prev =
			seen_find(x->seen, x->nseen, pid, start);

		DW_ALLOC_GROW(*now, *nnow + 1, *now_alloc);
		(*now)[(*nnow)++] = (struct swept){pid, start, prev != NULL};
		if (!prev || prev->reported) {
			close(fd);
			return 0;
		}
	}
	r = make_report(id, name, path, pid, "running", what, 0);
	if (readable) {
		int rfd;

		snprintf(p, sizeof(p), "/proc/self/fd/%d", fd);
		rfd = open(p, O_RDONLY | O_CLOEXEC);
		close(fd);
		fd = rfd;
	}
	if (!readable || fd < 0 || fstat(fd, &r->at)) {
		/* Another filesystem may be the container's own (FUSE):
		 * its file is not opened. */
		json_object_set_new(
			json_object_get(r->detail, "file"), "hashed",
			json_string(other_fs ? "not read: on another "
					       "filesystem"
					     : "could not be opened"));
		if (fd >= 0)
			close(fd);
		deliver(x, r);
		return 1;
	}
	hand_on(x, r, fd);
	return 1;
}

int dwd_exec_sweep(struct dwd_exec *x)
{
	struct swept *now = NULL;
	size_t nnow = 0, now_alloc = 0;
	struct dirent *e;
	DIR *d;
	int reported = 0;

	if (!x->nt)
		return 0;
	host_bins_refresh(x);
	d = opendir("/proc");
	if (!d)
		return 0;
	while ((e = readdir(d))) {
		char *end;
		long pid = strtol(e->d_name, &end, 10);

		if (*end || pid <= 0)
			continue;
		reported += sweep_one(x, (pid_t)pid, &now, &nnow, &now_alloc);
	}
	closedir(d);
	/* Kept: the moved processes still running, each reported once. */
	if (nnow)
		qsort(now, nnow, sizeof(*now), cmp_swept);
	free(x->seen);
	x->seen = now;
	x->nseen = nnow;
	x->seen_alloc = now_alloc;
	return reported;
}

/* A failed poll or read: said (at most once a minute), counted, and
 * tried again shortly. */
static void read_failed(struct dwd_exec *x, const char *what)
{
	static long long said;
	long long now = mono_us();
	struct timespec pause = {0, 10 * 1000 * 1000};
	int e = errno;

	pthread_mutex_lock(&x->mu);
	x->st.read_errors++;
	pthread_mutex_unlock(&x->mu);
	if (!said || now - said >= 60 * 1000000LL) {
		dw_log_warn("exec: %s: %s (trying again)", what, strerror(e));
		said = now;
	}
	nanosleep(&pause, NULL);
}

static void *thread_main(void *arg)
{
	struct dwd_exec *x = arg;
	static char buf[EVENTS_BUF] __attribute__((
		aligned(__alignof__(struct fanotify_event_metadata))));

	for (;;) {
		struct pollfd p[2] = {{x->fan, POLLIN, 0},
				      {x->stop_pipe[0], POLLIN, 0}};
		const struct fanotify_event_metadata *m;
		ssize_t n;

		if (poll(p, 2, -1) < 0 && errno != EINTR) {
			/* Never leave while the group holds execs: every
			 * exec of every watched container would wait. */
			read_failed(x, "poll");
			continue;
		}
		if (p[1].revents)
			break;
		n = read(x->fan, buf, sizeof(buf));
		if (n < 0) {
			if (errno == EAGAIN || errno == EINTR)
				continue;
			/* EMFILE, ENFILE, ENOMEM: the kernel could not open
			 * an event's file (it denies that exec); try on. */
			read_failed(x, "reading fanotify");
			continue;
		}
		for (m = (const void *)buf; FAN_EVENT_OK(m, n);
		     m = FAN_EVENT_NEXT(m, n)) {
			if (m->mask & FAN_Q_OVERFLOW) {
				/* Not with FAN_UNLIMITED_QUEUE; said if so. */
				pthread_mutex_lock(&x->mu);
				x->st.overflows++;
				pthread_mutex_unlock(&x->mu);
				continue;
			}
			if (m->fd < 0)
				continue;
			answer(x, m);
		}
	}
	return NULL;
}

/* ---- start, stop, marks ---- */

int dwd_exec_start(struct dwd_exec **out, uint64_t max_size,
		   const char *host_root)
{
	static const struct dwd_jobq_ops ops = {hash_run, hash_release,
						hash_left, NULL};
	struct dwd_exec *x;
	int fan;

	*out = NULL;
	/* An unlimited queue: past a limited one's end, the kernel lets a
	 * permission event through unanswered. */
	fan = fanotify_init(FAN_CLASS_CONTENT | FAN_CLOEXEC | FAN_NONBLOCK |
				    FAN_UNLIMITED_QUEUE,
			    O_RDONLY | O_LARGEFILE | O_CLOEXEC);
	if (fan < 0)
		return dw_error_errno(DW_EUNSUPPORTED, errno,
				      "fanotify_init (FAN_CLASS_CONTENT)");
	x = dw_xcalloc(1, sizeof(*x));
	x->fan = fan;
	x->max_size = max_size ? max_size : 1;
	x->host_root = dw_xstrdup(host_root && *host_root ? host_root : "/");
	pthread_mutex_init(&x->mu, NULL);
	x->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (x->efd < 0 || pipe2(x->stop_pipe, O_CLOEXEC)) {
		int e = errno;

		if (x->efd >= 0)
			close(x->efd);
		close(fan);
		free(x->host_root);
		free(x);
		return dw_error_errno(DW_EIO, e, "exec watch");
	}
	host_bins_refresh(x);
	x->own_pidns = pidns_of(getpid());
	x->hashq = dwd_jobq_start(HASHQ_MAX, &ops, x);
	if (pthread_create(&x->thread, NULL, thread_main, x)) {
		x->running = 0;
		dwd_exec_stop(x);
		return dw_error_set(DW_EIO,
				    "exec watch: cannot start a thread");
	}
	x->running = 1;
	*out = x;
	return 0;
}

static void target_release(struct target *t)
{
	for (size_t i = 0; i < t->nlower; i++)
		close(t->lower[i]);
	free(t->lower);
	free(t->id);
	free(t->name);
	free(t->upper);
	free(t->mp);
}

void dwd_exec_halt(struct dwd_exec *x)
{
	if (x->running) {
		if (write(x->stop_pipe[1], "x", 1) < 0)
			dw_log_warn("exec: stopping: %s", strerror(errno));
		pthread_join(x->thread, NULL);
		x->running = 0;
	}
	/* Closing the group lets every exec it held run. */
	if (x->fan >= 0)
		close(x->fan);
	x->fan = -1;
	if (x->hashq)
		dwd_jobq_stop(x->hashq);
	x->hashq = NULL;
}

void dwd_exec_stop(struct dwd_exec *x)
{
	if (!x)
		return;
	dwd_exec_halt(x);
	close(x->stop_pipe[0]);
	close(x->stop_pipe[1]);
	close(x->efd);
	for (size_t i = 0; i < x->nt; i++)
		target_release(&x->t[i]);
	free(x->t);
	free(x->seen);
	free(x->exes);
	while (x->head) {
		struct dwd_exec_report *r = x->head;

		x->head = r->next;
		dwd_exec_free(r);
	}
	pthread_mutex_destroy(&x->mu);
	free(x->host_root);
	free(x);
}

/* The mount point of the overlay with upper dir `upper`, under host_root
 * (malloc'd), or NULL (the error set). */
static char *mount_point(struct dwd_exec *x, const char *upper)
{
	struct dw_mount *list = NULL;
	size_t n = 0;
	char *mp = NULL;

	if (dw_mounts_read_all(x->host_root, &list, &n))
		return NULL;
	for (size_t i = 0; !mp && i < n; i++) {
		struct dw_buf b = DW_BUF_INIT;

		if (!list[i].upper || strcmp(list[i].upper, upper))
			continue;
		if (strcmp(x->host_root, "/"))
			dw_buf_adds(&b, x->host_root);
		dw_buf_adds(&b, list[i].name);
		mp = dw_buf_detach(&b, NULL);
	}
	dw_mounts_free_list(list, n);
	if (!mp)
		dw_error_set(DW_ENOTFOUND,
			     "no overlay mount with upper dir %s in mountinfo",
			     upper);
	return mp;
}

int dwd_exec_add(struct dwd_exec *x, const char *id, const char *name,
		 const char *upper, char *const *lowers, size_t nlowers,
		 int enforce)
{
	struct target t = {0};
	struct statfs sf;
	struct stat st, us;
	struct target stale[8];
	size_t nstale = 0;
	char *mp = NULL;
	int fd, err = 0, was = 0;

	/* Watched already: marked again (a mark is added once), since its
	 * overlay may be a new superblock under the same mount point (the
	 * container restarted by dockerd) with the same device number. */
	pthread_mutex_lock(&x->mu);
	for (size_t i = 0; i < x->nt; i++)
		if (!strcmp(x->t[i].id, id)) {
			mp = dw_xstrdup(x->t[i].mp);
			was = 1;
			break;
		}
	pthread_mutex_unlock(&x->mu);
	if (was && (fd = open(mp, O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
					  O_CLOEXEC)) >= 0) {
		int fresh = 0;

		if (!fstatfs(fd, &sf) && sf.f_type == OVERLAYFS_SUPER_MAGIC &&
		    !fstat(fd, &st)) {
			pthread_mutex_lock(&x->mu);
			fresh = !sb_marked(x, st.st_dev);
			if (fanotify_mark(x->fan,
					  FAN_MARK_ADD | FAN_MARK_FILESYSTEM,
					  FAN_OPEN_EXEC_PERM, fd, NULL))
				fresh = -1;
			for (size_t i = 0; fresh >= 0 && i < x->nt;) {
				if (!strcmp(x->t[i].id, id)) {
					x->t[i].dev = st.st_dev;
					x->t[i].enforce = enforce;
				} else if (x->t[i].dev == st.st_dev &&
					   nstale < 8) {
					/* Another's, left on this device
					 * number: it would decide here. */
					stale[nstale++] = x->t[i];
					x->t[i] = x->t[--x->nt];
					continue;
				}
				i++;
			}
			x->st.marked = x->nt;
			pthread_mutex_unlock(&x->mu);
			for (size_t i = 0; i < nstale; i++)
				target_release(&stale[i]);
			nstale = 0;
			if (fresh > 0)
				dw_log_info("exec watch: %s (%.12s) marked "
					    "again: a new overlay",
					    name ? name : id, id);
			if (fresh >= 0) {
				close(fd);
				free(mp);
				return 0;
			}
		}
		close(fd);
	}
	free(mp);
	dwd_exec_remove(x, id);
	mp = mount_point(x, upper);
	if (!mp)
		return DW_ENOTFOUND;
	fd = open(mp, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0) {
		err = dw_error_errno(DW_EIO, errno, "exec watch: %s", mp);
		free(mp);
		return err;
	}
	if (fstatfs(fd, &sf) || sf.f_type != OVERLAYFS_SUPER_MAGIC ||
	    fstat(fd, &st)) {
		close(fd);
		err = dw_error_set(DW_EIO, "exec watch: %s is not an overlay",
				   mp);
		free(mp);
		return err;
	}
	t.id = dw_xstrdup(id);
	t.name = dw_xstrdup(name ? name : id);
	t.upper = dw_xstrdup(upper);
	t.dev = st.st_dev;
	t.mp = dw_xstrdup(mp);
	t.enforce = enforce;
	t.lower = dw_xcalloc(nlowers + 1, sizeof(int));
	for (size_t i = 0; i < nlowers; i++) {
		int lfd = open(lowers[i],
			       O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		struct stat ls;

		if (lfd < 0) {
			err = dw_error_errno(DW_EIO, errno,
					     "exec watch: lower dir %s",
					     lowers[i]);
			break;
		}
		t.lower[t.nlower++] = lfd;
		/* Layers on another filesystem than the upper dir: the
		 * overlay reports a file's own device, or numbers inodes
		 * itself (xino); neither the container nor image content
		 * could be told. Not marked. */
		if (fstat(lfd, &ls) || stat(upper, &us) ||
		    ls.st_dev != us.st_dev) {
			err = dw_error_set(DW_EUNSUPPORTED,
					   "layers on several filesystems "
					   "(%s): execs are not watched",
					   lowers[i]);
			break;
		}
	}
	pthread_mutex_lock(&x->mu);
	if (!err && fanotify_mark(x->fan, FAN_MARK_ADD | FAN_MARK_FILESYSTEM,
				  FAN_OPEN_EXEC_PERM, fd, NULL))
		err = dw_error_errno(DW_EIO, errno,
				     "fanotify_mark (FAN_OPEN_EXEC_PERM) on %s",
				     mp);
	if (!err) {
		/* A target left on this device (a superblock gone, its
		 * number reused) would decide for the wrong container. */
		for (size_t i = 0; i < x->nt;)
			if (x->t[i].dev == t.dev) {
				stale[nstale++ % 8] = x->t[i];
				x->t[i] = x->t[--x->nt];
			} else {
				i++;
			}
		DW_ALLOC_GROW(x->t, x->nt + 1, x->alloc);
		x->t[x->nt++] = t;
		x->st.marked = x->nt;
	}
	pthread_mutex_unlock(&x->mu);
	for (size_t i = 0; i < nstale && i < 8; i++)
		target_release(&stale[i]);
	if (err)
		target_release(&t);
	close(fd);
	free(mp);
	return err;
}

void dwd_exec_remove(struct dwd_exec *x, const char *id)
{
	struct target t = {0};
	int found = 0;

	pthread_mutex_lock(&x->mu);
	for (size_t i = 0; i < x->nt; i++)
		if (!strcmp(x->t[i].id, id)) {
			t = x->t[i];
			x->t[i] = x->t[--x->nt];
			found = 1;
			break;
		}
	x->st.marked = x->nt;
	pthread_mutex_unlock(&x->mu);
	if (!found)
		return;
	/* Still mounted (dropped, not stopped): take the mark off. An
	 * unmounted overlay took its mark with it. */
	{
		char *mp = mount_point(x, t.upper);
		int fd = mp ? open(mp, O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
					       O_CLOEXEC)
			    : -1;
		struct stat st;

		if (fd >= 0 && !fstat(fd, &st) && st.st_dev == t.dev)
			fanotify_mark(x->fan,
				      FAN_MARK_REMOVE | FAN_MARK_FILESYSTEM,
				      FAN_OPEN_EXEC_PERM, fd, NULL);
		if (fd >= 0)
			close(fd);
		free(mp);
	}
	target_release(&t);
}

int dwd_exec_fd(const struct dwd_exec *x)
{
	return x->efd;
}

struct dwd_exec_report *dwd_exec_take(struct dwd_exec *x)
{
	struct dwd_exec_report *r;
	uint64_t v;

	if (read(x->efd, &v, sizeof(v)) < 0 && errno != EAGAIN)
		dw_log_warn("exec reports: eventfd: %s", strerror(errno));
	pthread_mutex_lock(&x->mu);
	r = x->head;
	x->head = x->tail = NULL;
	x->ndone = 0;
	pthread_mutex_unlock(&x->mu);
	return r;
}

static int cmp_ll(const void *a, const void *b)
{
	long long x = *(const long long *)a, y = *(const long long *)b;

	return (x > y) - (x < y);
}

long long dwd_exec_last_us(struct dwd_exec *x, pid_t pid)
{
	long long t;

	pthread_mutex_lock(&x->mu);
	t = x->exec_times[(unsigned)pid % EXEC_TIMES];
	pthread_mutex_unlock(&x->mu);
	return t;
}

void dwd_exec_stats(struct dwd_exec *x, struct dwd_exec_stats *st)
{
	long long h[HOLDS];
	size_t n;

	pthread_mutex_lock(&x->mu);
	*st = x->st;
	n = st->held < HOLDS ? (size_t)st->held : HOLDS;
	memcpy(h, x->holds, n * sizeof(h[0]));
	pthread_mutex_unlock(&x->mu);
	if (n) {
		qsort(h, n, sizeof(h[0]), cmp_ll);
		st->hold_p50_us = h[(n - 1) / 2];
		st->hold_p99_us = h[(n * 99 - 1) / 100];
	}
}
