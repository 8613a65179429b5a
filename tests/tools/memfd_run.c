/*
 * memfd_run NAME FILE ARG...: copy FILE into an anonymous memfd named
 * NAME and execute it (fexecve) with ARG... as its argv. The way a
 * process runs code that no path names (tests: the exec watch's sweep
 * must see it, whatever NAME says). Built static, to run in a container.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <sys/mman.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <unistd.h>

extern char **environ;

int main(int argc, char **argv)
{
	struct stat st;
	int in, m;

	if (argc < 4) {
		fprintf(stderr, "usage: memfd_run NAME FILE ARG...\n");
		return 2;
	}
	in = open(argv[2], O_RDONLY | O_CLOEXEC);
	m = memfd_create(argv[1], MFD_CLOEXEC);
	if (in < 0 || m < 0 || fstat(in, &st) ||
	    sendfile(m, in, NULL, (size_t)st.st_size) != st.st_size) {
		perror("memfd_run");
		return 1;
	}
	fexecve(m, argv + 3, environ);
	perror("fexecve");
	return 1;
}
