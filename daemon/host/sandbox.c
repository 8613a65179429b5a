/* The scanner process (sandbox.h): privileges dropped, seccomp, SCM_RIGHTS. */
#include <ctype.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <iconv.h>
#include <jansson.h>
#include <malloc.h>
#include <poll.h>
#include <pwd.h>
#include <seccomp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "driftwatch/buf.h"
#include "driftwatch/clock.h"
#include "driftwatch/error.h"
#include "driftwatch/sources.h"
#include "driftwatch/xmalloc.h"
#include "sandbox.h"
#include "driftwatch/banned.h"

/* The child's end of the socketpair, after it has closed all others. */
#define SB_FD 3
/* A secret longer than this comes back cut (its fingerprint is whole). */
#define SB_SECRET_MAX (48 * 1024)
/* Memory the scanner may take (RLIMIT_DATA), and CPU seconds it may use
 * over its life before it is restarted (RLIMIT_CPU: SIGXCPU). */
#define SB_DATA_MAX (1024ull << 20)
#define SB_CPU_MAX 600
/* A piece of log lines: at most this long to scan (as in the daemon). */
#define SCAN_LINES_BUDGET_MS 2000
/* Beyond a file's own budget: the time a scanner may take to answer. */
#define SB_SLACK_MS 5000
/* Address space (the compiled rules, buffers, libraries). */
#define SB_AS_MAX (4096ull << 20)
/* Findings one file may bring: past this the scanner is not believed. */
#define SB_FINDINGS_MAX 256
/* ... and a piece of log lines (an access log can be full of tokens). */
#define SB_LINES_FINDINGS_MAX 4096
/* ... and a container image (every file of every layer: decoys must not
 * make it throw away the one that matters). */
#define SB_IMAGE_FINDINGS_MAX 65536
/* Arguments the caller gives the scanner's build function. */
#define SB_EXTRA_MAX 3
/* The scanner's first argument: it is the scanner, on descriptor 3. */
#define SB_ARG "--scanner-process"

enum sb_op {
	SB_SCAN = 1,
	SB_HOOK_SEGV = 90,
	SB_HOOK_FORBIDDEN = 91,
	SB_HOOK_LIE = 92,
	SB_HOOK_TIMEOUT = 93, /* whole files: says its budget ran out */
	SB_HOOK_STALL = 94,   /* whole files: never answers */
	SB_HOOK_SLOW = 95,    /* files: reads it 3 s late (content swapped) */
	SB_REDACT = 3,	      /* the text follows the request; no descriptor */
	SB_LINES = 4,	      /* struct sb_lines, then the data follow */
	SB_WHOLE = 5,	      /* struct sb_whole follows; a descriptor */
	SB_FRAMES = 6	      /* struct sb_frames follows; a memfd of frames */
};
enum sb_reply { SB_FINDING = 1, SB_DONE = 2, SB_READY = 3 };

struct sb_req {
	uint32_t op;
	uint32_t id; /* echoed in every reply */
	uint64_t max;
	int64_t budget_ms;
	/* SB_SCAN: the file's name, for the rules of names (.pgpass) */
	char name[256];
};

/* A finding's source fields: "key=value\n" each, printable ASCII. */
#define SB_FIELDS_MAX 1200

struct sb_finding {
	uint32_t type; /* SB_FINDING */
	uint32_t id;
	uint32_t url_decoded;
	uint32_t docker; /* from a json-file line: the fields below */
	uint64_t rule_index, line, column, offset;
	/* SB_LINES: the raw line it was found in, within the data, and
	 * the one before it whose open piece it continues (len 0: none) */
	uint64_t line_off, line_len, line2_off, line2_len;
	/* ... or (1) found in a stream's lines together, line2 the first
	 * of them and line the last (dw_log_join.ml_first) */
	uint32_t lines;
	uint32_t kind;		    /* SB_WHOLE: its source, in sb_kinds[] */
	uint32_t secret_len;	    /* bytes that follow */
	char fields[SB_FIELDS_MAX]; /* NUL-terminated */
	char fingerprint[72];
};

/* The sources a whole file's finding may name (0: the request's). */
static const char *const sb_kinds[] = {
	"",
	DW_SOURCE_FILE,
	DW_SOURCE_GZIP,
	DW_SOURCE_SLACK,
	DW_SOURCE_DOCKER_JSON_LOG,
	DW_SOURCE_DOCKER_LOCAL_LOG,
	DW_SOURCE_MAIL,
	DW_SOURCE_CRI_LOG,
	DW_SOURCE_ARCHIVE,
	DW_SOURCE_IMAGE,
};
#define SB_KIND_FILE 1
/* The fields a finding may carry back (anything else is left out). */
static const char *const sb_keys[] = {
	"stream",
	"time",
	"channel",
	"user",
	"ts",
	"message_id",
	"part",
	"filename",
	"entry",
	/* an image's (the long ones last: cut first) */
	"image",
	"key",
	"layer",
	"hidden",
	"hidden_by_layer",
	"layer_digest",
	"hidden_by_layer_digest",
	"step",
	"hidden_by_step",
};

/* What follows an SB_WHOLE request: which decoder, for which file. */
struct sb_whole {
	uint32_t slack;	   /* a Slack export's channel-day file */
	uint32_t image;	   /* a container image archive */
	uint32_t hook;	   /* tests: crash on it */
	char path[1024];   /* chooses the decoder (".gz", "-json.log", ...) */
	char channel[256]; /* Slack */
};

/* The bytes of the local-format frame at `p` (at least 8 there): the
 * big-endian length, the entry, the length again. */
static uint64_t frame_len(const char *p)
{
	const unsigned char *u = (const unsigned char *)p;

	return 8 + (((uint64_t)u[0] << 24) | ((uint64_t)u[1] << 16) |
		    ((uint64_t)u[2] << 8) | u[3]);
}

/* What follows an SB_FRAMES request. */
struct sb_frames {
	uint64_t entries; /* entries before the first frame */
	uint32_t hook;	  /* tests: crash on them */
	uint32_t pad;
};

/* The frames one SB_FRAMES request may carry (a joined line of 1 MiB
 * held back, frames of up to 2 MiB). */
#define SB_FRAMES_MAX (8u << 20)

/* SB_DONE's `outcome` for SB_WHOLE and SB_FRAMES. */
enum sb_outcome { SB_OUT_DONE, SB_OUT_BINARY, SB_OUT_MALFORMED };

/* What follows an SB_LINES request, then the data. */
struct sb_lines {
	uint32_t format; /* enum dw_log_format: json-file, CRI, plain */
	uint32_t hook;	 /* tests: crash on these lines */
	uint64_t line_base;
};

/* A line longer than a piece: how much of it is given again. */
#define SB_LINES_OVERLAP (4u << 10)

/* Data one SB_LINES message carries at most (a socket's default
 * buffer takes ~208 KiB). */
#define SB_LINES_MAX (160u << 10)

struct sb_done {
	uint32_t type; /* SB_DONE */
	uint32_t id;
	uint32_t timed_out;
	uint32_t outcome;  /* SB_WHOLE, SB_FRAMES: enum sb_outcome */
	uint64_t consumed; /* SB_FRAMES: bytes up to the last line's end */
	/* SB_LINES: where a PEM key's lines begin that have no END line yet
	 * (dw_log_join_finish()), UINT64_MAX: none */
	uint64_t hold;
	/* SB_OUT_MALFORMED: why, printable ASCII, NUL-terminated (the
	 * daemon shows it as the scanner's word, never believes more). */
	char why[200];
};

struct sb_ready {
	uint32_t type; /* SB_READY */
	uint32_t pad;
	char digest[72]; /* of the engine it built */
};

struct dw_sandbox {
	const struct dw_engine *engine;
	uid_t uid; /* the scanner's, resolved before any thread starts */
	gid_t gid;
	/* The scanner's command line, made before fork: name, SB_ARG, our
	 * pid, uid, gid, then up to SB_EXTRA_MAX for its build function. */
	char *argv[5 + SB_EXTRA_MAX + 1];
	uint32_t next_id;
	pid_t pid;
	int fd; /* our end */
	struct dw_sandbox_stats st;
	/* Test hooks ($DW_TEST_SANDBOX_HOOK=segv:NAME or forbidden:NAME):
	 * the scanner crashes, or makes a forbidden call, on file NAME. */
	int hook_op;
	char *hook_name;
	int stuck; /* the last failure: it did not answer in time */
	/* A piece of log lines in one message: SB_LINES_MAX, or less when
	 * the socket's send buffer is smaller (net.core.wmem_max). */
	size_t lines_max;
};

/* ---- the child ---- */

/* A memory error, as a decoder bug would make one (test hooks). */
static void crash(void)
{
	volatile int *volatile p = NULL;

	*p = 1;
}

static uint32_t cur_id;			   /* the request being answered */
static const struct dw_engine *lie_engine; /* test hooks */
/* SB_LINES of json-file: the raw line being scanned, and its fields. */
static uint64_t cur_line_off, cur_line_len;
static const struct dw_log_join *cur_join; /* the piece a join continues */
static int cur_docker;
static uint32_t cur_kind;
static char cur_fields[SB_FIELDS_MAX];

/* Anything but printable ASCII in the NUL-terminated `s` becomes '?'. */
static void printable(char *s)
{
	for (; *s; s++)
		if (*s < 0x20 || *s > 0x7e)
			*s = '?';
}

static int send_all(int fd, const void *p, size_t n)
{
	ssize_t w;

	do
		w = send(fd, p, n, MSG_NOSIGNAL);
	while (w < 0 && errno == EINTR);
	return w == (ssize_t)n ? 0 : -1;
}

static int child_finding(const struct dw_finding *f, void *ctx)
{
	static char buf[sizeof(struct sb_finding) + SB_SECRET_MAX];
	struct sb_finding h;
	size_t n =
		f->secret_len < SB_SECRET_MAX ? f->secret_len : SB_SECRET_MAX;

	(void)ctx;
	memset(&h, 0, sizeof(h));
	h.type = SB_FINDING;
	h.id = cur_id;
	h.url_decoded = (uint32_t)f->url_decoded;
	h.rule_index = f->rule_index;
	h.docker = (uint32_t)cur_docker;
	h.line_off = cur_line_off;
	h.line_len = cur_line_len;
	if (cur_join && cur_join->joining) {
		h.line2_off = cur_join->joining->raw_off;
		h.line2_len = cur_join->joining->raw_len;
	}
	if (cur_join && cur_join->ml_first) {
		h.lines = 1;
		h.line2_off = cur_join->ml_first->raw_off;
		h.line2_len = cur_join->ml_first->raw_len;
		h.line_off = cur_join->ml_last->raw_off;
		h.line_len = cur_join->ml_last->raw_len;
	}
	h.kind = cur_kind;
	memcpy(h.fields, cur_fields, sizeof(h.fields));
	h.line = f->line;
	h.column = f->column;
	h.offset = f->offset;
	h.secret_len = (uint32_t)n;
	memcpy(h.fingerprint, f->fingerprint, sizeof(h.fingerprint));
	memcpy(buf, &h, sizeof(h));
	memcpy(buf + sizeof(h), f->secret, n);
	/* A finding that cannot be told must not end as a clean "done". */
	if (send_all(SB_FD, buf, sizeof(h) + n))
		_exit(1);
	return 0;
}

/*
 * A finding's source fields, as "key=value\n" lines: the known keys
 * only, each value cut at 120 bytes, printable ASCII only (the daemon
 * believes nothing else: anything else becomes '?').
 */
