#ifndef DW_JOURNAL_H
#define DW_JOURNAL_H

#include <stddef.h>

/*
 * Containers on Docker's journald log driver: their journal entries
 * (CONTAINER_ID_FULL, never the 12-character CONTAINER_ID) read through
 * sd_journal, each container from where the store says it was read up
 * to (a cursor), scanned in the scanner process as CRI lines: stream
 * from PRIORITY, time from the entry, CONTAINER_PARTIAL_MESSAGE pieces
 * joined with their rest. Read each loop turn, at most 20,000 entries or
 * 4 MiB a container a turn.
 */

struct dw_journal;
struct dw_store;
struct dw_logwatch;

int dw_journal_new(struct dw_journal **out, struct dw_store *store,
		   struct dw_logwatch *logs, const char *host_root);
void dw_journal_free(struct dw_journal *jr);

/*
 * Follow container `id`'s entries: 0, DW_ENOTFOUND when this host keeps
 * no journal (no /var/log/journal nor /run/log/journal under host_root,
 * or no journal file in them: nothing to read, the caller says so),
 * another code when it cannot be opened (dw_error_last() says why).
 */
int dw_journal_add(struct dw_journal *jr, const char *id, const char *name);
/* Stop following `id` (its last entries read first). */
void dw_journal_remove(struct dw_journal *jr, const char *id);
/* Stop following the containers not in `ids`. */
void dw_journal_keep(struct dw_journal *jr, char *const *ids, size_t n);
/* Read what came; 1 when some container has more waiting. */
int dw_journal_read(struct dw_journal *jr);
size_t dw_journal_count(const struct dw_journal *jr);

#endif
