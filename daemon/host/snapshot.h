#ifndef DW_SNAPSHOT_H
#define DW_SNAPSHOT_H

#include <jansson.h>
#include <stdint.h>

#include "docker.h"

/*
 * Forensic snapshots of a container (libarchive is used here only).
 *
 * The archive is what `docker load -i` takes: an OCI image layout
 * (oci-layout, index.json, blobs/sha256/…) plus Docker's manifest.json,
 * whose top layer is the container's upper dir as a tar with explicit
 * `.wh.` whiteouts and `.wh..wh..opq` markers, over the image's layers
 * re-read from their own dirs. Beside it, PATH.evidence.json records what
 * the image drops: every upper entry's full stat (ns times, inode, nlink,
 * xattrs) and SHA-256, the inspect document, the diff, the processes and
 * sockets at capture time, who, when, why, and the digest of every file
 * of the snapshot. Both are written under temporary names, fsynced and
 * renamed when complete (mode 0600).
 */

struct dw_snapshot_opts {
	const char *out_path; /* the archive */
	const char *reason;
	const char *tag; /* repo:tag of the loaded image */
	int no_pause;
	int layer_only;	   /* just the upper dir's layer tar */
	int max_pause_s;   /* unpaused after this long whatever happens;
			      0: DW_SNAPSHOT_MAX_PAUSE */
	uint64_t max_size; /* file data written at most; 0: the default */
	/* The Ed25519 key that signs it (created when absent): an in-toto
	 * Statement in a DSSE envelope, PATH.intoto.jsonl. NULL: unsigned. */
	const char *signing_key;
};

/* File data one snapshot writes at most, by default (--max-size). */
#define DW_SNAPSHOT_MAX_SIZE ((uint64_t)64 << 30)
/* What the files of a snapshot may add up to, holes included. */
#define DW_SNAPSHOT_MAX_APPARENT ((uint64_t)64 << 40)

/* The longest a capture keeps a container paused, by default (seconds). */
#define DW_SNAPSHOT_MAX_PAUSE 300

struct dw_snapshot_result {
	char archive_sha256[72]; /* "sha256:…" */
	char evidence_sha256[72];
	char *evidence_path; /* caller frees */
	uint64_t archive_size;
	uint64_t entries; /* entries of the upper dir */
	int paused;
	int changed_during_capture; /* files changed while read */
	/*
	 * Directories nested too deep to enter (written, their contents
	 * not): the snapshot is incomplete, and the evidence says so.
	 */
	size_t truncated;
	char *truncated_at; /* the first; caller frees */
	/* The pause ran out (max_pause_s) before the capture was done: the
	 * rest was read from a running container. */
	int pause_expired;
	long long pause_deadline_ms; /* internal: when that happens */
	/* Not running, on the containerd image store: the layer dirs
	 * driftwatchd recorded, last seen then (seconds); else 0. */
	long long recorded;
	/* Signed: PATH.intoto.jsonl (caller frees), the key's id; or why
	 * not (the archive and evidence are whole all the same). */
	char *statement_path;
	char statement_sha256[72]; /* of that file */
	char keyid[72];
	char sign_error[512];
};

/* "driftwatch/NAME:STAMP", lowercased as Docker wants (caller frees). */
char *dw_snapshot_default_tag(const char *name, const char *stamp);

/*
 * Snapshot container `ref`. o->tag must be set (see above). Pauses it first
 * unless o->no_pause (or it is not running), and always unpauses it, also on
 * errors; SIGINT, SIGTERM and SIGHUP are held until then. Returns 0,
 * DW_ENOTFOUND, DW_EUNREACHABLE, DW_EUNSUPPORTED (not overlay2), or DW_EIO (the
 * message says what could not be read or written; nothing that looks
 * complete is left behind).
 */
int dw_snapshot_container(struct dw_docker *d, const char *ref,
			  const struct dw_snapshot_opts *o,
			  struct dw_snapshot_result *r);

/*
 * The same for another runtime's running container (containerd, CRI-O,
 * podman), by its identified overlay mount (mounts.h) and the `name` it
 * is shown by: its cgroup is frozen instead of Docker's pause (v1
 * freezer, v2 cgroup.freeze; thawed by a watchdog whatever happens), its
 * processes come from that cgroup, its image config from its OCI
 * config.json. A freeze that fails is an error unless o->no_pause.
 */
struct dw_mount;
int dw_snapshot_mount(const char *host_root, const struct dw_mount *m,
		      const char *name, const struct dw_snapshot_opts *o,
		      struct dw_snapshot_result *r);

/*
 * Recheck a snapshot: the archive's digest against its evidence record
 * (PATH.evidence.json), for an image archive every blob against its
 * name, and its signature (PATH.intoto.jsonl): the DSSE envelope checked
 * with the public key in `pubkey` (PEM), else the private key at
 * `signing_key`'s; the Statement's subjects against the archive and
 * the evidence. A missing signature is a failure. On success (when not
 * NULL) `signed_what` has one line of what the statement says, as
 * signed: container, host, time, reason, key. Problems are appended
 * to `report` one per line. Returns 0 when everything matches, DW_ERROR
 * on any mismatch, DW_EIO when a file cannot be read.
 */
struct dw_buf;
int dw_snapshot_verify(const char *path, const char *pubkey,
		       const char *signing_key, struct dw_buf *report,
		       struct dw_buf *signed_what);

#endif