static void pack_fields(const json_t *fields)
{
	size_t k, used = 0;

	memset(cur_fields, 0, sizeof(cur_fields));
	for (k = 0; fields && k < sizeof(sb_keys) / sizeof(sb_keys[0]); k++) {
		const char *v =
			json_string_value(json_object_get(fields, sb_keys[k]));
		size_t i, start;
		int n;

		if (!v)
			continue;
		n = snprintf(cur_fields + used, sizeof(cur_fields) - used,
			     "%s=%.120s\n", sb_keys[k], v);
		if (n < 0 || (size_t)n >= sizeof(cur_fields) - used) {
			cur_fields[used] = '\0';
			break;
		}
		start = used + strlen(sb_keys[k]) + 1;
		used += (size_t)n;
		for (i = start; i < used - 1; i++)
			if (cur_fields[i] < 0x20 || cur_fields[i] > 0x7e)
				cur_fields[i] = '?';
	}
}

static int child_source_finding(const struct dw_finding *f,
				const struct dw_source *src, void *ctx)
{
	size_t k;

	pack_fields(src->fields);
	cur_docker = src->fields != NULL;
	cur_kind = 0;
	for (k = 1; k < sizeof(sb_kinds) / sizeof(sb_kinds[0]); k++)
		if (!strcmp(src->kind, sb_kinds[k]))
			cur_kind = (uint32_t)k;
	return child_finding(f, ctx);
}

static void child_lines(struct dw_scanner *s, const struct sb_req *r,
			const char *p, size_t n)
{
	struct sb_done done = {SB_DONE, r->id, 0, 0, 0, UINT64_MAX, ""};
	struct sb_lines l;
	struct dw_log_join join;
	struct timespec t0, t;
	size_t i, start;
	uint64_t line;

	cur_id = r->id;
	if (n < sizeof(l))
		_exit(1);
	memcpy(&l, p, sizeof(l));
	p += sizeof(l);
	n -= sizeof(l);
	if (l.hook)
		crash();
	dw_scanner_set_budget(s, r->budget_ms);
	if (l.format == DW_LOG_PLAIN) {
		cur_line_off = 0;
		cur_line_len = n;
		dw_scan_buffer(s, p, n, l.line_base, child_finding, NULL);
		done.timed_out = (uint32_t)dw_scan_timed_out(s);
	}
	clock_gettime(CLOCK_MONOTONIC, &t0);
	dw_log_join_init(&join);
	cur_join = &join;
	/* json-file, CRI: one line at a time, as the daemon and `scan` read
	 * them (a piece joined with the one before of its stream), within
	 * one budget for the request. */
	for (i = 0, start = 0, line = l.line_base;
	     l.format != DW_LOG_PLAIN && i <= n; i++) {
		long long spent;

		if (i < n && p[i] != '\n')
			continue;
		clock_gettime(CLOCK_MONOTONIC, &t);
		spent = (long long)(t.tv_sec - t0.tv_sec) * 1000 +
			(t.tv_nsec - t0.tv_nsec) / 1000000;
		if (r->budget_ms > 0 && spent >= r->budget_ms) {
			done.timed_out = 1;
			break;
		}
		if (r->budget_ms > 0)
			dw_scanner_set_budget(s, r->budget_ms - spent);
		if (i > start) {
			cur_line_off = start;
			cur_line_len = i - start;
			cur_docker = 0;
			cur_fields[0] = '\0';
			dw_scan_log_line(s, &join, (enum dw_log_format)l.format,
					 p + start, i - start, line, start, "",
					 child_source_finding, NULL);
			done.timed_out |= (uint32_t)join.timed_out;
		}
		line += i < n;
		start = i + 1;
	}
	/* (a time budget that ran out stopped the scanner: what is kept
	 * is not scanned, and that was said) */
	if (!done.timed_out)
		done.hold = dw_log_join_finish(s, &join);
	done.timed_out |= (uint32_t)join.timed_out;
	cur_join = NULL;
	dw_log_join_release(&join);
	cur_docker = 0;
	cur_fields[0] = '\0';
	if (send_all(SB_FD, &done, sizeof(done)))
		_exit(1);
}

/*
 * Docker's local format, as it is followed: the frames in memfd `fd`
 * (r->max bytes), decoded one at a time. `consumed` says where the last
 * line that ended ends: the frames after it (pieces of a line still
 * open, scanned each already) come again with the next ones, so the
 * line is joined then, without the scanner keeping anything.
 */
