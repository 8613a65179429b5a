#ifndef DWD_PROCINFO_H
#define DWD_PROCINFO_H

/* What /proc says of a process, for the exec watch and writer
 * attribution (driftwatchd's threads; nothing here takes a lock). */
#include <stddef.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <time.h>

#include <jansson.h>

/* A small /proc file into buf (NUL-terminated, O_NOFOLLOW): its length,
 * or -1. */
ssize_t dwd_read_small(const char *path, char *buf, size_t size);

/* `n` bytes of `s` as UTF-8 (invalid bytes replaced) under `key`. */
void dwd_json_sanitized(json_t *o, const char *key, const char *s, size_t n);

/*
 * Its fields into `o`: pid, uid, nspid (the pid in its own namespace),
 * traced (true when a tracer is attached),
 * ppid (returned, 0 when not known), comm, exe (at most 1 KiB). With
 * `cmdline` (bytes, at most 8192; 0: none), also its command line, the
 * arguments separated by spaces (not redacted: the caller does).
 */
pid_t dwd_process_info(pid_t pid, json_t *o, size_t cmdline);

/* `rel` (no leading '/') beneath `dir`, never through a symlink, a
 * magic link or a mount: its stat, 0; or -1. */
int dwd_stat_beneath(int dir, const char *rel, struct stat *st);

static inline int dwd_same_time(const struct timespec *a,
				const struct timespec *b)
{
	return a->tv_sec == b->tv_sec && a->tv_nsec == b->tv_nsec;
}

/* starttime of `pid` (/proc/PID/stat, field 22), or 0. */
unsigned long long dwd_start_ticks(pid_t pid);

#endif
