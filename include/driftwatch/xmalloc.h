#ifndef DW_XMALLOC_H
#define DW_XMALLOC_H

#include <stddef.h>

/*
 * Allocation that aborts the process on exhaustion, so callers carry no
 * out-of-memory branches. All return memory the caller frees with free().
 */
void *dw_xmalloc(size_t n);
void *dw_xcalloc(size_t nmemb, size_t size);
void *dw_xrealloc(void *p, size_t n);
/* realloc for arrays: nmemb * size, aborting on overflow as well. */
void *dw_xreallocarray(void *p, size_t nmemb, size_t size);
char *dw_xstrdup(const char *s);
char *dw_xstrndup(const char *s, size_t n);
/* Free `n` strings and the array that holds them; NULL is fine. */
void dw_strv_free(char **v, size_t n);

/* Grow `*alloc` (element count) so that at least `need` elements fit. */
#define DW_ALLOC_GROW(ptr, need, alloc)                                        \
	do {                                                                   \
		if ((need) > (alloc)) {                                        \
			size_t dw_new_ = (alloc) ? (alloc)*2 : 16;             \
			while (dw_new_ < (need))                               \
				dw_new_ *= 2;                                  \
			(ptr) = dw_xreallocarray((ptr), dw_new_,               \
						 sizeof(*(ptr)));              \
			(alloc) = dw_new_;                                     \
		}                                                              \
	} while (0)

#endif
