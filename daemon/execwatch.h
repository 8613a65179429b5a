#ifndef DWD_EXECWATCH_H
#define DWD_EXECWATCH_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>

/*
 * Drifted binaries caught when they run: a fanotify group of class
 * FAN_CLASS_CONTENT with a FAN_OPEN_EXEC_PERM mark on each watched
 * container's overlay superblock (FAN_MARK_FILESYSTEM: a mount mark on the
 * host's copy of the mount sees nothing, the container has its own). The
 * kernel holds every exec there until a thread of ours answers. It answers
 * from the event's own descriptor, never by looking the path up again (a
 * rename would race that): the file is image content when its inode is
 * one of a lower layer's, unchanged (inode number, ctime, mtime and size
 * of the lower file at the path the kernel names), and anything else is
 * not (written in the container: new, copied up, moved). Audit allows
 * and reports; enforce denies (EPERM) and reports; an exec it cannot
 * decide is denied in enforce and allowed in audit, reported either way.
 *
 * The answering thread does only that (a few stats, /proc reads of the
 * process waiting in exec): a worker hashes the file afterwards, and the
 * reports wait for the monitoring loop (dwd_exec_fd()), which records
 * them. Nothing of the store or the network is ever waited on while an
 * exec is held. When the daemon dies, the kernel lets held execs run
 * (fail open).
 */
struct dwd_exec;

/*
 * One exec the loop records. `path` is in the container; `detail` (owned)
 * the event's JSON: process, parents, file, action, why.
 */
struct dwd_exec_report {
	struct dwd_exec_report *next;
	char *id, *name, *path;
	char sha256[65]; /* "" when not hashed */
	json_t *detail;
	int denied;
	long long time_us;
	int fd;		/* the file, until hashed (-1 after) */
	struct stat at; /* the file when it was run (st_ino 0: not known) */
};

struct dwd_exec_stats {
	unsigned long long held;      /* permission events answered */
	unsigned long long drifted;   /* ... of files not image content */
	unsigned long long undecided; /* ... that could not be decided */
	unsigned long long denied;
	unsigned long long lost; /* reports past the queue's bound */
	unsigned long long
		overflows; /* the kernel's queue (never, unlimited) */
	unsigned long long read_errors; /* reads of the group that failed */
	size_t marked;			/* containers marked now */
	/* How long execs were held (from reading the event to the answer,
	 * microseconds): the median and p99 of the last 1024, the most. */
	long long hold_p50_us, hold_p99_us, hold_max_us;
};

/*
 * The group and its thread. DW_EUNSUPPORTED (no fanotify, no
 * FAN_OPEN_EXEC_PERM, no CAP_SYS_ADMIN), with the error set: the exec
 * facet is then unmonitored for every container, said there.
 * `max_size`: the most read of a file to hash it; `host_root` as in the
 * configuration.
 */
int dwd_exec_start(struct dwd_exec **out, uint64_t max_size,
		   const char *host_root);
/* Stop answering and hashing (the reports made stay to be taken);
 * then stop, which frees. */
void dwd_exec_halt(struct dwd_exec *x);
void dwd_exec_stop(struct dwd_exec *x);

/*
 * Mark the overlay whose upper dir is `upper` (found in the host's
 * mountinfo) for container `id` (`name` for reports), deciding against
 * `lowers` (topmost first). `enforce`: deny what is not image content.
 * Called again for a container already marked: nothing when its overlay
 * is the same superblock (its enforce updated), marked anew when not.
 * 0, or an error (set): DW_EUNSUPPORTED when its layers lie on several
 * filesystems (not marked: neither the container nor image content could
 * be told), DW_ENOTFOUND or DW_EIO when it could not be marked.
 */
int dwd_exec_add(struct dwd_exec *x, const char *id, const char *name,
		 const char *upper, char *const *lowers, size_t nlowers,
		 int enforce);
void dwd_exec_remove(struct dwd_exec *x, const char *id);

/*
 * The loop's sweep of /proc: processes of a marked container that run
 * what no exec mark saw (from an anonymous memfd file other than runc's
 * own copy, from another filesystem: a volume, a tmpfs, a bind mount,
 * runtime init binaries aside; or not image content and started before
 * the container was marked: while driftwatchd was down), reported once
 * each (action "running"), after the fact and never denied. Returns how
 * many were reported.
 */
int dwd_exec_sweep(struct dwd_exec *x);

/* Readable when reports are ready. */
int dwd_exec_fd(const struct dwd_exec *x);
/* The reports ready, oldest first (free each with dwd_exec_free()). */
struct dwd_exec_report *dwd_exec_take(struct dwd_exec *x);
void dwd_exec_free(struct dwd_exec_report *r);
void dwd_exec_stats(struct dwd_exec *x, struct dwd_exec_stats *st);

/*
 * When `pid` last exec'd in a watched container (CLOCK_MONOTONIC,
 * microseconds; 0: not since the start), recorded before the exec was
 * let through; or a later time (another pid's sharing its bucket): never
 * earlier. Any thread.
 */
long long dwd_exec_last_us(struct dwd_exec *x, pid_t pid);

#endif
