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
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/shm.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
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

/* driftwatch's exit status for "not all of it read" (cli.h). */
#define DW_EXIT_UNREADABLE_CODE 3

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
 * Where the reader may read (beneath each): the repository (the working
 * directory), the libraries it loads later (libgit2 is loaded on first
 * use) and their cache, the CPUs glibc counts, its own /proc, and
 * `also` (the rules' cache). Nothing else: with CAP_DAC_READ_SEARCH it
 * could otherwise read any file (/etc/shadow, other terminals, device
 * nodes whose ioctls change the system) and print it to a CI log.
 */
static const char *const readable[] = {
	".",
	"/usr",
	"/lib",
	"/lib64",
	"/lib32",
	"/libx32",
	"/etc/ld.so.cache",
	"/etc/localtime",
	"/dev/null",
	"/dev/urandom",
	"/sys/devices/system/cpu",
	"/proc/self",
};

#ifndef LANDLOCK_ACCESS_FS_IOCTL_DEV
#define LANDLOCK_ACCESS_FS_IOCTL_DEV (1ULL << 15)
#endif

static int allow_read(int rules, const char *path)
{
	struct landlock_path_beneath_attr pb;
	struct stat st;
	int fd = open(path, O_PATH | O_CLOEXEC), err = 0;

	if (fd < 0)
		return 0; /* not on this system */
	pb.parent_fd = fd;
	pb.allowed_access = LANDLOCK_ACCESS_FS_READ_FILE;
	if (!fstat(fd, &st) && S_ISDIR(st.st_mode))
		pb.allowed_access |= LANDLOCK_ACCESS_FS_READ_DIR;
	if (syscall(SYS_landlock_add_rule, rules, LANDLOCK_RULE_PATH_BENEATH,
		    &pb, 0))
		err = -1;
	close(fd);
	return err;
}

/*
 * Every right to change the filesystem this kernel's Landlock knows,
 * handled and granted nowhere; reading, granted only beneath readable[]
 * and `also`; device ioctls (ABI 5), nowhere. Returns 1 when in force, 0
 * when the kernel has no Landlock, -1 on error.
 */
static int landlock(long abi, const char *const *also)
{
	struct landlock_ruleset_attr attr;
	size_t i;
	int fd, err = 0;

	if (abi < 1)
		return 0;
	memset(&attr, 0, sizeof(attr));
	attr.handled_access_fs =
		LANDLOCK_ACCESS_FS_WRITE_FILE | LANDLOCK_ACCESS_FS_REMOVE_DIR |
		LANDLOCK_ACCESS_FS_REMOVE_FILE | LANDLOCK_ACCESS_FS_MAKE_CHAR |
		LANDLOCK_ACCESS_FS_MAKE_DIR | LANDLOCK_ACCESS_FS_MAKE_REG |
		LANDLOCK_ACCESS_FS_MAKE_SOCK | LANDLOCK_ACCESS_FS_MAKE_FIFO |
		LANDLOCK_ACCESS_FS_MAKE_BLOCK | LANDLOCK_ACCESS_FS_MAKE_SYM |
		LANDLOCK_ACCESS_FS_READ_FILE | LANDLOCK_ACCESS_FS_READ_DIR;
	if (abi >= 2)
		attr.handled_access_fs |= LANDLOCK_ACCESS_FS_REFER;
	if (abi >= 3)
		attr.handled_access_fs |= LANDLOCK_ACCESS_FS_TRUNCATE;
	if (abi >= 5)
		attr.handled_access_fs |= LANDLOCK_ACCESS_FS_IOCTL_DEV;
	/* Only the first field: what every Landlock kernel knows. */
	fd = (int)syscall(SYS_landlock_create_ruleset, &attr,
			  sizeof(attr.handled_access_fs), 0);
	if (fd < 0)
		return -1;
	for (i = 0; !err && i < sizeof(readable) / sizeof(readable[0]); i++)
		err = allow_read(fd, readable[i]);
	for (i = 0; !err && also && also[i]; i++)
		err = allow_read(fd, also[i]);
#if defined(__SANITIZE_ADDRESS__)
	/* A sanitizer build's LeakSanitizer reads its suppressions at exit. */
	{
		const char *o = getenv("LSAN_OPTIONS");
		const char *at = o ? strstr(o, "suppressions=") : NULL;

		if (!err && at) {
			char path[4096];

			snprintf(path, sizeof(path), "%.*s",
				 (int)strcspn(at + 13, ":"), at + 13);
			err = allow_read(fd, path);
		}
	}
#endif
	if (!err && syscall(SYS_landlock_restrict_self, fd, 0))
		err = -1;
	close(fd);
	return err ? -1 : 1;
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
	/* What would outlive the scan, or leave its session. */
	"shmget",
	"shmat",
	"shmctl",
	"msgget",
	"msgsnd",
	"msgrcv",
	"msgctl",
	"semget",
	"semop",
	"semtimedop",
	"semctl",
	"mq_open",
	"mq_unlink",
	"setsid",
	"setpgid",
	"setpriority",
	"sched_setaffinity",
	"sched_setscheduler",
	"sched_setparam",
	"sched_setattr",
	"ioprio_set",
};

/* ioctl requests on a terminal that change it or its session: the
 * terminal of standard output and error is root's (TIOCSTI: typing).
 * The three numbers: TCSETS2, TCSETSW2, TCSETSF2 (struct termios2 is
 * 44 bytes; its header clashes with termios.h). */
static const unsigned long tty_changes[] = {
	TIOCSTI,   TIOCLINUX, TCSETS,	   TCSETSW,	   TCSETSF,
	TCSETA,	   TCSETAW,   TCSETAF,	   TCSBRK,	   TCSBRKP,
	TCXONC,	   TCFLSH,    TIOCEXCL,	   TIOCNXCL,	   TIOCSCTTY,
	TIOCNOTTY, TIOCSPGRP, TIOCSWINSZ,  TIOCMBIS,	   TIOCMBIC,
	TIOCMSET,  TIOCCONS,  TIOCSSERIAL, TIOCPKT,	   TIOCSETD,
	TIOCSBRK,  TIOCCBRK,  TIOCVHANGUP, TIOCSLCKTRMIOS, TIOCSSOFTCAR,
	FIONBIO,   FIOASYNC,  0x402C542B,  0x402C542C,	   0x402C542D,
};

/*
 * Argument `n` equal to `v` as the kernel reads it: an int (an ioctl
 * request, a descriptor, an fcntl command) is its low 32 bits, whatever
 * the high ones (a plain 64-bit compare let 1<<32|TIOCSTI through).
 */
#define ARG32(n, v)                                                            \
	((struct scmp_arg_cmp){(n), SCMP_CMP_MASKED_EQ, 0xffffffffu,           \
			       (scmp_datum_t)(uint32_t)(v)})

/* A rule refusing `nr` (EPERM) when its arguments compare so (0-2). */
static int refuse(scmp_filter_ctx f, int nr, unsigned n, struct scmp_arg_cmp a,
		  struct scmp_arg_cmp b)
{
	return n == 2 ? seccomp_rule_add(f, SCMP_ACT_ERRNO(EPERM), nr, 2, a, b)
	       : n == 1 ? seccomp_rule_add(f, SCMP_ACT_ERRNO(EPERM), nr, 1, a)
			: seccomp_rule_add(f, SCMP_ACT_ERRNO(EPERM), nr, 0);
}

static int filter(void)
{
	static const scmp_datum_t newns[] = {
		CLONE_NEWNS,  CLONE_NEWUSER, CLONE_NEWNET,   CLONE_NEWPID,
		CLONE_NEWIPC, CLONE_NEWUTS,  CLONE_NEWCGROUP};
	static const int to_others[] = {SCMP_SYS(kill), SCMP_SYS(tgkill),
					SCMP_SYS(rt_sigqueueinfo),
					SCMP_SYS(rt_tgsigqueueinfo)};
	scmp_filter_ctx f = seccomp_init(SCMP_ACT_ALLOW);
	scmp_datum_t me = (scmp_datum_t)getpid();
	struct scmp_arg_cmp none = SCMP_A0(SCMP_CMP_EQ, 0);
	size_t i;
	int rc = 0;

	if (!f)
		return -ENOMEM;
	for (i = 0; !rc && i < sizeof(refused) / sizeof(refused[0]); i++) {
		int nr = seccomp_syscall_resolve_name(refused[i]);

		if (nr != __NR_SCMP_ERROR)
			rc = refuse(f, nr, 0, none, none);
	}
	/*
	 * New processes (a child could outlive the scan) and namespaces:
	 * clone only for threads (libgit2's), clone3 not at all (glibc then
	 * uses clone). Sanitizer builds keep fork and ptrace: LeakSanitizer
	 * stops the process's threads so, at exit.
	 */
#if !defined(__SANITIZE_ADDRESS__)
	if (!rc)
		rc = refuse(f, SCMP_SYS(clone), 1,
			    SCMP_A0(SCMP_CMP_MASKED_EQ, CLONE_THREAD, 0), none);
#endif
	if (!rc)
		rc = seccomp_rule_add(f, SCMP_ACT_ERRNO(ENOSYS),
				      SCMP_SYS(clone3), 0);
	for (i = 0; !rc && i < sizeof(newns) / sizeof(newns[0]); i++)
		rc = refuse(f, SCMP_SYS(clone), 1,
			    SCMP_A0(SCMP_CMP_MASKED_EQ, newns[i], newns[i]),
			    none);
	for (i = 0; !rc && i < sizeof(tty_changes) / sizeof(tty_changes[0]);
	     i++)
		rc = refuse(f, SCMP_SYS(ioctl), 1, ARG32(1, tty_changes[i]),
			    none);
	/*
	 * Standard output and error are pipes to the parent that relays them
	 * (scan's reader_child()), standard input /dev/null: nothing of
	 * root's terminal or files is here. Still no signal from any
	 * descriptor.
	 */
	if (!rc)
		rc = refuse(f, SCMP_SYS(fcntl), 1, ARG32(1, F_SETOWN), none) ||
		     refuse(f, SCMP_SYS(fcntl), 1, ARG32(1, F_SETOWN_EX),
			    none) ||
		     refuse(f, SCMP_SYS(fcntl), 1, ARG32(1, F_SETSIG), none);
	/* Signals: to itself only (abort(), raise()); limits and the like
	 * of others its uid, which no other process has, already forbids. */
	for (i = 0; !rc && i < sizeof(to_others) / sizeof(to_others[0]); i++)
		rc = refuse(f, to_others[i], 1, SCMP_A0(SCMP_CMP_NE, me), none);
	if (!rc)
		rc = seccomp_load(f);
	seccomp_release(f);
	return rc;
}

#ifdef DW_TEST_HOOKS
/*
 * Tests: DW_TEST_READER_FIND=REVERSED: whether the string (given
 * reversed, so that the variable is not it) is anywhere in the reader's
 * memory or its first environment, but in the copy made here to look.
 */
static void probe_memory(const char *rev)
{
	enum { CHUNK = 1 << 20 };
	FILE *maps = fopen("/proc/self/maps", "r");
	int mem = open("/proc/self/mem", O_RDONLY | O_CLOEXEC);
	size_t n = rev ? strlen(rev) : 0, i;
	/* Its own buffers (mmap'ed: freed, they are gone, where a sanitizer's
	 * malloc would keep them) are not looked at. */
	char *buf = mmap(NULL, CHUNK + 256, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	char *needle = buf == MAP_FAILED ? NULL : buf + CHUNK;
	char line[512];
	int found = 0;

	if (!n || n > 200 || !maps || mem < 0 || !needle) {
		if (maps)
			fclose(maps);
		if (mem >= 0)
			close(mem);
		if (needle)
			munmap(buf, CHUNK + 256);
		return;
	}
	for (i = 0; i < n; i++)
		needle[i] = rev[n - 1 - i];
	while (!found && fgets(line, sizeof(line), maps)) {
		unsigned long lo, hi, at;
		char perm[5];

		if (sscanf(line, "%lx-%lx %4s", &lo, &hi, perm) != 3 ||
		    perm[0] != 'r' || strstr(line, "[vvar") ||
		    strstr(line, "[vsyscall") || lo == (unsigned long)buf ||
		    hi - lo > (1ul << 30)) /* a sanitizer's shadow */
			continue;
		/* In pieces that overlap by the needle's length. */
		for (at = lo; !found && at < hi; at += CHUNK - n) {
			size_t want = hi - at < CHUNK ? hi - at : CHUNK;
			ssize_t got = pread(mem, buf, want, (off_t)at);

			found = got >= (ssize_t)n &&
				memmem(buf, (size_t)got, needle, n) != NULL;
			if (got < (ssize_t)CHUNK)
				break;
		}
	}
	fclose(maps);
	close(mem);
	explicit_bzero(buf, CHUNK + 256);
	munmap(buf, CHUNK + 256);
	fprintf(stderr, "reader probe: memory: %s\n",
		found ? "holds it" : "does not hold it");
}

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
		fprintf(stderr, "reader probe: tiocsti high: %s\n",
			syscall(SYS_ioctl, STDIN_FILENO,
				(1ul << 32) | (unsigned long)TIOCSTI, &c)
				? strerror(errno)
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
	fd = open("/etc/shadow", O_RDONLY | O_CLOEXEC);
	fprintf(stderr, "reader probe: read /etc/shadow: %s\n",
		fd < 0 ? strerror(errno) : "done");
	if (fd >= 0)
		close(fd);
	{
		char c;

		fprintf(stderr, "reader probe: read stdout: %s\n",
			read(STDOUT_FILENO, &c, 0) ? strerror(errno) : "done");
	}
	fprintf(stderr, "reader probe: shmget: %s\n",
		shmget(IPC_PRIVATE, 4096, IPC_CREAT | 0666) < 0
			? strerror(errno)
			: "done");
	fprintf(stderr, "reader probe: setsid: %s\n",
		setsid() < 0 ? strerror(errno) : "done");
	fprintf(stderr, "reader probe: environment: %s\n",
		getenv("DW_PROBE_SECRET") ? "kept DW_PROBE_SECRET" : "cleared");
	probe_memory(getenv("DW_TEST_READER_FIND"));
	/* What its parent must not pass on as it is: escape sequences (an
	 * OSC title, a C1 CSI in UTF-8, one cut across two writes). */
	if (getenv("DW_TEST_READER_ESC")) {
		fputs("reader probe: esc [\033]0;OWNED\a][\302", stdout);
		fflush(stdout);
		fputs("\23331m][\340\202\23332m]\n", stdout);
		fflush(stdout);
	}
	{
		char to[64] = "";
		ssize_t n = readlink("/proc/self/fd/1", to, sizeof(to) - 1);

		to[n > 0 ? n : 0] = '\0';
		fprintf(stderr, "reader probe: stdout: %.4s, tty: %s\n", to,
			isatty(STDOUT_FILENO) || isatty(STDERR_FILENO) ||
					isatty(STDIN_FILENO)
				? "yes"
				: "none");
	}
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

static int cmp_int(const void *a, const void *b)
{
	return *(const int *)a - *(const int *)b;
}

/*
 * Every descriptor but 0-2 and those open on one of `keep` (absolute
 * paths as the kernel names them), however many: the reader inherits no
 * socket, store or terminal it was not meant to have. Standard input
 * becomes /dev/null (a scan of a repository never reads it; a terminal
 * there is root's).
 */
static int close_others(const char *const *keep)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	int kept[16], n = 0, i, from = 3, null;

	if (!d)
		return dw_error_errno(DW_ERROR, errno, "/proc/self/fd");
	while ((e = readdir(d)) && n < (int)(sizeof(kept) / sizeof(kept[0]))) {
		char link[64], to[4096];
		int fd = (int)strtol(e->d_name, NULL, 10), k;
		ssize_t len;

		if (e->d_name[0] == '.' || fd < 3 || fd == dirfd(d))
			continue;
		snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
		len = readlink(link, to, sizeof(to) - 1);
		if (len <= 0)
			continue;
		to[len] = '\0';
		for (k = 0; keep && keep[k]; k++)
			if (!strcmp(to, keep[k]))
				kept[n++] = fd;
	}
	closedir(d);
	qsort(kept, (size_t)n, sizeof(kept[0]), cmp_int);
	for (i = 0; i <= n; i++) {
		unsigned to = i < n ? (unsigned)kept[i] - 1 : ~0u;

		if (to >= (unsigned)from &&
		    syscall(SYS_close_range, from, to, 0))
			return dw_error_errno(DW_ERROR, errno, "close_range");
		if (i < n)
			from = kept[i] + 1;
	}
	null = open("/dev/null", O_RDONLY | O_CLOEXEC);
	if (null < 0 || dup2(null, STDIN_FILENO) < 0)
		return dw_error_errno(DW_ERROR, errno, "/dev/null");
	if (null != STDIN_FILENO)
		close(null);
	return 0;
}

static pid_t relay_parent;

void dw_confine_set_parent(pid_t parent)
{
	relay_parent = parent;
}

void dw_confine_pdeathsig(void)
{
	prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
	/* Gone already (reparented: to init, or to a subreaper). */
	if (relay_parent ? getppid() != relay_parent : getppid() == 1)
		_exit(DW_EXIT_UNREADABLE_CODE);
}

int dw_confine_reader(const char *const *keep_open,
		      const char *const *read_also)
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
	 * and truncation (ABI 3); either only where Landlock keeps its
	 * reading to the repository. Else none: what others may not read
	 * is then not read, and counted.
	 */
	keep = abi >= 1 && have & (1ull << CAP_DAC_READ_SEARCH)
		       ? CAP_DAC_READ_SEARCH
	       : abi >= 3 && have & (1ull << CAP_DAC_OVERRIDE)
		       ? CAP_DAC_OVERRIDE
		       : -1;
	if (keep < 0)
		fprintf(stderr,
			"driftwatch scan: warning: %s: the repository's "
			"reader reads only what any user may\n",
			abi < 1 ? "no Landlock in this kernel to keep the "
				  "reader to the repository"
				: "no CAP_DAC_READ_SEARCH (nor "
				  "CAP_DAC_OVERRIDE "
				  "with Landlock ABI 3)");
	if (close_others(keep_open))
		return DW_ERROR;
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
	ll = landlock(abi, read_also);
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
	/* Gone with the process that relays it (cleared by the change of
	 * uid): a reader that would outlive its scan is killed. */
	dw_confine_pdeathsig();
#ifdef DW_TEST_HOOKS
	if (getenv("DW_TEST_READER_PROBE"))
		probe(getenv("DW_TEST_READER_PROBE"));
#endif
	return 0;
}
