#ifndef DW_SECRETS_ARCHIVE_H
#define DW_SECRETS_ARCHIVE_H

#include <stdint.h>

#include "driftwatch/engine.h"
#include "driftwatch/sources.h"

/* Archives inside scanned trees are read to this depth (an archive in an
 * archive in an archive), ... */
#define DW_ARCHIVE_DEPTH 3
/* ... at most this many entries in all, ... */
#define DW_ARCHIVE_ENTRIES 100000
/* ... and at most this many times their size once expanded (at least
 * DW_ARCHIVE_FLOOR bytes; at most 16 times --max-file-size). */
#define DW_ARCHIVE_RATIO 100
#define DW_ARCHIVE_FLOOR (64ull << 20)

/*
 * Whether `path` names an archive that is read entry by entry (zip, jar,
 * war, ear, apk, whl, nupkg; tar, alone or compressed; deb; rpm; cpio).
 */
int dw_archive_name(const char *path);

/*
 * Scan each regular file of archive `fd` (from its offset; `size` its
 * size, for the expansion limit) with `s`: findings have source
 * "archive", `display` as their path and the entry's name as field
 * "entry" (an entry in a nested archive: "inner.zip!dir/file"). Binary
 * entries are skipped. 0, or DW_EIO with a message when the archive is
 * malformed or a limit stopped it (what was read before is reported),
 * or DW_EUNSUPPORTED when libarchive cannot be loaded.
 */
int dw_archive_scan(struct dw_scanner *s, int fd, const char *display,
		    uint64_t size, uint64_t max_file_size, dw_source_cb cb,
		    void *ctx);

/* dw_archive_scan() of an archive in memory (a git blob). */
int dw_archive_scan_mem(struct dw_scanner *s, const void *data, size_t len,
			const char *display, uint64_t max_file_size,
			dw_source_cb cb, void *ctx);

/*
 * The member `member` of the tar at `fd` whose header is at offset `at`
 * (archive_read_header_position()), itself an archive (a layer of an
 * image: tar, compressed or not), scanned as dw_archive_scan() scans an
 * archive (the member is the top level: archives in it are read
 * DW_ARCHIVE_DEPTH - 1 levels deep), bounded by `max_entries` and
 * DW_ARCHIVE_RATIO times `size` (its bytes). `on_entry` gets each of its own
 * entries first, every type (AE_IF*), by the name it has in it; findings have
 * source "archive" and that name (with "!" and more for an archive inside) as
 * "entry". 0, or DW_EIO with a message (what was read was reported).
 */
int dw_archive_scan_member(struct dw_scanner *s, int fd, int64_t at,
			   const char *member, const char *display,
			   uint64_t size, size_t max_entries,
			   void (*on_entry)(void *hctx, const char *path,
					    int type),
			   void *hctx, dw_source_cb cb, void *ctx);

#endif
