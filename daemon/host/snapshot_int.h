#ifndef DW_SNAPSHOT_INT_H
#define DW_SNAPSHOT_INT_H

/*
 * The parts of the snapshot writer (snapshot.c: capture and evidence;
 * snapshot_tar.c: a layer dir as a tar; snapshot_image.c: the image
 * archive; snapshot_proc.c: processes and sockets; snapshot_verify.c),
 * internal to the host library.
 */
#include <archive.h>
#include <pthread.h>
#include <archive_entry.h>
#include <stdint.h>

#include <jansson.h>
#include <openssl/evp.h>

#include "driftwatch/buf.h"
#include "driftwatch/lazylib.h"
#include "snapshot.h"

/*
 * libarchive and the dozen compression and XML libraries it brings are
 * loaded on first use: only snapshots need them (see lazylib.h).
 */
#define ARCHIVE_SYMS(X)                                                        \
	X(archive_entry_clear)                                                 \
	X(archive_entry_free)                                                  \
	X(archive_entry_hardlink)                                              \
	X(archive_entry_new)                                                   \
	X(archive_entry_pathname)                                              \
	X(archive_entry_set_filetype)                                          \
	X(archive_entry_set_gid)                                               \
	X(archive_entry_set_hardlink)                                          \
	X(archive_entry_set_mtime)                                             \
	X(archive_entry_set_pathname)                                          \
	X(archive_entry_set_perm)                                              \
	X(archive_entry_set_rdev)                                              \
	X(archive_entry_set_size)                                              \
	X(archive_entry_sparse_add_entry)                                      \
	X(archive_entry_set_symlink)                                           \
	X(archive_entry_set_uid)                                               \
	X(archive_filter_bytes)                                                \
	X(archive_entry_xattr_add_entry)                                       \
	X(archive_error_string)                                                \
	X(archive_read_data)                                                   \
	X(archive_read_free)                                                   \
	X(archive_read_new)                                                    \
	X(archive_read_next_header)                                            \
	X(archive_read_open_filename)                                          \
	X(archive_read_support_format_tar)                                     \
	X(archive_write_close)                                                 \
	X(archive_write_data)                                                  \
	X(archive_write_free)                                                  \
	X(archive_write_header)                                                \
	X(archive_write_new)                                                   \
	X(archive_write_open)                                                  \
	X(archive_write_set_bytes_in_last_block)                               \
	X(archive_write_set_bytes_per_block)                                   \
	X(archive_write_set_format_pax_restricted)                             \
	X(archive_write_set_options)

struct snap_archive_api {
#define DECLARE(f) __typeof__(f) *f;
	ARCHIVE_SYMS(DECLARE)
#undef DECLARE
};
extern struct snap_archive_api snap_ar;

/* Load libarchive (0), or DW_EUNSUPPORTED with the reason. */
int snap_load_archive(void);

/* The deepest a layer walk goes (each level holds a descriptor). */
#define SNAP_TAR_MAX_DEPTH 4096
#define COPY_SIZE (1u << 20)

/* A writer that hashes what it writes (SHA-256) and counts it. */
struct hout {
	int fd;
	EVP_MD_CTX *md;
	uint64_t size;
	uint64_t kicked; /* written back from here on when it is due */
	int durable;	 /* the file is kept: its writeback starts early */
	int failed;
};

/*
 * A thread that hashes and writes what libarchive builds (through `h`),
 * while the caller goes on building: snap_aw_write() is libarchive's
 * write callback (its context the writer). Full slots are handed over in
 * order; at most four wait (a slow disk holds the caller up, memory does
 * not grow). Without a thread (none could start), it writes in place.
 */
#define SNAP_AW_SLOTS 4
#define SNAP_AW_SLOT_SIZE (1u << 20)

struct snap_awriter {
	struct hout *h;
	pthread_t th;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	char *slot[SNAP_AW_SLOTS];
	size_t len[SNAP_AW_SLOTS];
	unsigned head, count; /* the next to write; how many are full */
	unsigned fill;	      /* the one being filled (not counted) */
	int done, started;
	int failed;  /* the caller's copy of wfailed, taken under mu */
	int wfailed; /* the thread's h->failed, told under mu */
	/*
	 * Files' own digests, taken by the thread from the stream too: the
	 * caller says where each file's data lies in the stream before it
	 * hands the data to libarchive (snap_aw_file()); the thread hashes
	 * those bytes as they pass, and digest[file] holds each, in hex,
	 * once finished.
	 */
	struct snap_aw_seg {
		uint64_t off, len;
		uint32_t file;
	} * segs;			    /* under mu */
	size_t nsegs, seg_head, segs_alloc; /* under mu */
	uint32_t nfiles;		    /* the caller's */
	char (*digest)[65];		    /* the thread's until finished */
	size_t ndigest, digest_alloc;	    /* files 0..ndigest-1 are done */
	EVP_MD_CTX *fmd;		    /* the thread's */
	uint32_t cur; /* the file it hashes; UINT32_MAX none */
	uint64_t pos; /* stream bytes it has taken */
};

/* A blob of the image archive: a layer tar, the config or the manifest. */
struct blob {
	char digest[65];
	uint64_t size;
	char *file; /* a temp file, or NULL for `data` */
	char *data;
};