static void child_frames(struct dw_scanner *s, int fd, const struct sb_req *r,
			 const char *extra)
{
	struct sb_frames copy, *fr = &copy;
	struct sb_done done = {SB_DONE, r->id, 0, SB_OUT_DONE, 0, 0, ""};
	struct dw_local_log l;
	size_t len = 0, pos = 0;
	char *data;

	memcpy(&copy, extra, sizeof(copy)); /* msg: not aligned for it */
	if (r->max > SB_FRAMES_MAX)
		_exit(1);
	if (fr->hook)
		crash();
	cur_id = r->id;
	data = dw_xmalloc(r->max ? (size_t)r->max : 1);
	while (len < r->max) {
		ssize_t n =
			pread(fd, data + len, (size_t)r->max - len, (off_t)len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		len += (size_t)n;
	}
	memset(&l, 0, sizeof(l));
	l.entries = fr->entries;
	dw_scanner_set_budget(s, r->budget_ms);
	dw_scanner_set_deadline(s, r->budget_ms);
	while (len - pos >= 8) {
		uint64_t whole = frame_len(data + pos);
		size_t one = whole <= len - pos ? (size_t)whole : len - pos,
		       used;

		l.base = pos;
		used = dw_local_log_feed(s, &l, data + pos, one, "",
					 child_source_finding, NULL);

		done.timed_out |= (uint32_t)(dw_scan_timed_out(s) ||
					     dw_scanner_past_deadline(s));
		if (l.corrupt) {
			/* The good frames are read: the rest is not ours. */
			done.outcome = SB_OUT_MALFORMED;
			done.consumed = pos + used;
			break;
		}
		if (!used)
			break;
		pos += used;
		if (!l.joined.len)
			done.consumed = pos;
	}
	/* Each stream's lines kept for the multi-line rules, scanned; the
	 * frames from an open key's BEGIN come again with the next ones
	 * (a key printed a frame a line may not be whole yet). Not after
	 * its time ran out: the scanner is stopped, and that was said. */
	if (!done.timed_out) {
		/* (a BEGIN further back than the rules' window is let go:
		 * no key spans it, and frames are not given again for it) */
		uint64_t hold = dw_local_log_finish(
			s, &l, 0, pos > DW_LOG_ML_MAX ? pos - DW_LOG_ML_MAX : 0,
			"", child_source_finding, NULL);

		if (hold < done.consumed)
			done.consumed = hold;
	}
	done.timed_out |= (uint32_t)l.ml.timed_out;
	dw_scanner_set_deadline(s, 0);
	dw_local_log_release(&l);
	free(data);
	cur_kind = 0;
	cur_fields[0] = '\0';
	cur_docker = 0;
	if (send_all(SB_FD, &done, sizeof(done)))
		_exit(1);
}

static void hook_lie(const struct dw_engine *e, const struct sb_req *r);

/*
 * A whole file, decoded as its name says (gzip, a Docker log, mail, a
 * Slack export's day, plain text): findings carry their source.
 */
static void child_whole(struct dw_scanner *s, int fd, const struct sb_req *r,
			const char *extra)
{
	static struct sb_whole copy; /* msg: not aligned for it */
	const struct sb_whole *w = memcpy(&copy, extra, sizeof(copy));
	struct sb_done done = {SB_DONE, r->id, 0, SB_OUT_DONE, 0, 0, ""};
	struct dw_source_opts o = {.max_file_size = r->max};
	enum dw_scan_outcome out = DW_SCAN_DONE;
	char path[sizeof(w->path)], channel[sizeof(w->channel)];
	int err;

	cur_id = r->id;
	memcpy(path, w->path, sizeof(path));
	memcpy(channel, w->channel, sizeof(channel));
	path[sizeof(path) - 1] = channel[sizeof(channel) - 1] = '\0';
	if (w->hook == SB_HOOK_SEGV)
		crash();
	if (w->hook == SB_HOOK_STALL)
		for (;;)
			cur_id++;
	if (w->hook == SB_HOOK_LIE) {
		/* A compromised scanner's lie about a plain file: "found
		 * in gzip" (sb_kinds[2]). */
		cur_kind = 2;
		hook_lie(lie_engine, r);
	}
	/* One budget for the file, not one per line or part. */
	dw_scanner_set_budget(s, r->budget_ms);
	dw_scanner_set_deadline(s, r->budget_ms);
	err = w->image ? dw_image_scan(s, fd, path, child_source_finding, NULL)
	      : w->slack
		      ? dw_scan_slack_fd(s, fd, path, channel,
					 child_source_finding, NULL)
		      : dw_scan_opened_file(s, fd, path, path, &o,
					    child_source_finding, NULL, &out);
	done.timed_out = out == DW_SCAN_TIMED_OUT || dw_scan_timed_out(s) ||
			 dw_scanner_past_deadline(s) ||
			 w->hook == SB_HOOK_TIMEOUT;
	dw_scanner_set_deadline(s, 0);
	if (err) {
		snprintf(done.why, sizeof(done.why), "%s", dw_error_last());
		printable(done.why);
	}
	done.outcome = err			       ? SB_OUT_MALFORMED
		       : out == DW_SCAN_SKIPPED_BINARY ? SB_OUT_BINARY
						       : SB_OUT_DONE;
	cur_kind = 0;
	cur_fields[0] = '\0';
	cur_docker = 0;
	if (send_all(SB_FD, &done, sizeof(done)))
		_exit(1);
}

static void child_scan(struct dw_scanner *s, int fd, const struct sb_req *r)
{
	struct sb_done done = {SB_DONE, r->id, 0, 0, 0, 0, ""};
	uint64_t off = 0;

	cur_id = r->id;
	dw_scanner_set_budget(s, r->budget_ms);
	dw_scan_name(s, memchr(r->name, '\0', sizeof(r->name)) && r->name[0]
				? r->name
				: NULL);
	dw_scan_begin(s, 1, child_finding, NULL);
	while (off < r->max) {
		size_t room;
		char *p = dw_scan_reserve(s, &room);
		ssize_t n;

		if (room > r->max - off)
			room = (size_t)(r->max - off);
		n = pread(fd, p, room, (off_t)off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		off += (uint64_t)n;
		if (dw_scan_commit(s, (size_t)n))
			break;
	}
	dw_scan_finish(s);
	done.timed_out = (uint32_t)dw_scan_timed_out(s);
	if (send_all(SB_FD, &done, sizeof(done)))
		_exit(1);
}

/*
 * What a scanner may do once confined: read the descriptors it is given,
 * answer on its socket, manage memory that never becomes executable or
 * shared, and exit. Anything else kills it (SIGSYS).
 */
static int confine(void)
{
	static const int anyfd[] = {
		SCMP_SYS(read),
		SCMP_SYS(pread64),
		SCMP_SYS(close),
		SCMP_SYS(munmap),
		SCMP_SYS(mremap),
		SCMP_SYS(brk),
		SCMP_SYS(madvise),
		SCMP_SYS(futex),
		SCMP_SYS(rt_sigreturn),
		SCMP_SYS(exit),
		SCMP_SYS(exit_group),
		SCMP_SYS(clock_gettime),
		/* mail: GMime's stream seeks (never past what it read) */
		SCMP_SYS(lseek),
	};
	static const int sockonly[] = {SCMP_SYS(recvmsg), SCMP_SYS(sendto),
				       SCMP_SYS(sendmsg), SCMP_SYS(write)};
	scmp_filter_ctx f = seccomp_init(SCMP_ACT_KILL_PROCESS);
	size_t i;
	int rc = f ? 0 : -1;

	for (i = 0; !rc && i < sizeof(anyfd) / sizeof(anyfd[0]); i++)
		rc = seccomp_rule_add(f, SCMP_ACT_ALLOW, anyfd[i], 0);
	for (i = 0; !rc && i < sizeof(sockonly) / sizeof(sockonly[0]); i++)
		rc = seccomp_rule_add(f, SCMP_ACT_ALLOW, sockonly[i], 1,
				      SCMP_A0(SCMP_CMP_EQ, SB_FD));
	/* Memory: never executable, never shared (the store's WAL index
	 * is not even there: the scanner is a new program, exec'd). */
	if (!rc)
		rc = seccomp_rule_add(
			f, SCMP_ACT_ALLOW, SCMP_SYS(mmap), 2,
			SCMP_A2(SCMP_CMP_MASKED_EQ, PROT_EXEC, 0),
			/* the type bits: private (not shared, not
			 * shared-validate) */
			SCMP_A3(SCMP_CMP_MASKED_EQ, MAP_TYPE, MAP_PRIVATE));
	if (!rc)
		rc = seccomp_rule_add(
			f, SCMP_ACT_ALLOW, SCMP_SYS(mprotect), 1,
			SCMP_A2(SCMP_CMP_MASKED_EQ, PROT_EXEC, 0));
	if (!rc)
		rc = seccomp_load(f); /* sets PR_SET_NO_NEW_PRIVS too */
	seccomp_release(f);
	return rc;
}

static int drop_privileges(uid_t uid, gid_t gid)
{
	struct rlimit data = {SB_DATA_MAX, SB_DATA_MAX},
		      as = {SB_AS_MAX, SB_AS_MAX},
		      cpu = {SB_CPU_MAX, SB_CPU_MAX + 5}, none = {0, 0},
		      files = {8, 8};
	int fd;

	/* The first to go when memory runs out, not the daemon. */
	fd = open("/proc/self/oom_score_adj", O_WRONLY | O_CLOEXEC);
	if (fd >= 0) {
		if (write(fd, "1000", 4) != 4) {
			/* not fatal: the limits below still hold */
		}
		close(fd);
	}
	if (!uid || !gid || setgroups(0, NULL) || setresgid(gid, gid, gid) ||
	    setresuid(uid, uid, uid))
		return -1;
	/* uid 0 is gone for good, and with it every capability. */
	if (!setuid(0))
		return -1;
#ifdef __SANITIZE_ADDRESS__
	/* AddressSanitizer's shadow and allocator regions count as data
	 * and address space: its builds (tests) run without those two. */
	(void)data;
	(void)as;
#else
	if (setrlimit(RLIMIT_DATA, &data) || setrlimit(RLIMIT_AS, &as))
		return -1;
#endif
	if (setrlimit(RLIMIT_CPU, &cpu) || setrlimit(RLIMIT_FSIZE, &none) ||
	    setrlimit(RLIMIT_CORE, &none) || setrlimit(RLIMIT_NOFILE, &files))
		return -1;
	return prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) ||
	       prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
}

/* Three seconds before the file is read: the time a container would
 * need to change it under the scan, made long enough for a test. */
static void hook_slow(void)
{
	struct timespec t0, t;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	do
		clock_gettime(CLOCK_MONOTONIC, &t);
	while (t.tv_sec - t0.tv_sec < 3);
}

static void hook_forbidden(void)
{
	/* Anything a scanner never does: opening a file by name. */
	int fd = (int)syscall(SYS_openat, AT_FDCWD, "/etc/passwd", O_RDONLY);

	if (fd >= 0)
		close(fd);
}

/* A compromised scanner's lie: a secret that is not in the file. */
static void hook_lie(const struct dw_engine *e, const struct sb_req *r)
{
	const struct dw_rule_info *rules;
	static const char fake[] = "AKIAQWERTYUIOPASDFGH";
	struct dw_finding f;

	memset(&f, 0, sizeof(f));
	dw_engine_rules(e, &rules);
	f.rule = &rules[0];
	f.secret = fake;
	f.secret_len = sizeof(fake) - 1;
	f.line = 1;
	f.column = 1;
	dw_secret_fingerprint(f.fingerprint, rules[0].id, fake, f.secret_len);
	cur_id = r->id;
	child_finding(&f, NULL);
}

static int ignore_finding(const struct dw_finding *f, void *ctx)
{
	(void)f;
	(void)ctx;
	return 0;
}

static int cmp_u64(const void *x, const void *y)
{
	uint64_t a = *(const uint64_t *)x, b = *(const uint64_t *)y;

	return a < b ? -1 : a > b;
}

static int ignore_source(const struct dw_finding *f,
			 const struct dw_source *src, void *ctx)
{
	(void)f;
	(void)src;
	(void)ctx;
	return 0;
}

/*
 * Mail headers and parts name their charsets, and GMime converts them
 * with iconv, which loads glibc's converter for each charset from a file
 * on first use: those of the charsets mail commonly uses are loaded
 * before the filter, and kept (their descriptors are never closed, so
 * glibc never unloads them). A mail in a rarer charset makes the
 * scanner call what its filter forbids: that mail is reported as not
 * scanned, loudly.
 */
#define ICONV_KEPT 128
static iconv_t iconv_kept[ICONV_KEPT];

/*
 * Confined, iconv_open() answers only for the charsets loaded before
 * (and their names glibc knows them by, which need no file): any other
 * fails with EINVAL, which GMime takes in its stride (the text stays as
 * it is), where loading its converter would kill the scanner at its
 * filter. This program's own iconv_open, exported (CMakeLists.txt), is
 * the one GMime and GLib call.
 */
static int iconv_confined;

static int iconv_known(const char *name)
{
	static const char *const known[] = {
		"UTF8",	       "ASCII",	      "USASCII",     "ANSIX341968",
		"ISO88591",    "ISO88592",    "ISO88593",    "ISO88594",
		"ISO88595",    "ISO88596",    "ISO88597",    "ISO88598",
		"ISO88599",    "ISO885910",   "ISO885913",   "ISO885914",
		"ISO885915",   "ISO885916",   "LATIN1",	     "LATIN2",
		"LATIN3",      "LATIN4",      "LATIN5",	     "LATIN6",
		"LATIN7",      "LATIN8",      "LATIN9",	     "LATIN10",
		"CP1250",      "CP1251",      "CP1252",	     "CP1253",
		"CP1254",      "CP1255",      "CP1256",	     "CP1257",
		"CP1258",      "WINDOWS1250", "WINDOWS1251", "WINDOWS1252",
		"WINDOWS1253", "WINDOWS1254", "WINDOWS1255", "WINDOWS1256",
		"WINDOWS1257", "WINDOWS1258", "KOI8R",	     "KOI8U",
		"ISO2022JP",   "SHIFTJIS",    "SJIS",	     "MSKANJI",
		"CP932",       "WINDOWS31J",  "EUCJP",	     "GB2312",
		"EUCCN",       "GBK",	      "CP936",	     "GB18030",
		"BIG5",	       "BIG5HKSCS",   "CP950",	     "EUCKR",
		"CP949",       "UHC",	      "ISO2022KR",   "EUCTW",
		"TIS620",      "CP874",	      "WINDOWS874",  "UTF7",
		"UTF16",       "UTF16LE",     "UTF16BE",     "UTF32",
		"CP437",       "IBM437",      "CP850",	     "IBM850",
		"CP866",       "IBM866",      "MACINTOSH",   "MAC",
		"ISO2022CN",   "VISCII",      "ARMSCII8",
	};
	char norm[32];
	size_t i, n = 0;

	/* Upper case, letters and digits only, up to "//" (TRANSLIT). */
	for (i = 0; name[i] && n < sizeof(norm) - 1; i++) {
		unsigned char c = (unsigned char)name[i];

		if (c == '/')
			break;
		if (isalnum(c))
			norm[n++] = (char)toupper(c);
	}
	norm[n] = '\0';
	for (i = 0; i < sizeof(known) / sizeof(known[0]); i++)
		if (!strcmp(norm, known[i]))
			return 1;
	return 0;
}

__attribute__((visibility("default"))) iconv_t iconv_open(const char *to,
							  const char *from)
{
	static iconv_t (*real)(const char *, const char *);

	if (!real)
		real = (iconv_t(*)(const char *, const char *))dlsym(
			RTLD_NEXT, "iconv_open");
	if (!real || (iconv_confined && (!to || !from || !iconv_known(to) ||
					 !iconv_known(from)))) {
		errno = EINVAL;
		return (iconv_t)-1;
	}
	return real(to, from);
}

static void warm_up_iconv(void)
{
	static const char *const charsets[] = {
		"ISO-8859-1",  "ISO-8859-2",  "ISO-8859-3",  "ISO-8859-4",
		"ISO-8859-5",  "ISO-8859-6",  "ISO-8859-7",  "ISO-8859-8",
		"ISO-8859-9",  "ISO-8859-10", "ISO-8859-13", "ISO-8859-14",
		"ISO-8859-15", "ISO-8859-16", "CP1250",	     "CP1251",
		"CP1252",      "CP1253",      "CP1254",	     "CP1255",
		"CP1256",      "CP1257",      "CP1258",	     "KOI8-R",
		"KOI8-U",      "ISO-2022-JP", "SHIFT_JIS",   "CP932",
		"EUC-JP",      "GB2312",      "GBK",	     "GB18030",
		"BIG5",	       "BIG5-HKSCS",  "EUC-KR",	     "CP949",
		"ISO-2022-KR", "EUC-TW",      "TIS-620",     "CP874",
		"UTF-7",       "UTF-16",      "UTF-16LE",    "UTF-16BE",
		"UTF-32",      "CP437",	      "CP850",	     "CP866",
		"MACINTOSH",   "ISO-2022-CN", "VISCII",	     "ARMSCII-8",
	};
	size_t i, n = 0;

	for (i = 0; i < sizeof(charsets) / sizeof(charsets[0]); i++) {
		/* Mail is converted to UTF-8, never from it. */
		iconv_t a = iconv_open("UTF-8", charsets[i]);

		if (a != (iconv_t)-1 && n < ICONV_KEPT)
			iconv_kept[n++] = a;
	}
}

/*
 * GMime is loaded on first use, and GLib registers its types then: a
 * small mail (a header, base64 and quoted-printable parts) through it,
 * from a memfd, before the filter.
 */
static void warm_up_mail(struct dw_scanner *s)
{
	static const char mail[] =
		"From: a@example.com\r\nSubject: =?UTF-8?B?aGk=?=\r\n"
		"Message-ID: <w@example.com>\r\nMIME-Version: 1.0\r\n"
		"Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n"
		"Content-Type: text/plain; charset=utf-8\r\n"
		"Content-Transfer-Encoding: quoted-printable\r\n\r\n"
		"key =3D AKIAIOSFODNN7EXAMPLE\r\n--b\r\n"
		"Content-Type: text/plain; name=k.txt\r\n"
		"Content-Transfer-Encoding: base64\r\n\r\n"
		"aGVsbG8K\r\n--b--\r\n";
	struct dw_source_opts o = {.max_file_size = 1 << 20};
	enum dw_scan_outcome out;
	int fd = memfd_create("warm-up.eml", MFD_CLOEXEC);

	if (fd < 0)
		return;
	if (write(fd, mail, sizeof(mail) - 1) == (ssize_t)sizeof(mail) - 1 &&
	    lseek(fd, 0, SEEK_SET) == 0)
		dw_scan_opened_file(s, fd, "warm-up.eml", "", &o, ignore_source,
				    NULL, &out);
	close(fd);
}

/*
 * Whatever the libraries set up on first use (OpenSSL's digest, which
 * reads its configuration; the engine's scratch), done before the
 * filter: a scan must need no system call but reading and memory.
 */
static void warm_up(struct dw_scanner *s)
{
	static const char text[] = "key = \"AKIAIOSFODNN7EXAMPLE\"\n"
				   "url = https://user:pa%73s@example.com/x\n"
				   "-----BEGIN RSA PRIVATE KEY-----\nMIIB\n"
				   "-----END RSA PRIVATE KEY-----\n"
				   /* HMAC (the jwt rule's check) */
				   "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9."
				   "eyJzdWIiOiJ3YXJtLXVwIn0.Lo5iDxJcYXRKWAJD"
				   "wyuFpwZNDORa_mM9-TUuWwvqGDI\n";
	char fp[72];

	static const char jline[] =
		"{\"log\":\"key = AKIAIOSFODNN7EXAMPLE\\n\",\"stream\":"
		"\"stdout\",\"time\":\"2026-01-01T00:00:00Z\"}";

	/* glibc's qsort asks the kernel for the memory size (sysinfo) the
	 * first time it sorts 1 KiB or more: the engine sorts its hits. */
	static struct {
		uint64_t a, b;
	} sortme[256];
	size_t i;

	for (i = 0; i < sizeof(sortme) / sizeof(sortme[0]); i++)
		sortme[i].a = (uint64_t)(i * 7919 % 256);
	qsort(sortme, sizeof(sortme) / sizeof(sortme[0]), sizeof(sortme[0]),
	      cmp_u64);
	dw_secret_fingerprint(fp, "warm-up", text, sizeof(text) - 1);
	dw_scan_buffer(s, text, sizeof(text) - 1, 1, ignore_finding, NULL);
	/* jansson seeds its hash tables from the kernel on first use. */
	{
		struct dw_log_join j;

		dw_log_join_init(&j);
		dw_scan_log_line(s, &j, DW_LOG_DOCKER_JSON, jline,
				 sizeof(jline) - 1, 1, 0, "", ignore_source,
				 NULL);
		dw_log_join_release(&j);
	}
	/* glibc reads the time zone on the first gmtime_r (Docker's local
	 * format has times to show); with TZ unset it looks at
	 * /etc/localtime again at each mktime (libarchive's, for a zip
	 * entry's date). Times here are UTC: a fixed zone reads no file. */
	setenv("TZ", "UTC0", 1);
	tzset();
	warm_up_iconv();
	warm_up_mail(s);
	/* libarchive and the compression libraries it brings. */
	dw_archive_load();
}

int dw_sandbox_is_child(int argc, char **argv)
{
	return argc >= 5 && argc <= 5 + SB_EXTRA_MAX &&
	       !strcmp(argv[1], SB_ARG);
}

int dw_sandbox_child_main(int argc, char **argv,
			  int (*build)(struct dw_engine **e, int argc,
				       char **argv))
{
	struct dw_engine *e = NULL;
	struct dw_scanner *s = NULL;
	struct sb_ready ready;
	char *end;
	long parent = strtol(argv[2], &end, 10);
	unsigned long uid = strtoul(argv[3], NULL, 10),
		      gid = strtoul(argv[4], NULL, 10);

	/* Dies with the daemon; and only its daemon may have started it. */
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (*end || getppid() != (pid_t)parent)
		_exit(1);
	/* Nothing but the socket: not even the daemon's stdio. */
	close(STDIN_FILENO);
	close(STDOUT_FILENO);
	close(STDERR_FILENO);
	if (build(&e, argc - 5, argv + 5) || dw_scanner_new(&s, e))
		_exit(1);
	warm_up(s);
	lie_engine = e;
	/* What building the rules took and gave back, to the kernel. */
	malloc_trim(0);
	if (drop_privileges((uid_t)uid, (gid_t)gid) || confine())
		_exit(1);
	iconv_confined = 1;
	/* Confined: only now is it fit to be given anything. */
	memset(&ready, 0, sizeof(ready));
	ready.type = SB_READY;
	snprintf(ready.digest, sizeof(ready.digest), "%s", dw_engine_digest(e));
	if (send_all(SB_FD, &ready, sizeof(ready)))
		_exit(1);
	for (;;) {
		static char msg[sizeof(struct sb_req) +
				sizeof(struct sb_lines) + SB_LINES_MAX +
				DW_REDACT_SCAN_MAX];
		char cbuf[CMSG_SPACE(sizeof(int))];
		struct sb_req r;
		struct iovec io = {msg, sizeof(msg)};
		struct msghdr mh = {0};
		struct cmsghdr *cm;
		int fd = -1;
		ssize_t n;

		mh.msg_iov = &io;
		mh.msg_iovlen = 1;
		mh.msg_control = cbuf;
		mh.msg_controllen = sizeof(cbuf);
		n = recvmsg(SB_FD, &mh, 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < (ssize_t)sizeof(r))
			_exit(0); /* the parent is gone, or talks nonsense */
		memcpy(&r, msg, sizeof(r));
		/* Nothing of the last request's findings carries over. */
		cur_docker = 0;
		cur_kind = 0;
		cur_fields[0] = '\0';
		if (r.op == SB_REDACT) {
			struct sb_done done = {SB_DONE, r.id, 0, 0, 0, 0, ""};

			cur_id = r.id;
			dw_scanner_set_budget(s, r.budget_ms);
			dw_scanner_redact_scan(s, msg + sizeof(r),
					       (size_t)n - sizeof(r),
					       child_finding, NULL);
			if (send_all(SB_FD, &done, sizeof(done)))
				_exit(1);
			continue;
		}
		if (r.op == SB_LINES) {
			child_lines(s, &r, msg + sizeof(r),
				    (size_t)n - sizeof(r));
			continue;
		}
		if (n != (ssize_t)sizeof(r) &&
		    !(r.op == SB_WHOLE &&
		      n == (ssize_t)(sizeof(r) + sizeof(struct sb_whole))) &&
		    !(r.op == SB_FRAMES &&
		      n == (ssize_t)(sizeof(r) + sizeof(struct sb_frames))))
			_exit(0);
		cm = CMSG_FIRSTHDR(&mh);
		if (cm && cm->cmsg_level == SOL_SOCKET &&
		    cm->cmsg_type == SCM_RIGHTS &&
		    cm->cmsg_len == CMSG_LEN(sizeof(int)))
			memcpy(&fd, CMSG_DATA(cm), sizeof(int));
		if (fd < 0)
			_exit(1);
		if (r.op == SB_WHOLE || r.op == SB_FRAMES) {
			/* What follows the request, its size checked above. */
			if (r.op == SB_WHOLE)
				child_whole(s, fd, &r, msg + sizeof(r));
			else
				child_frames(s, fd, &r, msg + sizeof(r));
			close(fd);
			continue;
		}
		if (r.op == SB_HOOK_SEGV)
			crash();
		if (r.op == SB_HOOK_FORBIDDEN)
			hook_forbidden();
		if (r.op == SB_HOOK_LIE)
			hook_lie(e, &r);
		if (r.op == SB_HOOK_SLOW)
			hook_slow();
		child_scan(s, fd, &r);
		close(fd);
	}
}

/* ---- the parent ---- */

/* A request id the scanner cannot guess (it may not answer ahead). */
static uint32_t new_id(void)
{
	uint32_t id = 0;

	if (getrandom(&id, sizeof(id), 0) != sizeof(id))
		id = (uint32_t)dw_mono_ms() ^ (uint32_t)getpid();
	return id;
}

/*
 * Before a request: nothing may be waiting from the scanner (an answer
 * nobody asked for is a scanner that is not believed).
 */
static int quiet(struct dw_sandbox *sb)
{
	char c;
	ssize_t n = recv(sb->fd, &c, 1, MSG_DONTWAIT | MSG_PEEK);

	return n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK);
}

