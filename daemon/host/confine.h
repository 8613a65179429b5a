#ifndef DW_CONFINE_H
#define DW_CONFINE_H

/*
 * `driftwatch scan --git` as root, on a repository root alone can change:
 * libgit2 parses every object of it (packs, deltas, zlib, its config) in
 * this process, and a repository cloned from anywhere is hostile content.
 * Before libgit2 opens it, the process becomes a reader that can read
 * what root can and do little else:
 *  - every descriptor but 0-2 and those open on `keep_open` (absolute
 *    paths: --cache and its -wal and -shm) closed;
 *  - a uid and gid of its own, which no account and no other process has
 *    (2147352576 + its pid modulo 65536), no supplementary groups;
 *  - one capability, CAP_DAC_READ_SEARCH, to read root's files (in a
 *    container that lacks it, CAP_DAC_OVERRIDE where Landlock forbids its
 *    writes and truncation; else none, said on stderr), none in its
 *    bounding set besides, none ambient or inheritable, securebits locked
 *    (no setuid fix-up, no root);
 *  - PR_SET_NO_NEW_PRIVS, not dumpable;
 *  - a Landlock ruleset that handles every right to change the filesystem
 *    and grants none (a kernel without Landlock is said on stderr);
 *  - a seccomp filter (libseccomp) that refuses new sockets, executing,
 *    new processes (threads only) and namespaces, tracing, io_uring, BPF,
 *    mounts, typing into the terminal (TIOCSTI), changing attributes,
 *    times, modes, owners and sizes, and signals to any process but
 *    itself.
 * Returns 0, or DW_ERROR with what failed: the caller then stops (the
 * process may be half confined).
 */
int dw_confine_reader(const char *const *keep_open);

#endif
