#ifndef DW_SOURCES_H
#define DW_SOURCES_H

#include <jansson.h>
#include <stdint.h>

#include "driftwatch/secrets.h"

/*
 * Inputs of the secret engine and their decoders. A finding comes with
 * the source it was found in: its path as shown, its kind, and fields that
 * only that kind has (a Slack message's channel, user and ts; a mail's
 * Message-ID and MIME part; a Docker log line's stream and time).
 */

struct dw_source {
	const char *path;
	const char *kind;	/* file, stdin, gzip, docker-json-log, slack,
				   mail */
	json_t *fields;		/* borrowed; NULL when none */
};

typedef int (*dw_source_cb)(const struct dw_finding *f,
			    const struct dw_source *src, void *ctx);

struct dw_source_opts {
	uint64_t max_file_size;	/* larger files are skipped */
};

enum dw_scan_outcome {
	DW_SCAN_DONE,
	DW_SCAN_SKIPPED_BINARY,
	DW_SCAN_SKIPPED_SIZE,
	DW_SCAN_SKIPPED_SPECIAL,	/* FIFO, socket, device */
};

/*
 * Scan the file at `path`, shown as `display`, with the decoder its name
 * and content call for: gzip (`.gz`, decoded on the fly), Docker
 * json-file logs (`*-json.log*`: the `log` field of each line, reported at
 * the raw file's line), mail (`.eml`, `.mbox`, or text starting with
 * "From "), else plain text. FIFOs and devices are never opened for
 * reading. Returns 0 (with `*outcome`), or DW_EIO when the file cannot be
 * read or is malformed (findings up to that point were reported).
 */
int dw_scan_path(struct dw_scanner *s, const char *path, const char *display,
		 const struct dw_source_opts *o, dw_source_cb cb, void *ctx,
		 enum dw_scan_outcome *outcome);

/* Scan a stream (standard input) as plain text. */
int dw_scan_fd(struct dw_scanner *s, int fd, const char *display,
	       dw_source_cb cb, void *ctx);

/*
 * One channel-day file of a Slack export (an array of messages): the text
 * of each message and its attachments, with channel, user and ts.
 */
int dw_scan_slack_file(struct dw_scanner *s, const char *path,
		       const char *display, const char *channel,
		       const struct dw_source_opts *o, dw_source_cb cb,
		       void *ctx);

#endif
