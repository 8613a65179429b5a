/* The reader of a repository root alone can change (confine.h). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <linux/capability.h>
#include <linux/landlock.h>
#include <linux/securebits.h>
#include <sched.h>
#include <seccomp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "driftwatch/error.h"
#include "confine.h"

#include "driftwatch/banned.h"

/* Rights of later Landlock ABIs, for headers older than the kernel. */
#ifndef LANDLOCK_ACCESS_FS_REFER
#define LANDLOCK_ACCESS_FS_REFER (1ULL << 13)
#endif
#ifndef LANDLOCK_ACCESS_FS_TRUNCATE
#define LANDLOCK_ACCESS_FS_TRUNCATE (1ULL << 14)
#endif

/* The reader's uid and gid: one no account and no other process has
 * (as systemd's DynamicUser), so that nothing else can be reached through
 * being the same user (signals, prlimit, scheduling), one per scan. */
#define READER_ID_BASE 2147352576u

/* What the capability sets of this process hold (capget). */
static int caps_now(uint64_t *permitted)
{
	struct __user_cap_header_struct h = {_LINUX_CAPABILITY_VERSION_3, 0};
	struct __user_cap_data_struct d[2];

	memset(d, 0, sizeof(d));
	if (syscall(SYS_capget, &h, d))
		return -1;
	*permitted = (uint64_t)d[0].permitted | (uint64_t)d[1].permitted << 32;
	return 0;
}

/* No capability in any set. */
static int caps_none(void)
{
	struct __user_cap_header_struct h = {_LINUX_CAPABILITY_VERSION_3, 0};
	struct __user_cap_data_struct d[2];

	memset(d, 0, sizeof(d));
	return (int)syscall(SYS_capset, &h, d);
}

/* Effective and permitted: `cap` alone; inheritable: none. */
static int caps_only(int cap)
{
	struct __user_cap_header_struct h = {_LINUX_CAPABILITY_VERSION_3, 0};
	struct __user_cap_data_struct d[2];

	memset(d, 0, sizeof(d));
	d[cap / 32].effective = d[cap / 32].permitted = 1u << (cap % 32);
	return (int)syscall(SYS_capset, &h, d);
}

static long landlock_abi(void)
{
	return syscall(SYS_landlock_create_ruleset, NULL, 0,
		       LANDLOCK_CREATE_RULESET_VERSION);
}

/*
 * Every right to change the filesystem this kernel's Landlock knows,
 * handled and granted nowhere. Returns 1 when in force, 0 when the kernel
 * has no Landlock, -1 on error.
 */
static int no_fs_writes(long abi)
{
	struct landlock_ruleset_attr attr;
	int fd;

	if (abi < 1)
		return 0;
	memset(&attr, 0, sizeof(attr));
	attr.handled_access_fs =
		LANDLOCK_ACCESS_FS_WRITE_FILE | LANDLOCK_ACCESS_FS_REMOVE_DIR |
		LANDLOCK_ACCESS_FS_REMOVE_FILE | LANDLOCK_ACCESS_FS_MAKE_CHAR |
		LANDLOCK_ACCESS_FS_MAKE_DIR | LANDLOCK_ACCESS_FS_MAKE_REG |
		LANDLOCK_ACCESS_FS_MAKE_SOCK | LANDLOCK_ACCESS_FS_MAKE_FIFO |
		LANDLOCK_ACCESS_FS_MAKE_BLOCK | LANDLOCK_ACCESS_FS_MAKE_SYM;
	if (abi >= 2)
		attr.handled_access_fs |= LANDLOCK_ACCESS_FS_REFER;
	if (abi >= 3)
		attr.handled_access_fs |= LANDLOCK_ACCESS_FS_TRUNCATE;
	/* Only the first field: what every Landlock kernel knows. */
	fd = (int)syscall(SYS_landlock_create_ruleset, &attr,
			  sizeof(attr.handled_access_fs), 0);
	if (fd < 0)
		return -1;
	if (syscall(SYS_landlock_restrict_self, fd, 0)) {
		close(fd);
		return -1;
	}
	close(fd);
	return 1;
}

