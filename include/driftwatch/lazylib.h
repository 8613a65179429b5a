#ifndef DW_LAZYLIB_H
#define DW_LAZYLIB_H

#include <stddef.h>

/*
 * Libraries that only one module needs (libcurl for the Docker client,
 * GMime for mail, libarchive for snapshots, libgit2 for git) are loaded
 * on first use instead of at start: together they pull in some sixty
 * libraries, and loading those costs a short command such as a pre-commit
 * hook or `driftwatch diff` more than much of its own work.
 */

struct dw_lazy_sym {
	const char *name;
	void **slot;
};

struct dw_lazy_lib {
	const char *soname;
	const struct dw_lazy_sym *syms;
	size_t nsyms;
	int state; /* 0 untried, 1 loaded, -1 failed */
	char error[256];
};

/*
 * Load `lib` once (thread-safe) and fill every symbol slot. Returns 0, or
 * DW_EUNSUPPORTED naming the library and what dlopen/dlsym said.
 */
int dw_lazy_load(struct dw_lazy_lib *lib);

#endif
