#ifndef DW_LEAK_H
#define DW_LEAK_H

#include <stddef.h>

#include "driftwatch/secrets.h"

/*
 * Where the daemon found a secret: in a container's file (the monitor),
 * in a followed log or a dropped export (logwatch). Every finding goes to
 * one handler in main.c, which records it once, attributes and alerts,
 * and rotates a live swarm secret as the policy says.
 */
struct dw_leak_src {
	const char *source_id;	/* a container id, "log:GLOB", "drop:DIR" */
	const char *name;	/* the container's name, or the file */
	const void *path;	/* the file, raw bytes */
	size_t path_len;
	const char *source;	/* container-file, log, docker-log, gzip,
				   slack, mail, file */
	int once_per_source;	/* report a secret once per source_id */
};

/*
 * Keep `*scanner` a scanner of `engine` (NULL: none) as the configuration
 * changes; `*current` is the engine it was made for.
 */
static inline void dw_scanner_track(struct dw_scanner **scanner,
				    const struct dw_engine **current,
				    const struct dw_engine *engine)
{
	if (engine == *current)
		return;
	dw_scanner_free(*scanner);
	*scanner = NULL;
	*current = engine;
	if (engine && dw_scanner_new(scanner, engine))
		*scanner = NULL;
}

/* `f->secret` is valid during the call only. */
typedef void (*dw_leak_fn)(const struct dw_finding *f,
			   const struct dw_leak_src *src, void *ctx);

#endif
