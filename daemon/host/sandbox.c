/* The scanner process (sandbox.h): privileges dropped, seccomp, SCM_RIGHTS. */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <pwd.h>
#include <seccomp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "driftwatch/error.h"
#include "driftwatch/xmalloc.h"
#include "sandbox.h"
#include "driftwatch/banned.h"

/* The child's end of the socketpair, after it has closed all others. */
#define SB_FD 3
/* A secret longer than this comes back cut (its fingerprint is whole). */
#define SB_SECRET_MAX (48 * 1024)
/* Memory the scanner may take (RLIMIT_DATA), and CPU seconds it may use
 * over its life before it is restarted (RLIMIT_CPU: SIGXCPU). */
#define SB_DATA_MAX (1024ull << 20)
#define SB_CPU_MAX 600
/* Beyond a file's own budget: the time a scanner may take to answer. */
#define SB_SLACK_MS 5000

enum sb_op { SB_SCAN = 1, SB_HOOK_SEGV = 90, SB_HOOK_FORBIDDEN = 91 };
enum sb_reply { SB_FINDING = 1, SB_DONE = 2, SB_READY = 3 };

struct sb_req {
	uint32_t op;
	uint32_t pad;
	uint64_t max;
	int64_t budget_ms;
};

struct sb_finding {
	uint32_t type; /* SB_FINDING */
	uint32_t url_decoded;
	uint64_t rule_index, line, column, offset;
	uint32_t secret_len; /* bytes that follow */
	char fingerprint[72];
};

struct sb_done {
	uint32_t type; /* SB_DONE */
	uint32_t timed_out;
};

struct dw_sandbox {
	const struct dw_engine *engine;
	uid_t uid; /* the scanner's, resolved before any thread starts */
	gid_t gid;
	pid_t pid;
	int fd; /* our end */
	struct dw_sandbox_stats st;
	/* Test hooks ($DW_TEST_SANDBOX_HOOK=segv:NAME or forbidden:NAME):
	 * the scanner crashes, or makes a forbidden call, on file NAME. */
	int hook_op;
	char *hook_name;
};

/* ---- the child ---- */

static int send_all(int fd, const void *p, size_t n)
{
	ssize_t w;

	do
		w = send(fd, p, n, MSG_NOSIGNAL);
	while (w < 0 && errno == EINTR);
	return w == (ssize_t)n ? 0 : -1;
}

static int child_finding(const struct dw_finding *f, void *ctx)
{
	char buf[sizeof(struct sb_finding) + SB_SECRET_MAX];
	struct sb_finding h;
	size_t n =
		f->secret_len < SB_SECRET_MAX ? f->secret_len : SB_SECRET_MAX;

	(void)ctx;
	memset(&h, 0, sizeof(h));
	h.type = SB_FINDING;
	h.url_decoded = (uint32_t)f->url_decoded;
	h.rule_index = f->rule_index;
	h.line = f->line;
	h.column = f->column;
	h.offset = f->offset;
	h.secret_len = (uint32_t)n;
	memcpy(h.fingerprint, f->fingerprint, sizeof(h.fingerprint));
	memcpy(buf, &h, sizeof(h));
	memcpy(buf + sizeof(h), f->secret, n);
	return send_all(SB_FD, buf, sizeof(h) + n) ? 1 : 0;
}

