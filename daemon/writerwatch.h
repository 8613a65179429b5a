#ifndef DWD_WRITERWATCH_H
#define DWD_WRITERWATCH_H

/*
 * Who changed a container's files: a fanotify group in FID mode
 * (FAN_CLASS_NOTIF | FAN_REPORT_DFID_NAME, kernel 5.9) with a
 * FAN_MARK_FILESYSTEM mark on each filesystem that holds a watched
 * container's upper dir. A thread reads its events: each change under an
 * upper dir (create, delete, move, attrib, close-write) names the
 * directory by file handle, the entry by name, and the process that made
 * it; the thread resolves the handle to the container's path and reads
 * the process from /proc while it still runs. The monitor, when it
 * records a change, takes what was noted for that path (joined by path,
 * and by time: a note is kept until its change is recorded or a later
 * rescan that looked at it finds none; writer_notes.h). Nothing waits for it: a
 * change nobody was seen to make is recorded with no process, and says why.
 *
 * What it cannot see: changes through a shared mapping (mmap) or a hard
 * link made elsewhere, which make no event; writes through a descriptor
 * still open (the close makes the event); a process that exited before
 * the thread read it (its pid alone); events the kernel dropped (queue
 * overflow), counted and reported as degraded coverage.
 */
#include <sys/types.h>

#include <jansson.h>

struct dwd_writer;

/* Started, or an error (fanotify unavailable here: DW_EUNSUPPORTED or
 * DW_EPERM, said by dw_error_last()). */
int dwd_writer_start(struct dwd_writer **out);
void dwd_writer_stop(struct dwd_writer *w);

/*
 * Watch container `id`'s upper dir `upper` (its filesystem marked once
 * for all its containers). 0, or DW_EUNSUPPORTED when the filesystem
 * cannot report file handles (said).
 */
int dwd_writer_add(struct dwd_writer *w, const char *id, const char *upper);
void dwd_writer_remove(struct dwd_writer *w, const char *id);

/*
 * The process that last changed `path` ("/a/b") in container `id`, noted
 * since `since_us` (CLOCK_MONOTONIC microseconds: the container's last
 * rescan began; an older note is of a write that changed nothing then),
 * and taken (a later change needs its own note): a new object (pid,
 * nspid, ppid, uid, comm, exe, cmdline not redacted, cgroup; "_exe",
 * "_exec" for the caller; "more_writers" when other processes changed it
 * too, "notes_lost" when notes of this container's changes were dropped
 * meanwhile: either way not the only writer for certain), or NULL with
 * `*why` saying why not.
 */
json_t *dwd_writer_take(struct dwd_writer *w, const char *id, const char *path,
			size_t len, long long since_us, const char **why);

/* Container `id`'s notes from before `before_us` (a rescan that looked
 * at every change noted before then began: no change of them is left to
 * record), dropped uncounted. */
void dwd_writer_forget(struct dwd_writer *w, const char *id,
		       long long before_us);

/* Notes of container `id` were taken for changes that were then not
 * recorded (a rescan's rows thrown away): its takes whose window reaches
 * back to now say notes were lost. */
void dwd_writer_lost(struct dwd_writer *w, const char *id);

/*
 * The exec watch's clock: `fn` says when `pid` last exec'd (monotonic
 * microseconds; dwd_exec_last_us()). A process that exec'd after its
 * change is then not taken for the program /proc shows ("_exec" in its
 * note: "after"; without a clock: "unknown"). NULL: none. Set before
 * the exec watch stops.
 */
void dwd_writer_exec_clock(struct dwd_writer *w,
			   long long (*fn)(void *ctx, pid_t pid), void *ctx);

/*
 * Wait (at most 100 ms) until the thread has handled every event queued
 * before this call: the loop calls it before it takes the notes of a
 * rescan's changes, whose events the kernel queued before inotify's. -1
 * when it did not finish in time (not waited for again until it does).
 */
int dwd_writer_sync(struct dwd_writer *w);

struct dwd_writer_stats {
	unsigned long long events;     /* read from the group */
	unsigned long long noted;      /* under a watched upper dir */
	unsigned long long unresolved; /* a handle that no longer opens */
	unsigned long long too_long;   /* a directory's path past PATH_MAX */
	unsigned long long overflows;  /* the kernel's queue overflowed */
	unsigned long long dropped;    /* notes dropped untaken */
	unsigned long long late;       /* syncs that timed out */
	int pidfd;		       /* FAN_REPORT_PIDFD (kernel 5.15) */
	long long stalled_ms; /* the thread has been on one batch this long */
};
void dwd_writer_stats(struct dwd_writer *w, struct dwd_writer_stats *st);

#endif
