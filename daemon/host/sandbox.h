#ifndef DW_SANDBOX_H
#define DW_SANDBOX_H

#include <stdint.h>
#include <sys/types.h>

#include "driftwatch/engine.h"
#include "driftwatch/sources.h"

/*
 * The scanner process: hostile file content is matched against the
 * secret rules in a process that can do nothing else. driftwatchd forks
 * and execs its own program as the scanner (dw_sandbox_child_main(): a
 * new address space, nothing of the daemon's memory or mappings, no
 * descriptor but its socketpair end), which builds the rules, then,
 * before it reads anything:
 *   - becomes the `driftwatch` system user (else nobody), with no
 *     supplementary groups and so no capabilities;
 *   - rlimits: data 1 GiB, address space 4 GiB, CPU time, no files, no
 *     core dumps; the first the OOM killer takes;
 *   - PR_SET_NO_NEW_PRIVS and a seccomp filter (libseccomp) that allows
 *     reading a received descriptor, memory that is never executable or
 *     shared, its socket and exiting: anything else kills it (SIGSYS);
 *   - says it is ready, with the digest of its rules (the daemon's).
 * It receives one regular file at a time (SCM_RIGHTS), or log lines, or
 * a name to redact, and sends back its findings, each checked by the
 * daemon (plain text: the secret is at its offset; decoded content: the
 * fingerprint is its own, its fields known keys in printable ASCII). When it
 * dies, overruns its time or answers what is not so, it is restarted and the
 * file tried once more; a file that fails twice is reported as the input that
 * did (the caller records and alerts) and the caller goes on.
 */

struct dw_sandbox;

struct dw_sandbox_stats {
	pid_t pid;	   /* the scanner now (0: none) */
	unsigned restarts; /* after a death or an overrun */
	unsigned killed;   /* inputs given up on */
};

/*
 * Start a scanner for engine `e` (kept by the caller, unchanged while the
 * sandbox lives). `user` NULL: "driftwatch", else "nobody". `extra` (NULL
 * or NULL-terminated, at most 3) are given to the child's `build`, which
 * must make the same rules (their digests are compared).
 */
int dw_sandbox_start(struct dw_sandbox **out, const struct dw_engine *e,
		     const char *user, const char *const *extra);
void dw_sandbox_free(struct dw_sandbox *sb);
void dw_sandbox_stats(const struct dw_sandbox *sb, struct dw_sandbox_stats *st);

/*
 * Scan regular file `fd` (read from offset 0 with pread, at most `max`
 * bytes; the caller's offset is left alone) within `budget_ms` (0: none;
 * `*timed_out` then says the scan stopped there) and call `cb` per
 * finding. `name` is the file's name (its last component), for the rules
 * that read files of some names only (.pgpass) and the test hooks. Returns 0,
 * or DW_ELIMIT when the scanner failed on it twice (died, did not answer
 * within the budget and 5 s, or answered what is not so): dw_error_last()
 * says how. Findings are told once the scanner is done with the file
 * (`cb` may redact through the sandbox), never those of a failed try.
 * DW_EIO: scanned in part, the file brought more findings than one file
 * may (256); those up to there were told, the rest was not read.
 */
int dw_sandbox_scan_fd(struct dw_sandbox *sb, int fd, uint64_t max,
		       long long budget_ms, const char *name, int *timed_out,
		       dw_finding_cb cb, void *ctx);

/*
 * A whole file in the scanner process, decoded as dw_scan_opened_file()
 * decodes it (`path` chooses: gzip, Docker logs, mail, plain text), or,
 * with `slack_channel`, as a Slack export's channel-day file: `cb` gets
 * each finding with its source (kind and fields; the path is `path`).
 * A plain-text secret is believed only at its offset in the file; a
 * decoded one (gzip, mail, a Docker log, Slack) with its own fingerprint:
 * a scanner taken over by its input could invent such a finding, never
 * hide the daemon's files or act. `fd` is read from its start (rewound
 * for a second try). Returns 0 (with `*outcome`: done, binary, timed
 * out), DW_EIO when the content could not be decoded whole or brought
 * more findings than one file may (what was read was reported; the
 * error names the path), or DW_ELIMIT when the scanner failed on it
 * twice.
 */
int dw_sandbox_scan_whole(struct dw_sandbox *sb, int fd, const char *path,
			  const char *slack_channel, uint64_t max,
			  long long budget_ms, enum dw_scan_outcome *outcome,
			  dw_source_cb cb, void *ctx);