static void child_scan(struct dw_scanner *s, int fd, const struct sb_req *r)
{
	struct sb_done done = {SB_DONE, 0};
	uint64_t off = 0;

	dw_scanner_set_budget(s, r->budget_ms);
	dw_scan_begin(s, 1, child_finding, NULL);
	while (off < r->max) {
		size_t room;
		char *p = dw_scan_reserve(s, &room);
		ssize_t n;

		if (room > r->max - off)
			room = (size_t)(r->max - off);
		n = pread(fd, p, room, (off_t)off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		off += (uint64_t)n;
		if (dw_scan_commit(s, (size_t)n))
			break;
	}
	dw_scan_finish(s);
	done.timed_out = (uint32_t)dw_scan_timed_out(s);
	send_all(SB_FD, &done, sizeof(done));
}

static int confine(void)
{
	static const int allowed[] = {
		SCMP_SYS(read),		 SCMP_SYS(pread64),
		SCMP_SYS(recvmsg),	 SCMP_SYS(sendto),
		SCMP_SYS(sendmsg),	 SCMP_SYS(write),
		SCMP_SYS(close),	 SCMP_SYS(fstat),
		SCMP_SYS(newfstatat),	 SCMP_SYS(mmap),
		SCMP_SYS(munmap),	 SCMP_SYS(mremap),
		SCMP_SYS(brk),		 SCMP_SYS(madvise),
		SCMP_SYS(futex),	 SCMP_SYS(rt_sigreturn),
		SCMP_SYS(clock_gettime), SCMP_SYS(exit),
		SCMP_SYS(exit_group),
	};
	scmp_filter_ctx f = seccomp_init(SCMP_ACT_KILL_PROCESS);
	size_t i;
	int rc = f ? 0 : -1;

	for (i = 0; !rc && i < sizeof(allowed) / sizeof(allowed[0]); i++)
		rc = seccomp_rule_add(f, SCMP_ACT_ALLOW, allowed[i], 0);
	/* Memory may change, but never become executable. */
	if (!rc)
		rc = seccomp_rule_add(
			f, SCMP_ACT_ALLOW, SCMP_SYS(mprotect), 1,
			SCMP_A2(SCMP_CMP_MASKED_EQ, PROT_EXEC, 0));
	if (!rc)
		rc = seccomp_load(f); /* sets PR_SET_NO_NEW_PRIVS too */
	seccomp_release(f);
	return rc;
}

static int drop_privileges(uid_t uid, gid_t gid)
{
	struct rlimit data = {SB_DATA_MAX, SB_DATA_MAX},
		      cpu = {SB_CPU_MAX, SB_CPU_MAX + 5}, none = {0, 0},
		      files = {8, 8};

	if (!uid || setgroups(0, NULL) || setresgid(gid, gid, gid) ||
	    setresuid(uid, uid, uid))
		return -1;
	/* uid 0 is gone for good, and with it every capability. */
	if (!setuid(0))
		return -1;
#ifdef __SANITIZE_ADDRESS__
	/* AddressSanitizer's shadow and allocator regions count as data:
	 * its builds (tests) run without the data limit. */
	(void)data;
#else
	if (setrlimit(RLIMIT_DATA, &data))
		return -1;
#endif
	if (setrlimit(RLIMIT_CPU, &cpu) || setrlimit(RLIMIT_FSIZE, &none) ||
	    setrlimit(RLIMIT_CORE, &none) || setrlimit(RLIMIT_NOFILE, &files))
		return -1;
	return prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) ||
	       prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
}

/* A memory error, as a decoder bug would make one. */
static void crash(void)
{
	volatile int *volatile p = NULL;

	*p = 1;
}

static void hook_forbidden(void)
{
	/* Anything a scanner never does: opening a file by name. */
	int fd = (int)syscall(SYS_openat, AT_FDCWD, "/etc/passwd", O_RDONLY);

	if (fd >= 0)
		close(fd);
}

static __attribute__((noreturn)) void child_main(int sock,
						 const struct dw_sandbox *sb)
{
	struct dw_scanner *s = NULL;

	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (getppid() == 1)
		_exit(1);
	if (sock != SB_FD && (dup2(sock, SB_FD) < 0 || close(sock)))
		_exit(1);
	if (syscall(SYS_close_range, SB_FD + 1, ~0U, 0))
		_exit(1);
	close(STDIN_FILENO);
	close(STDOUT_FILENO);
	close(STDERR_FILENO);
	/* The scanner's buffers before the filter: nothing to ask later. */
	if (dw_scanner_new(&s, sb->engine) ||
	    drop_privileges(sb->uid, sb->gid) || confine())
		_exit(1);
	{
		/* Confined: only now is it fit to be given anything. */
		uint32_t ready = SB_READY;

		if (send_all(SB_FD, &ready, sizeof(ready)))
			_exit(1);
	}
	for (;;) {
		char cbuf[CMSG_SPACE(sizeof(int))];
		struct sb_req r;
		struct iovec io = {&r, sizeof(r)};
		struct msghdr mh = {0};
		struct cmsghdr *cm;
		int fd = -1;
		ssize_t n;

		mh.msg_iov = &io;
		mh.msg_iovlen = 1;
		mh.msg_control = cbuf;
		mh.msg_controllen = sizeof(cbuf);
		n = recvmsg(SB_FD, &mh, 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n != (ssize_t)sizeof(r))
			_exit(0); /* the parent is gone, or talks nonsense */
		cm = CMSG_FIRSTHDR(&mh);
		if (cm && cm->cmsg_level == SOL_SOCKET &&
		    cm->cmsg_type == SCM_RIGHTS &&
		    cm->cmsg_len == CMSG_LEN(sizeof(int)))
			memcpy(&fd, CMSG_DATA(cm), sizeof(int));
		if (fd < 0)
			_exit(1);
		if (r.op == SB_HOOK_SEGV)
			crash();
		if (r.op == SB_HOOK_FORBIDDEN)
			hook_forbidden();
		child_scan(s, fd, &r);
		close(fd);
	}
}

/* ---- the parent ---- */

static void stop_child_(struct dw_sandbox *sb, char *how, size_t n,
			int wait_exit);

