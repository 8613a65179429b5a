/*
 * A test tool: a file name under DIR whose writer-attribution note would
 * have landed on TARGET's in the first version (FNV-1a 64 of the
 * container id, a NUL and the path, modulo 16384 slots, one note a slot),
 * evicting it: the attack that version lost a change's writer to.
 *   fnv_collide ID TARGET DIR   (prints DIR/cN)
 */
#include <stdio.h>
#include <string.h>

static unsigned long long fnv(unsigned long long h, const void *p, size_t n)
{
	const unsigned char *b = p;

	for (size_t i = 0; i < n; i++)
		h = (h ^ b[i]) * 1099511628211ULL;
	return h;
}

static unsigned long long slot(const char *id, const char *path)
{
	unsigned long long h = fnv(14695981039346656037ULL, id, strlen(id));

	h = fnv(h, "", 1);
	return fnv(h, path, strlen(path)) % 16384;
}

int main(int argc, char **argv)
{
	char name[4096];
	unsigned long long want;

	if (argc != 4) {
		fprintf(stderr, "usage: fnv_collide ID TARGET DIR\n");
		return 2;
	}
	want = slot(argv[1], argv[2]);
	for (unsigned long i = 0; i < 100000000UL; i++) {
		snprintf(name, sizeof(name), "%s/c%lu", argv[3], i);
		if (slot(argv[1], name) == want) {
			puts(name);
			return 0;
		}
	}
	return 1;
}
