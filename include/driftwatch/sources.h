#ifndef DW_SOURCES_H
#define DW_SOURCES_H

#include <jansson.h>
#include <stdint.h>

#include "driftwatch/buf.h"
#include "driftwatch/engine.h"

/*
 * Inputs of the secret engine and their decoders. A finding comes with
 * the source it was found in: its path as shown, its kind, and fields that
 * only that kind has (a Slack message's channel, user and ts; a mail's
 * Message-ID and MIME part; a Docker log line's stream and time).
 */

/*
 * The one vocabulary of where a secret was found: dw_source.kind, the
 * "source" of every output, of the store's findings and of the JSON a
 * leak command reads.
 */
#define DW_SOURCE_FILE "file" /* plain text */
#define DW_SOURCE_STDIN "stdin"
#define DW_SOURCE_GZIP "gzip"
#define DW_SOURCE_ARCHIVE "archive" /* an entry of a zip, tar, deb... */
#define DW_SOURCE_IMAGE "image"	    /* a container image: config, layers */
#define DW_SOURCE_DOCKER_JSON_LOG "docker-json-log" /* json-file logs */
/* `local` driver logs and the dual-logging cache of other drivers */
#define DW_SOURCE_DOCKER_LOCAL_LOG "docker-local-log"
#define DW_SOURCE_SLACK "slack"			  /* a Slack export */
#define DW_SOURCE_MAIL "mail"			  /* mbox or .eml */
#define DW_SOURCE_GIT "git"			  /* a blob of a commit */
#define DW_SOURCE_CONTAINER_FILE "container-file" /* driftwatchd */
#define DW_SOURCE_LOG "log"			  /* a followed log file */
#define DW_SOURCE_JOURNALD "journald"		  /* the journald log driver */

struct dw_source {
	const char *path;
	const char *kind; /* a DW_SOURCE_* name */
	json_t *fields;	  /* borrowed; NULL when none */
};

typedef int (*dw_source_cb)(const struct dw_finding *f,
			    const struct dw_source *src, void *ctx);

enum dw_scan_outcome {
	DW_SCAN_DONE,
	DW_SCAN_SKIPPED_BINARY,
	DW_SCAN_SKIPPED_SIZE,
	DW_SCAN_SKIPPED_SPECIAL, /* FIFO, socket, device */
	DW_SCAN_TIMED_OUT,	 /* stopped at the time budget: partial */
};