/*
 * dw_image_scan() of the image archive `fd` in the scanner process,
 * within `budget_ms`: findings with their source (path `display`),
 * each believed with its own fingerprint. Returns as
 * dw_sandbox_scan_whole() does (DW_EIO: not read whole; what was, was
 * reported).
 */
int dw_sandbox_scan_image(struct dw_sandbox *sb, int fd, const char *display,
			  long long budget_ms, dw_source_cb cb, void *ctx);

/*
 * Docker's local log format as it is followed: the frames in
 * data[0..len) (the first numbered `entries` + 1), decoded in the
 * scanner, findings to `cb` with their source (path `path`). In `res`:
 * `consumed`, the bytes up to the end of the last line that ended (the
 * frames after it are pieces of a line still open: each was scanned, and
 * they are to be given again with what follows, so that the line is
 * joined), `entries`, the frames in those bytes; `corrupt`: a frame is
 * not Docker's after `consumed` (the rest is raw bytes). Findings are
 * believed with their own fingerprint (decoded content). Returns 0, or
 * DW_ELIMIT when the scanner failed on them twice.
 */
struct dw_frames_result {
	size_t consumed;
	uint64_t entries;
	size_t given; /* the bytes given to the scanner (at most 8 MiB) */
	int corrupt, timed_out;
};

/* The bytes of the whole frames at the start of data[0..len), and in
 * `*count` how many (Docker's local format: length, entry, length). */
size_t dw_frames_complete(const char *data, size_t len, uint64_t *count);
int dw_sandbox_scan_frames(struct dw_sandbox *sb, const char *data, size_t len,
			   const char *path, uint64_t entries,
			   struct dw_frames_result *res, dw_source_cb cb,
			   void *ctx);

/*
 * dw_scanner_redact_text() with the scan in the scanner process: the
 * secrets it reports are believed only where they are in `text`; when
 * it fails, the text is hidden whole ("…"), the scanner restarted, and
 * DW_ERROR returned (dw_error_last() says why).
 */
struct dw_buf;
int dw_sandbox_redact_text(struct dw_sandbox *sb, const char *text, size_t len,
			   const struct dw_finding *also, struct dw_buf *out);

/*
 * Log lines in the scanner process: `data` is whole lines (the last may
 * be cut) of `format` (enum dw_log_format): plain text, or Docker
 * json-file or CRI lines, decoded there (a finding's source then names
 * that log with its stream and time; the pieces of a long line joined
 * with dw_scan_log_line()), the first numbered `line_base`. `cb` gets
 * src NULL for plain text. A plain-text secret is believed only at its
 * offset; a json-file or CRI one only in its raw line, as it is or with
 * JSON's string escapes (and %-escapes, if it says) undone, or across
 * the cut of a long line, in the text of the two raw lines it names.
 * Each piece of at most 160 KiB (cut before a piece of a line still
 * open) has a 2 s budget. `*timed_out` gets DW_LINES_TIMED_OUT when one
 * was cut there, DW_LINES_UNJOINED when a piece of a long line was open
 * from a piece's start to its end (its rest, in a later piece, was
 * scanned on its own: the caller says so; also when a private key's
 * lines with no END line yet were, which otherwise go again with the next
 * piece), DW_LINES_KEY_CUT when in plain text such a key (or a .netrc
 * entry before its password) began on a piece's first line. `*hold_from`
 * gets where such lines begin in the last piece (`len`: none), for the
 * caller to give them again with what it reads next
 * (dw_log_join_finish()). Returns
 * 0, or DW_ELIMIT when the scanner failed twice on a piece (the message
 * names the first such piece's lines; the other pieces are still
 * scanned).
 */
#define DW_LINES_TIMED_OUT 1 /* a piece was cut at its budget */
#define DW_LINES_UNJOINED 2  /* a piece of a long line not joined */
#define DW_LINES_KEY_CUT 4   /* plain text: a key or .netrc entry cut */
struct dw_source;
int dw_sandbox_scan_lines(struct dw_sandbox *sb, int format, const char *data,
			  size_t len, uint64_t line_base,
			  int (*cb)(const struct dw_finding *f,
				    const struct dw_source *src, void *ctx),
			  void *ctx, int *timed_out, size_t *hold_from);

/*
 * In driftwatchd's main(), first: is this process a scanner the daemon
 * exec'd? Then dw_sandbox_child_main() is all it runs (it never
 * returns): `build` makes the rules, as the daemon made its own.
 */
int dw_sandbox_is_child(int argc, char **argv);
int dw_sandbox_child_main(int argc, char **argv,
			  int (*build)(struct dw_engine **e, int argc,
				       char **argv)) __attribute__((noreturn));

#endif
