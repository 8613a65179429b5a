/* Running a user's program for a finding: argv, stdin, a time limit. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "command.h"
#include "driftwatch/error.h"

#include "driftwatch/banned.h"

extern char **environ;

/* The environment a program gets: none of ours (sockets, tokens). */
static char *clean_env[] = {
	"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
	"LANG=C.UTF-8",
	NULL,
};

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/*
 * In the child, between fork and exec: only async-signal-safe calls (the
 * daemon has threads). Default signal mask and dispositions (we block and
 * ignore some), a process group of its own (so a timeout kills whatever it
 * started), no descriptor but 0-2 (the Docker socket, the store), and a
 * clean environment.
 */
static void child(char *const *argv, int in)
{
	sigset_t none;
	int sig;

	setpgid(0, 0);
	for (sig = 1; sig < NSIG; sig++)
		if (sig != SIGKILL && sig != SIGSTOP)
			signal(sig, SIG_DFL);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	if (dup2(in, STDIN_FILENO) < 0 ||
	    dup2(STDERR_FILENO, STDOUT_FILENO) < 0)
		_exit(126);
	if (syscall(SYS_close_range, 3U, ~0U, 0) < 0) {
		int fd;

		for (fd = 3; fd < 1024; fd++)
			close(fd);
	}
	environ = clean_env;
	execvp(argv[0], argv);
	_exit(127);
}

/* Feed `input` until it is all written, the program closes its stdin, or
 * the deadline; never blocks past it, never dies of SIGPIPE. */
static int cancelled(const int *cancel)
{
	return cancel && __atomic_load_n(cancel, __ATOMIC_RELAXED);
}

static void feed(int fd, const char *input, size_t len, long long deadline,
		 const int *cancel)
{
	size_t off = 0;

	while (off < len && !cancelled(cancel)) {
		struct pollfd pf = {fd, POLLOUT, 0};
		long long left = deadline - now_ms();
		ssize_t w;

		if (left > 100)
			left = 100; /* to see `cancel` */
		if (left <= 0)
			break;
		if (poll(&pf, 1, (int)left) <= 0)
			continue;
		w = write(fd, input + off, len - off);
		if (w < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (w <= 0)
			break; /* EPIPE: it stopped reading */
		off += (size_t)w;
	}
}

int dw_run_command(char *const *argv, const char *input, size_t len,
		   int timeout_s)
{
	return dw_run_command_cancel(argv, input, len, timeout_s, NULL);
}

int dw_run_command_cancel(char *const *argv, const char *input, size_t len,
			  int timeout_s, const int *cancel)
{
	long long deadline = now_ms() + (long long)timeout_s * 1000;
	struct sigaction ign, old;
	int fds[2], status = 0, done = 0;
	pid_t pid;

	if (pipe2(fds, O_CLOEXEC))
		return dw_error_errno(DW_ERROR, errno, "cannot run %s",
				      argv[0]);
	pid = fork();
	if (pid == 0)
		child(argv, fds[0]);
	close(fds[0]);
	if (pid < 0) {
		close(fds[1]);
		return dw_error_errno(DW_ERROR, errno, "cannot run %s",
				      argv[0]);
	}
	setpgid(pid, pid); /* also here: no race with the child's */
	/* A program that stops reading must not kill us with SIGPIPE. */
	memset(&ign, 0, sizeof(ign));
	ign.sa_handler = SIG_IGN;
	sigaction(SIGPIPE, &ign, &old);
	fcntl(fds[1], F_SETFL, fcntl(fds[1], F_GETFL) | O_NONBLOCK);
	feed(fds[1], input, len, deadline, cancel);
	close(fds[1]);
	sigaction(SIGPIPE, &old, NULL);
	/* The time limit covers the whole run, stdin included. */
	while (!done) {
		pid_t r = waitpid(pid, &status, WNOHANG);

		if (r == pid || (r < 0 && errno != EINTR))
			done = 1;
		else if (now_ms() >= deadline || cancelled(cancel))
			break;
		else
			usleep(20000);
	}
	if (!done) {
		kill(-pid, SIGKILL);
		kill(pid, SIGKILL);
		while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
			;
		if (cancelled(cancel))
			return dw_error_set(DW_ERROR,
					    "%s was stopped with driftwatchd "
					    "(killed with its process group)",
					    argv[0]);
		return dw_error_set(DW_ERROR,
				    "%s ran longer than %d s and was killed "
				    "with its process group",
				    argv[0], timeout_s);
	}
	if (!WIFEXITED(status))
		return dw_error_set(DW_ERROR, "%s was killed by signal %d",
				    argv[0], WTERMSIG(status));
	if (WEXITSTATUS(status))
		return dw_error_set(DW_ERROR, "%s exited %d%s", argv[0],
				    WEXITSTATUS(status),
				    WEXITSTATUS(status) == 127 ? " (not found?)"
							       : "");
	return 0;
}