struct dw_source_opts {
	uint64_t max_file_size; /* larger files are skipped */
	/*
	 * Follow a symlink named as the file itself (a path the user gave);
	 * otherwise a symlink is skipped like a device: it may point out of
	 * what is being scanned.
	 */
	int follow;
	/*
	 * Where files are decoded and scanned once opened (a regular file
	 * within max_file_size): NULL here, else by this (driftwatch scan
	 * as root: in the scanner process), with `channel` for a Slack
	 * export's day file, else NULL. Returns as dw_scan_path() does.
	 */
	int (*scan_opened)(void *hctx, int fd, const char *path,
			   const char *channel, dw_source_cb cb, void *ctx,
			   enum dw_scan_outcome *outcome);
	void *hctx;
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

/*
 * dw_scan_path() of regular file `fd`, already opened (and its size
 * checked) by the caller: `path` chooses the decoder. Read from the
 * descriptor's offset (pread for the binary check and mbox sniffing);
 * no file is opened by name: the scanner process runs this.
 */
int dw_scan_opened_file(struct dw_scanner *s, int fd, const char *path,
			const char *display, const struct dw_source_opts *o,
			dw_source_cb cb, void *ctx,
			enum dw_scan_outcome *outcome);

/*
 * A container image archive at `fd` (a seekable tar: what `docker save`
 * or `GET /images/{name}/get` writes, or an OCI image layout), shown as
 * `display`: each image's config (Env, Cmd, Entrypoint, Labels, the
 * history's created_by lines), then its layers from the top down, every
 * entry as dw_archive_scan() reads an archive's; each layer member
 * once, a duplicate name's last copy, links followed. Findings have
 * source
 * "image" and fields "image" (its tag or config digest), and either
 * "key" (where in the config: config.Env, config.Labels, history (the
 * steps' created_by: the line is the step's, from 1), author, any
 * string's path) or "entry" (its path in the
 * layer), "layer" (from 1, bottom up), "layer_digest" (the config's
 * diff_id) and "step" (the history's created_by that made the layer),
 * and when a higher layer hides the entry: "hidden" ("deleted" or
 * "replaced") and hidden_by_layer, _layer_digest and _step. Returns 0,
 * or DW_EIO (not an image archive, a layer malformed or cut short by a
 * limit: the rest was read, what was found reported), DW_EUNSUPPORTED
 * (a compressed archive; no libarchive).
 */
int dw_image_scan(struct dw_scanner *s, int fd, const char *display,
		  dw_source_cb cb, void *ctx);

/*
 * The source a finding of dw_scan_path() on `path` has, by its name:
 * docker-local-log, docker-json-log, cri-log, gzip, mail (.eml, .mbox, .mbx) or
 * file (which may still be read as mail when it starts "From ", and
 * mail that is not is read as a file).
 */
const char *dw_scan_decoder(const char *path);

/*
 * Container logs of one line a record, each record a piece of a line:
 * Docker's json-file (`{"log":"…","stream":"…","time":"…"}`, a piece
 * without its "\n" is continued by the next of its stream) and the CRI
 * format of Kubernetes' /var/log/pods (`TIME STREAM P|F TEXT`, P: more
 * follows). Runtimes cut long lines into 16 KiB pieces.
 */
enum dw_log_format {
	DW_LOG_PLAIN = 0,
	DW_LOG_DOCKER_JSON = 1,
	DW_LOG_CRI = 2,
};

#define DW_SOURCE_CRI_LOG "cri-log" /* Kubernetes' /var/log/pods */

/* What the join of pieces keeps of a piece: its last bytes, at most. */
#define DW_LOG_JOIN_TAIL (16u << 10)

/*
 * A stream's whole lines from one where a multi-line rule's keyword was
 * (dw_scan_multiline_hit(): a PEM key's BEGIN, a .netrc `machine`) on.
 * A runtime writes each line as a record of its own, so a key a
 * container prints is in no one record: these lines are scanned
 * together for the multi-line rules (at a PEM END line, at a line cut
 * into pieces, with the first piece, at dw_log_join_finish(); past
 * twice DW_LOG_ML_MAX, or DW_LOG_ML_LINES lines, kept from the first
 * keyword line in the last DW_LOG_ML_MAX on, to be scanned again with
 * what follows: a key within the rules' window is always whole once).
 */
#define DW_LOG_ML_MAX (64u << 10) /* bytes of text: the rules' window */
#define DW_LOG_ML_LINES 8192
struct dw_log_ml_line {
	uint64_t lineno, raw_off, raw_len;
	size_t text_off; /* where its text starts in dw_log_ml.text */
	char time[48];
	size_t time_len;
	int hit;   /* a multi-line rule's keyword on it */
	int block; /* ... a PEM BEGIN line's */
};
struct dw_log_ml_seen {
	uint64_t lineno;
	char fingerprint[72];
};
struct dw_log_ml {
	struct dw_buf text; /* the lines' texts, each with a "\n" */
	struct dw_log_ml_line *lines;
	size_t nlines, alloc;
	char stream[16]; /* their stream's name */
	size_t stream_len;
	/* multi-line findings told of its lines (each line alone, or
	 * together before): not told again */
	struct dw_log_ml_seen *seen;
	size_t nseen, seen_alloc;
	uint64_t cur_line; /* the line being read (its notes stay) */
};

/*
 * The piece of a line still open, per stream (stdout, and any other):
 * its last min(its length, DW_LOG_JOIN_TAIL) bytes are scanned again
 * with the next piece of the stream, for a secret across the cut. A
 * secret across two cuts (a piece shorter than it between) is not
 * joined: runtimes cut at 16 KiB, so that takes a crafted file.
 */
struct dw_log_piece {
	struct dw_log_ml ml;
	struct dw_buf tail;
	char stream[16];
	size_t stream_len;
	char time[48]; /* its time: a join's finding is told with it */
	size_t time_len;
	uint64_t lineno;	   /* the raw line of the open piece */
	uint64_t raw_off, raw_len; /* ... where the caller said it was */
	int open;
};
struct dw_log_join {
	struct dw_log_piece slot[2]; /* stdout, other */
	/* During the scan of a join: the piece it continues (the scanner
	 * process tells the daemon which raw line that was). */
	const struct dw_log_piece *joining;
	/* During the scan of a stream's lines together: the first and the
	 * last of them (for the scanner process, as `joining`). */
	const struct dw_log_ml_line *ml_first, *ml_last;
	/* A scan of these lines ran out of its time budget (the scanner's
	 * own word is reset by the next scan). */
	int timed_out;
	uint64_t hold_line; /* dw_log_join_finish_at()'s line */
	/* As the lines were given (dw_scan_log_line(), dw_log_ml_take()),
	 * for the scan of their lines together: `kind` their findings'
	 * source. */
	enum dw_log_format format;
	const char *kind;
	const char *display;
	dw_source_cb cb;
	void *ctx;
};

void dw_log_join_init(struct dw_log_join *j);
/*
 * The lines still kept to be scanned together: scanned now (the end of
 * the input, or of what is read of it for now). Returns the `raw_off` of
 * the first of them that is a PEM BEGIN line with no END line after it
 * (a follower gives the lines from there again with what it reads next:
 * the key's other lines may still come), or UINT64_MAX.
 */
uint64_t dw_log_join_finish(struct dw_scanner *s, struct dw_log_join *j);
/* The same for a BEGIN line at `raw_off` `from` or after only (one
 * before it is let go: past the window a reader holds lines for); with
 * `keep`, the lines from that BEGIN on stay kept, to be scanned again with
 * what follows (a reader that keeps its state between reads, rather than
 * reading the lines again). j->hold_line is that line's number. */
uint64_t dw_log_join_finish_at(struct dw_scanner *s, struct dw_log_join *j,
			       int keep, uint64_t from);

/*
 * An entry of a format that is not of lines (Docker's local: a frame a
 * piece of a line), scanned as itself already: kept with its stream's
 * lines for the multi-line rules, as dw_scan_log_line() keeps a line.
 * The caller sets j->kind, display, cb and ctx first.
 */
struct dw_log_entry_ml {
	const char *stream, *time, *text;
	size_t stream_len, time_len, n;
	uint64_t lineno, raw_off, raw_len;
	int hit;     /* dw_scan_multiline_hit() after its own scan */
	int cont;    /* it continues a piece of its stream left open */
	int partial; /* more of its line follows */
	int odd;     /* its raw line reads otherwise (the daemon's checker
		      * would not take it): ends the lines kept */
};
void dw_log_ml_take(struct dw_scanner *s, struct dw_log_join *j,
		    const struct dw_log_entry_ml *e);
/* A multi-line rule's finding told of line `lineno` of `stream` alone
 * (its own scan): not told again when the lines are scanned together. */
void dw_log_ml_told(struct dw_log_join *j, const char *stream,
		    size_t stream_len, uint64_t lineno,
		    const char *fingerprint);

/*
 * Text: where a secret of lines that data[0..len) ends inside begins (its
 * other lines may still come): the start of the line that holds the last
 * "-----BEGIN " with no "-----END " after it, or the first keyword of a
 * .netrc entry not yet past its password, whichever is first, if it is
 * in the last `window` bytes; SIZE_MAX: none.
 */
size_t dw_log_open_key(const char *data, size_t len, size_t window);
void dw_log_join_release(struct dw_log_join *j);

/*
 * One raw line (without its newline) of `format`, line number `lineno`,
 * at `raw_off` in the caller's data (kept for dw_log_join.joining): its
 * text is scanned with `stream` and `time` as fields, and, where it
 * continues an open piece of its stream, the piece's tail and it
 * together, for what spans the cut (only that is reported then). A line
 * that is not of the format is scanned as it is, never skipped.
 */
void dw_scan_log_line(struct dw_scanner *s, struct dw_log_join *j,
		      enum dw_log_format format, const char *line, size_t n,
		      uint64_t lineno, uint64_t raw_off, const char *display,
		      dw_source_cb cb, void *ctx);

/*
 * Without decoding: is raw `line` of `format` a piece that more follows
 * (1, else 0), and of which stream (`*other`: 0 stdout, 1 another)? -1
 * when it is not of the format. Bounded by n; no allocation.
 */
int dw_log_line_peek(enum dw_log_format format, const char *line, size_t n,
		     int *other);

/*
 * Where the raw lines of data[0..len) (whole lines) must be kept from
 * so that the pieces still open at its end are given again with what
 * follows: the start of the earliest open piece whose stream has no
 * later line; `len` when none is open.
 */
size_t dw_log_open_from(enum dw_log_format format, const char *data,
			size_t len);

/*
 * The text of raw `line` of `format` (json-file: the `log` string with
 * JSON's escapes undone; CRI: what follows the tag) appended to `out`;
 * -1 when it is not of the format. No JSON parser: a bounded walk.
 */
int dw_log_line_text(enum dw_log_format format, const char *line, size_t n,
		     struct dw_buf *out);

/* JSON's string escapes of p[0..n) undone into `out` (\uXXXX as UTF-8). */
void dw_json_unescape(const char *p, size_t n, struct dw_buf *out);

/* Is `path` a CRI log file (`<ns>_<pod>_<uid>/<container>/N.log`,
 * rotated `N.log.<time>`, `.gz`)? */
int dw_is_cri_log(const char *path);

/*
 * Docker's `local` log format (the `local` driver's
 * local-logs/container.log*, and the dual-logging cache
 * container-cached.log* that Docker keeps for every other driver but
 * `none`): frames of a big-endian u32 length, a protobuf LogEntry, and
 * the length again.
 */
#define DW_LOCAL_FRAME_MAX (2u << 20)

struct dw_local_entry {
	const char *source; /* "stdout", "stderr" */
	size_t source_len;
	int64_t time_nano;
	const char *line; /* without a newline */
	size_t line_len;
	int partial; /* more of this line follows */
};

/* Decode one LogEntry; 0 or DW_EINVAL (malformed protobuf). */
int dw_local_entry_decode(const unsigned char *p, size_t n,
			  struct dw_local_entry *e);

/* The state of one local-format stream between feeds. */
struct dw_local_log {
	uint64_t entries;     /* frames read: a finding's "line" */
	struct dw_buf joined; /* partial entries of one long line */
	uint64_t *cuts;	      /* where each piece after the first begins */
	/* Each stream's lines from a multi-line rule's keyword on
	 * (dw_log_ml_take()), between feeds too; `base`: the offset in the
	 * caller's data of the feed's first byte (their raw_off) */
	struct dw_log_join ml;
	uint64_t base;
	int ml_ready;
	char source[16]; /* the stream the pieces come from */
	size_t source_len;
	size_t ncuts, cuts_alloc;
	int corrupt; /* a bad frame: nothing more is read */
};

/*
 * Scan the complete frames at the start of data[0..len): each entry's
 * line with `stream` and `time` as fields; the pieces of a split line
 * each as they come, and joined (up to 1 MiB) once the line ends, for
 * secrets that span two pieces. Returns the bytes consumed (whole frames only;
 * the rest waits for more data). A frame that is too long, or whose trailing
 * length or protobuf does not match, sets l->corrupt: the caller says so.
 */
size_t dw_local_log_feed(struct dw_scanner *s, struct dw_local_log *l,
			 const char *data, size_t len, const char *display,
			 dw_source_cb cb, void *ctx);
/*
 * The lines of each stream kept for the multi-line rules: scanned now
 * together (dw_log_join_finish_at()); with `keep`, those from an open PEM
 * BEGIN line at `from` or after stay for the next feed. Returns the
 * offset (l->base and where in its feed) of the first frame of those
 * (l->ml.hold_line its entry), or UINT64_MAX.
 */
uint64_t dw_local_log_finish(struct dw_scanner *s, struct dw_local_log *l,
			     int keep, uint64_t from, const char *display,
			     dw_source_cb cb, void *ctx);
void dw_local_log_release(struct dw_local_log *l);

/* What a tree walk scanned, could not read or chose to skip. */
enum dw_scan_note {
	DW_NOTE_UNREADABLE, /* dw_error_last() says why */
	DW_NOTE_TOO_BIG,    /* larger than max_file_size */
	DW_NOTE_BINARY,	    /* binary content, not scanned */
	DW_NOTE_TIMED_OUT,  /* scanned in part: the time budget ran out */
	DW_NOTE_SCANNED,    /* read and scanned whole (counted) */
};

typedef void (*dw_scan_note_fn)(enum dw_scan_note kind, const char *path,
				void *ctx);

struct dw_config;

/*
 * Scan `root`: a file as dw_scan_path() does, a directory as every
 * regular file below it in name order (symlinks and special files are
 * not followed; `.git` is left to the git source; paths that `cfg`'s
 * allow_paths match are skipped; a Slack export's channel directories
 * are read as Slack). Whatever cannot be read or is skipped goes to
 * `note` (may be NULL); the walk goes on.
 */
void dw_scan_tree(struct dw_scanner *s, const char *root,
		  const struct dw_config *cfg, const struct dw_source_opts *o,
		  dw_source_cb cb, dw_scan_note_fn note, void *ctx);

/*
 * Load libarchive, which archives inside scanned trees are read with,
 * now (a sandbox, before its filter): 0 or an error.
 */
int dw_archive_load(void);

/*
 * Whether the first `n` bytes of a file are those of an archive or a
 * compressed file read as one (zip, gzip, bzip2, xz, zstd, lz4, lzma,
 * ar, rpm, cpio, tar), whatever its name.
 */
int dw_archive_magic(const void *head, size_t n);

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
/* The same of regular file `fd`, opened by the caller (at most 256 MiB). */
int dw_scan_slack_fd(struct dw_scanner *s, int fd, const char *display,
		     const char *channel, dw_source_cb cb, void *ctx);

#endif
