#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>

#include "driftwatch/error.h"
#include "driftwatch/lazylib.h"
#include "driftwatch/banned.h"

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;

static void load(struct dw_lazy_lib *lib)
{
	void *h = dlopen(lib->soname, RTLD_NOW | RTLD_LOCAL);
	size_t i;

	if (!h) {
		snprintf(lib->error, sizeof(lib->error), "%s", dlerror());
		lib->state = -1;
		return;
	}
	for (i = 0; i < lib->nsyms; i++) {
		*lib->syms[i].slot = dlsym(h, lib->syms[i].name);
		if (!*lib->syms[i].slot) {
			snprintf(lib->error, sizeof(lib->error), "%s has no %s",
				 lib->soname, lib->syms[i].name);
			lib->state = -1;
			return; /* the handle stays: harmless */
		}
	}
	lib->state = 1;
}

int dw_lazy_load(struct dw_lazy_lib *lib)
{
	int state = __atomic_load_n(&lib->state, __ATOMIC_ACQUIRE);

	if (!state) {
		pthread_mutex_lock(&lock);
		if (!lib->state)
			load(lib);
		state = lib->state;
		pthread_mutex_unlock(&lock);
	}
	if (state < 0)
		return dw_error_set(DW_EUNSUPPORTED, "cannot load %s: %s",
				    lib->soname, lib->error);
	return 0;
}
