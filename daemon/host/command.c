/* Running a user's program for a finding: argv, stdin, a time limit. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "command.h"
#include "driftwatch/error.h"
#include "driftwatch/banned.h"

int dw_run_command(char *const *argv, const char *input, size_t len,
		   int timeout_s)
{
	size_t off = 0;
	int fds[2], status = 0, i;
	pid_t pid;

	if (pipe2(fds, O_CLOEXEC))
		return dw_error_errno(DW_ERROR, errno, "cannot run %s",
				      argv[0]);
	pid = fork();
	if (pid == 0) {
		dup2(fds[0], STDIN_FILENO);
		dup2(STDERR_FILENO, STDOUT_FILENO);
		signal(SIGPIPE, SIG_DFL);
		execvp(argv[0], argv);
		_exit(127);
	}
	close(fds[0]);
	while (pid > 0 && off < len) {
		ssize_t w = write(fds[1], input + off, len - off);

		if (w <= 0)
			break;
		off += (size_t)w;
	}
	close(fds[1]);
	if (pid < 0)
		return dw_error_errno(DW_ERROR, errno, "cannot run %s",
				      argv[0]);
	for (i = 0; i < timeout_s * 10; i++) {
		if (waitpid(pid, &status, WNOHANG) == pid)
			break;
		usleep(100000);
	}
	if (i == timeout_s * 10) {
		kill(pid, SIGKILL);
		waitpid(pid, &status, 0);
		return dw_error_set(DW_ERROR,
				    "%s ran longer than %d s and was "
				    "killed",
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
