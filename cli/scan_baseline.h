#ifndef DW_SCAN_BASELINE_H
#define DW_SCAN_BASELINE_H

#include <stddef.h>
#include <stdio.h>

#include "scan_output.h"

/*
 * Findings `driftwatch scan` does not report, by fingerprint: the
 * configuration's ignore_fingerprints, and those of a --baseline report.
 * Each entry remembers whether a finding matched it
 * (--report-unused-ignores).
 */
struct scan_fpset {
	char **fp;
	unsigned char *used;
	size_t n, alloc;
	int sealed;
};

void scan_fpset_add(struct scan_fpset *s, const char *fp);
/* Sorted, each fingerprint once: ready for scan_fpset_hit(). */
void scan_fpset_seal(struct scan_fpset *s);
/* 1 (and marked used) when `fp` is in the set, else 0. */
int scan_fpset_hit(struct scan_fpset *s, const char *fp);
void scan_fpset_free(struct scan_fpset *s);

/*
 * Add the fingerprints of a report of `driftwatch scan` (--format json,
 * jsonl or sarif) to `s`. 0, or DW_EIO (cannot read) / DW_EINVAL (not
 * such a report: the message names the file and where), adding nothing.
 */
int scan_baseline_load(struct scan_fpset *s, const char *path);

/*
 * --write-baseline FILE: a report in the json format, written to a
 * temporary file beside FILE and renamed over it only when the scan
 * ended (so a scan that fails keeps the old baseline). Opened before the
 * process that reads a repository is forked. That process never holds
 * the file: it writes the report into a pipe (scan_blout_to_pipe()),
 * which the process that started it copies into the file
 * (scan_blout_relay()) and renames into place (scan_blout_commit()).
 */
struct scan_blout {
	char *path, *tmp; /* absolute */
	FILE *f;
	struct scan_out out;
	int started;
	int pipe;	 /* f is the reader's pipe */
	char keep[64];	 /* that pipe as /proc/self/fd names it */
	int relayed;	 /* the file is filled from the reader's pipe */
	int relay_eof;	 /* all of it */
	int relay_error; /* an errno, or EFBIG */
	size_t relay_len;
};

/* 0, or DW_EINVAL/DW_EIO with a message (nothing is created then). */
int scan_blout_open(struct scan_blout *b, const char *path);
/* In the reader: write into `fd` (a pipe's end) instead of the file. */
void scan_blout_to_pipe(struct scan_blout *b, int fd);
/*
 * In the process that started the reader: what came through the pipe
 * (`n` 0: its end). Past the size a baseline may have, or when the file
 * cannot be written, the rest is dropped and the file not kept.
 */
void scan_blout_relay(struct scan_blout *b, const void *p, size_t n);
/* Findings go to b->out from here on. */
void scan_blout_start(struct scan_blout *b, const struct dw_engine *e);
/* Write the report and flush it to disk: 0 or -1 (errno). */
int scan_blout_finish(struct scan_blout *b, int incomplete);
/*
 * `keep`: rename it over FILE (0, or DW_EIO with a message; a relayed
 * report cut short is an error too); else remove the temporary file.
 * Releases `b` either way.
 */
int scan_blout_commit(struct scan_blout *b, int keep);
/* Release without touching the files (the forked reader's side). */
void scan_blout_close(struct scan_blout *b);

#endif