static void stop_child_(struct dw_sandbox *sb, char *how, size_t n,
			int wait_exit);

/*
 * The scanner says it is confined, with the digest of the rules it built
 * (they must be ours: a finding names its rule by index), within 30 s
 * (building the rules takes over 10 s in a sanitizer build on a busy
 * machine), or it is not used.
 */
static int wait_ready(struct dw_sandbox *sb)
{
	struct pollfd p = {sb->fd, POLLIN, 0};
	struct sb_ready msg;
	char how[200] = "it did not answer";
	ssize_t n = -1;
	int pr;

	memset(&msg, 0, sizeof(msg));
	do
		pr = poll(&p, 1, 30000);
	while (pr < 0 && errno == EINTR);
	if (pr > 0)
		n = recv(sb->fd, &msg, sizeof(msg), MSG_DONTWAIT);
	if (n == (ssize_t)sizeof(msg) && msg.type == SB_READY &&
	    memchr(msg.digest, '\0', sizeof(msg.digest)) &&
	    !strcmp(msg.digest, dw_engine_digest(sb->engine)))
		return 0;
	if (n == (ssize_t)sizeof(msg) && msg.type == SB_READY)
		snprintf(how, sizeof(how), "its rules are not the daemon's");
	stop_child_(sb, how, sizeof(how), 1);
	return dw_error_set(DW_ERROR,
			    "scanner: could not confine itself (no "
			    "CAP_SETUID/CAP_SETGID, or no seccomp?): %s",
			    how);
}

/* Close every descriptor above `from` (close_range, else one by one). */
static void close_from(int from)
{
	long max = sysconf(_SC_OPEN_MAX), fd;

	if (!syscall(SYS_close_range, (unsigned)from, ~0U, 0))
		return;
	for (fd = from; fd < (max > 0 ? max : 65536); fd++)
		close((int)fd);
}

/*
 * Fork and exec the daemon's own program as the scanner: a new address
 * space, nothing of the daemon's memory (its store's mappings, webhook
 * URLs, other sources' secrets) and no descriptor but the socket.
 * Between fork and exec only async-signal-safe calls.
 */
static int start_child(struct dw_sandbox *sb)
{
	char ppid[24];
	int sv[2];
	pid_t pid;

	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv))
		return dw_error_errno(DW_ERROR, errno,
				      "scanner: cannot make a socketpair");
	snprintf(ppid, sizeof(ppid), "%ld", (long)getpid());
	free(sb->argv[2]);
	sb->argv[2] = dw_xstrdup(ppid);
	pid = fork();
	if (pid < 0) {
		close(sv[0]);
		close(sv[1]);
		return dw_error_errno(DW_ERROR, errno, "scanner: cannot fork");
	}
	if (pid == 0) {
		if (sv[1] == SB_FD) {
			/* dup2 onto itself would keep FD_CLOEXEC */
			if (fcntl(SB_FD, F_SETFD, 0))
				_exit(127);
		} else if (dup2(sv[1], SB_FD) < 0) {
			_exit(127);
		}
		close_from(SB_FD + 1);
		execv("/proc/self/exe", sb->argv);
		_exit(127);
	}
	close(sv[1]);
	{
		/*
		 * Room for a piece of log lines in one message: beyond
		 * net.core.wmem_max when we may (root), else what it
		 * allows, and pieces that fit (a message too large for the
		 * buffer is refused whole: nothing would be scanned).
		 */
		int size = 512 << 10, got = 0;
		socklen_t len = sizeof(got);

		if (setsockopt(sv[0], SOL_SOCKET, SO_SNDBUFFORCE, &size,
			       sizeof(size)))
			setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &size,
				   sizeof(size));
		sb->lines_max = SB_LINES_MAX;
		/* A message must fit in the buffer (less 32 bytes, and our
		 * headers); never less than the overlap of two pieces and
		 * 1 KiB, or no piece would move on (a send too large for
		 * the buffer fails, said as the scanner's failure). */
		if (!getsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &got, &len) &&
		    got > 0 && (size_t)got < SB_LINES_MAX + (2u << 10)) {
			size_t fit = (size_t)got > (2u << 10)
					     ? (size_t)got - (2u << 10)
					     : 0;

			sb->lines_max = fit > SB_LINES_OVERLAP + 1024
						? fit
						: SB_LINES_OVERLAP + 1024;
		}
	}
	sb->pid = pid;
	sb->fd = sv[0];
	sb->st.pid = pid;
	return wait_ready(sb);
}

