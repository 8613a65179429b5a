#ifndef DW_MOUNTS_H
#define DW_MOUNTS_H

#include <stddef.h>

/*
 * Overlay mounts from the host's mountinfo, which the kernel flags
 * (POLLPRI) whenever a mount comes or goes: the containers of runtimes
 * other than Docker's overlay2 (containerd, CRI-O, podman, plain mounts),
 * and the rootfs of Docker's containers on its containerd image store.
 *
 * Paths in a mount's options are as the mounting process saw them; when
 * driftwatch sees the host under another root (`host_root`, e.g. /host in
 * a DaemonSet, or a runtime in a chroot) every one is read under it.
 * containerd mounts long lower dir lists from its snapshots dir with
 * relative names ("12/fs"): those are resolved against that dir, the
 * parent of the upper dir's snapshot.
 */

struct dw_mount {
	char *id;      /* "mount:" + 16 hex of SHA-256(upperdir) */
	char *name;    /* the mount point, as mountinfo shows it */
	char *runtime; /* containerd, containers-storage, overlay */
	char *upper;   /* resolved under host_root */
	char **lowers; /* topmost first, resolved under host_root */
	size_t nlowers;
	int userxattr; /* mounted with userxattr: user.overlay.* is ours */
	/*
	 * Who it is, from the runtime's bundle (containerd: the config.json
	 * beside the rootfs, its io.kubernetes.cri.* annotations; CRI-O and
	 * podman: their storage's overlay-containers/containers.json and
	 * the container's userdata/config.json, io.kubernetes.*), NULL
	 * when not known: Kubernetes namespace, pod, pod uid, container,
	 * image; `sandbox`: a pod's pause container (not a workload).
	 */
	char *k8s_namespace, *k8s_pod, *k8s_uid, *k8s_container, *image;
	int sandbox;
	/* containers-storage (CRI-O, podman): the container's id and
	 * first name there, and CRI-O's pod labels (a JSON object from its
	 * io.kubernetes.cri-o.Labels annotation); NULL when not known. */
	char *ctr_id, *ctr_name, *labels;
	/* Its OCI config.json as the host names it, or NULL. */
	char *config_path;
	/* Where the runtime mounts into the rootfs (config.json's mounts'
	 * destinations, at most 256): the directories it creates there in
	 * the upper dir for them (/dev, /proc, /sys, /run) are not drift. */
	char **mount_points;
	size_t nmount_points;
	/*
	 * Why its dirs cannot be read (a static string), or NULL: a relative
	 * upper dir, or relative lower dirs in no known layout (the mount's
	 * working directory is not in mountinfo). Never guessed.
	 */
	const char *bad;
};

struct dw_mount_opts {
	/* The host's root as driftwatch sees it; NULL or "/": ours. */
	const char *host_root;
	/*
	 * Docker's root dir as Docker names it (GET /info), or NULL. Mounts
	 * whose upper dir lies under it, and Docker's containerd-store
	 * rootfs mounts (<skip>/rootfs/...), are Docker's: left out.
	 */
	const char *skip;
	/* Keep every mount, the same upper dir mounted twice too. */
	int keep_all;
};

struct dw_mounts;

/*
 * Follow the host's mountinfo: /proc/self/mountinfo, or with a host_root
 * other than "/", <host_root>/proc/1/mountinfo (the host's init).
 */
int dw_mounts_open(struct dw_mounts **out, const char *host_root,
		   const char *skip);
void dw_mounts_set_skip(struct dw_mounts *m, const char *skip);
void dw_mounts_close(struct dw_mounts *m);
/* Poll for POLLPRI: the mount table changed. */
int dw_mounts_fd(const struct dw_mounts *m);
/*
 * The overlay mounts with an upper dir in mountinfo `text` (changed in
 * place), less those `o` skips (o may be NULL), each upper dir once.
 * `o->skip` NULL keeps Docker's too. Malformed lines are passed over.
 * Free the list with dw_mounts_free_list().
 */
int dw_mounts_parse(char *text, const struct dw_mount_opts *o,
		    struct dw_mount **out, size_t *n);
/*
 * The identity of each containerd mount in `list` from its bundle's
 * config.json (under host_root; a regular file of at most 4 MiB, never
 * through a symlink): fills the k8s_* fields, image and sandbox.
 */
void dw_mounts_identify(const char *host_root, struct dw_mount *list, size_t n);
/* The overlay mounts now (Docker's left out), identified. */
int dw_mounts_scan(struct dw_mounts *m, struct dw_mount **out, size_t *n);
/*
 * Every overlay mount now, Docker's included, each line (no upper dir
 * kept once): read once from the host's mountinfo (as dw_mounts_open()
 * finds it).
 */
int dw_mounts_read_all(const char *host_root, struct dw_mount **out, size_t *n);
void dw_mounts_free_list(struct dw_mount *list, size_t n);

/*
 * Is `m` (identified) named `want`: its id, its mount point,
 * NAMESPACE/POD/CONTAINER, containerd://ID (the task's id, from its
 * bundle's path), cri-o://ID and podman://ID (the id or 12 or more of its
 * first digits), a podman container's name?
 */
int dw_mount_named(const struct dw_mount *m, const char *want);

/*
 * The running container of another runtime named `want` among the host's
 * overlay mounts (pods' sandboxes left out): 0 with `*list`, `*n` (free
 * with dw_mounts_free_list()) and its index `*hit`; DW_ENOTFOUND when none
 * is, DW_EINVAL when several are (the error lists them); the error is
 * set either way.
 */
int dw_mounts_find(const char *host_root, const char *want,
		   struct dw_mount **list, size_t *n, size_t *hit);

/* Its OCI config.json, parsed (caller decrefs), or NULL. */
#include <jansson.h>
json_t *dw_mount_oci_config(const char *host_root, const struct dw_mount *m);

/*
 * overlayfs' lowerdir list: ':'-separated, '\\' makes the next character
 * part of the name. Split (empty names dropped; free each and the array)
 * and join (escaping ':' and '\\').
 */
char **dw_lowerdir_split(const char *s, size_t *n);
char *dw_lowerdir_join(char *const *v, size_t n);

/* `path` (absolute, as the host names it) under `host_root` (NULL: "/"). */
char *dw_host_path(const char *host_root, const char *path);

#endif