/* Refused (EPERM), whatever their arguments. */
static const char *const refused[] = {
	"socket",
	"socketpair",
	"connect",
	"bind",
	"listen",
	"accept",
	"accept4",
	"execve",
	"execveat",
#if !defined(__SANITIZE_ADDRESS__)
	"ptrace",
#endif
	"process_vm_readv",
	"process_vm_writev",
	"io_uring_setup",
	"io_uring_enter",
	"io_uring_register",
	"bpf",
	"perf_event_open",
	"userfaultfd",
	"mount",
	"umount2",
	"move_mount",
	"open_tree",
	"fsopen",
	"fsmount",
	"unshare",
	"setns",
	"chroot",
	"pivot_root",
	"keyctl",
	"add_key",
	"request_key",
	"tkill",
	"pidfd_open",
	"pidfd_send_signal",
	"pidfd_getfd",
	"kexec_load",
	"init_module",
	"finit_module",
	"delete_module",
	/* What Landlock does not cover: attributes, times, modes, owners,
	 * sizes (of what it may write: --cache), and new processes. */
	"truncate",
	"setxattr",
	"lsetxattr",
	"fsetxattr",
	"removexattr",
	"lremovexattr",
	"fremovexattr",
	"setxattrat",
	"removexattrat",
	"utime",
	"utimes",
	"futimesat",
	"utimensat",
	"chmod",
	"fchmod",
	"fchmodat",
	"fchmodat2",
	"chown",
	"fchown",
	"lchown",
	"fchownat",
	"fallocate",
	"fork",
	"vfork",
	"name_to_handle_at",
	"open_by_handle_at",
	"quotactl",
	"quotactl_fd",
	"swapon",
	"swapoff",
	"settimeofday",
	"clock_settime",
	"adjtimex",
	"clock_adjtime",
	"reboot",
	"sethostname",
	"setdomainname",
	"acct",
	"iopl",
	"ioperm",
	"process_madvise",
	"fanotify_init",
	"inotify_init",
	"inotify_init1",
	"personality",
};

static int filter(void)
{
	static const scmp_datum_t newns[] = {
		CLONE_NEWNS,  CLONE_NEWUSER, CLONE_NEWNET,   CLONE_NEWPID,
		CLONE_NEWIPC, CLONE_NEWUTS,  CLONE_NEWCGROUP};
	scmp_filter_ctx f = seccomp_init(SCMP_ACT_ALLOW);
	scmp_datum_t me = (scmp_datum_t)getpid();
	size_t i;
	int rc = 0;

	if (!f)
		return -ENOMEM;
	for (i = 0; !rc && i < sizeof(refused) / sizeof(refused[0]); i++) {
		int nr = seccomp_syscall_resolve_name(refused[i]);

		if (nr != __NR_SCMP_ERROR)
			rc = seccomp_rule_add(f, SCMP_ACT_ERRNO(EPERM), nr, 0);
	}
	/*
	 * New processes (a child could outlive the scan) and namespaces:
	 * clone only for threads (libgit2's), clone3 not at all (glibc then
	 * uses clone). Sanitizer builds keep fork and ptrace: LeakSanitizer
	 * stops the process's threads so, at exit.
	 */
#if !defined(__SANITIZE_ADDRESS__)
	if (!rc)
		rc = seccomp_rule_add(
			f, SCMP_ACT_ERRNO(EPERM), SCMP_SYS(clone), 1,
			SCMP_A0(SCMP_CMP_MASKED_EQ, CLONE_THREAD, 0));
#endif
	if (!rc)
		rc = seccomp_rule_add(f, SCMP_ACT_ERRNO(ENOSYS),
				      SCMP_SYS(clone3), 0);
	for (i = 0; !rc && i < sizeof(newns) / sizeof(newns[0]); i++)
		rc = seccomp_rule_add(
			f, SCMP_ACT_ERRNO(EPERM), SCMP_SYS(clone), 1,
			SCMP_A0(SCMP_CMP_MASKED_EQ, newns[i], newns[i]));
	/* Typing into root's terminal. */
	if (!rc)
		rc = seccomp_rule_add(f, SCMP_ACT_ERRNO(EPERM), SCMP_SYS(ioctl),
				      1, SCMP_A1(SCMP_CMP_EQ, TIOCSTI));
	if (!rc)
		rc = seccomp_rule_add(f, SCMP_ACT_ERRNO(EPERM), SCMP_SYS(ioctl),
				      1, SCMP_A1(SCMP_CMP_EQ, TIOCLINUX));
	/* Signals: to itself only (abort(), raise()). */
	if (!rc)
		rc = seccomp_rule_add(f, SCMP_ACT_ERRNO(EPERM), SCMP_SYS(kill),
				      1, SCMP_A0(SCMP_CMP_NE, me));
	if (!rc)
		rc = seccomp_rule_add(f, SCMP_ACT_ERRNO(EPERM),
				      SCMP_SYS(tgkill), 1,
				      SCMP_A0(SCMP_CMP_NE, me));
	if (!rc)
		rc = seccomp_rule_add(f, SCMP_ACT_ERRNO(EPERM),
				      SCMP_SYS(rt_sigqueueinfo), 1,
				      SCMP_A0(SCMP_CMP_NE, me));
	if (!rc)
		rc = seccomp_rule_add(f, SCMP_ACT_ERRNO(EPERM),
				      SCMP_SYS(rt_tgsigqueueinfo), 1,
				      SCMP_A0(SCMP_CMP_NE, me));
	if (!rc)
		rc = seccomp_load(f);
	seccomp_release(f);
	return rc;
}

