/*
 * dwctr: what a hostile container does to driftwatch, as a static binary
 * copied into the test image (busybox's shell cannot: its cd fails past
 * PATH_MAX, and it has no mknod races or sparse files of our choosing).
 *   dwctr deep DIR LEVELS       nest LEVELS directories "a" under DIR
 *                               with mkdirat (no path length limit), a
 *                               file "bottom" at the end
 *   dwctr longname DIR LEVELS [FILE TEXT]
 *                               the same with 200-byte names; FILE with
 *                               TEXT at the bottom instead of "bottom"
 *   dwctr sparse FILE BYTES     a file of BYTES apparent size, one hole
 *   dwctr setxattr PATH NAME VALUE   lsetxattr (no setfattr in busybox)
 *   dwctr memfd-exec PATH ARG...   copy PATH into a memfd and execute it
 *                               from there (a binary that is on no disk)
 *   dwctr mmap-write FILE TEXT [SECONDS]
 *                               write TEXT over the start of FILE through
 *                               a shared mapping (no write(2): no
 *                               IN_MODIFY), close it, then stay SECONDS
 *                               (its writer can be read)
 * Exits 0, or 1 with a message.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

static int die(const char *what)
{
	fprintf(stderr, "dwctr: %s: %s\n", what, strerror(errno));
	return 1;
}

static int nest(const char *dir, long levels, const char *name,
		const char *file, const char *text)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY), next;
	long i;

	if (fd < 0)
		return die(dir);
	for (i = 0; i < levels; i++) {
		if (mkdirat(fd, name, 0755) && errno != EEXIST)
			return die("mkdirat");
		next = openat(fd, name, O_RDONLY | O_DIRECTORY);
		if (next < 0)
			return die("openat");
		close(fd);
		fd = next;
	}
	next = openat(fd, file ? file : "bottom", O_CREAT | O_WRONLY | O_TRUNC,
		      0644);
	if (next < 0)
		return die("bottom");
	if (text && write(next, text, strlen(text)) != (ssize_t)strlen(text))
		return die("write");
	close(next);
	close(fd);
	return 0;
}

int main(int argc, char **argv)
{
	char name[201];

	if (argc == 4 && !strcmp(argv[1], "deep"))
		return nest(argv[2], strtol(argv[3], NULL, 10), "a", NULL,
			    NULL);
	if ((argc == 4 || argc == 6) && !strcmp(argv[1], "longname")) {
		memset(name, 'n', 200);
		name[200] = '\0';
		return nest(argv[2], strtol(argv[3], NULL, 10), name,
			    argc == 6 ? argv[4] : NULL,
			    argc == 6 ? argv[5] : NULL);
	}
	if (argc == 4 && !strcmp(argv[1], "sparse")) {
		int fd = open(argv[2], O_CREAT | O_WRONLY | O_TRUNC, 0644);

		if (fd < 0 || ftruncate(fd, strtoll(argv[3], NULL, 10)))
			return die(argv[2]);
		if (pwrite(fd, "end\n", 4, strtoll(argv[3], NULL, 10) - 4) != 4)
			return die("pwrite");
		return close(fd) ? die("close") : 0;
	}
	if (argc == 5 && !strcmp(argv[1], "setxattr"))
		return lsetxattr(argv[2], argv[3], argv[4], strlen(argv[4]), 0)
			       ? die(argv[3])
			       : 0;
	if (argc >= 3 && !strcmp(argv[1], "memfd-exec")) {
		extern char **environ;
		char buf[65536];
		ssize_t n;
		int in = open(argv[2], O_RDONLY),
		    m = memfd_create("payload", MFD_CLOEXEC);

		if (in < 0 || m < 0)
			return die(argv[2]);
		while ((n = read(in, buf, sizeof(buf))) > 0)
			if (write(m, buf, (size_t)n) != n)
				return die("write");
		close(in);
		fexecve(m, argv + 2, environ);
		return die("fexecve");
	}
	if ((argc == 4 || argc == 5) && !strcmp(argv[1], "mmap-write")) {
		size_t n = strlen(argv[3]);
		struct stat st;
		char *p;
		int fd = open(argv[2], O_RDWR);

		if (fd < 0 || fstat(fd, &st))
			return die(argv[2]);
		if ((size_t)st.st_size < n) {
			errno = EINVAL;
			return die("shorter than TEXT");
		}
		p = mmap(NULL, n, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
		if (p == MAP_FAILED)
			return die("mmap");
		memcpy(p, argv[3], n);
		if (munmap(p, n))
			return die("munmap");
		if (close(fd))
			return die("close");
		if (argc == 5)
			sleep((unsigned)strtoul(argv[4], NULL, 10));
		return 0;
	}
	fprintf(stderr, "usage: dwctr deep|longname DIR LEVELS | sparse FILE "
			"BYTES | setxattr PATH NAME VALUE | memfd-exec PATH "
			"ARG... | mmap-write FILE TEXT [SECONDS]\n");
	return 2;
}
