#ifndef DW_CONFINE_H
#define DW_CONFINE_H

/*
 * `driftwatch scan --git` as root, on a repository root alone can change:
 * libgit2 parses every object of it (packs, deltas, zlib, its config) in
 * this process, and a repository cloned from anywhere is hostile content.
 * Before libgit2 opens it, the process becomes a reader that can read
 * what root can and do nothing else:
 *  - the `driftwatch` system user (else `nobody`), no supplementary
 *    groups, keeping one capability, CAP_DAC_READ_SEARCH (to read root's
 *    files; in a container that lacks it, CAP_DAC_OVERRIDE where Landlock
 *    forbids its writes), none in its bounding set besides, none ambient
 *    or inheritable, securebits locked (no setuid fix-up, no root);
 *  - PR_SET_NO_NEW_PRIVS, not dumpable (no other process of that user may
 *    trace it);
 *  - a Landlock ruleset that handles every right to change the filesystem
 *    and grants none (descriptors already open, such as --cache's and
 *    standard output, are still written);
 *  - a seccomp filter (libseccomp) that refuses (EPERM) new sockets,
 *    executing, tracing, io_uring, BPF, mounts, namespaces and signals to
 *    any process but itself.
 * Returns 0, or DW_ERROR with what failed (the caller stops: the
 * repository is then not read at all). A kernel without Landlock is said
 * on stderr and the rest holds.
 */
int dw_confine_reader(void);

#endif
