/* driftwatchd: who changed a container's files (fanotify, FID mode). */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/fanotify.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <openssl/rand.h>

#include "driftwatch/error.h"
#include "driftwatch/xmalloc.h"
#include "log.h"
#include "procinfo.h"
#include "writer_notes.h"
#include "writerwatch.h"

#include "driftwatch/banned.h"

#define MARK_MASK                                                              \
	(FAN_CREATE | FAN_DELETE | FAN_MOVED_FROM | FAN_MOVED_TO |             \
	 FAN_ATTRIB | FAN_CLOSE_WRITE | FAN_ONDIR)
#define DIRENT_EVENTS (FAN_CREATE | FAN_DELETE | FAN_MOVED_FROM | FAN_MOVED_TO)
#define NOTES 4096 /* paths noted, by keyed hash (64 B each) */
#define CMDLINE_READ 8192
/* An exec stamped this long before the queue was last read empty may
 * not have finished (its arguments copied, its close-on-exec files
 * closed: a CLOSE_WRITE then) when the change was made. */
#define EXEC_SLACK_US 1000000LL /* bytes of a command line read */
#define NOTES_BYTES (4 << 20)	/* their paths and processes, at most */
#define HOST_DIRS 16384		/* directories known not to be a container's */
#define READ_BUF (64 * 1024)
#define REST_MS 10	 /* between two reads of the group */
#define SYNC_WAIT_MS 100 /* the longest the loop waits for a sync */

struct wtarget {
	char *id;
	char *upper; /* as readlink() of an fd on it says (realpath) */
	size_t ulen;
	dev_t dev; /* the upper dir's (a walk up from a deep directory) */
	ino_t ino;
};

/* A marked filesystem: its fsid (as events carry it) and a descriptor on
 * it, to open handles with. */
struct wfs {
	dev_t dev;
	fsid_t fsid;
	int fd;
};

struct dwd_writer {
	int fan, stop_pipe[2], sync_pipe[2];
	pid_t self;
	pthread_t thread;
	int running;
	pthread_mutex_t mu; /* all below */
	struct wtarget *t;
	size_t nt, t_alloc;
	struct wfs *fs;
	size_t nfs, fs_alloc;
	struct dwd_notes *notes;
	/* Hashes of directory handles under no watched upper dir (the
	 * thread's alone; cleared when a container is added). */
	unsigned long long *host_dirs; /* HOST_DIRS, a power of 2 */
	int host_dirs_clear;
	struct dwd_writer_stats st;
	long long busy_since_ms; /* 0: idle */
	unsigned long long sync_req, sync_done;
	/* When a pid last exec'd (the exec watch's clock), and when the
	 * queue was last read empty: every event read since was made
	 * after it (the thread's). */
	long long (*last_exec)(void *ctx, pid_t pid);
	void *exec_ctx;
	long long drained_us;
	int sync_stuck;
	pthread_cond_t synced;
};