/*
 * Kill and reap the scanner; `*how` says how it ended. `wait_exit`: it
 * hung up, give it a second to be reaped before calling it stuck.
 */
static void stop_child_(struct dw_sandbox *sb, char *how, size_t n,
			int wait_exit)
{
	int status = 0, tries;
	pid_t reaped = 0;

	if (sb->pid <= 0)
		return;
	close(sb->fd);
	sb->fd = -1;
	/* A scanner that died tells why (it may still be exiting: its
	 * socket closes first); a stuck one is killed. */
	for (tries = 0; tries < 100; tries++) {
		reaped = waitpid(sb->pid, &status, WNOHANG);
		if (reaped != 0 || !wait_exit)
			break;
		usleep(10000);
	}
	if (reaped == 0) {
		kill(sb->pid, SIGKILL);
		while (waitpid(sb->pid, &status, 0) < 0 && errno == EINTR)
			;
		if (how)
			snprintf(how, n, "it did not answer in time (killed)");
	} else if (how) {
		if (WIFSIGNALED(status))
			snprintf(how, n, "it was killed by signal %d (%s)%s",
				 WTERMSIG(status), strsignal(WTERMSIG(status)),
				 WTERMSIG(status) == SIGSYS
					 ? ": a system call its filter forbids"
					 : "");
		else
			snprintf(how, n, "it exited with status %d",
				 WEXITSTATUS(status));
	}
	sb->pid = 0;
	sb->st.pid = 0;
}

#define stop_child(sb, how, n) stop_child_(sb, how, n, 0)

int dw_sandbox_start(struct dw_sandbox **out, const struct dw_engine *e,
		     const char *user, const char *const *extra)
{
	/* Tests: DW_TEST_SANDBOX_HOOK=PREFIX NAME, the scanner misbehaves
	 * so on the input named NAME. */
	static const struct {
		const char *prefix;
		int op;
	} hooks[] = {
		{"segv:", SB_HOOK_SEGV},   {"forbidden:", SB_HOOK_FORBIDDEN},
		{"lie:", SB_HOOK_LIE},	   {"timeout:", SB_HOOK_TIMEOUT},
		{"stall:", SB_HOOK_STALL}, {"slow:", SB_HOOK_SLOW},
	};
	struct dw_sandbox *sb;
#ifdef DW_TEST_HOOKS
	const char *hook = getenv("DW_TEST_SANDBOX_HOOK");
#else
	const char *hook = NULL;
#endif
	struct passwd *pw = getpwnam(user ? user : "driftwatch");
	char num[24];
	size_t i;
	int err;

	if (!pw && !user)
		pw = getpwnam("nobody");
	if (!pw || !pw->pw_uid || !pw->pw_gid)
		return dw_error_set(DW_ERROR,
				    "scanner: no unprivileged user %s to run "
				    "as (uid and gid other than 0)",
				    user ? user : "driftwatch or nobody");
	if (getuid() && geteuid())
		return dw_error_set(DW_EUNSUPPORTED,
				    "scanner: not root, so no other user to "
				    "become");
	sb = dw_xcalloc(1, sizeof(*sb));
	sb->lines_max = SB_LINES_MAX;
	sb->engine = e;
	sb->fd = -1;
	sb->uid = pw->pw_uid;
	sb->gid = pw->pw_gid;
	sb->argv[0] = dw_xstrdup("driftwatchd-scanner");
	sb->argv[1] = dw_xstrdup(SB_ARG);
	sb->argv[2] = dw_xstrdup("0"); /* our pid, set at each start */
	snprintf(num, sizeof(num), "%lu", (unsigned long)sb->uid);
	sb->argv[3] = dw_xstrdup(num);
	snprintf(num, sizeof(num), "%lu", (unsigned long)sb->gid);
	sb->argv[4] = dw_xstrdup(num);
	for (i = 0; extra && extra[i] && i < SB_EXTRA_MAX; i++)
		sb->argv[5 + i] = dw_xstrdup(extra[i]);
	for (i = 0; hook && i < sizeof(hooks) / sizeof(hooks[0]); i++) {
		size_t n = strlen(hooks[i].prefix);

		if (!strncmp(hook, hooks[i].prefix, n)) {
			sb->hook_op = hooks[i].op;
			sb->hook_name = dw_xstrdup(hook + n);
			break;
		}
	}
	err = start_child(sb);
	if (err) {
		dw_sandbox_free(sb);
		return err;
	}
	*out = sb;
	return 0;
}

void dw_sandbox_free(struct dw_sandbox *sb)
{
	size_t i;

	if (!sb)
		return;
	stop_child(sb, NULL, 0);
	for (i = 0; i < sizeof(sb->argv) / sizeof(sb->argv[0]); i++)
		free(sb->argv[i]);
	free(sb->hook_name);
	free(sb);
}

void dw_sandbox_stats(const struct dw_sandbox *sb, struct dw_sandbox_stats *st)
{
	*st = sb->st;
}

/*
 * The fields the scanner sent: NUL-terminated "key=value\n" lines, each
 * key one of sb_keys[], each value printable ASCII.
 */
static int fields_ok(const char *v, size_t n)
{
	const char *end = memchr(v, '\0', n), *p = v;

	if (!end)
		return 0;
	while (p < end) {
		const char *eq = memchr(p, '=', (size_t)(end - p)), *q;
		size_t k, known = 0;

		if (!eq)
			return 0;
		for (k = 0; k < sizeof(sb_keys) / sizeof(sb_keys[0]); k++)
			known |= strlen(sb_keys[k]) == (size_t)(eq - p) &&
				 !memcmp(p, sb_keys[k], (size_t)(eq - p));
		if (!known)
			return 0;
		for (q = eq + 1; q < end && *q != '\n'; q++)
			if (*q < 0x20 || *q > 0x7e)
				return 0;
		if (q == end)
			return 0; /* each line ends with a newline */
		p = q + 1;
	}
	return 1;
}

/* Those fields as a JSON object (NULL when there are none). */
static json_t *fields_json(const char *v)
{
	json_t *o = NULL;

	while (*v) {
		const char *eq = strchr(v, '='), *nl = strchr(eq, '\n');
		char key[32];

		snprintf(key, sizeof(key), "%.*s", (int)(eq - v), v);
		if (!o)
			o = json_object();
		json_object_set_new(
			o, key, json_stringn(eq + 1, (size_t)(nl - eq - 1)));
		v = nl + 1;
	}
	return o;
}

/* "sha256:" and 64 lowercase hex digits, NUL-terminated. */
static int fingerprint_ok(const char *fp)
{
	size_t i;

	if (strncmp(fp, "sha256:", 7))
		return 0;
	for (i = 7; i < 71; i++)
		if (!((fp[i] >= '0' && fp[i] <= '9') ||
		      (fp[i] >= 'a' && fp[i] <= 'f')))
			return 0;
	return fp[71] == '\0';
}

/*
 * One reply of the scanner, `n` bytes in `buf`: a well-formed finding of
 * request `id` (its rule one of ours, its secret there and no longer
 * than allowed, its fields printable)? Then 0, and `h`, `f` are filled
 * (f->secret points into `buf`).
 */
static int take_finding(const struct dw_sandbox *sb, const char *buf, ssize_t n,
			uint32_t id, struct sb_finding *h, struct dw_finding *f)
{
	const struct dw_rule_info *rules;
	size_t nrules = dw_engine_rules(sb->engine, &rules);

	if (n < (ssize_t)sizeof(*h))
		return -1;
	memcpy(h, buf, sizeof(*h));
	if (h->type != SB_FINDING || h->id != id ||
	    h->secret_len > SB_SECRET_MAX || !h->secret_len ||
	    (size_t)n != sizeof(*h) + h->secret_len ||
	    h->rule_index >= nrules || !fingerprint_ok(h->fingerprint) ||
	    h->kind >= sizeof(sb_kinds) / sizeof(sb_kinds[0]) ||
	    !fields_ok(h->fields, sizeof(h->fields)))
		return -1;
	memset(f, 0, sizeof(*f));
	f->rule = &rules[h->rule_index];
	f->rule_index = (size_t)h->rule_index;
	f->secret = buf + sizeof(*h);
	f->secret_len = h->secret_len;
	f->line = h->line;
	f->column = h->column;
	f->offset = h->offset;
	f->url_decoded = h->url_decoded != 0;
	memcpy(f->fingerprint, h->fingerprint, sizeof(f->fingerprint));
	return 0;
}

/* %XX decoded as the engine decodes a line (its url_decode_line). */
static void pct_decode(struct dw_buf *out, const char *p, size_t n)
{
	size_t i;

	dw_buf_adds(out, "");
	for (i = 0; i < n; i++) {
		unsigned long c = (unsigned char)p[i];

		if (c == '%' && i + 2 < n &&
		    isxdigit((unsigned char)p[i + 1]) &&
		    isxdigit((unsigned char)p[i + 2])) {
			char hx[3] = {p[i + 1], p[i + 2], 0};

			c = (unsigned long)strtol(hx, NULL, 16);
			i += 2;
		}
		dw_buf_addch(out, (int)c);
	}
}

/* Its fingerprint is its own (a secret cut at SB_SECRET_MAX: unknown). */
static int fingerprint_matches(const struct dw_finding *f, int cut)
{
	char fp[72];

	if (cut)
		return 1;
	dw_secret_fingerprint(fp, f->rule->id, f->secret, f->secret_len);
	return !strcmp(fp, f->fingerprint);
}

/*
 * Does p[0..n) start with the finding's secret: as it is, or %-decoded
 * when it was found so? (Each decoded byte takes at most 3 raw ones.)
 */
static int secret_at(const char *p, size_t n, const struct dw_finding *f)
{
	struct dw_buf d = DW_BUF_INIT;
	size_t w = f->url_decoded ? 3 * f->secret_len : f->secret_len;
	int yes;

	if (!f->url_decoded)
		return n >= f->secret_len &&
		       !memcmp(p, f->secret, f->secret_len);
	pct_decode(&d, p, w < n ? w : n);
	yes = d.len >= f->secret_len &&
	      !memcmp(d.ptr, f->secret, f->secret_len);
	dw_buf_release(&d);
	return yes;
}

/*
 * Is the finding's secret really in the file at its offset? Raw: the
 * bytes themselves; found %-decoded: the bytes from there, decoded as
 * the engine decodes. The fingerprint is recomputed too. A scanner can
 * still leave things out; it cannot make them up.
 */
static int verify(int fd, const struct dw_finding *f, int cut)
{
	size_t w = f->url_decoded ? 3 * f->secret_len : f->secret_len;
	char *raw;
	ssize_t n;
	int yes;

	if (!fingerprint_matches(f, cut))
		return -1;
	raw = dw_xmalloc(w);
	n = pread(fd, raw, w, (off_t)f->offset);
	yes = n > 0 && secret_at(raw, (size_t)n, f);
	free(raw);
	return yes ? 0 : -1;
}

/*
 * The scanner's next reply to request `id` into `buf`, by `deadline`:
 * SB_DONE (`*done` filled) returns 1; any other message 0, its length in
 * `*n`; a hang-up or the deadline -1, the scanner stopped and `how` says
 * why.
 */