#ifdef DW_TEST_HOOKS
/* Tests: DW_TEST_READER_PROBE=PATH says what the reader is and tries
 * what it must not be able to do. */
static void probe(const char *path)
{
	char line[256];
	FILE *st = fopen("/proc/self/status", "r");
	int fd;

	while (st && fgets(line, sizeof(line), st))
		if (!strncmp(line, "Uid:", 4) || !strncmp(line, "CapEff:", 7) ||
		    !strncmp(line, "CapPrm:", 7) ||
		    !strncmp(line, "CapBnd:", 7) ||
		    !strncmp(line, "NoNewPrivs:", 11) ||
		    !strncmp(line, "Seccomp:", 8))
			fprintf(stderr, "reader probe: %s", line);
	if (st)
		fclose(st);
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	fprintf(stderr, "reader probe: create %s: %s\n", path,
		fd < 0 ? strerror(errno) : "done");
	if (fd >= 0)
		close(fd);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	fprintf(stderr, "reader probe: socket: %s\n",
		fd < 0 ? strerror(errno) : "done");
	if (fd >= 0)
		close(fd);
	fprintf(stderr, "reader probe: kill 1: %s\n",
		kill(1, 0) ? strerror(errno) : "done");
	{
		char c = '\n';

		fprintf(stderr, "reader probe: tiocsti: %s\n",
			ioctl(STDIN_FILENO, TIOCSTI, &c) ? strerror(errno)
							 : "done");
	}
	{
		pid_t p = fork();

		if (!p)
			_exit(0);
		fprintf(stderr, "reader probe: fork: %s\n",
			p < 0 ? strerror(errno) : "done");
	}
	fprintf(stderr, "reader probe: truncate %s: %s\n", path,
		truncate(path, 0) ? strerror(errno) : "done");
	{
		DIR *d = opendir("/proc/self/fd");
		struct dirent *e;

		fprintf(stderr, "reader probe: fds:");
		while (d && (e = readdir(d)))
			if (e->d_name[0] != '.' &&
			    dirfd(d) != (int)strtol(e->d_name, NULL, 10))
				fprintf(stderr, " %s", e->d_name);
		fprintf(stderr, "\n");
		if (d)
			closedir(d);
	}
}
#endif

/*
 * Every descriptor but 0-2 and those open on one of `keep` (absolute
 * paths as the kernel names them): the reader inherits no socket, store
 * or terminal it was not meant to have.
 */
