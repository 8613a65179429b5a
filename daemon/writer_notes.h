#ifndef DWD_WRITER_NOTES_H
#define DWD_WRITER_NOTES_H

/*
 * The writer watch's notes: for each (container, path) changed since the
 * container's last rescan, the process that last changed it (its JSON),
 * whether other processes changed it too meanwhile, and when. A fixed
 * table of slots, addressed by a keyed hash so that a container cannot
 * choose names whose notes land on another's; bounded in slots and in
 * bytes.
 *
 * A note stays until its change is recorded (taken) or a later rescan
 * says it is stale (forget): however many turns a cut container takes.
 * When the table is full, a note is dropped untaken; its container is
 * then marked as having lost a note handled at that note's time (its
 * write was made before), and every note taken for that container whose
 * window reaches back that far is said to be incomplete (`lost`): the
 * process read may not be the only writer (a drifted program's write,
 * dropped, then an allowed program's touch would otherwise launder it).
 * The same mark is set when taken notes' changes were not recorded after
 * all, when a container is no longer watched with notes left, and when
 * a directory moved (notes may sit under its other name).
 *
 * Not thread-safe: the writer watch calls it under its lock.
 */
#include <stddef.h>

struct dwd_notes;

/* A table of `slots` notes (a power of 2) holding at most `bytes` of
 * strings, hashed with the 32-byte `key`. Aborts on OOM. */
struct dwd_notes *dwd_notes_new(const unsigned char key[32], size_t slots,
				size_t bytes);
void dwd_notes_free(struct dwd_notes *t);

/*
 * Note that process `json` changed `path` (`len` bytes, not
 * NUL-terminated) of container `id` at `t_us` (monotonic). The path's
 * own note is updated (other writer: `mixed`); else a free slot of its
 * run is taken; else the run's oldest note is dropped. Notes are then
 * dropped, a clock hand round the table, until the strings fit (never
 * this one). Returns how many notes were dropped untaken.
 */
size_t dwd_notes_put(struct dwd_notes *t, const char *id, const char *path,
		     size_t len, const char *json, long long t_us);

/*
 * The note of `path` of container `id` made since `since_us`, taken (the
 * next change needs its own): its JSON (the caller frees), `*mixed` set
 * when other processes changed the path too, or NULL when none is (a
 * note from before `since_us`, stale, is dropped). `*lost`: a note of
 * this container made since `since_us` was dropped untaken, or events
 * were lost (dwd_notes_lost_all), so this note may not name every writer.
 */
char *dwd_notes_take(struct dwd_notes *t, const char *id, const char *path,
		     size_t len, long long since_us, int *mixed, int *lost);

/* Container `id`'s notes from before `before_us` dropped uncounted, and
 * its lost mark if older: the caller says every change noted before then
 * was looked at by a rescan (recorded, or found to be none). */
void dwd_notes_forget(struct dwd_notes *t, const char *id, long long before_us);

/* Container `id`'s notes taken for changes that were then not recorded
 * (or dropped for another reason) at `t_us`: its takes whose window
 * reaches back that far are incomplete. At most 1024 containers are
 * remembered so (past that the oldest mark goes, and stands for every
 * container's: dwd_notes_lost_all()). */
void dwd_notes_lost(struct dwd_notes *t, const char *id, long long t_us);

/* Changes of unknown containers made up to `t_us` were lost (the
 * kernel's queue overflowed): every container's notes are incomplete
 * until its window begins after `t_us`. */
void dwd_notes_lost_all(struct dwd_notes *t, long long t_us);

#endif