static int next_reply(struct dw_sandbox *sb, char *buf, long long deadline,
		      uint32_t id, struct sb_done *done, ssize_t *n, char *how,
		      size_t hn)
{
	for (;;) {
		struct pollfd p = {sb->fd, POLLIN, 0};
		long long left = deadline - dw_mono_ms();
		int pr;

		if (left <= 0) {
			stop_child(sb, how, hn);
			sb->stuck = 1;
			return -1;
		}
		pr = poll(&p, 1, (int)(left > 1000 ? 1000 : left));
		if (pr <= 0)
			continue;
		*n = recv(sb->fd, buf,
			  sizeof(struct sb_finding) + SB_SECRET_MAX, MSG_TRUNC);
		if (*n < 0 && errno == EINTR)
			continue;
		if (*n <= 0) { /* hung up: it died */
			stop_child_(sb, how, hn, 1);
			return -1;
		}
		if (*n == (ssize_t)sizeof(*done)) {
			memcpy(done, buf, sizeof(*done));
			if (done->type == SB_DONE && done->id == id)
				return 1;
		}
		return 0;
	}
}

/* A finding held until the scanner is done with its input. */
struct held {
	struct dw_finding f; /* its secret: a copy, ours */
	uint32_t kind;
	char fields[SB_FIELDS_MAX];
};

struct held_list {
	struct held *v;
	size_t n, alloc;
};

static void held_release(struct held_list *l)
{
	size_t i;

	for (i = 0; i < l->n; i++) {
		explicit_bzero((void *)l->v[i].f.secret, l->v[i].f.secret_len);
		free((void *)l->v[i].f.secret);
	}
	free(l->v);
	memset(l, 0, sizeof(*l));
}

/*
 * One attempt at file `fd`: SB_SCAN, or with `extra` (SB_WHOLE,
 * SB_FRAMES: what follows the request): 0 done (`*done` is the
 * scanner's last word), 1 the scanner failed (`how` says why).
 * A plain-text finding is believed only where it is in the file; one of
 * a decoded source (gzip, mail, a Docker log, Slack) only with its own
 * fingerprint (the scanner could still make such a one up, never hide
 * what it did not find: see sandbox.h).
 */
static int attempt(struct dw_sandbox *sb, int fd, const struct sb_req *r,
		   const void *extra, size_t extra_len, uint32_t kinds,
		   struct held_list *held, struct sb_done *done, char *how,
		   size_t hn)
{
	char cbuf[CMSG_SPACE(sizeof(int))], *buf;
	const int w = extra_len != 0;
	struct iovec io[2] = {{(void *)r, sizeof(*r)},
			      {(void *)extra, extra_len}};
	struct msghdr mh = {0};
	struct cmsghdr *cm;
	long long deadline;
	/* A piece of a log can be full of tokens; a file, less so. */
	size_t max = r->op == SB_FRAMES ? SB_LINES_FINDINGS_MAX
		     : r->op == SB_WHOLE &&
				     extra_len == sizeof(struct sb_whole) &&
				     ((const struct sb_whole *)extra)->image
			     ? SB_IMAGE_FINDINGS_MAX
			     : SB_FINDINGS_MAX;
	ssize_t n;

	memset(cbuf, 0, sizeof(cbuf));
	mh.msg_iov = io;
	mh.msg_iovlen = w ? 2 : 1;
	mh.msg_control = cbuf;
	mh.msg_controllen = sizeof(cbuf);
	cm = CMSG_FIRSTHDR(&mh);
	cm->cmsg_level = SOL_SOCKET;
	cm->cmsg_type = SCM_RIGHTS;
	cm->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(cm), &fd, sizeof(int));
	do
		n = quiet(sb)
			    ? sendmsg(sb->fd, &mh, MSG_NOSIGNAL | MSG_DONTWAIT)
			    : (errno = EPROTO, -1);
	while (n < 0 && errno == EINTR);
	if (n != (ssize_t)(sizeof(*r) + extra_len)) {
		stop_child(sb, how, hn);
		return 1;
	}
	deadline = dw_mono_ms() + (r->budget_ms > 0 ? r->budget_ms : 60000) +
		   SB_SLACK_MS;
	buf = dw_xmalloc(sizeof(struct sb_finding) + SB_SECRET_MAX);
	for (;;) {
		struct sb_finding h;
		struct sb_done d;
		struct dw_finding f;
		int got = next_reply(sb, buf, deadline, r->id, &d, &n, how, hn),
		    cut;

		if (got < 0)
			break;
		if (got) {
			*done = d;
			free(buf);
			return 0;
		}
		/* Anything but a well-formed finding of this file, whose
		 * secret is in the file: the scanner is not believed. */
		if (take_finding(sb, buf, n, r->id, &h, &f) ||
		    !(kinds & (1u << h.kind)) || (!w && h.fields[0])) {
			stop_child(sb, how, hn);
			snprintf(how, hn, "it sent an answer that is not one");
			break;
		}
		/* One more than it may bring: those it brought are kept
		 * (each was checked), the rest of the file is not read. */
		if (held->n >= max) {
			stop_child(sb, how, hn);
			snprintf(how, hn,
				 "the scanner reported more than %zu findings "
				 "in it and is believed no further",
				 max);
			free(buf);
			return 2;
		}
		cut = h.secret_len == SB_SECRET_MAX;
		/* Plain text: at its offset. Decoded: its own fingerprint,
		 * whole (a cut secret of decoded content is not believed). */
		f.unverified = h.kind > SB_KIND_FILE;
		if (f.unverified ? cut || !fingerprint_matches(&f, 0)
				 : verify(fd, &f, cut) != 0) {
			stop_child(sb, how, hn);
			snprintf(how, hn,
				 "it reported a secret that is not in the file "
				 "(or the file changed meanwhile)");
			break;
		}
		/* Told once the scanner is done: a caller may use it again
		 * (to redact) from its callback. */
		DW_ALLOC_GROW(held->v, held->n + 1, held->alloc);
		held->v[held->n].f = f;
		held->v[held->n].f.secret = memcpy(dw_xmalloc(f.secret_len),
						   f.secret, f.secret_len);
		held->v[held->n].kind = h.kind;
		memcpy(held->v[held->n].fields, h.fields, sizeof(h.fields));
		held->n++;
	}
	free(buf);
	return 1;
}

/*
 * File `fd` in the scanner, tried twice (a death may be the scanner's
 * own: its CPU rlimit): 0 and the findings it holds in `held`, or
 * DW_ELIMIT (DW_ERROR: no scanner could be started). With `partial`,
 * a file that brought more findings than it may is scanned in part:
 * DW_EIO, `*partial` set, the findings up to there in `held` (without,
 * DW_ELIMIT and none). Not tried again: the same file brings as many.
 */
static int scan_file(struct dw_sandbox *sb, int fd, struct sb_req *r,
		     const void *extra, size_t extra_len, uint32_t kinds,
		     struct held_list *held, struct sb_done *done, int *partial)
{
	char how[300] = "";
	int tries, rc;

	memset(done, 0, sizeof(*done));
	for (tries = 0; tries < 2; tries++) {
		r->id = new_id();
		if (!sb->pid && start_child(sb))
			return DW_ERROR;
		/* A new try reads the file from its start. */
		if (extra_len && lseek(fd, 0, SEEK_SET) < 0)
			return dw_error_errno(DW_EIO, errno, "cannot rewind");
		sb->stuck = 0;
		rc = attempt(sb, fd, r, extra, extra_len, kinds, held, done,
			     how, sizeof(how));
		if (!rc)
			return 0;
		sb->st.restarts++;
		if (rc == 2 && partial) {
			*partial = 1;
			if (!sb->pid)
				start_child(sb);
			return dw_error_set(
				DW_EIO,
				"scanned in part: %s: the first %zu "
				"are reported, the rest of it was "
				"not scanned",
				how, held->n);
		}
		held_release(held);
		if (rc == 2)
			break;
		/* An input it is stuck on gets no second try: that would
		 * hold the daemon up as long again. */
		if (sb->stuck)
			break;
	}
	sb->st.killed++;
	if (!sb->pid)
		start_child(sb);
	return dw_error_set(DW_ELIMIT, "the scanner failed on it%s: %s",
			    sb->stuck || tries == 0 ? "" : " twice", how);
}

/* The bit of source kind `name` in a request's mask of sb_kinds[]. */
static uint32_t kind_bit(const char *name)
{
	size_t k;

	for (k = 1; k < sizeof(sb_kinds) / sizeof(sb_kinds[0]); k++)
		if (!strcmp(sb_kinds[k], name))
			return 1u << k;
	return 0;
}

/*
 * The sources a whole file's findings may have, by its name (as the
 * scanner chooses its decoder): a .gz is gzip, never plain text whose
 * findings are checked by offset, and so on. Mail that is not is read
 * as a file; a file that starts "From " may be an mbox.
 */
static uint32_t whole_kinds(int fd, const char *path, int slack)
{
	const char *d = dw_scan_decoder(path);
	uint32_t k = kind_bit(d);
	char head[5];

	if (slack)
		return kind_bit(DW_SOURCE_SLACK) | kind_bit(DW_SOURCE_FILE);
	if (!strcmp(d, DW_SOURCE_MAIL))
		k |= kind_bit(DW_SOURCE_FILE);
	/* What is an archive by its bytes is read as one, whatever its
	 * name (its findings are checked by their fingerprint). */
	{
		char magic[512];
		ssize_t n = pread(fd, magic, sizeof(magic), 0);

		if (n > 0 && dw_archive_magic(magic, (size_t)n))
			k |= kind_bit(DW_SOURCE_ARCHIVE);
	}
	if (!strcmp(d, DW_SOURCE_FILE) && pread(fd, head, 5, 0) == 5 &&
	    !memcmp(head, "From ", 5))
		k |= kind_bit(DW_SOURCE_MAIL);
	return k;
}

/* The findings held, each with its source, unless `err`; released. */
static void tell_held(struct held_list *held, int err, const char *path,
		      const char *kind, dw_source_cb cb, void *ctx)
{
	size_t i;

	for (i = 0; !err && i < held->n; i++) {
		json_t *fields = fields_json(held->v[i].fields);
		struct dw_source src = {path, sb_kinds[held->v[i].kind],
					fields};

		if (!held->v[i].kind)
			src.kind = kind;
		cb(&held->v[i].f, &src, ctx);
		json_decref(fields);
	}
	held_release(held);
}

static int hooked(const struct dw_sandbox *sb, const char *name)
{
	return sb->hook_op && name && sb->hook_name &&
	       !strcmp(name, sb->hook_name);
}

int dw_sandbox_scan_fd(struct dw_sandbox *sb, int fd, uint64_t max,
		       long long budget_ms, const char *name, int *timed_out,
		       dw_finding_cb cb, void *ctx)
{
	struct sb_req r = {SB_SCAN, 0, max, budget_ms, ""};
	struct held_list held = {NULL, 0, 0};
	struct sb_done d;
	size_t i;
	int err, partial = 0;
	char why[400];

	/* (a longer name is no file name: none) */
	if (name && strlen(name) < sizeof(r.name))
		memcpy(r.name, name, strlen(name) + 1);

	if (hooked(sb, name))
		r.op = (uint32_t)sb->hook_op;
	err = scan_file(sb, fd, &r, NULL, 0, 1u << 0, &held, &d, &partial);
	*timed_out = !err && d.timed_out;
	/* (what it says, kept: a callback may set an error of its own) */
	if (partial)
		snprintf(why, sizeof(why), "%s", dw_error_last());
	for (i = 0; (!err || partial) && i < held.n; i++)
		cb(&held.v[i].f, ctx);
	held_release(&held);
	if (partial)
		dw_error_set(err, "%s", why);
	return err;
}

