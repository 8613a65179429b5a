#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "driftwatch/xmalloc.h"
#include "driftwatch/banned.h"

static void die_oom(size_t n)
{
	/* No allocation here: we are out of memory. */
	char msg[96];
	int len = snprintf(msg, sizeof(msg),
			   "fatal: out of memory allocating %zu bytes\n", n);

	if (len > 0 && write(STDERR_FILENO, msg, (size_t)len) < 0)
		abort();
	abort();
}

void *dw_xmalloc(size_t n)
{
	void *p = malloc(n ? n : 1);

	if (!p)
		die_oom(n);
	return p;
}

void *dw_xcalloc(size_t nmemb, size_t size)
{
	void *p = calloc(nmemb ? nmemb : 1, size ? size : 1);

	if (!p)
		die_oom(nmemb * size);
	return p;
}

void *dw_xrealloc(void *p, size_t n)
{
	void *q = realloc(p, n ? n : 1);

	if (!q)
		die_oom(n);
	return q;
}

void *dw_xreallocarray(void *p, size_t nmemb, size_t size)
{
	if (size && nmemb > SIZE_MAX / size)
		die_oom(SIZE_MAX);
	return dw_xrealloc(p, nmemb * size);
}

char *dw_xstrdup(const char *s)
{
	return dw_xstrndup(s, strlen(s));
}

void dw_strv_free(char **v, size_t n)
{
	size_t i;

	for (i = 0; v && i < n; i++)
		free(v[i]);
	free(v);
}

char *dw_xstrndup(const char *s, size_t n)
{
	char *p = dw_xmalloc(n + 1);

	memcpy(p, s, n);
	p[n] = '\0';
	return p;
}