struct blobs {
	struct blob *v;
	size_t n, alloc;
};

/* What a snapshot may cost, checked as each file is added. */
struct dw_snapshot_budget {
	uint64_t max_apparent; /* the files' sizes, holes included; 0: any */
	uint64_t max_stored;   /* file bytes written to the archive; 0: any */
	uint64_t free_bytes;   /* what the output's filesystem can take */
	/* CLOCK_MONOTONIC ms after which the container may run again (the
	 * watchdog unpauses it): "frozen" is not trusted past it. 0: none. */
	long long pause_deadline_ms;
};

/* What a layer tar saw. */
struct snap_tar_stats {
	uint64_t entries;
	int changed;	    /* a file changed while read */
	int pause_expired;  /* the pause ran out while capturing */
	size_t truncated;   /* directories too deep to enter */
	char *truncated_at; /* the first (the caller frees it) */
};

void snap_hout_init(struct hout *h, int fd);
int snap_hout_write(struct hout *h, const void *p, size_t n);
void snap_hout_final(struct hout *h, char out[65]);
la_ssize_t snap_ar_write(struct archive *a, void *ctx, const void *buf,
			 size_t n);
void snap_aw_start(struct snap_awriter *w, struct hout *h);
la_ssize_t snap_aw_write(struct archive *a, void *ctx, const void *buf,
			 size_t n);
/* All written (or failed): the thread is gone, `h` complete. */
void snap_aw_finish(struct snap_awriter *w);
/* `file`'s next `len` bytes of data are at stream offset `off` (len 0: it
 * begins there). Only where w->started; files numbered from 0 in order. */
void snap_aw_file(struct snap_awriter *w, uint32_t file, uint64_t off,
		  uint64_t len);
/* The digests, once read (after snap_aw_finish()). */
void snap_aw_release(struct snap_awriter *w);
/* `durable`: `fd` is the archive kept (not a file to copy from). */
int snap_tar_layer(const char *dir, int fd, int durable, char digest[65],
		   uint64_t *size, struct dw_buf *evidence,
		   struct snap_tar_stats *out_stats, int frozen,
		   const struct dw_snapshot_budget *budget);
/* (frozen: 0 running, 1 paused until the budget's deadline, 2 an image
 * layer, which never changes.) */
struct blob *snap_blob_new(struct blobs *b);
void snap_blob_json(struct blobs *b, json_t *j, char digest[65],
		    uint64_t *size);
int snap_write_image(struct hout *h, struct blobs *b, const char *extra[][2],
		     size_t nextra);
json_t *snap_descriptor(const char *media, const char *digest, uint64_t size);
json_t *snap_image_config(json_t *inspect, const struct blobs *layers,
			  const char *reason);
/* A container chooses how many processes it runs: a snapshot lists at
 * most this many, then says it left the rest out. */
#define SNAP_PROCS_MAX 4096
json_t *snap_processes(struct dw_docker *d, const char *id);
json_t *snap_sockets(const char *root, int pid);
/* /proc/PID/WHAT of the host: a link's target, a file's text (NULs as
 * spaces), or null. */
json_t *snap_proc_link(const char *root, int pid, const char *what);
json_t *snap_proc_text(const char *root, int pid, const char *what);
/* A process's volatile state into `proc`: root, open fds, maps, the
 * names of its environment (never values), namespaces, capabilities and
 * seccomp; "exe_volatile" when its executable is deleted or a memfd. */
void snap_proc_volatile(const char *root, int pid, json_t *proc);
/* A process's volatile state into `proc`: root, open fds, maps, the
 * names of its environment (never values), namespaces, capabilities and
 * seccomp; "exe_volatile" when its executable is deleted or a memfd. */
void snap_proc_volatile(const char *root, int pid, json_t *proc);

/* Other runtimes' containers (snapshot_freeze.c). */
struct snap_freezer {
	int fd;	   /* freezer.state (v1) or cgroup.freeze (v2), O_RDWR */
	int v2;	   /* cgroup v2 */
	char *dir; /* the cgroup's directory, under host_root */
};
struct dw_mount;
int snap_find_pid(const char *root, const char *mount_point);
/* The container's first process: the runtime's pid file (containerd's
 * init.pid, CRI-O's and podman's pidfile) when its pid runs in that
 * rootfs, else the lowest pid whose root it is; 0: none. */
int snap_runtime_pid(const char *root, const struct dw_mount *m);
/* Its freezer: the cgroup of `pid`, or the container's own
 * (`cgroups_path`, its OCI linux.cgroupsPath) when pid is in it; never
 * one holding driftwatch itself. */
int snap_freezer_open(struct snap_freezer *f, const char *root, int pid,
		      const char *cgroups_path);
void snap_freezer_close(struct snap_freezer *f);
const char *snap_freezer_thaw_value(const struct snap_freezer *f);
int snap_freeze(struct snap_freezer *f, int timeout_ms);
int snap_freezer_frozen(const struct snap_freezer *f);
int snap_thaw(struct snap_freezer *f);
json_t *snap_cgroup_processes(const char *root, const struct snap_freezer *f);
json_t *snap_mount_inspect(const struct dw_mount *m, json_t *oci, int pid,
			   const char *name);
int snap_file_sha256(const char *path, char out[72]);

#endif
