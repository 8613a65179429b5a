#ifndef DW_CONFINE_H
#define DW_CONFINE_H

#include <sys/types.h>

/*
 * `driftwatch scan --git` as root, on a repository root alone can change:
 * libgit2 parses every object of it (packs, deltas, zlib, its config) in
 * this process, and a repository cloned from anywhere is hostile content.
 * Before libgit2 opens it, the process (its working directory the
 * repository) becomes a reader that can read the repository and do
 * little else:
 *  - every descriptor but 0-2 and those open on `keep_open` (absolute
 *    paths: --cache and its -wal and -shm) closed, however many;
 *    standard input /dev/null (the environment is the caller's to wipe:
 *    scan's reader_child() does, where it lies);
 *  - a uid and gid of its own, which no account and no other process has
 *    (2147352576 + its pid modulo 65536), no supplementary groups;
 *  - one capability, CAP_DAC_READ_SEARCH, to read root's files (in a
 *    container that lacks it, CAP_DAC_OVERRIDE where Landlock forbids its
 *    writes and truncation), and only where Landlock keeps its reading to
 *    the repository; else none (said on stderr); none in its bounding
 *    set besides, none ambient or inheritable, securebits locked (no
 *    setuid fix-up, no root);
 *  - PR_SET_NO_NEW_PRIVS, not dumpable;
 *  - Landlock: every right to change the filesystem handled and granted
 *    nowhere; reading granted only beneath the repository, the system's
 *    libraries, its own /proc and `read_also` (the rules' cache); device
 *    ioctls nowhere (ABI 5);
 *  - a seccomp filter (libseccomp) that refuses new sockets, executing,
 *    new processes (threads only), namespaces, sessions, SysV IPC,
 *    tracing, io_uring, BPF, mounts, terminal ioctls that change a
 *    terminal (TIOCSTI...; int arguments compared on their low 32 bits,
 *    as the kernel reads them), signals through a descriptor, changing
 *    attributes, times, modes, owners and sizes, and signals to any
 *    process but itself;
 *  - killed when its parent dies (PR_SET_PDEATHSIG, set after the uid).
 * The caller runs it in a child whose standard descriptors are /dev/null
 * and pipes it relays, in a session of its own, with its environment
 * wiped and no secret of this host in its memory (scan's reader_child()):
 * descriptors 0-2 are no longer root's terminal or files.
 * Returns 0, or DW_ERROR with what failed: the caller then stops (the
 * process may be half confined).
 */
int dw_confine_reader(const char *const *keep_open,
		      const char *const *read_also);

/* The process that relays the reader (its parent): killed with it. Call
 * dw_confine_pdeathsig() again after any change of uid (which clears the
 * kernel's setting); it ends the process if that parent is gone. */
void dw_confine_set_parent(pid_t parent);
void dw_confine_pdeathsig(void);

#endif
