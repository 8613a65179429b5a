#include <stdlib.h>
#include <string.h>

#include "driftwatch/glob.h"
#include "driftwatch/xmalloc.h"

#include "driftwatch/banned.h"

/*
 * One row of the matching table per glob token: row[j] says whether the
 * glob so far matches the first j bytes of `s`. Each token turns the row
 * into the next in O(n), so a glob of m tokens costs O(m * n).
 */
static void step_any(unsigned char *row, const char *s, size_t n, int slash)
{
	size_t j;

	/* '*' or '**': extend every match over what the token may eat. */
	for (j = 1; j <= n; j++)
		if (!row[j] && row[j - 1] && (slash || s[j - 1] != '/'))
			row[j] = 1;
}

static void step_char(unsigned char *row, const char *s, size_t n, char c)
{
	size_t j;

	for (j = n; j > 0; j--)
		row[j] = row[j - 1] &&
			 (c == '?' ? s[j - 1] != '/' : s[j - 1] == c);
	row[0] = 0;
}

int dw_glob_match(const char *g, const char *s)
{
	size_t n = strlen(s), j;
	unsigned char *row = dw_xcalloc(n + 1, 1), *skip = NULL;
	int ok;

	row[0] = 1;
	while (*g) {
		if (!strcmp(g, "/**")) {
			/* The directory itself, or anything below it. */
			unsigned char at_end = row[n];

			step_char(row, s, n, '/');
			step_any(row, s, n, 1);
			row[n] |= at_end;
			g += 3;
		} else if (g[0] == '*' && g[1] == '*') {
			g += 2;
			if (*g == '/') {
				/* "**" + "/": no directory, or any number. */
				skip = dw_xmalloc(n + 1);
				memcpy(skip, row, n + 1);
				step_any(row, s, n, 1);
				step_char(row, s, n, '/');
				for (j = 0; j <= n; j++)
					row[j] |= skip[j];
				free(skip);
				skip = NULL;
				g++;
			} else {
				step_any(row, s, n, 1);
			}
		} else if (*g == '*') {
			step_any(row, s, n, 0);
			g++;
		} else {
			step_char(row, s, n, *g);
			g++;
		}
	}
	ok = row[n];
	free(row);
	return ok;
}

int dw_glob_match_rel(const char *g, const char *path)
{
	const char *base = strrchr(path, '/');

	while (path[0] == '.' && path[1] == '/')
		path += 2;
	while (g[0] == '.' && g[1] == '/')
		g += 2;
	if (!strchr(g, '/'))
		return dw_glob_match(g, base ? base + 1 : path);
	return dw_glob_match(g, path);
}