static int scan_whole(struct dw_sandbox *sb, int fd, const char *path,
		      const char *slack_channel, int image, uint64_t max,
		      long long budget_ms, enum dw_scan_outcome *outcome,
		      dw_source_cb cb, void *ctx)
{
	struct sb_req r = {SB_WHOLE, 0, max, budget_ms, ""};
	struct held_list held = {NULL, 0, 0};
	struct sb_whole *w = dw_xcalloc(1, sizeof(*w));
	const char *base = strrchr(path, '/');
	struct sb_done d;
	uint32_t out;
	int err, partial = 0;
	char why[400];

	w->slack = slack_channel != NULL;
	w->image = image != 0;
	/* The decoder is chosen by the name's end (and for the local
	 * format, its directory): the last 1 KiB says it. */
	snprintf(w->path, sizeof(w->path), "%s",
		 strlen(path) < sizeof(w->path)
			 ? path
			 : path + strlen(path) - (sizeof(w->path) - 1));
	snprintf(w->channel, sizeof(w->channel), "%s",
		 slack_channel ? slack_channel : "");
	if (hooked(sb, base ? base + 1 : path))
		w->hook = (uint32_t)sb->hook_op;
	err = scan_file(sb, fd, &r, w, sizeof(*w),
			image ? kind_bit(DW_SOURCE_IMAGE) |
					kind_bit(DW_SOURCE_ARCHIVE)
			      : whole_kinds(fd, path, (int)w->slack),
			&held, &d, &partial);
	free(w);
	out = d.outcome;
	*outcome = d.timed_out		  ? DW_SCAN_TIMED_OUT
		   : out == SB_OUT_BINARY ? DW_SCAN_SKIPPED_BINARY
					  : DW_SCAN_DONE;
	if (partial) /* (what it says, kept: a callback may set its own) */
		snprintf(why, sizeof(why), "%s", dw_error_last());
	tell_held(&held, err && !partial, path, DW_SOURCE_FILE, cb, ctx);
	if (partial)
		return dw_error_set(DW_EIO, "%s: %s", path, why);
	if (!err && out == SB_OUT_MALFORMED) {
		/* The scanner's word, shown as such: printable, cut. */
		d.why[sizeof(d.why) - 1] = '\0';
		printable(d.why);
		err = dw_error_set(DW_EIO,
				   "%s could not be decoded whole (the scanner "
				   "says: %s); what was decoded was scanned",
				   path, d.why[0] ? d.why : "no reason");
	}
	return err;
}

int dw_sandbox_scan_whole(struct dw_sandbox *sb, int fd, const char *path,
			  const char *slack_channel, uint64_t max,
			  long long budget_ms, enum dw_scan_outcome *outcome,
			  dw_source_cb cb, void *ctx)
{
	return scan_whole(sb, fd, path, slack_channel, 0, max, budget_ms,
			  outcome, cb, ctx);
}

int dw_sandbox_scan_image(struct dw_sandbox *sb, int fd, const char *display,
			  long long budget_ms, dw_source_cb cb, void *ctx)
{
	enum dw_scan_outcome out;
	int err = scan_whole(sb, fd, display, NULL, 1, 0, budget_ms, &out, cb,
			     ctx);

	if (!err && out == DW_SCAN_TIMED_OUT)
		err = dw_error_set(DW_EIO,
				   "%s: scanned only in part: the time budget "
				   "(%lld s) ran out",
				   display, budget_ms / 1000);
	return err;
}

/* The frames in data[0..len) up to byte `upto`: how many, or -1 when
 * `upto` is not where one ends. */
size_t dw_frames_complete(const char *data, size_t len, uint64_t *count)
{
	size_t pos = 0;

	*count = 0;
	while (len - pos >= 8 && frame_len(data + pos) <= len - pos) {
		pos += (size_t)frame_len(data + pos);
		(*count)++;
	}
	return pos;
}

/* The frames in data[0..len) up to byte `upto`: how many, or -1 when
 * `upto` is not where one ends. */
static long long frames_upto(const char *data, size_t len, uint64_t upto)
{
	uint64_t n;

	if (upto > len || dw_frames_complete(data, (size_t)upto, &n) != upto)
		return -1;
	return (long long)n;
}

int dw_sandbox_scan_frames(struct dw_sandbox *sb, const char *data, size_t len,
			   const char *path, uint64_t entries,
			   struct dw_frames_result *res, dw_source_cb cb,
			   void *ctx)
{
	struct sb_req r = {SB_FRAMES, 0, 0, SCAN_LINES_BUDGET_MS, ""};
	struct sb_frames fr = {entries, 0, 0};
	struct held_list held = {NULL, 0, 0};
	struct sb_done d;
	long long n;
	int fd, err;

	memset(res, 0, sizeof(*res));
	if (len > SB_FRAMES_MAX)
		len = SB_FRAMES_MAX; /* the rest comes next time */
	r.max = len;
	/* A memfd of its own each time: a scanner that keeps it learns
	 * nothing it was not given. */
	fd = memfd_create("driftwatch-frames", MFD_CLOEXEC);
	if (fd < 0)
		return dw_error_errno(DW_ERROR, errno, "memfd_create");
	if (dw_write_all(fd, data, len)) {
		err = dw_error_errno(DW_ERROR, errno, "memfd write");
		close(fd);
		return err;
	}
	if (sb->hook_op == SB_HOOK_SEGV && sb->hook_name &&
	    memmem(data, len, sb->hook_name, strlen(sb->hook_name)))
		fr.hook = 1;
	err = scan_file(sb, fd, &r, &fr, sizeof(fr),
			kind_bit(DW_SOURCE_DOCKER_LOCAL_LOG), &held, &d, NULL);
	close(fd);
	/* Where it says the lines end must be where a frame ends. */
	n = err ? 0 : frames_upto(data, len, d.consumed);
	if (!err && n < 0) {
		stop_child(sb, NULL, 0);
		sb->st.restarts++;
		held_release(&held);
		return dw_error_set(DW_ELIMIT,
				    "the scanner said the frames end where "
				    "none does");
	}
	tell_held(&held, err, path, DW_SOURCE_DOCKER_LOCAL_LOG, cb, ctx);
	if (err)
		return err;
	res->consumed = (size_t)d.consumed;
	res->entries = (uint64_t)n;
	res->given = len;
	res->corrupt = d.outcome == SB_OUT_MALFORMED;
	res->timed_out = d.timed_out != 0;
	return 0;
}

int dw_sandbox_redact_text(struct dw_sandbox *sb, const char *text, size_t len,
			   const struct dw_finding *also, struct dw_buf *out)
{
	size_t sent = len < DW_REDACT_SCAN_MAX ? len : DW_REDACT_SCAN_MAX;
	char *msg = dw_xmalloc(sizeof(struct sb_req) + sent), *buf = NULL;
	struct sb_req r = {SB_REDACT, 0, sent, SCAN_LINES_BUDGET_MS, ""};
	struct dw_redact_span *v = NULL;
	size_t nv = 0, alloc = 0, i;
	char how[200] = "";
	long long deadline;
	int decoded = 0, ok = 0, n_out;
	ssize_t n;

	if (!sb->pid && start_child(sb))
		goto out;
	r.id = new_id();
	memcpy(msg, &r, sizeof(r));
	memcpy(msg + sizeof(r), text, sent);
	do
		n = quiet(sb) ? send(sb->fd, msg, sizeof(r) + sent,
				     MSG_NOSIGNAL | MSG_DONTWAIT)
			      : (errno = EPROTO, -1);
	while (n < 0 && errno == EINTR);
	if (n != (ssize_t)(sizeof(r) + sent))
		goto out;
	buf = dw_xmalloc(sizeof(struct sb_finding) + SB_SECRET_MAX);
	deadline = dw_mono_ms() + SB_SLACK_MS;
	for (;;) {
		struct sb_finding h;
		struct sb_done d;
		struct dw_finding f;
		int got = next_reply(sb, buf, deadline, r.id, &d, &n, how,
				     sizeof(how));

		if (got) {
			ok = got > 0;
			break;
		}
		/* Only a secret that is in the text is believed. */
		if (take_finding(sb, buf, n, r.id, &h, &f))
			break;
		/* Seen only decoded, or too many: hidden whole. */
		if (h.url_decoded || nv > 64) {
			decoded = 1;
			continue;
		}
		if (h.offset > sent || h.secret_len > sent - h.offset ||
		    memcmp(text + h.offset, buf + sizeof(h), h.secret_len))
			break;
		DW_ALLOC_GROW(v, nv + 1, alloc);
		v[nv++] = (struct dw_redact_span){text + h.offset, h.secret_len,
						  (size_t)h.rule_index};
	}
out:
	free(msg);
	free(buf);
	if (!ok) {
		/* Whatever went wrong: hidden whole, and a new scanner. */
		stop_child(sb, how, sizeof(how));
		sb->st.restarts++;
		free(v);
		dw_buf_adds(out, "…");
		return dw_error_set(DW_ERROR,
				    "the scanner failed on a name to redact "
				    "(shown as …): %s",
				    how[0] ? how : "it did not answer");
	}
	n_out = dw_redact_apply(sb->engine, text, len, v, nv, decoded, also,
				out);
	for (i = 0; i < nv; i++)
		v[i].secret = NULL;
	free(v);
	return n_out;
}

/* The secret in text `u` (or %-decoded, if it says); `u` released. */
static int text_has(const struct dw_buf *u, const struct dw_finding *f)
{
	struct dw_buf d = DW_BUF_INIT;
	int yes = u->len && memmem(u->ptr, u->len, f->secret, f->secret_len);

	if (!yes && f->url_decoded && u->len) {
		pct_decode(&d, u->ptr, u->len);
		yes = d.len && memmem(d.ptr, d.len, f->secret, f->secret_len);
	}
	dw_buf_release(&d);
	return yes;
}

static int in_text(struct dw_buf *u, const struct dw_finding *f)
{
	int yes = text_has(u, f);

	dw_buf_release(u);
	return yes;
}

/* The secret in the JSON-unescaped line (and %-decoded, if it says). */
static int in_decoded(const char *line, size_t n, const struct dw_finding *f)
{
	struct dw_buf u = DW_BUF_INIT;

	dw_json_unescape(line, n, &u);
	return in_text(&u, f);
}

/* data[off, off + n) is one whole line of data[0..len): its bytes. */
static const char *whole_line(const char *data, size_t len, uint64_t off,
			      uint64_t n)
{
	const char *line;

	if (off >= len || n > len - off || !n)
		return NULL;
	line = data + off;
	if ((off && line[-1] != '\n') || memchr(line, '\n', (size_t)n) ||
	    (off + n < len && line[n] != '\n'))
		return NULL;
	return line;
}

/*
 * A join the scanner names: the piece before is one that more follows,
 * the line is of the same stream, and no line of that stream is between
 * them (both whole lines, the first before the second: checked).
 */
static int joined_pieces(const char *data, int format,
			 const struct sb_finding *h)
{
	enum dw_log_format fmt = (enum dw_log_format)format;
	size_t at = (size_t)(h->line2_off + h->line2_len) + 1,
	       end = (size_t)h->line_off;
	int o2, o1;

	if (dw_log_line_peek(fmt, data + h->line2_off, (size_t)h->line2_len,
			     &o2) != 1 ||
	    dw_log_line_peek(fmt, data + h->line_off, (size_t)h->line_len,
			     &o1) < 0 ||
	    o1 != o2)
		return 0;
	while (at < end) {
		const char *nl = memchr(data + at, '\n', end - at);
		size_t n = nl ? (size_t)(nl - data) - at : end - at;
		int o;

		if (dw_log_line_peek(fmt, data + at, n, &o) >= 0 && o == o2)
			return 0;
		at += n + 1;
	}
	return 1;
}

/*
 * Lines found together: the first is a whole line of the format, the
 * last one of its stream after it (a whole line, or the first piece of a
 * line: a key's END line printed without its newline); the texts of the
 * lines of that stream from the first to the last, each ending with a
 * newline (as the scanner process keeps them: container_log.c). Built
 * once for the findings that name the same lines (`c`).
 */
struct stream_cache {
	uint64_t off2, len2, off, len;
	int built, ok;
	struct dw_buf t;
};

