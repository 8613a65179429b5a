/*
 * LD_PRELOAD into `driftwatch scan --git` run as root on a user's
 * repository: the process that reads the repository (not root) lies in
 * what it sends through a pipe other than its standard output and error
 * (the --write-baseline report). DW_LIE=junk sends text that is no
 * report; DW_LIE=half sends the first half of each write (a reader cut
 * short). The process that started it must keep the old baseline.
 */
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Read at start: the reader wipes its environment. */
static const char *how;

__attribute__((constructor)) static void read_how(void)
{
	const char *e = getenv("DW_LIE");

	how = e ? strdup(e) : NULL;
}

size_t fwrite(const void *p, size_t size, size_t n, FILE *f)
{
	static size_t (*real)(const void *, size_t, size_t, FILE *);
	struct stat st;
	int fd = fileno(f);

	if (!real)
		real = (size_t(*)(const void *, size_t, size_t, FILE *))dlsym(
			RTLD_NEXT, "fwrite");
	if (how && getuid() != 0 && fd > 2 && !fstat(fd, &st) &&
	    S_ISFIFO(st.st_mode)) {
		if (!strcmp(how, "junk")) {
			static const char junk[] = "this is not a report\n";

			if (write(fd, junk, sizeof(junk) - 1) < 0)
				return 0;
			return n;
		}
		if (!strcmp(how, "half"))
			return real(p, 1, size * n / 2, f) ? n : 0;
	}
	return real(p, size, n, f);
}