static void close_others(const char *const *keep)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	int fds[1024], n = 0, i, self = d ? dirfd(d) : -1;

	while (d && (e = readdir(d)) &&
	       n < (int)(sizeof(fds) / sizeof(fds[0]))) {
		char link[64], to[4096];
		int fd = (int)strtol(e->d_name, NULL, 10), k, kept = 0;
		ssize_t len;

		if (e->d_name[0] == '.' || fd < 3 || fd == self)
			continue;
		snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
		len = readlink(link, to, sizeof(to) - 1);
		to[len > 0 ? len : 0] = '\0';
		for (k = 0; len > 0 && keep && keep[k]; k++)
			kept |= !strcmp(to, keep[k]);
		if (!kept)
			fds[n++] = fd;
	}
	if (d)
		closedir(d);
	for (i = 0; i < n; i++)
		close(fds[i]);
}

int dw_confine_reader(const char *const *keep_open)
{
	uid_t id = READER_ID_BASE + ((unsigned)getpid() & 0xffff);
	uint64_t have = 0;
	long abi = landlock_abi();
	int keep, c, ll;

	if (caps_now(&have))
		return dw_error_errno(DW_ERROR, errno, "capget");
	/*
	 * To read root's files: CAP_DAC_READ_SEARCH, else (a container
	 * without it, as Docker's default) CAP_DAC_OVERRIDE, which could
	 * write too and is kept only where Landlock forbids every write
	 * and truncation (ABI 3); else none (what others may not read is
	 * then not read, and counted).
	 */
	keep = have & (1ull << CAP_DAC_READ_SEARCH) ? CAP_DAC_READ_SEARCH
	       : have & (1ull << CAP_DAC_OVERRIDE) && abi >= 3
		       ? CAP_DAC_OVERRIDE
		       : -1;
	if (keep < 0)
		fprintf(stderr, "driftwatch scan: warning: no "
				"CAP_DAC_READ_SEARCH (nor CAP_DAC_OVERRIDE "
				"with Landlock): the repository's reader reads "
				"only what any user may\n");
	close_others(keep_open);
	for (c = 0; c < 64; c++)
		if (c != keep && prctl(PR_CAPBSET_DROP, c, 0, 0, 0) &&
		    errno != EINVAL)
			return dw_error_errno(DW_ERROR, errno,
					      "cannot drop capability %d from "
					      "the bounding set",
					      c);
	prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0);
	/*
	 * No setuid fix-up: the capability kept is kept across the change
	 * of uid, and counts for access(2) too (which libgit2 asks before
	 * it opens; the kernel otherwise clears it there for a uid not 0).
	 * No root: uid 0 gives nothing back. Both locked.
	 */
	if (prctl(PR_SET_SECUREBITS,
		  SECBIT_NO_SETUID_FIXUP | SECBIT_NO_SETUID_FIXUP_LOCKED |
			  SECBIT_NOROOT | SECBIT_NOROOT_LOCKED,
		  0, 0, 0))
		return dw_error_errno(DW_ERROR, errno, "securebits");
	if (setgroups(0, NULL) || setresgid(id, id, id) ||
	    setresuid(id, id, id) ||
	    (keep >= 0 ? caps_only(keep) : caps_none()) ||
	    prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) ||
	    prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0))
		return dw_error_errno(DW_ERROR, errno, "cannot become uid %u",
				      (unsigned)id);
	ll = no_fs_writes(abi);
	if (ll < 0)
		return dw_error_errno(DW_ERROR, errno, "Landlock");
	if (!ll)
		fprintf(stderr, "driftwatch scan: warning: no Landlock in this "
				"kernel: the repository's reader may create "
				"files where any user may\n");
	c = filter();
	if (c)
		return dw_error_set(DW_ERROR, "seccomp filter: %s",
				    strerror(-c));
#ifdef DW_TEST_HOOKS
	if (getenv("DW_TEST_READER_PROBE"))
		probe(getenv("DW_TEST_READER_PROBE"));
#endif
	return 0;
}
