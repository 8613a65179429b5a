#ifndef DW_MOUNTS_H
#define DW_MOUNTS_H

#include <stddef.h>

/*
 * Overlay mounts of runtimes other than Docker (containerd, podman,
 * CRI-O, plain mounts), read from /proc/self/mountinfo, which the kernel
 * flags (POLLPRI) whenever a mount comes or goes.
 */

struct dw_mount {
	char *id;      /* "mount:" + 16 hex of SHA-256(upperdir) */
	char *name;    /* the mount point */
	char *runtime; /* containerd, containers-storage, overlay */
	char *upper;
	char **lowers; /* topmost first */
	size_t nlowers;
	int userxattr; /* mounted with userxattr: user.overlay.* is ours */
};

struct dw_mounts;

/* Mounts whose upperdir lies under `skip` (Docker's root) are left out. */
int dw_mounts_open(struct dw_mounts **out, const char *skip);
void dw_mounts_set_skip(struct dw_mounts *m, const char *skip);
void dw_mounts_close(struct dw_mounts *m);
/* Poll for POLLPRI: the mount table changed. */
int dw_mounts_fd(const struct dw_mounts *m);
/*
 * The overlay mounts with an upper dir in mountinfo `text` (changed in
 * place), less those under `skip` (may be NULL), each upper dir once.
 * Malformed lines are passed over. Free the list with
 * dw_mounts_free_list().
 */
int dw_mounts_parse(char *text, const char *skip, struct dw_mount **out,
		    size_t *n);
/* The overlay mounts now. */
int dw_mounts_scan(struct dw_mounts *m, struct dw_mount **out, size_t *n);
void dw_mounts_free_list(struct dw_mount *list, size_t n);

#endif