static int stream_text(const char *data, size_t len, int format,
		       const struct sb_finding *h, struct stream_cache *c)
{
	enum dw_log_format fmt = (enum dw_log_format)format;
	size_t at = (size_t)h->line2_off, end;
	int o1, o2, last;

	if (c->built && c->off2 == h->line2_off && c->len2 == h->line2_len &&
	    c->off == h->line_off && c->len == h->line_len)
		return c->ok ? 0 : -1;
	c->built = 1;
	c->ok = 0;
	c->off2 = h->line2_off;
	c->len2 = h->line2_len;
	c->off = h->line_off;
	c->len = h->line_len;
	dw_buf_reset(&c->t);
	if (!whole_line(data, len, h->line2_off, h->line2_len) ||
	    !whole_line(data, len, h->line_off, h->line_len) ||
	    h->line2_off >= h->line_off ||
	    dw_log_line_peek(fmt, data + h->line2_off, (size_t)h->line2_len,
			     &o1) != 0 ||
	    (last = dw_log_line_peek(fmt, data + h->line_off,
				     (size_t)h->line_len, &o2)) < 0 ||
	    last > 1 || o1 != o2)
		return -1;
	end = (size_t)(h->line_off + h->line_len);
	while (at < end) {
		const char *nl = memchr(data + at, '\n', end - at);
		size_t n = nl ? (size_t)(nl - data) - at : end - at,
		       before = c->t.len;
		int o;

		if (dw_log_line_peek(fmt, data + at, n, &o) >= 0 && o == o1) {
			if (dw_log_line_text(fmt, data + at, n, &c->t))
				return -1;
			if (c->t.len == before ||
			    c->t.ptr[c->t.len - 1] != '\n')
				dw_buf_addch(&c->t, '\n');
		}
		at += n + 1;
	}
	c->ok = 1;
	return 0;
}

/*
 * Is the finding's secret in the data? Plain text: at its offset,
 * %-decoded there when it says so. A json-file or CRI line: in the one
 * raw line the scanner names (which must be a whole line), as it is or
 * with JSON's string escapes undone (and %-escapes, if it says); a
 * secret across the cut of a long line: in the text of the two raw
 * lines it names, the piece before first, joined; one in a stream's
 * lines together: in their texts (stream_text()). A secret cut at
 * SB_SECRET_MAX: its first part.
 */
static int lines_verify(const char *data, size_t len, int format,
			const struct sb_finding *h, const struct dw_finding *f,
			int cut, struct stream_cache *c)
{
	const char *line, *before;
	struct dw_buf t = DW_BUF_INIT;

	if (!fingerprint_matches(f, cut))
		return -1;
	if (format == DW_LOG_PLAIN)
		return !h->docker && !h->line2_len && f->offset < len &&
				       secret_at(data + f->offset,
						 len - (size_t)f->offset, f)
			       ? 0
			       : -1;
	if (h->lines) {
		if (h->docker != 1 || stream_text(data, len, format, h, c))
			return -1;
		return text_has(&c->t, f) ? 0 : -1;
	}
	if (!(line = whole_line(data, len, h->line_off, h->line_len)))
		return -1;
	if (!h->line2_len) {
		if (memmem(line, (size_t)h->line_len, f->secret, f->secret_len))
			return 0;
		/* Through JSON's string escapes, and %-escapes if it says. */
		return format == DW_LOG_DOCKER_JSON &&
				       in_decoded(line, (size_t)h->line_len, f)
			       ? 0
			       : -1;
	}
	if (!(before = whole_line(data, len, h->line2_off, h->line2_len)) ||
	    h->line2_off + h->line2_len >= h->line_off ||
	    !joined_pieces(data, format, h) ||
	    dw_log_line_text(format, before, (size_t)h->line2_len, &t) ||
	    dw_log_line_text(format, line, (size_t)h->line_len, &t)) {
		dw_buf_release(&t);
		return -1;
	}
	return in_text(&t, f) ? 0 : -1;
}

/* One piece of at most SB_LINES_MAX: 0 done, 1 the scanner failed. */
static int lines_attempt(struct dw_sandbox *sb, int format, const char *data,
			 size_t len, uint64_t line_base, dw_source_cb cb,
			 void *ctx, int *timed_out, size_t *hold, char *how,
			 size_t hn)
{
	struct sb_req r = {SB_LINES, new_id(), len, SCAN_LINES_BUDGET_MS, ""};
	struct sb_lines l = {(uint32_t)format, 0, line_base};
	struct {
		struct dw_finding f;
		char fields[SB_FIELDS_MAX];
		int docker;
	} *held = NULL;
	struct stream_cache cache = {0};
	size_t nheld = 0, alloc = 0, i;
	char *msg, *buf;
	long long deadline;
	int ok = 0;
	ssize_t n;

	/* Tests: the scanner crashes on lines holding the hook's name. */
	if (sb->hook_op == SB_HOOK_SEGV && sb->hook_name &&
	    memmem(data, len, sb->hook_name, strlen(sb->hook_name)))
		l.hook = 1;
	msg = dw_xmalloc(sizeof(r) + sizeof(l) + len);
	memcpy(msg, &r, sizeof(r));
	memcpy(msg + sizeof(r), &l, sizeof(l));
	memcpy(msg + sizeof(r) + sizeof(l), data, len);
	do
		n = quiet(sb) ? send(sb->fd, msg, sizeof(r) + sizeof(l) + len,
				     MSG_NOSIGNAL | MSG_DONTWAIT)
			      : (errno = EPROTO, -1);
	while (n < 0 && errno == EINTR);
	free(msg);
	if (n != (ssize_t)(sizeof(r) + sizeof(l) + len)) {
		stop_child(sb, how, hn);
		return 1;
	}
	buf = dw_xmalloc(sizeof(struct sb_finding) + SB_SECRET_MAX);
	deadline = dw_mono_ms() + SCAN_LINES_BUDGET_MS + SB_SLACK_MS;
	for (;;) {
		struct sb_finding h;
		struct sb_done d;
		struct dw_finding f;
		int got = next_reply(sb, buf, deadline, r.id, &d, &n, how, hn);

		if (got) {
			ok = got > 0;
			if (ok && d.timed_out)
				*timed_out |= DW_LINES_TIMED_OUT;
			/* (a line's start, or none) */
			*hold = len;
			if (ok && d.hold != UINT64_MAX && format &&
			    (d.hold >= len ||
			     (d.hold && data[d.hold - 1] != '\n'))) {
				ok = 0;
				stop_child(sb, how, hn);
				snprintf(how, hn,
					 "it sent an answer that is not so");
			} else if (ok && d.hold != UINT64_MAX && format) {
				*hold = (size_t)d.hold;
			}
			break;
		}
		if (take_finding(sb, buf, n, r.id, &h, &f) ||
		    nheld >= SB_LINES_FINDINGS_MAX ||
		    lines_verify(data, len, format, &h, &f,
				 h.secret_len == SB_SECRET_MAX, &cache)) {
			stop_child(sb, how, hn);
			snprintf(how, hn, "it sent an answer that is not so");
			break;
		}
		DW_ALLOC_GROW(held, nheld + 1, alloc);
		held[nheld].f = f;
		held[nheld].f.secret = memcpy(dw_xmalloc(f.secret_len),
					      f.secret, f.secret_len);
		memcpy(held[nheld].fields, h.fields, sizeof(h.fields));
		held[nheld++].docker = h.docker != 0;
	}
	free(buf);
	for (i = 0; i < nheld; i++) {
		if (ok) {
			json_t *fields = NULL;
			struct dw_source src = {
				"",
				format == DW_LOG_CRI
					? DW_SOURCE_CRI_LOG
					: DW_SOURCE_DOCKER_JSON_LOG,
				NULL};

			if (held[i].docker) {
				fields = fields_json(held[i].fields);
				if (!fields)
					fields = json_object();
				src.fields = fields;
			}
			cb(&held[i].f, format ? &src : NULL, ctx);
			json_decref(fields);
		}
		explicit_bzero((void *)held[i].f.secret, held[i].f.secret_len);
		free((void *)held[i].f.secret);
	}
	free(held);
	dw_buf_release(&cache.t);
	return !ok;
}

int dw_sandbox_scan_lines(struct dw_sandbox *sb, int format, const char *data,
			  size_t len, uint64_t line_base, dw_source_cb cb,
			  void *ctx, int *timed_out, size_t *hold_from)
{
	char first[300] = "";
	size_t off = 0;

	*timed_out = 0;
	*hold_from = len;
	/* Pieces of whole lines (a longer line: cut, scanned as it is). */
	while (off < len) {
		size_t piece = len - off, i, hold = 0;
		uint64_t lines = 0;
		char how[200] = "";
		int tries, failed = 1;

		size_t next;

		if (piece > sb->lines_max) {
			piece = sb->lines_max;
			while (piece && data[off + piece - 1] != '\n')
				piece--;
			if (!piece)
				piece = sb->lines_max;
		}
		/* A line longer than a piece is cut: its last bytes go again
		 * with the next piece, so that a secret across the cut is
		 * found (what it found twice, the store keeps once). */
		next = off + piece;
		if (next < len && data[next - 1] != '\n')
			next -= SB_LINES_OVERLAP;
		/* A piece of a long line still open at the cut goes again
		 * with the next piece, to be joined with its rest. */
		else if (next < len && format != DW_LOG_PLAIN) {
			size_t keep = dw_log_open_from(
				(enum dw_log_format)format, data + off, piece);

			if (keep && keep < piece)
				next = off + keep;
			/* Open from the piece's start to its end: its rest is
			 * in a later piece, not joined. Said by the caller. */
			else if (!keep)
				*timed_out |= DW_LINES_UNJOINED;
		}
		for (tries = 0; tries < 2 && failed; tries++) {
			if (!sb->pid && start_child(sb))
				return DW_ERROR;
			failed = lines_attempt(sb, format, data + off, piece,
					       line_base, cb, ctx, timed_out,
					       &hold, how, sizeof(how));
			if (failed)
				sb->st.restarts++;
		}
		/* A key's lines with no END line yet (a .netrc entry before
		 * its password) go again with the next piece (or, after the
		 * last, with what is read next), to be scanned with the rest
		 * of the key (plain text: from its last BEGIN or "machine" in
		 * the last 64 KiB); from the piece's start, they
		 * cannot: its rest is scanned without them, said. */
		if (!failed && format == DW_LOG_PLAIN) {
			size_t b = dw_log_open_key(data + off, piece,
						   DW_LOG_ML_MAX);

			hold = b < piece && (b || next == len) ? b : piece;
			/* (open from the piece's first line, the piece ending
			 * at a line's end: its rest, in the next piece, is read
			 * without it; a line cut is read with an overlap) */
			if (!b && next < len && data[off + piece - 1] == '\n')
				*timed_out |= DW_LINES_KEY_CUT;
		}
		if (!failed && hold < piece && next == len)
			*hold_from = off + hold;
		else if (!failed && hold < piece && hold && off + hold < next)
			next = off + hold;
		else if (!failed && hold < piece && !hold &&
			 format != DW_LOG_PLAIN)
			*timed_out |= DW_LINES_UNJOINED;
		for (i = 0; i < next - off; i++)
			lines += data[off + i] == '\n';
		/* A piece given up on: said; the others are still read. */
		if (failed) {
			sb->st.killed++;
			if (!first[0])
				snprintf(first, sizeof(first),
					 "the scanner failed twice on lines "
					 "%llu to %llu: %s",
					 (unsigned long long)line_base,
					 (unsigned long long)(line_base +
							      (lines ? lines - 1
								     : 0)),
					 how);
		}
		line_base += lines;
		off = next;
	}
	if (!sb->pid)
		start_child(sb);
	return first[0] ? dw_error_set(DW_ELIMIT, "%s", first) : 0;
}