/* The scanner says it is confined, within 10 s, or it is not used. */
static int wait_ready(struct dw_sandbox *sb)
{
	struct pollfd p = {sb->fd, POLLIN, 0};
	uint32_t msg = 0;
	char how[200] = "it did not answer";
	ssize_t n = -1;
	int pr;

	do
		pr = poll(&p, 1, 10000);
	while (pr < 0 && errno == EINTR);
	if (pr > 0)
		n = recv(sb->fd, &msg, sizeof(msg), MSG_DONTWAIT);
	if (n == (ssize_t)sizeof(msg) && msg == SB_READY)
		return 0;
	stop_child_(sb, how, sizeof(how), 1);
	return dw_error_set(DW_ERROR,
			    "scanner: could not confine itself (no "
			    "CAP_SETUID/CAP_SETGID, or no seccomp?): %s",
			    how);
}

static int start_child(struct dw_sandbox *sb)
{
	int sv[2];
	pid_t pid;

	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv))
		return dw_error_errno(DW_ERROR, errno,
				      "scanner: cannot make a socketpair");
	pid = fork();
	if (pid < 0) {
		close(sv[0]);
		close(sv[1]);
		return dw_error_errno(DW_ERROR, errno, "scanner: cannot fork");
	}
	if (pid == 0) {
		close(sv[0]);
		child_main(sv[1], sb);
	}
	close(sv[1]);
	sb->pid = pid;
	sb->fd = sv[0];
	sb->st.pid = pid;
	return wait_ready(sb);
}

/*
 * Kill and reap the scanner; `*how` says how it ended. `wait_exit`: it
 * hung up, give it a second to be reaped before calling it stuck.
 */
static void stop_child_(struct dw_sandbox *sb, char *how, size_t n,
			int wait_exit)
{
	int status = 0, tries;
	pid_t reaped = 0;

	if (sb->pid <= 0)
		return;
	close(sb->fd);
	sb->fd = -1;
	/* A scanner that died tells why (it may still be exiting: its
	 * socket closes first); a stuck one is killed. */
	for (tries = 0; tries < 100; tries++) {
		reaped = waitpid(sb->pid, &status, WNOHANG);
		if (reaped != 0 || !wait_exit)
			break;
		usleep(10000);
	}
	if (reaped == 0) {
		kill(sb->pid, SIGKILL);
		while (waitpid(sb->pid, &status, 0) < 0 && errno == EINTR)
			;
		if (how)
			snprintf(how, n, "it did not answer in time (killed)");
	} else if (how) {
		if (WIFSIGNALED(status))
			snprintf(how, n, "it was killed by signal %d (%s)%s",
				 WTERMSIG(status), strsignal(WTERMSIG(status)),
				 WTERMSIG(status) == SIGSYS
					 ? ": a system call its filter forbids"
					 : "");
		else
			snprintf(how, n, "it exited with status %d",
				 WEXITSTATUS(status));
	}
	sb->pid = 0;
	sb->st.pid = 0;
}

#define stop_child(sb, how, n) stop_child_(sb, how, n, 0)

int dw_sandbox_start(struct dw_sandbox **out, const struct dw_engine *e,
		     const char *user)
{
	struct dw_sandbox *sb;
	const char *hook = getenv("DW_TEST_SANDBOX_HOOK");
	struct passwd *pw = getpwnam(user ? user : "driftwatch");
	int err;

	if (!pw && !user)
		pw = getpwnam("nobody");
	if (!pw || !pw->pw_uid)
		return dw_error_set(DW_ERROR,
				    "scanner: no unprivileged user %s to run "
				    "as",
				    user ? user : "driftwatch or nobody");
	if (getuid() && geteuid())
		return dw_error_set(DW_EUNSUPPORTED,
				    "scanner: not root, so no other user to "
				    "become");
	sb = dw_xcalloc(1, sizeof(*sb));
	sb->engine = e;
	sb->fd = -1;
	sb->uid = pw->pw_uid;
	sb->gid = pw->pw_gid;
	if (hook && !strncmp(hook, "segv:", 5)) {
		sb->hook_op = SB_HOOK_SEGV;
		sb->hook_name = dw_xstrdup(hook + 5);
	} else if (hook && !strncmp(hook, "forbidden:", 10)) {
		sb->hook_op = SB_HOOK_FORBIDDEN;
		sb->hook_name = dw_xstrdup(hook + 10);
	}
	err = start_child(sb);
	if (err) {
		dw_sandbox_free(sb);
		return err;
	}
	*out = sb;
	return 0;
}

void dw_sandbox_free(struct dw_sandbox *sb)
{
	if (!sb)
		return;
	stop_child(sb, NULL, 0);
	free(sb->hook_name);
	free(sb);
}

