#ifndef DW_YAMLDOC_H
#define DW_YAMLDOC_H

#include <stddef.h>
#include <yaml.h>

/*
 * What the YAML configuration readers share: a loaded libyaml document
 * with its file name, for error messages that give the line.
 */
struct dw_yaml {
	yaml_document_t doc;
	const char *path;
};

/*
 * Load `path`. Returns 0, DW_EIO (cannot read) or DW_EINVAL (malformed,
 * with the line). Release with dw_yaml_release() after a 0 return.
 */
int dw_yaml_load(struct dw_yaml *y, const char *path);
void dw_yaml_release(struct dw_yaml *y);

/* DW_EINVAL "path:line: what". */
int dw_yaml_bad(const struct dw_yaml *y, const yaml_node_t *n,
		const char *what);
/* The text of a scalar node, else NULL. */
const char *dw_yaml_scalar(const yaml_node_t *n);
yaml_node_t *dw_yaml_node(struct dw_yaml *y, int index);
/* A sequence of scalars appended to a string array. */
int dw_yaml_strings(struct dw_yaml *y, yaml_node_t *n, char ***out,
		    size_t *count);
/* "true"/"yes"/"on" 1, "false"/"no"/"off" 0, else DW_EINVAL. */
int dw_yaml_bool(struct dw_yaml *y, yaml_node_t *n, int *out);

#endif
