#ifndef DW_SCANCACHE_H
#define DW_SCANCACHE_H

#include "driftwatch/git.h"

/*
 * The incremental cache of `scan --git --cache FILE`: a SQLite file of the
 * blobs scanned with a rule set (by its digest) and their findings, with
 * secrets only in redacted form and by fingerprint. Created 0600.
 * Returns 0 or DW_EIO.
 */
int dw_scancache_open(struct dw_blob_cache **out, const char *path,
		      const char *rules_digest);
/* The rule set, when it is known only after the file is open (a reader
 * confined before its rules are built: confine.h). Opened so, a cache
 * needs nothing more of the filesystem (temporary tables in memory). */
void dw_scancache_rules(struct dw_blob_cache *c, const char *rules_digest);
void dw_scancache_close(struct dw_blob_cache *c);

#endif