void dw_sandbox_stats(const struct dw_sandbox *sb, struct dw_sandbox_stats *st)
{
	*st = sb->st;
}

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* One attempt: 0 done, 1 the scanner failed (`how` says why). */
static int attempt(struct dw_sandbox *sb, int fd, const struct sb_req *r,
		   dw_finding_cb cb, void *ctx, char *how, size_t hn)
{
	char cbuf[CMSG_SPACE(sizeof(int))], *buf;
	struct iovec io = {(void *)r, sizeof(*r)};
	struct msghdr mh = {0};
	struct cmsghdr *cm;
	long long deadline;
	ssize_t n;

	memset(cbuf, 0, sizeof(cbuf));
	mh.msg_iov = &io;
	mh.msg_iovlen = 1;
	mh.msg_control = cbuf;
	mh.msg_controllen = sizeof(cbuf);
	cm = CMSG_FIRSTHDR(&mh);
	cm->cmsg_level = SOL_SOCKET;
	cm->cmsg_type = SCM_RIGHTS;
	cm->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(cm), &fd, sizeof(int));
	do
		n = sendmsg(sb->fd, &mh, MSG_NOSIGNAL);
	while (n < 0 && errno == EINTR);
	if (n != (ssize_t)sizeof(*r)) {
		stop_child(sb, how, hn);
		return 1;
	}
	deadline = now_ms() + (r->budget_ms > 0 ? r->budget_ms : 60000) +
		   SB_SLACK_MS;
	buf = dw_xmalloc(sizeof(struct sb_finding) + SB_SECRET_MAX);
	for (;;) {
		struct pollfd p = {sb->fd, POLLIN, 0};
		long long left = deadline - now_ms();
		struct sb_finding h;
		struct dw_finding f;
		const struct dw_rule_info *rules;
		size_t nrules;
		int pr;

		if (left <= 0) {
			stop_child(sb, how, hn);
			break;
		}
		pr = poll(&p, 1, (int)(left > 1000 ? 1000 : left));
		if (pr < 0 && errno == EINTR)
			continue;
		if (pr == 0)
			continue;
		n = recv(sb->fd, buf, sizeof(struct sb_finding) + SB_SECRET_MAX,
			 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n == (ssize_t)sizeof(struct sb_done) &&
		    ((struct sb_done *)(void *)buf)->type == SB_DONE) {
			free(buf);
			return 0;
		}
		if (n <= 0) { /* hung up: it died */
			stop_child_(sb, how, hn, 1);
			break;
		}
		memset(&h, 0, sizeof(h));
		memcpy(&h, buf, (size_t)n >= sizeof(h) ? sizeof(h) : (size_t)n);
		nrules = dw_engine_rules(sb->engine, &rules);
		/* Anything else than a well-formed finding: the scanner is
		 * not to be trusted any more. */
		if (n < (ssize_t)sizeof(h) || h.type != SB_FINDING ||
		    h.secret_len > SB_SECRET_MAX ||
		    (size_t)n != sizeof(h) + h.secret_len ||
		    h.rule_index >= nrules ||
		    memchr(h.fingerprint, '\0', sizeof(h.fingerprint)) ==
			    NULL) {
			stop_child(sb, how, hn);
			break;
		}
		memset(&f, 0, sizeof(f));
		f.rule = &rules[h.rule_index];
		f.rule_index = (size_t)h.rule_index;
		f.secret = buf + sizeof(h);
		f.secret_len = h.secret_len;
		f.line = h.line;
		f.column = h.column;
		f.offset = h.offset;
		f.url_decoded = (int)h.url_decoded;
		memcpy(f.fingerprint, h.fingerprint, sizeof(f.fingerprint));
		cb(&f, ctx);
	}
	free(buf);
	return 1;
}

int dw_sandbox_scan_fd(struct dw_sandbox *sb, int fd, uint64_t max,
		       long long budget_ms, const char *name, dw_finding_cb cb,
		       void *ctx)
{
	struct sb_req r = {SB_SCAN, 0, max, budget_ms};
	char how[200] = "";
	int tries;

	if (sb->hook_op && name && sb->hook_name &&
	    !strcmp(name, sb->hook_name))
		r.op = (uint32_t)sb->hook_op;
	/* A death may be the scanner's own (its CPU rlimit): once more. */
	for (tries = 0; tries < 2; tries++) {
		if (!sb->pid && start_child(sb))
			return DW_ERROR;
		if (!attempt(sb, fd, &r, cb, ctx, how, sizeof(how)))
			return 0;
		sb->st.restarts++;
	}
	sb->st.killed++;
	if (!sb->pid)
		start_child(sb);
	return dw_error_set(DW_ELIMIT, "the scanner failed on it twice: %s",
			    how);
}