static long long now_us(int clock)
{
	struct timespec ts;

	clock_gettime(clock, &ts);
	return (long long)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static unsigned long long fnv(unsigned long long h, const void *p, size_t n)
{
	const unsigned char *b = p;

	for (size_t i = 0; i < n; i++)
		h = (h ^ b[i]) * 1099511628211ULL;
	return h;
}

void dwd_writer_lost(struct dwd_writer *w, const char *id)
{
	pthread_mutex_lock(&w->mu);
	dwd_notes_lost(w->notes, id, now_us(CLOCK_MONOTONIC));
	pthread_mutex_unlock(&w->mu);
}

void dwd_writer_forget(struct dwd_writer *w, const char *id,
		       long long before_us)
{
	pthread_mutex_lock(&w->mu);
	dwd_notes_forget(w->notes, id, before_us);
	pthread_mutex_unlock(&w->mu);
}

json_t *dwd_writer_take(struct dwd_writer *w, const char *id, const char *path,
			size_t len, long long since_us, const char **why)
{
	json_t *o = NULL;
	char *json;
	int more, lost;

	pthread_mutex_lock(&w->mu);
	json = dwd_notes_take(w->notes, id, path, len, since_us, &more, &lost);
	pthread_mutex_unlock(&w->mu);
	if (lost)
		*why = "no change by a process was noted at this path since "
		       "the last look, and notes of this container's changes "
		       "were lost meanwhile (made before it was watched, "
		       "more than the notes hold, or the kernel's queue "
		       "overflowed: see the writer facet)";
	else
		*why = "no change by a process was seen at this path since "
		       "the last look (made through a descriptor opened "
		       "before, a shared mapping or a hard link, while not "
		       "watched, or in a directory gone before it was looked "
		       "up)";
	if (json) {
		o = json_loads(json, 0, NULL);
		free(json);
		if (more && json_is_object(o))
			json_object_set_new(o, "more_writers", json_true());
		/* Another writer's note may have been among those lost. */
		if (lost && json_is_object(o))
			json_object_set_new(o, "notes_lost", json_true());
		if (json_is_object(o) && json_object_get(o, "exited")) {
			static __thread char said[96];

			snprintf(said, sizeof(said),
				 "the process (pid %lld) exited before it "
				 "was read",
				 (long long)json_integer_value(
					 json_object_get(o, "pid")));
			*why = said;
			json_decref(o);
			o = NULL;
		}
	}
	return o;
}

/* ---- the thread ---- */

/* The set of host directories: open addressing, PROBES slots a hash;
 * a full run replaces its first (forgotten: resolved again). 0 is
 * empty (a hash of 0 is not kept). */
#define PROBES 8

static int host_dir_known(const struct dwd_writer *w, unsigned long long h)
{
	for (size_t i = 0; i < PROBES; i++)
		if (w->host_dirs[(h + i) & (HOST_DIRS - 1)] == h)
			return h != 0;
	return 0;
}

static void host_dir_add(struct dwd_writer *w, unsigned long long h)
{
	for (size_t i = 0; i < PROBES; i++) {
		unsigned long long *s =
			&w->host_dirs[(h + i) & (HOST_DIRS - 1)];

		if (!*s) {
			*s = h;
			return;
		}
	}
	w->host_dirs[h & (HOST_DIRS - 1)] = h;
}

/* A process gone before it was read: its pid alone, said so. */
static char *exited_json(pid_t pid)
{
	json_t *o = json_pack("{s:i, s:b}", "pid", (int)pid, "exited", 1);
	char *s = json_dumps(o, JSON_COMPACT);

	json_decref(o);
	return s;
}

/* The process, as JSON text: what /proc says while it runs; NULL when
 * it is gone. */
static char *process_json(pid_t pid)
{
	json_t *o = json_object();
	char p[64], buf[1024];
	char *s;
	ssize_t n;

	/* The command line whole up to 8 KiB: the loop redacts it, then
	 * cuts it (a secret cut first would no longer be recognised). */
	dwd_process_info(pid, o, CMDLINE_READ);
	if (!json_object_get(o, "comm")) {
		json_decref(o);
		return NULL;
	}
	{
		/* Cut by the read: what straddles the cut (a secret cut in
		 * two is not recognised) goes, back to the last space, or
		 * 1 KiB when there is none near. */
		const char *cmd =
			json_string_value(json_object_get(o, "cmdline"));
		size_t clen = cmd ? strlen(cmd) : 0;

		if (clen >= CMDLINE_READ - 8) {
			const char *sp = memrchr(cmd, ' ', clen);
			size_t keep = sp && (size_t)(sp - cmd) + 1024 >= clen
					      ? (size_t)(sp - cmd)
					      : (clen > 1024 ? clen - 1024 : 0);

			json_object_set_new(o, "cmdline",
					    json_stringn(cmd, keep));
			json_object_set_new(o, "_cut", json_true());
		}
	}
	/* Which file its exe is (the kernel's cached attributes: nothing
	 * of a container's own filesystem is called), for the loop to tell
	 * whether it is image content ("_exe", taken out there). */
	snprintf(p, sizeof(p), "/proc/%d/exe", (int)pid);
	{
		struct statx sx;

		if (!statx(AT_FDCWD, p, AT_STATX_DONT_SYNC,
			   STATX_INO | STATX_SIZE | STATX_CTIME | STATX_MTIME,
			   &sx))
			json_object_set_new(
				o, "_exe",
				json_pack("{s:I, s:I, s:I, s:i, s:I, s:i}",
					  "ino", (json_int_t)sx.stx_ino, "size",
					  (json_int_t)sx.stx_size, "ctime",
					  (json_int_t)sx.stx_ctime.tv_sec,
					  "ctime_ns", (int)sx.stx_ctime.tv_nsec,
					  "mtime",
					  (json_int_t)sx.stx_mtime.tv_sec,
					  "mtime_ns",
					  (int)sx.stx_mtime.tv_nsec));
	}
	/* Its cgroup (v2's line, else v1's first): whose it is. */
	snprintf(p, sizeof(p), "/proc/%d/cgroup", (int)pid);
	if ((n = dwd_read_small(p, buf, sizeof(buf))) > 0) {
		char *line = strstr(buf, "0::");

		line = line && (line == buf || line[-1] == '\n')
			       ? line + 3
			       : strchr(buf, ':');
		if (line && *line == ':')
			line = strchr(line + 1, ':');
		if (line && *line == ':')
			line++;
		if (line) {
			char *e = strchr(line, '\n');

			dwd_json_sanitized(o, "cgroup", line,
					   e ? (size_t)(e - line)
					     : strlen(line));
		}
	}
	s = json_dumps(o, JSON_COMPACT);
	json_decref(o);
	return s;
}

/* The hash of a directory's handle as events carry it. */
static unsigned long long dir_hash(const void *fsid, size_t fsid_len,
				   const struct file_handle *fh)
{
	unsigned long long h = fnv(14695981039346656037ULL, fsid, fsid_len);

	h = fnv(h, &fh->handle_type, sizeof(fh->handle_type));
	return fnv(h, fh->f_handle, fh->handle_bytes);
}

/* A directory moved into a container's upper dir (overlayfs copies a
 * directory up in its work dir, then renames it into place) may have
 * been taken for the host's while it was elsewhere: forgotten. */
static void moved_in(struct dwd_writer *w, int dfd, const char *name,
		     const void *fsid, size_t fsid_len)
{
	union {
		struct file_handle fh;
		char buf[sizeof(struct file_handle) + MAX_HANDLE_SZ];
	} u;
	int mnt;

	u.fh.handle_bytes = MAX_HANDLE_SZ;
	if (name_to_handle_at(dfd, name, &u.fh, &mnt, 0))
		return;
	{
		unsigned long long h = dir_hash(fsid, fsid_len, &u.fh);

		for (size_t i = 0; i < PROBES; i++)
			if (w->host_dirs[(h + i) & (HOST_DIRS - 1)] == h)
				w->host_dirs[(h + i) & (HOST_DIRS - 1)] = 0;
	}
}

/* Is the directory `dfd` below a watched upper dir? Walked up by "..",
 * each step compared with the upper dirs by device and inode (its path
 * is too long to read). */
static int deep_member(struct dwd_writer *w, int dfd)
{
	int fd = dup(dfd), found = 0;

	for (int depth = 0; fd >= 0 && !found && depth < 8192; depth++) {
		struct stat st;
		int up;

		if (fstat(fd, &st))
			break;
		pthread_mutex_lock(&w->mu);
		for (size_t i = 0; i < w->nt && !found; i++)
			found = w->t[i].dev == st.st_dev &&
				w->t[i].ino == st.st_ino;
		pthread_mutex_unlock(&w->mu);
		up = openat(fd, "..", O_PATH | O_DIRECTORY | O_CLOEXEC);
		if (up >= 0) {
			struct stat ust;

			/* At the root ".." is itself. */
			if (!fstat(up, &ust) && ust.st_dev == st.st_dev &&
			    ust.st_ino == st.st_ino) {
				close(up);
				up = -1;
			}
		}
		close(fd);
		fd = up;
	}
	if (fd >= 0)
		close(fd);
	return found;
}

/* Is the process behind `pidfd` still the one (alive, or a zombie not
 * yet reaped: its pid not reused)? Without a pidfd: not known, yes. */
static int still_there(int pidfd)
{
	if (pidfd == FAN_NOPIDFD || pidfd == FAN_EPIDFD)
		return 0;
	return pidfd < 0 || !syscall(SYS_pidfd_send_signal, pidfd, 0, NULL, 0);
}

/*
 * Did the process exec after its change (`made_after`: the change was made
 * later than that)? Then what /proc said is its new program's, not the
 * writer's: "_exec" says so ("after"), or that it cannot be told
 * ("unknown": no exec watch); the loop then matches no allow rule by
 * process. An exec before `made_after` was before the change.
 */
static char *exec_checked(struct dwd_writer *w, char *json, pid_t pid,
			  long long made_after)
{
	const char *say = NULL;
	long long (*fn)(void *, pid_t);
	void *ctx;
	json_t *o;
	char *s;

	pthread_mutex_lock(&w->mu);
	fn = w->last_exec;
	ctx = w->exec_ctx;
	pthread_mutex_unlock(&w->mu);
	if (!fn)
		say = "unknown";
	else if (fn(ctx, pid) >= made_after - EXEC_SLACK_US)
		say = "after"; /* or too near before: an exec in progress */
	if (!say)
		return json;
	o = json_loads(json, 0, NULL);
	free(json);
	if (!o)
		return NULL;
	json_object_set_new(o, "_exec", json_string(say));
	s = json_dumps(o, JSON_COMPACT);
	json_decref(o);
	return s;
}

/* One event: resolved to a container's path, its process noted. */
static void handle(struct dwd_writer *w,
		   const struct fanotify_event_metadata *m,
		   long long made_after)
{
	const char *p = (const char *)m + m->metadata_len;
	const char *end = (const char *)m + m->event_len;
	const struct fanotify_event_info_fid *fid = NULL;
	struct file_handle *fh;
	const char *name = ".";
	char link[64], hp[PATH_MAX + 1], id[128];
	unsigned long long h;
	size_t rel_len, hb;
	int mfd = -1, dfd = -1, pidfd = -3; /* -3: none reported */
	ssize_t n;
	char *json = NULL, *key;

	while (p + sizeof(struct fanotify_event_info_header) <= end) {
		const struct fanotify_event_info_header *ih = (const void *)p;

		if (ih->len < sizeof(*ih) || ih->len > (size_t)(end - p))
			break;
		if (!fid && (ih->info_type == FAN_EVENT_INFO_TYPE_DFID_NAME ||
			     ih->info_type == FAN_EVENT_INFO_TYPE_DFID))
			fid = (const void *)p;
		if (ih->info_type == FAN_EVENT_INFO_TYPE_PIDFD &&
		    ih->len >= sizeof(struct fanotify_event_info_pidfd))
			pidfd = ((const struct fanotify_event_info_pidfd
					  *)(const void *)p)
					->pidfd;
		p += ih->len;
	}
	pthread_mutex_lock(&w->mu);
	w->st.events++;
	if (m->mask & FAN_Q_OVERFLOW) {
		/* Whose changes went is not known: every container's notes
		 * until now may miss a writer. */
		w->st.overflows++;
		dwd_notes_lost_all(w->notes, now_us(CLOCK_MONOTONIC));
	}
	pthread_mutex_unlock(&w->mu);
	if ((m->mask & FAN_Q_OVERFLOW) || m->pid == w->self || !fid ||
	    fid->hdr.len < sizeof(*fid) + sizeof(struct file_handle))
		goto out;
	fh = (struct file_handle *)fid->handle;
	hb = fh->handle_bytes;
	if (hb > fid->hdr.len - sizeof(*fid) - sizeof(struct file_handle))
		goto out;
	if (fid->hdr.info_type == FAN_EVENT_INFO_TYPE_DFID_NAME) {
		const char *nm = (const char *)fh->f_handle + hb;
		size_t room = (size_t)((const char *)fid + fid->hdr.len - nm);

		if (!room || !memchr(nm, '\0', room))
			goto out;
		name = nm;
	}
	h = dir_hash(&fid->fsid, sizeof(fid->fsid), fh);
	if (host_dir_known(w, h))
		goto out;
	pthread_mutex_lock(&w->mu);
	for (size_t i = 0; i < w->nfs; i++)
		if (!memcmp(&w->fs[i].fsid, &fid->fsid, sizeof(fid->fsid)))
			mfd = w->fs[i].fd;
	pthread_mutex_unlock(&w->mu);
	/* The fd stays open while the filesystem is marked (never closed
	 * before the thread ends). */
	dfd = mfd < 0 ? -1 : open_by_handle_at(mfd, fh, O_PATH | O_CLOEXEC);
	if (dfd < 0) {
		pthread_mutex_lock(&w->mu);
		w->st.unresolved++;
		pthread_mutex_unlock(&w->mu);
		goto out;
	}
	snprintf(link, sizeof(link), "/proc/self/fd/%d", dfd);
	n = readlink(link, hp, sizeof(hp) - 1);
	if (n <= 0 || (size_t)n >= sizeof(hp) - 1) {
		/* Deeper than a path names: a container's (it can nest
		 * that far) is counted and degrades the facet; the host's
		 * is remembered as the host's. */
		if (deep_member(w, dfd)) {
			pthread_mutex_lock(&w->mu);
			w->st.too_long++;
			pthread_mutex_unlock(&w->mu);
		} else {
			host_dir_add(w, h);
		}
		goto out;
	}
	hp[n] = '\0';
	pthread_mutex_lock(&w->mu);
	id[0] = '\0';
	rel_len = 0;
	for (size_t i = 0; i < w->nt; i++) {
		const struct wtarget *t = &w->t[i];

		if ((size_t)n >= t->ulen && !memcmp(hp, t->upper, t->ulen) &&
		    (hp[t->ulen] == '\0' || hp[t->ulen] == '/')) {
			snprintf(id, sizeof(id), "%s", t->id);
			rel_len = (size_t)n - t->ulen;
			memmove(hp, hp + t->ulen, rel_len + 1);
			break;
		}
	}
	if (!id[0]) {
		pthread_mutex_unlock(&w->mu);
		host_dir_add(w, h);
		goto out;
	}
	w->st.noted++;
	/* A directory moved away from a path of the container: notes
	 * handled around it may sit under its other name (each is placed
	 * by the path its directory has when it is read), and one name's
	 * writer be missed. (Not one moved in alone: overlayfs copies a
	 * directory up by making it in its work dir and moving it in.) */
	if ((m->mask & FAN_MOVED_FROM) && (m->mask & FAN_ONDIR) &&
	    strcmp(name, "."))
		dwd_notes_lost(w->notes, id, now_us(CLOCK_MONOTONIC));
	pthread_mutex_unlock(&w->mu);
	if ((m->mask & FAN_MOVED_TO) && (m->mask & FAN_ONDIR) &&
	    strcmp(name, "."))
		moved_in(w, dfd, name, &fid->fsid, sizeof(fid->fsid));
	/* Read while it may still run (outside the lock: /proc), then
	 * checked against the pidfd: a pid reused since is not taken for
	 * the process that made the change. */
	if (still_there(pidfd))
		json = process_json(m->pid);
	if (json && !still_there(pidfd)) {
		free(json);
		json = NULL;
	}
	if (json)
		json = exec_checked(w, json, m->pid, made_after);
	if (!json)
		json = exited_json(m->pid);
	/* The entry's path: its directory's and its name ("." is the
	 * directory itself; the upper dir is "/"). */
	{
		size_t nlen = strcmp(name, ".") ? strlen(name) : 0;

		key = dw_xmalloc(rel_len + nlen + 3);
		memcpy(key, hp, rel_len);
		if (nlen) {
			key[rel_len] = '/';
			memcpy(key + rel_len + 1, name, nlen + 1);
		} else if (!rel_len) {
			memcpy(key, "/", 2);
		} else {
			key[rel_len] = '\0';
		}
	}
	pthread_mutex_lock(&w->mu);
	{
		long long t = now_us(CLOCK_MONOTONIC);

		size_t lost =
			dwd_notes_put(w->notes, id, key, strlen(key), json, t);

		/* An entry made or removed changes its directory too. */
		if ((m->mask & DIRENT_EVENTS) && rel_len && strcmp(name, "."))
			lost += dwd_notes_put(w->notes, id, hp, rel_len, json,
					      t);
		w->st.dropped += lost;
	}
	pthread_mutex_unlock(&w->mu);
	free(key);
out:
	free(json);
	if (dfd >= 0)
		close(dfd);
	if (pidfd >= 0)
		close(pidfd);
}

/* Every event queued now, handled: 0, or -1 (stop, or an error said). */
static int drain(struct dwd_writer *w, char *buf)
{
	union {
		struct fanotify_event_metadata m;
		char b[4096];
	} ev;
	/* Every event read now was queued after the last empty read. */
	long long made_after = w->drained_us;

	for (;;) {
		long long t = now_us(CLOCK_MONOTONIC);
		ssize_t n = read(w->fan, buf, READ_BUF);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN) {
			w->drained_us = t; /* before the read that found none */
			return 0;
		}
		if (n <= 0) {
			dw_log_warn("writer attribution: read: %s",
				    n ? strerror(errno) : "end of file");
			return -1;
		}
		pthread_mutex_lock(&w->mu);
		w->busy_since_ms = now_us(CLOCK_MONOTONIC) / 1000;
		if (w->host_dirs_clear) {
			/* A fresh zeroed block (untouched pages, not part
			 * of the daemon's memory until used), not a memset
			 * of all 128 KiB. */
			free(w->host_dirs);
			w->host_dirs =
				dw_xcalloc(HOST_DIRS, sizeof(*w->host_dirs));
			w->host_dirs_clear = 0;
		}
		pthread_mutex_unlock(&w->mu);
		/* FID events are not padded to 8 bytes: each is copied
		 * whole into an aligned buffer before it is read (its
		 * records are 4-aligned within it). */
		for (size_t off = 0; off + sizeof(ev.m) <= (size_t)n;) {
			struct fanotify_event_metadata h;

			memcpy(&h, buf + off, sizeof(h));
			if (h.vers != FANOTIFY_METADATA_VERSION ||
			    h.event_len < sizeof(h) ||
			    h.event_len > (size_t)n - off)
				break;
			if (h.fd >= 0)
				close(h.fd); /* none in FID mode */
			if (h.event_len <= sizeof(ev.b)) {
				memcpy(ev.b, buf + off, h.event_len);
				handle(w, &ev.m, made_after);
			}
			off += h.event_len;
		}
		pthread_mutex_lock(&w->mu);
		w->busy_since_ms = 0;
		pthread_mutex_unlock(&w->mu);
	}
}

