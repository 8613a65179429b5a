/* The reader of a repository root alone can change (confine.h). */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <linux/capability.h>
#include <linux/landlock.h>
#include <linux/securebits.h>
#include <pwd.h>
#include <seccomp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "driftwatch/error.h"
#include "confine.h"

#include "driftwatch/banned.h"

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

/* Effective and permitted: `cap` alone; inheritable: none. */
static int caps_only(int cap)
{
	struct __user_cap_header_struct h = {_LINUX_CAPABILITY_VERSION_3, 0};
	struct __user_cap_data_struct d[2];

	memset(d, 0, sizeof(d));
	d[cap / 32].effective = d[cap / 32].permitted = 1u << (cap % 32);
	return (int)syscall(SYS_capset, &h, d);
}

/*
 * Every right to change the filesystem, handled and granted nowhere.
 * Returns 1 when in force, 0 when the kernel has no Landlock, -1 on error.
 */
static int no_fs_writes(void)
{
	struct landlock_ruleset_attr attr;
	long abi = syscall(SYS_landlock_create_ruleset, NULL, 0,
			   LANDLOCK_CREATE_RULESET_VERSION);
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
#ifdef LANDLOCK_ACCESS_FS_REFER
	if (abi >= 2)
		attr.handled_access_fs |= LANDLOCK_ACCESS_FS_REFER;
#endif
#ifdef LANDLOCK_ACCESS_FS_TRUNCATE
	if (abi >= 3)
		attr.handled_access_fs |= LANDLOCK_ACCESS_FS_TRUNCATE;
#endif
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
	"ptrace",
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
};

static int filter(void)
{
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
}
#endif

int dw_confine_reader(void)
{
	struct passwd *pw = getpwnam("driftwatch");
	uint64_t have = 0;
	int keep, c, ll;

	if (!pw || !pw->pw_uid || !pw->pw_gid)
		pw = getpwnam("nobody");
	if (!pw || !pw->pw_uid || !pw->pw_gid)
		return dw_error_set(DW_ERROR, "no unprivileged user to become "
					      "(driftwatch or nobody)");
	if (caps_now(&have))
		return dw_error_errno(DW_ERROR, errno, "capget");
	/* To read root's files: CAP_DAC_READ_SEARCH, else (a container
	 * without it, as Docker's default) CAP_DAC_OVERRIDE, which could
	 * write too and is kept only where Landlock forbids every write. */
	keep = have & (1ull << CAP_DAC_READ_SEARCH) ? CAP_DAC_READ_SEARCH
	       : have & (1ull << CAP_DAC_OVERRIDE)  ? CAP_DAC_OVERRIDE
						    : -1;
	if (keep < 0)
		return dw_error_set(DW_ERROR, "neither CAP_DAC_READ_SEARCH nor "
					      "CAP_DAC_OVERRIDE to read with");
	/* Every check before the first step that cannot be undone. */
	if (keep == CAP_DAC_OVERRIDE &&
	    syscall(SYS_landlock_create_ruleset, NULL, 0,
		    LANDLOCK_CREATE_RULESET_VERSION) < 1)
		return dw_error_set(DW_ERROR,
				    "no CAP_DAC_READ_SEARCH, and no Landlock "
				    "to keep CAP_DAC_OVERRIDE from writing");
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
	if (setgroups(0, NULL) ||
	    setresgid(pw->pw_gid, pw->pw_gid, pw->pw_gid) ||
	    setresuid(pw->pw_uid, pw->pw_uid, pw->pw_uid) || caps_only(keep) ||
	    prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) ||
	    prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0))
		return dw_error_errno(DW_ERROR, errno, "cannot become uid %u",
				      (unsigned)pw->pw_uid);
	ll = no_fs_writes();
	if (ll < 0)
		return dw_error_errno(DW_ERROR, errno, "Landlock");
	if (!ll)
		fprintf(stderr, "driftwatch scan: warning: no Landlock in this "
				"kernel: the repository's reader may create "
				"files where its user may\n");
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