/*
 * The thread: reads what is queued, then rests REST_MS (not waiting on
 * the group meanwhile, so a write on the host wakes no one: the cost of a
 * busy host's writes stays theirs), unless the loop asks for everything
 * queued so far (dwd_writer_sync()) or stop.
 */
static void *thread_main(void *arg)
{
	struct dwd_writer *w = arg;
	char *buf = dw_xmalloc(READ_BUF);

	for (;;) {
		struct pollfd p[3] = {{w->stop_pipe[0], POLLIN, 0},
				      {w->sync_pipe[0], POLLIN, 0},
				      {w->fan, POLLIN, 0}};
		unsigned long long req;
		char c[64];

		if (poll(p, 3, -1) < 0 && errno != EINTR) {
			dw_log_warn("writer attribution: poll: %s",
				    strerror(errno));
			break;
		}
		if (p[0].revents)
			break;
		if (p[1].revents && read(w->sync_pipe[0], c, sizeof(c)) < 0 &&
		    errno != EAGAIN)
			break;
		pthread_mutex_lock(&w->mu);
		req = w->sync_req;
		pthread_mutex_unlock(&w->mu);
		if (drain(w, buf))
			sleep(1); /* counted as stalled meanwhile */
		pthread_mutex_lock(&w->mu);
		w->sync_done = req;
		pthread_cond_broadcast(&w->synced);
		pthread_mutex_unlock(&w->mu);
		/* The rest: a sync or stop ends it. */
		if (poll(p, 2, REST_MS) > 0 && p[0].revents)
			break;
	}
	free(buf);
	return NULL;
}

void dwd_writer_exec_clock(struct dwd_writer *w,
			   long long (*fn)(void *ctx, pid_t pid), void *ctx)
{
	pthread_mutex_lock(&w->mu);
	w->last_exec = fn;
	w->exec_ctx = ctx;
	pthread_mutex_unlock(&w->mu);
}

int dwd_writer_sync(struct dwd_writer *w)
{
	struct timespec until;
	unsigned long long seq;
	int ok;

	pthread_mutex_lock(&w->mu);
	if (w->sync_stuck && w->sync_done < w->sync_req) {
		/* The last one timed out and the thread has not caught up:
		 * not waited for again. */
		pthread_mutex_unlock(&w->mu);
		return -1;
	}
	seq = ++w->sync_req;
	pthread_mutex_unlock(&w->mu);
	if (write(w->sync_pipe[1], "s", 1) != 1 && errno != EAGAIN)
		return -1;
	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_nsec += SYNC_WAIT_MS * 1000000L;
	if (until.tv_nsec >= 1000000000L) {
		until.tv_sec++;
		until.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(&w->mu);
	while (w->sync_done < seq &&
	       !pthread_cond_timedwait(&w->synced, &w->mu, &until))
		;
	ok = w->sync_done >= seq;
	w->sync_stuck = !ok;
	w->st.late += !ok;
	pthread_mutex_unlock(&w->mu);
	return ok ? 0 : -1;
}

/* ---- the loop's side ---- */

int dwd_writer_start(struct dwd_writer **out)
{
	struct dwd_writer *w;
	unsigned char key[32];
	int fan, pidfd;

	*out = NULL;
	/* With a pidfd for each event's process where the kernel has it
	 * (5.15): a pid reused meanwhile is told from it. */
	fan = fanotify_init(FAN_CLASS_NOTIF | FAN_REPORT_DFID_NAME |
				    FAN_REPORT_PIDFD | FAN_CLOEXEC |
				    FAN_NONBLOCK,
			    O_RDONLY | O_LARGEFILE);
	pidfd = fan >= 0;
	if (fan < 0 && errno == EINVAL)
		fan = fanotify_init(FAN_CLASS_NOTIF | FAN_REPORT_DFID_NAME |
					    FAN_CLOEXEC | FAN_NONBLOCK,
				    O_RDONLY | O_LARGEFILE);
	if (fan < 0)
		return dw_error_errno(
			errno == EPERM ? DW_ERROR : DW_EUNSUPPORTED, errno,
			"fanotify_init(FAN_REPORT_DFID_NAME) "
			"(CAP_SYS_ADMIN and kernel 5.9 needed)");
	w = dw_xcalloc(1, sizeof(*w));
	w->fan = fan;
	w->self = getpid();
	w->st.pidfd = pidfd;
	/* The notes' hash key: random, so that a container cannot choose
	 * names whose notes land on another's. */
	if (getrandom(key, sizeof(key), 0) != (ssize_t)sizeof(key) &&
	    RAND_bytes(key, sizeof(key)) != 1) {
		free(w);
		close(fan);
		return dw_error_set(DW_ERROR, "writer attribution: no random "
					      "key for its notes");
	}
	w->notes = dwd_notes_new(key, NOTES, NOTES_BYTES);
	w->host_dirs = dw_xcalloc(HOST_DIRS, sizeof(*w->host_dirs));
	pthread_mutex_init(&w->mu, NULL);
	pthread_cond_init(&w->synced, NULL);
	w->stop_pipe[0] = w->sync_pipe[0] = -1;
	if (pipe2(w->stop_pipe, O_CLOEXEC) ||
	    pipe2(w->sync_pipe, O_CLOEXEC | O_NONBLOCK) ||
	    pthread_create(&w->thread, NULL, thread_main, w)) {
		int e = errno;

		w->running = 0;
		dwd_writer_stop(w);
		return dw_error_errno(DW_ERROR, e, "writer attribution");
	}
	w->running = 1;
	*out = w;
	return 0;
}

void dwd_writer_stop(struct dwd_writer *w)
{
	if (!w)
		return;
	if (w->running) {
		if (write(w->stop_pipe[1], "x", 1) != 1)
			dw_log_warn("writer attribution: stop: %s",
				    strerror(errno));
		pthread_join(w->thread, NULL);
	}
	if (w->stop_pipe[0] >= 0) {
		close(w->stop_pipe[0]);
		close(w->stop_pipe[1]);
	}
	if (w->sync_pipe[0] >= 0) {
		close(w->sync_pipe[0]);
		close(w->sync_pipe[1]);
	}
	close(w->fan);
	for (size_t i = 0; i < w->nt; i++) {
		free(w->t[i].id);
		free(w->t[i].upper);
	}
	free(w->t);
	for (size_t i = 0; i < w->nfs; i++)
		close(w->fs[i].fd);
	free(w->fs);
	dwd_notes_free(w->notes);
	free(w->host_dirs);
	pthread_mutex_destroy(&w->mu);
	pthread_cond_destroy(&w->synced);
	free(w);
}

int dwd_writer_add(struct dwd_writer *w, const char *id, const char *upper)
{
	char real[PATH_MAX];
	struct statfs sf;
	struct stat st;
	int fd, marked = 0;
	size_t i;

	fd = open(upper, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return dw_error_errno(DW_EIO, errno, "%s", upper);
	if (fstat(fd, &st) || fstatfs(fd, &sf)) {
		int e = errno;

		close(fd);
		return dw_error_errno(DW_EIO, e, "%s", upper);
	}
	{
		char link[64];
		ssize_t n;

		snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
		n = readlink(link, real, sizeof(real) - 1);
		if (n <= 0) {
			close(fd);
			return dw_error_errno(DW_EIO, errno, "%s", upper);
		}
		real[n] = '\0';
	}
	pthread_mutex_lock(&w->mu);
	for (i = 0; i < w->nfs; i++)
		marked |= w->fs[i].dev == st.st_dev;
	pthread_mutex_unlock(&w->mu);
	if (!marked) {
		if (fanotify_mark(w->fan, FAN_MARK_ADD | FAN_MARK_FILESYSTEM,
				  MARK_MASK, fd, NULL)) {
			int e = errno;

			close(fd);
			return dw_error_errno(
				e == EPERM ? DW_ERROR : DW_EUNSUPPORTED, e,
				"fanotify_mark(FAN_MARK_FILESYSTEM) on the "
				"filesystem of %s (one that reports file "
				"handles is needed)",
				upper);
		}
		pthread_mutex_lock(&w->mu);
		DW_ALLOC_GROW(w->fs, w->nfs + 1, w->fs_alloc);
		w->fs[w->nfs++] = (struct wfs){st.st_dev, sf.f_fsid, fd};
		pthread_mutex_unlock(&w->mu);
	} else {
		close(fd);
	}
	pthread_mutex_lock(&w->mu);
	for (i = 0; i < w->nt; i++)
		if (!strcmp(w->t[i].id, id))
			break;
	if (i == w->nt) {
		DW_ALLOC_GROW(w->t, w->nt + 1, w->t_alloc);
		w->t[w->nt++] = (struct wtarget){dw_xstrdup(id), NULL, 0, 0, 0};
		/* What it wrote before now was not noted: a take reaching
		 * back past this (its first round) says notes were lost, or
		 * a later touch by another process would pass for the only
		 * writer of what was written unwatched. */
		dwd_notes_lost(w->notes, id, now_us(CLOCK_MONOTONIC));
	}
	w->t[i].dev = st.st_dev;
	w->t[i].ino = st.st_ino;
	if (!w->t[i].upper || strcmp(w->t[i].upper, real)) {
		if (w->t[i].upper) /* what was written there: not noted */
			dwd_notes_lost(w->notes, id, now_us(CLOCK_MONOTONIC));
		free(w->t[i].upper);
		w->t[i].upper = dw_xstrdup(real);
		w->t[i].ulen = strlen(real);
		/* Its directories may have been taken for the host's. */
		w->host_dirs_clear = 1;
	}
	pthread_mutex_unlock(&w->mu);
	return 0;
}

void dwd_writer_remove(struct dwd_writer *w, const char *id)
{
	pthread_mutex_lock(&w->mu);
	for (size_t i = 0; i < w->nt; i++)
		if (!strcmp(w->t[i].id, id)) {
			free(w->t[i].id);
			free(w->t[i].upper);
			w->t[i] = w->t[--w->nt];
			break;
		}
	/* What it still had noted goes, and its mark: if it comes back
	 * under this id (a restart), dwd_writer_add() marks its notes
	 * lost until then. Only live containers' marks are kept. */
	dwd_notes_forget(w->notes, id, LLONG_MAX);
	pthread_mutex_unlock(&w->mu);
}

void dwd_writer_stats(struct dwd_writer *w, struct dwd_writer_stats *st)
{
	pthread_mutex_lock(&w->mu);
	*st = w->st;
	st->stalled_ms = w->busy_since_ms ? now_us(CLOCK_MONOTONIC) / 1000 -
						    w->busy_since_ms
					  : 0;
	pthread_mutex_unlock(&w->mu);
}
